//! Numerical rank with the cut at the largest spectral gap, and a rank-aware pseudo-inverse.
//!
//! A matrix computed in floating point rarely has exact zeros in its spectrum: a rank-`r` matrix
//! has `min(m, n) − r` singular values at the rounding level, and a matrix that is rank `r` "up to
//! a perturbation" has them at the perturbation's level. A fixed relative tolerance (numpy's
//! `rcond`) decides the rank by where that level falls relative to an arbitrary constant; here the
//! rank is cut where the spectrum jumps most:
//!
//! * values at or below the **floor** (`floor_rel · σ_max`, by default `√ε σ_max ≈ 1.5e-8 σ_max`:
//!   half the digits, the level below which a value cannot be told from rounding once squared, as
//!   in a Gram or covariance matrix) are numerically zero;
//! * among the values above the floor, sorted descending `σ_1 ≥ … ≥ σ_p`, the cut after position
//!   `i` has **gap** `σ_i / σ_{i+1}` for `i < p`, and the cut after `p` (keep everything above the
//!   floor) has gap `σ_p / max(σ_{p+1}, floor)`, its distance to the rounding level;
//! * the rank is the cut with the largest gap (the first one on ties); the **tolerance** reported
//!   is the geometric mean of the last kept value and the first dropped one (or the floor), so that
//!   "values above `tol`" is the kept set.
//!
//! [`NumericalRank`] carries the rank, the tolerance and the gap so a study can report how clear
//! the cut was (a gap of 10 is a judgement call, a gap of 10¹⁰ is not). [`pinv_ranked`] (any
//! matrix, through the thin SVD) and [`pinv_psd`] (symmetric PSD, through `eigh`) invert the kept
//! part only: the Moore–Penrose inverse of the matrix restricted to its numerical range. Non-finite
//! input is a typed [`RankError`], never a panic or a NaN result.
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::{Mat, Par};
use ndarray::{Array2, ArrayView2};

use super::dense::{eigh, from_faer, singular_values, to_faer};

/// The numerical rank of a matrix (or of a PSD matrix from its eigenvalues), with the cut used.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NumericalRank {
    /// The number of values kept (above `tol`).
    pub rank: usize,
    /// The cut: values above it are kept. The geometric mean of the last kept value and the
    /// first dropped one (or the floor when nothing above the floor is dropped); the floor when the
    /// rank is 0.
    pub tol: f64,
    /// The ratio at the cut: `σ_rank / max(σ_{rank+1}, floor)`; `f64::INFINITY` when the cut
    /// meets an exact zero or the rank is 0 (an all-zero matrix).
    pub gap: f64,
    /// The absolute floor below which values counted as zero (`floor_rel · σ_max`).
    pub floor: f64,
}

/// Input the rank and pseudo-inverse cannot be computed from.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RankError {
    /// A NaN or infinite entry.
    #[error("numerical rank: entry {index:?} is not finite ({value})")]
    NonFinite {
        /// The (row, col) of a matrix entry, or (i, 0) of a value in a list.
        index: (usize, usize),
        /// The entry.
        value: f64,
    },
    /// An eigenvalue below `−floor`: the matrix given as PSD is not (beyond rounding).
    #[error("numerical rank: eigenvalue {value:e} is below −{floor:e}; the matrix is not positive semi-definite")]
    NotPsd {
        /// The most negative eigenvalue.
        value: f64,
        /// The floor it was compared with.
        floor: f64,
    },
    /// A relative floor outside (0, 1).
    #[error("numerical rank: the relative floor must lie in (0, 1), got {0}")]
    BadFloor(f64),
}

fn check_finite(a: &ArrayView2<f64>) -> Result<(), RankError> {
    match a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((i, j), &v)) => Err(RankError::NonFinite { index: (i, j), value: v }),
        None => Ok(()),
    }
}

/// The rank of a list of non-negative spectral values (singular values, or the eigenvalues of a
/// PSD matrix clamped at 0) with the cut at the largest gap above `floor_rel · max`. The values
/// may come in any order.
pub fn rank_of_values(values: &[f64], floor_rel: f64) -> Result<NumericalRank, RankError> {
    if !(floor_rel > 0.0 && floor_rel < 1.0) {
        return Err(RankError::BadFloor(floor_rel));
    }
    if let Some((i, &v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(RankError::NonFinite { index: (i, 0), value: v });
    }
    let mut s: Vec<f64> = values.iter().map(|v| v.abs()).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    let smax = s.first().copied().unwrap_or(0.0);
    let floor = floor_rel * smax;
    let above = s.iter().take_while(|&&v| v > floor).count();
    if above == 0 {
        return Ok(NumericalRank { rank: 0, tol: floor, gap: f64::INFINITY, floor });
    }
    let below = |i: usize| s.get(i).copied().unwrap_or(0.0).max(floor);
    let ratio = |i: usize| {
        let lo = if i < above { s[i] } else { below(i) };
        if lo > 0.0 { s[i - 1] / lo } else { f64::INFINITY }
    };
    // Cut after position `r` (1-based rank r), r = 1..=above; the first maximum wins.
    let (mut rank, mut gap) = (above, ratio(above));
    for r in 1..above {
        let g = ratio(r);
        if g > gap || (g == gap && r < rank) {
            (rank, gap) = (r, g);
        }
    }
    let next = if rank < above { s[rank] } else { below(rank) };
    let tol = (s[rank - 1] * next).sqrt();
    Ok(NumericalRank { rank, tol, gap, floor })
}

/// The default relative floor, `√ε ≈ 1.49e-8`: a value that far below the largest is at the
/// rounding level once squared. Without a floor of this kind the rule has no scale: a tail at
/// `1e-8 σ_max` is as far from the rounding level (`1e-16`) as it is from `σ_max`.
pub const DEFAULT_FLOOR_REL: f64 = 1.4901161193847656e-8;

/// The default relative floor of [`psd_rank`] and [`pinv_psd`] on eigenvalues: `ε`, the square of
/// [`DEFAULT_FLOOR_REL`].
pub const DEFAULT_FLOOR_REL_PSD: f64 = f64::EPSILON;

/// The numerical rank of `a` from its singular values (floor `√ε σ_max`).
pub fn numerical_rank(a: ArrayView2<f64>) -> Result<NumericalRank, RankError> {
    numerical_rank_with(a, DEFAULT_FLOOR_REL)
}

/// [`numerical_rank`] with the relative floor given.
pub fn numerical_rank_with(a: ArrayView2<f64>, floor_rel: f64) -> Result<NumericalRank, RankError> {
    check_finite(&a)?;
    if a.nrows().min(a.ncols()) == 0 {
        return rank_of_values(&[], floor_rel);
    }
    let s = singular_values(&a.to_owned());
    rank_of_values(s.as_slice().expect("contiguous"), floor_rel)
}

/// The numerical rank of a symmetric PSD matrix from its eigenvalues (any order): eigenvalues in
/// `[−√ε λ_max, 0]` are rounding (clamped to zero), one below `−√ε λ_max` is
/// [`RankError::NotPsd`]. The floor is `floor_rel · λ_max`, by default ([`None`])
/// [`DEFAULT_FLOOR_REL_PSD`] `= ε`: eigenvalues are squares of singular values, so the floor of
/// [`numerical_rank`] squared.
pub fn psd_rank(eigenvalues: &[f64], floor_rel: Option<f64>) -> Result<NumericalRank, RankError> {
    let floor_rel = floor_rel.unwrap_or(DEFAULT_FLOOR_REL_PSD);
    if let Some((i, &v)) = eigenvalues.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(RankError::NonFinite { index: (i, 0), value: v });
    }
    let lmax = eigenvalues.iter().fold(0.0f64, |m, &v| m.max(v));
    let lmin = eigenvalues.iter().fold(0.0f64, |m, &v| m.min(v));
    let neg = DEFAULT_FLOOR_REL * lmax;
    if lmin < -neg {
        return Err(RankError::NotPsd { value: lmin, floor: neg });
    }
    let clamped: Vec<f64> = eigenvalues.iter().map(|&v| v.max(0.0)).collect();
    rank_of_values(&clamped, floor_rel)
}

/// Thin SVD `a = u diag(s) vᵀ` (faer, sequential so the bits do not depend on the thread count):
/// `u` m x k, `s` descending, `v` n x k, k = min(m, n).
fn thin_svd(a: ArrayView2<f64>) -> (Array2<f64>, Vec<f64>, Array2<f64>) {
    use faer::linalg::svd::{self, ComputeSvdVectors};
    let (m, n) = a.dim();
    let k = m.min(n);
    let (mut s, mut u, mut v) = (Diag::<f64>::zeros(k), Mat::<f64>::zeros(m, k), Mat::<f64>::zeros(n, k));
    let thin = ComputeSvdVectors::Thin;
    let req = svd::svd_scratch::<f64>(m, n, thin, thin, Par::Seq, Default::default());
    svd::svd(
        to_faer(a).as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        Some(v.as_mut()),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(req)),
        Default::default(),
    )
    .expect("svd converged");
    (from_faer(u.as_ref()), (0..k).map(|i| s[i]).collect(), from_faer(v.as_ref()))
}

/// The rank-aware pseudo-inverse (`n x m`) of an `m x n` matrix: `V_r diag(1/σ_i) U_rᵀ` over the
/// `r` singular values kept by the largest-gap cut ([`numerical_rank`]'s rule, floor
/// `floor_rel · σ_max`, by default ([`None`]) `√ε σ_max`), with that cut. It is the Moore–Penrose
/// inverse of the truncated matrix `A_r = U_r diag(σ) V_rᵀ`.
pub fn pinv_ranked(a: ArrayView2<f64>, floor_rel: Option<f64>) -> Result<(Array2<f64>, NumericalRank), RankError> {
    check_finite(&a)?;
    let floor_rel = floor_rel.unwrap_or(DEFAULT_FLOOR_REL);
    let (m, n) = a.dim();
    if m.min(n) == 0 {
        return Ok((Array2::zeros((n, m)), rank_of_values(&[], floor_rel)?));
    }
    let (u, s, v) = thin_svd(a);
    let nr = rank_of_values(&s, floor_rel)?;
    // The SVD returns s descending, so the kept values are the first `rank`.
    let r = nr.rank;
    let vs = Array2::from_shape_fn((n, r), |(i, j)| v[[i, j]] / s[j]);
    let ut = u.slice(ndarray::s![.., ..r]).t().to_owned();
    Ok((vs.dot(&ut), nr))
}

/// The rank-aware pseudo-inverse of a symmetric PSD matrix through `eigh` (its lower triangle is
/// read): `V_r diag(1/λ_i) V_rᵀ` over the eigenvalues kept by [`psd_rank`]'s cut, with that cut.
pub fn pinv_psd(a: ArrayView2<f64>, floor_rel: Option<f64>) -> Result<(Array2<f64>, NumericalRank), RankError> {
    check_finite(&a)?;
    let n = a.nrows();
    assert_eq!(n, a.ncols(), "pinv_psd: the matrix must be square, got {:?}", a.dim());
    if n == 0 {
        return Ok((Array2::zeros((0, 0)), rank_of_values(&[], floor_rel.unwrap_or(DEFAULT_FLOOR_REL_PSD))?));
    }
    let (w, q) = eigh(&a.to_owned());
    let nr = psd_rank(w.as_slice().expect("contiguous"), floor_rel)?;
    // Ascending eigenvalues: the kept ones are the last `rank`.
    let keep: Vec<usize> = (n - nr.rank..n).collect();
    let qs = Array2::from_shape_fn((n, keep.len()), |(i, j)| q[[i, keep[j]]] / w[keep[j]]);
    let qk = Array2::from_shape_fn((keep.len(), n), |(j, i)| q[[i, keep[j]]]);
    let p = qs.dot(&qk);
    Ok(((&p + &p.t()) * 0.5, nr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{haar_orthogonal, inv, pinv};
    use crate::rng::{Seed, gaussian_mat};
    use ndarray::Array1;
    use proptest::prelude::*;

    fn max_abs(a: &Array2<f64>) -> f64 {
        a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
    }

    /// `U diag(s) Vᵀ` with Haar U (m x m) and V (n x n), s given (length min(m, n)).
    fn with_singular_values(seed: u64, m: usize, n: usize, s: &[f64]) -> Array2<f64> {
        let u = haar_orthogonal(&mut Seed(seed).child("u").rng(), m);
        let v = haar_orthogonal(&mut Seed(seed).child("v").rng(), n);
        let k = m.min(n);
        let d = Array2::from_shape_fn((m, n), |(i, j)| if i == j && i < k { s[i] } else { 0.0 });
        u.dot(&d).dot(&v.t())
    }

    /// The four Moore–Penrose identities of `p` as a pseudo-inverse of `a`, worst relative error.
    fn penrose(a: &Array2<f64>, p: &Array2<f64>) -> f64 {
        let ap = a.dot(p);
        let pa = p.dot(a);
        let na = max_abs(a).max(1e-300);
        let np = max_abs(p).max(1e-300);
        let e1 = max_abs(&(&ap.dot(a) - a)) / na;
        let e2 = max_abs(&(&pa.dot(p) - p)) / np;
        let e3 = max_abs(&(&ap - &ap.t()));
        let e4 = max_abs(&(&pa - &pa.t()));
        e1.max(e2).max(e3).max(e4)
    }

    #[test]
    fn a_planted_gap_is_found_with_its_ratio() {
        // rank 3 with values in [1, 4], then a gap of 1e6 down to a tail in [1e-6, 4e-6].
        let s = [4.0, 2.5, 1.0, 4e-6, 2e-6, 1e-6];
        let a = with_singular_values(7, 9, 6, &s);
        let nr = numerical_rank(a.view()).unwrap();
        assert_eq!(nr.rank, 3);
        assert!((nr.gap / 2.5e5 - 1.0).abs() < 1e-6, "gap {}", nr.gap);
        assert!(nr.tol < 1.0 && nr.tol > 4e-6 && (nr.tol - (4e-6f64).sqrt()).abs() < 1e-9);
        // The pseudo-inverse is that of the truncated matrix: norm 1/σ_3, not 1/σ_6.
        let (p, r2) = pinv_ranked(a.view(), None).unwrap();
        assert_eq!(r2, nr);
        let top = singular_values(&p);
        assert!((top[0] - 1.0).abs() < 1e-9, "‖A⁺‖ = {}", top[0]);
        let a3 = with_singular_values(7, 9, 6, &[4.0, 2.5, 1.0, 0.0, 0.0, 0.0]);
        assert!(penrose(&a3, &p) < 1e-12, "Moore–Penrose on the numerical range: {}", penrose(&a3, &p));
        // On the full matrix, A A⁺ A misses exactly the dropped tail.
        assert!((max_abs(&(&a.dot(&p).dot(&a) - &a)) - max_abs(&(&a - &a3))).abs() < 1e-12);
        // numpy's fixed rcond keeps the tail and inverts it: a norm of 1e6.
        assert!(singular_values(&pinv(a.view(), None))[0] > 9e5);
    }

    #[test]
    fn full_rank_is_kept_and_pinv_is_the_inverse() {
        let s: Vec<f64> = (0..8).map(|i| 1.0 + 0.3 * i as f64).collect();
        let a = with_singular_values(3, 8, 8, &s);
        let (p, nr) = pinv_ranked(a.view(), None).unwrap();
        assert_eq!(nr.rank, 8);
        assert!(nr.gap > 1e6, "gap to the floor {}", nr.gap);
        assert!(max_abs(&(&p - &inv(a.view()).unwrap())) < 1e-12);
        let spd = a.t().dot(&a);
        let (ps, nrs) = pinv_psd(spd.view(), None).unwrap();
        assert_eq!(nrs.rank, 8);
        assert!(max_abs(&(&ps - &inv(spd.view()).unwrap())) < 1e-11);
    }

    #[test]
    fn all_zero_and_empty_have_rank_zero() {
        let z = Array2::<f64>::zeros((5, 3));
        let (p, nr) = pinv_ranked(z.view(), None).unwrap();
        assert_eq!((nr.rank, p.dim()), (0, (3, 5)));
        assert!(nr.gap.is_infinite() && max_abs(&p) == 0.0);
        let (ps, nrs) = pinv_psd(Array2::<f64>::zeros((4, 4)).view(), None).unwrap();
        assert_eq!(nrs.rank, 0);
        assert_eq!(max_abs(&ps), 0.0);
        assert_eq!(numerical_rank(Array2::<f64>::zeros((0, 3)).view()).unwrap().rank, 0);
        assert_eq!(pinv_ranked(Array2::<f64>::zeros((0, 3)).view(), None).unwrap().0.dim(), (3, 0));
    }

    #[test]
    fn non_finite_input_is_a_typed_error() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut a = Array2::<f64>::eye(4);
            a[[2, 1]] = bad;
            let want = |e: RankError| matches!(e, RankError::NonFinite { index: (2, 1), .. });
            assert!(want(numerical_rank(a.view()).unwrap_err()));
            assert!(want(pinv_ranked(a.view(), None).unwrap_err()));
            assert!(want(pinv_psd(a.view(), None).unwrap_err()));
            assert!(matches!(rank_of_values(&[1.0, bad], 1e-12), Err(RankError::NonFinite { index: (1, 0), .. })));
            assert!(matches!(psd_rank(&[bad, 1.0], None), Err(RankError::NonFinite { index: (0, 0), .. })));
        }
        assert!(matches!(rank_of_values(&[1.0], 0.0), Err(RankError::BadFloor(_))));
        assert!(matches!(rank_of_values(&[1.0], f64::NAN), Err(RankError::BadFloor(_))));
    }

    #[test]
    fn an_indefinite_matrix_is_not_psd() {
        let a = Array2::from_diag(&Array1::from(vec![2.0, 1.0, -0.5]));
        assert!(matches!(pinv_psd(a.view(), None), Err(RankError::NotPsd { .. })));
        // A rounding-level negative eigenvalue is a zero, not an error.
        let ok = psd_rank(&[-1e-17, 1.0, 2.0], None).unwrap();
        assert_eq!(ok.rank, 2);
    }

    #[test]
    fn ties_take_the_first_cut() {
        let nr = rank_of_values(&[8.0, 4.0, 2.0, 1.0], 1e-3).unwrap();
        // Ratios 2, 2, 2 inside and 1/(8e-3) = 125 to the floor: full rank.
        assert_eq!(nr.rank, 4);
        let nr = rank_of_values(&[1.0, 1e-2, 1e-4], 1e-9).unwrap();
        // Ratios 100, 100 and 1e-4/1e-9 = 1e5: full rank; with a larger floor the first gap wins.
        assert_eq!(nr.rank, 3);
        let nr = rank_of_values(&[1.0, 1e-2, 1e-4], 2e-6).unwrap();
        assert_eq!((nr.rank, nr.gap), (1, 100.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

        /// Products of random factors B (m x r) C (r x n) have rank r; the pseudo-inverse
        /// satisfies the four Moore–Penrose identities and matches numpy-style pinv there.
        #[test]
        fn random_factors_have_their_rank(seed in 0u64..100_000, m in 1usize..13, n in 1usize..13, rf in 0.0f64..1.0) {
            let r = ((m.min(n) + 1) as f64 * rf).floor() as usize;
            let r = r.min(m.min(n));
            let mut rng = Seed(seed).rng();
            let b = gaussian_mat(&mut rng, m, r, 1.0);
            let c = gaussian_mat(&mut rng, r, n, 1.0);
            let a = b.dot(&c);
            let (p, nr) = pinv_ranked(a.view(), None).unwrap();
            prop_assert_eq!(nr.rank, r);
            if r > 0 {
                // Below the cut the values sit at rounding level, under the floor, so the gap is
                // σ_r/(√ε σ_1) = 6.7e7/κ_r: a clear cut wherever the factors are not themselves
                // ill-conditioned (random Gaussian squares reach κ > 1e4 in about 1 case of 2000).
                let sv = crate::linalg::dense::singular_values(&a);
                let kappa = sv[0] / sv[r - 1];
                prop_assert!(nr.gap > 1e4 || kappa > 1e3, "gap {} at κ_r {kappa:e}", nr.gap);
                prop_assert!(penrose(&a, &p) < 1e-8, "penrose {}", penrose(&a, &p));
            }
            if r == m.min(n) {
                // Full rank: no rounding-level tail, so the fixed-rcond pinv agrees.
                let reference = pinv(a.view(), None);
                prop_assert!(max_abs(&(&p - &reference)) <= 1e-8 * max_abs(&reference).max(1.0));
            }
            // The PSD route on the Gram matrix: rank r, Moore–Penrose on AᵀA.
            let g = a.t().dot(&a);
            let (pg, ng) = pinv_psd(g.view(), None).unwrap();
            prop_assert_eq!(ng.rank, r);
            if r > 0 {
                prop_assert!(penrose(&g, &pg) < 1e-6, "penrose psd {}", penrose(&g, &pg));
            }
        }

        /// A planted gap of `10^lg` below `r` leading values is the cut, whatever the shape (from
        /// `lg = 5` the gap dominates the tail's distance to the floor, `10^(7.8 − lg)`).
        #[test]
        fn planted_gaps_are_cut(seed in 0u64..100_000, m in 2usize..12, n in 2usize..12, rf in 0.0f64..1.0, lg in 5.0f64..12.0) {
            let k = m.min(n);
            let r = 1 + ((k - 1) as f64 * rf).floor() as usize;
            let r = r.min(k - 1).max(1);
            let mut rng = Seed(seed).child("s").rng();
            use rand::Rng;
            let s: Vec<f64> = (0..k)
                .map(|i| {
                    let base = rng.random_range(1.0..3.0);
                    if i < r { base } else { base * 10f64.powf(-lg) }
                })
                .collect();
            let mut s = s;
            s.sort_by(|a, b| b.total_cmp(a));
            let a = with_singular_values(seed, m, n, &s);
            let nr = numerical_rank(a.view()).unwrap();
            prop_assert_eq!(nr.rank, r);
            let want = s[r - 1] / s[r].max(nr.floor);
            prop_assert!((nr.gap / want - 1.0).abs() < 1e-3, "gap {} vs {}", nr.gap, want);
            prop_assert!(nr.tol < s[r - 1] && nr.tol > s[r].min(nr.floor));
        }
    }
}
