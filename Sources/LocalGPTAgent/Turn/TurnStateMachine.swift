//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Limits of the tool loop.
public struct ToolLoopPolicy: Sendable, Equatable {
    /// Tool rounds (model replies with tool calls) allowed in one turn.
    public var maxRounds: Int
    /// The same tool with identical arguments this many times in one turn ends the turn.
    public var maxIdenticalCalls: Int
    /// This many consecutive failures of one tool block it for the rest of the session.
    public var maxConsecutiveFailures: Int

    public init(maxRounds: Int = 20, maxIdenticalCalls: Int = 3, maxConsecutiveFailures: Int = 3) {
        self.maxRounds = maxRounds
        self.maxIdenticalCalls = maxIdenticalCalls
        self.maxConsecutiveFailures = maxConsecutiveFailures
    }
}

/// Per-session tool health: consecutive failures, and the tools blocked because of them.
public struct ToolHealth: Sendable, Equatable {
    public var consecutiveFailures: [String: Int] = [:]
    public var blocked: Set<String> = []

    public init() {}
}

/// The decisions of one turn's tool loop, as a pure state machine: the runner feeds it what the model
/// answered and how each tool call ended; it says what to do next. No I/O, no clock.
public struct TurnStateMachine: Sendable {
    /// Why a turn stops before the model gives a final answer.
    public enum Stop: Sendable, Equatable {
        /// `tool` was called with identical arguments `count` times in this turn.
        case repeatedCall(tool: String, count: Int)
        /// The model asked for tools after `rounds` rounds.
        case roundLimit(rounds: Int)
    }

    /// What happens to one requested call.
    public enum Decision: Sendable, Equatable {
        case run
        /// Not run; the message becomes the call's (error) result.
        case reject(String)
    }

    /// What to do with a model reply.
    public enum RoundAction: Sendable, Equatable {
        /// No tool calls: the reply is the answer.
        case finish
        /// Run the calls marked `.run` (concurrently), record every result, ask the model again.
        case dispatch([Decision])
        /// Record the rejections as results, then end the turn with ``explanation(for:)``.
        case stop(Stop, [Decision])
    }

    public let policy: ToolLoopPolicy
    public private(set) var rounds = 0
    private var callCounts: [String: Int] = [:]
    /// Carried across turns by the session.
    public private(set) var health: ToolHealth

    public init(policy: ToolLoopPolicy, health: ToolHealth) {
        self.policy = policy
        self.health = health
    }

    /// Decides what to do with the tool calls of a model reply.
    ///
    /// - Parameters:
    ///   - toolCalls: the calls, in the order the model wrote them.
    ///   - available: the names of the tools that exist.
    /// - Returns: what the runner does next.
    public mutating func modelResponded(toolCalls: [ToolCall], available: Set<String>) -> RoundAction {
        guard !toolCalls.isEmpty else { return .finish }
        rounds += 1
        if rounds > policy.maxRounds {
            let why = "not run: this turn reached its limit of \(policy.maxRounds) tool rounds"
            return .stop(.roundLimit(rounds: policy.maxRounds), toolCalls.map { _ in .reject(why) })
        }
        var repeated: (index: Int, name: String, count: Int)? = nil
        for (i, call) in toolCalls.enumerated() {
            let key = call.name + "\u{0}" + call.argumentsJSON
            let n = (callCounts[key] ?? 0) + 1
            callCounts[key] = n
            if n >= policy.maxIdenticalCalls && repeated == nil { repeated = (i, call.name, n) }
        }
        if let repeated {
            let decisions: [Decision] = toolCalls.indices.map { i in
                i == repeated.index
                    ? .reject("not run: the same call was made \(repeated.count) times in this turn")
                    : .reject("not run: the turn was stopped")
            }
            return .stop(.repeatedCall(tool: repeated.name, count: repeated.count), decisions)
        }
        return .dispatch(
            toolCalls.map { call in
                if !available.contains(call.name) {
                    return .reject(
                        "unknown tool \"\(call.name)\"; available tools: "
                            + available.subtracting(health.blocked).sorted().joined(separator: ", ")
                    )
                }
                if health.blocked.contains(call.name) {
                    return .reject(
                        "the tool \(call.name) is blocked for this session after \(policy.maxConsecutiveFailures) "
                            + "consecutive failures; use another approach"
                    )
                }
                return .run
            }
        )
    }

    /// Records how a call that ran ended. Returns the notice to append to its result when this failure
    /// blocks the tool.
    public mutating func toolFinished(name: String, failed: Bool) -> String? {
        guard failed else {
            health.consecutiveFailures[name] = 0
            return nil
        }
        let n = (health.consecutiveFailures[name] ?? 0) + 1
        health.consecutiveFailures[name] = n
        guard n >= policy.maxConsecutiveFailures, !health.blocked.contains(name) else { return nil }
        health.blocked.insert(name)
        return "[System] The tool \(name) has failed \(n) times in a row and is now blocked for the rest of this "
            + "session. Do not call it again; try another approach or tell the user what went wrong."
    }

    /// The text that ends a stopped turn (saved as the assistant's answer).
    public static func explanation(for stop: Stop) -> String {
        switch stop {
        case .repeatedCall(let tool, let count):
            return "I stopped because I called \(tool) with the same arguments \(count) times without making "
                + "progress. Please tell me how you would like to proceed, or rephrase the request."
        case .roundLimit(let rounds):
            return "I stopped after \(rounds) rounds of tool calls without finishing. Ask me to continue if you "
                + "want me to keep going."
        }
    }
}

/// Keeps `NO_REPLY` from ever reaching the user while the reply streams: text that could still turn
/// out to be exactly `NO_REPLY` is held back until it cannot.
public struct SilentReplyFilter: Sendable {
    public static let token = "NO_REPLY"
    private var held = ""
    private var isPassing = false

    public init() {}

    /// Whether a whole reply is the silent token (surrounding whitespace ignored).
    public static func isSilent(_ text: String) -> Bool {
        text.trimmingWhitespace() == token
    }

    /// Takes a delta; returns what may be shown now.
    public mutating func feed(_ delta: String) -> String {
        if isPassing { return delta }
        held += delta
        let trimmed = held.trimmingLeadingWhitespace()
        if trimmed.isEmpty { return "" }
        if Self.token.hasPrefix(trimmed) { return "" }
        if trimmed.hasPrefix(Self.token) && trimmed.dropFirst(Self.token.count).allSatisfy(\.isWhitespace) {
            return ""
        }
        isPassing = true
        defer { held = "" }
        return held
    }

    /// The end of the reply: what is still held, unless the reply was `NO_REPLY`.
    public mutating func finish() -> String {
        defer { held = "" }
        if isPassing || Self.isSilent(held) { return "" }
        return held
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }

    func trimmingLeadingWhitespace() -> String {
        String(drop(while: \.isWhitespace))
    }
}
