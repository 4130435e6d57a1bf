//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc

/// Small POSIX wrappers for the security files: whole-file reads with a size limit, full writes,
/// and `EINTR` retries. Each returns the `errno` it saw instead of throwing, so callers can map
/// `ENOENT` and friends to their own statuses.
enum FileIO {
    /// What a read saw.
    enum ReadFailure: Error, Equatable {
        /// `open`/`read`/`fstat` failed with this errno.
        case errno(Int32)
        /// The path is not a regular file (a directory, a device...).
        case notRegularFile
        /// The file is larger than the limit; nothing was read.
        case tooLarge(Int)
    }

    /// A file's bytes and its `stat`.
    struct Contents {
        var bytes: [UInt8]
        var info: stat
    }

    /// Opens `path` read-only, checks it is a regular file of at most `limit` bytes, and reads it.
    static func read(_ path: String, limit: Int, followSymlinks: Bool = true) -> Result<Contents, ReadFailure> {
        let flags = O_RDONLY | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW)
        let fd = retrying { open(path, flags) }
        guard fd >= 0 else { return .failure(.errno(errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(.errno(errno)) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(.notRegularFile) }
        let size = Int(info.st_size)
        guard size <= limit else { return .failure(.tooLarge(size)) }
        switch readAll(fd, expected: size, limit: limit) {
        case .success(let bytes): return .success(Contents(bytes: bytes, info: info))
        case .failure(let e): return .failure(e)
        }
    }

    /// Reads `fd` to its end; `expected` is a capacity hint. More than `limit` bytes is `.tooLarge`.
    static func readAll(_ fd: Int32, expected: Int, limit: Int) -> Result<[UInt8], ReadFailure> {
        var bytes = [UInt8](repeating: 0, count: max(expected, 0) + 1)
        var count = 0
        while true {
            if count == bytes.count {
                if count > limit { return .failure(.tooLarge(count)) }
                bytes.append(contentsOf: repeatElement(0, count: max(4096, count)))
            }
            let n = bytes.withUnsafeMutableBytes { buf in
                retrying { Glibc.read(fd, buf.baseAddress! + count, buf.count - count) }
            }
            if n < 0 { return .failure(.errno(errno)) }
            if n == 0 { break }
            count += n
        }
        if count > limit { return .failure(.tooLarge(count)) }
        bytes.removeSubrange(count...)
        return .success(bytes)
    }

    /// Reads exactly `count` bytes at `offset`, or fewer at the end of the file.
    static func pread(_ fd: Int32, count: Int, offset: Int) -> Result<[UInt8], ReadFailure> {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { buf in
                retrying { Glibc.pread(fd, buf.baseAddress! + done, count - done, off_t(offset + done)) }
            }
            if n < 0 { return .failure(.errno(errno)) }
            if n == 0 { break }
            done += n
        }
        bytes.removeSubrange(done...)
        return .success(bytes)
    }

    /// Writes all of `bytes` to `fd`, at its offset or, with `offset`, at that position of the
    /// file (`pwrite`). Returns 0, or the errno of the failed write.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int? = nil) -> Int32 {
        bytes.withUnsafeBytes { writeAll(fd, $0, at: offset) }
    }

    /// ``writeAll(_:_:at:)`` for borrowed bytes.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int? = nil) -> Int32 {
        guard let base = bytes.baseAddress else { return 0 }
        var done = 0
        while done < bytes.count {
            let n = retrying {
                if let offset {
                    return Glibc.pwrite(fd, base + done, bytes.count - done, off_t(offset + done))
                }
                return Glibc.write(fd, base + done, bytes.count - done)
            }
            if n < 0 { return errno }
            if n == 0 { return EIO }
            done += n
        }
        return 0
    }

    /// Makes `bytes` the whole content of the file open as `fd`, in place (written at 0, then cut to
    /// their length). Returns 0, or the errno of the failed call.
    static func rewrite(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        let error = writeAll(fd, bytes, at: 0)
        if error != 0 { return error }
        return retrying { ftruncate(fd, off_t(bytes.count)) } == 0 ? 0 : errno
    }

    /// Runs a system call again while it fails with `EINTR`.
    static func retrying<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let r = call()
            if r < 0 && errno == EINTR { continue }
            return r
        }
    }

    /// `mode` as four octal digits (`0640`).
    static func octal(_ mode: mode_t) -> String {
        let s = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}
