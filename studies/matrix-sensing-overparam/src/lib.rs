//! Study `matrix-sensing-overparam`: Xiong, Ding & Du, "How Over-Parameterization Slows Down
//! Gradient Descent in Matrix Sensing: The Curses of Symmetry and Initialization" (ICLR 2024,
//! arXiv:2310.01769).
//!
//! The experiment, on one PSD rank-r target M* per replicate:
//! 1. `sym`: symmetric XXᵀ with a symmetric Gaussian operator, k = r (linear) and k > r (Θ(1/T²));
//! 2. `fact`: the same with A = I (population loss), against the closed form (k − r)/(4η²);
//! 3. `asym`: FGᵀ with a general Gaussian operator, F0 ~ α, G0 ~ α/3: linear rate vs α, against
//!    the imbalance band 2η·[λ_1, λ_{r+1}](F0ᵀF0 − G0ᵀG0) computed from the initialisation;
//! 4. `balance`: F0 = G0 (no imbalance: slow) vs F0 ≠ G0 (imbalanced: linear);
//! 5. `onestep`: a one-step rebalancing of (F, G) (a derived analogue of the paper's Sec. 5 step,
//!    whose exact form was not retrievable here) that removes the α dependence;
//! 6. `noise` (full profile): the same parameterisations with noisy measurements.
//!
//! Every run is one cell of a grid ([`runs`]); `measure` keeps per run the numbers the claims read
//! (slope, window rate, constants, theory band) and its curve thinned for the figures.

pub mod config;
pub mod figures;
pub mod fit;
pub mod gd;
pub mod problem;
pub mod runs;
pub mod tables;
pub mod theory;

#[cfg(test)]
mod tests;

use anyhow::Result;
use common::report::{fmt_list, fmt_num};
use common::stats;
use common::{ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Study};
pub use config::{AsymConfig, BalanceConfig, FactConfig, NoiseConfig, OneStepConfig, SymConfig};
use runs::{Cell, Role, Run};
use serde::{Deserialize, Serialize};

/// The study object registered in the CLI.
pub struct MatrixSensingOverparam;

// ---------------------------------------------------------------------------------------------
// 1. Config

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Side of the square target M* (n × n).
    pub n: usize,
    /// Nonzero eigenvalues of the PSD target M*; its rank r is their count.
    pub spectrum: Vec<f64>,
    /// Number of Gaussian measurements (the dense operator has m·n² entries).
    pub m: usize,
    /// GD step size (all runs).
    pub eta: f64,
    /// Independent replicates (operator, target and initialisations); every claim covers all.
    pub reps: usize,
    /// A run stops when its error falls below this (double precision is exhausted near 1e-28).
    pub floor: f64,
    pub sym: SymConfig,
    pub fact: FactConfig,
    pub asym: AsymConfig,
    pub balance: BalanceConfig,
    pub onestep: OneStepConfig,
    pub noise: NoiseConfig,
}

impl Profiles for Config {
    fn quick() -> Config {
        Config {
            n: 20,
            spectrum: vec![1.0, 0.5],
            m: 800,
            eta: 0.05,
            reps: 1,
            floor: 1e-24,
            sym: SymConfig {
                ks: vec![3, 4],
                alphas: vec![0.1, 0.3],
                steps: 20_000,
                exact_steps: 5_000,
                slope_from: 0.5,
            },
            fact: FactConfig { ks: vec![3, 4, 6], alpha: 0.1, steps: 20_000 },
            asym: AsymConfig {
                k: 4,
                alphas: vec![0.025, 0.035, 0.05, 0.07],
                extra_alphas: vec![0.1, 0.2, 0.4],
                max_steps: 600_000,
                window_lo: 1e-14,
                window_hi: 1e-8,
                exact_alphas: vec![0.025, 0.1],
                exact_steps: 10_000,
            },
            balance: BalanceConfig { k: 4, alpha: 0.1, steps: 20_000, imbalanced_steps: 100_000 },
            onestep: OneStepConfig { alphas: vec![0.025, 0.05, 0.1], trigger: 1e-4, max_steps: 20_000 },
            noise: NoiseConfig { std: 0.0, alpha: 0.1, steps: 20_000 },
        }
    }

    /// Near the paper's experiments (n = 50, rank 3), several replicates, α over 1.5 decades,
    /// noisy measurements as an extra experiment. CPU only: the dense operator has m·n² = 5·10⁶
    /// entries and its Gram matrix 6.25·10⁶, so one GD step costs ~6·10⁶ multiply-adds.
    fn full() -> Config {
        Config {
            n: 50,
            spectrum: vec![1.0, 0.75, 0.5],
            m: 2000,
            eta: 0.05,
            reps: 2,
            floor: 1e-24,
            sym: SymConfig {
                ks: vec![4, 5, 7],
                alphas: vec![0.1, 0.3],
                steps: 50_000,
                exact_steps: 10_000,
                slope_from: 0.5,
            },
            fact: FactConfig { ks: vec![4, 5, 7], alpha: 0.1, steps: 50_000 },
            asym: AsymConfig {
                k: 6,
                alphas: vec![0.01, 0.02, 0.04, 0.08],
                extra_alphas: vec![0.15, 0.3],
                max_steps: 1_000_000,
                window_lo: 1e-14,
                window_hi: 1e-8,
                exact_alphas: vec![0.01, 0.1],
                exact_steps: 20_000,
            },
            balance: BalanceConfig { k: 6, alpha: 0.1, steps: 50_000, imbalanced_steps: 250_000 },
            onestep: OneStepConfig { alphas: vec![0.01, 0.04, 0.1], trigger: 1e-4, max_steps: 50_000 },
            noise: NoiseConfig { std: 1e-3, alpha: 0.1, steps: 50_000 },
        }
    }
}

impl Config {
    /// The rank of M*.
    pub fn r(&self) -> usize {
        self.spectrum.len()
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

// Bounds. Calibration (README, "Calibration"): the quick profile at 40 root seeds 1001–1040 not
// used for tuning (`tests::claim_spread_over_seeds`), the imbalanced run alone at 400 seeds
// 2001–2400 (`tests::imbalanced_rate_over_seeds`) and the full quick profile at the slowest of
// those; each bound is the spread's mean ± ~3 sd, rounded outwards, or the spec's where tighter.

/// Log-log slope band of the symmetric k > r runs (theory −2). At finite T the slope reads
/// shallower (local slope −2t/(t + t0), and a constant that still grows): over 40 seeds the
/// slope furthest from −2 (of four runs) is −1.932 ± 0.016 (range −1.963 … −1.905). A shallow side
/// of −1.88 (3.3 sd) failed 1 of 30 fresh seeds (3005: −1.876), so the shallow side is the spec's
/// −1.85; no single run was steeper than −1.99 (of 160), so the steep side is −2.05 (the spec's
/// −2.15 was looser).
const SLOPE_BAND: (f64, f64) = (-2.05, -1.85);
/// The same for FGᵀ started balanced under the general operator, k = 4: its local slope approaches
/// −2 more slowly (40 seeds: −1.884 ± 0.027, range −1.942 … −1.837 on [T/2, T], T = 20 000),
/// because the redundant component keeps rotating towards the operator's low-curvature
/// directions, so the Θ(1/T²) constant still grows at T. The spec's −1.85 fails 4 of the 40 seeds
/// (10%, and 10% under a normal fit), so the shallow side is −1.80 (3.1 sd; the previous −1.75
/// had no stated reason). A longer T does not help within the budget: the GD-induced imbalance
/// (O(η²) per step) then steepens the slope past −2 at some seeds (T = 40 000: −1.906 ± 0.038,
/// down to −2.03; T = 80 000: down to −2.27), which is also why the steep side stays at −2.15.
const BALANCED_SLOPE_BAND: (f64, f64) = (-2.15, -1.80);
/// "Converged linearly": the error gets within a decade of the floor 1e-24 (from O(1)) within the
/// step budget; every correct run of 40 seeds stops at the floor (log10 −24.00 … −24.01).
const LINEAR_LOG10: f64 = -23.0;
/// t²·err/(k − r) within 4% of 1/(4η²) on [T/2, T] (the largest over k ∈ {3, 4, 6}; 400 seeds:
/// 0.0181 ± 0.0039, 99th percentile 0.029, at most 0.036: a seed whose initial redundant
/// eigenvalue is small starts the 1/(2ηt) law late, so the tail is heavier than normal, and 3%
/// would fail ~0.5–1.6% of seeds; the spec's 10% was looser).
const FACT_TOL: f64 = 0.04;
/// The fitted exponent of rate ∝ α^p is 2 ± 0.2 (40 seeds: 2.008 ± 0.045, range 1.948 … 2.143;
/// the spec's ± 0.3 was looser).
const EXPONENT_TOL: f64 = 0.2;
/// C4 (not gated): the exponent after the one-step modification is 0 ± 0.3.
const ONE_STEP_TOL: f64 = 0.3;

const C1_SYM_OVERPARAM: ClaimSpec = ClaimSpec::new(
    "C1-sym-overparam",
    "Symmetric XXᵀ with k > r from random initialisation: the error decays as Θ(1/T²) (late log-log slope −2), not \
     linearly",
    "Abstract; Thm 1.1 / Thm 3.1 (Ω(1/T²) lower bound)",
    Expect::between(SLOPE_BAND.0, SLOPE_BAND.1),
)
.wrong(
    "linear convergence: a k = r run in place of k > r reaches the floor before T (slope NaN, planted test), and \
     a linear factor e^(−ρt) of rate ρ ≥ 3.5e-6 per step on top of 1/t² already reads steeper than −2.05 on \
     [T/2, T]; a Θ(1/T) error (‖XXᵀ − M*‖_F instead of its square) reads about −0.97 (planted test), far \
     shallower than −1.85; correct runs −1.963 … −1.876 over 70 seeds",
);

const C1_SYM_EXACT: ClaimSpec = ClaimSpec::new(
    "C1-sym-exact",
    "Symmetric XXᵀ with k = r converges linearly: exp(−Ω(T))",
    "Abstract; Table 1",
    Expect::at_most(LINEAR_LOG10),
)
.drift(0.1)
.wrong(
    "a polynomial (Θ(1/T²)) run, e.g. a k > r run in its place (planted test), stays near 1e-6 at T = 5000; a \
     k = r run slowed to the α-driven rate of the k > r FGᵀ runs (median 7.6e-3 per step at α = 0.1) ends near \
     1e-16: both above the bound 1e-23, which asks a mean rate ≥ 1.06e-2 per step (correct runs reach the floor \
     1e-24 by step 1746 at the latest over 40 seeds, a mean rate ≥ 3.2e-2)",
);

const C1_SENSING_CONSTANT: ClaimSpec = ClaimSpec::new(
    "C1-sensing-constant",
    "With Gaussian sensing the Θ(1/T²) constant stays near the population one, T²·error ≈ (k − r)/(4η²)",
    "[derived] population limit of the Sec. 3 setting",
    Expect::between(0.5, 2.0),
)
.not_gated(
    "The paper gives Ω(1/T²) without a constant; the sensing operator's curvature on the redundant directions \
     (random, trajectory-dependent) moves the constant away from the population value.",
);

const C1_FACTORISATION_CONSTANT: ClaimSpec = ClaimSpec::new(
    "C1-factorisation-constant",
    "Population case: each redundant eigenvalue follows μ ← μ(1 − ημ)², so t²·‖XXᵀ − M*‖² → (k − r)/(4η²)",
    "[derived] from the symmetric GD update (Sec. 3 setting with A = I)",
    Expect::at_most(FACT_TOL),
)
.drift(0.5)
.wrong(
    "the gradient of the ½-loss (2ΔX instead of ΔX) or a missing ½ in the symmetrisation doubles the effective \
     step, so the constant is 4x off (deviation 0.75, planted test); the rank not subtracted (k/(4η²) instead of \
     (k − r)/(4η²)) is off by r/k (deviation 0.33 at k = 6, 0.67 at k = 3); the error taken as ½‖·‖² reads 0.5; \
     all far above the bound 0.04 (correct runs 0.012 … 0.036 over 400 seeds)",
);

const C2_ASYM_ALPHA2: ClaimSpec = ClaimSpec::new(
    "C2-asym-alpha2",
    "Asymmetric FGᵀ with k > r converges linearly at a rate ∝ α²: exp(−Ω(α²T))",
    "Abstract; Thm 1.3; Fig. 2",
    Expect::within(2.0, EXPONENT_TOL),
)
.wrong(
    "a G0 that does not scale with α (held at the scale of α = 0.1) makes the imbalance, hence the rate, deviate \
     from α²: exponent 2.44 in the planted test, outside 2 ± 0.2; a rate ∝ α (exponent 1, e.g. set by σ_min(F0) \
     instead of the imbalance) or an α-independent one (0, the k = r behaviour) are further out; a balanced \
     initialisation has no linear phase (rates NaN); correct runs 1.948 … 2.143 over 40 seeds",
);

const C2_ASYM_EXACT: ClaimSpec = ClaimSpec::new(
    "C2-asym-exact",
    "Asymmetric FGᵀ with k = r converges linearly, exp(−Ω(T)), with a rate that does not depend on α",
    "Abstract",
    Expect::at_most(LINEAR_LOG10),
)
.drift(0.1)
.wrong(
    "a k = r run slowed by the initialisation scale like the k > r ones (a rate ∝ α², ~5e-4 per step at α = \
     0.025; the k > r run in its place in the planted test) falls by only a few decades in 10 000 steps, far \
     above the bound 1e-23, which asks a mean rate ≥ 5.3e-3 per step (correct runs reach the floor 1e-24 by step \
     2239 at the latest over 40 seeds)",
);

const C2_IMBALANCE_BAND: ClaimSpec = ClaimSpec::new(
    "C2-imbalance-band",
    "The linear rate is set by the imbalance F0ᵀF0 − G0ᵀG0 ∝ α²: with A = I it lies in 2η·[λ_1, λ_{r+1}] of it",
    "[derived] conserved imbalance (Sec. 4) + linearisation at the limit",
    Expect::at_least(1.0),
)
.not_gated(
    "The band is this study's derivation, not a statement of the paper (whose rate has an unspecified constant); \
     with Gaussian sensing the operator's curvature lowers the rate by a further factor (the sensing/population \
     ratios in the detail).",
);

const C3_BALANCED_SLOW: ClaimSpec = ClaimSpec::new(
    "C3-balanced-slow",
    "Curse of symmetry: FGᵀ started balanced (F0 = G0, zero imbalance) is as slow as XXᵀ: Θ(1/T²)",
    "Abstract; Sec. 4 (imbalance F0ᵀF0 − G0ᵀG0 drives the linear rate)",
    Expect::between(BALANCED_SLOPE_BAND.0, BALANCED_SLOPE_BAND.1),
)
.wrong(
    "F and G drawn from one stream at different scales (G0 = F0/3) are imbalanced and converge linearly: the run \
     reaches the precision floor before T (slope NaN, planted test); a Θ(1/T) error (‖FGᵀ − M*‖_F instead of \
     its square) reads about −0.97 (planted test), far shallower than −1.80; correct runs −1.942 … −1.837 over \
     40 seeds",
);

const C3_IMBALANCED_FAST: ClaimSpec = ClaimSpec::new(
    "C3-imbalanced-fast",
    "The same run with F0 ≠ G0 (G0 ~ α/3, an independent draw) converges linearly",
    "Abstract; Thm 1.3",
    Expect::at_most(LINEAR_LOG10),
)
.drift(0.1)
.wrong(
    "F and G from one RNG stream at one scale are balanced, hence slow: Θ(1/T²) leaves about 1e-6 after 20 000 \
     steps (planted test) and ~1e-7 after 80 000, 16 decades above the bound 1e-23 (correct runs reach the floor \
     1e-24 by step 54 397 at the latest over 400 seeds, median 6786)",
);

const C4_ONE_STEP: ClaimSpec = ClaimSpec::new(
    "C4-one-step",
    "Modifying one GD step gives a linear rate independent of α (the exact-parameterisation rate)",
    "Abstract; Sec. 5, eq. (5.1)",
    Expect::within(0.0, ONE_STEP_TOL),
)
.not_gated(
    "The paper's exact update (Sec. 5, eq. 5.1) could not be retrieved in this environment; the step used here \
     is this study's derived analogue (an FGᵀ-preserving rebalancing that lifts the imbalance in every \
     direction), so it tests the mechanism, not the paper's algorithm.",
);

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[
    C1_SYM_OVERPARAM,
    C1_SYM_EXACT,
    C1_SENSING_CONSTANT,
    C1_FACTORISATION_CONSTANT,
    C2_ASYM_ALPHA2,
    C2_ASYM_EXACT,
    C2_IMBALANCE_BAND,
    C3_BALANCED_SLOW,
    C3_IMBALANCED_FAST,
    C4_ONE_STEP,
];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// Everything `measure` computes: one summarised run per cell, in grid order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub cells: Vec<Cell>,
    pub runs: Vec<Run>,
}

impl Results {
    /// The runs whose cell satisfies `keep`, in grid order.
    pub fn of(&self, keep: impl Fn(&Cell) -> bool) -> Vec<(Cell, &Run)> {
        self.cells.iter().zip(&self.runs).filter(|(c, _)| keep(c)).map(|(c, r)| (*c, r)).collect()
    }
}

impl Study for MatrixSensingOverparam {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "matrix-sensing-overparam"
    }

    fn paper(&self) -> Paper {
        Paper {
            title: "How Over-Parameterization Slows Down Gradient Descent in Matrix Sensing: The Curses of Symmetry and Initialization",
            authors: "Nuoya Xiong, Lijun Ding, Simon S. Du",
            arxiv: "2310.01769",
            official_code: None,
        }
    }

    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let seed = ctx.seed;
        let inst: Vec<runs::Instance> = (0..cfg.reps).map(|rep| runs::build_instance(cfg, seed, rep)).collect();
        let cells = runs::cells(cfg);
        let runs =
            ctx.grid("runs", &cells, |c, _| Ok(runs::summarise(cfg, seed, c, &runs::run_cell(cfg, seed, &inst, c)?)))?;
        Ok(Results { cells, runs })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, res: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        out.note(tables::setup_note(cfg));
        symmetric(cfg, res, &mut out);
        asymmetric(cfg, res, &mut out);
        balance(cfg, res, &mut out);
        one_step(cfg, res, &mut out);
        if cfg.noise.std > 0.0 {
            out.table(tables::noisy(&res.of(|c| matches!(c.role, Role::NoisySym | Role::NoisyAsym))));
            out.figure(figures::noisy(cfg, res));
        }
        Ok(out)
    }
}

fn log10_or_nan(x: f64) -> f64 {
    if x > 0.0 { x.log10() } else { f64::NAN }
}

/// The value furthest from `target` (NaN if any is NaN, so a missing fit fails the claim).
fn furthest(v: &[f64], target: f64) -> f64 {
    if v.is_empty() || v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    v.iter().copied().max_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs())).unwrap_or(f64::NAN)
}

/// The slope furthest from −2 relative to the band's side it lies on (NaN if any is NaN): with
/// every slope shallower than −2, as at any finite T, it is the shallowest one; one steep and one
/// shallow run cannot hide each other behind an asymmetric band.
fn worst_slope(v: &[f64], (lo, hi): (f64, f64)) -> f64 {
    if v.is_empty() || v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    let excess = |x: f64| if x >= -2.0 { (x + 2.0) / (hi + 2.0) } else { (x + 2.0) / (lo + 2.0) };
    v.iter().copied().max_by(|a, b| excess(*a).total_cmp(&excess(*b))).unwrap_or(f64::NAN)
}

/// Exponent p of rate ∝ α^p per replicate (least squares in log-log; NaN when a rate is missing).
fn exponents(pts: &[Vec<(f64, f64)>]) -> Vec<f64> {
    pts.iter()
        .map(|p| {
            let (a, r): (Vec<f64>, Vec<f64>) = p.iter().copied().unzip();
            stats::loglog_slope(&a, &r)
        })
        .collect()
}

/// C1: symmetric runs (k = r and k > r) and the population factorisation.
fn symmetric(cfg: &Config, res: &Results, out: &mut Outcome) {
    let (r, eta) = (cfg.r(), cfg.eta);
    let sym = res.of(|c| c.role == Role::Sym);
    let over: Vec<&(Cell, &Run)> = sym.iter().filter(|(c, _)| c.k > r).collect();
    let slopes: Vec<f64> = over.iter().map(|(_, run)| run.slope).collect();
    let slope_txt: Vec<String> =
        over.iter().map(|(c, run)| format!("k={} α={} rep={}: {:.3}", c.k, c.alpha, c.rep, run.slope)).collect();
    let ratios: Vec<f64> =
        over.iter().map(|(c, run)| tables::t2(run) / theory::factorisation_constant(c.k, r, eta)).collect();
    let exact_final =
        stats::max(&sym.iter().filter(|(c, _)| c.k == r).map(|(_, run)| run.final_error).collect::<Vec<_>>());
    out.table(tables::symmetric(r, eta, &sym));
    out.claim(C1_SYM_OVERPARAM.measured(worst_slope(&slopes, SLOPE_BAND)).detail(format!(
        "slope furthest from −2 (relative to the band) over every (k, α, replicate), fitted on [{}·T, T], T = {}: {}",
        cfg.sym.slope_from,
        cfg.sym.steps,
        slope_txt.join("; ")
    )));
    out.claim(C1_SYM_EXACT.measured(log10_or_nan(exact_final)).detail(format!(
        "log10 of the largest error at T = {} over α ∈ {{{}}} and replicates (Θ(1/T²) from O(1) would leave ~1e-7)",
        cfg.sym.exact_steps,
        fmt_list(&cfg.sym.alphas)
    )));
    out.claim(
        C1_SENSING_CONSTANT
            .measured(stats::mean(&ratios))
            .detail(format!("mean of T²·error / ((k − r)/(4η²)) over runs; per run: {}", fmt_list(&ratios))),
    );

    let fact = res.of(|c| c.role == Role::Fact);
    out.table(tables::factorisation(r, &fact));
    let c_pop = 1.0 / (4.0 * eta * eta);
    out.claim(
        C1_FACTORISATION_CONSTANT
            .max_of(fact.iter().map(|(c, run)| (format!("k={} rep={}", c.k, c.rep), run.fact_dev)))
            .detail(format!(
                "largest |t²·error/(k − r)·4η² − 1| for t ∈ [T/2, T], T = {}, k ∈ {{{}}}; 1/(4η²) = {}",
                cfg.fact.steps,
                cfg.fact.ks.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "),
                fmt_num(c_pop)
            )),
    );
    out.figure(figures::symmetric(cfg, &sym));
    out.figure(figures::factorisation(cfg, &fact));
    out.figure(figures::t2_vs_redundancy(cfg, &sym, &fact));
}

/// C2: the asymmetric α sweep (k > r), its population twin and theory band, and k = r.
fn asymmetric(cfg: &Config, res: &Results, out: &mut Outcome) {
    let (r, a) = (cfg.r(), &cfg.asym);
    let sweep = res.of(|c| c.role == Role::Asym && c.k > r);
    let pop = res.of(|c| c.role == Role::AsymPop);
    let exact = res.of(|c| c.role == Role::Asym && c.k == r);
    let rate_pop =
        |c: &Cell| pop.iter().find(|(p, _)| p.rep == c.rep && p.alpha == c.alpha).map_or(f64::NAN, |(_, p)| p.rate);
    let (mut fit_pts, mut pop_pts) = (vec![vec![]; cfg.reps], vec![vec![]; cfg.reps]);
    let (mut band, mut band_txt, mut sens_over_pop) = (vec![], vec![], vec![]);
    for (c, run) in sweep.iter().filter(|(c, _)| a.alphas.contains(&c.alpha)) {
        let rp = rate_pop(c);
        fit_pts[c.rep].push((c.alpha, run.rate));
        pop_pts[c.rep].push((c.alpha, rp));
        band.push((format!("α={} rep={}", c.alpha, c.rep), rp >= 0.75 * run.band_lo && rp <= 1.25 * run.band_hi));
        band_txt.push(format!("α={}: {:.3e} in [{:.3e}, {:.3e}]", c.alpha, rp, run.band_lo, run.band_hi));
        sens_over_pop.push(run.rate / rp);
    }
    let exact_rates: Vec<(f64, f64)> = exact.iter().map(|(c, run)| (c.alpha, run.rate)).collect();
    let exact_final = stats::max(&exact.iter().map(|(_, run)| run.final_error).collect::<Vec<_>>());
    let rows = tables::asymmetric_rows(a, &sweep, &exact, &rate_pop);
    out.figure(figures::rate_vs_alpha(cfg, res, &rows, &exact_rates));
    out.figure(figures::asymmetric(cfg, &sweep, &exact));
    out.table(tables::asymmetric(&rows));
    let (exps, pop_exps) = (exponents(&fit_pts), exponents(&pop_pts));
    out.claim(C2_ASYM_ALPHA2.measured(furthest(&exps, 2.0)).detail(format!(
        "exponent p of rate ∝ α^p (Gaussian sensing) over α ∈ {{{}}}, per replicate: {} (population A = I: {}); rates: {}",
        fmt_list(&a.alphas),
        fmt_list(&exps),
        fmt_list(&pop_exps),
        fit_pts.iter().flatten().map(|(a, r)| format!("α={a}: {r:.3e}")).collect::<Vec<_>>().join(", ")
    )));
    out.claim(C2_ASYM_EXACT.measured(log10_or_nan(exact_final)).detail(format!(
        "log10 of the largest error at T = {}; window rates (α: rate): {}",
        a.exact_steps,
        exact_rates.iter().map(|(a, r)| format!("{a}: {r:.3e}")).collect::<Vec<_>>().join(", ")
    )));
    out.claim(C2_IMBALANCE_BAND.share(band).detail(format!(
        "fraction of fitted α whose population rate lies in [0.75·lo, 1.25·hi]: {}; sensing/population rate ratios: {}",
        band_txt.join("; "),
        fmt_list(&sens_over_pop)
    )));
}

/// C3: the curse of symmetry, balanced against imbalanced FGᵀ.
fn balance(cfg: &Config, res: &Results, out: &mut Outcome) {
    let b = &cfg.balance;
    let bal = res.of(|c| c.role == Role::Balanced);
    let imb = res.of(|c| c.role == Role::Imbalanced);
    let bal_slopes: Vec<f64> = bal.iter().map(|(_, run)| run.slope).collect();
    let imb_final = stats::max(&imb.iter().map(|(_, run)| run.final_error).collect::<Vec<_>>());
    out.claim(C3_BALANCED_SLOW.measured(worst_slope(&bal_slopes, BALANCED_SLOPE_BAND)).detail(format!(
        "log-log slope on [{}·T, T], T = {}, k = {}, α = {}, per replicate: {}; final errors: {}",
        cfg.sym.slope_from,
        b.steps,
        b.k,
        b.alpha,
        fmt_list(&bal_slopes),
        fmt_list(&bal.iter().map(|(_, run)| run.final_error).collect::<Vec<_>>())
    )));
    out.claim(
        C3_IMBALANCED_FAST
            .measured(log10_or_nan(imb_final))
            .detail(format!("log10 of the largest final error after at most {} steps", b.imbalanced_steps)),
    );
    out.figure(figures::balance(cfg, &bal, &imb, &res.of(|c| c.role == Role::Sym)));
}

/// C4: the one-step rebalancing (derived analogue of Sec. 5).
fn one_step(cfg: &Config, res: &Results, out: &mut Outcome) {
    let mods = res.of(|c| c.role == Role::OneStep);
    let mut mod_pts = vec![vec![]; cfg.reps];
    for (c, run) in &mods {
        mod_pts[c.rep].push((c.alpha, run.rate));
    }
    let exact_rates: Vec<String> = res
        .of(|c| c.role == Role::Asym && c.k == cfg.r())
        .iter()
        .map(|(c, run)| format!("α={}: {:.3e}", c.alpha, run.rate))
        .collect();
    out.figure(figures::one_step(&mods, &res.of(|c| c.role == Role::Asym && c.k > cfg.r())));
    out.table(tables::one_step(&mods));
    let mod_exps = exponents(&mod_pts);
    out.claim(C4_ONE_STEP.measured(furthest(&mod_exps, 0.0)).detail(format!(
        "exponent p of rate ∝ α^p after the modification over α ∈ {{{}}}, per replicate: {}; rates: {}; plain GD k = r: {}",
        fmt_list(&cfg.onestep.alphas),
        fmt_list(&mod_exps),
        mod_pts.iter().flatten().map(|(a, r)| format!("α={a}: {r:.3e}")).collect::<Vec<_>>().join(", "),
        exact_rates.join(", ")
    )));
}

#[cfg(test)]
common::seed_checks!(crate::MatrixSensingOverparam);
