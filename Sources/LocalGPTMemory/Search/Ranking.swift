//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// How keyword and vector candidates are combined. The defaults are the ones measured best on the
/// LoCoMo development split (docs/MEMORY.md); the benchmark command can override them.
public struct RankingOptions: Sendable, Equatable {
    /// How the two ranked lists are fused.
    public enum Fusion: String, Sendable, CaseIterable {
        /// The seed's recipe: each list contributes `weight / (1 + rank)`.
        case seed
        /// Reciprocal rank fusion: `weight / (k + rank)`, scaled so a chunk first in both scores 1.
        case rrf
        /// Scores normalised to [0, 1] within each list (bm25 / best bm25, cosine min-max), then a
        /// weighted sum; without keyword hits, the cosine (clamped to 0...1).
        case score
    }

    /// Candidates taken from each list. Fixed (not derived from the limit), so the best hit is the
    /// same whatever limit is asked for, up to this many results.
    public var depth: Int
    public var fusion: Fusion
    public var keywordWeight: Double
    public var vectorWeight: Double
    /// RRF's k.
    public var rrfK: Double
    /// Fused results scoring below this are left out (0 keeps them all): a chunk that is near the
    /// bottom of both lists matched nothing the query asked for. The best hit is never left out
    /// by the default: with both lists it scores at least the smaller weight's share (0.3), with
    /// keyword hits alone 1; with vectors alone it scores its cosine, so a note unrelated to the
    /// query (cosine below the floor) is left out.
    public var minimumScore: Double
    /// Added to the fused score of a daily log (`memory/YYYY-MM-DD.md`) of a day the query names
    /// ("on 3 June 2023", "yesterday", ``NamedDates``); 0 turns the preference off.
    public var dayBonus: Double
    /// The same for a log of a named month or week ("in June", "last week").
    public var nearDayBonus: Double

    /// The default floor, `memory.min_score` in config.toml: on locomo-dev it leaves out nothing
    /// of the top 10 (recall unchanged, docs/PERFORMANCE.md), and in a small workspace it drops
    /// the files that merely exist (score ~0).
    public static let defaultMinimumScore = 0.05

    public init(
        depth: Int = 50,
        fusion: Fusion = .score,
        keywordWeight: Double = 0.7,
        vectorWeight: Double = 0.3,
        rrfK: Double = 60,
        minimumScore: Double = defaultMinimumScore,
        dayBonus: Double = 0.3,
        nearDayBonus: Double = 0.1
    ) {
        self.depth = depth
        self.fusion = fusion
        self.keywordWeight = keywordWeight
        self.vectorWeight = vectorWeight
        self.rrfK = rrfK
        self.minimumScore = minimumScore
        self.dayBonus = dayBonus
        self.nearDayBonus = nearDayBonus
    }

    /// Fuses two ranked lists (best first) into scores by chunk, best first; ties go to the lower id.
    /// `bonus` (by chunk, the named days' logs) is added, also to chunks in neither list; chunks
    /// scoring below ``minimumScore`` are then left out, and with a bonus every score is divided
    /// by 1 + the largest bonus, so scores stay within 0...1.
    public func fuse(
        keyword: [(chunk: Int64, score: Double)],
        vector: [(chunk: Int64, score: Double)],
        bonus: [Int64: Double] = [:]
    ) -> [(chunk: Int64, score: Double)] {
        var fused: [Int64: Double] = [:]
        let wk = keyword.isEmpty ? 0 : keywordWeight
        let wv = vector.isEmpty ? 0 : vectorWeight
        let total = wk + wv
        guard total > 0 else { return [] }
        switch fusion {
        case .seed:
            for (rank, c) in keyword.enumerated() { fused[c.chunk, default: 0] += wk / Double(1 + rank) }
            for (rank, c) in vector.enumerated() { fused[c.chunk, default: 0] += wv / Double(1 + rank) }
        case .rrf:
            let scale = (rrfK + 1) / total
            for (rank, c) in keyword.enumerated() {
                fused[c.chunk, default: 0] += scale * wk / (rrfK + Double(rank + 1))
            }
            for (rank, c) in vector.enumerated() {
                fused[c.chunk, default: 0] += scale * wv / (rrfK + Double(rank + 1))
            }
        case .score:
            if let best = keyword.first?.score, best > 0 {
                for c in keyword { fused[c.chunk, default: 0] += wk / total * (c.score / best) }
            }
            if keyword.isEmpty {
                // No chunk holds a keyword: the cosine itself (clamped to 0...1), not its place in
                // the list, which gave the best of unrelated notes a perfect 1.000 (and the model
                // reading memory_search took it for a match).
                for c in vector { fused[c.chunk, default: 0] += max(0, min(1, c.score)) }
            } else if let hi = vector.first?.score, let lo = vector.last?.score {
                let span = hi - lo
                for c in vector {
                    // A lone candidate (or a list of equal scores) is the best of its list.
                    let normalised = span > 1e-6 ? (c.score - lo) / span : 1
                    fused[c.chunk, default: 0] += wv / total * normalised
                }
            }
        }
        return Self.ranked(fused, bonus: bonus, floor: minimumScore)
    }

    /// Adds `bonus` to a ranked list (chunks only in `bonus` join it) and divides every score by
    /// 1 + the largest bonus; the list as it is when no bonus is above 0.
    static func adding(
        _ bonus: [Int64: Double],
        to ranked: [(chunk: Int64, score: Double)]
    ) -> [(chunk: Int64, score: Double)] {
        guard bonus.values.contains(where: { $0 > 0 }) else { return ranked }
        let scores = Dictionary(ranked.map { ($0.chunk, $0.score) }, uniquingKeysWith: max)
        return Self.ranked(scores, bonus: bonus, floor: -.infinity)
    }

    /// `scores` with `bonus` added (chunks only in `bonus` join them), those below `floor` left
    /// out, then divided by 1 + the largest bonus; best first, ties to the lower id.
    private static func ranked(
        _ scores: [Int64: Double],
        bonus: [Int64: Double],
        floor: Double
    ) -> [(chunk: Int64, score: Double)] {
        var scores = scores
        for (chunk, extra) in bonus where extra > 0 { scores[chunk, default: 0] += extra }
        let scale = 1 / (1 + max(0, bonus.values.max() ?? 0))
        return scores.filter { $0.value >= floor }.map { (chunk: $0.key, score: $0.value * scale) }.sorted {
            $0.score > $1.score || ($0.score == $1.score && $0.chunk < $1.chunk)
        }
    }
}
