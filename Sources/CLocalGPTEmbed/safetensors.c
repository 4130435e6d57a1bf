/*
 * LocalGPT for Swift. Apache-2.0.
 *
 * A bounds-checked safetensors reader: every read of the header stays inside the header, every tensor's
 * byte range is checked against the data section, and nothing after the mapping's end is ever touched.
 */
#ifndef _GNU_SOURCE
#error "CLocalGPTEmbed must be compiled with _GNU_SOURCE (see Package.swift)"
#endif

#include "safetensors.h"

#include "lgpt_embed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader assumes a little-endian host"
#endif

_Static_assert(sizeof(uint64_t) == 8, "header length is a u64");

/* A header larger than this is refused (the MiniLM header is 11 KB; the format's own limit is 100 MB). */
#define LGPT_ST_MAX_HEADER (100u * 1024u * 1024u)
/* JSON nesting beyond this is refused (the format needs depth 3). */
#define LGPT_ST_MAX_DEPTH 32

void lgpt_st_set_error(char *error, size_t capacity, const char *fmt, ...) {
    if (error == NULL || capacity == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error, capacity, fmt, ap);
    va_end(ap);
}

/* ---- a minimal JSON reader over [p, end) ---- */

typedef struct jcur {
    const char *p;
    const char *end;
} jcur;

static void j_ws(jcur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int j_peek(jcur *c) {
    j_ws(c);
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static int j_expect(jcur *c, char ch) {
    if (j_peek(c) != (unsigned char)ch) return -1;
    c->p++;
    return 0;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static size_t utf8_put(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int j_hex4(jcur *c, uint32_t *out) {
    if (c->end - c->p < 4) return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(c->p[i]);
        if (h < 0) return -1;
        v = (v << 4) | (uint32_t)h;
    }
    c->p += 4;
    *out = v;
    return 0;
}

/* Reads a string. With `out` non-NULL, a malloc'd decoded copy is returned there (the caller frees). */
static int j_string(jcur *c, char **out) {
    if (j_expect(c, '"') != 0) return -1;
    const char *start = c->p;
    /* Decoded output is never longer than the raw text (escapes shrink, \uXXXX is 6 bytes for <= 4). */
    char *buf = NULL;
    size_t n = 0;
    if (out != NULL) {
        const char *q = start;
        while (q < c->end && *q != '"') q += (*q == '\\' && q + 1 < c->end) ? 2 : 1;
        if (q >= c->end) return -1;
        buf = malloc((size_t)(q - start) + 1);
        if (buf == NULL) return -2;
    }
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch < 0x20) goto fail;
        if (ch != '\\') {
            if (buf) buf[n++] = (char)ch;
            continue;
        }
        if (c->p >= c->end) goto fail;
        char e = *c->p++;
        char lit = 0;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (j_hex4(c, &cp) != 0) goto fail;
            if (cp >= 0xD800 && cp < 0xDC00) {
                uint32_t lo;
                if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u') goto fail;
                c->p += 2;
                if (j_hex4(c, &lo) != 0 || lo < 0xDC00 || lo >= 0xE000) goto fail;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                goto fail;
            }
            if (buf) n += utf8_put(buf + n, cp);
            continue;
        }
        default: goto fail;
        }
        if (buf) buf[n++] = lit;
    }
    if (c->p >= c->end) goto fail;
    c->p++; /* closing quote */
    if (buf) {
        buf[n] = '\0';
        *out = buf;
    }
    return 0;
fail:
    free(buf);
    return -1;
}

static int j_uint(jcur *c, uint64_t *out) {
    j_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
    uint64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        uint64_t d = (uint64_t)(*c->p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
        c->p++;
    }
    *out = v;
    return 0;
}

static int j_skip(jcur *c, int depth) {
    if (depth > LGPT_ST_MAX_DEPTH) return -1;
    int ch = j_peek(c);
    if (ch == '"') return j_string(c, NULL);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        if (j_peek(c) == close) {
            c->p++;
            return 0;
        }
        for (;;) {
            if (ch == '{') {
                if (j_string(c, NULL) != 0 || j_expect(c, ':') != 0) return -1;
            }
            if (j_skip(c, depth + 1) != 0) return -1;
            int nx = j_peek(c);
            if (nx == ',') {
                c->p++;
                continue;
            }
            if (nx == close) {
                c->p++;
                return 0;
            }
            return -1;
        }
    }
    /* number, true, false, null */
    const char *start = c->p;
    while (c->p < c->end && *c->p != '\0' &&
           (strchr("+-.eE0123456789", *c->p) != NULL || (*c->p >= 'a' && *c->p <= 'z')))
        c->p++;
    return c->p > start ? 0 : -1;
}

static lgpt_st_dtype dtype_from(const char *s) {
    if (strcmp(s, "F32") == 0) return LGPT_ST_F32;
    if (strcmp(s, "F16") == 0) return LGPT_ST_F16;
    if (strcmp(s, "BF16") == 0) return LGPT_ST_BF16;
    if (strcmp(s, "F64") == 0) return LGPT_ST_F64;
    if (strcmp(s, "I64") == 0) return LGPT_ST_I64;
    if (strcmp(s, "I32") == 0) return LGPT_ST_I32;
    return LGPT_ST_OTHER;
}

static size_t dtype_size(lgpt_st_dtype d) {
    switch (d) {
    case LGPT_ST_F32: return 4;
    case LGPT_ST_F16: return 2;
    case LGPT_ST_BF16: return 2;
    case LGPT_ST_F64: return 8;
    case LGPT_ST_I64: return 8;
    case LGPT_ST_I32: return 4;
    default: return 0;
    }
}

/* Parses one tensor description object into `t` (name already set). */
static int parse_tensor(jcur *c, lgpt_st_tensor *t) {
    if (j_expect(c, '{') != 0) return -1;
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    if (j_peek(c) == '}') return -1;
    for (;;) {
        char *key = NULL;
        int rc = j_string(c, &key);
        if (rc != 0) return rc;
        if (j_expect(c, ':') != 0) {
            free(key);
            return -1;
        }
        if (strcmp(key, "dtype") == 0) {
            char *dt = NULL;
            rc = j_string(c, &dt);
            if (rc != 0) {
                free(key);
                return rc;
            }
            snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dt);
            t->dtype = dtype_from(dt);
            free(dt);
            have_dtype = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (j_expect(c, '[') != 0) goto bad;
            t->rank = 0;
            if (j_peek(c) == ']') {
                c->p++;
            } else {
                for (;;) {
                    uint64_t v;
                    if (t->rank >= LGPT_ST_MAX_RANK || j_uint(c, &v) != 0 || v > (uint64_t)INT64_MAX) goto bad;
                    t->shape[t->rank++] = (int64_t)v;
                    int nx = j_peek(c);
                    if (nx == ',') {
                        c->p++;
                        continue;
                    }
                    if (nx == ']') {
                        c->p++;
                        break;
                    }
                    goto bad;
                }
            }
            have_shape = 1;
        } else if (strcmp(key, "data_offsets") == 0) {
            if (j_expect(c, '[') != 0 || j_uint(c, &t->begin) != 0 || j_expect(c, ',') != 0 ||
                j_uint(c, &t->end) != 0 || j_expect(c, ']') != 0)
                goto bad;
            have_offsets = 1;
        } else if (j_skip(c, 2) != 0) {
            goto bad;
        }
        free(key);
        int nx = j_peek(c);
        if (nx == ',') {
            c->p++;
            continue;
        }
        if (nx == '}') {
            c->p++;
            break;
        }
        return -1;
    bad:
        free(key);
        return -1;
    }
    return (have_dtype && have_shape && have_offsets) ? 0 : -1;
}

void lgpt_st_close(lgpt_st_file *file) {
    if (file == NULL) return;
    for (size_t i = 0; i < file->tensor_count; i++) free(file->tensors[i].name);
    free(file->tensors);
    if (file->map != NULL && file->map != MAP_FAILED) munmap(file->map, file->map_size);
    memset(file, 0, sizeof *file);
}

const lgpt_st_tensor *lgpt_st_find(const lgpt_st_file *file, const char *name) {
    for (size_t i = 0; i < file->tensor_count; i++) {
        if (strcmp(file->tensors[i].name, name) == 0) return &file->tensors[i];
    }
    return NULL;
}

static int parse_header(lgpt_st_file *f, const char *hdr, size_t len, char *error, size_t cap) {
    jcur c = {hdr, hdr + len};
    size_t capacity = 0;
    if (j_expect(&c, '{') != 0) {
        lgpt_st_set_error(error, cap, "the safetensors header is not a JSON object");
        return LGPT_EMBED_ERR_FORMAT;
    }
    if (j_peek(&c) == '}') {
        c.p++;
    } else {
        for (;;) {
            char *name = NULL;
            int rc = j_string(&c, &name);
            if (rc == -2) goto nomem;
            if (rc != 0 || j_expect(&c, ':') != 0) {
                free(name);
                goto malformed;
            }
            if (strcmp(name, "__metadata__") == 0) {
                free(name);
                if (j_skip(&c, 1) != 0) goto malformed;
            } else {
                if (f->tensor_count == capacity) {
                    size_t nc = capacity ? capacity * 2 : 128;
                    lgpt_st_tensor *nt = realloc(f->tensors, nc * sizeof *nt);
                    if (nt == NULL) {
                        free(name);
                        goto nomem;
                    }
                    f->tensors = nt;
                    capacity = nc;
                }
                lgpt_st_tensor *t = &f->tensors[f->tensor_count];
                memset(t, 0, sizeof *t);
                t->name = name;
                f->tensor_count++;
                rc = parse_tensor(&c, t);
                if (rc == -2) goto nomem;
                if (rc != 0) {
                    lgpt_st_set_error(error, cap, "the safetensors header entry for '%s' is malformed", name);
                    return LGPT_EMBED_ERR_FORMAT;
                }
                if (t->begin > t->end || t->end > f->data_size) {
                    lgpt_st_set_error(error, cap,
                                      "tensor '%s' lies outside the data section (bytes %llu..%llu of %llu): "
                                      "the file is truncated or corrupt",
                                      name, (unsigned long long)t->begin, (unsigned long long)t->end,
                                      (unsigned long long)f->data_size);
                    return LGPT_EMBED_ERR_FORMAT;
                }
                size_t es = dtype_size(t->dtype);
                if (es != 0) {
                    /* The element count must match the byte range exactly (checked without overflow). */
                    uint64_t count = 1;
                    for (int32_t i = 0; i < t->rank; i++) {
                        uint64_t d = (uint64_t)t->shape[i];
                        if (d != 0 && count > UINT64_MAX / d) goto size_mismatch;
                        count *= d;
                    }
                    if (count > UINT64_MAX / es || count * es != t->end - t->begin) goto size_mismatch;
                }
            }
            int nx = j_peek(&c);
            if (nx == ',') {
                c.p++;
                continue;
            }
            if (nx == '}') {
                c.p++;
                break;
            }
            goto malformed;
        }
    }
    if (j_peek(&c) != -1) goto malformed; /* only padding spaces may follow */
    return LGPT_EMBED_OK;
size_mismatch:
    lgpt_st_set_error(error, cap, "tensor '%s': its shape does not match its byte range",
                      f->tensors[f->tensor_count - 1].name);
    return LGPT_EMBED_ERR_FORMAT;
malformed:
    lgpt_st_set_error(error, cap, "the safetensors JSON header is malformed (at byte %zu of %zu)",
                      (size_t)(c.p - hdr), len);
    return LGPT_EMBED_ERR_FORMAT;
nomem:
    lgpt_st_set_error(error, cap, "out of memory while reading the safetensors header");
    return LGPT_EMBED_ERR_NOMEM;
}

int lgpt_st_open(const char *path, lgpt_st_file *file, char *error, size_t cap) {
    memset(file, 0, sizeof *file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lgpt_st_set_error(error, cap, "cannot open %s: %s", path, strerror(errno));
        return LGPT_EMBED_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        lgpt_st_set_error(error, cap, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return LGPT_EMBED_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        lgpt_st_set_error(error, cap, "%s is not a regular file", path);
        close(fd);
        return LGPT_EMBED_ERR_IO;
    }
    size_t size = (size_t)st.st_size;
    if (size < 8 + 2) {
        lgpt_st_set_error(error, cap, "%s is too short to be a safetensors file (%zu bytes)", path, size);
        close(fd);
        return LGPT_EMBED_ERR_FORMAT;
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) {
        lgpt_st_set_error(error, cap, "cannot map %s: %s", path, strerror(map_errno));
        return LGPT_EMBED_ERR_IO;
    }
    file->map = map;
    file->map_size = size;
    uint64_t hlen;
    memcpy(&hlen, map, 8); /* little-endian host, checked above */
    if (hlen < 2 || hlen > LGPT_ST_MAX_HEADER || hlen > size - 8) {
        lgpt_st_set_error(error, cap,
                          "%s is not a safetensors file or is truncated (header length %llu, file size %zu)", path,
                          (unsigned long long)hlen, size);
        lgpt_st_close(file);
        return LGPT_EMBED_ERR_FORMAT;
    }
    file->data = (const uint8_t *)map + 8 + hlen;
    file->data_size = size - 8 - hlen;
    int rc = parse_header(file, (const char *)map + 8, (size_t)hlen, error, cap);
    if (rc != LGPT_EMBED_OK) {
        lgpt_st_close(file);
        return rc;
    }
    return LGPT_EMBED_OK;
}
