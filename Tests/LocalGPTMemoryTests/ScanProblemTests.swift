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
}
