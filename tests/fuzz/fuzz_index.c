/* Fuzz target: the index checkpoint loader (odx_index_load, index/index.c,
 * which hands the payload to FAISS's reader). A checkpoint carries CRC32s of
 * its header and payload, so a mutated file would stop at the checksum; the
 * harness therefore rewrites the payload length and both checksums of every
 * input before loading it (unless the first byte of the magic is 'x'),
 * which drives the mutations into the header checks and into FAISS. The
 * dimension and metric are taken from the header so that they match. A
 * loaded index must answer a search. Inputs shorter than the header are
 * loaded as they are. */
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "index/index.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"

#define HDR 192 /* the checkpoint header: index/index.c */

static char path[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/odx-fuzz-index-%d.faiss", (int)getpid());
    return 0;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) { p[i] = (unsigned char)v; v >>= 8; }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0;
    unsigned char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    int dim = 4;
    odx_metric metric = ODX_METRIC_L2;
    if (size >= HDR) {
        uint64_t ver = le64(buf + 8);
        dim = (int)(ver >> 32);
        metric = (odx_metric)(le64(buf + 16) % 3);
        if (buf[0] != 'x') {
            put_le64(buf + 48, size - HDR);
            uint32_t pc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf + HDR, (uInt)(size - HDR));
            unsigned char h[HDR];
            memcpy(h, buf, HDR);
            memset(h + 56, 0, 8);
            uint32_t hc = (uint32_t)crc32(0L, h, HDR);
            put_le64(buf + 56, pc | ((uint64_t)hc << 32));
        }
    }
    FILE *f = fopen(path, "wb");
    if (!f) { free(buf); return 0; }
    fwrite(buf, 1, size, f);
    fclose(f);
    free(buf);
    if (dim < 1 || dim > 4096) dim = 4;
    odx_index *ix = NULL;
    uint64_t lsn = 0, next = 0;
    int rc = odx_index_load(path, dim, metric, &ix, &lsn, &next);
    if (rc) {
        FUZZ_ASSERT(rc == ODX_ECORRUPT || rc == ODX_ENOMEM || rc == ODX_EIO, "load returned %d (%s)", rc, odx_strerror(rc));
    } else {
        float q[4096], dist[8];
        uint64_t seqs[8];
        for (int i = 0; i < dim; i++) q[i] = (float)sin(i + 1.0);
        rc = odx_index_search(ix, 1, q, 8, 16, 4, NULL, NULL, dist, seqs);
        (void)rc;
        odx_index_free(ix);
    }
    unlink(path);
    return 0;
}
