//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Synchronization
import Testing

@testable import LocalGPTMemory

/// A pair of texts and sentence-transformers' cosine for them (all-MiniLM-L6-v2, the memory issue).
struct CosinePair: Sendable, CustomTestStringConvertible {
    var a: String
    var b: String
    var expected: Double
    var testDescription: String { "\(a) / \(b)" }

    static let all = [
        CosinePair(a: "The cat sits on the mat.", b: "A kitten is resting on a rug.", expected: 0.6411),
        CosinePair(
            a: "The cat sits on the mat.",
            b: "Stock markets fell sharply after the announcement.",
            expected: 0.0275
        ),
        CosinePair(
            a: "How do I reset my password?",
            b: "I forgot my login credentials and need to change them.",
            expected: 0.6341
        ),
        CosinePair(
            a: "Remind me to call mom tomorrow at 5pm.",
            b: "Schedule a phone call with my mother for tomorrow evening.",
            expected: 0.8037
        ),
    ]
}

@Suite struct EmbedderTests {
    static let sampleTexts: [String] = [
        "The cat sits on the mat.",
        "",
        "Café naïve Ångström 中文 日本語 한국어 ✓ 🎉 👍🏽",
        "“Quoted” — dash… «guillemets»",
        "https://example.com/a?b=c#d 3.14159 $5.99",
        String(repeating: "Long chunks are packed end to end in one forward pass. ", count: 12),
        "short",
        String(repeating: "word ", count: 300),
    ]

    @Test func identity() throws {
        let embedder = try EmbedderTestSupport.embedder()
        #expect(embedder.modelID == "all-MiniLM-L6-v2/fp32/256")
        #expect(embedder.dimensions == 384)
        #expect(embedder.tokenizer.vocabularySize == 30522)
    }

    @Test(arguments: CosinePair.all)
    func cosineMatchesSentenceTransformers(_ pair: CosinePair) throws {
        let embedder = try EmbedderTestSupport.embedder()
        let vectors = try embedder.embed([pair.a, pair.b])
        let cosine = EmbedderTestSupport.cosine(vectors[0], vectors[1])
        #expect(abs(cosine - pair.expected) <= 0.002, "cosine \(cosine), expected \(pair.expected)")
    }

    @Test func vectorsAreUnitLength() throws {
        let embedder = try EmbedderTestSupport.embedder()
        for (text, vector) in zip(Self.sampleTexts, try embedder.embed(Self.sampleTexts)) {
            #expect(vector.count == 384)
            #expect(abs(EmbedderTestSupport.norm(vector) - 1) < 1e-5, "\(text.prefix(30))")
            #expect(vector.allSatisfy { $0.isFinite })
        }
    }

    @Test func batchAndSingleAgree() throws {
        let embedder = try EmbedderTestSupport.embedder()
        // More than one packed batch (32 texts) and texts of very different lengths.
        let texts = (0..<40).map { i in Self.sampleTexts[i % Self.sampleTexts.count] + (i % 3 == 0 ? "" : " \(i)") }
        let batched = try embedder.embed(texts)
        #expect(batched.count == texts.count)
        for (i, text) in texts.enumerated() {
            let single = try embedder.embed(text)
            let singleBatch = try embedder.embed([text])[0]
            #expect(EmbedderTestSupport.maxAbsDifference(batched[i], single) <= 1e-5, "text \(i)")
            #expect(EmbedderTestSupport.maxAbsDifference(single, singleBatch) <= 1e-6, "text \(i)")
        }
        #expect(try embedder.embed([]).isEmpty)
    }

    @Test func matchesIndependentFloat64Implementation() throws {
        // Vectors from the float64 numpy forward pass in scripts/generate-tokenizer-fixtures.py: a
        // cross-check of the C implementation (the cosine tests above use sentence-transformers' values).
        struct File: Decodable {
            struct Case: Decodable {
                var text: String
                var vector: [Float]
            }
            var cases: [Case]
        }
        let file = try EmbedderTestSupport.decodeFixture("embedding_reference.json", as: File.self)
        let embedder = try EmbedderTestSupport.embedder()
        let vectors = try embedder.embed(file.cases.map(\.text))
        #expect(file.cases.count >= 5)
        for (reference, vector) in zip(file.cases, vectors) {
            #expect(EmbedderTestSupport.maxAbsDifference(reference.vector, vector) < 1e-5)
        }
    }

    @Test func emptyAndLongInputs() throws {
        let embedder = try EmbedderTestSupport.embedder()
        let empty = try embedder.embed("")
        #expect(abs(EmbedderTestSupport.norm(empty) - 1) < 1e-5)

        // 10,000 characters: truncated to 256 tokens, so what follows the cut does not matter.
        let long = String(
            String(repeating: "Meeting notes about the quarterly roadmap and hiring plan. ", count: 200).prefix(10_000)
        )
        #expect(long.count == 10_000)
        #expect(embedder.tokenizer.encode(long, maxLength: 256).count == 256)
        let a = try embedder.embed(long)
        let b = try embedder.embed(long + " and then something completely different about volcanoes")
        #expect(abs(EmbedderTestSupport.norm(a) - 1) < 1e-5)
        #expect(EmbedderTestSupport.maxAbsDifference(a, b) <= 1e-6)

        // Control characters, lone special tokens and unusual scripts embed like any text.
        let odd = try embedder.embed(["\u{0}\u{1}\u{FFFD}", "[CLS][SEP][MASK]", "\u{E000}", "👨‍👩‍👧"])
        #expect(odd.allSatisfy { abs(EmbedderTestSupport.norm($0) - 1) < 1e-5 })
    }

    @Test func concurrentEmbeddingIsSafe() throws {
        let embedder = try EmbedderTestSupport.embedder()
        let texts = Self.sampleTexts
        let expected = try embedder.embed(texts)
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        for worker in 0..<4 {
            group.enter()
            detachThread {
                defer { group.leave() }
                for round in 0..<3 {
                    // Each worker embeds a different rotation, singly and in batches.
                    let order = texts.indices.map { ($0 + worker + round) % texts.count }
                    do {
                        let batch = try embedder.embed(order.map { texts[$0] })
                        for (k, i) in order.enumerated()
                        where EmbedderTestSupport.maxAbsDifference(batch[k], expected[i]) > 1e-5 {
                            failures.withLock { $0.append("worker \(worker) round \(round) text \(i)") }
                        }
                        let single = try embedder.embed(texts[order[0]])
                        if EmbedderTestSupport.maxAbsDifference(single, expected[order[0]]) > 1e-5 {
                            failures.withLock { $0.append("worker \(worker) single \(order[0])") }
                        }
                    } catch {
                        failures.withLock { $0.append("worker \(worker): \(error)") }
                    }
                }
            }
        }
        #expect(group.wait(timeout: .now() + 120) == .success)
        #expect(failures.withLock { $0 } == [])
    }

    @Test func locateFollowsTheModelsDirectory() throws {
        let installed = try EmbedderTestSupport.modelDirectory()
        let root = TestSupport.makeTemporaryDirectory("lgpt-models")
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(MiniLMEmbedder.locate(environment: ["LOCALGPT_MODELS_DIR": root]) == nil)
        #expect(try MiniLMEmbedder.loadInstalled(modelsDirectory: root) == nil)
        // The notice names the script that installs the model (scripts/setup.sh runs it, but also
        // installs system packages), and the folder it is to install into, which is not the
        // script's own choice here.
        let notice = MiniLMEmbedder.notInstalledNotice(modelsDirectory: root)
        #expect(notice.contains(root + "/all-MiniLM-L6-v2"))
        #expect(notice.contains("(install it with LOCALGPT_MODELS_DIR=\(root) scripts/install-models.sh)"), "\(notice)")
        let standard = LocalGPTPaths.modelsDirectory(environment: ProcessInfo.processInfo.environment)
        #expect(MiniLMEmbedder.installCommand(modelsDirectory: standard) == "scripts/install-models.sh")
        #expect(
            MiniLMEmbedder.installCommand(modelsDirectory: "/srv/my models/it's")
                == "LOCALGPT_MODELS_DIR='/srv/my models/it'\\''s' scripts/install-models.sh"
        )

        let dir = root + "/all-MiniLM-L6-v2"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: dir + "/model.safetensors",
            withDestinationPath: installed + "/model.safetensors"
        )
        #expect(MiniLMEmbedder.locate(environment: ["LOCALGPT_MODELS_DIR": root]) == nil)  // vocab.txt missing
        let noVocab = #expect(throws: EmbeddingError.self) { try MiniLMEmbedder(directory: dir) }
        #expect(noVocab?.code == .notInstalled)
        #expect(noVocab?.message.contains("vocab.txt") == true)
        #expect(noVocab?.message.contains("LOCALGPT_MODELS_DIR=\(root) scripts/install-models.sh") == true)

        try FileManager.default.createSymbolicLink(
            atPath: dir + "/vocab.txt",
            withDestinationPath: installed + "/vocab.txt"
        )
        #expect(MiniLMEmbedder.locate(environment: ["LOCALGPT_MODELS_DIR": root]) == dir)
        // No set-up stamp here: the files are hashed, and they are the pinned ones.
        let loaded = try #require(try MiniLMEmbedder.loadInstalled(modelsDirectory: root))
        #expect(loaded.directory == dir)
    }

    /// A text with no word piece the model knows (emoji, a 20,000-letter word, characters outside
    /// the vocabulary) got a vector all such texts share: an emoji query matched a chunk of one
    /// unknown word at 1.000. The memory stores the zero vector for such texts (the embedder
    /// itself still matches the reference), and a search says it is keyword-only.
    @Test func textsOfUnknownPiecesGetTheZeroVector() throws {
        let embedder = try EmbedderTestSupport.embedder()
        let texts = ["😀🎉", String(repeating: "x", count: 20_000), "", "\u{E000}", "The cat sits.", "[MASK] 😀"]
        #expect(texts.map { embedder.knowsAWord(in: $0) } == [false, false, false, false, true, true])
        let vectors = try MemoryIndex.embed(texts, embedder: embedder)
        #expect(vectors.map { $0.contains { $0 != 0 } } == [false, false, false, false, true, true])
        #expect(vectors[4] == (try embedder.embed(["The cat sits."]))[0])

        let t = TestMemory()
        try t.write("long.md", "# Word\n\n" + String(repeating: "x", count: 20_000) + "\n")
        try t.write("tea.md", "Green tea in the morning.\n")
        let memory = try t.open(embedder: embedder)
        let r = try memory.search("😀🎉")
        #expect(r.mode == .hybrid, "without a query vector: ranked by keywords")
        #expect(r.notice?.contains("knows no word of the query") == true, "\(r.notice ?? "")")
        #expect(!r.results.contains { $0.file == "long.md" })
    }

    /// The reviewer's case: a sentence at the end of a 2,000-byte paragraph line scored like a
    /// note without it (0.06) in vector search; cut into windows, it is found.
    @Test func theEndOfALongLineIsFoundByMeaning() throws {
        let embedder = try EmbedderTestSupport.embedder()
        let t = TestMemory()
        let filler = String(
            repeating: "Today was a long day at the office. We discussed the quarterly roadmap, the hiring plan "
                + "for the design team, the budget for the conference in the autumn, and the new coffee machine. ",
            count: 12
        )
        try t.write("diary.md", "# Diary\n\n" + filler + "Before leaving I hid my passport in the blue metal box.\n")
        try t.write("work.md", "# Work\n\n" + filler + "\n")
        let memory = try t.open(embedder: embedder)
        try memory.reindex()
        let hits = try memory.search("where is my travel document stored", limit: 5, mode: .vector).results
        #expect(hits.first?.file == "diary.md", "\(hits.map { ($0.file, $0.score) })")
        #expect(
            (hits.first?.score ?? 0) > (hits.dropFirst().first?.score ?? 0) + 0.1,
            "\(hits.map { ($0.file, $0.score) })"
        )
    }

    /// Weights or a vocabulary other than the pinned ones (damaged, replaced, a different
    /// release) loaded without a word, and their vectors were stored under this model's name,
    /// mixed with right ones for good. They are refused, naming the file.
    @Test func filesOtherThanThePinnedOnesAreRefused() throws {
        let installed = try EmbedderTestSupport.modelDirectory()
        let root = TestSupport.makeTemporaryDirectory("lgpt-models")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/all-MiniLM-L6-v2"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: dir + "/model.safetensors",
            withDestinationPath: installed + "/model.safetensors"
        )
        var vocabulary = try Data(contentsOf: URL(fileURLWithPath: installed + "/vocab.txt"))
        vocabulary[vocabulary.count - 2] ^= 0x01
        try vocabulary.write(to: URL(fileURLWithPath: dir + "/vocab.txt"))
        // A stamp that claims the altered file is the verified one does not make it so.
        let st = try #require(try? FileManager.default.attributesOfItem(atPath: dir + "/vocab.txt"))
        let size = (st[.size] as? NSNumber)?.intValue ?? 0
        try "vocab.txt 07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3 \(size) 0.000000000\n"
            .write(toFile: dir + "/.verified", atomically: true, encoding: .utf8)
        let error = #expect(throws: EmbeddingError.self) { try MiniLMEmbedder.loadInstalled(modelsDirectory: root) }
        #expect(error?.code == .invalidModel)
        #expect(error?.message.contains(dir + "/vocab.txt is not the verified all-MiniLM-L6-v2 file") == true)
        #expect(error?.message.contains("scripts/install-models.sh") == true)
    }

    /// The pins in the code are the set-up script's.
    @Test func thePinsAreTheSetUpScripts() throws {
        let script = try String(
            contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
                + "/../../scripts/install-models.sh",
            encoding: .utf8
        )
        for (file, sha) in MiniLMEmbedder.pinnedSHA256 { #expect(script.contains("[\(file)]=\(sha)")) }
    }
}

/// Broken weight files: each is a clear `EmbeddingError`, never a crash. These use a tiny vocabulary, so they
/// run without the installed model.
@Suite struct EmbedderCorruptModelTests {
    /// A safetensors file: header JSON (padded to 8 bytes), then `dataSize` bytes of zeros.
    static func safetensors(header: String, dataSize: Int) -> Data {
        var json = Array(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: json)
        data.append(Data(count: dataSize))
        return data
    }

    static func tensor(_ name: String, _ dtype: String, _ shape: [Int], at offset: inout Int, size: Int = 4) -> String {
        let bytes = shape.reduce(1, *) * size
        defer { offset += bytes }
        return "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + bytes)]}"
    }

    /// Loads `model` (bytes) with a tiny vocabulary and returns the error.
    static func loadError(_ model: Data, sourceLocation: SourceLocation = #_sourceLocation) throws -> EmbeddingError? {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n".utf8).write(to: URL(fileURLWithPath: dir + "/vocab.txt"))
        try model.write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        return #expect(throws: EmbeddingError.self, sourceLocation: sourceLocation) {
            try MiniLMEmbedder(directory: dir)
        }
    }

    @Test func emptyFile() throws {
        let error = try Self.loadError(Data())
        #expect(error?.code == .invalidModel)
        #expect(error?.message.contains("too short") == true)
    }

    @Test func notSafetensors() throws {
        let error = try Self.loadError(Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }))
        #expect(error?.code == .invalidModel)
        #expect(error?.message.contains("not a safetensors file or is truncated") == true)
    }

    @Test func truncatedRealModel() throws {
        let installed = try EmbedderTestSupport.modelDirectory()
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: installed + "/model.safetensors"))
        defer { try? handle.close() }
        let head = try #require(try handle.read(upToCount: 3_000_000))
        let error = try Self.loadError(head)
        #expect(error?.code == .invalidModel)
        #expect(error?.message.contains("truncated") == true, "\(error?.message ?? "")")

        let headerOnly = try Self.loadError(head.prefix(5000))  // cut inside the JSON header
        #expect(headerOnly?.code == .invalidModel)
        #expect(headerOnly?.message.contains("truncated") == true)
    }

    @Test func malformedHeader() throws {
        for header in [
            "{\"a\":", "[1,2]", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "{\"x\":{}}",
        ] {
            let error = try Self.loadError(Self.safetensors(header: header, dataSize: 64))
            #expect(error?.code == .invalidModel, "\(header)")
            #expect(error?.message.contains("header") == true, "\(header): \(error?.message ?? "")")
        }
        var offset = 0
        let mismatch = Self.tensor("x", "F32", [3, 3], at: &offset)
        let error = try Self.loadError(Self.safetensors(header: "{\(mismatch)}", dataSize: 8))
        #expect(error?.message.contains("outside the data section") == true)
    }

    @Test func missingTensors() throws {
        var offset = 0
        let header =
            "{\"__metadata__\":{\"format\":\"pt\"}," + Self.tensor("pooler.dense.bias", "F32", [4], at: &offset) + "}"
        let error = try Self.loadError(Self.safetensors(header: header, dataSize: offset))
        #expect(error?.code == .invalidModel)
        #expect(error?.message.contains("no tensor 'embeddings.word_embeddings.weight'") == true)
    }

    @Test func wrongDtypeAndShape() throws {
        var offset = 0
        let f16 = Self.tensor("embeddings.word_embeddings.weight", "F16", [5, 8], at: &offset, size: 2)
        let dtype = try Self.loadError(Self.safetensors(header: "{\(f16)}", dataSize: offset))
        #expect(dtype?.message.contains("only F32") == true)

        offset = 0
        let word = Self.tensor("embeddings.word_embeddings.weight", "F32", [5, 24], at: &offset)
        let position = Self.tensor("embeddings.position_embeddings.weight", "F32", [16, 12], at: &offset)
        let shape = try Self.loadError(Self.safetensors(header: "{\(word),\(position)}", dataSize: offset))
        #expect(shape?.code == .invalidModel)
        #expect(shape?.message.contains("has shape [16, 12], expected [-1, 24]") == true, "\(shape?.message ?? "")")
    }

    @Test func missingModelDirectory() throws {
        let error = #expect(throws: EmbeddingError.self) { try MiniLMEmbedder(directory: "/nonexistent/lgpt-model") }
        #expect(error?.code == .notInstalled)
        #expect(error?.message.contains("scripts/install-models.sh") == true)
    }
}
