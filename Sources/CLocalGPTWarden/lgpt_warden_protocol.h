/*
 * lgpt_warden_protocol.h -- the records the host (CLocalGPTSandbox/warden.c) sends to localgpt-warden
 * (main.c here). Host-internal: both sides are built together from this tree, so the layout may change
 * with them; it is not part of any public contract.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option.
 */
#ifndef LGPT_WARDEN_PROTOCOL_H
#define LGPT_WARDEN_PROTOCOL_H

#include <stdint.h>

/** The warden's end of the socket pair. */
#define LGPT_WARDEN_FD 3
/** How many groups one warden watches at once; further ones are not watched. */
#define LGPT_WARDEN_MAX_WATCHED 256
/** Room for a cgroup folder's path, NUL included; a longer one is left to the next host's sweep. */
#define LGPT_WARDEN_CGROUP_MAX 504

enum { LGPT_WARDEN_WATCH = 1, LGPT_WARDEN_RELEASE = 2 };

/** One record on the SOCK_SEQPACKET socket (512 bytes). */
typedef struct lgpt_warden_message {
    uint32_t op;    /* LGPT_WARDEN_WATCH or LGPT_WARDEN_RELEASE */
    int32_t group;  /* the command's process group (its first process's pid) */
    char cgroup[LGPT_WARDEN_CGROUP_MAX]; /* its pids cgroup folder, NUL-terminated; "" for none */
} lgpt_warden_message;

#endif /* LGPT_WARDEN_PROTOCOL_H */
