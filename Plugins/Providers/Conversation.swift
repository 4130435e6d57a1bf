// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The provider-neutral request a `generate` call receives, and the events a provider writes back.

import CLocalGPTPlugin

/// A tool call in a conversation.
struct ToolCall: Equatable {
    var id: String
    var name: String
    var arguments: JSON
}

/// One message of the conversation, as the host sends it (docs/PLUGIN-ABI.md §3).
struct Message {
    enum Role: String { case system, user, assistant, tool }
    var role: Role
    var content: String
    /// Assistant tool calls.
    var toolCalls: [ToolCall] = []
    /// For `tool` messages: the call this answers, the tool's name, and whether it failed.
    var toolCallID: String?
    var toolName: String?
    var isError = false
}

/// A tool the model may call.
struct ToolSpec {
    var name: String
    var description: String
    var parameters: JSON
}

/// A `generate` request.
struct GenerateRequest {
    /// The routed model name with its provider prefix: `openai/gpt-4o`.
    var model: String
    var messages: [Message]
    var tools: [ToolSpec]
    var maxTokens: Int?
    var temperature: Double?
    var stream: Bool
    /// The agent's session id (the Claude CLI session is derived from it).
    var sessionID: String?
    /// Opaque state from the previous turn's `done` event (the Claude CLI session id).
    var providerSession: String?
    /// `"auto"` (default), `"none"` or `"required"`.
    var toolChoice: String?

    /// Parses the request JSON.
    ///
    /// - Throws: ``ProviderFailure`` (`invalid_argument`) naming what is wrong.
    init(json: JSON) throws(ProviderFailure) {
        guard case .object(let o) = json else { throw .invalid("the request must be a JSON object") }
        guard let model = o["model"]?.string, !model.isEmpty else { throw .invalid("the request has no \"model\"") }
        self.model = model
        guard let list = o["messages"]?.array else { throw .invalid("the request has no \"messages\" array") }
        var messages: [Message] = []
        for (index, m) in list.enumerated() {
            guard let roleText = m["role"]?.string, let role = Message.Role(rawValue: roleText) else {
                throw .invalid("messages[\(index)]: role must be system, user, assistant or tool")
            }
            var message = Message(role: role, content: Self.text(of: m["content"]))
            for (ci, c) in (m["tool_calls"]?.array ?? []).enumerated() {
                guard let name = c["name"]?.string ?? c["function"]?["name"]?.string else {
                    throw .invalid("messages[\(index)].tool_calls[\(ci)] has no name")
                }
                var arguments = c["arguments"] ?? c["function"]?["arguments"] ?? .object([:])
                if case .string(let s) = arguments { arguments = (try? JSON(parsing: s)) ?? .object([:]) }
                message.toolCalls.append(
                    ToolCall(id: c["id"]?.string ?? "call_\(index)_\(ci)", name: name, arguments: arguments)
                )
            }
            message.toolCallID = m["tool_call_id"]?.string
            message.toolName = m["name"]?.string
            message.isError = m["is_error"]?.bool ?? false
            messages.append(message)
        }
        self.messages = messages
        var tools: [ToolSpec] = []
        for (index, t) in (o["tools"]?.array ?? []).enumerated() {
            let f = t["function"] ?? t
            guard let name = f["name"]?.string, !name.isEmpty else { throw .invalid("tools[\(index)] has no name") }
            tools.append(
                ToolSpec(
                    name: name,
                    description: f["description"]?.string ?? "",
                    parameters: f["parameters"] ?? f["input_schema"] ?? ["type": "object", "properties": [:]]
                )
            )
        }
        self.tools = tools
        maxTokens = o["max_tokens"]?.int.map { Int($0) }
        temperature = o["temperature"]?.double
        stream = o["stream"]?.bool ?? true
        sessionID = o["session_id"]?.string
        providerSession = o["provider_session"]?.string
        toolChoice = o["tool_choice"]?.string
    }

    /// Text content: a string, or the text parts of an array of content parts.
    private static func text(of content: JSON?) -> String {
        switch content {
        case .string(let s)?: return s
        case .array(let parts)?:
            return parts.compactMap { $0.string ?? $0["text"]?.string }.joined(separator: "\n")
        default: return ""
        }
    }

    /// The system messages joined, in order (every provider receives all of them: the compaction summary is a
    /// system-role entry too).
    var systemPrompt: String {
        messages.filter { $0.role == .system }.map(\.content).filter { !$0.isEmpty }.joined(separator: "\n\n")
    }

    /// The model name without its provider prefix (`openai/gpt-4o` -> `gpt-4o`).
    var modelName: String {
        guard let slash = model.firstIndex(of: "/") else { return model }
        return String(model[model.index(after: slash)...])
    }

    /// The provider prefix, lower-cased (`openai`).
    var providerName: String {
        guard let slash = model.firstIndex(of: "/") else { return "" }
        return model[..<slash].lowercased()
    }
}

/// Why a generation failed: an `lgpt_status` plus a message for the user. Messages never hold secrets.
struct ProviderFailure: Error {
    var status: lgpt_status
    var code: String
    var message: String
    var retryAfterMilliseconds: Int?
    var httpStatus: Int?

    static func invalid(_ m: String) -> ProviderFailure {
        ProviderFailure(status: LGPT_ERR_INVALID_ARGUMENT, code: "invalid_argument", message: m)
    }
    static func io(_ m: String) -> ProviderFailure { ProviderFailure(status: LGPT_ERR_IO, code: "io", message: m) }
    static func notFound(_ m: String) -> ProviderFailure {
        ProviderFailure(status: LGPT_ERR_NOT_FOUND, code: "not_found", message: m)
    }
    static func cancelled(_ m: String = "the generation was cancelled") -> ProviderFailure {
        ProviderFailure(status: LGPT_ERR_CANCELLED, code: "cancelled", message: m)
    }
    static func denied(_ m: String) -> ProviderFailure {
        ProviderFailure(status: LGPT_ERR_PERMISSION_DENIED, code: "permission_denied", message: m)
    }
    static func timeout(_ m: String) -> ProviderFailure {
        ProviderFailure(status: LGPT_ERR_TIMEOUT, code: "timeout", message: m)
    }
    static func internalError(_ m: String) -> ProviderFailure {
        ProviderFailure(status: LGPT_ERR_INTERNAL, code: "internal", message: m)
    }

    /// The failure for a host status, keeping the host's message.
    static func fromHost(_ status: lgpt_status, _ message: String) -> ProviderFailure {
        switch status {
        case LGPT_ERR_CANCELLED: return .cancelled(message)
        case LGPT_ERR_TIMEOUT: return .timeout(message)
        case LGPT_ERR_PERMISSION_DENIED: return .denied(message)
        case LGPT_ERR_NOT_FOUND: return .notFound(message)
        case LGPT_ERR_INVALID_ARGUMENT: return .invalid(message)
        case LGPT_ERR_RATE_LIMITED:
            return ProviderFailure(status: status, code: "rate_limited", message: message)
        default: return .io(message)
        }
    }
}

/// Writes events to the host's event sink (rule R4: one complete JSON event per write) and remembers whether
/// the host asked to stop.
final class EventEmitter {
    private let sink: UnsafePointer<lgpt_sink>
    /// The first non-OK status a write returned (the host cancelled).
    private(set) var stopStatus: lgpt_status = LGPT_OK
    private(set) var emittedText = false
    private(set) var emittedAnything = false

    init(sink: UnsafePointer<lgpt_sink>) {
        self.sink = sink
    }

    var stopped: Bool { stopStatus != LGPT_OK }

    /// Writes one event; false when the host asked to stop.
    @discardableResult
    func emit(_ event: JSON) -> Bool {
        guard !stopped else { return false }
        var text = event.encoded
        let status = text.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { sink.pointee.write(sink.pointee.ctx, $0.baseAddress, $0.count) }
        }
        emittedAnything = true
        if status != LGPT_OK { stopStatus = status }
        return status == LGPT_OK
    }

    @discardableResult
    func delta(_ text: String) -> Bool {
        guard !text.isEmpty else { return !stopped }
        emittedText = true
        return emit(["type": "delta", "text": .string(text)])
    }

    @discardableResult
    func toolCall(_ call: ToolCall, extra: [String: JSON] = [:]) -> Bool {
        var event: [String: JSON] = [
            "type": "tool_call", "id": .string(call.id), "name": .string(call.name), "arguments": call.arguments,
        ]
        for (k, v) in extra { event[k] = v }
        return emit(.object(event))
    }

    @discardableResult
    func done(stopReason: String, inputTokens: Int?, outputTokens: Int?, extra: [String: JSON] = [:]) -> Bool {
        var usage: [String: JSON] = [:]
        if let inputTokens { usage["input_tokens"] = .int(Int64(inputTokens)) }
        if let outputTokens { usage["output_tokens"] = .int(Int64(outputTokens)) }
        var event: [String: JSON] = ["type": "done", "stop_reason": .string(stopReason), "usage": .object(usage)]
        for (k, v) in extra { event[k] = v }
        return emit(.object(event))
    }

    /// Writes the error event for a failure (ignored when the host already asked to stop).
    func error(_ failure: ProviderFailure) {
        var event: [String: JSON] = [
            "type": "error", "code": .string(failure.code), "message": .string(failure.message),
            "status": .int(Int64(failure.status)),
        ]
        if let r = failure.retryAfterMilliseconds { event["retry_after_ms"] = .int(Int64(r)) }
        if let h = failure.httpStatus { event["http_status"] = .int(Int64(h)) }
        emit(.object(event))
    }
}

/// Everything one `generate` call works with.
struct CallContext {
    let host: HostBridge
    let call: UnsafePointer<lgpt_call>
    let events: EventEmitter
    let settings: Settings

    var isCancelled: Bool { events.stopped || host.isCancelled(call) }
}

/// Limits shared by every provider.
struct Settings {
    /// The most response bytes one generation reads (a 50 MB body is refused).
    var maxResponseBytes = 16 << 20
    /// The limit on one HTTP exchange, in milliseconds (the host caps it at 600000).
    var timeoutMilliseconds = 600_000

    init(host: HostBridge) {
        if let m = host.config("providers.max_response_bytes")?.int, m > 0 { maxResponseBytes = Int(m) }
        if let t = host.config("providers.timeout_ms")?.int, t > 0 { timeoutMilliseconds = Int(t) }
    }
}
