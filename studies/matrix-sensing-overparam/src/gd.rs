//! Gradient descent on the two parameterisations, recording the error ‖·‖²_F to M* on a sparse
//! grid of iterations (every `stride`-th step plus a geometric grid, so that both linear-x and
//! log-log fits have points everywhere).
//!
//! * symmetric, loss ¼‖A(XXᵀ) − y‖²: `X ← X − η · ½(S + Sᵀ) X`, `S = A*(A(XXᵀ) − y)`
//!   (the symmetrisation matters only for an operator with asymmetric `A_i`);
//! * asymmetric, loss ½‖A(FGᵀ) − y‖²: `F ← F − η S G`, `G ← G − η Sᵀ F`, `S = A*(A(FGᵀ) − y)`.
use crate::problem::{Sensing, sq_err};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// Step size, step budget and the error below which a run stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub eta: f64,
    pub max_steps: u64,
    pub floor: f64,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The error fell below the floor (double precision is exhausted there).
    Floor,
    /// The step budget ran out.
    MaxSteps,
    /// The error became non-finite or exceeded 1e8 (recorded, not a crash).
    Diverged,
}

/// The error curve of one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trace {
    /// Iterations at which the error was recorded (strictly increasing, starts at 0).
    pub t: Vec<u64>,
    /// ‖XXᵀ − M*‖²_F or ‖FGᵀ − M*‖²_F at those iterations.
    pub err: Vec<f64>,
    /// Iterations run.
    pub steps: u64,
    pub stop: Stop,
    /// Iteration at which the one-step modification was applied, if it was.
    pub modified_at: Option<u64>,
}

impl Trace {
    /// The last recorded error.
    pub fn last(&self) -> f64 {
        *self.err.last().expect("a trace has at least one point")
    }
    /// The error at the last recorded iteration `<= t`.
    pub fn at(&self, t: u64) -> f64 {
        let i = self.t.partition_point(|&s| s <= t);
        self.err[i.max(1) - 1]
    }
}

/// Records every `stride`-th iteration and a geometric grid (ratio 1.03).
struct Recorder {
    stride: u64,
    next_geo: f64,
    t: Vec<u64>,
    err: Vec<f64>,
}

impl Recorder {
    fn new(max_steps: u64) -> Self {
        Recorder { stride: (max_steps / 4000).max(1), next_geo: 1.0, t: vec![], err: vec![] }
    }
    fn record(&mut self, t: u64, e: f64, force: bool) {
        let geo = t as f64 >= self.next_geo;
        if geo {
            while self.next_geo <= t as f64 {
                self.next_geo = (self.next_geo * 1.03).max(self.next_geo + 1.0);
            }
        }
        if (force || geo || t.is_multiple_of(self.stride)) && self.t.last() != Some(&t) {
            self.t.push(t);
            self.err.push(e);
        }
    }
    fn finish(self, steps: u64, stop: Stop, modified_at: Option<u64>) -> Trace {
        Trace { t: self.t, err: self.err, steps, stop, modified_at }
    }
}

fn check(e: f64, floor: f64) -> Option<Stop> {
    if !e.is_finite() || e > 1e8 {
        Some(Stop::Diverged)
    } else if e < floor {
        Some(Stop::Floor)
    } else {
        None
    }
}

/// Symmetric GD from `x0` for at most `max_steps` steps.
pub fn run_symmetric(s: &Sensing, target: &Array2<f64>, x0: Array2<f64>, sched: Schedule) -> Trace {
    let Schedule { eta, max_steps, floor } = sched;
    let mut rec = Recorder::new(max_steps);
    let mut x = x0;
    let mut t = 0u64;
    loop {
        let p = x.dot(&x.t());
        let e = sq_err(&p, target);
        let stop = check(e, floor).or((t == max_steps).then_some(Stop::MaxSteps));
        rec.record(t, e, stop.is_some());
        if let Some(stop) = stop {
            common::counters::add_grads(t);
            return rec.finish(t, stop, None);
        }
        let r = s.residual(&p);
        let sym = (&r + &r.t()) * 0.5;
        x = &x - &(sym.dot(&x) * eta);
        t += 1;
    }
}

/// The one-step modification used in this study (a derived analogue, see the README):
/// `(F, G) -> (F P, G P⁻ᵀ)` with `P = β V S⁻¹ Vᵀ`, where `FᵀF = V S² Vᵀ` and `β² = ‖FGᵀ‖₂`.
/// `FGᵀ` is unchanged; every singular value of `F` becomes `β`, so the imbalance `FᵀF − GᵀG`
/// is lifted from O(α²) to O(‖M*‖) in every direction, including the redundant ones.
pub fn rebalance(f: &Array2<f64>, g: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let (w, v) = common::linalg::eigh(&f.t().dot(f));
    let p = f.dot(&g.t());
    let beta = common::linalg::singular_values(&p)[0].sqrt();
    let s: Array1<f64> = w.mapv(|x| x.max(f64::MIN_POSITIVE).sqrt());
    let scale = |d: Array1<f64>| v.dot(&Array2::from_diag(&d)).dot(&v.t());
    let pm = scale(s.mapv(|x| beta / x));
    let pinv = scale(s.mapv(|x| x / beta));
    (f.dot(&pm), g.dot(&pinv))
}

/// Asymmetric GD from `(f0, g0)`; with `modify_below = Some(τ)` the one-step modification
/// [`rebalance`] is applied once, at the first iteration whose error is below τ.
pub fn run_asymmetric(
    s: &Sensing,
    target: &Array2<f64>,
    f0: Array2<f64>,
    g0: Array2<f64>,
    sched: Schedule,
    modify_below: Option<f64>,
) -> Trace {
    let Schedule { eta, max_steps, floor } = sched;
    let mut rec = Recorder::new(max_steps);
    let (mut f, mut g) = (f0, g0);
    let mut modified_at = None;
    let mut t = 0u64;
    loop {
        let mut p = f.dot(&g.t());
        let e = sq_err(&p, target);
        let stop = check(e, floor).or((t == max_steps).then_some(Stop::MaxSteps));
        rec.record(t, e, stop.is_some());
        if let Some(stop) = stop {
            common::counters::add_grads(t);
            return rec.finish(t, stop, modified_at);
        }
        if let Some(tau) = modify_below
            && modified_at.is_none()
            && e < tau
        {
            (f, g) = rebalance(&f, &g);
            p = f.dot(&g.t());
            modified_at = Some(t);
        }
        let r = s.residual(&p);
        let f_new = &f - &(r.dot(&g) * eta);
        g = &g - &(r.t().dot(&f) * eta);
        f = f_new;
        t += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{OpKind, psd_target};
    use common::rng::{Seed, gaussian_mat};

    #[test]
    fn recorder_keeps_both_grids_and_the_end() {
        let mut r = Recorder::new(40_000);
        for t in 0..=40_000u64 {
            r.record(t, 1.0 / (1.0 + t as f64), t == 40_000);
        }
        let tr = r.finish(40_000, Stop::MaxSteps, None);
        assert_eq!(tr.t[0], 0);
        assert_eq!(*tr.t.last().unwrap(), 40_000);
        assert!(tr.t.windows(2).all(|w| w[0] < w[1]));
        assert!(tr.t.contains(&1) && tr.t.contains(&2) && tr.t.contains(&10));
        assert!(tr.t.contains(&39_990));
        assert_eq!(tr.at(15), 1.0 / 16.0);
    }

    #[test]
    fn rebalance_keeps_the_product_and_equalises_f() {
        let mut rng = Seed(3).rng();
        let f = gaussian_mat(&mut rng, 9, 4, 0.3);
        let g = gaussian_mat(&mut rng, 9, 4, 0.1);
        let (f2, g2) = rebalance(&f, &g);
        let p = f.dot(&g.t());
        assert!((&f2.dot(&g2.t()) - &p).iter().all(|x| x.abs() < 1e-12));
        let beta2 = common::linalg::singular_values(&p)[0];
        let sv = common::linalg::singular_values(&f2);
        assert!(sv.iter().all(|s| (s * s - beta2).abs() < 1e-10 * beta2), "{sv}");
    }

    #[test]
    fn identity_symmetric_gd_matches_the_scalar_recursion() {
        // With A = I and X0 = [√μ0 e_1] on a direction orthogonal to M*, XXᵀ stays rank one and its
        // eigenvalue follows μ ← μ(1 − ημ)² exactly.
        let n = 6;
        let target = Array2::<f64>::zeros((n, n));
        let s = Sensing::identity(&target);
        let mut x0 = Array2::<f64>::zeros((n, 1));
        x0[[2, 0]] = 0.4f64.sqrt();
        let tr = run_symmetric(&s, &target, x0, Schedule { eta: 0.05, max_steps: 300, floor: 0.0 });
        let mut mu = 0.4;
        for _ in 0..300 {
            mu = crate::theory::redundant_step(mu, 0.05);
        }
        assert!((tr.last().sqrt() - mu).abs() < 1e-14, "{} vs {mu}", tr.last().sqrt());
        assert_eq!(tr.stop, Stop::MaxSteps);
    }

    #[test]
    fn exact_parameterisation_converges_and_divergence_is_recorded() {
        let n = 8;
        let target = psd_target(n, &[1.0, 0.5], Seed(1));
        let s = Sensing::gaussian(OpKind::Symmetric, &target, 400, 0.0, Seed(2));
        let x0 = gaussian_mat(&mut Seed(3).rng(), n, 2, 0.1);
        let tr = run_symmetric(&s, &target, x0.clone(), Schedule { eta: 0.05, max_steps: 4000, floor: 1e-20 });
        assert_eq!(tr.stop, Stop::Floor, "last {}", tr.last());
        let tr = run_symmetric(&s, &target, x0 * 30.0, Schedule { eta: 0.5, max_steps: 100, floor: 1e-20 });
        assert_eq!(tr.stop, Stop::Diverged);
    }
}
