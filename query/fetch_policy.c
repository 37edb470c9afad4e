/* The URL policy of a database handle (fetch.h): set through
 * odx_db_set_option, read by odx_fetch. Part of the core: a core-only build
 * keeps the options (and refuses payloads before anything is fetched). */
#include "query/fetch.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/error.h"

void odx_fetch_policy_init(odx_fetch_policy *p)
{
    memset(p, 0, sizeof *p);
    p->max_bytes = ODX_FETCH_DEFAULT_MAX_BYTES;
    p->timeout_ms = ODX_FETCH_DEFAULT_TIMEOUT_MS;
    p->max_redirects = 5;
}

void odx_fetch_policy_free(odx_fetch_policy *p)
{
    for (int i = 0; i < p->nroots; i++) odx_free(p->roots[i]);
    p->nroots = 0;
}

int odx_fetch_policy_add_root(odx_fetch_policy *p, const char *dir)
{
    if (p->nroots >= ODX_FETCH_MAX_ROOTS) return odx_error(ODX_ELIMIT, "at most %d file roots", ODX_FETCH_MAX_ROOTS);
    char real[PATH_MAX];
    struct stat sb;
    if (!realpath(dir, real) || stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return odx_error(ODX_EINVAL, "file root '%.200s' is not an existing directory", dir);
    if (!(p->roots[p->nroots] = odx_strdup(real))) return odx_error(ODX_ENOMEM, "out of memory");
    p->nroots++;
    return 0;
}
