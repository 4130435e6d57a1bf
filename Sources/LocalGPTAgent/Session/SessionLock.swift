//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// The one writer of a session: an advisory `flock` on `<uuid>.jsonl.lock` beside the session file,
/// taken before the file is read for writing and held until the session is closed or the process
/// ends. The kernel drops a `flock` when its holder dies, so a killed process never leaves a session
/// locked. The file names the holder's pid (for the error another process shows); the holder
/// removes it when it lets go, while still holding it, and a process that locked a file removed
/// meanwhile sees that it is no longer the one at the path and takes the new one.
///
/// Shared by reference: a session reopened by its own holder (`/resume` of the current session)
/// keeps the lock, which is released when the last ``SessionFile`` holding it lets it go.
final class SessionLock: Sendable {
    let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit {
        // Removed only while it is still this lock's file (nobody else can have replaced it: they
        // would have had to lock it first).
        var held = stat()
        var named = stat()
        if fstat(fd, &held) == 0, lstat(path, &named) == 0, held.st_dev == named.st_dev, held.st_ino == named.st_ino {
            unlink(path)
        }
        Glibc.close(fd)
    }

    /// The lock file of the session file at `sessionPath`.
    static func path(forSession sessionPath: String) -> String { sessionPath + ".lock" }

    /// Takes the lock of the session file at `sessionPath`, without waiting.
    ///
    /// - Throws: ``SessionError`` `.locked` naming the session and the holder's pid when another
    ///   process (or another open session of this one) holds it; `.io` when the lock file cannot be
    ///   created.
    static func acquire(sessionPath: String) throws(SessionError) -> SessionLock {
        let path = Self.path(forSession: sessionPath)
        let name = String(((sessionPath as NSString).lastPathComponent as NSString).deletingPathExtension.prefix(8))
        // A few rounds at most: each one means the file was removed by a holder that let go meanwhile.
        for _ in 0..<16 {
            let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw .io("cannot lock session \(name): cannot create \(path): \(AgentFileIO.errnoText())")
            }
            var result = flock(fd, LOCK_EX | LOCK_NB)
            while result != 0 && errno == EINTR { result = flock(fd, LOCK_EX | LOCK_NB) }
            if result != 0 {
                let error = errno
                let holder = error == EWOULDBLOCK ? Self.holderPID(fd) : nil
                Glibc.close(fd)
                guard error == EWOULDBLOCK else {
                    throw .io("cannot lock session \(name) (\(path)): \(AgentFileIO.errnoText(error))")
                }
                throw SessionError(code: .locked, message: Self.busyMessage(session: name, holder: holder))
            }
            var held = stat()
            var named = stat()
            guard fstat(fd, &held) == 0, lstat(path, &named) == 0, held.st_dev == named.st_dev,
                held.st_ino == named.st_ino
            else {
                Glibc.close(fd)
                continue
            }
            // The holder's pid, for the message of a process that finds it taken. The first line counts
            // (a reader may catch the file between the write and the cut).
            let text = Array("\(getpid())\n".utf8)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            _ = ftruncate(fd, off_t(text.count))
            return SessionLock(path: path, fd: fd)
        }
        throw .io("cannot lock session \(name): \(path) keeps being replaced")
    }

    private static func busyMessage(session: String, holder: Int32?) -> String {
        if holder == getpid() {
            return "session \(session) is already open in this process; close it first"
        }
        let who = holder.map { "another LocalGPT process (pid \($0))" } ?? "another LocalGPT process"
        return "session \(session) is open in \(who); one process writes a session at a time: "
            + "wait until it ends, or start a new session"
    }

    /// The pid the lock file names, if it names one.
    private static func holderPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let line = String(decoding: buffer[0..<n].prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        guard let pid = Int32(line), pid > 0 else { return nil }
        return pid
    }
}
