/*
 * lgpt_http.h -- the host's HTTP client: libcurl behind small, non-variadic C functions.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Apache License 2.0.
 *
 * curl_easy_setopt() is variadic and cannot be called from Swift, so this target wraps one whole
 * HTTP exchange in lgpt_http_perform(). The Swift API on top is LocalGPTCore's HTTPClient, which
 * also follows redirects: this layer never does (one call = one request = one response).
 *
 * Policy fixed here, for every request:
 *  - only http:// and https:// URLs (other schemes fail before any network activity);
 *  - no redirects followed inside curl: a 3xx is returned like any other status;
 *  - no proxy (the environment's http_proxy & co. are ignored), so the address reported in the
 *    result is the address of the server that answered;
 *  - TLS peer and host verification stay on (curl's defaults);
 *  - no signals (CURLOPT_NOSIGNAL): safe to call from any thread, concurrently, one call per
 *    thread at a time; calls share nothing but curl's global state, initialised once.
 *
 * MEMORY: every pointer a caller passes is BORROWED for the duration of the call and never kept.
 * Every pointer a callback receives is borrowed for the duration of that callback: copy what you
 * need to keep. The only memory this API hands over is the string lgpt_http_resolve_url() returns,
 * which the caller releases with lgpt_http_free().
 */
#ifndef LGPT_HTTP_H
#define LGPT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__clang__)
#define LGPT_HTTP_NONNULL _Nonnull
#define LGPT_HTTP_NULLABLE _Nullable
#else
#define LGPT_HTTP_NONNULL
#define LGPT_HTTP_NULLABLE
#endif

/* Size of lgpt_http_result.error; at least curl's CURL_ERROR_SIZE (checked in http.c). */
#define LGPT_HTTP_ERROR_SIZE 256
/* Size of lgpt_http_result.primary_ip and lgpt_http_head.primary_ip: an IPv6 text address fits. */
#define LGPT_HTTP_IP_SIZE 64
/* Sizes of the fields of lgpt_http_url_parts. */
#define LGPT_HTTP_SCHEME_SIZE 32
#define LGPT_HTTP_HOST_SIZE 256

/* Why a call failed. Stable numbers: new kinds may be appended; treat unknown ones as OTHER. */
typedef enum lgpt_http_error_kind {
    LGPT_HTTP_OK = 0,
    LGPT_HTTP_ERR_INVALID_URL = 1,        /* the URL does not parse, or has no host              */
    LGPT_HTTP_ERR_UNSUPPORTED_SCHEME = 2, /* a scheme other than http or https                   */
    LGPT_HTTP_ERR_INVALID_REQUEST = 3,    /* a malformed method or header line                   */
    LGPT_HTTP_ERR_DNS = 4,                /* the host name did not resolve                       */
    LGPT_HTTP_ERR_CONNECT = 5,            /* no TCP connection (refused, unreachable)            */
    LGPT_HTTP_ERR_TLS = 6,                /* handshake or certificate verification failed        */
    LGPT_HTTP_ERR_TIMEOUT = 7,            /* timeout_ms or connect_timeout_ms passed             */
    LGPT_HTTP_ERR_ABORTED = 8,            /* on_head, on_body or is_cancelled asked to stop      */
    LGPT_HTTP_ERR_TOO_LARGE = 9,          /* the body exceeded max_body_bytes, or huge headers   */
    LGPT_HTTP_ERR_ADDRESS_REFUSED = 10,   /* check_address refused the connected address         */
    LGPT_HTTP_ERR_OTHER = 11              /* anything else (connection reset, bad response, ...) */
} lgpt_http_error_kind;

/*
 * One HTTP request. Owned by the caller; borrowed by lgpt_http_perform() for the call only.
 */
typedef struct lgpt_http_request {
    /* An HTTP method token, case-sensitive: "GET", "POST", "HEAD", "PUT", ... NUL-terminated. */
    const char *LGPT_HTTP_NONNULL method;
    /* An absolute http:// or https:// URL. NUL-terminated. */
    const char *LGPT_HTTP_NONNULL url;
    /* header_count NUL-terminated lines "Name: value", without CR or LF. curl's conventions apply:
     * "Name:" (nothing after the colon) removes a header curl would send by itself, and "Name;"
     * sends a header with an empty value. May be NULL when header_count is 0. Unless the caller
     * sends its own, "Expect:" is suppressed and, for requests with a body, so is curl's default
     * "Content-Type: application/x-www-form-urlencoded". */
    const char *LGPT_HTTP_NONNULL const *LGPT_HTTP_NULLABLE headers;
    size_t header_count;
    /* The request body, body_len bytes (binary-safe). May be NULL when body_len is 0. A body is sent
     * (with Content-Length) when body_len > 0 and for POST, PUT and PATCH; never for HEAD. */
    const uint8_t *LGPT_HTTP_NULLABLE body;
    size_t body_len;
    /* Limit on the whole exchange, in milliseconds; 0 = none. */
    int64_t timeout_ms;
    /* Limit on name resolution plus TCP and TLS connection, in milliseconds; 0 = curl's default. */
    int64_t connect_timeout_ms;
    /* Limit on the response body, in bytes; 0 = none. Exceeding it fails with TOO_LARGE. */
    uint64_t max_body_bytes;
} lgpt_http_request;

/*
 * The head of the final response, passed to on_head. Every pointer is borrowed for the duration of
 * the callback.
 */
typedef struct lgpt_http_head {
    /* The status code, e.g. 200. Never 1xx: interim responses (100 Continue, 103 Early Hints) are
     * discarded. */
    long status;
    /* The header lines of the final response as received, each ending in "\r\n", without the status
     * line and without the empty line that ends the head. Not NUL-terminated; headers_len bytes. */
    const char *LGPT_HTTP_NONNULL headers;
    size_t headers_len;
    /* The IP address connected to, as text ("127.0.0.1", "::1"); NUL-terminated. */
    const char *LGPT_HTTP_NONNULL primary_ip;
    long primary_port;
} lgpt_http_head;

/*
 * What lgpt_http_perform() calls back, always on the calling thread, before it returns. Every
 * callback may be NULL. ctx is the caller's and is passed back unchanged. Every callback returns 0 to
 * proceed and non-zero to stop the transfer, which then fails with the kind given below.
 */
typedef struct lgpt_http_callbacks {
    void *LGPT_HTTP_NULLABLE ctx;
    /* Called at most once per request, for the final response, after its last header line and
     * before the first body byte (also when there is no body). Stop -> ABORTED. */
    int (*LGPT_HTTP_NULLABLE on_head)(void *LGPT_HTTP_NULLABLE ctx, const lgpt_http_head *LGPT_HTTP_NONNULL head);
    /* Called for each piece of the body as it arrives (decoded from chunked transfer coding, but
     * not decompressed), len > 0. Stop -> ABORTED. */
    int (*LGPT_HTTP_NULLABLE on_body)(void *LGPT_HTTP_NULLABLE ctx, const uint8_t *LGPT_HTTP_NONNULL bytes, size_t len);
    /* Polled before the transfer starts and then at least every 100 ms until it ends. Non-zero
     * means "cancelled" -> ABORTED. */
    int (*LGPT_HTTP_NULLABLE is_cancelled)(void *LGPT_HTTP_NULLABLE ctx);
    /* Called once the connection is established (TCP, and TLS for https), before the request is
     * sent, with the peer's IP address (NUL-terminated text, borrowed) and port. Stop ->
     * ADDRESS_REFUSED: not one byte of the request has been sent. The hook against server-side
     * request forgery: refuse private addresses AFTER name resolution. */
    int (*LGPT_HTTP_NULLABLE check_address)(void *LGPT_HTTP_NULLABLE ctx, const char *LGPT_HTTP_NONNULL ip, long port);
} lgpt_http_callbacks;

/*
 * The outcome of lgpt_http_perform(). Owned by the caller (typically on its stack); holds no
 * pointers, so there is nothing to free.
 */
typedef struct lgpt_http_result {
    lgpt_http_error_kind kind;
    /* The raw CURLcode, for diagnostics only (0 when the failure happened before curl ran). */
    int curl_code;
    /* The status of the final response, 0 if none was received. Valid even when kind != OK. */
    long status;
    /* Bytes passed to on_body. */
    uint64_t body_bytes;
    /* NUL-terminated: "" when kind == OK, otherwise why, in English. Never contains the request's
     * header values or body. */
    char error[LGPT_HTTP_ERROR_SIZE];
    /* NUL-terminated: the IP address connected to, "" if no connection was made. */
    char primary_ip[LGPT_HTTP_IP_SIZE];
    long primary_port;
} lgpt_http_result;

/*
 * libcurl is loaded with dlopen() on the first call of any function below, not linked. Returns NULL
 * when it is loaded and initialised, otherwise a NUL-terminated message saying why not (for example
 * that libcurl.so.4 is not installed); the message is static. Thread-safe; loads at most once.
 * lgpt_http_perform() reports the same message in its result, and lgpt_http_url_parse() fails.
 */
const char *LGPT_HTTP_NULLABLE lgpt_http_library_error(void);

/*
 * Performs one HTTP request and blocks until it is complete, failed or stopped. Does not follow
 * redirects. A response with any status (404, 500, 302, ...) is a success (kind OK).
 * req, cb and out are borrowed for the call; cb may be NULL (no callbacks). Fills *out completely
 * and also returns out->kind. Thread-safe; callbacks run on the calling thread.
 */
lgpt_http_error_kind lgpt_http_perform(const lgpt_http_request *LGPT_HTTP_NONNULL req,
                                       const lgpt_http_callbacks *LGPT_HTTP_NULLABLE cb,
                                       lgpt_http_result *LGPT_HTTP_NONNULL out);

/*
 * Resolves a redirect target: ref (a Location header value, absolute or relative) against base (an
 * absolute URL), the way curl would follow it. Both are borrowed and NUL-terminated. On success
 * returns 0 and stores in *out a NUL-terminated absolute URL that the CALLER OWNS and must release
 * with lgpt_http_free(). On failure returns -1, stores NULL in *out and, when error is not NULL,
 * writes a NUL-terminated reason into error (error_size bytes, truncated). The scheme of the result is
 * not checked: lgpt_http_perform() refuses non-HTTP ones.
 */
int lgpt_http_resolve_url(const char *LGPT_HTTP_NONNULL base, const char *LGPT_HTTP_NONNULL ref,
                          char *LGPT_HTTP_NULLABLE *LGPT_HTTP_NONNULL out, char *LGPT_HTTP_NULLABLE error,
                          size_t error_size);

/* Releases a string returned by lgpt_http_resolve_url(). NULL is ignored. */
void lgpt_http_free(char *LGPT_HTTP_NULLABLE string);

/*
 * The origin of an absolute URL, as curl parses it. Owned by the caller; holds no pointers.
 */
typedef struct lgpt_http_url_parts {
    char scheme[LGPT_HTTP_SCHEME_SIZE]; /* lower-case, NUL-terminated: "https"                     */
    char host[LGPT_HTTP_HOST_SIZE];     /* NUL-terminated; IPv6 literals in brackets: "[::1]"      */
    long port;                          /* explicit, or the scheme's default (80, 443); 0 unknown  */
    int port_is_explicit;               /* 1 when the URL spells the port out                     */
} lgpt_http_url_parts;

/*
 * Parses url (borrowed, NUL-terminated; any scheme) and fills *out. Returns 0 on success, -1 when
 * url does not parse, has no host, or its scheme or host does not fit the fixed buffers; *out is
 * then zeroed. For error messages and same-origin checks; never touches the network.
 */
int lgpt_http_url_parse(const char *LGPT_HTTP_NONNULL url, lgpt_http_url_parts *LGPT_HTTP_NONNULL out);

#ifdef __cplusplus
}
#endif

#endif /* LGPT_HTTP_H */
