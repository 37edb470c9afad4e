/* Shared between the rpc/ files: the call context that handlers see, the
 * method table entry, and the small helpers every handler uses. Not a
 * public interface (rpc/server.h and rpc/client.h are).
 *
 * Naming rule of rpc/: odx_rpc_* is what rpc/ exports to other folders
 * (declared in rpc/server.h and rpc/client.h, used by cli/ and bench/);
 * rpc_* is internal to rpc/ (static, or declared here and in rpc/convert.h
 * and rpc/call_mem.h; tests of rpc/ internals may include them). The one
 * exception is odx_rpc_descriptor_set, a symbol the build generates (xxd)
 * and reflection.c alone reads. */
#ifndef ODX_RPC_INTERNAL_H
#define ODX_RPC_INTERNAL_H

#include <grpc/grpc.h>
#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "omnidex.h"
#include "omnidex_rpc.h"

typedef struct odx_rpc_server rpc_server;
typedef struct rpc_call rpc_call;

enum rpc_kind {
    RPC_UNARY = 1,         /* one request, one reply */
    RPC_CLIENT_STREAM,     /* many requests, one reply after half-close */
    RPC_BIDI,              /* one reply per request (reflection) */
    RPC_WATCH,             /* one request, replies pushed on change (health) */
    RPC_UNKNOWN            /* any unregistered method: UNIMPLEMENTED */
};

/* Unary: *resp may point into call memory (rpc_alloc) or deferred frees. */
typedef grpc_status_code (*rpc_unary_fn)(rpc_call *c, const ProtobufCMessage *req,
                                         ProtobufCMessage **resp);

typedef struct rpc_method {
    const char *path;                           /* "/pkg.Service/Method" */
    enum rpc_kind kind;
    int public_;                                /* served without the token */
    const ProtobufCMessageDescriptor *req_desc;
    rpc_unary_fn unary;                         /* RPC_UNARY, RPC_WATCH (first reply) */
    /* RPC_CLIENT_STREAM / RPC_BIDI: called per request message; for BIDI
     * *resp is the reply to send. */
    grpc_status_code (*on_message)(rpc_call *c, const ProtobufCMessage *req,
                                   ProtobufCMessage **resp);
    /* RPC_CLIENT_STREAM: after the half-close, the one reply. */
    grpc_status_code (*on_end)(rpc_call *c, ProtobufCMessage **resp);
    /* Frees the per-call state (rpc_call_state) when the call ends. */
    void (*on_free)(void *state);
} rpc_method;

/* Memory that lives until the current reply has been packed (zeroed). */
void *rpc_alloc(rpc_call *c, size_t n);
char *rpc_strndup(rpc_call *c, const char *s, size_t n);
/* Runs fn(p) when the current reply has been packed; frees p at once and
 * returns ODX_ENOMEM when it cannot register. */
int rpc_defer(rpc_call *c, void (*fn)(void *), void *p);

/* Sets the reply status and message; returns code. */
grpc_status_code rpc_fail(rpc_call *c, grpc_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends to the failure message set before; returns that status. */
grpc_status_code rpc_fail_append(rpc_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps an omnidex status to a gRPC one, with odx_last_error() as message. */
grpc_status_code rpc_fail_odx(rpc_call *c, int rc, const char *what);
grpc_status_code rpc_status_from_odx(int rc);
const char *rpc_status_name(grpc_status_code code);

odx_db *rpc_call_db(rpc_call *c);
rpc_server *rpc_call_server(rpc_call *c);
void **rpc_call_state(rpc_call *c);
/* 1 once the client cancelled or the deadline passed. */
int rpc_call_cancelled(rpc_call *c);

/* Counters for Stats. */
typedef struct rpc_counters {
    uint64_t calls_total, calls_failed;
    unsigned in_flight, workers;
    double uptime;
} rpc_counters;
void rpc_server_counters(rpc_server *s, rpc_counters *out);

/* Health: the serving state of a service name ("" = the whole server);
 * returns -1 for an unknown service, else a HealthCheckResponse status. */
int rpc_server_health(rpc_server *s, const char *service);

/* protobuf-c allocations through odx_malloc. */
extern ProtobufCAllocator rpc_allocator;

/* Checks that a serialized message nests at most max_depth messages deep
 * (protobuf-c unpacks recursively, so a deep message would exhaust the
 * stack), and that every string field is UTF-8 without NUL bytes (protobuf-c
 * checks neither, and would cut a string at its first NUL). 0 if fine,
 * ODX_ELIMIT if deeper, ODX_EINVAL (message naming the field) for a bad
 * string; malformed bytes return 0 and are left for protobuf-c to reject. */
int rpc_wire_depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int max_depth);
#define RPC_MAX_WIRE_DEPTH 160
/* Reads the protobuf varint at p[*pos] (len bytes in all) and advances *pos;
 * -1 when it is truncated or longer than 10 bytes. */
int rpc_wire_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out);
/* A message packed into a new byte buffer (the caller destroys it). */
grpc_byte_buffer *rpc_wire_pack(const ProtobufCMessage *m);

/* Method tables of each service (handlers.c, health.c, reflection.c). */
extern const rpc_method rpc_omnidex_methods[];
extern const size_t rpc_omnidex_method_count;
extern const rpc_method rpc_health_methods[];
extern const size_t rpc_health_method_count;
extern const rpc_method rpc_reflection_methods[];
extern const size_t rpc_reflection_method_count;

/* Service names served (for reflection's list_services). */
extern const char *const rpc_service_names[];
extern const size_t rpc_service_count;

#endif
