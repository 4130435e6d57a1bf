//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Foundation
import LocalGPTMemory
import Synchronization
import Testing

/// TEST DOUBLE: the trigram embedder (same model id, so its vectors serve the other manager) whose
/// first call holds until ``release()`` (or 20 s), so a test can act while it computes.
final class GatedEmbedder: TextEmbedder {
    let modelID = TrigramTestEmbedder().modelID
    let dimensions = 384
    private let entered = DispatchSemaphore(value: 0)
    private let gate = DispatchSemaphore(value: 0)
    private let calls = Mutex(0)

    func embed(_ batch: [String]) throws -> [[Float]] {
        let first = calls.withLock {
            $0 += 1
            return $0 == 1
        }
        if first {
            entered.signal()
            // Bounded, so that a regression (the other side waiting for this one) fails the test
            // after 20 s instead of hanging the run.
            _ = gate.wait(timeout: .now() + 20)
        }
        return batch.map(TrigramTestEmbedder.vector)
    }

    /// Waits (at most 30 s) until the first call is inside `embed`.
    func waitUntilEmbedding() -> Bool { entered.wait(timeout: .now() + 30) == .success }

    func release() { gate.signal() }
}

/// Two managers on one index stand for two processes (the daemon and a CLI command): the lock is
/// an `flock` on a file, which two open files of one process contend for like two processes.
@Suite struct EmbeddingLockTests {
    static func workspace() throws -> TestMemory {
        let t = TestMemory()
        for i in 0..<12 { try t.write("memory/2024-02-\(i + 10).md", TestMemory.diary("day \(i)", lines: 30)) }
        try t.write("knowledge/trips.md", "# Trips\n\nKyoto in April: temples, tea houses, the philosopher's path.\n")
        return t
    }

    /// A "daemon" manager reindexing the workspace on another thread, held inside its embedder,
    /// and a second manager on the same index with a counting embedder.
    static func daemonEmbedding(
        _ t: TestMemory
    ) throws -> (gated: GatedEmbedder, finished: DispatchSemaphore, other: MemoryManager, cli: TrigramTestEmbedder) {
        let gated = GatedEmbedder()
        let daemon = try t.open(embedder: gated)
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = try? daemon.reindex()
            finished.signal()
        }
        #expect(gated.waitUntilEmbedding())
        let cli = TrigramTestEmbedder()
        return (gated, finished, try t.open(embedder: cli), cli)
    }

    @Test func aSearchDoesNotComputeVectorsAnotherProcessIsComputing() throws {
        let t = try Self.workspace()
        let (gated, finished, other, cli) = try Self.daemonEmbedding(t)
        let r = try other.search("Kyoto temples")
        #expect(cli.textCount == 1, "only the query was embedded")
        #expect(r.notice?.contains("have no vectors yet") == true, "\(r.notice ?? "")")
        #expect(r.results.first?.file == "knowledge/trips.md", "it answers with what is indexed")
        gated.release()
        #expect(finished.wait(timeout: .now() + 60) == .success)
        let after = try other.reindex()
        #expect(after.embeddingsComputed == 0)
        #expect(after.pendingEmbeddings == 0)
    }

    @Test func aFullReindexWaitsForTheOtherProcessThenHasNothingLeft() throws {
        let t = try Self.workspace()
        let (gated, daemonDone, other, cli) = try Self.daemonEmbedding(t)
        let report = Mutex<ReindexReport?>(nil)
        let otherDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let r = try? other.reindex()
            report.withLock { $0 = r }
            otherDone.signal()
        }
        // (A wait that succeeds takes the signal: wait a second time only after a timeout.)
        let finishedEarly = otherDone.wait(timeout: .now() + 0.5) == .success
        #expect(!finishedEarly, "it waits while the other computes")
        gated.release()
        #expect(daemonDone.wait(timeout: .now() + 60) == .success)
        if !finishedEarly { #expect(otherDone.wait(timeout: .now() + 60) == .success) }
        let r = try #require(report.withLock { $0 })
        #expect(r.embeddingsComputed == 0)
        #expect(r.pendingEmbeddings == 0)
        #expect(cli.textCount == 0)
    }
}
