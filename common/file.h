/* Reading a whole (bounded) file into memory: the one reader that config
 * files, model files, tokens and local media go through. */
#ifndef ODX_COMMON_FILE_H
#define ODX_COMMON_FILE_H
#include <stddef.h>

/* Reads the whole regular file at path into a new buffer, NUL-terminated
 * (data[len] == 0, so text can be parsed in place); release with odx_free().
 * Opened with O_NONBLOCK, so a named pipe is refused instead of waited on.
 * Returns ODX_ENOTFOUND when path does not exist, ODX_EINVAL when it is not a
 * regular file, ODX_ELIMIT when it holds more than max_bytes, ODX_EIO for
 * other failures (it shrank, a read error), ODX_ENOMEM; the message names
 * the file. *data and *len are written only on success. */
int odx_read_file(const char *path, size_t max_bytes, char **data, size_t *len);
/* The same for an open descriptor (not closed here); what names the file in
 * messages. */
int odx_read_fd(int fd, const char *what, size_t max_bytes, char **data, size_t *len);

#endif
