use super::*;
use common::Profile;

fn tiny() -> Config {
    Config {
        p: 23,
        hidden: 32,
        epochs: 300,
        reps: 1,
        fd_vectors: 20,
        sc_epochs: 200,
        sc_p: 11,
        sc_hidden: 16,
        ..Config::quick()
    }
}

#[test]
fn quick_and_full_validate() {
    Config::quick().validate().unwrap();
    Config::full().validate().unwrap();
    assert!(Config { dtype: "f16".into(), ..Config::quick() }.validate().is_err());
}

#[test]
fn q1_margins_and_the_from_max_bug() {
    let cf = closed_form_margins(113);
    let m32 = zero_loss_margin::<f32>(113, false);
    let m64 = zero_loss_margin::<f64>(113, false);
    assert!((m32 - cf[1]).abs() <= 0.01 && (m64 - cf[2]).abs() <= 0.01, "{m32} {m64}");
    // Planted bug: summing from the max fails Q1's bound by ln 112.
    let bad = zero_loss_margin::<f32>(113, true);
    assert!((bad - cf[1]).abs() > 4.0, "{bad}");
}

#[test]
fn q3c_fails_for_the_global_projection() {
    // Planted bug: ⊥Grad of the flattened gradient is orthogonal to θ only globally.
    let cfg = Config { epochs: 300, ..tiny() };
    let s = RunSpec { epochs: 20, checkpoints: vec![20], ..spec(&cfg, Ortho::Global) };
    let bad = run::<f32>(&s, common::Seed(1));
    assert!(bad.ortho_max_cos > 1e-3, "{}", bad.ortho_max_cos);
    let good = run::<f32>(&RunSpec { ortho: Ortho::PerTensor, ..s }, common::Seed(1));
    assert!(good.ortho_max_cos + good.ortho_max_norm_err < 1e-6, "{good:?}");
}

#[test]
fn tiny_run_reports_and_planted_results_fail() {
    let cfg = tiny();
    let study = GrokkingStablemax;
    let r = study.measure(&cfg, &Ctx::for_test(3, Profile::Quick)).unwrap();
    let out = study.report(&cfg, &r).unwrap();
    assert_eq!(out.claims.len(), CLAIMS.len());
    for f in &out.figures {
        let problems = common::report::plot::lint_rendered(f);
        assert!(problems.is_empty(), "{problems:?}");
    }
    // Planted: a baseline that generalized (e.g. weight decay left on) fails Q2b; a ⊥Grad arm that
    // stayed at chance fails Q2a; a gradient anti-aligned with θ fails Q3a.
    let mut bad = r.clone();
    for run in &mut bad.runs {
        for p in &mut run.record.points {
            p.test_acc = if run.orthograd { 0.01 } else { 0.9 };
            p.cos_neg_grad = -0.2;
        }
    }
    // A loss computed in f64 for both formats collapses in neither: Q5 fails.
    for s in &mut bad.sc_runs {
        s.record.max_softmax_collapse = 0.9;
    }
    let out = study.report(&cfg, &bad).unwrap();
    for id in ["Q2a", "Q2b", "Q3a", "Q5"] {
        let c = out.claims.iter().find(|c| c.id == id).unwrap();
        assert!(!c.passed, "{id} should fail");
    }
}

/// Calibration (run by hand): the quick profile's claims at many root seeds.
/// `CAL_SEEDS=20 CAL_START=1000 cargo test --release -p grokking_stablemax -- --ignored calibrate --nocapture`
#[test]
#[ignore = "calibration over many seeds (minutes)"]
fn calibrate() {
    common::study::conformance::calibrate(&GrokkingStablemax);
}

/// Trace one quick run per arm (by hand): `TRACE_SEED=0 cargo test --release -p grokking_stablemax -- --ignored trace --nocapture`
#[test]
#[ignore = "by hand"]
fn trace() {
    let seed: u64 = std::env::var("TRACE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let cfg = Config::quick();
    for o in [Ortho::None, Ortho::PerTensor] {
        let t = std::time::Instant::now();
        let rec = run::<f32>(&spec(&cfg, o), common::Seed(seed));
        let s: Vec<String> = rec
            .points
            .iter()
            .filter(|p| [50, 100, 150, 200, 300].contains(&p.epoch) || p.epoch % 50 == 0)
            .map(|p| format!("{}:{:.3}/{:.3}/{:.2}", p.epoch, p.train_acc, p.test_acc, p.cos_neg_grad))
            .collect();
        eprintln!("{o:?} ({:.1}s): {}", t.elapsed().as_secs_f64(), s.join(" "));
    }
}

/// Q5 calibration (by hand): the SC-onset runs alone at `CAL_SEEDS` root seeds from `CAL_START`.
#[test]
#[ignore = "calibration (minutes)"]
fn calibrate_sc() {
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d);
    let cfg = Config { reps: 1, epochs: 300, p: 5, hidden: 4, ..Config::quick() };
    for seed in env("CAL_START", 2000)..env("CAL_START", 2000) + env("CAL_SEEDS", 10) {
        let r = GrokkingStablemax.measure(&cfg, &Ctx::for_test(seed, Profile::Quick)).unwrap();
        let v: Vec<String> = r
            .sc_runs
            .iter()
            .map(|s| format!("{} max {} onset {}", s.dtype, s.record.max_softmax_collapse, s.record.sc_onset))
            .collect();
        eprintln!("seed {seed}: {}", v.join("; "));
    }
}
