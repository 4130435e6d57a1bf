//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Testing

/// `[sandbox]` of config.toml into a policy, the levels, and what a kernel without a layer reports.
struct SandboxPolicyTests {
    let paths: LocalGPTPaths

    init() throws {
        paths = LocalGPTPaths(home: TestSupport.makeTemporaryDirectory("lgpt-policy") + "/.localgpt")
        try paths.createDirectories()
    }

    func policy(_ toml: String, permissions: PluginPermissions? = nil) throws -> SandboxPolicy {
        try SandboxPolicy(configuration: Configuration(toml: toml), paths: paths, permissions: permissions)
    }

    func configurationError(_ toml: String) throws -> SandboxError? {
        let configuration = try Configuration(toml: toml)
        return #expect(throws: SandboxError.self) {
            try SandboxPolicy(configuration: configuration, paths: paths)
        }
    }

    @Test func defaultsWithoutASandboxSection() throws {
        let p = try policy("")
        #expect(p.level == .auto)
        #expect(p.workspace == paths.workspace)
        #expect(p.network == .denied)
        #expect(p.limits == SandboxLimits())
        #expect(p.limits.timeout == .seconds(30))
        #expect(p.limits.outputBytes == 1 << 20)
        #expect(p.limits.fileSizeBytes == 50 << 20)
        #expect(p.limits.processes == 64)
        #expect(p.readPaths.isEmpty && p.writePaths.isEmpty)
        #expect(p.protectedPaths == [paths.home])
        #expect(p.notes.isEmpty)
    }

    @Test func everyKeyIsRead() throws {
        let extra = TestSupport.makeTemporaryDirectory("lgpt-extra")
        let p = try policy(
            """
            [sandbox]
            level = "Standard"
            timeout_ms = 5000
            max_output_bytes = 2048
            max_file_size_bytes = 0
            max_processes = 10
            max_open_files = 64
            max_cpu_seconds = 0
            max_memory_bytes = 1073741824
            use_pids_cgroup = false
            allow_paths.read = ["\(extra)"]
            allow_paths.write = ["~/definitely-missing-\(getpid())"]
            network.policy = "allow"
            """
        )
        #expect(p.level == .standard)
        #expect(p.limits.timeout == .milliseconds(5000))
        #expect(p.limits.outputBytes == 2048)
        #expect(p.limits.fileSizeBytes == 0)
        #expect(p.limits.processes == 10)
        #expect(p.limits.openFiles == 64)
        #expect(p.limits.cpuSeconds == 0)
        #expect(p.limits.addressSpaceBytes == 1 << 30)
        #expect(!p.usePidsCgroup)
        #expect(p.readPaths == [extra])
        #expect(p.writePaths.isEmpty)
        #expect(p.notes.contains { $0.contains("definitely-missing") && $0.contains("skipped") })
        // Network "allow" is per plugin: without a plugin granted hosts, still denied.
        #expect(p.networkPolicy == "allow")
        #expect(p.network == .denied)
    }

    @Test func enabledFalseIsLevelNone() throws {
        let p = try policy("[sandbox]\nenabled = false\nlevel = \"full\"\n")
        #expect(p.level == .none)
        #expect(p.notes.contains { $0.contains("enabled = false") })
        let report = p.report(capabilities: .current)
        #expect(report.layers.isEmpty)
        #expect(report.warnings.first?.contains("without any kernel sandbox") == true)
    }

    @Test(arguments: [
        ("[sandbox]\nlevel = \"fulll\"\n", "sandbox.level \"fulll\" is not one of auto, full, standard, minimal, none"),
        ("[sandbox]\nlevel = 3\n", "sandbox.level must be a string"),
        ("[sandbox]\nmax_processes = 0\n", "sandbox.max_processes = 0 is out of range"),
        ("[sandbox]\nmax_processes = \"64\"\n", "sandbox.max_processes must be an integer"),
        ("[sandbox]\ntimeout_ms = 900000\n", "sandbox.timeout_ms = 900000 is out of range"),
        ("[sandbox]\nenabled = \"no\"\n", "sandbox.enabled must be true or false"),
        ("[sandbox]\nallow_paths.read = \"/opt\"\n", "sandbox.allow_paths.read must be an array of strings"),
        ("[sandbox]\nnetwork.policy = \"open\"\n", "sandbox.network.policy \"open\" is not one of deny, allow"),
        ("sandbox = 1\n", "[sandbox] in config.toml must be a table"),
    ])
    func badConfigurationIsAClearErrorNeverACrash(toml: String, message: String) throws {
        let error = try configurationError(toml)
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
    }

    @Test func proxyIsReadAsDenyWithANote() throws {
        let p = try policy("[sandbox.network]\npolicy = \"proxy\"\n")
        #expect(p.networkPolicy == "deny")
        #expect(p.notes.contains { $0.contains("proxy") })
        #expect(p.report(capabilities: .current).warnings.contains { $0.contains("proxy") })
    }

    @Test func extraPathsMayNotOpenTheLocalGPTHome() throws {
        let userHome = (paths.home as NSString).deletingLastPathComponent
        let inside = paths.home + "/plugins"
        let sub = paths.workspace + "/sub"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        let link = userHome + "/link-to-home"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: paths.home)
        let p = try policy(
            """
            [sandbox.allow_paths]
            read = ["/", "\(userHome)", "\(paths.home)", "\(inside)", "\(link)", "\(sub)", "/opt"]
            """
        )
        #expect(p.readPaths.contains(sub))
        for refused in ["/", userHome, paths.home, inside, link] {
            #expect(!p.readPaths.contains(refused), "\(refused) must be refused")
            #expect(p.notes.contains { $0.contains("\(refused) is skipped: it overlaps the LocalGPT home") })
        }
        // A relative path is the workspace's.
        let relative = try policy("[sandbox.allow_paths]\nwrite = [\"sub\"]\n")
        #expect(relative.writePaths == [sub])
    }

    @Test func pluginPathsAreReadAsTheFileServiceReadsThem() throws {
        // `$WORKSPACE` and `$WORKSPACE/sub`, as the bundled tools declare them, are the workspace's:
        // no note (every command used to print two warnings), and no second rule for the workspace.
        let sub = paths.workspace + "/sub"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        let own = try policy("", permissions: PluginPermissions(fsRead: ["$WORKSPACE"], fsWrite: ["$WORKSPACE/sub"]))
        #expect(own.notes.isEmpty, "\(own.notes)")
        #expect(own.readPaths.isEmpty)
        #expect(own.writePaths == [sub])
        // A credential folder of the user's home stays closed to commands, as to the file service.
        let userHome = TestSupport.makeTemporaryDirectory("lgpt-userhome")
        try FileManager.default.createDirectory(atPath: userHome + "/.ssh/keys", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: userHome + "/notes", withIntermediateDirectories: true)
        let configuration = try Configuration(toml: "", environment: ["HOME": userHome])
        let grants = PluginPermissions(fsRead: ["~/.ssh", "~/notes", userHome + "/.ssh/keys"])
        let p = try SandboxPolicy(configuration: configuration, paths: paths, permissions: grants)
        #expect(p.readPaths == [userHome + "/notes"])
        for refused in [userHome + "/.ssh", userHome + "/.ssh/keys"] {
            #expect(
                p.notes.contains { $0.contains("\(refused) is skipped: it overlaps \(userHome)/.ssh") },
                "\(p.notes)"
            )
        }
    }

    /// A workspace holding a credential folder is refused whichever home `~` names: `$HOME` or the
    /// account's (they differ under sudo or a service; `~` used to expand to the account's while only
    /// `$HOME`'s folders were checked, and without `$HOME` nothing was).
    @Test func aWorkspaceHoldingEitherHomesCredentialsIsRefused() throws {
        let other = TestSupport.makeTemporaryDirectory("lgpt-other-home")
        let moved = LocalGPTPaths(home: paths.home, workspace: NSHomeDirectory())
        for environment in [["HOME": other], [:]] {
            let configuration = try Configuration(toml: "", environment: environment)
            let error = #expect(throws: SandboxError.self) {
                try SandboxPolicy(configuration: configuration, paths: moved)
            }
            #expect(error?.message.contains("which commands may not reach") == true, "\(environment)")
        }
    }

    @Test func pluginGrantsAddPathsAndDecideTheNetwork() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-grant")
        let permissions = PluginPermissions(
            netHosts: ["api.example.com", "localhost:8080"],
            fsRead: [dir],
            fsWrite: [paths.home + "/grants.json"]
        )
        let denied = try policy("", permissions: permissions)
        #expect(denied.network == .denied, "network.policy defaults to deny")
        #expect(denied.readPaths == [dir])
        #expect(denied.writePaths.isEmpty, "the LocalGPT home is never granted")
        let allowed = try policy("[sandbox.network]\npolicy = \"allow\"\n", permissions: permissions)
        #expect(allowed.network == .allowed(tcpPorts: [53, 80, 443, 8080]))
        let anyPort = try policy(
            "[sandbox.network]\npolicy = \"allow\"\n",
            permissions: PluginPermissions(netHosts: ["localhost:*"])
        )
        #expect(anyPort.network == .allowed(tcpPorts: nil))
    }

    @Test func levelsAskForTheirLayers() throws {
        #expect(SandboxLevel.auto.requestedLayers == SandboxLayer.allCases)
        #expect(SandboxLevel.full.requestedLayers == SandboxLayer.allCases)
        #expect(
            Set(SandboxLevel.standard.requestedLayers) == [
                .landlockFilesystem, .seccomp, .noNewPrivileges, .dropCapabilities,
            ]
        )
        #expect(
            Set(SandboxLevel.minimal.requestedLayers) == [
                .resourceLimits, .pidsCgroup, .noNewPrivileges, .dropCapabilities,
            ]
        )
        #expect(SandboxLevel.none.requestedLayers.isEmpty)
    }

    @Test func aKernelWithoutLandlockDegradesAndSaysWhatIsMissing() throws {
        let p = try policy("")
        let old = SandboxCapabilities(landlockABI: 0, landlockError: ENOSYS, seccomp: true, effectiveUserID: 1000)
        let report = p.report(capabilities: old)
        #expect(report.effectiveLevel == .full)
        #expect(report.isDegraded)
        #expect(report.layers.contains(.seccomp) && report.layers.contains(.resourceLimits))
        #expect(!report.layers.contains(.landlockFilesystem))
        #expect(report.missing.map(\.layer) == [.landlockFilesystem, .landlockNetwork, .landlockScope])
        #expect(report.missing[0].reason.contains("built without Landlock"))
        #expect(report.warnings.contains { $0.hasPrefix("sandbox layer landlock-fs missing:") })
    }

    @Test func olderLandlockABIsDegradeLayerByLayer() throws {
        let p = try policy("")
        let abi3 = p.report(capabilities: SandboxCapabilities(landlockABI: 3, seccomp: true))
        #expect(abi3.layers.contains(.landlockFilesystem))
        #expect(abi3.missing.map(\.layer) == [.landlockNetwork, .landlockScope])
        #expect(abi3.missing[0].reason.contains("seccomp still denies sockets"))
        let abi1 = p.report(capabilities: SandboxCapabilities(landlockABI: 1, seccomp: false))
        #expect(abi1.missing.map(\.layer).contains(.seccomp))
        #expect(abi1.notes.contains { $0.contains("truncate") })
        #expect(abi1.notes.contains { $0.contains("mv between folders") })
    }

    @Test func rootWithoutAPidsCgroupIsToldTheForkBombDefenceIsMissing() throws {
        let p = try policy("")
        let root = SandboxCapabilities(landlockABI: 7, seccomp: true, canDropCapabilities: true, effectiveUserID: 0)
        let report = p.report(capabilities: root)
        #expect(report.missing.map(\.layer) == [.pidsCgroup])
        #expect(report.missing[0].reason.contains("RLIMIT_NPROC does not bind root"))
        let user = p.report(capabilities: SandboxCapabilities(landlockABI: 7, seccomp: true, effectiveUserID: 1000))
        #expect(user.missing.isEmpty)
        #expect(user.notes.contains { $0.contains("RLIMIT_NPROC bounds") })
        let rootNoSetpcap = p.report(
            capabilities: SandboxCapabilities(landlockABI: 7, seccomp: true, effectiveUserID: 0)
        )
        #expect(rootNoSetpcap.missing.map(\.layer).contains(.dropCapabilities))
    }

    @Test func pathRulesCoverWhatAShellNeedsAndNothingElse() throws {
        let p = try policy("")
        let rules = p.pathRules(temporaryDirectory: "/dev/shm/lgpt-sandbox.test")
        let byPath = Dictionary(rules.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath[paths.workspace]?.access == .readWrite)
        #expect(byPath["/dev/shm/lgpt-sandbox.test"]?.access == .readWrite)
        #expect(byPath["/usr"]?.access == .readExecute)
        #expect(byPath["/proc"]?.access == .read)
        #expect(byPath["/dev/null"]?.access == .device)
        #expect(byPath["/tmp"] == nil && byPath["/dev/shm"] == nil && byPath["/dev"] == nil)
        #expect(byPath[paths.home] == nil && byPath[paths.configFile] == nil)
        #expect(!rules.contains { paths.home.hasPrefix($0.path + "/") && $0.path != "/" })
        if geteuid() == 0 {
            #expect(byPath["/etc"] == nil, "as root /etc is granted entry by entry")
            #expect(byPath["/etc/passwd"]?.access == .read)
            #expect(byPath["/etc/shadow"] == nil && byPath["/etc/gshadow"] == nil && byPath["/etc/ssh"] == nil)
        } else {
            #expect(byPath["/etc"]?.access == .read)
        }
    }
}
