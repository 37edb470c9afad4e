# The CUDA search backend (docs/gpu.md). Nothing here changes a plain `make`
# or `make test`: the backend joins the library only with `make GPU=1`, which
# builds into its own variant (build/rel-gpu, build/san-gpu) so that objects
# compiled with -DODX_HAVE_CUDA never mix with the CPU build's.
#
#   make GPU=1                 library, CLI and tests with the GPU backend
#   make GPU=1 test            ... and run them (tests/unit/test_gpu*.c too;
#                              test_gpu prints "skipped: no GPU" without one)
#   make gpu-build-check       compile every .cu file with nvcc (CI; no GPU
#                              needed; skips with a message without nvcc)
#   make gpu-host-test         the backend's host logic on the CPU (no nvcc)
GPU ?=
CUDA_HOME ?= /usr/local/cuda
NVCC ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard $(CUDA_HOME)/bin/nvcc))
# Hopper (H100/H200) code plus PTX that newer GPUs JIT-compile.
NVCC_GENCODE ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCCFLAGS := -O3 -std=c++17 $(NVCC_GENCODE) -Xcompiler -fPIC,-Wall,-Wextra,-Werror,-Wno-unused-parameter \
             -D_GNU_SOURCE -DODX_HAVE_CUDA -Iinclude -I.
GPU_CU := index/cuda/kernels.cu index/cuda/gpu.cu
GPU_HOST_C := index/cuda/layout.c
GPU_HDRS := index/cuda/gpu.h index/cuda/kernels.cuh index/cuda/select.h index/cuda/layout.h

.PHONY: gpu-build-check gpu-host-test

ifeq ($(GPU),1)
ifeq ($(NVCC),)
$(error GPU=1: nvcc not found on PATH or in $(CUDA_HOME)/bin)
endif
ifeq ($(filter %-gpu,$(VARIANT)),)
$(error GPU=1 needs its own build variant (VARIANT := $$(VARIANT)-gpu in the top Makefile): see docs/gpu.md)
endif
GPU_CU_OBJS := $(patsubst %.cu,$(B)/%.o,$(GPU_CU))
LIB_SRCS += $(GPU_HOST_C)
CPPFLAGS += -DODX_HAVE_CUDA
LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart
TEST_SRCS += tests/unit/test_gpu_host.c tests/unit/test_gpu.c

# The archive takes the CUDA objects as extra prerequisites ($^ in its rule).
$(B)/libomnidex.a: $(GPU_CU_OBJS)

$(B)/%.o: %.cu $(GPU_HDRS) $(B)/.deps
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@
endif

# CI: every .cu file must compile, GPU or not.
GPU_CHECK_DIR := build/gpu-check
gpu-build-check:
	@if [ -z "$(NVCC)" ]; then echo "gpu-build-check: skipped: nvcc not found"; exit 0; fi; \
	mkdir -p $(GPU_CHECK_DIR) && \
	for f in $(GPU_CU); do \
	  echo "$(NVCC) ... -c $$f"; \
	  nice $(NVCC) $(NVCCFLAGS) -c $$f -o $(GPU_CHECK_DIR)/$$(basename $$f .cu).o || exit 1; \
	done && \
	$(CC) -std=c11 -D_GNU_SOURCE -Iinclude -I. $(WARN) -c $(GPU_HOST_C) -o $(GPU_CHECK_DIR)/layout.o && \
	echo "gpu-build-check: ok ($(words $(GPU_CU)) CUDA files, $$($(NVCC) --version | tail -1))"

# The host logic (selection scheme, IVF arena, slot map, scratch plans)
# tested with the ordinary compiler: runs on any machine.
gpu-host-test: $(LIB)
	@mkdir -p $(B)/gpu-host
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $(B)/gpu-host/test_gpu_host tests/unit/test_gpu_host.c $(GPU_HOST_C) $(LIB) \
	  $(LDFLAGS) $(LDLIBS)
	$(B)/gpu-host/test_gpu_host

# bench/gpu/run.sh: the benchmark program (GPU=1 builds only).
ifeq ($(GPU),1)
$(B)/bench/gpu/bench_gpu: bench/gpu/bench_gpu.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)
endif
