/* grpc.health.v1.Health: Check and Watch. The server-wide name "" and every
 * served service report SERVING until shutdown starts, then NOT_SERVING
 * (pushed to Watch streams). Health needs no token. */
#include "rpc/internal.h"

#include <string.h>

#include "grpc/health/v1/health.pb-c.h"

static grpc_status_code health_reply(rpc_call *c, const ProtobufCMessage *reqm, ProtobufCMessage **resp,
                                     int watch)
{
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)reqm;
    int st = rpc_server_health(rpc_call_server(c), req->service ? req->service : "");
    if (st < 0 && !watch) return rpc_fail(c, GRPC_STATUS_NOT_FOUND, "unknown service '%s'", req->service);
    Grpc__Health__V1__HealthCheckResponse *r = rpc_alloc(c, sizeof *r);
    if (!r) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    grpc__health__v1__health_check_response__init(r);
    r->status = st < 0 ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN
                       : (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
    *resp = &r->base;
    return GRPC_STATUS_OK;
}

static grpc_status_code health_check(rpc_call *c, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    return health_reply(c, req, resp, 0);
}

static grpc_status_code health_watch(rpc_call *c, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    return health_reply(c, req, resp, 1);
}

const rpc_method rpc_health_methods[] = {
    {"/grpc.health.v1.Health/Check", RPC_UNARY, 1, &grpc__health__v1__health_check_request__descriptor,
     health_check, NULL, NULL, NULL},
    {"/grpc.health.v1.Health/Watch", RPC_WATCH, 1, &grpc__health__v1__health_check_request__descriptor,
     health_watch, NULL, NULL, NULL},
};
const size_t rpc_health_method_count = sizeof rpc_health_methods / sizeof rpc_health_methods[0];

const char *const rpc_service_names[] = {
    "omnidex.v1.Omnidex",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
};
const size_t rpc_service_count = sizeof rpc_service_names / sizeof rpc_service_names[0];
