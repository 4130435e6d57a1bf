//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import GRDB

/// The index's tables. Follows OpenClaw's layout (meta, files, chunks, an FTS5 table over the
/// chunks, an embedding cache) with two deliberate differences: chunk ids are integers (the FTS
/// rowid), and vectors are little-endian float32 blobs in their own tables instead of JSON text.
/// The vector tables are rowid tables: a `WITHOUT ROWID` table compares keys against whole records,
/// so each step of a lookup among rows of kilobytes read their overflow pages (the first layout,
/// `chunk_vectors`, one row per vector, migrated by `v3-vector-tables`).
///
/// A file's `mtime`, `size`, `ctime` and `inode` are the status it had when its `hash` was taken
/// (times in nanoseconds; the inode's 64 bits stored signed): a file found with the same four is
/// not read again (``IndexedFileState``). `ctime` and `inode` came with `v4-file-status`; the rows
/// written before it hold 0 there, so each of those files is hashed once more by the next update.
///
/// ```
/// meta(key PK, value)                                   identity, generation, model
/// files(path PK, source, hash, mtime, size, chunks, indexed_at, ctime, inode)
/// chunks(id PK, path -> files, source, start_line, end_line, hash, model, text, updated_at)
/// chunk_centroids(chunk_id PK -> chunks, embedding)    a chunk's centroid vector
/// chunk_windows(chunk_id PK -> chunks, embedding)      its window vectors, concatenated
/// embedding_cache(model, hash, dims, embedding, updated_at) PK(model, hash)
/// chunks_fts FTS5(text, context), rowid = chunks.id
/// chunks_fts_vocab fts5vocab(chunks_fts, row)          term -> documents holding it
/// ```
enum IndexSchema {
    /// The FTS5 tokenizer: Porter stemming over unicode61 with diacritics removed.
    static let ftsTokenizer = "porter unicode61 remove_diacritics 2"

    /// Part of the index identity: bump when the FTS layout or the indexed text changes.
    /// `folded-v2`: text holding U+0345, U+0488 or U+0489 with only Latin, Greek and Cyrillic
    /// letters is folded whole, as Foundation folds it (`FoldTable`), no longer scalar by scalar.
    static let ftsIdentity = "fts5-v1/\(ftsTokenizer)/context-v1/folded-v2"

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    CREATE TABLE files(
                        path TEXT PRIMARY KEY NOT NULL,
                        source TEXT NOT NULL DEFAULT 'memory',
                        hash TEXT NOT NULL,
                        mtime INTEGER NOT NULL,
                        size INTEGER NOT NULL,
                        chunks INTEGER NOT NULL DEFAULT 0,
                        indexed_at INTEGER NOT NULL
                    );
                    CREATE TABLE chunks(
                        id INTEGER PRIMARY KEY,
                        path TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE,
                        source TEXT NOT NULL DEFAULT 'memory',
                        start_line INTEGER NOT NULL CHECK (start_line >= 1),
                        end_line INTEGER NOT NULL CHECK (end_line >= start_line),
                        hash TEXT NOT NULL,
                        model TEXT NOT NULL DEFAULT '',
                        text TEXT NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE INDEX chunks_path ON chunks(path, start_line);
                    CREATE INDEX chunks_model ON chunks(model);
                    CREATE TABLE chunk_vectors(
                        chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
                        seq INTEGER NOT NULL,
                        embedding BLOB NOT NULL,
                        PRIMARY KEY (chunk_id, seq)
                    ) WITHOUT ROWID;
                    CREATE TABLE embedding_cache(
                        model TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        dims INTEGER NOT NULL,
                        embedding BLOB NOT NULL,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (model, hash)
                    ) WITHOUT ROWID;
                    """
            )
            try createFTS(db)
        }
        m.registerMigration("v2-vocab") { db in
            // Document frequencies of the index terms. No longer read by search: it computes them
            // by scanning each term's whole doclist (6 ms for a term of 100,000 chunks), and the
            // keyword stage counts at most a budget of postings itself (``KeywordPlan``).
            try db.execute(sql: "CREATE VIRTUAL TABLE chunks_fts_vocab USING fts5vocab(chunks_fts, row)")
        }
        m.registerMigration("v3-vector-tables") { db in
            try db.execute(
                sql: """
                    CREATE TABLE chunk_centroids(
                        chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
                        embedding BLOB NOT NULL
                    );
                    CREATE TABLE chunk_windows(
                        chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
                        embedding BLOB NOT NULL
                    );
                    INSERT INTO chunk_centroids(chunk_id, embedding)
                        SELECT chunk_id, embedding FROM chunk_vectors WHERE seq = 0;
                    """
            )
            // Each chunk's windows (seq 1...) in order, into one blob.
            let insert = try db.makeStatement(sql: "INSERT INTO chunk_windows(chunk_id, embedding) VALUES (?, ?)")
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT chunk_id, embedding FROM chunk_vectors WHERE seq > 0 ORDER BY chunk_id, seq"
            )
            var current: Int64?
            var blob = Data()
            while let row = try rows.next() {
                let id: Int64 = row[0]
                if id != current {
                    if let current { try insert.execute(arguments: [current, blob]) }
                    current = id
                    blob = Data()
                }
                blob.append(row[1] as Data)
            }
            if let current { try insert.execute(arguments: [current, blob]) }
            try db.execute(sql: "DROP TABLE chunk_vectors")
        }
        m.registerMigration("v4-file-status") { db in
            // The status-change time and the inode join size and modification time in telling
            // whether a file changed (``IndexedFileState``). Existing rows get 0, which no file has:
            // each is hashed once by the next update and, its content unchanged, only its row's
            // status is written. The identity stays: no rebuild. A release before this migration
            // still opens the file (GRDB skips migrations it does not know) and writes rows whose
            // new columns are left 0 or stale, which can only make a file be hashed again.
            try db.execute(
                sql: """
                    ALTER TABLE files ADD COLUMN ctime INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE files ADD COLUMN inode INTEGER NOT NULL DEFAULT 0;
                    """
            )
        }
        return m
    }

    static func createFTS(_ db: Database) throws {
        try db.execute(
            sql: "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, context, tokenize = '\(ftsTokenizer)')"
        )
    }
}

/// A row of `files`.
struct FileRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "files"
    var path: String
    var source: String
    var hash: String
    var mtime: Int64
    var size: Int64
    var chunks: Int
    var indexedAt: Int64
    var ctime: Int64
    var inode: Int64

    enum CodingKeys: String, CodingKey {
        case path, source, hash, mtime, size, chunks, ctime, inode
        case indexedAt = "indexed_at"
    }
}

/// A row of `chunks`.
struct ChunkRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "chunks"
    var id: Int64?
    var path: String
    var source: String
    var startLine: Int
    var endLine: Int
    var hash: String
    var model: String
    var text: String
    var updatedAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, path, source, hash, model, text
        case startLine = "start_line"
        case endLine = "end_line"
        case updatedAt = "updated_at"
    }
}
