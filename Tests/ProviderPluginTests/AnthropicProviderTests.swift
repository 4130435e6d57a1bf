//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Synchronization
import Testing

/// Anthropic Messages against a loopback server: named SSE events, text deltas, tool input assembled from
/// `partial_json` fragments, tool_result blocks, errors.
@Suite struct AnthropicProviderTests {
    static let key = "sk-ant-test-abcdef0123456789"

    /// Named SSE events as Anthropic sends them.
    static func stream(_ events: [JSONValue]) -> [UInt8] {
        Fixtures.sse(events.map { $0.encoded() }, done: false, named: events.map { $0["type"]?.stringValue })
    }

    static let start: JSONValue = [
        "type": "message_start",
        "message": ["id": "msg_1", "model": "claude-sonnet-4-6", "usage": ["input_tokens": 25, "output_tokens": 1]],
    ]

    static func textBlock(_ index: Int64, _ parts: [String]) -> [JSONValue] {
        [["type": "content_block_start", "index": .int(index), "content_block": ["type": "text", "text": ""]]]
            + parts.map {
                [
                    "type": "content_block_delta", "index": .int(index),
                    "delta": ["type": "text_delta", "text": .string($0)],
                ]
            }
            + [["type": "content_block_stop", "index": .int(index)]]
    }

    static func toolBlock(_ index: Int64, id: String, name: String, json parts: [String]) -> [JSONValue] {
        [
            [
                "type": "content_block_start", "index": .int(index),
                "content_block": ["type": "tool_use", "id": .string(id), "name": .string(name), "input": [:]],
            ]
        ]
            + parts.map {
                [
                    "type": "content_block_delta", "index": .int(index),
                    "delta": ["type": "input_json_delta", "partial_json": .string($0)],
                ]
            }
            + [["type": "content_block_stop", "index": .int(index)]]
    }

    static func end(_ reason: String, output: Int64 = 9) -> [JSONValue] {
        [
            [
                "type": "message_delta", "delta": ["stop_reason": .string(reason)],
                "usage": ["output_tokens": .int(output)],
            ],
            ["type": "message_stop"],
        ]
    }

    func harness(_ server: LoopbackHTTPServer) throws -> ProviderHarness {
        try ProviderHarness(
            config: "[providers.anthropic]\nbase_url = \"\(server.baseURL)\"\n",
            environment: ["ANTHROPIC_API_KEY": Self.key]
        )
    }

    @Test func streamedTextTurn() throws {
        let body = Self.stream(
            [Self.start, ["type": "ping"]] + Self.textBlock(0, ["Bon", "jour ", "à vous"]) + Self.end("end_turn")
        )
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                headers: [("Content-Type", "text/event-stream")],
                body: .chunks(Fixtures.chunks(body, size: 11), delayMilliseconds: 0)
            )
        }
        let h = try harness(server)
        let (result, events) = h.generate("sonnet", Fixtures.request())
        let r = try #require(result.value, "\(String(describing: result.failure))")
        #expect(r.text == "Bonjour à vous")
        #expect(Fixtures.textEventCount(events) == 3)
        #expect(r.model == "anthropic/claude-sonnet-4-6")
        #expect(r.usage == ProviderUsage(inputTokens: 25, outputTokens: 9))
        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/messages")
        #expect(request.headers["x-api-key"] == Self.key)
        #expect(request.headers["anthropic-version"] == "2023-06-01")
        let sent = try JSONValue(parsing: request.bodyText)
        #expect(sent["system"] == "You are terse.")
        #expect(sent["max_tokens"] == 4096)
        #expect(sent["messages"]?.arrayValue?.count == 1)
        #expect(!h.logs.all.contains { $0.contains(Self.key) })
    }

    @Test func toolInputFromPartialJSONAndParallelCalls() throws {
        let events =
            [Self.start] + Self.textBlock(0, ["Let me check."])
            + Self.toolBlock(1, id: "toolu_1", name: "get_weather", json: ["", "{\"ci", "ty\": \"Ber", "lin\"}"])
            + Self.toolBlock(2, id: "toolu_2", name: "current_time", json: ["{}"]) + Self.end("tool_use")
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(body: .chunks(Fixtures.chunks(Self.stream(events), size: 17), delayMilliseconds: 0))
        }
        let h = try harness(server)
        let request = Fixtures.request(tools: [Fixtures.weatherTool, Fixtures.timeTool])
        let r = try #require(h.generate("anthropic/claude-sonnet-4-6", request).result.value)
        #expect(r.text == "Let me check.")
        #expect(
            r.toolCalls == [
                ProviderToolCall(id: "toolu_1", name: "get_weather", arguments: ["city": "Berlin"]),
                ProviderToolCall(id: "toolu_2", name: "current_time", arguments: [:]),
            ]
        )
        #expect(r.stopReason == "tool_use")
        let sent = try JSONValue(parsing: #require(server.requests.first).bodyText)
        #expect(sent["tools"]?[0]?["input_schema"]?["required"] == ["city"])
        #expect(sent["tools"]?[0]?["name"] == "get_weather")
    }

    @Test func toolResultsTravelAsBlocksInOneUserMessage() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                body: .bytes(Self.stream([Self.start] + Self.textBlock(0, ["ok"]) + Self.end("end_turn")))
            )
        }
        let h = try harness(server)
        _ = try #require(h.generate("anthropic/claude-opus-4-6", Fixtures.conversationWithToolResult).result.value)
        let sent = try JSONValue(parsing: #require(server.requests.first).bodyText)
        let messages = try #require(sent["messages"]?.arrayValue)
        #expect(messages.map { $0["role"]?.stringValue ?? "" } == ["user", "assistant", "user"])
        let assistant = try #require(messages[1]["content"]?.arrayValue)
        #expect(assistant.map { $0["type"]?.stringValue ?? "" } == ["text", "tool_use", "tool_use"])
        #expect(assistant[1]["input"] == ["city": "Paris"])
        let results = try #require(messages[2]["content"]?.arrayValue)
        #expect(results.map { $0["tool_use_id"]?.stringValue ?? "" } == ["call_a", "call_b"])
        #expect(results[0]["type"] == "tool_result")
        #expect(results[1]["is_error"] == true)
        #expect(sent["system"] == "You are terse.")
    }

    @Test func rateLimitOverloadAndMidStreamErrors() throws {
        let mode = Mutex(0)
        let server = try LoopbackHTTPServer { _ in
            switch mode.withLock({ $0 }) {
            case 0:
                return LoopbackHTTPResponse(
                    status: 429,
                    headers: [("retry-after", "30")],
                    text:
                        #"{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests exceeded"}}"#
                )
            case 1:
                return LoopbackHTTPResponse(
                    status: 529,
                    text: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
                )
            default:
                let events: [JSONValue] =
                    [Self.start] + Self.textBlock(0, ["Half"]).dropLast()
                    + [["type": "error", "error": ["type": "overloaded_error", "message": "Overloaded"]]]
                return LoopbackHTTPResponse(body: .bytes(Self.stream(events)))
            }
        }
        let h = try harness(server)
        let limited = try #require(h.generate("sonnet", Fixtures.request()).result.failure)
        #expect(limited.code == .rateLimited)
        #expect(limited.retryAfterMilliseconds == 30_000)
        #expect(limited.message.contains("Number of requests exceeded"))
        mode.withLock { $0 = 1 }
        let overloaded = try #require(h.generate("sonnet", Fixtures.request()).result.failure)
        #expect(overloaded.code == .unavailable)
        #expect(overloaded.message.contains("529"))
        mode.withLock { $0 = 2 }
        let (result, events) = h.generate("sonnet", Fixtures.request())
        let midStream = try #require(result.failure)
        #expect(midStream.message.contains("Overloaded"))
        #expect(midStream.partial)
        #expect(Fixtures.text(events) == "Half")
    }

    @Test func aCutStreamIsReported() throws {
        let body = Self.stream([Self.start] + Self.textBlock(0, ["Trunc"]))
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(body: .chunks([body], delayMilliseconds: 0)) }
        let h = try harness(server)
        let error = try #require(h.generate("sonnet", Fixtures.request()).result.failure)
        #expect(error.message.contains("ended before the response was complete"))
    }

    @Test func notConfiguredNamesTheSection() throws {
        let h = try ProviderHarness()
        let error = try #require(h.generate("opus", Fixtures.request()).result.failure)
        #expect(error.code == .notConfigured)
        #expect(error.message.contains("[providers.anthropic]"))
    }
}
