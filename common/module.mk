LIB_SRCS += common/error.c common/alloc.c common/log.c common/util.c common/file.c common/meta.c common/filter.c
TEST_SRCS += tests/unit/test_common.c
