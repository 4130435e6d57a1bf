//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import LocalGPTAgent
import LocalGPTCore

/// `localgpt sessions list|show|export`.
struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List, show and export saved chat sessions.",
        subcommands: [List.self, Show.self, Export.self, Bench.self]
    )

    static func store(_ options: GlobalOptions) throws -> SessionStore {
        try CLIContext.make(options).sessionStore
    }

    static func open(_ store: SessionStore, _ prefix: String) throws -> Session {
        do {
            let id = try store.resolve(prefix: prefix)
            let contents = try SessionFile.read(path: store.path(for: id))
            if contents.isEmpty {
                printError("warning: \(store.path(for: id)) is empty (no session header, no message)")
            } else if let damage = contents.damage {
                printError("warning: \(store.path(for: id)) is damaged: \(damage), left out")
            }
            let header = store.header(for: id, contents)
            // Files written before masking existed may hold a secret: shown masked all the same.
            let messages = contents.messages.map(store.secretMasker.mask)
            return Session(header: header, messages: messages, compactions: contents.compactions, file: nil)
        } catch {
            throw CLIError(error.message)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List sessions, newest first.")
        @OptionGroup var options: GlobalOptions
        @Option(parsing: .unconditional, help: "At most this many (at least 1).") var limit = 20
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let sessions = Array(try SessionsCommand.store(options).list().prefix(limit))
            if json {
                let doc: JSONValue = .array(
                    sessions.map {
                        [
                            "id": .string($0.id),
                            "created": $0.created > 0 ? .string(AgentDates.rfc3339(milliseconds: $0.created)) : .null,
                            "updated": $0.updated > 0 ? .string(AgentDates.rfc3339(milliseconds: $0.updated)) : .null,
                            "messages": .int(Int64($0.messageCount)), "compactions": .int(Int64($0.compactionCount)),
                            "first": .string($0.firstPreview), "last": .string($0.lastPreview),
                            "damage": $0.damage.map(JSONValue.string) ?? .null,
                        ]
                    }
                )
                print(doc.encoded(pretty: true))
                return
            }
            if sessions.isEmpty {
                print("No saved sessions.")
                return
            }
            for s in sessions {
                print(
                    "\(s.id.prefix(8))  \(String(s.messageCount).leftPad(4)) msgs  "
                        + "\(s.updated > 0 ? AgentDates.localShort(milliseconds: s.updated) : "unknown date    ")  "
                        + (s.isEmpty ? "(empty) " : s.damage == nil ? "" : "(damaged) ") + s.firstPreview
                )
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print a session's conversation."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The session id or a unique prefix.") var id: String

        func run() throws {
            let session = try SessionsCommand.open(try SessionsCommand.store(options), id)
            let created = session.header.created
            print(
                "Session \(session.id) — \(created > 0 ? AgentDates.localDateTime(milliseconds: created) : "unknown date")"
            )
            for m in session.messages {
                switch m.role {
                case .system: print("\n[summary] \(m.content)")
                case .user: print("\nYou: \(m.content)")
                case .assistant:
                    if !m.content.isEmpty { print("\nLocalGPT: \(m.content)") }
                    for c in m.toolCalls { print("  > \(c.name) \(Agent.detail(for: c))") }
                case .tool:
                    let body = ToolOutputSanitizer.unwrap(m.content)
                    let first = body.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                    print("  < \(m.toolName ?? "tool")\(m.isError ? " (error)" : ""): \(first.prefix(100))")
                }
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Export a session as markdown."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The session id or a unique prefix.") var id: String
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func run() throws {
            let session = try SessionsCommand.open(try SessionsCommand.store(options), id)
            let text = SessionStore.markdown(session)
            guard let output else {
                print(text, terminator: "")
                return
            }
            do {
                try text.write(toFile: output, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError("cannot write \(output): \(error.localizedDescription)")
            }
            print("Exported \(session.messages.count) messages to \(output)")
        }
    }
}
