use super::*;
use common::study::runner::resolve_with_estimate;
use common::{Profile, Seed};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// Numerical kernels: closed forms and properties

#[test]
fn angles_are_exact_at_known_values_and_accurate_when_tiny() {
    assert!((angle_deg(&[1.0, 0.0], &[1.0, 1.0]) - 45.0).abs() < 1e-12);
    assert!((angle_deg(&[1.0, 0.0, 0.0], &[0.0, 0.0, 3.0]) - 90.0).abs() < 1e-12);
    assert!((angle_deg(&[2.0, 0.0], &[-1.0, 0.0]) - 180.0).abs() < 1e-12);
    // 1e-9 rad: acos of the rounded cosine would return 0 here.
    let t: f64 = 1e-9;
    let got = angle_deg(&[1.0, 0.0], &[t.cos(), t.sin()]);
    assert!((got - t.to_degrees()).abs() < 1e-20_f64.max(1e-6 * t.to_degrees()), "{got}");
}

fn random_vec(rng: &mut common::rng::StudyRng, d: usize) -> Vec<f64> {
    common::rng::gaussian_vec(rng, d, 1.0).to_vec()
}

/// The identity of Sec. 4: for any hyperplane separating the centroids, the centroid-distance
/// strength is 1/cos θ, whatever the offset.
#[test]
fn centroid_strength_is_one_over_cos_theta_for_any_separating_hyperplane() {
    let mut rng = Seed(7).rng();
    let mut checked = 0;
    for _ in 0..200 {
        let d = 5;
        let cp = random_vec(&mut rng, d);
        let cm = random_vec(&mut rng, d);
        let nc = nearest_centroid(&cp, &cm);
        let w = random_vec(&mut rng, d);
        // An offset that puts the boundary somewhere between the centroids.
        let t: f64 = rand::Rng::random_range(&mut rng, 0.05..0.95);
        let p: Vec<f64> = cp.iter().zip(&cm).map(|(a, b)| t * a + (1.0 - t) * b).collect();
        let c = Linear::through(w.clone(), &p);
        let diff: Vec<f64> = cp.iter().zip(&cm).map(|(a, b)| a - b).collect();
        let th = angle_deg(&w, &diff);
        if th > 89.0 && th < 91.0 {
            continue;
        }
        let s = centroid_strength(&c, &nc, &cp, &cm);
        assert!((s * th.to_radians().cos().abs() - 1.0).abs() < 1e-10, "θ = {th}, S = {s}");
        checked += 1;
    }
    assert!(checked > 150);
}

/// Tilting along an axis on which every point is 0: the score is cos θ times the NC score.
#[test]
fn tilting_along_a_zero_axis_scales_every_distance_by_cos_theta() {
    let mut rng = Seed(3).rng();
    let d = 6;
    let mut pts: Vec<Vec<f64>> = (0..20).map(|_| random_vec(&mut rng, d)).collect();
    for p in &mut pts {
        p[d - 1] = 0.0;
    }
    let y: Vec<f64> = (0..20).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let cp = centroid(&pts, &y, 1.0);
    let cm = centroid(&pts, &y, -1.0);
    let nc = nearest_centroid(&cp, &cm);
    let mid: Vec<f64> = cp.iter().zip(&cm).map(|(a, b)| 0.5 * (a + b)).collect();
    for th in [0.0, 10.0, 45.0, 80.0, 89.9] {
        let c = tilted(&nc.w, d - 1, th, &mid);
        assert!((norm(&c.w) - 1.0).abs() < 1e-14);
        assert!((angle_deg(&c.w, &nc.w) - th).abs() < 1e-9);
        for p in &pts {
            let want = th.to_radians().cos() * nc.distance(p);
            assert!((c.distance(p) - want).abs() < 1e-13 * (1.0 + want));
            assert_eq!(c.score(p) > 0.0, nc.score(p) > 0.0);
        }
    }
}

#[test]
fn within_variance_matches_a_direct_computation() {
    let x = vec![vec![1.0, 0.0], vec![3.0, 0.0], vec![0.0, 1.0], vec![0.0, 5.0]];
    let y = vec![1.0, 1.0, -1.0, -1.0];
    let cp = centroid(&x, &y, 1.0);
    let cm = centroid(&x, &y, -1.0);
    assert_eq!(cp, vec![2.0, 0.0]);
    // Along e1: class + deviations ±1, class − deviations 0 → mean 0.5.
    assert!((within_variance(&[1.0, 0.0], &x, &y, &cp, &cm) - 0.5).abs() < 1e-15);
    // Along e2: class − deviations ±2 → mean 2.
    assert!((within_variance(&[0.0, 1.0], &x, &y, &cp, &cm) - 2.0).abs() < 1e-15);
}

/// Hard-margin limit of a problem solved by hand: x = 2 (y = +1), x = 0 (y = −1) with the bias
/// regularised: min ½(w² + b²) s.t. 2w + b ≥ 1, −b ≥ 1 gives w = 1, b = −1.
#[test]
fn svm_reaches_a_hand_solved_hard_margin_solution() {
    let x = vec![vec![2.0], vec![0.0]];
    let y = vec![1.0, -1.0];
    let fit = svm::solve(&x, &y, 1e-6, &[0.0, 0.0], 1e-12, 100_000, Seed(1));
    assert!(fit.gap <= 1e-12, "gap {}", fit.gap);
    assert!((fit.w[0] - 1.0).abs() < 1e-9 && (fit.b + 1.0).abs() < 1e-9, "{:?} {}", fit.w, fit.b);
}

fn toy(seed: u64, n: usize, d: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut rng = Seed(seed).rng();
    let y: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let x = y
        .iter()
        .map(|l| {
            let mut v = random_vec(&mut rng, d);
            v[0] += 0.7 * l;
            v
        })
        .collect();
    (x, y)
}

/// Property: at the returned point the KKT conditions of the dual hold to the gap's accuracy,
/// and the duality gap certifies it.
#[test]
fn svm_solutions_satisfy_the_kkt_conditions() {
    for (seed, lambda) in [(1, 1e-4), (2, 1e-2), (3, 0.3), (4, 5.0)] {
        let (x, y) = toy(seed, 40, 8);
        let fit = svm::solve(&x, &y, lambda, &vec![0.0; 40], 1e-12, 1_000_000, Seed(seed));
        assert!(fit.gap <= 1e-12, "λ = {lambda}: gap {}", fit.gap);
        let c = 1.0 / (lambda * 40.0);
        let lin = Linear { w: fit.w.clone(), b: fit.b };
        for ((xi, yi), a) in x.iter().zip(&y).zip(&fit.alpha) {
            let m = yi * lin.score(xi);
            if *a < 1e-9 * c {
                assert!(m > 1.0 - 1e-4, "λ = {lambda}: α = 0 but margin {m}");
            } else if *a > c * (1.0 - 1e-9) {
                assert!(m < 1.0 + 1e-4, "λ = {lambda}: α = C but margin {m}");
            } else {
                assert!((m - 1.0).abs() < 1e-4, "λ = {lambda}: free α but margin {m}");
            }
        }
    }
}

/// All points inside the margin: w̃ = C Σ y_i x̃_i, i.e. (c₊ − c₋)/(2λ) and b = 0 for balanced
/// classes, reached exactly.
#[test]
fn strong_regularisation_gives_the_closed_form() {
    let (x, y) = toy(9, 30, 5);
    let lambda = 100.0;
    let fit = svm::solve(&x, &y, lambda, &vec![0.0; 30], 1e-12, 1000, Seed(2));
    let cp = centroid(&x, &y, 1.0);
    let cm = centroid(&x, &y, -1.0);
    for ((w, a), b) in fit.w.iter().zip(&cp).zip(&cm) {
        assert!((w - (a - b) / (2.0 * lambda)).abs() < 1e-15);
    }
    assert!(fit.b.abs() < 1e-15);
}

#[test]
fn warm_starts_reach_the_same_solution_as_cold_starts() {
    let (x, y) = toy(5, 40, 8);
    let cold = svm::solve(&x, &y, 1e-3, &vec![0.0; 40], 1e-12, 1_000_000, Seed(1));
    let mid = svm::solve(&x, &y, 1e-1, &vec![0.0; 40], 1e-12, 1_000_000, Seed(1));
    let warm = svm::solve(&x, &y, 1e-3, &mid.alpha, 1e-12, 1_000_000, Seed(1));
    assert!(angle_deg(&cold.w, &warm.w) < 1e-3);
}

#[test]
fn splits_are_balanced_and_the_exact_variant_is_flat() {
    let (a, b) = load_pair(3, 7).unwrap();
    let s0 = make_split(&a, &b, 179, 89, 10, 0.0, Seed(4));
    let s1 = make_split(&a, &b, 179, 89, 10, 0.01, Seed(4));
    assert_eq!((s0.x_train.len(), s0.x_test.len()), (178, 180));
    assert_eq!(s0.y_train.iter().sum::<f64>(), 0.0);
    assert_eq!(s0.dim(), 74);
    assert!(s0.x_train.iter().chain(&s0.x_test).all(|r| r[64..].iter().all(|&v| v == 0.0)));
    assert!(s0.x_train.iter().all(|r| r[..64].iter().all(|&v| (0.0..=1.0).contains(&v))));
    // Same images in both variants; only the flat coordinates differ.
    for (r0, r1) in s0.x_train.iter().zip(&s1.x_train) {
        assert_eq!(r0[..64], r1[..64]);
    }
    let flat: Vec<f64> = s1.x_train.iter().flat_map(|r| r[64..].to_vec()).collect();
    let sd = common::stats::mean_sd(&flat).1;
    assert!((sd - 0.01).abs() < 0.002, "{sd}");
}

// ---------------------------------------------------------------------------------------------
// The config contract

fn tiny() -> Config {
    Config {
        per_class: 30,
        train_per_class: 15,
        flat_dims: 6,
        lambdas: vec![1e-4, 1e-2, 1.0, 10.0, 100.0],
        splits: 2,
        ..Config::quick()
    }
}

#[test]
fn profiles_validate_and_bad_values_are_refused() {
    Config::quick().validate().unwrap();
    Config::full().validate().unwrap();
    tiny().validate().unwrap();
    let bad: Vec<(&str, Config)> = vec![
        ("digit_a", Config { digit_a: 10, ..Config::quick() }),
        ("differ", Config { digit_b: 3, ..Config::quick() }),
        ("per_class", Config { per_class: 180, ..Config::quick() }),
        ("per_class", Config { digit_a: 8, per_class: 175, ..Config::quick() }),
        ("train_per_class", Config { train_per_class: 179, ..Config::quick() }),
        ("flat_dims", Config { flat_dims: 0, ..Config::quick() }),
        ("sigma_flat", Config { sigma_flat: f64::NAN, ..Config::quick() }),
        ("tilt_degrees", Config { tilt_degrees: vec![0.0, 45.0, 90.0], ..Config::quick() }),
        ("89", Config { tilt_degrees: vec![0.0, 45.0], ..Config::quick() }),
        ("start at 0", Config { tilt_degrees: vec![10.0, 89.0], ..Config::quick() }),
        ("lambdas", Config { lambdas: vec![1e-6, 1e-3, 1.0, 100.0, 10.0], ..Config::quick() }),
        ("at least 10", Config { lambdas: vec![1e-6, 1e-4, 1e-3, 1e-2, 1.0], ..Config::quick() }),
        ("at most 1e-3", Config { lambdas: vec![1e-2, 0.1, 1.0, 10.0, 100.0], ..Config::quick() }),
        ("at least 5", Config { lambdas: vec![1e-6, 100.0], ..Config::quick() }),
        ("lambdas", Config { lambdas: vec![0.0, 1e-3, 1e-2, 1.0, 100.0], ..Config::quick() }),
        ("splits", Config { splits: 0, ..Config::quick() }),
        ("gap_tol", Config { gap_tol: 0.0, ..Config::quick() }),
        ("max_epochs", Config { max_epochs: 1, ..Config::quick() }),
    ];
    for (key, c) in bad {
        let e = c.validate().expect_err(key);
        assert!(e.0.contains(key) && !e.0.contains('\n'), "{key}: {e}");
    }
}

#[test]
fn hostile_sizes_are_refused_up_front_and_estimates_stay_finite() {
    let sets = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    for (k, v) in [("splits", "1000000000"), ("flat_dims", "1000000000000"), ("max_epochs", "18446744073709551615")] {
        let e = resolve_with_estimate(&BoundaryTiltingAdv, Profile::Quick, &sets(k, v)).unwrap_err();
        assert!(e.0.contains(k), "{e}");
    }
    let big = Config { flat_dims: 20_000, splits: 1000, max_epochs: 100_000_000, ..Config::full() };
    big.validate().unwrap();
    let e = big.estimate();
    assert!(e.bytes.is_finite() && e.bytes < 4e9, "{e:?}");
}

#[test]
fn a_tiny_config_runs_to_the_end_and_round_trips() {
    let cfg = tiny();
    cfg.validate().unwrap();
    let r = BoundaryTiltingAdv.measure(&cfg, &Ctx::for_test(1, Profile::Quick)).unwrap();
    let text = serde_json::to_string(&r).unwrap();
    let back: Results = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
    let out = BoundaryTiltingAdv.report(&cfg, &back).unwrap();
    assert_eq!(out.claims.len(), CLAIMS.len());
    // Same seed, same bytes, whatever the pool size.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let again = pool.install(|| BoundaryTiltingAdv.measure(&cfg, &Ctx::for_test(1, Profile::Quick)).unwrap());
    assert_eq!(serde_json::to_string(&again).unwrap(), text);
}

// ---------------------------------------------------------------------------------------------
// Planted bugs: each gated claim fails on the wrong answer its declaration names

/// One split of the quick profile (the real data and solver), computed once.
fn one_split() -> &'static (Config, Results) {
    static R: OnceLock<(Config, Results)> = OnceLock::new();
    R.get_or_init(|| {
        let cfg = Config { splits: 1, ..Config::quick() };
        let r = BoundaryTiltingAdv.measure(&cfg, &Ctx::for_test(20240601, Profile::Quick)).unwrap();
        (cfg, r)
    })
}

fn verdict(cfg: &Config, r: &Results, id: &str) -> bool {
    let out = BoundaryTiltingAdv.report(cfg, r).unwrap();
    out.claims.iter().find(|c| c.id == id).unwrap().passed
}

#[test]
fn the_unplanted_split_passes_every_gated_claim() {
    let (cfg, r) = one_split();
    let out = BoundaryTiltingAdv.report(cfg, r).unwrap();
    for c in out.claims.iter().filter(|c| c.gated) {
        assert!(c.passed, "{} failed: {} ({:?})", c.id, c.measured, c.detail);
    }
}

fn noisy_split_of(cfg: &Config, seed: u64) -> Split {
    let (a, b) = load_pair(cfg.digit_a, cfg.digit_b).unwrap();
    make_split(&a, &b, cfg.per_class, cfg.train_per_class, cfg.flat_dims, 0.0, Seed(seed))
}

/// A1's wrong answer: the tilted normal keeps the NC offset instead of passing through the
/// midpoint.
#[test]
fn planted_offset_not_recentred_fails_a1() {
    let (cfg, r) = one_split();
    let s = noisy_split_of(cfg, 1);
    let cp = centroid(&s.x_train, &s.y_train, 1.0);
    let cm = centroid(&s.x_train, &s.y_train, -1.0);
    let nc = nearest_centroid(&cp, &cm);
    let mut bad = r.clone();
    for t in &mut bad.splits[0].tilt_exact {
        let mut c = tilted(&nc.w, PIXELS, t.theta_deg, &cp);
        c.b = nc.b;
        t.acc = c.accuracy(&s.x_test, &s.y_test);
    }
    assert!(!verdict(cfg, &bad, "A1"));
}

/// A2/A3's wrong answer: |w·x + b| without /‖w‖ for the unnormalised tilt ŵ + tan θ·e.
#[test]
fn planted_missing_norm_fails_a2_and_a3() {
    let (cfg, r) = one_split();
    let s = noisy_split_of(cfg, 1);
    let cp = centroid(&s.x_train, &s.y_train, 1.0);
    let cm = centroid(&s.x_train, &s.y_train, -1.0);
    let nc = nearest_centroid(&cp, &cm);
    let mid: Vec<f64> = cp.iter().zip(&cm).map(|(a, b)| 0.5 * (a + b)).collect();
    let d_nc = common::stats::mean(&distances(&nc, &s.x_test));
    let mut bad = r.clone();
    for t in &mut bad.splits[0].tilt_exact {
        let mut w = nc.w.clone();
        w[PIXELS] += t.theta_deg.to_radians().tan();
        let c = Linear::through(w, &mid);
        t.mean_d = common::stats::mean(&s.x_test.iter().map(|x| c.score(x).abs()).collect::<Vec<_>>());
        t.s_mean = d_nc / t.mean_d;
    }
    assert!(!verdict(cfg, &bad, "A2"));
    assert!(!verdict(cfg, &bad, "A3"));
}

/// S0's wrong answer: a fixed small epoch budget.
#[test]
fn planted_epoch_budget_fails_s0() {
    let (cfg, r) = one_split();
    let short = Config { max_epochs: 10, ..cfg.clone() };
    let (a, b) = load_pair(cfg.digit_a, cfg.digit_b).unwrap();
    let s = make_split(&a, &b, cfg.per_class, cfg.train_per_class, cfg.flat_dims, cfg.sigma_flat, Seed(2));
    let (rows, _, _) = svm_path(&s, &short, Seed(3));
    let mut bad = r.clone();
    bad.splits[0].svm = rows;
    assert!(!verdict(cfg, &bad, "S0"));
}

/// B1's wrong answer: the reversed effect (θ growing with λ).
#[test]
fn planted_reversed_effect_fails_b1() {
    let (cfg, r) = one_split();
    let mut bad = r.clone();
    let th: Vec<f64> = bad.splits[0].svm.iter().map(|x| x.theta_deg).rev().collect();
    for (row, t) in bad.splits[0].svm.iter_mut().zip(th) {
        row.theta_deg = t;
    }
    assert!(!verdict(cfg, &bad, "B1"));
}

/// B2's wrong answer: an unbalanced training set (one image dropped from one class).
#[test]
fn planted_unbalanced_split_fails_b2() {
    let (cfg, r) = one_split();
    let (a, b) = load_pair(cfg.digit_a, cfg.digit_b).unwrap();
    let mut s = make_split(&a, &b, cfg.per_class, cfg.train_per_class, cfg.flat_dims, cfg.sigma_flat, Seed(2));
    s.x_train.pop();
    s.y_train.pop();
    let few = Config { lambdas: vec![1e-3, 1e-2, 0.1, 1.0, 100.0], ..cfg.clone() };
    let (rows, _, _) = svm_path(&s, &few, Seed(3));
    let th = rows.last().unwrap().theta_deg;
    eprintln!("unbalanced split: θ(λ = 100) = {th}°");
    assert!(th > 1e-2, "θ(λ = 100) = {th}");
    let mut bad = r.clone();
    bad.splits[0].svm.last_mut().unwrap().theta_deg = th;
    assert!(!verdict(cfg, &bad, "B2"));
}

/// B3/B5's wrong answer: regularisation that only rescales w (direction fixed at ŵ_NC).
#[test]
fn planted_rescaling_only_fails_b3_and_b5() {
    let (cfg, r) = one_split();
    let mut bad = r.clone();
    for row in &mut bad.splits[0].svm {
        row.theta_deg = 0.0;
        row.var_ratio = 1.0;
        row.s_mean = 1.0;
    }
    assert!(!verdict(cfg, &bad, "B3"));
    assert!(!verdict(cfg, &bad, "B5"));
}

/// B4's wrong answers: S = 1 (orientation-free distances) or S = 1/cos² θ.
#[test]
fn planted_orientation_free_strength_fails_b4() {
    let (cfg, r) = one_split();
    for power in [0, 2] {
        let mut bad = r.clone();
        for row in &mut bad.splits[0].svm {
            row.s_mean = 1.0 / row.theta_deg.to_radians().cos().powi(power);
        }
        assert!(!verdict(cfg, &bad, "B4"), "power {power}");
    }
}

// ---------------------------------------------------------------------------------------------
// Calibration

/// The quick profile at many root seeds: every claim's spread and the gates' failure counts.
/// `cargo test --release -p boundary_tilting_adv -- --ignored calibrate --nocapture`
#[test]
#[ignore = "calibration: the quick profile at CAL_SEEDS root seeds (default 30) from CAL_START (default 100000)"]
fn calibrate() {
    let runs = common::study::conformance::calibrate(&BoundaryTiltingAdv);
    let top: Vec<f64> =
        runs.iter().map(|(_, r, _)| r.splits.iter().map(|s| s.svm[0].theta_deg).fold(0.0, f64::max)).collect();
    eprintln!("largest θ(λ_min) of a run: min {} max {}", fmt(common::stats::min(&top)), fmt(common::stats::max(&top)));
}

/// Writes one split (the noisy variant of split 0 at the default seed) and the Rust θ(λ) for the
/// scikit-learn cross-check `reference/crosscheck.py`:
/// `CROSSCHECK_DIR=/tmp/bt cargo test --release -p boundary_tilting_adv -- --ignored dump_split --nocapture`
#[test]
#[ignore = "writes the cross-check inputs to $CROSSCHECK_DIR"]
fn dump_split_for_the_crosscheck() {
    use std::fmt::Write as _;
    let dir = std::path::PathBuf::from(std::env::var("CROSSCHECK_DIR").unwrap_or_else(|_| "/tmp".into()));
    let cfg = Config::quick();
    let (a, b) = load_pair(cfg.digit_a, cfg.digit_b).unwrap();
    let s = make_split(&a, &b, cfg.per_class, cfg.train_per_class, cfg.flat_dims, cfg.sigma_flat, Seed(11));
    let (rows, _, _) = svm_path(&s, &cfg, Seed(12));
    let mut text = String::new();
    for (set, xs, ys) in [("train", &s.x_train, &s.y_train), ("test", &s.x_test, &s.y_test)] {
        for (x, y) in xs.iter().zip(ys.iter()) {
            let vals: Vec<String> = x.iter().map(|v| format!("{v:e}")).collect();
            writeln!(text, "{set},{y},{}", vals.join(",")).unwrap();
        }
    }
    std::fs::write(dir.join("split.csv"), text).unwrap();
    let mut th = String::from("lambda,theta_deg,test_acc,mean_d\n");
    for r in &rows {
        writeln!(th, "{:e},{:e},{:e},{:e}", r.lambda, r.theta_deg, r.test_acc, r.mean_d).unwrap();
    }
    std::fs::write(dir.join("rust_theta.csv"), th).unwrap();
    eprintln!("wrote {}/split.csv and rust_theta.csv", dir.display());
}

/// Writes the quick report (default seed) to $REPORT_DIR for review, through the real runner.
#[test]
#[ignore = "writes the quick report to $REPORT_DIR"]
fn write_the_quick_report() {
    use common::device::{Device, Probed};
    use common::study::runner::{RunOpts, run_study};
    let dir = std::path::PathBuf::from(std::env::var("REPORT_DIR").unwrap_or_else(|_| "/tmp/bt-report".into()));
    let opts = RunOpts { out: dir, ..RunOpts::default() };
    let probed = Probed { device: Device::Cpu, note: "cpu (test)".into() };
    let s = run_study(&BoundaryTiltingAdv, &opts, &probed).unwrap();
    eprintln!("{}: {}/{} gated claims, {:.2} s, in {}", s.slug, s.passed, s.gated, s.wall_seconds, s.dir.display());
}
