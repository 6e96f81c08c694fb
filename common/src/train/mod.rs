//! The training loop: mini-batches, steps, evaluation hooks that append rows to a log, and
//! divergence / NaN detection (a diverged run is a result to record, not a crash).
//!
//! Step convention: step `s` (0-based) samples a batch, evaluates the loss and gradient at the
//! current parameters and applies the optimizer's update. An evaluation "at step `s`" sees the
//! parameters after `s` updates; the hook runs at step 0, every `eval_every` steps, and after the
//! last step.
use ndarray::{Array1, ArrayView1};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::optim::Optimizer;

pub mod adaptive;
pub mod sharpness;

/// How mini-batches are drawn from `0..n_samples`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// Each batch: `batch_size` i.i.d. uniform indices.
    #[default]
    WithReplacement,
    /// Reshuffle every epoch and walk through the permutation in batches of `batch_size`; the
    /// remainder of an epoch that does not fill a batch is dropped (every batch has the same size;
    /// a different remainder every epoch).
    EpochShuffle,
    /// Every batch is all of `0..n_samples` (gradient descent); `batch_size` is ignored.
    FullBatch,
}

/// The loop's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Number of optimizer steps (updates) to take.
    pub steps: usize,
    /// Samples per mini-batch (ignored for [`Sampling::FullBatch`]).
    pub batch_size: usize,
    /// How mini-batches are drawn.
    pub sampling: Sampling,
    /// Evaluate every this many steps (0: only at the start and the end).
    pub eval_every: usize,
    /// Also count as diverged when the batch loss exceeds this (None: only NaN / infinity).
    #[serde(default)]
    pub diverge_above: Option<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 1000,
            batch_size: 32,
            sampling: Sampling::WithReplacement,
            eval_every: 100,
            diverge_above: None,
        }
    }
}

impl TrainConfig {
    /// Settings with no loss threshold for divergence (only NaN / infinity count).
    pub fn new(steps: usize, batch_size: usize, sampling: Sampling, eval_every: usize) -> Self {
        TrainConfig { steps, batch_size, sampling, eval_every, diverge_above: None }
    }
    /// Full-batch gradient descent for `steps` steps.
    pub fn full_batch(steps: usize, eval_every: usize) -> Self {
        TrainConfig { steps, batch_size: 0, sampling: Sampling::FullBatch, eval_every, diverge_above: None }
    }
}

/// Draws mini-batches of indices according to a [`Sampling`].
#[derive(Clone, Debug)]
pub struct BatchSampler {
    n: usize,
    batch: usize,
    sampling: Sampling,
    perm: Vec<usize>,
    pos: usize,
    buf: Vec<usize>,
    /// Completed epochs (EpochShuffle).
    pub epochs: usize,
}

impl BatchSampler {
    /// A sampler over `0..n_samples` (which must be positive). The batch size is clamped to
    /// `1..=n_samples` for [`Sampling::EpochShuffle`] and to at least 1 for
    /// [`Sampling::WithReplacement`].
    pub fn new(n_samples: usize, batch_size: usize, sampling: Sampling) -> Self {
        assert!(n_samples > 0, "BatchSampler: no samples");
        let batch = match sampling {
            Sampling::FullBatch => n_samples,
            Sampling::EpochShuffle => batch_size.clamp(1, n_samples),
            Sampling::WithReplacement => batch_size.max(1),
        };
        let buf = if sampling == Sampling::FullBatch { (0..n_samples).collect() } else { vec![] };
        BatchSampler { n: n_samples, batch, sampling, perm: vec![], pos: 0, buf, epochs: 0 }
    }

    /// The next batch of indices.
    pub fn next(&mut self, rng: &mut impl Rng) -> &[usize] {
        match self.sampling {
            Sampling::FullBatch => {}
            Sampling::WithReplacement => {
                self.buf.clear();
                let n = self.n;
                self.buf.extend((0..self.batch).map(|_| rng.random_range(0..n)));
            }
            Sampling::EpochShuffle => {
                if self.perm.is_empty() || self.pos + self.batch > self.n {
                    if !self.perm.is_empty() {
                        self.epochs += 1;
                    }
                    self.perm = crate::rng::permutation(rng, self.n);
                    self.pos = 0;
                }
                self.buf.clear();
                self.buf.extend_from_slice(&self.perm[self.pos..self.pos + self.batch]);
                self.pos += self.batch;
            }
        }
        &self.buf
    }
}

/// One evaluation: the step and the named metrics the hook returned.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRow {
    /// The step: the number of updates applied before the evaluation.
    pub step: usize,
    /// `(name, value)` pairs, in the hook's order.
    pub metrics: Vec<(String, f64)>,
}

/// What a run produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainLog {
    /// Evaluation rows in step order.
    pub rows: Vec<LogRow>,
    /// The mini-batch loss at every step taken (including a non-finite one that stopped the run).
    pub batch_losses: Vec<f64>,
    /// The step at which divergence was detected: a non-finite (or too large) batch loss or
    /// gradient at step `s` gives `Some(s)` (that update was not applied); non-finite parameters
    /// after the update of step `s` give `Some(s + 1)`.
    pub diverged_at: Option<usize>,
    /// Updates applied.
    pub steps_done: usize,
}

impl TrainLog {
    /// Whether the run diverged (see [`TrainLog::diverged_at`]).
    pub fn diverged(&self) -> bool {
        self.diverged_at.is_some()
    }

    /// Metric names in order of first appearance.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = vec![];
        for r in &self.rows {
            for (k, _) in &r.metrics {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        names
    }

    /// `(step, value)` of one metric over the run.
    pub fn metric(&self, name: &str) -> Vec<(usize, f64)> {
        self.rows.iter().filter_map(|r| r.metrics.iter().find(|(k, _)| k == name).map(|(_, v)| (r.step, *v))).collect()
    }

    /// The last recorded value of a metric.
    pub fn last(&self, name: &str) -> Option<f64> {
        self.metric(name).last().map(|x| x.1)
    }
}

/// Run the loop. `grad_fn(params, batch)` returns the mini-batch loss and its gradient;
/// `eval(step, params)` returns named metrics to record. Stops early, without panicking, on
/// divergence (see [`TrainLog::diverged_at`]); `params` then hold the last parameters.
pub fn train<G, E, O>(
    params: &mut Array1<f64>,
    n_samples: usize,
    cfg: &TrainConfig,
    mut grad_fn: G,
    optimizer: &mut O,
    mut eval: E,
    rng: &mut impl Rng,
) -> TrainLog
where
    G: FnMut(ArrayView1<f64>, &[usize]) -> (f64, Array1<f64>),
    E: FnMut(usize, ArrayView1<f64>) -> Vec<(String, f64)>,
    O: Optimizer + ?Sized,
{
    let mut log = TrainLog::default();
    let mut sampler = BatchSampler::new(n_samples, cfg.batch_size, cfg.sampling);
    log.rows.push(LogRow { step: 0, metrics: eval(0, params.view()) });
    for s in 0..cfg.steps {
        let batch = sampler.next(rng);
        let (loss, g) = grad_fn(params.view(), batch);
        log.batch_losses.push(loss);
        let too_big = cfg.diverge_above.is_some_and(|t| loss > t);
        if !loss.is_finite() || too_big || !g.iter().all(|x| x.is_finite()) {
            log.diverged_at = Some(s);
            break;
        }
        optimizer.step(params, g.view());
        log.steps_done = s + 1;
        if !params.iter().all(|x| x.is_finite()) {
            log.diverged_at = Some(s + 1);
            break;
        }
        let due = cfg.eval_every > 0 && (s + 1) % cfg.eval_every == 0;
        if due || s + 1 == cfg.steps {
            log.rows.push(LogRow { step: s + 1, metrics: eval(s + 1, params.view()) });
        }
    }
    log
}

#[cfg(test)]
mod tests;
