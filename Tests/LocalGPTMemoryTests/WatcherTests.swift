//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTMemory
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
