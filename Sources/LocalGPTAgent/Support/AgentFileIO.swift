//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// Small POSIX file helpers for sessions and workspace notes.
enum AgentFileIO {
    static func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

    /// Creates a folder and its parents with `mode` when missing.
    static func makeDirectories(_ path: String, mode: mode_t = 0o700) -> Bool {
        var info = stat()
        if stat(path, &info) == 0 { return (info.st_mode & S_IFMT) == S_IFDIR }
        let parent = (path as NSString).deletingLastPathComponent
        if parent != path && !parent.isEmpty && parent != "/" { _ = makeDirectories(parent, mode: mode) }
        return mkdir(path, mode) == 0 || errno == EEXIST
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool { write(fd, bytes).error == 0 }

    /// Writes all of `bytes`, retrying short writes; returns how many bytes were written and, when it
    /// stopped early, the errno (0 when everything was written).
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> (written: Int, error: Int32) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                return (off, errno)
            }
            off += n
        }
        return (off, 0)
    }

    /// Temporary file in the same folder, fsync, rename, fsync of the folder. Without `durable`, the
    /// replacement is still atomic (a reader sees the old file or the new one) but may be lost in a crash.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600, durable: Bool = true) -> Bool {
        let dir = (path as NSString).deletingLastPathComponent
        var template = Array("\(dir)/.\((path as NSString).lastPathComponent).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return false }
        let tmp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let ok = fchmod(fd, mode) == 0 && writeAll(fd, bytes) && (!durable || fsync(fd) == 0)
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            return false
        }
        if durable { syncDirectory(dir) }
        return true
    }

    static func syncDirectory(_ dir: String) {
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// The whole file, or nil.
    static func read(_ path: String, limit: Int = 256 << 20, followingSymlinks: Bool = true) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followingSymlinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        // errno says why, for the caller's message (it used to keep whatever an earlier call left there).
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            errno = (info.st_mode & S_IFMT) == S_IFDIR ? EISDIR : EINVAL
            return nil
        }
        guard Int(info.st_size) <= limit else {
            errno = EFBIG
            return nil
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var got = 0
        while got < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        return got == bytes.count ? bytes : Array(bytes[0..<got])
    }

    /// Whether `path` is a symbolic link (a dangling one too).
    static func isSymlink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func modificationTime(_ path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
    }
}
