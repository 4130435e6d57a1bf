//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore

/// One generation request, provider-neutral. It becomes the `generate` request document of the plugin
/// ABI (docs/AGENT.md, "Provider requests"):
///
/// ```json
/// {"model": "...", "stream": true, "max_tokens": 4096,
///  "messages": [{"role": "system", "content": "..."},
///               {"role": "user", "content": "..."},
///               {"role": "assistant", "content": "...", "tool_calls": [{"id": "c1", "name": "read_file",
///                "arguments": {"path": "a.md"}}]},
///               {"role": "tool", "tool_call_id": "c1", "name": "read_file", "content": "<tool_output>..."}],
///  "tools": [{"name": "read_file", "description": "...", "parameters": {...}}]}
/// ```
///
/// Exactly one `system` message comes first: the system prompt, the workspace context and any
/// compaction summary are merged into it, so every provider receives all of them (the reference lost
/// the system prompt on Anthropic after a compaction).
public struct ModelRequest: Sendable {
    public var model: String
    public var messages: [JSONValue]
    public var tools: [JSONValue]
    public var maxTokens: Int?
    public var temperature: Double?
    public var stream: Bool
    /// The agent's session id (a stateful provider such as the Claude CLI derives its session from it).
    public var sessionID: String?
    /// Opaque provider state from the previous `done` event of this session.
    public var providerSession: String?

    public init(
        model: String,
        messages: [JSONValue],
        tools: [JSONValue] = [],
        maxTokens: Int? = nil,
        temperature: Double? = nil,
        stream: Bool = true,
        sessionID: String? = nil,
        providerSession: String? = nil
    ) {
        self.model = model
        self.messages = messages
        self.tools = tools
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.stream = stream
        self.sessionID = sessionID
        self.providerSession = providerSession
    }

    /// The request document.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "model": .string(model), "messages": .array(messages), "stream": .bool(stream),
        ]
        if !tools.isEmpty { o["tools"] = .array(tools) }
        if let maxTokens { o["max_tokens"] = .int(Int64(maxTokens)) }
        if let temperature { o["temperature"] = .double(temperature) }
        if let sessionID { o["session_id"] = .string(sessionID) }
        if let providerSession { o["provider_session"] = .string(providerSession) }
        return .object(o)
    }
}

/// One event of a generation, as the provider plugin wrote it.
public enum ModelEvent: Sendable, Equatable {
    case delta(String)
    case toolCall(ToolCall)
    /// The end of the reply; `providerSession` is opaque state to send back next time.
    case done(stopReason: String?, usage: TokenUsage?, providerSession: String?)
    case error(code: String, message: String)
    /// A provider's own progress note (a CLI provider running its own tools); shown, never stored.
    case progress(String)

    /// Parses one ABI event document; nil for an unknown or malformed event (ignored).
    public init?(json text: String) {
        guard let doc = try? JSONValue(parsing: text) else { return nil }
        self.init(document: doc)
    }

    public init?(document doc: JSONValue) {
        switch doc["type"]?.stringValue {
        case "delta":
            self = .delta(doc["text"]?.stringValue ?? "")
        case "tool_call":
            guard let name = doc["name"]?.stringValue else { return nil }
            var arguments = doc["arguments"] ?? .object([:])
            if case .string(let raw) = arguments {
                arguments = raw.isEmpty ? .object([:]) : ((try? JSONValue(parsing: raw)) ?? .string(raw))
            }
            let id = doc["id"]?.stringValue ?? ""
            self = .toolCall(ToolCall(id: id, name: name, arguments: arguments))
        case "done":
            var usage: TokenUsage? = nil
            if let u = doc["usage"] {
                usage = TokenUsage(
                    input: Int(u["input_tokens"]?.intValue ?? 0),
                    output: Int(u["output_tokens"]?.intValue ?? 0),
                    cacheRead: Int(u["cache_read_tokens"]?.intValue ?? 0),
                    cacheWrite: Int(u["cache_write_tokens"]?.intValue ?? 0)
                )
            }
            self = .done(
                stopReason: doc["stop_reason"]?.stringValue,
                usage: usage,
                providerSession: doc["provider_session"]?.stringValue
            )
        case "progress":
            self = .progress(doc["text"]?.stringValue ?? "")
        case "error":
            self = .error(code: doc["code"]?.stringValue ?? "error", message: doc["message"]?.stringValue ?? "")
        default:
            return nil
        }
    }
}

/// What answered a request.
public struct ModelResponseInfo: Sendable, Equatable {
    /// The provider plugin id.
    public var provider: String
    /// The model that answered (after aliases and failover).
    public var model: String

    public init(provider: String, model: String) {
        self.provider = provider
        self.model = model
    }
}

/// Why a generation failed.
public struct ModelProviderError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        private enum Base: Hashable, Sendable {
            case notConfigured, contextOverflow, rateLimited, cancelled, failed
        }
        private let base: Base
        /// No provider serves the model; the message names the config section to add.
        public static let notConfigured = Code(base: .notConfigured)
        /// The request did not fit the model's context window.
        public static let contextOverflow = Code(base: .contextOverflow)
        public static let rateLimited = Code(base: .rateLimited)
        public static let cancelled = Code(base: .cancelled)
        public static let failed = Code(base: .failed)
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// Whether an error text from a provider says the context window overflowed.
    public static func isOverflow(code: String, message: String) -> Bool {
        let c = code.lowercased()
        if c.contains("context") || c == "overflow" || c.contains("too_long") { return true }
        let m = message.lowercased()
        return m.contains("context length") || m.contains("context window") || m.contains("maximum context")
            || m.contains("context_length") || m.contains("too many tokens") || m.contains("exceeds the context")
            || m.contains("prompt is too long") || m.contains("exceeds the available context size")
    }
}

/// Generates replies: the agent's view of the provider layer (routing, aliases, failover belong
/// behind it). Implementations block the calling thread; the agent calls them from its own thread.
///
/// The providers issue owns the real router; ``PluginModelProvider`` is the direct route through the
/// plugin host (longest model prefix) used until it lands, and by tests.
public protocol ModelProvider: Sendable {
    /// Streams a reply: `onEvent` gets every event in order and returns false to cancel.
    ///
    /// - Throws: ``ModelProviderError``; `.cancelled` after ``cancel(callID:)`` or a false from `onEvent`.
    func generate(
        _ request: ModelRequest,
        callID: UInt64,
        onEvent: (ModelEvent) -> Bool
    ) throws(ModelProviderError) -> ModelResponseInfo

    /// Asks the generation running under `callID` to stop.
    func cancel(callID: UInt64)

    /// A new call id, unique in the process.
    func makeCallID() -> UInt64

    /// The context window of a model in tokens, when the provider knows it.
    func contextWindow(for model: String) -> Int?

    /// The models (or model prefixes) this provider layer serves, for `/models`.
    func availableModels() -> [String]
}

/// The direct route: the provider plugin whose longest model prefix matches, through
/// ``PluginHost/generate(plugin:request:callID:onEvent:)``.
public struct PluginModelProvider: ModelProvider {
    public let host: PluginHost

    public init(host: PluginHost) {
        self.host = host
    }

    public func generate(
        _ request: ModelRequest,
        callID: UInt64,
        onEvent: (ModelEvent) -> Bool
    ) throws(ModelProviderError) -> ModelResponseInfo {
        guard let (plugin, _) = host.provider(forModel: request.model) else {
            throw ModelProviderError(
                code: .notConfigured,
                message: "no provider plugin serves the model \"\(request.model)\"; "
                    + "set agent.default_model in config.toml or install a provider plugin (`localgpt plugin list`)"
            )
        }
        var overflow: String? = nil
        let result: Result<Void, ToolCallError> = withoutActuallyEscaping(onEvent) { onEvent in
            let box = EventBox(onEvent)
            do throws(ToolCallError) {
                try host.generate(plugin: plugin, request: request.json.encoded(), callID: callID) { text in
                    guard let event = ModelEvent(json: text) else { return true }
                    if case .error(let code, let message) = event,
                        ModelProviderError.isOverflow(code: code, message: message)
                    {
                        box.overflow = message
                    }
                    return box.onEvent(event)
                }
                return .success(())
            } catch {
                overflow = box.overflow
                return .failure(error)
            }
        }
        if case .failure(let error) = result {
            if error.code == .cancelled || host.isCancelled(callID: callID) {
                throw ModelProviderError(code: .cancelled, message: "generation was cancelled")
            }
            if let overflow { throw ModelProviderError(code: .contextOverflow, message: overflow) }
            if ModelProviderError.isOverflow(code: "", message: error.message) {
                throw ModelProviderError(code: .contextOverflow, message: error.message)
            }
            if error.status == -10 { throw ModelProviderError(code: .rateLimited, message: error.message) }
            throw ModelProviderError(code: .failed, message: error.message)
        }
        return ModelResponseInfo(provider: plugin.id, model: request.model)
    }

    public func cancel(callID: UInt64) { host.cancel(callID: callID) }

    public func makeCallID() -> UInt64 { host.makeCallID() }

    public func contextWindow(for model: String) -> Int? { nil }

    public func availableModels() -> [String] {
        host.plugins.flatMap { p in p.manifest.providers.flatMap { $0.modelPrefixes.map { $0 + "…" } } }
    }
}

/// Carries the consumer closure into the host's escaping event callback (used synchronously only).
private final class EventBox: @unchecked Sendable {
    let onEvent: (ModelEvent) -> Bool
    var overflow: String? = nil
    init(_ onEvent: @escaping (ModelEvent) -> Bool) { self.onEvent = onEvent }
}
