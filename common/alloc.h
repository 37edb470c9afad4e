/* The one allocation wrapper. Tests can make the Nth allocation fail
 * (odx_alloc_fail_at) to prove that every failure path cleans up. */
#ifndef ODX_COMMON_ALLOC_H
#define ODX_COMMON_ALLOC_H
#include <stddef.h>

void *odx_malloc(size_t n);
void *odx_calloc(size_t n, size_t size);
void *odx_realloc(void *p, size_t n);
/* Grows an array to hold at least need elements (doubling); 0 or ODX_ENOMEM. */
int odx_grow(void *arrp, size_t *cap, size_t need, size_t elem);
char *odx_strdup(const char *s);
char *odx_strndup(const char *s, size_t n);
/* odx_free() is declared in omnidex.h. */
void odx_free(void *p);

/* Fault injection: the nth allocation from now (1-based) and every one after
 * it fail while enabled; 0 disables. Returns the count of allocations made
 * since the last call. */
void odx_alloc_fail_at(long nth);
long odx_alloc_count(void);

#endif
