//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// A process named so that a later process can tell whether it is still the same one: its pid, its
/// start time (clock ticks after boot, from `/proc/<pid>/stat`), the boot it ran in and its PID
/// namespace. A pid alone is reused; the four together are not.
struct ProcessIdentity: Equatable, Sendable {
    var pid: Int32
    var start: UInt64
    var boot: String
    /// The PID namespace (`/proc/self/ns/pid`), empty when unknown.
    var namespace: String = ProcessIdentity.currentNamespace

    /// This process.
    static let current: ProcessIdentity = {
        let pid = getpid()
        return ProcessIdentity(pid: pid, start: ProcStat.read(pid)?.start ?? 0, boot: currentBoot)
    }()

    /// No process: the host of a holder left for a restore that has still to succeed.
    static let gone = ProcessIdentity(pid: 0, start: 0, boot: currentBoot)

    /// This process's PID namespace, as `/proc/self/ns/pid` names it (`pid:[4026531836]`).
    static let currentNamespace: String = {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/self/ns/pid", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
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

    /// Whether this process still runs (a zombie, dead but not yet reaped, does not). A process of
    /// another PID namespace (a container sharing the home) cannot be seen from here: it counts as
    /// running.
    var isRunning: Bool {
        if !namespace.isEmpty && !Self.currentNamespace.isEmpty && namespace != Self.currentNamespace { return true }
        guard pid > 0, boot == Self.currentBoot, let stat = ProcStat.read(pid) else { return false }
        return stat.start == start && stat.state != "Z"
    }

    /// This identity as a file-name part, `<pid>-<start>-<boot>-<namespace>` (the boot id's first 8 hex
    /// digits, the PID namespace's inode number): temporary files and folders of the home carry their
    /// writer's so that a later process can tell leftovers of a dead writer from files in use.
    var token: String {
        let bootPart = boot.filter(\.isHexDigit).prefix(8)
        let namespacePart = namespace.filter(\.isNumber)
        return "\(pid)-\(start)-\(bootPart)-\(namespacePart)"
    }

    /// Whether the writer named by a ``token`` is gone: a pid of this boot and PID namespace that no
    /// longer runs with that start time, or a token of an earlier boot. A token of another PID
    /// namespace cannot be judged from here (its writer may run in a container sharing the home): not
    /// gone. A bare pid (the names of versions before the token) is gone when no process has it.
    /// Nil when `token` is neither.
    static func isGone(token: Substring) -> Bool? {
        let parts = token.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count == 1, let pid = Int32(parts[0]), pid > 0 { return ProcStat.read(pid) == nil }
        guard parts.count == 4, let pid = Int32(parts[0]), pid > 0, let start = UInt64(parts[1]),
            parts[2].count == 8, parts[2].allSatisfy(\.isHexDigit), parts[3].allSatisfy(\.isNumber)
        else { return nil }
        let current = ProcessIdentity.current
        let here = current.token.split(separator: "-", omittingEmptySubsequences: false)
        if parts[2] != here[2] { return true }
        if parts[3] != here[3] { return false }
        return !ProcessIdentity(pid: pid, start: start, boot: current.boot, namespace: current.namespace).isRunning
    }

    var json: JSONValue {
        [
            "pid": .int(Int64(pid)), "start": .int(Int64(bitPattern: start)), "boot": .string(boot),
            "ns": .string(namespace),
        ]
    }

    init(pid: Int32, start: UInt64, boot: String, namespace: String = ProcessIdentity.currentNamespace) {
        self.pid = pid
        self.start = start
        self.boot = boot
        self.namespace = namespace
    }

    init?(json: JSONValue?) {
        guard let pid = json?["pid"]?.intValue, let pid32 = Int32(exactly: pid), let start = json?["start"]?.intValue,
            let boot = json?["boot"]?.stringValue
        else { return nil }
        self.init(
            pid: pid32,
            start: UInt64(bitPattern: start),
            boot: boot,
            namespace: json?["ns"]?.stringValue ?? ""
        )
    }

    /// Kills what is left of the process groups these processes led, once their host is gone (the
    /// sandbox pins a command's group: seccomp denies `setsid` and `setpgid`).
    ///
    /// A group's number stays taken while the group has a member: no new process can get that pid.
    /// So when `/proc/<leader>` shows a process of another start time, the number was given again
    /// after the group emptied, and nothing of the command is left; otherwise every process whose
    /// group is the leader's pid belongs to the command and is killed (`kill(-group)`, repeated
    /// while the group forks). One scan of /proc serves all the groups.
    ///
    /// - Returns: how many processes were killed.
    static func killGroupRemnants(of leaders: [ProcessIdentity]) -> Int {
        let groups = leaders.filter { leader in
            guard leader.pid > 1, leader.boot == currentBoot, leader.namespace == currentNamespace else { return false }
            if let now = ProcStat.read(leader.pid), now.start != leader.start { return false }
            return true
        }.map(\.pid)
        guard !groups.isEmpty else { return 0 }
        var killed = Set<Int32>()
        for attempt in 0..<200 {
            let members = groupMembers(Set(groups))
            if members.isEmpty { break }
            killed.formUnion(members.flatMap(\.value))
            for group in members.keys { kill(-group, SIGKILL) }
            usleep(attempt < 20 ? 1000 : 10_000)
        }
        return killed.count
    }

    /// The live processes of each of `groups` (zombies left out), by group.
    private static func groupMembers(_ groups: Set<Int32>) -> [Int32: [Int32]] {
        guard let dir = opendir("/proc") else { return [:] }
        defer { closedir(dir) }
        var members: [Int32: [Int32]] = [:]
        while let entry = readdir(dir) {
            guard let pid = Int32(directoryEntryNameString(entry)), pid > 1, pid != getpid(),
                let process = ProcStat.read(pid), groups.contains(process.group), process.state != "Z"
            else { continue }
            members[process.group, default: []].append(pid)
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
