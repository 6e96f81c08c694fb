//! Classification losses evaluated in a chosen floating-point format (f16, f32, f64), with the
//! summation order written down, so that where a loss rounds to exactly zero is a closed form.
//!
//! Prieto et al. (2025, "Grokking at the edge of numerical stability") name **softmax collapse**
//! (SC): once the correct logit leads every other by a margin `m`, the softmax denominator
//! `Σ_j exp(z_j − max z)` rounds to exactly 1, the cross-entropy to exactly 0 and its gradient on
//! the correct logit to 0, and learning stops. Where that happens depends on the format and on the
//! order of the sum. Here the order is fixed:
//!
//! **Summation order.** `Σ_j exp(z_j − z_max) = 1 + S`, where `S` is the sequential sum (in index
//! order) of the terms of every class except the first arg-max, and the max's own term (exactly 1)
//! is added last. With `C − 1` competitors all at margin `m`, every partial sum of `S` is exact up
//! to rounding of relative size `u` (the unit round-off: `2⁻¹¹` f16, `2⁻²⁴` f32, `2⁻⁵³` f64), and
//! `1 + S` rounds to 1 exactly when `S ≤ u` (round to nearest, ties to even); so the loss is
//! exactly 0 from the margin `m* = ln((C − 1)/u)` on: 12.34 (f16), 21.35 (f32), 41.46 (f64) at
//! `C = 113`. Summing from the max (`1 + e₁ + e₂ + …`, each term absorbed alone) would collapse at
//! `ln(1/u)` instead (7.6 / 16.6 / 36.7): the order is part of the claim (`tests::` check both).
//!
//! Every operation is carried out in the format itself (f16: each `exp`, `ln`, sum and product is
//! evaluated in f32 and rounded to f16, which is IEEE-exact for a single operation); the result
//! is returned in f64.
//!
//! **StableMax** (the paper's fix): `s(x) = x + 1` for `x ≥ 0`, `1/(1 − x)` for `x < 0` (the
//! official code adds 1e-30 to the denominator, immaterial here), probabilities `s(z_j)/Σ_k s(z_k)`:
//! `s` grows linearly, so a margin of `m` leaves the competitors a mass of order `1/m`, never
//! absorbed at any reachable margin.
use half::f16;
use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A floating-point format the losses can be evaluated in.
pub trait Real:
    Copy
    + PartialOrd
    + Debug
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    /// "f16", "f32" or "f64".
    const NAME: &'static str;
    /// The unit round-off `u` (half the machine epsilon).
    const UNIT_ROUNDOFF: f64;
    /// `x` rounded to this format.
    fn from_f64(x: f64) -> Self;
    /// The value as f64 (exact).
    fn to_f64(self) -> f64;
    /// `exp`, correctly rounded to this format as far as the platform's libm is.
    fn exp(self) -> Self;
    /// `ln`.
    fn ln(self) -> Self;
    /// 0.
    fn zero() -> Self {
        Self::from_f64(0.0)
    }
    /// 1.
    fn one() -> Self {
        Self::from_f64(1.0)
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn exp(self) -> Self {
        f32::exp(self)
    }
    fn ln(self) -> Self {
        f32::ln(self)
    }
}

impl Real for f16 {
    const NAME: &'static str = "f16";
    const UNIT_ROUNDOFF: f64 = 4.8828125e-4; // 2^-11
    fn from_f64(x: f64) -> Self {
        f16::from_f64(x)
    }
    fn to_f64(self) -> f64 {
        f16::to_f64(self)
    }
    fn exp(self) -> Self {
        f16::from_f32(self.to_f32().exp())
    }
    fn ln(self) -> Self {
        f16::from_f32(self.to_f32().ln())
    }
}

/// The index of the first maximum (NaN entries are never the maximum; all-NaN gives 0).
fn first_argmax<F: Real>(z: &[F]) -> usize {
    let mut best = 0;
    for (j, &v) in z.iter().enumerate() {
        if v > z[best] || z[best].partial_cmp(&z[best]).is_none() {
            best = j;
        }
    }
    best
}

/// The softmax denominator `Σ_j exp(z_j − z_max)` in the documented order (competitors first, in
/// index order; the max's 1 last), and the index of the max.
pub fn softmax_denominator<F: Real>(z: &[F]) -> (F, usize) {
    assert!(!z.is_empty(), "softmax of no logits");
    let k = first_argmax(z);
    let m = z[k];
    let mut s = F::zero();
    for (j, &v) in z.iter().enumerate() {
        if j != k {
            s = s + (v - m).exp();
        }
    }
    (s + F::one(), k)
}

/// Whether the logits are in softmax collapse: the denominator is exactly 1 in format `F` (the
/// official `softmax_collapse` metric, `Σ exp(z − max) == 1`).
pub fn softmax_collapsed<F: Real>(z: &[F]) -> bool {
    softmax_denominator(z).0.to_f64() == 1.0
}

/// Cross-entropy `−log softmax(z)_y = ln Σ_j exp(z_j − z_max) − (z_y − z_max)` evaluated in `F`
/// (see the module docs for the order), and its gradient `softmax(z) − e_y` (in `F`, each
/// `softmax_j = exp(z_j − z_max)/Σ`). Returned as f64.
pub fn softmax_ce<F: Real>(z: &[F], y: usize) -> (f64, Vec<f64>) {
    assert!(y < z.len(), "class {y} out of {} logits", z.len());
    let (den, k) = softmax_denominator(z);
    let m = z[k];
    let loss = den.ln() - (z[y] - m);
    let grad = z
        .iter()
        .enumerate()
        .map(|(j, &v)| {
            let p = (v - m).exp() / den;
            (if j == y { p - F::one() } else { p }).to_f64()
        })
        .collect();
    (loss.to_f64(), grad)
}

/// The margin from which [`softmax_ce`] is exactly 0 in format `F` when the correct class leads
/// `c − 1` equal competitors: `ln((c − 1)/u)` (see the module docs).
pub fn collapse_margin(c: usize, unit_roundoff: f64) -> f64 {
    ((c as f64 - 1.0) / unit_roundoff).ln()
}

/// The smallest margin in `[0, 200]` at which `zero_at(margin)` holds, by 200 bisection steps
/// (`zero_at` must be false at 0 and true at 200, and monotone between): how the zero-loss edge of
/// a loss evaluation is measured.
pub fn first_zero_margin(zero_at: impl Fn(f64) -> bool) -> f64 {
    let (mut lo, mut hi) = (0.0, 200.0);
    assert!(zero_at(hi) && !zero_at(lo), "the loss must be 0 at margin 200 and not at 0");
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if zero_at(mid) { hi = mid } else { lo = mid }
    }
    hi
}

/// The measured margin from which [`softmax_ce`] in format `F` is exactly 0, with class `y` at
/// logit 0 and the `c − 1` others at `−margin` (compare [`collapse_margin`]).
pub fn zero_loss_margin<F: Real>(c: usize, y: usize) -> f64 {
    assert!(y < c, "class {y} out of {c}");
    first_zero_margin(|m| {
        let mut z = vec![F::from_f64(-m); c];
        z[y] = F::zero();
        softmax_ce(&z, y).0 == 0.0
    })
}

/// StableMax's `s(x)`: `x + 1` for `x ≥ 0`, `1/(1 − x)` below (continuous, `s(0) = 1`,
/// `s'(0) = 1` from both sides).
pub fn stablemax_s(x: f64) -> f64 {
    if x >= 0.0 { x + 1.0 } else { 1.0 / (1.0 - x) }
}

/// `s'(x)`: 1 for `x ≥ 0`, `1/(1 − x)²` below.
pub fn stablemax_ds(x: f64) -> f64 {
    if x >= 0.0 { 1.0 } else { 1.0 / ((1.0 - x) * (1.0 - x)) }
}

/// StableMax cross-entropy `−ln(s(z_y)/Σ_j s(z_j))` (f64) and its gradient
/// `∂/∂z_j = s'(z_j)/Σ s − [j = y] s'(z_y)/s(z_y)`.
pub fn stablemax_ce(z: &[f64], y: usize) -> (f64, Vec<f64>) {
    assert!(y < z.len(), "class {y} out of {} logits", z.len());
    let total: f64 = z.iter().map(|&v| stablemax_s(v)).sum();
    let sy = stablemax_s(z[y]);
    let loss = total.ln() - sy.ln();
    let grad = z
        .iter()
        .enumerate()
        .map(|(j, &v)| {
            let g = stablemax_ds(v) / total;
            if j == y { g - stablemax_ds(v) / sy } else { g }
        })
        .collect();
    (loss, grad)
}

// ---------------------------------------------------------------------------------------------
// The grokking MLP in a chosen format

/// Which probability map the cross-entropy of [`PairMlp`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// Softmax CE evaluated in the model's format by [`softmax_ce`] (documented order).
    Softmax,
    /// StableMax CE by [`stablemax_ce`] on the logits widened to f64, its gradient rounded back.
    StableMax,
}

/// The bias-free ReLU MLP of Prieto et al. (2025) (official `models.py`: `Linear(2p, h)`, ReLU,
/// `Linear(h, h)`, ReLU, `Linear(h, c)`, no biases) on pairs `(a, b)` of tokens in `0..p`, whose
/// input is the concatenated one-hots `e_a ‖ e_{p+b}`, evaluated in format `F`.
///
/// Parameters are one flat vector in the layout of `common::models::Mlp` with sizes
/// `[2p, h, h, c]` and `bias = false` (layer `l`'s weight `out × in`, row-major), so
/// `Mlp::tensor_ranges` names its tensors. The first layer is applied as an embedding: the
/// hidden pre-activation is `W₀[:, a] + W₀[:, p + b]` (one rounding, the same as the GEMM with
/// a one-hot input). **Summation order** (fixed, independent of the thread count): the two
/// GEMMs of the forward pass and the three of the backward pass reduce each output element over
/// the inner index in `matrixmultiply`'s fixed kernel order (its threads split output blocks,
/// never the inner sum); the first layer's gradient is scattered sample by sample in index order;
/// the per-sample losses are summed in f64 in index order and divided by `n`; the loss gradient
/// on the logits is `(softmax − e_y) · (1/n)` rounded in `F`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairMlp {
    /// Tokens per operand `p`.
    pub p: usize,
    /// Hidden width `h` (both hidden layers).
    pub hidden: usize,
    /// Classes `c` (outputs).
    pub classes: usize,
}

/// What one full-batch pass of [`PairMlp::loss_grad`] measures.
#[derive(Clone, Debug)]
pub struct PassStats {
    /// Mean loss (f64 sum of the per-sample losses in index order, over `n`).
    pub loss: f64,
    /// Fraction of samples whose arg-max logit is the label.
    pub accuracy: f64,
    /// Fraction of per-sample losses exactly 0 (the official `zero_terms`).
    pub zero_terms: f64,
    /// Fraction of samples in softmax collapse in format `F` (the official `softmax_collapse`).
    pub softmax_collapse: f64,
}

impl PairMlp {
    /// Flat parameter count `2p·h + h·h + c·h`.
    pub fn num_params(&self) -> usize {
        2 * self.p * self.hidden + self.hidden * self.hidden + self.classes * self.hidden
    }

    /// The three weight tensors' ranges in the flat vector (`W₀`, `W₁`, `W₂`).
    pub fn tensor_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let (a, b) = (2 * self.p * self.hidden, self.hidden * self.hidden);
        vec![0..a, a..a + b, a + b..self.num_params()]
    }

    fn views<'a, F>(&self, w: &'a [F]) -> [ndarray::ArrayView2<'a, F>; 3] {
        assert_eq!(w.len(), self.num_params(), "PairMlp: {} parameters, expected {}", w.len(), self.num_params());
        let r = self.tensor_ranges();
        let (h, c, p2) = (self.hidden, self.classes, 2 * self.p);
        let v = |k: usize, rows: usize, cols: usize| {
            ndarray::ArrayView2::from_shape((rows, cols), &w[r[k].clone()]).expect("contiguous")
        };
        [v(0, h, p2), v(1, h, h), v(2, c, h)]
    }

    /// Hidden activations and logits of the pairs: `(h₁ pre-activation, a₁, h₂ pre-activation,
    /// a₂, logits)`.
    #[allow(clippy::type_complexity)]
    fn forward_all<F: Real + ndarray::LinalgScalar>(
        &self,
        w: &[F],
        pairs: &[(usize, usize)],
    ) -> (ndarray::Array2<F>, ndarray::Array2<F>, ndarray::Array2<F>, ndarray::Array2<F>, ndarray::Array2<F>) {
        let [w0, w1, w2] = self.views(w);
        let (n, h, p) = (pairs.len(), self.hidden, self.p);
        let w0t = w0.t().as_standard_layout().into_owned();
        let mut z1 = ndarray::Array2::from_elem((n, h), <F as Real>::zero());
        for (i, &(a, b)) in pairs.iter().enumerate() {
            assert!(a < p && b < p, "PairMlp: token out of 0..{p}");
            let (ra, rb) = (w0t.row(a), w0t.row(p + b));
            for (k, out) in z1.row_mut(i).iter_mut().enumerate() {
                *out = ra[k] + rb[k];
            }
        }
        let relu = |v: &F| if *v > <F as Real>::zero() { *v } else { <F as Real>::zero() };
        let a1 = z1.map(relu);
        let z2 = a1.dot(&w1.t());
        let a2 = z2.map(relu);
        let logits = a2.dot(&w2.t());
        (z1, a1, z2, a2, logits)
    }

    /// The logits of the pairs (`n × c`), in `F`.
    pub fn logits<F: Real + ndarray::LinalgScalar>(&self, w: &[F], pairs: &[(usize, usize)]) -> ndarray::Array2<F> {
        self.forward_all(w, pairs).4
    }

    /// Fraction of pairs whose first arg-max logit is the label.
    pub fn accuracy<F: Real + ndarray::LinalgScalar>(&self, w: &[F], pairs: &[(usize, usize)], y: &[usize]) -> f64 {
        let z = self.logits(w, pairs);
        let hits = z.rows().into_iter().zip(y).filter(|(r, y)| first_argmax(r.as_slice().expect("row")) == **y).count();
        hits as f64 / y.len().max(1) as f64
    }

    /// Mean cross-entropy (head `head`) over the batch, its gradient in `F` (flat, the layout of
    /// [`PairMlp`]) and the pass's statistics. See the type's docs for the order of every sum.
    pub fn loss_grad<F: Real + ndarray::LinalgScalar>(
        &self,
        w: &[F],
        pairs: &[(usize, usize)],
        y: &[usize],
        head: Head,
    ) -> (Vec<F>, PassStats) {
        assert_eq!(pairs.len(), y.len(), "PairMlp: pairs and labels differ in length");
        assert!(!y.is_empty(), "PairMlp: empty batch");
        let (n, c, p) = (pairs.len(), self.classes, self.p);
        let (z1, a1, z2, a2, logits) = self.forward_all(w, pairs);
        let inv_n = F::from_f64(1.0 / n as f64);
        let mut g = ndarray::Array2::from_elem((n, c), <F as Real>::zero());
        let (mut total, mut hits, mut zeros, mut collapsed) = (0.0, 0usize, 0usize, 0usize);
        for (i, (row, &yi)) in logits.rows().into_iter().zip(y).enumerate() {
            let z = row.as_slice().expect("standard layout");
            assert!(yi < c, "PairMlp: label {yi} out of {c} classes");
            let (l, gz) = match head {
                Head::Softmax => softmax_ce(z, yi),
                Head::StableMax => stablemax_ce(&z.iter().map(|v| v.to_f64()).collect::<Vec<_>>(), yi),
            };
            total += l;
            hits += usize::from(first_argmax(z) == yi);
            zeros += usize::from(l == 0.0);
            collapsed += usize::from(softmax_collapsed(z));
            for (out, gj) in g.row_mut(i).iter_mut().zip(gz) {
                *out = F::from_f64(gj) * inv_n;
            }
        }
        let [_, w1, w2] = self.views(w);
        let gw2 = g.t().dot(&a2);
        let mut d2 = g.dot(&w2);
        ndarray::Zip::from(&mut d2).and(&z2).for_each(|d, &z| {
            if z.partial_cmp(&<F as Real>::zero()) != Some(std::cmp::Ordering::Greater) {
                *d = <F as Real>::zero()
            }
        });
        let gw1 = d2.t().dot(&a1);
        let mut d1 = d2.dot(&w1);
        ndarray::Zip::from(&mut d1).and(&z1).for_each(|d, &z| {
            if z.partial_cmp(&<F as Real>::zero()) != Some(std::cmp::Ordering::Greater) {
                *d = <F as Real>::zero()
            }
        });
        // W₀'s gradient, transposed (2p × h), scattered in sample order, then laid out h × 2p.
        let mut gw0t = ndarray::Array2::from_elem((2 * p, self.hidden), <F as Real>::zero());
        for (i, &(a, b)) in pairs.iter().enumerate() {
            for tok in [a, p + b] {
                for (acc, &d) in gw0t.row_mut(tok).iter_mut().zip(d1.row(i)) {
                    *acc = *acc + d;
                }
            }
        }
        let mut flat = Vec::with_capacity(self.num_params());
        flat.extend(gw0t.t().iter().copied());
        flat.extend(gw1.iter().copied());
        flat.extend(gw2.iter().copied());
        let nf = n as f64;
        let stats = PassStats {
            loss: total / nf,
            accuracy: hits as f64 / nf,
            zero_terms: zeros as f64 / nf,
            softmax_collapse: collapsed as f64 / nf,
        };
        (flat, stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_loss_margin_is_ln_c_minus_one_over_u() {
        // Q1 of grokking-stablemax: 113 classes. f16 margins are themselves f16 values (spacing
        // 2^-7 at 12), so the measured edge lies within one f16 step of the closed form.
        for y in [0, 112] {
            let m32 = zero_loss_margin::<f32>(113, y);
            let m64 = zero_loss_margin::<f64>(113, y);
            let m16 = zero_loss_margin::<f16>(113, y);
            let (t16, t32, t64) = (
                collapse_margin(113, f16::UNIT_ROUNDOFF),
                collapse_margin(113, f32::UNIT_ROUNDOFF),
                collapse_margin(113, f64::UNIT_ROUNDOFF),
            );
            assert!((t16 - 12.34).abs() < 0.01 && (t32 - 21.35).abs() < 0.01 && (t64 - 41.46).abs() < 0.01);
            // The logit grid: z = −m rounded to F, so the edge is where exp(−m) crosses u/(C−1)
            // up to the rounding of m itself and of exp.
            assert!((m64 - t64).abs() < 0.01, "f64 {m64} vs {t64}");
            assert!((m32 - t32).abs() < 0.01, "f32 {m32} vs {t32}");
            assert!((m16 - t16).abs() < 0.07, "f16 {m16} vs {t16}");
            // The nearest wrong answer, summing from the max (each term absorbed alone), would
            // put the edge at ln(1/u): 4.7 nats earlier at C = 113.
            assert!((m32 - (1.0 / f32::UNIT_ROUNDOFF).ln()).abs() > 4.0);
        }
    }

    #[test]
    fn collapse_means_zero_loss_and_zero_correct_class_gradient() {
        let mut z = vec![-30.0f32; 10];
        z[3] = 0.0;
        assert!(softmax_collapsed(&z));
        let (l, g) = softmax_ce(&z, 3);
        assert_eq!(l, 0.0);
        assert_eq!(g[3], 0.0);
        // The same logits in f64 are not collapsed: the loss is (C−1) e^{−30} to first order.
        let z64: Vec<f64> = z.iter().map(|&v| f64::from(v)).collect();
        assert!(!softmax_collapsed(&z64));
        // `ln(1 + S)` with S = 8.4e-13 carries the absolute rounding of `1 + S` (1.1e-16), so
        // the tiny loss is right to about 1e-4 relative (as PyTorch's `m + log Σ` form is).
        let (l64, _) = softmax_ce(&z64, 3);
        assert!((l64 / (9.0 * (-30.0f64).exp()) - 1.0).abs() < 1e-3, "{l64}");
    }

    #[test]
    fn f64_ce_matches_the_closed_form_and_differences() {
        let z = [0.3, -1.2, 2.5, 0.0, 1.1];
        for y in 0..z.len() {
            let (l, g) = softmax_ce(&z, y);
            let lse = z.iter().map(|v: &f64| v.exp()).sum::<f64>().ln();
            assert!((l - (lse - z[y])).abs() < 1e-14);
            for j in 0..z.len() {
                let h = 1e-6;
                let (mut zp, mut zm) = (z, z);
                zp[j] += h;
                zm[j] -= h;
                let fd = (softmax_ce(&zp, y).0 - softmax_ce(&zm, y).0) / (2.0 * h);
                assert!((g[j] - fd).abs() < 1e-8, "{j}: {} vs {fd}", g[j]);
            }
        }
    }

    #[test]
    fn stablemax_is_continuous_at_zero_and_grows_linearly() {
        let e = 1e-12;
        assert!((stablemax_s(e) - stablemax_s(-e)).abs() < 3e-12);
        assert!((stablemax_ds(e) - stablemax_ds(-e)).abs() < 3e-12);
        assert_eq!(stablemax_s(0.0), 1.0);
        assert_eq!(stablemax_s(9.0), 10.0);
        assert_eq!(stablemax_s(-9.0), 0.1);
        // A margin of 1000 over 112 competitors at −1000: loss ≈ ln(1 + 112/(1001·1001)), far
        // from 0 (softmax would be exactly 0 in every format).
        let mut z = vec![-1000.0; 113];
        z[0] = 0.0;
        let (l, _) = stablemax_ce(&z, 0);
        assert!((l - (1.0 + 112.0 / 1001.0).ln()).abs() < 1e-12, "{l}");
        assert!(l > 0.1);
    }

    // ---- PairMlp

    fn pair_batch(p: usize, n: usize, seed: u64) -> (Vec<(usize, usize)>, Vec<usize>) {
        let mut rng = crate::rng::Seed(seed).rng();
        use rand::Rng;
        let pairs: Vec<(usize, usize)> = (0..n).map(|_| (rng.random_range(0..p), rng.random_range(0..p))).collect();
        let y = pairs.iter().map(|&(a, b)| (a + b) % p).collect();
        (pairs, y)
    }

    fn pair_params(m: &PairMlp, seed: u64, scale: f64) -> Vec<f64> {
        let mut rng = crate::rng::Seed(seed).rng();
        use rand::Rng;
        (0..m.num_params()).map(|_| scale * (rng.random::<f64>() * 2.0 - 1.0)).collect()
    }

    #[test]
    fn pair_mlp_f64_equals_the_common_mlp() {
        use crate::models::{Activation, Loss, Mlp, Model, Targets};
        let m = PairMlp { p: 7, hidden: 12, classes: 7 };
        let (pairs, y) = pair_batch(7, 40, 1);
        let w = pair_params(&m, 2, 0.8);
        let mlp = Mlp::new(&[14, 12, 12, 7], Activation::Relu, false, Loss::SoftmaxCe);
        assert_eq!(mlp.tensor_ranges(), m.tensor_ranges());
        let mut x = ndarray::Array2::zeros((40, 14));
        for (i, &(a, b)) in pairs.iter().enumerate() {
            x[[i, a]] = 1.0;
            x[[i, 7 + b]] = 1.0;
        }
        let wa = ndarray::Array1::from(w.clone());
        let (l_ref, g_ref) = mlp.loss_grad(wa.view(), x.view(), &Targets::Classes(y.clone()));
        let (g, st) = m.loss_grad(&w, &pairs, &y, Head::Softmax);
        assert!((st.loss - l_ref).abs() <= 1e-12 * l_ref.abs(), "{} vs {l_ref}", st.loss);
        let gn = g_ref.dot(&g_ref).sqrt();
        for (a, b) in g.iter().zip(&g_ref) {
            assert!((a - b).abs() <= 1e-12 * gn, "{a} vs {b}");
        }
        let acc = m.accuracy(&w, &pairs, &y);
        assert!((acc - st.accuracy).abs() < 1e-15);
    }

    #[test]
    fn pair_mlp_f32_agrees_with_f64_to_f32_precision() {
        let m = PairMlp { p: 11, hidden: 16, classes: 11 };
        let (pairs, y) = pair_batch(11, 60, 3);
        let w32: Vec<f32> = pair_params(&m, 4, 0.6).iter().map(|&v| v as f32).collect();
        let w64: Vec<f64> = w32.iter().map(|&v| f64::from(v)).collect();
        for head in [Head::Softmax, Head::StableMax] {
            let (g32, s32) = m.loss_grad(&w32, &pairs, &y, head);
            let (g64, s64) = m.loss_grad(&w64, &pairs, &y, head);
            let tol = 64.0 * f64::from(f32::EPSILON);
            assert!((s32.loss - s64.loss).abs() <= tol * s64.loss, "{head:?}: {} vs {}", s32.loss, s64.loss);
            let gn = g64.iter().map(|v| v * v).sum::<f64>().sqrt();
            let err = g32.iter().zip(&g64).map(|(a, b)| (f64::from(*a) - b).powi(2)).sum::<f64>().sqrt();
            assert!(err <= tol * gn, "{head:?}: gradient error {err} vs norm {gn}");
            assert!(err > 0.0, "the f32 pass must actually run in f32");
        }
    }

    #[test]
    fn pair_mlp_gradient_matches_differences() {
        let m = PairMlp { p: 5, hidden: 6, classes: 5 };
        let (pairs, y) = pair_batch(5, 20, 5);
        let w = pair_params(&m, 6, 0.9);
        for head in [Head::Softmax, Head::StableMax] {
            let (g, _) = m.loss_grad(&w, &pairs, &y, head);
            let loss = |w: &[f64]| m.loss_grad(w, &pairs, &y, head).1.loss;
            for j in (0..m.num_params()).step_by(7) {
                let h = 1e-6;
                let (mut wp, mut wm) = (w.clone(), w.clone());
                wp[j] += h;
                wm[j] -= h;
                let fd = (loss(&wp) - loss(&wm)) / (2.0 * h);
                assert!((g[j] - fd).abs() <= 1e-6 * g[j].abs().max(1e-4), "{head:?} {j}: {} vs {fd}", g[j]);
            }
        }
    }

    #[test]
    fn pair_mlp_counts_zero_terms_and_collapse() {
        // Scaling a bias-free ReLU net's weights by k scales its logits by k³: far enough, every
        // correctly classified f32 sample collapses and its loss is exactly 0, while f64 is not.
        let m = PairMlp { p: 7, hidden: 10, classes: 7 };
        let (pairs, y) = pair_batch(7, 49, 7);
        let w = pair_params(&m, 8, 0.5);
        let (_, s) = m.loss_grad(&w, &pairs, &y, Head::Softmax);
        assert_eq!(s.zero_terms, 0.0);
        let (mut f32_only, mut zero_seen) = (false, false);
        for step in 0..40 {
            let k = 1.2f64.powi(step);
            let big: Vec<f32> = w.iter().map(|v| (v * k) as f32).collect();
            let big64: Vec<f64> = big.iter().map(|&v| f64::from(v)).collect();
            let (_, s32) = m.loss_grad(&big, &pairs, &y, Head::Softmax);
            let (_, s64) = m.loss_grad(&big64, &pairs, &y, Head::Softmax);
            assert!(s32.softmax_collapse >= s64.softmax_collapse, "{k}: {s32:?} {s64:?}");
            // A zero loss needs collapse and a correct arg-max.
            assert!(s32.zero_terms <= s32.softmax_collapse.min(s32.accuracy));
            f32_only |= s32.softmax_collapse > s64.softmax_collapse;
            zero_seen |= s32.zero_terms > 0.0;
        }
        assert!(f32_only && zero_seen);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Q4 of grokking-stablemax: the StableMax CE gradient against central differences
        /// (relative 1e-6). (Unlike softmax's, its components need not sum to 0: StableMax is
        /// not shift-invariant.)
        #[test]
        fn stablemax_gradient_matches_differences(z in proptest::collection::vec(-6.0f64..6.0, 2..9), ysel in 0usize..100) {
            let y = ysel % z.len();
            let (_, g) = stablemax_ce(&z, y);
            for j in 0..z.len() {
                // Keep away from the kink of s'' at 0 (s is C¹ there, the differences are not
                // exact across it).
                prop_assume!(z[j].abs() > 1e-3);
                let h = 1e-6;
                let (mut zp, mut zm) = (z.clone(), z.clone());
                zp[j] += h;
                zm[j] -= h;
                let fd = (stablemax_ce(&zp, y).0 - stablemax_ce(&zm, y).0) / (2.0 * h);
                prop_assert!((g[j] - fd).abs() <= 1e-6 * g[j].abs().max(1e-3), "{}: {} vs {}", j, g[j], fd);
            }
        }

        /// The f32 loss agrees with the f64 one to f32 precision away from collapse, and its
        /// gradient components sum to 0 (softmax − one-hot) up to rounding.
        #[test]
        fn f32_ce_agrees_with_f64(z in proptest::collection::vec(-8.0f64..8.0, 2..40), ysel in 0usize..100) {
            let y = ysel % z.len();
            let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
            let z64: Vec<f64> = z32.iter().map(|&v| f64::from(v)).collect();
            let (l32, g32) = softmax_ce(&z32, y);
            let (l64, g64) = softmax_ce(&z64, y);
            let n = z.len() as f64;
            prop_assert!((l32 - l64).abs() <= 8.0 * n * f64::from(f32::EPSILON) * l64.abs().max(1.0));
            for (a, b) in g32.iter().zip(&g64) {
                prop_assert!((a - b).abs() <= 8.0 * n * f64::from(f32::EPSILON));
            }
            prop_assert!(g64.iter().sum::<f64>().abs() < 1e-12);
        }
    }
}
