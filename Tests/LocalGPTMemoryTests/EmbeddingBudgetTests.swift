//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Synchronization
import Testing

@testable import LocalGPTMemory

/// A single long line (a paragraph written as one line, a dump) made `memory search` hang for
/// minutes and kept no vector: the line was one chunk of thousands of windows, computed in one call
/// whatever the search's budget, identical windows each computed, and nothing saved before the
/// whole batch was done, so every search did the same work again. Now a chunk is at most
/// `maxWindows` windows, the budget counts windows, identical windows are computed once, and each
/// call's vectors are cached at once.
@Suite struct EmbeddingBudgetTests {
    /// TEST DOUBLE: the trigram embedder, recording every text it embeds; it fails (as an
    /// interrupted run stops) once more than `failAfter` texts would have been embedded.
    final class RecordingEmbedder: TextEmbedder {
        struct Interrupted: Error {}
        let modelID = "test-trigram-384"
        let dimensions = 384
        let failAfter: Int
        private let recorded = Mutex<[String]>([])

        init(failAfter: Int = .max) { self.failAfter = failAfter }

        var texts: [String] { recorded.withLock { $0 } }

        func embed(_ batch: [String]) throws -> [[Float]] {
            try recorded.withLock { texts in
                if texts.count + batch.count > failAfter { throw Interrupted() }
                texts += batch
            }
            return batch.map(TrigramTestEmbedder.vector)
        }
    }

    /// One line of `count` distinct made-up words (~9 bytes each).
    static func uniqueLine(_ count: Int, seed: UInt64) -> String {
        var state = seed
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        var words: [String] = []
        for i in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var w = ""
            for k in 0..<5 { w.append(letters[Int((state >> (20 + 5 * UInt64(k))) % 26)]) }
            words.append(w + String(i))
        }
        return words.joined(separator: " ")
    }

    /// The windows of `text` under the default plan, each once.
    static func distinctWindows(_ text: String) -> Set<String> {
        Set(EmbeddingPlan().windows(for: text))
    }

    @Test func aLongLineIsEmbeddedAsAtMostMaxWindowsFromItsBeginning() {
        let line = Self.uniqueLine(20_000, seed: 1)  // ~200 KB: ~500 windows of 400 bytes
        let plan = EmbeddingPlan()
        let windows = plan.windows(for: line)
        #expect(windows.count == EmbeddingPlan.defaultMaxWindows)
        #expect(windows.allSatisfy { $0.utf8.count <= plan.windowBytes })
        // The windows are the line's first bytes, in order.
        #expect(line.hasPrefix(windows.joined()))
        #expect(windows.joined().utf8.count > plan.embeddedBytes - 2 * plan.windowBytes)
        // A chunk of the default size is far from the cap.
        let chunk = String(repeating: "a short line of a normal note\n", count: 53)
        #expect(plan.windows(for: chunk).count < 9)
        // The cap is part of the identity: an index of the old plan is rebuilt.
        #expect(plan.identity != EmbeddingPlan(maxWindows: 64).identity)
        // Never inside a character.
        let wide = String(repeating: "猫", count: 10_000)
        #expect(wide.hasPrefix(EmbeddingPlan().windows(for: wide).joined()))
    }

    @Test func aSearchComputesAtMostItsBudgetOfWindows() throws {
        let t = TestMemory()
        try t.write("long.md", Self.uniqueLine(20_000, seed: 2) + "\n")
        try t.write("small.md", "tapir note\n")
        try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
        let embedder = RecordingEmbedder()
        let config = MemoryConfiguration(workspace: t.workspace, indexPath: t.indexPath, searchEmbedBudget: 8)
        let memory = try MemoryManager(configuration: config, embedder: embedder, bootstrap: false)
        let r = try memory.search("tapir", limit: 1)
        #expect(r.results.first?.file == "small.md")
        // 8 windows and the query.
        #expect(embedder.texts.count <= 8 + 1, "\(embedder.texts.count)")
    }

    /// Successive searches go on from where the last one stopped: no window is computed twice,
    /// and the long line's chunk gets its vectors once all its windows are in the cache.
    @Test func searchesNeverComputeAWindowTwice() throws {
        let t = TestMemory()
        let line = Self.uniqueLine(20_000, seed: 3)
        try t.write("long.md", line + "\n")
        try t.write("small.md", "tapir note\n")
        try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
        let embedder = RecordingEmbedder()
        let config = MemoryConfiguration(workspace: t.workspace, indexPath: t.indexPath, searchEmbedBudget: 5)
        let memory = try MemoryManager(configuration: config, embedder: embedder, bootstrap: false)
        var searches = 0
        repeat {
            _ = try memory.search("tapir", limit: 1, mode: .keyword)  // no query vector
            searches += 1
        } while try memory.index.pendingEmbeddingCount(model: embedder.modelID) > 0 && searches < 20
        #expect(try memory.index.pendingEmbeddingCount(model: embedder.modelID) == 0)
        let windows = Self.distinctWindows(line).union(["tapir note"])
        #expect(searches >= windows.count / 5, "the budget held")
        #expect(embedder.texts.count == Set(embedder.texts).count, "a window computed twice")
        #expect(Set(embedder.texts) == windows)
    }

    /// Identical windows, in one line or in two files, are computed once.
    @Test func identicalWindowsAreComputedOnce() throws {
        let t = TestMemory()
        // The auditor's file, a tenth of it: 30,000 times "ocelot." on one line.
        try t.write("longsent.md", Array(repeating: "ocelot.", count: 30_000).joined(separator: " ") + "\n")
        try t.write("a.md", "The tapir sleeps by the river.\n")
        try t.write("b.md", "The tapir sleeps by the river.\n")
        let embedder = RecordingEmbedder()
        let memory = try t.open(embedder: embedder)
        try memory.reindex(embedLimit: 0)  // rows first, vectors by embedPending, as after a search
        let report = try memory.reindex()
        #expect(report.pendingEmbeddings == 0)
        // One window of the long line (50 "ocelot." and the last, shorter one at most), one of
        // the two notes.
        #expect(embedder.texts.count == 2, "\(embedder.texts.count)")
        #expect(embedder.texts.count == Set(embedder.texts).count)
        #expect(try memory.search("tapir river", mode: .vector).results.count >= 2)
    }

    /// Ctrl-C during `memory reindex` said "the vectors computed so far are kept" while the cache
    /// held none: a batch was saved only when all of it was computed. Each call's vectors are now
    /// in the cache when it returns, and the next run takes them there.
    @Test func vectorsComputedBeforeAnInterruptionAreKept() throws {
        let t = TestMemory()
        var all = Set<String>()
        for i in 0..<4 {
            let line = Self.uniqueLine(10_000, seed: 10 + UInt64(i))
            all.formUnion(Self.distinctWindows(line))
            try t.write("long\(i).md", line + "\n")
        }
        #expect(all.count == 4 * EmbeddingPlan.defaultMaxWindows)
        let batch = MemoryIndex.embedBatchSize
        let interrupted = RecordingEmbedder(failAfter: 2 * batch)
        let first = try t.open(embedder: interrupted)
        try first.reindex(embedLimit: 0)
        #expect(throws: MemoryError.self) { try first.reindex() }
        #expect(interrupted.texts.count == 2 * batch)
        #expect(try first.index.stats().cachedEmbeddings == 2 * batch, "kept in the cache")

        let embedder = RecordingEmbedder()
        let second = try t.open(embedder: embedder)
        let report = try second.reindex()
        #expect(report.pendingEmbeddings == 0)
        #expect(report.embeddingsComputed == all.count - 2 * batch)
        #expect(Set(embedder.texts).isDisjoint(with: interrupted.texts), "nothing computed again")
        #expect(Set(embedder.texts).union(interrupted.texts) == all)
    }

    /// The keyword index still covers the whole line, past the windows that are embedded.
    @Test func theEndOfALongLineIsFoundByKeywords() throws {
        let t = TestMemory()
        let line = Self.uniqueLine(20_000, seed: 4) + " the quokka hides at the very end"
        try t.write("long.md", line + "\n")
        let memory = try t.open(embedder: RecordingEmbedder())
        let report = try memory.reindex()
        #expect(report.embeddingsComputed == EmbeddingPlan.defaultMaxWindows)
        // A centroid and 32 windows.
        #expect(try memory.index.stats().vectors == 1 + EmbeddingPlan.defaultMaxWindows)
        #expect(try memory.search("quokka").results.first?.file == "long.md")
    }
}
