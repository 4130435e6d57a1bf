//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// Deterministic synthetic memory for the performance benchmarks: daily-log-like markdown files
/// made of note lines over a fixed vocabulary with a skewed word distribution.
public struct SyntheticWorkspace: Sendable {
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

    /// A note line such as `- 09:14 Alice met the budget with Chen about the new garden.`
    static func line(_ g: inout Generator) -> String {
        var words: [String] = [people[g.below(people.count)], verbs[g.skewed(verbs.count)]]
        for _ in 0..<(6 + g.below(10)) {
            switch g.below(4) {
            case 0: words.append(people[g.skewed(people.count)])
            case 1, 2: words.append(nouns[g.skewed(nouns.count)])
            default: words.append(fillers[g.below(fillers.count)])
            }
        }
        return String(format: "- %02d:%02d ", g.below(24), g.below(60)) + words.joined(separator: " ") + "."
    }

    /// Writes `files` files of about `bytesPerFile` bytes under `root/memory/<n>/`.
    ///
    /// - Throws: when a file cannot be written.
    public static func generate(root: String, files: Int, bytesPerFile: Int, seed: UInt64 = 42) throws {
        var g = Generator(state: seed)
        for i in 0..<files {
            let dir = root + "/memory/\(i % 100)"
            if i < 100 { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            var text = "# Notes \(i)\n\n"
            while text.utf8.count < bytesPerFile { text += line(&g) + "\n" }
            try text.write(toFile: dir + "/day-\(i).md", atomically: false, encoding: .utf8)
        }
    }

    /// `count` natural-language questions over the same vocabulary.
    public static func queries(_ count: Int, seed: UInt64 = 7) -> [String] {
        var g = Generator(state: seed)
        return (0..<count).map { _ in
            "When did \(people[g.below(people.count)]) \(verbs[g.below(verbs.count)]) the "
                + "\(nouns[g.below(nouns.count)]) and the \(nouns[g.below(nouns.count)])?"
        }
    }
}
