//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import Synchronization

/// Keeps the protected files that a sandboxed command can reach as they were before it ran.
///
/// The sandbox leaves the workspace writable as a whole (Landlock grants folders, it cannot leave
/// out a file inside one), and LocalGPT.md, its manifest and IDENTITY.md live there. The shell
/// tool refuses a command that names them, but a name built at run time (`f=IDENT; echo x >
/// ${f}ITY.md`) gets past any reading of the command text. So every sandboxed command is wrapped:
/// ``begin(_:)`` notes each file's state (absent, or its bytes and mode), ``end(_:keepingChangesIn:)``
/// compares and puts back whatever changed (a created file removed, a changed or removed one
/// rewritten atomically) and returns what it found, for the audit log and the command's result.
/// What the command wrote is kept in a folder the sandbox cannot reach, so nothing is lost: were
/// the change the user's own edit, made by hand while a command ran, it can be taken back from
/// there.
///
/// Commands may run at once: the state noted by the first of them is the reference until the
/// last one ends, so a command that starts while another has changed a file cannot make that
/// change the reference.
public final class ProtectedFileGuard: Sendable {
    /// What a file was before the commands, or is after.
    enum State: Equatable {
        case absent
        case file(bytes: [UInt8], mode: mode_t)
        /// Something the guard does not copy: a symlink, a folder, a file over ``copyLimit``, or a
        /// file it cannot read. Compared by identity and reported when changed; as a reference it
        /// cannot be rewritten, as a change it is moved aside.
        case other(device: UInt64, inode: UInt64, size: Int64, modified: Int64)
    }

    /// A change a command made to a protected file.
    public struct Change: Sendable, Equatable {
        /// The protected file.
        public var path: String
        /// Whether the file is as it was again.
        public var restored: Bool
        /// Where what the command left was kept: a copy of a file, or the thing itself moved (a
        /// folder, a link, a large file).
        public var keptAt: String?
    }

    /// The protected files being watched, and for how many commands.
    public struct Token: Sendable {
        fileprivate let paths: [String]
    }

    private struct Watched {
        var holders: Int
        var reference: State
    }

    /// Files larger than this are compared by identity only and moved aside whole when changed
    /// (protected files are small).
    public static let copyLimit = 4 << 20

    /// The guard of this process.
    public static let shared = ProtectedFileGuard()

    private let watched = Mutex<[String: Watched]>([:])

    public init() {}

    /// Starts watching `paths` (absolute) for one command.
    public func begin(_ paths: [String]) -> Token {
        watched.withLock { watched in
            for path in paths {
                if var w = watched[path] {
                    w.holders += 1
                    watched[path] = w
                } else {
                    watched[path] = Watched(holders: 1, reference: Self.state(of: path))
                }
            }
        }
        return Token(paths: paths)
    }

    /// Ends a command's watch: every file that differs from its reference is put back.
    ///
    /// - Parameters:
    ///   - token: what ``begin(_:)`` returned for the command.
    ///   - directory: where the bytes of a changed file are kept (created, mode 0700).
    /// - Returns: the files the command changed (empty when it left them alone).
    public func end(_ token: Token, keepingChangesIn directory: String) -> [Change] {
        watched.withLock { watched in
            var changes: [Change] = []
            for path in token.paths {
                guard var w = watched[path] else { continue }
                let now = Self.state(of: path)
                if now != w.reference {
                    let kept = Self.keep(now, of: path, in: directory, reference: w.reference)
                    changes.append(Change(path: path, restored: Self.restore(path, to: w.reference), keptAt: kept))
                }
                w.holders -= 1
                watched[path] = w.holders > 0 ? w : nil
            }
            return changes
        }
    }

    static func state(of path: String) -> State {
        var info = stat()
        guard lstat(path, &info) == 0 else { return errno == ENOENT || errno == ENOTDIR ? .absent : other(info) }
        guard (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) <= copyLimit,
            case .success(let contents) = FileIO.read(path, limit: copyLimit, followSymlinks: false)
        else { return other(info) }
        return .file(bytes: contents.bytes, mode: contents.info.st_mode & 0o7777)
    }

    private static func other(_ info: stat) -> State {
        .other(
            device: UInt64(info.st_dev),
            inode: UInt64(info.st_ino),
            size: Int64(info.st_size),
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        )
    }

    /// Keeps what the command left at `path` in `directory/<UTC time>-<name>`: a file's bytes are
    /// copied; anything else (a folder, a link, a file over ``copyLimit``) is moved there whole, which
    /// also clears the way for the restore, unless the reference itself is such a thing (it could
    /// not be put back, so what is there stays). Nil when nothing was kept.
    private static func keep(_ state: State, of path: String, in directory: String, reference: State) -> String? {
        guard state != .absent, makeDirectories(atPath: directory, mode: 0o700) == nil else { return nil }
        let stamp = Timestamp.now().replacingOccurrences(of: ":", with: "")
        let name = (path as NSString).lastPathComponent
        let kept = "\(directory)/\(stamp)-\(name)"
        if case .file(let bytes, _) = state {
            do {
                try FileSystem.writeAtomically(Data(bytes), to: kept, mode: 0o600)
                return kept
            } catch {
                return nil
            }
        }
        if case .other = reference { return nil }
        if rename(path, kept) == 0 { return kept }
        // Another file system: aside in the same folder, hidden, so that the file can come back.
        let parent = (path as NSString).deletingLastPathComponent
        let beside = "\(parent)/.\(name).blocked-\(stamp)"
        return rename(path, beside) == 0 ? beside : nil
    }

    /// Puts `path` back to `state`; false when it cannot (a folder still in its place, or a state
    /// the guard does not copy).
    private static func restore(_ path: String, to target: State) -> Bool {
        switch target {
        case .absent:
            var info = stat()
            guard lstat(path, &info) == 0 else { return errno == ENOENT }
            guard (info.st_mode & S_IFMT) != S_IFDIR else { return false }
            return unlink(path) == 0
        case .file(let bytes, let mode):
            do {
                try FileSystem.writeAtomically(Data(bytes), to: path, mode: mode)
                return state(of: path) == target
            } catch {
                return false
            }
        case .other:
            return false
        }
    }
}
