//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Testing

/// The escape battery: every way out a sandboxed command might try, each run at level `full` through
/// ``ProcessRunner`` as a plugin's `exec` runs it. Every test asserts three things:
/// 1. the attempt is refused, by the sandbox (the probe reports the errno the sandbox returns: EPERM
///    from seccomp, EACCES from Landlock), and nothing leaks;
/// 2. the same attempt succeeds WITHOUT the sandbox (the control run), wherever it is harmless to do
///    so, so that a test cannot pass because the machine forbids it anyway;
/// 3. in the very same command, the legitimate workspace work succeeds (create, edit, `>` truncate,
///    `mv` across folders, `mkdir -p`, symlinks, `git init`, pipes, /dev/null, TMPDIR).
@Suite(.enabled(if: SandboxFixture.hasFullSandbox, "needs Landlock ABI 6+ and seccomp"))
struct SandboxEscapeTests {
    let f: SandboxFixture

    init() throws {
        f = try SandboxFixture()
        try #require(SandboxProbe.built)
    }

    // MARK: - Files

    @Test func readingTheSSHKeyIsDenied() throws {
        let r = try f.attempt("cat \"$SECRET\"; ls \"$USER_HOME/.ssh\"; ls \"$USER_HOME\"; $PROBE open \"$SECRET\"")
        #expect(r.both.contains("cat: \(f.secretKey): Permission denied"))
        #expect(r.both.contains("ls: cannot open directory '\(f.userHome)/.ssh': Permission denied"))
        #expect(r.probe("open") == "open: errno=13")
        #expect(try f.run("cat \"$SECRET\"", sandboxed: false).stdout.contains(SandboxFixture.secretText))
    }

    /// An extra path is checked when the policy is built and opened when the command starts. A command
    /// running meanwhile can swap a folder of it for a link to ~/.ssh (renameat2 RENAME_EXCHANGE in a
    /// loop won that race in an audit): the rule is then opened without following links, and skipped.
    @Test func anExtraPathSwappedForALinkAfterTheCheckCoversNothing() throws {
        var f = self.f
        let data = f.paths.workspace + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        f.policy.readPaths.append(data)  // as CheckedPaths resolved and accepted it
        try FileManager.default.removeItem(atPath: data)
        try FileManager.default.createSymbolicLink(atPath: data, withDestinationPath: f.userHome + "/.ssh")
        let r = try f.attempt("cat \"$USER_HOME/.ssh/id_rsa\"; cat data/id_rsa")
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 2, "\(r.both)")
    }

    @Test func readingTheLocalGPTHomeIsDenied() throws {
        let r = try f.attempt(
            """
            cat "$LGPT_HOME/config.toml"; cat "$LGPT_HOME/grants.json"; cat "$LGPT_HOME/.device_key"
            ls "$LGPT_HOME"
            """
        )
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 4, "\(r.both)")
        #expect(
            try f.run("cat \"$LGPT_HOME/config.toml\"", sandboxed: false).stdout.contains(SandboxFixture.secretText)
        )
    }

    @Test func writingOutsideTheWorkspaceIsDenied() throws {
        let r = try f.attempt(
            """
            echo x > "$OUTSIDE/new.txt"; echo x >> "$OUTSIDE/secret.txt"; : > "$OUTSIDE/secret.txt"
            mkdir "$OUTSIDE/dir"; rm -f "$OUTSIDE/secret.txt"; mv "$OUTSIDE/secret.txt" .; touch "$LGPT_HOME/x"
            truncate -s 0 "$OUTSIDE/secret.txt"
            """
        )
        #expect(!FileManager.default.fileExists(atPath: f.outside + "/new.txt"))
        #expect(!FileManager.default.fileExists(atPath: f.outside + "/dir"))
        #expect(!FileManager.default.fileExists(atPath: f.paths.home + "/x"))
        #expect(
            try String(contentsOfFile: f.outside + "/secret.txt", encoding: .utf8) == SandboxFixture.secretText + "\n"
        )
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 >= 7, "\(r.both)")
        let control = try f.run("echo x > \"$OUTSIDE/new.txt\" && echo wrote", sandboxed: false)
        #expect(control.stdout == "wrote\n")
    }

    @Test func writingToEtcIsDenied() throws {
        let name = "lgpt-escape-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let r = try f.attempt("touch /etc/\(name); echo x >> /etc/hostname; mkdir /etc/\(name).d")
        #expect(!FileManager.default.fileExists(atPath: "/etc/" + name))
        #expect(!FileManager.default.fileExists(atPath: "/etc/\(name).d"))
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 3, "\(r.both)")
    }

    @Test func writingToUsrIsDenied() throws {
        let name = "lgpt-escape-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let r = try f.attempt("touch /usr/\(name); cp /bin/true /usr/local/bin/\(name); : > /usr/bin/true")
        #expect(!FileManager.default.fileExists(atPath: "/usr/" + name))
        #expect(!FileManager.default.fileExists(atPath: "/usr/local/bin/" + name))
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/true"))
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 3, "\(r.both)")
    }

    @Test func escapingThroughDotDotIsDenied() throws {
        let r = try f.attempt("cat ../config.toml; cat ../../.ssh/id_rsa; cat ./../../../outside/secret.txt")
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 3, "\(r.both)")
        #expect(try f.run("cat ../config.toml", sandboxed: false).stdout.contains(SandboxFixture.secretText))
    }

    @Test func escapingThroughASymlinkIsDenied() throws {
        let r = try f.attempt("ln -s \"$SECRET\" key-link && cat key-link; ln -s \"$OUTSIDE\" out && echo x > out/y")
        #expect(r.both.contains("cat: key-link: Permission denied"))
        #expect(r.both.contains("out/y: Permission denied"))
        #expect(!FileManager.default.fileExists(atPath: f.outside + "/y"))
        #expect(try f.run("cat key-link", sandboxed: false).stdout.contains(SandboxFixture.secretText))
    }

    @Test func escapingThroughAHardlinkIsDenied() throws {
        // Landlock refuses to link a file into a hierarchy with more rights than its own (EXDEV).
        let r = try f.attempt("ln \"$SECRET\" key-hard; ln \"$OUTSIDE/secret.txt\" out-hard; ls key-hard out-hard")
        #expect(r.both.contains("Invalid cross-device link") || r.both.contains("Permission denied"), "\(r.both)")
        #expect(!FileManager.default.fileExists(atPath: f.paths.workspace + "/key-hard"))
        #expect(!FileManager.default.fileExists(atPath: f.paths.workspace + "/out-hard"))
        let control = try f.run("ln \"$SECRET\" key-hard && cat key-hard && rm key-hard", sandboxed: false)
        #expect(control.stdout.contains(SandboxFixture.secretText))
    }

    @Test func escapingThroughProcSelfRootIsDenied() throws {
        let r = try f.attempt(
            "cat /proc/self/root\"$SECRET\"; echo x > /proc/self/root\"$OUTSIDE\"/z; cat /proc/self/root/etc/hostname"
        )
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 2, "\(r.both)")
        #expect(!FileManager.default.fileExists(atPath: f.outside + "/z"))
        #expect(
            try f.run("cat /proc/self/root\"$SECRET\"", sandboxed: false).stdout.contains(SandboxFixture.secretText)
        )
    }

    @Test func escapingThroughTheParentsProcCwdIsDenied() throws {
        // The parent is the host itself: its cwd, root and descriptors are behind the ptrace check, which
        // Landlock refuses across the sandbox boundary.
        let r = try f.attempt(
            "ls /proc/$PPID/cwd/; ls /proc/$PPID/root/; cat /proc/$PPID/fd/0; cat /proc/$PPID/maps | head -1; "
                + "readlink /proc/$PPID/cwd || echo readlink-denied"
        )
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 4, "\(r.both)")
        #expect(r.stdout.contains("readlink-denied"))
        let control = try f.run(
            "ls /proc/$PPID/cwd/ >/dev/null && head -1 /proc/$PPID/maps >/dev/null && readlink /proc/$PPID/cwd",
            sandboxed: false
        )
        #expect(control.result.succeeded && control.stdout.hasPrefix("/"), "\(control.both)")
    }

    @Test func readingAnotherProcesssEnvironmentIsDenied() throws {
        let r = try f.attempt("cat /proc/$PPID/environ; cat /proc/1/environ; tr '\\0' '\\n' < /proc/$PPID/environ")
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 3, "\(r.both)")
        #expect(try f.run("cat /proc/$PPID/environ | tr '\\0' '\\n' | grep -c =", sandboxed: false).result.succeeded)
        // Its own environment stays readable (programs use /proc/self).
        #expect(try f.run("grep -c PROBE /proc/self/environ").stdout == "1\n")
    }

    @Test func executingProgramsFromOutsideIsDenied() throws {
        let copy = f.outside + "/mytrue"
        try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: copy)
        let r = try f.attempt("\"$OUTSIDE/mytrue\" && echo ran")
        #expect(r.both.contains("Permission denied") && !r.stdout.contains("ran"), "\(r.both)")
        #expect(try f.run("\"$OUTSIDE/mytrue\" && echo ran", sandboxed: false).stdout == "ran\n")
        // A script in the workspace runs (shell work needs it).
        #expect(
            try f.run("printf '#!/bin/sh\\necho script-ran\\n' > s.sh && chmod +x s.sh && ./s.sh").stdout
                == "script-ran\n"
        )
    }

    @Test func sharedMemoryAndOtherTemporaryFoldersAreDenied() throws {
        let name = "lgpt-escape-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let first = try f.run("echo \"$TMPDIR\"; echo mine > \"$TMPDIR/a\" && cat \"$TMPDIR/a\"")
        let tmp = first.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.stdout.hasSuffix("mine\n"))
        #expect(
            !tmp.isEmpty && !FileManager.default.fileExists(atPath: tmp),
            "the private TMPDIR is removed after the run"
        )
        let r = try f.attempt(
            "echo x > /dev/shm/\(name); echo x > /tmp/\(name); ls \"$(dirname \"$(dirname \"$TMPDIR\")\")\"; ls /tmp"
        )
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 4, "\(r.both)")
        #expect(!FileManager.default.fileExists(atPath: "/dev/shm/" + name))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/" + name))
    }

    @Test func writingKernelSettingsIsDenied() throws {
        // Each write would store the value already there, should the sandbox ever let it through.
        let r = try f.attempt(
            "cat /proc/sys/vm/swappiness > /proc/sys/vm/swappiness; ls /sys/kernel; "
                + "cat /proc/sys/kernel/hostname > /proc/sys/kernel/hostname"
        )
        #expect(r.both.components(separatedBy: "Permission denied").count - 1 == 3, "\(r.both)")
    }

    // MARK: - Network

    @Test(arguments: ["tcp", "tcp6", "udp", "raw", "packet", "netlink", "unix"])
    func openingASocketIsDenied(kind: String) throws {
        let r = try f.attempt("$PROBE \(kind)")
        #expect(r.probe(kind) == "\(kind): errno=1", "seccomp answers EPERM: \(r.both)")
        let control = try f.run("$PROBE \(kind)", sandboxed: false)
        #expect(control.probe(kind) == "\(kind): ok", "the control run could not do it either: \(control.both)")
        // socketpair(AF_UNIX) stays: it connects the process to itself only.
        #expect(try f.run("$PROBE socketpair").probe("socketpair") == "socketpair: ok")
    }

    @Test func connectingToALocalTCPServerIsDenied() throws {
        let server = try LocalListener.tcp()
        defer { server.close() }
        let r = try f.attempt("echo hi > /dev/tcp/127.0.0.1/\(server.port); $PROBE connect-tcp \(server.port)")
        #expect(r.both.contains("Operation not permitted"), "\(r.both)")
        #expect(r.probe("connect-tcp") == "connect-tcp: errno=1")
        #expect(
            try f.run("$PROBE connect-tcp \(server.port)", sandboxed: false).probe("connect-tcp") == "connect-tcp: ok"
        )
    }

    @Test func connectingToUnixSocketsOutsideIsDenied() throws {
        let path = try LocalListener.unix(path: f.outside + "/agent.sock")
        defer { path.close() }
        let abstract = try LocalListener.unix(abstract: "lgpt-escape-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { abstract.close() }
        let r = try f.attempt(
            "$PROBE connect-unix \"$OUTSIDE/agent.sock\"; $PROBE connect-abstract \(abstract.name)"
        )
        #expect(r.probe("connect-unix") == "connect-unix: errno=1", "\(r.both)")
        #expect(r.probe("connect-abstract") == "connect-abstract: errno=1", "\(r.both)")
        let control = try f.run(
            "$PROBE connect-unix \"$OUTSIDE/agent.sock\"; $PROBE connect-abstract \(abstract.name)",
            sandboxed: false
        )
        #expect(control.probe("connect-unix") == "connect-unix: ok")
        #expect(control.probe("connect-abstract") == "connect-abstract: ok")
    }

    // MARK: - Processes and the kernel

    @Test func ptracingTheParentIsDenied() throws {
        let r = try f.attempt("$PROBE ptrace $PPID; $PROBE vmread $PPID")
        #expect(r.probe("ptrace") == "ptrace: errno=1", "\(r.both)")
        #expect(r.probe("vmread") == "vmread: errno=1", "\(r.both)")
        let control = try f.run("$PROBE ptrace $$; $PROBE vmread $$", sandboxed: false)
        #expect(control.probe("ptrace") == "ptrace: ok", "\(control.both)")
        #expect(control.probe("vmread")?.hasPrefix("vmread: reached") == true, "\(control.both)")
    }

    @Test func signallingTheHostIsDenied() throws {
        let r = try f.attempt("kill -0 $PPID; $PROBE kill $PPID")
        #expect(r.both.contains("Operation not permitted"), "\(r.both)")
        #expect(r.probe("kill") == "kill: errno=1")
        #expect(try f.run("kill -0 $PPID && echo signalled", sandboxed: false).stdout == "signalled\n")
    }

    @Test func mountingIsDenied() throws {
        let r = try f.attempt("mkdir -p mnt; $PROBE mount \"$PWD/mnt\"; mount -t tmpfs none mnt")
        #expect(r.probe("mount") == "mount: errno=1", "\(r.both)")
        // Control: a root process outside the sandbox can mount (in a private mount namespace).
        let control = try f.run("mkdir -p mnt2; unshare -m $PROBE mount \"$PWD/mnt2\"", sandboxed: false)
        #expect(control.probe("mount") == "mount: ok" || !SandboxFixture.isRoot, "\(control.both)")
    }

    @Test func unsharingAUserNamespaceIsDenied() throws {
        let r = try f.attempt("$PROBE unshare-user; $PROBE clone-newuser; $PROBE unshare-net; unshare -U true")
        #expect(r.probe("unshare-user") == "unshare-user: errno=1", "\(r.both)")
        #expect(r.probe("clone-newuser") == "clone-newuser: errno=1", "\(r.both)")
        #expect(r.probe("unshare-net") == "unshare-net: errno=1", "\(r.both)")
        let control = try f.run("$PROBE unshare-user; $PROBE clone-newuser", sandboxed: false)
        #expect(control.probe("unshare-user") == "unshare-user: ok", "\(control.both)")
        #expect(control.probe("clone-newuser") == "clone-newuser: ok", "\(control.both)")
    }

    @Test(arguments: ["bpf", "perf", "add_key", "keyctl", "personality", "io_uring", "userfaultfd", "chroot"])
    func kernelInterfacesAreDenied(op: String) throws {
        let command = "$PROBE \(op)" + (op == "chroot" ? " \"$PWD\"" : "")
        let r = try f.attempt(command)
        #expect(r.probe(op) == "\(op): errno=1", "\(r.both)")
        let control = try f.run(command, sandboxed: false)
        #expect(control.probe(op) == "\(op): ok" || !SandboxFixture.isRoot, "\(control.both)")
    }

    @Test func leavingTheProcessGroupIsDenied() throws {
        let r = try f.attempt("$PROBE setsid; $PROBE setpgid; setsid sleep 0")
        #expect(r.probe("setsid") == "setsid: errno=1", "\(r.both)")
        #expect(r.probe("setpgid") == "setpgid: errno=1", "\(r.both)")
        let control = try f.run("$PROBE setsid; $PROBE setpgid", sandboxed: false)
        #expect(control.probe("setsid") == "setsid: ok")
        #expect(control.probe("setpgid") == "setpgid: ok")
    }

    @Test func aSetuidBinaryGainsNothing() throws {
        // A copy of `id`, setuid to nobody: without the sandbox it runs with euid 65534; inside, no_new_privs
        // makes execve ignore the bit, so the euid stays what it was.
        try #require(SandboxFixture.isRoot, "needs root to create a setuid file owned by another user")
        let copy = f.paths.workspace + "/suid-id"
        try FileManager.default.copyItem(atPath: "/usr/bin/id", toPath: copy)
        #expect(chown(copy, 65534, 65534) == 0)
        #expect(chmod(copy, 0o4755) == 0)
        let inside = try f.attempt("./suid-id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status")
        #expect(inside.stdout.hasPrefix("\(geteuid())\n"), "\(inside.both)")
        #expect(inside.stdout.contains("CapEff:\t0000000000000000"))
        #expect(inside.stdout.contains("CapBnd:\t0000000000000000"))
        #expect(inside.stdout.contains("NoNewPrivs:\t1"))
        let outside = try f.run("./suid-id -u", sandboxed: false)
        #expect(outside.stdout == "65534\n", "\(outside.both)")
    }

    @Test func ldPreloadCannotCarryCodePastTheSandbox() throws {
        // A preloaded library's constructor runs inside the sandboxed process, under the same rules.
        let r = try f.attempt(
            "LD_PRELOAD=\(SandboxProbe.preloadPath) /bin/true; LD_PRELOAD=\(SandboxProbe.preloadPath) cat /dev/null"
        )
        #expect(r.both.components(separatedBy: "preload-read: errno=13").count - 1 == 2, "\(r.both)")
        let control = try f.run("LD_PRELOAD=\(SandboxProbe.preloadPath) /bin/true", sandboxed: false)
        #expect(control.both.contains("preload-read: ok"), "\(control.both)")
    }

    // MARK: - Limits

    @Test(.timeLimit(.minutes(1)))
    func aForkBombIsContained() throws {
        try #require(
            SandboxFixture.capabilities.pidsCgroup != nil || !SandboxFixture.isRoot,
            "as root only a pids cgroup bounds a fork bomb; none is writable here"
        )
        let name = "bomb_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        let start = ContinuousClock.now
        let r = try f.run("\(name)() { \(name) | \(name) & }; \(name); sleep 2; echo done", timeout: .seconds(4))
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(10))
        #expect(r.result.exitCode == 0 || r.result.timedOut)
        #expect(r.both.contains("fork") || r.both.contains("Resource temporarily unavailable"), "\(r.both.prefix(500))")
        let left = SandboxFixture.processes(matching: name)
        for pid in left { kill(pid, SIGKILL) }
        #expect(left.isEmpty, "processes left behind: \(left)")
        // The host goes on, and so does the sandbox.
        let after = try f.attempt("true")
        #expect(after.result.succeeded)
    }

    @Test func writingPastTheFileSizeLimitFails() throws {
        let limit = f.policy.limits.fileSizeBytes
        let r = try f.attempt("head -c \(limit * 2) /dev/zero > big.bin; echo status:$?; stat -c %s big.bin")
        #expect(r.both.contains("File size limit exceeded"), "\(r.both)")
        #expect(
            r.stdout.contains("\n\(limit)\n") || r.stdout.contains(":\(limit)\n") || r.stdout.contains("\(limit)\n")
        )
        let control = try f.run("head -c \(limit * 2) /dev/zero > big2.bin; stat -c %s big2.bin", sandboxed: false)
        #expect(control.stdout == "\(limit * 2)\n")
    }

    @Test(.timeLimit(.minutes(1)))
    func aCommandThatIgnoresSIGTERMDiesAtTheTimeoutWithItsChildren() throws {
        let tag = "30.\(UInt32.random(in: 100_000...999_999))"
        let start = ContinuousClock.now
        let r = try f.run(
            "trap '' TERM; (trap '' TERM; sleep \(tag)) & (sleep \(tag) &); sleep \(tag) & sleep \(tag); wait",
            timeout: .seconds(1)
        )
        let elapsed = ContinuousClock.now - start
        #expect(r.result.timedOut)
        #expect(r.result.signal == SIGKILL)
        #expect(elapsed < .seconds(4), "\(elapsed)")
        let left = SandboxFixture.processes(matching: "sleep\0\(tag)")
        for pid in left { kill(pid, SIGKILL) }
        #expect(left.isEmpty, "left running: \(left)")
        #expect(try f.attempt("true").result.succeeded)
    }

    @Test func oneHundredMiBOfOutputIsCappedAndCounted() throws {
        let total = 100 << 20
        let r = try f.run("head -c \(total) /dev/zero; echo done >&2")
        #expect(r.result.succeeded)
        #expect(r.result.standardOutput.count == f.policy.limits.outputBytes)
        #expect(r.result.standardOutputBytes == total)
        #expect(r.result.isStandardOutputTruncated)
        #expect(r.stderr == "done\n")
        #expect(try f.attempt("true").result.succeeded)
    }

    @Test func theReportNamesEveryLayer() throws {
        let r = try f.run("true")
        let report = try #require(r.result.sandbox)
        #expect(report.effectiveLevel == .full)
        #expect(report.missing.isEmpty)
        #expect(Set(report.layers).isSuperset(of: [.landlockFilesystem, .landlockScope, .seccomp, .resourceLimits]))
        #expect(report.strayProcessesKilled == 0)
    }
}

/// Listening sockets the escape tests try to reach.
struct LocalListener {
    let fd: Int32
    var port: Int = 0
    var name: String = ""
    var path: String?

    func close() {
        _ = Glibc.close(fd)
        if let path { unlink(path) }
    }

    static func tcp() throws -> LocalListener {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard fd >= 0, bound == 0, named == 0, listen(fd, 8) == 0 else { throw TestSupportError("tcp listener") }
        return LocalListener(fd: fd, port: Int(UInt16(bigEndian: addr.sin_port)))
    }

    static func unix(path: String? = nil, abstract: String? = nil) throws -> LocalListener {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array((path ?? abstract ?? "").utf8)
        let offset = abstract != nil ? 1 : 0
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() where i + offset < raw.count - 1 { raw[i + offset] = b }
        }
        let length =
            abstract != nil
            ? socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count) : socklen_t(MemoryLayout<sockaddr_un>.size)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard fd >= 0, bound == 0, listen(fd, 8) == 0 else { throw TestSupportError("unix listener: \(errno)") }
        return LocalListener(fd: fd, name: abstract ?? "", path: path)
    }
}
