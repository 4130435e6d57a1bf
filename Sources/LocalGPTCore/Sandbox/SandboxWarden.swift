//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTSandbox
import Foundation
import Glibc
import Synchronization

/// The warden: a small program the host starts at its first command, which outlives the host
/// and stops what the host's commands left running when the host dies mid-run (SIGKILL included).
///
/// PR_SET_PDEATHSIG kills a command's first process with the host, but not what that process
/// started. ``ProcessRunner`` tells the warden the process group (and pids cgroup) of every command
/// while it runs; once the host is gone, the warden SIGKILLs what is left of them and, when
/// ``setRecovery(arguments:)`` named a program, execs it to put back the protected files those
/// commands changed (the CLI names `localgpt sandbox recover`). The host side is
/// `CLocalGPTSandbox/warden.c` (its header describes the details and limits), the warden
/// `CLocalGPTWarden`.
public enum SandboxWarden {
    /// The warden program: `localgpt-warden`, next to the running executable (as the bundled
    /// plugins are).
    public static var programPath: String { PluginDiscovery.executableDirectory() + "/localgpt-warden" }

    /// Whether the C side was told the program (and maybe a recovery).
    private static let configured = Mutex(false)

    /// Makes the warden run `arguments` (the first: an absolute path) once it has stopped a dead
    /// host's commands, with the host's environment. Call it before the first command runs.
    ///
    /// - Returns: Whether it was accepted.
    @discardableResult
    public static func setRecovery(arguments: [String]) -> Bool {
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        return configured.withLock { done in
            done = argv.withUnsafeBufferPointer { lgpt_sandbox_warden_configure(programPath, $0.baseAddress) == 0 }
            return done
        }
    }

    /// Watches the group `group` of a command that just started (and its pids cgroup `cgroup`).
    /// A failure only means the command runs unwatched: the next host's sweep still finds it.
    /// ``ProcessRunner`` calls it for every run (public for `localgpt sandbox bench`).
    public static func watch(group: Int32, cgroup: String?) {
        configured.withLock { done in
            if !done { done = lgpt_sandbox_warden_configure(programPath, nil) == 0 }
        }
        _ = lgpt_sandbox_warden_watch(group, cgroup)
    }

    /// The command of `group` ended and was reaped.
    public static func release(group: Int32) {
        _ = lgpt_sandbox_warden_release(group)
    }
}
