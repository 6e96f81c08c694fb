//! Study `eal-sketching`: Hong, Na, Mahoney & Kolar, *Constrained Optimization via Exact
//! Augmented Lagrangian and Randomized Iterative Sketching* (ICML 2023, arXiv 2305.18379), the
//! AdaSketch-Newton method on small equality-constrained problems.
//!
//! 1. **Problems** ([`problems`]): twelve Hock–Schittkowski problems (HS6 … HS79, standard x₀,
//!    λ₀ = 0; f* confirmed by SciPy in `reference/`) and the repo's constrained logistic
//!    regression (breast-cancer, 10 Gaussian linear constraints drawn per seed + ‖x‖² = 1, x₀ = 1, λ₀ = 1).
//! 2. **Method** ([`eal`]): Newton–SQP directions from the KKT system solved by randomized
//!    Kaczmarz up to `‖A‖_F·ψ·‖r‖ ≤ θ_k·δ·‖b‖`, penalty updates of (η₁, η₂, δ) when the direction
//!    fails the descent test, Armijo on the exact augmented Lagrangian. Parameters: the repo's.
//! 3. **Variants**: `rk` (the paper's RK, θ ≡ 1), `rk-theta` (θ_k = 1/(k+1)), the same two with a
//!    binding accuracy condition `‖r‖ ≤ θ_k·c·‖b‖` (`rk-loose`, `rk-loose-theta`; with the
//!    repo's ψ and δ the sketched solve is accurate to ~1e-12 and θ_k has no visible effect),
//!    `exact` (LU solve, same merit and adaptivity), optionally `gv` (Gaussian sketch).
//!    Every run goes to the tight tolerance (1e-8); the paper's 1e-4 run is its prefix.
//! 4. **Claims**: global convergence (A1), unit steps (A2), local linear rate (A3), superlinear
//!    rate with θ_k → 0 (A4), the penalty mechanics (A5), sketch vs direct-solve flops (A6).

pub mod eal;
pub mod problems;
mod report_parts;
#[cfg(test)]
mod tests;

use anyhow::Result;
use common::report::fmt_num;
use common::solve::sketch::Sampling;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Study, Sweep, Swept};
use eal::{MeritHessian, Params, Solver, Theta};
use serde::{Deserialize, Serialize};

/// The study (registered in `repro/src/registry.rs`).
pub struct EalSketching;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// The variants a run can use.
pub const VARIANTS: &[&str] = &["exact", "rk", "rk-theta", "rk-loose", "rk-loose-theta", "gv"];

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Problems: names from `problems::HS_NAMES` and `LOGREG`.
    pub problems: Vec<String>,
    /// Variants (from [`VARIANTS`]).
    pub variants: Vec<String>,
    /// Sketch seeds per (problem, variant).
    pub seeds: usize,
    /// The paper's KKT tolerance (A1–A3).
    pub kkt_tol: f64,
    /// The tight tolerance every run goes to (A3 loose, A4).
    pub tight_tol: f64,
    /// Outer iteration cap.
    pub max_iter: usize,
    /// Iterations allowed from the paper's tolerance to the tight one.
    pub tight_extra: usize,
    /// Sketch-step cap per solve.
    pub max_sketch: usize,
    /// Sketch-step budget per run.
    pub max_total_sketch: u64,
    /// Initial η₁.
    pub eta1: f64,
    /// Initial η₂.
    pub eta2: f64,
    /// Initial δ.
    pub delta: f64,
    /// ξ_B.
    pub xi_b: f64,
    /// Armijo β (< 1/2).
    pub beta: f64,
    /// Penalty factor ν (> 1).
    pub nu: f64,
    /// The constant c of the binding accuracy test `‖r‖ ≤ θ_k·c·‖b‖` (loose variants).
    pub loose_c: f64,
    /// Kaczmarz row sampling: `uniform` (the repo) or `row-norm`.
    pub sampling: String,
    /// Merit-gradient Hessian: `lagrangian` (exact) or `objective` (the repo's ∇²f).
    pub merit_hessian: String,
    /// Residual check period of the sketch solver (0: every n + m steps).
    pub check_every: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        let mut problems: Vec<String> = problems::HS_NAMES.iter().map(|s| s.to_string()).collect();
        problems.push(problems::LOGREG.into());
        Config {
            problems,
            variants: ["exact", "rk", "rk-theta", "rk-loose", "rk-loose-theta"].iter().map(|s| s.to_string()).collect(),
            seeds: 5,
            kkt_tol: 1e-4,
            tight_tol: 1e-8,
            max_iter: 10_000,
            tight_extra: 50,
            max_sketch: 100_000,
            max_total_sketch: 5_000_000,
            eta1: 1.0,
            eta2: 0.1,
            delta: 0.1,
            xi_b: 0.1,
            beta: 0.1,
            nu: 1.5,
            loose_c: 0.5,
            sampling: "uniform".into(),
            merit_hessian: "lagrangian".into(),
            check_every: 0,
        }
    }
    fn full() -> Self {
        Config { variants: VARIANTS.iter().map(|s| s.to_string()).collect(), seeds: 20, ..Config::quick() }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.list("problems", &self.problems, 64)
            .list("variants", &self.variants, VARIANTS.len())
            .size("seeds", self.seeds, 1, 1000)
            .real("kkt_tol", self.kkt_tol, 1e-12, 1.0)
            .real("tight_tol", self.tight_tol, 1e-12, 1.0)
            .size("max_iter", self.max_iter, 1, 100_000)
            .size("tight_extra", self.tight_extra, 1, 100_000)
            .size("max_sketch", self.max_sketch, 1, 10_000_000)
            .size("max_total_sketch", self.max_total_sketch as usize, 1, 1_000_000_000)
            .real("eta1", self.eta1, 1e-6, 1e6)
            .real("eta2", self.eta2, 1e-6, 1e6)
            .real("delta", self.delta, 1e-6, 1.0)
            .real("xi_b", self.xi_b, 1e-6, 1e3)
            .real("beta", self.beta, 1e-6, 0.49)
            .real("nu", self.nu, 1.01, 100.0)
            .real("loose_c", self.loose_c, 1e-6, 0.99)
            .one_of("sampling", &self.sampling, &["uniform", "row-norm"])
            .one_of("merit_hessian", &self.merit_hessian, &["lagrangian", "objective"])
            .size("check_every", self.check_every, 0, 1_000_000)
            .rule(self.tight_tol <= self.kkt_tol, "`tight_tol` must be at most `kkt_tol`");
        for p in &self.problems {
            c.one_of("problems", p, &[problems::HS_NAMES, &[problems::LOGREG]].concat());
        }
        for v in &self.variants {
            c.one_of("variants", v, VARIANTS);
        }
        let mut seen = self.problems.clone();
        seen.sort();
        seen.dedup();
        c.rule(seen.len() == self.problems.len(), "`problems` must not repeat a name");
        let mut vs = self.variants.clone();
        vs.sort();
        vs.dedup();
        c.rule(vs.len() == self.variants.len(), "`variants` must not repeat a name");
        for need in ["rk", "rk-loose", "rk-loose-theta"] {
            c.rule(self.variants.iter().any(|v| v == need), format!("`variants` must hold `{need}` (claims A1–A4)"));
        }
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        // Per run: the traces (≤ max_iter entries of a few numbers) and the KKT matrix (N ≤ 41);
        // the breast-cancer data (569 × 30) once per logistic run.
        let runs = (self.problems.len() * self.variants.len() * self.seeds) as f64;
        let per_run = 12.0 * self.max_iter as f64 + 41.0 * 41.0 + 569.0 * 31.0;
        // Worst case: every run spends its sketch budget (≈ 4·N flops + a residual check per step, N = 41).
        let secs = runs * self.max_total_sketch as f64 * 8.0 * 41.0 * 1e-9;
        Estimate::f64s(2.0 * per_run + runs * 12.0 * self.max_iter as f64).seconds(secs)
    }
}

impl Config {
    /// The method's parameters for a variant.
    pub fn params(&self, variant: &str) -> Params {
        let sampling = if self.sampling == "row-norm" { Sampling::RowNorm } else { Sampling::Uniform };
        let (solver, theta, loose) = match variant {
            "exact" => (Solver::Exact, Theta::One, None),
            "rk-theta" => (Solver::Kaczmarz(sampling), Theta::Harmonic, None),
            "rk-loose" => (Solver::Kaczmarz(sampling), Theta::One, Some(self.loose_c)),
            "rk-loose-theta" => (Solver::Kaczmarz(sampling), Theta::Harmonic, Some(self.loose_c)),
            "gv" => (Solver::Gaussian, Theta::One, None),
            _ => (Solver::Kaczmarz(sampling), Theta::One, None),
        };
        Params {
            eta1: self.eta1,
            eta2: self.eta2,
            delta: self.delta,
            xi_b: self.xi_b,
            beta: self.beta,
            nu: self.nu,
            kkt_tol: self.tight_tol,
            paper_tol: self.kkt_tol,
            tight_extra: self.tight_extra,
            max_iter: self.max_iter,
            max_sketch: self.max_sketch,
            max_total_sketch: self.max_total_sketch,
            check_every: self.check_every,
            theta,
            solver,
            merit_hessian: if self.merit_hessian == "objective" {
                MeritHessian::Objective
            } else {
                MeritHessian::Lagrangian
            },
            loose,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const A1: ClaimSpec = ClaimSpec::new(
    "A1",
    "Global convergence: with the paper's RK solver (θ ≡ 1, the repo's ψ, δ and parameters) every HS problem \
     reaches KKT ≤ 1e-4 within 10⁴ iterations on ≥ 80% of the seeds with |f − f*| ≤ 1e-4·(1 + |f*|) (share of \
     problems; f* from the HS collection, confirmed by SciPy).",
    "abstract; Thm 4.6 (global almost-sure convergence)",
    Expect::at_least(1.0),
)
.wrong(
    "a wrong merit gradient (the η₂ term dropped) or a wrong f* (e.g. HS52's 1859/349 mistyped) fails problems: \
     the share drops below 1; a merit without the ‖∇ₓL‖² term stalls at non-KKT points of L",
);

const A2: ClaimSpec = ClaimSpec::new(
    "A2",
    "Unit step size is accepted locally: share of problems whose last min(5, K) iterations before KKT ≤ 1e-4 \
     all take α = 1 on every seed (RK, θ ≡ 1).",
    "abstract; Thm 5.3 (unit step admissible)",
    Expect::at_least(0.75),
)
.wrong(
    "a merit with a Maratos-type defect (ℓ1 merit, or an inexact gradient in the Armijo test) keeps cutting the \
     step near the solution: the share falls well below 10 of 13",
);

const A3: ClaimSpec = ClaimSpec::new(
    "A3",
    "Local linear rate with θ ≡ 1: geometric-mean KKT ratio KKT_{k+1}/KKT_k over the last 5 iterations (max over \
     HS problems and seeds of the RK runs stopped at 1e-4, and over all problems of the binding-accuracy RK runs \
     that reach 1e-8).",
    "abstract; Thm 5.5 (local linear convergence)",
    Expect::at_most(0.9),
)
.wrong(
    "a sketch stopped without the accuracy condition (a fixed handful of Kaczmarz steps) or a line search that \
     never returns to α = 1 converges sublinearly: ratios → 1",
);

const A4: ClaimSpec = ClaimSpec::new(
    "A4",
    "Superlinear rate with θ_k = 1/(k+1) → 0: geometric mean of the last two KKT ratios of the binding-accuracy RK \
     runs at tol 1e-8 (median over seeds, max over problems).",
    "abstract; Thm 5.7 (local superlinear convergence)",
    Expect::at_most(0.1),
)
.wrong("θ ≡ 1 (no sharpening) gives the linear rate ≈ c = 0.5 of the accuracy test: 5× above the bound");

const A4B: ClaimSpec = ClaimSpec::new(
    "A4b",
    "θ ≡ 1 is slower than θ_k → 0: share of problems where, at the same binding accuracy test, θ ≡ 1 needs more \
     iterations to 1e-8 (median over seeds) or ends with a ratio > 0.1.",
    "abstract (superlinear vs linear)",
    Expect::at_least(0.75),
)
.wrong("if θ_k had no effect (as with the repo's ψ, δ, where both variants coincide) the share would be ≈ 0");

const A5: ClaimSpec = ClaimSpec::new(
    "A5",
    "Penalty mechanics: every accepted direction of the paper-setting HS runs (rk, rk-theta, exact) satisfies \
     ∇L_ηᵀd ≤ −(η₂/2)‖b‖² without the repo's η₁ > 1e8 escape: the measured value is log10 of the largest final η₁ \
     (+∞ if any direction was forced or violates the test).",
    "Alg. 1 (lines on the penalty update); repo AdaSketchNewtonRK.jl",
    Expect::at_most(8.0),
)
.wrong(
    "a merit gradient without the η₂ term (or with a sign error) fails the descent test repeatedly: η₁ is pushed \
     past 1e8 and the direction is forced",
);

const A6: ClaimSpec = ClaimSpec::new(
    "A6",
    "Fewer flops than a direct solve: total Kaczmarz flops (4N per row step) of the paper-setting RK runs divided by \
     the dense LU flops ((2/3)N³ + 2N²) of the same KKT systems (median over problems and seeds).",
    "abstract (flops and storage)",
    Expect::at_most(1.0),
)
.not_gated(
    "on N ≤ 41 the repo's accuracy test (ψ ~ 1e3–1e6, δ floored at 1e-6) asks ‖r‖/‖b‖ ~ 1e-12: Kaczmarz needs \
     10⁴–10⁵ row steps per solve, orders of magnitude above one LU; the claim concerns large sparse systems",
);

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[A1, A2, A3, A4, A4B, A5, A6];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// One run of one variant on one problem with one sketch seed (the trace of [`eal::run`],
/// with the totals the report needs).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// How it ended (`Converged`, `IterationCap`, `Singular`, `LineSearch`, `Failed`).
    pub status: String,
    /// KKT residual at every iterate.
    #[serde(with = "common::report::json_f64::vec")]
    pub kkt: Vec<f64>,
    /// f at every iterate.
    #[serde(with = "common::report::json_f64::vec")]
    pub f: Vec<f64>,
    /// Step sizes.
    pub alpha: Vec<f64>,
    /// Sketch steps per iteration (all solves).
    pub sketch_iters: Vec<u64>,
    /// Sketch flops per iteration.
    pub sketch_flops: Vec<u64>,
    /// LU flops per iteration (one solve of the same system).
    pub lu_flops: Vec<u64>,
    /// Residual-check flops in total.
    pub check_flops: u64,
    /// Sketch solves stopped at the cap.
    pub sketch_cap_hits: usize,
    /// The largest descent margin ∇L_ηᵀd + (η₂/2)‖b‖² of the accepted directions (≤ 0 passes).
    #[serde(with = "common::report::json_f64")]
    pub max_margin: f64,
    /// Directions accepted through the η₁ > 1e8 / η₂ < 1e-8 escape.
    pub forced: usize,
    /// Penalty updates.
    pub penalty_updates: usize,
    /// Final η₁.
    pub eta1: f64,
    /// Iterations with a Hessian modification.
    pub modified: usize,
    /// Whether each iteration used a Hessian modification.
    pub modified_at: Vec<bool>,
}

impl Run {
    fn from_trace(t: eal::Trace) -> Run {
        Run {
            status: format!("{:?}", t.status),
            max_margin: t.descent_margin.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            forced: t.forced.iter().filter(|&&b| b).count(),
            check_flops: t.check_flops.iter().sum(),
            kkt: t.kkt,
            f: t.fvals,
            alpha: t.alpha,
            sketch_iters: t.sketch_iters_all,
            sketch_flops: t.sketch_flops,
            lu_flops: t.lu_flops,
            sketch_cap_hits: t.sketch_cap_hits,
            penalty_updates: t.penalty_updates,
            eta1: t.eta1,
            modified: t.modified,
            modified_at: t.modified_at,
        }
    }
}

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// One run per (problem, variant, seed).
    pub runs: Swept<Run>,
}

/// One run of `variant` on `problem` (the logistic constraints drawn from `data_seed`).
pub fn run_one(cfg: &Config, problem: &str, variant: &str, data_seed: common::Seed, seed: common::Seed) -> Result<Run> {
    let p = problems::Problem::new(problem, data_seed)?;
    let prm = cfg.params(variant);
    Ok(Run::from_trace(eal::run(&p, &prm, &mut seed.child("sketch").rng())))
}

impl Study for EalSketching {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "eal-sketching"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Constrained Optimization via Exact Augmented Lagrangian and Randomized Iterative Sketching",
            authors: "Ilgee Hong, Sen Na, Michael W. Mahoney, Mladen Kolar",
            arxiv: "2305.18379",
            official_code: Some("https://github.com/IlgeeHong/AdaSketch-Newton"),
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let sweep = Sweep::new("runs").axis("problem", &cfg.problems).axis("variant", &cfg.variants).reps(cfg.seeds);
        let runs = ctx.sweep(&sweep, |c, seed| {
            // The logistic constraints are drawn per seed index (shared by the variants).
            let data_seed = ctx.seed.child_idx("logistic", c.rep() as u64);
            run_one(cfg, c.str("problem"), c.str("variant"), data_seed, seed)
        })?;
        Ok(Results { runs })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let rows = report_parts::rows(cfg, r);
        out.table(common::Table::from_rows(
            "hs_results",
            "Every run: iterations, KKT, |f − f*|, steps, sketch work",
            &rows,
        ));
        let rates = report_parts::rate_rows(cfg, r);
        out.table(common::Table::from_rows("rates", "KKT ratio statistics per run", &rates));

        for c in report_parts::claims(cfg, r, &rows, &rates) {
            out.claim(c);
        }
        for f in report_parts::figures(cfg, r) {
            out.figure(f);
        }
        out.note(format!(
            "Setup: {} problems × {} variants × {} sketch seeds; repo parameters η₁ = {}, η₂ = {}, δ = {}, ξ_B = {}, \
             β = {}, ν = {}; sketch cap {} steps, {} sampling, residual checked every {}; every run goes to KKT ≤ {} \
             (the paper's 1e-4 run is its prefix). The binding-accuracy variants replace the paper's test \
             ‖A‖_F·ψ·‖r‖ ≤ θ_k·δ·‖b‖ by ‖r‖ ≤ θ_k·{}·‖b‖.",
            cfg.problems.len(),
            cfg.variants.len(),
            cfg.seeds,
            fmt_num(cfg.eta1),
            fmt_num(cfg.eta2),
            fmt_num(cfg.delta),
            fmt_num(cfg.xi_b),
            fmt_num(cfg.beta),
            fmt_num(cfg.nu),
            cfg.max_sketch,
            cfg.sampling,
            if cfg.check_every == 0 { "N = n + m steps".to_string() } else { format!("{} steps", cfg.check_every) },
            fmt_num(cfg.tight_tol),
            fmt_num(cfg.loose_c),
        ));
        out.note(report_parts::same_trajectory_note(r));
        Ok(out)
    }
}

common::seed_checks!(crate::EalSketching);
