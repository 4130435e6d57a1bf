//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin
import Foundation
import Glibc

/// Makes a plugin folder from a built library: reads the manifest embedded in the library and
/// writes it, with the library's path and sha256, as the sidecar `plugin.json`.
///
/// Packaging loads the library (`dlopen` + the entry function, never `create`), so it runs the
/// plugin's initialisers: package only libraries you built or trust.
public enum PluginPackager {
    /// Packages `library` into `directory` (created if needed; the library is copied there unless
    /// it already is inside). Returns the manifest.
    ///
    /// - Throws: ``PluginLoadError`` when the library is not a valid v1 plugin.
    @discardableResult
    public static func package(library: String, into directory: String) throws -> PluginManifest {
        let lib = LocalGPTPaths.absolutePath(library)
        let dir = LocalGPTPaths.absolutePath(directory)
        guard FileSystem.exists(lib) else { throw PluginLoadError(.libraryMissing, file: lib, "does not exist") }
        guard let handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw PluginLoadError(.dlopen, file: lib, "cannot be loaded: \(reason)")
        }
        guard let symbol = dlsym(handle, LGPT_ENTRY_SYMBOL_V1) else {
            throw PluginLoadError(.missingEntry, file: lib, "exports no \(LGPT_ENTRY_SYMBOL_V1) function")
        }
        let entry = unsafeBitCast(symbol, to: lgpt_plugin_entry_v1_fn.self)
        guard let descriptor = entry(UInt32(LGPT_ABI_MAJOR), UInt32(LGPT_ABI_MINOR)) else {
            throw PluginLoadError(
                .refusedABI,
                file: lib,
                "the plugin refused host ABI \(LGPT_ABI_MAJOR).\(LGPT_ABI_MINOR)"
            )
        }
        // What the loader would refuse is not packaged either.
        try PluginDescriptorCheck.checkShape(descriptor, file: lib)
        let manifest: PluginManifest
        do {
            manifest = try PluginManifest(text: String(cString: descriptor.pointee.manifest_json))
        } catch {
            throw PluginLoadError(.manifest, file: lib, "embedded manifest: \(error)")
        }
        _ = try PluginDescriptorCheck.compileSchemas(manifest, file: lib)
        try PluginDescriptorCheck.checkAgreement(descriptor, manifest: manifest, file: lib)
        try FileSystem.createDirectory(dir, mode: 0o755)
        let name = (lib as NSString).lastPathComponent
        let target = dir + "/" + name
        if target != lib {
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: lib, toPath: target)
        }
        guard let sha = sha256Hex(ofFile: target) else {
            throw PluginLoadError(.libraryMissing, file: target, "cannot be read")
        }
        guard case .object(var doc) = manifest.json else {
            throw PluginLoadError(.manifest, file: lib, "not an object")
        }
        doc["binary"] = .object(["path": .string(name), "sha256": .string(sha)])
        try FileSystem.writeAtomically(
            Data((JSONValue.object(doc).encoded(pretty: true) + "\n").utf8),
            to: dir + "/plugin.json",
            mode: 0o644
        )
        return manifest
    }
}
