//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTSandbox
import Foundation
import Glibc
import Synchronization

/// How strongly plugin-requested commands are confined: `[sandbox] level` in config.toml.
///
/// Whatever the level, the host itself always enforces the wall-clock timeout (which kills the whole
/// process group), the output caps, the scrubbed environment and the workspace as working folder.
/// The levels add kernel layers on top (see ``SandboxLayer`` and docs/SANDBOX.md).
public enum SandboxLevel: String, Sendable, CaseIterable {
    /// The default: ``full``, minus whatever layer this kernel lacks (named in a warning on every
    /// run). On Linux 6.15 and later nothing is missing.
    case auto
    /// Every layer: Landlock (files, TCP ports, signal and abstract-socket scoping), seccomp, resource
    /// limits (rlimits and a pids cgroup), no_new_privs and no capabilities. Only the workspace and a
    /// private temporary folder are writable; system folders are read-only; everything else,
    /// including the home folder and the LocalGPT home, is invisible to reads.
    case full
    /// Landlock (files only) and seccomp, with no_new_privs and no capabilities; no resource limits
    /// other than the host's timeout and output caps (a fork bomb is stopped only by the timeout).
    case standard
    /// Resource limits, no_new_privs and no capabilities only: the command can read and write
    /// whatever the user can, and open network connections. For kernels without Landlock and seccomp.
    case minimal
    /// No kernel sandbox: the command runs with the user's full rights (still with the timeout, the
    /// output caps and the scrubbed environment). Explicit, never silent: every run logs a warning.
    case none

    /// The layers this level asks for (``auto`` asks for the ``full`` set).
    public var requestedLayers: [SandboxLayer] {
        switch self {
        case .auto, .full: return SandboxLayer.allCases
        case .standard: return [.landlockFilesystem, .seccomp, .noNewPrivileges, .dropCapabilities]
        case .minimal: return [.resourceLimits, .pidsCgroup, .noNewPrivileges, .dropCapabilities]
        case .none: return []
        }
    }
}

/// One layer of the sandbox, applied in the child between fork and exec.
public enum SandboxLayer: String, Sendable, CaseIterable {
    /// Landlock file rules: the workspace and the private temporary folder read-write, system folders
    /// read(-execute), a few devices; nothing else.
    case landlockFilesystem = "landlock-fs"
    /// Landlock TCP rules (ABI 4): no bind; connect only where the network policy allows.
    case landlockNetwork = "landlock-net"
    /// Landlock scoping (ABI 6): no signal to, and no abstract UNIX socket of, a process outside.
    case landlockScope = "landlock-scope"
    /// The seccomp filter: no sockets (unless granted), ptrace, mount, namespaces, BPF, keyrings,
    /// kexec, modules, ... (EPERM).
    case seccomp
    /// rlimits: file size, processes, open files, CPU time, address space, no core dumps.
    case resourceLimits = "rlimits"
    /// A per-run pids cgroup: bounds the process count for root too, and sweeps stray processes.
    case pidsCgroup = "pids-cgroup"
    /// `PR_SET_NO_NEW_PRIVS`: setuid/setgid bits and file capabilities are ignored.
    case noNewPrivileges = "no-new-privs"
    /// An empty capability bounding set: root's command runs without any capability.
    case dropCapabilities = "drop-caps"

    /// One line for `sandbox status`.
    public var summary: String {
        switch self {
        case .landlockFilesystem: return "Landlock file rules (workspace and private tmp writable, system read-only)"
        case .landlockNetwork: return "Landlock TCP rules (no bind; connect only if granted)"
        case .landlockScope: return "Landlock scoping (no signals or abstract sockets outside the sandbox)"
        case .seccomp: return "seccomp filter (sockets, ptrace, mount, namespaces, bpf, keyrings, kexec, modules)"
        case .resourceLimits: return "rlimits (file size, processes, open files, CPU, address space, no core)"
        case .pidsCgroup: return "pids cgroup (process count, stray processes killed at the end)"
        case .noNewPrivileges: return "no_new_privs (setuid bits and file capabilities ignored)"
        case .dropCapabilities: return "no capabilities (bounding, inheritable and ambient sets emptied)"
        }
    }
}

/// The limits of a sandboxed command: `[sandbox]` keys in config.toml.
public struct SandboxLimits: Sendable, Equatable {
    /// Wall-clock limit when a call does not give one (`timeout_ms`, default 30 s).
    public var timeout: Duration
    /// The most bytes kept of each of stdout and stderr (`max_output_bytes`, default 1 MiB).
    public var outputBytes: Int
    /// `RLIMIT_FSIZE`: the largest file the command may write (`max_file_size_bytes`, default 50 MiB;
    /// 0 = no limit).
    public var fileSizeBytes: UInt64
    /// pids.max of the run's cgroup, and `RLIMIT_NPROC` above what already runs (`max_processes`,
    /// default 64; threads count too).
    public var processes: Int
    /// `RLIMIT_NOFILE` (`max_open_files`, default 1024).
    public var openFiles: Int
    /// `RLIMIT_CPU` in seconds of CPU time per process (`max_cpu_seconds`, default 300; 0 = no limit).
    public var cpuSeconds: Int
    /// `RLIMIT_AS` per process (`max_memory_bytes`, default 8 GiB; 0 = no limit).
    public var addressSpaceBytes: UInt64

    /// Creates limits; every default is the documented one.
    public init(
        timeout: Duration = .seconds(30),
        outputBytes: Int = 1 << 20,
        fileSizeBytes: UInt64 = 50 << 20,
        processes: Int = 64,
        openFiles: Int = 1024,
        cpuSeconds: Int = 300,
        addressSpaceBytes: UInt64 = 8 << 30
    ) {
        self.timeout = timeout
        self.outputBytes = outputBytes
        self.fileSizeBytes = fileSizeBytes
        self.processes = processes
        self.openFiles = openFiles
        self.cpuSeconds = cpuSeconds
        self.addressSpaceBytes = addressSpaceBytes
    }
}

/// Whether a sandboxed command may use the network.
public enum SandboxNetwork: Sendable, Hashable {
    /// No socket at all (seccomp), and no TCP bind or connect (Landlock ABI 4).
    case denied
    /// TCP and UDP sockets may be created. With Landlock ABI 4 TCP connect is limited to `tcpPorts`
    /// (nil: any port) and bind is denied; UDP is not port-restricted by Landlock.
    case allowed(tcpPorts: [UInt16]?)

    /// Whether sockets may be created at all.
    public var isAllowed: Bool {
        if case .allowed = self { return true }
        return false
    }
}

/// A path the sandboxed command may use, and how.
public struct SandboxPathRule: Sendable, Equatable {
    /// How a path may be used.
    public enum Access: String, Sendable {
        /// Read files, list folders, execute programs.
        case readExecute = "read+execute"
        /// Read files and list folders.
        case read
        /// Everything shell work needs: read, execute, write, truncate, create files, folders,
        /// symlinks and FIFOs, remove, rename and link within and across the writable paths. Never
        /// device nodes or sockets.
        case readWrite = "read+write"
        /// Read, write and truncate a device file (`/dev/null` ...), with its ioctls.
        case device = "device"

        var landlockRights: UInt64 {
            let read = UInt64(LGPT_SANDBOX_FS_READ_FILE) | UInt64(LGPT_SANDBOX_FS_READ_DIR)
            let readExecute = read | UInt64(LGPT_SANDBOX_FS_EXECUTE)
            switch self {
            case .readExecute:
                return readExecute
            case .read:
                return read
            case .readWrite:
                let create =
                    UInt64(LGPT_SANDBOX_FS_MAKE_DIR) | UInt64(LGPT_SANDBOX_FS_MAKE_REG)
                    | UInt64(LGPT_SANDBOX_FS_MAKE_SYM)
                    | UInt64(LGPT_SANDBOX_FS_MAKE_FIFO)
                let change =
                    UInt64(LGPT_SANDBOX_FS_WRITE_FILE) | UInt64(LGPT_SANDBOX_FS_REMOVE_DIR)
                    | UInt64(LGPT_SANDBOX_FS_REMOVE_FILE) | UInt64(LGPT_SANDBOX_FS_REFER)
                    | UInt64(LGPT_SANDBOX_FS_TRUNCATE)
                return readExecute | create | change
            case .device:
                return UInt64(LGPT_SANDBOX_FS_READ_FILE) | UInt64(LGPT_SANDBOX_FS_WRITE_FILE)
                    | UInt64(LGPT_SANDBOX_FS_TRUNCATE) | UInt64(LGPT_SANDBOX_FS_IOCTL_DEV)
            }
        }
    }

    /// Where the rule came from.
    public enum Origin: String, Sendable {
        case system
        case workspace
        case temporary
        case configuration
        case plugin
    }

    /// The absolute path (a folder covers everything beneath it).
    public var path: String
    /// How it may be used.
    public var access: Access
    /// Where the rule came from.
    public var origin: Origin
}

/// What a sandboxed command may do: built from `[sandbox]` of config.toml, the LocalGPT paths and
/// (for a plugin's command) the plugin's granted permissions. A value: nothing is applied until
/// ``ProcessRunner`` runs a ``ProcessRequest`` that carries it.
///
/// config.toml keys (all optional):
///
/// | key | type | default |
/// | --- | --- | --- |
/// | `sandbox.level` | `auto`, `full`, `standard`, `minimal` or `none` | `auto` |
/// | `sandbox.enabled` | bool; `false` is `level = "none"` | `true` |
/// | `sandbox.timeout_ms` | 1 ... 600000 | 30000 |
/// | `sandbox.max_output_bytes` | 0 ... 1 GiB, per stream | 1048576 |
/// | `sandbox.max_file_size_bytes` | bytes, 0 = no limit | 52428800 |
/// | `sandbox.max_processes` | 1 ... 100000 | 64 |
/// | `sandbox.max_open_files` | 16 ... 1048576 | 1024 |
/// | `sandbox.max_cpu_seconds` | seconds, 0 = no limit | 300 |
/// | `sandbox.max_memory_bytes` | address space, 0 = no limit | 8589934592 |
/// | `sandbox.use_pids_cgroup` | bool | `true` |
/// | `sandbox.allow_paths.read` / `.write` | absolute, `~/...` or workspace-relative paths | `[]` |
/// | `sandbox.network.policy` | `deny`, `allow` (`proxy` is read as `deny`) | `deny` |
public struct SandboxPolicy: Sendable, Equatable {
    /// The configured level.
    public var level: SandboxLevel
    /// The workspace: the only user folder the command may write (besides extra write paths).
    public var workspace: String
    /// Extra folders the command may read and execute from.
    public var readPaths: [String]
    /// Extra folders the command may write.
    public var writePaths: [String]
    /// Whether the command may use the network.
    public var network: SandboxNetwork
    /// `sandbox.network.policy` as configured (`deny` or `allow`), for display.
    public var networkPolicy: String
    /// The limits.
    public var limits: SandboxLimits
    /// Whether to use a per-run pids cgroup when the host may create one.
    public var usePidsCgroup: Bool
    /// Where the per-run private temporary folder is created; nil: a memory file system when one is
    /// writable (`$XDG_RUNTIME_DIR`, else `/dev/shm`), else `/tmp`.
    public var temporaryDirectoryParent: String?
    /// The folder the per-run private temporary folders are created in.
    public var effectiveTemporaryParent: String { temporaryDirectoryParent ?? PreparedSandbox.defaultTemporaryParent }
    /// Folders no extra path may overlap (the LocalGPT home: config, grants, device key, audit log).
    public var protectedPaths: [String]
    /// What was skipped or adjusted while building the policy (an extra path that is missing or
    /// overlaps the LocalGPT home, `proxy` read as `deny`...).
    public var notes: [String]

    /// Creates a policy directly (tests, tools). Extra paths are used as given.
    public init(
        level: SandboxLevel = .auto,
        workspace: String,
        readPaths: [String] = [],
        writePaths: [String] = [],
        network: SandboxNetwork = .denied,
        limits: SandboxLimits = SandboxLimits(),
        usePidsCgroup: Bool = true,
        temporaryDirectoryParent: String? = nil,
        protectedPaths: [String] = []
    ) {
        self.level = level
        self.workspace = workspace
        self.readPaths = readPaths
        self.writePaths = writePaths
        self.network = network
        self.networkPolicy = network.isAllowed ? "allow" : "deny"
        self.limits = limits
        self.usePidsCgroup = usePidsCgroup
        self.temporaryDirectoryParent = temporaryDirectoryParent
        self.protectedPaths = protectedPaths
        self.notes = []
    }

    /// Builds the policy for a command from `[sandbox]` of config.toml.
    ///
    /// - Parameters:
    ///   - configuration: config.toml.
    ///   - paths: the LocalGPT home; its workspace is the command's, the rest of it is protected.
    ///   - permissions: the plugin's granted permissions, when the command is a plugin's: its
    ///     `fs.read` / `fs.write` paths are added, and its `net.hosts` decide the network when
    ///     `sandbox.network.policy` is `allow`. Nil for the host's own commands (no network).
    /// - Throws: ``SandboxError`` with code `invalidConfiguration` when a `[sandbox]` value has the
    ///   wrong type or is out of range, or the level or network policy is unknown.
    public init(
        configuration: Configuration,
        paths: LocalGPTPaths,
        permissions: PluginPermissions? = nil
    ) throws(SandboxError) {
        let reader = ConfigReader(configuration: configuration)
        if let table = configuration.value(at: "sandbox"), table.objectValue == nil {
            throw .invalidConfiguration("[sandbox] in config.toml must be a table")
        }
        var level = SandboxLevel.auto
        if let text = try reader.string("level") {
            guard let parsed = SandboxLevel(rawValue: text.lowercased()) else {
                throw .invalidConfiguration(
                    "sandbox.level \"\(text)\" is not one of "
                        + SandboxLevel.allCases.map(\.rawValue).joined(separator: ", ")
                )
            }
            level = parsed
        }
        var notes: [String] = []
        if try reader.bool("enabled") == false {
            if level != .none { notes.append("sandbox.enabled = false: level \"\(level.rawValue)\" is ignored") }
            level = .none
        }
        let defaults = SandboxLimits()
        let timeout = try reader.integer("timeout_ms", in: 1...600_000) ?? 30_000
        let limits = SandboxLimits(
            timeout: .milliseconds(timeout),
            outputBytes: Int(try reader.integer("max_output_bytes", in: 0...(1 << 30)) ?? Int64(defaults.outputBytes)),
            fileSizeBytes: UInt64(
                try reader.integer("max_file_size_bytes", in: 0...Int64.max) ?? Int64(defaults.fileSizeBytes)
            ),
            processes: Int(try reader.integer("max_processes", in: 1...100_000) ?? Int64(defaults.processes)),
            openFiles: Int(try reader.integer("max_open_files", in: 16...1_048_576) ?? Int64(defaults.openFiles)),
            cpuSeconds: Int(try reader.integer("max_cpu_seconds", in: 0...Int64(Int32.max)) ?? 300),
            addressSpaceBytes: UInt64(
                try reader.integer("max_memory_bytes", in: 0...Int64.max) ?? Int64(defaults.addressSpaceBytes)
            )
        )
        var networkPolicy = (try reader.string("network.policy") ?? "deny").lowercased()
        switch networkPolicy {
        case "deny", "allow": break
        case "proxy":
            notes.append("sandbox.network.policy \"proxy\" is not implemented; read as \"deny\"")
            networkPolicy = "deny"
        default:
            throw .invalidConfiguration(
                "sandbox.network.policy \"\(networkPolicy)\" is not one of deny, allow (or proxy, read as deny)"
            )
        }
        let workspace = paths.workspace
        // A workspace moved (memory.workspace, LOCALGPT_WORKSPACE) onto a folder that holds the LocalGPT
        // home or a credential folder would open them to every command: refused, not run.
        let realWorkspace = HostFilePolicy.canonical(workspace)
        let userHomes = LocalGPTPaths.userHomes(environment: configuration.environment)
        let closed =
            [paths.home] + userHomes.flatMap { home in HostFilePolicy.credentialFolders.map { home + "/" + $0 } }
        if let inside = closed.map(HostFilePolicy.canonical).first(where: { HostFilePolicy.isWithin($0, realWorkspace) }
        ) {
            throw .invalidConfiguration(
                "the workspace \(workspace) holds \(inside), which commands may not reach: "
                    + "choose another memory.workspace (or LOCALGPT_WORKSPACE)"
            )
        }
        var network = SandboxNetwork.denied
        if networkPolicy == "allow", let hosts = permissions?.netHosts, !hosts.isEmpty {
            network = .allowed(tcpPorts: Self.tcpPorts(of: hosts))
        }

        self.init(
            level: level,
            workspace: workspace,
            network: network,
            limits: limits,
            usePidsCgroup: try reader.bool("use_pids_cgroup") ?? true,
            protectedPaths: [paths.home]
        )
        self.networkPolicy = networkPolicy
        var checked = CheckedPaths(workspace: workspace, protected: paths.home, userHomes: userHomes)
        readPaths = checked.accept(try reader.strings("allow_paths.read"), source: "sandbox.allow_paths.read")
        writePaths = checked.accept(try reader.strings("allow_paths.write"), source: "sandbox.allow_paths.write")
        if let permissions {
            readPaths += checked.accept(permissions.fsRead.sorted(), source: "the plugin's fs.read permission")
            writePaths += checked.accept(permissions.fsWrite.sorted(), source: "the plugin's fs.write permission")
        }
        self.notes = notes + checked.notes
    }

    /// TCP ports a set of `net.hosts` patterns may reach: 80 and 443 for a bare host, the port of
    /// `host:port`, nil (any) when one says `host:*`; 53 too, for DNS over TCP.
    static func tcpPorts(of hosts: Set<String>) -> [UInt16]? {
        var ports: Set<UInt16> = [53]
        for pattern in hosts {
            let portText: Substring? =
                pattern.hasPrefix("[")
                ? pattern.range(of: "]:").map { pattern[$0.upperBound...] }
                : pattern.lastIndex(of: ":").map { pattern[pattern.index(after: $0)...] }
            if let portText {
                if portText == "*" { return nil }
                if let port = UInt16(portText) { ports.insert(port) }
            } else {
                ports.formUnion([80, 443])
            }
        }
        return ports.sorted()
    }

    // MARK: Rules

    /// Top-level entries of `/etc` (and of its sub-folders named here) that are NOT readable, because
    /// they hold secrets: a host that runs as root would otherwise let the command read them (root
    /// owns them; capabilities are dropped, ownership is not).
    public static let etcSecrets: [String] = [
        "shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "ssh", "ssl/private",
        "security/opasswd", "NetworkManager/system-connections", "wireguard", "credstore",
        "credstore.encrypted", "crypttab", "ppp", "ipsec.secrets", "ipsec.d", "letsencrypt", "docker",
        "containerd", "libvirt", "krb5.keytab", ".pwd.lock", "machine-id",
    ]

    /// The system paths every sandboxed command may use.
    static let systemExecutablePaths = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
    static let devicePaths = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]

    /// Every path rule of this policy, in the order they are added: system paths, devices, `/proc`,
    /// the workspace, the private temporary folder (when given), extra paths.
    ///
    /// `/proc` is readable so that `ps`, language runtimes and `/dev/fd` work; other processes'
    /// `environ`, `mem`, `cwd`, `root` and `fd` stay closed, because Landlock denies the ptrace access
    /// check across the sandbox boundary.
    public func pathRules(temporaryDirectory: String?) -> [SandboxPathRule] {
        var rules = Self.systemExecutablePaths.map { SandboxPathRule(path: $0, access: .readExecute, origin: .system) }
        // As root the command could read root's secrets in /etc (it owns them; dropping capabilities does
        // not change ownership): /etc is granted entry by entry, without them. Any other user is kept out
        // of them by their file permissions, and gets /etc as one rule.
        if geteuid() == 0 {
            rules += Self.etcEntries().map { SandboxPathRule(path: $0, access: .read, origin: .system) }
        } else {
            rules.append(SandboxPathRule(path: "/etc", access: .read, origin: .system))
        }
        if network.isAllowed {
            rules.append(SandboxPathRule(path: "/run/systemd/resolve", access: .read, origin: .system))
        }
        rules += Self.devicePaths.map { SandboxPathRule(path: $0, access: .device, origin: .system) }
        rules.append(SandboxPathRule(path: "/proc", access: .read, origin: .system))
        rules.append(SandboxPathRule(path: workspace, access: .readWrite, origin: .workspace))
        if let temporaryDirectory {
            rules.append(SandboxPathRule(path: temporaryDirectory, access: .readWrite, origin: .temporary))
        }
        rules += readPaths.map { SandboxPathRule(path: $0, access: .readExecute, origin: .configuration) }
        rules += writePaths.map { SandboxPathRule(path: $0, access: .readWrite, origin: .configuration) }
        return rules
    }

    private struct EtcCache {
        var modified: timespec
        var entries: [String]
    }

    private static let etcCache = Mutex<EtcCache?>(nil)

    /// When /etc last changed (an entry added, removed or replaced), as seconds and nanoseconds.
    static func etcModificationStamp() -> [Int] {
        var info = stat()
        guard stat("/etc", &info) == 0 else { return [] }
        return [info.st_mtim.tv_sec, info.st_mtim.tv_nsec]
    }

    /// `/etc` minus ``etcSecrets``: its entries one by one (a rule on `/etc` itself would cover the
    /// secrets). Cached until `/etc` changes.
    static func etcEntries() -> [String] {
        var info = stat()
        guard stat("/etc", &info) == 0 else { return [] }
        if let cached = etcCache.withLock({ $0 }), cached.modified.tv_sec == info.st_mtim.tv_sec,
            cached.modified.tv_nsec == info.st_mtim.tv_nsec
        {
            return cached.entries
        }
        let entries = expand("/etc", excluding: etcSecrets)
        etcCache.withLock { $0 = EtcCache(modified: info.st_mtim, entries: entries) }
        return entries
    }

    /// The entries of `folder`, minus the relative paths in `excluded`; a folder that contains an
    /// excluded path is expanded in turn.
    private static func expand(_ folder: String, excluding excluded: [String]) -> [String] {
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = directoryEntryNameString(entry)
            if name == "." || name == ".." || excluded.contains(name) { continue }
            let inner = excluded.compactMap { $0.hasPrefix(name + "/") ? String($0.dropFirst(name.count + 1)) : nil }
            if inner.isEmpty || entry.pointee.d_type != UInt8(DT_DIR) {
                out.append(folder + "/" + name)
            } else {
                out += expand(folder + "/" + name, excluding: inner)
            }
        }
        return out.sorted()
    }

    // MARK: Plan

    /// What this policy gives on a kernel with `capabilities`: the layers applied and the ones
    /// missing (with why), before any command runs.
    public func report(capabilities: SandboxCapabilities) -> SandboxReport {
        var layers: [SandboxLayer] = []
        var missing: [SandboxReport.MissingLayer] = []
        var notes: [String] = []
        let abi = capabilities.landlockABI
        for layer in level.requestedLayers {
            switch layer {
            case .landlockFilesystem:
                if abi >= 1 {
                    layers.append(layer)
                    if abi < 2 { notes.append("Landlock ABI 1: mv between folders falls back to copy and delete") }
                    if abi < 3 {
                        notes.append(
                            "Landlock ABI \(abi) < 3: truncate(2) of readable files outside the workspace is not controlled"
                        )
                    }
                } else {
                    missing.append(.init(layer: layer, reason: "Landlock \(capabilities.landlockDescription)"))
                }
            case .landlockNetwork:
                if abi >= 4 {
                    layers.append(layer)
                } else if abi >= 1 {
                    missing.append(
                        .init(
                            layer: layer,
                            reason: "Landlock ABI \(abi) has no TCP rules (seccomp still denies sockets)"
                        )
                    )
                } else {
                    missing.append(.init(layer: layer, reason: "no Landlock"))
                }
            case .landlockScope:
                if abi >= 6 {
                    layers.append(layer)
                } else {
                    missing.append(
                        .init(
                            layer: layer,
                            reason: abi >= 1
                                ? "Landlock ABI \(abi) < 6: signals and abstract UNIX sockets outside the sandbox are "
                                    + "not scoped"
                                : "no Landlock"
                        )
                    )
                }
            case .seccomp:
                if capabilities.seccomp {
                    layers.append(layer)
                } else {
                    missing.append(.init(layer: layer, reason: "seccomp \(capabilities.seccompDescription)"))
                }
            case .resourceLimits:
                layers.append(layer)
            case .pidsCgroup:
                if !usePidsCgroup {
                    if capabilities.isRoot {
                        notes.append(
                            "sandbox.use_pids_cgroup = false: as root, only the timeout bounds the number of processes"
                        )
                    }
                } else if capabilities.pidsCgroup != nil {
                    layers.append(layer)
                } else if capabilities.isRoot {
                    missing.append(
                        .init(
                            layer: layer,
                            reason: "no writable pids cgroup, and RLIMIT_NPROC does not bind root: only the "
                                + "timeout bounds a fork bomb"
                        )
                    )
                } else {
                    notes.append("no writable pids cgroup: RLIMIT_NPROC bounds the number of processes")
                }
            case .noNewPrivileges:
                if capabilities.noNewPrivileges {
                    layers.append(layer)
                } else {
                    missing.append(.init(layer: layer, reason: "the kernel lacks PR_SET_NO_NEW_PRIVS"))
                }
            case .dropCapabilities:
                if capabilities.canDropCapabilities || !capabilities.isRoot {
                    layers.append(layer)
                } else {
                    missing.append(
                        .init(layer: layer, reason: "running as root without CAP_SETPCAP: capabilities stay")
                    )
                }
            }
        }
        return SandboxReport(
            configuredLevel: level,
            effectiveLevel: level == .auto ? .full : level,
            layers: layers,
            missing: missing,
            configurationProblems: self.notes,
            notes: notes
        )
    }
}

/// What a sandbox gives (before a run) or gave (after): the layers applied, the ones missing and why.
public struct SandboxReport: Sendable, Equatable {
    /// A layer the level asks for that this kernel or process cannot provide.
    public struct MissingLayer: Sendable, Equatable {
        public var layer: SandboxLayer
        public var reason: String
    }

    /// The level of config.toml.
    public var configuredLevel: SandboxLevel
    /// ``SandboxLevel/auto`` resolved (to ``SandboxLevel/full``); otherwise the configured level.
    public var effectiveLevel: SandboxLevel
    /// The layers applied, in order.
    public var layers: [SandboxLayer]
    /// The layers asked for but missing, with why.
    public var missing: [MissingLayer]
    /// What was skipped or adjusted in `[sandbox]` (``SandboxPolicy/notes``): logged as warnings.
    public var configurationProblems: [String]
    /// Smaller matters: partial Landlock ABIs, how processes are counted, cleanup problems.
    public var notes: [String]
    /// After a run: processes still in the run's cgroup when it ended (left the process group, or
    /// outlived its leader), killed by the cleanup.
    public var strayProcessesKilled: Int = 0

    /// Whether a requested layer is missing.
    public var isDegraded: Bool { !missing.isEmpty }

    /// The lines to log as warnings on every run: level `none`, and each missing layer.
    public var warnings: [String] {
        var out: [String] = []
        if configuredLevel == .none {
            out.append("sandbox level \"none\": the command runs without any kernel sandbox")
        }
        for m in missing { out.append("sandbox layer \(m.layer.rawValue) missing: \(m.reason)") }
        return out + configurationProblems
    }
}

/// Typed reads of `[sandbox]` keys that reject a value of the wrong type instead of ignoring it.
private struct ConfigReader {
    let configuration: Configuration

    private func value(_ key: String) -> JSONValue? { configuration.value(at: "sandbox." + key) }

    func string(_ key: String) throws(SandboxError) -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw .invalidConfiguration("sandbox.\(key) must be a string") }
        return s
    }

    func bool(_ key: String) throws(SandboxError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw .invalidConfiguration("sandbox.\(key) must be true or false") }
        return b
    }

    func integer(_ key: String, in range: ClosedRange<Int64>) throws(SandboxError) -> Int64? {
        guard let v = value(key) else { return nil }
        guard case .int(let i) = v else { throw .invalidConfiguration("sandbox.\(key) must be an integer") }
        guard range.contains(i) else {
            throw .invalidConfiguration(
                "sandbox.\(key) = \(i) is out of range (\(range.lowerBound)...\(range.upperBound))"
            )
        }
        return i
    }

    func strings(_ key: String) throws(SandboxError) -> [String] {
        guard let v = value(key) else { return [] }
        guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
            throw .invalidConfiguration("sandbox.\(key) must be an array of strings")
        }
        return a.compactMap(\.stringValue)
    }
}

/// Resolves extra paths and refuses the ones that would open the LocalGPT home (config.toml,
/// grants.json, the device key, the audit log) or a credential folder of the user's home
/// (`~/.ssh`, `~/.aws`, ... as the file service refuses them), or that do not exist.
///
/// An entry is written as a plugin's `fs` permissions are: `$WORKSPACE`, `$WORKSPACE/sub`, `~/x`,
/// absolute, or relative to the workspace.
private struct CheckedPaths {
    let workspace: String
    let protected: String
    /// `~` first (``LocalGPTPaths/userHomes(environment:)``): credential folders are closed in each.
    let userHomes: [String]
    var notes: [String] = []

    mutating func accept(_ raw: [String], source: String) -> [String] {
        var out: [String] = []
        let home = Self.real(protected) ?? protected
        let realWorkspace = Self.real(workspace) ?? workspace
        let credentials = userHomes.flatMap { home in
            HostFilePolicy.credentialFolders.map { Self.real(home + "/" + $0) ?? (home + "/" + $0) }
        }
        for entry in raw {
            guard !entry.isEmpty, !entry.utf8.contains(0) else {
                notes.append("\(source): an empty path is skipped")
                continue
            }
            let absolute = LocalGPTPaths.absolutePath(
                HostFilePolicy.expandRoot(entry, workspace: workspace, userHome: userHomes.first),
                relativeTo: workspace
            )
            // Symlinks resolved: a link to the home must not open the home.
            guard let resolved = Self.real(absolute) else {
                notes.append("\(source): \(absolute) is skipped (\(ProcessRunner.errorText(errno)))")
                continue
            }
            // The workspace itself has its own rule already.
            if resolved == realWorkspace { continue }
            let insideWorkspace = HostFilePolicy.isWithin(resolved, realWorkspace)
            let overlapsHome =
                HostFilePolicy.isWithin(home, resolved) || (HostFilePolicy.isWithin(resolved, home) && !insideWorkspace)
            if overlapsHome {
                notes.append(
                    "\(source): \(absolute) is skipped: it overlaps the LocalGPT home \(protected) "
                        + "(config, grants, keys and the audit log stay unreadable)"
                )
                continue
            }
            if let folder = credentials.first(where: {
                HostFilePolicy.isWithin($0, resolved) || HostFilePolicy.isWithin(resolved, $0)
            }) {
                notes.append(
                    "\(source): \(absolute) is skipped: it overlaps \(folder), which holds credentials "
                        + "that commands may not read"
                )
                continue
            }
            out.append(resolved)
        }
        return out
    }

    /// `realpath(3)`: nil (and `errno` set) when the path does not exist.
    private static func real(_ path: String) -> String? {
        realpath(path, nil).map { p in
            defer { free(p) }
            return String(cString: p)
        }
    }
}
