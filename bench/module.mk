# Benchmarks. Each benchmark adds a target to BENCH_TARGETS; `make bench`
# runs them all. Binaries live in build/bench/ (they do not depend on the
# variant: always the optimised library, build/rel).
#
#   make bench-ann                 omnidex vs raw FAISS (AVX2 and Debian's
#                                  generic build) vs hnswlib; ~15 min on 2 cores
#   make bench-ann BENCH_QUICK=1   20k-vector datasets, for iteration (~1 min)
#   make bench-ann-clustered       only the clustered CLIP-like sets (issue 24):
#                                  recall vs efSearch at default and efC=40
#                                  builds, omnidex vs FAISS vs hnswlib
BENCH_DIR := build/bench
BENCH_QUICK ?=
BENCH_TARGETS += bench-ann

# The instruction sets of the AVX2 FAISS build (tools/deps.sh), so that
# hnswlib's kernels are compiled the way FAISS's are.
BENCH_SIMD := $(if $(shell grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && echo y),-mavx2 -mfma -mf16c -mpopcnt)
BENCH_CXXFLAGS := -std=c++17 -g -fopenmp -Wall -Wextra -Werror -Wno-unused-parameter -I.
DEBIAN_FAISS_LIB := /usr/lib/x86_64-linux-gnu/libfaiss.a

ANN_BINS := $(BENCH_DIR)/ann_omnidex $(BENCH_DIR)/ann_faiss_avx2 $(BENCH_DIR)/ann_faiss_generic \
            $(BENCH_DIR)/ann_hnswlib $(BENCH_DIR)/ann_omnidex_hnswfix $(BENCH_DIR)/gen_clustered

.PHONY: bench-ann bench-ann-bins bench-ann-clustered
bench-ann-bins: $(ANN_BINS)

$(BENCH_DIR)/obj/harness.o: bench/ann/harness.c bench/ann/harness.h build/rel/.deps
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -I. -std=c11 -O2 -g -fopenmp $(WARN) -c $< -o $@

# omnidex is always benchmarked in its release build.
$(BENCH_DIR)/ann_omnidex: bench/ann/ann_omnidex.c $(BENCH_DIR)/obj/harness.o build/rel/libomnidex.a
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -Iinclude -I. -std=c11 -O2 -g -fopenmp $(WARN) -o $@ $< $(BENCH_DIR)/obj/harness.o \
	  build/rel/libomnidex.a -fopenmp $(LDLIBS)

# Diagnostic only (docs/bench-notes.md): omnidex linked with one line of
# FAISS 1.7.3's HNSW.cpp changed so that SearchParametersHNSW::efSearch also
# sizes the candidate queue (1.7.3 sizes it from the index's own efSearch).
# The patched copy of Debian's source is generated here in build/, never kept
# in the repository; its object replaces the archive's HNSW.o at link time.
FAISS_HNSW_SRC := $(firstword $(wildcard build/faiss/faiss-*/faiss/impl/HNSW.cpp))
$(BENCH_DIR)/obj/HNSW_effix.cpp: $(FAISS_HNSW_SRC)
	@mkdir -p $(dir $@)
	sed 's/int ef = std::max(efSearch, k);/int ef = std::max(params ? params->efSearch : efSearch, k);/' $< > $@.tmp
	@grep -q 'std::max(params ? params->efSearch : efSearch, k)' $@.tmp || { echo "HNSW.cpp: patch did not apply"; exit 1; }
	mv $@.tmp $@

$(BENCH_DIR)/obj/HNSW_effix.o: $(BENCH_DIR)/obj/HNSW_effix.cpp
	$(CXX) -std=c++17 -O3 $(BENCH_SIMD) -fopenmp -fPIC -I$(FAISS_DIR)/include -c $< -o $@

$(BENCH_DIR)/ann_omnidex_hnswfix: bench/ann/ann_omnidex.c $(BENCH_DIR)/obj/harness.o $(BENCH_DIR)/obj/HNSW_effix.o \
                                  build/rel/libomnidex.a
	$(CC) -D_GNU_SOURCE -Iinclude -I. -std=c11 -O2 -g -fopenmp $(WARN) -o $@ $< $(BENCH_DIR)/obj/harness.o \
	  $(BENCH_DIR)/obj/HNSW_effix.o build/rel/libomnidex.a -fopenmp $(LDLIBS)

$(BENCH_DIR)/ann_faiss_avx2: bench/ann/ann_faiss.cpp $(BENCH_DIR)/obj/harness.o $(FAISS_DIR)/lib/libfaiss.a
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -O3 $(BENCH_SIMD) -I$(FAISS_DIR)/include -o $@ $< $(BENCH_DIR)/obj/harness.o \
	  $(FAISS_DIR)/lib/libfaiss.a -lopenblas -lm

$(BENCH_DIR)/ann_faiss_generic: bench/ann/ann_faiss.cpp $(BENCH_DIR)/obj/harness.o $(DEBIAN_FAISS_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -O3 -o $@ $< $(BENCH_DIR)/obj/harness.o $(DEBIAN_FAISS_LIB) -lopenblas -lm

$(BENCH_DIR)/ann_hnswlib: bench/ann/ann_hnswlib.cpp $(BENCH_DIR)/obj/harness.o
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -O3 $(BENCH_SIMD) -o $@ $< $(BENCH_DIR)/obj/harness.o -lm

$(BENCH_DIR)/gen_clustered: bench/ann/gen_clustered.c bench/ann/clustered.c bench/ann/clustered.h
	@mkdir -p $(dir $@)
	$(CC) -I. -std=c11 -O2 -g $(WARN) -o $@ bench/ann/gen_clustered.c bench/ann/clustered.c -lm

# make bench-ann also runs the clustered, CLIP-like sets of issue 24
# (bench/ann/clustered_run.py; its own section of bench/RESULTS.md).
bench-ann: $(ANN_BINS)
	OMP_NUM_THREADS=2 nice /usr/bin/python3 bench/ann/run.py $(if $(BENCH_QUICK),--quick)
	OMP_NUM_THREADS=2 nice /usr/bin/python3 bench/ann/clustered_run.py $(if $(BENCH_QUICK),--quick)

bench-ann-clustered: $(ANN_BINS)
	OMP_NUM_THREADS=2 nice /usr/bin/python3 bench/ann/clustered_run.py $(if $(BENCH_QUICK),--quick)
