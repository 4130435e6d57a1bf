//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// A conversation: its messages in memory, and the file they are appended to (none for an
/// ephemeral session such as `localgpt ask`). Keeps a running token estimate.
///
/// Not thread-safe: the ``Agent`` owns it and serialises every access.
public final class Session {
    public private(set) var header: SessionHeader
    public private(set) var messages: [ChatMessage]
    public private(set) var compactions: [CompactionRecord]
    /// The backing file; nil for an ephemeral session.
    public let file: SessionFile?
    private var tokenEstimates: [Int]
    /// The sum of the messages' token estimates.
    public private(set) var estimatedTokens: Int

    public init(
        header: SessionHeader,
        messages: [ChatMessage] = [],
        compactions: [CompactionRecord] = [],
        file: SessionFile?
    ) {
        self.header = header
        self.messages = messages
        self.compactions = compactions
        self.file = file
        tokenEstimates = messages.map(\.estimatedTokens)
        estimatedTokens = tokenEstimates.reduce(0, +)
    }

    public var id: String { header.id }

    /// A session kept in memory only.
    public static func ephemeral(id: String = SessionStore.newID(), cwd: String = "") -> Session {
        Session(header: SessionHeader(id: id, created: ChatMessage.now(), cwd: cwd), file: nil)
    }

    /// Appends a message (and writes it through to the file).
    ///
    /// - Throws: ``SessionError`` when the file write fails; the message is kept in memory anyway.
    public func append(_ message: ChatMessage) throws(SessionError) {
        messages.append(message)
        let t = message.estimatedTokens
        tokenEstimates.append(t)
        estimatedTokens += t
        try file?.append(message)
    }

    /// Appends messages that belong together (one tool round's results) with one write and one flush.
    ///
    /// - Throws: ``SessionError`` when the file write fails; the messages are kept in memory anyway.
    public func append(contentsOf newMessages: [ChatMessage]) throws(SessionError) {
        for m in newMessages {
            messages.append(m)
            let t = m.estimatedTokens
            tokenEstimates.append(t)
            estimatedTokens += t
        }
        try file?.append(contentsOf: newMessages)
    }

    /// The token estimate of the messages in `range`.
    public func estimatedTokens(in range: Range<Int>) -> Int {
        tokenEstimates[range].reduce(0, +)
    }

    public func estimatedTokens(at index: Int) -> Int { tokenEstimates[index] }

    /// Replaces every message (compaction) and records it; the file is rewritten atomically.
    ///
    /// - Throws: ``SessionError`` when the rewrite fails; memory is updated only after it succeeded.
    public func replaceMessages(
        _ newMessages: [ChatMessage],
        header newHeader: SessionHeader,
        record: CompactionRecord?
    ) throws(SessionError) {
        var records = compactions
        if let record { records.append(record) }
        try file?.rewrite(header: newHeader, compactions: records, messages: newMessages)
        header = newHeader
        compactions = records
        messages = newMessages
        tokenEstimates = newMessages.map(\.estimatedTokens)
        estimatedTokens = tokenEstimates.reduce(0, +)
    }

    /// Drops every message (`/clear`), keeping the session id.
    ///
    /// - Throws: ``SessionError`` when the file cannot be rewritten.
    public func clear() throws(SessionError) {
        try replaceMessages([], header: header, record: nil)
    }
}
