//! Calibration over many root seeds (`#[ignore]`d; run by hand, see the README's calibration
//! section). Each test runs one part of the quick profile at the root seeds of `CALIB_SEEDS`
//! (`a..b`, default `100..110`) through the same grid as `measure` (so the numbers are those a
//! quick run at that root seed reports) and writes one JSON line per seed to `CALIB_OUT`
//! (default `/tmp/sgd-stability-trace-calib-<part>.jsonl`).
use crate::*;
use common::Profile;
use common::Seed;
use std::io::Write;

fn seeds() -> Vec<u64> {
    let s = std::env::var("CALIB_SEEDS").unwrap_or_else(|_| "100..110".into());
    let (a, b) = s.split_once("..").expect("CALIB_SEEDS = a..b");
    (a.parse().unwrap()..b.parse().unwrap()).collect()
}

fn out(part: &str) -> std::fs::File {
    let path = std::env::var("CALIB_OUT").unwrap_or_else(|_| format!("/tmp/sgd-stability-trace-calib-{part}.jsonl"));
    std::fs::OpenOptions::new().create(true).append(true).open(path).expect("CALIB_OUT")
}

/// Experiment 3 (the training sweep) per root seed.
#[test]
#[ignore = "calibration: the training sweep at many root seeds"]
fn calibrate_training() {
    let cfg = Config::quick();
    let mut f = out("training");
    for seed in seeds() {
        let ctx = Ctx::for_test(seed, Profile::Quick);
        let runs = ctx
            .grid("training", &training::sweep_cells(&cfg), |c, s| training::train(&cfg, c, ctx.seed, s))
            .expect("training");
        writeln!(f, "{}", serde_json::json!({ "seed": seed, "runs": runs })).unwrap();
        f.flush().unwrap();
    }
}

/// Exploration: the measured second moment of linearized SGD against the map's prediction, for
/// a few factors and horizons, with the right and the planted sampler.
#[test]
#[ignore = "exploration"]
fn explore_moments() {
    use stability::BatchRule;
    let cfg = Config::quick();
    let t = &cfg.thresholds;
    let runs: usize = std::env::var("RUNS").map(|s| s.parse().unwrap()).unwrap_or(4000);
    for seed in seeds() {
        for spec in minima::instance_specs(t) {
            let cv = minima::instance_curvature(t, &spec, Seed(seed)).unwrap();
            let rule = BatchRule::with_replacement(1);
            let ems = cv.eta_ms(rule, 100, &mut Seed(1).rng());
            for f in [0.8, 1.0, 1.25] {
                for steps in [25, 50, 100, 200] {
                    let eta = f * ems;
                    let now = std::time::Instant::now();
                    let pred = cv.moment_predicted(eta, rule, steps);
                    let tp = now.elapsed().as_secs_f64();
                    let now = std::time::Instant::now();
                    let (m, se) =
                        cv.moment_measured(eta, steps, runs, &mut stability::sampler(cv.n, 1), &mut Seed(2).rng());
                    let tm = now.elapsed().as_secs_f64();
                    let (mb, _) =
                        cv.moment_measured(eta, steps, runs, &mut crate::planted::FirstB(vec![0]), &mut Seed(2).rng());
                    println!(
                        "{seed} {} f={f} t={steps}: pred {pred:.4} mc {m:.4} ± {se:.4} ratio {:.4} (z {:.2}) firstB {mb:.4} ratio {:.3}  [{tp:.3}s {tm:.3}s]",
                        spec.name(),
                        m / pred,
                        (m - pred) / se,
                        mb / pred
                    );
                }
            }
        }
    }
}

/// The quick profile's claims at the root seeds of `CALIB_SEEDS` (one JSON line per seed, with
/// the wall time of `measure`).
#[test]
#[ignore = "calibration: the whole quick profile at many root seeds"]
fn calibrate_quick() {
    let cfg = Config::quick();
    let mut f = out("quick");
    for seed in seeds() {
        let now = std::time::Instant::now();
        let r = SgdStabilityTrace.measure(&cfg, &Ctx::for_test(seed, Profile::Quick)).unwrap();
        let secs = now.elapsed().as_secs_f64();
        let claims = SgdStabilityTrace.report(&cfg, &r).unwrap().claims;
        let c: Vec<_> = claims
            .iter()
            .map(|c| serde_json::json!({"id": c.id, "measured": c.measured, "passed": c.passed, "gated": c.gated, "detail": c.detail}))
            .collect();
        writeln!(f, "{}", serde_json::json!({ "seed": seed, "secs": secs, "claims": c })).unwrap();
        f.flush().unwrap();
        for c in &claims {
            println!(
                "{seed} {} {} {} {}",
                c.id,
                c.measured,
                if c.passed { "pass" } else { "FAIL" },
                if c.gated { "gated" } else { "" }
            );
        }
        println!("{seed} measure {secs:.2}s");
    }
}

/// Experiment 1 and the second-moment check of experiment 2 per root seed (the same grid cells and
/// seeds as `measure`; the long linearized runs are skipped).
#[test]
#[ignore = "calibration: thresholds, spectrum check and second moments at many root seeds"]
fn calibrate_minima() {
    let cfg = Config::quick();
    let (t, dy) = (&cfg.thresholds, &cfg.dynamics);
    let low = dy.factors.iter().copied().fold(f64::INFINITY, f64::min);
    let mut f = out("minima");
    for seed in seeds() {
        let ctx = Ctx::for_test(seed, Profile::Quick);
        let rows = ctx
            .grid("thresholds", &minima::instance_specs(t), |spec, s| {
                minima::threshold_row(t, spec, cfg.lanczos_steps, ctx.seed, s)
            })
            .unwrap();
        let cells: Vec<minima::DynCell> = rows
            .iter()
            .map(|r| minima::DynCell { spec: r.spec.clone(), eta_ms: r.eta_at(dy.batch).unwrap(), factor: low })
            .collect();
        let moments = ctx
            .grid("dynamics", &cells, |c, s| {
                let cv = minima::instance_curvature(t, &c.spec, ctx.seed)?;
                let mut b = stability::sampler(cv.n, dy.batch);
                Ok(minima::moment(&cv, dy, c.factor * c.eta_ms, &mut b, s.child("moment")))
            })
            .unwrap();
        let lines: Vec<_> = rows
            .iter()
            .zip(&moments)
            .map(|(r, m)| {
                serde_json::json!({"name": r.spec.name(), "check": r.spectrum_check(), "ratio0": r.ratio(0),
                    "moment_ratio": m.ratio(), "moment_se": m.se / m.predicted, "predicted": m.predicted})
            })
            .collect();
        writeln!(f, "{}", serde_json::json!({ "seed": seed, "rows": lines })).unwrap();
        f.flush().unwrap();
    }
}

/// CPU time of the pieces this review added, per quick-profile minimum (single thread).
#[test]
#[ignore = "timing"]
fn time_additions() {
    let cfg = Config::quick();
    let (t, dy) = (&cfg.thresholds, &cfg.dynamics);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| {
        let (mut spec_s, mut mom_s, mut row_s, mut dyn_s) = (0.0, 0.0, 0.0, 0.0);
        for spec in minima::instance_specs(t) {
            let now = std::time::Instant::now();
            let row = minima::threshold_row(t, &spec, cfg.lanczos_steps, Seed(1), Seed(2)).unwrap();
            row_s += now.elapsed().as_secs_f64();
            let inst = minima::instance(t, &spec, Seed(1)).unwrap();
            let now = std::time::Instant::now();
            let _ = inst.spectrum();
            spec_s += now.elapsed().as_secs_f64();
            let cv = inst.curvature();
            let now = std::time::Instant::now();
            let _ = minima::moment(&cv, dy, 0.8 * row.eta_ms[0], &mut stability::sampler(cv.n, 1), Seed(3));
            mom_s += now.elapsed().as_secs_f64();
            let now = std::time::Instant::now();
            let _ = cv.linearized_sgd(0.8 * row.eta_ms[0], 1, dy.steps, dy.every, &mut Seed(4).rng());
            dyn_s += now.elapsed().as_secs_f64() * dy.seeds as f64 * dy.factors.len() as f64;
        }
        let now = std::time::Instant::now();
        SgdStabilityTrace.measure(&cfg, &Ctx::for_test(20240601, Profile::Quick)).unwrap();
        let all = now.elapsed().as_secs_f64();
        println!(
            "threshold rows {row_s:.3}s (of which spectrum {spec_s:.3}s); moments {mom_s:.3}s; dynamics runs ≈ \
             {dyn_s:.3}s; the whole quick measure on one thread {all:.3}s"
        );
    });
}
