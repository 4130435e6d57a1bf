//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Logging
import Synchronization
import Testing

/// Log lines captured for assertions (secrets must never appear).
final class CapturedLogs: @unchecked Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let sink: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        sink.append("\(event.level) \(event.message) \(event.metadata ?? [:])")
    }
}

/// A temporary home with the bundled providers plugin loaded from the library the build produced.
struct ProviderHarness {
    /// The providers plugin, packaged once per test process.
    static let staged: String = {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-providers")
        do {
            try PluginPackager.package(
                library: TestSupport.binDirectory + "/libLocalGPTPluginProviders.so",
                into: dir + "/org.localgpt.providers"
            )
        } catch {
            Issue.record("packaging the providers plugin failed: \(error)")
        }
        return dir + "/org.localgpt.providers"
    }()

    let home: String
    let paths: LocalGPTPaths
    let logs = CapturedLogs()
    let host: PluginHost
    let router: ProviderRouter

    init(config: String = "", environment: [String: String] = [:], cooldownMilliseconds: Int? = nil) throws {
        home = TestSupport.makeTemporaryDirectory("lgpt-home")
        paths = LocalGPTPaths(home: home)
        try paths.createDirectories()
        let configuration = try Configuration(toml: config, environment: environment)
        let sink = logs
        let logger = Logger(label: "test") { _ in CapturingLogHandler(sink: sink) }
        host = PluginHost(paths: paths, configuration: configuration, logger: logger)
        host.loadAll([PluginCandidate(directory: Self.staged, origin: .bundled)])
        if let failure = host.failures.first { Issue.record("the providers plugin did not load: \(failure.error)") }
        router = ProviderRouter(host: host, cooldownMilliseconds: cooldownMilliseconds)
    }

    /// Runs a generation and collects the events.
    func generate(
        _ model: String?,
        _ request: JSONValue,
        cancelAfterEvents: Int? = nil
    ) -> (result: Result<ProviderTurnResult, ProviderError>, events: [ProviderEvent]) {
        let events = Mutex<[ProviderEvent]>([])
        let result = Result { () throws(ProviderError) -> ProviderTurnResult in
            try router.generate(model: model, request: request) { event in
                let count = events.withLock {
                    $0.append(event)
                    return $0.count
                }
                return cancelAfterEvents.map { count < $0 } ?? true
            }
        }
        return (result, events.withLock { $0 })
    }
}

/// Requests and server bodies used across the protocol tests.
enum Fixtures {
    static let weatherTool: JSONValue = [
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": [
            "type": "object",
            "properties": ["city": ["type": "string", "minLength": 1], "days": ["type": "integer"]],
            "required": ["city"],
            "additionalProperties": false,
        ],
    ]

    static let timeTool: JSONValue = [
        "name": "current_time",
        "description": "The current time.",
        "parameters": ["type": "object", "properties": ["timezone": ["type": "string"]]],
    ]

    static func request(_ user: String = "Hello", tools: [JSONValue] = [], stream: Bool = true) -> JSONValue {
        [
            "messages": [
                ["role": "system", "content": "You are terse."], ["role": "user", "content": .string(user)],
            ],
            "tools": .array(tools),
            "stream": .bool(stream),
        ]
    }

    /// A conversation with a tool call and its result, to check how each provider sends tool results back.
    static let conversationWithToolResult: JSONValue = [
        "messages": [
            ["role": "system", "content": "You are terse."],
            ["role": "user", "content": "Weather in Paris and Oslo?"],
            [
                "role": "assistant", "content": "Checking.",
                "tool_calls": [
                    ["id": "call_a", "name": "get_weather", "arguments": ["city": "Paris"]],
                    ["id": "call_b", "name": "get_weather", "arguments": ["city": "Oslo"]],
                ],
            ],
            ["role": "tool", "tool_call_id": "call_a", "name": "get_weather", "content": "18 C"],
            ["role": "tool", "tool_call_id": "call_b", "name": "get_weather", "content": "no data", "is_error": true],
        ],
        "tools": [weatherTool],
        "stream": true,
    ]

    /// SSE framing of JSON data events (`data: {...}\n\n`), optionally ending with `data: [DONE]`.
    static func sse(_ events: [String], done: Bool = true, named: [String?]? = nil) -> [UInt8] {
        var text = ""
        for (i, e) in events.enumerated() {
            if let name = named?[i] { text += "event: \(name)\n" }
            text += "data: \(e)\n\n"
        }
        if done { text += "data: [DONE]\n\n" }
        return Array(text.utf8)
    }

    /// Splits bytes into chunks of `size` (deliberately cutting JSON, UTF-8 sequences and lines).
    static func chunks(_ bytes: [UInt8], size: Int) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
    }

    static func text(_ events: [ProviderEvent]) -> String {
        events.compactMap { if case .text(let t) = $0 { return t } else { return nil } }.joined()
    }

    static func textEventCount(_ events: [ProviderEvent]) -> Int {
        events.filter { if case .text = $0 { return true } else { return false } }.count
    }
}

extension Result {
    var value: Success? { try? get() }
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

extension JSONValue {
    /// An array element, or nil.
    subscript(index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }
}
