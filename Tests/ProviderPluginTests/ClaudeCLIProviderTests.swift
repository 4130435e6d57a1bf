//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Synchronization
import Testing

/// The Claude CLI provider, driven through the host's sandboxed exec against a stand-in `claude` that prints
/// recorded stream-json and records its arguments.
///
/// The host runs commands with PATH `/usr/local/bin:/usr/bin:/bin` (PluginHost.execSearchPath) and no override,
/// so the stand-in is installed as `/usr/local/bin/claude` for the duration of each test, when that folder is
/// writable (CI runs as root) and no real `claude` is there; otherwise these tests are skipped with a message.
/// The stand-in keeps its per-test data in `$HOME/.claude-standin`, and the host sets HOME to the workspace of
/// each test's own LocalGPT home, so tests never share data.
@Suite(.serialized) struct ClaudeCLIProviderTests {
    static let standInPath = "/usr/local/bin/claude"
    static let marker = "# localgpt-test-stand-in"

    static let script = """
        #!/bin/bash
        \(marker)
        dir="$HOME/.claude-standin"
        mkdir -p "$dir"
        n=$(ls "$dir" | grep -c '^call-' || true)
        printf '%s\\n' "$@" > "$dir/call-$n.args"
        for a in "$@"; do
            if [ "$a" = "--resume" ] && [ -f "$dir/no-conversation" ]; then
                rm -f "$dir/no-conversation"
                echo "No conversation found with session ID: x" >&2
                exit 1
            fi
        done
        cat "$dir/response.jsonl"
        exit 0
        """

    /// Whether a `claude` other than the stand-in is on the exec path.
    static var realClaudeInstalled: Bool {
        ["/usr/local/bin/claude", "/usr/bin/claude", "/bin/claude"].contains { path in
            guard FileManager.default.fileExists(atPath: path) else { return false }
            return !((try? String(contentsOfFile: path, encoding: .utf8))?.contains(marker) ?? false)
        }
    }

    static var canInstallStandIn: Bool {
        !realClaudeInstalled && FileManager.default.isWritableFile(atPath: "/usr/local/bin")
    }

    /// Runs `body` with the stand-in installed, then removes it.
    func withStandIn(_ body: () throws -> Void) throws {
        try Self.script.write(toFile: Self.standInPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: Self.standInPath) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: Self.standInPath)
        try body()
    }

    static let recorded: [JSONValue] = [
        [
            "type": "system", "subtype": "init", "session_id": "s-1", "model": "claude-opus-4-6",
            "tools": ["Bash", "Read"],
        ],
        [
            "type": "stream_event",
            "event": ["type": "content_block_delta", "delta": ["type": "text_delta", "text": "Listing "]],
        ],
        [
            "type": "assistant",
            "message": ["content": [["type": "tool_use", "id": "t1", "name": "Bash", "input": ["command": "ls"]]]],
        ],
        ["type": "user", "message": ["content": [["type": "tool_result", "tool_use_id": "t1", "is_error": false]]]],
        [
            "type": "stream_event",
            "event": ["type": "content_block_delta", "delta": ["type": "text_delta", "text": "done: 3 files."]],
        ],
        [
            "type": "result", "subtype": "success", "is_error": false, "result": "Listing done: 3 files.",
            "session_id": "s-1", "usage": ["input_tokens": 10, "output_tokens": 6],
        ],
    ]

    func prepare(
        _ h: ProviderHarness,
        response: [JSONValue] = recorded,
        noConversation: Bool = false
    ) throws
        -> String
    {
        let dir = h.paths.workspace + "/.claude-standin"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try (response.map { $0.encoded() }.joined(separator: "\n") + "\n")
            .write(toFile: dir + "/response.jsonl", atomically: true, encoding: .utf8)
        if noConversation { try "1".write(toFile: dir + "/no-conversation", atomically: true, encoding: .utf8) }
        return dir
    }

    func arguments(_ dir: String, call: Int) throws -> [String] {
        try String(contentsOfFile: dir + "/call-\(call).args", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test(.enabled(if: !realClaudeInstalled, "a real claude is installed"))
    func aMissingBinaryIsAClearError() throws {
        let h = try ProviderHarness()
        let error = try #require(h.generate("claude-cli/opus", Fixtures.request()).result.failure)
        #expect(error.code == .notFound)
        #expect(error.message.contains("not installed"))
        #expect(error.message.contains("claude"))
    }

    @Test(.enabled(if: canInstallStandIn, "needs a writable /usr/local/bin and no real claude there"))
    func firstTurnStartsASessionAndLaterTurnsResumeIt() throws {
        try withStandIn {
            let h = try ProviderHarness()
            let dir = try prepare(h)
            var request = Fixtures.request("List the files")
            request = setting(request, "session_id", "agent-session-42")
            let (result, events) = h.generate("claude-cli/opus", request)
            let r = try #require(result.value, "\(String(describing: result.failure))")
            #expect(r.text == "Listing done: 3 files.")
            #expect(r.providerSession == "s-1")
            #expect(r.usage == ProviderUsage(inputTokens: 10, outputTokens: 6))
            let progress = events.compactMap { if case .progress(let p) = $0 { return p } else { return nil } }
            #expect(progress == ["[Model: claude-opus-4-6 | Tools: 2]", "[Bash: ls]", " [Bash done]"])
            let first = try arguments(dir, call: 0)
            #expect(first.first == "-p")
            #expect(first.contains("--session-id"))
            #expect(!first.contains("--resume"))
            #expect(first.contains("--model") && first.contains("opus"))
            #expect(first.contains("--system-prompt") && first.contains("You are terse."))
            #expect(first.last == "List the files")

            // The next turn: only the newest user message, --resume with the session from the first turn.
            let next: JSONValue = [
                "messages": [
                    ["role": "system", "content": "You are terse."],
                    ["role": "user", "content": "List the files"], ["role": "assistant", "content": .string(r.text)],
                    ["role": "user", "content": "And the hidden ones?"],
                ],
                "provider_session": .string(r.providerSession ?? ""),
            ]
            _ = try #require(h.generate("claude-cli/opus", next).result.value)
            let second = try arguments(dir, call: 1)
            #expect(second.contains("--resume") && second.contains("s-1"))
            #expect(!second.contains("--session-id") && !second.contains("--system-prompt"))
            #expect(second.last == "And the hidden ones?")
            #expect(!second.contains("List the files"))
        }
    }

    @Test(.enabled(if: canInstallStandIn, "needs a writable /usr/local/bin and no real claude there"))
    func aLostSessionStartsANewOne() throws {
        try withStandIn {
            let h = try ProviderHarness()
            let dir = try prepare(h, noConversation: true)
            let request: JSONValue = [
                "messages": [
                    ["role": "user", "content": "hi"], ["role": "assistant", "content": "hello"],
                    ["role": "user", "content": "again"],
                ],
                "session_id": "s-lost",
            ]
            let r = try #require(h.generate("claude-cli/sonnet", request).result.value)
            #expect(r.text == "Listing done: 3 files.")
            #expect(try arguments(dir, call: 0).contains("--resume"))
            #expect(try arguments(dir, call: 1).contains("--session-id"))
        }
    }

    @Test(.enabled(if: canInstallStandIn, "needs a writable /usr/local/bin and no real claude there"))
    func anErrorResultAndGarbageOutput() throws {
        try withStandIn {
            let h = try ProviderHarness()
            _ = try prepare(
                h,
                response: [["type": "result", "subtype": "error_during_execution", "is_error": true, "result": "boom"]]
            )
            let e = try #require(h.generate("claude-cli/opus", Fixtures.request()).result.failure)
            #expect(e.message.contains("boom"))
            _ = try prepare(h, response: ["not stream json"])
            let e2 = try #require(h.generate("claude-cli/opus", Fixtures.request()).result.failure)
            #expect(e2.message.contains("without an answer"))
        }
    }

    private func setting(_ request: JSONValue, _ key: String, _ value: String) -> JSONValue {
        guard case .object(var o) = request else { return request }
        o[key] = .string(value)
        return .object(o)
    }
}
