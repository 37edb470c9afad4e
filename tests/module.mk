# Reliability tests (tests/RELIABILITY.md): fuzz targets, the hostile input
# corpus, crash safety, allocation-failure sweep, soak.
#
#   make test                  replays every saved fuzz corpus (plain build,
#                              tests/fuzz/replay_main.c), plus the rel_* tests
#   make fuzz FUZZ_SECONDS=N   libFuzzer (clang, ASan+UBSan), N s per target
#   make stress                100 kill -9 runs per scenario: server during
#                              UpsertStream/Upsert, compact/checkpoint, and
#                              core_crash.py (omnidex put); disk full once
#   make soak                  32 clients for 10 min against the ASan server
#                              (SOAK_SECONDS, SOAK_CLIENTS to change)
FUZZ_TARGETS := filter meta rpc safetensors tokenizer image index audio video mesh
FUZZ_SECONDS ?= 60
FUZZ_DIR := build/fuzz
FUZZ_TOP_DEF := -DODX_FUZZ_TOP='"$(CURDIR)"'

# ---- replay binaries (gcc, this variant's library; run by make test) -------
FUZZ_REPLAY_BINS := $(patsubst %,$(B)/fuzz-replay/fuzz_%,$(FUZZ_TARGETS))
PROGS += $(FUZZ_REPLAY_BINS)
FUZZ_EXTRA_rpc := tests/fuzz/rpc_fake_call.c

$(B)/fuzz-replay/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c tests/fuzz/fuzz.h \
                         tests/fuzz/rpc_fake_call.c tests/fuzz/rpc_fake_call.h $(B)/libomnidex.a $(RPC_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(RPC_GEN) $(FUZZ_TOP_DEF) $(CFLAGS) -Wno-missing-braces -o $@ $< \
	  tests/fuzz/replay_main.c $(FUZZ_EXTRA_$*) $(LIB) $(LDFLAGS) -lgrpc -lgpr -lprotobuf-c $(LDLIBS)

TEST_SCRIPTS += tests/integration/rel_fuzz_replay.sh

# ---- libFuzzer builds (clang; only for make fuzz) ------------------------------
FZ_CC := clang
FZ_CXX := clang++
FZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FZ_CFLAGS := -std=c11 -O1 -g -fopenmp -w $(FZ_SAN) -fsanitize=fuzzer-no-link
FZ_CXXFLAGS := -std=c++17 -O1 -g -fopenmp -w $(FZ_SAN) -fsanitize=fuzzer-no-link
FZ_CPPFLAGS := -D_GNU_SOURCE -Iinclude -I. -I$(FAISS_DIR)/include -I$(RPC_GEN) $(FUZZ_TOP_DEF)
FZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(filter %.c,$(LIB_SRCS))) \
               $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(filter %.cpp,$(LIB_SRCS)))
FZ_LIB := $(FUZZ_DIR)/libomnidex-fuzz.a
FZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_DIR)/obj/%.o: %.c build/rel/.deps $(RPC_GEN_H)
	@mkdir -p $(dir $@)
	$(FZ_CC) $(FZ_CPPFLAGS) $(FZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/%.o: %.cpp build/rel/.deps
	@mkdir -p $(dir $@)
	$(FZ_CXX) $(FZ_CPPFLAGS) $(FZ_CXXFLAGS) -c $< -o $@

$(FZ_LIB): $(FZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_DIR)/obj/tests/fuzz/rpc_fake_call.o $(FZ_LIB)
	$(FZ_CC) $(FZ_CPPFLAGS) $(FZ_CFLAGS) -c -o $@.o $<
	$(FZ_CXX) $(FZ_SAN) -fsanitize=fuzzer -fopenmp -o $@ $@.o $(if $(FUZZ_EXTRA_$*),$(FUZZ_DIR)/obj/tests/fuzz/rpc_fake_call.o) $(FZ_LIB) \
	  -lgrpc -lgpr -lprotobuf-c $(LDLIBS)

.PHONY: fuzz fuzz-bins fuzz-seeds stress soak
fuzz-bins: $(FZ_BINS)
# Regenerates the committed seed corpora (tests/fuzz/corpus/).
fuzz-seeds: build/rel/omnidex
	/usr/bin/python3 tests/fuzz/make_seeds.py --omnidex build/rel/omnidex
fuzz: $(FZ_BINS)
	nice tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)
TEST_SRCS += tests/unit/test_rel_filter.c tests/unit/test_rel_alloc.c

# ---- crash safety, soak -------------------------------------------------------
# make test: 10 kills per crash scenario (OMNIDEX_CRASH_RUNS); the soak runs
# 60 s only in the sanitizer build (it prints a skip line otherwise).
TEST_SCRIPTS += tests/integration/rel_hostile.py tests/integration/rel_crash_server.py tests/integration/rel_soak.py
STRESS_RUNS ?= 100
SOAK_SECONDS ?= 600
SOAK_CLIENTS ?= 32
stress: all
	@OMNIDEX_CRASH_RUNS=$(STRESS_RUNS) OMNIDEX_TEST_TIMEOUT=14400 nice tools/run-tests.sh $(B) -- \
	  tests/integration/rel_crash_server.py tests/integration/core_crash.py
soak:
	$(MAKE) SANITIZE=address,undefined all
	@OMNIDEX_SOAK_SECONDS=$(SOAK_SECONDS) OMNIDEX_SOAK_CLIENTS=$(SOAK_CLIENTS) OMNIDEX_TEST_TIMEOUT=$$(($(SOAK_SECONDS) + 600)) \
	  nice tools/run-tests.sh build/san -- tests/integration/rel_soak.py
.PRECIOUS: $(FUZZ_DIR)/obj/%.o
TEST_SCRIPTS += tests/integration/arch_includes.py
