/*
 * lgpt_plugin.h -- the LocalGPT plugin ABI, version 1.
 *
 * Copyright (c) 2026 the LocalGPT for Swift authors. Licensed under the Apache License 2.0 or the MIT
 * license, at your option: plugin authors may copy this header into their own projects.
 *
 * This header is the whole contract between the LocalGPT host and a plugin. It is normative; the
 * prose version with examples is docs/PLUGIN-ABI.md. A plugin is a shared library that exports
 * exactly ONE function symbol:
 *
 *     const lgpt_plugin_v1 *lgpt_plugin_entry_v1(uint32_t host_abi_major, uint32_t host_abi_minor);
 *
 * and ships a sidecar `plugin.json` next to it (the manifest plus the library's sha256). The host
 * reads and checks the sidecar BEFORE it loads the library, because loading runs code.
 *
 * RULES (normative)
 *  R1  Every struct begins with `uint32_t struct_size`, the size the WRITER of the struct compiled
 *      with. Fields are only ever appended (a minor version bump). A reader never touches a field
 *      whose end lies beyond the struct_size the writer declared. The host refuses a plugin
 *      descriptor smaller than LGPT_PLUGIN_V1_MIN_SIZE.
 *  R2  A major bump renames the entry symbol (lgpt_plugin_entry_v2). A library may export several
 *      entry symbols during a transition. The entry function returns NULL to refuse a host whose
 *      major it does not serve. It must be cheap and free of side effects: no threads, no I/O, no
 *      host calls. It may be called more than once and must return the same descriptor each time.
 *  R3  Strings and bytes passed as arguments are BORROWED: valid only until the callee returns.
 *      Every (ptr, len) pair is UTF-8 unless documented otherwise. Strings the host passes are
 *      additionally NUL-terminated (ptr[len] == 0); strings a plugin passes need not be.
 *  R4  Nothing allocated on one side is freed on the other. Results travel through an lgpt_sink
 *      that the RECEIVER supplies: the producer calls sink->write() zero or more times and the
 *      receiver copies the bytes before write() returns. For tools, writes are concatenated into
 *      one JSON document; for provider streaming, each write is exactly one complete JSON event.
 *  R5  Static descriptor data (the lgpt_plugin_v1 struct, id, version, manifest_json) stays valid
 *      for as long as the library is loaded. The host never unloads a plugin (no dlclose), so
 *      that is the life of the process.
 *  R6  Threads. invoke() and generate() may be called concurrently from several host threads,
 *      unless the manifest says "concurrency": "serial", in which case the host never overlaps two
 *      calls into that plugin. create() and destroy() are called once each, never concurrently
 *      with anything else of that plugin. Host functions are thread-safe and re-entrant; they may
 *      be called from any thread, but only while a call that received the lgpt_call is still
 *      running (never after it returned), except log(), config_get() and secret_get(), which may be
 *      called at any time between create() and destroy(). Neither side may hold a
 *      non-recursive lock across a call into the other side (sinks are re-entrant: a provider
 *      writes events from inside the host's HTTP body sink).
 *  R7  No C++ exceptions, Rust panics, Swift errors or longjmp may cross the boundary. Failure is an
 *      lgpt_status, plus an optional error document written to the out sink:
 *          {"error": {"code": "invalid_argument", "message": "what went wrong"}}
 *      A plugin that crashes takes the host process down with it: plugins run in-process.
 *  R8  Cancellation is cooperative. A sink write that returns a non-OK status (normally
 *      LGPT_ERR_CANCELLED) means "stop": the producer stops writing and returns that status.
 *      Long-running plugin code polls host->is_cancelled(host_ctx, call) between slow steps.
 *      lgpt_call.deadline_ms is advisory.
 *  R9  Optional features are looked up by versioned string id, "lgpt.<name>/<rev>" for the host's
 *      own and "<reverse-dns>.<name>/<rev>" for third parties. get_extension returns NULL when the
 *      feature is absent; the returned table's first field is its own uint32_t struct_size.
 *
 * THREAD ANNOTATIONS used below: [any-thread] may be called from any thread, concurrently;
 * [once] is called exactly once and never concurrently with another call into the same plugin.
 */
#ifndef LGPT_PLUGIN_H
#define LGPT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define LGPT_EXPORT __declspec(dllexport)
#else
#define LGPT_EXPORT __attribute__((visibility("default")))
#endif

#if defined(__clang__)
#define LGPT_NONNULL _Nonnull
#define LGPT_NULLABLE _Nullable
#else
#define LGPT_NONNULL
#define LGPT_NULLABLE
#endif

/* The ABI version. It is independent of the host application's version. */
#define LGPT_ABI_MAJOR 1
#define LGPT_ABI_MINOR 0
#define LGPT_ENTRY_SYMBOL_V1 "lgpt_plugin_entry_v1"

/* ---------------------------------------------------------------------------------------------
 * Status codes. Zero is success, negative is failure. New codes may be added in a minor version;
 * treat an unknown negative code as LGPT_ERR_UNKNOWN.
 * ------------------------------------------------------------------------------------------- */
typedef int32_t lgpt_status;
#define LGPT_OK 0
#define LGPT_ERR_UNKNOWN -1
#define LGPT_ERR_INVALID_ARGUMENT -2 /* malformed JSON, schema violation, bad request        */
#define LGPT_ERR_NOT_FOUND -3        /* unknown tool, model, config key or secret             */
#define LGPT_ERR_PERMISSION_DENIED -4 /* the host refused: not declared or not granted         */
#define LGPT_ERR_CANCELLED -5        /* the caller cancelled, or a sink asked to stop          */
#define LGPT_ERR_TIMEOUT -6          /* a deadline or a process timeout passed                */
#define LGPT_ERR_UNSUPPORTED -7      /* the service or operation does not exist (yet)         */
#define LGPT_ERR_ABI_MISMATCH -8     /* a struct too small, an unknown major                  */
#define LGPT_ERR_IO -9               /* network or process failure                            */
#define LGPT_ERR_RATE_LIMITED -10    /* the remote service asked to slow down                 */
#define LGPT_ERR_INTERNAL -11        /* a bug inside the callee                               */

/* What a plugin provides: a bit set in lgpt_plugin_v1.kinds. */
#define LGPT_KIND_PROVIDER 0x1u
#define LGPT_KIND_TOOL 0x2u
#define LGPT_KIND_SKILL 0x4u

/* Log levels for lgpt_host_v1.log. */
#define LGPT_LOG_DEBUG 0
#define LGPT_LOG_INFO 1
#define LGPT_LOG_WARN 2
#define LGPT_LOG_ERROR 3

/* ---------------------------------------------------------------------------------------------
 * lgpt_sink: where output goes (R4). The RECEIVER owns the sink and its ctx, and copies the bytes
 * before write() returns. write() returns LGPT_OK to continue, or a negative status (normally
 * LGPT_ERR_CANCELLED) to ask the producer to stop and return that status.
 * [any-thread] but a single sink is never written from two threads at once by a correct producer.
 * ------------------------------------------------------------------------------------------- */
typedef struct lgpt_sink {
    uint32_t struct_size; /* sizeof(lgpt_sink) as the receiver compiled it */
    uint32_t flags;       /* reserved, 0 */
    void *LGPT_NULLABLE ctx;
    lgpt_status (*LGPT_NONNULL write)(void *LGPT_NULLABLE ctx, const char *LGPT_NULLABLE bytes, size_t len);
} lgpt_sink;

/* ---------------------------------------------------------------------------------------------
 * lgpt_call: the context of one invoke() or generate(). Owned by the host, borrowed by the plugin
 * for the duration of the call; pass it back to host functions that take one.
 * ------------------------------------------------------------------------------------------- */
typedef struct lgpt_call {
    uint32_t struct_size;
    uint32_t flags;                     /* reserved, 0 */
    uint64_t call_id;                   /* unique within the host process; the cancellation key */
    int64_t deadline_ms;                /* CLOCK_MONOTONIC milliseconds, 0 = none; advisory (R8) */
    const char *LGPT_NONNULL trace_id;  /* NUL-terminated, may be "" */
} lgpt_call;

/* ---------------------------------------------------------------------------------------------
 * lgpt_host_v1: the services the host offers. There is ONE table per loaded plugin; host_ctx
 * identifies that plugin, and every service call is checked against the permissions granted to
 * it (declared in its manifest AND granted by the user). A refused call returns
 * LGPT_ERR_PERMISSION_DENIED, writes an error document to the out sink when there is one, and is
 * logged by the host. The table stays valid from create() until destroy() returns.
 * ------------------------------------------------------------------------------------------- */
typedef struct lgpt_host_v1 {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t flags;                          /* reserved, 0 */
    void *LGPT_NONNULL host_ctx;             /* opaque; pass it back unchanged */
    const char *LGPT_NONNULL host_name;      /* "localgpt-swift" */
    const char *LGPT_NONNULL host_version;   /* the host application's semver */

    /* Writes one message to the host's log, tagged with the plugin id. [any-thread] */
    void (*LGPT_NONNULL log)(void *LGPT_NONNULL host_ctx, int32_t level, const char *LGPT_NULLABLE msg,
                             size_t len);

    /* Runs a process. This is the ONLY way a plugin may start one; the host runs it inside the
     * shell sandbox. req: {"argv": ["git", "status"], "cwd": "relative/or/absolute",
     * "stdin": "...", "timeout_ms": 30000, "env": {"NAME": "value"}}; or {"shell": "ls | wc -l"},
     * which runs /bin/bash -c and needs "bash" granted. argv[0] (a bare command name, looked up
     * on the host's PATH) must be granted in permissions.exec.commands.
     * out receives one JSON object: {"exit_code": 0, "signal": 0, "stdout": "...",
     * "stderr": "...", "stdout_truncated": false, "stderr_truncated": false,
     * "stdout_bytes": 12, "stderr_bytes": 0, "timed_out": false, "duration_ms": 4}.
     * A non-zero exit is a result (LGPT_OK), not an error. [any-thread, during a call] */
    lgpt_status (*LGPT_NONNULL exec)(void *LGPT_NONNULL host_ctx, const lgpt_call *LGPT_NONNULL call,
                                     const char *LGPT_NONNULL req_json, size_t req_len,
                                     const lgpt_sink *LGPT_NONNULL out);

    /* HTTP(S) through the host. req: {"method": "POST", "url": "https://host/path",
     * "headers": {"Name": "value"}, "body": "...", "timeout_ms": 60000}. The URL's host:port must
     * be granted in permissions.net.hosts ("api.example.com" allows ports 80 and 443 only,
     * "host:8080" that port). head receives ONE JSON object {"status": 200, "headers":
     * {"content-type": "..."}} before the first body byte; body receives the raw bytes as they
     * arrive (SSE, NDJSON). A status >= 400 is a result, not an error. A sink that returns non-OK
     * aborts the transfer. Every redirect target is checked against the grant too. When the call
     * fails before a response arrives, head receives an error document instead (R7).
     * [any-thread, during a call] */
    lgpt_status (*LGPT_NONNULL http)(void *LGPT_NONNULL host_ctx, const lgpt_call *LGPT_NONNULL call,
                                     const char *LGPT_NONNULL req_json, size_t req_len,
                                     const lgpt_sink *LGPT_NONNULL head, const lgpt_sink *LGPT_NONNULL body);

    /* Memory: query {"query": "...", "limit": 5} -> out {"results": [...]}; append
     * {"text": "...", "file": "memory/..."}. Need permissions.memory. May return
     * LGPT_ERR_UNSUPPORTED on a host without a memory service. [any-thread, during a call] */
    lgpt_status (*LGPT_NONNULL memory_search)(void *LGPT_NONNULL host_ctx, const lgpt_call *LGPT_NONNULL call,
                                              const char *LGPT_NONNULL query_json, size_t len,
                                              const lgpt_sink *LGPT_NONNULL out);
    lgpt_status (*LGPT_NONNULL memory_append)(void *LGPT_NONNULL host_ctx, const lgpt_call *LGPT_NONNULL call,
                                              const char *LGPT_NONNULL entry_json, size_t len,
                                              const lgpt_sink *LGPT_NONNULL out);

    /* A config.toml value by dotted key ("weather.units"), written to out as JSON
     * ("metric", 3, true, {...}). The key, or a table containing it, must be granted in
     * permissions.config; keys under "secrets" are never readable this way (use secret_get).
     * LGPT_ERR_NOT_FOUND when absent. [any-thread] */
    lgpt_status (*LGPT_NONNULL config_get)(void *LGPT_NONNULL host_ctx, const char *LGPT_NONNULL key,
                                           size_t key_len, const lgpt_sink *LGPT_NONNULL out);

    /* A secret by name ("OPENAI_API_KEY"), written to out as raw bytes (not JSON). Looked up in
     * config.toml's [secrets] table, then in the host's environment. The name must be granted in
     * permissions.secrets. The host never logs the value. [any-thread] */
    lgpt_status (*LGPT_NONNULL secret_get)(void *LGPT_NONNULL host_ctx, const char *LGPT_NONNULL key,
                                           size_t key_len, const lgpt_sink *LGPT_NONNULL out);

    /* 1 when the host has cancelled this call, else 0. Cheap. [any-thread, during a call] */
    int32_t (*LGPT_NONNULL is_cancelled)(void *LGPT_NONNULL host_ctx, const lgpt_call *LGPT_NONNULL call);

    /* A versioned optional host feature (R9), or NULL. [any-thread] */
    const void *LGPT_NULLABLE (*LGPT_NONNULL get_extension)(void *LGPT_NONNULL host_ctx,
                                                           const char *LGPT_NONNULL ext_id);
} lgpt_host_v1;

/* ---------------------------------------------------------------------------------------------
 * Host extension "lgpt.host.local-model/1" (R9): model servers that the HOST runs on loopback.
 *
 * A provider plugin cannot keep a process running (exec() is blocking and sandboxed), so the host
 * does it: it starts llama.cpp's llama-server for a model installed in the models folder (see
 * docs/PROVIDERS.md), on a free 127.0.0.1 port, waits until GET /health answers 200, restarts it
 * when it has died, stops it (SIGTERM, then SIGKILL) when the host shuts down, and makes the
 * kernel kill it if the host process dies (PR_SET_PDEATHSIG). The plugin then speaks the
 * OpenAI protocol to base_url through host->http (its manifest must grant the loopback port,
 * e.g. "127.0.0.1:*"). Only a plugin whose manifest declares a provider with the capability
 * "local_model" gets the table; others get NULL.
 *
 * ensure: req {"model": "qwen2.5-coder-0.5b-instruct", "restart": false, "timeout_ms": 120000}.
 *   model is a file name stem in the models folder ([A-Za-z0-9._-], no path). "restart": true
 *   says the server stopped answering: the host checks it and restarts it when unhealthy.
 *   out receives {"base_url": "http://127.0.0.1:40123", "model": "...", "model_file": "/...gguf",
 *   "pid": 1234, "started": true, "startup_ms": 1800}. Errors (with an error document, R7):
 *   NOT_FOUND (model or llama-server not installed; the message says how to install them),
 *   IO (the server failed to start; the message carries the tail of its log), TIMEOUT,
 *   CANCELLED. Blocks until the server is ready. [any-thread, during a call]
 * status: req {} -> out {"server": "/path/llama-server" | null, "models_dir": "/path",
 *   "models": [{"name": "...", "file": "/...gguf", "bytes": 491400064, "running": true,
 *   "base_url": "http://127.0.0.1:40123"}]}. Never starts anything. [any-thread]
 * ------------------------------------------------------------------------------------------- */
#define LGPT_HOST_LOCAL_MODEL_V1 "lgpt.host.local-model/1"

typedef struct lgpt_host_local_model_v1 {
    uint32_t struct_size; /* sizeof(lgpt_host_local_model_v1) as the HOST compiled it */
    uint32_t flags;       /* reserved, 0 */
    lgpt_status (*LGPT_NONNULL ensure)(void *LGPT_NONNULL host_ctx, const lgpt_call *LGPT_NONNULL call,
                                       const char *LGPT_NONNULL req_json, size_t req_len,
                                       const lgpt_sink *LGPT_NONNULL out);
    lgpt_status (*LGPT_NONNULL status)(void *LGPT_NONNULL host_ctx, const char *LGPT_NONNULL req_json,
                                       size_t req_len, const lgpt_sink *LGPT_NONNULL out);
} lgpt_host_local_model_v1;

/* ---------------------------------------------------------------------------------------------
 * lgpt_plugin_v1: what a plugin exports, through lgpt_plugin_entry_v1. Static data (R5).
 * ------------------------------------------------------------------------------------------- */
typedef struct lgpt_plugin_v1 {
    uint32_t struct_size; /* sizeof(lgpt_plugin_v1) as the plugin compiled it */
    uint32_t abi_major;   /* LGPT_ABI_MAJOR the plugin was built for: must equal the host's */
    uint32_t abi_minor;   /* LGPT_ABI_MINOR the plugin was built for: may differ either way */
    uint32_t kinds;       /* LGPT_KIND_* bits; must match the manifest's "kinds" */
    const char *LGPT_NONNULL id;            /* reverse-DNS, e.g. "org.example.weather"; = manifest id */
    const char *LGPT_NONNULL version;       /* the plugin's own semver; = manifest version */
    const char *LGPT_NONNULL manifest_json; /* UTF-8 JSON, NUL-terminated; see docs/PLUGIN-ABI.md */

    /* Creates the plugin's instance. host stays valid until destroy() returns. Must not call
     * host services other than log(), config_get() and secret_get(). A non-OK status refuses the
     * load; the host reports it and goes on without this plugin. [once] */
    lgpt_status (*LGPT_NONNULL create)(const lgpt_host_v1 *LGPT_NONNULL host,
                                       void *LGPT_NULLABLE *LGPT_NONNULL out_instance);
    /* Releases the instance at host shutdown. May be NULL. [once] */
    void (*LGPT_NULLABLE destroy)(void *LGPT_NULLABLE instance);

    /* Runs a tool or a skill by its manifest name. args_json is a JSON object that the host has
     * already validated against the tool's "parameters" schema. The result (any JSON value,
     * normally an object) is written to out; on failure write an error document (R7).
     * NULL when the plugin has no tools. [any-thread unless "concurrency": "serial"] */
    lgpt_status (*LGPT_NULLABLE invoke)(void *LGPT_NULLABLE instance, const lgpt_call *LGPT_NONNULL call,
                                        const char *LGPT_NONNULL name, const char *LGPT_NONNULL args_json,
                                        size_t args_len, const lgpt_sink *LGPT_NONNULL out);

    /* Providers: generates a reply for request_json ({"model", "messages", "tools",
     * "max_tokens", "temperature", "stream"}; see docs/PLUGIN-ABI.md). Each events->write()
     * carries ONE complete JSON event: {"type": "delta", "text": "..."} |
     * {"type": "tool_call", "id": "...", "name": "...", "arguments": {...}} |
     * {"type": "done", "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 2}}
     * | {"type": "error", "code": "...", "message": "..."}.
     * NULL when the plugin has no providers. [any-thread unless "concurrency": "serial"] */
    lgpt_status (*LGPT_NULLABLE generate)(void *LGPT_NULLABLE instance, const lgpt_call *LGPT_NONNULL call,
                                          const char *LGPT_NONNULL request_json, size_t len,
                                          const lgpt_sink *LGPT_NONNULL events);

    /* A versioned optional plugin feature (R9), or NULL. May itself be NULL. [any-thread] */
    const void *LGPT_NULLABLE (*LGPT_NULLABLE get_extension)(void *LGPT_NULLABLE instance,
                                                            const char *LGPT_NONNULL ext_id);
} lgpt_plugin_v1;

/* The size of the v1.0 descriptor: the smallest struct_size a v1 host accepts. */
#define LGPT_PLUGIN_V1_MIN_SIZE (offsetof(lgpt_plugin_v1, get_extension) + sizeof(void *))

typedef const lgpt_plugin_v1 *LGPT_NULLABLE (*lgpt_plugin_entry_v1_fn)(uint32_t host_abi_major,
                                                                      uint32_t host_abi_minor);

/* The single exported symbol (R2). */
LGPT_EXPORT const lgpt_plugin_v1 *LGPT_NULLABLE lgpt_plugin_entry_v1(uint32_t host_abi_major,
                                                                    uint32_t host_abi_minor);

#ifdef __cplusplus
}
#endif

#endif /* LGPT_PLUGIN_H */
