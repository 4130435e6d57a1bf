/*
 * LocalGPT for Swift. Apache-2.0.
 *
 * The int8 pre-filter of exact vector search (VectorMatrix in LocalGPTMemory): one integer dot product
 * per row, the bounds built on it, and the threshold. The plain loop is compiled twice, for AVX2 and
 * for the baseline, and the compiler vectorises both; CPUs with AVX-512 VNNI use a hand-written loop
 * (below). Integer sums make every path's result identical. (__builtin_cpu_supports reads what the
 * runtime's start-up code detected.)
 */
#include "lgpt_embed.h"

#include <stdlib.h>

__attribute__((always_inline)) static inline void dot_rows(const uint8_t *codes, size_t rows, size_t dims,
                                                           const int16_t *query, int32_t *out) {
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *row = codes + r * dims;
        int32_t sum = 0;
        for (size_t j = 0; j < dims; j++) sum += (int32_t)(((int16_t)row[j] - 128) * query[j]);
        out[r] = sum;
    }
}

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx2"))) static void dot_rows_avx2(const uint8_t *codes, size_t rows, size_t dims,
                                                          const int16_t *query, int32_t *out) {
    dot_rows(codes, rows, dims, query, out);
}
#endif

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

/*
 * AVX-512 VNNI: vpdpbusd multiplies unsigned by signed bytes, four products summed into each 32-bit
 * lane. The stored codes are already unsigned (c + 128, in 1...255) and the query fits in signed
 * bytes, so each lane sums (c + 128) * p = c * p + 128 * p: the query's own sum removes the bias once
 * per row, sum c * p = sum (c + 128) * p - 128 * sum p. Exact integer arithmetic (a lane holds at
 * most dims / 16 products of magnitude <= 255 * 127), so the result equals the other paths'. Needs
 * dims % 64 == 0 and dims <= 1024; four rows at a time share the query's registers.
 */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void dot_rows_vnni(const uint8_t *codes, size_t rows,
                                                                                 size_t dims, const int16_t *query,
                                                                                 int32_t *out) {
    int8_t narrow[1024] __attribute__((aligned(64)));
    int32_t query_sum = 0;
    for (size_t j = 0; j < dims; j++) {
        narrow[j] = (int8_t)query[j];
        query_sum += query[j];
    }
    const int32_t bias = 128 * query_sum;
    const size_t blocks = dims / 64;
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const uint8_t *row = codes + r * dims;
        __m512i d0 = _mm512_setzero_si512(), d1 = d0, d2 = d0, d3 = d0;
        for (size_t b = 0; b < blocks; b++) {
            const __m512i q = _mm512_load_si512((const void *)(narrow + b * 64));
            d0 = _mm512_dpbusd_epi32(d0, _mm512_loadu_si512((const void *)(row + b * 64)), q);
            d1 = _mm512_dpbusd_epi32(d1, _mm512_loadu_si512((const void *)(row + dims + b * 64)), q);
            d2 = _mm512_dpbusd_epi32(d2, _mm512_loadu_si512((const void *)(row + 2 * dims + b * 64)), q);
            d3 = _mm512_dpbusd_epi32(d3, _mm512_loadu_si512((const void *)(row + 3 * dims + b * 64)), q);
        }
        out[r] = _mm512_reduce_add_epi32(d0) - bias;
        out[r + 1] = _mm512_reduce_add_epi32(d1) - bias;
        out[r + 2] = _mm512_reduce_add_epi32(d2) - bias;
        out[r + 3] = _mm512_reduce_add_epi32(d3) - bias;
    }
    for (; r < rows; r++) {
        const uint8_t *row = codes + r * dims;
        __m512i d = _mm512_setzero_si512();
        for (size_t b = 0; b < blocks; b++) {
            d = _mm512_dpbusd_epi32(d, _mm512_loadu_si512((const void *)(row + b * 64)),
                                    _mm512_load_si512((const void *)(narrow + b * 64)));
        }
        out[r] = _mm512_reduce_add_epi32(d) - bias;
    }
}
#endif

static void dot_rows_baseline(const uint8_t *codes, size_t rows, size_t dims, const int16_t *query,
                              int32_t *out) {
    dot_rows(codes, rows, dims, query, out);
}

void lgpt_embed_dot_i8(const uint8_t *codes, size_t rows, size_t dims, const int16_t *query, int32_t *out) {
#if defined(__x86_64__) && defined(__clang__)
    if (dims % 64 == 0 && dims <= 1024 && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("avx512bw")) {
        dot_rows_vnni(codes, rows, dims, query, out);
        return;
    }
    if (__builtin_cpu_supports("avx2")) {
        dot_rows_avx2(codes, rows, dims, query, out);
        return;
    }
#endif
    dot_rows_baseline(codes, rows, dims, query, out);
}

void lgpt_embed_bounds_i8(const uint8_t *codes, size_t rows, size_t dims, const int16_t *query,
                          const lgpt_embed_row_bounds *row, const lgpt_embed_query_bounds *q, float *lower,
                          float *upper) {
    int32_t dots[256];
    for (size_t start = 0; start < rows; start += 256) {
        const size_t n = rows - start < 256 ? rows - start : 256;
        lgpt_embed_dot_i8(codes + start * dims, n, dims, query, dots);
        for (size_t i = 0; i < n; i++) {
            const size_t r = start + i;
            /* The same operations, in the same order, as the bounds' definition in VectorMatrix. */
            const float estimate = row->scales[r] * q->t * (float)dots[i];
            const float by_steps = q->t / 2 * row->l1[r] + row->scales[r] / 2 * q->t * q->l1;
            const float by_norms = row->residual[r] * q->norm + row->coded_norm[r] * q->residual;
            const float error = (by_steps < by_norms ? by_steps : by_norms) + q->slack;
            lower[r] = estimate - error;
            upper[r] = estimate + error;
        }
    }
}

void lgpt_embed_keep_largest(const float *values, size_t n, size_t k, float *heap, size_t *heap_size) {
    /* Most values are rejected by one comparison once the heap is full. */
    if (k == 0) return; /* no room: heap[0] does not exist */
    size_t size = *heap_size;
    for (size_t i = 0; i < n; i++) {
        const float v = values[i];
        if (size < k) {
            size_t c = size++;
            heap[c] = v;
            while (c > 0 && heap[(c - 1) / 2] > heap[c]) {
                const float x = heap[c];
                heap[c] = heap[(c - 1) / 2];
                heap[(c - 1) / 2] = x;
                c = (c - 1) / 2;
            }
        } else if (v > heap[0]) {
            size_t p = 0;
            heap[0] = v;
            for (;;) {
                const size_t l = 2 * p + 1, r = l + 1;
                size_t m = p;
                if (l < k && heap[l] < heap[m]) m = l;
                if (r < k && heap[r] < heap[m]) m = r;
                if (m == p) break;
                const float x = heap[p];
                heap[p] = heap[m];
                heap[m] = x;
                p = m;
            }
        }
    }
    *heap_size = size;
}

float lgpt_embed_kth_largest(const float *values, size_t n, size_t k) {
    if (k == 0 || k > n) return -__builtin_inff();
    float *heap = malloc(k * sizeof(float));
    if (heap == NULL) return -__builtin_inff();
    size_t size = 0;
    lgpt_embed_keep_largest(values, n, k, heap, &size);
    const float kth = heap[0];
    free(heap);
    return kth;
}
