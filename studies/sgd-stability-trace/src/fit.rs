//! Training to interpolation with plain GD / SGD (`common::train::train` with
//! `common::optim::sgd`), in chunks so that a run stops as soon as the full training loss is below
//! the target, and a diverged run is recorded, not a crash.
use common::models::{Model, Targets};
use common::optim::{sgd, stateful};
use common::train::{Sampling, TrainConfig, train};
use ndarray::{Array1, ArrayView2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One training run's settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitCfg {
    pub eta: f64,
    /// `None`: full-batch GD; `Some(B)`: SGD with `B` indices drawn with replacement per step.
    pub batch: Option<usize>,
    pub max_steps: usize,
    /// Stop once the full training loss `0.5·mean (f − y)²` is below this.
    pub tol: f64,
    /// Steps between full-loss checks.
    pub check_every: usize,
    /// A mini-batch or full loss above this counts as divergence.
    pub diverge_above: f64,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitResult {
    pub steps: usize,
    pub converged: bool,
    pub diverged: bool,
    /// May be infinite or NaN (a diverged run).
    #[serde(with = "common::report::json_f64")]
    pub final_loss: f64,
}

/// Train `w` in place on `(x, y)` (scalar targets).
pub fn fit<M: Model>(
    model: &M,
    x: ArrayView2<f64>,
    y: &Targets,
    w: &mut Array1<f64>,
    cfg: &FitCfg,
    rng: &mut impl Rng,
) -> FitResult {
    let n = x.nrows();
    let (batch, sampling) = match cfg.batch {
        None => (n, Sampling::FullBatch),
        Some(b) => (b, Sampling::WithReplacement),
    };
    let mut opt = stateful(sgd(cfg.eta));
    let grad = |w: ndarray::ArrayView1<f64>, idx: &[usize]| {
        if sampling == Sampling::FullBatch {
            model.loss_grad(w, x, y)
        } else {
            model.loss_grad(w, x.select(Axis(0), idx).view(), &y.select(idx))
        }
    };
    let mut steps = 0;
    let mut loss = model.loss(w.view(), x, y);
    let chunk = cfg.check_every.max(1);
    while steps < cfg.max_steps && loss >= cfg.tol {
        let k = chunk.min(cfg.max_steps - steps);
        let mut tc = TrainConfig::new(k, batch, sampling, 0);
        tc.diverge_above = Some(cfg.diverge_above);
        let log = train(w, n, &tc, grad, &mut opt, |_, _| vec![], rng);
        steps += log.steps_done;
        common::counters::add_grads(log.steps_done as u64);
        loss = model.loss(w.view(), x, y);
        if log.diverged() || !loss.is_finite() || loss > cfg.diverge_above {
            return FitResult { steps, converged: false, diverged: true, final_loss: loss };
        }
    }
    FitResult { steps, converged: loss < cfg.tol, diverged: false, final_loss: loss }
}
