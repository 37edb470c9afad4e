/* Fuzz target: the 3D path (encoders/media/mesh.c: the own PLY/OFF/STL
 * parsers and libassimp's OBJ/glTF/GLB importers over a memory file
 * system), then what a space does with an accepted mesh: surface sampling,
 * normalisation and PointBERT grouping (points.c) and multi-view depth
 * rendering (render.c). Limits of 200k vertices and faces keep one input
 * cheap; a larger declared count is ODX_ELIMIT. An accepted mesh has
 * 1..200k finite vertices (|x| <= 1e18) and every face index below nv;
 * its 256 sampled points normalise onto the unit ball (the farthest at
 * distance 1 unless the cloud is narrower than 1e-15), group into finite
 * centres and neighbourhoods, and its two 32 x 32 depth views hold
 * background (0) or a depth shade (64..255) in grey pixels. */
#include <math.h>
#include <string.h>

#include "encoders/media/mesh.h"
#include "encoders/media/points.h"
#include "encoders/media/render.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"

#define MAX_ITEMS 200000
#define NPTS 256
#define GROUPS 16
#define GROUP_K 8
#define VIEWS 2
#define SIZE 32

static float pts[NPTS * 3], centres[GROUPS * 3], neigh[GROUPS * GROUP_K * 3];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *name = odx_mesh_format_name(data, size);
    FUZZ_ASSERT(name && name[0], "format name");
    odx_mesh_limits lim = {MAX_ITEMS, MAX_ITEMS};
    odx_mesh m;
    int rc = odx_mesh_decode(data, size, &lim, &m);
    if (rc) {
        FUZZ_ASSERT(rc == ODX_EMEDIA || rc == ODX_ELIMIT || rc == ODX_ENOMEM, "decode returned %d (%s)", rc,
                    odx_strerror(rc));
        FUZZ_ASSERT(odx_last_error()[0] != '\0', "refusal without a message");
        FUZZ_ASSERT(m.v == NULL && m.f == NULL && m.nv == 0 && m.nf == 0, "refusal left a mesh behind");
        return 0;
    }
    FUZZ_ASSERT(m.nv >= 1 && m.nv <= MAX_ITEMS && m.v, "%lld vertices", (long long)m.nv);
    FUZZ_ASSERT(m.nf >= 0 && m.nf <= MAX_ITEMS && (m.nf == 0) == (m.f == NULL), "%lld faces, f %p",
                (long long)m.nf, (void *)m.f);
    for (int64_t i = 0; i < m.nv * 3; i++)
        FUZZ_ASSERT(isfinite(m.v[i]) && fabsf(m.v[i]) <= 1e18f, "coordinate %lld is %g", (long long)i, m.v[i]);
    for (int64_t i = 0; i < m.nf * 3; i++)
        FUZZ_ASSERT(m.f[i] < (uint64_t)m.nv, "face index %u of %lld vertices", m.f[i], (long long)m.nv);

    rc = odx_points_sample(&m, NPTS, pts);
    FUZZ_ASSERT(rc == 0 || rc == ODX_ENOMEM, "sample returned %d (%s)", rc, odx_last_error());
    if (rc == 0) {
        for (int i = 0; i < NPTS * 3; i++) FUZZ_ASSERT(isfinite(pts[i]), "sampled value %d is %g", i, pts[i]);
        /* The spread in double: a cloud wider than 1e-15 (whose float32
         * squares cannot underflow) must come out with its farthest point
         * on the unit sphere; narrower ones may stay unscaled. */
        double c[3] = {0, 0, 0}, spread = 0, rmax = 0;
        for (int i = 0; i < NPTS * 3; i++) c[i % 3] += pts[i] / (double)NPTS;
        for (int i = 0; i < NPTS; i++) {
            double e0 = pts[i * 3] - c[0], e1 = pts[i * 3 + 1] - c[1], e2 = pts[i * 3 + 2] - c[2];
            double r = sqrt(e0 * e0 + e1 * e1 + e2 * e2);
            if (r > spread) spread = r;
        }
        odx_points_normalize(pts, NPTS);
        for (int i = 0; i < NPTS; i++) {
            const float *p = pts + i * 3;
            FUZZ_ASSERT(isfinite(p[0]) && isfinite(p[1]) && isfinite(p[2]), "normalised point %d is (%g, %g, %g)", i,
                        p[0], p[1], p[2]);
            double r = sqrt((double)p[0] * p[0] + (double)p[1] * p[1] + (double)p[2] * p[2]);
            FUZZ_ASSERT(r <= 1.0001, "normalised point %d at distance %g", i, r);
            if (r > rmax) rmax = r;
        }
        if (spread > 1e-15) FUZZ_ASSERT(rmax >= 0.9999, "spread %g normalised to a farthest point at %g", spread, rmax);
        rc = odx_points_group(pts, NPTS, GROUPS, GROUP_K, centres, neigh);
        FUZZ_ASSERT(rc == 0 || rc == ODX_ENOMEM, "group returned %d (%s)", rc, odx_last_error());
        if (rc == 0) {
            for (int i = 0; i < GROUPS * 3; i++) FUZZ_ASSERT(isfinite(centres[i]), "centre value %d", i);
            for (int i = 0; i < GROUPS * GROUP_K * 3; i++)
                FUZZ_ASSERT(isfinite(neigh[i]) && fabsf(neigh[i]) <= 2.001f, "neighbour value %d is %g", i, neigh[i]);
        }
    }

    odx_image views[VIEWS];
    rc = odx_render_depth_views(&m, VIEWS, SIZE, views);
    FUZZ_ASSERT(rc == 0 || rc == ODX_ENOMEM, "render returned %d (%s)", rc, odx_last_error());
    if (rc == 0) {
        for (int i = 0; i < VIEWS; i++) {
            FUZZ_ASSERT(views[i].w == SIZE && views[i].h == SIZE && views[i].rgb, "view %d is %dx%d", i, views[i].w,
                        views[i].h);
            for (int q = 0; q < SIZE * SIZE; q++) {
                const unsigned char *px = views[i].rgb + q * 3;
                FUZZ_ASSERT(px[0] == px[1] && px[1] == px[2] && (px[0] == 0 || px[0] >= 64), "view %d pixel %d = %u",
                            i, q, px[0]);
            }
            odx_image_free(&views[i]);
        }
    }
    odx_mesh_free(&m);
    return 0;
}
