//! Tridiagonal systems by the Thomas algorithm (Gaussian elimination without pivoting, O(n)):
//! for `lower[i] x[i-1] + diag[i] x[i] + upper[i] x[i+1] = rhs[i]` (`lower[0]` and
//! `upper[n-1]` unused),
//!
//! `c'_0 = u_0 / d_0`, `c'_i = u_i / (d_i − l_i c'_{i−1})`,
//! `r'_i = (r_i − l_i r'_{i−1}) / (d_i − l_i c'_{i−1})`, then `x_{n−1} = r'_{n−1}`,
//! `x_i = r'_i − c'_i x_{i+1}`
//!
//! (Golub & Van Loan 2013, *Matrix Computations*, §4.3.6). Stable without pivoting for
//! diagonally dominant or SPD matrices, which the implicit diffusion steps of [`super::fv1d`]
//! are; a pivot that vanishes or is not finite is a typed [`SolveError::Breakdown`].

use ndarray::Array1;

use super::SolveError;

/// Solve the tridiagonal system in place (`rhs` becomes `x`), with `scratch` (length `n`) for
/// the modified super-diagonal: no allocation. Panics on mismatched lengths.
pub fn solve_tridiagonal_in_place(
    lower: &[f64],
    diag: &[f64],
    upper: &[f64],
    rhs: &mut [f64],
    scratch: &mut [f64],
) -> Result<(), SolveError> {
    let n = diag.len();
    assert!(
        lower.len() == n && upper.len() == n && rhs.len() == n && scratch.len() == n,
        "tridiagonal: lengths lower {}, diag {n}, upper {}, rhs {}, scratch {} must all be equal",
        lower.len(),
        upper.len(),
        rhs.len(),
        scratch.len()
    );
    let breakdown = |iter| SolveError::Breakdown { method: "tridiagonal", iter, what: "zero or non-finite pivot" };
    for i in 0..n {
        let piv = if i == 0 { diag[0] } else { diag[i] - lower[i] * scratch[i - 1] };
        if piv == 0.0 || !piv.is_finite() {
            return Err(breakdown(i));
        }
        scratch[i] = upper[i] / piv;
        rhs[i] = if i == 0 { rhs[0] / piv } else { (rhs[i] - lower[i] * rhs[i - 1]) / piv };
    }
    for i in (0..n.saturating_sub(1)).rev() {
        rhs[i] -= scratch[i] * rhs[i + 1];
    }
    if rhs.iter().any(|x| !x.is_finite()) {
        return Err(SolveError::NonFinite { method: "tridiagonal", iter: n });
    }
    Ok(())
}

/// Solve the tridiagonal system (see the module docs) into a new vector.
pub fn solve_tridiagonal(lower: &[f64], diag: &[f64], upper: &[f64], rhs: &[f64]) -> Result<Array1<f64>, SolveError> {
    let mut x = rhs.to_vec();
    let mut scratch = vec![0.0; diag.len()];
    solve_tridiagonal_in_place(lower, diag, upper, &mut x, &mut scratch)?;
    Ok(Array1::from(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;
    use ndarray::Array2;
    use proptest::prelude::*;
    use rand::Rng;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Thomas agrees with a dense pivoted LU on diagonally dominant systems.
        #[test]
        fn thomas_matches_dense_lu(seed in 0u64..10_000, n in 1usize..40) {
            let mut rng = Seed(seed).rng();
            let mut r = |a: f64, b: f64| -> Vec<f64> { (0..n).map(|_| rng.random_range(a..b)).collect() };
            let (l, u, rhs) = (r(-1.0, 1.0), r(-1.0, 1.0), r(-5.0, 5.0));
            let d: Vec<f64> = r(2.1, 4.0);
            let mut a = Array2::zeros((n, n));
            for i in 0..n {
                a[[i, i]] = d[i];
                if i > 0 {
                    a[[i, i - 1]] = l[i];
                }
                if i + 1 < n {
                    a[[i, i + 1]] = u[i];
                }
            }
            let x = solve_tridiagonal(&l, &d, &u, &rhs).unwrap();
            let want = crate::linalg::solve(a.view(), ndarray::ArrayView1::from(&rhs)).unwrap();
            prop_assert!((&x - &want).iter().all(|v| v.abs() < 1e-12), "{x} vs {want}");
        }
    }

    #[test]
    fn zero_pivot_is_a_typed_error() {
        let e = solve_tridiagonal(&[0.0, 1.0], &[1.0, 1.0], &[1.0, 0.0], &[1.0, 1.0]).unwrap_err();
        assert!(matches!(e, SolveError::Breakdown { iter: 1, .. }), "{e}");
        assert_eq!(solve_tridiagonal(&[], &[], &[], &[]).unwrap().len(), 0);
    }
}
