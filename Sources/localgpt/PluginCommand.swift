//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import Glibc
import LocalGPTCore
import Logging

struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "List, inspect, install, remove and package plugins; export the kit for writing them.",
        subcommands: [List.self, Info.self, Install.self, Remove.self, Package.self, SDK.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List plugins and any that failed to load."
        )
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let context = try CLIContext.make(options)
            let host = try context.makeHost()
            if json {
                let doc: JSONValue = .object([
                    "plugins": .array(host.plugins.map(PluginReport.json)),
                    "errors": .array(host.failures.filter { $0.error.code != .disabled }.map(PluginReport.json)),
                    "disabled": .array(
                        host.failures.filter { $0.error.code == .disabled }.compactMap { $0.id.map(JSONValue.string) }
                    ),
                ])
                print(doc.encoded(pretty: true))
                return
            }
            if host.plugins.isEmpty && host.failures.isEmpty {
                print("No plugins found (bundled folder: \(PluginDiscovery.defaultBundledDirectory())).")
            }
            for p in host.plugins {
                print(PluginReport.text(p))
            }
            for f in host.failures {
                if f.error.code == .disabled {
                    print("\(f.id ?? f.directory)  disabled (plugins.disabled)")
                } else {
                    print("FAILED \(f.error.description)")
                }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "info", abstract: "Show one plugin in full.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The plugin id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let host = try CLIContext.make(options).makeHost()
            guard let p = host.plugin(id: id) else {
                if let f = host.failures.first(where: { $0.id == id }) {
                    throw CLIError("\(id) did not load: \(f.error.description)")
                }
                throw CLIError("no plugin \"\(id)\" (see `localgpt plugin list`)")
            }
            if json {
                print(PluginReport.json(p).encoded(pretty: true))
                return
            }
            print(PluginReport.text(p, detailed: true))
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install",
            abstract: "Check a plugin folder, show what it asks for, and install it with your grant.",
            discussion: """
                The folder must hold plugin.json and the library it names. The manifest is read and
                what the plugin asks for is shown; only once you agree is its library loaded and
                checked (sha256, ABI, embedded manifest, create(), with the permissions you grant),
                before anything is copied into ~/.localgpt/plugins/<id>/. The plugin gets the
                permissions it declares, minus the kinds you --deny.
                """
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "A folder holding plugin.json and the library.") var directory: String
        @Flag(name: .shortAndLong, help: "Grant without asking.") var yes = false
        @Flag(help: "Replace an installed plugin with the same id.") var force = false
        @Option(help: "Withhold a kind of permission: exec, net, fs, memory, secrets or config. Repeatable.")
        var deny: [String] = []

        func run() throws {
            let context = try CLIContext.make(options)
            let source = LocalGPTPaths.absolutePath(directory)
            let sidecar: PluginSidecar
            do {
                sidecar = try PluginSidecar(directory: source)
            } catch {
                throw CLIError(error.description)
            }
            let id = sidecar.manifest.id
            let bundled = PluginDiscovery.candidates(
                paths: LocalGPTPaths(home: "/nonexistent"),
                configuration: Configuration(environment: [:]),
                bundledDirectory: PluginDiscovery.defaultBundledDirectory()
            )
            if bundled.contains(where: { (try? PluginSidecar(directory: $0.directory))?.manifest.id == id }) {
                throw CLIError("\(id) is a bundled plugin; it is already available")
            }
            let target = context.paths.pluginsDirectory + "/" + id
            // Said before anything is asked; checked again under the plugins lock when copying.
            let grants: [String: PluginGrant]
            do {
                grants = try context.grantStore.load()
            } catch {
                throw CLIError(error.description)
            }
            if let installed = PluginInstaller.installed(id, paths: context.paths, grants: grants) {
                let version = installed.version ?? "(unreadable)"
                if installed.hasGrant && !force {
                    throw CLIError(
                        "\(id) \(version) is already installed in \(target); this folder holds "
                            + "\(sidecar.manifest.version) (use --force to replace it)"
                    )
                }
                print(
                    "Replacing \(id) \(version)\(installed.hasGrant ? "" : " (it has no grant)") with "
                        + sidecar.manifest.version
                )
            }

            var permissions = sidecar.manifest.permissions
            for kind in deny {
                switch kind {
                case "exec": permissions.execCommands = []
                case "net": permissions.netHosts = []
                case "fs":
                    permissions.fsRead = []
                    permissions.fsWrite = []
                case "memory":
                    permissions.memorySearch = false
                    permissions.memoryAppend = false
                case "secrets": permissions.secrets = []
                case "config": permissions.config = []
                default: throw CLIError("--deny takes exec, net, fs, memory, secrets or config, not \(kind)")
                }
            }
            let m = sidecar.manifest
            // What the user consents to, with control characters shown: a manifest could otherwise move
            // the cursor and erase a line ("run commands: bash") before the question.
            func shown(_ text: String) -> String { DisplayText.replacingControlCharacters(text, with: "\u{FFFD}") }
            print(shown("\(m.id) \(m.version)\(m.publisher.map { " by \($0)" } ?? "")"))
            if !m.description.isEmpty { print("  " + shown(m.description)) }
            if !m.tools.isEmpty { print("  tools: " + shown(m.tools.map(\.name).joined(separator: ", "))) }
            if !m.providers.isEmpty { print("  providers: " + shown(m.providers.map(\.name).joined(separator: ", "))) }
            let declared = sidecar.manifest.permissions.summary
            let granted = permissions.summary
            print(
                granted.isEmpty
                    ? (declared.isEmpty ? "  asks for no permissions" : "  will be allowed nothing")
                    : "  will be allowed to:"
            )
            for line in granted { print("    - " + shown(line)) }
            let withheld = declared.filter { !granted.contains($0) }
            if !withheld.isEmpty {
                print("  withheld (--deny):")
                for line in withheld { print("    - " + shown(line)) }
            }

            if !yes {
                guard isatty(0) == 1 else {
                    throw CLIError("standard input is not a terminal: pass --yes to grant these permissions")
                }
                print("Install and grant these permissions? [y/N] ", terminator: "")
                let answer = standardInputLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
                guard answer == "y" || answer == "yes" else { throw CLIError("not installed") }
            }

            // Check everything, including create(), in a scratch host: nothing is copied yet. The plugin's
            // code runs only now that the user agreed, and only with what they granted.
            let grant = PluginGrant(
                permissions: permissions,
                grantedAt: ISO8601DateFormatter().string(from: Date()),
                librarySHA256: sidecar.librarySHA256
            )
            let scratch = PluginHost(
                paths: context.paths,
                configuration: context.configuration,
                grants: [id: grant],
                logger: context.logger
            )
            do {
                try scratch.load(directory: source, origin: .user)
            } catch {
                throw CLIError("not installed: \(error.description)")
            }
            scratch.shutdown()

            let key: DeviceKey
            do {
                key = try DeviceKey.loadOrCreate(at: context.paths.deviceKey).key
            } catch {
                throw CLIError("cannot sign the grant: \(error.message)")
            }
            let outcome: PluginInstaller.Outcome
            do {
                outcome = try PluginInstaller.install(
                    sidecar,
                    grant: grant,
                    paths: context.paths,
                    grants: PluginGrantStore(path: context.paths.grantsFile, key: key),
                    force: force
                )
            } catch {
                throw CLIError("not installed: \(error.description)")
            }
            for note in outcome.recovered { printError("note: plugins: \(note)") }
            context.logger.notice(
                "plugin installed",
                metadata: ["plugin.id": "\(id)", "plugin.version": "\(m.version)"]
            )
            appendAudit(
                context.auditLog,
                .pluginInstalled,
                details: [
                    "plugin": .string(id), "version": .string(m.version),
                    "library_sha256": .string(sidecar.librarySHA256),
                    "permissions": .array(permissions.summary.map(JSONValue.string)),
                ]
            )
            print("Installed \(id) \(m.version) in \(target)")
            // A tool name another plugin offers too: chat keeps the first loaded (bundled plugins load
            // first), and a bare `tool call` is ambiguous. Read from the other plugins' sidecars only.
            let others = PluginDiscovery.candidates(
                paths: context.paths,
                configuration: context.configuration,
                bundledDirectory: PluginDiscovery.defaultBundledDirectory()
            ).compactMap { try? PluginSidecar(directory: $0.directory).manifest }.filter { $0.id != id }
            for tool in m.tools {
                let owners = others.filter { $0.tools.contains { $0.name == tool.name } }.map(\.id)
                guard !owners.isEmpty else { continue }
                print(
                    shown(
                        "note: \(owners.joined(separator: ", ")) also offers a tool named \(tool.name); chat keeps "
                            + "the one loaded first (bundled plugins load first), so call this one as "
                            + "\(id)/\(tool.name) with `localgpt tool call`"
                    )
                )
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Remove an installed plugin and its grant."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The plugin id.") var id: String

        func run() throws {
            let context = try CLIContext.make(options)
            do {
                let recovered = try PluginInstaller.remove(id, paths: context.paths, grants: context.grantStore)
                for note in recovered { printError("note: plugins: \(note)") }
            } catch {
                throw CLIError(error.description)
            }
            context.logger.notice("plugin removed", metadata: ["plugin.id": "\(id)"])
            appendAudit(context.auditLog, .pluginRemoved, details: ["plugin": .string(id)])
            print("Removed \(id)")
        }
    }

    struct Package: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "package",
            abstract: "Make a plugin folder from a built library (for plugin authors).",
            discussion: """
                Reads the manifest embedded in the library and writes it, with the library's sha256, as
                plugin.json in the output folder, copying the library there. Loading the library runs its
                initialisers: package only what you built.
                """
        )
        @Argument(help: "The built library (lib<name>.so).") var library: String
        @Option(name: .shortAndLong, help: "The plugin folder to write (default: the library's folder).")
        var out: String?

        func run() throws {
            let dir = out ?? (LocalGPTPaths.absolutePath(library) as NSString).deletingLastPathComponent
            do {
                let m = try PluginPackager.package(library: library, into: dir)
                print("Packaged \(m.id) \(m.version) in \(LocalGPTPaths.absolutePath(dir))")
            } catch {
                throw CLIError("\(error)")
            }
        }
    }
}

extension PluginCommand {
    struct SDK: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sdk",
            abstract: "Write the kit for plugin authors: ABI headers, module map, starter package.",
            discussion: """
                Writes include/ (lgpt_plugin.h, lgpt_host_files.h and module.modulemap, the
                headers this localgpt was built with: `cc -I <folder>/include`, and for Swift
                `swiftc -I <folder>/include` with `import CLocalGPTPlugin`) and a starter SwiftPM
                package with one Swift tool (Package.swift, Sources/HelloPlugin/HelloPlugin.swift).
                include/ is replaced on every run; the starter files are written only where
                missing, so running it again over your package refreshes the headers and keeps
                your sources. docs/PLUGIN-ABI.md describes the build.
                """
        )
        @Argument(help: "The folder to write (created if missing).") var directory: String
        @Flag(help: "Write include/ only (for C, Rust or an existing package).") var headersOnly = false

        func run() throws {
            let report: PluginSDK.Report
            do {
                report = try PluginSDK.export(to: directory, headersOnly: headersOnly)
            } catch {
                throw CLIError(error.description)
            }
            let root = LocalGPTPaths.absolutePath(directory)
            for path in report.written { print("wrote \(printable(root + "/" + path))") }
            for path in report.kept { print("kept  \(printable(root + "/" + path)) (it exists)") }
            let include = printable(root) + "/include"
            print("Build C plugins with `cc -I \(include)`, Swift plugins with `swiftc -I \(include)`", terminator: "")
            print(headersOnly ? "." : " or `swift build` in the folder.")
            print("docs/PLUGIN-ABI.md gives the flags; `localgpt plugin package` makes the plugin folder.")
        }
    }
}

/// Renders plugins for `plugin list` and `plugin info`.
enum PluginReport {
    static func json(_ p: LoadedPlugin) -> JSONValue {
        let m = p.manifest
        return .object([
            "id": .string(m.id),
            "name": .string(m.name),
            "version": .string(m.version),
            "description": .string(m.description),
            "kinds": .array(m.kinds.sorted().map { .string($0.rawValue) }),
            "tools": .array(
                m.tools.map { .object(["name": .string($0.name), "description": .string($0.description)]) }
            ),
            "providers": .array(
                m.providers.map {
                    .object([
                        "name": .string($0.name), "model_prefixes": .array($0.modelPrefixes.map(JSONValue.string)),
                    ])
                }
            ),
            "skills": .array(m.skills.map { .string($0.name) }),
            "permissions": .object(["declared": m.permissions.json, "granted": p.granted.json]),
            "origin": .string(p.origin.rawValue),
            "path": .string(p.directory),
            "library": .string(p.libraryPath),
            "sha256": .string(p.librarySHA256),
            "abi": .string("\(m.abiMajor).\(m.abiMinor)"),
            "status": "loaded",
        ])
    }

    static func json(_ f: PluginLoadFailure) -> JSONValue {
        .object([
            "directory": .string(f.directory),
            "origin": .string(f.origin.rawValue),
            "id": f.id.map(JSONValue.string) ?? .null,
            "code": .string(f.error.code.description),
            "file": .string(f.error.file),
            "message": .string(f.error.message),
        ])
    }

    static func text(_ p: LoadedPlugin, detailed: Bool = false) -> String {
        let m = p.manifest
        var lines = [
            "\(m.id) \(m.version)  [\(m.kinds.sorted().map(\.rawValue).joined(separator: ", "))]  \(p.origin.rawValue)"
        ]
        if detailed && !m.description.isEmpty { lines.append("  \(m.description)") }
        if !m.tools.isEmpty {
            if detailed {
                lines.append("  tools:")
                for t in m.tools { lines.append("    \(t.name): \(t.description)") }
            } else {
                lines.append("  tools: " + m.tools.map(\.name).joined(separator: ", "))
            }
        }
        if !m.providers.isEmpty {
            lines.append(
                "  providers: "
                    + m.providers.map { "\($0.name) (\($0.modelPrefixes.joined(separator: ", ")))" }.joined(
                        separator: "; "
                    )
            )
        }
        let granted = p.granted.summary
        lines.append("  permissions: " + (granted.isEmpty ? "none" : granted.joined(separator: "; ")))
        if detailed {
            let withheld = m.permissions != p.granted
            if withheld { lines.append("  declared: " + m.permissions.summary.joined(separator: "; ")) }
            lines.append("  folder: \(p.directory)")
            lines.append("  library: \(p.libraryPath)")
            lines.append("  sha256: \(p.librarySHA256)")
        }
        return lines.joined(separator: "\n")
    }
}
