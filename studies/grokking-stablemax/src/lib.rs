//! Study `grokking-stablemax`: Prieto, Barsbey, Mediano & Birdal (2025), "Grokking at the edge of
//! numerical stability" (ICLR 2025, arXiv:2501.04697).
//!
//! 1. **Softmax collapse (Q1).** Once the correct logit leads by a margin `m`, the softmax
//!    denominator rounds to exactly 1 and the cross-entropy to exactly 0: learning stops. With the
//!    summation order of `common::models::precision` (competitors first, the max's 1 last) the
//!    zero-loss margin is `ln((C − 1)/u)`, measured here by bisection in f16, f32 and f64.
//! 2. **Naïve loss minimisation and ⊥Grad (Q2, Q3).** A bias-free ReLU MLP (hidden [h, h]) on
//!    `(a + b) mod p` (40 % of the pairs for training), full batch, AdamW with the official
//!    hyper-parameters (lr 0.01, β (0.9, 0.99), eps 1e-25, no weight decay), float32. Without
//!    regularisation the training set is memorised within ~50 epochs and the test accuracy stays
//!    at chance, while the gradient aligns with the weights (cos(−∇L, θ) grows: scaling θ scales
//!    the logits of a homogeneous net, the NLM direction). ⊥Grad removes the component of every
//!    tensor's gradient along that tensor (rescaled to the gradient's norm) and the net
//!    generalizes within a few hundred epochs.
//! 3. **StableMax (Q4)**: the loss's gradient against finite differences (f64).
//! 4. **SC onset per format (Q5)**, optional: a longer, smaller run with the same optimizer in f32
//!    and f64, the fraction of training samples in softmax collapse.
//!
//! The quick profile reduces p = 113, h = 200 to p = 59, h = 128 (2 seeds, 300 epochs) after a
//! NumPy calibration (`reference/grok.py`); the full profile is the paper's Fig. 1/2 setting.

mod train;
pub use train::{Ortho, Point, Record, RunSpec, run, zero_loss_margin};

use anyhow::Result;
use common::models::precision::{Head, Real, collapse_margin, stablemax_ce, stablemax_ds, stablemax_s};
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Study};
use half::f16;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The study (registered in `repro/src/registry.rs`).
pub struct GrokkingStablemax;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Modulus p (classes).
    pub p: usize,
    /// Training fraction of the p² pairs.
    pub train_frac: f64,
    /// Hidden width h (two hidden layers).
    pub hidden: usize,
    /// Full-batch epochs of the ±⊥Grad runs.
    pub epochs: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// AdamW β2 (β1 = 0.9).
    pub beta2: f64,
    /// AdamW eps.
    pub eps: f64,
    /// Model format of the ±⊥Grad runs: "f32" or "f64".
    pub dtype: String,
    /// Seeds (repetitions) of the ±⊥Grad runs.
    pub reps: usize,
    /// Classes of the Q1 margin bisection (the paper's 113).
    pub margin_classes: usize,
    /// Random logit vectors for the Q4 finite-difference check.
    pub fd_vectors: usize,
    /// Q5: epochs of the SC-onset runs (0: not run).
    pub sc_epochs: usize,
    /// Q5: modulus of the SC-onset runs.
    pub sc_p: usize,
    /// Q5: hidden width of the SC-onset runs.
    pub sc_hidden: usize,
    /// Q5: seeds of the SC-onset runs (each runs f32 and f64).
    pub sc_reps: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            p: 59,
            train_frac: 0.4,
            hidden: 128,
            epochs: 300,
            lr: 0.01,
            beta2: 0.99,
            eps: 1e-25,
            dtype: "f32".into(),
            reps: 2,
            margin_classes: 113,
            fd_vectors: 200,
            sc_epochs: 2000,
            sc_p: 31,
            sc_hidden: 64,
            sc_reps: 1,
        }
    }
    fn full() -> Self {
        // Fig. 1 (⊥Grad, 300 epochs would suffice; the baseline needs the long run to reach SC)
        // and Fig. 2's precision comparison (20 000 epochs, f32 vs f64).
        Config {
            p: 113,
            train_frac: 0.4,
            hidden: 200,
            epochs: 20_000,
            lr: 0.01,
            beta2: 0.99,
            eps: 1e-25,
            dtype: "f32".into(),
            reps: 3,
            margin_classes: 113,
            fd_vectors: 1000,
            sc_epochs: 20_000,
            sc_p: 113,
            sc_hidden: 200,
            sc_reps: 3,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.size("p", self.p, 3, 1000)
            .real("train_frac", self.train_frac, 0.05, 0.95)
            .size("hidden", self.hidden, 2, 4096)
            .size("epochs", self.epochs, 300, 1_000_000)
            .positive("lr", self.lr, 1.0)
            .real("beta2", self.beta2, 0.5, 0.99999)
            .positive("eps", self.eps, 1e-3)
            .one_of("dtype", &self.dtype, &["f32", "f64"])
            .size("reps", self.reps, 1, 1000)
            .size("margin_classes", self.margin_classes, 2, 100_000)
            .size("fd_vectors", self.fd_vectors, 1, 1_000_000)
            .size("sc_epochs", self.sc_epochs, 0, 1_000_000)
            .size("sc_p", self.sc_p, 3, 1000)
            .size("sc_hidden", self.sc_hidden, 2, 4096)
            .size("sc_reps", self.sc_reps, 1, 1000)
            .rule(
                (self.train_frac * (self.p * self.p) as f64).round() as usize >= 1
                    && (self.train_frac * (self.p * self.p) as f64).round() < (self.p * self.p) as f64,
                "`train_frac` must leave at least one training and one test pair",
            );
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        let n = (self.p * self.p) as f64;
        let (h, p) = (self.hidden as f64, self.p as f64);
        let act = n * (4.0 * h + 3.0 * p);
        let flops = |epochs: usize, n: f64, h: f64, p: f64| epochs as f64 * 6.0 * n * (h * h + h * p);
        let sn = (self.sc_p * self.sc_p) as f64;
        let secs = 2.0 * self.reps as f64 * flops(self.epochs, n, h, p) * 1.5e-11
            + 2.0 * self.sc_reps as f64 * flops(self.sc_epochs, sn, self.sc_hidden as f64, self.sc_p as f64) * 3e-11;
        Estimate::f64s(2.0 * act + 8.0 * (2.0 * p * h + h * h + h * p)).seconds(secs)
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const Q1: ClaimSpec = ClaimSpec::new(
    "Q1",
    "Softmax collapse: the cross-entropy is exactly 0 from the margin ln((C − 1)/u) on (u the unit round-off), \
     C = 113: max |measured − ln((C−1)/u)| over f32 and f64 (f16 in the detail).",
    "Sec. 3 (Softmax Collapse), Fig. 2",
    Expect::at_most(0.01),
)
.wrong(
    "summing the denominator from the max (1 + e₁ + e₂ + …) collapses at ln(1/u), 4.72 nats (= ln 112) earlier; \
     a loss without max-subtraction overflows instead of collapsing",
);

const Q2A: ClaimSpec = ClaimSpec::new(
    "Q2a",
    "⊥Grad generalizes without regularisation: test accuracy at the last epoch (min over seeds; 0.82–0.99 \
     over 26 calibration seeds at p = 59, so the spec's 0.95 is not a bound here).",
    "Sec. 5, Fig. 1 (⊥Grad within 300 epochs)",
    Expect::at_least(0.5),
)
.wrong(
    "no orthogonalization (the baseline) stays at chance (≤ 0.002); a projection that keeps the NLM component \
     does not generalize at this budget",
);

const Q2B: ClaimSpec = ClaimSpec::new(
    "Q2b",
    "Without ⊥Grad (and without weight decay) the net memorizes but does not generalize: test accuracy at the \
     last epoch (max over seeds; training accuracy 1 in the detail).",
    "Sec. 4, Fig. 1 (CE baseline)",
    Expect::at_most(0.02),
)
.wrong(
    "a run that secretly regularised (weight decay, or ⊥Grad left on) reaches ≥ 0.9 test accuracy; chance is 1/59 \
     ≈ 0.017",
);

const Q3A: ClaimSpec = ClaimSpec::new(
    "Q3a",
    "After memorisation the gradient aligns with the naïve-loss-minimisation direction: baseline cos(−∇L, θ) at \
     the last epoch (min over seeds).",
    "Sec. 4 (NLM), Fig. 3",
    Expect::at_least(0.65),
)
.wrong(
    "a gradient unrelated to θ has cos ≈ 1/√(3.9·10⁴) ≈ 0.005; the alignment right after memorisation (epoch \
     50) is 0.34–0.38; with biases the net is not homogeneous and θ is not the NLM direction (not measured here)",
);

const Q3B: ClaimSpec = ClaimSpec::new(
    "Q3b",
    "… and the alignment keeps rising: baseline cos(−∇L, θ) at the last epoch minus at epoch 100 (min over seeds).",
    "Sec. 4 (NLM), Fig. 3",
    Expect::at_least(0.08),
)
.wrong("a gradient whose alignment had saturated or fell (no NLM drift) gives ≤ 0");

const Q3C: ClaimSpec = ClaimSpec::new(
    "Q3c",
    "⊥Grad removes the NLM component of every tensor and keeps the norm: max over tensors, epochs and seeds of \
     |cos(g⊥, θ)| + |‖g⊥‖/‖g‖ − 1|.",
    "Sec. 5, Eq. 8 (official orthograd.py)",
    Expect::at_most(1e-6),
)
.wrong(
    "orthogonalizing the flattened global gradient leaves each tensor's cos at 10⁻²–10⁻¹; forgetting the \
     rescaling leaves ‖g⊥‖/‖g‖ = sin(angle) < 1",
);

const Q4: ClaimSpec = ClaimSpec::new(
    "Q4",
    "StableMax CE gradient against central differences (f64, random logits in [−6, 6]): max relative error, and \
     s(x) continuous at 0.",
    "Sec. 5, Eq. 6–7",
    Expect::at_most(1e-6),
)
.wrong("using the softmax gradient p − e_y for StableMax is off by O(1); s(x) = 1/(1 − x) without the x ≥ 0 branch has s(1) undefined");

const Q5: ClaimSpec = ClaimSpec::new(
    "Q5",
    "Higher precision delays softmax collapse: max over epochs of the training set's SC fraction, f32 minus f64 \
     (min over seeds), in a longer baseline run (quick: p = 31, h = 64, 2000 epochs).",
    "Sec. 3, Fig. 2",
    Expect::at_least(0.75),
)
.wrong(
    "a loss evaluated in f64 whatever the model's format (or with the sum ordered so that f32 never absorbs) \
     collapses in neither run: f32 − f64 = 0",
);

/// The claims, in report order.
pub const CLAIMS: &[ClaimSpec] = &[Q1, Q2A, Q2B, Q3A, Q3B, Q3C, Q4, Q5];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// One ±⊥Grad run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Run {
    /// Seed index.
    pub rep: usize,
    /// ⊥Grad on.
    pub orthograd: bool,
    /// Its record.
    pub record: Record,
}

/// One SC-onset run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScRun {
    /// Seed index.
    pub rep: usize,
    /// "f32" or "f64".
    pub dtype: String,
    /// Its record.
    pub record: Record,
}

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Results {
    /// Q1: measured zero-loss margins (f16, f32, f64), documented order.
    pub margins: Vec<f64>,
    /// Q1: the same, summing from the max (the wrong order).
    pub margins_from_max: Vec<f64>,
    /// The ±⊥Grad runs.
    pub runs: Vec<Run>,
    /// Q4: max relative error of the StableMax CE gradient against central differences.
    pub stablemax_fd_err: f64,
    /// Q4: |s(ε) − s(−ε)| + |s'(ε) − s'(−ε)| at ε = 1e-12.
    pub stablemax_jump: f64,
    /// Q5: SC-onset runs (empty when sc_epochs = 0).
    pub sc_runs: Vec<ScRun>,
}

/// Checkpoint epochs: ~40 log-spaced epochs in 1..=epochs, with 100 and the last.
pub fn checkpoints(epochs: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..40).map(|k| (epochs as f64).powf(k as f64 / 39.0).round() as usize).collect();
    v.extend([50, 100, 150, 200].into_iter().filter(|&e| e <= epochs));
    v.push(epochs);
    v.sort_unstable();
    v.dedup();
    v
}

/// The run specification of the ±⊥Grad runs.
pub fn spec(cfg: &Config, ortho: Ortho) -> RunSpec {
    RunSpec {
        p: cfg.p,
        train_frac: cfg.train_frac,
        hidden: cfg.hidden,
        epochs: cfg.epochs,
        lr: cfg.lr,
        beta1: 0.9,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: 0.0,
        head: Head::Softmax,
        ortho,
        checkpoints: checkpoints(cfg.epochs),
    }
}

fn run_in(dtype: &str, s: &RunSpec, seed: common::Seed) -> Record {
    if dtype == "f64" { run::<f64>(s, seed) } else { run::<f32>(s, seed) }
}

/// Q4: max relative error of the StableMax CE gradient against central differences over random
/// logit vectors (components kept 1e-3 away from the kink of s'' at 0).
pub fn stablemax_fd(n: usize, seed: common::Seed) -> f64 {
    let mut rng = seed.rng();
    let mut worst = 0.0f64;
    for _ in 0..n {
        let c = rng.random_range(2..12);
        let z: Vec<f64> = (0..c)
            .map(|_| {
                let v: f64 = rng.random_range(-6.0..6.0);
                if v.abs() < 1e-3 { 1e-3f64.copysign(v) } else { v }
            })
            .collect();
        let y = rng.random_range(0..c);
        let (_, g) = stablemax_ce(&z, y);
        for j in 0..c {
            let h = 1e-5;
            let (mut zp, mut zm) = (z.clone(), z.clone());
            zp[j] += h;
            zm[j] -= h;
            let fd = (stablemax_ce(&zp, y).0 - stablemax_ce(&zm, y).0) / (2.0 * h);
            worst = worst.max((g[j] - fd).abs() / g[j].abs().max(1e-3));
        }
    }
    worst
}

impl Study for GrokkingStablemax {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "grokking-stablemax"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Grokking at the Edge of Numerical Stability",
            authors: "Lucas Prieto, Melih Barsbey, Pedro A. M. Mediano, Tolga Birdal",
            arxiv: "2501.04697",
            official_code: Some("https://github.com/LucasPrietoAl/grokking-at-the-edge-of-numerical-stability"),
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let c = cfg.margin_classes;
        let margins = vec![
            zero_loss_margin::<f16>(c, false),
            zero_loss_margin::<f32>(c, false),
            zero_loss_margin::<f64>(c, false),
        ];
        let margins_from_max =
            vec![zero_loss_margin::<f16>(c, true), zero_loss_margin::<f32>(c, true), zero_loss_margin::<f64>(c, true)];
        let cells: Vec<(usize, bool)> = (0..cfg.reps).flat_map(|r| [(r, false), (r, true)]).collect();
        let recs = ctx.grid("runs", &cells, |&(rep, og), _| {
            // Both arms of a rep share data split and initialization.
            let seed = ctx.seed.child("run").child_idx("rep", rep as u64);
            Ok(run_in(&cfg.dtype, &spec(cfg, if og { Ortho::PerTensor } else { Ortho::None }), seed))
        })?;
        let runs = cells.iter().zip(recs).map(|(&(rep, orthograd), record)| Run { rep, orthograd, record }).collect();
        let mut sc_runs = Vec::new();
        if cfg.sc_epochs > 0 {
            let sc_cells: Vec<(usize, String)> =
                (0..cfg.sc_reps).flat_map(|r| [(r, "f32".to_string()), (r, "f64".to_string())]).collect();
            let s = RunSpec {
                p: cfg.sc_p,
                hidden: cfg.sc_hidden,
                epochs: cfg.sc_epochs,
                checkpoints: (1..=40).map(|k| (k * cfg.sc_epochs).div_ceil(40)).collect(),
                ..spec(cfg, Ortho::None)
            };
            let recs = ctx.grid("sc", &sc_cells, |(rep, dt), _| {
                Ok(run_in(dt, &s, ctx.seed.child("sc").child_idx("rep", *rep as u64)))
            })?;
            sc_runs =
                sc_cells.into_iter().zip(recs).map(|((rep, dtype), record)| ScRun { rep, dtype, record }).collect();
        }
        let e = 1e-12;
        Ok(Results {
            margins,
            margins_from_max,
            runs,
            stablemax_fd_err: stablemax_fd(cfg.fd_vectors, ctx.seed.child("fd")),
            stablemax_jump: (stablemax_s(e) - stablemax_s(-e)).abs() + (stablemax_ds(e) - stablemax_ds(-e)).abs(),
            sc_runs,
        })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        report::report(cfg, r, &mut out)?;
        Ok(out)
    }
}

mod report;

/// The unit round-offs of f16, f32, f64 and their closed-form margins at `c` classes.
pub fn closed_form_margins(c: usize) -> [f64; 3] {
    [
        collapse_margin(c, <f16 as Real>::UNIT_ROUNDOFF),
        collapse_margin(c, <f32 as Real>::UNIT_ROUNDOFF),
        collapse_margin(c, <f64 as Real>::UNIT_ROUNDOFF),
    ]
}

/// A row of the runs table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Arm.
    pub arm: String,
    /// Seed index.
    pub rep: usize,
    /// First checkpoint with training accuracy 1 (0: never).
    pub epoch_train_acc_1: usize,
    /// Test accuracy at epoch 100.
    pub test_acc_100: f64,
    /// Test accuracy at the last epoch.
    pub test_acc_last: f64,
    /// Training loss at the last epoch.
    pub train_loss_last: f64,
    /// cos(−∇L, θ) at epoch 100.
    pub cos_100: f64,
    /// cos(−∇L, θ) at the last epoch.
    pub cos_last: f64,
    /// SC fraction at the last epoch.
    pub sc_last: f64,
    /// ‖θ‖ at the last epoch.
    pub norm_last: f64,
}

#[cfg(test)]
mod tests;
