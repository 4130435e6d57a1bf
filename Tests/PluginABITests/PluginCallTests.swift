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

/// Tool calls, provider streaming, and the host services a plugin reaches through its table.
@Suite struct PluginCallTests {
    /// A harness with the fixture loaded with `permissions` declared (and, being `.config`, granted).
    func loaded(
        permissions: JSONValue = [:],
        config: String = "",
        environment: [String: String] = [:],
        kinds: [String] = ["tool"],
        concurrency: String = "parallel"
    ) throws -> HostHarness {
        let h = try HostHarness(config: config, environment: environment)
        var f = FixturePlugin()
        f.permissions = permissions
        f.kinds = kinds
        f.concurrency = concurrency
        let dir = h.pluginDirectory("fixture")
        try f.build(in: dir)
        try h.host.load(directory: dir, origin: .config)
        return h
    }

    func object(_ text: String) throws -> JSONValue { try JSONValue(parsing: text) }

    @Test func invokeRoundTripThroughCPlugin() throws {
        let h = try loaded()
        let out = try h.host.invoke(tool: "echo", arguments: #"{"text":"héllo wörld ✓"}"#)
        #expect(try object(out) == ["echo": ["text": "héllo wörld ✓"]])
        #expect(try h.host.invoke(tool: "org.test.fixture/noop", arguments: "") == "{}")
    }

    /// A plugin reads what the host validated: a name given twice reaches it once, with the value
    /// that was checked (the last), never the first one a plugin's parser might take.
    @Test func aRepeatedNameReachesThePluginOnceWithTheValidatedValue() throws {
        let h = try loaded()
        let out = try h.host.invoke(tool: "echo", arguments: #"{"text": "unchecked", "text": "checked"}"#)
        #expect(!out.contains("unchecked"), "\(out)")
        #expect(try object(out) == ["echo": ["text": "checked"]])
    }

    @Test func pluginErrorDocumentBecomesTheMessage() throws {
        let h = try loaded()
        let error = #expect(throws: ToolCallError.self) { try h.host.invoke(tool: "fail", arguments: "{}") }
        #expect(error?.code == .pluginFailed)
        #expect(error?.status == -9)
        #expect(error?.message == "fixture failure on purpose")
    }

    @Test func unknownToolIsNotFound() throws {
        let h = try loaded()
        let error = #expect(throws: ToolCallError.self) { try h.host.invoke(tool: "nope", arguments: "{}") }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("localgpt tool list") == true)
    }

    @Test(arguments: [
        (#"{"days": 3}"#, #"$: missing required property "city""#),
        (#"{"city": "Oslo", "days": 9}"#, "$.days: 9 is greater than the maximum 7"),
        (#"{"city": "Oslo", "days": "3"}"#, "$.days: expected integer, got string"),
        (#"{"city": "Oslo", "colour": "red"}"#, #"unexpected property "colour""#),
        (#"["Oslo"]"#, "expected object, got array"),
        (#"{"city": "#, "not JSON"),
    ])
    func schemaInvalidArgumentsNeverReachThePlugin(arguments: String, expected: String) throws {
        let h = try loaded()
        let error = #expect(throws: ToolCallError.self) { try h.host.invoke(tool: "validated", arguments: arguments) }
        #expect(error?.code == .invalidArguments)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
        // The plugin counts its invocations: the rejected call never arrived.
        #expect(try object(h.host.invoke(tool: "invocations", arguments: "{}"))["invocations"] == 0)
        #expect(try h.host.invoke(tool: "validated", arguments: #"{"city":"Oslo","days":7}"#) == #"{"ok":true}"#)
    }

    @Test func execOfUndeclaredCommandIsDeniedAndLogged() throws {
        let h = try loaded(permissions: ["exec": ["commands": ["echo"]]])
        let request = #"{\"argv\":[\"rm\",\"-rf\",\"/tmp/nothing\"]}"#
        let out = try object(h.host.invoke(tool: "host_exec", arguments: #"{"request":"\#(request)"}"#))
        #expect(out["host_status"] == -4)
        #expect(out["output"]?.stringValue?.contains("exec rm is not granted to org.test.fixture") == true)
        let denial = h.logs.entries.first { "\($0.message)".hasPrefix("DENIED exec rm") }
        #expect(denial?.level == .warning)
        #expect(denial?.metadata["plugin.id"] == "org.test.fixture")
    }

    /// exec (like http, memory and the files extension) serves only a call the host is making to the
    /// plugin (rule R6): not one a plugin makes up, not create(). Both used to run the command.
    @Test func execOutsideACallOfTheHostIsRefused() throws {
        for define in ["FIXTURE_FORGE_CALL", "FIXTURE_CREATE_EXEC"] {
            let h = try HostHarness()
            var f = FixturePlugin()
            f.permissions = ["exec": ["commands": ["echo"]]]
            f.defines = [define]
            let dir = h.pluginDirectory("rogue")
            try f.build(in: dir)
            try h.host.load(directory: dir, origin: .config)
            if define == "FIXTURE_FORGE_CALL" {
                let request = #"{\"argv\":[\"echo\",\"hi\"]}"#
                let out = try object(h.host.invoke(tool: "host_exec", arguments: #"{"request":"\#(request)"}"#))
                #expect(out["host_status"] == -2)
                #expect(
                    out["output"]?.stringValue?.contains("exec may be used only during a call the host made") == true
                )
            } else {
                let line = h.warnings.first { $0.contains("fixture create exec") } ?? ""
                #expect(line.contains("status=-2"), "\(line)")
                #expect(line.contains("exec may be used only during a call the host made"), "\(line)")
            }
        }
    }

    @Test func execOfGrantedCommandRunsAndReportsTheResult() throws {
        let h = try loaded(permissions: ["exec": ["commands": ["echo", "bash"]]])
        let request = #"{\"argv\":[\"echo\",\"hello\",\"plugin\"]}"#
        let out = try object(h.host.invoke(tool: "host_exec", arguments: #"{"request":"\#(request)"}"#))
        #expect(out["host_status"] == 0)
        let reply = try object(try #require(out["output"]?.stringValue))
        #expect(reply["exit_code"] == 0)
        #expect(reply["stdout"] == "hello plugin\n")
        // A non-zero exit is a result; the command runs in the workspace with a scrubbed environment.
        let shell = #"{\"shell\":\"pwd; echo ${OPENAI_API_KEY:-unset}; exit 3\"}"#
        let out2 = try object(h.host.invoke(tool: "host_exec", arguments: #"{"request":"\#(shell)"}"#))
        #expect(out2["host_status"] == 0)
        let reply2 = try object(try #require(out2["output"]?.stringValue))
        #expect(reply2["exit_code"] == 3)
        #expect(reply2["stdout"] == .string(h.paths.workspace + "\nunset\n"))
    }

    @Test func configAndSecretLookupsAreCheckedAndSecretsNeverLogged() throws {
        let h = try loaded(
            permissions: ["config": ["fixture"], "secrets": ["FIXTURE_TOKEN"]],
            config:
                "[fixture]\ngreeting = \"hi ${WHO}\"\n[other]\nx = 1\n[secrets]\nFIXTURE_TOKEN = \"${TOKEN_ENV}\"\n",
            environment: ["WHO": "there", "TOKEN_ENV": "s3cr3t-value", "OTHER_SECRET": "nope"]
        )
        let granted = try object(h.host.invoke(tool: "host_config", arguments: #"{"key":"fixture.greeting"}"#))
        #expect(granted["host_status"] == 0)
        #expect(granted["output"] == "\"hi there\"")
        let absent = try object(h.host.invoke(tool: "host_config", arguments: #"{"key":"fixture.absent"}"#))
        #expect(absent["host_status"] == -3)
        let denied = try object(h.host.invoke(tool: "host_config", arguments: #"{"key":"other.x"}"#))
        #expect(denied["host_status"] == -4)
        let secret = try object(h.host.invoke(tool: "host_secret", arguments: #"{"key":"FIXTURE_TOKEN"}"#))
        #expect(secret["output"] == "s3cr3t-value")
        let deniedSecret = try object(h.host.invoke(tool: "host_secret", arguments: #"{"key":"OTHER_SECRET"}"#))
        #expect(deniedSecret["host_status"] == -4)
        #expect(!h.logs.entries.contains { "\($0.message) \($0.metadata)".contains("s3cr3t") })
    }

    /// A secret the plugin may read that is only in the environment (no `[secrets]` entry) is hidden by
    /// the masker the host was given (the CLI's, which its log handler and session store hold) from the
    /// plugin's load on, before its code runs; a value too short to mask is not, nor a secret the plugin
    /// is not granted.
    @Test func aGrantedSecretOnlyInTheEnvironmentIsMasked() throws {
        let key = "env-only-token-7Hq2Lm9X"
        let environment = ["FIXTURE_TOKEN": key, "FIXTURE_PIN": "4821", "OTHER_TOKEN": "other-token-value-1"]
        let masker = SecretMasker(configuration: try Configuration(toml: "", environment: environment))
        #expect(masker.isEmpty)
        let h = try HostHarness(environment: environment, secretMasker: masker)
        var f = FixturePlugin()
        f.permissions = ["secrets": ["FIXTURE_TOKEN", "FIXTURE_PIN"]]
        try f.build(in: h.pluginDirectory("fixture"))
        try h.host.load(directory: h.pluginDirectory("fixture"), origin: .config)
        #expect(h.host.secretMasker === masker)
        #expect(masker.mask("the token is \(key).") == "the token is ********.")
        #expect(masker.mask("pin 4821, other-token-value-1") == "pin 4821, other-token-value-1")
        let read = try object(h.host.invoke(tool: "host_secret", arguments: #"{"key":"FIXTURE_TOKEN"}"#))
        #expect(read["output"] == .string(key))
        #expect(masker.mask(read.encoded()) == #"{"host_status":0,"output":"********"}"#)

        // A plugin in ~/.localgpt/plugins without a grant gets no secret: none is added for it.
        let other = SecretMasker()
        let ungranted = try HostHarness(environment: environment, secretMasker: other)
        try f.build(in: ungranted.pluginDirectory("fixture"))
        try ungranted.host.load(directory: ungranted.pluginDirectory("fixture"), origin: .user)
        #expect(other.isEmpty)
    }

    /// The host cuts text of its own: a command's output at `sandbox.max_output_bytes`, a bad URL in an
    /// error. A key the cut goes through is `********`, not its first characters, which nothing later
    /// could tell from text (the session the plugin's result reaches masks whole keys only).
    @Test func aKeyCutByTheHostLeavesNoPrefix() throws {
        let key = "sk-test-Hc4Wq9Zp2Lm7Xv5Rb8Nk3Ty6"
        let h = try loaded(
            permissions: ["exec": ["commands": ["bash"]]],
            config: "[sandbox]\nmax_output_bytes = 1000\n[secrets]\nWEATHER_API_KEY = \"\(key)\"\n"
        )
        // 985 bytes, then the key: the capture keeps its first 15 characters.
        let shell = #"{\"shell\":\"printf %0985d 0 | tr 0 a; echo \#(key); echo \#(key) >&2\"}"#
        let out = try object(h.host.invoke(tool: "host_exec", arguments: #"{"request":"\#(shell)"}"#))
        let reply = try object(try #require(out["output"]?.stringValue))
        #expect(reply["stdout_truncated"] == true, "\(reply)")
        #expect(reply["stdout"] == .string(String(repeating: "a", count: 985) + "********"), "\(reply)")
        // Not cut: the whole key stays for the plugin (masked where it is written).
        #expect(reply["stderr"] == .string(key + "\n"))

        let url = "ftp://example.com/" + String(repeating: "p", count: 170) + "?key=" + key
        let request = #"{\"url\":\"\#(url)\"}"#
        let http = try object(h.host.invoke(tool: "host_http", arguments: #"{"request":"\#(request)"}"#))
        let message = http["head"]?["error"]?["message"]?.stringValue ?? ""
        #expect(message.hasSuffix("?key=********\" is not an http or https URL"), "\(http)")
        #expect(!message.contains("sk-test-Hc"), "\(message)")
    }

    @Test func memoryServiceIsGatedThenUnsupported() throws {
        let denied = try loaded()
        let d = try object(denied.host.invoke(tool: "host_memory", arguments: "{}"))
        #expect(d["host_status"] == -4)
        let allowed = try loaded(permissions: ["memory": ["search": true]])
        let a = try object(allowed.host.invoke(tool: "host_memory", arguments: "{}"))
        #expect(a["host_status"] == -7)
    }

    @Test func httpGoesThroughTheHostToGrantedHostsOnly() throws {
        let server = try LoopbackHTTPServer { request in
            LoopbackHTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], text: "hello \(request.path)")
        }
        defer { server.stop() }
        let h = try loaded(permissions: ["net": ["hosts": [.string("127.0.0.1:\(server.port)")]]])
        let request = #"{\"url\":\"\#(server.baseURL)/x\"}"#
        let out = try object(h.host.invoke(tool: "host_http", arguments: #"{"request":"\#(request)"}"#))
        #expect(out["host_status"] == 0)
        #expect(out["head"]?["status"] == 200)
        #expect(out["head"]?["headers"]?["content-type"] == "text/plain")
        #expect(out["body_length"] == 8)
        let other = #"{\"url\":\"http://localhost:\#(server.port)/x\"}"#
        let denied = try object(h.host.invoke(tool: "host_http", arguments: #"{"request":"\#(other)"}"#))
        #expect(denied["host_status"] == -4)
        #expect(h.logs.entries.contains { "\($0.message)" == "DENIED http localhost:\(server.port)" })
    }

    @Test func cancellationReachesThePlugin() throws {
        let h = try loaded()
        let id = h.host.makeCallID()
        let done = Mutex<Result<String, ToolCallError>?>(nil)
        detachThread { [host = h.host] in
            let r = Result { () throws(ToolCallError) -> String in
                try host.invoke(tool: "wait_cancel", arguments: "{}", callID: id)
            }
            done.withLock { $0 = r }
        }
        Thread.sleep(forTimeInterval: 0.1)
        h.host.cancel(callID: id)
        let deadline = Date().addingTimeInterval(5)
        while done.withLock({ $0 == nil }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let result = try #require(done.withLock { $0 })
        guard case .failure(let error) = result else {
            Issue.record("expected cancellation, got \(result)")
            return
        }
        #expect(error.code == .cancelled)
    }

    @Test func aCallAfterShutdownFailsClearly() throws {
        let h = try loaded()
        #expect(try h.host.invoke(tool: "noop", arguments: "{}") == "{}")
        h.host.shutdown()
        let error = #expect(throws: ToolCallError.self) { try h.host.invoke(tool: "noop", arguments: "{}") }
        #expect(error?.description.contains("was stopped with the host (shutdown)") == true)
    }

    /// shutdown() must not free a plugin instance under a call that is still running in it: it waits
    /// for the call (here until the call is cancelled, 0.3 s later) before destroy().
    @Test func shutdownWaitsForTheCallsRunningInThePlugin() throws {
        let h = try loaded()
        let id = h.host.makeCallID()
        let outcome = Mutex<Result<String, ToolCallError>?>(nil)
        detachThread { [host = h.host] in
            let r = Result { () throws(ToolCallError) -> String in
                try host.invoke(tool: "wait_cancel", arguments: "{}", callID: id)
            }
            outcome.withLock { $0 = r }
        }
        Thread.sleep(forTimeInterval: 0.1)
        detachThread { [host = h.host] in
            Thread.sleep(forTimeInterval: 0.3)
            host.cancel(callID: id)
        }
        let start = ContinuousClock.now
        h.host.shutdown()
        let took = ContinuousClock.now - start
        // Without the wait, shutdown returns at once and the call runs on in freed memory.
        #expect(took >= .milliseconds(250), "shutdown returned after \(took), before the call in the plugin ended")
        #expect(took < LoadedPlugin.destroyGracePeriod)
        let deadline = ContinuousClock.now + .seconds(5)
        while outcome.withLock({ $0 == nil }) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        guard case .failure(let error)? = outcome.withLock({ $0 }) else {
            Issue.record("expected the call to end cancelled")
            return
        }
        #expect(error.code == .cancelled)
        #expect(throws: ToolCallError.self) { try h.host.invoke(tool: "noop", arguments: "{}") }
    }

    @Test func providerStreamsEventsAndStopsWhenTheHostCancels() throws {
        let h = try loaded(kinds: ["provider", "tool"])
        let (plugin, provider) = try #require(h.host.provider(forModel: "fixture/small"))
        #expect(provider.name == "fixture")
        var events: [JSONValue] = []
        try h.host.generate(plugin: plugin, request: #"{"model":"fixture/small","messages":[]}"#) { event in
            events.append((try? JSONValue(parsing: event)) ?? .null)
            return true
        }
        #expect(events.count == 6)
        #expect(events.compactMap { $0["text"]?.stringValue }.joined() == "Hello from the fixture provider")
        #expect(events.last?["type"] == "done")

        var seen = 0
        let error = #expect(throws: ToolCallError.self) {
            try h.host.generate(plugin: plugin, request: "{}") { _ in
                seen += 1
                return seen < 2
            }
        }
        #expect(error?.code == .cancelled)
        #expect(seen == 2)
    }

    @Test func eightThreadsTimesTenThousandConcurrentInvokes() throws {
        let h = try loaded()
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for i in 0..<10_000 {
                let args = #"{"i":\#(i),"t":\#(thread)}"#  // the host's encoding: compact, names sorted
                guard let out = try? h.host.invoke(tool: "echo", arguments: args), out == #"{"echo":\#(args)}"# else {
                    failures.add(1, ordering: .relaxed)
                    continue
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    @Test func serialPluginsNeverSeeOverlappingCalls() throws {
        let h = try loaded(concurrency: "serial")
        let maxSeen = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<20 {
                if let out = try? JSONValue(parsing: h.host.invoke(tool: "concurrency", arguments: "{}")),
                    let n = out["max_in_flight"]?.intValue
                {
                    maxSeen.max(Int(n), ordering: .relaxed)
                }
            }
        }
        #expect(maxSeen.load(ordering: .relaxed) == 1)
    }
}
