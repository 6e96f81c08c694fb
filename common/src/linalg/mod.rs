//! Linear algebra: dense helpers over ndarray with faer for factorizations and
//! eigen-decompositions; matrix-free operators and Krylov methods.

pub mod assign;
pub mod dense;
pub mod krylov;
pub mod ops;
pub mod power;
pub mod rank;
pub mod sparse;
pub mod trace;

pub use dense::{
    Cholesky, DenseError, Lu, Triangle, cholesky, cholesky_solve_in_place, eigh, eigvalsh, haar_orthogonal, inv,
    logdet_spd, lu, pinv, qr, sherman_morrison, sherman_morrison_solve, singular_values, slogdet, solve, solve_spd,
    solve_triangular, woodbury, woodbury_solve,
};
pub use krylov::{
    CgResult, Lanczos, bottom_eigs, cg, lanczos, lanczos_restarted, pcg, slq, slq_density, slq_trace, top_eigs,
};
pub use ops::{Counted, FnOp, LinOp, Shifted};
pub use power::{power_iteration, power_iteration_from, top_eigs_power};
pub use sparse::{CsrMatrix, Ic0, SparseError, laplacian_1d, laplacian_2d, laplacian_3d};
pub use trace::{hutchinson_samples, hutchinson_trace, mean_var};

#[cfg(test)]
pub(crate) mod tests;
