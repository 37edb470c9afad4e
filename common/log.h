/* Logging to stderr. The level comes from OMNIDEX_LOG (error, warn, info,
 * debug; default info) or odx_log_set_level. */
#ifndef ODX_COMMON_LOG_H
#define ODX_COMMON_LOG_H

/* odx_log, odx_log_set_level, odx_log_level and the levels are public
 * (omnidex_util.h). */
#include "omnidex_util.h"

#endif
