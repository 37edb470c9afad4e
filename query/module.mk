LIB_SRCS += query/api.c query/backend.c query/builders.c query/topk.c query/db.c query/write.c query/maintain.c query/items.c query/search.c
TEST_SRCS += tests/unit/test_engine.c tests/unit/test_fetch.c
LIB_SRCS += query/embed.c query/fetch.c
TEST_SCRIPTS += tests/integration/core_multimodal.py tests/integration/rel_fetch.py
LIB_SRCS += query/gpu.c
