/*
 * lgpt_sandbox.h -- the host's process spawner: the one path through which any process a plugin asks
 * for is started.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option.
 *
 * This is a host-internal API (used by LocalGPTCore's ProcessRunner), not part of the plugin ABI.
 *
 * MODEL
 *  lgpt_sandbox_spawn() fork()s and, in the child, performs only async-signal-safe work before
 *  execve(): new process group, default signal dispositions and an empty signal mask, the stdio pipes
 *  on 0/1/2, every other descriptor closed, chdir, PR_SET_PDEATHSIG(SIGKILL). A failure before the
 *  exec (which step, and its errno) travels back to the parent over a close-on-exec pipe, so the call
 *  fails with that errno instead of yielding a child that exits 127. The parent then supervises the
 *  child through the returned descriptors and lgpt_sandbox_exited() / lgpt_sandbox_kill_group() /
 *  lgpt_sandbox_wait().
 *
 * VERSIONING
 *  Both structs begin with `uint32_t struct_size`, the size the CALLER compiled with. Fields are only
 *  ever appended; the spawner never reads or writes a field whose end lies beyond struct_size, and
 *  treats an absent field as zero. The Landlock / seccomp / rlimit settings of the sandbox are meant
 *  to be appended to lgpt_sandbox_spawn_options (see the note at the end of that struct).
 *
 * THREADS
 *  Every function is thread-safe and may be called concurrently from several threads. All
 *  descriptors the spawner creates are O_CLOEXEC, so a concurrent spawn never leaks them into
 *  another child. Note that PR_SET_PDEATHSIG fires when the THREAD that called lgpt_sandbox_spawn()
 *  exits, not the process: supervise (and reap) the child on the thread that spawned it.
 */
#ifndef LGPT_SANDBOX_H
#define LGPT_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__clang__)
#define LGPT_SANDBOX_NONNULL _Nonnull
#define LGPT_SANDBOX_NULLABLE _Nullable
#else
#define LGPT_SANDBOX_NONNULL
#define LGPT_SANDBOX_NULLABLE
#endif

/* ---- flags (lgpt_sandbox_spawn_options.flags) ---------------------------------------------------- */

/** The child's stdin is a pipe whose write end the parent receives (stdin_fd). Without this flag the
 *  child's stdin is /dev/null and stdin_fd is -1. */
#define LGPT_SANDBOX_STDIN_PIPE ((uint32_t)1u << 0)

/** Every flag this version understands. lgpt_sandbox_spawn() fails with EINVAL on any other bit. */
#define LGPT_SANDBOX_KNOWN_FLAGS (LGPT_SANDBOX_STDIN_PIPE)

/* ---- steps (where a spawn failed) ---------------------------------------------------------------- */

/** Which step of lgpt_sandbox_spawn() failed; see lgpt_sandbox_step_name(). Steps from
 *  LGPT_SANDBOX_STEP_SETPGID on run in the child. Values are stable; new ones are only appended. */
typedef enum lgpt_sandbox_step {
    LGPT_SANDBOX_STEP_NONE = 0,      /* no failure */
    LGPT_SANDBOX_STEP_OPTIONS = 1,   /* invalid options (EINVAL) */
    LGPT_SANDBOX_STEP_PIPE = 2,      /* pipe2() or moving a pipe end above fd 2 in the parent */
    LGPT_SANDBOX_STEP_DEVNULL = 3,   /* opening /dev/null in the parent */
    LGPT_SANDBOX_STEP_FORK = 4,      /* fork() */
    LGPT_SANDBOX_STEP_SETPGID = 5,   /* setpgid(0, 0) in the child */
    LGPT_SANDBOX_STEP_SIGNALS = 6,   /* resetting the signal mask in the child */
    LGPT_SANDBOX_STEP_DUP2 = 7,      /* dup2() of a pipe end onto 0, 1 or 2 */
    LGPT_SANDBOX_STEP_CLOSE_FDS = 8, /* closing descriptors above 2 */
    LGPT_SANDBOX_STEP_CHDIR = 9,     /* chdir(cwd) */
    LGPT_SANDBOX_STEP_PDEATHSIG = 10,/* prctl(PR_SET_PDEATHSIG) */
    LGPT_SANDBOX_STEP_EXEC = 11,     /* execve(path) */
    LGPT_SANDBOX_STEP_REPORT = 12,   /* reading the child's report in the parent (protocol error) */
} lgpt_sandbox_step;

/* ---- spawn --------------------------------------------------------------------------------------- */

/** What to start. All pointers are BORROWED: they need only stay valid until lgpt_sandbox_spawn()
 *  returns (the spawner copies nothing and keeps nothing). */
typedef struct lgpt_sandbox_spawn_options {
    /** sizeof(lgpt_sandbox_spawn_options) as the caller compiled it; at least
     *  LGPT_SANDBOX_SPAWN_OPTIONS_V1_SIZE. */
    uint32_t struct_size;
    /** LGPT_SANDBOX_* flags. */
    uint32_t flags;
    /** Absolute path of the executable (must begin with '/'; no PATH search happens). */
    const char *LGPT_SANDBOX_NONNULL path;
    /** argv, NULL-terminated, argv[0] included. Must have at least one element. */
    char *const LGPT_SANDBOX_NULLABLE *LGPT_SANDBOX_NONNULL argv;
    /** The exact environment, NULL-terminated "KEY=value" strings; nothing is inherited from the
     *  host. NULL means an empty environment. */
    char *const LGPT_SANDBOX_NULLABLE *LGPT_SANDBOX_NULLABLE envp;
    /** Working directory of the child; NULL keeps the host's (not recommended). */
    const char *LGPT_SANDBOX_NULLABLE cwd;
    /*
     * Fields appended later (a caller that does not set them passes a smaller struct_size):
     *  - Landlock: a ruleset fd prepared in the parent (landlock_create_ruleset + add_rule with O_PATH
     *    fds, all before fork), applied in the child right before execve with
     *    prctl(PR_SET_NO_NEW_PRIVS) + landlock_restrict_self(); the ruleset fd must then be skipped by
     *    the close-fds step like the report pipe.
     *  - rlimits: an array of {resource, soft, hard}, applied with setrlimit() in the child after chdir.
     *  - seccomp: a prepared `struct sock_fprog` (built in the parent), installed LAST, right before
     *    execve (after no_new_privs and Landlock), and it must allow execve itself.
     */
} lgpt_sandbox_spawn_options;

/** The size of the first version of lgpt_sandbox_spawn_options (through `cwd`). */
#define LGPT_SANDBOX_SPAWN_OPTIONS_V1_SIZE \
    ((uint32_t)(offsetof(lgpt_sandbox_spawn_options, cwd) + sizeof(const char *)))

/** What lgpt_sandbox_spawn() produced. The CALLER owns every descriptor in it after a successful
 *  spawn and must close each one that is not -1, and must reap `pid` (lgpt_sandbox_wait()). */
typedef struct lgpt_sandbox_child {
    /** Set by the caller: sizeof(lgpt_sandbox_child) as compiled; at least
     *  LGPT_SANDBOX_CHILD_V1_SIZE. */
    uint32_t struct_size;
    /** On failure: which step failed (an lgpt_sandbox_step); LGPT_SANDBOX_STEP_NONE on success. */
    int32_t failed_step;
    /** The child's pid, also its process-group id; -1 on failure. */
    pid_t pid;
    /** Write end of the child's stdin (O_CLOEXEC | O_NONBLOCK), or -1 (stdin is /dev/null). Close it
     *  to signal end of input. */
    int stdin_fd;
    /** Read end of the child's stdout (O_CLOEXEC | O_NONBLOCK). */
    int stdout_fd;
    /** Read end of the child's stderr (O_CLOEXEC | O_NONBLOCK). */
    int stderr_fd;
    /** A pidfd for the child (O_CLOEXEC; poll() reports POLLIN once it exited), or -1 when the kernel
     *  lacks pidfd_open(2). */
    int pidfd;
} lgpt_sandbox_child;

/** The size of the first version of lgpt_sandbox_child (through `pidfd`). */
#define LGPT_SANDBOX_CHILD_V1_SIZE ((uint32_t)(offsetof(lgpt_sandbox_child, pidfd) + sizeof(int)))

/**
 * Starts a process as `opts` describes.
 *
 * Memory: `opts` and everything it points to are borrowed for the duration of the call. `out` is
 * written by the call (its struct_size must be set by the caller); on success the caller owns the
 * returned descriptors and the child (see lgpt_sandbox_child).
 *
 * Returns 0 once the child has successfully called execve(). Otherwise returns a positive errno value
 * and sets out->failed_step, out->pid = -1 and every descriptor to -1; nothing is left open and no
 * child is left running or unreaped. Notable errors: EINVAL with LGPT_SANDBOX_STEP_OPTIONS (bad
 * struct_size, relative path, empty argv, unknown flag); ENOENT / EACCES / ENOEXEC ... with
 * LGPT_SANDBOX_STEP_EXEC (the executable is missing, not executable, not a valid binary);
 * ENOENT / ENOTDIR / EACCES with LGPT_SANDBOX_STEP_CHDIR (bad working directory); EAGAIN / ENOMEM with
 * LGPT_SANDBOX_STEP_FORK; EMFILE / ENFILE with LGPT_SANDBOX_STEP_PIPE.
 */
int lgpt_sandbox_spawn(const lgpt_sandbox_spawn_options *LGPT_SANDBOX_NONNULL opts,
                       lgpt_sandbox_child *LGPT_SANDBOX_NONNULL out);

/**
 * A short, static, English name for a step ("chdir", "execve", ...); never NULL, "unknown step" for an
 * unknown value. The string is static: do not free it.
 */
const char *LGPT_SANDBOX_NONNULL lgpt_sandbox_step_name(int32_t step);

/**
 * Makes the process ignore SIGPIPE if (and only if) its disposition is still the default, so that
 * writing to the stdin pipe of a child that exited without reading it yields EPIPE instead of killing
 * the host. A handler someone else installed is left alone. Process-wide and idempotent; children
 * started by lgpt_sandbox_spawn() get the default disposition back. Returns 0 or an errno value.
 */
int lgpt_sandbox_ignore_sigpipe(void);

/* ---- supervision --------------------------------------------------------------------------------- */

/**
 * Whether the child `pid` has terminated, WITHOUT reaping it (waitid with WNOWAIT), so its pid and
 * process-group id stay reserved until lgpt_sandbox_wait(): lgpt_sandbox_kill_group() after this
 * returned 1 can never hit an unrelated process.
 *
 * Returns 1 when it terminated, 0 when it is still running, or a negative errno value (-ECHILD: not
 * our child, or already reaped).
 */
int lgpt_sandbox_exited(pid_t pid);

/**
 * Sends SIGKILL to the whole process group `pgid` and to the process `pgid` itself (in case it left
 * the group). Call it only while `pgid` is an unreaped child (running, or terminated but not yet
 * passed to lgpt_sandbox_wait()), so the id cannot have been reused.
 *
 * Returns 0 when a signal was delivered to anything, else a positive errno value (ESRCH: nothing was
 * left to kill, which is not a failure for the caller's purposes).
 */
int lgpt_sandbox_kill_group(pid_t pgid);

/** How a reaped child ended. */
typedef struct lgpt_sandbox_exit_status {
    /** 1 when the child exited normally (exit_code is valid), else 0. */
    int32_t exited;
    /** The exit status (0...255) when `exited`; else 0. */
    int32_t exit_code;
    /** 1 when a signal terminated the child (term_signal is valid), else 0. */
    int32_t signaled;
    /** The terminating signal number when `signaled`; else 0. */
    int32_t term_signal;
} lgpt_sandbox_exit_status;

/**
 * Blocks until the child `pid` terminates, reaps it (waitpid, retried on EINTR) and decodes its
 * status into `out` (caller-owned, written only on success).
 *
 * Returns 0, or a positive errno value (ECHILD: not our child or already reaped).
 */
int lgpt_sandbox_wait(pid_t pid, lgpt_sandbox_exit_status *LGPT_SANDBOX_NONNULL out);

#ifdef __cplusplus
}
#endif

#endif /* LGPT_SANDBOX_H */
