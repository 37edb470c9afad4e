/* The field index behind filters. Each metadata value of a live item is one
 * key, with an empty value:
 *   field \0 tag value seq
 * tag 'i' (int64, sign bit flipped, big-endian), 'f' (double, order-
 * preserving bit trick), 's' (bytes, then \0: strings hold no NUL), 'b' (one
 * byte). Keys sort by field, type, value, seq, so equality is a prefix scan
 * and ranges are cursor walks. Numbers compare across 'i' and 'f' exactly.
 * The reserved field "@modality" (int) lets searches restrict modalities. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "storage/store.h"

#define KEY_MAX 511

static void enc_i(unsigned char *p, int64_t v) { odx_put_be64(p, (uint64_t)v ^ (1ull << 63)); }
static int64_t dec_i(const unsigned char *p) { return (int64_t)(odx_get_be64(p) ^ (1ull << 63)); }
static void enc_f(unsigned char *p, double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    b = (b >> 63) ? ~b : (b | (1ull << 63));
    odx_put_be64(p, b);
}
static double dec_f(const unsigned char *p)
{
    uint64_t b = odx_get_be64(p);
    b = (b >> 63) ? (b & ~(1ull << 63)) : ~b;
    double d;
    memcpy(&d, &b, 8);
    return d;
}

/* Builds field\0tag into k; returns its length. */
static size_t key_prefix(unsigned char *k, const char *field, char tag)
{
    size_t n = strlen(field);
    memcpy(k, field, n);
    k[n] = 0;
    k[n + 1] = (unsigned char)tag;
    return n + 2;
}

static size_t key_value(unsigned char *k, size_t o, odx_value_type t, const void *v, size_t slen)
{
    switch (t) {
    case ODX_VALUE_INT: enc_i(k + o, *(const int64_t *)v); return o + 8;
    case ODX_VALUE_FLOAT: enc_f(k + o, *(const double *)v); return o + 8;
    case ODX_VALUE_BOOL: k[o] = (unsigned char)(*(const int *)v ? 1 : 0); return o + 1;
    case ODX_VALUE_STRING: memcpy(k + o, v, slen); k[o + slen] = 0; return o + slen + 1;
    }
    return o;
}

static char tag_of(odx_value_type t)
{
    return t == ODX_VALUE_INT ? 'i' : t == ODX_VALUE_FLOAT ? 'f' : t == ODX_VALUE_BOOL ? 'b' : 's';
}

static int entry_op(MDB_txn *txn, MDB_dbi fields, uint64_t seq, const char *field, odx_value_type t,
                    const void *v, size_t slen, int del)
{
    unsigned char k[KEY_MAX];
    size_t o = key_prefix(k, field, tag_of(t));
    o = key_value(k, o, t, v, slen);
    odx_put_be64(k + o, seq);
    o += 8;
    MDB_val key = {o, k}, val = {0, NULL};
    int rc = del ? mdb_del(txn, fields, &key, NULL) : mdb_put(txn, fields, &key, &val, 0);
    if (del && rc == MDB_NOTFOUND) return 0;
    return odx_mdb_err(rc, "updating field index");
}

static int fields_apply(MDB_txn *txn, MDB_dbi fields, uint64_t seq, odx_modality mod, const odx_meta *m, int del)
{
    int64_t mi = mod;
    int rc = entry_op(txn, fields, seq, "@modality", ODX_VALUE_INT, &mi, 0, del);
    for (size_t i = 0; !rc && m && i < m->n; i++) {
        const struct odx_meta_entry *e = &m->e[i];
        const void *v = e->val.type == ODX_VALUE_STRING ? (const void *)e->val.v.str.s
                        : e->val.type == ODX_VALUE_INT  ? (const void *)&e->val.v.i
                        : e->val.type == ODX_VALUE_FLOAT ? (const void *)&e->val.v.f
                                                     : (const void *)&e->val.v.b;
        rc = entry_op(txn, fields, seq, e->key, e->val.type, v, e->val.type == ODX_VALUE_STRING ? e->val.v.str.len : 0, del);
    }
    return rc;
}

int odx_fields_add(MDB_txn *txn, MDB_dbi fields, uint64_t seq, odx_modality mod, const odx_meta *meta)
{
    return fields_apply(txn, fields, seq, mod, meta, 0);
}

int odx_fields_del(MDB_txn *txn, MDB_dbi fields, uint64_t seq, odx_modality mod, const odx_meta *meta)
{
    return fields_apply(txn, fields, seq, mod, meta, 1);
}

/* ---- evaluation ---- */

/* Compares a stored value (tag, bytes) with a literal: <0, 0, >0. Numbers
 * compare across int and float; 2 means "not comparable". */
static int cmp_num(long double a, long double b) { return a < b ? -1 : a > b ? 1 : 0; }

static int compare(char tag, const unsigned char *v, size_t vlen, const struct odx_value *lit)
{
    switch (tag) {
    case 'i': {
        int64_t s = dec_i(v);
        if (lit->type == ODX_VALUE_INT) return s < lit->v.i ? -1 : s > lit->v.i ? 1 : 0;
        if (lit->type == ODX_VALUE_FLOAT) return cmp_num((long double)s, (long double)lit->v.f);
        return 2;
    }
    case 'f': {
        double s = dec_f(v);
        if (lit->type == ODX_VALUE_FLOAT) return cmp_num(s, lit->v.f);
        if (lit->type == ODX_VALUE_INT) return cmp_num((long double)s, (long double)lit->v.i);
        return 2;
    }
    case 'b':
        if (lit->type != ODX_VALUE_BOOL) return 2;
        return (int)v[0] - lit->v.b;
    case 's': {
        if (lit->type != ODX_VALUE_STRING) return 2;
        size_t n = vlen < lit->v.str.len ? vlen : lit->v.str.len;
        int c = memcmp(v, lit->v.str.s, n);
        if (c) return c < 0 ? -1 : 1;
        return vlen < lit->v.str.len ? -1 : vlen > lit->v.str.len ? 1 : 0;
    }
    }
    return 2;
}

static int op_holds(odx_filter_op op, int c)
{
    switch (op) {
    case ODX_FILTER_EQ: return c == 0;
    case ODX_FILTER_NE: return c != 0;
    case ODX_FILTER_LT: return c < 0;
    case ODX_FILTER_LE: return c <= 0;
    case ODX_FILTER_GT: return c > 0;
    case ODX_FILTER_GE: return c >= 0;
    }
    return 0;
}

/* Walks the keys of one (field, tag) domain from a lower bound and sets the
 * seqs whose value satisfies `value op lit`. The walk stops once values pass
 * the literal for EQ/LT/LE. */
static int scan_domain(MDB_cursor *cur, const char *field, char tag, odx_filter_op op,
                       const struct odx_value *lit, odx_bitmap *out)
{
    unsigned char k[KEY_MAX];
    size_t plen = key_prefix(k, field, tag), klen = plen;
    /* Lower bound for the walk: the literal itself (conservatively rounded
     * into this domain's type) for EQ/GT/GE; the domain's start otherwise. */
    int seek = op == ODX_FILTER_EQ || op == ODX_FILTER_GT || op == ODX_FILTER_GE;
    if (seek) {
        if (tag == 'i' && lit->type == ODX_VALUE_INT) { enc_i(k + plen, lit->v.i); klen += 8; }
        else if (tag == 'i' && lit->type == ODX_VALUE_FLOAT) {
            double f = floor(lit->v.f);
            int64_t lo = f <= -9.2233720368547758e18 ? INT64_MIN : f >= 9.2233720368547758e18 ? INT64_MAX : (int64_t)f;
            enc_i(k + plen, lo);
            klen += 8;
        } else if (tag == 'f' && lit->type == ODX_VALUE_FLOAT) { enc_f(k + plen, lit->v.f); klen += 8; }
        else if (tag == 'f' && lit->type == ODX_VALUE_INT) {
            enc_f(k + plen, nextafter((double)lit->v.i, -INFINITY));
            klen += 8;
        } else if (tag == 's' && lit->type == ODX_VALUE_STRING) {
            memcpy(k + plen, lit->v.str.s, lit->v.str.len);
            klen += lit->v.str.len;
        } else if (tag == 'b' && lit->type == ODX_VALUE_BOOL) { k[plen] = (unsigned char)lit->v.b; klen += 1; }
    }
    MDB_val key = {klen, k}, val;
    int rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); !rc; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        const unsigned char *kk = key.mv_data;
        if (key.mv_size < plen + 9 || memcmp(kk, k, plen)) break; /* left the domain */
        const unsigned char *v = kk + plen;
        size_t vlen = key.mv_size - plen - 8;
        if (tag == 's') vlen--; /* terminator */
        int c = compare(tag, v, vlen, lit);
        if (c == 2) break;
        if (op_holds(op, c)) {
            uint64_t seq = odx_get_be64(kk + key.mv_size - 8);
            if (seq < out->nbits) odx_bitmap_set(out, seq);
        } else if (c > 0 && (op == ODX_FILTER_EQ || op == ODX_FILTER_LT || op == ODX_FILTER_LE)) {
            break;
        }
    }
    if (rc && rc != MDB_NOTFOUND) return odx_mdb_err(rc, "scanning field index");
    return 0;
}

/* ---- type checking ----
 * Metadata has no schema: a field's type is the type of the values live
 * items hold for it, read off the index's (field, tag) domains. A literal
 * must fit at least one of them (numbers fit int and float alike), else
 * the comparison could never hold and the filter is refused instead of
 * quietly matching nothing. A field no item holds yet is not an error: it
 * matches nothing. A field holding several types compares each item by the
 * values of the literal's type. */
static const char type_tags[4] = {'b', 'f', 'i', 's'};
static const char *const type_names[4] = {"boolean", "float", "integer", "string"};

/* Bit i set when some item holds field with type_tags[i]. */
static int field_types(MDB_cursor *cur, const char *field, unsigned *mask)
{
    *mask = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char k[KEY_MAX];
        size_t plen = key_prefix(k, field, type_tags[i]);
        MDB_val key = {plen, k}, val;
        int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND) continue;
        if (rc) return odx_mdb_err(rc, "scanning field index");
        if (key.mv_size > plen && !memcmp(key.mv_data, k, plen)) *mask |= 1u << i;
    }
    return 0;
}

static unsigned lit_types(const struct odx_value *lit)
{
    switch (lit->type) {
    case ODX_VALUE_BOOL: return 1u << 0;
    case ODX_VALUE_INT:
    case ODX_VALUE_FLOAT: return 1u << 1 | 1u << 2;
    case ODX_VALUE_STRING: return 1u << 3;
    }
    return 0;
}

static int type_check(MDB_cursor *cur, const char *field, const struct odx_value *lit)
{
    unsigned have;
    int rc = field_types(cur, field, &have);
    if (rc || !have || (have & lit_types(lit))) return rc;
    char held[64] = "", shown[96];
    for (int i = 0, n = 0; i < 4; i++)
        if (have & (1u << i))
            snprintf(held + strlen(held), sizeof held - strlen(held), "%s%s", n++ ? " and " : "", type_names[i]);
    switch (lit->type) {
    case ODX_VALUE_STRING:
        snprintf(shown, sizeof shown, "the string \"%.*s%s\"", lit->v.str.len > 64 ? 64 : (int)lit->v.str.len,
                 lit->v.str.s, lit->v.str.len > 64 ? "..." : "");
        break;
    case ODX_VALUE_INT: snprintf(shown, sizeof shown, "the number %lld", (long long)lit->v.i); break;
    case ODX_VALUE_FLOAT: snprintf(shown, sizeof shown, "the number %.15g", lit->v.f); break;
    case ODX_VALUE_BOOL: snprintf(shown, sizeof shown, "%s", lit->v.b ? "true" : "false"); break;
    }
    return odx_error(ODX_EFILTER, "filter: field '%s' holds %s values; it cannot be compared with %s", field, held,
                     shown);
}

static int eval_cmp(MDB_cursor *cur, const char *field, odx_filter_op op, const struct odx_value *lit,
                    odx_bitmap *out)
{
    int trc = type_check(cur, field, lit);
    if (trc) return trc;
    static const char num_tags[] = {'i', 'f'};
    if (lit->type == ODX_VALUE_INT || lit->type == ODX_VALUE_FLOAT) {
        for (int i = 0; i < 2; i++) {
            int rc = scan_domain(cur, field, num_tags[i], op, lit, out);
            if (rc) return rc;
        }
        return 0;
    }
    return scan_domain(cur, field, lit->type == ODX_VALUE_STRING ? 's' : 'b', op, lit, out);
}

static int bitmap_like(const odx_bitmap *live, odx_bitmap *out)
{
    memset(out, 0, sizeof *out);
    if (odx_bitmap_resize(out, live->nbits ? live->nbits : 1)) return odx_error(ODX_ENOMEM, "out of memory for a filter bitmap");
    out->nbits = live->nbits;
    return 0;
}

static int eval(MDB_cursor *cur, const odx_filter *f, const odx_bitmap *live, odx_bitmap *out)
{
    int rc = bitmap_like(live, out);
    if (rc) return rc;
    size_t nw = odx_bitmap_words(live->nbits);
    switch (f->kind) {
    case ODX_FK_CMP:
        if (f->op == ODX_FILTER_NE) {
            if ((rc = eval_cmp(cur, f->field, ODX_FILTER_EQ, &f->val, out))) break;
            for (size_t i = 0; i < nw; i++) out->w[i] = ~out->w[i] & live->w[i];
        } else {
            rc = eval_cmp(cur, f->field, f->op, &f->val, out);
        }
        break;
    case ODX_FK_IN:
        for (size_t i = 0; !rc && i < f->nset; i++) rc = eval_cmp(cur, f->field, ODX_FILTER_EQ, &f->set[i], out);
        break;
    case ODX_FK_NOT: {
        odx_bitmap a;
        if ((rc = eval(cur, f->a, live, &a))) break;
        for (size_t i = 0; i < nw; i++) out->w[i] = ~a.w[i] & live->w[i];
        odx_bitmap_free(&a);
        break;
    }
    case ODX_FK_AND:
    case ODX_FK_OR: {
        odx_bitmap a, b;
        if ((rc = eval(cur, f->a, live, &a))) break;
        if ((rc = eval(cur, f->b, live, &b))) { odx_bitmap_free(&a); break; }
        for (size_t i = 0; i < nw; i++)
            out->w[i] = f->kind == ODX_FK_AND ? (a.w[i] & b.w[i]) : (a.w[i] | b.w[i]);
        odx_bitmap_free(&a);
        odx_bitmap_free(&b);
        break;
    }
    default: rc = odx_error(ODX_EFILTER, "malformed filter");
    }
    if (rc) odx_bitmap_free(out);
    return rc;
}

int odx_fields_eval(MDB_txn *txn, MDB_dbi fields, const odx_filter *f, const odx_bitmap *live, odx_bitmap *out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, fields, &cur);
    if (rc) return odx_mdb_err(rc, "opening field index");
    rc = eval(cur, f, live, out);
    mdb_cursor_close(cur);
    if (!rc) {
        /* Only live seqs (the index may lag a concurrent delete by a txn). */
        size_t nw = odx_bitmap_words(live->nbits);
        for (size_t i = 0; i < nw; i++) out->w[i] &= live->w[i];
    }
    return rc;
}
