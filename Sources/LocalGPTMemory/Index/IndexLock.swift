//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Glibc

/// A lock, across processes, on an index file: advisory `flock`s on files beside the index
/// (created 0600). The kernel releases one when its holder closes it or dies, so a `kill -9` never
/// leaves it held. Two ``IndexLock``s of one process exclude each other too (each opens its own
/// file description).
///
/// - ``Kind/embedding`` (`<index>.embedding-lock`), around computing an index's missing vectors:
///   the daemon embedding a new workspace and a `localgpt memory reindex` or `memory search` beside
///   it would otherwise compute the same vectors twice, each at full CPU.
/// - ``Kind/opening`` (`<index>.open-lock`), around opening, migrating and replacing a damaged
///   file: two commands opening a new index at once would both create its tables, and two finding
///   it damaged would each move the other's new file aside.
final class IndexLock {
    private let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close(fd)  // releases the lock
    }

    enum Kind: String {
        case embedding = ".embedding-lock"
        case opening = ".open-lock"
    }

    /// The lock file of the index at `indexPath`.
    static func path(_ kind: Kind, forIndex indexPath: String) -> String { indexPath + kind.rawValue }

    enum Outcome {
        /// Held until the value is released.
        case acquired(IndexLock)
        /// Another holder has it (only when not waiting).
        case busy
        /// The lock file cannot be opened (a read-only folder): callers go on unlocked, as the
        /// index itself would fail first if it mattered.
        case unavailable
    }

    /// Takes the lock of the index at `indexPath`, waiting for it when `wait` is true; calls
    /// `waiting` first when it has to wait (another process holds it).
    static func acquire(_ kind: Kind, indexPath: String, wait: Bool, waiting: () -> Void) -> Outcome {
        let first = acquire(kind, indexPath: indexPath, wait: false)
        guard wait, case .busy = first else { return first }
        waiting()
        return acquire(kind, indexPath: indexPath, wait: true)
    }

    /// Takes the lock of the index at `indexPath`, waiting for it at most `timeout` seconds
    /// (``Outcome/busy`` after that).
    static func acquire(_ kind: Kind, indexPath: String, timeout: Double) -> Outcome {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, timeout) * 1e9)
        while true {
            let outcome = acquire(kind, indexPath: indexPath, wait: false)
            guard case .busy = outcome, DispatchTime.now().uptimeNanoseconds < deadline else { return outcome }
            usleep(20_000)
        }
    }

    /// Takes the lock of the index at `indexPath`, waiting for it when `wait` is true.
    static func acquire(_ kind: Kind, indexPath: String, wait: Bool) -> Outcome {
        let fd = open(path(kind, forIndex: indexPath), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .unavailable }
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let error = errno
            if error == EINTR { continue }
            close(fd)
            return error == EWOULDBLOCK ? .busy : .unavailable
        }
        return .acquired(IndexLock(fd: fd))
    }
}
