/* A call context for driving the omnidex.v1 handlers (rpc/handlers.c)
 * without a network server: the functions of rpc/internal.h that
 * rpc/server.c implements over a live grpc_call, implemented here over a
 * plain struct (call memory and failures are rpc/call_mem.c, shared). Linked in place of server.c by the rpc fuzz target; the
 * handlers, converters and status mapping are the real ones. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "tests/fuzz/rpc_fake_call.h"


void fake_call_init(rpc_call *c, odx_db *db)
{
    memset(c, 0, sizeof *c);
    c->db = db;
}

void fake_call_reset(rpc_call *c) { rpc_call_base_reset(&c->base); }

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
