// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The embedded local default (`local/<model>`): the host runs llama.cpp's llama-server for the model (extension
// lgpt.host.local-model/1); this provider speaks the OpenAI protocol to it through host->http, with the tolerant
// tool-call parser on, and restarts the server once when it stopped answering.

import CLocalGPTPlugin
import Glibc

enum LocalProvider {
    /// Appended to the system prompt when tools are offered. Small models follow examples far better than the
    /// chat template's tool preamble alone: on the 24-prompt eval (scripts/eval-tools.sh) the 0.5B model scored
    /// 19/24 with the template only, 16/24 with a one-line "reply with only JSON" rule (it then wrote JSON for
    /// chat too), and 22/24 with these examples. An example is included only for a tool the request offers.
    static func toolGuide(for tools: [ToolSpec]) -> String {
        let names = Set(tools.map(\.name))
        var lines = [
            "Only call a tool when the request needs the user's files, the shell, the web, the clock, exact "
                + "arithmetic or the user's memory. Otherwise answer in plain text.",
            "Examples:",
            "User: hello -> Hello! How can I help?",
            "User: what is the capital of Italy? -> Rome.",
            "User: write a JS function that adds two numbers -> function add(a, b) { return a + b; }",
        ]
        for (tool, example) in toolExamples where names.contains(tool) { lines.append(example) }
        return lines.joined(separator: "\n")
    }

    /// One example call per well-known bundled tool (none of them is an eval prompt).
    static let toolExamples: [(String, String)] = [
        (
            "memory_search",
            #"User: what did I tell you about my car? -> {"name": "memory_search", "arguments": {"query": "car"}}"#
        ),
        (
            "memory_save",
            #"User: remember that I like tea -> {"name": "memory_save", "arguments": {"text": "The user likes tea."}}"#
        ),
        ("bash", #"User: show the files in src -> {"name": "bash", "arguments": {"command": "ls src"}}"#),
        (
            "edit_file",
            #"User: in a.txt change red to blue -> {"name": "edit_file", "arguments": {"path": "a.txt", "old_string": "red", "new_string": "blue"}}"#
        ),
        ("calculate", #"User: what is 12.5 * 7? -> {"name": "calculate", "arguments": {"expression": "12.5 * 7"}}"#),
    ]

    static func generate(_ ctx: CallContext, _ request: GenerateRequest) throws(ProviderFailure) {
        guard let ext = ctx.host.localModelExtension() else {
            throw .denied("this host does not run local models (extension \(LGPT_HOST_LOCAL_MODEL_V1) is missing)")
        }
        var request = request
        if request.temperature == nil {
            // Greedy by default: the tool-calling eval (22/24) was measured at 0; at llama-server's own default
            // (0.8) the same memory question produced a different, often useless, search query on each run.
            request.temperature = ctx.host.config("providers.local.temperature")?.double ?? 0
        }
        if request.maxTokens == nil {
            request.maxTokens = Int(ctx.host.config("providers.local.max_tokens")?.int ?? 2048)
        }
        let rounds = Int(ctx.host.config("providers.local.tool_rounds")?.int ?? 1)
        request = answerRound(request, toolRounds: rounds)
        let model = request.modelName
        var server = try ensure(ctx, ext, model: model, restart: false)
        do {
            try OpenAIProvider.generate(
                ctx,
                request,
                endpoint: endpoint(ctx, server, tools: request.tools),
                model: model
            )
        } catch let failure
            where failure.status == LGPT_ERR_IO && failure.httpStatus == nil && !ctx.events.emittedAnything
        {
            // The server died or stopped answering: have the host check and restart it, then try once more.
            ctx.host.log(LGPT_LOG_WARN, "the local model server did not answer; asking the host to restart it")
            server = try ensure(ctx, ext, model: model, restart: true)
            try OpenAIProvider.generate(
                ctx,
                request,
                endpoint: endpoint(ctx, server, tools: request.tools),
                model: model
            )
        }
    }

    /// Small local models cannot answer once a tool result is in the conversation while tools are still on offer:
    /// measured on qwen2.5-coder-0.5b, with the result as a `tool` message (OpenAI form, or as a user message)
    /// and tools offered, 3 of 3 probes called a tool again (the same search, or one built from the result's
    /// text) instead of answering. With the results and the question folded into one user message and no tools,
    /// 6 of 6 probes answered from the result (birthday, time, preferred editor, a saved fact, arithmetic, a
    /// file listing); of five wordings tried, this one was the only one right on all six. So after `toolRounds`
    /// rounds of tool calls in the current turn (`providers.local.tool_rounds`, default 1; 0 keeps the request as
    /// is), the request is rewritten into that form, without tools. Earlier turns keep their text but lose their
    /// tool traffic, which the small model otherwise copies into later answers.
    static func answerRound(_ request: GenerateRequest, toolRounds: Int) -> GenerateRequest {
        guard toolRounds > 0,
            let lastUser = request.messages.lastIndex(where: { $0.role == .user })
        else { return request }
        var folded = request
        folded.messages = request.messages[..<lastUser].compactMap { m -> Message? in
            switch m.role {
            case .tool: return nil
            case .assistant where !m.toolCalls.isEmpty:
                return m.content.isEmpty ? nil : Message(role: .assistant, content: m.content)
            default: return m
            }
        }
        let turn = request.messages[(lastUser + 1)...]
        let rounds = turn.filter { $0.role == .assistant && !$0.toolCalls.isEmpty }.count
        guard rounds >= toolRounds, turn.contains(where: { $0.role == .tool }) else {
            folded.messages += request.messages[lastUser...]
            return folded
        }
        var results: [String: Message] = [:]
        for m in turn where m.role == .tool { if let id = m.toolCallID { results[id] = m } }
        var text = "Information from tools:\n"
        for m in turn where m.role == .assistant {
            for call in m.toolCalls {
                let result = results[call.id]
                let outcome = result == nil ? " (no result)" : result!.isError ? " failed" : ""
                text +=
                    "- \(call.name) \(call.arguments.encoded)\(outcome): \(plainSearchResults(result?.content ?? ""))\n"
            }
        }
        text += "\nUsing this information, reply to my message: \"\(request.messages[lastUser].content)\""
        folded.messages.append(Message(role: .user, content: text))
        // The answer round offers no tools, so the agent's long system prompt (tool and skill guidance, the
        // workspace files) only distracts the small model: with it, the same six probes got 3 of 6 right and
        // the model repeated the user's message back. Its first paragraph (who the assistant is) stays.
        folded.messages = folded.messages.map { m in
            guard m.role == .system, let cut = m.content.firstRange(of: "\n\n") else { return m }
            return Message(role: .system, content: String(m.content[..<cut.lowerBound]))
        }
        folded.tools = []
        folded.toolChoice = nil
        return folded
    }

    /// Search results (a JSON `{"results": [{"file", "line_start", "line_end", "snippet"}]}`, as memory_search
    /// returns them) as one plain line per hit, inside the same `<tool_output>` boundary: the 0.5B model lost
    /// the fact in the JSON and answered "I told you before." Anything else is returned unchanged.
    static func plainSearchResults(_ content: String) -> String {
        let open = "<tool_output>\n"
        let close = "\n</tool_output>"
        guard let start = content.firstRange(of: open), let end = content.firstRange(of: close),
            start.upperBound <= end.lowerBound
        else { return content }
        var body = content[start.upperBound..<end.lowerBound]
        var header = ""
        if body.hasPrefix("<!-- tool:"), let newline = body.firstIndex(of: "\n") {
            header = String(body[...newline])
            body = body[body.index(after: newline)...]
        }
        guard let doc = try? JSON(parsing: String(body)), let results = doc["results"]?.array else { return content }
        var lines: [String] = []
        for r in results {
            guard let snippet = r["snippet"]?.string else { return content }
            let file = r["file"]?.string ?? "?"
            let from = r["line_start"]?.int.map(String.init) ?? "?"
            let words = snippet.split(whereSeparator: { $0 == "\n" || $0 == "\t" || $0 == " " })
            lines.append("\(file) line \(from): \(words.joined(separator: " "))")
        }
        if lines.isEmpty { lines = ["(no results)"] }
        return String(content[..<start.upperBound]) + header + lines.joined(separator: "\n")
            + String(content[end.lowerBound...])
    }

    private static func endpoint(_ ctx: CallContext, _ baseURL: String, tools: [ToolSpec]) -> OpenAIEndpoint {
        var e = OpenAIEndpoint(label: "the local model", baseURL: baseURL.trimmingTrailingSlashes + "/v1")
        e.parseTextToolCalls = true
        e.extraBody = ["cache_prompt": true]
        if ctx.host.config("providers.local.tool_instruction")?.bool ?? true {
            e.toolInstruction = toolGuide(for: tools)
        }
        return e
    }

    /// Asks the host for the model's server and returns its base URL.
    private static func ensure(
        _ ctx: CallContext,
        _ ext: UnsafePointer<lgpt_host_local_model_v1>,
        model: String,
        restart: Bool
    ) throws(ProviderFailure) -> String {
        guard !model.isEmpty else { throw .invalid("name the local model: local/<model>") }
        let (sink, bytes) = ClosureSink.collecting(limit: 1 << 20)
        let request: JSON = ["model": .string(model), "restart": .bool(restart)]
        let text = request.encoded
        let status = text.withCString { r in
            sink.withSink { ext.pointee.ensure(ctx.host.context, ctx.call, r, strlen(r), $0) }
        }
        let reply = try? JSON(parsing: bytes())
        guard status == LGPT_OK, let url = reply?["base_url"]?.string else {
            let message = reply?["error"]?["message"]?.string ?? "the local model server could not be started"
            throw .fromHost(status == LGPT_OK ? LGPT_ERR_IO : status, message)
        }
        return url
    }
}
