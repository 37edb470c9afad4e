/*
 * omnidex_util.h - helpers for programs built on omnidex (the omnidex CLI,
 * servers, tools): the library's own allocator (what omnidex returns is
 * released with odx_free, and these allocate the same way), the per-thread
 * error message behind odx_last_error(), logging to stderr, a monotonic
 * clock, UTF-8 validation, JSON string escaping and a bounded whole-file
 * reader. They are the same functions the library uses internally, offered
 * as curl offers its curlx helpers to its own tools.
 */
#ifndef OMNIDEX_UTIL_H
#define OMNIDEX_UTIL_H

#include <stddef.h>

#include "omnidex.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Allocation (release with odx_free). NULL on failure. */
void *odx_malloc(size_t n);
void *odx_calloc(size_t n, size_t size);
void *odx_realloc(void *p, size_t n);
/* Grows an array to hold at least need elements (doubling); 0 or ODX_ENOMEM. */
int odx_grow(void *arrp, size_t *cap, size_t need, size_t elem);
char *odx_strdup(const char *s);
char *odx_strndup(const char *s, size_t n);

/* Records a detail message for the calling thread (odx_last_error) and
 * returns rc, so that a failure reads `return odx_error(ODX_EDIM, "...")`. */
int odx_error(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the current detail message with more context; returns rc. */
int odx_error_wrap(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logging to stderr. The level comes from OMNIDEX_LOG (error, warn, info,
 * debug; default info) or odx_log_set_level. */
enum { ODX_LOG_ERROR = 0, ODX_LOG_WARN = 1, ODX_LOG_INFO = 2, ODX_LOG_DEBUG = 3 };
void odx_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void odx_log_set_level(int level);
int odx_log_level(void);

/* Seconds on a monotonic clock. */
double odx_now_mono(void);
/* 1 when s[0..len) is valid UTF-8. */
int odx_utf8_valid(const char *s, size_t len);
/* Growing string buffers (*buf from odx_malloc; *len bytes used, *cap
 * allocated, always NUL-terminated): append bytes, printf, or s as a
 * quoted JSON string. 0 or ODX_ENOMEM. */
int odx_buf_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n);
int odx_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int odx_json_append_string(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

/* Reads the whole regular file at path into a new buffer, NUL-terminated
 * (data[len] == 0); release with odx_free(). A named pipe is refused instead
 * of waited on. ODX_ENOTFOUND when path does not exist, ODX_EINVAL when it is
 * not a regular file, ODX_ELIMIT when it holds more than max_bytes, ODX_EIO,
 * ODX_ENOMEM; the message names the file. */
int odx_read_file(const char *path, size_t max_bytes, char **data, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* OMNIDEX_UTIL_H */
