/*
 * tree.c -- removing the per-run private temporary directory (see include/lgpt_sandbox.h).
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option.
 *
 * The tree was written by the sandboxed command, so nothing in it is trusted: no symbolic link is ever
 * followed (every open is relative to an already-open directory, with O_NOFOLLOW), and a directory whose
 * mode forbids listing or removing entries (chmod 000) is made accessible first.
 */
#include "lgpt_sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

enum { max_depth = 256 };

static void note(int *first, int err) {
    if (*first == 0) *first = err;
}

/* Empties the directory open as `dir` (consumed: closed before returning). */
static void empty_directory(int dir, int depth, int *first) {
    if (depth > max_depth) {
        note(first, ELOOP);
        (void)close(dir);
        return;
    }
    DIR *stream = fdopendir(dir);
    if (stream == NULL) {
        note(first, errno);
        (void)close(dir);
        return;
    }
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(stream);
        if (entry == NULL) {
            if (errno != 0) note(first, errno);
            break;
        }
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        if (unlinkat(dirfd(stream), name, 0) == 0) continue;
        if (errno != EISDIR && errno != EPERM) {
            if (errno != ENOENT) note(first, errno);
            continue;
        }
        /* A directory: open it without following a symlink (a racing swap gives ENOTDIR/ELOOP). */
        int child = openat(dirfd(stream), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0 && errno == EACCES) {
            (void)fchmodat(dirfd(stream), name, S_IRWXU, AT_SYMLINK_NOFOLLOW);
            child = openat(dirfd(stream), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (child < 0) {
            note(first, errno);
            continue;
        }
        (void)fchmod(child, S_IRWXU);
        empty_directory(child, depth + 1, first);
        if (unlinkat(dirfd(stream), name, AT_REMOVEDIR) < 0 && errno != ENOENT) note(first, errno);
    }
    (void)closedir(stream);
}

/* Opens `path` as a directory without following a symlink, made accessible. */
static int open_tree_root(const char *path) {
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir >= 0) (void)fchmod(dir, S_IRWXU);
    return dir;
}

int lgpt_sandbox_remove_tree(const char *path) {
    if (path == NULL || path[0] != '/' || strcmp(path, "/") == 0) return EINVAL;
    int first = 0;
    int dir = open_tree_root(path);
    if (dir < 0) {
        if (errno == ENOENT) return 0;
        if (errno != ENOTDIR && errno != ELOOP) return errno;
        return unlink(path) == 0 ? 0 : errno; /* a file or a symlink: remove the entry itself */
    }
    empty_directory(dir, 0, &first);
    if (rmdir(path) < 0 && errno != ENOENT) note(&first, errno);
    return first;
}

int lgpt_sandbox_empty_tree(const char *path) {
    if (path == NULL || path[0] != '/' || strcmp(path, "/") == 0) return EINVAL;
    int first = 0;
    int dir = open_tree_root(path);
    if (dir < 0) return errno;
    empty_directory(dir, 0, &first);
    return first;
}

int lgpt_sandbox_is_memory_fs(const char *path) {
    struct statfs fs;
    if (path == NULL || statfs(path, &fs) < 0) return -1;
    return (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) ? 1 : 0;
}
