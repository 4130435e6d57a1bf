//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTMemory
import LocalGPTTesting
import Synchronization

/// TEST DOUBLE, not a model: a deterministic `TextEmbedder` that hashes character trigrams of the
/// lower-cased text into 384 buckets and L2-normalises the counts. Texts sharing many trigrams get
/// close vectors, so the vector and hybrid mechanics (storage, cache, fusion, identity) can be
/// tested without the real model. Quality checks use the real MiniLM model instead.
final class TrigramTestEmbedder: TextEmbedder {
    let modelID: String
    let dimensions = 384
    private let calls = Mutex(0)
    private let texts = Mutex(0)

    init(modelID: String = "test-trigram-384") {
        self.modelID = modelID
    }

    /// How many times `embed` was called, and how many texts it embedded.
    var callCount: Int { calls.withLock { $0 } }
    var textCount: Int { texts.withLock { $0 } }

    func embed(_ batch: [String]) throws -> [[Float]] {
        calls.withLock { $0 += 1 }
        texts.withLock { $0 += batch.count }
        return batch.map(Self.vector)
    }

    static func vector(_ text: String) -> [Float] {
        var v = [Float](repeating: 0, count: 384)
        let scalars = Array(" \(text.lowercased()) ".unicodeScalars)
        if scalars.count >= 3 {
            for i in 0..<(scalars.count - 2) {
                var h: UInt64 = 1_469_598_103_934_665_603
                for s in scalars[i..<(i + 3)] {
                    h = (h ^ UInt64(s.value)) &* 1_099_511_628_211
                }
                v[Int(h % 384)] += 1
            }
        }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }
}

/// A temporary workspace with its own index.
struct TestMemory {
    let root = TestSupport.makeTemporaryDirectory("lgpt-mem")
    var workspace: String { root + "/workspace" }
    var indexPath: String { root + "/index/main.sqlite" }

    func configuration(
        chunker: Chunker = Chunker(),
        plan: EmbeddingPlan = EmbeddingPlan(),
        maxFileBytes: Int = 16 << 20
    ) -> MemoryConfiguration {
        MemoryConfiguration(
            workspace: workspace,
            indexPath: indexPath,
            chunker: chunker,
            embeddingPlan: plan,
            maxFileBytes: maxFileBytes
        )
    }

    func open(
        embedder: (any TextEmbedder)? = nil,
        chunker: Chunker = Chunker(),
        plan: EmbeddingPlan = EmbeddingPlan(),
        bootstrap: Bool = false,
        maxFileBytes: Int = 16 << 20
    ) throws -> MemoryManager {
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        return try MemoryManager(
            configuration: configuration(chunker: chunker, plan: plan, maxFileBytes: maxFileBytes),
            embedder: embedder,
            bootstrap: bootstrap
        )
    }

    /// Writes a workspace file (creating folders).
    func write(_ relative: String, _ text: String) throws {
        try write(relative, Data(text.utf8))
    }

    func write(_ relative: String, _ data: Data) throws {
        let path = workspace + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try data.write(to: URL(fileURLWithPath: path))
    }

    func remove(_ relative: String) throws {
        try FileManager.default.removeItem(atPath: workspace + "/" + relative)
    }

    /// A diary-like file of `lines` lines about numbered topics.
    static func diary(_ name: String, lines: Int, topic: String = "garden") -> String {
        var out = "# \(name)\n\n"
        for i in 1...lines {
            out += "- [\(i)] Today I worked on the \(topic) project, step \(i), and wrote notes about item\(i)x.\n"
        }
        return out
    }
}
