//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Synchronization
import Testing

/// Ollama `/api/chat` against a loopback server: NDJSON streaming, tool calls, a model without tool support.
@Suite struct OllamaProviderTests {
    static func line(_ content: String, done: Bool = false, toolCalls: [JSONValue]? = nil) -> String {
        var message: [String: JSONValue] = ["role": "assistant", "content": .string(content)]
        if let toolCalls { message["tool_calls"] = .array(toolCalls) }
        var o: [String: JSONValue] = ["model": "llama3.2", "message": .object(message), "done": .bool(done)]
        if done {
            o["done_reason"] = "stop"
            o["prompt_eval_count"] = 21
            o["eval_count"] = 5
        }
        return JSONValue.object(o).encoded() + "\n"
    }

    func harness(_ server: LoopbackHTTPServer) throws -> ProviderHarness {
        try ProviderHarness(config: "[providers.ollama]\nendpoint = \"\(server.baseURL)\"\n")
    }

    @Test func streamedNDJSONTurn() throws {
        let body = Array((Self.line("Hi ") + Self.line("from ") + Self.line("Ollama") + Self.line("", done: true)).utf8)
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                headers: [("Content-Type", "application/x-ndjson")],
                body: .chunks(Fixtures.chunks(body, size: 9), delayMilliseconds: 0)
            )
        }
        let h = try harness(server)
        // A bare name goes to Ollama when [providers.ollama] is configured.
        let (result, events) = h.generate("llama3.2", Fixtures.request())
        let r = try #require(result.value, "\(String(describing: result.failure))")
        #expect(r.model == "ollama/llama3.2")
        #expect(r.text == "Hi from Ollama")
        #expect(Fixtures.textEventCount(events) == 3)
        #expect(r.usage == ProviderUsage(inputTokens: 21, outputTokens: 5))
        let request = try #require(server.requests.first)
        #expect(request.path == "/api/chat")
        #expect(try JSONValue(parsing: request.bodyText)["model"] == "llama3.2")
    }

    @Test func toolCallsAndToolResults() throws {
        let call: JSONValue = ["function": ["name": "get_weather", "arguments": ["city": "Lima"]]]
        let body = Array(
            (Self.line("", toolCalls: [call, ["function": ["name": "current_time", "arguments": [:]]]])
                + Self.line("", done: true)).utf8
        )
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(body: .bytes(body)) }
        let h = try harness(server)
        let r = try #require(h.generate("ollama/llama3.2", Fixtures.conversationWithToolResult).result.value)
        #expect(r.toolCalls.map(\.name) == ["get_weather", "current_time"])
        #expect(r.toolCalls[0].arguments == ["city": "Lima"])
        #expect(r.toolCalls[0].problem == nil)
        #expect(r.stopReason == "tool_use")
        let sent = try JSONValue(parsing: #require(server.requests.first).bodyText)
        let messages = try #require(sent["messages"]?.arrayValue)
        #expect(messages.map { $0["role"]?.stringValue ?? "" } == ["system", "user", "assistant", "tool", "tool"])
        #expect(messages[2]["tool_calls"]?[0]?["function"]?["arguments"] == ["city": "Paris"])
        #expect(messages[3]["content"] == "18 C")
        #expect(messages[3]["tool_name"] == "get_weather")
        #expect(sent["tools"]?[0]?["function"]?["name"] == "get_weather")
    }

    @Test func aModelWithoutToolSupportIsRetriedWithoutTools() throws {
        let server = try LoopbackHTTPServer { request in
            if request.bodyText.contains("\"tools\"") {
                return LoopbackHTTPResponse(
                    status: 400,
                    text: #"{"error":"registry.ollama.ai/library/gemma does not support tools"}"#
                )
            }
            return LoopbackHTTPResponse(body: .bytes(Array((Self.line("fine") + Self.line("", done: true)).utf8)))
        }
        let h = try harness(server)
        let r = try #require(h.generate("ollama/gemma", Fixtures.request(tools: [Fixtures.weatherTool])).result.value)
        #expect(r.text == "fine")
        #expect(server.requests.count == 2)
        #expect(h.logs.all.contains { $0.contains("does not support tools") })
    }

    @Test func errorsAndCutStreams() throws {
        let mode = Mutex(0)
        let server = try LoopbackHTTPServer { _ in
            switch mode.withLock({ $0 }) {
            case 0:
                return LoopbackHTTPResponse(
                    status: 404,
                    text: #"{"error":"model \"nope\" not found, try pulling it first"}"#
                )
            case 1: return LoopbackHTTPResponse(body: .bytes(Array(Self.line("half").utf8)))
            default: return LoopbackHTTPResponse(body: .bytes(Array("{\"error\":\"out of memory\"}\n".utf8)))
            }
        }
        let h = try harness(server)
        let missing = try #require(h.generate("ollama/nope", Fixtures.request()).result.failure)
        #expect(missing.code == .notFound)
        #expect(missing.message.contains("try pulling it first"))
        mode.withLock { $0 = 1 }
        let cut = try #require(h.generate("ollama/x", Fixtures.request()).result.failure)
        #expect(cut.message.contains("ended before the response was complete"))
        #expect(cut.partial)
        mode.withLock { $0 = 2 }
        let oom = try #require(h.generate("ollama/x", Fixtures.request()).result.failure)
        #expect(oom.message.contains("out of memory"))
    }
}
