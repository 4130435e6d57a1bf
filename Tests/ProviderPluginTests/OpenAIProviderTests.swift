//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Synchronization
import Testing

/// OpenAI chat completions against a loopback server that speaks the protocol: SSE framing, tool-call argument
/// fragments split across chunks, error bodies, 429 with Retry-After, a stream cut mid-way, bad input.
@Suite struct OpenAIProviderTests {
    static let key = "sk-test-0123456789abcdef"

    static func chunk(content: String? = nil, toolCalls: [JSONValue]? = nil, finish: String? = nil) -> String {
        var delta: [String: JSONValue] = [:]
        if let content { delta["content"] = .string(content) }
        if let toolCalls { delta["tool_calls"] = .array(toolCalls) }
        let choice: JSONValue = [
            "index": 0, "delta": .object(delta), "finish_reason": finish.map(JSONValue.string) ?? .null,
        ]
        return JSONValue.object(["id": "chatcmpl-1", "model": "gpt-4o-2024", "choices": [choice]]).encoded()
    }

    static let usage = #"{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7}}"#

    func harness(_ server: LoopbackHTTPServer, extra: String = "") throws -> ProviderHarness {
        try ProviderHarness(
            config: "[providers.openai]\nbase_url = \"\(server.baseURL)/v1\"\n\(extra)",
            environment: ["OPENAI_API_KEY": Self.key]
        )
    }

    @Test func streamedTextTurn() throws {
        let body = Fixtures.sse([
            Self.chunk(content: "Hel"), Self.chunk(content: "lo, wörld"), Self.chunk(content: "!", finish: "stop"),
            Self.usage,
        ])
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                headers: [("Content-Type", "text/event-stream")],
                body: .chunks(Fixtures.chunks(body, size: 7), delayMilliseconds: 1)
            )
        }
        let h = try harness(server)
        let (result, events) = h.generate("openai/gpt-4o", Fixtures.request())
        let r = try #require(result.value, "\(String(describing: result.failure))")
        #expect(r.text == "Hello, wörld!")
        #expect(Fixtures.text(events) == "Hello, wörld!")
        #expect(Fixtures.textEventCount(events) >= 3)
        #expect(r.model == "openai/gpt-4o")
        #expect(r.serverModel == "gpt-4o-2024")
        #expect(r.stopReason == "end_turn")
        #expect(r.usage == ProviderUsage(inputTokens: 11, outputTokens: 7))
        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/chat/completions")
        #expect(request.headers["authorization"] == "Bearer \(Self.key)")
        let sent = try JSONValue(parsing: request.bodyText)
        #expect(sent["model"] == "gpt-4o")
        #expect(sent["stream"] == true)
        #expect(sent["messages"]?.arrayValue?.first?["role"] == "system")
        // The key never reaches the logs.
        #expect(!h.logs.all.contains { $0.contains(Self.key) })
    }

    @Test func nonStreamedTextTurn() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                headers: [("Content-Type", "application/json")],
                text: #"{"model":"gpt-4o","choices":[{"message":{"role":"assistant","content":"Hi there"},"#
                    + #""finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#
            )
        }
        let h = try harness(server)
        let r = try #require(h.generate("gpt-4o", Fixtures.request(stream: false)).result.value)
        #expect(r.text == "Hi there")
        #expect(r.usage.outputTokens == 2)
        #expect(try JSONValue(parsing: #require(server.requests.first).bodyText)["stream"] == false)
    }

    @Test func singleToolCallWithArgumentsSplitAcrossChunks() throws {
        let body = Fixtures.sse([
            Self.chunk(toolCalls: [
                ["index": 0, "id": "call_1", "type": "function", "function": ["name": "get_weather", "arguments": ""]]
            ]),
            Self.chunk(toolCalls: [["index": 0, "function": ["arguments": "{\"ci"]]]),
            Self.chunk(toolCalls: [["index": 0, "function": ["arguments": "ty\": \"Par"]]]),
            Self.chunk(toolCalls: [["index": 0, "function": ["arguments": "is\"}"]]]),
            Self.chunk(finish: "tool_calls"),
        ])
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(body: .chunks(Fixtures.chunks(body, size: 13), delayMilliseconds: 0))
        }
        let h = try harness(server)
        let r = try #require(h.generate("openai/gpt-4o", Fixtures.request(tools: [Fixtures.weatherTool])).result.value)
        #expect(r.toolCalls == [ProviderToolCall(id: "call_1", name: "get_weather", arguments: ["city": "Paris"])])
        #expect(r.stopReason == "tool_use")
        let sent = try JSONValue(parsing: #require(server.requests.first).bodyText)
        #expect(sent["tools"]?[0]?["type"] == "function")
        #expect(sent["tools"]?[0]?["function"]?["name"] == "get_weather")
        #expect(sent["tools"]?[0]?["function"]?["parameters"]?["required"] == ["city"])
    }

    @Test func parallelToolCalls() throws {
        let body = Fixtures.sse([
            Self.chunk(toolCalls: [
                ["index": 0, "id": "call_a", "function": ["name": "get_weather", "arguments": "{\"city\":"]],
                ["index": 1, "id": "call_b", "function": ["name": "current_time", "arguments": "{}"]],
            ]),
            Self.chunk(toolCalls: [["index": 0, "function": ["arguments": "\"Oslo\"}"]]]),
            Self.chunk(finish: "tool_calls"),
        ])
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(body: .bytes(body)) }
        let h = try harness(server)
        let request = Fixtures.request(tools: [Fixtures.weatherTool, Fixtures.timeTool])
        let r = try #require(h.generate("openai/gpt-4o", request).result.value)
        #expect(r.toolCalls.map(\.name) == ["get_weather", "current_time"])
        #expect(r.toolCalls.map(\.id) == ["call_a", "call_b"])
        #expect(r.toolCalls[0].arguments == ["city": "Oslo"])
        #expect(r.toolCalls.allSatisfy { $0.problem == nil })
    }

    @Test func toolResultsAreSentInOpenAIFormat() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(body: .bytes(Fixtures.sse([Self.chunk(content: "Done.", finish: "stop")])))
        }
        let h = try harness(server)
        _ = try #require(h.generate("openai/gpt-4o", Fixtures.conversationWithToolResult).result.value)
        let sent = try JSONValue(parsing: #require(server.requests.first).bodyText)
        let messages = try #require(sent["messages"]?.arrayValue)
        #expect(messages.map { $0["role"]?.stringValue ?? "" } == ["system", "user", "assistant", "tool", "tool"])
        let assistant = messages[2]
        #expect(assistant["tool_calls"]?[0]?["id"] == "call_a")
        #expect(assistant["tool_calls"]?[0]?["type"] == "function")
        #expect(assistant["tool_calls"]?[0]?["function"]?["arguments"] == #"{"city":"Paris"}"#)
        #expect(messages[3]["tool_call_id"] == "call_a")
        #expect(messages[3]["content"] == "18 C")
        #expect(messages[4]["tool_call_id"] == "call_b")
    }

    @Test func rateLimitCarriesRetryAfter() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                status: 429,
                headers: [("Retry-After", "7"), ("Content-Type", "application/json")],
                text: #"{"error":{"message":"Rate limit reached for gpt-4o","type":"requests"}}"#
            )
        }
        let h = try harness(server)
        let error = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.failure)
        #expect(error.code == .rateLimited)
        #expect(error.retryAfterMilliseconds == 7000)
        #expect(error.message.contains("Rate limit reached"))
        #expect(error.message.contains("retry after 7 s"))
        #expect(!error.message.contains(Self.key))
    }

    @Test func serverErrorsAndRejectedKeys() throws {
        let status = Mutex(503)
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(status: status.withLock { $0 }, text: #"{"error":{"message":"upstream busy"}}"#)
        }
        let h = try harness(server)
        let e503 = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.failure)
        #expect(e503.code == .unavailable)
        #expect(e503.message.contains("HTTP 503"))
        status.withLock { $0 = 401 }
        let e401 = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.failure)
        #expect(e401.code == .permissionDenied)
        #expect(e401.message.contains("API key"))
        status.withLock { $0 = 404 }
        #expect(h.generate("openai/gpt-4o", Fixtures.request()).result.failure?.code == .notFound)
    }

    @Test func connectionRefusedIsUnavailable() throws {
        try LoopbackHTTPServer.withRefusingPort { port in
            let h = try ProviderHarness(
                config: "[providers.openai]\nbase_url = \"http://127.0.0.1:\(port)/v1\"\n",
                environment: ["OPENAI_API_KEY": Self.key]
            )
            let error = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.failure)
            #expect(error.code == .unavailable)
            #expect(error.message.contains("unreachable"))
        }
    }

    @Test func streamCutMidWayIsAnErrorAfterThePartialText() throws {
        let body = Fixtures.sse([Self.chunk(content: "Partial "), Self.chunk(content: "answ")], done: false)
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(body: .chunks([body], delayMilliseconds: 0)) }
        let h = try harness(server)
        let (result, events) = h.generate("openai/gpt-4o", Fixtures.request())
        let error = try #require(result.failure)
        #expect(error.code == .unavailable)
        #expect(error.partial)
        #expect(error.message.contains("ended before the response was complete"))
        #expect(Fixtures.text(events) == "Partial answ")
    }

    @Test func invalidJSONFromTheServerEndsTheTurnClearly() throws {
        let body = Array("data: {not json\n\ndata: still not\n\ndata: nope\n\ndata: {{{\n\n".utf8)
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(body: .bytes(body)) }
        let h = try harness(server)
        let error = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.failure)
        #expect(error.message.contains("not JSON"))
        let whole = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "<html>oops</html>") }
        let h2 = try harness(whole)
        let e2 = try #require(h2.generate("openai/gpt-4o", Fixtures.request(stream: false)).result.failure)
        #expect(e2.message.contains("not JSON"))
    }

    @Test func aFiftyMegabyteBodyIsRefused() throws {
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 50 << 20)
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(body: .bytes(big)) }
        let h = try harness(server)
        let started = Date()
        let error = try #require(h.generate("openai/gpt-4o", Fixtures.request(stream: false)).result.failure)
        #expect(error.message.contains("more than 16 MiB"))
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test func anEndlessStreamStopsAtTheSizeCapOrWhenTheCallerCancels() throws {
        // 4 MiB of deltas and no end; a 1 MiB cap stops it.
        let event = Array("data: \(Self.chunk(content: String(repeating: "x", count: 1000)))\n\n".utf8)
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(body: .chunks(Array(repeating: event, count: 4000), delayMilliseconds: 0))
        }
        let h = try harness(server, extra: "[providers]\nmax_response_bytes = 1048576\n")
        let error = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.failure)
        #expect(error.message.contains("more than 1 MiB"))
        // The caller stops after three deltas.
        let h2 = try harness(server)
        let (result, events) = h2.generate("openai/gpt-4o", Fixtures.request(), cancelAfterEvents: 3)
        #expect(result.failure?.code == .cancelled)
        #expect(Fixtures.textEventCount(events) == 3)
    }

    @Test func unknownToolsAndSchemaViolationsAreFlaggedNotFatal() throws {
        let body = Fixtures.sse([
            Self.chunk(toolCalls: [
                ["index": 0, "id": "c1", "function": ["name": "launch_rocket", "arguments": "{}"]],
                ["index": 1, "id": "c2", "function": ["name": "get_weather", "arguments": "{\"days\": 3}"]],
                ["index": 2, "id": "c3", "function": ["name": "get_weather", "arguments": "{\"city\": \"Ro"]],
            ]),
            Self.chunk(finish: "tool_calls"),
        ])
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(body: .bytes(body)) }
        let h = try harness(server)
        let r = try #require(h.generate("openai/gpt-4o", Fixtures.request(tools: [Fixtures.weatherTool])).result.value)
        #expect(r.toolCalls.count == 3)
        #expect(r.toolCalls[0].problem?.contains("no tool named \"launch_rocket\"") == true)
        #expect(r.toolCalls[1].problem?.contains("schema") == true)
        #expect(r.toolCalls[2].problem?.contains("not valid JSON") == true)
    }

    @Test func aModelThatRejectsToolsIsRetriedWithoutThem() throws {
        let server = try LoopbackHTTPServer { request in
            if request.bodyText.contains("\"tools\"") {
                return LoopbackHTTPResponse(
                    status: 400,
                    text: #"{"error":{"message":"this model does not support tools"}}"#
                )
            }
            return LoopbackHTTPResponse(body: .bytes(Fixtures.sse([Self.chunk(content: "plain", finish: "stop")])))
        }
        let h = try harness(server)
        let r = try #require(h.generate("openai/gpt-4o", Fixtures.request(tools: [Fixtures.weatherTool])).result.value)
        #expect(r.text == "plain")
        #expect(server.requests.count == 2)
    }

    @Test func notConfiguredNamesTheSectionToAdd() throws {
        let h = try ProviderHarness(environment: [:])
        let error = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.failure)
        #expect(error.code == .notConfigured)
        #expect(error.message.contains("[providers.openai]"))
        #expect(error.message.contains("OPENAI_API_KEY"))
        let glm = try #require(h.generate("glm", Fixtures.request()).result.failure)
        #expect(glm.message.contains("[providers.glm]"))
    }

    @Test func glmUsesTheOpenAIProtocolWithItsOwnKey() throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(body: .bytes(Fixtures.sse([Self.chunk(content: "ni hao", finish: "stop")])))
        }
        let h = try ProviderHarness(
            config: "[providers.glm]\nbase_url = \"\(server.baseURL)/api/coding/paas/v4\"\n",
            environment: ["ZAI_API_KEY": "zai-secret-key-123"]
        )
        let r = try #require(h.generate("glm", Fixtures.request()).result.value)
        #expect(r.text == "ni hao")
        #expect(r.model == "glm/glm-4.7")
        let request = try #require(server.requests.first)
        #expect(request.path == "/api/coding/paas/v4/chat/completions")
        #expect(request.headers["authorization"] == "Bearer zai-secret-key-123")
    }
}
