//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTEmbed
import Foundation
import GRDB
import Glibc
import Synchronization
import Testing

@testable import LocalGPTMemory

@Suite struct VectorMatrixTests {
    /// `rows` deterministic unit vectors of `dims` values; every 7th row repeats the one before
    /// (ties), and chunk ids repeat every 5th row (a chunk with two rows).
    static func matrix(rows: Int, dims: Int, quantizeFrom: Int) -> VectorMatrix {
        var g = SyntheticWorkspace.Generator(state: 11)
        var data: [Float] = []
        var chunks: [Int64] = []
        var previous: [Float] = []
        for r in 0..<rows {
            var v = (0..<dims).map { _ in g.unit() }
            if r % 7 == 6 { v = previous }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / n }
            previous = v
            data += v
            chunks.append(Int64(r % 5 == 4 ? r - 1 : r))
        }
        return VectorMatrix(
            generation: 1,
            model: "m",
            dimensions: dims,
            rowChunk: chunks,
            data: data,
            quantizeFrom: quantizeFrom
        )
    }

    @Test func theInt8PrefilterReturnsTheExactScansResult() {
        let exact = Self.matrix(rows: 3_000, dims: 64, quantizeFrom: .max)
        let prefiltered = Self.matrix(rows: 3_000, dims: 64, quantizeFrom: 0)
        #expect(exact.quantized == nil)
        #expect(prefiltered.quantized != nil)
        #expect(prefiltered.maxRowsPerChunk == 2)
        var g = SyntheticWorkspace.Generator(state: 5)
        for i in 0..<20 {
            var q = (0..<64).map { _ in g.unit() }
            // Some queries are rows of the matrix (a score of 1 and exact ties).
            if i % 4 == 0 { q = Array(exact.data[(i * 64 * 7 + 6 * 64)..<(i * 64 * 7 + 7 * 64)]) }
            // 1,500 chunks' rows: more than a block holds, so every block's best bounds are kept.
            for k in [1, 10, 200, 1_500] {
                let a = exact.top(q, k: k)
                let b = prefiltered.top(q, k: k)
                #expect(a.map(\.chunk) == b.map(\.chunk), "query \(i), k \(k)")
                #expect(a.map(\.score) == b.map(\.score), "query \(i), k \(k)")
            }
        }
    }

    /// A scan dropped without ``PrefilteredScan/finish()`` (a search that failed after starting
    /// the helper) frees buffers the helper writes: `stop()`, which its deinit calls, hands out no
    /// more blocks and returns only once the helper's block is done, whatever state it is in.
    @Test func stopLeavesNoBlockRunning() {
        final class Counter: Sendable {
            let started = Atomic<Int>(0)
            let ended = Atomic<Int>(0)
        }
        for round in 0..<40 {
            let counter = Counter()
            let total = round % 8 == 5 ? 200 : 100_000
            let blocks = SharedBlocks(count: total) { _, _ in
                counter.started.add(1, ordering: .relaxed)
                usleep(20)
                counter.ended.add(1, ordering: .relaxed)
            }
            if round % 4 != 0 { blocks.startHelper() }
            if round % 2 == 1 { usleep(500) }
            if round % 8 == 5 { blocks.finish() }
            blocks.stop()
            let started = counter.started.load(ordering: .relaxed)
            #expect(counter.ended.load(ordering: .relaxed) == started, "round \(round): a block still running")
            usleep(2_000)
            #expect(counter.started.load(ordering: .relaxed) == started, "round \(round): a block after stop")
            blocks.stop()  // again: returns at once
            #expect(round % 8 == 5 ? started == total : started < total)
        }
        // Scans released with their helpers running: without the deinit's stop(), AddressSanitizer
        // (`swift test --sanitize=address`) reports the helper writing into freed buffers here.
        let prefiltered = Self.matrix(rows: 40_000, dims: 64, quantizeFrom: 0)
        var g = SyntheticWorkspace.Generator(state: 3)
        for _ in 0..<20 {
            let scan = PrefilteredScan(prefiltered, query: (0..<64).map { _ in g.unit() }, k: 50)
            scan?.startHelper()
        }
    }

    /// Blocks shared between the caller and a helper that starts early, late or not at all give
    /// the exact scan's result; a helper still queued when the caller is done is called off.
    /// (40 dimensions: not a multiple of the kernels' vector widths.)
    @Test(arguments: [40, 64])
    func aSharedScanReturnsTheExactScansResult(dims: Int) {
        let exact = Self.matrix(rows: 9_000, dims: dims, quantizeFrom: .max)
        let prefiltered = Self.matrix(rows: 9_000, dims: dims, quantizeFrom: 0)
        var g = SyntheticWorkspace.Generator(state: 9)
        for i in 0..<12 {
            let q = (0..<dims).map { _ in g.unit() }
            let scan = PrefilteredScan(prefiltered, query: q, k: 50)!
            if i % 3 != 0 { scan.startHelper() }
            if i % 3 == 2 { scan.startHelper() }  // a second call does nothing
            if i % 2 == 1 { usleep(200) }  // let the helper take blocks first
            let a = exact.top(q, k: 50)
            let b = scan.finish()
            #expect(a.map(\.chunk) == b.map(\.chunk), "query \(i)")
            #expect(a.map(\.score) == b.map(\.score), "query \(i)")
        }
        #expect(PrefilteredScan(exact, query: [Float](repeating: 0.1, count: dims), k: 5) == nil, "no int8 copy")
        #expect(PrefilteredScan(prefiltered, query: [Float](repeating: 0, count: dims), k: 5) == nil, "zero query")
    }

    /// Every path of the C kernel (AVX-512 VNNI for dims divisible by 64, AVX2, baseline) gives
    /// the plain integer sum, including the extremes of the code range and a row count that is
    /// not a multiple of the kernel's four-row step.
    @Test(arguments: [16, 48, 64, 384])
    func theInt8KernelComputesExactIntegerDotProducts(dims: Int) {
        var g = SyntheticWorkspace.Generator(state: UInt64(dims))
        for rows in [0, 1, 3, 4, 5, 13] {
            var codes = (0..<(rows * dims)).map { _ in Int8(max(-127, min(127, (g.unit() * 160).rounded()))) }
            var query = (0..<dims).map { _ in Int16(max(-127, min(127, (g.unit() * 160).rounded()))) }
            if rows > 0 {
                for j in 0..<dims { codes[j] = j % 2 == 0 ? 127 : -127 }
                for j in 0..<dims { query[j] = j % 3 == 0 ? -127 : 127 }
            }
            var out = [Int32](repeating: .min, count: rows)
            lgpt_embed_dot_i8(codes.map { UInt8(Int($0) + 128) }, rows, dims, query, &out)
            var expected = [Int32](repeating: 0, count: rows)
            for r in 0..<rows {
                for j in 0..<dims { expected[r] += Int32(codes[r * dims + j]) * Int32(query[j]) }
            }
            #expect(out == expected, "dims \(dims), rows \(rows)")
        }
    }

    @Test func anAllZeroQueryFallsBackToTheExactScan() {
        let m = Self.matrix(rows: 100, dims: 32, quantizeFrom: 0)
        let top = m.top([Float](repeating: 0, count: 32), k: 3)
        #expect(top.count == 3)
        #expect(top.allSatisfy { $0.score == 0 })
    }

    /// The window stage's score of a chunk is its best window's product with the query, read
    /// through a pool or a single connection.
    @Test func windowScoresAreTheBestWindowsProduct() throws {
        let t = TestMemory()
        try t.write("memory/2024-01-01.md", TestMemory.diary("Jan 1", lines: 2_400))
        let memory = try t.open(embedder: TrigramTestEmbedder())
        try memory.reindex()
        let ids = try memory.index.database.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM chunks") }
        let packed = try memory.index.windowVectors(of: ids, dimensions: 384)
        #expect(packed.count > 100)
        let query = TrigramTestEmbedder.vector("notes about item1717x")
        var expected: [Int64: Float] = [:]
        for (id, w) in packed {
            expected[id] = stride(from: 0, to: w.count, by: 384).map { start in
                w.withUnsafeBufferPointer { p in
                    query.withUnsafeBufferPointer { VectorMatrix.dot(p.baseAddress! + start, $0.baseAddress!, 384) }
                }
            }.max()
        }
        #expect(try memory.index.windowScores(query, of: ids.shuffled()) == expected)
        let single = try MemoryIndex(path: t.indexPath, connections: .single)
        #expect(try single.windowScores(query, of: ids) == expected)
        #expect(try single.windowScores(query, of: []) == [:])
    }

    /// A window blob is scored alike wherever it starts (SQLite returns a blob stored inside its
    /// page at any byte); a blob that is not whole vectors, or empty, has no score.
    @Test func aWindowBlobIsScoredAlikeAtAnyAlignment() {
        var g = SyntheticWorkspace.Generator(state: 21)
        let query = (0..<64).map { _ in g.unit() }
        let windows = (0..<(3 * 64)).map { _ in g.unit() }
        let expected = stride(from: 0, to: windows.count, by: 64).map { start in
            windows.withUnsafeBufferPointer { w in
                query.withUnsafeBufferPointer { VectorMatrix.dot(w.baseAddress! + start, $0.baseAddress!, 64) }
            }
        }.max()
        let bytes = windows.withUnsafeBytes { Array($0) }
        var scratch: [Float] = []
        query.withUnsafeBufferPointer { q in
            for offset in 0..<4 {
                let shifted = [UInt8](repeating: 0, count: offset) + bytes
                shifted.withUnsafeBytes { raw in
                    let blob = UnsafeRawBufferPointer(rebasing: raw[offset...])
                    #expect(MemoryIndex.bestWindow(in: blob, q, scratch: &scratch) == expected, "offset \(offset)")
                    #expect(
                        MemoryIndex.bestWindow(
                            in: UnsafeRawBufferPointer(rebasing: blob.dropLast()),
                            q,
                            scratch: &scratch
                        )
                            == nil
                    )
                    #expect(
                        MemoryIndex.bestWindow(
                            in: UnsafeRawBufferPointer(rebasing: blob.prefix(0)),
                            q,
                            scratch: &scratch
                        ) == nil
                    )
                }
            }
        }
    }

    /// A chunk's window vectors are one row of `chunk_windows` beside its centroid; an index of
    /// the first layout (`chunk_vectors`, a row per vector) is migrated to the same rows and ranks
    /// the same.
    @Test func windowVectorsAreOneRowAndTheFirstLayoutIsMigrated() throws {
        let t = TestMemory()
        try t.write("memory/2024-01-01.md", TestMemory.diary("Jan 1", lines: 60))
        let memory = try t.open(embedder: TrigramTestEmbedder())
        try memory.reindex()
        let index = memory.index
        let chunks = try index.database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, text FROM chunks ORDER BY id").map {
                ($0[0] as Int64, $0[1] as String)
            }
        }
        let ids = chunks.map(\.0)
        let windows = chunks.map { index.embeddingPlan.windows(for: $0.1) }
        let several = windows.filter { $0.count > 1 }.count
        #expect(windows.contains { $0.count > 2 }, "the diary's chunks have several windows")
        let counts = try index.database.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT (SELECT COUNT(*) FROM chunk_centroids), (SELECT COUNT(*) FROM chunk_windows)"
            )!
        }
        #expect(counts[0] as Int == chunks.count)
        #expect(counts[1] as Int == several)
        let vectorCount = windows.reduce(0) { $0 + ($1.count > 1 ? $1.count + 1 : 1) }
        #expect(try index.stats().vectors == vectorCount)
        let packed = try index.windowVectors(of: ids, dimensions: 384)
        #expect(packed.count == several)
        for ((id, _), w) in zip(chunks, windows) where w.count > 1 {
            #expect(packed[id] == Array(w.map(TrigramTestEmbedder.vector).joined()))
        }
        let query = TrigramTestEmbedder.vector("notes about item17x")
        let before = try index.search("item17x", queryVector: query, model: "test-trigram-384", mode: .hybrid, limit: 5)
        #expect(!before.isEmpty)

        // Back to the first layout, as an index written before the migration holds it.
        try index.database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE chunk_vectors(
                        chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
                        seq INTEGER NOT NULL,
                        embedding BLOB NOT NULL,
                        PRIMARY KEY (chunk_id, seq)
                    ) WITHOUT ROWID;
                    INSERT INTO chunk_vectors SELECT chunk_id, 0, embedding FROM chunk_centroids;
                    DROP TABLE chunk_centroids;
                    DROP TABLE chunk_windows;
                    DELETE FROM grdb_migrations WHERE identifier = 'v3-vector-tables';
                    """
            )
            for (id, w) in zip(ids, windows) where w.count > 1 {
                for (i, text) in w.enumerated() {
                    try db.execute(
                        sql: "INSERT INTO chunk_vectors(chunk_id, seq, embedding) VALUES (?, ?, ?)",
                        arguments: [id, i + 1, TrigramTestEmbedder.vector(text).blob]
                    )
                }
            }
        }
        let reopened = try t.open(embedder: TrigramTestEmbedder()).index
        #expect(try reopened.database.read { db in try db.tableExists("chunk_vectors") } == false)
        #expect(try reopened.windowVectors(of: ids, dimensions: 384) == packed)
        #expect(try reopened.stats().vectors == vectorCount)
        let after = try reopened.search(
            "item17x",
            queryVector: query,
            model: "test-trigram-384",
            mode: .hybrid,
            limit: 5
        )
        #expect(after == before)
    }
}

extension MemoryIndex {
    /// The stored window vectors of those of `chunks` that have several, concatenated per chunk
    /// (the window stage reads the same rows in place).
    func windowVectors(of chunks: [Int64], dimensions: Int) throws -> [Int64: [Float]] {
        guard !chunks.isEmpty else { return [:] }
        let ids = chunks.map(String.init).joined(separator: ",")
        return try database.read { db in
            var out: [Int64: [Float]] = [:]
            for row in try Row.fetchAll(
                db,
                sql: "SELECT chunk_id, embedding FROM chunk_windows WHERE chunk_id IN (\(ids))"
            ) {
                let blob: Data = row[1]
                if blob.count % (dimensions * 4) == 0, let vectors = [Float](blob: blob) { out[row[0]] = vectors }
            }
            return out
        }
    }
}
