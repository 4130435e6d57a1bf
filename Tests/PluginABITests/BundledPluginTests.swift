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

/// The two bundled plugins, one in Swift and one in plain C, loaded from the libraries the build
/// produced, exactly as `localgpt` loads them.
@Suite struct BundledPluginTests {
    static let bundled: String = {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-bundled")
        do {
            try TestSupport.stageBundledPlugins(into: dir)
        } catch {
            Issue.record("staging the bundled plugins failed: \(error)")
        }
        return dir
    }()

    func host(config: String = "") throws -> HostHarness {
        let h = try HostHarness(config: config)
        h.host.loadAll(
            PluginDiscovery.candidates(
                paths: h.paths,
                configuration: h.host.configuration,
                bundledDirectory: Self.bundled
            )
        )
        #expect(h.host.failures.isEmpty, "\(h.host.failures.map(\.error.description))")
        return h
    }

    @Test func bothBundledPluginsLoad() throws {
        let h = try host()
        #expect(
            h.host.plugins.map(\.id).sorted() == [
                "org.localgpt.providers", "org.localgpt.sysinfo", "org.localgpt.text", "org.localgpt.tools",
            ]
        )
        #expect(
            Set(h.host.tools.map(\.name)).isSuperset(of: [
                "calculate", "text_stats", "current_time", "system_info", "disk_usage",
            ])
        )
        #expect(h.host.plugins.allSatisfy { $0.origin == .bundled })
    }

    @Test func swiftPluginRoundTrip() throws {
        let h = try host()
        let out = try JSONValue(
            parsing: h.host.invoke(tool: "calculate", arguments: #"{"expression":"2^10 + sqrt(16) * 2"}"#)
        )
        #expect(out["result"]?.doubleValue == 1032)
        let stats = try JSONValue(
            parsing: h.host.invoke(tool: "text_stats", arguments: #"{"text":"Héllo wörld. Two lines\nhere."}"#)
        )
        #expect(stats["words"] == 5)
        #expect(stats["lines"] == 2)
        let error = #expect(throws: ToolCallError.self) {
            try h.host.invoke(tool: "calculate", arguments: #"{"expression":"(1 + 2"}"#)
        }
        #expect(error?.status == -2)
    }

    @Test func cPluginRoundTripUsesHostServices() throws {
        let h = try host(config: "[sysinfo]\ngreeting = \"hello from config\"\n")
        let info = try JSONValue(parsing: h.host.invoke(tool: "system_info", arguments: "{}"))
        #expect((info["cpus"]?.intValue ?? 0) >= 1)
        #expect((info["memory_total_bytes"]?.intValue ?? 0) > 0)
        let who = try JSONValue(parsing: h.host.invoke(tool: "whoami", arguments: "{}"))
        #expect(who["host"] == "localgpt-swift")
        #expect(who["greeting"] == "hello from config")
        // disk_usage runs df through the host's exec service, which the manifest declares.
        let disk = try JSONValue(parsing: h.host.invoke(tool: "disk_usage", arguments: #"{"path":"/"}"#))
        #expect((disk["size_bytes"]?.intValue ?? 0) > 0)
        #expect(h.logs.entries.contains { "\($0.message)" == "exec" && $0.metadata["exec.command"] == "df" })
    }

    /// Arguments typed to `localgpt tool call` reach the plugin as typed, and may repeat a member name; the host
    /// validated the last occurrence, so that is the one the C plugin reads (the first here breaks minLength).
    @Test func cPluginReadsTheRepeatedMemberTheHostValidated() throws {
        let h = try host()
        let disk = try JSONValue(
            parsing: h.host.invoke(tool: "disk_usage", arguments: #"{"path": "", "path": "/"}"#)
        )
        #expect(disk["path"] == "/")
        #expect((disk["size_bytes"]?.intValue ?? 0) > 0)
    }

    @Test func swiftPluginUnderEightThreadsTimesTenThousandInvokes() throws {
        let h = try host()
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<10_000 {
                let expr = "\(t) * 100000 + \(i)"
                guard
                    let out = try? JSONValue(
                        parsing: h.host.invoke(tool: "calculate", arguments: #"{"expression":"\#(expr)"}"#)
                    ),
                    out["result"]?.doubleValue == Double(t * 100_000 + i)
                else {
                    failures.add(1, ordering: .relaxed)
                    continue
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }
}
