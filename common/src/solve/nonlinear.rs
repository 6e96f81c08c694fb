//! Nonlinear equations: Newton with a backtracking line search, fixed-point iteration with a
//! contraction monitor, Levenberg–Marquardt.

use ndarray::{Array1, Array2, ArrayView1};

use super::linear::DenseLu;
use super::{SolveError, finite, norm};
use crate::linalg::Cholesky;

/// Options of [`newton`].
#[derive(Clone, Copy, Debug)]
pub struct NewtonOpts {
    /// Stop when `‖F(x)‖ ≤ tol`.
    pub tol: f64,
    /// Cap on Newton steps.
    pub max_iter: usize,
    /// Armijo constant of the sufficient decrease of `½‖F‖²`.
    pub c1: f64,
    /// Cap on step halvings per line search.
    pub max_backtracks: usize,
}

impl Default for NewtonOpts {
    fn default() -> Self {
        NewtonOpts { tol: 1e-12, max_iter: 100, c1: 1e-4, max_backtracks: 60 }
    }
}

/// A converged Newton solve.
#[derive(Clone, Debug)]
pub struct NewtonResult {
    /// The root.
    pub x: Array1<f64>,
    /// Newton steps taken.
    pub iters: usize,
    /// `‖F(x)‖` at the end.
    pub residual: f64,
    /// Evaluations of `F`.
    pub evals: usize,
}

/// Newton's method for `F(x) = 0` with a dense Jacobian `J(x)` and a backtracking line search on
/// the merit `φ = ½‖F‖²`: the step `d = −J⁻¹F` is a descent direction of `φ` (`∇φᵀd = −2φ`),
/// halved until `φ(x + t d) ≤ (1 − 2 c1 t) φ(x)`. Errors on a singular Jacobian
/// ([`SolveError::Dense`]), a failed line search, NaN, or the cap.
pub fn newton(
    f: impl Fn(ArrayView1<f64>) -> Array1<f64>,
    jac: impl Fn(ArrayView1<f64>) -> Array2<f64>,
    x0: ArrayView1<f64>,
    opts: NewtonOpts,
) -> Result<NewtonResult, SolveError> {
    const METHOD: &str = "newton";
    let mut x = x0.to_owned();
    let mut fx = f(x.view());
    let mut evals = 1;
    for iter in 0..=opts.max_iter {
        if !finite(&fx) || !finite(&x) {
            return Err(SolveError::NonFinite { method: METHOD, iter });
        }
        let res = norm(&fx);
        if res <= opts.tol {
            return Ok(NewtonResult { x, iters: iter, residual: res, evals });
        }
        if iter == opts.max_iter {
            return Err(SolveError::NotConverged { method: METHOD, iters: iter, residual: res, tol: opts.tol });
        }
        let j = jac(x.view());
        let d = -DenseLu::new(j.view())?.solve(fx.view());
        if !finite(&d) {
            return Err(SolveError::NonFinite { method: METHOD, iter });
        }
        let phi = 0.5 * res * res;
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..=opts.max_backtracks {
            let xt = &x + &(&d * t);
            let ft = f(xt.view());
            evals += 1;
            let pt = 0.5 * ft.dot(&ft);
            if pt.is_finite() && pt <= (1.0 - 2.0 * opts.c1 * t) * phi {
                accepted = Some((xt, ft));
                break;
            }
            t *= 0.5;
        }
        match accepted {
            Some((xt, ft)) => {
                x = xt;
                fx = ft;
            }
            None => {
                return Err(SolveError::LineSearch { method: METHOD, iter, backtracks: opts.max_backtracks });
            }
        }
    }
    unreachable!("the loop returns at iter == max_iter")
}

/// Options of [`fixed_point`].
#[derive(Clone, Copy, Debug)]
pub struct FixedPointOpts {
    /// Stop when the step `‖T(x) − x‖ ≤ tol`.
    pub tol: f64,
    /// Cap on iterations.
    pub max_iter: usize,
    /// Number of recent step ratios the contraction estimate averages (geometric mean).
    pub window: usize,
    /// Declare divergence when a step exceeds the first one by this factor.
    pub blowup: f64,
}

impl Default for FixedPointOpts {
    fn default() -> Self {
        FixedPointOpts { tol: 1e-12, max_iter: 10_000, window: 10, blowup: 1e8 }
    }
}

/// A converged fixed-point iteration.
#[derive(Clone, Debug)]
pub struct FixedPointResult {
    /// The fixed point (the last iterate).
    pub x: Array1<f64>,
    /// Iterations taken.
    pub iters: usize,
    /// The last step `‖x_k − x_{k−1}‖`.
    pub step: f64,
    /// Estimated contraction factor: the geometric mean of the last `window` step ratios
    /// `‖x_{k+1} − x_k‖ / ‖x_k − x_{k−1}‖` (NaN before two steps).
    pub contraction: f64,
    /// Every step norm, in order.
    pub steps: Vec<f64>,
}

impl FixedPointResult {
    /// The a-posteriori error bound `q/(1 − q) ‖x_k − x_{k−1}‖` of a contraction with factor
    /// `q` = the estimated contraction factor (infinite when `q ≥ 1`).
    pub fn error_bound(&self) -> f64 {
        let q = self.contraction;
        if q.is_finite() && q < 1.0 { q / (1.0 - q) * self.step } else { f64::INFINITY }
    }
}

fn contraction_estimate(steps: &[f64], window: usize) -> f64 {
    if steps.len() < 2 {
        return f64::NAN;
    }
    let w = window.max(1).min(steps.len() - 1);
    let recent = &steps[steps.len() - w - 1..];
    let logs: Vec<f64> = recent.windows(2).filter(|p| p[0] > 0.0 && p[1] > 0.0).map(|p| (p[1] / p[0]).ln()).collect();
    if logs.is_empty() {
        return 0.0;
    }
    (logs.iter().sum::<f64>() / logs.len() as f64).exp()
}

/// Fixed-point iteration `x_{k+1} = T(x_k)`, monitoring the contraction: the estimate is the
/// geometric mean of the last `window` step ratios. Errors with [`SolveError::Diverging`] when the
/// steps grow by `blowup` over the first step (or keep growing for `4·window` iterations with an
/// estimate above 1), [`SolveError::NonFinite`] on NaN, [`SolveError::NotConverged`] at the cap.
pub fn fixed_point(
    mut t: impl FnMut(ArrayView1<f64>) -> Array1<f64>,
    x0: ArrayView1<f64>,
    opts: FixedPointOpts,
) -> Result<FixedPointResult, SolveError> {
    const METHOD: &str = "fixed_point";
    let mut x = x0.to_owned();
    let mut steps: Vec<f64> = Vec::new();
    let mut growing = 0usize;
    for iter in 1..=opts.max_iter {
        let xn = t(x.view());
        if !finite(&xn) {
            return Err(SolveError::NonFinite { method: METHOD, iter });
        }
        let step = norm(&(&xn - &x));
        x = xn;
        if steps.last().is_some_and(|&s| step > s) {
            growing += 1;
        } else {
            growing = 0;
        }
        steps.push(step);
        let q = contraction_estimate(&steps, opts.window);
        if step <= opts.tol {
            return Ok(FixedPointResult { x, iters: iter, step, contraction: q, steps });
        }
        if step > opts.blowup * steps[0].max(f64::MIN_POSITIVE) || (growing >= 4 * opts.window.max(1) && q > 1.0) {
            return Err(SolveError::Diverging { method: METHOD, iters: iter, factor: q });
        }
    }
    let step = steps.last().copied().unwrap_or(f64::NAN);
    Err(SolveError::NotConverged { method: METHOD, iters: opts.max_iter, residual: step, tol: opts.tol })
}

/// Options of [`levenberg_marquardt`].
#[derive(Clone, Copy, Debug)]
pub struct LmOpts {
    /// Stop when `‖Jᵀr‖∞ ≤ tol_grad`.
    pub tol_grad: f64,
    /// Stop when the step `‖δ‖ ≤ tol_step (‖x‖ + tol_step)`.
    pub tol_step: f64,
    /// Cap on iterations (accepted or rejected steps).
    pub max_iter: usize,
    /// Initial damping relative to `max diag(JᵀJ)`.
    pub tau: f64,
}

impl Default for LmOpts {
    fn default() -> Self {
        LmOpts { tol_grad: 1e-12, tol_step: 1e-14, max_iter: 500, tau: 1e-3 }
    }
}

/// A converged Levenberg–Marquardt fit.
#[derive(Clone, Debug)]
pub struct LmResult {
    /// The minimizer of `½‖r(x)‖²`.
    pub x: Array1<f64>,
    /// Iterations taken.
    pub iters: usize,
    /// `½‖r(x)‖²` at the end.
    pub cost: f64,
    /// `‖Jᵀr‖∞` at the end.
    pub grad: f64,
}

/// Levenberg–Marquardt for `min ½‖r(x)‖²` (`r: Rⁿ → Rᵐ`, Jacobian `m × n`), with Nielsen's
/// damping update: solve `(JᵀJ + μI) δ = −Jᵀr` (Cholesky), accept when the gain ratio is
/// positive (`μ ← μ max(1/3, 1 − (2ρ − 1)³)`), else `μ ← μν, ν ← 2ν`.
pub fn levenberg_marquardt(
    r: impl Fn(ArrayView1<f64>) -> Array1<f64>,
    jac: impl Fn(ArrayView1<f64>) -> Array2<f64>,
    x0: ArrayView1<f64>,
    opts: LmOpts,
) -> Result<LmResult, SolveError> {
    const METHOD: &str = "levenberg_marquardt";
    let mut x = x0.to_owned();
    let mut rx = r(x.view());
    if !finite(&rx) {
        return Err(SolveError::NonFinite { method: METHOD, iter: 0 });
    }
    let mut j = jac(x.view());
    let mut jtj = j.t().dot(&j);
    let mut g = j.t().dot(&rx);
    let mut mu = opts.tau * jtj.diag().iter().fold(0.0f64, |m, v| m.max(*v)).max(f64::MIN_POSITIVE);
    let mut nu = 2.0;
    let mut cost = 0.5 * rx.dot(&rx);
    for iter in 0..opts.max_iter {
        let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !gmax.is_finite() {
            return Err(SolveError::NonFinite { method: METHOD, iter });
        }
        if gmax <= opts.tol_grad {
            return Ok(LmResult { x, iters: iter, cost, grad: gmax });
        }
        let mut a = jtj.clone();
        a.diag_mut().iter_mut().for_each(|d| *d += mu);
        let delta = match Cholesky::new(a.view()) {
            Ok(c) => -c.solve(g.view()),
            Err(_) => {
                mu *= nu;
                nu *= 2.0;
                continue;
            }
        };
        if norm(&delta) <= opts.tol_step * (norm(&x) + opts.tol_step) {
            return Ok(LmResult { x, iters: iter, cost, grad: gmax });
        }
        let xn = &x + &delta;
        let rn = r(xn.view());
        let cn = 0.5 * rn.dot(&rn);
        let predicted = 0.5 * delta.dot(&(&delta * mu - &g));
        let rho = if predicted > 0.0 { (cost - cn) / predicted } else { -1.0 };
        if cn.is_finite() && rho > 0.0 {
            x = xn;
            rx = rn;
            cost = cn;
            j = jac(x.view());
            jtj = j.t().dot(&j);
            g = j.t().dot(&rx);
            mu *= (1.0 - (2.0 * rho - 1.0).powi(3)).max(1.0 / 3.0);
            nu = 2.0;
        } else {
            mu *= nu;
            nu *= 2.0;
            if !mu.is_finite() {
                return Err(SolveError::Breakdown { method: METHOD, iter, what: "damping overflowed" });
            }
        }
    }
    let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    Err(SolveError::NotConverged { method: METHOD, iters: opts.max_iter, residual: gmax, tol: opts.tol_grad })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Rosenbrock's gradient, whose root is (1, 1).
    fn rosen_grad(x: ArrayView1<f64>) -> Array1<f64> {
        array![-2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]), 200.0 * (x[1] - x[0] * x[0])]
    }

    fn rosen_hess(x: ArrayView1<f64>) -> Array2<f64> {
        array![[2.0 - 400.0 * x[1] + 1200.0 * x[0] * x[0], -400.0 * x[0]], [-400.0 * x[0], 200.0]]
    }

    #[test]
    fn newton_finds_the_rosenbrock_stationary_point() {
        // From (0.5, 0.5) (from the classic (−1.2, 1) the merit ½‖∇f‖² has a spurious valley).
        let opts = NewtonOpts { max_iter: 200, ..Default::default() };
        let r = newton(rosen_grad, rosen_hess, array![0.5, 0.5].view(), opts).unwrap();
        assert!((r.x[0] - 1.0).abs() < 1e-10 && (r.x[1] - 1.0).abs() < 1e-10, "{:?}", r.x);
        assert!(r.residual <= 1e-12);
    }

    #[test]
    fn newton_converges_quadratically_on_a_smooth_system() {
        // x² + y² = 4, x = y: root (√2, √2).
        let f = |x: ArrayView1<f64>| array![x[0] * x[0] + x[1] * x[1] - 4.0, x[0] - x[1]];
        let j = |x: ArrayView1<f64>| array![[2.0 * x[0], 2.0 * x[1]], [1.0, -1.0]];
        let r = newton(f, j, array![3.0, 1.0].view(), NewtonOpts::default()).unwrap();
        assert!((r.x[0] - 2f64.sqrt()).abs() < 1e-13 && r.iters <= 8, "{r:?}");
    }

    #[test]
    fn newton_fails_with_a_typed_error_without_a_root() {
        // x² + 1 = 0 has no real root: the line search or the cap stops it, no hang.
        let f = |x: ArrayView1<f64>| array![x[0] * x[0] + 1.0];
        let j = |x: ArrayView1<f64>| array![[2.0 * x[0]]];
        let e = newton(f, j, array![0.5].view(), NewtonOpts { max_iter: 50, ..Default::default() }).unwrap_err();
        assert!(matches!(e, SolveError::LineSearch { .. } | SolveError::NotConverged { .. } | SolveError::Dense(_)));
        // A singular Jacobian at the start.
        let e = newton(f, j, array![0.0].view(), NewtonOpts::default()).unwrap_err();
        assert!(matches!(e, SolveError::Dense(_)), "{e}");
        // NaN.
        let g = |_: ArrayView1<f64>| array![f64::NAN];
        assert!(matches!(newton(g, j, array![1.0].view(), NewtonOpts::default()), Err(SolveError::NonFinite { .. })));
    }

    #[test]
    fn fixed_point_records_the_contraction_factor() {
        // x ↦ cos x: fixed point 0.739085..., contraction factor |sin x*| = 0.6736...
        let r = fixed_point(|x| x.mapv(f64::cos), array![1.0].view(), FixedPointOpts::default()).unwrap();
        let xs = 0.739_085_133_215_160_6;
        assert!((r.x[0] - xs).abs() < 1e-11);
        assert!((r.contraction - xs.sin()).abs() < 1e-3, "{}", r.contraction);
        assert!(r.error_bound() >= (r.x[0] - xs).abs() * 0.5);
        // A linear contraction with known factor 0.5 along the slow direction.
        let r =
            fixed_point(|x| array![0.5 * x[0] + 1.0, 0.1 * x[1]], array![0.0, 1.0].view(), FixedPointOpts::default())
                .unwrap();
        assert!((r.x[0] - 2.0).abs() < 1e-11 && (r.contraction - 0.5).abs() < 1e-3, "{r:?}");
    }

    #[test]
    fn fixed_point_detects_divergence_and_the_cap() {
        let e = fixed_point(|x| x.mapv(|v| 2.0 * v + 1.0), array![0.0].view(), FixedPointOpts::default()).unwrap_err();
        match e {
            SolveError::Diverging { factor, .. } => assert!((factor - 2.0).abs() < 1e-9, "{factor}"),
            other => panic!("{other}"),
        }
        let e = fixed_point(
            |x| x.mapv(|v| 0.999 * v),
            array![1.0].view(),
            FixedPointOpts { max_iter: 20, ..Default::default() },
        )
        .unwrap_err();
        assert!(matches!(e, SolveError::NotConverged { .. }));
        // A rotation: steps never shrink, never grow; the cap stops it.
        let e = fixed_point(
            |x| array![-x[1], x[0]],
            array![1.0, 0.0].view(),
            FixedPointOpts { max_iter: 100, ..Default::default() },
        )
        .unwrap_err();
        assert!(matches!(e, SolveError::NotConverged { .. }));
        let e = fixed_point(|_| array![f64::NAN], array![1.0].view(), FixedPointOpts::default()).unwrap_err();
        assert!(matches!(e, SolveError::NonFinite { .. }));
    }

    #[test]
    fn levenberg_marquardt_fits_an_exponential_and_rosenbrock() {
        // y = 2 e^{−0.7 t} exactly: residuals r_i = a e^{b t_i} − y_i.
        let t: Vec<f64> = (0..20).map(|i| i as f64 * 0.25).collect();
        let y: Vec<f64> = t.iter().map(|t| 2.0 * (-0.7 * t).exp()).collect();
        let (t2, y2) = (t.clone(), y.clone());
        let r =
            move |p: ArrayView1<f64>| Array1::from_iter(t2.iter().zip(&y2).map(|(t, y)| p[0] * (p[1] * t).exp() - y));
        let j = move |p: ArrayView1<f64>| {
            Array2::from_shape_fn((t.len(), 2), |(i, k)| {
                let e = (p[1] * t[i]).exp();
                if k == 0 { e } else { p[0] * t[i] * e }
            })
        };
        let fit = levenberg_marquardt(r, j, array![1.0, 0.0].view(), LmOpts::default()).unwrap();
        assert!((fit.x[0] - 2.0).abs() < 1e-8 && (fit.x[1] + 0.7).abs() < 1e-8, "{fit:?}");
        // Rosenbrock as least squares: r = (10 (x2 − x1²), 1 − x1).
        let r = |x: ArrayView1<f64>| array![10.0 * (x[1] - x[0] * x[0]), 1.0 - x[0]];
        let j = |x: ArrayView1<f64>| array![[-20.0 * x[0], 10.0], [-1.0, 0.0]];
        let fit = levenberg_marquardt(r, j, array![-1.2, 1.0].view(), LmOpts::default()).unwrap();
        assert!((fit.x[0] - 1.0).abs() < 1e-8 && (fit.x[1] - 1.0).abs() < 1e-8, "{fit:?}");
    }

    #[test]
    fn levenberg_marquardt_stops_at_the_cap() {
        let r = |x: ArrayView1<f64>| array![10.0 * (x[1] - x[0] * x[0]), 1.0 - x[0]];
        let j = |x: ArrayView1<f64>| array![[-20.0 * x[0], 10.0], [-1.0, 0.0]];
        let e = levenberg_marquardt(r, j, array![-1.2, 1.0].view(), LmOpts { max_iter: 2, ..Default::default() });
        assert!(matches!(e, Err(SolveError::NotConverged { .. })));
        let bad = |_: ArrayView1<f64>| array![f64::NAN];
        let jb = |_: ArrayView1<f64>| array![[1.0]];
        assert!(matches!(
            levenberg_marquardt(bad, jb, array![0.0].view(), LmOpts::default()),
            Err(SolveError::NonFinite { .. })
        ));
    }
}
