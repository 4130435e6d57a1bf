//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTAgent
import LocalGPTCore
import LocalGPTTesting
import Testing

private typealias S = ScriptedProvider

/// A configured key the user, the model or a tool writes into the conversation: the model keeps
/// seeing it during the session, but the session file, the memory notes and the export hold
/// `********`, so a resumed session sends the mask.
@Suite struct SecretMaskingTests {
    static let key = "sk-test-4Jq8Zr2Wm7Yx5Kd3Nb9Vf1Lh"

    @Test func theSessionFileMemoryAndExportHoldTheMaskTheModelTheKey() throws {
        let key = Self.key
        let h = try AgentHarness(script: [
            [
                S.text("Your key is \(key)."), S.call("s", "memory_save", ["text": .string("API key: \(key)")]),
                S.done("tool_use"),
            ],
            S.answer("Saved \(key) to memory."),
            S.answer("Welcome back."),
        ])
        let masker = SecretMasker(secrets: [key])
        let agent = try h.agent(secretMasker: masker)
        _ = try agent.runTurn("\(key) is my OpenAI key, keep it safe")
        // In memory, the conversation is as the model saw it, and its next round had the key.
        #expect(agent.session.messages.first?.content.contains(key) == true)
        #expect(h.requests[1].encoded().contains(key))
        // On disk: the user's text, the model's text, the tool call's arguments, all masked.
        let file = try String(contentsOfFile: SessionStore(paths: h.paths).path(for: agent.session.id), encoding: .utf8)
        #expect(!file.contains("4Jq8Zr2"), "\(file)")
        #expect(file.contains("******** is my OpenAI key"), "\(file)")
        #expect(file.contains("Your key is ********."), "\(file)")
        #expect(file.contains("API key: ********"), "\(file)")
        let memory = try String(contentsOfFile: h.paths.workspace + "/MEMORY.md", encoding: .utf8)
        #expect(memory.contains("API key: ********") && !memory.contains("4Jq8Zr2"), "\(memory)")
        let markdown = SessionStore.markdown(agent.session, secretMasker: masker)
        #expect(markdown.contains("## User\n\n******** is my OpenAI key") && !markdown.contains("4Jq8Zr2"))

        // A resumed session sends what the file holds.
        try agent.session.file?.close()
        let resumed = try h.agent(resume: agent.session.id, secretMasker: masker)
        _ = try resumed.runTurn("I am back")
        let request = try #require(h.requests.last).encoded()
        #expect(!request.contains("4Jq8Zr2") && request.contains("******** is my OpenAI key"), "\(request)")

        // /new saves the conversation to memory masked, under a name made of the masked first words.
        let saved = try #require(try resumed.newSession(saveMemory: true))
        #expect(saved.hasSuffix("-is-my-openai-key.md"), "\(saved)")
        let notes = try String(contentsOfFile: h.paths.workspace + "/" + saved, encoding: .utf8)
        #expect(!notes.contains("4Jq8Zr2") && notes.contains("**User**: ******** is my OpenAI key"), "\(notes)")
    }

    /// Where the agent shortens text itself — a tool result at `tool_output_max_chars`, MEMORY.md at its
    /// cap in the context — a key the cut goes through is `********` for the model and on disk: its first
    /// characters alone are no key the masker could find when the session is written.
    @Test func aKeyCutByTheAgentsCapsLeavesNoPrefix() throws {
        let key = Self.key
        let prefix = String(key.prefix(12))
        let h = try AgentHarness(script: [
            [S.call("g", "memory_get", ["path": "notes.md"]), S.done("tool_use")],
            S.answer("Read."),
        ])
        let workspace = h.paths.workspace
        // memory_get shows "# notes.md (lines 1-1 of 1)\n   1\t" (33 characters) first: 17 of the key fit in 100.
        try (String(repeating: "n", count: 50) + key + " and the rest of the note\n").write(
            toFile: workspace + "/notes.md",
            atomically: true,
            encoding: .utf8
        )
        let memory = String(repeating: "m", count: 280) + key + "\n" + String(repeating: "more memory\n", count: 40)
        try memory.write(toFile: workspace + "/MEMORY.md", atomically: true, encoding: .utf8)
        let agent = try h.agent(
            configuration: h.configuration {
                $0.toolOutputMaxCharacters = 100
                $0.memoryFileMaxCharacters = 300
            },
            secretMasker: SecretMasker(secrets: [key])
        )
        _ = try agent.runTurn("Read my notes")
        let system = h.requests[0].messages.first?["content"]?.stringValue ?? ""
        #expect(system.contains(String(repeating: "m", count: 280) + "********\n[truncated: MEMORY.md"), "\(system)")
        let result = agent.session.messages.first { $0.role == .tool }?.content ?? ""
        #expect(result.contains(String(repeating: "n", count: 50) + "********\n[...truncated"), "\(result)")
        for request in h.requests { #expect(!request.encoded().contains(prefix), "\(request.encoded())") }
        let file = try String(contentsOfFile: SessionStore(paths: h.paths).path(for: agent.session.id), encoding: .utf8)
        #expect(!file.contains(prefix) && file.contains("********"), "\(file)")
    }

    /// The other cuts on the way to the model: a daily log keeps its end, the summariser's text shortens
    /// long messages and calls, a search snippet is held to 300 characters. None leaves a key's first
    /// (or last) characters.
    @Test func theLogsTailTheSummarisersTextAndSnippetsLeaveNoPartOfAKey() throws {
        let key = Self.key
        let masker = SecretMasker(secrets: [key])
        let head = String(key.prefix(12))
        let tail = String(key.suffix(12))

        let workspace = TestSupport.makeTemporaryDirectory("lgpt-secret-cuts")
        try FileManager.default.createDirectory(atPath: workspace + "/memory", withIntermediateDirectories: true)
        try ("old " + key + String(repeating: "l", count: 290)).write(
            toFile: workspace + "/memory/2026-01-02.md",
            atomically: true,
            encoding: .utf8
        )
        let entries = WorkspaceContext.entries(
            today: "2026-01-02",
            yesterday: "2026-01-01",
            fileCap: 300,
            memoryCap: 300
        )
        let context = WorkspaceContext.load(
            workspace: workspace,
            entries: entries,
            totalCap: 40_000,
            secretMasker: masker
        )
        let log = try #require(context.sections.first { $0.entry.file == "memory/2026-01-02.md" }).text
        #expect(log == "********" + String(repeating: "l", count: 290), "\(log)")

        let messages = [
            ChatMessage(role: .user, content: "Check the key"),
            ChatMessage(
                role: .assistant,
                content: "",
                toolCalls: [
                    ToolCall(
                        id: "c",
                        name: "bash",
                        arguments: ["command": .string(String(repeating: "a", count: 280) + key)]
                    )
                ]
            ),
            ChatMessage(
                role: .tool,
                content: String(repeating: "r", count: 1490) + key + String(repeating: "r", count: 200),
                toolCallID: "c",
                toolName: "bash"
            ),
        ]
        let rendered = CompactionPlanner.render(messages[...], maxBytes: 100_000, secretMasker: masker).joined()
        #expect(!rendered.contains(head) && rendered.contains(String(repeating: "r", count: 1490) + "******** […]"))
        #expect(rendered.contains(String(repeating: "a", count: 280) + "********]"), "\(rendered)")

        struct Snippets: MemoryService {
            let snippet: String
            func search(request: JSONValue, source: String) throws(MemoryServiceError) -> JSONValue {
                [
                    "results": [
                        ["file": "MEMORY.md", "line_start": 1, "line_end": 1, "score": 1, "snippet": .string(snippet)]
                    ]
                ]
            }
            func append(request: JSONValue, source: String) throws(MemoryServiceError) -> JSONValue {
                throw MemoryServiceError(invalidRequest: true, message: "read only")
            }
        }
        let tools = MemoryHostTools(
            workspace: workspace,
            service: Snippets(snippet: String(repeating: "s", count: 290) + key + " more"),
            secretMasker: masker
        )
        let search = try #require(tools.tools.first { $0.name == "memory_search" })
        let found = try search.run(arguments: ["query": "key"])
        #expect(found.contains(String(repeating: "s", count: 290) + "********") && !found.contains(head), "\(found)")
        #expect(![log, rendered, found].contains { $0.contains(tail) })
    }
}
