/*
 * warden.c -- the host's side of the warden, the process that outlives the host and stops what its
 * commands left running; see include/lgpt_sandbox.h ("THE WARDEN") and Sources/CLocalGPTWarden.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option.
 *
 * The warden is a program of its own (localgpt-warden), started with posix_spawn: a fork() of the host
 * that never execs would keep a copy-on-write snapshot of the host's whole memory alive for the host's
 * life, so every page the host later rewrote would cost memory twice. The host talks to it over a
 * SOCK_SEQPACKET socket pair: each message is one record, send() with MSG_NOSIGNAL cannot raise SIGPIPE
 * when the warden is gone, and the warden's recv() returns 0 once every copy of the host's end is closed
 * (close-on-exec, so no command inherits it), which is how it learns that the host exited.
 */
#include "lgpt_sandbox.h"
#include "sandbox_internal.h"

#include "../CLocalGPTWarden/lgpt_warden_protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* A group of a running command, as the host remembers it to hand to a warden started again. */
typedef struct watched_group {
    pid_t group; /* 0: free entry */
    char cgroup[LGPT_WARDEN_CGROUP_MAX];
} watched_group;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static watched_group table[LGPT_WARDEN_MAX_WATCHED];
static char *program;          /* the localgpt-warden executable */
static char **recovery_argv;   /* the recovery program, argv[0] its absolute path; NULL: none */
static int channel = -1;       /* the host's end of the socket pair */
static pid_t warden = -1;      /* the warden's pid */
static pid_t owner = 0;        /* the process that started it (a forked child has none) */
static int unavailable = 0;    /* why the warden cannot be started (errno), once that is known */

static int send_locked(uint32_t op, pid_t group, const char *cgroup) {
    lgpt_warden_message m;
    memset(&m, 0, sizeof m);
    m.op = op;
    m.group = group;
    if (cgroup != NULL && strlen(cgroup) < sizeof m.cgroup) strcpy(m.cgroup, cgroup);
    ssize_t n;
    do {
        n = send(channel, &m, sizeof m, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof m) return 0;
    return n < 0 ? errno : EIO;
}

/* Forgets the warden. One that still runs is killed first: closing its socket would otherwise read as
 * the host's death, and it would kill the commands that are running. Its pid cannot have been reused
 * while it is an unreaped child of this process, which waitpid(WNOHANG) == 0 shows. */
static void drop_locked(void) {
    if (warden > 0 && owner == getpid() && waitpid(warden, NULL, WNOHANG) == 0) {
        kill(warden, SIGKILL);
        while (waitpid(warden, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    if (channel >= 0 && owner == getpid()) close(channel);
    channel = -1;
    warden = -1;
    owner = 0;
}

/* Starts a warden and hands it every group of the table. */
static int start_locked(void) {
    if (program == NULL) return ENOENT;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) return errno;
    /* The warden's end must not already be descriptor 3 (dup2 onto itself would keep close-on-exec). */
    int end = fcntl(pair[0], F_DUPFD_CLOEXEC, 10);
    close(pair[0]);
    if (end < 0) {
        int err = errno;
        close(pair[1]);
        return err;
    }

    char pid_text[24];
    snprintf(pid_text, sizeof pid_text, "%d", (int)getpid());
    size_t count = 0;
    while (recovery_argv != NULL && recovery_argv[count] != NULL) count++;
    char **argv = calloc(count + 3, sizeof(char *));
    if (argv == NULL) {
        close(end);
        close(pair[1]);
        return ENOMEM;
    }
    argv[0] = "localgpt-warden";
    argv[1] = pid_text;
    for (size_t i = 0; i < count; i++) argv[2 + i] = recovery_argv[i];

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, end, LGPT_WARDEN_FD);
    posix_spawn_file_actions_addclosefrom_np(&actions, LGPT_WARDEN_FD + 1);
    /* A session of its own (a Ctrl-C at the terminal is not for it), default dispositions, no mask. */
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int err = posix_spawn(&pid, program, &actions, &attributes, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    free(argv);
    close(end);
    if (err != 0) {
        close(pair[1]);
        return err;
    }
    channel = pair[1];
    warden = pid;
    owner = getpid();
    for (int i = 0; i < LGPT_WARDEN_MAX_WATCHED; i++) {
        if (table[i].group == 0) continue;
        err = send_locked(LGPT_WARDEN_WATCH, table[i].group, table[i].cgroup);
        if (err != 0) {
            drop_locked();
            return err;
        }
    }
    return 0;
}

int lgpt_sandbox_warden_configure(const char *path, char *const *recovery) {
    if (path == NULL || path[0] != '/') return EINVAL;
    if (recovery != NULL && (recovery[0] == NULL || recovery[0][0] != '/')) return EINVAL;
    char *path_copy = strdup(path);
    char **recovery_copy = NULL;
    if (path_copy == NULL) return ENOMEM;
    if (recovery != NULL) {
        size_t count = 0;
        while (recovery[count] != NULL) count++;
        recovery_copy = calloc(count + 1, sizeof(char *));
        for (size_t i = 0; recovery_copy != NULL && i < count; i++) {
            recovery_copy[i] = strdup(recovery[i]);
            if (recovery_copy[i] == NULL) return ENOMEM; /* what was copied leaks: out of memory anyway */
        }
        if (recovery_copy == NULL) return ENOMEM;
    }
    pthread_mutex_lock(&lock);
    /* Earlier copies are not freed: configuring happens once or twice per process. */
    program = path_copy;
    recovery_argv = recovery_copy;
    unavailable = 0;
    pthread_mutex_unlock(&lock);
    return 0;
}

int lgpt_sandbox_warden_watch(pid_t group, const char *cgroup) {
    if (group <= 1) return EINVAL;
    pthread_mutex_lock(&lock);
    watched_group *entry = NULL;
    for (int i = 0; i < LGPT_WARDEN_MAX_WATCHED && entry == NULL; i++) {
        if (table[i].group == 0) entry = &table[i];
    }
    if (entry == NULL) {
        pthread_mutex_unlock(&lock);
        return ENOSPC;
    }
    entry->group = group;
    entry->cgroup[0] = 0;
    if (cgroup != NULL && strlen(cgroup) < sizeof entry->cgroup) strcpy(entry->cgroup, cgroup);

    int err;
    if (owner != getpid()) { /* none yet, or a forked child that inherited its parent's */
        channel = -1;
        warden = -1;
        err = unavailable != 0 ? unavailable : start_locked();
        /* A missing or unrunnable program stays so: do not try again for every command. */
        if (err == ENOENT || err == EACCES || err == ENOEXEC || err == ENOTDIR) unavailable = err;
    } else {
        err = send_locked(LGPT_WARDEN_WATCH, group, entry->cgroup);
        if (err != 0) { /* the warden is gone (killed): start another, which gets every group */
            drop_locked();
            err = start_locked();
        }
    }
    pthread_mutex_unlock(&lock);
    return err;
}

int lgpt_sandbox_warden_release(pid_t group) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < LGPT_WARDEN_MAX_WATCHED; i++) {
        if (table[i].group == group) table[i].group = 0;
    }
    int err = 0;
    if (owner == getpid()) {
        err = send_locked(LGPT_WARDEN_RELEASE, group, NULL);
        if (err != 0) drop_locked(); /* started again at the next watch */
    }
    pthread_mutex_unlock(&lock);
    return err;
}
