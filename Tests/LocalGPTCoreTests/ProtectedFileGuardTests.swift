//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Testing

/// The guard around sandboxed commands: what a command changes in a protected file is put back.
@Suite struct ProtectedFileGuardTests {
    let dir = TestSupport.makeTemporaryDirectory("lgpt-guard")
    var file: String { dir + "/IDENTITY.md" }
    var kept: String { dir + "/kept" }

    func read() -> String? { try? String(contentsOfFile: file, encoding: .utf8) }

    @Test func theFirstCommandsViewIsTheReferenceUntilTheLastEnds() throws {
        let guarded = ProtectedFileGuard()
        try "original\n".write(toFile: file, atomically: true, encoding: .utf8)
        let first = guarded.begin([file])
        try "changed by the first\n".write(toFile: file, atomically: true, encoding: .utf8)
        // A command that starts now does not take the change as the file's state.
        let second = guarded.begin([file])
        #expect(guarded.end(second, keepingChangesIn: kept).map(\.restored) == [true])
        #expect(read() == "original\n")
        try "changed again\n".write(toFile: file, atomically: true, encoding: .utf8)
        let changes = guarded.end(first, keepingChangesIn: kept)
        #expect(changes.count == 1)
        #expect(read() == "original\n")
        let keptFile = try #require(changes.first?.keptAt)
        #expect(try String(contentsOfFile: keptFile, encoding: .utf8) == "changed again\n")
        // Once no command runs, a later edit (the user's) is the new reference.
        try "edited by the user\n".write(toFile: file, atomically: true, encoding: .utf8)
        let third = guarded.begin([file])
        #expect(guarded.end(third, keepingChangesIn: kept).isEmpty)
        #expect(read() == "edited by the user\n")
    }

    @Test func createdRemovedAndReplacedFilesArePutBack() throws {
        let guarded = ProtectedFileGuard()
        // Created where there was none: removed.
        var token = guarded.begin([file])
        try "new\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(guarded.end(token, keepingChangesIn: kept).map(\.restored) == [true])
        #expect(!FileManager.default.fileExists(atPath: file))
        // Removed: rewritten. Replaced by a symlink: the file again.
        try "mine\n".write(toFile: file, atomically: true, encoding: .utf8)
        token = guarded.begin([file])
        try FileManager.default.removeItem(atPath: file)
        #expect(guarded.end(token, keepingChangesIn: kept).map(\.restored) == [true])
        #expect(read() == "mine\n")
        token = guarded.begin([file])
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: "/etc/hostname")
        #expect(guarded.end(token, keepingChangesIn: kept).map(\.restored) == [true])
        #expect(read() == "mine\n")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: file)) == nil)
        // A folder in its place is moved aside and the file comes back: leaving the folder made the next
        // command's start take it as the file's state, and a second step could write anything there.
        token = guarded.begin([file])
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.createDirectory(atPath: file + "/x", withIntermediateDirectories: true)
        var changes = guarded.end(token, keepingChangesIn: kept)
        #expect(changes.map(\.restored) == [true])
        #expect(read() == "mine\n")
        let folder = try #require(changes.first?.keptAt)
        #expect(FileManager.default.fileExists(atPath: folder + "/x"))
        // A file too large to copy is moved aside whole, not lost.
        token = guarded.begin([file])
        try Data(count: ProtectedFileGuard.copyLimit + 1).write(to: URL(fileURLWithPath: file))
        changes = guarded.end(token, keepingChangesIn: kept)
        #expect(changes.map(\.restored) == [true])
        #expect(read() == "mine\n")
        let large = try #require(changes.first?.keptAt)
        #expect(
            (try FileManager.default.attributesOfItem(atPath: large)[.size] as? Int) == ProtectedFileGuard
                .copyLimit + 1
        )
        // Created where there was none, as a folder: moved aside, the name free again.
        try FileManager.default.removeItem(atPath: file)
        token = guarded.begin([file])
        try FileManager.default.createDirectory(atPath: file, withIntermediateDirectories: true)
        #expect(guarded.end(token, keepingChangesIn: kept).map(\.restored) == [true])
        #expect(!FileManager.default.fileExists(atPath: file))
    }
}
