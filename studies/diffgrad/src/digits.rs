//! E2: a ReLU MLP 64→64→10 on the shipped sklearn digits (1797 images, pixels / 16, a seeded
//! 80/20 split), softmax cross-entropy, mini-batches of 32 (epoch shuffles), the optimizers of
//! the paper's comparison that fit a CPU: Adam, diffGrad (the fixed `diffGrad_v2.py`),
//! diffGrad-buggy (`diffGrad.py`), Adam at lr/2 (what the bug amounts to), AMSGrad and SGD with
//! momentum 0.9. Repetition `k` gives every optimizer and lr the same initial weights and batch
//! order (paired comparison); the split is one per run.
//!
//! G4's recorded state: Adam trained for a few steps on the same problem; from its moments, the
//! next mini-batch gradient is fed to one step of diffGrad-buggy and one of Adam at lr/2.

use anyhow::Result;
use common::Seed;
use common::data::{Shipped, load_shipped};
use common::models::{Activation, Loss, Mlp, Model, Targets};
use common::optim::{self, Moments, Optimizer, Transform, stateful};
use common::train::{Sampling, TrainConfig, train};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::Config;

/// The optimizers of E2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opt {
    /// Adam (Kingma & Ba, Algorithm 1).
    Adam,
    /// diffGrad, the fixed code (`diffGrad_v2.py`).
    Diffgrad,
    /// diffGrad with the alias of `diffGrad.py`.
    DiffgradBuggy,
    /// Adam at half the learning rate.
    AdamHalf,
    /// AMSGrad (PyTorch's `amsgrad=True` form).
    Amsgrad,
    /// SGD with heavy-ball momentum 0.9, at `sgdm_lr_scale` × the grid's rates.
    Sgdm,
}

impl Opt {
    /// Name for tables and legends.
    pub fn name(self) -> &'static str {
        match self {
            Opt::Adam => "adam",
            Opt::Diffgrad => "diffgrad",
            Opt::DiffgradBuggy => "diffgrad_buggy",
            Opt::AdamHalf => "adam_half_lr",
            Opt::Amsgrad => "amsgrad",
            Opt::Sgdm => "sgdm",
        }
    }

    /// The optimizer at grid rate `lr` (the rate actually used is [`Opt::lr_used`]).
    pub fn build(self, lr: f64, cfg: &Config) -> Box<dyn Optimizer> {
        let (b1, b2, eps) = (cfg.b1, cfg.b2, cfg.eps);
        let lr = self.lr_used(lr, cfg);
        match self {
            Opt::Adam | Opt::AdamHalf => Box::new(stateful(optim::adam(lr, b1, b2, eps))),
            Opt::Diffgrad => Box::new(stateful(optim::diffgrad(lr, b1, b2, eps))),
            Opt::DiffgradBuggy => Box::new(stateful(optim::diffgrad_buggy(lr, b1, b2, eps))),
            Opt::Amsgrad => Box::new(stateful(optim::amsgrad(lr, b1, b2, eps))),
            Opt::Sgdm => Box::new(stateful(optim::momentum(lr, 0.9))),
        }
    }

    /// The learning rate this optimizer runs at for grid rate `lr`.
    pub fn lr_used(self, lr: f64, cfg: &Config) -> f64 {
        match self {
            Opt::AdamHalf => lr / 2.0,
            Opt::Sgdm => lr * cfg.sgdm_lr_scale,
            _ => lr,
        }
    }
}

/// The split data.
#[derive(Clone, Debug)]
pub struct Split {
    /// Training images (rows, pixels / 16).
    pub x_train: Array2<f64>,
    /// Training labels.
    pub y_train: Targets,
    /// Test images.
    pub x_test: Array2<f64>,
    /// Test labels.
    pub y_test: Targets,
}

/// Load the digits and split them `1 − test_frac` / `test_frac` by a seeded permutation.
pub fn split(test_frac: f64, seed: Seed) -> Result<Split> {
    let ds = load_shipped(Shipped::Digits)?;
    let n = ds.n();
    let perm = common::rng::permutation(&mut seed.rng(), n);
    let n_test = ((n as f64) * test_frac).round() as usize;
    let (te, tr) = perm.split_at(n_test);
    let x = ds.x.mapv(|v| v / 16.0);
    let y = ds.classes();
    let pick =
        |idx: &[usize]| (x.select(Axis(0), idx), Targets::Classes(idx.iter().map(|&i| y[i]).collect::<Vec<usize>>()));
    let (x_train, y_train) = pick(tr);
    let (x_test, y_test) = pick(te);
    Ok(Split { x_train, y_train, x_test, y_test })
}

/// The network.
pub fn mlp(cfg: &Config) -> Mlp {
    Mlp::new(&[64, cfg.hidden, 10], Activation::Relu, true, Loss::SoftmaxCe)
}

/// Mini-batch steps per epoch (the remainder is dropped, as `EpochShuffle` does).
pub fn steps_per_epoch(cfg: &Config, n_train: usize) -> usize {
    (n_train / cfg.batch).max(1)
}

/// One E2 run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// Test accuracy at the end.
    #[serde(with = "common::report::json_f64")]
    pub test_acc: f64,
    /// Training loss (full training set) at the end.
    #[serde(with = "common::report::json_f64")]
    pub final_loss: f64,
    /// Training loss at init and after every epoch (diffgrad_buggy and adam_half; the others: at
    /// init and at the end).
    #[serde(with = "common::report::json_f64::vec")]
    pub loss_curve: Vec<f64>,
    /// Whether the run diverged.
    pub diverged: bool,
}

/// Train `opt` at grid rate `lr` from the initial weights and batch order of repetition `rep`.
pub fn run(cfg: &Config, data: &Split, opt: Opt, lr: f64, rep: usize, root: Seed) -> Run {
    let net = mlp(cfg);
    let rs = root.child_idx("rep", rep as u64);
    let mut w = net.init(&mut rs.child("init").rng());
    let n = data.x_train.nrows();
    let spe = steps_per_epoch(cfg, n);
    // the per-epoch training loss only where G4e reads it (the others: at the start and the end)
    let every = if matches!(opt, Opt::DiffgradBuggy | Opt::AdamHalf) { spe } else { 0 };
    let tc = TrainConfig::new(cfg.epochs * spe, cfg.batch, Sampling::EpochShuffle, every);
    let mut o = opt.build(lr, cfg);
    let grad = |w: ndarray::ArrayView1<f64>, idx: &[usize]| {
        let xb = data.x_train.select(Axis(0), idx);
        net.loss_grad(w, xb.view(), &data.y_train.select(idx))
    };
    let eval = |_: usize, w: ndarray::ArrayView1<f64>| {
        vec![("train_loss".to_string(), net.loss(w, data.x_train.view(), &data.y_train))]
    };
    let log = train(&mut w, n, &tc, grad, &mut o, eval, &mut rs.child("batches").rng());
    let loss_curve: Vec<f64> = log.metric("train_loss").iter().map(|p| p.1).collect();
    let test_acc = if log.diverged() {
        0.0
    } else {
        common::models::accuracy(net.forward(w.view(), data.x_test.view()).view(), &data.y_test)
    };
    Run { test_acc, final_loss: loss_curve.last().copied().unwrap_or(f64::NAN), loss_curve, diverged: log.diverged() }
}

/// G4 from a recorded state: the largest relative gap between one diffGrad-buggy step and one
/// Adam step at lr/2, and between the buggy and the fixed diffGrad step (what the alias changes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BugCheck {
    /// The 0-based step at which the state was recorded (t = step + 1 ≥ 2).
    pub step: usize,
    /// The learning rate of the buggy step (Adam runs at half of it).
    pub lr: f64,
    /// max_i |u_buggy − u_adam(lr/2)| / max_i |u_adam(lr/2)|.
    #[serde(with = "common::report::json_f64")]
    pub max_rel_gap: f64,
    /// max_i |u_buggy − u_diffgrad| / max_i |u_diffgrad| (the fixed code differs).
    #[serde(with = "common::report::json_f64")]
    pub gap_to_fixed: f64,
    /// Largest |update| of the buggy step (the scale of the numbers compared).
    #[serde(with = "common::report::json_f64")]
    pub max_update: f64,
    /// The fixed diffGrad's friction coefficient at the recorded state: mean over coordinates.
    #[serde(with = "common::report::json_f64")]
    pub xi_mean: f64,
    /// ... and its maximum (ξ = ½ means diffGrad is Adam at lr/2).
    #[serde(with = "common::report::json_f64")]
    pub xi_max: f64,
}

/// Train Adam for `cfg.bug_steps` steps, record its moments and the previous gradient, then
/// compare one step of `buggy` (a transform over Adam's moments; the real one is
/// [`optim::ScaleByDiffGradBuggy`] chained with the lr) with one Adam step at lr/2 and one fixed
/// diffGrad step from the same state.
pub fn bug_check<T>(cfg: &Config, data: &Split, buggy: &T, lr: f64, root: Seed) -> BugCheck
where
    T: Transform<State = (Moments, ())>,
{
    let net = mlp(cfg);
    let rs = root.child("bug");
    let w0 = net.init(&mut rs.child("init").rng());
    let n = data.x_train.nrows();
    let mut sampler = common::train::BatchSampler::new(n, cfg.batch, Sampling::EpochShuffle);
    let mut rng = rs.child("batches").rng();
    let adam = optim::adam(lr / 2.0, cfg.b1, cfg.b2, cfg.eps);
    let mut w = w0.clone();
    let mut state = adam.init(w.view());
    let mut prev: Array1<f64> = Array1::zeros(w.len());
    let mut g = Array1::zeros(w.len());
    for k in 0..=cfg.bug_steps {
        let idx = sampler.next(&mut rng).to_vec();
        let xb = data.x_train.select(Axis(0), &idx);
        g = net.loss_grad(w.view(), xb.view(), &data.y_train.select(&idx)).1;
        if k == cfg.bug_steps {
            break;
        }
        let u = adam.update(g.view(), &mut state, w.view(), k);
        w += &u;
        prev = g.clone();
    }
    let step = cfg.bug_steps;
    let (mut sb, mut sa) = (state.clone(), state.clone());
    let ub = buggy.update(g.view(), &mut sb, w.view(), step);
    let ua = adam.update(g.view(), &mut sa, w.view(), step);
    let fixed = optim::diffgrad(lr, cfg.b1, cfg.b2, cfg.eps);
    let mut sf = (optim::DiffGradState { moments: state.0.clone(), prev: prev.clone() }, ());
    let uf = fixed.update(g.view(), &mut sf, w.view(), step);
    // the largest coordinate gap relative to the largest update (scale-free: updates are ~lr)
    let rel = |a: &Array1<f64>, b: &Array1<f64>| {
        let scale = b.iter().map(|v| v.abs()).fold(0.0, f64::max);
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale
    };
    let xi: Vec<f64> = prev.iter().zip(&g).map(|(p, g)| 1.0 / (1.0 + (-(p - g).abs()).exp())).collect();
    BugCheck {
        xi_mean: xi.iter().sum::<f64>() / xi.len() as f64,
        xi_max: xi.iter().copied().fold(0.0, f64::max),
        step,
        lr,
        max_rel_gap: rel(&ub, &ua),
        gap_to_fixed: rel(&ub, &uf),
        max_update: ub.iter().map(|v| v.abs()).fold(0.0, f64::max),
    }
}
