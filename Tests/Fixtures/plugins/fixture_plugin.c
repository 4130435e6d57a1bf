/*
 * A test plugin for the host's ABI tests. One source, many variants chosen with -D:
 *   FIXTURE_MANIFEST_HEADER  "path.h" defining FIXTURE_ID, FIXTURE_VERSION, FIXTURE_KINDS and
 *                            FIXTURE_MANIFEST (the embedded manifest_json) -- required
 *   FIXTURE_ABI_MAJOR=n      descriptor abi_major (default LGPT_ABI_MAJOR)
 *   FIXTURE_STRUCT_SIZE=n    descriptor struct_size (default sizeof)
 *   FIXTURE_NO_ENTRY         export the entry under another name
 *   FIXTURE_REFUSE           the entry returns NULL
 *   FIXTURE_CREATE_FAIL      create() logs a reason and returns LGPT_ERR_INTERNAL
 *   FIXTURE_APPENDED_FIELD   a "1.1" descriptor: one field appended after the v1 fields
 * Tools: noop, echo, fail, host_exec, host_config, host_secret, host_http, host_memory, wait_cancel,
 * invocations, concurrency. Provider: generate streams five deltas and a done event.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lgpt_plugin.h"
#include FIXTURE_MANIFEST_HEADER

#ifndef FIXTURE_ABI_MAJOR
#define FIXTURE_ABI_MAJOR LGPT_ABI_MAJOR
#endif

typedef struct fixture_descriptor {
    lgpt_plugin_v1 v1;
#ifdef FIXTURE_APPENDED_FIELD
    uint64_t appended_in_1_1;
#endif
} fixture_descriptor;

#ifndef FIXTURE_STRUCT_SIZE
#define FIXTURE_STRUCT_SIZE sizeof(fixture_descriptor)
#endif

typedef struct instance {
    const lgpt_host_v1 *host;
} instance;

static atomic_long invocations = 0;
static atomic_int in_flight = 0;
static atomic_int max_in_flight = 0;

/* A growable buffer that is also an lgpt_sink target. */
typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static lgpt_status buf_write(void *ctx, const char *bytes, size_t len) {
    buf *b = ctx;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256);
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

static lgpt_sink make_sink(buf *b) {
    lgpt_sink s = {sizeof(lgpt_sink), 0, b, buf_write};
    return s;
}

static lgpt_status put(const lgpt_sink *out, const char *s) { return out->write(out->ctx, s, strlen(s)); }

/* Extracts the string member `key` from a flat JSON object (no escapes needed by the tests). */
static int get_string(const char *json, size_t len, const char *key, char *dst, size_t dst_cap) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = memmem(json, len, pattern, strlen(pattern));
    if (!p) return 0;
    p += strlen(pattern);
    while (*p == ' ' || *p == ':') p++;
    if (*p != '"') return 0;
    p++;
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < dst_cap) {
        if (*p == '\\' && p[1]) p++;
        dst[n++] = *p++;
    }
    dst[n] = 0;
    return 1;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#ifdef FIXTURE_NULL_CREATE
__attribute__((unused))
#endif
static lgpt_status fixture_create(const lgpt_host_v1 *host, void **out_instance) {
    if (host->struct_size < sizeof(lgpt_host_v1)) return LGPT_ERR_ABI_MISMATCH;
#ifdef FIXTURE_CREATE_FAIL
    static const char reason[] = "fixture create refuses: missing fixture.required setting";
    host->log(host->host_ctx, LGPT_LOG_ERROR, reason, sizeof reason - 1);
    return LGPT_ERR_INTERNAL;
#endif
#ifdef FIXTURE_CREATE_PROBE
    /* Reports what create() may read: the install check must run it with the user's grant only. */
    {
        buf b = {0};
        lgpt_sink s = make_sink(&b);
        lgpt_status cs = host->config_get(host->host_ctx, "fixture", 7, &s);
        char line[128];
        int n = snprintf(line, sizeof line, "fixture create probe: config_get status=%d", cs);
        host->log(host->host_ctx, LGPT_LOG_WARN, line, (size_t)n);
        free(b.data);
    }
#endif
#ifdef FIXTURE_CREATE_EXEC
    /* Breaks rule R6: exec from create(), with a call it made up. */
    {
        buf b = {0};
        lgpt_sink s = make_sink(&b);
        static const char trace[] = "";
        lgpt_call made_up = {.struct_size = sizeof(lgpt_call), .call_id = 424242, .trace_id = trace};
        static const char req[] = "{\"argv\":[\"echo\",\"from create\"]}";
        lgpt_status es = host->exec(host->host_ctx, &made_up, req, sizeof req - 1, &s);
        char line[256];
        int n = snprintf(line, sizeof line, "fixture create exec: status=%d %.*s", es, (int)(b.len < 160 ? b.len : 160),
                         b.data ? b.data : "");
        host->log(host->host_ctx, LGPT_LOG_WARN, line, (size_t)n);
        free(b.data);
    }
#endif
    instance *inst = calloc(1, sizeof *inst);
    if (!inst) return LGPT_ERR_INTERNAL;
    inst->host = host;
    static const char hello[] = "fixture created";
    host->log(host->host_ctx, LGPT_LOG_INFO, hello, sizeof hello - 1);
    *out_instance = inst;
    return LGPT_OK;
}

static void fixture_destroy(void *p) { free(p); }

/* Writes {"host_status": s, "output": <what the host wrote, as a JSON string>}. */
static lgpt_status report_host_call(const lgpt_sink *out, lgpt_status s, buf *b) {
    char head[64];
    snprintf(head, sizeof head, "{\"host_status\":%d,\"output\":\"", s);
    put(out, head);
    for (size_t i = 0; i < b->len; i++) {
        char c = b->data[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = c;
            out->write(out->ctx, esc, 2);
        } else if ((unsigned char)c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)c);
            out->write(out->ctx, esc, 6);
        } else {
            out->write(out->ctx, &c, 1);
        }
    }
    free(b->data);
    return put(out, "\"}");
}

static lgpt_status fixture_invoke(void *p, const lgpt_call *call, const char *name, const char *args, size_t args_len,
                                  const lgpt_sink *out) {
    instance *inst = p;
    const lgpt_host_v1 *host = inst->host;
    atomic_fetch_add(&invocations, 1);
    int now = atomic_fetch_add(&in_flight, 1) + 1;
    int seen = atomic_load(&max_in_flight);
    while (now > seen && !atomic_compare_exchange_weak(&max_in_flight, &seen, now)) {
    }
    lgpt_status status = LGPT_OK;
    char arg[512];

    if (strcmp(name, "noop") == 0) {
#if defined(FIXTURE_BAD_RESULT) && FIXTURE_BAD_RESULT == 1
        status = put(out, "{\"oops\": tru"); /* not JSON: the host must say so */
#elif defined(FIXTURE_BAD_RESULT) && FIXTURE_BAD_RESULT == 2
        status = LGPT_OK; /* nothing written */
#elif defined(FIXTURE_BAD_RESULT) && FIXTURE_BAD_RESULT == 3
        status = put(out, "{\"s\": \"\xff\xfe\"}"); /* not UTF-8 */
#else
        status = put(out, "{}");
#endif
    } else if (strcmp(name, "echo") == 0) {
        put(out, "{\"echo\":");
        out->write(out->ctx, args, args_len);
        status = put(out, "}");
    } else if (strcmp(name, "fail") == 0) {
        put(out, "{\"error\":{\"code\":\"io\",\"message\":\"fixture failure on purpose\"}}");
        status = LGPT_ERR_IO;
    } else if (strcmp(name, "host_exec") == 0) {
        /* args: {"request": "<exec request JSON>"} */
        get_string(args, args_len, "request", arg, sizeof arg);
        buf b = {0};
        lgpt_sink s = make_sink(&b);
#ifdef FIXTURE_FORGE_CALL
        /* Breaks rule R6: a call id of its own, not the one the host is making. */
        lgpt_call forged = *call;
        forged.call_id += 1000000;
        lgpt_status hs = host->exec(host->host_ctx, &forged, arg, strlen(arg), &s);
#else
        lgpt_status hs = host->exec(host->host_ctx, call, arg, strlen(arg), &s);
#endif
        status = report_host_call(out, hs, &b);
    } else if (strcmp(name, "host_config") == 0 || strcmp(name, "host_secret") == 0) {
        get_string(args, args_len, "key", arg, sizeof arg);
        buf b = {0};
        lgpt_sink s = make_sink(&b);
        lgpt_status hs = name[5] == 'c' ? host->config_get(host->host_ctx, arg, strlen(arg), &s)
                                        : host->secret_get(host->host_ctx, arg, strlen(arg), &s);
        status = report_host_call(out, hs, &b);
    } else if (strcmp(name, "host_http") == 0) {
        get_string(args, args_len, "request", arg, sizeof arg);
        buf h = {0}, b = {0};
        lgpt_sink hs = make_sink(&h), bs = make_sink(&b);
        lgpt_status st = host->http(host->host_ctx, call, arg, strlen(arg), &hs, &bs);
        char head[64];
        snprintf(head, sizeof head, "{\"host_status\":%d,\"head\":", st);
        put(out, head);
        if (h.len && h.data[0] == '{') out->write(out->ctx, h.data, h.len); else put(out, "null");
        put(out, ",\"body_length\":");
        char n[32];
        snprintf(n, sizeof n, "%zu}", b.len);
        status = put(out, n);
        free(h.data);
        free(b.data);
    } else if (strcmp(name, "host_memory") == 0) {
        buf b = {0};
        lgpt_sink s = make_sink(&b);
        lgpt_status hs = host->memory_search(host->host_ctx, call, "{\"query\":\"x\"}", 13, &s);
        status = report_host_call(out, hs, &b);
    } else if (strcmp(name, "wait_cancel") == 0) {
        /* Polls is_cancelled for up to 5 s. */
        int i;
        for (i = 0; i < 500 && !host->is_cancelled(host->host_ctx, call); i++) sleep_ms(10);
        status = i < 500 ? LGPT_ERR_CANCELLED : put(out, "{\"cancelled\":false}");
    } else if (strcmp(name, "invocations") == 0) {
        char n[64];
        snprintf(n, sizeof n, "{\"invocations\":%ld}", atomic_load(&invocations) - 1);
        status = put(out, n);
    } else if (strcmp(name, "concurrency") == 0) {
        sleep_ms(2);
        char n[64];
        snprintf(n, sizeof n, "{\"max_in_flight\":%d}", atomic_load(&max_in_flight));
        status = put(out, n);
    } else if (strcmp(name, "validated") == 0) {
        status = put(out, "{\"ok\":true}");
    } else {
        put(out, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such tool\"}}");
        status = LGPT_ERR_NOT_FOUND;
    }
    atomic_fetch_sub(&in_flight, 1);
    return status;
}

static lgpt_status fixture_generate(void *p, const lgpt_call *call, const char *req, size_t len,
                                    const lgpt_sink *events) {
    (void)p;
    (void)call;
    (void)req;
    (void)len;
    static const char *words[] = {"Hello", " from", " the", " fixture", " provider"};
    for (int i = 0; i < 5; i++) {
        char ev[128];
        snprintf(ev, sizeof ev, "{\"type\":\"delta\",\"text\":\"%s\"}", words[i]);
        lgpt_status s = events->write(events->ctx, ev, strlen(ev));
        if (s != LGPT_OK) return s; /* R8: a refused write means stop */
    }
    return put(events, "{\"type\":\"done\",\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":3,\"output_tokens\":5}}");
}

static const fixture_descriptor descriptor = {
    .v1 =
        {
            .struct_size = (uint32_t)(FIXTURE_STRUCT_SIZE),
            .abi_major = FIXTURE_ABI_MAJOR,
            .abi_minor = LGPT_ABI_MINOR,
            .kinds = FIXTURE_KINDS,
#if defined(FIXTURE_NULL_ID)
            .id = NULL,
#elif defined(FIXTURE_ID_OVERRIDE)
            .id = FIXTURE_ID_OVERRIDE,
#else
            .id = FIXTURE_ID,
#endif
            .version = FIXTURE_VERSION,
#ifdef FIXTURE_NULL_MANIFEST
            .manifest_json = NULL,
#else
            .manifest_json = FIXTURE_MANIFEST,
#endif
#ifdef FIXTURE_NULL_CREATE
            .create = NULL,
#else
            .create = fixture_create,
#endif
            .destroy = fixture_destroy,
            .invoke = fixture_invoke,
            .generate = fixture_generate,
            .get_extension = NULL,
        },
#ifdef FIXTURE_APPENDED_FIELD
    .appended_in_1_1 = 42,
#endif
};

#ifdef FIXTURE_NO_ENTRY
LGPT_EXPORT const lgpt_plugin_v1 *lgpt_plugin_entry_v0(uint32_t major, uint32_t minor) {
#else
LGPT_EXPORT const lgpt_plugin_v1 *lgpt_plugin_entry_v1(uint32_t major, uint32_t minor) {
#endif
    (void)minor;
#ifdef FIXTURE_REFUSE
    (void)major;
    (void)descriptor;
    return NULL;
#else
    return major == LGPT_ABI_MAJOR ? &descriptor.v1 : NULL;
#endif
}
