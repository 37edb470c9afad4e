/* Read-only access to a .safetensors file by mmap.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON mapping each
 * tensor name to {dtype, shape, data_offsets:[begin,end]} (offsets relative to
 * the byte buffer after the header), then the byte buffer. Everything in the
 * header is validated at open: JSON bounds, dtype names, shapes (rank <= 8,
 * element counts without overflow), offsets inside the buffer, end - begin ==
 * elements * dtype size, no two tensors overlapping.
 *
 * Tensors are handed out as float32: F32 data aligned to 4 bytes points into
 * the mapping; F16, BF16 (and unaligned F32) are converted once into a buffer
 * owned by the file. Every pointer lives until odx_st_close(). An odx_st is
 * not thread-safe while tensors are being fetched (a model fetches its weights
 * once, at load). */
#ifndef ODX_ENC_SAFETENSORS_H
#define ODX_ENC_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#define ODX_ST_MAX_RANK 8
/* Caps on input sizes: header JSON and tensor count. */
#define ODX_ST_MAX_HEADER (100u << 20)
#define ODX_ST_MAX_TENSORS 100000

typedef enum odx_st_dtype {
    ODX_ST_F32 = 0, ODX_ST_F16, ODX_ST_BF16, ODX_ST_F64, ODX_ST_I64, ODX_ST_I32,
    ODX_ST_I16, ODX_ST_I8, ODX_ST_U8, ODX_ST_BOOL
} odx_st_dtype;

typedef struct odx_st odx_st;

typedef struct odx_st_info {
    const char *name;
    odx_st_dtype dtype;
    int rank;
    int64_t shape[ODX_ST_MAX_RANK];
    size_t nbytes;
} odx_st_info;

/* Opens and validates path. ODX_EIO (cannot open/map), ODX_ECORRUPT (any
 * header or offset problem; the message says which tensor and why). */
int odx_st_open(const char *path, odx_st **out);
/* The same over bytes owned by the caller (they must outlive the handle). */
int odx_st_open_bytes(const void *data, size_t len, odx_st **out);
void odx_st_close(odx_st *st);

/* Moves every tensor of `from` (a shard of the same checkpoint) into
 * `into`; `from` is consumed on success (its mapping now lives as long as
 * `into`) and untouched on failure. ODX_ECORRUPT when a name is in both. */
int odx_st_merge(odx_st *into, odx_st *from);

size_t odx_st_count(const odx_st *st);
/* Info of the i-th tensor (header order), or NULL when i is out of range. */
const odx_st_info *odx_st_at(const odx_st *st, size_t i);
/* Info of a named tensor, or NULL when absent. */
const odx_st_info *odx_st_find(const odx_st *st, const char *name);

/* Fetches a named tensor as float32 after checking its shape against
 * shape[0..rank). ODX_ENOTFOUND if absent, ODX_ECORRUPT on a shape mismatch,
 * ODX_EUNSUPPORTED for a non-float dtype. A rank-0 request accepts only a
 * scalar. */
int odx_st_get_f32(odx_st *st, const char *name, int rank, const int64_t *shape,
                   const float **out);

const char *odx_st_dtype_name(odx_st_dtype dt);

#endif
