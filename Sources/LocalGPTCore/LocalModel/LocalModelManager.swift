//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTSandbox
import Foundation
public import Logging
import Synchronization

/// Why a local model server is not available.
public struct LocalModelError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        private enum Base: Hashable, Sendable { case invalidName, notInstalled, startFailed, timeout, cancelled }
        private let base: Base
        /// The model name is not a plain file-name stem.
        public static let invalidName = Code(base: .invalidName)
        /// The model file or the llama-server binary is missing.
        public static let notInstalled = Code(base: .notInstalled)
        /// The server could not be started or died while starting.
        public static let startFailed = Code(base: .startFailed)
        /// The server did not become ready in time.
        public static let timeout = Code(base: .timeout)
        /// The caller cancelled the wait.
        public static let cancelled = Code(base: .cancelled)
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }
}

/// A running, ready model server.
public struct LocalModelServer: Sendable, Equatable {
    /// The model name (the GGUF file's stem, or the requested name).
    public var model: String
    public var modelFile: String
    /// `http://127.0.0.1:<port>`: the OpenAI API is under `/v1`.
    public var baseURL: String
    public var pid: Int32
    /// Whether this call started it (false: it was already running).
    public var started: Bool
    /// How long the start and the readiness wait took.
    public var startupMilliseconds: Int
}

/// A model file found in the models folder.
public struct InstalledLocalModel: Sendable, Equatable {
    public var name: String
    public var file: String
    public var bytes: Int64
}

/// Runs llama.cpp's `llama-server` for local models, on behalf of provider plugins (host extension
/// `lgpt.host.local-model/1`, see docs/PROVIDERS.md).
///
/// One server per model, started on first use on a free 127.0.0.1 port with `-t <threads> -c <context>
/// --jinja`; ready once `GET /health` answers 200. A server that died is started again by the next ``ensure``.
/// ``shutdown()`` sends SIGTERM (SIGKILL after a grace period); if the host process dies instead, the kernel
/// kills the server (PR_SET_PDEATHSIG, armed by the spawner on the thread that supervises the server for its
/// whole life).
///
/// Settings (config.toml): `local_model.server` (the llama-server binary), `local_model.models_dir`,
/// `local_model.threads` (2), `local_model.context` (4096), `local_model.extra_args` ([]),
/// `local_model.ready_timeout_ms` (120000). Defaults come from ``LocalGPTPaths/modelsDirectory(environment:)``
/// and the set-up script's layout (`<models>/../llama/build/bin/llama-server`, or `$LOCALGPT_LLAMA_DIR`).
public final class LocalModelManager: Sendable {
    public let serverBinary: String
    public let modelsDirectory: String
    public let threads: Int
    public let contextSize: Int
    public let extraArguments: [String]
    public let readyTimeoutMilliseconds: Int
    /// `OMP_WAIT_POLICY` for the server's OpenMP threads (`local_model.omp_wait_policy`, default `PASSIVE`; empty
    /// keeps libgomp's default). Measured on 2 busy cores (load 13): spinning threads fell to 0.4 tokens/s,
    /// passive ones kept 6-7 tokens/s.
    public let ompWaitPolicy: String
    /// The `local_model.*` settings that were replaced by their default, and why (also logged as
    /// warnings): `config set` refuses a value that would add one.
    public let settingWarnings: [String]
    let logsDirectory: String
    let logger: Logger

    private let servers = Mutex<[String: ServerProcess]>([:])
    /// Serializes starts of one model (other models start concurrently).
    private let starting = Mutex<Set<String>>([])
    private let isShutDown = Atomic<Bool>(false)
    /// Pass `--no-repack`: llama.cpp's AMX weight repacking crashes (SIGSEGV in ggml_backend_amx_mul_mat) on CPUs
    /// that report AMX in a VM without usable tile state. Set when the CPU reports AMX (unless
    /// `local_model.repack = true`), and after a server crashed with a signal while starting.
    private let disableRepack: Atomic<Bool>

    /// Where the local models are installed. The chat model and the memory's embedding model are
    /// both looked for there.
    ///
    /// - Parameters:
    ///   - configuration: `local_model.models_dir` (relative to the home) and the environment.
    ///   - paths: the home, for a relative setting.
    /// - Returns: the setting, else ``LocalGPTPaths/modelsDirectory(environment:)``.
    public static func modelsDirectory(configuration: Configuration, paths: LocalGPTPaths) -> String {
        configuration.string("local_model.models_dir").map {
            LocalGPTPaths.absolutePath($0, relativeTo: paths.home)
        } ?? LocalGPTPaths.modelsDirectory(environment: configuration.environment)
    }

    /// - Parameters:
    ///   - configuration: `local_model.*` settings and the environment (`LOCALGPT_MODELS_DIR`,
    ///     `LOCALGPT_LLAMA_DIR`).
    ///   - paths: where the server's log goes (`logs/llama-server-<model>.log`).
    ///   - logger: start, stop and failure messages.
    public init(configuration: Configuration, paths: LocalGPTPaths, logger: Logger) {
        let env = configuration.environment
        let models = Self.modelsDirectory(configuration: configuration, paths: paths)
        modelsDirectory = models
        if let explicit = configuration.string("local_model.server"), !explicit.isEmpty {
            serverBinary = LocalGPTPaths.absolutePath(explicit, relativeTo: paths.home)
        } else {
            let llamaDir =
                env["LOCALGPT_LLAMA_DIR"].flatMap { $0.isEmpty ? nil : LocalGPTPaths.absolutePath($0) }
                ?? (URL(fileURLWithPath: models).deletingLastPathComponent().path + "/llama")
            serverBinary = llamaDir + "/build/bin/llama-server"
        }
        // A wrong type or a value out of range is said and replaced by the default, never passed to the
        // server (`context = -5` made llama-server abort, reported as a crash while starting).
        var warnings: [String] = []
        func setting(_ key: String, _ fallback: Int, _ range: ClosedRange<Int64>) -> Int {
            guard let value = configuration.value(at: "local_model." + key) else { return fallback }
            guard let i = value.intValue, range.contains(i) else {
                let bounds = "\(range.lowerBound) to \(range.upperBound)"
                let warning = "local_model.\(key) must be a whole number from \(bounds): using \(fallback)"
                warnings.append(warning)
                logger.warning("\(warning)")
                return fallback
            }
            return Int(i)
        }
        threads = setting("threads", 2, 1...1024)
        contextSize = setting("context", 4096, 256...1_048_576)
        extraArguments = configuration.strings("local_model.extra_args")
        readyTimeoutMilliseconds = setting("ready_timeout_ms", 120_000, 1_000...3_600_000)
        settingWarnings = warnings
        ompWaitPolicy = configuration.string("local_model.omp_wait_policy") ?? "PASSIVE"
        logsDirectory = paths.logsDirectory
        self.logger = logger
        let repack = configuration.value(at: "local_model.repack")?.boolValue
        disableRepack = Atomic(repack.map { !$0 } ?? Self.cpuReportsAMX())
    }

    /// Whether /proc/cpuinfo lists AMX (`amx_tile`).
    static func cpuReportsAMX() -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        guard let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        return flags.split(separator: " ").contains("amx_tile")
    }

    deinit { shutdown() }

    /// Whether the llama-server binary is installed.
    public var isServerInstalled: Bool { FileManager.default.isExecutableFile(atPath: serverBinary) }

    /// The GGUF files in the models folder, by name (file name without `.gguf`).
    public func installedModels() -> [InstalledLocalModel] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: modelsDirectory)) ?? []
        return files.filter { $0.hasSuffix(".gguf") && !$0.hasPrefix(".") }.sorted().map { name in
            let path = modelsDirectory + "/" + name
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            return InstalledLocalModel(name: String(name.dropLast(5)), file: path, bytes: size)
        }
    }

    /// The GGUF file for a model name: `<name>.gguf`, else the first `<name>-*.gguf` (a quantization suffix such as
    /// `-q4_k_m`), else nil.
    public func modelFile(named name: String) -> String? {
        guard Self.isValidModelName(name) else { return nil }
        let fm = FileManager.default
        let exact = modelsDirectory + "/" + name + ".gguf"
        if fm.fileExists(atPath: exact) { return exact }
        let lower = name.lowercased()
        return installedModels().first { $0.name.lowercased().hasPrefix(lower + "-") }?.file
    }

    /// Model names are file-name stems: letters, digits, `.`, `_`, `-`; no path.
    public static func isValidModelName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 200 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))
            }
    }

    /// The running servers.
    public func running() -> [LocalModelServer] {
        servers.withLock { Array($0.values) }.filter { $0.isAlive }.map { $0.snapshot(started: false) }
    }

    /// Makes sure the model's server runs and is ready, starting it when needed, and returns it. Blocks.
    ///
    /// - Parameters:
    ///   - model: A model name (``isValidModelName(_:)``).
    ///   - restart: The caller saw the server stop answering: check its health and restart it if unhealthy.
    ///   - timeoutMilliseconds: The most to wait for readiness (default `local_model.ready_timeout_ms`).
    ///   - isCancelled: Polled while waiting.
    /// - Returns: The ready server.
    /// - Throws: ``LocalModelError``.
    public func ensure(
        model: String,
        restart: Bool = false,
        timeoutMilliseconds: Int? = nil,
        isCancelled: () -> Bool = { false }
    ) throws(LocalModelError) -> LocalModelServer {
        guard Self.isValidModelName(model) else {
            throw LocalModelError(
                code: .invalidName,
                message: "\"\(model)\" is not a local model name (letters, digits, '.', '_' and '-' only)"
            )
        }
        guard !isShutDown.load(ordering: .acquiring) else {
            throw LocalModelError(code: .startFailed, message: "the host is shutting down")
        }
        let key = model.lowercased()
        // Fast path: running and ready.
        if !restart, let s = servers.withLock({ $0[key] }), s.isAlive, s.isReady { return s.snapshot(started: false) }

        let deadline = monotonicMilliseconds() + Int64(timeoutMilliseconds ?? readyTimeoutMilliseconds)
        // One start per model at a time: wait for a concurrent start to finish.
        while true {
            let acquired = starting.withLock { $0.insert(key).inserted }
            if acquired { break }
            if isCancelled() { throw LocalModelError(code: .cancelled, message: "cancelled while the model started") }
            if monotonicMilliseconds() > deadline {
                throw LocalModelError(
                    code: .timeout,
                    message: "timed out waiting for the local model \(model) to start"
                )
            }
            usleep(20_000)
        }
        defer { _ = starting.withLock { $0.remove(key) } }

        if let existing = servers.withLock({ $0[key] }), existing.isAlive {
            if existing.isReady && (!restart || existing.isHealthy()) { return existing.snapshot(started: false) }
            if !existing.isReady {
                // Started by a caller that gave up; wait for it.
                if try waitReady(existing, deadline: deadline, isCancelled: isCancelled) {
                    return existing.snapshot(started: false)
                }
            }
            logger.warning("local model server is not healthy; restarting it", metadata: ["model": "\(model)"])
            existing.stop(grace: .seconds(2))
        }
        guard let file = modelFile(named: model) else {
            throw LocalModelError(
                code: .notInstalled,
                message: "the local model \"\(model)\" is not installed in \(modelsDirectory); "
                    + "run scripts/install-llama.sh (or `make setup`) to install it"
            )
        }
        guard isServerInstalled else {
            throw LocalModelError(
                code: .notInstalled,
                message: "llama-server is not installed at \(serverBinary); "
                    + "run scripts/install-llama.sh (or `make setup`) to build it"
            )
        }
        var lastError = LocalModelError(code: .startFailed, message: "the local model server did not start")
        for _ in 0..<3 {
            let started = monotonicMilliseconds()
            let process: ServerProcess
            do {
                process = try start(model: model, file: file)
            } catch {
                lastError = error
                continue
            }
            servers.withLock { $0[key] = process }
            do {
                if try waitReady(process, deadline: deadline, isCancelled: isCancelled) {
                    var s = process.snapshot(started: true)
                    s.startupMilliseconds = Int(monotonicMilliseconds() - started)
                    logger.info(
                        "local model server ready",
                        metadata: [
                            "model": "\(model)", "pid": "\(process.pid)", "port": "\(process.port)",
                            "startup_ms": "\(s.startupMilliseconds)",
                        ]
                    )
                    return s
                }
            } catch {
                process.stop(grace: .seconds(1))
                throw error
            }
            // It died while starting (a port taken in between, a bad model file): report its log. A crash (signal)
            // is retried without weight repacking.
            if process.diedBySignal && !disableRepack.load(ordering: .relaxed) {
                logger.warning("llama-server crashed while starting; retrying with --no-repack")
                disableRepack.store(true, ordering: .relaxed)
            }
            lastError = LocalModelError(
                code: .startFailed,
                message: "llama-server for \(model) exited while starting (\(process.exitDescription)); "
                    + "its last output:\n\(process.logTail(lines: 12))"
            )
            if monotonicMilliseconds() > deadline { break }
        }
        throw lastError
    }

    /// Stops every server (SIGTERM, then SIGKILL after a grace period) and refuses new starts. Idempotent.
    public func shutdown() {
        isShutDown.store(true, ordering: .releasing)
        let all = servers.withLock { s in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for s in all { s.sendTerminate() }
        for s in all { s.stop(grace: .seconds(3)) }
    }

    // MARK: Starting

    private func start(model: String, file: String) throws(LocalModelError) -> ServerProcess {
        guard let port = Self.freeLoopbackPort() else {
            throw LocalModelError(code: .startFailed, message: "no free port on 127.0.0.1")
        }
        var argv = [
            serverBinary, "-m", file, "--host", "127.0.0.1", "--port", String(port), "-t", String(threads),
            "-c", String(contextSize), "--jinja", "--alias", model,
        ]
        if disableRepack.load(ordering: .relaxed) && !extraArguments.contains("--repack") { argv.append("--no-repack") }
        argv += extraArguments
        try? FileManager.default.createDirectory(atPath: logsDirectory, withIntermediateDirectories: true)
        let logPath = logsDirectory + "/llama-server-\(model).log"
        let process = ServerProcess(model: model, file: file, port: port, logPath: logPath, logger: logger)
        var environment = [
            "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
            "HOME=" + (ProcessInfo.processInfo.environment["HOME"] ?? "/"),
        ]
        if !ompWaitPolicy.isEmpty { environment.append("OMP_WAIT_POLICY=" + ompWaitPolicy) }
        try process.launch(argv: argv, environment: environment, workingDirectory: modelsDirectory)
        logger.info("starting local model server", metadata: ["model": "\(model)", "port": "\(port)"])
        return process
    }

    /// Polls /health until 200; false when the process died first.
    private func waitReady(
        _ process: ServerProcess,
        deadline: Int64,
        isCancelled: () -> Bool
    ) throws(LocalModelError)
        -> Bool
    {
        while true {
            if !process.isAlive { return false }
            if process.checkHealth(timeoutMilliseconds: 1000) {
                process.markReady()
                return true
            }
            if isCancelled() {
                throw LocalModelError(code: .cancelled, message: "cancelled while the local model was starting")
            }
            if monotonicMilliseconds() > deadline {
                throw LocalModelError(
                    code: .timeout,
                    message: "the local model \(process.model) did not become ready in time; its last output:\n"
                        + process.logTail(lines: 8)
                )
            }
            usleep(50_000)
        }
    }

    /// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
    static func freeLoopbackPort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// One llama-server process, supervised by its own thread for its whole life: the thread spawns it (so the
/// parent-death signal is tied to a thread that outlives the child), drains its output into the log file,
/// and reaps it.
final class ServerProcess: @unchecked Sendable {
    let model: String
    let file: String
    let port: Int
    let logPath: String
    let logger: Logger

    private struct State {
        var pid: Int32 = -1
        var alive = false
        var reaped = false
        var ready = false
        var exit: lgpt_sandbox_exit_status?
        var tail: [UInt8] = []
    }

    private let state = Mutex(State())
    private let exited = DispatchSemaphore(value: 0)

    init(model: String, file: String, port: Int, logPath: String, logger: Logger) {
        self.model = model
        self.file = file
        self.port = port
        self.logPath = logPath
        self.logger = logger
    }

    var pid: Int32 { state.withLock { $0.pid } }
    var isAlive: Bool { state.withLock { $0.alive } }
    var isReady: Bool { state.withLock { $0.ready } }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    func markReady() { state.withLock { $0.ready = true } }

    func snapshot(started: Bool) -> LocalModelServer {
        LocalModelServer(
            model: model,
            modelFile: file,
            baseURL: baseURL,
            pid: pid,
            started: started,
            startupMilliseconds: 0
        )
    }

    var diedBySignal: Bool { state.withLock { $0.exit?.signaled ?? 0 } != 0 }

    var exitDescription: String {
        guard let e = state.withLock({ $0.exit }) else { return "still running" }
        if e.exited != 0 { return "exit status \(e.exit_code)" }
        if e.signaled != 0 { return "signal \(e.term_signal)" }
        return "unknown status"
    }

    /// The last `lines` lines the server printed.
    func logTail(lines: Int) -> String {
        let text = String(decoding: state.withLock { $0.tail }, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).joined(separator: "\n")
    }

    /// GET /health answers 200.
    func checkHealth(timeoutMilliseconds: Int) -> Bool {
        let request = HTTPRequest(
            method: "GET",
            url: baseURL + "/health",
            timeoutMilliseconds: timeoutMilliseconds,
            connectTimeoutMilliseconds: timeoutMilliseconds,
            maxRedirects: 0,
            maxBodyBytes: 64 << 10
        )
        guard let response = try? HTTPClient().fetch(request) else { return false }
        return response.head.status == 200
    }

    func isHealthy() -> Bool { isAlive && checkHealth(timeoutMilliseconds: 2000) }

    /// Spawns the process on a new supervising thread and returns once it runs (or failed to start).
    func launch(argv: [String], environment: [String], workingDirectory: String) throws(LocalModelError) {
        let launched = DispatchSemaphore(value: 0)
        final class Outcome: @unchecked Sendable { var error: LocalModelError? }
        let outcome = Outcome()
        detachThread(named: "llama-server:\(model)") { [self] in
            let child: lgpt_sandbox_child
            do throws(LocalModelError) {
                child = try Self.spawn(argv: argv, environment: environment, workingDirectory: workingDirectory)
            } catch {
                outcome.error = error
                launched.signal()
                return
            }
            state.withLock {
                $0.pid = child.pid
                $0.alive = true
            }
            launched.signal()
            supervise(child)
        }
        launched.wait()
        if let error = outcome.error { throw error }
    }

    private static func spawn(
        argv: [String],
        environment: [String],
        workingDirectory: String
    ) throws(LocalModelError)
        -> lgpt_sandbox_child
    {
        var child = lgpt_sandbox_child()
        child.struct_size = UInt32(MemoryLayout<lgpt_sandbox_child>.size)
        let result: Int32 = withCStrings(argv) { argvPointer in
            withCStrings(environment) { envPointer in
                argv[0].withCString { path in
                    workingDirectory.withCString { cwd in
                        // No sandbox layer: llama-server is the host's own process, not a plugin's.
                        var options = lgpt_sandbox_spawn_options(
                            struct_size: UInt32(MemoryLayout<lgpt_sandbox_spawn_options>.size),
                            flags: 0,
                            path: path,
                            argv: argvPointer,
                            envp: envPointer,
                            cwd: cwd,
                            sandbox_flags: 0,
                            landlock_ruleset_fd: -1,
                            landlock_restrict_flags: 0,
                            cgroup_procs_fd: -1,
                            rlimits: nil,
                            rlimit_count: 0,
                            reserved: 0,
                            seccomp_filter: nil
                        )
                        return lgpt_sandbox_spawn(&options, &child)
                    }
                }
            }
        }
        guard result == 0 else {
            let step = String(cString: lgpt_sandbox_step_name(child.failed_step))
            throw LocalModelError(
                code: .startFailed,
                message: "cannot start \(argv[0]): \(step): \(String(cString: strerror(result)))"
            )
        }
        return child
    }

    private static func withCStrings<R>(
        _ strings: [String],
        _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    )
        -> R
    {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { for p in pointers { free(p) } }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// Drains stdout and stderr into the log file until the child exits, then reaps it.
    private func supervise(_ child: lgpt_sandbox_child) {
        if child.stdin_fd >= 0 { close(child.stdin_fd) }
        let log =
            FileHandle(forWritingAtPath: logPath)
            ?? {
                _ = FileManager.default.createFile(
                    atPath: logPath,
                    contents: nil,
                    attributes: [.posixPermissions: 0o600]
                )
                return FileHandle(forWritingAtPath: logPath)
            }()
        try? log?.truncate(atOffset: 0)
        var open = [child.stdout_fd, child.stderr_fd].filter { $0 >= 0 }
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if child.pidfd >= 0 { fds.append(pollfd(fd: child.pidfd, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), 500)
            var closed: [Int32] = []
            for fd in open {
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        let chunk = buffer[0..<n]
                        try? log?.write(contentsOf: chunk)
                        state.withLock {
                            $0.tail.append(contentsOf: chunk)
                            if $0.tail.count > 16 << 10 { $0.tail.removeFirst($0.tail.count - (8 << 10)) }
                        }
                        continue
                    }
                    if n == 0 || (errno != EAGAIN && errno != EINTR) { closed.append(fd) }
                    break
                }
            }
            for fd in closed {
                close(fd)
                open.removeAll { $0 == fd }
            }
            if lgpt_sandbox_exited(child.pid) != 0 { break }
        }
        // The child ended: read what is left, then reap it.
        for fd in open { close(fd) }
        if child.pidfd >= 0 { close(child.pidfd) }
        try? log?.close()
        var status = lgpt_sandbox_exit_status()
        let waited = lgpt_sandbox_wait(child.pid, &status)
        let wasReady = state.withLock { s in
            s.alive = false
            s.reaped = true
            s.exit = waited == 0 ? status : nil
            return s.ready
        }
        if wasReady {
            logger.info("local model server exited", metadata: ["model": "\(model)", "status": "\(exitDescription)"])
        }
        exited.signal()
    }

    /// SIGTERM to the process group (only while it is unreaped, so the id cannot have been reused).
    func sendTerminate() {
        state.withLock { s in
            if s.alive && !s.reaped && s.pid > 0 {
                _ = kill(-s.pid, SIGTERM)
                _ = kill(s.pid, SIGTERM)
            }
        }
    }

    /// Stops the process: SIGTERM, then SIGKILL after `grace`; returns once it was reaped.
    func stop(grace: Duration) {
        guard isAlive else { return }
        sendTerminate()
        let graceMs = Int(grace.components.seconds * 1000)
        if exited.wait(timeout: .now() + .milliseconds(graceMs)) == .timedOut {
            state.withLock { s in
                if s.alive && !s.reaped && s.pid > 0 { _ = lgpt_sandbox_kill_group(s.pid) }
            }
            _ = exited.wait(timeout: .now() + .seconds(5))
        }
        exited.signal()  // leave the semaphore signalled for any later stop()
    }
}
