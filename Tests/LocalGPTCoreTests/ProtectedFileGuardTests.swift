//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTTesting
import Testing

@testable import LocalGPTCore

/// The guard around sandboxed commands: what a command changes in a protected file is put back.
@Suite struct ProtectedFileGuardTests {
    let dir = TestSupport.makeTemporaryDirectory("lgpt-guard")
    var file: String { dir + "/IDENTITY.md" }
    var kept: String { dir + "/kept" }
    var state: String { dir + "/guard" }

    func makeGuard() -> ProtectedFileGuard { ProtectedFileGuard(stateDirectory: state, keptDirectory: kept) }

    func read() -> String? { try? String(contentsOfFile: file, encoding: .utf8) }

    @Test func theFirstCommandsViewIsTheReferenceUntilTheLastEnds() throws {
        let guarded = makeGuard()
        try "original\n".write(toFile: file, atomically: true, encoding: .utf8)
        let first = guarded.begin([file])
        try "changed by the first\n".write(toFile: file, atomically: true, encoding: .utf8)
        // A command that starts now does not take the change as the file's state.
        let second = guarded.begin([file])
        #expect(guarded.end(second).map(\.restored) == [true])
        #expect(read() == "original\n")
        try "changed again\n".write(toFile: file, atomically: true, encoding: .utf8)
        let changes = guarded.end(first)
        #expect(changes.count == 1)
        #expect(read() == "original\n")
        let keptFile = try #require(changes.first?.keptAt)
        #expect(try String(contentsOfFile: keptFile, encoding: .utf8) == "changed again\n")
        // Once no command runs, a later edit (the user's) is the new reference.
        try "edited by the user\n".write(toFile: file, atomically: true, encoding: .utf8)
        let third = guarded.begin([file])
        #expect(guarded.end(third).isEmpty)
        #expect(read() == "edited by the user\n")
    }

    @Test func createdRemovedAndReplacedFilesArePutBack() throws {
        let guarded = makeGuard()
        // Created where there was none: removed.
        var token = guarded.begin([file])
        try "new\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(guarded.end(token).map(\.restored) == [true])
        #expect(!FileManager.default.fileExists(atPath: file))
        // Removed: rewritten. Replaced by a symlink: the file again.
        try "mine\n".write(toFile: file, atomically: true, encoding: .utf8)
        token = guarded.begin([file])
        try FileManager.default.removeItem(atPath: file)
        #expect(guarded.end(token).map(\.restored) == [true])
        #expect(read() == "mine\n")
        token = guarded.begin([file])
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: "/etc/hostname")
        #expect(guarded.end(token).map(\.restored) == [true])
        #expect(read() == "mine\n")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: file)) == nil)
        // A folder in its place is moved aside and the file comes back: leaving the folder made the next
        // command's start take it as the file's state, and a second step could write anything there.
        token = guarded.begin([file])
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.createDirectory(atPath: file + "/x", withIntermediateDirectories: true)
        var changes = guarded.end(token)
        #expect(changes.map(\.restored) == [true])
        #expect(read() == "mine\n")
        let folder = try #require(changes.first?.keptAt)
        #expect(FileManager.default.fileExists(atPath: folder + "/x"))
        // A file too large to copy is moved aside whole, not lost.
        token = guarded.begin([file])
        try Data(count: ProtectedFileGuard.copyLimit + 1).write(to: URL(fileURLWithPath: file))
        changes = guarded.end(token)
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
        #expect(guarded.end(token).map(\.restored) == [true])
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    /// Two LocalGPT processes (a daemon and a chat) share one reference: the second command's start
    /// does not take the first one's change as the file's state. Each guard call reads the shared
    /// state folder, so two guards on one folder behave as two processes do.
    @Test func processesShareTheReference() throws {
        try "original\n".write(toFile: file, atomically: true, encoding: .utf8)
        let daemon = makeGuard()
        let chat = makeGuard()
        let first = daemon.begin([file])
        try "changed by the daemon's command\n".write(toFile: file, atomically: true, encoding: .utf8)
        let second = chat.begin([file])
        #expect(chat.end(second).map(\.restored) == [true])
        #expect(read() == "original\n")
        #expect(daemon.end(first).isEmpty)
        // No command is left running once the last one ended (a holder file is emptied for the next
        // command of this process), and a later edit (the user's) is the next reference.
        for name in try FileManager.default.contentsOfDirectory(atPath: state + "/holders") {
            #expect((try FileManager.default.attributesOfItem(atPath: state + "/holders/" + name)[.size] as? Int) == 0)
        }
        try "edited by the user\n".write(toFile: file, atomically: true, encoding: .utf8)
        let third = chat.begin([file])
        #expect(chat.end(third).isEmpty)
        #expect(read() == "edited by the user\n")
    }

    /// A command whose host died before its end (SIGKILL): the next guard call in any process puts
    /// the file back to the reference and keeps what the command wrote; a file that a running
    /// command still watches is left to that command's end.
    @Test func theFilesOfACommandWhoseHostDiedArePutBack() throws {
        try "original\n".write(toFile: file, atomically: true, encoding: .utf8)
        let other = dir + "/LocalGPT.md"
        try "policy\n".write(toFile: other, atomically: true, encoding: .utf8)
        let guarded = makeGuard()
        let me = ProcessIdentity.current
        let gone = ProcessIdentity(pid: me.pid, start: me.start + 1, boot: me.boot)
        #expect(!gone.isRunning && me.isRunning)
        let running = guarded.begin([other])
        _ = guarded.begin([file, other], host: gone)
        try "written by the orphan\n".write(toFile: file, atomically: true, encoding: .utf8)
        try "policy, rewritten\n".write(toFile: other, atomically: true, encoding: .utf8)
        let recovery = guarded.recover()
        #expect(recovery.changes.map(\.path) == [file])
        #expect(recovery.changes.map(\.restored) == [true])
        #expect(read() == "original\n")
        let keptFile = try #require(recovery.changes.first?.keptAt)
        #expect(try String(contentsOfFile: keptFile, encoding: .utf8) == "written by the orphan\n")
        // The dead holder is gone: a second recovery finds nothing.
        #expect(guarded.recover() == ProtectedFileGuard.Recovery())
        // The running command still has the policy's reference and puts it back at its end.
        #expect(guarded.end(running).map(\.path) == [other])
        #expect(try String(contentsOfFile: other, encoding: .utf8) == "policy\n")
        // A command starting after a crash begins by the recovery, then takes the restored state.
        _ = guarded.begin([file], host: gone)
        try "again\n".write(toFile: file, atomically: true, encoding: .utf8)
        let next = guarded.begin([file])
        #expect(next.recovered.changes.map(\.restored) == [true])
        #expect(read() == "original\n")
        #expect(guarded.end(next).isEmpty)
    }

    /// A damaged holder file counts as a dead holder; a damaged reference as none (the command
    /// takes the file's state now).
    @Test func damagedStateFilesDoNotStopCommands() throws {
        try "original\n".write(toFile: file, atomically: true, encoding: .utf8)
        let guarded = makeGuard()
        let token = guarded.begin([file])
        try "{not json".write(toFile: state + "/holders/junk", atomically: true, encoding: .utf8)
        for name in try FileManager.default.contentsOfDirectory(atPath: state + "/references") {
            try "garbage".write(toFile: state + "/references/" + name, atomically: true, encoding: .utf8)
        }
        // The token keeps its own reference: the change is still undone.
        try "changed\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(guarded.end(token).map(\.restored) == [true])
        #expect(read() == "original\n")
        #expect(guarded.recover() == ProtectedFileGuard.Recovery())
        #expect(!FileManager.default.fileExists(atPath: state + "/holders/junk"))
    }

    /// When the state folder cannot be made, a command is still guarded against its own view.
    @Test func aCommandIsGuardedWithoutTheStateFolder() throws {
        try "original\n".write(toFile: file, atomically: true, encoding: .utf8)
        try "a file where the folder should be".write(toFile: state, atomically: true, encoding: .utf8)
        let guarded = makeGuard()
        let token = guarded.begin([file])
        #expect(token.problem?.contains("cannot create") == true)
        try "changed\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(guarded.end(token).map(\.restored) == [true])
        #expect(read() == "original\n")
    }

    /// `md sign` (any LocalGPT writer that calls ``ProtectedFileGuard/commit(_:)``) while a command
    /// runs: the command's end keeps the new file instead of undoing it.
    @Test func aWriteCommittedWhileACommandRunsIsKept() throws {
        try "policy v1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let daemon = makeGuard()
        let running = daemon.begin([file])
        try "policy v2, signed\n".write(toFile: file, atomically: true, encoding: .utf8)
        makeGuard().commit([file])
        #expect(daemon.end(running).isEmpty)
        #expect(read() == "policy v2, signed\n")
    }

    /// A restore that fails (here the folder is made immutable; a full disk does the same) leaves the
    /// reference in place: the next command does not take the changed file as the reference, and the
    /// restore is tried again, and succeeds, once it can.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr")))
    func aRestoreThatFailsIsTriedAgainAndKeepsTheReference() throws {
        let folder = dir + "/ws"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let identity = folder + "/IDENTITY.md"
        try "mine\n".write(toFile: identity, atomically: true, encoding: .utf8)
        let guarded = makeGuard()
        let token = guarded.begin([identity])
        try "tampered\n".write(toFile: identity, atomically: false, encoding: .utf8)
        let lock = try TestSupport.run("/usr/bin/chattr", ["+i", folder], environment: [:])
        try #require(lock.status == 0, "chattr +i: \(lock.stderr)")
        defer { _ = try? TestSupport.run("/usr/bin/chattr", ["-i", folder], environment: [:]) }
        #expect(guarded.end(token).map(\.restored) == [false])
        // Still not possible: the next command keeps the old reference and tries again.
        let next = guarded.begin([identity])
        #expect(next.recovered.changes.map(\.restored) == [false])
        #expect(guarded.end(next).map(\.restored) == [false])
        _ = try TestSupport.run("/usr/bin/chattr", ["-i", folder], environment: [:])
        let recovered = guarded.recover()
        #expect(recovered.changes.map(\.restored) == [true])
        #expect(try String(contentsOfFile: identity, encoding: .utf8) == "mine\n")
        #expect(guarded.recover() == ProtectedFileGuard.Recovery())
    }

    /// A holder from before a reboot: its command ran before this boot, so a change made since (the
    /// user's) is not undone. A holder of another PID namespace (a container sharing the home)
    /// cannot be judged from here and counts as running.
    @Test func holdersFromAnotherBootOrNamespace() throws {
        try "original\n".write(toFile: file, atomically: true, encoding: .utf8)
        let guarded = makeGuard()
        let me = ProcessIdentity.current
        _ = guarded.begin([file], host: ProcessIdentity(pid: me.pid, start: me.start, boot: "an-earlier-boot"))
        try "edited after the reboot\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(guarded.recover().changes.isEmpty)
        #expect(read() == "edited after the reboot\n")
        let elsewhere = ProcessIdentity(pid: 1, start: 1, boot: me.boot, namespace: "pid:[1]")
        #expect(elsewhere.isRunning)
        _ = guarded.begin([file], host: elsewhere)
        try "changed while the container's command runs\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(guarded.recover() == ProtectedFileGuard.Recovery())
        let mine = guarded.begin([file])
        try "x\n".write(toFile: file, atomically: true, encoding: .utf8)
        // The reference is still the one the container's command took.
        #expect(guarded.end(mine).map(\.restored) == [true])
        #expect(read() == "edited after the reboot\n")
    }

    /// The process group a dead host's command led is killed only while it is that command's: once
    /// the leader's pid belongs to a process of another start time, the number was given again
    /// (a group id cannot be while the group has a member) and nothing is killed.
    @Test func aReusedGroupNumberIsLeftAlone() throws {
        // `sleep 30` leading a group of its own.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup("30"), nil]
        defer { for a in argv { free(a) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, &attributes, argv, environ) == 0)
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        let identity = try #require(ProcessIdentity.of(pid))
        #expect(ProcStat.read(pid)?.group == pid)
        let earlier = ProcessIdentity(pid: pid, start: identity.start - 1, boot: identity.boot)
        #expect(ProcessIdentity.killGroupRemnants(of: [earlier]) == 0)
        #expect(kill(pid, 0) == 0 && ProcStat.read(pid)?.state != "Z")
        #expect(ProcessIdentity.killGroupRemnants(of: [identity]) == 1)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(status & 0x7f == SIGKILL)
    }
}
