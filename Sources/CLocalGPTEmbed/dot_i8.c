/*
 * LocalGPT for Swift. Apache-2.0.
 *
 * The int8 pre-filter of exact vector search (VectorMatrix in LocalGPTMemory): one integer dot product
 * per row. The same loop is compiled twice, for AVX2 and for the baseline, and the compiler vectorises
 * both; integer sums make the two results identical. (__builtin_cpu_supports reads what the runtime's
 * start-up code detected.)
 */
#include "lgpt_embed.h"

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

static void dot_rows_baseline(const int8_t *codes, size_t rows, size_t dims, const int16_t *query,
                              int32_t *out) {
    dot_rows(codes, rows, dims, query, out);
}

void lgpt_embed_dot_i8(const int8_t *codes, size_t rows, size_t dims, const int16_t *query, int32_t *out) {
#if defined(__x86_64__) && defined(__clang__)
    if (__builtin_cpu_supports("avx2")) {
        dot_rows_avx2(codes, rows, dims, query, out);
        return;
    }
#endif
    dot_rows_baseline(codes, rows, dims, query, out);
}
