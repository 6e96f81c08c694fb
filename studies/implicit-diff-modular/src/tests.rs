//! Unit tests of the kernels, planted-bug tests of every gated claim, and the calibration runs.

use super::*;
use common::Profile;

fn quick() -> Config {
    Config::quick()
}

#[test]
#[ignore = "prints the measured claims at one seed"]
fn print_claims() {
    let cfg = quick();
    let ctx = Ctx::for_test(20240601, Profile::Quick);
    let t = std::time::Instant::now();
    let r = ImplicitDiffModular.measure(&cfg, &ctx).unwrap();
    eprintln!("measure {:.2}s", t.elapsed().as_secs_f64());
    let out = ImplicitDiffModular.report(&cfg, &r).unwrap();
    for c in &out.claims {
        eprintln!("{:?}", c);
    }
}

#[test]
#[ignore = "prints HPO runs"]
fn print_hpo() {
    let (xd, yd) = load_xy(Shipped::Diabetes).unwrap();
    for rep in 0..6u64 {
        let s = hpo::split(&xd, &yd, common::Seed(rep).child_idx("split", rep), 0.33);
        for (model, l0, hi) in [(hpo::Model::Ridge, 10.0f64, 1e2f64), (hpo::Model::Lasso, 0.05, 1.0)] {
            let r = hpo::run(&s, model, l0.ln(), 100, 0.1, 1e-4f64.ln(), hi.ln(), 200).unwrap();
            let (ib, best) =
                r.grid_loss.iter().enumerate().fold((0, f64::INFINITY), |b, (i, v)| if *v < b.1 { (i, *v) } else { b });
            eprintln!(
                "{rep} {:?} final λ {:.3e} loss {:.6} grid best λ {:.3e} loss {:.6} excess {:.2e} gerr {:?} path {:?}",
                model,
                r.log_lambda.last().unwrap().exp(),
                r.val_loss.last().unwrap(),
                r.grid_log_lambda[ib].exp(),
                best,
                r.excess(),
                r.grad_rel_err,
                r.log_lambda.iter().step_by(20).map(|v| (v.exp() * 1e4).round() / 1e4).collect::<Vec<_>>()
            );
        }
    }
}

/// Calibration: the quick profile at `CALIB_SEEDS` root seeds (default 1..=40); per claim the
/// range of the measured values and the failures.
#[test]
#[ignore = "calibration over many seeds (minutes)"]
fn calibrate_claims() {
    let n: u64 = std::env::var("CALIB_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let cfg = quick();
    let mut vals: Vec<Vec<f64>> = vec![vec![]; CLAIMS.len()];
    let mut fails: Vec<Vec<u64>> = vec![vec![]; CLAIMS.len()];
    for seed in 1..=n {
        let ctx = Ctx::for_test(seed, Profile::Quick);
        let r = ImplicitDiffModular.measure(&cfg, &ctx).unwrap();
        let out = ImplicitDiffModular.report(&cfg, &r).unwrap();
        for (i, c) in out.claims.iter().enumerate() {
            vals[i].push(c.measured);
            if !c.passed {
                fails[i].push(seed);
            }
        }
    }
    for (i, spec) in CLAIMS.iter().enumerate() {
        let v = &vals[i];
        let (lo, hi) = (common::stats::min(v), common::stats::max(v));
        eprintln!(
            "{}: min {:.4e} max {:.4e} median {:.4e} fails {:?}",
            spec.id,
            lo,
            hi,
            common::stats::median(v),
            fails[i]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Kernels.

use ndarray::{Array1, Array2, array};

fn tiny_svm(seed: u64) -> svm::Data {
    svm::make_data(common::Seed(seed), 8, 5, 3, 20, 1.0)
}

fn fd_dir(f: &dyn Fn(&Array1<f64>) -> Array1<f64>, x: &Array1<f64>, v: &Array1<f64>) -> Array1<f64> {
    let h = 1e-6;
    (f(&(x + &(v * h))) - f(&(x - &(v * h)))) / (2.0 * h)
}

fn maxabs(a: &Array1<f64>) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// Every map's JVPs match finite differences of its value at an interior point, and its VJPs are
/// the transposes of its JVPs (⟨u, Jv⟩ = ⟨Jᵀu, v⟩).
#[test]
fn svm_maps_jvp_and_vjp_are_consistent() {
    use common::solve::RootMap;
    let data = tiny_svm(1);
    let dual = svm::Dual::new(&data.x, &data.y, 0.1, true);
    let (n, k) = dual.shape();
    // An interior point of the simplices (every entry positive, so PG/MD are smooth there).
    let b = Array2::from_shape_fn((n, k), |(i, j)| 0.2 + 0.6 * (((i * k + j) as f64 * 0.37).sin().abs()));
    let b = &b / &b.sum_axis(ndarray::Axis(1)).insert_axis(ndarray::Axis(1));
    let lam = 1.5;
    for mapping in [svm::Mapping::ProjectedGradient, svm::Mapping::MirrorDescent, svm::Mapping::Kkt] {
        let map = svm::Map { dual: &dual, mapping, eta: 0.05, plant: svm::MapPlant::None };
        let mut z = svm::point(&dual, mapping, &b, lam);
        if mapping == svm::Mapping::Kkt {
            // Any (ν, µ): the KKT map is smooth everywhere.
            z.iter_mut().skip(n * k).enumerate().for_each(|(i, v)| *v = 0.1 + 0.01 * i as f64);
        }
        let th = array![lam];
        let m = z.len();
        let v = Array1::from_shape_fn(m, |i| ((i as f64) * 0.91).cos());
        let u = Array1::from_shape_fn(m, |i| ((i as f64) * 0.53).sin());
        let jv = map.jvp_x(z.view(), th.view(), v.view());
        let fd = fd_dir(&|x| map.value(x.view(), th.view()), &z, &v);
        assert!(maxabs(&(&jv - &fd)) < 1e-7, "{mapping:?} jvp_x: {}", maxabs(&(&jv - &fd)));
        let jtu = map.vjp_x(z.view(), th.view(), u.view());
        assert!((u.dot(&jv) - jtu.dot(&v)).abs() < 1e-10, "{mapping:?} vjp_x");
        let jt = map.jvp_theta(z.view(), th.view(), array![1.0].view());
        let fdt =
            (map.value(z.view(), array![lam + 1e-6].view()) - map.value(z.view(), array![lam - 1e-6].view())) / 2e-6;
        assert!(maxabs(&(&jt - &fdt)) < 1e-7, "{mapping:?} jvp_theta");
        let vt = map.vjp_theta(z.view(), th.view(), u.view());
        assert!((vt[0] - u.dot(&jt)).abs() < 1e-10, "{mapping:?} vjp_theta");
    }
}

/// The polished SVM solution satisfies the KKT conditions to rounding, and is a fixed point of the
/// PG and MD maps.
#[test]
fn svm_solution_is_optimal() {
    use common::solve::RootMap;
    let data = tiny_svm(2);
    let dual = svm::Dual::new(&data.x, &data.y, 0.1, true);
    let b = svm::solve(&dual, 1.0, 500, 20).unwrap();
    let th = array![1.0];
    for mapping in [svm::Mapping::ProjectedGradient, svm::Mapping::MirrorDescent, svm::Mapping::Kkt] {
        let map = svm::Map { dual: &dual, mapping, eta: 0.05, plant: svm::MapPlant::None };
        let z = svm::point(&dual, mapping, &b, 1.0);
        let f = map.value(z.view(), th.view());
        let res = if mapping == svm::Mapping::Kkt { f } else { f - &z };
        assert!(maxabs(&res) < 1e-12, "{mapping:?}: {}", maxabs(&res));
    }
    let g = dual.grad(b.view(), 1.0);
    let (_, mu) = svm::multipliers(&g, &b);
    assert!(mu.iter().all(|v| *v >= -1e-12) && b.iter().all(|v| *v >= 0.0));
}

/// The unrolled hyper-gradient is the exact derivative of the T-step map (central differences of
/// ℓ(β_T(λ), λ) in log λ), and the implicit one at the polished solution matches the FD of the
/// solution map.
#[test]
fn hypergradients_match_finite_differences() {
    let data = tiny_svm(3);
    let dual = svm::Dual::new(&data.x, &data.y, 0.1, true);
    let outer = svm::Outer { xv: &data.xv, yv: &data.yv };
    let lam = 0.8;
    let eta = 1.0 / dual.lipschitz(lam);
    let t = 30;
    let unrolled_loss = |l: f64| {
        let (n, k) = dual.shape();
        let mut b = svm::uniform(n, k);
        for _ in 0..t {
            b = dual.pg_step(b.view(), l, eta);
        }
        outer.eval(&dual, &b, l).0
    };
    let h = 1e-5;
    let fd = (unrolled_loss(lam * f64::exp(h)) - unrolled_loss(lam * f64::exp(-h))) / (2.0 * h);
    let g = svm::hypergrad(&dual, &outer, lam, eta, t, svm::HyperMethod::Unrolled).unwrap().value;
    assert!((g - fd).abs() < 1e-7 * fd.abs().max(1.0), "unrolled {g} vs fd {fd}");
    let b = svm::solve(&dual, lam, 500, 20).unwrap();
    let (gi, _) = svm::implicit_at(&dual, &outer, &b, lam, eta).unwrap();
    let fdi = svm::fd_hypergrad(&dual, &outer, lam, 500).unwrap();
    assert!((gi - fdi).abs() < 1e-6 * fdi.abs().max(1e-3), "implicit {gi} vs fd {fdi}");
}

/// Ridge: the implicit error obeys the bound at every step; the two estimates agree at t = 0 (both
/// 0); the ratio matches the closed form from t = 6κ on (diabetes, λ = 1).
#[test]
fn ridge_precision_closed_form() {
    let (x, y) = diabetes_xy();
    let c = precision::ridge(&x, &y, 1.0, 150, precision::Plant::None);
    assert_eq!(c.err_impl[0], c.err_unroll[0]);
    for t in c.resolved(0) {
        assert!(c.err_impl[t] <= c.inv_norm * c.iter_err[t] * (1.0 + 1e-9));
    }
    for t in c.resolved((6.0 * c.kappa()).ceil() as usize) {
        let r = c.err_unroll[t] / c.err_impl[t];
        assert!((r / c.predicted_ratio(t) - 1.0).abs() < 0.02, "t {t}: ratio {r} vs {}", c.predicted_ratio(t));
    }
}

/// Lasso: the polished solution satisfies the KKT conditions; the PG fixed-point Jacobian equals the
/// support formula (the ridge and lasso legs of M1 at another λ).
#[test]
fn lasso_and_ridge_legs() {
    let (xd, yd) = load_xy(Shipped::Diabetes).unwrap();
    let s = hpo::split(&xd, &yd, common::Seed(5), 0.33);
    let lam = 0.02;
    let w = hpo::lasso_solution(&s, lam).unwrap();
    let g = s.g.dot(&w) - &s.b;
    for j in 0..w.len() {
        if w[j] != 0.0 {
            assert!((g[j] + lam * w[j].signum()).abs() < 1e-12);
        } else {
            assert!(g[j].abs() <= lam * (1.0 + 1e-12));
        }
    }
    for (name, v) in hpo::modular(&s, lam).unwrap() {
        assert!(v < 1e-10, "{name}: {v}");
    }
}

// ---------------------------------------------------------------------------------------------
// Planted bugs: each gated claim fails on a wrong Results.

fn base() -> &'static Results {
    static R: std::sync::OnceLock<Results> = std::sync::OnceLock::new();
    R.get_or_init(|| ImplicitDiffModular.measure(&quick(), &Ctx::for_test(7, Profile::Quick)).unwrap())
}

fn claim(r: &Results, id: &str) -> common::Claim {
    let out = ImplicitDiffModular.report(&quick(), r).unwrap();
    out.claims.into_iter().find(|c| c.id == id).unwrap()
}

#[test]
fn the_unplanted_results_pass() {
    let out = ImplicitDiffModular.report(&quick(), base()).unwrap();
    for c in out.claims.iter().filter(|c| c.gated) {
        assert!(c.passed, "{} measured {}", c.id, c.measured);
    }
}

fn diabetes_xy() -> (Array2<f64>, Array1<f64>) {
    let (xd, yd) = load_xy(Shipped::Diabetes).unwrap();
    let (m, sd) = common::stats::mean_sd(&yd);
    (precision::standardize(&xd), Array1::from_iter(yd.iter().map(|v| (v - m) / sd)))
}

#[test]
fn p1_fails_with_the_wrong_sign() {
    let (x, y) = diabetes_xy();
    let mut r = base().clone();
    r.ridge = precision::ridge(&x, &y, 1.0, 300, precision::Plant::ImplicitSign);
    let c = claim(&r, "P1");
    assert!(!c.passed && c.measured > 1e3, "{}", c.measured);
}

#[test]
fn p2_and_p4_fail_for_an_unrolled_estimate_in_disguise() {
    let mut r = base().clone();
    r.ridge.err_impl = r.ridge.err_unroll.clone();
    let c = claim(&r, "P2");
    assert!(!c.passed && c.measured < 0.95, "{}", c.measured);
    assert!(!claim(&r, "P4").passed);
}

#[test]
fn p2b_fails_with_a_frozen_hessian() {
    let (xb, yb) = load_xy(Shipped::BreastCancer).unwrap();
    let mut r = base().clone();
    r.logistic =
        precision::logistic(&precision::standardize(&xb), &Array1::from(yb), 0.3, 300, precision::Plant::FrozenHessian)
            .unwrap();
    let c = claim(&r, "P2b");
    assert!(!c.passed, "{}", c.measured);
}

#[test]
fn p3_fails_without_the_forcing_term_and_for_the_spec_formula() {
    let (x, y) = diabetes_xy();
    let mut r = base().clone();
    r.ridge = precision::ridge(&x, &y, 1.0, 300, precision::Plant::UnrollNoForcing);
    assert!(!claim(&r, "P3").passed);
    // The spec's ηµt/(1 − ηµ) (no 1 +) on the true curves: more than 5% off at t = 6κ.
    let c = &base().ridge;
    let worst = c
        .resolved((6.0 * c.kappa()).ceil() as usize)
        .into_iter()
        .map(|t| (c.err_unroll[t] / c.err_impl[t] / (c.predicted_ratio(t) - 1.0) - 1.0).abs())
        .fold(0.0, f64::max);
    assert!(worst > 0.1, "{worst}");
}

#[test]
fn m1_fails_with_the_md_theta_sign() {
    let mut cfg = quick();
    cfg.svm_n = 20;
    cfg.svm_d = 10;
    cfg.svm_k = 3;
    let mut r = base().clone();
    r.modular.results[0] = modular_draw(&cfg, common::Seed(3), svm::MapPlant::MdThetaSign).unwrap();
    let c = claim(&r, "M1");
    assert!(!c.passed && c.measured > 1e-3, "{}", c.measured);
}

#[test]
fn m2_fails_for_the_log_lambda_jacobian() {
    let cfg = quick();
    let data = svm::make_data(common::Seed(4), 20, 10, 3, 10, 1.0);
    let dual = svm::Dual::new(&data.x, &data.y, cfg.svm_smoothing, true);
    let lam = cfg.svm_lambda;
    let b = svm::solve(&dual, lam, 1000, 20).unwrap();
    let jk = svm::jacobian(&dual, svm::Mapping::Kkt, &b, lam, svm::MapPlant::None).unwrap() * lam; // ∂β/∂log λ
    let fd = svm::fd_jacobian(&dual, &b, lam, 1000).unwrap();
    let mut r = base().clone();
    r.modular.results[0].fd_rel = svm::norm(&(&fd - &jk)) / svm::norm(&jk);
    let c = claim(&r, "M2");
    assert!(!c.passed && c.measured > 0.1, "{}", c.measured);
}

#[test]
fn h1_fails_without_the_direct_term() {
    let mut cfg = quick();
    cfg.runtime_ds = vec![20];
    cfg.unroll_ts = vec![100];
    cfg.timing_reps = 1;
    cfg.svm_n = 30;
    let (rows, fds) = hyper_sweep(&cfg, common::Seed(5), false).unwrap();
    let mut r = base().clone();
    let bad = rows.iter().find(|h| h.method == "implicit*").unwrap().clone();
    let d = r.hyper[0].d;
    r.hyper.iter_mut().filter(|h| h.method == "implicit*" && h.d == d).for_each(|h| h.rel_err = bad.rel_err);
    assert!(fds[0].1.abs() > 0.0);
    let c = claim(&r, "H1");
    assert!(!c.passed && c.measured > 1e-2, "{}", c.measured);
}

#[test]
fn h2_fails_when_the_unrolled_gradient_is_checked_against_its_own_map() {
    // The bug: the unrolled hyper-gradient's error measured against a finite difference of the
    // T-step map (which it differentiates exactly) instead of the solution map: error ≈ 0.
    let data = svm::make_data(common::Seed(6), 30, 20, 3, 50, 1.0);
    let dual = svm::Dual::new(&data.x, &data.y, 0.1, false);
    let outer = svm::Outer { xv: &data.xv, yv: &data.yv };
    let lam = 2.0;
    let eta = 1.0 / dual.lipschitz(lam);
    let loss_t = |l: f64| {
        let mut b = svm::uniform(30, 3);
        for _ in 0..500 {
            b = dual.pg_step(b.view(), l, eta);
        }
        outer.eval(&dual, &b, l).0
    };
    let own = (loss_t(lam * 1e-5f64.exp()) - loss_t(lam * (-1e-5f64).exp())) / 2e-5;
    let g = svm::hypergrad(&dual, &outer, lam, eta, 500, svm::HyperMethod::Unrolled).unwrap().value;
    let mut r = base().clone();
    let err = (g - own).abs() / own.abs();
    r.hyper.iter_mut().filter(|h| h.method == "unrolled" && h.t == 500).for_each(|h| h.rel_err = err);
    let c = claim(&r, "H2");
    assert!(!c.passed, "{}", c.measured);
}

#[test]
fn o1_fails_for_the_gradient_in_lambda() {
    let (xd, yd) = load_xy(Shipped::Diabetes).unwrap();
    let s = hpo::split(&xd, &yd, common::Seed(8), 0.33);
    let lam = 10.0;
    let (loss, g) = hpo::hypergrad(&s, hpo::Model::Ridge, lam).unwrap();
    let fd = hpo::fd_hypergrad(&s, hpo::Model::Ridge, lam).unwrap();
    let wrong = g / lam; // d loss / d λ reported as d loss / d log λ
    let mut r = base().clone();
    r.hpo.results[0].grad_rel_err[0] = (wrong - fd).abs() / fd.abs().max(1e-3 * loss);
    let c = claim(&r, "O1");
    assert!(!c.passed && c.measured > 0.5, "{}", c.measured);
}

#[test]
fn o2_fails_with_the_wrong_sign() {
    let (xd, yd) = load_xy(Shipped::Diabetes).unwrap();
    let s = hpo::split(&xd, &yd, common::Seed(9), 0.33);
    let mut r = base().clone();
    // Ascending instead of descending (lr < 0).
    r.hpo.results[0] = hpo::run(&s, hpo::Model::Ridge, 1.0f64.ln(), 100, -0.1, 1e-4f64.ln(), 1e2f64.ln(), 50).unwrap();
    let c = claim(&r, "O2");
    assert!(!c.passed && c.measured > 0.1, "{}", c.measured);
}

#[test]
fn validate_refuses_bad_values() {
    let mut c = quick();
    c.unroll_ts = vec![100];
    assert!(c.validate().is_err());
    let mut c = quick();
    c.svm_n = 2000;
    c.svm_k = 50;
    assert!(c.validate().is_err());
    let mut c = quick();
    c.runtime_ds = vec![500, 50];
    assert!(c.validate().is_err());
    assert!(quick().validate().is_ok() && Config::full().validate().is_ok());
}

#[test]
#[ignore = "prints the E3 rows at a few seeds"]
fn print_hyper() {
    for seed in [1u64, 2, 3] {
        let (rows, fds) = hyper_sweep(&quick(), common::Seed(seed).child("hyper"), true).unwrap();
        eprintln!("seed {seed} fd {fds:?}");
        for h in rows {
            eprintln!(
                "  d {} {} T {} rel {:.3e} value {:.6e} ms {:.1} products {}",
                h.d, h.method, h.t, h.rel_err, h.value, h.time_ms, h.products
            );
        }
    }
}

/// The NumPy cross-check (`reference/crosscheck_ridge.py`): ∂w*/∂λ on diabetes at λ = 1 through
/// common's `root_jvp` equals NumPy's closed form −A⁻¹w* to 1e-10.
#[test]
fn ridge_jacobian_matches_numpy() {
    use common::solve::{FnRoot, LinearSolve, root_jvp};
    let (x, y) = diabetes_xy();
    let n = x.nrows() as f64;
    let g = x.t().dot(&x) / n;
    let b = x.t().dot(&y) / n;
    let map = FnRoot {
        n: 10,
        p: 1,
        value: Box::new(|w, t| g.dot(&w) - &b + &(&w * t[0])),
        jvp_x: Box::new(|_, t, v| g.dot(&v) + &(&v * t[0])),
        vjp_x: Box::new(|_, t, u| g.dot(&u) + &(&u * t[0])),
        jvp_theta: Box::new(|w, _, v| &w * v[0]),
        vjp_theta: Box::new(|w, _, u| array![w.dot(&u)]),
    };
    let a = &g + &Array2::<f64>::eye(10);
    let w = common::linalg::solve_spd(a.view(), b.view()).unwrap();
    let numpy_w = [
        0.018180119239039,
        -0.051304857083285,
        0.189014698460156,
        0.124401083728148,
        0.003646137442437,
        -0.018210587874229,
        -0.093806418391886,
        0.072379460050303,
        0.162232416783261,
        0.069027524763459,
    ];
    let numpy_j = [
        0.006698883800066,
        0.042191305125088,
        -0.073645026287076,
        -0.042294221585177,
        0.016825089706189,
        0.026690736307374,
        0.024425452462742,
        -0.007792598348607,
        -0.06060417182296,
        -0.00491612478827,
    ];
    for how in [
        LinearSolve::Dense,
        LinearSolve::NormalCg(common::solve::KrylovOpts { tol: 1e-14, max_iter: 200, restart: 10 }),
    ] {
        let j = root_jvp(&map, w.view(), array![1.0].view(), array![1.0].view(), how).unwrap();
        for i in 0..10 {
            assert!(
                (w[i] - numpy_w[i]).abs() < 1e-10 && (j[i] - numpy_j[i]).abs() < 1e-10,
                "{how:?} {i}: {} vs {}",
                j[i],
                numpy_j[i]
            );
        }
    }
}

/// Writes the quick report at the default seed to `$IDM_REPORT_DIR` (for looking at the figures).
#[test]
#[ignore = "writes a report for inspection"]
fn write_report() {
    let dir = std::path::PathBuf::from(std::env::var("IDM_REPORT_DIR").unwrap_or("/tmp/idm_report".into()));
    std::fs::create_dir_all(&dir).unwrap();
    common::study::conformance::quick_contract(&ImplicitDiffModular, &dir, common::study::runner::DEFAULT_SEED, None);
}

#[test]
fn claims_are_well_formed() {
    let problems = common::report::spec::lint(CLAIMS);
    assert!(problems.is_empty(), "{problems:?}");
}
