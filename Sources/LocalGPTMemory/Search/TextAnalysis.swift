//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// Word splitting, folding and stop words for keyword search.
///
/// The index and the queries fold text the same way, by ``folded(_:)``: FTS5's unicode61 folds
/// case everywhere but removes diacritics from Latin letters only, so a query folded by
/// Foundation ("чаиник", "strasse", "λογοσ") would miss the indexed "чайник", "straße", "λόγος".
/// Indexed text goes through ``ftsText(_:)``; query words through ``words(_:limit:)``.
enum TextAnalysis {
    /// The words of `text`, in order, folded (``folded(_:)``), split at anything that is not a
    /// letter or a digit. A run of CJK characters is one word (the query builder turns it into
    /// character bigrams). At most `limit` words.
    static func words(_ text: String, limit: Int = 4096) -> [String] {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return asciiWords(text, limit: limit) }
        let normal = folded(text)
        var out: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty {
                out.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        for scalar in normal.unicodeScalars {
            if out.count >= limit { break }
            let p = scalar.properties  // (folded() has dropped the nonspacing marks)
            if p.isAlphabetic || p.numericType != nil {
                let cjk = isCJK(scalar)
                if let last = current.last, isCJK(last) != cjk { flush() }
                current.append(scalar)
            } else {
                flush()  // "Caroline's" -> "caroline" + "s", as unicode61 splits it
            }
        }
        flush()
        return out
    }

    /// ``words(_:limit:)`` for ASCII text, without Foundation.
    private static func asciiWords(_ text: String, limit: Int) -> [String] {
        var out: [String] = []
        var current: [UInt8] = []
        for b in text.utf8 {
            if out.count >= limit { break }
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                current.append(b)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                current.append(b + 32)
            default:
                if !current.isEmpty {
                    out.append(String(decoding: current, as: UTF8.self))
                    current.removeAll(keepingCapacity: true)
                }
            }
        }
        if !current.isEmpty && out.count < limit { out.append(String(decoding: current, as: UTF8.self)) }
        return out
    }

    /// `text` with case, diacritics and width folded (Foundation's folding) and nonspacing marks
    /// dropped (Hebrew and Arabic vowel points, Indic vowel signs, which the folding keeps), so
    /// that "שלום" finds "שָׁלוֹם". ASCII text is returned as it is: FTS5 lower-cases it itself.
    static func folded(_ text: String) -> String {
        var copy = text
        guard copy.withUTF8({ $0.contains { $0 >= 0x80 } }) else { return text }
        // Scalar by scalar from a table of Foundation's own folding (``FoldTable``): about ten
        // times faster than folding the text, which indexing pays on every chunk.
        if let out = copy.withUTF8({ FoldTable.shared.fold($0) }) { return String(decoding: out, as: UTF8.self) }
        return foldedWhole(text)
    }

    /// Foundation's folding of `text`, nonspacing marks dropped.
    static func foldedWhole(_ text: String) -> String {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        func mark(_ s: Unicode.Scalar) -> Bool {
            s.value >= 0x300 && s.properties.generalCategory == .nonspacingMark
        }
        guard folded.unicodeScalars.contains(where: mark) else { return folded }
        var out = String.UnicodeScalarView()
        for s in folded.unicodeScalars where !mark(s) { out.append(s) }
        return String(out)
    }

    /// The text FTS5 indexes for `text`: ``folded(_:)``, with CJK characters separated by spaces
    /// so each is a token (unicode61 would keep a whole run as one token, which no query could
    /// match).
    static func ftsText(_ original: String) -> String {
        let text = folded(original)
        // U+3040 and above start with a lead byte of 0xE3 or more in UTF-8.
        var copy = text
        guard copy.withUTF8({ $0.contains { $0 >= 0xE3 } }),
            text.unicodeScalars.contains(where: { $0.value >= 0x3040 && isCJK($0) })
        else { return text }
        // On the UTF-8 bytes (appending scalar by scalar to a String took half of the indexing
        // time of Chinese or Japanese notes): every scalar of three or four bytes is decoded and,
        // when CJK, written between spaces.
        return copy.withUTF8 { utf8 -> String in
            var out: [UInt8] = []
            out.reserveCapacity(utf8.count * 2)
            var i = 0
            while i < utf8.count {
                let (value, length) = UTF8Scalar.decode(utf8, at: i)
                let cjk = length >= 3 && isCJK(value: value)
                if cjk { out.append(0x20) }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[i..<(i + length)]))
                if cjk { out.append(0x20) }
                i += length
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    static func isCJK(_ s: Unicode.Scalar) -> Bool { isCJK(value: s.value) }

    static func isCJK(value: UInt32) -> Bool {
        switch value {
        case 0x3040...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xAC00...0xD7AF, 0xF900...0xFAFF,
            0x20000...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// Function words that carry no topic: dropped from keyword queries.
    static let stopWords: Set<String> = [
        "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are",
        "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
        "can", "could", "did", "do", "does", "doing", "done", "down", "during", "each", "either", "else",
        "ever", "few", "for", "from", "further", "get", "gets", "got", "had", "has", "have", "having", "he",
        "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is",
        "it", "its", "itself", "just", "let", "me", "might", "more", "most", "much", "must", "my", "myself",
        "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
        "ourselves", "out", "over", "own", "same", "shall", "she", "should", "so", "some", "such", "than",
        "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this",
        "those", "through", "to", "too", "under", "until", "up", "upon", "us", "very", "was", "we", "were",
        "what", "whats", "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with",
        "would", "you", "your", "yours", "yourself", "yourselves", "s", "t", "d", "ll", "m", "re", "ve",
        "don", "didn", "doesn", "isn", "wasn", "weren", "won", "wouldn", "couldn", "shouldn", "aren",
        "haven", "hasn", "hadn", "kind", "kinds", "type", "types", "thing", "things", "anything",
        "something", "everything", "nothing", "many", "may", "one", "ones", "way", "ways", "yes", "yet",
        "via", "per", "etc", "like", "likely", "tell", "know", "mention", "mentioned", "say", "said",
    ]
}
