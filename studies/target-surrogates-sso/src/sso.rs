//! The target-based surrogate (Lavington et al. 2023, Sec. 3) for a linear model `f_W(X) = X W`,
//! its majorization-minimization loop (full batch), SSO (the same loop on mini-batches) and the
//! baselines (gradient descent, SGD).
//!
//! With `L(z) = (1/n) Σ_i ℓ(z_i, y_i)` and the targets `z_t = X W_t`, the surrogate is
//! `g_t(W) = L(z_t) + ⟨∇_z L(z_t), X W − z_t⟩ + ‖X W − z_t‖² / (2 η n)`.
//! Because `∇²_z L = blockdiag(∇²ℓ_i) / n ≼ (L_z / n) I`, `g_t ≥ L(X·)` for `η ≤ 1/L_z`
//! (`L_z` = ½ for softmax cross-entropy, ¼ for BCE, 1 for squared loss). In `W` the surrogate is a
//! quadratic with Hessian `Σ/η ⊗ I` (`Σ = XᵀX/n`), so the inner steps touch only `p × p` and
//! `p × k` arrays: the expensive part, the targets' gradient, is computed once per outer step.
use common::models::Targets;
use common::models::loss::{Loss, bce_with_logits, bce_with_logits_grad};
use common::optim::{Armijo, FnObjective, LineSearch};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// The per-sample loss on the targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Softmax cross-entropy over `k` classes (`common::models::loss::Loss::SoftmaxCe`).
    Softmax,
    /// Binary cross-entropy with logits, one output.
    Bce,
    /// `½ (f − y)²`, one output (`Loss::Mse`).
    Mse,
}

impl LossKind {
    /// The smoothness of one sample's loss in its target: `∇²ℓ ≼ L_z I`.
    pub fn l_z(self) -> f64 {
        match self {
            LossKind::Softmax => 0.5,
            LossKind::Bce => 0.25,
            LossKind::Mse => 1.0,
        }
    }
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Softmax => "softmax",
            LossKind::Bce => "bce",
            LossKind::Mse => "mse",
        }
    }
}

/// A supervised problem for a linear model: features (with a constant column), labels, outputs.
#[derive(Clone, Debug)]
pub struct Problem {
    /// `n × p` features; the last column is the constant 1.
    pub x: Array2<f64>,
    /// Class index (softmax), or the 0/1 label (BCE, MSE), one per row.
    pub y: Vec<usize>,
    /// Model outputs `k` (classes for softmax, 1 otherwise).
    pub k: usize,
    /// The loss.
    pub loss: LossKind,
}

impl Problem {
    /// A problem from features (a constant column is appended) and labels.
    pub fn new(features: ArrayView2<f64>, y: Vec<usize>, loss: LossKind) -> Problem {
        let (n, d) = features.dim();
        let mut x = Array2::ones((n, d + 1));
        x.slice_mut(ndarray::s![.., ..d]).assign(&features);
        let k = match loss {
            LossKind::Softmax => y.iter().max().map_or(1, |m| m + 1).max(2),
            _ => 1,
        };
        Problem { x, y, k, loss }
    }
    /// Samples.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }
    /// Features (with the constant).
    pub fn p(&self) -> usize {
        self.x.ncols()
    }
    /// The rows `idx` as a problem of their own (a mini-batch).
    pub fn rows(&self, idx: &[usize]) -> Problem {
        Problem {
            x: self.x.select(Axis(0), idx),
            y: idx.iter().map(|&i| self.y[i]).collect(),
            k: self.k,
            loss: self.loss,
        }
    }
    /// `Σ = XᵀX / n`.
    pub fn gram(&self) -> Array2<f64> {
        self.x.t().dot(&self.x) / self.n() as f64
    }
    /// The largest eigenvalue of `Σ`.
    pub fn lambda_max(&self) -> f64 {
        let (w, _) = common::linalg::dense::eigh(&self.gram());
        w.iter().copied().fold(0.0, f64::max)
    }
    /// Mean loss at the targets `f` (`n × k`) and the per-sample gradients `∂ℓ_i/∂f_i` (not / n).
    pub fn loss_grad(&self, f: ArrayView2<f64>) -> (f64, Array2<f64>) {
        match self.loss {
            LossKind::Softmax => Loss::SoftmaxCe.value_grad(f, &Targets::Classes(self.y.clone())),
            LossKind::Mse => {
                let y: Vec<f64> = self.y.iter().map(|&c| c as f64).collect();
                Loss::Mse.value_grad(f, &Targets::scalar(&y))
            }
            LossKind::Bce => {
                let n = f.nrows();
                let mut g = Array2::zeros((n, 1));
                let mut total = 0.0;
                for i in 0..n {
                    let (z, y) = (f[[i, 0]], self.y[i] as f64);
                    total += bce_with_logits(z, y);
                    g[[i, 0]] = bce_with_logits_grad(z, y);
                }
                (if n == 0 { 0.0 } else { total / n as f64 }, g)
            }
        }
    }
    /// Mean loss of the weights `w` (`p × k`).
    pub fn loss(&self, w: ArrayView2<f64>) -> f64 {
        self.loss_grad(self.x.dot(&w).view()).0
    }
}

/// The surrogate at one outer step, as a quadratic in `W`:
/// `g(W) = ℓ_t + ⟨c, W − W_t⟩ + tr((W − W_t)ᵀ Σ (W − W_t)) / (2η)` with `c = XᵀG/n`, the gradient
/// of the loss at `W_t` (one expensive call).
#[derive(Clone, Debug)]
pub struct Surrogate<'a> {
    /// `Σ = XᵀX/n` of the batch.
    pub gram: &'a Array2<f64>,
    /// The anchor `W_t`.
    pub w_t: Array2<f64>,
    /// `ℓ(z_t)`.
    pub l_t: f64,
    /// `∇_W ℓ(W_t) = Xᵀ ∇_z / n`.
    pub c: Array2<f64>,
    /// The target-space step size η.
    pub eta: f64,
}

impl Surrogate<'_> {
    /// `g(W)` and `∇g(W)`.
    pub fn value_grad(&self, w: ArrayView2<f64>) -> (f64, Array2<f64>) {
        let d = &w - &self.w_t;
        let sd = self.gram.dot(&d);
        let v = self.l_t + (&self.c * &d).sum() + (&d * &sd).sum() / (2.0 * self.eta);
        (v, &self.c + &(sd / self.eta))
    }
}

/// The inner solver of the surrogate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inner {
    /// Gradient steps of length `1/L_g` with `L_g = λ_max(Σ)/η`, the surrogate's smoothness in `W`.
    Fixed,
    /// Armijo backtracking (`common::optim::Armijo`; the repo's `LSOpt`: c = 0.5, ×0.9, first trial
    /// step 10 at each outer step, then the last accepted step).
    Armijo,
    /// The same backtracking, evaluated in closed form: on the quadratic surrogate the Armijo test
    /// along `−∇g` passes exactly when `α ≤ 2(1 − c)‖∇g‖² / ∇gᵀ∇²g∇g`, so the accepted step is the
    /// first `α0·shrink^j` below that bound, with no function evaluation (the stochastic runs use it;
    /// a test checks it takes the steps of [`Inner::Armijo`]).
    ArmijoClosed,
}

/// The step backtracking Armijo accepts on the quadratic `q(α) = q0 − α s + α² h / 2` (`s = ‖∇q‖²`,
/// `h` the curvature along the gradient) from the trial `alpha`, with the test
/// `q(α) ≤ q0 − c α s`; `None` when `max_evals` trials all fail.
pub fn armijo_quadratic_step(mut alpha: f64, s: f64, h: f64, c: f64, shrink: f64, max_evals: usize) -> Option<f64> {
    let bound = if h > 0.0 { 2.0 * (1.0 - c) * s / h } else { f64::INFINITY };
    for _ in 0..max_evals {
        if alpha <= bound {
            return Some(alpha);
        }
        alpha *= shrink;
    }
    None
}

/// The line-search constants of the repo's `LSOpt`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineSearchCfg {
    /// Sufficient-decrease constant.
    pub c: f64,
    /// Backtracking factor.
    pub shrink: f64,
    /// First trial step at each outer step.
    pub alpha0: f64,
}

/// Trials of the inner line search before it gives up (10·0.9^200 ≈ 7e-9).
pub const ARMIJO_MAX_EVALS: usize = 200;

/// One pass of `m` inner steps on `s` from `s.w_t`; `visit(j, W_j)` sees every inner iterate.
/// Returns the last iterate and the number of surrogate evaluations (each a `p × p` by `p × k`
/// product).
pub fn minimize_surrogate(
    s: &Surrogate,
    m: usize,
    inner: Inner,
    ls: LineSearchCfg,
    lambda: f64,
    mut visit: impl FnMut(usize, ArrayView2<f64>),
) -> (Array2<f64>, usize) {
    let mut w = s.w_t.clone();
    let shape = w.raw_dim();
    let mut evals = 0;
    let mut alpha = ls.alpha0;
    for j in 0..m {
        let (gv, g) = s.value_grad(w.view());
        evals += 1;
        match inner {
            Inner::Fixed => {
                w = &w - &(g * (s.eta / lambda));
            }
            Inner::Armijo => {
                if g.iter().all(|v| *v == 0.0) {
                    break;
                }
                let search = Armijo { c1: ls.c, shrink: ls.shrink, max_evals: ARMIJO_MAX_EVALS };
                let x0 = Array1::from_iter(w.iter().copied());
                let g0 = Array1::from_iter(g.iter().copied());
                let d = -&g0;
                let mut count = 0usize;
                let mut obj = FnObjective(|v: ArrayView1<f64>| {
                    count += 1;
                    let wv = v.to_owned().into_shape_with_order(shape).expect("shape");
                    let (f, gr) = s.value_grad(wv.view());
                    (f, Array1::from_iter(gr.iter().copied()))
                });
                let res = search.search(&mut obj, x0.view(), gv, g0.view(), d.view(), alpha);
                evals += count;
                match res {
                    Ok(step) => {
                        alpha = step.alpha;
                        w = step.x.into_shape_with_order(shape).expect("shape");
                    }
                    Err(_) => break,
                }
            }
            Inner::ArmijoClosed => {
                let s2: f64 = g.iter().map(|v| v * v).sum();
                if s2 == 0.0 {
                    break;
                }
                let h = (&g * &s.gram.dot(&g)).sum() / s.eta;
                evals += 1;
                match armijo_quadratic_step(alpha, s2, h, ls.c, ls.shrink, ARMIJO_MAX_EVALS) {
                    Some(a) => {
                        alpha = a;
                        w = &w - &(g * a);
                    }
                    None => break,
                }
            }
        }
        visit(j, w.view());
    }
    (w, evals)
}

/// One full-batch run: the loss and squared gradient norm at every outer iterate.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Trajectory {
    /// `ℓ(W_t)`, t = 0..=T.
    #[serde(with = "common::report::json_f64::vec")]
    pub loss: Vec<f64>,
    /// `‖∇ℓ(W_t)‖²`, t = 0..=T.
    #[serde(with = "common::report::json_f64::vec")]
    pub grad2: Vec<f64>,
    /// Work after t outer steps, in data passes (one pass = an `n × p × k` product); the inner
    /// steps cost `p/n` of a pass each (they touch only `Σ`).
    pub work: Vec<f64>,
}

/// The majorization record of one run: every inner iterate's `ℓ` and `g_t`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Majorization {
    /// Inner iterates checked.
    pub checked: usize,
    /// Iterates with `ℓ > g_t + tol`.
    pub violations: usize,
    /// The smallest `g_t − ℓ` seen.
    pub min_gap: f64,
    /// The outer step of the first violation, if any.
    pub first_violation: Option<usize>,
    /// Outer steps whose full-batch loss rose (by more than the tolerance).
    pub increases: usize,
    /// (outer, inner, ℓ, g_t) for the outer steps below `trace_outer`.
    pub trace: Vec<(usize, usize, f64, f64)>,
}

/// The tolerance of a majorization check at a loss of size `l`: 1e-12, relative above 1.
pub fn tol(l: f64) -> f64 {
    1e-12 * l.abs().max(1.0)
}

/// Full-batch MM: `outer` steps, each one expensive gradient and `m` inner steps.
/// With `check = Some(trace_outer)`, every inner iterate is checked against the surrogate (one
/// extra loss evaluation each, not counted as work).
pub fn mm_run(
    p: &Problem,
    eta: f64,
    m: usize,
    outer: usize,
    inner: Inner,
    ls: LineSearchCfg,
    check: Option<usize>,
) -> (Trajectory, Majorization) {
    let gram = p.gram();
    let lambda = p.lambda_max();
    let n = p.n() as f64;
    let inner_cost = p.p() as f64 / n;
    let mut w = Array2::zeros((p.p(), p.k));
    let mut tr = Trajectory::default();
    let mut mj = Majorization { min_gap: f64::INFINITY, ..Default::default() };
    let mut work = 0.0;
    for t in 0..=outer {
        let (l, g) = p.loss_grad(p.x.dot(&w).view());
        let c = p.x.t().dot(&g) / n;
        work += 2.0;
        tr.loss.push(l);
        tr.grad2.push(c.iter().map(|v| v * v).sum());
        tr.work.push(work);
        if t > 0 && l > tr.loss[t - 1] + tol(l) {
            mj.increases += 1;
        }
        if t == outer || !l.is_finite() {
            break;
        }
        let s = Surrogate { gram: &gram, w_t: w.clone(), l_t: l, c, eta };
        let (w_next, evals) = minimize_surrogate(&s, m, inner, ls, lambda, |j, wj| {
            if let Some(trace_outer) = check {
                let lj = p.loss(wj);
                let gj = s.value_grad(wj).0;
                mj.checked += 1;
                mj.min_gap = mj.min_gap.min(gj - lj);
                if lj > gj + tol(lj) {
                    mj.violations += 1;
                    mj.first_violation.get_or_insert(t);
                }
                if t < trace_outer {
                    mj.trace.push((t, j + 1, lj, gj));
                }
            }
        });
        work += evals as f64 * inner_cost;
        w = w_next;
    }
    (tr, mj)
}

/// Gradient descent with step `step` on the full batch (the baseline of T2 and T3).
pub fn gd_run(p: &Problem, step: f64, outer: usize) -> Trajectory {
    let n = p.n() as f64;
    let mut w: Array2<f64> = Array2::zeros((p.p(), p.k));
    let mut tr = Trajectory::default();
    for t in 0..=outer {
        let (l, g) = p.loss_grad(p.x.dot(&w).view());
        let c = p.x.t().dot(&g) / n;
        tr.loss.push(l);
        tr.grad2.push(c.iter().map(|v| v * v).sum());
        tr.work.push(2.0 * (t + 1) as f64);
        if t == outer || !l.is_finite() {
            break;
        }
        w = &w - &(c * step);
    }
    tr
}

/// The stochastic methods compared in Q2.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Method {
    /// SSO with `m` Armijo inner steps per mini-batch target gradient, constant η.
    Sso {
        /// Inner steps.
        m: usize,
    },
    /// Plain mini-batch SGD with a constant learning rate.
    Sgd,
}

/// One stochastic run on `p`: `epochs` passes of shuffled mini-batches of size `batch` (the last
/// partial batch dropped); returns the full training loss after every epoch (index 0 = start).
/// One target-gradient call per mini-batch for both methods.
pub fn stochastic_run(
    p: &Problem,
    method: Method,
    rate: f64,
    batch: usize,
    epochs: usize,
    ls: LineSearchCfg,
    rng: &mut impl rand::Rng,
) -> Vec<f64> {
    let mut w: Array2<f64> = Array2::zeros((p.p(), p.k));
    let mut out = vec![p.loss(w.view())];
    let per_epoch = p.n() / batch;
    for _ in 0..epochs {
        let perm = common::rng::permutation(rng, p.n());
        for b in 0..per_epoch {
            let mb = p.rows(&perm[b * batch..(b + 1) * batch]);
            let (l, g) = mb.loss_grad(mb.x.dot(&w).view());
            let c = mb.x.t().dot(&g) / batch as f64;
            w = match method {
                Method::Sgd => &w - &(c * rate),
                Method::Sso { m } => {
                    let gram = mb.gram();
                    let s = Surrogate { gram: &gram, w_t: w.clone(), l_t: l, c, eta: rate };
                    minimize_surrogate(&s, m, Inner::ArmijoClosed, ls, f64::NAN, |_, _| {}).0
                }
            };
        }
        let l = p.loss(w.view());
        out.push(l);
        if !l.is_finite() || l > 1e12 {
            // Diverged: the remaining epochs stay at +∞.
            out.resize(epochs + 1, f64::INFINITY);
            break;
        }
    }
    out
}
