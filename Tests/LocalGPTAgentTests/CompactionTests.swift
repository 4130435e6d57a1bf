//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTAgent
import LocalGPTCore
import LocalGPTTesting
import Testing

private typealias S = ScriptedProvider

@Suite struct CompactionTests {
    /// The threshold path: a memory flush turn first (with a tool call), then the summary request, then
    /// the real request; the compacted session keeps call/result pairs and a summary system entry that
    /// reaches the provider inside the one system message.
    @Test func thresholdCompactionFlushesFirstAndKeepsPairs() throws {
        let big = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 360)  // ~16 KB
        let h = try AgentHarness(
            script: [
                S.answer("Hi there."),  // 0: turn 1
                [S.call("t1", "memory_get", ["path": "MEMORY.md"]), S.done("tool_use")],  // 1: turn 2
                S.answer("Your memory is empty."),  // 2
                S.answer("Sure."),  // 3: turn 3
                S.answer(big),  // 4: turn 4 (pushes the session over the threshold)
                [S.call("f1", "memory_save", ["text": "The user likes foxes."]), S.done("tool_use")],  // 5: flush
                [S.text("NO_REPLY"), S.done()],  // 6: flush ends
                S.answer("- The user said hi and asked about memory."),  // 7: summary
                S.answer("Foxes, noted."),  // 8: turn 5
            ]
        )
        // Measure the fixed part (system prompt + tools), then pick a window whose threshold sits 3000
        // tokens above it: turns 1-4 fit below, turn 4's 4000-token answer pushes turn 5 over.
        let probe = try h.agent(persistent: false)
        let base = probe.contextUsage.used
        let window = Int(Double(base + 3000 + probe.contextUsage.policyReserve) / 0.75) + 1
        let agent = try h.agent(configuration: h.configuration { $0.contextWindow = window })
        #expect(agent.contextUsage.threshold - agent.contextUsage.used > 2900)
        for q in ["Hello", "What do you remember?", "Tell me a story", "Longer please"] {
            _ = try agent.runTurn(q)
        }
        #expect(agent.session.header.compactionCount == 0)
        let log = EventLog()
        let result = try agent.runTurn("I like foxes.", hooks: log.hooks)
        #expect(result.text == "Foxes, noted.")

        // Order of the provider calls: flush (2 rounds), summary, the real request.
        let requests = h.requests
        try #require(requests.count == 9)
        #expect(requests[5].lastContent.hasPrefix("[Pre-compaction memory flush]"))
        #expect(requests[5].toolNames.contains("memory_save"))
        #expect(requests[7]["tools"] == nil)
        #expect(requests[7].messages[0]["content"]?.stringValue == CompactionPlanner.summarySystemPrompt)
        #expect(requests[7].lastContent.contains("User: What do you remember?"))
        #expect(requests[7].lastContent.contains("[called memory_get"))
        let system = try #require(requests[8].messages.first?["content"]?.stringValue)
        #expect(system.contains("## Summary of the earlier conversation\n\nPrevious conversation summary:"))
        #expect(requests[8].messages.filter { $0["role"] == "system" }.count == 1)
        #expect(requests[8].lastContent.hasPrefix("I like foxes."))
        // Events: flush before compaction, in that order.
        let kinds = log.events.compactMap { e -> String? in
            switch e {
            case .compactionStarted: return "start"
            case .memoryFlushStarted: return "flush"
            case .memoryFlushFinished(let ok): return ok ? "flushed" : "flush-failed"
            case .compactionFinished: return "done"
            default: return nil
            }
        }
        #expect(kinds == ["start", "flush", "flushed", "done"])
        // The flush saved the fact.
        let memory = try String(contentsOfFile: h.paths.workspace + "/MEMORY.md", encoding: .utf8)
        #expect(memory.contains("The user likes foxes."))

        // The session: summary first, pairs intact, flush exchange gone, the counters and the record.
        let messages = agent.session.messages
        #expect(messages[0].role == .system && messages[0].meta == "summary")
        #expect(messages[0].content.hasPrefix("Previous conversation summary:"))
        #expect(pairsAreIntact(messages))
        #expect(!messages.contains { $0.meta == "memory_flush" })
        #expect(messages.suffix(2).map(\.content) == ["I like foxes.", "Foxes, noted."])
        #expect(agent.session.header.compactionCount == 1)
        #expect(agent.session.header.memoryFlushCompactionCount == 1)
        let saved = try SessionFile.read(path: try #require(agent.session.file).path)
        #expect(saved.header?.compactionCount == 1)
        #expect(saved.compactions.count == 1)
        #expect(saved.compactions.first?.reason == "threshold")
        #expect(saved.compactions.first?.flushed == true)
        #expect(saved.messages.count == messages.count)
        let checkpoint = try #require(saved.compactions.first?.checkpoint)
        let checkpointText = try String(contentsOfFile: h.paths.workspace + "/" + checkpoint, encoding: .utf8)
        #expect(checkpointText.contains("**User**: What do you remember?"))
        #expect(h.events.events.contains { $0.action == "compaction" && $0.details["memory_flush"] == true })
    }

    /// The providers' overflow errors are known by their words: llama-server's (the local default) too.
    @Test(arguments: [
        (
            "invalid_argument",
            "the local model answered HTTP 400: request (16980 tokens) exceeds the available "
                + "context size (4096 tokens), try increasing it", true
        ),
        ("context_length_exceeded", "This model's maximum context length is 4096 tokens", true),
        ("invalid_argument", "Anthropic answered HTTP 400: prompt is too long: 210000 tokens > 200000 maximum", true),
        ("invalid_argument", "the local model answered HTTP 400: invalid temperature", false),
        ("io", "the local model answered HTTP 500: the size of the context is fine", false),
    ])
    func overflowErrorsAreRecognised(code: String, message: String, overflow: Bool) {
        #expect(ModelProviderError.isOverflow(code: code, message: message) == overflow)
    }

    /// The overflow path: the provider reports an overflow, a flush turn runs anyway, then the summary,
    /// then the same request is retried once.
    @Test func overflowCompactsWithAFlushAndRetries() throws {
        let h = try AgentHarness(
            script: [
                S.answer("One."),
                S.answer("Two."),
                [
                    S.error("context_length_exceeded", "This model's maximum context length is 4096 tokens"),
                    S.fail(status: -9),
                ],
                [S.text("NO_REPLY"), S.done()],  // flush
                S.answer("- Two earlier exchanges."),  // summary
                S.answer("Three."),  // the retry
            ]
        )
        let agent = try h.agent()
        _ = try agent.runTurn("first")
        _ = try agent.runTurn("second")
        let result = try agent.runTurn("third")
        #expect(result.text == "Three.")
        let requests = h.requests
        try #require(requests.count == 6)
        #expect(requests[3].lastContent.hasPrefix("[Pre-compaction memory flush]"))
        #expect(requests[5].lastContent.hasPrefix("third"))
        let saved = try SessionFile.read(path: try #require(agent.session.file).path)
        #expect(saved.compactions.first?.reason == "overflow")
        #expect(saved.compactions.first?.flushed == true)
        #expect(agent.session.messages.first?.role == .system)
        #expect(agent.session.messages.last?.content == "Three.")
        #expect(pairsAreIntact(agent.session.messages))
    }

    @Test func manualCompactionAndNothingToCompact() throws {
        let h = try AgentHarness(
            script: [
                S.answer("A."), S.answer("B."), S.answer("C."),
                [S.text("NO_REPLY"), S.done()],  // flush
                S.answer("- summary"),
            ]
        )
        let agent = try h.agent()
        #expect(try agent.compact() == nil)
        for q in ["a", "b", "c"] { _ = try agent.runTurn(q) }
        let outcome = try #require(try agent.compact())
        #expect(outcome.flushed)
        #expect(outcome.messagesAfter < outcome.messagesBefore)
        #expect(agent.session.messages.first?.content == "Previous conversation summary:\n\n- summary")
        #expect(pairsAreIntact(agent.session.messages))
    }

    @Test func splitNeverSeparatesACallFromItsResults() {
        func m(_ role: ChatRole, _ size: Int = 40, calls: [String] = [], result: String? = nil) -> ChatMessage {
            ChatMessage(
                role: role,
                content: String(repeating: "x", count: size),
                toolCalls: calls.map { ToolCall(id: $0, name: "t", arguments: [:]) },
                toolCallID: result,
                toolName: result == nil ? nil : "t"
            )
        }
        let messages: [ChatMessage] = [
            m(.system), m(.user), m(.assistant, calls: ["a", "b"]), m(.tool, 4000, result: "a"),
            m(.tool, 4000, result: "b"), m(.assistant), m(.user), m(.assistant, calls: ["c"]),
            m(.tool, 4000, result: "c"), m(.assistant, 400),
        ]
        for budget in stride(from: 10, through: 4000, by: 37) {
            guard
                let split = CompactionPlanner.splitIndex(
                    messages,
                    tokens: { messages[$0].estimatedTokens },
                    keepBudget: budget
                )
            else { continue }
            #expect(split >= 1)
            #expect(messages[split].role != .tool, "budget \(budget) split \(split)")
            #expect(pairsAreIntact(Array(messages[split...])), "budget \(budget)")
        }
        #expect(CompactionPlanner.splitIndex([m(.user)], tokens: { _ in 1 }, keepBudget: 10) == nil)
        // A big budget keeps everything after the old summary: nothing new to summarise.
        #expect(CompactionPlanner.splitIndex(messages, tokens: { _ in 1 }, keepBudget: 1000) == nil)
        #expect(CompactionPlanner.splitIndex(Array(messages.dropFirst()), tokens: { _ in 1 }, keepBudget: 1000) == 5)
    }

    @Test func renderShortensLongMessagesAndChunks() {
        let messages = (0..<20).map { i in
            ChatMessage(
                role: i % 2 == 0 ? .user : .assistant,
                content: "message \(i) " + String(repeating: "y", count: 3000)
            )
        }
        let chunks = CompactionPlanner.render(messages[...], maxBytes: 8000)
        #expect(chunks.count > 1)
        #expect(chunks.allSatisfy { $0.utf8.count <= 8000 + 10 })
        #expect(chunks.first?.hasPrefix("User: message 0") == true)
    }
}
