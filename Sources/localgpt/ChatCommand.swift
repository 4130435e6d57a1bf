//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import LocalGPTAgent
import LocalGPTCore
import LocalGPTMemory
import Logging
import Synchronization

/// `localgpt chat`: the interactive assistant.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with the assistant (type /help for commands).",
        discussion: """
            Reads one message per line from standard input. Ctrl-C stops the running turn; Ctrl-D or /quit \
            exits. Sessions are saved after every message under ~/.localgpt/agents/main/sessions/.
            """
    )

    @OptionGroup var options: GlobalOptions
    @Option(name: .shortAndLong, help: "The model (default: agent.default_model in config.toml).") var model: String?
    @Option(name: .shortAndLong, help: "Resume the session with this id (or unique prefix).") var session: String?
    @Flag(help: "Resume the most recent session.") var resume = false

    func run() throws {
        let setup = try AgentSetup(options: options, model: model, persistent: true)
        if let model {
            let check = setup.checkModel(model)
            if let error = check.error { throw CLIError(error) }
            if let warning = check.warning { printError("warning: \(warning)") }
        }
        var resumeID: String? = nil
        if let session {
            do {
                resumeID = try setup.store.resolve(prefix: session)
            } catch {
                throw CLIError(error.message)
            }
        } else if resume {
            resumeID = setup.store.latestID()
            if resumeID == nil { printError("No session to resume; starting a new one.") }
        }
        let agent = try setup.makeAgent(resume: resumeID)
        let repl = ChatREPL(setup: setup, agent: agent)
        repl.run()
        // Every message is saved when it is written; one that could not be (a full disk) was said at
        // the time, written with a later one when that worked, and is reported again as the chat
        // ends. The exit status says whether the session files hold the whole conversation.
        if !repl.saveFailures.isEmpty { throw ExitCode(1) }
    }
}

/// What `chat` and `ask` share: configuration, the plugin host, the provider, memory, skills, policy.
struct AgentSetup {
    let context: CLIContext
    /// The memory workspace (`--workspace` aside, as `memory` commands pick it: LOCALGPT_WORKSPACE,
    /// `memory.workspace`, then the home's): the system prompt's files, the memory tools, skills
    /// and session checkpoints all use this one folder.
    let workspace: String
    /// The extra indexed roots (`memory.paths`), which `memory_get` may read.
    let extraRoots: [String]
    let host: PluginHost
    let provider: any ModelProvider
    let store: SessionStore
    let skills: [Skill]
    /// Skills skipped or shadowed, and why (chat prints them).
    let skillProblems: [String]
    let policy: String?
    /// Any LocalGPT.md state other than valid or missing (chat shows it in the banner).
    let policyNotice: String?
    /// Only the states that suggest tampering or a broken file (ask shows these).
    let policyWarning: String?
    let welcome: Bool
    let configuration: AgentConfiguration
    let persistent: Bool

    init(options: GlobalOptions, model: String?, persistent: Bool) throws {
        context = try CLIContext.make(options)
        let paths = context.paths
        let memoryConfiguration = MemoryConfiguration(paths: paths, configuration: context.configuration)
        workspace = memoryConfiguration.workspace
        extraRoots = memoryConfiguration.extraRoots.map(\.path)
        var brandNew = false
        do {
            brandNew = try Workspace(root: workspace).bootstrap().isBrandNew
        } catch {
            printError("warning: the workspace could not be prepared: \(error)")
        }
        welcome = brandNew
        // LocalGPT.md: verified and audited (source session_start) as at every agent start; only a
        // verified policy is injected; strict mode stops here. The outcome is shown below (the
        // banner, ask's warning), so the loader's own log line does not repeat it on the terminal.
        var policyLogger = context.logger
        if !options.verbose { policyLogger.logLevel = .error }
        let verification: PolicyVerification
        do {
            verification = try PolicyLoader(
                paths: paths,
                configuration: context.configuration,
                audit: context.auditLog,
                logger: policyLogger
            ).load()
        } catch {
            throw CLIError(error.message)
        }
        policy = verification.policy?.text
        switch verification.status {
        case .missing, .valid: policyNotice = nil
        default: policyNotice = "LocalGPT.md: \(verification.label). \(verification.explanation)"
        }
        switch verification.status {
        case .missing, .valid, .unsigned, .oversize: policyWarning = nil
        default: policyWarning = policyNotice
        }
        host = try context.makeHost()
        provider = RouterModelProvider(router: ProviderRouter(host: host))
        store = context.sessionStore
        let environment = ProcessInfo.processInfo.environment
        (skills, skillProblems) = Skills.discoverReporting(
            bundled: Skills.bundledDirectory(
                executableDirectory: PluginDiscovery.executableDirectory(),
                environment: environment
            ),
            workspace: workspace,
            environment: environment
        )
        configuration = AgentConfiguration(configuration: context.configuration, model: model)
        self.persistent = persistent
    }

    /// Why `name` cannot be used (`error`: no rule resolves it), or what it lacks (`warning`: its
    /// provider has no API key yet), before a turn finds out.
    func checkModel(_ name: String) -> (error: String?, warning: String?) {
        guard let router = (provider as? RouterModelProvider)?.router else { return (nil, nil) }
        do {
            let resolved = try router.resolver.resolve(name)
            guard router.resolver.isConfigured(resolved.provider) else {
                return (
                    nil,
                    "\(resolved.model): the \(resolved.provider) provider is not configured; add to "
                        + "\(context.paths.configFile):\n" + ModelResolver.configurationHint(resolved.provider)
                )
            }
            return (nil, nil)
        } catch {
            return (error.message, nil)
        }
    }

    func makeAgent(resume: String?) throws -> Agent {
        let options = AgentOptions(
            configuration: configuration,
            provider: provider,
            host: host,
            store: persistent ? store : nil,
            workspace: workspace,
            memoryTools: MemoryHostTools(
                workspace: workspace,
                extraRoots: extraRoots,
                service: host.memory,
                writeGuard: { [paths = context.paths, workspace, audit = context.auditLog] path, tool in
                    do {
                        try ProtectedPaths(paths: paths).checkWrite(
                            path,
                            tool: tool,
                            workingDirectory: workspace,
                            audit: audit
                        )
                        return nil
                    } catch {
                        return error.message
                    }
                },
                secretMasker: context.secretMasker
            ),
            skills: skills,
            policy: policy,
            securityEvents: host.securityEvents,
            commandGuard: { [paths = context.paths, workspace, audit = context.auditLog] command in
                do {
                    try ProtectedPaths(paths: paths).checkCommand(
                        command,
                        workingDirectory: workspace,
                        audit: audit
                    )
                    return nil
                } catch {
                    return error.message
                }
            },
            logger: context.logger,
            secretMasker: context.secretMasker
        )
        do {
            return try Agent(options: options, resume: resume)
        } catch {
            throw CLIError(error.message)
        }
    }
}

/// Prints what a turn reports: streamed text, tool progress, warnings.
final class TurnPrinter: @unchecked Sendable {
    private let lock = NSLock()
    private var midLine = false
    private var wroteText = false
    let textPrefix: String
    let progressToStderr: Bool

    init(textPrefix: String, progressToStderr: Bool) {
        self.textPrefix = textPrefix
        self.progressToStderr = progressToStderr
    }

    func reset() {
        lock.withLock {
            midLine = false
            wroteText = false
        }
    }

    var hasWrittenText: Bool { lock.withLock { wroteText } }

    func handle(_ event: AgentEvent) {
        lock.withLock {
            switch event {
            case .text(let t):
                if !wroteText {
                    out(textPrefix)
                    wroteText = true
                }
                out(t)
                midLine = !t.hasSuffix("\n")
            case .toolStarted(let name, let detail):
                note("> Running tool: \(name)\(detail.isEmpty ? "" : " (\(detail))")")
            case .toolFinished(let name, let error):
                if let error {
                    let first = error.split(whereSeparator: \.isNewline).first.map(String.init) ?? error
                    note("  \(name) failed: \(first.prefix(160))")
                }
            case .warning(let w):
                endLine()
                printError("⚠ \(w)")
            case .progress(let p):
                note(p.trimmingCharacters(in: .whitespaces))
            case .memoryFlushStarted:
                note("[saving memories before compaction…]")
            case .memoryFlushFinished:
                break
            case .compactionStarted:
                note("[compacting the conversation…]")
            case .compactionFinished(let before, let after):
                note("[compacted: ~\(before) → ~\(after) tokens]")
            }
        }
    }

    func finishLine() { lock.withLock { endLine() } }

    private func endLine() {
        if midLine {
            out("\n")
            midLine = false
        }
    }

    private func note(_ s: String) {
        endLine()
        if progressToStderr {
            printError(s)
        } else {
            out(s + "\n")
        }
    }

    private func out(_ s: String) {
        FileHandle.standardOutput.write(Data(s.utf8))
    }
}

/// The interactive loop of `localgpt chat`.
final class ChatREPL: @unchecked Sendable {
    let setup: AgentSetup
    let agent: Agent
    let printer = TurnPrinter(textPrefix: "LocalGPT: ", progressToStderr: false)
    private let turnRunning = Atomic<Bool>(false)
    private var signalSource: (any DispatchSourceSignal)?

    private let editor: LineEditor

    init(setup: AgentSetup, agent: Agent) {
        self.setup = setup
        self.agent = agent
        editor = LineEditor(
            historyFile: setup.context.paths.home + "/chat_history",
            secretMasker: setup.context.secretMasker
        )
    }

    func run() {
        installInterruptHandler()
        banner()
        while true {
            say("")
            guard let line = editor.readLine(prompt: "You: ") else {
                say("\nGoodbye!")
                break
            }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input.hasPrefix("/") {
                if !slashCommand(input) { break }
                continue
            }
            turn(input)
        }
        close(agent.session, removingIfEmpty: true)
        setup.host.shutdown()
    }

    /// Why messages were lost: sessions closed while messages could still not be written (a full
    /// disk). `chat` then exits 1.
    private(set) var saveFailures: [String] = []

    /// Closes a session the chat leaves (at the end, or for /new or /resume): what a failed append
    /// left unsaved is tried once more, and its lock is released. With `removingIfEmpty`, a file that
    /// holds its header and nothing else goes, so that `sessions list` is not filled with empty rows;
    /// a damaged file, or one with compaction records, stays.
    private func close(_ session: Session, removingIfEmpty: Bool) {
        do {
            try session.file?.close(removingIfEmpty: removingIfEmpty)
        } catch {
            printError("Error: \(error.message)")
            saveFailures.append(error.message)
        }
    }

    private func say(_ s: String, newline: Bool = true) {
        FileHandle.standardOutput.write(Data((s + (newline ? "\n" : "")).utf8))
    }

    private func banner() {
        let tools = agent.catalog.names.count
        let usable = setup.skills.filter { $0.blockedReason == nil }.count
        var line =
            "LocalGPT v\(LocalGPTVersion.current) | Model: \(agent.model) | Session: \(agent.session.id.prefix(8))"
        line += " | Tools: \(tools)"
        if usable > 0 { line += " | Skills: \(usable)" }
        say(line)
        if let notice = setup.policyNotice { printError(notice) }
        if let damage = agent.session.file?.damageNotice { printError("warning: \(damage)") }
        for problem in setup.skillProblems { printError("warning: skill: \(problem)") }
        for skill in setup.skills where skill.isUserInvocable && Self.builtinCommands.contains(skill.command) {
            printError(
                "warning: skill: the command /\(skill.command) of the skill \(skill.name) is a built-in one, which runs instead"
            )
        }
        if setup.welcome {
            say(
                "Welcome! This is a fresh workspace at \(setup.workspace). Tell me about yourself and "
                    + "what you are working on; I keep notes in MEMORY.md and daily logs."
            )
        }
        if !agent.session.messages.isEmpty {
            say("Resumed session with \(agent.session.messages.count) messages.")
            replay(last: 6)
        }
        say("Type /help for commands, /quit to exit.")
    }

    private func installInterruptHandler() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [self] in
            if turnRunning.load(ordering: .acquiring) {
                agent.cancel()
            } else {
                printError("\n(Use /quit or Ctrl-D to exit.)")
            }
        }
        source.resume()
        signalSource = source
    }

    private func hooks() -> TurnHooks {
        let printer = self.printer
        return TurnHooks(
            onEvent: { printer.handle($0) },
            approve: { request in
                printer.finishLine()
                // The whole of what is approved, every line, control characters shown: the progress line's
                // 57 characters hid the end of a command ("echo harmless…; rm -rf ./*").
                let shown = request.fullDetail.isEmpty ? request.detail : request.fullDetail
                var prompt = "Execute \(request.tool)"
                if shown.contains("\n") || shown.count > 60 {
                    prompt +=
                        ":\n"
                        + shown.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }
                        .joined(separator: "\n") + "\n"
                } else if !shown.isEmpty {
                    prompt += " (\(shown))"
                }
                FileHandle.standardOutput.write(Data("\(prompt)? [y/N] ".utf8))
                let answer = standardInputLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
                return answer == "y" || answer == "yes"
            }
        )
    }

    private func turn(_ input: String) {
        printer.reset()
        turnRunning.store(true, ordering: .releasing)
        defer { turnRunning.store(false, ordering: .releasing) }
        do {
            let result = try agent.runTurn(input, hooks: hooks())
            printer.finishLine()
            if result.outcome == .cancelled { say("[cancelled]") }
        } catch {
            printer.finishLine()
            printError("Error: \(error.message)")
        }
    }

    /// Handles a slash command; false means quit.
    private func slashCommand(_ input: String) -> Bool {
        let parts = input.dropFirst().split(separator: " ", maxSplits: 1).map(String.init)
        let command = parts.first?.lowercased() ?? ""
        let argument = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        switch command {
        case "help", "h", "?": help()
        case "quit", "exit", "q":
            say("Goodbye!")
            return false
        case "new":
            do {
                let previous = agent.session
                let saved = try agent.newSession(saveMemory: true)
                close(previous, removingIfEmpty: true)
                if let saved { say("Saved the conversation to \(saved).") }
                say("New session \(agent.session.id.prefix(8)); memory context reloaded.")
            } catch {
                printError("Error: \(error.message)")
            }
        case "sessions": listSessions()
        case "resume": resumeSession(argument)
        case "search": searchSessions(argument)
        case "model":
            if argument.isEmpty {
                say("Model: \(agent.model)")
            } else {
                let check = setup.checkModel(argument)
                if let error = check.error {
                    printError("Error: \(error) (the model stays \(agent.model))")
                } else {
                    agent.setModel(argument)
                    say("Model set to \(argument).")
                    if let warning = check.warning { printError("warning: \(warning)") }
                }
            }
        case "models":
            let models = setup.provider.availableModels()
            say(models.isEmpty ? "No provider plugin is loaded." : "Models served: " + models.joined(separator: ", "))
        case "context": showContext()
        case "status": showStatus()
        case "memory": searchMemory(argument)
        case "reindex":
            say("Reindexing runs with `localgpt memory reindex` (the index also updates itself when files change).")
        case "save":
            say(
                agent.session.file.map { "The session is saved after every message: \($0.path)" }
                    ?? "This session is not saved."
            )
        case "compact": compact()
        case "export": export(argument)
        case "clear":
            do {
                try agent.clear()
                say("Cleared the conversation (the session id stays).")
            } catch {
                printError("Error: \(error.message)")
            }
        case "skills": listSkills()
        default:
            if let skill = setup.skills.first(where: {
                $0.command == command || $0.command == Skills.command(for: command)
            }),
                skill.isUserInvocable
            {
                if let reason = skill.blockedReason {
                    printError("The skill \(skill.name) is unavailable: \(reason).")
                } else {
                    turn(Self.skillMessage(skill, request: argument))
                }
            } else {
                printError("Unknown command /\(command). Type /help for the list.")
            }
        }
        return true
    }

    /// The slash commands of the chat itself, which a skill's command cannot take over.
    static let builtinCommands: Set<String> = [
        "help", "h", "quit", "exit", "q", "new", "sessions", "resume", "search", "model", "models", "context",
        "status", "memory", "reindex", "save", "compact", "export", "clear", "skills",
    ]

    /// The user message that runs a skill: its instructions inline, delimited as data.
    static func skillMessage(_ skill: Skill, request: String) -> String {
        var s = "Use the skill \"\(skill.name)\" below"
        if !request.isEmpty { s += " with this request: \(request)" }
        s += ". Follow its instructions.\n\n" + ReadSkillTool.content(of: skill)
        return s
    }

    private func help() {
        say(
            """
            Commands:
              /help                 this list
              /quit                 exit (also Ctrl-D)
              /new                  save the conversation to memory and start a new session
              /sessions             recent sessions
              /resume <id>          continue a session (unique id prefix)
              /search <text>        find sessions containing text
              /model [name]         show or change the model
              /models               models the provider plugins serve
              /context              context window usage
              /status               session, model, tokens, compactions
              /memory <query>       search memory
              /reindex              how to rebuild the memory index
              /save                 where the session is saved
              /compact              summarise older messages now
              /export [file]        write the conversation as markdown
              /clear                clear the conversation
              /skills               available skills
            """
        )
        let commands = setup.skills.filter { $0.isUserInvocable && $0.blockedReason == nil }.prefix(5)
        if !commands.isEmpty {
            say("Skills: " + commands.map { "/\($0.command)" }.joined(separator: " "))
        }
    }

    private func listSessions() {
        let sessions = setup.store.list().prefix(10)
        if sessions.isEmpty {
            say("No saved sessions.")
            return
        }
        for s in sessions {
            let current = s.id == agent.session.id ? " *" : ""
            say(
                "\(s.id.prefix(8))  \(String(s.messageCount).leftPad(4)) msgs  "
                    + "\(AgentDates.localShort(milliseconds: s.updated))\(current)"
            )
            if !s.firstPreview.isEmpty { say("          B: \(s.firstPreview)") }
            if !s.lastPreview.isEmpty && s.lastPreview != s.firstPreview { say("          E: \(s.lastPreview)") }
        }
    }

    private func resumeSession(_ prefix: String) {
        do {
            let id = try setup.store.resolve(prefix: prefix)
            let previous = agent.session
            try agent.resume(id: id)
            close(previous, removingIfEmpty: previous.id != id)
            say("Resumed session \(id.prefix(8)) (\(agent.session.messages.count) messages).")
            if let damage = agent.session.file?.damageNotice { printError("warning: \(damage)") }
            replay(last: 6)
        } catch let error as SessionError {
            printError("Error: \(error.message)")
        } catch let error as AgentError {
            printError("Error: \(error.message)")
        } catch {
            printError("Error: \(error)")
        }
    }

    private func replay(last n: Int) {
        for m in agent.session.messages.filter({ ($0.role == .user || $0.role == .assistant) && $0.meta == nil })
            .suffix(n) where !m.content.isEmpty
        {
            say((m.role == .user ? "You: " : "LocalGPT: ") + m.content)
        }
    }

    private func searchSessions(_ query: String) {
        guard !query.isEmpty else {
            printError("Usage: /search <text>")
            return
        }
        let needle = query.lowercased()
        var hits: [(SessionSummary, Int)] = []
        for s in setup.store.list() {
            guard let bytes = FileManager.default.contents(atPath: s.path) else { continue }
            let text = String(decoding: bytes, as: UTF8.self).lowercased()
            let count = text.components(separatedBy: needle).count - 1
            if count > 0 { hits.append((s, count)) }
        }
        if hits.isEmpty {
            say("No session mentions \"\(query)\".")
            return
        }
        for (s, count) in hits.sorted(by: { $0.1 > $1.1 }).prefix(10) {
            say("\(s.id.prefix(8))  \(count) match\(count == 1 ? "" : "es")  \(s.firstPreview)")
        }
    }

    private func showContext() {
        let u = agent.contextUsage
        let pct = Double(u.used) * 100 / Double(max(1, u.window))
        say(
            "Context: ~\(u.used) of \(u.window) tokens (\(String(format: "%.0f", pct))%); "
                + "compaction at ~\(u.threshold); reserve \(u.reserve) for the reply, \(u.policyReserve) for the "
                + "security block."
        )
        if pct > 80 { say("Warning: the context is over 80% full; /compact summarises older messages.") }
    }

    private func showStatus() {
        let s = agent.session
        let u = agent.usage
        say("Session: \(s.id)")
        say("Model: \(agent.model)")
        say("Messages: \(s.messages.count) (~\(s.estimatedTokens) tokens)")
        say("Compactions: \(s.header.compactionCount) (with memory flush: \(s.header.memoryFlushCompactionCount))")
        say("Provider tokens this session: \(u.input) in, \(u.output) out")
        say("Tools: \(agent.catalog.names.joined(separator: ", "))")
        let blocked = agent.blockedTools
        if !blocked.isEmpty { say("Blocked tools: \(blocked.sorted().joined(separator: ", "))") }
        say("Memory search: \(setup.host.memory == nil ? "not available" : "available")")
    }

    private func searchMemory(_ query: String) {
        guard !query.isEmpty else {
            printError("Usage: /memory <query>")
            return
        }
        guard let memory = setup.host.memory else {
            say("Memory search is not available in this build yet.")
            return
        }
        do {
            let reply = try memory.search(request: ["query": .string(query), "limit": 10], source: "cli")
            let results = reply["results"]?.arrayValue ?? []
            if results.isEmpty { say("No results.") }
            for (i, r) in results.enumerated() {
                let file = r["file"]?.stringValue ?? "?"
                let a = r["line_start"]?.intValue ?? 0
                let b = r["line_end"]?.intValue ?? a
                let snippet = (r["snippet"]?.stringValue ?? "").split(whereSeparator: \.isNewline).joined(
                    separator: " "
                )
                say("\(i + 1). \(file):\(a)-\(b)  \(snippet.prefix(120))")
            }
        } catch {
            printError("Error: \(error.message)")
        }
    }

    private func compact() {
        printer.reset()
        turnRunning.store(true, ordering: .releasing)
        defer { turnRunning.store(false, ordering: .releasing) }
        do {
            if let outcome = try agent.compact(hooks: hooks()) {
                printer.finishLine()
                say("Token count: ~\(outcome.tokensBefore) → ~\(outcome.tokensAfter)")
            } else {
                say("Nothing to compact yet.")
            }
        } catch {
            printer.finishLine()
            printError("Error: \(error.message)")
        }
    }

    private func export(_ file: String) {
        let path = file.isEmpty ? "session-\(agent.session.id.prefix(8)).md" : file
        do {
            try SessionStore.markdown(agent.session, secretMasker: setup.store.secretMasker)
                .write(toFile: path, atomically: true, encoding: .utf8)
            say("Exported to \(path).")
        } catch {
            printError("Error: cannot write \(path): \(error.localizedDescription)")
        }
    }

    private func listSkills() {
        if setup.skills.isEmpty {
            say("No skills. Add one as <workspace>/skills/<name>/SKILL.md.")
            return
        }
        for s in setup.skills {
            let state = s.blockedReason.map { " [blocked: \($0)]" } ?? ""
            say("/\(s.command)  \(s.description) (\(s.source))\(state)")
        }
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
