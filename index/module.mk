LIB_SRCS += index/index.c index/faiss_ext.cpp index/hnsw_search.cpp
TEST_SRCS += tests/unit/test_hnsw_search.c
# The HNSW search loop's kernels need -O3 to vectorise with several
# accumulators (at -O2 GCC 12 keeps them in memory); ISA is chosen at run time.
$(B)/index/hnsw_search.o: CXXFLAGS += -O3
