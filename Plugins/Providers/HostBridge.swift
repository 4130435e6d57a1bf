// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// Swift wrappers around the host's service table (lgpt_host_v1) and the plugin-side sinks they write to.

import CLocalGPTPlugin
import Glibc

/// The first field of every ABI struct (rule R1), read without touching anything after it.
func declaredSize(_ pointer: UnsafeRawPointer) -> Int {
    Int(pointer.load(as: UInt32.self))
}

/// A sink the plugin owns (rule R4): each write is handed to a closure, which returns false to stop.
final class ClosureSink {
    let onWrite: (UnsafeRawBufferPointer) -> Bool

    init(_ onWrite: @escaping (UnsafeRawBufferPointer) -> Bool) {
        self.onWrite = onWrite
    }

    /// Runs `body` with an `lgpt_sink` that forwards to this object; valid only inside `body`.
    func withSink<R>(_ body: (UnsafePointer<lgpt_sink>) -> R) -> R {
        var sink = lgpt_sink(
            struct_size: UInt32(MemoryLayout<lgpt_sink>.size),
            flags: 0,
            ctx: Unmanaged.passUnretained(self).toOpaque(),
            write: closureSinkWrite
        )
        return withExtendedLifetime(self) { withUnsafePointer(to: &sink) { body($0) } }
    }

    /// A sink that collects every write into one byte array (up to `limit` bytes).
    static func collecting(limit: Int = 16 << 20) -> (ClosureSink, () -> [UInt8]) {
        final class Box { var bytes: [UInt8] = [] }
        let box = Box()
        let sink = ClosureSink { chunk in
            guard box.bytes.count + chunk.count <= limit else { return false }
            box.bytes.append(contentsOf: chunk)
            return true
        }
        return (sink, { box.bytes })
    }
}

private let closureSinkWrite: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int) -> lgpt_status = {
    ctx,
    bytes,
    length in
    guard let ctx else { return LGPT_ERR_INVALID_ARGUMENT }
    if length > 0 && bytes == nil { return LGPT_ERR_INVALID_ARGUMENT }
    let sink = Unmanaged<ClosureSink>.fromOpaque(ctx).takeUnretainedValue()
    return sink.onWrite(UnsafeRawBufferPointer(start: bytes, count: length)) ? LGPT_OK : LGPT_ERR_CANCELLED
}

/// The host table of this plugin instance, with typed calls. Immutable; safe to share between threads.
struct HostBridge: @unchecked Sendable {
    let table: UnsafePointer<lgpt_host_v1>

    var context: UnsafeMutableRawPointer { table.pointee.host_ctx }

    func log(_ level: Int32, _ message: String) {
        var text = message
        text.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { table.pointee.log(context, level, $0.baseAddress, $0.count) }
        }
    }

    /// A config value by dotted key, or nil when absent or not granted.
    func config(_ key: String) -> JSON? {
        let (sink, bytes) = ClosureSink.collecting(limit: 1 << 20)
        let status = key.withCString { k in sink.withSink { table.pointee.config_get(context, k, strlen(k), $0) } }
        guard status == LGPT_OK else { return nil }
        return try? JSON(parsing: bytes())
    }

    func configString(_ key: String) -> String? {
        guard let s = config(key)?.string?.trimmingSpaces, !s.isEmpty else { return nil }
        return s
    }

    /// A secret by name, or nil when absent or not granted. Never logged.
    func secret(_ name: String) -> String? {
        let (sink, bytes) = ClosureSink.collecting(limit: 64 << 10)
        let status = name.withCString { k in sink.withSink { table.pointee.secret_get(context, k, strlen(k), $0) } }
        guard status == LGPT_OK else { return nil }
        let value = String(decoding: bytes(), as: UTF8.self).trimmingSpaces
        return value.isEmpty ? nil : value
    }

    func isCancelled(_ call: UnsafePointer<lgpt_call>) -> Bool {
        table.pointee.is_cancelled(context, call) != 0
    }

    /// Runs a process through the host's sandboxed exec and returns its result document.
    func exec(_ call: UnsafePointer<lgpt_call>, request: JSON) -> (status: lgpt_status, reply: JSON?) {
        let (sink, bytes) = ClosureSink.collecting(limit: 8 << 20)
        let text = request.encoded
        let status = text.withCString { r in sink.withSink { table.pointee.exec(context, call, r, strlen(r), $0) } }
        return (status, try? JSON(parsing: bytes()))
    }

    /// The local-model extension, when the host offers it to this plugin.
    func localModelExtension() -> UnsafePointer<lgpt_host_local_model_v1>? {
        guard let raw = LGPT_HOST_LOCAL_MODEL_V1.withCString({ table.pointee.get_extension(context, $0) }) else {
            return nil
        }
        guard declaredSize(raw) >= MemoryLayout<lgpt_host_local_model_v1>.size else { return nil }
        return raw.assumingMemoryBound(to: lgpt_host_local_model_v1.self)
    }
}

/// What came back from an HTTP exchange through the host.
struct HTTPOutcome {
    /// The host's status for the call: OK once a response arrived, whatever its HTTP status.
    var status: lgpt_status
    /// The HTTP status (0 when no response arrived).
    var httpStatus: Int
    /// Response headers, lower-cased names.
    var headers: [String: String]
    /// The host's error message when the call failed before a response.
    var errorMessage: String?
}

extension HostBridge {
    /// Performs an HTTP request through the host: `onHead` sees the status line and headers, `onBody` each body
    /// chunk as it arrives. Either returns false to abort the transfer.
    func http(
        _ call: UnsafePointer<lgpt_call>,
        method: String,
        url: String,
        headers: [String: String],
        body: String?,
        timeoutMilliseconds: Int,
        onHead: @escaping (Int, [String: String]) -> Bool,
        onBody: @escaping (UnsafeRawBufferPointer) -> Bool
    ) -> HTTPOutcome {
        var request: [String: JSON] = [
            "method": .string(method), "url": .string(url), "timeout_ms": .int(Int64(timeoutMilliseconds)),
            "headers": .object(headers.mapValues(JSON.string)),
        ]
        if let body { request["body"] = .string(body) }
        final class State {
            var httpStatus = 0
            var headers: [String: String] = [:]
            var error: String?
        }
        let state = State()
        let head = ClosureSink { bytes in
            guard let doc = try? JSON(parsing: Array(bytes)) else {
                state.error = "the host sent an unreadable response head"
                return false
            }
            if let e = doc["error"] {
                state.error = e["message"]?.string ?? "the request failed"
                return true
            }
            state.httpStatus = Int(doc["status"]?.int ?? 0)
            for (k, v) in doc["headers"]?.object ?? [:] { state.headers[k.lowercased()] = v.string ?? "" }
            return onHead(state.httpStatus, state.headers)
        }
        let bodySink = ClosureSink(onBody)
        let text = JSON.object(request).encoded
        let status = text.withCString { r in
            head.withSink { h in bodySink.withSink { b in table.pointee.http(context, call, r, strlen(r), h, b) } }
        }
        return HTTPOutcome(
            status: status,
            httpStatus: state.httpStatus,
            headers: state.headers,
            errorMessage: state.error
        )
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
