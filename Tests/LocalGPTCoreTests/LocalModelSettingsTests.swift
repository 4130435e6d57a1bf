//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import InMemoryLogging
import LocalGPTCore
import Logging
import Testing

/// `[local_model]` numbers of the wrong type or out of range are said and replaced, never handed
/// to llama-server.
@Suite struct LocalModelSettingsTests {
    func manager(_ toml: String) throws -> (LocalModelManager, [String]) {
        let logs = InMemoryLogHandler()
        let manager = LocalModelManager(
            configuration: try Configuration(toml: toml, environment: [:]),
            paths: LocalGPTPaths(home: "/nonexistent"),
            logger: Logger(label: "local-model-settings") { _ in logs }
        )
        return (manager, logs.entries.filter { $0.level == .warning }.map { "\($0.message)" })
    }

    @Test func badValuesAreSaidAndReplacedByTheDefaults() throws {
        let (bad, warnings) = try manager(
            "[local_model]\ncontext = -5\nthreads = \"four\"\nready_timeout_ms = 0\n"
        )
        #expect(bad.contextSize == 4096 && bad.threads == 2 && bad.readyTimeoutMilliseconds == 120_000)
        #expect(warnings.contains("local_model.context must be a whole number from 256 to 1048576: using 4096"))
        #expect(warnings.contains { $0.hasPrefix("local_model.threads must be a whole number") })
        #expect(warnings.contains { $0.hasPrefix("local_model.ready_timeout_ms must be a whole number") })
        let (good, none) = try manager("[local_model]\ncontext = 8192\nthreads = 4\n")
        #expect(good.contextSize == 8192 && good.threads == 4)
        #expect(none.isEmpty)
    }
}
