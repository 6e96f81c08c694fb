//! Study `convex-relu-admm`: Bai, Gautam & Sojoudi, "Efficient Global Optimization of Two-layer
//! ReLU Networks: Quadratic-time Algorithms and Adversarial Training" (arXiv 2201.01965, SIMODS).
//!
//! The experiment, top to bottom:
//! 1. **Data and patterns.** Two interleaved spirals (n points in the plane, a bias column: d = 3,
//!    seeded jitter). Every hyperplane-arrangement pattern `D_i = diag(1[X h ≥ 0])` is enumerated
//!    exactly (the extreme rays of the arrangement's cones, [`problem::enumerate_patterns`]) and
//!    counted against Cover's formula `2 Σ_{k<3} C(n − 1, k)` (C1).
//! 2. **The exact convex program** (Pilanci & Ergen 2020) `min ½‖Σ D_i X (v_i − w_i) − y‖² +
//!    β Σ(‖v_i‖ + ‖w_i‖)` s.t. `(2D_i − I) X v_i ≥ 0`, `(2D_i − I) X w_i ≥ 0`, solved by the paper's
//!    ADMM (`u = (v, w)`, a group-ℓ2 copy and non-negative slacks; the system `FᵀF + ρ(I + GᵀG)`
//!    factored once) from [`common::admm`], to primal/dual residuals ≤ `tol` (Boyd §3.3). Its value
//!    is p*. The residuals fall linearly (C4), the iterates classify well from the first iterations
//!    (C5), and the network rebuilt from the solution (`u = v/√‖v‖`, `α = ±√‖v‖`) attains p* (C3).
//! 3. **The non-convex baseline.** Full-batch Adam on the two-layer network with weight decay
//!    from `sgd_runs` random initializations: every run ends at or above p* (C2).
//! 4. **The sampled program.** `P_s` Gaussian directions h give a subset of the patterns; its
//!    optimum approaches p* as `P_s` grows (C7a, C7b).
//! 5. **Per-iteration cost.** Time per ADMM iteration against dP with the cached dense Cholesky:
//!    quadratic (C6); the structured (Woodbury) solve and the cost of one factorization beside it.
//! 6. **Robust training** (C8): the paper's adversarial formulation was not retrieved; not
//!    reproduced (see the README).

pub mod nonconvex;
pub mod problem;
pub mod timing;

use anyhow::Result;
use common::admm::{Control, Settings, Start, Status, solve_with};
use common::report::fmt_num;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Figure, Outcome, Paper, Profiles, Series, Study, Table};
use problem::{ConvexRelu, WoodburyKkt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The study (registered in `repro/src/registry.rs`).
pub struct ConvexReluAdmm;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Spiral points (even); every pattern of their arrangement is used.
    pub n: usize,
    /// Standard deviation of the seeded jitter added to the spiral points.
    pub jitter: f64,
    /// Regularization β.
    pub beta: f64,
    /// ADMM penalty ρ.
    pub rho: f64,
    /// ADMM over-relaxation α (1: plain ADMM).
    pub relax: f64,
    /// ADMM tolerance (ε_abs = ε_rel).
    pub tol: f64,
    /// ADMM iteration cap.
    pub max_iter: usize,
    /// Iteration cap of each sampled program (C7).
    pub sample_max_iter: usize,
    /// Tolerance of each sampled program (C7).
    pub sample_tol: f64,
    /// First iteration of the linear-rate fit (C4).
    pub fit_from: usize,
    /// The "early" iteration of C5.
    pub early_iter: usize,
    /// Random directions drawn to count patterns by sampling (beside the exact enumeration).
    pub sample_draws: usize,
    /// Non-convex runs (random initializations).
    pub sgd_runs: usize,
    /// Adam steps per run.
    pub sgd_steps: usize,
    /// Adam learning rate.
    pub sgd_lr: f64,
    /// Hidden width of the non-convex network, as a multiple of the convex solution's non-zero blocks.
    pub sgd_width_factor: usize,
    /// Numbers of sampled directions P_s (increasing).
    pub sample_sizes: Vec<usize>,
    /// Repetitions per P_s.
    pub sample_reps: usize,
    /// Timing problems: points.
    pub timing_n: usize,
    /// Timing problems: features (with the bias).
    pub timing_d: usize,
    /// Timing sizes dP (each a multiple of `timing_d`, increasing).
    pub timing_dps: Vec<usize>,
    /// Iterations per timing measurement.
    pub timing_iters: usize,
    /// Timing repeats (round-robin over the sizes; the minimum is kept).
    pub timing_reps: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            n: 12,
            jitter: 0.0,
            beta: 1e-2,
            rho: 0.1,
            relax: 1.0,
            tol: 1e-8,
            max_iter: 50_000,
            sample_max_iter: 4000,
            sample_tol: 1e-6,
            fit_from: 20,
            early_iter: 5,
            sample_draws: 100_000,
            sgd_runs: 50,
            sgd_steps: 3000,
            sgd_lr: 0.01,
            sgd_width_factor: 2,
            sample_sizes: vec![4, 8, 16, 32, 64, 128],
            sample_reps: 10,
            timing_n: 30,
            timing_d: 4,
            timing_dps: vec![128, 256, 512, 1024],
            timing_iters: 20,
            timing_reps: 3,
        }
    }
    fn full() -> Self {
        Config {
            n: 30,
            beta: 1e-3,
            max_iter: 2_000_000,
            sample_draws: 1_000_000,
            sgd_steps: 20_000,
            sample_sizes: vec![8, 16, 32, 64, 128, 256, 512],
            timing_dps: vec![256, 512, 1024, 2048, 4096],
            timing_reps: 5,
            ..Config::quick()
        }
    }
}

impl Config {
    /// Patterns of the exact program.
    pub fn patterns(&self) -> u64 {
        problem::pattern_count_formula(self.n, 3)
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.size("n", self.n, 4, 60)
            .rule(self.n.is_multiple_of(2), "`n` must be even (two spiral arms)")
            .real("jitter", self.jitter, 0.0, 0.2)
            .real("beta", self.beta, 1e-6, 10.0)
            .real("rho", self.rho, 1e-4, 1e4)
            .real("relax", self.relax, 0.5, 1.9)
            .real("tol", self.tol, 1e-12, 1e-3)
            .size("max_iter", self.max_iter, 100, 10_000_000)
            .size("sample_max_iter", self.sample_max_iter, 100, 10_000_000)
            .real("sample_tol", self.sample_tol, 1e-12, 1e-3)
            .size("fit_from", self.fit_from, 1, 10_000)
            .size("early_iter", self.early_iter, 1, 1000)
            .size("sample_draws", self.sample_draws, 10, 10_000_000)
            .size("sgd_runs", self.sgd_runs, 1, 10_000)
            .size("sgd_steps", self.sgd_steps, 1, 10_000_000)
            .real("sgd_lr", self.sgd_lr, 1e-6, 1.0)
            .size("sgd_width_factor", self.sgd_width_factor, 1, 16)
            .sizes("sample_sizes", &self.sample_sizes, 1, 100_000)
            .increasing("sample_sizes", &self.sample_sizes)
            .rule(self.sample_sizes.len() >= 2, "`sample_sizes` needs at least two sizes (C7a)")
            .size("sample_reps", self.sample_reps, 1, 1000)
            .size("timing_n", self.timing_n, 2, 1000)
            .size("timing_d", self.timing_d, 2, 100)
            .sizes("timing_dps", &self.timing_dps, 8, 4096)
            .increasing("timing_dps", &self.timing_dps)
            .rule(self.timing_dps.len() >= 3, "`timing_dps` needs at least three sizes (the slope of C6)")
            .rule(
                self.timing_dps.iter().all(|dp| dp.is_multiple_of(self.timing_d.max(1))),
                "every `timing_dps` must be a multiple of `timing_d`",
            )
            .size("timing_iters", self.timing_iters, 1, 10_000)
            .size("timing_reps", self.timing_reps, 1, 100)
            .rule(self.fit_from < self.max_iter, "`fit_from` must be below `max_iter`")
            .rule(self.early_iter < self.max_iter, "`early_iter` must be below `max_iter`");
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        let (n, p) = (self.n as f64, self.patterns() as f64);
        // exact program: z, u, the history and the trace; the sampled programs are smaller.
        let exact = 4.0 * 2.0 * p * (n + 3.0) + 10.0 * self.max_iter as f64;
        // timing: the dense 2dP × 2dP system, twice (the matrix and its factor).
        let big = 2.0 * *self.timing_dps.last().unwrap_or(&8) as f64;
        let timing = 2.0 * big * big + (self.timing_n as f64) * big;
        let width = self.sgd_width_factor as f64 * 2.0 * p;
        let sgd = 8.0 * n * width;
        let secs = self.max_iter as f64 * 2.0 * p * n * 3.0 * 20.0 * 1e-9 * (1.0 + self.sample_sizes.len() as f64)
            + self.sgd_runs as f64 * self.sgd_steps as f64 * n * width * 3.0 * 10.0 * 1e-9
            + self.timing_reps as f64 * (big.powi(3) / 3.0 + self.timing_iters as f64 * 2.0 * big * big) * 1e-9;
        Estimate::f64s(exact + timing + sgd).seconds(secs)
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const C1: ClaimSpec = ClaimSpec::new(
    "C1",
    "The hyperplane arrangement of n points in general position (with a bias, d = 3) has exactly \
     2 Σ_{k<3} C(n − 1, k) patterns D_i (measured: enumerated count minus the formula).",
    "Sec. 2 (P ≤ 2r(e(n − 1)/r)^r; Cover 1965)",
    Expect::within(0.0, 0.5),
)
.wrong(
    "forgetting the bias column (d = 2: 2n patterns) is off by 2·C(n − 1, 2) (110 at n = 12); counting only the \
     distinct patterns of random directions misses the thin cones (see the detail)",
);

const C2: ClaimSpec = ClaimSpec::new(
    "C2",
    "p* of the exact convex program is a global lower bound: every non-convex run ends at or above it (measured: \
     min over runs of (final objective − p*)/p*).",
    "Sec. 1-2 (Pilanci & Ergen's equivalence; the paper's motivation)",
    Expect::at_least(-1e-6),
)
.wrong(
    "a convex program on too few patterns (P_s = 4 sampled directions) is not a lower bound: its optimum lies above \
     the best non-convex runs (planted test `c2_fails_with_a_sampled_p_star`)",
);

const C3: ClaimSpec = ClaimSpec::new(
    "C3",
    "The network rebuilt from the convex solution (u = v_i/√‖v_i‖, α = ±√‖v_i‖) attains p* (measured: \
     |objective − p*|/p*).",
    "Sec. 2 (Pilanci & Ergen 2020, Thm 1)",
    Expect::at_most(1e-6),
)
.wrong(
    "without the cone constraints (2D_i − I) X v_i ≥ 0 the rebuilt ReLUs do not follow the patterns D_i and the \
     network's objective is percents away (planted test `c3_fails_without_the_cone_constraints`)",
);

const C4: ClaimSpec = ClaimSpec::new(
    "C4",
    "ADMM converges linearly: log(primal + dual residual) against the iteration, from `fit_from` to convergence, \
     is a line (R² of the log-linear fit).",
    "Abstract; Sec. 3 (linear global convergence)",
    Expect::at_least(0.95),
)
.wrong("the generic O(1/k) ADMM rate is a line in log-log, not log-linear: the detail gives both R²");

const C5: ClaimSpec = ClaimSpec::new(
    "C5",
    "The first ADMM iterations already classify well: training accuracy after `early_iter` iterations over the \
     final accuracy.",
    "Abstract; Sec. 5",
    Expect::at_least(0.9),
)
.wrong("an iterate that has not moved (zero predictions) scores 0; chance is 0.5");

const C6: ClaimSpec = ClaimSpec::new(
    "C6",
    "Per-iteration cost is quadratic in dP after one factorization: log-log slope of the time per ADMM iteration \
     (cached dense Cholesky) against dP.",
    "Abstract; Sec. 3 (per-iteration complexity)",
    Expect::between(1.6, 2.4),
)
.drift(0.25)
.wrong(
    "re-factoring every iteration has slope 3 (one factorization measured 2.8-3.3); the structured solve, which \
     exploits GᵀG = I ⊗ XᵀX, has slope 1 (measured 0.89-0.98)",
);

const C7A: ClaimSpec = ClaimSpec::new(
    "C7a",
    "Sampled patterns approach p*: the mean relative gap (p*_{P_s} − p*)/p* does not increase with P_s (measured: \
     largest increase of the mean gap between consecutive P_s).",
    "Sec. 2 (approximate formulation)",
    Expect::at_most(1e-6),
)
.wrong("sampling that ignored P_s (a fixed pattern set) or p* from a wrong program shows no decrease");

const C7B: ClaimSpec = ClaimSpec::new(
    "C7b",
    "At the largest P_s the sampled optimum is within a small relative gap of p* (mean over repetitions).",
    "Sec. 2 (approximate formulation)",
    Expect::at_most(0.03),
)
.wrong(
    "a quarter of the directions (P_s = 32) leaves a mean gap of 0.11-0.18, and P_s = 4 several times p* (the \
     detail): a sampler that stopped adding patterns would stay there",
);

const C8: ClaimSpec = ClaimSpec::new(
    "C8",
    "Robust (ℓ∞-adversarial) convex training yields networks more robust to PGD attacks than standard convex \
     training.",
    "Sec. 4",
    Expect::at_least(0.1),
)
.not_gated("not reproduced: the paper's robust formulation was not retrieved (see the README); no number is measured");

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[C1, C2, C3, C4, C5, C6, C7A, C7B, C8];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// One ADMM iteration of the exact program.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraceRow {
    pub iter: usize,
    pub primal: f64,
    pub dual: f64,
    /// Convex objective at the group-sparse copy z₁.
    pub objective: f64,
    /// Training accuracy of sign(F x).
    pub train_acc: f64,
}

/// One non-convex run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SgdRun {
    pub run: usize,
    pub width: usize,
    #[serde(with = "common::report::json_f64")]
    pub final_obj: f64,
}

/// One sampled program.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SampleRun {
    /// Directions drawn.
    pub p_s: usize,
    pub rep: usize,
    /// Distinct non-zero patterns among them.
    pub distinct: usize,
    #[serde(with = "common::report::json_f64")]
    pub p_star_s: f64,
    pub iters: usize,
    pub converged: bool,
}

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Patterns enumerated exactly, the formula, and the distinct patterns of `sample_draws` directions.
    pub patterns: usize,
    pub formula: u64,
    pub sampled_count: usize,
    /// p* and how ADMM ended.
    #[serde(with = "common::report::json_f64")]
    pub p_star: f64,
    pub admm_iters: usize,
    pub admm_converged: bool,
    #[serde(with = "common::report::json_f64")]
    pub cone_violation: f64,
    pub nonzero_blocks: usize,
    /// Objective of the network rebuilt from the convex solution.
    #[serde(with = "common::report::json_f64")]
    pub rebuilt_objective: f64,
    pub trace: Vec<TraceRow>,
    pub sgd: Vec<SgdRun>,
    pub sampling: Vec<SampleRun>,
    pub timing: Vec<timing::SizeTime>,
}

/// ADMM on a program with the structured solve, recording the trace.
pub fn run_admm(pb: &ConvexRelu, cfg: &Config) -> Result<(Vec<f64>, Vec<TraceRow>, Status)> {
    let settings =
        Settings { rho: cfg.rho, alpha: cfg.relax, eps_abs: cfg.tol, eps_rel: cfg.tol, max_iter: cfg.max_iter };
    let kkt = WoodburyKkt::new(pb, cfg.rho)?;
    let nx = pb.dim();
    let mut obs = vec![];
    let run = solve_with(pb, &kkt, &settings, Start::default(), |k, x, z| {
        obs.push((k, pb.objective(&z[..nx]), pb.accuracy(x)));
        Control::Continue
    })?;
    // Keep the first 100 iterations and at most 4000 evenly spread ones (results.json stays small).
    let mut keep = common::stats::thin_indices(obs.len(), 4000, false);
    keep.extend(0..obs.len().min(100));
    keep.sort_unstable();
    keep.dedup();
    let trace = keep
        .into_iter()
        .map(|i| {
            let ((iter, objective, train_acc), h) = (obs[i], run.history[i]);
            TraceRow { iter, primal: h.primal, dual: h.dual, objective, train_acc }
        })
        .collect();
    Ok((run.z[..nx].to_vec(), trace, run.status))
}

/// The experiment with a test hook: `cones = false` plants the relaxed program (C3's wrong answer).
pub fn measure_with(cfg: &Config, seed: common::Seed, cones: bool) -> Result<Results> {
    // 5. timing first, alone
    let timing = timing::sweep(
        cfg.timing_n,
        cfg.timing_d,
        &cfg.timing_dps,
        cfg.timing_iters,
        cfg.timing_reps,
        seed.child("timing"),
    )?;
    // 1. data and patterns
    let (x, y) = problem::spirals(cfg.n, cfg.jitter, seed.child("data"));
    let d = problem::enumerate_patterns(&x);
    let sampled_count = problem::sample_patterns(&x, cfg.sample_draws, seed.child("count")).nrows();
    // 2. the exact program
    let mut pb = ConvexRelu::new(x.clone(), y.clone(), d, cfg.beta);
    pb.cones = cones;
    let (sol, trace, status) = run_admm(&pb, cfg)?;
    let p_star = pb.objective(&sol);
    let (u, alpha) = pb.rebuild(&sol);
    let rebuilt_objective = problem::network_objective(&x, &y, &u, &alpha, cfg.beta);
    let nonzero_blocks = pb.nonzero_blocks(&sol);
    let t_exact = std::time::Instant::now();
    // 3. the non-convex runs
    let width = (cfg.sgd_width_factor * nonzero_blocks).max(1);
    let sgd: Vec<SgdRun> = (0..cfg.sgd_runs)
        .into_par_iter()
        .map(|k| SgdRun {
            run: k,
            width,
            final_obj: nonconvex::train(
                &x,
                &y,
                width,
                cfg.beta,
                cfg.sgd_steps,
                cfg.sgd_lr,
                seed.child_idx("sgd", k as u64),
            ),
        })
        .collect();
    if std::env::var_os("CRA_TIMES").is_some() {
        eprintln!("exact+: {:.2}s", t_exact.elapsed().as_secs_f64());
    }
    let t_s = std::time::Instant::now();
    // 4. the sampled programs
    let cells: Vec<(usize, usize)> =
        cfg.sample_sizes.iter().flat_map(|&p| (0..cfg.sample_reps).map(move |r| (p, r))).collect();
    let sampling = cells
        .into_par_iter()
        .map(|(p_s, rep)| {
            let ds = problem::sample_patterns(
                &x,
                p_s,
                seed.child("sample").child_idx("p_s", p_s as u64).child_idx("rep", rep as u64),
            );
            let distinct = ds.nrows();
            let sp = ConvexRelu::new(x.clone(), y.clone(), ds, cfg.beta);
            let (s, tr, st) =
                run_admm(&sp, &Config { max_iter: cfg.sample_max_iter, tol: cfg.sample_tol, ..cfg.clone() })?;
            Ok(SampleRun {
                p_s,
                rep,
                distinct,
                p_star_s: sp.objective(&s),
                iters: tr.last().map_or(0, |t| t.iter),
                converged: st == Status::Converged,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if std::env::var_os("CRA_TIMES").is_some() {
        eprintln!("sampling: {:.2}s", t_s.elapsed().as_secs_f64());
    }
    Ok(Results {
        patterns: pb.p(),
        formula: problem::pattern_count_formula(cfg.n, 3),
        sampled_count,
        p_star,
        admm_iters: trace.last().map_or(0, |t| t.iter),
        admm_converged: status == Status::Converged,
        cone_violation: pb.cone_violation(&sol),
        nonzero_blocks,
        rebuilt_objective,
        trace,
        sgd,
        sampling,
        timing,
    })
}

impl Study for ConvexReluAdmm {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "convex-relu-admm"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Efficient Global Optimization of Two-layer ReLU Networks: Quadratic-time Algorithms and \
                    Adversarial Training",
            authors: "Yatong Bai, Tanmay Gautam, Somayeh Sojoudi",
            arxiv: "2201.01965",
            official_code: None,
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        measure_with(cfg, ctx.seed, true)
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let rel = |v: f64| (v - r.p_star) / r.p_star.abs();

        // C1
        out.claim(C1.measured(r.patterns as f64 - r.formula as f64).detail(format!(
            "enumerated {} patterns; formula 2 Σ_(k<3) C({}, k) = {}; {} random directions found {} distinct \
             non-zero patterns",
            r.patterns,
            cfg.n - 1,
            r.formula,
            cfg.sample_draws,
            r.sampled_count
        )));
        // C2
        let gaps: Vec<f64> = r.sgd.iter().map(|s| rel(s.final_obj)).collect();
        // a non-finite run (a diverged Adam) makes the claim fail rather than vanish from the minimum
        let worst = if gaps.iter().all(|g| g.is_finite()) {
            gaps.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            f64::NAN
        };
        let (gm, gsd) = common::stats::mean_sd(&gaps);
        out.claim(C2.measured(worst).detail(format!(
            "p* = {}; {} runs of width {}: relative gap min {}, mean {} ± {}, max {}; {} runs within 1% of p*",
            fmt_num(r.p_star),
            r.sgd.len(),
            r.sgd.first().map_or(0, |s| s.width),
            fmt_num(worst),
            fmt_num(gm),
            fmt_num(gsd),
            fmt_num(gaps.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            gaps.iter().filter(|g| **g < 0.01).count()
        )));
        // C3
        out.claim(C3.measured((r.rebuilt_objective - r.p_star).abs() / r.p_star.abs()).detail(format!(
            "rebuilt network objective {} vs p* {}; {} non-zero blocks (neurons); largest cone violation {}",
            fmt_num(r.rebuilt_objective),
            fmt_num(r.p_star),
            r.nonzero_blocks,
            fmt_num(r.cone_violation)
        )));
        // C4
        let lin = linear_fit(cfg, r);
        out.claim(C4.measured(lin.r2_loglinear).detail(format!(
            "iterations {}..{} ({}): rate per iteration {} (slope of ln residual {}); R² log-log {}; ADMM converged: {}",
            lin.from,
            lin.to,
            r.admm_iters,
            fmt_num(lin.rate),
            fmt_num(lin.slope),
            fmt_num(lin.r2_loglog),
            r.admm_converged
        )));
        // C5
        let final_acc = r.trace.last().map_or(f64::NAN, |t| t.train_acc);
        let early = r.trace.iter().find(|t| t.iter == cfg.early_iter).map_or(f64::NAN, |t| t.train_acc);
        out.claim(C5.measured(early / final_acc).detail(format!(
            "accuracy at iteration 1: {}, at {}: {}, final: {}",
            fmt_num(r.trace.first().map_or(f64::NAN, |t| t.train_acc)),
            cfg.early_iter,
            fmt_num(early),
            fmt_num(final_acc)
        )));
        // C6
        let dps: Vec<f64> = r.timing.iter().map(|t| t.dp as f64).collect();
        let dense: Vec<f64> = r.timing.iter().map(|t| t.dense_iter).collect();
        let structured: Vec<f64> = r.timing.iter().map(|t| t.structured_iter).collect();
        let factor: Vec<f64> = r.timing.iter().map(|t| t.factor).collect();
        let slope = common::stats::loglog_slope(&dps, &dense);
        out.claim(C6.measured(slope).detail(format!(
            "slopes over dP = {:?}: cached dense {}, one factorization {}, structured (Woodbury) solve {}",
            r.timing.iter().map(|t| t.dp).collect::<Vec<_>>(),
            fmt_num(slope),
            fmt_num(common::stats::loglog_slope(&dps, &factor)),
            fmt_num(common::stats::loglog_slope(&dps, &structured))
        )));
        // C7
        let rows = sampling_rows(cfg, r);
        let rise = rows.windows(2).map(|w| w[1].gap_mean - w[0].gap_mean).fold(f64::NEG_INFINITY, f64::max);
        out.claim(C7A.measured(rise).detail(format!(
            "mean gaps by P_s: {}",
            rows.iter().map(|s| format!("{}: {}", s.p_s, fmt_num(s.gap_mean))).collect::<Vec<_>>().join(", ")
        )));
        let last = rows.last().expect("sizes");
        out.claim(C7B.measured(last.gap_mean).detail(format!(
            "P_s = {}: gap {} ± {} ({} distinct patterns on average of {}); at P_s = {}: {}; unconverged sampled \
             programs: {}",
            last.p_s,
            fmt_num(last.gap_mean),
            fmt_num(last.gap_sd),
            fmt_num(last.distinct_mean),
            r.patterns,
            rows[0].p_s,
            fmt_num(rows[0].gap_mean),
            r.sampling.iter().filter(|s| !s.converged).count()
        )));
        out.claim(C8.measured(f64::NAN).detail("not reproduced (see the README)"));

        // Tables
        let thin = common::stats::thin_indices(r.trace.len(), 400, true);
        let trace_rows: Vec<TraceOut> = thin
            .iter()
            .map(|&i| {
                let t = &r.trace[i];
                TraceOut {
                    iteration: t.iter,
                    objective: t.objective,
                    gap: (t.objective - r.p_star).abs() / r.p_star.abs(),
                    primal: t.primal,
                    dual: t.dual,
                    train_acc: t.train_acc,
                }
            })
            .collect();
        out.table(Table::from_rows("admm_trace", "ADMM on the exact program, thinned", &trace_rows));
        let sgd_rows: Vec<SgdOut> = r
            .sgd
            .iter()
            .map(|s| SgdOut { run: s.run, width: s.width, final_obj: s.final_obj, gap_to_p_star: rel(s.final_obj) })
            .collect();
        out.table(Table::from_rows("sgd_vs_convex", "Non-convex runs against p*", &sgd_rows));
        out.table(Table::from_rows("sampling_gap", "Sampled programs: relative gap to p*", &rows));
        out.table(Table::from_rows("periter_time", "Seconds per ADMM iteration and per factorization", &r.timing));

        // Figures
        let xs: Vec<f64> = trace_rows.iter().map(|t| t.iteration as f64).collect();
        let pos = |v: f64| v.max(1e-16);
        out.figure(
            Figure::xy("admm_convergence", "ADMM on the exact convex program", "iteration", "value")
                .log_y()
                .series(Series::line(
                    "|objective − p*|/p*",
                    xs.clone(),
                    trace_rows.iter().map(|t| pos(t.gap)).collect(),
                ))
                .series(Series::line("primal residual", xs.clone(), trace_rows.iter().map(|t| pos(t.primal)).collect()))
                .series(Series::dashed("dual residual", xs.clone(), trace_rows.iter().map(|t| pos(t.dual)).collect())),
        );
        let early: Vec<&TraceRow> = r.trace.iter().filter(|t| t.iter <= 50).collect();
        out.figure(
            Figure::xy("accuracy", "Training accuracy of the ADMM iterates", "iteration", "training accuracy")
                .series(Series::line_markers(
                    "ADMM iterate",
                    early.iter().map(|t| t.iter as f64).collect(),
                    early.iter().map(|t| t.train_acc).collect(),
                ))
                .series(Series::hline("chance", 0.5, 1.0, early.len().max(2) as f64)),
        );
        let mut objs: Vec<f64> = r.sgd.iter().map(|s| s.final_obj).collect();
        objs.sort_by(|a, b| b.total_cmp(a)); // worst first: the legend's corner stays empty
        let ranks: Vec<f64> = (1..=objs.len()).map(|k| k as f64).collect();
        out.figure(
            Figure::xy(
                "sgd_vs_pstar",
                "Non-convex runs (sorted) against the convex optimum",
                "run (sorted, worst first)",
                "final objective",
            )
            .series(Series::markers("Adam, random init", ranks.clone(), objs))
            .series(Series::hline("p* (convex)", r.p_star, 1.0, ranks.len().max(2) as f64)),
        );
        let ps: Vec<f64> = rows.iter().map(|s| s.p_s as f64).collect();
        out.figure(
            Figure::xy("sampling_gap", "Sampled program: gap to p*", "sampled directions P_s", "(p*_Ps − p*)/p*")
                .log_x()
                .log_y()
                .series(
                    Series::line_markers(
                        "mean over repetitions",
                        ps.clone(),
                        rows.iter().map(|s| pos(s.gap_mean)).collect(),
                    )
                    .with_band(
                        rows.iter().map(|s| pos(s.gap_min)).collect(),
                        rows.iter().map(|s| pos(s.gap_max)).collect(),
                    ),
                ),
        );
        out.figure(
            Figure::xy("periter_time", "Cost per ADMM iteration", "dP", "seconds")
                .log_x()
                .log_y()
                .series(Series::line_markers("iteration, cached dense Cholesky", dps.clone(), dense.clone()))
                .series(Series::line_markers("one factorization", dps.clone(), factor))
                .series(Series::line_markers("iteration, structured solve", dps.clone(), structured))
                .series(Series::dashed(
                    "slope 2 reference",
                    vec![dps[0], 4.0 * dps[dps.len() - 1]],
                    vec![dense[0], dense[0] * (4.0 * dps[dps.len() - 1] / dps[0]).powi(2)],
                )),
        );
        out.note(format!(
            "Setup: {} spiral points with a bias column (jitter {}), all {} patterns, β = {}, ADMM ρ = {}, α = {}, \
             tolerance {} (absolute and relative), cap {} iterations; {} Adam runs of {} steps at lr {}; sampled \
             programs at P_s = {:?} × {} repetitions; timing on Gaussian data n = {}, d = {} at dP = {:?}.",
            cfg.n,
            fmt_num(cfg.jitter),
            r.patterns,
            fmt_num(cfg.beta),
            fmt_num(cfg.rho),
            fmt_num(cfg.relax),
            fmt_num(cfg.tol),
            cfg.max_iter,
            cfg.sgd_runs,
            cfg.sgd_steps,
            fmt_num(cfg.sgd_lr),
            cfg.sample_sizes,
            cfg.sample_reps,
            cfg.timing_n,
            cfg.timing_d,
            cfg.timing_dps
        ));
        Ok(out)
    }
}

/// One thinned row of the ADMM trace table.
#[derive(Clone, Debug, Serialize)]
pub struct TraceOut {
    pub iteration: usize,
    pub objective: f64,
    pub gap: f64,
    pub primal: f64,
    pub dual: f64,
    pub train_acc: f64,
}

/// One non-convex run against p*.
#[derive(Clone, Debug, Serialize)]
pub struct SgdOut {
    pub run: usize,
    pub width: usize,
    pub final_obj: f64,
    pub gap_to_p_star: f64,
}

/// The sampled programs at one P_s.
#[derive(Clone, Debug, Serialize)]
pub struct SampleRow {
    pub p_s: usize,
    pub distinct_mean: f64,
    pub gap_mean: f64,
    pub gap_sd: f64,
    pub gap_min: f64,
    pub gap_max: f64,
}

/// Relative gaps of the sampled programs, by P_s.
pub fn sampling_rows(cfg: &Config, r: &Results) -> Vec<SampleRow> {
    cfg.sample_sizes
        .iter()
        .map(|&p_s| {
            let runs: Vec<&SampleRun> = r.sampling.iter().filter(|s| s.p_s == p_s).collect();
            let gaps: Vec<f64> = runs.iter().map(|s| (s.p_star_s - r.p_star) / r.p_star.abs()).collect();
            let (gap_mean, gap_sd) = common::stats::mean_sd(&gaps);
            SampleRow {
                p_s,
                distinct_mean: common::stats::mean(&runs.iter().map(|s| s.distinct as f64).collect::<Vec<_>>()),
                gap_mean,
                gap_sd,
                gap_min: gaps.iter().copied().fold(f64::INFINITY, f64::min),
                gap_max: gaps.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            }
        })
        .collect()
}

/// The log-linear fit of the residual (C4) and the log-log alternative.
#[derive(Clone, Debug)]
pub struct LinearFit {
    pub from: usize,
    pub to: usize,
    pub slope: f64,
    pub rate: f64,
    pub r2_loglinear: f64,
    pub r2_loglog: f64,
}

/// Fit `ln(primal + dual)` against the iteration over `[fit_from, last]`.
pub fn linear_fit(cfg: &Config, r: &Results) -> LinearFit {
    let pts: Vec<(f64, f64)> = r
        .trace
        .iter()
        .filter(|t| t.iter >= cfg.fit_from && t.primal + t.dual > 0.0)
        .map(|t| (t.iter as f64, (t.primal + t.dual).ln()))
        .collect();
    let (k, l): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
    if k.len() < 3 {
        return LinearFit {
            from: cfg.fit_from,
            to: r.admm_iters,
            slope: f64::NAN,
            rate: f64::NAN,
            r2_loglinear: f64::NAN,
            r2_loglog: f64::NAN,
        };
    }
    let f = common::stats::linfit(&k, &l);
    let lk: Vec<f64> = k.iter().map(|v| v.ln()).collect();
    let g = common::stats::linfit(&lk, &l);
    LinearFit {
        from: cfg.fit_from,
        to: r.admm_iters,
        slope: f.slope,
        rate: f.slope.exp(),
        r2_loglinear: f.r2,
        r2_loglog: g.r2,
    }
}

#[cfg(test)]
mod tests;

common::seed_checks!(crate::ConvexReluAdmm);
