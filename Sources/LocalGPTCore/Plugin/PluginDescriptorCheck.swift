//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin

/// The checks of a plugin's descriptor and manifest that the loader and the packager share: what
/// the loader would refuse is not packaged either.
enum PluginDescriptorCheck {
    /// The descriptor's size, its ABI major, and the fields that must be set. Run it before anything
    /// reads the descriptor's strings or calls `create`: Swift sees those fields as non-optional, and
    /// a plugin that leaves one NULL would crash the host (every command, once installed).
    ///
    /// - Throws: ``PluginLoadError`` naming `file` and the field.
    static func checkShape(_ descriptor: UnsafePointer<lgpt_plugin_v1>, file: String) throws(PluginLoadError) {
        let minSize = MemoryLayout<lgpt_plugin_v1>.size
        let size = Int(descriptor.pointee.struct_size)
        guard size >= minSize else {
            throw PluginLoadError(
                .structTooSmall,
                file: file,
                "descriptor too small: struct_size \(size), a v1 descriptor has at least \(minSize) bytes"
            )
        }
        guard descriptor.pointee.abi_major == UInt32(LGPT_ABI_MAJOR) else {
            throw PluginLoadError(
                .abiMismatch,
                file: file,
                "descriptor says ABI major \(descriptor.pointee.abi_major); this host speaks \(LGPT_ABI_MAJOR)"
            )
        }
        let required: [(name: String, offset: Int?)] = [
            ("id", MemoryLayout<lgpt_plugin_v1>.offset(of: \.id)),
            ("version", MemoryLayout<lgpt_plugin_v1>.offset(of: \.version)),
            ("manifest_json", MemoryLayout<lgpt_plugin_v1>.offset(of: \.manifest_json)),
            ("create", MemoryLayout<lgpt_plugin_v1>.offset(of: \.create)),
        ]
        let raw = UnsafeRawPointer(descriptor)
        let missing = required.filter { field in
            field.offset.map { raw.loadUnaligned(fromByteOffset: $0, as: UInt.self) == 0 } ?? false
        }
        guard missing.isEmpty else {
            throw PluginLoadError(
                .incompleteDescriptor,
                file: file,
                "descriptor has no \(missing.map(\.name).joined(separator: ", ")) (NULL); "
                    + "id, version, manifest_json and create must be set"
            )
        }
    }

    /// The descriptor agrees with `manifest`: the same id, version and kinds, `invoke` when it declares
    /// tools, `generate` when it declares providers.
    ///
    /// - Throws: ``PluginLoadError`` naming `file` and the difference.
    static func checkAgreement(
        _ descriptor: UnsafePointer<lgpt_plugin_v1>,
        manifest: PluginManifest,
        file: String
    ) throws(PluginLoadError) {
        let id = String(cString: descriptor.pointee.id)
        let version = String(cString: descriptor.pointee.version)
        guard id == manifest.id, version == manifest.version else {
            throw PluginLoadError(
                .manifestMismatch,
                file: file,
                "descriptor says \(id) \(version) but the manifest says \(manifest.id) \(manifest.version)"
            )
        }
        guard descriptor.pointee.kinds == manifest.kindBits else {
            throw PluginLoadError(
                .manifestMismatch,
                file: file,
                "descriptor kinds 0x\(String(descriptor.pointee.kinds, radix: 16)) do not match the manifest's "
                    + manifest.kinds.sorted().map(\.rawValue).joined(separator: ", ")
            )
        }
        if !manifest.tools.isEmpty && descriptor.pointee.invoke == nil {
            throw PluginLoadError(.manifestMismatch, file: file, "declares tools but has no invoke function")
        }
        if !manifest.providers.isEmpty && descriptor.pointee.generate == nil {
            throw PluginLoadError(.manifestMismatch, file: file, "declares providers but has no generate function")
        }
    }

    /// Each tool's `parameters` compiled.
    ///
    /// - Throws: ``PluginLoadError`` naming `file`, the tool and what is wrong with its schema.
    static func compileSchemas(_ manifest: PluginManifest, file: String) throws(PluginLoadError) -> [String: JSONSchema]
    {
        var schemas: [String: JSONSchema] = [:]
        for tool in manifest.tools {
            do {
                schemas[tool.name] = try JSONSchema(tool.parameters, location: "parameters")
            } catch {
                throw PluginLoadError(.manifest, file: file, "tool \(tool.name): invalid parameters schema: \(error)")
            }
        }
        return schemas
    }
}
