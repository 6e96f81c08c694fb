//! Study `opposing-signals`: Rosenfeld & Risteski, "Outliers with opposing signals have an outsized
//! effect on neural network optimization" (ICLR 2024, arXiv:2311.04163).
//!
//! The paper: paired groups of outliers carry a large feature that appears in both groups while
//! their labels disagree (an *opposing signal*). Early training balances the two groups in a
//! narrow valley; progressive sharpening then drives the top Hessian eigenvalue to the
//! gradient-descent stability threshold 2/η, where the two groups' losses oscillate in anti-phase;
//! the groups are the training points whose loss changes most between steps.
//!
//! The experiment (a toy of this repository's design; the paper's own toy and theorems were not
//! retrievable, see the README):
//! 1. **Data.** Binary `y = ±1`; `x ∈ ℝ^{d+1}`: `d` coordinates `~ N(y u, I)` with `‖u‖ = u_norm`,
//!    and an outlier coordinate `x_o = A` on a random `frac` of each class (group A ⊂ {y = +1},
//!    group B ⊂ {y = −1}), 0 elsewhere. The control `A = 0` has the same index groups.
//! 2. **Training.** An MLP `(d+1)-w-w-1` (tanh, biases), MSE `½ mean (f − y)²`, full-batch gradient
//!    descent with step η from a LeCun initialization.
//! 3. **Observers.** Every `sharpness_every` steps, λ_max of the training-loss Hessian by power
//!    iteration on the exact HVP, warm-started (`common::train::sharpness`); per-sample losses
//!    every step of the second half: the group losses L_A, L_B, L_rest, their per-step changes,
//!    and the points with the largest |Δℓ_i|.
//! 4. **Claims.** Q1: median λ_max over the second half ≈ 2/η at every amplitude. Q2: ΔL_A and ΔL_B
//!    anti-correlated with outliers, positively correlated in the control. Q3 (reported): the
//!    largest |Δℓ_i| are enriched in A ∪ B.

use anyhow::Result;
use common::report::fmt_num;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Study, Sweep, Swept, Table};
use serde::{Deserialize, Serialize};

pub mod figures;
pub mod toy;

pub use toy::{Plant, Run};

/// The study (registered in `repro/src/registry.rs`).
pub struct OpposingSignals;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Training points (half per class).
    pub n: usize,
    /// Gaussian input dimensions (the outlier coordinate comes on top).
    pub d: usize,
    /// ‖u‖: the class-mean separation of the Gaussian part.
    pub u_norm: f64,
    /// Share of each class that carries the outlier feature.
    pub frac: f64,
    /// Width of both hidden layers.
    pub width: usize,
    /// Hidden activation (He initialization for ReLU, LeCun for tanh).
    pub activation: common::models::Activation,
    /// Gradient-descent step η.
    pub eta: f64,
    /// Gradient-descent steps.
    pub steps: usize,
    /// Measure λ_max every this many steps.
    pub sharpness_every: usize,
    /// The most HVPs per λ_max measurement (power iteration, warm-started).
    pub power_iters: usize,
    /// Power iteration's relative stopping tolerance.
    pub power_tol: f64,
    /// Outlier amplitudes A (must hold 0, the control, and one above 0).
    pub amplitudes: Vec<f64>,
    /// Seeds (data, groups, initialization) per amplitude.
    pub reps: usize,
    /// Points ranked by |Δℓ_i| for claim Q3.
    pub top_k: usize,
    /// Steps at the end kept at every step for the zoomed figure.
    pub zoom: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            n: 400,
            d: 20,
            u_norm: 0.5,
            frac: 0.05,
            width: 32,
            activation: common::models::Activation::Tanh,
            eta: 0.2,
            steps: 2000,
            sharpness_every: 25,
            power_iters: 10,
            power_tol: 1e-3,
            amplitudes: vec![0.0, 20.0],
            reps: 3,
            top_k: 20,
            zoom: 60,
        }
    }
    fn full() -> Self {
        Config {
            n: 1000,
            width: 64,
            steps: 4000,
            sharpness_every: 20,
            power_iters: 20,
            power_tol: 1e-4,
            amplitudes: vec![0.0, 6.0, 12.0, 20.0],
            reps: 10,
            ..Self::quick()
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.size("n", self.n, 40, 200_000)
            .size("d", self.d, 1, 4096)
            .real("u_norm", self.u_norm, 0.0, 100.0)
            .real("frac", self.frac, 0.001, 0.4)
            .size("width", self.width, 2, 4096)
            .real("eta", self.eta, 1e-4, 10.0)
            .size("steps", self.steps, 20, 10_000_000)
            .size("sharpness_every", self.sharpness_every, 1, 1_000_000)
            .size("power_iters", self.power_iters, 1, 10_000)
            .real("power_tol", self.power_tol, 0.0, 0.5)
            .reals("amplitudes", &self.amplitudes, 0.0, 1000.0)
            .size("reps", self.reps, 1, 10_000)
            .size("top_k", self.top_k, 1, 100_000)
            .size("zoom", self.zoom, 1, 100_000)
            .rule(self.amplitudes.contains(&0.0), "`amplitudes` must hold 0 (the control of claim Q2)")
            .rule(self.amplitudes.iter().any(|&a| a > 0.0), "`amplitudes` must hold one above 0 (claim Q2)")
            .rule(self.top_k <= self.n, "`top_k` must be at most `n`")
            .rule(self.zoom <= self.steps, "`zoom` must be at most `steps`")
            .rule(
                self.steps / 2 >= 2 * self.sharpness_every,
                "`sharpness_every` must leave two measurements in the second half (`steps / 2 >= 2 sharpness_every`)",
            );
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        let p = ((self.d + 1) * self.width + self.width * self.width + 2 * self.width + 1) as f64;
        let n = self.n as f64;
        // Per running cell: the data, the activations of a pass (a few n x width arrays), the
        // per-step loss traces; results keep the traces.
        let per_cell = n * (self.d as f64 + 1.0) + 6.0 * n * self.width as f64 + 4.0 * p + 2.0 * self.steps as f64;
        let cells = (self.amplitudes.len() * self.reps) as f64;
        let flops_grad = 6.0 * n * p;
        let hvps = (self.steps / self.sharpness_every) as f64 * self.power_iters as f64 * 0.4;
        let per_run = self.steps as f64 * 1.4 * flops_grad + hvps * 2.5 * flops_grad;
        Estimate::f64s(2.0 * per_cell + cells * 5.0 * self.steps as f64).seconds(cells * per_run * 1e-9)
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const Q1: ClaimSpec = ClaimSpec::new(
    "Q1",
    "Gradient descent drives the sharpness to the edge of stability: the median of λ_max over the second half of \
     training, in units of 2/η, is within 5 % of 1 at every amplitude and seed (worst |ratio − 1|; the spec allows 10 %).",
    "Sec. 1 and 3 (progressive sharpening and the edge of stability; Cohen et al. 2021)",
    Expect::at_most(0.05),
)
.wrong(
    "an HVP off by a factor 2 (a loss normalized without its ½ on one side) reads λ_max = 2·(2/η), |ratio − 1| = 1; \
     the Gauss-Newton part alone or a cold power iteration of too few steps reads well below 2/η",
);

const Q2A: ClaimSpec = ClaimSpec::new(
    "Q2a",
    "With opposing outliers (A > 0) the two groups' losses oscillate in anti-phase: corr(ΔL_A, ΔL_B) of the per-step \
     changes over the second half (largest over seeds and amplitudes A > 0; the spec's bound is −0.5).",
    "Abstract; Sec. 3 (the losses of the two groups oscillate, high on one and then the other)",
    Expect::at_most(-0.9),
)
.wrong(
    "group labels shuffled (or groups taken from the wrong class) mix both groups with the rest: corr ≈ +1 (the \
     groups then move with the bulk loss), far above −0.9",
);

const Q2B: ClaimSpec = ClaimSpec::new(
    "Q2b",
    "Without the outlier feature (A = 0, same index groups) the two groups move together: corr(ΔL_A, ΔL_B) over the \
     second half (smallest over seeds).",
    "Sec. 3 (the anti-phase oscillation is due to the opposing signal)",
    Expect::at_least(0.0),
)
.not_gated(
    "does not hold in this toy: the control's groups lie in opposite classes, and an edge-of-stability oscillation \
     along the output-bias direction moves their losses in anti-phase too; corr at A = 0 ranged from −1 to +0.7 over \
     the 20 calibration seeds (README)",
);

const Q3: ClaimSpec = ClaimSpec::new(
    "Q3",
    "The points with the largest per-step loss change |ℓ_i(t) − ℓ_i(t−1)| are the opposing groups: share of A ∪ B \
     among the top 20 (mean over the second half's sharpness steps; smallest over seeds, A > 0; base rate frac).",
    "Sec. 2 (identifying the groups by their loss change)",
    Expect::at_least(0.5),
)
.not_gated(
    "the spec marks it report/soft; well above the base rate 0.05 at most seeds, but its minimum over the 20 \
     calibration seeds was 0.05",
);

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[Q1, Q2A, Q2B, Q3];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// One run per (amplitude, rep).
    pub runs: Swept<Run>,
}

impl Study for OpposingSignals {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "opposing-signals"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Outliers with Opposing Signals Have an Outsized Effect on Neural Network Optimization",
            authors: "Elan Rosenfeld, Andrej Risteski",
            arxiv: "2311.04163",
            official_code: None,
        }
    }
    fn gpu_path(&self) -> bool {
        true
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let sweep = Sweep::new("toy").axis("amplitude", &cfg.amplitudes).reps(cfg.reps);
        let device = ctx.device;
        let runs = ctx.sweep(&sweep, |c, seed| {
            // The data seed is shared by the amplitudes of a rep: the control has the same groups.
            let _ = seed;
            let rep_seed = ctx.seed.child("toy").child_idx("rep", c.rep() as u64);
            toy::run(cfg, c.f64("amplitude"), rep_seed, device, Plant::None)
        })?;
        Ok(Results { runs })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let rows: Vec<Row> = r.runs.iter().map(|(c, run)| Row::of(c, run, cfg)).collect();
        out.table(Table::from_rows("runs", "Per (amplitude, seed): sharpness, group-loss correlation, spikes", &rows));

        out.claim(Q1.max_of(rows.iter().map(|w| (&w.cell, (w.median_sharpness_over_eos - 1.0).abs()))));
        let pos = || rows.iter().filter(|w| w.amplitude > 0.0);
        out.claim(Q2A.max_of(pos().map(|w| (&w.cell, w.corr_ab))));
        out.claim(Q2B.min_of(rows.iter().filter(|w| w.amplitude == 0.0).map(|w| (&w.cell, w.corr_ab))));
        out.claim(Q3.min_of(pos().map(|w| (&w.cell, w.top_precision))).detail(format!(
            "base rate {}; at A = 0: {}",
            fmt_num(2.0 * toy::group_size(cfg) as f64 / cfg.n as f64),
            rows.iter().filter(|w| w.amplitude == 0.0).map(|w| fmt_num(w.top_precision)).collect::<Vec<_>>().join(", ")
        )));

        figures::all(&mut out, cfg, r);
        out.note(format!(
            "Setup: n = {} points (d = {} Gaussian dimensions, ‖u‖ = {}, outlier share {} per class, {} per group), \
             MLP {}-{w}-{w}-1 tanh with biases, MSE ½·mean(f − y)², full-batch GD η = {} (2/η = {}) for {} steps; \
             λ_max by warm-started power iteration on the exact HVP (at most {} products, tolerance {}) every {} steps; \
             amplitudes {:?}, {} seeds each (the control shares the seed's data and groups).",
            cfg.n,
            cfg.d,
            fmt_num(cfg.u_norm),
            fmt_num(cfg.frac),
            toy::group_size(cfg),
            cfg.d + 1,
            fmt_num(cfg.eta),
            fmt_num(2.0 / cfg.eta),
            cfg.steps,
            cfg.power_iters,
            fmt_num(cfg.power_tol),
            cfg.sharpness_every,
            cfg.amplitudes,
            cfg.reps,
            w = cfg.width,
        ));
        Ok(out)
    }
}

/// One row of the runs table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The cell, as text.
    pub cell: String,
    /// Outlier amplitude A.
    pub amplitude: f64,
    /// Seed index.
    pub rep: usize,
    /// Median λ_max over the second half / (2/η).
    pub median_sharpness_over_eos: f64,
    /// corr(ΔL_A, ΔL_B) over the second half.
    pub corr_ab: f64,
    /// Share of A ∪ B among the top-k |Δℓ_i|.
    pub top_precision: f64,
    /// Steps of the second half with loss above twice its median.
    pub spikes: usize,
    /// Final training loss.
    pub final_loss: f64,
    /// HVPs spent on sharpness.
    pub hvps: usize,
    /// Whether the run diverged.
    pub diverged: bool,
}

impl Row {
    fn of(c: &common::Cell, run: &Run, _cfg: &Config) -> Row {
        Row {
            cell: c.to_string(),
            amplitude: run.amplitude,
            rep: c.rep(),
            median_sharpness_over_eos: run.median_sharpness_over_eos,
            corr_ab: run.corr_ab,
            top_precision: run.top_precision,
            spikes: run.spikes,
            final_loss: run.loss.last().copied().unwrap_or(f64::NAN),
            hvps: run.hvps,
            diverged: run.diverged,
        }
    }
}

#[cfg(test)]
mod tests;
