// Lets g++ compile and run the CUDA kernels of mlp.cu on the host, one thread per launch, so that
// machines without a GPU execute the kernel bodies (common/src/gpu/tests.rs compares the results
// with the Rust host twin). A launch is blockIdx = threadIdx = 0, blockDim = gridDim = 1: every
// kernel is a grid-stride loop, so one thread covers all elements, and a block reduction over one
// thread reduces to its own partial (the other __shared__ slots stay zero).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdio>
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
struct shim_dim3 { unsigned x, y, z; };
static shim_dim3 blockIdx = {0, 0, 0}, threadIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
static inline void __syncthreads() {}
