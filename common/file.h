/* Reading a whole (bounded) file into memory: the one reader that config
 * files, model files, tokens and local media go through. */
#ifndef ODX_COMMON_FILE_H
#define ODX_COMMON_FILE_H
#include <stddef.h>

/* odx_read_file is public (omnidex_util.h). */
#include "omnidex_util.h"
/* The same for an open descriptor (not closed here); what names the file in
 * messages. */
int odx_read_fd(int fd, const char *what, size_t max_bytes, char **data, size_t *len);

#endif
