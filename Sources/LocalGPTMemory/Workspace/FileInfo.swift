//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc

/// Thin wrappers over the POSIX file calls the memory module needs.
enum FileInfo {
    struct Stat: Equatable, Sendable {
        var size: Int64
        /// Modification time in nanoseconds since the epoch.
        var mtimeNanoseconds: Int64
        /// Status-change time (ctime) in nanoseconds since the epoch: set by the kernel on every
        /// write, rename, `chmod` or `utimensat`, and never set back by an unprivileged call.
        var ctimeNanoseconds: Int64
        var isRegular: Bool
        var isDirectory: Bool
        var isSymlink: Bool
        /// Which file it is: the file system and the inode.
        var device: UInt64
        var inode: UInt64

        init(_ st: Glibc.stat) {
            let mode = st.st_mode & S_IFMT
            size = Int64(st.st_size)
            mtimeNanoseconds = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
            ctimeNanoseconds = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
            isRegular = mode == S_IFREG
            isDirectory = mode == S_IFDIR
            isSymlink = mode == S_IFLNK
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
        }
    }

    /// `lstat` when `followSymlinks` is false, else `stat`.
    static func status(_ path: String, followSymlinks: Bool = true) -> Stat? {
        var st = Glibc.stat()
        // withCString: no copy of a native string (the implicit conversion allocates one).
        let rc = path.withCString { followSymlinks ? stat($0, &st) : lstat($0, &st) }
        if rc != 0 { return nil }
        return Stat(st)
    }

    /// ``status(_:followSymlinks:)`` of `name` in the open folder `directory` (symlinks followed).
    static func status(_ name: String, in directory: Int32) -> Stat? {
        var st = Glibc.stat()
        if name.withCString({ fstatat(directory, $0, &st, 0) }) != 0 { return nil }
        return Stat(st)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func isDirectory(_ path: String) -> Bool { status(path)?.isDirectory == true }

    /// `realpath(3)`: absolute, symlinks resolved; nil when the path does not exist.
    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    static func lastError() -> String { String(cString: strerror(errno)) }

    /// A failed system call's `errno`, kept as a ``MemoryError``'s `underlying` error so that a
    /// caller can tell a permission error from a transient one.
    struct SystemError: Error, Sendable, Equatable {
        var errno: Int32
    }

    /// An `io` error for `what` (e.g. "cannot read PATH") that failed with the current `errno`.
    static func ioError(_ what: String) -> MemoryError {
        let code = errno
        return .io("\(what): \(String(cString: strerror(code)))", underlying: SystemError(errno: code))
    }

    /// Reads a whole file. Refuses folders and special files.
    ///
    /// Opened with `O_NONBLOCK`: the type is known only once the file is open, and opening a FIFO
    /// (a note replaced by one between the scan and the read) would otherwise wait for a writer
    /// forever. It changes nothing for a regular file.
    static func read(_ path: String, limit: Int = Int.max) throws(MemoryError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            if errno == ENOENT { throw .notFound("file not found: \(path)") }
            throw ioError("cannot read \(path)")
        }
        defer { close(fd) }
        var st = Glibc.stat()
        if fstat(fd, &st) != 0 { throw ioError("cannot read \(path)") }
        if (st.st_mode & S_IFMT) != S_IFREG { throw MemoryError(code: .notAFile, message: "\(path) is not a file") }
        if Int(st.st_size) > limit {
            throw MemoryError(code: .tooLarge, message: "\(path) is larger than \(limit) bytes")
        }
        return try readAll(fd: fd, path: path, sizeHint: Int(st.st_size))
    }

    /// Reads from the current offset (or 0 for an O_APPEND descriptor) to the end.
    static func readAll(fd: Int32, path: String, sizeHint: Int = 0) throws(MemoryError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(sizeHint, 0) + 1)
        var used = 0
        var offset: off_t = 0
        while true {
            if used == out.count { out += [UInt8](repeating: 0, count: max(out.count, 4096)) }
            let n = out.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + used, raw.count - used, offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot read \(path)")
            }
            if n == 0 { break }
            used += n
            offset += off_t(n)
        }
        out.removeSubrange(used...)
        return out
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(MemoryError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress! + off, raw.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot write \(path): \(lastError())")
            }
            off += n
        }
    }
}
