LIB_SRCS += query/db.c query/write.c query/maintain.c query/items.c query/search.c
TEST_SRCS += tests/unit/test_engine.c
