//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// Small file helpers that never leave a half-written file behind.
enum FileSystem {
    /// Creates `path` and its parents with `mode` when missing.
    static func createDirectory(_ path: String, mode: Int) throws(ConfigurationError) {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { return }
            throw .io("\(path) exists and is not a directory")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: mode]
            )
        } catch {
            throw .io("cannot create directory \(path): \(error.localizedDescription)")
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
