// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// Calls from the tools plugin into the host: exec, http, the files extension, config. The plugin never
// touches the filesystem, the network or processes itself.

import CLocalGPTPlugin
import Foundation

/// Collects what the host writes into a plugin-owned sink (rule R4: the receiver copies).
final class ByteCollector {
    var bytes: [UInt8] = []
    /// Writes beyond this many bytes stop the producer (the sink answers CANCELLED).
    let limit: Int
    private(set) var overflowed = false

    init(limit: Int = 64 << 20) {
        self.limit = limit
    }

    func append(_ pointer: UnsafePointer<CChar>?, _ count: Int) -> lgpt_status {
        guard count > 0 else { return LGPT_OK }
        guard let pointer else { return LGPT_ERR_INVALID_ARGUMENT }
        let room = limit - bytes.count
        if count > room {
            if room > 0 {
                bytes.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: room))
            }
            overflowed = true
            return LGPT_ERR_CANCELLED
        }
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: count))
        return LGPT_OK
    }

    /// Runs `body` with a sink that appends here; the sink is valid only inside `body`.
    func withSink<R>(_ body: (UnsafePointer<lgpt_sink>) -> R) -> R {
        var sink = lgpt_sink(
            struct_size: UInt32(MemoryLayout<lgpt_sink>.size),
            flags: 0,
            ctx: Unmanaged.passUnretained(self).toOpaque(),
            write: { ctx, pointer, count in
                guard let ctx else { return LGPT_ERR_INVALID_ARGUMENT }
                return Unmanaged<ByteCollector>.fromOpaque(ctx).takeUnretainedValue().append(pointer, count)
            }
        )
        return withExtendedLifetime(self) { withUnsafePointer(to: &sink) { body($0) } }
    }
}

/// The JSON helpers the plugin uses (Foundation's serializer; no shared state between threads).
enum JSON {
    static func object(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) as? [String: Any]
    }

    static func value(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    static func encode(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
    }

    /// The message of an error document `{"error": {"message": ...}}`.
    static func errorMessage(_ bytes: [UInt8]) -> String? {
        guard let doc = object(bytes), let error = doc["error"] as? [String: Any] else { return nil }
        return error["message"] as? String
    }

    static func int(_ value: Any?) -> Int? {
        if let i = value as? Int { return i }
        return (value as? NSNumber)?.intValue
    }
}

/// One tool call's view of the host: its service table and the call being served.
struct HostBridge {
    let host: UnsafePointer<lgpt_host_v1>
    let call: UnsafePointer<lgpt_call>

    /// Whether the host cancelled this call.
    var isCancelled: Bool { host.pointee.is_cancelled(host.pointee.host_ctx, call) != 0 }

    /// Runs a command through the host's sandboxed exec service.
    ///
    /// - Throws: ``ToolFailure`` with the host's status and message.
    func exec(_ request: [String: Any]) throws(ToolFailure) -> [String: Any] {
        let body = JSON.encode(request)
        let out = ByteCollector()
        let status = body.withUnsafeBytes { raw in
            out.withSink { sink in
                host.pointee.exec(
                    host.pointee.host_ctx,
                    call,
                    raw.baseAddress!.assumingMemoryBound(to: CChar.self),
                    raw.count,
                    sink
                )
            }
        }
        return try reply(status, out, service: "exec")
    }

    /// The files extension, when the host offers it.
    var files: UnsafePointer<lgpt_host_files_v1>? {
        guard let raw = host.pointee.get_extension(host.pointee.host_ctx, LGPT_HOST_FILES_V1) else { return nil }
        let table = raw.assumingMemoryBound(to: lgpt_host_files_v1.self)
        guard Int(table.pointee.struct_size) >= MemoryLayout<lgpt_host_files_v1>.size else { return nil }
        return table
    }

    enum FileOperation { case read, write, edit }

    /// Reads, writes or edits a file through `lgpt.host.files/1`.
    ///
    /// - Throws: ``ToolFailure`` with the host's status and message, or UNSUPPORTED without the extension.
    func file(_ operation: FileOperation, _ request: [String: Any]) throws(ToolFailure) -> [String: Any] {
        guard let table = files else {
            throw ToolFailure(status: LGPT_ERR_UNSUPPORTED, message: "this host offers no file service")
        }
        let function: lgpt_host_files_fn
        switch operation {
        case .read: function = table.pointee.read
        case .write: function = table.pointee.write
        case .edit: function = table.pointee.edit
        }
        let body = JSON.encode(request)
        let out = ByteCollector()
        let status = body.withUnsafeBytes { raw in
            out.withSink { sink in
                function(
                    host.pointee.host_ctx,
                    call,
                    raw.baseAddress!.assumingMemoryBound(to: CChar.self),
                    raw.count,
                    sink
                )
            }
        }
        return try reply(status, out, service: "files")
    }

    /// An HTTP exchange through the host: the head document and up to `bodyLimit` bytes of the body.
    ///
    /// - Throws: ``ToolFailure`` when the host refuses or the exchange fails before a response.
    func http(
        _ request: [String: Any],
        bodyLimit: Int
    ) throws(ToolFailure) -> (
        head: [String: Any], body: [UInt8], truncated: Bool
    ) {
        let payload = JSON.encode(request)
        let head = ByteCollector(limit: 1 << 20)
        let body = ByteCollector(limit: bodyLimit)
        let status = payload.withUnsafeBytes { raw in
            head.withSink { headSink in
                body.withSink { bodySink in
                    host.pointee.http(
                        host.pointee.host_ctx,
                        call,
                        raw.baseAddress!.assumingMemoryBound(to: CChar.self),
                        raw.count,
                        headSink,
                        bodySink
                    )
                }
            }
        }
        if status != LGPT_OK && !(status == LGPT_ERR_CANCELLED && body.overflowed) {
            let message = JSON.errorMessage(head.bytes) ?? "the request failed (status \(status))"
            throw ToolFailure(status: status, message: message)
        }
        guard let doc = JSON.object(head.bytes) else {
            throw ToolFailure(status: LGPT_ERR_IO, message: "the host sent no response head")
        }
        return (doc, body.bytes, body.overflowed)
    }

    /// A config value (JSON) the plugin was granted, or nil.
    func config(_ key: String) -> Any? {
        let out = ByteCollector(limit: 1 << 20)
        let status = key.withCString { k in
            out.withSink { sink in host.pointee.config_get(host.pointee.host_ctx, k, strlen(k), sink) }
        }
        guard status == LGPT_OK else { return nil }
        return JSON.value(out.bytes)
    }

    private func reply(
        _ status: lgpt_status,
        _ out: ByteCollector,
        service: String
    ) throws(ToolFailure)
        -> [String: Any]
    {
        guard status == LGPT_OK else {
            throw ToolFailure(status: status, message: JSON.errorMessage(out.bytes) ?? "\(service) failed (\(status))")
        }
        guard let doc = JSON.object(out.bytes) else {
            throw ToolFailure(status: LGPT_ERR_IO, message: "\(service): the host's reply is not a JSON object")
        }
        return doc
    }
}
