/* 3D meshes from memory: PLY (ascii, binary LE/BE), OFF, OBJ, STL (ascii,
 * binary), glTF 2 / GLB (docs/modalities.md, "3D").
 *
 * PLY, OFF and STL are read by small strict parsers here: PLY, OFF and
 * binary STL declare their counts in a header, which is checked against the
 * limits and against the bytes actually present before anything is
 * allocated; PLY and OFF may hold point clouds (vertices without faces),
 * which assimp's importers reject or mangle, and assimp refuses an ASCII STL
 * with an empty "solid" block. OBJ and glTF/GLB go through libassimp
 * (triangulated, sorted by primitive type, node transforms applied,
 * sub-meshes concatenated), with an I/O system that serves only the caller's
 * buffer: a file that names another file (an OBJ mtllib, a glTF buffer uri)
 * cannot make the importer read the local disk. Polygons are triangulated
 * as fans by the own parsers, by assimp otherwise.
 *
 * A mesh is float32 vertices + uint32 triangles; nf == 0 is a point cloud. */
#ifndef ODX_ENC_MESH_H
#define ODX_ENC_MESH_H
#include <stddef.h>
#include <stdint.h>

#define ODX_MESH_DEFAULT_MAX_VERTICES 5000000
#define ODX_MESH_DEFAULT_MAX_FACES 5000000

typedef struct odx_mesh_limits {
    int64_t max_vertices; /* <= 0: the default */
    int64_t max_faces;    /* triangles after triangulation; <= 0: the default */
} odx_mesh_limits;

typedef struct odx_mesh {
    float *v;     /* nv x 3, owned */
    int64_t nv;
    uint32_t *f;  /* nf x 3 vertex indices, each < nv; owned (NULL when nf == 0) */
    int64_t nf;
} odx_mesh;

/* Decodes data into *out (free with odx_mesh_free; *out is zeroed on
 * failure). lim NULL: the defaults. ODX_ELIMIT when a declared or imported
 * count is over a limit; ODX_EMEDIA (the message names the format) for an
 * unrecognised, truncated or inconsistent file, no vertices, a NaN/Inf
 * coordinate or a face index out of range; ODX_ENOMEM. */
int odx_mesh_decode(const void *data, size_t len, const odx_mesh_limits *lim, odx_mesh *out);
void odx_mesh_free(odx_mesh *m);

/* "PLY", "OFF", "OBJ", "STL", "glTF", "GLB", or "unknown": the format the
 * bytes are sniffed as (static string). */
const char *odx_mesh_format_name(const void *data, size_t len);

#endif
