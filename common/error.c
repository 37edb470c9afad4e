/* Status code names and the per-thread detail message. Like sqlite3_errmsg
 * the message belongs to the calling thread, so concurrent callers never see
 * each other's errors. */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char tls_msg[1024];

const char *odx_version(void) { return OMNIDEX_VERSION_STRING; }

const char *odx_strerror(int rc)
{
    switch (rc) {
    case ODX_OK: return "success";
    case ODX_EINVAL: return "invalid argument";
    case ODX_ENOTFOUND: return "not found";
    case ODX_EEXIST: return "already exists";
    case ODX_EDIM: return "wrong vector dimension";
    case ODX_EVECTOR: return "vector holds NaN or Inf";
    case ODX_EFILTER: return "invalid filter";
    case ODX_ECORRUPT: return "data corrupt";
    case ODX_EVERSION: return "unsupported on-disk format version";
    case ODX_ENOMEM: return "out of memory";
    case ODX_EIO: return "I/O error";
    case ODX_EFULL: return "disk full";
    case ODX_ELIMIT: return "over a limit";
    case ODX_EPRECOND: return "failed precondition";
    case ODX_EUNSUPPORTED: return "unsupported";
    case ODX_EINDEX: return "index error";
    case ODX_ECANCELLED: return "cancelled";
    case ODX_ECLOSING: return "database is closing";
    case ODX_EREADONLY: return "database opened read-only";
    case ODX_EINTERNAL: return "internal error";
    case ODX_EMEDIA: return "bad media";
    case ODX_EUNAVAILABLE: return "remote resource unavailable";
    default:
        if (rc > 0) return strerror(rc); /* errno values pass through */
        return "unknown error";
    }
}

const char *odx_last_error(void) { return tls_msg; }

void odx_error_clear(void) { tls_msg[0] = '\0'; }

int odx_error(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_msg, sizeof tls_msg, fmt, ap);
    va_end(ap);
    return rc;
}

int odx_error_wrap(int rc, const char *fmt, ...)
{
    char prefix[512], old[sizeof tls_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tls_msg, sizeof old);
    if (old[0])
        snprintf(tls_msg, sizeof tls_msg, "%s: %s", prefix, old);
    else
        snprintf(tls_msg, sizeof tls_msg, "%s: %s", prefix, odx_strerror(rc));
    return rc;
}
