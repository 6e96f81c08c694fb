//! Numerical unit tests and planted-bug tests (each plants one named bug and sees its claim fail).
//! The quick profile itself runs in repro's generated suite and in the `#[ignore]`d `seed_checks`.

use super::*;
use common::spectral::C64;
use common::{Profile, Seed};
use maurey::Sampler;
use proptest::prelude::*;

/// A config small enough for a planted-bug test (< 1 s).
fn tiny() -> Config {
    Config {
        ns: vec![16, 32],
        widths: vec![4, 16, 64, 256],
        maurey_reps: 100,
        quartic_n: 64,
        quartic_steps: 2,
        ..Config::quick()
    }
}

fn tiny_results() -> (Config, Results) {
    let cfg = tiny();
    let ctx = Ctx::for_test(7, Profile::Quick);
    let r = BarronNonlinearElliptic.measure(&cfg, &ctx).unwrap();
    (cfg, r)
}

fn verdict(cfg: &Config, r: &Results, id: &str) -> (bool, f64) {
    let out = BarronNonlinearElliptic.report(cfg, r).unwrap();
    let c = out.claims.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no claim {id}"));
    (c.passed, c.measured)
}

/// The energy (normalized measure) on the grid, for the gradient check.
fn energy(p: &Problem, c: &[C64]) -> f64 {
    let g = &p.grid;
    let u = g.to_values(c);
    let f = g.to_values(&p.f);
    let mut e: f64 = u.iter().zip(&f).map(|(a, b)| 0.5 * a * a - a * b).sum::<f64>() / u.len() as f64;
    for axis in 0..g.d() {
        let mut d = c.to_vec();
        g.deriv_coeffs(&mut d, axis, 1);
        let du = g.to_values(&d);
        e += du
            .iter()
            .map(|p1| {
                0.5 * p1 * p1
                    + p.alpha
                        * match p.nonlin {
                            Nonlinearity::LogCosh => p1.cosh().ln(),
                            Nonlinearity::Quartic => p1.powi(4) / 4.0,
                        }
            })
            .sum::<f64>()
            / u.len() as f64;
    }
    e
}

#[test]
fn gradient_is_the_derivative_of_the_energy() {
    for nonlin in [Nonlinearity::LogCosh, Nonlinearity::Quartic] {
        let f = forcing(&Config::quick(), Seed(3));
        // Odd grid: no Nyquist mode, so the discrete energy's gradient is exactly DE.
        let p = Problem::new(2, 15, 1.0, nonlin, &f);
        let u = p.grid.to_coeffs(&(0..p.grid.len()).map(|i| (i as f64 * 0.37).sin()).collect::<Vec<_>>());
        let v = p.grid.to_coeffs(&(0..p.grid.len()).map(|i| (i as f64 * 1.91).cos()).collect::<Vec<_>>());
        let g = p.gradient(&u);
        let dir: f64 = g.iter().zip(&v).map(|(a, b)| (a.conj() * b).re).sum();
        let eps = 1e-5;
        let plus: Vec<C64> = u.iter().zip(&v).map(|(a, b)| a + b * eps).collect();
        let minus: Vec<C64> = u.iter().zip(&v).map(|(a, b)| a - b * eps).collect();
        let fd = (energy(&p, &plus) - energy(&p, &minus)) / (2.0 * eps);
        assert!((fd - dir).abs() < 1e-6 * (1.0 + dir.abs()), "{nonlin:?}: {fd} vs {dir}");
    }
}

#[test]
fn fitted_rate_and_extrapolation_on_closed_forms() {
    let v: Vec<f64> = (0..30).map(|t| 3.0 * 0.4f64.powi(t)).collect();
    assert!((pde::fitted_rate(&v, 3, 25) - 0.4).abs() < 1e-12);
    // cut at the round-off floor: 0.4^t < 1e-11 from t = 28 on; a floor of 1e-16 must not bend the fit
    let mut w = v.clone();
    w.extend(std::iter::repeat_n(1e-16, 10));
    assert!((pde::fitted_rate(&w, 3, 39) - 0.4).abs() < 1e-12);
    let r: Vec<f64> = (0..=100).map(|t| 0.99f64.powi(t)).collect();
    let (it, rate) = pde::iterations_extrapolated(&r, 1e-8);
    assert!((rate - 0.99).abs() < 1e-12);
    assert!((it - (1e-8f64).ln() / 0.99f64.ln()).abs() < 1e-6);
    assert_eq!(pde::iterations_to(&r, 0.5), Some(69));
}

#[test]
fn forcing_is_in_the_band_and_real() {
    let cfg = Config::quick();
    let f = forcing(&cfg, Seed(11));
    assert_eq!(f.len(), cfg.f_modes);
    assert!(f.iter().all(|m| m.k.iter().map(|v| v * v).sum::<i64>() <= 9));
    let p = Problem::new(2, 16, 1.0, Nonlinearity::LogCosh, &f);
    for idx in 0..p.grid.len() {
        assert!((p.f[p.grid.conj_index(idx)] - p.f[idx].conj()).norm() < 1e-15);
    }
    // The coefficients rebuild f on the grid.
    let vals = p.grid.to_values(&p.f);
    for (i, v) in vals.iter().enumerate() {
        let x = p.grid.point(i);
        let direct: f64 = f.iter().map(|m| m.amp * (m.k[0] as f64 * x[0] + m.k[1] as f64 * x[1] + m.phase).cos()).sum();
        assert!((direct - v).abs() < 1e-12);
    }
}

#[test]
fn pgd_converges_at_the_predicted_rate_and_solves_the_equation() {
    let cfg = tiny();
    let f = forcing(&cfg, Seed(5));
    let m = run_mesh(&cfg, 16, &f);
    assert!(m.pgd_rate.0 <= cfg.rho_star() + 0.01, "{}", m.pgd_rate.0);
    assert!(m.pgd_residual.last().unwrap() < &1e-12);
    assert!(m.linear_error.0 < 1e-13);
    assert!(m.gd_rate.0 > 0.9 && m.gd_rate.0 < 1.0);
}

#[test]
fn maurey_error_from_counts_equals_the_network_on_the_grid() {
    let f = forcing(&Config::quick(), Seed(2));
    let p = Problem::new(2, 16, 1.0, Nonlinearity::LogCosh, &f);
    let (u, _) = pde::descend(&p, Method::Preconditioned, 2.0 / 3.0, 30, false);
    let t = maurey::target(&p.grid, &u);
    assert!((t.b0 - p.grid.fourier_l1(&u)).abs() < 1e-10 * t.b0);
    assert!((t.u2 - p.grid.l2_norm(&u).powi(2)).abs() < 1e-10 * t.u2);
    assert!(t.v > 0.0 && t.v < t.b0 * t.b0);
    let vals = p.grid.to_values(&u);
    for sampler in [Sampler::Maurey, Sampler::Uniform, Sampler::Squared] {
        for (m, s) in [(1usize, 1u64), (7, 2), (50, 3)] {
            let draws = maurey::draw(&t, m, sampler, &mut Seed(s).rng());
            let net = maurey::network_values(&p.grid, &t, &draws, sampler);
            let direct = vals.iter().zip(&net).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / vals.len() as f64;
            let fast = maurey::error2(&t, &draws, sampler);
            assert!((direct - fast).abs() < 1e-9 * (1.0 + direct), "{sampler:?} m={m}: {direct} vs {fast}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// Maurey sampling is unbiased: the mean of many one-neuron networks approaches u (the error of
    /// the average of R draws is V/R in expectation: within 6 SD-ish of it).
    #[test]
    fn maurey_mean_error_matches_the_exact_variance(seed in 0u64..1000) {
        let f = forcing(&Config::quick(), Seed(seed));
        let p = Problem::new(2, 16, 1.0, Nonlinearity::LogCosh, &f);
        let (u, _) = pde::descend(&p, Method::Preconditioned, 2.0 / 3.0, 30, false);
        let t = maurey::target(&p.grid, &u);
        let rows = maurey::sweep(&t, &[8], 4000, Sampler::Maurey, Seed(seed + 1));
        let ratio = rows[0].mean_err2 / rows[0].expected_err2;
        prop_assert!((ratio - 1.0).abs() < 0.1, "ratio {}", ratio);
    }
}

#[test]
fn profiles_validate_and_hostile_values_are_refused() {
    assert!(Config::quick().validate().is_ok());
    assert!(Config::full().validate().is_ok());
    assert!(tiny().validate().is_ok());
    let bad = [
        Config { alpha: 0.0, ..Config::quick() },
        Config { alpha: f64::NAN, ..Config::quick() },
        Config { ns: vec![64, 32], ..Config::quick() },
        Config { ns: vec![33, 64], ..Config::quick() },
        Config { ns: vec![64], ..Config::quick() },
        Config { ns: vec![8, 64], ..Config::quick() },
        Config { widths: vec![8, 4, 16], ..Config::quick() },
        Config { rate_to: 50, ..Config::quick() },
        Config { quartic_steps: 5, ..Config::quick() },
        Config { gd_time: 10.0, ns: vec![512, 1024], ..Config::quick() },
        Config { d: 3, ..Config::quick() },
        Config { tol: 0.0, ..Config::quick() },
    ];
    for c in bad {
        assert!(c.validate().is_err(), "{c:?} accepted");
    }
    let e = Config::quick().estimate();
    assert!(e.describe().contains('s'));
}

// -- planted bugs ----------------------------------------------------------------------------------

#[test]
fn the_tiny_run_passes_every_gated_claim() {
    let (cfg, r) = tiny_results();
    let out = BarronNonlinearElliptic.report(&cfg, &r).unwrap();
    let failed: Vec<String> =
        out.claims.iter().filter(|c| c.gated && !c.passed).map(|c| format!("{} = {}", c.id, c.measured)).collect();
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
fn planted_step_one_over_lambda_max_fails_r1() {
    let (cfg, mut r) = tiny_results();
    let f = r.forcing.clone();
    for m in &mut r.meshes {
        let p = Problem::new(cfg.d, m.n, cfg.alpha, Nonlinearity::LogCosh, &f);
        let (_, tr) = pde::descend(&p, Method::Preconditioned, 1.0 / (1.0 + cfg.alpha), cfg.pgd_iters, false);
        m.pgd_rate = F64(pde::fitted_rate(&tr.step_h1, cfg.rate_from, cfg.rate_to));
    }
    let (ok, x) = verdict(&cfg, &r, "R1-rate");
    eprintln!("R1 with the step 1/Λ: {x}");
    assert!(!ok && x > 0.4, "R1 passed with the step 1/Λ: {x}");
}

#[test]
fn planted_plain_gd_rates_fail_r2_and_r1() {
    let (cfg, mut r) = tiny_results();
    for m in &mut r.meshes {
        m.pgd_rate = m.gd_rate;
    }
    assert!(!verdict(&cfg, &r, "R2-mesh").0);
    assert!(!verdict(&cfg, &r, "R1-rate").0);
}

#[test]
fn planted_half_preconditioner_fails_r2() {
    // (I − Δ)^{-1/2} with its largest stable step: the condition number grows like N.
    let (cfg, mut r) = tiny_results();
    let f = r.forcing.clone();
    for m in &mut r.meshes {
        let p = Problem::new(cfg.d, m.n, cfg.alpha, Nonlinearity::LogCosh, &f);
        let top = (1.0 + cfg.alpha) * (1.0 + cfg.d as f64 * (m.n * m.n) as f64 / 4.0).sqrt();
        let (_, tr) = pde::descend(&p, Method::HalfPreconditioned, 2.0 / (1.0 + top), cfg.pgd_iters, false);
        m.pgd_rate = F64(pde::fitted_rate(&tr.step_h1, cfg.rate_from, cfg.rate_to));
    }
    let (ok, x) = verdict(&cfg, &r, "R2-mesh");
    eprintln!("R2 with (I − Δ)^(-1/2): slope {x}");
    assert!(!ok && x < -0.5, "R2 passed with (I − Δ)^(-1/2): slope {x}");
}

#[test]
fn planted_wrong_sign_nonlinearity_fails_r1() {
    // α → −α: a non-convex energy (Hessian in [1 − α, 1] = [0, 1] in H¹); PGD no longer contracts at 1/3.
    let (cfg, mut r) = tiny_results();
    let f = r.forcing.clone();
    for m in &mut r.meshes {
        let p = Problem::new(cfg.d, m.n, -cfg.alpha, Nonlinearity::LogCosh, &f);
        let (_, tr) = pde::descend(&p, Method::Preconditioned, 2.0 / (2.0 + cfg.alpha), cfg.pgd_iters, false);
        m.pgd_rate = F64(pde::fitted_rate(&tr.step_h1, cfg.rate_from, cfg.rate_to));
    }
    let (ok, x) = verdict(&cfg, &r, "R1-rate");
    eprintln!("R1 with the wrong-sign nonlinear term: {x}");
    assert!(!ok, "R1 passed with the wrong-sign nonlinear term: {x}");
}

#[test]
fn planted_mesh_independent_gd_fails_r3_and_r4() {
    let (cfg, mut r) = tiny_results();
    let first = r.meshes[0].gd_rate;
    for m in &mut r.meshes {
        m.gd_rate = first;
        m.gd_iters = F64(2.0 * m.pgd_iters.0);
    }
    assert!(!verdict(&cfg, &r, "R3-gd-mesh").0);
    assert!(!verdict(&cfg, &r, "R4-speedup").0);
}

#[test]
fn planted_unit_torus_wavenumbers_fail_r5() {
    // The exact solution computed with the wavenumbers of [0, 1) (2πk) against the [0, 2π) solver.
    let (cfg, mut r) = tiny_results();
    let f = r.forcing.clone();
    for m in &mut r.meshes {
        m.linear_error = F64(linear_error_against(&cfg, m.n, &f, 2.0 * std::f64::consts::PI));
    }
    let (ok, x) = verdict(&cfg, &r, "R5-linear");
    eprintln!("R5 against the [0, 1) wavenumbers: {x}");
    assert!(!ok && x > 0.1, "{x}");
}

#[test]
fn planted_log_cosh_in_the_bandwidth_check_fails_q1() {
    let (cfg, mut r) = tiny_results();
    r.quartic = quartic_bandwidths(&cfg, &r.forcing, Nonlinearity::LogCosh);
    let (ok, x) = verdict(&cfg, &r, "Q1-bandwidth");
    eprintln!("Q1 with log cosh: {x}");
    assert!(!ok && x > 1.5, "{x}");
}

fn resample(cfg: &Config, r: &mut Results, sampler: Sampler) {
    let p = Problem::new(cfg.d, *cfg.ns.last().unwrap(), cfg.alpha, Nonlinearity::LogCosh, &r.forcing);
    let (u, _) = pde::descend(&p, Method::Preconditioned, 2.0 / (2.0 + cfg.alpha), cfg.pgd_iters, false);
    let t = maurey::target(&p.grid, &u);
    r.maurey = maurey::sweep(&t, &cfg.widths, cfg.maurey_reps, sampler, Seed(9));
}

#[test]
fn planted_uniform_sampling_fails_m1() {
    let (cfg, mut r) = tiny_results();
    resample(&cfg, &mut r, Sampler::Uniform);
    let (ok, x) = verdict(&cfg, &r, "M1-bound");
    eprintln!("M1 with uniform sampling: {x}");
    assert!(!ok && x > 2.0, "{x}");
}

#[test]
fn planted_biased_sampler_fails_m2_and_m3() {
    let (cfg, mut r) = tiny_results();
    resample(&cfg, &mut r, Sampler::Squared);
    let (ok2, x2) = verdict(&cfg, &r, "M2-exact");
    let (ok3, x3) = verdict(&cfg, &r, "M3-slope");
    eprintln!("biased sampler: M2 {x2}, M3 {x3}");
    assert!(!ok2 && !ok3, "M2 {x2}, M3 {x3}");
}

#[test]
fn planted_missing_norm_term_fails_m2() {
    // The expectation without −‖u‖²: E‖g‖²/m.
    let (cfg, mut r) = tiny_results();
    for w in &mut r.maurey {
        w.expected_err2 = (r.maurey_v + r.u2_star) / w.m as f64;
    }
    let (ok, x) = verdict(&cfg, &r, "M2-exact");
    eprintln!("M2 without −‖u‖²: {x}");
    assert!(!ok, "{x}");
}

/// Calibration (run by hand): the quick profile's claims at many root seeds, without the figures.
/// `CAL_SEEDS=50 CAL_START=100000 cargo test --release -p barron_nonlinear_elliptic -- --ignored calibrate --nocapture`
#[test]
#[ignore = "calibration over many seeds (minutes)"]
fn calibrate() {
    common::study::conformance::calibrate(&BarronNonlinearElliptic);
}

/// Writes the default seed's forcing, rates and u* (N = 32) for `reference/cross_check.py`.
#[test]
#[ignore = "writes reference/rust_default_seed.json for the NumPy cross-check"]
fn write_cross_check_json() {
    let cfg = Config::quick();
    let f = forcing(&cfg, Seed(common::study::runner::DEFAULT_SEED));
    let meshes: Vec<MeshRun> = cfg.ns.iter().map(|&n| run_mesh(&cfg, n, &f)).collect();
    let p = Problem::new(2, 32, cfg.alpha, Nonlinearity::LogCosh, &f);
    let (u, _) = pde::descend(&p, Method::Preconditioned, 2.0 / (2.0 + cfg.alpha), cfg.pgd_iters, false);
    let json = serde_json::json!({
        "alpha": cfg.alpha,
        "iters": cfg.pgd_iters,
        "rate_from": cfg.rate_from,
        "rate_to": cfg.rate_to,
        "forcing": f,
        "ns": cfg.ns,
        "rho_pgd": meshes.iter().map(|m| m.pgd_rate.0).collect::<Vec<_>>(),
        "u_star_32": p.grid.to_values(&u),
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/rust_default_seed.json");
    std::fs::write(path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

/// Writes the quick report at the default seed to `$REVIEW_OUT` (default `/tmp/barron-review`) for
/// looking at the figures.
#[test]
#[ignore = "writes a report for review"]
fn write_report_for_review() {
    let out = std::path::PathBuf::from(std::env::var("REVIEW_OUT").unwrap_or_else(|_| "/tmp/barron-review".into()));
    let t = std::time::Instant::now();
    common::study::conformance::quick_contract(
        &BarronNonlinearElliptic,
        &out,
        common::study::runner::DEFAULT_SEED,
        None,
    );
    eprintln!("quick profile + render: {:.1} s", t.elapsed().as_secs_f64());
}
