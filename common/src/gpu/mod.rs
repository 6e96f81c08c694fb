//! The GPU path: an MLP whose forward, backward, exact Hessian-vector product (R-operator),
//! Gauss-Newton product and per-sample gradients run as device GEMMs plus a few elementwise
//! kernels, and Lanczos / Hutchinson loops driven by that HVP with every vector kept on the device
//! (only scalars come back). f32 and f64.
//!
//! The code is written once against [`Backend`], a small set of device operations with cuBLAS
//! semantics (column-major GEMM with transposes, offsets and leading dimensions) and the kernels
//! of `common/kernels/mlp.cu`. Two backends implement it:
//! - [`cuda::Cuda`]: cudarc (driver API loaded at run time, NVRTC, cuBLAS); probed once, never
//!   panics when the GPU stack is missing or broken;
//! - [`host::Host`]: the same operations in plain Rust on host vectors, the twin that the CPU-only
//!   tests run, so the orchestration (layouts, transposes, offsets) is verified on every machine.
//!
//! Parity tests ([`test_devices!`]) run each check on the host twin always and on CUDA when the
//! probe finds a GPU, against the CPU model [`crate::models::Mlp`].
pub mod cuda;
mod curvature;
pub mod host;
mod ops;
/// Why no GPU can be used on this machine, or `None` if one can (the probe of
/// [`cuda::Cuda::shared`], run once per process; it never panics).
pub fn cuda_unavailable_reason() -> Option<String> {
    cuda::Cuda::shared().err()
}

/// The probed GPU's description (name, architecture, driver and NVRTC versions), if any.
pub fn cuda_description() -> Option<String> {
    cuda::Cuda::shared().ok().map(|g| g.info.to_string())
}

/// Resolve the user's choice against what the machine has.
pub fn probe(choice: crate::device::DeviceChoice) -> Result<crate::device::Probed, crate::BadInput> {
    match choice {
        crate::device::DeviceChoice::Cpu => {
            Ok(crate::device::Probed { device: crate::device::Device::Cpu, note: "cpu requested".into() })
        }
        crate::device::DeviceChoice::Auto => match cuda_unavailable_reason() {
            None => Ok(crate::device::Probed {
                device: crate::device::Device::Cuda,
                note: format!("auto: {}", cuda_description().unwrap_or_default()),
            }),
            Some(why) => Ok(crate::device::Probed {
                device: crate::device::Device::Cpu,
                note: format!("auto: no usable GPU ({why})"),
            }),
        },
        crate::device::DeviceChoice::Cuda => match cuda_unavailable_reason() {
            None => Ok(crate::device::Probed {
                device: crate::device::Device::Cuda,
                note: format!("cuda: {}", cuda_description().unwrap_or_default()),
            }),
            Some(why) => Err(crate::BadInput::new(format!(
                "--device cuda asked for, but no usable GPU: {why}; use --device cpu or auto"
            ))),
        },
    }
}

#[cfg(test)]
mod tests;

pub use curvature::{Curvature, CurvatureOp, mlp_curvature, mlp_grad_stats, mlp_per_sample_grads};
pub use ops::{DevHessian, DevLinOp, DevMlp, hutchinson, lanczos};

use crate::models::{Activation, Loss};
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub};

/// Errors of the device path.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No GPU can be used (the probe's reason).
    #[error("no usable GPU: {0}")]
    Unavailable(String),
    /// A CUDA driver call failed.
    #[error("CUDA driver error in {what}: {msg}")]
    Driver {
        /// The operation that failed.
        what: &'static str,
        /// The driver's error.
        msg: String,
    },
    /// A cuBLAS call failed.
    #[error("cuBLAS error: {0}")]
    Blas(String),
    /// NVRTC failed to compile the kernels.
    #[error("NVRTC could not compile {name}:\n{log}")]
    Compile {
        /// The program compiled.
        name: String,
        /// The compiler log.
        log: String,
    },
    /// An input the device path does not handle (shapes, targets, sizes past `i32`).
    #[error("not supported on the device path: {0}")]
    Unsupported(String),
}

/// A result of the device path.
pub type GpuResult<T> = Result<T, GpuError>;

/// A device scalar: f32 or f64.
pub trait Real:
    Copy
    + Default
    + PartialOrd
    + Debug
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + MulAssign
    + cudarc::driver::DeviceRepr
    + cudarc::driver::ValidAsZeroBits
{
    /// `"float"` or `"double"`: the kernels' `REAL`.
    const C_NAME: &'static str;
    /// Relative tolerance of the CPU-parity tests (1e-5 in f32, 1e-10 in f64).
    const PARITY_RTOL: f64;
    /// Conversion from f64 (rounding to nearest in f32).
    fn from_f64(x: f64) -> Self;
    /// Conversion to f64 (exact).
    fn to_f64(self) -> f64;
    /// `e^x`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + x)`.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// One cuBLAS GEMM in this precision (`Sgemm` / `Dgemm`).
    fn cublas_gemm(
        blas: &cudarc::cublas::CudaBlas,
        cfg: cudarc::cublas::GemmConfig<Self>,
        a: &cudarc::driver::CudaView<Self>,
        b: &cudarc::driver::CudaView<Self>,
        c: &mut cudarc::driver::CudaViewMut<Self>,
    ) -> Result<(), cudarc::cublas::result::CublasError>;
}

macro_rules! impl_real {
    ($t:ty, $c:expr, $tol:expr) => {
        impl Real for $t {
            const C_NAME: &'static str = $c;
            const PARITY_RTOL: f64 = $tol;
            #[inline]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn cublas_gemm(
                blas: &cudarc::cublas::CudaBlas,
                cfg: cudarc::cublas::GemmConfig<Self>,
                a: &cudarc::driver::CudaView<Self>,
                b: &cudarc::driver::CudaView<Self>,
                c: &mut cudarc::driver::CudaViewMut<Self>,
            ) -> Result<(), cudarc::cublas::result::CublasError> {
                use cudarc::cublas::Gemm;
                // SAFETY: the caller (`Cuda::gemm`) checked that every operand's view covers the
                // elements that m, n, k and the leading dimensions address.
                unsafe { blas.gemm(cfg, a, b, c) }
            }
        }
    };
}
impl_real!(f32, "float", 1e-5);
impl_real!(f64, "double", 1e-10);

/// A column-major GEMM in cuBLAS terms: `C[m x n] = alpha op(A) op(B) + beta C`, where `op(X)` is
/// `X` or `X^T` (`ta`, `tb`), each operand starts at an element offset of its buffer and has a
/// leading dimension (the stride between columns of the stored matrix).
#[derive(Clone, Copy, Debug)]
pub struct GemmArgs<T> {
    /// Use `A^T`.
    pub ta: bool,
    /// Use `B^T`.
    pub tb: bool,
    /// Rows of `op(A)` and `C`.
    pub m: usize,
    /// Columns of `op(B)` and `C`.
    pub n: usize,
    /// Columns of `op(A)`, rows of `op(B)`.
    pub k: usize,
    /// Scale of the product.
    pub alpha: T,
    /// Element offset of `A` in its buffer.
    pub aoff: usize,
    /// Leading dimension of the stored `A`.
    pub lda: usize,
    /// Element offset of `B` in its buffer.
    pub boff: usize,
    /// Leading dimension of the stored `B`.
    pub ldb: usize,
    /// Scale of the old `C` (0: `C` is not read, even if it holds NaN).
    pub beta: T,
    /// Element offset of `C` in its buffer.
    pub coff: usize,
    /// Leading dimension of `C`.
    pub ldc: usize,
}

impl<T: Debug> GemmArgs<T> {
    /// Elements of each buffer (from its offset) that the product reads or writes, for bounds
    /// checks before a launch: `(a, b, c)`.
    pub fn extents(&self) -> (usize, usize, usize) {
        let span =
            |rows: usize, cols: usize, ld: usize| if rows == 0 || cols == 0 { 0 } else { (cols - 1) * ld + rows };
        let (ar, ac) = if self.ta { (self.k, self.m) } else { (self.m, self.k) };
        let (br, bc) = if self.tb { (self.n, self.k) } else { (self.k, self.n) };
        (span(ar, ac, self.lda), span(br, bc, self.ldb), span(self.m, self.n, self.ldc))
    }

    /// Panics with a clear message if a leading dimension is smaller than its stored rows or an
    /// operand runs past its buffer.
    pub fn check(&self, a_len: usize, b_len: usize, c_len: usize) {
        let (ar, br) = (if self.ta { self.k } else { self.m }, if self.tb { self.n } else { self.k });
        assert!(
            self.lda >= ar.max(1) && self.ldb >= br.max(1) && self.ldc >= self.m.max(1),
            "gemm: leading dimension too small: {self:?}"
        );
        let (ea, eb, ec) = self.extents();
        assert!(
            self.aoff + ea <= a_len && self.boff + eb <= b_len && self.coff + ec <= c_len,
            "gemm: operand out of bounds (buffers {a_len}, {b_len}, {c_len}; extents {ea}, {eb}, {ec}; {self:?})"
        );
    }
}

/// The device operations the GPU path is built from. Every method has the semantics of the
/// kernel of the same name in `common/kernels/mlp.cu` (row-major `n x h` matrices); lengths of
/// elementwise operations are the lengths of their output buffers.
pub trait Backend: Sync {
    /// A device vector of `T`.
    type Buf<T: Real>: Send + Sync;

    /// "host twin" or the GPU's name, driver and NVRTC versions.
    fn label(&self) -> String;
    /// A new device buffer holding a copy of `host`.
    fn upload<T: Real>(&self, host: &[T]) -> GpuResult<Self::Buf<T>>;
    /// A host copy of the whole buffer.
    fn download<T: Real>(&self, buf: &Self::Buf<T>) -> GpuResult<Vec<T>>;
    /// A new zero-filled buffer of `len` elements.
    fn zeros<T: Real>(&self, len: usize) -> GpuResult<Self::Buf<T>>;
    /// Number of elements in `buf`.
    fn len<T: Real>(&self, buf: &Self::Buf<T>) -> usize;
    /// Wait until every queued operation finished (timing).
    fn synchronize(&self) -> GpuResult<()>;

    /// `C = alpha op(A) op(B) + beta C`, column-major as described by `g` (see [`GemmArgs`]).
    fn gemm<T: Real>(&self, g: &GemmArgs<T>, a: &Self::Buf<T>, b: &Self::Buf<T>, c: &mut Self::Buf<T>)
    -> GpuResult<()>;
    /// `z[i, j] = b[boff + j]` (a layer without a bias starts from a fresh, zeroed buffer).
    fn fill_bias<T: Real>(
        &self,
        z: &mut Self::Buf<T>,
        b: &Self::Buf<T>,
        boff: usize,
        n: usize,
        h: usize,
    ) -> GpuResult<()>;
    /// `a = σ(z)` elementwise.
    fn act_fwd<T: Real>(&self, act: Activation, z: &Self::Buf<T>, a: &mut Self::Buf<T>) -> GpuResult<()>;
    /// `d *= σ'(z)` elementwise, given `z` and `a = σ(z)` (backprop through the activation).
    fn mul_d1<T: Real>(
        &self,
        act: Activation,
        d: &mut Self::Buf<T>,
        z: &Self::Buf<T>,
        a: &Self::Buf<T>,
    ) -> GpuResult<()>;
    /// `ra = r * σ'(z)` elementwise: the R-operator through the activation.
    fn r_act<T: Real>(
        &self,
        act: Activation,
        ra: &mut Self::Buf<T>,
        r: &Self::Buf<T>,
        z: &Self::Buf<T>,
        a: &Self::Buf<T>,
    ) -> GpuResult<()>;
    /// R-backward through the activation, elementwise: `rda = rda σ'(z) + da σ''(z) rz`, then
    /// `da *= σ'(z)`.
    #[allow(clippy::too_many_arguments)]
    fn r_bwd<T: Real>(
        &self,
        act: Activation,
        rda: &mut Self::Buf<T>,
        da: &mut Self::Buf<T>,
        z: &Self::Buf<T>,
        a: &Self::Buf<T>,
        rz: &Self::Buf<T>,
    ) -> GpuResult<()>;
    /// `out[off + j] = sum_i g[i, j]`.
    fn col_sum<T: Real>(
        &self,
        out: &mut Self::Buf<T>,
        off: usize,
        g: &Self::Buf<T>,
        n: usize,
        h: usize,
    ) -> GpuResult<()>;
    /// Per-row loss values and output gradients (not divided by `n`).
    #[allow(clippy::too_many_arguments)]
    fn loss_grad<T: Real>(
        &self,
        loss: Loss,
        f: &Self::Buf<T>,
        y: &Self::Buf<T>,
        n: usize,
        k: usize,
        g: &mut Self::Buf<T>,
        rows: &mut Self::Buf<T>,
    ) -> GpuResult<()>;
    /// Per-row output Hessian times `r` (not divided by `n`).
    #[allow(clippy::too_many_arguments)]
    fn loss_hvp<T: Real>(
        &self,
        loss: Loss,
        f: &Self::Buf<T>,
        y: &Self::Buf<T>,
        r: &Self::Buf<T>,
        n: usize,
        k: usize,
        out: &mut Self::Buf<T>,
    ) -> GpuResult<()>;
    /// `out[off + i ld + j hi + c] = g[i, j] a[i, c]`.
    #[allow(clippy::too_many_arguments)]
    fn outer_rows<T: Real>(
        &self,
        out: &mut Self::Buf<T>,
        off: usize,
        ld: usize,
        g: &Self::Buf<T>,
        a: &Self::Buf<T>,
        n: usize,
        ho: usize,
        hi: usize,
    ) -> GpuResult<()>;
    /// `out[off + i ld + j] = g[i, j]`.
    #[allow(clippy::too_many_arguments)]
    fn copy_rows<T: Real>(
        &self,
        out: &mut Self::Buf<T>,
        off: usize,
        ld: usize,
        g: &Self::Buf<T>,
        n: usize,
        h: usize,
    ) -> GpuResult<()>;
    /// `y[yoff..yoff+len] = a x[xoff..] + b y[yoff..]`.
    #[allow(clippy::too_many_arguments)]
    fn axpby<T: Real>(
        &self,
        y: &mut Self::Buf<T>,
        yoff: usize,
        a: T,
        x: &Self::Buf<T>,
        xoff: usize,
        b: T,
        len: usize,
    ) -> GpuResult<()>;
    /// `out[i] = x[i] y[i]` for `i < len` (elementwise product; squares with `x = y`).
    fn mul<T: Real>(&self, out: &mut Self::Buf<T>, x: &Self::Buf<T>, y: &Self::Buf<T>, len: usize) -> GpuResult<()>;
    /// `x[off..off+len] *= a`.
    fn scale<T: Real>(&self, x: &mut Self::Buf<T>, off: usize, a: T, len: usize) -> GpuResult<()>;
    /// `sum_i x[xoff + i] y[yoff + i]` (or `sum_i x[xoff + i]` without `y`), reduced on the
    /// device; only the scalar comes back.
    fn dot<T: Real>(
        &self,
        x: &Self::Buf<T>,
        xoff: usize,
        y: Option<(&Self::Buf<T>, usize)>,
        len: usize,
    ) -> GpuResult<T>;
    /// `x[off + i] = +-1` from splitmix64(seed ^ splitmix64(i)): identical on every backend.
    fn rademacher<T: Real>(&self, x: &mut Self::Buf<T>, off: usize, seed: u64, len: usize) -> GpuResult<()>;
    /// `dst[doff..doff+len] = src[soff..soff+len]`.
    fn copy<T: Real>(
        &self,
        dst: &mut Self::Buf<T>,
        doff: usize,
        src: &Self::Buf<T>,
        soff: usize,
        len: usize,
    ) -> GpuResult<()>;
}

/// The kernels' activation code.
pub fn act_code(act: Activation) -> i32 {
    match act {
        Activation::Relu => 0,
        Activation::Tanh => 1,
        Activation::Gelu => 2,
        Activation::Linear => 3,
    }
}

/// The kernels' loss code.
pub fn loss_code(loss: Loss) -> i32 {
    match loss {
        Loss::Mse => 0,
        Loss::SoftmaxCe => 1,
        Loss::StableMaxCe => 2,
    }
}

/// splitmix64, as in the `rademacher` kernel.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The Rademacher sign of element `i` for `seed` (the `rademacher` kernel's formula).
pub fn rademacher_sign(seed: u64, i: u64) -> f64 {
    if splitmix64(seed ^ splitmix64(i)) >> 63 == 1 { -1.0 } else { 1.0 }
}

/// The CUDA source of the kernels (compiled at run time by NVRTC).
pub const KERNELS_SRC: &str = include_str!("../../kernels/mlp.cu");

/// The names of the kernels in [`KERNELS_SRC`].
pub const KERNEL_NAMES: [&str; 16] = [
    "fill_bias",
    "mul",
    "act_fwd",
    "mul_d1",
    "r_act",
    "r_bwd",
    "col_sum",
    "loss_grad",
    "loss_hvp",
    "outer_rows",
    "copy_rows",
    "axpby",
    "scale",
    "reduce_dot",
    "reduce_final",
    "rademacher",
];

/// Define a test module that runs `$body` on every backend and precision: the host twin always
/// (`host_f64`, `host_f32`), CUDA when [`cuda::Cuda::shared`] finds a GPU (`cuda_f64`,
/// `cuda_f32`; otherwise they print why and pass). In the body, `$be` is `&Backend` and `$t` the
/// scalar type; compare against the CPU path with `$t::PARITY_RTOL`-scaled tolerances.
#[macro_export]
macro_rules! test_devices {
    ($name:ident, |$be:ident, $t:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::test_devices!(@host host_f64, f64, $be, $t, $body);
            $crate::test_devices!(@host host_f32, f32, $be, $t, $body);
            $crate::test_devices!(@cuda cuda_f64, f64, $be, $t, $body);
            $crate::test_devices!(@cuda cuda_f32, f32, $be, $t, $body);
        }
    };
    (@host $f:ident, $ty:ty, $be:ident, $t:ident, $body:block) => {
        #[test]
        fn $f() {
            let $be = &$crate::gpu::host::Host;
            type $t = $ty;
            $body
        }
    };
    (@cuda $f:ident, $ty:ty, $be:ident, $t:ident, $body:block) => {
        #[test]
        fn $f() {
            match $crate::gpu::cuda::Cuda::shared() {
                Ok(gpu) => {
                    let $be = &*gpu;
                    type $t = $ty;
                    $body
                }
                Err(why) => eprintln!("cuda part skipped: {why}"),
            }
        }
    };
}
