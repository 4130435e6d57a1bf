//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// Which texts are embedded for a chunk, and how their vectors are stored.
///
/// A whole 1,600-character chunk is ~400 word pieces: MiniLM reads only the first 256 and averages
/// a dozen unrelated lines into one vector. Embedding windows of whole lines (at most `windowBytes`)
/// instead lets a question match the one line that answers it, anywhere in the chunk.
///
/// Storage: `chunk_centroids` holds each chunk's centroid (the normalised mean of its window
/// vectors; the window itself when there is one), `chunk_windows` the window vectors of a chunk
/// with several, one after the other in one blob, so that a search reads a candidate's windows
/// with one rowid lookup. Search scans the centroids exactly, then scores the best candidates by
/// their best window (see ``VectorMatrix``).
///
/// A chunk is embedded as at most ``maxWindows`` windows, cut from its first `maxWindows ×
/// windowBytes` bytes (12,800 at the defaults). A chunk of the default size (1,600 bytes) has at
/// most nine windows; only a chunk made of a single longer line (a paragraph written as one line, a
/// minified export, a base64 blob) reaches the cap. Its vectors then stand for its beginning; the
/// keyword index still covers the whole line. Without the cap a 2 MB line was 6,000 windows: a
/// search's budget of vectors went to one chunk and `memory reindex` took minutes.
public struct EmbeddingPlan: Sendable, Equatable {
    /// The largest window in UTF-8 bytes (0: the whole chunk is one window).
    public var windowBytes: Int
    /// The most windows embedded for one chunk (at least 1).
    public var maxWindows: Int

    /// The default ``maxWindows``.
    public static let defaultMaxWindows = 32

    public init(windowBytes: Int = 400, maxWindows: Int = EmbeddingPlan.defaultMaxWindows) {
        self.windowBytes = max(0, windowBytes)
        self.maxWindows = max(1, maxWindows)
    }

    /// Part of the index identity: changing the plan re-embeds every chunk (the embedding cache keeps
    /// the windows that did not change). `windows-v3`: at most ``maxWindows`` windows a chunk
    /// (`windows-v2` embedded every window of a long line).
    public var identity: String {
        windowBytes == 0 ? "whole-v1" : "windows-v3/\(windowBytes)x\(maxWindows)+centroid"
    }

    /// How much of a chunk's text is cut into windows: `maxWindows × windowBytes` bytes.
    var embeddedBytes: Int {
        let (bytes, overflow) = windowBytes.multipliedReportingOverflow(by: maxWindows)
        return overflow ? Int.max : bytes
    }

    /// The texts embedded for a chunk's text: consecutive non-blank lines grouped while they fit in
    /// `windowBytes`. A line longer than that is a window of its own, and one longer than twice
    /// that (a paragraph written as one line) is cut into pieces of at most `windowBytes`, at
    /// sentence ends where it can: MiniLM reads only the first 256 word pieces of a text, so the
    /// end of a 2,000-byte line could not be found by meaning.
    ///
    /// Only the first ``embeddedBytes`` of `text` (cut before a character) are read, and at most
    /// ``maxWindows`` windows returned: the cost of a chunk is bounded whatever the length of its
    /// line.
    func windows(for text: String) -> [String] {
        guard windowBytes > 0, text.utf8.count > windowBytes else { return [text] }
        var out: [String] = []
        var current: [Substring] = []
        var size = 0
        for line in Self.prefix(of: text, maxBytes: embeddedBytes).split(
            separator: "\n",
            omittingEmptySubsequences: true
        ) {
            if line.allSatisfy(\.isWhitespace) { continue }
            let pieces = line.utf8.count > 2 * windowBytes ? Self.pieces(of: line, maxBytes: windowBytes) : [line]
            for piece in pieces {
                let n = piece.utf8.count
                if !current.isEmpty && size + 1 + n > windowBytes {
                    out.append(current.joined(separator: "\n"))
                    current = []
                    size = 0
                }
                current.append(piece)
                size += (size == 0 ? 0 : 1) + n
            }
        }
        if !current.isEmpty { out.append(current.joined(separator: "\n")) }
        if out.isEmpty { return [text] }
        return out.count > maxWindows ? Array(out.prefix(maxWindows)) : out
    }

    /// The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that ends between two
    /// characters (`text` itself when it is that short).
    static func prefix(of text: String, maxBytes: Int) -> Substring {
        guard text.utf8.count > maxBytes else { return text[...] }
        var bytes = 0
        var end = text.startIndex
        while end < text.endIndex {
            let next = text.index(after: end)
            let n = text.utf8.distance(from: end, to: next)
            if bytes + n > maxBytes { break }
            bytes += n
            end = next
        }
        return text[..<end]
    }

    /// `line` cut into pieces of at most `maxBytes` UTF-8 bytes (more only for a single character
    /// that long), each ending after a sentence's end (". ", "! ", "? ", "。"…) in its second half
    /// if there is one, else after a space there, else at the limit; never inside a character.
    /// The pieces, joined, are the line.
    static func pieces(of line: Substring, maxBytes: Int) -> [Substring] {
        var out: [Substring] = []
        var start = line.startIndex
        var bytes = 0
        var sentenceEnd: (index: String.Index, bytes: Int)?
        var space: (index: String.Index, bytes: Int)?
        var previous: Character?
        var i = start
        while i < line.endIndex {
            let c = line[i]
            let n = c.utf8.count
            if bytes + n > maxBytes, bytes > 0 {
                // Cut at the best boundary in the second half of the piece, else here; what
                // follows the cut is counted again against the next piece.
                let cut = sentenceEnd ?? space ?? (index: i, bytes: bytes)
                out.append(line[start..<cut.index])
                start = cut.index
                i = cut.index
                bytes = 0
                sentenceEnd = nil
                space = nil
                previous = nil
                continue
            }
            let next = line.index(after: i)
            bytes += n
            if bytes * 2 >= maxBytes {
                if c == " " || c == "\t" {
                    space = (next, bytes)
                    if let p = previous, ".!?;:".contains(p) { sentenceEnd = (next, bytes) }
                } else if "。！？；".contains(c) {
                    sentenceEnd = (next, bytes)
                }
            }
            previous = c
            i = next
        }
        if start < line.endIndex { out.append(line[start...]) }
        return out
    }
}

extension EmbeddingPlan {
    /// What is stored for a chunk whose windows have these vectors: its centroid, and the
    /// windows' vectors concatenated when there are several (nil for none or one).
    static func stored(_ windows: [[Float]]) -> (centroid: [Float], windows: [Float]?)? {
        guard let first = windows.first else { return nil }
        guard windows.count > 1 else { return (first, nil) }
        let dims = first.count
        var mean = [Float](repeating: 0, count: dims)
        for w in windows {
            for i in 0..<dims { mean[i] += w[i] }
        }
        var norm: Float = 0
        for x in mean { norm += x * x }
        norm = norm.squareRoot()
        if norm > 0 { mean = mean.map { $0 / norm } }
        return (mean, Array(windows.joined()))
    }
}

extension Array where Element == Float {
    /// Little-endian float32 bytes, the blob format of the vector tables and `embedding_cache`.
    var blob: Data {
        withUnsafeBytes { Data($0) }
    }

    /// Decodes a float32 blob; nil when its length is not a whole number of floats.
    init?(blob bytes: Data) {
        guard bytes.count % 4 == 0 else { return nil }
        var out = [Float](repeating: 0, count: bytes.count / 4)
        out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: src) }
        }
        self = out
    }
}
