//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Foundation
import GRDB
import Glibc
import LocalGPTCore
import Synchronization
import Testing

@testable import LocalGPTMemory

/// What two processes, a damaged file or odd file names do to the index. Two processes are two
/// `MemoryManager`s (each with its own connections), as two commands at once would be.
@Suite struct IndexRobustnessTests {
    /// The second writer commits the new files while the first is reading them (after the first
    /// took its snapshot of the file list, before its write): the first must replace those rows,
    /// not add a second copy of every chunk.
    @Test func twoWritersNeverDuplicateChunks() throws {
        let t = TestMemory()
        try t.write("a.md", "first note\n")
        let first = try t.open()
        let second = try t.open()
        try first.reindex()
        // Enough files that the reading phase reports progress (every 512 files) before writing.
        for i in 0..<600 { try t.write("n\(i).md", "note \(i) about walnuts\n") }
        let ranSecond = Mutex(false)
        let secondFailure = Mutex<String?>(nil)
        let report = try first.reindex { progress in
            guard progress.phase == .reading, !ranSecond.withLock({ $0 }) else { return }
            ranSecond.withLock { $0 = true }
            do { try second.reindex() } catch { secondFailure.withLock { $0 = "\(error)" } }
        }
        #expect(ranSecond.withLock { $0 })
        #expect(secondFailure.withLock { $0 } == nil)
        #expect(report.filesUpdated == 600)
        let stats = try first.index.stats()
        #expect(stats.files == 601)
        #expect(stats.chunks == 601)
        let hits = try first.search("note 17 walnuts", limit: 3, mode: .keyword, refresh: false).results
        #expect(hits.filter { $0.file == "n17.md" }.count == 1)
    }

    /// A search reads its keyword hits, vectors and chunk rows in one snapshot. When each stage
    /// opened its own read, a file rewritten by another process between them left hits whose rows
    /// were gone, and the search returned fewer results than the index holds.
    @Test func searchesReadOneSnapshotWhileAnotherProcessRewritesFiles() throws {
        let t = TestMemory()
        let embedder = TrigramTestEmbedder()
        let files = 24
        // Half the files hold the word searched for (a word in most chunks would rank nothing).
        @Sendable func text(_ i: Int, _ round: Int) -> String {
            i % 2 == 0 ? "walnut note \(i), round \(round)\n" : "pecan memo \(i), round \(round)\n"
        }
        for i in 0..<files { try t.write("n\(i).md", text(i, 0)) }
        let reader = try t.open(embedder: embedder)
        let writer = try t.open(embedder: embedder)
        try writer.reindex()
        let stop = Atomic(false)
        let rounds = Atomic(0)
        let writerFailure = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        detachThread {
            defer { done.signal() }
            var round = 1
            while !stop.load(ordering: .relaxed) {
                do {
                    // New text in every file: every chunk gets a new row (and a new id).
                    for i in 0..<files { try t.write("n\(i).md", text(i, round)) }
                    try writer.reindex()
                } catch {
                    writerFailure.withLock { $0 = "\(error)" }
                    return
                }
                rounds.add(1, ordering: .relaxed)
                round += 1
            }
        }
        var short: [Int] = []
        do {
            // The writer stops even when a search throws.
            defer {
                stop.store(true, ordering: .relaxed)
                done.wait()
            }
            for mode in [SearchMode.hybrid, .keyword] {
                for _ in 0..<150 {
                    let results = try reader.search("walnut", limit: 10, mode: mode, refresh: false).results
                    if results.count != 10 { short.append(results.count) }
                }
            }
        }
        #expect(writerFailure.withLock { $0 } == nil)
        #expect(rounds.load(ordering: .relaxed) > 0)
        #expect(short == [], "searches that lost results: \(short.count) of 300")
    }

    /// A thread that holds the last reference to a memory manager closes its index as its work
    /// returns (``detachThread(named:_:)``). A `Thread`'s closure is released later, while the
    /// exiting thread destroys its thread-specific data: closing the index there (after a write)
    /// corrupted the heap, and this test aborted the process in every run.
    @Test func aManagerLastHeldByAThreadIsClosedBeforeTheThreadExits() throws {
        let t = TestMemory()
        try t.write("a.md", "zebra crossing\n")
        for round in 0..<40 {
            let done = DispatchSemaphore(value: 0)
            do {
                let memory = try t.open()
                detachThread {
                    defer { done.signal() }
                    do {
                        try t.write("a.md", "zebra crossing, round \(round)\n")
                        try memory.reindex()
                    } catch {
                        Issue.record("round \(round): \(error)")
                    }
                }
            }
            done.wait()
        }
        #expect(try t.open().search("zebra", mode: .keyword).results.first?.snippet.contains("round 39") == true)
    }

    /// Two commands opening a new index at the same moment both created its tables ("table meta
    /// already exists"); opening is serialized by a lock beside the index.
    @Test func twoProcessesOpeningANewIndexBothSucceed() throws {
        for round in 0..<40 {
            let t = TestMemory()
            try FileManager.default.createDirectory(atPath: t.root + "/index", withIntermediateDirectories: true)
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                do {
                    let index = try MemoryIndex(path: t.indexPath, connections: round % 2 == 0 ? .single : .pool)
                    _ = try index.stats()
                } catch {
                    failures.withLock { $0.append("round \(round): \(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
        }
    }

    /// Damage in a page the opening does not read (here the root page of the chunks table) used to
    /// fail every search with "database disk image is malformed" and `reindex --force` too, for
    /// good: the file is now moved aside and the index rebuilt from the workspace.
    @Test func damageFoundInUseIsRepairedBySearchAndByReindex() throws {
        for viaSearch in [true, false] {
            let t = try Self.indexedTwoNotes()
            try Self.zeroRootPage(of: "chunks", in: t.indexPath)

            let memory = try t.open()
            if viaSearch {
                let response = try memory.search("zebra", mode: .keyword)
                #expect(response.results.map(\.file) == ["a.md"])
                #expect(response.notice?.contains("damaged") == true)
            } else {
                let report = try memory.reindex(force: true)
                #expect(report.damagedIndexReplaced)
                #expect(report.damagedIndexMovedTo?.contains(".corrupt-") == true)
                #expect(try memory.search("walnut", mode: .keyword, refresh: false).results.map(\.file) == ["b.md"])
            }
            #expect(try memory.index.stats().chunks == 2)
            let aside = try FileManager.default.contentsOfDirectory(atPath: t.root + "/index")
            #expect(aside.contains { $0.hasPrefix("main.sqlite.corrupt-") })
            // A second manager (another process) opens the new file, not the damaged one.
            #expect(try t.open().search("walnut", mode: .keyword).results.map(\.file) == ["b.md"])
        }
    }

    /// `memory stats` moved a damaged index aside without a word and counted the empty index that
    /// replaced it ("Files: 0"); it now rebuilds it from the workspace first and reports that, for
    /// damage found when opening the file and for damage found reading it.
    @Test func statsRebuildAndReportADamagedIndex() throws {
        for atOpening in [true, false] {
            let t = try Self.indexedTwoNotes()
            #expect(try t.open().stats().rebuild == nil)
            if atOpening {
                try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: t.indexPath))
            } else {
                try Self.zeroRootPage(of: "files", in: t.indexPath)
            }
            let memory = try t.open()
            let (stats, rebuild) = try memory.stats()
            #expect(stats.files == 2 && stats.chunks == 2, "at opening: \(atOpening)")
            #expect(rebuild?.damagedIndexReplaced == true, "at opening: \(atOpening)")
            #expect(rebuild?.damagedIndexMovedTo?.contains(".corrupt-") == true, "at opening: \(atOpening)")
            // Said once: the next look finds a sound index.
            #expect(try memory.stats().rebuild == nil)
            #expect(try t.open().stats().rebuild == nil)
        }
    }

    /// A workspace of two notes ("zebra" in a.md, "walnut" in b.md), indexed by a manager that is
    /// gone (its connections closed) when this returns.
    static func indexedTwoNotes() throws -> TestMemory {
        let t = TestMemory()
        try t.write("a.md", "zebra crossing at the corner\n")
        try t.write("b.md", "walnut tree in the garden\n")
        try t.open().reindex()
        return t
    }

    /// Zeroes the root page of `table` in the index file at `path`, after a checkpoint that moves
    /// every page into the file itself: a WAL still holding the table's latest root page (a
    /// manager's connections may close a moment later) would hide the damage.
    static func zeroRootPage(of table: String, in path: String) throws {
        let (root, pageSize, checkpoint) = try DatabaseQueue(path: path).inDatabase { db in
            (
                try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = ?", arguments: [table]) ?? 0,
                try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096,
                try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            )
        }
        #expect(root > 1)
        #expect(checkpoint?[0] as Int? == 0, "the checkpoint was blocked")
        #expect(FileInfo.status(path + "-wal")?.size ?? 0 == 0)
        let fd = open(path, O_WRONLY)
        #expect(fd >= 0)
        let zeros = [UInt8](repeating: 0, count: pageSize)
        #expect(pwrite(fd, zeros, pageSize, off_t((root - 1) * pageSize)) == pageSize)
        close(fd)
    }

    /// "café.md" spelled with a precomposed "é" and with "e" + U+0301 are two files; a `String`
    /// key made them one, so renaming one spelling to the other kept the old text searchable.
    @Test func fileNamesDifferingOnlyInNormalizationAreTwoFiles() throws {
        let t = TestMemory()
        let decomposed = "cafe\u{301}.md"
        let composed = "caf\u{E9}.md"
        try t.write(decomposed, "the old price is three euros\n")
        let memory = try t.open()
        try memory.reindex()
        #expect(rename(t.workspace + "/" + decomposed, t.workspace + "/" + composed) == 0)
        try t.write(composed, "the new price is five euros\n")
        let report = try memory.reindex()
        #expect(report.filesRemoved == 1)
        let hits = try memory.search("price euros", mode: .keyword, refresh: false).results
        #expect(hits.count == 1)
        #expect(hits.first?.snippet.contains("five") == true)

        // Both spellings at once: two files, and an unchanged workspace rewrites nothing.
        try t.write(decomposed, "a second file\n")
        #expect(try memory.reindex().filesUpdated == 1)
        let again = try memory.reindex()
        #expect(again.filesUpdated == 0 && again.filesUnchanged == 2)
    }

    /// A NUL byte past the binary probe ended the chunk's text where SQLite read it: the rest of
    /// the file could not be found.
    @Test func textAfterALateNULIsIndexed() throws {
        let t = TestMemory()
        var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 9000)
        bytes += Array("\nfirst nulfirst\nbefore".utf8) + [0] + Array("after\nlast nullast\n".utf8)
        try t.write("nul.md", Data(bytes))
        let memory = try t.open()
        for word in ["nulfirst", "after", "nullast"] {
            #expect(try memory.search(word, mode: .keyword).results.map(\.file) == ["nul.md"], "\(word)")
        }
    }

    /// A note replaced by a FIFO between the scan and the read made the read wait for a writer
    /// forever. A writer opens it after 10 s, so that a regression fails instead of hanging.
    @Test func readingAFIFODoesNotWait() throws {
        let t = TestMemory()
        try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
        let fifo = t.workspace + "/pipe.md"
        #expect(mkfifo(fifo, 0o600) == 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + 10) {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        let started = Date()
        let error = #expect(throws: MemoryError.self) { _ = try FileInfo.read(fifo) }
        #expect(error?.code == .notAFile)
        #expect(Date().timeIntervalSince(started) < 5, "refused without waiting for a writer")
    }

    /// Damaged weights gave NaN vectors, which were cached and stored: a NaN centroid then
    /// outranked every sound chunk in hybrid search ("score: 1.000") for good. They are refused.
    @Test func nonFiniteVectorsAreNeverStored() throws {
        final class DamagedEmbedder: TextEmbedder {
            let modelID = "test-trigram-384"
            let dimensions = 384
            func embed(_ texts: [String]) throws -> [[Float]] {
                texts.map {
                    $0.contains("chess") ? [Float](repeating: .nan, count: 384) : TrigramTestEmbedder.vector($0)
                }
            }
        }
        let t = TestMemory()
        try t.write("car.md", "The Honda needs new brake pads.\n")
        try t.write("chess.md", "I play chess on Thursday evenings at the club.\n")
        let memory = try t.open(embedder: DamagedEmbedder())
        let error = #expect(throws: MemoryError.self) { try memory.reindex() }
        #expect(error?.code == .embedding)
        #expect(error?.message.contains("NaN") == true)
        let r = try memory.search("automobile brake repairs")
        #expect(r.results.allSatisfy { $0.score.isFinite && $0.score <= 1 })
        // (No vectors at all: hybrid ranks as keyword search does, also in a two-chunk workspace
        // where every word is in half of the chunks.)
        #expect(r.results.first?.file == "car.md", "\(r.mode) \(r.notice ?? "-")")
        // A sound model later computes what is missing; nothing poisoned is in the cache.
        let sound = try t.open(embedder: TrigramTestEmbedder())
        try sound.reindex()
        #expect(try sound.search("chess Thursday club", mode: .vector).results.first?.file == "chess.md")
    }

    /// A workspace that cannot take its template files (read-only, or here a file where the
    /// `memory` folder belongs) could not be searched at all; it is searched, and the templates
    /// are left out.
    @Test func aWorkspaceThatCannotTakeTheTemplatesIsStillSearched() throws {
        let t = TestMemory()
        try t.write("notes.md", "the spare key is under the flower pot\n")
        try t.write("memory", "a file where the folder belongs\n")
        let memory = try t.open(bootstrap: true)
        #expect(try memory.search("spare key", mode: .keyword).results.first?.file == "notes.md")
    }

    /// Template files are created whole or not at all (a full disk left an empty MEMORY.md that
    /// was never written again), never over a file that exists, and leave no temporary file.
    @Test func templatesAreCreatedWhole() throws {
        let t = TestMemory()
        try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
        try t.write("MEMORY.md", "mine\n")
        _ = try Workspace(root: t.workspace).bootstrap()
        #expect(try String(contentsOfFile: t.workspace + "/MEMORY.md", encoding: .utf8) == "mine\n")
        let soul = try String(contentsOfFile: t.workspace + "/SOUL.md", encoding: .utf8)
        #expect(!soul.isEmpty)
        #expect(try Workspace.createWhole(t.workspace + "/SOUL.md", Array("other".utf8)) == false)
        #expect(try String(contentsOfFile: t.workspace + "/SOUL.md", encoding: .utf8) == soul)
        let names = try FileManager.default.contentsOfDirectory(atPath: t.workspace)
        #expect(!names.contains { $0.contains(".tmp-") }, "\(names)")
        var st = stat()
        #expect(stat(t.workspace + "/SOUL.md", &st) == 0 && st.st_mode & 0o777 == 0o600 && st.st_nlink == 1)
        #expect(throws: MemoryError.self) { try Workspace.createWhole(t.root + "/missing/x.md", [1]) }
    }

    /// A paragraph written as one long line was one window, and MiniLM reads only its first 256
    /// word pieces: a sentence at its end could not be found by meaning. Such lines are cut into
    /// pieces of at most the window size, at sentence ends where possible.
    @Test func longLinesAreCutIntoWindowsTheModelReadsWhole() throws {
        var state: UInt64 = 7
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let words = ["tea", "garden", "Straße", "猫", "日本語。", "done.", "why?", "😀", "a", "x", "loooooooooooong,"]
        for _ in 0..<300 {
            var line = ""
            for _ in 0..<next(400) { line += words[next(words.count)] + (next(4) == 0 ? "" : " ") }
            let maxBytes = 20 + next(200)
            let pieces = EmbeddingPlan.pieces(of: line[...], maxBytes: maxBytes)
            #expect(pieces.joined() == line)
            #expect(pieces.allSatisfy { $0.utf8.count <= maxBytes || $0.count == 1 })
            #expect(!pieces.contains { $0.isEmpty })
        }
        let sentence = "Today was a long day at the office. We discussed the quarterly roadmap and the budget. "
        let paragraph = String(repeating: sentence, count: 24) + "I hid my passport in the blue box under the stairs."
        let windows = EmbeddingPlan().windows(for: "# Diary\n\n" + paragraph + "\n")
        #expect(windows.count >= 5)
        #expect(windows.allSatisfy { $0.utf8.count <= 400 })
        #expect(windows.last?.hasSuffix("I hid my passport in the blue box under the stairs.") == true)
        // Cut after sentence ends: no window but the last starts inside a sentence.
        #expect(windows.dropFirst().allSatisfy { $0.hasPrefix("Today") || $0.hasPrefix("We") || $0.hasPrefix("I hid") })
    }

    /// Opening waited for another process's opening lock without a word and without end (a
    /// process stopped while opening blocked every memory command); the wait is bounded.
    @Test func theOpeningLockIsWaitedForAtMostItsTimeout() throws {
        let t = TestMemory()
        try FileManager.default.createDirectory(atPath: t.root + "/index", withIntermediateDirectories: true)
        do {
            guard case .acquired(let held) = IndexLock.acquire(.opening, indexPath: t.indexPath, wait: false) else {
                Issue.record("the lock could not be taken")
                return
            }
            let started = Date()
            if case .acquired = IndexLock.acquire(.opening, indexPath: t.indexPath, timeout: 0.3) {
                Issue.record("a held lock was taken")
            }
            #expect(Date().timeIntervalSince(started) >= 0.3)
            withExtendedLifetime(held) {}
        }
        // Released: taken at once.
        guard case .acquired = IndexLock.acquire(.opening, indexPath: t.indexPath, timeout: 0.3) else {
            Issue.record("a free lock was not taken")
            return
        }
    }
}
