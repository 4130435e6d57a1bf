/*
 * spawn.c -- fork/exec of plugin-requested processes; see include/lgpt_sandbox.h.
 *
 * Everything between fork() and execve() in spawn_child() must stay async-signal-safe: the host is
 * multi-threaded, so another thread may have held the malloc lock (or any other lock) at the moment
 * of the fork. No malloc, no stdio, no locks, no Swift: only system calls on memory prepared before
 * the fork. That includes the sandbox: the Landlock ruleset, the seccomp program, the cgroup and the
 * rlimits are all prepared by the parent (landlock.c, seccomp.c); the child only applies them.
 */
#include "lgpt_sandbox.h"
#include "sandbox_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_getdents64
#error "getdents64 is required"
#endif

/* What the child writes to the report pipe when a step before the exec fails. */
typedef struct spawn_report {
    int32_t step;
    int32_t err;
} spawn_report;

/* Everything the child needs, prepared before the fork. */
typedef struct spawn_plan {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int stdin_src;  /* pipe read end or /dev/null, >= 3 */
    int stdout_src; /* pipe write end, >= 3 */
    int stderr_src; /* pipe write end, >= 3 */
    int report_fd;  /* report pipe write end, >= 3, O_CLOEXEC */
    pid_t parent;   /* getpid() of the parent */
    long max_fd;    /* upper bound for the last-resort close loop */
    /* The sandbox (options version 2); sandbox_flags == 0 means none. */
    uint32_t sandbox_flags;
    int landlock_fd;
    uint32_t landlock_flags;
    int cgroup_fd;
    const lgpt_sandbox_rlimit *rlimits;
    uint32_t rlimit_count;
    const struct sock_fprog *seccomp;
} spawn_plan;

/* Whether `opts` (of the caller's struct_size) contains `field`. */
#define HAS_FIELD(opts, field) \
    ((opts)->struct_size >= offsetof(lgpt_sandbox_spawn_options, field) + sizeof((opts)->field))

static char *const empty_env[] = {NULL};

const char *lgpt_sandbox_step_name(int32_t step) {
    switch (step) {
    case LGPT_SANDBOX_STEP_NONE: return "none";
    case LGPT_SANDBOX_STEP_OPTIONS: return "options";
    case LGPT_SANDBOX_STEP_PIPE: return "pipe";
    case LGPT_SANDBOX_STEP_DEVNULL: return "open /dev/null";
    case LGPT_SANDBOX_STEP_FORK: return "fork";
    case LGPT_SANDBOX_STEP_SETPGID: return "setpgid";
    case LGPT_SANDBOX_STEP_SIGNALS: return "signal mask";
    case LGPT_SANDBOX_STEP_DUP2: return "dup2";
    case LGPT_SANDBOX_STEP_CLOSE_FDS: return "close descriptors";
    case LGPT_SANDBOX_STEP_CHDIR: return "chdir";
    case LGPT_SANDBOX_STEP_PDEATHSIG: return "parent-death signal";
    case LGPT_SANDBOX_STEP_EXEC: return "execve";
    case LGPT_SANDBOX_STEP_REPORT: return "child report";
    case LGPT_SANDBOX_STEP_CGROUP: return "join pids cgroup";
    case LGPT_SANDBOX_STEP_RLIMIT: return "setrlimit";
    case LGPT_SANDBOX_STEP_CAPABILITIES: return "drop capabilities";
    case LGPT_SANDBOX_STEP_NO_NEW_PRIVS: return "no_new_privs";
    case LGPT_SANDBOX_STEP_LANDLOCK: return "landlock_restrict_self";
    case LGPT_SANDBOX_STEP_SECCOMP: return "seccomp filter";
    default: return "unknown step";
    }
}

/* ---- helpers usable in the child (async-signal-safe) --------------------------------------------- */

static void close_quietly(int fd) {
    if (fd >= 0) {
        int saved = errno;
        (void)close(fd); /* never retried on EINTR: on Linux the descriptor is gone either way */
        errno = saved;
    }
}

/* Writes the report and exits; never returns. */
__attribute__((noreturn)) static void child_fail(int report_fd, int32_t step, int err) {
    spawn_report report = {step, err};
    ssize_t n;
    do {
        n = write(report_fd, &report, sizeof report);
    } while (n < 0 && errno == EINTR);
    _exit(127);
}

static int dup2_retry(int from, int to) {
    int r;
    do {
        r = dup2(from, to);
    } while (r < 0 && (errno == EINTR || errno == EBUSY));
    return r;
}

/* Parses a decimal descriptor number; -1 when `s` is not one. */
static int parse_fd(const char *s) {
    if (*s == '\0') return -1;
    long v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
        if (v > 0x7fffffffL) return -1;
    }
    return (int)v;
}

/* Closes every descriptor >= 3 except `keep_a` and `keep_b` (-1: none), by reading /proc/self/fd.
 * Returns 0, or -1 (errno set) when /proc is not available. Passes repeat until one closes nothing,
 * because closing while reading the directory may make the reader skip entries. */
static int close_fds_via_proc(int keep_a, int keep_b) {
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -1;
    for (;;) {
        int closed = 0;
        if (lseek(dir, 0, SEEK_SET) < 0) {
            close_quietly(dir);
            return -1;
        }
        for (;;) {
            _Alignas(8) char buf[1024];
            long n = syscall(__NR_getdents64, dir, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                close_quietly(dir);
                return -1;
            }
            if (n == 0) break;
            for (long off = 0; off < n;) {
                /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[] */
                unsigned short reclen;
                memcpy(&reclen, buf + off + 16, sizeof reclen);
                const char *name = buf + off + 19;
                int fd = parse_fd(name);
                if (fd >= 3 && fd != keep_a && fd != keep_b && fd != dir) {
                    close_quietly(fd);
                    closed = 1;
                }
                if (reclen == 0) break;
                off += reclen;
            }
        }
        if (!closed) break;
    }
    close_quietly(dir);
    return 0;
}

/* close_range(first, last) for first <= last; 0 or -1. */
static int close_span(long first, long last) {
    if (first > last) return 0;
    return syscall(__NR_close_range, (unsigned)first, (unsigned)last, 0u) == 0 ? 0 : -1;
}

/* Closes every descriptor >= 3 except `keep_a` and `keep_b` (-1: none; both stay open, O_CLOEXEC). */
static void close_other_fds(int keep_a, int keep_b, long max_fd) {
    int lo = keep_a, hi = keep_b;
    if (lo > hi) {
        lo = keep_b;
        hi = keep_a;
    }
    int ok;
    if (lo < 3 || lo == hi) { /* one descriptor to keep: hi */
        ok = close_span(3, (long)hi - 1) == 0 && close_span((long)hi + 1, 0xffffffffL) == 0;
    } else {
        ok = close_span(3, (long)lo - 1) == 0 && close_span((long)lo + 1, (long)hi - 1) == 0 &&
             close_span((long)hi + 1, 0xffffffffL) == 0;
    }
    if (ok) return;
    /* Kernels before 5.9 (ENOSYS), or a seccomp policy that rejects close_range. */
    if (close_fds_via_proc(keep_a, keep_b) == 0) return;
    for (long fd = 3; fd < max_fd; fd++) {
        if (fd != keep_a && fd != keep_b) close_quietly((int)fd);
    }
}

/* Empties the capability bounding set (needs CAP_SETPCAP), the ambient set and the inheritable set, so
 * the exec gives the child no capability even when it runs as root (root's legacy rule grants
 * file-permitted & bounding | inheritable). Returns 0 or an errno value. */
static int drop_capabilities(void) {
    for (unsigned long cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL) break; /* past CAP_LAST_CAP */
            /* EPERM: no CAP_SETPCAP. Only a non-root process gets here (the host asks for this layer as
             * root only when it holds CAP_SETPCAP), and for it no_new_privs already guarantees that the
             * exec cannot gain a capability it does not have. */
            if (errno == EPERM) break;
            return errno;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return errno;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) < 0) return errno;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) data[i].inheritable = 0;
    if (syscall(SYS_capset, &header, data) < 0) return errno;
    return 0;
}

/* The sandbox layers, in their fixed order; never returns on failure. */
static void apply_sandbox(const spawn_plan *plan, int rep) {
    uint32_t f = plan->sandbox_flags;
    if (f & LGPT_SANDBOX_APPLY_RLIMITS) {
        for (uint32_t i = 0; i < plan->rlimit_count; i++) {
            struct rlimit lim;
            lim.rlim_cur = plan->rlimits[i].soft == UINT64_MAX ? RLIM_INFINITY : (rlim_t)plan->rlimits[i].soft;
            lim.rlim_max = plan->rlimits[i].hard == UINT64_MAX ? RLIM_INFINITY : (rlim_t)plan->rlimits[i].hard;
            if (setrlimit((__rlimit_resource_t)plan->rlimits[i].resource, &lim) < 0) {
                child_fail(rep, LGPT_SANDBOX_STEP_RLIMIT, errno);
            }
        }
    }
    if (f & LGPT_SANDBOX_APPLY_DROP_CAPS) {
        int err = drop_capabilities();
        if (err != 0) child_fail(rep, LGPT_SANDBOX_STEP_CAPABILITIES, err);
    }
    if (f & (LGPT_SANDBOX_APPLY_NO_NEW_PRIVS | LGPT_SANDBOX_APPLY_LANDLOCK | LGPT_SANDBOX_APPLY_SECCOMP)) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(rep, LGPT_SANDBOX_STEP_NO_NEW_PRIVS, errno);
    }
    if (f & LGPT_SANDBOX_APPLY_LANDLOCK) {
        if (syscall(__NR_landlock_restrict_self, plan->landlock_fd, plan->landlock_flags) < 0) {
            child_fail(rep, LGPT_SANDBOX_STEP_LANDLOCK, errno);
        }
        close_quietly(plan->landlock_fd);
    }
    if (f & LGPT_SANDBOX_APPLY_SECCOMP) {
        /* Last: from here on the filter applies to this process too (write and execve stay allowed). */
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, plan->seccomp, 0, 0) < 0) {
            child_fail(rep, LGPT_SANDBOX_STEP_SECCOMP, errno);
        }
    }
}

/* The child: only async-signal-safe calls from here on. Never returns. */
__attribute__((noreturn)) static void spawn_child(const spawn_plan *plan) {
    int rep = plan->report_fd;

    /* A new process group (or session), so a timeout can kill everything this child starts. */
    if (plan->sandbox_flags & LGPT_SANDBOX_APPLY_NEW_SESSION) {
        if (setsid() < 0) child_fail(rep, LGPT_SANDBOX_STEP_SETPGID, errno);
    } else if (setpgid(0, 0) < 0) {
        child_fail(rep, LGPT_SANDBOX_STEP_SETPGID, errno);
    }

    /* Default dispositions (SIG_IGN would survive the exec; handlers must not run here), then an empty
     * mask (the parent blocked everything around the fork, and masks survive the exec too). glibc's
     * sigaction() refuses the real-time signals it reserves (32, 33) with EINVAL, yet one may be
     * ignored and would stay ignored across the exec: those go through the raw system call, whose
     * all-zero kernel struct means SIG_DFL, no flags, empty mask on every architecture. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        if (sigaction(sig, &dfl, NULL) < 0 && errno == EINVAL) {
            uint64_t kernel_dfl[4] = {0, 0, 0, 0}; /* handler, flags, restorer, mask */
            (void)syscall(__NR_rt_sigaction, sig, kernel_dfl, NULL, (size_t)8);
        }
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) child_fail(rep, LGPT_SANDBOX_STEP_SIGNALS, errno);

    /* stdio. The sources are all >= 3 (the parent made sure), so no dup2 clobbers another source;
     * dup2 clears O_CLOEXEC on the new descriptor. */
    if (dup2_retry(plan->stdin_src, 0) < 0) child_fail(rep, LGPT_SANDBOX_STEP_DUP2, errno);
    if (dup2_retry(plan->stdout_src, 1) < 0) child_fail(rep, LGPT_SANDBOX_STEP_DUP2, errno);
    if (dup2_retry(plan->stderr_src, 2) < 0) child_fail(rep, LGPT_SANDBOX_STEP_DUP2, errno);

    /* Into the pids cgroup first, so every process this child starts is counted from the start.
     * Writing "0" moves the writer itself (through cgroup v1's `tasks`: this thread, which is the whole
     * process after fork; through v2's `cgroup.procs`: the process). */
    if (plan->sandbox_flags & LGPT_SANDBOX_APPLY_CGROUP) {
        ssize_t n;
        do {
            n = write(plan->cgroup_fd, "0", 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) child_fail(rep, LGPT_SANDBOX_STEP_CGROUP, n < 0 ? errno : EIO);
    }

    /* Nothing else of the host's reaches the child; the report pipe closes itself at the exec, the
     * Landlock ruleset is closed once applied. */
    close_other_fds(rep, (plan->sandbox_flags & LGPT_SANDBOX_APPLY_LANDLOCK) ? plan->landlock_fd : -1, plan->max_fd);

    if (plan->cwd != NULL && chdir(plan->cwd) < 0) child_fail(rep, LGPT_SANDBOX_STEP_CHDIR, errno);

    /* Die with the parent (precisely: with the parent THREAD that forked). If the parent already died
     * before the prctl took effect, getppid() no longer names it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) child_fail(rep, LGPT_SANDBOX_STEP_PDEATHSIG, errno);
    if (getppid() != plan->parent) _exit(127);

    /* The sandbox: rlimits, capabilities, no_new_privs, Landlock, seccomp (in that order). */
    if (plan->sandbox_flags != 0) apply_sandbox(plan, rep);

    execve(plan->path, plan->argv, plan->envp);
    child_fail(rep, LGPT_SANDBOX_STEP_EXEC, errno);
}

/* ---- parent -------------------------------------------------------------------------------------- */

/* Moves *fd to a descriptor >= 3 (keeping O_CLOEXEC) when it is 0, 1 or 2 (the host's stdio was
 * closed). Returns 0 or an errno value. */
static int lift_fd(int *fd) {
    if (*fd >= 3) return 0;
    int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return errno;
    close_quietly(*fd);
    *fd = moved;
    return 0;
}

static int set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return errno;
    return 0;
}

static void reap(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

static void reset_child(lgpt_sandbox_child *out) {
    out->failed_step = LGPT_SANDBOX_STEP_NONE;
    out->pid = -1;
    out->stdin_fd = -1;
    out->stdout_fd = -1;
    out->stderr_fd = -1;
    out->pidfd = -1;
}

int lgpt_sandbox_spawn(const lgpt_sandbox_spawn_options *opts, lgpt_sandbox_child *out) {
    if (out == NULL || out->struct_size < LGPT_SANDBOX_CHILD_V1_SIZE) return EINVAL;
    reset_child(out);
    if (opts == NULL || opts->struct_size < LGPT_SANDBOX_SPAWN_OPTIONS_V1_SIZE ||
        (opts->flags & ~LGPT_SANDBOX_KNOWN_FLAGS) != 0 || opts->path == NULL || opts->path[0] != '/' ||
        opts->argv == NULL || opts->argv[0] == NULL) {
        out->failed_step = LGPT_SANDBOX_STEP_OPTIONS;
        return EINVAL;
    }
    uint32_t sandbox_flags = HAS_FIELD(opts, sandbox_flags) ? opts->sandbox_flags : 0;
    if (sandbox_flags != 0 &&
        ((sandbox_flags & ~LGPT_SANDBOX_KNOWN_APPLY_FLAGS) != 0 || !HAS_FIELD(opts, seccomp_filter) ||
         ((sandbox_flags & LGPT_SANDBOX_APPLY_LANDLOCK) && opts->landlock_ruleset_fd < 0) ||
         ((sandbox_flags & LGPT_SANDBOX_APPLY_CGROUP) && opts->cgroup_procs_fd < 0) ||
         ((sandbox_flags & LGPT_SANDBOX_APPLY_RLIMITS) && opts->rlimit_count > 0 && opts->rlimits == NULL) ||
         ((sandbox_flags & LGPT_SANDBOX_APPLY_SECCOMP) && opts->seccomp_filter == NULL))) {
        out->failed_step = LGPT_SANDBOX_STEP_OPTIONS;
        return EINVAL;
    }

    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, rep_pipe[2] = {-1, -1};
    int devnull = -1;
    int landlock_copy = -1, cgroup_copy = -1;
    int err = 0;
    int32_t step = LGPT_SANDBOX_STEP_PIPE;

    if (opts->flags & LGPT_SANDBOX_STDIN_PIPE) {
        if (pipe2(in_pipe, O_CLOEXEC) < 0) {
            err = errno;
            goto fail;
        }
    } else {
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0) {
            err = errno;
            step = LGPT_SANDBOX_STEP_DEVNULL;
            goto fail;
        }
    }
    if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0 || pipe2(rep_pipe, O_CLOEXEC) < 0) {
        err = errno;
        goto fail;
    }
    /* The child's ends must not sit on 0/1/2, or the dup2 calls in the child would clobber them. */
    if ((err = lift_fd(devnull >= 0 ? &devnull : &in_pipe[0])) != 0 || (err = lift_fd(&out_pipe[1])) != 0 ||
        (err = lift_fd(&err_pipe[1])) != 0 || (err = lift_fd(&rep_pipe[1])) != 0) {
        goto fail;
    }
    if ((in_pipe[1] >= 0 && (err = set_nonblocking(in_pipe[1])) != 0) ||
        (err = set_nonblocking(out_pipe[0])) != 0 || (err = set_nonblocking(err_pipe[0])) != 0) {
        goto fail;
    }

    /* The child dup2()s onto 0, 1 and 2 before it uses the sandbox descriptors: move any of them that
     * sits there (possible when the host's stdio was closed) out of the way, on private copies. */
    int landlock_fd = (sandbox_flags & LGPT_SANDBOX_APPLY_LANDLOCK) ? opts->landlock_ruleset_fd : -1;
    int cgroup_fd = (sandbox_flags & LGPT_SANDBOX_APPLY_CGROUP) ? opts->cgroup_procs_fd : -1;
    if (landlock_fd >= 0 && landlock_fd < 3) {
        if ((landlock_copy = fcntl(landlock_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
            err = errno;
            goto fail;
        }
        landlock_fd = landlock_copy;
    }
    if (cgroup_fd >= 0 && cgroup_fd < 3) {
        if ((cgroup_copy = fcntl(cgroup_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
            err = errno;
            goto fail;
        }
        cgroup_fd = cgroup_copy;
    }

    spawn_plan plan;
    plan.path = opts->path;
    plan.argv = opts->argv;
    plan.envp = opts->envp != NULL ? opts->envp : empty_env;
    plan.cwd = opts->cwd;
    plan.stdin_src = devnull >= 0 ? devnull : in_pipe[0];
    plan.stdout_src = out_pipe[1];
    plan.stderr_src = err_pipe[1];
    plan.report_fd = rep_pipe[1];
    plan.parent = getpid();
    plan.max_fd = sysconf(_SC_OPEN_MAX);
    if (plan.max_fd <= 0 || plan.max_fd > 65536) plan.max_fd = 65536;
    plan.sandbox_flags = sandbox_flags;
    plan.landlock_fd = -1;
    plan.landlock_flags = 0;
    plan.cgroup_fd = -1;
    plan.rlimits = NULL;
    plan.rlimit_count = 0;
    plan.seccomp = NULL;
    if (sandbox_flags != 0) {
        plan.landlock_fd = landlock_fd;
        plan.landlock_flags = opts->landlock_restrict_flags;
        plan.cgroup_fd = cgroup_fd;
        plan.rlimits = opts->rlimits;
        plan.rlimit_count = opts->rlimits != NULL ? opts->rlimit_count : 0;
        plan.seccomp = opts->seccomp_filter != NULL ? lgpt_sandbox_seccomp_program(opts->seccomp_filter) : NULL;
    }

    /* Block every signal across the fork so no host handler runs in the child before it resets the
     * dispositions (the same dance glibc's posix_spawn does). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* A raw clone(SIGCHLD), not fork(): fork() runs the pthread_atfork handlers of every library in
     * the host, and OpenBLAS's handler (blas_thread_shutdown_) joins its worker threads under a lock,
     * so two threads spawning at once deadlock the host. The child needs none of those handlers: it
     * only makes system calls on memory prepared above and then execs (see spawn_child). */
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL);
    if (pid == 0) spawn_child(&plan);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        err = fork_errno;
        step = LGPT_SANDBOX_STEP_FORK;
        goto fail;
    }

    /* The child's ends belong to the child now. */
    close_quietly(landlock_copy);
    landlock_copy = -1;
    close_quietly(cgroup_copy);
    cgroup_copy = -1;
    close_quietly(devnull);
    devnull = -1;
    close_quietly(in_pipe[0]);
    in_pipe[0] = -1;
    close_quietly(out_pipe[1]);
    out_pipe[1] = -1;
    close_quietly(err_pipe[1]);
    err_pipe[1] = -1;
    close_quietly(rep_pipe[1]);
    rep_pipe[1] = -1;

    /* EOF: the exec succeeded (the report pipe is O_CLOEXEC). A full report: a step failed. */
    spawn_report report;
    size_t got = 0;
    while (got < sizeof report) {
        ssize_t n = read(rep_pipe[0], (char *)&report + got, sizeof report - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close_quietly(rep_pipe[0]);
    rep_pipe[0] = -1;
    if (got != 0) {
        if (got == sizeof report) {
            step = report.step;
            err = report.err != 0 ? report.err : EIO;
        } else {
            (void)kill(pid, SIGKILL);
            step = LGPT_SANDBOX_STEP_REPORT;
            err = EIO;
        }
        reap(pid);
        goto fail;
    }

    out->pid = pid;
    out->stdin_fd = in_pipe[1];
    out->stdout_fd = out_pipe[0];
    out->stderr_fd = err_pipe[0];
    /* The child is unreaped, so its pid cannot have been reused: the pidfd names the right process. */
    long pidfd = syscall(__NR_pidfd_open, pid, 0u);
    out->pidfd = pidfd >= 0 ? (int)pidfd : -1;
    return 0;

fail:
    close_quietly(landlock_copy);
    close_quietly(cgroup_copy);
    close_quietly(devnull);
    for (int i = 0; i < 2; i++) {
        close_quietly(in_pipe[i]);
        close_quietly(out_pipe[i]);
        close_quietly(err_pipe[i]);
        close_quietly(rep_pipe[i]);
    }
    reset_child(out);
    out->failed_step = step;
    return err != 0 ? err : EIO;
}

int lgpt_sandbox_ignore_sigpipe(void) {
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) < 0) return errno;
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) return 0;
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGPIPE, &ign, NULL) < 0) return errno;
    return 0;
}

/* ---- supervision --------------------------------------------------------------------------------- */

int lgpt_sandbox_exited(pid_t pid) {
    if (pid <= 0) return -EINVAL;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
        if (errno != EINTR) return -errno;
    }
    return info.si_pid != 0 ? 1 : 0;
}

int lgpt_sandbox_kill_group(pid_t pgid) {
    /* Never kill(0) / kill(-1): those would hit the host's own group or every process we may signal. */
    if (pgid <= 1) return EINVAL;
    int group = kill(-pgid, SIGKILL);
    int group_errno = errno;
    int single = kill(pgid, SIGKILL);
    if (group == 0 || single == 0) return 0;
    return group_errno;
}

int lgpt_sandbox_wait(pid_t pid, lgpt_sandbox_exit_status *out) {
    if (pid <= 0 || out == NULL) return EINVAL;
    int status = 0;
    pid_t r;
    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return errno;
    memset(out, 0, sizeof *out);
    if (WIFEXITED(status)) {
        out->exited = 1;
        out->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        out->signaled = 1;
        out->term_signal = WTERMSIG(status);
    }
    return 0;
}
