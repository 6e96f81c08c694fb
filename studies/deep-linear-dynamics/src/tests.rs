//! Unit tests of the bookkeeping, the config contract, and planted bugs: each gated claim's
//! `.wrong()` answer, planted into the results of a small run, must fail the claim.
use super::*;
use common::rng::Seed;
use common::stats;
use common::{Claim, Profile};
use std::sync::OnceLock;

/// A small configuration on which every gated claim passes (a few seconds).
fn small() -> Config {
    let mut c = Config::quick();
    c.three_layer = ThreeLayerCfg {
        width: 8,
        s: vec![4.0, 2.0, 1.0, 0.5],
        u0: 1e-3,
        lr: 2e-3,
        steps: 6_000,
        plot_every: 200,
        plot_modes: vec![0, 3],
    };
    c.depth.width = 8;
    c.depth.aligned_depths = vec![1, 2, 4, 8, 16, 32, 64, 128];
    c.depth.small_depths = vec![1, 2, 4, 8, 16];
    c.depth.gauss_depths = vec![1, 2, 4];
    c.depth.gauss_seeds = 3;
    c.depth.gauss_cap = 20_000;
    c.depth.unaligned_depths = vec![1, 2];
    c.depth.unaligned_seeds = 1;
    c.depth.unaligned_cap = 500;
    c.orth.n_in = 8;
    c.orth.n_out = 4;
    c.orth.width = 32;
    c.orth.orth_depths = vec![1, 2, 4, 8, 16, 32];
    c.orth.gauss_depths = vec![1, 2, 4, 8, 16];
    c.orth.ref_depth = 4;
    c.orth.seeds = 3;
    c.orth.ratio_seeds = 3;
    c.orth.cap = 3_000;
    c.isometry = IsometryCfg { width: 8, depths: vec![1, 2, 4, 8, 16], seeds: 10, spectrum_depths: vec![4, 16] };
    c
}

/// The small run's results, measured once for all tests.
fn small_results() -> &'static Results {
    static R: OnceLock<Results> = OnceLock::new();
    R.get_or_init(|| DeepLinearDynamics.measure(&small(), &Ctx::for_test(5, Profile::Quick)).unwrap())
}

fn claim_of<'a>(out: &'a Outcome, id: &str) -> &'a Claim {
    out.claims.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no claim {id}"))
}

/// Report `planted` and assert that claim `spec` fails (it passes on the unplanted results).
fn assert_fails(spec: &ClaimSpec, plant: impl FnOnce(&Config, &mut Results)) -> Claim {
    let cfg = small();
    let mut r = small_results().clone();
    let before = DeepLinearDynamics.report(&cfg, &r).unwrap();
    assert!(claim_of(&before, spec.id).passed, "{} fails before the plant: {:?}", spec.id, claim_of(&before, spec.id));
    plant(&cfg, &mut r);
    let after = DeepLinearDynamics.report(&cfg, &r).unwrap();
    let c = claim_of(&after, spec.id).clone();
    assert!(!c.passed, "the planted bug passes {}: {c:?}", spec.id);
    c
}

#[test]
fn the_small_config_validates_and_passes_every_gated_claim() {
    small().validate().unwrap();
    let out = DeepLinearDynamics.report(&small(), small_results()).unwrap();
    let ids: Vec<&str> = out.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, CLAIMS.iter().map(|c| c.id).collect::<Vec<_>>());
    for c in out.claims.iter().filter(|c| c.gated) {
        assert!(c.passed, "{c:?}");
    }
}

/// A factor 2 in the gradient runs GD at 2η against the closed form at η: the simulation reaches
/// u at half the time. Planted as the correct samples held against the closed form at half time.
#[test]
fn a_factor_two_in_the_gradient_fails_the_closed_form() {
    let c = assert_fails(&C1_CLOSED_FORM, |cfg, r| {
        let run = &mut r.three_layer.run;
        for (&m, u) in cfg.three_layer.plot_modes.iter().zip(&run.samples) {
            let s = cfg.three_layer.s[m];
            run.modes[m].max_dev = run
                .sample_steps
                .iter()
                .zip(u)
                .map(|(&k, x)| {
                    (x - theory::u_three_layer(k as f64 * run.lr / 2.0, s, cfg.three_layer.u0, 1.0)).abs() / s
                })
                .fold(0.0, f64::max);
        }
    });
    assert!((c.measured - 0.86).abs() < 0.01, "the number quoted in `.wrong()`: {c:?}");
}

#[test]
fn an_error_that_does_not_shrink_with_eta_fails_first_order() {
    assert_fails(&C1_FIRST_ORDER, |_, r| r.three_layer.half.modes = r.three_layer.run.modes.clone());
}

#[test]
fn a_rate_missing_its_factor_two_fails_the_half_time() {
    let c = assert_fails(&C1_HALF_TIME, |_, r| {
        r.three_layer.run.modes.iter_mut().flat_map(|m| m.crossings.iter_mut()).for_each(|x| *x *= 2.0)
    });
    assert!((c.measured - 1.0).abs() < 0.02, "{c:?}");
}

#[test]
fn a_one_over_s_squared_law_fails_one_over_s() {
    let c = assert_fails(&C1_ONE_OVER_S, |_, r| {
        for m in &mut r.three_layer.run.modes {
            let s = m.s;
            m.crossings.iter_mut().for_each(|x| *x /= s);
        }
    });
    assert!((c.measured + 2.0).abs() < 0.05, "{c:?}");
}

#[test]
fn coupled_modes_fail_exact_decoupling() {
    assert_fails(&C2_EXACT_DECOUPLING, |_, r| {
        let x = r.depth.runs.iter_mut().find(|x| x.init == depth::ALIGNED_U0_1 && x.depth == 8).unwrap();
        x.offdiag = 0.3;
    });
}

/// η ∝ 1/D² instead of 1/D: each step does 1/D of the work, so the step count grows like D.
#[test]
fn a_learning_rate_scaled_as_one_over_d_squared_fails_depth_independence() {
    let c = assert_fails(&C2_DEPTH_INDEPENDENT, |_, r| {
        for x in r.depth.runs.iter_mut().filter(|x| x.init == depth::ALIGNED_U0_1) {
            x.steps = x.steps.map(|k| k * x.depth);
        }
    });
    assert!(c.measured > 3.5, "{c:?}");
}

/// u0 = a0 at every depth (the per-layer amplitude a0^{1/D}) instead of a0^D: through the exact
/// scalar map (which the aligned simulation follows to round-off, C2-exact-decoupling).
#[test]
fn a_small_init_that_does_not_shrink_with_depth_fails_small_init_slows() {
    let wrong_steps = |cfg: &DepthCfg, d: usize| {
        let s = common::stats::linspace(cfg.s_max, cfg.s_min, cfg.width);
        let lr = depth::depth_lr(cfg.lr_scale, d, cfg.s_max);
        let a = vec![cfg.small_a0.powf(1.0 / d as f64); s.len()];
        theory::scalar_gd_steps_to_tol(&s, &a, d, lr, cfg.rel_tol, cfg.aligned_cap).unwrap()
    };
    let c = assert_fails(&C2_SMALL_INIT_SLOWS, |cfg, r| {
        for x in r.depth.runs.iter_mut().filter(|x| x.init == depth::ALIGNED_SMALL) {
            x.steps = Some(wrong_steps(&cfg.depth, x.depth));
        }
    });
    assert!(c.measured < 1.5, "{c:?}");
    // The number quoted in `.wrong()`: the quick profile's D = 16 vs 8.
    let q = Config::quick().depth;
    let ratio = wrong_steps(&q, 16) as f64 / wrong_steps(&q, 8) as f64;
    assert!((ratio - 1.1).abs() < 0.1, "{ratio}");
}

#[test]
fn a_depth_independent_gaussian_init_fails_gaussian_slows() {
    assert_fails(&C3_GAUSSIAN_SLOWS, |_, r| {
        let aligned: Vec<(usize, Option<usize>)> =
            r.depth.runs.iter().filter(|x| x.init == depth::ALIGNED_U0_1).map(|x| (x.depth, x.steps)).collect();
        for x in r.depth.runs.iter_mut().filter(|x| x.init == depth::GAUSSIAN) {
            x.steps = aligned.iter().find(|a| a.0 == x.depth).unwrap().1;
        }
    });
}

#[test]
fn an_orthogonal_init_that_slows_with_depth_fails_depth_independence() {
    assert_fails(&C3_ORTHOGONAL_DEPTH_INDEPENDENT, |_, r| {
        for x in r.orth.runs.iter_mut().filter(|x| x.init == orth::ORTHOGONAL) {
            x.steps = x.steps.map(|k| k * x.depth);
        }
    });
}

#[test]
fn a_gaussian_init_that_behaves_like_orthogonal_fails_depth_dependence() {
    assert_fails(&C3_GAUSSIAN_DEPTH_DEPENDENT, |_, r| {
        let orth: Vec<RunKey> = r.orth.runs.iter().filter(|x| x.init == orth::ORTHOGONAL).map(key).collect();
        for x in r.orth.runs.iter_mut().filter(|x| x.init == orth::GAUSSIAN) {
            x.steps = orth.iter().find(|o| o.0 == x.depth && o.1 == x.rep).unwrap().2;
        }
    });
}

type RunKey = (usize, u64, Option<usize>);
fn key(x: &orth::RectRun) -> RunKey {
    (x.depth, x.rep, x.steps)
}

/// Products that spread at [ψ(N) - ψ(1)]/2 (wrong digamma arguments) instead of [ψ(N/2) - ψ(1/2)]/2:
/// the spectrum is stretched, which the per-index Lyapunov check sees (the ln cond slope is reported).
#[test]
fn a_spread_at_the_wrong_lyapunov_rate_fails_the_lyapunov_spectrum() {
    assert_fails(&C4_GAUSSIAN_LYAPUNOV, |cfg, r| {
        let n = cfg.isometry.width as f64;
        let wrong = 0.5 * (theory::digamma(n) - theory::digamma(1.0)) / theory::gaussian_lncond_slope(n as usize);
        for x in &mut r.isometry.runs.results {
            x.gauss_logdiag.iter_mut().for_each(|v| *v *= wrong);
        }
    });
}

/// Shift every accumulated ln|R_ii| as a Gaussian sampler with entry variance c/N instead of 1/N
/// would: each layer adds ½ ln c to every ln|R_ii| (R scales by √c), exactly.
fn plant_variance(r: &mut isometry::Results, c: f64) {
    for (cell, x) in r.runs.cells.iter().zip(&mut r.runs.results) {
        let d = cell.usize("depth") as f64;
        x.gauss_logdiag.iter_mut().for_each(|v| *v += 0.5 * c.ln() * d);
    }
}

/// A wrong N(0, 1/N) scale (He's 2/N, unit variance, a uniform of the same range) fails the
/// Lyapunov spectrum, and the ln cond spread cannot see it (why that claim is reported, not gated).
#[test]
fn a_wrong_gaussian_scale_fails_the_lyapunov_spectrum_not_the_spread() {
    for c in [2.0, 8.0, 1.0 / 3.0] {
        let claim = assert_fails(&C4_GAUSSIAN_LYAPUNOV, |_, r| plant_variance(&mut r.isometry, c));
        assert!(claim.measured > 10.0, "c = {c}: {claim:?}");
        let cfg = small();
        let mut r = small_results().clone();
        let spread =
            |r: &Results| claim_of(&DeepLinearDynamics.report(&cfg, r).unwrap(), C4_GAUSSIAN_SPREAD.id).measured;
        let before = spread(&r);
        plant_variance(&mut r.isometry, c);
        assert!((spread(&r) - before).abs() < 1e-9, "c = {c}");
    }
}

/// The numbers quoted in C4-gaussian-lyapunov's `.wrong()`, on the quick profile's isometry part
/// (0.05 s): the standard errors, and a variance 1/(N-1) (6.3 se at i = 1) failing the claim.
#[test]
fn the_lyapunov_wrong_answers_are_as_quoted() {
    let cfg = Config::quick();
    let ctx = Ctx::for_test(common::study::runner::DEFAULT_SEED, Profile::Quick);
    let r = isometry::measure(&cfg.isometry, &ctx).unwrap();
    let fit = isometry::LyapunovFit::of(&r, cfg.isometry.width);
    assert_eq!(fit.layers, 20.0 * 63.0);
    let n = cfg.isometry.width as f64;
    let se = |shift: f64| shift / fit.se[0];
    assert!((se(0.5 * 2f64.ln()) - 67.0).abs() < 1.0);
    assert!((se(0.5 * (n / (n - 1.0)).ln()) - 6.3).abs() < 0.1);
    let digamma_shift = 0.5 * (theory::digamma(n) - theory::digamma(n / 2.0));
    assert!((digamma_shift - 0.36).abs() < 0.005);
    let z = |r: &isometry::Results| stats::max(&isometry::LyapunovFit::of(r, cfg.isometry.width).z());
    assert!(z(&r) <= 4.0, "the default seed passes: {}", z(&r));
    for c in [n / (n - 1.0), (n - 1.0) / n] {
        let mut w = r.clone();
        plant_variance(&mut w, c);
        assert!(z(&w) > 4.0, "variance {c}/N: {}", z(&w));
    }
}

/// The review's planted bug: one layer's learning rate doubled (through the test-only hook in
/// `net`), in the three-layer runs and the aligned deep chains. The closed forms fail: the modes
/// learn √2 faster in the three-layer net (u follows τ du/dt = 2√2 u(s - u)), and the deep chains
/// leave the balanced scalar map. (C3-gaussian-depth-dependent cannot see it: it stays above its bound.)
#[test]
fn a_learning_rate_doubled_in_one_layer_fails_the_closed_forms() {
    let mut cfg = small();
    // Only the aligned deep chains matter here: the other inits of the depth part at their cheapest.
    cfg.depth.gauss_depths = vec![1];
    cfg.depth.gauss_seeds = 1;
    cfg.depth.unaligned_depths = vec![1];
    cfg.depth.aligned_depths = vec![1, 2, 4, 8];
    cfg.depth.small_depths = vec![1, 2, 4];
    cfg.validate().unwrap();
    let mut ctx = Ctx::for_test(5, Profile::Quick);
    ctx.jobs = 1; // the cells run on this thread, where the bug is planted
    let t = &cfg.three_layer;
    let seed = ctx.seed.child("three_layer");
    let measure = |r: &mut Results| {
        r.three_layer.run = three_layer::simulate(t, seed, t.lr, t.steps, &t.plot_modes);
        r.three_layer.half = three_layer::simulate(t, seed, t.lr / 2.0, 2 * t.steps, &[]);
        r.depth = depth::measure(&cfg.depth, &ctx).unwrap();
    };
    let mut r = small_results().clone();
    measure(&mut r);
    let ok = DeepLinearDynamics.report(&cfg, &r).unwrap();
    net::LAYER_LR_BUG.with(|b| b.set(Some((1, 2.0))));
    measure(&mut r);
    net::LAYER_LR_BUG.with(|b| b.set(None));
    let bad = DeepLinearDynamics.report(&cfg, &r).unwrap();
    // The numbers quoted in the claims' `.wrong()` and the README.
    for (spec, quoted) in [(C1_CLOSED_FORM, 0.62), (C1_HALF_TIME, 0.30), (C2_EXACT_DECOUPLING, 0.58)] {
        let (before, after) = (claim_of(&ok, spec.id), claim_of(&bad, spec.id));
        assert!(before.passed && !after.passed, "{}: {} -> {}", spec.id, before.measured, after.measured);
        assert!((after.measured - quoted).abs() < 0.01, "{}: {}", spec.id, after.measured);
    }
}

#[test]
fn hostile_values_are_refused() {
    let q = Config::quick();
    q.validate().unwrap();
    Config::full().validate().unwrap();
    let refused = |f: &dyn Fn(&mut Config)| {
        let mut c = Config::quick();
        f(&mut c);
        c.validate().is_err()
    };
    assert!(refused(&|c| c.three_layer.width = 0), "the CLI test's key");
    assert!(refused(&|c| c.three_layer.width = 4)); // fewer than the 8 values of s
    assert!(refused(&|c| c.three_layer.s = vec![]));
    assert!(refused(&|c| c.three_layer.s = vec![f64::NAN]));
    assert!(refused(&|c| c.three_layer.u0 = 10.0)); // above every s
    assert!(refused(&|c| c.three_layer.lr = -1.0));
    assert!(refused(&|c| c.three_layer.plot_every = 0));
    assert!(refused(&|c| c.three_layer.plot_every = 1)); // 20000 samples
    assert!(refused(&|c| c.three_layer.plot_modes = vec![8]));
    assert!(refused(&|c| c.depth.s_min = 1.0));
    assert!(refused(&|c| c.depth.rel_tol = 1.0));
    assert!(refused(&|c| c.depth.small_a0 = 1.0));
    assert!(refused(&|c| c.depth.small_a0 = 0.001)); // u0 = 1e-48 at D = 16
    assert!(refused(&|c| c.depth.gauss_depths = vec![4, 2]));
    assert!(refused(&|c| c.depth.aligned_depths = vec![0]));
    assert!(refused(&|c| c.depth.gauss_seeds = 0));
    assert!(refused(&|c| c.orth.data = "mnist".into()));
    assert!(refused(&|c| c.orth.ref_depth = 3));
    assert!(refused(&|c| c.orth.n_out = 32));
    assert!(refused(&|c| c.orth.ratio_seeds = 4)); // fewer than `orth.seeds`
    assert!(refused(&|c| c.isometry.depths = vec![8]));
    assert!(refused(&|c| c.isometry.seeds = 1));
    assert!(refused(&|c| c.isometry.spectrum_depths = vec![64]));
    // 1e9 (and 0 where 0 is meaningless) of every size is refused.
    let v = serde_json::to_value(&q).unwrap();
    for key in common::study::overrides::keys(&v) {
        let ptr = format!("/{}", key.replace('.', "/"));
        for x in [serde_json::json!(1_000_000_000u64), serde_json::json!(1e9), serde_json::json!([1_000_000_000u64])] {
            let mut w = v.clone();
            *w.pointer_mut(&ptr).unwrap() = x.clone();
            if let Ok(c) = serde_json::from_value::<Config>(w) {
                assert!(c.validate().is_err(), "{key} = {x} is accepted");
            }
        }
    }
    // The memory estimate grows with the sizes and stays small for the profiles.
    assert!(q.estimate().bytes < 1e8, "{:?}", q.estimate());
    let mut big = Config::quick();
    big.isometry.width = 4096;
    big.isometry.depths = vec![1, 10_000];
    big.isometry.spectrum_depths = vec![1];
    assert!(big.validate().is_ok() && big.estimate().bytes > 1e12);
}

#[test]
fn three_layer_bookkeeping() {
    // A short run: crossings interpolate inside the step where u passes the level, the deviation
    // from the closed form is small, the modes stay decoupled.
    let mut c = Config::quick().three_layer;
    c.steps = 3000;
    c.lr = 2e-3;
    let run = three_layer::simulate(&c, Seed(1), c.lr, c.steps, &c.plot_modes);
    let th = theory::t_half_three_layer(c.s[0], c.u0, 1.0) / c.lr;
    let x = run.modes[0].crossings[1];
    assert!((x - th).abs() / th < 0.01, "{x} vs {th}");
    assert!(three_layer::max_rel_dev(&run) < 0.02 && run.max_offdiag < 1e-12);
    assert_eq!(run.sample_steps.first(), Some(&0));
    assert_eq!(run.sample_steps.last(), Some(&c.steps));
    assert_eq!(run.samples.len(), c.plot_modes.len());
    // The weakest mode does not reach 90% in 6 units of τ: censored (+inf) and then counted at the end.
    let m = &run.modes[c.s.len() - 1];
    assert_eq!(m.crossings[2], f64::INFINITY);
    let rows = three_layer::mode_rows(&c, &run);
    assert_eq!(rows.len(), c.s.len());
    assert_eq!(rows[c.s.len() - 1].t_10_90_gd, c.steps as f64 * c.lr - m.crossings[0] * c.lr);
}

#[test]
fn digits_target_is_whitened_correlation() {
    let t = digits_target(3.0).unwrap();
    // Centred one-hot targets have rank 9: the null output direction is dropped.
    assert_eq!(t.nrows(), 9);
    assert!(t.ncols() > 50 && t.ncols() <= 64);
    let sv = common::linalg::singular_values(&t);
    assert!((sv[0] - 3.0).abs() < 1e-12);
    assert!(sv[8] > 1e-3 * sv[0]);
}

/// The accepted extremes of every key run to the end (claims may fail; nothing panics, the results
/// round-trip through JSON). About 20 s.
#[test]
#[ignore = "runs 23 small configurations"]
fn accepted_extremes_run_to_the_end() {
    use common::study::DynStudy;
    type M = Box<dyn Fn(&mut Config)>;
    let cases: Vec<(&str, M)> = vec![
        ("tl steps 1", Box::new(|c| c.three_layer.steps = 1)),
        ("tl plot_every max", Box::new(|c| c.three_layer.plot_every = 10_000_000)),
        ("tl lr 10", Box::new(|c| c.three_layer.lr = 10.0)),
        ("tl u0 tiny", Box::new(|c| c.three_layer.u0 = 1e-300)),
        (
            "tl one s width 1",
            Box::new(|c| {
                c.three_layer.width = 1;
                c.three_layer.s = vec![1e3];
                c.three_layer.plot_modes = vec![0];
            }),
        ),
        (
            "tl s near u0",
            Box::new(|c| {
                c.three_layer.s = vec![4.0, 1.5e-3, 1.1e-3];
                c.three_layer.plot_modes = vec![0, 2];
            }),
        ),
        ("depth width 2", Box::new(|c| c.depth.width = 2)),
        ("depth lr 10", Box::new(|c| c.depth.lr_scale = 10.0)),
        ("depth lr 1", Box::new(|c| c.depth.lr_scale = 1.0)),
        (
            "depth s",
            Box::new(|c| {
                c.depth.s_max = 1e3;
                c.depth.s_min = 1.0 + 1e-12;
            }),
        ),
        ("depth tol lo", Box::new(|c| c.depth.rel_tol = 1e-14)),
        ("depth tol hi", Box::new(|c| c.depth.rel_tol = 0.9)),
        (
            "depth caps 1",
            Box::new(|c| {
                c.depth.aligned_cap = 1;
                c.depth.gauss_cap = 1;
                c.depth.unaligned_cap = 1;
            }),
        ),
        (
            "depth one depth",
            Box::new(|c| {
                c.depth.aligned_depths = vec![3];
                c.depth.small_depths = vec![5];
                c.depth.gauss_depths = vec![7];
                c.depth.unaligned_depths = vec![9];
                c.depth.gauss_seeds = 1;
            }),
        ),
        (
            "depth small a0 tiny",
            Box::new(|c| {
                c.depth.small_a0 = 1e-30;
                c.depth.small_depths = vec![1];
            }),
        ),
        (
            "depth small a0 edge",
            Box::new(|c| {
                c.depth.small_a0 = 1e-2;
                c.depth.small_depths = vec![1, 15];
            }),
        ),
        (
            "depth deep",
            Box::new(|c| {
                c.depth.aligned_depths = vec![1, 2000];
            }),
        ),
        (
            "orth dims 1",
            Box::new(|c| {
                c.orth.n_in = 1;
                c.orth.n_out = 1;
                c.orth.width = 1;
            }),
        ),
        (
            "orth s_min 0",
            Box::new(|c| {
                c.orth.s_min = 0.0;
            }),
        ),
        (
            "orth s tiny",
            Box::new(|c| {
                c.orth.s_max = 1e-300;
                c.orth.s_min = 0.0;
            }),
        ),
        (
            "orth lr 10 tol",
            Box::new(|c| {
                c.orth.lr_scale = 10.0;
                c.orth.rel_tol = 0.9;
                c.orth.cap = 1;
            }),
        ),
        (
            "orth digits narrow",
            Box::new(|c| {
                c.orth.data = "digits".into();
                c.orth.width = 8;
                c.orth.n_out = 8;
            }),
        ),
        (
            "iso width 1",
            Box::new(|c| {
                c.isometry.width = 1;
                c.isometry.depths = vec![1, 2000];
                c.isometry.seeds = 2;
                c.isometry.spectrum_depths = vec![2000];
            }),
        ),
    ];
    for (name, f) in cases {
        let mut c = small();
        f(&mut c);
        c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let v = serde_json::to_value(&c).unwrap();
        let est = DeepLinearDynamics.check_config(&v).unwrap();
        let t = std::time::Instant::now();
        let ctx = Ctx::for_test(7, Profile::Quick);
        let res = DeepLinearDynamics.measure_json(&v, &ctx).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let out = DeepLinearDynamics.report_json(&v, &res).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let failed: Vec<String> =
            out.claims.iter().filter(|c| c.gated && !c.passed).map(|c| format!("{}={}", c.id, c.measured)).collect();
        eprintln!("{name}: {:.2} s, {}, failed: {failed:?}", t.elapsed().as_secs_f64(), est.describe());
    }
}

/// How the seed-sensitive gates were calibrated: the parts of the quick profile behind
/// C3-gaussian-slows, C3-orthogonal-depth-independent, C3-gaussian-depth-dependent and
/// C4-gaussian-lyapunov, run at root seeds `DLD_ROOTS` (`lo..hi`, default 3000..3160), through the
/// modules' own `report` (the cells are the quick profile's: seeds derive from cell content, so
/// dropping the other depths changes nothing). Prints one line per root seed and the failures per
/// claim; fails if a claim fails at more than 1% of the root seeds. About 5 s per root seed.
#[test]
#[ignore = "calibration: the seed-sensitive gates at many root seeds (DLD_ROOTS=lo..hi), ~5 s per seed"]
fn gate_failure_rates_over_root_seeds() {
    let range = std::env::var("DLD_ROOTS").unwrap_or_else(|_| "3000..3160".into());
    let (lo, hi) = range.split_once("..").expect("DLD_ROOTS=lo..hi");
    let (lo, hi): (u64, u64) = (lo.parse().unwrap(), hi.parse().unwrap());
    let q = Config::quick();
    let mut d = q.depth.clone();
    (d.aligned_depths, d.small_depths, d.unaligned_depths, d.unaligned_seeds) = (vec![1], vec![1], vec![1], 1);
    d.gauss_depths = vec![2, 4];
    let mut o = q.orth.clone();
    o.orth_depths = vec![o.ref_depth, *o.orth_depths.last().unwrap()];
    o.gauss_depths = vec![o.ref_depth, *o.gauss_depths.last().unwrap()];
    let ids = [C3_GAUSSIAN_SLOWS, C3_ORTHOGONAL_DEPTH_INDEPENDENT, C3_GAUSSIAN_DEPTH_DEPENDENT, C4_GAUSSIAN_LYAPUNOV];
    let mut failed = vec![0usize; ids.len()];
    for root in lo..hi {
        let ctx = Ctx::for_test(root, Profile::Quick);
        let mut out = Outcome::default();
        depth::report(&d, &depth::measure(&d, &ctx).unwrap(), &mut out);
        orth::report(&o, &orth::measure(&o, &ctx).unwrap(), &mut out);
        isometry::report(&q.isometry, &isometry::measure(&q.isometry, &ctx).unwrap(), &mut out);
        let mut line = format!("root {root}:");
        for (k, spec) in ids.iter().enumerate() {
            let c = claim_of(&out, spec.id);
            failed[k] += usize::from(!c.passed);
            line += &format!(" {}={:.3}{}", spec.id, c.measured, if c.passed { "" } else { " FAIL" });
        }
        println!("{line}");
    }
    let n = (hi - lo) as usize;
    for (spec, f) in ids.iter().zip(&failed) {
        println!("{}: failed at {f} of {n} root seeds", spec.id);
        assert!(*f * 100 <= n, "{} fails at {f} of {n} root seeds", spec.id);
    }
}
