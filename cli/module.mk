CLI_OBJS += $(B)/cli/common.o $(B)/cli/collection.o $(B)/cli/data.o $(B)/cli/progress.o
TEST_SCRIPTS += tests/integration/core_cli.py
TEST_SCRIPTS += tests/integration/core_ingest.py
TEST_SCRIPTS += tests/integration/core_crash.py
CLI_OBJS += $(B)/cli/media.o $(B)/cli/ingest.o $(B)/cli/demo.o
CLI_OBJS += $(B)/cli/serve.o
TEST_SCRIPTS += tests/integration/core_cli_remote.py tests/integration/core_workflows.py
