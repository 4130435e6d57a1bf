//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import Glibc
import LocalGPTCore
import LocalGPTMemory

extension MemoryCommand {
    /// The retrieval benchmark (hidden): scripts/bench-memory.sh runs it on ../shared/bench/locomo-dev.
    struct BenchLocomo: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-locomo",
            abstract: "Evidence recall@5/@10 on a LoCoMo-style split, per search method.",
            shouldDisplay: false
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The split's folder (conv-*/workspace, questions.jsonl).") var directory: String
        @Option(help: "keyword, vector, hybrid or all.") var method = "all"
        @Option(help: "Keep the temporary indexes (and embedding caches) here between runs.") var cacheDir: String?
        @Flag(help: "Also score a grid of fusion settings (hybrid).") var sweep = false
        @Flag(help: "Print recall by question category.") var categories = false
        @Option(help: "Embedding window in bytes (0: whole chunks); default: the product's.") var window: Int?
        @Option(help: "Write each question's query vector to this file (JSON lines).") var dumpQueryVectors: String?
        @Option(help: "Leave out hybrid results scoring below this (0: keep all); default: the product's.")
        var minScore: Double?
        @Option(help: "Bonus for the daily logs of a day the question names (a third of it for a named month); 0: off.")
        var dayBonus: Double?

        func run() throws {
            let ctx = try CLIContext.make(global)
            let modes: [SearchMode] =
                method == "all" ? [.keyword, .vector, .hybrid] : [SearchMode(rawValue: method)].compactMap { $0 }
            guard !modes.isEmpty else { throw ValidationError("--method must be keyword, vector, hybrid or all") }
            var embedder: (any TextEmbedder)?
            if modes != [.keyword] {
                let (e, reason) = MemoryCommand.loadEmbedder(enabled: true, context: ctx)
                guard let e else { throw CLIError("vector and hybrid need the local model: \(reason ?? "")") }
                embedder = e
            }
            var base = RankingOptions()
            if let minScore {
                guard minScore.isFinite, (0...1).contains(minScore) else {
                    throw ValidationError("--min-score must be between 0 and 1")
                }
                base.minimumScore = minScore
            }
            if let dayBonus {
                guard dayBonus.isFinite, (0...1).contains(dayBonus) else {
                    throw ValidationError("--day-bonus must be between 0 and 1")
                }
                // The month's (and week's) bonus keeps the default's ratio to the day's.
                base.nearDayBonus = base.nearDayBonus / base.dayBonus * dayBonus
                base.dayBonus = dayBonus
            }
            var rankings: [(name: String, options: RankingOptions)] = [("default", base)]
            if sweep {
                for fusion in RankingOptions.Fusion.allCases {
                    for wk in [0.3, 0.4, 0.5, 0.6, 0.7] {
                        var o = base
                        o.fusion = fusion
                        o.keywordWeight = wk
                        o.vectorWeight = 1 - wk
                        rankings.append(("\(fusion.rawValue) k=\(wk)", o))
                    }
                }
            }
            var bench = LocomoBenchmark(
                dataDirectory: LocalGPTPaths.absolutePath(directory),
                embedder: embedder,
                cacheDirectory: cacheDir.map { LocalGPTPaths.absolutePath($0) }
            )
            if let window { bench.embeddingPlan = EmbeddingPlan(windowBytes: window) }
            bench.queryVectorsFile = dumpQueryVectors
            let started = Date()
            let scores: [LocomoBenchmark.Score]
            do {
                scores = try bench.run(modes: modes, rankings: rankings, logger: ctx.logger) { printError($0) }
            } catch {
                throw CLIError(error.message)
            }
            print(
                "method                     R@5    R@10   search p50 ms  p99 ms  (questions: \(scores.first?.questions ?? 0))"
            )
            for s in scores {
                let lat = s.latenciesMs.sorted()
                let p50 = lat.isEmpty ? 0 : lat[lat.count / 2]
                let p99 = lat.isEmpty ? 0 : lat[min(lat.count - 1, lat.count * 99 / 100)]
                print(
                    s.method.padding(toLength: 26, withPad: " ", startingAt: 0)
                        + String(
                            format: " %.3f  %.3f  %6.2f         %6.2f",
                            s.meanRecallAt5,
                            s.meanRecallAt10,
                            p50,
                            p99
                        )
                )
                if categories {
                    for (c, v) in s.byCategory.sorted(by: { $0.key < $1.key }) {
                        print(
                            String(
                                format: "    category %d (%3d)        %.3f  %.3f",
                                c,
                                v.count,
                                v.r5 / Double(v.count),
                                v.r10 / Double(v.count)
                            )
                        )
                    }
                }
            }
            printError(String(format: "total %.1fs", Date().timeIntervalSince(started)))
        }
    }

    /// The memory performance measurements (hidden): scripts/bench-memory.sh runs it.
    struct BenchPerf: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-perf",
            abstract: "Keyword indexing, embedding throughput and hybrid search latency on synthetic workspaces.",
            shouldDisplay: false
        )
        @Option(help: "Where to generate the workspaces (default: a temporary folder, removed after).") var dir: String?
        @Option(help: "Files for the indexing measure (0: skip).") var indexFiles = 10_000
        @Option(help: "Bytes per file for the indexing measure.") var bytesPerFile = 2_000
        @Option(help: "Chunks for the search measure (0: skip).") var searchChunks = 100_000
        @Option(help: "Queries for the search measure.") var queries = 300
        @Option(help: "Generate a workspace of N files here and stop (for the CLI measure).") var generate: String?
        @Option(help: "Files for --generate.") var files = 1_000
        @Option(help: "Chunks of ~100 tokens for the embedding measure (0: skip; needs the local model).")
        var embedChunks = 0
        @Option(help: "Words of the synthetic notes: zipf (~20,000 words, long tail) or small (86 words).")
        var vocabulary = "zipf"
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard SyntheticWorkspace.Vocabulary(rawValue: vocabulary) != nil else {
                throw ValidationError("--vocabulary must be zipf or small")
            }
        }

        func run() throws {
            let words = SyntheticWorkspace.Vocabulary(rawValue: vocabulary) ?? .zipf
            if let generate {
                try SyntheticWorkspace.generate(
                    root: generate,
                    files: files,
                    bytesPerFile: bytesPerFile,
                    vocabulary: words
                )
                print("generated \(files) files in \(generate)")
                return
            }
            let base = dir ?? NSTemporaryDirectory() + "/localgpt-perf-\(getpid())"
            defer { if dir == nil { try? FileManager.default.removeItem(atPath: base) } }
            if indexFiles > 0 {
                let target = base + "/indexing"
                try? FileManager.default.removeItem(atPath: target)
                let r = try PerformanceBenchmark.indexing(
                    directory: target,
                    files: indexFiles,
                    bytesPerFile: bytesPerFile,
                    vocabulary: words
                )
                print(
                    String(
                        format: "keyword indexing: %d files, %.1f MB, %d chunks in %.2f s = %.0f files/s",
                        r.files,
                        Double(r.bytes) / 1e6,
                        r.chunks,
                        r.seconds,
                        r.filesPerSecond
                    )
                )
            }
            if embedChunks > 0 {
                let (e, reason) = MemoryCommand.loadEmbedder(enabled: true, context: try CLIContext.make(global))
                guard let embedder = e else {
                    throw CLIError("the embedding measure needs the local model: \(reason ?? "")")
                }
                let r = try PerformanceBenchmark.embedding(embedder: embedder, chunks: embedChunks)
                print(
                    String(
                        format:
                            "embedding: %d chunks of %.0f tokens in %.2f s = %.1f chunks/s; "
                            + "query embedding (%d queries): p50 %.2f ms, p99 %.2f ms",
                        r.chunks,
                        r.meanTokens,
                        r.seconds,
                        r.chunksPerSecond,
                        r.queryLatenciesMs.count,
                        r.queryPercentile(0.5),
                        r.queryPercentile(0.99)
                    )
                )
            }
            if searchChunks > 0 {
                let r = try PerformanceBenchmark.hybridSearch(
                    directory: base + "/search-\(words.rawValue)-\(searchChunks)",
                    chunks: searchChunks,
                    queries: queries,
                    vocabulary: words
                )
                print(
                    String(
                        format:
                            "hybrid search: %d chunks, %d vectors, %d queries: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms "
                            + "(first query, loading the vectors: %.0f ms)",
                        r.chunks,
                        r.vectors,
                        r.queries,
                        r.percentile(0.5),
                        r.percentile(0.9),
                        r.percentile(0.99),
                        r.firstQueryMs
                    )
                )
                typealias R = PerformanceBenchmark.SearchResult
                print(
                    String(
                        format:
                            "  keyword stage alone: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms; "
                            + "vector stage alone: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms",
                        R.percentile(r.keywordLatenciesMs, 0.5),
                        R.percentile(r.keywordLatenciesMs, 0.9),
                        R.percentile(r.keywordLatenciesMs, 0.99),
                        R.percentile(r.vectorLatenciesMs, 0.5),
                        R.percentile(r.vectorLatenciesMs, 0.9),
                        R.percentile(r.vectorLatenciesMs, 0.99)
                    )
                )
                print(
                    String(
                        format:
                            "  of which: centroid scan p50 %.2f ms, p99 %.2f ms (one thread: p50 %.2f ms); "
                            + "window stage p50 %.2f ms, p99 %.2f ms",
                        R.percentile(r.centroidScanMs, 0.5),
                        R.percentile(r.centroidScanMs, 0.99),
                        R.percentile(r.centroidScanOneThreadMs, 0.5),
                        R.percentile(r.windowLoadMs, 0.5),
                        R.percentile(r.windowLoadMs, 0.99)
                    )
                )
            }
        }
    }

    /// Embeds the lines of a file with the local model (hidden; retrieval experiments).
    struct BenchEmbed: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-embed",
            abstract: "Embed each line of a text file; write one JSON array per line.",
            shouldDisplay: false
        )
        @Argument(help: "Input: one text per line (\\n inside a text is written as the two characters \\n).")
        var input: String
        @Argument(help: "Output: one JSON array of floats per line.") var output: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (e, reason) = MemoryCommand.loadEmbedder(enabled: true, context: try CLIContext.make(global))
            guard let embedder = e else { throw CLIError(reason ?? "no model") }
            let text = try String(contentsOfFile: input, encoding: .utf8)
            let items = text.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "\\n", with: "\n")
            }
            var out = ""
            var start = 0
            while start < items.count {
                let batch = Array(items[start..<min(start + 64, items.count)])
                for v in try embedder.embed(batch) { out += "\(v)\n" }
                start += batch.count
            }
            try out.write(toFile: output, atomically: true, encoding: .utf8)
        }
    }
}
