// The host's process runner: the one path through which any plugin-requested process starts.
//
// Spawning happens in C (CLocalGPTSandbox, lgpt_sandbox_spawn): fork, async-signal-safe setup in the
// child, execve. This file supervises the child: it feeds stdin and drains stdout/stderr with poll(),
// enforces the timeout, the output caps and cancellation, kills the child's whole process group, and
// reaps it. With a sandbox policy in the request, the kernel sandbox (Landlock, seccomp, rlimits, a pids
// cgroup, no_new_privs, no capabilities) is prepared here before the fork (PreparedSandbox) and applied
// by the child inside lgpt_sandbox_spawn, right before execve; see docs/SANDBOX.md.

import CLocalGPTSandbox
import Glibc

/// A process to run: what, with which arguments and environment, where, with which input and limits.
public struct ProcessRequest: Sendable {
    /// The default timeout: 30 seconds.
    public static let defaultTimeout: Duration = .seconds(30)
    /// The default cap on each of stdout and stderr: 1 MiB.
    public static let defaultOutputLimit = 1 << 20

    /// Absolute path of the executable; no PATH search happens
    /// (see ``ProcessRunner/resolveExecutable(_:searchPath:)``).
    public var executable: String
    /// The complete argv, `argv[0]` included. When empty, argv is `[executable]`.
    public var arguments: [String]
    /// The exact environment of the child: nothing is inherited from the host.
    public var environment: [String: String]
    /// The working directory of the child.
    public var workingDirectory: String
    /// Bytes written to the child's stdin, which is then closed. When empty, stdin is `/dev/null`.
    public var standardInput: [UInt8]
    /// Wall-clock limit (monotonic clock); when it passes, the whole process group is killed. Must be positive.
    public var timeout: Duration
    /// The most bytes kept of each of stdout and stderr; the child may write more (it is counted and discarded).
    public var outputLimit: Int
    /// The kernel sandbox to run the process in; nil runs it unconfined (the host's own tools).
    ///
    /// With a policy, the child also gets a private temporary folder (created for the run, removed
    /// after it) as `TMPDIR`, and leaves the host's session (no controlling terminal). The layers the
    /// kernel lacks are left out and listed in ``ProcessResult/sandbox``.
    public var sandbox: SandboxPolicy?

    /// Creates a request.
    public init(
        executable: String,
        arguments: [String] = [],
        environment: [String: String] = [:],
        workingDirectory: String,
        standardInput: [UInt8] = [],
        timeout: Duration = ProcessRequest.defaultTimeout,
        outputLimit: Int = ProcessRequest.defaultOutputLimit,
        sandbox: SandboxPolicy? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.standardInput = standardInput
        self.timeout = timeout
        self.outputLimit = outputLimit
        self.sandbox = sandbox
    }
}

/// How a process ended and what it wrote.
public struct ProcessResult: Sendable {
    /// The exit status (0...255) when the process exited normally; nil when a signal terminated it.
    public var exitCode: Int32?
    /// The terminating signal (9 after a timeout or cancellation); nil when the process exited normally.
    public var signal: Int32?
    /// What the process wrote to stdout, at most the request's `outputLimit` bytes.
    public var standardOutput: [UInt8]
    /// What the process wrote to stderr, at most the request's `outputLimit` bytes.
    public var standardError: [UInt8]
    /// How many bytes the process wrote to stdout in total, including those past the cap.
    public var standardOutputBytes: Int
    /// How many bytes the process wrote to stderr in total, including those past the cap.
    public var standardErrorBytes: Int
    /// Whether the timeout passed and the process group was killed.
    public var timedOut: Bool
    /// Whether `isCancelled` returned true and the process group was killed.
    public var cancelled: Bool
    /// From just before the spawn until the process was reaped, on the monotonic clock.
    public var duration: Duration
    /// With a sandbox policy: the layers applied, the ones missing (and why), and what the cleanup
    /// found (processes left in the run's cgroup). Nil without a policy.
    public var sandbox: SandboxReport?

    /// Whether stdout was cut at the cap.
    public var isStandardOutputTruncated: Bool { standardOutputBytes > standardOutput.count }
    /// Whether stderr was cut at the cap.
    public var isStandardErrorTruncated: Bool { standardErrorBytes > standardError.count }
    /// Whether the process exited with status 0 on its own (no timeout, no cancellation).
    public var succeeded: Bool { exitCode == 0 && !timedOut && !cancelled }

    /// Creates a result (useful for test doubles of code that consumes results).
    public init(
        exitCode: Int32?,
        signal: Int32? = nil,
        standardOutput: [UInt8] = [],
        standardError: [UInt8] = [],
        standardOutputBytes: Int? = nil,
        standardErrorBytes: Int? = nil,
        timedOut: Bool = false,
        cancelled: Bool = false,
        duration: Duration = .zero,
        sandbox: SandboxReport? = nil
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.standardOutputBytes = standardOutputBytes ?? standardOutput.count
        self.standardErrorBytes = standardErrorBytes ?? standardError.count
        self.timedOut = timedOut
        self.cancelled = cancelled
        self.duration = duration
        self.sandbox = sandbox
    }
}

/// Why a process could not be started. Messages name the executable (and the working directory where
/// relevant) and the system's reason, never the arguments, environment values or stdin.
public struct ProcessRunnerError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Hashable, Sendable {
            case invalidRequest
            case executableNotFound
            case permissionDenied
            case workingDirectoryNotFound
            case spawnFailed
            case sandboxFailed
        }

        private let kind: Kind

        private init(_ kind: Kind) { self.kind = kind }

        /// The request is malformed: a relative executable path, a NUL byte in a string, a bad
        /// environment variable name, a non-positive timeout or a negative output limit.
        public static let invalidRequest = Code(.invalidRequest)
        /// The executable (or the interpreter named by its `#!` line) does not exist.
        public static let executableNotFound = Code(.executableNotFound)
        /// The executable or the working directory may not be used (EACCES / EPERM).
        public static let permissionDenied = Code(.permissionDenied)
        /// The working directory does not exist or is not a directory.
        public static let workingDirectoryNotFound = Code(.workingDirectoryNotFound)
        /// Anything else: out of processes or descriptors, not a valid executable format, ...
        public static let spawnFailed = Code(.spawnFailed)
        /// The request's sandbox could not be prepared or applied (see ``SandboxError``): the
        /// process was not started.
        public static let sandboxFailed = Code(.sandboxFailed)

        public var description: String { kind.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation.
    public var message: String
    /// The underlying `errno` value, when a system call failed.
    public var systemError: Int32?

    /// Creates an error.
    public init(code: Code, message: String, systemError: Int32? = nil) {
        self.code = code
        self.message = message
        self.systemError = systemError
    }

    public var description: String { "\(code): \(message)" }
}

/// Runs processes for plugins: spawns (through CLocalGPTSandbox), feeds stdin, collects capped output,
/// enforces timeout and cancellation, and always reaps the child.
///
/// Process-wide side effect: the first run makes the host ignore SIGPIPE (unless a handler is already
/// installed), so that a child that exits without reading its stdin yields EPIPE on the write instead of
/// killing the host. Children get the default SIGPIPE disposition back.
public enum ProcessRunner {
    /// How long output is still read after the process group was killed (or the process exited): a
    /// grandchild that left the group may hold the pipes open, and the run must not wait for it.
    static let drainGrace: Duration = .milliseconds(250)
    /// The longest time between two calls of `isCancelled`.
    static let cancellationInterval: Duration = .milliseconds(50)

    private static let sigpipeIgnored: Bool = lgpt_sandbox_ignore_sigpipe() == 0

    /// Runs a process to completion and returns how it ended.
    ///
    /// Blocking: call it from a thread that may block (not from a cooperative-pool task without
    /// handing off), and keep that thread alive until it returns (the child is bound to the spawning
    /// thread with PR_SET_PDEATHSIG). A non-zero exit, a signal, a timeout or a cancellation is a
    /// result, not an error.
    ///
    /// The child runs in a new process group. When the timeout passes or `isCancelled` returns true,
    /// the whole group gets SIGKILL. When the executable exits, anything it left running in its group is
    /// killed too, so no process outlives the run (except one that deliberately left the group). Output
    /// is read for at most a short grace period (250 ms) after that.
    ///
    /// - Parameters:
    ///   - request: What to run.
    ///   - started: Called with the child's pid (which is also its process group) once it runs, on
    ///     the calling thread.
    ///   - isCancelled: Polled at least every 50 ms, on the calling thread.
    /// - Returns: How the process ended, its (capped) output and how long it ran.
    /// - Throws: ``ProcessRunnerError`` when the process could not be started (see its codes), or, with
    ///   code `spawnFailed`, when something else in the host reaped the child first (SIGCHLD set to
    ///   SIG_IGN, or a `waitpid(-1)` elsewhere), so its status is unknown.
    public static func run(
        _ request: ProcessRequest,
        started: (Int32) -> Void = { _ in },
        isCancelled: () -> Bool = { false }
    ) throws(ProcessRunnerError) -> ProcessResult {
        try run(request, capabilities: .current, started: started, isCancelled: isCancelled)
    }

    /// ``run(_:isCancelled:)`` on a kernel described by `capabilities` (tests of degradation: a kernel
    /// without Landlock, without seccomp...). Describing a layer the kernel lacks makes the spawn fail.
    ///
    /// - Throws: ``ProcessRunnerError``, as ``run(_:isCancelled:)``.
    static func run(
        _ request: ProcessRequest,
        capabilities: SandboxCapabilities,
        started: (Int32) -> Void = { _ in },
        isCancelled: () -> Bool
    ) throws(ProcessRunnerError) -> ProcessResult {
        try validate(request)
        _ = sigpipeIgnored
        var request = request
        var sandbox: PreparedSandbox?
        if let policy = request.sandbox {
            do {
                sandbox = try PreparedSandbox.prepare(policy, capabilities: capabilities)
            } catch {
                throw ProcessRunnerError(code: .sandboxFailed, message: "cannot start \(request.executable): \(error)")
            }
            if let temporary = sandbox?.temporaryDirectory { request.environment["TMPDIR"] = temporary }
        }
        let clock = ContinuousClock()
        let start = clock.now
        let child: lgpt_sandbox_child
        do {
            child = try spawn(request, sandbox: sandbox)
        } catch {
            _ = sandbox?.finish(processGroup: nil)
            throw error
        }
        sandbox?.closeRuleset()
        SandboxWarden.watch(group: child.pid, cgroup: sandbox?.cgroup?.path)
        started(child.pid)
        var supervisor = Supervisor(child: child, request: request)
        let outcome = supervisor.supervise(clock: clock, deadline: start + request.timeout, isCancelled: isCancelled)
        supervisor.closeAll()

        var status = lgpt_sandbox_exit_status()
        let waitError = lgpt_sandbox_wait(child.pid, &status)
        let end = clock.now
        let report = sandbox?.finish(processGroup: child.pid)
        SandboxWarden.release(group: child.pid)
        guard waitError == 0 else {
            throw ProcessRunnerError(
                code: .spawnFailed,
                message: "lost track of \(request.executable) (pid \(child.pid)): waitpid: \(errorText(waitError))",
                systemError: waitError
            )
        }
        return ProcessResult(
            exitCode: status.exited != 0 ? status.exit_code : nil,
            signal: status.signaled != 0 ? status.term_signal : nil,
            standardOutput: supervisor.stdout.bytes,
            standardError: supervisor.stderr.bytes,
            standardOutputBytes: supervisor.stdout.total,
            standardErrorBytes: supervisor.stderr.total,
            timedOut: outcome == .timedOut,
            cancelled: outcome == .cancelled,
            duration: start.duration(to: end),
            sandbox: report
        )
    }

    /// Looks a bare command name up on a PATH-style string.
    ///
    /// A name containing `/` is returned as is when it is absolute and names an executable regular file,
    /// else nil. Empty and relative PATH entries are skipped (they would depend on the host's working
    /// directory).
    ///
    /// - Returns: The absolute path of the first executable regular file found, or nil.
    public static func resolveExecutable(_ name: String, searchPath: String) -> String? {
        guard !name.isEmpty, !name.utf8.contains(0) else { return nil }
        if name.contains("/") {
            return name.hasPrefix("/") && isExecutableFile(name) ? name : nil
        }
        for directory in searchPath.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(name)" : "\(directory)/\(name)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    // MARK: - Spawning

    private static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }

    private static func validate(_ request: ProcessRequest) throws(ProcessRunnerError) {
        func invalid(_ message: String) -> ProcessRunnerError {
            ProcessRunnerError(code: .invalidRequest, message: message)
        }
        if request.executable.utf8.contains(0) { throw invalid("the executable path contains a NUL byte") }
        guard request.executable.hasPrefix("/") else {
            throw invalid("the executable must be an absolute path: \(request.executable)")
        }
        if request.arguments.contains(where: { $0.utf8.contains(0) }) {
            throw invalid("an argument for \(request.executable) contains a NUL byte")
        }
        for (name, value) in request.environment {
            if name.isEmpty || name.utf8.contains(0) || name.contains("=") {
                throw invalid("an environment variable name for \(request.executable) is empty or has '=' or NUL")
            }
            if value.utf8.contains(0) {
                throw invalid("an environment variable value for \(request.executable) contains a NUL byte")
            }
        }
        if request.workingDirectory.isEmpty || request.workingDirectory.utf8.contains(0) {
            throw invalid("the working directory for \(request.executable) is empty or contains a NUL byte")
        }
        guard request.timeout > .zero else { throw invalid("the timeout for \(request.executable) must be positive") }
        guard request.outputLimit >= 0 else {
            throw invalid("the output limit for \(request.executable) must not be negative")
        }
    }

    private static func spawn(
        _ request: ProcessRequest,
        sandbox: PreparedSandbox?
    ) throws(ProcessRunnerError) -> lgpt_sandbox_child {
        let argv = request.arguments.isEmpty ? [request.executable] : request.arguments
        let envp = request.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var child = lgpt_sandbox_child()
        child.struct_size = UInt32(MemoryLayout<lgpt_sandbox_child>.size)
        let rlimits = sandbox?.rlimits ?? []
        let result: Int32 = withCStringArray(argv) { argvPointer in
            withCStringArray(envp) { envpPointer in
                guard let argvPointer, let envpPointer else { return ENOMEM }
                return request.executable.withCString { path in
                    request.workingDirectory.withCString { cwd in
                        rlimits.withUnsafeBufferPointer { limits in
                            var options = lgpt_sandbox_spawn_options(
                                struct_size: UInt32(MemoryLayout<lgpt_sandbox_spawn_options>.size),
                                flags: request.standardInput.isEmpty ? 0 : UInt32(LGPT_SANDBOX_STDIN_PIPE),
                                path: path,
                                argv: argvPointer,
                                envp: envpPointer,
                                cwd: cwd,
                                sandbox_flags: sandbox?.flags ?? 0,
                                landlock_ruleset_fd: sandbox?.landlockFD ?? -1,
                                landlock_restrict_flags: sandbox?.landlockRestrictFlags ?? 0,
                                cgroup_procs_fd: sandbox?.cgroup?.procsFD ?? -1,
                                rlimits: limits.baseAddress,
                                rlimit_count: UInt32(limits.count),
                                reserved: 0,
                                seccomp_filter: sandbox?.seccomp
                            )
                            return lgpt_sandbox_spawn(&options, &child)
                        }
                    }
                }
            }
        }
        guard result == 0 else {
            throw spawnError(request, code: result, step: child.failed_step, sandboxed: sandbox != nil)
        }
        return child
    }

    /// Calls `body` with a NULL-terminated array of C strings (nil when memory ran out).
    private static func withCStringArray<R>(
        _ strings: [String],
        _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R
    ) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { for pointer in pointers { free(pointer) } }
        if pointers.contains(where: { $0 == nil }) { return body(nil) }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    private static func spawnError(
        _ request: ProcessRequest,
        code: Int32,
        step: Int32,
        sandboxed: Bool
    ) -> ProcessRunnerError {
        let executable = request.executable
        let reason = "\(String(cString: lgpt_sandbox_step_name(step))): \(errorText(code))"
        if step >= Int32(LGPT_SANDBOX_STEP_CGROUP.rawValue) && step <= Int32(LGPT_SANDBOX_STEP_SECCOMP.rawValue) {
            return ProcessRunnerError(
                code: .sandboxFailed,
                message: "cannot start \(executable): the sandbox could not be applied (\(reason))",
                systemError: code
            )
        }
        switch (step, code) {
        case (Int32(LGPT_SANDBOX_STEP_EXEC.rawValue), ENOENT), (Int32(LGPT_SANDBOX_STEP_EXEC.rawValue), ENOTDIR):
            return ProcessRunnerError(
                code: .executableNotFound,
                message: "executable not found (or its #! interpreter is missing): \(executable) (\(reason))",
                systemError: code
            )
        case (Int32(LGPT_SANDBOX_STEP_EXEC.rawValue), EACCES), (Int32(LGPT_SANDBOX_STEP_EXEC.rawValue), EPERM):
            return ProcessRunnerError(
                code: .permissionDenied,
                message: "permission denied executing \(executable) (\(reason))"
                    + (sandboxed ? "; the sandbox executes programs from system folders and the workspace only" : ""),
                systemError: code
            )
        case (Int32(LGPT_SANDBOX_STEP_CHDIR.rawValue), ENOENT), (Int32(LGPT_SANDBOX_STEP_CHDIR.rawValue), ENOTDIR):
            return ProcessRunnerError(
                code: .workingDirectoryNotFound,
                message: "cannot start \(executable): working directory \(request.workingDirectory) "
                    + "does not exist or is not a directory (\(reason))",
                systemError: code
            )
        case (Int32(LGPT_SANDBOX_STEP_CHDIR.rawValue), EACCES), (Int32(LGPT_SANDBOX_STEP_CHDIR.rawValue), EPERM):
            return ProcessRunnerError(
                code: .permissionDenied,
                message: "cannot start \(executable): permission denied for working directory "
                    + "\(request.workingDirectory) (\(reason))",
                systemError: code
            )
        default:
            return ProcessRunnerError(
                code: .spawnFailed,
                message: "cannot start \(executable) (\(reason))",
                systemError: code
            )
        }
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}

// MARK: - Supervision

/// One output pipe: reads everything, keeps up to `limit` bytes, counts the rest.
private struct OutputCollector {
    var fd: Int32
    let limit: Int
    var bytes: [UInt8] = []
    var total = 0

    var isOpen: Bool { fd >= 0 }

    init(fd: Int32, limit: Int) {
        self.fd = fd
        self.limit = limit
    }

    /// Reads what is available (a bounded number of chunks, to stay responsive); closes at EOF.
    mutating func readAvailable(into scratch: UnsafeMutableRawBufferPointer) {
        var chunks = 0
        while isOpen, chunks < 16 {
            let count = read(fd, scratch.baseAddress, scratch.count)
            if count > 0 {
                chunks += 1
                total += count
                let room = limit - bytes.count
                if room > 0 {
                    bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<min(count, room)]))
                }
                continue
            }
            if count < 0 {
                let error = errno
                if error == EINTR { continue }
                if error == EAGAIN || error == EWOULDBLOCK { return }
            }
            close()  // EOF, or a read error, which ends this stream the same way
        }
    }

    mutating func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }
}

private struct Supervisor {
    enum Outcome: Equatable {
        case exited
        case timedOut
        case cancelled
    }

    let pid: pid_t
    var pidfd: Int32
    var stdinFD: Int32
    let input: [UInt8]
    var inputOffset = 0
    var stdout: OutputCollector
    var stderr: OutputCollector

    init(child: lgpt_sandbox_child, request: ProcessRequest) {
        pid = child.pid
        pidfd = child.pidfd
        stdinFD = child.stdin_fd
        input = request.standardInput
        stdout = OutputCollector(fd: child.stdout_fd, limit: request.outputLimit)
        stderr = OutputCollector(fd: child.stderr_fd, limit: request.outputLimit)
    }

    /// Runs until the child exited (or was killed) and its output is drained or the grace period is
    /// over. Does not reap the child.
    mutating func supervise(
        clock: ContinuousClock,
        deadline: ContinuousClock.Instant,
        isCancelled: () -> Bool
    ) -> Outcome {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { scratch.deallocate() }
        var outcome = Outcome.exited
        var drainDeadline: ContinuousClock.Instant?
        var exited = false
        var reapedElsewhere = false

        while true {
            let now = clock.now
            if drainDeadline == nil {
                var stop: Outcome?
                if exited {
                    stop = .exited
                } else if isCancelled() {
                    stop = .cancelled
                } else if now >= deadline {
                    stop = .timedOut
                }
                if let stop {
                    outcome = stop
                    // The leader is unreaped (a zombie at worst), so its pgid cannot have been reused;
                    // unless something else reaped it, and then its id may belong to someone else now.
                    if !reapedElsewhere { _ = lgpt_sandbox_kill_group(pid) }
                    closeStdin()
                    drainDeadline = now + ProcessRunner.drainGrace
                }
            }
            if let drainDeadline, now >= drainDeadline || (!stdout.isOpen && !stderr.isOpen) {
                return outcome
            }

            var fds: [pollfd] = []
            if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            if stdout.isOpen { fds.append(pollfd(fd: stdout.fd, events: Int16(POLLIN), revents: 0)) }
            if stderr.isOpen { fds.append(pollfd(fd: stderr.fd, events: Int16(POLLIN), revents: 0)) }
            let watchExit = drainDeadline == nil && pidfd >= 0
            if watchExit { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }

            // Wake for the nearest of: the deadline in force, the next cancellation check; and without a
            // pidfd, a short interval to notice the exit.
            var wait = ProcessRunner.cancellationInterval
            if drainDeadline == nil && pidfd < 0 { wait = .milliseconds(5) }
            let limit = drainDeadline ?? deadline
            let timeoutMS = milliseconds(min(wait, now.duration(to: limit)))

            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMS) }
            if ready < 0 {
                if errno == EINTR { continue }
                // EINVAL/ENOMEM: nothing sensible is left but to wait in small steps.
                _ = poll(nil, 0, 5)
            }

            for entry in fds where entry.revents != 0 {
                if entry.fd == stdinFD {
                    writeInput()
                } else if entry.fd == stdout.fd {
                    stdout.readAvailable(into: scratch)
                } else if entry.fd == stderr.fd {
                    stderr.readAvailable(into: scratch)
                }
            }
            if drainDeadline == nil && !exited {
                let state = lgpt_sandbox_exited(pid)
                // 1: it exited. Negative (ECHILD): something else reaped it (SIGCHLD ignored, or another
                // thread's waitpid(-1)); there is nothing left to wait for, nor a pid we may still signal.
                exited = state != 0
                reapedElsewhere = state < 0
            }
        }
    }

    private mutating func writeInput() {
        while stdinFD >= 0 {
            if inputOffset >= input.count {
                closeStdin()  // all written: the child sees EOF
                return
            }
            let written = input.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return write(stdinFD, base + inputOffset, min(buffer.count - inputOffset, 64 * 1024))
            }
            if written > 0 {
                inputOffset += written
                continue
            }
            let error = errno
            if written < 0 && error == EINTR { continue }
            if written < 0 && (error == EAGAIN || error == EWOULDBLOCK) { return }
            closeStdin()  // EPIPE: the child closed its stdin; anything else ends the input the same way
        }
    }

    private mutating func closeStdin() {
        if stdinFD >= 0 {
            _ = close(stdinFD)
            stdinFD = -1
        }
    }

    mutating func closeAll() {
        closeStdin()
        stdout.close()
        stderr.close()
        if pidfd >= 0 {
            _ = close(pidfd)
            pidfd = -1
        }
    }

    private func milliseconds(_ duration: Duration) -> Int32 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        let rounded = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: rounded)
    }
}
