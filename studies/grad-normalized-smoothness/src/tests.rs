//! Kernel tests (closed forms, finite differences), validation, and the planted bugs.

use crate::methods::{GnsOptions, Metric, Stop, Variant, gns, gradient_method, regularized_step};
use crate::problems::{Equations, Hess, LogSumExp, Logistic, Model, PowerEquations, Problem};
use crate::runs::{GM_EUCLID, GNS_EXACT, GNS_GN, GNS_WGN, Run};
use crate::*;
use common::models::loss::{logsumexp_hessian, logsumexp_hvp};
use common::study::Profile;
use common::{Seed, Validate};
use ndarray::{Array1, Array2};
use rand::Rng;
use std::sync::OnceLock;

fn rand_vec(seed: u64, n: usize, s: f64) -> Array1<f64> {
    let mut rng = Seed(seed).rng();
    Array1::from_shape_fn(n, |_| s * rng.random_range(-1.0..1.0))
}

/// Central finite differences of the gradient and of the Hessian (as differences of gradients).
fn check_derivatives(p: &dyn Problem, x: &Array1<f64>, tol_g: f64, tol_h: f64) {
    let n = p.dim();
    let h = 1e-6;
    let g = p.grad(x);
    let hx = p.model(x, Hess::Exact).to_dense();
    for i in 0..n {
        let mut e = Array1::zeros(n);
        e[i] = h;
        let fd = (p.value(&(x + &e)) - p.value(&(x - &e))) / (2.0 * h);
        assert!((fd - g[i]).abs() <= tol_g * (1.0 + g[i].abs()), "grad[{i}]: fd {fd} vs {}", g[i]);
        let col = (p.grad(&(x + &e)) - p.grad(&(x - &e))) / (2.0 * h);
        for j in 0..n {
            assert!(
                (col[j] - hx[(j, i)]).abs() <= tol_h * (1.0 + hx[(j, i)].abs()),
                "hess[{j},{i}]: fd {} vs {}",
                col[j],
                hx[(j, i)]
            );
        }
    }
}

#[test]
fn logsumexp_shift_puts_the_minimum_at_zero() {
    let p = LogSumExp::random(15, 25, 0.5, Seed(1));
    let g0 = p.grad(&Array1::zeros(15));
    assert!(g0.iter().all(|v| v.abs() < 1e-13), "∇f(0) = {g0}");
    assert!((p.value(&Array1::zeros(15)) - p.f_star()).abs() < 1e-14);
    // f ≥ f* around 0 (convex with ∇f(0) = 0)
    for s in 0..20 {
        assert!(p.value(&rand_vec(s, 15, 1.0)) >= p.f_star());
    }
}

#[test]
fn logsumexp_exact_hessian_matches_common_and_finite_differences() {
    let p = LogSumExp::random(8, 12, 0.7, Seed(2));
    let x = rand_vec(3, 8, 0.5);
    check_derivatives(&p, &x, 1e-7, 1e-6);
    // Mᵀ ∇²lse(z) M / μ from common, and the HVP.
    let z = p.logits(&x);
    let want = p.a.t().dot(&logsumexp_hessian(z.view())).dot(&p.a) / p.mu;
    let got = p.model(&x, Hess::Exact).to_dense();
    assert!((&want - &got).iter().all(|v| v.abs() < 1e-12));
    let v = rand_vec(4, 8, 1.0);
    let hvp = p.a.t().dot(&logsumexp_hvp(z.view(), p.a.dot(&v).view())) / p.mu;
    assert!((&hvp - &got.dot(&v)).iter().all(|t| t.abs() < 1e-12));
    // weighted GN − exact = g gᵀ/μ (PSD, rank one)
    let g = p.grad(&x);
    let d = p.model(&x, Hess::WeightedGn).to_dense() - &got;
    for i in 0..8 {
        for j in 0..8 {
            assert!((d[(i, j)] - g[i] * g[j] / p.mu).abs() < 1e-12);
        }
    }
}

#[test]
fn logsumexp_gap_is_exact_at_large_logits() {
    // μ small: logits ~ 1/μ; the max shift keeps f − f* accurate (no overflow, no cancellation to 0).
    let p = LogSumExp::random(10, 10, 0.02, Seed(3));
    let x = rand_vec(5, 10, 1e-6);
    let gap = p.value(&x) - p.f_star();
    assert!((0.0..1e-6).contains(&gap), "gap {gap}");
}

#[test]
fn logistic_derivatives_and_bound() {
    let mut rng = Seed(6).rng();
    let feats = Array2::from_shape_fn((40, 4), |_| rng.random_range(-2.0..2.0));
    let y = Array1::from_shape_fn(40, |i| (i % 2) as f64);
    let p = Logistic::new(&feats, y, 1e-2);
    let w = rand_vec(7, 5, 0.5);
    check_derivatives(&p, &w, 1e-7, 1e-6);
    // the bound dominates the Hessian everywhere (σ(1 − σ) ≤ 1/4)
    let d = p.model(&w, Hess::Bound).to_dense() - p.model(&w, Hess::Exact).to_dense();
    let ev = common::linalg::eigvalsh(&d);
    assert!(ev.iter().all(|&e| e > -1e-12), "{ev}");
    let diag = p.model(&w, Hess::Diagonal).to_dense();
    assert!((diag.diag().to_owned() - p.hessian(&w).diag()).iter().all(|v| v.abs() < 1e-15));
    let (fs, ws) = p.newton_optimum(30);
    assert!(p.grad(&ws).iter().all(|g| g.abs() < 1e-12) && fs <= p.value(&w));
}

#[test]
fn power_equations_derivatives_and_approximations() {
    let mut rng = Seed(8).rng();
    let a = common::rng::gaussian_mat(&mut rng, 3, 5, 1.0);
    let b = rand_vec(9, 3, 1.0);
    let cases = [
        (PowerEquations { eq: Equations::Rosenbrock, p: 5.0 }, Array1::from(vec![-1.2, 0.7])),
        (PowerEquations { eq: Equations::Chebyshev(6), p: 4.0 }, rand_vec(10, 6, 1.0)),
        (PowerEquations { eq: Equations::Linear { a, b }, p: 4.0 }, rand_vec(11, 5, 1.0)),
    ];
    for (p, x) in &cases {
        check_derivatives(p, x, 1e-6, 1e-5);
        let u = p.eq.u(x);
        let j = p.eq.jac(x);
        let nu = u.dot(&u).sqrt();
        // GN = ‖u‖^{p−2}JᵀJ + Fisher; exact = GN + ‖u‖^{p−2} Σ uᵢ∇²uᵢ
        let gn = p.model(x, Hess::GaussNewton).to_dense();
        let fi = p.model(x, Hess::Fisher).to_dense();
        let jtj = j.t().dot(&j) * nu.powf(p.p - 2.0);
        assert!((&gn - &fi - &jtj).iter().all(|v| v.abs() < 1e-9 * (1.0 + nu.powf(p.p))));
        let ex = p.model(x, Hess::Exact).to_dense();
        let sec = p.eq.weighted_second(&u) * nu.powf(p.p - 2.0);
        assert!((&ex - &gn - &sec).iter().all(|v| v.abs() < 1e-9 * (1.0 + nu.powf(p.p))));
    }
}

#[test]
fn sherman_morrison_step_equals_the_dense_solve() {
    let n = 7;
    let v = rand_vec(12, n, 1.0);
    let g = rand_vec(13, n, 1.0);
    let mut rng = Seed(14).rng();
    let r = common::rng::gaussian_mat(&mut rng, n, n, 1.0);
    let b = r.t().dot(&r) + Array2::<f64>::eye(n);
    for metric in [Metric::Identity, Metric::dense(b).unwrap()] {
        for lam in [1e-3, 1.0, 30.0] {
            let m1 = Model::RankOne { c: 2.5, v: v.clone() };
            let m2 = Model::Dense(m1.to_dense());
            let s1 = regularized_step(&m1, &metric, lam, &g).unwrap();
            let s2 = regularized_step(&m2, &metric, lam, &g).unwrap();
            assert!((&s1 - &s2).iter().all(|t| t.abs() < 1e-9 * (1.0 + s2[0].abs())), "{s1} vs {s2}");
        }
    }
}

#[test]
fn dual_norm_is_the_inverse_metric() {
    let n = 5;
    let mut rng = Seed(15).rng();
    let r = common::rng::gaussian_mat(&mut rng, n, n, 1.0);
    let b = r.t().dot(&r) + Array2::<f64>::eye(n);
    let m = Metric::dense(b.clone()).unwrap();
    let g = rand_vec(16, n, 1.0);
    let binv = common::linalg::dense::inv(b.view()).unwrap();
    assert!((m.dual_sq(&g) - g.dot(&binv.dot(&g))).abs() < 1e-12 * (1.0 + m.dual_sq(&g)));
    // Cauchy-Schwarz: ⟨g, d⟩ ≤ ‖g‖*‖d‖
    let d = rand_vec(17, n, 1.0);
    assert!(g.dot(&d) <= (m.dual_sq(&g) * m.primal_sq(&d)).sqrt() + 1e-12);
}

fn opts(h: Hess, stop: Stop, variant: Variant) -> GnsOptions {
    GnsOptions { hess: h, gamma0: 1.0, gamma_min: 1e-9, eps: 1e-8, max_iters: 300, stop, variant }
}

#[test]
fn gns_and_gradient_method_converge_on_a_small_logsumexp() {
    let p = LogSumExp::random(20, 30, 1.0, Seed(18));
    let metric = Metric::dense(p.metric.clone()).unwrap();
    let x0 = Array1::ones(20);
    let stop = Stop::Gap { f_star: p.f_star(), tol: 1e-10 };
    for h in [Hess::Exact, Hess::WeightedGn] {
        let t = gns(&p, &metric, &x0, &opts(h, stop, Variant::Paper));
        assert!(t.reached.is_some(), "{h:?}");
        let run = Run { method: "x".into(), f_star: p.f_star(), gns: Some(t.clone()), gd: None };
        let v = acceptance_violations(&run);
        assert_eq!((v.bad, v.exhausted), (0, 0));
        assert!(t.f.windows(2).all(|w| w[1] <= w[0]));
        assert!(t.factorizations.windows(2).all(|w| w[1] > w[0]));
    }
    let t = gradient_method(&p, &metric, &x0, 5000, stop);
    assert!(t.reached.is_some());
}

type Mutation = Box<dyn Fn(&mut Config)>;

#[test]
fn configs_validate_and_bad_values_are_refused() {
    assert!(<Config as Profiles>::quick().validate().is_ok());
    assert!(<Config as Profiles>::full().validate().is_ok());
    let bad: Vec<Mutation> = vec![
        Box::new(|c| c.n = 0),
        Box::new(|c| c.m = 1_000_000),
        Box::new(|c| c.mus = vec![2.0, 0.5, 0.25]),
        Box::new(|c| c.mus = vec![1.0, 0.5]),
        Box::new(|c| c.mus = vec![1.0, 0.5, f64::NAN]),
        Box::new(|c| c.tol = 0.0),
        Box::new(|c| c.tol = f64::INFINITY),
        Box::new(|c| c.gamma_min = 10.0),
        Box::new(|c| c.seeds = 0),
        Box::new(|c| c.rosen_p = 1.0),
        Box::new(|c| c.cheb_d = 1),
        Box::new(|c| c.eq_n = 100_000),
        Box::new(|c| c.logistic_l2 = 0.0),
    ];
    for (i, f) in bad.iter().enumerate() {
        let mut c = <Config as Profiles>::quick();
        f(&mut c);
        assert!(c.validate().is_err(), "bad config {i} accepted");
    }
}

// ---------------------------------------------------------------------------------------------
// Planted bugs: a tiny real run, then a named bug in its Results (or a test-only hook) fed to report.

fn tiny() -> Config {
    Config {
        n: 40,
        m: 40,
        mus: vec![1.0, 0.5, 0.25],
        seeds: 2,
        gns_max_iters: 300,
        gd_max_iters: 300,
        cheb_d: 10,
        eq_m: 10,
        eq_n: 20,
        ..<Config as Profiles>::quick()
    }
}

fn tiny_results() -> &'static Results {
    static R: OnceLock<Results> = OnceLock::new();
    R.get_or_init(|| GradNormalizedSmoothness.measure(&tiny(), &Ctx::for_test(5, Profile::Quick)).unwrap())
}

fn claim(r: &Results, id: &str) -> common::Claim {
    let out = GradNormalizedSmoothness.report(&tiny(), r).unwrap();
    out.claims.into_iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no claim {id}"))
}

fn gns_mut<'a>(runs: &'a mut [Run], label: &str) -> &'a mut crate::methods::GnsTrace {
    runs.iter_mut().find(|r| r.method == label).and_then(|r| r.gns.as_mut()).unwrap()
}

#[test]
fn the_tiny_run_passes_the_structural_claims() {
    let r = tiny_results();
    for id in ["K3-search-overhead", "K4-monotone-accept", "K1-weighted-GN", "K1-exact", "K2-linear-rate"] {
        let c = claim(r, id);
        assert!(c.passed, "{id}: {} ({:?})", c.measured, c.detail);
    }
}

#[test]
fn planted_lambda_times_gamma_fails_k1_and_k2() {
    let cfg = tiny();
    let mut r = tiny_results().clone();
    r.logsumexp = GradNormalizedSmoothness_variant(&cfg, Variant::LambdaTimesGamma);
    let (k1, k2) = (claim(&r, "K1-weighted-GN"), claim(&r, "K2-linear-rate"));
    assert!(!k1.passed, "K1 passed with λ = γ‖g‖*: {}", k1.measured);
    assert!(!(k2.passed && claim(&r, "K2-no-slowdown").passed), "K2 passed with λ = γ‖g‖*: {}", k2.measured);
}

#[allow(non_snake_case)]
fn GradNormalizedSmoothness_variant(cfg: &Config, v: Variant) -> Swept<Vec<Run>> {
    let ctx = Ctx::for_test(5, Profile::Quick);
    let sweep = Sweep::new("logsumexp").axis("mu", &cfg.mus).reps(cfg.seeds);
    ctx.sweep(&sweep, |c, seed| runs::logsumexp_cell(cfg, c.f64("mu"), seed, v)).unwrap()
}

#[test]
fn planted_missing_acceptance_test_fails_k4() {
    let cfg = tiny();
    let mut r = tiny_results().clone();
    r.logsumexp = GradNormalizedSmoothness_variant(&cfg, Variant::NoTest);
    let c = claim(&r, "K4-monotone-accept");
    assert!(!c.passed, "K4 passed without the acceptance test: {}", c.measured);
}

#[test]
fn planted_increase_of_f_fails_k4() {
    let mut r = tiny_results().clone();
    let t = gns_mut(&mut r.logsumexp.results[0], GNS_WGN);
    t.f[2] = t.f[1] + 1e-3;
    assert!(!claim(&r, "K4-monotone-accept").passed);
}

#[test]
fn planted_search_without_warm_start_fails_k3() {
    // A search restarting at γ₀ every iteration: ~log₂(γ₀/γ_k) + 1 factorizations per step.
    let mut r = tiny_results().clone();
    for runs in &mut r.logsumexp.results {
        let t = gns_mut(runs, GNS_EXACT);
        let k = t.factorizations.len() - 1;
        for (i, f) in t.factorizations.iter_mut().enumerate() {
            *f = (i as u64) * 3 + if i == k { 40 } else { 0 };
        }
    }
    assert!(!claim(&r, "K3-search-overhead").passed);
}

#[test]
fn planted_mu_not_in_the_logits_fails_k5() {
    // Every μ costs the same: copy the μ = 1 results onto the smallest μ.
    let mut r = tiny_results().clone();
    let n = r.logsumexp.cells.len();
    for i in 0..n {
        if (r.logsumexp.cells[i].f64("mu") - 0.25).abs() < 1e-12 {
            let rep = r.logsumexp.cells[i].rep();
            let j =
                (0..n).find(|&j| r.logsumexp.cells[j].f64("mu") == 1.0 && r.logsumexp.cells[j].rep() == rep).unwrap();
            r.logsumexp.results[i] = r.logsumexp.results[j].clone();
        }
    }
    assert!(!claim(&r, "K5-conditioning").passed);
}

#[test]
fn planted_plain_gauss_newton_fails_k5_ratio_and_k1() {
    // An approximation as slow as the B-metric gradient method: 4× the exact Hessian's iterations.
    let mut r = tiny_results().clone();
    for runs in &mut r.logsumexp.results {
        let e = gns_mut(runs, GNS_EXACT).reached.unwrap();
        gns_mut(runs, GNS_WGN).reached = Some(4 * e.max(16));
    }
    assert!(!claim(&r, "K5-approx-cost").passed);
    assert!(!claim(&r, "K1-weighted-GN").passed);
}

#[test]
fn planted_easy_problem_fails_the_anti_check() {
    let mut r = tiny_results().clone();
    for runs in &mut r.logsumexp.results {
        let fs = runs[0].f_star;
        let gd = runs.iter_mut().find(|x| x.method == GM_EUCLID).and_then(|x| x.gd.as_mut()).unwrap();
        gd.f_last = fs + 1e-9;
    }
    assert!(!claim(&r, "K1-gradient-stalls").passed);
}

#[test]
fn planted_stalls_fail_k6() {
    let mut r = tiny_results().clone();
    gns_mut(&mut r.logistic, GNS_EXACT).reached = None;
    assert!(!claim(&r, "K6-logistic").passed);
    let mut r = tiny_results().clone();
    gns_mut(&mut r.logistic, GNS_EXACT).reached = Some(500);
    assert!(!claim(&r, "K6-logistic").passed);
    let mut r = tiny_results().clone();
    for (c, runs) in r.power.cells.iter().zip(r.power.results.iter_mut()) {
        if c.str("problem") == "chebyshev" {
            gns_mut(runs, GNS_GN).reached = None;
        }
    }
    assert!(!claim(&r, "K6-chebyshev").passed);
    let mut r = tiny_results().clone();
    gns_mut(&mut r.rosenbrock, GNS_GN).reached = None;
    assert!(!claim(&r, "K6-nonconvex").passed);
    let mut r = tiny_results().clone();
    let i = r.power.cells.iter().position(|c| c.str("problem") == "equations").unwrap();
    gns_mut(&mut r.power.results[i], GNS_EXACT).reached = None;
    assert!(!claim(&r, "K6-nonconvex").passed);
    let mut r = tiny_results().clone();
    let i = r.power.cells.iter().position(|c| c.str("problem") == "equations").unwrap();
    gns_mut(&mut r.power.results[i], crate::runs::GNS_FISHER).reached = None;
    assert!(!claim(&r, "K6-fisher").passed);
}

#[test]
fn planted_gradient_step_in_disguise_fails_the_factor() {
    // A "second-order" method as slow as the gradient method: ratio ≈ 1.
    let mut r = tiny_results().clone();
    let gd = r.rosenbrock.iter().find(|x| x.method == GM_EUCLID).unwrap().iters_run();
    gns_mut(&mut r.rosenbrock, GNS_GN).reached = Some(gd);
    assert!(!claim(&r, "K6-gradient-factor").passed);
}

#[test]
fn report_round_trips_through_json() {
    let r = tiny_results();
    let s = serde_json::to_string(r).unwrap();
    let back: Results = serde_json::from_str(&s).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), s);
}

// ---------------------------------------------------------------------------------------------
// Calibration (ignored): the quick-profile claims over many root seeds.

#[test]
#[ignore = "calibration: the quick profile's claims over REPRO_CAL_SEEDS (default 20 seeds from 1000)"]
fn calibrate_quick_claims() {
    let seeds: Vec<u64> = std::env::var("REPRO_CAL_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| (1000..1020).collect());
    let cfg = <Config as Profiles>::quick();
    let mut table: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for &s in &seeds {
        let r = GradNormalizedSmoothness.measure(&cfg, &Ctx::for_test(s, Profile::Quick)).unwrap();
        let out = GradNormalizedSmoothness.report(&cfg, &r).unwrap();
        for c in out.claims {
            eprintln!("seed {s} {} {} {}", c.id, c.measured, if c.passed { "ok" } else { "FAIL" });
            if !c.passed && c.gated {
                eprintln!("    {:?}", c.detail);
            }
            table.entry(c.id).or_default().push(c.measured);
        }
    }
    for (id, v) in table {
        eprintln!(
            "{id}: min {} max {} mean {}",
            common::stats::min(&v),
            common::stats::max(&v),
            common::stats::mean(&v)
        );
    }
}

#[test]
#[ignore = "debug: print the tables of one quick run"]
fn dump_tables() {
    let cfg = <Config as Profiles>::quick();
    let seed = std::env::var("REPRO_CAL_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20240601);
    let r = GradNormalizedSmoothness.measure(&cfg, &Ctx::for_test(seed, Profile::Quick)).unwrap();
    let out = GradNormalizedSmoothness.report(&cfg, &r).unwrap();
    for t in &out.tables {
        let names: Vec<&str> = t.columns.iter().map(|c| c.0.as_str()).collect();
        eprintln!("== {}: {}", t.name, names.join(","));
        let n = t.columns[0].1.len();
        for i in 0..n {
            let row: Vec<String> = t.columns.iter().map(|c| c.1.cell(i)).collect();
            eprintln!("{}", row.join(","));
        }
    }
}

#[test]
#[ignore = "cross-check: writes one LogSumExp instance and the Rust counts for reference/gns_crosscheck.py"]
fn export_instance() {
    let dir = std::env::var("GNS_INSTANCE").unwrap_or_else(|_| "/tmp/gns_instance".into());
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = Config { n: 100, m: 100, ..<Config as Profiles>::quick() };
    let (mu, seed) = (1.0, Seed(3124));
    let p = LogSumExp::random(cfg.n, cfg.m, mu, seed);
    let csv = |a: &Array2<f64>| {
        a.rows()
            .into_iter()
            .map(|r| r.iter().map(|v| format!("{v:e}")).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(format!("{dir}/a.csv"), csv(&p.a)).unwrap();
    std::fs::write(format!("{dir}/metric.csv"), csv(&p.metric)).unwrap();
    std::fs::write(format!("{dir}/b.csv"), p.b.iter().map(|v| format!("{v:e}")).collect::<Vec<_>>().join("\n"))
        .unwrap();
    let runs = runs::logsumexp_cell(&cfg, mu, seed, Variant::Paper).unwrap();
    let counts: serde_json::Map<String, serde_json::Value> =
        runs.iter().map(|r| (r.method.clone(), serde_json::json!(r.reached()))).collect();
    let meta = serde_json::json!({"mu": mu, "rust": counts});
    std::fs::write(format!("{dir}/meta.json"), meta.to_string()).unwrap();
    eprintln!("{meta}");
}

#[test]
#[ignore = "debug: the quick profile through the runner into GNS_REPORT_DIR (default /tmp/gns_report)"]
fn quick_report_to_dir() {
    let dir = std::path::PathBuf::from(std::env::var("GNS_REPORT_DIR").unwrap_or_else(|_| "/tmp/gns_report".into()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = std::time::Instant::now();
    let s = common::study::conformance::quick_contract(
        &GradNormalizedSmoothness,
        &dir,
        common::study::runner::DEFAULT_SEED,
        None,
    );
    eprintln!("{}/{} gated claims passed in {:?}", s.passed, s.gated, t.elapsed());
}
