//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Synchronization
import Testing

/// Routing: prefixes, aliases, bare names, the default model, failover and cooldown.
@Suite struct RouterTests {
    func resolver(
        _ toml: String = "",
        environment: [String: String] = [:],
        local: Set<String> = []
    ) throws
        -> ModelResolver
    {
        ModelResolver(configuration: try Configuration(toml: toml, environment: environment)) { local.contains($0) }
    }

    @Test func prefixesAliasesAndTheDefault() throws {
        let r = try resolver()
        #expect(try r.resolve("openai/gpt-4o").model == "openai/gpt-4o")
        #expect(try r.resolve("Anthropic/claude-x").model == "anthropic/claude-x")
        #expect(try r.resolve("claude_cli/opus").model == "claude-cli/opus")
        #expect(try r.resolve("opus").model == "anthropic/claude-opus-4-6")
        #expect(try r.resolve("sonnet").model == "anthropic/claude-sonnet-4-6")
        #expect(try r.resolve("gpt").model == "openai/gpt-4o")
        #expect(try r.resolve("gpt-mini").model == "openai/gpt-4o-mini")
        #expect(try r.resolve("glm").model == "glm/glm-4.7")
        #expect(try r.resolve("local").model == "local/qwen2.5-coder-0.5b-instruct")
        let d = try r.resolve(nil)
        #expect(d.model == "local/qwen2.5-coder-0.5b-instruct")
        #expect(d.rule.hasPrefix("default"))
        let custom = try resolver(
            "[agent]\ndefault_model = \"fast\"\n[providers.aliases]\nfast = \"ollama/llama3.2\"\n"
        )
        #expect(try custom.resolve("").model == "ollama/llama3.2")
        #expect(try custom.resolve("fast").rule == "alias")
    }

    @Test func bareNameRules() throws {
        let plain = try resolver(local: ["qwen2.5-coder-0.5b-instruct"])
        #expect(try plain.resolve("gpt-4.1").model == "openai/gpt-4.1")
        #expect(try plain.resolve("o1-mini").model == "openai/o1-mini")
        #expect(try plain.resolve("claude-3-opus").model == "anthropic/claude-3-opus")
        #expect(try plain.resolve("glm-4.7").model == "glm/glm-4.7")
        #expect(try plain.resolve("qwen2.5-coder-0.5b-instruct").model == "local/qwen2.5-coder-0.5b-instruct")
        let unknown = #expect(throws: ProviderError.self) { try plain.resolve("llama3") }
        #expect(unknown?.code == .unknownModel)
        #expect(unknown?.message.contains("provider/model") == true)
        #expect(try resolver("[providers.ollama]\n").resolve("llama3").model == "ollama/llama3")
        let anthropic = try resolver(environment: ["ANTHROPIC_API_KEY": "k-123456789"])
        #expect(try anthropic.resolve("mystery").model == "anthropic/mystery")
        let cli = try resolver("[providers.claude_cli]\nmodel = \"sonnet\"\n")
        #expect(try cli.resolve("mystery").model == "claude-cli/sonnet")
    }

    @Test func configurationChecks() throws {
        let r = try resolver("[providers.openai]\napi_key = \"${NOT_SET}\"\n")
        #expect(!r.isConfigured("openai"))
        #expect(try resolver(environment: ["OPENAI_API_KEY": "sk-1"]).isConfigured("openai"))
        #expect(try resolver("[secrets]\nANTHROPIC_API_KEY = \"sk-ant\"\n").isConfigured("anthropic"))
        #expect(try resolver(environment: ["ZAI_API_KEY": "z"]).isConfigured("glm"))
        #expect(ModelResolver.configurationHint("anthropic").contains("[providers.anthropic]"))
    }

    /// The primary model is rate limited: the next model of `agent.fallback_models` answers, the primary's
    /// provider cools down, and the next turn goes straight to the fallback.
    @Test func failoverOnRateLimitThenCooldown() throws {
        let primary = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                status: 429,
                headers: [("Retry-After", "1")],
                text: #"{"error":{"message":"slow down"}}"#
            )
        }
        let fallback = try LoopbackHTTPServer { _ in
            let line = #"{"model":"llama3","message":{"role":"assistant","content":"from fallback"},"done":true}"#
            return LoopbackHTTPResponse(body: .bytes(Array((line + "\n").utf8)))
        }
        let h = try ProviderHarness(
            config: """
                [agent]
                fallback_models = ["ollama/llama3"]
                [providers.openai]
                base_url = "\(primary.baseURL)/v1"
                [providers.ollama]
                endpoint = "\(fallback.baseURL)"
                """,
            environment: ["OPENAI_API_KEY": "sk-primary-key-000"]
        )
        let (result, events) = h.generate("gpt", Fixtures.request())
        let r = try #require(result.value, "\(String(describing: result.failure))")
        #expect(r.model == "ollama/llama3")
        #expect(r.text == "from fallback")
        #expect(r.failovers.map(\.model) == ["openai/gpt-4o"])
        #expect(r.failovers.first?.reason.contains("slow down") == true)
        #expect(
            events.contains {
                if case .failover(_, let to, _) = $0 { return to == "ollama/llama3" } else { return false }
            }
        )
        #expect(h.router.isCoolingDown("openai"))
        // Cooling down: the fallback answers first, the primary is not contacted again.
        let second = try #require(h.generate("gpt", Fixtures.request()).result.value)
        #expect(second.model == "ollama/llama3")
        #expect(primary.requests.count == 1)
    }

    @Test func failoverOn5xxAndConnectionErrorsButNotOnBadRequests() throws {
        let broken = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(status: 502, text: "bad gateway") }
        let good = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                body: .bytes(Array((#"{"message":{"content":"ok"},"done":true}"# + "\n").utf8))
            )
        }
        let h = try ProviderHarness(
            config: """
                [agent]
                fallback_models = ["anthropic/claude-x", "ollama/m"]
                [providers.openai]
                base_url = "\(broken.baseURL)/v1"
                [providers.ollama]
                endpoint = "\(good.baseURL)"
                """,
            environment: ["OPENAI_API_KEY": "sk-1234567890"],
            cooldownMilliseconds: 0
        )
        // anthropic is not configured: skipped; ollama answers.
        let r = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.value)
        #expect(r.model == "ollama/m")
        // A 400 fails at once.
        let bad = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(status: 400, text: #"{"error":{"message":"bad"}}"#)
        }
        let h2 = try ProviderHarness(
            config: "[agent]\nfallback_models = [\"ollama/m\"]\n[providers.openai]\nbase_url = \"\(bad.baseURL)/v1\"\n"
                + "[providers.ollama]\nendpoint = \"\(good.baseURL)\"\n",
            environment: ["OPENAI_API_KEY": "sk-1234567890"]
        )
        let e = try #require(h2.generate("openai/gpt-4o", Fixtures.request()).result.failure)
        #expect(e.code == .invalidRequest)
        // No fallback when disabled.
        let e3 = try #require(
            Result { () throws(ProviderError) in
                try h.router.generate(model: "openai/gpt-4o", request: Fixtures.request(), useFallbacks: false)
            }.failure
        )
        #expect(e3.code == .unavailable)
    }

    /// A server that accepts the request and then says nothing: a timeout, not "unreachable".
    @Test func aServerTooSlowForTheTimeoutIsNotCalledUnreachable() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(text: "{}", delayMilliseconds: 3_000) }
        let h = try ProviderHarness(
            config: "[providers]\ntimeout_ms = 300\n[providers.openai]\nbase_url = \"\(server.baseURL)/v1\"\n",
            environment: ["OPENAI_API_KEY": "sk-1234567890"]
        )
        let e = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.failure)
        #expect(e.message.contains("did not answer in time (providers.timeout_ms)"), "\(e.message)")
        #expect(!e.message.contains("unreachable"))
    }

    /// A server that echoes the key in its error: masked whole, and also when the plugin's 300-character
    /// clip cuts it ("…ppp sk-SECRETKEY-a…" showed the key's first characters).
    @Test func anEchoedKeyIsMaskedAlsoWhereTheMessageIsClipped() throws {
        let key = "sk-SECRETKEY-abcdef1234567890"
        for padding in [0, 285] {
            let body = #"{"error":{"message":""# + String(repeating: "p", count: padding) + " " + key + #""}}"#
            let server = try LoopbackHTTPServer { _ in LoopbackHTTPResponse(status: 401, text: body) }
            let h = try ProviderHarness(
                config: "[providers.openai]\nbase_url = \"\(server.baseURL)/v1\"\n",
                environment: ["OPENAI_API_KEY": key]
            )
            let e = try #require(h.generate("openai/gpt-4o", Fixtures.request()).result.failure)
            #expect(!e.message.contains("sk-SECRETK"), "\(padding): \(e.message)")
            #expect(e.message.contains("********"), "\(padding): \(e.message)")
        }
    }

    /// Small local models write tool calls as text; the parser finds them for known tools only, and streams
    /// everything else.
    @Test func toolCallsWrittenAsTextAreParsed() throws {
        let answers = Mutex<[String]>([])
        let server = try LoopbackHTTPServer { _ in
            let content = answers.withLock { $0.isEmpty ? "" : $0.removeFirst() }
            let pieces = stride(from: 0, to: content.count, by: 4).map {
                String(content.dropFirst($0).prefix(4))
            }
            let events =
                pieces.map { OpenAIProviderTests.chunk(content: $0) } + [OpenAIProviderTests.chunk(finish: "stop")]
            return LoopbackHTTPResponse(
                body: .chunks(Fixtures.chunks(Fixtures.sse(events), size: 50), delayMilliseconds: 0)
            )
        }
        // A loopback OpenAI-compatible server: the tolerant parser is on, as for the local model.
        let h = try ProviderHarness(config: "[providers.openai]\nbase_url = \"\(server.baseURL)/v1\"\n")
        let tools = [Fixtures.weatherTool, Fixtures.timeTool]
        let cases: [(String, String?, JSONValue?, String)] = [
            (#"{"name": "get_weather", "arguments": {"city": "Paris"}}"#, "get_weather", ["city": "Paris"], ""),
            (
                "```json\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\", \"days\": \"2\"}}\n```",
                "get_weather", ["city": "Rome", "days": 2], ""
            ),
            ("<tool_call>\n{\"name\": \"current_time\", \"arguments\": {}}\n</tool_call>", "current_time", [:], ""),
            (
                "Sure.\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\",}}", "get_weather",
                ["city": "Oslo"],
                "Sure."
            ),
            (#"Use {"name": "value"} objects in JSON."#, nil, nil, #"Use {"name": "value"} objects in JSON."#),
            (
                #"{"name": "delete_everything", "arguments": {}}"#, nil, nil,
                #"{"name": "delete_everything", "arguments": {}}"#
            ),
            ("```python\nprint({'a': 1})\n```", nil, nil, "```python\nprint({'a': 1})\n```"),
            ("Hello there! How can I help?", nil, nil, "Hello there! How can I help?"),
            // Small models often stop one brace short; a cut string is never completed.
            (#"{"name": "get_weather", "arguments": {"city": "Lima"}"#, "get_weather", ["city": "Lima"], ""),
            (
                #"{"name": "get_weather", "arguments": {"city": "Li"#, nil, nil,
                #"{"name": "get_weather", "arguments": {"city": "Li"#
            ),
        ]
        for (content, tool, arguments, text) in cases {
            answers.withLock { $0 = [content] }
            let (result, events) = h.generate("openai/local-test", Fixtures.request("q", tools: tools))
            let r = try #require(result.value, "\(content): \(String(describing: result.failure))")
            #expect(r.toolCalls.first?.name == tool, "\(content)")
            if let arguments { #expect(r.toolCalls.first?.arguments == arguments, "\(content)") }
            #expect(r.toolCalls.allSatisfy { $0.problem == nil }, "\(content)")
            #expect(r.text == text, "\(content)")
            #expect(Fixtures.text(events) == text)
            if tool != nil { #expect(r.stopReason == "tool_use") }
        }
    }

    @Test func parallelCallsInToolCallTags() throws {
        let content =
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"current_time\", \"arguments\": {\"timezone\": \"Europe/Paris\"}}\n</tool_call>"
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                body: .bytes(
                    Fixtures.sse([
                        OpenAIProviderTests.chunk(content: content), OpenAIProviderTests.chunk(finish: "stop"),
                    ])
                )
            )
        }
        let h = try ProviderHarness(config: "[providers.openai]\nbase_url = \"\(server.baseURL)/v1\"\n")
        let request = Fixtures.request("q", tools: [Fixtures.weatherTool, Fixtures.timeTool])
        let r = try #require(h.generate("openai/local-test", request).result.value)
        #expect(r.toolCalls.map(\.name) == ["get_weather", "current_time"])
        #expect(Set(r.toolCalls.map(\.id)).count == 2)
        #expect(r.text.isEmpty)
    }

    @Test func unknownProviderPrefixAndMissingPlugin() throws {
        let h = try ProviderHarness()
        let e = try #require(h.generate("acme/model-1", Fixtures.request()).result.failure)
        #expect(e.code == .noPlugin)
        #expect(e.message.contains("acme/"))
        let bad = try #require(h.generate("local", ["no": "messages"]).result.failure)
        #expect(bad.code == .invalidRequest)
    }
}
