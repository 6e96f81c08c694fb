//! Per-sample losses on a model's outputs ("logits") `f_i`, with their gradients and Hessian-vector
//! products with respect to `f_i` (what backprop, the R-operator and the Gauss-Newton product need).
//!
//! Conventions (`q` = the target row: a one-hot row for a class label, or the given row):
//! - [`Loss::Mse`]: `ℓ(f, y) = 0.5 * ||f - y||^2`, so the batch loss is
//!   `0.5 * mean_i ||f_i - y_i||^2` (summed over outputs, averaged over samples); gradient `f - y`,
//!   Hessian `I`. Class labels are regressed on as one-hot rows.
//! - [`Loss::SoftmaxCe`]: `ℓ = -sum_k q_k log softmax(f)_k = Q lse(f) - q.f` with `Q = sum_k q_k`;
//!   `lse` is computed with the max shift, so logits of 1e4 or more are exact and finite. Gradient
//!   `Q p - q`, Hessian `Q (diag p - p p^T)`, `p = softmax(f)`.
//! - [`Loss::StableMaxCe`]: as softmax CE with `exp` replaced by
//!   `s(x) = x + 1` for `x >= 0` and `1 / (1 - x)` for `x < 0` (Prieto et al., "Grokking at the Edge
//!   of Numerical Stability", 2025): `p_k = s(f_k) / sum_j s(f_j)`, `ℓ = -sum_k q_k log p_k`.
//!   `s` is C^1 with a jump of `s''` at 0 (2 from the left, 0 from the right); the Hessian uses the
//!   one-sided value `s''(0) = 0`.
//!
//! All batch functions take `f` (`n x out`) and return per-sample quantities (not divided by `n`)
//! except [`Loss::value`], which is the batch mean.
use super::{TargetRow, Targets};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis, Zip};
use serde::{Deserialize, Serialize};

/// A per-sample loss on a model's outputs (see the module doc for the exact formulas).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Loss {
    /// `0.5 * ||f - y||^2` (summed over outputs).
    Mse,
    /// Softmax cross-entropy.
    SoftmaxCe,
    /// StableMax cross-entropy (Prieto et al. 2025).
    StableMaxCe,
}

/// `s(x)`, `s'(x)/s(x)`, `s''(x)/s(x)` and `log s(x)` of StableMax, in forms that stay accurate
/// for large `|x|`.
#[inline]
fn stablemax_parts(x: f64) -> (f64, f64, f64, f64) {
    if x >= 0.0 {
        (x + 1.0, 1.0 / (x + 1.0), 0.0, x.ln_1p())
    } else {
        let r = 1.0 / (1.0 - x);
        (r, r, 2.0 * r * r, -(-x).ln_1p())
    }
}

/// StableMax transform `s` applied elementwise (unnormalised).
pub fn stablemax_s(x: f64) -> f64 {
    stablemax_parts(x).0
}

fn max_of(f: ArrayView1<f64>) -> f64 {
    f.fold(f64::NEG_INFINITY, |m, &v| m.max(v))
}

impl Loss {
    /// Mean loss over the batch.
    pub fn value(&self, f: ArrayView2<f64>, y: &Targets) -> f64 {
        let n = f.nrows();
        y.check(n, f.ncols());
        if n == 0 {
            return 0.0;
        }
        (0..n).map(|i| self.row_value(f.row(i), y.row(i), None)).sum::<f64>() / n as f64
    }

    /// Per-sample losses ℓ_i.
    pub fn per_sample(&self, f: ArrayView2<f64>, y: &Targets) -> Array1<f64> {
        y.check(f.nrows(), f.ncols());
        Array1::from_shape_fn(f.nrows(), |i| self.row_value(f.row(i), y.row(i), None))
    }

    /// Mean loss and the per-sample gradients `dℓ_i/df_i` (`n x out`, NOT divided by `n`).
    pub fn value_grad(&self, f: ArrayView2<f64>, y: &Targets) -> (f64, Array2<f64>) {
        let n = f.nrows();
        y.check(n, f.ncols());
        let mut g = Array2::zeros(f.raw_dim());
        let mut total = 0.0;
        for (i, gi) in g.axis_iter_mut(Axis(0)).enumerate() {
            total += self.row_value(f.row(i), y.row(i), Some(gi));
        }
        (if n == 0 { 0.0 } else { total / n as f64 }, g)
    }

    /// Row `i` = `∇²ℓ_i(f_i) r_i` (`n x out`, NOT divided by `n`).
    pub fn hess_vec(&self, f: ArrayView2<f64>, y: &Targets, r: ArrayView2<f64>) -> Array2<f64> {
        y.check(f.nrows(), f.ncols());
        assert_eq!(f.dim(), r.dim(), "hess_vec: direction shape");
        let mut out = Array2::zeros(f.raw_dim());
        for (i, oi) in out.axis_iter_mut(Axis(0)).enumerate() {
            self.row_hess_vec(f.row(i), y.row(i), r.row(i), oi);
        }
        out
    }

    /// The explicit Hessian `∇²ℓ(f)` of one sample (`out x out`).
    pub fn hessian_row(&self, f: ArrayView1<f64>, y: TargetRow) -> Array2<f64> {
        let k = f.len();
        let mut h = Array2::zeros((k, k));
        let mut e = Array1::zeros(k);
        for j in 0..k {
            e.fill(0.0);
            e[j] = 1.0;
            self.row_hess_vec(f, y, e.view(), h.column_mut(j));
        }
        h
    }

    /// Class probabilities (softmax or normalised StableMax) of each row; for MSE, `f` itself.
    pub fn probabilities(&self, f: ArrayView2<f64>) -> Array2<f64> {
        let mut p = f.to_owned();
        match self {
            Loss::Mse => {}
            Loss::SoftmaxCe => {
                for mut row in p.axis_iter_mut(Axis(0)) {
                    let m = max_of(row.view());
                    row.mapv_inplace(|v| (v - m).exp());
                    let z = row.sum();
                    row /= z;
                }
            }
            Loss::StableMaxCe => {
                for mut row in p.axis_iter_mut(Axis(0)) {
                    row.mapv_inplace(stablemax_s);
                    let z = row.sum();
                    row /= z;
                }
            }
        }
        p
    }

    /// ℓ for one sample; writes `dℓ/df` into `grad` if given.
    pub fn row_value(&self, f: ArrayView1<f64>, y: TargetRow, grad: Option<ArrayViewMut1<f64>>) -> f64 {
        let k = f.len();
        match self {
            Loss::Mse => {
                let mut l = 0.0;
                match grad {
                    Some(mut g) => {
                        for j in 0..k {
                            let d = f[j] - y.weight(j);
                            g[j] = d;
                            l += d * d;
                        }
                    }
                    None => {
                        for j in 0..k {
                            let d = f[j] - y.weight(j);
                            l += d * d;
                        }
                    }
                }
                0.5 * l
            }
            Loss::SoftmaxCe => {
                let m = max_of(f);
                let z: f64 = f.iter().map(|&v| (v - m).exp()).sum();
                let lse = m + z.ln();
                let q = y.total();
                let l = match y {
                    TargetRow::Class(c) => lse - f[c],
                    TargetRow::Dense(_) => q * lse - (0..k).map(|j| y.weight(j) * f[j]).sum::<f64>(),
                };
                if let Some(mut g) = grad {
                    for j in 0..k {
                        g[j] = q * (f[j] - m).exp() / z - y.weight(j);
                    }
                }
                l
            }
            Loss::StableMaxCe => {
                let ssum: f64 = f.iter().map(|&v| stablemax_parts(v).0).sum();
                let q = y.total();
                let l = match y {
                    TargetRow::Class(c) => ssum.ln() - stablemax_parts(f[c]).3,
                    TargetRow::Dense(_) => {
                        q * ssum.ln() - (0..k).map(|j| y.weight(j) * stablemax_parts(f[j]).3).sum::<f64>()
                    }
                };
                if let Some(mut g) = grad {
                    for j in 0..k {
                        let (s, d1, _, _) = stablemax_parts(f[j]);
                        // s' = s * (s'/s)
                        g[j] = q * s * d1 / ssum - y.weight(j) * d1;
                    }
                }
                l
            }
        }
    }

    /// `out = ∇²ℓ(f) r` for one sample.
    pub fn row_hess_vec(&self, f: ArrayView1<f64>, y: TargetRow, r: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
        let k = f.len();
        match self {
            Loss::Mse => out.assign(&r),
            Loss::SoftmaxCe => {
                let m = max_of(f);
                Zip::from(&mut out).and(f).for_each(|o, &v| *o = (v - m).exp());
                let z = out.sum();
                out /= z; // p
                let pr = out.dot(&r);
                let q = y.total();
                Zip::from(&mut out).and(r).for_each(|o, &rj| *o = q * *o * (rj - pr));
            }
            Loss::StableMaxCe => {
                let ssum: f64 = f.iter().map(|&v| stablemax_parts(v).0).sum();
                let q = y.total();
                // s'.r / S
                let sr: f64 = (0..k)
                    .map(|j| {
                        let (s, d1, _, _) = stablemax_parts(f[j]);
                        s * d1 * r[j]
                    })
                    .sum::<f64>()
                    / ssum;
                for j in 0..k {
                    let (s, d1, d2, _) = stablemax_parts(f[j]);
                    let sp = s * d1; // s'
                    let spp = s * d2; // s''
                    out[j] = q * (spp * r[j] - sp * sr) / ssum - y.weight(j) * (d2 - d1 * d1) * r[j];
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar and vector building blocks, stable for any finite input.

/// The logistic sigmoid `σ(x) = 1 / (1 + e^{-x})`, computed from `e^{-|x|}` so that it never
/// overflows and keeps full relative accuracy in both tails (`σ(-800) = e^{-800}`'s underflow
/// to 0 is the only rounding).
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `softplus(x) = ln(1 + e^x) = max(x, 0) + ln(1 + e^{-|x|})`, stable for any `x`.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Binary cross-entropy of a logit `z` for a target `y` in [0, 1]:
/// `ℓ = -y ln σ(z) - (1 - y) ln(1 - σ(z)) = softplus(z) - y z`, computed as
/// `(max(z, 0) - y z) + ln(1 + e^{-|z|})`: finite for logits of any size (where `ln σ(z)` would
/// round to `ln 0`), and for a confident right answer (`z = 50, y = 1`) the tiny loss `e^{-50}`
/// is kept instead of cancelling to 0.
pub fn bce_with_logits(z: f64, y: f64) -> f64 {
    (z.max(0.0) - y * z) + (-z.abs()).exp().ln_1p()
}

/// `dℓ/dz = σ(z) - y` of [`bce_with_logits`] (its second derivative is `σ(z) (1 - σ(z))`).
pub fn bce_with_logits_grad(z: f64, y: f64) -> f64 {
    sigmoid(z) - y
}

/// `lse(x) = ln Σ_i e^{x_i}`, shifted by the max (exact for logits of 1e300 or -1e300):
/// `-inf` for an empty vector or all entries `-inf`, `+inf` if one is `+inf`, NaN if one is NaN.
pub fn logsumexp(x: ArrayView1<f64>) -> f64 {
    let m = max_of(x);
    if x.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    if m.is_infinite() {
        return m;
    }
    m + x.iter().map(|&v| (v - m).exp()).sum::<f64>().ln()
}

/// `softmax(x) = ∇ lse(x)`, `p_i = e^{x_i - lse(x)}` (max-shifted; finite inputs).
pub fn softmax(x: ArrayView1<f64>) -> Array1<f64> {
    let m = max_of(x);
    let mut p = x.mapv(|v| (v - m).exp());
    let z = p.sum();
    p /= z;
    p
}

/// The exact Hessian of [`logsumexp`], `∇² lse(x) = diag(p) - p pᵀ` with `p = softmax(x)`
/// (symmetric positive semi-definite, with the ones vector in its kernel).
pub fn logsumexp_hessian(x: ArrayView1<f64>) -> Array2<f64> {
    let p = softmax(x);
    let n = p.len();
    Array2::from_shape_fn((n, n), |(i, j)| if i == j { p[i] - p[i] * p[i] } else { -p[i] * p[j] })
}

/// `∇² lse(x) v = p ⊙ (v - pᵀv)` in `O(n)`, without forming the Hessian.
pub fn logsumexp_hvp(x: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
    assert_eq!(x.len(), v.len(), "logsumexp_hvp: x and v differ in length");
    let p = softmax(x);
    let pv = p.dot(&v);
    Zip::from(&p).and(v).map_collect(|&pi, &vi| pi * (vi - pv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use proptest::prelude::*;

    /// Central difference of a scalar function.
    fn fd(f: impl Fn(f64) -> f64, x: f64, h: f64) -> f64 {
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    #[test]
    fn sigmoid_and_bce_closed_forms() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(2.0) - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-16);
        // Tails: full relative accuracy, no overflow, symmetry σ(-x) = 1 - σ(x).
        assert!((sigmoid(-700.0) / (-700.0f64).exp() - 1.0).abs() < 1e-14);
        assert_eq!((sigmoid(800.0), sigmoid(-800.0), sigmoid(-1e308)), (1.0, 0.0, 0.0));
        for x in [-30.0, -3.0, -0.1, 0.7, 12.0] {
            assert!((sigmoid(-x) - (1.0 - sigmoid(x))).abs() < 1e-15);
            assert!((softplus(x) - (1.0 + f64::exp(x)).ln()).abs() < 1e-14 * (1.0 + x.abs()));
        }
        // BCE: the naive form where it is accurate; the asymptotes where it is not.
        for (z, y) in [(0.3, 1.0), (-1.2, 0.0), (2.0, 0.25)] {
            let s = sigmoid(z);
            let naive = -y * s.ln() - (1.0 - y) * (1.0 - s).ln();
            assert!((bce_with_logits(z, y) - naive).abs() < 1e-14);
        }
        assert!((bce_with_logits(0.0, 1.0) - std::f64::consts::LN_2).abs() < 1e-16);
        assert_eq!(bce_with_logits(1e4, 0.0), 1e4); // ln(1 - σ(1e4)) = ln 0 naively
        assert_eq!(bce_with_logits(-1e4, 1.0), 1e4);
        assert!((bce_with_logits(50.0, 1.0) / (-50.0f64).exp() - 1.0).abs() < 1e-14);
        assert!((bce_with_logits(-50.0, 0.0) / (-50.0f64).exp() - 1.0).abs() < 1e-14);
        assert_eq!(bce_with_logits_grad(1e4, 1.0), 0.0);
        assert_eq!(bce_with_logits_grad(-1e4, 1.0), -1.0);
    }

    #[test]
    fn logsumexp_closed_forms() {
        assert!((logsumexp(array![1.0, 2.0, 3.0].view()) - (1f64.exp() + 2f64.exp() + 3f64.exp()).ln()).abs() < 1e-15);
        assert_eq!(logsumexp(array![1e300, 1e300].view()), 1e300 + std::f64::consts::LN_2);
        assert_eq!(logsumexp(Array1::<f64>::zeros(4).view()), 4f64.ln());
        assert_eq!(logsumexp(Array1::<f64>::zeros(0).view()), f64::NEG_INFINITY);
        assert_eq!(logsumexp(array![f64::NEG_INFINITY, 2.0].view()), 2.0);
        assert_eq!(logsumexp(array![f64::NEG_INFINITY, f64::NEG_INFINITY].view()), f64::NEG_INFINITY);
        assert_eq!(logsumexp(array![f64::INFINITY, 2.0].view()), f64::INFINITY);
        assert!(logsumexp(array![f64::NAN, 2.0].view()).is_nan());
        let p = softmax(array![1e4, 1e4, -1e4].view());
        assert_eq!(p, array![0.5, 0.5, 0.0]);
        // The Hessian of lse at equal logits: (I - 11ᵀ/n)/n.
        let h = logsumexp_hessian(array![3.0, 3.0].view());
        assert_eq!(h, array![[0.25, -0.25], [-0.25, 0.25]]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// BCE's gradient and second derivative against central differences.
        #[test]
        fn bce_derivatives_match_finite_differences(z in -20.0f64..20.0, y in 0.0f64..1.0) {
            let g = bce_with_logits_grad(z, y);
            prop_assert!((g - fd(|t| bce_with_logits(t, y), z, 1e-5)).abs() < 1e-8);
            let s = sigmoid(z);
            prop_assert!((s * (1.0 - s) - fd(|t| bce_with_logits_grad(t, y), z, 1e-5)).abs() < 1e-8);
        }

        /// softmax = ∇lse and diag(p) - ppᵀ = ∇²lse against central differences (shifted far
        /// from 0, where the unshifted sum would overflow), the HVP against the explicit
        /// Hessian, and the closed-form properties: Σp = 1, H 1 = 0, H symmetric PSD.
        #[test]
        fn logsumexp_derivatives(n in 1usize..8, seed in 0u64..1000, shift in -1e3f64..1e3) {
            let mut rng = crate::rng::Seed(seed).rng();
            let x = crate::rng::gaussian_vec(&mut rng, n, 2.0) + shift;
            let v = crate::rng::gaussian_vec(&mut rng, n, 1.0);
            let (p, h) = (softmax(x.view()), logsumexp_hessian(x.view()));
            let h_step = 1e-5;
            for i in 0..n {
                let mut e = Array1::zeros(n);
                e[i] = h_step;
                let (xp, xm) = (&x + &e, &x - &e);
                let dl = (logsumexp(xp.view()) - logsumexp(xm.view())) / (2.0 * h_step);
                prop_assert!((dl - p[i]).abs() < 1e-6 * (1.0 + shift.abs()), "{} vs {}", dl, p[i]);
                let dp = (softmax(xp.view()) - softmax(xm.view())) / (2.0 * h_step);
                prop_assert!((&dp - &h.column(i)).iter().all(|d| d.abs() < 5e-8));
            }
            prop_assert!((p.sum() - 1.0).abs() < 1e-14);
            prop_assert!((&logsumexp_hvp(x.view(), v.view()) - &h.dot(&v)).iter().all(|d| d.abs() < 1e-14));
            prop_assert!(h.dot(&Array1::ones(n)).iter().all(|d| d.abs() < 1e-15));
            prop_assert!((&h - &h.t()).iter().all(|d| *d == 0.0));
            prop_assert!(v.dot(&h.dot(&v)) >= -1e-15);
        }
    }

    #[test]
    fn softmax_ce_is_stable_for_huge_logits() {
        let f = array![[1e4, 0.0, -1e4], [1e4, 1e4 - 1.0, -3e4], [-1e4, 1e4, 0.0]];
        let y = Targets::Classes(vec![0, 1, 0]);
        let per = Loss::SoftmaxCe.per_sample(f.view(), &y);
        assert!(per[0].abs() < 1e-12, "{per}");
        // lse(0, -1) - (-1) = log(1 + e^-1) + 1
        assert!((per[1] - (1.0 + (-1.0f64).exp().ln_1p())).abs() < 1e-12, "{per}");
        assert!((per[2] - 2e4).abs() < 1e-9, "{per}");
        let (l, g) = Loss::SoftmaxCe.value_grad(f.view(), &y);
        assert!(l.is_finite() && g.iter().all(|v| v.is_finite()));
        let h = Loss::SoftmaxCe.hess_vec(f.view(), &y, Array2::ones((3, 3)).view());
        assert!(h.iter().all(|v| v.is_finite()));
        // Rows of the softmax-CE Hessian annihilate the ones vector.
        assert!(h.iter().all(|v| v.abs() < 1e-12));
        let p = Loss::SoftmaxCe.probabilities(f.view());
        assert!(p.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn stablemax_values() {
        assert_eq!(stablemax_s(0.0), 1.0);
        assert_eq!(stablemax_s(2.0), 3.0);
        assert_eq!(stablemax_s(-1.0), 0.5);
        let f = array![[0.5, -2.0, 3.0]];
        let y = Targets::Classes(vec![2]);
        let s = [1.5, 1.0 / 3.0, 4.0];
        let tot: f64 = s.iter().sum();
        let want = -(4.0 / tot).ln();
        assert!((Loss::StableMaxCe.value(f.view(), &y) - want).abs() < 1e-14);
        let f = array![[1e4, -1e4, 0.0]];
        let (l, g) = Loss::StableMaxCe.value_grad(f.view(), &Targets::Classes(vec![1]));
        assert!(l.is_finite() && g.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn mse_convention_is_half_mean_squared_norm() {
        let f = array![[1.0, 2.0], [0.0, 0.0]];
        let y = Targets::Regression(array![[0.0, 0.0], [3.0, 4.0]]);
        // 0.5 * mean(5, 25) = 7.5
        assert_eq!(Loss::Mse.value(f.view(), &y), 7.5);
        let y = Targets::Classes(vec![1, 0]);
        // one-hot: ||(1,1)||^2 = 2, ||(-1,0)||^2 = 1 -> 0.5 * 1.5
        assert_eq!(Loss::Mse.value(f.view(), &y), 0.75);
    }
}
