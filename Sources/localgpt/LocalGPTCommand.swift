//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import Glibc
import LocalGPTCore

@main
struct LocalGPTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "localgpt",
        abstract: "A local AI assistant with persistent memory, a plugin host for providers, tools and skills.",
        discussion: """
            Everything lives under ~/.localgpt (set LOCALGPT_HOME to use another folder).
            """,
        version: "localgpt \(LocalGPTVersion.current) (plugin ABI 1.0)",
        subcommands: [
            InitCommand.self, PathsCommand.self, ConfigCommand.self, PluginCommand.self, ToolCommand.self,
            SandboxCommand.self,
            MDCommand.self,
            MemoryCommand.self,
            ChatCommand.self, AskCommand.self, SessionsCommand.self,
            ModelsCommand.self,
        ]
    )

    /// `localgpt --version` is answered before ArgumentParser runs: building the command tree checks
    /// the conformances of every option type, which scans all the conformance records of the process
    /// (Foundation's included) and was a third of the instructions of `--version`
    /// (docs/PERFORMANCE.md). Everything else, `--help` included, goes through ArgumentParser.
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 2, arguments[1] == "--version" {
            print(configuration.version)
            return
        }
        // A LocalGPT process killed while a command runs: its warden stops what the command left
        // running, then runs this to put back the protected files it changed (SandboxWarden).
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            SandboxWarden.setRecovery(arguments: [executable, "sandbox", "recover"])
        }
        do {
            var command = try parseAsRoot(nil)
            try command.run()
        } catch {
            // What the command printed before it failed comes first: standard output is buffered
            // when it is not a terminal, and the error goes straight to standard error.
            fflush(nil)
            exit(withError: error)
        }
    }
}

/// Options every command that touches the home folder takes.
struct GlobalOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Print debug logs to standard error.")
    var verbose = false
}
