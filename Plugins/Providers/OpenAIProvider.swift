// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// OpenAI chat completions (`POST {base}/chat/completions`): OpenAI itself, GLM (Z.AI) and any OpenAI-compatible
// server (llama.cpp's llama-server, LM Studio, vLLM). Streams SSE, accumulating tool-call argument fragments by
// index; the local provider reuses this with the tolerant text parser switched on.

import CLocalGPTPlugin

/// Where and how to reach one OpenAI-compatible endpoint.
struct OpenAIEndpoint {
    /// Names the service in messages: "OpenAI", "GLM", "the local model".
    var label: String
    /// The base URL up to and including the version segment: `https://api.openai.com/v1`.
    var baseURL: String
    var apiKey: String?
    var extraHeaders: [String: String] = [:]
    /// Look for tool calls written as text in the content (small local models).
    var parseTextToolCalls = false
    /// Extra members of the request body (llama-server options).
    var extraBody: [String: JSON] = [:]
    /// A system instruction appended for models that need help with tools.
    var toolInstruction: String?
}

enum OpenAIProvider {
    /// The endpoint for `openai/...` or `glm/...` from the config and secrets.
    ///
    /// - Throws: ``ProviderFailure`` (`not_found`) naming the config section to add when no key is configured.
    static func endpoint(for provider: String, host: HostBridge) throws(ProviderFailure) -> OpenAIEndpoint {
        if provider == "glm" {
            let key =
                host.configString("providers.glm.api_key") ?? host.secret("GLM_API_KEY") ?? host.secret("ZAI_API_KEY")
            guard let key else {
                throw .notFound(
                    "GLM (Z.AI) is not configured: set GLM_API_KEY (or ZAI_API_KEY) in the environment, or add to "
                        + "config.toml:\n[providers.glm]\napi_key = \"${GLM_API_KEY}\""
                )
            }
            return OpenAIEndpoint(
                label: "GLM",
                baseURL: host.configString("providers.glm.base_url") ?? "https://api.z.ai/api/coding/paas/v4",
                apiKey: key
            )
        }
        let base = host.configString("providers.openai.base_url") ?? "https://api.openai.com/v1"
        let key = host.configString("providers.openai.api_key") ?? host.secret("OPENAI_API_KEY")
        let isOfficial = base.contains("://api.openai.com")
        if key == nil && isOfficial {
            throw .notFound(
                "OpenAI is not configured: set OPENAI_API_KEY in the environment, or add to config.toml:\n"
                    + "[providers.openai]\napi_key = \"${OPENAI_API_KEY}\""
            )
        }
        var endpoint = OpenAIEndpoint(label: isOfficial ? "OpenAI" : "the OpenAI-compatible server", baseURL: base)
        endpoint.apiKey = key
        for (k, v) in host.config("providers.openai.extra_headers")?.object ?? [:] {
            if let s = v.string { endpoint.extraHeaders[k] = s }
        }
        endpoint.parseTextToolCalls =
            host.config("providers.openai.text_tool_calls")?.bool ?? (!isOfficial && isLoopback(base))
        return endpoint
    }

    static func isLoopback(_ url: String) -> Bool {
        ["://127.0.0.1", "://localhost", "://[::1]"].contains { url.contains($0) }
    }

    // MARK: Request

    /// The chat-completions body for a request.
    static func body(_ request: GenerateRequest, endpoint: OpenAIEndpoint, model: String, withTools: Bool) -> JSON {
        var messages: [JSON] = []
        var instructionAdded = false
        for m in request.messages {
            switch m.role {
            case .system:
                var content = m.content
                if withTools, !instructionAdded, let extra = endpoint.toolInstruction, !request.tools.isEmpty {
                    content += "\n\n" + extra
                    instructionAdded = true
                }
                messages.append(["role": "system", "content": .string(content)])
            case .user:
                messages.append(["role": "user", "content": .string(m.content)])
            case .assistant:
                var o: [String: JSON] = ["role": "assistant"]
                o["content"] = m.content.isEmpty && !m.toolCalls.isEmpty ? .null : .string(m.content)
                if !m.toolCalls.isEmpty {
                    o["tool_calls"] = .array(
                        m.toolCalls.map {
                            [
                                "id": .string($0.id), "type": "function",
                                "function": ["name": .string($0.name), "arguments": .string($0.arguments.encoded)],
                            ]
                        }
                    )
                }
                messages.append(.object(o))
            case .tool:
                var o: [String: JSON] = ["role": "tool", "content": .string(m.content)]
                if let id = m.toolCallID { o["tool_call_id"] = .string(id) }
                if let name = m.toolName { o["name"] = .string(name) }
                messages.append(.object(o))
            }
        }
        if withTools, !instructionAdded, let extra = endpoint.toolInstruction, !request.tools.isEmpty {
            messages.insert(["role": "system", "content": .string(extra)], at: 0)
        }
        var body: [String: JSON] = [
            "model": .string(model), "messages": .array(messages), "stream": .bool(request.stream),
        ]
        if request.stream { body["stream_options"] = ["include_usage": true] }
        if withTools && !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map {
                    [
                        "type": "function",
                        "function": [
                            "name": .string($0.name), "description": .string($0.description),
                            "parameters": $0.parameters,
                        ],
                    ]
                }
            )
            if let choice = request.toolChoice { body["tool_choice"] = .string(choice) }
        }
        if let m = request.maxTokens { body["max_tokens"] = .int(Int64(m)) }
        if let t = request.temperature { body["temperature"] = .double(t) }
        for (k, v) in endpoint.extraBody where body[k] == nil { body[k] = v }
        return .object(body)
    }

    static func headers(_ endpoint: OpenAIEndpoint) -> [String: String] {
        var h = endpoint.extraHeaders
        if let key = endpoint.apiKey { h["Authorization"] = "Bearer " + key }
        h["Accept"] = "text/event-stream, application/json"
        return h
    }

    // MARK: Generation

    /// Runs one generation against `endpoint`; a 400 that blames the tools is retried once without them.
    ///
    /// - Throws: ``ProviderFailure``.
    static func generate(
        _ ctx: CallContext,
        _ request: GenerateRequest,
        endpoint: OpenAIEndpoint,
        model: String
    )
        throws(ProviderFailure)
    {
        do {
            try run(ctx, request, endpoint: endpoint, model: model, withTools: true)
        } catch let failure where rejectsTools(failure) && !request.tools.isEmpty && !ctx.events.emittedAnything {
            ctx.host.log(LGPT_LOG_WARN, "\(endpoint.label) rejected tools for \(model); retrying without them")
            try run(ctx, request, endpoint: endpoint, model: model, withTools: false)
        }
    }

    /// Whether a failure says the model does not support tools (a 400 naming tools or functions).
    static func rejectsTools(_ failure: ProviderFailure) -> Bool {
        guard failure.httpStatus == 400 else { return false }
        let m = failure.message.lowercased()
        return m.contains("tool") || m.contains("function")
    }

    private static func run(
        _ ctx: CallContext,
        _ request: GenerateRequest,
        endpoint: OpenAIEndpoint,
        model: String,
        withTools: Bool
    ) throws(ProviderFailure) {
        let url = endpoint.baseURL.trimmingTrailingSlashes + "/chat/completions"
        let body = body(request, endpoint: endpoint, model: model, withTools: withTools)
        let tools = withTools ? request.tools : []
        if !request.stream {
            let doc = try ctx.postJSON(providerLabel: endpoint.label, url: url, headers: headers(endpoint), body: body)
            try emitWhole(ctx, doc, endpoint: endpoint, tools: tools)
            return
        }
        let stream = OpenAIStream(ctx: ctx, label: endpoint.label, tools: tools, parseText: endpoint.parseTextToolCalls)
        var sse = SSEParser()
        let end = try ctx.postStreaming(providerLabel: endpoint.label, url: url, headers: headers(endpoint), body: body)
        {
            chunk in
            sse.feed(chunk) { stream.handle($0) }
        }
        if end == .complete { _ = sse.finish { stream.handle($0) } }
        try stream.finish()
    }

    /// Emits a non-streamed completion.
    private static func emitWhole(
        _ ctx: CallContext,
        _ doc: JSON,
        endpoint: OpenAIEndpoint,
        tools: [ToolSpec]
    )
        throws(ProviderFailure)
    {
        if let e = doc["error"] { throw .io("\(endpoint.label): " + (e["message"]?.string ?? e.encoded)) }
        guard let choice = doc["choices"]?.array?.first else {
            throw .io("\(endpoint.label) sent a completion without choices")
        }
        let message = choice["message"] ?? .null
        var streamer = ToolCallStreamer(tools: endpoint.parseTextToolCalls ? tools : [])
        var calls = parseToolCalls(message["tool_calls"]?.array ?? [])
        let content = message["content"]?.string ?? ""
        if calls.isEmpty {
            ctx.events.delta(streamer.append(content) + streamer.finish())
            calls = streamer.calls.enumerated().map { PendingCall.fromText($0.offset, $0.element) }
        } else {
            ctx.events.delta(content)
        }
        for call in calls { call.emit(ctx.events) }
        var reason = mapFinishReason(choice["finish_reason"]?.string)
        if !calls.isEmpty { reason = "tool_use" }
        ctx.events.done(
            stopReason: reason,
            inputTokens: doc["usage"]?["prompt_tokens"]?.int.map { Int($0) },
            outputTokens: doc["usage"]?["completion_tokens"]?.int.map { Int($0) },
            extra: ["model": .string(doc["model"]?.string ?? "")]
        )
    }

    static func parseToolCalls(_ list: [JSON]) -> [PendingCall] {
        list.enumerated().map { index, c in
            var p = PendingCall(index: index)
            p.id = c["id"]?.string ?? ""
            p.name = c["function"]?["name"]?.string ?? c["name"]?.string ?? ""
            let a = c["function"]?["arguments"] ?? c["arguments"] ?? .string("")
            p.argumentText = a.string ?? a.encoded
            return p
        }
    }

    static func mapFinishReason(_ reason: String?) -> String {
        switch reason {
        case "tool_calls", "function_call": return "tool_use"
        case "length": return "max_tokens"
        case "content_filter": return "content_filter"
        default: return "end_turn"
        }
    }
}

/// A tool call being assembled from streamed fragments.
struct PendingCall {
    var index: Int
    var id = ""
    var name = ""
    var argumentText = ""
    /// Set when the call was parsed from text (already a JSON value).
    var parsedArguments: JSON?

    static func fromText(_ index: Int, _ found: (name: String, arguments: JSON)) -> PendingCall {
        PendingCall(index: index, id: "call_\(index)", name: found.name, parsedArguments: found.arguments)
    }

    /// Emits the call; arguments that are not a JSON object are passed as `{}` with `arguments_error` and the raw
    /// text, so the host can tell the model what went wrong instead of failing the turn.
    @discardableResult
    func emit(_ events: EventEmitter) -> Bool {
        let callID = id.isEmpty ? "call_\(index)" : id
        if let parsed = parsedArguments {
            return events.toolCall(ToolCall(id: callID, name: name, arguments: parsed))
        }
        let text = argumentText.trimmingSpaces
        if text.isEmpty { return events.toolCall(ToolCall(id: callID, name: name, arguments: .object([:]))) }
        do {
            let value = try JSON(parsing: text)
            if case .object = value { return events.toolCall(ToolCall(id: callID, name: name, arguments: value)) }
            return events.toolCall(
                ToolCall(id: callID, name: name, arguments: .object([:])),
                extra: [
                    "arguments_error": .string("the arguments are a JSON \(value.typeName), not an object"),
                    "raw_arguments": .string(CallContext.clip(text, 2000)),
                ]
            )
        } catch {
            if let repaired = ToolCallText.parseCandidate(text, closeBrackets: false), case .object = repaired {
                return events.toolCall(ToolCall(id: callID, name: name, arguments: repaired))
            }
            return events.toolCall(
                ToolCall(id: callID, name: name, arguments: .object([:])),
                extra: [
                    "arguments_error": .string("the arguments are not valid JSON (\(error))"),
                    "raw_arguments": .string(CallContext.clip(text, 2000)),
                ]
            )
        }
    }
}

/// The state of one streamed chat completion.
final class OpenAIStream {
    let ctx: CallContext
    let label: String
    var streamer: ToolCallStreamer
    var pending: [Int: PendingCall] = [:]
    var finishReason: String?
    var usage: (Int?, Int?) = (nil, nil)
    var model = ""
    var sawDone = false
    var failure: ProviderFailure?
    var invalidEvents = 0

    init(ctx: CallContext, label: String, tools: [ToolSpec], parseText: Bool) {
        self.ctx = ctx
        self.label = label
        streamer = ToolCallStreamer(tools: parseText ? tools : [])
    }

    /// Handles one SSE event; false stops reading.
    func handle(_ event: SSEEvent) -> Bool {
        if event.data == "[DONE]" {
            sawDone = true
            return false
        }
        guard let chunk = try? JSON(parsing: event.data) else {
            invalidEvents += 1
            if invalidEvents > 3 {
                failure = .io("\(label) sent a stream that is not JSON: \(CallContext.clip(event.data, 120))")
                return false
            }
            return true
        }
        if let e = chunk["error"] {
            failure = .io("\(label) reported an error mid-stream: " + (e["message"]?.string ?? e.string ?? e.encoded))
            return false
        }
        if let m = chunk["model"]?.string { model = m }
        if let u = chunk["usage"], case .object = u {
            usage = (u["prompt_tokens"]?.int.map { Int($0) }, u["completion_tokens"]?.int.map { Int($0) })
        }
        guard let choice = chunk["choices"]?.array?.first else { return !ctx.events.stopped }
        let delta = choice["delta"] ?? choice["message"] ?? .null
        if let reasoning = delta["reasoning_content"]?.string, !reasoning.isEmpty {
            ctx.events.emit(["type": "reasoning", "text": .string(reasoning)])
        }
        if let text = delta["content"]?.string, !text.isEmpty {
            ctx.events.delta(streamer.append(text))
        }
        for fragment in delta["tool_calls"]?.array ?? [] {
            let index = Int(fragment["index"]?.int ?? Int64(pending.count))
            var call = pending[index] ?? PendingCall(index: index)
            if let id = fragment["id"]?.string, !id.isEmpty { call.id = id }
            if let name = fragment["function"]?["name"]?.string, !name.isEmpty { call.name += name }
            if let args = fragment["function"]?["arguments"] {
                call.argumentText += args.string ?? args.encoded
            }
            pending[index] = call
        }
        if let reason = choice["finish_reason"]?.string { finishReason = reason }
        return !ctx.events.stopped
    }

    /// After the body ended: emits the held text, the tool calls and `done`, or throws what went wrong.
    func finish() throws(ProviderFailure) {
        if let failure { throw failure }
        if ctx.events.stopped { throw .cancelled() }
        guard sawDone || finishReason != nil else {
            ctx.events.delta(streamer.finish())
            throw .io("\(label): the stream ended before the response was complete (connection cut)")
        }
        var calls = pending.keys.sorted().compactMap { pending[$0] }.filter { !$0.name.isEmpty }
        let rest = streamer.finish()
        if calls.isEmpty {
            calls = streamer.calls.enumerated().map { PendingCall.fromText($0.offset, $0.element) }
        }
        ctx.events.delta(rest)
        for call in calls where !call.emit(ctx.events) { throw .cancelled() }
        var reason = OpenAIProvider.mapFinishReason(finishReason)
        if !calls.isEmpty { reason = "tool_use" }
        ctx.events.done(
            stopReason: reason,
            inputTokens: usage.0,
            outputTokens: usage.1,
            extra: ["model": .string(model)]
        )
        if ctx.events.stopped { throw .cancelled() }
    }
}

extension String {
    var trimmingTrailingSlashes: String {
        var s = self
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
