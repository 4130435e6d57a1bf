//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import GRDB
import Synchronization

/// The keyword stage: which query terms are ranked by bm25, and how, so that one query reads and
/// ranks a bounded number of postings (chunk-term pairs) whatever the size of the index.
///
/// Ranking an OR query by bm25 evaluates bm25 for every chunk that holds any of its terms (1–2 µs
/// each, a `%_docsize` lookup per chunk): 0.18 s for a term held by 100,000 chunks. The stage
/// therefore:
///
/// 1. counts, for each term, the chunks that hold it, reading at most ``MemoryIndex/keywordBudget``
///    + 1 postings (newest first); beyond that the count is estimated from how far back the
///    budget-th newest chunk lies;
/// 2. leaves out terms held by half of the chunks or more (FTS5 gives them an idf of 1e-6: they
///    rank nothing);
/// 3. ranks by bm25 the rarest terms whose counts add up to at most the budget (every term, in a
///    small index: the ranking is then exactly bm25's);
/// 4. adds, to the best of those chunks, the idf of each remaining term the chunk also holds
///    (what bm25 adds for one occurrence in a chunk of average length);
/// 5. when even the rarest term is held by more chunks than the budget, scores the budget's worth
///    of newest chunks holding it by the idfs of the terms each holds.
struct KeywordPlan: Sendable, Equatable {
    /// One query term and how many chunks hold it.
    struct Term: Sendable, Equatable {
        var term: String
        /// Chunks holding the term: exact when ``exact``, else an estimate above the budget.
        var documents: Int
        var exact: Bool
        /// When not exact: the oldest (lowest id) of the budget + 1 newest chunks holding it.
        var floor: Int64?
    }

    /// Every term of the query, in query order.
    var terms: [Term]
    /// The number of chunks in the index.
    var total: Int
    /// Terms ranked by bm25 over every chunk holding them (query order); empty in the windowed case.
    var ranked: [String]
    /// Other informative terms: they add their idf to the chunks found by `ranked` (or the window).
    var boosting: [String]
    /// Terms held by half of the chunks or more.
    var common: [String]

    /// FTS5's idf for a term held by `documents` of `total` chunks (1e-6 when not positive).
    func idf(_ term: String) -> Double {
        let n = Double(terms.first { $0.term == term }?.documents ?? 0)
        let idf = log((Double(total) - n + 0.5) / (n + 0.5))
        return idf > 0 ? idf : 1e-6
    }

    /// A weight that stays positive for a term held by half of the chunks or more, where FTS5's
    /// idf is 1e-6: `log(1 + (N − n + 0.5) / (n + 0.5))` (0.69 for a term in half of them, near 0
    /// for one in all).
    func commonWeight(_ term: String) -> Double {
        let n = Double(terms.first { $0.term == term }?.documents ?? 0)
        return log(1 + (Double(total) - n + 0.5) / (n + 0.5))
    }
}

/// What keyword plans need to know of the index at one generation: the number of chunks, the
/// range of their ids and, for each term probed so far, how many of the `budget` + 1 newest chunks
/// hold it and the oldest of those.
struct KeywordStatistics: Sendable {
    var generation: Int64
    var budget: Int
    var total: Int
    var lowest: Int64
    var highest: Int64
    var terms: [String: (count: Int, floor: Int64?)]
}

extension MemoryIndex {
    /// The most postings the keyword stage reads or ranks per term, and ranks by bm25 per query.
    static let keywordBudget = 1_000

    /// The plan of a query's keyword stage (see ``KeywordPlan``).
    ///
    /// - Throws: ``MemoryError`` when the index cannot be read.
    func keywordPlan(_ query: KeywordQuery, budget: Int = keywordBudget) throws(MemoryError) -> KeywordPlan {
        try read("keyword statistics") { db throws(MemoryError) in try keywordPlan(db, query, budget: budget) }
    }

    /// ``keywordPlan(_:budget:)`` in a read transaction.
    func keywordPlan(_ db: Database, _ query: KeywordQuery, budget: Int) throws(MemoryError) -> KeywordPlan {
        do {
            var stats = try keywordStatistics(db, budget: budget)
            let total = stats.total
            let probe = try db.cachedStatement(
                sql: """
                    SELECT count(*), min(rowid) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?
                    ORDER BY rowid DESC LIMIT ?)
                    """
            )
            var terms: [KeywordPlan.Term] = []
            var probed = false
            for term in query.terms {
                let count: Int
                let floor: Int64?
                if let known = stats.terms[term] {
                    (count, floor) = known
                } else {
                    let expression = KeywordQuery.build(terms: [term])?.expression ?? ""
                    let row = try Row.fetchOne(probe, arguments: [expression, budget + 1])
                    (count, floor) = (row?[0] ?? 0, row?[1])
                    stats.terms[term] = (count, floor)
                    probed = true
                }
                if count <= budget {
                    terms.append(.init(term: term, documents: count, exact: true, floor: nil))
                } else {
                    // The budget + 1 newest chunks holding it reach back to `floor`: assume the
                    // same density over the whole id range.
                    let floor = floor ?? stats.lowest
                    let reach = Double(stats.highest - floor + 1)
                    let estimate = Double(count) * Double(stats.highest - stats.lowest + 1) / max(reach, 1)
                    let documents = min(total, max(count, Int(estimate)))
                    terms.append(.init(term: term, documents: documents, exact: false, floor: floor))
                }
            }
            if probed {
                if stats.terms.count > Self.keywordStatisticsTerms { stats.terms = [:] }
                keywordStatisticsCache.withLock { $0 = stats }
            }
            let informative = terms.filter { $0.documents * 2 < total }
            let common = terms.filter { $0.documents * 2 >= total }.map(\.term)
            var ranked = Set<String>()
            var sum = 0
            for t in informative.sorted(by: { $0.documents < $1.documents }) {
                guard t.exact, sum + t.documents <= budget else { break }
                sum += t.documents
                ranked.insert(t.term)
            }
            return KeywordPlan(
                terms: terms,
                total: total,
                ranked: informative.map(\.term).filter { ranked.contains($0) },
                boosting: informative.map(\.term).filter { !ranked.contains($0) },
                common: common
            )
        } catch {
            throw .database("keyword statistics", error)
        }
    }

    /// Terms whose counts ``keywordStatisticsCache`` keeps (then it starts again).
    static let keywordStatisticsTerms = 4_096

    /// The index's statistics for keyword plans at its current generation: cached, since they
    /// change only when chunks do (every such write bumps the generation). Counting a term's
    /// postings costs a probe of up to `budget` + 1 rows; a long-lived process pays it once per
    /// term and generation.
    private func keywordStatistics(_ db: Database, budget: Int) throws -> KeywordStatistics {
        let generation = try Self.generation(db)
        if let s = keywordStatisticsCache.withLock({ $0 }), s.generation == generation, s.budget == budget {
            return s
        }
        let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunks") ?? 0
        // Two subqueries: SQLite answers a lone min() or max() from the b-tree's ends.
        let span = try Row.fetchOne(db, sql: "SELECT (SELECT min(id) FROM chunks), (SELECT max(id) FROM chunks)")
        let stats = KeywordStatistics(
            generation: generation,
            budget: budget,
            total: total,
            lowest: span?[0] ?? 0,
            highest: span?[1] ?? 0,
            terms: [:]
        )
        keywordStatisticsCache.withLock { $0 = stats }
        return stats
    }

    /// The keyword candidates of a query, best first (see ``KeywordPlan``). With `fillUp`
    /// (keyword-only search), the chunks that hold only left-out terms follow the others, up to
    /// `depth`. `budget` is ``keywordBudget`` except in tests.
    ///
    /// - Throws: ``MemoryError`` when the index cannot be read.
    func keywordStage(
        _ query: KeywordQuery,
        depth: Int,
        fillUp: Bool,
        budget: Int = keywordBudget
    ) throws(MemoryError) -> [(chunk: Int64, score: Double)] {
        try read("keyword search") { db throws(MemoryError) in
            try keywordStage(db, query, depth: depth, fillUp: fillUp, budget: budget)
        }
    }

    /// ``keywordStage(_:depth:fillUp:budget:)`` in a read transaction.
    func keywordStage(
        _ db: Database,
        _ query: KeywordQuery,
        depth: Int,
        fillUp: Bool,
        budget: Int
    ) throws(MemoryError) -> [(chunk: Int64, score: Double)] {
        let plan = try keywordPlan(db, query, budget: budget)
        var keyword: [(chunk: Int64, score: Double)]
        if let ranked = KeywordQuery.build(terms: plan.ranked) {
            if plan.boosting.isEmpty {
                keyword = try Self.keywordCandidates(db, ranked, depth: depth)
            } else {
                let base = try Self.keywordCandidates(db, ranked, depth: depth * 4)
                keyword = try Self.boost(
                    db,
                    base,
                    within: ranked,
                    floor: nil,
                    terms: plan.boosting.map { ($0, plan.idf($0)) },
                    depth: depth,
                    budget: budget
                )
            }
        } else if let rarest = plan.terms.filter({ plan.boosting.contains($0.term) })
            .min(by: { $0.documents < $1.documents }),
            let within = KeywordQuery.build(terms: [rarest.term])
        {
            // Every informative term is held by more chunks than the budget: score the newest
            // budget's worth of chunks holding the rarest one.
            let window = try Self.matching(db, within.expression, floor: rarest.floor, limit: budget + 1)
            let base = window.map { (chunk: $0, score: plan.idf(rarest.term)) }
            keyword = try Self.boost(
                db,
                base,
                within: within,
                floor: rarest.floor,
                terms: plan.boosting.filter { $0 != rarest.term }.map { ($0, plan.idf($0)) },
                depth: depth,
                budget: budget
            )
        } else {
            keyword = []
        }
        let complete = plan.boosting.isEmpty && plan.common.isEmpty
        if fillUp && keyword.count < depth && !complete {
            var seen = Set(keyword.map(\.chunk))
            // Only common words hold any chunk (a word of the query may be in no note at all).
            let commonOnly =
                !plan.common.isEmpty && plan.terms.allSatisfy { plan.common.contains($0.term) || $0.documents == 0 }
            let everything =
                plan.terms.allSatisfy(\.exact) && plan.terms.map(\.documents).reduce(0, +) <= budget
            if everything {
                // A small index: rank the rest by bm25 over every term, as before. When every term
                // is in half of the chunks or more, FTS5 gives each the idf 1e-6 and every score
                // read 0.000: scaled by 1e6, the score is bm25 with an idf of 1 for each word.
                let scale = commonOnly ? 1e6 : 1
                for c in try Self.keywordCandidates(db, query, depth: depth) where keyword.count < depth {
                    if seen.insert(c.chunk).inserted {
                        keyword.append((c.chunk, min(c.score * scale, keyword.last?.score ?? c.score * scale)))
                    }
                }
            } else {
                if commonOnly {
                    for c in try Self.commonWords(db, plan, depth: depth, budget: budget)
                    where seen.insert(c.chunk).inserted {
                        keyword.append(c)
                    }
                }
                // The newest chunks holding any term, after the others.
                let score = keyword.last?.score ?? 0
                for c in try Self.matching(db, query.expression, floor: nil, limit: depth) where keyword.count < depth {
                    if seen.insert(c).inserted { keyword.append((c, score)) }
                }
            }
        }
        return keyword
    }

    /// The candidates of a query made only of words held by half of the chunks or more, to which
    /// bm25 gives nothing (keyword search used to list the newest chunks holding any of them, every
    /// one scored 0.000). Each chunk scores the ``KeywordPlan/commonWeight(_:)`` of the words it
    /// holds: exactly for the newest budget's worth of chunks holding the rarest word, and, for
    /// chunks without it, by the words among whose newest budget's worth of chunks it is. Best
    /// first, ties to the newest chunk.
    private static func commonWords(
        _ db: Database,
        _ plan: KeywordPlan,
        depth: Int,
        budget: Int
    ) throws(MemoryError) -> [(chunk: Int64, score: Double)] {
        let terms = plan.terms.filter { plan.common.contains($0.term) }.sorted { $0.documents < $1.documents }
        guard let rarest = terms.first, let within = KeywordQuery.build(terms: [rarest.term]) else { return [] }
        let window = try matching(db, within.expression, floor: rarest.floor, limit: budget + 1)
        let others = terms.dropFirst().map { (term: $0.term, weight: plan.commonWeight($0.term)) }
        var scores = try boosted(
            db,
            Dictionary(window.map { ($0, plan.commonWeight(rarest.term)) }, uniquingKeysWith: { a, _ in a }),
            within: within,
            floor: rarest.floor,
            terms: others,
            budget: budget
        )
        var without: [Int64: Double] = [:]
        for t in terms.dropFirst() {
            guard let q = KeywordQuery.build(terms: [t.term]) else { continue }
            for c in try matching(db, q.expression, floor: t.floor, limit: budget + 1) where scores[c] == nil {
                without[c, default: 0] += plan.commonWeight(t.term)
            }
        }
        scores.merge(without) { a, _ in a }
        return best(scores, depth: depth)
    }

    /// Adds to each chunk of `base` the weight of every term of `terms` it holds, and returns
    /// the best `depth`, ties to the newest chunk.
    private static func boost(
        _ db: Database,
        _ base: [(chunk: Int64, score: Double)],
        within: KeywordQuery,
        floor: Int64?,
        terms: [(term: String, weight: Double)],
        depth: Int,
        budget: Int
    ) throws(MemoryError) -> [(chunk: Int64, score: Double)] {
        let scores = try boosted(
            db,
            Dictionary(base.map { ($0.chunk, $0.score) }, uniquingKeysWith: { a, _ in a }),
            within: within,
            floor: floor,
            terms: terms,
            budget: budget
        )
        return best(scores, depth: depth)
    }

    /// `scores` (chunks matching `within`, not older than `floor`) with the weight of every term
    /// of `terms` added to the chunks that also hold it.
    private static func boosted(
        _ db: Database,
        _ scores: [Int64: Double],
        within: KeywordQuery,
        floor: Int64?,
        terms: [(term: String, weight: Double)],
        budget: Int
    ) throws(MemoryError) -> [Int64: Double] {
        var scores = scores
        for (term, weight) in terms {
            guard let t = KeywordQuery.build(terms: [term]) else { continue }
            let both = "(\(within.expression)) AND \(t.expression)"
            for c in try matching(db, both, floor: floor, limit: budget + 1, newestFirst: false) where scores[c] != nil
            {
                scores[c]! += weight
            }
        }
        return scores
    }

    /// The best `depth` of `scores`, ties to the newest chunk.
    private static func best(_ scores: [Int64: Double], depth: Int) -> [(chunk: Int64, score: Double)] {
        let sorted = scores.map { (chunk: $0.key, score: $0.value) }.sorted {
            $0.score > $1.score || ($0.score == $1.score && $0.chunk > $1.chunk)
        }
        return Array(sorted.prefix(depth))
    }

    /// The chunks matching an FTS5 expression, at most `limit`, not older than `floor`; newest
    /// first, or in id order (cheaper when the expression holds a term of a long doclist).
    private static func matching(
        _ db: Database,
        _ expression: String,
        floor: Int64?,
        limit: Int,
        newestFirst: Bool = true
    ) throws(MemoryError) -> [Int64] {
        do {
            let stmt = try db.cachedStatement(
                sql: """
                    SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid >= ?
                    ORDER BY rowid \(newestFirst ? "DESC" : "ASC") LIMIT ?
                    """
            )
            return try Int64.fetchAll(stmt, arguments: [expression, floor ?? Int64.min, limit])
        } catch {
            throw .database("keyword search", error)
        }
    }
}
