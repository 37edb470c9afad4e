/* odx_meta: an item's typed key/values (declared in omnidex.h), plus the
 * compact binary encoding records are stored with. */
#ifndef ODX_COMMON_META_H
#define ODX_COMMON_META_H
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "omnidex.h"

/* A typed value: metadata values and filter literals alike. */
struct odx_value {
    odx_value_type type;
    union {
        struct { char *s; size_t len; } str;
        int64_t i;
        double f;
        int b;
    } v;
};

struct odx_meta_entry {
    char *key;
    struct odx_value val;
};

struct odx_meta {
    struct odx_meta_entry *e;
    size_t n, cap;
};

/* 1 if key is a valid user metadata key. */
int odx_meta_key_valid(const char *key, size_t len);
/* Frees every entry, leaving an empty set. */
void odx_meta_clear(odx_meta *m);
/* odx_meta_copy is public (omnidex.h). */
/* Binary encoding: appends to a growing buffer; decode validates bounds. */
int odx_meta_encode(const odx_meta *m, unsigned char **buf, size_t *len, size_t *cap);
int odx_meta_decode(const unsigned char *p, size_t len, size_t *used, odx_meta *out);
/* odx_json_append_string is public (omnidex_util.h). */
/* odx_buf_append and odx_buf_printf are public (omnidex_util.h). */

#endif
