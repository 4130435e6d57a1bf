//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTMemory
import LocalGPTTesting
import Synchronization
import Testing

@Suite(.serialized) struct WatcherTests {
    /// Collects the watcher's batches.
    final class Batches: Sendable {
        private let state = Mutex<[[String]]>([])
        private let signal = DispatchSemaphore(value: 0)

        func add(_ paths: [String]) {
            state.withLock { $0.append(paths) }
            signal.signal()
        }

        /// Waits until the paths seen so far include every one of `expected` (or times out).
        func wait(for expected: Set<String>, timeout: Double = 10) -> Set<String> {
            let deadline = Date().addingTimeInterval(timeout)
            while true {
                let seen = Set(state.withLock { $0.flatMap { $0 } })
                if expected.isSubset(of: seen) || Date() > deadline { return seen }
                _ = signal.wait(timeout: .now() + 0.2)
            }
        }

        var count: Int { state.withLock { $0.count } }
    }

    @Test func everyFileOfABurstIsIndexed() throws {
        let t = TestMemory()
        try t.write("memory/old.md", "an older note\n")
        let memory = try t.open()
        try memory.reindex()
        let batches = Batches()
        let watcher = memory.makeWatcher(debounce: .milliseconds(150)) { _, paths in batches.add(paths) }
        try watcher.start()
        defer { watcher.stop() }

        let names = ["memory/a.md", "memory/b.md", "knowledge/c.md", "MEMORY.md"]
        for (i, name) in names.enumerated() { try t.write(name, "burst file number \(i) mentions walrus\(i)\n") }
        let seen = batches.wait(for: Set(names.map { t.workspace + "/" + $0 }))
        #expect(seen == Set(names.map { t.workspace + "/" + $0 }))
        for i in names.indices {
            let r = try memory.search("walrus\(i)", mode: .keyword, refresh: false)
            #expect(r.results.first?.file == names[i])
        }
        try t.write("notes.txt", "not markdown\n")
        try t.write(".hidden/x.md", "hidden\n")
        Thread.sleep(forTimeInterval: 0.4)
        #expect(!Set(batches.wait(for: [], timeout: 0)).contains(t.workspace + "/notes.txt"))
    }

    @Test func deletionsAndNewFoldersAreHandled() throws {
        let t = TestMemory()
        try t.write("memory/gone.md", "the platypus note\n")
        let memory = try t.open()
        try memory.reindex()
        let batches = Batches()
        let watcher = memory.makeWatcher(debounce: .milliseconds(150)) { _, paths in batches.add(paths) }
        try watcher.start()
        defer { watcher.stop() }

        try t.remove("memory/gone.md")
        _ = batches.wait(for: [t.workspace + "/memory/gone.md"])
        #expect(try memory.search("platypus", mode: .keyword, refresh: false).results.isEmpty)

        try FileManager.default.createDirectory(
            atPath: t.workspace + "/projects/2024",
            withIntermediateDirectories: true
        )
        Thread.sleep(forTimeInterval: 0.05)
        try t.write("projects/2024/plan.md", "the narwhal plan\n")
        _ = batches.wait(for: [t.workspace + "/projects/2024/plan.md"])
        #expect(
            try memory.search("narwhal", mode: .keyword, refresh: false).results.first?.file == "projects/2024/plan.md"
        )

        // A folder removed as a whole drops its files.
        try FileManager.default.removeItem(atPath: t.workspace + "/projects")
        _ = batches.wait(for: [t.workspace + "/projects"])
        #expect(try memory.search("narwhal", mode: .keyword, refresh: false).results.isEmpty)
    }

    /// A root deleted while watched (a folder removed and made again, a drive unmounted and
    /// mounted) or missing at the start was never watched again: its changes were lost until a
    /// restart. It is tried again every 2 s, reported when back (the receiver rescans it), and
    /// its files are watched from then on.
    @Test func aRootThatComesBackIsWatchedAgain() throws {
        let base = TestSupport.makeTemporaryDirectory("lgpt-roots")
        let root = base + "/extra"
        let late = base + "/late"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let batches = Batches()
        let watcher = MemoryWatcher(roots: [root, late], debounce: .milliseconds(100)) { batches.add($0) }
        try watcher.start()
        defer { watcher.stop() }

        try FileManager.default.removeItem(atPath: root)
        #expect(batches.wait(for: [root]).contains(root), "a deleted root is reported")
        let before = batches.count
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: late, withIntermediateDirectories: true)
        let deadline = Date().addingTimeInterval(10)
        while batches.count == before && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        Thread.sleep(forTimeInterval: 0.3)  // both roots are retried in the same pass
        try "the heron\n".write(toFile: root + "/s.md", atomically: false, encoding: .utf8)
        try "the egret\n".write(toFile: late + "/t.md", atomically: false, encoding: .utf8)
        let seen = batches.wait(for: [root + "/s.md", late + "/t.md"])
        #expect(seen.isSuperset(of: [late, root + "/s.md", late + "/t.md"]), "\(seen)")
    }

    /// When the kernel's event queue overflows, the events lost include folder creations: the
    /// trees are watched again, so a folder made during the overflow is watched afterwards (it
    /// was not, and its later changes were lost).
    @Test func aFolderMadeDuringAnOverflowIsWatchedAfterIt() throws {
        let root = TestSupport.makeTemporaryDirectory("lgpt-overflow")
        try FileManager.default.createDirectory(atPath: root + "/bulk", withIntermediateDirectories: true)
        let batches = Batches()
        let gate = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let first = Atomic<Bool>(true)
        let watcher = MemoryWatcher(roots: [root], debounce: .milliseconds(100)) { paths in
            // The first batch holds the watcher's thread while the queue overflows.
            if first.exchange(false, ordering: .relaxed) {
                entered.signal()
                _ = gate.wait(timeout: .now() + 60)
            }
            batches.add(paths)
        }
        try watcher.start()
        defer { watcher.stop() }
        try "start\n".write(toFile: root + "/a.md", atomically: false, encoding: .utf8)
        #expect(entered.wait(timeout: .now() + 10) == .success, "the first batch is delivered, and held")
        // More events than /proc/sys/fs/inotify/max_queued_events (16,384 by default).
        let limit =
            (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16_384
        for i in 0..<(limit + 100) {
            #expect(FileManager.default.createFile(atPath: root + "/bulk/f\(i).txt", contents: nil))
        }
        // The queue is full: this folder's creation is among the events lost.
        try FileManager.default.createDirectory(atPath: root + "/late", withIntermediateDirectories: true)
        gate.signal()
        #expect(batches.wait(for: [root]).contains(root), "the overflow asks for a rescan")
        try "after\n".write(toFile: root + "/late/x.md", atomically: false, encoding: .utf8)
        #expect(batches.wait(for: [root + "/late/x.md"]).contains(root + "/late/x.md"))
    }

    @Test func stopIsPromptAndIdempotent() throws {
        let t = TestMemory()
        let memory = try t.open()
        let watcher = memory.makeWatcher()
        try watcher.start()
        try watcher.start()
        #expect(watcher.isRunning)
        let started = Date()
        watcher.stop()
        watcher.stop()
        #expect(!watcher.isRunning)
        #expect(Date().timeIntervalSince(started) < 1)
    }
}
