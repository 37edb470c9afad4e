/* The encoders' place in the vector-only core (libomnidex-core.a, docs/core.md
 * "Library split"): this build has no encoders, no media decoders and no
 * URL fetching, so everything that needs them answers ODX_EUNSUPPORTED with
 * a message that says so. Vectors in, hits out work as in the full build.
 * libomnidex.a links embed_space.c (and encoders/media/sniff.c) instead. */
#include "common/error.h"
#include "query/engine.h"

#define NO_ENCODERS "this build of omnidex (libomnidex-core) has no encoders"

void odx_encoders_close(odx_engine *db) { (void)db; }

int odx_encoders_space_info(odx_engine *db, const char *space, int *dim, unsigned *modalities)
{
    return odx_error(ODX_EUNSUPPORTED, NO_ENCODERS ", so space '%.128s' cannot be used; send vectors", space);
}

int odx_encoders_embed(odx_engine *db, const char *coll, const char *space, int dim, odx_modality m, const void *data,
                       size_t len, const char *uri, float *out)
{
    return odx_error(ODX_EUNSUPPORTED, NO_ENCODERS "; send vectors (collection '%s' got a %s payload)", coll,
                     odx_modality_name(m));
}

int odx_space_list(char ***names, size_t *count)
{
    return odx_error(ODX_EUNSUPPORTED, NO_ENCODERS ", so it has no spaces");
}

int odx_media_sniff(const void *data, size_t len, odx_modality *modality, unsigned *modalities,
                    const char **format)
{
    return odx_error(ODX_EUNSUPPORTED, NO_ENCODERS " and no media decoders to sniff with");
}
