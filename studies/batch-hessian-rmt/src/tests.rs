use super::*;
use crate::check::{MatrixCheck, SubCheck};
use crate::kernels::fit_inverse_b;
use crate::sim::{MlpSetup, Plant, draw_batch, lambda_max};
use crate::theory::{LogisticPt, ms_threshold};
use common::linalg::{LinOp, eigvalsh};
use common::models::{Activation, Loss, Mlp, Problem, Targets};
use common::rng::gaussian_vec;
use common::stats::loglog_slope;
use common::study::runner::resolve_with_estimate;
use common::{Profile, Seed};
use ndarray::{Array1, Array2, Axis};
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
    let s: MlpSetup = mlp_setup(&cfg, Seed(11));
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

// ---------------------------------------------------------------------------------------------
// The config contract

/// A config small enough to run in a fraction of a second (claims not expected to hold).
fn tiny() -> Config {
    let mut c = Config::quick();
    c.logistic = LogisticCfg { n: 300, d: 8, spike: 3.0, batch_sizes: vec![4, 16], batches: 2, lanczos_steps: 4 };
    c.mlp.n = 200;
    c.mlp.d = 4;
    c.mlp.hidden = 5;
    c.mlp.classes = 3;
    c.mlp.train_steps = 5;
    c.mlp.train_batch = 16;
    c.mlp.batch_sizes = vec![4, 16];
    c.mlp.batches = 2;
    c.mlp.lanczos_steps = 4;
    c.mlp.slq_batch_sizes = vec![8];
    c.mlp.slq_probes = 1;
    c.mlp.slq_steps = 4;
    c.lr = LrCfg { n: 64, d: 4, batch_sizes: vec![1, 4], steps: 5, seeds: 1, bisect_steps: 2, batches: 2, ..c.lr };
    c.check = CheckCfg { n: 50, d: 3, hidden: 4, classes: 2, train_steps: 5, batch_sizes: vec![4, 8], batches: 2 };
    c.fit_b_min = 4;
    c.fit_b_max = 16;
    c
}

fn sets(key: &str, raw: &str) -> Vec<(String, String)> {
    vec![(key.to_string(), raw.to_string())]
}

/// The bug: `--set logistic.batches=1` failed inside the run (exit 1); it is bad input.
#[test]
fn one_batch_per_b_is_refused_up_front() {
    for key in ["logistic.batches", "mlp.batches"] {
        let e = resolve_with_estimate(&BatchHessianRmt, Profile::Quick, &sets(key, "1")).unwrap_err();
        assert!(e.0.contains(key) && !e.0.contains('\n'), "{e}");
    }
    let e = resolve_with_estimate(&BatchHessianRmt, Profile::Quick, &sets("lr.batch_sizes", "2,4")).unwrap_err();
    assert!(e.0.contains("B = 1"), "{e}");
    assert!(resolve_with_estimate(&BatchHessianRmt, Profile::Quick, &sets("fit_b_max", "16")).is_err());
    assert!(resolve_with_estimate(&BatchHessianRmt, Profile::Quick, &sets("lr.lr_lo", "20")).is_err());
    assert!(resolve_with_estimate(&BatchHessianRmt, Profile::Quick, &sets("mlp.slq_batch_sizes", "16,4000")).is_err());
}

/// Every key, set to 0, -1, 1e9, NaN, an empty list or a word, is refused up front (bad input)
/// or runs to the end (checked on the tiny config with the same override); 1e9 is always refused.
#[test]
fn hostile_values_are_refused_or_run() {
    let keys = common::study::overrides::keys(&serde_json::to_value(Config::quick()).unwrap());
    assert!(keys.len() >= 30, "{keys:?}");
    let mut accepted = vec![];
    for key in &keys {
        for raw in ["0", "-1", "1000000000", "NaN", "[]", "x"] {
            if resolve_with_estimate(&BatchHessianRmt, Profile::Quick, &sets(key, raw)).is_ok() {
                assert!(raw != "1000000000", "{key} = 1e9 is accepted");
                accepted.push((key.clone(), raw));
            }
        }
    }
    for (key, raw) in &accepted {
        let mut cfg = serde_json::to_value(tiny()).unwrap();
        common::study::overrides::apply(&mut cfg, &sets(key, raw), "t").unwrap();
        let cfg: Config = serde_json::from_value(cfg).unwrap();
        if cfg.validate().is_err() {
            continue;
        }
        let r = BatchHessianRmt.measure(&cfg, &Ctx::for_test(1, Profile::Quick)).unwrap();
        let text = serde_json::to_string(&r).unwrap();
        let back: Results = serde_json::from_str(&text).unwrap();
        BatchHessianRmt.report(&cfg, &back).unwrap_or_else(|e| panic!("{key} = {raw}: {e}"));
    }
    assert!(!accepted.is_empty(), "some hostile values (0 Adam steps, 0 bisections) are meaningful");
}

#[test]
fn profiles_validate_and_estimates_grow_with_the_sizes() {
    for c in [Config::quick(), Config::full(), tiny()] {
        c.validate().unwrap();
    }
    let (q, f) = (Config::quick().estimate(), Config::full().estimate());
    assert!(q.bytes > 1e7 && q.bytes < 2e9, "{}", q.describe());
    assert!(f.bytes > q.bytes && f.seconds > q.seconds, "{} vs {}", f.describe(), q.describe());
    let mut big = Config::quick();
    big.logistic.n = 10_000_000;
    big.logistic.d = 100_000;
    assert!(big.estimate().bytes > 1e13);
}

// ---------------------------------------------------------------------------------------------
// Planted bugs: the report on hand-made results that follow the theory passes every gated claim;
// each planted bug fails the claim whose `.wrong()` names it.

/// Results that follow the theory exactly: `λ₁(H_B) = λ₁(H) + c/B` (with ±2 % scatter over the
/// batches) with `c` the perturbation-theory constant, `η_max` = 1.02 × the mean-square threshold
/// for SGD, `0.2·√B` for Adam, dense references equal to the Lanczos values.
fn ideal() -> (Config, Results) {
    let cfg = Config::quick();
    let per_b = |full: f64, c: f64, b: usize, k: usize| -> Vec<f64> {
        (0..k).map(|i| full + c / b as f64 * (1.0 + if i % 2 == 0 { 0.02 } else { -0.02 })).collect()
    };
    let mut spectrum: Vec<SpecRun> = cfg
        .logistic
        .batch_sizes
        .iter()
        .map(|&b| SpecRun {
            model: "logistic".into(),
            b,
            hess: per_b(1.9, 48.0, b, cfg.logistic.batches),
            ggn: vec![],
            rayleigh: vec![1.9; cfg.logistic.batches],
        })
        .collect();
    spectrum.extend(cfg.mlp.batch_sizes.iter().map(|&b| SpecRun {
        model: "mlp".into(),
        b,
        hess: per_b(0.39, 36.0, b, cfg.mlp.batches),
        ggn: per_b(0.38, 34.0, b, cfg.mlp.batches),
        rayleigh: vec![],
    }));
    let slq = cfg
        .mlp
        .slq_batch_sizes
        .iter()
        .chain(std::iter::once(&cfg.mlp.n))
        .map(|&b| SlqRun { b, probes: vec![Quadrature { nodes: vec![0.0, 1.0], weights: vec![0.5, 0.5] }] })
        .collect();
    // Least squares: eigenvalues geometric from 0.97 to 0.0097.
    let eigs: Vec<f64> = (0..64).map(|j| 0.97 * 0.01f64.powf(j as f64 / 63.0)).collect();
    let (lmax, tr) = (0.97, eigs.iter().sum::<f64>());
    let sweep = Sweep::new("lr-max").axis("opt", ["sgd", "adam"]).axis("b", &cfg.lr.batch_sizes);
    let cells = sweep.cells();
    let results = cells
        .iter()
        .map(|c| {
            let b = c.usize("b");
            let eta = if c.str("opt") == "sgd" { 1.02 * ms_threshold(&eigs, b) } else { 0.2 * (b as f64).sqrt() };
            LrResult { eta_max: eta, censored: false }
        })
        .collect();
    let ls_spectra = cfg
        .lr
        .batch_sizes
        .iter()
        .map(|&b| LsSpectrum { b, lambda1: vec![lmax + tr / b as f64; cfg.lr.batches], eta_ms: ms_threshold(&eigs, b) })
        .collect();
    let matrix = |top: f64, c_pt: f64| MatrixCheck {
        dense_max: top,
        dense_min: -0.02,
        dense_trace: 2.0,
        dense_abs_sum: 2.2,
        lanczos_max_profile: top,
        lanczos_max: top,
        lanczos_min: -0.02,
        lanczos_trace: 2.0,
        c_pt,
        excess: cfg.check.batch_sizes.iter().map(|&b| per_b(0.0, c_pt, b, cfg.check.batches)).collect(),
    };
    let check = SubCheck { p: 92, train_loss: 0.16, hess: matrix(0.9, 6.0), ggn: matrix(0.85, 5.0) };
    let r = Results {
        logistic_h_full: 1.9,
        mlp_h_full: 0.39,
        mlp_ggn_full: 0.38,
        mlp_train_loss: 0.5,
        spectrum,
        slq,
        ls_lambda_max: lmax,
        ls_trace: tr,
        lr: Swept { cells, results },
        logistic_pt: LogisticPt { lambda1_dense: 1.9, trace_dense: 20.0, c_pt: 48.0, v1: Array1::zeros(0) },
        check,
        ls_spectra,
    };
    (cfg, r)
}

fn verdicts(cfg: &Config, r: &Results) -> Vec<(String, bool)> {
    let out = BatchHessianRmt.report(cfg, r).unwrap();
    let ids: Vec<&str> = out.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, CLAIMS.iter().map(|c| c.id).collect::<Vec<_>>());
    out.claims.iter().map(|c| (c.id.clone(), c.passed)).collect()
}

fn failing(cfg: &Config, r: &Results) -> Vec<String> {
    let gated: Vec<&str> = CLAIMS.iter().filter(|c| c.gated()).map(|c| c.id).collect();
    verdicts(cfg, r).into_iter().filter(|(id, ok)| !ok && gated.contains(&id.as_str())).map(|(id, _)| id).collect()
}

fn verdict(cfg: &Config, r: &Results, id: &str) -> bool {
    verdicts(cfg, r).into_iter().find(|(i, _)| i == id).expect("declared").1
}

#[test]
fn the_theory_passes_every_gated_claim() {
    let (cfg, r) = ideal();
    assert!(failing(&cfg, &r).is_empty(), "{:?}", failing(&cfg, &r));
    assert!(verdict(&cfg, &r, "R5-adam-sqrt"), "Adam √B");
}

/// A batch matrix normalized by n instead of B (each batch matrix scaled by B/n): the excess over
/// perturbation theory is B/n (R6) and λ₁(H_B) sits below λ₁(H) (R2's log of a negative excess).
#[test]
fn planted_normalization_by_n_fails_r6_and_r2() {
    let (cfg, mut r) = ideal();
    for s in r.spectrum.iter_mut().filter(|s| s.model == "logistic") {
        let f = s.b as f64 / cfg.logistic.n as f64;
        s.hess.iter_mut().for_each(|v| *v *= f);
        s.rayleigh.iter_mut().for_each(|v| *v *= f);
    }
    assert_eq!(failing(&cfg, &r), ["R6-logistic-excess-pt", "R2-logistic-h"]);
}

/// An excess that scales like the noise's bulk edge, 1/√B instead of 1/B: R2 fails for every curve,
/// and the logistic excess is √B times its perturbation-theory size (R6).
#[test]
fn planted_inverse_sqrt_excess_fails_r2_and_r6() {
    let (cfg, mut r) = ideal();
    let full = |m: &str, ggn: bool| match (m, ggn) {
        ("logistic", _) => r.logistic_h_full,
        (_, false) => r.mlp_h_full,
        (_, true) => r.mlp_ggn_full,
    };
    let fulls: Vec<(f64, f64)> = r.spectrum.iter().map(|s| (full(&s.model, false), full(&s.model, true))).collect();
    for (s, (fh, fg)) in r.spectrum.iter_mut().zip(fulls) {
        let k = (s.b as f64).sqrt();
        s.hess.iter_mut().for_each(|v| *v = fh + (*v - fh) * k);
        s.ggn.iter_mut().for_each(|v| *v = fg + (*v - fg) * k);
    }
    assert_eq!(failing(&cfg, &r), ["R6-logistic-excess-pt", "R2-logistic-h", "R2-mlp-h", "R2-mlp-ggn"]);
}

/// A batch loss summed instead of averaged: the stable rate falls by a factor B, so it no longer
/// grows with B (R3), sits far below the GD limit at large B (R4a) and below η_ms (R8).
#[test]
fn planted_summed_batch_loss_fails_r3_r4a_r8() {
    let (cfg, mut r) = ideal();
    for (c, res) in r.lr.cells.iter().zip(r.lr.results.iter_mut()) {
        if c.str("opt") == "sgd" {
            res.eta_max /= c.usize("b") as f64;
        }
    }
    assert_eq!(failing(&cfg, &r), ["R3-sgd-linear", "R4a-gd-limit", "R8-ms-threshold"]);
}

/// The full-batch limit 2/λ_max at B = 1 (the single-sample noise ignored): R4b and R8 fail.
#[test]
fn planted_full_batch_limit_at_b1_fails_r4b_and_r8() {
    let (cfg, mut r) = ideal();
    let lmax = r.ls_lambda_max;
    for (c, res) in r.lr.cells.iter().zip(r.lr.results.iter_mut()) {
        if c.str("opt") == "sgd" && c.usize("b") == 1 {
            res.eta_max = 2.0 / lmax;
        }
    }
    assert_eq!(failing(&cfg, &r), ["R3-sgd-linear", "R4b-b1-trace", "R8-ms-threshold"]);
}

/// If η_max followed the paper's 2/E λ₁(H_B) (the learning-rate law from the batch spectrum), R8
/// would fail: the two predictions differ by 1.5-1.7× at B = 8-64 on this problem.
#[test]
fn planted_paper_law_fails_r8() {
    let (cfg, mut r) = ideal();
    let paper: Vec<(usize, f64)> = r.ls_spectra.iter().map(|s| (s.b, 2.0 / common::stats::mean(&s.lambda1))).collect();
    for (c, res) in r.lr.cells.iter().zip(r.lr.results.iter_mut()) {
        if c.str("opt") == "sgd" {
            res.eta_max = paper.iter().find(|(b, _)| *b == c.usize("b")).unwrap().1;
        }
    }
    assert!(failing(&cfg, &r).contains(&"R8-ms-threshold".to_string()));
    assert!(verdict(&cfg, &r, "R7-paper-lr-law"));
}

/// The small MLP of the dense checks, measured with a planted bug; returns its results in the
/// ideal results (the quick profile's `check` config: P = 92, ~0.1 s).
fn with_sub_check(plant: Plant) -> (Config, Results) {
    let (cfg, mut r) = ideal();
    r.check = crate::check::sub_check(&cfg.check, &cfg.mlp, common::device::Device::Cpu, Seed(7), plant).unwrap();
    (cfg, r)
}

/// The unplanted small MLP passes its gated claims (the contrast for the planted tests below).
#[test]
fn small_mlp_checks_pass_without_a_bug() {
    let (cfg, r) = with_sub_check(Plant::default());
    assert!(failing(&cfg, &r).is_empty(), "{:?}", failing(&cfg, &r));
}

/// The bug: a negated MLP Hessian-vector product. Lanczos then returns λ₁(−H) = −λ_min(H)
/// and Tr(−H): the dense check fails (R9), and so does the excess against perturbation theory (R6).
#[test]
fn planted_negated_mlp_hvp_fails_r9() {
    let (cfg, r) = with_sub_check(Plant { negate_mlp_hvp: true, ..Plant::default() });
    let f = failing(&cfg, &r);
    assert!(f.contains(&"R9-mlp-h-dense".to_string()) && f.contains(&"R6-mlp-h-excess-pt".to_string()), "{f:?}");
    assert!(r.check.hess.max_error() > 0.5, "{}", r.check.hess.max_error());
}

/// The bug: Lanczos without re-orthogonalization. λ₁ survives, but ghost copies of the
/// converged Ritz values make Tr T after dim steps wrong by O(1): R9 fails for both matrices.
#[test]
fn planted_plain_lanczos_fails_r9() {
    let (cfg, r) = with_sub_check(Plant { plain_lanczos: true, ..Plant::default() });
    let f = failing(&cfg, &r);
    assert!(f.contains(&"R9-mlp-h-dense".to_string()) && f.contains(&"R9-mlp-ggn-dense".to_string()), "{f:?}");
    assert!((r.check.hess.lanczos_max - r.check.hess.dense_max).abs() < 1e-6, "the extreme Ritz value survives");
}

/// A small logistic E1 (n = 2000, d = 20, 3 batch sizes) measured like `measure` does.
fn small_logistic(plant: Plant) -> (Config, Results) {
    let (mut cfg, mut r) = ideal();
    cfg.logistic =
        LogisticCfg { n: 2000, d: 20, spike: 3.0, batch_sizes: vec![16, 64, 256], batches: 20, lanczos_steps: 20 };
    let lg = logistic_setup(&cfg.logistic, Seed(3));
    let all: Vec<usize> = (0..cfg.logistic.n).collect();
    r.logistic_h_full = lambda_max(&LogisticHessian::new(lg.x.view(), &all, lg.w.view()), 40, &mut Seed(4).rng());
    r.logistic_pt = crate::theory::logistic_pt(lg.x.view(), lg.w.view());
    let mut rng = Seed(5).rng();
    let mut runs: Vec<SpecRun> = cfg
        .logistic
        .batch_sizes
        .iter()
        .map(|&b| {
            let (hess, rayleigh) = lg.batch_lambdas(&cfg.logistic, b, r.logistic_pt.v1.view(), &mut rng, plant);
            SpecRun { model: "logistic".into(), b, hess, ggn: vec![], rayleigh }
        })
        .collect();
    runs.extend(r.spectrum.drain(..).filter(|s| s.model == "mlp"));
    r.spectrum = runs;
    (cfg, r)
}

/// The bug: the full-data Hessian for every B (no batch sampling). E λ₁(H_B) ≥ λ₁(H) still
/// holds (with equality), but the excess is 0 against its perturbation-theory size: R6 fails (for
/// the logistic model and for the small MLP, whose batches go through the same batch code).
#[test]
fn planted_full_data_batches_fails_r6() {
    let (cfg, r) = small_logistic(Plant::default());
    assert!(verdict(&cfg, &r, "R6-logistic-excess-pt"), "the unplanted small logistic run passes");
    let plant = Plant { full_data_batches: true, ..Plant::default() };
    let (cfg, mut r) = small_logistic(plant);
    r.check = crate::check::sub_check(&cfg.check, &cfg.mlp, common::device::Device::Cpu, Seed(7), plant).unwrap();
    let f = failing(&cfg, &r);
    for id in ["R6-logistic-excess-pt", "R6-mlp-h-excess-pt", "R6-mlp-ggn-excess-pt"] {
        assert!(f.contains(&id.to_string()), "{id}: {f:?}");
    }
}

/// E2 of the quick profile on fewer batch sizes (one run per rate, 10 bisections), measured like
/// `measure` does.
fn small_e2(plant: Plant) -> (Config, Results) {
    let (mut cfg, mut r) = ideal();
    cfg.lr = LrCfg { batch_sizes: vec![1, 4, 16, 64], seeds: 1, bisect_steps: 10, adam: false, batches: 20, ..cfg.lr };
    let ls = ls_setup(&cfg.lr, Seed(11));
    let sweep = Sweep::new("lr-max").axis("opt", ["sgd"]).axis("b", &cfg.lr.batch_sizes);
    let cells = sweep.cells();
    let results = cells
        .iter()
        .map(|c| {
            let b = c.usize("b");
            let ok = |lr: f64| stable(&ls, &cfg.lr, "sgd", b, lr, Seed(12), plant);
            let (eta_max, censored) = geometric_bisect(ok, cfg.lr.lr_lo, cfg.lr.lr_hi, cfg.lr.bisect_steps);
            LrResult { eta_max, censored }
        })
        .collect();
    r.lr = Swept { cells, results };
    r.ls_spectra = cfg
        .lr
        .batch_sizes
        .iter()
        .map(|&b| LsSpectrum {
            b,
            lambda1: ls.batch_lambdas(b, cfg.lr.batches, &mut Seed(13).rng(), Plant::default()),
            eta_ms: ms_threshold(&ls.eigs, b),
        })
        .collect();
    r.ls_lambda_max = ls.lambda_max;
    r.ls_trace = ls.trace;
    (cfg, r)
}

fn claim_value(cfg: &Config, r: &Results, id: &str) -> f64 {
    let c = BatchHessianRmt.report(cfg, r).unwrap().claims.into_iter().find(|c| c.id == id).expect("declared");
    eprintln!("{id}: {} ({})", c.measured, c.detail.unwrap_or_default());
    c.measured
}

/// The bug: a mini-batch sampler that always returns the first B samples. SGD then runs
/// gradient descent on one fixed rank-B curvature, η_max ≈ 2/λ₁(H_fixed), far from the mean-square
/// threshold at intermediate B: R8 fails clearly, where the unplanted run passes.
#[test]
fn planted_first_b_sampler_fails_r8() {
    let (cfg, r) = small_e2(Plant::default());
    let ok = claim_value(&cfg, &r, "R8-ms-threshold");
    assert!(verdict(&cfg, &r, "R8-ms-threshold"), "unplanted: {ok}");
    let (cfg, r) = small_e2(Plant { first_b_sampler: true, ..Plant::default() });
    let bad = claim_value(&cfg, &r, "R8-ms-threshold");
    assert!(!verdict(&cfg, &r, "R8-ms-threshold") && !(0.8..=1.25).contains(&bad), "planted: {bad}");
}

/// Without Adam the report still emits every declared claim (R5 as NaN, not gated).
#[test]
fn without_adam_r5_is_reported_as_not_run() {
    let (mut cfg, mut r) = ideal();
    cfg.lr.adam = false;
    let keep: Vec<bool> = r.lr.cells.iter().map(|c| c.str("opt") == "sgd").collect();
    let mut k = keep.iter();
    r.lr.cells.retain(|_| *k.next().unwrap());
    let mut k = keep.iter();
    r.lr.results.retain(|_| *k.next().unwrap());
    assert!(failing(&cfg, &r).is_empty());
    assert!(claim_value(&cfg, &r, "R5-adam-sqrt").is_nan());
}

/// Calibration: the quick profile's claims at the seeds of `REPRO_SEEDS` (default: the default seed),
/// printed with the time of `measure`.
#[test]
#[ignore = "runs the quick profile; calibration"]
fn print_quick_claims() {
    let seeds: Vec<u64> = std::env::var("REPRO_SEEDS")
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|_| vec![common::study::runner::DEFAULT_SEED]);
    let cfg = Config::quick();
    for seed in seeds {
        let t = std::time::Instant::now();
        let r = BatchHessianRmt.measure(&cfg, &Ctx::for_test(seed, Profile::Quick)).unwrap();
        let dt = t.elapsed().as_secs_f64();
        let out = BatchHessianRmt.report(&cfg, &r).unwrap();
        for c in &out.claims {
            eprintln!(
                "seed {seed} {} {} {} {}",
                c.id,
                c.measured,
                if c.passed { "ok" } else { "FAIL" },
                c.detail.clone().unwrap_or_default()
            );
        }
        eprintln!("seed {seed}: measure {dt:.2} s");
    }
}

/// The mean-square threshold's closed form (Gaussian fourth moments, secular equation) against the
/// exact second-moment operator of SGD with the empirical fourth moments, built densely on the
/// symmetric matrices of a small problem: `η_ms = 1/μ_max` of `Q` relative to `L` (see
/// [`ms_threshold`]). And its limits: `2/λ_max` as `B → ∞`, about `2/(Tr H + 2λ_max)` at `B = 1`.
#[test]
fn ms_threshold_matches_the_exact_second_moment_operator() {
    let cfg = LrCfg { n: 20_000, d: 5, ..Config::quick().lr };
    let ls = ls_setup(&cfg, Seed(21));
    let n = cfg.n as f64;
    let h = ls.x.t().dot(&ls.x) / n;
    let (hv, u) = common::linalg::eigh(&h);
    let xt = ls.x.dot(&u); // rows in H's eigenbasis
    let d = cfg.d;
    // Orthonormal basis of symmetric d x d matrices: E_jj, (E_jk + E_kj)/√2.
    let pairs: Vec<(usize, usize)> = (0..d).flat_map(|j| (j..d).map(move |k| (j, k))).collect();
    let coord = |m: &Array2<f64>, (j, k): (usize, usize)| {
        if j == k { m[[j, j]] } else { (m[[j, k]] + m[[k, j]]) / 2f64.sqrt() }
    };
    let basis = |(j, k): (usize, usize)| {
        let mut e = Array2::<f64>::zeros((d, d));
        let v = if j == k { 1.0 } else { 1.0 / 2f64.sqrt() };
        e[[j, k]] = v;
        e[[k, j]] = v;
        e
    };
    let hd = Array2::from_diag(&hv);
    for b in [1usize, 4, 64] {
        let bf = b as f64;
        let dim = pairs.len();
        let mut a = Array2::<f64>::zeros((dim, dim));
        for (c, &pc) in pairs.iter().enumerate() {
            let e = basis(pc);
            // Q(E) = (1 − 1/B) H E H + (1/B) mean_i (x_iᵀ E x_i) x_i x_iᵀ
            let mut q = hd.dot(&e).dot(&hd) * (1.0 - 1.0 / bf);
            let xe = xt.dot(&e);
            let w: Array1<f64> = (&xe * &xt).sum_axis(Axis(1));
            let mut xw = xt.clone();
            for (mut row, wi) in xw.axis_iter_mut(Axis(0)).zip(&w) {
                row *= *wi;
            }
            q = q + xt.t().dot(&xw) / (n * bf);
            for (r, &pr) in pairs.iter().enumerate() {
                // L is diagonal in this basis: (h_j + h_k).
                let l = |(j, k): (usize, usize)| hv[j] + hv[k];
                a[[r, c]] = coord(&q, pr) / (l(pr) * l(pc)).sqrt();
            }
        }
        let a = (&a + &a.t()) / 2.0;
        let exact = 1.0 / dense_max(&a);
        let closed = ms_threshold(&hv.to_vec(), b);
        assert!((closed / exact - 1.0).abs() < 0.01, "B={b}: closed {closed} exact {exact}");
    }
    let (tr, lmax) = (hv.sum(), hv[d - 1]);
    assert!((ms_threshold(&hv.to_vec(), 1_000_000) * lmax / 2.0 - 1.0).abs() < 1e-5);
    let b1 = ms_threshold(&hv.to_vec(), 1) * (tr + 2.0 * lmax) / 2.0;
    assert!((b1 - 1.0).abs() < 0.1, "{b1}");
}

/// The perturbation-theory constant on a case with a closed form: per-sample matrices `h_i` that are
/// diagonal plus a rank-two coupling of v₁ and v₂ with ±ε: `Var_i(v₂ᵀ h_i v₁) = ε²`, so `c = ε²/(λ₁ − λ₂)`.
#[test]
fn pt_constant_closed_form() {
    let vals = Array1::from(vec![0.5, 1.0, 3.0]);
    let vecs = Array2::<f64>::eye(3);
    let eps = 0.3;
    // h_i v₁ = (0, ±ε, 3): the coupling to v₂ (index 1) is ±ε, to v₀ zero.
    let per = Array2::from_shape_vec((2, 3), vec![0.0, eps, 3.0, 0.0, -eps, 3.0]).unwrap();
    let c = crate::check::pt_constant(vals.view(), vecs.view(), per.view());
    assert!((c - eps * eps / 2.0).abs() < 1e-15, "{c}");
}
