/* The part of a call context that handlers write into: reply memory freed
 * after the reply is packed, deferred frees, and the failure status and
 * message. Every definition of struct rpc_call (the live server's in
 * server.c, the fuzz harness's fake) starts with this struct, so the
 * functions of rpc/internal.h that touch only this part exist once. */
#ifndef ODX_RPC_CALL_MEM_H
#define ODX_RPC_CALL_MEM_H
#include <grpc/status.h>

struct rpc_call_base {
    grpc_status_code status;
    char msg[512];
    struct rpc_mem_block *mem;
    struct rpc_deferred *defer;
};

/* Runs the deferred frees and releases the call memory. */
void rpc_call_base_reset(struct rpc_call_base *b);

#endif
