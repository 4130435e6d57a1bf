//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin
import Foundation

/// The fixture plugin called directly through its descriptor, without `PluginHost`: the bare C
/// call plus a collecting sink and the output `String`, the floor under `PluginHost.invoke`.
///
/// Only for the fixture's `noop` and `echo`, which never touch the host table: the instance is a
/// zeroed `{host}` struct and `create()` is not called.
public final class RawPlugin: @unchecked Sendable {
    let descriptor: UnsafePointer<lgpt_plugin_v1>
    let instance: UnsafeMutableRawPointer

    public init(library: String) throws {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            throw BenchError("dlopen \(library): \(String(cString: dlerror()))")
        }
        guard let symbol = dlsym(handle, LGPT_ENTRY_SYMBOL_V1) else { throw BenchError("no entry in \(library)") }
        let entry = unsafeBitCast(symbol, to: lgpt_plugin_entry_v1_fn.self)
        guard let d = entry(UInt32(LGPT_ABI_MAJOR), UInt32(LGPT_ABI_MINOR)) else { throw BenchError("entry refused") }
        descriptor = d
        instance = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)
        instance.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
    }

    /// Calls `invoke(name, args)` and returns what the plugin wrote, as a String.
    @inline(never)
    public func invoke(_ name: String, _ args: String) -> String {
        let sink = RawSink()
        var call = lgpt_call(
            struct_size: UInt32(MemoryLayout<lgpt_call>.size),
            flags: 0,
            call_id: 1,
            deadline_ms: 0,
            trace_id: emptyTraceID
        )
        let status = name.withCString { cName in
            args.withCString { cArgs in
                sink.withSink { out in descriptor.pointee.invoke!(instance, &call, cName, cArgs, strlen(cArgs), out) }
            }
        }
        precondition(status == LGPT_OK)
        return String(decoding: sink.bytes, as: UTF8.self)
    }

    /// The bare call with a sink that discards the bytes: no allocation on the host side.
    @inline(never)
    public func invokeDiscarding(_ name: UnsafePointer<CChar>, _ args: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        var call = lgpt_call(
            struct_size: UInt32(MemoryLayout<lgpt_call>.size),
            flags: 0,
            call_id: 1,
            deadline_ms: 0,
            trace_id: emptyTraceID
        )
        var sink = lgpt_sink(struct_size: UInt32(MemoryLayout<lgpt_sink>.size), flags: 0, ctx: nil, write: discardWrite)
        return descriptor.pointee.invoke!(instance, &call, name, args, len, &sink)
    }
}

nonisolated(unsafe) private let emptyTraceID: UnsafePointer<CChar> = {
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
    p.initialize(to: 0)
    return UnsafePointer(p)
}()

private let discardWrite: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int) -> lgpt_status = {
    _,
    _,
    _ in
    LGPT_OK
}

final class RawSink {
    var bytes: [UInt8] = []

    func withSink<R>(_ body: (UnsafePointer<lgpt_sink>) -> R) -> R {
        var sink = lgpt_sink(
            struct_size: UInt32(MemoryLayout<lgpt_sink>.size),
            flags: 0,
            ctx: Unmanaged.passUnretained(self).toOpaque(),
            write: rawSinkWrite
        )
        return withExtendedLifetime(self) { withUnsafePointer(to: &sink) { body($0) } }
    }
}

private let rawSinkWrite: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int) -> lgpt_status = {
    ctx,
    bytes,
    len in
    let sink = Unmanaged<RawSink>.fromOpaque(ctx!).takeUnretainedValue()
    if len > 0, let bytes { sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: len)) }
    return LGPT_OK
}
