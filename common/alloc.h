/* The one allocation wrapper. Tests can make the Nth allocation fail
 * (odx_alloc_fail_at) to prove that every failure path cleans up. */
#ifndef ODX_COMMON_ALLOC_H
#define ODX_COMMON_ALLOC_H
#include <stddef.h>

/* odx_malloc, odx_calloc, odx_realloc, odx_grow, odx_strdup, odx_strndup
 * are public (omnidex_util.h); odx_free is in omnidex.h. */
#include "omnidex_util.h"

/* Fault injection: the nth allocation from now (1-based) and every one after
 * it fail while enabled; 0 disables. Returns the count of allocations made
 * since the last call. */
void odx_alloc_fail_at(long nth);
long odx_alloc_count(void);

#endif
