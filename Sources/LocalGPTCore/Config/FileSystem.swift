//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// `mkdir -p`: creates `path` and its missing parents with `mode`.
///
/// - Returns: nil when `path` is a folder (now or already), else why not, naming what is in the
///   way ("/a/b exists and is not a folder"), where Foundation said "The operation could not be
///   completed. (NSCocoaErrorDomain error 512.)".
public func makeDirectories(atPath path: String, mode: UInt32) -> String? {
    var st = stat()
    if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { return nil }
    var prefix = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        prefix += "/" + part
        if mkdir(prefix, mode) == 0 { continue }
        let mkdirError = String(cString: strerror(errno))
        if stat(prefix, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { continue }
            return "\(prefix) exists and is not a folder"
        }
        let statError = errno
        if lstat(prefix, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
            // What following it met: nothing there, a loop...
            let why = statError == ENOENT ? "its target does not exist" : String(cString: strerror(statError))
            return "\(prefix) is a symbolic link that leads to no folder (\(why))"
        }
        return mkdirError  // a read-only file system, a full disk, no permission...
    }
    return nil
}

/// Where the NUL-terminated name of a directory entry returned by `readdir` starts.
///
/// `readdir` packs entries end to end, each only as long as its name: `entry.pointee.d_name` (a
/// 256-byte tuple) copies past the end of a short entry, and past the end of the directory buffer
/// for the last one (AddressSanitizer: heap-buffer-overflow). Read the name in place instead.
/// `entry` is the `dirent` pointer `readdir` returned.
public func directoryEntryName(_ entry: UnsafeRawPointer) -> UnsafePointer<CChar> {
    (entry + MemoryLayout<dirent>.offset(of: \dirent.d_name)!).assumingMemoryBound(to: CChar.self)
}

/// The name of a directory entry returned by `readdir`, as a string (invalid UTF-8 repaired).
public func directoryEntryNameString(_ entry: UnsafeRawPointer) -> String {
    String(cString: directoryEntryName(entry))
}

/// Small file helpers that never leave a half-written file behind.
enum FileSystem {
    /// Creates `path` and its parents with `mode` when missing.
    static func createDirectory(_ path: String, mode: Int) throws(ConfigurationError) {
        if let reason = makeDirectories(atPath: path, mode: UInt32(mode)) {
            throw .io("cannot create directory \(path): \(reason)")
        }
    }

    /// Writes `data` to `path` atomically: a temporary file in the same folder, fsync, rename.
    /// A reader sees the old file or the new one, never a mix.
    static func writeAtomically(_ data: Data, to path: String, mode: mode_t = 0o600) throws(ConfigurationError) {
        let dir = (path as NSString).deletingLastPathComponent
        var template = Array("\(dir)/.\((path as NSString).lastPathComponent).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw .io("cannot write \(path): \(String(cString: strerror(errno)))") }
        let tmp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var ok = fchmod(fd, mode) == 0
        if ok {
            ok = data.withUnsafeBytes { raw -> Bool in
                var off = 0
                while off < raw.count {
                    let n = write(fd, raw.baseAddress! + off, raw.count - off)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    off += n
                }
                return true
            }
        }
        if ok { ok = fsync(fd) == 0 }
        let err = errno
        close(fd)
        if !ok || rename(tmp, path) != 0 {
            let e = ok ? errno : err
            unlink(tmp)
            throw .io("cannot write \(path): \(String(cString: strerror(e)))")
        }
    }

    static func readFile(_ path: String) -> Data? {
        FileManager.default.contents(atPath: path)
    }

    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }
}
