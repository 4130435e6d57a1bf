/*
 * A scripted provider plugin for the agent tests: it speaks the real ABI (generate, config_get,
 * is_cancelled, the event sink) and replays a script instead of calling a model.
 *
 * Build: -DSCRIPTED_MANIFEST_HEADER="path.h" defining SCRIPTED_ID, SCRIPTED_VERSION and
 * SCRIPTED_MANIFEST (the embedded manifest_json; Tests/LocalGPTTesting/ScriptedProvider.swift writes it).
 *
 * Config (read with config_get, so the manifest grants "scripted"):
 *   scripted.script    path of the script file (required)
 *   scripted.requests  path of a file each request document is appended to, one per line (optional)
 *
 * The script: blocks separated by a line "---"; block N answers the N-th generate call of this
 * instance (0-based). Each other line of a block is written to the event sink as it is, except:
 *   {"type":"sleep","ms":N}     sleep N ms in 5 ms steps, returning LGPT_ERR_CANCELLED as soon as the
 *                               host cancels the call (is_cancelled)
 *   {"type":"return","status":S} stop and return status S (after the events before it)
 *   lines starting with '#', and empty lines, are skipped.
 * A call past the end of the script answers one delta "(script exhausted)" and a done event.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lgpt_plugin.h"
#include SCRIPTED_MANIFEST_HEADER

typedef struct instance {
    const lgpt_host_v1 *host;
    atomic_long calls;
} instance;

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static lgpt_status buf_write(void *ctx, const char *bytes, size_t len) {
    buf *b = ctx;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + len + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return LGPT_ERR_INTERNAL;
        b->data = p;
        b->cap = cap;
    }
    if (len) memcpy(b->data + b->len, bytes, len);
    b->len += len;
    b->data[b->len] = 0;
    return LGPT_OK;
}

/* A config string value (config_get writes JSON: "\"...\""), unescaped naively (paths only). */
static char *config_path(const lgpt_host_v1 *host, const char *key) {
    buf b = {0};
    lgpt_sink sink = {sizeof(lgpt_sink), 0, &b, buf_write};
    if (host->config_get(host->host_ctx, key, strlen(key), &sink) != LGPT_OK || !b.data) {
        free(b.data);
        return NULL;
    }
    char *start = strchr(b.data, '"');
    char *end = start ? strrchr(b.data, '"') : NULL;
    if (!start || end == start) {
        free(b.data);
        return NULL;
    }
    *end = 0;
    char *out = strdup(start + 1);
    free(b.data);
    return out;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_write(&b, chunk, n);
    fclose(f);
    if (!b.data) buf_write(&b, "", 0);
    return b.data;
}

static long number_after(const char *line, const char *key) {
    const char *p = strstr(line, key);
    if (!p) return 0;
    p += strlen(key);
    while (*p == '"' || *p == ':' || *p == ' ') p++;
    return strtol(p, NULL, 10);
}

static lgpt_status create(const lgpt_host_v1 *host, void **out) {
    instance *inst = calloc(1, sizeof *inst);
    if (!inst) return LGPT_ERR_INTERNAL;
    inst->host = host;
    atomic_init(&inst->calls, 0);
    *out = inst;
    return LGPT_OK;
}

static void destroy(void *inst) { free(inst); }

static lgpt_status put(const lgpt_sink *events, const char *s, size_t len) { return events->write(events->ctx, s, len); }

static lgpt_status generate(void *ctx, const lgpt_call *call, const char *request, size_t len,
                            const lgpt_sink *events) {
    instance *inst = ctx;
    const lgpt_host_v1 *host = inst->host;
    long index = atomic_fetch_add(&inst->calls, 1);

    char *requests = config_path(host, "scripted.requests");
    if (requests) {
        int fd = open(requests, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            char *line = malloc(len + 1);
            if (line) {
                memcpy(line, request, len);
                line[len] = '\n';
                ssize_t w = write(fd, line, len + 1);
                (void)w;
                free(line);
            }
            close(fd);
        }
        free(requests);
    }

    char *script_path = config_path(host, "scripted.script");
    char *script = script_path ? read_file(script_path) : NULL;
    free(script_path);
    if (!script) {
        static const char e[] = "{\"type\":\"error\",\"code\":\"not_found\",\"message\":\"no script\"}";
        put(events, e, sizeof e - 1);
        return LGPT_ERR_NOT_FOUND;
    }

    /* Find block `index`. */
    long block = 0;
    char *save = NULL;
    lgpt_status status = LGPT_OK;
    int found = 0;
    for (char *line = strtok_r(script, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strcmp(line, "---") == 0) {
            block++;
            if (block > index) break;
            continue;
        }
        if (block != index) continue;
        found = 1;
        if (line[0] == 0 || line[0] == '#') continue;
        if (strstr(line, "\"type\":\"sleep\"")) {
            long ms = number_after(line, "\"ms\"");
            for (long t = 0; t < ms; t += 5) {
                if (host->is_cancelled(host->host_ctx, call)) {
                    /* As a provider whose poll() or nanosleep() was interrupted leaves it (libcurl does):
                     * errno is the caller's thread's, and the host must not trip over a stale EINTR. */
                    errno = EINTR;
                    status = LGPT_ERR_CANCELLED;
                    goto done;
                }
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (strstr(line, "\"type\":\"return\"")) {
            status = (lgpt_status)number_after(line, "\"status\"");
            goto done;
        }
        status = put(events, line, strlen(line));
        if (status != LGPT_OK) goto done;
    }
    if (!found) {
        static const char d[] = "{\"type\":\"delta\",\"text\":\"(script exhausted)\"}";
        static const char e[] = "{\"type\":\"done\",\"stop_reason\":\"end_turn\"}";
        status = put(events, d, sizeof d - 1);
        if (status == LGPT_OK) status = put(events, e, sizeof e - 1);
    }
done:
    free(script);
    return status;
}

static const lgpt_plugin_v1 descriptor = {
    .struct_size = sizeof(lgpt_plugin_v1),
    .abi_major = LGPT_ABI_MAJOR,
    .abi_minor = LGPT_ABI_MINOR,
    .kinds = LGPT_KIND_PROVIDER,
    .id = SCRIPTED_ID,
    .version = SCRIPTED_VERSION,
    .manifest_json = SCRIPTED_MANIFEST,
    .create = create,
    .destroy = destroy,
    .invoke = NULL,
    .generate = generate,
    .get_extension = NULL,
};

LGPT_EXPORT const lgpt_plugin_v1 *lgpt_plugin_entry_v1(uint32_t major, uint32_t minor) {
    (void)minor;
    return major == LGPT_ABI_MAJOR ? &descriptor : NULL;
}
