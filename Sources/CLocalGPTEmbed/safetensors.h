/*
 * LocalGPT for Swift. Apache-2.0.
 *
 * Internal: a bounds-checked reader for the safetensors container (an 8-byte little-endian header length,
 * a JSON header mapping tensor names to {dtype, shape, data_offsets}, then the raw data).
 */
#ifndef LGPT_EMBED_SAFETENSORS_H
#define LGPT_EMBED_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define LGPT_ST_MAX_RANK 8

/** Element types this reader recognises; anything else is LGPT_ST_OTHER (never used by the model). */
typedef enum lgpt_st_dtype {
    LGPT_ST_OTHER = 0,
    LGPT_ST_F32,
    LGPT_ST_F16,
    LGPT_ST_BF16,
    LGPT_ST_F64,
    LGPT_ST_I64,
    LGPT_ST_I32,
} lgpt_st_dtype;

typedef struct lgpt_st_tensor {
    char *name;             /* decoded, NUL-terminated; owned by the file */
    char dtype_name[16];    /* as written in the header (for messages), truncated */
    lgpt_st_dtype dtype;
    int32_t rank;
    int64_t shape[LGPT_ST_MAX_RANK];
    uint64_t begin, end;    /* byte offsets into the data section, validated: begin <= end <= data_size */
} lgpt_st_tensor;

typedef struct lgpt_st_file {
    void *map;              /* the whole file, mapped read-only */
    size_t map_size;
    const uint8_t *data;    /* start of the data section (map + 8 + header length) */
    uint64_t data_size;
    lgpt_st_tensor *tensors;
    size_t tensor_count;
} lgpt_st_file;

/** Opens and validates `path`. On failure returns a status (LGPT_EMBED_ERR_IO / _FORMAT / _NOMEM) and
 *  writes a message; `file` is then zeroed and needs no close. */
int lgpt_st_open(const char *path, lgpt_st_file *file, char *error, size_t error_capacity);

/** Unmaps and frees. Safe on a zeroed file. */
void lgpt_st_close(lgpt_st_file *file);

/** The tensor called `name`, or NULL. */
const lgpt_st_tensor *lgpt_st_find(const lgpt_st_file *file, const char *name);

/** Formats a message into `error` (NULL-safe, always terminated). */
void lgpt_st_set_error(char *error, size_t capacity, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* LGPT_EMBED_SAFETENSORS_H */
