//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin

/// A tool call the model asked for, checked against the request's tools.
public struct ProviderToolCall: Sendable, Equatable {
    /// The provider's call id (`call_…`, `toolu_…`); echo it in the tool result message.
    public var id: String
    public var name: String
    /// The arguments object (`{}` when the model's arguments were unusable: see ``problem``).
    public var arguments: JSONValue
    /// Why the call cannot run as is: an unknown tool, arguments that are not a JSON object, or arguments that
    /// fail the tool's schema. Send it back to the model as the tool's error result so it can correct itself;
    /// nil when the call is valid.
    public var problem: String?

    public init(id: String, name: String, arguments: JSONValue, problem: String? = nil) {
        self.id = id
        self.name = name
        self.arguments = arguments
        self.problem = problem
    }
}

/// Token counts as the provider reported them (nil when it did not).
public struct ProviderUsage: Sendable, Equatable {
    public var inputTokens: Int?
    public var outputTokens: Int?

    public init(inputTokens: Int? = nil, outputTokens: Int? = nil) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }
}

/// What a streaming generation reports as it goes.
public enum ProviderEvent: Sendable, Equatable {
    /// Answer text, as it arrives.
    case text(String)
    /// Reasoning ("thinking") text, when the model exposes it.
    case reasoning(String)
    /// A complete tool call.
    case toolCall(ProviderToolCall)
    /// A progress line (the Claude CLI's own tool use: "[Bash: ls]").
    case progress(String)
    /// The model failed before answering and the next model of the chain is tried.
    case failover(from: String, to: String, reason: String)
}

/// The outcome of one generation.
public struct ProviderTurnResult: Sendable, Equatable {
    /// The model that answered, as routed: `local/qwen2.5-coder-0.5b-instruct`.
    public var model: String
    /// The model the server reported, if any (`gpt-4o-2024-08-06`).
    public var serverModel: String?
    /// The whole answer text.
    public var text: String
    public var reasoning: String
    public var toolCalls: [ProviderToolCall]
    /// `end_turn`, `tool_use`, `max_tokens`, ...
    public var stopReason: String
    public var usage: ProviderUsage
    /// Opaque provider state to pass back as `provider_session` next turn (the Claude CLI session id).
    public var providerSession: String?
    /// Models tried before this one, with why each failed.
    public var failovers: [(model: String, reason: String)]
    /// Milliseconds from the call to the first event, and to the end.
    public var firstEventMilliseconds: Double?
    public var totalMilliseconds: Double

    public static func == (a: Self, b: Self) -> Bool {
        a.model == b.model && a.serverModel == b.serverModel && a.text == b.text && a.reasoning == b.reasoning
            && a.toolCalls == b.toolCalls && a.stopReason == b.stopReason && a.usage == b.usage
            && a.providerSession == b.providerSession
            && a.failovers.map(\.model) == b.failovers.map(\.model)
    }
}

/// Why a generation failed. The message names the model and, for configuration problems, the config section to
/// add. It never holds a secret.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unknownModel, notConfigured, noPlugin, invalidRequest, permissionDenied, notFound, rateLimited,
                unavailable, timeout, cancelled, failed
        }
        private let base: Base
        public var description: String { base.rawValue }
        /// The model name matches no prefix, alias or bare-name rule.
        public static let unknownModel = Code(base: .unknownModel)
        /// The provider needs configuration (an API key); the message shows the TOML to add.
        public static let notConfigured = Code(base: .notConfigured)
        /// No loaded plugin serves the model's prefix.
        public static let noPlugin = Code(base: .noPlugin)
        /// The request was malformed, or the provider rejected it (HTTP 400).
        public static let invalidRequest = Code(base: .invalidRequest)
        /// The key was rejected (401/403) or a permission is not granted.
        public static let permissionDenied = Code(base: .permissionDenied)
        /// The model does not exist at the provider, or a local model or binary is not installed.
        public static let notFound = Code(base: .notFound)
        /// HTTP 429; see ``ProviderError/retryAfterMilliseconds``.
        public static let rateLimited = Code(base: .rateLimited)
        /// A 5xx, a connection failure or a stream cut short.
        public static let unavailable = Code(base: .unavailable)
        public static let timeout = Code(base: .timeout)
        public static let cancelled = Code(base: .cancelled)
        /// Anything else.
        public static let failed = Code(base: .failed)
    }

    public var code: Code
    public var message: String
    /// The model this error is about.
    public var model: String?
    /// The plugin's status (`LGPT_ERR_*`), when a plugin reported the error.
    public var status: Int32?
    public var retryAfterMilliseconds: Int?
    /// Whether events (text, tool calls) reached the caller before the failure: the partial answer stands and
    /// no failover happened.
    public var partial: Bool

    public var description: String { message }

    public init(
        code: Code,
        message: String,
        model: String? = nil,
        status: Int32? = nil,
        retryAfterMilliseconds: Int? = nil,
        partial: Bool = false
    ) {
        self.code = code
        self.message = message
        self.model = model
        self.status = status
        self.retryAfterMilliseconds = retryAfterMilliseconds
        self.partial = partial
    }

    /// Whether the next model of the chain should be tried: rate limits, 5xx, connection errors, timeouts.
    public var allowsFailover: Bool {
        !partial && (code == .rateLimited || code == .unavailable || code == .timeout)
    }

    /// The code for a plugin status.
    static func code(forStatus status: Int32) -> Code {
        switch status {
        case LGPT_ERR_RATE_LIMITED: return .rateLimited
        case LGPT_ERR_IO: return .unavailable
        case LGPT_ERR_TIMEOUT: return .timeout
        case LGPT_ERR_CANCELLED: return .cancelled
        case LGPT_ERR_INVALID_ARGUMENT: return .invalidRequest
        case LGPT_ERR_PERMISSION_DENIED: return .permissionDenied
        case LGPT_ERR_NOT_FOUND: return .notFound
        default: return .failed
        }
    }
}
