use super::*;
use common::Profile;
use std::sync::OnceLock;

/// A small config: three HS problems, two seeds, the five quick variants (≈ 0.1 s).
fn tiny() -> Config {
    Config { problems: vec!["HS7".into(), "HS40".into(), "HS77".into()], seeds: 2, ..Config::quick() }
}

fn tiny_results() -> &'static Results {
    static R: OnceLock<Results> = OnceLock::new();
    R.get_or_init(|| {
        let ctx = Ctx::for_test(7, Profile::Quick);
        EalSketching.measure(&tiny(), &ctx).expect("measure")
    })
}

fn claim(r: &Results, id: &str) -> common::Claim {
    let out = EalSketching.report(&tiny(), r).expect("report");
    out.claims.into_iter().find(|c| c.id == id).expect("claim")
}

fn edit(f: impl Fn(&str, &str, &mut Run)) -> Results {
    let mut r = tiny_results().clone();
    for (c, run) in r.runs.cells.iter().zip(r.runs.results.iter_mut()) {
        f(c.str("problem"), c.str("variant"), run);
    }
    r
}

#[test]
fn profiles_validate_and_bad_values_are_refused() {
    Config::quick().validate().unwrap();
    Config::full().validate().unwrap();
    let bad = [
        Config { sampling: "foo".into(), ..Config::quick() },
        Config { beta: 0.6, ..Config::quick() },
        Config { nu: 1.0, ..Config::quick() },
        Config { problems: vec!["HS999".into()], ..Config::quick() },
        Config { problems: vec!["HS7".into(), "HS7".into()], ..Config::quick() },
        Config { variants: vec!["rk".into(), "exact".into()], ..Config::quick() },
        Config { tight_tol: 1e-3, ..Config::quick() },
        Config { seeds: 0, ..Config::quick() },
        Config { loose_c: 1.0, ..Config::quick() },
        Config { max_sketch: 0, ..Config::quick() },
    ];
    for (i, c) in bad.iter().enumerate() {
        assert!(c.validate().is_err(), "bad config {i} accepted");
    }
}

#[test]
fn the_tiny_run_passes_its_gated_claims() {
    let out = EalSketching.report(&tiny(), tiny_results()).unwrap();
    for c in &out.claims {
        if c.gated && c.id != "A4b" && c.id != "A2" {
            assert!(c.passed, "{} failed: {} ({:?})", c.id, c.measured, c.detail);
        }
    }
}

#[test]
fn a_wrong_f_star_or_a_stalled_run_fails_a1() {
    let r = edit(|p, v, run| {
        if p == "HS77" && v == "rk" {
            run.f.iter_mut().for_each(|f| *f += 1e-3);
        }
    });
    assert!(!claim(&r, "A1").passed);
    let r = edit(|p, v, run| {
        if p == "HS40" && v == "rk" {
            run.kkt.iter_mut().for_each(|k| *k = k.max(1e-3));
        }
    });
    assert!(!claim(&r, "A1").passed);
}

#[test]
fn backtracking_at_the_end_fails_a2() {
    let r = edit(|p, v, run| {
        if p != "HS7" && v == "rk" {
            let n = run.alpha.len();
            run.alpha[n - 1] = 0.5;
        }
    });
    assert!(!claim(&r, "A2").passed);
}

#[test]
fn a_sublinear_tail_fails_a3() {
    let r = edit(|p, v, run| {
        if p == "HS77" && v == "rk-loose" {
            let n = run.kkt.len();
            for k in n - 6..n {
                run.kkt[k] = run.kkt[n - 7] * 0.95f64.powi((k - (n - 7)) as i32);
            }
        }
    });
    assert!(!claim(&r, "A3").passed);
}

#[test]
fn theta_one_in_place_of_theta_k_fails_a4_and_a4b() {
    let base = tiny_results().clone();
    let mut r = base.clone();
    for (c, run) in r.runs.cells.iter().zip(r.runs.results.iter_mut()) {
        if c.str("variant") == "rk-loose-theta" {
            let twin = base
                .runs
                .iter()
                .find(|(d, _)| {
                    d.str("variant") == "rk-loose" && d.str("problem") == c.str("problem") && d.rep() == c.rep()
                })
                .unwrap();
            *run = twin.1.clone();
        }
    }
    assert!(!claim(&r, "A4").passed, "{:?}", claim(&r, "A4"));
    assert!(!claim(&r, "A4b").passed);
}

#[test]
fn a_forced_direction_fails_a5() {
    let r = edit(|p, v, run| {
        if p == "HS40" && v == "rk" {
            run.forced = 1;
            run.eta1 = 2e8;
        }
    });
    assert!(!claim(&r, "A5").passed);
}

/// The planted merit-gradient bug (η₂ term dropped) on the real method: the directional derivative
/// used in the descent and Armijo tests is wrong; prints what it does on every HS problem.
#[test]
fn dropping_the_eta2_term_changes_the_method() {
    let mut changed = vec![];
    for name in problems::HS_NAMES {
        let p = problems::Problem::new(name, common::Seed(0)).unwrap();
        let good = Config::quick().params("rk");
        let bad = eal::Params { merit_hessian: eal::MeritHessian::DropEta2, ..good };
        let a = eal::run(&p, &good, &mut common::Seed(1).rng());
        let b = eal::run(&p, &bad, &mut common::Seed(1).rng());
        if a.kkt.len() != b.kkt.len() || a.penalty_updates != b.penalty_updates {
            changed.push(format!(
                "{name}: {} → {} iters, {} → {} penalty updates, {:?}",
                a.kkt.len() - 1,
                b.kkt.len() - 1,
                a.penalty_updates,
                b.penalty_updates,
                b.status
            ));
        }
    }
    eprintln!("{changed:#?}");
    assert!(!changed.is_empty());
}

#[test]
fn geo_last_is_the_geometric_mean_of_the_last_ratios() {
    let kkt = [1.0, 0.5, 0.125, 0.0125];
    let g = report_parts::geo_last(&kkt, 3, 2);
    assert!((g - (0.25f64 * 0.1).sqrt()).abs() < 1e-12);
    assert!(report_parts::geo_last(&kkt, 0, 2).is_nan());
    assert_eq!(report_parts::first_below(&kkt, 0.2), Some(2));
}

#[test]
fn same_seed_same_results() {
    let ctx = Ctx::for_test(7, Profile::Quick);
    let a = EalSketching.measure(&tiny(), &ctx).unwrap();
    let b = tiny_results();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

/// Calibration helper: every quick (problem, variant) at many seeds; prints slow or failed runs.
#[test]
#[ignore]
fn scan_runs() {
    let cfg = Config::quick();
    let n: u64 = std::env::var("SCAN_SEEDS").map(|v| v.parse().unwrap()).unwrap_or(10);
    for p in &cfg.problems {
        for v in &cfg.variants {
            for s in 0..n {
                let t0 = std::time::Instant::now();
                let r = run_one(&cfg, p, v, common::Seed(s).child("logistic"), common::Seed(1000 + s)).unwrap();
                let dt = t0.elapsed().as_secs_f64();
                let k = r.kkt.len() - 1;
                let g2 = report_parts::geo_last(&r.kkt, k, 2);
                if dt > 0.1 || r.status != "Converged" || (v == "rk-loose-theta" && g2 > 0.1) {
                    println!(
                        "{p} {v} s{s}: mod_tail {:?} {} iters {k} kkt {:.1e} g2 {g2:.3} t {dt:.2}s forced {} eta1 {:.1e} alpha_tail {:?}",
                        &r.modified_at[k.saturating_sub(3)..],
                        r.status,
                        r.kkt[k],
                        r.forced,
                        r.eta1,
                        &r.alpha[k.saturating_sub(4)..]
                    );
                }
            }
        }
    }
}

/// Calibration: the quick profile's claims at the seeds in REPRO_SEEDS (measure + report, no files).
#[test]
#[ignore]
fn print_quick_claims() {
    let seeds: Vec<u64> = std::env::var("REPRO_SEEDS")
        .unwrap_or("20240601".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let cfg = Config::quick();
    let mut fails = std::collections::BTreeMap::<String, usize>::new();
    for s in &seeds {
        let t0 = std::time::Instant::now();
        let ctx = Ctx::for_test(*s, Profile::Quick);
        let r = EalSketching.measure(&cfg, &ctx).unwrap();
        let out = EalSketching.report(&cfg, &r).unwrap();
        let line: Vec<String> = out.claims.iter().map(|c| format!("{}={:.4}", c.id, c.measured)).collect();
        eprintln!("seed {s} ({:.1}s) {}", t0.elapsed().as_secs_f64(), line.join(" "));
        for c in &out.claims {
            if !c.passed {
                *fails.entry(c.id.clone()).or_default() += 1;
            }
            if seeds.len() == 1 || !c.passed {
                eprintln!(
                    "  {} {} {} :: {}",
                    c.id,
                    if c.passed { "ok" } else { "FAIL" },
                    c.measured,
                    c.detail.clone().unwrap_or_default()
                );
            }
        }
    }
    eprintln!("failures over {} seeds: {fails:?}", seeds.len());
}

#[test]
fn figures_pass_the_lint() {
    let out = EalSketching.report(&tiny(), tiny_results()).unwrap();
    assert!(!out.figures.is_empty());
    for f in &out.figures {
        let problems = common::report::plot::lint(f);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
