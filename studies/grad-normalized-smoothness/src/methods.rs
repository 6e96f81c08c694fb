//! The methods, as in the repo's `src/methods.py`:
//! - [`gns`]: Algorithm 1, the gradient-normalized smoothness method
//!   x₊ = x − (H + λB)⁻¹g with λ = ‖g‖*/(γ + eps), and the adaptive search on γ: accept when
//!   f(x) − f(x₊) ≥ ‖∇f(x₊)‖*²/(8λ) (then γ ← max(2γ, γ_min)), otherwise γ ← γ/2 (at most 40 tries).
//! - [`gradient_method`]: the gradient method with L-doubling (`gradient_method`), Euclidean or in
//!   the B-metric (x₊ = x − B⁻¹g/L).

use crate::problems::{Hess, Model, Problem};
use common::linalg::dense::{Cholesky, sherman_morrison_solve};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// The metric B: identity or a dense SPD matrix (with its Cholesky factor for ‖·‖*).
pub enum Metric {
    /// B = I.
    Identity,
    /// A dense B.
    Dense {
        /// B.
        b: Array2<f64>,
        /// Its Cholesky factor.
        chol: Cholesky,
    },
}

impl Metric {
    /// A dense metric; errors if B is not positive definite.
    pub fn dense(b: Array2<f64>) -> anyhow::Result<Self> {
        let chol = Cholesky::new(b.view()).map_err(|e| anyhow::anyhow!("metric B: {e}"))?;
        Ok(Metric::Dense { b, chol })
    }
    /// B⁻¹g.
    pub fn inv(&self, g: &Array1<f64>) -> Array1<f64> {
        match self {
            Metric::Identity => g.clone(),
            Metric::Dense { chol, .. } => chol.solve(g.view()),
        }
    }
    /// ‖g‖*² = gᵀB⁻¹g.
    pub fn dual_sq(&self, g: &Array1<f64>) -> f64 {
        g.dot(&self.inv(g))
    }
    /// ‖d‖² = dᵀBd.
    pub fn primal_sq(&self, d: &Array1<f64>) -> f64 {
        match self {
            Metric::Identity => d.dot(d),
            Metric::Dense { b, .. } => d.dot(&b.dot(d)),
        }
    }
    /// H + λB.
    fn shifted(&self, h: &Array2<f64>, lam: f64) -> Array2<f64> {
        match self {
            Metric::Identity => {
                let mut m = h.clone();
                m.diag_mut().mapv_inplace(|v| v + lam);
                m
            }
            Metric::Dense { b, .. } => h + &(b * lam),
        }
    }
    /// Flops of one B⁻¹g.
    fn inv_flops(&self, n: usize) -> f64 {
        match self {
            Metric::Identity => 0.0,
            Metric::Dense { .. } => 2.0 * (n * n) as f64,
        }
    }
}

/// When a run stops.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub enum Stop {
    /// f(x_k) − f* < tol.
    Gap {
        /// f*.
        f_star: f64,
        /// Tolerance.
        tol: f64,
    },
    /// ‖∇f(x_k)‖* < tol.
    Grad {
        /// Tolerance.
        tol: f64,
    },
}

/// A deliberate deviation from Algorithm 1 (test-only hooks for the planted-bug tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Variant {
    /// Algorithm 1 as in the paper.
    #[default]
    Paper,
    /// λ = γ‖g‖* instead of ‖g‖*/γ (the regularization grows with the accepted γ).
    LambdaTimesGamma,
    /// The acceptance test with ‖∇f(x₊)‖*² replaced by 0 (every first try accepted).
    NoTest,
}

/// The options of Algorithm 1 (the repo's defaults: γ₀ = 1, γ_min = 1e-9, eps = 1e-8, 40 tries).
#[derive(Clone, Copy, Debug)]
pub struct GnsOptions {
    /// Curvature model.
    pub hess: Hess,
    /// γ₀.
    pub gamma0: f64,
    /// γ_min.
    pub gamma_min: f64,
    /// eps in λ = ‖g‖*/(γ + eps).
    pub eps: f64,
    /// Iteration cap.
    pub max_iters: usize,
    /// Stopping rule.
    pub stop: Stop,
    /// Test-only deviation.
    pub variant: Variant,
}

/// Tries of the adaptive search per iteration (the repo's `adaptive_search_max_iter`).
pub const MAX_SEARCH: usize = 40;

/// The trace of a run of Algorithm 1: per iteration k the numbers the acceptance test used.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GnsTrace {
    /// f(x_k), k = 0..=K.
    pub f: Vec<f64>,
    /// ‖∇f(x_k)‖*, k = 0..=K.
    pub gnorm: Vec<f64>,
    /// γ at the start of iteration k, k = 0..=K.
    pub gamma: Vec<f64>,
    /// λ of the step taken at iteration k, k = 0..K−1.
    pub lambda: Vec<f64>,
    /// Whether the step taken at k passed the acceptance test (false: the search ran out of tries).
    pub accepted: Vec<bool>,
    /// Factorizations (Cholesky or Sherman–Morrison solves, failed ones included) up to k, k = 0..=K.
    pub factorizations: Vec<u64>,
    /// Modelled flops up to k, k = 0..=K.
    pub flops: Vec<f64>,
    /// The first k where the stopping rule held.
    pub reached: Option<usize>,
}

/// One try of the adaptive search: the trial point, its value and gradient, ‖∇f(x₊)‖*², λ, accepted.
struct Try {
    x: Array1<f64>,
    f: f64,
    g: Array1<f64>,
    gsq: f64,
    lam: f64,
    ok: bool,
}

/// One regularized Newton step −(H + λB)⁻¹g; None if H + λB is not positive definite.
pub fn regularized_step(model: &Model, metric: &Metric, lam: f64, g: &Array1<f64>) -> Option<Array1<f64>> {
    let neg = g.mapv(|v| -v);
    match model {
        Model::Dense(h) => Cholesky::new(metric.shifted(h, lam).view()).ok().map(|c| c.solve(neg.view())),
        Model::RankOne { c, v } => {
            // (λB + c v vᵀ)⁻¹(−g) by Sherman–Morrison on a = λB.
            let u = v * *c;
            let x = sherman_morrison_solve(|r| metric.inv(&r.to_owned()) / lam, u.view(), v.view(), neg.view()).ok()?;
            x.iter().all(|t| t.is_finite()).then_some(x)
        }
    }
}

/// Algorithm 1 from x0.
pub fn gns(p: &dyn Problem, metric: &Metric, x0: &Array1<f64>, o: &GnsOptions) -> GnsTrace {
    let n = p.dim();
    let mut x = x0.clone();
    let mut f = p.value(&x);
    let mut g = p.grad(&x);
    let mut gn = metric.dual_sq(&g).sqrt();
    let mut gamma = o.gamma0;
    let mut t = GnsTrace::default();
    let (mut fact, mut flops) = (0u64, 2.0 * p.oracle_flops());
    let solve_flops = match o.hess {
        Hess::Fisher => 2.0 * metric.inv_flops(n) + 6.0 * n as f64,
        _ => (n * n * n) as f64 / 3.0 + 2.0 * (n * n) as f64,
    };
    for k in 0..=o.max_iters {
        t.f.push(f);
        t.gnorm.push(gn);
        t.gamma.push(gamma);
        t.factorizations.push(fact);
        t.flops.push(flops);
        let done = match o.stop {
            Stop::Gap { f_star, tol } => f - f_star < tol,
            Stop::Grad { tol } => gn < tol,
        };
        if done {
            t.reached = Some(k);
            break;
        }
        if k == o.max_iters || !f.is_finite() {
            break;
        }
        let model = p.model(&x, o.hess);
        flops += p.model_flops(o.hess);
        let mut taken: Option<Try> = None;
        for _ in 0..MAX_SEARCH {
            let lam = match o.variant {
                Variant::LambdaTimesGamma => gn * gamma,
                _ => gn / (gamma + o.eps),
            };
            fact += 1;
            flops += solve_flops;
            let Some(dx) = regularized_step(&model, metric, lam, &g) else {
                gamma *= 0.5;
                continue;
            };
            let xn = &x + &dx;
            let fn_ = p.value(&xn);
            let gn_ = p.grad(&xn);
            let gsq = metric.dual_sq(&gn_);
            flops += 2.0 * p.oracle_flops() + metric.inv_flops(n);
            let rhs = if o.variant == Variant::NoTest { 0.0 } else { gsq / (8.0 * lam) };
            let ok = f - fn_ >= rhs;
            taken = Some(Try { x: xn, f: fn_, g: gn_, gsq, lam, ok });
            if ok {
                gamma = (gamma * 2.0).max(o.gamma_min);
                break;
            }
            gamma *= 0.5;
        }
        // As the repo: when the search runs out of tries, the last step is taken anyway.
        let Some(Try { x: xn, f: fn_, g: gn_, gsq, lam, ok }) = taken else { break };
        t.lambda.push(lam);
        t.accepted.push(ok);
        x = xn;
        f = fn_;
        g = gn_;
        gn = gsq.sqrt();
    }
    t
}

/// Points kept of a gradient-method trace (all of the first half, then evenly spaced; the last kept).
pub const GD_TRACE_POINTS: usize = 150;

/// The trace of a gradient-method run, thinned to at most [`GD_TRACE_POINTS`] points.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GdTrace {
    /// Iterations recorded.
    pub k: Vec<usize>,
    /// f(x_k) at those iterations.
    pub f: Vec<f64>,
    /// Modelled flops at those iterations.
    pub flops: Vec<f64>,
    /// Iterations run.
    pub iters: usize,
    /// The first k where the stopping rule held.
    pub reached: Option<usize>,
    /// f at the last iterate.
    pub f_last: f64,
}

/// The gradient method with L-doubling (`gradient_method`): T = x − B⁻¹g/L, accepted when
/// f(T) ≤ f + ⟨g, T − x⟩ + (L/2)‖T − x‖²_B (then L ← max(L/2, L_min)), else L ← 2L (30 tries).
pub fn gradient_method(p: &dyn Problem, metric: &Metric, x0: &Array1<f64>, max_iters: usize, stop: Stop) -> GdTrace {
    const L_MIN: f64 = 1e-5;
    let n = p.dim();
    let mut x = x0.clone();
    let mut f = p.value(&x);
    let mut g = p.grad(&x);
    let mut l = 1.0;
    let mut flops = 2.0 * p.oracle_flops();
    let mut full: Vec<(usize, f64, f64)> = vec![];
    let mut reached = None;
    let mut iters = 0;
    for k in 0..=max_iters {
        full.push((k, f, flops));
        iters = k;
        let done = match stop {
            Stop::Gap { f_star, tol } => f - f_star < tol,
            Stop::Grad { tol } => metric.dual_sq(&g).sqrt() < tol,
        };
        if done {
            reached = Some(k);
            break;
        }
        if k == max_iters || !f.is_finite() {
            break;
        }
        let pg = metric.inv(&g);
        flops += metric.inv_flops(n);
        let mut next = (x.clone(), f);
        for _ in 0..30 {
            let tx = &x - &(&pg / l);
            let ft = p.value(&tx);
            flops += p.oracle_flops() + metric.inv_flops(n);
            let d = &tx - &x;
            let ok = ft <= f + g.dot(&d) + 0.5 * l * metric.primal_sq(&d);
            next = (tx, ft);
            if ok {
                l = (l * 0.5).max(L_MIN);
                break;
            }
            l *= 2.0;
        }
        x = next.0;
        f = next.1;
        g = p.grad(&x);
        flops += p.oracle_flops();
    }
    let idx = thin(full.len(), GD_TRACE_POINTS);
    GdTrace {
        k: idx.iter().map(|&i| full[i].0).collect(),
        f: idx.iter().map(|&i| full[i].1).collect(),
        flops: idx.iter().map(|&i| full[i].2).collect(),
        iters,
        reached,
        f_last: f,
    }
}

/// Up to `max` indices of 0..len: all below max/2, then evenly spaced, the last kept.
fn thin(len: usize, max: usize) -> Vec<usize> {
    if len <= max {
        return (0..len).collect();
    }
    let head = max / 2;
    let rest = max - head;
    let mut v: Vec<usize> = (0..head).collect();
    for i in 0..rest {
        let j = head + ((len - 1 - head) as f64 * (i + 1) as f64 / rest as f64).round() as usize;
        if j > *v.last().unwrap_or(&0) {
            v.push(j);
        }
    }
    v
}
