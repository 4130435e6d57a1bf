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
            // What a matching word must contain; a line of ASCII holding none of them (lower-cased)
            // has no hits, and is not split into words.
            let needles = zip(terms, stems).map { Array(($1.isEmpty ? $0 : $1).utf8) }
            for (i, line) in lines.enumerated() {
                if line.allSatisfy({ $0 < 0x80 }) && !needles.contains(where: { Self.asciiLine(line, contains: $0) }) {
                    continue
                }
                let words = TextAnalysis.words(String(decoding: line, as: UTF8.self), limit: 512)
                guard !words.isEmpty else { continue }
                var hits = 0
                for (t, stem) in zip(terms, stems) {
                    if words.contains(t) || (!stem.isEmpty && words.contains { $0.hasPrefix(stem) }) { hits += 1 }
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

    /// Whether the ASCII `line`, lower-cased, contains `needle` (lower-case bytes).
    private static func asciiLine(_ line: Substring.UTF8View, contains needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, line.count >= needle.count else { return needle.isEmpty }
        let lower = line.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        return lower.withUnsafeBufferPointer { l in
            needle.withUnsafeBufferPointer { n in
                for start in 0...(l.count - n.count) where l[start] == n[0] {
                    var j = 1
                    while j < n.count && l[start + j] == n[j] { j += 1 }
                    if j == n.count { return true }
                }
                return false
            }
        }
    }
}
