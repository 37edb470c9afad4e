/* The filter language: a recursive-descent parser with depth and size caps
 * (input is untrusted), builders for structured callers, and a printer whose
 * output parses back to the same tree. */
#include "common/filter.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/meta.h"
#include "common/util.h"

static void value_free(struct odx_value *v)
{
    if (v->type == ODX_VALUE_STRING) odx_free(v->v.str.s);
    v->type = 0;
}

void odx_filter_free(odx_filter *f)
{
    if (!f) return;
    odx_free(f->field);
    value_free(&f->val);
    for (size_t i = 0; i < f->nset; i++) value_free(&f->set[i]);
    odx_free(f->set);
    odx_filter_free(f->a);
    odx_filter_free(f->b);
    odx_free(f);
}

int odx_filter_depth(const odx_filter *f)
{
    if (!f) return 0;
    int a = odx_filter_depth(f->a), b = odx_filter_depth(f->b);
    return 1 + (a > b ? a : b);
}

/* Nesting as the filter language counts it (parentheses and NOTs around a
 * node) when the filter is printed by odx_filter_to_string: NOT adds one,
 * and one more around an AND/OR operand; an OR inside an AND needs
 * parentheses; chains of one operator and an AND inside an OR need none. */
int odx_filter_nesting(const odx_filter *f)
{
    if (!f) return 0;
    switch (f->kind) {
    case ODX_FK_NOT:
        return 1 + odx_filter_nesting(f->a) + (f->a->kind == ODX_FK_AND || f->a->kind == ODX_FK_OR);
    case ODX_FK_AND:
    case ODX_FK_OR: {
        int n[2];
        const odx_filter *kid[2] = {f->a, f->b};
        for (int i = 0; i < 2; i++)
            n[i] = odx_filter_nesting(kid[i]) + (f->kind == ODX_FK_AND && kid[i]->kind == ODX_FK_OR);
        return n[0] > n[1] ? n[0] : n[1];
    }
    default:
        return 0;
    }
}

static size_t node_count(const odx_filter *f)
{
    return f ? 1 + node_count(f->a) + node_count(f->b) : 0;
}

static int field_valid(const char *field)
{
    size_t n = field ? strlen(field) : 0;
    if (n > 0 && field[0] == '@') return odx_meta_key_valid(field + 1, n - 1);
    return odx_meta_key_valid(field, n);
}

static int new_node(enum odx_filter_kind kind, const char *field, odx_filter **out)
{
    if (field && !field_valid(field))
        return odx_error(ODX_EFILTER, "invalid field name '%.80s'", field);
    odx_filter *f = odx_calloc(1, sizeof *f);
    if (!f) return odx_error(ODX_ENOMEM, "out of memory");
    f->kind = kind;
    if (field && !(f->field = odx_strdup(field))) {
        odx_free(f);
        return odx_error(ODX_ENOMEM, "out of memory");
    }
    *out = f;
    return 0;
}

static int make_string(struct odx_value *v, const char *s, size_t len)
{
    if (!s) return odx_error(ODX_EFILTER, "NULL string in filter");
    if (len > ODX_META_MAX_STRING)
        return odx_error(ODX_EFILTER, "string of %zu bytes in filter (max %d)", len, ODX_META_MAX_STRING);
    if (memchr(s, 0, len) || !odx_utf8_valid(s, len))
        return odx_error(ODX_EFILTER, "filter string is not valid UTF-8 or holds NUL");
    v->v.str.s = odx_strndup(s, len);
    if (!v->v.str.s) return odx_error(ODX_ENOMEM, "out of memory");
    v->v.str.len = len;
    v->type = ODX_VALUE_STRING;
    return 0;
}

static int check_op(odx_filter_op op)
{
    if (op < ODX_FILTER_EQ || op > ODX_FILTER_GE)
        return odx_error(ODX_EFILTER, "unknown comparison operator %d", (int)op);
    return 0;
}

static int cmp_new(const char *field, odx_filter_op op, odx_filter **out)
{
    int rc = check_op(op);
    if (rc) return rc;
    rc = new_node(ODX_FK_CMP, field, out);
    if (rc) return rc;
    (*out)->op = op;
    return 0;
}

int odx_filter_cmp_string(const char *field, odx_filter_op op, const char *v, size_t len, odx_filter **out)
{
    odx_filter *f = NULL;
    int rc = cmp_new(field, op, &f);
    if (rc) return rc;
    if ((rc = make_string(&f->val, v, len))) { odx_filter_free(f); return rc; }
    *out = f;
    return 0;
}

int odx_filter_cmp_int(const char *field, odx_filter_op op, int64_t v, odx_filter **out)
{
    odx_filter *f = NULL;
    int rc = cmp_new(field, op, &f);
    if (rc) return rc;
    f->val.type = ODX_VALUE_INT;
    f->val.v.i = v;
    *out = f;
    return 0;
}

int odx_filter_cmp_float(const char *field, odx_filter_op op, double v, odx_filter **out)
{
    if (!isfinite(v)) return odx_error(ODX_EFILTER, "filter value for '%s' is NaN or Inf", field ? field : "");
    odx_filter *f = NULL;
    int rc = cmp_new(field, op, &f);
    if (rc) return rc;
    f->val.type = ODX_VALUE_FLOAT;
    f->val.v.f = v;
    *out = f;
    return 0;
}

int odx_filter_cmp_bool(const char *field, odx_filter_op op, int v, odx_filter **out)
{
    if (op != ODX_FILTER_EQ && op != ODX_FILTER_NE)
        return odx_error(ODX_EFILTER, "booleans compare only with = and != (field '%s')", field ? field : "");
    odx_filter *f = NULL;
    int rc = cmp_new(field, op, &f);
    if (rc) return rc;
    f->val.type = ODX_VALUE_BOOL;
    f->val.v.b = v ? 1 : 0;
    *out = f;
    return 0;
}

int odx_filter_in(const char *field, odx_filter **out) { return new_node(ODX_FK_IN, field, out); }

static int in_slot(odx_filter *in, struct odx_value **v)
{
    if (!in || in->kind != ODX_FK_IN) return odx_error(ODX_EINVAL, "not an IN filter");
    if (in->nset >= ODX_FILTER_MAX_SET)
        return odx_error(ODX_EFILTER, "IN list longer than %d values", ODX_FILTER_MAX_SET);
    int rc = odx_grow(&in->set, &in->capset, in->nset + 1, sizeof *in->set);
    if (rc) return rc;
    *v = &in->set[in->nset];
    memset(*v, 0, sizeof **v);
    return 0;
}

int odx_filter_in_add_string(odx_filter *in, const char *s, size_t len)
{
    struct odx_value *v = NULL;
    int rc = in_slot(in, &v);
    if (!rc) rc = make_string(v, s, len);
    if (!rc) in->nset++;
    return rc;
}

int odx_filter_in_add_int(odx_filter *in, int64_t x)
{
    struct odx_value *v = NULL;
    int rc = in_slot(in, &v);
    if (rc) return rc;
    v->type = ODX_VALUE_INT;
    v->v.i = x;
    in->nset++;
    return 0;
}

int odx_filter_in_add_float(odx_filter *in, double x)
{
    if (!isfinite(x)) return odx_error(ODX_EFILTER, "IN value is NaN or Inf");
    struct odx_value *v = NULL;
    int rc = in_slot(in, &v);
    if (rc) return rc;
    v->type = ODX_VALUE_FLOAT;
    v->v.f = x;
    in->nset++;
    return 0;
}

int odx_filter_in_add_bool(odx_filter *in, int x)
{
    struct odx_value *v = NULL;
    int rc = in_slot(in, &v);
    if (rc) return rc;
    v->type = ODX_VALUE_BOOL;
    v->v.b = x ? 1 : 0;
    in->nset++;
    return 0;
}

static int combine(enum odx_filter_kind kind, odx_filter *a, odx_filter *b, odx_filter **out)
{
    if (!a || (kind != ODX_FK_NOT && !b)) {
        odx_filter_free(a);
        odx_filter_free(b);
        return odx_error(ODX_EFILTER, "missing operand");
    }
    odx_filter *f = NULL;
    int rc = new_node(kind, NULL, &f);
    if (rc) { odx_filter_free(a); odx_filter_free(b); return rc; }
    f->a = a;
    f->b = b;
    /* The same limits as the parser: nesting as the language counts it
     * (so that a built filter prints to text that parses), and the node
     * count (which bounds the tree's depth for the recursive walkers). */
    if (odx_filter_nesting(f) > ODX_FILTER_MAX_DEPTH) {
        odx_filter_free(f);
        return odx_error(ODX_EFILTER, "filter nested deeper than %d", ODX_FILTER_MAX_DEPTH);
    }
    if (node_count(f) > ODX_FILTER_MAX_NODES) {
        odx_filter_free(f);
        return odx_error(ODX_EFILTER, "filter has more than %d terms", ODX_FILTER_MAX_NODES);
    }
    *out = f;
    return 0;
}

int odx_filter_and(odx_filter *a, odx_filter *b, odx_filter **out) { return combine(ODX_FK_AND, a, b, out); }
int odx_filter_or(odx_filter *a, odx_filter *b, odx_filter **out) { return combine(ODX_FK_OR, a, b, out); }
int odx_filter_not(odx_filter *a, odx_filter **out) { return combine(ODX_FK_NOT, a, NULL, out); }

int odx_filter_modalities(unsigned mask, odx_filter **out)
{
    odx_filter *f = NULL;
    int rc = odx_filter_in("@modality", &f);
    for (int m = 0; !rc && m < ODX_MODALITY_COUNT; m++)
        if (mask & (1u << m)) rc = odx_filter_in_add_int(f, m);
    if (rc) { odx_filter_free(f); return rc; }
    *out = f;
    return 0;
}

/* ---- parser ---- */

struct parser {
    const char *s;
    size_t pos;
    int depth;
    int nodes;
};

static void skip_ws(struct parser *p)
{
    while (p->s[p->pos] && isspace((unsigned char)p->s[p->pos])) p->pos++;
}

static int perr(struct parser *p, const char *what)
{
    const char *at = p->s + p->pos;
    if (!*at) return odx_error(ODX_EFILTER, "filter: %s at end of input", what);
    return odx_error(ODX_EFILTER, "filter: %s at column %zu (near '%.20s')", what, p->pos + 1, at);
}

/* Matches a case-insensitive keyword followed by a non-identifier char. */
static int keyword(struct parser *p, const char *kw)
{
    skip_ws(p);
    size_t n = strlen(kw);
    if (strncasecmp(p->s + p->pos, kw, n)) return 0;
    char c = p->s[p->pos + n];
    if (isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-') return 0;
    p->pos += n;
    return 1;
}

static int is_ident_char(char c, int first)
{
    return isalpha((unsigned char)c) || c == '_' || c == '@' ||
           (!first && (isdigit((unsigned char)c) || c == '.' || c == '-'));
}

static int parse_ident(struct parser *p, char *out, size_t cap)
{
    skip_ws(p);
    size_t st = p->pos;
    if (p->s[p->pos] == '`') {
        p->pos++;
        st = p->pos;
        while (p->s[p->pos] && p->s[p->pos] != '`') p->pos++;
        if (p->s[p->pos] != '`') return perr(p, "unterminated `field`");
        size_t n = p->pos - st;
        p->pos++;
        if (n == 0 || n >= cap) return perr(p, "field name empty or too long");
        memcpy(out, p->s + st, n);
        out[n] = '\0';
        return 0;
    }
    if (!is_ident_char(p->s[p->pos], 1)) return perr(p, "expected a field name");
    while (is_ident_char(p->s[p->pos], 0)) p->pos++;
    size_t n = p->pos - st;
    if (n >= cap) return perr(p, "field name too long");
    memcpy(out, p->s + st, n);
    out[n] = '\0';
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int utf8_put(char *o, size_t *n, unsigned cp)
{
    if (cp < 0x80) o[(*n)++] = (char)cp;
    else if (cp < 0x800) { o[(*n)++] = (char)(0xC0 | (cp >> 6)); o[(*n)++] = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        o[(*n)++] = (char)(0xE0 | (cp >> 12));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[(*n)++] = (char)(0xF0 | (cp >> 18));
        o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
    return 0;
}

static int parse_value(struct parser *p, struct odx_value *v)
{
    skip_ws(p);
    const char *s = p->s;
    memset(v, 0, sizeof *v);
    if (s[p->pos] == '"' || s[p->pos] == '\'') {
        char q = s[p->pos++];
        char buf[ODX_META_MAX_STRING + 8];
        size_t n = 0;
        while (s[p->pos] && s[p->pos] != q) {
            if (n + 4 > ODX_META_MAX_STRING) return perr(p, "string longer than " ODX_STR(ODX_META_MAX_STRING) " bytes");
            char c = s[p->pos++];
            if (c != '\\') { buf[n++] = c; continue; }
            c = s[p->pos++];
            switch (c) {
            case '"': case '\'': case '\\': case '/': buf[n++] = c; break;
            case 'n': buf[n++] = '\n'; break;
            case 't': buf[n++] = '\t'; break;
            case 'r': buf[n++] = '\r'; break;
            case 'u': {
                unsigned cp = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(s[p->pos]);
                    if (h < 0) return perr(p, "bad \\u escape");
                    cp = cp * 16 + (unsigned)h;
                    p->pos++;
                }
                if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return perr(p, "\\u escape is NUL or a surrogate");
                utf8_put(buf, &n, cp);
                break;
            }
            default: p->pos--; return perr(p, "unknown escape in string");
            }
        }
        if (s[p->pos] != q) return perr(p, "unterminated string");
        p->pos++;
        return make_string(v, buf, n);
    }
    if (keyword(p, "true")) { v->type = ODX_VALUE_BOOL; v->v.b = 1; return 0; }
    if (keyword(p, "false")) { v->type = ODX_VALUE_BOOL; v->v.b = 0; return 0; }
    size_t st = p->pos;
    if (s[p->pos] == '-' || s[p->pos] == '+') p->pos++;
    int isfloat = 0, digits = 0;
    while (isdigit((unsigned char)s[p->pos]) || s[p->pos] == '.' || s[p->pos] == 'e' || s[p->pos] == 'E' ||
           ((s[p->pos] == '-' || s[p->pos] == '+') && (s[p->pos - 1] == 'e' || s[p->pos - 1] == 'E'))) {
        if (isdigit((unsigned char)s[p->pos])) digits++;
        else isfloat = 1;
        p->pos++;
    }
    if (!digits) { p->pos = st; return perr(p, "expected a value (\"string\", number, true or false)"); }
    char num[64];
    size_t n = p->pos - st;
    if (n >= sizeof num) { p->pos = st; return perr(p, "number too long"); }
    memcpy(num, s + st, n);
    num[n] = '\0';
    char *end;
    errno = 0;
    if (!isfloat) {
        long long x = strtoll(num, &end, 10);
        if (*end || errno) { p->pos = st; return perr(p, "integer out of range"); }
        v->type = ODX_VALUE_INT;
        v->v.i = x;
    } else {
        double d = strtod(num, &end);
        if (*end || errno || !isfinite(d)) { p->pos = st; return perr(p, "malformed number"); }
        v->type = ODX_VALUE_FLOAT;
        v->v.f = d;
    }
    return 0;
}

static int parse_or(struct parser *p, odx_filter **out);

static int count_node(struct parser *p)
{
    if (++p->nodes > ODX_FILTER_MAX_NODES) return perr(p, "filter has too many terms");
    return 0;
}

static int parse_primary(struct parser *p, odx_filter **out)
{
    int rc = count_node(p);
    if (rc) return rc;
    skip_ws(p);
    if (p->s[p->pos] == '(') {
        p->pos++;
        if (++p->depth > ODX_FILTER_MAX_DEPTH) return perr(p, "filter nested deeper than " ODX_STR(ODX_FILTER_MAX_DEPTH));
        rc = parse_or(p, out);
        p->depth--;
        if (rc) return rc;
        skip_ws(p);
        if (p->s[p->pos] != ')') { odx_filter_free(*out); return perr(p, "expected ')'"); }
        p->pos++;
        return 0;
    }
    char field[ODX_META_MAX_KEY + 2];
    if ((rc = parse_ident(p, field, sizeof field))) return rc;
    if (!field_valid(field)) return odx_error(ODX_EFILTER, "filter: invalid field name '%s'", field);
    int negate_in = 0;
    size_t save = p->pos;
    if (keyword(p, "NOT")) {
        if (!keyword(p, "IN")) { p->pos = save; return perr(p, "expected IN after NOT"); }
        negate_in = 1;
    }
    if (negate_in || keyword(p, "IN")) {
        skip_ws(p);
        if (p->s[p->pos] != '(') return perr(p, "expected '(' after IN");
        p->pos++;
        odx_filter *in;
        if ((rc = odx_filter_in(field, &in))) return rc;
        for (;;) {
            struct odx_value v;
            if ((rc = parse_value(p, &v))) { odx_filter_free(in); return rc; }
            struct odx_value *slot;
            if ((rc = in_slot(in, &slot))) { value_free(&v); odx_filter_free(in); return rc; }
            *slot = v;
            in->nset++;
            skip_ws(p);
            if (p->s[p->pos] == ',') { p->pos++; continue; }
            if (p->s[p->pos] == ')') { p->pos++; break; }
            odx_filter_free(in);
            return perr(p, "expected ',' or ')' in IN list");
        }
        if (negate_in) return odx_filter_not(in, out);
        *out = in;
        return 0;
    }
    skip_ws(p);
    const char *s = p->s + p->pos;
    odx_filter_op op;
    if (s[0] == '=' && s[1] == '=') { op = ODX_FILTER_EQ; p->pos += 2; }
    else if (s[0] == '=') { op = ODX_FILTER_EQ; p->pos += 1; }
    else if (s[0] == '!' && s[1] == '=') { op = ODX_FILTER_NE; p->pos += 2; }
    else if (s[0] == '<' && s[1] == '>') { op = ODX_FILTER_NE; p->pos += 2; }
    else if (s[0] == '<' && s[1] == '=') { op = ODX_FILTER_LE; p->pos += 2; }
    else if (s[0] == '>' && s[1] == '=') { op = ODX_FILTER_GE; p->pos += 2; }
    else if (s[0] == '<') { op = ODX_FILTER_LT; p->pos += 1; }
    else if (s[0] == '>') { op = ODX_FILTER_GT; p->pos += 1; }
    else return perr(p, "expected an operator (=, !=, <, <=, >, >=, IN)");
    struct odx_value v;
    if ((rc = parse_value(p, &v))) return rc;
    if (v.type == ODX_VALUE_BOOL && op != ODX_FILTER_EQ && op != ODX_FILTER_NE)
        return odx_error(ODX_EFILTER, "filter: booleans compare only with = and != (field '%s')", field);
    odx_filter *f = NULL;
    if ((rc = cmp_new(field, op, &f))) { value_free(&v); return rc; }
    f->val = v;
    *out = f;
    return 0;
}

static int parse_unary(struct parser *p, odx_filter **out)
{
    if (keyword(p, "NOT")) {
        if (++p->depth > ODX_FILTER_MAX_DEPTH) return perr(p, "filter nested deeper than " ODX_STR(ODX_FILTER_MAX_DEPTH));
        odx_filter *a;
        int rc = parse_unary(p, &a);
        p->depth--;
        if (rc) return rc;
        return odx_filter_not(a, out);
    }
    return parse_primary(p, out);
}

static int parse_chain(struct parser *p, odx_filter **out, int is_or)
{
    odx_filter *acc;
    int rc = is_or ? parse_chain(p, &acc, 0) : parse_unary(p, &acc);
    if (rc) return rc;
    for (;;) {
        if (!keyword(p, is_or ? "OR" : "AND")) {
            /* Also accept && and || */
            skip_ws(p);
            const char *op = is_or ? "||" : "&&";
            if (strncmp(p->s + p->pos, op, 2)) break;
            p->pos += 2;
        }
        odx_filter *rhs;
        rc = is_or ? parse_chain(p, &rhs, 0) : parse_unary(p, &rhs);
        if (rc) { odx_filter_free(acc); return rc; }
        /* Left-deep chains of the same operator do not add nesting depth
         * for the user, but the tree grows: cap it through the node count. */
        odx_filter *f = NULL;
        if ((rc = new_node(is_or ? ODX_FK_OR : ODX_FK_AND, NULL, &f))) {
            odx_filter_free(acc);
            odx_filter_free(rhs);
            return rc;
        }
        f->a = acc;
        f->b = rhs;
        acc = f;
    }
    *out = acc;
    return 0;
}

static int parse_or(struct parser *p, odx_filter **out) { return parse_chain(p, out, 1); }

int odx_filter_parse(const char *expr, odx_filter **out)
{
    if (!expr) return odx_error(ODX_EFILTER, "filter: empty");
    if (strlen(expr) > ODX_FILTER_MAX_LEN) return odx_error(ODX_EFILTER, "filter longer than %d bytes", ODX_FILTER_MAX_LEN);
    struct parser p = {expr, 0, 0, 0};
    skip_ws(&p);
    if (!expr[p.pos]) return odx_error(ODX_EFILTER, "filter: empty");
    odx_filter *f = NULL;
    int rc = parse_or(&p, &f);
    if (rc) return rc;
    skip_ws(&p);
    if (expr[p.pos]) {
        odx_filter_free(f);
        return perr(&p, "unexpected text (missing AND/OR?)");
    }
    *out = f;
    return 0;
}

/* ---- printer ---- */

static int print_value(const struct odx_value *v, char **b, size_t *len, size_t *cap)
{
    switch (v->type) {
    case ODX_VALUE_STRING: return odx_json_append_string(b, len, cap, v->v.str.s, v->v.str.len);
    case ODX_VALUE_INT: return odx_buf_printf(b, len, cap, "%lld", (long long)v->v.i);
    case ODX_VALUE_FLOAT: {
        char t[64];
        snprintf(t, sizeof t, "%.17g", v->v.f);
        if (!strpbrk(t, ".eE")) strncat(t, ".0", sizeof t - strlen(t) - 1);
        return odx_buf_append(b, len, cap, t, strlen(t));
    }
    case ODX_VALUE_BOOL: return odx_buf_printf(b, len, cap, "%s", v->v.b ? "true" : "false");
    }
    return odx_error(ODX_EINTERNAL, "bad filter value type");
}

static int print_field(const char *field, char **b, size_t *len, size_t *cap)
{
    /* Names with '-' or '.' or a leading digit need backquotes to re-parse. */
    int plain = is_ident_char(field[0], 1);
    for (const char *c = field; plain && *c; c++) if (*c == '-') plain = 0;
    if (plain) return odx_buf_append(b, len, cap, field, strlen(field));
    return odx_buf_printf(b, len, cap, "`%s`", field);
}

static int print_node(const odx_filter *f, char **b, size_t *len, size_t *cap)
{
    static const char *ops[] = {"", "=", "!=", "<", "<=", ">", ">="};
    int rc;
    switch (f->kind) {
    case ODX_FK_CMP:
        rc = print_field(f->field, b, len, cap);
        if (!rc) rc = odx_buf_printf(b, len, cap, " %s ", ops[f->op]);
        if (!rc) rc = print_value(&f->val, b, len, cap);
        return rc;
    case ODX_FK_IN:
        rc = print_field(f->field, b, len, cap);
        if (!rc) rc = odx_buf_append(b, len, cap, " IN (", 5);
        for (size_t i = 0; !rc && i < f->nset; i++) {
            if (i) rc = odx_buf_append(b, len, cap, ", ", 2);
            if (!rc) rc = print_value(&f->set[i], b, len, cap);
        }
        if (!rc) rc = odx_buf_append(b, len, cap, ")", 1);
        return rc;
    case ODX_FK_NOT: {
        /* Parentheses only where precedence needs them: each level counts
         * against the parser's nesting limit. */
        int paren = f->a->kind == ODX_FK_AND || f->a->kind == ODX_FK_OR;
        rc = odx_buf_append(b, len, cap, paren ? "NOT (" : "NOT ", paren ? 5 : 4);
        if (!rc) rc = print_node(f->a, b, len, cap);
        if (!rc && paren) rc = odx_buf_append(b, len, cap, ")", 1);
        return rc;
    }
    case ODX_FK_AND:
    case ODX_FK_OR: {
        /* Chains of one operator print flat, so that long chains re-parse
         * without hitting the nesting limit. */
        const odx_filter *kids[2] = {f->a, f->b};
        rc = 0;
        for (int i = 0; i < 2 && !rc; i++) {
            int paren = f->kind == ODX_FK_AND && kids[i]->kind == ODX_FK_OR;
            if (i) rc = odx_buf_printf(b, len, cap, " %s ", f->kind == ODX_FK_AND ? "AND" : "OR");
            if (!rc && paren) rc = odx_buf_append(b, len, cap, "(", 1);
            if (!rc) rc = print_node(kids[i], b, len, cap);
            if (!rc && paren) rc = odx_buf_append(b, len, cap, ")", 1);
        }
        return rc;
    }
    }
    return odx_error(ODX_EINTERNAL, "bad filter node");
}

int odx_filter_to_string(const odx_filter *f, char **out)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    int rc = print_node(f, &b, &len, &cap);
    if (rc) { odx_free(b); return rc; }
    *out = b;
    return 0;
}
