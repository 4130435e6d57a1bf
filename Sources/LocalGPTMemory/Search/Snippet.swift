//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import LocalGPTCore

/// Picks the lines of a chunk that best show why it matched, on one line.
enum Snippet {
    static let maxCharacters = 240

    /// The chunk's line with the most query keywords (a word sharing a keyword's first five
    /// letters counts, so "paint" finds "painted"), followed by the next lines while they fit;
    /// of lines with as many, the one holding the most keywords as they are ("marker150" before
    /// "marker133"), then the first; the chunk's first non-blank line when nothing matches.
    /// Whitespace runs become one space; other control characters become U+FFFD. A long line
    /// whose first keyword (held as it is, when one is) lies past the first ~80 characters is
    /// shown from shortly before it, after "… ", so that the match is in view (ASCII lines;
    /// others are shown from their start).
    static func make(text: String, terms: [String]) -> String {
        let lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false)
        var bestLine = -1
        var bestHits = 0
        var bestExact = 0
        var bestFirst = 0
        if !terms.isEmpty {
            let stems = terms.map { $0.count >= 4 ? String($0.prefix(5)) : "" }
            let keys = zip(terms, stems).map { Key(term: Array($0.utf8), stem: Array($1.utf8)) }
            var found = [Match](repeating: .none, count: terms.count)
            for (i, line) in lines.enumerated() {
                // A native string's lines are contiguous; other text takes the Unicode path.
                let ascii = line.withContiguousStorageIfAvailable { Self.asciiHits($0, keys, found: &found) }
                let (hits, exact, first) = (ascii ?? nil) ?? Self.unicodeHits(line, terms: terms, stems: stems)
                if hits > bestHits || (hits > 0 && hits == bestHits && exact > bestExact) {
                    bestHits = hits
                    bestExact = exact
                    bestLine = i
                    bestFirst = first
                }
            }
        }
        if bestLine < 0 {
            bestLine = lines.firstIndex { $0.contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D } } ?? 0
        }
        // Join from the best line on, collapsing whitespace, until about maxCharacters.
        var out: [UInt8] = []
        var scalars = 0
        var skip = 0
        if bestFirst > Self.leadCharacters + 20 && lines[bestLine].count > maxCharacters {
            // Start at a word boundary about `leadCharacters` before the first keyword.
            let line = Array(lines[bestLine].prefix(bestFirst))
            let target = bestFirst - Self.leadCharacters
            skip = (line[..<target].lastIndex(of: 0x20)).map { $0 + 1 } ?? target
            out = Array("… ".utf8)
            scalars = 2
        }
        var pendingSpace = false
        var i = bestLine
        outer: while i < lines.count {
            for b in lines[i].dropFirst(i == bestLine ? skip : 0) {
                if b == 0x20 || b == 0x09 || b == 0x0D {
                    pendingSpace = !out.isEmpty
                    continue
                }
                if pendingSpace {
                    out.append(0x20)
                    scalars += 1
                    pendingSpace = false
                }
                if b & 0xC0 != 0x80 {
                    if scalars >= maxCharacters { break outer }
                    scalars += 1
                }
                out.append(b)
            }
            pendingSpace = !out.isEmpty
            i += 1
            if scalars >= maxCharacters { break }
        }
        var snippet = String(decoding: out, as: UTF8.self)
        if i < lines.count && scalars >= maxCharacters {
            snippet = String(snippet.prefix(maxCharacters - 1)) + "…"
        }
        // A byte order mark opens some files' first chunk: it is not text.
        if snippet.unicodeScalars.first == "\u{FEFF}" { snippet.unicodeScalars.removeFirst() }
        // Control characters left after the whitespace is collapsed would reach a terminal as
        // escape sequences: a note, or a web page the agent saved, could recolour it or retitle
        // the window. They read U+FFFD.
        return DisplayText.replacingControlCharacters(snippet, with: "\u{FFFD}")
    }

    /// The words of a line that are matched against the keywords.
    static let wordsPerLine = 512
    /// How much of a long line is shown before its first keyword.
    static let leadCharacters = 60

    /// How many keywords a line holds, and how many of them as they are (not by their first five
    /// letters), by `TextAnalysis.words` (folded case and accents); `first` is always 0.
    private static func unicodeHits(
        _ line: Substring.UTF8View,
        terms: [String],
        stems: [String]
    ) -> (hits: Int, exact: Int, first: Int) {
        let words = TextAnalysis.words(String(decoding: line, as: UTF8.self), limit: Self.wordsPerLine)
        var hits = 0
        var exact = 0
        for (t, stem) in zip(terms, stems) {
            if words.contains(t) {
                hits += 1
                exact += 1
            } else if !stem.isEmpty && words.contains(where: { $0.hasPrefix(stem) }) {
                hits += 1
            }
        }
        return (hits, exact, 0)
    }

    /// How a line holds a keyword so far.
    private enum Match {
        case none
        /// A word starting with its first five letters.
        case prefix
        /// The word itself.
        case exact
    }

    /// A keyword as bytes, and its first five letters when it has four or more (else empty).
    private struct Key {
        var term: [UInt8]
        var stem: [UInt8]
    }

    /// For a line of ASCII: how many keywords one of its first ``wordsPerLine`` words equals or,
    /// for keywords of four letters or more, starts like (`stem`), how many of them one equals,
    /// and the byte offset of the first word that equals a keyword, else of the first that
    /// matched (0 when none); nil when the line is not ASCII. The words are those of
    /// `TextAnalysis.words` (runs of letters and digits, lower-cased), compared in place:
    /// `b | 0x20` lower-cases a letter and leaves a digit as it is. `found` is scratch space.
    private static func asciiHits(
        _ line: UnsafeBufferPointer<UInt8>,
        _ keys: [Key],
        found: inout [Match]
    ) -> (hits: Int, exact: Int, first: Int)? {
        guard line.allSatisfy({ $0 < 0x80 }) else { return nil }
        for i in found.indices { found[i] = .none }
        var hits = 0
        var exact = 0
        var first = 0
        var firstExact = 0
        var words = 0
        var start = -1
        func matches(_ key: [UInt8], _ from: Int, _ count: Int) -> Bool {
            guard count > 0 else { return false }
            for j in 0..<count where line[from + j] | 0x20 != key[j] { return false }
            return true
        }
        func finishWord(_ end: Int) {
            let length = end - start
            words += 1
            for (i, key) in keys.enumerated() where found[i] != .exact {
                if length == key.term.count && matches(key.term, start, length) {
                    if found[i] == .none {
                        if hits == 0 { first = start }
                        hits += 1
                    }
                    if exact == 0 { firstExact = start }
                    found[i] = .exact
                    exact += 1
                } else if found[i] == .none && length >= key.stem.count && matches(key.stem, start, key.stem.count) {
                    if hits == 0 { first = start }
                    found[i] = .prefix
                    hits += 1
                }
            }
        }
        for (i, b) in line.enumerated() {
            let isWord =
                (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            if isWord {
                if start < 0 { start = i }
            } else if start >= 0 {
                finishWord(i)
                start = -1
                if words >= wordsPerLine { break }
            }
        }
        if start >= 0 && words < wordsPerLine { finishWord(line.count) }
        return (hits, exact, exact > 0 ? firstExact : first)
    }
}
