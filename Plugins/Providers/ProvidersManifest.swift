// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The manifest of the bundled `org.localgpt.providers` plugin.

/// The identity and manifest of the providers plugin, as static NUL-terminated strings (rule R5).
enum ProvidersManifest {
    static let id: StaticString = "org.localgpt.providers"
    static let version: StaticString = "0.1.0"

    /// The manifest embedded in the library (`manifest_json`); the sidecar `plugin.json` is generated from it.
    static let json: StaticString = #"""
        {
          "id": "org.localgpt.providers",
          "name": "LLM providers",
          "version": "0.1.0",
          "description": "OpenAI and OpenAI-compatible servers (GLM / Z.AI, LM Studio, vLLM, llama-server), Anthropic, Ollama, the Claude CLI, and the embedded local model run by the host.",
          "publisher": "LocalGPT for Swift",
          "license": "Apache-2.0",
          "abi": {"major": 1, "minor": 0},
          "kinds": ["provider"],
          "concurrency": "parallel",
          "tools": [],
          "providers": [
            {"name": "openai", "model_prefixes": ["openai/"], "capabilities": ["streaming", "tools"]},
            {"name": "glm", "model_prefixes": ["glm/"], "capabilities": ["streaming", "tools"]},
            {"name": "anthropic", "model_prefixes": ["anthropic/"], "capabilities": ["streaming", "tools"]},
            {"name": "ollama", "model_prefixes": ["ollama/"], "capabilities": ["streaming", "tools"]},
            {"name": "claude-cli", "model_prefixes": ["claude-cli/"], "capabilities": ["own_tools"]},
            {"name": "local", "model_prefixes": ["local/"], "capabilities": ["streaming", "tools", "local_model"]}
          ],
          "skills": [],
          "permissions": {
            "exec": {"commands": ["claude"]},
            "net": {
              "hosts": [
                "api.openai.com", "api.anthropic.com", "api.z.ai", "open.bigmodel.cn",
                "localhost:*", "127.0.0.1:*", "[::1]:*", "*"
              ]
            },
            "secrets": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GLM_API_KEY", "ZAI_API_KEY"],
            "config": ["providers"]
          }
        }
        """#
}
