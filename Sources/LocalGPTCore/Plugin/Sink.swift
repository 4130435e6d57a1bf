//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin

/// A receiver-owned sink (ABI rule R4) that collects what a plugin writes into bytes.
final class CollectingSink {
    var bytes: [UInt8] = []
    let limit: Int
    var overflowed = false

    init(limit: Int) {
        self.limit = limit
    }

    /// Runs `body` with an `lgpt_sink` that appends to this collector. The sink is valid only
    /// inside `body`.
    func withSink<R>(_ body: (UnsafePointer<lgpt_sink>) -> R) -> R {
        var sink = lgpt_sink(
            struct_size: UInt32(MemoryLayout<lgpt_sink>.size),
            flags: 0,
            ctx: Unmanaged.passUnretained(self).toOpaque(),
            write: collectingSinkWrite
        )
        return withExtendedLifetime(self) { withUnsafePointer(to: &sink) { body($0) } }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}

private let collectingSinkWrite: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int) -> lgpt_status =
    {
        ctx,
        bytes,
        len in
        guard let ctx else { return LGPT_ERR_INVALID_ARGUMENT }
        let sink = Unmanaged<CollectingSink>.fromOpaque(ctx).takeUnretainedValue()
        guard len > 0 else { return LGPT_OK }
        guard let bytes else { return LGPT_ERR_INVALID_ARGUMENT }
        if sink.bytes.count + len > sink.limit {
            sink.overflowed = true
            return LGPT_ERR_CANCELLED
        }
        sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: len))
        return LGPT_OK
    }

/// A sink that hands each write to a closure (provider events: one JSON event per write).
final class ForwardingSink {
    let onWrite: (UnsafeRawBufferPointer) -> lgpt_status

    init(onWrite: @escaping (UnsafeRawBufferPointer) -> lgpt_status) {
        self.onWrite = onWrite
    }

    func withSink<R>(_ body: (UnsafePointer<lgpt_sink>) -> R) -> R {
        var sink = lgpt_sink(
            struct_size: UInt32(MemoryLayout<lgpt_sink>.size),
            flags: 0,
            ctx: Unmanaged.passUnretained(self).toOpaque(),
            write: forwardingSinkWrite
        )
        return withExtendedLifetime(self) { withUnsafePointer(to: &sink) { body($0) } }
    }
}

private let forwardingSinkWrite: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int) -> lgpt_status =
    {
        ctx,
        bytes,
        len in
        guard let ctx else { return LGPT_ERR_INVALID_ARGUMENT }
        let sink = Unmanaged<ForwardingSink>.fromOpaque(ctx).takeUnretainedValue()
        if len > 0 && bytes == nil { return LGPT_ERR_INVALID_ARGUMENT }
        return sink.onWrite(UnsafeRawBufferPointer(start: bytes, count: len))
    }

/// Writes bytes into a sink the plugin owns, checking its declared size first (R1).
@discardableResult
func write(_ bytes: some Collection<UInt8>, to sink: UnsafePointer<lgpt_sink>) -> lgpt_status {
    guard Int(sink.pointee.struct_size) >= MemoryLayout<lgpt_sink>.size else { return LGPT_ERR_ABI_MISMATCH }
    let array = Array(bytes)
    return array.withUnsafeBufferPointer { buf in
        buf.withMemoryRebound(to: CChar.self) { sink.pointee.write(sink.pointee.ctx, $0.baseAddress, $0.count) }
    }
}

@discardableResult
func write(_ text: String, to sink: UnsafePointer<lgpt_sink>) -> lgpt_status {
    write(Array(text.utf8), to: sink)
}

/// The ABI's error document: {"error": {"code": ..., "message": ...}}.
func errorDocument(code: String, message: String) -> String {
    JSONValue.object(["error": .object(["code": .string(code), "message": .string(message)])]).encoded()
}

/// The name of an `lgpt_status`, for messages.
public func statusName(_ status: Int32) -> String {
    switch status {
    case LGPT_OK: return "OK"
    case LGPT_ERR_UNKNOWN: return "UNKNOWN"
    case LGPT_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT"
    case LGPT_ERR_NOT_FOUND: return "NOT_FOUND"
    case LGPT_ERR_PERMISSION_DENIED: return "PERMISSION_DENIED"
    case LGPT_ERR_CANCELLED: return "CANCELLED"
    case LGPT_ERR_TIMEOUT: return "TIMEOUT"
    case LGPT_ERR_UNSUPPORTED: return "UNSUPPORTED"
    case LGPT_ERR_ABI_MISMATCH: return "ABI_MISMATCH"
    case LGPT_ERR_IO: return "IO"
    case LGPT_ERR_RATE_LIMITED: return "RATE_LIMITED"
    case LGPT_ERR_INTERNAL: return "INTERNAL"
    default: return "status \(status)"
    }
}

/// The error-document code for a status.
func statusCode(_ status: Int32) -> String {
    statusName(status).lowercased()
}
