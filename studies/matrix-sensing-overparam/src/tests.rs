//! Tests of the study's wiring: the initialisation streams, the config contract, and planted bugs
//! that each gated claim must catch.
use super::*;
use common::rng::Seed;
use common::{Profile, Validate};
use runs::asym_init;

#[test]
fn f_and_g_come_from_different_streams() {
    // One shared RNG stream for F and G would make the run balanced (F0 ∝ G0) and slow.
    let (f, g) = asym_init(Seed(1), 0, 10, 4, 0.3, false);
    let ratio = &f / 3.0 - &g;
    assert!(ratio.iter().map(|x| x.abs()).sum::<f64>() > 1.0);
    let d = f.t().dot(&f) - g.t().dot(&g);
    assert!(common::linalg::eigvalsh(&d)[0] > 0.0, "F0 ~ α, G0 ~ α/3: the imbalance is positive definite");
    let (fb, gb) = asym_init(Seed(1), 0, 10, 4, 0.3, true);
    assert_eq!(fb, gb);
    assert_eq!(fb, f);
    // the α sweep rescales one draw
    let (f2, _) = asym_init(Seed(1), 0, 10, 4, 0.6, false);
    assert!((&f2 - &(&f * 2.0)).iter().all(|x| x.abs() < 1e-15));
}

// ---------------------------------------------------------------------------------------------
// The config contract: hostile `--set` values are refused (exit 2) or run.

fn resolve(key: &str, value: &str) -> Result<serde_json::Value, common::BadInput> {
    common::study::runner::resolve_config(&MatrixSensingOverparam, Profile::Quick, &[(key.into(), value.into())])
}

#[test]
fn hostile_values_are_refused_except_the_harmless_ones() {
    let keys = common::study::overrides::keys(&serde_json::to_value(Config::quick()).unwrap());
    let mut accepted = vec![];
    for key in &keys {
        for v in ["0", "-1", "1000000000", "NaN", "inf", "[]", "abc", "1e300"] {
            match resolve(key, v) {
                Ok(_) => accepted.push(format!("{key}={v}")),
                Err(e) => assert!(!e.0.contains('\n'), "{key}={v}: {e}"),
            }
        }
    }
    // They run to the end (`accepted_extremes_run`); noise.std = 0 is the quick profile's own value.
    assert_eq!(accepted, ["floor=0", "sym.slope_from=0", "asym.extra_alphas=[]", "noise.std=0"]);
    // The case (a target of norm 1e9 "ran" in 0 s, every run diverged), and cross-key rules.
    for (k, v) in [
        ("spectrum", "1000000000"),
        ("spectrum", "[20]"),
        ("eta", "0.6"),
        ("sym.ks", "[2]"),
        ("sym.ks", "[21]"),
        ("asym.alphas", "[0.05]"),
        ("asym.alphas", "[0.05,0.025]"),
        ("asym.window_lo", "1e-6"),
        ("spectrum", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"),
    ] {
        assert!(resolve(k, v).is_err(), "{k}={v} accepted");
    }
    assert!(resolve("asym.k", "6").is_ok() && resolve("eta", "0.5").is_ok());
    // n and m together are held to the memory estimate.
    let big = Config { n: 2000, m: 1_000_000, ..Config::quick() };
    assert!(big.validate().is_ok() && big.estimate().bytes > 1e13);
}

/// A small configuration: n = 8 (the Gram matrix has 4096 entries), every experiment once.
fn small() -> Config {
    let q = Config::quick();
    Config {
        n: 8,
        m: 200,
        sym: SymConfig { ks: vec![3], alphas: vec![0.1], ..q.sym.clone() },
        fact: FactConfig { ks: vec![3], ..q.fact.clone() },
        asym: AsymConfig {
            k: 3,
            alphas: vec![0.05, 0.07, 0.1],
            extra_alphas: vec![],
            exact_alphas: vec![0.1],
            ..q.asym.clone()
        },
        balance: BalanceConfig { k: 3, alpha: 0.2, ..q.balance.clone() },
        onestep: OneStepConfig { alphas: vec![0.05, 0.1], ..q.onestep.clone() },
        ..q
    }
}

/// The accepted extremes (smallest sizes, one step, the largest stable step, no floor) run.
#[test]
fn accepted_extremes_run() {
    let s = small();
    let mut tiny = Config { n: 2, spectrum: vec![1.0], m: 1, floor: 0.0, ..s.clone() };
    tiny.sym = SymConfig { ks: vec![2], alphas: vec![1e-6], steps: 1, exact_steps: 1, slope_from: 0.0 };
    tiny.fact = FactConfig { ks: vec![2], alpha: 1.0, steps: 1 };
    tiny.asym = AsymConfig {
        k: 2,
        alphas: vec![1e-6, 1.0],
        extra_alphas: vec![],
        max_steps: 1,
        exact_steps: 1,
        ..s.asym.clone()
    };
    tiny.balance = BalanceConfig { k: 2, alpha: 1.0, steps: 1, imbalanced_steps: 1 };
    tiny.onestep = OneStepConfig { alphas: vec![1.0], trigger: 1.0, max_steps: 1 };
    tiny.noise = NoiseConfig { std: 10.0, alpha: 1.0, steps: 1 };
    let fast = Config { eta: 0.5, spectrum: vec![1.0, 1.0], floor: 0.0, ..s.clone() };
    let noisy = Config { noise: NoiseConfig { std: 1e-3, alpha: 0.1, steps: 2000 }, ..s.clone() };
    for (name, cfg) in [("tiny", tiny), ("eta = 0.5", fast), ("noisy", noisy)] {
        cfg.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let j = serde_json::to_value(&cfg).unwrap();
        let ctx = Ctx::for_test(1, Profile::Quick);
        let text = common::DynStudy::measure_json(&MatrixSensingOverparam, &j, &ctx)
            .unwrap_or_else(|e| panic!("{name}: measure failed: {e:#}"));
        let out = common::DynStudy::report_json(&MatrixSensingOverparam, &j, &text).unwrap();
        let claims: Vec<_> = out.claims.iter().map(|c| (&c.id, c.measured)).collect();
        eprintln!("{name}: {} bytes, estimate {}: {claims:?}", text.len(), cfg.estimate().describe());
    }
}

// ---------------------------------------------------------------------------------------------
// Planted bugs: the small configuration passes the claim, the planted bug fails it.

fn measured() -> &'static (Config, Results) {
    static R: std::sync::OnceLock<(Config, Results)> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let cfg = small();
        let r = MatrixSensingOverparam.measure(&cfg, &Ctx::for_test(5, Profile::Quick)).unwrap();
        (cfg, r)
    })
}

fn claim(cfg: &Config, r: &Results, id: &str) -> common::Claim {
    MatrixSensingOverparam.report(cfg, r).unwrap().claims.into_iter().find(|c| c.id == id).unwrap()
}

/// Replace the runs of `role` (k > r when `over`) by `f(cell)`.
fn replace(r: &Results, keep: impl Fn(&runs::Cell) -> bool, f: impl Fn(&runs::Cell) -> runs::Run) -> Results {
    let mut r = r.clone();
    for (c, run) in r.cells.iter().zip(r.runs.iter_mut()) {
        if keep(c) {
            *run = f(c);
        }
    }
    r
}

fn run_of(r: &Results, keep: impl Fn(&runs::Cell) -> bool) -> runs::Run {
    r.of(keep)[0].1.clone()
}

#[test]
fn the_small_configuration_passes_the_gated_claims_it_is_planted_against() {
    let (cfg, r) = measured();
    for id in [
        "C1-sym-overparam",
        "C1-sym-exact",
        "C1-factorisation-constant",
        "C2-asym-alpha2",
        "C2-asym-exact",
        "C3-balanced-slow",
        "C3-imbalanced-fast",
    ] {
        let c = claim(cfg, r, id);
        assert!(c.passed, "{id}: {} {:?}", c.measured, c.detail);
    }
}

/// C1-factorisation-constant: the ½-loss gradient 2ΔX (twice the step) makes the constant 4x off.
#[test]
fn the_half_loss_gradient_fails_the_factorisation_constant() {
    let (cfg, r) = measured();
    let seed = common::Seed(5);
    let wrong = Config { eta: 2.0 * cfg.eta, ..cfg.clone() };
    let inst = [runs::build_instance(cfg, seed, 0)];
    let planted = replace(
        r,
        |c| c.role == Role::Fact,
        |c| runs::summarise(cfg, seed, c, &runs::run_cell(&wrong, seed, &inst, c).unwrap()),
    );
    let c = claim(cfg, &planted, "C1-factorisation-constant");
    assert!(!c.passed && (c.measured - 0.75).abs() < 0.05, "{c:?}");
}

/// C1-sym-overparam: a run that converges linearly (here: the k = r run in place of k > r).
#[test]
fn linear_convergence_fails_the_symmetric_slope() {
    let (cfg, r) = measured();
    let linear = run_of(r, |c| c.role == Role::Sym && c.k == cfg.r());
    let planted = replace(r, |c| c.role == Role::Sym && c.k > cfg.r(), |_| linear.clone());
    assert!(!claim(cfg, &planted, "C1-sym-overparam").passed);
}

/// C3-imbalanced-fast: F and G from one stream at one scale (balanced) stay slow.
#[test]
fn a_balanced_start_fails_the_imbalanced_claim() {
    let (cfg, r) = measured();
    let balanced = run_of(r, |c| c.role == Role::Balanced);
    let planted = replace(r, |c| c.role == Role::Imbalanced, |_| balanced.clone());
    let c = claim(cfg, &planted, "C3-imbalanced-fast");
    assert!(!c.passed && c.measured > -10.0, "{c:?}");
}

/// Re-run cell `c` of the small configuration (seed 5), with `fix` applied to the trace.
fn rerun(cfg: &Config, c: &runs::Cell, fix: impl Fn(&mut gd::Trace)) -> runs::Run {
    let seed = common::Seed(5);
    let inst = [runs::build_instance(cfg, seed, 0)];
    let mut tr = runs::run_cell(cfg, seed, &inst, c).unwrap();
    fix(&mut tr);
    runs::summarise(cfg, seed, c, &tr)
}

/// C1-sym-overparam and C3-balanced-slow: the error norm ‖·‖_F instead of its square (a Θ(1/T)
/// curve) halves the slope.
#[test]
fn the_error_norm_fails_the_slope_claims() {
    let (cfg, r) = measured();
    let sqrt = |tr: &mut gd::Trace| tr.err.iter_mut().for_each(|e| *e = e.sqrt());
    let planted =
        replace(r, |c| matches!(c.role, Role::Sym | Role::Balanced) && c.k > cfg.r(), |c| rerun(cfg, c, sqrt));
    for id in ["C1-sym-overparam", "C3-balanced-slow"] {
        let c = claim(cfg, &planted, id);
        eprintln!("{id} with the error norm: {}", c.measured);
        assert!(!c.passed && c.measured > -1.1 && c.measured < -0.8, "{c:?}");
    }
}

/// C3-balanced-slow: the balanced arm drawn as G0 = F0/3 (one stream, two scales) is imbalanced
/// and converges linearly: it reaches the floor before T (slope NaN).
#[test]
fn an_imbalanced_start_fails_the_balanced_claim() {
    let (cfg, r) = measured();
    let seed = common::Seed(5);
    let inst = runs::build_instance(cfg, seed, 0);
    let planted = replace(
        r,
        |c| c.role == Role::Balanced,
        |c| {
            let (f0, _) = asym_init(seed, 0, cfg.n, c.k, c.alpha, true);
            let g0 = &f0 / 3.0;
            let sched = gd::Schedule { eta: cfg.eta, max_steps: c.steps, floor: runs::floor(cfg, c) };
            runs::summarise(cfg, seed, c, &gd::run_asymmetric(&inst.general, &inst.target, f0, g0, sched, None))
        },
    );
    let c = claim(cfg, &planted, "C3-balanced-slow");
    assert!(!c.passed && c.measured.is_nan(), "{c:?}");
}

/// C1-sym-exact and C2-asym-exact: a polynomial or α²-slowed run in place of the k = r one (the
/// k > r run of the same scale with the k = r budget).
#[test]
fn slow_runs_fail_the_exact_claims() {
    let (cfg, r) = measured();
    let over = |c: &runs::Cell| runs::Cell { k: c.k + 1, ..*c };
    for (role, id) in [(Role::Sym, "C1-sym-exact"), (Role::Asym, "C2-asym-exact")] {
        let planted = replace(r, |c| c.role == role && c.k == cfg.r(), |c| rerun(cfg, &over(c), |_| ()));
        let c = claim(cfg, &planted, id);
        eprintln!("{id} with k = r + 1: {}", c.measured);
        assert!(!c.passed && c.measured > -12.0, "{c:?}");
    }
}

/// C2-asym-alpha2: G0 that does not scale with α (fixed at the scale of α = 0.1) breaks the α² law.
#[test]
fn an_unscaled_g0_fails_the_alpha_squared_rate() {
    let (cfg, r) = measured();
    let seed = common::Seed(5);
    let inst = runs::build_instance(cfg, seed, 0);
    let planted = replace(
        r,
        |c| c.role == Role::Asym && c.k > cfg.r(),
        |c| {
            let (f0, _) = asym_init(seed, 0, cfg.n, c.k, c.alpha, false);
            let (_, g0) = asym_init(seed, 0, cfg.n, c.k, 0.1, false);
            let sched = gd::Schedule { eta: cfg.eta, max_steps: c.steps, floor: runs::floor(cfg, c) };
            runs::summarise(cfg, seed, c, &gd::run_asymmetric(&inst.general, &inst.target, f0, g0, sched, None))
        },
    );
    let c = claim(cfg, &planted, "C2-asym-alpha2");
    eprintln!("unscaled G0: exponent {} ({:?})", c.measured, c.detail);
    assert!(!c.passed, "{c:?}");
}

// ---------------------------------------------------------------------------------------------
// Calibration (not run by default): the quick profile at root seeds `CALIB_SEEDS` (default
// 1001–1040, never used to tune a bound), one JSON line per seed with every claim's value and the
// per-run numbers behind it, written to `$CALIB_OUT` (default: stderr).

#[test]
#[ignore]
fn claim_spread_over_seeds() {
    use std::io::Write;
    let seeds: Vec<u64> = std::env::var("CALIB_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| (1001..=1040).collect());
    let cfg = Config::quick();
    let mut sink: Box<dyn Write> = match std::env::var("CALIB_OUT") {
        Ok(p) => Box::new(std::fs::File::create(p).unwrap()),
        Err(_) => Box::new(std::io::stderr()),
    };
    for seed in seeds {
        let res = MatrixSensingOverparam.measure(&cfg, &Ctx::for_test(seed, Profile::Quick)).unwrap();
        let out = MatrixSensingOverparam.report(&cfg, &res).unwrap();
        let claims: serde_json::Map<String, serde_json::Value> =
            out.claims.iter().map(|c| (c.id.clone(), serde_json::json!([c.measured, c.passed]))).collect();
        let runs: Vec<serde_json::Value> = res
            .cells
            .iter()
            .zip(&res.runs)
            .map(|(c, r)| {
                serde_json::json!({"role": c.role, "k": c.k, "alpha": c.alpha, "slope": F(r.slope), "rate": F(r.rate),
                    "final": F(r.final_error), "steps": r.steps, "fact_dev": F(r.fact_dev),
                    "curve_t": if matches!(c.role, Role::Balanced | Role::Sym) { r.curve_t.clone() } else { vec![] },
                    "curve_err": if matches!(c.role, Role::Balanced | Role::Sym) { r.curve_err.clone() } else { vec![] }})
            })
            .collect();
        writeln!(sink, "{}", serde_json::json!({"seed": seed, "claims": claims, "runs": runs})).unwrap();
        sink.flush().unwrap();
    }
}

/// NaN as JSON null.
#[allow(non_snake_case)]
fn F(x: f64) -> serde_json::Value {
    if x.is_finite() { serde_json::json!(x) } else { serde_json::Value::Null }
}

/// Calibration of single runs (not run by default): the cells of one role of the quick profile
/// alone at root seeds `CALIB_SEEDS` (default 2001–2400), one JSON line per seed and k, written
/// to stdout: `ROLE` (balanced, imbalanced, sym, fact, asym, asym_pop; default balanced), `KS`
/// (default 4), `ALPHAS` (default 0.1), `STEPS` (the budget; default the profile's).
#[test]
#[ignore]
fn single_runs_over_seeds() {
    use rayon::prelude::*;
    let env = |k: &str| std::env::var(k).ok();
    let list = |s: String| s.split(',').filter_map(|x| x.trim().parse().ok()).collect::<Vec<u64>>();
    let seeds = env("CALIB_SEEDS").map(list).unwrap_or_else(|| (2001..=2400).collect());
    let cfg = Config::quick();
    let (role, budget) = match env("ROLE").as_deref() {
        Some("imbalanced") => (Role::Imbalanced, cfg.balance.imbalanced_steps),
        Some("sym") => (Role::Sym, cfg.sym.steps),
        Some("fact") => (Role::Fact, cfg.fact.steps),
        Some("asym") => (Role::Asym, cfg.asym.max_steps),
        Some("asym_pop") => (Role::AsymPop, cfg.asym.max_steps),
        _ => (Role::Balanced, cfg.balance.steps),
    };
    let ks = env("KS").map(list).unwrap_or_else(|| vec![4]);
    let alphas: Vec<f64> = env("ALPHAS")
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![0.1]);
    let steps: u64 = env("STEPS").and_then(|s| s.parse().ok()).unwrap_or(budget);
    let lines: Vec<String> = seeds
        .par_iter()
        .flat_map_iter(|&seed| {
            let seed = Seed(seed);
            let inst = [runs::build_instance(&cfg, seed, 0)];
            let cfg = &cfg;
            let cells: Vec<runs::Cell> = ks
                .iter()
                .flat_map(|&k| alphas.iter().map(move |&alpha| runs::Cell { role, rep: 0, k: k as usize, alpha, steps }))
                .collect();
            cells.into_iter().map(move |c| {
                let run = runs::summarise(cfg, seed, &c, &runs::run_cell(cfg, seed, &inst, &c).unwrap());
                serde_json::json!({"seed": seed.0, "k": c.k, "alpha": c.alpha, "steps": run.steps, "final": F(run.final_error),
                    "slope": F(run.slope), "rate": F(run.rate), "fact_dev": F(run.fact_dev)})
                .to_string()
            })
        })
        .collect();
    for l in lines {
        println!("{l}");
    }
}

#[test]
#[ignore]
fn tmp_quick_timing() {
    let new = Config::quick();
    let mut old = Config::quick();
    old.asym.max_steps = 150_000;
    old.balance.imbalanced_steps = 20_000;
    for round in 0..3 {
        for (name, cfg) in [("old", &old), ("new", &new)] {
            let t = std::time::Instant::now();
            let r = MatrixSensingOverparam.measure(cfg, &Ctx::for_test(20240601, Profile::Quick)).unwrap();
            let out = MatrixSensingOverparam.report(cfg, &r).unwrap();
            let v: Vec<f64> = out.claims.iter().map(|c| c.measured).collect();
            println!("round {round} {name}: {:.2} s {v:?}", t.elapsed().as_secs_f64());
        }
    }
}
