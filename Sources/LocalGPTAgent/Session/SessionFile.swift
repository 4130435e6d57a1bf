//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Foundation
import Glibc
public import LocalGPTCore
import Synchronization

/// Why a session could not be created, read or written.
public struct SessionError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        private enum Base: Hashable, Sendable { case notFound, ambiguous, io }
        private let base: Base
        public static let notFound = Code(base: .notFound)
        public static let ambiguous = Code(base: .ambiguous)
        public static let io = Code(base: .io)
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    static func io(_ m: String) -> Self { .init(code: .io, message: m) }
}

/// The errno of a failed background flush, shared with the flush queue.
private final class FlushFailure: Sendable {
    let errno = Mutex<Int32>(0)
}

/// What a session file holds.
public struct SessionContents: Sendable {
    public var header: SessionHeader?
    public var messages: [ChatMessage]
    public var compactions: [CompactionRecord]
    /// Complete lines that were not understood (skipped).
    public var skippedLines: Int
    /// Bytes after the last newline that did not form a complete line (a write cut by a crash).
    public var tornBytes: Int
    /// The file ends with a complete line that lacks its newline.
    public var isUnterminated: Bool = false

    /// What could not be read, for a warning ("2 lines that could not be read and 40 bytes of a
    /// cut-off last line"); nil when the file was read whole.
    public var damage: String? {
        var parts: [String] = []
        if skippedLines > 0 {
            parts.append("\(skippedLines) line\(skippedLines == 1 ? "" : "s") that could not be read")
        }
        if tornBytes > 0 { parts.append("\(tornBytes) byte\(tornBytes == 1 ? "" : "s") of a cut-off last line") }
        return parts.isEmpty ? nil : parts.joined(separator: " and ")
    }
}

/// A session transcript on disk: JSONL, mode 0600, one line per message, each appended with one
/// `write`. A compaction rewrites the file atomically (temporary file, fsync, rename).
///
/// Every message is written through the ``SecretMasker``: a configured secret in its text or in a
/// tool call's arguments is stored as `********`. The caller's message is not changed (the agent
/// keeps the conversation as the model saw it); the file, and so a resumed session, holds the mask.
///
/// Durability is pipelined. The `write` is done before `append` returns, so a crash of the process
/// loses nothing. The `fdatasync` that puts the message on the disk starts at once on a background
/// queue, and the next append first waits for it: at any moment at most the newest message is not
/// yet on the disk, so a power loss loses at most the message in flight. The flush overlaps the
/// provider's call (after the user's message) and the user's reading and typing (after the reply),
/// instead of adding ~4 ms per message to each turn. A flush failure is thrown by the next append
/// (after that append's own line is written) or by ``waitUntilDurable()``; closing the file (deinit)
/// waits for the last flush.
///
/// Not thread-safe: the agent serialises access.
public final class SessionFile {
    public let path: String
    /// Whether each append is flushed to disk (`fdatasync`).
    public let isDurable: Bool
    /// Hides the configured secret values in what is written.
    public let secretMasker: SecretMasker
    private var fd: Int32
    /// The flush of the newest append, when one was started and not yet waited for.
    private var pendingFlush: DispatchWorkItem?
    /// The errno of a failed background flush, until it is reported.
    private let flushFailure = FlushFailure()
    private static let flushQueue = DispatchQueue(label: "org.localgpt.session-flush", qos: .userInitiated)

    /// What could not be read when the file was opened (``SessionContents/damage``), and where the
    /// file as it was is kept, for the warning the CLI prints.
    public private(set) var damageNotice: String?
    /// Lines the file holds that were not understood: a rewrite (compaction) would drop them, so
    /// the file is copied aside first.
    private var holdsUnreadLines = false
    /// The copy of the damaged file, once made.
    public private(set) var keptCopy: String?

    private init(path: String, fd: Int32, durable: Bool, secretMasker: SecretMasker) {
        self.path = path
        self.fd = fd
        self.isDurable = durable
        self.secretMasker = secretMasker
    }

    deinit {
        pendingFlush?.wait()
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Waits until every appended message is on the disk.
    ///
    /// - Throws: ``SessionError`` when a flush failed.
    public func waitUntilDurable() throws(SessionError) {
        if let pending = pendingFlush {
            pending.wait()
            pendingFlush = nil
        }
        let failure = flushFailure.errno.withLock { e in
            defer { e = 0 }
            return e
        }
        if failure != 0 { throw .io("cannot flush \(path): \(String(cString: strerror(failure)))") }
    }

    /// Starts the flush of what was just written; the previous flush has been waited for.
    private func startFlush() {
        let fd = self.fd
        let work = DispatchWorkItem { [flushFailure] in
            if fdatasync(fd) != 0 {
                let e = errno
                flushFailure.errno.withLock { $0 = e }
            }
        }
        pendingFlush = work
        Self.flushQueue.async(execute: work)
    }

    /// Creates a new file holding the header line; every message written to it goes through
    /// `secretMasker`.
    ///
    /// - Throws: ``SessionError`` when the file exists or cannot be written.
    public static func create(
        path: String,
        header: SessionHeader,
        durable: Bool = true,
        secretMasker: SecretMasker = SecretMasker()
    ) throws(SessionError)
        -> SessionFile
    {
        let dir = (path as NSString).deletingLastPathComponent
        guard AgentFileIO.makeDirectories(dir) else { throw .io("cannot create \(dir)") }
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(path): \(AgentFileIO.errnoText())") }
        fchmod(fd, 0o600)
        let file = SessionFile(path: path, fd: fd, durable: durable, secretMasker: secretMasker)
        try file.appendLine(SessionCodec.encode(header))
        if durable { AgentFileIO.syncDirectory(dir) }
        return file
    }

    /// Opens an existing file for appending and returns what it holds. A torn last line (a crash
    /// mid-write) is cut off first, so the next append starts on a fresh line; the file as it was is
    /// copied aside before (``keptCopy``), so that nothing is lost when it was more than a torn write.
    /// A file with lines that could not be read is copied aside before the first rewrite. Every
    /// message written from now on goes through `secretMasker`.
    ///
    /// - Throws: ``SessionError`` (`.notFound`, `.io`).
    public static func open(
        path: String,
        durable: Bool = true,
        secretMasker: SecretMasker = SecretMasker()
    ) throws(SessionError) -> (SessionFile, SessionContents) {
        let contents = try read(path: path)
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(AgentFileIO.errnoText())") }
        let file = SessionFile(path: path, fd: fd, durable: durable, secretMasker: secretMasker)
        file.holdsUnreadLines = contents.skippedLines > 0
        if contents.tornBytes > 0 {
            if file.keepCopy() {
                var info = stat()
                if fstat(fd, &info) == 0 { ftruncate(fd, info.st_size - off_t(contents.tornBytes)) }
            } else {
                // No copy, no cut: the torn bytes stay, and the next message starts on its own line.
                file.markUnterminated()
            }
        }
        if contents.isUnterminated { file.markUnterminated() }
        if let damage = contents.damage {
            file.damageNotice =
                "\(path) is damaged: \(damage), left out of the conversation"
                + (file.keptCopy.map { "; the file as it was is kept in \($0)" } ?? "; the file itself keeps them")
        }
        return (file, contents)
    }

    /// Copies the file as it is now to `<path>.damaged-<time>` (mode 0600), once.
    private func keepCopy() -> Bool {
        if keptCopy != nil { return true }
        guard let bytes = AgentFileIO.read(path) else { return false }
        let stamp = AgentDates.rfc3339(milliseconds: ChatMessage.now()).replacingOccurrences(of: ":", with: "")
        let copy = "\(path).damaged-\(stamp)"
        guard AgentFileIO.writeAtomically(bytes, to: copy, mode: 0o600) else { return false }
        keptCopy = copy
        return true
    }

    /// Reads a session file: every complete line that parses is kept; a final line without its newline
    /// is kept when it is complete JSON, and counted as torn otherwise.
    ///
    /// - Throws: ``SessionError`` (`.notFound`, `.io`).
    public static func read(path: String) throws(SessionError) -> SessionContents {
        guard let bytes = AgentFileIO.read(path) else {
            if !AgentFileIO.exists(path) { throw SessionError(code: .notFound, message: "no session file \(path)") }
            throw .io("cannot read \(path): \(AgentFileIO.errnoText())")
        }
        var contents = SessionContents(header: nil, messages: [], compactions: [], skippedLines: 0, tornBytes: 0)
        var start = 0
        let newline = UInt8(ascii: "\n")
        func take(_ line: ArraySlice<UInt8>) -> Bool {
            guard !line.isEmpty else { return true }
            switch SessionCodec.decode(String(decoding: line, as: UTF8.self)) {
            case .header(let h)?: if contents.header == nil { contents.header = h }
            case .message(let m)?: contents.messages.append(m)
            case .compaction(let r)?: contents.compactions.append(r)
            case nil: return false
            }
            return true
        }
        while start < bytes.count {
            guard let end = bytes[start...].firstIndex(of: newline) else {
                // No newline: the last write was cut. Keep it only if it is a whole document.
                if !take(bytes[start...]) { contents.tornBytes = bytes.count - start }
                break
            }
            if !take(bytes[start..<end]) { contents.skippedLines += 1 }
            start = end + 1
        }
        if contents.tornBytes == 0, let last = bytes.last, last != newline { contents.isUnterminated = true }
        return contents
    }

    /// Appends one message.
    ///
    /// - Throws: ``SessionError`` when the write or the flush fails.
    public func append(_ message: ChatMessage) throws(SessionError) {
        try appendLine(SessionCodec.encode(secretMasker.mask(message)))
    }

    /// Appends several messages with one write and one flush (the results of one tool round).
    ///
    /// - Throws: ``SessionError`` when the write or the flush fails.
    public func append(contentsOf messages: [ChatMessage]) throws(SessionError) {
        guard !messages.isEmpty else { return }
        try appendLine(messages.map { SessionCodec.encode(secretMasker.mask($0)) }.joined(separator: "\n"))
    }

    /// Appends one compaction record.
    ///
    /// - Throws: ``SessionError`` when the write fails.
    public func append(_ record: CompactionRecord) throws(SessionError) {
        try appendLine(SessionCodec.encode(record))
    }

    private var needsLeadingNewline = false

    func markUnterminated() { needsLeadingNewline = true }

    private func appendLine(_ line: String) throws(SessionError) {
        // The previous message must be on the disk before this one is written (at most one in
        // flight). If its flush failed, this line is still written, and the failure is thrown after.
        let previousFlush = Result { () throws(SessionError) in try waitUntilDurable() }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(line.utf8.count + 2)
        if needsLeadingNewline { bytes.append(UInt8(ascii: "\n")) }
        bytes.append(contentsOf: line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        guard fd >= 0, AgentFileIO.writeAll(fd, bytes) else {
            throw .io("cannot append to \(path): \(AgentFileIO.errnoText())")
        }
        needsLeadingNewline = false
        if isDurable { startFlush() }
        try previousFlush.get()
    }

    /// Replaces the whole file atomically (compaction): the header, the compaction records, the messages.
    ///
    /// - Throws: ``SessionError`` when the new file cannot be written; the old one is then untouched.
    public func rewrite(
        header: SessionHeader,
        compactions: [CompactionRecord],
        messages: [ChatMessage]
    )
        throws(SessionError)
    {
        // The new file is written and flushed whole: an earlier flush failure no longer matters.
        try? waitUntilDurable()
        // Lines that could not be read would be gone: the file as it is goes aside first.
        if holdsUnreadLines {
            guard keepCopy() else {
                throw .io(
                    "cannot rewrite \(path): it holds lines that could not be read, and it could not be copied aside"
                )
            }
            holdsUnreadLines = false
        }
        var text = SessionCodec.encode(header) + "\n"
        for r in compactions { text += SessionCodec.encode(r) + "\n" }
        for m in messages { text += SessionCodec.encode(secretMasker.mask(m)) + "\n" }
        guard AgentFileIO.writeAtomically(Array(text.utf8), to: path, mode: 0o600) else {
            throw .io("cannot rewrite \(path): \(AgentFileIO.errnoText())")
        }
        let newFD = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard newFD >= 0 else { throw .io("cannot reopen \(path): \(AgentFileIO.errnoText())") }
        if fd >= 0 { Glibc.close(fd) }
        fd = newFD
        needsLeadingNewline = false
    }
}
