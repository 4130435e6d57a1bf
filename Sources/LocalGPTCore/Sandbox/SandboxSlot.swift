//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTSandbox
import Glibc
import Synchronization

/// What a sandboxed command reuses from the previous one, so that preparing a command costs a dozen
/// system calls instead of several hundred: a private folder on tmpfs (the parent of each command's
/// own TMPDIR), the Landlock ruleset built for it, and a pids cgroup.
///
/// A slot belongs to ONE command at a time (concurrent commands get different slots), and it is only
/// handed to the next command once nothing of the previous one can still be running: every process of
/// the run was killed (the group is pinned by seccomp, or the cgroup was swept) and the folder was
/// emptied. When that cannot be established, the slot is discarded instead. `@unchecked Sendable`:
/// the mutable members are only touched by the command holding the slot; the pool's lock orders the
/// hand-overs.
final class SandboxSlot: @unchecked Sendable {
    /// A Landlock ruleset, valid while the policy, the kernel ABI, /etc and the pinned folders are the
    /// same as when it was built (a rule names an inode: a folder deleted and made again needs a new one).
    struct Ruleset {
        var key: Key
        var fd: Int32
        /// The identities of the workspace, the slot's folder and the extra paths when it was built
        /// (nil: the path did not exist and has no rule).
        var pins: [FileIdentity?]
        /// What building it noted (extra paths skipped), repeated in every report that uses it.
        var notes: [String]
    }

    /// Everything a ruleset depends on besides the pinned folders.
    struct Key: Hashable {
        var workspace: String
        var readPaths: [String]
        var writePaths: [String]
        var network: SandboxNetwork
        var abi: Int
        var flags: UInt32
        var etcModified: [Int]
        var root: Bool
    }

    /// A file's identity; a folder replaced by another of the same name has a different one.
    struct FileIdentity: Equatable {
        var path: String
        var device: UInt64
        var inode: UInt64

        init?(_ path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            self.path = path
            self.device = UInt64(info.st_dev)
            self.inode = UInt64(info.st_ino)
        }

    }

    /// The folder the Landlock ruleset grants (mode 0700, on tmpfs when possible).
    let folder: String
    var ruleset: Ruleset?
    var cgroup: SandboxCgroup?
    var cgroupLimit = 0

    init(folder: String) {
        self.folder = folder
    }

    /// Frees everything: the ruleset, the cgroup (killing what is left in it), the folder.
    func destroy() {
        if let ruleset { close(ruleset.fd) }
        ruleset = nil
        if let cgroup { _ = cgroup.destroy() }
        cgroup = nil
        _ = lgpt_sandbox_remove_tree(folder)
    }
}

/// The process-wide pool of ``SandboxSlot``s, one free list per temporary parent folder. Slots are made
/// on demand (as many as commands ever ran at the same time) and removed when the host exits; slots
/// and per-run folders of hosts that died are swept the first time a parent is used.
enum SandboxSlotPool {
    private struct State {
        var free: [String: [SandboxSlot]] = [:]
        var all: [ObjectIdentifier: SandboxSlot] = [:]
        var swept: Set<String> = []
    }

    private static let state = Mutex(State())

    /// The name every sandbox folder of this host starts with: `lgpt-sandbox.<host pid>.`.
    static var folderPrefix: String { "lgpt-sandbox.\(getpid())." }

    private static let exitHook: Bool = {
        atexit { SandboxSlotPool.destroyAll() }
        return true
    }()

    /// A free slot for `parent`, or a new one.
    ///
    /// - Throws: ``SandboxError`` with code `setupFailed` when the slot's folder cannot be created.
    static func acquire(parent: String) throws(SandboxError) -> SandboxSlot {
        _ = exitHook
        let (reused, needsSweep) = state.withLock { state -> (SandboxSlot?, Bool) in
            let sweep = state.swept.insert(parent).inserted
            return (state.free[parent]?.popLast(), sweep)
        }
        if needsSweep { sweepStale(parent) }
        if let reused { return reused }
        let slot = SandboxSlot(folder: try makeFolder(in: parent))
        state.withLock { $0.all[ObjectIdentifier(slot)] = slot }
        return slot
    }

    /// Hands a slot whose command is over (and whose folder is empty) to the next command.
    static func release(_ slot: SandboxSlot, parent: String) {
        state.withLock { $0.free[parent, default: []].append(slot) }
    }

    /// Destroys a slot that must not be reused.
    static func discard(_ slot: SandboxSlot) {
        state.withLock { _ = $0.all.removeValue(forKey: ObjectIdentifier(slot)) }
        slot.destroy()
    }

    /// Removes every slot (at exit).
    static func destroyAll() {
        let slots = state.withLock { state -> [SandboxSlot] in
            defer { state = State() }
            return Array(state.all.values)
        }
        for slot in slots { slot.destroy() }
    }

    /// A new folder (mode 0700) `<parent>/lgpt-sandbox.<pid>.XXXXXX`.
    static func makeFolder(in parent: String) throws(SandboxError) -> String {
        var bytes = Array((parent + "/" + folderPrefix + "XXXXXX").utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else {
            throw .setupFailed(
                "cannot create a private temporary folder in \(parent): \(ProcessRunner.errorText(errno))"
            )
        }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes `lgpt-sandbox.<pid>.*` folders in `parent` whose host process is gone.
    private static func sweepStale(_ parent: String) {
        guard let dir = opendir(parent) else { return }
        var stale: [String] = []
        while let entry = readdir(dir) {
            let name = directoryEntryNameString(entry)
            let parts = name.split(separator: ".")
            guard parts.count == 3, parts[0] == "lgpt-sandbox", let pid = Int32(parts[1]), pid != getpid() else {
                continue
            }
            var info = stat()
            guard lstat(parent + "/" + name, &info) == 0, info.st_uid == geteuid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { stale.append(parent + "/" + name) }
        }
        closedir(dir)
        for path in stale { _ = lgpt_sandbox_remove_tree(path) }
    }
}
