/* A call context for driving the omnidex.v1 handlers (rpc/handlers.c)
 * without a network server: the functions of rpc/internal.h that
 * rpc/server.c implements over a live grpc_call, implemented here over a
 * plain struct. Linked in place of server.c by the rpc fuzz target; the
 * handlers, converters and status mapping are the real ones. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "tests/fuzz/rpc_fake_call.h"

struct mem_block { struct mem_block *next; max_align_t data[]; };
struct deferred { void (*fn)(void *); void *p; struct deferred *next; };

void fake_call_init(rpc_call *c, odx_db *db)
{
    memset(c, 0, sizeof *c);
    c->db = db;
}

void *rpc_alloc(rpc_call *c, size_t n)
{
    struct mem_block *b = odx_calloc(1, sizeof *b + (n ? n : 1));
    if (!b) return NULL;
    b->next = c->mem;
    c->mem = b;
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
    struct deferred *d = odx_malloc(sizeof *d);
    if (!d) {
        fn(p);
        return ODX_ENOMEM;
    }
    d->fn = fn;
    d->p = p;
    d->next = c->defer;
    c->defer = d;
    return 0;
}

void fake_call_reset(rpc_call *c)
{
    while (c->defer) {
        struct deferred *d = c->defer;
        c->defer = d->next;
        d->fn(d->p);
        odx_free(d);
    }
    while (c->mem) {
        struct mem_block *b = c->mem;
        c->mem = b->next;
        odx_free(b);
    }
}

grpc_status_code rpc_fail(rpc_call *c, grpc_status_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->status = code;
    return code;
}

grpc_status_code rpc_fail_append(rpc_call *c, const char *fmt, ...)
{
    size_t n = strlen(c->msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg + n, sizeof c->msg - n, fmt, ap);
    va_end(ap);
    return c->status;
}

grpc_status_code rpc_fail_odx(rpc_call *c, int rc, const char *what)
{
    const char *detail = odx_last_error();
    grpc_status_code code = odx_rpc_status_from_odx(rc);
    return rpc_fail(c, code, "%s%s%s", what ? what : "", what ? ": " : "",
                    detail && detail[0] ? detail : odx_strerror(rc));
}

odx_db *rpc_call_db(rpc_call *c) { return c->db; }
rpc_server *rpc_call_server(rpc_call *c) { (void)c; return NULL; }
void **rpc_call_state(rpc_call *c) { return &c->state; }
int rpc_call_cancelled(rpc_call *c) { return c->cancelled; }

void rpc_server_counters(rpc_server *s, rpc_counters *out)
{
    (void)s;
    memset(out, 0, sizeof *out);
    out->workers = 1;
}

int rpc_server_health(rpc_server *s, const char *service)
{
    (void)s;
    return service && service[0] ? -1 : 1;
}
