//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
public import LocalGPTCore

/// Builds variants of Tests/Fixtures/plugins/fixture_plugin.c into plugin folders.
public struct FixturePlugin {
    public var id = "org.test.fixture"
    public var version = "1.0.0"
    public var kinds: [String] = ["tool"]
    public var concurrency = "parallel"
    public var permissions: JSONValue = [:]
    /// Extra -D flags (FIXTURE_NO_ENTRY, FIXTURE_STRUCT_SIZE=16, ...).
    public var defines: [String] = []
    /// Embedded (and written to plugin.json) instead of ``manifest``.
    public var manifestOverride: JSONValue?

    public init(id: String = "org.test.fixture") {
        self.id = id
    }

    public static let source = TestSupport.repositoryRoot + "/Tests/Fixtures/plugins/fixture_plugin.c"

    /// The manifest the plugin embeds.
    public var manifest: JSONValue {
        let any: JSONValue = ["type": "object"]
        var tools: [JSONValue] = [
            "noop", "echo", "fail", "host_exec", "host_config", "host_secret", "host_http", "host_memory",
            "wait_cancel",
            "invocations", "concurrency",
        ].map { name in
            ["name": .string(name), "description": .string("fixture tool \(name)"), "parameters": any]
        }
        tools.append([
            "name": "validated",
            "description": "a tool with a strict schema",
            "parameters": [
                "type": "object",
                "properties": [
                    "city": ["type": "string", "minLength": 1],
                    "days": ["type": "integer", "minimum": 1, "maximum": 7],
                ],
                "required": ["city"],
                "additionalProperties": false,
            ],
        ])
        var m: [String: JSONValue] = [
            "id": .string(id),
            "name": "Fixture",
            "version": .string(version),
            "abi": ["major": 1, "minor": 0],
            "kinds": .array(kinds.map(JSONValue.string)),
            "concurrency": .string(concurrency),
            "tools": kinds.contains("tool") ? .array(tools) : [],
            "permissions": permissions,
        ]
        if kinds.contains("provider") {
            m["providers"] = [["name": "fixture", "model_prefixes": ["fixture/"], "capabilities": ["chat"]]]
        }
        return .object(m)
    }

    /// Compiles the library into `directory` and writes plugin.json for it. `sidecarManifest`
    /// replaces the manifest written to plugin.json (to test a mismatch).
    @discardableResult
    public func build(in directory: String, sidecarManifest: JSONValue? = nil) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let header = directory + "/fixture_manifest.h"
        var bits: [String] = []
        if kinds.contains("provider") { bits.append("LGPT_KIND_PROVIDER") }
        if kinds.contains("tool") { bits.append("LGPT_KIND_TOOL") }
        if kinds.contains("skill") { bits.append("LGPT_KIND_SKILL") }
        var text = ""
        JSONValue.writeString((manifestOverride ?? manifest).encoded(), to: &text)
        let h = """
            #define FIXTURE_ID "\(id)"
            #define FIXTURE_VERSION "\(version)"
            #define FIXTURE_KINDS (\(bits.isEmpty ? "0u" : bits.joined(separator: " | ")))
            #define FIXTURE_MANIFEST \(text)

            """
        try h.write(toFile: header, atomically: true, encoding: .utf8)
        let lib = directory + "/libfixture.so"
        try TestSupport.compileCPlugin(
            source: Self.source,
            output: lib,
            defines: ["FIXTURE_MANIFEST_HEADER=\"\(header)\""] + defines
        )
        try Self.writeSidecar(
            in: directory,
            manifest: sidecarManifest ?? manifestOverride ?? manifest,
            library: "libfixture.so"
        )
        return lib
    }

    /// Writes plugin.json = manifest + binary {path, sha256 of the library as it is now}.
    public static func writeSidecar(in directory: String, manifest: JSONValue, library: String) throws {
        guard case .object(var doc) = manifest else { throw TestSupportError("manifest must be an object") }
        guard let sha = sha256Hex(ofFile: directory + "/" + library) else { throw TestSupportError("no library") }
        doc["binary"] = ["path": .string(library), "sha256": .string(sha)]
        try JSONValue.object(doc).encoded(pretty: true).write(
            toFile: directory + "/plugin.json",
            atomically: true,
            encoding: .utf8
        )
    }
}
