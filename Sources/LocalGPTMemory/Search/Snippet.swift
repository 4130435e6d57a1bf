//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Picks the lines of a chunk that best show why it matched, on one line.
enum Snippet {
    static let maxCharacters = 240

    /// The chunk's line with the most query keywords (a word sharing a keyword's first five
    /// letters counts, so "paint" finds "painted"), followed by the next lines while they fit;
    /// the chunk's first non-blank line when nothing matches. Whitespace runs become one space.
    static func make(text: String, terms: [String]) -> String {
        let lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false)
        var bestLine = -1
        var bestHits = 0
        if !terms.isEmpty {
            let stems = terms.map { $0.count >= 4 ? String($0.prefix(5)) : "" }
            let termBytes = terms.map { Array($0.utf8) }
            let stemBytes = stems.map { Array($0.utf8) }
            var word: [UInt8] = []
            var found = [Bool](repeating: false, count: terms.count)
            for (i, line) in lines.enumerated() {
                var hits = 0
                if line.allSatisfy({ $0 < 0x80 }) {
                    hits = Self.asciiHits(line, termBytes, stemBytes, word: &word, found: &found)
                } else {
                    let words = TextAnalysis.words(String(decoding: line, as: UTF8.self), limit: Self.wordsPerLine)
                    for (t, stem) in zip(terms, stems) {
                        if words.contains(t) || (!stem.isEmpty && words.contains { $0.hasPrefix(stem) }) { hits += 1 }
                    }
                }
                if hits > bestHits {
                    bestHits = hits
                    bestLine = i
                }
            }
        }
        if bestLine < 0 {
            bestLine = lines.firstIndex { $0.contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D } } ?? 0
        }
        // Join from the best line on, collapsing whitespace, until about maxCharacters.
        var out: [UInt8] = []
        var scalars = 0
        var pendingSpace = false
        var i = bestLine
        outer: while i < lines.count {
            for b in lines[i] {
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
        return snippet
    }

    /// The words of a line that are matched against the keywords.
    static let wordsPerLine = 512

    /// For a line of ASCII: how many keywords one of its first ``wordsPerLine`` words equals or,
    /// for keywords of four letters or more, starts like (`stems`). The words are those of
    /// `TextAnalysis.words` (runs of letters and digits, lower-cased), compared as bytes without
    /// making strings. `word` and `found` are scratch space.
    private static func asciiHits(
        _ line: Substring.UTF8View,
        _ terms: [[UInt8]],
        _ stems: [[UInt8]],
        word: inout [UInt8],
        found: inout [Bool]
    ) -> Int {
        for i in found.indices { found[i] = false }
        var hits = 0
        var words = 0
        word.removeAll(keepingCapacity: true)
        func finishWord() {
            guard !word.isEmpty else { return }
            words += 1
            for i in terms.indices where !found[i] {
                if word == terms[i] || (!stems[i].isEmpty && word.starts(with: stems[i])) {
                    found[i] = true
                    hits += 1
                }
            }
            word.removeAll(keepingCapacity: true)
        }
        for b in line {
            if words >= wordsPerLine { break }
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): word.append(b)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): word.append(b + 32)
            default: finishWord()
            }
        }
        if words < wordsPerLine { finishWord() }
        return hits
    }
}
