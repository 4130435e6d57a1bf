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
        private enum Base: Hashable, Sendable { case notFound, ambiguous, io, locked }
        private let base: Base
        public static let notFound = Code(base: .notFound)
        public static let ambiguous = Code(base: .ambiguous)
        public static let io = Code(base: .io)
        /// Another process (or another open session of this one) writes the session.
        public static let locked = Code(base: .locked)
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
    /// The size of the file as it was read.
    public var byteCount: Int = 0

    /// The file holds nothing at all (emptied by hand, or left by a create that could not write).
    public var isEmpty: Bool { byteCount == 0 }

    /// What could not be read, for a warning ("2 lines that could not be read and 40 bytes of a
    /// cut-off last line"); `the file is empty` for an empty file; nil when the file was read whole.
    public var damage: String? {
        if isEmpty { return "the file is empty" }
        var parts: [String] = []
        if skippedLines > 0 {
            parts.append("\(skippedLines) line\(skippedLines == 1 ? "" : "s") that could not be read")
        }
        if tornBytes > 0 { parts.append("\(tornBytes) byte\(tornBytes == 1 ? "" : "s") of a cut-off last line") }
        if header == nil { parts.append("no session header line") }
        return parts.isEmpty ? nil : parts.joined(separator: " and ")
    }

    /// When the session began, as well as the file tells: its header's time, else its first
    /// message's, else nil (the caller falls back to the file's modification time).
    public var created: Int64? {
        if let c = header?.created, c > 0 { return c }
        if let t = messages.first?.timestamp, t > 0 { return t }
        return nil
    }
}

/// A session transcript on disk: JSONL, mode 0600, one line per message, each appended with one
/// `write`. A compaction rewrites the file atomically (temporary file, fsync, rename).
///
/// **One writer per session.** ``create(path:header:durable:secretMasker:)`` and
/// ``open(path:durable:secretMasker:)`` take the session's lock (``SessionLock``, a `flock` the
/// kernel drops with its holder) before they read or write anything, and hold it until
/// ``close(removingIfEmpty:)`` or the end of the process; another open of the session fails with
/// ``SessionError/Code/locked``, naming the holder's pid. So no two processes interleave their lines,
/// a compaction's rewrite never drops another process's messages, and a torn last line is cut off
/// only while nobody else can be appending. ``read(path:)`` (`sessions list|show|export`) takes no lock.
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
/// A failed append (a full disk) leaves the file as it was: whatever part of the line the write
/// put there is cut off again. The line is kept and written, in order, before the next one, in the
/// same `write` (or by a rewrite); ``unsavedLineCount`` says how many wait, and
/// ``close(removingIfEmpty:)`` tries them once more and throws when they still cannot be written.
///
/// Not thread-safe: the agent serialises access.
public final class SessionFile {
    public let path: String
    /// Whether each append is flushed to disk (`fdatasync`).
    public let isDurable: Bool
    /// Hides the configured secret values in what is written.
    public let secretMasker: SecretMasker
    private var fd: Int32
    /// The session's lock; shared with a reopening of the session by this same holder, nil once closed.
    private(set) var lock: SessionLock?
    /// The flush of the newest append, when one was started and not yet waited for.
    private var pendingFlush: DispatchWorkItem?
    /// The errno of a failed background flush, until it is reported.
    private let flushFailure = FlushFailure()
    private static let flushQueue = DispatchQueue(label: "org.localgpt.session-flush", qos: .userInitiated)

    /// Lines whose write failed, oldest first: written before the next line, in the same `write`.
    private var unsavedLines: [String] = []
    /// Why the last write failed (strerror), for the messages about unsaved lines.
    private var lastWriteError = ""

    /// What could not be read when the file was opened (``SessionContents/damage``), and where the
    /// file as it was is kept, for the warning the CLI prints.
    public private(set) var damageNotice: String?
    /// Lines the file holds that were not understood: a rewrite (compaction) would drop them, so
    /// the file is copied aside first.
    private var holdsUnreadLines = false
    /// The copy of the damaged file, once made.
    public private(set) var keptCopy: String?

    private init(path: String, fd: Int32, lock: SessionLock, durable: Bool, secretMasker: SecretMasker) {
        self.path = path
        self.fd = fd
        self.lock = lock
        self.isDurable = durable
        self.secretMasker = secretMasker
    }

    deinit {
        pendingFlush?.wait()
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Lines (messages, records) that could not be written yet: they go with the next append.
    public var unsavedLineCount: Int { unsavedLines.count }

    /// Writes the lines a failed append left unsaved, if any, and waits until the file is on the disk.
    ///
    /// - Throws: ``SessionError`` when they still cannot be written, or a flush failed.
    public func saveUnsaved() throws(SessionError) {
        try waitUntilDurable()
        guard !unsavedLines.isEmpty else { return }
        guard fd >= 0 else { throw .io("cannot append to \(path): the session is closed") }
        try writeUnsaved()
        if isDurable { startFlush() }
        try waitUntilDurable()
    }

    /// Whether ``close(removingIfEmpty:)`` has run.
    public var isClosed: Bool { fd < 0 }

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

    /// Creates a new file holding the header line, and takes the session's lock; every message
    /// written to it goes through `secretMasker`. When the header cannot be written (a full disk),
    /// the file is removed again: no empty session is left behind.
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
        let lock = try SessionLock.acquire(sessionPath: path)
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(path): \(AgentFileIO.errnoText())") }
        fchmod(fd, 0o600)
        let file = SessionFile(path: path, fd: fd, lock: lock, durable: durable, secretMasker: secretMasker)
        do {
            try file.appendLine(SessionCodec.encode(header))
        } catch {
            // Created here, under the lock, and holding nothing: it goes.
            unlink(path)
            file.unsavedLines.removeAll()
            try? file.close()
            throw .io("cannot create \(path): \(file.lastWriteError.isEmpty ? error.message : file.lastWriteError)")
        }
        if durable { AgentFileIO.syncDirectory(dir) }
        return file
    }

    /// Opens an existing file for appending and returns what it holds, after taking the session's
    /// lock (nothing is read or cut before). A torn last line (a crash mid-write) is cut off first, so
    /// the next append starts on a fresh line; the file as it was is copied aside before
    /// (``keptCopy``), so that nothing is lost when it was more than a torn write. A file with lines
    /// that could not be read is copied aside before the first rewrite. An empty file (emptied by
    /// hand) gets a header line again, and says so in ``damageNotice``. Every message written from
    /// now on goes through `secretMasker`.
    ///
    /// - Throws: ``SessionError`` (`.notFound`, `.locked` when another process has the session open,
    ///   `.io`).
    public static func open(
        path: String,
        durable: Bool = true,
        secretMasker: SecretMasker = SecretMasker()
    ) throws(SessionError) -> (SessionFile, SessionContents) {
        try open(path: path, durable: durable, secretMasker: secretMasker, holding: nil)
    }

    /// ``open(path:durable:secretMasker:)`` with the lock this process already holds on the session
    /// (a session reopened by its own holder), or nil to take it.
    static func open(
        path: String,
        durable: Bool,
        secretMasker: SecretMasker,
        holding held: SessionLock?
    ) throws(SessionError) -> (SessionFile, SessionContents) {
        // A missing session is said so, and leaves no lock file behind.
        guard AgentFileIO.exists(path) else {
            throw SessionError(code: .notFound, message: "no session file \(path)")
        }
        let lock: SessionLock
        if let held { lock = held } else { lock = try SessionLock.acquire(sessionPath: path) }
        var contents = try read(path: path)
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(AgentFileIO.errnoText())") }
        let file = SessionFile(path: path, fd: fd, lock: lock, durable: durable, secretMasker: secretMasker)
        if contents.isEmpty {
            // Nothing to lose: the header goes back, and the session goes on from there.
            let id = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            let header = SessionHeader(id: id, created: ChatMessage.now(), cwd: "")
            try file.appendLine(SessionCodec.encode(header))
            contents.header = header
            file.damageNotice = "\(path) was empty (no session header, no message); it goes on as a new session"
            return (file, contents)
        }
        file.holdsUnreadLines = contents.skippedLines > 0
        if contents.tornBytes > 0 {
            // Cut exactly the torn bytes that were read, and only from the file as it was read (the
            // lock keeps other writers out; this checks it).
            var info = stat()
            let cut =
                fstat(fd, &info) == 0 && Int(info.st_size) == contents.byteCount && file.keepCopy()
                && ftruncate(fd, off_t(contents.byteCount - contents.tornBytes)) == 0
            // No copy, no cut: the torn bytes stay, and the next message starts on its own line.
            if !cut { file.markUnterminated() }
        }
        if contents.isUnterminated { file.markUnterminated() }
        if let damage = contents.damage {
            file.damageNotice =
                "\(path) is damaged: \(damage), left out of the conversation"
                + (file.keptCopy.map { "; the file as it was is kept in \($0)" } ?? "; the file itself keeps them")
        }
        return (file, contents)
    }

    /// Writes the lines still unsaved, waits until everything is on the disk, and lets the session
    /// go: the file is closed and the lock released (unless this process reopened the session and
    /// still holds it). With `removingIfEmpty`, a file that holds its header and nothing else (no
    /// message, no compaction record, nothing unreadable) is removed first. Closing twice does nothing.
    ///
    /// - Throws: ``SessionError`` when lines could still not be written (they are lost; the message
    ///   says how many and why), or a flush failed. The file is closed all the same.
    public func close(removingIfEmpty: Bool = false) throws(SessionError) {
        guard fd >= 0 else { return }
        var failure: SessionError? = nil
        if !unsavedLines.isEmpty {
            let count = unsavedLines.count
            do {
                try writeUnsaved()
                if isDurable { startFlush() }
            } catch {
                failure = .io(
                    "\(count) message\(count == 1 ? "" : "s") could not be saved to \(path): \(lastWriteError)"
                )
            }
        }
        do {
            try waitUntilDurable()
        } catch {
            failure = failure ?? error
        }
        // A header line is at most a few hundred bytes plus its cwd (PATH_MAX): a larger file holds
        // more, and is not read again just to find that out.
        var info = stat()
        if removingIfEmpty, fstat(fd, &info) == 0, info.st_size <= 8192, let contents = try? Self.read(path: path),
            contents.header != nil, contents.messages.isEmpty, contents.compactions.isEmpty, contents.damage == nil
        {
            unlink(path)
            if isDurable { AgentFileIO.syncDirectory((path as NSString).deletingLastPathComponent) }
        }
        Glibc.close(fd)
        fd = -1
        unsavedLines.removeAll()
        lock = nil
        if let failure { throw failure }
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
        contents.byteCount = bytes.count
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
        guard fd >= 0 else { throw .io("cannot append to \(path): the session is closed") }
        // The previous message must be on the disk before this one is written (at most one in
        // flight). If its flush failed, this line is still written, and the failure is thrown after.
        let previousFlush = Result { () throws(SessionError) in try waitUntilDurable() }
        unsavedLines.append(line)
        do {
            try writeUnsaved()
        } catch {
            let n = unsavedLines.count
            throw .io(
                "cannot append to \(path): \(lastWriteError) (\(n == 1 ? "1 message is" : "\(n) messages are") not "
                    + "saved yet: kept, and written with the next one once it can be)"
            )
        }
        if isDurable { startFlush() }
        try previousFlush.get()
    }

    /// Writes every unsaved line with one `write`. When it fails, what it wrote is cut off again, so
    /// the file is as it was and the lines stay unsaved; if even the cut fails, the next write starts
    /// on a line of its own (the partial line then reads as one that could not be read).
    private func writeUnsaved() throws(SessionError) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(unsavedLines.reduce(1) { $0 + $1.utf8.count + 1 })
        if needsLeadingNewline { bytes.append(UInt8(ascii: "\n")) }
        for line in unsavedLines {
            bytes.append(contentsOf: line.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        let (written, error) = AgentFileIO.write(fd, bytes)
        guard error != 0 else {
            unsavedLines.removeAll()
            needsLeadingNewline = false
            return
        }
        lastWriteError = AgentFileIO.errnoText(error)
        if written > 0 {
            var info = stat()
            let restored = fstat(fd, &info) == 0 && ftruncate(fd, info.st_size - off_t(written)) == 0
            if !restored { needsLeadingNewline = true }
        }
        throw .io("cannot append to \(path): \(lastWriteError)")
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
        guard fd >= 0 else { throw .io("cannot rewrite \(path): the session is closed") }
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
        // The new file holds every message in memory, those that could not be appended too.
        unsavedLines.removeAll()
    }
}
