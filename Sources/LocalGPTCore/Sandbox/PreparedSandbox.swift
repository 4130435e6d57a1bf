//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTSandbox
import Foundation
import Glibc

/// Everything one sandboxed run needs, prepared in the host before the fork (the child may not
/// allocate): the private temporary folder, the Landlock ruleset, the seccomp program, the rlimits,
/// the pids cgroup, and the LGPT_SANDBOX_APPLY_* flags that tell the child what to apply.
///
/// When the process group is pinned (seccomp) or a pids cgroup sweeps the run, the folder the ruleset
/// grants, the ruleset itself and the cgroup come from a ``SandboxSlot`` and are reused by later
/// commands: each command still gets a new, empty TMPDIR inside the slot's folder, removed (with
/// anything else in the folder) when it ends. Otherwise everything is made for the run and removed
/// after it.
struct PreparedSandbox {
    var report: SandboxReport
    var flags: UInt32 = 0
    var landlockFD: Int32 = -1
    var landlockRestrictFlags: UInt32 = 0
    var seccomp: OpaquePointer?
    var rlimits: [lgpt_sandbox_rlimit] = []
    /// The cgroup the child joins: the slot's, or one of the run's own.
    var cgroup: SandboxCgroup?
    /// The command's TMPDIR.
    var temporaryDirectory: String?

    private var ownsLandlockFD = true
    private var ownsCgroup = true
    /// The folder the ruleset grants: the slot's folder, or the TMPDIR itself.
    private var grantedFolder: String?
    private var slot: SandboxSlot?
    private var slotParent = ""

    /// Prepares a run of `policy` on a kernel with `capabilities`.
    ///
    /// - Throws: ``SandboxError``: `workspaceMissing` when the workspace is not a folder; `setupFailed`
    ///   when a layer the kernel offers cannot be prepared (nothing prepared is left behind).
    static func prepare(
        _ policy: SandboxPolicy,
        capabilities: SandboxCapabilities
    ) throws(SandboxError) -> PreparedSandbox {
        var info = stat()
        guard stat(policy.workspace, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw SandboxError(
                code: .workspaceMissing,
                message: "the workspace \(policy.workspace) does not exist or is not a folder"
            )
        }
        var prepared = PreparedSandbox(report: policy.report(capabilities: capabilities))
        do {
            try prepared.build(policy, capabilities: capabilities)
        } catch {
            _ = prepared.finish(processGroup: nil)
            throw error
        }
        return prepared
    }

    private mutating func build(_ policy: SandboxPolicy, capabilities: SandboxCapabilities) throws(SandboxError) {
        let layers = Set(report.layers)
        let parent = policy.effectiveTemporaryParent
        // A slot may serve the next command only if nothing of this one can outlive it: seccomp pins the
        // process group (so the group kill reaches every process), or the pids cgroup is swept.
        if layers.contains(.seccomp) || layers.contains(.pidsCgroup) {
            let slot = try SandboxSlotPool.acquire(parent: parent)
            self.slot = slot
            slotParent = parent
            grantedFolder = slot.folder
            temporaryDirectory = try Self.makeFolder(slot.folder + "/run.XXXXXX")
        } else {
            let folder = try Self.makeFolder(parent + "/" + SandboxSlotPool.folderPrefix + "XXXXXX")
            grantedFolder = folder
            temporaryDirectory = folder
        }
        guard !layers.isEmpty else { return }
        flags |= UInt32(LGPT_SANDBOX_APPLY_NEW_SESSION)

        if layers.contains(.landlockFilesystem) {
            try prepareLandlock(policy, capabilities: capabilities, layers: layers)
            flags |= UInt32(LGPT_SANDBOX_APPLY_LANDLOCK)
        }
        if layers.contains(.seccomp) {
            var error: Int32 = 0
            let variant = policy.network.isAllowed ? UInt32(LGPT_SANDBOX_SECCOMP_ALLOW_INET) : 0
            guard let filter = lgpt_sandbox_seccomp_prepare(variant, &error) else {
                throw .setupFailed("cannot build the seccomp filter: \(ProcessRunner.errorText(error))")
            }
            seccomp = filter
            flags |= UInt32(LGPT_SANDBOX_APPLY_SECCOMP)
        }
        if layers.contains(.resourceLimits) {
            rlimits = Self.rlimits(policy.limits, capabilities: capabilities)
            flags |= UInt32(LGPT_SANDBOX_APPLY_RLIMITS)
        }
        if layers.contains(.pidsCgroup), let parent = capabilities.pidsCgroup {
            try prepareCgroup(parent: parent, limit: policy.limits.processes)
            flags |= UInt32(LGPT_SANDBOX_APPLY_CGROUP)
        }
        if layers.contains(.noNewPrivileges) { flags |= UInt32(LGPT_SANDBOX_APPLY_NO_NEW_PRIVS) }
        if layers.contains(.dropCapabilities) { flags |= UInt32(LGPT_SANDBOX_APPLY_DROP_CAPS) }
    }

    private mutating func prepareCgroup(parent: String, limit: Int) throws(SandboxError) {
        guard let slot else {
            cgroup = try SandboxCgroup(parent: parent, maxProcesses: limit)
            return
        }
        if slot.cgroup == nil {
            slot.cgroup = try SandboxCgroup(parent: parent, maxProcesses: limit)
            slot.cgroupLimit = limit
        } else if slot.cgroupLimit != limit {
            guard slot.cgroup?.setLimit(limit) == true else {
                throw .setupFailed("cannot set pids.max of the sandbox cgroup: \(ProcessRunner.errorText(errno))")
            }
            slot.cgroupLimit = limit
        }
        cgroup = slot.cgroup
        ownsCgroup = false
    }

    private mutating func prepareLandlock(
        _ policy: SandboxPolicy,
        capabilities: SandboxCapabilities,
        layers: Set<SandboxLayer>
    ) throws(SandboxError) {
        var specFlags: UInt32 = 0
        if layers.contains(.landlockNetwork) { specFlags |= UInt32(LGPT_SANDBOX_LANDLOCK_NET) }
        if layers.contains(.landlockScope) { specFlags |= UInt32(LGPT_SANDBOX_LANDLOCK_SCOPE) }
        // Network allowed on any port: Landlock does not handle TCP at all.
        var ports: [UInt16] = []
        if case .allowed(let allowed) = policy.network {
            if let allowed { ports = allowed } else { specFlags &= ~UInt32(LGPT_SANDBOX_LANDLOCK_NET) }
        }
        if capabilities.landlockABI >= 7 {
            // Denials of the sandboxed command (after its exec) reach the kernel audit log, when audit is on.
            landlockRestrictFlags = UInt32(LGPT_SANDBOX_LANDLOCK_RESTRICT_LOG_NEW_EXEC_ON)
        }
        guard let slot else {
            landlockFD = try buildRuleset(policy, abi: capabilities.landlockABI, flags: specFlags, ports: ports)
            return
        }
        let key = SandboxSlot.Key(
            workspace: policy.workspace,
            readPaths: policy.readPaths,
            writePaths: policy.writePaths,
            network: policy.network,
            abi: capabilities.landlockABI,
            flags: specFlags,
            etcModified: SandboxPolicy.etcModificationStamp(),
            root: geteuid() == 0
        )
        let pinned = [policy.workspace, slot.folder] + policy.readPaths + policy.writePaths
        if let cached = slot.ruleset, cached.key == key, cached.pins == pinned.map(SandboxSlot.FileIdentity.init) {
            landlockFD = cached.fd
            report.notes += cached.notes
        } else {
            if let old = slot.ruleset { close(old.fd) }
            slot.ruleset = nil
            let notesBefore = report.notes.count
            let fd = try buildRuleset(policy, abi: capabilities.landlockABI, flags: specFlags, ports: ports)
            slot.ruleset = SandboxSlot.Ruleset(
                key: key,
                fd: fd,
                pins: pinned.map(SandboxSlot.FileIdentity.init),
                notes: Array(report.notes[notesBefore...])
            )
            landlockFD = fd
        }
        ownsLandlockFD = false
    }

    /// landlock_create_ruleset + one rule per path of the policy (with the granted folder as the
    /// temporary one). Returns the ruleset descriptor.
    private mutating func buildRuleset(
        _ policy: SandboxPolicy,
        abi: Int,
        flags specFlags: UInt32,
        ports: [UInt16]
    ) throws(SandboxError) -> Int32 {
        let rules = policy.pathRules(temporaryDirectory: grantedFolder)
        let cPaths: [UnsafeMutablePointer<CChar>?] = rules.map { strdup($0.path) }
        defer { for p in cPaths { free(p) } }
        guard !cPaths.contains(where: { $0 == nil }) else { throw .setupFailed("out of memory") }
        var cRules = zip(rules, cPaths).map { rule, path in
            // Extra paths were resolved and checked (CheckedPaths): they are opened as checked, never
            // through a link a sandboxed command put on the way since.
            lgpt_sandbox_path_rule(
                path: path!,
                access: rule.access.landlockRights,
                result: 0,
                flags: rule.origin == .configuration ? UInt32(LGPT_SANDBOX_RULE_NO_SYMLINKS) : 0
            )
        }
        var fd: Int32 = -1
        let result = cRules.withUnsafeMutableBufferPointer { rulesBuffer in
            ports.withUnsafeBufferPointer { portsBuffer in
                var spec = lgpt_sandbox_landlock_spec(
                    struct_size: UInt32(MemoryLayout<lgpt_sandbox_landlock_spec>.size),
                    abi: Int32(abi),
                    flags: specFlags,
                    rule_count: UInt32(rulesBuffer.count),
                    rules: rulesBuffer.baseAddress,
                    connect_ports: portsBuffer.baseAddress,
                    connect_port_count: UInt32(portsBuffer.count),
                    reserved: 0
                )
                return lgpt_sandbox_landlock_create(&spec, &fd)
            }
        }
        guard result == 0 else {
            throw .setupFailed("cannot build the Landlock ruleset: \(ProcessRunner.errorText(result))")
        }
        for (rule, cRule) in zip(rules, cRules) where cRule.result != 0 {
            switch rule.origin {
            case .system:
                continue  // /lib32 and friends exist on some systems only
            case .workspace, .temporary:
                close(fd)
                throw .setupFailed("cannot open \(rule.path) for the sandbox: \(ProcessRunner.errorText(cRule.result))")
            case .configuration, .plugin:
                report.notes.append("extra path \(rule.path) skipped: \(ProcessRunner.errorText(cRule.result))")
            }
        }
        return fd
    }

    /// The rlimits of a run. None exceeds the host's own hard limit (an unprivileged host cannot raise
    /// one). `RLIMIT_NPROC` counts every process of the user, so for a non-root host it is set to the
    /// number of tasks running on the whole system now (an upper bound of the user's) plus
    /// `processes`: the command always gets its allowance, and a fork bomb still hits a ceiling. Root
    /// ignores `RLIMIT_NPROC`; the pids cgroup is its bound.
    static func rlimits(_ limits: SandboxLimits, capabilities: SandboxCapabilities) -> [lgpt_sandbox_rlimit] {
        var out: [lgpt_sandbox_rlimit] = []
        func add(_ resource: __rlimit_resource, soft: UInt64, hard: UInt64? = nil) {
            var current = rlimit()
            let ceiling: UInt64 =
                getrlimit(__rlimit_resource_t(resource.rawValue), &current) == 0 && current.rlim_max != rlim_t.max
                ? UInt64(current.rlim_max) : UInt64.max
            let hardValue = min(hard ?? soft, ceiling)
            out.append(
                lgpt_sandbox_rlimit(
                    resource: Int32(resource.rawValue),
                    reserved: 0,
                    soft: min(soft, hardValue),
                    hard: hardValue
                )
            )
        }
        if limits.fileSizeBytes > 0 { add(RLIMIT_FSIZE, soft: limits.fileSizeBytes) }
        let processes = UInt64(limits.processes)
        add(__RLIMIT_NPROC, soft: capabilities.isRoot ? processes : UInt64(systemTaskCount()) + processes)
        add(RLIMIT_NOFILE, soft: UInt64(limits.openFiles))
        if limits.cpuSeconds > 0 {
            // SIGXCPU at the soft limit, SIGKILL at the hard one.
            add(RLIMIT_CPU, soft: UInt64(limits.cpuSeconds), hard: UInt64(limits.cpuSeconds) + 5)
        }
        if limits.addressSpaceBytes > 0 { add(RLIMIT_AS, soft: limits.addressSpaceBytes) }
        add(RLIMIT_CORE, soft: 0)
        return out
    }

    /// Every task (thread) on the system, from the fourth field of /proc/loadavg ("5/127").
    static func systemTaskCount() -> Int {
        guard let text = SandboxCgroup.readText("/proc/loadavg") else { return 4096 }
        let fields = text.split(separator: " ")
        guard fields.count >= 4, let slash = fields[3].firstIndex(of: "/"),
            let total = Int(fields[3][fields[3].index(after: slash)...])
        else { return 4096 }
        return total
    }

    /// A new folder (mode 0700) from a mkdtemp template.
    private static func makeFolder(_ template: String) throws(SandboxError) -> String {
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else {
            throw .setupFailed(
                "cannot create a private temporary folder \(template): \(ProcessRunner.errorText(errno))"
            )
        }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Where per-run temporary folders go by default: a memory file system when one is writable
    /// (`$XDG_RUNTIME_DIR`, else `/dev/shm`), else `/tmp`. On tmpfs creating and removing the folder
    /// costs microseconds; on a disk file system a few milliseconds (a journal commit), which would be
    /// most of the sandbox's cost. Only a folder of the host's own inside it is ever granted, never the
    /// parent itself.
    static let defaultTemporaryParent: String = {
        var candidates: [String] = []
        if let runtime = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            candidates.append(runtime)
        }
        candidates.append("/dev/shm")
        for candidate in candidates where access(candidate, W_OK | X_OK) == 0 {
            if lgpt_sandbox_is_memory_fs(candidate) == 1 { return candidate }
        }
        return "/tmp"
    }()

    /// Closes the ruleset when it is the run's own (the child has its copy once forked); a slot's stays.
    mutating func closeRuleset() {
        if landlockFD >= 0 && ownsLandlockFD { close(landlockFD) }
        landlockFD = -1
    }

    /// After the run (or a failed spawn): kills what is left in the cgroup, removes the temporary
    /// folder, closes the ruleset, and hands the slot on (or discards it when the run's end cannot be
    /// established). `processGroup` is the run's pinned process group, already killed.
    /// Returns the report with the cleanup's findings.
    mutating func finish(processGroup: pid_t?) -> SandboxReport {
        closeRuleset()
        var reusable = slot != nil
        if let cgroup {
            let (killed, problem) = ownsCgroup ? cgroup.destroy() : cgroup.sweep()
            report.strayProcessesKilled = killed
            if let problem {
                report.notes.append(problem)
                reusable = false
            }
            self.cgroup = nil
        } else if slot != nil, let processGroup, !Self.waitUntilGone(processGroup: processGroup) {
            report.notes.append("processes of the command were still exiting; its sandbox folder is not reused")
            reusable = false
        }
        if let slot {
            let error = lgpt_sandbox_empty_tree(slot.folder)
            if error != 0 {
                report.notes.append(
                    "the private temporary folder was not fully emptied: \(ProcessRunner.errorText(error))"
                )
                reusable = false
            }
            if reusable {
                SandboxSlotPool.release(slot, parent: slotParent)
            } else {
                SandboxSlotPool.discard(slot)
            }
            self.slot = nil
        } else if let temporaryDirectory {
            let error = lgpt_sandbox_remove_tree(temporaryDirectory)
            if error != 0 {
                report.notes.append(
                    "the private temporary folder \(temporaryDirectory) was not fully removed: "
                        + ProcessRunner.errorText(error)
                )
            }
        }
        temporaryDirectory = nil
        return report
    }

    /// Waits (up to 200 ms) until no process of the killed, pinned process group is left.
    private static func waitUntilGone(processGroup: pid_t) -> Bool {
        guard processGroup > 1 else { return true }
        for _ in 0..<200 {
            if kill(-processGroup, 0) != 0 && errno == ESRCH { return true }
            usleep(1000)
        }
        return false
    }
}
