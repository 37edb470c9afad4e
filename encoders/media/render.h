/* Multi-view depth rendering of a mesh (docs/modalities.md, "Multi-view
 * rendering"): how a space without a point tower sees a 3D object through
 * its image tower. A software z-buffer, orthographic cameras on the unit
 * sphere around the normalised mesh. */
#ifndef ODX_ENC_RENDER_H
#define ODX_ENC_RENDER_H

#include "encoders/media/image.h"
#include "encoders/media/mesh.h"

#define ODX_RENDER_MAX_VIEWS 64
#define ODX_RENDER_MAX_SIZE 4096

/* Renders `views` depth images of `size` x `size` into out[0..views) (RGB8,
 * grey replicated; free each with odx_image_free). View i looks at the
 * origin from azimuth i * 360 / views degrees (0, 60, ..., 300 for six) at
 * elevation 30 degrees; +y is up, azimuth 0 looks from +z, azimuth 90 from
 * +x. The mesh is first centred on the mean of its vertices and scaled so
 * the farthest vertex is at distance 1, so the image spans [-1, 1] in both
 * axes. Covered pixels hold 64 + 191 * (far - depth) / (far - near), where
 * near and far are the smallest and largest vertex depths of that view (the
 * nearest surface is 255); background is 0. Point clouds are 1-pixel splats.
 * 0, ODX_EINVAL (views or size out of range, empty mesh), ODX_ENOMEM. */
int odx_render_depth_views(const odx_mesh *m, int views, int size, odx_image *out);

#endif
