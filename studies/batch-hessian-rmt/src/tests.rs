use super::*;
use common::linalg::eigvalsh;
use proptest::prelude::*;

fn dense_max(a: &Array2<f64>) -> f64 {
    eigvalsh(a).iter().cloned().fold(f64::NEG_INFINITY, f64::max)
}

/// Cross-check outside the main path: on a tiny MLP, Lanczos λ₁ of the batch Hessian and GGN
/// (exact HVPs) equals the largest eigenvalue of the explicit matrix from a dense eigensolver.
#[test]
fn lanczos_matches_dense_on_tiny_mlp_batch() {
    let cfg = MlpCfg {
        n: 200,
        d: 4,
        hidden: 5,
        classes: 3,
        separation: 2.0,
        train_steps: 50,
        train_batch: 32,
        train_lr: 0.02,
        batch_sizes: vec![],
        batches: 2,
        lanczos_steps: 0,
        slq_batch_sizes: vec![],
        slq_probes: 0,
        slq_steps: 0,
    };
    let s = mlp_setup(&cfg, Seed(11));
    let mut rng = Seed(3).rng();
    for b in [4, 16, 64] {
        let idx = draw_batch(&mut rng, cfg.n, b);
        let xb = s.x.select(Axis(0), &idx);
        let yb = s.y.select(&idx);
        let p = Problem::new(&s.model, xb.view(), &yb);
        let p_dim = p.dim();
        let h = p.hessian(s.w.view());
        let g = p.ggn(s.w.view());
        let lh = lambda_max(&p.hessian_op(s.w.view()), p_dim, &mut rng);
        let lg = lambda_max(&p.ggn_op(s.w.view()), p_dim, &mut rng);
        assert!((lh - dense_max(&h)).abs() < 1e-8 * dense_max(&h).abs().max(1.0), "B={b}: {lh} vs {}", dense_max(&h));
        assert!((lg - dense_max(&g)).abs() < 1e-8 * dense_max(&g).abs().max(1.0), "B={b}: {lg} vs {}", dense_max(&g));
        // 30 steps are already exact to 1e-6 relative on this size (the quick profile's regime).
        let l30 = lambda_max(&p.hessian_op(s.w.view()), 30, &mut rng);
        assert!((l30 - dense_max(&h)).abs() < 1e-6 * dense_max(&h).abs().max(1.0));
    }
}

/// The logistic operator equals the explicit matrix, and equals common's MLP Hessian of a
/// 2-output linear softmax model in the logit-difference direction: for f = (W₁x, W₂x), the
/// Hessian is [[1, −1], [−1, 1]] ⊗ H_logistic at w = W₁ − W₂, so λ₁(softmax) = 2 λ₁(logistic).
#[test]
fn logistic_hessian_matches_softmax_identity_and_dense() {
    let cfg = LogisticCfg { n: 300, d: 6, spike: 3.0, batch_sizes: vec![], batches: 0, lanczos_steps: 0 };
    let lg = logistic_setup(&cfg, Seed(5));
    let idx: Vec<usize> = (0..40).collect();
    let op = LogisticHessian::new(lg.x.view(), &idx, lg.w.view());
    let dense = op.dense();
    let mut rng = Seed(1).rng();
    let v = gaussian_vec(&mut rng, cfg.d, 1.0);
    let diff = (&op.apply(v.view()) - &dense.dot(&v)).mapv(f64::abs).sum();
    assert!(diff < 1e-10, "{diff}");
    let model = Mlp::new(&[cfg.d, 2], Activation::Linear, false, Loss::SoftmaxCe);
    // Parameters: W (2 x d) row-major; W₁ = w, W₂ = 0.
    let mut w2 = Array1::zeros(2 * cfg.d);
    w2.slice_mut(ndarray::s![..cfg.d]).assign(&lg.w);
    let xb = lg.x.select(Axis(0), &idx);
    let y = Targets::Classes(vec![0; idx.len()]);
    let p = Problem::new(&model, xb.view(), &y);
    let hs = p.hessian(w2.view());
    let rel = (dense_max(&hs) - 2.0 * dense_max(&dense)).abs() / dense_max(&dense);
    assert!(rel < 1e-10, "{} vs 2 x {}", dense_max(&hs), dense_max(&dense));
}

/// Jensen: with batches that partition-average to H (all B-subsets drawn equally), the mean of
/// λ₁(H_B) is at least λ₁(H). Check exhaustively over all singletons (B = 1): mean_i λ₁(s_i x_i x_iᵀ)
/// = mean_i s_i |x_i|² = Tr H ≥ λ₁(H).
#[test]
fn singleton_batches_average_to_trace() {
    let cfg = LogisticCfg { n: 100, d: 5, spike: 2.0, batch_sizes: vec![], batches: 0, lanczos_steps: 0 };
    let lg = logistic_setup(&cfg, Seed(9));
    let all: Vec<usize> = (0..cfg.n).collect();
    let h = LogisticHessian::new(lg.x.view(), &all, lg.w.view()).dense();
    let mut rng = Seed(2).rng();
    let mean: f64 =
        (0..cfg.n).map(|i| lambda_max(&LogisticHessian::new(lg.x.view(), &[i], lg.w.view()), 5, &mut rng)).sum::<f64>()
            / cfg.n as f64;
    let tr = h.diag().sum();
    assert!((mean - tr).abs() < 1e-9 * tr, "{mean} vs {tr}");
    assert!(mean >= dense_max(&h));
}

proptest! {
    #[test]
    fn loglog_slope_recovers_power_law(c in 0.1f64..10.0, s in -2.0f64..2.0) {
        let x = [16.0, 32.0, 64.0, 128.0, 256.0];
        let y: Vec<f64> = x.iter().map(|b: &f64| c * b.powf(s)).collect();
        prop_assert!((loglog_slope(&x, &y) - s).abs() < 1e-10);
    }

    #[test]
    fn inverse_fit_recovers_c(c in 0.01f64..100.0) {
        let x = [16.0, 64.0, 512.0];
        let y: Vec<f64> = x.iter().map(|b| c / b).collect();
        prop_assert!((fit_inverse_b(&x, &y) - c).abs() < 1e-10 * c);
    }

    #[test]
    fn bisection_brackets_threshold(t in 0.002f64..9.0) {
        let (e, cens) = geometric_bisect(|x| x <= t, 1e-3, 10.0, 30);
        prop_assert!(!cens);
        prop_assert!(e <= t && e >= t * 0.9999);
    }
}

#[test]
fn quick_claims_hold_on_other_seeds() {
    common::study::assert_quick_claims(&BatchHessianRmt, 7);
}
