//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc

/// A lock, across processes, around computing an index's missing vectors: the daemon embedding a
/// new workspace and a `localgpt memory reindex` or `memory search` beside it would otherwise
/// compute the same vectors twice, each at full CPU.
///
/// An advisory `flock` on `<index>.embedding-lock` (created 0600 beside the index). The kernel
/// releases it when the holder closes it or dies, so a `kill -9` never leaves it held. Two
/// ``EmbeddingLock``s of one process exclude each other too (each opens its own file description).
final class EmbeddingLock {
    private let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close(fd)  // releases the lock
    }

    /// The lock file of the index at `indexPath`.
    static func path(forIndex indexPath: String) -> String { indexPath + ".embedding-lock" }

    enum Outcome {
        /// Held until the value is released.
        case acquired(EmbeddingLock)
        /// Another holder has it (only when not waiting).
        case busy
        /// The lock file cannot be opened (a read-only folder): callers go on unlocked, as the
        /// index itself would fail first if it mattered.
        case unavailable
    }

    /// Takes the lock of the index at `indexPath`, waiting for it when `wait` is true.
    static func acquire(indexPath: String, wait: Bool) -> Outcome {
        let fd = open(path(forIndex: indexPath), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .unavailable }
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let error = errno
            if error == EINTR { continue }
            close(fd)
            return error == EWOULDBLOCK ? .busy : .unavailable
        }
        return .acquired(EmbeddingLock(fd: fd))
    }
}
