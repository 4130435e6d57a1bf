//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin
import Crypto
import Foundation
import Glibc
import Logging

/// A folder that may hold a plugin (plugin.json + library).
public struct PluginCandidate: Sendable, Equatable {
    public var directory: String
    public var origin: PluginOrigin

    public init(directory: String, origin: PluginOrigin) {
        self.directory = directory
        self.origin = origin
    }
}

/// Finds plugin folders, in the order that decides which copy of an id wins: bundled, then
/// installed (`~/.localgpt/plugins/<id>/`), then `plugins.paths` from config.toml.
public enum PluginDiscovery {
    /// The candidate folders, in precedence order.
    ///
    /// - Parameters:
    ///   - paths: the LocalGPT home.
    ///   - configuration: supplies `plugins.paths`.
    ///   - bundledDirectory: the folder of bundled plugins (``defaultBundledDirectory()``), or nil.
    /// - Returns: bundled, then installed, then configured plugin folders.
    public static func candidates(
        paths: LocalGPTPaths,
        configuration: Configuration,
        bundledDirectory: String?
    ) -> [PluginCandidate] {
        var out: [PluginCandidate] = []
        if let bundledDirectory {
            out += subdirectories(of: bundledDirectory).map { PluginCandidate(directory: $0, origin: .bundled) }
        }
        out += subdirectories(of: paths.pluginsDirectory).map { PluginCandidate(directory: $0, origin: .user) }
        for p in configuration.pluginPaths {
            let dir = LocalGPTPaths.absolutePath(p, relativeTo: paths.home)
            if FileSystem.exists(dir + "/plugin.json") || !FileSystem.isDirectory(dir) {
                // A plugin folder, or a missing path: the loader reports the latter clearly.
                out.append(PluginCandidate(directory: dir, origin: .config))
            } else {
                out += subdirectories(of: dir).map { PluginCandidate(directory: $0, origin: .config) }
            }
        }
        return out
    }

    /// `LOCALGPT_BUNDLED_PLUGINS`, else `plugins/` next to the running executable.
    public static func defaultBundledDirectory(environment: [String: String] = ProcessEnvironment.current) -> String {
        if let dir = environment["LOCALGPT_BUNDLED_PLUGINS"], !dir.isEmpty { return LocalGPTPaths.absolutePath(dir) }
        return executableDirectory() + "/plugins"
    }

    /// The folder of the running executable (symlinks resolved).
    public static func executableDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return FileManager.default.currentDirectoryPath }
        let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (exe as NSString).deletingLastPathComponent
    }

    static func subdirectories(of dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.sorted().filter { !$0.hasPrefix(".") }.map { dir + "/" + $0 }.filter(FileSystem.isDirectory)
    }
}

/// A sidecar `plugin.json` read and checked: everything that can be decided before `dlopen`.
public struct PluginSidecar: Sendable {
    public var manifest: PluginManifest
    public var file: String
    public var libraryPath: String
    public var librarySHA256: String

    /// Reads `<directory>/plugin.json` and checks the manifest and the `binary` member. Runs no
    /// plugin code.
    ///
    /// - Throws: ``PluginLoadError`` naming the file and the problem.
    public init(directory: String) throws(PluginLoadError) {
        file = directory + "/plugin.json"
        guard FileSystem.exists(file) else {
            throw PluginLoadError(
                .sidecar,
                file: file,
                "missing: every plugin folder needs a plugin.json (make one with `localgpt plugin package`)"
            )
        }
        guard let data = FileSystem.readFile(file) else {
            throw PluginLoadError(.sidecar, file: file, "cannot be read (check its permissions)")
        }
        let doc: JSONValue
        do {
            doc = try JSONValue(parsing: data)
        } catch {
            throw PluginLoadError(.manifest, file: file, "\(error)")
        }
        do {
            manifest = try PluginManifest(json: doc)
        } catch {
            throw PluginLoadError(.manifest, file: file, error.message)
        }
        guard let binary = doc["binary"]?.objectValue,
            let path = binary["path"]?.stringValue,
            let sha = binary["sha256"]?.stringValue
        else {
            throw PluginLoadError(
                .manifest,
                file: file,
                "missing binary.path and binary.sha256 (the sidecar names its library and its hash)"
            )
        }
        guard !path.isEmpty, !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw PluginLoadError(
                .manifest,
                file: file,
                "binary.path \"\(path)\" must be relative, inside the plugin folder"
            )
        }
        guard sha.count == 64, sha.allSatisfy(\.isHexDigit) else {
            throw PluginLoadError(.manifest, file: file, "binary.sha256 must be 64 hex digits")
        }
        libraryPath = directory + "/" + path
        librarySHA256 = sha.lowercased()
        guard manifest.abiMajor == Int(LGPT_ABI_MAJOR) else {
            throw PluginLoadError(
                .abiMismatch,
                file: file,
                "built for plugin ABI \(manifest.abiMajor).\(manifest.abiMinor); this host speaks ABI "
                    + "\(LGPT_ABI_MAJOR).\(LGPT_ABI_MINOR): rebuild the plugin against this lgpt_plugin.h"
            )
        }
    }
}

/// The sha256 of a file as lower-case hex.
public func sha256Hex(ofFile path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return sha256Hex(ofDescriptor: fd)
}

/// The sha256 of what is left to read from `fd`, as lower-case hex.
func sha256Hex(ofDescriptor fd: Int32) -> String? {
    var hasher = SHA256()
    var buf = [UInt8](repeating: 0, count: 1 << 14)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { break }
        buf.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    return hexString(hasher.finalize())
}

/// Lower-case hex of bytes, without a formatter per byte.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

extension PluginHost {
    /// Loads one plugin folder: the sidecar and the library hash are checked before `dlopen`;
    /// then the entry, the descriptor's ABI and size, the embedded manifest (must equal the
    /// sidecar's), and finally `create()` with this plugin's own host table.
    ///
    /// - Throws: ``PluginLoadError``: one line naming the file and what to fix.
    @discardableResult
    public func load(directory: String, origin: PluginOrigin) throws(PluginLoadError) -> LoadedPlugin {
        let sidecar = try PluginSidecar(directory: directory)
        let manifest = sidecar.manifest
        let file = sidecar.file

        if configuration.disabledPlugins.contains(manifest.id) {
            throw PluginLoadError(.disabled, file: file, "\(manifest.id) is listed in plugins.disabled")
        }
        if let existing = isRegistered(id: manifest.id) {
            throw PluginLoadError(
                .duplicateID,
                file: file,
                "duplicate plugin id \(manifest.id): already loaded from \(existing.directory); remove one copy"
            )
        }

        let schemas = try PluginDescriptorCheck.compileSchemas(manifest, file: file)
        for tool in manifest.tools {
            for w in schemas[tool.name]?.warnings ?? [] {
                logger.debug(
                    "tool schema: \(w)",
                    metadata: ["plugin.id": "\(manifest.id)", "tool.name": "\(tool.name)"]
                )
            }
        }

        let granted = try grantedPermissions(for: manifest, origin: origin, sidecar: sidecar)
        // What `secret_get` may hand this plugin is a secret wherever LocalGPT writes, from before its
        // code runs (`create` may already ask): a key only in the environment is in no configuration
        // the masker was built from.
        secretMasker.add(secrets: granted.secrets.compactMap(configuration.secret(named:)))

        guard FileSystem.exists(sidecar.libraryPath) else {
            throw PluginLoadError(
                .libraryMissing,
                file: sidecar.libraryPath,
                "library named by plugin.json is missing (rebuild the plugin or reinstall it)"
            )
        }
        guard let actual = libraryHashes?.sha256(ofFile: sidecar.libraryPath) ?? sha256Hex(ofFile: sidecar.libraryPath)
        else {
            throw PluginLoadError(.libraryMissing, file: sidecar.libraryPath, "cannot be read")
        }
        guard actual == sidecar.librarySHA256 else {
            throw PluginLoadError(
                .checksum,
                file: sidecar.libraryPath,
                "sha256 \(actual.prefix(16))… does not match plugin.json (\(sidecar.librarySHA256.prefix(16))…): "
                    + "the library changed after it was packaged; repackage or reinstall it"
            )
        }

        // Only now does plugin code run. Never dlclose: a Swift plugin crashes the host after it.
        guard let handle = dlopen(sidecar.libraryPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw PluginLoadError(.dlopen, file: sidecar.libraryPath, "cannot be loaded: \(reason)")
        }
        guard let symbol = dlsym(handle, LGPT_ENTRY_SYMBOL_V1) else {
            throw PluginLoadError(
                .missingEntry,
                file: sidecar.libraryPath,
                "exports no \(LGPT_ENTRY_SYMBOL_V1) function: not a LocalGPT plugin, or the entry is not exported "
                    + "(C: LGPT_EXPORT; Swift: public @c(lgpt_plugin_entry_v1))"
            )
        }
        let entry = unsafeBitCast(symbol, to: lgpt_plugin_entry_v1_fn.self)
        guard let descriptor = entry(UInt32(LGPT_ABI_MAJOR), UInt32(LGPT_ABI_MINOR)) else {
            throw PluginLoadError(
                .refusedABI,
                file: sidecar.libraryPath,
                "the plugin refused host ABI \(LGPT_ABI_MAJOR).\(LGPT_ABI_MINOR) (its entry returned NULL)"
            )
        }
        try PluginDescriptorCheck.checkShape(descriptor, file: sidecar.libraryPath)
        // The sidecar's manifest was checked in full: an embedded manifest equal to it needs no
        // second check, so it is parsed and compared, and checked only to explain a difference.
        let embedded: JSONValue
        do {
            embedded = try JSONValue(parsing: String(cString: descriptor.pointee.manifest_json))
        } catch {
            throw PluginLoadError(
                .manifestMismatch,
                file: sidecar.libraryPath,
                "embedded manifest is invalid: \(error)"
            )
        }
        var embeddedManifest = embedded
        if case .object(var o) = embedded, o.removeValue(forKey: "binary") != nil { embeddedManifest = .object(o) }
        if embeddedManifest != manifest.json,
            let difference = Self.firstDifference(embeddedManifest, manifest.json, path: "")
        {
            do {
                _ = try PluginManifest(json: embedded)
            } catch {
                throw PluginLoadError(
                    .manifestMismatch,
                    file: sidecar.libraryPath,
                    "embedded manifest is invalid: \(error)"
                )
            }
            throw PluginLoadError(
                .manifestMismatch,
                file: file,
                "differs from the manifest embedded in the library (at \(difference.isEmpty ? "top level" : difference)); "
                    + "repackage the plugin"
            )
        }
        try PluginDescriptorCheck.checkAgreement(descriptor, manifest: manifest, file: sidecar.libraryPath)

        let plugin = LoadedPlugin(
            manifest: manifest,
            origin: origin,
            directory: directory,
            libraryPath: sidecar.libraryPath,
            librarySHA256: actual,
            granted: granted,
            schemas: schemas,
            descriptor: descriptor,
            host: self
        )
        var instance: UnsafeMutableRawPointer? = nil
        let status = plugin.withCallLock { descriptor.pointee.create(plugin.hostTable, &instance) }
        guard status == LGPT_OK else {
            throw PluginLoadError(
                .createFailed,
                file: sidecar.libraryPath,
                "create() failed with \(statusName(status)); the plugin's log lines above say why"
            )
        }
        plugin.instance = instance
        if let existing = register(plugin) {
            plugin.destroy()
            throw PluginLoadError(
                .duplicateID,
                file: file,
                "duplicate plugin id \(manifest.id): already loaded from \(existing.directory); remove one copy"
            )
        }
        logger.debug(
            "plugin loaded",
            metadata: [
                "plugin.id": "\(manifest.id)", "plugin.version": "\(manifest.version)", "plugin.origin": "\(origin)",
            ]
        )
        return plugin
    }

    /// Declared ∩ granted. Bundled plugins and those listed in config.toml get what they declare
    /// unless a grant narrows it; installed plugins get exactly their install-time grant. A grant
    /// that failed verification (grants.json edited by hand, unsigned, or signed with another
    /// device key) refuses the plugin, whatever its origin, and is recorded as `grant_tampered`.
    func grantedPermissions(
        for manifest: PluginManifest,
        origin: PluginOrigin,
        sidecar: PluginSidecar
    ) throws(PluginLoadError) -> PluginPermissions {
        let declared = manifest.permissions
        let grant = grants[manifest.id]
        if let grant, case .invalid(let reason) = grant.integrity {
            securityEvents?.record(
                SecurityEvent(
                    action: "grant_tampered",
                    source: manifest.id,
                    details: ["reason": .string(reason), "grants_file": .string(paths.grantsFile)]
                )
            )
            throw PluginLoadError(
                .checksum,
                file: paths.grantsFile,
                "the grant for \(manifest.id) is refused: \(reason). The plugin is not loaded; grant it again with "
                    + "`localgpt plugin install --force <folder>`"
            )
        }
        switch origin {
        case .bundled, .config:
            return grant.map { declared.intersection($0.permissions) } ?? declared
        case .user:
            guard let grant else {
                logger.warning(
                    """
                    plugin has no grant in grants.json (copied into the plugins folder by hand, or its install did \
                    not finish); it gets no permissions: install it with `localgpt plugin install <folder>`
                    """,
                    metadata: ["plugin.id": "\(manifest.id)"]
                )
                return .none
            }
            if !grant.librarySHA256.isEmpty && grant.librarySHA256 != sidecar.librarySHA256 {
                throw PluginLoadError(
                    .checksum,
                    file: sidecar.file,
                    "the library differs from the one approved at install; reinstall it with `localgpt plugin install`"
                )
            }
            return declared.intersection(grant.permissions)
        }
    }

    /// The path of the first place two JSON values differ, or nil when equal.
    static func firstDifference(_ a: JSONValue, _ b: JSONValue, path: String) -> String? {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            for key in Set(x.keys).union(y.keys).sorted() {
                let p = path.isEmpty ? key : path + "." + key
                guard let xv = x[key], let yv = y[key] else { return p }
                if let d = firstDifference(xv, yv, path: p) { return d }
            }
            return nil
        case (.array(let x), .array(let y)):
            if x.count != y.count { return path }
            for (i, (xv, yv)) in zip(x, y).enumerated() {
                if let d = firstDifference(xv, yv, path: "\(path)[\(i)]") { return d }
            }
            return nil
        default:
            if a == b { return nil }
            if let x = a.doubleValue, let y = b.doubleValue, x == y { return nil }
            return path
        }
    }
}
