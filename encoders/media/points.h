/* Point clouds from meshes and PointBERT grouping (docs/modalities.md, "3D",
 * "Points" and "Grouping"). Every step is deterministic and follows the
 * contract's arithmetic order exactly, so tools/ref_point.py produces the
 * same bits: surface sampling by area with splitmix64, normalisation to the
 * unit sphere, farthest point sampling, k nearest neighbours. */
#ifndef ODX_ENC_POINTS_H
#define ODX_ENC_POINTS_H
#include <stdint.h>

#include "encoders/media/mesh.h"

/* The contract's seed ("omnidex" in ASCII); every mesh starts from it. */
#define ODX_POINTS_SEED 0x6f6d6e69646578ull

/* n points (out: n x 3) uniformly by area on m's triangles; a point cloud
 * or a mesh of total area 0 gives vertices picked by PRNG index.
 * ODX_EINVAL for n <= 0 or an empty mesh, ODX_ENOMEM. */
int odx_points_sample(const odx_mesh *m, int n, float *out);

/* In place: subtract the centroid, divide by the largest norm (if > 0). */
void odx_points_normalize(float *p, int n);

/* Farthest point sampling: g indices into p (n points), first 0.
 * 0, ODX_EINVAL (g < 1 or g > n) or ODX_ENOMEM. */
int odx_points_fps(const float *p, int n, int g, int *idx);

/* For each of the g centres (indices into p), the k nearest points of p
 * (ascending squared distance, ties by lower index): out[g x k].
 * 0 or ODX_EINVAL (k < 1 or k > n, a centre out of range). */
int odx_points_knn(const float *p, int n, const int *centres, int g, int k, int *out);

/* FPS + kNN: centres[groups x 3], neigh[groups x k x 3] relative to their
 * centre. 0, ODX_EINVAL or ODX_ENOMEM. */
int odx_points_group(const float *p, int n, int groups, int k, float *centres, float *neigh);

#endif
