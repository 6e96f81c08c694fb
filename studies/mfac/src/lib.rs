//! Study `mfac`: M-FAC, Efficient Matrix-Free Approximations of Second-Order Information
//! (Frantar, Kurtic, Alistarh, NeurIPS 2021, arXiv:2107.03356; code IST-DASLab/M-FAC).
//!
//! Both algorithms act with the inverse of the damped empirical Fisher
//! `F = lambda I + (1/m) sum_i g_i g_i^T` without forming it: the static one ([`static_inv`],
//! O(dm^2) setup, O(dm) IHVP, O(m) per element of `F^{-1}`) and the sliding-window one
//! ([`dynamic`], O(dm + m^2) IHVP, O(dm + m^3) per replaced gradient). The experiment:
//! 1. **Scaling (M3, claims C2a-C2h)**: time the dynamic IHVP and update and the static IHVP and
//!    setup over d and over m, count the multiplications their kernels execute ([`kernels`]), and
//!    time the dense alternative (form F, Cholesky, solve) over d ([`timing`]). It runs first, alone.
//! 2. **Exactness (M1, M2, M4, claims C1a-C1d)**: both algorithms and the repo's `HInvSlow`
//!    against a dense Cholesky solve, and the ring buffer after every insert ([`exact`]).
//! 3. **Pruning (M5, claims C3, C3c, C3d)**: an MLP on the digits pruned one-shot by magnitude and
//!    by the OBS saliency of the static inverse, from per-sample gradients (on the GPU under
//!    `--device cuda`) ([`prune`]); at the first step, how well the saliency predicts the real
//!    training-loss increase of removing each of 32 weights.
//! 4. **Optimizers (M6, claim C4)**: SGD with momentum, Adam and the M-FAC optimizer at tuned step
//!    sizes ([`compare`]).
//!
//! See `README.md`.

pub mod compare;
pub mod cost;
pub mod dynamic;
pub mod exact;
pub mod figures;
pub mod kernels;
pub mod optimizer;
pub mod prune;
pub mod reference;
pub mod report;
pub mod static_inv;
pub mod task;
pub mod timing;

use anyhow::Result;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Study};
use serde::{Deserialize, Serialize};

use compare::OptResult;
use exact::ExactRow;
use prune::PruneSeed;
use timing::Scaling;

/// The study (registered in `repro`).
pub struct Mfac;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run; `quick()` is CI's profile, `full()` the closest feasible to the paper.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    // --- M1/M4 exactness against the dense inverse: m random gradients of length d
    pub exact_m: usize,
    pub exact_d: usize,
    pub exact_damps: Vec<f64>,
    /// Also run the repo's dense `HInvSlow` (O(m d^2)).
    pub exact_hinv_slow: bool,
    // --- M2 ring buffer: a window of m gradients of length d, `ring_inserts` replacements
    pub ring_m: usize,
    pub ring_d: usize,
    pub ring_inserts: usize,
    pub ring_damp: f64,
    // --- M3 scaling
    pub timing_damp: f64,
    /// Threads of the timed kernels (1: per-core cost, least sensitive to other processes).
    pub timing_threads: usize,
    /// Interleaved rounds of measurements.
    pub timing_reps: usize,
    /// The d sweep at m = `timing_m`; slopes are fitted on d >= `timing_fit_min_d` (out of cache).
    pub timing_m: usize,
    pub timing_ds: Vec<usize>,
    pub timing_fit_min_d: usize,
    /// The m sweep at d = `timing_d`.
    pub timing_d: usize,
    pub timing_ms: Vec<usize>,
    /// The dense alternative (form F, Cholesky, solve) at these d, with `dense_m` gradients; its
    /// slope is fitted without the smallest d.
    pub dense_ds: Vec<usize>,
    pub dense_m: usize,
    pub dense_reps: usize,
    // --- the MLP task (digits): task seeds, hidden width, held-out share, mini-batch size
    pub seeds: usize,
    pub hidden: usize,
    pub test_frac: f64,
    pub batch: usize,
    /// Adam epochs of the dense model that is pruned.
    pub dense_epochs: usize,
    pub dense_lr: f64,
    // --- M5 pruning
    /// Per-sample gradients per Fisher estimate (at most the training-set size).
    pub prune_m: usize,
    /// Damping relative to the mean of the Fisher diagonal.
    pub prune_damp_rel: f64,
    /// Block size of the static algorithm (0: one block of all weights).
    pub prune_blocksize: usize,
    /// Sparsity path (increasing); M-FAC re-estimates F at each step of it.
    pub sparsities: Vec<f64>,
    /// The sparsities at which M-FAC must beat magnitude pruning (claim C3); on the path.
    pub gate_sparsities: Vec<f64>,
    // --- M6 optimizer comparison
    pub opt_epochs: usize,
    pub opt_eval_every: usize,
    pub opt_target_loss: f64,
    pub opt_m: usize,
    pub opt_mfac_damp: f64,
    pub opt_lrs_mfac: Vec<f64>,
    /// M-FAC also at a small damping like the repo's default (1e-5), to show what it does here.
    pub opt_small_damp: f64,
    pub opt_lrs_mfac_small_damp: Vec<f64>,
    pub opt_momentum: f64,
    pub opt_lrs_sgd: Vec<f64>,
    pub opt_lrs_adam: Vec<f64>,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            exact_m: 64,
            exact_d: 2000,
            exact_damps: vec![1e-5, 1e-3, 1e-1],
            exact_hinv_slow: true,
            ring_m: 32,
            ring_d: 400,
            ring_inserts: 96,
            ring_damp: 1e-3,
            timing_damp: 1e-5,
            timing_threads: 1,
            timing_reps: 7,
            timing_m: 64,
            timing_ds: vec![10_000, 30_000, 100_000, 300_000, 1_000_000],
            timing_fit_min_d: 100_000,
            timing_d: 100_000,
            timing_ms: vec![32, 64, 128, 256],
            dense_ds: vec![250, 500, 1000, 2000],
            dense_m: 64,
            dense_reps: 3,
            seeds: 3,
            hidden: 32,
            test_frac: 0.2,
            batch: 32,
            dense_epochs: 40,
            dense_lr: 1e-3,
            prune_m: 256,
            prune_damp_rel: 1e-4,
            prune_blocksize: 0,
            sparsities: (1..=9).map(|k| k as f64 / 10.0).collect(),
            gate_sparsities: vec![0.8, 0.9],
            opt_epochs: 15,
            opt_eval_every: 10,
            opt_target_loss: 0.01,
            opt_m: 32,
            opt_mfac_damp: 0.1,
            opt_lrs_mfac: vec![0.05, 0.1, 0.2, 0.4],
            opt_small_damp: 1e-4,
            opt_lrs_mfac_small_damp: vec![1e-3, 3e-3, 1e-2],
            opt_momentum: 0.9,
            opt_lrs_sgd: vec![0.025, 0.05, 0.1, 0.2],
            opt_lrs_adam: vec![5e-3, 1e-2, 2e-2, 4e-2],
        }
    }

    /// Bigger everything: d up to 3e6 and m up to 512 for the scaling, the repo's pruning window
    /// (m = 1024 gradients), five seeds, longer training.
    fn full() -> Self {
        Config {
            exact_m: 128,
            exact_d: 4000,
            exact_damps: vec![1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
            ring_m: 64,
            ring_d: 1000,
            ring_inserts: 192,
            timing_reps: 21,
            timing_ds: vec![10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000],
            timing_ms: vec![32, 64, 128, 256, 512],
            dense_ds: vec![250, 500, 1000, 2000, 4000],
            dense_reps: 5,
            seeds: 5,
            dense_epochs: 60,
            prune_m: 1024,
            opt_epochs: 30,
            ..Config::quick()
        }
    }
}

/// Images in the shipped digits (the split's size follows from `test_frac`).
pub const DIGITS_N: usize = 1797;

impl Config {
    /// Training images of the digits split.
    pub fn n_train(&self) -> usize {
        DIGITS_N - ((DIGITS_N as f64) * self.test_frac).round().clamp(0.0, DIGITS_N as f64) as usize
    }
    /// Parameters of the MLP `64 -> hidden -> 10` (weights and biases).
    pub fn n_params(&self) -> usize {
        75 * self.hidden + 10
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let n = self.n_train();
        let on_path = |g: &f64| self.sparsities.iter().any(|s| (s - g).abs() < 1e-9);
        let (damp_lo, damp_hi) = (1e-6, 1e3); // a dense Cholesky reference stays well defined
        let mut c = Checks::new();
        c.size("exact_m", self.exact_m, 1, 2048)
            .size("exact_d", self.exact_d, 1, 40_000)
            .reals("exact_damps", &self.exact_damps, damp_lo, damp_hi)
            .size("ring_m", self.ring_m, 1, 1024)
            .size("ring_d", self.ring_d, 1, 20_000)
            .size("ring_inserts", self.ring_inserts, 1, 10_000)
            .real("ring_damp", self.ring_damp, damp_lo, damp_hi)
            .real("timing_damp", self.timing_damp, damp_lo, damp_hi)
            .size("timing_threads", self.timing_threads, 1, 256)
            .size("timing_reps", self.timing_reps, 1, 1000)
            .size("timing_m", self.timing_m, 1, 8192)
            .sizes("timing_ds", &self.timing_ds, 1, 100_000_000)
            .increasing("timing_ds", &self.timing_ds)
            .size("timing_fit_min_d", self.timing_fit_min_d, 1, 100_000_000)
            .rule(
                self.timing_ds.iter().filter(|&&d| d >= self.timing_fit_min_d).count() >= 2,
                "`timing_ds` must hold at least two sizes >= `timing_fit_min_d` (the fit in d)",
            )
            .size("timing_d", self.timing_d, 1, 100_000_000)
            .sizes("timing_ms", &self.timing_ms, 1, 8192)
            .increasing("timing_ms", &self.timing_ms)
            .rule(self.timing_ms.len() >= 2, "`timing_ms` must hold at least two sizes (the fit in m)")
            .sizes("dense_ds", &self.dense_ds, 1, 40_000)
            .increasing("dense_ds", &self.dense_ds)
            .rule(self.dense_ds.len() >= 3, "`dense_ds` must hold at least three sizes (the fit drops the smallest)")
            .size("dense_m", self.dense_m, 1, 8192)
            .size("dense_reps", self.dense_reps, 1, 1000)
            .size("seeds", self.seeds, 1, 100)
            .size("hidden", self.hidden, 1, 4096)
            .real("test_frac", self.test_frac, 0.01, 0.9)
            .size("batch", self.batch, 1, n)
            .size("dense_epochs", self.dense_epochs, 1, 10_000)
            .positive("dense_lr", self.dense_lr, 10.0)
            .size("prune_m", self.prune_m, 1, n)
            .positive("prune_damp_rel", self.prune_damp_rel, 1e3)
            .size("prune_blocksize", self.prune_blocksize, 0, 10_000_000)
            .reals("sparsities", &self.sparsities, 0.0, 1.0)
            .increasing("sparsities", &self.sparsities)
            .reals("gate_sparsities", &self.gate_sparsities, 0.0, 1.0)
            .rule(self.gate_sparsities.iter().all(on_path), "every `gate_sparsities` value must be on `sparsities`")
            .size("opt_epochs", self.opt_epochs, 1, 10_000)
            .size("opt_eval_every", self.opt_eval_every, 1, 1_000_000)
            .positive("opt_target_loss", self.opt_target_loss, 1e3)
            .size("opt_m", self.opt_m, 1, 1024)
            .real("opt_mfac_damp", self.opt_mfac_damp, 1e-8, 1e6)
            .real("opt_small_damp", self.opt_small_damp, 1e-8, 1e6)
            .prob("opt_momentum", self.opt_momentum);
        for (key, lrs) in [
            ("opt_lrs_mfac", &self.opt_lrs_mfac),
            ("opt_lrs_mfac_small_damp", &self.opt_lrs_mfac_small_damp),
            ("opt_lrs_sgd", &self.opt_lrs_sgd),
            ("opt_lrs_adam", &self.opt_lrs_adam),
        ] {
            c.reals(key, lrs, 1e-9, 1e3);
        }
        c.finish()
    }

    /// The phases run one after another; the peak is the largest phase. Grids run `jobs` cells at
    /// once (taken as this machine's threads).
    /// Peak memory of the largest phase (see [`cost`]) and a rough time.
    fn estimate(&self) -> Estimate {
        let jobs = std::thread::available_parallelism().map_or(2.0, |n| n.get() as f64);
        Estimate::f64s(cost::peak_f64s(self, jobs)).seconds(cost::seconds(self, jobs))
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims (in report order: the scaling first, as it runs first)

const ROUNDING_DRIFT: f64 = 10.0; // errors of size κ(F)·ε times a machine-dependent factor
/// The counted slopes are 1 up to the m^2 terms (0.994-1.000 at the profiles' sizes); an
/// O(dm log m) IHVP would count 1.2-1.3 in m, an O(d^2) or O(dm^2) one 2.
const COUNT_BAND: Expect = Expect::between(0.9, 1.1);
/// Wall-clock slopes: 0.92-1.18 in 290 sets of the quick profile's rounds under a load average of
/// 6-11 (see the README), but 0.85 and 0.586 in the workspace test runs (23 studies' tests in
/// parallel threads of one process, which hits the small sizes' timings hardest); the wrong
/// answers below give 1.85-3.0, so the band is [0.4, 1.6].
const TIME_BAND: Expect = Expect::between(0.4, 1.6);
/// The band is the timing gate; the drift tolerance covers the honest run-to-run spread of a
/// timing slope under load: 0.85 and 0.586 were measured in workspace test runs (baseline 1.07),
/// beyond the 0.93-1.16 of the calibration; relative to the band's width (1.2) that is 0.40.
const TIME_DRIFT: f64 = 0.5;
const C2A: ClaimSpec = ClaimSpec::new(
    "C2a",
    "The dynamic algorithm's IHVP costs O(dm + m^2): linear in d.",
    "abstract; paper, dynamic algorithm",
    COUNT_BAND,
)
.wrong(
    "an IHVP with O(d^2) work counts a slope of 2 in d: the multiplications are counted where the kernels execute \
     them and the algorithms compute nothing outside the kernels, so extra work is counted (planted, an IHVP that \
     forms GᵀG on every call: 2.00)",
);
const C2B: ClaimSpec = ClaimSpec::new(
    "C2b",
    "The dynamic algorithm's IHVP costs O(dm + m^2): linear in m while dm dominates.",
    "abstract; paper, dynamic algorithm",
    COUNT_BAND,
)
.wrong(
    "an IHVP that rebuilt the vectors v_i = B G on every call (O(dm^2)) counts about 2 in m (planted: 1.96 over m = \
     64-256), one with an O(dm log m) step 1.2-1.3; the band is 0.9-1.1 around the honest 0.99-1.02",
);
const C2C: ClaimSpec = ClaimSpec::new(
    "C2c",
    "The static algorithm's IHVP costs O(dm): linear in d and in m.",
    "abstract; paper, static algorithm",
    COUNT_BAND,
)
.wrong(
    "a static IHVP with O(dm^2) work per call (recomputing its Sherman-Morrison vectors, or their m x m Gram matrix: \
     planted, 1.98) counts 2 in m; one through the dense inverse 2 in d",
);
const C2D: ClaimSpec = ClaimSpec::new(
    "C2d",
    "Measured: the dynamic IHVP's time is linear in d.",
    "abstract; paper, dynamic algorithm",
    TIME_BAND,
)
.drift(TIME_DRIFT)
.wrong(
    "an IHVP with O(d^2) work takes time of slope 2 in d, whether or not the kernels count it (planted, forming GᵀG \
     on every call at d = 500-2000: 2.2-3.0); the honest slope stayed within 0.93-1.16 in 290 calibration sets \
     under load",
);
const C2E: ClaimSpec = ClaimSpec::new(
    "C2e",
    "Measured: the dynamic IHVP's time is linear in m.",
    "abstract; paper, dynamic algorithm",
    TIME_BAND,
)
.drift(TIME_DRIFT)
.wrong(
    "an IHVP that rebuilt v_i = B G on every call (O(dm^2)) takes time of slope about 2 in m (planted, m = 64-256: \
     1.85-2.01); the honest slope stayed within 0.88-1.19 in 290 calibration sets under load",
);
const C2F: ClaimSpec = ClaimSpec::new(
    "C2f",
    "Replacing a gradient costs O(dm + m^3): linear in d at fixed m, with an m^3 term.",
    "abstract; paper, dynamic algorithm",
    COUNT_BAND,
)
.not_gated("reported: the gated IHVP claims carry the complexity; the update's m^3 share depends on m");
const C2G: ClaimSpec = ClaimSpec::new(
    "C2g",
    "The static precomputation costs O(dm^2): quadratic in m.",
    "abstract; paper, static algorithm",
    Expect::between(1.5, 2.2),
)
.not_gated("reported: the precomputation is not an IHVP claim of the paper's headline; one timing per size");
const C2H: ClaimSpec = ClaimSpec::new(
    "C2h",
    "The dense alternative (form F, Cholesky, solve) is cubic in d.",
    "paper, introduction (explicit inverse: O(d^3))",
    Expect::at_least(2.4),
)
.drift(0.15)
.not_gated(
    "reported: a property of the baseline, not of M-FAC, and a wall-clock slope (faer's Cholesky runs closer to peak \
     speed as d grows; 2.7-3.1 in repeated runs)",
);
const C1A: ClaimSpec = ClaimSpec::new(
    "C1a",
    "The dynamic (sliding-window) algorithm's IHVP equals F^{-1}x for the damped empirical Fisher F = λI + (1/m)ΣggT (an exact identity, not an approximation).",
    "paper, dynamic algorithm; repo optim.py HInvFastUpMulti",
    Expect::at_most(1e-8),
)
.drift(ROUNDING_DRIFT)
.wrong(
    "a Fisher without its 1/m (F = λI + ΣggT) gives a relative error of 0.98 for a vector in the span of the gradients \
     (planted, 64 x 300, at each damping); the dense reference's own rounding is κ(F)·ε (9.5e-10 at λ = 1e-5), the \
     measured worst 3e-9, the bound 1e-8"
);
const C1B: ClaimSpec = ClaimSpec::new(
    "C1b",
    "The static algorithm's IHVP equals F^{-1}x.",
    "paper, static algorithm; repo prun.py HInvFastSwap",
    Expect::at_most(1e-8),
)
.drift(ROUNDING_DRIFT)
.wrong(
    "a Fisher without its 1/m gives 0.98 in the static algorithm too (planted, as for C1a), eight orders above the \
     bound",
);
const C1C: ClaimSpec = ClaimSpec::new(
    "C1c",
    "The static algorithm gives any element of diag(F^{-1}) in O(m), exactly.",
    "abstract; repo prun.py diag()",
    Expect::at_most(1e-9),
)
.drift(ROUNDING_DRIFT)
.wrong(
    "a diagonal of the Fisher without its 1/m is off by 1.3e-6 / 1.3e-4 / 1.3e-2 at λ = 1e-5 / 1e-3 / 0.1 (planted, \
     64 x 300: the rank-64 part hardly moves the diagonal at small λ, still three orders above the bound), one \
     without its λ^{-1} term by 1.4; the dense reference's rounding is 2e-10",
);
const C1D: ClaimSpec = ClaimSpec::new(
    "C1d",
    "Replacing the oldest gradient of the window (O(dm + m^3)) keeps the IHVP exact for the new window.",
    "paper, dynamic algorithm (window updates); repo optim.py update/update_mul",
    Expect::at_most(1e-9),
)
.drift(ROUNDING_DRIFT)
.wrong(
    "replacing the wrong ring slot leaves the window of another set of gradients: an error of 0.11 after the first \
     wrap (planted, m = 8, d = 60), ten orders above the measured 5e-12 and eight above the bound",
);
const C3: ClaimSpec = ClaimSpec::new(
    "C3",
    "One-shot OBS pruning with the static M-FAC inverse Fisher keeps more accuracy than magnitude pruning at equal sparsity.",
    "paper, pruning experiments (ResNet/MobileNet on ImageNet there); repo main_prun.py MFACPruner",
    Expect::at_least(2.0),
)
.drift(0.34)
.wrong(
    "a pruner no better than magnitude pruning (the simpler method) wins on no seed: planted 1 point below \
     magnitude, or identical to it (a tie is no win), C3 measures 0, whereas the correct pruner wins on every one \
     of 90 task seeds, by 3-23 points at 80 % and 7-42 at 90 % sparsity. It tests the paper's claim, not the \
     implementation: planted wrong OBS steps still beat magnitude (without the OBS update: 2-3 of 3 seeds at 28 of \
     30 root seeds; a Fisher without its 1/m or a diagonal of λI: 15 of 15 task seeds); C1a-C1c test the algorithms",
);
const C3C: ClaimSpec = ClaimSpec::new(
    "C3c",
    "The OBS saliency w_q^2/(2[F^-1]_qq) ranks weights by the training-loss increase of removing each with its OBS update.",
    "paper, OBS pruning background; repo main_prun.py MFACPruner",
    Expect::at_least(0.5),
)
.not_gated(
    "reported: the rank correlation cannot tell a right saliency from a wrong one here: the saliency's order is \
     magnitude's (Spearman 0.998-1.000 between the two), so w_q^2 ranks the same increases as well (within 0.03, \
     90 task seeds); and it spreads 0.17-0.92 over task seeds (0.51-0.73 for the median of three, 30 root seeds)",
);
const C3D: ClaimSpec = ClaimSpec::new(
    "C3d",
    "The OBS saliency is the training-loss increase of removing a weight with its OBS update (the quadratic model with the empirical Fisher).",
    "paper, OBS pruning background (the saliency is the increase of the loss's quadratic model)",
    Expect::between(0.5, 2.0),
)
.not_gated(
    "reported: with an empirical Fisher of rank m = 256 against 2368 weights at a well-fitted model, the realised \
     increase is 2e3-2e5 times the saliency (median 5e4 over 90 task seeds; 3e4-1e5 for the median of three), while \
     the Taylor model with the true Hessian gives 0.88-1.42: the loss is locally quadratic, the Fisher \
     underestimates its curvature along the OBS updates",
);
const C4: ClaimSpec = ClaimSpec::new(
    "C4",
    "M-FAC-preconditioned SGD reaches a target loss in fewer steps than SGD and Adam, each at its tuned step size.",
    "paper, optimization experiments (ResNets on CIFAR there); repo main_optim.py",
    Expect::at_most(1.0),
)
.drift(0.3)
.not_gated(
    "reported: on this 2.4k-parameter MLP the tuned M-FAC run is level with tuned Adam (within about ±15% of its \
     steps across seeds in exploratory runs) and ahead of SGD with momentum, so the sign of the comparison is not \
     stable; the paper's setting (ResNets on CIFAR-10, m = 512-1024) is out of reach of the quick profile",
);

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[C2A, C2B, C2C, C2D, C2E, C2F, C2G, C2H, C1A, C1B, C1C, C1D, C3, C3C, C3D, C4];

// ---------------------------------------------------------------------------------------------
// 3. Results and measure

/// Wall time of one part of the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Lap {
    pub part: String,
    pub seconds: f64,
}

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// M3: the d and m sweeps and the dense alternative.
    pub scaling: Scaling,
    /// M1, M4: every algorithm and vector against the dense reference.
    pub exact: Vec<ExactRow>,
    /// M2: rel. error after each insert into the ring buffer.
    #[serde(with = "common::report::json_f64::vec")]
    pub ring: Vec<f64>,
    /// M5: one entry per task seed.
    pub prune: Vec<PruneSeed>,
    /// M6: every (optimizer, learning rate, seed).
    pub optim: Vec<OptResult>,
    /// Wall time by part.
    pub wall: Vec<Lap>,
}

impl Study for Mfac {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "mfac"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "M-FAC: Efficient Matrix-Free Approximations of Second-Order Information",
            authors: "Elias Frantar, Eldar Kurtic, Dan Alistarh",
            arxiv: "2107.03356",
            official_code: Some("https://github.com/IST-DASLab/M-FAC"),
        }
    }
    /// The pruning experiment's per-sample gradients (the empirical Fisher) run on the GPU under
    /// `--device cuda`.
    fn gpu_path(&self) -> bool {
        true
    }

    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let mut wall = vec![];
        let mut clock = std::time::Instant::now();
        let mut lap = |part: &str| {
            wall.push(Lap { part: part.into(), seconds: clock.elapsed().as_secs_f64() });
            clock = std::time::Instant::now();
        };
        // Timing first, alone: nothing else runs while it measures.
        let scaling = timing::run(cfg, ctx.seed.child("timing"))?;
        lap("scaling (M3)");
        let (m, d) = (cfg.exact_m, cfg.exact_d);
        let exact = exact::exactness(m, d, &cfg.exact_damps, cfg.exact_hinv_slow, ctx.seed.child("exact"));
        let ring = exact::ring_buffer(cfg.ring_m, cfg.ring_d, cfg.ring_inserts, cfg.ring_damp, ctx.seed.child("ring"));
        lap("exactness (M1, M2, M4)");
        let seeds: Vec<usize> = (0..cfg.seeds).collect();
        let prune = ctx.grid("prune", &seeds, |&k, _| prune::run_seed(cfg, k, ctx.device, ctx.seed))?;
        lap("pruning (M5)");
        let cells = compare::cells(cfg);
        let runs = ctx.grid("optim", &cells, |c, _| compare::run_cell(cfg, c, ctx.seed))?;
        let optim = cells.into_iter().zip(runs).map(|(cell, run)| OptResult { cell, run }).collect();
        lap("optimizers (M6)");
        Ok(Results { scaling, exact, ring, prune, optim, wall })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        report::report_scaling(cfg, &r.scaling, &mut out);
        report::report_exactness(cfg, r, &mut out);
        report::report_pruning(cfg, &r.prune, &mut out);
        report::report_optimizers(cfg, r, &mut out);
        let parts: Vec<String> = r.wall.iter().map(|l| format!("{} {:.1} s", l.part, l.seconds)).collect();
        out.note(format!("Wall time by part: {}.", parts.join(", ")));
        Ok(out)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
common::seed_checks!(crate::Mfac);
