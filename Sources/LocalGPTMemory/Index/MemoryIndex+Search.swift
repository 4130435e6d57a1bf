//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import GRDB
import GRDBSQLite
import Synchronization

extension MemoryIndex {
    /// The weight of the `context` column (file name and first heading) against the chunk text.
    static let contextWeight = 0.5

    /// The best `depth` chunks for an FTS5 expression, by bm25 (returned positive: higher is better).
    static func keywordCandidates(
        _ db: Database,
        _ query: KeywordQuery,
        depth: Int
    ) throws(MemoryError) -> [(chunk: Int64, score: Double)] {
        do {
            let stmt = try db.cachedStatement(
                sql: """
                    SELECT rowid, bm25(chunks_fts, 1.0, \(contextWeight)) AS rank FROM chunks_fts
                    WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?
                    """
            )
            return try Row.fetchAll(stmt, arguments: [query.expression, depth]).map {
                (chunk: $0[0] as Int64, score: -($0[1] as Double))
            }
        } catch {
            throw .database("keyword search", error)
        }
    }

    /// How many chunks the centroid scan passes to the window stage.
    static let centroidCandidates = 200

    /// The best `depth` chunks by cosine similarity with `vector` among the vectors of `model`.
    ///
    /// Two stages: an exact scan of every chunk's centroid picks the `centroidCandidates` best
    /// chunks; these and `extra` (the keyword candidates) are then scored by their best window
    /// (exact cosine), which finds the one line that matches inside a long chunk.
    func vectorCandidates(
        _ vector: [Float],
        model: String,
        depth: Int,
        extra: [Int64] = []
    ) throws(MemoryError) -> [(chunk: Int64, score: Double)] {
        try read("loading vectors") { db throws(MemoryError) in
            try vectorCandidates(db, vector, model: model, depth: depth, extra: extra)
        }
    }

    /// ``vectorCandidates(_:model:depth:extra:)`` in a read transaction.
    func vectorCandidates(
        _ db: Database,
        _ vector: [Float],
        model: String,
        depth: Int,
        extra: [Int64]
    ) throws(MemoryError) -> [(chunk: Int64, score: Double)] {
        let matrix = try vectorMatrix(db, model: model, dimensions: vector.count)
        let stage1 = matrix.top(vector, k: max(Self.centroidCandidates, depth)).map(\.chunk)
        return try Self.windowStage(db, vector, matrix: matrix, candidates: stage1, depth: depth, extra: extra)
    }

    /// The second stage of ``vectorCandidates(_:model:depth:extra:)``: `candidates` (from the
    /// centroid scan) and `extra` ranked by their best window. The windows of `extra` may have
    /// been read already (`early`: ``windowScores(_:of:)`` of exactly those chunks).
    static func windowStage(
        _ db: Database,
        _ vector: [Float],
        matrix: VectorMatrix,
        candidates stage1: [Int64],
        depth: Int,
        extra: [Int64],
        early: [Int64: Float]? = nil
    ) throws(MemoryError) -> [(chunk: Int64, score: Double)] {
        var candidates = stage1
        var seen = Set(candidates)
        for c in extra where matrix.rowOfChunk[c] != nil && seen.insert(c).inserted { candidates.append(c) }
        var windows: [Int64: Float]
        if let early {
            let read = Set(extra)
            windows = try windowScores(db, vector, of: candidates.filter { !read.contains($0) })
            windows.merge(early) { a, _ in a }
        } else {
            windows = try windowScores(db, vector, of: candidates)
        }
        var scored: [(chunk: Int64, score: Double)] = []
        scored.reserveCapacity(candidates.count)
        for c in candidates {
            if let best = windows[c] {
                scored.append((c, Double(best)))
            } else if let s = matrix.score(of: c, vector) {
                scored.append((c, Double(s)))
            }
        }
        scored.sort { $0.score > $1.score || ($0.score == $1.score && $0.chunk < $1.chunk) }
        return Array(scored.prefix(depth))
    }

    /// The best window's cosine with `vector` of each chunk in `chunks` that has several windows.
    ///
    /// One rowid lookup per chunk, each blob scored where SQLite returns it. (A helper thread
    /// reading a share of the chunks on a second connection was measured no faster:
    /// docs/PERFORMANCE.md, "Tenth pass".)
    func windowScores(_ vector: [Float], of chunks: [Int64]) throws(MemoryError) -> [Int64: Float] {
        try read("loading window vectors") { db throws(MemoryError) in try Self.windowScores(db, vector, of: chunks) }
    }

    /// ``windowScores(_:of:)`` in a read transaction: the cached statement is driven by SQLite's
    /// own calls, without row objects (0.8–1.0 ms against 1.2–1.3 ms through `Row.fetchOne` for
    /// ~250 chunks: docs/PERFORMANCE.md, "Twelfth pass").
    static func windowScores(
        _ db: Database,
        _ vector: [Float],
        of chunks: [Int64]
    ) throws(MemoryError) -> [Int64: Float] {
        guard !chunks.isEmpty else { return [:] }
        var out: [Int64: Float] = [:]
        var scratch: [Float] = []
        do {
            let statement = try db.cachedStatement(sql: "SELECT embedding FROM chunk_windows WHERE chunk_id = ?")
            let handle = statement.sqliteStatement
            // Left reset, as GRDB expects its cached statements.
            defer { sqlite3_reset(handle) }
            try vector.withUnsafeBufferPointer { q in
                // In id order: neighbouring rows share pages.
                for chunk in chunks.sorted() {
                    sqlite3_reset(handle)
                    sqlite3_bind_int64(handle, 1, chunk)
                    let code = sqlite3_step(handle)
                    guard code == SQLITE_ROW else {
                        if code == SQLITE_DONE { continue }
                        throw DatabaseError(
                            resultCode: ResultCode(rawValue: code),
                            message: String(cString: sqlite3_errmsg(db.sqliteConnection))
                        )
                    }
                    // Valid until the next step or reset of `handle`: scored before either.
                    let blob = UnsafeRawBufferPointer(
                        start: sqlite3_column_blob(handle, 0),
                        count: Int(sqlite3_column_bytes(handle, 0))
                    )
                    if let best = bestWindow(in: blob, q, scratch: &scratch) { out[chunk] = best }
                }
            }
        } catch {
            throw .database("loading window vectors", error)
        }
        return out
    }

    /// The best product of `query` with the float32 vectors packed in `blob`, nil when the blob
    /// is empty or not a whole number of vectors. A blob SQLite returns from inside its page may
    /// start at any byte: such a one is copied to `scratch` first.
    static func bestWindow(
        in blob: UnsafeRawBufferPointer,
        _ query: UnsafeBufferPointer<Float>,
        scratch: inout [Float]
    ) -> Float? {
        let dims = query.count
        let width = dims * MemoryLayout<Float>.size
        guard let start = blob.baseAddress, dims > 0, blob.count > 0, blob.count % width == 0 else { return nil }
        func best(_ floats: UnsafePointer<Float>) -> Float {
            var best = -Float.infinity
            for i in 0..<(blob.count / width) {
                best = max(best, VectorMatrix.dot(floats + i * dims, query.baseAddress!, dims))
            }
            return best
        }
        if Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
            return best(start.assumingMemoryBound(to: Float.self))
        }
        scratch = [Float](repeating: 0, count: blob.count / MemoryLayout<Float>.size)
        scratch.withUnsafeMutableBytes { $0.copyMemory(from: blob) }
        return scratch.withUnsafeBufferPointer { best($0.baseAddress!) }
    }

    /// The cached matrix of `model`'s vectors, reloaded when the index changed since.
    func vectorMatrix(model: String, dimensions: Int) throws(MemoryError) -> VectorMatrix {
        try read("loading vectors") { db throws(MemoryError) in
            try vectorMatrix(db, model: model, dimensions: dimensions)
        }
    }

    /// ``vectorMatrix(model:dimensions:)`` in a read transaction: the matrix of its snapshot.
    func vectorMatrix(_ db: Database, model: String, dimensions: Int) throws(MemoryError) -> VectorMatrix {
        let matrix: VectorMatrix
        do {
            let g = try Self.generation(db)
            if let m = vectorCache.withLock({ $0 }), m.generation == g, m.model == model, m.dimensions == dimensions {
                return m
            }
            // The chunks of this model, from the chunks_model index alone.
            let chunks = try Set(
                Int64.fetchCursor(db, sql: "SELECT id FROM chunks WHERE model = ?", arguments: [model])
            )
            var ids: [Int64] = []
            ids.reserveCapacity(chunks.count)
            var data: [Float] = []
            data.reserveCapacity(chunks.count * dimensions)
            // One pass over chunk_centroids in rowid order (chunk ids ascending); a 1,536-byte
            // centroid fits in its leaf page.
            let cursor = try Row.fetchCursor(
                db,
                sql: "SELECT chunk_id, embedding FROM chunk_centroids"
            )
            while let row = try cursor.next() {
                guard chunks.contains(row[0]) else { continue }
                let appended: Bool = try row.withUnsafeData(atIndex: 1) { d in
                    guard let d, d.count == dimensions * 4 else { return false }
                    let start = data.count
                    data.append(contentsOf: repeatElement(0, count: dimensions))
                    data.withUnsafeMutableBytes { dst in
                        d.withUnsafeBytes { src in
                            (dst.baseAddress! + start * 4).copyMemory(from: src.baseAddress!, byteCount: src.count)
                        }
                    }
                    return true
                }
                if appended { ids.append(row[0]) }
            }
            matrix = VectorMatrix(generation: g, model: model, dimensions: dimensions, rowChunk: ids, data: data)
        } catch {
            throw .database("loading vectors", error)
        }
        vectorCache.withLock { $0 = matrix }
        return matrix
    }
}

extension MemoryIndex {
    /// The bonus of each chunk of the daily logs of the days and months `query` names (empty when
    /// it names none, or the bonuses are 0).
    static func namedDayBonus(
        _ db: Database,
        _ query: String,
        ranking: RankingOptions
    ) throws(MemoryError) -> [Int64: Double] {
        guard ranking.dayBonus > 0 || ranking.nearDayBonus > 0 else { return [:] }
        let dates = NamedDates.find(in: query, today: .local())
        guard !dates.isEmpty else { return [:] }
        var bonus: [Int64: Double] = [:]
        do {
            for prefix in dates.pathPrefixes {
                let rows = try Row.fetchCursor(
                    db,
                    sql: "SELECT id, path FROM chunks WHERE path >= ? AND path < ?",
                    arguments: [prefix, prefix + "\u{10FFFF}"]
                )
                while let row = try rows.next() {
                    let extra = dates.bonus(path: row[1], dayBonus: ranking.dayBonus, nearBonus: ranking.nearDayBonus)
                    if extra > 0 { bonus[row[0]] = extra }
                }
            }
        } catch {
            throw .database("finding the named days' logs", error)
        }
        return bonus
    }

    /// The largest limit a search is asked for (`MemoryManager.search` accepts 1...100).
    static let deepestLimit = 100

    /// Fuses the two lists so that the first results do not depend on how many are asked for:
    /// the heads of the lists (``RankingOptions/depth`` candidates each) are fused as for any
    /// limit up to the depth (a deeper list would move the vector scores' normalisation and add
    /// keyword scores to chunks of the vector head); candidates below the heads, for a larger
    /// limit, follow, scored at most as the last of the head.
    static func fuse(
        keyword: [(chunk: Int64, score: Double)],
        vector: [(chunk: Int64, score: Double)],
        ranking: RankingOptions,
        bonus: [Int64: Double] = [:]
    ) -> [(chunk: Int64, score: Double)] {
        let head = ranking.fuse(
            keyword: Array(keyword.prefix(ranking.depth)),
            vector: Array(vector.prefix(ranking.depth)),
            bonus: bonus
        )
        guard keyword.count > ranking.depth || vector.count > ranking.depth else { return head }
        let inHead = Set(head.map(\.chunk))
        let ceiling = head.last?.score ?? 1
        let rest = ranking.fuse(keyword: keyword, vector: vector, bonus: bonus).filter { !inHead.contains($0.chunk) }
        return head + rest.map { (chunk: $0.chunk, score: min($0.score, ceiling)) }
    }

    /// Ranks chunks for a query. `queryVector` (from `model`) is required for vector search;
    /// without it a hybrid search ranks as a keyword search does, scored 0...1 (bm25 / the best),
    /// with the named days' bonus.
    ///
    /// - Throws: ``MemoryError`` when the index cannot be read.
    func search(
        _ query: String,
        queryVector: [Float]?,
        model: String?,
        mode: SearchMode,
        limit: Int,
        ranking: RankingOptions = RankingOptions()
    ) throws(MemoryError) -> [MemorySearchResult] {
        guard limit > 0 else { return [] }
        // One read transaction: every stage sees the same snapshot of the index (a write that
        // lands meanwhile cannot pair one state's keyword hits with another's vectors or rows),
        // and the stages share its connection.
        return try read("search") { db throws(MemoryError) in
            try search(
                db,
                query,
                queryVector: queryVector,
                model: model,
                mode: mode,
                limit: limit,
                ranking: ranking
            )
        }
    }

    /// ``search(_:queryVector:model:mode:limit:ranking:)`` in a read transaction.
    private func search(
        _ db: Database,
        _ query: String,
        queryVector: [Float]?,
        model: String?,
        mode: SearchMode,
        limit: Int,
        ranking: RankingOptions
    ) throws(MemoryError) -> [MemorySearchResult] {
        // Up to the fusion depth, the lists hold that many candidates; above it, always as many
        // as the largest limit, so that every larger limit ranks the same candidates alike.
        let depth = limit <= ranking.depth ? ranking.depth : max(limit, Self.deepestLimit)
        let keywordQuery = KeywordQuery.build(query)
        var keyword: [(chunk: Int64, score: Double)] = []
        var vector: [(chunk: Int64, score: Double)] = []
        // A hybrid search without a query vector ranks as a keyword search does: its keyword
        // list is filled up at once, rather than read twice.
        let filledUp = mode == .keyword || (mode == .hybrid && (queryVector == nil || model == nil))
        if mode == .hybrid, let keywordQuery, let queryVector, let model {
            // A large matrix's centroid scan (memory-bound) starts on another thread while this
            // one runs the keyword stage (SQLite), then helps it finish; the window stage needs both.
            let matrix = try vectorMatrix(db, model: model, dimensions: queryVector.count)
            let k = max(Self.centroidCandidates, depth)
            let scan = PrefilteredScan(matrix, query: queryVector, k: k)
            scan?.startHelper()
            keyword = try keywordStage(db, keywordQuery, depth: depth, fillUp: false, budget: Self.keywordBudget)
            // The keyword list's head only: deeper candidates (a limit above the depth) must not
            // change the vector list's head, and so the first results. Their windows are read
            // while the helper scans: they are candidates whatever the scan finds.
            let extra = keyword.prefix(ranking.depth).map(\.chunk).filter { matrix.rowOfChunk[$0] != nil }
            let early = try Self.windowScores(db, queryVector, of: extra)
            let stage1 = scan?.finish() ?? matrix.top(queryVector, k: k)
            vector = try Self.windowStage(
                db,
                queryVector,
                matrix: matrix,
                candidates: stage1.map(\.chunk),
                depth: depth,
                extra: extra,
                early: early
            )
        } else {
            if mode != .vector, let keywordQuery {
                keyword = try keywordStage(
                    db,
                    keywordQuery,
                    depth: depth,
                    fillUp: filledUp,
                    budget: Self.keywordBudget
                )
            }
            if mode != .keyword, let queryVector, let model {
                vector = try vectorCandidates(
                    db,
                    queryVector,
                    model: model,
                    depth: depth,
                    extra: keyword.prefix(ranking.depth).map(\.chunk)
                )
            }
        }
        let ranked: [(chunk: Int64, score: Double)]
        switch mode {
        case .keyword: ranked = keyword
        case .vector: ranked = vector
        case .hybrid:
            let bonus = try Self.namedDayBonus(db, query, ranking: ranking)
            if !vector.isEmpty {
                ranked = Self.fuse(keyword: keyword, vector: vector, ranking: ranking, bonus: bonus)
            } else if let keywordQuery {
                // Nothing to fuse (no query vector, or no vectors yet): rank as a keyword search
                // does, with the words held by most chunks too, which the fused stage leaves to
                // the vectors; scored as fusion scores keyword hits alone (bm25 / the best, 0...1).
                let hits =
                    filledUp
                    ? keyword
                    : try keywordStage(db, keywordQuery, depth: depth, fillUp: true, budget: Self.keywordBudget)
                let best = hits.first?.score ?? 0
                ranked = RankingOptions.adding(
                    bonus,
                    to: hits.map { (chunk: $0.chunk, score: best > 0 ? max(0, $0.score / best) : 0) }
                )
            } else {
                ranked = RankingOptions.adding(bonus, to: keyword)
            }
        }
        let top = Array(ranked.prefix(limit))
        let rows = try Self.chunks(db, ids: top.map(\.chunk))
        let terms = keywordQuery?.terms ?? []
        return top.compactMap { hit in
            guard let c = rows[hit.chunk] else { return nil }
            return MemorySearchResult(
                file: c.path,
                lineStart: c.startLine,
                lineEnd: c.endLine,
                score: hit.score,
                snippet: Snippet.make(text: c.text, terms: terms),
                source: c.source
            )
        }
    }
}
