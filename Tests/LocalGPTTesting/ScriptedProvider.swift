//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
public import LocalGPTCore

/// Builds Tests/Fixtures/plugins/scripted_provider.c: a provider plugin, through the real ABI, that
/// replays a script of events (one block per `generate` call) and records every request it receives.
public enum ScriptedProvider {
    public static let source = TestSupport.repositoryRoot + "/Tests/Fixtures/plugins/scripted_provider.c"

    /// The manifest the plugin embeds: one provider for the `scripted/` model prefix.
    public static func manifest(id: String) -> JSONValue {
        [
            "id": .string(id),
            "name": "Scripted provider",
            "version": "1.0.0",
            "abi": ["major": 1, "minor": 0],
            "kinds": ["provider"],
            "concurrency": "parallel",
            "tools": [],
            "providers": [["name": "scripted", "model_prefixes": ["scripted/"], "capabilities": ["chat", "tools"]]],
            "permissions": ["config": ["scripted"]],
        ]
    }

    /// Compiles the plugin into `directory` (library + plugin.json).
    public static func build(in directory: String, id: String = "org.test.scripted") throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let header = directory + "/scripted_manifest.h"
        var text = ""
        JSONValue.writeString(manifest(id: id).encoded(), to: &text)
        try """
        #define SCRIPTED_ID "\(id)"
        #define SCRIPTED_VERSION "1.0.0"
        #define SCRIPTED_MANIFEST \(text)

        """.write(toFile: header, atomically: true, encoding: .utf8)
        try TestSupport.compileCPlugin(
            source: source,
            output: directory + "/libscripted.so",
            defines: ["SCRIPTED_MANIFEST_HEADER=\"\(header)\""]
        )
        try FixturePlugin.writeSidecar(in: directory, manifest: manifest(id: id), library: "libscripted.so")
    }

    /// A folder with the plugin built once per test process.
    public static let sharedDirectory: String = {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-scripted") + "/org.test.scripted"
        do {
            try build(in: dir)
        } catch {
            fatalError("building the scripted provider failed: \(error)")
        }
        return dir
    }()

    /// Script text: one block of event lines per generate call.
    public static func script(_ turns: [[JSONValue]]) -> String {
        turns.map { events in events.map { $0.encoded() }.joined(separator: "\n") }.joined(separator: "\n---\n") + "\n"
    }

    // Events.
    public static func text(_ s: String) -> JSONValue { ["type": "delta", "text": .string(s)] }
    public static func call(_ id: String, _ name: String, _ arguments: JSONValue) -> JSONValue {
        ["type": "tool_call", "id": .string(id), "name": .string(name), "arguments": arguments]
    }
    public static func done(_ stop: String = "end_turn", input: Int = 10, output: Int = 5) -> JSONValue {
        [
            "type": "done", "stop_reason": .string(stop),
            "usage": ["input_tokens": .int(Int64(input)), "output_tokens": .int(Int64(output))],
        ]
    }
    public static func sleep(_ ms: Int) -> JSONValue { ["type": "sleep", "ms": .int(Int64(ms))] }
    public static func error(_ code: String, _ message: String) -> JSONValue {
        ["type": "error", "code": .string(code), "message": .string(message)]
    }
    public static func fail(status: Int32) -> JSONValue { ["type": "return", "status": .int(Int64(status))] }

    /// A whole answer: text then done.
    public static func answer(_ s: String) -> [JSONValue] { [text(s), done()] }
}
