use super::*;
use crate::sso::{Inner, LossKind, Method, Problem, Surrogate};
use common::Profile;
use common::optim::{Armijo, FnObjective, LineSearch};
use common::study::runner::resolve_with_estimate;
use ndarray::{Array1, Array2, ArrayView1};
use rand::Rng;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// Kernels

fn random_problem(loss: LossKind, n: usize, d: usize, k: usize, seed: u64) -> Problem {
    let mut rng = common::Seed(seed).rng();
    let x = Array2::from_shape_fn((n, d), |_| rng.random::<f64>() * 2.0 - 1.0);
    let y: Vec<usize> = (0..n).map(|i| if loss == LossKind::Softmax { i % k } else { i % 2 }).collect();
    Problem::new(x.view(), y, loss)
}

fn random_w(p: &Problem, scale: f64, seed: u64) -> Array2<f64> {
    let mut rng = common::Seed(seed).rng();
    Array2::from_shape_fn((p.p(), p.k), |_| scale * (rng.random::<f64>() * 2.0 - 1.0))
}

#[test]
fn target_gradients_match_finite_differences() {
    for loss in [LossKind::Softmax, LossKind::Bce, LossKind::Mse] {
        let p = random_problem(loss, 7, 3, 4, 1);
        let f = p.x.dot(&random_w(&p, 2.0, 2));
        let (l, g) = p.loss_grad(f.view());
        let n = f.nrows() as f64;
        for i in 0..f.nrows() {
            for j in 0..f.ncols() {
                let h = 1e-6;
                let mut fp = f.clone();
                fp[[i, j]] += h;
                let mut fm = f.clone();
                fm[[i, j]] -= h;
                let fd = (p.loss_grad(fp.view()).0 - p.loss_grad(fm.view()).0) / (2.0 * h) * n;
                assert!((fd - g[[i, j]]).abs() < 1e-7, "{loss:?} ({i},{j}): {fd} vs {}", g[[i, j]]);
            }
        }
        assert!(l.is_finite());
    }
}

/// L_z bounds the per-sample Hessian in the target, and is attained (softmax: two equal logits;
/// BCE: z = 0; squared loss: everywhere), so 1/L_z is the largest valid η.
#[test]
fn l_z_is_the_per_sample_smoothness() {
    use common::models::TargetRow;
    use common::models::loss::{Loss, sigmoid};
    let mut rng = common::Seed(3).rng();
    for _ in 0..200 {
        let z = Array1::from_shape_fn(5, |_| 6.0 * (rng.random::<f64>() - 0.5));
        let h = Loss::SoftmaxCe.hessian_row(z.view(), TargetRow::Class(1));
        let (w, _) = common::linalg::dense::eigh(&h);
        assert!(w.iter().all(|&v| v <= LossKind::Softmax.l_z() + 1e-12));
        let s = sigmoid(z[0]);
        assert!(s * (1.0 - s) <= LossKind::Bce.l_z() + 1e-15);
    }
    let z = Array1::from(vec![0.0, 0.0, -1e3]);
    let (w, _) = common::linalg::dense::eigh(&Loss::SoftmaxCe.hessian_row(z.view(), TargetRow::Class(0)));
    assert!((w.iter().copied().fold(0.0, f64::max) - 0.5).abs() < 1e-12);
    assert_eq!(sigmoid(0.0) * (1.0 - sigmoid(0.0)), 0.25);
}

/// The surrogate in W (through the Gram matrix) is the target-space surrogate of the paper.
#[test]
fn surrogate_in_w_is_the_target_space_surrogate() {
    for loss in [LossKind::Softmax, LossKind::Bce, LossKind::Mse] {
        let p = random_problem(loss, 30, 4, 3, 4);
        let n = p.n() as f64;
        let w_t = random_w(&p, 1.0, 5);
        let z_t = p.x.dot(&w_t);
        let (l_t, g) = p.loss_grad(z_t.view());
        let gram = p.gram();
        let eta = 0.7;
        let s = Surrogate { gram: &gram, w_t: w_t.clone(), l_t, c: p.x.t().dot(&g) / n, eta };
        let w = random_w(&p, 1.0, 6);
        let dz = p.x.dot(&w) - &z_t;
        let direct = l_t + (&g * &dz).sum() / n + (&dz * &dz).sum() / (2.0 * eta * n);
        let (v, grad) = s.value_grad(w.view());
        assert!((v - direct).abs() < 1e-12 * direct.abs().max(1.0), "{loss:?}: {v} vs {direct}");
        let h = 1e-6;
        let mut wp = w.clone();
        wp[[1, 0]] += h;
        let mut wm = w.clone();
        wm[[1, 0]] -= h;
        let fd = (s.value_grad(wp.view()).0 - s.value_grad(wm.view()).0) / (2.0 * h);
        assert!((fd - grad[[1, 0]]).abs() < 1e-7);
        // At the anchor the surrogate is the loss, with the loss's gradient.
        let (v0, g0) = s.value_grad(w_t.view());
        assert_eq!(v0, l_t);
        assert!((&g0 - &s.c).iter().all(|d| d.abs() < 1e-15));
    }
}

/// The closed-form backtracking takes the steps of `common::optim::Armijo`.
#[test]
fn closed_form_armijo_takes_the_steps_of_common_armijo() {
    let mut rng = common::Seed(7).rng();
    for case in 0..300 {
        let s2 = 10f64.powf(rng.random::<f64>() * 4.0 - 2.0);
        let h = 10f64.powf(rng.random::<f64>() * 6.0 - 3.0);
        let a0 = 10f64.powf(rng.random::<f64>() * 2.0);
        // q(α) on the line x + α d, d = −∇q(0), ‖d‖² = s2, curvature h along d.
        let g0 = Array1::from(vec![-s2.sqrt()]);
        let d = Array1::from(vec![s2.sqrt()]);
        let mut obj = FnObjective(|x: ArrayView1<f64>| {
            // Along x = α √s2: q = 1 − x √s2 + x² h / (2 s2).
            let q = 1.0 - x[0] * s2.sqrt() + x[0] * x[0] * h / (2.0 * s2);
            (q, Array1::from(vec![-s2.sqrt() + x[0] * h / s2]))
        });
        let ls = Armijo { c1: 0.5, shrink: 0.9, max_evals: sso::ARMIJO_MAX_EVALS };
        let x0 = Array1::from(vec![0.0]);
        let common_step = ls.search(&mut obj, x0.view(), 1.0, g0.view(), d.view(), a0).map(|s| s.alpha).ok();
        let closed = sso::armijo_quadratic_step(a0, s2, h, 0.5, 0.9, sso::ARMIJO_MAX_EVALS);
        match (common_step, closed) {
            (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-12 * a, "case {case}: {a} vs {b}"),
            (a, b) => assert_eq!(a.is_some(), b.is_some(), "case {case}"),
        }
    }
    // Along whole inner loops on a real surrogate.
    let p = random_problem(LossKind::Bce, 40, 5, 1, 8);
    let ls = sso::LineSearchCfg { c: 0.5, shrink: 0.9, alpha0: 10.0 };
    let (la, ma) = sso::mm_run(&p, 4.0, 10, 15, Inner::Armijo, ls, None);
    let (lc, mc) = sso::mm_run(&p, 4.0, 10, 15, Inner::ArmijoClosed, ls, None);
    for (a, b) in la.loss.iter().zip(&lc.loss) {
        assert!((a - b).abs() < 1e-10, "{a} vs {b}");
    }
    assert_eq!(ma.increases + mc.increases, 0);
}

/// m = 1 with the surrogate's 1/L inner step is one gradient step of length η/λ_max.
#[test]
fn one_inner_step_is_a_gradient_step() {
    let p = random_problem(LossKind::Softmax, 50, 6, 3, 9);
    let ls = sso::LineSearchCfg { c: 0.5, shrink: 0.9, alpha0: 10.0 };
    let lam = p.lambda_max();
    let (mm, _) = sso::mm_run(&p, 2.0, 1, 40, Inner::Fixed, ls, None);
    let gd = sso::gd_run(&p, 2.0 / lam, 40);
    let d = mm.loss.iter().zip(&gd.loss).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(d < 1e-13, "{d}");
    let wrong = sso::gd_run(&p, 1.0 / lam, 40);
    assert!((wrong.loss[1] - mm.loss[1]).abs() > 1e-3);
}

/// The rate statistic on a sequence with a known answer: ‖∇ℓ_t‖² = c/(t+1) gives T·min = cT/T = c.
#[test]
fn rate_statistic_of_a_known_sequence() {
    let t_max = 50;
    let grad2: Vec<f64> = (0..=t_max).map(|t| 2.0 / (t + 1) as f64).collect();
    // ℓ_0 − ℓ_T = 1 for every T ≥ 1; λ/η = 1: bound 2; T·min_{t<T} = T · 2/T = 2.
    let mut loss = vec![2.0; t_max + 1];
    loss[0] = 3.0;
    let (r, spread) = summary::rate_stats(&loss, &grad2, 1.0, 1.0, 20);
    assert!((r - 1.0).abs() < 1e-12, "{r}");
    assert!((spread - 1.0).abs() < 1e-12, "{spread}");
    assert_eq!(summary::first_reaching(&[3.0, 2.0, 1.0], 2.0), Some(1));
    assert_eq!(summary::first_reaching(&[3.0, 2.5], 2.0), None);
}

/// Majorization: at η = 1/L_z no inner iterate rises above the surrogate; at 4/L_z the squared
/// loss (curvature 1 everywhere) violates it at the first inner iterate.
#[test]
fn majorization_holds_at_one_over_l_z_and_fails_at_four() {
    let ls = sso::LineSearchCfg { c: 0.5, shrink: 0.9, alpha0: 10.0 };
    for loss in [LossKind::Softmax, LossKind::Bce, LossKind::Mse] {
        let p = random_problem(loss, 60, 5, 3, 10);
        let (_, ok) = sso::mm_run(&p, 1.0 / loss.l_z(), 5, 20, Inner::Fixed, ls, Some(0));
        assert_eq!(ok.violations + ok.increases, 0, "{loss:?}");
        assert_eq!(ok.checked, 100);
    }
    let p = random_problem(LossKind::Mse, 60, 5, 1, 10);
    let (_, bad) = sso::mm_run(&p, 4.0, 5, 20, Inner::Fixed, ls, Some(0));
    assert_eq!(bad.first_violation, Some(0));
}

#[test]
fn stochastic_runs_are_reproducible_and_count_epochs() {
    let p = random_problem(LossKind::Bce, 50, 4, 1, 11);
    let ls = sso::LineSearchCfg { c: 0.5, shrink: 0.9, alpha0: 10.0 };
    let a = sso::stochastic_run(&p, Method::Sso { m: 3 }, 1.0, 10, 4, ls, &mut common::Seed(1).rng());
    let b = sso::stochastic_run(&p, Method::Sso { m: 3 }, 1.0, 10, 4, ls, &mut common::Seed(1).rng());
    assert_eq!(a, b);
    assert_eq!(a.len(), 5);
    assert!(a[4] < a[0]);
    let d = sso::stochastic_run(&p, Method::Sgd, 1e6, 10, 4, ls, &mut common::Seed(1).rng());
    assert_eq!(d.len(), 5);
}

// ---------------------------------------------------------------------------------------------
// The config contract

fn sets(key: &str, raw: &str) -> Vec<(String, String)> {
    vec![(key.to_string(), raw.to_string())]
}

#[test]
fn profiles_validate() {
    Config::quick().validate().unwrap();
    Config::full().validate().unwrap();
    for profile in [Profile::Quick, Profile::Full] {
        resolve_with_estimate(&TargetSurrogatesSso, profile, &[]).unwrap();
    }
}

#[test]
fn bad_values_are_refused_before_running() {
    for (k, v) in [
        ("eta_lz", "2.0"),
        ("negative_eta_lz", "1.0"),
        ("batches", "[1000]"),
        ("ms", "[5, 10]"),
        ("ms", "[10, 1]"),
        ("t3_m", "7"),
        ("check_outer", "1000"),
        ("mixture_n", "1000000000"),
        ("log10_rates", "[99.0]"),
        ("epochs", "0"),
        ("ls_shrink", "1.0"),
    ] {
        let e = resolve_with_estimate(&TargetSurrogatesSso, Profile::Quick, &sets(k, v)).unwrap_err();
        assert!(!e.0.contains('\n'), "{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Planted bugs: each names the wrong answer of a claim and sees that claim fail.

/// A config that runs in about a second (claims T1, T1-neg, T2, T4 expected to hold).
fn tiny() -> Config {
    Config {
        mixture_n: 300,
        mixture_d: 12,
        mixture_k: 4,
        outer_steps: 40,
        ms: vec![1, 10],
        check_outer: 3,
        trace_outer: 2,
        batches: vec![125],
        stoch_ms: vec![10],
        log10_rates: vec![-1.0, 0.0, 1.0],
        reps: 2,
        epochs: 3,
        ..Config::quick()
    }
}

fn tiny_results() -> &'static Results {
    static R: OnceLock<Results> = OnceLock::new();
    R.get_or_init(|| {
        let cfg = tiny();
        cfg.validate().unwrap();
        let r = TargetSurrogatesSso.measure(&cfg, &Ctx::for_test(5, Profile::Quick)).unwrap();
        let text = serde_json::to_string(&r).unwrap();
        let back: Results = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text, "results round-trip");
        back
    })
}

fn claim(r: &Results, id: &str) -> common::Claim {
    let out = TargetSurrogatesSso.report(&tiny(), r).unwrap();
    assert_eq!(out.claims.len(), CLAIMS.len());
    out.claims.into_iter().find(|c| c.id == id).unwrap()
}

#[test]
fn same_seed_same_bytes_at_any_thread_count() {
    let cfg = tiny();
    let mut one = Ctx::for_test(5, Profile::Quick);
    one.jobs = 1;
    let mut four = Ctx::for_test(5, Profile::Quick);
    four.jobs = 4;
    let a = serde_json::to_string(&TargetSurrogatesSso.measure(&cfg, &one).unwrap()).unwrap();
    let b = serde_json::to_string(&TargetSurrogatesSso.measure(&cfg, &four).unwrap()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, serde_json::to_string(tiny_results()).unwrap());
}

#[test]
fn the_tiny_run_passes_the_exact_claims() {
    let r = tiny_results();
    for id in ["T1", "T1-neg", "T2", "T4"] {
        let c = claim(r, id);
        assert!(c.passed, "{id}: {} {:?}", c.measured, c.detail);
    }
}

/// η above 1/L_z taken for a valid one (the wrong scaling): the η = 4/L_z checks counted as
/// η ≤ 1/L_z make T1 fail.
#[test]
fn a_surrogate_with_the_wrong_scaling_fails_t1() {
    let mut r = tiny_results().clone();
    for c in r.majorization.iter_mut() {
        c.eta_lz = c.eta_lz.min(1.0);
    }
    let c = claim(&r, "T1");
    assert!(!c.passed && c.measured > 0.0, "{}", c.measured);
}

/// A check that compares ℓ with the surrogate at the anchor z_t finds no violation: T1-neg fails.
#[test]
fn a_check_at_the_anchor_fails_t1_neg() {
    let cfg = tiny();
    let mut r = tiny_results().clone();
    for c in r.majorization.iter_mut().filter(|c| c.eta_lz > 1.0) {
        let p = problem(&cfg, &c.problem, common::Seed(5).child("data")).unwrap();
        // The planted check: the iterates never leave the anchor (m = 0 inner steps).
        let (_, mj) = sso::mm_run(&p, c.eta_lz / p.loss.l_z(), 0, cfg.check_outer, c.inner, cfg.ls(), Some(1));
        c.record = mj.into();
    }
    assert!(!claim(&r, "T1-neg").passed);
}

/// GD with the step 1/λ_max (η forgotten) is not the m = 1 sequence: T2 fails.
#[test]
fn gd_without_eta_fails_t2() {
    let cfg = tiny();
    let mut r = tiny_results().clone();
    let f = r.full_batch.iter_mut().find(|f| f.problem == "breast-bce").unwrap();
    let p = problem(&cfg, "breast-bce", common::Seed(5).child("data")).unwrap();
    f.gd = sso::gd_run(&p, 1.0 / f.lambda, cfg.outer_steps);
    let c = claim(&r, "T2");
    assert!(!c.passed && c.measured > 1e-3, "{}", c.measured);
}

/// Inner steps that add nothing (every m behaves as m = 1): T3 sees the ratio 1.
#[test]
fn inner_steps_that_add_nothing_fail_t3() {
    let mut r = tiny_results().clone();
    for f in r.full_batch.iter_mut() {
        let m1 = f.mm.iter().find(|(m, _)| *m == 1).unwrap().1.clone();
        for (_, tr) in f.mm.iter_mut() {
            *tr = m1.clone();
        }
    }
    for id in ["T3", "T3-ill"] {
        let c = claim(&r, id);
        assert!(!c.passed && c.measured >= 1.0, "{id}: {}", c.measured);
    }
}

/// MM with a surrogate that does not majorize (η = 4/L_z on the squared loss, believed to be
/// 1/L_z) loses the descent guarantee: T4 fails.
#[test]
fn a_non_majorizing_surrogate_fails_t4() {
    let cfg = tiny();
    let mut r = tiny_results().clone();
    let f = r.full_batch.iter_mut().find(|f| f.problem == "breast-mse").unwrap();
    let p = problem(&cfg, "breast-mse", common::Seed(5).child("data")).unwrap();
    let (tr, _) = sso::mm_run(&p, 4.0 * f.eta, 10, cfg.outer_steps, Inner::Fixed, cfg.ls(), None);
    f.mm = vec![(10, tr)];
    let c = claim(&r, "T4");
    assert!(!c.passed, "{}", c.measured);
}

// ---------------------------------------------------------------------------------------------
// Calibration helpers (ignored)

/// Prints the claims at the quick profile (calibration aid).
#[test]
#[ignore = "calibration: prints the claims of the quick profile at REPRO_SEEDS"]
fn print_claims() {
    let seeds: Vec<u64> = std::env::var("REPRO_SEEDS")
        .unwrap_or_else(|_| "20240601".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let cfg = Config::quick();
    for seed in seeds {
        let t = std::time::Instant::now();
        let r = TargetSurrogatesSso.measure(&cfg, &Ctx::for_test(seed, Profile::Quick)).unwrap();
        let out = TargetSurrogatesSso.report(&cfg, &r).unwrap();
        eprintln!("seed {seed} ({:.1}s)", t.elapsed().as_secs_f64());
        for c in &out.claims {
            eprintln!("  {} {} passed={} :: {}", c.id, c.measured, c.passed, c.detail.clone().unwrap_or_default());
        }
    }
}

/// Calibration of T3 and T4 on the seeded mixture problems over many root seeds.
#[test]
#[ignore = "calibration: T3/T4 over CALIB_SEEDS (default 1..=30)"]
fn calibrate_mixture() {
    let seeds: Vec<u64> = std::env::var("CALIB_SEEDS")
        .map(|s| s.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .unwrap_or_else(|_| (1..=30).collect());
    let cfg = Config::quick();
    for seed in seeds {
        let mut line = format!("seed {seed}:");
        for name in ["mixture", "mixture-ill"] {
            let p = problem(&cfg, name, common::Seed(seed).child("data")).unwrap();
            let f = full_batch(&cfg, &p, name);
            let r = Results { full_batch: vec![f], majorization: vec![], stochastic: vec![] };
            let s = summary::summarize(&cfg, &r);
            let t3: Vec<String> = s.t3.iter().map(|x| format!("m{}={:.3}", x.m, x.ratio)).collect();
            let t4 = s.t4.iter().map(|x| x.ratio).fold(0.0, f64::max);
            line += &format!(" {name} T3[{}] T4max={t4:.3} T2={:.1e};", t3.join(" "), s.t2[0].1);
        }
        eprintln!("{line}");
    }
}

/// Writes the quick report to $REPORT_OUT (for review of the tables and figures).
#[test]
#[ignore = "writes the quick report to $REPORT_OUT"]
fn write_quick_report() {
    let out = std::path::PathBuf::from(std::env::var("REPORT_OUT").unwrap_or_else(|_| "/tmp/sso-report".into()));
    std::fs::create_dir_all(&out).unwrap();
    let s = common::study::conformance::quick_contract(&TargetSurrogatesSso, &out, 20240601, None);
    eprintln!("{}/{} gated claims passed", s.passed, s.gated);
}
