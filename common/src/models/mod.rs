//! Models: parameters as one flat `f64` vector; loss, gradient, per-sample gradients, exact
//! Hessian-vector and Gauss-Newton-vector products, JVP/VJP. See ARCHITECTURE.md, layer `models`.
//!
//! Conventions shared by every model here:
//! - `x` holds one sample per row (`n x d`); `forward` returns one output row per sample
//!   (`n x num_outputs`).
//! - The training loss is the **mean** over the batch of the per-sample loss ℓ_i(f(x_i; w), y_i)
//!   (see [`loss::Loss`] for each ℓ; MSE is `0.5 * ||f_i - y_i||^2`).
//! - `hvp` is the exact Hessian of that mean loss applied to a vector (Pearlmutter's R-operator /
//!   forward-over-reverse; never finite differences); `gnvp` is the generalised Gauss-Newton
//!   product `(1/n) sum_i J_i^T H_i J_i v` with `J_i = d f(x_i)/d w` and `H_i` the Hessian of ℓ_i
//!   with respect to the outputs.
//! - `per_sample_grads` row `i` is the gradient of ℓ_i (not divided by `n`), so the rows average to
//!   the full gradient; `jvp` and `vjp` are plain (unscaled) Jacobian products.
//!
//! [`Problem`] binds a model to a batch and counts every gradient and HVP in
//! [`crate::counters`]; [`HessianOp`] and [`GgnOp`] are its curvature at a fixed `w` as
//! [`LinOp`]s for the Krylov methods in [`crate::linalg`].

pub mod deep_linear;
pub mod factorized;
pub mod input;
pub mod jacobian;
pub mod loss;
pub mod lsa;
pub mod mlp;
pub mod path;
pub mod per_sample;
pub mod precision;

#[cfg(test)]
mod tests;

pub use deep_linear::DeepLinear;
pub use factorized::Factorized;
pub use loss::{
    Loss, bce_with_logits, bce_with_logits_grad, logsumexp, logsumexp_hessian, logsumexp_hvp, sigmoid, softmax,
    softplus,
};
pub use lsa::Lsa;
pub use mlp::{Activation, Mlp};

use crate::linalg::LinOp;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rayon::prelude::*;

/// Supervised targets for a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Real-valued targets, `n x out` (for [`Loss::Mse`]; for the cross-entropies each row is a
    /// vector of non-negative label weights, e.g. soft labels).
    Regression(Array2<f64>),
    /// Class indices in `0..out` (for the cross-entropies; [`Loss::Mse`] regresses on one-hot rows).
    Classes(Vec<usize>),
}

/// One sample's target, as the losses consume it.
#[derive(Clone, Copy, Debug)]
pub enum TargetRow<'a> {
    /// A row of real targets (MSE) or label weights (cross-entropy), one per output.
    Dense(ArrayView1<'a, f64>),
    /// A class index (a one-hot row).
    Class(usize),
}

impl TargetRow<'_> {
    /// Target value (MSE) / label weight (cross-entropy) of output `k`.
    #[inline]
    pub fn weight(&self, k: usize) -> f64 {
        match *self {
            TargetRow::Dense(r) => r[k],
            TargetRow::Class(c) => f64::from(u8::from(c == k)),
        }
    }
    /// Sum of the label weights (1 for a class label).
    #[inline]
    pub fn total(&self) -> f64 {
        match *self {
            TargetRow::Dense(r) => r.sum(),
            TargetRow::Class(_) => 1.0,
        }
    }
}

impl Targets {
    /// A column of scalar regression targets (`n x 1`).
    pub fn scalar(y: &[f64]) -> Targets {
        Targets::Regression(Array2::from_shape_vec((y.len(), 1), y.to_vec()).expect("n x 1"))
    }
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Regression(y) => y.nrows(),
            Targets::Classes(c) => c.len(),
        }
    }
    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The target of sample `i`.
    #[inline]
    pub fn row(&self, i: usize) -> TargetRow<'_> {
        match self {
            Targets::Regression(y) => TargetRow::Dense(y.row(i)),
            Targets::Classes(c) => TargetRow::Class(c[i]),
        }
    }
    /// The targets of the samples `idx` (in that order), for mini-batches.
    pub fn select(&self, idx: &[usize]) -> Targets {
        match self {
            Targets::Regression(y) => Targets::Regression(y.select(Axis(0), idx)),
            Targets::Classes(c) => Targets::Classes(idx.iter().map(|&i| c[i]).collect()),
        }
    }
    /// The targets of the contiguous samples `range`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Targets {
        match self {
            Targets::Regression(y) => Targets::Regression(y.slice(s![range, ..]).to_owned()),
            Targets::Classes(c) => Targets::Classes(c[range].to_vec()),
        }
    }
    /// Panics with a clear message unless these targets fit `n` outputs rows of width `out`.
    pub fn check(&self, n: usize, out: usize) {
        assert_eq!(self.len(), n, "targets: {} rows for a batch of {n}", self.len());
        match self {
            Targets::Regression(y) => {
                assert_eq!(y.ncols(), out, "targets: {} columns for {out} model outputs", y.ncols())
            }
            Targets::Classes(c) => {
                if let Some(&m) = c.iter().max() {
                    assert!(m < out, "targets: class {m} for a model with {out} outputs");
                }
            }
        }
    }
}

/// Fraction of rows whose arg-max output equals the class (for `Regression` targets: the arg-max of
/// the target row). Ties go to the lowest index.
pub fn accuracy(f: ArrayView2<f64>, y: &Targets) -> f64 {
    let argmax = |r: ArrayView1<f64>| {
        let mut best = 0;
        for k in 1..r.len() {
            if r[k] > r[best] {
                best = k;
            }
        }
        best
    };
    let n = f.nrows();
    if n == 0 {
        return f64::NAN;
    }
    let hits = (0..n)
        .filter(|&i| {
            let pred = argmax(f.row(i));
            match y {
                Targets::Classes(c) => pred == c[i],
                Targets::Regression(t) => pred == argmax(t.row(i)),
            }
        })
        .count();
    hits as f64 / n as f64
}

/// A differentiable model with a flat parameter vector `w` and a built-in per-sample loss.
///
/// `forward`, `jvp`, `vjp` and `hvp` are required; the others have correct (if not the fastest)
/// default implementations in terms of them and [`Model::loss_fn`].
pub trait Model: Sync {
    /// Length `p` of the flat parameter vector `w`.
    fn num_params(&self) -> usize;
    /// Number of outputs per sample (the width `out` of `forward`).
    fn num_outputs(&self) -> usize;
    /// The per-sample loss applied to the outputs.
    fn loss_fn(&self) -> Loss;
    /// Outputs `f(x_i; w)`, `n x out`.
    fn forward(&self, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64>;
    /// `J v`: directional derivative of the outputs, `n x out`.
    fn jvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, v: ArrayView1<f64>) -> Array2<f64>;
    /// `sum_i J_i^T u_i` for `u` of shape `n x out`.
    fn vjp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, u: ArrayView2<f64>) -> Array1<f64>;
    /// Exact Hessian of the mean loss times `v`.
    fn hvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, v: ArrayView1<f64>) -> Array1<f64>;

    /// Mean loss over the batch.
    fn loss(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> f64 {
        self.loss_fn().value(self.forward(w, x).view(), y)
    }
    /// Mean loss and its gradient.
    fn loss_grad(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> (f64, Array1<f64>) {
        let f = self.forward(w, x);
        let (l, mut g) = self.loss_fn().value_grad(f.view(), y);
        g /= x.nrows() as f64;
        (l, self.vjp(w, x, g.view()))
    }
    /// Generalised Gauss-Newton product `(1/n) sum_i J_i^T H_i J_i v`.
    fn gnvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, v: ArrayView1<f64>) -> Array1<f64> {
        let f = self.forward(w, x);
        let jv = self.jvp(w, x, v);
        let mut hjv = self.loss_fn().hess_vec(f.view(), y, jv.view());
        hjv /= x.nrows() as f64;
        self.vjp(w, x, hjv.view())
    }
    /// Per-sample gradients of ℓ_i (not divided by `n`), `n x p`.
    fn per_sample_grads(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> Array2<f64> {
        let f = self.forward(w, x);
        let (_, g) = self.loss_fn().value_grad(f.view(), y);
        let mut out = Array2::zeros((x.nrows(), self.num_params()));
        out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(i, mut row)| {
            let xi = x.slice(s![i..i + 1, ..]);
            let gi = g.slice(s![i..i + 1, ..]);
            row.assign(&self.vjp(w, xi, gi));
        });
        out
    }
}

/// A model bound to a batch: the objective `w -> mean loss` that optimisers and curvature
/// estimators see (`M` may be `dyn Model`). Every gradient (`loss_grad`, `per_sample_grads`) counts one gradient and every
/// `hvp`/`gnvp` one HVP in [`crate::counters`]; `loss` counts nothing.
pub struct Problem<'a, M: Model + ?Sized> {
    /// The model.
    pub model: &'a M,
    /// The batch inputs, `n x d`.
    pub x: ArrayView2<'a, f64>,
    /// The batch targets, `n` rows.
    pub y: &'a Targets,
}

impl<M: Model + ?Sized> Clone for Problem<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M: Model + ?Sized> Copy for Problem<'_, M> {}

impl<'a, M: Model + ?Sized> Problem<'a, M> {
    /// Bind `model` to the batch `(x, y)`; panics unless `y` fits `x`'s rows and the model's outputs.
    pub fn new(model: &'a M, x: ArrayView2<'a, f64>, y: &'a Targets) -> Self {
        y.check(x.nrows(), model.num_outputs());
        Problem { model, x, y }
    }
    /// Number of parameters.
    pub fn dim(&self) -> usize {
        self.model.num_params()
    }
    /// Number of samples in the batch.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }
    /// Outputs on the batch, `n x out` (counts nothing).
    pub fn forward(&self, w: ArrayView1<f64>) -> Array2<f64> {
        self.model.forward(w, self.x)
    }
    /// Mean loss over the batch (counts nothing).
    pub fn loss(&self, w: ArrayView1<f64>) -> f64 {
        self.model.loss(w, self.x, self.y)
    }
    /// Mean loss and gradient (counts one gradient).
    pub fn loss_grad(&self, w: ArrayView1<f64>) -> (f64, Array1<f64>) {
        crate::counters::add_grads(1);
        self.model.loss_grad(w, self.x, self.y)
    }
    /// Gradient (counts one gradient).
    pub fn grad(&self, w: ArrayView1<f64>) -> Array1<f64> {
        self.loss_grad(w).1
    }
    /// Exact Hessian-vector product (counts one HVP).
    pub fn hvp(&self, w: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        crate::counters::add_hvps(1);
        self.model.hvp(w, self.x, self.y, v)
    }
    /// Gauss-Newton-vector product (counts one HVP).
    pub fn gnvp(&self, w: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        crate::counters::add_hvps(1);
        self.model.gnvp(w, self.x, self.y, v)
    }
    /// Per-sample gradients, `n x p` (counts one gradient).
    pub fn per_sample_grads(&self, w: ArrayView1<f64>) -> Array2<f64> {
        crate::counters::add_grads(1);
        self.model.per_sample_grads(w, self.x, self.y)
    }
    /// Accuracy of the arg-max output (see [`accuracy`]).
    pub fn accuracy(&self, w: ArrayView1<f64>) -> f64 {
        accuracy(self.forward(w).view(), self.y)
    }
    /// The Hessian at `w` as an operator (each apply counts one HVP).
    pub fn hessian_op(&self, w: ArrayView1<f64>) -> HessianOp<'a, M> {
        HessianOp { problem: *self, w: w.to_owned() }
    }
    /// The Gauss-Newton matrix at `w` as an operator (each apply counts one HVP).
    pub fn ggn_op(&self, w: ArrayView1<f64>) -> GgnOp<'a, M> {
        GgnOp { problem: *self, w: w.to_owned() }
    }
    /// The explicit Hessian, built column by column from `p` exact HVPs (small models only).
    pub fn hessian(&self, w: ArrayView1<f64>) -> Array2<f64> {
        explicit(self.dim(), |v| self.hvp(w, v))
    }
    /// The explicit Gauss-Newton matrix, built column by column (small models only).
    pub fn ggn(&self, w: ArrayView1<f64>) -> Array2<f64> {
        explicit(self.dim(), |v| self.gnvp(w, v))
    }
}

/// Columns `A e_j` of a linear map, as a matrix (columns computed in parallel).
pub(crate) fn explicit(p: usize, apply: impl Fn(ArrayView1<f64>) -> Array1<f64> + Sync) -> Array2<f64> {
    let cols: Vec<Array1<f64>> = (0..p)
        .into_par_iter()
        .map(|j| {
            let mut e = Array1::zeros(p);
            e[j] = 1.0;
            apply(e.view())
        })
        .collect();
    let mut a = Array2::zeros((cols.first().map_or(0, |c| c.len()), p));
    for (j, c) in cols.iter().enumerate() {
        a.column_mut(j).assign(c);
    }
    a
}

/// The Hessian of a [`Problem`] at a fixed point `w`, as a symmetric [`LinOp`].
pub struct HessianOp<'a, M: Model + ?Sized> {
    /// The objective.
    pub problem: Problem<'a, M>,
    /// The point the Hessian is taken at (flat parameters).
    pub w: Array1<f64>,
}

impl<M: Model + ?Sized> LinOp for HessianOp<'_, M> {
    fn dim(&self) -> usize {
        self.problem.dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        self.problem.hvp(self.w.view(), v)
    }
}

/// The generalised Gauss-Newton matrix of a [`Problem`] at a fixed point `w`, as a symmetric
/// [`LinOp`]; positive semi-definite where the loss is convex in the outputs (MSE, softmax CE;
/// StableMax CE is not convex everywhere).
pub struct GgnOp<'a, M: Model + ?Sized> {
    /// The objective.
    pub problem: Problem<'a, M>,
    /// The point the Gauss-Newton matrix is taken at (flat parameters).
    pub w: Array1<f64>,
}

impl<M: Model + ?Sized> LinOp for GgnOp<'_, M> {
    fn dim(&self) -> usize {
        self.problem.dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        self.problem.gnvp(self.w.view(), v)
    }
}
