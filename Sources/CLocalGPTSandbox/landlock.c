/*
 * landlock.c -- capability probe and Landlock ruleset construction, both in the parent (see
 * include/lgpt_sandbox.h). The child only calls landlock_restrict_self() on the ruleset built here.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option.
 */
#include "lgpt_sandbox.h"
#include "sandbox_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every filesystem right each ABI version handles. */
static uint64_t fs_rights_of_abi(int abi) {
    uint64_t rights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                      LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                      LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                      LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2) rights |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5) rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return rights;
}

/* The rights that make sense on a file that is not a directory (the kernel rejects the others). */
static const uint64_t file_rights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
                                    LANDLOCK_ACCESS_FS_IOCTL_DEV;

static void close_keep_errno(int fd) {
    int saved = errno;
    (void)close(fd);
    errno = saved;
}

int lgpt_sandbox_probe(lgpt_sandbox_capabilities *out) {
    if (out == NULL || out->struct_size < LGPT_SANDBOX_CAPABILITIES_V1_SIZE) return EINVAL;
    uint32_t size = out->struct_size;
    memset((char *)out + sizeof out->struct_size, 0, LGPT_SANDBOX_CAPABILITIES_V1_SIZE - sizeof out->struct_size);
    out->struct_size = size;

    long abi = syscall(__NR_landlock_create_ruleset, NULL, (size_t)0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi > 0) {
        out->landlock_abi = (int32_t)abi;
    } else {
        out->landlock_errno = errno != 0 ? errno : ENOSYS;
    }

    /* With a NULL program the call fails: EFAULT when filter mode exists (nothing is installed), EINVAL
     * when the kernel lacks CONFIG_SECCOMP_FILTER. */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL, 0, 0) < 0 && errno == EFAULT) {
        out->seccomp_filter = 1;
    } else {
        out->seccomp_errno = errno != 0 ? errno : EINVAL;
    }

    int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    out->no_new_privs = nnp >= 0 ? 1 : 0;
    int seccomp_mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    out->already_confined = (nnp == 1 || seccomp_mode > 0) ? 1 : 0;

    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) == 0) {
        out->can_drop_capabilities = (data[CAP_TO_INDEX(CAP_SETPCAP)].effective & CAP_TO_MASK(CAP_SETPCAP)) ? 1 : 0;
    }
    out->euid = (uint32_t)geteuid();
    return 0;
}

int lgpt_sandbox_landlock_create(lgpt_sandbox_landlock_spec *spec, int *out_fd) {
    if (out_fd == NULL) return EINVAL;
    *out_fd = -1;
    if (spec == NULL || spec->struct_size < sizeof(lgpt_sandbox_landlock_spec) || spec->abi < 1 ||
        (spec->rule_count > 0 && spec->rules == NULL) ||
        (spec->connect_port_count > 0 && spec->connect_ports == NULL)) {
        return EINVAL;
    }
    int abi = spec->abi;
    uint64_t handled_fs = fs_rights_of_abi(abi);
    int handle_net = (spec->flags & LGPT_SANDBOX_LANDLOCK_NET) && abi >= 4;
    int scope = (spec->flags & LGPT_SANDBOX_LANDLOCK_SCOPE) && abi >= 6;

    lgpt_landlock_ruleset_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.handled_access_fs = handled_fs;
    size_t attr_size = offsetof(lgpt_landlock_ruleset_attr, handled_access_net);
    if (abi >= 4) {
        attr.handled_access_net = handle_net ? (LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP) : 0;
        attr_size = offsetof(lgpt_landlock_ruleset_attr, scoped);
    }
    if (abi >= 6) {
        attr.scoped = scope ? (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL) : 0;
        attr_size = sizeof attr;
    }
    long ruleset = syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0u);
    if (ruleset < 0) return errno;
    int fd = (int)ruleset;

    for (uint32_t i = 0; i < spec->rule_count; i++) {
        lgpt_sandbox_path_rule *rule = &spec->rules[i];
        rule->result = 0;
        if (rule->path == NULL || rule->path[0] != '/') {
            rule->result = EINVAL;
            continue;
        }
        uint64_t access = rule->access & handled_fs;
        if (access == 0) {
            rule->result = EINVAL;
            continue;
        }
        int target;
        if (rule->flags & LGPT_SANDBOX_RULE_NO_SYMLINKS) {
            struct open_how how;
            memset(&how, 0, sizeof how);
            how.flags = O_PATH | O_CLOEXEC;
            how.resolve = RESOLVE_NO_SYMLINKS;
            target = (int)syscall(__NR_openat2, AT_FDCWD, rule->path, &how, sizeof how);
            /* openat2 predates Landlock (5.6 < 5.13), so ENOSYS means a filter refused it: at least the
             * last component must not be a link. */
            if (target < 0 && errno == ENOSYS) target = open(rule->path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        } else {
            target = open(rule->path, O_PATH | O_CLOEXEC);
        }
        if (target < 0) {
            rule->result = errno;
            continue;
        }
        struct stat st;
        if (fstat(target, &st) < 0) {
            rule->result = errno;
            close_keep_errno(target);
            continue;
        }
        if (!S_ISDIR(st.st_mode)) access &= file_rights;
        lgpt_landlock_path_beneath_attr beneath;
        beneath.allowed_access = access;
        beneath.parent_fd = target;
        if (access != 0 && syscall(__NR_landlock_add_rule, fd, LGPT_LANDLOCK_RULE_PATH_BENEATH, &beneath, 0u) < 0) {
            int err = errno;
            close_keep_errno(target);
            close_keep_errno(fd);
            return err;
        }
        close_keep_errno(target);
    }

    if (handle_net) {
        for (uint32_t i = 0; i < spec->connect_port_count; i++) {
            lgpt_landlock_net_port_attr port;
            port.allowed_access = LANDLOCK_ACCESS_NET_CONNECT_TCP;
            port.port = spec->connect_ports[i];
            if (syscall(__NR_landlock_add_rule, fd, LGPT_LANDLOCK_RULE_NET_PORT, &port, 0u) < 0) {
                int err = errno;
                close_keep_errno(fd);
                return err;
            }
        }
    }
    *out_fd = fd;
    return 0;
}
