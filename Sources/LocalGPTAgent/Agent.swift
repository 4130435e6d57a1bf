//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
public import LocalGPTCore
public import Logging
import Synchronization

/// Everything an ``Agent`` is built from.
public struct AgentOptions: Sendable {
    public var configuration: AgentConfiguration
    public var provider: any ModelProvider
    /// The plugin host whose tools the model gets; nil for no plugin tools.
    public var host: PluginHost?
    /// Where sessions are saved; nil keeps them in memory (`localgpt ask`).
    public var store: SessionStore?
    /// The workspace folder (absolute).
    public var workspace: String
    /// Memory tools (memory_search/get/save/log).
    public var memoryTools: MemoryHostTools?
    /// Extra host tools.
    public var extraTools: [any AgentHostTool]
    public var skills: [Skill]
    /// The verified LocalGPT.md text to inject at the end of every request; nil when there is none.
    public var policy: String?
    public var securityEvents: (any SecurityEventRecorder)?
    /// Checks a shell command before the `bash` tool runs it; returns why it is refused (it names a
    /// protected file), or nil. The CLI passes ``ProtectedPaths/checkCommand(_:tool:workingDirectory:audit:)``.
    public var commandGuard: (@Sendable (_ command: String) -> String?)?
    public var logger: Logger
    /// Host version for the runtime line.
    public var hostVersion: String
    /// Hides the configured secret values in what the agent writes to the workspace itself (the
    /// conversation saved by `/new`, compaction checkpoints). The session file has the store's
    /// (``SessionStore/secretMasker``), the memory tools their own.
    public var secretMasker: SecretMasker

    public init(
        configuration: AgentConfiguration,
        provider: any ModelProvider,
        host: PluginHost?,
        store: SessionStore?,
        workspace: String,
        memoryTools: MemoryHostTools? = nil,
        extraTools: [any AgentHostTool] = [],
        skills: [Skill] = [],
        policy: String? = nil,
        securityEvents: (any SecurityEventRecorder)? = nil,
        commandGuard: (@Sendable (_ command: String) -> String?)? = nil,
        logger: Logger,
        hostVersion: String = LocalGPTVersion.current,
        secretMasker: SecretMasker? = nil
    ) {
        self.configuration = configuration
        self.provider = provider
        self.host = host
        self.store = store
        self.workspace = workspace
        self.memoryTools = memoryTools
        self.extraTools = extraTools
        self.skills = skills
        self.policy = policy
        self.securityEvents = securityEvents
        self.commandGuard = commandGuard
        self.logger = logger
        self.hostVersion = hostVersion
        self.secretMasker = secretMasker ?? host?.secretMasker ?? SecretMasker()
    }
}

/// The context budget of the current session, for `/context` and `/status`.
public struct ContextUsage: Sendable, Equatable {
    /// Estimated tokens of the next request (system prompt and workspace context, tools, messages).
    public var used: Int
    /// The model's context window.
    public var window: Int
    /// Kept free for the reply.
    public var reserve: Int
    /// Reserved for the per-call security block.
    public var policyReserve: Int
    /// Compaction happens when `used` passes this.
    public var threshold: Int { window - reserve - policyReserve }
}

/// Runs conversations: context assembly, the tool loop, sessions, compaction.
///
/// One turn runs at a time (``runTurn(_:hooks:)`` is blocking and must not be called from the Swift
/// concurrency pool; ``send(_:hooks:)`` is the async form). ``cancel()`` may be called from any thread.
public final class Agent: @unchecked Sendable {
    // Immutable.
    public let options: AgentOptions
    var logger: Logger { options.logger }

    // Mutable state, guarded by `gate` (held for a whole turn).
    private let gate = NSLock()
    public private(set) var session: Session
    public private(set) var model: String
    public private(set) var catalog: ToolCatalog
    private var assembler: ContextAssembler
    private var toolTokens = 0
    private var health = ToolHealth()
    private var providerSession: String?
    /// Provider-reported usage of this session since it was opened.
    public private(set) var usage = TokenUsage()

    private struct Cancellation {
        var isCancelled = false
        var modelCalls: Set<UInt64> = []
        var toolCalls: Set<UInt64> = []
    }
    private let cancellation = Mutex(Cancellation())

    /// Opens (or creates) a session and prepares its context.
    ///
    /// - Parameters:
    ///   - options: what the agent is built from.
    ///   - resume: a session id to continue; nil starts a new session.
    /// - Throws: ``AgentError`` (`.session`) when the session cannot be created or read.
    public init(options: AgentOptions, resume: String? = nil) throws(AgentError) {
        self.options = options
        model = options.configuration.model
        var tools: [any AgentHostTool] = options.memoryTools?.tools ?? []
        if options.skills.contains(where: { $0.isModelInvocable && $0.blockedReason == nil }) {
            tools.append(ReadSkillTool(skills: options.skills))
        }
        tools += options.extraTools
        catalog = ToolCatalog(
            plugins: options.host?.tools ?? [],
            hostTools: tools,
            disabled: options.configuration.disabledTools
        )
        assembler = ContextAssembler(systemText: "", policy: options.policy)
        session = Session.ephemeral(cwd: options.workspace)
        for name in catalog.shadowed {
            options.logger.warning("tool name taken by another tool; left out", metadata: ["tool.name": "\(name)"])
        }
        toolTokens = JSONValue.array(catalog.specs()).encoded().utf8.count / 4
        session = try Self.openSession(options.store, resume: resume, cwd: options.workspace)
        if let store = options.store, let id = resume,
            store.readIndex()["main"]?["sessionId"]?.stringValue == id
        {
            providerSession = store.readIndex()["main"]?["providerSession"]?.stringValue
        }
        rebuildContext()
    }

    private static func openSession(
        _ store: SessionStore?,
        resume: String?,
        cwd: String,
        holding lock: SessionLock? = nil
    ) throws(AgentError)
        -> Session
    {
        guard let store else { return Session.ephemeral(cwd: cwd) }
        do {
            if let resume { return try store.open(id: resume, holding: lock) }
            return try store.create(cwd: cwd)
        } catch {
            throw AgentError(code: .session, message: error.message)
        }
    }

    /// Rebuilds the system prompt and workspace context (new session, resume, model change).
    private func rebuildContext() {
        let c = options.configuration
        let now = ChatMessage.now()
        let today = AgentDates.localDay(milliseconds: now)
        let prompt = SystemPrompt(
            model: model,
            workspace: options.workspace,
            toolNames: Set(catalog.names),
            skills: options.skills,
            localTime: AgentDates.localDateTime(milliseconds: now),
            today: today,
            hostVersion: options.hostVersion
        )
        let context = WorkspaceContext.load(
            workspace: options.workspace,
            entries: WorkspaceContext.entries(
                today: today,
                yesterday: AgentDates.localDay(milliseconds: now, daysAgo: 1),
                fileCap: c.workspaceFileMaxCharacters,
                memoryCap: c.memoryFileMaxCharacters
            ),
            totalCap: c.workspaceContextMaxCharacters,
            secretMasker: options.secretMasker
        )
        var text = prompt.text
        let rendered = context.rendered(
            memoryReadTool: catalog["memory_get"] != nil
                ? "memory_get" : (catalog["read_file"] != nil ? "read_file" : nil)
        )
        if !rendered.isEmpty { text += "\n\n---\n\n# Workspace context\n\n" + rendered }
        assembler = ContextAssembler(systemText: text, policy: options.policy)
    }

    // MARK: Introspection

    /// The context window in use.
    public var contextWindow: Int {
        options.configuration.contextWindow ?? options.provider.contextWindow(for: model) ?? 128_000
    }

    private var reserveTokens: Int { min(options.configuration.reserveTokens, contextWindow / 4) }

    /// The budget of the next request.
    public var contextUsage: ContextUsage {
        gate.withLock { usageLocked(extra: 0) }
    }

    private func usageLocked(extra: Int) -> ContextUsage {
        ContextUsage(
            used: assembler.systemTokens + toolTokens + session.estimatedTokens + extra,
            window: contextWindow,
            reserve: reserveTokens,
            policyReserve: assembler.reservedTokens
        )
    }

    /// The system message as the next request would carry it (for `/context` and tests).
    public var systemText: String { gate.withLock { assembler.systemText } }

    /// Tools blocked in this session after repeated failures.
    public var blockedTools: Set<String> { gate.withLock { health.blocked } }

    /// The request the next call would send for the current session (no I/O; for benchmarks and tests).
    public func previewRequest() -> ModelRequest {
        gate.withLock { makeRequest(session.messages) }
    }

    /// Switches the model for the following turns.
    public func setModel(_ name: String) {
        gate.withLock {
            model = name
            providerSession = nil
            rebuildContext()
        }
    }

    // MARK: Cancellation

    /// Stops the running turn: the provider call and running tools are cancelled, the session keeps
    /// what was done (calls without results get a "cancelled" result). Safe from any thread.
    public func cancel() {
        let (models, tools) = cancellation.withLock { c -> (Set<UInt64>, Set<UInt64>) in
            c.isCancelled = true
            return (c.modelCalls, c.toolCalls)
        }
        for id in models { options.provider.cancel(callID: id) }
        for id in tools { options.host?.cancel(callID: id) }
    }

    private var isCancelled: Bool { cancellation.withLock { $0.isCancelled } }

    // MARK: Turns

    /// Runs one turn: the user's input, tool rounds, the answer. Blocking.
    ///
    /// - Throws: ``AgentError``: `.busy` when a turn is running, `.provider` when generation fails (the
    ///   session then ends with the user's message or the last tool results, and stays valid),
    ///   `.session` when the session file cannot be written.
    public func runTurn(_ input: String, hooks: TurnHooks = TurnHooks()) throws(AgentError) -> TurnResult {
        guard gate.try() else { throw AgentError(code: .busy, message: "another turn is running") }
        defer { gate.unlock() }
        cancellation.withLock { $0 = Cancellation() }
        let message = ChatMessage(role: .user, content: input)
        let budget = usageLocked(extra: message.estimatedTokens)
        if budget.used > budget.threshold && session.messages.count >= 2 {
            _ = try compactLocked(reason: .threshold, hooks: hooks)
        }
        try appendLocked(message)
        // The index names this session once it holds the user's message, whether the turn then succeeds
        // or not: `chat --resume` skipped a newer session whose every turn had failed.
        defer { options.store?.updateIndex(session, usage: usage, providerSession: providerSession) }
        return try loopLocked(hooks: hooks, flush: false)
    }

    /// The async form of ``runTurn(_:hooks:)``: runs on a thread of its own; task cancellation cancels
    /// the turn.
    ///
    /// - Throws: ``AgentError`` as ``runTurn(_:hooks:)``.
    public func send(_ input: String, hooks: TurnHooks = TurnHooks()) async throws -> TurnResult {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<TurnResult, any Error>) in
                detachThread(named: "localgpt.turn") {
                    do {
                        continuation.resume(returning: try self.runTurn(input, hooks: hooks))
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        } onCancel: {
            self.cancel()
        }
    }

    private func appendLocked(_ m: ChatMessage) throws(AgentError) {
        do {
            try session.append(m)
        } catch {
            throw AgentError(code: .session, message: error.message)
        }
    }

    /// What one model call produced.
    private struct Reply {
        var text = ""
        var calls: [ToolCall] = []
        var stopReason: String?
        var usage: TokenUsage?
        var info: ModelResponseInfo?
    }

    /// The tool loop. `flush` marks the memory-flush exchange (meta, no proactive compaction, a view
    /// trimmed to fit the window).
    private func loopLocked(hooks: TurnHooks, flush: Bool) throws(AgentError) -> TurnResult {
        var machine = TurnStateMachine(policy: options.configuration.toolLoop, health: health)
        defer { health = machine.health }
        var ranTools = 0
        var turnUsage = TokenUsage()
        var overflowHandled = false
        let meta: String? = flush ? "memory_flush" : nil
        if !flush { onProgress = { note in hooks.onEvent(.progress(note)) } }
        while true {
            if isCancelled { return cancelledResult(text: "", tools: ranTools, usage: turnUsage) }
            var view = session.messages
            if flush { view = trimmedView(view) }
            let request = makeRequest(view, blocked: machine.health.blocked)
            var filter = SilentReplyFilter()
            let reply: Reply
            do {
                reply = try generate(request) { text in
                    let visible = filter.feed(text)
                    if !visible.isEmpty && !flush { hooks.onEvent(.text(visible)) }
                }
            } catch {
                let failure = error
                if failure.error.code == .cancelled || isCancelled {
                    let partial = failure.partialText
                    if !partial.isEmpty && !SilentReplyFilter.isSilent(partial) {
                        try appendLocked(
                            ChatMessage(
                                role: .assistant,
                                content: partial,
                                model: model,
                                stopReason: "cancelled",
                                meta: meta
                            )
                        )
                    }
                    return cancelledResult(text: partial, tools: ranTools, usage: turnUsage)
                }
                if failure.error.code == .contextOverflow && !overflowHandled && !flush {
                    overflowHandled = true
                    logger.info("context overflow reported by the provider; compacting")
                    if try compactLocked(reason: .overflow, hooks: hooks) != nil { continue }
                    if isCancelled { return cancelledResult(text: "", tools: ranTools, usage: turnUsage) }
                }
                throw AgentError(code: .provider, message: failure.error.message)
            }
            let rest = filter.finish()
            if !rest.isEmpty && !flush { hooks.onEvent(.text(rest)) }
            if let u = reply.usage {
                usage = usage + u
                turnUsage = turnUsage + u
            }
            // Calls need ids that pair them with their results: missing or already used ids (small models
            // number their calls from 0 every round) get fresh ones.
            var calls = reply.calls
            if !calls.isEmpty {
                var used = Set(session.messages.flatMap { $0.toolCalls.map(\.id) })
                for i in calls.indices {
                    if calls[i].id.isEmpty || used.contains(calls[i].id) {
                        calls[i].id = "call_" + UUID().uuidString.prefix(8).lowercased()
                    }
                    used.insert(calls[i].id)
                }
            }
            try appendLocked(
                ChatMessage(
                    role: .assistant,
                    content: reply.text,
                    toolCalls: calls,
                    provider: reply.info?.provider,
                    model: reply.info?.model ?? model,
                    usage: reply.usage,
                    stopReason: reply.stopReason ?? (calls.isEmpty ? "end_turn" : "tool_use"),
                    meta: meta
                )
            )
            switch machine.modelResponded(toolCalls: calls, available: Set(catalog.names)) {
            case .finish:
                let silent = SilentReplyFilter.isSilent(reply.text)
                return TurnResult(
                    outcome: silent ? .silent : .answered,
                    text: silent ? "" : reply.text,
                    toolCalls: ranTools,
                    usage: turnUsage,
                    model: reply.info?.model ?? model
                )
            case .dispatch(let decisions):
                let ran = try dispatchLocked(calls, decisions, machine: &machine, hooks: hooks, meta: meta)
                ranTools += ran
                if isCancelled {
                    return cancelledResult(text: reply.text, tools: ranTools, usage: turnUsage)
                }
            case .stop(let stop, let decisions):
                for (call, decision) in zip(calls, decisions) {
                    if case .reject(let why) = decision {
                        try appendLocked(toolResult(call, text: why, isError: true, meta: meta))
                    }
                }
                let explanation = TurnStateMachine.explanation(for: stop)
                try appendLocked(
                    ChatMessage(
                        role: .assistant,
                        content: explanation,
                        model: model,
                        stopReason: "stopped",
                        meta: meta
                    )
                )
                if !flush { hooks.onEvent(.text(explanation)) }
                logger.info("turn stopped by the tool loop", metadata: ["turn.stop": "\(stop)"])
                return TurnResult(
                    outcome: .stopped(stop),
                    text: explanation,
                    toolCalls: ranTools,
                    usage: turnUsage,
                    model: model
                )
            }
        }
    }

    private func cancelledResult(text: String, tools: Int, usage: TokenUsage) -> TurnResult {
        logger.info("turn cancelled")
        return TurnResult(outcome: .cancelled, text: text, toolCalls: tools, usage: usage, model: model)
    }

    /// The request for a list of messages.
    private func makeRequest(_ messages: [ChatMessage], blocked: Set<String> = []) -> ModelRequest {
        ModelRequest(
            model: model,
            messages: assembler.requestMessages(messages),
            tools: catalog.specs(excluding: blocked.union(health.blocked)),
            maxTokens: options.configuration.maxTokens,
            temperature: options.configuration.temperature,
            stream: options.configuration.stream,
            sessionID: session.id,
            providerSession: providerSession
        )
    }

    /// The most recent messages that fit the window (leaving room for a short reply), starting at a
    /// user message: what the memory flush sees when the whole session no longer fits (overflow path).
    private func trimmedView(_ messages: [ChatMessage]) -> [ChatMessage] {
        let room =
            contextWindow - assembler.reservedTokens - min(reserveTokens, 1024) - assembler.systemTokens - toolTokens
        let total = messages.reduce(0) { $0 + $1.estimatedTokens }
        guard total > room else { return messages }
        var used = 0
        var start = messages.count - 1
        for i in stride(from: messages.count - 1, through: 0, by: -1) {
            used += messages[i].estimatedTokens
            if used > room { break }
            if messages[i].role == .user { start = i }
        }
        return Array(messages[max(0, start)...])
    }

    private struct GenerationFailure: Error {
        var error: ModelProviderError
        var partialText: String
    }

    /// One provider call, collecting text and tool calls.
    private func generate(_ request: ModelRequest, onText: (String) -> Void) throws(GenerationFailure) -> Reply {
        let id = options.provider.makeCallID()
        _ = cancellation.withLock { $0.modelCalls.insert(id) }
        defer { _ = cancellation.withLock { $0.modelCalls.remove(id) } }
        if isCancelled {
            throw GenerationFailure(error: ModelProviderError(code: .cancelled, message: "cancelled"), partialText: "")
        }
        var reply = Reply()
        var streamError: (code: String, message: String)? = nil
        do {
            reply.info = try options.provider.generate(request, callID: id) { event in
                switch event {
                case .delta(let t):
                    reply.text += t
                    onText(t)
                case .toolCall(let c): reply.calls.append(c)
                case .done(let stop, let u, let ps):
                    reply.stopReason = stop
                    reply.usage = u
                    if let ps { providerSession = ps }
                case .error(let code, let message): streamError = (code, message)
                case .progress(let note): onProgress?(note)
                }
                return !isCancelled
            }
        } catch {
            throw GenerationFailure(error: error, partialText: reply.text)
        }
        if let streamError, reply.text.isEmpty && reply.calls.isEmpty {
            let code: ModelProviderError.Code =
                ModelProviderError.isOverflow(code: streamError.code, message: streamError.message)
                ? .contextOverflow : .failed
            throw GenerationFailure(
                error: ModelProviderError(code: code, message: streamError.message),
                partialText: ""
            )
        }
        return reply
    }

    /// Set during a turn so provider progress reaches the hooks.
    private var onProgress: ((String) -> Void)?

    // MARK: Tools

    private func toolResult(_ call: ToolCall, text: String, isError: Bool, meta: String?) -> ChatMessage {
        wrappedResult(call, text: text, isError: isError, meta: meta).message
    }

    /// A call's result message, and the suspicious phrases its output holds.
    private func wrappedResult(
        _ call: ToolCall,
        text: String,
        isError: Bool,
        meta: String?
    ) -> (
        message: ChatMessage, warnings: [InjectionPatterns.Match]
    ) {
        let body = isError ? "Error: " + text : text
        let wrapped = ToolOutputSanitizer.wrap(
            toolName: call.name,
            output: body,
            maxCharacters: options.configuration.toolOutputMaxCharacters,
            secretMasker: options.secretMasker
        )
        let message = ChatMessage(
            role: .tool,
            content: wrapped.text,
            toolCallID: call.id,
            toolName: call.name,
            isError: isError,
            meta: meta
        )
        return (message, wrapped.warnings)
    }

    /// Runs a round's calls (the allowed ones concurrently) and appends every result in call order.
    /// Returns how many ran.
    private func dispatchLocked(
        _ calls: [ToolCall],
        _ decisions: [TurnStateMachine.Decision],
        machine: inout TurnStateMachine,
        hooks: TurnHooks,
        meta: String?
    ) throws(AgentError) -> Int {
        var decisions = decisions
        // Approvals, one at a time, before anything runs.
        for (i, call) in calls.enumerated() where decisions[i] == .run {
            guard options.configuration.requireApproval.contains(call.name) else { continue }
            let request = ToolApprovalRequest(
                tool: call.name,
                detail: Self.detail(for: call),
                arguments: call.argumentsJSON,
                fullDetail: Self.approvalDetail(for: call)
            )
            if !hooks.approve(request) { decisions[i] = .reject("the user declined to run this tool call") }
        }
        let toRun = calls.indices.filter { decisions[$0] == .run }
        for i in toRun { hooks.onEvent(.toolStarted(name: calls[i].name, detail: Self.detail(for: calls[i]))) }
        let outcomes = runConcurrently(toRun.map { calls[$0] })
        var results: [ChatMessage] = []
        var ran = 0
        for (i, call) in calls.enumerated() {
            switch decisions[i] {
            case .reject(let why):
                results.append(toolResult(call, text: why, isError: true, meta: meta))
            case .run:
                guard let k = toRun.firstIndex(of: i) else { continue }
                let outcome = outcomes[k]
                ran += 1
                if outcome.cancelled {
                    results.append(toolResult(call, text: "cancelled by the user", isError: true, meta: meta))
                    hooks.onEvent(.toolFinished(name: call.name, error: "cancelled"))
                    continue
                }
                var text = outcome.text
                if let notice = machine.toolFinished(name: call.name, failed: outcome.failed) {
                    text += "\n\n" + notice
                    hooks.onEvent(.warning("\(call.name) failed 3 times in a row and is blocked for this session"))
                }
                let (message, warnings) = wrappedResult(call, text: text, isError: outcome.failed, meta: meta)
                for w in warnings {
                    hooks.onEvent(.warning("Suspicious content in \(call.name) output: \(w.phrase) (line \(w.line))"))
                }
                if !warnings.isEmpty {
                    logger.warning(
                        "suspicious tool output",
                        metadata: ["tool.name": "\(call.name)", "warnings": "\(warnings.count)"]
                    )
                }
                hooks.onEvent(.toolFinished(name: call.name, error: outcome.failed ? outcome.text : nil))
                results.append(message)
            }
        }
        do {
            try session.append(contentsOf: results)
        } catch {
            throw AgentError(code: .session, message: error.message)
        }
        return ran
    }

    private struct ToolOutcome: Sendable {
        var text: String
        var failed: Bool
        var cancelled: Bool
    }

    /// Runs calls in parallel on threads that may block (never the Swift concurrency pool).
    private func runConcurrently(_ calls: [ToolCall]) -> [ToolOutcome] {
        guard !calls.isEmpty else { return [] }
        let ids = calls.map { _ in options.host?.makeCallID() ?? 0 }
        cancellation.withLock { c in for id in ids { c.toolCalls.insert(id) } }
        defer { cancellation.withLock { c in for id in ids { c.toolCalls.remove(id) } } }
        let results = Mutex([ToolOutcome?](repeating: nil, count: calls.count))
        let run: @Sendable (Int) -> Void = { [self] i in
            let start = ContinuousClock.now
            let outcome = invoke(calls[i], callID: ids[i])
            let ms = (ContinuousClock.now - start).components
            logger.debug(
                "tool call",
                metadata: [
                    "tool.name": "\(calls[i].name)", "tool.failed": "\(outcome.failed)",
                    "tool.duration_ms": "\(ms.seconds * 1000 + ms.attoseconds / 1_000_000_000_000_000)",
                ]
            )
            results.withLock { $0[i] = outcome }
        }
        if calls.count == 1 {
            run(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: calls.count, execute: run)
        }
        return results.withLock { $0.map { $0 ?? ToolOutcome(text: "no result", failed: true, cancelled: false) } }
    }

    /// Runs one call: schema-validated, dispatched to its plugin or host tool.
    private func invoke(_ call: ToolCall, callID: UInt64) -> ToolOutcome {
        if isCancelled { return ToolOutcome(text: "cancelled", failed: true, cancelled: true) }
        guard let entry = catalog[call.name] else {
            return ToolOutcome(text: "unknown tool \(call.name)", failed: true, cancelled: false)
        }
        guard case .object = call.arguments else {
            // RouterModelProvider hands over why the router refused the arguments (a schema
            // violation, unparsable JSON) as a string: the model needs that reason to fix its call.
            return ToolOutcome(
                text: call.arguments.stringValue ?? "the arguments for \(call.name) must be a JSON object",
                failed: true,
                cancelled: false
            )
        }
        switch entry.target {
        case .plugin(let qualified, _):
            guard let host = options.host else {
                return ToolOutcome(text: "no plugin host", failed: true, cancelled: false)
            }
            if call.name == "bash", let command = call.arguments["command"]?.stringValue,
                let refusal = options.commandGuard?(command)
            {
                return ToolOutcome(text: refusal, failed: true, cancelled: false)
            }
            do {
                let json = try host.invoke(tool: qualified, arguments: call.arguments.encoded(), callID: callID)
                return ToolOutcome(text: ToolOutputSanitizer.text(ofResult: json), failed: false, cancelled: false)
            } catch {
                let cancelled = error.code == .cancelled && isCancelled
                return ToolOutcome(text: error.message, failed: true, cancelled: cancelled)
            }
        case .host(let tool):
            if let schema = entry.schema, let violation = schema.firstViolation(call.arguments) {
                return ToolOutcome(
                    text: "arguments for \(call.name) rejected: \(violation)",
                    failed: true,
                    cancelled: false
                )
            }
            do {
                return ToolOutcome(text: try tool.run(arguments: call.arguments), failed: false, cancelled: false)
            } catch {
                return ToolOutcome(text: error.message, failed: true, cancelled: false)
            }
        }
    }

    /// What an approval shows: the main argument whole (every line), else the arguments JSON, with
    /// control characters replaced. The progress line's short form hid the rest of a command
    /// (`echo harmless …; rm -rf ./*`) and let ESC sequences reach the terminal.
    public static func approvalDetail(for call: ToolCall) -> String {
        // A call whose only argument is its main one shows it bare; any other shows all its arguments.
        var text = call.argumentsJSON
        if let arguments = call.arguments.objectValue, arguments.count == 1, let (key, value) = arguments.first,
            mainArgumentKeys.contains(key), let s = value.stringValue
        {
            text = s
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map {
            DisplayText.replacingControlCharacters(String($0), with: "\u{FFFD}")
        }.joined(separator: "\n")
    }

    /// The arguments that say what a call does, in the order a progress line looks for them.
    static let mainArgumentKeys = ["path", "command", "query", "url", "name", "expression", "text"]

    /// A short display hint for a call: a path, the start of a command, a query or a URL.
    public static func detail(for call: ToolCall) -> String {
        for key in mainArgumentKeys {
            if let s = call.arguments[key]?.stringValue {
                let line = s.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                return line.count > 57 ? String(line.prefix(57)) + "…" : line
            }
        }
        return ""
    }

    // MARK: Compaction

    /// What a compaction did.
    public struct CompactionOutcome: Sendable, Equatable {
        public var tokensBefore: Int
        public var tokensAfter: Int
        public var messagesBefore: Int
        public var messagesAfter: Int
        public var flushed: Bool
        public var checkpoint: String?
    }

    /// Compacts the session now (`/compact`): a memory flush turn, then older messages are summarised.
    /// Returns nil when there is nothing to compact.
    ///
    /// - Throws: ``AgentError`` when a turn is running, or the summary or the rewrite fails.
    public func compact(hooks: TurnHooks = TurnHooks()) throws(AgentError) -> CompactionOutcome? {
        guard gate.try() else { throw AgentError(code: .busy, message: "a turn is running") }
        defer { gate.unlock() }
        cancellation.withLock { $0 = Cancellation() }
        let outcome = try compactLocked(reason: .manual, hooks: hooks)
        options.store?.updateIndex(session, usage: usage, providerSession: providerSession)
        return outcome
    }

    /// The memory flush, then the summary. On the threshold path a failed summary is reported and the
    /// turn goes on uncompacted; on the overflow and manual paths it is an error.
    private func compactLocked(
        reason: CompactionPlanner.Reason,
        hooks: TurnHooks
    ) throws(AgentError)
        -> CompactionOutcome?
    {
        let before = usageLocked(extra: 0)
        let budget = before.threshold - assembler.systemTokens - toolTokens
        let keep = reason == .manual ? max(200, session.estimatedTokens / 4) : max(200, Int(Double(budget) * 0.3))
        guard
            let split = CompactionPlanner.splitIndex(
                session.messages,
                tokens: session.estimatedTokens(at:),
                keepBudget: keep
            )
        else {
            logger.debug("nothing to compact", metadata: ["compaction.reason": "\(reason.rawValue)"])
            return nil
        }
        hooks.onEvent(.compactionStarted(reason: reason.rawValue))
        logger.info("compaction", metadata: ["compaction.reason": "\(reason.rawValue)"])
        // 1. The memory flush, on every path, before anything is summarised.
        let flushStart = session.messages.count
        let flushed = runFlushLocked(hooks: hooks)
        let messagesBefore = session.messages.count
        // 2. The summary of everything before the cut.
        let summarised = session.messages[0..<split]
        let kept = Array(session.messages[split..<flushStart])
        let maxBytes = max(4000, (contextWindow - reserveTokens) * 4 / 2)
        var summary: String? = nil
        for chunk in CompactionPlanner.render(summarised, maxBytes: maxBytes, secretMasker: options.secretMasker) {
            let request = ModelRequest(
                model: model,
                messages: [
                    .object(["role": "system", "content": .string(CompactionPlanner.summarySystemPrompt)]),
                    .object([
                        "role": "user",
                        "content": .string(
                            CompactionPlanner.summaryRequest(
                                conversation: chunk,
                                previousSummary: summary
                            )
                        ),
                    ]),
                ],
                maxTokens: 1200,
                stream: false,
                sessionID: "compaction-" + session.id
            )
            do throws(GenerationFailure) {
                let reply = try generate(request) { _ in }
                let text = reply.text.trimmingWhitespace()
                guard !text.isEmpty else {
                    throw GenerationFailure(
                        error: ModelProviderError(code: .failed, message: "the summary came back empty"),
                        partialText: ""
                    )
                }
                summary = text
            } catch {
                if isCancelled { return nil }
                logger.warning("compaction summary failed", metadata: ["error": "\(error.error.message)"])
                if reason == .threshold {
                    hooks.onEvent(.warning("compaction failed (\(error.error.message)); continuing"))
                    return nil
                }
                throw AgentError(code: .provider, message: "compaction failed: \(error.error.message)")
            }
        }
        guard let summary else { return nil }
        // 3. A checkpoint of the compacted messages in memory/, whatever the model saved.
        let now = ChatMessage.now()
        let checkpointName =
            "memory/\(AgentDates.localDay(milliseconds: now))-compaction-\(session.id.prefix(8))-"
            + "\(session.header.compactionCount + 1).md"
        var checkpoint: String? = nil
        let text = CompactionPlanner.checkpoint(
            ArraySlice(summarised.map(options.secretMasker.mask)),
            sessionID: session.id,
            date: AgentDates.localDateTime(milliseconds: now)
        )
        if AgentFileIO.makeDirectories(options.workspace + "/memory", mode: 0o755),
            AgentFileIO.writeAtomically(Array(text.utf8), to: options.workspace + "/" + checkpointName, mode: 0o644)
        {
            checkpoint = checkpointName
        }
        // 4. The new history: the summary as a system entry, then the kept messages.
        let summaryMessage = ChatMessage(
            role: .system,
            content: CompactionPlanner.summaryPrefix + summary,
            timestamp: now,
            meta: "summary"
        )
        let newMessages = [summaryMessage] + kept
        var header = session.header
        header.compactionCount += 1
        if flushed { header.memoryFlushCompactionCount += 1 }
        let tokensBefore = before.used
        let tokensAfter = assembler.systemTokens + toolTokens + newMessages.reduce(0) { $0 + $1.estimatedTokens }
        let record = CompactionRecord(
            timestamp: now,
            reason: reason.rawValue,
            messagesBefore: messagesBefore,
            messagesAfter: newMessages.count,
            tokensBefore: tokensBefore,
            tokensAfter: tokensAfter,
            flushed: flushed,
            checkpoint: checkpoint
        )
        do {
            try session.replaceMessages(newMessages, header: header, record: record)
        } catch {
            throw AgentError(code: .session, message: error.message)
        }
        options.securityEvents?.record(
            SecurityEvent(
                action: "compaction",
                source: "agent",
                details: [
                    "session_id": .string(session.id), "reason": .string(reason.rawValue),
                    "messages_before": .int(Int64(messagesBefore)), "messages_after": .int(Int64(newMessages.count)),
                    "tokens_before": .int(Int64(tokensBefore)), "tokens_after": .int(Int64(tokensAfter)),
                    "strategy": "summarize_and_keep_recent", "memory_flush": .bool(flushed),
                ]
            )
        )
        hooks.onEvent(.compactionFinished(tokensBefore: tokensBefore, tokensAfter: tokensAfter))
        return CompactionOutcome(
            tokensBefore: tokensBefore,
            tokensAfter: tokensAfter,
            messagesBefore: messagesBefore,
            messagesAfter: newMessages.count,
            flushed: flushed,
            checkpoint: checkpoint
        )
    }

    /// The pre-compaction memory flush: a turn with the flush prompt and the tools. True when it ran to
    /// the end (counted only on success).
    private func runFlushLocked(hooks: TurnHooks) -> Bool {
        let writers: Set<String> = ["memory_save", "memory_log", "write_file", "edit_file"]
        let available = Set(catalog.names).subtracting(health.blocked)
        guard !available.isDisjoint(with: writers) else {
            logger.info("memory flush skipped: no tool can write memory")
            return false
        }
        hooks.onEvent(.memoryFlushStarted)
        let prompt = CompactionPlanner.flushPrompt(today: AgentDates.localDay(), tools: available)
        do {
            try appendLocked(ChatMessage(role: .user, content: prompt, meta: "memory_flush"))
            let result = try loopLocked(hooks: hooks, flush: true)
            let ok = result.outcome == .answered || result.outcome == .silent
            hooks.onEvent(.memoryFlushFinished(succeeded: ok))
            return ok
        } catch {
            logger.warning("memory flush failed", metadata: ["error": "\(error.message)"])
            hooks.onEvent(.memoryFlushFinished(succeeded: false))
            return false
        }
    }

    // MARK: Sessions

    /// Starts a new session. With `saveMemory`, the last messages of the current one are written to
    /// `memory/YYYY-MM-DD-<slug>.md` first; returns that file (workspace-relative).
    ///
    /// - Throws: ``AgentError`` when the new session cannot be created.
    @discardableResult
    public func newSession(saveMemory: Bool = true) throws(AgentError) -> String? {
        gate.lock()
        defer { gate.unlock() }
        do {
            var saved: String? = nil
            if saveMemory { saved = saveSessionMemoryLocked() }
            session = try Self.openSession(options.store, resume: nil, cwd: options.workspace)
            health = ToolHealth()
            providerSession = nil
            usage = TokenUsage()
            rebuildContext()
            options.store?.updateIndex(session, usage: usage)
            return saved
        }
    }

    /// Continues a saved session. The session it leaves stays open (its file and lock) until the
    /// caller closes it (``SessionFile/close(removingIfEmpty:)``) or lets it go; resuming the current
    /// session reads it again under the lock it already holds, after writing what was unsaved.
    ///
    /// - Throws: ``AgentError`` when it cannot be read, or another process has it open.
    public func resume(id: String) throws(AgentError) {
        gate.lock()
        defer { gate.unlock() }
        var held: SessionLock? = nil
        if id == session.id, let file = session.file, !file.isClosed {
            do {
                try file.saveUnsaved()
            } catch {
                throw AgentError(code: .session, message: error.message)
            }
            held = file.lock
        }
        do {
            session = try Self.openSession(options.store, resume: id, cwd: options.workspace, holding: held)
            health = ToolHealth()
            providerSession = nil
            usage = TokenUsage()
            rebuildContext()
            options.store?.updateIndex(session, usage: usage)
        }
    }

    /// Drops the current session's messages (`/clear`).
    ///
    /// - Throws: ``AgentError`` when the file cannot be rewritten.
    public func clear() throws(AgentError) {
        gate.lock()
        defer { gate.unlock() }
        do {
            try session.clear()
        } catch {
            throw AgentError(code: .session, message: error.message)
        }
        health = ToolHealth()
    }

    /// Writes the last user/assistant messages to `memory/<date>-<slug>.md` (never overwriting a file).
    private func saveSessionMemoryLocked() -> String? {
        // Masked before anything is derived from it: the file name too is made of the first words.
        let conversation = session.messages.filter {
            ($0.role == .user || $0.role == .assistant) && $0.meta == nil && !$0.content.isEmpty
                && !SilentReplyFilter.isSilent($0.content)
        }.map(options.secretMasker.mask)
        guard !conversation.isEmpty else { return nil }
        let now = ChatMessage.now()
        let day = AgentDates.localDay(milliseconds: now)
        let slug = Self.slug(conversation.first { $0.role == .user }?.content ?? "")
        var name = "memory/\(day)-\(slug).md"
        var n = 2
        while AgentFileIO.exists(options.workspace + "/" + name) {
            name = "memory/\(day)-\(slug)-\(n).md"
            n += 1
        }
        var text = "# Session: \(AgentDates.localShort(milliseconds: now))\n\n- **Session ID**: \(session.id)\n\n"
        text += "## Conversation\n\n"
        for m in conversation.suffix(options.configuration.newSessionMemoryMessages) {
            text += "**\(m.role == .user ? "User" : "Assistant")**: \(m.content)\n\n"
        }
        guard AgentFileIO.makeDirectories(options.workspace + "/memory", mode: 0o755),
            AgentFileIO.writeAtomically(Array(text.utf8), to: options.workspace + "/" + name, mode: 0o644)
        else { return nil }
        return name
    }

    /// The first four words, lower-case alphanumerics joined by `-`, at most 30 characters; `session`
    /// when nothing is left.
    public static func slug(_ text: String) -> String {
        let words = text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) && !$0.isWhitespace })
            .joined(separator: " ").split(whereSeparator: \.isWhitespace).prefix(4)
        let cleaned = words.map { $0.filter { $0.isASCII && ($0.isLetter || $0.isNumber) } }.filter { !$0.isEmpty }
        let s = String(cleaned.joined(separator: "-").prefix(30))
        return s.isEmpty ? "session" : s
    }
}
