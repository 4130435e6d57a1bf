//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import InMemoryLogging
import LocalGPTCore
import LocalGPTTesting
import Logging
import Testing

/// The load pipeline: every refusal is a one-line error naming the file, and never stops the
/// other plugins from loading.
@Suite struct PluginLoaderTests {
    func expectLoadError(
        _ fixture: FixturePlugin,
        code: PluginLoadError.Code,
        messageContains fragment: String,
        sidecar: JSONValue? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let h = try HostHarness()
        let dir = h.pluginDirectory("bad")
        try fixture.build(in: dir, sidecarManifest: sidecar)
        let error = #expect(throws: PluginLoadError.self, sourceLocation: sourceLocation) {
            try h.host.load(directory: dir, origin: .config)
        }
        #expect(error?.code == code, sourceLocation: sourceLocation)
        #expect(
            error?.description.contains(fragment) == true,
            "\(error?.description ?? "")",
            sourceLocation: sourceLocation
        )
        #expect(error?.description.contains("\n") == false, sourceLocation: sourceLocation)
        #expect(h.host.plugins.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func loadsAValidPluginAndRunsCreate() throws {
        let h = try HostHarness()
        let dir = h.pluginDirectory("ok")
        try FixturePlugin().build(in: dir)
        let plugin = try h.host.load(directory: dir, origin: .bundled)
        #expect(plugin.id == "org.test.fixture")
        #expect(h.host.plugins.map(\.id) == ["org.test.fixture"])
        #expect(
            h.logs.entries.contains {
                "\($0.message)" == "fixture created" && $0.metadata["plugin.id"] == "org.test.fixture"
            }
        )
    }

    @Test func rejectsDescriptorWithAnotherABIMajor() throws {
        var f = FixturePlugin()
        f.defines = ["FIXTURE_ABI_MAJOR=2"]
        try expectLoadError(f, code: .abiMismatch, messageContains: "ABI major 2")
    }

    /// `plugin package` refuses what `install` and the loader would refuse, instead of writing a
    /// plugin.json for it.
    @Test func packagingRefusesADescriptorWithAnotherABIMajor() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-package-abi")
        var f = FixturePlugin()
        f.defines = ["FIXTURE_ABI_MAJOR=2"]
        try f.build(in: dir + "/src")
        let error = #expect(throws: PluginLoadError.self) {
            try PluginPackager.package(library: dir + "/src/libfixture.so", into: dir + "/out")
        }
        #expect(error?.code == .abiMismatch)
        #expect(error?.description.contains("descriptor says ABI major 2") == true)
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/plugin.json"))
    }

    @Test func rejectsSidecarWithAnotherABIMajorBeforeLoading() throws {
        let f = FixturePlugin()
        guard case .object(var m) = f.manifest else { return }
        m["abi"] = ["major": 2, "minor": 0]
        try expectLoadError(f, code: .abiMismatch, messageContains: "plugin ABI 2.0", sidecar: .object(m))
    }

    @Test func rejectsTooSmallDescriptor() throws {
        var f = FixturePlugin()
        f.defines = ["FIXTURE_STRUCT_SIZE=16"]
        try expectLoadError(f, code: .structTooSmall, messageContains: "descriptor too small: struct_size 16")
    }

    /// A descriptor field the host must read or call left NULL is refused with its name: it used
    /// to crash the host (NULL create at install, and at every later start once installed).
    @Test(arguments: [
        ("FIXTURE_NULL_CREATE", "descriptor has no create (NULL)"),
        ("FIXTURE_NULL_ID", "descriptor has no id (NULL)"),
        ("FIXTURE_NULL_MANIFEST", "descriptor has no manifest_json (NULL)"),
    ])
    func rejectsADescriptorWithoutARequiredField(define: String, message: String) throws {
        var f = FixturePlugin()
        f.defines = [define]
        try expectLoadError(f, code: .incompleteDescriptor, messageContains: message)
        // Nor is it packaged.
        let dir = TestSupport.makeTemporaryDirectory("lgpt-package-null")
        try f.build(in: dir + "/src")
        let error = #expect(throws: PluginLoadError.self) {
            try PluginPackager.package(library: dir + "/src/libfixture.so", into: dir + "/out")
        }
        #expect(error?.code == .incompleteDescriptor)
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/plugin.json"))
    }

    /// What the loader refuses is not packaged: a schema that does not compile, a descriptor whose id
    /// differs from its manifest's.
    @Test func packagingChecksWhatTheLoaderChecks() throws {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-package-checks")
        var f = FixturePlugin()
        guard case .object(var m) = f.manifest, var tools = m["tools"]?.arrayValue, case .object(var tool) = tools[0]
        else { return }
        tool["parameters"] = ["type": "object", "properties": ["a": ["$ref": "#/x"]]]
        tools[0] = .object(tool)
        m["tools"] = .array(tools)
        f.manifestOverride = .object(m)
        try f.build(in: dir + "/schema")
        var error = #expect(throws: PluginLoadError.self) {
            try PluginPackager.package(library: dir + "/schema/libfixture.so", into: dir + "/out1")
        }
        #expect(error?.description.contains("$ref is not supported") == true, "\(error?.description ?? "")")
        f = FixturePlugin()
        f.defines = ["FIXTURE_ID_OVERRIDE=\"org.test.other\""]
        try f.build(in: dir + "/id")
        error = #expect(throws: PluginLoadError.self) {
            try PluginPackager.package(library: dir + "/id/libfixture.so", into: dir + "/out2")
        }
        #expect(error?.code == .manifestMismatch)
        #expect(error?.description.contains("descriptor says org.test.other") == true, "\(error?.description ?? "")")
    }

    /// A tool's parameters must describe an object: the host passes arguments as a JSON object and
    /// the model APIs take only object schemas; a "string" schema let `"x"` reach the plugin.
    @Test(arguments: [#"{"type":"string"}"#, "{}", #"{"properties":{"a":{"type":"string"}}}"#])
    func aToolWhoseParametersAreNotAnObjectSchemaIsRefused(parameters: String) throws {
        var f = FixturePlugin()
        guard case .object(var m) = f.manifest, var tools = m["tools"]?.arrayValue, case .object(var tool) = tools[0]
        else { return }
        tool["parameters"] = try JSONValue(parsing: parameters)
        tools[0] = .object(tool)
        m["tools"] = .array(tools)
        f.manifestOverride = .object(m)
        try expectLoadError(f, code: .manifest, messageContains: "tools[0].parameters must describe an object")
    }

    @Test func acceptsDescriptorGrownByAMinorVersion() throws {
        var f = FixturePlugin()
        f.defines = ["FIXTURE_APPENDED_FIELD"]
        let h = try HostHarness()
        let dir = h.pluginDirectory("grown")
        try f.build(in: dir)
        try h.host.load(directory: dir, origin: .config)
        #expect(try h.host.invoke(tool: "noop", arguments: "{}") == "{}")
    }

    @Test func rejectsLibraryWithoutEntrySymbol() throws {
        var f = FixturePlugin()
        f.defines = ["FIXTURE_NO_ENTRY"]
        try expectLoadError(f, code: .missingEntry, messageContains: "exports no lgpt_plugin_entry_v1")
    }

    @Test func rejectsPluginThatRefusesTheHostABI() throws {
        var f = FixturePlugin()
        f.defines = ["FIXTURE_REFUSE"]
        try expectLoadError(f, code: .refusedABI, messageContains: "refused host ABI 1.0")
    }

    @Test func rejectsSHA256MismatchBeforeDlopen() throws {
        let h = try HostHarness()
        let dir = h.pluginDirectory("tampered")
        let lib = try FixturePlugin().build(in: dir)
        // Append a byte: the library still loads, but it is no longer what plugin.json names.
        let handle = try #require(FileHandle(forWritingAtPath: lib))
        handle.seekToEndOfFile()
        handle.write(Data([0]))
        try handle.close()
        let error = #expect(throws: PluginLoadError.self) { try h.host.load(directory: dir, origin: .config) }
        #expect(error?.code == .checksum)
        #expect(error?.file == lib)
        #expect(error?.description.contains("does not match plugin.json") == true)
    }

    @Test func rejectsSidecarThatDiffersFromEmbeddedManifest() throws {
        let f = FixturePlugin()
        guard case .object(var m) = f.manifest else { return }
        m["description"] = "edited after packaging"
        try expectLoadError(f, code: .manifestMismatch, messageContains: "at description", sidecar: .object(m))
    }

    @Test func rejectsDuplicateIDAndKeepsTheFirst() throws {
        let h = try HostHarness()
        let a = h.pluginDirectory("a")
        let b = h.pluginDirectory("b")
        try FixturePlugin().build(in: a)
        try FixturePlugin().build(in: b)
        let loaded = h.host.loadAll([.init(directory: a, origin: .bundled), .init(directory: b, origin: .user)])
        #expect(loaded.map(\.directory) == [a])
        let failure = try #require(h.host.failures.first)
        #expect(failure.error.code == .duplicateID)
        #expect(failure.error.description.contains("duplicate plugin id org.test.fixture: already loaded from \(a)"))
    }

    /// A tool's writes must form one JSON document: a result that is not JSON, or nothing at all, is
    /// the plugin's error, not something to hand on as a result.
    @Test(arguments: [
        (1, "a result that is not JSON (\"{\"oops\": tru\")"), (2, "returned nothing"),
        (3, "a result that is not JSON"),
    ])
    func aResultThatIsNotJSONIsAnError(variant: Int, message: String) throws {
        let h = try HostHarness()
        var bad = FixturePlugin(id: "org.test.badresult")
        bad.defines = ["FIXTURE_BAD_RESULT=\(variant)"]
        try bad.build(in: h.pluginDirectory("bad"))
        try h.host.load(directory: h.pluginDirectory("bad"), origin: .config)
        let error = #expect(throws: ToolCallError.self) { try h.host.invoke(tool: "noop", arguments: "{}") }
        #expect(error?.code == .invalidResult)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("a tool's writes must form one JSON document") == true)
    }

    @Test func failingCreateLeavesTheHostAndOtherPluginsRunning() throws {
        let h = try HostHarness()
        var bad = FixturePlugin(id: "org.test.bad")
        bad.defines = ["FIXTURE_CREATE_FAIL"]
        try bad.build(in: h.pluginDirectory("bad"))
        try FixturePlugin(id: "org.test.good").build(in: h.pluginDirectory("good"))
        h.host.loadAll([
            .init(directory: h.pluginDirectory("bad"), origin: .config),
            .init(directory: h.pluginDirectory("good"), origin: .config),
        ])
        #expect(h.host.plugins.map(\.id) == ["org.test.good"])
        let failure = try #require(h.host.failures.first)
        #expect(failure.error.code == .createFailed)
        #expect(failure.error.description.contains("create() failed with INTERNAL"))
        // The plugin's own reason reached the log.
        #expect(h.warnings.contains { $0.contains("missing fixture.required setting") })
        #expect(try h.host.invoke(tool: "noop", arguments: "{}") == "{}")
    }

    @Test func brokenManifestAndMissingLibraryAreClearErrors() throws {
        let h = try HostHarness()
        let broken = h.pluginDirectory("broken")
        try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
        try "{\"id\": \"org.test.broken\", \"version\": 1".write(
            toFile: broken + "/plugin.json",
            atomically: true,
            encoding: .utf8
        )
        let noKinds = h.pluginDirectory("nokinds")
        let lib = try FixturePlugin(id: "org.test.nokinds").build(in: noKinds)
        guard case .object(var m) = FixturePlugin(id: "org.test.nokinds").manifest else { return }
        m["kinds"] = ["gadget"]
        try FixturePlugin.writeSidecar(in: noKinds, manifest: .object(m), library: "libfixture.so")
        let missing = h.pluginDirectory("missing")
        try FixturePlugin(id: "org.test.missing").build(in: missing)
        try FileManager.default.removeItem(atPath: missing + "/libfixture.so")
        let empty = h.pluginDirectory("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try FixturePlugin(id: "org.test.good").build(in: h.pluginDirectory("good"))
        _ = lib

        h.host.loadAll(
            [broken, noKinds, missing, empty, h.pluginDirectory("good")].map { .init(directory: $0, origin: .config) }
        )
        #expect(h.host.plugins.map(\.id) == ["org.test.good"])
        let messages = h.host.failures.map(\.error.description)
        #expect(messages.count == 4)
        #expect(messages[0].hasPrefix(broken + "/plugin.json: ") && messages[0].contains("JSON"))
        #expect(messages[1].contains("kinds: unknown kind \"gadget\""))
        #expect(messages[2].hasPrefix(missing + "/libfixture.so: library named by plugin.json is missing"))
        #expect(messages[3].contains("missing: every plugin folder needs a plugin.json"))
    }

    @Test func disabledPluginsDoNotLoad() throws {
        let h = try HostHarness(config: "[plugins]\ndisabled = [\"org.test.fixture\"]\n")
        let dir = h.pluginDirectory("off")
        try FixturePlugin().build(in: dir)
        h.host.loadAll([.init(directory: dir, origin: .bundled)])
        #expect(h.host.plugins.isEmpty)
        #expect(h.host.failures.first?.error.code == .disabled)
    }

    @Test func installedPluginWithoutGrantGetsNoPermissions() throws {
        var f = FixturePlugin()
        f.permissions = ["exec": ["commands": ["echo"]]]
        let h = try HostHarness()
        let dir = h.pluginDirectory("nogrant")
        try f.build(in: dir)
        let plugin = try h.host.load(directory: dir, origin: .user)
        #expect(plugin.granted.isEmpty)
        #expect(plugin.manifest.permissions.execCommands == ["echo"])
    }

    @Test func installedPluginWhoseLibraryChangedSinceTheGrantIsRefused() throws {
        var f = FixturePlugin()
        f.permissions = ["exec": ["commands": ["echo"]]]
        let grant = PluginGrant(
            permissions: PluginPermissions(execCommands: ["echo"]),
            grantedAt: "2026-01-01T00:00:00Z",
            librarySHA256: String(repeating: "ab", count: 32)
        )
        let h = try HostHarness(grants: ["org.test.fixture": grant])
        let dir = h.pluginDirectory("changed")
        try f.build(in: dir)
        let error = #expect(throws: PluginLoadError.self) { try h.host.load(directory: dir, origin: .user) }
        #expect(error?.description.contains("differs from the one approved at install") == true)
    }

    @Test func grantNarrowsDeclaredPermissions() throws {
        var f = FixturePlugin()
        f.permissions = ["exec": ["commands": ["echo", "tr"]], "config": ["fixture"]]
        let dir = TestSupport.makeTemporaryDirectory() + "/p"
        let lib = try f.build(in: dir)
        let grant = PluginGrant(
            permissions: PluginPermissions(execCommands: ["echo"]),
            grantedAt: "2026-01-01T00:00:00Z",
            librarySHA256: try #require(sha256Hex(ofFile: lib))
        )
        let h = try HostHarness(grants: ["org.test.fixture": grant])
        let plugin = try h.host.load(directory: dir, origin: .user)
        #expect(plugin.granted == PluginPermissions(execCommands: ["echo"]))
    }
}
