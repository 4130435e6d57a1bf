//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import InMemoryLogging
import LocalGPTCore
import LocalGPTTesting
import Logging

/// A temporary LocalGPT home with a host whose logs are captured.
struct HostHarness {
    let home: String
    let paths: LocalGPTPaths
    let logs = InMemoryLogHandler()
    let host: PluginHost

    init(
        config: String = "",
        environment: [String: String] = [:],
        grants: [String: PluginGrant] = [:],
        secretMasker: SecretMasker? = nil
    ) throws {
        home = TestSupport.makeTemporaryDirectory("lgpt-home")
        paths = LocalGPTPaths(home: home)
        try paths.createDirectories()
        let configuration = try Configuration(toml: config, environment: environment)
        var handler = logs
        handler.logLevel = .debug
        let captured = handler
        let logger = Logger(label: "test") { _ in captured }
        host = PluginHost(
            paths: paths,
            configuration: configuration,
            grants: grants,
            logger: logger,
            secretMasker: secretMasker
        )
    }

    /// A fresh folder for one plugin.
    func pluginDirectory(_ name: String) -> String {
        home + "/src/" + name
    }

    /// Log messages at warning and above, as text.
    var warnings: [String] {
        logs.entries.filter { $0.level >= .warning }.map { "\($0.message) \($0.metadata)" }
    }
}
