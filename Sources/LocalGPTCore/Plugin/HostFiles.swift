//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin
import Foundation
import Glibc
import Logging

// The host extension "lgpt.host.files/1" (lgpt_host_files.h): read, write and edit files for a plugin,
// checked against its fs grants, confined by canonical path, protected files refused.

/// The file policy of one plugin: which roots it may read and write, and what is never reachable.
///
/// Paths are resolved the way the kernel would (each existing component's symlink followed), so a
/// symlink or `..` cannot lead out of a root. Writes to the protected files are refused wherever the
/// request points from (by canonical path and by inode, so a hard link does not help either).
public struct HostFilePolicy: Sendable {
    /// The canonical workspace: relative paths resolve against it.
    public var workspace: String
    /// Canonical roots the plugin may read below.
    public var readRoots: [String]
    /// Canonical roots the plugin may write below.
    public var writeRoots: [String]
    /// Files no plugin may write: the security module's list, matched by canonical path and inode.
    public var protected: ProtectedPaths
    /// Folders no plugin may read or write, even when a root covers them (canonical paths).
    public var deniedFolders: [String]

    /// Builds the policy for a plugin's granted permissions.
    ///
    /// - Parameters:
    ///   - paths: the LocalGPT home (workspace, protected files).
    ///   - permissions: the plugin's granted permissions (`fs.read`, `fs.write`).
    ///   - userHome: the user's home folder, whose credential folders are refused.
    public init(paths: LocalGPTPaths, permissions: PluginPermissions, userHome: String?) {
        let workspace = Self.canonical(paths.workspace)
        self.workspace = workspace
        func roots(_ entries: Set<String>) -> [String] {
            entries.sorted().map { Self.canonical(Self.expandRoot($0, workspace: workspace, userHome: userHome)) }
        }
        readRoots = roots(permissions.fsRead.union(permissions.fsWrite))
        writeRoots = roots(permissions.fsWrite)
        protected = ProtectedPaths(paths: paths, userHome: userHome)
        var denied: [String] = []
        let home = Self.canonical(paths.home)
        // The LocalGPT home outside the workspace: sessions, plugins, config, key, audit log.
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: home)) ?? [] {
            let full = home + "/" + entry
            if full != workspace { denied.append(Self.canonical(full)) }
        }
        if let userHome, !userHome.isEmpty {
            for name in Self.credentialFolders { denied.append(Self.canonical(userHome + "/" + name)) }
        }
        deniedFolders = denied.filter { !Self.isWithin(workspace, $0) }
    }

    /// Credential folders and files below the user's home that are never reachable.
    public static let credentialFolders = [
        ".ssh", ".aws", ".gnupg", ".config", ".docker", ".kube", ".npmrc", ".pypirc", ".netrc", ".git-credentials",
    ]

    /// `$WORKSPACE`, `$WORKSPACE/sub`, `~/x`, absolute, or relative to the workspace.
    static func expandRoot(_ entry: String, workspace: String, userHome: String?) -> String {
        if entry == "$WORKSPACE" { return workspace }
        if entry.hasPrefix("$WORKSPACE/") { return workspace + entry.dropFirst("$WORKSPACE".count) }
        if entry.hasPrefix("~/"), let userHome { return userHome + entry.dropFirst() }
        if entry.hasPrefix("/") { return entry }
        return workspace + "/" + entry
    }

    /// Whether `path` is `root` or below it (both canonical).
    public static func isWithin(_ path: String, _ root: String) -> Bool {
        if root == "/" { return true }
        return path == root || path.hasPrefix(root + "/")
    }

    /// Resolves `path` like the kernel: each existing component's symlinks are followed, `..` goes
    /// to the parent of what is already resolved. Components that do not exist are kept as written.
    public static func canonical(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var resolved = ""  // "" is the root
        var exists = true
        var hops = 0
        var pending = absolute.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        pending.reverse()
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                if let slash = resolved.lastIndex(of: "/") { resolved = String(resolved[..<slash]) }
                continue
            }
            let candidate = resolved + "/" + component
            guard exists else {
                resolved = candidate
                continue
            }
            var info = stat()
            if lstat(candidate, &info) != 0 {
                exists = false
                resolved = candidate
                continue
            }
            if (info.st_mode & S_IFMT) == S_IFLNK, hops < 40 {
                hops += 1
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(candidate, &buffer, Int(PATH_MAX))
                guard n > 0 else {
                    resolved = candidate
                    continue
                }
                let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let parts = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
                if target.hasPrefix("/") { resolved = "" }
                pending.append(contentsOf: parts.reversed())
                continue
            }
            resolved = candidate
        }
        return resolved.isEmpty ? "/" : resolved
    }

    /// What a request may do with a path.
    public enum Access: Sendable { case read, write }

    /// The canonical path for a request, or why it is refused.
    ///
    /// - Throws: ``HostFilesError`` with `.permissionDenied` (outside the grant, a denied folder, a
    ///   protected file for writing) or `.invalidArgument` (empty, NUL).
    public func resolve(_ path: String, for access: Access) throws(HostFilesError) -> String {
        guard !path.isEmpty else { throw .invalidArgument("path is empty") }
        guard !path.contains("\0") else { throw .invalidArgument("path contains a NUL byte") }
        if path == "~" || path.hasPrefix("~/") {
            throw .invalidArgument("paths starting with ~ are not supported; use a path in the workspace")
        }
        let target = canonicalTarget(path)
        let roots = access == .read ? readRoots : writeRoots
        guard !roots.isEmpty else {
            let verb = access == .read ? "read" : "write"
            throw .permissionDenied(
                "this plugin was granted no file \(verb) access (permissions.fs.\(verb)), so it cannot \(verb) "
                    + display(target)
            )
        }
        guard roots.contains(where: { Self.isWithin(target, $0) }) else {
            throw .permissionDenied(
                "\(display(target)) is outside the folders this plugin may \(access == .read ? "read" : "write") "
                    + "(the workspace is \(workspace))"
            )
        }
        if let folder = deniedFolders.first(where: { Self.isWithin(target, $0) }) {
            throw .permissionDenied("\(display(target)) is inside \(folder), which tools may not access")
        }
        if access == .write, let file = protected.protectedFile(for: target, workingDirectory: workspace) {
            throw .protected(
                "\(display(target)) is protected and cannot be changed by tools: it is \(file.kind.explanation)"
            )
        }
        return target
    }

    /// A request's path, canonical: a relative path is the workspace's.
    public func canonicalTarget(_ path: String) -> String {
        Self.canonical(path.hasPrefix("/") ? path : workspace + "/" + path)
    }

    /// Whether a canonical path is a protected file: by path, or by inode when it exists (hard links).
    public func isProtected(_ target: String) -> Bool {
        protected.protectedFile(for: target, workingDirectory: workspace) != nil
    }

    /// The path relative to the workspace when inside it, else absolute.
    public func display(_ canonicalPath: String) -> String {
        Self.display(canonicalPath, workspace: workspace)
    }

    /// `canonicalPath` relative to the (canonical) workspace when inside it, else absolute.
    public static func display(_ canonicalPath: String, workspace: String) -> String {
        if canonicalPath == workspace { return "." }
        if canonicalPath.hasPrefix(workspace + "/") { return String(canonicalPath.dropFirst(workspace.count + 1)) }
        return canonicalPath
    }
}

/// Why a file request failed.
public struct HostFilesError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        private enum Base: Hashable, Sendable { case invalidArgument, notFound, permissionDenied, protected, io }
        private let base: Base
        public static let invalidArgument = Code(base: .invalidArgument)
        public static let notFound = Code(base: .notFound)
        public static let permissionDenied = Code(base: .permissionDenied)
        /// A protected file was to be written (audited as `write_blocked`).
        public static let protected = Code(base: .protected)
        public static let io = Code(base: .io)
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    static func invalidArgument(_ m: String) -> Self { .init(code: .invalidArgument, message: m) }
    static func notFound(_ m: String) -> Self { .init(code: .notFound, message: m) }
    static func permissionDenied(_ m: String) -> Self { .init(code: .permissionDenied, message: m) }
    static func protected(_ m: String) -> Self { .init(code: .protected, message: m) }
    static func io(_ m: String) -> Self { .init(code: .io, message: m) }

    var status: lgpt_status {
        switch code {
        case .invalidArgument: return LGPT_ERR_INVALID_ARGUMENT
        case .notFound: return LGPT_ERR_NOT_FOUND
        case .permissionDenied, .protected: return LGPT_ERR_PERMISSION_DENIED
        default: return LGPT_ERR_IO
        }
    }
}

/// The file operations behind `lgpt.host.files/1`, on resolved paths.
public enum HostFileOperations {
    /// The largest file read or edited, and the largest content written.
    public static let maxFileBytes = 32 << 20
    /// The default and largest number of lines one read returns.
    public static let defaultReadLines = 2000
    public static let maxReadLines = 100_000

    /// Reads lines `offset ..< offset + limit` (0-based) of a text file.
    ///
    /// - Throws: ``HostFilesError``: missing, not a regular file, too large, binary.
    public static func read(
        _ path: String,
        offset: Int,
        limit: Int
    ) throws(HostFilesError) -> (
        content: String, firstLine: Int, lineCount: Int, totalLines: Int, bytes: Int
    ) {
        let bytes = try readBytes(path)
        if bytes.prefix(8192).contains(0) {
            throw .invalidArgument("\(path) is a binary file (\(bytes.count) bytes); it cannot be shown as text")
        }
        // A line ends after "\n"; a final line without "\n" counts when non-empty. One pass keeps
        // only the two line starts the window needs (an array of every start took 8 bytes a line:
        // 250 MB for a 31 MiB file of empty lines).
        let wantedFirst = max(offset, 0)
        let wantedLast = wantedFirst + min(max(limit, 0), Int.max - wantedFirst)
        var newlines = 0
        var firstStart = wantedFirst == 0 ? 0 : -1
        var lastStart = wantedLast == 0 ? 0 : -1
        bytes.withUnsafeBufferPointer { buffer in
            for (i, b) in buffer.enumerated() where b == UInt8(ascii: "\n") {
                newlines += 1  // line `newlines` (0-based) starts at i + 1
                if newlines == wantedFirst { firstStart = i + 1 }
                if newlines == wantedLast { lastStart = i + 1 }
            }
        }
        let total = bytes.isEmpty ? 0 : (bytes.last == UInt8(ascii: "\n") ? newlines : newlines + 1)
        let first = min(wantedFirst, total)
        let last = min(wantedLast, total)
        let from = first < total ? firstStart : bytes.count
        let to = last < total ? lastStart : bytes.count
        let content = String(decoding: bytes[from..<to], as: UTF8.self)
        return (content, first + 1, last - first, total, bytes.count)
    }

    /// Writes (or appends) `content`, creating parent folders; a replaced file is swapped in atomically
    /// and keeps its mode.
    ///
    /// - Throws: ``HostFilesError`` when the target is a folder or the write fails.
    public static func write(_ path: String, content: [UInt8], append: Bool) throws(HostFilesError) -> Bool {
        guard content.count <= maxFileBytes else {
            throw .invalidArgument("content is \(content.count) bytes; the limit is \(maxFileBytes)")
        }
        try createParents(of: path)
        var info = stat()
        let existed = lstat(path, &info) == 0
        if existed && (info.st_mode & S_IFMT) == S_IFDIR { throw .invalidArgument("\(path) is a folder") }
        if append {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .io("cannot open \(path): \(errnoText())") }
            defer { close(fd) }
            try writeAll(fd, content, path: path)
            return !existed
        }
        try replaceAtomically(path, with: content, mode: existed ? info.st_mode & 0o7777 : 0o644)
        return !existed
    }

    /// Replaces `old` by `new` (byte-wise, non-overlapping, left to right).
    ///
    /// - Throws: ``HostFilesError``: no match, several matches without `replaceAll`, a binary file.
    public static func edit(
        _ path: String,
        old: [UInt8],
        new: [UInt8],
        replaceAll: Bool
    ) throws(HostFilesError) -> Int {
        guard !old.isEmpty else { throw .invalidArgument("old_string is empty") }
        guard old != new else { throw .invalidArgument("old_string and new_string are identical") }
        let bytes = try readBytes(path)
        if bytes.prefix(8192).contains(0) { throw .invalidArgument("\(path) is a binary file; it cannot be edited") }
        let matches = occurrences(of: old, in: bytes)
        if matches.isEmpty { throw .invalidArgument("old_string not found in the file") }
        if matches.count > 1 && !replaceAll {
            throw .invalidArgument(
                "old_string occurs \(matches.count) times; include more surrounding text to make it unique, "
                    + "or set replace_all to replace every occurrence"
            )
        }
        let used = replaceAll ? matches : [matches[0]]
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + used.count * max(0, new.count - old.count))
        var cursor = 0
        for m in used {
            out.append(contentsOf: bytes[cursor..<m])
            out.append(contentsOf: new)
            cursor = m + old.count
        }
        out.append(contentsOf: bytes[cursor...])
        var info = stat()
        let mode = stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0o644
        try replaceAtomically(path, with: out, mode: mode)
        return used.count
    }

    /// Start offsets of the non-overlapping occurrences of `needle`.
    public static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        guard !needle.isEmpty, haystack.count >= needle.count else { return [] }
        var found: [Int] = []
        let first = needle[0]
        var i = 0
        let end = haystack.count - needle.count
        while i <= end {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) {
                found.append(i)
                i += needle.count
            } else {
                i += 1
            }
        }
        return found
    }

    static func readBytes(_ path: String) throws(HostFilesError) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever and
        // deaf to Ctrl-C; it has no effect on the regular files read below.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw .notFound("file not found: \(path)") }
            throw .io("cannot open \(path): \(errnoText(e))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io("cannot stat \(path): \(errnoText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .invalidArgument("\(path) is not a regular file") }
        guard Int(info.st_size) <= maxFileBytes else {
            throw .invalidArgument(
                "\(path) is \(info.st_size) bytes, more than the \(maxFileBytes >> 20) MiB the file tools handle; "
                    + "use bash (head, sed -n, grep) instead"
            )
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var got = 0
        while got < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot read \(path): \(errnoText())")
            }
            if n == 0 { break }
            got += n
        }
        return Array(bytes[0..<got])
    }

    static func createParents(of path: String) throws(HostFilesError) {
        let parent = (path as NSString).deletingLastPathComponent
        var info = stat()
        if stat(parent, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw .invalidArgument("\(parent) is not a folder") }
            return
        }
        try createParents(of: parent)
        if mkdir(parent, 0o755) != 0 && errno != EEXIST {
            throw .io("cannot create folder \(parent): \(errnoText())")
        }
    }

    static func replaceAtomically(_ path: String, with bytes: [UInt8], mode: mode_t) throws(HostFilesError) {
        let dir = (path as NSString).deletingLastPathComponent
        var template = Array("\(dir)/.\((path as NSString).lastPathComponent).lgpt-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .io("cannot write \(path): \(errnoText())") }
        let tmp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var failure: HostFilesError? = nil
        do {
            try writeAll(fd, bytes, path: path)
        } catch {
            failure = error
        }
        if failure == nil && (fchmod(fd, mode) != 0 || fsync(fd) != 0) { failure = .io("cannot write \(path)") }
        close(fd)
        if failure == nil && rename(tmp, path) != 0 { failure = .io("cannot replace \(path): \(errnoText())") }
        if let failure {
            unlink(tmp)
            throw failure
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(HostFilesError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot write \(path): \(errnoText())")
            }
            off += n
        }
    }

    static func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }
}

// MARK: - The service behind the C table

extension PluginHost {
    enum FileOperation: String { case read, write, edit }

    /// The file policy for a plugin (its grants, this host's paths and the user's home).
    public func filePolicy(for plugin: LoadedPlugin) -> HostFilePolicy {
        HostFilePolicy(paths: paths, permissions: plugin.granted, userHome: configuration.environment["HOME"])
    }

    func serviceFiles(
        _ plugin: LoadedPlugin,
        operation: FileOperation,
        request text: String,
        out: UnsafePointer<lgpt_sink>
    ) -> lgpt_status {
        let service = "files.\(operation.rawValue)"
        guard let req = try? JSONValue(parsing: text), case .object = req else {
            return invalid("\(service): the request must be a JSON object", out: out)
        }
        guard let path = req["path"]?.stringValue else { return invalid("\(service): \"path\" is required", out: out) }
        let policy = filePolicy(for: plugin)
        let target: String
        do {
            target = try policy.resolve(path, for: operation == .read ? .read : .write)
        } catch {
            if error.code == .protected {
                securityEvents?.record(
                    SecurityEvent(
                        action: "write_blocked",
                        source: plugin.id,
                        details: [
                            "path": .string(
                                secretMasker.cut(policy.display(policy.canonicalTarget(path)), keepingFirst: 300)
                            )
                        ]
                    )
                )
                logger.warning("write to a protected file refused", metadata: ["plugin.id": "\(plugin.id)"])
                write(errorDocument(code: "permission_denied", message: error.message), to: out)
                return LGPT_ERR_PERMISSION_DENIED
            }
            if error.code == .permissionDenied {
                let what = operation == .read ? "read" : "write"
                securityEvents?.record(
                    SecurityEvent(
                        action: "path_denied",
                        source: plugin.id,
                        details: [
                            "operation": .string(what), "path": .string(secretMasker.cut(path, keepingFirst: 300)),
                        ]
                    )
                )
                logger.warning("DENIED files \(what)", metadata: ["plugin.id": "\(plugin.id)", "service": "files"])
                write(errorDocument(code: "permission_denied", message: error.message), to: out)
                return LGPT_ERR_PERMISSION_DENIED
            }
            write(errorDocument(code: statusCode(error.status), message: error.message), to: out)
            return error.status
        }
        let shown = policy.display(target)
        do {
            let reply: JSONValue
            switch operation {
            case .read:
                let offset = Int(req["offset"]?.intValue ?? 0)
                let limit = Int(req["limit"]?.intValue ?? Int64(HostFileOperations.defaultReadLines))
                guard offset >= 0, limit >= 1, limit <= HostFileOperations.maxReadLines else {
                    return invalid(
                        "files.read: offset must be >= 0 and limit 1...\(HostFileOperations.maxReadLines)",
                        out: out
                    )
                }
                let r = try HostFileOperations.read(target, offset: offset, limit: limit)
                reply = [
                    "path": .string(shown), "content": .string(r.content), "first_line": .int(Int64(r.firstLine)),
                    "line_count": .int(Int64(r.lineCount)), "total_lines": .int(Int64(r.totalLines)),
                    "bytes": .int(Int64(r.bytes)),
                ]
            case .write:
                guard let content = req["content"]?.stringValue else {
                    return invalid("files.write: \"content\" (a string) is required", out: out)
                }
                let bytes = Array(content.utf8)
                let created = try HostFileOperations.write(
                    target,
                    content: bytes,
                    append: req["append"]?.boolValue ?? false
                )
                reply = ["path": .string(shown), "bytes": .int(Int64(bytes.count)), "created": .bool(created)]
            case .edit:
                guard let old = req["old_string"]?.stringValue, let new = req["new_string"]?.stringValue else {
                    return invalid("files.edit: \"old_string\" and \"new_string\" (strings) are required", out: out)
                }
                let n = try HostFileOperations.edit(
                    target,
                    old: Array(old.utf8),
                    new: Array(new.utf8),
                    replaceAll: req["replace_all"]?.boolValue ?? false
                )
                reply = ["path": .string(shown), "replacements": .int(Int64(n))]
            }
            logger.debug("files \(operation.rawValue)", metadata: ["plugin.id": "\(plugin.id)"])
            return write(reply.encoded(), to: out)
        } catch {
            let message = error.message.replacingOccurrences(of: target, with: shown)
            write(errorDocument(code: statusCode(error.status), message: message), to: out)
            return error.status
        }
    }
}

/// The C table returned for `lgpt.host.files/1`; one static table serves every plugin (the plugin is
/// recovered from `host_ctx`).
enum HostFilesExtension {
    static let id = "lgpt.host.files/1"

    nonisolated(unsafe) static let table: UnsafeMutablePointer<lgpt_host_files_v1> = {
        let p = UnsafeMutablePointer<lgpt_host_files_v1>.allocate(capacity: 1)
        p.initialize(
            to: lgpt_host_files_v1(
                struct_size: UInt32(MemoryLayout<lgpt_host_files_v1>.size),
                flags: 0,
                read: { ctx, call, req, len, out in serve(ctx, call, req, len, out, .read) },
                write: { ctx, call, req, len, out in serve(ctx, call, req, len, out, .write) },
                edit: { ctx, call, req, len, out in serve(ctx, call, req, len, out, .edit) }
            )
        )
        return p
    }()

    /// One operation for the plugin of `ctx`, refused outside a call the host is making to it.
    private static func serve(
        _ ctx: UnsafeMutableRawPointer,
        _ call: UnsafePointer<lgpt_call>,
        _ request: UnsafePointer<CChar>,
        _ length: Int,
        _ out: UnsafePointer<lgpt_sink>,
        _ operation: PluginHost.FileOperation
    ) -> lgpt_status {
        let plugin = HostServices.plugin(ctx)
        let service = "files.\(operation.rawValue)"
        if let refused = plugin.host.outsideCall(plugin, service: service, callID: call.pointee.call_id, out: out) {
            return refused
        }
        return plugin.host.serviceFiles(
            plugin,
            operation: operation,
            request: HostServices.string(request, length),
            out: out
        )
    }
}
