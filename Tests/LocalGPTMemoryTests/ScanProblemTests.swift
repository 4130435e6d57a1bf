//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import Testing

@testable import LocalGPTMemory

/// The scanner's problems and what an update does with them, checked in ways that hold when the
/// tests run as root (who lists any folder whatever its permissions).
@Suite struct ScanProblemTests {
    /// Creates `levels` nested folders of 200-character names under `root`, relative to each
    /// other (their absolute paths pass PATH_MAX, which `mkdir` by path would refuse).
    static func makeDeepFolders(under root: String, levels: Int) -> String {
        let name = String(repeating: "d", count: 200)
        var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        precondition(fd >= 0)
        for _ in 0..<levels {
            precondition(mkdirat(fd, name, 0o700) == 0)
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            close(fd)
            precondition(next >= 0)
            fd = next
        }
        close(fd)
        return name
    }

    /// Removes what ``makeDeepFolders(under:levels:)`` made, deepest first (a removal by path
    /// cannot reach past PATH_MAX, so the scratch folder would stay behind).
    static func removeDeepFolders(under root: String, name: String, levels: Int) {
        var fds = [open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)]
        for _ in 0..<(levels - 1) { fds.append(openat(fds.last!, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) }
        for fd in fds.reversed() {
            unlinkat(fd, name, AT_REMOVEDIR)
            close(fd)
        }
    }

    @Test func aFolderTooDeepToListIsReportedWithThePrefixOfItsFiles() throws {
        let t = TestMemory()
        try t.write("ok.md", "notes about the harbour\n")
        let top = Self.makeDeepFolders(under: t.workspace, levels: 22)
        defer { Self.removeDeepFolders(under: t.workspace, name: top, levels: 22) }
        let scanner = WorkspaceScanner(workspace: Workspace(root: t.workspace), extraRoots: [])
        var problems: [ScanProblem] = []
        let files = scanner.scan(problems: &problems)
        #expect(files.map(\.key) == ["ok.md"])
        let problem = try #require(problems.first)
        #expect(problems.count == 1, "nothing below the first folder it cannot list")
        #expect(problem.reason == "cannot list the folder: File name too long")
        #expect(problem.display.hasPrefix(top + "/"), "relative to the workspace")
        #expect(problem.keptPrefix == problem.display + "/")
        // `memory reindex` shows it.
        let r = try t.open().reindex()
        #expect(r.skipped == [SkippedFile(file: problem.display, reason: problem.reason)])
    }

    /// Creates `name` (raw bytes) in `folder`: an empty file, or a folder when `directory` is true.
    static func create(_ name: [UInt8], in folder: String, directory: Bool = false) {
        let path = Array(folder.utf8) + [UInt8(ascii: "/")] + name + [0]
        path.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { c in
                if directory {
                    precondition(mkdir(c.baseAddress!, 0o700) == 0)
                } else {
                    let fd = Glibc.open(c.baseAddress!, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
                    precondition(fd >= 0)
                    close(fd)
                }
            }
        }
    }

    /// `memory reindex` printed "6 files: 5 indexed, 0 unchanged, 0 removed, 2 skipped": the
    /// total left out a file whose name is not UTF-8, which `skipped` counted. Files are every
    /// file found, so that files = indexed + unchanged + skipped files; a folder that could not
    /// be looked at is no file, and is counted apart.
    @Test func theFileTotalCountsTheFilesSkipped() throws {
        let t = TestMemory()
        try t.write("good.md", "good\n")
        try t.write("bin.md", Data("b\0in\n".utf8))
        Self.create(Array("bad".utf8) + [0xFF] + Array("name.md".utf8), in: t.workspace)
        Self.create(Array("dir".utf8) + [0xFE], in: t.workspace, directory: true)
        let memory = try t.open()
        let first = try memory.reindex(force: true)
        #expect(first.filesScanned == 3, "good.md, bin.md and the misnamed file")
        #expect(first.filesUpdated == 1)
        #expect(first.skipped.count == 3, "\(first.skipped)")
        #expect(first.filesScanned == first.filesUpdated + first.filesUnchanged + 2)
        #expect(first.filesSkipped == 2, "the folder named in bytes that are not UTF-8 is no file")
        let again = try memory.reindex()
        #expect(again.filesScanned == 3)
        #expect(again.filesUnchanged == 1)
        #expect(again.filesScanned == again.filesUpdated + again.filesUnchanged + again.filesSkipped)
    }

    @Test func filesUnderAFolderThatCouldNotBeListedAreKept() throws {
        let t = TestMemory()
        try t.write("memory/2024-01-01.md", "the lighthouse keeper\n")
        try t.write("ok.md", "notes about the harbour\n")
        let memory = try t.open()
        #expect(try memory.reindex().filesUpdated == 2)
        // As if `memory` could not be listed: its file is not in the scan.
        try t.remove("memory/2024-01-01.md")
        let scanner = WorkspaceScanner(workspace: Workspace(root: t.workspace), extraRoots: [])
        var none: [ScanProblem] = []
        let files = scanner.scan(problems: &none)
        #expect(files.map(\.key) == ["ok.md"])
        let unlisted = ScanProblem(display: "memory", reason: "cannot list the folder", keptPrefix: "memory/")
        let kept = try memory.index.update(
            files: files,
            scanProblems: [unlisted],
            force: false,
            embedder: nil,
            maxFileBytes: 16 << 20
        )
        #expect(kept.filesRemoved == 0)
        #expect(kept.skipped == [SkippedFile(file: "memory", reason: "cannot list the folder")])
        #expect(try memory.search("lighthouse", mode: .keyword, refresh: false).results.count == 1)
        // Listed and gone: dropped.
        let dropped = try memory.index.update(files: files, force: false, embedder: nil, maxFileBytes: 16 << 20)
        #expect(dropped.filesRemoved == 1)
        #expect(try memory.search("lighthouse", mode: .keyword, refresh: false).results.isEmpty)
    }

    /// `chmod 000` on an indexed note kept its rows ("a transient read error"), so a search still
    /// returned its text. A permission error is the owner's decision and drops the rows of the
    /// file (or of the files under a folder that cannot be listed); an error that may pass keeps
    /// them. Checked on the errno, since root reads any file (end to end as another user:
    /// `MemoryCLITests`, and `BadInputTests` when not run as root).
    @Test func aPermissionErrorDropsTheRowsAPassingErrorKeepsThem() {
        for code in [EACCES, EPERM] { #expect(!MemoryIndex.keepsRows(afterReadError: code), "\(code)") }
        for code in [EIO, ENOMEM, EMFILE, ENFILE, EAGAIN, EINTR, ESTALE] {
            #expect(MemoryIndex.keepsRows(afterReadError: code), "\(code)")
        }
    }
}
