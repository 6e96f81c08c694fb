//! Schedule shapes (each scaled optimally where the bound is evaluated), the repo's closed-form
//! refinement, the gradient-norm profiles of the bound experiment and the numerical optimum.

use crate::bound;
use common::optim::{FnObjective, Lbfgs, Stop};
use ndarray::{Array1, ArrayView1};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// A schedule family, t = 0..T−1 (shapes; the base step multiplies them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 1.
    Constant,
    /// 1/√(t + 1).
    InvSqrt,
    /// 1, ×0.1 at 50 % and again at 75 % of the run.
    Step,
    /// ½(1 + cos(πt/T)).
    Cosine,
    /// 1 − t/T.
    Linear,
    /// The closed-form refinement of observed gradient norms.
    Refined,
}

impl Kind {
    /// The five fixed shapes, worst to best in the bound (G ≡ 1) except `step`.
    pub const FIXED: [Kind; 5] = [Kind::Constant, Kind::InvSqrt, Kind::Step, Kind::Cosine, Kind::Linear];
    /// Every kind run by SGD.
    pub const ALL: [Kind; 6] = [Kind::Constant, Kind::InvSqrt, Kind::Step, Kind::Cosine, Kind::Linear, Kind::Refined];

    /// Name used in tables and figures.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Constant => "constant",
            Kind::InvSqrt => "1/sqrt(t)",
            Kind::Step => "step",
            Kind::Cosine => "cosine",
            Kind::Linear => "linear",
            Kind::Refined => "refined",
        }
    }

    /// The shape at t of a run of `n` steps (`Refined` has no fixed shape: NaN).
    pub fn at(self, t: usize, n: usize) -> f64 {
        let (t, nf) = (t as f64, n as f64);
        match self {
            Kind::Constant => 1.0,
            Kind::InvSqrt => 1.0 / (t + 1.0).sqrt(),
            Kind::Step => {
                if t < (n / 2) as f64 {
                    1.0
                } else if t < (3 * n / 4) as f64 {
                    0.1
                } else {
                    0.01
                }
            }
            Kind::Cosine => 0.5 * (1.0 + (PI * t / nf).cos()),
            Kind::Linear => 1.0 - t / nf,
            Kind::Refined => f64::NAN,
        }
    }

    /// The whole shape.
    pub fn shape(self, n: usize) -> Vec<f64> {
        (0..n).map(|t| self.at(t, n)).collect()
    }
}

/// The repo's `find_closed_form_schedule` on the norms `g` (length n): w_t = G_t⁻²,
/// sched_t = w_t·(Σ_{p>t} w_p)/Σ_p w_p, and sched_{n−1} = 0 (the repo divides by w_{n−1}
/// instead of Σ_p w_p, a constant factor that the base step absorbs).
pub fn closed_form(g: &[f64]) -> Vec<f64> {
    let w: Vec<f64> = g.iter().map(|v| v.powi(-2)).collect();
    let n = w.len();
    let mut tail = vec![0.0; n + 1];
    for t in (0..n).rev() {
        tail[t] = tail[t + 1] + w[t];
    }
    (0..n).map(|t| if t + 1 == n { 0.0 } else { w[t] * tail[t + 1] / tail[0] }).collect()
}

/// The refined schedule used wherever it is evaluated or run: the closed form on T + 1 norms
/// (the last repeated), first T entries, so every step is positive (spec, [calib]).
pub fn refined(g: &[f64]) -> Vec<f64> {
    let mut ext = g.to_vec();
    if let Some(&last) = g.last() {
        ext.push(last);
    }
    let mut s = closed_form(&ext);
    s.truncate(g.len());
    s
}

/// A gradient-norm profile of the bound experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// G_t = 1 + 9e^{−t/(T/10)}: from 10 down to 1.
    Decreasing,
    /// G_t linear from 1 to 3.5.
    Increasing,
    /// G_t = 5 for t < 20, then 1.
    Spike,
    /// G_t = 1.
    Constant,
}

impl Profile {
    /// The four, in report order.
    pub const ALL: [Profile; 4] = [Profile::Decreasing, Profile::Increasing, Profile::Spike, Profile::Constant];

    /// Name used in tables and figures.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Decreasing => "decreasing",
            Profile::Increasing => "increasing",
            Profile::Spike => "spike",
            Profile::Constant => "constant",
        }
    }

    /// G_t for t = 0..n−1.
    pub fn norms(self, n: usize) -> Vec<f64> {
        let tau = n as f64 / 10.0;
        (0..n)
            .map(|t| {
                let tf = t as f64;
                match self {
                    Profile::Decreasing => 1.0 + 9.0 * (-tf / tau).exp(),
                    Profile::Increasing => 1.0 + 2.5 * tf / (n.max(2) - 1) as f64,
                    Profile::Spike => {
                        if t < 20 {
                            5.0
                        } else {
                            1.0
                        }
                    }
                    Profile::Constant => 1.0,
                }
            })
            .collect()
    }
}

/// The odd median-filter window 2⌊σn/2⌋ + 1 of the repo's recipe
/// `median_filter(G, size = 2⌊σn/2⌋ + 1)` (1: no filtering).
pub fn recipe_width(sigma: f64, n: usize) -> usize {
    2 * ((sigma * n as f64 / 2.0).floor().max(0.0) as usize) + 1
}

/// How L-BFGS ended on the numerical optimum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Solver {
    /// Iterations (accepted steps).
    pub iters: usize,
    /// Objective evaluations (each with its gradient).
    pub evals: usize,
    /// The final value.
    pub f: f64,
    /// ‖∇f‖_∞ (in log λ) at the end.
    pub grad_inf: f64,
    /// True when ‖∇f‖_∞ reached the solver's `gtol`.
    pub converged: bool,
}

/// The numerical optimum of the bound: `solver` (common's L-BFGS) on x = log λ from the repo's
/// start λ_t = D/√T.
pub fn optimum(g2: &[f64], d: f64, solver: &Lbfgs) -> (Vec<f64>, Solver) {
    let n = g2.len();
    let x0 = Array1::from_elem(n, (d / (n as f64).sqrt()).ln());
    let obj = FnObjective(|x: ArrayView1<f64>| {
        let lam: Vec<f64> = x.iter().map(|v| v.exp()).collect();
        let f = bound::bound(&lam, g2, d);
        let g = bound::gradient(&lam, g2, d);
        (f, g.iter().zip(&lam).map(|(gi, l)| gi * l).collect::<Array1<f64>>())
    });
    let m = solver.minimize(obj, x0.view());
    let report = Solver {
        iters: m.iters,
        evals: m.values,
        f: m.f,
        grad_inf: m.grad.fold(0.0f64, |a, v| a.max(v.abs())),
        converged: m.stop == Stop::Converged,
    };
    (m.x.iter().map(|v| v.exp()).collect(), report)
}

/// Index of the largest entry (the first on ties).
pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
