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
public struct EmbeddingPlan: Sendable, Equatable {
    /// The largest window in UTF-8 bytes (0: the whole chunk is one window).
    public var windowBytes: Int

    public init(windowBytes: Int = 400) {
        self.windowBytes = max(0, windowBytes)
    }

    /// Part of the index identity: changing the plan re-embeds every chunk.
    public var identity: String { windowBytes == 0 ? "whole-v1" : "windows-v1/\(windowBytes)+centroid" }

    /// The texts embedded for a chunk's text: consecutive non-blank lines grouped while they fit in
    /// `windowBytes` (a longer line is a window of its own).
    func windows(for text: String) -> [String] {
        guard windowBytes > 0, text.utf8.count > windowBytes else { return [text] }
        var out: [String] = []
        var current: [Substring] = []
        var size = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.allSatisfy(\.isWhitespace) { continue }
            let n = line.utf8.count
            if !current.isEmpty && size + 1 + n > windowBytes {
                out.append(current.joined(separator: "\n"))
                current = []
                size = 0
            }
            current.append(line)
            size += (size == 0 ? 0 : 1) + n
        }
        if !current.isEmpty { out.append(current.joined(separator: "\n")) }
        return out.isEmpty ? [text] : out
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
