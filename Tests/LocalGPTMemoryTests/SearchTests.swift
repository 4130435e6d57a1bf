//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import GRDB
import InMemoryLogging
import LocalGPTCore
import Logging
import Testing

@testable import LocalGPTMemory

@Suite struct SearchTests {
    static func fixture(embedder: (any TextEmbedder)? = nil) throws -> (TestMemory, MemoryManager) {
        let t = TestMemory()
        try t.write(
            "MEMORY.md",
            "# Memory\n\n- The user prefers database concurrency locks to be explained with diagrams.\n"
        )
        try t.write(
            "memory/2024-03-02.md",
            "# 2024-03-02\n\n- Fixed the deadlock: the locks were taken in the wrong order.\n- Lunch with Ana.\n"
        )
        try t.write("memory/2024-03-03.md", "# 2024-03-03\n\n- Read about database sharding and replicas.\n")
        try t.write("knowledge/trips.md", "# Trips\n\nKyoto in April: temples, tea houses, the philosopher's path.\n")
        return (t, try t.open(embedder: embedder))
    }

    @Test func naturalLanguageQuestionsFindKeywords() throws {
        // Seed 4 (0.3.5 mode): stop words dropped, any keyword matches, the best chunk has them all.
        let (_, memory) = try Self.fixture()
        let r = try memory.search("what about database concurrency locks?", mode: .keyword)
        #expect(r.results.first?.file == "MEMORY.md")
        #expect(r.results.contains { $0.file == "memory/2024-03-02.md" }, "a chunk with only 'locks' matches too")
        #expect(r.results.first?.snippet.contains("concurrency") == true)
    }

    @Test func resultsCarryFileLinesScoreAndSnippet() throws {
        let (_, memory) = try Self.fixture()
        let hit = try #require(try memory.search("Kyoto temples", mode: .keyword).results.first)
        #expect(hit.file == "knowledge/trips.md")
        #expect(hit.lineStart == 1)
        #expect(hit.lineEnd == 3)
        #expect(hit.score > 0)
        #expect(hit.snippet.hasPrefix("Kyoto in April"))
        let json = try #require(try memory.search("Kyoto", mode: .keyword).json["results"]?.arrayValue?.first)
        #expect(json["file"] == "knowledge/trips.md")
        #expect(json["line_start"] == 1)
        #expect(json["line_end"] == 3)
    }

    @Test(arguments: [SearchMode.keyword, .vector, .hybrid])
    func bestHitDoesNotDependOnTheLimit(_ mode: SearchMode) throws {
        let t = TestMemory()
        for i in 0..<40 {
            try t.write(
                "memory/2024-01-\(i).md",
                TestMemory.diary("day \(i)", lines: 20, topic: i % 3 == 0 ? "garden" : "kitchen")
            )
        }
        let memory = try t.open(embedder: TrigramTestEmbedder())
        try memory.reindex()  // every vector (a search alone embeds its budget, newest first)
        for query in ["garden project step 7", "kitchen notes item3x", "what did I write about the garden?"] {
            let one = try memory.search(query, limit: 1, mode: mode)
            let ten = try memory.search(query, limit: 10, mode: mode)
            #expect(one.results.count == 1)
            #expect(one.results.first == ten.results.first, "\(query)")
            #expect(ten.results.map(\.score) == ten.results.map(\.score).sorted(by: >))
        }
    }

    @Test func textWrittenAMomentAgoIsFindable() throws {
        let (t, memory) = try Self.fixture(embedder: TrigramTestEmbedder())
        _ = try memory.search("anything")
        try memory.log(entry: "Canary: the blue heron nests by the quarry pond.")
        for mode in SearchMode.allCases {
            let r = try memory.search("blue heron quarry", mode: mode)
            #expect(r.results.first?.file == Workspace.dailyLogName(), "\(mode)")
        }
        // Written behind the memory's back, too.
        try t.write("knowledge/new.md", "The zeppelin museum opens at nine.\n")
        #expect(try memory.search("zeppelin museum").results.first?.file == "knowledge/new.md")
    }

    @Test func theFirstSearchOfANewWorkspaceEmbedsOnlyItsBudget() throws {
        // A new index is built with a full rebuild; a search must not embed every file first.
        let t = TestMemory()
        for i in 0..<12 { try t.write("memory/2024-02-\(i + 10).md", TestMemory.diary("day \(i)", lines: 30)) }
        try t.write("knowledge/trips.md", "# Trips\n\nKyoto in April: temples, tea houses, the philosopher's path.\n")
        try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
        let embedder = TrigramTestEmbedder()
        let config = MemoryConfiguration(workspace: t.workspace, indexPath: t.indexPath, searchEmbedBudget: 4)
        let memory = try MemoryManager(configuration: config, embedder: embedder, bootstrap: false)
        let r = try memory.search("Kyoto temples")
        #expect(r.results.first?.file == "knowledge/trips.md")
        #expect(r.notice?.contains("have no vectors yet") == true, "\(r.notice ?? "")")
        // The budget counts vectors (windows): 4, and the query's; one chunk is embedded whole.
        #expect(embedder.textCount >= 2 && embedder.textCount <= 1 + 4 + 8, "\(embedder.textCount)")
        let chunks = try memory.index.stats().chunks
        let pending = try memory.reindex(embedLimit: 0).pendingEmbeddings
        #expect(pending > 0 && pending < chunks)
        // `memory reindex` (no limit) embeds the rest.
        #expect(try memory.reindex().pendingEmbeddings == 0)
    }

    /// Above the fusion depth (50), a larger limit moved the vector scores' normalisation and gave
    /// chunks of the vector list's head keyword scores they had not had: `--limit 70` changed the
    /// best hit and every score. The first results are now the same for any limit.
    @Test func theFirstResultsDoNotDependOnALimitAboveTheDepth() throws {
        let t = TestMemory()
        for i in 0..<90 {
            try t.write(
                "memory/2024-03-\(i).md",
                TestMemory.diary("day \(i)", lines: 6, topic: ["garden", "kitchen", "boat"][i % 3])
            )
        }
        let memory = try t.open(embedder: TrigramTestEmbedder())
        try memory.reindex()
        for query in ["garden project step 3", "boat anchor item2x notes", "kitchen"] {
            let ten = try memory.search(query, limit: 10, mode: .hybrid).results
            var previous: [MemorySearchResult] = []
            for limit in [60, 80, 100] {
                let more = try memory.search(query, limit: limit, mode: .hybrid).results
                #expect(Array(more.prefix(10)) == ten, "\(query) at \(limit)")
                #expect(more.map(\.score) == more.map(\.score).sorted(by: >))
                // Beyond the first 50 too: a larger limit only adds results after these.
                #expect(Array(more.prefix(previous.count)) == previous, "\(query) at \(limit)")
                previous = more
            }
        }
    }

    /// With vectors still owed (a workspace indexed before the model was installed), a search's
    /// budget went to the oldest chunks: the note written a moment ago was the last to be found by
    /// meaning. The newest chunks come first.
    @Test func theSearchBudgetGoesToTheNewestChunks() throws {
        let t = TestMemory()
        for i in 0..<12 { try t.write("memory/2024-02-\(i + 10).md", TestMemory.diary("day \(i)", lines: 30)) }
        try t.open().reindex()  // no model yet
        try t.write("knowledge/anna.md", "Anna is allergic to peanuts and cashews.\n")
        let config = MemoryConfiguration(workspace: t.workspace, indexPath: t.indexPath, searchEmbedBudget: 4)
        let memory = try MemoryManager(configuration: config, embedder: TrigramTestEmbedder(), bootstrap: false)
        let r = try memory.search("allergic to peanuts", mode: .vector)
        #expect(r.results.first?.file == "knowledge/anna.md")
        #expect(r.notice?.contains("have no vectors yet") == true, "\(r.notice ?? "")")
    }

    @Test func seedFusionScores() {
        // Seed 5: #1 by keywords only scores 0.3; #1 in both lists scores 1.0.
        let seed = RankingOptions(fusion: .seed, keywordWeight: 0.3, vectorWeight: 0.7)
        let onlyKeyword = seed.fuse(keyword: [(1, 9.0), (2, 5.0)], vector: [(3, 0.9), (2, 0.8)])
        #expect(abs((onlyKeyword.first { $0.chunk == 1 }?.score ?? 0) - 0.3) < 1e-9)
        let both = seed.fuse(keyword: [(1, 9.0)], vector: [(1, 0.9)])
        #expect(abs((both.first?.score ?? 0) - 1.0) < 1e-9)
        // RRF is scaled the same way: first in both lists = 1.
        let rrf = RankingOptions(fusion: .rrf).fuse(keyword: [(1, 9.0)], vector: [(1, 0.9)])
        #expect(abs((rrf.first?.score ?? 0) - 1.0) < 1e-9)
    }

    @Test func fusedScoresBelowTheFloorAreLeftOut() {
        let keyword: [(chunk: Int64, score: Double)] = [(1, 9.0), (2, 3.0)]
        let vector: [(chunk: Int64, score: Double)] = [(3, 0.9), (2, 0.5), (4, 0.1)]
        // Chunk 4 is last of the vector list and has no keyword: it scores 0.
        let all = RankingOptions(minimumScore: 0).fuse(keyword: keyword, vector: vector)
        #expect(all.map(\.chunk) == [1, 2, 3, 4])
        #expect(all.last?.score == 0)
        let floored = RankingOptions().fuse(keyword: keyword, vector: vector)
        #expect(floored.map(\.chunk) == [1, 2, 3])
        #expect(floored.allSatisfy { $0.score >= RankingOptions.defaultMinimumScore })
    }

    @Test func vectorScoresWithAndWithoutKeywordHits() {
        // Without keyword hits the score is the cosine: the best of unrelated notes used to score
        // a perfect 1 (min-max over the list), and one below the floor is left out.
        let fused = RankingOptions().fuse(keyword: [], vector: [(7, 0.2), (8, 0.03), (9, -0.1)])
        #expect(fused.map(\.chunk) == [7])
        #expect(fused.first?.score == 0.2)
        // Min-max over one score has no span: the candidate is its list's best, not its worst.
        let withKeyword = RankingOptions().fuse(keyword: [(1, 4.0)], vector: [(7, 0.2)])
        #expect(withKeyword.map(\.chunk) == [1, 7])
        #expect(abs((withKeyword.last?.score ?? 0) - 0.3) < 1e-9)
    }

    @Test func hybridLeavesOutFilesThatMatchNothing() throws {
        let (_, memory) = try Self.fixture(embedder: TrigramTestEmbedder())
        let all = try memory.search("Kyoto temples", limit: 10, ranking: RankingOptions(minimumScore: 0))
        #expect(all.mode == .hybrid)
        #expect(all.results.first?.file == "knowledge/trips.md")
        #expect(all.results.contains { $0.score < RankingOptions.defaultMinimumScore }, "the fixture has a non-match")
        let floored = try memory.search("Kyoto temples", limit: 10)
        #expect(floored.results.first == all.results.first)
        #expect(floored.results.allSatisfy { $0.score >= RankingOptions.defaultMinimumScore })
        #expect(floored.results.count < all.results.count)
    }

    @Test func aLoneNoteIsFoundWithoutSharedWords() throws {
        // OpenClaw #29112: a score floor must not hide freshly written text.
        let t = TestMemory()
        try t.write("knowledge/new.md", "The zeppelin museum opens at nine.\n")
        let memory = try t.open(embedder: TrigramTestEmbedder())
        let r = try memory.search("airship exhibition hours", mode: .hybrid)
        #expect(r.results.map(\.file) == ["knowledge/new.md"])
    }

    @Test func aNewWorkspacesTemplatesDoNotFollowTheAnswer() throws {
        // The real model: a question about the one note a user wrote lists that note alone.
        let t = TestMemory()
        let memory = try t.open(embedder: try EmbedderTestSupport.embedder(), bootstrap: true)
        try memory.save(fact: "I planted tomatoes in the garden on Saturday.")
        let r = try memory.search("when did I plant tomatoes?", limit: 5)
        #expect(r.mode == .hybrid)
        #expect(r.results.map(\.file) == ["MEMORY.md"])
        let all = try memory.search("when did I plant tomatoes?", limit: 5, ranking: RankingOptions(minimumScore: 0))
        #expect(all.results.first?.file == "MEMORY.md")
        #expect(all.results.count > 1, "the templates are still there, scoring below the floor")
    }

    @Test func aSearchLogsWhatItFoundButNotTheQuery() throws {
        let t = TestMemory()
        try t.write("knowledge/trips.md", "Kyoto in April: temples, tea houses, the philosopher's path.\n")
        var handler = InMemoryLogHandler()
        handler.logLevel = .debug
        let captured = handler
        try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
        let memory = try MemoryManager(
            configuration: t.configuration(),
            embedder: nil,
            logger: Logger(label: "search-log-test") { _ in captured },
            bootstrap: false
        )
        _ = try memory.search("kyoto temples secretword", mode: .keyword)
        let entry = try #require(handler.entries.first { "\($0.message)" == "memory search" })
        #expect(entry.level == .debug)
        #expect(entry.metadata["memory.mode"] == "keyword")
        #expect(entry.metadata["memory.results"] == "1")
        #expect(entry.metadata["memory.best"] != "none")
        #expect(entry.metadata["memory.ms"] != nil)
        let logged = handler.entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
        #expect(!logged.contains("secretword"), "the query is the user's text")
    }

    @Test func theFloorIsReadFromConfig() throws {
        func floor(_ toml: String) throws -> Double {
            let configuration = try Configuration(toml: toml, environment: [:])
            return MemoryConfiguration(paths: LocalGPTPaths(home: "/nonexistent"), configuration: configuration)
                .ranking.minimumScore
        }
        #expect(try floor("") == RankingOptions.defaultMinimumScore)
        #expect(try floor("[memory]\nmin_score = 0") == 0)
        #expect(try floor("[memory]\nmin_score = 0.2") == 0.2)
        #expect(try floor("[memory]\nmin_score = -1") == 0)
        #expect(try floor("[memory]\nmin_score = 3") == 1)
    }

    /// Settings that name no folder were dropped in silence, and searches then missed the
    /// notes the user meant; each is now a warning the commands print.
    @Test func ignoredSettingsAreWarnings() throws {
        func warnings(_ toml: String, environment: [String: String] = [:]) throws -> [String] {
            MemoryConfiguration(
                paths: LocalGPTPaths(home: "/nonexistent"),
                configuration: try Configuration(toml: toml, environment: [:]),
                environment: environment
            ).warnings
        }
        #expect(try warnings("[memory]\npaths = [\"/notes\", { path = \"/b\", pattern = \"*.txt\" }]").isEmpty)
        #expect(
            try warnings("[memory]\npaths = \"/notes\"") == [
                "memory.paths must be a list of folders, e.g. [\"~/notes\"]: ignored"
            ]
        )
        let items = try warnings("[memory]\npaths = [42, { pattern = \"*.md\" }, \"\"]")
        #expect(items.count == 3)
        #expect(items.first?.hasPrefix("memory.paths[0] must be a folder") == true)
        #expect(items.last == "memory.paths[2] is an empty path: ignored")
        #expect(
            try warnings("", environment: ["LOCALGPT_WORKSPACE": "notes"]) == [
                "LOCALGPT_WORKSPACE=notes is not an absolute path: ignored"
            ]
        )
        #expect(try warnings("", environment: ["LOCALGPT_WORKSPACE": "/abs/notes"]).isEmpty)
        // Numbers of the wrong type or out of range were replaced in silence.
        #expect(
            try warnings("[memory]\nchunk_size = \"abc\"") == [
                "memory.chunk_size must be a whole number: ignored (using 400)"
            ]
        )
        #expect(
            try warnings("[memory]\nchunk_size = 5000000") == [
                "memory.chunk_size = 5000000 is outside 16...1048576: using 1048576"
            ]
        )
        #expect(try warnings("[memory]\nmin_score = 3\nembeddings = \"yes\"").count == 2)
        #expect(try warnings("[memory]\nchunk_size = 300\nchunk_overlap = 40\nmin_score = 0.1").isEmpty)
        #expect(try warnings("[memory]\nchunk_size = 50").isEmpty)  // the default overlap shrinks
        #expect(
            try warnings("[memory]\nchunk_size = 400\nchunk_overlap = 400\nmax_file_bytes = -1") == [
                "memory.chunk_overlap = 400 is not below memory.chunk_size = 400: using 399",
                "memory.max_file_bytes = -1 is not a size: ignored (using 16777216)",
            ]
        )
    }

    /// "database is locked - while executing BEGIN IMMEDIATE TRANSACTION" after 30 s of silence
    /// told the user nothing; the message says another process holds the index.
    @Test func aLockedIndexIsExplained() {
        let message = MemoryError.database("writing the index", DatabaseError(resultCode: .SQLITE_BUSY)).message
        #expect(message.contains("another process"), "\(message)")
        #expect(message.hasPrefix("memory index: writing the index failed:"))
    }

    @Test func keywordOnlyWithoutEmbedderSaysSo() throws {
        let (_, memory) = try Self.fixture()
        let r = try memory.search("sharding")
        // Still hybrid (ranked by keywords, scored 0...1, with the named days' preference).
        #expect(r.mode == .hybrid)
        #expect(r.notice?.contains("keyword search only") == true)
        #expect(r.results.first?.file == "memory/2024-03-03.md")
        #expect(r.results.first?.score == 1)
        let vector = try memory.search("sharding", mode: .vector)
        #expect(vector.mode == .keyword)
        #expect(vector.notice?.contains("keyword search only") == true)
    }

    @Test func vectorSearchRanksBySimilarity() throws {
        let (_, memory) = try Self.fixture(embedder: TrigramTestEmbedder())
        let r = try memory.search("philosophers path temples kyoto", mode: .vector)
        #expect(r.mode == .vector)
        #expect(r.results.first?.file == "knowledge/trips.md")
        #expect(r.results.allSatisfy { $0.score <= 1.0001 })
    }

    @Test func cjkTextIsSearchable() throws {
        let t = TestMemory()
        try t.write("jp.md", "今日は東京で寿司を食べました。\n")
        try t.write("zh.md", "我们明天去北京旅行。\n")
        let memory = try t.open()
        #expect(try memory.search("東京", mode: .keyword).results.first?.file == "jp.md")
        #expect(try memory.search("北京旅行", mode: .keyword).results.first?.file == "zh.md")
        #expect(try memory.search("Café au lait", mode: .keyword).results.isEmpty)
    }

    @Test func accentsFoldBothWays() throws {
        let t = TestMemory()
        try t.write("a.md", "Meeting at the café near the Zürich station.\n")
        let memory = try t.open()
        #expect(try memory.search("cafe zurich", mode: .keyword).results.count == 1)
        #expect(try memory.search("Café", mode: .keyword).results.count == 1)
    }

    /// FTS5 removes diacritics from Latin letters only, and keeps every mark: the index and the
    /// query must fold alike, or a word copied from a note does not find it (keyword mode; a
    /// hybrid search hid it behind the vector half).
    @Test(arguments: [
        ("ru.md", "Мой новый чайник сломался.", ["чайник", "Мой", "новый", "чаиник"]),
        ("de.md", "Straße und Fußball heute.", ["Straße", "Fußball", "strasse", "FUSSBALL"]),
        ("el.md", "Ο λόγος του ΣΊΣΥΦΟΥ.", ["λόγος", "λογος", "ΣΊΣΥΦΟΥ", "σισυφου"]),
        ("he.md", "שָׁלוֹם עוֹלָם", ["שָׁלוֹם", "שלום", "עולם"]),
        ("ar.md", "مَرْحَبًا بِالْعَالَمِ", ["مَرْحَبًا", "مرحبا"]),
        ("hi.md", "नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),
        ("ta.md", "வணக்கம் உலகம்", ["வணக்கம்", "உலகம்"]),
        ("th.md", "สวัสดี ครับ", ["สวัสดี"]),
        ("fr.md", "Un cœur déçu à Noël.", ["cœur", "déçu", "decu", "noel"]),
    ])
    func wordsOfEveryScriptFindTheirNote(file: String, text: String, queries: [String]) throws {
        let t = TestMemory()
        try t.write(file, text + "\n")
        try t.write("other.md", "Nothing in common here.\n")
        let memory = try t.open()
        for q in queries {
            #expect(try memory.search(q, mode: .keyword).results.map(\.file) == [file], "\(q)")
        }
    }
}
