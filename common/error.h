/* Status codes and the per-thread detail message behind odx_last_error(). */
#ifndef ODX_COMMON_ERROR_H
#define ODX_COMMON_ERROR_H
#include "omnidex.h"

/* Records a detail message for the calling thread and returns rc, so that a
 * failure reads `return odx_error(ODX_EDIM, "collection '%s' has dim %d", ..)`. */
int odx_error(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the current detail message with more context; returns rc. */
int odx_error_wrap(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void odx_error_clear(void);

#endif
