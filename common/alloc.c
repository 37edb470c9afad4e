/* Allocation wrapper with fault injection (curl's torture mode, SQLite's
 * fault simulation): every allocation omnidex makes goes through here. */
#include "common/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static atomic_long alloc_count;
static atomic_long fail_at; /* 0: never */

void odx_alloc_fail_at(long nth)
{
    atomic_store(&alloc_count, 0);
    atomic_store(&fail_at, nth);
}

long odx_alloc_count(void) { return atomic_load(&alloc_count); }

static int should_fail(void)
{
    long n = atomic_fetch_add(&alloc_count, 1) + 1;
    long f = atomic_load(&fail_at);
    return f > 0 && n >= f;
}

void *odx_malloc(size_t n)
{
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *odx_calloc(size_t n, size_t size)
{
    if (should_fail()) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *odx_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

int odx_grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
    void **arr = (void **)arrp;
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > ((size_t)-1) / 2 / elem) return odx_error(ODX_ENOMEM, "array too large");
        nc *= 2;
    }
    void *p = odx_realloc(*arr, nc * elem);
    if (!p) return odx_error(ODX_ENOMEM, "out of memory growing an array to %zu items", nc);
    *arr = p;
    *cap = nc;
    return 0;
}

char *odx_strndup(const char *s, size_t n)
{
    char *d = odx_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *odx_strdup(const char *s) { return odx_strndup(s, strlen(s)); }

void odx_free(void *p) { free(p); }
