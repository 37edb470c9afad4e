/*
 * omnidex.h - the embedded C API of omnidex, a multimodal retrieval database.
 *
 * One data directory holds one LMDB environment (the source of truth) and the
 * FAISS index checkpoints derived from it. Every handle here is opaque.
 *
 * Conventions (the same for every function):
 *  - Functions that can fail return int: 0 (ODX_OK) on success, an ODX_E*
 *    code (negative, in a reserved range) or a positive errno value on
 *    failure. odx_strerror() names every code; odx_last_error() gives the
 *    detail message of the calling thread's last failure.
 *  - Out-parameters are written only on success.
 *  - Every *_free / *_close accepts NULL and does nothing.
 *  - Strings returned by accessors point into the object they were read
 *    from and live exactly as long as that object (LMDB's MDB_val rule).
 *  - An odx_db is thread-safe: many threads may search, get and write at
 *    once; writes are serialised internally and group-committed. Builder
 *    objects (odx_meta, odx_batch, odx_search_params, odx_query) belong to
 *    one thread at a time.
 *  - A write returns only after its LMDB transaction has committed: an
 *    acknowledged write survives a crash of the process.
 */
#ifndef OMNIDEX_H
#define OMNIDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OMNIDEX_VERSION_MAJOR 0
#define OMNIDEX_VERSION_MINOR 1
#define OMNIDEX_VERSION_PATCH 0
#define OMNIDEX_VERSION_STRING "0.1.0"

/* The library's version string, e.g. "0.1.0". */
const char *odx_version(void);

/* ---- limits ------------------------------------------------------------ */

/* The limits a caller must respect, checked once by the engine (exceeding
 * one is ODX_EINVAL, or ODX_ELIMIT for a count of things) and mapped by every
 * adapter: over gRPC INVALID_ARGUMENT, or RESOURCE_EXHAUSTED for
 * ODX_MAX_QUERY_PARTS. Internal limits are in common/limits.h. */
#define ODX_MAX_DIM 65536          /* vector dimension: 1..ODX_MAX_DIM */
#define ODX_MAX_K 1024             /* hits per query: 1..ODX_MAX_K */
#define ODX_MAX_EF_SEARCH 65536    /* HNSW efSearch: 0 (index default)..this */
#define ODX_MAX_NPROBE (1 << 20)   /* IVF nprobe: 0 (index default)..this */
#define ODX_MAX_QUERY_PARTS 16     /* weighted parts of one odx_query */
#define ODX_MAX_NAME_LEN 128       /* bytes of a collection name */
#define ODX_MAX_ID_LEN 256         /* bytes of an item id */

/* ---- status codes ------------------------------------------------------ */

enum odx_status {
    ODX_OK = 0,
    ODX_EINVAL = -30900,  /* a bad argument or malformed input */
    ODX_ENOTFOUND,        /* no such collection, item or file */
    ODX_EEXIST,           /* the collection already exists */
    ODX_EDIM,             /* a vector has the wrong dimension */
    ODX_EVECTOR,          /* a vector holds NaN or Inf */
    ODX_EFILTER,          /* a filter does not parse or does not type-check */
    ODX_ECORRUPT,         /* stored data failed a consistency check */
    ODX_EVERSION,         /* on-disk format newer than this library */
    ODX_ENOMEM,           /* out of memory */
    ODX_EIO,              /* an I/O error (the message names the file) */
    ODX_EFULL,            /* the disk is full; reads still work */
    ODX_ELIMIT,           /* a request is over a configured limit */
    ODX_EPRECOND,         /* needs something absent (e.g. an encoder) */
    ODX_EUNSUPPORTED,     /* a valid request this build cannot serve */
    ODX_EINDEX,           /* the index library (FAISS) reported an error */
    ODX_ECANCELLED,       /* the operation was cancelled by the caller */
    ODX_ECLOSING,         /* the database is closing */
    ODX_EREADONLY,        /* a write on a read-only handle */
    ODX_EINTERNAL,        /* a bug in omnidex: please report it */
    ODX_EMEDIA,           /* undecodable or unsupported media */
    ODX_EUNAVAILABLE      /* a remote resource (a media URL) cannot be reached now */
};

/* A static, human-readable name for any status code (never NULL). */
const char *odx_strerror(int rc);
/* The calling thread's detail message for its most recent failure: which
 * collection, which field, which file. Valid until the thread's next
 * failing call. Never NULL ("" when there is none). */
const char *odx_last_error(void);

/* ---- enums ------------------------------------------------------------- */

typedef enum odx_metric {
    ODX_METRIC_COSINE = 0, /* vectors are L2-normalised; score = cosine */
    ODX_METRIC_IP = 1,     /* score = inner product (higher is better) */
    ODX_METRIC_L2 = 2      /* score = squared L2 distance (lower is better) */
} odx_metric;

typedef enum odx_modality {
    ODX_MODALITY_VECTOR = 0, /* a raw vector supplied by the caller */
    ODX_MODALITY_TEXT = 1,
    ODX_MODALITY_IMAGE = 2,
    ODX_MODALITY_AUDIO = 3,
    ODX_MODALITY_VIDEO = 4,
    ODX_MODALITY_MESH = 5
} odx_modality;
#define ODX_MODALITY_COUNT 6

/* "vector", "text", "image", "audio", "video", "mesh"; NULL if out of range. */
const char *odx_modality_name(odx_modality m);
/* Parses a modality name (also "3d" for mesh); returns 0 or ODX_EINVAL. */
int odx_modality_parse(const char *name, odx_modality *out);
/* "cosine", "ip", "l2" and back. */
const char *odx_metric_name(odx_metric m);
int odx_metric_parse(const char *name, odx_metric *out);

/* ---- database ---------------------------------------------------------- */

typedef struct odx_db odx_db;

#define ODX_OPEN_CREATE   0x1u /* create the directory if it does not exist */
#define ODX_OPEN_READONLY 0x2u /* no writes, no checkpoints */
#define ODX_OPEN_GPU      0x4u /* search collections that opted in on a GPU (make GPU=1
                                  builds; without a usable device: CPU, with a log line;
                                  in a CPU-only build: ODX_EUNSUPPORTED) */

/* Opens (or with ODX_OPEN_CREATE creates) the data directory at path.
 * Indexes are loaded from their checkpoints and the change log replayed; a
 * missing or corrupt checkpoint is rebuilt from LMDB with a log line. */
int odx_db_open(const char *path, unsigned flags, odx_db **out);
/* Waits for background work, checkpoints dirty indexes, closes. */
void odx_db_close(odx_db *db);
/* Write requests served and LMDB write transactions committed for them since
 * open: requests / transactions is the group-commit factor. */
void odx_db_write_stats(odx_db *db, uint64_t *requests, uint64_t *transactions);
/* Sets a process-wide option of this handle (not stored on disk). Names:
 *   fetch.allow_private  "1"/"0": media URLs may point at loopback, private,
 *                        link-local and other non-public addresses (default 0)
 *   fetch.file_root      a directory under which file:// URIs may be read
 *                        (repeat to allow several; default: none)
 *   fetch.max_bytes      largest media body fetched by URL (default 256 MiB)
 *   fetch.timeout_ms     time limit of one fetch, redirects included (30000)
 * ODX_EINVAL for an unknown name or a bad value. */
int odx_db_set_option(odx_db *db, const char *name, const char *value);

/* ---- collections ------------------------------------------------------- */

/* Creates a collection of vectors of dimension dim (1..ODX_MAX_DIM; 0 with a space
 * takes the space's dimension, and any other dim must equal it).
 * index_spec: a FAISS factory string ("Flat", "HNSW32,Flat", "IVF1024,Flat",
 * "IVF1024,PQ32np", "SQ8", ...) or "auto"/NULL (Flat below 50k vectors,
 * HNSW32 above). HNSW specs may add "efC=<n>" (efConstruction, 1..4096) and
 * "efS=<n>" (default efSearch, 1..65536) as components:
 * "HNSW32,Flat,efC=400,efS=96"; unset, they are 200 and 64. A bad spec is
 * ODX_EINVAL with the reason in odx_last_error(). An existing collection
 * keeps the graph it was built with until odx_collection_compact.
 * space: the embedding space the collection is bound to, or NULL for a plain
 * vector collection. Names: 1..ODX_MAX_NAME_LEN chars of [A-Za-z0-9_.-], not
 * starting with '.'. */
int odx_collection_create(odx_db *db, const char *name, int dim, odx_metric metric,
                          const char *index_spec, const char *space);
/* Drops a collection, its records and its index files. */
int odx_collection_drop(odx_db *db, const char *name);
/* The names of all collections, sorted. *names is one allocation: release it
 * with odx_free(); the strings live inside it. */
int odx_collection_list(odx_db *db, char ***names, size_t *count);

typedef struct odx_collection_info odx_collection_info;
int odx_collection_describe(odx_db *db, const char *name, odx_collection_info **out);
void odx_collection_info_free(odx_collection_info *info);
const char *odx_info_name(const odx_collection_info *info);
int odx_info_dim(const odx_collection_info *info);
odx_metric odx_info_metric(const odx_collection_info *info);
const char *odx_info_index_spec(const odx_collection_info *info);  /* as created */
const char *odx_info_index_type(const odx_collection_info *info);  /* in use now */
const char *odx_info_space(const odx_collection_info *info);       /* "" if none */
uint64_t odx_info_count(const odx_collection_info *info);          /* live items */
uint64_t odx_info_index_ntotal(const odx_collection_info *info);   /* vectors in index */
uint64_t odx_info_tombstones(const odx_collection_info *info);     /* deleted, not yet compacted */
uint64_t odx_info_lsn(const odx_collection_info *info);            /* last committed change */
uint64_t odx_info_checkpoint_lsn(const odx_collection_info *info); /* reflected by the index file */
int64_t odx_info_created(const odx_collection_info *info);         /* unix seconds */
int64_t odx_info_updated(const odx_collection_info *info);
uint64_t odx_info_vector_bytes(const odx_collection_info *info);   /* LMDB pages holding vectors */

/* Opts a collection in (on != 0) or out of GPU search, persistently. Takes
 * effect in processes opened with ODX_OPEN_GPU (at once in this one). */
int odx_collection_set_gpu(odx_db *db, const char *name, int on);
/* 1 when the collection opted in to GPU search, 2 when this process also
 * serves it from a GPU now, 0 otherwise. */
int odx_info_gpu(const odx_collection_info *info);

/* Forces an index checkpoint (the index file then reflects the last LSN). */
int odx_collection_checkpoint(odx_db *db, const char *name);
/* Rebuilds the index from LMDB now, dropping tombstones (and training IVF/PQ
 * when enough vectors exist). Runs in the calling thread; searches continue
 * on the old index meanwhile. */
int odx_collection_compact(odx_db *db, const char *name);

/* ---- metadata: typed key/values ----------------------------------------- */

typedef enum odx_value_type {
    ODX_VALUE_STRING = 1,
    ODX_VALUE_INT = 2,
    ODX_VALUE_FLOAT = 3,
    ODX_VALUE_BOOL = 4
} odx_value_type;

typedef struct odx_meta odx_meta;
int odx_meta_new(odx_meta **out);
void odx_meta_free(odx_meta *m);
/* Setting an existing key replaces its value. Keys: 1..64 bytes of
 * [A-Za-z0-9_.-]. Strings: valid UTF-8, no NUL, at most 400 bytes (they are
 * indexed for filters). */
int odx_meta_set_string(odx_meta *m, const char *key, const char *val, size_t len);
int odx_meta_set_int(odx_meta *m, const char *key, int64_t val);
int odx_meta_set_float(odx_meta *m, const char *key, double val);
int odx_meta_set_bool(odx_meta *m, const char *key, int val);
size_t odx_meta_count(const odx_meta *m);
const char *odx_meta_key(const odx_meta *m, size_t i);
odx_value_type odx_meta_type(const odx_meta *m, size_t i);
const char *odx_meta_string(const odx_meta *m, size_t i, size_t *len);
int64_t odx_meta_int(const odx_meta *m, size_t i);
double odx_meta_float(const odx_meta *m, size_t i);
int odx_meta_bool(const odx_meta *m, size_t i);
/* Copies every key/value of src into dst (dst must be empty). */
int odx_meta_copy(odx_meta *dst, const odx_meta *src);
/* Index of key, or -1. */
long odx_meta_find(const odx_meta *m, const char *key);
/* Appends the metadata as a JSON object to a new string; free with odx_free. */
int odx_meta_to_json(const odx_meta *m, char **json);

/* ---- writes ------------------------------------------------------------ */

typedef struct odx_batch odx_batch;
int odx_batch_new(odx_batch **out);
void odx_batch_free(odx_batch *b);
void odx_batch_clear(odx_batch *b);
size_t odx_batch_size(const odx_batch *b);
/* Adds an item with a vector payload. The vector and metadata are copied;
 * meta and source may be NULL. Ids: 1..ODX_MAX_ID_LEN bytes, any bytes but NUL. The
 * dimension, NaN/Inf and the id are checked here and again at upsert. */
int odx_batch_add(odx_batch *b, const char *id, const float *vec, int dim,
                  const odx_meta *meta, odx_modality modality, const char *source);
/* Adds an item whose vector the collection's space must compute from a text
 * or media payload (bytes, or a URI when data is NULL). The URI is recorded
 * as the item's source; with bytes and a URI both, the bytes are embedded
 * and the URI (e.g. the file's path) is only recorded. Upserting such an
 * item fails with ODX_EPRECOND when the collection has no encoder for it. */
int odx_batch_add_payload(odx_batch *b, const char *id, odx_modality modality,
                          const void *data, size_t len, const char *uri,
                          const odx_meta *meta);

/* Inserts or replaces every item of the batch in one transaction. An item
 * whose id exists replaces the old record and vector. All or nothing. */
int odx_upsert(odx_db *db, const char *collection, const odx_batch *b);
/* Deletes items by id; ids that do not exist are skipped. *deleted (may be
 * NULL) receives how many existed. */
int odx_delete(odx_db *db, const char *collection, const char *const *ids, size_t n,
               size_t *deleted);

/* ---- reads ------------------------------------------------------------- */

typedef struct odx_record odx_record;
/* ODX_ENOTFOUND when there is no such item. */
int odx_get(odx_db *db, const char *collection, const char *id, odx_record **out);
void odx_record_free(odx_record *r);
const char *odx_record_id(const odx_record *r);
odx_modality odx_record_modality(const odx_record *r);
const odx_meta *odx_record_meta(const odx_record *r);
const float *odx_record_vector(const odx_record *r, int *dim);
const char *odx_record_source(const odx_record *r); /* "" if none */
int64_t odx_record_created(const odx_record *r);
int64_t odx_record_updated(const odx_record *r);

/* ---- filters ----------------------------------------------------------- */

/* The filter language: comparisons `field = value`, `!=`, `<`, `<=`, `>`,
 * `>=`, `field IN (v1, v2, ...)`, combined with AND, OR, NOT and
 * parentheses. Values: "strings" (with \" \\ \n \t \uXXXX escapes), integers,
 * floats, true, false. Keywords are case-insensitive. Numbers compare across
 * int and float fields. `a != v` means NOT (a = v). Nesting depth <= 64.
 * Type check at search time: a field's type is that of the values live items
 * hold for it. A literal that fits none of them (a string against an integer
 * field, a number against a string field, a bool against either) makes the
 * search fail with ODX_EFILTER naming the field, its type(s) and the
 * literal. A field no item holds is no error (it matches nothing); a field
 * holding several types compares each item's value of the literal's type. */
typedef struct odx_filter odx_filter;
int odx_filter_parse(const char *expr, odx_filter **out);
void odx_filter_free(odx_filter *f);
/* Builders for callers that hold a structured filter (e.g. the gRPC API).
 * The combinators take ownership of their operands, even on failure. */
typedef enum odx_filter_op {
    ODX_FILTER_EQ = 1, ODX_FILTER_NE, ODX_FILTER_LT, ODX_FILTER_LE,
    ODX_FILTER_GT, ODX_FILTER_GE
} odx_filter_op;
int odx_filter_cmp_string(const char *field, odx_filter_op op, const char *v, size_t len, odx_filter **out);
int odx_filter_cmp_int(const char *field, odx_filter_op op, int64_t v, odx_filter **out);
int odx_filter_cmp_float(const char *field, odx_filter_op op, double v, odx_filter **out);
int odx_filter_cmp_bool(const char *field, odx_filter_op op, int v, odx_filter **out);
/* IN: an empty set that the caller fills with odx_filter_in_add_*. */
int odx_filter_in(const char *field, odx_filter **out);
int odx_filter_in_add_string(odx_filter *in, const char *v, size_t len);
int odx_filter_in_add_int(odx_filter *in, int64_t v);
int odx_filter_in_add_float(odx_filter *in, double v);
int odx_filter_in_add_bool(odx_filter *in, int v);
int odx_filter_and(odx_filter *a, odx_filter *b, odx_filter **out);
int odx_filter_or(odx_filter *a, odx_filter *b, odx_filter **out);
int odx_filter_not(odx_filter *a, odx_filter **out);
/* The filter in the filter language (round-trips through odx_filter_parse). */
int odx_filter_to_string(const odx_filter *f, char **out);

/* ---- search ------------------------------------------------------------ */

typedef struct odx_search_params odx_search_params;
int odx_search_params_new(odx_search_params **out);
void odx_search_params_free(odx_search_params *p);
int odx_search_params_set_k(odx_search_params *p, int k);               /* 1..ODX_MAX_K, default 10 */
int odx_search_params_set_ef_search(odx_search_params *p, int ef);      /* HNSW, 0 = index default, ..ODX_MAX_EF_SEARCH */
int odx_search_params_set_nprobe(odx_search_params *p, int nprobe);     /* IVF, 0 = index default, ..ODX_MAX_NPROBE */
/* The filter is borrowed: it must outlive the params' use. NULL clears it. */
int odx_search_params_set_filter(odx_search_params *p, const odx_filter *f);
/* Restricts hits to items of the modalities in mask (bit 1<<modality);
 * 0 = all. */
int odx_search_params_set_modalities(odx_search_params *p, unsigned mask);
/* Exact search (brute force over the stored vectors), whatever the index. */
int odx_search_params_set_exact(odx_search_params *p, int exact);
/* Fetch each hit's metadata too (off by default). */
int odx_search_params_set_with_meta(odx_search_params *p, int on);
/* 0 keeps this search on the CPU even where a GPU mirror exists. */
int odx_search_params_set_gpu(odx_search_params *p, int on);
/* Parses "efSearch=64", "nprobe=16", "k=5", "exact=1", "gpu=0". */
int odx_search_params_set(odx_search_params *p, const char *name_eq_value);

typedef struct odx_results odx_results;
/* Searches nq query vectors (row-major, nq x dim). Hits per query are
 * sorted best first: by descending score for cosine/ip, ascending distance
 * for l2. params may be NULL (k = 10). */
int odx_search(odx_db *db, const char *collection, const float *queries, size_t nq,
               int dim, const odx_search_params *params, odx_results **out);
void odx_results_free(odx_results *r);
size_t odx_results_nq(const odx_results *r);
size_t odx_results_count(const odx_results *r, size_t q);
const char *odx_results_id(const odx_results *r, size_t q, size_t i);
float odx_results_score(const odx_results *r, size_t q, size_t i);
odx_modality odx_results_modality(const odx_results *r, size_t q, size_t i);
/* NULL unless params asked for metadata. */
const odx_meta *odx_results_meta(const odx_results *r, size_t q, size_t i);

/* ---- multi-part queries ------------------------------------------------ */

/* A query of weighted parts: vectors, existing item ids, text or media.
 * Parts are embedded in the collection's space, weighted, summed and
 * renormalised (cosine) into one query vector. At most ODX_MAX_QUERY_PARTS
 * parts: the next add returns ODX_ELIMIT. (16: each text or media part is a
 * forward pass of an encoder, and the gRPC API has always allowed 16.) */
typedef struct odx_query odx_query;
int odx_query_new(odx_query **out);
void odx_query_free(odx_query *q);
int odx_query_add_vector(odx_query *q, const float *vec, int dim, float weight);
int odx_query_add_item(odx_query *q, const char *id, float weight);
/* Text or media payload: bytes, or a URI when data is NULL. */
int odx_query_add_payload(odx_query *q, odx_modality modality, const void *data, size_t len,
                          const char *uri, float weight);
int odx_search_query(odx_db *db, const char *collection, const odx_query *q,
                     const odx_search_params *params, odx_results **out);

/* ---- embedding spaces -------------------------------------------------- */

/* Spaces live along the models search path, one directory each (a model
 * plus space.json): the directories of $OMNIDEX_MODELS (colon-separated),
 * else $HOME/.omnidex/models, then the spaces shipped with omnidex
 * (<bin>/../share/omnidex/models, where 'make install' puts them),
 * /usr/local/share/omnidex/models and /usr/share/omnidex/models. */

/* Embeds one text (UTF-8) or media payload with the named space. data may be
 * NULL with a uri instead, fetched under the database's URL policy
 * (odx_db_set_option "fetch.*"). *vec holds *dim floats, L2-normalised; free
 * it with odx_free. ODX_EPRECOND when the space is not installed or has no
 * encoder for the modality; ODX_EMEDIA for undecodable media. For a uri:
 * ODX_EINVAL for a malformed URL, a scheme other than http/https/file or a
 * target the policy refuses; ODX_EUNAVAILABLE when the host does not
 * resolve, does not answer or answers 5xx; ODX_ENOTFOUND for HTTP 404;
 * ODX_ELIMIT over the size or time limit. Upserts and query parts with a uri
 * fail the same way. */
int odx_embed(odx_db *db, const char *space, odx_modality modality, const void *data, size_t len,
              const char *uri, float **vec, int *dim);
/* The installed spaces, sorted: one allocation (odx_free), like
 * odx_collection_list. */
int odx_space_list(char ***names, size_t *count);
/* The spaces db can embed with: odx_space_list() for a local data directory,
 * the server's for a client-backed handle. */
int odx_db_space_list(odx_db *db, char ***names, size_t *count);
/* Dimension and modalities (bit 1 << modality) of an installed space. */
int odx_space_info(odx_db *db, const char *space, int *dim, unsigned *modalities);

/* What media bytes hold, from magic bytes and structure (nothing is
 * decoded): the format detection of the decoders themselves, then UTF-8
 * text (no NUL). The CLI picks encoders with it. *modality: what the bytes
 * are taken as (an animated GIF is a video, a one-frame GIF an image);
 * *modalities: every modality they can be embedded as (bit 1 << m; a GIF
 * is both image and video); *format: a static name ("JPEG", "PNG", "GIF",
 * "animated GIF", "WebP", "BMP", "WAV", "FLAC", "Ogg/Vorbis", "MP3", ...,
 * "MP4/MOV", "WebM/MKV", "PLY", "OBJ", "OFF", "STL", "glTF", "GLB",
 * "UTF-8 text"). Out pointers may be NULL. ODX_EMEDIA when the bytes are
 * none of these; odx_last_error() then says "empty file" or "unknown
 * binary data". Recognised is not decodable: a truncated PNG is "PNG". */
int odx_media_sniff(const void *data, size_t len, odx_modality *modality, unsigned *modalities,
                    const char **format);

/* ---- memory ------------------------------------------------------------ */

/* Frees memory that omnidex returned to the caller (strings, name lists). */
void odx_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* OMNIDEX_H */
