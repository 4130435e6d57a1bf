//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTMemory
import Testing

@Suite struct BadInputTests {
    @Test func binaryFileIsSkippedWithAReason() throws {
        let t = TestMemory()
        try t.write("ok.md", "a perfectly normal note about kayaks\n")
        try t.write("blob.md", Data([0x50, 0x4B, 0x03, 0x04, 0x00, 0x00, 0x10, 0x00, 0xFF, 0x00]))
        let memory = try t.open()
        let r = try memory.reindex()
        #expect(r.skipped == [SkippedFile(file: "blob.md", reason: "binary file")])
        #expect(try memory.search("kayaks", mode: .keyword).results.count == 1)
        #expect(FileManager.default.fileExists(atPath: t.workspace + "/blob.md"), "never a lost file")
    }

    @Test func unreadableFileNeverStopsTheIndex() throws {
        let t = TestMemory()
        try t.write("ok.md", "notes about the harbour\n")
        try t.write("secret.md", "locked away\n")
        chmod(t.workspace + "/secret.md", 0)
        defer { chmod(t.workspace + "/secret.md", 0o600) }
        let memory = try t.open()
        let r = try memory.reindex()
        if geteuid() != 0 {  // root reads it anyway
            #expect(r.skipped.map(\.file) == ["secret.md"])
            #expect(r.skipped.first?.reason.contains("Permission denied") == true)
        }
        #expect(try memory.search("harbour", mode: .keyword).results.count == 1)
    }

    @Test func oversizedFileIsSkippedOthersIndexed() throws {
        let t = TestMemory()
        // A 50 MB markdown file (sparse: written by truncate, so the test stays fast).
        let big = t.workspace + "/huge.md"
        try t.write("huge.md", "start\n")
        #expect(truncate(big, 50 << 20) == 0)
        try t.write("small.md", "the lighthouse keeper\n")
        let memory = try t.open()
        let r = try memory.reindex()
        #expect(r.skipped.count == 1)
        #expect(r.skipped.first?.file == "huge.md")
        #expect(r.skipped.first?.reason.contains("larger than") == true)
        #expect(try memory.search("lighthouse", mode: .keyword).results.count == 1)
        #expect(FileInfoProbe.size(big) == 50 << 20, "never a lost file")
    }

    @Test func largeMarkdownFileIsIndexedWhenAllowed() throws {
        let t = TestMemory()
        var text = ""
        for i in 0..<20_000 { text += "Line \(i) of a long journal about sailing and knots number k\(i).\n" }
        try t.write("journal.md", text)
        let memory = try t.open()
        let r = try memory.reindex()
        #expect(r.filesUpdated == 1)
        #expect(r.chunksWritten > 500)
        let hit = try #require(try memory.search("k12345", mode: .keyword).results.first)
        #expect(hit.lineStart <= 12_346 && 12_346 <= hit.lineEnd)
    }

    @Test func invalidUTF8IsIndexedWithReplacements() throws {
        let t = TestMemory()
        try t.write("mixed.md", Data(Array("caf".utf8) + [0xE9] + Array(" au lait with croissants\n".utf8)))
        let memory = try t.open()
        try memory.reindex()
        let hit = try #require(try memory.search("croissants", mode: .keyword).results.first)
        #expect(hit.snippet.contains("croissants"))
    }

    @Test func emptyAndHugeQueries() throws {
        let t = TestMemory()
        try t.write("a.md", "penguins live in Antarctica\n")
        let memory = try t.open(embedder: TrigramTestEmbedder())
        #expect(throws: MemoryError.self) { try memory.search("") }
        #expect(throws: MemoryError.self) { try memory.search("   \n\t") }
        #expect(throws: MemoryError.self) { try memory.search("x", limit: 0) }
        let huge = String(repeating: "penguins and other words ", count: 400)  // 10,000 characters
        #expect(huge.count == 10_000)
        let r = try memory.search(huge)
        #expect(r.results.first?.file == "a.md")
        let punctuation = try memory.search("?!?", mode: .keyword)
        #expect(punctuation.results.isEmpty)
        let syntax = try memory.search(#"NEAR("a" "b") AND OR * ^ ""#, mode: .keyword)
        #expect(syntax.results.isEmpty)
    }
}

enum FileInfoProbe {
    static func size(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
    }
}
