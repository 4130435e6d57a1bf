//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
public import LocalGPTCore

/// One line of `localgpt sessions list`.
public struct SessionSummary: Sendable, Equatable {
    public var id: String
    public var path: String
    /// Milliseconds since 1970.
    public var created: Int64
    public var updated: Int64
    public var messageCount: Int
    public var compactionCount: Int
    /// The first user message and the last user or assistant message, shortened.
    public var firstPreview: String
    public var lastPreview: String
    /// What of the file could not be read (``SessionContents/damage``), if anything.
    public var damage: String? = nil
    /// The file is empty (no header, no message).
    public var isEmpty: Bool = false
}

/// The sessions of one agent: `<home>/agents/<agent>/sessions/<uuid>.jsonl` plus `sessions.json`, the
/// index (session key → current session id, counters), written atomically with mode 0600.
///
/// The sessions it creates and opens write every message through ``secretMasker``
/// (``SessionFile``), and its previews and markdown exports are masked with it too.
public struct SessionStore: Sendable {
    public let directory: String
    public let isDurable: Bool
    /// Hides the configured secret values in what is written and shown.
    public let secretMasker: SecretMasker

    /// - Parameters:
    ///   - paths: the LocalGPT home.
    ///   - agent: the agent id (`main` for the CLI).
    ///   - durable: flush each appended message to disk (`fdatasync`).
    ///   - secretMasker: the configuration's secret values (``SecretMasker/init(configuration:)``).
    public init(
        paths: LocalGPTPaths,
        agent: String = "main",
        durable: Bool = true,
        secretMasker: SecretMasker = SecretMasker()
    ) {
        self.init(
            directory: paths.home + "/agents/" + agent + "/sessions",
            durable: durable,
            secretMasker: secretMasker
        )
    }

    public init(directory: String, durable: Bool = true, secretMasker: SecretMasker = SecretMasker()) {
        self.directory = directory
        self.isDurable = durable
        self.secretMasker = secretMasker
    }

    public var indexFile: String { directory + "/sessions.json" }

    public func path(for id: String) -> String { directory + "/" + id + ".jsonl" }

    /// A new random (v4) UUID, lower-case.
    public static func newID() -> String { UUID().uuidString.lowercased() }

    /// Creates a new session file.
    ///
    /// - Throws: ``SessionError`` when it cannot be written.
    public func create(cwd: String) throws(SessionError) -> Session {
        let header = SessionHeader(id: Self.newID(), created: ChatMessage.now(), cwd: cwd)
        let file = try SessionFile.create(
            path: path(for: header.id),
            header: header,
            durable: isDurable,
            secretMasker: secretMasker
        )
        return Session(header: header, file: file)
    }

    /// Opens a session by id for appending, taking its lock (``SessionFile``: one writer per
    /// session). A file whose header is missing (cut) gets one derived from the file name and its
    /// first message's time (else the file's modification time).
    ///
    /// - Throws: ``SessionError`` (`.notFound`, `.locked` when another process has it open, `.io`).
    public func open(id: String) throws(SessionError) -> Session {
        try open(id: id, holding: nil)
    }

    /// ``open(id:)`` with the lock this process already holds on the session (it reopens its own
    /// current session), or nil to take it.
    func open(id: String, holding lock: SessionLock?) throws(SessionError) -> Session {
        let path = path(for: id)
        let (file, contents) = try SessionFile.open(
            path: path,
            durable: isDurable,
            secretMasker: secretMasker,
            holding: lock
        )
        var header = contents.header ?? SessionHeader(id: id, created: 0, cwd: "")
        if header.created <= 0 { header.created = contents.created ?? AgentFileIO.modificationTime(path) }
        return Session(header: header, messages: contents.messages, compactions: contents.compactions, file: file)
    }

    /// A session's header as `sessions show|export` print it: the file's, else one derived from the
    /// id, dated by its first message or the file's modification time (never 1970).
    public func header(for id: String, _ contents: SessionContents) -> SessionHeader {
        var header = contents.header ?? SessionHeader(id: id, created: 0, cwd: "")
        if header.created <= 0 { header.created = contents.created ?? AgentFileIO.modificationTime(path(for: id)) }
        return header
    }

    /// Every session, newest first (by last change). Files whose name is shorter than 32 characters
    /// are not sessions (the reference's rule). A time the file does not tell is 0 (the CLI shows
    /// `unknown`).
    public func list() -> [SessionSummary] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var out: [SessionSummary] = []
        for name in names where name.hasSuffix(".jsonl") {
            let id = String(name.dropLast(6))
            guard id.count >= 32, let contents = try? SessionFile.read(path: path(for: id)) else { continue }
            let conversation = contents.messages.filter { $0.role == .user || $0.role == .assistant }
            let first = contents.messages.first { $0.role == .user && $0.meta == nil }?.content ?? ""
            let last = conversation.last { !$0.content.isEmpty }?.content ?? ""
            let modified = AgentFileIO.modificationTime(path(for: id))
            out.append(
                SessionSummary(
                    id: id,
                    path: path(for: id),
                    created: contents.created ?? modified,
                    updated: modified,
                    messageCount: contents.messages.count,
                    compactionCount: contents.header?.compactionCount ?? 0,
                    firstPreview: Self.preview(secretMasker.mask(first)),
                    lastPreview: Self.preview(secretMasker.mask(last)),
                    damage: contents.damage,
                    isEmpty: contents.isEmpty
                )
            )
        }
        return out.sorted { ($0.updated, $0.created, $0.id) > ($1.updated, $1.created, $1.id) }
    }

    /// One line, at most 57 characters plus an ellipsis.
    public static func preview(_ text: String, length: Int = 57) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > length ? String(line.prefix(length)) + "…" : line
    }

    /// The session id a unique prefix names.
    ///
    /// - Throws: ``SessionError`` (`.notFound`, `.ambiguous` naming the candidates).
    public func resolve(prefix: String) throws(SessionError) -> String {
        let p = prefix.lowercased()
        guard !p.isEmpty else { throw SessionError(code: .notFound, message: "give a session id or a prefix of one") }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let ids = names.filter { $0.hasSuffix(".jsonl") }.map { String($0.dropLast(6)) }.filter { $0.count >= 32 }
        if ids.contains(p) { return p }
        let matches = ids.filter { $0.hasPrefix(p) }.sorted()
        switch matches.count {
        case 0: throw SessionError(code: .notFound, message: "no session starts with \"\(prefix)\"")
        case 1: return matches[0]
        default:
            throw SessionError(
                code: .ambiguous,
                message: "\"\(prefix)\" matches \(matches.count) sessions: "
                    + matches.prefix(5).map { String($0.prefix(8)) }.joined(separator: ", ") + "; give more characters"
            )
        }
    }

    /// The session to resume: the index's `main` entry when its file exists, else the newest.
    public func latestID(key: String = "main") -> String? {
        if let id = readIndex()[key]?["sessionId"]?.stringValue, AgentFileIO.exists(path(for: id)) { return id }
        return list().first?.id
    }

    // MARK: sessions.json

    public func readIndex() -> [String: JSONValue] {
        SessionIndexWriter.drain()
        return Self.readIndexFile(indexFile)
    }

    static func readIndexFile(_ indexFile: String) -> [String: JSONValue] {
        guard let bytes = AgentFileIO.read(indexFile), let doc = try? JSONValue(parsing: Data(bytes)) else {
            return [:]
        }
        return doc.objectValue ?? [:]
    }

    /// Records `session` as the current one under `key` with its counters (and the provider's own session id,
    /// when it has one).
    ///
    /// The write leaves the caller's path: replacing sessions.json by rename costs 1-4 ms of I/O on ext4 (a
    /// rename over a file flushes the new file's data first), twice the rest of a turn's host work. Updates go
    /// to one writer queue in order; ``readIndex()`` waits for them, and they are flushed when the process
    /// exits normally. The index is derived data: after a crash ``latestID(key:)`` falls back to the newest
    /// session file.
    public func updateIndex(
        _ session: Session,
        key: String = "main",
        usage: TokenUsage = TokenUsage(),
        providerSession: String? = nil
    ) {
        var entry: [String: JSONValue] = [
            "sessionId": .string(session.id),
            "updatedAt": .int(ChatMessage.now()),
            "compactionCount": .int(Int64(session.header.compactionCount)),
            "memoryFlushCompactionCount": .int(Int64(session.header.memoryFlushCompactionCount)),
            "inputTokens": .int(Int64(usage.input)),
            "outputTokens": .int(Int64(usage.output)),
            "totalTokens": .int(Int64(usage.total)),
        ]
        if let providerSession { entry["providerSession"] = .string(providerSession) }
        let (directory, indexFile, entryValue) = (self.directory, self.indexFile, JSONValue.object(entry))
        SessionIndexWriter.submit {
            guard AgentFileIO.makeDirectories(directory) else { return }
            var index = Self.readIndexFile(indexFile)
            index[key] = entryValue
            _ = AgentFileIO.writeAtomically(
                Array((JSONValue.object(index).encoded(pretty: true) + "\n").utf8),
                to: indexFile,
                durable: false  // atomic, not flushed: the index is derived
            )
        }
    }

    /// Waits until every index update submitted so far is on disk.
    public static func flushIndexWrites() { SessionIndexWriter.drain() }

    // MARK: Export

    /// The conversation as markdown: user and assistant turns, tool calls as one line each; the
    /// secrets of `secretMasker` masked (before anything is shortened, so no cut hides one from it).
    public static func markdown(_ session: Session, secretMasker: SecretMasker = SecretMasker()) -> String {
        var out = "# Session \(session.id)\n\n"
        out += "- Created: \(AgentDates.localDateTime(milliseconds: session.header.created))\n"
        out += "- Messages: \(session.messages.count)\n"
        if session.header.compactionCount > 0 { out += "- Compactions: \(session.header.compactionCount)\n" }
        out += "\n"
        for message in session.messages {
            let m = secretMasker.mask(message)
            switch m.role {
            case .system:
                out += "## Summary of earlier messages\n\n\(m.content)\n\n"
            case .user:
                out += "## User\n\n\(m.content)\n\n"
            case .assistant:
                out += "## Assistant\n\n"
                if !m.content.isEmpty { out += m.content + "\n\n" }
                for c in m.toolCalls { out += "> tool call `\(c.name)` \(String(c.argumentsJSON.prefix(200)))\n\n" }
            case .tool:
                let body = ToolOutputSanitizer.unwrap(m.content)
                let shown = body.count > 2000 ? String(body.prefix(2000)) + "\n…" : body
                out += "> result of `\(m.toolName ?? "tool")`\(m.isError ? " (error)" : ""):\n\n```\n\(shown)\n```\n\n"
            }
        }
        return out
    }
}

/// The one queue that writes sessions.json files, in submission order, off the agent's turn.
enum SessionIndexWriter {
    private static let queue: DispatchQueue = {
        // Flush pending index writes when the process exits normally (ArgumentParser's exit, return from main).
        atexit { SessionIndexWriter.drain() }
        return DispatchQueue(label: "localgpt.sessions-index")
    }()

    static func submit(_ work: @escaping @Sendable () -> Void) { queue.async(execute: work) }

    static func drain() { queue.sync {} }
}
