/* Logging to stderr. The level comes from OMNIDEX_LOG (error, warn, info,
 * debug; default info) or odx_log_set_level. */
#ifndef ODX_COMMON_LOG_H
#define ODX_COMMON_LOG_H

enum { ODX_LOG_ERROR = 0, ODX_LOG_WARN = 1, ODX_LOG_INFO = 2, ODX_LOG_DEBUG = 3 };
void odx_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void odx_log_set_level(int level);
int odx_log_level(void);

#endif
