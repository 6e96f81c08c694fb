use super::*;
use common::Profile;
use std::sync::OnceLock;

/// The quick profile at many root seeds: one line of claim values per seed.
#[test]
#[ignore = "calibration: the quick profile at many root seeds (minutes)"]
fn calibrate_claims_over_root_seeds() {
    let range = std::env::var("CAL_ROOTS").unwrap_or_else(|_| "1000..1020".into());
    let (a, b) = range.split_once("..").expect("CAL_ROOTS=a..b");
    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
    let cfg = Config::quick();
    for root in a..b {
        let r = GbnnSequentialBoosting.measure(&cfg, &Ctx::for_test(root, Profile::Quick)).unwrap();
        let out = GbnnSequentialBoosting.report(&cfg, &r).unwrap();
        let mut line = format!("root={root}");
        for c in &out.claims {
            line += &format!(" {}={:.4e}", c.id, c.measured);
        }
        println!("{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Kernels: gradients, residuals, Newton steps, assembly.

fn toy(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = common::Seed(seed).rng();
    Array2::from_shape_fn((n, d), |_| common::rng::gaussian_vec(&mut rng, 1, 1.0)[0])
}

#[test]
fn net_gradient_matches_finite_differences() {
    let shape = Shape { d: 3, h: 4, k: 3 };
    let x = toy(7, 3, 1);
    let labels = [0.0, 1.0, 2.0, 1.0, 0.0, 2.0, 2.0];
    let w = shape.init(&mut common::Seed(2).rng()) * 3.0;
    for (head, y) in [(Head::Squared, toy(7, 3, 3)), (Head::Softmax, one_hot(&labels, 3))] {
        let (_, g) = net::loss_grad(shape, head, 0.3, w.view(), x.view(), y.view());
        for i in 0..shape.num_params() {
            let e = 1e-6;
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[i] += e;
            wm[i] -= e;
            let fd = (net::loss_grad(shape, head, 0.3, wp.view(), x.view(), y.view()).0
                - net::loss_grad(shape, head, 0.3, wm.view(), x.view(), y.view()).0)
                / (2.0 * e);
            assert!((fd - g[i]).abs() < 1e-7 * (1.0 + fd.abs()), "{head:?} param {i}: fd {fd} vs {}", g[i]);
        }
    }
}

#[test]
fn forward_first_all_units_is_forward_and_zero_units_is_the_bias() {
    let shape = Shape { d: 3, h: 5, k: 2 };
    let net = shape.unpack(shape.init(&mut common::Seed(4).rng()).view());
    let x = toy(6, 3, 5);
    let diff = &net.forward(x.view()) - &net.forward_first(x.view(), 5);
    assert!(diff.iter().all(|v| v.abs() < 1e-15));
    let kept1 = net.forward_first(x.view(), 1);
    let manual =
        net.hidden(x.view()).column(0).to_owned().insert_axis(Axis(1)).dot(&net.w2.column(0).insert_axis(Axis(0)))
            + &net.b2;
    assert!((&kept1 - &manual).iter().all(|v| v.abs() < 1e-14));
}

/// Residuals are the negative gradient of the per-sample loss in F (for squared loss, half of it).
#[test]
fn residuals_are_negative_loss_gradients() {
    let f = toy(5, 3, 6);
    let cases = [
        (Task::Regression, toy(5, 1, 7), 0.5),
        (Task::Binary, Array2::from_shape_fn((5, 1), |(i, _)| if i % 2 == 0 { 1.0 } else { -1.0 }), 1.0),
        (Task::Multiclass, one_hot(&[0.0, 2.0, 1.0, 1.0, 0.0], 3), 1.0),
    ];
    for (task, y, scale) in cases {
        let f = f.slice(ndarray::s![.., ..y.ncols()]).to_owned();
        let r = task.residuals(y.view(), f.view());
        let n = y.nrows() as f64;
        for i in 0..5 {
            for j in 0..y.ncols() {
                let e = 1e-6;
                let (mut fp, mut fm) = (f.clone(), f.clone());
                fp[[i, j]] += e;
                fm[[i, j]] -= e;
                let fd = (task.loss(y.view(), fp.view()) - task.loss(y.view(), fm.view())) / (2.0 * e) * n;
                assert!((-fd * scale - r[[i, j]]).abs() < 1e-7, "{task:?} ({i},{j}): {} vs {}", -fd * scale, r[[i, j]]);
            }
        }
    }
}

/// The binary ρ is one Newton step of the loss along h: −L'(0)/L''(0) by finite differences;
/// the regression line search minimises the loss along h exactly.
#[test]
fn newton_steps_match_the_one_dimensional_newton_step() {
    let y = Array2::from_shape_fn((6, 1), |(i, _)| if i % 3 == 0 { 1.0 } else { -1.0 });
    let f = toy(6, 1, 8) * 0.5;
    let h = toy(6, 1, 9);
    let l = |rho: f64| Task::Binary.loss(y.view(), (&f + &(&h * rho)).view());
    let e = 1e-4;
    let newton = -(l(e) - l(-e)) / (2.0 * e) / ((l(e) - 2.0 * l(0.0) + l(-e)) / (e * e));
    let r = Task::Binary.residuals(y.view(), f.view());
    let rho = Task::Binary.newton_step(y.view(), r.view(), h.view(), false);
    assert!((rho - newton).abs() < 1e-5 * (1.0 + newton.abs()), "{rho} vs {newton}");

    let yr = toy(6, 1, 10);
    let rr = Task::Regression.residuals(yr.view(), f.view());
    let rho = Task::Regression.newton_step(yr.view(), rr.view(), h.view(), true);
    let lr = |p: f64| Task::Regression.loss(yr.view(), (&f + &(&h * p)).view());
    assert!(lr(rho) < lr(rho + 1e-3) && lr(rho) < lr(rho - 1e-3));
    assert_eq!(Task::Regression.newton_step(yr.view(), rr.view(), h.view(), false), 1.0);
}

fn tiny_fit(name: &str, steps: usize) -> (gbnn::Boosted, Array2<f64>) {
    let d = load(name).unwrap();
    let rows: Vec<usize> = (0..120).collect();
    let x = standardize(&d.x, &rows).select(Axis(0), &rows);
    let y: Vec<f64> = rows.iter().map(|&i| d.y[i]).collect();
    let yb = boost_targets(d.task, &y, d.classes, 0.0, 1.0);
    let s = Settings {
        steps,
        units: 2,
        eta: 1.0,
        subsample: 0.5,
        iters: 30,
        rho_max: 10.0,
        alpha: 1e-4,
        line_search: true,
    };
    (gbnn::fit(d.task, x.view(), yb.view(), &s, common::Seed(3)), x)
}

#[test]
fn assembled_network_reproduces_the_boosted_model() {
    for name in ["breast_cancer", "wine", "diabetes"] {
        let (b, x) = tiny_fit(name, 6);
        let net = b.assemble();
        assert_eq!(net.b1.len(), 12);
        let err = gbnn::identity_error(&b, &net, x.view());
        assert!(err < 1e-12, "{name}: {err}");
    }
}

/// Planted assembly bugs: the missing ×2 (binary) and a missing ρ give O(0.1-1) errors.
#[test]
fn planted_assembly_bugs_break_the_identity() {
    let (b, x) = tiny_fit("breast_cancer", 6);
    let no_factor = gbnn::identity_error(&b, &b.assemble_with(1.0, true), x.view());
    assert!(no_factor > 0.1, "missing ×2: {no_factor}");
    let (bw, xw) = tiny_fit("wine", 6);
    let no_rho = gbnn::identity_error(&bw, &bw.assemble_with(1.0, false), xw.view());
    assert!(no_rho > 0.01, "missing ρ: {no_rho}");
    planted("C1", |r| r.runs.results[0].identity_err = no_factor);
    planted("C1", |r| r.runs.results[0].identity_err = no_rho);
}

// ---------------------------------------------------------------------------------------------
// Planted bugs on a small run.

fn small_cfg() -> Config {
    Config {
        datasets: vec!["breast_cancer".into(), "wine".into(), "diabetes".into()],
        folds: 2,
        total_units: 30,
        step_iters: 60,
        adam_epochs: 300,
        mlp_lbfgs_iters: 100,
        ..Config::quick()
    }
}

fn small() -> &'static (Config, Results) {
    static R: OnceLock<(Config, Results)> = OnceLock::new();
    R.get_or_init(|| {
        let c = small_cfg();
        let r = GbnnSequentialBoosting.measure(&c, &Ctx::for_test(1, Profile::Quick)).unwrap();
        (c, r)
    })
}

fn verdict(cfg: &Config, r: &Results, id: &str) -> (bool, f64) {
    let out = GbnnSequentialBoosting.report(cfg, r).unwrap();
    let c = out.claims.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no claim {id}"));
    (c.passed, c.measured)
}

/// Plant `bug` into a copy of the small run's results: `id` passes before and fails after.
fn planted(id: &str, bug: impl Fn(&mut Results)) {
    let (cfg, r) = small();
    assert!(verdict(cfg, r, id).0, "{id} fails before the bug is planted: {}", verdict(cfg, r, id).1);
    let mut bad = r.clone();
    bug(&mut bad);
    let (ok, m) = verdict(cfg, &bad, id);
    assert!(!ok, "{id} passes with the bug planted: {m}");
}

/// A run of the small config with a modified copy (a real, planted bug in the training).
fn planted_run(ids: &[&str], edit: impl Fn(&mut Config)) {
    let (cfg, r) = small();
    for id in ids {
        assert!(verdict(cfg, r, id).0, "{id} fails before the bug is planted");
    }
    let mut bad_cfg = cfg.clone();
    edit(&mut bad_cfg);
    let bad = GbnnSequentialBoosting.measure(&bad_cfg, &Ctx::for_test(1, Profile::Quick)).unwrap();
    for id in ids {
        let (ok, m) = verdict(cfg, &bad, id);
        assert!(!ok, "{id} passes with the bug planted: {m}");
    }
}

#[test]
fn every_gated_claim_passes_on_the_small_run() {
    let (cfg, r) = small();
    let out = GbnnSequentialBoosting.report(cfg, r).unwrap();
    let failed: Vec<String> =
        out.claims.iter().filter(|c| c.gated && !c.passed).map(|c| format!("{}={}", c.id, c.measured)).collect();
    assert!(failed.is_empty(), "{failed:?}");
}

/// ρ of the wrong sign (the same as pseudo-residuals with the wrong sign): boosting ascends the loss.
#[test]
fn planted_wrong_sign_step_fails_c5_and_c2() {
    planted_run(&["C5-mono", "C5-drop", "C2-cls"], |c| c.eta = -c.eta);
}

/// ρ ≈ 0 (boosting that never leaves the initial model): predicts the prior / the mean.
#[test]
fn planted_vanishing_step_fails_c2_cls_and_c5_drop() {
    planted_run(&["C2-cls", "C5-drop"], |c| c.rho_max = 1e-3);
}

/// Switching off the first-trained units instead of the last (keeping steps T/2..T plus F0): on a
/// tiny digits fit this loses many points; planted as the half-units accuracy of every fold.
#[test]
fn planted_switching_off_the_first_units_fails_c3() {
    let (b, x) = tiny_fit("digits", 20);
    let d = load("digits").unwrap();
    let y: Vec<f64> = (0..120).map(|i| d.y[i]).collect();
    let full = metric(Task::Multiclass, b.predict(x.view()).view(), &y, 0.0, 1.0);
    let mut last = b.clone();
    last.steps.drain(..10);
    let last_half = metric(Task::Multiclass, last.predict(x.view()).view(), &y, 0.0, 1.0);
    let drop = full - last_half;
    assert!(drop > 0.05, "last half {last_half} vs full {full}");
    println!("first units off: {last_half} vs {full}");
    planted("C3", |r| {
        for f in r.runs.results.iter_mut().filter(|f| f.classification) {
            f.gbnn_anytime[2] = f.gbnn_anytime[4] - drop;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Config checks.

#[test]
fn bad_configs_are_refused() {
    type Edit = Box<dyn Fn(&mut Config)>;
    let bad: Vec<Edit> = vec![
        Box::new(|c| c.datasets = vec!["mnist".into()]),
        Box::new(|c| c.datasets.clear()),
        Box::new(|c| c.folds = 1),
        Box::new(|c| {
            c.total_units = 7;
            c.units_per_step = 2;
        }),
        Box::new(|c| c.eta = -1.0),
        Box::new(|c| c.eta = f64::NAN),
        Box::new(|c| c.subsample = 0.0),
        Box::new(|c| c.fractions = vec![0.25, 1.0]),
        Box::new(|c| c.total_units = 100_000),
        Box::new(|c| c.adam_lr = f64::INFINITY),
    ];
    for (i, b) in bad.iter().enumerate() {
        let mut c = Config::quick();
        b(&mut c);
        assert!(c.validate().is_err(), "bad config {i} accepted");
    }
    assert!(Config::quick().validate().is_ok());
    assert!(Config::full().validate().is_ok());
}
