//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import InMemoryLogging
import LocalGPTCore
import LocalGPTTesting
import Testing

/// What `localgpt plugin sdk` gives plugin authors is enough to build a plugin outside this package: each test
/// exports the kit into a temporary folder with the built `localgpt`, compiles a plugin there with nothing else
/// (plain `swiftc`, SwiftPM, `cc`), packages it with `localgpt plugin package`, and loads and calls it in a host.
@Suite struct PluginSDKTests {
    /// How a Swift plugin gets its runtime (docs/PLUGIN-ABI.md §7).
    enum LinkMode: String, CaseIterable, Sendable {
        /// `-static-stdlib`: the runtime and FoundationEssentials inside the library.
        case staticStdlib
        /// The host's runtime, already loaded in its process.
        case sharedRuntime
    }

    /// A new folder holding the kit, written by `localgpt plugin sdk`.
    func exportKit(headersOnly: Bool = false) throws -> String {
        let kit = TestSupport.makeTemporaryDirectory("lgpt-sdk") + "/kit"
        let r = try TestSupport.run(
            TestSupport.localgptExecutable,
            ["plugin", "sdk", kit] + (headersOnly ? ["--headers-only"] : [])
        )
        try #require(r.status == 0, "plugin sdk failed: \(r.stderr)")
        return kit
    }

    /// The toolchain's `bin` folder; the shared-runtime build needs the exact toolchain of this process.
    func toolchain() throws -> String {
        try #require(TestSupport.swiftToolchainBinDirectory, "no swiftc next to the Swift runtime of this process")
    }

    /// Runs a build command and fails the test with its output when it fails.
    func build(_ tool: String, _ arguments: [String]) throws {
        let r = try TestSupport.run(tool, arguments)
        try #require(r.status == 0, "\(tool) failed:\n\(r.stdout)\n\(r.stderr)")
    }

    /// The global functions the library exports (`nm -D --defined-only`, type T).
    func exportedFunctions(_ library: String) throws -> [String] {
        let r = try TestSupport.run("/usr/bin/nm", ["-D", "--defined-only", library])
        try #require(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count == 3 && fields[1] == "T" ? String(fields[2]) : nil
        }
    }

    /// The libraries the library needs (`readelf -d`, NEEDED).
    func neededLibraries(_ library: String) throws -> [String] {
        let r = try TestSupport.run("/usr/bin/readelf", ["-d", library])
        try #require(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").compactMap { line in
            guard line.contains("(NEEDED)"), let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]")
            else { return nil }
            return String(line[line.index(after: open)..<close])
        }
    }

    /// Packages `library` with `localgpt plugin package`, loads the folder in a new host and returns it.
    func packageAndLoad(_ library: String) throws -> HostHarness {
        let h = try HostHarness()
        let folder = h.pluginDirectory("packaged")
        let r = try TestSupport.run(TestSupport.localgptExecutable, ["plugin", "package", library, "--out", folder])
        try #require(r.status == 0, "plugin package failed: \(r.stderr)")
        try h.host.load(directory: folder, origin: .config)
        return h
    }

    /// Calls the starter's `hello` tool and checks its greeting and its log line.
    func expectStarterWorks(_ h: HostHarness) throws {
        let plugin = try #require(h.host.plugin(id: "org.example.hello"))
        #expect(plugin.manifest.tools.map(\.name) == ["hello"])
        let result = try JSONValue(parsing: try h.host.invoke(tool: "hello", arguments: #"{"name": "Ada Lovelace"}"#))
        #expect(result == ["greeting": "Hello, Ada Lovelace!"])
        // Non-ASCII text crosses the boundary both ways unchanged.
        let accented = try JSONValue(parsing: try h.host.invoke(tool: "hello", arguments: #"{"name": "Zo\u00eb"}"#))
        #expect(accented == ["greeting": "Hello, Zoë!"])
        #expect(h.logs.entries.contains { "\($0.message)" == "hello plugin ready" })
    }

    /// The starter plugin, compiled by plain `swiftc` from the kit alone with the flags docs/PLUGIN-ABI.md §7
    /// gives, exports only the entry, needs the Swift runtime libraries only when it shares the host's, and
    /// loads and runs in the host. (About 6 s with -static-stdlib, 2 s without, on a 2-core machine.)
    @Test(arguments: LinkMode.allCases)
    func swiftcBuildsTheStarterFromTheKit(_ mode: LinkMode) throws {
        let kit = try exportKit()
        let library = kit + "/libHelloPlugin.so"
        let flags = [
            "-swift-version", "6", "-O", "-parse-as-library", "-emit-library", "-module-name", "HelloPlugin",
            "-I", kit + "/include", kit + "/Sources/HelloPlugin/HelloPlugin.swift", "-o", library,
        ]
        try build(try toolchain() + "/swiftc", flags + (mode == .staticStdlib ? ["-static-stdlib"] : []))

        #expect(try exportedFunctions(library) == ["lgpt_plugin_entry_v1"])
        let needed = try neededLibraries(library)
        switch mode {
        case .staticStdlib: #expect(!needed.contains { $0.hasPrefix("libswift") || $0.hasPrefix("libFoundation") })
        case .sharedRuntime: #expect(needed.contains("libswiftCore.so"))
        }
        try expectStarterWorks(try packageAndLoad(library))
    }

    /// The starter SwiftPM package builds as written (`swift build -c release` in the kit, which links the
    /// runtime in statically) and its library runs in the host. (About 10 s on a 2-core machine.)
    @Test func swiftPMBuildsTheStarterPackage() throws {
        let kit = try exportKit()
        try build(try toolchain() + "/swift", ["build", "-c", "release", "--package-path", kit])
        let library = kit + "/.build/release/libHelloPlugin.so"
        #expect(try exportedFunctions(library) == ["lgpt_plugin_entry_v1"])
        #expect(!(try neededLibraries(library).contains { $0.hasPrefix("libswift") }))
        try expectStarterWorks(try packageAndLoad(library))
    }

    /// The C example of docs/PLUGIN-ABI.md §6, compiled by `cc` against the kit's include/ alone (written with
    /// --headers-only) with the documented flags plus -Werror, loads and answers.
    @Test func theDocumentedCPluginBuildsFromTheKit() throws {
        let doc = try String(contentsOfFile: TestSupport.repositoryRoot + "/docs/PLUGIN-ABI.md", encoding: .utf8)
        let section = try #require(doc.range(of: "## 6. Writing a plugin in C"))
        let rest = doc[section.upperBound...]
        let start = try #require(rest.range(of: "```c\n"))
        let end = try #require(rest[start.upperBound...].range(of: "```\n"))
        let source = String(rest[start.upperBound..<end.lowerBound])

        let kit = try exportKit(headersOnly: true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: kit) == ["include"])
        try source.write(toFile: kit + "/hello.c", atomically: true, encoding: .utf8)
        let library = kit + "/libhello.so"
        let cc = ProcessInfo.processInfo.environment["CC"] ?? "/usr/bin/cc"
        try build(
            cc,
            [
                "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden",
                "-I", kit + "/include", kit + "/hello.c", "-o", library,
            ]
        )
        #expect(try exportedFunctions(library) == ["lgpt_plugin_entry_v1"])
        let h = try packageAndLoad(library)
        #expect(try JSONValue(parsing: try h.host.invoke(tool: "hello", arguments: "{}")) == ["greeting": "hello"])
    }

    /// The kit's include/ is the ABI folder of this repository, byte for byte, and its module map names every
    /// header in it (a header missing there cannot be imported from Swift).
    @Test func theKitHoldsTheRepositoryHeadersAndModuleMap() throws {
        let repository = TestSupport.abiIncludeDirectory
        let kit = TestSupport.makeTemporaryDirectory("lgpt-sdk")
        try PluginSDK.export(to: kit, headersOnly: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: repository).sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: kit + "/include").sorted() == names)
        for name in names {
            #expect(
                FileManager.default.contents(atPath: kit + "/include/" + name)
                    == FileManager.default.contents(atPath: repository + "/" + name),
                "\(name) differs"
            )
        }
        let map = try String(contentsOfFile: repository + "/module.modulemap", encoding: .utf8)
        let listed = map.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            return words.count == 2 && words[0] == "header" ? String(words[1].dropFirst().dropLast()) : nil
        }
        #expect(listed.sorted() == names.filter { $0.hasSuffix(".h") })
    }

    /// Exporting again over an existing package replaces include/ and keeps the author's starter files.
    @Test func exportingAgainRefreshesHeadersAndKeepsTheAuthorsFiles() throws {
        let kit = TestSupport.makeTemporaryDirectory("lgpt-sdk")
        let first = try PluginSDK.export(to: kit)
        #expect(first.written == PluginSDK.files.map(\.path))
        #expect(first.kept.isEmpty)

        let source = kit + "/Sources/HelloPlugin/HelloPlugin.swift"
        let header = kit + "/include/lgpt_plugin.h"
        try "// the author's plugin\n".write(toFile: source, atomically: true, encoding: .utf8)
        try "/* edited */\n".write(toFile: header, atomically: true, encoding: .utf8)
        let second = try PluginSDK.export(to: kit)
        #expect(second.kept == ["Package.swift", "Sources/HelloPlugin/HelloPlugin.swift"])
        #expect(second.written == ["include/lgpt_plugin.h", "include/lgpt_host_files.h", "include/module.modulemap"])
        #expect(try String(contentsOfFile: source, encoding: .utf8) == "// the author's plugin\n")
        #expect(
            FileManager.default.contents(atPath: header)
                == FileManager.default.contents(atPath: TestSupport.abiIncludeDirectory + "/lgpt_plugin.h")
        )
    }
}
