/* Typed metadata key/values and their binary record encoding:
 *   u16 count, then per entry: u8 keylen, key, u8 type, value
 *   (string: u16 len + bytes; int/float: 8 bytes LE; bool: 1 byte). */
#include "common/meta.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"

int odx_meta_new(odx_meta **out)
{
    odx_meta *m = odx_calloc(1, sizeof *m);
    if (!m) return odx_error(ODX_ENOMEM, "out of memory");
    *out = m;
    return 0;
}

static void entry_free(struct odx_meta_entry *e)
{
    odx_free(e->key);
    if (e->val.type == ODX_VALUE_STRING) odx_free(e->val.v.str.s);
}

void odx_meta_clear(odx_meta *m)
{
    for (size_t i = 0; i < m->n; i++) entry_free(&m->e[i]);
    m->n = 0;
}

void odx_meta_free(odx_meta *m)
{
    if (!m) return;
    odx_meta_clear(m);
    odx_free(m->e);
    odx_free(m);
}

int odx_meta_key_valid(const char *key, size_t len)
{
    return odx_name_valid(key, len, ODX_META_MAX_KEY, 0);
}

long odx_meta_find(const odx_meta *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->e[i].key, key)) return (long)i;
    return -1;
}

/* Returns the entry for key, creating it (or clearing the old value). */
static int slot(odx_meta *m, const char *key, struct odx_meta_entry **out)
{
    if (!key || !odx_meta_key_valid(key, strlen(key)))
        return odx_error(ODX_EINVAL, "invalid metadata key '%.80s' (1-64 chars of A-Z a-z 0-9 _ . -)",
                         key ? key : "(null)");
    long i = odx_meta_find(m, key);
    if (i >= 0) {
        struct odx_meta_entry *e = &m->e[i];
        if (e->val.type == ODX_VALUE_STRING) odx_free(e->val.v.str.s);
        e->val.type = 0;
        *out = e;
        return 0;
    }
    if (m->n >= ODX_META_MAX_FIELDS)
        return odx_error(ODX_ELIMIT, "more than %d metadata fields", ODX_META_MAX_FIELDS);
    int rc = odx_grow(&m->e, &m->cap, m->n + 1, sizeof *m->e);
    if (rc) return rc;
    struct odx_meta_entry *e = &m->e[m->n];
    memset(e, 0, sizeof *e);
    e->key = odx_strdup(key);
    if (!e->key) return odx_error(ODX_ENOMEM, "out of memory");
    m->n++;
    *out = e;
    return 0;
}

/* A string slot must not be left half-set: on failure the entry is removed. */
static void drop_last_if_untyped(odx_meta *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->e[i].val.type == 0) {
            odx_free(m->e[i].key);
            memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof *m->e);
            m->n--;
            return;
        }
    }
}

int odx_meta_set_string(odx_meta *m, const char *key, const char *val, size_t len)
{
    if (!val) return odx_error(ODX_EINVAL, "metadata '%s': NULL string", key ? key : "");
    if (len > ODX_META_MAX_STRING)
        return odx_error(ODX_ELIMIT, "metadata '%s': string of %zu bytes (max %d)", key ? key : "",
                         len, ODX_META_MAX_STRING);
    if (memchr(val, 0, len))
        return odx_error(ODX_EINVAL, "metadata '%s': string contains a NUL byte", key ? key : "");
    if (!odx_utf8_valid(val, len))
        return odx_error(ODX_EINVAL, "metadata '%s': string is not valid UTF-8", key ? key : "");
    struct odx_meta_entry *e;
    int rc = slot(m, key, &e);
    if (rc) return rc;
    e->val.v.str.s = odx_strndup(val, len);
    if (!e->val.v.str.s) {
        drop_last_if_untyped(m);
        return odx_error(ODX_ENOMEM, "out of memory");
    }
    e->val.v.str.len = len;
    e->val.type = ODX_VALUE_STRING;
    return 0;
}

int odx_meta_set_int(odx_meta *m, const char *key, int64_t val)
{
    struct odx_meta_entry *e;
    int rc = slot(m, key, &e);
    if (rc) return rc;
    e->val.type = ODX_VALUE_INT;
    e->val.v.i = val;
    return 0;
}

int odx_meta_set_float(odx_meta *m, const char *key, double val)
{
    if (!isfinite(val))
        return odx_error(ODX_EINVAL, "metadata '%s': float is NaN or Inf", key ? key : "");
    struct odx_meta_entry *e;
    int rc = slot(m, key, &e);
    if (rc) return rc;
    e->val.type = ODX_VALUE_FLOAT;
    e->val.v.f = val == 0 ? 0.0 : val; /* -0.0 and 0.0 index alike */
    return 0;
}

int odx_meta_set_bool(odx_meta *m, const char *key, int val)
{
    struct odx_meta_entry *e;
    int rc = slot(m, key, &e);
    if (rc) return rc;
    e->val.type = ODX_VALUE_BOOL;
    e->val.v.b = val ? 1 : 0;
    return 0;
}

size_t odx_meta_count(const odx_meta *m) { return m ? m->n : 0; }
const char *odx_meta_key(const odx_meta *m, size_t i) { return i < m->n ? m->e[i].key : NULL; }
odx_value_type odx_meta_type(const odx_meta *m, size_t i) { return i < m->n ? m->e[i].val.type : 0; }
const char *odx_meta_string(const odx_meta *m, size_t i, size_t *len)
{
    if (i >= m->n || m->e[i].val.type != ODX_VALUE_STRING) return NULL;
    if (len) *len = m->e[i].val.v.str.len;
    return m->e[i].val.v.str.s;
}
int64_t odx_meta_int(const odx_meta *m, size_t i)
{
    return i < m->n && m->e[i].val.type == ODX_VALUE_INT ? m->e[i].val.v.i : 0;
}
double odx_meta_float(const odx_meta *m, size_t i)
{
    return i < m->n && m->e[i].val.type == ODX_VALUE_FLOAT ? m->e[i].val.v.f : 0.0;
}
int odx_meta_bool(const odx_meta *m, size_t i)
{
    return i < m->n && m->e[i].val.type == ODX_VALUE_BOOL ? m->e[i].val.v.b : 0;
}

int odx_meta_copy(odx_meta *dst, const odx_meta *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct odx_meta_entry *e = &src->e[i];
        int rc = 0;
        switch (e->val.type) {
        case ODX_VALUE_STRING: rc = odx_meta_set_string(dst, e->key, e->val.v.str.s, e->val.v.str.len); break;
        case ODX_VALUE_INT: rc = odx_meta_set_int(dst, e->key, e->val.v.i); break;
        case ODX_VALUE_FLOAT: rc = odx_meta_set_float(dst, e->key, e->val.v.f); break;
        case ODX_VALUE_BOOL: rc = odx_meta_set_bool(dst, e->key, e->val.v.b); break;
        }
        if (rc) return rc;
    }
    return 0;
}

int odx_buf_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    int rc = odx_grow(buf, cap, *len + n + 1, 1);
    if (rc) return rc;
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int odx_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return odx_error(ODX_EINTERNAL, "format error");
    if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
    return odx_buf_append(buf, len, cap, tmp, (size_t)n);
}

int odx_json_append_string(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    int rc = odx_buf_append(buf, len, cap, "\"", 1);
    for (size_t i = 0; !rc && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') rc = odx_buf_append(buf, len, cap, "\\\"", 2);
        else if (c == '\\') rc = odx_buf_append(buf, len, cap, "\\\\", 2);
        else if (c == '\n') rc = odx_buf_append(buf, len, cap, "\\n", 2);
        else if (c == '\t') rc = odx_buf_append(buf, len, cap, "\\t", 2);
        else if (c == '\r') rc = odx_buf_append(buf, len, cap, "\\r", 2);
        else if (c < 0x20) rc = odx_buf_printf(buf, len, cap, "\\u%04x", c);
        else rc = odx_buf_append(buf, len, cap, (const char *)&s[i], 1);
    }
    if (!rc) rc = odx_buf_append(buf, len, cap, "\"", 1);
    return rc;
}

int odx_meta_to_json(const odx_meta *m, char **json)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    int rc = odx_buf_append(&b, &len, &cap, "{", 1);
    for (size_t i = 0; !rc && m && i < m->n; i++) {
        const struct odx_meta_entry *e = &m->e[i];
        if (i) rc = odx_buf_append(&b, &len, &cap, ",", 1);
        if (!rc) rc = odx_json_append_string(&b, &len, &cap, e->key, strlen(e->key));
        if (!rc) rc = odx_buf_append(&b, &len, &cap, ":", 1);
        if (rc) break;
        switch (e->val.type) {
        case ODX_VALUE_STRING: rc = odx_json_append_string(&b, &len, &cap, e->val.v.str.s, e->val.v.str.len); break;
        case ODX_VALUE_INT: rc = odx_buf_printf(&b, &len, &cap, "%lld", (long long)e->val.v.i); break;
        case ODX_VALUE_FLOAT: {
            /* Always print a float so it reads back as a float. */
            char t[64];
            snprintf(t, sizeof t, "%.17g", e->val.v.f);
            if (!strpbrk(t, ".eEn")) strncat(t, ".0", sizeof t - strlen(t) - 1);
            rc = odx_buf_append(&b, &len, &cap, t, strlen(t));
            break;
        }
        case ODX_VALUE_BOOL: rc = odx_buf_printf(&b, &len, &cap, "%s", e->val.v.b ? "true" : "false"); break;
        }
    }
    if (!rc) rc = odx_buf_append(&b, &len, &cap, "}", 1);
    if (rc) { odx_free(b); return rc; }
    *json = b;
    return 0;
}

static int put(unsigned char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    return odx_buf_append((char **)buf, len, cap, p, n);
}

int odx_meta_encode(const odx_meta *m, unsigned char **buf, size_t *len, size_t *cap)
{
    size_t n = m ? m->n : 0;
    unsigned char h[2] = {(unsigned char)(n >> 8), (unsigned char)n};
    int rc = put(buf, len, cap, h, 2);
    for (size_t i = 0; !rc && i < n; i++) {
        const struct odx_meta_entry *e = &m->e[i];
        unsigned char kl = (unsigned char)strlen(e->key), t = (unsigned char)e->val.type;
        rc = put(buf, len, cap, &kl, 1);
        if (!rc) rc = put(buf, len, cap, e->key, kl);
        if (!rc) rc = put(buf, len, cap, &t, 1);
        if (rc) break;
        unsigned char v[8];
        switch (e->val.type) {
        case ODX_VALUE_STRING:
            v[0] = (unsigned char)(e->val.v.str.len >> 8);
            v[1] = (unsigned char)e->val.v.str.len;
            rc = put(buf, len, cap, v, 2);
            if (!rc) rc = put(buf, len, cap, e->val.v.str.s, e->val.v.str.len);
            break;
        case ODX_VALUE_INT: odx_put_be64(v, (uint64_t)e->val.v.i); rc = put(buf, len, cap, v, 8); break;
        case ODX_VALUE_FLOAT: {
            uint64_t bits;
            memcpy(&bits, &e->val.v.f, 8);
            odx_put_be64(v, bits);
            rc = put(buf, len, cap, v, 8);
            break;
        }
        case ODX_VALUE_BOOL: v[0] = (unsigned char)e->val.v.b; rc = put(buf, len, cap, v, 1); break;
        }
    }
    return rc;
}

int odx_meta_decode(const unsigned char *p, size_t len, size_t *used, odx_meta *out)
{
#define NEED(k) do { if (off + (k) > len) goto corrupt; } while (0)
    size_t off = 0;
    NEED(2);
    size_t n = ((size_t)p[0] << 8) | p[1];
    off = 2;
    for (size_t i = 0; i < n; i++) {
        NEED(1);
        size_t kl = p[off++];
        NEED(kl + 1);
        char key[ODX_META_MAX_KEY + 1];
        if (kl == 0 || kl > ODX_META_MAX_KEY) goto corrupt;
        memcpy(key, p + off, kl);
        key[kl] = '\0';
        off += kl;
        int t = p[off++];
        int rc;
        switch (t) {
        case ODX_VALUE_STRING: {
            NEED(2);
            size_t sl = ((size_t)p[off] << 8) | p[off + 1];
            off += 2;
            NEED(sl);
            rc = odx_meta_set_string(out, key, (const char *)p + off, sl);
            off += sl;
            break;
        }
        case ODX_VALUE_INT: NEED(8); rc = odx_meta_set_int(out, key, (int64_t)odx_get_be64(p + off)); off += 8; break;
        case ODX_VALUE_FLOAT: {
            NEED(8);
            uint64_t bits = odx_get_be64(p + off);
            double d;
            memcpy(&d, &bits, 8);
            rc = odx_meta_set_float(out, key, d);
            off += 8;
            break;
        }
        case ODX_VALUE_BOOL: NEED(1); rc = odx_meta_set_bool(out, key, p[off]); off += 1; break;
        default: goto corrupt;
        }
        if (rc) return rc == ODX_ENOMEM ? rc : ODX_ECORRUPT;
    }
    *used = off;
    return 0;
corrupt:
    return odx_error(ODX_ECORRUPT, "stored metadata is malformed");
#undef NEED
}
