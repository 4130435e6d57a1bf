//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore

/// The agent's settings, from config.toml. Every key, its type and default:
///
/// - `agent.default_model` (string): the model.
/// - `agent.context_window` (int, default: what the provider reports, else 128000): tokens.
/// - `agent.reserve_tokens` (int, default 8000, at most a quarter of the window): kept free for the reply.
/// - `agent.max_tokens` (int, optional): the most tokens per reply.
/// - `agent.temperature` (float, optional).
/// - `agent.max_tool_rounds` (int, 20), `agent.max_tool_repeats` (int, 3), `agent.max_tool_errors` (int, 3).
/// - `agent.workspace_file_max_chars` (int, 8000), `agent.memory_file_max_chars` (int, 12000),
///   `agent.workspace_context_max_chars` (int, 40000): caps of the workspace files in the context.
/// - `memory.session_max_messages` (int, 15): messages `/new` saves to memory.
/// - `tools.tool_output_max_chars` (int, 50000; 0 = no cap), `tools.require_approval` (strings),
///   `tools.disabled` (strings: tools the model never gets).
public struct AgentConfiguration: Sendable {
    public var model: String
    /// nil: ask the provider, else 128000.
    public var contextWindow: Int?
    public var reserveTokens: Int
    public var maxTokens: Int?
    public var temperature: Double?
    public var toolLoop: ToolLoopPolicy
    public var toolOutputMaxCharacters: Int
    public var requireApproval: Set<String>
    public var disabledTools: Set<String>
    public var workspaceFileMaxCharacters: Int
    public var memoryFileMaxCharacters: Int
    public var workspaceContextMaxCharacters: Int
    public var newSessionMemoryMessages: Int
    /// Whether to ask providers to stream.
    public var stream: Bool

    public init(
        model: String,
        contextWindow: Int? = nil,
        reserveTokens: Int = 8000,
        maxTokens: Int? = nil,
        temperature: Double? = nil,
        toolLoop: ToolLoopPolicy = ToolLoopPolicy(),
        toolOutputMaxCharacters: Int = ToolOutputSanitizer.defaultMaxCharacters,
        requireApproval: Set<String> = [],
        disabledTools: Set<String> = [],
        workspaceFileMaxCharacters: Int = 8000,
        memoryFileMaxCharacters: Int = 12000,
        workspaceContextMaxCharacters: Int = 40000,
        newSessionMemoryMessages: Int = 15,
        stream: Bool = true
    ) {
        self.model = model
        self.contextWindow = contextWindow
        self.reserveTokens = reserveTokens
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.toolLoop = toolLoop
        self.toolOutputMaxCharacters = toolOutputMaxCharacters
        self.requireApproval = requireApproval
        self.disabledTools = disabledTools
        self.workspaceFileMaxCharacters = workspaceFileMaxCharacters
        self.memoryFileMaxCharacters = memoryFileMaxCharacters
        self.workspaceContextMaxCharacters = workspaceContextMaxCharacters
        self.newSessionMemoryMessages = newSessionMemoryMessages
        self.stream = stream
    }

    /// Reads the keys listed above; `model` overrides `agent.default_model`.
    public init(configuration c: Configuration, model: String? = nil) {
        func int(_ key: String) -> Int? { c.value(at: key)?.intValue.map { Int($0) } }
        self.init(
            model: model ?? c.defaultModel,
            contextWindow: int("agent.context_window").flatMap { $0 > 0 ? $0 : nil },
            reserveTokens: int("agent.reserve_tokens") ?? 8000,
            maxTokens: int("agent.max_tokens"),
            temperature: c.value(at: "agent.temperature")?.doubleValue,
            toolLoop: ToolLoopPolicy(
                maxRounds: max(1, int("agent.max_tool_rounds") ?? 20),
                maxIdenticalCalls: max(2, int("agent.max_tool_repeats") ?? 3),
                maxConsecutiveFailures: max(1, int("agent.max_tool_errors") ?? 3)
            ),
            toolOutputMaxCharacters: int("tools.tool_output_max_chars") ?? ToolOutputSanitizer.defaultMaxCharacters,
            requireApproval: Set(c.strings("tools.require_approval")),
            disabledTools: Set(c.strings("tools.disabled")),
            workspaceFileMaxCharacters: int("agent.workspace_file_max_chars") ?? 8000,
            memoryFileMaxCharacters: int("agent.memory_file_max_chars") ?? 12000,
            workspaceContextMaxCharacters: int("agent.workspace_context_max_chars") ?? 40000,
            newSessionMemoryMessages: int("memory.session_max_messages") ?? 15
        )
    }
}

/// What a turn reports while it runs.
public enum AgentEvent: Sendable, Equatable {
    /// Reply text to show (never `NO_REPLY`).
    case text(String)
    /// A tool is about to run; `detail` is a short hint (a path, the start of a command, a query).
    case toolStarted(name: String, detail: String)
    /// A tool finished; `error` holds the failure message.
    case toolFinished(name: String, error: String?)
    /// Something the user should know: suspicious tool output, a blocked tool, a skipped compaction.
    case warning(String)
    /// A provider's own progress note.
    case progress(String)
    case memoryFlushStarted
    case memoryFlushFinished(succeeded: Bool)
    case compactionStarted(reason: String)
    case compactionFinished(tokensBefore: Int, tokensAfter: Int)
}

/// Asked before a tool listed in `tools.require_approval` runs.
public struct ToolApprovalRequest: Sendable, Equatable {
    public var tool: String
    /// The short form of the progress line (first line, 57 characters).
    public var detail: String
    public var arguments: String
    /// What the user approves, whole: the main argument (the command, the path...) with every line,
    /// else the arguments JSON; control characters shown as U+FFFD so that nothing is hidden.
    public var fullDetail: String = ""
}

/// The caller's side of a turn: where events go, and who approves tools. Both are called on the turn's
/// thread, one at a time.
public struct TurnHooks: Sendable {
    public var onEvent: @Sendable (AgentEvent) -> Void
    public var approve: @Sendable (ToolApprovalRequest) -> Bool

    public init(
        onEvent: @escaping @Sendable (AgentEvent) -> Void = { _ in },
        approve: @escaping @Sendable (ToolApprovalRequest) -> Bool = { _ in false }
    ) {
        self.onEvent = onEvent
        self.approve = approve
    }
}

/// How a turn ended.
public struct TurnResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The model answered.
        case answered
        /// The model answered `NO_REPLY`: nothing is shown.
        case silent
        /// The tool loop stopped the turn (repeated call, round limit); `text` explains.
        case stopped(TurnStateMachine.Stop)
        /// The user cancelled; the session holds what was done so far.
        case cancelled
    }

    public var outcome: Outcome
    /// What the user sees: the answer, the explanation, or the partial text of a cancelled turn.
    public var text: String
    /// Tool calls that ran.
    public var toolCalls: Int
    public var usage: TokenUsage
    public var model: String
}

/// Why a turn or a session operation failed.
public struct AgentError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        private enum Base: Hashable, Sendable { case busy, provider, session, policy, invalid }
        private let base: Base
        /// Another turn is running.
        public static let busy = Code(base: .busy)
        /// The provider failed (not configured, overflow after compaction, ...).
        public static let provider = Code(base: .provider)
        /// The session file could not be written or read.
        public static let session = Code(base: .session)
        /// `security.strict_policy` refused a tampered or suspicious LocalGPT.md.
        public static let policy = Code(base: .policy)
        public static let invalid = Code(base: .invalid)
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }
}
