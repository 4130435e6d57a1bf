//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import Synchronization

/// A per-run pids cgroup: the fork-bomb defence that works for root too.
///
/// `RLIMIT_NPROC` counts every process of the user and does not bind root at all, so it cannot
/// contain a fork bomb on a host that runs as root (tests, containers). A cgroup with `pids.max`
/// can: every task the command starts is counted in its own cgroup, forks past the limit fail with
/// EAGAIN, and when the run ends every process still in it (even one that left the process group)
/// is killed before the cgroup is removed.
///
/// It needs a writable pids controller: the cgroup v1 `pids` hierarchy (root), or a cgroup v2
/// subtree delegated with the `pids` controller enabled. When there is none, the sandbox falls back
/// to `RLIMIT_NPROC` (which binds non-root users) and to the timeout, which kills the whole process
/// group (the group is pinned: seccomp denies `setsid` and `setpgid`).
struct SandboxCgroup {
    /// The folder (under the pids hierarchy) that holds the per-run cgroups.
    static let folderName = "localgpt-sandbox"

    /// The cgroup folder of this run.
    let path: String
    /// `tasks` (cgroup v1) or `cgroup.procs` (v2) of this run, open for writing; the child joins by
    /// writing "0" (itself).
    let procsFD: Int32

    private static let counter = Atomic<UInt64>(0)

    /// Creates `<parent>/run-<pid>-<n>` with `pids.max = maxProcesses`.
    ///
    /// - Throws: ``SandboxError`` with code `setupFailed` when the cgroup cannot be created.
    init(parent: String, maxProcesses: Int) throws(SandboxError) {
        let n = Self.counter.add(1, ordering: .relaxed).newValue
        let path = "\(parent)/run-\(getpid())-\(n)"
        guard mkdir(path, 0o755) == 0 else {
            throw .setupFailed("cannot create the pids cgroup \(path): \(ProcessRunner.errorText(errno))")
        }
        guard Self.writeFile(path + "/pids.max", "\(max(1, maxProcesses))") else {
            let error = errno
            rmdir(path)
            throw .setupFailed("cannot set pids.max in \(path): \(ProcessRunner.errorText(error))")
        }
        // cgroup v1: the child moves its one thread through `tasks`. Moving a whole thread group through
        // `cgroup.procs` takes cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period:
        // 10-50 ms per command on this kind of machine, instead of microseconds. After fork() the child
        // has exactly one thread, so moving it moves the process. cgroup v2 has no `tasks` file.
        let joinFile = access(path + "/tasks", W_OK) == 0 ? "tasks" : "cgroup.procs"
        let fd = open(path + "/" + joinFile, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let error = errno
            rmdir(path)
            throw .setupFailed("cannot open \(path)/\(joinFile): \(ProcessRunner.errorText(error))")
        }
        self.path = path
        self.procsFD = fd
    }

    /// Kills whatever is left in the cgroup and removes it. Call exactly once.
    ///
    /// - Returns: How many processes were still in it (and were killed), and a problem when the
    ///   cgroup could not be removed.
    func destroy() -> (killed: Int, problem: String?) {
        close(procsFD)
        return Self.killAll(path, remove: true)
    }

    /// Kills whatever is left in the cgroup and keeps it for the next command.
    ///
    /// - Returns: How many processes were still in it (and were killed), and a problem when it could
    ///   not be emptied.
    func sweep() -> (killed: Int, problem: String?) {
        Self.killAll(path, remove: false)
    }

    /// Sets pids.max.
    func setLimit(_ maxProcesses: Int) -> Bool {
        Self.writeFile(path + "/pids.max", "\(max(1, maxProcesses))")
    }

    /// SIGKILLs every process of the cgroup until it is empty (a fork bomb at its pids.max cannot grow,
    /// so this converges), then removes it when `remove`. A pid read from `cgroup.procs` belongs to the
    /// cgroup at that moment; it is signalled microseconds later, far too soon for the pid to be reused.
    static func killAll(_ path: String, remove: Bool) -> (killed: Int, problem: String?) {
        var killed = Set<Int32>()
        for attempt in 0..<200 {
            let pids = readPids(path + "/cgroup.procs")
            if pids.isEmpty {
                if !remove { return (killed.count, nil) }
                if rmdir(path) == 0 || errno == ENOENT { return (killed.count, nil) }
                if errno != EBUSY { return (killed.count, "cannot remove \(path): \(ProcessRunner.errorText(errno))") }
            }
            for pid in pids where pid > 1 {
                kill(pid, SIGKILL)
                killed.insert(pid)
            }
            usleep(attempt < 20 ? 1000 : 10_000)
        }
        return (killed.count, "\(path) still holds processes after 2 s of SIGKILL; left in place")
    }

    /// Finds (and prepares) the folder for per-run cgroups: `<pids hierarchy>/<own cgroup>/localgpt-sandbox`.
    /// Returns nil when there is no pids controller this process may create cgroups in. Removes the
    /// leftovers of hosts that died mid-run.
    static func findParent() -> String? {
        guard let cgroups = readText("/proc/self/cgroup"), let mounts = readText("/proc/self/mountinfo") else {
            return nil
        }
        var candidates: [String] = []
        for line in cgroups.split(separator: "\n") {
            // "8:pids:/user.slice" (v1) or "0::/user.slice/..." (v2)
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let relative = fields[2] == "/" ? "" : String(fields[2])
            if fields[1].split(separator: ",").contains("pids"), let mount = mountPoint(mounts, v1Controller: "pids") {
                candidates.append(mount + relative)
            } else if fields[0] == "0", fields[1].isEmpty, let mount = mountPoint(mounts, v1Controller: nil) {
                candidates.append(mount + relative)
            }
        }
        for base in candidates {
            let folder = base + "/" + folderName
            if mkdir(folder, 0o755) != 0 && errno != EEXIST { continue }
            guard access(folder + "/cgroup.procs", W_OK) == 0 || access(folder + "/tasks", W_OK) == 0 else { continue }
            // cgroup v2 needs the pids controller enabled for the children of the folder.
            if access(folder + "/pids.max", F_OK) != 0 && access(folder + "/cgroup.subtree_control", W_OK) == 0 {
                _ = writeFile(folder + "/cgroup.subtree_control", "+pids")
            }
            let probe = folder + "/probe-\(getpid())"
            guard mkdir(probe, 0o755) == 0 || errno == EEXIST else { continue }
            let usable = access(probe + "/pids.max", W_OK) == 0
            rmdir(probe)
            if usable {
                removeStaleRuns(in: folder)
                return folder
            }
        }
        return nil
    }

    /// Removes `run-<pid>-<n>` cgroups whose host process is gone (it crashed mid-run), killing what
    /// is left in them.
    ///
    /// - Returns: how many processes were killed.
    @discardableResult
    static func removeStaleRuns(in folder: String) -> Int {
        guard let dir = opendir(folder) else { return 0 }
        var stale: [String] = []
        while let entry = readdir(dir) {
            let name = directoryEntryNameString(entry)
            guard name.hasPrefix("run-") || name.hasPrefix("probe-") else { continue }
            let parts = name.split(separator: "-")
            guard parts.count >= 2, let pid = Int32(parts[1]), pid != getpid() else { continue }
            // Gone, or dead and not yet reaped (a zombie has no children left to watch).
            if (kill(pid, 0) != 0 && errno == ESRCH) || ProcStat.read(pid)?.state == "Z" {
                stale.append(folder + "/" + name)
            }
        }
        closedir(dir)
        return stale.reduce(0) { $0 + killAll($1, remove: true).killed }
    }

    /// The mount point of the cgroup v1 hierarchy holding `controller`, or of cgroup2 when nil.
    private static func mountPoint(_ mountinfo: String, v1Controller controller: String?) -> String? {
        for line in mountinfo.split(separator: "\n") {
            // "36 25 0:31 / /sys/fs/cgroup/pids rw,relatime shared:13 - cgroup cgroup rw,pids"
            guard let dash = line.range(of: " - ") else { continue }
            let before = line[..<dash.lowerBound].split(separator: " ")
            let after = line[dash.upperBound...].split(separator: " ")
            guard before.count >= 5, after.count >= 3 else { continue }
            let mountPoint = unescapeMountPath(String(before[4]))
            if let controller {
                if after[0] == "cgroup" && after[2].split(separator: ",").contains(Substring(controller)) {
                    return mountPoint
                }
            } else if after[0] == "cgroup2" {
                return mountPoint
            }
        }
        return nil
    }

    /// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
    private static func unescapeMountPath(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "\\"), bytes.count >= 3,
                let v = UInt8(String(decoding: bytes.prefix(3), as: UTF8.self), radix: 8)
            {
                out.append(v)
                bytes = bytes.dropFirst(3)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func readPids(_ file: String) -> [Int32] {
        (readText(file) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    /// A small file (procfs, cgroupfs), read with plain system calls.
    static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
            if data.count > 4 << 20 { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func writeFile(_ path: String, _ text: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}
