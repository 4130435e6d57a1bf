//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTSandbox
import Foundation
import Glibc
import Synchronization

/// Keeps the protected files that a sandboxed command can reach as they were before it ran.
///
/// The sandbox leaves the workspace writable as a whole (Landlock grants folders, it cannot leave
/// out a file inside one), and LocalGPT.md, its manifest and IDENTITY.md live there. The shell
/// tool refuses a command that names them, but a name built at run time (`f=IDENT; echo x >
/// ${f}ITY.md`) gets past any reading of the command text. So every sandboxed command is wrapped:
/// ``begin(_:)`` notes each file's state (absent, or its bytes and mode), ``end(_:)`` compares and
/// puts back whatever changed (a created file removed, a changed or removed one rewritten
/// atomically) and returns what it found, for the audit log and the command's result. What the
/// command wrote is kept in a folder the sandbox cannot reach, so nothing is lost: were the change
/// the user's own edit, made by hand while a command ran, it can be taken back from there.
///
/// Commands may run at once, in this process or in others (a daemon and a chat): the state noted
/// by the first of them is the reference until the last one ends, so a command that starts while
/// another has changed a file cannot make that change the reference. The reference and the
/// running commands are kept in files in the LocalGPT home (`<home>/guard/`, out of the sandbox's
/// reach), under a lock: `references/<sha256 of the path>` holds a file's state, `holders/` one
/// file per running command, naming its host process and, once started, the command's process
/// group. When a host dies mid-run (SIGKILL, a closed terminal), its command's background
/// processes outlive it (only the direct child dies with the host). The next guard call in any
/// LocalGPT process (``begin(_:)``, or ``recover()``, which the CLI runs when it loads the plugin
/// host) finds the holder whose host is gone, kills what is left of its command, and puts the
/// files back to the reference.
///
/// When the state folder cannot be used, a command is still guarded, against the state it noted
/// itself (``Token/problem`` says why).
public struct ProtectedFileGuard: Sendable {
    /// What a file was before the commands, or is after.
    enum State: Equatable {
        case absent
        case file(bytes: [UInt8], mode: mode_t)
        /// Something the guard does not copy: a symlink, a folder, a file over ``copyLimit``, or a
        /// file it cannot read. Compared by identity and reported when changed; as a reference it
        /// cannot be rewritten, as a change it is moved aside.
        case other(device: UInt64, inode: UInt64, size: Int64, modified: Int64)
    }

    /// A change a command made to a protected file.
    public struct Change: Sendable, Equatable {
        /// The protected file.
        public var path: String
        /// Whether the file is as it was again.
        public var restored: Bool
        /// Where what the command left was kept: a copy of a file, or the thing itself moved (a
        /// folder, a link, a large file).
        public var keptAt: String?
    }

    /// What ``recover()`` found: the commands of hosts that died mid-run.
    public struct Recovery: Sendable, Equatable {
        /// The protected files those commands changed, put back.
        public var changes: [Change] = []
        /// How many of their processes were still running (and were killed).
        public var processesKilled = 0
    }

    /// One command's watch.
    public struct Token: Sendable {
        fileprivate let paths: [String]
        fileprivate let references: [String: State]
        fileprivate let holder: HolderSlot?
        /// What the start of the watch found of commands whose host died mid-run (see ``recover()``).
        public let recovered: Recovery
        /// Why the watch is not shared with other commands (the state folder cannot be used), or nil.
        public let problem: String?
    }

    /// Files larger than this are compared by identity only and moved aside whole when changed
    /// (protected files are small).
    public static let copyLimit = 4 << 20

    /// The folder of references, running commands and the lock (created, mode 0700).
    public let stateDirectory: String
    /// Where the bytes of a changed file are kept (created, mode 0700).
    public let keptDirectory: String

    public init(stateDirectory: String, keptDirectory: String) {
        self.stateDirectory = stateDirectory
        self.keptDirectory = keptDirectory
    }

    /// The guard of the LocalGPT home `paths`.
    public init(paths: LocalGPTPaths) {
        self.init(stateDirectory: paths.guardDirectory, keptDirectory: paths.blockedWritesDirectory)
    }

    private var referencesDirectory: String { stateDirectory + "/references" }
    private var holdersDirectory: String { stateDirectory + "/holders" }

    /// Starts watching `paths` (absolute) for one command. Commands whose host died are dealt with
    /// first (``Token/recovered``).
    public func begin(_ paths: [String]) -> Token {
        begin(paths, host: .current)
    }

    /// ``begin(_:)`` on behalf of `host` (tests stand for a host that died).
    func begin(_ paths: [String], host: ProcessIdentity) -> Token {
        var snapshot: [String: State] = [:]
        let locked = withLock { () -> (Recovery, HolderSlot?) in
            let (recovered, watched) = recoverLocked()
            for path in paths where snapshot[path] == nil {
                // A reference is shared only while a running command watches its file; else it is
                // what the last commands saw, and the file may have been edited since.
                if watched.contains(path), let reference = readReference(path) {
                    snapshot[path] = reference
                } else {
                    let now = Self.state(of: path)
                    snapshot[path] = now
                    writeReference(now, of: path)
                }
            }
            return (recovered, HolderSlot.open(in: holdersDirectory, host: host, paths: paths))
        }
        switch locked {
        case .success(let (recovered, holder)):
            let problem =
                holder == nil
                ? "cannot write a holder file in \(holdersDirectory): should this process die mid-command, "
                    + "no other will put the files back" : nil
            return Token(paths: paths, references: snapshot, holder: holder, recovered: recovered, problem: problem)
        case .failure(let problem):
            for path in paths { snapshot[path] = Self.state(of: path) }
            return Token(paths: paths, references: snapshot, holder: nil, recovered: Recovery(), problem: problem.text)
        }
    }

    /// Notes the process group of the token's command (its leader, just started), so that what is
    /// left of it can be killed should this host die before ``end(_:)``.
    public func started(_ token: Token, processGroup: Int32) {
        guard let holder = token.holder, let command = ProcessIdentity.of(processGroup) else { return }
        holder.note(command: command)
    }

    /// Ends a command's watch: every file that differs from its reference is put back.
    ///
    /// - Returns: the files the command changed (empty when it left them alone).
    public func end(_ token: Token) -> [Change] {
        // The shared reference, when it can be read, is the one to put back: LocalGPT's own writers
        // (``commit(_:)``: `md sign`) update it while commands run.
        let compare = { (shared: Bool) -> [Change] in
            var changes: [Change] = []
            for path in token.paths {
                guard let reference = (shared ? readReference(path) : nil) ?? token.references[path] else { continue }
                if let change = Self.putBack(path, to: reference, keepingChangesIn: keptDirectory) {
                    changes.append(change)
                }
            }
            return changes
        }
        guard let holder = token.holder else { return compare(false) }
        let locked = withLock { () -> [Change] in
            let changes = compare(true)
            // A file that could not be put back (a full disk) keeps its reference: the holder stays
            // as a dead one, so that every later guard call tries again and no command takes the
            // changed file as the reference.
            let pending = changes.filter { !$0.restored && Self.isRestorable(token.references[$0.path]) }.map(\.path)
            if pending.isEmpty { holder.release() } else { holder.abandon(keeping: pending) }
            return changes
        }
        switch locked {
        case .success(let changes):
            return changes
        case .failure:
            let changes = compare(false)
            holder.release()
            return changes
        }
    }

    /// Tells the guard that LocalGPT itself just wrote `paths` (`md sign` rewrites the policy and its
    /// manifest): the reference of every command watching them, running or dead, becomes the files as
    /// they are now, so that neither a running command's end nor the recovery of a dead one undoes the
    /// write. Then recovers the commands whose host died (see ``recover()``).
    ///
    /// - Returns: what the recovery did, for the caller to report.
    @discardableResult
    public func commit(_ paths: [String]) -> Recovery {
        guard FileSystem.isDirectory(holdersDirectory) else { return Recovery() }
        let recovery = withLock { () -> Recovery in
            for path in paths where readReference(path) != nil { writeReference(Self.state(of: path), of: path) }
            return recoverLocked().recovery
        }
        return (try? recovery.get()) ?? Recovery()
    }

    /// Whether a reference can be written back (a file, or no file); a folder, a link or a large
    /// file cannot.
    private static func isRestorable(_ state: State?) -> Bool {
        switch state {
        case .absent, .file: return true
        case .other, nil: return false
        }
    }

    /// Deals with the commands whose host died mid-run: kills what is left of each, and puts every file
    /// they watched that no running command watches back to its reference.
    public func recover() -> Recovery {
        guard FileSystem.isDirectory(holdersDirectory) else { return Recovery() }
        return (try? withLock { recoverLocked().recovery }.get()) ?? Recovery()
    }

    // MARK: - The shared state
    //
    // Everything below runs under the lock, except ``HolderSlot/note(command:)``, which appends a
    // line readers may see half written (and then ignore). Files are rewritten in place rather than
    // created and removed for every command: on ext4, creating files where many were just deleted
    // makes the inode allocator skip the recently deleted ones, and a few files per command made the
    // guard cost milliseconds.

    /// A running command, as its holder file says.
    struct Holder {
        var host: ProcessIdentity
        var command: ProcessIdentity?
        var paths: [String]

        /// The holder file's text: a JSON line naming the host and the paths; the command's line is
        /// appended once it runs.
        static func firstLine(host: ProcessIdentity, paths: [String]) -> String {
            JSONValue.object(["host": host.json, "paths": .array(paths.map(JSONValue.string))]).encoded() + "\n"
        }

        static func commandLine(_ command: ProcessIdentity) -> String {
            JSONValue.object(["command": command.json]).encoded() + "\n"
        }

        /// Nil when the first line is damaged; a damaged command line is left out.
        init?(text: Data) {
            let lines = text.split(separator: 0x0A, omittingEmptySubsequences: true)
            guard let first = lines.first, let json = try? JSONValue(parsing: Data(first)),
                let host = ProcessIdentity(json: json["host"]), let paths = json["paths"]?.arrayValue
            else { return nil }
            self.host = host
            self.paths = paths.compactMap(\.stringValue)
            self.command =
                lines.count > 1
                ? (try? JSONValue(parsing: Data(lines[1]))).flatMap { ProcessIdentity(json: $0["command"]) } : nil
        }
    }

    /// This process's holder file for one command: `holders/<pid>-<start>-<n>`. The file is emptied,
    /// not removed, when the command ends, and the next command of the process writes it again; the
    /// process removes its empty ones at exit (or a later recovery does).
    final class HolderSlot: Sendable {
        let prefix: String
        let index: Int
        let fd: Int32
        let length: Int

        private struct Registry {
            var next = 0
            /// Free slot numbers by file-name prefix (`<holders>/<pid>-<start>-`).
            var free: [String: [Int]] = [:]
        }

        private static let registry = Mutex(Registry())
        private static let exitHook: Bool = {
            atexit { HolderSlot.removeFree() }
            return true
        }()

        /// The holder file.
        var path: String { prefix + String(index) }

        private init(prefix: String, index: Int, fd: Int32, length: Int) {
            self.prefix = prefix
            self.index = index
            self.fd = fd
            self.length = length
        }

        /// A slot written with the first line; nil when the file cannot be written.
        static func open(in directory: String, host: ProcessIdentity, paths: [String]) -> HolderSlot? {
            _ = exitHook
            let prefix = "\(directory)/\(host.pid)-\(host.start)-"
            let index = registry.withLock { r -> Int in
                if let reused = r.free[prefix]?.popLast() { return reused }
                r.next += 1
                return r.next
            }
            let path = prefix + String(index)
            let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            let bytes = Array(Holder.firstLine(host: host, paths: paths).utf8)
            guard fd >= 0, FileIO.rewrite(fd, bytes) == 0 else {
                if fd >= 0 {
                    close(fd)
                    unlink(path)
                }
                return nil
            }
            return HolderSlot(prefix: prefix, index: index, fd: fd, length: bytes.count)
        }

        /// Appends the command's line.
        func note(command: ProcessIdentity) {
            _ = FileIO.writeAll(fd, Array(Holder.commandLine(command).utf8), at: length)
        }

        /// Empties the file and hands the slot to the next command. Call once, under the lock.
        func release() {
            let emptied = ftruncate(fd, 0) == 0
            close(fd)
            if emptied {
                Self.registry.withLock { $0.free[prefix, default: []].append(index) }
            } else {
                unlink(path)
            }
        }

        /// Leaves the file as a holder of no running process for `paths` (its restore failed): the
        /// next guard call anywhere counts it as dead and tries the restore again. Under the lock.
        func abandon(keeping paths: [String]) {
            let bytes = Array(Holder.firstLine(host: .gone, paths: paths).utf8)
            if FileIO.rewrite(fd, bytes) != 0 { _ = ftruncate(fd, 0) }
            close(fd)
        }

        /// Removes the process's empty slot files (at exit).
        static func removeFree() {
            let free = registry.withLock { r -> [String: [Int]] in
                defer { r.free = [:] }
                return r.free
            }
            for (prefix, indexes) in free {
                for index in indexes { unlink(prefix + String(index)) }
            }
        }
    }

    private struct Problem: Error {
        var text: String
    }

    /// Runs `body` holding the lock of the state folder (created first). The lock is an `flock` on
    /// its own open file, so it orders the commands of this process too, and dies with its holder.
    private func withLock<T>(_ body: () -> T) -> Result<T, Problem> {
        for folder in [referencesDirectory, holdersDirectory] {
            if let reason = makeDirectories(atPath: folder, mode: 0o700) {
                return .failure(Problem(text: "cannot create \(folder): \(reason)"))
            }
        }
        return Result { () throws(Problem) in
            try FileLock.withExclusive(stateDirectory + "/lock", failure: Problem.init(text:)) { () throws(Problem) in
                body()
            }
        }
    }

    /// Under the lock: the holders whose host is gone are removed, what is left of their commands is
    /// killed, and the files only they watched are put back.
    ///
    /// - Returns: what was found, and the files the running commands watch.
    private func recoverLocked() -> (recovery: Recovery, watched: Set<String>) {
        var recovery = Recovery()
        var watched = Set<String>()
        var dead: [(name: String, holder: Holder)] = []
        for (name, content) in readHolders() {
            guard let content, !content.isEmpty else {
                // An empty file is a free slot: its process's, while that runs.
                if !Self.isRunning(slotName: name) { unlink(holdersDirectory + "/" + name) }
                continue
            }
            if let holder = Holder(text: content), holder.host.isRunning {
                watched.formUnion(holder.paths)
                continue
            }
            // Its host is gone (or the file is damaged, which only a host dying mid-write leaves).
            if let holder = Holder(text: content) {
                dead.append((name, holder))
            } else {
                unlink(holdersDirectory + "/" + name)
            }
        }
        guard !dead.isEmpty else { return (recovery, watched) }
        let commands = dead.compactMap(\.holder.command)
        if !commands.isEmpty {
            recovery.processesKilled += ProcessIdentity.killGroupRemnants(of: commands)
            // A command without a pinned group (no seccomp) is in a pids cgroup named after its host.
            if let cgroups = SandboxCapabilities.current.pidsCgroup {
                recovery.processesKilled += SandboxCgroup.removeStaleRuns(in: cgroups)
            }
        }
        let bootTime = Self.bootTime()
        var settled: [String: Bool] = [:]  // path -> put back (or nothing to put back)
        for (name, holder) in dead {
            var keep: [String] = []
            for path in holder.paths where !watched.contains(path) {
                if let done = settled[path] {
                    if !done { keep.append(path) }
                    continue
                }
                var done = true
                if let reference = readReference(path),
                    // After a reboot the command ran before this boot: a change made since is not its.
                    holder.host.boot == ProcessIdentity.currentBoot || !Self.changed(path, since: bootTime)
                {
                    if let change = Self.putBack(path, to: reference, keepingChangesIn: keptDirectory) {
                        recovery.changes.append(change)
                        done = change.restored || !Self.isRestorable(reference)
                    }
                }
                settled[path] = done
                if !done { keep.append(path) }
            }
            if keep.isEmpty {
                unlink(holdersDirectory + "/" + name)
            } else {
                // Still not put back: the reference stays, and the next guard call tries again.
                watched.formUnion(keep)
                let bytes = Data(Holder.firstLine(host: .gone, paths: keep).utf8)
                try? bytes.write(to: URL(fileURLWithPath: holdersDirectory + "/" + name))
            }
        }
        return (recovery, watched)
    }

    /// When this boot began (`btime` of /proc/stat), seconds since the epoch; 0 when unknown.
    private static func bootTime() -> Int64 {
        for line in (SandboxCgroup.readText("/proc/stat") ?? "").split(separator: "\n") where line.hasPrefix("btime ") {
            return Int64(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }

    /// Whether `path`'s status changed at or after `time` (seconds since the epoch); false when it is absent.
    private static func changed(_ path: String, since time: Int64) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        return Int64(info.st_ctim.tv_sec) >= time
    }

    /// Whether the process named by a slot file (`<pid>-<start>-<n>`) runs.
    private static func isRunning(slotName name: String) -> Bool {
        let parts = name.split(separator: "-")
        guard parts.count == 3, let pid = Int32(parts[0]), let start = UInt64(parts[1]) else { return false }
        return ProcessIdentity(pid: pid, start: start, boot: ProcessIdentity.currentBoot).isRunning
    }

    /// Every holder file's name and bytes (nil: unreadable).
    private func readHolders() -> [(name: String, content: Data?)] {
        guard let dir = opendir(holdersDirectory) else { return [] }
        defer { closedir(dir) }
        var holders: [(name: String, content: Data?)] = []
        while let entry = readdir(dir) {
            let name = directoryEntryNameString(entry)
            guard !name.hasPrefix(".") else { continue }
            holders.append((name, FileSystem.readFile(holdersDirectory + "/" + name)))
        }
        return holders
    }

    private func referenceFile(_ path: String) -> String { referencesDirectory + "/" + sha256Hex(path) }

    /// A reference file: one line of JSON (the path, the kind, the mode or identity, the size and
    /// SHA-256 of the bytes), then a file's bytes. Rewritten in place; a reader checks the size and
    /// digest, so a write cut short reads as no reference.
    private func writeReference(_ state: State, of path: String) {
        var header: [String: JSONValue] = ["path": .string(path)]
        var body: [UInt8] = []
        switch state {
        case .absent:
            header["kind"] = "absent"
        case .file(let bytes, let mode):
            header["kind"] = "file"
            header["mode"] = .int(Int64(mode))
            body = bytes
        case .other(let device, let inode, let size, let modified):
            header["kind"] = "other"
            header["device"] = .int(Int64(bitPattern: device))
            header["inode"] = .int(Int64(bitPattern: inode))
            header["size"] = .int(size)
            header["modified"] = .int(modified)
        }
        header["bytes"] = .int(Int64(body.count))
        header["sha256"] = .string(sha256Hex(body))
        let bytes = Array(JSONValue.object(header).encoded().utf8) + [0x0A] + body
        let file = referenceFile(path)
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if FileIO.rewrite(fd, bytes) != 0 { unlink(file) }
    }

    private func readReference(_ path: String) -> State? {
        guard let data = FileSystem.readFile(referenceFile(path)), let newline = data.firstIndex(of: 0x0A),
            let header = try? JSONValue(parsing: data[data.startIndex..<newline]), header["path"]?.stringValue == path
        else { return nil }
        let body = Array(data[(newline + 1)...])
        guard header["bytes"]?.intValue == Int64(body.count), header["sha256"]?.stringValue == sha256Hex(body) else {
            return nil
        }
        switch header["kind"]?.stringValue {
        case "absent":
            return .absent
        case "file":
            guard let mode = header["mode"]?.intValue else { return nil }
            return .file(bytes: body, mode: mode_t(truncatingIfNeeded: mode))
        case "other":
            guard let device = header["device"]?.intValue, let inode = header["inode"]?.intValue,
                let size = header["size"]?.intValue, let modified = header["modified"]?.intValue
            else { return nil }
            return .other(
                device: UInt64(bitPattern: device),
                inode: UInt64(bitPattern: inode),
                size: size,
                modified: modified
            )
        default:
            return nil
        }
    }

    // MARK: - Files

    /// Puts `path` back to `reference` when it differs, keeping what was there; nil when it did not differ.
    private static func putBack(_ path: String, to reference: State, keepingChangesIn directory: String) -> Change? {
        let now = state(of: path)
        guard now != reference else { return nil }
        let kept = keep(now, of: path, in: directory, reference: reference)
        return Change(path: path, restored: restore(path, to: reference), keptAt: kept)
    }

    static func state(of path: String) -> State {
        var info = stat()
        guard lstat(path, &info) == 0 else { return errno == ENOENT || errno == ENOTDIR ? .absent : other(info) }
        guard (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) <= copyLimit,
            case .success(let contents) = FileIO.read(path, limit: copyLimit, followSymlinks: false)
        else { return other(info) }
        return .file(bytes: contents.bytes, mode: contents.info.st_mode & 0o7777)
    }

    private static func other(_ info: stat) -> State {
        .other(
            device: UInt64(info.st_dev),
            inode: UInt64(info.st_ino),
            size: Int64(info.st_size),
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        )
    }

    /// Keeps what the command left at `path` in `directory/<UTC time>-<name>`: a file's bytes are
    /// copied; anything else (a folder, a link, a file over ``copyLimit``) is moved there whole, which
    /// also clears the way for the restore, unless the reference itself is such a thing (it could
    /// not be put back, so what is there stays). Nil when nothing was kept.
    private static func keep(_ state: State, of path: String, in directory: String, reference: State) -> String? {
        guard state != .absent, makeDirectories(atPath: directory, mode: 0o700) == nil else { return nil }
        let stamp = Timestamp.now().replacingOccurrences(of: ":", with: "")
        let name = (path as NSString).lastPathComponent
        let kept = "\(directory)/\(stamp)-\(name)"
        if case .file(let bytes, _) = state {
            do {
                try FileSystem.writeAtomically(Data(bytes), to: kept, mode: 0o600)
                return kept
            } catch {
                return nil
            }
        }
        if case .other = reference { return nil }
        if rename(path, kept) == 0 { return kept }
        // Another file system: aside in the same folder, hidden, so that the file can come back.
        let parent = (path as NSString).deletingLastPathComponent
        let beside = "\(parent)/.\(name).blocked-\(stamp)"
        return rename(path, beside) == 0 ? beside : nil
    }

    /// Puts `path` back to `state`; false when it cannot (a folder still in its place, or a state
    /// the guard does not copy).
    private static func restore(_ path: String, to target: State) -> Bool {
        switch target {
        case .absent:
            var info = stat()
            guard lstat(path, &info) == 0 else { return errno == ENOENT }
            guard (info.st_mode & S_IFMT) != S_IFDIR else { return false }
            return unlink(path) == 0
        case .file(let bytes, let mode):
            do {
                try FileSystem.writeAtomically(Data(bytes), to: path, mode: mode)
                return state(of: path) == target
            } catch {
                return false
            }
        case .other:
            return false
        }
    }
}
