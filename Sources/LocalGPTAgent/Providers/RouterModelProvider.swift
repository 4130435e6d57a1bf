//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore

/// The agent's ``ModelProvider`` over the providers issue's ``ProviderRouter``: aliases, bare-name rules,
/// `agent.fallback_models` failover and cooldowns, the local default model.
public struct RouterModelProvider: ModelProvider {
    public let router: ProviderRouter

    public init(router: ProviderRouter) {
        self.router = router
    }

    public func generate(
        _ request: ModelRequest,
        callID: UInt64,
        onEvent: (ModelEvent) -> Bool
    ) throws(ModelProviderError) -> ModelResponseInfo {
        let result: ProviderTurnResult
        do {
            result = try router.generate(model: request.model, request: request.json, callID: callID) { event in
                switch event {
                case .text(let t): return onEvent(.delta(t))
                case .toolCall(let c):
                    var arguments = c.arguments
                    if let problem = c.problem { arguments = .string(problem) }
                    return onEvent(.toolCall(ToolCall(id: c.id, name: c.name, arguments: arguments)))
                case .progress(let p): return onEvent(.progress(p))
                case .failover(let from, let to, let reason):
                    return onEvent(.progress("[\(from) failed (\(reason)); trying \(to)]"))
                case .reasoning: return true
                }
            }
        } catch {
            if error.code == .cancelled { throw ModelProviderError(code: .cancelled, message: error.message) }
            if ModelProviderError.isOverflow(code: "", message: error.message) {
                throw ModelProviderError(code: .contextOverflow, message: error.message)
            }
            if error.code == .rateLimited { throw ModelProviderError(code: .rateLimited, message: error.message) }
            if error.code == .unknownModel || error.code == .notConfigured || error.code == .noPlugin {
                throw ModelProviderError(code: .notConfigured, message: error.message)
            }
            throw ModelProviderError(code: .failed, message: error.message)
        }
        let usage = TokenUsage(input: result.usage.inputTokens ?? 0, output: result.usage.outputTokens ?? 0)
        _ = onEvent(.done(stopReason: result.stopReason, usage: usage, providerSession: result.providerSession))
        let provider = result.model.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        return ModelResponseInfo(provider: provider, model: result.model)
    }

    public func cancel(callID: UInt64) { router.host.cancel(callID: callID) }

    public func makeCallID() -> UInt64 { router.host.makeCallID() }

    /// The local default's context size (`local_model.context`); other providers do not say.
    public func contextWindow(for model: String) -> Int? {
        guard let resolved = try? router.resolver.resolve(model), resolved.provider == "local" else { return nil }
        return router.host.localModels.contextSize
    }

    public func availableModels() -> [String] {
        let aliases = router.resolver.aliases.sorted { $0.key < $1.key }.map { "\($0.key) → \($0.value)" }
        return ModelResolver.knownProviders.map { $0 + "/…" } + aliases
    }
}
