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
 *  execve(): new process group (a new session with LGPT_SANDBOX_APPLY_NEW_SESSION), default signal
 *  dispositions and an empty signal mask, the stdio pipes on 0/1/2, every other descriptor closed,
 *  chdir, PR_SET_PDEATHSIG(SIGKILL), then the sandbox layers (see SANDBOX). A failure before the exec
 *  (which step, and its errno) travels back to the parent over a close-on-exec pipe, so the call fails
 *  with that errno instead of yielding a child that exits 127. The parent then supervises the child
 *  through the returned descriptors and lgpt_sandbox_exited() / lgpt_sandbox_kill_group() /
 *  lgpt_sandbox_wait().
 *
 * VERSIONING
 *  Both structs begin with `uint32_t struct_size`, the size the CALLER compiled with. Fields are only
 *  ever appended; the spawner never reads or writes a field whose end lies beyond struct_size, and
 *  treats an absent field as zero. The sandbox settings (version 2 of the options) are such appended
 *  fields: a caller compiled against version 1 gets exactly the version-1 behaviour.
 *
 * SANDBOX
 *  Everything expensive or allocating is prepared in the PARENT before the fork: the Landlock ruleset
 *  (lgpt_sandbox_landlock_create(): O_PATH descriptors and landlock_add_rule()), the seccomp program
 *  (lgpt_sandbox_seccomp_prepare(): built once per variant with libseccomp and exported as classic BPF),
 *  the pids cgroup and the rlimit list. The child then only makes system calls, in this order, right
 *  before execve(): setsid() (or setpgid()), join the cgroup, setrlimit(), drop the capability bounding,
 *  inheritable and ambient sets, PR_SET_NO_NEW_PRIVS, landlock_restrict_self(), and, last,
 *  PR_SET_SECCOMP. A failing step is reported like every other one (LGPT_SANDBOX_STEP_*), so a sandbox
 *  that cannot be applied never yields a running, unconfined child.
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

/* ---- sandbox layers (lgpt_sandbox_spawn_options.sandbox_flags, options version 2) --------------- */

/** setsid() instead of setpgid(0, 0): the child also leaves the host's session, so it has no
 *  controlling terminal (/dev/tty fails with ENXIO, TIOCSTI has nothing to inject into). */
#define LGPT_SANDBOX_APPLY_NEW_SESSION ((uint32_t)1u << 0)
/** Join the cgroup whose `tasks` (cgroup v1) or `cgroup.procs` (v2) file is open as cgroup_procs_fd, by
 *  writing "0" (the writer itself) to it. */
#define LGPT_SANDBOX_APPLY_CGROUP ((uint32_t)1u << 1)
/** setrlimit() every entry of `rlimits`. */
#define LGPT_SANDBOX_APPLY_RLIMITS ((uint32_t)1u << 2)
/** Empty the capability bounding set (PR_CAPBSET_DROP, needs CAP_SETPCAP), the inheritable set and
 *  the ambient set, so that even a root-owned child execs with no capability at all. */
#define LGPT_SANDBOX_APPLY_DROP_CAPS ((uint32_t)1u << 3)
/** prctl(PR_SET_NO_NEW_PRIVS, 1): setuid/setgid bits and file capabilities are ignored by execve().
 *  Implied by LGPT_SANDBOX_APPLY_LANDLOCK and LGPT_SANDBOX_APPLY_SECCOMP. */
#define LGPT_SANDBOX_APPLY_NO_NEW_PRIVS ((uint32_t)1u << 4)
/** landlock_restrict_self(landlock_ruleset_fd, landlock_restrict_flags). */
#define LGPT_SANDBOX_APPLY_LANDLOCK ((uint32_t)1u << 5)
/** Install seccomp_filter (PR_SET_SECCOMP, SECCOMP_MODE_FILTER), the last step before execve(). */
#define LGPT_SANDBOX_APPLY_SECCOMP ((uint32_t)1u << 6)

/** Every sandbox flag this version understands. lgpt_sandbox_spawn() fails with EINVAL on any other. */
#define LGPT_SANDBOX_KNOWN_APPLY_FLAGS ((uint32_t)0x7fu)

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
    LGPT_SANDBOX_STEP_CGROUP = 13,   /* joining the pids cgroup (write to cgroup.procs) */
    LGPT_SANDBOX_STEP_RLIMIT = 14,   /* setrlimit() */
    LGPT_SANDBOX_STEP_CAPABILITIES = 15, /* dropping the capability sets */
    LGPT_SANDBOX_STEP_NO_NEW_PRIVS = 16, /* prctl(PR_SET_NO_NEW_PRIVS) */
    LGPT_SANDBOX_STEP_LANDLOCK = 17, /* landlock_restrict_self() */
    LGPT_SANDBOX_STEP_SECCOMP = 18,  /* installing the seccomp filter */
} lgpt_sandbox_step;

/** One resource limit for the child (setrlimit(resource, {soft, hard})). */
typedef struct lgpt_sandbox_rlimit {
    /** An RLIMIT_* value (RLIMIT_FSIZE, RLIMIT_NPROC, ...). */
    int32_t resource;
    uint32_t reserved; /* zero */
    /** The soft and hard limits; UINT64_MAX is RLIM_INFINITY. */
    uint64_t soft;
    uint64_t hard;
} lgpt_sandbox_rlimit;

/** A seccomp program prepared by lgpt_sandbox_seccomp_prepare(); opaque, immutable, never freed. */
typedef struct lgpt_sandbox_seccomp_filter lgpt_sandbox_seccomp_filter;

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

    /* ---- version 2: the sandbox. Every field is ignored unless its LGPT_SANDBOX_APPLY_* flag is set,
     * so a zero-filled tail means "no sandbox". The parent keeps ownership of every descriptor and
     * pointer here; the child closes the descriptors before its exec. ---- */

    /** LGPT_SANDBOX_APPLY_* flags: which layers the child applies, in the order listed above. */
    uint32_t sandbox_flags;
    /** A Landlock ruleset from lgpt_sandbox_landlock_create(); with LGPT_SANDBOX_APPLY_LANDLOCK. */
    int32_t landlock_ruleset_fd;
    /** Flags for landlock_restrict_self() (LGPT_SANDBOX_LANDLOCK_RESTRICT_*; zero before ABI 7). */
    uint32_t landlock_restrict_flags;
    /** `tasks` (v1) or `cgroup.procs` (v2) of a prepared cgroup, open for writing; with
     *  LGPT_SANDBOX_APPLY_CGROUP. */
    int32_t cgroup_procs_fd;
    /** rlimit_count limits; with LGPT_SANDBOX_APPLY_RLIMITS. */
    const lgpt_sandbox_rlimit *LGPT_SANDBOX_NULLABLE rlimits;
    uint32_t rlimit_count;
    uint32_t reserved; /* zero */
    /** From lgpt_sandbox_seccomp_prepare(); with LGPT_SANDBOX_APPLY_SECCOMP. */
    const lgpt_sandbox_seccomp_filter *LGPT_SANDBOX_NULLABLE seccomp_filter;
} lgpt_sandbox_spawn_options;

/** The size of the first version of lgpt_sandbox_spawn_options (through `cwd`). */
#define LGPT_SANDBOX_SPAWN_OPTIONS_V1_SIZE \
    ((uint32_t)(offsetof(lgpt_sandbox_spawn_options, cwd) + sizeof(const char *)))

/** The size of the second version of lgpt_sandbox_spawn_options (through `seccomp_filter`). */
#define LGPT_SANDBOX_SPAWN_OPTIONS_V2_SIZE \
    ((uint32_t)(offsetof(lgpt_sandbox_spawn_options, seccomp_filter) + sizeof(const void *)))

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

/* ---- sandbox preparation (in the parent, before lgpt_sandbox_spawn) -------------------------------- */

/** What the running kernel (and this process) offers. See lgpt_sandbox_probe(). */
typedef struct lgpt_sandbox_capabilities {
    /** Set by the caller: sizeof(lgpt_sandbox_capabilities) as compiled. */
    uint32_t struct_size;
    /** The highest Landlock ABI version the kernel offers (1, 2, ...), or 0 when Landlock is missing. */
    int32_t landlock_abi;
    /** Why Landlock is missing: ENOSYS (not built into the kernel), EOPNOTSUPP (built, but disabled at
     *  boot, e.g. not in the `lsm=` list), ...; 0 when it is available. */
    int32_t landlock_errno;
    /** 1 when seccomp filter mode (SECCOMP_MODE_FILTER) is available, else 0. */
    int32_t seccomp_filter;
    /** Why seccomp filters are missing (EINVAL: kernel built without CONFIG_SECCOMP_FILTER); 0 when
     *  available. */
    int32_t seccomp_errno;
    /** 1 when PR_SET_NO_NEW_PRIVS exists (Linux >= 3.5), else 0. */
    int32_t no_new_privs;
    /** 1 when this process has CAP_SETPCAP in its effective set, i.e. can empty a child's capability
     *  bounding set (LGPT_SANDBOX_APPLY_DROP_CAPS), else 0. */
    int32_t can_drop_capabilities;
    /** The effective user id of this process (0: root, which RLIMIT_NPROC does not bind). */
    uint32_t euid;
    /** 1 when this process already runs under a seccomp filter or with no_new_privs (as in many
     *  containers): informative only. */
    int32_t already_confined;
} lgpt_sandbox_capabilities;

/** The size of the first version of lgpt_sandbox_capabilities. */
#define LGPT_SANDBOX_CAPABILITIES_V1_SIZE \
    ((uint32_t)(offsetof(lgpt_sandbox_capabilities, already_confined) + sizeof(int32_t)))

/**
 * Detects the sandbox features of the running kernel: the Landlock ABI version through
 * landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION), seccomp filter support through
 * prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL) (EFAULT means supported; nothing is installed),
 * no_new_privs through PR_GET_NO_NEW_PRIVS, and CAP_SETPCAP through capget(). Changes nothing.
 * Returns 0, or EINVAL when out is NULL or its struct_size is too small.
 */
int lgpt_sandbox_probe(lgpt_sandbox_capabilities *LGPT_SANDBOX_NONNULL out);

/* Landlock filesystem access rights (equal to the kernel's LANDLOCK_ACCESS_FS_* bits). */
#define LGPT_SANDBOX_FS_EXECUTE ((uint64_t)1u << 0)
#define LGPT_SANDBOX_FS_WRITE_FILE ((uint64_t)1u << 1)
#define LGPT_SANDBOX_FS_READ_FILE ((uint64_t)1u << 2)
#define LGPT_SANDBOX_FS_READ_DIR ((uint64_t)1u << 3)
#define LGPT_SANDBOX_FS_REMOVE_DIR ((uint64_t)1u << 4)
#define LGPT_SANDBOX_FS_REMOVE_FILE ((uint64_t)1u << 5)
#define LGPT_SANDBOX_FS_MAKE_CHAR ((uint64_t)1u << 6)
#define LGPT_SANDBOX_FS_MAKE_DIR ((uint64_t)1u << 7)
#define LGPT_SANDBOX_FS_MAKE_REG ((uint64_t)1u << 8)
#define LGPT_SANDBOX_FS_MAKE_SOCK ((uint64_t)1u << 9)
#define LGPT_SANDBOX_FS_MAKE_FIFO ((uint64_t)1u << 10)
#define LGPT_SANDBOX_FS_MAKE_BLOCK ((uint64_t)1u << 11)
#define LGPT_SANDBOX_FS_MAKE_SYM ((uint64_t)1u << 12)
#define LGPT_SANDBOX_FS_REFER ((uint64_t)1u << 13)    /* ABI 2 */
#define LGPT_SANDBOX_FS_TRUNCATE ((uint64_t)1u << 14) /* ABI 3 */
#define LGPT_SANDBOX_FS_IOCTL_DEV ((uint64_t)1u << 15)/* ABI 5 */

/* lgpt_sandbox_landlock_spec.flags */
/** Handle TCP bind and connect (ABI >= 4): bind is always denied, connect only to connect_ports. */
#define LGPT_SANDBOX_LANDLOCK_NET ((uint32_t)1u << 0)
/** Scope abstract UNIX sockets and signals to the sandbox (ABI >= 6): the child can neither connect
 *  to an abstract socket created outside nor signal a process outside. */
#define LGPT_SANDBOX_LANDLOCK_SCOPE ((uint32_t)1u << 1)

/* landlock_restrict_self() flags (ABI >= 7). */
#define LGPT_SANDBOX_LANDLOCK_RESTRICT_LOG_SAME_EXEC_OFF ((uint32_t)1u << 0)
#define LGPT_SANDBOX_LANDLOCK_RESTRICT_LOG_NEW_EXEC_ON ((uint32_t)1u << 1)

/** A path rule's flag: open the path without following any symbolic link in any of its components
 *  (openat2 RESOLVE_NO_SYMLINKS); a link there (ELOOP) skips the rule. For a path the caller resolved and
 *  checked: a sandboxed command that swaps a folder on the way for a link between the check and the
 *  open cannot make the rule cover the link's target. */
#define LGPT_SANDBOX_RULE_NO_SYMLINKS 1u

/** One path rule of a ruleset. */
typedef struct lgpt_sandbox_path_rule {
    /** Absolute path of a directory (the rule covers everything beneath it) or of a single file. It is
     *  opened with O_PATH | O_CLOEXEC (following symlinks unless LGPT_SANDBOX_RULE_NO_SYMLINKS) only
     *  while the ruleset is built. */
    const char *LGPT_SANDBOX_NONNULL path;
    /** LGPT_SANDBOX_FS_* rights. Rights the ABI lacks are dropped; for a file that is not a directory
     *  only EXECUTE, WRITE_FILE, READ_FILE, TRUNCATE and IOCTL_DEV are kept. */
    uint64_t access;
    /** Written by lgpt_sandbox_landlock_create(): 0 when the rule was added, else the errno that made
     *  it be skipped (ENOENT: the path does not exist; EACCES: it cannot be reached; ELOOP: a symbolic
     *  link on the way with LGPT_SANDBOX_RULE_NO_SYMLINKS). */
    int32_t result;
    /** LGPT_SANDBOX_RULE_* flags (was reserved, zero). */
    uint32_t flags;
} lgpt_sandbox_path_rule;

/** What lgpt_sandbox_landlock_create() builds. */
typedef struct lgpt_sandbox_landlock_spec {
    /** sizeof(lgpt_sandbox_landlock_spec) as compiled. */
    uint32_t struct_size;
    /** The ABI to build for: at most the kernel's (lgpt_sandbox_probe()); at least 1. Every
     *  filesystem right of that ABI is handled, i.e. denied unless a rule grants it. */
    int32_t abi;
    /** LGPT_SANDBOX_LANDLOCK_* flags; the ones the ABI lacks are ignored. */
    uint32_t flags;
    uint32_t rule_count;
    /** rule_count rules; their `result` members are written. */
    lgpt_sandbox_path_rule *LGPT_SANDBOX_NULLABLE rules;
    /** With LGPT_SANDBOX_LANDLOCK_NET: the TCP ports connect() may reach (none: no TCP at all). */
    const uint16_t *LGPT_SANDBOX_NULLABLE connect_ports;
    uint32_t connect_port_count;
    uint32_t reserved; /* zero */
} lgpt_sandbox_landlock_spec;

/**
 * Builds a Landlock ruleset: landlock_create_ruleset() with every access right of spec->abi handled,
 * then one landlock_add_rule() per path rule (and per connect port). A path that cannot be opened is
 * skipped (its `result` says why); any other failure fails the call.
 *
 * On success returns 0 and stores the ruleset descriptor (O_CLOEXEC) in *out_fd; the caller owns it,
 * passes it as landlock_ruleset_fd and closes it after the spawn. Returns a positive errno value
 * otherwise (EINVAL: bad spec; EOPNOTSUPP / ENOSYS: no Landlock) and leaves nothing open.
 */
int lgpt_sandbox_landlock_create(lgpt_sandbox_landlock_spec *LGPT_SANDBOX_NONNULL spec,
                                 int *LGPT_SANDBOX_NONNULL out_fd);

/* lgpt_sandbox_seccomp_prepare() variants */
/** Allow socket(AF_INET / AF_INET6) of stream and datagram types (network granted). Without it every
 *  socket() fails with EPERM. Raw and packet sockets, and every other family, are denied either way. */
#define LGPT_SANDBOX_SECCOMP_ALLOW_INET ((uint32_t)1u << 0)

/**
 * The seccomp program for a variant, built with libseccomp on first use and cached for the life of
 * the process (thread-safe). Default action: allow. Denied with EPERM (so programs fail cleanly):
 * socket() (see LGPT_SANDBOX_SECCOMP_ALLOW_INET; AF_UNIX included, to keep the sandbox away from
 * pathname sockets such as the Docker or D-Bus ones), socketpair() other than AF_UNIX, ptrace,
 * process_vm_readv/writev, pidfd_getfd, the mount family (mount, umount2, fsopen, fsmount, fspick,
 * move_mount, open_tree, mount_setattr, pivot_root, chroot), unshare, setns, clone() with a
 * namespace flag, bpf, perf_event_open, keyctl, add_key, request_key, kexec_load, kexec_file_load,
 * init_module, finit_module, delete_module, reboot, swapon, swapoff, personality() other than
 * PER_LINUX, io_uring_*, userfaultfd, open_by_handle_at, name_to_handle_at, setsid, setpgid (the
 * process group is pinned, so the timeout reaches every process), ioctl TIOCSTI / TIOCLINUX, and the
 * clock, accounting, quota, syslog and port-I/O calls. clone3() fails with ENOSYS (its flags cannot
 * be inspected; libc falls back to clone()). A system call of another architecture (x32, i386)
 * fails with ENOSYS.
 *
 * Returns the program, or NULL with *err set to a positive errno value (ENOMEM, or EOPNOTSUPP when
 * libseccomp does not know this architecture).
 */
const lgpt_sandbox_seccomp_filter *LGPT_SANDBOX_NULLABLE lgpt_sandbox_seccomp_prepare(uint32_t variant,
                                                                                     int *LGPT_SANDBOX_NONNULL err);

/** The number of BPF instructions in a prepared program (for diagnostics). */
uint32_t lgpt_sandbox_seccomp_filter_length(const lgpt_sandbox_seccomp_filter *LGPT_SANDBOX_NONNULL filter);

/**
 * Removes `path` and everything beneath it without following symbolic links (openat/unlinkat with
 * O_NOFOLLOW), making directories writable first where their mode forbids the removal. Meant for the
 * per-run private temporary directory. Returns 0 (also when `path` does not exist) or the errno of
 * the first failure (the removal goes on past it).
 */
int lgpt_sandbox_remove_tree(const char *LGPT_SANDBOX_NONNULL path);

/**
 * Removes everything beneath the folder `path` (like lgpt_sandbox_remove_tree()) but keeps the folder
 * itself, emptied and mode 0700: how a reused per-slot temporary folder is made fresh for the next
 * command. Returns 0, ENOTDIR / ELOOP when `path` is not a real folder, or the errno of the first
 * failure (the removal goes on past it).
 */
int lgpt_sandbox_empty_tree(const char *LGPT_SANDBOX_NONNULL path);

/** 1 when `path` is on a memory file system (tmpfs or ramfs), 0 when not, -1 when it cannot be examined.
 *  The per-run temporary folder goes on one when possible: creating and removing a folder there costs
 *  microseconds, on a journalled disk file system milliseconds. */
int lgpt_sandbox_is_memory_fs(const char *LGPT_SANDBOX_NONNULL path);

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

/* ---- the warden: what a host that dies mid-run leaves behind --------------------------------------- */

/**
 * THE WARDEN. PR_SET_PDEATHSIG kills a command's first process when the host dies, but not what that
 * process started: a background loop (`(while true; do ...; done) &`) would run on, free to rewrite
 * the workspace, until some later LocalGPT process swept it. The warden closes that gap. It is a small
 * program of its own (`localgpt-warden`, Sources/CLocalGPTWarden) that the host starts with posix_spawn
 * on the first lgpt_sandbox_warden_watch(), in a session of its own, with stdin and stdout on
 * /dev/null and the host's stderr. The host tells it, over a close-on-exec socket, which process groups
 * (and pids cgroups) belong to running commands. When the host's end closes (the host exited, however
 * it exited, SIGKILL included), the warden SIGKILLs every group still watched (unless /proc shows that
 * its number now belongs to another process) and every process left in its cgroup, waits (at most 1 s)
 * until the host has finished exiting, and then, when something was still watched and a recovery
 * program was configured, execs it (the CLI configures `localgpt sandbox recover`, which puts back the
 * protected files those commands changed). A warden that was killed is started again by the next
 * watch, which hands it every group still running. A missing warden program is not an error: commands
 * then run unwatched, as before the warden existed, and the next LocalGPT process sweeps.
 *
 * At most 256 groups are watched at once (further ones are not), and a cgroup path of 504 bytes or
 * more is left to the next host's sweep. Everything here is thread-safe.
 */

/**
 * Names the warden program (`path`, absolute) and the program it execs after its sweep (`recovery`:
 * NULL for none, else a NULL-terminated argv whose first element is the program's absolute path); all
 * copied. Takes effect for a warden started later: call it before the first watch. Returns 0, EINVAL
 * (a relative path) or ENOMEM.
 */
int lgpt_sandbox_warden_configure(const char *LGPT_SANDBOX_NONNULL path,
                                  char *const LGPT_SANDBOX_NULLABLE *LGPT_SANDBOX_NULLABLE recovery);

/**
 * Asks the warden (started on first use) to watch the process group `group` of a command that just
 * started, and its pids cgroup folder `cgroup` (NULL: none). Returns 0, or an errno value when the
 * warden cannot be started or told (ENOENT: no program configured or found); the command then runs
 * unwatched.
 */
int lgpt_sandbox_warden_watch(pid_t group, const char *LGPT_SANDBOX_NULLABLE cgroup);

/** Tells the warden that the command of `group` ended and was reaped. Returns 0 or an errno value. */
int lgpt_sandbox_warden_release(pid_t group);

#ifdef __cplusplus
}
#endif

#endif /* LGPT_SANDBOX_H */
