// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The C ABI surface of `org.localgpt.text`: the exported entry, the descriptor and its callbacks.

import CLocalGPTPlugin
import Foundation

/// One created instance of the plugin. Immutable after `create`, so concurrent calls share nothing mutable.
private final class TextPluginInstance {
    /// The host's service table; valid until `destroy` returns.
    let host: UnsafePointer<lgpt_host_v1>

    init(host: UnsafePointer<lgpt_host_v1>) {
        self.host = host
    }
}

private func cString(_ string: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(string.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// The first field of every ABI struct (rule R1), read without touching anything after it.
private func declaredSize(_ pointer: UnsafeRawPointer) -> Int {
    Int(pointer.load(as: UInt32.self))
}

/// Writes one document to a sink and returns the sink's status (non-OK means stop, rule R8).
private func write(_ data: Data, to sink: UnsafePointer<lgpt_sink>) -> lgpt_status {
    data.withUnsafeBytes { bytes in
        sink.pointee.write(sink.pointee.ctx, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }
}

private func createInstance(
    _ host: UnsafePointer<lgpt_host_v1>,
    _ outInstance: UnsafeMutablePointer<UnsafeMutableRawPointer?>
) -> lgpt_status {
    outInstance.pointee = nil
    guard declaredSize(host) >= MemoryLayout<lgpt_host_v1>.size, host.pointee.abi_major == LGPT_ABI_MAJOR else {
        return LGPT_ERR_ABI_MISMATCH
    }
    let instance = TextPluginInstance(host: host)
    let message: StaticString = "text plugin ready"
    host.pointee.log(host.pointee.host_ctx, LGPT_LOG_INFO, cString(message), message.utf8CodeUnitCount)
    outInstance.pointee = Unmanaged.passRetained(instance).toOpaque()
    return LGPT_OK
}

private func destroyInstance(_ instance: UnsafeMutableRawPointer?) {
    guard let instance else { return }
    Unmanaged<TextPluginInstance>.fromOpaque(instance).release()
}

private func invokeTool(
    _ name: UnsafePointer<CChar>,
    _ arguments: UnsafePointer<CChar>,
    _ argumentsLength: Int,
    _ out: UnsafePointer<lgpt_sink>
) -> lgpt_status {
    guard declaredSize(out) >= MemoryLayout<lgpt_sink>.size else {
        return LGPT_ERR_ABI_MISMATCH
    }
    let data = Data(bytes: arguments, count: argumentsLength)
    let result: Data
    do {
        result = try TextTools.run(String(cString: name), arguments: data)
    } catch {
        let status = write(ToolJSON.errorDocument(for: error), to: out)
        return status == LGPT_OK ? error.status : status
    }
    return write(result, to: out)
}

/// The descriptor, built once (Swift globals initialise thread-safely) and never freed (rule R5).
nonisolated(unsafe) private let descriptor: UnsafeMutablePointer<lgpt_plugin_v1> = {
    let pointer = UnsafeMutablePointer<lgpt_plugin_v1>.allocate(capacity: 1)
    pointer.initialize(
        to: lgpt_plugin_v1(
            struct_size: UInt32(MemoryLayout<lgpt_plugin_v1>.size),
            abi_major: UInt32(LGPT_ABI_MAJOR),
            abi_minor: UInt32(LGPT_ABI_MINOR),
            kinds: LGPT_KIND_TOOL,
            id: cString(TextManifest.id),
            version: cString(TextManifest.version),
            manifest_json: cString(TextManifest.json),
            create: { host, outInstance in createInstance(host, outInstance) },
            destroy: { instance in destroyInstance(instance) },
            invoke: { _, _, name, arguments, argumentsLength, out in
                invokeTool(name, arguments, argumentsLength, out)
            },
            generate: nil,
            get_extension: nil
        )
    )
    return pointer
}()

/// The plugin's single exported symbol (rule R2): the descriptor for ABI major 1, otherwise `NULL`.
///
/// The C prototype returns `const lgpt_plugin_v1 *`; the pointer is returned untyped here because the ABI
/// module is imported internally, and both are the same pointer at the machine level.
///
/// - Parameters:
///   - hostMajor: The host's ABI major version.
///   - hostMinor: The host's ABI minor version (any minor is served).
/// - Returns: The static descriptor, or `nil` for a major this plugin does not serve.
#if compiler(>=6.3)
@c(lgpt_plugin_entry_v1)
#else
@_cdecl("lgpt_plugin_entry_v1")
#endif
public func textPluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafeRawPointer? {
    hostMajor == UInt32(LGPT_ABI_MAJOR) ? UnsafeRawPointer(descriptor) : nil
}
