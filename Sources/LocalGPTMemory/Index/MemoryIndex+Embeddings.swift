//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import GRDB

extension MemoryIndex {
    /// Texts embedded per call to the embedder.
    static let embedBatchSize = 32
    /// The embedding cache keeps at most this many vectors (oldest dropped first).
    static let embeddingCacheLimit = 100_000

    /// Which of `windows` have no cached vector of `model`.
    func missingFromCache(
        _ windows: [(hash: String, text: String)],
        model: String
    ) throws(MemoryError) -> [(hash: String, text: String)] {
        guard !windows.isEmpty else { return [] }
        do {
            return try database.read { db in
                let stmt = try db.cachedStatement(
                    sql: "SELECT 1 FROM embedding_cache WHERE model = ? AND hash = ?"
                )
                return try windows.filter { try Int.fetchOne(stmt, arguments: [model, $0.hash]) == nil }
            }
        } catch {
            throw .database("reading the embedding cache", error)
        }
    }

    /// Embeds `windows` in batches and stores the vectors in the cache (one transaction a batch,
    /// so the work done survives an interruption). Returns the number of vectors computed.
    func embedIntoCache(
        _ windows: [(hash: String, text: String)],
        embedder: any TextEmbedder,
        progress: (@Sendable (ReindexProgress) -> Void)?
    ) throws(MemoryError) -> Int {
        var done = 0
        var start = 0
        while start < windows.count {
            let batch = Array(windows[start..<min(start + Self.embedBatchSize, windows.count)])
            let vectors = try Self.embed(batch.map(\.text), embedder: embedder)
            try storeInCache(zip(batch, vectors).map { ($0.0.hash, $0.1) }, model: embedder.modelID, db: nil)
            done += batch.count
            start += batch.count
            progress?(ReindexProgress(phase: .embedding, done: done, total: windows.count))
        }
        return done
    }

    /// Gives vectors of `embedder`'s model to chunks that lack them, newest first (a note written a
    /// moment ago is the likeliest to be searched for): from the cache when possible, else computed.
    ///
    /// The work is counted and kept window by window: each distinct window (by content hash) is
    /// computed once, whatever the number of chunks holding it; the vectors of each call to the
    /// embedder (at most ``embedBatchSize`` windows) are written to the embedding cache as soon as
    /// it returns, so an interruption (Ctrl-C, a kill, a failing model) loses at most the call under
    /// way; and a chunk gets its vectors once all its windows are in the cache. With `limit`, at
    /// most `limit` windows are computed (vectors from the cache are not counted: they cost
    /// nothing); a chunk left part-done keeps its computed windows in the cache, and the next call
    /// goes on from there. Safe to run while files are reindexed: a chunk replaced meanwhile is
    /// skipped. While another process (or manager) computes this index's vectors, a call with a
    /// `limit` returns at once with nothing done, and one without waits for it (``IndexLock``).
    ///
    /// - Returns: how many vectors were computed and how many came from the cache.
    /// - Throws: ``MemoryError`` when the embedder or the index fails; the vectors computed
    ///   before it stay in the cache.
    @discardableResult
    public func embedPending(
        embedder: any TextEmbedder,
        limit: Int? = nil,
        progress: (@Sendable (ReindexProgress) -> Void)? = nil
    ) throws(MemoryError) -> (computed: Int, fromCache: Int) {
        // One process computes at a time (``IndexLock``). A bounded call (a search's budget)
        // does not wait: another process is computing the same vectors, and the search answers
        // with what is there; an unbounded one waits, then finds little or nothing left to do.
        let held = IndexLock.acquire(.embedding, indexPath: path, wait: limit == nil) {
            progress?(ReindexProgress(phase: .waiting, done: 0, total: 0))
        }
        if case .busy = held { return (0, 0) }
        defer { withExtendedLifetime(held) {} }
        let model = embedder.modelID
        let total = try pendingEmbeddingCount(model: model)
        let budget = limit ?? Int.max
        var computed = 0
        var fromCache = 0
        var handled = 0
        var lastID = Int64.max
        while handled < total, computed < budget {
            // A full chunk has 4–5 windows, each a vector: a budget of a few dozen vectors takes a
            // quarter as many chunks.
            let want = min(Self.embedBatchSize, total - handled, max(1, (budget - computed) / 4))
            let rows: [(id: Int64, hash: String, text: String)]
            do {
                rows = try database.read { db in
                    try Row.fetchAll(
                        db,
                        sql: "SELECT id, hash, text FROM chunks WHERE model != ? AND id < ? ORDER BY id DESC LIMIT ?",
                        arguments: [model, lastID, want]
                    ).map { ($0["id"], $0["hash"], $0["text"]) }
                }
            } catch {
                throw .database("reading chunks to embed", error)
            }
            if rows.isEmpty { break }
            let perChunk = rows.map { windows($0.text, $0.hash) }
            // Each distinct window once (a line repeated, a note copied into another).
            var seen = Set<String>()
            let distinct = perChunk.joined().filter { seen.insert($0.hash).inserted }
            let missing = try missingFromCache(distinct, model: model)
            let now = Array(missing.prefix(budget - computed))
            computed += try embedIntoCache(now, embedder: embedder, progress: nil)
            let fresh = Set(now.map(\.hash))
            fromCache += try attachCachedVectors(rows: rows, windows: perChunk, computedNow: fresh, model: model)
            // The budget ran out inside this batch: its other chunks wait, their computed windows
            // in the cache.
            if now.count < missing.count { break }
            lastID = rows.last!.id
            handled += rows.count
            progress?(ReindexProgress(phase: .embedding, done: handled, total: total))
        }
        if computed > 0 { try pruneCache() }
        return (computed, fromCache)
    }

    /// Stores the vectors of each of `rows` whose `windows` are all in the cache, and marks it as
    /// embedded by `model` (a chunk replaced meanwhile is left alone). One transaction.
    ///
    /// - Returns: how many of the windows stored were in the cache before this run (not in
    ///   `computedNow`).
    private func attachCachedVectors(
        rows: [(id: Int64, hash: String, text: String)],
        windows perChunk: [[(hash: String, text: String)]],
        computedNow: Set<String>,
        model: String
    ) throws(MemoryError) -> Int {
        do {
            return try database.write { db in
                let lookup = try db.cachedStatement(
                    sql: "SELECT embedding FROM embedding_cache WHERE model = ? AND hash = ?"
                )
                let mark = try db.cachedStatement(sql: "UPDATE chunks SET model = ? WHERE id = ? AND hash = ?")
                let store = try VectorStatements(db)
                var reused = 0
                var stored = false
                for (row, windows) in zip(rows, perChunk) {
                    var vectors: [[Float]] = []
                    var known: [String: [Float]] = [:]
                    for w in windows {
                        if let v = known[w.hash] {
                            vectors.append(v)
                        } else if let b = try Data.fetchOne(lookup, arguments: [model, w.hash]),
                            let v = [Float](blob: b)
                        {
                            known[w.hash] = v
                            vectors.append(v)
                        } else {
                            break
                        }
                    }
                    guard vectors.count == windows.count else { continue }  // not all computed yet
                    try mark.execute(arguments: [model, row.id, row.hash])
                    guard db.changesCount > 0 else { continue }  // replaced meanwhile
                    try store.replace(row.id, with: EmbeddingPlan.stored(vectors))
                    reused += windows.count(where: { !computedNow.contains($0.hash) })
                    stored = true
                }
                if stored { try Self.bumpGeneration(db) }
                return reused
            }
        } catch let e as MemoryError {
            throw e
        } catch {
            throw .database("storing vectors", error)
        }
    }

    /// Runs the embedder and checks what it returned. Texts the model knows no word of get the
    /// zero vector (``TextEmbedder/knowsAWord(in:)``).
    static func embed(_ texts: [String], embedder: any TextEmbedder) throws(MemoryError) -> [[Float]] {
        let known = texts.map { embedder.knowsAWord(in: $0) }
        let computed: [[Float]]
        do {
            computed = try embedder.embed(zip(texts, known).compactMap { $1 ? $0 : nil })
        } catch {
            throw .embedding(
                "the embedder (\(embedder.modelID)) failed: \(MemoryError.describe(error))",
                underlying: error
            )
        }
        guard computed.count == known.count(where: { $0 }) else {
            throw .embedding("the embedder (\(embedder.modelID)) returned vectors of the wrong shape")
        }
        var next = computed.makeIterator()
        let vectors = known.map { $0 ? next.next()! : [Float](repeating: 0, count: embedder.dimensions) }
        guard vectors.allSatisfy({ $0.count == embedder.dimensions }) else {
            throw .embedding("the embedder (\(embedder.modelID)) returned vectors of the wrong shape")
        }
        // Damaged weights give NaN or infinite vectors, which would be cached and stored for good
        // (and a NaN centroid outranks every sound one).
        guard vectors.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            throw .embedding(
                "the embedder (\(embedder.modelID)) returned invalid numbers (NaN or infinity): "
                    + "its weights may be damaged (run scripts/install-models.sh to check and install them again)"
            )
        }
        return vectors
    }

    private func storeInCache(_ items: [(String, [Float])], model: String, db: Database?) throws(MemoryError) {
        guard !items.isEmpty else { return }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let body: (Database) throws -> Void = { db in
            let stmt = try db.cachedStatement(
                sql: """
                    INSERT INTO embedding_cache(model, hash, dims, embedding, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(model, hash) DO UPDATE SET embedding = excluded.embedding, dims = excluded.dims,
                        updated_at = excluded.updated_at
                    """
            )
            for (hash, vector) in items {
                try stmt.execute(arguments: [model, hash, vector.count, vector.blob, now])
            }
        }
        do {
            if let db { try body(db) } else { try database.write(body) }
        } catch {
            throw .database("writing the embedding cache", error)
        }
    }

    private func pruneCache() throws(MemoryError) {
        do {
            try database.write { db in
                let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM embedding_cache") ?? 0
                guard n > Self.embeddingCacheLimit else { return }
                try db.execute(
                    sql: """
                        DELETE FROM embedding_cache WHERE (model, hash) IN (
                            SELECT model, hash FROM embedding_cache ORDER BY updated_at LIMIT ?)
                        """,
                    arguments: [n - Self.embeddingCacheLimit]
                )
            }
        } catch {
            throw .database("pruning the embedding cache", error)
        }
    }
}
