//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// A process named so that a later process can tell whether it is still the same one: its pid, its
/// start time (clock ticks after boot, from `/proc/<pid>/stat`) and the boot it ran in. A pid alone
/// is reused; the three together are not.
struct ProcessIdentity: Equatable, Sendable {
    var pid: Int32
    var start: UInt64
    var boot: String

    /// This process.
    static let current: ProcessIdentity = {
        let pid = getpid()
        return ProcessIdentity(pid: pid, start: ProcStat.read(pid)?.start ?? 0, boot: currentBoot)
    }()

    /// The kernel's id of this boot (`/proc/sys/kernel/random/boot_id`), empty when unreadable.
    static let currentBoot: String = {
        (SandboxCgroup.readText("/proc/sys/kernel/random/boot_id") ?? "").trimmingCharacters(
            in: .whitespacesAndNewlines
        )
    }()

    /// The process `pid` as it is now, nil when there is none.
    static func of(_ pid: Int32) -> ProcessIdentity? {
        ProcStat.read(pid).map { ProcessIdentity(pid: pid, start: $0.start, boot: currentBoot) }
    }

    /// Whether this process still runs (a zombie, dead but not yet reaped, does not).
    var isRunning: Bool {
        guard boot == Self.currentBoot, let stat = ProcStat.read(pid) else { return false }
        return stat.start == start && stat.state != "Z"
    }

    var json: JSONValue {
        ["pid": .int(Int64(pid)), "start": .int(Int64(bitPattern: start)), "boot": .string(boot)]
    }

    init(pid: Int32, start: UInt64, boot: String) {
        self.pid = pid
        self.start = start
        self.boot = boot
    }

    init?(json: JSONValue?) {
        guard let pid = json?["pid"]?.intValue, let pid32 = Int32(exactly: pid), let start = json?["start"]?.intValue,
            let boot = json?["boot"]?.stringValue
        else { return nil }
        self.init(pid: pid32, start: UInt64(bitPattern: start), boot: boot)
    }

    /// Kills what is left of the process group this process led, once its host is gone: every process
    /// of the group (the sandbox pins the group: seccomp denies `setsid` and `setpgid`) that runs as
    /// this user with `no_new_privs` set and started no earlier than the leader. A group id cannot be
    /// taken by a new process while the group has a member, so a process found this way belongs to
    /// the command, unless the group emptied and its number was given to an unrelated group whose
    /// processes also run as this user under `no_new_privs`.
    ///
    /// - Returns: how many processes were killed.
    func killGroupRemnants() -> Int {
        guard boot == Self.currentBoot, pid > 1 else { return 0 }
        var killed = Set<Int32>()
        for attempt in 0..<200 {
            let members = Self.groupMembers(pid, startedNoEarlierThan: start)
            if members.isEmpty { break }
            for member in members {
                kill(member, SIGKILL)
                killed.insert(member)
            }
            usleep(attempt < 20 ? 1000 : 10_000)
        }
        return killed.count
    }

    private static func groupMembers(_ group: Int32, startedNoEarlierThan start: UInt64) -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var members: [Int32] = []
        let user = geteuid()
        while let entry = readdir(dir) {
            guard let pid = Int32(directoryEntryNameString(entry)), pid > 1, pid != getpid(),
                let process = ProcStat.read(pid), process.group == group, process.start >= start, process.state != "Z"
            else { continue }
            var info = stat()
            guard lstat("/proc/\(pid)", &info) == 0, info.st_uid == user,
                let status = SandboxCgroup.readText("/proc/\(pid)/status"),
                status.split(separator: "\n").contains(where: { $0.hasPrefix("NoNewPrivs:") && $0.hasSuffix("1") })
            else { continue }
            members.append(pid)
        }
        return members
    }
}

/// The fields of `/proc/<pid>/stat` the host needs.
struct ProcStat {
    var state: Character
    var group: Int32
    var start: UInt64

    static func read(_ pid: Int32) -> ProcStat? {
        guard let text = SandboxCgroup.readText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else {
            return nil
        }
        // "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        // cutime cstime priority nice threads itrealvalue starttime ...": comm may hold spaces and ")".
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let group = Int32(fields[2]),
            let start = UInt64(fields[19])
        else { return nil }
        return ProcStat(state: state, group: group, start: start)
    }
}
