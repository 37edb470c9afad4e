# omnidex - one Makefile, no configure step. Each part of the system adds its
# sources and tests in its own <dir>/module.mk, included below.
#
#   make deps      install Debian packages and build FAISS with its C API
#   make           build build/<variant>/omnidex, libomnidex.a and libomnidex-core.a
#   make test      build and run every test (last line: N passed, N failed)
#   make demo      the real-data demo
#   make bench     benchmarks; tables go to bench/RESULTS.md
#   make install   PREFIX=/usr/local (DESTDIR too): bin/omnidex, include/omnidex.h and
#                  omnidex_embed.h, lib/libomnidex.a and libomnidex-core.a with their
#                  lib/pkgconfig/omnidex.pc and omnidex-core.pc, share/omnidex/models
#   make SANITIZE=address,undefined test
#
# Two archives (docs/core.md "Library split"):
#   libomnidex.a       everything: the core, encoders/ and media, rpc/; links
#                      with LDLIBS (FAISS, LMDB, ..., libav*, assimp, sndfile,
#                      fftw, curl) and for rpc/ -lgrpc -lgpr -lprotobuf-c
#   libomnidex-core.a  the vector database alone: common/, storage/, index/,
#                      query/ with query/embed_none.c in place of the encoders
#                      (payloads and text/media queries: ODX_EUNSUPPORTED);
#                      links with CORE_LDLIBS only, which make test proves
#                      (tests/core/vector_only.c, build/<variant>/core-only/)
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
# What the core links with; module.mk files add the rest to LDLIBS.
CORE_LDLIBS := $(FAISS_DIR)/lib/libfaiss_c.a $(FAISS_DIR)/lib/libfaiss.a \
               -llmdb -lcjson -lopenblas -lz -lstdc++ -lm -lpthread
LDLIBS := $(CORE_LDLIBS)

# Filled by the module.mk files.
LIB_SRCS :=
TEST_SRCS :=
PROGS :=
TEST_SCRIPTS :=

include $(sort $(wildcard */module.mk)) $(wildcard index/cuda/module.mk)

LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(filter %.c,$(LIB_SRCS))) \
            $(patsubst %.cpp,$(B)/%.o,$(filter %.cpp,$(LIB_SRCS)))
LIB := $(B)/libomnidex.a
# The core: every library source of common/ storage/ index/ query/ but the
# engine's encoder side, which query/module.mk names, replaced by its stub.
CORE_SRCS := $(filter-out $(QUERY_ENCODERS_SRCS),$(filter common/% storage/% index/% query/%,$(LIB_SRCS))) \
             $(QUERY_NO_ENCODERS_SRCS)
CORE_OBJS := $(patsubst %.c,$(B)/%.o,$(filter %.c,$(CORE_SRCS))) \
             $(patsubst %.cpp,$(B)/%.o,$(filter %.cpp,$(CORE_SRCS)))
CORE_LIB := $(B)/libomnidex-core.a
# make GPU=1: the CUDA backend belongs to index/, so to the core as well
# (its objects and libraries as index/cuda/module.mk adds them to the full build).
ifeq ($(GPU),1)
$(CORE_LIB): $(GPU_CU_OBJS)
CORE_LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart
endif
# Programs relink when the FAISS build changes (tools/deps.sh rebuilds it).
FAISS_LIBS := $(FAISS_DIR)/lib/libfaiss_c.a $(FAISS_DIR)/lib/libfaiss.a
TEST_BINS := $(patsubst %.c,$(B)/%,$(TEST_SRCS))
# The core links alone: a program over omnidex.h (run by
# tests/integration/core_only.sh) and the engine's unit test, linked with the
# whole core archive (--whole-archive: every object of it must resolve, not
# only those the tests call) and CORE_LDLIBS, nothing else.
CORE_TEST_BINS := $(B)/core-only/vector_only $(B)/core-only/test_engine
TEST_BINS += $(B)/core-only/test_engine
PROGS += $(B)/core-only/vector_only
TEST_SCRIPTS += tests/integration/core_only.sh

.PHONY: all deps test demo demo-vectors bench clean unit-tests install uninstall
BENCH_TARGETS ?=
# build/share/omnidex/models: the shipped spaces where a binary in build/<variant>/
# looks for them (<bin>/../share/omnidex/models, as after make install).
SHARE_LINK := build/share/omnidex/models
all: $(B)/omnidex $(CORE_LIB) $(PROGS) $(SHARE_LINK)

$(SHARE_LINK):
	@mkdir -p $(dir $@)
	@ln -sfn ../../../models $@

deps:
	@tools/deps.sh

$(B)/.deps: tools/deps.sh $(wildcard tools/packages/*.txt)
	@tools/deps.sh
	@mkdir -p $(B) && touch $@

# A fresh clone has no FAISS yet: tools/deps.sh builds it (make deps).
$(FAISS_DIR)/lib/libfaiss_c.a $(FAISS_DIR)/lib/libfaiss.a: | $(B)/.deps
	@test -f $@ || tools/deps.sh

$(B)/%.o: %.c $(B)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/%.o: %.cpp $(B)/.deps
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/core-only/vector_only: tests/core/vector_only.c $(CORE_LIB) $(FAISS_LIBS)
$(B)/core-only/test_engine: tests/unit/test_engine.c $(CORE_LIB) $(FAISS_LIBS) tests/unit/testlib.h tests/unit/testdata.h
$(CORE_TEST_BINS):
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -Iinclude -MMD -MP $(CFLAGS) -o $@ $< -Wl,--whole-archive $(CORE_LIB) -Wl,--no-whole-archive \
	  $(LDFLAGS) $(CORE_LDLIBS)

$(B)/omnidex: $(B)/cli/main.o $(CLI_OBJS) $(LIB) $(FAISS_LIBS)
	$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(CLI_LIBS) $(LDLIBS)
	@ln -sf $(VARIANT)/omnidex build/omnidex-$(VARIANT)

$(B)/tests/%: tests/%.c $(LIB) $(FAISS_LIBS) tests/unit/testlib.h tests/unit/testdata.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(TEST_LIBS) $(LDFLAGS) $(LDLIBS)

unit-tests: $(TEST_BINS)

test: all $(TEST_BINS)
	@ODX_SANITIZE=$(SANITIZE) tools/run-tests.sh $(B) $(TEST_BINS) -- $(TEST_SCRIPTS)

demo: all
	@OMNIDEX_BIN=$(B)/omnidex tools/demo.sh

# The earlier vector-only demo: Fashion-MNIST pixels as vectors through put/search.
demo-vectors: all
	@OMNIDEX_BIN=$(B)/omnidex /usr/bin/python3 tools/demo_vectors.py

bench: all $(BENCH_TARGETS)

clean:
	rm -rf build/rel build/san

# make install: the program, the embedded C API (omnidex.h, omnidex_embed.h;
# each archive merged with the FAISS build it needs, with a pkg-config file
# listing the Debian libraries to link: omnidex, omnidex-core) and the shipped spaces, which the installed
# program finds on its default models path (omnidex models --help).
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_LIBS := -lgrpc -lgpr -lprotobuf-c $(filter-out $(FAISS_LIBS),$(LDLIBS))
INSTALL_CORE_LIBS := $(filter-out $(FAISS_LIBS),$(CORE_LDLIBS))
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/share/omnidex/models
	install -m 755 $(B)/omnidex $(DESTDIR)$(PREFIX)/bin/omnidex
	install -m 644 include/omnidex.h include/omnidex_embed.h include/omnidex_backend.h include/omnidex_rpc.h include/omnidex_util.h $(DESTDIR)$(PREFIX)/include/
	@rm -f $(B)/libomnidex-full.a $(B)/libomnidex-core-full.a
	@printf 'CREATE $(B)/libomnidex-full.a\nADDLIB $(LIB)\nADDLIB $(FAISS_DIR)/lib/libfaiss_c.a\nADDLIB $(FAISS_DIR)/lib/libfaiss.a\nSAVE\nEND\n' | ar -M
	@printf 'CREATE $(B)/libomnidex-core-full.a\nADDLIB $(CORE_LIB)\nADDLIB $(FAISS_DIR)/lib/libfaiss_c.a\nADDLIB $(FAISS_DIR)/lib/libfaiss.a\nSAVE\nEND\n' | ar -M
	install -m 644 $(B)/libomnidex-full.a $(DESTDIR)$(PREFIX)/lib/libomnidex.a
	install -m 644 $(B)/libomnidex-core-full.a $(DESTDIR)$(PREFIX)/lib/libomnidex-core.a
	@version="$$(sed -n 's/^#define OMNIDEX_VERSION_STRING "\(.*\)"/\1/p' include/omnidex.h)"; \
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: omnidex\nDescription: multimodal retrieval database (embedded C API)\nVersion: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lomnidex\nLibs.private: -fopenmp %s\n' \
	  '$(PREFIX)' "$$version" '$(INSTALL_LIBS)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/omnidex.pc; \
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: omnidex-core\nDescription: omnidex vector database without encoders (embedded C API, omnidex.h)\nVersion: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lomnidex-core\nLibs.private: -fopenmp %s\n' \
	  '$(PREFIX)' "$$version" '$(INSTALL_CORE_LIBS)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/omnidex-core.pc
	@for d in models/*/; do \
	  n=$$(basename $$d); rm -rf $(DESTDIR)$(PREFIX)/share/omnidex/models/$$n; \
	  cp -R $$d $(DESTDIR)$(PREFIX)/share/omnidex/models/$$n; \
	  echo "installed space $$n -> $(DESTDIR)$(PREFIX)/share/omnidex/models/$$n"; done
	@echo "installed omnidex $(PREFIX)/bin/omnidex (try: omnidex help)"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/omnidex $(DESTDIR)$(PREFIX)/include/omnidex.h \
	  $(DESTDIR)$(PREFIX)/include/omnidex_embed.h $(DESTDIR)$(PREFIX)/include/omnidex_backend.h \
	  $(DESTDIR)$(PREFIX)/include/omnidex_rpc.h $(DESTDIR)$(PREFIX)/include/omnidex_util.h $(DESTDIR)$(PREFIX)/lib/libomnidex.a \
	  $(DESTDIR)$(PREFIX)/lib/libomnidex-core.a $(DESTDIR)$(PREFIX)/lib/pkgconfig/omnidex.pc \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/omnidex-core.pc
	rm -rf $(DESTDIR)$(PREFIX)/share/omnidex

-include $(LIB_OBJS:.o=.d) $(CORE_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(B)/cli/main.d $(TEST_BINS:=.d)
