//! Holomorphic EP's finite-nudge estimate of dr*/dβ|₀ (Sec. 3 of the paper; `du_dbeta` of
//! `models/dyn.py`): N nudged fixed points at β_k = |β| e^{2πik/N},
//!   N = 1: (r(β) − r(0)) / β (one-sided, the classic EP estimate),
//!   N ≥ 2: (1/N) Σ_k r(β_k) / β_k (the N-point trapezoidal rule of the Cauchy integral).
//! With r(β) = Σ_j a_j β^j the N ≥ 2 rule returns a₁ + a_{1+N}|β|^N + a_{1+2N}|β|^{2N} + …: the
//! constant a₀ = r(0) cancels without being subtracted and the aliasing error is O(|β|^N).
use crate::field::norm;
use crate::net::{Sample, sigma};
use num_complex::Complex64;

/// A deliberate bug for the planted-bug tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// The estimator as written above.
    None,
    /// N = 1 without subtracting r(0).
    NoSubtraction,
    /// N ≥ 2 on real nudges (all phases 0: the "Cauchy" average of r(|β|)/|β|).
    RealPhases,
}

/// The estimate of dr*/dβ|₀ from N nudged phases of radius `radius`, warm-started at the free
/// fixed point `u0`; `iters` plain iterations then Newton to `tol`. Also returns the largest
/// residual of the nudged fixed points.
pub fn estimate(
    s: &Sample,
    u0: &[f64],
    n_phases: usize,
    radius: f64,
    iters: usize,
    tol: f64,
    bug: Bug,
) -> (Vec<f64>, f64) {
    let n = u0.len();
    let uc: Vec<Complex64> = u0.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    let r0: Vec<f64> = u0.iter().map(|&v| sigma(v)).collect();
    let mut acc = vec![Complex64::new(0.0, 0.0); n];
    let mut worst: f64 = 0.0;
    for k in 0..n_phases {
        let phase = if bug == Bug::RealPhases { 0.0 } else { 2.0 * std::f64::consts::PI * k as f64 / n_phases as f64 };
        let beta = Complex64::from_polar(radius, phase);
        let (u, res) = s.fixed_point(&uc, beta, iters, tol);
        worst = worst.max(res);
        for i in 0..n {
            let mut r = sigma(u[i]);
            if n_phases == 1 && bug != Bug::NoSubtraction {
                r -= r0[i];
            }
            acc[i] += r / beta;
        }
    }
    (acc.iter().map(|z| z.re / n_phases as f64).collect(), worst)
}

/// Relative error ‖est − exact‖ / ‖exact‖.
pub fn rel_err(est: &[f64], exact: &[f64]) -> f64 {
    let d: Vec<f64> = est.iter().zip(exact).map(|(a, b)| a - b).collect();
    norm(&d) / norm(exact)
}
