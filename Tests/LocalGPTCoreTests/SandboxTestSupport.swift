//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Testing

/// A throw-away user: a home with `~/.ssh/id_rsa`, a LocalGPT home inside it (config.toml, grants.json,
/// a device key, the workspace), a folder outside everything, and a sandbox policy for the workspace.
/// Commands run through ``ProcessRunner`` exactly as a plugin's `exec` runs them.
struct SandboxFixture {
    let root: String
    let userHome: String
    let secretKey: String
    let paths: LocalGPTPaths
    let outside: String
    var policy: SandboxPolicy

    /// The contents of every secret file: a denial test greps for it in the output.
    static let secretText = "LGPT-TEST-SECRET-7f3a"

    init(level: SandboxLevel = .full, limits: SandboxLimits = SandboxFixture.testLimits) throws {
        root = TestSupport.makeTemporaryDirectory("lgpt-sbx")
        userHome = root + "/home"
        paths = LocalGPTPaths(home: userHome + "/.localgpt")
        outside = root + "/outside"
        secretKey = userHome + "/.ssh/id_rsa"
        try paths.createDirectories()
        for dir in [outside, userHome + "/.ssh"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let secret = Self.secretText + "\n"
        try secret.write(toFile: secretKey, atomically: true, encoding: .utf8)
        try "[secrets]\nAPI_KEY = \"\(Self.secretText)\"\n".write(
            toFile: paths.configFile,
            atomically: true,
            encoding: .utf8
        )
        try "{\"\(Self.secretText)\": {}}".write(toFile: paths.grantsFile, atomically: true, encoding: .utf8)
        try secret.write(toFile: paths.deviceKey, atomically: true, encoding: .utf8)
        try secret.write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
        policy = SandboxPolicy(
            level: level,
            workspace: paths.workspace,
            readPaths: [SandboxProbe.directory],
            limits: limits,
            protectedPaths: [paths.home]
        )
    }

    /// Small limits, so the limit tests are quick: 1 MiB files, 32 processes, 1 MiB output.
    static let testLimits = SandboxLimits(
        timeout: .seconds(20),
        outputBytes: 1 << 20,
        fileSizeBytes: 1 << 20,
        processes: 32
    )

    struct Output {
        var result: ProcessResult
        var stdout: String { String(decoding: result.standardOutput, as: UTF8.self) }
        var stderr: String { String(decoding: result.standardError, as: UTF8.self) }
        var both: String { stdout + stderr }
        /// The lines the probe printed for `op` (`"tcp: errno=1"`), or nil.
        func probe(_ op: String) -> String? {
            both.split(separator: "\n").first { $0.hasPrefix(op + ": ") }.map(String.init)
        }
    }

    /// Runs `script` with bash in the workspace: sandboxed by `policy`, or (`sandboxed: false`) plain, as
    /// the control that shows the same attempt succeeds without the sandbox.
    func run(
        _ script: String,
        sandboxed: Bool = true,
        timeout: Duration? = nil,
        outputLimit: Int? = nil,
        environment: [String: String] = [:]
    ) throws -> Output {
        var env = [
            "PATH": PluginHost.execSearchPath, "HOME": paths.workspace, "LANG": "C.UTF-8", "TERM": "dumb",
            "PROBE": SandboxProbe.path, "SECRET": secretKey, "LGPT_HOME": paths.home, "OUTSIDE": outside,
            "USER_HOME": userHome,
        ]
        env.merge(environment) { $1 }
        let request = ProcessRequest(
            executable: "/bin/bash",
            arguments: ["bash", "-c", script],
            environment: env,
            workingDirectory: paths.workspace,
            timeout: timeout ?? policy.limits.timeout,
            outputLimit: outputLimit ?? policy.limits.outputBytes,
            sandbox: sandboxed ? policy : nil
        )
        return Output(result: try ProcessRunner.run(request))
    }

    /// Runs `attempt`, then the legitimate workspace work, in ONE sandboxed command: the sandbox that
    /// refused the attempt is the one that let the work succeed. Expects the work to succeed.
    func attempt(
        _ attempt: String,
        timeout: Duration? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Output {
        let script = "{\n\(attempt)\n} 2>&1\necho \"attempt-status:$?\"\n( set -e\n\(Self.workScript)\n)\n"
        let output = try run(script, timeout: timeout)
        #expect(
            output.stdout.contains("workspace-ok"),
            "the legitimate work failed in the sandbox: \(output.both.suffix(2000))",
            sourceLocation: sourceLocation
        )
        #expect(!output.both.contains(Self.secretText), "a secret leaked", sourceLocation: sourceLocation)
        return output
    }

    /// Create, edit, `>` truncate, `mv` across folders, `mkdir -p`, symlinks, `git init`, pipes,
    /// /dev/null and TMPDIR: what every sandboxed command must still be able to do.
    static let workScript = SandboxSelfTest.workspaceScript(git: hasGit)

    static let hasGit = ProcessRunner.resolveExecutable("git", searchPath: PluginHost.execSearchPath) != nil

    /// The pids whose command line contains `needle`.
    static func processes(matching needle: String) -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        while let entry = readdir(dir) {
            let name = directoryEntryNameString(entry)
            guard let pid = Int32(name), pid != getpid() else { continue }
            if let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: data, as: UTF8.self).contains(needle)
            {
                out.append(pid)
            }
        }
        return out
    }

    static var capabilities: SandboxCapabilities { .current }
    static var hasLandlock: Bool { capabilities.landlockABI >= 1 }
    static var hasFullSandbox: Bool { capabilities.landlockABI >= 6 && capabilities.seccomp }
    static var isRoot: Bool { geteuid() == 0 }
}

/// A small C program that makes one system call and prints `<op>: ok` or `<op>: errno=<n>`, so a test
/// sees exactly which call the sandbox refused and with which errno (EPERM from seccomp, EACCES from
/// Landlock) rather than a tool's paraphrase. Compiled once per test process with the C compiler.
enum SandboxProbe {
    static let directory: String = TestSupport.makeTemporaryDirectory("lgpt-probe")
    static var path: String { directory + "/probe" }

    /// Compiles the probe (once); nil when that failed, with the compiler's message recorded.
    static let built: Bool = {
        let source = directory + "/probe.c"
        do {
            try code.write(toFile: source, atomically: true, encoding: .utf8)
            let cc = ProcessInfo.processInfo.environment["CC"] ?? "/usr/bin/cc"
            let r = try TestSupport.run(cc, ["-O1", "-o", path, source])
            if r.status != 0 { Issue.record("compiling the sandbox probe failed: \(r.stderr)") }
            let preload = try TestSupport.run(cc, ["-O1", "-shared", "-fPIC", "-o", preloadPath, preloadSource()])
            if preload.status != 0 { Issue.record("compiling the preload library failed: \(preload.stderr)") }
            return r.status == 0 && preload.status == 0
        } catch {
            Issue.record("compiling the sandbox probe failed: \(error)")
            return false
        }
    }()

    /// A library whose constructor tries to read $SECRET and prints what happened (the LD_PRELOAD test).
    static var preloadPath: String { directory + "/evil.so" }

    private static func preloadSource() throws -> String {
        let file = directory + "/evil.c"
        try """
        #include <errno.h>
        #include <fcntl.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        __attribute__((constructor)) static void steal(void) {
            const char *path = getenv("SECRET");
            if (path == NULL) return;
            int fd = open(path, O_RDONLY);
            if (fd < 0) { fprintf(stderr, "preload-read: errno=%d\\n", errno); return; }
            fprintf(stderr, "preload-read: ok\\n");
            close(fd);
        }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    static let code = #"""
        #define _GNU_SOURCE
        #include <errno.h>
        #include <fcntl.h>
        #include <linux/bpf.h>
        #include <linux/if_ether.h>
        #include <linux/io_uring.h>
        #include <linux/keyctl.h>
        #include <linux/netlink.h>
        #include <linux/perf_event.h>
        #include <netinet/in.h>
        #include <sched.h>
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/mount.h>
        #include <sys/personality.h>
        #include <sys/ptrace.h>
        #include <sys/socket.h>
        #include <sys/syscall.h>
        #include <sys/uio.h>
        #include <sys/un.h>
        #include <sys/wait.h>
        #include <unistd.h>

        static int report(const char *op, long rc) {
            if (rc >= 0) { printf("%s: ok\n", op); return 0; }
            printf("%s: errno=%d\n", op, errno);
            return 1;
        }

        static int in_child(const char *op, int (*fn)(void)) {
            pid_t pid = fork();
            if (pid < 0) return report(op, -1);
            if (pid == 0) _exit(fn() < 0 ? errno : 0);
            int status = 0;
            waitpid(pid, &status, 0);
            int err = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
            errno = err;
            return report(op, err == 0 ? 0 : -1);
        }
        static int do_setsid(void) { return setsid() < 0 ? -1 : 0; }
        static int do_setpgid(void) { return setpgid(0, 0); }

        static int connect_unix(const char *op, const char *name, int abstract) {
            int fd = socket(AF_UNIX, SOCK_STREAM, 0);
            if (fd < 0) return report(op, -1);
            struct sockaddr_un addr;
            memset(&addr, 0, sizeof addr);
            addr.sun_family = AF_UNIX;
            socklen_t len;
            if (abstract) {
                strncpy(addr.sun_path + 1, name, sizeof addr.sun_path - 2);
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
            } else {
                strncpy(addr.sun_path, name, sizeof addr.sun_path - 1);
                len = sizeof addr;
            }
            return report(op, connect(fd, (struct sockaddr *)&addr, len));
        }

        int main(int argc, char **argv) {
            if (argc < 2) return 2;
            const char *op = argv[1];
            const char *arg = argc > 2 ? argv[2] : "";
            if (!strcmp(op, "tcp")) return report(op, socket(AF_INET, SOCK_STREAM, 0));
            if (!strcmp(op, "tcp6")) return report(op, socket(AF_INET6, SOCK_STREAM, 0));
            if (!strcmp(op, "udp")) return report(op, socket(AF_INET, SOCK_DGRAM, 0));
            if (!strcmp(op, "raw")) return report(op, socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
            if (!strcmp(op, "packet")) return report(op, socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
            if (!strcmp(op, "netlink")) return report(op, socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
            if (!strcmp(op, "unix")) return report(op, socket(AF_UNIX, SOCK_STREAM, 0));
            if (!strcmp(op, "socketpair")) { int sv[2]; return report(op, socketpair(AF_UNIX, SOCK_STREAM, 0, sv)); }
            if (!strcmp(op, "connect-unix")) return connect_unix(op, arg, 0);
            if (!strcmp(op, "connect-abstract")) return connect_unix(op, arg, 1);
            if (!strcmp(op, "connect-tcp")) {
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                if (fd < 0) return report(op, -1);
                struct sockaddr_in a;
                memset(&a, 0, sizeof a);
                a.sin_family = AF_INET;
                a.sin_port = htons((unsigned short)atoi(arg));
                a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                return report(op, connect(fd, (struct sockaddr *)&a, sizeof a));
            }
            if (!strcmp(op, "ptrace")) return report(op, ptrace(PTRACE_SEIZE, (pid_t)atoi(arg), 0, 0));
            if (!strcmp(op, "vmread")) {
                char local[8], *remote = (char *)0x10000;
                struct iovec l = {local, sizeof local}, r = {remote, sizeof local};
                long rc = process_vm_readv((pid_t)atoi(arg), &l, 1, &r, 1, 0);
                if (rc < 0 && errno != EPERM) { printf("%s: reached (errno=%d)\n", op, errno); return 0; }
                return report(op, rc);
            }
            if (!strcmp(op, "mount")) return report(op, mount("none", arg, "tmpfs", 0, NULL));
            if (!strcmp(op, "unshare-user")) return report(op, unshare(CLONE_NEWUSER));
            if (!strcmp(op, "unshare-net")) return report(op, unshare(CLONE_NEWNET));
            if (!strcmp(op, "clone-newuser")) {
                long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
                if (pid == 0) _exit(0);
                if (pid > 0) waitpid((pid_t)pid, NULL, 0);
                return report(op, pid);
            }
            if (!strcmp(op, "chroot")) return report(op, chroot(arg));
            if (!strcmp(op, "bpf")) {
                union bpf_attr a;
                memset(&a, 0, sizeof a);
                a.map_type = BPF_MAP_TYPE_ARRAY;
                a.key_size = 4;
                a.value_size = 4;
                a.max_entries = 1;
                return report(op, syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a));
            }
            if (!strcmp(op, "perf")) {
                struct perf_event_attr pe;
                memset(&pe, 0, sizeof pe);
                pe.type = PERF_TYPE_SOFTWARE;
                pe.size = sizeof pe;
                pe.config = PERF_COUNT_SW_CPU_CLOCK;
                pe.disabled = 1;
                pe.exclude_kernel = 1;
                return report(op, syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
            }
            if (!strcmp(op, "add_key"))
                return report(op, syscall(SYS_add_key, "user", "lgpt-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
            if (!strcmp(op, "keyctl"))
                return report(op, syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
            if (!strcmp(op, "personality")) return report(op, personality(ADDR_NO_RANDOMIZE));
            if (!strcmp(op, "io_uring")) {
                struct io_uring_params p;
                memset(&p, 0, sizeof p);
                return report(op, syscall(SYS_io_uring_setup, 1, &p));
            }
            if (!strcmp(op, "userfaultfd")) return report(op, syscall(SYS_userfaultfd, O_CLOEXEC));
            if (!strcmp(op, "setsid")) return in_child(op, do_setsid);
            if (!strcmp(op, "setpgid")) return in_child(op, do_setpgid);
            if (!strcmp(op, "kill")) return report(op, kill((pid_t)atoi(arg), 0));
            if (!strcmp(op, "open")) return report(op, open(arg, O_RDONLY));
            if (!strcmp(op, "open-write")) return report(op, open(arg, O_WRONLY | O_CREAT, 0600));
            printf("%s: unknown\n", op);
            return 2;
        }
        """#
}
