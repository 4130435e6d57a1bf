//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTAgent
import LocalGPTCore
import LocalGPTMemory
import LocalGPTTesting
import Testing

/// A provider that answers at once, in process: what is left of a turn is the host's own overhead.
private struct InstantProvider: ModelProvider {
    var useTool = true

    func generate(
        _ request: ModelRequest,
        callID: UInt64,
        onEvent: (ModelEvent) -> Bool
    ) throws(ModelProviderError)
        -> ModelResponseInfo
    {
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

/// Figures for the agent issue (opt-in: `LGPT_BENCH=1 swift test --filter AgentBenchmark`).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["LGPT_BENCH"] == "1"), .serialized)
struct AgentBenchmarkTests {
    /// Host overhead of one turn on a 50-message session: context assembly (twice), a tool round
    /// dispatched to a host tool, four session appends; the provider answers instantly.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func hostOverheadPerTurn(durable: Bool, toolRound: Bool) throws {
        let home = TestSupport.makeTemporaryDirectory("lgpt-bench")
        let paths = LocalGPTPaths(home: home)
        try paths.createDirectories()
        _ = try Workspace(root: paths.workspace).bootstrap()
        let host = PluginHost(paths: paths, configuration: Configuration(), logger: AgentHarness.quietLogger)
        for id in ["org.localgpt.tools", "org.localgpt.text", "org.localgpt.sysinfo"] {
            try host.load(directory: AgentHarness.bundled + "/" + id, origin: .bundled)
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
                logger: AgentHarness.quietLogger
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
        for i in 0..<300 {
            try agent.session.replaceMessages(base, header: header, record: nil)
            let start = ContinuousClock.now
            _ = try agent.runTurn("Benchmark turn \(i)")
            let d = (ContinuousClock.now - start).components
            samples.append(Double(d.seconds) * 1000 + Double(d.attoseconds) / 1e15)
        }
        samples.sort()
        let p50 = samples[samples.count / 2]
        let p90 = samples[samples.count * 9 / 10]
        print(
            "AGENT-BENCH host overhead per turn (50 messages, tool round=\(toolRound), durable=\(durable)): "
                + String(format: "p50 %.3f ms, p90 %.3f ms", p50, p90)
        )
        // Assembly alone, for the record.
        var assembly: [Double] = []
        for _ in 0..<500 {
            let start = ContinuousClock.now
            let r = agent.previewRequest()
            _ = r.json.encoded()
            let d = (ContinuousClock.now - start).components
            assembly.append(Double(d.seconds) * 1000 + Double(d.attoseconds) / 1e15)
        }
        assembly.sort()
        print(String(format: "AGENT-BENCH context assembly + encoding (50 messages): p50 %.3f ms", assembly[250]))
    }

    /// The request body of a first "Hello" on a fresh workspace with every bundled tool.
    @Test func promptBytesForAFirstHello() throws {
        let h = try AgentHarness(
            script: [ScriptedProvider.answer("Hi!")],
            plugins: ["org.localgpt.tools", "org.localgpt.text", "org.localgpt.sysinfo"]
        )
        _ = try Workspace(root: h.paths.workspace).bootstrap()
        let skills = Skills.discover(
            bundled: Skills.bundledDirectory(executableDirectory: TestSupport.binDirectory, environment: [:]),
            workspace: h.paths.workspace,
            environment: ProcessInfo.processInfo.environment
        )
        let agent = try Agent(
            options: AgentOptions(
                configuration: AgentConfiguration(model: "scripted/test"),
                provider: PluginModelProvider(host: h.host),
                host: h.host,
                store: SessionStore(paths: h.paths),
                workspace: h.paths.workspace,
                memoryTools: MemoryHostTools(workspace: h.paths.workspace),
                skills: skills,
                logger: AgentHarness.quietLogger
            )
        )
        _ = try agent.runTurn("Hello!")
        let body = try String(contentsOfFile: h.requestsFile, encoding: .utf8).split(separator: "\n")[0]
        let doc = try JSONValue(parsing: String(body))
        let system = doc["messages"]?[0]?["content"]?.stringValue ?? ""
        let tools = doc["tools"]?.encoded() ?? ""
        print(
            "AGENT-BENCH first Hello request: \(body.utf8.count) bytes (system \(system.utf8.count), "
                + "tools \(tools.utf8.count) for \(doc["tools"]?.arrayValue?.count ?? 0) tools)"
        )
        #expect(body.utf8.count < 33_000)
    }
}
