//! Per-sample gradient statistics without the `n x p` matrix of per-sample gradients.
//!
//! The adaptive batch-size tests of Byrd et al. (2012), Bollapragada et al. (2018) and Lau, Liu &
//! Kolar (2024, AdAdaGrad) read a mini-batch's per-sample gradients `g_i` (`i < b`) only through
//! a few statistics ([`GradStats`]): the mean `ḡ`, the squared norms `‖g_i‖²`, the inner products
//! `⟨g_i, ḡ⟩` and, for the coordinate-wise test, the per-coordinate sums of squares `Σ_i g_ij²`.
//! From them follow the sample variances (correction 1, as `torch.var(..., correction=1)` in the
//! official `tests.py`):
//! - `‖Var̂(g)‖₁ = Σ_j (Σ_i g_ij² − b ḡ_j²)/(b − 1) = (Σ_i ‖g_i‖² − b‖ḡ‖²)/(b − 1)`;
//! - `Var̂(⟨g_i, ḡ⟩)` (the inner products' own sample variance, two-pass);
//! - `Σ_j Var̂_j(g_i − ⟨g_i, ḡ⟩ ḡ/‖ḡ‖²) = (Σ_i ‖g_i‖² − Σ_i ⟨g_i, ḡ⟩²/‖ḡ‖²)/(b − 1)` (the
//!   orthogonal parts have mean exactly zero because the inner products average to `‖ḡ‖²`).
//!
//! For an [`Mlp`] the per-sample gradient of layer `l` is the rank-one `δ_i a_iᵀ` (output
//! gradient times layer input) plus the bias `δ_i`, so every statistic is a product of the `b x h`
//! matrices `Δ_l`, `A_l` ([`mlp_grad_stats`]): `‖g_i‖² = Σ_l ‖δ_i‖²(‖a_i‖² + 1)`,
//! `ḡ_l = Δ_lᵀA_l/b`, `⟨g_i, ḡ⟩ = Σ_l δ_iᵀ(Ḡ_l a_i + b̄_l)` and `Σ_i g_ij² = (Δ_l∘Δ_l)ᵀ(A_l∘A_l)`.
//! Memory is `O(b · Σ_l h_l + p)`, never `b · p`; time is a few gradient evaluations (the
//! coordinate sums cost one more GEMM per layer and are computed only when asked).
//!
//! Summation order: the per-sample quantities are sums over the sample's own coordinates in a
//! fixed order; sums over samples are sequential in sample order or inside the workspace GEMM
//! (`linalg::dense::gemm`), which splits only the output, never the reduction, across threads. So
//! the statistics are the same bits at any thread count (a test checks 1 vs 4 threads).
//!
//! GPU: `gpu::DevMlp::grad_stats` (and `gpu::mlp_grad_stats`, which picks the device) computes the
//! same statistics with device GEMMs and row dots, never the `b x p` matrix, parity-tested against
//! this module on the host twin and on CUDA; `gpu::mlp_per_sample_grads` materializes the
//! `b x p` matrix ([`GradStats::from_rows`] gives the same statistics from any materialized
//! matrix).
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{Mlp, Model, Targets};
use crate::linalg::dense::gemm_new;

/// The statistics of a batch's per-sample gradients that the batch-size tests read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradStats {
    /// The batch size `b`.
    pub n: usize,
    /// The mean loss over the batch.
    pub loss: f64,
    /// The mean gradient `ḡ` (the mini-batch gradient).
    pub mean: Array1<f64>,
    /// `‖g_i‖²` per sample.
    pub sq_norms: Array1<f64>,
    /// `⟨g_i, ḡ⟩` per sample.
    pub inner: Array1<f64>,
    /// `Σ_i g_ij²` per coordinate (only when asked for: the coordinate-wise test).
    pub coord_sumsq: Option<Array1<f64>>,
}

impl GradStats {
    /// The statistics of a materialized `b x p` matrix of per-sample gradients (rows); the
    /// reference the streaming [`mlp_grad_stats`] is tested against. `loss` is stored as given.
    pub fn from_rows(g: ArrayView2<f64>, loss: f64, coords: bool) -> GradStats {
        let n = g.nrows();
        let p = g.ncols();
        let mut mean = Array1::zeros(p);
        for row in g.rows() {
            mean += &row;
        }
        if n > 0 {
            mean /= n as f64;
        }
        let sq_norms = g.rows().into_iter().map(|r| r.dot(&r)).collect();
        let inner = g.rows().into_iter().map(|r| r.dot(&mean)).collect();
        let coord_sumsq = coords.then(|| {
            let mut s = Array1::zeros(p);
            for row in g.rows() {
                s.zip_mut_with(&row, |a, &x| *a += x * x);
            }
            s
        });
        GradStats { n, loss, mean, sq_norms, inner, coord_sumsq }
    }

    /// `‖ḡ‖²`.
    pub fn mean_sq_norm(&self) -> f64 {
        self.mean.dot(&self.mean)
    }

    /// Per-coordinate sample variances (correction 1), clamped at 0; `None` without the
    /// coordinate sums or with fewer than two samples.
    pub fn coord_var(&self) -> Option<Array1<f64>> {
        let s = self.coord_sumsq.as_ref()?;
        if self.n < 2 {
            return None;
        }
        let b = self.n as f64;
        Some(ndarray::Zip::from(s).and(&self.mean).map_collect(|&s, &m| ((s - b * m * m) / (b - 1.0)).max(0.0)))
    }

    /// `‖Var̂(g)‖₁`: the sum over coordinates of the sample variances (correction 1); NaN with
    /// fewer than two samples.
    pub fn var_l1(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        let b = self.n as f64;
        let total: f64 = self.sq_norms.iter().sum();
        ((total - b * self.mean_sq_norm()) / (b - 1.0)).max(0.0)
    }

    /// The sample variance (correction 1) of the inner products `⟨g_i, ḡ⟩` (two-pass).
    pub fn var_inner(&self) -> f64 {
        sample_var(self.inner.view())
    }

    /// `Σ_j Var̂_j` of the parts of `g_i` orthogonal to `ḡ` (correction 1); NaN with fewer than two
    /// samples or `ḡ = 0`.
    pub fn var_orth(&self) -> f64 {
        let g2 = self.mean_sq_norm();
        if self.n < 2 || g2 == 0.0 {
            return f64::NAN;
        }
        let s: f64 = self.sq_norms.iter().zip(&self.inner).map(|(&q, &ip)| q - ip * ip / g2).sum();
        (s / (self.n as f64 - 1.0)).max(0.0)
    }
}

/// Sample variance with correction 1 (two-pass, sequential); NaN below two values.
pub fn sample_var(x: ArrayView1<f64>) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = x.iter().sum::<f64>() / n as f64;
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n as f64 - 1.0)
}

/// The per-sample gradient statistics of an MLP on a batch, from the layers' output gradients
/// and inputs (never the `b x p` matrix); `coords` also computes the per-coordinate sums of
/// squares. Agrees with [`GradStats::from_rows`] of [`Model::per_sample_grads`] to rounding.
pub fn mlp_grad_stats(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, coords: bool) -> GradStats {
    let w = w.as_standard_layout();
    let w = w.view();
    assert_eq!(w.len(), mlp.num_params(), "mlp_grad_stats: parameter vector has the wrong length");
    assert_eq!(x.ncols(), mlp.sizes[0], "mlp_grad_stats: input width");
    let n = x.nrows();
    let big_l = mlp.num_layers();
    let act = mlp.act;
    // Forward: the input of every layer (A_l) and the hidden pre-activations.
    let mut inputs: Vec<Array2<f64>> = vec![x.to_owned()];
    let mut pre: Vec<Array2<f64>> = vec![];
    let mut out = Array2::zeros((0, 0));
    for l in 0..big_l {
        let (wm, b) = mlp.layer(w, l);
        let mut z = gemm_new(&inputs[l].view(), &wm.t());
        if let Some(b) = b {
            z += &b;
        }
        if l + 1 < big_l {
            let a = z.mapv(|v| act.apply(v));
            pre.push(z);
            inputs.push(a);
        } else {
            out = z;
        }
    }
    let (loss, g_out) = mlp.loss.value_grad(out.view(), y);
    // Backward: Δ_l = dℓ_i/dz_l per sample (not divided by n).
    let mut deltas: Vec<Array2<f64>> = vec![Array2::zeros((0, 0)); big_l];
    let mut g = g_out;
    for l in (0..big_l).rev() {
        if l > 0 {
            let (wm, _) = mlp.layer(w, l);
            let mut da = gemm_new(&g.view(), &wm);
            ndarray::Zip::from(&mut da).and(&pre[l - 1]).and(&inputs[l]).for_each(|d, &z, &a| *d *= act.d1(z, a));
            deltas[l] = std::mem::replace(&mut g, da);
        } else {
            deltas[l] = std::mem::replace(&mut g, Array2::zeros((0, 0)));
        }
    }
    let p = mlp.num_params();
    let inv_n = if n > 0 { 1.0 / n as f64 } else { 0.0 };
    let mut mean = Array1::zeros(p);
    let mut sq_norms = Array1::<f64>::zeros(n);
    let mut inner = Array1::<f64>::zeros(n);
    let mut coord_sumsq = coords.then(|| Array1::<f64>::zeros(p));
    for l in 0..big_l {
        let (d, a) = (&deltas[l], &inputs[l]);
        let (off, len) = mlp.layer_offset(l);
        let (h_out, h_in) = (mlp.sizes[l + 1], mlp.sizes[l]);
        let mut gw = gemm_new(&d.t(), &a.view()); // h_out x h_in: Σ_i δ_i a_iᵀ
        gw *= inv_n;
        let gb = d.sum_axis(Axis(0)) * inv_n;
        {
            let mut m = mean.slice_mut(ndarray::s![off..off + len]);
            m.slice_mut(ndarray::s![..h_out * h_in]).assign(&Array1::from_iter(gw.iter().copied()));
            if mlp.bias {
                m.slice_mut(ndarray::s![h_out * h_in..]).assign(&gb);
            }
        }
        // ‖g_i‖² and ⟨g_i, ḡ⟩ for this layer.
        let ga = gemm_new(&a.view(), &gw.t()); // b x h_out: Ḡ_l a_i
        for i in 0..n {
            let di = d.row(i);
            let ai = a.row(i);
            let dd = di.dot(&di);
            let aa = ai.dot(&ai) + if mlp.bias { 1.0 } else { 0.0 };
            sq_norms[i] += dd * aa;
            let mut ip = di.dot(&ga.row(i));
            if mlp.bias {
                ip += di.dot(&gb);
            }
            inner[i] += ip;
        }
        if let Some(cs) = coord_sumsq.as_mut() {
            let d2 = d.mapv(|v| v * v);
            let a2 = a.mapv(|v| v * v);
            let sw = gemm_new(&d2.t(), &a2.view());
            let mut c = cs.slice_mut(ndarray::s![off..off + len]);
            c.slice_mut(ndarray::s![..h_out * h_in]).assign(&Array1::from_iter(sw.iter().copied()));
            if mlp.bias {
                c.slice_mut(ndarray::s![h_out * h_in..]).assign(&d2.sum_axis(Axis(0)));
            }
        }
    }
    GradStats { n, loss, mean, sq_norms, inner, coord_sumsq }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Activation, Loss};
    use crate::rng::Seed;
    use proptest::prelude::*;
    use rand::Rng;

    fn setup(
        seed: u64,
        sizes: &[usize],
        act: Activation,
        bias: bool,
        loss: Loss,
        n: usize,
    ) -> (Mlp, Array1<f64>, Array2<f64>, Targets) {
        let mlp = Mlp::new(sizes, act, bias, loss);
        let mut rng = Seed(seed).rng();
        let w = mlp.init(&mut rng) + Array1::from_shape_fn(mlp.num_params(), |_| 0.1 * rng.random_range(-1.0..1.0));
        let x = Array2::from_shape_fn((n, sizes[0]), |_| rng.random_range(-1.5..1.5));
        let k = *sizes.last().unwrap();
        let y = match loss {
            Loss::Mse => Targets::Regression(Array2::from_shape_fn((n, k), |_| rng.random_range(-1.0..1.0))),
            _ => Targets::Classes((0..n).map(|_| rng.random_range(0..k)).collect()),
        };
        (mlp, w, x, y)
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
    }

    fn max_rel(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
        a.iter().zip(b).map(|(x, y)| (x - y).abs() / scale).fold(0.0, f64::max)
    }

    /// The streaming statistics equal those of the materialized per-sample gradients, and the
    /// derived variances equal direct two-pass evaluations on the matrix (torch.var semantics).
    fn check(seed: u64, sizes: &[usize], act: Activation, bias: bool, loss: Loss, n: usize) {
        let (mlp, w, x, y) = setup(seed, sizes, act, bias, loss, n);
        let s = mlp_grad_stats(&mlp, w.view(), x.view(), &y, true);
        let ps = mlp.per_sample_grads(w.view(), x.view(), &y);
        let (l, g) = mlp.loss_grad(w.view(), x.view(), &y);
        let r = GradStats::from_rows(ps.view(), l, true);
        assert!(rel(s.loss, l) < 1e-12);
        assert!(max_rel(&s.mean, &r.mean) < 1e-12, "mean {:e}", max_rel(&s.mean, &r.mean));
        assert!(max_rel(&s.mean, &g) < 1e-12, "mean vs loss_grad");
        assert!(max_rel(&s.sq_norms, &r.sq_norms) < 1e-12, "norms");
        assert!(max_rel(&s.inner, &r.inner) < 1e-12, "inner");
        let (cs, cr) = (s.coord_sumsq.as_ref().unwrap(), r.coord_sumsq.as_ref().unwrap());
        assert!(max_rel(cs, cr) < 1e-12, "coords {:e}", max_rel(cs, cr));
        // Direct two-pass variances on the matrix.
        let mean = ps.mean_axis(Axis(0)).unwrap();
        let cen = &ps - &mean;
        let var = cen.mapv(|v| v * v).sum_axis(Axis(0)) / (n as f64 - 1.0);
        // `var_l1` = (Σ‖g_i‖² − b‖ḡ‖²)/(b − 1) cancels at the scale of Σ‖g_i‖²/(b − 1).
        let scale = s.sq_norms.sum() / (n as f64 - 1.0);
        let err = (s.var_l1() - var.sum()).abs();
        assert!(err <= 1e-11 * scale.max(var.sum()), "var_l1 {} vs {}", s.var_l1(), var.sum());
        assert!(max_rel(&s.coord_var().unwrap(), &var) < 1e-11, "coord var");
        let ips = ps.dot(&mean);
        assert!(rel(s.var_inner(), sample_var(ips.view())) < 1e-11, "var_inner");
        let g2 = mean.dot(&mean);
        if g2 == 0.0 {
            // Every per-sample gradient can vanish (a dead ReLU layer): the projection on ḡ is
            // undefined and `var_orth` is documented NaN.
            assert!(s.var_orth().is_nan(), "var_orth at ḡ = 0 is {}", s.var_orth());
            return;
        }
        let mut orth = ps.clone();
        for (mut row, &ip) in orth.rows_mut().into_iter().zip(&ips) {
            row.scaled_add(-ip / g2, &mean);
        }
        let om = orth.mean_axis(Axis(0)).unwrap();
        let ov = (&orth - &om).mapv(|v| v * v).sum() / (n as f64 - 1.0);
        // The streaming form `Σ‖g_i‖² − Σ⟨g_i, ḡ⟩²/‖ḡ‖²` cancels at the same scale: where the
        // orthogonal parts vanish (one hidden unit, collinear gradients) only that scale counts.
        let err = (s.var_orth() - ov).abs();
        assert!(err <= 1e-10 * ov.abs().max(scale), "var_orth {} vs {} (scale {scale:e})", s.var_orth(), ov);
    }

    #[test]
    fn streaming_stats_match_materialized() {
        check(1, &[5, 7, 3], Activation::Tanh, true, Loss::SoftmaxCe, 23);
        check(2, &[4, 6, 5, 2], Activation::Relu, false, Loss::Mse, 17);
        check(3, &[6, 2], Activation::Linear, true, Loss::SoftmaxCe, 40);
        check(4, &[3, 8, 4], Activation::Gelu, true, Loss::Mse, 9);
        // The case the property test found in CI: one ReLU unit, no biases, ḡ = 0.
        check(905, &[3, 1, 2], Activation::Relu, false, Loss::SoftmaxCe, 2);
    }

    #[test]
    fn closed_form_two_samples() {
        // Two samples g_1 = (1, 0), g_2 = (3, 2): ḡ = (2, 1); Var = ((1-2)²+(3-2)², (0-1)²+(2-1)²) = (2, 2).
        let g = ndarray::arr2(&[[1.0, 0.0], [3.0, 2.0]]);
        let s = GradStats::from_rows(g.view(), 0.0, true);
        assert_eq!(s.var_l1(), 4.0);
        assert_eq!(s.coord_var().unwrap(), ndarray::arr1(&[2.0, 2.0]));
        // ⟨g_i, ḡ⟩ = (2, 8): variance 18.
        assert_eq!(s.inner, ndarray::arr1(&[2.0, 8.0]));
        assert_eq!(s.var_inner(), 18.0);
        // Orthogonal parts: ‖g_i‖² − ip²/‖ḡ‖² = 1 − 4/5, 13 − 64/5: sum 0.2 + 0.2 = 0.4.
        assert!((s.var_orth() - 0.4).abs() < 1e-15);
    }

    #[test]
    fn same_bits_at_any_thread_count() {
        let (mlp, w, x, y) = setup(7, &[30, 64, 10], Activation::Tanh, true, Loss::SoftmaxCe, 700);
        let run = |t: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| mlp_grad_stats(&mlp, w.view(), x.view(), &y, true))
        };
        let (a, b) = (run(1), run(4));
        assert_eq!(a, b);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn prop_streaming_matches_materialized(seed in 0u64..1000, n in 2usize..30, h in 1usize..6, k in 2usize..4, bias: bool, relu: bool) {
            let act = if relu { Activation::Relu } else { Activation::Tanh };
            check(seed, &[3, h, k], act, bias, Loss::SoftmaxCe, n);
        }
    }
}
