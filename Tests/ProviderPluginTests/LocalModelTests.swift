//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Logging
import Synchronization
import Testing

/// The embedded local default end to end: the host starts llama-server (installed by scripts/install-llama.sh)
/// and the providers plugin speaks to it. No network, no key. Skipped only when the set-up has not installed the
/// server or the model; CI runs the set-up, so these run there.
@Suite(.serialized) struct LocalModelTests {
    static let model = "qwen2.5-coder-0.5b-instruct"

    static let manager = LocalModelManager(
        configuration: Configuration(),
        paths: LocalGPTPaths(home: NSTemporaryDirectory()),
        logger: Logger(label: "probe")
    )

    static var installed: Bool { manager.isServerInstalled && manager.modelFile(named: model) != nil }

    static let skipMessage = Comment(
        rawValue: "llama-server or the model is not installed (run scripts/install-llama.sh): \(manager.serverBinary)"
    )

    /// One host shared by the generation tests, so the server starts once.
    static let shared: ProviderHarness? = try? ProviderHarness()

    static let memorySearch: JSONValue = [
        "name": "memory_search",
        "description": "Search memory (MEMORY.md, daily logs, notes) by keywords and meaning.",
        "parameters": [
            "type": "object", "properties": ["query": ["type": "string", "minLength": 1]], "required": ["query"],
            "additionalProperties": false,
        ],
    ]

    static let system =
        "You are LocalGPT, a helpful assistant running on the user's own computer. Search memory before answering "
        + "questions about the user's past, preferences or facts they told you before."

    @Test(.enabled(if: installed, skipMessage))
    func aStreamedAnswerWithNoKeyAndNoNetwork() throws {
        let h = try #require(Self.shared)
        let request: JSONValue = [
            "messages": [
                ["role": "system", "content": "You are a helpful assistant. Answer briefly."],
                ["role": "user", "content": "What is the capital of France?"],
            ],
            "temperature": 0, "max_tokens": 40,
        ]
        // No model named: agent.default_model, which is the local model out of the box.
        let (result, events) = h.generate(nil, request)
        let r = try #require(result.value, "\(String(describing: result.failure))")
        #expect(r.model == "local/\(Self.model)")
        #expect(r.text.contains("Paris"))
        #expect(Fixtures.textEventCount(events) >= 2, "the answer streams token by token")
        #expect((r.usage.outputTokens ?? 0) > 0)
        #expect(r.toolCalls.isEmpty)
        #expect(h.host.localModels.running().count == 1)
    }

    @Test(.enabled(if: installed, skipMessage))
    func aQuestionThatNeedsAToolGetsTheToolCallAndUsesTheResult() throws {
        let h = try #require(Self.shared)
        let question = "What's my wife's birthday? I told you before."
        let first: JSONValue = [
            "messages": [
                ["role": "system", "content": .string(Self.system)], ["role": "user", "content": .string(question)],
            ],
            "tools": [Self.memorySearch, Fixtures.timeTool], "temperature": 0, "max_tokens": 128,
        ]
        let r = try #require(h.generate("local/\(Self.model)", first).result.value)
        let call = try #require(r.toolCalls.first, "no tool call; the model answered: \(r.text)")
        #expect(call.name == "memory_search")
        #expect(call.problem == nil)
        #expect(r.stopReason == "tool_use")
        // The tool result goes back; the fact from memory is in the answer.
        let second: JSONValue = [
            "messages": [
                ["role": "system", "content": .string(Self.system)], ["role": "user", "content": .string(question)],
                [
                    "role": "assistant", "content": "",
                    "tool_calls": [["id": .string(call.id), "name": "memory_search", "arguments": call.arguments]],
                ],
                [
                    "role": "tool", "tool_call_id": .string(call.id), "name": "memory_search",
                    "content": "MEMORY.md line 3: My wife Anna's birthday is on March 14.",
                ],
            ],
            "tools": [Self.memorySearch, Fixtures.timeTool], "temperature": 0, "max_tokens": 80,
        ]
        let answer = try #require(h.generate("local/\(Self.model)", second).result.value)
        #expect(answer.text.contains("14"), "answer: \(answer.text)")
    }

    @Test(.enabled(if: installed, skipMessage))
    func theServerIsRestartedWhenItDiesAndStoppedWithTheHost() throws {
        let h = try ProviderHarness()
        let request: JSONValue = [
            "messages": [["role": "user", "content": "Say hi."]], "temperature": 0, "max_tokens": 8,
        ]
        _ = try #require(h.generate("local", request).result.value)
        let firstPID = try #require(h.host.localModels.running().first?.pid)
        kill(firstPID, SIGKILL)
        // The next turn finds it dead and starts it again.
        let again = h.generate("local", request)
        #expect(again.result.value != nil, "\(String(describing: again.result.failure))")
        let secondPID = try #require(h.host.localModels.running().first?.pid)
        #expect(secondPID != firstPID)
        h.host.shutdown()
        #expect(h.host.localModels.running().isEmpty)
        #expect(kill(secondPID, 0) != 0, "llama-server outlived the host")
        // After shutdown the host refuses to start it again.
        #expect(h.generate("local", request).result.failure != nil)
    }

    @Test func aMissingModelIsAClearError() throws {
        let h = try ProviderHarness()
        let e = try #require(
            h.generate("local/no-such-model", ["messages": [["role": "user", "content": "hi"]]]).result.failure
        )
        #expect(e.code == .notFound)
        #expect(e.message.contains("install-llama.sh"))
        let bad = try #require(
            h.generate("local/../../etc/passwd", ["messages": [["role": "user", "content": "hi"]]]).result.failure
        )
        #expect(bad.code == .invalidRequest)
    }
}
