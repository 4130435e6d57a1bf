//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc
import LocalGPTCore

/// A folder outside the workspace whose markdown files are indexed too (`memory.paths`).
public struct ExtraRoot: Sendable, Equatable {
    /// Absolute folder.
    public var path: String
    /// Which files, relative to `path` (default `**/*.md`).
    public var pattern: GlobPattern

    public init(path: String, pattern: String = "**/*.md") {
        self.path = Workspace.standardize(path)
        self.pattern = GlobPattern(pattern)
    }
}

/// A file the index covers, as found on disk.
struct ScannedFile: Sendable {
    /// Absolute path (as found, symlinks not resolved).
    var absolutePath: String
    /// Relative to the workspace when inside it, else absolute: the key in the index.
    var key: String
    /// `memory` for the workspace, `extra` for `memory.paths` roots.
    var source: String
    var size: Int64
    /// Modification time, nanoseconds.
    var mtime: Int64
    /// Status-change time (ctime), nanoseconds.
    var ctime: Int64
    /// The inode number (SQLite stores it as the same 64 bits, signed).
    var inode: UInt64
}

/// What the scanner could not look at: a folder it could not list, or a name that is not UTF-8.
struct ScanProblem: Sendable, Equatable {
    /// The folder or file as shown to the user: relative to the workspace, else absolute; invalid
    /// bytes shown as U+FFFD.
    var display: String
    var reason: String
    /// For a folder that could not be listed, the start of the keys of the files under it: an
    /// incremental update keeps those already indexed (the error may pass, like too many open
    /// files, or an unmounted drive) rather than dropping them as deleted; a full rebuild cannot.
    /// Empty for the workspace itself, which keeps every file.
    var keptPrefix: String?
    /// Whether it is a file (a name that is not UTF-8), counted with the files a reindex found;
    /// false for a folder.
    var isFile = false
}

/// Finds the markdown files to index: `**/*.md` under the workspace, skipping hidden files and
/// folders, plus each extra root's pattern. Symlinked folders are not followed. A symlinked file
/// is indexed, under the link's name, only when its target stays inside the workspace or an extra
/// root and no walk lists the target under its own name (a hidden note, a file no pattern names);
/// otherwise it is reported as skipped, with the reason: a link to a file that is indexed under
/// its own name (its text is indexed once), a link that leaves the workspace and the extra roots
/// (never indexed), a link to nothing.
struct WorkspaceScanner {
    var workspace: Workspace
    var extraRoots: [ExtraRoot]

    /// The files to index; what could not be looked at goes to `problems`.
    func scan(problems: inout [ScanProblem]) -> [ScannedFile] {
        var out: [ScannedFile] = []
        // Keys already listed, for the extra roots (which may overlap one another). The
        // workspace's keys are unique relative paths and never equal an extra root's, which are
        // absolute.
        var seen = Set<FileKey>()
        // The roots as the walks list them, resolved: the workspace's markdown files, then each
        // extra root's pattern.
        let realRoots =
            [RealRoot(path: FileInfo.realPath(workspace.root), pattern: nil)]
            + extraRoots.map { RealRoot(path: FileInfo.realPath($0.path), pattern: $0.pattern) }
        walk(
            workspace.root,
            relative: "",
            source: "memory",
            pattern: nil,
            realRoots: realRoots,
            into: &out,
            seen: &seen,
            problems: &problems
        )
        // (Not realRoots.first: a workspace that does not exist is missing from that list.)
        let realWorkspace = FileInfo.realPath(workspace.root) ?? workspace.root
        for extra in extraRoots {
            let realExtra = FileInfo.realPath(extra.path) ?? extra.path
            // A root inside the workspace adds the files its pattern names beside the markdown
            // files, which are the workspace's; a root holding the workspace skips that folder,
            // walked as the workspace.
            let inside = realExtra == realWorkspace || realExtra.hasPrefix(realWorkspace + "/")
            let holds = realWorkspace.hasPrefix(realExtra + "/")
            var exclusion = Exclusion(markdown: inside)
            if holds { exclusion.folder = extra.path + realWorkspace.dropFirst(realExtra.count) }
            walk(
                extra.path,
                relative: "",
                source: "extra",
                pattern: extra.pattern,
                exclusion: exclusion,
                realRoots: realRoots,
                into: &out,
                seen: &seen,
                problems: &problems
            )
        }
        return out
    }

    /// A root as its walk lists it: its real path (nil when it does not exist) and its pattern
    /// (nil: the workspace's markdown files).
    private struct RealRoot {
        var path: String?
        var pattern: GlobPattern?

        /// Whether `real` (a resolved path) lies inside the root.
        func holds(_ real: String) -> Bool {
            guard let path else { return false }
            return real.hasPrefix(path + "/")
        }

        /// Whether the root's walk lists `real` (a resolved path) under its own name: inside the
        /// root, in no hidden folder, and named by its pattern.
        func lists(_ real: String) -> Bool {
            guard let path, holds(real) else { return false }
            let rel = real.dropFirst(path.count + 1)
            if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { return false }
            return pattern?.matches(String(rel)) ?? rel.hasSuffix(".md")
        }
    }

    /// What an extra root's walk leaves to the workspace's.
    private struct Exclusion {
        /// Markdown files (the root lies inside the workspace).
        var markdown = false
        /// The workspace folder, as the walk meets it (the root holds the workspace).
        var folder: String?
    }

    /// Whether a path (absolute) would be indexed, for the watcher.
    func covers(_ absolutePath: String) -> Bool {
        if absolutePath.hasPrefix(workspace.root + "/") {
            let rel = String(absolutePath.dropFirst(workspace.root.count + 1))
            if rel.hasSuffix(".md") && !rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { return true }
            // Other files count when an extra root inside the workspace names them.
        }
        for extra in extraRoots where absolutePath.hasPrefix(extra.path + "/") {
            let rel = String(absolutePath.dropFirst(extra.path.count + 1))
            if extra.pattern.matches(rel) && !rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
                return true
            }
        }
        return false
    }

    private func walk(
        _ dir: String,
        relative: String,
        source: String,
        pattern: GlobPattern?,
        exclusion: Exclusion = Exclusion(),
        realRoots: [RealRoot],
        into out: inout [ScannedFile],
        seen: inout Set<FileKey>,
        problems: inout [ScanProblem]
    ) {
        guard let handle = opendir(dir) else {
            // A folder deleted meanwhile is simply gone; a root that does not exist, or a folder
            // that cannot be read, is reported.
            let error = errno
            if error != ENOENT || relative.isEmpty && source == "extra" {
                let inWorkspace = pattern == nil
                // A permission error is the owner's decision (as for a file,
                // ``MemoryIndex/keepsRows(afterReadError:)``): the files indexed under the folder
                // are dropped. Other errors may pass: they are kept.
                let kept = MemoryIndex.keepsRows(afterReadError: error)
                problems.append(
                    ScanProblem(
                        display: inWorkspace && !relative.isEmpty ? relative : dir,
                        reason: "cannot list the folder: \(String(cString: strerror(error)))",
                        keptPrefix: !kept
                            ? nil
                            : inWorkspace
                                ? (relative.isEmpty ? "" : relative + "/") : workspace.displayPath(dir) + "/"
                    )
                )
            }
            return
        }
        defer { closedir(handle) }
        let dfd = dirfd(handle)
        var subdirs: [String] = []
        var files: [String] = []
        while let entry = readdir(handle) {
            let type = entry.pointee.d_type
            var invalidName: String?
            // Read in place: copying `d_name` reads past a short entry (see directoryEntryName).
            let cName = directoryEntryName(entry)
            let bytes = UnsafeRawPointer(cName).assumingMemoryBound(to: UInt8.self)
            let name: String? = {
                // ., .., hidden files and folders (.git, .cache)
                if bytes[0] == UInt8(ascii: ".") { return nil }
                let length = strlen(cName)
                // In the workspace only markdown files count: skip other files before making strings.
                if pattern == nil && Int32(type) == Int32(DT_REG) && !Self.hasMarkdownSuffix(bytes, length) {
                    return nil
                }
                var name = String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
                // Decoding replaced invalid bytes (cheaper to compare than to validate first):
                // a String cannot name this file, so it can be neither opened nor keyed.
                let exact = name.withUTF8 { $0.count == length && memcmp($0.baseAddress!, bytes, length) == 0 }
                if exact { return name }
                invalidName = name
                return nil
            }()
            if let invalidName,
                Int32(type) != Int32(DT_REG) || (pattern?.matches(Self.join(relative, invalidName)) ?? true)
            {
                // A folder, or a link to one, is no file; a link is followed by its raw name.
                var isFile = Int32(type) == Int32(DT_REG)
                if Int32(type) == Int32(DT_LNK) || Int32(type) == Int32(DT_UNKNOWN) {
                    var st = Glibc.stat()
                    isFile = fstatat(dfd, cName, &st, 0) != 0 || (st.st_mode & S_IFMT) != S_IFDIR
                }
                problems.append(
                    ScanProblem(
                        display: pattern == nil ? Self.join(relative, invalidName) : Self.join(dir, invalidName),
                        reason: "the name is not UTF-8; rename it to index it",
                        keptPrefix: nil,
                        isFile: isFile
                    )
                )
            }
            guard let name else { continue }
            switch Int32(type) {
            case Int32(DT_DIR):
                subdirs.append(name)
            case Int32(DT_REG):
                files.append(name)
            case Int32(DT_LNK), Int32(DT_UNKNOWN):
                let path = Self.join(dir, name)
                if Int32(type) == Int32(DT_UNKNOWN), let own = FileInfo.status(path, followSymlinks: false),
                    !own.isSymlink
                {
                    // A file system without d_type: a real folder or file.
                    if own.isDirectory {
                        subdirs.append(name)
                    } else if own.isRegular && (pattern != nil || name.hasSuffix(".md")) {
                        files.append(name)
                    }
                    continue
                }
                let rel = Self.join(relative, name)
                // Only names this walk would index count (a link to a folder or to a `.txt` in the
                // workspace is passed over in silence, as such files are; a markdown name in an
                // extra root inside the workspace is the workspace walk's).
                let named =
                    (pattern?.matches(rel) ?? name.hasSuffix(".md")) && !(exclusion.markdown && name.hasSuffix(".md"))
                func skip(_ reason: String) {
                    let key = pattern == nil ? rel : workspace.displayPath(path)
                    problems.append(ScanProblem(display: key, reason: reason, keptPrefix: nil, isFile: true))
                }
                guard let st = FileInfo.status(path) else {
                    if named { skip("a symbolic link to nothing (its target is missing)") }
                    continue
                }
                if st.isRegular && named {
                    guard let real = FileInfo.realPath(path) else { continue }  // removed meanwhile
                    guard realRoots.contains(where: { $0.holds(real) }) else {
                        // Never indexed: the link would bring a file from anywhere into the notes.
                        skip("a symbolic link to \(real), outside the workspace and memory.paths: not indexed")
                        continue
                    }
                    // A link to a file that a walk lists under its own name would index it twice
                    // (each hit came back twice): its text is indexed once, under that name.
                    if let root = realRoots.first(where: { $0.lists(real) }) {
                        let target = root.pattern == nil ? String(real.dropFirst(root.path!.count + 1)) : real
                        skip("a symbolic link to \(target), which is indexed under that name")
                        continue
                    }
                    files.append(name)
                }
            default:
                continue
            }
        }
        // Byte order (the same as String's for NFC names, and cheaper); one fstatat per file,
        // relative to the open folder, rather than a lookup of the whole path. The paths are made
        // only for the files kept, in one allocation each.
        files.sort(by: Self.bytesPrecede)  // the same folder: names order the paths
        for name in files {
            let rel = Self.join(relative, name)
            // (In the workspace every name listed ends in `.md`.)
            if let pattern, !pattern.matches(rel) { continue }
            if exclusion.markdown && name.hasSuffix(".md") { continue }
            guard let st = FileInfo.status(name, in: dfd), st.isRegular else { continue }
            let path = Self.join(dir, name)
            // Under the workspace the key is the path relative to it; extra roots lie outside it.
            let key = pattern == nil ? rel : workspace.displayPath(path)
            if pattern != nil && !seen.insert(FileKey(key)).inserted { continue }
            out.append(
                ScannedFile(
                    absolutePath: path,
                    key: key,
                    source: source,
                    size: st.size,
                    mtime: st.mtimeNanoseconds,
                    ctime: st.ctimeNanoseconds,
                    inode: st.inode
                )
            )
        }
        for name in subdirs.sorted(by: Self.bytesPrecede) {
            let path = Self.join(dir, name)
            if path == exclusion.folder { continue }
            walk(
                path,
                relative: Self.join(relative, name),
                source: source,
                pattern: pattern,
                exclusion: exclusion,
                realRoots: realRoots,
                into: &out,
                seen: &seen,
                problems: &problems
            )
        }
    }

    /// `parent/name` (or `name` when `parent` is empty), built in one allocation.
    static func join(_ parent: String, _ name: String) -> String {
        if parent.isEmpty { return name }
        var parent = parent
        var name = name
        return parent.withUTF8 { p in
            name.withUTF8 { n in
                String(unsafeUninitializedCapacity: p.count + 1 + n.count) { buffer in
                    var i = buffer.initialize(fromContentsOf: p)
                    buffer[i] = UInt8(ascii: "/")
                    i += 1
                    return i + UnsafeMutableBufferPointer(rebasing: buffer[i...]).initialize(fromContentsOf: n)
                }
            }
        }
    }

    /// Whether `length` bytes end in `.md`.
    private static func hasMarkdownSuffix(_ bytes: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        length >= 3 && bytes[length - 3] == UInt8(ascii: ".") && bytes[length - 2] == UInt8(ascii: "m")
            && bytes[length - 1] == UInt8(ascii: "d")
    }

    /// Byte order of the UTF-8 forms (String's own order for NFC names, and cheaper).
    static func bytesPrecede(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = min(x.count, y.count)
                let c = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)
                return c != 0 ? c < 0 : x.count < y.count
            }
        }
    }
}
