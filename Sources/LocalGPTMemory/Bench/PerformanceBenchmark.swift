//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Foundation
import GRDB

/// The memory performance measurements of the memory issue, on synthetic workspaces
/// (``SyntheticWorkspace``): keyword-only indexing throughput, and hybrid search latency over a
/// large index excluding the query embedding.
public enum PerformanceBenchmark {
    /// The model id written with the benchmark's random vectors, so they can never be mistaken for
    /// a real model's.
    public static let syntheticModel = "benchmark-random-unit-vectors"

    /// Indexing throughput.
    public struct IndexingResult: Sendable {
        public var files: Int
        public var bytes: Int64
        public var chunks: Int
        public var seconds: Double
        public var filesPerSecond: Double { Double(files) / seconds }
    }

    /// Generates `files` files of ~`bytesPerFile` in `directory` and indexes them keyword-only
    /// into a fresh index, timing the reindex only.
    ///
    /// - Throws: when generating or indexing fails.
    public static func indexing(
        directory: String,
        files: Int,
        bytesPerFile: Int,
        vocabulary: SyntheticWorkspace.Vocabulary = .zipf
    ) throws -> IndexingResult {
        let workspace = directory + "/workspace"
        try SyntheticWorkspace.generate(
            root: workspace,
            files: files,
            bytesPerFile: bytesPerFile,
            vocabulary: vocabulary
        )
        let memory = try MemoryManager(
            configuration: MemoryConfiguration(workspace: workspace, indexPath: directory + "/index.sqlite"),
            embedder: nil,
            bootstrap: false
        )
        let t0 = DispatchTime.now().uptimeNanoseconds
        let report = try memory.reindex()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let stats = try memory.index.stats()
        return IndexingResult(
            files: report.filesUpdated,
            bytes: stats.indexedBytes,
            chunks: stats.chunks,
            seconds: seconds
        )
    }

    /// Search latency.
    public struct SearchResult: Sendable {
        public var chunks: Int
        public var vectors: Int
        public var queries: Int
        public var latenciesMs: [Double]
        public var firstQueryMs: Double
        /// The keyword stage alone (`keywordStage`), for the same queries.
        public var keywordLatenciesMs: [Double] = []
        /// The vector stage alone (`vectorCandidates`, with the keyword candidates as extras).
        public var vectorLatenciesMs: [Double] = []
        /// Parts of the vector stage: the exact scan of every centroid (`VectorMatrix.top`), and
        /// reading and scoring the candidates' window vectors (`windowScores`).
        public var centroidScanMs: [Double] = []
        /// The centroid scan by one thread, as the hybrid search runs it beside the keyword stage.
        public var centroidScanOneThreadMs: [Double] = []
        public var windowLoadMs: [Double] = []

        public func percentile(_ p: Double) -> Double { Self.percentile(latenciesMs, p) }

        /// The `p` quantile (0...1) of `values`.
        public static func percentile(_ values: [Double], _ p: Double) -> Double {
            let s = values.sorted()
            return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count) * p))]
        }
    }

    /// Builds (or reuses) an index of about `chunks` chunks in `directory`, gives every chunk
    /// random unit vectors of `dimensions` (one per embedding window of the default plan), then
    /// times `queries` hybrid searches in process. Query vectors are random too: the query
    /// embedding is excluded from the measure, as the target says. Each query's keyword and
    /// vector stages are then run and timed once more on their own.
    ///
    /// - Throws: when generating, indexing or searching fails.
    public static func hybridSearch(
        directory: String,
        chunks: Int,
        dimensions: Int = 384,
        queries: Int = 200,
        limit: Int = 10,
        vocabulary: SyntheticWorkspace.Vocabulary = .zipf
    ) throws -> SearchResult {
        let workspace = directory + "/workspace"
        let files = max(1, chunks / 100)
        if !FileManager.default.fileExists(atPath: workspace) {
            // ~100 chunks of <= 1,600 characters (with overlap) per file.
            try SyntheticWorkspace.generate(
                root: workspace,
                files: files,
                bytesPerFile: 130_000,
                vocabulary: vocabulary
            )
        }
        let memory = try MemoryManager(
            configuration: MemoryConfiguration(workspace: workspace, indexPath: directory + "/index.sqlite"),
            embedder: nil,
            bootstrap: false
        )
        try memory.reindex()
        try writeRandomVectors(memory.index, dimensions: dimensions)
        let stats = try memory.index.stats()
        var g = SyntheticWorkspace.Generator(state: 99)
        let texts = SyntheticWorkspace.queries(queries, vocabulary: vocabulary)
        var latencies: [Double] = []
        var keywordLatencies: [Double] = []
        var vectorLatencies: [Double] = []
        var centroidScan: [Double] = []
        var centroidScanOneThread: [Double] = []
        var windowLoad: [Double] = []
        var first = 0.0
        let depth = RankingOptions().depth
        func elapsed(since t0: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 }
        for (i, text) in texts.enumerated() {
            var v = (0..<dimensions).map { _ in g.unit() }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / n }
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try memory.index.search(text, queryVector: v, model: syntheticModel, mode: .hybrid, limit: limit)
            let ms = elapsed(since: t0)
            if i == 0 {
                first = ms
                continue
            }
            latencies.append(ms)
            guard let query = KeywordQuery.build(text) else { continue }
            let t1 = DispatchTime.now().uptimeNanoseconds
            let keyword = try memory.index.keywordStage(query, depth: depth, fillUp: false)
            keywordLatencies.append(elapsed(since: t1))
            let t2 = DispatchTime.now().uptimeNanoseconds
            _ = try memory.index.vectorCandidates(v, model: syntheticModel, depth: depth, extra: keyword.map(\.chunk))
            vectorLatencies.append(elapsed(since: t2))
            let matrix = try memory.index.vectorMatrix(model: syntheticModel, dimensions: dimensions)
            let t3 = DispatchTime.now().uptimeNanoseconds
            let top = matrix.top(v, k: max(MemoryIndex.centroidCandidates, depth))
            centroidScan.append(elapsed(since: t3))
            let t5 = DispatchTime.now().uptimeNanoseconds
            _ = matrix.top(v, k: max(MemoryIndex.centroidCandidates, depth), parallel: false)
            centroidScanOneThread.append(elapsed(since: t5))
            let t4 = DispatchTime.now().uptimeNanoseconds
            _ = try memory.index.windowScores(v, of: top.map(\.chunk) + keyword.map(\.chunk))
            windowLoad.append(elapsed(since: t4))
        }
        return SearchResult(
            chunks: stats.chunks,
            vectors: stats.vectors,
            queries: latencies.count,
            latenciesMs: latencies,
            firstQueryMs: first,
            keywordLatenciesMs: keywordLatencies,
            vectorLatenciesMs: vectorLatencies,
            centroidScanMs: centroidScan,
            centroidScanOneThreadMs: centroidScanOneThread,
            windowLoadMs: windowLoad
        )
    }

    /// Embedding throughput and query latency.
    public struct EmbeddingResult: Sendable {
        public var chunks: Int
        /// The mean number of word pieces per chunk (with `[CLS]` and `[SEP]`).
        public var meanTokens: Double
        public var seconds: Double
        public var queryLatenciesMs: [Double]
        public var chunksPerSecond: Double { Double(chunks) / seconds }

        public func queryPercentile(_ p: Double) -> Double {
            let s = queryLatenciesMs.sorted()
            return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count) * p))]
        }
    }

    /// Embeds `chunks` synthetic note chunks of about `tokensPerChunk` word pieces through `embedder`
    /// in batches of ``MemoryIndex/embedBatchSize`` (as indexing does), then times `queries` query
    /// embeddings one by one (as a search does). The first query is a warm-up and is not counted.
    ///
    /// - Throws: when the embedder fails.
    public static func embedding(
        embedder: any TextEmbedder,
        chunks: Int,
        tokensPerChunk: Int = 100,
        queries: Int = 50
    ) throws -> EmbeddingResult {
        var g = SyntheticWorkspace.Generator(state: 5)
        // A note line is ~18 words, ~25 word pieces.
        let linesPerChunk = max(1, tokensPerChunk / 25)
        let texts = (0..<chunks).map { _ in
            // The small vocabulary: real words, as the embedding figures have always been measured.
            (0..<linesPerChunk).map { _ in SyntheticWorkspace.line(&g, vocabulary: .small) }.joined(separator: "\n")
        }
        var tokens = 0
        if let mini = embedder as? MiniLMEmbedder {
            for t in texts { tokens += mini.tokenizer.encode(t, maxLength: MiniLMEmbedder.maxSequenceLength).count }
        }
        _ = try embedder.embed(Array(texts.prefix(1)))
        let t0 = DispatchTime.now().uptimeNanoseconds
        var start = 0
        while start < texts.count {
            let end = min(start + MemoryIndex.embedBatchSize, texts.count)
            _ = try embedder.embed(Array(texts[start..<end]))
            start = end
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        var latencies: [Double] = []
        for (i, q) in SyntheticWorkspace.queries(queries + 1, vocabulary: .small).enumerated() {
            let q0 = DispatchTime.now().uptimeNanoseconds
            _ = try embedder.embed([q])
            if i > 0 { latencies.append(Double(DispatchTime.now().uptimeNanoseconds - q0) / 1e6) }
        }
        return EmbeddingResult(
            chunks: chunks,
            meanTokens: chunks == 0 ? 0 : Double(tokens) / Double(chunks),
            seconds: seconds,
            queryLatenciesMs: latencies
        )
    }

    /// Gives every chunk without vectors of ``syntheticModel`` random unit vectors, one per window.
    static func writeRandomVectors(_ index: MemoryIndex, dimensions: Int) throws {
        var g = SyntheticWorkspace.Generator(state: 1234)
        let rows = try index.database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, text FROM chunks WHERE model != ?", arguments: [syntheticModel])
                .map { ($0[0] as Int64, $0[1] as String) }
        }
        guard !rows.isEmpty else { return }
        try index.database.write { db in
            let mark = try db.cachedStatement(sql: "UPDATE chunks SET model = ? WHERE id = ?")
            let store = try VectorStatements(db)
            for (id, text) in rows {
                let windows = index.embeddingPlan.windows(for: text).map { _ in
                    let v = (0..<dimensions).map { _ in g.unit() }
                    let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    return v.map { $0 / n }
                }
                try store.replace(id, with: EmbeddingPlan.stored(windows))
                try mark.execute(arguments: [syntheticModel, id])
            }
            try MemoryIndex.bumpGeneration(db)
        }
    }
}
