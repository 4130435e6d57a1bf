//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// The one list of prompt-injection markers and phrases. `LocalGPT.md` is checked against it at
/// every verification; tool output (the agent issue) uses the same list.
///
/// Matching is ASCII case-insensitive and works on words: runs of whitespace between words are
/// ignored, so "Ignore   ALL\nprevious instructions" matches, while a phrase inside a longer word
/// ("signore") does not. Non-ASCII look-alike letters are not folded.
public enum InjectionPatterns {
    /// Model control tokens that are replaced by ``filteredMarker`` before a policy is injected.
    public static let markers: [String] = [
        "<system>", "</system>", "<|system|>", "<|im_start|>system", "<|im_end|>", "<<SYS>>", "<</SYS>>", "[INST]",
        "[/INST]", "<s>", "</s>",
    ]

    /// What a marker is replaced with.
    public static let filteredMarker = "[FILTERED]"

    /// A phrase: its name (what a report says) and its words. Each slot lists the words that may
    /// stand there; an optional slot may be skipped.
    public struct Phrase: Sendable {
        public var name: String
        var slots: [Slot]

        struct Slot: Sendable {
            var words: [[UInt8]]
            var isOptional: Bool
        }

        init(_ name: String, _ slots: [String]) {
            self.name = name
            self.slots = slots.map { spec in
                let optional = spec.hasSuffix("?")
                let body = optional ? String(spec.dropLast()) : spec
                return Slot(words: body.split(separator: "|").map { Array($0.utf8) }, isOptional: optional)
            }
        }
    }

    /// The phrases that make a policy suspicious (the reference implementation's ten patterns).
    /// A slot is `word|word`, with a trailing `?` when optional; punctuation is its own word.
    public static let phrases: [Phrase] = [
        Phrase(
            "ignore previous instructions",
            ["ignore", "all?", "previous|prior|above", "instruction|instructions|prompt|prompts"]
        ),
        Phrase("disregard previous", ["disregard", "all?", "previous|prior|above"]),
        Phrase("forget instructions", ["forget", "everything|all|your", "instruction|instructions|rule|rules"]),
        Phrase("role reassignment", ["you", "are", "now", "a|an"]),
        Phrase("new instructions", ["new", "instruction|instructions", ":"]),
        Phrase("system override", ["system", ":?", "prompt|override|command"]),
        Phrase("act as", ["act", "as", "if?", "you|a|an"]),
        Phrase("pretend to be", ["pretend", "to", "be"]),
        Phrase("pretend to be", ["pretend", "you", "are"]),
        Phrase("from now on", ["from", "now", "on", "you|ignore|forget"]),
        Phrase("bypass safety", ["bypass", "your?", "safety|rule|rules|restriction|restrictions"]),
    ]

    /// A suspicious phrase found in a text.
    public struct Match: Sendable, Equatable {
        /// The phrase's name, e.g. `ignore previous instructions`.
        public var phrase: String
        /// 1-based line of the match.
        public var line: Int
        /// The matched text as written (at most 80 characters).
        public var excerpt: String
    }

    // MARK: Markers

    /// `text` with every marker (any case) replaced by ``filteredMarker``, and how many were.
    public static func filterMarkers(_ text: String) -> (text: String, count: Int) {
        let bytes = Array(text.utf8)
        let lowered = markerBytes
        var out: [UInt8] = []
        var count = 0
        var i = 0
        var copiedUpTo = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "<") || c == UInt8(ascii: "[") {
                if let m = lowered.first(where: { matchesFolded($0, in: bytes, at: i) }) {
                    if out.isEmpty { out.reserveCapacity(bytes.count + 16) }
                    out.append(contentsOf: bytes[copiedUpTo..<i])
                    out.append(contentsOf: filteredMarker.utf8)
                    i += m.count
                    copiedUpTo = i
                    count += 1
                    continue
                }
            }
            i += 1
        }
        guard count > 0 else { return (text, 0) }
        out.append(contentsOf: bytes[copiedUpTo...])
        return (String(decoding: out, as: UTF8.self), count)
    }

    private static let markerBytes: [[UInt8]] = markers.map { Array($0.lowercased().utf8) }

    private static func matchesFolded(_ pattern: [UInt8], in bytes: [UInt8], at start: Int) -> Bool {
        guard start + pattern.count <= bytes.count else { return false }
        for (k, p) in pattern.enumerated() where fold(bytes[start + k]) != p {
            return false
        }
        return true
    }

    // MARK: Phrases

    /// Every suspicious phrase in `text`, first match of each phrase name, in text order.
    public static func suspiciousPhrases(in text: String) -> [Match] {
        let bytes = Array(text.utf8)
        let tokens = tokenize(bytes)
        var found = [Match?](repeating: nil, count: phraseNames.count)
        var order: [(offset: Int, name: Int)] = []
        let all = phrases
        let nameIndex = phraseNameIndex
        bytes.withUnsafeBufferPointer { b in
            tokens.withUnsafeBufferPointer { t in
                phrasesByFirstByte.withUnsafeBufferPointer { table in
                    for start in t.indices {
                        // Only phrases whose first word starts with this token's first letter can match.
                        var mask = table[Int(fold(b[t[start].lowerBound]))]
                        while mask != 0 {
                            let p = mask.trailingZeroBitCount
                            mask &= mask - 1
                            let name = nameIndex[p]
                            guard found[name] == nil,
                                let end = match(all[p].slots, slot: 0, token: start, tokens: t, bytes: b)
                            else { continue }
                            let from = t[start].lowerBound
                            let to = t[end].upperBound
                            var line = 1
                            for i in 0..<from where b[i] == UInt8(ascii: "\n") { line += 1 }
                            var excerpt = String(decoding: UnsafeBufferPointer(rebasing: b[from..<to]), as: UTF8.self)
                                .split(whereSeparator: \.isWhitespace).joined(separator: " ")
                            if excerpt.count > 80 { excerpt = String(excerpt.prefix(80)) }
                            found[name] = Match(phrase: phraseNames[name], line: line, excerpt: excerpt)
                            order.append((from, name))
                        }
                    }
                }
            }
        }
        return order.sorted { $0.offset < $1.offset }.compactMap { found[$0.name] }
    }

    /// The distinct phrase names, and each phrase's index into them.
    private static let phraseNames: [String] = phrases.reduce(into: []) { names, p in
        if !names.contains(p.name) { names.append(p.name) }
    }
    private static let phraseNameIndex: [Int] = phrases.map { p in phraseNames.firstIndex(of: p.name) ?? 0 }

    /// For each byte, a bit mask of the phrases whose first word (the first slot is never optional)
    /// starts with it.
    private static let phrasesByFirstByte: [UInt32] = {
        precondition(phrases.count <= 32, "phrasesByFirstByte holds at most 32 phrases")
        var table = [UInt32](repeating: 0, count: 256)
        for (i, phrase) in phrases.enumerated() {
            for first in phrase.slots[0].words.compactMap(\.first) { table[Int(first)] |= 1 << UInt32(i) }
        }
        return table
    }()

    /// The index of the last token of a match of `slots[slot...]` starting at token `token`, or nil.
    private static func match(
        _ slots: [Phrase.Slot],
        slot s: Int,
        token t: Int,
        tokens: UnsafeBufferPointer<Range<Int>>,
        bytes: UnsafeBufferPointer<UInt8>
    ) -> Int? {
        if s == slots.count { return t - 1 }
        let slot = slots[s]
        if t < tokens.count {
            for word in slot.words where equalsFolded(word, bytes, tokens[t]) {
                if let end = match(slots, slot: s + 1, token: t + 1, tokens: tokens, bytes: bytes) { return end }
                break
            }
        }
        return slot.isOptional ? match(slots, slot: s + 1, token: t, tokens: tokens, bytes: bytes) : nil
    }

    private static func equalsFolded(_ word: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool
    {
        guard word.count == range.count else { return false }
        var k = 0
        for i in range {
            if fold(bytes[i]) != word[k] { return false }
            k += 1
        }
        return true
    }

    /// Words (ASCII letters, digits, `_`, `'`, and any non-ASCII byte) and single punctuation bytes;
    /// whitespace separates and is dropped.
    private static func tokenize(_ bytes: [UInt8]) -> [Range<Int>] {
        var tokens: [Range<Int>] = []
        tokens.reserveCapacity(bytes.count / 5)
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                let c = b[i]
                if isSpace(c) {
                    i += 1
                } else if isWordByte(c) {
                    let start = i
                    while i < b.count && isWordByte(b[i]) { i += 1 }
                    tokens.append(start..<i)
                } else {
                    tokens.append(i..<(i + 1))
                    i += 1
                }
            }
        }
        return tokens
    }

    @inline(__always) private static func fold(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
    }

    @inline(__always) private static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || (c >= 0x09 && c <= 0x0D)
    }

    @inline(__always) private static func isWordByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "'"):
            return true
        default:
            return c >= 0x80
        }
    }
}
