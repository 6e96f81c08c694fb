use super::*;
use common::Profile;
use common::device::Device;
use common::gpu::host::Host;
use common::gpu::{Backend, DevHessian, DevLinOp, DevMlp};
use common::linalg::LinOp;
use common::train::sharpness::{Method, Sharpness, SharpnessTracker};
use ndarray::{Array1, ArrayView1};

/// The quick profile's claims on the runs of one seed, with a planted bug in every run.
fn claims_with(plant: Plant, amplitudes: &[f64]) -> Vec<common::Claim> {
    let cfg = Config { reps: 1, amplitudes: amplitudes.to_vec(), ..Config::quick() };
    let ctx = Ctx::for_test(7, Profile::Quick);
    let sweep = Sweep::new("toy").axis("amplitude", &cfg.amplitudes).reps(1);
    let runs = ctx
        .sweep(&sweep, |c, _| toy::run(&cfg, c.f64("amplitude"), ctx.seed.child("toy"), Device::Cpu, plant))
        .unwrap();
    OpposingSignals.report(&cfg, &Results { runs }).unwrap().claims
}

fn claim<'a>(cs: &'a [common::Claim], id: &str) -> &'a common::Claim {
    cs.iter().find(|c| c.id == id).unwrap()
}

#[test]
fn the_runs_pass_and_a_planted_hvp_factor_two_fails_q1() {
    let ok = claims_with(Plant::None, &[0.0, 20.0]);
    for c in ok.iter().filter(|c| c.gated) {
        assert!(c.passed, "{} = {} ({:?})", c.id, c.measured, c.detail);
    }
    let bad = claims_with(Plant::HvpTimesTwo, &[0.0, 20.0]);
    let q1 = claim(&bad, "Q1");
    eprintln!("planted HVP x2: Q1 = {}", q1.measured);
    assert!(!q1.passed, "HVP x2 should fail Q1: {}", q1.measured);
    assert!(q1.measured > 0.8, "{}", q1.measured);
}

#[test]
fn shuffled_group_labels_fail_q2a() {
    let bad = claims_with(Plant::ShuffledGroups, &[0.0, 20.0]);
    let q2 = claim(&bad, "Q2a");
    eprintln!("planted shuffled groups: Q2a = {}", q2.measured);
    assert!(!q2.passed, "shuffled groups should fail Q2a: corr = {}", q2.measured);
}

#[test]
fn data_has_the_declared_groups_and_outlier_feature() {
    let cfg = Config::quick();
    let d = toy::data(&cfg, 6.0, common::Seed(3));
    let k = toy::group_size(&cfg);
    let Targets::Regression(y) = &d.y else { panic!() };
    for (g, want) in [(toy::GROUP_A, 1.0), (toy::GROUP_B, -1.0)] {
        let members: Vec<usize> = (0..cfg.n).filter(|&i| d.group[i] == g).collect();
        assert_eq!(members.len(), k);
        assert!(members.iter().all(|&i| y[[i, 0]] == want && d.x[[i, cfg.d]] == 6.0));
    }
    assert!((0..cfg.n).filter(|&i| d.group[i] == toy::REST).all(|i| d.x[[i, cfg.d]] == 0.0));
    // The control has the same groups and the same Gaussian part.
    let c = toy::data(&cfg, 0.0, common::Seed(3));
    assert_eq!(c.group, d.group);
    assert_eq!(c.x.column(0), d.x.column(0));
    assert_eq!(toy::top_precision(&[3.0, 0.1, 2.0, 0.5], &[1, 0, 0, 2], 2), 0.5);
}

use common::models::Targets;

/// The device HVP, here through the host twin of the CUDA backend, as a `LinOp`.
struct HostHessian<'m, 'b>(DevHessian<'m, 'b, Host, f64>);
impl LinOp for HostHessian<'_, '_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        let dv = self.0.mlp.upload_params(v).unwrap();
        let mut out = self.0.mlp.be.zeros::<f64>(self.0.dim()).unwrap();
        self.0.apply(&dv, &mut out).unwrap();
        Array1::from(self.0.mlp.download(&out).unwrap())
    }
}

#[test]
fn sharpness_through_the_device_hvp_host_twin_matches_the_cpu() {
    let cfg = Config { n: 60, width: 8, ..Config::quick() };
    let data = toy::data(&cfg, 6.0, common::Seed(1));
    let m = toy::mlp(&cfg);
    let w = m.init(&mut common::Seed(2).rng()) * 1.5;
    let be = Host;
    let dev = DevMlp::<Host, f64>::new(&be, &m, data.x.view(), &data.y).unwrap();
    let s = Sharpness { every: 1, iters: 400, tol: 1e-12, method: Method::Lanczos };
    let mut cpu = SharpnessTracker::new(s.clone());
    let mut gpu = SharpnessTracker::new(s);
    let prob = common::models::Problem::new(&m, data.x.view(), &data.y);
    let a = cpu.observe(0, w.view(), |w| prob.hessian_op(w), &mut common::Seed(4).rng());
    let b =
        gpu.observe(0, w.view(), |w| HostHessian(DevHessian::new(&dev, w, false).unwrap()), &mut common::Seed(4).rng());
    let (a, b) = (a[0].1, b[0].1);
    assert!((a - b).abs() < 1e-9 * a.abs(), "cpu {a} vs host twin {b}");
}

/// Calibration (by hand): CAL_SEEDS=20 cargo test --release -p opposing_signals -- --ignored calibrate --nocapture
#[test]
#[ignore]
fn calibrate() {
    let runs = common::study::conformance::calibrate(&OpposingSignals);
    for (seed, r, _) in &runs {
        let s: Vec<String> = r
            .runs
            .iter()
            .map(|(c, run)| {
                format!(
                    "A={} rep {}: λ/(2/η)={:.4} corr={:+.3} prec={:.2} spikes={}",
                    run.amplitude,
                    c.rep(),
                    run.median_sharpness_over_eos,
                    run.corr_ab,
                    run.top_precision,
                    run.spikes
                )
            })
            .collect();
        eprintln!("seed {seed}: {}", s.join("; "));
    }
}

/// Exploration (by hand): OS_SET='{"amplitudes":[0,10]}' OS_SEEDS=0..3 cargo test ... -- --ignored explore --nocapture
#[test]
#[ignore]
fn explore() {
    let mut v = serde_json::to_value(Config::quick()).unwrap();
    if let Ok(s) = std::env::var("OS_SET") {
        let patch: serde_json::Value = serde_json::from_str(&s).unwrap();
        for (k, x) in patch.as_object().unwrap() {
            v[k] = x.clone();
        }
    }
    let cfg: Config = serde_json::from_value(v).unwrap();
    let seeds: u64 = std::env::var("OS_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    for k in 0..seeds {
        for &a in &cfg.amplitudes {
            let t = std::time::Instant::now();
            let r = toy::run(&cfg, a, common::Seed(1000 + k).child("toy"), Device::Cpu, Plant::None).unwrap();
            eprintln!(
                "seed {k} A={a}: λ/(2/η)={:.4} corr={:+.3} prec={:.2} spikes={} final L={:.3e} L_A={:.3e} L_B={:.3e} ({:.1}s, {} hvps)",
                r.median_sharpness_over_eos,
                r.corr_ab,
                r.top_precision,
                r.spikes,
                r.loss.last().unwrap(),
                r.loss_a.last().unwrap(),
                r.loss_b.last().unwrap(),
                t.elapsed().as_secs_f64(),
                r.hvps
            );
        }
    }
}
