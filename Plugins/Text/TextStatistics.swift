// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The `text_stats` tool: counts of characters, words, lines, sentences and paragraphs.

/// Statistics of a text, computed in one pass over its Unicode scalars (plus one pass for characters).
///
/// Definitions:
/// - `characters`: user-perceived characters (extended grapheme clusters).
/// - `words`: runs of letters, digits and combining marks; an apostrophe or hyphen between two such
///   characters joins them ("don't", "well-known"), a "." or "," between digits joins numbers ("3.14",
///   "1,000"); every CJK ideograph counts as a word of its own.
/// - `lines`: lines of text; a final line break does not start another line; an empty text has none.
///   `\n`, `\r\n` and `\r` are line breaks.
/// - `sentences`: runs of text containing a word and ending at `.`, `!`, `?`, `…` (or their CJK forms)
///   followed by whitespace or the end of the text; trailing words without a terminator also count.
/// - `paragraphs`: groups of non-blank lines separated by blank (whitespace-only) lines.
/// - `unique_words`: distinct words, ignoring case.
/// - `reading_minutes`: `words / 230`, rounded to one decimal.
struct TextStatistics: Encodable, Equatable {
    /// The reading speed behind `reading_minutes`.
    static let wordsPerMinute = 230.0

    /// The largest text accepted, in Unicode scalars (the schema's `maxLength`).
    static let maximumLength = 1_000_000

    var characters: Int
    var words: Int
    var lines: Int
    var sentences: Int
    var paragraphs: Int
    var readingMinutes: Double
    var uniqueWords: Int

    enum CodingKeys: String, CodingKey {
        case characters
        case words
        case lines
        case sentences
        case paragraphs
        case readingMinutes = "reading_minutes"
        case uniqueWords = "unique_words"
    }

    /// Computes the statistics of `text`.
    ///
    /// - Parameter text: The text.
    init(of text: String) {
        let scalars = Array(text.unicodeScalars)
        var words = 0
        var uniqueWords = Set<String>()
        var word = String.UnicodeScalarView()
        var lineBreaks = 0
        var sentences = 0
        var sentenceHasWord = false
        var paragraphs = 0
        var inParagraph = false
        var lineHasContent = false

        func finishWord() {
            guard !word.isEmpty else { return }
            words += 1
            uniqueWords.insert(String(word).lowercased())
            word = String.UnicodeScalarView()
        }

        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil

            if Self.isLineBreak(scalar) {
                finishWord()
                lineBreaks += 1
                if !lineHasContent {
                    inParagraph = false
                }
                lineHasContent = false
                if scalar == "\r", next == "\n" {
                    index += 1
                }
                index += 1
                continue
            }

            if !scalar.properties.isWhitespace {
                lineHasContent = true
                if !inParagraph {
                    paragraphs += 1
                    inParagraph = true
                }
            }

            if scalar.properties.isIdeographic {
                finishWord()
                word.append(scalar)
                finishWord()
                sentenceHasWord = true
            } else if Self.isWordScalar(scalar) {
                word.append(scalar)
                sentenceHasWord = true
            } else if scalar == "." || scalar == ",", let last = word.last, Self.isDigit(last), let next,
                Self.isDigit(next)
            {
                word.append(scalar)
            } else if Self.isJoiner(scalar), !word.isEmpty, let next, Self.isWordScalar(next),
                !next.properties.isIdeographic
            {
                word.append(scalar == "\u{2019}" ? "'" : scalar)
            } else {
                finishWord()
                if Self.isSentenceTerminator(scalar), sentenceHasWord, Self.endsSentence(scalars, after: index) {
                    sentences += 1
                    sentenceHasWord = false
                }
            }
            index += 1
        }
        finishWord()
        if sentenceHasWord {
            sentences += 1
        }

        let endsWithLineBreak = scalars.last.map(Self.isLineBreak) ?? false
        self.characters = text.count
        self.words = words
        self.lines = scalars.isEmpty ? 0 : lineBreaks + (endsWithLineBreak ? 0 : 1)
        self.sentences = sentences
        self.paragraphs = paragraphs
        self.readingMinutes = (Double(words) / Self.wordsPerMinute * 10).rounded() / 10
        self.uniqueWords = uniqueWords.count
    }

    private static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\n" || scalar == "\r"
    }

    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic {
            return true
        }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default:
            return false
        }
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .decimalNumber
    }

    /// Apostrophes and hyphens, which join two word characters into one word.
    private static func isJoiner(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "'", "\u{2019}", "-", "\u{2010}", "\u{2011}": true
        default: false
        }
    }

    private static func isSentenceTerminator(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case ".", "!", "?", "\u{2026}", "\u{203C}", "\u{2047}", "\u{2048}", "\u{2049}": true
        case "\u{3002}", "\u{FF01}", "\u{FF1F}", "\u{FF61}": true
        default: false
        }
    }

    /// CJK terminators end a sentence wherever they are; others only before whitespace or the end
    /// (after any further terminators and closing quotes or brackets), so "3.14" and "example.com" do not.
    private static func endsSentence(_ scalars: [Unicode.Scalar], after index: Int) -> Bool {
        switch scalars[index] {
        case "\u{3002}", "\u{FF01}", "\u{FF1F}", "\u{FF61}":
            return true
        default:
            break
        }
        var next = index + 1
        while next < scalars.count, isSentenceTerminator(scalars[next]) || isCloser(scalars[next]) {
            next += 1
        }
        return next == scalars.count || scalars[next].properties.isWhitespace
    }

    private static func isCloser(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\"", "'", ")", "]", "}", "\u{201D}", "\u{2019}", "\u{00BB}", "\u{300D}", "\u{300F}": true
        default: false
        }
    }
}
