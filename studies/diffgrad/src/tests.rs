use super::*;
use common::Profile;
use common::optim::Transform;

/// A config whose E2 runs in well under a second (claims on E2 not expected to hold).
fn tiny() -> Config {
    Config { hidden: 8, epochs: 2, lrs: vec![1e-3], reps: 1, bug_steps: 3, ..Config::quick() }
}

/// `reference/notebook.py` (a NumPy port of diffGrad_analytical.ipynb), final x[299] printed with
/// 17 significant digits: (function, solver, lr, final x).
#[allow(clippy::excessive_precision)] // NumPy's 17-digit round-trip output, kept verbatim
const NOTEBOOK: &[(Func, Solver, f64, f64)] = &[
    (Func::F1, Solver::Adam, 0.02, -0.30031904391292769),
    (Func::F1, Solver::Adam, 0.05, -0.30029981515411114),
    (Func::F1, Solver::Adam, 0.1, 0.20011493225103105),
    (Func::F1, Solver::Adam, 0.2, -0.30020231455975577),
    (Func::F1, Solver::Diffgrad, 0.02, -0.29954831174209662),
    (Func::F1, Solver::Diffgrad, 0.05, -0.30002396326217418),
    (Func::F1, Solver::Diffgrad, 0.1, -0.30007116628983616),
    (Func::F1, Solver::Diffgrad, 0.2, 0.19984534569157258),
    (Func::F1, Solver::DiffgradBuggy, 0.02, -0.2995386715958408),
    (Func::F1, Solver::DiffgradBuggy, 0.05, -0.2999674712760983),
    (Func::F1, Solver::DiffgradBuggy, 0.1, -0.30016763163239368),
    (Func::F1, Solver::DiffgradBuggy, 0.2, 0.19993929390329063),
    (Func::F2, Solver::Adam, 0.02, -0.89018182096832288),
    (Func::F2, Solver::Adam, 0.05, -0.83506326342705639),
    (Func::F2, Solver::Adam, 0.1, 0.00017732134125449456),
    (Func::F2, Solver::Adam, 0.2, 0.00013939857187657192),
    (Func::F2, Solver::Diffgrad, 0.02, -0.89167112952935912),
    (Func::F2, Solver::Diffgrad, 0.05, -0.85808948694571907),
    (Func::F2, Solver::Diffgrad, 0.1, -0.8121445901008163),
    (Func::F2, Solver::Diffgrad, 0.2, -0.73114512847245416),
    (Func::F2, Solver::DiffgradBuggy, 0.02, -0.90079999409328071),
    (Func::F2, Solver::DiffgradBuggy, 0.05, -0.87114049255442005),
    (Func::F2, Solver::DiffgradBuggy, 0.1, -0.84905273947043636),
    (Func::F2, Solver::DiffgradBuggy, 0.2, -0.76311848023460349),
    (Func::F3, Solver::Adam, 0.02, 0.00052152324410126912),
    (Func::F3, Solver::Adam, 0.05, 0.0021333183248317452),
    (Func::F3, Solver::Adam, 0.1, 0.0005101422893637568),
    (Func::F3, Solver::Adam, 0.2, 0.015076261893444926),
    (Func::F3, Solver::Diffgrad, 0.02, -0.50789129878226469),
    (Func::F3, Solver::Diffgrad, 0.05, 0.011916878776018288),
    (Func::F3, Solver::Diffgrad, 0.1, 0.013565124364105176),
    (Func::F3, Solver::Diffgrad, 0.2, 0.03657685641975135),
    (Func::F3, Solver::DiffgradBuggy, 0.02, -0.4992827996939237),
    (Func::F3, Solver::DiffgradBuggy, 0.05, 2.2956563032042621e-05),
    (Func::F3, Solver::DiffgradBuggy, 0.1, 0.014666989842543533),
    (Func::F3, Solver::DiffgradBuggy, 0.2, -0.0093176438968365759),
];

#[test]
fn notebook_values() {
    let runs = measure_synthetic(&Config::quick());
    assert_eq!(runs.len(), NOTEBOOK.len());
    let mut worst = 0.0f64;
    for &(f, s, lr, want) in NOTEBOOK {
        let got = runs.iter().find(|r| r.func == f && r.solver == s && r.lr == lr).unwrap().final_x;
        worst = worst.max((got - want).abs());
        assert!((got - want).abs() <= 1e-12, "{f:?} {s:?} lr {lr}: {got:e} vs notebook {want:e}");
    }
    eprintln!("largest |Rust − NumPy| over the 36 E1 runs: {worst:e}");
}

#[test]
fn functions_match_their_gradients() {
    for f in synthetic::FUNCS {
        for i in 0..400 {
            let x = -1.2 + 2.4 * (i as f64 + 0.37) / 400.0;
            // skip the kinks of the piecewise definitions
            if [-0.9, -0.5, -0.4, 0.0, 0.4, 0.5].iter().any(|k| (x - k).abs() < 1e-4) {
                continue;
            }
            let h = 1e-6;
            let fd = (f.value(x + h) - f.value(x - h)) / (2.0 * h);
            assert!((fd - f.grad(x)).abs() < 1e-6, "{f:?} at {x}: {fd} vs {}", f.grad(x));
        }
        // continuity at the kinks
        for k in [-0.9, -0.5, -0.4, 0.0, 0.4, 0.5] {
            assert!((f.value(k - 1e-12) - f.value(k + 1e-12)).abs() < 1e-9, "{f:?} jumps at {k}");
        }
        assert!(f.value(f.global_min()) < f.local_mins().iter().map(|&m| f.value(m)).fold(f64::INFINITY, f64::min));
    }
    let r = synthetic::f2_ridge();
    assert!(r > -0.6 && r < -0.2 && Func::F2.grad(r).abs() < 1e-9);
    assert!((Func::F2.value(-0.9) - (-0.706)).abs() < 1e-3);
}

/// The notebook's diffGrad (fixed) is common::optim::diffgrad on a 1-D problem (the same form:
/// eps outside the square root), and the buggy one common::optim::diffgrad_buggy, to rounding.
#[test]
fn notebook_diffgrad_is_the_common_transform() {
    let cfg = Config::quick();
    let s = synthetic::Settings { iters: 60, b1: cfg.e1_b1, b2: cfg.e1_b2, eps: cfg.eps, x0: cfg.x0 };
    for (solver, buggy) in [(Solver::Diffgrad, false), (Solver::DiffgradBuggy, true)] {
        let xs = synthetic::solve(Func::F1, solver, 0.1, &s);
        let mut x = ndarray::array![cfg.x0];
        if buggy {
            let t = common::optim::diffgrad_buggy(0.1, s.b1, s.b2, s.eps);
            let mut st = t.init(x.view());
            for (k, &want) in xs.iter().enumerate().skip(1) {
                let g = ndarray::array![Func::F1.grad(x[0])];
                x += &t.update(g.view(), &mut st, x.view(), k - 1);
                assert!((x[0] - want).abs() < 1e-12, "buggy step {k}: {} vs {want}", x[0]);
            }
        } else {
            let t = common::optim::diffgrad(0.1, s.b1, s.b2, s.eps);
            let mut st = t.init(x.view());
            for (k, &want) in xs.iter().enumerate().skip(1) {
                let g = ndarray::array![Func::F1.grad(x[0])];
                x += &t.update(g.view(), &mut st, x.view(), k - 1);
                assert!((x[0] - want).abs() < 1e-12, "step {k}: {} vs {want}", x[0]);
            }
        }
    }
}

fn quick_synthetic_results(cfg: &Config) -> Results {
    let ctx = Ctx::for_test(1, Profile::Quick);
    let tcfg = tiny();
    let r = Diffgrad.measure(&tcfg, &ctx).unwrap();
    Results { synthetic: measure_synthetic(cfg), ..r }
}

/// Results where every gated claim holds: the real E1 and G4, a faked E2 table.
fn fake(cfg: &Config) -> Results {
    let mut r = quick_synthetic_results(cfg);
    let ctx = Ctx::for_test(1, Profile::Quick);
    let sweep = Sweep::new("digits").axis("opt", &cfg.optimizers).axis("lr", &cfg.lrs).reps(cfg.reps);
    r.digits = ctx
        .sweep(&sweep, |c, _| {
            let acc = if c.f64("lr") == 1e-3 { 0.96 } else { 0.94 } + 0.001 * c.rep() as f64;
            Ok(digits::Run { test_acc: acc, final_loss: 0.05, loss_curve: vec![2.3, 0.3, 0.05], diverged: false })
        })
        .unwrap();
    r
}

fn verdict(cfg: &Config, r: &Results, id: &str) -> (bool, String) {
    let out = Diffgrad.report(cfg, r).unwrap();
    let c = out.claims.iter().find(|c| c.id == id).unwrap();
    (c.passed, format!("{id} = {} ({})", c.measured, c.detail.clone().unwrap_or_default()))
}

#[test]
fn fake_results_pass_every_gated_claim() {
    let cfg = Config::quick();
    let out = Diffgrad.report(&cfg, &fake(&cfg)).unwrap();
    let ids: Vec<&str> = out.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, CLAIMS.iter().map(|c| c.id).collect::<Vec<_>>());
    for c in out.claims.iter().filter(|c| c.gated) {
        assert!(c.passed, "{} = {} ({:?})", c.id, c.measured, c.detail);
    }
}

/// Planted bug: the friction coefficient dropped from the update (ξ ≡ 1, an Adam with eps outside
/// the root). The synthetic runs are redone with it; diffGrad no longer escapes on F1 (G1b fails).
/// (A sign error inside the sigmoid, ξ' = 1 − ξ ≤ ½, would still escape: any shorter step does, G3.)
#[test]
fn planted_missing_xi_fails_g1b() {
    let cfg = Config::quick();
    let mut r = fake(&cfg);
    let s = synthetic::Settings { iters: cfg.iters, b1: cfg.e1_b1, b2: cfg.e1_b2, eps: cfg.eps, x0: cfg.x0 };
    for run in r.synthetic.iter_mut().filter(|x| x.solver == Solver::Diffgrad) {
        let (mut m, mut v) = (0.0f64, 0.0f64);
        let mut x = s.x0;
        for i in 1..s.iters {
            let g = run.func.grad(x);
            m = s.b1 * m + (1.0 - s.b1) * g;
            v = s.b2 * v + (1.0 - s.b2) * g * g;
            let ma = m / (1.0 - s.b1.powf(i as f64));
            let va = v / (1.0 - s.b2.powf(i as f64));
            x -= run.lr * ma / (va.sqrt() + s.eps); // the bug: no ξ
        }
        run.final_x = x;
    }
    let (ok, d) = verdict(&cfg, &r, "G1b");
    assert!(!ok, "{d}");
    let (ok, d) = verdict(&cfg, &r, "G2b");
    assert!(!ok, "{d}");
}

/// Planted bug: the buggy transform copies the previous gradient (the fixed code passes as the
/// buggy one), or forgets the halving; G4 from a recorded state fails for both.
#[test]
fn planted_wrong_buggy_transform_fails_g4() {
    let cfg = tiny();
    let data = digits::split(cfg.test_frac, common::Seed(2)).unwrap();
    // correct: passes
    let good = common::optim::diffgrad_buggy(cfg.bug_lr, cfg.b1, cfg.b2, cfg.eps);
    let b = digits::bug_check(&cfg, &data, &good, cfg.bug_lr, common::Seed(3));
    assert!(b.max_rel_gap <= 1e-15 && b.gap_to_fixed > 1e-8, "{b:?}");
    // wrong: Adam at the full lr (the alias read as ξ = 1)
    let no_half = common::optim::adam(cfg.bug_lr, cfg.b1, cfg.b2, cfg.eps);
    let b = digits::bug_check(&cfg, &data, &no_half, cfg.bug_lr, common::Seed(3));
    let mut r = fake(&Config::quick());
    r.bug = b;
    let (ok, d) = verdict(&Config::quick(), &r, "G4");
    assert!(!ok, "{d}");
}

/// Planted bug: a diffGrad whose ξ halves the step once more (ξ ∈ (0, ½]) trains several points
/// lower at the same epochs: G5 fails (numbers as the quick profile's E2 shows them for Adam at a
/// quarter of its best lr).
#[test]
fn planted_slow_diffgrad_fails_g5() {
    let cfg = Config::quick();
    let mut r = fake(&cfg);
    for (c, run) in r.digits.cells.iter().zip(r.digits.results.iter_mut()) {
        if c.is("opt", Opt::Diffgrad) {
            run.test_acc -= 0.03;
        }
    }
    let (ok, d) = verdict(&cfg, &r, "G5");
    assert!(!ok, "{d}");
}

#[test]
fn tiny_run_is_consistent_and_deterministic() {
    let cfg = tiny();
    let ctx = Ctx::for_test(7, Profile::Quick);
    let r = Diffgrad.measure(&cfg, &ctx).unwrap();
    assert_eq!(r.digits.iter().count(), cfg.optimizers.len() * cfg.lrs.len() * cfg.reps);
    for (c, run) in r.digits.iter() {
        let per_epoch = c.is("opt", Opt::DiffgradBuggy) || c.is("opt", Opt::AdamHalf);
        assert_eq!(run.loss_curve.len(), if per_epoch { cfg.epochs + 1 } else { 2 });
        assert!(run.test_acc > 0.0 && run.test_acc <= 1.0);
    }
    assert!(r.bug.max_rel_gap <= 1e-15, "{:?}", r.bug);
    let r2 = Diffgrad.measure(&cfg, &ctx).unwrap();
    assert_eq!(serde_json::to_string(&r).unwrap(), serde_json::to_string(&r2).unwrap());
    Diffgrad.report(&cfg, &r).unwrap();
}

#[test]
fn split_is_80_20_and_balanced_enough() {
    let d = digits::split(0.2, common::Seed(1)).unwrap();
    assert_eq!(d.x_train.nrows() + d.x_test.nrows(), 1797);
    assert_eq!(d.x_test.nrows(), 359);
    assert!(d.x_train.iter().all(|&v| (0.0..=1.0).contains(&v)));
}

#[test]
fn bad_configs_are_refused() {
    let ok = Config::quick();
    assert!(ok.validate().is_ok());
    assert!(Config::full().validate().is_ok());
    let bad = [
        Config { lr_sweep: vec![0.02, 0.2], ..ok.clone() },
        Config { control_lr: 0.07, ..ok.clone() },
        Config { optimizers: vec![Opt::Adam, Opt::Diffgrad], ..ok.clone() },
        Config {
            optimizers: vec![Opt::Adam, Opt::Diffgrad, Opt::DiffgradBuggy, Opt::AdamHalf, Opt::Adam],
            ..ok.clone()
        },
        Config { lrs: vec![1e-3, 3e-4], ..ok.clone() },
        Config { bug_steps: 0, ..ok.clone() },
        Config { e1_b1: 1.0, ..ok.clone() },
        Config { batch: 0, ..ok.clone() },
        Config { test_frac: 0.9, ..ok.clone() },
        Config { eps: f64::NAN, ..ok.clone() },
    ];
    for c in bad {
        assert!(c.validate().is_err(), "{c:?}");
    }
}

/// Calibration (run by hand): the quick profile's claims at many root seeds, without figures.
/// `CAL_SEEDS=20 CAL_START=100000 cargo test --release -p diffgrad -- --ignored calibrate --nocapture`
#[test]
#[ignore = "calibration over many seeds (minutes)"]
fn calibrate() {
    let runs = common::study::conformance::calibrate(&Diffgrad);
    for (seed, _, out) in &runs {
        for c in out.claims.iter().filter(|c| ["G4", "G4e", "G5"].contains(&c.id.as_str())) {
            eprintln!("seed {seed} {}: {}", c.id, c.detail.clone().unwrap_or_default());
        }
    }
}

#[test]
fn figures_pass_the_lint_on_a_tiny_run() {
    let cfg = tiny();
    let r = Diffgrad.measure(&cfg, &Ctx::for_test(3, Profile::Quick)).unwrap();
    let out = Diffgrad.report(&cfg, &r).unwrap();
    assert_eq!(out.figures.len(), 8);
    for f in &out.figures {
        let problems = common::report::plot::lint_rendered(f);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
