//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import LocalGPTCore
import LocalGPTMemory
import Logging

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Read and change config.toml.",
        subcommands: [Init.self, Show.self, Path.self, Get.self, Set.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Write the commented default config.toml."
        )
        @Flag(name: .shortAndLong, help: "Replace an existing config.toml.") var force = false

        func run() throws {
            let paths = LocalGPTPaths.fromEnvironment()
            if FileManager.default.fileExists(atPath: paths.configFile) && !force {
                throw CLIError("\(paths.configFile) already exists (use --force to replace it)")
            }
            if force { try? FileManager.default.removeItem(atPath: paths.configFile) }
            do {
                _ = try Configuration.load(paths: paths)
            } catch {
                throw CLIError(error.description)
            }
            print("Created \(paths.configFile)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print the configuration (secrets redacted)."
        )
        @Option(name: .shortAndLong, help: "toml (the file as written) or json (values, ${VAR} expanded).")
        var format = "json"

        func run() throws {
            let paths = LocalGPTPaths.fromEnvironment()
            let config: Configuration
            do {
                config = try Configuration.load(paths: paths)
            } catch {
                throw CLIError(error.description)
            }
            switch format {
            case "json": print(config.redactedDocument().encoded(pretty: true))
            case "toml":
                let text = (try? String(contentsOfFile: paths.configFile, encoding: .utf8)) ?? ""
                do {
                    print(try Configuration.redactedTOML(text), terminator: "")
                } catch {
                    throw CLIError(error.description)
                }
            default: throw ValidationError("--format must be toml or json")
            }
        }
    }

    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "path", abstract: "Print the path of config.toml.")
        func run() { print(LocalGPTPaths.fromEnvironment().configFile) }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get",
            abstract: "Print one value, e.g. agent.default_model."
        )
        @Argument(help: "A dotted key.") var key: String

        func run() throws {
            let config: Configuration
            do {
                config = try Configuration.load(paths: LocalGPTPaths.fromEnvironment())
            } catch {
                throw CLIError(error.description)
            }
            guard let value = config.redactedValue(at: key) else { throw CLIError("\(key) is not set") }
            if case .string(let s) = value {
                print(s)
            } else {
                print(value.encoded(pretty: true))
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set one value, keeping the file's comments.",
            discussion: "The value is a TOML literal when it parses as one (true, 42, [\"a\"]), else a string."
        )
        @Argument(help: "A dotted key.") var key: String
        @Argument(help: "The new value.") var value: String

        func run() throws {
            let paths = LocalGPTPaths.fromEnvironment()
            do {
                try ConfigEditor.set(key, to: value, paths: paths, problems: { configurationProblems($0, home: paths) })
            } catch {
                throw CLIError(error.description)
            }
            print("Set \(key)")
        }
    }

    /// Everything the commands would warn about in `configuration`: the host's own keys
    /// (``Configuration/typeWarnings``), `[memory]`, `[sandbox]` and `[local_model]`, each checked by
    /// the code that reads it. `config set` refuses a change that adds one.
    static func configurationProblems(_ configuration: Configuration, home: LocalGPTPaths) -> [String] {
        let paths = home.resolvingWorkspace(configuration: configuration, environment: configuration.environment)
        var problems = configuration.typeWarnings
        problems +=
            MemoryConfiguration(paths: paths, configuration: configuration, environment: configuration.environment)
            .warnings
        do {
            problems += try SandboxPolicy(configuration: configuration, paths: paths).notes
        } catch {
            problems.append(error.message)
        }
        problems +=
            LocalModelManager(
                configuration: configuration,
                paths: paths,
                logger: Logger(label: "config-check", factory: { _ in SwiftLogNoOpLogHandler() })
            ).settingWarnings
        return problems
    }
}
