/*
 * lgpt_sdk_files.h -- the files `localgpt plugin sdk` writes, built into the binary.
 *
 * The plugin author's kit: the ABI headers and their Clang module map (the host's own, so a plugin
 * is built against exactly the ABI of the localgpt that exports them) and a starter SwiftPM package.
 * sdk_files.c embeds the repository's files with #embed at build time; nothing is a copy to keep in step.
 */
#ifndef LGPT_SDK_FILES_H
#define LGPT_SDK_FILES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One file of the kit. Static data: every pointer stays valid for the life of the process. */
typedef struct lgpt_sdk_file {
    const char *_Nonnull path;           /* relative to the kit's folder, '/'-separated, NUL-terminated */
    const unsigned char *_Nonnull bytes; /* the contents, len bytes, not NUL-terminated */
    size_t len;
    int starter; /* 0: the host's ABI file, replaced on every export; 1: the author's once written */
} lgpt_sdk_file;

/* The number of files in the kit. */
size_t lgpt_sdk_file_count(void);

/* File `index` (0 <= index < lgpt_sdk_file_count()), or NULL past the end. */
const lgpt_sdk_file *_Nullable lgpt_sdk_file_at(size_t index);

#ifdef __cplusplus
}
#endif

#endif /* LGPT_SDK_FILES_H */
