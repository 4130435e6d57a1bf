//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import GRDB
import Testing

@testable import LocalGPTMemory

@Suite struct KeywordStatisticsTests {
    @Test func termsInMostChunksAreLeftOutOfTheQuery() throws {
        let t = TestMemory()
        for i in 0..<4 { try t.write("memory/day-\(i).md", "# Day \(i)\n\n- Alice wrote notes on day \(i).\n") }
        try t.write("memory/day-9.md", "# Day 9\n\n- Alice took the kayak out.\n")
        let memory = try t.open()
        try memory.reindex()
        let query = try #require(KeywordQuery.build("When did Alice take the kayak out?"))
        let plan = try memory.index.keywordPlan(query)
        #expect(plan.ranked == ["take", "kayak"], "alice is in 5 of 5 chunks; take is held by none")
        #expect(plan.common == ["alice"])
        #expect(plan.boosting.isEmpty)
        #expect(try memory.index.keywordPlan(#require(KeywordQuery.build("Alice"))).ranked.isEmpty)

        // Keyword-only search still lists the chunks that hold only the common term, after the others.
        let r = try memory.search("When did Alice take the kayak out?", limit: 10, mode: .keyword)
        #expect(r.results.first?.file == "memory/day-9.md")
        #expect(r.results.count == 5)
        #expect(try memory.search("Alice", limit: 10, mode: .keyword).results.count == 5)
    }

    /// 16 one-chunk files (chunk ids 1...16 in file order): "alice" is in every chunk, "garden" in
    /// chunks 1...12, "kayak" in 1, 3, 5, 7, 9, 11 and "violin" in 4 and 15.
    static func boundedFixture() throws -> (TestMemory, MemoryManager) {
        let t = TestMemory()
        for i in 0..<16 {
            var line = "- Alice wrote notes"
            if i < 12 { line += " about the garden" }
            if i % 2 == 0 && i < 12 { line += " and the kayak" }
            if i == 3 || i == 14 { line += " with the violin" }
            try t.write(String(format: "memory/day-%02d.md", i), "# Day \(i)\n\n\(line).\n")
        }
        let memory = try t.open()
        try memory.reindex()
        return (t, memory)
    }

    @Test func termsOverTheBudgetAreCountedNoFurtherAndBoostOnly() throws {
        let (_, memory) = try Self.boundedFixture()
        let query = try #require(KeywordQuery.build("violin kayak garden alice"))
        let plan = try memory.index.keywordPlan(query, budget: 4)
        #expect(plan.total == 16)
        #expect(plan.terms.map(\.exact) == [true, false, false, false])
        #expect(plan.terms[0].documents == 2)
        #expect(plan.ranked == ["violin"])
        #expect(plan.terms[1].documents == 5, "the 5 newest kayak chunks reach back to 3 of 16: 5 * 16 / 14")
        #expect(plan.boosting == ["kayak"], "informative, but over the budget")
        #expect(plan.common == ["garden", "alice"], "garden: 5 * 16 / 9 = 8 of 16 (estimated)")

        // bm25 ranks the chunks holding "violin" (4 and 15); neither holds kayak, nothing is added.
        let hits = try memory.index.keywordStage(query, depth: 10, fillUp: false, budget: 4)
        #expect(Set(hits.map(\.chunk)) == [4, 15])
        // With a budget that covers everything, bm25 ranks every chunk holding violin or kayak.
        let exact = try memory.index.keywordStage(query, depth: 10, fillUp: false, budget: 1_000)
        #expect(Set(exact.map(\.chunk)) == [1, 3, 4, 5, 7, 9, 11, 15])
    }

    @Test func whenEveryTermIsOverTheBudgetTheNewestChunksOfTheRarestAreScored() throws {
        let (_, memory) = try Self.boundedFixture()
        let query = try #require(KeywordQuery.build("kayak garden"))
        let hits = try memory.index.keywordStage(query, depth: 10, fillUp: false, budget: 2)
        // Both terms are over the budget of 2; kayak is estimated the rarer (4 against 6): the 3
        // newest chunks holding it, which all hold garden too, score alike, newest first.
        #expect(hits.map(\.chunk) == [11, 9, 7])
        // Keyword-only search fills up with the newest chunks holding any term.
        let all = try memory.index.keywordStage(query, depth: 10, fillUp: true, budget: 2)
        #expect(all.map(\.chunk) == [11, 9, 7, 12, 10, 8, 6, 5, 4, 3])
    }

    /// A query made only of words held by half of the chunks or more: bm25 gives them nothing,
    /// so keyword search listed the newest chunks holding any of them, every one scored 0.000.
    /// The newest budget's worth of chunks holding the rarest word are now scored by the words
    /// each holds, with a weight that stays positive.
    @Test func aQueryOfCommonWordsIsScoredByTheWordsEachChunkHolds() throws {
        let (_, memory) = try Self.boundedFixture()
        let query = try #require(KeywordQuery.build("garden alice"))
        let plan = try memory.index.keywordPlan(query, budget: 4)
        #expect(plan.ranked.isEmpty && plan.boosting.isEmpty && plan.common == ["garden", "alice"])
        let hits = try memory.index.keywordStage(query, depth: 10, fillUp: true, budget: 4)
        // garden is the rarer (estimated 8 of 16): its 5 newest chunks, which hold alice too, then
        // the newest holding alice (every chunk: a weight near 0), then the newest holding either.
        #expect(hits.map(\.chunk) == [12, 11, 10, 9, 8, 16, 15, 14, 13, 7])
        let alice = log(1 + 0.5 / 16.5)
        let expected = Array(repeating: log(2.0) + alice, count: 5) + Array(repeating: alice, count: 5)
        #expect(zip(hits.map(\.score), expected).allSatisfy { abs($0 - $1) < 1e-9 }, "\(hits.map(\.score))")
        // A word in no note changes nothing.
        let absent = try #require(KeywordQuery.build("garden alice zeppelin"))
        let same = try memory.index.keywordStage(absent, depth: 10, fillUp: true, budget: 4)
        #expect(same.map(\.chunk) == hits.map(\.chunk) && same.map(\.score) == hits.map(\.score))
    }

    /// The same in a small index, where every chunk holding a word is counted: the notes holding
    /// both words come first, and no score reads 0.000.
    @Test func commonWordsInASmallIndexScoreAboveZero() throws {
        let t = TestMemory()
        let notes = [
            "Alice fed the cat.", "Alice read a book.", "Alice planted tulips in the garden.",
            "Bob cleaned the garden shed.", "Alice and Bob sat in the garden.", "Alice went running.",
        ]
        for (i, note) in notes.enumerated() { try t.write("memory/day-\(i).md", "- \(note)\n") }
        let memory = try t.open()
        try memory.reindex()
        let query = try #require(KeywordQuery.build("Alice garden"))
        #expect(try memory.index.keywordPlan(query).common == ["alice", "garden"])
        let results = try memory.search("Alice garden", limit: 10, mode: .keyword).results
        #expect(Set(results.prefix(2).map(\.file)) == ["memory/day-2.md", "memory/day-4.md"])
        #expect(results.count == 6)
        #expect(results.allSatisfy { $0.score >= 0.001 }, "\(results.map(\.score))")
        #expect(results[0].score > results[2].score)
        // A word in no note changes nothing.
        let absent = try memory.search("Alice garden zeppelin", limit: 10, mode: .keyword).results
        #expect(absent.map(\.file) == results.map(\.file) && absent.map(\.score) == results.map(\.score))
    }

    /// Term counts are cached per generation of the index: a write that adds chunks holding a
    /// term, in this process or another, is seen by the next plan.
    @Test func cachedTermCountsFollowTheIndex() throws {
        let t = TestMemory()
        try t.write("memory/a.md", "# A\n\n- A kayak trip.\n")
        let memory = try t.open()
        try memory.reindex()
        let query = try #require(KeywordQuery.build("kayak"))
        #expect(try memory.index.keywordPlan(query, budget: 4).terms.first?.documents == 1)
        #expect(try memory.index.keywordPlan(query).terms.first?.documents == 1)
        #expect(try memory.index.keywordPlan(query).terms.first?.documents == 1)

        try t.write("memory/b.md", "# B\n\n- Another kayak.\n")
        try memory.reindex()
        #expect(try memory.index.keywordPlan(query).terms.first?.documents == 2)

        let other = try t.open()  // another connection to the same file, as another process has
        try t.write("memory/c.md", "# C\n\n- The kayak again.\n")
        try other.reindex()
        #expect(try memory.index.keywordPlan(query).terms.first?.documents == 3)
        #expect(try memory.search("kayak", limit: 10, mode: .keyword).results.count == 3)
    }
}
