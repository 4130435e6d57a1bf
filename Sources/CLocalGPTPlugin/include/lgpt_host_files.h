/*
 * lgpt_host_files.h -- the host extension "lgpt.host.files/1": file access through the host.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option: plugin authors may copy this header into their own projects.
 *
 * An in-process plugin must not touch the filesystem itself: it asks the host, which checks every
 * request against the plugin's granted permissions.fs.read / permissions.fs.write (entries are
 * absolute paths or "$WORKSPACE" / "$WORKSPACE/sub"), resolves relative paths against the workspace,
 * confines the request by canonical path (symlinks resolved) to a granted root, and refuses the
 * protected files (LocalGPT.md, its manifest, IDENTITY.md, the device key, the audit log,
 * config.toml, grants.json) and the LocalGPT home outside the workspace. docs/PLUGIN-ABI.md §4.1.
 *
 * Obtain the table with host->get_extension(host->host_ctx, LGPT_HOST_FILES_V1). Every function
 * follows the rules of lgpt_plugin.h (R3 borrowed input, R4 results through the out sink, R7 an
 * error document on failure) and may only be called during a call (it takes the lgpt_call).
 *
 *   read  {"path": "notes/a.md", "offset": 0, "limit": 2000}
 *         -> {"path": "notes/a.md", "content": "...", "first_line": 1, "line_count": 2,
 *             "total_lines": 2, "bytes": 12}
 *         offset is a 0-based line, limit a number of lines (default 2000, at most 100000);
 *         content holds the selected lines, each ending in "\n" except possibly the last.
 *   write {"path": "notes/a.md", "content": "...", "append": false}
 *         -> {"path": "notes/a.md", "bytes": 12, "created": true}
 *         parent folders are created; a replaced file is swapped in atomically, keeping its mode.
 *   edit  {"path": "notes/a.md", "old_string": "a", "new_string": "b", "replace_all": false}
 *         -> {"path": "notes/a.md", "replacements": 1}
 *         exact byte-wise replacement; fails (INVALID_ARGUMENT) when old_string does not occur and,
 *         unless replace_all, when it occurs more than once.
 *
 * Statuses: INVALID_ARGUMENT (malformed request, no match, ambiguous match, a binary file),
 * NOT_FOUND (no such file), PERMISSION_DENIED (outside the grant, protected: also audited),
 * IO (anything else). "path" in replies is relative to the workspace when inside it.
 */
#ifndef LGPT_HOST_FILES_H
#define LGPT_HOST_FILES_H

#include "lgpt_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LGPT_HOST_FILES_V1 "lgpt.host.files/1"

typedef lgpt_status (*lgpt_host_files_fn)(void *LGPT_NONNULL host_ctx, const lgpt_call *LGPT_NONNULL call,
                                          const char *LGPT_NONNULL req_json, size_t req_len,
                                          const lgpt_sink *LGPT_NONNULL out);

typedef struct lgpt_host_files_v1 {
    uint32_t struct_size; /* sizeof(lgpt_host_files_v1) as the host compiled it */
    uint32_t flags;       /* reserved, 0 */
    lgpt_host_files_fn LGPT_NONNULL read;
    lgpt_host_files_fn LGPT_NONNULL write;
    lgpt_host_files_fn LGPT_NONNULL edit;
} lgpt_host_files_v1;

#ifdef __cplusplus
}
#endif

#endif /* LGPT_HOST_FILES_H */
