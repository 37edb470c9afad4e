LIB_SRCS += query/api.c query/backend.c query/builders.c query/topk.c query/db.c query/write.c query/maintain.c query/items.c query/search.c
TEST_SRCS += tests/unit/test_engine.c tests/unit/test_fetch.c
LIB_SRCS += query/embed.c query/fetch_policy.c
TEST_SCRIPTS += tests/integration/core_multimodal.py tests/integration/rel_fetch.py
LIB_SRCS += query/gpu.c
# The engine's side of the encoders is chosen at link time (docs/core.md
# "Library split"): libomnidex.a has the encoders and media by URL (libcurl);
# the vector-only libomnidex-core.a has embed_none.c in their place.
QUERY_ENCODERS_SRCS := query/embed_space.c query/fetch.c
QUERY_NO_ENCODERS_SRCS := query/embed_none.c
LIB_SRCS += $(QUERY_ENCODERS_SRCS)
