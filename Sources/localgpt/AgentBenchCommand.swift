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

/// A provider that answers at once, in process: what is left of a turn is the host's own overhead.
private struct InstantProvider: ModelProvider {
    var useTool: Bool

    func generate(
        _ request: ModelRequest,
        callID: UInt64,
        onEvent: (ModelEvent) -> Bool
    ) throws(ModelProviderError) -> ModelResponseInfo {
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

        func run() throws {
            let home = try makeScratchDirectory("lgpt-agent-bench")
            defer { try? FileManager.default.removeItem(atPath: home) }
            print("localgpt sessions bench: 50-message session, \(turns) turns each, scratch home \(home)")
            print("configuration                               p50 ms    p90 ms")
            for durable in [false, true] {
                for toolRound in [false, true] {
                    let (p50, p90) = try measure(home: home + "/\(durable)-\(toolRound)", durable, toolRound)
                    let label =
                        "tool round: \(toolRound ? "yes" : "no "), fsync per message: \(durable ? "yes" : "no ")"
                    print(
                        label.padding(toLength: 42, withPad: " ", startingAt: 0)
                            + String(format: "%8.3f  %8.3f", p50, p90)
                    )
                }
            }
        }

        private func measure(home: String, _ durable: Bool, _ toolRound: Bool) throws -> (Double, Double) {
            let paths = LocalGPTPaths(home: home)
            try paths.createDirectories()
            _ = try Workspace(root: paths.workspace).bootstrap()
            let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
            let host = PluginHost(paths: paths, configuration: Configuration(), logger: logger)
            let bundled = PluginDiscovery.defaultBundledDirectory()
            for id in ["org.localgpt.tools", "org.localgpt.text", "org.localgpt.sysinfo"] {
                try host.load(directory: bundled + "/" + id, origin: .bundled)
            }
            let agent = try Agent(
                options: AgentOptions(
                    configuration: AgentConfiguration(model: "instant/x"),
                    provider: InstantProvider(useTool: toolRound),
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
                let start = ContinuousClock.now
                _ = try agent.runTurn("Benchmark turn \(i)")
                let d = (ContinuousClock.now - start).components
                samples.append(Double(d.seconds) * 1000 + Double(d.attoseconds) / 1e15)
            }
            samples.sort()
            return (samples[samples.count / 2], samples[samples.count * 9 / 10])
        }
    }
}
