//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Testing

/// `localgpt sandbox status`, `sandbox test` and the hidden `sandbox bench`, run as the built binary
/// with their own LOCALGPT_HOME.
@Suite struct SandboxCLITests {
    let home = TestSupport.makeTemporaryDirectory("lgpt-sandbox-cli")

    var environment: [String: String] {
        ["LOCALGPT_HOME": home, "PATH": "/usr/bin:/bin", "HOME": home, "COLUMNS": "100"]
    }

    @discardableResult
    func run(_ args: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(TestSupport.localgptExecutable, args, environment: environment)
    }

    static var kernelHasSandbox: Bool {
        let c = SandboxCapabilities.current
        return c.landlockABI >= 6 && c.seccomp
    }

    @Test func statusPrintsCapabilitiesLevelLimitsAndPaths() throws {
        let r = try run("sandbox", "status")
        #expect(r.status == 0, "\(r.stderr)")
        let c = SandboxCapabilities.current
        #expect(r.stdout.contains("  Landlock:      \(c.landlockDescription)"))
        #expect(r.stdout.contains("  seccomp:       \(c.seccompDescription)"))
        #expect(r.stdout.contains("Level:           auto -> full"))
        for limit in [
            "timeout          30000 ms", "output           1048576 bytes", "file size        52428800 bytes",
            "processes        64", "open files       1024", "CPU time         300 s",
            "address space    8589934592 bytes",
        ] {
            #expect(r.stdout.contains(limit), "missing: \(limit)")
        }
        #expect(r.stdout.contains("Network:         deny"))
        #expect(r.stdout.contains("  \(home)/workspace  (workspace)"))
        #expect(r.stdout.contains("  /usr  (read+execute)"))
        #expect(r.stdout.contains("Denied:          everything else, e.g. \(home), \(home)/.ssh, \(home)/config.toml"))

        let json = try JSONValue(parsing: try run("sandbox", "status", "--json").stdout)
        #expect(json["configured_level"] == "auto")
        #expect(json["landlock_abi"]?.intValue == Int64(c.landlockABI))
        #expect(json["limits"]?["max_processes"] == 64)
        #expect(json["paths"]?.arrayValue?.contains { $0["path"] == .string(home + "/workspace") } == true)
    }

    @Test(.enabled(if: SandboxCLITests.kernelHasSandbox, "needs Landlock ABI 6+ and seccomp"), .timeLimit(.minutes(1)))
    func testRunsTheBatteryAndEveryCheckPasses() throws {
        let r = try run("sandbox", "test")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let checks = lines.filter { $0.hasPrefix("PASS") || $0.hasPrefix("FAIL") || $0.hasPrefix("SKIP") }
        #expect(checks.count >= 10)
        #expect(!checks.contains { $0.hasPrefix("FAIL") }, "\(r.stdout)")
        for name in [
            "a command runs", "workspace work succeeds", "writing outside the workspace is denied",
            "~/.ssh is unreadable", "the LocalGPT config is unreadable", "the network is denied",
            "the timeout kills the whole group", "output is capped", "a fork bomb is contained",
        ] {
            #expect(checks.contains { $0.contains("  \(name): ") }, "missing check: \(name)")
        }
        let summary = try #require(lines.last)
        #expect(summary.hasPrefix("\(checks.filter { $0.hasPrefix("PASS") }.count) passed, 0 failed"))
        // The scratch folder is gone.
        let left = try FileManager.default.contentsOfDirectory(atPath: home + "/workspace")
        #expect(!left.contains { $0.hasPrefix(".sandbox-test") })
    }

    @Test func anInvalidLevelIsAClearErrorNotACrash() throws {
        try run("init")
        try "[sandbox]\nlevel = \"paranoid\"\n".write(toFile: home + "/config.toml", atomically: true, encoding: .utf8)
        for command in [["sandbox", "status"], ["sandbox", "test"]] {
            let r = try TestSupport.run(TestSupport.localgptExecutable, command, environment: environment)
            #expect(r.status == 1, "\(command): \(r.stderr)")
            #expect(
                r.stderr.contains(
                    "config.toml: sandbox.level \"paranoid\" is not one of auto, full, standard, minimal, none"
                ),
                "\(r.stderr)"
            )
        }
    }

    @Test func theConfigTemplateDocumentsTheSandboxSection() throws {
        try run("init")
        let text = try String(contentsOfFile: home + "/config.toml", encoding: .utf8)
        #expect(text.contains("[sandbox]\n"))
        #expect(text.contains("level = \"auto\""))
        #expect(text.contains("# max_file_size_bytes = 52428800"))
        #expect(text.contains("# [sandbox.network]"))
        let status = try run("sandbox", "status")
        #expect(status.status == 0 && status.stdout.contains("Level:           auto -> full"))
    }

    @Test(.enabled(if: SandboxCLITests.kernelHasSandbox, "needs Landlock ABI 6+ and seccomp"))
    func benchIsHiddenAndMeasuresBothSides() throws {
        let help = try run("sandbox", "--help")
        #expect(help.stdout.contains("status") && help.stdout.contains("test"))
        #expect(!help.stdout.contains("bench"))
        let r = try run("sandbox", "bench", "--runs", "5", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try JSONValue(parsing: r.stdout)
        #expect(doc["runs"] == 5)
        #expect((doc["plain_median_ms"]?.doubleValue ?? 0) > 0)
        #expect((doc["sandboxed_median_ms"]?.doubleValue ?? 0) > 0)
    }
}
