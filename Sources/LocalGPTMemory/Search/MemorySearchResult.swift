//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore

/// How a search ranks chunks.
public enum SearchMode: String, Sendable, CaseIterable {
    /// Keywords and vectors fused (the default when a model is installed).
    case hybrid
    /// FTS5 bm25 only.
    case keyword
    /// Cosine similarity only.
    case vector
}

/// One hit: a chunk of a file.
public struct MemorySearchResult: Sendable, Equatable {
    /// Relative to the workspace (absolute for extra roots).
    public var file: String
    /// First line, 1-based.
    public var lineStart: Int
    /// Last line, inclusive.
    public var lineEnd: Int
    /// Higher is better. Hybrid: the fused score in (0, 1]; keyword: bm25 (positive); vector: cosine.
    public var score: Double
    /// The chunk's best-matching lines on one line, at most ~240 characters.
    public var snippet: String
    /// `memory` (the workspace) or `extra` (a `memory.paths` root).
    public var source: String

    public init(file: String, lineStart: Int, lineEnd: Int, score: Double, snippet: String, source: String = "memory") {
        self.file = file
        self.lineStart = lineStart
        self.lineEnd = lineEnd
        self.score = score
        self.snippet = snippet
        self.source = source
    }

    /// `{"file", "line_start", "line_end", "score", "snippet"}`.
    public var json: JSONValue {
        [
            "file": .string(file),
            "line_start": .int(Int64(lineStart)),
            "line_end": .int(Int64(lineEnd)),
            "score": .double((score * 10_000).rounded() / 10_000),
            "snippet": .string(snippet),
        ]
    }
}

/// The answer to a search.
public struct MemorySearchResponse: Sendable, Equatable {
    public var results: [MemorySearchResult]
    /// The mode actually used. Without a query vector (no model, embeddings disabled, a query
    /// the model cannot read) hybrid stays hybrid, ranked by keywords (scored 0...1, with the
    /// named days' preference), and vector falls back to keyword; ``notice`` says so.
    public var mode: SearchMode
    /// A one-line notice for the user (no model installed, chunks still waiting for vectors...).
    public var notice: String?

    public init(results: [MemorySearchResult], mode: SearchMode, notice: String? = nil) {
        self.results = results
        self.mode = mode
        self.notice = notice
    }

    /// `{"results": [...]}`.
    public var json: JSONValue {
        ["results": .array(results.map(\.json))]
    }
}
