//! A 1-D cell-centred finite-volume solver for nonlinear diffusion with a retardation factor,
//!
//! `R(u) ∂u/∂t = D ∂²u/∂x²` on `(0, L)`, `t > 0`,
//!
//! with a Robin condition `α u + β ∂u/∂x = γ` at each end (Dirichlet: `α = 1, β = 0`; Neumann:
//! `α = 0`; `∂/∂x` is the derivative along `x`, not the outward normal), by implicit (backward)
//! Euler in time with Newton's method on each step. This is the diffusion–sorption equation of
//! PDEBench and FINN (Takamoto et al. 2022; Praditia et al. 2021) with the Freundlich
//! retardation ([`DiffusionSorption`]).
//!
//! **Space.** `N` cells of width `h = L/N`, unknowns at the centres `x_i = (i + ½) h`. The flux
//! through an inner face is `(u_{i+1} − u_i)/h`; at a boundary face the face value `u_b` is
//! eliminated with the boundary condition and the one-sided difference over the half cell,
//! `∂u/∂x ≈ ±(u_b − u_cell)/(h/2)`, which gives the face derivatives
//! `u_x(0) = s (γ − α u_0)/(β s − α)` and `u_x(L) = s (γ − α u_{N−1})/(α + β s)` with `s = 2/h`.
//! So `D ∂²u/∂x² ≈ D (A u + c)` with `A` tridiagonal ([`Fv1d::operator`]); the scheme is second
//! order in `h` for smooth solutions (the usual cell-centred result) and the M-matrix property
//! holds when `α/(α − β s) >= 0` at the left end and `α/(α + β s) >= 0` at the right
//! (dissipative conditions; a denominator of zero is refused).
//!
//! **Time.** Backward Euler, first order in `Δt`: each step solves
//! `F(u) = R(u) ⊙ (u − uⁿ) − Δt D (A u + c) = 0` by Newton's method from `uⁿ`; the Jacobian
//! `diag(R'(u)(u − uⁿ) + R(u)) − Δt D A` is tridiagonal and solved by the Thomas algorithm
//! ([`super::tridiag`]). A step has converged when the Newton update is at most
//! `tol · max(1, ‖u‖_∞)` in the ℓ∞ norm; otherwise [`SolveError::NotConverged`] after `max_iter`.
//! For `R ≡ 1` (linear diffusion) the first Newton step is the exact implicit Euler step.
//!
//! **Diffusion–sorption** ([`DiffusionSorption`]): `R(u) = 1 + ((1 − φ)/φ) ρ_s k_f n_f u^{n_f − 1}`
//! with `D = 5e-4`, `φ = 0.29`, `ρ_s = 2880`, `k_f = 3.5e-4`, `n_f = 0.874` (PDEBench), `u` floored
//! at `1e-6` inside `R` (the singular `u^{−0.126}` at 0; the floored `R` has `R' = 0` below the
//! floor), on `x ∈ (0, 1)` with `u(t, 0) = 1` and at `x = 1` the outflow condition
//! `u + D ∂u/∂x = 0`. That sign is the one FINN's data generator implements (its right ghost value
//! is `D (u_{N−2} − u_{N−1}) / Δx`, i.e. `u_b = −D u_x`); the condition written `u(t, 1) = D ∂_x
//! u(t, 1)` in the PDEBench text would feed mass in through the boundary and break the M-matrix
//! property once `h < 2D`. Pass another [`Bc`] to [`Fv1d`] for that variant.

use ndarray::{Array1, Array2, ArrayView1};

use super::SolveError;
use super::tridiag::solve_tridiagonal_in_place;

/// A boundary condition `α u + β ∂u/∂x = γ` at one end (`∂/∂x` along `x`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bc {
    /// `u = value`.
    Dirichlet(f64),
    /// `α u + β ∂u/∂x = γ`.
    Robin {
        /// Coefficient of `u`.
        alpha: f64,
        /// Coefficient of `∂u/∂x`.
        beta: f64,
        /// Right-hand side.
        gamma: f64,
    },
}

impl Bc {
    fn coeffs(self) -> (f64, f64, f64) {
        match self {
            Bc::Dirichlet(g) => (1.0, 0.0, g),
            Bc::Robin { alpha, beta, gamma } => (alpha, beta, gamma),
        }
    }
}

/// The grid, the diffusivity and the boundary conditions of a 1-D problem.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fv1d {
    /// Domain length `L` (the domain is `(0, L)`).
    pub length: f64,
    /// Number of cells `N`.
    pub cells: usize,
    /// Diffusivity `D`.
    pub diffusivity: f64,
    /// Condition at `x = 0`.
    pub left: Bc,
    /// Condition at `x = L`.
    pub right: Bc,
}

/// The discrete operator `∂²u/∂x² ≈ A u + c`: `A` tridiagonal as three diagonals
/// (`lower[0]`, `upper[N−1]` unused) and the affine part `c` from the boundary data.
#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    /// Sub-diagonal.
    pub lower: Vec<f64>,
    /// Diagonal.
    pub diag: Vec<f64>,
    /// Super-diagonal.
    pub upper: Vec<f64>,
    /// Affine part.
    pub affine: Vec<f64>,
}

impl Operator {
    /// `A u + c`.
    pub fn apply(&self, u: ArrayView1<f64>) -> Array1<f64> {
        let n = self.diag.len();
        Array1::from_shape_fn(n, |i| {
            let mut s = self.diag[i] * u[i] + self.affine[i];
            if i > 0 {
                s += self.lower[i] * u[i - 1];
            }
            if i + 1 < n {
                s += self.upper[i] * u[i + 1];
            }
            s
        })
    }
}

/// Newton options per implicit step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOpts {
    /// Relative tolerance on the Newton update (ℓ∞).
    pub tol: f64,
    /// Cap on Newton iterations per step.
    pub max_iter: usize,
}

impl Default for StepOpts {
    fn default() -> Self {
        StepOpts { tol: 1e-12, max_iter: 50 }
    }
}

/// A solution on the grid at the saved times.
#[derive(Clone, Debug, PartialEq)]
pub struct FvSolution {
    /// Cell centres.
    pub x: Array1<f64>,
    /// Saved times, `t = 0` first.
    pub t: Vec<f64>,
    /// `u[k, i]`: the solution at time `t[k]` in cell `i`.
    pub u: Array2<f64>,
    /// Newton iterations of every time step.
    pub newton_iters: Vec<usize>,
}

impl Fv1d {
    /// The cell width `h = L/N`.
    pub fn h(&self) -> f64 {
        self.length / self.cells as f64
    }

    /// The cell centres `(i + ½) h`.
    pub fn centers(&self) -> Array1<f64> {
        let h = self.h();
        Array1::from_shape_fn(self.cells, |i| (i as f64 + 0.5) * h)
    }

    /// The discrete `∂²/∂x²` with the boundary conditions (see the module docs). Errors with
    /// [`SolveError::Breakdown`] when a boundary condition's denominator vanishes
    /// (`β s = α` at the left, `β s = −α` at the right, `s = 2/h`).
    pub fn operator(&self) -> Result<Operator, SolveError> {
        let n = self.cells;
        assert!(n >= 1 && self.length > 0.0, "fv1d: need at least one cell and a positive length");
        let h = self.h();
        let s = 2.0 / h;
        let ih2 = 1.0 / (h * h);
        let bad = SolveError::Breakdown { method: "fv1d", iter: 0, what: "boundary condition with a zero denominator" };
        // Face derivatives u_x = p + q u_cell.
        let (al, bl, gl) = self.left.coeffs();
        let dl = bl * s - al;
        let (ar, br, gr) = self.right.coeffs();
        let dr = ar + br * s;
        if dl.abs() <= 1e-14 * (al.abs() + (bl * s).abs()) || dr.abs() <= 1e-14 * (ar.abs() + (br * s).abs()) {
            return Err(bad);
        }
        let (pl, ql) = (s * gl / dl, -s * al / dl);
        let (pr, qr) = (s * gr / dr, -s * ar / dr);
        let mut op =
            Operator { lower: vec![ih2; n], diag: vec![-2.0 * ih2; n], upper: vec![ih2; n], affine: vec![0.0; n] };
        op.lower[0] = 0.0;
        op.upper[n - 1] = 0.0;
        // Left cell: (F_{1/2} − F_{−1/2}) / h with F_{−1/2} = pl + ql u_0.
        op.diag[0] += ih2 - ql / h;
        op.affine[0] -= pl / h;
        // Right cell: (F_{N−1/2} − F_{N−3/2}) / h with F_{N−1/2} = pr + qr u_{N−1}.
        op.diag[n - 1] += ih2 + qr / h;
        op.affine[n - 1] += pr / h;
        Ok(op)
    }

    /// Backward Euler from `u0` over `steps` steps of `Δt = t_end / steps`, saving `u` at `t = 0`
    /// and after every `save_every` steps (and at the last step). `retardation(u)` returns
    /// `(R(u), R'(u))` with `R > 0`.
    pub fn implicit_euler(
        &self,
        u0: ArrayView1<f64>,
        t_end: f64,
        steps: usize,
        save_every: usize,
        retardation: impl Fn(f64) -> (f64, f64),
        opts: StepOpts,
    ) -> Result<FvSolution, SolveError> {
        let n = self.cells;
        assert_eq!(u0.len(), n, "fv1d: initial condition of length {} for {n} cells", u0.len());
        assert!(steps >= 1 && save_every >= 1 && t_end > 0.0, "fv1d: need steps >= 1, save_every >= 1, t_end > 0");
        let op = self.operator()?;
        let dt = t_end / steps as f64;
        let dd = dt * self.diffusivity;
        let mut u = u0.to_owned();
        let mut t = vec![0.0];
        let mut saved = vec![u.clone()];
        let mut newton_iters = Vec::with_capacity(steps);
        // Newton buffers, reused every iteration.
        let (mut lo, mut di, mut up) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let (mut rhs, mut scratch) = (vec![0.0f64; n], vec![0.0f64; n]);
        for lo_i in lo.iter_mut().zip(&op.lower) {
            *lo_i.0 = -dd * lo_i.1;
        }
        for up_i in up.iter_mut().zip(&op.upper) {
            *up_i.0 = -dd * up_i.1;
        }
        for step in 1..=steps {
            let old = u.clone();
            let mut it = 0;
            loop {
                if it == opts.max_iter {
                    let res = rhs.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    return Err(SolveError::NotConverged {
                        method: "fv1d newton",
                        iters: it,
                        residual: res,
                        tol: opts.tol,
                    });
                }
                it += 1;
                // F(u) and its Jacobian.
                let au = op.apply(u.view());
                for i in 0..n {
                    let (r, dr) = retardation(u[i]);
                    let du = u[i] - old[i];
                    rhs[i] = -(r * du - dd * au[i]);
                    di[i] = dr * du + r - dd * op.diag[i];
                }
                solve_tridiagonal_in_place(&lo, &di, &up, &mut rhs, &mut scratch)?;
                let mut step_norm = 0.0f64;
                for i in 0..n {
                    u[i] += rhs[i];
                    step_norm = step_norm.max(rhs[i].abs());
                }
                if !u.iter().all(|v| v.is_finite()) {
                    return Err(SolveError::NonFinite { method: "fv1d newton", iter: step });
                }
                let scale = u.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                if step_norm <= opts.tol * scale {
                    break;
                }
            }
            newton_iters.push(it);
            if step % save_every == 0 || step == steps {
                t.push(step as f64 * dt);
                saved.push(u.clone());
            }
        }
        let mut out = Array2::zeros((saved.len(), n));
        for (mut row, s) in out.outer_iter_mut().zip(&saved) {
            row.assign(s);
        }
        Ok(FvSolution { x: self.centers(), t, u: out, newton_iters })
    }
}

/// The diffusion–sorption problem of PDEBench (see the module docs for the constants and the
/// boundary conditions).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiffusionSorption {
    /// Effective diffusion coefficient `D`.
    pub d: f64,
    /// Porosity `φ`.
    pub phi: f64,
    /// Bulk density `ρ_s`.
    pub rho_s: f64,
    /// Freundlich `k_f`.
    pub k_f: f64,
    /// Freundlich exponent `n_f`.
    pub n_f: f64,
    /// Floor on `u` inside `R` (the guard against `u^{n_f − 1}` at 0).
    pub u_floor: f64,
}

impl Default for DiffusionSorption {
    fn default() -> Self {
        DiffusionSorption { d: 5e-4, phi: 0.29, rho_s: 2880.0, k_f: 3.5e-4, n_f: 0.874, u_floor: 1e-6 }
    }
}

impl DiffusionSorption {
    /// `(R(u), R'(u))` with `R(u) = 1 + ((1 − φ)/φ) ρ_s k_f n_f max(u, floor)^{n_f − 1}`.
    pub fn retardation(&self, u: f64) -> (f64, f64) {
        let c = (1.0 - self.phi) / self.phi * self.rho_s * self.k_f * self.n_f;
        if u > self.u_floor {
            let p = u.powf(self.n_f - 1.0);
            (1.0 + c * p, c * (self.n_f - 1.0) * p / u)
        } else {
            (1.0 + c * self.u_floor.powf(self.n_f - 1.0), 0.0)
        }
    }

    /// The grid and boundary conditions on `(0, 1)` with `cells` cells: `u(t, 0) = 1`,
    /// `u + D ∂u/∂x = 0` at `x = 1`.
    pub fn problem(&self, cells: usize) -> Fv1d {
        Fv1d {
            length: 1.0,
            cells,
            diffusivity: self.d,
            left: Bc::Dirichlet(1.0),
            right: Bc::Robin { alpha: 1.0, beta: self.d, gamma: 0.0 },
        }
    }

    /// Solve from `u0` (cell averages on `cells = u0.len()` cells) to `t_end` with `steps`
    /// backward-Euler steps, saving every `save_every` steps.
    pub fn solve(
        &self,
        u0: ArrayView1<f64>,
        t_end: f64,
        steps: usize,
        save_every: usize,
        opts: StepOpts,
    ) -> Result<FvSolution, SolveError> {
        self.problem(u0.len()).implicit_euler(u0, t_end, steps, save_every, |u| self.retardation(u), opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn linear(_: f64) -> (f64, f64) {
        (1.0, 0.0)
    }

    /// Max error at `t_end` against `exact(x, t)` for linear diffusion.
    fn heat_error(p: Fv1d, t_end: f64, steps: usize, exact: impl Fn(f64, f64) -> f64) -> f64 {
        let x = p.centers();
        let u0 = x.mapv(|x| exact(x, 0.0));
        let s = p.implicit_euler(u0.view(), t_end, steps, steps, linear, StepOpts::default()).unwrap();
        assert!(s.newton_iters.iter().all(|&k| k <= 2), "{:?}", s.newton_iters);
        let last = s.u.row(s.u.nrows() - 1);
        x.iter().zip(last).map(|(&x, &u)| (u - exact(x, t_end)).abs()).fold(0.0, f64::max)
    }

    /// `u = e^{−Dπ²t} sin(πx)` with zero Dirichlet ends, and `e^{−Dπ²t/4} sin(πx/2)` with a
    /// Neumann right end: with `Δt ∝ h²` the error falls 4× per halving of `h` (order 2 in `h`,
    /// order 1 in `Δt`).
    #[test]
    fn linear_diffusion_converges_at_second_order_in_h() {
        let d = 0.1;
        let cases: [(Bc, f64); 2] = [(Bc::Dirichlet(0.0), 1.0), (Bc::Robin { alpha: 0.0, beta: 1.0, gamma: 0.0 }, 0.5)];
        for (right, k) in cases {
            let exact = move |x: f64, t: f64| (-d * (k * PI).powi(2) * t).exp() * (k * PI * x).sin();
            let errs: Vec<f64> = [16usize, 32, 64]
                .iter()
                .map(|&n| {
                    let p = Fv1d { length: 1.0, cells: n, diffusivity: d, left: Bc::Dirichlet(0.0), right };
                    heat_error(p, 1.0, n * n / 8, exact)
                })
                .collect();
            for w in errs.windows(2) {
                let ratio = w[0] / w[1];
                assert!((3.4..4.6).contains(&ratio), "{right:?}: errors {errs:?}");
            }
        }
    }

    /// The steady state of linear diffusion between `u(0) = a` and `α u + β u_x = γ` at `x = 1` is
    /// the line `a + b x` with `α (a + b) + β b = γ`; the half-cell boundary differences are
    /// exact on lines, so backward Euler with long steps reaches it to rounding.
    #[test]
    fn robin_steady_state_is_exact() {
        let (a, al, be, ga) = (0.7, 2.0, 0.5, -0.3);
        let b = (ga - al * a) / (al + be);
        let p = Fv1d {
            length: 1.0,
            cells: 10,
            diffusivity: 1.0,
            left: Bc::Dirichlet(a),
            right: Bc::Robin { alpha: al, beta: be, gamma: ga },
        };
        let s = p.implicit_euler(Array1::zeros(10).view(), 1e6, 20, 20, linear, StepOpts::default()).unwrap();
        let last = s.u.row(1);
        for (x, u) in p.centers().iter().zip(last) {
            assert!((u - (a + b * x)).abs() < 1e-10, "{u} vs {}", a + b * x);
        }
        let op = p.operator().unwrap();
        assert!(op.apply(p.centers().mapv(|x| a + b * x).view()).iter().all(|v| v.abs() < 1e-9));
        let bad = Fv1d { right: Bc::Robin { alpha: 1.0, beta: -0.05, gamma: 0.0 }, ..p };
        assert!(bad.operator().is_err());
    }

    #[test]
    fn retardation_derivative_matches_finite_differences() {
        let ds = DiffusionSorption::default();
        for u in [1e-4, 0.05, 0.3, 1.0] {
            let eps = 1e-7 * u;
            let fd = (ds.retardation(u + eps).0 - ds.retardation(u - eps).0) / (2.0 * eps);
            assert!((fd - ds.retardation(u).1).abs() < 1e-6 * fd.abs(), "u = {u}");
        }
        // R(1) = 1 + (0.71/0.29) 2880 · 3.5e-4 · 0.874.
        let want = 1.0 + 0.71 / 0.29 * 2880.0 * 3.5e-4 * 0.874;
        assert!((ds.retardation(1.0).0 - want).abs() < 1e-12);
        assert_eq!(ds.retardation(0.0), ds.retardation(-1.0));
    }

    /// The spec's ground-truth setting (64 cells, T = 500, 25 saves): Newton converges in a few
    /// iterations, the solution stays in [0, 1] (maximum principle), the front moves in from
    /// the left, and backward Euler is first order in Δt (errors against a fine-step reference
    /// halve with Δt).
    #[test]
    fn diffusion_sorption_runs_and_is_first_order_in_time() {
        let ds = DiffusionSorption::default();
        let n = 64;
        let x = ds.problem(n).centers();
        let u0 = x.mapv(|x| 0.05 + 0.25 * (0.5 + 0.5 * (2.0 * PI * x).cos()));
        let s = ds.solve(u0.view(), 500.0, 100, 4, StepOpts::default()).unwrap();
        assert_eq!(s.t.len(), 26);
        assert_eq!(s.u.dim(), (26, n));
        assert!(s.newton_iters.iter().all(|&k| k <= 8), "{:?}", s.newton_iters);
        assert!(s.u.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!(s.u[[25, 0]] > 0.9 && s.u[[25, 0]] > s.u[[0, 0]]);
        let end =
            |steps: usize| ds.solve(u0.view(), 500.0, steps, steps, StepOpts::default()).unwrap().u.row(1).to_owned();
        let reference = end(3200);
        let errs: Vec<f64> =
            [50, 100, 200].iter().map(|&k| (&end(k) - &reference).iter().fold(0.0f64, |m, v| m.max(v.abs()))).collect();
        for w in errs.windows(2) {
            assert!((1.7..2.4).contains(&(w[0] / w[1])), "{errs:?}");
        }
    }
}
