/*
 * seccomp.c -- the sandbox's seccomp programs, built with libseccomp in the parent and cached; the
 * child only loads one with prctl(PR_SET_SECCOMP). See include/lgpt_sandbox.h for the policy.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option.
 *
 * Default ALLOW with an explicit deny list (EPERM, so a program reports "Operation not permitted" and
 * goes on, rather than dying of SIGSYS): the deny list is what a sandboxed shell command never needs
 * and what an escape would need. libseccomp's filter for x86_64 already sends x32 system calls (number
 * >= 0x40000000) and other architectures (i386 through int 0x80) to the "bad architecture" action,
 * which is ENOSYS here.
 */
#include "lgpt_sandbox.h"
#include "sandbox_internal.h"

#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

struct lgpt_sandbox_seccomp_filter {
    struct sock_fprog program;
};

enum { variant_count = 2 };

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lgpt_sandbox_seccomp_filter *cache[variant_count];

const struct sock_fprog *lgpt_sandbox_seccomp_program(const lgpt_sandbox_seccomp_filter *filter) {
    return &filter->program;
}

uint32_t lgpt_sandbox_seccomp_filter_length(const lgpt_sandbox_seccomp_filter *filter) {
    return filter->program.len;
}

/* Adds `action` for `syscall_name` (unconditionally); a system call this architecture or libseccomp does
 * not know is skipped (nothing to deny). */
static int deny(scmp_filter_ctx ctx, uint32_t action, const char *syscall_name) {
    int nr = seccomp_syscall_resolve_name(syscall_name);
    if (nr == __NR_SCMP_ERROR) return 0;
    int rc = seccomp_rule_add(ctx, action, nr, 0);
    return rc == -EDOM ? 0 : rc; /* -EDOM: a pseudo syscall of another ABI */
}

/* One argument comparison, every field set (libseccomp's SCMP_Ax macros leave datum_b implicit). */
static struct scmp_arg_cmp arg(unsigned int index, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b) {
    struct scmp_arg_cmp cmp;
    memset(&cmp, 0, sizeof cmp);
    cmp.arg = index;
    cmp.op = op;
    cmp.datum_a = a;
    cmp.datum_b = b;
    return cmp;
}

static int deny_if(scmp_filter_ctx ctx, uint32_t action, int nr, struct scmp_arg_cmp cmp) {
    return seccomp_rule_add(ctx, action, nr, 1, cmp);
}

static int add_rules(scmp_filter_ctx ctx, uint32_t variant) {
    const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
    int rc = 0;
#define TRY(call)                                                                                                  \
    do {                                                                                                           \
        if ((rc = (call)) < 0) return rc;                                                                          \
    } while (0)

    /* Sockets. socket(AF_UNIX) is denied too: Landlock (up to ABI 7) cannot restrict connect() to a
     * pathname socket, and those lead out of any sandbox (docker.sock, the D-Bus buses, the journal,
     * ssh-agent). socketpair(AF_UNIX) stays: it only connects the caller to itself. */
    if (variant & LGPT_SANDBOX_SECCOMP_ALLOW_INET) {
        TRY(deny_if(ctx, eperm, SCMP_SYS(socket), arg(0, SCMP_CMP_LE, AF_UNIX, 0)));
        for (int family = AF_INET + 1; family < AF_INET6; family++) {
            TRY(deny_if(ctx, eperm, SCMP_SYS(socket), arg(0, SCMP_CMP_EQ, (scmp_datum_t)family, 0)));
        }
        TRY(deny_if(ctx, eperm, SCMP_SYS(socket), arg(0, SCMP_CMP_GT, AF_INET6, 0)));
        /* SOCK_RAW and SOCK_PACKET in the low bits of the type (the high bits are SOCK_NONBLOCK and
         * SOCK_CLOEXEC). */
        TRY(deny_if(ctx, eperm, SCMP_SYS(socket), arg(1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW)));
        TRY(deny_if(ctx, eperm, SCMP_SYS(socket), arg(1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_PACKET)));
    } else {
        TRY(deny(ctx, eperm, "socket"));
    }
    TRY(deny_if(ctx, eperm, SCMP_SYS(socketpair), arg(0, SCMP_CMP_NE, AF_UNIX, 0)));

    /* Other processes' memory and descriptors. */
    static const char *const processes[] = {"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd"};
    for (size_t i = 0; i < sizeof processes / sizeof *processes; i++) TRY(deny(ctx, eperm, processes[i]));

    /* Mounts and namespaces. */
    static const char *const mounts[] = {"mount", "umount", "umount2", "fsopen", "fsconfig", "fsmount",
                                         "fspick", "move_mount", "open_tree", "mount_setattr", "pivot_root",
                                         "chroot", "unshare", "setns"};
    for (size_t i = 0; i < sizeof mounts / sizeof *mounts; i++) TRY(deny(ctx, eperm, mounts[i]));
    static const scmp_datum_t namespace_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                                   CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};
    for (size_t i = 0; i < sizeof namespace_flags / sizeof *namespace_flags; i++) {
        TRY(deny_if(ctx, eperm, SCMP_SYS(clone),
                    arg(0, SCMP_CMP_MASKED_EQ, namespace_flags[i], namespace_flags[i])));
    }
    /* clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes libc fall back to clone. */
    TRY(deny(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3"));

    /* The kernel itself: BPF, perf, keyrings, kexec, modules, reboot, swap, clocks, accounting. */
    static const char *const kernel[] = {
        "bpf",           "perf_event_open",   "keyctl",         "add_key",        "request_key",
        "kexec_load",    "kexec_file_load",   "init_module",    "finit_module",   "delete_module",
        "reboot",        "swapon",            "swapoff",        "acct",           "quotactl",
        "quotactl_fd",   "settimeofday",      "clock_settime",  "clock_adjtime",  "adjtimex",
        "syslog",        "iopl",              "ioperm",         "vhangup",        "uselib",
        "lookup_dcookie", "nfsservctl",       "fanotify_init",  "open_by_handle_at",
        "name_to_handle_at", "userfaultfd",   "io_uring_setup", "io_uring_enter", "io_uring_register",
    };
    for (size_t i = 0; i < sizeof kernel / sizeof *kernel; i++) TRY(deny(ctx, eperm, kernel[i]));

    /* personality(): only the default persona (PER_LINUX); no READ_IMPLIES_EXEC, no ADDR_NO_RANDOMIZE. */
    TRY(deny_if(ctx, eperm, SCMP_SYS(personality), arg(0, SCMP_CMP_NE, 0, 0)));

    /* The process group (and session) is pinned, so the timeout's kill of the group reaches everything. */
    TRY(deny(ctx, eperm, "setsid"));
    TRY(deny(ctx, eperm, "setpgid"));

    /* Typing into a terminal. */
    TRY(deny_if(ctx, eperm, SCMP_SYS(ioctl), arg(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI)));
    TRY(deny_if(ctx, eperm, SCMP_SYS(ioctl), arg(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX)));
#undef TRY
    return 0;
}

/* Builds one variant: libseccomp context -> classic BPF exported into a memfd -> heap copy. */
static int build(uint32_t variant, struct lgpt_sandbox_seccomp_filter **out) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL) return ENOMEM;
    int err = 0;
    int memfd = -1;
    struct sock_filter *code = NULL;
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS));
    if (rc == 0) (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* binary tree; best effort */
    if (rc == 0) rc = add_rules(ctx, variant);
    if (rc < 0) {
        err = -rc;
        goto done;
    }
    memfd = memfd_create("lgpt-seccomp", MFD_CLOEXEC);
    if (memfd < 0) {
        err = errno;
        goto done;
    }
    rc = seccomp_export_bpf(ctx, memfd);
    if (rc < 0) {
        err = -rc;
        goto done;
    }
    off_t size = lseek(memfd, 0, SEEK_END);
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
        size / (off_t)sizeof(struct sock_filter) > 0xffff) {
        err = EIO;
        goto done;
    }
    code = malloc((size_t)size);
    if (code == NULL) {
        err = ENOMEM;
        goto done;
    }
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t n = pread(memfd, (char *)code + got, (size_t)size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
            goto done;
        }
        got += (size_t)n;
    }
    struct lgpt_sandbox_seccomp_filter *filter = malloc(sizeof *filter);
    if (filter == NULL) {
        err = ENOMEM;
        goto done;
    }
    filter->program.len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    filter->program.filter = code;
    code = NULL;
    *out = filter;
done:
    free(code);
    if (memfd >= 0) (void)close(memfd);
    seccomp_release(ctx);
    return err;
}

const lgpt_sandbox_seccomp_filter *lgpt_sandbox_seccomp_prepare(uint32_t variant, int *err) {
    if (err == NULL) return NULL;
    *err = 0;
    if ((variant & ~LGPT_SANDBOX_SECCOMP_ALLOW_INET) != 0) {
        *err = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&cache_lock);
    struct lgpt_sandbox_seccomp_filter *filter = cache[variant];
    if (filter == NULL) {
        *err = build(variant, &filter);
        if (*err == 0) cache[variant] = filter; /* kept for the life of the process */
    }
    pthread_mutex_unlock(&cache_lock);
    return *err == 0 ? filter : NULL;
}
