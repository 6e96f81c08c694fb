use super::*;
use common::Seed;
use common::admm::{DenseKkt, KktSolve, Problem};
use ndarray::{Array1, Array2};
use problem::*;
use std::sync::OnceLock;

/// A small exact problem shared by the numerical tests.
fn small(n: usize, beta: f64) -> ConvexRelu {
    let (x, y) = spirals(n, 0.03, Seed(5));
    let d = enumerate_patterns(&x);
    ConvexRelu::new(x, y, d, beta)
}

fn randv(n: usize, seed: u64) -> Vec<f64> {
    common::rng::gaussian_vec(&mut Seed(seed).rng(), n, 1.0).to_vec()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn pattern_count_matches_cover_and_sampling_finds_a_subset() {
    assert_eq!(pattern_count_formula(30, 3), 872);
    assert_eq!(pattern_count_formula(12, 3), 134);
    assert_eq!(pattern_count_formula(12, 2), 24);
    for (n, jitter) in [(8, 0.0), (12, 0.0), (12, 0.05), (20, 0.01)] {
        let (x, _) = spirals(n, jitter, Seed(n as u64));
        let d = enumerate_patterns(&x);
        assert_eq!(d.nrows() as u64, pattern_count_formula(n, 3), "n = {n}, jitter {jitter}");
        let s = sample_patterns(&x, 5000, Seed(1));
        let all: std::collections::BTreeSet<Vec<u64>> =
            d.rows().into_iter().map(|r| r.iter().map(|v| *v as u64).collect()).collect();
        assert!(s.rows().into_iter().all(|r| all.contains(&r.iter().map(|v| *v as u64).collect::<Vec<_>>())));
        assert!(s.nrows() < d.nrows());
    }
}

/// `A` and `Aᵀ`, `F` and `Fᵀ` are adjoint (with and without the cones).
#[test]
fn operators_are_adjoint() {
    for cones in [true, false] {
        let mut pb = small(10, 1e-2);
        pb.cones = cones;
        let (n, m) = (Problem::n(&pb), Problem::m(&pb));
        let (x, z) = (randv(n, 1), randv(m, 2));
        let (mut ax, mut atz) = (vec![0.0; m], vec![0.0; n]);
        pb.apply_a(&x, &mut ax);
        pb.apply_at(&z, &mut atz);
        assert!((dot(&ax, &z) - dot(&x, &atz)).abs() < 1e-10 * dot(&ax, &z).abs().max(1.0));
        let r = Array1::from(randv(pb.x.nrows(), 3));
        let lhs = pb.predict(&x).dot(&r);
        let rhs = dot(&x, &pb.ft(r.view()));
        assert!((lhs - rhs).abs() < 1e-10 * lhs.abs().max(1.0));
    }
}

/// The structured (Woodbury) solve equals the paper's dense Cholesky solve of FᵀF + ρ(I + GᵀG),
/// and the dense system equals P + ρAᵀA assembled column by column from the operators.
#[test]
fn woodbury_solve_matches_the_dense_cholesky() {
    for cones in [true, false] {
        let mut pb = small(8, 1e-2);
        pb.cones = cones;
        let rho = 0.7;
        let dense = pb.dense_system(rho);
        let n = pb.dim();
        // column j of FᵀF + ρAᵀA through the operators
        let j = 5;
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        let mut ae = vec![0.0; Problem::m(&pb)];
        pb.apply_a(&e, &mut ae);
        let mut col = vec![0.0; n];
        pb.apply_at(&ae, &mut col);
        let ftf = pb.ft(pb.predict(&e).view());
        for i in 0..n {
            assert!((dense[[i, j]] - (ftf[i] + rho * col[i])).abs() < 1e-10);
        }
        let dk = DenseKkt::factor(dense.view()).unwrap();
        let wk = WoodburyKkt::new(&pb, rho).unwrap();
        let mut a = randv(n, 7);
        let mut b = a.clone();
        dk.solve_in_place(&mut a);
        wk.solve_in_place(&mut b);
        let err = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
        assert!(err < 1e-9, "cones {cones}: {err}");
    }
}

/// Closed form of the equivalence: a network whose neurons are balanced (|α_j| = ‖u_j‖) maps to the
/// feasible convex point v = u α (on the pattern of u) with exactly the same objective.
#[test]
fn balanced_networks_map_to_convex_points_with_equal_objective() {
    let (x, y) = spirals(10, 0.03, Seed(9));
    let m = 6;
    let u = Array2::from_shape_vec((m, 3), randv(3 * m, 11)).unwrap();
    let alpha = Array1::from_iter((0..m).map(|j| {
        let nu = u.row(j).dot(&u.row(j)).sqrt();
        if j % 2 == 0 { nu } else { -nu }
    }));
    let beta = 0.05;
    let net = network_objective(&x, &y, &u, &alpha, beta);
    // patterns of the neurons, one block each (v for α > 0, w for α < 0)
    let mut d = Array2::zeros((m, 10));
    for j in 0..m {
        for k in 0..10 {
            d[[j, k]] = if x.row(k).dot(&u.row(j)) >= 0.0 { 1.0 } else { 0.0 };
        }
    }
    let pb = ConvexRelu::new(x.clone(), y.clone(), d, beta);
    let mut sol = vec![0.0; pb.dim()];
    for j in 0..m {
        let blk = if alpha[j] > 0.0 { j } else { m + j };
        for c in 0..3 {
            sol[blk * 3 + c] = u[[j, c]] * alpha[j].abs();
        }
    }
    assert!(pb.cone_violation(&sol) <= 0.0);
    assert!((pb.objective(&sol) - net).abs() < 1e-12 * net);
    let (u2, a2) = pb.rebuild(&sol);
    assert!((network_objective(&x, &y, &u2, &a2, beta) - net).abs() < 1e-12 * net);
}

#[test]
fn nonconvex_gradient_matches_finite_differences() {
    let (x, y) = spirals(10, 0.03, Seed(3));
    let m = 4;
    let theta = Array1::from(randv(m * 3 + m, 4));
    let (_, g) = nonconvex::loss_grad(&x, &y, &theta, m, 0.1);
    let h = 1e-6;
    for i in 0..theta.len() {
        let (mut a, mut b) = (theta.clone(), theta.clone());
        a[i] += h;
        b[i] -= h;
        let fd = (nonconvex::loss_grad(&x, &y, &a, m, 0.1).0 - nonconvex::loss_grad(&x, &y, &b, m, 0.1).0) / (2.0 * h);
        assert!((fd - g[i]).abs() < 1e-5, "coordinate {i}: {fd} vs {}", g[i]);
    }
}

/// p* of the deterministic spirals (jitter 0), n = 12, β = 1e-2, from the independent NumPy ADMM
/// with a dense G and a dense Cholesky (reference/admm_reference.py; cvxpy/Clarabel agrees).
#[test]
fn reference_values_match_numpy() {
    let (x, y) = spirals(12, 0.0, Seed(0));
    let d = enumerate_patterns(&x);
    assert_eq!(d.nrows(), 134);
    let pb = ConvexRelu::new(x, y, d, 1e-2);
    let (sol, _, st) = run_admm(&pb, &Config::quick()).unwrap();
    assert_eq!(st, common::admm::Status::Converged);
    let p_star = pb.objective(&sol);
    assert!((p_star - REFERENCE_P_STAR).abs() < 1e-8 * REFERENCE_P_STAR, "{p_star} vs {REFERENCE_P_STAR}");
    assert!((p_star - CLARABEL_P_STAR).abs() < 1e-6 * CLARABEL_P_STAR, "{p_star} vs {CLARABEL_P_STAR}");
}

/// NumPy ADMM (1763 iterations, as here); cvxpy/Clarabel gives 0.5387893001747937 (7e-8 below).
const REFERENCE_P_STAR: f64 = 0.5387893384941556;
const CLARABEL_P_STAR: f64 = 0.5387893001747937;

// ---------------------------------------------------------------------------------------------
// The config contract

#[test]
fn profiles_validate_and_bad_values_are_refused() {
    assert!(Config::quick().validate().is_ok());
    assert!(Config::full().validate().is_ok());
    let q = Config::quick();
    for bad in [
        Config { n: 13, ..q.clone() },
        Config { n: 2, ..q.clone() },
        Config { beta: 0.0, ..q.clone() },
        Config { rho: f64::NAN, ..q.clone() },
        Config { relax: 2.0, ..q.clone() },
        Config { tol: 0.0, ..q.clone() },
        Config { sample_sizes: vec![8, 4], ..q.clone() },
        Config { sample_sizes: vec![8], ..q.clone() },
        Config { timing_dps: vec![128, 130, 256], ..q.clone() },
        Config { timing_dps: vec![128, 256], ..q.clone() },
        Config { timing_dps: vec![128, 256, 100_000], ..q.clone() },
        Config { fit_from: 60_000, ..q.clone() },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    let e = Config::full().estimate();
    assert!(!format!("{e:?}").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Planted bugs: a wrong result fed to `report` (or a hook on a tiny config) fails its claim.

fn tiny() -> Config {
    Config {
        n: 8,
        sample_draws: 1000,
        sgd_runs: 6,
        sgd_steps: 600,
        sample_sizes: vec![4, 16, 64],
        sample_reps: 3,
        sample_max_iter: 2000,
        timing_n: 10,
        timing_d: 4,
        timing_dps: vec![32, 64, 128],
        timing_iters: 3,
        timing_reps: 1,
        ..Config::quick()
    }
}

fn tiny_results() -> &'static Results {
    static R: OnceLock<Results> = OnceLock::new();
    R.get_or_init(|| measure_with(&tiny(), Seed(7), true).unwrap())
}

fn claim(cfg: &Config, r: &Results, id: &str) -> common::Claim {
    let out = ConvexReluAdmm.report(cfg, r).unwrap();
    out.claims.into_iter().find(|c| c.id == id).unwrap()
}

#[test]
fn the_tiny_run_passes_the_deterministic_claims() {
    let r = tiny_results();
    // (C4 is not asserted here: at n = 8 the residual has long plateaus, R² ≈ 0.8; see the README)
    for id in ["C1", "C2", "C3", "C5"] {
        let c = claim(&tiny(), r, id);
        assert!(c.passed, "{id}: {} {:?}", c.measured, c.detail);
    }
}

#[test]
fn c1_fails_when_a_pattern_is_missed() {
    let mut r = tiny_results().clone();
    r.patterns -= 1;
    assert!(!claim(&tiny(), &r, "C1").passed);
    // the arrangement without the bias column
    r.formula = pattern_count_formula(8, 2);
    r.patterns = enumerate_patterns(&spirals(8, 0.0, Seed(0)).0).nrows();
    assert!(!claim(&tiny(), &r, "C1").passed);
}

/// C2's wrong answer: p* of a program on 4 sampled directions is not a lower bound.
#[test]
fn c2_fails_with_a_sampled_p_star() {
    let mut r = tiny_results().clone();
    r.p_star = r.sampling.iter().filter(|s| s.p_s == 4).map(|s| s.p_star_s).fold(f64::NEG_INFINITY, f64::max);
    assert!(!claim(&tiny(), &r, "C2").passed);
}

/// C3's wrong answer, planted in the solver: the program without its cone constraints.
#[test]
fn c3_fails_without_the_cone_constraints() {
    let cfg = Config { sgd_runs: 1, sgd_steps: 10, sample_sizes: vec![4, 8], sample_reps: 1, ..tiny() };
    let r = measure_with(&cfg, Seed(7), false).unwrap();
    let c = claim(&cfg, &r, "C3");
    assert!(!c.passed, "{} {:?}", c.measured, c.detail);
}

/// C4's wrong answer: residuals falling as 1/k (sublinear) are not a log-linear line.
#[test]
fn c4_fails_for_a_sublinear_residual() {
    let mut r = tiny_results().clone();
    for t in r.trace.iter_mut() {
        t.primal = 1.0 / t.iter as f64;
        t.dual = 0.0;
    }
    let c = claim(&tiny(), &r, "C4");
    assert!(!c.passed, "{}", c.measured);
}

#[test]
fn c5_fails_when_early_iterates_are_at_chance() {
    let mut r = tiny_results().clone();
    for t in r.trace.iter_mut().take(10) {
        t.train_acc = 0.5;
    }
    assert!(!claim(&tiny(), &r, "C5").passed);
}

/// C6's wrong answer: an iteration that re-factors costs (dP)³.
#[test]
fn c6_fails_for_cubic_iterations() {
    let mut r = tiny_results().clone();
    for t in r.timing.iter_mut() {
        t.dense_iter = 1e-9 * (t.dp as f64).powi(3);
    }
    assert!(!claim(&tiny(), &r, "C6").passed);
    for t in r.timing.iter_mut() {
        t.dense_iter = 1e-9 * (t.dp as f64).powi(2);
    }
    assert!(claim(&tiny(), &r, "C6").passed);
}

#[test]
fn c7_fails_when_sampling_does_not_approach_p_star() {
    let mut r = tiny_results().clone();
    // gaps that grow with P_s
    let p = r.p_star;
    for s in r.sampling.iter_mut() {
        s.p_star_s = p * (1.0 + 0.001 * s.p_s as f64);
    }
    assert!(!claim(&tiny(), &r, "C7a").passed);
    // a flat 5 % gap
    for s in r.sampling.iter_mut() {
        s.p_star_s = p * 1.05;
    }
    assert!(!claim(&tiny(), &r, "C7b").passed);
}

#[test]
#[ignore = "prints the quick profile's numbers (calibration)"]
fn print_quick_numbers() {
    let cfg = Config::quick();
    for s in [20240601u64, 1, 2] {
        let t = std::time::Instant::now();
        let r = measure_with(&cfg, Seed(s), true).unwrap();
        let out = ConvexReluAdmm.report(&cfg, &r).unwrap();
        eprintln!("seed {s}: {:.1}s", t.elapsed().as_secs_f64());
        for c in &out.claims {
            eprintln!("  {} {} {} | {}", c.id, c.measured, c.passed, c.detail.clone().unwrap_or_default());
        }
    }
}

/// Calibration over root seeds not tuned on: the seed-dependent claims (C2, C6, C7a, C7b).
/// `CRA_SEEDS=100..130` (a range); prints one line per seed and the failures.
#[test]
#[ignore = "calibration over many seeds (minutes)"]
fn calibrate_seeds() {
    let spec = std::env::var("CRA_SEEDS").unwrap_or_else(|_| "100..120".into());
    let (a, b) = spec.split_once("..").unwrap();
    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
    let cfg = Config::quick();
    let mut fails = vec![];
    for s in a..b {
        let r = measure_with(&cfg, Seed(s), true).unwrap();
        let out = ConvexReluAdmm.report(&cfg, &r).unwrap();
        let line: Vec<String> = out
            .claims
            .iter()
            .filter(|c| ["C2", "C6", "C7a", "C7b"].contains(&c.id.as_str()))
            .map(|c| format!("{}={:.4e}", c.id, c.measured))
            .collect();
        eprintln!("seed {s}: {}", line.join(" "));
        for c in out.claims.iter().filter(|c| c.gated && !c.passed) {
            fails.push(format!("seed {s} {}", c.id));
        }
    }
    eprintln!("failures: {fails:?}");
}

/// Calibration of C6 alone: the timing sweep of the quick profile at many seeds.
#[test]
#[ignore = "calibration of the timing slope (a minute)"]
fn calibrate_timing() {
    let cfg = Config::quick();
    let mut slopes = vec![];
    for s in 200..225u64 {
        let t = timing::sweep(cfg.timing_n, cfg.timing_d, &cfg.timing_dps, cfg.timing_iters, cfg.timing_reps, Seed(s))
            .unwrap();
        let dps: Vec<f64> = t.iter().map(|r| r.dp as f64).collect();
        let sl = common::stats::loglog_slope(&dps, &t.iter().map(|r| r.dense_iter).collect::<Vec<_>>());
        let fs = common::stats::loglog_slope(&dps, &t.iter().map(|r| r.factor).collect::<Vec<_>>());
        let ws = common::stats::loglog_slope(&dps, &t.iter().map(|r| r.structured_iter).collect::<Vec<_>>());
        eprintln!("seed {s}: dense {sl:.3} factor {fs:.3} structured {ws:.3}");
        slopes.push(sl);
    }
    slopes.sort_by(f64::total_cmp);
    eprintln!("dense slopes: min {:.3} max {:.3}", slopes[0], slopes[slopes.len() - 1]);
}

/// Writes the quick report to `CRA_REPORT_DIR` (default /tmp/cra_report) for a look at the figures.
#[test]
#[ignore = "writes the quick report for review"]
fn write_quick_report() {
    let dir = std::path::PathBuf::from(std::env::var("CRA_REPORT_DIR").unwrap_or_else(|_| "/tmp/cra_report".into()));
    std::fs::create_dir_all(&dir).unwrap();
    common::study::conformance::quick_contract(&ConvexReluAdmm, &dir, common::study::runner::DEFAULT_SEED, None);
}

#[test]
fn a_diverged_run_fails_c2() {
    let mut r = tiny_results().clone();
    r.sgd[0].final_obj = f64::NAN;
    assert!(!claim(&tiny(), &r, "C2").passed);
    let back: Results = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert!(back.sgd[0].final_obj.is_nan());
}
