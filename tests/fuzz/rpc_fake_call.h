/* The fake call context of rpc_fake_call.c (see there). */
#ifndef ODX_FUZZ_RPC_FAKE_CALL_H
#define ODX_FUZZ_RPC_FAKE_CALL_H
#include "rpc/call_mem.h"
#include "rpc/internal.h"

struct rpc_call {
    struct rpc_call_base base; /* first: see rpc/call_mem.h */
    odx_db *db;
    void *state;
    int cancelled;
};

void fake_call_init(rpc_call *c, odx_db *db);
/* Runs deferred frees and releases call memory (after a reply is packed). */
void fake_call_reset(rpc_call *c);

#endif
