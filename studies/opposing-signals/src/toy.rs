//! The toy of opposing signals: data, one gradient-descent run with its observers, and the
//! statistics of a run (median sharpness over the second half, correlation of the two groups'
//! per-step loss changes, precision of the largest per-sample loss changes).
use common::linalg::LinOp;
use common::models::{Loss, Mlp, Model, Problem, Targets};
use common::train::sharpness::{Method, Sharpness, SharpnessTracker, edge_of_stability};
use common::train::{TrainConfig, train};
use common::{Seed, device::Device};
use ndarray::{Array1, Array2, ArrayView1};
use serde::{Deserialize, Serialize};

use crate::Config;

/// Group membership of a training point.
pub const REST: u8 = 0;
/// Group A: the outliers of class y = +1.
pub const GROUP_A: u8 = 1;
/// Group B: the outliers of class y = −1.
pub const GROUP_B: u8 = 2;

/// The data set: inputs, ±1 targets and each point's group.
pub struct Data {
    /// `n x (d + 1)`; the last coordinate is the outlier feature `x_o`.
    pub x: Array2<f64>,
    /// The targets y = ±1 (`n x 1`).
    pub y: Targets,
    /// [`REST`], [`GROUP_A`] or [`GROUP_B`] per point.
    pub group: Vec<u8>,
}

/// `y_i = +1` for even `i`, −1 for odd; `x_i = (y_i u + ξ_i, x_o)` with `ξ_i ~ N(0, I_d)`,
/// `‖u‖ = u_norm` in a random direction, and `x_o = amplitude` on a random `frac` of each class
/// (group A in y = +1, group B in y = −1), 0 elsewhere. The groups and the Gaussian parts depend
/// on the seed only, so the control (amplitude 0) has the same index groups as the outlier run.
pub fn data(cfg: &Config, amplitude: f64, seed: Seed) -> Data {
    let (n, d) = (cfg.n, cfg.d);
    let mut rng = seed.child("data").rng();
    let mut u = common::rng::gaussian_vec(&mut rng, d, 1.0);
    let nu = u.dot(&u).sqrt();
    u *= cfg.u_norm / nu;
    let noise = common::rng::gaussian_mat(&mut rng, n, d, 1.0);
    let yv: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let mut x = Array2::zeros((n, d + 1));
    for i in 0..n {
        for j in 0..d {
            x[[i, j]] = yv[i] * u[j] + noise[[i, j]];
        }
    }
    let k = group_size(cfg);
    let mut group = vec![REST; n];
    for (class, g) in [(0usize, GROUP_A), (1usize, GROUP_B)] {
        let members: Vec<usize> = (0..n).filter(|i| i % 2 == class).collect();
        let perm = common::rng::permutation(&mut rng, members.len());
        for &p in &perm[..k] {
            group[members[p]] = g;
            x[[members[p], d]] = amplitude;
        }
    }
    let y = Targets::Regression(Array2::from_shape_vec((n, 1), yv).expect("shape"));
    Data { x, y, group }
}

/// Points per group: `round(frac · n/2)`, at least 1.
pub fn group_size(cfg: &Config) -> usize {
    ((cfg.frac * (cfg.n / 2) as f64).round() as usize).max(1)
}

/// The network: `(d + 1) - width - width - 1`, tanh, biases, MSE `½ mean (f − y)²`.
pub fn mlp(cfg: &Config) -> Mlp {
    Mlp::new(&[cfg.d + 1, cfg.width, cfg.width, 1], cfg.activation, true, Loss::Mse)
}

/// A deliberate bug, for the tests that check a claim can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Plant {
    /// None: the experiment as described.
    #[default]
    None,
    /// The Hessian-vector product scaled by 2 (e.g. a loss without its ½ on the curvature side).
    HvpTimesTwo,
    /// Group labels shuffled among all points before the group losses are taken.
    ShuffledGroups,
}

/// One run of gradient descent, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// The outlier amplitude.
    pub amplitude: f64,
    /// Sharpness measurements `(step, λ_max)`.
    pub sharpness: Vec<(usize, f64)>,
    /// Hessian-vector products spent on them.
    pub hvps: usize,
    /// Steps at which the group losses are kept (every `sharpness_every` steps, and every step of
    /// the last `zoom` steps).
    pub trace_steps: Vec<usize>,
    /// Mean loss of group A at those steps.
    #[serde(with = "common::report::json_f64::vec")]
    pub loss_a: Vec<f64>,
    /// Mean loss of group B.
    #[serde(with = "common::report::json_f64::vec")]
    pub loss_b: Vec<f64>,
    /// Mean loss of the other points.
    #[serde(with = "common::report::json_f64::vec")]
    pub loss_rest: Vec<f64>,
    /// The training loss at every step.
    #[serde(with = "common::report::json_f64::vec")]
    pub loss: Vec<f64>,
    /// Median of λ_max over the second half, divided by 2/η.
    #[serde(with = "common::report::json_f64")]
    pub median_sharpness_over_eos: f64,
    /// Pearson correlation of the per-step changes of L_A and L_B over the second half.
    #[serde(with = "common::report::json_f64")]
    pub corr_ab: f64,
    /// Mean over the sharpness steps of the second half of the share of A ∪ B among the `top_k`
    /// points with the largest |ℓ_i(t) − ℓ_i(t − 1)|.
    #[serde(with = "common::report::json_f64")]
    pub top_precision: f64,
    /// Steps of the second half whose loss exceeds twice the second half's median loss.
    pub spikes: usize,
    /// |ℓ_i(t) − ℓ_i(t − 1)| of every point at the last step, for the histogram.
    #[serde(with = "common::report::json_f64::vec")]
    pub last_dl: Vec<f64>,
    /// Groups of the points (as in `last_dl`).
    pub group: Vec<u8>,
    /// Whether the run diverged (non-finite loss).
    pub diverged: bool,
}

/// Per-sample losses `½ (f_i − y_i)²`.
fn per_sample(m: &Mlp, w: ArrayView1<f64>, d: &Data) -> Array1<f64> {
    let f = m.forward(w, d.x.view());
    let Targets::Regression(y) = &d.y else { unreachable!("regression targets") };
    Array1::from_shape_fn(f.nrows(), |i| 0.5 * (f[[i, 0]] - y[[i, 0]]).powi(2))
}

fn group_mean(l: &Array1<f64>, group: &[u8], g: u8) -> f64 {
    let (s, c) = l.iter().zip(group).filter(|(_, gi)| **gi == g).fold((0.0, 0usize), |(s, c), (v, _)| (s + v, c + 1));
    s / c.max(1) as f64
}

/// An operator scaled by a constant (the planted HVP bug).
struct Scaled<O>(O, f64);
impl<O: LinOp> LinOp for Scaled<O> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        self.0.apply(v) * self.1
    }
}

/// One run at `amplitude` on `device` (the sharpness products run there; the training step on the
/// CPU).
pub fn run(cfg: &Config, amplitude: f64, seed: Seed, device: Device, plant: Plant) -> anyhow::Result<Run> {
    let data = data(cfg, amplitude, seed);
    let m = mlp(cfg);
    let mut w = m.init(&mut seed.child("init").rng());
    let mut group = data.group.clone();
    if plant == Plant::ShuffledGroups {
        let perm = common::rng::permutation(&mut seed.child("plant").rng(), group.len());
        group = perm.iter().map(|&p| data.group[p]).collect();
    }
    let scale = if plant == Plant::HvpTimesTwo { 2.0 } else { 1.0 };
    let prob = Problem::new(&m, data.x.view(), &data.y);
    let mut tracker = SharpnessTracker::new(Sharpness {
        every: cfg.sharpness_every,
        iters: cfg.power_iters,
        tol: cfg.power_tol,
        method: Method::Power,
    })
    .with_eta(cfg.eta);
    let (half, zoom_from) = (cfg.steps / 2, cfg.steps.saturating_sub(cfg.zoom));
    let mut prev: Option<Array1<f64>> = None;
    let (mut trace_steps, mut la, mut lb, mut lr) = (vec![], vec![], vec![], vec![]);
    let (mut da, mut db) = (vec![], vec![]);
    let (mut last_a, mut last_b) = (f64::NAN, f64::NAN);
    let mut precisions = vec![];
    let mut last_dl = vec![];
    let mut orng = seed.child("sharpness").rng();
    let mut err: Option<anyhow::Error> = None;
    let mut opt = common::optim::OptimizerConfig::sgd(cfg.eta).build();
    let log = train(
        &mut w,
        cfg.n,
        &TrainConfig::full_batch(cfg.steps, 1),
        |w, _| m.loss_grad(w, data.x.view(), &data.y),
        &mut opt,
        |s, w| {
            let mut rows = vec![];
            if tracker.due(s) {
                rows = match device {
                    Device::Cpu => tracker.observe(s, w, |w| Scaled(prob.hessian_op(w), scale), &mut orng),
                    Device::Cuda => match common::gpu::mlp_curvature(
                        device,
                        &m,
                        data.x.view(),
                        &data.y,
                        w,
                        common::gpu::Curvature::Hessian,
                    ) {
                        Ok(op) => tracker.observe(s, w, |_| Scaled(op, scale), &mut orng),
                        Err(e) => {
                            err.get_or_insert(e);
                            vec![]
                        }
                    },
                };
            }
            // The per-sample losses are needed at every step of the second half (the per-step
            // changes) and at the trace steps.
            let keep = s % cfg.sharpness_every == 0 || s >= zoom_from;
            if s + 1 >= half || keep {
                let l = per_sample(&m, w, &data);
                let (a, b) = (group_mean(&l, &group, GROUP_A), group_mean(&l, &group, GROUP_B));
                if s > half {
                    da.push(a - last_a);
                    db.push(b - last_b);
                }
                (last_a, last_b) = (a, b);
                if keep {
                    trace_steps.push(s);
                    la.push(a);
                    lb.push(b);
                    lr.push(group_mean(&l, &group, REST));
                }
                if let Some(p) = &prev
                    && s > half
                {
                    let dl: Vec<f64> = l.iter().zip(p.iter()).map(|(a, b)| (a - b).abs()).collect();
                    if s % cfg.sharpness_every == 0 {
                        precisions.push(top_precision(&dl, &group, cfg.top_k));
                    }
                    if s == cfg.steps {
                        last_dl = dl;
                    }
                }
                prev = Some(l);
            }
            rows
        },
        &mut seed.child("batches").rng(),
    );
    if let Some(e) = err {
        return Err(e);
    }
    let sharp = tracker.series();
    let second: Vec<f64> = sharp.iter().filter(|(s, _)| *s >= half).map(|x| x.1).collect();
    let eos = edge_of_stability(cfg.eta);
    let median = if second.is_empty() { f64::NAN } else { common::stats::median(&second) / eos };
    let corr = common::stats::pearson(&da, &db);
    let l2: Vec<f64> = log.batch_losses.iter().skip(half).copied().collect();
    let med_l = if l2.is_empty() { f64::NAN } else { common::stats::median(&l2) };
    let spikes = l2.iter().filter(|&&l| l > 2.0 * med_l).count();
    Ok(Run {
        amplitude,
        hvps: tracker.products(),
        sharpness: sharp,
        trace_steps,
        loss_a: la,
        loss_b: lb,
        loss_rest: lr,
        loss: log.batch_losses.clone(),
        median_sharpness_over_eos: median,
        corr_ab: corr,
        top_precision: if precisions.is_empty() { f64::NAN } else { common::stats::mean(&precisions) },
        spikes,
        last_dl,
        group,
        diverged: log.diverged(),
    })
}

/// The share of A ∪ B among the `k` points with the largest `dl` (ties broken by index).
pub fn top_precision(dl: &[f64], group: &[u8], k: usize) -> f64 {
    let mut idx: Vec<usize> = (0..dl.len()).collect();
    idx.sort_by(|&i, &j| dl[j].total_cmp(&dl[i]).then(i.cmp(&j)));
    let k = k.min(idx.len()).max(1);
    idx[..k].iter().filter(|&&i| group[i] != REST).count() as f64 / k as f64
}
