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
    ///
    /// The temporary file is named `.<name>.tmp-<writer>.XXXXXX`, `<writer>` being this process's
    /// ``ProcessIdentity/token``; a writer killed before its rename leaves it behind (a whole copy of
    /// config.toml, with its keys), and the next write of the same file removes every one whose
    /// writer is gone (``removeLeftovers(of:in:)``).
    ///
    /// - Throws: ``ConfigurationError`` naming `path` and the system's reason, once.
    static func writeAtomically(_ data: Data, to path: String, mode: mode_t = 0o600) throws(ConfigurationError) {
        let error = data.withUnsafeBytes { place($0, at: path, mode: mode, replacing: true) }
        if error != 0 { throw .io("cannot write \(path): \(String(cString: strerror(error)))") }
    }

    /// Creates `path` holding `data` unless something is there already, atomically (written to a
    /// temporary file, synced, then linked into place): a reader never sees it half written, and of
    /// two processes creating it at once one wins and the other's bytes are dropped.
    ///
    /// - Returns: whether this call created it (false: it existed).
    static func createAtomically(_ data: Data, at path: String, mode: mode_t = 0o600) throws(ConfigurationError) -> Bool
    {
        let error = data.withUnsafeBytes { place($0, at: path, mode: mode, replacing: false) }
        if error == EEXIST { return false }
        if error != 0 { throw .io("cannot create \(path): \(String(cString: strerror(error)))") }
        return true
    }

    /// Puts `bytes` at `path` through a temporary file of this process in the same folder (mode
    /// `mode`, synced), renamed over `path` or, when not `replacing`, linked to it (`EEXIST` when
    /// something is there). Leftovers of dead writers of `path` are removed first.
    ///
    /// - Returns: 0, or the `errno` of the step that failed; the temporary file is gone either way.
    static func place(_ bytes: UnsafeRawBufferPointer, at path: String, mode: mode_t, replacing: Bool) -> Int32 {
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        removeLeftovers(of: name, in: dir)
        var template = Array(
            "\(dir)/\(temporaryPrefix(for: name))\(ProcessIdentity.current.token).XXXXXX".utf8CString
        )
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { return errno }
        let tmp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var error: Int32 = fchmod(fd, mode) == 0 ? 0 : errno
        if error == 0 { error = FileIO.writeAll(fd, bytes) }
        if error == 0 && FileIO.retrying({ fsync(fd) }) != 0 { error = errno }
        close(fd)
        if error == 0 {
            if replacing {
                if rename(tmp, path) != 0 { error = errno }
            } else if link(tmp, path) != 0 {
                error = errno
            }
        }
        if error != 0 || !replacing { unlink(tmp) }
        return error
    }

    /// The start of the names of the temporary files that stand for `name` while it is written
    /// (a name too long to carry the writer's token is replaced by its digest).
    static func temporaryPrefix(for name: String) -> String {
        ".\(name.utf8.count <= 160 ? name : String(sha256Hex(name).prefix(16))).tmp-"
    }

    /// Removes the temporary files of `name` in `dir` (``writeAtomically(_:to:mode:)``) whose writer
    /// is gone (``ProcessIdentity/isGone(token:)``). A file of a running writer, or of a writer that
    /// cannot be judged from here (another PID namespace), is kept.
    ///
    /// - Returns: how many were removed.
    @discardableResult
    static func removeLeftovers(of name: String, in dir: String) -> Int {
        let prefix = temporaryPrefix(for: name)
        var dead: [String] = []
        if let d = opendir(dir) {
            while let entry = readdir(d) {
                let entryName = directoryEntryNameString(entry)
                guard entryName.hasPrefix(prefix) else { continue }
                let rest = entryName.dropFirst(prefix.count)  // <token>.XXXXXX
                guard let dot = rest.lastIndex(of: "."), rest.distance(from: dot, to: rest.endIndex) == 7,
                    rest[..<dot].contains("-"), ProcessIdentity.isGone(token: rest[..<dot]) == true
                else { continue }
                dead.append(entryName)
            }
            closedir(d)
        }
        return dead.filter { unlink(dir + "/" + $0) == 0 }.count
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
