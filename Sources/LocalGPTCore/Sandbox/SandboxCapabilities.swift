//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTSandbox
import Glibc

/// What the running kernel, and this process, offer the sandbox. Detected at run time, never at
/// compile time: the same binary runs on kernels with and without Landlock.
///
/// ``current`` probes once per process (a handful of system calls, no side effect except creating the
/// `localgpt-sandbox` folder of a writable pids cgroup hierarchy, see ``pidsCgroup``).
public struct SandboxCapabilities: Sendable, Equatable {
    /// The highest Landlock ABI version the kernel offers; 0 when Landlock is missing.
    ///
    /// ABI 1 (Linux 5.13) restricts files; 2 (5.19) adds `REFER` (renaming and linking across
    /// folders); 3 (6.2) `TRUNCATE`; 4 (6.7) TCP bind and connect; 5 (6.10) device ioctls; 6 (6.12)
    /// scoping of abstract UNIX sockets and signals; 7 (6.15) audit logging of denials.
    public var landlockABI: Int
    /// Why Landlock is missing (ENOSYS: not built into the kernel; EOPNOTSUPP: disabled at boot), or 0.
    public var landlockError: Int32
    /// Whether seccomp filter mode is available.
    public var seccomp: Bool
    /// Why seccomp filters are missing, or 0.
    public var seccompError: Int32
    /// Whether `PR_SET_NO_NEW_PRIVS` exists (Linux 3.5 and later).
    public var noNewPrivileges: Bool
    /// Whether this process may empty a child's capability bounding set (it holds `CAP_SETPCAP`).
    public var canDropCapabilities: Bool
    /// The effective user id of this process.
    public var effectiveUserID: UInt32
    /// Whether this process itself already runs under seccomp or no_new_privs (a container).
    public var alreadyConfined: Bool
    /// The folder under which a per-run pids cgroup can be created, or nil when no writable pids
    /// cgroup hierarchy exists (cgroup v1 `pids` controller, or a delegated cgroup v2 subtree).
    public var pidsCgroup: String?
    /// The kernel release (`uname -r`), for messages.
    public var kernelRelease: String

    /// Whether the host runs as root. `RLIMIT_NPROC` does not bind root, so a fork bomb can only be
    /// bounded by a pids cgroup (or, failing that, by the timeout).
    public var isRoot: Bool { effectiveUserID == 0 }

    /// Creates a value (for tests of degradation: a kernel without Landlock, without seccomp...).
    public init(
        landlockABI: Int,
        landlockError: Int32 = 0,
        seccomp: Bool,
        seccompError: Int32 = 0,
        noNewPrivileges: Bool = true,
        canDropCapabilities: Bool = false,
        effectiveUserID: UInt32 = 1000,
        alreadyConfined: Bool = false,
        pidsCgroup: String? = nil,
        kernelRelease: String = "unknown"
    ) {
        self.landlockABI = landlockABI
        self.landlockError = landlockError
        self.seccomp = seccomp
        self.seccompError = seccompError
        self.noNewPrivileges = noNewPrivileges
        self.canDropCapabilities = canDropCapabilities
        self.effectiveUserID = effectiveUserID
        self.alreadyConfined = alreadyConfined
        self.pidsCgroup = pidsCgroup
        self.kernelRelease = kernelRelease
    }

    /// The capabilities of this kernel and process, probed on first use.
    public static let current: SandboxCapabilities = probe()

    /// Probes the kernel now (``current`` caches this).
    public static func probe() -> SandboxCapabilities {
        var raw = lgpt_sandbox_capabilities()
        raw.struct_size = UInt32(MemoryLayout<lgpt_sandbox_capabilities>.size)
        _ = lgpt_sandbox_probe(&raw)
        var names = utsname()
        let release: String =
            uname(&names) == 0
            ? withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            : "unknown"
        return SandboxCapabilities(
            landlockABI: Int(raw.landlock_abi),
            landlockError: raw.landlock_errno,
            seccomp: raw.seccomp_filter != 0,
            seccompError: raw.seccomp_errno,
            noNewPrivileges: raw.no_new_privs != 0,
            canDropCapabilities: raw.can_drop_capabilities != 0,
            effectiveUserID: raw.euid,
            alreadyConfined: raw.already_confined != 0,
            pidsCgroup: SandboxCgroup.findParent(),
            kernelRelease: release
        )
    }

    /// One line about Landlock: `ABI 7 (filesystem, TCP, scoping, audit)` or why it is missing.
    public var landlockDescription: String {
        guard landlockABI > 0 else {
            switch landlockError {
            case ENOSYS: return "not available (the kernel was built without Landlock)"
            case EOPNOTSUPP: return "not available (built into the kernel but disabled at boot; add it to lsm=)"
            default: return "not available (\(ProcessRunner.errorText(landlockError)))"
            }
        }
        var features = ["filesystem"]
        if landlockABI >= 2 { features.append("cross-folder rename") }
        if landlockABI >= 3 { features.append("truncate") }
        if landlockABI >= 4 { features.append("TCP") }
        if landlockABI >= 5 { features.append("device ioctl") }
        if landlockABI >= 6 { features.append("signal and abstract-socket scoping") }
        if landlockABI >= 7 { features.append("audit logging") }
        return "ABI \(landlockABI) (\(features.joined(separator: ", ")))"
    }

    /// One line about seccomp: `yes (filter mode)` or why it is missing.
    public var seccompDescription: String {
        seccomp ? "yes (filter mode)" : "not available (\(ProcessRunner.errorText(seccompError)))"
    }
}
