//! The study's own numerical pieces: the logistic-regression batch Hessian as an operator, and
//! the small fits (log-log slope, `c/B` least squares, geometric bisection).
use common::linalg::LinOp;
pub use common::stats::{loglog_slope, mean_se};
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
