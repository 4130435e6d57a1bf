//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTAgent
import LocalGPTCore
import LocalGPTMemory
import LocalGPTTesting
import Testing

/// The size of the first request: a size check (not a timing), kept well under the peers' (nanobot 33 KB,
/// Hermes 47.6 KB). The per-turn host overhead is a benchmark: `localgpt sessions bench` (docs/PERFORMANCE.md).
@Suite struct PromptSizeTests {
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
            "first Hello request: \(body.utf8.count) bytes (system \(system.utf8.count), "
                + "tools \(tools.utf8.count) for \(doc["tools"]?.arrayValue?.count ?? 0) tools)"
        )
        #expect(body.utf8.count < 20_000, "the first request grew to \(body.utf8.count) bytes")
    }
}
