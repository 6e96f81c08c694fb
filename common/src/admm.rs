//! ADMM with a cached factorization (factor once, solve per iteration) and primal/dual residual
//! stopping; the proximal maps come from [`crate::prox`].
//!
//! The problem is the consensus form of Boyd et al., *Distributed Optimization and Statistical
//! Learning via the Alternating Direction Method of Multipliers* (2011), §3 with `B = −I, c = 0`:
//!
//! ```text
//! minimize ½ xᵀPx + qᵀx + g(z)   subject to   A x = z,
//! ```
//!
//! `x ∈ Rⁿ`, `z ∈ Rᵐ`, `P ⪰ 0`, `g` closed convex with a cheap prox (a sum of group norms,
//! indicators of cones, separable losses, ...). With the scaled dual `u` and penalty `ρ`, one
//! iteration (§3.1.1, over-relaxed as in §3.4.3 with `α ∈ (0, 2)`) is
//!
//! ```text
//! x⁺ = (P + ρAᵀA)⁻¹ (−q + ρAᵀ(z − u))          one solve with the cached factorization
//! â  = α A x⁺ + (1 − α) z
//! z⁺ = prox_{g/ρ}(â + u)
//! u⁺ = u + â − z⁺
//! ```
//!
//! The matrix `P + ρAᵀA` never changes (ρ is fixed), so it is factored once ([`DenseKkt`], a dense
//! Cholesky) or handed over by the caller in any structured form ([`KktSolve`]); each iteration is
//! then one solve plus two products with `A`. Stopping (§3.3.1): the primal residual
//! `r = A x − z` and the dual residual `s = ρ Aᵀ(z⁺ − z)` must satisfy
//! `‖r‖ ≤ √m ε_abs + ε_rel max(‖Ax‖, ‖z‖)` and `‖s‖ ≤ √n ε_abs + ε_rel ‖ρ Aᵀ u‖`.
//! The run always ends: converged, at the iteration cap, or at the first non-finite iterate
//! ([`Status`]); nothing here panics on numerical input.
use crate::linalg::{Cholesky, DenseError};
use ndarray::{Array2, ArrayView1, ArrayView2};

/// Why ADMM could not start.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AdmmError {
    /// A setting out of range (named in the message).
    #[error("admm: {0}")]
    BadSettings(String),
    /// The problem's pieces disagree in size.
    #[error("admm: dimension mismatch: {0}")]
    Dimension(String),
    /// `P + ρAᵀA` could not be factored (not positive definite, or not finite).
    #[error("admm: factorization failed: {0}")]
    Factorization(#[from] DenseError),
}

/// The settings of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Penalty ρ > 0 (fixed: the factorization is cached).
    pub rho: f64,
    /// Over-relaxation α ∈ (0, 2); 1 is plain ADMM.
    pub alpha: f64,
    /// Absolute tolerance ε_abs ≥ 0.
    pub eps_abs: f64,
    /// Relative tolerance ε_rel ≥ 0.
    pub eps_rel: f64,
    /// Iteration cap (≥ 1).
    pub max_iter: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { rho: 1.0, alpha: 1.0, eps_abs: 1e-8, eps_rel: 1e-8, max_iter: 10_000 }
    }
}

impl Settings {
    /// Refuses settings out of range (one line naming what is accepted).
    pub fn check(&self) -> Result<(), AdmmError> {
        let bad = |s: String| Err(AdmmError::BadSettings(s));
        if !(self.rho.is_finite() && self.rho > 0.0) {
            return bad(format!("rho must be finite and > 0, got {}", self.rho));
        }
        if !(self.alpha > 0.0 && self.alpha < 2.0) {
            return bad(format!("alpha (over-relaxation) must lie in (0, 2), got {}", self.alpha));
        }
        if !(self.eps_abs.is_finite() && self.eps_abs >= 0.0 && self.eps_rel.is_finite() && self.eps_rel >= 0.0) {
            return bad(format!(
                "eps_abs and eps_rel must be finite and >= 0, got {} and {}",
                self.eps_abs, self.eps_rel
            ));
        }
        if self.max_iter == 0 {
            return bad("max_iter must be >= 1".into());
        }
        Ok(())
    }
}

/// The problem: sizes, the products with `A`, the linear term and the prox of `g`.
/// (`P` enters only through the cached system `P + ρAᵀA`, see [`KktSolve`].)
pub trait Problem {
    /// Size of `x`.
    fn n(&self) -> usize;
    /// Size of `z` (rows of `A`).
    fn m(&self) -> usize;
    /// `out ← A x`.
    fn apply_a(&self, x: &[f64], out: &mut [f64]);
    /// `out ← Aᵀ z`.
    fn apply_at(&self, z: &[f64], out: &mut [f64]);
    /// The linear term `q` (length n).
    fn q(&self) -> &[f64];
    /// `v ← prox_{g/ρ}(v) = argmin_z g(z) + (ρ/2)‖z − v‖²`.
    fn prox_g(&self, v: &mut [f64], rho: f64);
}

/// Solves with the cached `P + ρAᵀA` (factored once, before the iterations).
pub trait KktSolve {
    /// Size of the system.
    fn dim(&self) -> usize;
    /// `rhs ← (P + ρAᵀA)⁻¹ rhs`.
    fn solve_in_place(&self, rhs: &mut [f64]);
}

/// A dense Cholesky of `P + ρAᵀA`: `O(n³/3)` once, `O(2n²)` per solve.
#[derive(Clone, Debug)]
pub struct DenseKkt {
    chol: Cholesky,
}

impl DenseKkt {
    /// Factor a given symmetric positive-definite matrix (its lower triangle is read).
    pub fn factor(m: ArrayView2<f64>) -> Result<Self, AdmmError> {
        if m.nrows() != m.ncols() {
            return Err(AdmmError::Dimension(format!("the system must be square, got {:?}", m.dim())));
        }
        Ok(DenseKkt { chol: Cholesky::new(m)? })
    }

    /// Form `P + ρAᵀA` from dense `P` (absent: zero) and `A`, and factor it.
    pub fn build(p: Option<ArrayView2<f64>>, a: ArrayView2<f64>, rho: f64) -> Result<Self, AdmmError> {
        let n = a.ncols();
        let mut m: Array2<f64> = a.t().dot(&a) * rho;
        if let Some(p) = p {
            if p.dim() != (n, n) {
                return Err(AdmmError::Dimension(format!("P is {:?}, A has {n} columns", p.dim())));
            }
            m += &p;
        }
        Self::factor(m.view())
    }
}

impl KktSolve for DenseKkt {
    fn dim(&self) -> usize {
        self.chol.dim()
    }
    fn solve_in_place(&self, rhs: &mut [f64]) {
        let x = self.chol.solve(ArrayView1::from(&*rhs));
        rhs.iter_mut().zip(x.iter()).for_each(|(r, v)| *r = *v);
    }
}

/// A problem given by a dense `A`, a linear term and a prox closure (tests, small problems).
pub struct DenseProblem<F: Fn(&mut [f64], f64)> {
    /// The constraint matrix (m × n).
    pub a: Array2<f64>,
    /// The linear term (length n).
    pub q: Vec<f64>,
    /// `prox_{g/ρ}` in place.
    pub prox: F,
}

impl<F: Fn(&mut [f64], f64)> Problem for DenseProblem<F> {
    fn n(&self) -> usize {
        self.a.ncols()
    }
    fn m(&self) -> usize {
        self.a.nrows()
    }
    fn apply_a(&self, x: &[f64], out: &mut [f64]) {
        let y = self.a.dot(&ArrayView1::from(x));
        out.copy_from_slice(y.as_slice().expect("contiguous"));
    }
    fn apply_at(&self, z: &[f64], out: &mut [f64]) {
        let y = self.a.t().dot(&ArrayView1::from(z));
        out.copy_from_slice(y.as_slice().expect("contiguous"));
    }
    fn q(&self) -> &[f64] {
        &self.q
    }
    fn prox_g(&self, v: &mut [f64], rho: f64) {
        (self.prox)(v, rho)
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Both residuals within their tolerances.
    Converged,
    /// The iteration cap was reached first.
    MaxIter,
    /// An iterate turned non-finite (the last finite state is returned).
    NonFinite,
    /// The observer asked to stop.
    Stopped,
}

/// The residuals of one iteration and their tolerances (§3.3.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Residuals {
    /// ‖A x − z‖.
    pub primal: f64,
    /// ‖ρ Aᵀ(z⁺ − z)‖.
    pub dual: f64,
    /// √m ε_abs + ε_rel max(‖Ax‖, ‖z‖).
    pub eps_primal: f64,
    /// √n ε_abs + ε_rel ‖ρ Aᵀ u‖.
    pub eps_dual: f64,
}

/// What a run returns.
#[derive(Clone, Debug)]
pub struct Run {
    /// The last finite iterate.
    pub x: Vec<f64>,
    /// Its split copy `z`.
    pub z: Vec<f64>,
    /// The scaled dual `u` (the multiplier of `Ax = z` is `ρ u`).
    pub u: Vec<f64>,
    /// How the run ended.
    pub status: Status,
    /// Iterations performed.
    pub iters: usize,
    /// The residuals of every iteration.
    pub history: Vec<Residuals>,
}

/// What the observer tells the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now (status [`Status::Stopped`]).
    Stop,
}

/// A starting point (`x`, `z`, scaled `u`); zeros by default.
#[derive(Clone, Debug, Default)]
pub struct Start {
    /// Initial `z` (length m); zero if absent.
    pub z: Option<Vec<f64>>,
    /// Initial scaled dual `u` (length m); zero if absent.
    pub u: Option<Vec<f64>>,
}

/// Run ADMM from zero, no observer.
pub fn solve(pb: &impl Problem, kkt: &impl KktSolve, s: &Settings) -> Result<Run, AdmmError> {
    solve_with(pb, kkt, s, Start::default(), |_, _, _| Control::Continue)
}

/// Run ADMM; `observe(k, x, z)` is called after every iteration `k` (1-based) with the new
/// iterate, before the stopping test, and may stop the run.
pub fn solve_with(
    pb: &impl Problem,
    kkt: &impl KktSolve,
    s: &Settings,
    start: Start,
    mut observe: impl FnMut(usize, &[f64], &[f64]) -> Control,
) -> Result<Run, AdmmError> {
    s.check()?;
    let (n, m) = (pb.n(), pb.m());
    if kkt.dim() != n || pb.q().len() != n {
        return Err(AdmmError::Dimension(format!(
            "x has {n} entries, the system {} and q {}",
            kkt.dim(),
            pb.q().len()
        )));
    }
    let mut z = start.z.unwrap_or_else(|| vec![0.0; m]);
    let mut u = start.u.unwrap_or_else(|| vec![0.0; m]);
    if z.len() != m || u.len() != m {
        return Err(AdmmError::Dimension(format!("z and u need {m} entries, got {} and {}", z.len(), u.len())));
    }
    let (rho, alpha) = (s.rho, s.alpha);
    let mut x = vec![0.0; n];
    let (mut ax, mut zu, mut z_new) = (vec![0.0; m], vec![0.0; m], vec![0.0; m]);
    let mut tn = vec![0.0; n];
    let mut history = Vec::new();
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    for k in 1..=s.max_iter {
        // x-update: one solve with the cached factorization.
        zu.iter_mut().zip(z.iter().zip(&u)).for_each(|(w, (zi, ui))| *w = zi - ui);
        pb.apply_at(&zu, &mut tn);
        let mut x_new: Vec<f64> = tn.iter().zip(pb.q()).map(|(t, qi)| rho * t - qi).collect();
        kkt.solve_in_place(&mut x_new);
        pb.apply_a(&x_new, &mut ax);
        // z-update on the over-relaxed point, then the dual update.
        for i in 0..m {
            let relaxed = alpha * ax[i] + (1.0 - alpha) * z[i];
            zu[i] = relaxed;
            z_new[i] = relaxed + u[i];
        }
        pb.prox_g(&mut z_new, rho);
        let u_new: Vec<f64> = (0..m).map(|i| u[i] + zu[i] - z_new[i]).collect();
        let finite = x_new.iter().chain(&z_new).chain(&u_new).all(|v| v.is_finite());
        if !finite {
            return Ok(Run { x, z, u, status: Status::NonFinite, iters: k, history });
        }
        // Residuals (§3.3): r = Ax − z, s = ρAᵀ(z⁺ − z).
        let r: Vec<f64> = ax.iter().zip(&z_new).map(|(a, b)| a - b).collect();
        zu.iter_mut().zip(z_new.iter().zip(&z)).for_each(|(w, (a, b))| *w = rho * (a - b));
        pb.apply_at(&zu, &mut tn);
        let dual = norm(&tn);
        let rho_u: Vec<f64> = u_new.iter().map(|v| rho * v).collect();
        pb.apply_at(&rho_u, &mut tn);
        let res = Residuals {
            primal: norm(&r),
            dual,
            eps_primal: (m as f64).sqrt() * s.eps_abs + s.eps_rel * norm(&ax).max(norm(&z_new)),
            eps_dual: (n as f64).sqrt() * s.eps_abs + s.eps_rel * norm(&tn),
        };
        history.push(res);
        x = x_new;
        z.copy_from_slice(&z_new);
        u = u_new;
        if observe(k, &x, &z) == Control::Stop {
            return Ok(Run { x, z, u, status: Status::Stopped, iters: k, history });
        }
        if res.primal <= res.eps_primal && res.dual <= res.eps_dual {
            return Ok(Run { x, z, u, status: Status::Converged, iters: k, history });
        }
    }
    Ok(Run { x, z, u, status: Status::MaxIter, iters: s.max_iter, history })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prox::{project_nonneg, prox_group_l2_blocks, soft_threshold};
    use crate::rng::{Seed, gaussian_mat, gaussian_vec};
    use ndarray::{Array1, Array2};
    use proptest::prelude::*;

    /// Lasso `½‖Dx − b‖² + λ‖x‖₁` as ADMM: `A = I`, `P = DᵀD`, `q = −Dᵀb`, `g = λ‖·‖₁`.
    fn lasso(d: &Array2<f64>, b: &Array1<f64>, lam: f64, s: &Settings) -> Run {
        let n = d.ncols();
        let p = d.t().dot(d);
        let q: Vec<f64> = (-d.t().dot(b)).to_vec();
        let pb =
            DenseProblem { a: Array2::eye(n), q, prox: move |v: &mut [f64], rho: f64| soft_threshold(v, lam / rho) };
        let kkt = DenseKkt::build(Some(p.view()), pb.a.view(), s.rho).unwrap();
        solve(&pb, &kkt, s).unwrap()
    }

    fn tight() -> Settings {
        Settings { eps_abs: 1e-10, eps_rel: 1e-10, max_iter: 20_000, ..Settings::default() }
    }

    /// Orthonormal columns: the lasso solution is `soft(Dᵀb, λ)` in closed form.
    #[test]
    fn lasso_matches_the_closed_form_for_orthonormal_design() {
        let mut rng = Seed(1).rng();
        let (q, _) = crate::linalg::qr(&gaussian_mat(&mut rng, 12, 5, 1.0));
        let b = gaussian_vec(&mut rng, 12, 1.0);
        let lam = 0.3;
        let mut want = q.t().dot(&b).to_vec();
        soft_threshold(&mut want, lam);
        for alpha in [1.0, 1.6] {
            let run = lasso(&q, &b, lam, &Settings { alpha, ..tight() });
            assert_eq!(run.status, Status::Converged);
            for (a, w) in run.z.iter().zip(&want) {
                assert!((a - w).abs() < 1e-8, "alpha {alpha}: {:?} vs {want:?}", run.z);
            }
        }
    }

    /// Non-negative least squares: the KKT conditions `x ≥ 0`, `∇ ≥ 0`, `xᵢ∇ᵢ = 0`.
    #[test]
    fn nonneg_least_squares_satisfies_kkt() {
        let mut rng = Seed(2).rng();
        let d = gaussian_mat(&mut rng, 20, 8, 1.0);
        let b = gaussian_vec(&mut rng, 20, 1.0);
        let pb = DenseProblem {
            a: Array2::eye(8),
            q: (-d.t().dot(&b)).to_vec(),
            prox: |v: &mut [f64], _rho: f64| project_nonneg(v),
        };
        let s = tight();
        let kkt = DenseKkt::build(Some(d.t().dot(&d).view()), pb.a.view(), s.rho).unwrap();
        let run = solve(&pb, &kkt, &s).unwrap();
        assert_eq!(run.status, Status::Converged);
        let x = Array1::from(run.z.clone());
        let grad = d.t().dot(&(d.dot(&x) - &b));
        assert!(x.iter().filter(|v| **v > 0.0).count() < 8, "the test wants an active constraint");
        for (xi, gi) in x.iter().zip(grad.iter()) {
            assert!(*xi >= 0.0 && *gi > -1e-7 && (xi * gi).abs() < 1e-7, "x {xi} grad {gi}");
        }
    }

    /// Group lasso through a stacked `A = [I; I]` with a nonnegativity copy: the prox of a sum on
    /// split variables, checked against the optimality of the group-lasso solution.
    #[test]
    fn group_lasso_with_stacked_constraints_satisfies_optimality() {
        let mut rng = Seed(3).rng();
        let (n, g, lam) = (9, 3, 0.5);
        let d = gaussian_mat(&mut rng, 15, n, 1.0);
        let b = gaussian_vec(&mut rng, 15, 2.0);
        let mut a = Array2::zeros((2 * n, n));
        for i in 0..n {
            a[[i, i]] = 1.0;
            a[[n + i, i]] = 1.0;
        }
        // g(z) = λ Σ‖z₁,block‖ + 0·(z₂ unconstrained): the second copy is free (prox = identity).
        let pb = DenseProblem {
            a,
            q: (-d.t().dot(&b)).to_vec(),
            prox: move |v: &mut [f64], rho: f64| prox_group_l2_blocks(&mut v[..n], g, lam / rho),
        };
        let s = tight();
        let kkt = DenseKkt::build(Some(d.t().dot(&d).view()), pb.a.view(), s.rho).unwrap();
        let run = solve(&pb, &kkt, &s).unwrap();
        assert_eq!(run.status, Status::Converged);
        let x = Array1::from(run.x.clone());
        let grad = d.t().dot(&(d.dot(&x) - &b));
        for blk in 0..n / g {
            let xs = x.slice(ndarray::s![blk * g..(blk + 1) * g]);
            let gs = grad.slice(ndarray::s![blk * g..(blk + 1) * g]);
            let nx = xs.dot(&xs).sqrt();
            if nx > 1e-9 {
                for j in 0..g {
                    assert!((gs[j] + lam * xs[j] / nx).abs() < 1e-6, "block {blk}");
                }
            } else {
                assert!(gs.dot(&gs).sqrt() <= lam + 1e-6);
            }
        }
    }

    #[test]
    fn the_run_always_ends_with_a_typed_outcome() {
        let mut rng = Seed(4).rng();
        let d = gaussian_mat(&mut rng, 10, 4, 1.0);
        let b = gaussian_vec(&mut rng, 10, 1.0);
        // the cap
        let run = lasso(&d, &b, 0.1, &Settings { max_iter: 3, ..tight() });
        assert_eq!((run.status, run.iters, run.history.len()), (Status::MaxIter, 3, 3));
        // bad settings
        for bad in [
            Settings { rho: 0.0, ..tight() },
            Settings { rho: f64::NAN, ..tight() },
            Settings { alpha: 2.0, ..tight() },
            Settings { eps_abs: -1.0, ..tight() },
            Settings { max_iter: 0, ..tight() },
        ] {
            let pb = DenseProblem { a: Array2::eye(2), q: vec![0.0; 2], prox: |_: &mut [f64], _: f64| {} };
            let kkt = DenseKkt::build(None, pb.a.view(), 1.0).unwrap();
            assert!(matches!(solve(&pb, &kkt, &bad), Err(AdmmError::BadSettings(_))), "{bad:?}");
        }
        // a singular system (A rank deficient, P absent) and a NaN one
        let a = Array2::from_shape_vec((1, 2), vec![1.0, 1.0]).unwrap();
        assert!(matches!(DenseKkt::build(None, a.view(), 1.0), Err(AdmmError::Factorization(_))));
        let nan = Array2::from_elem((2, 2), f64::NAN);
        assert!(matches!(DenseKkt::factor(nan.view()), Err(AdmmError::Factorization(_))));
        // dimensions
        let pb = DenseProblem { a: Array2::eye(3), q: vec![0.0; 2], prox: |_: &mut [f64], _: f64| {} };
        let kkt = DenseKkt::build(None, pb.a.view(), 1.0).unwrap();
        assert!(matches!(solve(&pb, &kkt, &Settings::default()), Err(AdmmError::Dimension(_))));
        // a non-finite linear term: stops at once with the last finite (zero) state
        let pb = DenseProblem { a: Array2::eye(2), q: vec![f64::NAN, 0.0], prox: |_: &mut [f64], _: f64| {} };
        let kkt = DenseKkt::build(None, pb.a.view(), 1.0).unwrap();
        let run = solve(&pb, &kkt, &Settings::default()).unwrap();
        assert_eq!(run.status, Status::NonFinite);
        assert!(run.x.iter().all(|v| *v == 0.0));
        // the observer stops
        let pb = DenseProblem { a: Array2::eye(2), q: vec![1.0, 0.0], prox: |_: &mut [f64], _: f64| {} };
        let run = solve_with(&pb, &kkt, &Settings::default(), Start::default(), |k, _, _| {
            if k == 2 { Control::Stop } else { Control::Continue }
        })
        .unwrap();
        assert_eq!((run.status, run.iters), (Status::Stopped, 2));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// On random well-posed lasso problems (full column rank design), ADMM stops with both
        /// residuals within the §3.3 tolerances, the combined residual falls by orders of
        /// magnitude, and the answer satisfies the lasso's KKT conditions.
        #[test]
        fn residuals_reach_tolerance_on_random_lasso(seed in 0u64..10_000, n in 2usize..8, lam in 0.01..1.0f64,
                                                     rho in 0.3..3.0f64, alpha in 1.0..1.8f64) {
            let mut rng = Seed(seed).rng();
            let d = gaussian_mat(&mut rng, 3 * n, n, 1.0);
            let b = gaussian_vec(&mut rng, 3 * n, 1.0);
            let s = Settings { rho, alpha, eps_abs: 1e-9, eps_rel: 1e-9, max_iter: 50_000 };
            let run = lasso(&d, &b, lam, &s);
            prop_assert_eq!(run.status, Status::Converged);
            let last = run.history.last().unwrap();
            prop_assert!(last.primal <= last.eps_primal && last.dual <= last.eps_dual);
            let first = run.history[0].primal + run.history[0].dual;
            prop_assert!(last.primal + last.dual < 1e-3 * first.max(1e-12));
            let x = Array1::from(run.z.clone());
            let grad = d.t().dot(&(d.dot(&x) - &b));
            for (xi, gi) in x.iter().zip(grad.iter()) {
                if *xi != 0.0 {
                    prop_assert!((gi + lam * xi.signum()).abs() < 1e-5, "{} {}", gi, xi);
                } else {
                    prop_assert!(gi.abs() <= lam + 1e-5);
                }
            }
        }
    }
}
