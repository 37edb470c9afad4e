/* Call memory and failure messages (rpc/call_mem.h, rpc/internal.h). */
#include "rpc/call_mem.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "rpc/internal.h"

struct rpc_mem_block {
    struct rpc_mem_block *next;
    max_align_t data[];
};

struct rpc_deferred {
    void (*fn)(void *);
    void *p;
    struct rpc_deferred *next;
};

/* struct rpc_call begins with its struct rpc_call_base. */
static struct rpc_call_base *base(rpc_call *c) { return (struct rpc_call_base *)(void *)c; }

void *rpc_alloc(rpc_call *c, size_t n)
{
    struct rpc_mem_block *b = odx_calloc(1, sizeof *b + (n ? n : 1));
    if (!b) return NULL;
    b->next = base(c)->mem;
    base(c)->mem = b;
    return b->data;
}

char *rpc_strndup(rpc_call *c, const char *s, size_t n)
{
    char *d = rpc_alloc(c, n + 1);
    if (d) memcpy(d, s, n);
    return d;
}

int rpc_defer(rpc_call *c, void (*fn)(void *), void *p)
{
    struct rpc_deferred *d = odx_malloc(sizeof *d);
    if (!d) {
        fn(p);
        return ODX_ENOMEM;
    }
    d->fn = fn;
    d->p = p;
    d->next = base(c)->defer;
    base(c)->defer = d;
    return 0;
}

void rpc_call_base_reset(struct rpc_call_base *b)
{
    while (b->defer) {
        struct rpc_deferred *d = b->defer;
        b->defer = d->next;
        d->fn(d->p);
        odx_free(d);
    }
    while (b->mem) {
        struct rpc_mem_block *m = b->mem;
        b->mem = m->next;
        odx_free(m);
    }
}

grpc_status_code rpc_fail(rpc_call *c, grpc_status_code code, const char *fmt, ...)
{
    struct rpc_call_base *b = base(c);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->msg, sizeof b->msg, fmt, ap);
    va_end(ap);
    b->status = code;
    return code;
}

grpc_status_code rpc_fail_append(rpc_call *c, const char *fmt, ...)
{
    struct rpc_call_base *b = base(c);
    size_t n = strlen(b->msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->msg + n, sizeof b->msg - n, fmt, ap);
    va_end(ap);
    return b->status;
}

grpc_status_code rpc_fail_odx(rpc_call *c, int rc, const char *what)
{
    const char *detail = odx_last_error();
    grpc_status_code code = rpc_status_from_odx(rc);
    /* The engine may have said it already ("filter: ..."): once is enough. */
    if (what && detail && !strncmp(detail, what, strlen(what)) && detail[strlen(what)] == ':') what = NULL;
    return rpc_fail(c, code, "%s%s%s", what ? what : "", what ? ": " : "",
                    detail && detail[0] ? detail : odx_strerror(rc));
}
