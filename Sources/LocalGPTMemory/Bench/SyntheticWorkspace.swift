//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// Deterministic synthetic memory for the performance benchmarks: daily-log-like markdown files
/// made of note lines, and natural-language questions about them.
///
/// Two vocabularies (``Vocabulary``). The default, ``Vocabulary/zipf``, draws words from about
/// 20,000 words with a Zipf distribution, so a word's document frequency falls with its rank as in
/// real notes: a few words are in most chunks, most words in a few. The first generator,
/// ``Vocabulary/small``, drew every word from 86 words, which puts every query term in 25–100 % of
/// the chunks; it is kept to show that search stays bounded on such a corpus too.
public struct SyntheticWorkspace: Sendable {
    /// Which words the notes are made of.
    public enum Vocabulary: String, Sendable, CaseIterable {
        /// 20 names, 20 verbs, 46 nouns and 25 fillers (the first generator).
        case small
        /// 500 names, 20 verbs, ~20,000 nouns (the 46 of `small` first, then made-up words), Zipf
        /// distributed (s = 1), plus amounts and dates.
        case zipf
    }

    /// SplitMix64: small, fast, reproducible.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        /// Skewed towards small values (roughly Zipf-like).
        mutating func skewed(_ n: Int) -> Int {
            let u = Double(next() % 1_000_000) / 1_000_000
            return min(n - 1, Int(Double(n) * u * u * u))
        }
        mutating func unit() -> Float { Float(Double(next() % 2_000_001) / 1_000_000 - 1) }
        /// Uniform in [0, 1).
        mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    }

    static let people = [
        "Alice", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Giulia", "Hiro", "Ines", "Jonas", "Kemal", "Lena",
        "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tara",
    ]
    static let verbs = [
        "met", "called", "emailed", "reviewed", "planned", "finished", "started", "discussed", "fixed", "booked",
        "cancelled", "visited", "bought", "read", "wrote", "cooked", "painted", "repaired", "measured", "tested",
    ]
    static let nouns = [
        "budget", "garden", "report", "trip", "dentist", "kitchen", "bicycle", "contract", "library", "concert",
        "recipe", "deadline", "invoice", "server", "backup", "roof", "painting", "guitar", "marathon", "workshop",
        "presentation", "apartment", "insurance", "passport", "birthday", "museum", "harbour", "orchard", "thesis",
        "database", "migration", "release", "interview", "vacation", "camera", "printer", "violin", "tomatoes",
        "lighthouse", "telescope", "sourdough", "kayak", "chessboard", "sculpture", "greenhouse", "podcast",
    ]
    static let fillers = [
        "the", "a", "with", "about", "for", "after", "before", "and", "because", "then", "at", "near", "during",
        "new", "old", "big", "small", "quick", "long", "early", "late", "blue", "green", "important", "tricky",
    ]

    /// Syllables of the made-up words and names.
    private static let syllables = [
        "ka", "lo", "mi", "ren", "tor", "vel", "sa", "dun", "bri", "pho", "gal", "ne", "ost", "qui", "ram", "te",
        "ul", "war", "xen", "yo", "zef", "cor", "di", "fen", "hul", "jas", "mor", "pla", "ser", "tiv",
    ]

    /// Made-up words of two or three syllables, distinct, none equal to a real word used here.
    private static func madeUpWords(_ count: Int, capitalized: Bool, offset: Int) -> [String] {
        let n = syllables.count
        var seen = Set(people.map { $0.lowercased() } + verbs + nouns + fillers)
        var out: [String] = []
        out.reserveCapacity(count)
        var i = offset
        while out.count < count {
            // Mixed radix: two syllables for the first n*n indices, then three.
            var w: String
            if i < n * n {
                w = syllables[i / n] + syllables[i % n]
            } else {
                let j = i - n * n
                w = syllables[(j / (n * n)) % n] + syllables[(j / n) % n] + syllables[j % n]
            }
            i += 1
            if capitalized { w = w.prefix(1).uppercased() + w.dropFirst() }
            if seen.insert(w.lowercased()).inserted { out.append(w) }
        }
        return out
    }

    /// The `zipf` vocabulary's names: the 20 of `small` first, then made-up ones.
    static let manyPeople: [String] = people + madeUpWords(480, capitalized: true, offset: 7_919)
    /// The `zipf` vocabulary's nouns, most frequent first: the 46 of `small`, then made-up ones.
    static let manyNouns: [String] = nouns + madeUpWords(20_000 - nouns.count, capitalized: false, offset: 0)

    /// Cumulative Zipf (s = 1) probabilities of ranks 1...n.
    private static func zipfCDF(_ n: Int) -> [Double] {
        var cdf = [Double](repeating: 0, count: n)
        var sum = 0.0
        for r in 0..<n {
            sum += 1 / Double(r + 1)
            cdf[r] = sum
        }
        return cdf.map { $0 / sum }
    }
    private static let nounCDF = zipfCDF(manyNouns.count)
    private static let peopleCDF = zipfCDF(manyPeople.count)

    /// A 0-based rank drawn from a cumulative distribution.
    private static func draw(_ cdf: [Double], _ g: inout Generator) -> Int {
        let u = g.uniform()
        var lo = 0
        var hi = cdf.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// A note line such as `- 09:14 Alice met the budget with Chen about the new garden.`
    static func line(_ g: inout Generator, vocabulary: Vocabulary = .zipf) -> String {
        switch vocabulary {
        case .small:
            var words: [String] = [people[g.below(people.count)], verbs[g.skewed(verbs.count)]]
            for _ in 0..<(6 + g.below(10)) {
                switch g.below(4) {
                case 0: words.append(people[g.skewed(people.count)])
                case 1, 2: words.append(nouns[g.skewed(nouns.count)])
                default: words.append(fillers[g.below(fillers.count)])
                }
            }
            return String(format: "- %02d:%02d ", g.below(24), g.below(60)) + words.joined(separator: " ") + "."
        case .zipf:
            var words: [String] = [manyPeople[draw(peopleCDF, &g)], verbs[g.skewed(verbs.count)]]
            for _ in 0..<(6 + g.below(10)) {
                switch g.below(16) {
                case 0...2: words.append(manyPeople[draw(peopleCDF, &g)])
                case 3...9: words.append(manyNouns[draw(nounCDF, &g)])
                case 10: words.append("\(g.below(2_000)) EUR")
                case 11: words.append(String(format: "on 2026-%02d-%02d", 1 + g.below(12), 1 + g.below(28)))
                default: words.append(fillers[g.below(fillers.count)])
                }
            }
            return String(format: "- %02d:%02d ", g.below(24), g.below(60)) + words.joined(separator: " ") + "."
        }
    }

    /// Writes `files` files of about `bytesPerFile` bytes under `root/memory/<n>/`. The same
    /// arguments always write the same bytes.
    ///
    /// - Throws: when a file cannot be written.
    public static func generate(
        root: String,
        files: Int,
        bytesPerFile: Int,
        seed: UInt64 = 42,
        vocabulary: Vocabulary = .zipf
    ) throws {
        var g = Generator(state: seed)
        for i in 0..<files {
            let dir = root + "/memory/\(i % 100)"
            if i < 100 { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            var text = "# Notes \(i)\n\n"
            while text.utf8.count < bytesPerFile { text += line(&g, vocabulary: vocabulary) + "\n" }
            try text.write(toFile: dir + "/day-\(i).md", atomically: false, encoding: .utf8)
        }
    }

    /// `count` natural-language questions over the same vocabulary: "When did <name> <verb> the
    /// <noun> and the <noun>?". With `zipf`, names follow the notes' distribution and nouns are
    /// drawn log-uniformly by rank, so half of them are among the 140 most frequent and the
    /// others spread over the long tail.
    public static func queries(_ count: Int, seed: UInt64 = 7, vocabulary: Vocabulary = .zipf) -> [String] {
        var g = Generator(state: seed)
        switch vocabulary {
        case .small:
            return (0..<count).map { _ in
                "When did \(people[g.below(people.count)]) \(verbs[g.below(verbs.count)]) the "
                    + "\(nouns[g.below(nouns.count)]) and the \(nouns[g.below(nouns.count)])?"
            }
        case .zipf:
            func noun() -> String {
                let rank = Int(exp(g.uniform() * log(Double(manyNouns.count))))
                return manyNouns[min(manyNouns.count, max(1, rank)) - 1]
            }
            return (0..<count).map { _ in
                "When did \(manyPeople[draw(peopleCDF, &g)]) \(verbs[g.below(verbs.count)]) the "
                    + "\(noun()) and the \(noun())?"
            }
        }
    }
}
