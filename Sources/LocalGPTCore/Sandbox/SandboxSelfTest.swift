//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTSandbox
import Foundation
import Glibc

/// The battery behind `localgpt sandbox test`: a dozen commands run through the same path as a
/// plugin's `exec` (the policy built from config.toml, the scrubbed environment, the workspace as
/// working folder, ``ProcessRunner``), each checking one promise of the sandbox and saying what it
/// proved. Runs in a scratch folder inside the workspace, removed afterwards.
public struct SandboxSelfTest: Sendable {
    /// How one check ended.
    public enum Outcome: String, Sendable {
        case passed
        case failed
        case skipped
    }

    /// One check: its name, how it ended, and what it proved (or why it failed or was skipped).
    public struct Check: Sendable {
        public var name: String
        public var outcome: Outcome
        public var detail: String
    }

    public let paths: LocalGPTPaths
    public let policy: SandboxPolicy
    public let capabilities: SandboxCapabilities
    /// The host user's home folder (where `~/.ssh` is).
    public let userHome: String

    /// - Throws: ``SandboxError`` when `[sandbox]` of the configuration is invalid.
    public init(
        paths: LocalGPTPaths,
        configuration: Configuration,
        capabilities: SandboxCapabilities = .current,
        userHome: String? = nil
    ) throws(SandboxError) {
        self.paths = paths
        self.policy = try SandboxPolicy(configuration: configuration, paths: paths)
        self.capabilities = capabilities
        self.userHome = userHome ?? ProcessEnvironment.current["HOME"] ?? NSHomeDirectory()
    }

    /// Runs every check in order, reporting each to `progress` as it finishes.
    ///
    /// - Throws: ``SandboxError`` when the workspace scratch folder cannot be created.
    @discardableResult
    public func run(progress: (Check) -> Void = { _ in }) throws(SandboxError) -> [Check] {
        do {
            try paths.createDirectories()
        } catch {
            throw SandboxError(code: .workspaceMissing, message: "cannot create the workspace: \(error)")
        }
        let scratch = paths.workspace + "/.sandbox-test-\(getpid())"
        guard mkdir(scratch, 0o700) == 0 || errno == EEXIST else {
            throw SandboxError(
                code: .workspaceMissing,
                message: "cannot create \(scratch): \(ProcessRunner.errorText(errno))"
            )
        }
        defer { _ = lgpt_sandbox_remove_tree(scratch) }
        let runner = Runner(policy: policy, workspace: paths.workspace, scratch: scratch)
        var checks: [Check] = []
        let report = policy.report(capabilities: capabilities)
        for check in allChecks(report: report) {
            let result = check.body(runner)
            let done = Check(name: check.name, outcome: result.0, detail: result.1)
            checks.append(done)
            progress(done)
        }
        return checks
    }

    private struct Entry {
        let name: String
        let body: (Runner) -> (Outcome, String)
    }

    private func allChecks(report: SandboxReport) -> [Entry] {
        let home = paths.home
        let userHome = self.userHome
        let limits = policy.limits
        let layers = Set(report.layers)
        let marker = "lgpt-selftest-\(getpid())-\(UInt32.random(in: 1000...999_999))"
        return [
            Entry(name: "a command runs") { run in
                let r = run.bash("echo sandbox-ok")
                guard r.ok, r.stdout == "sandbox-ok\n" else { return (.failed, r.summary) }
                let level = "\(report.configuredLevel.rawValue) -> \(report.effectiveLevel.rawValue)"
                return (.passed, "level \(level); layers: \(report.layers.map(\.rawValue).joined(separator: ", "))")
            },
            Entry(name: "workspace work succeeds") { run in
                let hasGit = ProcessRunner.resolveExecutable("git", searchPath: PluginHost.execSearchPath) != nil
                let r = run.bash(SandboxSelfTest.workspaceScript(git: hasGit))
                guard r.ok, r.stdout.hasSuffix("workspace-ok\n") else { return (.failed, r.summary) }
                return (
                    .passed,
                    "create, sed -i, > truncation, mv across folders, mkdir -p, symlink, pipes, /dev/null, TMPDIR"
                        + (hasGit ? ", git init" : " (git is not installed: git init not tried)")
                )
            },
            Entry(name: "writing outside the workspace is denied") { run in
                let targets = ["/etc/\(marker)", "\(home)/\(marker)", "/tmp/\(marker)", "\(userHome)/\(marker)"]
                let script = targets.map { "echo x > \(Self.quote($0)) 2>&1 || echo denied:$?" }.joined(separator: "\n")
                let r = run.bash(script)
                let created = targets.filter { access($0, F_OK) == 0 }
                for path in created { unlink(path) }
                let denials = r.stdout.components(separatedBy: "denied:").count - 1
                guard created.isEmpty, denials == targets.count, r.both.contains("Permission denied") else {
                    return (.failed, "created: \(created); \(r.summary)")
                }
                return (.passed, "/etc, the LocalGPT home, /tmp and the home folder: Permission denied")
            },
            Entry(name: "~/.ssh is unreadable") { run in
                let ssh = userHome + "/.ssh"
                let target = access(ssh, F_OK) == 0 ? ssh : userHome
                let hostCanList = opendir(target).map { closedir($0) } != nil
                let r = run.bash("ls -A \(Self.quote(target)); echo status:$?")
                guard layers.contains(.landlockFilesystem) else {
                    return (.failed, "no Landlock: \(target) is readable by commands")
                }
                guard r.both.contains("Permission denied"), !r.stdout.contains("status:0") else {
                    return (.failed, r.summary)
                }
                return (
                    .passed,
                    "listing \(target): Permission denied" + (hostCanList ? " (the host itself can list it)" : "")
                )
            },
            Entry(name: "the LocalGPT config is unreadable") { run in
                let candidates: [String] = [paths.configFile, paths.grantsFile, paths.deviceKey, paths.auditLog]
                let files = candidates.filter { access($0, F_OK) == 0 }
                guard !files.isEmpty else { return (.skipped, "no config.toml, grants.json or key exists yet") }
                let r = run.bash(
                    files.map { "cat \(Self.quote($0)) >/dev/null 2>&1 || echo denied" }.joined(separator: "\n")
                )
                guard r.stdout.components(separatedBy: "denied").count - 1 == files.count else {
                    return (.failed, r.summary)
                }
                return (.passed, files.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ") + ": denied")
            },
            Entry(name: "the network is denied") { run in
                guard !policy.network.isAllowed else { return (.skipped, "sandbox.network.policy allows it") }
                let r = run.bash("exec 3<>/dev/tcp/127.0.0.1/80 || echo status:$?")
                guard r.stdout.contains("status:"),
                    r.both.contains("not permitted") || r.both.contains("Permission denied")
                else { return (.failed, r.summary) }
                let how =
                    r.both.contains("not permitted") ? "socket(): EPERM (seccomp)" : "connect(): EACCES (Landlock)"
                return (.passed, "TCP to 127.0.0.1:80: \(how), not a connection error")
            },
            Entry(name: "no privileges") { run in
                let r = run.bash(
                    "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; cat /proc/$PPID/environ >/dev/null 2>&1 || echo environ-denied"
                )
                let capsDropped = r.stdout.contains("CapEff:\t0000000000000000")
                let noNewPrivs = r.stdout.contains("NoNewPrivs:\t1")
                let environ = r.stdout.contains("environ-denied")
                guard capsDropped, noNewPrivs, environ || !layers.contains(.landlockFilesystem) else {
                    return (.failed, r.summary)
                }
                return (
                    .passed,
                    "no capabilities, no_new_privs set (setuid bits ignored)"
                        + (environ ? ", the host's environment unreadable" : "")
                )
            },
            Entry(name: "the timeout kills the whole group") { run in
                let tag = "60.\(UInt32.random(in: 100_000...999_999))"
                let start = ContinuousClock.now
                let r = run.bash("(trap '' TERM; sleep \(tag)) & sleep \(tag); wait", timeout: .seconds(1))
                let elapsed = ContinuousClock.now - start
                let left = SandboxSelfTest.processes(matching: "sleep\0\(tag)")
                for pid in left { kill(pid, SIGKILL) }
                guard r.result?.timedOut == true, elapsed < .seconds(5), left.isEmpty else {
                    return (.failed, "left running: \(left); \(r.summary)")
                }
                return (.passed, "a 60 s command that ignores SIGTERM, with a child, ended after \(Self.text(elapsed))")
            },
            Entry(name: "output is capped") { run in
                let total = limits.outputBytes * 3 + 1000
                let r = run.bash("head -c \(total) /dev/zero")
                guard let result = r.result, result.isStandardOutputTruncated,
                    result.standardOutput.count == limits.outputBytes, result.standardOutputBytes == total
                else { return (.failed, r.summary) }
                return (.passed, "kept \(limits.outputBytes) of \(total) bytes, and reported the total")
            },
            Entry(name: "the file size limit holds") { run in
                guard layers.contains(.resourceLimits), limits.fileSizeBytes > 0, limits.fileSizeBytes <= 256 << 20
                else {
                    return (.skipped, "no file size limit at this level, or one above 256 MiB")
                }
                let r = run.bash(
                    "head -c \(limits.fileSizeBytes + 4096) /dev/zero > big.bin; echo status:$?; stat -c %s big.bin"
                )
                let size = r.stdout.split(separator: "\n").last.flatMap { UInt64($0) }
                guard !r.stdout.contains("status:0"), let size, size <= limits.fileSizeBytes else {
                    return (.failed, r.summary)
                }
                return (.passed, "writing past \(limits.fileSizeBytes) bytes failed; the file stopped at \(size)")
            },
            Entry(name: "a fork bomb is contained") { run in
                let bounded = layers.contains(.pidsCgroup) || (layers.contains(.resourceLimits) && !capabilities.isRoot)
                guard bounded else {
                    return (.skipped, "not run: nothing bounds the process count here (root without a pids cgroup)")
                }
                let fn = "bomb_" + marker.replacingOccurrences(of: "-", with: "_")
                let start = ContinuousClock.now
                let r = run.bash("\(fn)() { \(fn) | \(fn) & }; \(fn); sleep 2", timeout: .seconds(3))
                let elapsed = ContinuousClock.now - start
                let left = SandboxSelfTest.processes(matching: fn)
                for pid in left { kill(pid, SIGKILL) }
                let after = run.bash("echo alive")
                guard r.result != nil, elapsed < .seconds(10), left.isEmpty, after.stdout == "alive\n" else {
                    return (.failed, "left running: \(left.count); \(r.summary)")
                }
                let swept = r.result?.sandbox?.strayProcessesKilled ?? 0
                let bound = layers.contains(.pidsCgroup) ? "pids.max \(limits.processes)" : "RLIMIT_NPROC"
                return (
                    .passed,
                    "bounded by \(bound), ended after \(Self.text(elapsed)), nothing left"
                        + (swept > 0 ? " (\(swept) stray processes swept)" : "") + ", the host runs on"
                )
            },
        ]
    }

    /// The legitimate work every sandboxed command must still be able to do in the workspace.
    public static func workspaceScript(git: Bool) -> String {
        """
        set -e
        mkdir -p a/b/c
        echo hello > a/b/c/file.txt
        sed -i 's/hello/bonjour/' a/b/c/file.txt
        grep -q bonjour a/b/c/file.txt
        echo short > a/b/c/file.txt
        test "$(cat a/b/c/file.txt)" = short
        mv a/b/c/file.txt a/moved.txt
        ln -s moved.txt a/link.txt
        test "$(cat a/link.txt)" = short
        printf 'one\\ntwo\\nthree\\n' | grep t | sort | wc -l | grep -q 2
        echo discarded > /dev/null
        cat /dev/null
        echo temp > "$TMPDIR/t.txt" && test "$(cat "$TMPDIR/t.txt")" = temp
        \(git ? "git init -q repo && test -d repo/.git" : "true")
        rm -rf a repo
        echo workspace-ok
        """
    }

    /// Quotes a path for bash.
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func text(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        return String(format: "%.1f s", Double(ms) / 1000)
    }

    /// The pids whose command line contains `needle` (NUL separates arguments).
    static func processes(matching needle: String) -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        let me = getpid()
        while let entry = readdir(dir) {
            let name = directoryEntryNameString(entry)
            guard let pid = Int32(name), pid != me else { continue }
            if let cmdline = SandboxCgroup.readText("/proc/\(pid)/cmdline"), cmdline.contains(needle) {
                out.append(pid)
            }
        }
        return out
    }

    /// Runs a bash script in the scratch folder the way `exec` runs a plugin's `shell` request.
    fileprivate struct Runner {
        let policy: SandboxPolicy
        let workspace: String
        let scratch: String

        struct Output {
            var result: ProcessResult?
            var error: String?
            var stdout: String { result.map { String(decoding: $0.standardOutput, as: UTF8.self) } ?? "" }
            var stderr: String { result.map { String(decoding: $0.standardError, as: UTF8.self) } ?? "" }
            var both: String { stdout + stderr }
            var ok: Bool { result?.succeeded == true }
            var summary: String {
                if let error { return "error: \(error)" }
                guard let result else { return "no result" }
                let code = result.exitCode.map { "exit \($0)" } ?? "signal \(result.signal ?? 0)"
                return "\(code)\(result.timedOut ? ", timed out" : ""); stdout: \(stdout.prefix(300)); "
                    + "stderr: \(stderr.prefix(300))"
            }
        }

        func bash(_ script: String, timeout: Duration? = nil) -> Output {
            guard let bash = ProcessRunner.resolveExecutable("bash", searchPath: PluginHost.execSearchPath) else {
                return Output(error: "bash is not installed")
            }
            let request = ProcessRequest(
                executable: bash,
                arguments: ["bash", "-c", script],
                environment: ["PATH": PluginHost.execSearchPath, "HOME": workspace, "LANG": "C.UTF-8", "TERM": "dumb"],
                workingDirectory: scratch,
                timeout: timeout ?? policy.limits.timeout,
                outputLimit: policy.limits.outputBytes,
                sandbox: policy
            )
            do {
                return Output(result: try ProcessRunner.run(request))
            } catch {
                return Output(error: error.description)
            }
        }
    }
}
