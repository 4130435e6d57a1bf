//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// An FTS5 query built from a natural-language question.
///
/// The seed's "AND of every token" finds almost nothing for a question: no chunk holds every word
/// of "When did Caroline go to the support group?". This builder drops stop words and joins the
/// remaining keywords with OR, so bm25 ranks chunks by how many of the rare words they hold and how
/// often. Each keyword is quoted (no FTS5 syntax from the user reaches the parser). A run of CJK
/// characters becomes its overlapping character bigrams, each a two-character phrase.
struct KeywordQuery: Sendable, Equatable {
    /// The distinct keywords, in query order.
    var terms: [String]
    /// The FTS5 MATCH expression.
    var expression: String

    /// The most keywords a query keeps (a 10,000-character query keeps its first 32 keywords).
    static let maxTerms = 32

    /// Builds the query; nil when the text holds no searchable word.
    static func build(_ text: String) -> KeywordQuery? {
        let words = TextAnalysis.words(String(text.prefix(20_000)), limit: 2048)
        var terms: [String] = []
        var seen = Set<String>()
        var phrases: [String] = []
        func add(_ term: String, phrase: String) {
            guard terms.count < maxTerms, seen.insert(term).inserted else { return }
            terms.append(term)
            phrases.append(phrase)
        }
        let keywords = words.filter { !TextAnalysis.stopWords.contains($0) }
        for w in keywords.isEmpty ? words : keywords {
            let scalars = Array(w.unicodeScalars)
            if let first = scalars.first, TextAnalysis.isCJK(first) {
                if scalars.count == 1 {
                    add(w, phrase: quote(w))
                } else {
                    for i in 0..<(scalars.count - 1) {
                        let a = String(scalars[i])
                        let b = String(scalars[i + 1])
                        add(a + b, phrase: quote(a + " " + b))
                    }
                }
            } else {
                add(w, phrase: quote(w))
            }
        }
        guard !terms.isEmpty else { return nil }
        return KeywordQuery(terms: terms, expression: phrases.joined(separator: " OR "))
    }

    /// The query of `terms` (as ``terms`` holds them: words, or CJK character bigrams written
    /// without a space); nil when `terms` is empty.
    static func build(terms: [String]) -> KeywordQuery? {
        guard !terms.isEmpty else { return nil }
        let phrases = terms.map { term -> String in
            let scalars = Array(term.unicodeScalars)
            if scalars.count == 2, TextAnalysis.isCJK(scalars[0]) {
                return quote(String(scalars[0]) + " " + String(scalars[1]))
            }
            return quote(term)
        }
        return KeywordQuery(terms: terms, expression: phrases.joined(separator: " OR "))
    }

    private static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
