CLI_OBJS += $(B)/cli/collection.o $(B)/cli/data.o $(B)/cli/progress.o
