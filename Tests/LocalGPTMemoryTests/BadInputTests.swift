//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTMemory
import Testing

@Suite struct BadInputTests {
    @Test func binaryFileIsSkippedWithAReason() throws {
        let t = TestMemory()
        try t.write("ok.md", "a perfectly normal note about kayaks\n")
        try t.write("blob.md", Data([0x50, 0x4B, 0x03, 0x04, 0x00, 0x00, 0x10, 0x00, 0xFF, 0x00]))
        let memory = try t.open()
        let r = try memory.reindex()
        #expect(r.skipped == [SkippedFile(file: "blob.md", reason: "binary file")])
        try t.write("u16.md", Data([0xFF, 0xFE] + Array("a note".utf8).flatMap { [$0, 0] }))
        try t.write("nul.md", Data([0]))
        let again = try memory.reindex()
        #expect(
            again.skipped.sorted { $0.file < $1.file } == [
                SkippedFile(file: "blob.md", reason: "binary file"), SkippedFile(file: "nul.md", reason: "binary file"),
                SkippedFile(file: "u16.md", reason: "UTF-16 text: save it as UTF-8 to index it"),
            ]
        )
        #expect(try memory.search("kayaks", mode: .keyword).results.count == 1)
        #expect(FileManager.default.fileExists(atPath: t.workspace + "/blob.md"), "never a lost file")
    }

    /// The update before a search can fail (a model that fails here; a full disk or a read-only
    /// index alike): the search answers from the index as it stands, with a notice, rather
    /// than failing.
    @Test func aFailedUpdateStillAnswers() throws {
        struct BrokenModel: TextEmbedder {
            struct Failure: Error, CustomStringConvertible { var description: String { "the model crashed" } }
            let modelID = "broken-384"
            let dimensions = 384
            func embed(_ texts: [String]) throws -> [[Float]] { throw Failure() }
        }
        let t = TestMemory()
        try t.write("a.md", "The orchard has apple trees.\n")
        let memory = try t.open(embedder: BrokenModel())
        let r = try memory.search("orchard")
        #expect(r.mode == .hybrid, "without a query vector: ranked by keywords")
        #expect(r.notice?.contains("the index could not be updated") == true, "\(r.notice ?? "")")
        #expect(r.notice?.contains("the model crashed") == true)
        #expect(r.results.map(\.file) == ["a.md"])
    }

    @Test func unreadableFileNeverStopsTheIndex() throws {
        let t = TestMemory()
        try t.write("ok.md", "notes about the harbour\n")
        try t.write("secret.md", "locked away\n")
        chmod(t.workspace + "/secret.md", 0)
        defer { chmod(t.workspace + "/secret.md", 0o600) }
        let memory = try t.open()
        let r = try memory.reindex()
        if geteuid() != 0 {  // root reads it anyway
            #expect(r.skipped == [SkippedFile(file: "secret.md", reason: "cannot read it (Permission denied)")])
        }
        #expect(try memory.search("harbour", mode: .keyword).results.count == 1)
    }

    /// `chmod 000` on an indexed note left its rows in the index ("a transient read error"): a
    /// search still returned the text its owner had locked. A permission error drops them.
    /// (Root reads any file: the decision is checked by `ScanProblemTests` with the errno, and
    /// end to end as another user by `MemoryCLITests`.)
    @Test(.enabled(if: geteuid() != 0, "root reads any file"))
    func aNoteLockedByItsPermissionsLeavesTheIndex() throws {
        let t = TestMemory()
        try t.write("ok.md", "notes about the harbour\n")
        try t.write("secret.md", "the combination is in the walrus drawer\n")
        let memory = try t.open()
        #expect(try memory.reindex().filesUpdated == 2)
        #expect(try memory.search("walrus drawer", mode: .keyword).results.map(\.file) == ["secret.md"])
        chmod(t.workspace + "/secret.md", 0)
        defer { chmod(t.workspace + "/secret.md", 0o600) }
        let r = try memory.reindex()
        #expect(
            r.skipped == [SkippedFile(file: "secret.md", reason: "cannot read it (Permission denied)", removed: true)]
        )
        #expect(r.filesRemoved == 1)
        #expect(try memory.search("walrus drawer", mode: .keyword).results.isEmpty)
        #expect(FileManager.default.fileExists(atPath: t.workspace + "/secret.md"), "never a lost file")
        // Readable again: indexed again.
        chmod(t.workspace + "/secret.md", 0o600)
        #expect(try memory.reindex().filesUpdated == 1)
        #expect(try memory.search("walrus drawer", mode: .keyword).results.map(\.file) == ["secret.md"])
    }

    @Test func aFolderThatCannotBeListedIsReportedAndItsFilesKept() throws {
        // An extra root on a drive that is not mounted: reported, and its files stay in the index
        // (searchable, not re-embedded later) rather than being dropped as deleted.
        let t = TestMemory()
        try t.write("ok.md", "notes about the harbour\n")
        let extra = t.root + "/drive/notes"
        try FileManager.default.createDirectory(atPath: extra, withIntermediateDirectories: true)
        try "the walrus colony on the ice\n".write(toFile: extra + "/walrus.md", atomically: true, encoding: .utf8)
        func open(_ roots: [ExtraRoot]) throws -> MemoryManager {
            try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
            let config = MemoryConfiguration(workspace: t.workspace, indexPath: t.indexPath, extraRoots: roots)
            return try MemoryManager(configuration: config, embedder: nil, bootstrap: false)
        }
        let memory = try open([ExtraRoot(path: extra)])
        #expect(try memory.reindex().filesUpdated == 2)
        #expect(rename(t.root + "/drive", t.root + "/drive-away") == 0)
        let away = try memory.reindex()
        #expect(away.skipped == [SkippedFile(file: extra, reason: "cannot list the folder: No such file or directory")])
        #expect(away.filesRemoved == 0)
        #expect(try memory.search("walrus", mode: .keyword).results.map(\.file) == [extra + "/walrus.md"])
        #expect(rename(t.root + "/drive-away", t.root + "/drive") == 0)
        let back = try memory.reindex()
        #expect(back.skipped.isEmpty)
        #expect(back.filesUnchanged == 2)
        #expect(back.filesUpdated == 0, "nothing to read again")
        // A root taken out of the configuration does drop its files.
        let without = try open([])
        #expect(try without.reindex().filesRemoved == 1)
        #expect(try without.search("walrus", mode: .keyword).results.isEmpty)
    }

    /// Extra roots that overlap the workspace: one holding it indexed every workspace file a
    /// second time (each hit came back twice); one inside it, with its own pattern, was
    /// silently ignored. Now each file is indexed once, under its workspace-relative name.
    @Test func extraRootsOverlappingTheWorkspaceIndexEachFileOnce() throws {
        let t = TestMemory()
        try t.write("heron.md", "a grey heron by the pond\n")
        try t.write("knowledge/birds.md", "a heron and a kingfisher\n")
        try t.write("knowledge/list.txt", "heron, egret, stork\n")
        try "an osprey over the lake\n".write(toFile: t.root + "/osprey.md", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
        let roots = [ExtraRoot(path: t.root), ExtraRoot(path: t.workspace + "/knowledge", pattern: "**/*.txt")]
        let config = MemoryConfiguration(workspace: t.workspace, indexPath: t.indexPath, extraRoots: roots)
        let memory = try MemoryManager(configuration: config, embedder: nil, bootstrap: false)
        #expect(try memory.reindex().filesScanned == 4)
        let heron = try memory.search("heron", limit: 10, mode: .keyword).results.map(\.file)
        #expect(heron.sorted() == ["heron.md", "knowledge/birds.md", "knowledge/list.txt"])
        #expect(try memory.search("osprey", mode: .keyword).results.map(\.file) == [t.root + "/osprey.md"])
    }

    /// A symbolic link to a note of the workspace indexed it a second time under the link's
    /// name; a link to a note the workspace does not list itself (hidden) is still indexed.
    /// Links that are not indexed were left out in silence: `memory reindex` now lists them as
    /// skipped, with the reason. A link out of the workspace is never indexed.
    @Test func aLinkToANoteIsNotIndexedTwice() throws {
        let t = TestMemory()
        try t.write("sub/real.md", "a grey heron by the pond\n")
        try t.write(".hidden/h.md", "a kingfisher on the branch\n")
        try FileManager.default.createSymbolicLink(
            atPath: t.workspace + "/link-in.md",
            withDestinationPath: "sub/real.md"
        )
        try FileManager.default.createSymbolicLink(
            atPath: t.workspace + "/link-hidden.md",
            withDestinationPath: ".hidden/h.md"
        )
        // Out of the workspace, and to nothing.
        try "an osprey over the lake\n".write(toFile: t.root + "/outside.md", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: t.workspace + "/sub/link-out.md",
            withDestinationPath: "../../outside.md"
        )
        try FileManager.default.createSymbolicLink(atPath: t.workspace + "/gone.md", withDestinationPath: "nowhere.md")
        // A link to another kind of file is no note: passed over as the file itself would be.
        try "plain text\n".write(toFile: t.workspace + "/list.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: t.workspace + "/list-link.txt",
            withDestinationPath: "list.txt"
        )
        let memory = try t.open()
        let r = try memory.reindex()
        let outside = try #require(realpath(t.root + "/outside.md", nil))
        defer { free(outside) }
        #expect(
            r.skipped.sorted { $0.file < $1.file } == [
                SkippedFile(file: "gone.md", reason: "a symbolic link to nothing (its target is missing)"),
                SkippedFile(
                    file: "link-in.md",
                    reason: "a symbolic link to sub/real.md, which is indexed under that name"
                ),
                SkippedFile(
                    file: "sub/link-out.md",
                    reason:
                        "a symbolic link to \(String(cString: outside)), outside the workspace and memory.paths: not indexed"
                ),
            ]
        )
        #expect(r.filesScanned == 5 && r.filesUpdated == 2 && r.filesSkipped == 3, "\(r)")
        #expect(try memory.search("heron", mode: .keyword).results.map(\.file) == ["sub/real.md"])
        #expect(try memory.search("kingfisher", mode: .keyword).results.map(\.file) == ["link-hidden.md"])
        #expect(try memory.search("osprey", mode: .keyword).results.isEmpty)
    }

    /// A link in the workspace to a file of an extra root indexed that file twice: under the
    /// link's name and under its own.
    @Test func aLinkToAnExtraRootsFileIsNotIndexedTwice() throws {
        let t = TestMemory()
        let extra = t.root + "/notes"
        try FileManager.default.createDirectory(atPath: extra, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: t.workspace, withIntermediateDirectories: true)
        try "the walrus colony on the ice\n".write(toFile: extra + "/walrus.md", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: t.workspace + "/walrus.md",
            withDestinationPath: extra + "/walrus.md"
        )
        let config = MemoryConfiguration(
            workspace: t.workspace,
            indexPath: t.indexPath,
            extraRoots: [ExtraRoot(path: extra)]
        )
        let memory = try MemoryManager(configuration: config, embedder: nil, bootstrap: false)
        let r = try memory.reindex()
        let real = try #require(realpath(extra + "/walrus.md", nil))
        defer { free(real) }
        #expect(
            r.skipped == [
                SkippedFile(
                    file: "walrus.md",
                    reason: "a symbolic link to \(String(cString: real)), which is indexed under that name"
                )
            ]
        )
        #expect(try memory.search("walrus", mode: .keyword).results.map(\.file) == [extra + "/walrus.md"])
    }

    @Test(.enabled(if: geteuid() != 0, "root lists any folder; ScanProblemTests cover root's runs"))
    func aFolderThatCannotBeReadIsReported() throws {
        let t = TestMemory()
        try t.write("memory/2024-01-01.md", "the lighthouse keeper\n")
        try t.write("ok.md", "notes about the harbour\n")
        let memory = try t.open()
        #expect(try memory.reindex().filesUpdated == 2)
        chmod(t.workspace + "/memory", 0)
        defer { chmod(t.workspace + "/memory", 0o700) }
        let r = try memory.reindex()
        #expect(r.skipped == [SkippedFile(file: "memory", reason: "cannot list the folder: Permission denied")])
        // A permission error is no passing failure: the folder's notes leave the index, as a
        // locked file's do.
        #expect(r.filesRemoved == 1)
        #expect(try memory.search("lighthouse", mode: .keyword).results.isEmpty)
    }

    @Test func aNameThatIsNotUTF8IsReported() throws {
        let t = TestMemory()
        try t.write("ok.md", "notes about the harbour\n")
        // Names no Swift String can hold: a markdown file (reported) and another file (ignored).
        for name in [Array("bad-".utf8) + [0xFF] + Array(".md".utf8), Array("x".utf8) + [0xFE] + Array(".txt".utf8)] {
            let path = Array(t.workspace.utf8) + [UInt8(ascii: "/")] + name + [0]
            let fd = path.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { Glibc.open($0.baseAddress!, O_CREAT | O_WRONLY, 0o600) }
            }
            #expect(fd >= 0)
            close(fd)
        }
        let memory = try t.open()
        let r = try memory.reindex()
        #expect(
            r.skipped == [SkippedFile(file: "bad-\u{FFFD}.md", reason: "the name is not UTF-8; rename it to index it")]
        )
        #expect(r.filesUpdated == 1)
    }

    @Test func oversizedFileIsSkippedOthersIndexed() throws {
        let t = TestMemory()
        // A 50 MB markdown file (sparse: written by truncate, so the test stays fast).
        let big = t.workspace + "/huge.md"
        try t.write("huge.md", "start\n")
        #expect(truncate(big, 50 << 20) == 0)
        try t.write("small.md", "the lighthouse keeper\n")
        let memory = try t.open()
        let r = try memory.reindex()
        #expect(r.skipped.count == 1)
        #expect(r.skipped.first?.file == "huge.md")
        #expect(r.skipped.first?.reason.contains("larger than") == true)
        #expect(try memory.search("lighthouse", mode: .keyword).results.count == 1)
        #expect(FileInfoProbe.size(big) == 50 << 20, "never a lost file")
    }

    @Test func largeMarkdownFileIsIndexedWhenAllowed() throws {
        let t = TestMemory()
        var text = ""
        for i in 0..<20_000 { text += "Line \(i) of a long journal about sailing and knots number k\(i).\n" }
        try t.write("journal.md", text)
        let memory = try t.open()
        let r = try memory.reindex()
        #expect(r.filesUpdated == 1)
        #expect(r.chunksWritten > 500)
        let hit = try #require(try memory.search("k12345", mode: .keyword).results.first)
        #expect(hit.lineStart <= 12_346 && 12_346 <= hit.lineEnd)
    }

    @Test func invalidUTF8IsIndexedWithReplacements() throws {
        let t = TestMemory()
        try t.write("mixed.md", Data(Array("caf".utf8) + [0xE9] + Array(" au lait with croissants\n".utf8)))
        let memory = try t.open()
        try memory.reindex()
        let hit = try #require(try memory.search("croissants", mode: .keyword).results.first)
        #expect(hit.snippet.contains("croissants"))
    }

    @Test func emptyAndHugeQueries() throws {
        let t = TestMemory()
        try t.write("a.md", "penguins live in Antarctica\n")
        let memory = try t.open(embedder: TrigramTestEmbedder())
        #expect(throws: MemoryError.self) { try memory.search("") }
        #expect(throws: MemoryError.self) { try memory.search("   \n\t") }
        #expect(throws: MemoryError.self) { try memory.search("x", limit: 0) }
        let huge = String(repeating: "penguins and other words ", count: 400)  // 10,000 characters
        #expect(huge.count == 10_000)
        let r = try memory.search(huge)
        #expect(r.results.first?.file == "a.md")
        let punctuation = try memory.search("?!?", mode: .keyword)
        #expect(punctuation.results.isEmpty)
        let syntax = try memory.search(#"NEAR("a" "b") AND OR * ^ ""#, mode: .keyword)
        #expect(syntax.results.isEmpty)
    }
}

enum FileInfoProbe {
    static func size(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
    }
}
