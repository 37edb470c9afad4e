/* Shared helpers of the encoder tools (tool_io.h). */
#include "tools/enc/tool_io.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"

#define TOOL_MAX_FILE (1u << 30)

int odx_tool_read(const char *path, char **out, size_t *len)
{
    return odx_read_file(path, TOOL_MAX_FILE, out, len);
}

char *odx_tool_slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    return odx_tool_read(path, &buf, len) == 0 ? buf : NULL;
}

int odx_tool_write_f32(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return odx_error(ODX_EIO, "%s: cannot create", path);
    size_t w = n ? fwrite(v, sizeof(float), n, f) : 0;
    if (fclose(f) != 0 || w != n) return odx_error(ODX_EIO, "%s: write failed", path);
    return 0;
}

int odx_tool_die(const char *prog, int rc)
{
    fprintf(stderr, "%s: %s: %s\n", prog, odx_strerror(rc), odx_last_error());
    return 1;
}

double odx_tool_arg_num(const char *prog, const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == 0 || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "%s: bad number '%s'\n", prog, s);
        exit(2);
    }
    return v;
}

int odx_tool_model_preproc(const char *dir, const odx_clip *m, odx_clip_preproc *p)
{
    char path[4096];
    size_t len = 0;
    char *js = NULL;
    odx_clip_preproc_default(p);
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    if (odx_tool_read(path, &js, &len) != 0) {
        p->shortest_edge = p->crop_h = p->crop_w = odx_clip_get_config(m)->vision.image_size;
        return 0;
    }
    int rc = odx_clip_preproc_parse(js, len, p);
    odx_free(js);
    return rc;
}
