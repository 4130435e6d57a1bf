//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import GRDB
import Testing

@testable import LocalGPTMemory

@Suite struct KeywordStatisticsTests {
    @Test func porterStemsAsThePaperDoes() {
        let pairs = [
            ("caresses", "caress"), ("ponies", "poni"), ("cats", "cat"), ("agreed", "agre"),
            ("plastered", "plaster"), ("motoring", "motor"), ("hopping", "hop"), ("falling", "fall"),
            ("filing", "file"), ("happy", "happi"), ("relational", "relat"), ("conditional", "condit"),
            ("digitizer", "digit"), ("hopeful", "hope"), ("goodness", "good"), ("adjustment", "adjust"),
            ("adoption", "adopt"), ("controlling", "control"), ("generalization", "gener"), ("is", "is"),
            ("café", "café"),
        ]
        for (word, stem) in pairs { #expect(PorterStemmer.stem(word) == stem, "\(word)") }
    }

    @Test func stemsMatchTheIndexTerms() throws {
        // The stems must be FTS5's, or the document-frequency lookup misses (slower, never wrong).
        let words =
            "running painted generously happiness relational hopefully caresses agreed sized"
            + " conditional pottery camping adoption controlling activities destress"
        let t = TestMemory()
        try t.write("notes.md", words + "\n")
        let memory = try t.open()
        try memory.reindex()
        let terms = try memory.index.pool.read { db in
            try Set(String.fetchAll(db, sql: "SELECT term FROM chunks_fts_vocab"))
        }
        for w in words.split(separator: " ") {
            let stem = PorterStemmer.stem(String(w))
            #expect(terms.contains(stem), "\(w) -> \(stem)")
        }
    }

    @Test func termsInMostChunksAreLeftOutOfTheQuery() throws {
        let t = TestMemory()
        for i in 0..<4 { try t.write("memory/day-\(i).md", "# Day \(i)\n\n- Alice wrote notes on day \(i).\n") }
        try t.write("memory/day-9.md", "# Day 9\n\n- Alice took the kayak out.\n")
        let memory = try t.open()
        try memory.reindex()
        let query = try #require(KeywordQuery.build("When did Alice take the kayak out?"))
        let focused = try #require(try memory.index.informative(query))
        #expect(focused.terms == ["take", "kayak"], "alice is in 5 of 5 chunks; take stems to 'take', held by none")
        #expect(try memory.index.informative(#require(KeywordQuery.build("Alice"))) == nil)

        // Keyword-only search still lists the chunks that hold only the common term, after the others.
        let r = try memory.search("When did Alice take the kayak out?", limit: 10, mode: .keyword)
        #expect(r.results.first?.file == "memory/day-9.md")
        #expect(r.results.count == 5)
        #expect(try memory.search("Alice", limit: 10, mode: .keyword).results.count == 5)
    }
}
