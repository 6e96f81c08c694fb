//! Sinkhorn projection in the log domain: the matrix with given row and column sums closest in
//! KL divergence to a positive kernel `K = exp(log_k)`,
//!
//! `P = argmin { KL(P ‖ K) : P 1 = a, Pᵀ 1 = b }  =  diag(u) K diag(v)`
//!
//! (Sinkhorn 1967; Cuturi 2013, "Sinkhorn distances"). With `log_k = S / η` it is the
//! entropy-regularized projection `argmax ⟨P, S⟩ + η H(P)` over the same set; with `a = b = 1`
//! (`n x n`) the set is the doubly stochastic matrices, the `Γ = P_{Ω,η}(CᵀC)` of Ding et al.
//! (2023, "Unsupervised manifold linearizing and clustering").
//!
//! The iteration alternates `f_i ← log a_i − LSE_j(log_k_ij + g_j)` and
//! `g_j ← log b_j − LSE_i(log_k_ij + f_i)` on the log scalings `f = log u`, `g = log v` (each
//! log-sum-exp shifted by its maximum), so kernels with entries far below `e^-745` do not
//! underflow as the scaling form `u = a / (K v)` does (Peyré & Cuturi 2019, *Computational
//! Optimal Transport*, §4.4). After a `g` step the column sums are exact; the iteration stops
//! when the row sums are within `tol` in the ℓ∞ norm, or after `max_iter` sweeps (then
//! `converged = false`: MLC runs a fixed number of sweeps, `tol = 0`). Adding `c_i + d_j` to
//! `log_k` leaves `P` unchanged (the scalings absorb it).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// Bad input to [`sinkhorn_log`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SinkhornError {
    /// A marginal is empty, has a non-positive or non-finite entry, or the two masses differ
    /// (relative difference above 1e-10).
    #[error("sinkhorn: {0}")]
    BadMarginals(String),
    /// The log-kernel holds a NaN or `+∞` (entries `−∞`, zero kernel entries, are allowed), or a
    /// row or column of it is entirely `−∞`.
    #[error("sinkhorn: {0}")]
    BadKernel(String),
}

/// Stopping rule: `max_i |(P 1)_i − a_i| <= tol` or `max_iter` sweeps (one sweep = a row and a
/// column update).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SinkhornOpts {
    /// Tolerance on the row marginals (ℓ∞); 0 runs exactly `max_iter` sweeps.
    pub tol: f64,
    /// Cap on sweeps.
    pub max_iter: usize,
}

impl Default for SinkhornOpts {
    fn default() -> Self {
        SinkhornOpts { tol: 1e-9, max_iter: 10_000 }
    }
}

/// The result of [`sinkhorn_log`].
#[derive(Clone, Debug)]
pub struct Sinkhorn {
    /// The plan `P_ij = exp(f_i + log_k_ij + g_j)`.
    pub plan: Array2<f64>,
    /// Row log-scalings `f = log u`.
    pub f: Array1<f64>,
    /// Column log-scalings `g = log v`.
    pub g: Array1<f64>,
    /// Sweeps taken.
    pub iters: usize,
    /// `max_i |(P 1)_i − a_i|` at the end (the column sums are exact up to rounding).
    pub marginal_err: f64,
    /// Whether `marginal_err <= tol`.
    pub converged: bool,
}

/// `log Σ_k exp(x_k)`, shifted by the maximum; `−∞` when every term is `−∞`.
fn lse(it: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = it.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + it.map(|x| (x - m).exp()).sum::<f64>().ln()
}

fn check_marginal(x: &ArrayView1<f64>, name: &str) -> Result<(), SinkhornError> {
    if x.is_empty() {
        return Err(SinkhornError::BadMarginals(format!("{name} is empty")));
    }
    if let Some(i) = x.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(SinkhornError::BadMarginals(format!("{name}[{i}] = {} is not positive and finite", x[i])));
    }
    Ok(())
}

/// Log-domain Sinkhorn: scale `exp(log_k)` (`n x m`) to row sums `a` (length `n`) and column sums
/// `b` (length `m`), with `Σ a = Σ b`. See the module docs.
pub fn sinkhorn_log(
    log_k: ArrayView2<f64>,
    a: ArrayView1<f64>,
    b: ArrayView1<f64>,
    opts: SinkhornOpts,
) -> Result<Sinkhorn, SinkhornError> {
    let (n, m) = log_k.dim();
    assert!(
        a.len() == n && b.len() == m,
        "sinkhorn: marginals of lengths {}, {} for a {n} x {m} kernel",
        a.len(),
        b.len()
    );
    check_marginal(&a, "a")?;
    check_marginal(&b, "b")?;
    let (sa, sb) = (a.sum(), b.sum());
    if (sa - sb).abs() > 1e-10 * sa.max(sb) {
        return Err(SinkhornError::BadMarginals(format!("the masses differ: sum a = {sa}, sum b = {sb}")));
    }
    if let Some(((i, j), _)) = log_k.indexed_iter().find(|(_, v)| v.is_nan() || **v == f64::INFINITY) {
        return Err(SinkhornError::BadKernel(format!("log_k[{i}, {j}] is NaN or +inf")));
    }
    if let Some(i) = (0..n).find(|&i| log_k.row(i).iter().all(|v| *v == f64::NEG_INFINITY)) {
        return Err(SinkhornError::BadKernel(format!("row {i} of the kernel is zero")));
    }
    if let Some(j) = (0..m).find(|&j| log_k.column(j).iter().all(|v| *v == f64::NEG_INFINITY)) {
        return Err(SinkhornError::BadKernel(format!("column {j} of the kernel is zero")));
    }
    let (la, lb) = (a.mapv(f64::ln), b.mapv(f64::ln));
    let mut f = Array1::<f64>::zeros(n);
    let mut g = Array1::<f64>::zeros(m);
    // Row marginal error at the current (f, g): max_i |exp(f_i + LSE_j(log_k_ij + g_j)) − a_i|.
    let row_err = |f: &Array1<f64>, g: &Array1<f64>| -> f64 {
        (0..n)
            .map(|i| {
                let r = log_k.row(i);
                ((f[i] + lse(r.iter().zip(g.iter()).map(|(k, gj)| k + gj))).exp() - a[i]).abs()
            })
            .fold(0.0, f64::max)
    };
    let mut iters = 0;
    let mut err = row_err(&f, &g);
    while iters < opts.max_iter && (err > opts.tol || err.is_nan()) {
        for i in 0..n {
            let r = log_k.row(i);
            f[i] = la[i] - lse(r.iter().zip(g.iter()).map(|(k, gj)| k + gj));
        }
        for j in 0..m {
            let c = log_k.column(j);
            g[j] = lb[j] - lse(c.iter().zip(f.iter()).map(|(k, fi)| k + fi));
        }
        iters += 1;
        err = row_err(&f, &g);
    }
    let plan = Array2::from_shape_fn((n, m), |(i, j)| (f[i] + log_k[[i, j]] + g[j]).exp());
    Ok(Sinkhorn { plan, f, g, iters, marginal_err: err, converged: err <= opts.tol })
}

/// The doubly stochastic projection `argmax_{P 1 = 1, Pᵀ 1 = 1} ⟨P, S⟩ + η H(P)` of a square score
/// matrix `S` (log-kernel `S / η`, unit marginals).
pub fn doubly_stochastic(scores: ArrayView2<f64>, eta: f64, opts: SinkhornOpts) -> Result<Sinkhorn, SinkhornError> {
    let n = scores.nrows();
    assert_eq!(n, scores.ncols(), "doubly_stochastic: the scores must be square, got {:?}", scores.dim());
    assert!(eta > 0.0, "doubly_stochastic: entropy coefficient eta = {eta} must be positive");
    let ones = Array1::ones(n);
    sinkhorn_log((&scores / eta).view(), ones.view(), ones.view(), opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat};
    use proptest::prelude::*;
    use rand::Rng;

    fn marginals(seed: u64, n: usize, m: usize) -> (Array1<f64>, Array1<f64>) {
        let mut rng = Seed(seed).rng();
        let a: Array1<f64> = (0..n).map(|_| rng.random_range(0.1..1.0)).collect();
        let b: Array1<f64> = (0..m).map(|_| rng.random_range(0.1..1.0)).collect();
        let b = &b * (a.sum() / b.sum());
        (a, b)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The marginals hold to the tolerance; adding row and column constants to the
        /// log-kernel changes nothing.
        #[test]
        fn marginals_hold_and_row_column_shifts_are_invariant(seed in 0u64..10_000, n in 1usize..9, m in 1usize..9) {
            let lk = gaussian_mat(&mut Seed(seed).child("k").rng(), n, m, 2.0);
            let (a, b) = marginals(seed, n, m);
            let opts = SinkhornOpts { tol: 1e-11, max_iter: 100_000 };
            let s = sinkhorn_log(lk.view(), a.view(), b.view(), opts).unwrap();
            prop_assert!(s.converged);
            prop_assert!(s.plan.iter().all(|p| *p >= 0.0));
            let rows = s.plan.sum_axis(ndarray::Axis(1));
            let cols = s.plan.sum_axis(ndarray::Axis(0));
            prop_assert!((&rows - &a).iter().all(|v| v.abs() <= 1e-11));
            prop_assert!((&cols - &b).iter().all(|v| v.abs() <= 1e-12));
            let mut rng = Seed(seed).child("shift").rng();
            let c: Vec<f64> = (0..n).map(|_| rng.random_range(-50.0..50.0)).collect();
            let d: Vec<f64> = (0..m).map(|_| rng.random_range(-50.0..50.0)).collect();
            let shifted = Array2::from_shape_fn((n, m), |(i, j)| lk[[i, j]] + c[i] + d[j]);
            let t = sinkhorn_log(shifted.view(), a.view(), b.view(), opts).unwrap();
            prop_assert!((&t.plan - &s.plan).iter().all(|v| v.abs() <= 1e-9), "{} vs {}", t.plan, s.plan);
        }
    }

    /// On a small kernel the log-domain iterates equal the classical scaling form
    /// `u = a / (K v)`, `v = b / (Kᵀ u)` sweep by sweep.
    #[test]
    fn equals_the_scaling_form() {
        let lk = gaussian_mat(&mut Seed(5).rng(), 3, 4, 1.0);
        let (a, b) = marginals(5, 3, 4);
        let k = lk.mapv(f64::exp);
        let mut v = Array1::<f64>::ones(4);
        let mut u = Array1::<f64>::ones(3);
        for _ in 0..7 {
            u = &a / &k.dot(&v);
            v = &b / &k.t().dot(&u);
        }
        let s = sinkhorn_log(lk.view(), a.view(), b.view(), SinkhornOpts { tol: 0.0, max_iter: 7 }).unwrap();
        assert_eq!(s.iters, 7);
        assert!(!s.converged);
        let p = Array2::from_shape_fn((3, 4), |(i, j)| u[i] * k[[i, j]] * v[j]);
        assert!((&s.plan - &p).iter().all(|x| x.abs() < 1e-14));
        assert!(
            (&s.f.mapv(f64::exp) - &u).iter().all(|x| x.abs() < 1e-12 * u.iter().fold(0.0f64, |m, v| m.max(v.abs())))
        );
    }

    #[test]
    fn doubly_stochastic_and_bad_input() {
        // Scores CᵀC of unit-norm columns, as in MLC; tiny η makes kernel entries e^{-1000}.
        let c = gaussian_mat(&mut Seed(9).rng(), 4, 10, 1.0);
        let c = &c / &c.map_axis(ndarray::Axis(0), |col| col.dot(&col).sqrt());
        let s = c.t().dot(&c);
        for eta in [1.0, 0.1, 0.001] {
            let p = doubly_stochastic(s.view(), eta, SinkhornOpts { tol: 1e-6, max_iter: 100_000 }).unwrap();
            assert!(p.converged, "eta = {eta}");
            assert!(p.plan.iter().all(|x| x.is_finite() && *x >= 0.0));
            for axis in [0, 1] {
                let sums = p.plan.sum_axis(ndarray::Axis(axis));
                assert!(sums.iter().all(|v| (v - 1.0).abs() <= 1e-6), "eta = {eta}: {sums}");
            }
        }
        // A symmetric score gives a symmetric plan.
        let p = doubly_stochastic(s.view(), 0.5, SinkhornOpts::default()).unwrap();
        assert!((&p.plan - &p.plan.t()).iter().all(|v| v.abs() < 1e-8));
        let one = Array1::ones(2);
        let lk = Array2::zeros((2, 2));
        let half = Array1::from(vec![0.5, 0.5]);
        assert!(matches!(
            sinkhorn_log(lk.view(), one.view(), half.view(), SinkhornOpts::default()),
            Err(SinkhornError::BadMarginals(_))
        ));
        let mut bad = Array2::zeros((2, 2));
        bad[[0, 0]] = f64::NAN;
        assert!(matches!(
            sinkhorn_log(bad.view(), one.view(), one.view(), SinkhornOpts::default()),
            Err(SinkhornError::BadKernel(_))
        ));
        let mut zero_row = Array2::zeros((2, 2));
        zero_row.row_mut(1).fill(f64::NEG_INFINITY);
        assert!(matches!(
            sinkhorn_log(zero_row.view(), one.view(), one.view(), SinkhornOpts::default()),
            Err(SinkhornError::BadKernel(_))
        ));
    }
}
