//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import LocalGPTCore

struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Show and test the kernel sandbox every plugin-requested command runs in.",
        discussion: "docs/SANDBOX.md describes the layers, the levels and what is allowed.",
        subcommands: [Status.self, Test.self, Run.self, Bench.self, Recover.self]
    )

    /// The policy of a plugin command with no extra grant, from config.toml.
    static func policy(_ context: CLIContext) throws -> SandboxPolicy {
        do {
            return try SandboxPolicy(configuration: context.configuration, paths: context.paths)
        } catch {
            throw CLIError("config.toml: \(error.message)")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Print what this kernel offers, the effective level, every limit and the allowed paths."
        )
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let context = try CLIContext.make(options)
            let policy = try SandboxCommand.policy(context)
            let capabilities = SandboxCapabilities.current
            let report = policy.report(capabilities: capabilities)
            let rules = policy.pathRules(temporaryDirectory: nil)
            let temporaryParent = policy.effectiveTemporaryParent
            if json {
                print(jsonStatus(policy, capabilities, report, rules, temporaryParent).encoded(pretty: true))
                return
            }
            let limits = policy.limits
            var lines: [String] = []
            lines.append("Kernel:          Linux \(capabilities.kernelRelease)")
            lines.append("  Landlock:      \(capabilities.landlockDescription)")
            lines.append("  seccomp:       \(capabilities.seccompDescription)")
            lines.append("  no_new_privs:  \(capabilities.noNewPrivileges ? "yes" : "no")")
            lines.append(
                "  pids cgroup:   "
                    + (capabilities.pidsCgroup.map { "yes (\($0))" }
                        ?? "no (\(capabilities.isRoot ? "root: only the timeout bounds processes" : "RLIMIT_NPROC bounds processes"))")
            )
            lines.append(
                "  running as:    uid \(capabilities.effectiveUserID)"
                    + (capabilities.isRoot
                        ? (capabilities.canDropCapabilities
                            ? " (root; capabilities are dropped)" : " (root, no CAP_SETPCAP)")
                        : "")
                    + (capabilities.alreadyConfined ? "; the host itself runs under seccomp/no_new_privs" : "")
            )
            lines.append("")
            lines.append("Level:           \(report.configuredLevel.rawValue) -> \(report.effectiveLevel.rawValue)")
            lines.append("Layers:          " + (report.layers.isEmpty ? "none" : ""))
            for layer in report.layers { lines.append("  \(layer.rawValue.padded(15)) \(layer.summary)") }
            lines.append("Missing:         " + (report.missing.isEmpty ? "none" : ""))
            for m in report.missing { lines.append("  \(m.layer.rawValue.padded(15)) \(m.reason)") }
            lines.append("Limits:")
            lines.append("  timeout          \(milliseconds(limits.timeout)) ms (a call may ask for up to 600000 ms)")
            lines.append("  output           \(limits.outputBytes) bytes kept of each of stdout and stderr")
            lines.append("  file size        \(limitText(limits.fileSizeBytes, "bytes"))")
            lines.append("  processes        \(limits.processes) (threads count too)")
            lines.append("  open files       \(limits.openFiles)")
            lines.append("  CPU time         \(limitText(UInt64(limits.cpuSeconds), "s per process"))")
            lines.append("  address space    \(limitText(limits.addressSpaceBytes, "bytes per process"))")
            lines.append(
                "Network:         "
                    + (policy.networkPolicy == "allow"
                        ? "allow for plugins granted network hosts (TCP connect to their ports only); denied otherwise"
                        : "deny (no socket at all; AF_UNIX socketpair only)")
            )
            lines.append("Writable:")
            lines.append("  \(policy.workspace)  (workspace)")
            lines.append("  \(temporaryParent)/lgpt-sandbox.*  (private temporary folder, one per command, TMPDIR)")
            for rule in rules where rule.origin == .configuration && rule.access == .readWrite {
                lines.append("  \(rule.path)  (sandbox.allow_paths.write)")
            }
            lines.append("Readable:")
            for rule in rules where rule.origin == .system && !rule.path.hasPrefix("/etc/") {
                lines.append("  \(rule.path)  (\(rule.access.rawValue))")
            }
            let etc = rules.filter { $0.path.hasPrefix("/etc/") }.count
            if etc > 0 {
                lines.append(
                    "  /etc/*  (read; \(etc) entries, without: "
                        + SandboxPolicy.etcSecrets.prefix(8).joined(separator: ", ") + ", ...)"
                )
            }
            for rule in rules where rule.origin == .configuration && rule.access != .readWrite {
                lines.append("  \(rule.path)  (sandbox.allow_paths.read)")
            }
            let userHome = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
            lines.append(
                "Denied:          everything else, e.g. \(userHome), \(userHome)/.ssh, \(context.paths.configFile), "
                    + "\(context.paths.grantsFile)"
            )
            for note in report.configurationProblems + report.notes { lines.append("Note: \(note)") }
            print(lines.joined(separator: "\n"))
        }

        private func jsonStatus(
            _ policy: SandboxPolicy,
            _ capabilities: SandboxCapabilities,
            _ report: SandboxReport,
            _ rules: [SandboxPathRule],
            _ temporaryParent: String
        ) -> JSONValue {
            let limits = policy.limits
            return .object([
                "kernel": .string(capabilities.kernelRelease),
                "landlock_abi": .int(Int64(capabilities.landlockABI)),
                "seccomp": .bool(capabilities.seccomp),
                "pids_cgroup": capabilities.pidsCgroup.map(JSONValue.string) ?? .null,
                "euid": .int(Int64(capabilities.effectiveUserID)),
                "configured_level": .string(report.configuredLevel.rawValue),
                "effective_level": .string(report.effectiveLevel.rawValue),
                "layers": .array(report.layers.map { .string($0.rawValue) }),
                "missing": .array(
                    report.missing.map { .object(["layer": .string($0.layer.rawValue), "reason": .string($0.reason)]) }
                ),
                "limits": .object([
                    "timeout_ms": .int(milliseconds(limits.timeout)),
                    "max_output_bytes": .int(Int64(limits.outputBytes)),
                    "max_file_size_bytes": .int(Int64(limits.fileSizeBytes)),
                    "max_processes": .int(Int64(limits.processes)),
                    "max_open_files": .int(Int64(limits.openFiles)),
                    "max_cpu_seconds": .int(Int64(limits.cpuSeconds)),
                    "max_memory_bytes": .int(Int64(limits.addressSpaceBytes)),
                ]),
                "network": .string(policy.networkPolicy),
                "temporary_parent": .string(temporaryParent),
                "paths": .array(
                    rules.map {
                        .object([
                            "path": .string($0.path), "access": .string($0.access.rawValue),
                            "origin": .string($0.origin.rawValue),
                        ])
                    }
                ),
                "notes": .array((report.configurationProblems + report.notes).map(JSONValue.string)),
            ])
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test",
            abstract: "Run a battery of escape attempts and workspace work through the sandbox; print each result.",
            discussion: "Exits with status 1 when a check fails."
        )
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let context = try CLIContext.make(options)
            let test: SandboxSelfTest
            do {
                test = try SandboxSelfTest(paths: context.paths, configuration: context.configuration)
            } catch {
                throw CLIError("config.toml: \(error.message)")
            }
            let report = test.policy.report(capabilities: test.capabilities)
            print(
                "Sandbox test: level \(report.configuredLevel.rawValue) -> \(report.effectiveLevel.rawValue), "
                    + "workspace \(context.paths.workspace)"
            )
            for warning in report.warnings { print("warning: \(warning)") }
            let checks: [SandboxSelfTest.Check]
            do {
                checks = try test.run { check in
                    let tag: String
                    switch check.outcome {
                    case .passed: tag = "PASS"
                    case .failed: tag = "FAIL"
                    case .skipped: tag = "SKIP"
                    }
                    print("\(tag)  \(check.name): \(check.detail)")
                    fflush(nil)
                }
            } catch {
                throw CLIError(error.message)
            }
            let passed = checks.filter { $0.outcome == .passed }.count
            let failed = checks.filter { $0.outcome == .failed }.count
            let skipped = checks.filter { $0.outcome == .skipped }.count
            print("\(passed) passed, \(failed) failed" + (skipped > 0 ? ", \(skipped) skipped" : ""))
            if failed > 0 { throw ExitCode(1) }
        }
    }

    /// What the warden of a LocalGPT process that died mid-run execs once it has killed what that
    /// process's commands left running (SandboxWarden): the recovery every LocalGPT command also
    /// does at its start, done at once.
    struct Recover: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recover",
            abstract: "Put back the protected files changed by commands of a LocalGPT process that died mid-run.",
            shouldDisplay: false
        )
        @OptionGroup var options: GlobalOptions

        func run() throws {
            try CLIContext.make(options).recoverProtectedFiles()
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a bash script in the workspace, sandboxed as a plugin's command would be (for debugging).",
            shouldDisplay: false
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The script, given to bash -c.") var script: String

        func run() throws {
            let context = try CLIContext.make(options)
            let policy = try SandboxCommand.policy(context)
            try context.paths.createDirectories()
            let request = ProcessRequest(
                executable: "/bin/bash",
                arguments: ["bash", "-c", script],
                environment: [
                    "PATH": PluginHost.execSearchPath, "HOME": context.paths.workspace, "LANG": "C.UTF-8",
                    "TERM": "dumb",
                ],
                workingDirectory: context.paths.workspace,
                timeout: policy.limits.timeout,
                outputLimit: policy.limits.outputBytes,
                sandbox: policy
            )
            let result: ProcessResult
            do {
                result = try ProcessRunner.run(request)
            } catch {
                throw CLIError(error.message)
            }
            FileHandle.standardOutput.write(Data(result.standardOutput))
            FileHandle.standardError.write(Data(result.standardError))
            for warning in result.sandbox?.warnings ?? [] { printError("warning: \(warning)") }
            if result.timedOut { printError("timed out") }
            throw ExitCode(result.exitCode ?? 128 + (result.signal ?? 0))
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Measure the sandbox's added cost: `bash -c true` plain versus sandboxed.",
            shouldDisplay: false
        )
        @OptionGroup var options: GlobalOptions
        @Option(help: "Runs of each kind (interleaved).") var runs = 200
        @Option(help: "The sandbox level to measure (default: the configured one).") var level: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let context = try CLIContext.make(options)
            var policy = try SandboxCommand.policy(context)
            if let level {
                guard let parsed = SandboxLevel(rawValue: level) else { throw CLIError("unknown level \(level)") }
                policy.level = parsed
            }
            try context.paths.createDirectories()
            guard let bash = ProcessRunner.resolveExecutable("bash", searchPath: PluginHost.execSearchPath) else {
                throw CLIError("bash is not installed")
            }
            func request(_ sandbox: SandboxPolicy?) -> ProcessRequest {
                ProcessRequest(
                    executable: bash,
                    arguments: ["bash", "-c", "true"],
                    environment: ["PATH": PluginHost.execSearchPath, "HOME": context.paths.workspace],
                    workingDirectory: context.paths.workspace,
                    sandbox: sandbox
                )
            }
            // Plain, sandboxed, and sandboxed inside the protected-file guard (as a plugin's exec runs).
            var samples: [[Double]] = [[], [], []]
            let protectedFiles = ProtectedFileGuard(paths: context.paths)
            let watched = PluginHost.protectedFiles(writableUnder: policy, paths: context.paths)
            let clock = ContinuousClock()
            for i in 0..<(runs + 10) {
                for kind in 0..<3 {
                    let start = clock.now
                    let result: ProcessResult
                    if kind == 2 {
                        let token = protectedFiles.begin(watched)
                        result = try ProcessRunner.run(
                            request(policy),
                            started: { protectedFiles.started(token, processGroup: $0) }
                        )
                        _ = protectedFiles.end(token)
                    } else {
                        result = try ProcessRunner.run(request(kind == 0 ? nil : policy))
                    }
                    let ms =
                        Double((clock.now - start).components.attoseconds) / 1e15
                        + Double((clock.now - start).components.seconds) * 1000
                    guard result.succeeded else { throw CLIError("bash -c true failed: \(result)") }
                    if i >= 10 { samples[kind].append(ms) }  // 10 warm-up rounds
                }
            }
            // The guard alone, without a command (its own cost, free of the process's noise).
            var alone: [Double] = []
            for _ in 0..<runs {
                let start = clock.now
                let token = protectedFiles.begin(watched)
                _ = protectedFiles.end(token)
                let elapsed = (clock.now - start).components
                alone.append(Double(elapsed.attoseconds) / 1e15 + Double(elapsed.seconds) * 1000)
            }
            // The warden's part of every run: one message when the command starts, one when it ends.
            var warden: [Double] = []
            for _ in 0..<runs {
                let start = clock.now
                SandboxWarden.watch(group: getpid(), cgroup: nil)
                SandboxWarden.release(group: getpid())
                let elapsed = (clock.now - start).components
                warden.append(Double(elapsed.attoseconds) / 1e15 + Double(elapsed.seconds) * 1000)
            }
            let report = policy.report(capabilities: .current)
            let w = Stats(warden)
            let a = Stats(alone)
            let p = Stats(samples[0])
            let s = Stats(samples[1])
            let g = Stats(samples[2])
            if json {
                let doc: JSONValue = .object([
                    "runs": .int(Int64(runs)),
                    "level": .string(report.effectiveLevel.rawValue),
                    "layers": .array(report.layers.map { .string($0.rawValue) }),
                    "plain_median_ms": .double(p.median), "plain_p90_ms": .double(p.p90),
                    "sandboxed_median_ms": .double(s.median), "sandboxed_p90_ms": .double(s.p90),
                    "added_median_ms": .double(s.median - p.median),
                    "guarded_median_ms": .double(g.median), "guarded_p90_ms": .double(g.p90),
                    "guard_added_median_ms": .double(g.median - s.median), "guard_alone_median_ms": .double(a.median),
                    "warden_alone_median_ms": .double(w.median),
                ])
                print(doc.encoded(pretty: true))
                return
            }
            print("bash -c true, \(runs) runs each (interleaved, after 10 warm-up rounds), through ProcessRunner")
            print("level \(report.effectiveLevel.rawValue): \(report.layers.map(\.rawValue).joined(separator: ", "))")
            print("plain:      median \(fmt(p.median)) ms  p90 \(fmt(p.p90)) ms  min \(fmt(p.min)) ms")
            print("sandboxed:  median \(fmt(s.median)) ms  p90 \(fmt(s.p90)) ms  min \(fmt(s.min)) ms")
            print("added:      median \(fmt(s.median - p.median)) ms")
            print("guarded:    median \(fmt(g.median)) ms  p90 \(fmt(g.p90)) ms  min \(fmt(g.min)) ms")
            print("guard adds: median \(fmt(g.median - s.median)) ms (\(watched.count) protected files watched)")
            print("guard alone (begin, end; no command): median \(fmt(a.median)) ms  p90 \(fmt(a.p90)) ms")
            print(
                "warden alone (watch, release; no command): median \(fmt(w.median * 1000)) µs  p90 \(fmt(w.p90 * 1000)) µs"
            )
        }

        private struct Stats {
            let median: Double
            let p90: Double
            let min: Double
            init(_ values: [Double]) {
                let sorted = values.sorted()
                median = sorted.isEmpty ? 0 : (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
                p90 = sorted.isEmpty ? 0 : sorted[Swift.min(sorted.count - 1, sorted.count * 9 / 10)]
                min = sorted.first ?? 0
            }
        }

        private func fmt(_ v: Double) -> String { String(format: "%.3f", v) }
    }
}

private func milliseconds(_ d: Duration) -> Int64 {
    d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
}

private func limitText(_ value: UInt64, _ unit: String) -> String {
    value == 0 ? "no limit" : "\(value) \(unit)"
}

extension String {
    fileprivate func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
