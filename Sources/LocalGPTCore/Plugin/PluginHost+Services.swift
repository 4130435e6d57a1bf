//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin
import Crypto
import Foundation
import Logging

/// The host services behind `lgpt_host_v1`. Every one checks the calling plugin's granted
/// permissions first; a refusal returns `LGPT_ERR_PERMISSION_DENIED`, writes an error document
/// and is logged. Secrets, arguments, stdin and bodies are never logged.
extension PluginHost {
    /// The PATH commands run with (the host's own PATH is not inherited).
    public static let execSearchPath = "/usr/local/bin:/usr/bin:/bin"
    /// Longest timeout a plugin may ask for.
    public static let maxExecTimeoutMilliseconds: Int64 = 600_000

    enum MemoryOperation: String { case search, append }

    func pluginLog(_ plugin: LoadedPlugin, level: Int32, message: String) {
        let lvl: Logger.Level
        switch level {
        case LGPT_LOG_DEBUG: lvl = .debug
        case LGPT_LOG_INFO: lvl = .info
        case LGPT_LOG_WARN: lvl = .warning
        default: lvl = .error
        }
        logger.log(level: lvl, "\(message)", metadata: ["plugin.id": "\(plugin.id)"])
    }

    /// Records a refused service call and tells the plugin why.
    /// What a denial tells the plugin's author: to declare the permission, or, when the manifest
    /// declares it, that the user's grant withholds it.
    static func denialHint(declared: Bool, field: String, plugin id: String) -> String {
        declared
            ? "the manifest declares it in \(field), but the user's grant withholds it (`localgpt plugin info \(id)`)"
            : "declare it in \(field) and have the user grant it"
    }

    /// Refuses a service that acts (exec, http, memory) outside a call the host is making to the
    /// plugin: from `create`, from a thread of its own after the call returned, or with an
    /// `lgpt_call` it made up (rule R6). Nil when the call is in flight.
    func outsideCall(
        _ plugin: LoadedPlugin,
        service: String,
        callID: UInt64,
        out: UnsafePointer<lgpt_sink>
    ) -> lgpt_status? {
        guard !isInFlight(callID: callID, plugin: plugin) else { return nil }
        logger.warning(
            "\(service) refused: not during a call the host made to the plugin",
            metadata: ["plugin.id": "\(plugin.id)", "service": "\(service)", "call.id": "\(callID)"]
        )
        let message =
            "\(service) may be used only during a call the host made to \(plugin.id) (invoke or generate), "
            + "with the lgpt_call it was given (rule R6); not from create() or another thread"
        write(errorDocument(code: "invalid_argument", message: message), to: out)
        return LGPT_ERR_INVALID_ARGUMENT
    }

    func deny(
        _ plugin: LoadedPlugin,
        service: String,
        what: String,
        hint: String,
        out: UnsafePointer<lgpt_sink>?
    ) -> lgpt_status {
        logger.warning(
            "DENIED \(service) \(what)",
            metadata: ["plugin.id": "\(plugin.id)", "service": "\(service)", "requested": "\(what)"]
        )
        securityEvents?.record(
            SecurityEvent(
                action: "permission_denied",
                source: plugin.id,
                details: ["service": .string(service), "requested": .string(what)]
            )
        )
        if let out {
            write(
                errorDocument(
                    code: "permission_denied",
                    message: "\(service) \(what) is not granted to \(plugin.id): \(hint)"
                ),
                to: out
            )
        }
        return LGPT_ERR_PERMISSION_DENIED
    }

    func invalid(_ message: String, out: UnsafePointer<lgpt_sink>?) -> lgpt_status {
        if let out { write(errorDocument(code: "invalid_argument", message: message), to: out) }
        return LGPT_ERR_INVALID_ARGUMENT
    }

    // MARK: exec

    func serviceExec(
        _ plugin: LoadedPlugin,
        call: lgpt_call,
        request text: String,
        out: UnsafePointer<lgpt_sink>
    ) -> lgpt_status {
        if let refused = outsideCall(plugin, service: "exec", callID: call.call_id, out: out) { return refused }
        guard let req = try? JSONValue(parsing: text), case .object = req else {
            return invalid("exec: the request must be a JSON object", out: out)
        }
        var argv: [String]
        let command: String
        if let shell = req["shell"] {
            guard let script = shell.stringValue else { return invalid("exec: \"shell\" must be a string", out: out) }
            argv = ["bash", "-c", script]
            command = "bash"
        } else {
            guard let list = req["argv"]?.arrayValue, !list.isEmpty else {
                return invalid("exec: give \"argv\" (a non-empty array of strings) or \"shell\"", out: out)
            }
            argv = []
            for a in list {
                guard let s = a.stringValue, !s.contains("\0") else {
                    return invalid("exec: argv must hold strings without NUL bytes", out: out)
                }
                argv.append(s)
            }
            command = argv[0]
        }
        guard !command.contains("/") else {
            return invalid("exec: argv[0] must be a command name, not a path (\(command))", out: out)
        }
        guard plugin.granted.allowsExec(command) else {
            return deny(
                plugin,
                service: "exec",
                what: command,
                hint: Self.denialHint(
                    declared: plugin.manifest.permissions.allowsExec(command),
                    field: "permissions.exec.commands",
                    plugin: plugin.id
                ),
                out: out
            )
        }
        guard let executable = ProcessRunner.resolveExecutable(command, searchPath: Self.execSearchPath) else {
            write(errorDocument(code: "not_found", message: "exec: command \"\(command)\" is not installed"), to: out)
            return LGPT_ERR_NOT_FOUND
        }

        // The sandbox: [sandbox] of config.toml plus what this plugin was granted (extra paths; the network
        // only when the user granted it hosts and network.policy = "allow"). A bad [sandbox] never runs the
        // command unconfined.
        let policy: SandboxPolicy
        do {
            policy = try SandboxPolicy(configuration: configuration, paths: paths, permissions: plugin.granted)
        } catch {
            logger.error("exec refused: \(error.message)", metadata: ["plugin.id": "\(plugin.id)"])
            let message = "exec \(command): invalid sandbox configuration: \(error)"
            write(errorDocument(code: "io", message: message), to: out)
            return LGPT_ERR_IO
        }
        var timeoutMs = Self.milliseconds(policy.limits.timeout)
        if let t = req["timeout_ms"] {
            guard let v = t.intValue, v > 0 else {
                return invalid("exec: timeout_ms must be a positive integer", out: out)
            }
            timeoutMs = min(v, Self.maxExecTimeoutMilliseconds)
        }
        let workspace = paths.workspace
        do {
            try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        } catch {
            let message = "exec \(command): cannot create the workspace \(workspace)"
            write(errorDocument(code: "io", message: message), to: out)
            return LGPT_ERR_IO
        }
        var cwd = workspace
        if let c = req["cwd"] {
            guard let s = c.stringValue, !s.contains("\0") else {
                return invalid("exec: cwd must be a string", out: out)
            }
            // Symlinks resolved, as the kernel will: a link in the workspace must not lead out of it.
            cwd = HostFilePolicy.canonical(LocalGPTPaths.absolutePath(s, relativeTo: workspace))
            guard HostFilePolicy.isWithin(cwd, HostFilePolicy.canonical(workspace)) else {
                return invalid("exec: cwd must be inside the workspace (\(s))", out: out)
            }
        }
        var environment: [String: String] = [
            "PATH": Self.execSearchPath, "HOME": workspace, "LANG": "C.UTF-8", "TERM": "dumb",
        ]
        if let env = req["env"] {
            guard let o = env.objectValue else { return invalid("exec: env must be an object of strings", out: out) }
            for (k, v) in o {
                guard let s = v.stringValue, Self.isSafeEnvironmentName(k) else {
                    return invalid(
                        "exec: env \"\(k)\" is not allowed (names are [A-Z_][A-Z0-9_]*, not PATH, HOME or LD_*)",
                        out: out
                    )
                }
                environment[k] = s
            }
        }
        let stdin = Array((req["stdin"]?.stringValue ?? "").utf8)
        let request = ProcessRequest(
            executable: executable,
            arguments: argv,
            environment: environment,  // TMPDIR is set by the runner: the run's private temporary folder
            workingDirectory: cwd,
            standardInput: stdin,
            timeout: .milliseconds(timeoutMs),
            outputLimit: policy.limits.outputBytes,
            sandbox: policy
        )
        let digest = Self.commandDigest(argv)
        let result: ProcessResult
        // The protected files the command could write (the workspace's) are put back if it changes them.
        let protectedFiles = ProtectedFileGuard(paths: paths)
        let guardToken = protectedFiles.begin(Self.protectedFiles(writableUnder: policy, paths: paths))
        reportRecovery(guardToken.recovered)
        if let problem = guardToken.problem {
            logger.warning(
                "protected files are guarded for this command only: \(problem)",
                metadata: ["plugin.id": "\(plugin.id)", "exec.digest": "\(digest)"]
            )
        }
        let outcome = Result { () throws(ProcessRunnerError) -> ProcessResult in
            try ProcessRunner.run(
                request,
                started: { protectedFiles.started(guardToken, processGroup: $0) },
                isCancelled: { [self] in isCancelled(callID: call.call_id) }
            )
        }
        let changed = protectedFiles.end(guardToken)
        switch outcome {
        case .success(let r): result = r
        case .failure(let error):
            let status: lgpt_status = error.code == .executableNotFound ? LGPT_ERR_NOT_FOUND : LGPT_ERR_IO
            if error.code == .sandboxFailed {
                logger.error(
                    "exec not started: \(error.message)",
                    metadata: ["plugin.id": "\(plugin.id)", "exec.command": "\(command)", "exec.digest": "\(digest)"]
                )
            }
            write(errorDocument(code: statusCode(status), message: "exec \(command): \(error.message)"), to: out)
            return status
        }
        let durationMs = Self.milliseconds(result.duration)
        let sandbox = result.sandbox
        let layers = sandbox?.layers.map(\.rawValue) ?? []
        let missing = sandbox?.missing.map(\.layer.rawValue) ?? []
        for warning in sandbox?.warnings ?? [] {
            logger.warning(
                "\(warning)",
                metadata: ["plugin.id": "\(plugin.id)", "exec.command": "\(command)", "exec.digest": "\(digest)"]
            )
        }
        logger.info(
            "exec",
            metadata: [
                "plugin.id": "\(plugin.id)", "exec.command": "\(command)", "exec.digest": "\(digest)",
                "exec.exit": "\(result.exitCode.map(String.init) ?? "signal \(result.signal ?? 0)")",
                "exec.duration_ms": "\(durationMs)",
                "sandbox.level": "\(sandbox?.effectiveLevel.rawValue ?? "none")",
                "sandbox.layers": "\(layers.joined(separator: ","))",
                "sandbox.missing": "\(missing.joined(separator: ","))",
                "sandbox.stray_killed": "\(sandbox?.strayProcessesKilled ?? 0)",
            ]
        )
        securityEvents?.record(
            SecurityEvent(
                action: "sandbox_exec",
                source: plugin.id,
                details: [
                    "command": .string(command), "command_sha256": .string(digest),
                    "exit_code": result.exitCode.map { .int(Int64($0)) } ?? .null,
                    "signal": .int(Int64(result.signal ?? 0)), "timed_out": .bool(result.timedOut),
                    "duration_ms": .int(durationMs),
                    "sandbox_level": .string(sandbox?.effectiveLevel.rawValue ?? "none"),
                    "sandbox_layers": .array(layers.map(JSONValue.string)),
                    "sandbox_missing": .array(missing.map(JSONValue.string)),
                    "stray_processes_killed": .int(Int64(sandbox?.strayProcessesKilled ?? 0)),
                ]
            )
        )
        // A stream cut at the output cap may end in a key's first characters, which no later masking
        // would find: they are hidden here (whole keys are left to be masked where the text is written).
        var stdout = String(decoding: result.standardOutput, as: UTF8.self)
        if result.isStandardOutputTruncated { stdout = secretMasker.maskClippedEnd(stdout) }
        var stderr = String(decoding: result.standardError, as: UTF8.self)
        if result.isStandardErrorTruncated { stderr = secretMasker.maskClippedEnd(stderr) }
        for change in changed {
            let name = recordBlockedWrite(change, source: plugin.id, by: "sandboxed command", digest: digest)
            logger.warning(
                "a sandboxed command changed a protected file",
                metadata: [
                    "plugin.id": "\(plugin.id)", "exec.digest": "\(digest)", "path": "\(name)",
                    "restored": "\(change.restored)",
                ]
            )
            stderr +=
                (stderr.isEmpty || stderr.hasSuffix("\n") ? "" : "\n")
                + (change.restored
                    ? "localgpt: \(name) is protected: the command's change to it was undone\n"
                    : "localgpt: \(name) is protected: the command changed it and it could not be put back\n")
        }
        if result.cancelled {
            write(errorDocument(code: "cancelled", message: "exec \(command) was cancelled"), to: out)
            return LGPT_ERR_CANCELLED
        }
        let reply: JSONValue = .object([
            "exit_code": result.exitCode.map { .int(Int64($0)) } ?? .null,
            "signal": .int(Int64(result.signal ?? 0)),
            "stdout": .string(stdout),
            "stderr": .string(stderr),
            "stdout_truncated": .bool(result.isStandardOutputTruncated),
            "stderr_truncated": .bool(result.isStandardErrorTruncated),
            "stdout_bytes": .int(Int64(result.standardOutputBytes)),
            "stderr_bytes": .int(Int64(result.standardErrorBytes)),
            "timed_out": .bool(result.timedOut),
            "duration_ms": .int(durationMs),
            "sandbox": .object([
                "level": .string(sandbox?.effectiveLevel.rawValue ?? "none"),
                "layers": .array(layers.map(JSONValue.string)),
                "missing": .array(missing.map(JSONValue.string)),
            ]),
        ])
        return write(reply.encoded(), to: out)
    }

    /// Deals with the sandboxed commands of LocalGPT processes that died mid-run (``ProtectedFileGuard/recover()``):
    /// what is left of them is killed, and the protected files they changed are put back and audited.
    /// Run it before the workspace's files are read into a prompt.
    public func recoverProtectedFiles() {
        reportRecovery(ProtectedFileGuard(paths: paths).recover())
    }

    /// Logs and audits what the guard found of commands whose host died.
    public func reportRecovery(_ recovery: ProtectedFileGuard.Recovery) {
        if recovery.processesKilled > 0 {
            logger.warning(
                "killed \(recovery.processesKilled) process(es) left running by a sandboxed command whose LocalGPT process ended mid-run"
            )
        }
        for change in recovery.changes {
            let name = recordBlockedWrite(
                change,
                source: "host",
                by: "sandboxed command of a LocalGPT process that ended mid-run",
                digest: nil
            )
            let outcome =
                (change.restored ? "put back" : "it could not be put back")
                + (change.keptAt.map { "; what it wrote is kept in \($0)" } ?? "")
            logger.warning(
                "\(name) was changed by a sandboxed command whose LocalGPT process ended mid-run: \(outcome)"
            )
        }
    }

    /// Audits a sandboxed command's change to a protected file as `write_blocked`.
    ///
    /// - Returns: the file's name as shown to the user.
    private func recordBlockedWrite(
        _ change: ProtectedFileGuard.Change,
        source: String,
        by: String,
        digest: String?
    ) -> String {
        let name = HostFilePolicy.display(change.path, workspace: paths.workspace)
        var details: [String: JSONValue] = [
            "path": .string(name), "by": .string(by), "restored": .bool(change.restored),
            "kept_at": change.keptAt.map(JSONValue.string) ?? .null,
        ]
        if let digest { details["command_sha256"] = .string(digest) }
        securityEvents?.record(SecurityEvent(action: "write_blocked", source: source, details: details))
        return name
    }

    /// The protected files a command under `policy` could write: those in the workspace or in a
    /// granted write path (the LocalGPT home around the workspace is never granted). The audit log
    /// is left out: the host appends to it while commands run.
    public static func protectedFiles(writableUnder policy: SandboxPolicy, paths: LocalGPTPaths) -> [String] {
        let roots = ([policy.workspace] + policy.writePaths).map(HostFilePolicy.canonical)
        return ProtectedPaths(paths: paths).files.filter { $0.kind != .auditLog }.map {
            HostFilePolicy.canonical($0.path)
        }.filter { file in roots.contains { HostFilePolicy.isWithin(file, $0) } }
    }

    /// The sha256 of the argv (NUL-separated): identifies a command in logs without revealing it.
    static func commandDigest(_ argv: [String]) -> String {
        SHA256.hash(data: Array(argv.joined(separator: "\u{0}").utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func isSafeEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) else { return false }
        guard name.unicodeScalars.allSatisfy({ $0 == "_" || ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
        else { return false }
        return !["PATH", "HOME"].contains(name) && !name.hasPrefix("LD_")
    }

    static func milliseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1000 + atto / 1_000_000_000_000_000
    }

    // MARK: http

    func serviceHTTP(
        _ plugin: LoadedPlugin,
        call: lgpt_call,
        request text: String,
        head: UnsafePointer<lgpt_sink>,
        body: UnsafePointer<lgpt_sink>
    ) -> lgpt_status {
        if let refused = outsideCall(plugin, service: "http", callID: call.call_id, out: head) { return refused }
        guard let req = try? JSONValue(parsing: text), case .object = req else {
            return invalid("http: the request must be a JSON object", out: head)
        }
        guard let url = req["url"]?.stringValue else { return invalid("http: \"url\" is required", out: head) }
        guard let target = Self.hostAndPort(url) else {
            let shown = secretMasker.cut(url, keepingFirst: 200)
            return invalid("http: \"\(shown)\" is not an http or https URL", out: head)
        }
        // Any public host (agent issue, web_fetch): "*" in net.hosts grants every host whose connected
        // address is public (checked after DNS, on every hop); "public_only": true applies that check to a
        // request whatever grants it. `network.allow_private_hosts` (host:port) lists the user's exceptions.
        let anyPublicHost = plugin.granted.netHosts.contains("*")
        var enforcePublic = req["public_only"]?.boolValue == true
        let allowPrivate = Set(configuration.strings("network.allow_private_hosts").map { $0.lowercased() })
        var currentHop = "\(target.host):\(target.port)"
        if !plugin.granted.allowsHTTP(host: target.host, port: target.port) && anyPublicHost { enforcePublic = true }
        guard plugin.granted.allowsHTTP(host: target.host, port: target.port) || anyPublicHost else {
            return deny(
                plugin,
                service: "http",
                what: "\(target.host):\(target.port)",
                hint: "declare the host in permissions.net.hosts and have the user grant it",
                out: head
            )
        }
        var headers: [(name: String, value: String)] = []
        if let h = req["headers"] {
            guard let o = h.objectValue else { return invalid("http: headers must be an object of strings", out: head) }
            for (k, v) in o.sorted(by: { $0.key < $1.key }) {
                guard let s = v.stringValue, !k.contains(where: { $0 == "\r" || $0 == "\n" || $0 == ":" }),
                    !s.contains(where: { $0 == "\r" || $0 == "\n" })
                else { return invalid("http: header \"\(k)\" is malformed", out: head) }
                headers.append((name: k, value: s))
            }
        }
        var request = HTTPRequest(
            method: req["method"]?.stringValue?.uppercased() ?? "GET",
            url: url,
            headers: headers,
            body: Array((req["body"]?.stringValue ?? "").utf8)
        )
        if let t = req["timeout_ms"]?.intValue, t > 0 { request.timeoutMilliseconds = Int(min(t, 600_000)) }

        var deniedRedirect: String? = nil
        var sinkStatus = LGPT_OK
        let client = HTTPClient()
        do {
            _ = try client.perform(
                request,
                allowRedirect: { next in
                    guard let t = Self.hostAndPort(next),
                        plugin.granted.allowsHTTP(host: t.host, port: t.port) || anyPublicHost
                    else {
                        deniedRedirect = next
                        return false
                    }
                    if !plugin.granted.allowsHTTP(host: t.host, port: t.port) { enforcePublic = true }
                    currentHop = "\(t.host):\(t.port)"
                    return true
                },
                allowAddress: { ip in
                    !enforcePublic || allowPrivate.contains(currentHop) || PublicAddress.isPublic(ip)
                },
                isCancelled: { [self] in isCancelled(callID: call.call_id) },
                onHead: { h in
                    var hs: [String: JSONValue] = [:]
                    for (k, v) in h.headers { hs[k] = .string(v) }
                    let doc: JSONValue = .object(["status": .int(Int64(h.status)), "headers": .object(hs)])
                    sinkStatus = write(doc.encoded(), to: head)
                    return sinkStatus == LGPT_OK
                },
                onBody: { chunk in
                    sinkStatus = body.pointee.write(
                        body.pointee.ctx,
                        chunk.baseAddress?.assumingMemoryBound(to: CChar.self),
                        chunk.count
                    )
                    return sinkStatus == LGPT_OK
                }
            )
        } catch {
            if let deniedRedirect, let t = Self.hostAndPort(deniedRedirect) {
                return deny(
                    plugin,
                    service: "http",
                    what: "redirect to \(t.host):\(t.port)",
                    hint: "declare the host in permissions.net.hosts",
                    out: head
                )
            }
            if sinkStatus != LGPT_OK { return sinkStatus }
            if error.code == .addressRefused {
                return deny(
                    plugin,
                    service: "http",
                    what: "non-public address of \(currentHop)",
                    hint: "only public addresses are reachable; list host:port in network.allow_private_hosts",
                    out: head
                )
            }
            let status: lgpt_status
            switch error.code {
            case .timeout: status = LGPT_ERR_TIMEOUT
            case .cancelled: status = LGPT_ERR_CANCELLED
            case .invalidURL, .unsupportedScheme, .invalidRequest: status = LGPT_ERR_INVALID_ARGUMENT
            default: status = LGPT_ERR_IO
            }
            logger.info("http failed", metadata: ["plugin.id": "\(plugin.id)", "http.host": "\(target.host)"])
            write(errorDocument(code: statusCode(status), message: "http: \(error.message)"), to: head)
            return status
        }
        return LGPT_OK
    }

    /// Host and port of an http(s) URL, parsed by libcurl's own parser (the one the request uses),
    /// so the permission check and the connection can never disagree about the host.
    static func hostAndPort(_ url: String) -> (host: String, port: Int)? {
        guard let origin = HTTPOrigin(url: url), origin.scheme == "http" || origin.scheme == "https",
            !origin.host.isEmpty
        else { return nil }
        var host = origin.host.lowercased()
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, origin.port)
    }

    // MARK: memory

    func serviceMemory(
        _ plugin: LoadedPlugin,
        call: lgpt_call,
        operation: MemoryOperation,
        request text: String,
        out: UnsafePointer<lgpt_sink>
    ) -> lgpt_status {
        let service = operation == .search ? "memory_search" : "memory_append"
        if let refused = outsideCall(plugin, service: service, callID: call.call_id, out: out) { return refused }
        let allowed = operation == .search ? plugin.granted.memorySearch : plugin.granted.memoryAppend
        guard allowed else {
            return deny(
                plugin,
                service: "memory_\(operation.rawValue)",
                what: "",
                hint: "declare permissions.memory.\(operation.rawValue) = true",
                out: out
            )
        }
        guard let memory else {
            write(
                errorDocument(
                    code: "unsupported",
                    message: "memory_\(operation.rawValue): this host has no memory service"
                ),
                to: out
            )
            return LGPT_ERR_UNSUPPORTED
        }
        guard let request = try? JSONValue(parsing: text), case .object = request else {
            return invalid("memory_\(operation.rawValue): the request must be a JSON object", out: out)
        }
        do {
            let reply =
                operation == .search
                ? try memory.search(request: request, source: plugin.id)
                : try memory.append(request: secretMasker.mask(request), source: plugin.id)
            return write(reply.encoded(), to: out)
        } catch {
            let status = error.isInvalidRequest ? LGPT_ERR_INVALID_ARGUMENT : LGPT_ERR_IO
            write(
                errorDocument(code: statusCode(status), message: "memory_\(operation.rawValue): \(error.message)"),
                to: out
            )
            return status
        }
    }

    // MARK: config and secrets

    func serviceConfigGet(_ plugin: LoadedPlugin, key: String, out: UnsafePointer<lgpt_sink>) -> lgpt_status {
        guard plugin.granted.allowsConfig(key) else {
            return deny(
                plugin,
                service: "config_get",
                what: key,
                hint: Self.denialHint(
                    declared: plugin.manifest.permissions.allowsConfig(key),
                    field: "permissions.config",
                    plugin: plugin.id
                ),
                out: out
            )
        }
        if key == "secrets" || key.hasPrefix("secrets.") {
            return deny(plugin, service: "config_get", what: key, hint: "secrets are read with secret_get", out: out)
        }
        guard let value = configuration.value(at: key) else { return LGPT_ERR_NOT_FOUND }
        return write(value.encoded(), to: out)
    }

    func serviceSecretGet(_ plugin: LoadedPlugin, name: String, out: UnsafePointer<lgpt_sink>) -> lgpt_status {
        guard plugin.granted.allowsSecret(name) else {
            return deny(
                plugin,
                service: "secret_get",
                what: name,
                hint: Self.denialHint(
                    declared: plugin.manifest.permissions.allowsSecret(name),
                    field: "permissions.secrets",
                    plugin: plugin.id
                ),
                out: out
            )
        }
        guard let value = configuration.secret(named: name) else { return LGPT_ERR_NOT_FOUND }
        logger.debug("secret read", metadata: ["plugin.id": "\(plugin.id)", "secret.name": "\(name)"])
        return write(value, to: out)
    }
}
