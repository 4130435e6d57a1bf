// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The C ABI surface of `org.localgpt.tools`: the exported entry, the descriptor and its callbacks.

import CLocalGPTPlugin
import Foundation

/// One created instance: the host's service table. Immutable after `create`.
private final class ToolsPluginInstance {
    let host: UnsafePointer<lgpt_host_v1>

    init(host: UnsafePointer<lgpt_host_v1>) {
        self.host = host
    }
}

private func cString(_ string: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(string.utf8Start).assumingMemoryBound(to: CChar.self)
}

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
    guard Int(host.pointee.struct_size) >= MemoryLayout<lgpt_host_v1>.size, host.pointee.abi_major == LGPT_ABI_MAJOR
    else { return LGPT_ERR_ABI_MISMATCH }
    outInstance.pointee = Unmanaged.passRetained(ToolsPluginInstance(host: host)).toOpaque()
    return LGPT_OK
}

private func destroyInstance(_ instance: UnsafeMutableRawPointer?) {
    guard let instance else { return }
    Unmanaged<ToolsPluginInstance>.fromOpaque(instance).release()
}

private func invokeTool(
    _ instance: UnsafeMutableRawPointer?,
    _ call: UnsafePointer<lgpt_call>,
    _ name: UnsafePointer<CChar>,
    _ arguments: UnsafePointer<CChar>,
    _ argumentsLength: Int,
    _ out: UnsafePointer<lgpt_sink>
) -> lgpt_status {
    guard let instance, Int(out.pointee.struct_size) >= MemoryLayout<lgpt_sink>.size else {
        return LGPT_ERR_ABI_MISMATCH
    }
    let plugin = Unmanaged<ToolsPluginInstance>.fromOpaque(instance).takeUnretainedValue()
    let bridge = HostBridge(host: plugin.host, call: call)
    let bytes = Array(UnsafeRawBufferPointer(start: arguments, count: argumentsLength))
    do {
        let result = try AgentTools.run(String(cString: name), arguments: bytes, host: bridge)
        return write(JSON.encode(result), to: out)
    } catch {
        let document: [String: Any] = ["error": ["code": error.code, "message": error.message]]
        let status = write(JSON.encode(document), to: out)
        return status == LGPT_OK ? error.status : status
    }
}

/// The descriptor, built once and never freed (rule R5).
nonisolated(unsafe) private let descriptor: UnsafeMutablePointer<lgpt_plugin_v1> = {
    let pointer = UnsafeMutablePointer<lgpt_plugin_v1>.allocate(capacity: 1)
    pointer.initialize(
        to: lgpt_plugin_v1(
            struct_size: UInt32(MemoryLayout<lgpt_plugin_v1>.size),
            abi_major: UInt32(LGPT_ABI_MAJOR),
            abi_minor: UInt32(LGPT_ABI_MINOR),
            kinds: LGPT_KIND_TOOL,
            id: cString(ToolsManifest.id),
            version: cString(ToolsManifest.version),
            manifest_json: cString(ToolsManifest.json),
            create: { host, outInstance in createInstance(host, outInstance) },
            destroy: { instance in destroyInstance(instance) },
            invoke: { instance, call, name, arguments, argumentsLength, out in
                invokeTool(instance, call, name, arguments, argumentsLength, out)
            },
            generate: nil,
            get_extension: nil
        )
    )
    return pointer
}()

/// The plugin's single exported symbol (rule R2): the descriptor for ABI major 1, otherwise `NULL`.
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
public func toolsPluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafeRawPointer? {
    hostMajor == UInt32(LGPT_ABI_MAJOR) ? UnsafeRawPointer(descriptor) : nil
}
