//! Solvers for non-symmetric and nonlinear problems: a non-symmetric linear operator, GMRES and
//! BiCGSTAB, Newton with a line search, fixed-point iteration with a contraction monitor,
//! Levenberg–Marquardt, and implicit differentiation of a solution map.
//!
//! - [`linear`]: the [`LinMap`] trait (a square, not necessarily symmetric operator; the symmetric
//!   [`crate::linalg::LinOp`] is wrapped by [`Sym`]), restarted GMRES, BiCGSTAB, CG on the normal
//!   equations, and a dense LU with the transposed solve ([`DenseLu`]).
//! - [`nonlinear`]: Newton's method for `F(x) = 0` with a backtracking line search on `½‖F‖²`,
//!   fixed-point iteration that records an estimate of its contraction factor, and
//!   Levenberg–Marquardt for nonlinear least squares.
//! - [`tridiag`]: tridiagonal systems by the Thomas algorithm (no allocation in the in-place form).
//! - [`fv1d`]: a 1-D cell-centred finite-volume solver for `R(u) u_t = D u_xx` with Robin/Dirichlet
//!   ends, backward Euler and Newton on each step (tridiagonal Jacobians); the diffusion–sorption
//!   problem of PDEBench as [`DiffusionSorption`].
//! - [`implicit`]: implicit differentiation in the style of jaxopt's `custom_root` /
//!   `custom_fixed_point` (Blondel et al. 2022): given an optimality map `F(x, θ) = 0` through its
//!   JVPs and VJPs ([`RootMap`]), the JVP and VJP of the solution map `x*(θ)` through one linear
//!   solve.
//!
//! Every iterative method has an iteration cap and returns a typed [`SolveError`] when it does not
//! converge, breaks down or meets a non-finite value: no method hangs or panics on a numerical
//! failure (shape mismatches are programming errors and panic, as in [`crate::linalg`]).

pub mod fv1d;
pub mod implicit;
pub mod linear;
pub mod nonlinear;
pub mod sketch;
pub mod tridiag;

pub use fv1d::{Bc, DiffusionSorption, Fv1d, FvSolution, StepOpts};
pub use implicit::{FixedPoint, FnRoot, LinearSolve, RootMap, root_jacobian, root_jvp, root_vjp};
pub use linear::{DenseLu, FnMap, KrylovOpts, KrylovSolution, LinMap, Sym, bicgstab, gmres, normal_cg};
pub use nonlinear::{
    FixedPointOpts, FixedPointResult, LmOpts, LmResult, NewtonOpts, NewtonResult, fixed_point, levenberg_marquardt,
    newton,
};
pub use tridiag::{solve_tridiagonal, solve_tridiagonal_in_place};

use crate::linalg::DenseError;

/// A numerical failure of a solver (never a panic, never a hang).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// The iteration cap was reached before the tolerance.
    #[error("{method}: not converged after {iters} iterations (residual {residual:e} > tolerance {tol:e})")]
    NotConverged {
        /// The method (`"gmres"`, `"newton"`, ...).
        method: &'static str,
        /// Iterations (or operator applications, for the Krylov methods) taken.
        iters: usize,
        /// The last residual (relative for the Krylov methods).
        residual: f64,
        /// The tolerance it was compared with.
        tol: f64,
    },
    /// A division by a vanishing quantity inside the method (a singular or indefinite system).
    #[error("{method}: breakdown at iteration {iter} ({what})")]
    Breakdown {
        /// The method.
        method: &'static str,
        /// The iteration at which it broke down.
        iter: usize,
        /// What vanished.
        what: &'static str,
    },
    /// A NaN or an infinity appeared in an iterate or a residual.
    #[error("{method}: non-finite value at iteration {iter}")]
    NonFinite {
        /// The method.
        method: &'static str,
        /// The iteration at which it appeared.
        iter: usize,
    },
    /// A fixed-point iteration whose steps grow: the map is not a contraction near the iterates.
    #[error("{method}: diverging after {iters} iterations (estimated contraction factor {factor:.4} >= 1)")]
    Diverging {
        /// The method.
        method: &'static str,
        /// Iterations taken.
        iters: usize,
        /// The estimated contraction factor (geometric mean of the recent step ratios).
        factor: f64,
    },
    /// The backtracking line search found no step with sufficient decrease.
    #[error("{method}: line search failed at iteration {iter} (no sufficient decrease after {backtracks} halvings)")]
    LineSearch {
        /// The method.
        method: &'static str,
        /// The outer iteration.
        iter: usize,
        /// Halvings tried.
        backtracks: usize,
    },
    /// A dense factorization failed (a singular Jacobian, ...).
    #[error(transparent)]
    Dense(#[from] DenseError),
}

/// Euclidean norm.
pub(crate) fn norm(v: &ndarray::Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}

/// Whether every entry is finite.
pub(crate) fn finite(v: &ndarray::Array1<f64>) -> bool {
    v.iter().all(|x| x.is_finite())
}
