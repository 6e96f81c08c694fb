//! One training run (AdaGrad-Norm or AdaGrad with a batch-size test) and the statistics read off
//! its trace: K(ε), the log K(ε) vs log 1/ε slope, the bound-form ratio of K·min‖∇F‖².
use common::Seed;
use common::device::Device;
use common::models::per_sample::GradStats;
use common::models::{Model, Targets};
use common::optim::{Optimizer, adagrad, adagrad_norm, stateful};
use common::train::adaptive::{AdaptiveConfig, BatchTest, train_adaptive};
use ndarray::{Array1, Array2, ArrayView1, Axis};
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::problems::Problem;

/// The optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptKind {
    /// AdaGrad-Norm (Ward, Wu & Bottou): `x ← x − lr g/√(b0² + Σ‖g‖²)`.
    AdagradNorm,
    /// Diagonal AdaGrad: `x ← x − lr g/(√(Σ g²) + 1e-10)`.
    Adagrad,
}

impl OptKind {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            OptKind::AdagradNorm => "adagrad_norm",
            OptKind::Adagrad => "adagrad",
        }
    }
    /// From the name.
    pub fn from_name(s: &str) -> Option<OptKind> {
        [OptKind::AdagradNorm, OptKind::Adagrad].into_iter().find(|o| o.name() == s)
    }
}

/// A batch schedule: a test and the start batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Label (the sweep's axis value): "const 16", "norm 0.5", "coord 1", "ip 0.5", "ip+orth 0.5".
    pub label: String,
    /// The test.
    pub test: BatchTest,
    /// The first batch size.
    pub b0: usize,
}

/// A planted bug, for the tests that see a gated claim fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// No bug.
    None,
    /// The variance of the mean gradient (per-sample variance divided by b) in the tests.
    VarianceOfMean,
}

/// The check of the test formula on one logged iteration: the proposal from the streaming
/// statistics and from a direct two-pass evaluation on the materialized per-sample gradients.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FormulaCheck {
    /// The step.
    pub step: usize,
    /// The batch size there.
    pub batch: usize,
    /// The proposal from [`GradStats`].
    pub streaming: f64,
    /// The proposal from the matrix (torch.var semantics).
    pub direct: f64,
}

/// What a run records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// Evaluation steps (0, then a geometric grid, then the last).
    pub steps: Vec<usize>,
    /// ‖∇F(x_k)‖² (full training gradient) at those steps.
    #[serde(with = "common::report::json_f64::vec")]
    pub grad_sq: Vec<f64>,
    /// Samples processed before those steps.
    pub samples: Vec<u64>,
    /// Held-out accuracy at those steps (empty without a held-out set).
    pub test_acc: Vec<f64>,
    /// `(first step, batch size)` at every change of the batch size.
    pub batch_changes: Vec<(usize, usize)>,
    /// Updates applied.
    pub steps_done: usize,
    /// Whether the run stopped at the floating-point floor of ‖∇F‖².
    pub stopped_at_floor: bool,
    /// Whether it diverged.
    pub diverged: bool,
    /// The formula check (adaptive runs whose batch reached 8 while testing).
    pub check: Option<FormulaCheck>,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
}

impl Run {
    /// The batch size at every step taken.
    pub fn batches(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.steps_done);
        for (i, &(s, b)) in self.batch_changes.iter().enumerate() {
            let end = self.batch_changes.get(i + 1).map_or(self.steps_done, |c| c.0);
            out.extend(std::iter::repeat_n(b, end.saturating_sub(s)));
        }
        out
    }
    /// The final batch size.
    pub fn final_batch(&self) -> usize {
        self.batch_changes.last().map_or(0, |c| c.1)
    }
    /// min_{j ≤ i} ‖∇F(x_j)‖² along the evaluation grid.
    pub fn running_min(&self) -> Vec<f64> {
        let mut m = f64::INFINITY;
        self.grad_sq
            .iter()
            .map(|&g| {
                m = m.min(g);
                m
            })
            .collect()
    }
    /// K(ε): the first evaluated step with min‖∇F‖² ≤ ε (None if never), and the samples then.
    pub fn k_eps(&self, eps: f64) -> Option<(usize, u64)> {
        let i = self.running_min().iter().position(|&m| m <= eps)?;
        Some((self.steps[i].max(1), self.samples[i]))
    }
}

/// The slope of log K(ε) against log(1/ε) over the tolerances in `eps` that the run reached
/// (NaN if fewer than two were reached).
pub fn keps_slope(run: &Run, eps: &[f64]) -> f64 {
    let (inv, k): (Vec<f64>, Vec<f64>) =
        eps.iter().filter_map(|&e| run.k_eps(e).map(|k| (1.0 / e, k.0 as f64))).unzip();
    if k.len() < 2 { f64::NAN } else { common::stats::loglog_fit(&inv, &k).slope }
}

/// The bound-form ratio: max over evaluated K' ≥ K ≥ k_min of (K'·m(K'))/(K·m(K)) with
/// m = min‖∇F‖², over steps where m is above `floor` (the floating-point floor). At most 1 for an
/// exactly non-increasing K·m(K); a run whose m(K) plateaus grows like K'/K.
pub fn bound_ratio(run: &Run, k_min: usize, floor: f64) -> f64 {
    let m = run.running_min();
    let v: Vec<f64> =
        run.steps.iter().zip(&m).filter(|&(&k, &mm)| k >= k_min && mm > floor).map(|(&k, &mm)| k as f64 * mm).collect();
    if v.len() < 2 {
        return 1.0;
    }
    let mut best = 1.0f64;
    let mut suffix_max = f64::NEG_INFINITY;
    for &x in v.iter().rev() {
        suffix_max = suffix_max.max(x);
        best = best.max(suffix_max / x);
    }
    best
}

/// The evaluation grid: every step up to `points/3`, then geometric to `iters`.
pub fn eval_grid(iters: usize, points: usize) -> Vec<usize> {
    let dense = (points / 3).min(iters);
    let mut v: Vec<usize> = (1..=dense).collect();
    let rest = points.saturating_sub(dense).max(1);
    let lo = (dense.max(1)) as f64;
    for i in 1..=rest {
        let s = (lo * (iters as f64 / lo).powf(i as f64 / rest as f64)).round() as usize;
        v.push(s.min(iters));
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// The proposal of a test evaluated directly on a materialized `b x p` matrix, two-pass, with
/// the semantics of the official `tests.py` (`torch.var(correction=1)`); independent of
/// [`GradStats`].
pub fn direct_proposal(test: &BatchTest, g: &Array2<f64>) -> f64 {
    let b = g.nrows() as f64;
    let mean = g.mean_axis(Axis(0)).expect("rows");
    let cen = g - &mean;
    let var = cen.mapv(|v| v * v).sum_axis(Axis(0)) / (b - 1.0);
    let g2 = mean.dot(&mean);
    let ips = g.dot(&mean);
    let ip_m = ips.sum() / b;
    let var_ip = ips.mapv(|v| (v - ip_m) * (v - ip_m)).sum() / (b - 1.0);
    let orth_var = || {
        let mut o = g.clone();
        for (mut r, &ip) in o.rows_mut().into_iter().zip(&ips) {
            r.scaled_add(-ip / g2, &mean);
        }
        let om = o.mean_axis(Axis(0)).expect("rows");
        (&o - &om).mapv(|v| v * v).sum() / (b - 1.0)
    };
    match *test {
        BatchTest::Constant => f64::NAN,
        BatchTest::Norm { eta } => var.sum() / (eta * eta * g2),
        BatchTest::InnerProduct { theta } => var_ip / (theta * theta * g2 * g2),
        BatchTest::IpOrth { theta, nu } => (var_ip / (theta * theta * g2 * g2)).max(orth_var() / (nu * nu * g2)),
        BatchTest::CoordNorm { eta } => {
            var.iter().zip(&mean).filter(|(v, _)| **v > 0.0).map(|(v, m)| v / (eta * eta * m * m)).fold(0.0, f64::max)
        }
    }
}

/// Scale every sample's deviation from the batch mean by `c` (the statistics of
/// `ḡ + c (g_i − ḡ)`): with `c = 1/√b` the tests see the variance of the mean, the planted bug.
pub fn shrink_spread(s: &GradStats, c: f64) -> GradStats {
    let g2 = s.mean_sq_norm();
    let b = s.n as f64;
    let sq_norms = ndarray::Zip::from(&s.sq_norms)
        .and(&s.inner)
        .map_collect(|&q, &ip| g2 + 2.0 * c * (ip - g2) + c * c * (q - 2.0 * ip + g2));
    let inner = s.inner.mapv(|ip| g2 + c * (ip - g2));
    let coord_sumsq = s
        .coord_sumsq
        .as_ref()
        .map(|cs| ndarray::Zip::from(cs).and(&s.mean).map_collect(|&q, &m| b * m * m + c * c * (q - b * m * m)));
    GradStats { n: s.n, loss: s.loss, mean: s.mean.clone(), sq_norms, inner, coord_sumsq }
}

fn accuracy(p: &Problem, w: ArrayView1<f64>) -> f64 {
    let Some((xt, yt)) = &p.test else { return f64::NAN };
    let f = p.mlp.forward(w, xt.view());
    let hits = f
        .rows()
        .into_iter()
        .zip(yt)
        .filter(|(r, y)| {
            let am = r.iter().enumerate().fold((0, f64::NEG_INFINITY), |a, (i, &v)| if v > a.1 { (i, v) } else { a }).0;
            am == **y
        })
        .count();
    hits as f64 / yt.len() as f64
}

/// Train one run.
pub fn run_one(cfg: &Config, p: &Problem, opt: OptKind, v: &Variant, seed: Seed, bug: Bug, device: Device) -> Run {
    let t0 = std::time::Instant::now();
    let n = p.n();
    let max = if cfg.max_batch == 0 { n } else { cfg.max_batch.min(n) };
    let acfg = AdaptiveConfig {
        steps: cfg.iters,
        b0: v.b0,
        max_batch: max,
        test: v.test,
        eval_steps: eval_grid(cfg.iters, cfg.eval_points),
        stop_below: Some(("grad_sq".into(), cfg.floor)),
        max_samples: (cfg.max_samples > 0).then_some(cfg.max_samples),
    };
    let mut optimizer: Box<dyn Optimizer> = match opt {
        OptKind::AdagradNorm => Box::new(stateful(adagrad_norm(cfg.lr_norm, cfg.b0_norm))),
        OptKind::Adagrad => Box::new(stateful(adagrad(cfg.lr_diag, 1e-10))),
    };
    let mut check: Option<FormulaCheck> = None;
    let mut step = 0usize;
    let stats_fn = |w: ArrayView1<f64>, idx: &[usize], coords: bool| {
        let xb = p.x.select(Axis(0), idx);
        let yb: Targets = p.y.select(idx);
        // The streaming statistics on the CPU, or the device's GEMMs (never the b x p matrix).
        let st = common::gpu::mlp_grad_stats(device, &p.mlp, xb.view(), &yb, w, coords)
            .unwrap_or_else(|e| panic!("per-sample statistics failed on {device:?}: {e}"));
        let testing = v.test != BatchTest::Constant && idx.len() < max;
        if check.is_none() && testing && idx.len() >= 8 {
            let ps = p.mlp.per_sample_grads(w, xb.view(), &yb);
            check = Some(FormulaCheck {
                step,
                batch: idx.len(),
                streaming: v.test.proposal(&st),
                direct: direct_proposal(&v.test, &ps),
            });
        }
        step += 1;
        match bug {
            Bug::None => st,
            Bug::VarianceOfMean => shrink_spread(&st, 1.0 / (idx.len() as f64).sqrt()),
        }
    };
    let eval = |_: usize, w: ArrayView1<f64>| {
        let (_, g) = p.mlp.loss_grad(w, p.x.view(), &p.y);
        let mut m = vec![("grad_sq".to_string(), g.dot(&g))];
        if p.test.is_some() {
            m.push(("test_acc".into(), accuracy(p, w)));
        }
        m
    };
    let mut w: Array1<f64> = p.w0.clone();
    let mut rng = seed.child("batches").rng();
    let log = train_adaptive(&mut w, n, &acfg, stats_fn, optimizer.as_mut(), eval, &mut rng);
    let mut batch_changes: Vec<(usize, usize)> = vec![];
    for (s, &b) in log.batches.iter().enumerate() {
        if batch_changes.last().is_none_or(|c| c.1 != b) {
            batch_changes.push((s, b));
        }
    }
    let steps: Vec<usize> = log.rows.iter().map(|r| r.step).collect();
    let grad_sq = log.metric("grad_sq").into_iter().map(|x| x.1).collect();
    let test_acc = log.metric("test_acc").into_iter().map(|x| x.1).collect();
    let samples = steps.iter().map(|&k| log.samples_after(k)).collect();
    Run {
        steps,
        grad_sq,
        samples,
        test_acc,
        batch_changes,
        steps_done: log.steps_done,
        stopped_at_floor: log.stopped_at.is_some(),
        diverged: log.diverged_at.is_some(),
        check,
        wall_s: t0.elapsed().as_secs_f64(),
    }
}
