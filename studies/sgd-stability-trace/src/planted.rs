//! Planted bugs: each wrong answer a gated claim's `.wrong()` names, planted in the results of a
//! small run (by hand, or by re-running a piece with the bug), fails that claim, while the same
//! results without the plant pass it. And the configuration contract: hostile values are refused,
//! the smallest accepted sizes run.
use crate::minima::{self, DynCell, Instance};
use crate::stability::Batches;
use crate::training::TrainRun;
use crate::*;
use common::models::{Model, Targets};
use common::study::runner::resolve_with_estimate;
use common::{Claim, Profile, Seed};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use std::sync::OnceLock;

/// A small configuration (about a second on 2 cores): three minima, shorter dynamics, fewer runs.
fn small() -> Config {
    let mut c = Config::quick();
    c.thresholds.diag_slack = vec![0.1, 0.5];
    c.thresholds.relu_scales = vec![1.0];
    c.dynamics.seeds = 8;
    c.dynamics.steps = 5000;
    c.diag_train.alphas = vec![1.0, 0.5];
    c.diag_train.sweep.etas = vec![0.002, 0.01, 0.04];
    c.diag_train.sweep.seeds = 2;
    c.relu_train.sweep.etas = vec![0.03, 0.1];
    c.relu_train.sweep.seeds = 1;
    c
}

const ROOT: u64 = 7;

fn measured() -> &'static Results {
    static R: OnceLock<Results> = OnceLock::new();
    R.get_or_init(|| SgdStabilityTrace.measure(&small(), &Ctx::for_test(ROOT, Profile::Quick)).expect("small run"))
}

fn claim(r: &Results, spec: ClaimSpec) -> Claim {
    let out = SgdStabilityTrace.report(&small(), r).expect("report");
    out.claims.into_iter().find(|c| c.id == spec.id).expect("declared")
}

/// `spec` passes on the small run and fails once `plant` has changed its results.
fn fails_when_planted(spec: ClaimSpec, plant: impl FnOnce(&mut Results)) {
    let clean = claim(measured(), spec);
    assert!(clean.passed, "without the plant: {clean:?}");
    let mut r = measured().clone();
    plant(&mut r);
    let c = claim(&r, spec);
    assert!(!c.passed, "the plant went unnoticed: {c:?}");
}

/// The runs of one model, with its number of samples.
fn runs_of<'a>(
    r: &'a mut Results,
    keep: impl Fn(&TrainRun) -> bool + 'a,
) -> impl Iterator<Item = &'a mut TrainRun> + 'a {
    r.training.iter_mut().filter(move |t| t.fit.converged && keep(t))
}

fn n_of(t: &TrainRun) -> f64 {
    let c = small();
    (if t.cell.model == "diag" { c.diag_train.data.n } else { c.relu_train.n }) as f64
}

#[test]
fn noise_term_dropped_fails_c1_trace_bound() {
    // SGD's second-moment map without S(M) is GD's: η_ms = 2/λ_max.
    fails_when_planted(TRACE_BOUND, |r| r.thresholds.iter_mut().for_each(|t| t.eta_ms[0] = 2.0 / t.lambda_max));
}

#[test]
fn one_over_b_squared_fails_c1_trace_bound_batch() {
    // w_S = 1/B² at B = 2 is the noise weight of B = 4 (with w_H = 3/4 instead of 1/2).
    fails_when_planted(TRACE_BOUND_BATCH, |r| {
        for t in &mut r.thresholds {
            let (k2, k4) =
                (t.batches.iter().position(|&b| b == 2).unwrap(), t.batches.iter().position(|&b| b == 4).unwrap());
            t.eta_ms[k2] = t.eta_ms[k4];
        }
    });
}

#[test]
fn noise_counted_twice_fails_c1_bound_tight() {
    // At B = 1, Q = w_S·S: a doubled w_S halves the threshold of both routes exactly.
    fails_when_planted(BOUND_TIGHT, |r| {
        r.thresholds.iter_mut().for_each(|t| {
            t.eta_ms[0] /= 2.0;
            t.eta_bisect_b1 /= 2.0;
        })
    });
}

/// A model whose HVP is negated (the planted bug of the review): everything else delegates.
struct NegatedHvp<'a, M: Model>(&'a M);

impl<M: Model> Model for NegatedHvp<'_, M> {
    fn num_params(&self) -> usize {
        self.0.num_params()
    }
    fn num_outputs(&self) -> usize {
        self.0.num_outputs()
    }
    fn loss_fn(&self) -> common::models::Loss {
        self.0.loss_fn()
    }
    fn forward(&self, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
        self.0.forward(w, x)
    }
    fn jvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, v: ArrayView1<f64>) -> Array2<f64> {
        self.0.jvp(w, x, v)
    }
    fn vjp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, u: ArrayView2<f64>) -> Array1<f64> {
        self.0.vjp(w, x, u)
    }
    fn hvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, v: ArrayView1<f64>) -> Array1<f64> {
        -self.0.hvp(w, x, y, v)
    }
}

#[test]
fn a_negated_mlp_hvp_fails_c1_spectrum_dense() {
    // The study's curvature comes from VJPs; the claim ties it to the MLP's own HVP.
    let cfg = small();
    fails_when_planted(SPECTRUM_DENSE, |r| {
        for t in r.thresholds.iter_mut().filter(|t| t.spec.model() == "relu") {
            let Instance::Relu { mlp, w, x, y } = minima::instance(&cfg.thresholds, &t.spec, Seed(ROOT)).unwrap()
            else {
                unreachable!()
            };
            t.spectrum.dense = Some(minima::dense_spectrum(&NegatedHvp(&mlp), w.view(), x.view(), y.view()));
        }
    });
}

#[test]
fn a_jacobian_without_its_one_over_n_fails_c1_spectrum_dense() {
    // The Gram route's λ_max and Tr H n times too large (JᵀJ instead of JᵀJ/n).
    fails_when_planted(SPECTRUM_DENSE, |r| {
        r.thresholds.iter_mut().for_each(|t| {
            t.lambda_max *= t.n as f64;
            t.trace *= t.n as f64;
        })
    });
}

/// A sampler with the planted bug of the review: always the first `B` indices.
pub struct FirstB(pub Vec<usize>);

impl Batches for FirstB {
    fn draw<R: rand::Rng>(&mut self, _: &mut R) -> &[usize] {
        &self.0
    }
}

#[test]
fn a_sampler_returning_the_first_b_indices_fails_c1_dynamics_moment() {
    let cfg = small();
    let dy = &cfg.dynamics;
    fails_when_planted(DYN_MOMENT, |r| {
        for d in r.dynamics.iter_mut().filter(|d| d.moment.is_some()) {
            let cv = minima::instance_curvature(&cfg.thresholds, &d.spec, Seed(ROOT)).unwrap();
            let mut first = FirstB((0..dy.batch).collect());
            d.moment = Some(minima::moment(&cv, dy, d.eta, &mut first, Seed(1)));
        }
    });
}

#[test]
fn sgd_simulated_without_batch_noise_fails_c1_dynamics_moment() {
    // Full batches (GD's map) in place of SGD's.
    let cfg = small();
    fails_when_planted(DYN_MOMENT, |r| {
        for d in r.dynamics.iter_mut().filter(|d| d.moment.is_some()) {
            let cv = minima::instance_curvature(&cfg.thresholds, &d.spec, Seed(ROOT)).unwrap();
            let mut all = FirstB((0..cv.n).collect());
            d.moment = Some(minima::moment(&cv, &cfg.dynamics, d.eta, &mut all, Seed(1)));
        }
    });
}

#[test]
fn l_without_its_mh_half_fails_c1_threshold_crosscheck() {
    // L(M) = HM instead of HM + MH doubles K, so only the closed form halves.
    fails_when_planted(CROSSCHECK, |r| r.thresholds.iter_mut().for_each(|t| t.eta_ms[0] /= 2.0));
}

/// Re-run experiment 2 around the thresholds `wrong(row)` instead of η_ms.
fn rerun_dynamics(r: &mut Results, wrong: impl Fn(&minima::ThresholdRow) -> f64) {
    let cfg = small();
    for d in &mut r.dynamics {
        let row = r.thresholds.iter().find(|t| t.spec.name() == d.spec.name()).unwrap();
        let cell = DynCell { spec: d.spec.clone(), eta_ms: wrong(row), factor: d.factor };
        *d = minima::dynamics_run(&cfg.thresholds, &cfg.dynamics, &cell, Seed(ROOT), Seed(1)).unwrap();
    }
}

#[test]
fn a_threshold_too_high_fails_c1_dynamics_stable() {
    fails_when_planted(DYN_STABLE, |r| rerun_dynamics(r, |t| 2.0 / t.lambda_max));
}

#[test]
fn a_threshold_too_low_fails_c1_dynamics_unstable() {
    fails_when_planted(DYN_UNSTABLE, |r| rerun_dynamics(r, |t| t.eta_ms[0] / 2.0));
}

#[test]
fn a_trace_without_its_one_over_n_fails_c1_train_sgd_sharp_start() {
    fails_when_planted(TRAIN_SGD_SHARP, |r| {
        runs_of(r, |_| true).for_each(|t| t.trace = Some(t.trace.unwrap() * n_of(t)))
    });
}

#[test]
fn sgd_staying_at_its_start_fails_c1_train_sgd_sharp_start() {
    // The curvature of the start instead of the reached minimum (SGD that does not move, like GD
    // in the near-lazy regime).
    fails_when_planted(TRAIN_SGD_SHARP, |r| runs_of(r, |_| true).for_each(|t| t.trace = t.trace_init));
}

#[test]
fn the_unscaled_b1_bound_fails_c1_train_sgd_batch() {
    // η·Tr H/2 held against 1 at B > 1 (the bound without its factor B).
    fails_when_planted(TRAIN_SGD_BATCH, |r| {
        runs_of(r, |t| t.cell.batch.is_some_and(|b| b > 1))
            .for_each(|t| t.trace = Some(t.trace.unwrap() * t.cell.batch.unwrap() as f64))
    });
}

#[test]
fn a_lambda_max_without_its_one_over_n_fails_c1_train_gd_lmax() {
    fails_when_planted(TRAIN_GD_LMAX, |r| {
        runs_of(r, |t| t.cell.batch.is_none()).for_each(|t| t.lambda_max = Some(t.lambda_max.unwrap() * n_of(t)))
    });
}

#[test]
fn gd_bounded_like_sgd_fails_c1_gd_trace_exceeds() {
    // A sharpness that is really λ_max (or GD obeying SGD's trace bound) keeps η·Tr/2 near 1.
    fails_when_planted(GD_TRACE_EXCEEDS, |r| {
        runs_of(r, |t| t.cell.batch.is_none()).for_each(|t| t.trace = t.lambda_max)
    });
}

#[test]
fn sgd_reaching_gd_minima_fails_c1_sgd_flatter_than_gd_diag() {
    fails_when_planted(SGD_FLATTER_DIAG, |r| {
        let gd: Vec<TrainRun> =
            r.training.iter().filter(|t| t.cell.batch.is_none() && t.fit.converged).cloned().collect();
        for t in runs_of(r, |t| t.cell.batch == Some(1)) {
            let same = |g: &&TrainRun| {
                (&g.cell.model, g.cell.alpha, g.cell.eta, g.cell.seed)
                    == (&t.cell.model, t.cell.alpha, t.cell.eta, t.cell.seed)
            };
            if let Some(g) = gd.iter().find(same) {
                t.trace = g.trace;
            }
        }
    });
}

#[test]
fn a_sharpness_growing_with_eta_fails_c3_larger_lr_flatter() {
    // η·Tr H (the bound's ratio) reported as the sharpness.
    fails_when_planted(LR_FLATTER, |r| {
        runs_of(r, |_| true).for_each(|t| t.trace = Some(t.trace.unwrap() * t.cell.eta))
    });
}

/// `--set` values that must be refused for every key (bad input, exit 2), except the ones
/// listed, which are accepted and run normally.
#[test]
fn hostile_values_are_refused() {
    let keys = common::study::overrides::keys(&serde_json::to_value(Config::quick()).unwrap());
    let accepted_ok = ["1000000000", "1e300"]
        .map(|v| [("diag_train.sweep.diverge_above", v), ("relu_train.sweep.diverge_above", v)])
        .concat();
    let mut accepted = vec![];
    for key in &keys {
        for v in ["0", "-1", "1000000000", "NaN", "[]", "x", "1e300"] {
            let sets = [(key.clone(), v.to_string())];
            if resolve_with_estimate(&SgdStabilityTrace, Profile::Quick, &sets).is_ok()
                && !accepted_ok.contains(&(key.as_str(), v))
            {
                accepted.push(format!("{key}={v}"));
            }
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:?}");
    // Cross-key rules.
    for sets in [
        vec![("thresholds.relu_width", "20")],
        vec![("thresholds.batches", "2,40")],
        vec![("dynamics.batch", "3")],
        vec![("dynamics.factors", "0.5,0.8")],
        vec![("dynamics.every", "30000")],
        vec![("relu_train.data", "digits"), ("relu_train.n_test", "1790")],
        vec![("diag_train.sweep.sgd_batches", "1,41")],
        vec![
            ("diag_train.sweep.seeds", "100"),
            (
                "diag_train.sweep.etas",
                "[0.001,0.002,0.003,0.004,0.005,0.006,0.007,0.008,0.009,0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08,0.09,0.1,0.2]",
            ),
            ("diag_train.alphas", "1,2,3,4"),
        ],
    ] {
        let sets: Vec<(String, String)> = sets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let e = resolve_with_estimate(&SgdStabilityTrace, Profile::Quick, &sets).err();
        assert!(e.as_ref().is_some_and(|e| !e.0.contains('\n')), "{sets:?}: {e:?}");
    }
    // The full profile validates; sizes at their maximum ask for more memory than a 1e9-sized key could.
    assert!(Config::full().validate().is_ok());
}

/// Every size at the smallest accepted value: measure and report run to the end.
#[test]
fn the_smallest_accepted_sizes_run() {
    let mut c = Config::quick();
    c.thresholds = ThresholdCfg {
        diag: DiagData { n: 2, d: 1, k_star: 1 },
        diag_slack: vec![1e-4, 1e3],
        relu_d: 1,
        relu_width: 1,
        relu_n: 2,
        relu_teacher_width: 1,
        relu_scales: vec![1e-2, 100.0],
        batches: vec![1],
        bisect_steps: 1,
    };
    c.dynamics = DynamicsCfg {
        factors: vec![1e-3, 20.0],
        batch: 1,
        seeds: 1,
        steps: 1,
        every: 1,
        moment_runs: 2,
        moment_steps: 1,
    };
    c.diag_train.data = DiagData { n: 2, d: 1, k_star: 1 };
    c.diag_train.alphas = vec![1e-3, 100.0];
    let tiny = SweepCfg {
        etas: vec![1e-6, 10.0],
        gd: false,
        sgd_batches: vec![2],
        seeds: 1,
        max_steps: 1,
        tol: 1e6,
        check_every: 1,
        diverge_above: 1e-300,
    };
    c.diag_train.sweep = tiny.clone();
    c.relu_train =
        ReluTrainCfg { data: "digits".into(), d: 1, width: 1, n: 2, teacher_width: 1, n_test: 1, sweep: tiny };
    c.lanczos_steps = 10;
    c.validate().unwrap();
    let r = SgdStabilityTrace.measure(&c, &Ctx::for_test(3, Profile::Quick)).unwrap();
    let back: Results = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(SgdStabilityTrace.report(&c, &back).unwrap().claims.len(), CLAIMS.len());
}
