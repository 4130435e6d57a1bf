//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// A model name resolved to `provider/model`.
public struct ResolvedModel: Sendable, Equatable {
    /// What was asked for: `opus`, `gpt-4o`, `local/qwen2.5-coder-0.5b-instruct`.
    public var requested: String
    /// `provider/model`: what the provider plugin receives.
    public var model: String
    /// The provider, lower-cased: `anthropic`.
    public var provider: String
    /// How the name was resolved: "prefix", "alias", "bare-name rule", "default".
    public var rule: String

    public init(requested: String, model: String, provider: String, rule: String) {
        self.requested = requested
        self.model = model
        self.provider = provider
        self.rule = rule
    }
}

/// Resolves model names (docs/PROVIDERS.md): `provider/model` prefixes, aliases, bare-name rules, and the default
/// model; and tells whether a provider is configured, with the TOML to add when it is not.
public struct ModelResolver: Sendable {
    /// Built-in aliases. `[providers.aliases]` in config.toml adds to and overrides them.
    public static let builtinAliases: [(alias: String, model: String)] = [
        ("opus", "anthropic/claude-opus-4-6"),
        ("sonnet", "anthropic/claude-sonnet-4-6"),
        ("haiku", "anthropic/claude-haiku-4-5"),
        ("gpt", "openai/gpt-4o"),
        ("gpt-mini", "openai/gpt-4o-mini"),
        ("glm", "glm/glm-4.7"),
        ("local", "local/" + ConfigTemplate.defaultModel.split(separator: "/").last.map(String.init)!),
    ]

    /// The providers the bundled plugin serves, in display order.
    public static let knownProviders = ["local", "openai", "glm", "anthropic", "ollama", "claude-cli"]

    public let configuration: Configuration
    /// Answers whether a bare name is an installed local model.
    let isLocalModel: @Sendable (String) -> Bool

    public init(configuration: Configuration, isLocalModel: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.configuration = configuration
        self.isLocalModel = isLocalModel
    }

    /// Built-in aliases plus `[providers.aliases]`.
    public var aliases: [String: String] {
        var a = Dictionary(Self.builtinAliases.map { ($0.alias, $0.model) }, uniquingKeysWith: { x, _ in x })
        for (k, v) in configuration.value(at: "providers.aliases")?.objectValue ?? [:] {
            if let s = v.stringValue, !s.isEmpty { a[k.lowercased()] = s }
        }
        return a
    }

    /// `agent.default_model`.
    public var defaultModel: String { configuration.defaultModel }

    /// `agent.fallback_models`.
    public var fallbackModels: [String] { configuration.strings("agent.fallback_models") }

    /// Resolves a name; nil or empty means the default model.
    ///
    /// - Throws: ``ProviderError`` (`unknownModel`) listing the supported forms.
    public func resolve(_ name: String?) throws(ProviderError) -> ResolvedModel {
        let trimmed = (name ?? "").trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty {
            var r = try resolve(defaultModel, depth: 0)
            r.rule = "default (agent.default_model)"
            return r
        }
        return try resolve(trimmed, depth: 0)
    }

    private func resolve(_ name: String, depth: Int) throws(ProviderError) -> ResolvedModel {
        guard depth < 4 else {
            throw ProviderError(code: .unknownModel, message: "the alias \"\(name)\" refers to itself", model: name)
        }
        if let target = aliases[name.lowercased()] {
            var r = try resolve(target, depth: depth + 1)
            r.requested = name
            r.rule = "alias"
            return r
        }
        if let slash = name.firstIndex(of: "/") {
            let provider = name[..<slash].lowercased()
            let model = String(name[name.index(after: slash)...])
            let canonical = provider == "claude_cli" ? "claude-cli" : provider
            return ResolvedModel(requested: name, model: canonical + "/" + model, provider: canonical, rule: "prefix")
        }
        let lower = name.lowercased()
        func bare(_ provider: String) -> ResolvedModel {
            ResolvedModel(requested: name, model: provider + "/" + name, provider: provider, rule: "bare-name rule")
        }
        if lower.hasPrefix("gpt-") || lower.hasPrefix("chatgpt-") || lower.hasPrefix("o1") || lower.hasPrefix("o3")
            || lower.hasPrefix("o4")
        {
            return bare("openai")
        }
        if lower.hasPrefix("claude-") { return bare("anthropic") }
        if lower.hasPrefix("glm-") { return bare("glm") }
        if isLocalModel(name) { return bare("local") }
        if configuration.value(at: "providers.ollama") != nil { return bare("ollama") }
        if isConfigured("anthropic") { return bare("anthropic") }
        if configuration.value(at: "providers.claude_cli") != nil {
            // As in the reference: the CLI's configured model answers; the requested name is not a CLI model.
            let cliModel = configuration.string("providers.claude_cli.model") ?? "opus"
            return ResolvedModel(
                requested: name,
                model: "claude-cli/" + cliModel,
                provider: "claude-cli",
                rule: "bare-name rule (claude-cli fallback)"
            )
        }
        throw ProviderError(
            code: .unknownModel,
            message: "unknown model \"\(name)\": use provider/model ("
                + Self.knownProviders.map { $0 + "/…" }
                .joined(separator: ", ") + "), an alias (" + aliases.keys.sorted().joined(separator: ", ")
                + "), a bare gpt-*, o1*, claude-* or glm-* name, or an installed local model; bare names go to "
                + "Ollama when [providers.ollama] is configured",
            model: name
        )
    }

    /// The environment variables (or `[secrets]` names) that hold the bundled providers' API keys.
    public static let apiKeyNames = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GLM_API_KEY", "ZAI_API_KEY"]

    /// Whether a provider has what it needs (an API key; for Ollama, a section or an explicit prefix).
    public func isConfigured(_ provider: String) -> Bool {
        switch provider {
        case "openai":
            return setting("providers.openai.api_key") || secret("OPENAI_API_KEY")
                || setting("providers.openai.base_url")
        case "glm":
            return setting("providers.glm.api_key") || secret("GLM_API_KEY") || secret("ZAI_API_KEY")
        case "anthropic":
            return setting("providers.anthropic.api_key") || secret("ANTHROPIC_API_KEY")
        default:
            // ollama (default endpoint), claude-cli (its own login), local (installed by the set-up script) and
            // third-party provider plugins need no key; their own errors say what is missing.
            return true
        }
    }

    /// The TOML to add for a provider that is not configured.
    public static func configurationHint(_ provider: String) -> String {
        switch provider {
        case "openai":
            return "[providers.openai]\napi_key = \"${OPENAI_API_KEY}\"   # or set OPENAI_API_KEY in the environment"
        case "glm":
            return "[providers.glm]\napi_key = \"${GLM_API_KEY}\"   # or set GLM_API_KEY (or ZAI_API_KEY)"
        case "anthropic":
            return "[providers.anthropic]\napi_key = \"${ANTHROPIC_API_KEY}\"   # or set ANTHROPIC_API_KEY"
        case "ollama":
            return "[providers.ollama]\nendpoint = \"http://localhost:11434\""
        case "claude-cli":
            return "[providers.claude_cli]\nmodel = \"opus\""
        default:
            return "[providers.\(provider)]"
        }
    }

    private func setting(_ key: String) -> Bool {
        guard let s = configuration.string(key)?.trimmingCharacters(in: .whitespaces) else { return false }
        return !s.isEmpty && !s.contains("${")
    }

    private func secret(_ name: String) -> Bool { configuration.secret(named: name) != nil }
}
