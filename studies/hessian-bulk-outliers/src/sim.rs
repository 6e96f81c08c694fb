//! The machinery of one cell: the mixture data, the MLP and its training, the spectrum of a
//! trained net (Lanczos and SLQ on exact curvature products), and the small-batch / large-batch
//! pair with the loss along the segment between them.
use crate::Config;
use crate::spectrum::{largest_gap, ratio_after};
use anyhow::Result;
use common::data::synthetic::{Classification, gaussian_mixture};
use common::device::Device;
use common::gpu::{Curvature, mlp_curvature};
use common::linalg::{LinOp, slq, top_eigs};
use common::models::{Activation, Loss, Mlp, Model, Problem, Targets};
use common::optim::OptimizerConfig;
use common::rng::Seed;
use common::train::{Sampling, TrainConfig, train};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

/// Train and test sets of one mixture (same means); the data seed depends on `(k, rep)` only,
/// so every width of a sweep sees the same data.
pub fn make_data(cfg: &Config, k: usize, seed: Seed) -> (Classification, Classification) {
    let n_tr = cfg.n_per_class * k;
    let n_te = cfg.n_test_per_class * k;
    let (all, _) = gaussian_mixture(&mut seed.rng(), n_tr + n_te, cfg.d, k, cfg.mean_norm * 2f64.sqrt(), 1.0);
    let split = |r: std::ops::Range<usize>| Classification {
        x: all.x.slice(ndarray::s![r.clone(), ..]).to_owned(),
        labels: all.labels[r].to_vec(),
        n_classes: k,
    };
    (split(0..n_tr), split(n_tr..n_tr + n_te))
}

/// The `d → h → k` ReLU MLP with biases and softmax cross-entropy.
pub fn mlp(d: usize, h: usize, k: usize) -> Mlp {
    Mlp::new(&[d, h, k], Activation::Relu, true, Loss::SoftmaxCe)
}

/// Parameters of [`mlp`]`(d, h, k)` (weights and biases of both layers), without building it.
pub fn num_params(d: usize, h: usize, k: usize) -> usize {
    d * h + h + h * k + k
}

/// Train from `w` with SGD at `lr`: full batch (GD) when `batch >= n`, else epoch-shuffled
/// mini-batches. Returns the number of updates done, or `None` when the loss, the gradient or the
/// weights stopped being finite (too large a step for the data: the cell is then reported as
/// diverged, with NaN values that fail the claims, instead of stopping the run).
pub fn train_sgd(
    net: &Mlp,
    data: &Classification,
    w: &mut Array1<f64>,
    lr: f64,
    batch: usize,
    steps: usize,
    seed: Seed,
) -> Option<usize> {
    let y = Targets::Classes(data.labels.clone());
    let n = data.n();
    let full = batch >= n;
    let tc = if full {
        TrainConfig::full_batch(steps, 0)
    } else {
        TrainConfig::new(steps, batch, Sampling::EpochShuffle, 0)
    };
    let mut opt = OptimizerConfig::sgd(lr).build();
    let log = train(
        w,
        n,
        &tc,
        |p, idx| {
            if full {
                Problem::new(net, data.x.view(), &y).loss_grad(p)
            } else {
                let xb = data.x.select(Axis(0), idx);
                let yb = y.select(idx);
                Problem::new(net, xb.view(), &yb).loss_grad(p)
            }
        },
        &mut *opt,
        |_, _| vec![],
        &mut seed.rng(),
    );
    (!log.diverged()).then_some(log.steps_done)
}

// ---------------------------------------------------------------------------------------------
// The curvature path (a seam for the planted-bug tests)

/// How a cell gets its spectrum: the curvature operators (the library's exact HVPs and Gauss-Newton
/// products, on the CPU or the GPU) and the Lanczos solver for the top eigenvalues. `measure` uses
/// [`Library`]; the planted-bug tests swap one piece (a negated HVP, a softmax curvature without
/// its −ppᵀ term, Lanczos without re-orthogonalization) and see which gated claims fail.
pub trait Path: Sync {
    /// The Hessian or Gauss-Newton operator of the mean loss of `net` on `(x, y)` at `w`.
    fn curvature<'a>(
        &self,
        device: Device,
        net: &'a Mlp,
        x: ndarray::ArrayView2<'a, f64>,
        y: &'a Targets,
        w: ndarray::ArrayView1<f64>,
        kind: Curvature,
    ) -> Result<Box<dyn LinOp + 'a>> {
        Ok(Box::new(mlp_curvature(device, net, x, y, w, kind)?))
    }
    /// The `k` largest eigenvalues (decreasing) by `m` Lanczos steps from a start drawn from `seed`.
    fn top_eigs(&self, op: &dyn LinOp, k: usize, m: usize, seed: Seed) -> Vec<f64> {
        top_eigs(op, k, m, &mut seed.rng()).0
    }
}

/// The study's path: the library's curvature products and its Lanczos (full re-orthogonalization).
pub struct Library;
impl Path for Library {}

// ---------------------------------------------------------------------------------------------
// One spectrum cell

/// A cell of the spectrum grid (its JSON is the cell's seed: keep the fields and their order).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpecCell {
    pub k: usize,
    pub h: usize,
    pub rep: usize,
    pub slq: bool,
}

/// The spectrum of one trained net.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpecResult {
    pub k: usize,
    pub h: usize,
    pub rep: usize,
    pub params: usize,
    #[serde(with = "common::report::json_f64")]
    pub train_loss: f64,
    #[serde(with = "common::report::json_f64")]
    pub train_acc: f64,
    /// Top `2k + 2` Hessian eigenvalues, decreasing.
    #[serde(with = "common::report::json_f64::vec")]
    pub top: Vec<f64>,
    /// Top `2k + 2` Gauss-Newton eigenvalues, decreasing.
    #[serde(with = "common::report::json_f64::vec")]
    pub ggn_top: Vec<f64>,
    /// SLQ nodes and weights per probe (empty unless `slq`).
    pub slq: Vec<(Vec<f64>, Vec<f64>)>,
    /// Training diverged: every eigenvalue and loss is NaN.
    pub diverged: bool,
}

impl SpecResult {
    /// Outlier count and the ratio at the largest gap.
    pub fn gap(&self) -> (usize, f64) {
        largest_gap(&self.top)
    }
    /// λ_{k-1} / λ_k: the gap after k − 1 outliers.
    pub fn ratio_km1(&self) -> f64 {
        ratio_after(&self.top, self.k - 1)
    }
    /// λ_k: the top of the bulk when there are k − 1 outliers.
    pub fn bulk_edge(&self) -> f64 {
        self.top[self.k - 1]
    }
}

/// One spectrum cell. The Lanczos/SLQ products run on `device` (the GPU HVP under
/// `--device cuda`; training stays on the CPU).
pub fn spectrum_cell(
    cfg: &Config,
    c: &SpecCell,
    data_seed: Seed,
    seed: Seed,
    device: Device,
    path: &dyn Path,
) -> Result<SpecResult> {
    let (data, _) = make_data(cfg, c.k, data_seed);
    let net = mlp(cfg.d, c.h, c.k);
    let mut w = net.init(&mut seed.child("init").rng());
    let m = 2 * c.k + 2;
    if train_sgd(&net, &data, &mut w, cfg.lr, usize::MAX, cfg.steps, seed.child("train")).is_none() {
        let nan = vec![f64::NAN; m];
        let (k, h, rep, params) = (c.k, c.h, c.rep, net.num_params());
        let (train_loss, train_acc) = (f64::NAN, f64::NAN);
        return Ok(SpecResult {
            k,
            h,
            rep,
            params,
            train_loss,
            train_acc,
            top: nan.clone(),
            ggn_top: nan,
            slq: vec![],
            diverged: true,
        });
    }
    let y = Targets::Classes(data.labels.clone());
    let prob = Problem::new(&net, data.x.view(), &y);
    let hess = path.curvature(device, &net, data.x.view(), &y, w.view(), Curvature::Hessian)?;
    let ggn = path.curvature(device, &net, data.x.view(), &y, w.view(), Curvature::GaussNewton)?;
    let top = path.top_eigs(&*hess, m, cfg.lanczos_steps, seed.child("lanczos"));
    let ggn_top = path.top_eigs(&*ggn, m, cfg.lanczos_steps, seed.child("ggn"));
    let slq_out = if c.slq { slq(&*hess, cfg.slq_probes, cfg.slq_steps, &mut seed.child("slq").rng()) } else { vec![] };
    Ok(SpecResult {
        k: c.k,
        h: c.h,
        rep: c.rep,
        params: net.num_params(),
        train_loss: prob.loss(w.view()),
        train_acc: prob.accuracy(w.view()),
        top,
        ggn_top,
        slq: slq_out,
        diverged: false,
    })
}

// ---------------------------------------------------------------------------------------------
// Small batch vs large batch

/// One LB/SB pair and the losses along the segment between the two solutions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LbsbResult {
    pub rep: usize,
    /// t = 0 is θ_LB, t = 1 is θ_SB.
    pub t: Vec<f64>,
    #[serde(with = "common::report::json_f64::vec")]
    pub train_loss: Vec<f64>,
    #[serde(with = "common::report::json_f64::vec")]
    pub test_loss: Vec<f64>,
    pub sb_steps: usize,
    pub lb_steps: usize,
    #[serde(with = "common::report::json_f64")]
    pub dist: f64,
    /// One of the two trainings diverged: the losses and the distance are NaN.
    pub diverged: bool,
}

impl LbsbResult {
    /// The largest training loss on the segment.
    pub fn max_loss(&self) -> f64 {
        self.train_loss.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
    }
    /// Max over the segment of the training loss minus the larger endpoint loss.
    pub fn barrier(&self) -> f64 {
        let ends = self.train_loss[0].max(self.train_loss[self.train_loss.len() - 1]);
        self.max_loss() - ends
    }
}

/// One LB/SB pair from one initialization: GD on the full batch and SGD with `sb_batch`, the same
/// number of epochs, then the train and test loss at `interp_points` points of the segment.
pub fn lbsb_cell(cfg: &Config, rep: usize, data_seed: Seed, seed: Seed) -> Result<LbsbResult> {
    let k = cfg.lbsb_k;
    let (data, test) = make_data(cfg, k, data_seed);
    let net = mlp(cfg.d, cfg.lbsb_h, k);
    let w0 = net.init(&mut seed.child("init").rng());
    let n = data.n();
    let mut w_lb = w0.clone();
    let lb_steps = train_sgd(&net, &data, &mut w_lb, cfg.lr, n, cfg.lbsb_epochs, seed.child("lb"));
    let mut w_sb = w0;
    let sb_steps_per_epoch = n / cfg.sb_batch;
    let sb_steps =
        train_sgd(&net, &data, &mut w_sb, cfg.lr, cfg.sb_batch, cfg.lbsb_epochs * sb_steps_per_epoch, seed.child("sb"));
    let ytr = Targets::Classes(data.labels.clone());
    let yte = Targets::Classes(test.labels.clone());
    let ptr = Problem::new(&net, data.x.view(), &ytr);
    let pte = Problem::new(&net, test.x.view(), &yte);
    let np = cfg.interp_points;
    let t: Vec<f64> = (0..np).map(|i| i as f64 / (np - 1) as f64).collect();
    let (Some(lb_steps), Some(sb_steps)) = (lb_steps, sb_steps) else {
        let nan = vec![f64::NAN; np];
        let (lb_steps, sb_steps) = (lb_steps.unwrap_or(0), sb_steps.unwrap_or(0));
        let (train_loss, test_loss, dist, diverged) = (nan.clone(), nan, f64::NAN, true);
        return Ok(LbsbResult { rep, t, train_loss, test_loss, sb_steps, lb_steps, dist, diverged });
    };
    let at = |s: f64| &w_lb * (1.0 - s) + &w_sb * s;
    let train_loss = t.iter().map(|&s| ptr.loss(at(s).view())).collect();
    let test_loss = t.iter().map(|&s| pte.loss(at(s).view())).collect();
    let dist = (&w_sb - &w_lb).mapv(|v| v * v).sum().sqrt();
    Ok(LbsbResult { rep, t, train_loss, test_loss, sb_steps, lb_steps, dist, diverged: false })
}

/// The dense Hessian of a small problem from exact HVP columns (for tests and reviewers).
pub fn dense_hessian(net: &Mlp, x: ndarray::ArrayView2<f64>, y: &Targets, w: ndarray::ArrayView1<f64>) -> Array2<f64> {
    Problem::new(net, x, y).hessian(w)
}
