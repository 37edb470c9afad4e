# omnidex - one Makefile, no configure step. Each part of the system adds its
# sources and tests in its own <dir>/module.mk, included below.
#
#   make deps      install Debian packages and build FAISS with its C API
#   make           build build/<variant>/omnidex and libomnidex.a
#   make test      build and run every test (last line: N passed, N failed)
#   make demo      the real-data demo
#   make bench     benchmarks; tables go to bench/RESULTS.md
#   make SANITIZE=address,undefined test
.DEFAULT_GOAL := all
SHELL := /bin/bash

CC ?= gcc
CXX ?= g++
SANITIZE ?=
OPT ?= -O2

FAISS_DIR := build/faiss/install
ifeq ($(SANITIZE),)
  VARIANT := rel
  SANFLAGS :=
else
  VARIANT := san
  SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# make GPU=1: the CUDA search backend (index/cuda, docs/gpu.md), built into
# its own variant so its objects never mix with the CPU build's.
GPU ?=
ifeq ($(GPU),1)
  VARIANT := $(VARIANT)-gpu
endif
B := build/$(VARIANT)

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation
CPPFLAGS := -D_GNU_SOURCE -Iinclude -I. -I$(FAISS_DIR)/include -MMD -MP
CFLAGS := -std=c11 $(OPT) -g -fPIC -fopenmp $(WARN) $(SANFLAGS)
CXXFLAGS := -std=c++17 $(OPT) -g -fPIC -fopenmp $(WARN) $(SANFLAGS)
LDFLAGS := -fopenmp $(SANFLAGS)
LDLIBS := $(FAISS_DIR)/lib/libfaiss_c.a $(FAISS_DIR)/lib/libfaiss.a \
          -llmdb -lcjson -lopenblas -lz -lstdc++ -lm -lpthread

# Filled by the module.mk files.
LIB_SRCS :=
TEST_SRCS :=
PROGS :=
TEST_SCRIPTS :=

include $(sort $(wildcard */module.mk)) $(wildcard index/cuda/module.mk)

LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(filter %.c,$(LIB_SRCS))) \
            $(patsubst %.cpp,$(B)/%.o,$(filter %.cpp,$(LIB_SRCS)))
LIB := $(B)/libomnidex.a
# Programs relink when the FAISS build changes (tools/deps.sh rebuilds it).
FAISS_LIBS := $(FAISS_DIR)/lib/libfaiss_c.a $(FAISS_DIR)/lib/libfaiss.a
TEST_BINS := $(patsubst %.c,$(B)/%,$(TEST_SRCS))

.PHONY: all deps test demo demo-vectors bench clean unit-tests
BENCH_TARGETS ?=
all: $(B)/omnidex $(PROGS)

deps:
	@tools/deps.sh

$(B)/.deps: tools/deps.sh $(wildcard tools/packages/*.txt)
	@tools/deps.sh
	@mkdir -p $(B) && touch $@

$(B)/%.o: %.c $(B)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/%.o: %.cpp $(B)/.deps
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/omnidex: $(B)/cli/main.o $(CLI_OBJS) $(LIB) $(FAISS_LIBS)
	$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(CLI_LIBS) $(LDLIBS)
	@ln -sf $(VARIANT)/omnidex build/omnidex-$(VARIANT)

$(B)/tests/%: tests/%.c $(LIB) $(FAISS_LIBS) tests/unit/testlib.h tests/unit/testdata.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(TEST_LIBS) $(LDFLAGS) $(LDLIBS)

unit-tests: $(TEST_BINS)

test: all $(TEST_BINS)
	@tools/run-tests.sh $(B) $(TEST_BINS) -- $(TEST_SCRIPTS)

demo: all
	@OMNIDEX_BIN=$(B)/omnidex tools/demo.sh

# The earlier vector-only demo: Fashion-MNIST pixels as vectors through put/search.
demo-vectors: all
	@OMNIDEX_BIN=$(B)/omnidex /usr/bin/python3 tools/demo_vectors.py

bench: all $(BENCH_TARGETS)

clean:
	rm -rf build/rel build/san

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(B)/cli/main.d $(TEST_BINS:=.d)
