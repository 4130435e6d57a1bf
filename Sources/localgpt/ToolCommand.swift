//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import LocalGPTCore

struct ToolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tool",
        abstract: "List plugin tools and call one (for plugin authors and scripts).",
        subcommands: [List.self, Call.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List every tool of every loaded plugin."
        )
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON, including each tool's parameter schema.") var json = false

        func run() throws {
            let host = try CLIContext.make(options).makeHost()
            let tools = host.tools
            if json {
                let doc: JSONValue = .array(
                    tools.map {
                        .object([
                            "name": .string($0.name),
                            "plugin": .string($0.pluginID),
                            "qualified_name": .string($0.qualifiedName),
                            "description": .string($0.description),
                            "parameters": $0.parameters,
                            "side_effects": .string($0.sideEffects),
                        ])
                    }
                )
                print(doc.encoded(pretty: true))
                return
            }
            if tools.isEmpty {
                // An empty list looked like a failure; say why and where to look.
                print("No plugin tools: no loaded plugin provides one (see `localgpt plugin list`).")
                return
            }
            let width = tools.map(\.qualifiedName.count).max() ?? 0
            for t in tools {
                print(t.qualifiedName.padding(toLength: width + 2, withPad: " ", startingAt: 0) + t.description)
            }
        }
    }

    struct Call: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "call",
            abstract: "Run one tool and print its JSON result.",
            discussion: "The name is a tool name, or <plugin id>/<tool> when two plugins share a name."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The tool.") var name: String
        @Option(help: "The arguments, a JSON object.") var args = "{}"

        func run() throws {
            let host = try CLIContext.make(options).makeHost()
            defer { host.shutdown() }
            let output: String
            do {
                output = try host.invoke(tool: name, arguments: args)
            } catch {
                throw CLIError(error.message)
            }
            if let value = try? JSONValue(parsing: output) {
                print(value.encoded(pretty: true))
            } else {
                print(output)
            }
        }
    }
}
