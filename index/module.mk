LIB_SRCS += index/index.c index/faiss_ext.cpp index/hnsw_search.cpp
TEST_SRCS += tests/unit/test_hnsw_search.c tests/unit/test_hnsw_recall.c
# The recall test builds its data set with the bench generator.
$(B)/tests/unit/test_hnsw_recall: bench/ann/clustered.c bench/ann/clustered.h
$(B)/tests/unit/test_hnsw_recall: TEST_LIBS += bench/ann/clustered.c
# The HNSW search loop's kernels need -O3 to vectorise with several
# accumulators (at -O2 GCC 12 keeps them in memory); ISA is chosen at run time.
$(B)/index/hnsw_search.o: CXXFLAGS += -O3
