/*
 * LocalGPT for Swift. Apache-2.0.
 *
 * The local sentence embedder: a BERT encoder (all-MiniLM-L6-v2 and models of the same shape) run on
 * OpenBLAS, reading fp32 weights from a safetensors file. Tokenization happens in the caller (the Swift
 * BertTokenizer); this API takes token ids and returns mean-pooled, L2-normalised vectors.
 *
 * Ownership and threading
 * - lgpt_embed_model_load() returns a model the caller owns and releases with lgpt_embed_model_free().
 *   The model keeps the weights file mapped (read-only, MAP_PRIVATE) until it is freed; do not truncate the
 *   file while a model is loaded.
 * - A loaded model is immutable. lgpt_embed_forward() may run on any number of threads at once with the
 *   same model: every call allocates its own scratch memory and frees it before returning. The model must
 *   not be freed while a call is running.
 * - Every pointer a function receives is borrowed for the duration of the call only.
 * - Errors: functions return an lgpt_embed_status. When `error` is not NULL and `error_capacity` > 0, a
 *   NUL-terminated English message (truncated to fit) is written there on failure. No function aborts,
 *   prints or reads outside the mapped file on bad input.
 */
#ifndef LGPT_EMBED_H
#define LGPT_EMBED_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__clang__)
#define _Nonnull
#define _Nullable
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__clang__)
#pragma clang assume_nonnull begin
#endif

/** Result of an lgpt_embed_ call. */
typedef enum lgpt_embed_status {
    LGPT_EMBED_OK = 0,
    /** The weights file cannot be opened, read or mapped (missing file, permissions), or OpenBLAS
     *  (libopenblas.so.0, opened on the first load) is not installed. */
    LGPT_EMBED_ERR_IO = 1,
    /** The file is not a valid safetensors file: too short, truncated, a malformed JSON header, tensor data
     *  out of bounds. */
    LGPT_EMBED_ERR_FORMAT = 2,
    /** A tensor the model needs is missing, or has the wrong dtype or shape. */
    LGPT_EMBED_ERR_TENSOR = 3,
    /** Bad arguments: no sequences, an empty or too long sequence, a token id out of range, an output buffer
     *  too small, heads that do not divide the hidden size. */
    LGPT_EMBED_ERR_ARGUMENT = 4,
    /** Memory allocation failed. */
    LGPT_EMBED_ERR_NOMEM = 5,
} lgpt_embed_status;

/** A loaded, immutable model. Opaque. */
typedef struct lgpt_embed_model lgpt_embed_model;

/** A message buffer of this size holds every message the library writes without truncation. */
#define LGPT_EMBED_ERROR_CAPACITY 512

/** The version of this C API (incremented on incompatible changes). */
int32_t lgpt_embed_version(void);

/**
 * Maps the safetensors file at `path` and validates it as a BERT encoder: `embeddings.*`, then
 * `encoder.layer.N.*` for N = 0, 1, ... (the number of layers is the number of consecutive layers found),
 * all F32, with shapes consistent with the word embedding's hidden size. Tensors the encoder does not use
 * (the pooler, `position_ids`) are ignored. `num_heads` must divide the hidden size. LayerNorm epsilon is
 * 1e-12 (BERT's).
 *
 * On success `*out_model` receives a model to release with lgpt_embed_model_free(); on failure it is set
 * to NULL and an error message is written to `error`.
 */
lgpt_embed_status lgpt_embed_model_load(
    const char *path,
    int32_t num_heads,
    lgpt_embed_model *_Nullable *_Nonnull out_model,
    char *_Nullable error,
    size_t error_capacity);

/** Releases a model (unmaps the file, frees the fused weights). NULL is accepted. */
void lgpt_embed_model_free(lgpt_embed_model *_Nullable model);

/** The hidden size, which is also the length of an output vector (384 for MiniLM-L6). */
int32_t lgpt_embed_model_dimensions(const lgpt_embed_model *model);

/** The number of position embeddings: the longest sequence lgpt_embed_forward() accepts (512). */
int32_t lgpt_embed_model_max_positions(const lgpt_embed_model *model);

/** The vocabulary size: token ids must be in [0, vocab_size). */
int32_t lgpt_embed_model_vocab_size(const lgpt_embed_model *model);

/** The number of encoder layers found in the file. */
int32_t lgpt_embed_model_layers(const lgpt_embed_model *model);

/**
 * Embeds `sequence_count` sequences packed end to end in `token_ids`: sequence i has `lengths[i]` tokens
 * (already framed by the caller, e.g. [CLS] ... [SEP]), 1 <= lengths[i] <= max_positions. Every layer runs
 * once over all tokens; attention runs per sequence, so no padding is needed and sequences do not see each
 * other. The result for sequence i is the mean of its last hidden states, L2-normalised, written to
 * `out[i * dimensions ..< (i + 1) * dimensions]`. `out_count` is the number of floats `out` can hold and
 * must be at least sequence_count * dimensions.
 *
 * A sequence's vector does not depend on the other sequences of the batch beyond floating-point rounding of
 * the matrix products: calls with at most 32 tokens in all (search queries) use the library's own kernels,
 * longer ones OpenBLAS, and the two differ by about 1e-6 per component.
 *
 * OpenBLAS (libopenblas.so.0) is opened by the first call with more than 32 tokens, or a sequence longer
 * than 32; when it cannot be, that call fails with LGPT_EMBED_ERR_IO and a message naming the package.
 */
lgpt_embed_status lgpt_embed_forward(
    const lgpt_embed_model *model,
    const int32_t *token_ids,
    const int32_t *lengths,
    int32_t sequence_count,
    float *out,
    size_t out_count,
    char *_Nullable error,
    size_t error_capacity);

#if defined(__clang__)
#pragma clang assume_nonnull end
#endif

/*
 * Vector search helper: out[r] = sum over j < dims of (codes[r * dims + j] - 128) * query[j], for r < rows.
 * `codes` holds rows x dims int8 values stored biased by 128 (1...255 for -127...127) and `query` dims int16
 * values within -127...127, so no sum overflows for dims < 133,000. Uses AVX-512 VNNI (dims a multiple of
 * 64, at most 1,024) or AVX2 when the CPU has it, else plain C; the result is the same either way. All
 * pointers are borrowed for the call; thread-safe.
 */
void lgpt_embed_dot_i8(const uint8_t *_Nonnull codes, size_t rows, size_t dims, const int16_t *_Nonnull query,
                       int32_t *_Nonnull out);

/* What bounds the error of row r's int8 product (see VectorMatrix.Quantized in LocalGPTMemory): each
 * array holds one value per row. */
typedef struct lgpt_embed_row_bounds {
    const float *_Nonnull scales;     /* the row's step: x is about scales[r] * codes */
    const float *_Nonnull l1;         /* |x|_1 */
    const float *_Nonnull residual;   /* |x - scales[r] * codes|_2 */
    const float *_Nonnull coded_norm; /* |scales[r] * codes|_2 */
} lgpt_embed_row_bounds;

/* The same for the query y, quantized as t * p. */
typedef struct lgpt_embed_query_bounds {
    float t;        /* the query's step */
    float l1;       /* |p|_1 */
    float norm;     /* |y|_2 */
    float residual; /* |y - t * p|_2 */
    float slack;    /* added to every error: float rounding */
} lgpt_embed_query_bounds;

/*
 * The int8 pre-filter's bounds, for r < rows: with d = the int8 product of row r and `query` (as
 * lgpt_embed_dot_i8), estimate = scales[r] * t * d and error = min(t / 2 * l1[r] + scales[r] / 2 * t *
 * q->l1, residual[r] * q->norm + coded_norm[r] * q->residual) + slack; lower[r] = estimate - error,
 * upper[r] = estimate + error (see VectorMatrix in LocalGPTMemory for why they bound the float32
 * product). `row`'s arrays, `lower` and `upper` hold `rows` values (codes: rows x dims); all pointers
 * are borrowed for the call; thread-safe on disjoint outputs.
 */
void lgpt_embed_bounds_i8(const uint8_t *_Nonnull codes, size_t rows, size_t dims, const int16_t *_Nonnull query,
                          const lgpt_embed_row_bounds *_Nonnull row, const lgpt_embed_query_bounds *_Nonnull q,
                          float *_Nonnull lower, float *_Nonnull upper);

/* Asks the CPU to bring the `bytes` bytes at `p` into its caches (a hint: nothing is read now). */
static inline void lgpt_embed_prefetch(const void *_Nonnull p, size_t bytes) {
    for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch((const char *)p + i);
}

/* Adds values[0...n-1] to a min-heap of the k largest values seen so far: `heap` has room for k values
 * and holds *heap_size of them (0 at first; updated). heap[0] is the smallest kept. */
void lgpt_embed_keep_largest(const float *_Nonnull values, size_t n, size_t k, float *_Nonnull heap,
                             size_t *_Nonnull heap_size);

/* The k-th largest of values[0...n-1] (-infinity when k is 0 or above n, or memory runs out). */
float lgpt_embed_kth_largest(const float *_Nonnull values, size_t n, size_t k);

#ifdef __cplusplus
}
#endif

#endif /* LGPT_EMBED_H */
