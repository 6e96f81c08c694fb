//! Study `adadagrad-batch`: Lau, Liu & Kolar, *AdAdaGrad: Adaptive Batch Size Schemes for
//! Adaptive Gradient Methods* (arXiv 2402.11215; code `timlautk/AdAdaGrad`).
//!
//! The experiment:
//! 1. **Problems.** Binary logistic regression on a synthetic set (Gaussian features, labels from
//!    a logistic teacher) and on the shipped breast-cancer set; a tanh MLP 64 → 32 → 10 on a
//!    training split of the shipped digits (the smooth non-convex problem); in the full profile
//!    also multinomial logistic regression on MNIST as in the repo's `expt.sh`.
//! 2. **Optimizers.** AdaGrad-Norm (`lr/√(b0² + Σ‖g‖²)`, `b0² = 1e-2` as the repo's initial
//!    accumulator) and diagonal AdaGrad, each with (i) constant batches, (ii) the norm test
//!    `b_{k+1} = max(b_k, ⌈‖Var̂(g_i)‖₁/(η²‖ḡ‖²)⌉)` at several η, (iii) the coordinate-wise
//!    norm test of AdAdaGrad, (iv) the inner-product and augmented ip+orth tests of the repo's
//!    `tests.py`; every adaptive schedule starts at batch 2, is capped at n, and is tested only
//!    while below the cap (as `main.py`). Per-sample statistics come from
//!    `common::models::per_sample` (no n×p matrix); the loop is `common::train::adaptive`.
//! 3. **Measurements.** ‖∇F(x_k)‖² on the full training set on a dense-then-geometric grid of
//!    steps; K(ε) = the first step with min_{j≤k}‖∇F(x_j)‖² ≤ ε for ε ∈ {1e-3, 1e-4, 1e-5}; the
//!    slope of log K(ε) against log(1/ε) (O(1/K) ⇔ slope ≤ 1); the bound form: K·min‖∇F‖² is
//!    non-increasing up to a factor; samples and wall time to each ε; the batch trace.
//!
//! Claims: mechanics (monotone batches, the formula against a direct evaluation), the O(1/K)
//! iteration complexity with its failing control (a constant small batch), the bound form;
//! sample efficiency and wall time reported, not gated (the constant small batch wins on samples).

use anyhow::Result;
use common::report::json_f64;
use common::study::{Checks, Estimate, Validate};
use common::train::adaptive::BatchTest;
use common::{ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Study, Sweep, Swept};
use serde::{Deserialize, Serialize};

pub mod problems;
pub mod runs;

pub use problems::ProblemKind;
pub use runs::{Bug, OptKind, Run, Variant};

/// The study (registered in `repro/src/registry.rs`).
pub struct AdadagradBatch;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The problems.
    pub problems: Vec<ProblemKind>,
    /// Synthetic set: samples.
    pub synth_n: usize,
    /// Synthetic set: features.
    pub synth_d: usize,
    /// Digits MLP: training samples (the rest of the 1797 are held out).
    pub digits_train: usize,
    /// Digits MLP: hidden width.
    pub hidden: usize,
    /// Digits MLP: the schedules run on it (labels as in `runs.csv`; empty: all).
    pub mlp_schedules: Vec<String>,
    /// Folder with the MNIST IDX files (problem `mnist_logistic`).
    pub mnist_dir: String,
    /// The optimizers.
    pub optimizers: Vec<OptKind>,
    /// AdaGrad-Norm learning rate.
    pub lr_norm: f64,
    /// AdaGrad-Norm initial `b0` (`b0² = 1e-2` in the repo).
    pub b0_norm: f64,
    /// AdaGrad learning rate.
    pub lr_diag: f64,
    /// Constant batch sizes (the controls).
    pub constant_batches: Vec<usize>,
    /// Norm-test tolerances η.
    pub norm_etas: Vec<f64>,
    /// Coordinate-wise norm-test tolerances η.
    pub coord_etas: Vec<f64>,
    /// Inner-product tolerances θ (each gives an `ip` run and an `ip+orth` run with ν = θ).
    pub ip_thetas: Vec<f64>,
    /// First batch of the adaptive schedules.
    pub start_batch: usize,
    /// Cap on the batch (0: the training-set size).
    pub max_batch: usize,
    /// Iterations K.
    pub iters: usize,
    /// Evaluations of ‖∇F‖² per run (a third dense from step 1, the rest geometric).
    pub eval_points: usize,
    /// Repetitions (seeds) per cell.
    pub reps: usize,
    /// Tolerances ε for K(ε) (decreasing).
    pub eps: Vec<f64>,
    /// A run stops once ‖∇F‖² falls below this floating-point floor.
    pub floor: f64,
    /// A run stops once it has processed this many samples (expt.sh's `max_samples`; 0: no budget).
    pub max_samples: u64,
    /// B3 reads K·min‖∇F‖² from this K on.
    pub bound_k_min: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            problems: vec![ProblemKind::Synthetic, ProblemKind::DigitsMlp],
            synth_n: 1000,
            synth_d: 20,
            digits_train: 400,
            hidden: 8,
            mlp_schedules: vec!["const 16".into(), "norm 0.5".into(), "coord 1".into()],
            mnist_dir: String::new(),
            optimizers: vec![OptKind::AdagradNorm, OptKind::Adagrad],
            lr_norm: 4.0,
            b0_norm: 0.1,
            lr_diag: 0.1,
            constant_batches: vec![16, 256],
            norm_etas: vec![0.1, 0.5, 1.0],
            coord_etas: vec![1.0],
            ip_thetas: vec![0.5],
            start_batch: 2,
            max_batch: 0,
            iters: 1500,
            eval_points: 150,
            reps: 2,
            eps: vec![1e-3, 1e-4, 1e-5],
            floor: 1e-20,
            max_samples: 0,
            bound_k_min: 50,
        }
    }
    fn full() -> Self {
        Config {
            problems: vec![
                ProblemKind::Synthetic,
                ProblemKind::BreastCancer,
                ProblemKind::DigitsMlp,
                ProblemKind::MnistLogistic,
            ],
            synth_n: 20_000,
            synth_d: 50,
            digits_train: 1500,
            hidden: 32,
            mlp_schedules: vec![],
            mnist_dir: "data/mnist".into(),
            iters: 3000,
            eval_points: 300,
            max_samples: 6_000_000,
            reps: 10,
            ..Config::quick()
        }
    }
}

impl Config {
    /// The batch schedules, constant controls first.
    pub fn variants(&self) -> Vec<Variant> {
        let mut v: Vec<Variant> = self
            .constant_batches
            .iter()
            .map(|&b| Variant { label: format!("const {b}"), test: BatchTest::Constant, b0: b })
            .collect();
        let b0 = self.start_batch;
        v.extend(self.norm_etas.iter().map(|&eta| Variant {
            label: format!("norm {eta}"),
            test: BatchTest::Norm { eta },
            b0,
        }));
        v.extend(self.coord_etas.iter().map(|&eta| Variant {
            label: format!("coord {eta}"),
            test: BatchTest::CoordNorm { eta },
            b0,
        }));
        for &theta in &self.ip_thetas {
            v.push(Variant { label: format!("ip {theta}"), test: BatchTest::InnerProduct { theta }, b0 });
            v.push(Variant { label: format!("ip+orth {theta}"), test: BatchTest::IpOrth { theta, nu: theta }, b0 });
        }
        v
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), common::BadInput> {
        let mut c = Checks::new();
        c.size("synth_n", self.synth_n, 20, 1_000_000)
            .size("synth_d", self.synth_d, 1, 10_000)
            .size("digits_train", self.digits_train, 20, 1700)
            .size("hidden", self.hidden, 1, 4096)
            .real("lr_norm", self.lr_norm, 1e-6, 1e3)
            .real("b0_norm", self.b0_norm, 1e-6, 1e3)
            .real("lr_diag", self.lr_diag, 1e-6, 1e3)
            .sizes("constant_batches", &self.constant_batches, 1, 10_000_000)
            .reals("norm_etas", &self.norm_etas, 1e-3, 1e3)
            .list("problems", &self.problems, 4)
            .list("optimizers", &self.optimizers, 2)
            .list("constant_batches", &self.constant_batches, 8)
            .list("norm_etas", &self.norm_etas, 8)
            .list("eps", &self.eps, 8)
            .size("start_batch", self.start_batch, 2, 10_000_000)
            .size("max_batch", self.max_batch, 0, 10_000_000)
            .size("iters", self.iters, 60, 1_000_000)
            .size("eval_points", self.eval_points, 10, 100_000)
            .size("reps", self.reps, 1, 1000)
            .reals("eps", &self.eps, 1e-30, 1e3)
            .real("floor", self.floor, 0.0, 1e-6)
            .size("bound_k_min", self.bound_k_min, 1, 1_000_000)
            .size("max_samples", self.max_samples as usize, 0, usize::MAX)
            .rule(!self.problems.is_empty(), "`problems` must name at least one of synthetic, breast_cancer, digits_mlp, mnist_logistic")
            .rule(self.problems.contains(&ProblemKind::Synthetic), "`problems` must hold synthetic (the control of claims B2c, B3c)")
            .rule(
                self.mlp_schedules.iter().all(|l| self.variants().iter().any(|v| &v.label == l)),
                "`mlp_schedules` must name schedules of the configuration (e.g. \"const 16\", \"norm 0.5\", \"coord 1\")",
            )
            .rule(!self.optimizers.is_empty(), "`optimizers` must name adagrad_norm and/or adagrad")
            .rule(self.optimizers.contains(&OptKind::AdagradNorm), "`optimizers` must hold adagrad_norm (claims B2, B3)")
            .rule(!self.norm_etas.is_empty(), "`norm_etas` must hold at least one η (claims B2, B3)")
            .rule(self.constant_batches.contains(&16), "`constant_batches` must hold 16 (the control of claim B2c)")
            .rule(self.eps.len() >= 2, "`eps` needs at least two tolerances for the slope of claim B2")
            .rule(self.eps.windows(2).all(|w| w[0] > w[1]), "`eps` must be strictly decreasing")
            .rule(self.eps.iter().all(|&e| e > self.floor), "every `eps` must lie above `floor`")
            .rule(self.max_batch == 0 || self.max_batch >= self.start_batch, "`max_batch` must be 0 (n) or at least `start_batch`")
            .rule(self.bound_k_min < self.iters, "`bound_k_min` must be below `iters`")
            .rule(
                !self.problems.contains(&ProblemKind::MnistLogistic) || !self.mnist_dir.is_empty(),
                "problem mnist_logistic needs `mnist_dir`",
            );
        for (key, v) in [("coord_etas", &self.coord_etas), ("ip_thetas", &self.ip_thetas)] {
            if !v.is_empty() {
                c.reals(key, v, 1e-3, 1e3).list(key, v, 8);
            }
        }
        let mut seen = std::collections::HashSet::new();
        c.rule(self.problems.iter().all(|p| seen.insert(*p)), "`problems` must not repeat");
        let labels: Vec<String> = self.variants().into_iter().map(|v| v.label).collect();
        let mut seen = std::collections::HashSet::new();
        c.rule(
            labels.iter().all(|l| seen.insert(l.clone())),
            "batch schedules must not repeat (constant_batches, etas, thetas)",
        );
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        // (training samples, input width, parameters) per problem.
        let dims = |p: &ProblemKind| match p {
            ProblemKind::Synthetic => (self.synth_n, self.synth_d, self.synth_d * 2 + 2),
            ProblemKind::BreastCancer => (569, 30, 62),
            ProblemKind::DigitsMlp => (self.digits_train, 64, 64 * self.hidden + self.hidden + self.hidden * 10 + 10),
            ProblemKind::MnistLogistic => (60_000, 784, 7850),
        };
        let mut peak = 0.0f64;
        let mut secs = 0.0;
        let runs = (self.variants().len() * self.optimizers.len() * self.reps) as f64;
        for p in &self.problems {
            let (n, d, params) = dims(p);
            // Train and test data, a full-batch copy of the inputs, the per-layer b x h arrays.
            peak = peak.max(((3 * n * d) + 4 * n * (self.hidden + 10) + 8 * params) as f64);
            // Samples per run: at most K full batches, at most the sample budget; ~6 flops per
            // sample and parameter (forward, backward, statistics), ~1 GFlop/s.
            let mut samples = (self.iters * n) as f64;
            if self.max_samples > 0 {
                samples = samples.min(self.max_samples as f64);
            }
            secs += runs * samples * params as f64 * 6e-9;
        }
        Estimate::f64s(peak).seconds(secs)
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const B1: ClaimSpec = ClaimSpec::new(
    "B1",
    "Adaptive batch sizes are non-decreasing and capped at the training-set size (share of adaptive runs).",
    "Abstract (\"progressively increase batch sizes\"); repo tests.py, main.py",
    Expect::at_least(1.0),
)
.wrong(
    "a rule that sets b_{k+1} = ⌈r_k⌉ instead of max(b_k, ⌈r_k⌉) shrinks the batch whenever the proposal falls \
     (the proposal drops below b_k at most steps of the norm test at η = 1)",
);

const B1F: ClaimSpec = ClaimSpec::new(
    "B1f",
    "The test formula from the streaming statistics equals a direct two-pass evaluation on the materialized \
     per-sample gradients (torch.var with correction 1) on a logged iteration (max relative error over runs).",
    "repo tests.py (norm_test, inner_product_test, ...)",
    Expect::at_most(1e-10),
)
.wrong(
    "the variance without the correction (÷b) is off by 1/(b − 1) ≥ 1/7 at the logged b ≥ 8; the η instead of \
     η² normalization is off by a factor 1/η (2 at η = 0.5, 10 at η = 0.1)",
);

const B2: ClaimSpec = ClaimSpec::new(
    "B2",
    "AdaGrad-Norm with the norm test reaches ε-stationarity (min_k ‖∇F(x_k)‖² ≤ ε) in K(ε) = O(1/ε) \
     iterations: the fitted slope of log K(ε) against log(1/ε) over ε ∈ {1e-3, 1e-4, 1e-5} (max over \
     problems, η and seeds).",
    "Abstract (AdAdaGrad-Norm: O(1/K) with high probability); theorem text not retrieved",
    Expect::at_most(1.1),
)
.wrong(
    "the variance of the mean (per-sample variance ÷ b) keeps the batch small: on the MLP the run does not reach \
     ε = 1e-5 in K iterations (slope NaN, the claim fails); SGD-like noise gives O(1/√K), slope 2",
);

const B2C: ClaimSpec = ClaimSpec::new(
    "B2c",
    "The control: with a constant batch of 16 the same optimizer does not reach ε = 1e-4 within K iterations \
     (min over problems and seeds of min_k ‖∇F(x_k)‖²).",
    "control (AdaGrad-Norm with a constant batch: O(1/√K) in the stochastic setting, Ward et al. 2019)",
    Expect::at_least(1e-4),
)
.wrong(
    "an implementation that evaluates ‖∇F‖² on the mini-batch, or a batch that silently grows, reaches 1e-4 and \
     would make B2 pass for any schedule",
);

const B2A: ClaimSpec = ClaimSpec::new(
    "B2a",
    "AdAdaGrad: diagonal AdaGrad with the coordinate-wise norm test has the same O(1/ε) iteration complexity \
     (slope of log K(ε) against log(1/ε), max over problems and seeds).",
    "Abstract (AdAdaGrad with the coordinate-wise test)",
    Expect::at_most(1.1),
)
.wrong("a test that never grows the batch leaves AdaGrad at the constant-batch plateau (ε = 1e-4 not reached)");

const B3: ClaimSpec = ClaimSpec::new(
    "B3",
    "The bound form min_{k≤K} ‖∇F(x_k)‖² ≤ C/K: K·min‖∇F‖² is non-increasing up to a factor over K ∈ [50, K] \
     (max over norm-test runs of both optimizers of sup_{K'≥K} K'm(K')/(K m(K)), above the 1e-20 floor).",
    "Abstract (O(1/K) rate); the bound form of the spec",
    Expect::at_most(2.0),
)
.wrong("a constant batch plateaus: K·min‖∇F‖² grows like K (ratio 2.5 to 8 at b = 16 over [50, 1500]); see B3c");

const B3C: ClaimSpec = ClaimSpec::new(
    "B3c",
    "The control of B3: with a constant batch of 16, K·min‖∇F‖² grows (min over runs of the B3 ratio).",
    "control of B3",
    Expect::at_least(2.0),
)
.wrong("an evaluation on the mini-batch instead of the full training set, or a batch that grows, keeps it near 1");

const B4: ClaimSpec = ClaimSpec::new(
    "B4",
    "Sample efficiency: samples to reach ε = 1e-3, norm test (η = 0.5, AdaGrad-Norm) over constant batch 16 \
     (median over problems and seeds, 0 where the constant batch never reaches ε; above 1: the constant batch \
     is more sample-efficient, as the spec's calibration found).",
    "Abstract (training efficiency); spec calibration",
    Expect::at_least(1.0),
)
.not_gated("reported honestly: the paper's efficiency claim is about wall time at scale; on small sets the adaptive batch saturates at n quickly");

const B5: ClaimSpec = ClaimSpec::new(
    "B5",
    "Wall time to reach ε = 1e-3, norm test (η = 0.5, AdaGrad-Norm) over constant batch 16 (median ratio).",
    "Abstract (training efficiency)",
    Expect::at_most(1.0),
)
.not_gated("wall time depends on the machine and the other jobs on it; reported only");

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[B1, B1F, B2, B2C, B2A, B3, B3C, B4, B5];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// One run per (problem, optimizer, schedule, rep).
    pub runs: Swept<Run>,
}

/// Run every cell (with a planted bug for the tests).
pub fn measure_with(cfg: &Config, ctx: &Ctx, bug: Bug) -> Result<Results> {
    if cfg.problems.contains(&ProblemKind::MnistLogistic) {
        problems::mnist_files(cfg)?;
    }
    let names: Vec<&str> = cfg.problems.iter().map(|p| p.name()).collect();
    let opts: Vec<&str> = cfg.optimizers.iter().map(|o| o.name()).collect();
    let variants = cfg.variants();
    let labels: Vec<String> = variants.iter().map(|v| v.label.clone()).collect();
    let sweep =
        Sweep::new("runs").axis("problem", &names).axis("optimizer", &opts).axis("schedule", &labels).reps(cfg.reps);
    // Problems are built once per (problem, rep): the data of the synthetic set and the digits
    // split depend on the rep's seed, shared by every optimizer and schedule.
    let skip = |c: &common::Cell| {
        c.str("problem") == ProblemKind::DigitsMlp.name()
            && !cfg.mlp_schedules.is_empty()
            && !cfg.mlp_schedules.iter().any(|l| l == c.str("schedule"))
    };
    let runs = ctx.sweep(&sweep, |c, _seed| {
        if skip(c) {
            return Ok(None);
        }
        let kind = ProblemKind::from_name(c.str("problem")).expect("problem axis");
        let opt = OptKind::from_name(c.str("optimizer")).expect("optimizer axis");
        let v = variants.iter().find(|v| v.label == c.str("schedule")).expect("schedule axis");
        let data_seed = ctx.seed.child("data").child_idx("rep", c.rep() as u64);
        let p = problems::build(cfg, kind, data_seed)?;
        let run_seed = ctx
            .seed
            .child("batches")
            .child(kind.name())
            .child(opt.name())
            .child(&v.label)
            .child_idx("rep", c.rep() as u64);
        Ok(Some(runs::run_one(cfg, &p, opt, v, run_seed, bug, ctx.device)))
    })?;
    let (cells, results) = runs.cells.into_iter().zip(runs.results).filter_map(|(c, r)| r.map(|r| (c, r))).unzip();
    Ok(Results { runs: Swept { cells, results } })
}

impl Study for AdadagradBatch {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "adadagrad-batch"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "AdAdaGrad: Adaptive Batch Size Schemes for Adaptive Gradient Methods",
            authors: "Tim Tsz-Kit Lau, Han Liu, Mladen Kolar",
            arxiv: "2402.11215",
            official_code: Some("https://github.com/timlautk/AdAdaGrad"),
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        measure_with(cfg, ctx, Bug::None)
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        report::report(cfg, r)
    }
}

/// One row of `runs.csv`.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// Problem.
    pub problem: String,
    /// Optimizer.
    pub optimizer: String,
    /// Batch schedule.
    pub schedule: String,
    /// Repetition.
    pub rep: usize,
    /// K(ε) per ε (NaN where not reached), in the order of `eps`.
    pub k_eps: Vec<f64>,
    /// Samples to each ε (NaN where not reached).
    pub samples_eps: Vec<f64>,
    /// Slope of log K(ε) vs log 1/ε.
    #[serde(with = "json_f64")]
    pub slope: f64,
    /// B3 ratio.
    pub bound_ratio: f64,
    /// min_k ‖∇F(x_k)‖² at the end.
    pub min_grad_sq: f64,
    /// Final batch.
    pub final_batch: usize,
    /// Steps taken (a run stops at the floating-point floor).
    pub steps: usize,
    /// Samples processed.
    pub samples: f64,
    /// Wall time, s.
    pub wall_s: f64,
}

pub mod report;

common::seed_checks!(crate::AdadagradBatch);

#[cfg(test)]
mod tests;
