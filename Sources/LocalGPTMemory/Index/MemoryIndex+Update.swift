//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Foundation
import GRDB
import LocalGPTCore
import Synchronization

/// Where a reindex is, for progress bars.
public struct ReindexProgress: Sendable, Equatable {
    public enum Phase: String, Sendable {
        /// Reading, hashing and chunking changed files.
        case reading
        /// Computing embeddings.
        case embedding
        /// Writing the index.
        case writing
        /// Waiting for another process that is computing this index's vectors (reported once,
        /// with `total` 0; the vectors it computes are then taken from the cache).
        case waiting
    }
    public var phase: Phase
    public var done: Int
    public var total: Int
}

/// A file the indexer left out, and why.
public struct SkippedFile: Sendable, Equatable {
    public var file: String
    public var reason: String
    /// True when the file was indexed and its rows were dropped for this reason (it is counted
    /// in ``ReindexReport/filesRemoved`` too): `memory reindex` says "removed" rather than
    /// "skipped".
    public var removed: Bool

    public init(file: String, reason: String, removed: Bool = false) {
        self.file = file
        self.reason = reason
        self.removed = removed
    }
}

/// What a reindex did.
public struct ReindexReport: Sendable, Equatable {
    /// The files found: ``filesUpdated`` + ``filesUnchanged`` + ``filesSkipped``.
    public var filesScanned = 0
    /// New files and files whose content changed.
    public var filesUpdated = 0
    /// Indexed files whose chunks were dropped: gone from disk (so not in ``filesScanned``), or
    /// no longer indexable (binary, too large: in ``filesSkipped`` too).
    public var filesRemoved = 0
    public var filesUnchanged = 0
    /// Files read and hashed (SHA-256): the ``filesUpdated``, and those of ``filesUnchanged`` whose
    /// status (size, modification and status-change times, inode) was not the one indexed, or too
    /// recent to vouch for the content, and whose content turned out the same. The other unchanged
    /// files were not read.
    public var filesHashed = 0
    /// Files found but not indexed: a name that is not UTF-8, a binary, unreadable or too large
    /// file. Each is in ``skipped``, which also holds the folders that could not be looked at.
    public var filesSkipped = 0
    public var chunksWritten = 0
    /// Vectors computed by the embedder.
    public var embeddingsComputed = 0
    /// Vectors (windows, as ``embeddingsComputed`` counts them) reused from the embedding cache:
    /// computed by an earlier run, not this one.
    public var embeddingsFromCache = 0
    /// Chunks still without a vector of the current model.
    public var pendingEmbeddings = 0
    /// What was left out, with the reason: the ``filesSkipped`` files and the folders that could
    /// not be listed (or are named in bytes that are not UTF-8).
    public var skipped: [SkippedFile] = []
    /// True when every row was replaced (forced, or the index identity changed).
    public var rebuilt = false
    /// True when SQLite found the index file damaged: it was moved aside (by this process, to
    /// ``damagedIndexMovedTo``, or by another one that met the damage too) and the index rebuilt
    /// from the workspace.
    public var damagedIndexReplaced = false
    /// Where this process moved the damaged file.
    public var damagedIndexMovedTo: String?
    /// Wall time of the whole reindex (``MemoryManager/reindex(force:embedLimit:progress:)``:
    /// scanning, writing rows and computing vectors).
    public var durationSeconds = 0.0

    public init() {}
}

extension MemoryIndex {
    /// Files larger than this are refused.
    static let binaryProbeBytes = 8192

    /// The outcome of reading one scanned file.
    private enum Prepared: Sendable {
        /// The status indexed (``IndexedFileState/vouches(for:)``): nothing to do.
        case untouched
        /// Content hash unchanged: only the status (size, times, inode) is refreshed.
        case touched(hash: String)
        case changed(PreparedFile)
        /// Not indexable; `keep` leaves a previous version in the index (a transient read error,
        /// ``keepsRows(afterReadError:)``).
        case skipped(reason: String, keep: Bool)
    }

    private struct PreparedFile: Sendable {
        var hash: String
        var chunks: [TextChunk]
        var chunkHashes: [String]
        var context: String
    }

    /// Brings the index up to date with `files` (the scanner's list).
    ///
    /// Unchanged files (same size, modification and status-change times and inode, or same
    /// SHA-256) are not rewritten; files no longer listed lose their chunks. With `force`, or when
    /// the identity changed, every row is replaced in a single transaction. New chunks reuse cached
    /// vectors of `embedder`'s model; on a full rebuild with `precompute`, the missing vectors are
    /// computed first (into the cache), so the swapped-in index is complete. Otherwise call
    /// ``embedPending(embedder:limit:progress:)`` afterwards: a search passes `precompute: false`,
    /// so that the first search of a new workspace answers after its embedding budget rather than
    /// after embedding every file.
    ///
    /// - Throws: ``MemoryError`` when the index cannot be written or the embedder fails.
    func update(
        files: [ScannedFile],
        scanProblems: [ScanProblem] = [],
        force: Bool,
        embedder: (any TextEmbedder)?,
        precompute: Bool = true,
        maxFileBytes: Int,
        progress: (@Sendable (ReindexProgress) -> Void)? = nil
    ) throws(MemoryError) -> ReindexReport {
        var report = ReindexReport()
        // The files a name kept out of the list were found too.
        report.filesSkipped = scanProblems.filter(\.isFile).count
        report.filesScanned = files.count + report.filesSkipped
        report.skipped = scanProblems.map { SkippedFile(file: $0.display, reason: $0.reason) }
        let rebuild = force || needsRebuild
        report.rebuilt = rebuild
        let indexed = try indexedFiles()

        // 1. Read, hash and chunk what may have changed (in parallel, outside any transaction).
        // Files with the indexed status (size, times, inode) stay `.untouched`, unread; the
        // hashes of the others, when indexed, tell a touched file from a changed one.
        var pending: [Int] = []
        var pendingIndexed: [FileKey] = []
        var listed = 0
        for i in files.indices {
            guard let old = indexed[FileKey(files[i].key)] else {
                pending.append(i)
                continue
            }
            listed += 1
            if rebuild {
                pending.append(i)
            } else if !old.vouches(for: files[i]) {
                pending.append(i)
                pendingIndexed.append(FileKey(files[i].key))
            }
        }
        let oldHashes = try indexedHashes(of: pendingIndexed)
        let prepared = prepare(
            files: files,
            pending: pending,
            oldHashes: oldHashes,
            rebuild: rebuild,
            maxFileBytes: maxFileBytes,
            progress: progress
        )
        // Keys are unique: when every indexed file was listed, none is gone.
        var removed: [String] = []
        if listed != indexed.count {
            let listed = Set(files.map { FileKey($0.key) })
            // Files under a folder that could not be listed are kept as they are.
            let kept = scanProblems.compactMap(\.keptPrefix)
            removed = indexed.keys.filter { key in
                !listed.contains(key) && !kept.contains { key.path.utf8.starts(with: $0.utf8) }
            }.map(\.path)
        }
        for (i, p) in prepared.enumerated() {
            switch p {
            case .untouched: report.filesUnchanged += 1
            case .touched:
                report.filesUnchanged += 1
                report.filesHashed += 1
            case .changed:
                report.filesUpdated += 1
                report.filesHashed += 1
            case .skipped(let reason, let keep):
                report.filesSkipped += 1
                let drop = !keep && indexed[FileKey(files[i].key)] != nil
                report.skipped.append(SkippedFile(file: files[i].key, reason: reason, removed: drop))
                if drop { removed.append(files[i].key) }
            }
        }
        report.filesRemoved = removed.count
        if !removed.isEmpty && !scanProblems.isEmpty {
            // A file the scan left out that was indexed (a link whose target moved out of the
            // workspace) lost its rows: say "removed".
            let gone = Set(removed.map(FileKey.init))
            for i in report.skipped.indices where gone.contains(FileKey(report.skipped[i].file)) {
                report.skipped[i].removed = true
            }
        }

        // 2. On a full rebuild, fill the embedding cache first so the new index is complete.
        // (The vectors computed here are not counted again as cache hits when the rows are
        // written.)
        var computedNow = Set<String>()
        if rebuild, precompute, let embedder {
            var all: [(hash: String, text: String)] = []
            var seen = Set<String>()
            for case .changed(let f) in prepared {
                for (chunk, hash) in zip(f.chunks, f.chunkHashes) {
                    for (wh, wt) in windows(chunk.text, hash) where seen.insert(wh).inserted {
                        all.append((wh, wt))
                    }
                }
            }
            let held = IndexLock.acquire(.embedding, indexPath: path, wait: true) {
                progress?(ReindexProgress(phase: .waiting, done: 0, total: 0))
            }
            defer { withExtendedLifetime(held) {} }
            let missing = try missingFromCache(all, model: embedder.modelID)
            report.embeddingsComputed += try embedIntoCache(missing, embedder: embedder, progress: progress)
            computedNow = Set(missing.map(\.hash))
        }

        // 3. One write transaction.
        let chunksChanged = rebuild || report.filesUpdated > 0 || !removed.isEmpty
        let anyChange =
            chunksChanged || prepared.contains { if case .touched = $0 { return true } else { return false } }
        if anyChange {
            let model = embedder?.modelID
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let totalChanged = report.filesUpdated
            do {
                let (written, cached) = try database.write { db -> (Int, Int) in
                    if rebuild {
                        try db.execute(sql: "DROP TABLE IF EXISTS chunks_fts")
                        try IndexSchema.createFTS(db)
                        try db.execute(
                            sql:
                                "DELETE FROM chunk_centroids; DELETE FROM chunk_windows; DELETE FROM chunks; DELETE FROM files"
                        )
                    }
                    let delFTS = try db.cachedStatement(
                        sql: "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE path = ?)"
                    )
                    let delFile = try db.cachedStatement(sql: "DELETE FROM files WHERE path = ?")
                    // A touched file's row is dated now: it stops being racy once its times are
                    // older than the row by more than the granularity.
                    let touch = try db.cachedStatement(
                        sql: "UPDATE files SET mtime = ?, size = ?, ctime = ?, inode = ?, indexed_at = ? WHERE path = ?"
                    )
                    if !rebuild {
                        for key in removed {
                            try delFTS.execute(arguments: [key])
                            try delFile.execute(arguments: [key])  // cascades to chunks and vectors
                        }
                    }
                    var written = 0
                    var cached = 0
                    var done = 0
                    for (i, p) in prepared.enumerated() {
                        let file = files[i]
                        switch p {
                        case .untouched, .skipped:
                            continue
                        case .touched:
                            try touch.execute(arguments: [
                                file.mtime, file.size, file.ctime, Int64(bitPattern: file.inode), now, file.key,
                            ])
                        case .changed(let f):
                            // Even a file new to `indexed`: another process (a second command, the
                            // daemon) may have written its rows since that snapshot was read.
                            if !rebuild {
                                try delFTS.execute(arguments: [file.key])
                                try delFile.execute(arguments: [file.key])
                            }
                            let (w, c) = try Self.insert(
                                file: file,
                                prepared: f,
                                model: model,
                                plan: embeddingPlan,
                                computedNow: computedNow,
                                now: now,
                                db: db
                            )
                            written += w
                            cached += c
                            done += 1
                            if done % 256 == 0 {
                                progress?(ReindexProgress(phase: .writing, done: done, total: totalChanged))
                            }
                        }
                    }
                    if rebuild {
                        try db.execute(
                            sql:
                                "INSERT INTO meta(key, value) VALUES ('identity', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                            arguments: [identity]
                        )
                    }
                    if chunksChanged { try Self.bumpGeneration(db) }
                    return (written, cached)
                }
                report.chunksWritten = written
                report.embeddingsFromCache = cached
                if rebuild { rebuiltIdentity.withLock { $0 = identity } }
            } catch let e as MemoryError {
                throw e
            } catch {
                throw .database("writing the index", error)
            }
        }
        if let embedder { report.pendingEmbeddings = try pendingEmbeddingCount(model: embedder.modelID) }
        return report
    }

    /// Inserts one file's row, chunks, FTS rows and any cached vectors.
    private static func insert(
        file: ScannedFile,
        prepared f: PreparedFile,
        model: String?,
        plan: EmbeddingPlan,
        computedNow: Set<String>,
        now: Int64,
        db: Database
    ) throws -> (written: Int, cached: Int) {
        try db.cachedStatement(
            sql: """
                INSERT INTO files(path, source, hash, mtime, size, chunks, indexed_at, ctime, inode)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(path) DO UPDATE SET source = excluded.source, hash = excluded.hash,
                    mtime = excluded.mtime, size = excluded.size, chunks = excluded.chunks,
                    indexed_at = excluded.indexed_at, ctime = excluded.ctime, inode = excluded.inode
                """
        ).execute(arguments: [
            file.key, file.source, f.hash, file.mtime, file.size, f.chunks.count, now, file.ctime,
            Int64(bitPattern: file.inode),
        ])
        let insChunk = try db.cachedStatement(
            sql: """
                INSERT INTO chunks(path, source, start_line, end_line, hash, model, text, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        let insFTS = try db.cachedStatement(sql: "INSERT INTO chunks_fts(rowid, text, context) VALUES (?, ?, ?)")
        let lookup = try db.cachedStatement(sql: "SELECT embedding FROM embedding_cache WHERE model = ? AND hash = ?")
        let store = try VectorStatements(db)
        var cached = 0
        for (chunk, hash) in zip(f.chunks, f.chunkHashes) {
            var windows: [[Float]] = []
            var reused = 0
            if let model {
                let w = plan.windows(for: chunk.text)
                let hashes = w.count == 1 && w[0] == chunk.text ? [hash] : w.map { sha256Hex($0) }
                for wh in hashes {
                    guard let blob = try Data.fetchOne(lookup, arguments: [model, wh]), let v = [Float](blob: blob)
                    else {
                        windows = []
                        break
                    }
                    windows.append(v)
                    if !computedNow.contains(wh) { reused += 1 }
                }
            }
            let vectors = EmbeddingPlan.stored(windows)
            try insChunk.execute(arguments: [
                file.key, file.source, chunk.startLine, chunk.endLine, hash,
                vectors == nil ? "" : model ?? "", chunk.text, now,
            ])
            let id = db.lastInsertedRowID
            try insFTS.execute(arguments: [id, TextAnalysis.ftsText(chunk.text), TextAnalysis.ftsText(f.context)])
            if let vectors {
                try store.insert(id, vectors)
                cached += reused
            }
        }
        return (f.chunks.count, cached)
    }

    static func bumpGeneration(_ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO meta(key, value) VALUES ('generation', '1')
                ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1
                """
        )
    }

    /// The texts embedded for a chunk and their hashes.
    func windows(_ text: String, _ chunkHash: String) -> [(hash: String, text: String)] {
        let w = embeddingPlan.windows(for: text)
        if w.count == 1 && w[0] == text { return [(chunkHash, text)] }
        return w.map { (sha256Hex($0), $0) }
    }

    // MARK: Reading files

    private final class Slots: @unchecked Sendable {
        // Each slot is written by exactly one iteration of concurrentPerform, read after it returns.
        var items: [Prepared]
        init(count: Int) { items = Array(repeating: .untouched, count: count) }
    }

    /// Reads the `pending` files (indices into `files`); the others stay `.untouched`. Starts no
    /// thread when none is pending, as on a search of an unchanged workspace.
    private func prepare(
        files: [ScannedFile],
        pending: [Int],
        oldHashes: [FileKey: String],
        rebuild: Bool,
        maxFileBytes: Int,
        progress: (@Sendable (ReindexProgress) -> Void)?
    ) -> [Prepared] {
        let slots = Slots(count: files.count)
        let chunker = self.chunker
        let total = pending.count
        guard total > 0 else { return slots.items }
        let workers = min(2, max(1, total / 64))
        let done = Atomic<Int>(0)
        slots.items.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var j = w
                while j < total {
                    let i = pending[j]
                    out[i] = Self.prepare(
                        file: files[i],
                        oldHash: oldHashes[FileKey(files[i].key)],
                        rebuild: rebuild,
                        chunker: chunker,
                        maxFileBytes: maxFileBytes
                    )
                    let n = done.add(1, ordering: .relaxed).newValue
                    if n % 512 == 0 { progress?(ReindexProgress(phase: .reading, done: n, total: total)) }
                    j += workers
                }
            }
        }
        return slots.items
    }

    private static func prepare(
        file: ScannedFile,
        oldHash: String?,
        rebuild: Bool,
        chunker: Chunker,
        maxFileBytes: Int
    ) -> Prepared {
        if file.size > Int64(maxFileBytes) {
            return .skipped(reason: "larger than \(maxFileBytes) bytes (memory.max_file_bytes)", keep: false)
        }
        let bytes: [UInt8]
        do {
            bytes = try FileInfo.read(file.absolutePath, limit: maxFileBytes)
        } catch {
            switch error.code {
            case .notFound: return .skipped(reason: "deleted while indexing", keep: false)
            case .tooLarge: return .skipped(reason: "larger than \(maxFileBytes) bytes", keep: false)
            case .notAFile: return .skipped(reason: "no longer a regular file", keep: false)
            default:
                if let system = error.underlying as? FileInfo.SystemError {
                    return .skipped(
                        reason: "cannot read it (\(String(cString: strerror(system.errno))))",
                        keep: keepsRows(afterReadError: system.errno)
                    )
                }
                return .skipped(
                    reason: error.message.replacingOccurrences(of: file.absolutePath, with: file.key),
                    keep: true
                )
            }
        }
        if bytes.prefix(binaryProbeBytes).contains(0) {
            // A UTF-16 text (a byte order mark, then NULs in every ASCII character) is text in an
            // encoding the index does not read: say so rather than "binary".
            let utf16 =
                bytes.count >= 2 && ((bytes[0], bytes[1]) == (0xFF, 0xFE) || (bytes[0], bytes[1]) == (0xFE, 0xFF))
            return .skipped(reason: utf16 ? "UTF-16 text: save it as UTF-8 to index it" : "binary file", keep: false)
        }
        return bytes.withUnsafeBytes { raw -> Prepared in
            let hash = sha256Hex(raw)
            if !rebuild, oldHash == hash { return .touched(hash: hash) }
            func changed(_ text: UnsafeRawBufferPointer) -> Prepared {
                let chunks = chunker.chunk(bytes: text)
                let hashes = chunks.map { sha256Hex($0.text) }
                return .changed(
                    PreparedFile(hash: hash, chunks: chunks, chunkHashes: hashes, context: context(file: file, text))
                )
            }
            // A NUL past the binary probe (a text file damaged by a crash often holds a block of
            // them) would end the chunk's text where SQLite reads it: each shows as U+FFFD.
            if let base = raw.baseAddress, memchr(base, 0, raw.count) != nil {
                return Self.replacingNULs(raw).withUnsafeBytes(changed)
            }
            return changed(raw)
        }
    }

    /// Whether an indexed file that cannot be read now, failing with `errno`, keeps its rows.
    ///
    /// A permission error (`EACCES`, `EPERM`: `chmod 000`, an ACL, a Landlock or SELinux rule) is
    /// the owner's decision that the file is not to be read: its rows are dropped, so that a
    /// search no longer returns its text (they came back from the index after the file was
    /// locked). Any other error may pass by itself (`EIO` from a failing disk or network file
    /// system, `ENOMEM`, `EMFILE`, `ENFILE`, `EAGAIN`, `EINTR`, `ESTALE`...): the rows stay, as the
    /// last readable version, until the file can be read again, rather than being dropped and then
    /// read and embedded again.
    static func keepsRows(afterReadError errno: Int32) -> Bool {
        errno != EACCES && errno != EPERM
    }

    /// `bytes` with each NUL replaced by U+FFFD.
    static func replacingNULs(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 64)
        for b in bytes {
            if b == 0 { out += [0xEF, 0xBF, 0xBD] } else { out.append(b) }
        }
        return out
    }

    /// What every chunk of a file is also found by: the file's name and its first heading (the
    /// first of its first ten non-blank lines, within its first 2 KB, that starts with `#`; a line
    /// ends at LF or CRLF).
    static func context(file: ScannedFile, _ raw: UnsafeRawBufferPointer) -> String {
        let name = file.key.split(separator: "/").last.map(String.init) ?? file.key
        let head = UnsafeRawBufferPointer(rebasing: raw.prefix(2048))
        var heading = ""
        var start = 0
        var lines = 0
        while start < head.count && lines < 10 {
            var end = start
            while end < head.count && head[end] != 0x0A { end += 1 }
            let line = String(decoding: UnsafeRawBufferPointer(rebasing: head[start..<end]), as: UTF8.self)
            let text = Self.trimmed(line[...])
            start = end + 1
            if text.isEmpty { continue }
            lines += 1
            if text.hasPrefix("#") {
                heading = String(Self.trimmed(text.drop(while: { $0 == "#" })))
                break
            }
        }
        return heading.isEmpty ? name : name + " " + heading
    }

    /// Without leading and trailing white space (tabs, spaces of every kind, a CR).
    private static func trimmed(_ text: Substring) -> Substring {
        let scalars = text.unicodeScalars
        func blank(_ s: Unicode.Scalar) -> Bool {
            s == "\t" || s == "\r" || s.properties.generalCategory == .spaceSeparator
        }
        guard let first = scalars.firstIndex(where: { !blank($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !blank($0) })!
        return Substring(scalars[first...last])
    }
}
