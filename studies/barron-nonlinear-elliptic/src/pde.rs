//! The nonlinear elliptic problem on the torus `[0, 2π)^d` and the two descent methods, all in
//! Fourier coefficients (`common::spectral`: `u = Σ c_k e^{ik·x}`, norms over the normalized
//! measure).
//!
//! Energy `E(u) = mean( ½|∇u|² + ½u² + α Σ_i φ(∂_i u) − f u )` with `φ = log cosh` (the study's
//! problem: `0 ≤ φ'' ≤ 1`, so in H¹ the energy is `λ = 1` strongly convex and `Λ = 1 + α` smooth)
//! or `φ(p) = p⁴/4` (the quartic variant, a polynomial of degree `p = 3` in the gradient: used only
//! for the bandwidth check). Its L² gradient (the Euler–Lagrange residual) is
//! `DE(u) = −Δu + u − α Σ_i ∂_i φ'(∂_i u) − f`.
//!
//! - Preconditioned GD: `u ← u − η (I − Δ)^{−1} DE(u)`, `η = 2/(λ + Λ)`: contraction
//!   `(Λ − λ)/(Λ + λ)` per step in H¹, whatever the mesh.
//! - Plain GD: `u ← u − η DE(u)`, `η = 2/(1 + L_N)`, `L_N = 1 + (1 + α) d N²/4` the largest
//!   eigenvalue bound of the discrete Hessian (the spectral `−Δ` reaches `d (N/2)²`).
//!
//! Odd derivatives zero the Nyquist mode (as `common::spectral` does); the Laplacian keeps it.

use common::spectral::{C64, Domain, Grid};
use serde::{Deserialize, Serialize};

/// The pointwise nonlinearity φ of the gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Nonlinearity {
    /// `φ(p) = log cosh p`, `φ' = tanh`: convex with `0 ≤ φ'' ≤ 1`.
    LogCosh,
    /// `φ(p) = p⁴/4`, `φ' = p³`: a cubic in the gradient (bandwidth grows ×3 per step).
    Quartic,
}

impl Nonlinearity {
    fn deriv(self, p: f64) -> f64 {
        match self {
            Nonlinearity::LogCosh => p.tanh(),
            Nonlinearity::Quartic => p * p * p,
        }
    }
}

/// One cosine mode of the forcing: `amp · cos(k·x + phase)` with integer `k`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForcingMode {
    /// Integer wavenumber (d entries).
    pub k: Vec<i64>,
    /// Amplitude.
    pub amp: f64,
    /// Phase.
    pub phase: f64,
}

/// `n_modes` distinct random cosine modes with `0 < |k|₂ ≤ kmax` (one of each ±k pair), amplitude
/// `amp · U[0.5, 1.5]`, phase `U[0, 2π)`.
pub fn random_forcing(
    d: usize,
    n_modes: usize,
    kmax: usize,
    amp: f64,
    rng: &mut common::rng::StudyRng,
) -> Vec<ForcingMode> {
    use rand::Rng;
    let km = kmax as i64;
    let mut cand: Vec<Vec<i64>> = vec![];
    let mut push = |k: Vec<i64>| {
        let r2: i64 = k.iter().map(|v| v * v).sum();
        // one of each ±k pair: the first nonzero entry positive
        let first = k.iter().find(|v| **v != 0).copied().unwrap_or(0);
        if r2 > 0 && r2 <= km * km && first > 0 {
            cand.push(k);
        }
    };
    if d == 1 {
        (-km..=km).for_each(|a| push(vec![a]));
    } else {
        for a in -km..=km {
            for b in -km..=km {
                push(vec![a, b]);
            }
        }
    }
    let mut out = vec![];
    for _ in 0..n_modes.min(cand.len()) {
        let i = rng.random_range(0..cand.len());
        let k = cand.swap_remove(i);
        let a = amp * rng.random_range(0.5..1.5);
        let phase = rng.random_range(0.0..2.0 * std::f64::consts::PI);
        out.push(ForcingMode { k, amp: a, phase });
    }
    out
}

/// The problem on one grid: the operators' symbols and the forcing's coefficients.
pub struct Problem {
    /// The grid (`[0, 2π)^d`).
    pub grid: Grid,
    /// Strength α of the nonlinear term.
    pub alpha: f64,
    /// φ.
    pub nonlin: Nonlinearity,
    /// Coefficients of f.
    pub f: Vec<C64>,
    /// `|k|²` per coefficient.
    pub k2: Vec<f64>,
    /// `i k_a` (Nyquist zeroed) per axis, per coefficient.
    ik: Vec<Vec<C64>>,
}

impl Problem {
    /// The problem on an `N^d` grid with forcing `modes`.
    pub fn new(d: usize, n: usize, alpha: f64, nonlin: Nonlinearity, modes: &[ForcingMode]) -> Problem {
        let grid = Grid::new(&vec![n; d], Domain::TwoPi);
        let k2 = grid.k2();
        let ik = (0..d)
            .map(|a| {
                let mut ones = vec![C64::new(1.0, 0.0); grid.len()];
                grid.deriv_coeffs(&mut ones, a, 1);
                ones
            })
            .collect();
        let mut f = vec![C64::new(0.0, 0.0); grid.len()];
        for m in modes {
            // amp cos(k·x + φ) = (amp/2) e^{iφ} e^{ik·x} + conj.
            let pos: Vec<usize> = m.k.iter().map(|&v| v.rem_euclid(n as i64) as usize).collect();
            let neg: Vec<usize> = m.k.iter().map(|&v| (-v).rem_euclid(n as i64) as usize).collect();
            f[grid.flat_index(&pos)] += C64::from_polar(0.5 * m.amp, m.phase);
            f[grid.flat_index(&neg)] += C64::from_polar(0.5 * m.amp, -m.phase);
        }
        Problem { grid, alpha, nonlin, f, k2, ik }
    }

    /// The coefficients of `DE(u) = (I − Δ)u − α Σ_i ∂_i φ'(∂_i u) − f`.
    pub fn gradient(&self, c: &[C64]) -> Vec<C64> {
        let mut g: Vec<C64> = c.iter().zip(&self.k2).zip(&self.f).map(|((ci, k2), fi)| ci * (1.0 + k2) - fi).collect();
        if self.alpha != 0.0 {
            for ik in &self.ik {
                let du: Vec<C64> = c.iter().zip(ik).map(|(a, b)| a * b).collect();
                let vals: Vec<f64> = self.grid.to_values(&du).into_iter().map(|p| self.nonlin.deriv(p)).collect();
                let t = self.grid.to_coeffs(&vals);
                for ((gi, ti), iki) in g.iter_mut().zip(&t).zip(ik) {
                    *gi -= self.alpha * iki * ti;
                }
            }
        }
        g
    }

    /// The preconditioned step's direction `(I − Δ)^{−1} g`.
    pub fn precondition(&self, g: &[C64]) -> Vec<C64> {
        g.iter().zip(&self.k2).map(|(gi, k2)| gi / (1.0 + k2)).collect()
    }

    /// `L_N = 1 + (1 + α) d N²/4`: the bound on the discrete Hessian's largest eigenvalue.
    pub fn l_max(&self) -> f64 {
        let n = self.grid.dims()[0] as f64;
        1.0 + (1.0 + self.alpha) * self.grid.d() as f64 * n * n / 4.0
    }
}

/// Which descent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `u ← u − η (I − Δ)^{−1} DE(u)`.
    Preconditioned,
    /// `u ← u − η DE(u)`.
    Plain,
    /// A planted bug for the tests: `u ← u − η (I − Δ)^{−1/2} DE(u)` (half the preconditioner:
    /// the condition number grows like N).
    HalfPreconditioned,
}

/// What one run records, per iterate `t = 0..=iters`.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// `‖DE(u_t)‖_{H^{−1}}` (the residual in the dual norm, the same for both methods).
    pub residual: Vec<f64>,
    /// `‖u_{t+1} − u_t‖_{H¹}` (`iters` entries).
    pub step_h1: Vec<f64>,
    /// Fourier ℓ1 norm `B0(u_t) = Σ|c_k|`.
    pub b0: Vec<f64>,
    /// Weighted norm `B1(u_t) = Σ(1 + |k|)|c_k|`.
    pub b1: Vec<f64>,
    /// ℓ∞ integer bandwidth of `u_t` (coefficients above `1e-11 · max|c|`).
    pub bandwidth: Vec<i64>,
}

/// Relative threshold below which a coefficient counts as zero for the bandwidth.
pub const BANDWIDTH_TOL: f64 = 1e-11;

/// `iters` steps of `method` with step `eta` from `u_0 = 0`; `barron` also records the norms and
/// the bandwidth of every iterate. Returns the last iterate's coefficients. Stops early (the
/// trace is shorter) if the residual stops being finite.
pub fn descend(p: &Problem, method: Method, eta: f64, iters: usize, barron: bool) -> (Vec<C64>, Trace) {
    descend_from(p, vec![C64::new(0.0, 0.0); p.grid.len()], method, eta, iters, barron)
}

/// [`descend`] from the coefficients `c0`.
pub fn descend_from(
    p: &Problem,
    c0: Vec<C64>,
    method: Method,
    eta: f64,
    iters: usize,
    barron: bool,
) -> (Vec<C64>, Trace) {
    let mut c = c0;
    let mut tr = Trace::default();
    for t in 0..=iters {
        if barron {
            record_barron(p, &c, &mut tr);
        }
        let g = p.gradient(&c);
        let r = p.grid.hm1_norm(&g);
        tr.residual.push(r);
        if t == iters || !r.is_finite() {
            break;
        }
        let dir = match method {
            Method::Preconditioned => p.precondition(&g),
            Method::Plain => g,
            Method::HalfPreconditioned => g.iter().zip(&p.k2).map(|(gi, k2)| gi / (1.0 + k2).sqrt()).collect(),
        };
        tr.step_h1.push(eta * p.grid.h1_norm(&dir));
        c.iter_mut().zip(&dir).for_each(|(ci, di)| *ci -= eta * di);
    }
    (c, tr)
}

fn record_barron(p: &Problem, c: &[C64], tr: &mut Trace) {
    tr.b0.push(p.grid.fourier_l1(c));
    tr.b1.push(p.grid.barron_norm(c, 1.0));
    let top = c.iter().map(|v| v.norm()).fold(0.0, f64::max);
    tr.bandwidth.push(if top > 0.0 { p.grid.bandwidth(c, BANDWIDTH_TOL * top) } else { 0 });
}

/// The fitted contraction factor of `v_t` over `t ∈ [from, to]`, cut where `v_t / v_0` falls
/// below `1e-11` (the round-off floor); NaN with fewer than three usable points.
pub fn fitted_rate(v: &[f64], from: usize, to: usize) -> f64 {
    let v0 = v.first().copied().unwrap_or(f64::NAN);
    let ts: Vec<usize> = (from..=to.min(v.len().saturating_sub(1))).take_while(|&t| v[t] > 1e-11 * v0).collect();
    if ts.len() < 3 {
        return f64::NAN;
    }
    let x: Vec<f64> = ts.iter().map(|&t| t as f64).collect();
    let y: Vec<f64> = ts.iter().map(|&t| v[t]).collect();
    common::stats::linear_rate(&x, &y).rate
}

/// The first `t` with `residual_t ≤ tol · residual_0`, if any.
pub fn iterations_to(residual: &[f64], tol: f64) -> Option<usize> {
    let r0 = *residual.first()?;
    residual.iter().position(|&r| r <= tol * r0)
}

/// The iterations to reach `tol` (relative), extrapolated past the end of a run that has not
/// reached it: `T + ln(tol r_0 / r_T) / ln ρ` with ρ the rate over the second half.
pub fn iterations_extrapolated(residual: &[f64], tol: f64) -> (f64, f64) {
    let t_end = residual.len() - 1;
    let rate = fitted_rate(residual, t_end / 2, t_end);
    if let Some(t) = iterations_to(residual, tol) {
        return (t as f64, rate);
    }
    let extra = (tol * residual[0] / residual[t_end]).ln() / rate.ln();
    (t_end as f64 + extra, rate)
}
