//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import LocalGPTCore
import LocalGPTMemory
import Testing

@Suite struct ChunkerTests {
    /// Lines of `text`, 1-based, as the chunker numbers them.
    private func lines(_ text: String) -> [Substring] {
        var l = text.split(separator: "\n", omittingEmptySubsequences: false)
        if text.hasSuffix("\n") { l.removeLast() }
        return l
    }

    /// A huge `memory.chunk_size` (2^61 tokens made the byte count overflow and the process
    /// trap) is clamped to ``Chunker/maxChunkTokens``; the overlap stays below the size.
    @Test func aHugeChunkSizeIsClamped() throws {
        let configuration = try Configuration(
            toml: "[memory]\nchunk_size = 2305843009213693952\nchunk_overlap = 9223372036854775807",
            environment: [:]
        )
        let chunker = MemoryConfiguration(paths: LocalGPTPaths(home: "/nonexistent"), configuration: configuration)
            .chunker
        #expect(chunker.chunkTokens == Chunker.maxChunkTokens)
        #expect(chunker.overlapTokens == Chunker.maxChunkTokens - 1)
        #expect(chunker.maxBytes == 4 << 20)
        #expect(chunker.chunk("one\ntwo\n").map(\.endLine) == [2])
    }

    @Test func seedTenLineFileOverlapsByAtLeastTheOverlap() {
        // Seed 3: chunk_size = 10 tokens (40 characters), overlap = 2 tokens (8 characters).
        let text = (1...10).map { "line \($0) text" }.joined(separator: "\n") + "\n"
        let chunks = Chunker(chunkTokens: 10, overlapTokens: 2).chunk(text)
        #expect(chunks.first?.startLine == 1)
        #expect(chunks.last?.endLine == 10)
        #expect(chunks.count > 1)
        let all = lines(text)
        for (a, b) in zip(chunks, chunks.dropFirst()) {
            #expect(b.startLine <= a.endLine, "consecutive chunks overlap")
            #expect(b.startLine > a.startLine, "chunking progresses")
            let shared = all[(b.startLine - 1)..<a.endLine].map { $0.utf8.count }.reduce(0, +)
            #expect(shared >= 8)
        }
    }

    @Test func chunkTextIsExactlyItsLines() {
        let text = (1...200).map { "Entry \($0): something worth remembering about topic \($0 % 17)." }
            .joined(separator: "\n")
        let all = lines(text)
        for c in Chunker().chunk(text) {
            #expect(c.text == all[(c.startLine - 1)..<c.endLine].joined(separator: "\n"))
        }
    }

    @Test func chunksStayWithinTheLimitExceptASingleLongLine() {
        var text = ""
        for i in 1...300 {
            text += i == 150 ? String(repeating: "x", count: 5000) : String(repeating: "w", count: i % 97 + 1)
            text += "\n"
        }
        let chunker = Chunker()
        let chunks = chunker.chunk(text)
        var covered = Set<Int>()
        for c in chunks {
            if c.startLine == 150 && c.endLine == 150 {
                #expect(c.text.utf8.count == 5000)
            } else {
                #expect(c.text.utf8.count <= chunker.maxBytes)
                #expect(!(c.startLine...c.endLine).contains(150))
            }
            covered.formUnion(c.startLine...c.endLine)
        }
        #expect(covered == Set(1...300), "every line is in some chunk")
    }

    @Test func defaultsAreTheSeeds() {
        let c = Chunker()
        #expect(c.maxBytes == 1600)
        #expect(c.overlapBytes == 320)
        #expect(c.identity == "lines-v1/400/80")
    }

    @Test func blankChunksAndEmptyFilesYieldNothing() {
        #expect(Chunker().chunk("").isEmpty)
        #expect(Chunker().chunk("\n\n   \n\t\n").isEmpty)
    }

    @Test func lastLineWithoutNewlineAndCRLF() {
        let chunks = Chunker().chunk("a\r\nb\r\nlast")
        #expect(chunks.count == 1)
        #expect(chunks[0].startLine == 1)
        #expect(chunks[0].endLine == 3)
    }

    @Test func invalidUTF8IsReplacedNotFatal() {
        let bytes: [UInt8] = Array("good line\n".utf8) + [0xFF, 0xFE, 0x41, 0x0A] + Array("tail\n".utf8)
        let chunks = bytes.withUnsafeBytes { Chunker().chunk(bytes: $0) }
        #expect(chunks.count == 1)
        #expect(chunks[0].endLine == 3)
        #expect(chunks[0].text.contains("\u{FFFD}"))
    }
}
