/* Status codes and the per-thread detail message behind odx_last_error(). */
#ifndef ODX_COMMON_ERROR_H
#define ODX_COMMON_ERROR_H
#include "omnidex.h"

/* odx_error and odx_error_wrap are public (omnidex_util.h). */
#include "omnidex_util.h"
void odx_error_clear(void);

#endif
