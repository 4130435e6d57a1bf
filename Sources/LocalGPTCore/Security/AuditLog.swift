//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import Synchronization

/// The hash-chained security audit log, `~/.localgpt/.security_audit.jsonl` (``AuditEntry``).
///
/// An append takes an exclusive `flock` on the file, reads the last line, and writes the new line
/// with one `write` on an `O_APPEND` descriptor, then `fsync`s (unless ``Durability/noSync``). The
/// lock spans read-last-line and write, so appends from several processes (and threads) never
/// chain to the same predecessor. A damaged last line (a torn write without its newline, or a line
/// that is not an entry) is detected on the next append, which first writes a `chain_recovery`
/// entry chained from the last intact line, in the same `write`.
///
/// The details pass through the ``SecretMasker`` before the entry is written (and hashed): a
/// configured key in a path a tool was given, or in what a plugin asked for, is recorded as
/// `********`.
public final class AuditLog: Sendable {
    /// Whether each append waits for the disk.
    public enum Durability: Sendable {
        /// `fsync` after every append (the default).
        case fsync
        /// No `fsync`: for benchmarks and bulk tests only.
        case noSync
    }

    public let path: String
    public let durability: Durability
    /// Hides the configured secret values in the details.
    public let secretMasker: SecretMasker
    /// Serialises appends of this instance's threads (`flock` is per open file description).
    private let lock = Mutex(())

    /// - Parameters:
    ///   - path: the log file.
    ///   - durability: whether each append waits for the disk.
    ///   - secretMasker: the secret values hidden in the details (``SecretMasker/init(configuration:)``).
    public init(path: String, durability: Durability = .fsync, secretMasker: SecretMasker = SecretMasker()) {
        self.path = path
        self.durability = durability
        self.secretMasker = secretMasker
    }

    /// The audit log of a LocalGPT home.
    public convenience init(
        paths: LocalGPTPaths,
        durability: Durability = .fsync,
        secretMasker: SecretMasker = SecretMasker()
    ) {
        self.init(path: paths.auditLog, durability: durability, secretMasker: secretMasker)
    }

    // MARK: Append

    /// Appends one entry, chained to the last line.
    ///
    /// - Parameters:
    ///   - action: what happened.
    ///   - source: who caused it.
    ///   - contentSHA256: the content hash concerned, if any.
    ///   - details: action-specific details (no file contents; a configured secret is masked).
    /// - Returns: the entry written.
    /// - Throws: ``SecurityError`` (``SecurityError/Code/auditLog``) when the log cannot be opened,
    ///   locked, read or written.
    @discardableResult
    public func append(
        _ action: AuditAction,
        source: String,
        contentSHA256: String? = nil,
        details: [String: JSONValue] = [:]
    ) throws(SecurityError) -> AuditEntry {
        try lock.withLock { _ throws(SecurityError) -> AuditEntry in
            let fd = try openForAppend()
            defer { close(fd) }
            guard FileIO.retrying({ flock(fd, LOCK_EX) }) == 0 else {
                throw SecurityError(.auditLog, "cannot lock \(path): \(errnoDescription(errno))")
            }
            defer { flock(fd, LOCK_UN) }
            let head = try chainHead(fd)
            var out: [UInt8] = []
            var previous = head.previousHash
            if let recovery = head.recovery {
                if recovery.needsNewline { out.append(UInt8(ascii: "\n")) }
                let entry = AuditEntry(
                    timestamp: Timestamp.now(),
                    action: .chainRecovery,
                    source: "audit_system",
                    details: [
                        "reason": .string(recovery.reason),
                        "damaged_lines": .array(recovery.damagedLines.map { .int(Int64($0)) }),
                        "resumes_after_line": .int(Int64(recovery.lastIntactLine)),
                    ],
                    previousHash: previous
                )
                let line = Array(entry.line.utf8)
                previous = sha256Hex(line)
                out += line
                out.append(UInt8(ascii: "\n"))
            }
            let entry = AuditEntry(
                timestamp: Timestamp.now(),
                action: action,
                source: source,
                contentSHA256: contentSHA256,
                details: secretMasker.isEmpty ? details : details.mapValues { secretMasker.mask($0) },
                previousHash: previous
            )
            out += Array(entry.line.utf8)
            out.append(UInt8(ascii: "\n"))
            let e = FileIO.writeAll(fd, out)
            guard e == 0 else { throw SecurityError(.auditLog, "cannot append to \(path): \(errnoDescription(e))") }
            if durability == .fsync && fsync(fd) != 0 {
                throw SecurityError(.auditLog, "cannot sync \(path): \(errnoDescription(errno))")
            }
            return entry
        }
    }

    private func openForAppend() throws(SecurityError) -> Int32 {
        let flags = O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW
        var fd = FileIO.retrying { open(path, flags, 0o600) }
        if fd < 0 && errno == ENOENT {
            do {
                try FileSystem.createDirectory((path as NSString).deletingLastPathComponent, mode: 0o700)
            } catch {
                throw SecurityError(.auditLog, "cannot create the folder of \(path): \(error.message)")
            }
            fd = FileIO.retrying { open(path, flags, 0o600) }
        }
        guard fd >= 0 else { throw SecurityError(.auditLog, "cannot open \(path): \(errnoDescription(errno))") }
        return fd
    }

    /// What the next entry chains to, and whether a recovery entry must come first.
    private struct Head {
        var previousHash: String
        var recovery: Recovery?
    }

    private struct Recovery {
        var needsNewline: Bool
        var reason: String
        var damagedLines: [Int]
        /// 1-based; 0 when no line is intact.
        var lastIntactLine: Int
    }

    /// Reads backwards from the end just far enough to find the last line; falls back to reading
    /// the whole file only when that line is damaged.
    private func chainHead(_ fd: Int32) throws(SecurityError) -> Head {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw SecurityError(.auditLog, "cannot read \(path): \(errnoDescription(errno))")
        }
        let size = Int(info.st_size)
        if size == 0 { return Head(previousHash: genesisHash, recovery: nil) }
        var window = min(size, 4096)
        while true {
            guard case .success(let chunk) = FileIO.pread(fd, count: window, offset: size - window),
                chunk.count == window
            else {
                throw SecurityError(.auditLog, "cannot read \(path): \(errnoDescription(errno))")
            }
            guard chunk.last == UInt8(ascii: "\n") else { break }
            let body = chunk[..<(chunk.count - 1)]
            let last: ArraySlice<UInt8>
            if let nl = body.lastIndex(of: UInt8(ascii: "\n")) {
                last = body[(nl + 1)...]
            } else if window == size {
                last = body
            } else {
                window = min(size, window * 8)
                continue
            }
            if AuditEntry.isIntactLine(last) { return Head(previousHash: sha256Hex(last), recovery: nil) }
            break
        }
        // Damaged tail: find the last intact line.
        let all: [UInt8]
        switch FileIO.pread(fd, count: size, offset: 0) {
        case .success(let bytes): all = bytes
        case .failure:
            throw SecurityError(.auditLog, "cannot read \(path): \(errnoDescription(errno))")
        }
        let torn = all.last != UInt8(ascii: "\n")
        let lines = Self.splitLines(all)
        var intact = -1
        for i in lines.indices.reversed() where AuditEntry(line: lines[i]) != nil {
            intact = i
            break
        }
        if intact == lines.count - 1 && !torn {
            // A valid entry written some other way (another key order): chain to it.
            return Head(previousHash: sha256Hex(lines[intact]), recovery: nil)
        }
        let damaged = intact + 2 <= lines.count ? Array((intact + 2)...lines.count) : []
        return Head(
            previousHash: intact >= 0 ? sha256Hex(lines[intact]) : genesisHash,
            recovery: Recovery(
                needsNewline: torn,
                reason: intact == lines.count - 1
                    ? "the last line had no newline"
                    : torn
                        ? "the last line was cut short (no newline): a torn write"
                        : "the last line is not a valid audit entry",
                damagedLines: damaged,
                lastIntactLine: intact + 1
            )
        )
    }

    /// The lines of `bytes` without their newlines; a final line without a newline is included.
    static func splitLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if bytes.last == UInt8(ascii: "\n") || bytes.isEmpty { lines.removeLast() }
        return lines
    }

    // MARK: Read and verify

    /// Reads every line and verifies the chain.
    ///
    /// - Returns: the lines, and every broken link by 1-based line number (empty when intact).
    /// - Throws: ``SecurityError`` (``SecurityError/Code/auditLog``) when the file exists but cannot
    ///   be read. A missing log is an empty, intact one.
    public func read() throws(SecurityError) -> AuditReport {
        switch FileIO.read(path, limit: 1 << 30, followSymlinks: false) {
        case .success(let contents): return AuditReport(verifying: contents.bytes)
        case .failure(.errno(ENOENT)): return AuditReport(verifying: [])
        case .failure(.errno(let e)): throw SecurityError(.auditLog, "cannot read \(path): \(errnoDescription(e))")
        case .failure(.notRegularFile): throw SecurityError(.auditLog, "\(path) is not a regular file")
        case .failure(.tooLarge(let n)): throw SecurityError(.auditLog, "\(path) is \(n) bytes: too large to read")
        }
    }

    /// Verifies the chain: the same as ``read()``, named for callers that only want the verdict.
    ///
    /// - Throws: ``SecurityError`` when the log cannot be read.
    public func verify() throws(SecurityError) -> AuditReport {
        try read()
    }
}

/// The audit log as read, with its chain checked.
public struct AuditReport: Sendable {
    /// One line of the file.
    public struct Line: Sendable {
        /// 1-based.
        public var number: Int
        /// The entry, or nil when the line is not one (torn, not JSON, missing fields).
        public var entry: AuditEntry?
        /// The line as written (invalid UTF-8 replaced), for display.
        public var raw: String
    }

    /// A line the chain breaks at, and why.
    public struct BrokenLink: Sendable, Equatable {
        /// 1-based line number.
        public var line: Int
        public var reason: String
    }

    public var lines: [Line]
    /// Every break, sorted by line; empty when the chain is intact.
    public var brokenLinks: [BrokenLink]
    /// Damaged lines that a later `chain_recovery` entry accounts for (not breaks).
    public var recoveredLines: [Int]

    public var isIntact: Bool { brokenLinks.isEmpty }
    /// Lines that are valid entries.
    public var entryCount: Int { lines.count { $0.entry != nil } }

    /// Checks each line: it parses, and its `prev_hash` is the SHA-256 of the line before (64
    /// zeros for the first). When line N's `prev_hash` does not match line N-1, line N-1 is
    /// reported: it was edited after line N was written (or a line was removed or inserted after
    /// it). A line that is not an entry is reported itself, unless a later `chain_recovery` entry
    /// chains across it from the last intact line.
    init(verifying bytes: [UInt8]) {
        let raws = AuditLog.splitLines(bytes)
        let torn = !bytes.isEmpty && bytes.last != UInt8(ascii: "\n")
        var lines: [Line] = []
        lines.reserveCapacity(raws.count)
        var broken: [Int: String] = [:]
        var recovered: [Int] = []
        var previousRawHash = genesisHash
        var lastIntact: (line: Int, hash: String)? = nil
        var pendingDamaged: [Int] = []

        func markDamaged(_ numbers: [Int]) {
            for n in numbers where broken[n] == nil {
                broken[n] =
                    n == raws.count && torn
                    ? "incomplete last line (a torn write); the next append records a chain_recovery"
                    : "not a valid audit entry (edited or damaged)"
            }
        }

        for (index, raw) in raws.enumerated() {
            let number = index + 1
            let hash = sha256Hex(raw)
            let entry = AuditEntry(line: raw)
            lines.append(Line(number: number, entry: entry, raw: String(decoding: raw, as: UTF8.self)))
            guard let entry else {
                pendingDamaged.append(number)
                previousRawHash = hash
                continue
            }
            if entry.action == .chainRecovery {
                let expected = lastIntact?.hash ?? genesisHash
                if entry.previousHash == expected {
                    recovered += pendingDamaged
                } else {
                    markDamaged(pendingDamaged)
                    broken[number] =
                        "chain_recovery does not chain to the last intact line"
                        + (lastIntact.map { " (line \($0.line))" } ?? "")
                }
            } else {
                markDamaged(pendingDamaged)
                if entry.previousHash != previousRawHash {
                    if number == 1 {
                        broken[1] =
                            "does not start from the genesis hash: lines were removed from the start, or "
                            + "line 1 was edited"
                    } else if pendingDamaged.isEmpty, broken[number - 1] == nil {
                        broken[number - 1] =
                            "no longer matches the prev_hash recorded in line \(number): it was edited, or a line "
                            + "was removed or inserted after it"
                    }
                }
            }
            pendingDamaged = []
            lastIntact = (number, hash)
            previousRawHash = hash
        }
        markDamaged(pendingDamaged)
        self.lines = lines
        brokenLinks = broken.keys.sorted().map { BrokenLink(line: $0, reason: broken[$0] ?? "") }
        recoveredLines = recovered
    }
}
