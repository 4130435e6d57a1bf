/*
 * LocalGPT for Swift. Apache-2.0.
 *
 * The BERT encoder forward pass (all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, FFN 1536) on OpenBLAS.
 * Sequences are packed end to end: the token-wise layers (the linear layers, LayerNorm, GELU) run once over
 * all tokens as one matrix, attention runs per sequence, so a batch wastes nothing on padding.
 *
 *   x = LN(word[id] + position[p] + token_type[0])
 *   6 x: qkv = x Wqkv^T + b (one fused GEMM); per sequence and head: softmax(q k^T / sqrt(d)) v
 *        x = LN(x + ctx Wo^T + bo);  x = LN(x + GELU(x Wi^T + bi) Wf^T + bf)
 *   out = normalize(mean over the sequence's tokens of x)
 *
 * The hot loops are written so the compiler vectorises them without -ffast-math: the exponential and erfc are
 * polynomial approximations (relative error ~1e-7) instead of libm calls, and only reductions are allowed to
 * reassociate (LGPT_REASSOC).
 *
 * OpenBLAS is not linked: cblas_sgemm is looked up with dlopen()/dlsym() by the first forward pass over more
 * than LGPT_FEW_ROWS tokens (see "Loading OpenBLAS"); shorter inputs (search queries) use the plain kernels
 * below and never load it. Linking it loaded libopenblas, libgfortran and libquadmath, and started
 * OpenBLAS's thread pool, at every start of `localgpt`, even for `--version` (docs/PERFORMANCE.md).
 */
#ifndef _GNU_SOURCE
#error "CLocalGPTEmbed must be compiled with _GNU_SOURCE (see Package.swift)"
#endif

#include "lgpt_embed.h"

#include "safetensors.h"

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(float) == 4, "safetensors F32 is IEEE binary32");
_Static_assert(sizeof(int32_t) == 4, "token ids are 32-bit");
_Static_assert(LGPT_EMBED_ERROR_CAPACITY >= 256, "messages need room for a path");

/* ---- Loading OpenBLAS: once per process, on the first lgpt_embed_model_load(). ----------------------------- */

/* Debian 12's libopenblas0 (through the alternatives system), then an unversioned development link. */
static const char *const blas_library_names[] = {"libopenblas.so.0", "libopenblas.so"};

static __typeof__(&cblas_sgemm) lgpt_p_cblas_sgemm;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static char blas_error[LGPT_EMBED_ERROR_CAPACITY];

static void blas_load(void) {
    void *library = NULL;
    for (size_t i = 0; library == NULL && i < sizeof blas_library_names / sizeof blas_library_names[0]; i++) {
        library = dlopen(blas_library_names[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(blas_error, sizeof blas_error,
                 "OpenBLAS is not installed (%s); install it with `apt-get install libopenblas0`",
                 reason != NULL ? reason : "libopenblas.so.0 not found");
        return;
    }
    lgpt_p_cblas_sgemm = (__typeof__(&cblas_sgemm))dlsym(library, "cblas_sgemm");
    if (lgpt_p_cblas_sgemm == NULL) {
        snprintf(blas_error, sizeof blas_error, "the installed OpenBLAS has no cblas_sgemm");
    }
}

/* 0 when cblas_sgemm is available; otherwise -1 with the reason in `error`. Never closes the library. */
static int blas_ensure_loaded(char *error, size_t cap) {
    pthread_once(&blas_once, blas_load);
    if (lgpt_p_cblas_sgemm != NULL) return 0;
    lgpt_st_set_error(error, cap, "%s", blas_error);
    return -1;
}

/* Every call below goes through the pointer (set before any model exists). */
#define cblas_sgemm lgpt_p_cblas_sgemm

#if defined(__clang__)
#define LGPT_REASSOC _Pragma("clang fp reassociate(on)")
#else
#define LGPT_REASSOC
#endif

/* The element-wise and attention kernels are compiled twice, for AVX2+FMA and for baseline x86-64, and picked
   at load time (ifunc); the matrix products are OpenBLAS's, which dispatches on the CPU itself. */
#if defined(__x86_64__) && defined(__clang__)
#define LGPT_KERNEL __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LGPT_KERNEL
#endif

#define LGPT_LN_EPS 1e-12f
/* Upper bound on the tokens of one forward call, so every buffer size fits comfortably in size_t and int. */
#define LGPT_MAX_TOKENS (1 << 20)
#define LGPT_MAX_LAYERS 64

typedef struct lgpt_layer {
    float *qkv_w; /* owned, [3H x H]: query, key, value rows */
    float *qkv_b; /* owned, [3H] */
    const float *o_w, *o_b, *ln1_g, *ln1_b;
    const float *i_w, *i_b, *f_w, *f_b, *ln2_g, *ln2_b;
} lgpt_layer;

struct lgpt_embed_model {
    lgpt_st_file file;
    int32_t hidden, intermediate, vocab, positions, layers, heads, head_dim;
    const float *word, *position, *token_type, *emb_ln_g, *emb_ln_b;
    lgpt_layer *layer;
    void **owned; /* aligned copies of tensors the file stores unaligned */
    size_t owned_count, owned_capacity;
};

int32_t lgpt_embed_version(void) { return 1; }

int32_t lgpt_embed_model_dimensions(const lgpt_embed_model *model) { return model->hidden; }
int32_t lgpt_embed_model_max_positions(const lgpt_embed_model *model) { return model->positions; }
int32_t lgpt_embed_model_vocab_size(const lgpt_embed_model *model) { return model->vocab; }
int32_t lgpt_embed_model_layers(const lgpt_embed_model *model) { return model->layers; }

/* ---- loading ---- */

static int keep_owned(lgpt_embed_model *m, void *p) {
    if (m->owned_count == m->owned_capacity) {
        size_t nc = m->owned_capacity ? m->owned_capacity * 2 : 16;
        void **n = realloc(m->owned, nc * sizeof *n);
        if (n == NULL) return -1;
        m->owned = n;
        m->owned_capacity = nc;
    }
    m->owned[m->owned_count++] = p;
    return 0;
}

/* Finds an F32 tensor with the given shape (a dimension of -1 accepts any size and reports it in `dims`). */
static int get_tensor(lgpt_embed_model *m, const char *name, int32_t rank, int64_t d0, int64_t d1,
                      const float **out, int64_t dims[2], char *error, size_t cap) {
    const lgpt_st_tensor *t = lgpt_st_find(&m->file, name);
    if (t == NULL) {
        lgpt_st_set_error(error, cap, "the model file has no tensor '%s' (is it a BERT encoder?)", name);
        return LGPT_EMBED_ERR_TENSOR;
    }
    if (t->dtype != LGPT_ST_F32) {
        lgpt_st_set_error(error, cap, "tensor '%s' is %s; only F32 weights are supported", name, t->dtype_name);
        return LGPT_EMBED_ERR_TENSOR;
    }
    int64_t want[2] = {d0, d1};
    int ok = t->rank == rank;
    for (int32_t i = 0; ok && i < rank; i++) {
        if (want[i] >= 0 && t->shape[i] != want[i]) ok = 0;
        if (t->shape[i] <= 0 || t->shape[i] > (int64_t)1 << 26) ok = 0;
    }
    if (!ok) {
        char shape[96] = "";
        size_t n = 0;
        for (int32_t i = 0; i < t->rank && n < sizeof shape - 24; i++) {
            n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        }
        if (rank == 1) {
            lgpt_st_set_error(error, cap, "tensor '%s' has shape [%s], expected [%lld]", name, shape, (long long)d0);
        } else {
            lgpt_st_set_error(error, cap, "tensor '%s' has shape [%s], expected [%lld, %lld] (-1: any)", name, shape,
                              (long long)d0, (long long)d1);
        }
        return LGPT_EMBED_ERR_TENSOR;
    }
    if (dims != NULL) {
        dims[0] = t->shape[0];
        dims[1] = rank > 1 ? t->shape[1] : 0;
    }
    const uint8_t *p = m->file.data + t->begin;
    if (((uintptr_t)p & (sizeof(float) - 1)) == 0) {
        *out = (const float *)(const void *)p;
        return LGPT_EMBED_OK;
    }
    size_t bytes = (size_t)(t->end - t->begin);
    void *copy = NULL;
    if (posix_memalign(&copy, 64, bytes ? bytes : 64) != 0) copy = NULL;
    if (copy == NULL || keep_owned(m, copy) != 0) {
        free(copy);
        lgpt_st_set_error(error, cap, "out of memory copying tensor '%s'", name);
        return LGPT_EMBED_ERR_NOMEM;
    }
    memcpy(copy, p, bytes);
    *out = copy;
    return LGPT_EMBED_OK;
}

void lgpt_embed_model_free(lgpt_embed_model *model) {
    if (model == NULL) return;
    if (model->layer != NULL) {
        for (int32_t i = 0; i < model->layers; i++) {
            free(model->layer[i].qkv_w);
            free(model->layer[i].qkv_b);
        }
        free(model->layer);
    }
    for (size_t i = 0; i < model->owned_count; i++) free(model->owned[i]);
    free(model->owned);
    lgpt_st_close(&model->file);
    free(model);
}

static int load_layer(lgpt_embed_model *m, int32_t index, char *error, size_t cap) {
    const int64_t H = m->hidden, F = m->intermediate;
    lgpt_layer *L = &m->layer[index];
    char name[128];
    const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;
    int64_t dims[2];
    int rc;
#define LGPT_GET(field, suffix, rank, a, b)                                                                    \
    do {                                                                                                       \
        snprintf(name, sizeof name, "encoder.layer.%d.%s", (int)index, suffix);                               \
        rc = get_tensor(m, name, rank, a, b, &(field), dims, error, cap);                                     \
        if (rc != LGPT_EMBED_OK) return rc;                                                                    \
    } while (0)
    LGPT_GET(q_w, "attention.self.query.weight", 2, H, H);
    LGPT_GET(q_b, "attention.self.query.bias", 1, H, 0);
    LGPT_GET(k_w, "attention.self.key.weight", 2, H, H);
    LGPT_GET(k_b, "attention.self.key.bias", 1, H, 0);
    LGPT_GET(v_w, "attention.self.value.weight", 2, H, H);
    LGPT_GET(v_b, "attention.self.value.bias", 1, H, 0);
    LGPT_GET(L->o_w, "attention.output.dense.weight", 2, H, H);
    LGPT_GET(L->o_b, "attention.output.dense.bias", 1, H, 0);
    LGPT_GET(L->ln1_g, "attention.output.LayerNorm.weight", 1, H, 0);
    LGPT_GET(L->ln1_b, "attention.output.LayerNorm.bias", 1, H, 0);
    LGPT_GET(L->i_w, "intermediate.dense.weight", 2, F, H);
    LGPT_GET(L->i_b, "intermediate.dense.bias", 1, F, 0);
    LGPT_GET(L->f_w, "output.dense.weight", 2, H, F);
    LGPT_GET(L->f_b, "output.dense.bias", 1, H, 0);
    LGPT_GET(L->ln2_g, "output.LayerNorm.weight", 1, H, 0);
    LGPT_GET(L->ln2_b, "output.LayerNorm.bias", 1, H, 0);
#undef LGPT_GET
    void *w = NULL, *b = NULL;
    if (posix_memalign(&w, 64, (size_t)(3 * H * H) * sizeof(float)) != 0) w = NULL;
    if (posix_memalign(&b, 64, (size_t)(3 * H) * sizeof(float)) != 0) b = NULL;
    if (w == NULL || b == NULL) {
        free(w);
        free(b);
        lgpt_st_set_error(error, cap, "out of memory fusing the attention weights");
        return LGPT_EMBED_ERR_NOMEM;
    }
    L->qkv_w = w;
    L->qkv_b = b;
    size_t hh = (size_t)(H * H), h = (size_t)H;
    memcpy(L->qkv_w, q_w, hh * sizeof(float));
    memcpy(L->qkv_w + hh, k_w, hh * sizeof(float));
    memcpy(L->qkv_w + 2 * hh, v_w, hh * sizeof(float));
    memcpy(L->qkv_b, q_b, h * sizeof(float));
    memcpy(L->qkv_b + h, k_b, h * sizeof(float));
    memcpy(L->qkv_b + 2 * h, v_b, h * sizeof(float));
    return LGPT_EMBED_OK;
}

lgpt_embed_status lgpt_embed_model_load(const char *path, int32_t num_heads, lgpt_embed_model **out_model,
                                        char *error, size_t cap) {
    *out_model = NULL;
    if (error != NULL && cap > 0) error[0] = '\0';
    lgpt_embed_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        lgpt_st_set_error(error, cap, "out of memory");
        return LGPT_EMBED_ERR_NOMEM;
    }
    int rc = lgpt_st_open(path, &m->file, error, cap);
    if (rc != LGPT_EMBED_OK) {
        free(m);
        return (lgpt_embed_status)rc;
    }
    int64_t dims[2];
    rc = get_tensor(m, "embeddings.word_embeddings.weight", 2, -1, -1, &m->word, dims, error, cap);
    if (rc != LGPT_EMBED_OK) goto fail;
    m->vocab = (int32_t)dims[0];
    m->hidden = (int32_t)dims[1];
    const int64_t H = m->hidden;
    if (H > 16384) {
        lgpt_st_set_error(error, cap, "hidden size %lld is implausible", (long long)H);
        rc = LGPT_EMBED_ERR_TENSOR;
        goto fail;
    }
    if (num_heads <= 0 || H % num_heads != 0) {
        lgpt_st_set_error(error, cap, "%d attention heads do not divide the hidden size %lld", (int)num_heads,
                          (long long)H);
        rc = LGPT_EMBED_ERR_ARGUMENT;
        goto fail;
    }
    m->heads = num_heads;
    m->head_dim = (int32_t)(H / num_heads);
    rc = get_tensor(m, "embeddings.position_embeddings.weight", 2, -1, H, &m->position, dims, error, cap);
    if (rc != LGPT_EMBED_OK) goto fail;
    m->positions = (int32_t)dims[0];
    rc = get_tensor(m, "embeddings.token_type_embeddings.weight", 2, -1, H, &m->token_type, dims, error, cap);
    if (rc != LGPT_EMBED_OK) goto fail;
    rc = get_tensor(m, "embeddings.LayerNorm.weight", 1, H, 0, &m->emb_ln_g, NULL, error, cap);
    if (rc != LGPT_EMBED_OK) goto fail;
    rc = get_tensor(m, "embeddings.LayerNorm.bias", 1, H, 0, &m->emb_ln_b, NULL, error, cap);
    if (rc != LGPT_EMBED_OK) goto fail;

    /* Layers: consecutive encoder.layer.N, N from 0. */
    int32_t layers = 0;
    char name[128];
    for (; layers < LGPT_MAX_LAYERS; layers++) {
        snprintf(name, sizeof name, "encoder.layer.%d.attention.self.query.weight", (int)layers);
        if (lgpt_st_find(&m->file, name) == NULL) break;
    }
    if (layers == 0) {
        lgpt_st_set_error(error, cap, "the model file has no tensor 'encoder.layer.0.attention.self.query.weight' "
                                      "(is it a BERT encoder?)");
        rc = LGPT_EMBED_ERR_TENSOR;
        goto fail;
    }
    const float *probe;
    rc = get_tensor(m, "encoder.layer.0.intermediate.dense.weight", 2, -1, H, &probe, dims, error, cap);
    if (rc != LGPT_EMBED_OK) goto fail;
    m->intermediate = (int32_t)dims[0];
    m->layer = calloc((size_t)layers, sizeof *m->layer);
    if (m->layer == NULL) {
        lgpt_st_set_error(error, cap, "out of memory");
        rc = LGPT_EMBED_ERR_NOMEM;
        goto fail;
    }
    m->layers = layers;
    for (int32_t i = 0; i < layers; i++) {
        rc = load_layer(m, i, error, cap);
        if (rc != LGPT_EMBED_OK) goto fail;
    }
    *out_model = m;
    return LGPT_EMBED_OK;
fail:
    lgpt_embed_model_free(m);
    return (lgpt_embed_status)rc;
}

/* ---- the forward pass ---- */

static inline float float_from_bits(int32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* e^x for x in any range (clamped to [-87, 88]); Cody-Waite reduction and Cephes' polynomial, ~1 ulp. */
static inline float lgpt_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float kf = x * 1.44269504088896341f;
    int32_t k = (int32_t)(kf + (kf >= 0.0f ? 0.5f : -0.5f));
    float fk = (float)k;
    float r = x - fk * 0.693359375f;
    r = r + fk * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * (r * r) + r + 1.0f;
    return e * float_from_bits((k + 127) << 23);
}

/* erfc(z) for z >= 0, relative error < 1.2e-7 (the Chebyshev fit of Numerical Recipes' erfcc). */
static inline float lgpt_erfc_pos(float z) {
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * lgpt_expf(p - z * z);
}

/* x = GELU(x + bias) over rows of width n, GELU(x) = x/2 (1 + erf(x / sqrt 2)). */
LGPT_KERNEL static void bias_gelu(float *restrict x, const float *restrict bias, size_t rows, size_t n) {
    for (size_t r = 0; r < rows; r++) {
        float *restrict row = x + r * n;
        for (size_t j = 0; j < n; j++) {
            float v = row[j] + bias[j];
            float u = v * 0.70710678118654752f;
            float e = lgpt_erfc_pos(fabsf(u));
            row[j] = v >= 0.0f ? v * (1.0f - 0.5f * e) : v * (0.5f * e);
        }
    }
}

LGPT_KERNEL static void add_bias(float *restrict x, const float *restrict bias, size_t rows, size_t n) {
    for (size_t r = 0; r < rows; r++) {
        float *restrict row = x + r * n;
        for (size_t j = 0; j < n; j++) row[j] += bias[j];
    }
}

/* One row: y = LN(x + r + bias) * g + b, written to x. `r` and `bias` may be NULL. */
static inline void layer_norm_row(float *restrict x, const float *restrict r, const float *restrict bias,
                                  const float *restrict g, const float *restrict b, size_t n) {
    if (r != NULL) {
        for (size_t j = 0; j < n; j++) x[j] += r[j] + bias[j];
    }
    float sum = 0.0f;
    {
        LGPT_REASSOC
        for (size_t j = 0; j < n; j++) sum += x[j];
    }
    float mean = sum / (float)n;
    float var = 0.0f;
    {
        LGPT_REASSOC
        for (size_t j = 0; j < n; j++) {
            float d = x[j] - mean;
            var += d * d;
        }
    }
    float inv = 1.0f / sqrtf(var / (float)n + LGPT_LN_EPS);
    for (size_t j = 0; j < n; j++) x[j] = (x[j] - mean) * inv * g[j] + b[j];
}

/* Rows of x (width n): x = LN(x + r + bias) * g + b, with r the matching rows of `r` (NULL: none). */
LGPT_KERNEL static void layer_norm_rows(float *restrict x, const float *restrict r, const float *restrict bias,
                                        const float *restrict g, const float *restrict b, size_t rows, size_t n) {
    for (size_t t = 0; t < rows; t++) layer_norm_row(x + t * n, r ? r + t * n : NULL, bias, g, b, n);
}

/*
 * y[T x N] = x[T x K] W[N x K]^T for a few rows (a search query): dot products of W's rows, four at a time,
 * with every row of x while those four rows sit in L1. For a small T, OpenBLAS spends as long packing W into
 * its panel layout as multiplying (sgemm_incopy was 43 % of a query's profile), since each weight is used only
 * T times; here each weight is read once and never copied. Compiled for AVX-512, AVX2+FMA and baseline.
 */
#if defined(__x86_64__) && defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void linear_few_rows(const float *restrict x, const float *restrict w, float *restrict y, int T, int N,
                            int K) {
    int n = 0;
    for (; n + 4 <= N; n += 4) {
        const float *restrict w0 = w + (size_t)n * (size_t)K;
        const float *restrict w1 = w0 + K, *restrict w2 = w1 + K, *restrict w3 = w2 + K;
        int t = 0;
        /* Two rows of x against four of W: eight independent sums, enough to keep both FMA units busy. */
        for (; t + 2 <= T; t += 2) {
            const float *restrict xa = x + (size_t)t * (size_t)K;
            const float *restrict xb = xa + K;
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, b0 = 0.0f, b1 = 0.0f, b2 = 0.0f, b3 = 0.0f;
            {
                LGPT_REASSOC
                for (int k = 0; k < K; k++) {
                    const float u = xa[k], v = xb[k];
                    const float c0 = w0[k], c1 = w1[k], c2 = w2[k], c3 = w3[k];
                    a0 += u * c0;
                    a1 += u * c1;
                    a2 += u * c2;
                    a3 += u * c3;
                    b0 += v * c0;
                    b1 += v * c1;
                    b2 += v * c2;
                    b3 += v * c3;
                }
            }
            float *ya = y + (size_t)t * (size_t)N + n;
            float *yb = ya + N;
            ya[0] = a0;
            ya[1] = a1;
            ya[2] = a2;
            ya[3] = a3;
            yb[0] = b0;
            yb[1] = b1;
            yb[2] = b2;
            yb[3] = b3;
        }
        for (; t < T; t++) {
            const float *restrict xt = x + (size_t)t * (size_t)K;
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            {
                LGPT_REASSOC
                for (int k = 0; k < K; k++) {
                    const float v = xt[k];
                    s0 += v * w0[k];
                    s1 += v * w1[k];
                    s2 += v * w2[k];
                    s3 += v * w3[k];
                }
            }
            float *yt = y + (size_t)t * (size_t)N + n;
            yt[0] = s0;
            yt[1] = s1;
            yt[2] = s2;
            yt[3] = s3;
        }
    }
    for (; n < N; n++) {
        const float *restrict wn = w + (size_t)n * (size_t)K;
        for (int t = 0; t < T; t++) {
            const float *restrict xt = x + (size_t)t * (size_t)K;
            float s = 0.0f;
            {
                LGPT_REASSOC
                for (int k = 0; k < K; k++) s += xt[k] * wn[k];
            }
            y[(size_t)t * (size_t)N + n] = s;
        }
    }
}

/* Up to this many rows, linear_few_rows beats OpenBLAS (docs/PERFORMANCE.md, query embedding). */
#define LGPT_FEW_ROWS 32

/* y[T x N] = x[T x K] W[N x K]^T */
static void linear(const float *x, const float *w, float *y, int T, int N, int K) {
    if (T <= LGPT_FEW_ROWS) {
        linear_few_rows(x, w, y, T, N, K);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
}

/* Row-wise softmax of s [n x n], in place. */
LGPT_KERNEL static void softmax_rows(float *restrict s, int n) {
    for (int i = 0; i < n; i++) {
        float *restrict row = s + (size_t)i * (size_t)n;
        float mx = row[0];
        for (int j = 1; j < n; j++) mx = row[j] > mx ? row[j] : mx;
        float sum = 0.0f;
        {
            LGPT_REASSOC
            for (int j = 0; j < n; j++) {
                float e = lgpt_expf(row[j] - mx);
                row[j] = e;
                sum += e;
            }
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < n; j++) row[j] *= inv;
    }
}

/*
 * Self-attention of one sequence (n tokens starting at row 0 of qkv / ctx), every head: two small GEMMs and a
 * softmax per head. qkv rows are [q | k | v] of width 3H; ctx rows have width H; s holds n x n scores.
 */
/* The two products of one head for a short sequence, in plain loops: OpenBLAS calls this small cost more in
   dispatch, and wake its threads, which then spin beside linear_few_rows. */
LGPT_KERNEL static void head_few_rows(const float *restrict q, const float *restrict k, const float *restrict v,
                                      float *restrict out, int n, int hd, int stride, int out_stride, float scale,
                                      float *restrict s) {
    for (int i = 0; i < n; i++) {
        const float *restrict qi = q + (size_t)i * (size_t)stride;
        for (int j = 0; j < n; j++) {
            const float *restrict kj = k + (size_t)j * (size_t)stride;
            float dot = 0.0f;
            {
                LGPT_REASSOC
                for (int d = 0; d < hd; d++) dot += qi[d] * kj[d];
            }
            s[(size_t)i * (size_t)n + j] = dot * scale;
        }
    }
    softmax_rows(s, n);
    for (int i = 0; i < n; i++) {
        float *restrict oi = out + (size_t)i * (size_t)out_stride;
        for (int d = 0; d < hd; d++) oi[d] = 0.0f;
        for (int j = 0; j < n; j++) {
            const float p = s[(size_t)i * (size_t)n + j];
            const float *restrict vj = v + (size_t)j * (size_t)stride;
            for (int d = 0; d < hd; d++) oi[d] += p * vj[d];
        }
    }
}

static void attention(const float *qkv, float *ctx, int n, int H, int heads, int hd, float *s) {
    const float scale = 1.0f / sqrtf((float)hd);
    const int stride = 3 * H;
    if (n <= LGPT_FEW_ROWS) {
        for (int h = 0; h < heads; h++) {
            const float *q = qkv + (size_t)h * (size_t)hd;
            head_few_rows(q, q + H, q + 2 * (size_t)H, ctx + (size_t)h * (size_t)hd, n, hd, stride, H, scale, s);
        }
        return;
    }
    for (int h = 0; h < heads; h++) {
        const float *q = qkv + (size_t)h * (size_t)hd;
        const float *k = q + H;
        const float *v = q + 2 * (size_t)H;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, scale, q, stride, k, stride, 0.0f, s, n);
        softmax_rows(s, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1.0f, s, n, v, stride, 0.0f,
                    ctx + (size_t)h * (size_t)hd, H);
    }
}

lgpt_embed_status lgpt_embed_forward(const lgpt_embed_model *m, const int32_t *ids, const int32_t *lengths,
                                     int32_t count, float *out, size_t out_count, char *error, size_t cap) {
    if (error != NULL && cap > 0) error[0] = '\0';
    if (count <= 0) {
        lgpt_st_set_error(error, cap, "no sequences to embed");
        return LGPT_EMBED_ERR_ARGUMENT;
    }
    const int H = m->hidden, F = m->intermediate, hd = m->head_dim;
    if ((size_t)count > out_count / (size_t)H) {
        lgpt_st_set_error(error, cap, "the output buffer holds %zu floats; %d sequences need %zu", out_count,
                          (int)count, (size_t)count * (size_t)H);
        return LGPT_EMBED_ERR_ARGUMENT;
    }
    size_t T = 0;
    int max_len = 0;
    for (int32_t s = 0; s < count; s++) {
        int32_t n = lengths[s];
        if (n < 1 || n > m->positions) {
            lgpt_st_set_error(error, cap, "sequence %d has %d tokens; between 1 and %d are allowed", (int)s, (int)n,
                              (int)m->positions);
            return LGPT_EMBED_ERR_ARGUMENT;
        }
        T += (size_t)n;
        if (T > LGPT_MAX_TOKENS) {
            lgpt_st_set_error(error, cap, "more than %d tokens in one call", LGPT_MAX_TOKENS);
            return LGPT_EMBED_ERR_ARGUMENT;
        }
        if (n > max_len) max_len = n;
    }
    /* OpenBLAS is opened on the first call that needs it: a batch, or a sequence, longer than
       LGPT_FEW_ROWS. A process that only embeds search queries never loads it. */
    if ((T > LGPT_FEW_ROWS || max_len > LGPT_FEW_ROWS) && blas_ensure_loaded(error, cap) != 0) {
        return LGPT_EMBED_ERR_IO;
    }
    for (size_t t = 0; t < T; t++) {
        if (ids[t] < 0 || ids[t] >= m->vocab) {
            lgpt_st_set_error(error, cap, "token id %d at position %zu is outside the vocabulary (size %d)",
                              (int)ids[t], t, (int)m->vocab);
            return LGPT_EMBED_ERR_ARGUMENT;
        }
    }

    /* Scratch: x [T x H], qkv [T x 3H] (reused for the projections' outputs), ctx [T x H], ff [T x F],
       attention scores [max_len x max_len]. */
    const size_t nx = T * (size_t)H, nqkv = 3 * nx, nctx = nx, nff = T * (size_t)F;
    const size_t natt = (size_t)max_len * (size_t)max_len;
    float *base = NULL;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, (nx + nqkv + nctx + nff + natt) * sizeof(float)) != 0 || mem == NULL) {
        lgpt_st_set_error(error, cap, "out of memory for %zu tokens", T);
        return LGPT_EMBED_ERR_NOMEM;
    }
    base = mem;
    float *x = base, *qkv = x + nx, *ctx = qkv + nqkv, *ff = ctx + nctx, *scores = ff + nff;

    /* Embeddings. */
    {
        size_t t = 0;
        for (int32_t s = 0; s < count; s++) {
            for (int32_t p = 0; p < lengths[s]; p++, t++) {
                const float *w = m->word + (size_t)ids[t] * (size_t)H;
                const float *pe = m->position + (size_t)p * (size_t)H;
                float *row = x + t * (size_t)H;
                for (int j = 0; j < H; j++) row[j] = w[j] + pe[j] + m->token_type[j];
                layer_norm_row(row, NULL, NULL, m->emb_ln_g, m->emb_ln_b, (size_t)H);
            }
        }
    }

    for (int32_t l = 0; l < m->layers; l++) {
        const lgpt_layer *L = &m->layer[l];
        linear(x, L->qkv_w, qkv, (int)T, 3 * H, H);
        add_bias(qkv, L->qkv_b, T, (size_t)(3 * H));
        size_t off = 0;
        for (int32_t s = 0; s < count; s++) {
            attention(qkv + off * (size_t)(3 * H), ctx + off * (size_t)H, lengths[s], H, m->heads, hd, scores);
            off += (size_t)lengths[s];
        }
        float *proj = qkv; /* qkv is dead now */
        linear(ctx, L->o_w, proj, (int)T, H, H);
        layer_norm_rows(x, proj, L->o_b, L->ln1_g, L->ln1_b, T, (size_t)H);
        linear(x, L->i_w, ff, (int)T, F, H);
        bias_gelu(ff, L->i_b, T, (size_t)F);
        linear(ff, L->f_w, proj, (int)T, H, F);
        layer_norm_rows(x, proj, L->f_b, L->ln2_g, L->ln2_b, T, (size_t)H);
    }

    /* Mean pooling over each sequence's tokens, then L2 normalisation (eps 1e-12, like F.normalize). */
    {
        size_t t = 0;
        for (int32_t s = 0; s < count; s++) {
            float *o = out + (size_t)s * (size_t)H;
            for (int j = 0; j < H; j++) o[j] = 0.0f;
            for (int32_t p = 0; p < lengths[s]; p++, t++) {
                const float *row = x + t * (size_t)H;
                for (int j = 0; j < H; j++) o[j] += row[j];
            }
            const float inv_n = 1.0f / (float)lengths[s];
            double norm = 0.0;
            for (int j = 0; j < H; j++) {
                o[j] *= inv_n;
                norm += (double)o[j] * (double)o[j];
            }
            norm = sqrt(norm);
            const float scale = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
            for (int j = 0; j < H; j++) o[j] *= scale;
        }
    }
    free(base);
    return LGPT_EMBED_OK;
}
