CLI_OBJS += $(B)/cli/collection.o $(B)/cli/data.o $(B)/cli/progress.o
TEST_SCRIPTS += tests/integration/core_cli.py
TEST_SCRIPTS += tests/integration/core_ingest.py
TEST_SCRIPTS += tests/integration/core_crash.py
CLI_OBJS += $(B)/cli/media.o $(B)/cli/ingest.o $(B)/cli/demo.o
CLI_OBJS += $(B)/cli/remote.o
# Client mode speaks the gRPC API through rpc/client.h (generated headers).
# (cli/ is read before rpc/module.mk, hence the literal paths.) The
# protobuf-c *_INIT macros trip -Wmissing-braces.
$(B)/cli/remote.o: build/gen/omnidex/v1/omnidex.pb-c.h
$(B)/cli/remote.o: CPPFLAGS += -Ibuild/gen
$(B)/cli/remote.o: CFLAGS += -Wno-missing-braces
TEST_SCRIPTS += tests/integration/core_cli_remote.py tests/integration/core_workflows.py
