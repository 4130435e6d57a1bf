//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin
import Foundation
public import Logging
import Synchronization

/// A plugin that could not be loaded, kept so `plugin list` can show what to fix.
public struct PluginLoadFailure: Sendable {
    public var directory: String
    public var origin: PluginOrigin
    /// The id from plugin.json, when it could be read.
    public var id: String?
    public var error: PluginLoadError
}

/// A tool as the host exposes it.
public struct ToolDescriptor: Sendable, Equatable {
    public var pluginID: String
    public var name: String
    public var description: String
    public var parameters: JSONValue
    public var sideEffects: String
    /// `<plugin id>/<tool name>`: unique across plugins.
    public var qualifiedName: String { pluginID + "/" + name }
}

/// The plugin host: loads plugins, keeps the registry, routes tool calls and provider requests,
/// and serves every host-service call a plugin makes (checked against its granted permissions).
///
/// Thread-safe: tool calls may run concurrently from any thread. Calls into plugins block the
/// calling thread; call them from a thread that may block, not from the Swift concurrency pool.
public final class PluginHost: Sendable {
    public let paths: LocalGPTPaths
    public let configuration: Configuration
    public let logger: Logger
    let grants: [String: PluginGrant]
    /// The largest tool result the host accepts from a plugin.
    public let maxToolOutputBytes: Int
    /// Where security events (denials, sandboxed runs) are recorded, besides the log.
    public let securityEvents: (any SecurityEventRecorder)?
    /// Serves `memory_search` / `memory_append`; nil answers UNSUPPORTED.
    public let memory: (any MemoryService)?
    /// Library hashes remembered across starts; nil hashes every library at every load.
    public let libraryHashes: LibraryHashCache?
    /// Runs local model servers (llama-server) for provider plugins (extension `lgpt.host.local-model/1`);
    /// they are stopped by ``shutdown()`` and when the host is released.
    public let localModels: LocalModelManager
    /// Hides the secret values (``SecretMasker``) in what plugins append to memory and in provider
    /// errors: the configuration's, and those ``load(directory:origin:)`` adds, each plugin's granted
    /// secrets (from the environment too), so every holder of this masker hides them.
    public let secretMasker: SecretMasker

    private struct Registry {
        var plugins: [LoadedPlugin] = []
        var byID: [String: LoadedPlugin] = [:]
        var failures: [PluginLoadFailure] = []
        /// Tool name -> owning plugins (several when two plugins use one name).
        var toolsByName: [String: [LoadedPlugin]] = [:]
    }

    private let registry = Mutex(Registry())
    private let calls = Mutex(Calls())
    private let nextCallID = Atomic<UInt64>(1)
    /// The calls the host is making now (call id: the plugin), and those asked to stop.
    private struct Calls {
        var inFlight: [UInt64: ObjectIdentifier] = [:]
        var cancelled: Set<UInt64> = []
    }

    /// - Parameters:
    ///   - paths: the LocalGPT home.
    ///   - configuration: config.toml, for `config_get`, `secret_get` and `plugins.disabled`.
    ///   - grants: the user's grants by plugin id (``PluginGrantStore``).
    ///   - logger: where plugin log lines and denials go.
    ///   - maxToolOutputBytes: the largest tool result accepted from a plugin.
    ///   - securityEvents: the audit recorder, if any.
    ///   - memory: the memory service, if any.
    ///   - libraryHashes: the library hash cache, if any (saved by ``loadAll(_:)``).
    ///   - secretMasker: the configuration's secret values (default: built from `configuration`); the
    ///     host adds its plugins' secrets to it.
    public init(
        paths: LocalGPTPaths,
        configuration: Configuration,
        grants: [String: PluginGrant] = [:],
        logger: Logger,
        maxToolOutputBytes: Int = 16 << 20,
        securityEvents: (any SecurityEventRecorder)? = nil,
        memory: (any MemoryService)? = nil,
        libraryHashes: LibraryHashCache? = nil,
        secretMasker: SecretMasker? = nil
    ) {
        self.libraryHashes = libraryHashes
        self.secretMasker = secretMasker ?? SecretMasker(configuration: configuration)
        self.securityEvents = securityEvents
        self.memory = memory
        self.paths = paths
        self.configuration = configuration
        self.grants = grants
        self.logger = logger
        self.maxToolOutputBytes = maxToolOutputBytes
        self.localModels = LocalModelManager(configuration: configuration, paths: paths, logger: logger)
    }

    deinit {
        for plugin in registry.withLock({ $0.plugins }) { plugin.destroy() }
        localModels.shutdown()
    }

    // MARK: Registry

    /// The loaded plugins, in load order.
    public var plugins: [LoadedPlugin] { registry.withLock { $0.plugins } }

    /// The plugins that failed to load, with why.
    public var failures: [PluginLoadFailure] { registry.withLock { $0.failures } }

    public func plugin(id: String) -> LoadedPlugin? { registry.withLock { $0.byID[id] } }

    /// Every tool of every loaded plugin.
    public var tools: [ToolDescriptor] {
        plugins.flatMap { p in
            p.manifest.tools.map {
                ToolDescriptor(
                    pluginID: p.id,
                    name: $0.name,
                    description: $0.description,
                    parameters: $0.parameters,
                    sideEffects: $0.sideEffects
                )
            }
        }
    }

    /// The provider plugin whose longest model prefix matches `model`.
    public func provider(forModel model: String) -> (plugin: LoadedPlugin, provider: PluginManifest.Provider)? {
        var best: (LoadedPlugin, PluginManifest.Provider, Int)? = nil
        for p in plugins {
            for provider in p.manifest.providers {
                for prefix in provider.modelPrefixes where model.hasPrefix(prefix) {
                    if prefix.count > (best?.2 ?? -1) { best = (p, provider, prefix.count) }
                }
            }
        }
        return best.map { ($0.0, $0.1) }
    }

    /// Loads every candidate; failures are recorded and logged, and never stop the others.
    /// Returns the plugins that loaded.
    @discardableResult
    public func loadAll(_ candidates: [PluginCandidate]) -> [LoadedPlugin] {
        var loaded: [LoadedPlugin] = []
        for c in candidates {
            do {
                loaded.append(try load(directory: c.directory, origin: c.origin))
            } catch {
                recordFailure(directory: c.directory, origin: c.origin, error: error)
            }
        }
        libraryHashes?.save()
        return loaded
    }

    func recordFailure(directory: String, origin: PluginOrigin, error: PluginLoadError) {
        let id = (try? JSONValue(parsing: Data(contentsOf: URL(fileURLWithPath: directory + "/plugin.json"))))?["id"]?
            .stringValue
        registry.withLock {
            $0.failures.append(PluginLoadFailure(directory: directory, origin: origin, id: id, error: error))
        }
        if error.code == .disabled {
            logger.debug("plugin disabled", metadata: ["plugin.dir": "\(directory)"])
        } else {
            logger.error("plugin not loaded: \(error.description)", metadata: ["plugin.origin": "\(origin.rawValue)"])
        }
    }

    /// Publishes a created plugin, unless another plugin already took its id.
    func register(_ plugin: LoadedPlugin) -> LoadedPlugin? {
        registry.withLock { r in
            if let existing = r.byID[plugin.id] { return existing }
            r.plugins.append(plugin)
            r.byID[plugin.id] = plugin
            for t in plugin.manifest.tools { r.toolsByName[t.name, default: []].append(plugin) }
            return nil
        }
    }

    func isRegistered(id: String) -> LoadedPlugin? { registry.withLock { $0.byID[id] } }

    /// After ``shutdown()`` a plugin's instance is destroyed (its state, and the host table it kept, may be
    /// freed): calling into it would be a use after free, so the call fails instead. A call that got in
    /// first holds the destruction off until it returns (``LoadedPlugin/enterCall()``).
    private static func enterCall(_ plugin: LoadedPlugin) throws(ToolCallError) {
        guard plugin.enterCall() else {
            throw .pluginFailed(LGPT_ERR_UNSUPPORTED, "plugin \(plugin.id) was stopped with the host (shutdown)")
        }
    }

    /// Destroys every plugin instance, each after the calls running in it have returned (a call still
    /// running after ``LoadedPlugin/destroyGracePeriod`` leaves its instance alive, logged); then stops
    /// the local model servers. Later calls fail.
    public func shutdown() {
        for plugin in plugins {
            let destroyed = plugin.destroy()
            // false also for a plugin destroyed by an earlier shutdown(): only a running call is news.
            if !destroyed && plugin.activeCalls.load(ordering: .relaxed) > 0 {
                logger.warning(
                    "plugin still running a call at shutdown; its instance is left alive",
                    metadata: ["plugin.id": "\(plugin.id)"]
                )
            }
        }
        localModels.shutdown()
    }

    // MARK: Calls

    /// A new call id, unique within the process.
    public func makeCallID() -> UInt64 {
        nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Asks the plugin running `callID` to stop (cooperative: sinks refuse further writes and
    /// `is_cancelled` answers 1).
    public func cancel(callID: UInt64) {
        _ = calls.withLock { $0.cancelled.insert(callID) }
    }

    public func isCancelled(callID: UInt64) -> Bool {
        calls.withLock { $0.cancelled.contains(callID) }
    }

    /// Whether `callID` is a call the host is making to `plugin` now: the host services that act
    /// (exec, http, memory, files, local_model.ensure) serve only those (rule R6).
    func isInFlight(callID: UInt64, plugin: LoadedPlugin) -> Bool {
        calls.withLock { $0.inFlight[callID] == ObjectIdentifier(plugin) }
    }

    private func beginCall(_ callID: UInt64, plugin: LoadedPlugin) {
        calls.withLock { $0.inFlight[callID] = ObjectIdentifier(plugin) }
    }

    private func finishCall(_ callID: UInt64) {
        calls.withLock {
            $0.cancelled.remove(callID)
            $0.inFlight.removeValue(forKey: callID)
        }
    }

    /// Finds a tool by `<plugin id>/<name>`, or by bare name when only one plugin has it.
    ///
    /// - Throws: ``ToolCallError`` when no plugin or several plugins have that tool.
    public func resolveTool(_ name: String) throws(ToolCallError) -> (LoadedPlugin, PluginManifest.Tool) {
        // Searching the UTF-8 view skips grapheme breaking: half the cost of a resolve otherwise.
        if let slash = name.utf8.lastIndex(of: UInt8(ascii: "/")) {
            let id = String(name[..<slash])
            let toolName = String(name[name.utf8.index(after: slash)...])
            guard let plugin = plugin(id: id) else {
                throw .notFound("no loaded plugin \"\(id)\" (see `localgpt plugin list`)")
            }
            guard let tool = plugin.manifest.tools.first(where: { $0.name == toolName }) else {
                throw .notFound("plugin \(id) has no tool \"\(toolName)\"")
            }
            return (plugin, tool)
        }
        let owners = registry.withLock { $0.toolsByName[name] ?? [] }
        switch owners.count {
        case 0: throw .notFound("no tool named \"\(name)\" (see `localgpt tool list`)")
        case 1: return (owners[0], owners[0].manifest.tools.first { $0.name == name }!)
        default:
            throw .notFound(
                "\"\(name)\" is ambiguous; use one of: " + owners.map { "\($0.id)/\(name)" }.joined(separator: ", ")
            )
        }
    }

    /// Runs a tool: validates `arguments` (a JSON object) against the tool's schema, then calls the
    /// plugin with what was validated (flat arguments with distinct plain names as given, anything
    /// else re-encoded) and returns the JSON it wrote. Blocks the calling thread.
    ///
    /// - Throws: ``ToolCallError``: unknown tool, arguments that are not JSON or violate the schema
    ///   (the plugin is never called), or the plugin's own error.
    public func invoke(tool name: String, arguments: String, callID: UInt64? = nil) throws(ToolCallError) -> String {
        let (plugin, tool) = try resolveTool(name)
        var arguments = arguments.isEmpty ? "{}" : arguments
        let schema = plugin.schemas[tool.name]
        // Flat arguments of plain values are checked straight from their bytes; anything else is
        // parsed and validated in full, which also words the error.
        if !(schema.map { s in arguments.withUTF8 { s.acceptsFlatArguments($0) } } ?? false) {
            let args: JSONValue
            do {
                args = try JSONValue(parsing: arguments)
            } catch {
                throw .invalidArguments("arguments for \(tool.name) are not JSON: \(error)")
            }
            if let schema, let violation = schema.validate(args).first {
                throw .invalidArguments("arguments for \(tool.name) rejected: \(violation)")
            }
            // The plugin gets what was validated: a name given twice (`{"path":"","path":"/"}`, where
            // the last counts here and a plugin's parser may take the first), a byte-order mark or odd
            // spacing would otherwise reach it as typed (`tool call --args`).
            arguments = args.encoded()
        }
        guard let invoke = plugin.descriptor.pointee.invoke else {
            throw .pluginFailed(LGPT_ERR_UNSUPPORTED, "plugin \(plugin.id) has no invoke function")
        }
        try Self.enterCall(plugin)
        defer { plugin.leaveCall() }
        let id = callID ?? makeCallID()
        beginCall(id, plugin: plugin)
        defer { finishCall(id) }
        let deadline = tool.timeoutMilliseconds.map { monotonicMilliseconds() + Int64($0) } ?? 0
        let sink = CollectingSink(limit: maxToolOutputBytes)
        let status: lgpt_status = Self.emptyTraceID.withUnsafeBufferPointer { trace in
            var call = lgpt_call(
                struct_size: UInt32(MemoryLayout<lgpt_call>.size),
                flags: 0,
                call_id: id,
                deadline_ms: deadline,
                trace_id: trace.baseAddress!
            )
            return tool.name.withCString { cName in
                arguments.withCString { cArgs in
                    sink.withSink { out in
                        plugin.withCallLock {
                            invoke(plugin.instance, &call, cName, cArgs, strlen(cArgs), out)
                        }
                    }
                }
            }
        }
        if sink.overflowed {
            throw .outputTooLarge("\(tool.name) wrote more than \(maxToolOutputBytes) bytes; the result was dropped")
        }
        let output = sink.text
        guard status == LGPT_OK else {
            if isCancelled(callID: id) || status == LGPT_ERR_CANCELLED {
                throw .cancelled("\(tool.name) was cancelled")
            }
            throw .pluginFailed(
                status,
                Self.errorMessage(in: output) ?? "\(tool.name) failed with \(statusName(status))"
            )
        }
        // The ABI's contract: a tool's writes form one JSON document. Anything else is the plugin's bug,
        // said here rather than handed on as if it were a result.
        // The check accepts exactly what the host's parser accepts (invalid UTF-8 and lone surrogates
        // are refused), so every reader of the result can read it; it allocates nothing, which keeps
        // this path (invoke's ≤ 2 µs) as it was.
        guard sink.bytes.withUnsafeBufferPointer({ JSONSyntax.isValid($0) }) else {
            // Cut with the masker: the message reaches the session, where a key's first characters alone
            // would no longer be found.
            let start = secretMasker.cut(output, keepingFirst: 80).unicodeScalars.map {
                $0.value < 0x20 ? "?" : String($0)
            }.joined()
            throw .invalidResult(
                "\(tool.name) returned \(sink.bytes.isEmpty ? "nothing" : "a result that is not JSON (\"\(start)\")"); "
                    + "a tool's writes must form one JSON document"
            )
        }
        return output
    }

    /// Runs a provider plugin's `generate`: `onEvent` receives each JSON event as it arrives and
    /// returns false to cancel. Blocks the calling thread.
    ///
    /// - Throws: ``ToolCallError`` when the plugin fails or the call is cancelled.
    public func generate(
        plugin: LoadedPlugin,
        request: String,
        callID: UInt64? = nil,
        onEvent: @escaping (String) -> Bool
    ) throws(ToolCallError) {
        guard let generate = plugin.descriptor.pointee.generate else {
            throw .pluginFailed(LGPT_ERR_UNSUPPORTED, "plugin \(plugin.id) provides no models")
        }
        try Self.enterCall(plugin)
        defer { plugin.leaveCall() }
        let id = callID ?? makeCallID()
        beginCall(id, plugin: plugin)
        defer { finishCall(id) }
        var lastError: String? = nil
        let sink = ForwardingSink { [self] bytes in
            if isCancelled(callID: id) { return LGPT_ERR_CANCELLED }
            let event = String(decoding: bytes, as: UTF8.self)
            if let message = Self.errorMessage(in: event) { lastError = message }
            return onEvent(event) ? LGPT_OK : LGPT_ERR_CANCELLED
        }
        let status: lgpt_status = Self.emptyTraceID.withUnsafeBufferPointer { trace in
            var call = lgpt_call(
                struct_size: UInt32(MemoryLayout<lgpt_call>.size),
                flags: 0,
                call_id: id,
                deadline_ms: 0,
                trace_id: trace.baseAddress!
            )
            return request.withCString { cReq in
                sink.withSink { events in
                    plugin.withCallLock { generate(plugin.instance, &call, cReq, strlen(cReq), events) }
                }
            }
        }
        guard status == LGPT_OK else {
            if status == LGPT_ERR_CANCELLED { throw .cancelled("generation was cancelled") }
            throw .pluginFailed(status, lastError ?? "\(plugin.id) failed with \(statusName(status))")
        }
    }

    private static let emptyTraceID: [CChar] = [0]

    /// The message of an error document `{"error": {"message": ...}}`, if `text` is one.
    static func errorMessage(in text: String) -> String? {
        guard text.contains("\"error\""), let doc = try? JSONValue(parsing: text) else { return nil }
        if let e = doc["error"] {
            return e["message"]?.stringValue ?? e.stringValue
        }
        if doc["type"]?.stringValue == "error" { return doc["message"]?.stringValue }
        return nil
    }
}

/// Why a tool call or a generation failed.
public struct ToolCallError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        private enum Base: Hashable, Sendable {
            case notFound, invalidArguments, pluginFailed, outputTooLarge, cancelled, invalidResult
        }
        private let base: Base
        public static let notFound = Code(base: .notFound)
        public static let invalidArguments = Code(base: .invalidArguments)
        public static let pluginFailed = Code(base: .pluginFailed)
        public static let outputTooLarge = Code(base: .outputTooLarge)
        public static let cancelled = Code(base: .cancelled)
        /// The plugin reported success but its writes are not one JSON document.
        public static let invalidResult = Code(base: .invalidResult)
    }

    public var code: Code
    /// The plugin's `lgpt_status` for `.pluginFailed`.
    public var status: Int32
    public var message: String
    public var description: String { message }

    static func notFound(_ m: String) -> Self { .init(code: .notFound, status: LGPT_ERR_NOT_FOUND, message: m) }
    static func invalidArguments(_ m: String) -> Self {
        .init(code: .invalidArguments, status: LGPT_ERR_INVALID_ARGUMENT, message: m)
    }
    static func pluginFailed(_ s: Int32, _ m: String) -> Self { .init(code: .pluginFailed, status: s, message: m) }
    static func outputTooLarge(_ m: String) -> Self { .init(code: .outputTooLarge, status: LGPT_ERR_IO, message: m) }
    static func cancelled(_ m: String) -> Self { .init(code: .cancelled, status: LGPT_ERR_CANCELLED, message: m) }
    static func invalidResult(_ m: String) -> Self { .init(code: .invalidResult, status: LGPT_ERR_IO, message: m) }
}

func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
