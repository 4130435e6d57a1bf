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
}
