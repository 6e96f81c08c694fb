//! Adaptive batch sizes: the batch of step `k + 1` is chosen by a test on the per-sample gradient
//! statistics of step `k` ([`GradStats`]), never smaller than the batch of step `k`, capped at a
//! maximum: the norm test (Byrd, Chin, Nocedal & Wu 2012), the inner-product test and its
//! augmented "ip + orth" form (Bollapragada, Byrd & Nocedal 2018), as the official AdAdaGrad code
//! (`timlautk/AdAdaGrad`, `tests.py`) evaluates them, and the coordinate-wise norm test of
//! AdAdaGrad (Lau, Liu & Kolar 2024). With `b` the current batch and `ḡ` its mean gradient:
//!
//! | test | proposal `r` |
//! |---|---|
//! | norm (η) | `‖Var̂(g_i)‖₁ / (η² ‖ḡ‖²)` |
//! | inner product (θ) | `Var̂(⟨g_i, ḡ⟩) / (θ² ‖ḡ‖⁴)` |
//! | ip + orth (θ, ν) | `max(Var̂(⟨g_i, ḡ⟩) / (θ² ‖ḡ‖⁴), Σ_j Var̂_j(g_i − ⟨g_i, ḡ⟩ḡ/‖ḡ‖²) / (ν² ‖ḡ‖²))` |
//! | coordinate-wise norm (η) | `max_j Var̂_j(g_i) / (η² ḡ_j²)` over coordinates with `Var̂_j > 0` |
//!
//! (variances with correction 1) and the next batch is `min(max(b, ⌈r⌉), b_max)` (`tests.py`:
//! `if new > b: b = new; ceil(b)`, then `main.py`: `min(b, max_batch_size)`). A proposal that is
//! infinite (`ḡ = 0` or `ḡ_j = 0` with spread) gives `b_max`; an undefined one (NaN: fewer than two
//! samples, or `0/0`) keeps `b`. As in `main.py`, the test is skipped once `b = b_max`.
//!
//! The coordinate-wise test is not in the official code (which has norm, ip and ip+orth); it
//! follows the paper's coordinate-wise condition `Var_j / b ≤ η² (∂_j F)²` for every `j`.
//!
//! [`train_adaptive`] is the loop (the fixed-batch [`super::train`] is untouched): each step draws
//! `b` distinct indices uniformly (without replacement inside the batch, independently across
//! steps), asks the caller for the statistics at the current parameters, updates with the mean
//! gradient, then runs the test.
use ndarray::{Array1, ArrayView1};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::LogRow;
use crate::models::per_sample::GradStats;
use crate::optim::Optimizer;

/// How the next batch size is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BatchTest {
    /// No test: the batch stays at its start value.
    Constant,
    /// The norm test with tolerance `eta`.
    Norm {
        /// Tolerance η.
        eta: f64,
    },
    /// The inner-product test with tolerance `theta`.
    InnerProduct {
        /// Tolerance θ.
        theta: f64,
    },
    /// The augmented inner-product test (inner product and orthogonality).
    IpOrth {
        /// Inner-product tolerance θ.
        theta: f64,
        /// Orthogonality tolerance ν.
        nu: f64,
    },
    /// The coordinate-wise norm test (AdAdaGrad) with tolerance `eta`.
    CoordNorm {
        /// Tolerance η.
        eta: f64,
    },
}

impl BatchTest {
    /// Whether the test reads the per-coordinate sums of squares.
    pub fn needs_coords(&self) -> bool {
        matches!(self, BatchTest::CoordNorm { .. })
    }

    /// The raw proposal `r` (before the ceiling, the monotone rule and the cap); NaN for
    /// [`BatchTest::Constant`] and where the statistics leave it undefined.
    pub fn proposal(&self, s: &GradStats) -> f64 {
        let g2 = s.mean_sq_norm();
        match *self {
            BatchTest::Constant => f64::NAN,
            BatchTest::Norm { eta } => s.var_l1() / (eta * eta * g2),
            BatchTest::InnerProduct { theta } => s.var_inner() / (theta * theta * g2 * g2),
            BatchTest::IpOrth { theta, nu } => {
                let ip = s.var_inner() / (theta * theta * g2 * g2);
                let orth = s.var_orth() / (nu * nu * g2);
                if g2 == 0.0 && s.n >= 2 { f64::INFINITY } else { ip.max(orth) }
            }
            BatchTest::CoordNorm { eta } => {
                let Some(var) = s.coord_var() else { return f64::NAN };
                let mut r = 0.0f64;
                for (&v, &m) in var.iter().zip(&s.mean) {
                    if v > 0.0 {
                        r = r.max(v / (eta * eta * m * m));
                    }
                }
                r
            }
        }
    }

    /// A short label ("norm η=0.1", ...).
    pub fn label(&self) -> String {
        match *self {
            BatchTest::Constant => "constant".into(),
            BatchTest::Norm { eta } => format!("norm η={eta}"),
            BatchTest::InnerProduct { theta } => format!("ip θ={theta}"),
            BatchTest::IpOrth { theta, nu } => format!("ip+orth θ={theta} ν={nu}"),
            BatchTest::CoordNorm { eta } => format!("coord η={eta}"),
        }
    }
}

/// The next batch size from a raw proposal: `min(max(b, ⌈r⌉), b_max)`; infinite `r` gives
/// `b_max`, NaN keeps `b`.
pub fn next_batch_size(current: usize, max: usize, proposal: f64) -> usize {
    let b = if proposal.is_nan() {
        current
    } else if proposal >= max as f64 {
        max
    } else {
        current.max(proposal.ceil() as usize)
    };
    b.min(max).max(current.min(max))
}

/// Draws batches of a size that can change between steps: `b` distinct indices of `0..n`,
/// uniformly (a partial Fisher–Yates shuffle of a persistent index pool), fresh every step.
#[derive(Clone, Debug)]
pub struct VariableBatchSampler {
    pool: Vec<usize>,
    b: usize,
}

impl VariableBatchSampler {
    /// A sampler over `0..n` (positive) starting at batch `b0` (clamped to `1..=n`).
    pub fn new(n: usize, b0: usize) -> Self {
        assert!(n > 0, "VariableBatchSampler: no samples");
        VariableBatchSampler { pool: (0..n).collect(), b: b0.clamp(1, n) }
    }
    /// The current batch size.
    pub fn batch_size(&self) -> usize {
        self.b
    }
    /// Set the batch size (clamped to `1..=n`).
    pub fn set_batch_size(&mut self, b: usize) {
        self.b = b.clamp(1, self.pool.len());
    }
    /// The next batch.
    pub fn next(&mut self, rng: &mut impl Rng) -> &[usize] {
        let n = self.pool.len();
        if self.b == n {
            return &self.pool;
        }
        for i in 0..self.b {
            let j = rng.random_range(i..n);
            self.pool.swap(i, j);
        }
        &self.pool[..self.b]
    }
}

/// The adaptive loop's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveConfig {
    /// Optimizer steps.
    pub steps: usize,
    /// The first batch size.
    pub b0: usize,
    /// The cap on the batch size (clamped to the number of samples).
    pub max_batch: usize,
    /// The test that grows the batch.
    pub test: BatchTest,
    /// Steps (after that many updates) at which to evaluate, besides 0 and the last.
    pub eval_steps: Vec<usize>,
    /// Stop after an evaluation whose metric of this name is below the value (e.g. a squared
    /// gradient norm at the floating-point floor); `None`: run all steps.
    #[serde(default)]
    pub stop_below: Option<(String, f64)>,
    /// Stop once this many samples have been processed (the official code's `max_samples`);
    /// `None`: no budget.
    #[serde(default)]
    pub max_samples: Option<u64>,
}

/// What an adaptive run produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdaptiveLog {
    /// Evaluation rows in step order.
    pub rows: Vec<LogRow>,
    /// The batch size used at every step taken.
    pub batches: Vec<usize>,
    /// The test's raw proposal at every step (NaN where the test was skipped or undefined).
    pub proposals: Vec<f64>,
    /// The mini-batch loss at every step taken.
    pub batch_losses: Vec<f64>,
    /// The step at which a non-finite loss, gradient or parameter stopped the run (as
    /// [`super::TrainLog::diverged_at`]).
    pub diverged_at: Option<usize>,
    /// Updates applied.
    pub steps_done: usize,
    /// The step of the evaluation that met [`AdaptiveConfig::stop_below`], or at which the
    /// sample budget [`AdaptiveConfig::max_samples`] was spent (an evaluation is recorded there).
    pub stopped_at: Option<usize>,
}

impl AdaptiveLog {
    /// Samples processed after `k` updates (the sum of the first `k` batch sizes).
    pub fn samples_after(&self, k: usize) -> u64 {
        self.batches.iter().take(k).map(|&b| b as u64).sum()
    }
    /// `(step, value)` of one metric over the run.
    pub fn metric(&self, name: &str) -> Vec<(usize, f64)> {
        self.rows.iter().filter_map(|r| r.metrics.iter().find(|(k, _)| k == name).map(|(_, v)| (r.step, *v))).collect()
    }
}

/// Run the adaptive-batch loop. `stats_fn(params, batch, coords)` returns the batch's per-sample
/// gradient statistics (with the coordinate sums if `coords`); the optimizer steps along their
/// mean. `eval(step, params)` runs at step 0, at `cfg.eval_steps` and after the last step.
pub fn train_adaptive<S, E, O>(
    params: &mut Array1<f64>,
    n_samples: usize,
    cfg: &AdaptiveConfig,
    mut stats_fn: S,
    optimizer: &mut O,
    mut eval: E,
    rng: &mut impl Rng,
) -> AdaptiveLog
where
    S: FnMut(ArrayView1<f64>, &[usize], bool) -> GradStats,
    E: FnMut(usize, ArrayView1<f64>) -> Vec<(String, f64)>,
    O: Optimizer + ?Sized,
{
    let max = cfg.max_batch.clamp(1, n_samples);
    let mut sampler = VariableBatchSampler::new(n_samples, cfg.b0.min(max));
    let mut log = AdaptiveLog::default();
    log.rows.push(LogRow { step: 0, metrics: eval(0, params.view()) });
    let mut next_eval = cfg.eval_steps.iter().copied().filter(|&s| s > 0).collect::<Vec<_>>();
    next_eval.sort_unstable();
    next_eval.dedup();
    let mut ei = 0;
    let mut samples = 0u64;
    for s in 0..cfg.steps {
        if cfg.max_samples.is_some_and(|m| samples >= m) {
            if log.rows.last().is_none_or(|r| r.step != s) {
                log.rows.push(LogRow { step: s, metrics: eval(s, params.view()) });
            }
            log.stopped_at = Some(s);
            break;
        }
        let b = sampler.batch_size();
        let testing = cfg.test != BatchTest::Constant && b < max;
        let batch = sampler.next(rng);
        let st = stats_fn(params.view(), batch, testing && cfg.test.needs_coords());
        log.batches.push(b);
        samples += b as u64;
        log.batch_losses.push(st.loss);
        if !st.loss.is_finite() || !st.mean.iter().all(|x| x.is_finite()) {
            log.proposals.push(f64::NAN);
            log.diverged_at = Some(s);
            break;
        }
        optimizer.step(params, st.mean.view());
        log.steps_done = s + 1;
        let r = if testing { cfg.test.proposal(&st) } else { f64::NAN };
        log.proposals.push(r);
        if testing {
            sampler.set_batch_size(next_batch_size(b, max, r));
        }
        if !params.iter().all(|x| x.is_finite()) {
            log.diverged_at = Some(s + 1);
            break;
        }
        while ei < next_eval.len() && next_eval[ei] < s + 1 {
            ei += 1;
        }
        let due = ei < next_eval.len() && next_eval[ei] == s + 1;
        if due || s + 1 == cfg.steps {
            let metrics = eval(s + 1, params.view());
            let stop =
                cfg.stop_below.as_ref().is_some_and(|(name, v)| metrics.iter().any(|(k, x)| k == name && *x < *v));
            log.rows.push(LogRow { step: s + 1, metrics });
            if stop {
                log.stopped_at = Some(s + 1);
                break;
            }
        }
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::per_sample::GradStats;
    use crate::optim::{stateful, transform::sgd};
    use crate::rng::Seed;
    use ndarray::{Array2, arr2};

    fn stats(rows: &[[f64; 2]]) -> GradStats {
        let g = Array2::from_shape_vec((rows.len(), 2), rows.iter().flatten().copied().collect()).unwrap();
        GradStats::from_rows(g.view(), 0.0, true)
    }

    #[test]
    fn hand_computed_proposals() {
        // g = (1, 0), (3, 2): ḡ = (2, 1), ‖ḡ‖² = 5, Var = (2, 2), ‖Var‖₁ = 4,
        // ⟨g_i, ḡ⟩ = (2, 8), Var̂ = 18; orth: 0.4.
        let s = stats(&[[1.0, 0.0], [3.0, 2.0]]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12 * b.abs().max(1.0);
        // Norm: 4 / (0.25 · 5) = 3.2 → ⌈3.2⌉ = 4.
        let r = BatchTest::Norm { eta: 0.5 }.proposal(&s);
        assert!(close(r, 3.2), "{r}");
        assert_eq!(next_batch_size(2, 100, r), 4);
        // Inner product: 18 / (0.25 · 25) = 2.88 → 3.
        let r = BatchTest::InnerProduct { theta: 0.5 }.proposal(&s);
        assert!(close(r, 2.88), "{r}");
        assert_eq!(next_batch_size(2, 100, r), 3);
        // ip+orth with ν = 0.1: max(2.88, 0.4 / (0.01 · 5) = 8) = 8.
        let r = BatchTest::IpOrth { theta: 0.5, nu: 0.1 }.proposal(&s);
        assert!(close(r, 8.0), "{r}");
        // Coordinate-wise: max(2 / (0.25 · 4), 2 / (0.25 · 1)) = 8.
        let r = BatchTest::CoordNorm { eta: 0.5 }.proposal(&s);
        assert!(close(r, 8.0), "{r}");
        // Constant: no proposal.
        assert!(BatchTest::Constant.proposal(&s).is_nan());
    }

    #[test]
    fn batch_rule_is_monotone_capped_and_handles_edges() {
        assert_eq!(next_batch_size(10, 100, 3.2), 10); // never decreases
        assert_eq!(next_batch_size(10, 100, 10.0), 10);
        assert_eq!(next_batch_size(10, 100, 10.000001), 11); // ceiling
        assert_eq!(next_batch_size(10, 100, 1e9), 100); // cap
        assert_eq!(next_batch_size(10, 100, f64::INFINITY), 100);
        assert_eq!(next_batch_size(10, 100, f64::NAN), 10);
        // ḡ = 0 with spread: infinite proposal.
        let s = stats(&[[1.0, -1.0], [-1.0, 1.0]]);
        assert_eq!(BatchTest::Norm { eta: 0.1 }.proposal(&s), f64::INFINITY);
        // A coordinate with no spread and zero mean is skipped, not NaN.
        let s = stats(&[[1.0, 0.0], [3.0, 0.0]]);
        assert!(close_to(BatchTest::CoordNorm { eta: 1.0 }.proposal(&s), 2.0 / 4.0));
        // One sample: undefined, keep the batch.
        let s = stats(&[[1.0, 0.0]]);
        assert!(BatchTest::Norm { eta: 0.1 }.proposal(&s).is_nan());
    }

    fn close_to(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn sampler_draws_distinct_indices() {
        let mut s = VariableBatchSampler::new(10, 4);
        let mut rng = Seed(1).rng();
        for b in [4, 7, 10, 3] {
            s.set_batch_size(b);
            let mut v = s.next(&mut rng).to_vec();
            assert_eq!(v.len(), b);
            v.sort_unstable();
            v.dedup();
            assert_eq!(v.len(), b);
            assert!(v.iter().all(|&i| i < 10));
        }
    }

    /// A 1-D problem with per-sample gradients g_i(x) = x − c_i: the norm test from b = 2 grows
    /// the batch monotonically to the cap as x → mean(c) (‖ḡ‖ → 0 while the spread stays).
    #[test]
    fn loop_grows_batch_monotonically_to_the_cap() {
        let c: Vec<f64> = (0..50).map(|i| (i as f64 * 0.37).sin()).collect();
        let cfg = AdaptiveConfig {
            steps: 200,
            b0: 2,
            max_batch: 40,
            test: BatchTest::Norm { eta: 0.5 },
            eval_steps: vec![10, 100],
            stop_below: None,
            max_samples: None,
        };
        let mut x = ndarray::arr1(&[3.0]);
        let mut opt = stateful(sgd(0.2));
        let stats_fn = |p: ndarray::ArrayView1<f64>, idx: &[usize], _: bool| {
            let g = Array2::from_shape_fn((idx.len(), 1), |(i, _)| p[0] - c[idx[i]]);
            GradStats::from_rows(g.view(), 0.0, false)
        };
        let log = train_adaptive(
            &mut x,
            c.len(),
            &cfg,
            stats_fn,
            &mut opt,
            |_, p| vec![("x".into(), p[0])],
            &mut Seed(3).rng(),
        );
        assert_eq!(log.steps_done, 200);
        assert_eq!(log.batches[0], 2);
        assert!(log.batches.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*log.batches.last().unwrap(), 40);
        assert_eq!(log.stopped_at, None);
        assert_eq!(log.rows.iter().map(|r| r.step).collect::<Vec<_>>(), vec![0, 10, 100, 200]);
        assert_eq!(log.samples_after(3), log.batches[..3].iter().map(|&b| b as u64).sum::<u64>());
        // Once at the cap, the test is skipped (NaN proposals).
        let first_cap = log.batches.iter().position(|&b| b == 40).unwrap();
        assert!(log.proposals[first_cap..].iter().all(|r| r.is_nan()));
        let _ = arr2(&[[0.0]]);
        // The same run stopped once |x - mean(c)| is small.
        let cm = c.iter().sum::<f64>() / c.len() as f64;
        let cfg2 = AdaptiveConfig { eval_steps: (1..200).collect(), stop_below: Some(("gap".into(), 1e-3)), ..cfg };
        let mut x = ndarray::arr1(&[3.0]);
        let mut opt = stateful(sgd(0.2));
        let log2 = train_adaptive(
            &mut x,
            c.len(),
            &cfg2,
            stats_fn,
            &mut opt,
            |_, p| vec![("gap".into(), (p[0] - cm).abs())],
            &mut Seed(3).rng(),
        );
        let k = log2.stopped_at.expect("stops");
        assert_eq!(log2.steps_done, k);
        assert!((x[0] - cm).abs() < 1e-3 && k < 200);
    }

    #[test]
    fn constant_test_keeps_the_batch() {
        let cfg = AdaptiveConfig {
            steps: 5,
            b0: 3,
            max_batch: 10,
            test: BatchTest::Constant,
            eval_steps: vec![],
            stop_below: None,
            max_samples: None,
        };
        let mut x = ndarray::arr1(&[1.0]);
        let mut opt = stateful(sgd(0.1));
        let log = train_adaptive(
            &mut x,
            10,
            &cfg,
            |p, idx: &[usize], _| GradStats::from_rows(Array2::from_elem((idx.len(), 1), p[0]).view(), 0.0, false),
            &mut opt,
            |_, _| vec![],
            &mut Seed(0).rng(),
        );
        assert_eq!(log.batches, vec![3; 5]);
        // A budget of 7 samples: steps of 3, 3, then 6 ≥ 7 is false, 9 ≥ 7 stops before step 3.
        let cfg = AdaptiveConfig { max_samples: Some(7), ..cfg };
        let mut x = ndarray::arr1(&[1.0]);
        let log = train_adaptive(
            &mut x,
            10,
            &cfg,
            |p, idx: &[usize], _| GradStats::from_rows(Array2::from_elem((idx.len(), 1), p[0]).view(), 0.0, false),
            &mut stateful(sgd(0.1)),
            |_, _| vec![],
            &mut Seed(0).rng(),
        );
        assert_eq!(log.batches, vec![3; 3]);
        assert_eq!(log.stopped_at, Some(3));
        assert_eq!(log.rows.last().unwrap().step, 3);
    }
}
