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
            let file = ScannedFile(
                absolutePath: "/w/" + key,
                key: key,
                source: "memory",
                size: 0,
                mtime: 0,
                ctime: 0,
                inode: 0
            )
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

    /// Searching "marker150" in a chunk of lines "L1 marker1 …" … "L200 marker200 …" showed the
    /// line of the first word sharing its first five letters ("marker133"), not the line that
    /// holds the word itself.
    @Test func aWordAsItIsBeatsAWordThatStartsLikeIt() {
        let lines = (1...200).map { "L\($0) marker\($0) notes about the day" }
        let text = lines[132...].joined(separator: "\n")
        #expect(Snippet.make(text: text, terms: ["marker150"]).hasPrefix("L150 marker150 notes"))
        #expect(Snippet.make(text: text, terms: ["marker"]).hasPrefix("L133 marker133"), "prefixes alone: the first")
        #expect(Snippet.make(text: text, terms: ["marker1500"]).hasPrefix("L133 marker133"))
        // Lines that are not ASCII take the other path, alike.
        let accented = (1...20).map { "é\($0) marker\($0) café" }.joined(separator: "\n")
        #expect(Snippet.make(text: accented, terms: ["marker15"]).hasPrefix("é15 marker15 café"))
        // A long line is shown from shortly before the word itself.
        let long = (1...60).map { "marker\($0)" }.joined(separator: " ") + " end\n"
        let snippet = Snippet.make(text: long, terms: ["marker50"])
        #expect(snippet.hasPrefix("… "), "\(snippet)")
        #expect(snippet.contains("marker50 "), "\(snippet)")
    }

    /// Text folds scalar by scalar from a table (``FoldTable``, the fast path) unless it holds a
    /// scalar Foundation folds differently beside others; it must fold exactly as Foundation folds
    /// the whole text, since a query may take the other path than the note it looks for.
    @Test(arguments: [
        "Straße und Fußball: Übung macht den Meister, Österreich!",
        "Un cœur déçu à Noël, l'été à Montréal — « déjà vu ».",
        "Zażółć gęślą jaźń; Příliš žluťoučký kůň úpěl ďábelské ódy.",
        "İstanbul'da ılık bir gün; Ağaç, çiçek, şeker.",
        "Ο λόγος του ΣΊΣΥΦΟΥ, ΐ ΰ ς.",
        "Мой новый чайник; Ёлка зелёная; Україна: їжак, єнот, ґанок.",
        "Decomposed: e\u{301}te, n\u{303}o, и\u{306}, ο\u{301}",
        "ǅemal ĳssel Ångström Æsir Øresund œuvre ﬁ ＡＢＣ",
        "Tiếng Việt có dấu: Người đẹp, phở bò, Hà Nội.",
        "我们明天去北京开会，记得带上笔记本电脑。",
        "がぎぐげご パピプペポ ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ ｱｲｳｴｵ ＡＢＣ１２３",
        "한국어 텍스트: 내일 회의는 오후 세 시입니다. \u{1100}\u{1161}\u{11A8}",
        "مرحبًا بالعالم، كَتَبَ الطالبُ الدرسَ ﷺ ﻻ",
        "שָׁלוֹם עוֹלָם, בְּרֵאשִׁית בָּרָא",
        "क़लम और ज़मीन, हिन्दी में लिखा गया पाठ।",
        "தமிழ் கொ கோ கௌ, ภาษาไทย สวัสดี, ᜀᜁ",
        "k\u{93C}\u{BBE} ज़ा फ़िल्म में ক\u{9BC}\u{9BE} \u{35B}\u{BD7}",
        "👍🏽 👩‍💻 🏳️‍🌈 1️⃣ 🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
        "ᾳ ᾼ \u{3B1}\u{345} Ⓐ ㍿ ㌔ ℃ ℌ ℡ ﹏",
        "τ\u{3B7}\u{345} ψυχ\u{3B7}\u{345}, ж\u{488} and e\u{489}",  // (folded scalar by scalar before `folded-v2`)
    ])
    func theFastFoldingIsFoundationsFolding(_ text: String) {
        #expect(TextAnalysis.folded(text) == TextAnalysis.foldedWhole(text))
    }

    /// The generated table is Foundation's folding of every scalar alone (planes 4 to 13 hold no
    /// assigned scalar; every 97th of them and of the private-use planes is checked). A toolchain
    /// whose Foundation folds differently fails here: run scripts/gen-fold-table.swift again.
    @Test func theFoldTableIsFoundationsFoldingOfEveryScalar() {
        var mismatches: [String] = []
        for v in UInt32(0x80)...0x10FFFF where v < 0x40000 || (v >= 0xE0000 && v < 0xE1000) || v % 97 == 0 {
            guard let scalar = Unicode.Scalar(v) else { continue }
            let text = String(scalar)
            let fast = TextAnalysis.folded(text)
            if fast != TextAnalysis.foldedWhole(text) && mismatches.count < 20 {
                mismatches.append(String(v, radix: 16))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    /// Runs of scalars drawn from every script's letters, marks, joiners and width forms fold as
    /// Foundation folds them whole, whichever path they take.
    @Test func runsOfScalarsFoldAsFoundationFoldsThem() {
        let ranges: [ClosedRange<UInt32>] = [
            0x41...0x7A, 0xC0...0x24F, 0x300...0x36F, 0x370...0x3FF, 0x400...0x52F, 0x591...0x5F4,
            0x600...0x6FF, 0x900...0x9FF, 0xB00...0xBFF, 0xD00...0xD7F, 0xE00...0xE5B, 0x1100...0x11FF, 0x1E00...0x1FFF,
            0x200B...0x200F, 0x20D0...0x20F0, 0x3040...0x30FF, 0x4E00...0x4E80, 0xAC00...0xAC80,
            0xFB00...0xFB4F, 0xFE00...0xFE2F, 0xFF00...0xFFEF, 0x1F3FB...0x1F3FF, 0x1F600...0x1F64F,
            0xE0020...0xE007F,
        ]
        var state: UInt64 = 29
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        var mismatches: [String] = []
        for _ in 0..<40_000 {
            var text = String.UnicodeScalarView()
            for _ in 0..<(2 + next(5)) {
                let range = ranges[next(ranges.count)]
                if let s = Unicode.Scalar(range.lowerBound + UInt32(next(range.count))) { text.append(s) }
            }
            let string = String(text)
            guard string.utf8.contains(where: { $0 >= 0x80 }) else { continue }  // FTS5 lower-cases ASCII
            if TextAnalysis.folded(string) != TextAnalysis.foldedWhole(string) && mismatches.count < 20 {
                mismatches.append(string.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " "))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
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
        #expect(first(text, ["cafe", "garden", "alice", "paint"]) == "Ä4 café gard")
        #expect(first(text, ["2025"]) == "A3 gardenias")
        #expect(first(text, ["s"]) == "A1 GARDEN-pa", "\"Alice's\" holds the word s")
        #expect(first(text, ["ali"]) == "A0 nothing h", "under four letters: whole words only")
        #expect(first(text, ["zebra"]) == "A0 nothing h")
        // As many keywords: a line holding them as they are comes before one holding a word
        // that only starts like one ("paint" against "painted"); as many of those, the first.
        #expect(first(text, ["garden", "alice", "paint"]) == "Ä4 café gard")
        #expect(first(text, ["garden", "alice", "painting"]) == "A2 garden pa")
        // Only the first 512 words of a line count.
        let long = "x0\n" + String(repeating: "w ", count: 512) + "late\nz9"
        #expect(first(long, ["late"]).hasPrefix("x0 w"))
        #expect(first(long, ["w"]).hasPrefix("w w"))
    }
}
