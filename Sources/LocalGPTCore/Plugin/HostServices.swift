//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin

/// The C entry points of the host table (`lgpt_host_v1`). Each one recovers the calling plugin
/// from `host_ctx` and forwards to the `PluginHost` service, which checks the plugin's granted
/// permissions before doing anything.
enum HostServices {
    nonisolated(unsafe) static let hostName = makeStaticCString("localgpt-swift")
    nonisolated(unsafe) static let hostVersion = makeStaticCString(LocalGPTVersion.current)

    static func makeTable(context: UnsafeMutableRawPointer?) -> lgpt_host_v1 {
        lgpt_host_v1(
            struct_size: UInt32(MemoryLayout<lgpt_host_v1>.size),
            abi_major: UInt32(LGPT_ABI_MAJOR),
            abi_minor: UInt32(LGPT_ABI_MINOR),
            flags: 0,
            host_ctx: context ?? UnsafeMutableRawPointer(bitPattern: 1)!,
            host_name: hostName,
            host_version: hostVersion,
            log: hostLog,
            exec: hostExec,
            http: hostHTTP,
            memory_search: hostMemorySearch,
            memory_append: hostMemoryAppend,
            config_get: hostConfigGet,
            secret_get: hostSecretGet,
            is_cancelled: hostIsCancelled,
            get_extension: hostGetExtension
        )
    }

    /// A C string that lives for the life of the process (R5).
    private static func makeStaticCString(_ s: String) -> UnsafePointer<CChar> {
        let buf = UnsafeMutablePointer<CChar>.allocate(capacity: s.utf8.count + 1)
        s.withCString { buf.initialize(from: $0, count: s.utf8.count + 1) }
        return UnsafePointer(buf)
    }

    @inline(__always)
    static func plugin(_ ctx: UnsafeMutableRawPointer) -> LoadedPlugin {
        Unmanaged<LoadedPlugin>.fromOpaque(ctx).takeUnretainedValue()
    }

    @inline(__always)
    static func string(_ ptr: UnsafePointer<CChar>, _ len: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(start: ptr, count: len), as: UTF8.self)
    }
}

private let hostLog: @convention(c) (UnsafeMutableRawPointer, Int32, UnsafePointer<CChar>?, Int) -> Void = {
    ctx,
    level,
    msg,
    len in
    let plugin = HostServices.plugin(ctx)
    let text = msg.map { HostServices.string($0, len) } ?? ""
    plugin.host.pluginLog(plugin, level: level, message: text)
}

private let hostExec:
    @convention(c) (
        UnsafeMutableRawPointer, UnsafePointer<lgpt_call>, UnsafePointer<CChar>, Int, UnsafePointer<lgpt_sink>
    ) -> lgpt_status = { ctx, call, req, len, out in
        let plugin = HostServices.plugin(ctx)
        return plugin.host.serviceExec(plugin, call: call.pointee, request: HostServices.string(req, len), out: out)
    }

private let hostHTTP:
    @convention(c) (
        UnsafeMutableRawPointer, UnsafePointer<lgpt_call>, UnsafePointer<CChar>, Int, UnsafePointer<lgpt_sink>,
        UnsafePointer<lgpt_sink>
    ) -> lgpt_status = { ctx, call, req, len, head, body in
        let plugin = HostServices.plugin(ctx)
        return plugin.host.serviceHTTP(
            plugin,
            call: call.pointee,
            request: HostServices.string(req, len),
            head: head,
            body: body
        )
    }

private let hostMemorySearch:
    @convention(c) (
        UnsafeMutableRawPointer, UnsafePointer<lgpt_call>, UnsafePointer<CChar>, Int, UnsafePointer<lgpt_sink>
    ) -> lgpt_status = { ctx, call, req, len, out in
        let plugin = HostServices.plugin(ctx)
        return plugin.host.serviceMemory(
            plugin,
            call: call.pointee,
            operation: .search,
            request: HostServices.string(req, len),
            out: out
        )
    }

private let hostMemoryAppend:
    @convention(c) (
        UnsafeMutableRawPointer, UnsafePointer<lgpt_call>, UnsafePointer<CChar>, Int, UnsafePointer<lgpt_sink>
    ) -> lgpt_status = { ctx, call, req, len, out in
        let plugin = HostServices.plugin(ctx)
        return plugin.host.serviceMemory(
            plugin,
            call: call.pointee,
            operation: .append,
            request: HostServices.string(req, len),
            out: out
        )
    }

private let hostConfigGet:
    @convention(c) (UnsafeMutableRawPointer, UnsafePointer<CChar>, Int, UnsafePointer<lgpt_sink>) -> lgpt_status = {
        ctx,
        key,
        len,
        out in
        let plugin = HostServices.plugin(ctx)
        return plugin.host.serviceConfigGet(plugin, key: HostServices.string(key, len), out: out)
    }

private let hostSecretGet:
    @convention(c) (UnsafeMutableRawPointer, UnsafePointer<CChar>, Int, UnsafePointer<lgpt_sink>) -> lgpt_status = {
        ctx,
        key,
        len,
        out in
        let plugin = HostServices.plugin(ctx)
        return plugin.host.serviceSecretGet(plugin, name: HostServices.string(key, len), out: out)
    }

private let hostIsCancelled: @convention(c) (UnsafeMutableRawPointer, UnsafePointer<lgpt_call>) -> Int32 = {
    ctx,
    call in
    HostServices.plugin(ctx).host.isCancelled(callID: call.pointee.call_id) ? 1 : 0
}

/// Optional host features by versioned id (rule R9). `lgpt.host.local-model/1` is offered only to a plugin with a
/// provider whose capabilities include "local_model".
private let hostGetExtension: @convention(c) (UnsafeMutableRawPointer, UnsafePointer<CChar>) -> UnsafeRawPointer? = {
    ctx,
    id in
    switch String(cString: id) {
    case HostFilesExtension.id: return UnsafeRawPointer(HostFilesExtension.table)  // lgpt.host.files/1 (agent)
    case LocalModelService.extensionID: return LocalModelService.table(for: HostServices.plugin(ctx))
    default: return nil
    }
}
