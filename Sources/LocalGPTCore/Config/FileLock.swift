//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// An advisory lock (`flock(LOCK_EX)`) on a lock file, held while a read-modify-write of a file of
/// the home runs, so that two LocalGPT processes changing the same file never both start from the
/// same old version (one change would be lost). The lock belongs to its own open file, so it orders
/// the threads of one process too, and the kernel drops it when its holder dies.
public enum FileLock {
    /// The lock file that guards `file`: `.<name>.lock` beside it (`~/.localgpt/.config.toml.lock`).
    public static func path(guarding file: String) -> String {
        let dir = (file as NSString).deletingLastPathComponent
        return "\(dir)/.\((file as NSString).lastPathComponent).lock"
    }

    /// Runs `body` holding the lock on `lockFile` (created, mode 0600, when missing; its folder must
    /// exist). Blocks while another process holds it. The file is opened read-only, so an existing
    /// lock file still serves on a read-only disk (the write that follows then says why it failed).
    ///
    /// - Parameters:
    ///   - lockFile: the lock file (``path(guarding:)``).
    ///   - failure: the error to throw, from a message naming the lock file and the reason, when the
    ///     lock cannot be taken (a full disk, no permission).
    ///   - body: what runs with the lock held.
    /// - Returns: what `body` returned.
    /// - Throws: `failure`'s error, or what `body` threw.
    public static func withExclusive<T, E: Error>(
        _ lockFile: String,
        failure: (String) -> E,
        _ body: () throws(E) -> T
    ) throws(E) -> T {
        let fd = FileIO.retrying { open(lockFile, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        guard fd >= 0 else { throw failure("cannot open the lock file \(lockFile): \(errnoDescription(errno))") }
        defer { close(fd) }
        guard FileIO.retrying({ flock(fd, LOCK_EX) }) == 0 else {
            throw failure("cannot lock \(lockFile): \(errnoDescription(errno))")
        }
        return try body()
    }
}
