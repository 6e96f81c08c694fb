//! The MLP loss Hessian (or Gauss-Newton matrix) as a [`LinOp`] on the run's device, so that the
//! CPU Krylov routines (`top_eigs`, `slq`, `hutchinson_trace`, ...) drive GPU products unchanged:
//! on [`Device::Cuda`] each product uploads `v`, runs the f64 device HVP and downloads `Hv`
//! (2p doubles of traffic against O(n p) flops); on [`Device::Cpu`] it is the CPU operator.
use super::cuda::Cuda;
use super::{Backend, DevMlp};
use crate::device::Device;
use crate::linalg::LinOp;
use crate::models::{GgnOp, HessianOp, Mlp, Problem, Targets};
use cudarc::driver::CudaSlice;
use ndarray::{Array1, ArrayView1, ArrayView2};

/// The process's GPU, or why there is none.
fn gpu() -> anyhow::Result<&'static Cuda> {
    Cuda::global().map_err(|why| anyhow::anyhow!("no usable GPU: {why}"))
}

/// Which curvature matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curvature {
    /// The exact Hessian of the mean loss.
    Hessian,
    /// The generalised Gauss-Newton matrix.
    GaussNewton,
}

/// See the module docs.
pub enum CurvatureOp<'a> {
    /// The exact Hessian on the CPU.
    CpuHessian(HessianOp<'a, Mlp>),
    /// The Gauss-Newton matrix on the CPU.
    CpuGgn(GgnOp<'a, Mlp>),
    /// Either matrix on the GPU, in f64.
    Cuda {
        /// The network with its batch resident on the GPU.
        dev: Box<DevMlp<'static, Cuda, f64>>,
        /// The parameters the curvature is taken at, on the GPU.
        w: CudaSlice<f64>,
        /// Which matrix.
        kind: Curvature,
    },
}

/// The curvature operator of `mlp`'s mean loss on `(x, y)` at `w`, on `device`.
pub fn mlp_curvature<'a>(
    device: Device,
    mlp: &'a Mlp,
    x: ArrayView2<'a, f64>,
    y: &'a Targets,
    w: ArrayView1<f64>,
    kind: Curvature,
) -> anyhow::Result<CurvatureOp<'a>> {
    Ok(match device {
        Device::Cpu => {
            let p = Problem::new(mlp, x, y);
            match kind {
                Curvature::Hessian => CurvatureOp::CpuHessian(p.hessian_op(w)),
                Curvature::GaussNewton => CurvatureOp::CpuGgn(p.ggn_op(w)),
            }
        }
        Device::Cuda => {
            let dev = Box::new(DevMlp::new(gpu()?, mlp, x, y)?);
            let w = dev.upload_params(w)?;
            CurvatureOp::Cuda { dev, w, kind }
        }
    })
}

impl LinOp for CurvatureOp<'_> {
    fn dim(&self) -> usize {
        match self {
            CurvatureOp::CpuHessian(h) => h.dim(),
            CurvatureOp::CpuGgn(g) => g.dim(),
            CurvatureOp::Cuda { dev, .. } => dev.num_params(),
        }
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        match self {
            CurvatureOp::CpuHessian(h) => h.apply(v),
            CurvatureOp::CpuGgn(g) => g.apply(v),
            CurvatureOp::Cuda { dev, w, kind } => {
                crate::counters::add_hvps(1);
                let run = || -> super::GpuResult<Vec<f64>> {
                    let dv = dev.upload_params(v)?;
                    let mut out = dev.be.zeros::<f64>(dev.num_params())?;
                    match kind {
                        Curvature::Hessian => dev.hvp(w, &dv, &mut out)?,
                        Curvature::GaussNewton => dev.gnvp(w, &dv, &mut out)?,
                    }
                    dev.download(&out)
                };
                // LinOp has no error channel: a GPU failure mid-run aborts the study with the reason.
                Array1::from(run().unwrap_or_else(|e| panic!("GPU curvature product failed: {e}")))
            }
        }
    }
}

/// Per-sample gradients of `mlp` on `(x, y)` at `w` (`n x p`, row `i` = gradient of sample `i`'s
/// loss), on `device`: the CPU path, or the f64 device pass downloaded once. Counts one gradient
/// evaluation, like [`Problem::per_sample_grads`].
pub fn mlp_per_sample_grads(
    device: Device,
    mlp: &Mlp,
    x: ArrayView2<f64>,
    y: &Targets,
    w: ArrayView1<f64>,
) -> anyhow::Result<ndarray::Array2<f64>> {
    match device {
        Device::Cpu => Ok(Problem::new(mlp, x, y).per_sample_grads(w)),
        Device::Cuda => {
            crate::counters::add_grads(1);
            let dev = DevMlp::<_, f64>::new(gpu()?, mlp, x, y)?;
            let g = dev.per_sample_grads(&dev.upload_params(w)?)?;
            Ok(ndarray::Array2::from_shape_vec((x.nrows(), dev.num_params()), dev.download(&g)?)?)
        }
    }
}

/// Per-sample gradient statistics of `mlp` on `(x, y)` at `w`
/// ([`crate::models::per_sample::GradStats`]), on `device`: the CPU's streaming
/// [`crate::models::per_sample::mlp_grad_stats`], or the f64 device pass
/// ([`super::DevMlp::grad_stats`]: GEMMs and row dots on the device, never the `n x p` matrix).
/// Counts one gradient evaluation.
pub fn mlp_grad_stats(
    device: Device,
    mlp: &Mlp,
    x: ArrayView2<f64>,
    y: &Targets,
    w: ArrayView1<f64>,
    coords: bool,
) -> anyhow::Result<crate::models::per_sample::GradStats> {
    crate::counters::add_grads(1);
    match device {
        Device::Cpu => Ok(crate::models::per_sample::mlp_grad_stats(mlp, w, x, y, coords)),
        Device::Cuda => {
            let dev = DevMlp::<_, f64>::new(gpu()?, mlp, x, y)?;
            Ok(dev.grad_stats(&dev.upload_params(w)?, coords)?)
        }
    }
}
