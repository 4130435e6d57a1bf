//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTAgent
import LocalGPTCore
import LocalGPTTesting
import Logging
import Synchronization

/// Records security events (audit) in memory.
final class RecordingEvents: SecurityEventRecorder, @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [SecurityEvent] = []
    func record(_ event: SecurityEvent) { lock.withLock { stored.append(event) } }
    var events: [SecurityEvent] { lock.withLock { stored } }
}

/// Collects a turn's events.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [AgentEvent] = []
    func add(_ e: AgentEvent) { lock.withLock { stored.append(e) } }
    var events: [AgentEvent] { lock.withLock { stored } }
    var text: String {
        events.compactMap {
            if case .text(let t) = $0 { return t }
            return nil
        }.joined()
    }
    var hooks: TurnHooks { TurnHooks(onEvent: { self.add($0) }, approve: { _ in true }) }
}

/// A temporary home with the scripted provider (and optionally the bundled plugins) loaded into a host.
struct AgentHarness {
    static let bundled: String = {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-agent-bundled")
        do {
            try TestSupport.stageBundledPlugins(into: dir)
        } catch {
            fatalError("staging the bundled plugins failed: \(error)")
        }
        return dir
    }()

    static let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    let home: String
    let paths: LocalGPTPaths
    let host: PluginHost
    let scriptFile: String
    let requestsFile: String
    let events = RecordingEvents()

    /// - Parameters:
    ///   - script: one block of events per generate call.
    ///   - config: extra config.toml text.
    ///   - plugins: bundled plugin ids to load (`org.localgpt.tools`, `org.localgpt.text`, ...).
    init(script: [[JSONValue]], config: String = "", plugins: [String] = []) throws {
        home = TestSupport.makeTemporaryDirectory("lgpt-agent")
        paths = LocalGPTPaths(home: home)
        try paths.createDirectories()
        try FileManager.default.createDirectory(atPath: paths.workspace + "/memory", withIntermediateDirectories: true)
        scriptFile = home + "/script.txt"
        requestsFile = home + "/requests.jsonl"
        try ScriptedProvider.script(script).write(toFile: scriptFile, atomically: true, encoding: .utf8)
        let toml = """
            [scripted]
            script = "\(scriptFile)"
            requests = "\(requestsFile)"

            """ + config
        let configuration = try Configuration(toml: toml, environment: ["HOME": home])
        host = PluginHost(
            paths: paths,
            configuration: configuration,
            logger: Self.quietLogger,
            securityEvents: events
        )
        try host.load(directory: ScriptedProvider.sharedDirectory, origin: .config)
        for id in plugins { try host.load(directory: Self.bundled + "/" + id, origin: .bundled) }
    }

    func configuration(_ change: (inout AgentConfiguration) -> Void = { _ in }) -> AgentConfiguration {
        var c = AgentConfiguration(model: "scripted/test")
        change(&c)
        return c
    }

    func agent(
        configuration: AgentConfiguration? = nil,
        persistent: Bool = true,
        policy: String? = nil,
        memory: Bool = true,
        resume: String? = nil,
        guardCommands: Bool = false,
        secretMasker: SecretMasker = SecretMasker()
    ) throws -> Agent {
        let paths = self.paths
        let commandGuard: (@Sendable (String) -> String?)?
        if guardCommands {
            commandGuard = { command in
                do {
                    try ProtectedPaths(paths: paths).checkCommand(
                        command,
                        workingDirectory: paths.workspace,
                        audit: nil
                    )
                    return nil
                } catch {
                    return String(describing: error)
                }
            }
        } else {
            commandGuard = nil
        }
        let memoryTools: MemoryHostTools? =
            memory ? MemoryHostTools(workspace: paths.workspace, secretMasker: secretMasker) : nil
        return try Agent(
            options: AgentOptions(
                configuration: configuration ?? self.configuration(),
                provider: PluginModelProvider(host: host),
                host: host,
                store: persistent ? SessionStore(paths: paths, secretMasker: secretMasker) : nil,
                workspace: paths.workspace,
                memoryTools: memoryTools,
                policy: policy,
                securityEvents: events,
                commandGuard: commandGuard,
                logger: Self.quietLogger,
                secretMasker: secretMasker
            ),
            resume: resume
        )
    }

    /// Every request the scripted provider received, in order.
    var requests: [JSONValue] {
        guard let text = try? String(contentsOfFile: requestsFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
    }

    /// Invokes a plugin tool directly.
    func invoke(_ tool: String, _ arguments: JSONValue) throws -> String {
        try host.invoke(tool: tool, arguments: arguments.encoded())
    }
}

extension JSONValue {
    /// The messages of a request.
    var messages: [JSONValue] { self["messages"]?.arrayValue ?? [] }
    /// The content of the last message of a request.
    var lastContent: String { messages.last?["content"]?.stringValue ?? "" }
    var toolNames: [String] { (self["tools"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue } }
}

/// Every tool result in `messages` answers a call of an earlier assistant message, and every call has
/// exactly one result.
func pairsAreIntact(_ messages: [ChatMessage]) -> Bool {
    var open: Set<String> = []
    var answered: Set<String> = []
    for m in messages {
        switch m.role {
        case .assistant:
            if !open.isEmpty { return false }
            for c in m.toolCalls { open.insert(c.id) }
        case .tool:
            guard let id = m.toolCallID, open.remove(id) != nil, !answered.contains(id) else { return false }
            answered.insert(id)
        case .user, .system:
            if !open.isEmpty { return false }
        }
    }
    return open.isEmpty
}

extension JSONValue {
    /// Element `index` of an array, or nil.
    subscript(index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }
}
