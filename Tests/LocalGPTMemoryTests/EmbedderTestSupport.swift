//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTMemory
import Testing

/// The installed embedding model and the committed fixtures, shared by the embedder and tokenizer tests.
///
/// The model is installed by `make test` (scripts/setup.sh runs first), so these tests require it: when it
/// is missing they fail with a message saying how to install it rather than being skipped.
enum EmbedderTestSupport {
    static let missingModelMessage: Comment =
        "the embedding model is not installed: run scripts/setup.sh (or scripts/install-models.sh)"

    static let fixturesDirectory: String =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
        + "/Fixtures"

    /// The installed model directory, or a recorded failure.
    static func modelDirectory(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(MiniLMEmbedder.locate(), missingModelMessage, sourceLocation: sourceLocation)
    }

    private static let loaded: Result<MiniLMEmbedder, any Error>? = {
        guard let directory = MiniLMEmbedder.locate() else { return nil }
        return Result { try MiniLMEmbedder(directory: directory) }
    }()

    /// One embedder for the whole run (loading is cheap, but sharing it also exercises concurrent use).
    static func embedder(sourceLocation: SourceLocation = #_sourceLocation) throws -> MiniLMEmbedder {
        let result = try #require(loaded, missingModelMessage, sourceLocation: sourceLocation)
        return try result.get()
    }

    static func tokenizer(sourceLocation: SourceLocation = #_sourceLocation) throws -> BertTokenizer {
        try embedder(sourceLocation: sourceLocation).tokenizer
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0
        var na = 0.0
        var nb = 0.0
        for i in a.indices {
            dot += Double(a[i]) * Double(b[i])
            na += Double(a[i]) * Double(a[i])
            nb += Double(b[i]) * Double(b[i])
        }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    static func norm(_ a: [Float]) -> Double {
        a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    static func decodeFixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixturesDirectory + "/" + name))
        return try JSONDecoder().decode(T.self, from: data)
    }
}
