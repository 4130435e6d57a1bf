//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import InMemoryLogging
import LocalGPTCore
import LocalGPTTesting
import Logging
import Synchronization
import Testing

/// Grants in grants.json carry an HMAC by the device key; a grant that fails verification refuses
/// its plugin at load time and is recorded.
@Suite struct GrantSigningTests {
    /// Collects the host's security events.
    final class Events: SecurityEventRecorder {
        let events = Mutex<[SecurityEvent]>([])
        func record(_ event: SecurityEvent) { events.withLock { $0.append(event) } }
        var all: [SecurityEvent] { events.withLock { $0 } }
    }

    let home: String
    let paths: LocalGPTPaths
    let key: DeviceKey
    let pluginDirectory: String
    let librarySHA256: String

    init() throws {
        home = TestSupport.makeTemporaryDirectory("lgpt-grants")
        paths = LocalGPTPaths(home: home)
        try paths.createDirectories()
        key = try DeviceKey.loadOrCreate(at: paths.deviceKey).key
        var f = FixturePlugin()
        f.permissions = ["exec": ["commands": ["echo", "tr"]]]
        pluginDirectory = paths.pluginsDirectory + "/org.test.fixture"
        let lib = try f.build(in: pluginDirectory)
        librarySHA256 = try #require(sha256Hex(ofFile: lib))
    }

    var store: PluginGrantStore { PluginGrantStore(path: paths.grantsFile, key: key) }

    func grant(_ commands: Set<String> = ["echo"]) -> PluginGrant {
        PluginGrant(
            permissions: PluginPermissions(execCommands: commands),
            grantedAt: "2026-05-02T10:00:00Z",
            librarySHA256: librarySHA256
        )
    }

    func makeHost(grants: [String: PluginGrant], events: Events) throws -> PluginHost {
        PluginHost(
            paths: paths,
            configuration: try Configuration(toml: "", environment: [:]),
            grants: grants,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
            securityEvents: events
        )
    }

    func editGrantsFile(_ transform: (String) -> String) throws {
        let text = try String(contentsOfFile: paths.grantsFile, encoding: .utf8)
        let edited = transform(text)
        #expect(edited != text, "the edit changed nothing")
        try edited.write(toFile: paths.grantsFile, atomically: true, encoding: .utf8)
    }

    @Test func signedGrantVerifiesAndThePluginGetsIt() throws {
        try store.set(grant(), for: "org.test.fixture")
        let loaded = try store.load()
        #expect(loaded["org.test.fixture"]?.integrity == .verified)
        #expect(loaded["org.test.fixture"]?.mac?.count == 64)
        let events = Events()
        let plugin = try makeHost(grants: loaded, events: events).load(directory: pluginDirectory, origin: .user)
        #expect(plugin.granted == PluginPermissions(execCommands: ["echo"]))
        #expect(events.all.isEmpty)
    }

    @Test func handEditedGrantRefusesThePluginAndIsRecorded() throws {
        try store.set(grant(), for: "org.test.fixture")
        try editGrantsFile { $0.replacingOccurrences(of: "\"echo\"", with: "\"echo\", \"tr\"") }
        let loaded = try store.load()
        guard case .invalid(let reason) = loaded["org.test.fixture"]?.integrity else {
            Issue.record("expected an invalid grant")
            return
        }
        #expect(reason.contains("grants.json was edited"))
        let events = Events()
        let host = try makeHost(grants: loaded, events: events)
        let error = #expect(throws: PluginLoadError.self) { try host.load(directory: pluginDirectory, origin: .user) }
        #expect(error?.file == paths.grantsFile)
        #expect(error?.message.contains("the grant for org.test.fixture is refused") == true)
        #expect(error?.message.contains("localgpt plugin install --force") == true)
        #expect(host.plugins.isEmpty)
        #expect(events.all.map(\.action) == ["grant_tampered"])
        #expect(events.all.first?.source == "org.test.fixture")
    }

    @Test(arguments: ["granted_at", "library_sha256"])
    func editingAnyFieldIsDetected(field: String) throws {
        try store.set(grant(), for: "org.test.fixture")
        try editGrantsFile { text in
            text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.contains("\"\(field)\"")
                    ? line.replacingOccurrences(of: "2026", with: "2027")
                        .replacingOccurrences(of: "\"\(librarySHA256.prefix(4))", with: "\"ffff") : String(line)
            }.joined(separator: "\n")
        }
        guard case .invalid = try store.load()["org.test.fixture"]?.integrity else {
            Issue.record("expected an invalid grant after editing \(field)")
            return
        }
    }

    @Test func grantMovedToAnotherPluginIsDetected() throws {
        try store.set(grant(), for: "org.other.plugin")
        try editGrantsFile { $0.replacingOccurrences(of: "org.other.plugin", with: "org.test.fixture") }
        guard case .invalid = try store.load()["org.test.fixture"]?.integrity else {
            Issue.record("expected an invalid grant")
            return
        }
    }

    @Test func unsignedGrantIsRefused() throws {
        let doc: JSONValue = [
            "version": 1,
            "grants": [
                "org.test.fixture": [
                    "permissions": PluginPermissions(execCommands: ["echo"]).json,
                    "granted_at": "2026-05-02T10:00:00Z", "library_sha256": .string(librarySHA256),
                ]
            ],
        ]
        try doc.encoded(pretty: true).write(toFile: paths.grantsFile, atomically: true, encoding: .utf8)
        let loaded = try store.load()
        #expect(
            loaded["org.test.fixture"]?.integrity
                == .invalid(
                    "it is not signed (edited by hand or written by an older version)"
                )
        )
        let events = Events()
        #expect(throws: PluginLoadError.self) {
            try makeHost(grants: loaded, events: events).load(directory: pluginDirectory, origin: .user)
        }
    }

    @Test func grantSignedWithAnotherDeviceKeyIsRefused() throws {
        try store.set(grant(), for: "org.test.fixture")
        let otherKey = try DeviceKey.loadOrCreate(at: home + "/other_key").key
        let loaded = try PluginGrantStore(path: paths.grantsFile, key: otherKey).load()
        guard case .invalid = loaded["org.test.fixture"]?.integrity else {
            Issue.record("expected an invalid grant")
            return
        }
    }

    @Test func unusableDeviceKeyRefusesEveryGrantWithTheReason() throws {
        try store.set(grant(), for: "org.test.fixture")
        let problem = SecurityError(.deviceKeyInsecure, "device key x has mode 0644; chmod 600 x")
        let loaded = try PluginGrantStore(path: paths.grantsFile, key: .failure(problem)).load()
        #expect(loaded["org.test.fixture"]?.integrity == .invalid("it cannot be verified: \(problem.message)"))
        #expect(throws: SecurityError.self) {
            try PluginGrantStore(path: paths.grantsFile, key: .failure(problem)).set(grant(), for: "x")
        }
    }

    @Test func tamperedGrantRefusesConfiguredPluginsToo() throws {
        try store.set(grant(), for: "org.test.fixture")
        try editGrantsFile { $0.replacingOccurrences(of: "\"echo\"", with: "\"tr\"") }
        let events = Events()
        let host = try makeHost(grants: try store.load(), events: events)
        #expect(throws: PluginLoadError.self) { try host.load(directory: pluginDirectory, origin: .config) }
        #expect(events.all.count == 1)
    }

    @Test func savingOtherGrantsNeverLaundersATamperedOne() throws {
        try store.set(grant(), for: "org.test.fixture")
        try editGrantsFile { $0.replacingOccurrences(of: "\"echo\"", with: "\"tr\"") }
        try store.set(grant(["tr"]), for: "org.other.plugin")
        try store.remove("org.nobody")
        try store.remove("org.other.plugin")
        let loaded = try store.load()
        guard case .invalid = loaded["org.test.fixture"]?.integrity else {
            Issue.record("a tampered grant was re-signed")
            return
        }
        // Granting it again (install --force) makes it valid.
        try store.set(grant(), for: "org.test.fixture")
        #expect(try store.load()["org.test.fixture"]?.integrity == .verified)
    }

    @Test func malformedGrantIsRefusedWithoutBreakingTheOthers() throws {
        try store.set(grant(), for: "org.test.fixture")
        try store.set(grant(), for: "org.other.plugin")
        try editGrantsFile { text in
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            // Put an unknown permission kind into the first grant's permissions.
            if let i = lines.firstIndex(where: { $0.contains("\"permissions\": {") }) {
                lines.insert("        \"root\": true,", at: i + 1)
            }
            return lines.joined(separator: "\n")
        }
        let loaded = try store.load()
        #expect(loaded.count == 2)
        #expect(loaded.values.filter { $0.integrity == .verified }.count == 1)
        #expect(
            loaded.values.contains { if case .invalid(let r) = $0.integrity { r.contains("malformed") } else { false } }
        )
    }
}
