//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTTesting
import Synchronization
import Testing

@testable import LocalGPTCore

/// What each level does at run time, and how a kernel that lacks a layer degrades: the command still
/// runs, with the layers that exist, and the report names what is missing.
@Suite(.enabled(if: SandboxFixture.hasFullSandbox, "needs Landlock ABI 6+ and seccomp"))
struct SandboxLevelTests {
    init() throws {
        try #require(SandboxProbe.built)
    }

    private let check = """
        cat "$SECRET" >/dev/null 2>&1 && echo read:yes || echo read:no
        $PROBE tcp
        head -c 2000000 /dev/zero > big.bin 2>/dev/null; echo size:$(stat -c %s big.bin)
        grep NoNewPrivs /proc/self/status
        """

    @Test func standardHasFilesAndSystemCallsButNoLimits() throws {
        let f = try SandboxFixture(level: .standard)
        let r = try f.run(check)
        #expect(r.stdout.contains("read:no"))
        #expect(r.probe("tcp") == "tcp: errno=1")
        #expect(r.stdout.contains("size:2000000"), "no RLIMIT_FSIZE at standard")
        #expect(r.stdout.contains("NoNewPrivs:\t1"))
        #expect(r.result.sandbox?.layers.contains(.resourceLimits) == false)
    }

    @Test func minimalHasLimitsOnly() throws {
        let f = try SandboxFixture(level: .minimal)
        let r = try f.run(check)
        #expect(r.stdout.contains("read:yes"), "no Landlock at minimal")
        #expect(r.probe("tcp") == "tcp: ok", "no seccomp at minimal")
        #expect(r.stdout.contains("size:\(f.policy.limits.fileSizeBytes)"))
        #expect(r.stdout.contains("NoNewPrivs:\t1"))
    }

    @Test func noneIsUnconfinedButStillSupervisedAndSaysSo() throws {
        let f = try SandboxFixture(level: .none)
        let r = try f.run(check + "\necho tmp:$TMPDIR")
        #expect(r.stdout.contains("read:yes"))
        #expect(r.probe("tcp") == "tcp: ok")
        #expect(r.stdout.contains("size:2000000"))
        #expect(r.stdout.contains("NoNewPrivs:\t0"))
        let report = try #require(r.result.sandbox)
        #expect(report.layers.isEmpty)
        #expect(report.warnings == ["sandbox level \"none\": the command runs without any kernel sandbox"])
        // The host's own limits still hold.
        let slow = try f.run("sleep 10", timeout: .milliseconds(300))
        #expect(slow.result.timedOut)
    }

    @Test func withoutLandlockTheCommandRunsWithSeccompAndLimits() throws {
        let f = try SandboxFixture()
        var degraded = SandboxCapabilities.current
        degraded.landlockABI = 0
        degraded.landlockError = EOPNOTSUPP
        let (r, sandbox) = try run(f, check, capabilities: degraded)
        #expect(r.contains("read:yes"), "no Landlock: files are not restricted")
        #expect(r.contains("tcp: errno=1"), "seccomp still denies sockets")
        #expect(r.contains("size:\(f.policy.limits.fileSizeBytes)"))
        let report = try #require(sandbox)
        #expect(report.missing.map(\.layer) == [.landlockFilesystem, .landlockNetwork, .landlockScope])
        #expect(report.missing[0].reason.contains("disabled at boot"))
    }

    @Test func withoutSeccompLandlockStillGuardsFilesAndTCP() throws {
        let f = try SandboxFixture()
        var degraded = SandboxCapabilities.current
        degraded.seccomp = false
        degraded.seccompError = EINVAL
        let server = try LocalListener.tcp()
        defer { server.close() }
        let (r, sandbox) = try run(f, check + "\n$PROBE connect-tcp \(server.port)", capabilities: degraded)
        #expect(r.contains("read:no"))
        #expect(r.contains("tcp: ok"), "without seccomp the socket is created")
        #expect(r.contains("connect-tcp: errno=13"), "but Landlock (ABI 4) refuses the TCP connect")
        #expect(sandbox?.missing.map(\.layer) == [.seccomp])
    }

    @Test func aMissingWorkspaceIsAClearErrorAndNothingRuns() throws {
        var f = try SandboxFixture()
        f.policy.workspace = f.root + "/no-such-workspace"
        let error = #expect(throws: ProcessRunnerError.self) { try f.run("echo should-not-run") }
        #expect(error?.code == .sandboxFailed)
        #expect(error?.message.contains("does not exist or is not a folder") == true, "\(error?.message ?? "")")
    }

    @Test func aMissingExtraPathIsSkippedWithANote() throws {
        var f = try SandboxFixture()
        f.policy.readPaths.append(f.root + "/vanished")
        let r = try f.run("echo ran")
        #expect(r.stdout == "ran\n")
        #expect(r.result.sandbox?.notes.contains { $0.contains("vanished") && $0.contains("skipped") } == true)
    }

    @Test func concurrentRunsDoNotSeeEachOthersTemporaryFolders() throws {
        let f = try SandboxFixture()
        let outputs = Mutex<[(Int, String)]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let script = """
                test -z "$(ls -A "$TMPDIR")" && echo empty
                echo \(i) > "$TMPDIR/mine"; sleep 0.2
                ls -A "$(dirname "$TMPDIR")" | wc -l
                ls "$(dirname "$(dirname "$TMPDIR")")" 2>&1 | grep -c 'Permission denied'
                cat "$TMPDIR/mine"
                """
            let r = try? f.run(script)
            outputs.withLock { $0.append((i, r?.both ?? "failed")) }
        }
        for (i, output) in outputs.withLock({ $0 }) {
            // Empty at the start; its folder holds only itself; the shared parent is closed; its own file.
            #expect(output == "empty\n1\n1\n\(i)\n", "\(output)")
        }
    }

    // MARK: - Helpers

    /// Runs `script` on a kernel described by `capabilities`; returns stdout + stderr and the report.
    private func run(
        _ f: SandboxFixture,
        _ script: String,
        capabilities: SandboxCapabilities
    ) throws -> (String, SandboxReport?) {
        let request = ProcessRequest(
            executable: "/bin/bash",
            arguments: ["bash", "-c", script],
            environment: ["PATH": PluginHost.execSearchPath, "PROBE": SandboxProbe.path, "SECRET": f.secretKey],
            workingDirectory: f.paths.workspace,
            timeout: .seconds(20),
            sandbox: f.policy
        )
        let result = try ProcessRunner.run(request, capabilities: capabilities, isCancelled: { false })
        return (String(decoding: result.standardOutput + result.standardError, as: UTF8.self), result.sandbox)
    }
}
