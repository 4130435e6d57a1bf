//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Testing

@testable import LocalGPTMemory

@Suite struct NamedDatesTests {
    /// A Monday.
    static let today = NamedDates.Day(year: 2026, month: 11, day: 23)

    static func days(_ query: String, today: NamedDates.Day = today) -> [String] {
        NamedDates.find(in: query, today: today).days.map(\.description).sorted()
    }

    static func months(_ query: String, today: NamedDates.Day = today) -> [String] {
        NamedDates.find(in: query, today: today).months.map(\.description).sorted()
    }

    @Test(arguments: [
        ("What did Caroline do on 3 June, 2023?", "2023-06-03"),
        ("the 3rd of June 2023", "2023-06-03"),
        ("June 3rd, 2023", "2023-06-03"),
        ("Jun 3 2023", "2023-06-03"),
        ("notes from 2023-06-03", "2023-06-03"),
        ("1:14 pm on 25 May, 2023", "2023-05-25"),
        // Without a year: the latest such day on or before today.
        ("what happened on June 3?", "2026-06-03"),
        ("on the 5th of December", "2025-12-05"),
        ("on 23 November", "2026-11-23"),
        // Relative to today.
        ("what did I do today", "2026-11-23"),
        ("what did I do yesterday?", "2026-11-22"),
        ("the day before yesterday", "2026-11-21"),
        ("5 days ago", "2026-11-18"),
        ("two days ago", "2026-11-21"),
        ("last Monday", "2026-11-16"),
        ("on Monday", "2026-11-23"),
        ("on Sunday", "2026-11-22"),
        ("last friday", "2026-11-20"),
    ])
    func daysAreRead(_ query: String, _ expected: String) {
        #expect(Self.days(query) == [expected])
    }

    @Test(arguments: [
        ("what did I do in June 2023?", "2023-06"),
        ("plans in June", "2026-06"),
        ("back in December", "2025-12"),
        ("during May", "2026-05"),
        ("the 2024-03 notes", "2024-03"),
        ("last month", "2026-10"),
        ("this month", "2026-11"),
    ])
    func monthsAreRead(_ query: String, _ expected: String) {
        #expect(Self.months(query) == [expected])
        #expect(Self.days(query).isEmpty)
    }

    /// "29 February" without a year was read as the 29 February of the latest year that had
    /// passed it, which need not be a leap year: the invalid day was dropped, and the query named
    /// nothing.
    @Test(arguments: [
        ("what did I do on February 29th?", "2026-11-23", "2024-02-29"),
        ("on 29 February", "2026-11-23", "2024-02-29"),
        ("the 29th of Feb", "2026-11-23", "2024-02-29"),
        ("on 29 February", "2024-02-29", "2024-02-29"),
        ("on 29 February", "2024-02-28", "2020-02-29"),
        ("on 29 February", "2028-03-01", "2028-02-29"),
        ("on 29 February", "2104-01-05", "2096-02-29"),
    ])
    func theTwentyNinthOfFebruaryIsTheLatestOne(_ query: String, _ today: String, _ expected: String) throws {
        let parts = today.split(separator: "-").compactMap { Int($0) }
        try #require(parts.count == 3)
        #expect(Self.days(query, today: .init(year: parts[0], month: parts[1], day: parts[2])) == [expected])
    }

    @Test(arguments: ["31 June", "June 31st", "on 31 April", "29 February 2023", "February 29, 2100", "30 February"])
    func daysThatNeverExistAreDropped(_ query: String) {
        #expect(NamedDates.find(in: query, today: Self.today).isEmpty, "\(Self.days(query))")
    }

    @Test func lastMonthInJanuaryIsDecember() {
        #expect(Self.months("last month", today: .init(year: 2027, month: 1, day: 10)) == ["2026-12"])
    }

    @Test func lastWeekIsTheSevenDaysBefore() {
        let found = NamedDates.find(in: "what did I cook last week?", today: Self.today)
        #expect(found.days.isEmpty)
        #expect(found.nearDays.map(\.description).sorted().first == "2026-11-16")
        #expect(found.nearDays.map(\.description).sorted().last == "2026-11-22")
        #expect(found.nearDays.count == 7)
    }

    @Test(arguments: [
        "May I ask about my Tuesday routine?",
        "March forward and keep the 2023 budget",
        "31 February 2023",
        "version 2.3 of the parser",
        "the 10,000-character query",
        "",
        "a week ago I said something",
    ])
    func otherTextNamesNoDate(_ query: String) {
        #expect(NamedDates.find(in: query, today: Self.today).isEmpty)
    }

    @Test func aLongQueryNamesAtMostSixteenDates() {
        let query = String(repeating: "3 June 2023, 4 June 2023, 5 June 2023, 6 June 2023, ", count: 2_000)
        let found = NamedDates.find(in: query, today: Self.today)
        #expect(found.days.count == 4)
        let many = (1...28).map { "\($0) June 2023" }.joined(separator: " and ")
        #expect(NamedDates.find(in: many, today: Self.today).days.count == NamedDates.maxDates)
    }

    @Test(
        arguments: [
            ("memory/2023-06-03.md", "2023-06-03"),
            ("memory/2023-06-03-trip-notes.md", "2023-06-03"),
            ("memory/2024-02-29.md", "2024-02-29"),
            ("memory/2023-02-29.md", nil),
            ("memory/2023-13-03.md", nil),
            ("memory/2023-06-03.txt", nil),
            ("memory/2023-06-03-trip/notes.md", nil),
            ("notes/2023-06-03.md", nil),
            ("memory/20230603.md", nil),
            ("/home/ana/memory/2023-06-03.md", nil),
        ] as [(String, String?)]
    )
    func logDaysComeFromThePath(_ path: String, _ expected: String?) {
        #expect(NamedDates.logDay(path)?.description == expected)
    }

    @Test func theBonusGoesToTheNamedDaysLogs() {
        let found = NamedDates.find(in: "on 3 June 2023, and in July 2023", today: Self.today)
        #expect(found.bonus(path: "memory/2023-06-03.md", dayBonus: 0.3, nearBonus: 0.1) == 0.3)
        #expect(found.bonus(path: "memory/2023-07-14-walk.md", dayBonus: 0.3, nearBonus: 0.1) == 0.1)
        #expect(found.bonus(path: "memory/2023-06-04.md", dayBonus: 0.3, nearBonus: 0.1) == 0)
        #expect(found.bonus(path: "MEMORY.md", dayBonus: 0.3, nearBonus: 0.1) == 0)
        #expect(found.pathPrefixes == ["memory/2023-06-03", "memory/2023-07-"])
    }

    @Test func fusionAddsTheBonusAndStaysWithinOne() {
        let ranking = RankingOptions()
        let keyword: [(chunk: Int64, score: Double)] = [(1, 8.0), (2, 4.0)]
        let vector: [(chunk: Int64, score: Double)] = [(1, 0.6), (3, 0.5), (2, 0.2)]
        let plain = ranking.fuse(keyword: keyword, vector: vector)
        #expect(plain.first?.chunk == 1)
        #expect(ranking.fuse(keyword: keyword, vector: vector, bonus: [:]).map(\.chunk) == plain.map(\.chunk))
        // Chunk 2 is a log of the named day, chunk 9 one in neither list.
        let dated = ranking.fuse(keyword: keyword, vector: vector, bonus: [2: 0.3, 9: 0.3])
        #expect(dated.map(\.chunk) == [1, 2, 9, 3])
        #expect(dated.allSatisfy { $0.score <= 1 && $0.score >= 0 })
        #expect(abs(dated[0].score - 1 / 1.3) < 1e-9, "the best score is divided by 1 + the largest bonus")
        // The floor is applied before the division: 0.3 / 1.3 passes 0.05.
        let added = RankingOptions.adding([5: 0.1], to: [(4, 1.0)])
        #expect(added.map(\.chunk) == [4, 5])
        #expect(RankingOptions.adding([:], to: [(4, 2.5)]).map(\.score) == [2.5])
    }

    @Test func aSearchFavoursTheLogOfTheNamedDay() throws {
        let t = TestMemory()
        try t.write("memory/2024-03-02.md", "# 2024-03-02\n\n- Walked along the river with Ana.\n")
        try t.write("memory/2024-03-03.md", "# 2024-03-03\n\n- Walked to the market and bought pears.\n")
        try t.write("memory/2024-03-04.md", "# 2024-03-04\n\n- Walked the dog twice; walked home late.\n")
        let memory = try t.open(embedder: TrigramTestEmbedder())
        let query = "Where did I walk on 3 March 2024?"
        let favoured = try memory.search(query, limit: 3)
        #expect(favoured.mode == .hybrid)
        #expect(favoured.results.first?.file == "memory/2024-03-03.md")
        #expect(favoured.results.allSatisfy { $0.score <= 1 })
        let plain = try memory.search(query, limit: 3, ranking: RankingOptions(dayBonus: 0, nearDayBonus: 0))
        #expect(
            plain.results.first?.file != "memory/2024-03-03.md",
            "the fixture needs the bonus to rank that day first"
        )
    }

    @Test func yesterdaysLogIsFoundForYesterday() throws {
        // Against the clock: retried once if midnight passes between the files and the search.
        for _ in 0..<2 {
            let t = TestMemory()
            let now = Date()
            let yesterday = Workspace.dailyLogName(for: now.addingTimeInterval(-86_400))
            try t.write(Workspace.dailyLogName(for: now), "- Fixed the bicycle's brakes.\n")
            try t.write(yesterday, "- Baked bread and read a novel.\n")
            try t.write("knowledge/bikes.md", "Bicycle care: brakes, chain, tyres.\n")
            let memory = try t.open(embedder: TrigramTestEmbedder())
            let r = try memory.search("what did I do yesterday?", limit: 3)
            let plain = try memory.search(
                "what did I do yesterday?",
                limit: 3,
                ranking: RankingOptions(dayBonus: 0, nearDayBonus: 0)
            )
            if Workspace.dailyLogName(for: Date()) != Workspace.dailyLogName(for: now) { continue }
            #expect(r.results.first?.file == yesterday)
            #expect(plain.results.first?.file != yesterday, "the fixture needs the bonus to rank yesterday first")
            return
        }
        Issue.record("the day changed during both attempts")
    }

    /// Without the model (or with `memory.embeddings = false`) a hybrid search became a keyword
    /// search and lost the named day's preference: "what did I do yesterday?" found nothing,
    /// yesterday's log sharing no keyword with the question.
    @Test(arguments: [false, true])
    func withoutVectorsAHybridSearchStillFavoursTheNamedDay(embeddingsDisabled: Bool) throws {
        // Against the clock: retried once if midnight passes between the files and the search.
        for _ in 0..<2 {
            let t = TestMemory()
            let now = Date()
            let today = Workspace.dailyLogName(for: now)
            let yesterday = Workspace.dailyLogName(for: now.addingTimeInterval(-86_400))
            try t.write(today, "- Dinner: soup. The dinner guests stayed late after dinner.\n")
            try t.write(yesterday, "- Dinner with Ana.\n")
            try t.write("knowledge/lasagna.md", "- I cooked lasagna for dinner once.\n")
            try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
            var configuration = t.configuration()
            configuration.embeddingsEnabled = !embeddingsDisabled
            let memory = try MemoryManager(
                configuration: configuration,
                embedder: embeddingsDisabled ? TrigramTestEmbedder() : nil,
                bootstrap: false
            )
            let named = try memory.search("what did I do yesterday?", limit: 3)
            let dinner = try memory.search("what was dinner yesterday?", limit: 3)
            let keyword = try memory.search("what was dinner yesterday?", limit: 3, mode: .keyword)
            if Workspace.dailyLogName(for: Date()) != today { continue }
            #expect(named.results.map(\.file) == [yesterday], "no keyword: the bonus alone finds the log")
            #expect(named.notice?.contains("keyword search only") == true, "\(named.notice ?? "-")")
            #expect(dinner.results.first?.file == yesterday)
            #expect(dinner.results.allSatisfy { (0...1).contains($0.score) }, "\(dinner.results.map(\.score))")
            #expect(dinner.notice?.contains("keyword search only") == true)
            // An explicit keyword search stays pure bm25: no bonus, scores as bm25 gives them.
            #expect(keyword.mode == .keyword)
            #expect(keyword.results.first?.file == today, "the fixture needs the bonus to rank yesterday first")
            #expect(keyword.results.map(\.file).sorted() == dinner.results.map(\.file).sorted())
            return
        }
        Issue.record("the day changed during both attempts")
    }
}
