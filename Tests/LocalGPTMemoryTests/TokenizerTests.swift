//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTMemory
import LocalGPTTesting
import Testing

/// One case of Fixtures/tokenizer_cases.json (scripts/generate-tokenizer-fixtures.py, HF `tokenizers`).
struct TokenizerCase: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var maxLength: Int?
    var ids: [Int32]
    var tokens: [String]

    enum CodingKeys: String, CodingKey {
        case name, text, ids, tokens
        case maxLength = "max_length"
    }

    var testDescription: String { name }

    static let all: [TokenizerCase] = {
        struct File: Decodable { var cases: [TokenizerCase] }
        // A missing or broken fixture file yields no cases; `fixtureFileIsComplete` reports it.
        return (try? EmbedderTestSupport.decodeFixture("tokenizer_cases.json", as: File.self).cases) ?? []
    }()
}

@Suite struct TokenizerTests {
    @Test func fixtureFileIsComplete() throws {
        #expect(TokenizerCase.all.count >= 40, "Fixtures/tokenizer_cases.json is missing or incomplete")
    }

    @Test(arguments: TokenizerCase.all)
    func matchesReferenceTokenizer(_ fixture: TokenizerCase) throws {
        let tokenizer = try EmbedderTestSupport.tokenizer()
        let ids = tokenizer.encode(fixture.text, maxLength: fixture.maxLength)
        #expect(ids == fixture.ids, "\(fixture.name): got \(tokenizer.tokenize(fixture.text).prefix(40))")
        if fixture.maxLength == nil {
            #expect(["[CLS]"] + tokenizer.tokenize(fixture.text) + ["[SEP]"] == fixture.tokens)
        }
    }

    @Test func truncationKeepsThePrefix() throws {
        let tokenizer = try EmbedderTestSupport.tokenizer()
        let text = String(repeating: "Memory is the heart of the assistant; it lives in the host. ", count: 40)
        let full = tokenizer.encode(text)
        let cut = tokenizer.encode(text, maxLength: 256)
        #expect(full.count > 256)
        #expect(cut.count == 256)
        #expect(Array(cut.dropLast()) == Array(full.prefix(255)))
        #expect(cut.last == tokenizer.separatorID)
        #expect(tokenizer.encode("a b", maxLength: 2) == [tokenizer.classifierID, tokenizer.separatorID])
    }

    @Test func hugeInputIsReadOnlyAsFarAsNeeded() throws {
        let tokenizer = try EmbedderTestSupport.tokenizer()
        let huge = String(repeating: "naïve café 東京 words and more words ", count: 200_000)  // ~7 MB
        let clock = ContinuousClock()
        var ids: [Int32] = []
        let elapsed = clock.measure { ids = tokenizer.encode(huge, maxLength: 256) }
        #expect(ids.count == 256)
        #expect(elapsed < .seconds(1))
        // One unbroken 1 MB "word" is a single [UNK].
        let blob = String(repeating: "x", count: 1_000_000)
        #expect(
            tokenizer.encode(blob, maxLength: 256) == [
                tokenizer.classifierID, tokenizer.unknownID, tokenizer.separatorID,
            ]
        )
    }

    @Test func wordPieceOnASmallVocabulary() throws {
        let tokenizer = try BertTokenizer(tokens: [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "a", "##ff", "!",
        ])
        #expect(tokenizer.tokenize("Unaffable!") == ["un", "##aff", "##able", "!"])
        #expect(tokenizer.tokenize("unaffablex") == ["[UNK]"])
        #expect(tokenizer.tokenize("A [PAD]a") == ["a", "[PAD]", "a"])
        #expect(tokenizer.encode("") == [2, 3])
        #expect(tokenizer.vocabularySize == 10)
    }

    @Test func vocabularyErrorsAreClear() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-vocab")
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let missing = #expect(throws: EmbeddingError.self) { try BertTokenizer(vocabularyFile: dir + "/vocab.txt") }
        #expect(missing?.code == .notInstalled)
        #expect(missing?.message.contains("scripts/install-models.sh") == true)

        let empty = dir + "/empty.txt"
        try Data().write(to: URL(fileURLWithPath: empty))
        let emptyError = #expect(throws: EmbeddingError.self) { try BertTokenizer(vocabularyFile: empty) }
        #expect(emptyError?.code == .invalidVocabulary)

        let binary = dir + "/binary.txt"
        try Data([0x5B, 0x55, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: binary))
        let binaryError = #expect(throws: EmbeddingError.self) { try BertTokenizer(vocabularyFile: binary) }
        #expect(binaryError?.code == .invalidVocabulary)
        #expect(binaryError?.message.contains("UTF-8") == true)

        let noUnknown = #expect(throws: EmbeddingError.self) { try BertTokenizer(tokens: ["[CLS]", "[SEP]", "a"]) }
        #expect(noUnknown?.message.contains("[UNK]") == true)
    }
}
