//! Deterministic smooth minimization, part 2: L-BFGS (Nocedal 1980; the two-loop recursion of
//! Nocedal & Wright Algorithm 7.4, initial matrix `γ I` with `γ = sᵀy / yᵀy` of the newest pair)
//! on any [`LineSearch`], and a box-bounded projected variant ([`ProjectedLbfgs`]).
use std::collections::VecDeque;

use ndarray::{Array1, ArrayView1, Zip};

use super::line_search::{Armijo, Counting, LineSearch, LineSearchError, Objective, StrongWolfe, sufficient_decrease};

/// Why a minimizer stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum Stop {
    /// The gradient's sup norm (for [`ProjectedLbfgs`], the projected gradient's) reached `gtol`.
    Converged,
    /// `max_iter` iterations without convergence.
    MaxIter,
    /// The line search failed along the steepest-descent direction too (typically: `gtol` is
    /// below what rounding lets the gradient reach).
    LineSearch(LineSearchError),
}

/// What a minimizer returns.
#[derive(Clone, Debug)]
pub struct Minimum {
    /// The last iterate.
    pub x: Array1<f64>,
    /// `f(x)`.
    pub f: f64,
    /// `∇f(x)`.
    pub grad: Array1<f64>,
    /// Accepted steps.
    pub iters: usize,
    /// Objective values computed (including those that came with a gradient).
    pub values: usize,
    /// Gradients computed.
    pub grads: usize,
    /// Why it stopped.
    pub stop: Stop,
}

/// The curvature pairs `(s, y, 1 / sᵀy)` of the last `m` steps, oldest first.
#[derive(Clone, Debug, Default)]
struct History {
    pairs: VecDeque<(Array1<f64>, Array1<f64>, f64)>,
}

impl History {
    /// Keep `(s, y)` if `sᵀy > ε yᵀy` (the update then stays positive definite), dropping the
    /// oldest pair beyond `m`.
    fn push(&mut self, s: Array1<f64>, y: Array1<f64>, m: usize) {
        let (sy, yy) = (s.dot(&y), y.dot(&y));
        if m > 0 && sy > f64::EPSILON * yy && sy.is_finite() {
            if self.pairs.len() == m {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s, y, 1.0 / sy));
        }
    }

    /// `H g` by the two-loop recursion (Nocedal & Wright Algorithm 7.4).
    fn apply(&self, g: ArrayView1<f64>) -> Array1<f64> {
        let mut q = g.to_owned();
        let mut a = vec![0.0; self.pairs.len()];
        for (k, (s, y, rho)) in self.pairs.iter().enumerate().rev() {
            a[k] = rho * s.dot(&q);
            q.scaled_add(-a[k], y);
        }
        if let Some((s, y, _)) = self.pairs.back() {
            q *= s.dot(y) / y.dot(y);
        }
        for (k, (s, y, rho)) in self.pairs.iter().enumerate() {
            let b = rho * y.dot(&q);
            q.scaled_add(a[k] - b, s);
        }
        q
    }

    /// The pairs restricted to the coordinates where `free` holds (the others zeroed), those
    /// that keep positive curvature there.
    fn restricted(&self, free: &[bool], m: usize) -> History {
        let mut h = History::default();
        let mask = |v: &Array1<f64>| Zip::from(v).and(free).map_collect(|&x, &f| if f { x } else { 0.0 });
        for (s, y, _) in &self.pairs {
            h.push(mask(s), mask(y), m);
        }
        h
    }
}

fn sup_norm(v: ArrayView1<f64>) -> f64 {
    v.fold(0.0f64, |m, x| m.max(x.abs()))
}

/// L-BFGS with history `m` on a line search `L` ([`StrongWolfe`] by default, which keeps every
/// curvature pair; with [`Armijo`], pairs with `sᵀy <= 0` are skipped). Stops when
/// `‖∇f‖∞ <= gtol`. The first step (and the first after a reset) tries `α = min(1, 1 / ‖g‖₂)`
/// along `-g`, later ones the quasi-Newton step `α = 1`. When a search fails the history is
/// dropped and steepest descent tried; if that fails too, it stops with [`Stop::LineSearch`].
#[derive(Clone, Debug)]
pub struct Lbfgs<L = StrongWolfe> {
    /// Curvature pairs kept.
    pub m: usize,
    /// Tolerance on the gradient's sup norm.
    pub gtol: f64,
    /// Most accepted steps.
    pub max_iter: usize,
    /// The line search.
    pub line_search: L,
}

impl Default for Lbfgs<StrongWolfe> {
    /// `m = 10`, `gtol = 1e-8`, 1000 iterations, [`StrongWolfe::default`].
    fn default() -> Self {
        Lbfgs { m: 10, gtol: 1e-8, max_iter: 1000, line_search: StrongWolfe::default() }
    }
}

impl<L: LineSearch> Lbfgs<L> {
    /// Minimize `obj` from `x0` (pass `&mut obj` to keep it).
    pub fn minimize<O: Objective>(&self, obj: O, x0: ArrayView1<f64>) -> Minimum {
        let mut obj = Counting::new(obj);
        let mut x = x0.to_owned();
        let (mut f, mut g) = obj.value_grad(x.view());
        let mut hist = History::default();
        let mut iters = 0;
        let stop = loop {
            if sup_norm(g.view()) <= self.gtol {
                break Stop::Converged;
            }
            if iters == self.max_iter {
                break Stop::MaxIter;
            }
            let mut d = -hist.apply(g.view());
            let slope = g.dot(&d);
            if slope.is_nan() || slope >= 0.0 {
                hist = History::default();
                d = -&g;
            }
            let alpha0 = if hist.pairs.is_empty() { (1.0 / g.dot(&g).sqrt()).min(1.0) } else { 1.0 };
            let step = match self.line_search.search(&mut obj, x.view(), f, g.view(), d.view(), alpha0) {
                Ok(step) => step,
                Err(_) if !hist.pairs.is_empty() => {
                    hist = History::default();
                    continue;
                }
                Err(e) => break Stop::LineSearch(e),
            };
            hist.push(&step.x - &x, &step.grad - &g, self.m);
            (x, f, g) = (step.x, step.f, step.grad);
            iters += 1;
        };
        Minimum { x, f, grad: g, iters, values: obj.values, grads: obj.grads, stop }
    }
}

/// L-BFGS on a box `lower <= x <= upper` (entries may be infinite): a two-metric projection
/// method (Bertsekas 1982, "Projected Newton methods for optimization problems with simple
/// constraints"; the L-BFGS form of Schmidt, Kim & Sra 2011). At each iterate the ε-binding set
/// holds the coordinates within `ε = min(1e-3, ‖x - P(x - g)‖∞)` of a bound whose gradient
/// pushes outward; the free coordinates take the L-BFGS direction with the curvature pairs
/// restricted to them, the binding ones `-g`, and the step backtracks (Armijo) along the
/// projection arc `x(α) = P(x + α d)` until `f(x(α)) <= f(x) + c1 ∇f(x)ᵀ(x(α) - x)` (up to
/// the rounding of `f`, see [`sufficient_decrease`]).
/// Stops when the projected gradient `‖x - P(x - ∇f(x))‖∞ <= gtol`, the first-order (KKT)
/// condition of the box.
#[derive(Clone, Debug)]
pub struct ProjectedLbfgs {
    /// Lower bounds (`-inf` for none).
    pub lower: Array1<f64>,
    /// Upper bounds (`+inf` for none).
    pub upper: Array1<f64>,
    /// Curvature pairs kept.
    pub m: usize,
    /// Tolerance on the projected gradient's sup norm.
    pub gtol: f64,
    /// Most accepted steps.
    pub max_iter: usize,
    /// The backtracking along the projection arc (`c1`, `shrink`, `max_evals`).
    pub armijo: Armijo,
}

impl ProjectedLbfgs {
    /// The box `[lower, upper]` with `m = 10`, `gtol = 1e-8`, 1000 iterations and
    /// [`Armijo::default`]. Panics unless `lower <= upper` entrywise (same lengths, no NaN).
    pub fn new(lower: Array1<f64>, upper: Array1<f64>) -> Self {
        assert_eq!(lower.len(), upper.len(), "projected lbfgs: bounds differ in length");
        assert!(lower.iter().zip(&upper).all(|(l, u)| l <= u), "projected lbfgs: need lower <= upper");
        ProjectedLbfgs { lower, upper, m: 10, gtol: 1e-8, max_iter: 1000, armijo: Armijo::default() }
    }

    /// The projection of `x` onto the box.
    pub fn project(&self, x: ArrayView1<f64>) -> Array1<f64> {
        Zip::from(x).and(&self.lower).and(&self.upper).map_collect(|&v, &l, &u| v.clamp(l, u))
    }

    /// The projected gradient `x - P(x - g)` (zero exactly at a KKT point of the box).
    pub fn projected_gradient(&self, x: ArrayView1<f64>, g: ArrayView1<f64>) -> Array1<f64> {
        &x - &self.project((&x - &g).view())
    }

    /// Minimize `obj` over the box from `P(x0)`.
    pub fn minimize<O: Objective>(&self, obj: O, x0: ArrayView1<f64>) -> Minimum {
        assert_eq!(x0.len(), self.lower.len(), "projected lbfgs: x0 and bounds differ in length");
        let mut obj = Counting::new(obj);
        let mut x = self.project(x0);
        let (mut f, mut g) = obj.value_grad(x.view());
        let mut hist = History::default();
        let mut iters = 0;
        let stop = loop {
            let pg = sup_norm(self.projected_gradient(x.view(), g.view()).view());
            if pg <= self.gtol {
                break Stop::Converged;
            }
            if iters == self.max_iter {
                break Stop::MaxIter;
            }
            let eps = pg.min(1e-3);
            let free: Vec<bool> = (0..x.len())
                .map(|i| {
                    let at_lower = x[i] <= self.lower[i] + eps && g[i] > 0.0;
                    let at_upper = x[i] >= self.upper[i] - eps && g[i] < 0.0;
                    !(at_lower || at_upper)
                })
                .collect();
            let g_free = Zip::from(&g).and(&free).map_collect(|&v, &f| if f { v } else { 0.0 });
            let mut d = -hist.restricted(&free, self.m).apply(g_free.view());
            let slope = g_free.dot(&d);
            if slope.is_nan() || slope >= 0.0 {
                hist = History::default();
                d = -&g_free;
            }
            Zip::from(&mut d).and(&g).and(&free).for_each(|d, &g, &f| {
                if !f {
                    *d = -g;
                }
            });
            let steepest = hist.pairs.is_empty();
            let mut alpha = if steepest { (1.0 / g.dot(&g).sqrt()).min(1.0) } else { 1.0 };
            let mut accepted = None;
            for _ in 0..self.armijo.max_evals {
                let xa = self.project(super::line_search::axpy(x.view(), alpha, d.view()).view());
                let decrease = g.dot(&(&xa - &x));
                let (fa, ga) = obj.value_grad(xa.view());
                let end = ga.dot(&(&xa - &x));
                if decrease < 0.0 && sufficient_decrease(self.armijo.c1, f, decrease, fa, end) {
                    accepted = Some((xa, fa, ga));
                    break;
                }
                alpha *= self.armijo.shrink;
            }
            let Some((xa, fa, ga)) = accepted else {
                if !steepest {
                    hist = History::default();
                    continue;
                }
                break Stop::LineSearch(LineSearchError::Failed { evals: self.armijo.max_evals, alpha });
            };
            hist.push(&xa - &x, &ga - &g, self.m);
            (x, f, g) = (xa, fa, ga);
            iters += 1;
        };
        Minimum { x, f, grad: g, iters, values: obj.values, grads: obj.grads, stop }
    }
}
