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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

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
