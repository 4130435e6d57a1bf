//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import Glibc
import LocalGPTAgent
import LocalGPTCore
import LocalGPTMemory
import Logging
import Synchronization

/// A provider that answers in process after `latency` (zero: at once). The time spent in `generate`
/// is added to `spent`, so the benchmark can subtract it: what is left of a turn is the host's own
/// overhead.
private struct InstantProvider: ModelProvider {
    var useTool: Bool
    var latency: Duration
    let spent: ProviderTime

    func generate(
        _ request: ModelRequest,
        callID: UInt64,
        onEvent: (ModelEvent) -> Bool
    ) throws(ModelProviderError) -> ModelResponseInfo {
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            spent.value.withLock { $0 += elapsed }
        }
        if latency > .zero { Thread.sleep(forTimeInterval: latency.seconds) }
        let hasResult = request.messages.last?["role"]?.stringValue == "tool"
        if hasResult || !useTool {
            _ = onEvent(.delta("Done."))
        } else {
            _ = onEvent(.toolCall(ToolCall(id: "c\(callID)", name: "memory_get", arguments: ["path": "MEMORY.md"])))
        }
        _ = onEvent(.done(stopReason: "end_turn", usage: TokenUsage(input: 1, output: 1), providerSession: nil))
        return ModelResponseInfo(provider: "instant", model: request.model)
    }
    func cancel(callID: UInt64) {}
    func makeCallID() -> UInt64 { 1 }
    func contextWindow(for model: String) -> Int? { nil }
    func availableModels() -> [String] { [] }
}

/// The time spent inside the provider during one turn.
private final class ProviderTime: Sendable {
    let value = Mutex<Duration>(.zero)
}

extension Duration {
    fileprivate var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

extension SessionsCommand {
    /// The agent issue's benchmark (hidden; maintainers): the host's overhead per turn, excluding the
    /// provider and the tools, on a 50-message session in a scratch home.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Host overhead per turn on a 50-message session (maintainers).",
            shouldDisplay: false
        )
        @Option(help: "Turns measured per configuration.") var turns = 300
        @Option(help: "The simulated provider's latency per call, in ms, for the pipelined rows.")
        var providerMs = 20
        @Option(help: "The pause between turns (the user reading and typing), in ms, for the pipelined rows.")
        var pauseMs = 20

        func run() throws {
            let home = try makeScratchDirectory("lgpt-agent-bench")
            defer { try? FileManager.default.removeItem(atPath: home) }
            print("localgpt sessions bench: 50-message session, \(turns) turns each, scratch home \(home)")
            print("overhead = turn wall time - time inside the provider")
            print("configuration                                               p50 ms    p90 ms")
            let rows: [(durable: Bool, provider: Int, pause: Int)] = [
                (false, 0, 0), (true, 0, 0), (true, providerMs, pauseMs),
            ]
            var n = 0
            for row in rows {
                for toolRound in [false, true] {
                    n += 1
                    let (p50, p90) = try measure(
                        home: home + "/\(n)",
                        durable: row.durable,
                        toolRound: toolRound,
                        latency: .milliseconds(row.provider),
                        pause: .milliseconds(row.pause)
                    )
                    let label =
                        "fsync: \(row.durable ? "yes" : "no "), tool round: \(toolRound ? "yes" : "no "), "
                        + "provider \(row.provider) ms, pause \(row.pause) ms"
                    print(
                        label.padding(toLength: 58, withPad: " ", startingAt: 0)
                            + String(format: "%8.3f  %8.3f", p50, p90)
                    )
                }
            }
        }

        private func measure(
            home: String,
            durable: Bool,
            toolRound: Bool,
            latency: Duration,
            pause: Duration
        ) throws -> (Double, Double) {
            let paths = LocalGPTPaths(home: home)
            try paths.createDirectories()
            _ = try Workspace(root: paths.workspace).bootstrap()
            let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
            let host = PluginHost(paths: paths, configuration: Configuration(), logger: logger)
            let bundled = PluginDiscovery.defaultBundledDirectory()
            for id in ["org.localgpt.tools", "org.localgpt.text", "org.localgpt.sysinfo"] {
                try host.load(directory: bundled + "/" + id, origin: .bundled)
            }
            let spent = ProviderTime()
            let provider = InstantProvider(useTool: toolRound, latency: latency, spent: spent)
            let agent = try Agent(
                options: AgentOptions(
                    configuration: AgentConfiguration(model: "instant/x"),
                    provider: provider,
                    host: host,
                    store: SessionStore(paths: paths, durable: durable),
                    workspace: paths.workspace,
                    memoryTools: MemoryHostTools(workspace: paths.workspace),
                    policy: "Be concise.",
                    logger: logger
                )
            )
            for i in 0..<25 {
                try agent.session.append(
                    ChatMessage(role: .user, content: "Question \(i): " + String(repeating: "w ", count: 60))
                )
                try agent.session.append(
                    ChatMessage(role: .assistant, content: "Answer \(i): " + String(repeating: "v ", count: 150))
                )
            }
            let base = agent.session.messages
            let header = agent.session.header
            var samples: [Double] = []
            for i in 0..<max(10, turns) {
                try agent.session.replaceMessages(base, header: header, record: nil)
                if pause > .zero { Thread.sleep(forTimeInterval: pause.seconds) }
                spent.value.withLock { $0 = .zero }
                let start = ContinuousClock.now
                _ = try agent.runTurn("Benchmark turn \(i)")
                let wall = ContinuousClock.now - start
                samples.append((wall - spent.value.withLock { $0 }).seconds * 1000)
            }
            samples.sort()
            return (samples[samples.count / 2], samples[samples.count * 9 / 10])
        }
    }
}
