/*
 * http.c -- libcurl behind the non-variadic functions of include/lgpt_http.h.
 *
 * One call of lgpt_http_perform() uses one easy handle driven by its own multi handle, so that the
 * caller's is_cancelled() can be polled every LGPT_HTTP_POLL_MS even while nothing arrives (the easy
 * interface and its progress callback may sleep up to a second between calls). No handle, buffer or
 * connection outlives the call.
 *
 * libcurl is not linked: it is opened with dlopen() on the first call (see "Loading libcurl"). Linking
 * it made the dynamic linker load and relocate about 30 libraries (gnutls, krb5, ldap, ssh2, ...) at
 * every start of `localgpt`, a third of the time of `localgpt --version` (docs/PERFORMANCE.md).
 */
#include "lgpt_http.h"

/* The type-checking macros of curl/typecheck-gcc.h would expand curl_easy_setopt() before the
 * redirection to function pointers below; the SETOPT wrapper checks every result instead. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(LGPT_HTTP_ERROR_SIZE >= CURL_ERROR_SIZE, "the error buffer must hold CURL_ERROR_SIZE bytes");

/* How often is_cancelled() is polled while the transfer waits. */
#define LGPT_HTTP_POLL_MS 100
/* Upper bound on the header lines kept for on_head (curl's own limit is lower). */
#define LGPT_HTTP_MAX_HEAD_BYTES (1024 * 1024)

/* ------------------------------------------------------------------------------------------------
 * Loading libcurl: exactly once per process, on the first call that needs it.
 *
 * Every curl function used in this file is called through a pointer of the function's own type
 * (__typeof__), looked up with dlsym() in the library; the #defines below send the calls there.
 * The library is never closed.
 * ---------------------------------------------------------------------------------------------- */

/* The shared-object names tried in order: Debian 12's libcurl4 (OpenSSL), then its GnuTLS build,
 * then an unversioned development link. */
static const char *const curl_library_names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so"};

#define LGPT_CURL_FUNCTIONS(X)                                                                                         \
    X(curl_easy_cleanup)                                                                                               \
    X(curl_easy_getinfo)                                                                                               \
    X(curl_easy_init)                                                                                                  \
    X(curl_easy_setopt)                                                                                                \
    X(curl_easy_strerror)                                                                                              \
    X(curl_free)                                                                                                       \
    X(curl_global_init)                                                                                                \
    X(curl_multi_add_handle)                                                                                           \
    X(curl_multi_cleanup)                                                                                              \
    X(curl_multi_info_read)                                                                                            \
    X(curl_multi_init)                                                                                                 \
    X(curl_multi_perform)                                                                                              \
    X(curl_multi_poll)                                                                                                 \
    X(curl_multi_remove_handle)                                                                                        \
    X(curl_multi_strerror)                                                                                             \
    X(curl_slist_append)                                                                                               \
    X(curl_slist_free_all)                                                                                             \
    X(curl_url)                                                                                                        \
    X(curl_url_cleanup)                                                                                                \
    X(curl_url_get)                                                                                                    \
    X(curl_url_set)                                                                                                    \
    X(curl_url_strerror)

#define LGPT_CURL_POINTER(name) static __typeof__(&name) lgpt_p_##name;
LGPT_CURL_FUNCTIONS(LGPT_CURL_POINTER)
#undef LGPT_CURL_POINTER

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
/* NULL once libcurl is loaded and initialised; otherwise why it is not. Written once, under
 * global_once, then only read. */
static const char *global_error = "libcurl was not loaded";
static char global_error_text[LGPT_HTTP_ERROR_SIZE];

static void global_init(void) {
    void *library = NULL;
    for (size_t i = 0; library == NULL && i < sizeof curl_library_names / sizeof curl_library_names[0]; i++) {
        library = dlopen(curl_library_names[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(global_error_text, sizeof global_error_text,
                 "libcurl is not installed (%s); install it with `apt-get install libcurl4`",
                 reason != NULL ? reason : "libcurl.so.4 not found");
        global_error = global_error_text;
        return;
    }
#define LGPT_CURL_LOOKUP(name)                                                                                         \
    lgpt_p_##name = (__typeof__(&name))dlsym(library, #name);                                                          \
    if (lgpt_p_##name == NULL) {                                                                                       \
        snprintf(global_error_text, sizeof global_error_text,                                                          \
                 "the installed libcurl has no %s (a newer libcurl is needed)", #name);                          \
        global_error = global_error_text;                                                                              \
        return;                                                                                                        \
    }
    LGPT_CURL_FUNCTIONS(LGPT_CURL_LOOKUP)
#undef LGPT_CURL_LOOKUP
    CURLcode code = lgpt_p_curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        snprintf(global_error_text, sizeof global_error_text, "curl_global_init failed (%d)", (int)code);
        global_error = global_error_text;
        return;
    }
    global_error = NULL;
}

/* 0 when libcurl is loaded and initialised; -1 otherwise, with the reason in global_error. */
static int ensure_global_init(void) {
    pthread_once(&global_once, global_init);
    return global_error == NULL ? 0 : -1;
}

const char *lgpt_http_library_error(void) {
    return ensure_global_init() == 0 ? NULL : global_error;
}

/* From here on, every curl call goes through the pointers loaded above. */
#define curl_easy_cleanup lgpt_p_curl_easy_cleanup
#define curl_easy_getinfo lgpt_p_curl_easy_getinfo
#define curl_easy_init lgpt_p_curl_easy_init
#define curl_easy_setopt lgpt_p_curl_easy_setopt
#define curl_easy_strerror lgpt_p_curl_easy_strerror
#define curl_free lgpt_p_curl_free
#define curl_multi_add_handle lgpt_p_curl_multi_add_handle
#define curl_multi_cleanup lgpt_p_curl_multi_cleanup
#define curl_multi_info_read lgpt_p_curl_multi_info_read
#define curl_multi_init lgpt_p_curl_multi_init
#define curl_multi_perform lgpt_p_curl_multi_perform
#define curl_multi_poll lgpt_p_curl_multi_poll
#define curl_multi_remove_handle lgpt_p_curl_multi_remove_handle
#define curl_multi_strerror lgpt_p_curl_multi_strerror
#define curl_slist_append lgpt_p_curl_slist_append
#define curl_slist_free_all lgpt_p_curl_slist_free_all
#define curl_url lgpt_p_curl_url
#define curl_url_cleanup lgpt_p_curl_url_cleanup
#define curl_url_get lgpt_p_curl_url_get
#define curl_url_set lgpt_p_curl_url_set
#define curl_url_strerror lgpt_p_curl_url_strerror

/* ------------------------------------------------------------------------------------------------
 * Small helpers.
 * ---------------------------------------------------------------------------------------------- */

static void copy_text(char *dst, size_t size, const char *src) {
    if (size == 0) return;
    if (src == NULL) src = "";
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void set_error(lgpt_http_result *out, lgpt_http_error_kind kind, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(lgpt_http_result *out, lgpt_http_error_kind kind, const char *format, ...) {
    out->kind = kind;
    va_list args;
    va_start(args, format);
    vsnprintf(out->error, sizeof out->error, format, args);
    va_end(args);
}

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return strchr("!#$%&'*+-.^_`|~", c) != NULL && c != '\0';
}

static int is_token(const char *s, size_t len) {
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)s[i])) return 0;
    }
    return 1;
}

/* A header line for CURLOPT_HTTPHEADER: "token:" or "token;" followed by no CR, LF. */
static int is_valid_header_line(const char *line) {
    size_t name_len = strcspn(line, ":;");
    if (line[name_len] == '\0' || !is_token(line, name_len)) return 0;
    return strpbrk(line, "\r\n") == NULL;
}

/* Does one of the caller's header lines name this header (case-insensitive)? */
static int has_header(const lgpt_http_request *req, const char *name) {
    size_t len = strlen(name);
    for (size_t i = 0; i < req->header_count; i++) {
        const char *line = req->headers[i];
        if (strncasecmp(line, name, len) == 0 && (line[len] == ':' || line[len] == ';')) return 1;
    }
    return 0;
}

static lgpt_http_error_kind kind_for_code(CURLcode code) {
    switch (code) {
    case CURLE_OK:
        return LGPT_HTTP_OK;
    case CURLE_URL_MALFORMAT:
        return LGPT_HTTP_ERR_INVALID_URL;
    case CURLE_UNSUPPORTED_PROTOCOL:
        return LGPT_HTTP_ERR_UNSUPPORTED_SCHEME;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return LGPT_HTTP_ERR_DNS;
    case CURLE_COULDNT_CONNECT:
        return LGPT_HTTP_ERR_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return LGPT_HTTP_ERR_TLS;
    case CURLE_OPERATION_TIMEDOUT:
        return LGPT_HTTP_ERR_TIMEOUT;
    case CURLE_ABORTED_BY_CALLBACK:
        return LGPT_HTTP_ERR_ABORTED;
    case CURLE_FILESIZE_EXCEEDED:
        return LGPT_HTTP_ERR_TOO_LARGE;
    default:
        return LGPT_HTTP_ERR_OTHER;
    }
}

/* ------------------------------------------------------------------------------------------------
 * The transfer: state shared by the curl callbacks of one lgpt_http_perform() call.
 * ---------------------------------------------------------------------------------------------- */

typedef struct transfer {
    CURL *easy;
    const lgpt_http_callbacks *cb;
    uint64_t max_body_bytes;
    uint64_t body_bytes;

    /* The header block of the response being received (status line and empty line excluded). */
    char *head;
    size_t head_len;
    size_t head_cap;
    long head_status;
    int head_delivered;

    /* Why the transfer was stopped by us rather than by curl. */
    int stopped_by_callback;
    int stopped_too_large;
    int stopped_address;
} transfer;

static const char *primary_ip_of(CURL *easy, long *port) {
    char *ip = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || ip == NULL) ip = "";
    if (port != NULL && curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, port) != CURLE_OK) *port = 0;
    return ip;
}

/* Calls on_head once. Returns 0 to go on, -1 to stop. */
static int deliver_head(transfer *t) {
    if (t->head_delivered) return 0;
    t->head_delivered = 1;
    if (t->head_status == 0 && curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->head_status) != CURLE_OK) {
        t->head_status = 0;
    }
    if (t->cb == NULL || t->cb->on_head == NULL) return 0;
    lgpt_http_head head;
    memset(&head, 0, sizeof head);
    head.status = t->head_status;
    head.headers = t->head != NULL ? t->head : "";
    head.headers_len = t->head_len;
    head.primary_ip = primary_ip_of(t->easy, &head.primary_port);
    if (t->cb->on_head(t->cb->ctx, &head) != 0) {
        t->stopped_by_callback = 1;
        return -1;
    }
    return 0;
}

static int append_head(transfer *t, const char *data, size_t len) {
    if (t->head_len + len > LGPT_HTTP_MAX_HEAD_BYTES) return -1;
    if (t->head_len + len > t->head_cap) {
        size_t cap = t->head_cap == 0 ? 1024 : t->head_cap;
        while (cap < t->head_len + len) cap *= 2;
        char *grown = realloc(t->head, cap);
        if (grown == NULL) return -1;
        t->head = grown;
        t->head_cap = cap;
    }
    memcpy(t->head + t->head_len, data, len);
    t->head_len += len;
    return 0;
}

/* "HTTP/1.1 200 OK\r\n", "HTTP/2 204 \r\n" -> the status, 0 if unreadable. */
static long parse_status_line(const char *data, size_t len) {
    size_t i = 5;
    while (i < len && data[i] != ' ') i++;
    while (i < len && data[i] == ' ') i++;
    long status = 0;
    size_t digits = 0;
    while (i < len && digits < 3 && data[i] >= '0' && data[i] <= '9') {
        status = status * 10 + (data[i] - '0');
        i++;
        digits++;
    }
    return digits == 3 ? status : 0;
}

/* CURLOPT_HEADERFUNCTION: one complete header line per call, for every response (1xx included). */
static size_t on_curl_header(char *data, size_t size, size_t nitems, void *userp) {
    transfer *t = userp;
    size_t len = size * nitems;
    if (t->head_delivered) return len; /* trailers of a chunked body: not part of the head */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response begins: forget whatever an interim response left. */
        t->head_len = 0;
        t->head_status = parse_status_line(data, len);
        return len;
    }
    if ((len == 2 && data[0] == '\r' && data[1] == '\n') || (len == 1 && data[0] == '\n')) {
        if (t->head_status >= 100 && t->head_status < 200) {
            /* The end of 100 Continue, 103 Early Hints, ...: the final response follows. */
            t->head_len = 0;
            t->head_status = 0;
            return len;
        }
        return deliver_head(t) == 0 ? len : CURL_WRITEFUNC_ERROR;
    }
    if (append_head(t, data, len) != 0) {
        t->stopped_too_large = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    return len;
}

/* CURLOPT_WRITEFUNCTION: the body, piece by piece. */
static size_t on_curl_write(char *data, size_t size, size_t nmemb, void *userp) {
    transfer *t = userp;
    size_t len = size * nmemb;
    if (deliver_head(t) != 0) return CURL_WRITEFUNC_ERROR;
    if (len == 0) return 0;
    if (t->max_body_bytes != 0 && (t->body_bytes + len > t->max_body_bytes || t->body_bytes + len < t->body_bytes)) {
        t->stopped_too_large = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    t->body_bytes += len;
    if (t->cb != NULL && t->cb->on_body != NULL && t->cb->on_body(t->cb->ctx, (const uint8_t *)data, len) != 0) {
        t->stopped_by_callback = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    return len;
}

/* CURLOPT_PREREQFUNCTION: connected, request not sent yet. */
static int on_curl_prereq(void *userp, char *primary_ip, char *local_ip, int primary_port, int local_port) {
    (void)local_ip;
    (void)local_port;
    transfer *t = userp;
    if (t->cb->check_address(t->cb->ctx, primary_ip != NULL ? primary_ip : "", (long)primary_port) != 0) {
        t->stopped_address = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static int is_cancelled(const lgpt_http_callbacks *cb) {
    return cb != NULL && cb->is_cancelled != NULL && cb->is_cancelled(cb->ctx) != 0;
}

/* ------------------------------------------------------------------------------------------------
 * URL helpers.
 * ---------------------------------------------------------------------------------------------- */

static CURLUcode parse_url(CURLU *u, const char *url) {
    return curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
}

int lgpt_http_url_parse(const char *url, lgpt_http_url_parts *out) {
    memset(out, 0, sizeof *out);
    if (ensure_global_init() != 0) return -1;
    CURLU *u = curl_url();
    if (u == NULL) return -1;
    int rc = -1;
    char *scheme = NULL, *host = NULL, *port = NULL;
    if (parse_url(u, url) != CURLUE_OK) goto done;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto done;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') goto done;
    if (strlen(scheme) >= sizeof out->scheme || strlen(host) >= sizeof out->host) goto done;
    copy_text(out->scheme, sizeof out->scheme, scheme);
    for (char *c = out->scheme; *c != '\0'; c++) {
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    }
    copy_text(out->host, sizeof out->host, host);
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK) {
        out->port_is_explicit = 1;
        out->port = strtol(port, NULL, 10);
    } else {
        curl_free(port);
        port = NULL;
        if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) out->port = strtol(port, NULL, 10);
    }
    rc = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    if (rc != 0) memset(out, 0, sizeof *out);
    return rc;
}

int lgpt_http_resolve_url(const char *base, const char *ref, char **out, char *error, size_t error_size) {
    *out = NULL;
    const char *why = NULL;
    CURLU *u = NULL;
    if (ensure_global_init() != 0) {
        why = global_error;
    } else if ((u = curl_url()) == NULL) {
        why = "out of memory";
    } else {
        CURLUcode uc = parse_url(u, base);
        if (uc != CURLUE_OK) {
            why = curl_url_strerror(uc);
        } else {
            /* The flags curl itself uses when it follows a Location. */
            uc = curl_url_set(u, CURLUPART_URL, ref, CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE | CURLU_ALLOW_SPACE);
            if (uc == CURLUE_OK) uc = curl_url_get(u, CURLUPART_URL, out, 0);
            if (uc != CURLUE_OK) {
                why = curl_url_strerror(uc);
                curl_free(*out);
                *out = NULL;
            }
        }
        curl_url_cleanup(u);
    }
    if (why != NULL && error != NULL) copy_text(error, error_size, why);
    return why == NULL ? 0 : -1;
}

void lgpt_http_free(char *string) {
    /* A non-NULL string came from libcurl, so the library is loaded. */
    if (string != NULL) curl_free(string);
}

/* ------------------------------------------------------------------------------------------------
 * lgpt_http_perform
 * ---------------------------------------------------------------------------------------------- */

/* Checks what curl would not check (or check too late) and parses the URL into u. */
static int validate(const lgpt_http_request *req, CURLU *u, lgpt_http_result *out) {
    if (!is_token(req->method, strlen(req->method))) {
        set_error(out, LGPT_HTTP_ERR_INVALID_REQUEST, "invalid HTTP method");
        return -1;
    }
    if (strcmp(req->method, "HEAD") == 0 && req->body_len > 0) {
        set_error(out, LGPT_HTTP_ERR_INVALID_REQUEST, "a HEAD request cannot have a body");
        return -1;
    }
    if (req->header_count > 0 && req->headers == NULL) {
        set_error(out, LGPT_HTTP_ERR_INVALID_REQUEST, "header_count > 0 but no headers");
        return -1;
    }
    for (size_t i = 0; i < req->header_count; i++) {
        /* The message names the position, never the content: header values may be secrets. */
        if (req->headers[i] == NULL || !is_valid_header_line(req->headers[i])) {
            set_error(out, LGPT_HTTP_ERR_INVALID_REQUEST, "malformed header line #%zu", i + 1);
            return -1;
        }
    }
    if (req->body_len > 0 && req->body == NULL) {
        set_error(out, LGPT_HTTP_ERR_INVALID_REQUEST, "body_len > 0 but no body");
        return -1;
    }
    CURLUcode uc = parse_url(u, req->url);
    if (uc != CURLUE_OK) {
        set_error(out, LGPT_HTTP_ERR_INVALID_URL, "invalid URL: %s", curl_url_strerror(uc));
        return -1;
    }
    char *scheme = NULL;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        set_error(out, LGPT_HTTP_ERR_INVALID_URL, "invalid URL: no scheme");
        return -1;
    }
    int supported = strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0;
    if (!supported) {
        set_error(out, LGPT_HTTP_ERR_UNSUPPORTED_SCHEME, "unsupported URL scheme \"%.20s\" (only http and https)",
                  scheme);
    }
    curl_free(scheme);
    if (!supported) return -1;
    char *host = NULL;
    uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    int has_host = uc == CURLUE_OK && host != NULL && host[0] != '\0';
    curl_free(host);
    if (!has_host) {
        set_error(out, LGPT_HTTP_ERR_INVALID_URL, "invalid URL: no host");
        return -1;
    }
    return 0;
}

#define SETOPT(easy, option, value)                                                                                    \
    do {                                                                                                               \
        CURLcode setopt_code = curl_easy_setopt((easy), (option), (value));                                            \
        if (setopt_code != CURLE_OK) {                                                                                 \
            set_error(out, LGPT_HTTP_ERR_OTHER, "cannot set %s: %s", #option, curl_easy_strerror(setopt_code));        \
            out->curl_code = (int)setopt_code;                                                                         \
            goto cleanup;                                                                                              \
        }                                                                                                              \
    } while (0)

lgpt_http_error_kind lgpt_http_perform(const lgpt_http_request *req, const lgpt_http_callbacks *cb,
                                       lgpt_http_result *out) {
    memset(out, 0, sizeof *out);
    out->kind = LGPT_HTTP_OK;

    transfer t;
    memset(&t, 0, sizeof t);
    t.cb = cb;
    t.max_body_bytes = req->max_body_bytes;

    CURLU *url = NULL;
    CURLM *multi = NULL;
    struct curl_slist *headers = NULL;
    int added = 0;

    if (ensure_global_init() != 0) {
        set_error(out, LGPT_HTTP_ERR_OTHER, "%s", global_error);
        return out->kind;
    }
    url = curl_url();
    if (url == NULL) {
        set_error(out, LGPT_HTTP_ERR_OTHER, "out of memory");
        return out->kind;
    }
    if (validate(req, url, out) != 0) goto cleanup;

    t.easy = curl_easy_init();
    multi = curl_multi_init();
    if (t.easy == NULL || multi == NULL) {
        set_error(out, LGPT_HTTP_ERR_OTHER, "cannot create a curl handle");
        goto cleanup;
    }

    for (size_t i = 0; i < req->header_count; i++) {
        struct curl_slist *next = curl_slist_append(headers, req->headers[i]);
        if (next == NULL) {
            set_error(out, LGPT_HTTP_ERR_OTHER, "out of memory");
            goto cleanup;
        }
        headers = next;
    }
    int is_head = strcmp(req->method, "HEAD") == 0;
    int is_get = strcmp(req->method, "GET") == 0;
    int is_post = strcmp(req->method, "POST") == 0;
    int sends_body = !is_head && (req->body_len > 0 || is_post || strcmp(req->method, "PUT") == 0 ||
                                  strcmp(req->method, "PATCH") == 0);
    const char *suppressed[2] = {NULL, NULL};
    if (!has_header(req, "Expect")) suppressed[0] = "Expect:";
    if (sends_body && !has_header(req, "Content-Type")) suppressed[1] = "Content-Type:";
    for (size_t i = 0; i < 2; i++) {
        if (suppressed[i] == NULL) continue;
        struct curl_slist *next = curl_slist_append(headers, suppressed[i]);
        if (next == NULL) {
            set_error(out, LGPT_HTTP_ERR_OTHER, "out of memory");
            goto cleanup;
        }
        headers = next;
    }

    CURL *easy = t.easy;
    SETOPT(easy, CURLOPT_ERRORBUFFER, out->error);
    SETOPT(easy, CURLOPT_CURLU, url);
    SETOPT(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(easy, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
    SETOPT(easy, CURLOPT_PROXY, "");
    SETOPT(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(easy, CURLOPT_NOPROGRESS, 1L);
    SETOPT(easy, CURLOPT_HEADERFUNCTION, on_curl_header);
    SETOPT(easy, CURLOPT_HEADERDATA, &t);
    SETOPT(easy, CURLOPT_WRITEFUNCTION, on_curl_write);
    SETOPT(easy, CURLOPT_WRITEDATA, &t);
    if (cb != NULL && cb->check_address != NULL) {
        SETOPT(easy, CURLOPT_PREREQFUNCTION, on_curl_prereq);
        SETOPT(easy, CURLOPT_PREREQDATA, &t);
    }
    if (req->timeout_ms > 0) SETOPT(easy, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    if (req->connect_timeout_ms > 0) SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
    if (req->max_body_bytes > 0 && req->max_body_bytes <= (uint64_t)INT64_MAX) {
        SETOPT(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body_bytes);
    }
    if (headers != NULL) SETOPT(easy, CURLOPT_HTTPHEADER, headers);
    if (is_head) {
        SETOPT(easy, CURLOPT_NOBODY, 1L);
    } else if (sends_body) {
        SETOPT(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(easy, CURLOPT_POSTFIELDS, req->body_len > 0 ? (const char *)req->body : "");
        if (!is_post) SETOPT(easy, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (is_get) {
        SETOPT(easy, CURLOPT_HTTPGET, 1L);
    } else {
        SETOPT(easy, CURLOPT_CUSTOMREQUEST, req->method);
    }

    if (is_cancelled(cb)) {
        t.stopped_by_callback = 1;
        set_error(out, LGPT_HTTP_ERR_ABORTED, "cancelled");
        goto cleanup;
    }
    if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
        set_error(out, LGPT_HTTP_ERR_OTHER, "cannot start the transfer");
        goto cleanup;
    }
    added = 1;

    CURLcode code = CURLE_OK;
    int done = 0;
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            set_error(out, LGPT_HTTP_ERR_OTHER, "curl_multi_perform: %s", curl_multi_strerror(mc));
            goto cleanup;
        }
        int queued = 0;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(multi, &queued)) != NULL) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
                code = msg->data.result;
                done = 1;
            }
        }
        if (done || running == 0) break;
        if (is_cancelled(cb)) {
            t.stopped_by_callback = 1;
            set_error(out, LGPT_HTTP_ERR_ABORTED, "cancelled");
            goto cleanup;
        }
        mc = curl_multi_poll(multi, NULL, 0, LGPT_HTTP_POLL_MS, NULL);
        if (mc != CURLM_OK) {
            set_error(out, LGPT_HTTP_ERR_OTHER, "curl_multi_poll: %s", curl_multi_strerror(mc));
            goto cleanup;
        }
    }

    out->curl_code = (int)code;
    if (code == CURLE_OK) {
        /* Every HTTP response has a head; make sure on_head ran even if curl never showed its end. */
        if (deliver_head(&t) != 0) {
            set_error(out, LGPT_HTTP_ERR_ABORTED, "stopped by the head callback");
        } else {
            out->kind = LGPT_HTTP_OK;
            out->error[0] = '\0';
        }
    } else if (t.stopped_address) {
        set_error(out, LGPT_HTTP_ERR_ADDRESS_REFUSED, "connection to %s refused by the address policy",
                  primary_ip_of(easy, NULL));
    } else if (t.stopped_too_large || code == CURLE_FILESIZE_EXCEEDED) {
        if (t.head_delivered || code == CURLE_FILESIZE_EXCEEDED) {
            set_error(out, LGPT_HTTP_ERR_TOO_LARGE, "the response body exceeds %llu bytes",
                      (unsigned long long)req->max_body_bytes);
        } else {
            set_error(out, LGPT_HTTP_ERR_TOO_LARGE, "the response head is too large");
        }
    } else if (t.stopped_by_callback) {
        set_error(out, LGPT_HTTP_ERR_ABORTED, "stopped by a callback");
    } else {
        out->kind = kind_for_code(code);
        if (out->error[0] == '\0') copy_text(out->error, sizeof out->error, curl_easy_strerror(code));
    }

cleanup:
    if (t.easy != NULL) {
        /* Valid even after a failure: whatever curl got to. */
        long status = 0;
        if (curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK) out->status = status;
        if (out->status == 0 && t.head_delivered) out->status = t.head_status;
        copy_text(out->primary_ip, sizeof out->primary_ip, primary_ip_of(t.easy, &out->primary_port));
        /* The error buffer is out->error itself; detach it before curl could write to it again. */
        curl_easy_setopt(t.easy, CURLOPT_ERRORBUFFER, NULL);
    }
    out->body_bytes = t.body_bytes;
    if (added) curl_multi_remove_handle(multi, t.easy);
    if (t.easy != NULL) curl_easy_cleanup(t.easy);
    if (multi != NULL) curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    curl_url_cleanup(url);
    free(t.head);
    return out->kind;
}
