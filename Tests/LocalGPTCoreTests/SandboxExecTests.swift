//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import InMemoryLogging
import LocalGPTCore
import LocalGPTTesting
import Logging
import Synchronization
import Testing

/// The one host path: a real C plugin (the test fixture) asks the host to `exec`, and the host runs the
/// command in the sandbox its configuration and the plugin's grants describe, and records it.
@Suite(.enabled(if: SandboxFixture.hasFullSandbox, "needs Landlock ABI 6+ and seccomp"))
struct SandboxExecTests {
    final class Events: SecurityEventRecorder, Sendable {
        let recorded = Mutex<[SecurityEvent]>([])
        func record(_ event: SecurityEvent) { recorded.withLock { $0.append(event) } }
        var all: [SecurityEvent] { recorded.withLock { $0 } }
    }

    struct Host {
        let paths: LocalGPTPaths
        let logs: InMemoryLogHandler
        let events = Events()
        let host: PluginHost

        init(config: String = "", permissions: JSONValue) throws {
            paths = LocalGPTPaths(home: TestSupport.makeTemporaryDirectory("lgpt-exec-home"))
            try paths.createDirectories()
            try "secret = \"do-not-read\"\n".write(toFile: paths.configFile, atomically: true, encoding: .utf8)
            var handler = InMemoryLogHandler()
            handler.logLevel = .debug
            logs = handler
            let captured = handler
            host = PluginHost(
                paths: paths,
                configuration: try Configuration(toml: config),
                logger: Logger(label: "sandbox-exec-test") { _ in captured },
                securityEvents: events
            )
            var fixture = FixturePlugin()
            fixture.permissions = permissions
            let dir = paths.home + "/src/fixture"
            try fixture.build(in: dir)
            try host.load(directory: dir, origin: .config)
        }

        /// Calls the fixture's `host_exec` tool: (host status, the exec reply).
        func exec(_ request: JSONValue) throws -> (status: Int64, reply: JSONValue?, text: String) {
            let arguments: JSONValue = ["request": .string(request.encoded())]
            let out = try JSONValue(parsing: host.invoke(tool: "host_exec", arguments: arguments.encoded()))
            let text = out["output"]?.stringValue ?? ""
            return (out["host_status"]?.intValue ?? -99, try? JSONValue(parsing: text), text)
        }

        var warnings: [String] { logs.entries.filter { $0.level >= .warning }.map { "\($0.message)" } }
    }

    init() throws {
        try #require(SandboxProbe.built)
    }

    static let bash: JSONValue = ["exec": ["commands": ["bash"]], "fs": ["read": [.string(SandboxProbe.directory)]]]

    @Test func aPluginsShellCommandRunsSandboxedAndIsRecorded() throws {
        let h = try Host(permissions: Self.bash)
        let (status, reply, text) = try h.exec([
            "shell": "cat ../config.toml; cat \"$TMPDIR/../x\" ; echo ok > made.txt; cat made.txt",
            "env": ["PROBE": .string(SandboxProbe.path)],
        ])
        #expect(status == 0, "\(text)")
        #expect(reply?["stdout"] == "ok\n")
        #expect(reply?["stderr"]?.stringValue?.contains("../config.toml: Permission denied") == true, "\(text)")
        #expect(reply?["sandbox"]?["level"] == "full")
        #expect(reply?["sandbox"]?["missing"] == [])
        let layers = reply?["sandbox"]?["layers"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(layers.contains("landlock-fs") && layers.contains("seccomp"))
        let event = try #require(h.events.all.first { $0.action == "sandbox_exec" })
        #expect(event.source == "org.test.fixture")
        #expect(event.details["sandbox_level"] == "full")
        #expect(event.details["sandbox_layers"]?.arrayValue?.count == layers.count)
        #expect(event.details["command_sha256"]?.stringValue?.count == 64)
        let log = try #require(h.logs.entries.first { "\($0.message)" == "exec" })
        #expect(log.metadata["sandbox.level"] == "full")
        #expect(log.metadata["sandbox.missing"] == "")
    }

    @Test func loaderVariablesAndACwdOutsideTheWorkspaceAreRefused() throws {
        let h = try Host(permissions: Self.bash)
        for name in ["LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "HOME"] {
            let (status, _, text) = try h.exec(["shell": "true", "env": [name: "/tmp/evil.so"]])
            #expect(status == -2, "\(name): \(text)")
        }
        // A symlink in the workspace does not lead out of it either.
        try FileManager.default.createSymbolicLink(atPath: h.paths.workspace + "/etclink", withDestinationPath: "/etc")
        for cwd in ["..", "/etc", "../../", "etclink", "etclink/ssl"] {
            let (status, _, text) = try h.exec(["shell": "pwd", "cwd": .string(cwd)])
            #expect(status == -2, "\(cwd): \(text)")
            #expect(text.contains("cwd must be inside the workspace"))
        }
        try FileManager.default.createDirectory(atPath: h.paths.workspace + "/sub", withIntermediateDirectories: true)
        let (status, reply, _) = try h.exec(["shell": "pwd", "cwd": "sub"])
        #expect(status == 0)
        #expect(reply?["stdout"] == .string(h.paths.workspace + "/sub\n"))
    }

    @Test func aCommandCannotChangeTheProtectedFilesOfTheWorkspace() throws {
        let h = try Host(permissions: Self.bash)
        let ws = h.paths.workspace
        try "# Policy\n".write(toFile: ws + "/LocalGPT.md", atomically: true, encoding: .utf8)
        try "{}\n".write(toFile: ws + "/.localgpt_manifest.json", atomically: true, encoding: .utf8)
        #expect(chmod(ws + "/LocalGPT.md", 0o640) == 0)
        // Names built at run time, which no reading of the command can see; IDENTITY.md did not exist.
        let (status, reply, text) = try h.exec([
            "shell": .string(
                "p=Local; i=IDENT; m=.localgpt_manifest; echo evil > ${p}GPT.md; echo EvilBot > ${i}ITY.md; "
                    + "rm ${m}.json; echo ok > notes.txt; echo done"
            )
        ])
        #expect(status == 0, "\(text)")
        #expect(reply?["stdout"] == "done\n")
        #expect(try String(contentsOfFile: ws + "/LocalGPT.md", encoding: .utf8) == "# Policy\n")
        #expect(try String(contentsOfFile: ws + "/.localgpt_manifest.json", encoding: .utf8) == "{}\n")
        #expect(!FileManager.default.fileExists(atPath: ws + "/IDENTITY.md"))
        let mode = try FileManager.default.attributesOfItem(atPath: ws + "/LocalGPT.md")[.posixPermissions] as? Int
        #expect(mode == 0o640)
        // Other files are the command's to write.
        #expect(try String(contentsOfFile: ws + "/notes.txt", encoding: .utf8) == "ok\n")
        // The command is told, the audit log has each file, and what it wrote is kept.
        let stderr = reply?["stderr"]?.stringValue ?? ""
        for name in ["LocalGPT.md", ".localgpt_manifest.json", "IDENTITY.md"] {
            #expect(
                stderr.contains("localgpt: \(name) is protected: the command's change to it was undone"),
                "\(stderr)"
            )
        }
        let blocked = h.events.all.filter { $0.action == "write_blocked" }
        #expect(
            Set(blocked.compactMap { $0.details["path"]?.stringValue }) == [
                "LocalGPT.md", ".localgpt_manifest.json", "IDENTITY.md",
            ]
        )
        #expect(blocked.allSatisfy { $0.details["restored"] == true && $0.details["by"] == "sandboxed command" })
        let kept = try #require(blocked.first { $0.details["path"] == "IDENTITY.md" }?.details["kept_at"]?.stringValue)
        #expect(kept.hasPrefix(h.paths.blockedWritesDirectory + "/"))
        #expect(try String(contentsOfFile: kept, encoding: .utf8) == "EvilBot\n")
        // A command that leaves them alone records nothing.
        _ = try h.exec(["shell": "cat LocalGPT.md > copy.txt"])
        #expect(h.events.all.filter { $0.action == "write_blocked" }.count == 3)
    }

    @Test func anInvalidSandboxConfigurationRefusesToRunTheCommand() throws {
        let h = try Host(config: "[sandbox]\nlevel = \"ful\"\n", permissions: Self.bash)
        let (status, _, text) = try h.exec(["shell": "touch ran.txt"])
        #expect(status == -9)
        let message = (try? JSONValue(parsing: text))?["error"]?["message"]?.stringValue ?? text
        #expect(message.contains("invalid sandbox configuration: sandbox.level \"ful\" is not one of"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: h.paths.workspace + "/ran.txt"))
    }

    @Test func levelNoneIsLoggedAsAWarningOnEveryRun() throws {
        let h = try Host(config: "[sandbox]\nlevel = \"none\"\n", permissions: Self.bash)
        for _ in 0..<2 {
            #expect(try h.exec(["shell": "cat ../config.toml"]).reply?["stdout"] == "secret = \"do-not-read\"\n")
        }
        #expect(h.warnings.filter { $0.contains("sandbox level \"none\"") }.count == 2)
        #expect(h.events.all.allSatisfy { $0.details["sandbox_level"] == "none" })
    }

    @Test func theNetworkFollowsTheGrantAndThePolicy() throws {
        let granted = try LocalListener.tcp()
        defer { granted.close() }
        let other = try LocalListener.tcp()
        defer { other.close() }
        let permissions: JSONValue = [
            "exec": ["commands": ["bash"]], "fs": ["read": [.string(SandboxProbe.directory)]],
            "net": ["hosts": [.string("127.0.0.1:\(granted.port)")]],
        ]
        let script = "$PROBE connect-tcp \(granted.port); $PROBE connect-tcp \(other.port); $PROBE raw"
        let request: JSONValue = ["shell": .string(script), "env": ["PROBE": .string(SandboxProbe.path)]]

        // network.policy = "allow": the granted port only (Landlock); raw sockets never (seccomp).
        let allowed = try Host(config: "[sandbox.network]\npolicy = \"allow\"\n", permissions: permissions)
        let out = try allowed.exec(request).reply?["stdout"]?.stringValue ?? ""
        #expect(out.contains("connect-tcp: ok"), "\(out)")
        #expect(out.contains("connect-tcp: errno=13"), "\(out)")
        #expect(out.contains("raw: errno=1"), "\(out)")

        // The default policy denies every socket, grant or not.
        let denied = try Host(permissions: permissions)
        let out2 = try denied.exec(request).reply?["stdout"]?.stringValue ?? ""
        #expect(out2.components(separatedBy: "connect-tcp: errno=1").count - 1 == 2, "\(out2)")
    }

    @Test func theTimeoutAndTheOutputCapComeFromTheConfiguration() throws {
        let h = try Host(config: "[sandbox]\ntimeout_ms = 400\nmax_output_bytes = 1000\n", permissions: Self.bash)
        let slow = try h.exec(["shell": "sleep 5"])
        #expect(slow.reply?["timed_out"] == true)
        let loud = try h.exec(["shell": "head -c 5000 /dev/zero | tr '\\0' a"])
        #expect(loud.reply?["stdout"]?.stringValue?.count == 1000)
        #expect(loud.reply?["stdout_truncated"] == true)
        #expect(loud.reply?["stdout_bytes"] == 5000)
        let perCall = try h.exec(["shell": "sleep 0.6; echo late", "timeout_ms": 3000])
        #expect(perCall.reply?["stdout"] == "late\n")
    }
}
