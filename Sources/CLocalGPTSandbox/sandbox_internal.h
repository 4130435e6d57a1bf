/*
 * sandbox_internal.h -- what the sandbox's C files share and the Debian 12 kernel headers (linux-libc-dev
 * 6.1) lack. Not installed, not part of the module's API.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option.
 *
 * The headers know Landlock up to ABI 2 (LANDLOCK_ACCESS_FS_REFER). Everything newer is defined here
 * behind #ifndef, with the kernel's values, so the code builds on old headers and decides at RUN time
 * (from the ABI version the kernel reports) what to use:
 *   ABI 3 (Linux 6.2)  LANDLOCK_ACCESS_FS_TRUNCATE
 *   ABI 4 (Linux 6.7)  TCP bind/connect rules (LANDLOCK_RULE_NET_PORT, handled_access_net)
 *   ABI 5 (Linux 6.10) LANDLOCK_ACCESS_FS_IOCTL_DEV
 *   ABI 6 (Linux 6.12) scoping of abstract UNIX sockets and signals (`scoped`)
 *   ABI 7 (Linux 6.15) audit-logging flags of landlock_restrict_self()
 */
#ifndef LGPT_SANDBOX_INTERNAL_H
#define LGPT_SANDBOX_INTERNAL_H

#ifndef _GNU_SOURCE
#error "_GNU_SOURCE must be defined (Package.swift's cSettings do it)"
#endif

#include "lgpt_sandbox.h"

#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/types.h>
#include <sys/syscall.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
#ifndef LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF
#define LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF (1U << 0)
#endif
#ifndef LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON
#define LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON (1U << 1)
#endif

/* LANDLOCK_RULE_NET_PORT is an enumerator in newer headers, so it cannot be tested with #ifndef. */
#define LGPT_LANDLOCK_RULE_PATH_BENEATH 1
#define LGPT_LANDLOCK_RULE_NET_PORT 2

/* struct landlock_ruleset_attr as of ABI 6. The kernel takes the size as an argument and accepts any
 * prefix it knows, so the size passed is the one of the ABI in use (8, 16 or 24 bytes). */
typedef struct lgpt_landlock_ruleset_attr {
    __u64 handled_access_fs;
    __u64 handled_access_net; /* ABI 4 */
    __u64 scoped;             /* ABI 6 */
} lgpt_landlock_ruleset_attr;

/* struct landlock_path_beneath_attr (packed in the kernel's header too). */
typedef struct __attribute__((packed)) lgpt_landlock_path_beneath_attr {
    __u64 allowed_access;
    __s32 parent_fd;
} lgpt_landlock_path_beneath_attr;

/* struct landlock_net_port_attr (ABI 4). */
typedef struct lgpt_landlock_net_port_attr {
    __u64 allowed_access;
    __u64 port;
} lgpt_landlock_net_port_attr;

_Static_assert(sizeof(lgpt_landlock_path_beneath_attr) == 12, "landlock_path_beneath_attr is 12 bytes");
_Static_assert(sizeof(lgpt_landlock_net_port_attr) == 16, "landlock_net_port_attr is 16 bytes");
_Static_assert(LGPT_SANDBOX_FS_REFER == LANDLOCK_ACCESS_FS_REFER, "LGPT_SANDBOX_FS_* mirror the kernel");
_Static_assert(LGPT_SANDBOX_FS_EXECUTE == LANDLOCK_ACCESS_FS_EXECUTE, "LGPT_SANDBOX_FS_* mirror the kernel");
_Static_assert(LGPT_SANDBOX_FS_MAKE_SYM == LANDLOCK_ACCESS_FS_MAKE_SYM, "LGPT_SANDBOX_FS_* mirror the kernel");
_Static_assert(LGPT_SANDBOX_FS_TRUNCATE == LANDLOCK_ACCESS_FS_TRUNCATE, "LGPT_SANDBOX_FS_* mirror the kernel");
_Static_assert(LGPT_SANDBOX_FS_IOCTL_DEV == LANDLOCK_ACCESS_FS_IOCTL_DEV, "LGPT_SANDBOX_FS_* mirror the kernel");

/* The classic BPF program behind an lgpt_sandbox_seccomp_filter (seccomp.c); what the child loads. */
const struct sock_fprog *lgpt_sandbox_seccomp_program(const lgpt_sandbox_seccomp_filter *filter);

#endif /* LGPT_SANDBOX_INTERNAL_H */
