//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import Foundation
import GRDB
import GRDBSQLite
import Glibc
import Synchronization

/// The SQLite index of a workspace (GRDB `DatabasePool`, WAL): files, chunks, FTS5, vectors and the
/// embedding cache. It is a derivative of the markdown files and can always be rebuilt from them.
///
/// Writes are short `IMMEDIATE` transactions; readers (other threads, other processes) keep
/// reading the last committed state, so a search never sees a half-written index. A full rebuild
/// replaces every row in one transaction: a crash during it (even `kill -9`) leaves the previous
/// index in place.
///
/// Thread-safe.
public final class MemoryIndex: Sendable {
    /// The database file.
    public let path: String
    /// How files are cut into chunks; part of the identity.
    public let chunker: Chunker
    /// Which texts of a chunk are embedded; part of the identity.
    public let embeddingPlan: EmbeddingPlan
    /// The database, once open (see ``init(path:chunker:embeddingPlan:connections:openInBackground:)``).
    private let opening: Eventual<Result<Opened, MemoryError>>
    /// The new database that replaced a file found damaged in use (``replaceDamagedFile()``).
    private let replacement = Mutex<Opened?>(nil)
    private let connections: Connections
    private let damageReported = Mutex(false)
    let vectorCache = Mutex<VectorMatrix?>(nil)
    /// The keyword plans' statistics at a generation (see ``KeywordStatistics``).
    let keywordStatisticsCache = Mutex<KeywordStatistics?>(nil)
    /// The identity written by a full rebuild since the file was opened (nil: none).
    let rebuiltIdentity = Mutex<String?>(nil)

    /// The identity this build writes: schema, chunker, FTS layout, embedding plan.
    public var identity: String {
        "schema-1;\(chunker.identity);\(IndexSchema.ftsIdentity);vectors-\(embeddingPlan.identity)"
    }

    /// True when the file was built with another identity (or is new) and needs a full rebuild
    /// (or could not be opened). Waits for the opening.
    public var needsRebuild: Bool {
        guard let opened = try? current() else { return true }
        return (rebuiltIdentity.withLock { $0 } ?? opened.identity) != identity
    }

    /// The open database. Waits for the opening; throws its error when it failed.
    var database: any DatabaseWriter {
        get throws(MemoryError) { try current().database }
    }

    private func current() throws(MemoryError) -> Opened {
        if let replaced = replacement.withLock({ $0 }) { return replaced }
        return try opening.value.get()
    }

    /// Opens (creating when missing) the index at `path`. A file that is not a valid SQLite
    /// database is moved aside to `<path>.corrupt-<time>` and a new index is created: the index
    /// holds nothing that the workspace does not.
    ///
    /// - Parameters:
    ///   - path: the database file.
    ///   - chunker: how files are cut into chunks.
    ///   - embeddingPlan: which texts of a chunk are embedded.
    ///   - connections: a pool (the default) or a single connection for a one-shot command.
    ///   - openInBackground: open the database on a helper thread and return at once, so that
    ///     the caller can look at the workspace's files meanwhile (opening and migrating costs a
    ///     few milliseconds, a large part of a one-shot search). Every method waits for the
    ///     opening, or does it itself if the helper has not started yet, and throws its error.
    /// - Throws: ``MemoryError`` (`database`) when the file cannot be opened or migrated, or
    ///   `io` when its folder cannot be created.
    public init(
        path: String,
        chunker: Chunker = Chunker(),
        embeddingPlan: EmbeddingPlan = EmbeddingPlan(),
        connections: Connections = .pool,
        openInBackground: Bool = false
    ) throws(MemoryError) {
        self.path = path
        self.chunker = chunker
        self.embeddingPlan = embeddingPlan
        self.connections = connections
        let dir = (path as NSString).deletingLastPathComponent
        if !FileInfo.isDirectory(dir) { try Workspace.makeDirectory(dir) }
        opening = Eventual { Self.openOrReplace(path, connections) }
        if openInBackground {
            opening.start()
        } else if case .failure(let error) = opening.value {
            throw error
        }
    }

    deinit {
        // The database closes here, with its index, even while the opening's helper block still
        // holds `opening` (it does until it returns): closed later, on the helper's thread, a
        // one-shot command's WAL could outlive its process, and a file replaced right after
        // (a test's damage) was read through the old WAL by the next manager.
        opening.discard()
    }

    /// Opens the file; one that is not an SQLite database is moved aside and replaced. Under the
    /// index's opening lock (``IndexLock/Kind/opening``): two processes opening a new or damaged
    /// index at once would otherwise both create its tables, or each move the other's new file
    /// aside.
    private static func openOrReplace(_ path: String, _ connections: Connections) -> Result<Opened, MemoryError> {
        // Opening takes milliseconds; a holder for longer is a process stopped while opening.
        let held = IndexLock.acquire(.opening, indexPath: path, timeout: openingTimeout)
        defer { withExtendedLifetime(held) {} }
        if case .busy = held {
            return .failure(
                MemoryError(
                    code: .database,
                    message: "memory index: opening \(path) failed: another process has been opening it for "
                        + "\(Int(openingTimeout)) seconds (\(IndexLock.path(.opening, forIndex: path)) is held); "
                        + "try again when it is done"
                )
            )
        }
        do {
            return .success(try open(path, connections))
        } catch let error as DatabaseError where isDamage(error) {
            let aside = moveAside(path)
            do {
                var opened = try open(path, connections)
                opened.movedAside = aside
                return .success(opened)
            } catch {
                return .failure(.database("opening \(path)", error))
            }
        } catch {
            return .failure(.database("opening \(path)", error))
        }
    }

    /// How long a statement waits for another process's lock on the database (SQLite's busy
    /// timeout) before it fails with "database is locked".
    static let busyTimeoutSeconds = 30

    /// How long opening waits for another process that is opening the same index.
    static let openingTimeout = 30.0

    /// True for SQLite's "this is not a (sound) database" errors.
    static func isDamage(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
    }

    /// Moves a damaged index file to `<path>.corrupt-<seconds>-<pid>` and removes its `-wal` and
    /// `-shm` (call under the opening lock). Returns the new name.
    @discardableResult
    static func moveAside(_ path: String) -> String {
        let aside = path + ".corrupt-\(Int(Date().timeIntervalSince1970))-\(getpid())"
        rename(path, aside)
        unlink(path + "-wal")
        unlink(path + "-shm")
        return aside
    }

    /// An open database and the identity it held when opened (nil for a new file).
    struct Opened: Sendable {
        var database: any DatabaseWriter
        var identity: String?
        /// The file opened (device, inode), to tell whether another process has replaced it.
        var file: (device: UInt64, inode: UInt64)?
        /// Where the file found damaged when opening was moved (a new index was opened instead).
        var movedAside: String?
    }

    /// Where the file found damaged when the index was opened went, the first time it is asked
    /// (then nil): the update that rebuilds the index reports it.
    func takeDamageFoundAtOpening() -> String? {
        guard let aside = try? opening.value.get().movedAside else { return nil }
        return damageReported.withLock { reported in
            defer { reported = true }
            return reported ? nil : aside
        }
    }

    /// True when the file found at opening was damaged and moved aside, and no update has reported
    /// it yet (``takeDamageFoundAtOpening()`` has not been called).
    var hasUnreportedDamageFromOpening: Bool {
        guard (try? opening.value.get().movedAside) != nil else { return false }
        return !damageReported.withLock { $0 }
    }

    /// Replaces the index file after SQLite found it damaged in use (damage in pages the opening
    /// did not read): under the opening lock, the file is moved aside, unless another process has
    /// replaced it already, and the file now at `path` is opened (a new, empty index, which the
    /// next update rebuilds from the workspace). Searches and updates then use it.
    ///
    /// - Returns: where the damaged file went; nil when another process had replaced it.
    /// - Throws: ``MemoryError`` when the new file cannot be opened.
    @discardableResult
    func replaceDamagedFile() throws(MemoryError) -> String? {
        let held = IndexLock.acquire(.opening, indexPath: path, wait: true)
        defer { withExtendedLifetime(held) {} }
        var aside: String?
        let old = try? current()
        if let status = FileInfo.status(path), let file = old?.file,
            status.device == file.device && status.inode == file.inode
        {
            aside = Self.moveAside(path)
        }
        let fresh: Opened
        do {
            fresh = try Self.open(path, connections)
        } catch {
            throw .database("opening \(path)", error)
        }
        replacement.withLock { $0 = fresh }
        vectorCache.withLock { $0 = nil }
        keywordStatisticsCache.withLock { $0 = nil }
        rebuiltIdentity.withLock { $0 = nil }
        return aside
    }

    /// How many SQLite connections an index keeps.
    public enum Connections: Sendable {
        /// A writer and up to four readers (a GRDB `DatabasePool`): searches go on while the
        /// index is written. For a process that lives on: the daemon, the server, a chat.
        case pool
        /// One connection (a GRDB `DatabaseQueue`): cheaper to open (one connection reads the
        /// schema; no set-up write), for a command that runs once and exits.
        case single
    }

    private static func open(_ path: String, _ connections: Connections) throws -> Opened {
        // A new file is created private, so that the -wal and -shm files SQLite creates beside it
        // take the same mode; older ones are brought to it.
        if !FileInfo.exists(path) {
            let fd = Glibc.open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
            if fd >= 0 { Glibc.close(fd) }
        }
        for file in [path, path + "-wal", path + "-shm"] { chmod(file, 0o600) }
        var config = Configuration()
        config.busyMode = .timeout(TimeInterval(Self.busyTimeoutSeconds))
        config.maximumReaderCount = 4
        config.label = "memory-index"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            try db.execute(sql: "PRAGMA cache_size = -16000")
            // Read pages through a memory map (up to SQLite's default ceiling, ~2 GB) rather than
            // one pread each: a search reads the window vectors of ~250 candidates, ~7 KB each,
            // from overflow pages.
            try db.execute(sql: "PRAGMA mmap_size = 2147418112")
            // Keep the -wal and -shm files when the last connection closes (the WAL is emptied):
            // the next command reuses them rather than creating them again.
            var persist: CInt = 1
            let code = sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, &persist)
            if code != SQLITE_OK { throw DatabaseError(resultCode: ResultCode(rawValue: code)) }
            if connections == .single {
                // A pool sets WAL mode itself.
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
        }
        let database: any DatabaseWriter =
            switch connections {
            case .pool: try DatabasePool(path: path, configuration: config)
            case .single: try DatabaseQueue(path: path, configuration: config)
            }
        try IndexSchema.migrator.migrate(database)
        let identity = try database.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'identity'")
        }
        let file = FileInfo.status(path).map { (device: $0.device, inode: $0.inode) }
        return Opened(database: database, identity: identity, file: file)
    }

    // MARK: Reading

    /// Runs `body` in one read transaction: everything it reads comes from one snapshot of the
    /// index, whatever is written meanwhile. The errors of `body` pass through; a transaction
    /// that cannot be opened is reported as `what`.
    func read<T>(_ what: String, _ body: (Database) throws(MemoryError) -> T) throws(MemoryError) -> T {
        do {
            return try database.read { db in try body(db) }
        } catch let error as MemoryError {
            throw error
        } catch {
            throw .database(what, error)
        }
    }

    /// The generation counter: bumped by every write that changes chunks or vectors.
    static func generation(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'")
        ) ?? 0
    }

    /// Every indexed file's key and status as indexed (``IndexedFileState``).
    ///
    /// Read column by column rather than through `FileRecord`'s `Decodable` conformance: every
    /// search calls this, and decoding 1,000 records took 5–6 ms (most of it the Swift runtime
    /// instantiating the decoding machinery's generic types) against ~1 ms.
    func indexedFiles() throws(MemoryError) -> [FileKey: IndexedFileState] {
        do {
            return try database.read { db in
                var out: [FileKey: IndexedFileState] = [:]
                if let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM files") { out.reserveCapacity(n) }
                let cursor = try Row.fetchCursor(
                    db,
                    sql: "SELECT path, mtime, size, ctime, inode, indexed_at FROM files"
                )
                while let row = try cursor.next() {
                    out[FileKey(row[0])] = IndexedFileState(
                        mtime: row[1],
                        size: row[2],
                        ctime: row[3],
                        inode: UInt64(bitPattern: row[4]),
                        indexedAt: row[5]
                    )
                }
                return out
            }
        } catch {
            throw .database("reading the file list", error)
        }
    }

    /// The content hashes of the given indexed files, by key (read only for files whose status
    /// changed: most searches need none).
    func indexedHashes(of keys: [FileKey]) throws(MemoryError) -> [FileKey: String] {
        guard !keys.isEmpty else { return [:] }
        do {
            return try database.read { db in
                let statement = try db.cachedStatement(sql: "SELECT hash FROM files WHERE path = ?")
                var out: [FileKey: String] = [:]
                for key in keys {
                    if let hash = try String.fetchOne(statement, arguments: [key.path]) { out[key] = hash }
                }
                return out
            }
        } catch {
            throw .database("reading the file list", error)
        }
    }

    /// The chunks with the given ids, by id (read column by column, as ``indexedFiles()``).
    static func chunks(_ db: Database, ids: [Int64]) throws(MemoryError) -> [Int64: ChunkRecord] {
        guard !ids.isEmpty else { return [:] }
        do {
            var out: [Int64: ChunkRecord] = [:]
            let cursor = try Row.fetchCursor(
                db,
                sql: """
                    SELECT id, path, source, start_line, end_line, hash, model, text, updated_at FROM chunks
                    WHERE id IN (\(ids.map(String.init).joined(separator: ",")))
                    """
            )
            while let row = try cursor.next() {
                let id: Int64 = row[0]
                out[id] = ChunkRecord(
                    id: id,
                    path: row[1],
                    source: row[2],
                    startLine: row[3],
                    endLine: row[4],
                    hash: row[5],
                    model: row[6],
                    text: row[7],
                    updatedAt: row[8]
                )
            }
            return out
        } catch {
            throw .database("reading chunks", error)
        }
    }

    /// The chunks of one file, in line order.
    func chunks(ofFile key: String) throws(MemoryError) -> [ChunkRecord] {
        do {
            return try database.read { db in
                try ChunkRecord.filter(Column("path") == key).order(Column("start_line")).fetchAll(db)
            }
        } catch {
            throw .database("reading chunks", error)
        }
    }

    /// How many chunks have no vectors of `model` yet.
    func pendingEmbeddingCount(model: String) throws(MemoryError) -> Int {
        do {
            return try database.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunks WHERE model != ?", arguments: [model]) ?? 0
            }
        } catch {
            throw .database("counting chunks", error)
        }
    }

    /// Counts for `memory stats`.
    public func stats() throws(MemoryError) -> IndexStats {
        do {
            return try database.read { db in
                let files = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM files") ?? 0
                let chunks = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunks") ?? 0
                // Centroids, plus the windows of the chunks that have several.
                let vectors =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT (SELECT COUNT(*) FROM chunk_centroids) + (SELECT COALESCE(SUM(
                                length(w.embedding) / max(length(c.embedding), 1)), 0)
                                FROM chunk_windows w JOIN chunk_centroids c USING (chunk_id))
                            """
                    ) ?? 0
                let cached = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM embedding_cache") ?? 0
                let bytes = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(size), 0) FROM files") ?? 0
                var models: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT model, COUNT(*) AS n FROM chunks GROUP BY model") {
                    models[row["model"]] = row["n"]
                }
                let identity = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'identity'")
                let last = try Int64.fetchOne(db, sql: "SELECT MAX(indexed_at) FROM files")
                return IndexStats(
                    files: files,
                    chunks: chunks,
                    vectors: vectors,
                    cachedEmbeddings: cached,
                    indexedBytes: bytes,
                    chunksByModel: models,
                    identity: identity,
                    lastIndexedAt: last.map { Date(timeIntervalSince1970: Double($0) / 1000) },
                    databaseBytes: FileInfo.status(path)?.size ?? 0
                )
            }
        } catch {
            throw .database("reading statistics", error)
        }
    }

    /// The most recently modified indexed files.
    public func recentFiles(limit: Int) throws(MemoryError) -> [IndexedFile] {
        do {
            return try database.read { db in
                try FileRecord.order(Column("mtime").desc).limit(max(0, limit)).fetchAll(db).map {
                    IndexedFile(
                        file: $0.path,
                        size: $0.size,
                        chunks: $0.chunks,
                        modified: Date(timeIntervalSince1970: Double($0.mtime) / 1e9)
                    )
                }
            }
        } catch {
            throw .database("reading the file list", error)
        }
    }
}

/// What the index holds about a file, to tell whether it changed on disk: the status it had when
/// its content was hashed.
///
/// As git compares its index entries: size and modification time alone miss a same-size edit
/// whose time is set back (`touch -d`, `touch -r`, `rsync -t`, `cp -p`, an editor or a sync tool
/// that keeps times) and a file replaced by a rename of another with the same size and time. The
/// status-change time (ctime) catches both: the kernel sets it on every write, rename, `chmod` and
/// `utimensat`, and no unprivileged call sets it back; a replaced file also has another inode. A
/// status change that leaves the content (`chmod`, `touch`, an extended attribute) costs one
/// hash. The device is not compared, as git does not by default: on NFS, btrfs subvolumes and
/// overlay file systems its number is given at mount time and may differ after a reboot, which
/// would hash every file again.
struct IndexedFileState: Sendable {
    /// Modification time, nanoseconds.
    var mtime: Int64
    var size: Int64
    /// Status-change time, nanoseconds (0 in a row written before the `v4-file-status`
    /// migration: such a file is hashed once more).
    var ctime: Int64
    var inode: UInt64
    /// When the row was written, in milliseconds.
    var indexedAt: Int64

    /// How close to the row's writing a modification or status-change time makes the file
    /// "racily clean": a same-size edit within the file system's timestamp granularity (1 s on
    /// some, 2 s on FAT; the kernel's clock tick even on nanosecond ones) leaves the status as
    /// indexed, so such a file is hashed again until a later check.
    static let racyNanoseconds: Int64 = 2_000_000_000

    /// True when the status cannot vouch for the content (see ``racyNanoseconds``). Both times
    /// count: a file copied in with its old modification time (`cp -p`, `rsync -t`) has a recent
    /// ctime only.
    var isRacy: Bool { max(mtime, ctime) >= indexedAt &* 1_000_000 &- Self.racyNanoseconds }

    /// True when `file`, as scanned, has the status indexed and that status vouches for its
    /// content: it need not be read.
    func vouches(for file: ScannedFile) -> Bool {
        mtime == file.mtime && size == file.size && ctime == file.ctime && inode == file.inode && !isRacy
    }
}

/// Counts reported by `memory stats`.
public struct IndexStats: Sendable, Equatable {
    public var files: Int
    public var chunks: Int
    public var vectors: Int
    public var cachedEmbeddings: Int
    public var indexedBytes: Int64
    /// Chunk counts by the model of their vectors (`""` = no vectors yet).
    public var chunksByModel: [String: Int]
    public var identity: String?
    public var lastIndexedAt: Date?
    public var databaseBytes: Int64
}

/// A file of the index, for `memory recent`.
public struct IndexedFile: Sendable, Equatable {
    public var file: String
    public var size: Int64
    public var chunks: Int
    public var modified: Date
}
