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

__attribute__((always_inline)) static inline void dot_rows(const int8_t *codes, size_t rows, size_t dims, const int16_t *query, int32_t *out) {
    for (size_t r = 0; r < rows; r++) {
        const int8_t *row = codes + r * dims;
        int32_t sum = 0;
        for (size_t j = 0; j < dims; j++) sum += (int32_t)((int16_t)row[j] * query[j]);
        out[r] = sum;
    }
}

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx2"))) static void dot_rows_avx2(const int8_t *codes, size_t rows, size_t dims,
                                                          const int16_t *query, int32_t *out) {
    dot_rows(codes, rows, dims, query, out);
}
#endif

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

/*
 * AVX-512 VNNI: vpdpbusd multiplies unsigned by signed bytes, four products summed into each 32-bit
 * lane. The query is biased to unsigned (p + 128, in 1...255), so each lane sums (p + 128) * c; the
 * row's own sum of codes (one more vpdpbusd against ones) removes the bias: sum p * c =
 * sum (p + 128) * c - 128 * sum c. Exact integer arithmetic (a lane holds at most dims / 16 products
 * of magnitude <= 255 * 127), so the result equals the other paths'. Needs dims % 64 == 0 and
 * dims <= 1024; four rows at a time share the query's registers.
 */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void dot_rows_vnni(const int8_t *codes, size_t rows,
                                                                                 size_t dims, const int16_t *query,
                                                                                 int32_t *out) {
    uint8_t biased[1024] __attribute__((aligned(64)));
    for (size_t j = 0; j < dims; j++) biased[j] = (uint8_t)(query[j] + 128);
    const size_t blocks = dims / 64;
    const __m512i ones = _mm512_set1_epi8(1);
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const int8_t *row = codes + r * dims;
        __m512i d0 = _mm512_setzero_si512(), d1 = d0, d2 = d0, d3 = d0;
        __m512i s0 = d0, s1 = d0, s2 = d0, s3 = d0;
        for (size_t b = 0; b < blocks; b++) {
            const __m512i q = _mm512_load_si512((const void *)(biased + b * 64));
            const __m512i c0 = _mm512_loadu_si512((const void *)(row + b * 64));
            const __m512i c1 = _mm512_loadu_si512((const void *)(row + dims + b * 64));
            const __m512i c2 = _mm512_loadu_si512((const void *)(row + 2 * dims + b * 64));
            const __m512i c3 = _mm512_loadu_si512((const void *)(row + 3 * dims + b * 64));
            d0 = _mm512_dpbusd_epi32(d0, q, c0);
            d1 = _mm512_dpbusd_epi32(d1, q, c1);
            d2 = _mm512_dpbusd_epi32(d2, q, c2);
            d3 = _mm512_dpbusd_epi32(d3, q, c3);
            s0 = _mm512_dpbusd_epi32(s0, ones, c0);
            s1 = _mm512_dpbusd_epi32(s1, ones, c1);
            s2 = _mm512_dpbusd_epi32(s2, ones, c2);
            s3 = _mm512_dpbusd_epi32(s3, ones, c3);
        }
        out[r] = _mm512_reduce_add_epi32(_mm512_sub_epi32(d0, _mm512_slli_epi32(s0, 7)));
        out[r + 1] = _mm512_reduce_add_epi32(_mm512_sub_epi32(d1, _mm512_slli_epi32(s1, 7)));
        out[r + 2] = _mm512_reduce_add_epi32(_mm512_sub_epi32(d2, _mm512_slli_epi32(s2, 7)));
        out[r + 3] = _mm512_reduce_add_epi32(_mm512_sub_epi32(d3, _mm512_slli_epi32(s3, 7)));
    }
    for (; r < rows; r++) {
        const int8_t *row = codes + r * dims;
        __m512i d = _mm512_setzero_si512(), s = d;
        for (size_t b = 0; b < blocks; b++) {
            const __m512i c = _mm512_loadu_si512((const void *)(row + b * 64));
            d = _mm512_dpbusd_epi32(d, _mm512_load_si512((const void *)(biased + b * 64)), c);
            s = _mm512_dpbusd_epi32(s, ones, c);
        }
        out[r] = _mm512_reduce_add_epi32(_mm512_sub_epi32(d, _mm512_slli_epi32(s, 7)));
    }
}
#endif

static void dot_rows_baseline(const int8_t *codes, size_t rows, size_t dims, const int16_t *query,
                              int32_t *out) {
    dot_rows(codes, rows, dims, query, out);
}

void lgpt_embed_dot_i8(const int8_t *codes, size_t rows, size_t dims, const int16_t *query, int32_t *out) {
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

void lgpt_embed_bounds_i8(const int8_t *codes, const float *scales, const float *l1, size_t rows, size_t dims,
                          const int16_t *query, float t, float query_l1, float slack, float *lower, float *upper) {
    int32_t dots[256];
    for (size_t start = 0; start < rows; start += 256) {
        const size_t n = rows - start < 256 ? rows - start : 256;
        lgpt_embed_dot_i8(codes + start * dims, n, dims, query, dots);
        for (size_t i = 0; i < n; i++) {
            const size_t r = start + i;
            /* The same operations, in the same order, as the bound's definition in VectorMatrix. */
            const float estimate = scales[r] * t * (float)dots[i];
            const float error = t / 2 * l1[r] + scales[r] / 2 * t * query_l1 + slack;
            lower[r] = estimate - error;
            upper[r] = estimate + error;
        }
    }
}

float lgpt_embed_kth_largest(const float *values, size_t n, size_t k) {
    if (k == 0 || k > n) return -__builtin_inff();
    /* A min-heap of the k largest seen so far: most values are rejected by one comparison. */
    float *heap = malloc(k * sizeof(float));
    if (heap == NULL) return -__builtin_inff();
    size_t size = 0;
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
    const float kth = heap[0];
    free(heap);
    return kth;
}
