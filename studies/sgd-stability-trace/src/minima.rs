//! Experiments 1 and 2: interpolating minima built in closed form, their exact mean-square
//! thresholds (one grid cell per minimum) and linearized SGD around them (one cell per minimum and
//! factor η/η_ms).
use crate::config::{DiagData, DynamicsCfg, ThresholdCfg};
use crate::diag::{self, DiagNet};
use crate::relu;
use crate::stability::{self, BatchRule, Batches, Curvature};
use anyhow::{Result, ensure};
use common::linalg::eigvalsh;
use common::models::{Mlp, Model, Problem, Targets};
use common::report::fmt_num;
use common::rng::{Seed, gaussian_mat};
use common::stats::{log10_mean_exp, thin_indices};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::Rng;
use rand_distr::{Distribution, Exp1};
use serde::{Deserialize, Serialize};

/// Which closed-form minimum (the cell of the `thresholds` grid; its JSON seeds the cell).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum InstanceSpec {
    /// Diagonal net with slack scale `s`.
    Diag { k: usize, slack: f64 },
    /// ReLU net with hidden-layer scale.
    Relu { k: usize, scale: f64 },
}

impl InstanceSpec {
    /// `diag-0 (γ scale 0.05)`: also the name its data and point are seeded by.
    pub fn name(&self) -> String {
        match self {
            InstanceSpec::Diag { k, slack } => format!("diag-{k} (γ scale {})", fmt_num(*slack)),
            InstanceSpec::Relu { k, scale } => format!("relu-{k} (hidden ×{})", fmt_num(*scale)),
        }
    }
    /// `diag` or `relu`.
    pub fn model(&self) -> &'static str {
        match self {
            InstanceSpec::Diag { .. } => "diag",
            InstanceSpec::Relu { .. } => "relu",
        }
    }
}

/// The minima of experiment 1: the diagonal nets, then the ReLU nets.
pub fn instance_specs(cfg: &ThresholdCfg) -> Vec<InstanceSpec> {
    let mut v: Vec<InstanceSpec> =
        cfg.diag_slack.iter().enumerate().map(|(k, &slack)| InstanceSpec::Diag { k, slack }).collect();
    v.extend(cfg.relu_scales.iter().enumerate().map(|(k, &scale)| InstanceSpec::Relu { k, scale }));
    v
}

/// Diagonal-net data `(X, y = Xβ*, β*)`.
pub fn diag_data(rng: &mut impl Rng, data: &DiagData) -> (Array2<f64>, Array1<f64>, Array1<f64>) {
    let x = gaussian_mat(rng, data.n, data.d, 1.0);
    let beta = Array1::from_shape_fn(data.d, |j| if j < data.k_star { 1.0 } else { 0.0 });
    let y = x.dot(&beta);
    (x, y, beta)
}

/// An interpolating minimum of experiment 1: the model, the point and its training data.
pub enum Instance {
    Diag { net: DiagNet, w: Array1<f64>, x: Array2<f64>, y: Array1<f64> },
    Relu { mlp: Mlp, w: Array1<f64>, x: Array2<f64>, y: Array1<f64> },
}

/// The minimum of an instance (rebuilt deterministically from its spec and the root seed).
pub fn instance(cfg: &ThresholdCfg, spec: &InstanceSpec, root: Seed) -> Result<Instance> {
    let seed = root.child("instance").child(&spec.name());
    match *spec {
        InstanceSpec::Diag { slack, .. } => {
            let mut rng = seed.rng();
            let (x, y, beta) = diag_data(&mut rng, &cfg.diag);
            let gamma = Array1::from_shape_fn(cfg.diag.d, |_| {
                let e: f64 = Exp1.sample(&mut rng);
                slack * e
            });
            let net = DiagNet::new(cfg.diag.d);
            let w = net.point(beta.view(), gamma.view());
            Ok(Instance::Diag { net, w, x, y })
        }
        InstanceSpec::Relu { scale, .. } => {
            let mut rng = seed.rng();
            let data = relu::teacher_data(&mut rng, cfg.relu_n, 1, cfg.relu_d, cfg.relu_teacher_width);
            let mlp = relu::net(cfg.relu_d, cfg.relu_width);
            // A hidden layer whose features cannot interpolate (dead units in a tiny net) is drawn
            // again from the same stream; the first draw is the instance in every sane setting.
            let mut tries = 1;
            let w = loop {
                match relu::interpolating_point(&mlp, data.x.view(), data.y.view(), scale, &mut rng) {
                    Ok(w) => break w,
                    Err(e) if tries >= 20 => return Err(e.context(format!("{} after {tries} draws", spec.name()))),
                    Err(_) => tries += 1,
                }
            };
            let y = Targets::scalar(data.y.as_slice().expect("contiguous"));
            let loss = mlp.loss(w.view(), data.x.view(), &y);
            let scale_y = data.y.mapv(|v| v * v).mean().unwrap_or(0.0);
            ensure!(loss <= 1e-12 * scale_y, "ReLU instance does not interpolate (loss {loss:e})");
            Ok(Instance::Relu { mlp, w, x: data.x, y: data.y })
        }
    }
}

impl Instance {
    /// The curvature the study uses: `H = JᵀJ/n` from the exact Jacobian (one VJP per sample).
    pub fn curvature(&self) -> Curvature {
        match self {
            Instance::Diag { net, w, x, .. } => Curvature::at(net, w.view(), x.view()),
            Instance::Relu { mlp, w, x, .. } => Curvature::at(mlp, w.view(), x.view()),
        }
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        match self {
            Instance::Diag { net, .. } => net.num_params(),
            Instance::Relu { mlp, .. } => mlp.num_params(),
        }
    }

    /// The independent computations of the spectrum ([`Spectrum`]): the dense Hessian from
    /// exact HVPs (skipped above [`DENSE_MAX_P`] parameters) and, for the diagonal net, the closed
    /// form.
    pub fn spectrum(&self) -> Spectrum {
        let small = self.num_params() <= DENSE_MAX_P;
        match self {
            Instance::Diag { net, w, x, y } => {
                let (lambda_max, trace) = diag::closed_form_spectrum(net, w.view(), x.view());
                Spectrum {
                    dense: small.then(|| dense_spectrum(net, w.view(), x.view(), y.view())),
                    closed: Some(Closed { lambda_max, trace }),
                }
            }
            Instance::Relu { mlp, w, x, y } => {
                Spectrum { dense: small.then(|| dense_spectrum(mlp, w.view(), x.view(), y.view())), closed: None }
            }
        }
    }
}

/// The curvature of an instance.
pub fn instance_curvature(cfg: &ThresholdCfg, spec: &InstanceSpec, root: Seed) -> Result<Curvature> {
    Ok(instance(cfg, spec, root)?.curvature())
}

/// Most parameters for the dense Hessian of [`Instance::spectrum`] (`p²` values, `p` HVPs, a
/// dense eigen-decomposition; the study's minima have p = 200 and 281).
pub const DENSE_MAX_P: usize = 1500;

/// The extreme eigenvalues and the trace of the dense Hessian of the loss, built column by
/// column from `p` exact Hessian-vector products of the model (`common::models::Problem::hessian`;
/// for the ReLU net the MLP's forward-over-reverse HVP, independent of the VJPs the Jacobian comes
/// from). At an interpolating point it equals `JᵀJ/n` (the residual term vanishes), with the sign.
pub fn dense_spectrum<M: Model>(model: &M, w: ArrayView1<f64>, x: ArrayView2<f64>, y: ArrayView1<f64>) -> Dense {
    let yt = Targets::scalar(y.as_slice().expect("contiguous"));
    let h = Problem::new(model, x, &yt).hessian(w);
    let h = (&h + &h.t()) * 0.5;
    let ev = eigvalsh(&h);
    Dense { lambda_max: ev[ev.len() - 1], lambda_min: ev[0], trace: h.diag().sum() }
}

/// The dense Hessian's spectrum ([`dense_spectrum`]).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Dense {
    #[serde(with = "common::report::json_f64")]
    pub lambda_max: f64,
    #[serde(with = "common::report::json_f64")]
    pub lambda_min: f64,
    #[serde(with = "common::report::json_f64")]
    pub trace: f64,
}

/// The diagonal net's spectrum in closed form ([`diag::closed_form_spectrum`]).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Closed {
    #[serde(with = "common::report::json_f64")]
    pub lambda_max: f64,
    #[serde(with = "common::report::json_f64")]
    pub trace: f64,
}

/// Independent computations of a minimum's spectrum, held against the Gram route.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Spectrum {
    /// `None` above [`DENSE_MAX_P`] parameters.
    pub dense: Option<Dense>,
    /// Diagonal net only.
    pub closed: Option<Closed>,
}

/// The batch sizes of experiment 1: `B = 1` first, the configured ones, `B = n` last.
pub fn batches_for(cfg: &ThresholdCfg, n: usize) -> Vec<usize> {
    let mut mid: Vec<usize> = cfg.batches.iter().copied().filter(|&b| b != 1).collect();
    mid.sort_unstable();
    mid.dedup();
    let mut b = vec![1];
    b.extend(mid);
    b.push(n);
    b
}

/// What experiment 1 measures at one minimum.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ThresholdRow {
    pub spec: InstanceSpec,
    pub n: usize,
    pub p: usize,
    pub rank: usize,
    #[serde(with = "common::report::json_f64")]
    pub trace: f64,
    #[serde(with = "common::report::json_f64")]
    pub lambda_max: f64,
    /// `E‖a‖⁴ / (E‖a‖²)²` (≥ 1; the Jensen step of the bound).
    #[serde(with = "common::report::json_f64")]
    pub kurtosis: f64,
    /// Batch sizes (with replacement): `1`, the configured ones, `n` last.
    pub batches: Vec<usize>,
    /// `η_ms(B)` for each of `batches`.
    #[serde(with = "common::report::json_f64::vec")]
    pub eta_ms: Vec<f64>,
    /// Full-batch GD threshold (closed form, `1/λ_max(K)` with the GD weights).
    #[serde(with = "common::report::json_f64")]
    pub eta_gd: f64,
    /// Bisection on `ρ(T_η)`: B = 1 and GD.
    #[serde(with = "common::report::json_f64")]
    pub eta_bisect_b1: f64,
    #[serde(with = "common::report::json_f64")]
    pub eta_bisect_gd: f64,
    /// `⟨I, T(I)⟩/r` at `η_ms(1)` (the Rayleigh-quotient lower bound on `ρ(T) = 1` there).
    #[serde(with = "common::report::json_f64")]
    pub rayleigh_at_ms: f64,
    /// The spectrum computed independently of the Gram route (dense Hessian, closed form).
    pub spectrum: Spectrum,
}

impl ThresholdRow {
    /// `η_ms(B)·Tr H/(2B)` for the `k`-th batch size (≤ 1 by the trace bound).
    pub fn ratio(&self, k: usize) -> f64 {
        self.eta_ms[k] * self.trace / (2.0 * self.batches[k] as f64)
    }
    /// `η_GD·λ_max/2` by bisection (1 for GD).
    pub fn gd_anchor(&self) -> f64 {
        self.eta_bisect_gd * self.lambda_max / 2.0
    }
    /// Relative difference of the bisection and the closed form at B = 1.
    pub fn crosscheck(&self) -> f64 {
        (self.eta_bisect_b1 / self.eta_ms[0] - 1.0).abs()
    }
    /// The largest disagreement of the independent spectra with the Gram route's `λ_max` and
    /// `Tr H` (relative), and the dense Hessian's negative part `−λ_min/λ_max` (0 for a PSD
    /// Hessian); `None` when neither independent route ran.
    pub fn spectrum_check(&self) -> Option<f64> {
        let rel = |a: f64, b: f64| (a / b - 1.0).abs();
        let mut v = vec![];
        if let Some(d) = self.spectrum.dense {
            v.extend([
                rel(d.lambda_max, self.lambda_max),
                rel(d.trace, self.trace),
                (-d.lambda_min / self.lambda_max).max(0.0),
            ]);
        }
        if let Some(c) = self.spectrum.closed {
            v.extend([rel(c.lambda_max, self.lambda_max), rel(c.trace, self.trace)]);
        }
        // NaN (a failed route) is worse than anything.
        v.into_iter().reduce(|m, x| if x.is_nan() || m.is_nan() { f64::NAN } else { m.max(x) })
    }
    /// `η_ms` at batch size `b` (one of `batches`).
    pub fn eta_at(&self, b: usize) -> Option<f64> {
        self.batches.iter().position(|&x| x == b).map(|k| self.eta_ms[k])
    }
}

/// Experiment 1 at one minimum: thresholds for every batch size and GD, in closed form and by
/// bisection.
pub fn threshold_row(
    t: &ThresholdCfg,
    spec: &InstanceSpec,
    lanczos: usize,
    root: Seed,
    seed: Seed,
) -> Result<ThresholdRow> {
    let inst = instance(t, spec, root)?;
    let cv = inst.curvature();
    let mut rng = seed.child("lanczos").rng();
    let n = cv.n;
    let batches = batches_for(t, n);
    let eta_ms: Vec<f64> =
        batches.iter().map(|&b| cv.eta_ms(BatchRule::with_replacement(b), lanczos, &mut rng)).collect();
    let eta_gd = cv.eta_ms(BatchRule::full(n), lanczos, &mut rng);
    let r1 = BatchRule::with_replacement(1);
    Ok(ThresholdRow {
        spec: spec.clone(),
        n,
        p: cv.p,
        rank: cv.rank(),
        trace: cv.trace(),
        lambda_max: cv.lambda_max(),
        kurtosis: cv.mean_norm4() / cv.trace().powi(2),
        eta_bisect_b1: cv.eta_ms_bisect(r1, eta_ms[0], t.bisect_steps),
        eta_bisect_gd: cv.eta_ms_bisect(BatchRule::full(n), eta_gd, t.bisect_steps),
        rayleigh_at_ms: cv.rayleigh_lower(eta_ms[0], r1),
        spectrum: inst.spectrum(),
        batches,
        eta_ms,
        eta_gd,
    })
}

/// A cell of the `dynamics` grid (its JSON seeds the cell).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DynCell {
    pub spec: InstanceSpec,
    /// η_ms(B) of the minimum (from experiment 1).
    pub eta_ms: f64,
    pub factor: f64,
}

/// Experiment 2 at one minimum and factor.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DynRun {
    pub spec: InstanceSpec,
    /// η / η_ms.
    pub factor: f64,
    #[serde(with = "common::report::json_f64")]
    pub eta: f64,
    /// ρ(T_η), exact.
    #[serde(with = "common::report::json_f64")]
    pub rho: f64,
    /// Per run: ln(‖δ_T‖²/‖δ_0‖²) at the last step.
    #[serde(with = "common::report::json_f64::vec")]
    pub final_logs: Vec<f64>,
    /// Steps of the recorded checkpoints (at most [`CURVE_POINTS`] of them, for the figure).
    pub curve_steps: Vec<usize>,
    /// log10 of the mean over runs of ‖δ_t‖²/‖δ_0‖² at `curve_steps`.
    #[serde(with = "common::report::json_f64::vec")]
    pub curve_log10_mean: Vec<f64>,
    /// At the smallest factor only: the second moment measured against the map's prediction.
    pub moment: Option<Moment>,
}

/// `E‖δ_t‖²` of linearized SGD from `E δ_0δ_0ᵀ = I/r`, measured over many runs with the training
/// loop's sampler ([`Curvature::moment_measured`]) and predicted by the second-moment map
/// ([`Curvature::moment_predicted`]).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Moment {
    pub steps: usize,
    pub runs: usize,
    #[serde(with = "common::report::json_f64")]
    pub measured: f64,
    /// Standard error of `measured`.
    #[serde(with = "common::report::json_f64")]
    pub se: f64,
    #[serde(with = "common::report::json_f64")]
    pub predicted: f64,
}

impl Moment {
    /// `measured / predicted`.
    pub fn ratio(&self) -> f64 {
        self.measured / self.predicted
    }
}

/// The second moment after `dy.moment_steps` steps at `eta`, measured with `batches` and
/// predicted by `T_η`.
pub fn moment(cv: &Curvature, dy: &DynamicsCfg, eta: f64, batches: &mut impl Batches, seed: Seed) -> Moment {
    let (measured, se) = cv.moment_measured(eta, dy.moment_steps, dy.moment_runs, batches, &mut seed.rng());
    let predicted = cv.moment_predicted(eta, BatchRule::with_replacement(dy.batch), dy.moment_steps);
    Moment { steps: dy.moment_steps, runs: dy.moment_runs, measured, se, predicted }
}

/// Checkpoints kept per run for the figure.
pub const CURVE_POINTS: usize = 400;

impl DynRun {
    /// log10 of the mean over runs of ‖δ_T‖²/‖δ_0‖².
    pub fn log10_mean(&self) -> f64 {
        log10_mean_exp(&self.final_logs)
    }
    /// log10 of the median run's ‖δ_T‖²/‖δ_0‖².
    pub fn log10_median(&self) -> f64 {
        common::stats::median(&self.final_logs) / std::f64::consts::LN_10
    }
    /// As a claim item: the name (with the median run and the mean-square prediction `T·log10 ρ`)
    /// and log10 mean ‖δ_T‖²/‖δ_0‖².
    pub fn item(&self, steps: usize) -> (String, f64) {
        let pred = steps as f64 * self.rho.log10();
        let m = fmt_num(self.log10_median());
        (
            format!("{} ×{} (median {m}, ρ^T predicts {})", self.spec.name(), fmt_num(self.factor), fmt_num(pred)),
            self.log10_mean(),
        )
    }
}

/// Experiment 2 in one cell: `dy.seeds` runs of linearized SGD at `factor·η_ms`.
pub fn dynamics_run(t: &ThresholdCfg, dy: &DynamicsCfg, c: &DynCell, root: Seed, seed: Seed) -> Result<DynRun> {
    let cv = instance_curvature(t, &c.spec, root)?;
    let eta = c.factor * c.eta_ms;
    let rho = cv.spectral_radius(eta, BatchRule::with_replacement(dy.batch));
    let logs: Vec<Vec<f64>> = (0..dy.seeds)
        .map(|k| cv.linearized_sgd(eta, dy.batch, dy.steps, dy.every, &mut seed.child_idx("run", k as u64).rng()))
        .collect();
    let k = logs[0].len();
    let keep = thin_indices(k, CURVE_POINTS, false);
    let smallest = dy.factors.iter().copied().fold(f64::INFINITY, f64::min);
    let moment = (c.factor == smallest && c.factor < 1.0)
        .then(|| moment(&cv, dy, eta, &mut stability::sampler(cv.n, dy.batch), seed.child("moment")));
    Ok(DynRun {
        spec: c.spec.clone(),
        factor: c.factor,
        eta,
        rho,
        final_logs: logs.iter().map(|l| *l.last().expect("steps >= every")).collect(),
        curve_steps: keep.iter().map(|&j| (j + 1) * dy.every).collect(),
        curve_log10_mean: keep
            .iter()
            .map(|&j| log10_mean_exp(&logs.iter().map(|l| l[j]).collect::<Vec<_>>()))
            .collect(),
        moment,
    })
}
