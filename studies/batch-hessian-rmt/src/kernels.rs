//! The study's own numerical pieces: the logistic-regression batch Hessian as an operator, the
//! small fits (`c/B` least squares, geometric bisection) and the per-B summary of a spectrum curve.
use common::linalg::LinOp;
use common::stats::{loglog_slope, mean_se};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// Hessian of the mean logistic loss over the rows `idx` of `x` at weights `w`:
/// `H_B = (1/B) Σ_{i∈B} p_i(1 − p_i) x_i x_iᵀ`, `p_i = σ(x_i·w)` (independent of the labels;
/// equal to the Gauss-Newton matrix since the model is linear in `w`).
pub struct LogisticHessian {
    xb: Array2<f64>,
    s: Array1<f64>,
}

impl LogisticHessian {
    pub fn new(x: ArrayView2<f64>, idx: &[usize], w: ArrayView1<f64>) -> Self {
        assert!(!idx.is_empty(), "LogisticHessian: empty batch");
        let xb = x.select(Axis(0), idx);
        let s = xb.dot(&w).mapv(|z| {
            let p = 1.0 / (1.0 + (-z).exp());
            p * (1.0 - p)
        });
        LogisticHessian { xb, s }
    }
    /// The explicit `d x d` matrix (for cross-checks).
    pub fn dense(&self) -> Array2<f64> {
        let mut xs = self.xb.clone();
        for (mut r, s) in xs.axis_iter_mut(Axis(0)).zip(&self.s) {
            r *= *s;
        }
        self.xb.t().dot(&xs) / self.xb.nrows() as f64
    }
}

impl LinOp for LogisticHessian {
    fn dim(&self) -> usize {
        self.xb.ncols()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        let mut u = self.xb.dot(&v);
        u *= &self.s;
        self.xb.t().dot(&u) / self.xb.nrows() as f64
    }
}

/// Least-squares `c` of `y ≈ c / x` weighted by `x²` (i.e. relative errors: minimizes
/// `Σ (x y − c)²`), so every `B` counts alike: `c = mean(x y)`.
pub fn fit_inverse_b(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().max(1) as f64;
    x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() / n
}

/// Largest `t` in `[lo, hi]` with `ok(t)`, for a predicate that holds below a threshold and fails
/// above it: `steps` bisections in `log t`. Returns `(estimate, censored)`: `(lo, false)` if `lo`
/// already fails, `(hi, true)` if `hi` holds; otherwise the last `t` known to hold.
pub fn geometric_bisect(ok: impl Fn(f64) -> bool, lo: f64, hi: f64, steps: usize) -> (f64, bool) {
    assert!(lo > 0.0 && hi > lo, "geometric_bisect: need 0 < lo < hi");
    if ok(hi) {
        return (hi, true);
    }
    if !ok(lo) {
        return (lo, false);
    }
    let (mut a, mut b) = (lo, hi);
    for _ in 0..steps {
        let m = (a * b).sqrt();
        if ok(m) {
            a = m;
        } else {
            b = m;
        }
    }
    (a, false)
}

/// Per-B summary of `λ₁` of one matrix of one model.
#[derive(Clone, Debug)]
pub struct Curve {
    pub model: &'static str,
    pub matrix: &'static str,
    /// `λ₁` of the full-data matrix.
    pub full: f64,
    pub bs: Vec<usize>,
    pub mean: Vec<f64>,
    pub se: Vec<f64>,
    /// Fitted slope of log(mean − full) vs log B over the fit range.
    pub slope: f64,
    /// Least-squares `c` of `mean − full = c / B` over the fit range.
    pub c: f64,
    /// min over B of (mean − full)/se (R1's statistic).
    pub min_z: f64,
}

/// The curve of `λ₁` per batch (`per_b[i]` at `bs[i]`) against the full-data `λ₁`, fitted over
/// `B ∈ [fit.0, fit.1]`.
pub fn curve(
    model: &'static str,
    matrix: &'static str,
    full: f64,
    bs: &[usize],
    per_b: &[Vec<f64>],
    fit: (usize, usize),
) -> Curve {
    let (mean, se): (Vec<f64>, Vec<f64>) = per_b.iter().map(|v| mean_se(v)).unzip();
    let in_fit: Vec<usize> = (0..bs.len()).filter(|&i| bs[i] >= fit.0 && bs[i] <= fit.1).collect();
    let fx: Vec<f64> = in_fit.iter().map(|&i| bs[i] as f64).collect();
    let fy: Vec<f64> = in_fit.iter().map(|&i| mean[i] - full).collect();
    let slope = loglog_slope(&fx, &fy);
    let c = fit_inverse_b(&fx, &fy);
    let min_z = (0..bs.len()).map(|i| (mean[i] - full) / se[i].max(1e-300)).fold(f64::INFINITY, f64::min);
    Curve { model, matrix, full, bs: bs.to_vec(), mean, se, slope, c, min_z }
}

/// `m` steps of the plain three-term Lanczos recurrence from `v0`, with no re-orthogonalization:
/// the textbook algorithm whose basis loses orthogonality once a Ritz value converges, so that
/// copies ("ghosts") of converged eigenvalues appear and `Tr T ≠ Tr A` after `dim` steps. Only the
/// planted-bug tests use it (see [`crate::sim::Plant`]). Returns the diagonal and off-diagonal of `T`.
pub fn plain_lanczos<O: LinOp + ?Sized>(op: &O, m: usize, v0: ArrayView1<f64>) -> (Vec<f64>, Vec<f64>) {
    let m = m.min(op.dim());
    let mut q = &v0 / v0.dot(&v0).sqrt();
    let mut q_prev = Array1::zeros(q.len());
    let (mut alpha, mut beta) = (vec![], vec![]);
    let mut b = 0.0;
    for j in 0..m {
        let mut w = op.apply(q.view());
        let a = q.dot(&w);
        w.scaled_add(-a, &q);
        w.scaled_add(-b, &q_prev);
        alpha.push(a);
        b = w.dot(&w).sqrt();
        if j + 1 == m || b <= 1e-300 {
            break;
        }
        beta.push(b);
        q_prev = std::mem::replace(&mut q, w / b);
    }
    (alpha, beta)
}

/// Eigenvalues (ascending) of the symmetric tridiagonal matrix with diagonal `alpha` and
/// off-diagonal `beta`.
pub fn tridiagonal_eigs(alpha: &[f64], beta: &[f64]) -> Vec<f64> {
    let k = alpha.len();
    if k == 0 {
        return vec![];
    }
    let t = Array2::from_shape_fn((k, k), |(i, j)| {
        if i == j {
            alpha[i]
        } else if i + 1 == j {
            beta[i]
        } else if j + 1 == i {
            beta[j]
        } else {
            0.0
        }
    });
    common::linalg::eigvalsh(&t).to_vec()
}
