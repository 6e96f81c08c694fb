// Elementwise, loss and reduction kernels for the GPU MLP (common::gpu), compiled at run time by
// NVRTC twice: with -DREAL=float and -DREAL=double (one module per precision, same names).
//
// Layout conventions (shared with the host twin in common/src/gpu/host.rs, which implements the
// same semantics in Rust and is what the CPU-side tests exercise):
//   * matrices are row-major, samples as rows: an `n x h` matrix is `m[i * h + j]`;
//   * activations: 0 = ReLU, 1 = tanh, 2 = GELU (tanh approximation), 3 = linear;
//   * losses: 0 = MSE (0.5 |f - y|^2), 1 = softmax cross-entropy, 2 = StableMax cross-entropy,
//     with dense per-row target weights `y` (one-hot rows for class labels), `q = sum_j y_j`;
//   * every elementwise kernel is a grid-stride loop, so any launch size is correct.
#ifndef REAL
#define REAL double
#endif
typedef REAL T;
typedef unsigned long long u64;

__device__ __forceinline__ float rt_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double rt_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float rt_exp(float x) { return expf(x); }
__device__ __forceinline__ double rt_exp(double x) { return exp(x); }
__device__ __forceinline__ float rt_log(float x) { return logf(x); }
__device__ __forceinline__ double rt_log(double x) { return log(x); }
__device__ __forceinline__ float rt_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double rt_log1p(double x) { return log1p(x); }

#define GRID_STRIDE(i, len)                                                                       \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (len);                     \
         i += (size_t)blockDim.x * gridDim.x)

#define GELU_C ((T)0.7978845608028654)
#define GELU_K ((T)0.044715)

__device__ __forceinline__ T act_apply(int act, T z) {
    switch (act) {
    case 0: return z > (T)0 ? z : (T)0;
    case 1: return rt_tanh(z);
    case 2: return (T)0.5 * z * ((T)1 + rt_tanh(GELU_C * (z + GELU_K * z * z * z)));
    default: return z;
    }
}

// sigma'(z) and sigma''(z), given z and a = sigma(z).
__device__ __forceinline__ void act_d12(int act, T z, T a, T* d1, T* d2) {
    switch (act) {
    case 0:
        *d1 = z > (T)0 ? (T)1 : (T)0;
        *d2 = (T)0;
        break;
    case 1: {
        T d = (T)1 - a * a;
        *d1 = d;
        *d2 = (T)-2 * a * d;
        break;
    }
    case 2: {
        T t = rt_tanh(GELU_C * (z + GELU_K * z * z * z));
        T sech2 = (T)1 - t * t;
        T du = GELU_C * ((T)1 + (T)3 * GELU_K * z * z);
        T ddu = (T)6 * GELU_C * GELU_K * z;
        *d1 = (T)0.5 * ((T)1 + t) + (T)0.5 * z * sech2 * du;
        *d2 = sech2 * du + (T)0.5 * z * sech2 * (ddu - (T)2 * t * du * du);
        break;
    }
    default:
        *d1 = (T)1;
        *d2 = (T)0;
    }
}

// z[i, j] = b[j]: the bias term of an affine layer, before the GEMM adds x W^T.
extern "C" __global__ void fill_bias(T* z, const T* b, size_t n, size_t h) {
    GRID_STRIDE(i, n * h) { z[i] = b[i % h]; }
}

// a = sigma(z)
extern "C" __global__ void act_fwd(int act, const T* z, T* a, size_t len) {
    GRID_STRIDE(i, len) { a[i] = act_apply(act, z[i]); }
}

// d *= sigma'(z)
extern "C" __global__ void mul_d1(int act, T* d, const T* z, const T* a, size_t len) {
    GRID_STRIDE(i, len) {
        T d1, d2;
        act_d12(act, z[i], a[i], &d1, &d2);
        d[i] *= d1;
    }
}

// ra = r * sigma'(z): the R-operator through the activation.
extern "C" __global__ void r_act(int act, T* ra, const T* r, const T* z, const T* a, size_t len) {
    GRID_STRIDE(i, len) {
        T d1, d2;
        act_d12(act, z[i], a[i], &d1, &d2);
        ra[i] = r[i] * d1;
    }
}

// R-backward through the activation: rda = rda * sigma' + da * sigma'' * rz, then da *= sigma'.
extern "C" __global__ void r_bwd(int act, T* rda, T* da, const T* z, const T* a, const T* rz, size_t len) {
    GRID_STRIDE(i, len) {
        T d1, d2;
        act_d12(act, z[i], a[i], &d1, &d2);
        rda[i] = rda[i] * d1 + da[i] * d2 * rz[i];
        da[i] *= d1;
    }
}

// out[j] = sum_i g[i, j] (bias gradients); one thread per column, rows in order.
extern "C" __global__ void col_sum(T* out, const T* g, size_t n, size_t h) {
    GRID_STRIDE(j, h) {
        T s = (T)0;
        for (size_t i = 0; i < n; ++i) s += g[i * h + j];
        out[j] = s;
    }
}

__device__ __forceinline__ void stablemax_parts(T x, T* s, T* d1, T* d2, T* logs) {
    if (x >= (T)0) {
        *s = x + (T)1;
        *d1 = (T)1 / (x + (T)1);
        *d2 = (T)0;
        *logs = rt_log1p(x);
    } else {
        T r = (T)1 / ((T)1 - x);
        *s = r;
        *d1 = r;
        *d2 = (T)2 * r * r;
        *logs = -rt_log1p(-x);
    }
}

// Softmax statistics of one row: max m and z = sum_j exp(f_j - m).
__device__ __forceinline__ void softmax_stats(const T* fi, size_t k, T* m, T* z) {
    T mm = fi[0];
    for (size_t j = 1; j < k; ++j) mm = fi[j] > mm ? fi[j] : mm;
    T zz = (T)0;
    for (size_t j = 0; j < k; ++j) zz += rt_exp(fi[j] - mm);
    *m = mm;
    *z = zz;
}

// Per-row loss value rows[i] and output gradient g[i, :] (not divided by n).
extern "C" __global__ void loss_grad(int loss, const T* f, const T* y, size_t n, size_t k, T* g, T* rows) {
    GRID_STRIDE(i, n) {
        const T* fi = f + i * k;
        const T* yi = y + i * k;
        T* gi = g + i * k;
        T q = (T)0;
        for (size_t j = 0; j < k; ++j) q += yi[j];
        if (loss == 0) {
            T l = (T)0;
            for (size_t j = 0; j < k; ++j) {
                T d = fi[j] - yi[j];
                gi[j] = d;
                l += d * d;
            }
            rows[i] = (T)0.5 * l;
        } else if (loss == 1) {
            T m, z;
            softmax_stats(fi, k, &m, &z);
            T lse = m + rt_log(z);
            T yf = (T)0;
            for (size_t j = 0; j < k; ++j) {
                yf += yi[j] * fi[j];
                gi[j] = q * rt_exp(fi[j] - m) / z - yi[j];
            }
            rows[i] = q * lse - yf;
        } else {
            T ssum = (T)0;
            for (size_t j = 0; j < k; ++j) {
                T s, d1, d2, ls;
                stablemax_parts(fi[j], &s, &d1, &d2, &ls);
                ssum += s;
            }
            T yl = (T)0;
            for (size_t j = 0; j < k; ++j) {
                T s, d1, d2, ls;
                stablemax_parts(fi[j], &s, &d1, &d2, &ls);
                yl += yi[j] * ls;
                gi[j] = q * s * d1 / ssum - yi[j] * d1;
            }
            rows[i] = q * rt_log(ssum) - yl;
        }
    }
}

// Per-row output Hessian times r: out[i, :] = H_i r[i, :] (not divided by n).
extern "C" __global__ void loss_hvp(int loss, const T* f, const T* y, const T* r, size_t n, size_t k, T* out) {
    GRID_STRIDE(i, n) {
        const T* fi = f + i * k;
        const T* yi = y + i * k;
        const T* ri = r + i * k;
        T* oi = out + i * k;
        T q = (T)0;
        for (size_t j = 0; j < k; ++j) q += yi[j];
        if (loss == 0) {
            for (size_t j = 0; j < k; ++j) oi[j] = ri[j];
        } else if (loss == 1) {
            T m, z;
            softmax_stats(fi, k, &m, &z);
            T pr = (T)0;
            for (size_t j = 0; j < k; ++j) pr += rt_exp(fi[j] - m) / z * ri[j];
            for (size_t j = 0; j < k; ++j) oi[j] = q * (rt_exp(fi[j] - m) / z) * (ri[j] - pr);
        } else {
            T ssum = (T)0, sr = (T)0;
            for (size_t j = 0; j < k; ++j) {
                T s, d1, d2, ls;
                stablemax_parts(fi[j], &s, &d1, &d2, &ls);
                ssum += s;
                sr += s * d1 * ri[j];
            }
            sr /= ssum;
            for (size_t j = 0; j < k; ++j) {
                T s, d1, d2, ls;
                stablemax_parts(fi[j], &s, &d1, &d2, &ls);
                oi[j] = q * (s * d2 * ri[j] - s * d1 * sr) / ssum - yi[j] * (d2 - d1 * d1) * ri[j];
            }
        }
    }
}

// Per-sample weight gradients: out[i * ld + j * hi + c] = g[i, j] * a[i, c] (out already offset to
// the layer's weight block).
extern "C" __global__ void outer_rows(T* out, size_t ld, const T* g, const T* a, size_t n, size_t ho, size_t hi) {
    GRID_STRIDE(t, n * ho * hi) {
        size_t i = t / (ho * hi);
        size_t r = t - i * ho * hi;
        size_t j = r / hi;
        size_t c = r - j * hi;
        out[i * ld + j * hi + c] = g[i * ho + j] * a[i * hi + c];
    }
}

// out[i * ld + j] = g[i, j] (per-sample bias gradients; out already offset).
extern "C" __global__ void copy_rows(T* out, size_t ld, const T* g, size_t n, size_t h) {
    GRID_STRIDE(t, n * h) { out[(t / h) * ld + t % h] = g[t]; }
}

// y = a x + b y
extern "C" __global__ void axpby(T* y, T a, const T* x, T b, size_t len) {
    GRID_STRIDE(i, len) { y[i] = a * x[i] + b * y[i]; }
}

// out = x * y elementwise (per-sample statistics: squares of activations and output gradients)
extern "C" __global__ void mul(T* out, const T* x, const T* y, size_t len) {
    GRID_STRIDE(i, len) { out[i] = x[i] * y[i]; }
}

// x *= a
extern "C" __global__ void scale(T* x, T a, size_t len) {
    GRID_STRIDE(i, len) { x[i] *= a; }
}

// Deterministic two-pass dot product: launched with exactly REDUCE_BLOCKS x REDUCE_THREADS
// (256 x 256); block b writes partial[b] = its share of sum x[i] y[i] (or sum x[i] if !has_y).
#define REDUCE_THREADS 256
extern "C" __global__ void reduce_dot(const T* x, const T* y, int has_y, size_t len, T* partial) {
    __shared__ T buf[REDUCE_THREADS];
    T s = (T)0;
    GRID_STRIDE(i, len) { s += has_y ? x[i] * y[i] : x[i]; }
    buf[threadIdx.x] = s;
    __syncthreads();
    for (unsigned w = REDUCE_THREADS / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) buf[threadIdx.x] += buf[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = buf[0];
}

// out[0] = sum of the m partials; one block of REDUCE_THREADS threads.
extern "C" __global__ void reduce_final(const T* partial, size_t m, T* out) {
    __shared__ T buf[REDUCE_THREADS];
    T s = (T)0;
    for (size_t i = threadIdx.x; i < m; i += REDUCE_THREADS) s += partial[i];
    buf[threadIdx.x] = s;
    __syncthreads();
    for (unsigned w = REDUCE_THREADS / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) buf[threadIdx.x] += buf[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = buf[0];
}

// Rademacher +-1 from a counter-based hash (splitmix64 of seed + index): the same numbers as the
// host twin, whatever the launch size.
__device__ __forceinline__ u64 splitmix64(u64 z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
extern "C" __global__ void rademacher(T* x, u64 seed, size_t len) {
    GRID_STRIDE(i, len) { x[i] = (splitmix64(seed ^ splitmix64((u64)i)) >> 63) ? (T)-1 : (T)1; }
}
