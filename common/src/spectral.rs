//! Spectral methods on periodic grids: FFTs (through `rustfft`, plans cached process-wide) on 1-D
//! and 2-D grids of the torus, real-input helpers, spectral derivatives, the Laplacian,
//! `(I − Δ)^{-1}`, Sobolev norms and the Fourier ℓ1 (spectral Barron) norm.
//!
//! # Conventions
//! - **Domain.** The torus `[0, L)^d`, `d ∈ {1, 2}`, with [`Domain::TwoPi`] (`L = 2π`: the
//!   wavenumbers are the integers) or [`Domain::Unit`] (`L = 1`: the wavenumbers are `2π` times
//!   the integers). Every derivative, Laplacian and norm below uses the physical wavenumber
//!   `k = (2π/L)·n`, `n` the integer index.
//! - **Grid.** `N_a` points on axis `a`, `x_j = L j / N_a`; values are stored row-major (axis 0
//!   slowest): the flat index of `(j0, j1)` is `j0·N_1 + j1`.
//! - **Coefficients.** `c_n = (1/N^d) Σ_j u_j e^{−i k_n·x_j}`, so that `u_j = Σ_n c_n e^{i k_n·x_j}`:
//!   the Fourier-series coefficients of the trigonometric interpolant, stored in FFT order
//!   (`n = 0, 1, …, ⌈N/2⌉ − 1, −⌊N/2⌋, …, −1` on each axis). [`Grid::fft`] / [`Grid::ifft`] are the
//!   raw transforms (forward unnormalized, inverse with `1/N^d`, so `ifft(fft(u)) = u`);
//!   [`Grid::to_coeffs`] / [`Grid::to_values`] are the real-input helpers in the normalized form.
//! - **Norms** are with respect to the normalized (probability) measure of the torus:
//!   `‖u‖² = L^{−d} ∫ |u|² = mean_j |u_j|² = Σ_n |c_n|²` (Parseval), `‖u‖²_{H^s} = Σ (1 + |k|²)^s |c_n|²`.
//! - **Nyquist.** For even `N` the mode `n = −N/2` has no real odd derivative: odd derivatives
//!   zero it (the usual choice), even ones keep it (the Laplacian's symbol is `−|k|²` everywhere).
//! - **Barron norm.** `B_s(u) = Σ_n (1 + |k_n|^s) |c_n|` with `|k|` the Euclidean norm of the
//!   physical wavenumber (`|k|^0 = 1`, also at `k = 0`). For a real `u` written as
//!   `u = Σ_m a_m cos(k_m·x + φ_m)` with `a_m ≥ 0` over one wavenumber of each `±k` pair
//!   ([`Grid::cosine_modes`]), `Σ_m a_m = Σ_n |c_n|` ([`Grid::fourier_l1`]): the complex and the
//!   cosine ℓ1 norms agree, with no factor 2.

use num_complex::Complex64;
use rustfft::{Fft, FftDirection, FftPlanner};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Complex double, as the coefficients are stored.
pub type C64 = Complex64;

/// The torus side: `[0, 2π)^d` or `[0, 1)^d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// `[0, 2π)^d`: integer wavenumbers.
    TwoPi,
    /// `[0, 1)^d`: wavenumbers `2π n`.
    Unit,
}

impl Domain {
    /// The side `L`.
    pub fn length(self) -> f64 {
        match self {
            Domain::TwoPi => 2.0 * std::f64::consts::PI,
            Domain::Unit => 1.0,
        }
    }
    /// `2π / L`: the physical wavenumber of integer index 1.
    pub fn k_unit(self) -> f64 {
        2.0 * std::f64::consts::PI / self.length()
    }
}

type Plan = Arc<dyn Fft<f64>>;
/// The planner and the plans it made, keyed by (length, forward).
type PlanCache = Mutex<(FftPlanner<f64>, HashMap<(usize, bool), Plan>)>;

/// The process-wide plan cache: one planner behind a lock; plans are shared (`Arc`) and cheap to
/// clone, so a [`Grid`] asks for each of its lengths once.
fn plan(n: usize, dir: FftDirection) -> Plan {
    static CACHE: OnceLock<PlanCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new((FftPlanner::new(), HashMap::new())));
    let mut guard = cache.lock().unwrap_or_else(|e| e.into_inner());
    let (planner, plans) = &mut *guard;
    let key = (n, dir == FftDirection::Forward);
    plans.entry(key).or_insert_with(|| planner.plan_fft(n, dir)).clone()
}

/// One real cosine mode of a real grid function: `a cos(k·x + φ)`.
#[derive(Clone, Debug, PartialEq)]
pub struct CosineMode {
    /// Flat index of `+k` in the coefficient array (the partner `−k` is [`Grid::conj_index`]).
    pub index: usize,
    /// Integer wavenumber (signed, FFT order folded to `[−N/2, N/2)`), one entry per axis.
    pub n: Vec<i64>,
    /// Amplitude `a ≥ 0`: `2|c_k|`, or `|c_k|` when `k ≡ −k` on the grid (zero and Nyquist modes).
    pub amp: f64,
    /// Phase `φ = arg c_k`.
    pub phase: f64,
    /// `mean_j cos²(k·x_j + φ)` on the grid: 1/2, or `cos²φ` when `k ≡ −k` on the grid.
    pub grid_mean_square: f64,
}

/// A periodic grid on the torus `[0, L)^d`, `d ∈ {1, 2}`, with its FFT plans.
#[derive(Clone)]
pub struct Grid {
    dims: Vec<usize>,
    domain: Domain,
    fwd: Vec<Plan>,
    inv: Vec<Plan>,
}

impl std::fmt::Debug for Grid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grid").field("dims", &self.dims).field("domain", &self.domain).finish()
    }
}

impl Grid {
    /// A grid with `dims[a]` points on axis `a`. Panics unless `1 ≤ dims.len() ≤ 2` and every
    /// size is at least 1.
    pub fn new(dims: &[usize], domain: Domain) -> Grid {
        assert!((1..=2).contains(&dims.len()), "spectral::Grid: d must be 1 or 2, got {}", dims.len());
        assert!(dims.iter().all(|&n| n >= 1), "spectral::Grid: every axis needs at least one point: {dims:?}");
        let fwd = dims.iter().map(|&n| plan(n, FftDirection::Forward)).collect();
        let inv = dims.iter().map(|&n| plan(n, FftDirection::Inverse)).collect();
        Grid { dims: dims.to_vec(), domain, fwd, inv }
    }
    /// `N` points on `[0, L)`.
    pub fn new_1d(n: usize, domain: Domain) -> Grid {
        Grid::new(&[n], domain)
    }
    /// `N × N` points on `[0, L)²`.
    pub fn new_2d(n: usize, domain: Domain) -> Grid {
        Grid::new(&[n, n], domain)
    }
    /// The dimension `d`.
    pub fn d(&self) -> usize {
        self.dims.len()
    }
    /// Points per axis.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }
    /// The domain.
    pub fn domain(&self) -> Domain {
        self.domain
    }
    /// Number of grid points `Π N_a`.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }
    /// Never true (every axis has a point); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Per-axis position of flat index `idx` (row-major).
    pub fn multi_index(&self, idx: usize) -> Vec<usize> {
        match self.dims.as_slice() {
            [_] => vec![idx],
            [_, n1] => vec![idx / n1, idx % n1],
            _ => unreachable!(),
        }
    }
    /// The flat index of a per-axis position.
    pub fn flat_index(&self, pos: &[usize]) -> usize {
        match self.dims.as_slice() {
            [_] => pos[0],
            [_, n1] => pos[0] * n1 + pos[1],
            _ => unreachable!(),
        }
    }
    /// The coordinates `x_a = L j_a / N_a` of grid point `idx`.
    pub fn point(&self, idx: usize) -> Vec<f64> {
        let l = self.domain.length();
        self.multi_index(idx).iter().zip(&self.dims).map(|(&j, &n)| l * j as f64 / n as f64).collect()
    }
    /// The signed integer wavenumber of FFT position `j` on an axis of `n` points: `j` for
    /// `j < ⌈n/2⌉`, else `j − n`.
    pub fn fold(j: usize, n: usize) -> i64 {
        if j < n.div_ceil(2) { j as i64 } else { j as i64 - n as i64 }
    }
    /// The signed integer wavenumbers of coefficient `idx`, one per axis.
    pub fn int_wavenumber(&self, idx: usize) -> Vec<i64> {
        self.multi_index(idx).iter().zip(&self.dims).map(|(&j, &n)| Grid::fold(j, n)).collect()
    }
    /// Whether coefficient position `j` on an axis of `n` points is the Nyquist mode (`n` even,
    /// `j = n/2`).
    fn nyquist(j: usize, n: usize) -> bool {
        n.is_multiple_of(2) && j == n / 2
    }
    /// The physical wavenumbers `k_a = (2π/L) n_a` along `axis`, in FFT order.
    pub fn wavenumbers(&self, axis: usize) -> Vec<f64> {
        let n = self.dims[axis];
        (0..n).map(|j| self.domain.k_unit() * Grid::fold(j, n) as f64).collect()
    }
    /// `|k|²` of every coefficient (flat, FFT order).
    pub fn k2(&self) -> Vec<f64> {
        let ks: Vec<Vec<f64>> = (0..self.d()).map(|a| self.wavenumbers(a)).collect();
        (0..self.len())
            .map(|idx| self.multi_index(idx).iter().enumerate().map(|(a, &j)| ks[a][j] * ks[a][j]).sum())
            .collect()
    }
    /// The flat index of `−k` (coefficient `idx` is `k`): for a real function `c_{−k} = conj(c_k)`.
    pub fn conj_index(&self, idx: usize) -> usize {
        let pos: Vec<usize> = self.multi_index(idx).iter().zip(&self.dims).map(|(&j, &n)| (n - j) % n).collect();
        self.flat_index(&pos)
    }

    // -- transforms ---------------------------------------------------------------------------

    fn transform(&self, data: &mut [C64], plans: &[Plan]) {
        assert_eq!(data.len(), self.len(), "spectral::Grid: data has {} values, the grid {}", data.len(), self.len());
        let scratch_len = plans.iter().map(|p| p.get_inplace_scratch_len()).max().unwrap_or(0);
        let mut scratch = vec![C64::new(0.0, 0.0); scratch_len];
        match self.dims.as_slice() {
            [_] => plans[0].process_with_scratch(data, &mut scratch),
            [n0, n1] => {
                let (n0, n1) = (*n0, *n1);
                // Rows (contiguous), then columns through a transpose.
                plans[1].process_with_scratch(data, &mut scratch);
                let mut t = vec![C64::new(0.0, 0.0); data.len()];
                for i in 0..n0 {
                    for j in 0..n1 {
                        t[j * n0 + i] = data[i * n1 + j];
                    }
                }
                plans[0].process_with_scratch(&mut t, &mut scratch);
                for i in 0..n0 {
                    for j in 0..n1 {
                        data[i * n1 + j] = t[j * n0 + i];
                    }
                }
            }
            _ => unreachable!(),
        }
    }
    /// Forward DFT in place, unnormalized: `û_n = Σ_j u_j e^{−i k_n·x_j}`.
    pub fn fft(&self, data: &mut [C64]) {
        self.transform(data, &self.fwd);
    }
    /// Inverse DFT in place, with the `1/N^d`: `u_j = N^{−d} Σ_n û_n e^{i k_n·x_j}`, so
    /// `ifft(fft(u)) = u`.
    pub fn ifft(&self, data: &mut [C64]) {
        self.transform(data, &self.inv);
        let s = 1.0 / self.len() as f64;
        data.iter_mut().for_each(|v| *v *= s);
    }
    /// The coefficients `c_n = N^{−d} Σ_j u_j e^{−i k_n·x_j}` of real values `u`.
    pub fn to_coeffs(&self, u: &[f64]) -> Vec<C64> {
        let mut c: Vec<C64> = u.iter().map(|&v| C64::new(v, 0.0)).collect();
        self.fft(&mut c);
        let s = 1.0 / self.len() as f64;
        c.iter_mut().for_each(|v| *v *= s);
        c
    }
    /// The complex values `Σ_n c_n e^{i k_n·x_j}` of coefficients `c`.
    pub fn to_values_complex(&self, c: &[C64]) -> Vec<C64> {
        let mut v = c.to_vec();
        self.transform(&mut v, &self.inv);
        v
    }
    /// The real part of `Σ_n c_n e^{i k_n·x_j}` (exact for the coefficients of a real function).
    pub fn to_values(&self, c: &[C64]) -> Vec<f64> {
        self.to_values_complex(c).into_iter().map(|v| v.re).collect()
    }

    // -- operators on coefficients (in place) ---------------------------------------------------

    /// `∂_axis^order` on coefficients: multiply by `(i k_axis)^order`; odd orders zero the Nyquist
    /// mode of that axis.
    pub fn deriv_coeffs(&self, c: &mut [C64], axis: usize, order: u32) {
        assert!(axis < self.d(), "spectral::Grid: axis {axis} of a {}-D grid", self.d());
        assert_eq!(c.len(), self.len(), "spectral::Grid: coefficient count");
        let n = self.dims[axis];
        let ku = self.domain.k_unit();
        let ik_pow: Vec<C64> = (0..n)
            .map(|j| {
                if order % 2 == 1 && Grid::nyquist(j, n) {
                    C64::new(0.0, 0.0)
                } else {
                    C64::new(0.0, ku * Grid::fold(j, n) as f64).powu(order)
                }
            })
            .collect();
        for (idx, v) in c.iter_mut().enumerate() {
            *v *= ik_pow[self.multi_index(idx)[axis]];
        }
    }
    /// `Δ` on coefficients: multiply by `−|k|²`.
    pub fn laplacian_coeffs(&self, c: &mut [C64]) {
        assert_eq!(c.len(), self.len(), "spectral::Grid: coefficient count");
        for (v, k2) in c.iter_mut().zip(self.k2()) {
            *v *= -k2;
        }
    }
    /// `(I − Δ)^{−1}` on coefficients: divide by `1 + |k|²`.
    pub fn inv_one_minus_laplacian_coeffs(&self, c: &mut [C64]) {
        assert_eq!(c.len(), self.len(), "spectral::Grid: coefficient count");
        for (v, k2) in c.iter_mut().zip(self.k2()) {
            *v /= 1.0 + k2;
        }
    }

    // -- real-input helpers ----------------------------------------------------------------------

    /// `∂_axis^order u` of real values.
    pub fn derivative(&self, u: &[f64], axis: usize, order: u32) -> Vec<f64> {
        let mut c = self.to_coeffs(u);
        self.deriv_coeffs(&mut c, axis, order);
        self.to_values(&c)
    }
    /// `∇u`: one vector of values per axis.
    pub fn gradient(&self, u: &[f64]) -> Vec<Vec<f64>> {
        (0..self.d()).map(|a| self.derivative(u, a, 1)).collect()
    }
    /// `Δu`.
    pub fn laplacian(&self, u: &[f64]) -> Vec<f64> {
        let mut c = self.to_coeffs(u);
        self.laplacian_coeffs(&mut c);
        self.to_values(&c)
    }
    /// `(I − Δ)^{−1} u`.
    pub fn inv_one_minus_laplacian(&self, u: &[f64]) -> Vec<f64> {
        let mut c = self.to_coeffs(u);
        self.inv_one_minus_laplacian_coeffs(&mut c);
        self.to_values(&c)
    }

    // -- norms ----------------------------------------------------------------------------------

    /// `‖u‖_{H^s} = (Σ (1 + |k|²)^s |c_n|²)^{1/2}` (normalized measure; `s = 0`: L², `s = 1`: H¹,
    /// `s = −1`: the dual norm of H¹).
    pub fn hs_norm(&self, c: &[C64], s: f64) -> f64 {
        assert_eq!(c.len(), self.len(), "spectral::Grid: coefficient count");
        c.iter().zip(self.k2()).map(|(v, k2)| (1.0 + k2).powf(s) * v.norm_sqr()).sum::<f64>().sqrt()
    }
    /// `‖u‖_{L²} = (Σ|c_n|²)^{1/2} = (mean_j |u_j|²)^{1/2}`.
    pub fn l2_norm(&self, c: &[C64]) -> f64 {
        self.hs_norm(c, 0.0)
    }
    /// `‖u‖_{H¹} = (Σ (1 + |k|²)|c_n|²)^{1/2} = (mean |u|² + mean |∇u|²)^{1/2}`.
    pub fn h1_norm(&self, c: &[C64]) -> f64 {
        self.hs_norm(c, 1.0)
    }
    /// `‖g‖_{H^{−1}} = (Σ |c_n|² / (1 + |k|²))^{1/2} = ‖(I − Δ)^{−1} g‖_{H¹}`.
    pub fn hm1_norm(&self, c: &[C64]) -> f64 {
        self.hs_norm(c, -1.0)
    }
    /// The Fourier ℓ1 norm `Σ_n |c_n|` (= `Σ_m a_m` of the cosine expansion of a real function).
    pub fn fourier_l1(&self, c: &[C64]) -> f64 {
        assert_eq!(c.len(), self.len(), "spectral::Grid: coefficient count");
        c.iter().map(|v| v.norm()).sum()
    }
    /// The spectral Barron norm `B_s(u) = Σ_n (1 + |k_n|^s) |c_n|` (`|k|^0 = 1`).
    pub fn barron_norm(&self, c: &[C64], s: f64) -> f64 {
        assert_eq!(c.len(), self.len(), "spectral::Grid: coefficient count");
        c.iter()
            .zip(self.k2())
            .map(|(v, k2)| {
                let ks = if s == 0.0 { 1.0 } else { k2.sqrt().powf(s) };
                (1.0 + ks) * v.norm()
            })
            .sum()
    }
    /// The largest `max_a |n_a|` (integer ℓ∞ wavenumber) over coefficients with `|c_n| > tol`;
    /// 0 when none is (or only the mean is).
    pub fn bandwidth(&self, c: &[C64], tol: f64) -> i64 {
        assert_eq!(c.len(), self.len(), "spectral::Grid: coefficient count");
        c.iter()
            .enumerate()
            .filter(|(_, v)| v.norm() > tol)
            .map(|(idx, _)| self.int_wavenumber(idx).iter().map(|n| n.abs()).max().unwrap_or(0))
            .max()
            .unwrap_or(0)
    }
    /// The real cosine expansion `u_j = Σ_m a_m cos(k_m·x_j + φ_m)` of the coefficients of a real
    /// function: one mode per `±k` pair (the one whose flat index is not above its partner's),
    /// zero amplitudes included. `Σ a_m = Σ|c_n|` exactly when `c` is Hermitian
    /// (`c_{−k} = conj(c_k)`), and the modes are orthogonal on the grid.
    pub fn cosine_modes(&self, c: &[C64]) -> Vec<CosineMode> {
        assert_eq!(c.len(), self.len(), "spectral::Grid: coefficient count");
        (0..self.len())
            .filter_map(|idx| {
                let partner = self.conj_index(idx);
                if partner < idx {
                    return None;
                }
                let v = c[idx];
                let (amp, phase, ms) = if partner == idx {
                    // k ≡ −k: c is real for a real function; a cos(φ) with φ ∈ {0, π}.
                    let phase = if v.re < 0.0 { std::f64::consts::PI } else { 0.0 };
                    (v.re.abs(), phase, 1.0)
                } else {
                    (2.0 * v.norm(), v.arg(), 0.5)
                };
                Some(CosineMode { index: idx, n: self.int_wavenumber(idx), amp, phase, grid_mean_square: ms })
            })
            .collect()
    }
    /// The physical wavenumber `k = (2π/L) n` of a cosine mode.
    pub fn mode_k(&self, m: &CosineMode) -> Vec<f64> {
        m.n.iter().map(|&n| self.domain.k_unit() * n as f64).collect()
    }
    /// Values of `cos(k·x_j + φ)` on the grid.
    pub fn cosine_values(&self, k: &[f64], phase: f64) -> Vec<f64> {
        (0..self.len())
            .map(|idx| {
                let x = self.point(idx);
                (x.iter().zip(k).map(|(a, b)| a * b).sum::<f64>() + phase).cos()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::f64::consts::PI;

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }
    fn on_grid(g: &Grid, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        (0..g.len()).map(|i| f(&g.point(i))).collect()
    }

    /// u = sin(3x) cos(2y) + 0.5 cos(x + y + 0.3) + 2 on [0, 2π)², and on [0, 1)² with x → 2πx.
    #[test]
    fn derivatives_of_a_trigonometric_polynomial_2d() {
        for (domain, w) in [(Domain::TwoPi, 1.0), (Domain::Unit, 2.0 * PI)] {
            let g = Grid::new(&[16, 12], domain);
            let u = on_grid(&g, |p| {
                let (x, y) = (w * p[0], w * p[1]);
                (3.0 * x).sin() * (2.0 * y).cos() + 0.5 * (x + y + 0.3).cos() + 2.0
            });
            let ux = on_grid(&g, |p| {
                let (x, y) = (w * p[0], w * p[1]);
                w * (3.0 * (3.0 * x).cos() * (2.0 * y).cos() - 0.5 * (x + y + 0.3).sin())
            });
            let uyy = on_grid(&g, |p| {
                let (x, y) = (w * p[0], w * p[1]);
                w * w * (-4.0 * (3.0 * x).sin() * (2.0 * y).cos() - 0.5 * (x + y + 0.3).cos())
            });
            let lap = on_grid(&g, |p| {
                let (x, y) = (w * p[0], w * p[1]);
                w * w * (-13.0 * (3.0 * x).sin() * (2.0 * y).cos() - (x + y + 0.3).cos())
            });
            assert!(max_abs_diff(&g.derivative(&u, 0, 1), &ux) < 1e-12 * w * w);
            assert!(max_abs_diff(&g.derivative(&u, 1, 2), &uyy) < 1e-12 * w * w * w);
            assert!(max_abs_diff(&g.laplacian(&u), &lap) < 1e-12 * w * w * w);
            // (I − Δ)^{-1}: each mode divided by 1 + |k|².
            let inv = on_grid(&g, |p| {
                let (x, y) = (w * p[0], w * p[1]);
                (3.0 * x).sin() * (2.0 * y).cos() / (1.0 + 13.0 * w * w)
                    + 0.5 * (x + y + 0.3).cos() / (1.0 + 2.0 * w * w)
                    + 2.0
            });
            assert!(max_abs_diff(&g.inv_one_minus_laplacian(&u), &inv) < 1e-12);
            let grad = g.gradient(&u);
            assert_eq!(grad.len(), 2);
            assert!(max_abs_diff(&grad[0], &ux) < 1e-12 * w * w);
        }
    }

    #[test]
    fn derivatives_of_a_trigonometric_polynomial_1d_odd_size() {
        let g = Grid::new_1d(15, Domain::TwoPi);
        let u = on_grid(&g, |p| (7.0 * p[0]).cos() - 0.25 * (2.0 * p[0]).sin());
        let u3 = on_grid(&g, |p| 343.0 * (7.0 * p[0]).sin() + 2.0 * (2.0 * p[0]).cos());
        assert!(max_abs_diff(&g.derivative(&u, 0, 3), &u3) < 1e-11);
        let lap = on_grid(&g, |p| -49.0 * (7.0 * p[0]).cos() + (2.0 * p[0]).sin());
        assert!(max_abs_diff(&g.laplacian(&u), &lap) < 1e-12);
    }

    #[test]
    fn coefficients_of_a_cosine_and_its_norms() {
        // u = 3 cos(2x − y + 0.4) + 1 on [0, 2π)²: c_(2,−1) = 1.5 e^{0.4i}, c_(−2,1) its conjugate, c_0 = 1.
        let g = Grid::new_2d(8, Domain::TwoPi);
        let u = on_grid(&g, |p| 3.0 * (2.0 * p[0] - p[1] + 0.4).cos() + 1.0);
        let c = g.to_coeffs(&u);
        let at = |n0: i64, n1: i64| c[g.flat_index(&[n0.rem_euclid(8) as usize, n1.rem_euclid(8) as usize])];
        assert!((at(2, -1) - C64::from_polar(1.5, 0.4)).norm() < 1e-14);
        assert!((at(-2, 1) - C64::from_polar(1.5, -0.4)).norm() < 1e-14);
        assert!((at(0, 0) - C64::new(1.0, 0.0)).norm() < 1e-14);
        // ‖u‖² = 1 + 9/2; ‖u‖²_{H¹} = 1 + 9/2 · 6; ‖u‖²_{H^{-1}} = 1 + 9/2 / 6.
        assert!((g.l2_norm(&c).powi(2) - 5.5).abs() < 1e-12);
        assert!((g.h1_norm(&c).powi(2) - 28.0).abs() < 1e-12);
        assert!((g.hm1_norm(&c).powi(2) - 1.75).abs() < 1e-12);
        // B_0-ℓ1 = 1 + 3; B_1 = (1 + 0)·1 + (1 + √5)·3; B_s at s = 0 counts (1 + 1).
        assert!((g.fourier_l1(&c) - 4.0).abs() < 1e-12);
        assert!((g.barron_norm(&c, 1.0) - (1.0 + 3.0 * (1.0 + 5f64.sqrt()))).abs() < 1e-12);
        assert!((g.barron_norm(&c, 0.0) - 8.0).abs() < 1e-12);
        assert!((g.barron_norm(&c, 2.0) - (1.0 + 3.0 * 6.0)).abs() < 1e-12);
        assert_eq!(g.bandwidth(&c, 1e-12), 2);
        // The cosine expansion: one mode of amplitude 3 and phase ±0.4, the mean 1.
        let modes: Vec<CosineMode> = g.cosine_modes(&c).into_iter().filter(|m| m.amp > 1e-12).collect();
        assert_eq!(modes.len(), 2);
        let big = modes.iter().find(|m| m.amp > 2.0).unwrap();
        assert!((big.amp - 3.0).abs() < 1e-12 && (big.phase.abs() - 0.4).abs() < 1e-12);
        assert_eq!(big.grid_mean_square, 0.5);
    }

    #[test]
    fn unit_domain_scales_wavenumbers_by_two_pi() {
        let g = Grid::new_2d(6, Domain::Unit);
        let u = on_grid(&g, |p| (2.0 * PI * p[1]).cos());
        let c = g.to_coeffs(&u);
        assert!((g.barron_norm(&c, 1.0) - (1.0 + 2.0 * PI)).abs() < 1e-12);
        assert!((g.h1_norm(&c).powi(2) - 0.5 * (1.0 + 4.0 * PI * PI)).abs() < 1e-10);
        assert_eq!(g.wavenumbers(0)[1], 2.0 * PI);
    }

    #[test]
    fn nyquist_mode_has_no_first_derivative_but_a_laplacian() {
        let g = Grid::new_1d(8, Domain::TwoPi);
        let u = on_grid(&g, |p| (4.0 * p[0]).cos()); // (−1)^j on the grid
        assert!(g.derivative(&u, 0, 1).iter().all(|v| v.abs() < 1e-14));
        let lap = g.laplacian(&u);
        assert!(max_abs_diff(&lap, &u.iter().map(|v| -16.0 * v).collect::<Vec<_>>()) < 1e-12);
        let m = g.cosine_modes(&g.to_coeffs(&u));
        let ny = m.iter().find(|m| m.n == vec![-4]).unwrap();
        assert!((ny.amp - 1.0).abs() < 1e-14 && ny.grid_mean_square == 1.0);
    }

    #[test]
    fn fft_matches_the_naive_dft() {
        for dims in [vec![5usize], vec![6], vec![3, 4], vec![4, 5]] {
            let g = Grid::new(&dims, Domain::TwoPi);
            let u: Vec<C64> = (0..g.len()).map(|i| C64::new((i as f64 * 0.7).sin(), (i as f64 * 1.3).cos())).collect();
            let mut f = u.clone();
            g.fft(&mut f);
            for (kidx, fk) in f.iter().enumerate() {
                let k: Vec<f64> = g.int_wavenumber(kidx).iter().map(|&n| n as f64).collect();
                let naive: C64 = (0..g.len())
                    .map(|j| {
                        let x = g.point(j);
                        let ph: f64 = k.iter().zip(&x).map(|(a, b)| a * b).sum();
                        u[j] * C64::from_polar(1.0, -ph)
                    })
                    .sum();
                assert!((naive - fk).norm() < 1e-12, "{dims:?} k {kidx}: {naive} vs {fk}");
            }
            g.ifft(&mut f);
            assert!(f.iter().zip(&u).all(|(a, b)| (a - b).norm() < 1e-14));
        }
    }

    #[test]
    fn helpers_index_consistently() {
        let g = Grid::new(&[4, 6], Domain::TwoPi);
        for idx in 0..g.len() {
            assert_eq!(g.flat_index(&g.multi_index(idx)), idx);
            let c = g.conj_index(idx);
            assert_eq!(g.conj_index(c), idx);
        }
        assert_eq!(Grid::fold(3, 6), -3);
        assert_eq!(Grid::fold(2, 5), 2);
        assert_eq!(Grid::fold(3, 5), -2);
        assert!(!g.is_empty() && g.d() == 2 && g.dims() == [4, 6] && g.domain() == Domain::TwoPi);
        assert_eq!(format!("{g:?}"), "Grid { dims: [4, 6], domain: TwoPi }");
        // Plans are cached: a second grid of the same sizes shares them.
        let h = Grid::new(&[4, 6], Domain::Unit);
        assert!(Arc::ptr_eq(&g.fwd[0], &h.fwd[0]));
    }

    fn grid_and_values() -> impl Strategy<Value = (Vec<usize>, Vec<f64>)> {
        prop_oneof![(1usize..40).prop_map(|n| vec![n]), ((1usize..14), (1usize..14)).prop_map(|(a, b)| vec![a, b]),]
            .prop_flat_map(|dims| {
                let len = dims.iter().product::<usize>();
                (Just(dims), proptest::collection::vec(-10.0f64..10.0, len))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip_and_parseval((dims, u) in grid_and_values()) {
            let g = Grid::new(&dims, Domain::TwoPi);
            let c = g.to_coeffs(&u);
            let back = g.to_values(&c);
            prop_assert!(max_abs_diff(&back, &u) < 1e-12);
            let ms = u.iter().map(|v| v * v).sum::<f64>() / u.len() as f64;
            prop_assert!((g.l2_norm(&c).powi(2) - ms).abs() < 1e-12 * (1.0 + ms));
            // Hermitian symmetry of a real function's coefficients.
            for idx in 0..g.len() {
                prop_assert!((c[g.conj_index(idx)] - c[idx].conj()).norm() < 1e-12);
            }
        }

        #[test]
        fn cosine_modes_rebuild_the_function((dims, u) in grid_and_values()) {
            let g = Grid::new(&dims, Domain::TwoPi);
            let c = g.to_coeffs(&u);
            let modes = g.cosine_modes(&c);
            let mut rebuilt = vec![0.0; g.len()];
            for m in &modes {
                let vals = g.cosine_values(&g.mode_k(m), m.phase);
                let ms = vals.iter().map(|v| v * v).sum::<f64>() / vals.len() as f64;
                prop_assert!((ms - m.grid_mean_square).abs() < 1e-12);
                rebuilt.iter_mut().zip(&vals).for_each(|(r, v)| *r += m.amp * v);
            }
            prop_assert!(max_abs_diff(&rebuilt, &u) < 1e-11);
            let l1: f64 = modes.iter().map(|m| m.amp).sum();
            prop_assert!((l1 - g.fourier_l1(&c)).abs() < 1e-10 * (1.0 + l1));
        }

        #[test]
        fn inverse_helmholtz_inverts_one_minus_laplacian((dims, u) in grid_and_values()) {
            let g = Grid::new(&dims, Domain::Unit);
            let lap = g.laplacian(&u);
            let w: Vec<f64> = u.iter().zip(&lap).map(|(a, b)| a - b).collect();
            let back = g.inv_one_minus_laplacian(&w);
            prop_assert!(max_abs_diff(&back, &u) < 1e-9);
            // Integration by parts: mean(u Δu) = −mean|∇u|², and ‖u‖²_{H¹} = mean u² + mean|∇u|².
            let grad = g.gradient(&u);
            let c = g.to_coeffs(&u);
            let ulap = u.iter().zip(&lap).map(|(a, b)| a * b).sum::<f64>() / u.len() as f64;
            // Odd derivatives zero the Nyquist modes, the Laplacian keeps them: compare without them.
            let ks: Vec<Vec<f64>> = (0..g.d()).map(|a| g.wavenumbers(a)).collect();
            let ny: f64 = (0..g.len())
                .map(|i| {
                    let pos = g.multi_index(i);
                    let lost: f64 = (0..g.d())
                        .filter(|&a| Grid::nyquist(pos[a], g.dims()[a]))
                        .map(|a| ks[a][pos[a]].powi(2))
                        .sum();
                    lost * c[i].norm_sqr()
                })
                .sum();
            let g2 = grad.iter().map(|d| d.iter().map(|v| v * v).sum::<f64>()).sum::<f64>() / u.len() as f64;
            let scale = 1.0 + g.h1_norm(&c).powi(2);
            prop_assert!((ulap + g2 + ny).abs() < 1e-9 * scale);
            prop_assert!((g.h1_norm(&c).powi(2) - (g.l2_norm(&c).powi(2) + g2 + ny)).abs() < 1e-9 * scale);
        }
    }
}
