//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin
import Foundation
import Logging
import Synchronization

/// Routes a generation to the provider plugin its model resolves to, with failover along
/// `agent.fallback_models` and a cooldown per provider (docs/PROVIDERS.md). This is the API the agent runtime calls.
///
/// ```swift
/// let router = ProviderRouter(host: host)
/// let result = try router.generate(model: nil, request: ["messages": [...], "tools": [...]]) { event in
///     if case .text(let t) = event { print(t, terminator: "") }
///     return true  // false cancels
/// }
/// ```
///
/// Thread-safe. `generate` blocks the calling thread (call it from a thread that may block).
public final class ProviderRouter: Sendable {
    public let host: PluginHost
    public let resolver: ModelResolver
    /// How long a provider that failed with a rate limit, a 5xx or a connection error is skipped.
    public let cooldownMilliseconds: Int
    let logger: Logger
    /// Hides keys that a server echoes into an error: the host's masker (its configuration's secrets and
    /// its plugins'), which learns those of a configuration given here.
    let secretMasker: SecretMasker

    private let cooldowns = Mutex<[String: Int64]>([:])

    /// - Parameters:
    ///   - host: loads the provider plugins and runs their `generate`.
    ///   - configuration: aliases, the default and fallback models, provider sections (default: the host's).
    ///   - cooldownMilliseconds: default `agent.failover_cooldown_ms`, else 60000.
    public init(host: PluginHost, configuration: Configuration? = nil, cooldownMilliseconds: Int? = nil) {
        self.host = host
        let config = configuration ?? host.configuration
        let localModels = host.localModels
        resolver = ModelResolver(configuration: config) { name in localModels.modelFile(named: name) != nil }
        self.cooldownMilliseconds =
            cooldownMilliseconds ?? Int(config.value(at: "agent.failover_cooldown_ms")?.intValue ?? 60_000)
        logger = host.logger
        secretMasker = host.secretMasker
        if let configuration { secretMasker.add(secrets: configuration.secretValues) }
    }

    /// Runs one generation.
    ///
    /// - Parameters:
    ///   - model: a model name (prefix, alias or bare name); nil for `agent.default_model`.
    ///   - request: `{"messages": [...], "tools": [...], "max_tokens": n, "temperature": t, "stream": true,
    ///     "session_id": "...", "provider_session": "..."}` (docs/PLUGIN-ABI.md §3); `model` is set here.
    ///   - callID: a call id from `host.makeCallID()`, so another thread can `host.cancel(callID:)`.
    ///   - useFallbacks: try `agent.fallback_models` when the model fails with a rate limit, 5xx, connection
    ///     error or timeout before any event reached the caller.
    ///   - onEvent: receives text deltas, tool calls, progress and failover notices as they arrive; return false to
    ///     cancel.
    /// - Returns: the whole answer, the tool calls (each checked against the request's tools), the usage and the
    ///   model that answered.
    /// - Throws: ``ProviderError``: unknown or unconfigured model (the message names the config section to add),
    ///   or the last model's failure.
    public func generate(
        model: String?,
        request: JSONValue,
        callID: UInt64? = nil,
        useFallbacks: Bool = true,
        onEvent: (ProviderEvent) -> Bool = { _ in true }
    ) throws(ProviderError) -> ProviderTurnResult {
        guard case .object(var base) = request else {
            throw ProviderError(code: .invalidRequest, message: "the request must be a JSON object")
        }
        if base["messages"]?.arrayValue == nil {
            throw ProviderError(code: .invalidRequest, message: "the request needs a \"messages\" array")
        }
        let primary = try resolver.resolve(model)
        var chain = [primary]
        if useFallbacks {
            for name in resolver.fallbackModels {
                guard let r = try? resolver.resolve(name) else {
                    logger.warning("agent.fallback_models: skipping unknown model \(name)")
                    continue
                }
                if !chain.contains(where: { $0.model == r.model }) { chain.append(r) }
            }
        }
        let tools = Self.toolSchemas(base["tools"])
        var failovers: [(model: String, reason: String)] = []
        var lastError: ProviderError? = nil
        let candidates = order(chain)
        for (index, candidate) in candidates.enumerated() {
            if index > 0 && !resolver.isConfigured(candidate.provider) {
                logger.info("failover: skipping \(candidate.model): \(candidate.provider) is not configured")
                continue
            }
            if let lastError, index > 0 {
                _ = onEvent(
                    .failover(from: failovers.last?.model ?? "", to: candidate.model, reason: lastError.message)
                )
            }
            base["model"] = .string(candidate.model)
            do {
                var result = try attempt(
                    candidate,
                    request: .object(base),
                    tools: tools,
                    callID: callID,
                    onEvent: onEvent
                )
                result.failovers = failovers
                clearCooldown(candidate.provider)
                return result
            } catch {
                guard error.allowsFailover else { throw error }
                startCooldown(candidate.provider, retryAfter: error.retryAfterMilliseconds)
                failovers.append((candidate.model, error.message))
                lastError = error
                logger.warning(
                    index < candidates.count - 1 ? "model failed; trying the next one" : "model failed",
                    metadata: ["model": "\(candidate.model)", "error.code": "\(error.code)"]
                )
            }
        }
        guard var error = lastError else {
            throw ProviderError(code: .unknownModel, message: "no model to try", model: model)
        }
        if failovers.count > 1 {
            error.message +=
                " (also failed: "
                + failovers.dropLast().map { "\($0.model): \($0.reason)" }
                .joined(separator: "; ") + ")"
        }
        throw error
    }

    /// The chain with providers in cooldown moved to the end (they are still tried when nothing else is left).
    private func order(_ chain: [ResolvedModel]) -> [ResolvedModel] {
        let now = monotonicMilliseconds()
        let cooling = cooldowns.withLock { c in Set(c.filter { $0.value > now }.keys) }
        guard !cooling.isEmpty else { return chain }
        let ready = chain.filter { !cooling.contains($0.provider) }
        return ready + chain.filter { cooling.contains($0.provider) }
    }

    /// Whether `provider` is cooling down after a failure.
    public func isCoolingDown(_ provider: String) -> Bool {
        let now = monotonicMilliseconds()
        return cooldowns.withLock { ($0[provider] ?? 0) > now }
    }

    private func startCooldown(_ provider: String, retryAfter: Int?) {
        let until = monotonicMilliseconds() + Int64(max(cooldownMilliseconds, min(retryAfter ?? 0, 600_000)))
        cooldowns.withLock { $0[provider] = until }
    }

    private func clearCooldown(_ provider: String) {
        _ = cooldowns.withLock { $0.removeValue(forKey: provider) }
    }

    // MARK: One attempt

    private func attempt(
        _ target: ResolvedModel,
        request: JSONValue,
        tools: [String: JSONSchema?],
        callID: UInt64?,
        onEvent: (ProviderEvent) -> Bool
    ) throws(ProviderError) -> ProviderTurnResult {
        guard resolver.isConfigured(target.provider) else {
            throw ProviderError(
                code: .notConfigured,
                message: "\(target.model): the \(target.provider) provider is not configured; add to "
                    + "\(host.paths.configFile):\n" + ModelResolver.configurationHint(target.provider),
                model: target.model
            )
        }
        guard let (plugin, _) = host.provider(forModel: target.model) else {
            throw ProviderError(
                code: .noPlugin,
                message: "no loaded plugin provides \(target.provider)/ models (see `localgpt plugin list`; the "
                    + "bundled org.localgpt.providers plugin serves "
                    + ModelResolver.knownProviders.map { $0 + "/" }
                    .joined(separator: ", ") + ")",
                model: target.model
            )
        }
        let started = DispatchTime.now().uptimeNanoseconds
        final class Collector: @unchecked Sendable {
            var text = ""
            var reasoning = ""
            var calls: [ProviderToolCall] = []
            var stopReason = "end_turn"
            var usage = ProviderUsage()
            var serverModel: String?
            var providerSession: String?
            var delivered = false
            var firstEvent: UInt64?
            var error: (code: String, message: String, status: Int32?, retryAfter: Int?)?
        }
        let c = Collector()
        // `onEvent` is not escaping, but PluginHost.generate takes an escaping closure that it only calls
        // during the call.
        let status: ToolCallError? = withoutActuallyEscaping(onEvent) { onEvent -> ToolCallError? in
            do throws(ToolCallError) {
                try host.generate(plugin: plugin, request: request.encoded(), callID: callID) { text in
                    if c.firstEvent == nil { c.firstEvent = DispatchTime.now().uptimeNanoseconds }
                    guard let event = try? JSONValue(parsing: text), let type = event["type"]?.stringValue else {
                        return true
                    }
                    switch type {
                    case "delta":
                        guard let t = event["text"]?.stringValue, !t.isEmpty else { return true }
                        c.text += t
                        c.delivered = true
                        return onEvent(.text(t))
                    case "reasoning":
                        guard let t = event["text"]?.stringValue, !t.isEmpty else { return true }
                        c.reasoning += t
                        return onEvent(.reasoning(t))
                    case "progress":
                        c.delivered = true
                        return onEvent(.progress(event["text"]?.stringValue ?? ""))
                    case "tool_call":
                        let call = Self.checkedToolCall(event, tools: tools)
                        c.calls.append(call)
                        c.delivered = true
                        return onEvent(.toolCall(call))
                    case "done":
                        c.stopReason = event["stop_reason"]?.stringValue ?? "end_turn"
                        c.usage = ProviderUsage(
                            inputTokens: event["usage"]?["input_tokens"]?.intValue.map { Int($0) },
                            outputTokens: event["usage"]?["output_tokens"]?.intValue.map { Int($0) }
                        )
                        if let m = event["model"]?.stringValue, !m.isEmpty { c.serverModel = m }
                        c.providerSession = event["provider_session"]?.stringValue
                        return true
                    case "error":
                        c.error = (
                            event["code"]?.stringValue ?? "failed",
                            event["message"]?.stringValue ?? "the provider failed",
                            event["status"]?.intValue.map { Int32($0) },
                            event["retry_after_ms"]?.intValue.map { Int($0) }
                        )
                        return true
                    default:
                        return true
                    }
                }
                return nil
            } catch {
                return error
            }
        }
        let total = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        if let failure = status {
            let pluginStatus = failure.status
            var code = ProviderError.code(forStatus: pluginStatus)
            if failure.code == .cancelled { code = .cancelled }
            // Defence in depth: plugins never put secrets in messages, and servers should not echo keys.
            let message = secretMasker.mask(c.error?.message ?? failure.message)
            throw ProviderError(
                code: code,
                message: "\(target.model): \(message)",
                model: target.model,
                status: pluginStatus,
                retryAfterMilliseconds: c.error?.retryAfter,
                partial: c.delivered
            )
        }
        return ProviderTurnResult(
            model: target.model,
            serverModel: c.serverModel,
            text: c.text,
            reasoning: c.reasoning,
            toolCalls: c.calls,
            stopReason: c.stopReason,
            usage: c.usage,
            providerSession: c.providerSession,
            failovers: [],
            firstEventMilliseconds: c.firstEvent.map { Double($0 - started) / 1e6 },
            totalMilliseconds: total
        )
    }

    // MARK: Tool calls

    /// Compiled argument schemas by tool name (nil when a schema does not compile: not checked).
    static func toolSchemas(_ tools: JSONValue?) -> [String: JSONSchema?] {
        var out: [String: JSONSchema?] = [:]
        for t in tools?.arrayValue ?? [] {
            let f = t["function"] ?? t
            guard let name = f["name"]?.stringValue else { continue }
            let schema = f["parameters"] ?? f["input_schema"]
            out[name] = schema.flatMap { try? JSONSchema($0) }
        }
        return out
    }

    /// A tool_call event as a ``ProviderToolCall``, with ``ProviderToolCall/problem`` set when the tool is unknown
    /// or the arguments are unusable.
    static func checkedToolCall(_ event: JSONValue, tools: [String: JSONSchema?]) -> ProviderToolCall {
        let name = event["name"]?.stringValue ?? ""
        var arguments = event["arguments"] ?? .object([:])
        if case .string(let s) = arguments { arguments = (try? JSONValue(parsing: s)) ?? .object([:]) }
        var call = ProviderToolCall(id: event["id"]?.stringValue ?? "", name: name, arguments: arguments)
        if let problem = event["arguments_error"]?.stringValue {
            call.problem = "the arguments for \(name) were unusable: \(problem)"
        } else if arguments.objectValue == nil {
            call.problem = "the arguments for \(name) must be a JSON object"
            call.arguments = .object([:])
        } else if let entry = tools[name] {
            if let schema = entry, let violation = schema.firstViolation(arguments) {
                call.problem = "the arguments for \(name) do not match its schema: \(violation)"
            }
        } else if !tools.isEmpty {
            call.problem =
                "there is no tool named \"\(name)\"; the tools are: " + tools.keys.sorted().joined(separator: ", ")
        } else {
            call.problem = "no tools were offered, but the model called \"\(name)\""
        }
        return call
    }
}
