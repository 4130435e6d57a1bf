// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// Ollama (`POST {endpoint}/api/chat`): NDJSON streaming, tools, and a model that rejects tools (HTTP 400 "does
// not support tools") retried once without them.

import CLocalGPTPlugin

enum OllamaProvider {
    static func generate(_ ctx: CallContext, _ request: GenerateRequest) throws(ProviderFailure) {
        let endpoint = ctx.host.configString("providers.ollama.endpoint") ?? "http://localhost:11434"
        var model = request.modelName
        if model.isEmpty { model = ctx.host.configString("providers.ollama.model") ?? "llama3" }
        do {
            try run(ctx, request, endpoint: endpoint, model: model, withTools: true)
        } catch let failure
            where failure.httpStatus == 400 && !request.tools.isEmpty && !ctx.events.emittedAnything
            && failure.message.lowercased().contains("tool")
        {
            ctx.host.log(LGPT_LOG_WARN, "Ollama model \(model) does not support tools; retrying without them")
            try run(ctx, request, endpoint: endpoint, model: model, withTools: false)
        }
    }

    static func body(_ request: GenerateRequest, model: String, withTools: Bool) -> JSON {
        var messages: [JSON] = []
        for m in request.messages {
            switch m.role {
            case .system, .user:
                messages.append(["role": .string(m.role.rawValue), "content": .string(m.content)])
            case .assistant:
                var o: [String: JSON] = ["role": "assistant", "content": .string(m.content)]
                if !m.toolCalls.isEmpty {
                    o["tool_calls"] = .array(
                        m.toolCalls.map { ["function": ["name": .string($0.name), "arguments": $0.arguments]] }
                    )
                }
                messages.append(.object(o))
            case .tool:
                var o: [String: JSON] = ["role": "tool", "content": .string(m.content)]
                if let name = m.toolName { o["tool_name"] = .string(name) }
                messages.append(.object(o))
            }
        }
        var body: [String: JSON] = [
            "model": .string(model), "messages": .array(messages), "stream": .bool(request.stream),
        ]
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
        }
        var options: [String: JSON] = [:]
        if let t = request.temperature { options["temperature"] = .double(t) }
        if let m = request.maxTokens { options["num_predict"] = .int(Int64(m)) }
        if !options.isEmpty { body["options"] = .object(options) }
        return .object(body)
    }

    private static func run(
        _ ctx: CallContext,
        _ request: GenerateRequest,
        endpoint: String,
        model: String,
        withTools: Bool
    )
        throws(ProviderFailure)
    {
        let url = endpoint.trimmingTrailingSlashes + "/api/chat"
        let stream = OllamaStream(ctx: ctx)
        var lines = LineSplitter()
        let end = try ctx.postStreaming(
            providerLabel: "Ollama",
            url: url,
            headers: [:],
            body: body(request, model: model, withTools: withTools)
        ) { chunk in
            lines.feed(chunk) { stream.handle($0) }
        }
        if end == .complete, let rest = lines.finish() { _ = stream.handle(rest) }
        try stream.finish()
    }
}

/// The state of one NDJSON chat stream (also a single non-streamed object: the same shape with done true).
final class OllamaStream {
    let ctx: CallContext
    var calls: [PendingCall] = []
    var done = false
    var doneReason = "stop"
    var inputTokens: Int?
    var outputTokens: Int?
    var model = ""
    var failure: ProviderFailure?

    init(ctx: CallContext) {
        self.ctx = ctx
    }

    func handle(_ line: String) -> Bool {
        let trimmed = line.trimmingSpaces
        guard !trimmed.isEmpty else { return true }
        guard let doc = try? JSON(parsing: trimmed) else {
            failure = .io("Ollama sent a line that is not JSON: \(CallContext.clip(trimmed, 120))")
            return false
        }
        if let e = doc["error"] {
            failure = .io("Ollama reported an error: " + (e.string ?? e["message"]?.string ?? e.encoded))
            return false
        }
        if let m = doc["model"]?.string { model = m }
        let message = doc["message"] ?? .null
        if let text = message["content"]?.string { ctx.events.delta(text) }
        if let thinking = message["thinking"]?.string, !thinking.isEmpty {
            ctx.events.emit(["type": "reasoning", "text": .string(thinking)])
        }
        for c in message["tool_calls"]?.array ?? [] {
            var call = PendingCall(index: calls.count)
            call.id = c["id"]?.string ?? "call_\(calls.count)"
            call.name = c["function"]?["name"]?.string ?? ""
            let a = c["function"]?["arguments"] ?? .object([:])
            if case .string(let s) = a { call.argumentText = s } else { call.parsedArguments = a }
            calls.append(call)
        }
        if doc["done"]?.bool == true {
            done = true
            doneReason = doc["done_reason"]?.string ?? "stop"
            inputTokens = doc["prompt_eval_count"]?.int.map { Int($0) }
            outputTokens = doc["eval_count"]?.int.map { Int($0) }
            return false
        }
        return !ctx.events.stopped
    }

    func finish() throws(ProviderFailure) {
        if let failure { throw failure }
        if ctx.events.stopped { throw .cancelled() }
        guard done else { throw .io("Ollama: the stream ended before the response was complete (connection cut)") }
        for call in calls where !call.name.isEmpty {
            if !call.emit(ctx.events) { throw .cancelled() }
        }
        let reason = !calls.isEmpty ? "tool_use" : (doneReason == "length" ? "max_tokens" : "end_turn")
        ctx.events.done(
            stopReason: reason,
            inputTokens: inputTokens,
            outputTokens: outputTokens,
            extra: ["model": .string(model)]
        )
        if ctx.events.stopped { throw .cancelled() }
    }
}
