//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import LocalGPTCore
import Testing

/// The host's keys of the wrong type are said, with what is used instead.
@Suite struct ConfigTypeCheckTests {
    @Test func wrongTypesAreSaid() throws {
        let bad = try Configuration(
            toml: """
                [agent]
                default_model = 42
                fallback_models = "openai/gpt-4o"
                [plugins]
                paths = ["a", 3]
                [logging]
                level = "loud"
                [security]
                strict_policy = "yes"
                """,
            environment: [:]
        )
        let warnings = bad.typeWarnings
        #expect(warnings.count == 5, "\(warnings)")
        #expect(
            warnings.contains { $0.hasPrefix("agent.default_model must be a string") && $0.contains("using local/") }
        )
        #expect(warnings.contains { $0.hasPrefix("agent.fallback_models must be a list of model names") })
        #expect(warnings.contains { $0.hasPrefix("plugins.paths must be a list of folders") })
        #expect(warnings.contains { $0.hasPrefix("logging.level must be one of trace, debug") })
        #expect(warnings.contains { $0.hasPrefix("security.strict_policy must be true or false: read as true") })
        let good = try Configuration(
            toml: "[agent]\ndefault_model = \"openai/gpt-4o\"\n[logging]\nlevel = \"WARN\"\n",
            environment: [:]
        )
        #expect(good.typeWarnings.isEmpty)
        #expect(try Configuration(toml: ConfigTemplate.text, environment: [:]).typeWarnings.isEmpty)
    }
}
