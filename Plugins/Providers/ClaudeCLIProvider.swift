// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// Claude CLI (`claude-cli/<model>`): drives Claude Code's `claude -p` through the host's sandboxed exec. The
// conversation lives in Claude Code's own session: `--session-id <uuid>` on first use, `--resume <uuid>` later,
// and only the newest user message is sent. The stream-json output is parsed into deltas, progress lines and a
// final `done`. LocalGPT's tools are not offered (Claude Code uses its own).

import CLocalGPTPlugin

enum ClaudeCLIProvider {
    static func generate(_ ctx: CallContext, _ request: GenerateRequest) throws(ProviderFailure) {
        guard let prompt = request.messages.last(where: { $0.role == .user })?.content, !prompt.isEmpty else {
            throw .invalid("the Claude CLI needs a user message to send")
        }
        var model = request.modelName
        if model.isEmpty { model = ctx.host.configString("providers.claude_cli.model") ?? "opus" }
        let sessionID =
            request.providerSession ?? request.sessionID.map(derivedUUID) ?? randomUUID()
        // A conversation that already has an assistant turn continues the CLI session.
        let resume = request.providerSession != nil || request.messages.contains { $0.role == .assistant }
        var result = try run(ctx, request, prompt: prompt, model: model, sessionID: sessionID, resume: resume)
        if resume, result.exitCode != 0, result.stderr.contains("No conversation found") {
            ctx.host.log(LGPT_LOG_INFO, "Claude CLI session not found; starting a new one")
            result = try run(ctx, request, prompt: prompt, model: model, sessionID: sessionID, resume: false)
        }
        try emit(ctx, result, sessionID: sessionID)
    }

    struct Result {
        var exitCode: Int
        var stdout: String
        var stderr: String
        var timedOut: Bool
    }

    static func arguments(prompt: String, model: String, system: String, sessionID: String, resume: Bool) -> [String] {
        var argv = [
            "claude", "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages",
            "--dangerously-skip-permissions",
        ]
        if resume {
            argv += ["--resume", sessionID]
        } else {
            argv += ["--model", model, "--session-id", sessionID]
            if !system.isEmpty { argv += ["--system-prompt", system] }
        }
        argv.append(prompt)
        return argv
    }

    private static func run(
        _ ctx: CallContext,
        _ request: GenerateRequest,
        prompt: String,
        model: String,
        sessionID: String,
        resume: Bool
    ) throws(ProviderFailure) -> Result {
        var exec: [String: JSON] = [
            "argv": .array(
                arguments(
                    prompt: prompt,
                    model: model,
                    system: request.systemPrompt,
                    sessionID: sessionID,
                    resume: resume
                ).map(JSON.string)
            ),
            "timeout_ms": .int(ctx.host.config("providers.claude_cli.timeout_ms")?.int ?? 600_000),
        ]
        if let dir = ctx.host.configString("providers.claude_cli.config_dir") {
            exec["env"] = ["CLAUDE_CONFIG_DIR": .string(dir)]
        }
        let (status, reply) = ctx.host.exec(ctx.call, request: .object(exec))
        guard status == LGPT_OK, let reply else {
            let message = reply?["error"]?["message"]?.string ?? "exec failed"
            switch status {
            case LGPT_ERR_NOT_FOUND:
                throw .notFound(
                    "the Claude CLI (`claude`) is not installed or not on the PATH the host uses "
                        + "(/usr/local/bin:/usr/bin:/bin): install Claude Code, or choose another model"
                )
            case LGPT_ERR_PERMISSION_DENIED:
                throw .denied("running `claude` is not granted to this plugin: \(message)")
            default:
                throw .fromHost(status, "the Claude CLI could not run: \(message)")
            }
        }
        let result = Result(
            exitCode: Int(reply["exit_code"]?.int ?? -1),
            stdout: reply["stdout"]?.string ?? "",
            stderr: reply["stderr"]?.string ?? "",
            timedOut: reply["timed_out"]?.bool ?? false
        )
        if result.timedOut { throw .timeout("the Claude CLI did not finish in time") }
        return result
    }

    /// Parses stream-json (one JSON object per line) and emits the events.
    static func emit(_ ctx: CallContext, _ result: Result, sessionID: String) throws(ProviderFailure) {
        var streamedText = false
        var messageText = ""
        var finalText: String?
        var isError = false
        var usage: (Int?, Int?) = (nil, nil)
        var session = sessionID
        var model = ""
        var tools: [String: String] = [:]
        for line in result.stdout.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let doc = try? JSON(parsing: String(line)) else { continue }
            if let s = doc["session_id"]?.string ?? doc["sessionId"]?.string, !s.isEmpty { session = s }
            switch doc["type"]?.string {
            case "system" where doc["subtype"]?.string == "init":
                model = doc["model"]?.string ?? ""
                let count = doc["tools"]?.array?.count ?? 0
                ctx.events.emit(["type": "progress", "text": .string("[Model: \(model) | Tools: \(count)]")])
            case "stream_event":
                let event = doc["event"] ?? .null
                if event["type"]?.string == "content_block_delta", event["delta"]?["type"]?.string == "text_delta",
                    let t = event["delta"]?["text"]?.string
                {
                    streamedText = true
                    ctx.events.delta(t)
                }
            case "assistant":
                for block in doc["message"]?["content"]?.array ?? [] {
                    switch block["type"]?.string {
                    case "text":
                        let t = block["text"]?.string ?? ""
                        messageText += t
                        if !streamedText { ctx.events.delta(t) }
                    case "tool_use":
                        let name = block["name"]?.string ?? "tool"
                        if let id = block["id"]?.string { tools[id] = name }
                        let input = block["input"] ?? .null
                        let detail = input["command"]?.string ?? input["file_path"]?.string ?? input["pattern"]?.string
                        let label = detail.map { "[\(name): \(CallContext.clip($0, 120))]" } ?? "[\(name)]"
                        ctx.events.emit(["type": "progress", "text": .string(label)])
                    default: break
                    }
                }
            case "user":
                for block in doc["message"]?["content"]?.array ?? [] where block["type"]?.string == "tool_result" {
                    let failed = block["is_error"]?.bool ?? false
                    let name = tools[block["tool_use_id"]?.string ?? ""] ?? "tool"
                    ctx.events.emit(["type": "progress", "text": .string(" [\(name) \(failed ? "failed" : "done")]")])
                }
            case "result":
                finalText = doc["result"]?.string
                isError = doc["is_error"]?.bool ?? (doc["subtype"]?.string != "success")
                usage = (
                    doc["usage"]?["input_tokens"]?.int.map { Int($0) },
                    doc["usage"]?["output_tokens"]?.int.map { Int($0) }
                )
            default:
                break
            }
            if ctx.events.stopped { throw .cancelled() }
        }
        if finalText == nil && messageText.isEmpty {
            let detail = CallContext.clip(result.stderr.trimmingSpaces.isEmpty ? result.stdout : result.stderr, 400)
            throw .io("the Claude CLI exited with status \(result.exitCode) without an answer: \(detail)")
        }
        if isError { throw .io("the Claude CLI reported an error: \(CallContext.clip(finalText ?? messageText, 400))") }
        if !streamedText && messageText.isEmpty, let finalText { ctx.events.delta(finalText) }
        ctx.events.done(
            stopReason: "end_turn",
            inputTokens: usage.0,
            outputTokens: usage.1,
            extra: ["provider_session": .string(session), "model": .string(model)]
        )
        if ctx.events.stopped { throw .cancelled() }
    }

    /// A stable UUID for an agent session id (FNV-1a, two seeds), so a restarted host resumes the same CLI
    /// session without storing anything.
    static func derivedUUID(_ text: String) -> String {
        func fnv(_ seed: UInt64) -> UInt64 {
            var h = seed
            for b in text.utf8 {
                h ^= UInt64(b)
                h = h &* 0x100_0000_01b3
            }
            return h
        }
        return formatUUID(fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4))
    }

    static func randomUUID() -> String {
        var g = SystemRandomNumberGenerator()
        return formatUUID(g.next(), g.next())
    }

    private static func formatUUID(_ a: UInt64, _ b: UInt64) -> String {
        // Version 4 and variant bits, so the CLI accepts it as a UUID.
        let hi = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let lo = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, digits - s.count)) + s
        }
        let h = hex(hi, 16)
        let l = hex(lo, 16)
        return "\(h.prefix(8))-\(h.dropFirst(8).prefix(4))-\(h.suffix(4))-\(l.prefix(4))-\(l.suffix(12))"
    }
}
