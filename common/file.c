#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "omnidex.h"

int odx_read_fd(int fd, const char *what, size_t max_bytes, char **data, size_t *len)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) return odx_error(ODX_EIO, "%s: %s", what, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return odx_error(ODX_EINVAL, "%s is not a regular file", what);
    if ((unsigned long long)sb.st_size > max_bytes)
        return odx_error(ODX_ELIMIT, "%s: %lld bytes, over the limit of %zu", what, (long long)sb.st_size, max_bytes);
    size_t n = (size_t)sb.st_size, got = 0;
    char *buf = odx_malloc(n + 1);
    if (!buf) return odx_error(ODX_ENOMEM, "out of memory reading %s", what);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            odx_free(buf);
            return r ? odx_error(ODX_EIO, "%s: %s", what, strerror(e)) : odx_error(ODX_EIO, "%s: it shrank while read", what);
        }
        got += (size_t)r;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

int odx_read_file(const char *path, size_t max_bytes, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return odx_error(errno == ENOENT ? ODX_ENOTFOUND : ODX_EIO, "cannot open %s: %s", path, strerror(errno));
    int rc = odx_read_fd(fd, path, max_bytes, data, len);
    close(fd);
    return rc;
}
