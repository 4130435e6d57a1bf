//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import Foundation
import Glibc
import LocalGPTCore

/// The markdown workspace: the source of truth of the assistant's memory.
///
/// `MEMORY.md` holds long-lived facts, `memory/YYYY-MM-DD.md` the daily logs, `knowledge/` and
/// `skills/` whatever the user keeps there. The index is derived from these files and can always
/// be rebuilt from them.
public struct Workspace: Sendable, Equatable {
    /// The workspace folder, absolute and standardized (symlinks not resolved).
    public let root: String

    /// - Parameter root: the folder; relative paths are resolved against the current directory.
    public init(root: String) {
        self.root = Self.standardize(root)
    }

    /// What ``bootstrap()`` did.
    public struct BootstrapResult: Sendable, Equatable {
        /// Workspace-relative names of the files and folders it created.
        public var created: [String]
        /// True when MEMORY.md, HEARTBEAT.md and SOUL.md were all missing: a first run.
        public var isBrandNew: Bool
    }

    /// Creates the workspace, `memory/`, `skills/`, `knowledge/` and the template files that are
    /// missing. Existing files are never touched (each template is created with `O_EXCL`).
    ///
    /// - Throws: ``MemoryError`` when a folder or file cannot be created.
    @discardableResult
    public func bootstrap() throws(MemoryError) -> BootstrapResult {
        var created: [String] = []
        if !FileInfo.isDirectory(root) {
            try Self.makeDirectory(root)
            created.append(".")
        }
        for dir in WorkspaceTemplates.directories where !FileInfo.isDirectory(root + "/" + dir) {
            try Self.makeDirectory(root + "/" + dir)
            created.append(dir + "/")
        }
        let brandNew = ["MEMORY.md", "HEARTBEAT.md", "SOUL.md"].allSatisfy { !FileInfo.exists(root + "/" + $0) }
        for (name, text) in WorkspaceTemplates.files where try Self.createWhole(root + "/" + name, Array(text.utf8)) {
            created.append(name)
        }
        return BootstrapResult(created: created, isBrandNew: brandNew)
    }

    /// Creates `path` holding `bytes`, all or nothing, unless it exists (false then): the bytes go
    /// to a temporary file beside it, which is then linked to the name (`link` fails rather than
    /// replace a file made meanwhile; renamed where the file system has no hard links). A full
    /// disk used to leave an empty template, which was never written again.
    static func createWhole(_ path: String, _ bytes: [UInt8]) throws(MemoryError) -> Bool {
        if FileInfo.exists(path) { return false }
        var template = Array((path + ".tmp-XXXXXX").utf8CString)
        // mkstemp creates the file 0600.
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw .io("cannot create \(path): \(FileInfo.lastError())") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        defer { unlink(temporary) }
        do {
            defer { close(fd) }
            try FileInfo.writeAll(fd, bytes, path: path)
            if fsync(fd) != 0 { throw .io("cannot write \(path): \(FileInfo.lastError())") }
        }
        if link(temporary, path) != 0 {
            if errno == EEXIST { return false }
            // A file system without hard links (FAT, some network and FUSE ones): rename, which
            // would replace a file made in the instant since the check above.
            guard errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS else {
                throw .io("cannot create \(path): \(FileInfo.lastError())")
            }
            if FileInfo.exists(path) { return false }
            if rename(temporary, path) != 0 { throw .io("cannot create \(path): \(FileInfo.lastError())") }
        }
        return true
    }

    // MARK: Paths

    /// `memory/YYYY-MM-DD.md` for a day in the local time zone.
    public static func dailyLogName(for date: Date = Date()) -> String {
        "memory/\(dayString(date)).md"
    }

    /// `YYYY-MM-DD` in the local time zone.
    public static func dayString(_ date: Date) -> String {
        NamedDates.Day.local(date).description
    }

    /// A path as results show it: relative to the workspace when inside it, else absolute.
    public func displayPath(_ absolute: String) -> String {
        if absolute.hasPrefix(root + "/") { return String(absolute.dropFirst(root.count + 1)) }
        return absolute
    }

    /// A result's `file` made absolute again.
    public func absolutePath(_ display: String) -> String {
        display.hasPrefix("/") ? display : root + "/" + display
    }

    /// Resolves a path a model or plugin gave, confined to the workspace and `allowedRoots`.
    ///
    /// Rejects an empty path, a NUL byte, any `..` component, and an absolute path outside the
    /// allowed folders; then resolves symlinks and rejects a target outside them too.
    ///
    /// - Parameters:
    ///   - path: workspace-relative (`MEMORY.md`, `memory/2024-01-02.md`) or absolute.
    ///   - allowedRoots: further folders that may be read (the extra indexed roots).
    ///   - mustExist: when false, a missing file is resolved through its existing parent folder.
    /// - Returns: the absolute path (symlinks resolved) and the display path.
    /// - Throws: ``MemoryError`` (`invalidArgument`, `pathOutsideWorkspace`, `notFound`).
    public func resolve(
        _ path: String,
        allowedRoots: [String] = [],
        mustExist: Bool = true
    ) throws(MemoryError) -> (absolute: String, display: String) {
        if path.isEmpty { throw .invalidArgument("the path is empty") }
        if path.utf8.contains(0) { throw .invalidArgument("the path contains a NUL byte") }
        if path.utf8.count > 4096 { throw .invalidArgument("the path is too long") }
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        if components.contains("..") { throw .outside("the path must not contain '..'") }
        let joined = path.hasPrefix("/") ? path : root + "/" + path
        let lexical = Self.standardize(joined)
        let roots = ([root] + allowedRoots.map(Self.standardize)).map { ($0, FileInfo.realPath($0) ?? $0) }
        let inside: (String) -> Bool = { p in
            roots.contains { lex, real in p == lex || p.hasPrefix(lex + "/") || p == real || p.hasPrefix(real + "/") }
        }
        guard inside(lexical) else { throw .outside("\(path) is outside the workspace") }
        let real: String
        if let r = FileInfo.realPath(lexical) {
            real = r
        } else {
            if mustExist { throw .notFound("file not found: \(path)") }
            let parent = (lexical as NSString).deletingLastPathComponent
            guard let rp = FileInfo.realPath(parent) else { throw .notFound("folder not found for \(path)") }
            real = rp + "/" + (lexical as NSString).lastPathComponent
        }
        let realRoots = roots.map(\.1)
        guard realRoots.contains(where: { real == $0 || real.hasPrefix($0 + "/") }) else {
            throw .outside("\(path) resolves outside the workspace")
        }
        return (real, displayPath(lexical))
    }

    // MARK: Appending

    /// Appends `text` as new lines at the end of a workspace file, creating it (and its folder)
    /// when missing. A missing final newline in the file is added first. Appends are serialized
    /// with an exclusive `flock`, so concurrent writers never interleave lines.
    ///
    /// - Parameters:
    ///   - text: one or more lines; a trailing newline is added when missing.
    ///   - relativePath: the file, relative to the workspace.
    ///   - header: written first when the file is new (e.g. `# 2024-01-02`).
    /// - Returns: the 1-based line range the text occupies.
    /// - Throws: ``MemoryError`` when the file cannot be written or lies outside the workspace.
    public func append(
        _ text: String,
        to relativePath: String,
        header: String? = nil
    ) throws(MemoryError) -> ClosedRange<Int> {
        if text.utf8.contains(0) { throw .invalidArgument("the text contains a NUL byte") }
        let folder = (relativePath as NSString).deletingLastPathComponent
        if !folder.isEmpty && !folder.split(separator: "/").contains("..") {
            let dir = root + "/" + folder
            if !FileInfo.isDirectory(dir) { try Self.makeDirectory(dir) }
        }
        let (path, _) = try resolve(relativePath, mustExist: false)
        let realRoot = FileInfo.realPath(root) ?? root
        let userOnly = Self.userOnlyFiles.map { realRoot + "/" + $0 }
        if let i = userOnly.firstIndex(of: path) { throw Self.refusal(relativePath, Self.userOnlyFiles[i]) }
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw .io("cannot open \(relativePath) for appending: \(FileInfo.lastError())") }
        defer { close(fd) }
        // What was opened, not what the path named a moment before: a hard link (to the policy,
        // or to config.toml outside the workspace) reaches a file under another name.
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { throw .io("cannot read \(relativePath): \(FileInfo.lastError())") }
        for (i, file) in userOnly.enumerated() {
            var other = Glibc.stat()
            if stat(file, &other) == 0 && other.st_dev == st.st_dev && other.st_ino == st.st_ino {
                throw Self.refusal(relativePath, Self.userOnlyFiles[i])
            }
        }
        if st.st_nlink > 1 {
            throw .invalidArgument(
                "\(relativePath) has other hard links (it may be another file under a second name): "
                    + "memory tools only append to files with one name"
            )
        }
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        let existing = try FileInfo.readAll(fd: fd, path: relativePath)
        var lines = 0
        for b in existing where b == 0x0A { lines += 1 }
        var out: [UInt8] = []
        if !existing.isEmpty && existing.last != 0x0A {
            out.append(0x0A)
            lines += 1
        }
        if existing.isEmpty, let header {
            out += Array(header.utf8)
            out += [0x0A, 0x0A]
            lines += 2
        }
        var body = Array(text.utf8)
        if body.last != 0x0A { body.append(0x0A) }
        var newLines = 0
        for b in body where b == 0x0A { newLines += 1 }
        out += body
        try FileInfo.writeAll(fd, out, path: relativePath)
        return (lines + 1)...(lines + newLines)
    }

    /// The workspace files only the user writes: the signed standing instructions and the
    /// assistant's identity (docs/SECURITY.md). Memory appends refuse them under any name: a
    /// symbolic or hard link named MEMORY.md would otherwise write into the policy.
    static let userOnlyFiles = ["LocalGPT.md", "IDENTITY.md"]

    private static func refusal(_ path: String, _ file: String) -> MemoryError {
        .invalidArgument(
            "\(path) is \(file), which only you edit (then re-sign LocalGPT.md with `localgpt md sign`): "
                + "memory tools never write it"
        )
    }

    // MARK: Helpers

    static func standardize(_ path: String) -> String {
        var p = path
        if p == "~" || p.hasPrefix("~/") {
            let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
            p = home + p.dropFirst()
        }
        if !p.hasPrefix("/") { p = FileManager.default.currentDirectoryPath + "/" + p }
        var parts: [Substring] = []
        for c in p.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `mkdir -p` with mode 0700; the error names what is in the way.
    static func makeDirectory(_ path: String) throws(MemoryError) {
        if let reason = makeDirectories(atPath: path, mode: 0o700) {
            throw .io("cannot create folder \(path): \(reason)")
        }
    }
}
