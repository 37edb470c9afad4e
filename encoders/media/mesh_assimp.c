/* OBJ and glTF 2 / GLB through libassimp, from memory only. */
#include <assimp/cfileio.h>
#include <assimp/cimport.h>
#include <assimp/postprocess.h>
#include <assimp/scene.h>

#include "encoders/media/mesh_parse.h"

/* The only "file" assimp may open: the caller's buffer under a name whose
 * extension selects the importer. Any other name (mtllib, buffer uris,
 * external images) fails to open, so nothing is read from the disk. */
typedef struct mem_file {
    const unsigned char *d;
    size_t len, pos;
} mem_file;

typedef struct mem_fs {
    const char *name;
    const unsigned char *d;
    size_t len;
} mem_fs;

static size_t mf_read(struct aiFile *f, char *buf, size_t size, size_t count)
{
    mem_file *m = (mem_file *)f->UserData;
    if (!size) return 0;
    size_t n = (m->len - m->pos) / size;
    if (n > count) n = count;
    memcpy(buf, m->d + m->pos, n * size);
    m->pos += n * size;
    return n;
}
static size_t mf_write(struct aiFile *f, const char *b, size_t s, size_t c) { (void)f; (void)b; (void)s; (void)c; return 0; }
static size_t mf_tell(struct aiFile *f) { return ((mem_file *)f->UserData)->pos; }
static size_t mf_size(struct aiFile *f) { return ((mem_file *)f->UserData)->len; }
static void mf_flush(struct aiFile *f) { (void)f; }
static enum aiReturn mf_seek(struct aiFile *f, size_t off, enum aiOrigin o)
{
    mem_file *m = (mem_file *)f->UserData;
    size_t base = o == aiOrigin_SET ? 0 : o == aiOrigin_CUR ? m->pos : m->len;
    if (off > m->len - base) return aiReturn_FAILURE;
    m->pos = base + off;
    return aiReturn_SUCCESS;
}

/* Assimp allocates these with the C++ runtime; ours use malloc directly
 * rather than odx_malloc, since a failure inside assimp's callback is not one
 * of the failure points the tests walk (assimp reports it as a failed import). */
static struct aiFile *mfs_open(struct aiFileIO *io, const char *name, const char *mode)
{
    mem_fs *fs = (mem_fs *)io->UserData;
    if (strcmp(name, fs->name) != 0 || strchr(mode, 'w')) return NULL;
    struct aiFile *f = calloc(1, sizeof *f);
    mem_file *m = calloc(1, sizeof *m);
    if (!f || !m) { free(f); free(m); return NULL; }
    m->d = fs->d;
    m->len = fs->len;
    f->ReadProc = mf_read;
    f->WriteProc = mf_write;
    f->TellProc = mf_tell;
    f->FileSizeProc = mf_size;
    f->SeekProc = mf_seek;
    f->FlushProc = mf_flush;
    f->UserData = (aiUserData)m;
    return f;
}
static void mfs_close(struct aiFileIO *io, struct aiFile *f)
{
    (void)io;
    if (!f) return;
    free(f->UserData);
    free(f);
}

#define MAX_NODE_DEPTH 64
#define MAX_NODE_VISITS 100000

typedef struct walk {
    const struct aiScene *sc;
    int64_t nv, nf, visits;
    odx_mesh *m; /* NULL: counting pass */
    const char *fmt;
    const odx_mesh_limits *lim;
} walk;

static int walk_node(walk *w, const struct aiNode *n, const struct aiMatrix4x4 *parent, int depth)
{
    if (depth > MAX_NODE_DEPTH) return odx_error(ODX_EMEDIA, "%s: node hierarchy deeper than %d", w->fmt, MAX_NODE_DEPTH);
    if (++w->visits > MAX_NODE_VISITS) return odx_error(ODX_EMEDIA, "%s: more than %d nodes", w->fmt, MAX_NODE_VISITS);
    struct aiMatrix4x4 t = *parent;
    aiMultiplyMatrix4(&t, &n->mTransformation); /* t = parent * local */
    for (unsigned i = 0; i < n->mNumMeshes; i++) {
        if (n->mMeshes[i] >= w->sc->mNumMeshes) return odx_error(ODX_EMEDIA, "%s: node names a missing mesh", w->fmt);
        const struct aiMesh *me = w->sc->mMeshes[n->mMeshes[i]];
        if (!me->mVertices) continue;
        int64_t base = w->nv, tris = 0;
        for (unsigned k = 0; k < me->mNumFaces; k++) tris += me->mFaces[k].mNumIndices == 3;
        if (w->m) {
            for (unsigned k = 0; k < me->mNumVertices; k++) {
                struct aiVector3D p = me->mVertices[k];
                aiTransformVecByMatrix4(&p, &t);
                float *o = w->m->v + (base + k) * 3;
                o[0] = p.x; o[1] = p.y; o[2] = p.z;
                int rc = check_vertex(w->fmt, o, base + k);
                if (rc) return rc;
            }
            for (unsigned k = 0; k < me->mNumFaces; k++) {
                const struct aiFace *fc = &me->mFaces[k];
                if (fc->mNumIndices != 3) continue;
                uint32_t *o = w->m->f + w->nf * 3;
                for (int q = 0; q < 3; q++) {
                    if (fc->mIndices[q] >= me->mNumVertices)
                        return odx_error(ODX_EMEDIA, "%s: face index %u out of range (%u vertices)", w->fmt, fc->mIndices[q], me->mNumVertices);
                    o[q] = (uint32_t)(base + fc->mIndices[q]);
                }
                w->nf++;
            }
        } else {
            w->nf += tris;
        }
        w->nv += me->mNumVertices;
        if (w->nv > w->lim->max_vertices)
            return odx_error(ODX_ELIMIT, "%s: more than %lld vertices", w->fmt, (long long)w->lim->max_vertices);
        if (w->nf > w->lim->max_faces)
            return odx_error(ODX_ELIMIT, "%s: more than %lld triangles", w->fmt, (long long)w->lim->max_faces);
    }
    for (unsigned i = 0; i < n->mNumChildren; i++) {
        int rc = walk_node(w, n->mChildren[i], &t, depth + 1);
        if (rc) return rc;
    }
    return 0;
}

/* GLB declares its total length and each chunk's length in headers that
 * assimp 5.2 allocates from before reading (a 300-byte file declaring a
 * 4 GiB JSON chunk made it allocate and zero 4 GiB; found by fuzz_mesh).
 * Every declared length must fit in the bytes present. Version 1 has one
 * content length after the total; version 2 a list of chunks. */
static int check_glb(const unsigned char *d, size_t len)
{
    uint32_t version = rd_u32le(d + 4), total = rd_u32le(d + 8);
    if (total < 12 || total > len)
        return odx_error(ODX_EMEDIA, "GLB: header declares %u bytes, the file holds %zu", (unsigned)total, len);
    size_t off = 12;
    if (version == 1) {
        if (total < 20 || rd_u32le(d + 12) > total - 20)
            return odx_error(ODX_EMEDIA, "GLB: content length runs past the declared %u bytes", (unsigned)total);
        return 0;
    }
    while (off < total) {
        if (total - off < 8) return odx_error(ODX_EMEDIA, "GLB: chunk header at byte %zu is cut", off);
        uint32_t clen = rd_u32le(d + off);
        if (clen > total - off - 8)
            return odx_error(ODX_EMEDIA, "GLB: chunk at byte %zu declares %u bytes, past the declared end", off,
                             (unsigned)clen);
        off += 8 + (size_t)clen;
    }
    return 0;
}

/* name: the format as messages name it; fname: the one file name the
 * memory file system serves, whose extension selects assimp's importer. */
static int decode_assimp(const unsigned char *d, size_t len, const char *name, const char *fname,
                         const odx_mesh_limits *lim, odx_mesh *m)
{
    mem_fs fs = {fname, d, len};
    struct aiFileIO io = {mfs_open, mfs_close, (aiUserData)&fs};
    const struct aiScene *sc = aiImportFileEx(fs.name, aiProcess_Triangulate | aiProcess_SortByPType, &io);
    if (!sc) {
        const char *e = aiGetErrorString();
        if (!e || !*e) e = "assimp could not import the file";
        /* assimp's importers often name themselves already ("OBJ: ..."). */
        if (!strncmp(e, name, strlen(name)) && e[strlen(name)] == ':') return odx_error(ODX_EMEDIA, "%s", e);
        return odx_error(ODX_EMEDIA, "%s: %s", name, e);
    }
    int rc = 0;
    if (!sc->mRootNode || !sc->mNumMeshes) {
        rc = odx_error(ODX_EMEDIA, "%s: no geometry", name);
        goto out;
    }
    struct aiMatrix4x4 id;
    memset(&id, 0, sizeof id);
    id.a1 = id.b2 = id.c3 = id.d4 = 1;
    walk w = {sc, 0, 0, 0, NULL, name, lim};
    if ((rc = walk_node(&w, sc->mRootNode, &id, 0))) goto out;
    if (w.nv == 0) { rc = odx_error(ODX_EMEDIA, "%s: no vertices", name); goto out; }
    m->v = odx_malloc((size_t)w.nv * 3 * sizeof(float));
    m->f = w.nf ? odx_malloc((size_t)w.nf * 3 * sizeof(uint32_t)) : NULL;
    if (!m->v || (w.nf && !m->f)) { rc = odx_error(ODX_ENOMEM, "out of memory for %lld vertices", (long long)w.nv); goto out; }
    walk w2 = {sc, 0, 0, 0, m, name, lim};
    if ((rc = walk_node(&w2, sc->mRootNode, &id, 0))) goto out;
    m->nv = w2.nv;
    m->nf = w2.nf;
out:
    aiReleaseImport(sc);
    return rc;
}

int odx_mesh_decode_obj(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
{
    return decode_assimp(d, len, "OBJ", "$$omnidex$$.obj", lim, m);
}

int odx_mesh_decode_gltf(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
{
    return decode_assimp(d, len, "glTF", "$$omnidex$$.gltf", lim, m);
}

int odx_mesh_decode_glb(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
{
    int rc = check_glb(d, len);
    return rc ? rc : decode_assimp(d, len, "GLB", "$$omnidex$$.glb", lim, m);
}
