/* omnidex status codes -> gRPC status codes. Client faults map to the codes
 * a client can act on; INTERNAL is left for what can only be a bug. */
#include "rpc/internal.h"

grpc_status_code rpc_status_from_odx(int rc)
{
    switch (rc) {
    case ODX_OK: return GRPC_STATUS_OK;
    case ODX_EINVAL:
    case ODX_EDIM:
    case ODX_EVECTOR:
    case ODX_EFILTER:
    case ODX_EMEDIA: return GRPC_STATUS_INVALID_ARGUMENT;
    case ODX_ENOTFOUND: return GRPC_STATUS_NOT_FOUND;
    case ODX_EEXIST: return GRPC_STATUS_ALREADY_EXISTS;
    case ODX_ELIMIT:
    case ODX_EFULL:
    case ODX_ENOMEM: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case ODX_EPRECOND:
    case ODX_EREADONLY: return GRPC_STATUS_FAILED_PRECONDITION;
    case ODX_ECLOSING:
    case ODX_EUNAVAILABLE: return GRPC_STATUS_UNAVAILABLE;
    case ODX_ECANCELLED: return GRPC_STATUS_CANCELLED;
    case ODX_EUNSUPPORTED: return GRPC_STATUS_UNIMPLEMENTED;
    default: return GRPC_STATUS_INTERNAL;
    }
}

const char *rpc_status_name(grpc_status_code code)
{
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED"};
    if ((unsigned)code < sizeof names / sizeof names[0]) return names[code];
    return "UNKNOWN";
}
