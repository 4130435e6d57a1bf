//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTMemory
import Testing

@Suite struct IndexTests {
    @Test func reindexIsIncrementalAndDropsDeletedFiles() throws {
        // Seed 6.
        let t = TestMemory()
        try t.write("MEMORY.md", "# Memory\n- The user's cat is called Miso.\n")
        try t.write("memory/2024-05-01.md", TestMemory.diary("May 1", lines: 40))
        try t.write("knowledge/recipes/bread.md", "# Bread\nFlour, water, salt, sourdough starter.\n")
        let memory = try t.open()

        let first = try memory.reindex()
        #expect(first.filesScanned == 3)
        #expect(first.filesUpdated == 3)
        #expect(first.chunksWritten >= 3)

        let again = try memory.reindex()
        #expect(again.filesUpdated == 0)
        #expect(again.filesUnchanged == 3)
        #expect(again.chunksWritten == 0)

        try t.write("MEMORY.md", "# Memory\n- The user's dog is called Pixel.\n")
        let edited = try memory.reindex()
        #expect(edited.filesUpdated == 1)
        #expect(edited.chunksWritten == 1)
        #expect(try memory.search("Pixel", mode: .keyword).results.first?.file == "MEMORY.md")
        #expect(try memory.search("Miso", mode: .keyword).results.isEmpty)

        try t.remove("knowledge/recipes/bread.md")
        let deleted = try memory.reindex()
        #expect(deleted.filesRemoved == 1)
        #expect(try memory.search("sourdough", mode: .keyword).results.isEmpty)
        #expect(try memory.index.stats().files == 2)
    }

    @Test func touchingAFileWithoutChangingItRewritesNothing() throws {
        let t = TestMemory()
        try t.write("a.md", "alpha beta gamma\n")
        let memory = try t.open()
        try memory.reindex()
        let path = t.workspace + "/a.md"
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: path)
        let r = try memory.reindex()
        #expect(r.filesUpdated == 0)
        #expect(r.filesUnchanged == 1)
    }

    @Test func chunkerChangeIsDetectedAndRebuilds() throws {
        let t = TestMemory()
        try t.write("memory/log.md", TestMemory.diary("log", lines: 100))
        let small = try t.open(chunker: Chunker(chunkTokens: 50, overlapTokens: 10))
        try small.reindex()
        let smallChunks = try small.index.stats().chunks

        let reopened = try t.open(chunker: Chunker(chunkTokens: 50, overlapTokens: 10))
        #expect(!reopened.index.needsRebuild)

        let large = try t.open()
        #expect(large.index.needsRebuild)
        let r = try large.reindex()
        #expect(r.rebuilt)
        #expect(try large.index.stats().chunks < smallChunks)
        #expect(try t.open().index.needsRebuild == false)
    }

    @Test func modelChangeNeverMixesVectors() throws {
        let t = TestMemory()
        try t.write("notes.md", "The quarterly report is due on Friday.\n")
        let a = try t.open(embedder: TrigramTestEmbedder(modelID: "model-a"))
        try a.reindex()
        #expect(try a.index.stats().chunksByModel == ["model-a": 1])

        // Another model: the chunk's old vectors are ignored until re-embedded with the new one.
        let b = try t.open(embedder: TrigramTestEmbedder(modelID: "model-b"))
        let before = try b.search("quarterly report", mode: .vector, refresh: false)
        #expect(before.results.isEmpty)
        try b.reindex()
        #expect(try b.index.stats().chunksByModel == ["model-b": 1])
        #expect(try b.search("quarterly report", mode: .vector).results.count == 1)
    }

    @Test func embeddingCacheAvoidsRecomputingAfterForce() throws {
        // Seed 7: a forced reindex of identical text reuses the cached vectors.
        let t = TestMemory()
        try t.write("memory/2024-01-01.md", TestMemory.diary("Jan 1", lines: 60))
        try t.write("MEMORY.md", "- likes green tea\n")
        let embedder = TrigramTestEmbedder()
        let memory = try t.open(embedder: embedder)
        let first = try memory.reindex()
        #expect(first.embeddingsComputed > 0)
        #expect(first.embeddingsFromCache == 0, "a new index reuses nothing (what it computed is not counted twice)")
        #expect(first.pendingEmbeddings == 0)
        let calls = embedder.callCount

        let forced = try memory.reindex(force: true)
        #expect(forced.rebuilt)
        #expect(forced.embeddingsComputed == 0)
        #expect(forced.embeddingsFromCache == first.embeddingsComputed, "every vector, counted as computed")
        #expect(embedder.callCount == calls, "no embedder call")
        #expect(try memory.index.stats().vectors > 0)
    }

    /// A same-size edit that leaves the modification time as indexed (a file system with coarse
    /// timestamps, two saves within its granularity) was never seen: size and time vouched for
    /// the old content. A file modified close to its row's writing is hashed again.
    @Test func aSameSizeEditWithTheSameTimeIsSeen() throws {
        let t = TestMemory()
        try t.write("b.md", "Carol found a wombat yesterday.\n")
        let memory = try t.open()
        #expect(try memory.search("wombat", mode: .keyword).results.count == 1)
        let path = t.workspace + "/b.md"
        var st = stat()
        #expect(stat(path, &st) == 0)
        try t.write("b.md", "Carol found a koalas yesterday.\n")
        var times = [st.st_atim, st.st_mtim]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        #expect(try memory.search("koalas", mode: .keyword).results.map(\.file) == ["b.md"])
        #expect(try memory.search("wombat", mode: .keyword).results.isEmpty)
    }

    @Test func unchangedChunksOfAnEditedFileComeFromTheCache() throws {
        let t = TestMemory()
        var text = TestMemory.diary("log", lines: 80)
        try t.write("log.md", text)
        let embedder = TrigramTestEmbedder()
        let memory = try t.open(embedder: embedder)
        try memory.reindex()
        let texts = embedder.textCount
        text += "- one more line at the end\n"
        try t.write("log.md", text)
        let r = try memory.reindex()
        #expect(r.embeddingsFromCache > 0)
        #expect(embedder.textCount - texts < texts / 2)
    }

    @Test func corruptIndexFileIsReplaced() throws {
        let t = TestMemory()
        try t.write("a.md", "zebra crossing\n")
        try FileManager.default.createDirectory(
            atPath: (t.indexPath as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: t.indexPath))
        let memory = try t.open()
        let r = try memory.search("zebra", mode: .keyword)
        #expect(r.results.count == 1)
        // Said once (it was silent), by the search that rebuilt it.
        #expect(r.notice?.contains("the memory index was damaged") == true, "\(r.notice ?? "")")
        #expect(try memory.search("zebra", mode: .keyword).notice == nil)
        let other = TestMemory()
        try other.write("a.md", "zebra crossing\n")
        try FileManager.default.createDirectory(atPath: other.root + "/index", withIntermediateDirectories: true)
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: other.indexPath))
        let report = try other.open().reindex()
        #expect(report.damagedIndexReplaced && report.damagedIndexMovedTo?.contains(".corrupt-") == true)
    }

    /// Opened in the background (as `MemoryManager` does), an index that cannot be opened fails
    /// its first use with the opening's error, not a crash and not a wrapped message; opened at
    /// once, the initializer throws that error.
    @Test func anIndexThatCannotBeOpenedFailsItsFirstUse() throws {
        let t = TestMemory()
        try t.write("a.md", "zebra crossing\n")
        // A folder where the index file belongs: SQLite cannot open it.
        try FileManager.default.createDirectory(atPath: t.indexPath, withIntermediateDirectories: true)
        let direct = #expect(throws: MemoryError.self) { try MemoryIndex(path: t.indexPath) }
        #expect(direct?.code == .database)

        let memory = try t.open()
        #expect(memory.index.needsRebuild)
        let failed = #expect(throws: MemoryError.self) { try memory.search("zebra", mode: .keyword) }
        #expect(failed?.code == .database)
        #expect(failed?.message.hasPrefix("memory index: opening \(t.indexPath) failed:") == true)
        #expect(throws: MemoryError.self) { try memory.index.stats() }
        #expect(try String(contentsOfFile: t.workspace + "/a.md", encoding: .utf8) == "zebra crossing\n")
    }

    /// A one-shot command's single connection reads and writes the same index as a pool, and
    /// leaves the -wal (emptied) and -shm files behind, private, for the next command.
    @Test func aSingleConnectionSharesTheIndexAndKeepsPrivateWALFiles() throws {
        let t = TestMemory()
        try t.write("MEMORY.md", "# Memory\n- The user's cat is called Miso.\n")
        try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
        do {
            let single = try MemoryManager(
                configuration: t.configuration(),
                embedder: nil,
                bootstrap: false,
                connections: .single
            )
            #expect(try single.search("Miso", mode: .keyword).results.first?.file == "MEMORY.md")
        }
        for suffix in ["", "-wal", "-shm"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: t.indexPath + suffix)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(suffix)")
            if suffix == "-wal" { #expect((attributes[.size] as? Int) == 0) }
        }
        let pool = try t.open()
        #expect(try pool.reindex().filesUnchanged == 1)
        #expect(try pool.search("Miso", mode: .keyword).results.first?.file == "MEMORY.md")
    }
}
