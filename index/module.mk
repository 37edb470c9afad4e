LIB_SRCS += index/index.c index/faiss_ext.cpp
