//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// One piece of a file as the index stores it: whole lines, with a 1-based inclusive line range.
public struct TextChunk: Sendable, Equatable {
    /// The first line (1-based).
    public var startLine: Int
    /// The last line (1-based, inclusive).
    public var endLine: Int
    /// The lines joined with their original line breaks (invalid UTF-8 replaced by U+FFFD).
    public var text: String
}

/// Splits a file into overlapping chunks of whole lines.
///
/// Lines are added to a chunk while it stays within `maxBytes` (chunk size × 4, 1,600 by
/// default); a single line longer than that becomes a chunk of its own. The next chunk starts with
/// the previous chunk's trailing lines that total at least `overlapBytes` (overlap × 4, 320), as
/// far as the size limit allows, and always starts after the previous chunk's first line, so
/// chunking always progresses. Sizes count UTF-8 bytes, so a chunk never has more than `maxBytes`
/// characters. Chunks made only of blank lines are dropped.
public struct Chunker: Sendable, Equatable {
    /// The chunk size in tokens of about four characters (default 400).
    public var chunkTokens: Int
    /// The overlap in tokens (default 80).
    public var overlapTokens: Int

    /// The largest chunk size taken (4 MiB of text); larger values are clamped to it, so that
    /// a mistyped `memory.chunk_size` cannot overflow the byte counts.
    public static let maxChunkTokens = 1 << 20

    public init(chunkTokens: Int = 400, overlapTokens: Int = 80) {
        self.chunkTokens = max(1, min(chunkTokens, Self.maxChunkTokens))
        self.overlapTokens = max(0, min(overlapTokens, self.chunkTokens - 1))
    }

    public var maxBytes: Int { chunkTokens * 4 }
    public var overlapBytes: Int { overlapTokens * 4 }

    /// What the index records as the chunker's identity: changing it rebuilds the index.
    public var identity: String { "lines-v1/\(chunkTokens)/\(overlapTokens)" }

    /// Chunks a string.
    public func chunk(_ text: String) -> [TextChunk] {
        var copy = text
        return copy.withUTF8 { chunk(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Chunks raw file bytes (any encoding; invalid UTF-8 is replaced in the chunk text).
    public func chunk(bytes: UnsafeRawBufferPointer) -> [TextChunk] {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
        // Line i spans [starts[i], ends[i]) without its "\n".
        var starts: [Int] = []
        var ends: [Int] = []
        starts.reserveCapacity(count / 40 + 1)
        ends.reserveCapacity(count / 40 + 1)
        var lineStart = 0
        var i = 0
        while i < count {
            if base[i] == 0x0A {
                starts.append(lineStart)
                ends.append(i)
                lineStart = i + 1
            }
            i += 1
        }
        if lineStart < count {
            starts.append(lineStart)
            ends.append(count)
        }
        let lineCount = starts.count
        // The size of lines a...b joined with "\n".
        func size(_ a: Int, _ b: Int) -> Int { ends[b] - starts[a] }

        var chunks: [TextChunk] = []
        func emit(_ a: Int, _ b: Int) {
            var blank = true
            var j = starts[a]
            let end = ends[b]
            while j < end {
                let c = base[j]
                if c != 0x20 && c != 0x09 && c != 0x0A && c != 0x0D {
                    blank = false
                    break
                }
                j += 1
            }
            if blank { return }
            let text = String(
                decoding: UnsafeBufferPointer(start: base + starts[a], count: end - starts[a]),
                as: UTF8.self
            )
            chunks.append(TextChunk(startLine: a + 1, endLine: b + 1, text: text))
        }

        var first = 0  // the current chunk is lines first..<next
        var next = 0
        while next < lineCount {
            if next > first && size(first, next) > maxBytes {
                emit(first, next - 1)
                // Carry back trailing lines worth at least overlapBytes, never the first line.
                var carry = next
                while carry - 1 > first && (carry == next || size(carry, next - 1) < overlapBytes) {
                    carry -= 1
                }
                if overlapBytes == 0 { carry = next }
                // Keep the next chunk within the limit: drop carried lines from the front.
                while carry < next && size(carry, next) > maxBytes { carry += 1 }
                first = carry
            }
            next += 1
        }
        if first < lineCount { emit(first, lineCount - 1) }
        return chunks
    }
}
