//! Unit tests: the NumPy cross-check, the data generator, the config contract, planted bugs for
//! every gated claim, and the seed calibration (`#[ignore]`d). The quick profile itself runs in
//! repro's generated suite and in the `#[ignore]`d `seed_checks`.
use super::*;
use common::Profile;
use common::boundprop::{Interval, Pattern, ReluNet, ibp, lipschitz_enumerate, lipschitz_interval, lipschitz_naive};
use ndarray::{Array1, Array2};

/// The reference net of `reference/enumerate.py`.
fn reference_net() -> ReluNet {
    let sizes = [4usize, 6, 5, 3];
    let mut ws = vec![];
    let mut bs = vec![];
    for l in 0..3 {
        let fan = sizes[l] as f64;
        ws.push(Array2::from_shape_fn((sizes[l + 1], sizes[l]), |(i, j)| {
            (1.3 * (i + 1) as f64 + 0.7 * (j + 1) as f64 + 2.1 * l as f64).sin() * (2.0 / fan).sqrt()
        }));
        bs.push(Array1::from_shape_fn(sizes[l + 1], |i| 0.1 * (0.9 * (i + 1) as f64 + l as f64).cos()));
    }
    ReluNet::new(ws, bs)
}

/// `reference/enumerate.py`'s printed values (NumPy, IBP pattern box, exact enumeration).
#[test]
#[allow(clippy::excessive_precision)]
fn reference_net_matches_numpy() {
    let net = reference_net();
    let x0 = Array1::from_elem(4, 0.5);
    let b = Interval::ball(x0.view(), 0.3, (-10.0, 10.0));
    let pat = Pattern::from_bounds(&ibp(&net, &b));
    assert_eq!(pat.unstable().len(), 7);
    let numpy = [
        (8.385561296765218e-01, 1.323927883562310e+00, 2.633904473022462e+00, 8.493812504572530e+00),
        (1.616325116910768e+00, 2.397014503537481e+00, 3.594677372944877e+00, 9.584558590820508e+00),
        (1.190916026959542e-01, 1.959111110259051e+00, 3.128607218177863e+00, 9.170344286902647e+00),
    ];
    for (k, &(at, en, int, naive)) in numpy.iter().enumerate() {
        let c = Array1::from_shape_fn(3, |j| f64::from(u8::from(j == k)));
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        assert!(close(net.grad(x0.view(), c.view()).mapv(f64::abs).sum(), at));
        assert!(close(lipschitz_enumerate(&net, &pat, c.view(), 10).unwrap(), en));
        assert!(close(lipschitz_interval(&net, &pat, c.view()), int));
        assert!(close(lipschitz_naive(&net, c.view()), naive));
    }
}

/// Run measure + report at a root seed (the quick profile unless `cfg` says otherwise).
fn run(cfg: &Config, seed: u64) -> (Results, Outcome) {
    let r = LocalLipschitzBoundprop.measure(cfg, &Ctx::for_test(seed, Profile::Quick)).unwrap();
    let out = LocalLipschitzBoundprop.report(cfg, &r).unwrap();
    (r, out)
}

/// Calibration: `CAL_SEEDS=1,2,... cargo test --release -p local_lipschitz_boundprop -- --ignored calibrate --nocapture`.
#[test]
#[ignore = "calibration over many seeds"]
fn calibrate() {
    let seeds: Vec<u64> = std::env::var("CAL_SEEDS")
        .unwrap_or_else(|_| "1,2,3".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let cfg = Config::quick();
    for s in seeds {
        let t = std::time::Instant::now();
        let (_, out) = run(&cfg, s);
        let vals: Vec<String> = out
            .claims
            .iter()
            .map(|c| format!("{}={:.4e}{}", c.id, c.measured, if c.passed { "" } else { "!" }))
            .collect();
        eprintln!("seed {s} ({:.1}s): {}", t.elapsed().as_secs_f64(), vals.join(" "));
    }
}

#[test]
#[ignore = "prints the instances of one run"]
fn show() {
    let seed: u64 = std::env::var("CAL_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let (r, out) = run(&Config::quick(), seed);
    for i in &r.instances {
        eprintln!(
            "{:>10} x{} eps {:<6} unst {:>3} naive {:>8.3} int {:>7.3} ours {:>7.3} babU {:>7.3} ({:>4}) babI {:>7.3} ({:>4}) enum {:>7.3} cmp {:>7.3} lower {:>7.3} (samp {:>7.3} x0 {:>7.3})",
            setup::model_name(&r.models[i.model].hidden),
            i.point,
            i.eps,
            i.unstable,
            i.naive,
            i.interval,
            i.ours,
            i.bab_neuron,
            i.bab_neuron_nodes,
            i.bab_input,
            i.bab_input_nodes,
            i.enum_upper,
            i.bab_complete,
            i.lower,
            i.sampled,
            i.at_centre
        );
    }
    for m in &r.models {
        eprintln!("{:?} train {:.3} test {:.3}", m.hidden, m.train_acc, m.test_acc);
    }
    for c in &out.claims {
        eprintln!("{} {} {:?}", c.id, c.measured, c.detail);
    }
}

// ---------------------------------------------------------------------------------------------
// The config contract

#[test]
fn profiles_validate_and_bad_values_are_refused() {
    Config::quick().validate().unwrap();
    Config::full().validate().unwrap();
    type Edit = Box<dyn Fn(&mut Config)>;
    let bad: Vec<(&str, Edit)> = vec![
        ("models", Box::new(|c| c.models = vec![])),
        ("models", Box::new(|c| c.models = vec![vec![16, 16]])),
        ("models[0]", Box::new(|c| c.models[0] = vec![0, 16])),
        ("models", Box::new(|c| c.models.push(vec![]))),
        ("eps", Box::new(|c| c.eps = vec![0.0])),
        ("eps", Box::new(|c| c.eps = vec![])),
        ("eps_tiny", Box::new(|c| c.eps_tiny = 0.1)),
        ("leaders", Box::new(|c| c.leaders = c.points + 1)),
        ("batch", Box::new(|c| c.batch = c.points)),
        ("test_points", Box::new(|c| c.test_points = 1000)),
        ("enum_max_unstable", Box::new(|c| c.enum_max_unstable = 40)),
        ("lr", Box::new(|c| c.lr = f64::NAN)),
    ];
    for (key, f) in bad {
        let mut c = Config::quick();
        f(&mut c);
        let e = c.validate().unwrap_err();
        assert!(e.0.contains(key) && !e.0.contains('\n'), "{key}: {e}");
    }
}

#[test]
fn estimates_are_finite_and_the_full_profile_fits_memory() {
    let (q, f) = (Config::quick().estimate(), Config::full().estimate());
    assert!(q.bytes < 2e8 && q.seconds.unwrap() < 30.0, "{}", q.describe());
    assert!(f.bytes < 4.0 * (1u64 << 30) as f64 && f.seconds.unwrap().is_finite(), "{}", f.describe());
    // Hostile sizes are estimated (and refused by the runner), not allocated.
    let mut c = Config::full();
    c.complete_nodes = 1 << 24;
    c.samples = 1_000_000;
    c.classes = 100;
    assert!(c.estimate().bytes > 8.0 * (1u64 << 30) as f64);
}

#[test]
fn random_k_labels_points_by_their_nearest_leader() {
    let mut c = Config::quick();
    c.points = 300;
    c.leaders = 7;
    let (tr, te) = setup::random_k(&c, common::Seed(5));
    assert_eq!(tr.x.nrows(), 210);
    assert_eq!(te.x.nrows(), 90);
    assert!(tr.x.iter().chain(te.x.iter()).all(|v| (0.0..1.0).contains(v)));
    // At most `leaders` distinct labels, all below `classes`.
    let mut labels: Vec<usize> = tr.y.iter().chain(&te.y).copied().collect();
    labels.sort();
    labels.dedup();
    assert!(labels.len() <= 7 && labels.iter().all(|&l| l < c.classes));
}

// ---------------------------------------------------------------------------------------------
// Planted bugs: a small real run, then each claim's nearest wrong answer fed to `report`.

/// A run of about a second: the three quick models, one test centre, two radii.
fn small() -> Config {
    Config { test_points: 1, eps: vec![0.01, 0.05, 0.1], samples: 400, points: 1000, epochs: 10, ..Config::quick() }
}

fn small_run() -> &'static (Config, Results) {
    static RUN: std::sync::OnceLock<(Config, Results)> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let cfg = small();
        let r = LocalLipschitzBoundprop.measure(&cfg, &Ctx::for_test(7, Profile::Quick)).unwrap();
        (cfg, r)
    })
}

fn claim_passes(cfg: &Config, r: &Results, id: &str) -> (bool, f64) {
    let out = LocalLipschitzBoundprop.report(cfg, r).unwrap();
    let c = out.claims.iter().find(|c| c.id == id).unwrap();
    (c.passed, c.measured)
}

/// Plant `bug` into a copy of the small run's results and check that claim `id` passed before
/// and fails after.
fn planted(id: &str, bug: impl Fn(&Config, &mut Results)) {
    let (cfg, r) = small_run();
    let (ok, before) = claim_passes(cfg, r, id);
    assert!(ok, "{id} fails without the bug: {before}");
    let mut bad = r.clone();
    bug(cfg, &mut bad);
    let (ok, after) = claim_passes(cfg, &bad, id);
    assert!(!ok, "{id} still passes with the bug: {before} -> {after}");
}

fn net_of(cfg: &Config, r: &Results, m: usize) -> ReluNet {
    ReluNet::from_mlp(&setup::mlp(cfg, &r.models[m].hidden), Array1::from(r.models[m].w.clone()).view())
}

#[test]
fn the_small_run_passes_every_gated_claim_and_round_trips() {
    let (cfg, r) = small_run();
    let out = LocalLipschitzBoundprop.report(cfg, r).unwrap();
    let failed: Vec<String> =
        out.claims.iter().filter(|c| c.gated && !c.passed).map(|c| format!("{} {}", c.id, c.measured)).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let text = serde_json::to_string(r).unwrap();
    let back: Results = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
}

/// L1: the gradient at x₀ taken as the bound for the whole box (unstable units frozen at x₀'s
/// state, computed by the real bound on the frozen pattern).
#[test]
fn planted_frozen_pattern_fails_l1() {
    planted("L1", |cfg, r| {
        let centres = setup::centres(cfg, &setup::random_k(cfg, common::Seed(7).child("data")).1);
        let nets: Vec<ReluNet> = (0..r.models.len()).map(|m| net_of(cfg, r, m)).collect();
        for i in &mut r.instances {
            let net = &nets[i.model];
            let x0 = &centres[i.point];
            let frozen = Pattern::point(&net.pattern_at(x0.view()));
            i.ours = (0..cfg.classes)
                .map(|k| {
                    let c = Array1::from_shape_fn(cfg.classes, |j| f64::from(u8::from(j == k)));
                    common::boundprop::lipschitz_linear(net, &frozen, c.view()).upper
                })
                .fold(0.0, f64::max);
        }
    });
}

/// L2: every δ relaxed to [0, 1] even where the unit is stable (no pre-activation bounds).
#[test]
fn planted_no_stability_fails_l2() {
    planted("L2", |cfg, r| {
        let nets: Vec<ReluNet> = (0..r.models.len()).map(|m| net_of(cfg, r, m)).collect();
        for i in r.instances.iter_mut().filter(|i| i.eps == cfg.eps_tiny) {
            let net = &nets[i.model];
            let loose = Pattern {
                lo: net.weights[..net.num_layers() - 1].iter().map(|w| Array1::zeros(w.nrows())).collect(),
                hi: net.weights[..net.num_layers() - 1].iter().map(|w| Array1::ones(w.nrows())).collect(),
            };
            i.ours = (0..cfg.classes)
                .map(|k| {
                    let c = Array1::from_shape_fn(cfg.classes, |j| f64::from(u8::from(j == k)));
                    common::boundprop::lipschitz_linear(net, &loose, c.view()).upper
                })
                .fold(0.0, f64::max);
        }
    });
}

/// L3: the layer-norm product reported as the bound.
#[test]
fn planted_layer_norm_product_fails_l3() {
    planted("L3", |_, r| r.instances.iter_mut().for_each(|i| i.ours = i.naive));
}

/// L4: interval arithmetic reported as the linear bound.
#[test]
fn planted_interval_as_linear_fails_l4() {
    planted("L4", |_, r| r.instances.iter_mut().for_each(|i| i.ours = i.interval));
}

/// L5: a BaB that never gets past the root.
#[test]
fn planted_root_only_bab_fails_l5() {
    planted("L5", |_, r| r.instances.iter_mut().for_each(|i| i.bab_neuron = i.ours));
}

/// L6: a BaB stopped with a gap of 1e-6 left (or a relaxation with slack at the vertices).
#[test]
fn planted_bab_gap_fails_l6() {
    planted("L6", |_, r| {
        r.instances.iter_mut().filter(|i| i.bab_complete.is_finite()).for_each(|i| i.bab_complete *= 1.0 + 1e-6)
    });
}

/// L7: no BaB and no linear relaxation: the interval bound.
#[test]
fn planted_interval_bound_fails_l7() {
    planted("L7", |_, r| {
        r.instances.iter_mut().for_each(|i| {
            i.bab_input = i.interval;
            i.bab_neuron = i.interval;
        })
    });
}

/// Writes the quick report to `$LLB_OUT` (default /tmp/llb_report) for review of the figures.
#[test]
#[ignore = "writes a report for review"]
fn write_report_for_review() {
    let out = std::env::var("LLB_OUT").unwrap_or_else(|_| "/tmp/llb_report".into());
    let s = common::study::conformance::quick_contract(
        &LocalLipschitzBoundprop,
        std::path::Path::new(&out),
        common::study::runner::DEFAULT_SEED,
        None,
    );
    eprintln!("{}/{} gated claims passed", s.passed, s.gated);
}

/// Same seed, same bytes, with one job or four.
#[test]
fn same_bytes_at_any_job_count() {
    let cfg = Config { models: vec![vec![8, 8], vec![12]], test_points: 1, eps: vec![0.1], samples: 200, ..small() };
    let one = |jobs: usize| {
        let mut ctx = Ctx::for_test(3, Profile::Quick);
        ctx.jobs = jobs;
        serde_json::to_string(&LocalLipschitzBoundprop.measure(&cfg, &ctx).unwrap()).unwrap()
    };
    assert_eq!(one(1), one(4));
}
