//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
public import Logging

/// The retrieval benchmark on a LoCoMo-style split (`../shared/bench/locomo-dev`): each
/// conversation's workspace is indexed on its own, in a temporary index, with the product's default
/// chunking; every question goes through the product's search code; the score is evidence
/// recall@k: the fraction of a question's evidence lines inside the line range of some result.
///
/// The data is read from the given folder at run time; nothing of it is part of the project.
public struct LocomoBenchmark: Sendable {
    /// One question of `questions.jsonl`.
    public struct Question: Sendable, Decodable {
        public struct Evidence: Sendable, Decodable, Hashable {
            public var file: String
            public var line: Int
        }
        public var conv: String
        public var question: String
        public var category: Int
        public var evidence: [Evidence]
    }

    /// Recall of one method.
    public struct Score: Sendable {
        public var method: String
        public var questions = 0
        public var recallAt5 = 0.0
        public var recallAt10 = 0.0
        /// By category: (questions, R@5 sum, R@10 sum).
        public var byCategory: [Int: (count: Int, r5: Double, r10: Double)] = [:]
        /// Search latency per question, excluding the query embedding, in milliseconds.
        public var latenciesMs: [Double] = []

        mutating func add(category: Int, r5: Double, r10: Double) {
            questions += 1
            recallAt5 += r5
            recallAt10 += r10
            var c = byCategory[category] ?? (0, 0, 0)
            c.count += 1
            c.r5 += r5
            c.r10 += r10
            byCategory[category] = c
        }

        public var meanRecallAt5: Double { questions == 0 ? 0 : recallAt5 / Double(questions) }
        public var meanRecallAt10: Double { questions == 0 ? 0 : recallAt10 / Double(questions) }
    }

    public var dataDirectory: String
    public var chunker: Chunker
    public var embeddingPlan = EmbeddingPlan()
    public var embedder: (any TextEmbedder)?
    /// Keeps the temporary indexes (and their embedding caches) between runs when set.
    public var cacheDirectory: String?
    /// When set, each question's query vector is written there (JSON lines), for offline analysis.
    public var queryVectorsFile: String?

    public init(
        dataDirectory: String,
        chunker: Chunker = Chunker(),
        embedder: (any TextEmbedder)?,
        cacheDirectory: String? = nil
    ) {
        self.dataDirectory = dataDirectory
        self.chunker = chunker
        self.embedder = embedder
        self.cacheDirectory = cacheDirectory
    }

    /// Reads `questions.jsonl`.
    ///
    /// - Throws: ``MemoryError`` when the file is missing or malformed.
    public func questions() throws(MemoryError) -> [Question] {
        let path = dataDirectory + "/questions.jsonl"
        let bytes = try FileInfo.read(path)
        var out: [Question] = []
        let decoder = JSONDecoder()
        for line in bytes.split(separator: 0x0A) where !line.isEmpty {
            do {
                out.append(try decoder.decode(Question.self, from: Data(line)))
            } catch {
                throw .invalidArgument("\(path): a line is not a question: \(error)")
            }
        }
        return out
    }

    /// One conversation's memory, indexed in a temporary (or cached) index.
    public func openConversation(_ conv: String, logger: Logger) throws(MemoryError) -> MemoryManager {
        let dir = cacheDirectory ?? NSTemporaryDirectory() + "/localgpt-bench-\(getpid())"
        let config = MemoryConfiguration(
            workspace: dataDirectory + "/" + conv + "/workspace",
            indexPath: dir + "/\(conv).sqlite",
            chunker: chunker,
            embeddingPlan: embeddingPlan,
            embeddingsEnabled: embedder != nil
        )
        let memory = try MemoryManager(configuration: config, embedder: embedder, logger: logger, bootstrap: false)
        try memory.reindex()
        return memory
    }

    /// Evidence recall of a ranked result list at `k`.
    public static func recall(_ results: [MemorySearchResult], evidence: [Question.Evidence], k: Int) -> Double {
        let unique = Set(evidence)
        guard !unique.isEmpty else { return 0 }
        let top = results.prefix(k)
        let found = unique.filter { e in
            top.contains { $0.file == e.file && $0.lineStart <= e.line && e.line <= $0.lineEnd }
        }
        return Double(found.count) / Double(unique.count)
    }

    /// Runs every question with each mode and ranking, returning one score per (mode, ranking).
    ///
    /// - Throws: ``MemoryError`` when a workspace cannot be indexed or searched.
    public func run(
        modes: [SearchMode],
        rankings: [(name: String, options: RankingOptions)] = [("default", RankingOptions())],
        logger: Logger,
        progress: ((String) -> Void)? = nil
    ) throws(MemoryError) -> [Score] {
        let questions = try questions()
        let convs = Array(Set(questions.map(\.conv))).sorted()
        var scores: [String: Score] = [:]
        var order: [String] = []
        for mode in modes {
            for r in (mode == .hybrid ? rankings : [rankings[0]]) {
                let name = mode == .hybrid && rankings.count > 1 ? "hybrid \(r.name)" : mode.rawValue
                if scores[name] == nil {
                    scores[name] = Score(method: name)
                    order.append(name)
                }
            }
        }
        var dump = ""
        defer {
            if let queryVectorsFile { try? dump.write(toFile: queryVectorsFile, atomically: true, encoding: .utf8) }
        }
        for conv in convs {
            progress?("indexing \(conv)")
            let memory = try openConversation(conv, logger: logger)
            for q in questions where q.conv == conv {
                var vector: [Float]?
                if let embedder, modes.contains(where: { $0 != .keyword }) {
                    vector = try MemoryIndex.embed([q.question], embedder: embedder).first
                    if queryVectorsFile != nil, let vector {
                        dump += "{\"q\":" + JSONEncoderLine.string(q.question) + ",\"v\":\(vector)}\n"
                    }
                }
                for mode in modes {
                    if mode != .keyword && vector == nil { continue }
                    for r in (mode == .hybrid ? rankings : [rankings[0]]) {
                        let name = mode == .hybrid && rankings.count > 1 ? "hybrid \(r.name)" : mode.rawValue
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        let results = try memory.index.search(
                            q.question,
                            queryVector: vector,
                            model: embedder?.modelID,
                            mode: mode,
                            limit: 10,
                            ranking: r.options
                        )
                        let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                        scores[name]!.add(
                            category: q.category,
                            r5: Self.recall(results, evidence: q.evidence, k: 5),
                            r10: Self.recall(results, evidence: q.evidence, k: 10)
                        )
                        scores[name]!.latenciesMs.append(ms)
                    }
                }
            }
        }
        if cacheDirectory == nil {
            try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "/localgpt-bench-\(getpid())")
        }
        return order.compactMap { scores[$0] }
    }
}

/// Minimal JSON string escaping for the query-vector dump.
enum JSONEncoderLine {
    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
