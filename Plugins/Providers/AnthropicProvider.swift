// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// Anthropic Messages (`POST {base}/v1/messages`): system prompt, tool_use / tool_result blocks, SSE streaming with
// text deltas and tool input assembled from `partial_json` fragments per content block.

import CLocalGPTPlugin

enum AnthropicProvider {
    static let defaultMaxTokens = 4096

    /// - Throws: ``ProviderFailure`` (`not_found`) naming the config section to add when no key is configured.
    static func generate(_ ctx: CallContext, _ request: GenerateRequest) throws(ProviderFailure) {
        let host = ctx.host
        guard let key = host.configString("providers.anthropic.api_key") ?? host.secret("ANTHROPIC_API_KEY") else {
            throw .notFound(
                "Anthropic is not configured: set ANTHROPIC_API_KEY in the environment, or add to config.toml:\n"
                    + "[providers.anthropic]\napi_key = \"${ANTHROPIC_API_KEY}\""
            )
        }
        let base = host.configString("providers.anthropic.base_url") ?? "https://api.anthropic.com"
        let url = base.trimmingTrailingSlashes + "/v1/messages"
        let headers = [
            "x-api-key": key, "anthropic-version": "2023-06-01", "Accept": "text/event-stream, application/json",
        ]
        let body = body(request, model: request.modelName)
        if !request.stream {
            let doc = try ctx.postJSON(providerLabel: "Anthropic", url: url, headers: headers, body: body)
            try emitWhole(ctx, doc)
            return
        }
        let stream = AnthropicStream(ctx: ctx)
        var sse = SSEParser()
        let end = try ctx.postStreaming(providerLabel: "Anthropic", url: url, headers: headers, body: body) { chunk in
            sse.feed(chunk) { stream.handle($0) }
        }
        if end == .complete { _ = sse.finish { stream.handle($0) } }
        try stream.finish()
    }

    /// The Messages body: every system message joined into `system`; consecutive messages of one role merged
    /// (tool results travel as `tool_result` blocks in ONE user message, first in it, in call order).
    static func body(_ request: GenerateRequest, model: String) -> JSON {
        var messages: [(role: String, blocks: [JSON])] = []
        func add(_ role: String, _ blocks: [JSON]) {
            guard !blocks.isEmpty else { return }
            if let last = messages.last, last.role == role {
                var merged = last.blocks
                // tool_result blocks must precede other content in a user message.
                let results = blocks.filter { $0["type"]?.string == "tool_result" }
                let others = blocks.filter { $0["type"]?.string != "tool_result" }
                let firstNonResult = merged.firstIndex { $0["type"]?.string != "tool_result" } ?? merged.count
                merged.insert(contentsOf: results, at: firstNonResult)
                merged += others
                messages[messages.count - 1].blocks = merged
            } else {
                messages.append((role, blocks))
            }
        }
        for m in request.messages {
            switch m.role {
            case .system:
                continue
            case .user:
                add("user", m.content.isEmpty ? [] : [["type": "text", "text": .string(m.content)]])
            case .assistant:
                var blocks: [JSON] = []
                if !m.content.isEmpty { blocks.append(["type": "text", "text": .string(m.content)]) }
                for c in m.toolCalls {
                    blocks.append([
                        "type": "tool_use", "id": .string(c.id), "name": .string(c.name),
                        "input": c.arguments.object == nil ? .object([:]) : c.arguments,
                    ])
                }
                add("assistant", blocks)
            case .tool:
                var block: [String: JSON] = [
                    "type": "tool_result", "tool_use_id": .string(m.toolCallID ?? ""), "content": .string(m.content),
                ]
                if m.isError { block["is_error"] = true }
                add("user", [.object(block)])
            }
        }
        var body: [String: JSON] = [
            "model": .string(model),
            "max_tokens": .int(Int64(request.maxTokens ?? defaultMaxTokens)),
            "messages": .array(messages.map { ["role": .string($0.role), "content": .array($0.blocks)] }),
            "stream": .bool(request.stream),
        ]
        let system = request.systemPrompt
        if !system.isEmpty { body["system"] = .string(system) }
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map {
                    ["name": .string($0.name), "description": .string($0.description), "input_schema": $0.parameters]
                }
            )
            switch request.toolChoice {
            case "required"?: body["tool_choice"] = ["type": "any"]
            case "none"?: body["tool_choice"] = ["type": "none"]
            default: break
            }
        }
        if let t = request.temperature { body["temperature"] = .double(t) }
        return .object(body)
    }

    private static func emitWhole(_ ctx: CallContext, _ doc: JSON) throws(ProviderFailure) {
        if doc["type"]?.string == "error" {
            throw .io("Anthropic: " + (doc["error"]?["message"]?.string ?? "error"))
        }
        var index = 0
        for block in doc["content"]?.array ?? [] {
            switch block["type"]?.string {
            case "text": ctx.events.delta(block["text"]?.string ?? "")
            case "tool_use":
                ctx.events.toolCall(
                    ToolCall(
                        id: block["id"]?.string ?? "toolu_\(index)",
                        name: block["name"]?.string ?? "",
                        arguments: block["input"] ?? .object([:])
                    )
                )
                index += 1
            default: break
            }
        }
        ctx.events.done(
            stopReason: doc["stop_reason"]?.string ?? "end_turn",
            inputTokens: doc["usage"]?["input_tokens"]?.int.map { Int($0) },
            outputTokens: doc["usage"]?["output_tokens"]?.int.map { Int($0) },
            extra: ["model": .string(doc["model"]?.string ?? "")]
        )
    }
}

/// The state of one streamed Messages response.
final class AnthropicStream {
    let ctx: CallContext
    /// tool_use blocks by content-block index.
    var blocks: [Int: PendingCall] = [:]
    var order: [Int] = []
    var stopReason: String?
    var inputTokens: Int?
    var outputTokens: Int?
    var model = ""
    var sawStop = false
    var failure: ProviderFailure?
    var emittedCalls = 0

    init(ctx: CallContext) {
        self.ctx = ctx
    }

    func handle(_ event: SSEEvent) -> Bool {
        guard let doc = try? JSON(parsing: event.data) else {
            failure = .io("Anthropic sent an event that is not JSON: \(CallContext.clip(event.data, 120))")
            return false
        }
        switch doc["type"]?.string ?? event.event ?? "" {
        case "message_start":
            let message = doc["message"] ?? .null
            model = message["model"]?.string ?? ""
            inputTokens = message["usage"]?["input_tokens"]?.int.map { Int($0) }
            outputTokens = message["usage"]?["output_tokens"]?.int.map { Int($0) }
        case "content_block_start":
            let index = Int(doc["index"]?.int ?? 0)
            let block = doc["content_block"] ?? .null
            switch block["type"]?.string {
            case "tool_use":
                var call = PendingCall(index: index)
                call.id = block["id"]?.string ?? ""
                call.name = block["name"]?.string ?? ""
                blocks[index] = call
                order.append(index)
            case "text":
                ctx.events.delta(block["text"]?.string ?? "")
            default: break
            }
        case "content_block_delta":
            let index = Int(doc["index"]?.int ?? 0)
            let delta = doc["delta"] ?? .null
            switch delta["type"]?.string {
            case "text_delta": ctx.events.delta(delta["text"]?.string ?? "")
            case "input_json_delta": blocks[index]?.argumentText += delta["partial_json"]?.string ?? ""
            case "thinking_delta":
                if let t = delta["thinking"]?.string { ctx.events.emit(["type": "reasoning", "text": .string(t)]) }
            default: break
            }
        case "content_block_stop":
            // A tool_use block is complete: its input can be parsed and the call emitted now.
            let index = Int(doc["index"]?.int ?? 0)
            if let call = blocks.removeValue(forKey: index) {
                var c = call
                c.index = emittedCalls
                emittedCalls += 1
                if !c.emit(ctx.events) { return false }
            }
        case "message_delta":
            if let r = doc["delta"]?["stop_reason"]?.string { stopReason = r }
            if let o = doc["usage"]?["output_tokens"]?.int { outputTokens = Int(o) }
            if let i = doc["usage"]?["input_tokens"]?.int { inputTokens = Int(i) }
        case "message_stop":
            sawStop = true
            return false
        case "error":
            let e = doc["error"] ?? .null
            let message = e["message"]?.string ?? "error"
            var f: ProviderFailure =
                e["type"]?.string == "rate_limit_error"
                ? ProviderFailure(status: LGPT_ERR_RATE_LIMITED, code: "rate_limited", message: "")
                : .io("")
            f.message = "Anthropic reported an error mid-stream (\(e["type"]?.string ?? "error")): \(message)"
            failure = f
            return false
        default:
            break  // ping and future events
        }
        return !ctx.events.stopped
    }

    func finish() throws(ProviderFailure) {
        if let failure { throw failure }
        if ctx.events.stopped { throw .cancelled() }
        guard sawStop || stopReason != nil else {
            throw .io("Anthropic: the stream ended before the response was complete (connection cut)")
        }
        // Blocks that never saw content_block_stop (a server that skips it): emit them in order.
        for index in order {
            if let call = blocks.removeValue(forKey: index) {
                var c = call
                c.index = emittedCalls
                emittedCalls += 1
                if !c.emit(ctx.events) { throw .cancelled() }
            }
        }
        ctx.events.done(
            stopReason: stopReason ?? "end_turn",
            inputTokens: inputTokens,
            outputTokens: outputTokens,
            extra: ["model": .string(model)]
        )
        if ctx.events.stopped { throw .cancelled() }
    }
}
