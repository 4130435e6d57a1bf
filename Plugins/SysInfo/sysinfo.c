/*
 * sysinfo.c -- the bundled C plugin `org.localgpt.sysinfo`: system facts, disk usage through the host's exec
 * service, and a `whoami` tool that exercises the host table from plain C.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0.
 *
 * Built by the C compiler from the ABI header alone, with libc only (not by SwiftPM):
 *
 *     cc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
 *        -I Sources/CLocalGPTPlugin/include Plugins/SysInfo/sysinfo.c -o libsysinfo.so
 *
 * The only exported symbol is lgpt_plugin_entry_v1. Everything else is static. Nothing here keeps mutable
 * global state, so invoke() is safe to call from several threads at once (rule R6).
 */
#define _GNU_SOURCE

#include "lgpt_plugin.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * Layout guards: this file must agree with the header the host was built with (rule R1).
 * ------------------------------------------------------------------------------------------- */
_Static_assert(offsetof(lgpt_sink, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(lgpt_call, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(lgpt_host_v1, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(lgpt_plugin_v1, struct_size) == 0, "struct_size comes first");
_Static_assert(sizeof(lgpt_plugin_v1) == LGPT_PLUGIN_V1_MIN_SIZE, "the v1.0 descriptor is the minimum size");
_Static_assert(offsetof(lgpt_plugin_v1, id) == 16, "four uint32_t fields precede the id");
_Static_assert(offsetof(lgpt_host_v1, host_ctx) == 16, "four uint32_t fields precede host_ctx");
_Static_assert(offsetof(lgpt_sink, ctx) == 8, "struct_size and flags precede ctx");
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(lgpt_sink) == 24, "lgpt_sink layout (LP64)");
_Static_assert(sizeof(lgpt_call) == 32, "lgpt_call layout (LP64)");
_Static_assert(sizeof(lgpt_host_v1) == 112, "lgpt_host_v1 layout (LP64)");
_Static_assert(offsetof(lgpt_host_v1, log) == 40, "lgpt_host_v1 layout (LP64)");
_Static_assert(offsetof(lgpt_host_v1, get_extension) == 104, "lgpt_host_v1 layout (LP64)");
_Static_assert(sizeof(lgpt_plugin_v1) == 80, "lgpt_plugin_v1 layout (LP64)");
_Static_assert(offsetof(lgpt_plugin_v1, create) == 40, "lgpt_plugin_v1 layout (LP64)");
#endif

#define SYSINFO_ID "org.localgpt.sysinfo"
#define SYSINFO_VERSION "0.1.0"
#define GREETING_KEY "sysinfo.greeting"

/* ---------------------------------------------------------------------------------------------
 * The manifest (embedded as manifest_json; the sidecar plugin.json is generated from it).
 * ------------------------------------------------------------------------------------------- */
static const char manifest_json[] =
    "{\n"
    "  \"id\": \"" SYSINFO_ID "\",\n"
    "  \"name\": \"System information\",\n"
    "  \"version\": \"" SYSINFO_VERSION "\",\n"
    "  \"description\": \"Facts about the computer LocalGPT runs on: operating system, uptime, load, CPUs, memory "
    "and disk usage.\",\n"
    "  \"publisher\": \"LocalGPT for Swift\",\n"
    "  \"license\": \"Apache-2.0\",\n"
    "  \"abi\": {\"major\": 1, \"minor\": 0},\n"
    "  \"kinds\": [\"tool\"],\n"
    "  \"concurrency\": \"parallel\",\n"
    "  \"tools\": [\n"
    "    {\n"
    "      \"name\": \"system_info\",\n"
    "      \"description\": \"Describes this computer: host name, operating system, kernel release, CPU "
    "architecture, uptime in seconds, load average over 1, 5 and 15 minutes, number of online CPUs, and total and "
    "available memory in bytes.\",\n"
    "      \"parameters\": {\"type\": \"object\", \"properties\": {}, \"required\": [], "
    "\"additionalProperties\": false},\n"
    "      \"side_effects\": \"read\",\n"
    "      \"timeout_ms\": 10000\n"
    "    },\n"
    "    {\n"
    "      \"name\": \"disk_usage\",\n"
    "      \"description\": \"Reports the size, used and available space in bytes, the percentage used and the mount "
    "point of the file system that holds a path.\",\n"
    "      \"parameters\": {\n"
    "        \"type\": \"object\",\n"
    "        \"properties\": {\n"
    "          \"path\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 4096, \"description\": \"A file or "
    "directory on the file system to report; the current directory when omitted.\"}\n"
    "        },\n"
    "        \"required\": [],\n"
    "        \"additionalProperties\": false\n"
    "      },\n"
    "      \"side_effects\": \"read\",\n"
    "      \"timeout_ms\": 10000\n"
    "    },\n"
    "    {\n"
    "      \"name\": \"whoami\",\n"
    "      \"description\": \"Identifies this plugin and the host running it (name, version, ABI) and returns the "
    "configured greeting (config key sysinfo.greeting), or null when none is configured.\",\n"
    "      \"parameters\": {\"type\": \"object\", \"properties\": {}, \"required\": [], "
    "\"additionalProperties\": false},\n"
    "      \"side_effects\": \"none\",\n"
    "      \"timeout_ms\": 10000\n"
    "    }\n"
    "  ],\n"
    "  \"providers\": [],\n"
    "  \"skills\": [],\n"
    "  \"permissions\": {\n"
    "    \"exec\": {\"commands\": [\"df\"]},\n"
    "    \"net\": {\"hosts\": []},\n"
    "    \"fs\": {\"read\": [], \"write\": []},\n"
    "    \"memory\": {\"search\": false, \"append\": false},\n"
    "    \"secrets\": [],\n"
    "    \"config\": [\"" GREETING_KEY "\"]\n"
    "  }\n"
    "}\n";

/* ---------------------------------------------------------------------------------------------
 * A growable byte buffer. Every append checks its allocation; the first failure makes the buffer
 * `failed` (sticky), later appends do nothing, and the caller checks once at the end. The data is
 * always NUL-terminated when non-NULL.
 * ------------------------------------------------------------------------------------------- */
#define BUF_LIMIT ((size_t)64 * 1024 * 1024) /* nothing this plugin handles is legitimately bigger */

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} buf;

static bool buf_reserve(buf *b, size_t extra) {
    if (b->failed) {
        return false;
    }
    if (extra > BUF_LIMIT || b->len > BUF_LIMIT - extra) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

static void buf_append(buf *b, const void *bytes, size_t len) {
    if (!buf_reserve(b, len)) {
        return;
    }
    if (len) {
        memcpy(b->data + b->len, bytes, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
}

static void buf_puts(buf *b, const char *s) { buf_append(b, s, strlen(s)); }

static void buf_putc(buf *b, char c) { buf_append(b, &c, 1); }

__attribute__((format(printf, 2, 3))) static void buf_printf(buf *b, const char *format, ...) {
    char small[64];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(small, sizeof small, format, args);
    va_end(args);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        buf_append(b, small, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n)) {
        return;
    }
    va_start(args, format);
    vsnprintf(b->data + b->len, (size_t)n + 1, format, args);
    va_end(args);
    b->len += (size_t)n;
}

static void buf_free(buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

/* A sink that collects what the host writes into a buf (rule R4: we copy before returning). */
static lgpt_status buf_sink_write(void *ctx, const char *bytes, size_t len) {
    buf *b = ctx;
    if (len && !bytes) {
        return LGPT_ERR_INVALID_ARGUMENT;
    }
    buf_append(b, bytes, len);
    return b->failed ? LGPT_ERR_INTERNAL : LGPT_OK;
}

static lgpt_sink buf_sink(buf *b) {
    lgpt_sink sink = {sizeof(lgpt_sink), 0, b, buf_sink_write};
    return sink;
}

/* ---------------------------------------------------------------------------------------------
 * JSON output: strings are escaped (quote, backslash, control characters as \u00XX or their short
 * forms); valid UTF-8 passes through unchanged and each invalid byte becomes U+FFFD, so the output is
 * always valid UTF-8 JSON whatever the system hands us.
 * ------------------------------------------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF), or 0 when the bytes there are not one. */
static size_t utf8_sequence_length(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) {
            return 0;
        }
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F)) {
            return 0; /* overlong, or a UTF-16 surrogate */
        }
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) {
            return 0;
        }
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F)) {
            return 0; /* overlong, or above U+10FFFF */
        }
        return 4;
    }
    return 0;
}

static void json_string(buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    buf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        switch (c) {
        case '"': buf_puts(b, "\\\""); i++; continue;
        case '\\': buf_puts(b, "\\\\"); i++; continue;
        case '\n': buf_puts(b, "\\n"); i++; continue;
        case '\r': buf_puts(b, "\\r"); i++; continue;
        case '\t': buf_puts(b, "\\t"); i++; continue;
        case '\b': buf_puts(b, "\\b"); i++; continue;
        case '\f': buf_puts(b, "\\f"); i++; continue;
        default: break;
        }
        if (c < 0x20) {
            char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            buf_append(b, escape, sizeof escape);
            i++;
            continue;
        }
        size_t len = utf8_sequence_length(p + i, n - i);
        if (len == 0) {
            buf_puts(b, "\\ufffd");
            i++;
            continue;
        }
        buf_append(b, p + i, len);
        i += len;
    }
    buf_putc(b, '"');
}

static void json_cstring(buf *b, const char *s) { json_string(b, s, strlen(s)); }

/* A JSON string member or null. */
static void json_string_or_null(buf *b, const char *s) {
    if (s) {
        json_cstring(b, s);
    } else {
        buf_puts(b, "null");
    }
}

/* ---------------------------------------------------------------------------------------------
 * JSON input: a minimal, bounded reader. It never reads past `end` (inputs are (ptr, len)), never
 * recurses (nesting is tracked in a fixed array), and decodes strings, including \uXXXX escapes and
 * surrogate pairs, to UTF-8.
 * ------------------------------------------------------------------------------------------- */
#define JSON_MAX_DEPTH 64

typedef struct json_cursor {
    const char *p;
    const char *end;
} json_cursor;

enum {
    JSON_FOUND = 1,
    JSON_ABSENT = 0,
    JSON_MALFORMED = -1,
    JSON_WRONG_TYPE = -2,
    JSON_NO_MEMORY = -3,
};

static void json_ws(json_cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

static bool json_at(const json_cursor *c, char ch) { return c->p < c->end && *c->p == ch; }

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads four hex digits after "\u"; -1 when they are not. */
static long json_hex4(json_cursor *c) {
    if (c->end - c->p < 4) {
        return -1;
    }
    long value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(c->p[i]);
        if (digit < 0) {
            return -1;
        }
        value = value * 16 + digit;
    }
    c->p += 4;
    return value;
}

static void utf8_encode(buf *out, unsigned long cp) {
    unsigned char bytes[4];
    size_t n;
    if (cp < 0x80) {
        bytes[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        bytes[0] = (unsigned char)(0xC0 | (cp >> 6));
        bytes[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        bytes[0] = (unsigned char)(0xE0 | (cp >> 12));
        bytes[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        bytes[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        bytes[0] = (unsigned char)(0xF0 | (cp >> 18));
        bytes[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        bytes[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        bytes[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_append(out, bytes, n);
}

/* Reads the string at the cursor (which must be at its opening quote) and leaves the cursor after the
 * closing quote. Decodes into `out` when it is not NULL. A lone surrogate becomes U+FFFD. */
static bool json_read_string(json_cursor *c, buf *out) {
    if (!json_at(c, '"')) {
        return false;
    }
    c->p++;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"') {
            return true;
        }
        if (ch < 0x20) {
            return false; /* raw control characters are not allowed inside JSON strings */
        }
        if (ch != '\\') {
            if (out) {
                buf_append(out, &ch, 1);
            }
            continue;
        }
        if (c->p >= c->end) {
            return false;
        }
        char escape = *c->p++;
        char plain;
        switch (escape) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
            long unit = json_hex4(c);
            if (unit < 0) {
                return false;
            }
            unsigned long cp = (unsigned long)unit;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate: combine it with a following "\uDC00".."\uDFFF", if there is one. */
                json_cursor look = *c;
                if (look.end - look.p >= 6 && look.p[0] == '\\' && look.p[1] == 'u') {
                    look.p += 2;
                    long low = json_hex4(&look);
                    if (low >= 0xDC00 && low <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)low - 0xDC00);
                        *c = look;
                    } else {
                        cp = 0xFFFD;
                    }
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* a low surrogate on its own */
            }
            if (out) {
                utf8_encode(out, cp);
            }
            continue;
        }
        default:
            return false;
        }
        if (out) {
            buf_append(out, &plain, 1);
        }
    }
    return false; /* unterminated */
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_skip_number(json_cursor *c) {
    if (json_at(c, '-')) {
        c->p++;
    }
    if (json_at(c, '0')) {
        c->p++;
    } else if (c->p < c->end && *c->p >= '1' && *c->p <= '9') {
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    } else {
        return false;
    }
    if (json_at(c, '.')) {
        c->p++;
        if (!(c->p < c->end && *c->p >= '0' && *c->p <= '9')) return false;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    if (json_at(c, 'e') || json_at(c, 'E')) {
        c->p++;
        if (json_at(c, '+') || json_at(c, '-')) c->p++;
        if (!(c->p < c->end && *c->p >= '0' && *c->p <= '9')) return false;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    return true;
}

static bool json_skip_literal(json_cursor *c, const char *literal) {
    size_t n = strlen(literal);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, literal, n) != 0) {
        return false;
    }
    c->p += n;
    return true;
}

/* Reads `"key" :` inside an object, decoding the key into `key` when it is not NULL. */
static bool json_read_key(json_cursor *c, buf *key) {
    json_ws(c);
    if (!json_read_string(c, key)) {
        return false;
    }
    json_ws(c);
    if (!json_at(c, ':')) {
        return false;
    }
    c->p++;
    return true;
}

/* Validates and skips one JSON value of any kind, without recursion. */
static bool json_skip_value(json_cursor *c) {
    char closers[JSON_MAX_DEPTH];
    size_t depth = 0;
    for (;;) {
        /* A value starts here. */
        json_ws(c);
        if (c->p >= c->end) {
            return false;
        }
        char ch = *c->p;
        if (ch == '{' || ch == '[') {
            if (depth == JSON_MAX_DEPTH) {
                return false;
            }
            closers[depth++] = ch == '{' ? '}' : ']';
            c->p++;
            json_ws(c);
            if (json_at(c, closers[depth - 1])) {
                c->p++;
                depth--;
            } else {
                if (ch == '{' && !json_read_key(c, NULL)) {
                    return false;
                }
                continue; /* the first element or member value */
            }
        } else if (ch == '"') {
            if (!json_read_string(c, NULL)) return false;
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            if (!json_skip_number(c)) return false;
        } else if (ch == 't') {
            if (!json_skip_literal(c, "true")) return false;
        } else if (ch == 'f') {
            if (!json_skip_literal(c, "false")) return false;
        } else if (ch == 'n') {
            if (!json_skip_literal(c, "null")) return false;
        } else {
            return false;
        }
        /* A value ended: close containers, or move on to the next element or member. */
        for (;;) {
            if (depth == 0) {
                return true;
            }
            json_ws(c);
            if (json_at(c, ',')) {
                c->p++;
                if (closers[depth - 1] == '}' && !json_read_key(c, NULL)) {
                    return false;
                }
                break;
            }
            if (json_at(c, closers[depth - 1])) {
                c->p++;
                depth--;
                continue;
            }
            return false;
        }
    }
}

/* Whether (json, len) is exactly one JSON value, with only whitespace around it. */
static bool json_is_document(const char *json, size_t len) {
    json_cursor c = {json, json + len};
    if (!json_skip_value(&c)) {
        return false;
    }
    json_ws(&c);
    return c.p == c.end;
}

/* Whether (json, len) is exactly one JSON object, with only whitespace around it. */
static bool json_is_object(const char *json, size_t len) {
    json_cursor c = {json, json + len};
    json_ws(&c);
    return json_at(&c, '{') && json_is_document(json, len);
}

/* Finds member `key` of the top-level object (json, len), validating the whole object. On JSON_FOUND,
 * `value` spans the member's value: the last one if the key repeats, the one the host validated against
 * the tool's schema (its parser keeps the last of a repeated name). */
static int json_find_member(const char *json, size_t len, const char *key, json_cursor *value) {
    json_cursor c = {json, json + len};
    buf name = {0};
    int result = JSON_ABSENT;
    json_ws(&c);
    if (!json_at(&c, '{')) {
        return JSON_MALFORMED;
    }
    c.p++;
    json_ws(&c);
    if (json_at(&c, '}')) {
        c.p++;
    } else {
        for (;;) {
            name.len = 0;
            if (!json_read_key(&c, &name) || name.failed) {
                result = name.failed ? JSON_NO_MEMORY : JSON_MALFORMED;
                break;
            }
            json_ws(&c);
            const char *start = c.p;
            if (!json_skip_value(&c)) {
                result = JSON_MALFORMED;
                break;
            }
            if (name.data && strlen(key) == name.len && memcmp(name.data, key, name.len) == 0) {
                value->p = start;
                value->end = c.p;
                result = JSON_FOUND;
            }
            json_ws(&c);
            if (json_at(&c, ',')) {
                c.p++;
                continue;
            }
            if (json_at(&c, '}')) {
                c.p++;
                break;
            }
            result = JSON_MALFORMED;
            break;
        }
    }
    buf_free(&name);
    if (result >= 0) {
        json_ws(&c);
        if (c.p != c.end) {
            result = JSON_MALFORMED;
        }
    }
    return result;
}

/* The string member `key` of the top-level object, decoded into `out`. */
static int json_get_string(const char *json, size_t len, const char *key, buf *out) {
    json_cursor value;
    int found = json_find_member(json, len, key, &value);
    if (found != JSON_FOUND) {
        return found;
    }
    if (!json_at(&value, '"')) {
        return JSON_WRONG_TYPE;
    }
    out->len = 0;
    buf_append(out, "", 0); /* a NUL-terminated empty string, even for "" */
    if (!json_read_string(&value, out)) {
        return JSON_MALFORMED;
    }
    return out->failed ? JSON_NO_MEMORY : JSON_FOUND;
}

/* The integer member `key` of the top-level object (no fraction, no exponent, fits in a long long). */
static int json_get_int(const char *json, size_t len, const char *key, long long *out) {
    json_cursor value;
    int found = json_find_member(json, len, key, &value);
    if (found != JSON_FOUND) {
        return found;
    }
    bool negative = json_at(&value, '-');
    if (negative) {
        value.p++;
    }
    if (value.p == value.end) {
        return JSON_WRONG_TYPE;
    }
    unsigned long long magnitude = 0;
    for (; value.p < value.end; value.p++) {
        if (*value.p < '0' || *value.p > '9') {
            return JSON_WRONG_TYPE;
        }
        if (magnitude > (unsigned long long)LLONG_MAX / 10) {
            return JSON_WRONG_TYPE;
        }
        magnitude = magnitude * 10 + (unsigned long long)(*value.p - '0');
        if (magnitude > (unsigned long long)LLONG_MAX) {
            return JSON_WRONG_TYPE;
        }
    }
    *out = negative ? -(long long)magnitude : (long long)magnitude;
    return JSON_FOUND;
}

/* The boolean member `key` of the top-level object. */
static int json_get_bool(const char *json, size_t len, const char *key, bool *out) {
    json_cursor value;
    int found = json_find_member(json, len, key, &value);
    if (found != JSON_FOUND) {
        return found;
    }
    size_t n = (size_t)(value.end - value.p);
    if (n == 4 && memcmp(value.p, "true", 4) == 0) {
        *out = true;
    } else if (n == 5 && memcmp(value.p, "false", 5) == 0) {
        *out = false;
    } else {
        return JSON_WRONG_TYPE;
    }
    return JSON_FOUND;
}

/* ---------------------------------------------------------------------------------------------
 * Results and error documents (rule R7).
 * ------------------------------------------------------------------------------------------- */
static const char *status_code_name(lgpt_status status) {
    switch (status) {
    case LGPT_ERR_INVALID_ARGUMENT: return "invalid_argument";
    case LGPT_ERR_NOT_FOUND: return "not_found";
    case LGPT_ERR_PERMISSION_DENIED: return "permission_denied";
    case LGPT_ERR_CANCELLED: return "cancelled";
    case LGPT_ERR_TIMEOUT: return "timeout";
    case LGPT_ERR_UNSUPPORTED: return "unsupported";
    case LGPT_ERR_ABI_MISMATCH: return "abi_mismatch";
    case LGPT_ERR_IO: return "io";
    case LGPT_ERR_RATE_LIMITED: return "rate_limited";
    case LGPT_ERR_INTERNAL: return "internal";
    default: return "unknown";
    }
}

static const char out_of_memory_document[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";

/* Writes a finished document, or the out-of-memory error document when building it failed. Returns
 * `status`, or LGPT_ERR_INTERNAL after an allocation failure, or the sink's own non-OK status (rule R8). */
static lgpt_status send_document(const lgpt_sink *out, buf *document, lgpt_status status) {
    lgpt_status written;
    if (document->failed || !document->data) {
        written = out->write(out->ctx, out_of_memory_document, sizeof out_of_memory_document - 1);
        status = LGPT_ERR_INTERNAL;
    } else {
        written = out->write(out->ctx, document->data, document->len);
    }
    buf_free(document);
    return written != LGPT_OK ? written : status;
}

/* Writes {"error":{"code":...,"message":...[,"host_status":N][,"host_message":...]}} and returns `status`
 * (rule R7). The message is (message, message_len): it may come from a process and contain NUL bytes. */
static lgpt_status send_error_n(const lgpt_sink *out, lgpt_status status, const char *message, size_t message_len,
                                lgpt_status host_status, const char *host_message) {
    buf document = {0};
    buf_puts(&document, "{\"error\":{\"code\":");
    json_cstring(&document, status_code_name(status));
    buf_puts(&document, ",\"message\":");
    json_string(&document, message, message_len);
    if (host_status != LGPT_OK) {
        buf_printf(&document, ",\"host_status\":%d", (int)host_status);
    }
    if (host_message && host_message[0]) {
        buf_puts(&document, ",\"host_message\":");
        json_cstring(&document, host_message);
    }
    buf_puts(&document, "}}");
    return send_document(out, &document, status);
}

static lgpt_status send_error(const lgpt_sink *out, lgpt_status status, const char *message, lgpt_status host_status,
                              const char *host_message) {
    return send_error_n(out, status, message, strlen(message), host_status, host_message);
}

/* ---------------------------------------------------------------------------------------------
 * The instance: just the host table (valid from create() until destroy() returns).
 * ------------------------------------------------------------------------------------------- */
typedef struct sysinfo_instance {
    const lgpt_host_v1 *host;
} sysinfo_instance;

static void host_log(const lgpt_host_v1 *host, int32_t level, const char *message) {
    host->log(host->host_ctx, level, message, strlen(message));
}

/* ---------------------------------------------------------------------------------------------
 * system_info
 * ------------------------------------------------------------------------------------------- */

/* PRETTY_NAME from an os-release file (shell-style assignment; the value may be quoted). */
static bool read_pretty_name(const char *path, buf *name) {
    FILE *file = fopen(path, "re");
    if (!file) {
        return false;
    }
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, file)) {
        if (strncmp(line, "PRETTY_NAME=", 12) != 0) {
            continue;
        }
        const char *p = line + 12;
        size_t n = strcspn(p, "\r\n");
        name->len = 0;
        if (n > 0 && (p[0] == '"' || p[0] == '\'')) {
            char quote = p[0];
            for (size_t i = 1; i < n && p[i] != quote; i++) {
                if (quote == '"' && p[i] == '\\' && i + 1 < n && strchr("\"\\$`", p[i + 1])) {
                    i++;
                }
                buf_putc(name, p[i]);
            }
        } else {
            buf_append(name, p, n);
        }
        found = !name->failed;
    }
    fclose(file);
    return found;
}

/* MemTotal and MemAvailable from /proc/meminfo, in bytes; 0 when missing. */
static void read_meminfo(unsigned long long *total, unsigned long long *available) {
    *total = 0;
    *available = 0;
    FILE *file = fopen("/proc/meminfo", "re");
    if (!file) {
        return;
    }
    char line[256];
    while (fgets(line, sizeof line, file)) {
        unsigned long long kib;
        if (sscanf(line, "MemTotal: %llu kB", &kib) == 1 && kib <= ULLONG_MAX / 1024) {
            *total = kib * 1024;
        } else if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1 && kib <= ULLONG_MAX / 1024) {
            *available = kib * 1024;
        }
    }
    fclose(file);
}

/* A load average with two decimals, formatted without printf's %f (which follows LC_NUMERIC and could
 * write a decimal comma into the JSON if the host process ever changed its locale). */
static void json_load(buf *b, double load) {
    if (!(load >= 0 && load < 1e9)) {
        load = 0;
    }
    unsigned long long hundredths = (unsigned long long)(load * 100.0 + 0.5);
    buf_printf(b, "%llu.%02llu", hundredths / 100, hundredths % 100);
}

static lgpt_status tool_system_info(const lgpt_sink *out) {
    buf document = {0};

    char hostname[256];
    bool have_hostname = gethostname(hostname, sizeof hostname) == 0;
    hostname[sizeof hostname - 1] = '\0';

    struct utsname uts;
    bool have_uname = uname(&uts) == 0;

    buf os = {0};
    bool have_os = read_pretty_name("/etc/os-release", &os) || read_pretty_name("/usr/lib/os-release", &os);

    struct sysinfo info;
    bool have_sysinfo = sysinfo(&info) == 0;

    double loads[3] = {0, 0, 0};
    if (getloadavg(loads, 3) != 3 && have_sysinfo) {
        for (int i = 0; i < 3; i++) {
            loads[i] = (double)info.loads[i] / (double)(1 << SI_LOAD_SHIFT);
        }
    }

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    unsigned long long memory_total, memory_available;
    read_meminfo(&memory_total, &memory_available);
    if (memory_total == 0 && have_sysinfo) {
        memory_total = (unsigned long long)info.totalram * info.mem_unit;
    }

    buf_puts(&document, "{\"hostname\":");
    json_string_or_null(&document, have_hostname ? hostname : NULL);
    buf_puts(&document, ",\"kernel\":");
    json_string_or_null(&document, have_uname ? uts.release : NULL);
    buf_puts(&document, ",\"machine\":");
    json_string_or_null(&document, have_uname ? uts.machine : NULL);
    buf_puts(&document, ",\"os\":");
    if (have_os) {
        json_string(&document, os.data ? os.data : "", os.len);
    } else {
        buf_puts(&document, "null");
    }
    buf_puts(&document, ",\"uptime_seconds\":");
    if (have_sysinfo) {
        buf_printf(&document, "%ld", (long)info.uptime);
    } else {
        buf_puts(&document, "null");
    }
    buf_puts(&document, ",\"load_average\":[");
    for (int i = 0; i < 3; i++) {
        if (i) {
            buf_putc(&document, ',');
        }
        json_load(&document, loads[i]);
    }
    buf_puts(&document, "],\"cpus\":");
    if (cpus > 0) {
        buf_printf(&document, "%ld", cpus);
    } else {
        buf_puts(&document, "null");
    }
    buf_puts(&document, ",\"memory_total_bytes\":");
    if (memory_total) {
        buf_printf(&document, "%llu", memory_total);
    } else {
        buf_puts(&document, "null");
    }
    buf_puts(&document, ",\"memory_available_bytes\":");
    if (memory_available) {
        buf_printf(&document, "%llu", memory_available);
    } else {
        buf_puts(&document, "null");
    }
    buf_putc(&document, '}');

    buf_free(&os);
    return send_document(out, &document, LGPT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * disk_usage: `df -P -k -- <path>` through host->exec, then parse df's POSIX output.
 * ------------------------------------------------------------------------------------------- */
typedef struct df_row {
    const char *filesystem;
    size_t filesystem_len;
    unsigned long long size_kib, used_kib, available_kib;
    int use_percent; /* -1 when df prints "-" */
    const char *mounted_on;
    size_t mounted_on_len;
} df_row;

static bool parse_kib(const char *s, size_t n, unsigned long long *out) {
    if (n == 0 || n > 19) {
        return false;
    }
    unsigned long long value = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        value = value * 10 + (unsigned long long)(s[i] - '0');
    }
    if (value > ULLONG_MAX / 1024) {
        return false;
    }
    *out = value;
    return true;
}

/* "17%" -> 17, "-" -> -1. */
static bool parse_capacity(const char *s, size_t n, int *out) {
    if (n == 1 && s[0] == '-') {
        *out = -1;
        return true;
    }
    if (n < 2 || n > 4 || s[n - 1] != '%') {
        return false;
    }
    int value = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        value = value * 10 + (s[i] - '0');
    }
    *out = value;
    return true;
}

/* The first data line of `df -P` output:
 *     Filesystem     1024-blocks     Used Available Capacity Mounted on
 *     /dev/vda         264212084 16194312  82871300      17% /
 * The file system name and the mount point may contain spaces, so the four numeric columns are
 * located as the first run of "number number number capacity" after the first field. */
static bool parse_df(const char *text, size_t len, df_row *row) {
    const char *end = text + len;
    const char *newline = memchr(text, '\n', len);
    if (!newline) {
        return false;
    }
    const char *line = newline + 1;
    while (line < end) {
        const char *line_end = memchr(line, '\n', (size_t)(end - line));
        if (!line_end) {
            line_end = end;
        }
        enum { MAX_FIELDS = 64 };
        const char *starts[MAX_FIELDS];
        size_t lens[MAX_FIELDS];
        size_t count = 0;
        const char *p = line;
        while (p < line_end && count < MAX_FIELDS) {
            while (p < line_end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
            if (p == line_end) break;
            starts[count] = p;
            while (p < line_end && *p != ' ' && *p != '\t' && *p != '\r') p++;
            lens[count] = (size_t)(p - starts[count]);
            count++;
        }
        for (size_t i = 1; i + 4 < count; i++) {
            if (parse_kib(starts[i], lens[i], &row->size_kib) && parse_kib(starts[i + 1], lens[i + 1], &row->used_kib) &&
                parse_kib(starts[i + 2], lens[i + 2], &row->available_kib) &&
                parse_capacity(starts[i + 3], lens[i + 3], &row->use_percent)) {
                row->filesystem = starts[0];
                row->filesystem_len = (size_t)(starts[i - 1] + lens[i - 1] - starts[0]);
                row->mounted_on = starts[i + 4];
                const char *mount_end = line_end;
                while (mount_end > row->mounted_on && (mount_end[-1] == '\r' || mount_end[-1] == ' ')) mount_end--;
                row->mounted_on_len = (size_t)(mount_end - row->mounted_on);
                return true;
            }
        }
        line = line_end < end ? line_end + 1 : end;
    }
    return false;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Trims ASCII whitespace at both ends, in place. */
static void trim(buf *b) {
    if (!b->data) {
        return;
    }
    size_t start = 0;
    while (start < b->len && is_space(b->data[start])) start++;
    size_t end = b->len;
    while (end > start && is_space(b->data[end - 1])) end--;
    memmove(b->data, b->data + start, end - start);
    b->len = end - start;
    b->data[b->len] = '\0';
}

/* The host refused (permission, sandbox) or failed: pass its status on, with its message if any. */
static lgpt_status disk_usage_host_failure(lgpt_status status, const buf *reply, const lgpt_sink *out) {
    buf message = {0};
    buf detail = {0};
    json_cursor error;
    if (reply->data && json_find_member(reply->data, reply->len, "error", &error) == JSON_FOUND) {
        json_get_string(error.p, (size_t)(error.end - error.p), "message", &detail);
    }
    buf_printf(&message, "the host could not run df (status %d)", (int)status);
    lgpt_status result = message.failed
                             ? send_error(out, LGPT_ERR_INTERNAL, "out of memory", LGPT_OK, NULL)
                             : send_error(out, status < 0 ? status : LGPT_ERR_UNKNOWN, message.data, status,
                                          detail.failed ? NULL : detail.data);
    buf_free(&message);
    buf_free(&detail);
    return result;
}

/* df ran but did not succeed: a timeout, a signal, or a non-zero exit with its stderr. */
static lgpt_status disk_usage_df_failure(const buf *reply, bool timed_out, bool have_exit, long long exit_code,
                                         const lgpt_sink *out) {
    if (timed_out) {
        return send_error(out, LGPT_ERR_TIMEOUT, "df timed out", LGPT_OK, NULL);
    }
    buf message = {0};
    if (!have_exit) {
        long long signal_number = 0;
        if (json_get_int(reply->data, reply->len, "signal", &signal_number) == JSON_FOUND && signal_number != 0) {
            buf_printf(&message, "df was killed by signal %lld", signal_number);
        } else {
            buf_puts(&message, "the host's exec reply has no exit_code");
        }
    } else {
        buf detail = {0};
        json_get_string(reply->data, reply->len, "stderr", &detail);
        trim(&detail);
        if (detail.len > 2000) {
            detail.len = 2000; /* a cut inside a UTF-8 sequence becomes U+FFFD when escaped */
            detail.data[detail.len] = '\0';
        }
        buf_printf(&message, "df failed with exit code %lld", exit_code);
        if (detail.len && !detail.failed) {
            buf_puts(&message, ": ");
            buf_append(&message, detail.data, detail.len);
        }
        buf_free(&detail);
    }
    lgpt_status result = message.failed ? send_error(out, LGPT_ERR_INTERNAL, "out of memory", LGPT_OK, NULL)
                                        : send_error_n(out, LGPT_ERR_IO, message.data, message.len, LGPT_OK, NULL);
    buf_free(&message);
    return result;
}

/* Turns the host's exec reply ({"exit_code":0,"stdout":"...","stderr":"...",...}) into the result. */
static lgpt_status disk_usage_result(const buf *path, const buf *reply, const lgpt_sink *out) {
    if (!reply->data || !json_is_object(reply->data, reply->len)) {
        return send_error(out, LGPT_ERR_IO, "the host's exec reply is not a JSON object", LGPT_OK, NULL);
    }
    bool timed_out = false;
    if (json_get_bool(reply->data, reply->len, "timed_out", &timed_out) != JSON_FOUND) {
        timed_out = false;
    }
    long long exit_code = 0;
    bool have_exit = json_get_int(reply->data, reply->len, "exit_code", &exit_code) == JSON_FOUND;
    if (timed_out || !have_exit || exit_code != 0) {
        return disk_usage_df_failure(reply, timed_out, have_exit, exit_code, out);
    }

    buf text = {0};
    int have_stdout = json_get_string(reply->data, reply->len, "stdout", &text);
    df_row row;
    if (have_stdout != JSON_FOUND || !text.data || !parse_df(text.data, text.len, &row)) {
        buf_free(&text);
        if (have_stdout == JSON_NO_MEMORY) {
            return send_error(out, LGPT_ERR_INTERNAL, "out of memory", LGPT_OK, NULL);
        }
        return send_error(out, LGPT_ERR_IO, "could not parse the output of df", LGPT_OK, NULL);
    }
    buf document = {0};
    buf_puts(&document, "{\"path\":");
    json_string(&document, path->data, path->len);
    buf_puts(&document, ",\"filesystem\":");
    json_string(&document, row.filesystem, row.filesystem_len);
    buf_printf(&document, ",\"size_bytes\":%llu,\"used_bytes\":%llu,\"available_bytes\":%llu", row.size_kib * 1024,
               row.used_kib * 1024, row.available_kib * 1024);
    if (row.use_percent >= 0) {
        buf_printf(&document, ",\"use_percent\":%d", row.use_percent);
    } else {
        buf_puts(&document, ",\"use_percent\":null");
    }
    buf_puts(&document, ",\"mounted_on\":");
    json_string(&document, row.mounted_on, row.mounted_on_len);
    buf_putc(&document, '}');
    buf_free(&text); /* row points into text: free it only after the document is built */
    return send_document(out, &document, LGPT_OK);
}

/* Runs df for the path through the host and answers with the result or an error document. */
static lgpt_status disk_usage_run(const sysinfo_instance *instance, const lgpt_call *call, const buf *path,
                                  const lgpt_sink *out) {
    const lgpt_host_v1 *host = instance->host;
    if (host->is_cancelled(host->host_ctx, call)) {
        return send_error(out, LGPT_ERR_CANCELLED, "the call was cancelled", LGPT_OK, NULL);
    }
    buf request = {0};
    buf_puts(&request, "{\"argv\":[\"df\",\"-P\",\"-k\",\"--\",");
    json_string(&request, path->data, path->len);
    buf_puts(&request, "],\"timeout_ms\":8000}");
    if (request.failed) {
        buf_free(&request);
        return send_error(out, LGPT_ERR_INTERNAL, "out of memory", LGPT_OK, NULL);
    }
    buf reply = {0};
    lgpt_sink reply_sink = buf_sink(&reply);
    lgpt_status status = host->exec(host->host_ctx, call, request.data, request.len, &reply_sink);
    buf_free(&request);
    lgpt_status result;
    if (reply.failed) {
        result = send_error(out, LGPT_ERR_INTERNAL, "out of memory (or an oversized exec reply)", LGPT_OK, NULL);
    } else if (status != LGPT_OK) {
        result = disk_usage_host_failure(status, &reply, out);
    } else {
        result = disk_usage_result(path, &reply, out);
    }
    buf_free(&reply);
    return result;
}

static lgpt_status tool_disk_usage(const sysinfo_instance *instance, const lgpt_call *call, const char *args,
                                   size_t args_len, const lgpt_sink *out) {
    buf path = {0};
    int found = json_get_string(args, args_len, "path", &path);
    if (found == JSON_ABSENT) {
        buf_puts(&path, ".");
    }
    lgpt_status result;
    if (found == JSON_NO_MEMORY || path.failed) {
        result = send_error(out, LGPT_ERR_INTERNAL, "out of memory", LGPT_OK, NULL);
    } else if (found == JSON_WRONG_TYPE || found == JSON_MALFORMED) {
        result = send_error(out, LGPT_ERR_INVALID_ARGUMENT, "argument \"path\" must be a string", LGPT_OK, NULL);
    } else if (path.len == 0 || path.len > 4096 || strlen(path.data) != path.len) {
        result = send_error(out, LGPT_ERR_INVALID_ARGUMENT,
                            "argument \"path\" must be a non-empty path of at most 4096 bytes without NUL characters",
                            LGPT_OK, NULL);
    } else {
        result = disk_usage_run(instance, call, &path, out);
    }
    buf_free(&path);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * whoami: proves the host table from C (host_name, host_version, abi, log, config_get).
 * ------------------------------------------------------------------------------------------- */
static lgpt_status tool_whoami(const sysinfo_instance *instance, const lgpt_sink *out) {
    const lgpt_host_v1 *host = instance->host;
    host_log(host, LGPT_LOG_INFO, "whoami: reading config key " GREETING_KEY);

    buf greeting = {0};
    lgpt_sink greeting_sink = buf_sink(&greeting);
    lgpt_status status = host->config_get(host->host_ctx, GREETING_KEY, strlen(GREETING_KEY), &greeting_sink);
    if (status != LGPT_OK && status != LGPT_ERR_NOT_FOUND) {
        buf_free(&greeting);
        buf message = {0};
        buf_printf(&message, "the host could not read config key " GREETING_KEY " (status %d)", (int)status);
        lgpt_status result = message.failed
                                 ? send_error(out, LGPT_ERR_INTERNAL, "out of memory", LGPT_OK, NULL)
                                 : send_error(out, status < 0 ? status : LGPT_ERR_UNKNOWN, message.data, status, NULL);
        buf_free(&message);
        return result;
    }
    if (greeting.failed) {
        buf_free(&greeting);
        return send_error(out, LGPT_ERR_INTERNAL, "out of memory", LGPT_OK, NULL);
    }

    buf document = {0};
    buf_puts(&document, "{\"plugin\":\"" SYSINFO_ID "\",\"host\":");
    json_string_or_null(&document, host->host_name);
    buf_puts(&document, ",\"host_version\":");
    json_string_or_null(&document, host->host_version);
    buf_printf(&document, ",\"abi\":\"%u.%u\",\"greeting\":", (unsigned)host->abi_major, (unsigned)host->abi_minor);
    if (status == LGPT_ERR_NOT_FOUND) {
        buf_puts(&document, "null");
    } else {
        trim(&greeting);
        if (greeting.data && greeting.len && json_is_document(greeting.data, greeting.len)) {
            buf_append(&document, greeting.data, greeting.len); /* already JSON: "hello", 3, {...} */
        } else {
            /* Not JSON (or nothing at all): pass the bytes on as a string. */
            json_string(&document, greeting.data ? greeting.data : "", greeting.len);
        }
    }
    buf_putc(&document, '}');
    buf_free(&greeting);
    return send_document(out, &document, LGPT_OK);
}

/* ---------------------------------------------------------------------------------------------
 * The descriptor's functions.
 * ------------------------------------------------------------------------------------------- */
static lgpt_status sysinfo_create(const lgpt_host_v1 *host, void **out_instance) {
    if (!out_instance) {
        return LGPT_ERR_INVALID_ARGUMENT;
    }
    *out_instance = NULL;
    if (!host || host->struct_size < sizeof(lgpt_host_v1) || host->abi_major != LGPT_ABI_MAJOR) {
        return LGPT_ERR_ABI_MISMATCH;
    }
    if (!host->log || !host->exec || !host->config_get || !host->is_cancelled) {
        return LGPT_ERR_ABI_MISMATCH;
    }
    sysinfo_instance *instance = malloc(sizeof *instance);
    if (!instance) {
        return LGPT_ERR_INTERNAL;
    }
    instance->host = host;
    *out_instance = instance;
    return LGPT_OK;
}

static void sysinfo_destroy(void *instance) { free(instance); }

static lgpt_status sysinfo_invoke(void *instance, const lgpt_call *call, const char *name, const char *args_json,
                                  size_t args_len, const lgpt_sink *out) {
    if (!out || out->struct_size < sizeof(lgpt_sink) || !out->write) {
        return LGPT_ERR_ABI_MISMATCH; /* nowhere to write an error document */
    }
    if (!instance) {
        return send_error(out, LGPT_ERR_INTERNAL, "the plugin was not created", LGPT_OK, NULL);
    }
    if (!name || !call) {
        return send_error(out, LGPT_ERR_INVALID_ARGUMENT, "missing tool name or call", LGPT_OK, NULL);
    }
    if (!args_json || !json_is_object(args_json, args_len)) {
        return send_error(out, LGPT_ERR_INVALID_ARGUMENT, "the arguments must be a JSON object", LGPT_OK, NULL);
    }

    const sysinfo_instance *self = instance;
    if (strcmp(name, "system_info") == 0) {
        return tool_system_info(out);
    }
    if (strcmp(name, "disk_usage") == 0) {
        return tool_disk_usage(self, call, args_json, args_len, out);
    }
    if (strcmp(name, "whoami") == 0) {
        return tool_whoami(self, out);
    }
    buf message = {0};
    buf_puts(&message, "unknown tool \"");
    buf_append(&message, name, strnlen(name, 200));
    buf_puts(&message, "\"; this plugin has system_info, disk_usage and whoami");
    lgpt_status result = message.failed ? send_error(out, LGPT_ERR_INTERNAL, "out of memory", LGPT_OK, NULL)
                                        : send_error(out, LGPT_ERR_NOT_FOUND, message.data, LGPT_OK, NULL);
    buf_free(&message);
    return result;
}

static const lgpt_plugin_v1 descriptor = {
    .struct_size = sizeof(lgpt_plugin_v1),
    .abi_major = LGPT_ABI_MAJOR,
    .abi_minor = LGPT_ABI_MINOR,
    .kinds = LGPT_KIND_TOOL,
    .id = SYSINFO_ID,
    .version = SYSINFO_VERSION,
    .manifest_json = manifest_json,
    .create = sysinfo_create,
    .destroy = sysinfo_destroy,
    .invoke = sysinfo_invoke,
    .generate = NULL,
    .get_extension = NULL,
};

/* The single exported symbol (rule R2): cheap, no side effects, the same descriptor every time. */
const lgpt_plugin_v1 *lgpt_plugin_entry_v1(uint32_t host_abi_major, uint32_t host_abi_minor) {
    (void)host_abi_minor; /* any minor: fields are only appended */
    return host_abi_major == LGPT_ABI_MAJOR ? &descriptor : NULL;
}
