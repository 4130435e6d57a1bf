//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import LocalGPTCore
import Testing

@testable import LocalGPTMemory

/// What the index derives from text: content hashes, the context column, snippets.
@Suite struct IndexTextTests {
    /// The index keys files, chunks and embedding-cache entries by these hashes: they must stay
    /// standard SHA-256 (FIPS 180-4 examples), or every existing index would be rebuilt.
    @Test func contentHashesAreStandardSHA256() {
        #expect(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
        #expect(
            sha256Hex(String(repeating: "a", count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        )
    }

    /// A file's first heading is found in a CRLF file too, and only the heading line goes into
    /// the context every chunk of the file is found by.
    @Test func theContextIsTheNameAndTheFirstHeadingWhateverTheLineEnds() {
        func context(_ text: String, key: String = "notes/plan.md") -> String {
            let file = ScannedFile(absolutePath: "/w/" + key, key: key, source: "memory", size: 0, mtime: 0)
            var text = text
            return text.withUTF8 { MemoryIndex.context(file: file, UnsafeRawBufferPointer($0)) }
        }
        #expect(context("# Garden plan\nturnips and kale\n") == "plan.md Garden plan")
        #expect(context("# Garden plan\r\nturnips and kale\r\n") == "plan.md Garden plan")
        #expect(context("\r\n  \t\r\n## \u{00A0}Budget 2025 \u{2003}\r\nmore\r\n") == "plan.md Budget 2025")
        #expect(context("no heading here\nnor here\n") == "plan.md")
        #expect(context("x\n" + String(repeating: "line\n", count: 12) + "# Too late\n") == "plan.md")
        #expect(context("# Title", key: "top.md") == "top.md Title")
    }

    /// The snippet starts at the line with the most keywords, words being counted as
    /// `TextAnalysis.words` splits them (letters and digits, lower-cased), a keyword of four
    /// letters or more also matching words that start with its first five, on ASCII lines (read
    /// as bytes) and on others alike.
    /// A paragraph written as one long line showed its first 240 characters, without the match
    /// near its end; it is shown from shortly before the first keyword. A byte order mark is
    /// not shown.
    @Test func aLongLineIsShownFromItsFirstKeyword() {
        let filler = (1...40).map { "word\($0)" }.joined(separator: " ")
        let text = "# Notes\n" + filler + " and then the password rotates every ninety days, said the admin.\n"
        let snippet = Snippet.make(text: text, terms: ["password", "rotates"])
        #expect(snippet.hasPrefix("… "), "\(snippet)")
        #expect(snippet.contains("the password rotates every ninety days"))
        #expect(snippet.count <= Snippet.maxCharacters)
        let short = Snippet.make(text: "the password rotates\n", terms: ["password"])
        #expect(short == "the password rotates")
        #expect(Snippet.make(text: "\u{FEFF}# Title\nbody\n", terms: ["zebra"]) == "# Title body")
    }

    /// Latin, Greek and Cyrillic text folds scalar by scalar from a table (the fast path); it
    /// must fold exactly as Foundation folds the whole text, since a note holding one Hebrew or
    /// CJK character takes the slow path while its query may not.
    @Test(arguments: [
        "Straße und Fußball: Übung macht den Meister, Österreich!",
        "Un cœur déçu à Noël, l'été à Montréal — « déjà vu ».",
        "Zażółć gęślą jaźń; Příliš žluťoučký kůň úpěl ďábelské ódy.",
        "İstanbul'da ılık bir gün; Ağaç, çiçek, şeker.",
        "Ο λόγος του ΣΊΣΥΦΟΥ, ΐ ΰ ς.",
        "Мой новый чайник; Ёлка зелёная; Україна: їжак, єнот, ґанок.",
        "Decomposed: e\u{301}te, n\u{303}o, и\u{306}, ο\u{301}",
        "ǅemal ĳssel Ångström Æsir Øresund œuvre ﬁ ＡＢＣ",
    ])
    func theFastFoldingIsFoundationsFolding(_ text: String) {
        #expect(TextAnalysis.folded(text) == TextAnalysis.foldedWhole(text))
    }

    /// The indexed text writes each CJK character between spaces (so each is a token); done on
    /// the UTF-8 bytes, it must equal the definition, scalar by scalar, on text of every width.
    @Test func cjkCharactersAreSpacedAsDefined() {
        let pieces = ["猫", "日本語", "。", "한국어", "ｶﾀｶﾅ", "𠀋", "😀", "é", "ß", "a", " ", "x1", "\u{3040}", "\u{30FF}"]
        var state: UInt64 = 11
        for _ in 0..<500 {
            var text = ""
            for _ in 0..<16 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text += pieces[Int((state >> 33) % UInt64(pieces.count))]
            }
            var expected = ""
            for s in TextAnalysis.folded(text).unicodeScalars {
                expected += TextAnalysis.isCJK(s) ? " \(s) " : "\(s)"
            }
            #expect(TextAnalysis.ftsText(text) == expected, "\(text)")
        }
    }

    @Test func theSnippetStartsAtTheLineWithTheMostKeywords() {
        func first(_ text: String, _ terms: [String]) -> String {
            String(Snippet.make(text: text, terms: terms).prefix(12))
        }
        let text = """
            A0 nothing here
            A1 GARDEN-party, with Alice's cat
            A2 garden painted; alice
            A3 gardenias 2025
            Ä4 café garden alice paint
            """
        #expect(first(text, ["garden"]) == "A1 GARDEN-pa")
        #expect(first(text, ["garden", "alice"]) == "A1 GARDEN-pa")
        #expect(first(text, ["garden", "alice", "paint"]) == "A2 garden pa")
        #expect(first(text, ["cafe", "garden", "alice", "paint"]) == "Ä4 café gard")
        #expect(first(text, ["2025"]) == "A3 gardenias")
        #expect(first(text, ["s"]) == "A1 GARDEN-pa", "\"Alice's\" holds the word s")
        #expect(first(text, ["ali"]) == "A0 nothing h", "under four letters: whole words only")
        #expect(first(text, ["zebra"]) == "A0 nothing h")
        // Only the first 512 words of a line count.
        let long = "x0\n" + String(repeating: "w ", count: 512) + "late\nz9"
        #expect(first(long, ["late"]).hasPrefix("x0 w"))
        #expect(first(long, ["w"]).hasPrefix("w w"))
    }
}
