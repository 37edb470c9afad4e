# rpc/ - the gRPC server (gRPC C core + protobuf-c) and its client library.
#
# protoc-c generates the message code for omnidex.v1, grpc.health.v1 and both
# reflection versions into build/gen (never committed); protoc writes the
# descriptor set that the reflection service serves, embedded with xxd.
RPC_GEN := build/gen
GRPC_PROTO := /usr/share/grpc-proto
# Both reflection versions are served; their messages are identical on the
# wire, so the C code is generated for v1 only (v1alpha is in the
# descriptor set that reflection serves).
RPC_PROTOS_EXT := grpc/health/v1/health.proto grpc/reflection/v1alpha/reflection.proto \
                  grpc/reflection/v1/reflection.proto
RPC_PROTOS_C := grpc/health/v1/health.proto grpc/reflection/v1/reflection.proto
RPC_GEN_C := $(RPC_GEN)/omnidex/v1/omnidex.pb-c.c \
             $(patsubst %.proto,$(RPC_GEN)/%.pb-c.c,$(RPC_PROTOS_C)) \
             $(RPC_GEN)/rpc_descriptor_set.c
RPC_GEN_H := $(patsubst %.c,%.h,$(filter %.pb-c.c,$(RPC_GEN_C)))

RPC_SRCS := rpc/status.c rpc/wire.c rpc/server.c rpc/health.c rpc/reflection.c \
            rpc/convert.c rpc/handlers.c rpc/client.c rpc/client_db.c rpc/call_mem.c rpc/listen.c
LIB_SRCS += $(RPC_SRCS) $(RPC_GEN_C)
CLI_LIBS += -lgrpc -lgpr -lprotobuf-c
TEST_LIBS += -lgrpc -lgpr -lprotobuf-c

$(RPC_GEN)/omnidex/v1/omnidex.pb-c.c $(RPC_GEN)/omnidex/v1/omnidex.pb-c.h: proto/omnidex/v1/omnidex.proto $(B)/.deps
	@mkdir -p $(RPC_GEN)
	protoc-c --c_out=$(RPC_GEN) -Iproto $<
	@touch $(RPC_GEN)/omnidex/v1/omnidex.pb-c.h

$(RPC_GEN)/grpc/%.pb-c.c $(RPC_GEN)/grpc/%.pb-c.h: $(GRPC_PROTO)/grpc/%.proto $(B)/.deps
	@mkdir -p $(RPC_GEN)
	protoc-c --c_out=$(RPC_GEN) -I$(GRPC_PROTO) grpc/$*.proto

$(RPC_GEN)/omnidex.desc: proto/omnidex/v1/omnidex.proto $(B)/.deps
	@mkdir -p $(RPC_GEN)
	protoc --descriptor_set_out=$@ --include_imports -Iproto -I$(GRPC_PROTO) \
	  omnidex/v1/omnidex.proto $(RPC_PROTOS_EXT)

$(RPC_GEN)/rpc_descriptor_set.c: $(RPC_GEN)/omnidex.desc
	@{ echo '/* generated from $< by xxd; never edit */'; echo '#include <stddef.h>'; \
	   xxd -i -n odx_rpc_descriptor_set $< | sed 's/^unsigned int/const size_t/; s/^unsigned char/const unsigned char/'; } > $@.tmp
	@mv $@.tmp $@

# Every rpc object needs the generated headers first; generated code gets
# relaxed warnings (it is protoc-c's, not ours).
RPC_OBJS := $(patsubst %.c,$(B)/%.o,$(RPC_SRCS)) $(B)/rpc/serve_cli.o
$(RPC_OBJS): $(RPC_GEN_H)
$(RPC_OBJS): CPPFLAGS += -I$(RPC_GEN)
$(B)/$(RPC_GEN)/%.o: CPPFLAGS += -I$(RPC_GEN)
$(B)/$(RPC_GEN)/%.o: CFLAGS += -w

# Tests and the e2e benchmark are added below as they land.
TEST_SCRIPTS += tests/integration/rpc_python.py tests/integration/rpc_node.sh
TEST_SCRIPTS += tests/integration/rpc_buf.sh tests/integration/rpc_media.py
TEST_SCRIPTS += tests/integration/rpc_robust.py tests/integration/rpc_concurrency.py
TEST_SCRIPTS += tests/integration/rpc_tls.py

# Unit tests of the rpc layer (in-process server + client library).
RPC_TESTS := tests/unit/test_rpc_server.c
TEST_SRCS += $(RPC_TESTS)
$(patsubst %.c,$(B)/%,$(RPC_TESTS)): CPPFLAGS += -I$(RPC_GEN)
$(patsubst %.c,$(B)/%,$(RPC_TESTS)): $(RPC_GEN_H)

# End-to-end benchmark (bench/e2e): Search over gRPC vs in-process, always
# on the release library like the other benchmarks (build/bench/).
#   make bench-e2e                        100k x 128, 1/4/16 clients, 5 s per row
#   make bench-e2e E2E_ARGS="--n 20000 --seconds 2"
E2E_ARGS ?=
build/bench/e2e_bench: bench/e2e/e2e_bench.c build/rel/libomnidex.a $(RPC_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -Iinclude -I. -I$(RPC_GEN) -std=c11 -O2 -g -fopenmp $(WARN) -o $@ $< \
	  build/rel/libomnidex.a -lgrpc -lgpr -lprotobuf-c -fopenmp $(LDLIBS)
.PHONY: bench-e2e
bench-e2e: build/bench/e2e_bench
	bench/e2e/run.sh build/bench/e2e_bench $(E2E_ARGS)
BENCH_TARGETS += bench-e2e
TEST_SCRIPTS += tests/integration/rpc_multimodal.py
