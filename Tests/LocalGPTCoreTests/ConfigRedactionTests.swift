//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import LocalGPTCore
import Testing

/// `config show` and `config get` never print a secret, whatever the file's layout.
@Suite struct ConfigRedactionTests {
    private static let secrets = [
        "sk-PROV-1", "ghp-PAT-2", "tok-3", "multi-4", "inline-5", "arr-6", "cred-7", "table-8", "comment-9",
    ]

    private func expectHidden(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let shown = try Configuration.redactedTOML(text)
        for secret in Self.secrets {
            #expect(!shown.contains(secret), "\(secret) shown", sourceLocation: sourceLocation)
        }
        // What is shown is still TOML, and every value that is not a secret is as written.
        let original = try Configuration(toml: text, environment: [:])
        let parsed = try Configuration(toml: shown, environment: [:])
        #expect(parsed.rawValue(at: "agent.default_model") == original.rawValue(at: "agent.default_model"))
        #expect(parsed.rawValue(at: "agent.max_tokens") == original.rawValue(at: "agent.max_tokens"))
    }

    @Test func theFileIsShownAsWrittenWhenEachLineCanBeHidden() throws {
        let text = """
            # my settings
            [agent]
            default_model = "local/qwen"  # the default
            max_tokens = 4096

            [ providers . openai ]   # spaces in the header
            api_key = "sk-PROV-1"

            [secrets]  # my keys
            GH_PAT = 'ghp-PAT-2'
            "quoted" = "tok-3"

            """
        try expectHidden(text)
        let shown = try Configuration.redactedTOML(text)
        // Comments and numbers stay; each secret line keeps its key.
        #expect(shown.contains("# my settings"))
        #expect(shown.contains("default_model = \"local/qwen\"  # the default"))
        #expect(shown.contains("max_tokens = 4096"))
        #expect(shown.contains("api_key = \"********\""))
        #expect(shown.contains("GH_PAT = \"********\""))
    }

    @Test func layoutsALineCannotHideAreWrittenOutFromTheirValues() throws {
        let layouts = [
            // A multi-line string: its second line holds the secret.
            "[agent]\ndefault_model = \"m\"\n[secrets]\nX = \"\"\"\nmulti-4\n\"\"\"\n",
            // An inline table and a dotted key at the top level.
            "agent = { default_model = \"m\", max_tokens = 5 }\nproviders = { openai = { api_key = \"inline-5\" } }\n"
                + "secrets.GH_PAT = \"ghp-PAT-2\"\n",
            // An array under a key that looks secret.
            "[agent]\ndefault_model = \"m\"\n[providers.x]\napi_keys = [\"arr-6\", \"tok-3\"]\n",
            // A multi-line secret whose lines read as comments once its first line is hidden.
            "[secrets]\nOPENAI_API_KEY = \"\"\"\n# comment-9\n#comment-9\"\"\"\n",
        ]
        for text in layouts {
            try expectHidden(text)
            #expect(try Configuration.redactedTOML(text).hasPrefix("# config.toml with its secrets hidden"))
        }
    }

    /// A table or an inline table under a key that looks secret holds secrets whatever its keys are.
    @Test func tablesNamedLikeSecretsAreHidden() throws {
        let text = "[providers.openai]\ncredentials = { primary = \"cred-7\" }\n[auth.tokens]\ngithub = \"table-8\"\n"
        try expectHidden(text)
        let config = try Configuration(toml: text, environment: [:])
        for key in ["auth.tokens.github", "auth.tokens", "providers.openai.credentials", "providers"] {
            let shown = try #require(config.redactedValue(at: key)).encoded(pretty: false)
            #expect(!shown.contains("cred-7") && !shown.contains("table-8"), "\(key): \(shown)")
        }
        #expect(!config.redactedDocument().encoded(pretty: false).contains("table-8"))
    }

    @Test func aTableHoldingASecretIsShownWithItHidden() throws {
        let config = try Configuration(
            toml: "[providers.openai]\napi_key = \"${KEY}\"\nbase_url = \"http://x\"\n[agent]\nmax_tokens = 9\n",
            environment: ["KEY": "sk-PROV-1"]
        )
        #expect(config.value(at: "providers.openai.api_key") == "sk-PROV-1")
        for key in ["providers", "providers.openai", "providers.openai.api_key"] {
            let shown = try #require(config.redactedValue(at: key)).encoded(pretty: false)
            #expect(!shown.contains("sk-PROV-1"), "\(key)")
            #expect(shown.contains("********"), "\(key)")
        }
        #expect(config.redactedValue(at: "providers.openai.base_url") == "http://x")
        // A number under a key that merely contains "token" is not a secret.
        #expect(config.redactedValue(at: "agent.max_tokens") == .int(9))
        #expect(config.redactedValue(at: "nope") == nil)
    }
}
