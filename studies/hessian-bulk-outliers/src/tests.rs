//! Unit tests and cross-checks outside the study's main path: the HVP-built Hessian against a
//! finite-difference Hessian of the gradient, `Hessian = GGN + residual` with the residual from its
//! closed form, Lanczos against a dense eigen-decomposition, and the spectrum summaries on known
//! values.
use super::*;
use common::Profile;
use common::linalg::{FnOp, eigvalsh};
use common::rng::gaussian_vec;
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use spectrum::relu_residual;

/// A tiny trained problem: `d → h → k` ReLU MLP on a small mixture, a few GD steps from He init.
fn tiny(seed: u64, d: usize, h: usize, k: usize, per_class: usize, steps: usize) -> (Mlp, Classification, Array1<f64>) {
    let cfg = Config { d, n_per_class: per_class, n_test_per_class: 1, ..Config::quick() };
    let (data, _) = make_data(&cfg, k, Seed(seed).child("data"));
    let net = mlp(d, h, k);
    let mut w = net.init(&mut Seed(seed).child("init").rng());
    train_sgd(&net, &data, &mut w, 0.2, usize::MAX, steps, Seed(seed).child("train")).unwrap();
    (net, data, w)
}

fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[test]
fn hvp_hessian_equals_finite_difference_hessian() {
    let (net, data, w) = tiny(7, 5, 6, 3, 8, 20);
    let y = Targets::Classes(data.labels.clone());
    let prob = Problem::new(&net, data.x.view(), &y);
    let h = dense_hessian(&net, data.x.view(), &y, w.view());
    let p = w.len();
    let eps = 1e-5;
    let mut fd = Array2::zeros((p, p));
    for j in 0..p {
        let (mut wp, mut wm) = (w.clone(), w.clone());
        wp[j] += eps;
        wm[j] -= eps;
        let col = (prob.grad(wp.view()) - prob.grad(wm.view())) / (2.0 * eps);
        fd.column_mut(j).assign(&col);
    }
    let err = max_abs(&(&h - &fd)) / max_abs(&h);
    assert!(err < 1e-6, "HVP Hessian vs finite differences: relative error {err:e}");
    // Symmetric, as a Hessian must be.
    assert!(max_abs(&(&h - &h.t())) < 1e-12 * max_abs(&h));
}

#[test]
fn hessian_is_ggn_plus_closed_form_residual() {
    let (net, data, w) = tiny(11, 6, 7, 4, 10, 30);
    let y = Targets::Classes(data.labels.clone());
    let prob = Problem::new(&net, data.x.view(), &y);
    let h = prob.hessian(w.view());
    let g = prob.ggn(w.view());
    let r = relu_residual(&net, w.view(), data.x.view(), &data.labels);
    let err = max_abs(&(&h - &g - &r)) / max_abs(&h);
    assert!(err < 1e-10, "H - GGN - R: relative error {err:e}");
    // The residual is not negligible here (the test would be vacuous otherwise).
    assert!(max_abs(&r) > 1e-3 * max_abs(&h), "residual {} vs H {}", max_abs(&r), max_abs(&h));
    // The GGN of softmax CE is positive semi-definite.
    let ev = eigvalsh(&g);
    assert!(ev.iter().all(|&l| l > -1e-10 * ev[ev.len() - 1].abs()));
}

#[test]
fn lanczos_top_eigenvalues_equal_the_dense_spectrum() {
    let (net, data, w) = tiny(3, 10, 8, 3, 20, 100);
    let y = Targets::Classes(data.labels.clone());
    let prob = Problem::new(&net, data.x.view(), &y);
    let dense = eigvalsh(&prob.hessian(w.view()));
    let p = dense.len();
    let (top, _) = top_eigs(&prob.hessian_op(w.view()), 8, p, &mut Seed(1).rng());
    for (i, t) in top.iter().enumerate() {
        let want = dense[p - 1 - i];
        assert!((t - want).abs() < 1e-8 * dense[p - 1].abs(), "eig {i}: Lanczos {t} vs dense {want}");
    }
}

#[test]
fn largest_gap_on_known_values() {
    assert_eq!(largest_gap(&[10.0, 9.0, 1.0, 0.9]), (2, 9.0));
    assert_eq!(largest_gap(&[5.0, 1.0, 0.5]), (1, 5.0));
    // Non-positive trailing values are skipped (no division by ~0).
    assert_eq!(largest_gap(&[4.0, 2.0, 1e-300 * 0.0, -1.0]).0, 1);
    assert_eq!(largest_gap(&[1.0]), (0, 1.0));
    assert!(ratio_after(&[3.0, 1.0], 1) == 3.0 && ratio_after(&[3.0, 1.0], 2).is_nan());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// A planted set of `m` outliers (>= 10x a bulk whose consecutive ratios are < 2) is counted
    /// exactly, at any scale.
    #[test]
    fn largest_gap_finds_planted_outliers(m in 1usize..8, bulk in 2usize..12, seed in 0u64..1000, scale in -6.0f64..6.0) {
        let mut rng = Seed(seed).rng();
        let s = 10f64.powf(scale);
        let mut v: Vec<f64> = (0..m).map(|_| s * (20.0 + 10.0 * rand::Rng::random::<f64>(&mut rng))).collect();
        v.extend((0..bulk).map(|_| s * (1.0 + 0.5 * rand::Rng::random::<f64>(&mut rng))));
        v.sort_by(|a, b| b.partial_cmp(a).unwrap());
        prop_assert_eq!(largest_gap(&v).0, m);
    }

    /// On a diagonal operator with distinct eigenvalues, SLQ with `dim` steps from Rademacher probes
    /// puts weight exactly 1/n on every eigenvalue, so the mass within `tol` is the count / n.
    #[test]
    fn slq_mass_is_the_eigenvalue_fraction(n in 3usize..30, seed in 0u64..1000, tol in 0.05f64..2.0) {
        let mut rng = Seed(seed).rng();
        let mut diag = gaussian_vec(&mut rng, n, 1.0);
        for (i, d) in diag.iter_mut().enumerate() {
            *d += 1e-3 * i as f64; // distinct
        }
        let op = FnOp::new(n, |v: ndarray::ArrayView1<f64>| &diag * &v);
        let nw = slq(&op, 3, n, &mut rng);
        let want = diag.iter().filter(|d| d.abs() <= tol).count() as f64 / n as f64;
        let got = slq_mass_within(&nw, tol);
        // Ritz values equal the eigenvalues up to rounding; skip the rare case of one at the edge.
        prop_assume!(diag.iter().all(|d| (d.abs() - tol).abs() > 1e-8));
        prop_assert!((got - want).abs() < 1e-8, "SLQ mass {} vs {}", got, want);
    }
}

#[test]
fn config_profiles_round_trip_and_reject_unknown_keys() {
    for cfg in [Config::quick(), Config::full()] {
        let j = serde_json::to_value(&cfg).unwrap();
        let back: Config = serde_json::from_value(j.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), j);
    }
    let mut j = serde_json::to_value(Config::quick()).unwrap();
    j["no_such_key"] = serde_json::json!(1);
    assert!(serde_json::from_value::<Config>(j).is_err());
}

#[test]
fn quick_profile_claims_hold_on_another_seed() {
    common::study::assert_quick_claims(&HessianBulkOutliers, 7);
}

#[test]
#[ignore]
fn print_quick() {
    let seed: u64 = std::env::var("HBO_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20240601);
    let ctx = Ctx::for_test(seed, Profile::Quick);
    let t = std::time::Instant::now();
    let out = HessianBulkOutliers.run(&Config::quick(), &ctx).unwrap();
    eprintln!("seed {seed} wall {:.1} s", t.elapsed().as_secs_f64());
    for c in &out.claims {
        eprintln!("{} {} measured {} | {}", c.id, c.verdict(), c.measured, c.detail.clone().unwrap_or_default());
    }
}
