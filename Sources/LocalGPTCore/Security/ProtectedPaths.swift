//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Crypto
import Glibc

/// The files the assistant's tools may not write: the signed policy, its manifest, IDENTITY.md,
/// the device key, the audit log, config.toml and grants.json.
///
/// A path is compared by what it resolves to, never by its bare name: relative paths against the
/// working directory, `~` and symbolic links resolved (including a dangling link, which a write
/// would follow), `.`/`..` handled after resolution; and an existing file is also compared by
/// device and inode, so a hard link to a protected file is protected too. A file called
/// `IDENTITY.md` in some other project is not protected (the reference's false positive).
///
/// The file tools call ``checkWrite(_:tool:workingDirectory:audit:)``; the shell tool calls
/// ``checkCommand(_:tool:workingDirectory:audit:)``. Both refuse with a message and append a
/// `write_blocked` entry to the audit log.
public struct ProtectedPaths: Sendable {
    /// Which protected file.
    public enum Kind: String, Sendable, CaseIterable {
        case policy, manifest, identity, deviceKey, auditLog, config, grants

        /// What the file is and how the user changes it, for refusals.
        public var explanation: String {
            switch self {
            case .policy:
                return "LocalGPT.md, your signed standing instructions: edit it yourself, then re-sign it with "
                    + "`localgpt md sign`"
            case .manifest: return "the signature of LocalGPT.md: only `localgpt md sign` writes it"
            case .identity: return "IDENTITY.md, the assistant's identity: edit it yourself"
            case .deviceKey: return "the device key: nothing may read or write it but LocalGPT itself"
            case .auditLog: return "the security audit log: only LocalGPT appends to it"
            case .config: return "config.toml: change it yourself or with `localgpt config set`"
            case .grants: return "the plugin grants: only `localgpt plugin install` writes them"
            }
        }
    }

    /// A protected file as configured (not resolved).
    public struct File: Sendable, Equatable {
        public var kind: Kind
        public var path: String
    }

    public let files: [File]
    /// The user's home, for `~` and `$HOME` in paths and commands.
    public let userHome: String
    /// The LocalGPT home, for `$LOCALGPT_HOME` in commands.
    public let localGPTHome: String

    /// The protected files of a LocalGPT home.
    ///
    /// - Parameters:
    ///   - paths: the LocalGPT home.
    ///   - userHome: what `~` means (default `$HOME`).
    public init(paths: LocalGPTPaths, userHome: String? = nil) {
        files = [
            File(kind: .policy, path: paths.policyFile),
            File(kind: .manifest, path: paths.policyManifest),
            File(kind: .identity, path: paths.identityFile),
            File(kind: .deviceKey, path: paths.deviceKey),
            File(kind: .auditLog, path: paths.auditLog),
            File(kind: .config, path: paths.configFile),
            File(kind: .grants, path: paths.grantsFile),
        ]
        self.userHome = userHome ?? ProcessEnvironment.current["HOME"] ?? "/"
        localGPTHome = paths.home
    }

    // MARK: Matching

    /// The protected file that a write to `path` would change, if any.
    ///
    /// - Parameters:
    ///   - path: absolute, relative to `workingDirectory`, or starting with `~`.
    ///   - workingDirectory: where relative paths start.
    /// - Returns: the protected file, or nil when `path` is not one.
    public func protectedFile(for path: String, workingDirectory: String) -> File? {
        let target = Self.canonicalPath(expandTilde(path), relativeTo: workingDirectory)
        let targetID = Self.fileID(target)
        for file in files {
            let canonical = Self.canonicalPath(file.path, relativeTo: "/")
            if canonical == target { return file }
            if let targetID, let id = Self.fileID(canonical), id == targetID { return file }
        }
        return nil
    }

    /// The protected files a shell command names: each word (quotes removed, split at shell
    /// operators and at `=`), with `~`, `$HOME` and `$LOCALGPT_HOME` expanded and globs matched,
    /// resolved like ``protectedFile(for:workingDirectory:)``. A heuristic: a command that builds a
    /// name at run time is the sandbox's to stop.
    public func protectedFiles(inCommand command: String, workingDirectory: String) -> [File] {
        var found: [File] = []
        for word in Self.shellWords(command) {
            var candidates = [word]
            if let eq = word.firstIndex(of: "="), word.index(after: eq) < word.endIndex {
                candidates.append(String(word[word.index(after: eq)...]))
            }
            for candidate in candidates {
                var w = expandTilde(candidate)
                for (name, value) in [("HOME", userHome), ("LOCALGPT_HOME", localGPTHome)] {
                    w = w.replacing("${\(name)}", with: value).replacing("$\(name)", with: value)
                }
                if w.isEmpty || w.contains("$") || w.contains("`") { continue }
                let matches: [File]
                if w.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) {
                    matches = globMatches(w, workingDirectory: workingDirectory)
                } else {
                    matches = protectedFile(for: w, workingDirectory: workingDirectory).map { [$0] } ?? []
                }
                for m in matches where !found.contains(m) { found.append(m) }
            }
        }
        return found
    }

    private func globMatches(_ pattern: String, workingDirectory: String) -> [File] {
        let absolute = pattern.hasPrefix("/") ? pattern : workingDirectory + "/" + pattern
        // Resolve the folders before the first component with a glob character.
        var components = absolute.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let firstGlob =
            components.firstIndex { $0.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) }
            ?? components.count
        let base = Self.canonicalPath("/" + components[..<firstGlob].joined(separator: "/"), relativeTo: "/")
        components = Array(components[firstGlob...])
        let resolvedPattern = (base == "/" ? "" : base) + "/" + components.joined(separator: "/")
        return files.filter { file in
            fnmatch(resolvedPattern, Self.canonicalPath(file.path, relativeTo: "/"), FNM_PATHNAME) == 0
        }
    }

    private func expandTilde(_ path: String) -> String {
        if path == "~" { return userHome }
        if path.hasPrefix("~/") { return userHome + path.dropFirst() }
        return path
    }

    // MARK: Guards

    /// Refuses a file-tool write to a protected file: appends `write_blocked` (source
    /// `tool:<tool>`) to the audit log and throws.
    ///
    /// - Parameters:
    ///   - path: the path the tool was given.
    ///   - tool: `write_file`, `edit_file`...
    ///   - workingDirectory: where relative paths start.
    ///   - audit: the audit log (nil: refuse without recording).
    /// - Throws: ``SecurityError`` (``SecurityError/Code/protectedPath``) when `path` is protected.
    public func checkWrite(
        _ path: String,
        tool: String,
        workingDirectory: String,
        audit: AuditLog?
    ) throws(SecurityError) {
        guard let file = protectedFile(for: path, workingDirectory: workingDirectory) else { return }
        _ = try? audit?.append(
            .writeBlocked,
            source: "tool:\(tool)",
            details: ["path": .string(path), "protected": .string(file.kind.rawValue), "file": .string(file.path)]
        )
        throw SecurityError(.protectedPath, "\(tool) refused: \(path) is \(file.kind.explanation)")
    }

    /// Refuses a shell command that names a protected file (reading or writing: the shell cannot
    /// be told apart, and the device key and config.toml must not be read either): appends
    /// `write_blocked` (source `tool:<tool>`, the command's SHA-256, not its text) and throws.
    ///
    /// - Throws: ``SecurityError`` (``SecurityError/Code/protectedPath``) when the command names a
    ///   protected file.
    public func checkCommand(
        _ command: String,
        tool: String = "bash",
        workingDirectory: String,
        audit: AuditLog?
    ) throws(SecurityError) {
        let named = protectedFiles(inCommand: command, workingDirectory: workingDirectory)
        guard let first = named.first else { return }
        _ = try? audit?.append(
            .writeBlocked,
            source: "tool:\(tool)",
            details: [
                "protected": .array(named.map { .string($0.kind.rawValue) }),
                "command_sha256": .string(Hex.encode(SHA256.hash(data: Array(command.utf8)))),
            ]
        )
        throw SecurityError(
            .protectedPath,
            "\(tool) refused: the command names \(first.path), which is \(first.kind.explanation)"
        )
    }

    // MARK: Resolution

    /// `path` made absolute against `base` with every existing symbolic link resolved (a dangling
    /// final link to its target), `.` and `..` applied to the resolved prefix, and missing trailing
    /// components kept as written.
    static func canonicalPath(_ path: String, relativeTo base: String) -> String {
        var pending = (path.hasPrefix("/") ? path : base + "/" + path)
            .split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        pending.reverse()  // a stack: last element is the next component
        var resolved: [String] = []
        var hops = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = "/" + (resolved + [component]).joined(separator: "/")
            var info = stat()
            guard lstat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK, hops < 40,
                let target = readLink(candidate)
            else {
                resolved.append(component)
                continue
            }
            hops += 1
            let parts = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            if target.hasPrefix("/") { resolved = [] }
            pending += parts.reversed()
        }
        return "/" + resolved.joined(separator: "/")
    }

    private static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private struct FileID: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    private static func fileID(_ path: String) -> FileID? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Splits a command into words as a shell would, roughly: quotes removed, backslash escapes,
    /// and the operators `; | & < > ( )` separating words.
    static func shellWords(_ command: String) -> [String] {
        var words: [String] = []
        var current = ""
        var hasWord = false
        var quote: Character? = nil
        var escaped = false
        func flush() {
            if hasWord { words.append(current) }
            current = ""
            hasWord = false
        }
        for c in command {
            if escaped {
                current.append(c)
                escaped = false
                continue
            }
            if let q = quote {
                if c == q {
                    quote = nil
                } else if c == "\\" && q == "\"" {
                    escaped = true
                } else {
                    current.append(c)
                }
                continue
            }
            switch c {
            case "\\":
                escaped = true
                hasWord = true
            case "'", "\"":
                quote = c
                hasWord = true
            case " ", "\t", "\n", "\r", ";", "|", "&", "<", ">", "(", ")":
                flush()
            default:
                current.append(c)
                hasWord = true
            }
        }
        flush()
        return words
    }
}
