import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Testing

/// Real processes through ProcessRunner. Serialized: the descriptor-leak test counts the host's
/// descriptors, and the group-kill tests look at pids.
@Suite(.serialized)
struct ProcessRunnerTests {
    static let path = "/usr/bin:/bin"

    /// Resolves a command on `path` and runs it with `PATH` set (so shells find their commands).
    private func run(
        _ command: String,
        _ arguments: [String] = [],
        environment: [String: String] = ["PATH": ProcessRunnerTests.path],
        workingDirectory: String = "/",
        input: [UInt8] = [],
        timeout: Duration = .seconds(10),
        outputLimit: Int = ProcessRequest.defaultOutputLimit,
        isCancelled: () -> Bool = { false }
    ) throws -> ProcessResult {
        let executable = try #require(ProcessRunner.resolveExecutable(command, searchPath: Self.path))
        let request = ProcessRequest(
            executable: executable,
            arguments: [command] + arguments,
            environment: environment,
            workingDirectory: workingDirectory,
            standardInput: input,
            timeout: timeout,
            outputLimit: outputLimit
        )
        return try ProcessRunner.run(request, isCancelled: isCancelled)
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: - Round trips

    @Test func echoRoundTrip() throws {
        let result = try run("echo", ["hello", "world"])
        #expect(text(result.standardOutput) == "hello world\n")
        #expect(result.standardError.isEmpty)
        #expect(result.exitCode == 0)
        #expect(result.signal == nil)
        #expect(result.succeeded)
        #expect(!result.timedOut && !result.cancelled)
        #expect(!result.isStandardOutputTruncated)
        #expect(result.standardOutputBytes == 12)
    }

    @Test func nonZeroExitIsAResult() throws {
        let result = try run("sh", ["-c", "exit 3"])
        #expect(result.exitCode == 3)
        #expect(result.signal == nil)
        #expect(!result.succeeded)
    }

    @Test func stdinIsPipedToCat() throws {
        let input = Array("first line\nsecond line\n".utf8)
        let result = try run("cat", input: input)
        #expect(result.standardOutput == input)
        #expect(result.exitCode == 0)
    }

    @Test func largeStdinDoesNotDeadlock() throws {
        let result = try run("wc", ["-c"], input: [UInt8](repeating: 0x61, count: 4 << 20))
        #expect(trimmed(text(result.standardOutput)) == "4194304")
        #expect(result.exitCode == 0)
    }

    @Test func childThatWritesBeforeReadingDoesNotDeadlock() throws {
        // 2 MB of output before it reads any of its 4 MiB of input: both pipes fill up unless the runner
        // writes and reads at the same time.
        let result = try run(
            "sh",
            ["-c", "head -c 2000000 /dev/zero; wc -c"],
            input: [UInt8](repeating: 0x62, count: 4 << 20),
            outputLimit: 4 << 20
        )
        #expect(result.exitCode == 0)
        #expect(result.standardOutputBytes == 2_000_000 + 8)
        #expect(text(Array(result.standardOutput.suffix(8))) == "4194304\n")
    }

    @Test func childThatIgnoresStdinDoesNotKillTheHost() throws {
        // `true` exits without reading: writing the rest gets EPIPE (SIGPIPE must not kill the host).
        let result = try run("true", input: [UInt8](repeating: 0x63, count: 4 << 20))
        #expect(result.exitCode == 0)
    }

    @Test func outputIsCappedButCounted() throws {
        let result = try run("head", ["-c", "3000000", "/dev/zero"], outputLimit: 1 << 20)
        #expect(result.exitCode == 0)
        #expect(result.standardOutput.count == 1 << 20)
        #expect(result.standardOutputBytes == 3_000_000)
        #expect(result.isStandardOutputTruncated)
        #expect(!result.isStandardErrorTruncated)
    }

    @Test func stderrIsCapturedSeparately() throws {
        let result = try run("sh", ["-c", "echo out; echo err >&2; echo more-err >&2"])
        #expect(text(result.standardOutput) == "out\n")
        #expect(text(result.standardError) == "err\nmore-err\n")
        #expect(result.standardErrorBytes == 13)
    }

    @Test func environmentIsExactlyWhatWasPassed() throws {
        let result = try ProcessRunner.run(
            ProcessRequest(
                executable: "/usr/bin/env",
                arguments: ["env"],
                environment: ["LGPT_A": "1", "LGPT_B": "two words"],
                workingDirectory: "/"
            )
        )
        let lines = text(result.standardOutput).split(separator: "\n").map(String.init).sorted()
        #expect(lines == ["LGPT_A=1", "LGPT_B=two words"])

        let empty = try ProcessRunner.run(
            ProcessRequest(executable: "/usr/bin/env", arguments: ["env"], workingDirectory: "/")
        )
        #expect(empty.standardOutput.isEmpty)
        #expect(empty.exitCode == 0)
    }

    @Test func workingDirectoryIsHonoured() throws {
        var template = Array("/tmp/lgpt-runner-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { $0.baseAddress.flatMap(mkdtemp) }.map {
            String(cString: $0)
        }
        let directory = try #require(created)
        defer { rmdir(directory) }
        let resolved = realpath(directory, nil)
        defer { free(resolved) }
        let physical = try #require(resolved.map { String(cString: $0) })
        let result = try run("pwd", workingDirectory: directory)
        #expect(text(result.standardOutput) == physical + "\n")
    }

    @Test func argvZeroIsTheExecutableWhenArgumentsAreEmpty() throws {
        let result = try ProcessRunner.run(
            ProcessRequest(
                executable: "/bin/sh",
                environment: ["ENV": "/dev/null"],
                workingDirectory: "/",
                standardInput: Array("echo \"$0\"\n".utf8)
            )
        )
        #expect(text(result.standardOutput) == "/bin/sh\n")
    }

    @Test func concurrentRunsKeepTheirStreamsApart() async throws {
        let cat = try #require(ProcessRunner.resolveExecutable("cat", searchPath: Self.path))
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var mismatches = 0
                    for round in 0..<10 {
                        let input =
                            Array("worker \(worker) round \(round)\n".utf8) + [UInt8](repeating: 0x7a, count: 100_000)
                        let request = ProcessRequest(
                            executable: cat,
                            arguments: ["cat"],
                            workingDirectory: "/",
                            standardInput: input
                        )
                        let result = try? ProcessRunner.run(request)
                        if result?.standardOutput != input || result?.exitCode != 0 { mismatches += 1 }
                    }
                    return mismatches
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    // MARK: - Errors

    @Test func missingExecutableIsExecutableNotFound() {
        let request = ProcessRequest(
            executable: "/nonexistent/lgpt-no-such-tool",
            arguments: ["lgpt-no-such-tool", "--token=s3cr3t"],
            workingDirectory: "/",
            standardInput: Array("stdin-s3cr3t".utf8)
        )
        let error = #expect(throws: ProcessRunnerError.self) { try ProcessRunner.run(request) }
        #expect(error?.code == .executableNotFound)
        #expect(error?.systemError == ENOENT)
        #expect(error?.message.contains("/nonexistent/lgpt-no-such-tool") == true)
        #expect(error?.description.contains("s3cr3t") == false)
    }

    @Test func nonExecutableFileIsPermissionDenied() {
        let request = ProcessRequest(executable: "/etc/passwd", workingDirectory: "/")
        let error = #expect(throws: ProcessRunnerError.self) { try ProcessRunner.run(request) }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("/etc/passwd") == true)
    }

    @Test func missingWorkingDirectoryIsWorkingDirectoryNotFound() {
        let request = ProcessRequest(
            executable: "/bin/pwd",
            arguments: ["pwd"],
            workingDirectory: "/nonexistent/lgpt-no-such-dir"
        )
        let error = #expect(throws: ProcessRunnerError.self) { try ProcessRunner.run(request) }
        #expect(error?.code == .workingDirectoryNotFound)
        #expect(error?.systemError == ENOENT)
        #expect(error?.message.contains("/bin/pwd") == true)
        #expect(error?.message.contains("/nonexistent/lgpt-no-such-dir") == true)
        #expect(error?.message.contains("No such file or directory") == true)
    }

    @Test func malformedRequestsAreInvalid() {
        let relative = ProcessRequest(executable: "sh", workingDirectory: "/")
        #expect(throws: ProcessRunnerError.self) { try ProcessRunner.run(relative) }
        let badName = ProcessRequest(executable: "/bin/true", environment: ["A=B": "c"], workingDirectory: "/")
        let error = #expect(throws: ProcessRunnerError.self) { try ProcessRunner.run(badName) }
        #expect(error?.code == .invalidRequest)
        let noTime = ProcessRequest(executable: "/bin/true", workingDirectory: "/", timeout: .zero)
        #expect(throws: ProcessRunnerError.self) { try ProcessRunner.run(noTime) }
    }

    // MARK: - Timeout, signals, cancellation

    @Test func timeoutKillsTheWholeProcessGroup() throws {
        let result = try run("bash", ["-c", "sleep 30 & echo $!; sleep 30"], timeout: .milliseconds(300))
        #expect(result.timedOut)
        #expect(!result.cancelled)
        #expect(result.exitCode == nil)
        #expect(result.signal == SIGKILL)
        let background = try #require(pid_t(trimmed(text(result.standardOutput))))
        #expect(waitUntilGone(background))
    }

    @Test func exitKillsWhatTheProcessLeftBehind() throws {
        // The leader exits at once; its background child would hold stdout open for 30 s.
        let result = try run("bash", ["-c", "sleep 30 & echo $!"], timeout: .seconds(10))
        #expect(result.exitCode == 0)
        #expect(!result.timedOut)
        let background = try #require(pid_t(trimmed(text(result.standardOutput))))
        #expect(waitUntilGone(background))
    }

    @Test func timeoutDoesNotWaitForAnEscapedGrandchild() throws {
        // The grandchild leaves the process group (setsid) but keeps stdout open, so the group kill
        // cannot reach it and stdout never reaches EOF while it lives: the run must end anyway.
        let result = try run(
            "bash",
            ["-c", "setsid sleep 30 & echo $!; sleep 30"],
            timeout: .milliseconds(300)
        )
        let escaped = try #require(pid_t(trimmed(text(result.standardOutput))))
        defer { kill(escaped, SIGKILL) }
        #expect(result.timedOut)
        #expect(result.signal == SIGKILL)
        // Still alive, so stdout cannot have reached EOF: the runner stopped reading on its own.
        #expect(kill(escaped, 0) == 0)
    }

    @Test func killedBySignalReportsTheSignal() throws {
        let result = try run("bash", ["-c", "kill -TERM $$"])
        #expect(result.exitCode == nil)
        #expect(result.signal == SIGTERM)
        #expect(!result.timedOut && !result.cancelled)
    }

    @Test func cancellationKillsTheProcess() throws {
        let clock = ContinuousClock()
        let cancelAt = clock.now + .milliseconds(200)
        var polls = 0
        let result = try run("sleep", ["30"], timeout: .seconds(10)) {
            polls += 1
            return clock.now >= cancelAt
        }
        #expect(result.cancelled)
        #expect(!result.timedOut)
        #expect(result.signal == SIGKILL)
        #expect(polls >= 2)
    }

    // MARK: - What the child inherits

    @Test func childSeesOnlyStandardDescriptors() throws {
        // A descriptor of the host WITHOUT O_CLOEXEC: only the runner's close-everything step keeps it out.
        let inheritable = open("/dev/null", O_RDONLY)
        try #require(inheritable > 2)
        defer { close(inheritable) }
        let result = try run("ls", ["/proc/self/fd"])
        // 0, 1, 2 and the directory descriptor ls itself opened to list /proc/self/fd.
        let fds = text(result.standardOutput).split(separator: "\n").compactMap { Int($0) }.sorted()
        #expect(fds.count == 4)
        #expect(Array(fds.prefix(3)) == [0, 1, 2])
    }

    @Test func childHasDefaultSignalsAndItsOwnProcessGroup() throws {
        _ = try run("true")  // the first run makes the host ignore SIGPIPE; the child must not inherit it
        let status = text(try run("cat", ["/proc/self/status"]).standardOutput)
        let fields = Dictionary(
            status.split(separator: "\n").compactMap { line -> (String, String)? in
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { return nil }
                return (String(parts[0]), trimmed(parts[1]))
            },
            uniquingKeysWith: { first, _ in first }
        )
        #expect(fields["SigIgn"] == "0000000000000000")
        #expect(fields["SigBlk"] == "0000000000000000")

        // /proc/self/stat: "pid (comm) state ppid pgrp ..."
        let stat = text(try run("cat", ["/proc/self/stat"]).standardOutput)
        let afterComm = try #require(stat.split(separator: ")").last).split(separator: " ")
        let pid = stat.split(separator: " ").first.map(String.init)
        #expect(afterComm.count > 3)
        #expect(pid != nil && afterComm.count > 2 && String(afterComm[2]) == pid)
    }

    @Test func sequentialRunsLeakNoDescriptors() throws {
        _ = try run("true")  // warm up lazily opened descriptors
        let before = try #require(openDescriptorCount())
        for index in 0..<200 {
            let result = try run("true", input: index.isMultiple(of: 2) ? [] : [0x0a])
            #expect(result.exitCode == 0)
        }
        let missing = ProcessRequest(executable: "/nonexistent/lgpt-no-such-tool", workingDirectory: "/")
        #expect(throws: ProcessRunnerError.self) { try ProcessRunner.run(missing) }
        let after = try #require(openDescriptorCount())
        // A leak of even one descriptor per run shows up as +200; allow a little noise from other suites.
        #expect(after <= before + 10, "descriptors before: \(before), after: \(after)")
    }

    // MARK: - With a sandbox policy

    private func sandboxPolicy() throws -> SandboxPolicy {
        let workspace = TestSupport.makeTemporaryDirectory("lgpt-runner-ws")
        return SandboxPolicy(level: .full, workspace: workspace)
    }

    @Test func sandboxedChildSeesOnlyStandardDescriptors() throws {
        // The Landlock ruleset and the cgroup file are the host's: neither may reach the command.
        let policy = try sandboxPolicy()
        let request = ProcessRequest(
            executable: "/usr/bin/ls",
            arguments: ["ls", "/proc/self/fd"],
            workingDirectory: policy.workspace,
            sandbox: policy
        )
        let result = try ProcessRunner.run(request)
        let fds = text(result.standardOutput).split(separator: "\n").compactMap { Int($0) }.sorted()
        #expect(fds.count == 4, "\(text(result.standardOutput)) \(text(result.standardError))")
        #expect(Array(fds.prefix(3)) == [0, 1, 2])
        #expect(result.sandbox != nil)
    }

    @Test func sandboxedRunsLeakNoDescriptorsFoldersOrCgroups() throws {
        let policy = try sandboxPolicy()
        let request = ProcessRequest(
            executable: "/bin/sh",
            arguments: [
                "sh", "-c", "echo \"$TMPDIR\"; touch \"$TMPDIR/file\"; mkdir \"$TMPDIR/d\"; chmod 000 \"$TMPDIR/d\"",
            ],
            workingDirectory: policy.workspace,
            sandbox: policy
        )
        _ = try ProcessRunner.run(request)
        let before = try #require(openDescriptorCount())
        var folders: [String] = []
        for _ in 0..<100 {
            let result = try ProcessRunner.run(request)
            #expect(result.exitCode == 0, "\(text(result.standardError))")
            folders.append(trimmed(text(result.standardOutput)))
        }
        let after = try #require(openDescriptorCount())
        #expect(after <= before + 10, "descriptors before: \(before), after: \(after)")
        #expect(Set(folders).count == 100, "every run gets its own TMPDIR")
        #expect(!folders.contains { FileManager.default.fileExists(atPath: $0) }, "every TMPDIR is removed")
        if let cgroup = SandboxCapabilities.current.pidsCgroup {
            // Cgroups are reused by later commands (one per command running at the same time), never
            // one per run, and none holds a process once its command is over.
            let runs = try FileManager.default.contentsOfDirectory(atPath: cgroup).filter {
                $0.hasPrefix("run-\(getpid())-")
            }
            #expect(runs.count < 20, "cgroups: \(runs)")
        }
    }

    // MARK: - resolveExecutable

    @Test func resolveExecutableSearchesThePath() {
        #expect(ProcessRunner.resolveExecutable("sh", searchPath: "/nonexistent:/usr/bin:/bin") == "/usr/bin/sh")
        #expect(ProcessRunner.resolveExecutable("sh", searchPath: "/bin/") == "/bin/sh")
        #expect(ProcessRunner.resolveExecutable("lgpt-no-such-tool", searchPath: "/usr/bin:/bin") == nil)
        #expect(ProcessRunner.resolveExecutable("sh", searchPath: "") == nil)
        #expect(ProcessRunner.resolveExecutable("sh", searchPath: "usr/bin:bin") == nil)  // relative: skipped
        #expect(ProcessRunner.resolveExecutable("passwd", searchPath: "/etc") == nil)  // not executable
        #expect(ProcessRunner.resolveExecutable("bin", searchPath: "/usr") == nil)  // a directory
        #expect(ProcessRunner.resolveExecutable("/bin/sh", searchPath: "") == "/bin/sh")
        #expect(ProcessRunner.resolveExecutable("./sh", searchPath: "/bin") == nil)
        #expect(ProcessRunner.resolveExecutable("", searchPath: "/bin") == nil)
    }
}

// MARK: - Helpers

/// Waits up to 3 s for `pid` to be gone: no such process, or a zombie (in a container nothing may reap
/// an orphan, but a zombie runs no code).
private func waitUntilGone(_ pid: pid_t) -> Bool {
    for _ in 0..<300 {
        if kill(pid, 0) == -1 && errno == ESRCH { return true }
        if processState(pid) == "Z" { return true }
        usleep(10_000)
    }
    return false
}

/// The state letter from /proc/<pid>/stat, or nil.
private func processState(_ pid: pid_t) -> Character? {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return nil }
    let stat = String(decoding: buffer[0..<count], as: UTF8.self)
    guard let close = stat.lastIndex(of: ")") else { return nil }
    return stat[close...].dropFirst(2).first
}

/// How many descriptors the test process has open.
private func openDescriptorCount() -> Int? {
    guard let directory = opendir("/proc/self/fd") else { return nil }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = directoryEntryNameString(entry)
        if name != "." && name != ".." { count += 1 }
    }
    return count - 1  // the directory stream's own descriptor
}

/// `text` without leading and trailing spaces, tabs and newlines.
private func trimmed(_ text: some StringProtocol) -> String {
    let blank: Set<Character> = [" ", "\t", "\n"]
    var slice = Substring(text)
    while let first = slice.first, blank.contains(first) { slice = slice.dropFirst() }
    while let last = slice.last, blank.contains(last) { slice = slice.dropLast() }
    return String(slice)
}
