/*
 * localgpt-warden -- stops what a LocalGPT host's commands left running when the host dies.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option.
 *
 * Started by the host (CLocalGPTSandbox/warden.c, lgpt_sandbox_warden_watch), never by hand:
 *
 *     localgpt-warden HOST_PID [RECOVERY_PATH RECOVERY_ARG...]
 *
 * with descriptor 3 a SOCK_SEQPACKET socket whose other end only the host holds. The host sends one
 * record per event: "watch" (a command's process group and its pids cgroup folder) when a command
 * starts, "release" when it has been reaped. recv() returns 0 once every copy of the host's end is
 * closed: the host exited, however it exited (SIGKILL included). Then this program SIGKILLs what is left
 * of every group still watched and of its cgroup, waits until the host has finished exiting (this
 * process has been given another parent), and, when something was still watched and a recovery
 * program was named, execs it (the CLI names `localgpt sandbox recover`, which puts back the
 * protected files those commands changed). The host started it with a session of its own, default
 * signal dispositions and stdin/stdout on /dev/null; it ignores the signals a terminal or a `kill`
 * of "localgpt" would send, since the host's death is what ends it.
 *
 * The record layout is shared with warden.c through lgpt_warden_protocol.h.
 */
#include "lgpt_warden_protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* A group being watched; `start` is its leader's start time (clock ticks after boot), 0 when the leader
 * had already exited when the watch arrived. */
typedef struct watched_group {
    pid_t group; /* 0: free entry */
    uint64_t start;
    char cgroup[LGPT_WARDEN_CGROUP_MAX];
} watched_group;

static watched_group table[LGPT_WARDEN_MAX_WATCHED];

static void nap_ms(long ms) {
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR) {
    }
}

/* The start time (field 22 of /proc/<pid>/stat) of `pid`, or 0 when there is no such process. */
static uint64_t start_time(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[1024];
    ssize_t n;
    do {
        n = read(fd, buf, sizeof buf - 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    /* "pid (comm) state ppid pgrp ... starttime ...": comm may hold spaces and ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL) return 0;
    p++;
    for (int field = 0; field < 19; field++) { /* state is field 0 after ')', starttime field 19 */
        p = strchr(p + 1, ' ');
        if (p == NULL) return 0;
    }
    return strtoull(p + 1, NULL, 10);
}

static void kill_group(const watched_group *entry) {
    uint64_t now = start_time(entry->group);
    /* A group's number stays taken while the group has a member. A process of that pid with another
     * start time (or, when the leader had already exited at the watch, any process of that pid) means
     * the number was given again after the command's group emptied: nothing of it is left. */
    if (now != 0 && (entry->start == 0 || now != entry->start)) return;
    /* One kill(-group) reaches every member, and a fork racing it is restarted and sees the signal; the
     * loop only waits for the members to be gone (zombies still answer until they are reaped). */
    for (int attempt = 0; attempt < 100; attempt++) {
        if (kill(-entry->group, SIGKILL) < 0) return; /* ESRCH: none left */
        nap_ms(5);
    }
}

/* SIGKILLs every process listed in `<cgroup>/cgroup.procs` until it lists none (at most ~1 s). */
static void kill_cgroup(const char *cgroup) {
    if (cgroup[0] == 0) return;
    char path[LGPT_WARDEN_CGROUP_MAX + 16];
    snprintf(path, sizeof path, "%s/cgroup.procs", cgroup);
    for (int attempt = 0; attempt < 200; attempt++) {
        FILE *f = fopen(path, "re");
        if (f == NULL) return;
        int found = 0;
        long pid;
        while (fscanf(f, "%ld", &pid) == 1) {
            if (pid > 1 && (pid_t)pid != getpid()) {
                kill((pid_t)pid, SIGKILL);
                found = 1;
            }
        }
        fclose(f);
        if (!found) return;
        nap_ms(5);
    }
}

static void watch(const lgpt_warden_message *m) {
    watched_group *entry = NULL;
    for (int i = 0; i < LGPT_WARDEN_MAX_WATCHED; i++) {
        if (table[i].group == m->group) {
            entry = &table[i];
            break;
        }
        if (entry == NULL && table[i].group == 0) entry = &table[i];
    }
    if (entry == NULL) return;
    entry->group = m->group;
    entry->start = start_time(m->group);
    memcpy(entry->cgroup, m->cgroup, sizeof entry->cgroup);
    entry->cgroup[sizeof entry->cgroup - 1] = 0;
}

static void release(pid_t group) {
    for (int i = 0; i < LGPT_WARDEN_MAX_WATCHED; i++) {
        if (table[i].group == group) table[i].group = 0;
    }
}

static const int ignored_signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU};

static void set_ignored_signals(void (*disposition)(int)) {
    for (size_t i = 0; i < sizeof ignored_signals / sizeof ignored_signals[0]; i++) {
        signal(ignored_signals[i], disposition);
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || fcntl(LGPT_WARDEN_FD, F_GETFD) < 0) {
        fprintf(stderr, "localgpt-warden: started by LocalGPT itself, not by hand\n");
        return 2;
    }
    pid_t host = (pid_t)strtol(argv[1], NULL, 10);
    set_ignored_signals(SIG_IGN);

    for (;;) {
        lgpt_warden_message m;
        ssize_t n = recv(LGPT_WARDEN_FD, &m, sizeof m, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* 0: the host is gone; an error: treat it alike */
        if ((size_t)n != sizeof m) continue;
        m.cgroup[sizeof m.cgroup - 1] = 0;
        if (m.op == LGPT_WARDEN_WATCH && m.group > 1) watch(&m);
        if (m.op == LGPT_WARDEN_RELEASE) release(m.group);
    }
    close(LGPT_WARDEN_FD);

    int watched = 0;
    for (int i = 0; i < LGPT_WARDEN_MAX_WATCHED; i++) {
        if (table[i].group == 0) continue;
        watched = 1;
        kill_group(&table[i]);
        kill_cgroup(table[i].cgroup);
    }
    /* End of file comes while the host is still exiting (its descriptors close before it is reparented
     * or reaped): the recovery must find it gone, so wait until this process has a new parent. */
    for (int i = 0; i < 1000 && getppid() == host; i++) nap_ms(1);
    if (watched && argc > 2) {
        set_ignored_signals(SIG_DFL);
        execv(argv[2], argv + 2);
        fprintf(stderr, "localgpt-warden: cannot run %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    return 0;
}
