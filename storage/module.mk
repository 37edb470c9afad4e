LIB_SRCS += storage/store.c storage/records.c storage/vectors.c storage/fields.c
