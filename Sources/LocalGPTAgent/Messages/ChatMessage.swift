//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc
public import LocalGPTCore

/// Who wrote a message. The JSONL session format writes tool results as `toolResult`.
public enum ChatRole: String, Sendable, Hashable {
    case system
    case user
    case assistant
    case tool
}

/// A tool call the model asked for.
public struct ToolCall: Sendable, Hashable {
    /// The provider's call id (`call_1`, `toolu_...`); results refer to it.
    public var id: String
    public var name: String
    /// The arguments as the model wrote them: a JSON object, normally.
    public var arguments: JSONValue

    public init(id: String, name: String, arguments: JSONValue) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    /// The arguments as compact JSON with sorted keys: equal calls give equal text.
    public var argumentsJSON: String {
        if case .string(let raw) = arguments { return raw }
        return arguments.encoded()
    }
}

/// Token counts a provider reported for one response.
public struct TokenUsage: Sendable, Hashable {
    public var input: Int
    public var output: Int
    public var cacheRead: Int
    public var cacheWrite: Int

    public init(input: Int = 0, output: Int = 0, cacheRead: Int = 0, cacheWrite: Int = 0) {
        self.input = input
        self.output = output
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite
    }

    public var total: Int { input + output }

    public static func + (a: TokenUsage, b: TokenUsage) -> TokenUsage {
        TokenUsage(
            input: a.input + b.input,
            output: a.output + b.output,
            cacheRead: a.cacheRead + b.cacheRead,
            cacheWrite: a.cacheWrite + b.cacheWrite
        )
    }
}

/// One message of a conversation, provider-neutral. What the session file stores and what the
/// context is assembled from.
public struct ChatMessage: Sendable, Hashable {
    public var role: ChatRole
    /// The text. For a tool result: the wrapped, sanitised output the model sees.
    public var content: String
    /// Assistant messages: the tools the model asked for, in order.
    public var toolCalls: [ToolCall]
    /// Tool results: the call this answers.
    public var toolCallID: String?
    /// Tool results: the tool's name.
    public var toolName: String?
    /// Tool results: whether the tool failed.
    public var isError: Bool
    /// Assistant messages: the provider plugin and the model that wrote it.
    public var provider: String?
    public var model: String?
    public var usage: TokenUsage?
    /// Assistant messages: why generation stopped (`end_turn`, `tool_use`, `cancelled`, ...).
    public var stopReason: String?
    /// Milliseconds since 1970.
    public var timestamp: Int64
    /// Marks housekeeping messages: `memory_flush` (the pre-compaction flush exchange), `summary`.
    public var meta: String?

    public init(
        role: ChatRole,
        content: String,
        toolCalls: [ToolCall] = [],
        toolCallID: String? = nil,
        toolName: String? = nil,
        isError: Bool = false,
        provider: String? = nil,
        model: String? = nil,
        usage: TokenUsage? = nil,
        stopReason: String? = nil,
        timestamp: Int64 = ChatMessage.now(),
        meta: String? = nil
    ) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.toolName = toolName
        self.isError = isError
        self.provider = provider
        self.model = model
        self.usage = usage
        self.stopReason = stopReason
        self.timestamp = timestamp
        self.meta = meta
    }

    /// Milliseconds since 1970, now.
    public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The estimate the context budget uses: UTF-8 bytes / 4 (the reference's rule), plus a little
    /// per message and per tool call for the framing.
    public var estimatedTokens: Int {
        var bytes = content.utf8.count + 16
        for call in toolCalls { bytes += call.name.utf8.count + call.argumentsJSON.utf8.count + 24 }
        return bytes / 4 + 1
    }
}

extension SecretMasker {
    /// `message` with the secrets in what the user, the model or a tool wrote masked: its text, its
    /// tool calls' names and arguments, a result's tool name; `message` itself when there is no
    /// secret to hide.
    public func mask(_ message: ChatMessage) -> ChatMessage {
        guard !isEmpty else { return message }
        var out = message
        out.content = mask(message.content)
        for i in out.toolCalls.indices {
            out.toolCalls[i].name = mask(out.toolCalls[i].name)
            out.toolCalls[i].arguments = mask(out.toolCalls[i].arguments)
        }
        out.toolName = out.toolName.map { mask($0) }
        return out
    }
}
