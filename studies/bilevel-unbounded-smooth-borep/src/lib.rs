//! Study `bilevel-unbounded-smooth-borep`: Hao, Gong, Liu, "Bilevel Optimization under Unbounded
//! Smoothness: A New Algorithm and Convergence Analysis" (ICLR 2024, arXiv 2401.09587).
//!
//! BO-REP (normalized momentum on the upper variable, lower-level updates only every I steps,
//! an initialization refinement of the lower variable) is built for upper levels whose smoothness
//! grows with the gradient, ‖∇²f‖ ≤ L0 + L1‖∇f‖. On a toy bilevel problem with a closed-form
//! hyper-gradient whose upper level carries κ Σ cosh(x_j), we check:
//! 1. **Config**: the toy, the methods' knobs, two profiles, range checks and the cost estimate.
//! 2. **Claims**: exactness of the estimator; the un-normalized StocBiO-like step blows up from a
//!    start where the local smoothness κ cosh(x₀) is large (η·‖∇²Φ(x₀)‖ ≫ 2), converges at the same
//!    η from a start where it is small (the control), while BO-REP converges from the far start;
//!    the tuned baseline; the lower-level tracking bound; the ε-scaling exponent (reported).
//! 3. **Measure**: the runs (`toy::run`), every number in `Results`.
//! 4. **Report**: tables, figures (`figures`), claims.

use anyhow::Result;
use common::report::fmt_num;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Study, Table};
use ndarray::Array1;
use serde::{Deserialize, Serialize};

pub mod figures;
pub mod toy;

use toy::{Hyper, Method, Problem, Trace};

/// The study (registered in `repro/src/registry.rs`).
pub struct BilevelUnboundedSmoothBorep;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Upper dimension (x).
    pub dx: usize,
    /// Lower dimension (y).
    pub dy: usize,
    /// Rows of B (upper read-out).
    pub m: usize,
    /// Lower-level ridge µ.
    pub mu: f64,
    /// Weight κ of Σ cosh(x_j).
    pub kappa: f64,
    /// The far start x₀ = x0_far·1 (large local smoothness κ cosh(x₀)).
    pub x0_far: f64,
    /// The control start x₀ = x0_near·1 (small local smoothness).
    pub x0_near: f64,
    /// The common upper step η (BO-REP's step length; the baseline's step size).
    pub eta: f64,
    /// BO-REP momentum β.
    pub beta: f64,
    /// Lower-level SGD step η_y.
    pub eta_y: f64,
    /// z-SGD step ν.
    pub nu: f64,
    /// Lower updates every I upper steps.
    pub interval: usize,
    /// Lower SGD steps N per update.
    pub lower_steps: usize,
    /// Initialization refinement (lower steps at x₀).
    pub refine: usize,
    /// Clip threshold γ of the clipped-SGD reference.
    pub clip: f64,
    /// Oracle noise levels σ.
    pub sigmas: Vec<f64>,
    /// Target ‖∇Φ‖ ≤ ε.
    pub eps: f64,
    /// Iteration budget per run.
    pub iters: usize,
    /// Curves: iterations recorded per run.
    pub curve_iters: usize,
    /// Curves: record every this many iterations (after the first 100).
    pub record_every: usize,
    /// Problem draws (seeds) per setting.
    pub seeds: usize,
    /// Step grid of the tuned baseline.
    pub tuned_etas: Vec<f64>,
    /// Starts x₀ of the start sweep (BO-REP and the baseline at the common η).
    pub x0_sweep: Vec<f64>,
    /// ε grid of the scaling runs (σ = sigma_scaling, η = c_eta ε², 1 − β = c_beta ε²).
    pub scaling_eps: Vec<f64>,
    /// Noise of the scaling runs.
    pub sigma_scaling: f64,
    /// η = c_eta ε².
    pub c_eta: f64,
    /// 1 − β = c_beta ε².
    pub c_beta: f64,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            dx: 5,
            dy: 20,
            m: 10,
            mu: 1.0,
            kappa: 0.1,
            x0_far: 10.0,
            x0_near: 2.0,
            eta: 0.05,
            beta: 0.9,
            eta_y: 0.1,
            nu: 0.2,
            interval: 3,
            lower_steps: 3,
            refine: 200,
            clip: 1.0,
            sigmas: vec![0.0, 0.5],
            eps: 0.1,
            iters: 20_000,
            curve_iters: 1500,
            record_every: 10,
            seeds: 10,
            tuned_etas: vec![1e-1, 1e-2, 1e-3, 1e-4, 1e-5],
            x0_sweep: vec![2.0, 4.0, 6.0, 8.0, 8.5, 9.0, 10.0, 12.0],
            scaling_eps: vec![0.4, 0.3, 0.2, 0.15],
            sigma_scaling: 0.5,
            c_eta: 0.5,
            c_beta: 1.0,
        }
    }
    fn full() -> Self {
        Config {
            dx: 20,
            dy: 100,
            m: 50,
            seeds: 50,
            iters: 200_000,
            curve_iters: 5000,
            sigmas: vec![0.0, 0.5, 1.0],
            tuned_etas: vec![1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 1e-5],
            scaling_eps: vec![0.4, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05],
            ..Config::quick()
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.size("dx", self.dx, 1, 200)
            .size("dy", self.dy, 1, 2000)
            .size("m", self.m, 1, 2000)
            .real("mu", self.mu, 1e-3, 1e3)
            .real("kappa", self.kappa, 1e-4, 10.0)
            .real("x0_far", self.x0_far, 0.0, 30.0)
            .real("x0_near", self.x0_near, 0.0, 30.0)
            .real("eta", self.eta, 1e-6, 10.0)
            .real("beta", self.beta, 0.0, 0.9999)
            .real("eta_y", self.eta_y, 1e-6, 10.0)
            .real("nu", self.nu, 1e-6, 10.0)
            .size("interval", self.interval, 1, 1000)
            .size("lower_steps", self.lower_steps, 1, 1000)
            .size("refine", self.refine, 0, 100_000)
            .real("clip", self.clip, 1e-6, 1e6)
            .reals("sigmas", &self.sigmas, 0.0, 10.0)
            .real("eps", self.eps, 1e-6, 1e3)
            .size("iters", self.iters, 1, 10_000_000)
            .size("curve_iters", self.curve_iters, 1, 100_000)
            .size("record_every", self.record_every, 1, 100_000)
            .size("seeds", self.seeds, 1, 1000)
            .reals("tuned_etas", &self.tuned_etas, 1e-8, 10.0)
            .reals("x0_sweep", &self.x0_sweep, 0.0, 30.0)
            .reals("scaling_eps", &self.scaling_eps, 1e-3, 10.0)
            .real("sigma_scaling", self.sigma_scaling, 0.0, 10.0)
            .real("c_eta", self.c_eta, 1e-6, 100.0)
            .real("c_beta", self.c_beta, 1e-6, 100.0)
            .rule(!self.sigmas.is_empty(), "`sigmas` must hold at least one noise level")
            .rule(self.sigmas.contains(&0.0), "`sigmas` must hold 0 (the deterministic tracking check)")
            .rule(!self.tuned_etas.is_empty(), "`tuned_etas` must not be empty")
            .rule(self.scaling_eps.len() >= 2, "`scaling_eps` needs at least two values (a fitted exponent)")
            .rule(
                self.scaling_eps.iter().all(|e| self.c_beta * e * e < 1.0),
                "`c_beta·ε²` must be below 1 for every ε (1 − β ∈ (0, 1))",
            )
            .rule(
                self.eta_y * (1.0 + self.mu) < 2.0,
                "`eta_y·(1 + mu)` must be below 2 (the lower-level steps must contract)",
            );
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        let recorded = (100 + self.curve_iters / self.record_every + 1) as f64;
        let main_runs = (4 * self.seeds * self.sigmas.len()) as f64;
        let grid_runs = ((self.tuned_etas.len() * self.sigmas.len()
            + self.scaling_eps.len()
            + 2 * self.x0_sweep.len() * self.sigmas.len())
            * self.seeds) as f64;
        let per_iter = (self.dy * (self.dx + self.m) * 6) as f64 + 50.0;
        let lower = (self.lower_steps as f64 / self.interval as f64) * (self.dy * self.dx * 2) as f64;
        Estimate::f64s(main_runs * recorded * 3.0 + (self.dy * (self.dx + self.m + 8)) as f64 * 4.0)
            .seconds((main_runs + grid_runs) * self.iters as f64 * (per_iter + lower) * 2e-9)
    }
}

impl Config {
    /// The run parameters for one method at noise σ.
    pub fn hyper(&self, sigma: f64) -> Hyper {
        Hyper {
            eta: self.eta,
            beta: self.beta,
            eta_y: self.eta_y,
            nu: self.nu,
            interval: self.interval,
            lower_steps: self.lower_steps,
            refine: self.refine,
            clip: self.clip,
            sigma,
            eps: self.eps,
            iters: self.iters,
            curve_iters: self.curve_iters,
            record_every: self.record_every,
            periodic: true,
        }
    }
    /// Problem draw k (shared by every method and σ).
    pub fn problem(&self, root: common::Seed, k: usize) -> Problem {
        Problem::draw(self.dx, self.dy, self.m, self.mu, self.kappa, root.child("problem").child_idx("draw", k as u64))
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const C1_EXACT: ClaimSpec = ClaimSpec::new(
    "C1",
    "The hyper-gradient estimator ∇_x f − ∇²_xy g·z evaluated at the exact (y*, z*) equals the closed form \
     ∇Φ = κ sinh(x) + AᵀBᵀ(BAx/(1+µ) − c)/(1+µ) (max relative error over draws and 8 random points).",
    "Sec. 3 (hyper-gradient), spec quick-profile check 1",
    Expect::at_most(1e-12),
)
.wrong(
    "a closed form missing one (1+µ) factor is off by ~0.5 relative at µ = 1; a sign error in the cross term \
     ∇²_xy g = −Aᵀ is off by O(1)",
);

const C2_BLOWUP: ClaimSpec = ClaimSpec::new(
    "C2",
    "From the far start x₀ = 10·1, where η·‖∇²Φ(x₀)‖ ≈ 55 ≫ 2, the un-normalized StocBiO-like step at η = 0.05 \
     diverges (Φ non-finite or above 10 Φ(x₀)): share of runs over draws and σ.",
    "Sec. 1 / Thm 1 (unbounded smoothness breaks fixed-step methods), spec check 2",
    Expect::at_least(1.0),
)
.wrong(
    "the spec's start x₀ = 6·1 (η·‖∇²Φ‖ ≈ 1 < 2): the un-normalized step does not overshoot and the share is 0; \
     a baseline that normalizes or clips its step (share 0)",
);

const C3_CONTROL: ClaimSpec = ClaimSpec::new(
    "C3",
    "Control: the same un-normalized step at the same η = 0.05 from x₀ = 2·1, where the local smoothness is small \
     (η·‖∇²Φ(x₀)‖ ≈ 0.03), reaches ‖∇Φ‖ ≤ 0.1: share of runs. With C2 the blow-up is caused by the smoothness \
     growing with the gradient, not by a step too large for the problem's ordinary smoothness.",
    "Assumption 1 ((L0, L1)-smoothness) read as a control experiment",
    Expect::at_least(1.0),
)
.wrong(
    "if η = 0.05 were simply too large for a globally L-smooth problem, the baseline would blow up from x₀ = 2 \
     as well (share 0)",
);

const C4_BOREP: ClaimSpec = ClaimSpec::new(
    "C4",
    "BO-REP (normalized momentum, step length η = 0.05, periodic lower updates, refinement) reaches ‖∇Φ‖ ≤ 0.1 \
     within 2·10⁴ iterations from the far start x₀ = 10·1: share of runs over draws and σ ∈ {0, 0.5}.",
    "Thm 1 (BO-REP converges under unbounded smoothness), spec check 2",
    Expect::at_least(1.0),
)
.wrong(
    "BO-REP with the normalization removed (momentum with an un-normalized step) overshoots like the baseline and \
     diverges on every run (share 0)",
);

const C5_TUNED: ClaimSpec = ClaimSpec::new(
    "C5",
    "Against the baseline at its best step of the grid {1e-1, …, 1e-5} (from x₀ = 10·1), BO-REP at η = 0.05 needs \
     fewer iterations to ‖∇Φ‖ ≤ 0.1: ratio of medians over draws, worst σ (the spec asked for ≤ 1/3).",
    "Sec. 5 (BO-REP beats StocBiO), spec check 3",
    Expect::at_most(1.0 / 3.0),
)
.not_gated(
    "the spec's 1/3 does not hold on this toy: the grid step η = 1e-2 jumps from x₀ = 10 to near 0 without \
     overshooting and then converges, so over 30 root seeds the ratio is 0.54–0.85 (median 0.64): BO-REP is faster \
     but not 3× faster, and the margin depends on the step grid (a finer grid could close it); reported only",
);

const C6_TRACK: ClaimSpec = ClaimSpec::new(
    "C6",
    "Periodic updates track the lower solution: max_t ‖y_t − y*(x_t)‖ over a deterministic BO-REP run, divided by \
     the drift bound η·I·‖A‖/(1+µ) / (1 − |1 − η_y(1+µ)|^N) (max over draws).",
    "Lemma (lower-level error under periodic updates), spec check 4",
    Expect::at_most(1.0),
)
.wrong(
    "y frozen after the refinement (no periodic updates): y* moves with x by ‖A‖/(1+µ) per unit of x, a ratio \
     ≫ 1 from x₀ = 10·1; the bound without the 1/(1 − q) accumulation is exceeded too",
);

const C7_SCALING: ClaimSpec = ClaimSpec::new(
    "C7",
    "With σ = 0.5 and theory-style scaling (η = c ε², 1 − β = c' ε²), the fitted exponent of the median iterations \
     to ‖∇Φ‖ ≤ ε against 1/ε over ε ∈ {0.4, 0.3, 0.2, 0.15}.",
    "Thm 1 (Õ(ε⁻⁴) oracle calls)",
    Expect::between(2.5, 4.5),
)
.not_gated(
    "not a sharp test of the ε⁻⁴ upper bound: iterations to first reach ε from a fixed start are dominated by the \
     travel time ∝ 1/η ∝ ε⁻², so ~2 is expected on this toy; reported only",
);

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[C1_EXACT, C2_BLOWUP, C3_CONTROL, C4_BOREP, C5_TUNED, C6_TRACK, C7_SCALING];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// One run of the main comparison.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MainRun {
    /// "borep", "sgd", "clip".
    pub method: String,
    /// Start x₀ (all coordinates).
    pub x0: f64,
    /// Oracle noise.
    pub sigma: f64,
    /// Problem draw.
    pub draw: usize,
    /// η·‖∇²Φ(x₀)‖ (local smoothness at the start, times the step).
    pub eta_smooth: f64,
    /// The drift bound of C6 for this draw.
    pub drift_bound: f64,
    /// The run.
    pub trace: Trace,
}

/// One run of a grid (tuned baseline, ε-scaling, start sweep).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GridRun {
    /// Method ("borep", "sgd").
    pub method: String,
    /// Start x₀ (all coordinates).
    pub x0: f64,
    /// Step η.
    pub eta: f64,
    /// Noise σ.
    pub sigma: f64,
    /// Target ε.
    pub eps: f64,
    /// Problem draw.
    pub draw: usize,
    /// Iterations to ‖∇Φ‖ ≤ ε.
    pub hit: Option<usize>,
    /// Diverged.
    pub diverged: bool,
}

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// C1: max relative error of the estimator at (y*, z*).
    pub exactness: f64,
    /// BO-REP, SGD (far and near starts), clipped SGD, over σ and draws.
    pub main: Vec<MainRun>,
    /// The baseline over its step grid (far start).
    pub tuned: Vec<GridRun>,
    /// BO-REP under the ε-scaling.
    pub scaling: Vec<GridRun>,
    /// BO-REP and the baseline at the common η from every start of `x0_sweep`.
    pub starts: Vec<GridRun>,
}

#[derive(Serialize)]
struct MainCell {
    method: Method,
    x0: f64,
    sigma: f64,
    draw: usize,
}

#[derive(Serialize)]
struct GridCell {
    method: Method,
    x0: f64,
    eta: f64,
    sigma: f64,
    eps: f64,
    draw: usize,
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Borep => "borep",
        Method::Sgd => "sgd",
        Method::Clip => "clip",
        Method::MomentumUnnormalized => "momentum-unnormalized",
    }
}

/// Measure with a chosen BO-REP variant and lower-update policy (the planted-bug tests use them).
pub fn measure_with(cfg: &Config, ctx: &Ctx, borep: Method, periodic: bool) -> Result<Results> {
    let root = ctx.seed;
    // C1: random points in [−3, 3]^dx for every draw.
    let mut exactness = 0.0f64;
    for k in 0..cfg.seeds {
        let p = cfg.problem(root, k);
        let mut rng = root.child("points").child_idx("draw", k as u64).rng();
        let xs: Vec<Array1<f64>> = (0..8)
            .map(|_| common::rng::gaussian_vec(&mut rng, cfg.dx, 1.0).mapv(|v: f64| v.clamp(-3.0, 3.0)))
            .collect();
        exactness = exactness.max(toy::exactness_error(&p, &xs, |p, x| p.grad_phi(x)));
    }

    let mut cells = vec![];
    for &sigma in &cfg.sigmas {
        for draw in 0..cfg.seeds {
            for (method, x0) in
                [(borep, cfg.x0_far), (Method::Sgd, cfg.x0_far), (Method::Sgd, cfg.x0_near), (Method::Clip, cfg.x0_far)]
            {
                cells.push(MainCell { method, x0, sigma, draw });
            }
        }
    }
    let main = ctx.grid("main", &cells, |c, seed| {
        let p = cfg.problem(root, c.draw);
        let mut h = cfg.hyper(c.sigma);
        h.periodic = periodic;
        let trace = toy::run(&p, c.method, &h, c.x0, seed);
        Ok(MainRun {
            method: method_name(c.method).into(),
            x0: c.x0,
            sigma: c.sigma,
            draw: c.draw,
            eta_smooth: cfg.eta * p.smoothness_at(&Array1::from_elem(cfg.dx, c.x0)),
            drift_bound: toy::drift_bound(&p, &h),
            trace,
        })
    })?;

    let grid = |name: &str, cells: &[GridCell], scaled: bool| {
        ctx.grid(name, cells, |c, seed| {
            let p = cfg.problem(root, c.draw);
            let mut h = cfg.hyper(c.sigma);
            h.eta = c.eta;
            h.eps = c.eps;
            h.curve_iters = 0;
            h.periodic = periodic;
            if scaled {
                h.beta = 1.0 - cfg.c_beta * c.eps * c.eps;
            }
            let t = toy::run(&p, c.method, &h, c.x0, seed);
            Ok(GridRun {
                method: method_name(c.method).into(),
                x0: c.x0,
                eta: c.eta,
                sigma: c.sigma,
                eps: c.eps,
                draw: c.draw,
                hit: t.hit,
                diverged: t.diverged,
            })
        })
    };
    let mut tcells = vec![];
    for &sigma in &cfg.sigmas {
        for &eta in &cfg.tuned_etas {
            for draw in 0..cfg.seeds {
                tcells.push(GridCell { method: Method::Sgd, x0: cfg.x0_far, eta, sigma, eps: cfg.eps, draw });
            }
        }
    }
    let tuned = grid("tuned", &tcells, false)?;
    let mut scells = vec![];
    for &eps in &cfg.scaling_eps {
        for draw in 0..cfg.seeds {
            let eta = cfg.c_eta * eps * eps;
            scells.push(GridCell { method: borep, x0: cfg.x0_far, eta, sigma: cfg.sigma_scaling, eps, draw });
        }
    }
    let scaling = grid("scaling", &scells, true)?;
    let mut xcells = vec![];
    for &sigma in &cfg.sigmas {
        for &x0 in &cfg.x0_sweep {
            for method in [borep, Method::Sgd] {
                for draw in 0..cfg.seeds {
                    xcells.push(GridCell { method, x0, eta: cfg.eta, sigma, eps: cfg.eps, draw });
                }
            }
        }
    }
    let starts = grid("starts", &xcells, false)?;
    Ok(Results { exactness, main, tuned, scaling, starts })
}

impl Study for BilevelUnboundedSmoothBorep {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "bilevel-unbounded-smooth-borep"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Bilevel Optimization under Unbounded Smoothness: A New Algorithm and Convergence Analysis",
            authors: "Jie Hao, Xiaochuan Gong, Mingrui Liu",
            arxiv: "2401.09587",
            official_code: Some("https://github.com/MingruiLiu-ML-Lab/Bilevel-Optimization-under-Unbounded-Smoothness"),
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        measure_with(cfg, ctx, Method::Borep, true)
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let rows: Vec<ToyRow> = r
            .main
            .iter()
            .map(|m| ToyRow {
                method: m.method.clone(),
                x0: m.x0,
                sigma: m.sigma,
                draw: m.draw,
                eta: cfg.eta,
                eta_smooth: m.eta_smooth,
                iters_to_eps: m.trace.hit.map(|h| h as f64).unwrap_or(f64::NAN),
                diverged: m.trace.diverged,
            })
            .chain(r.tuned.iter().map(|g| ToyRow {
                method: "sgd-grid".into(),
                x0: cfg.x0_far,
                sigma: g.sigma,
                draw: g.draw,
                eta: g.eta,
                eta_smooth: f64::NAN,
                iters_to_eps: g.hit.map(|h| h as f64).unwrap_or(f64::NAN),
                diverged: g.diverged,
            }))
            .collect();
        out.table(Table::from_rows(
            "toy_runs",
            "Every run: iterations to ‖∇Φ‖ ≤ ε (NaN: not reached), divergence",
            &rows,
        ));
        let track: Vec<TrackRow> = r
            .main
            .iter()
            .filter(|m| m.method == "borep" || m.method == "momentum-unnormalized")
            .map(|m| TrackRow {
                sigma: m.sigma,
                draw: m.draw,
                track_max: m.trace.track_max,
                drift_bound: m.drift_bound,
                ratio: m.trace.track_max / m.drift_bound,
            })
            .collect();
        out.table(Table::from_rows("tracking", "BO-REP: max_t ‖y_t − y*(x_t)‖ against the drift bound", &track));
        let scal = scaling_rows(cfg, r);
        let starts = start_rows(cfg, r);
        out.table(Table::from_rows(
            "start_sweep",
            "BO-REP and the un-normalized step at the common η from x₀ = s·1: local smoothness, divergence, hits",
            &starts,
        ));
        out.table(Table::from_rows("eps_scaling", "BO-REP with η = c ε², 1 − β = c' ε²: iterations to ε", &scal));

        // C1.
        out.claim(C1_EXACT.measured(r.exactness).detail(format!(
            "{} draws × 8 points in [−3, 3]^{}; y*, z* from Cholesky solves of ∇²_yy g",
            cfg.seeds, cfg.dx
        )));
        // C2, C3, C4.
        let sel = |meth: &'static str, x0: f64| select(r, meth, x0);
        let label = |m: &MainRun| format!("σ={} draw {}", fmt_num(m.sigma), m.draw);
        let smooth = |meth: &'static str, x0: f64| {
            let v: Vec<f64> = sel(meth, x0).map(|m| m.eta_smooth).collect();
            format!("η·‖∇²Φ(x₀)‖ ∈ [{}, {}]", fmt_num(common::stats::min(&v)), fmt_num(common::stats::max(&v)))
        };
        out.claim(C2_BLOWUP.share(sel("sgd", cfg.x0_far).map(|m| (label(m), m.trace.diverged))).detail(format!(
            "x₀ = {}: {}",
            fmt_num(cfg.x0_far),
            smooth("sgd", cfg.x0_far)
        )));
        out.claim(
            C3_CONTROL
                .share(sel("sgd", cfg.x0_near).map(|m| (label(m), m.trace.hit.is_some() && !m.trace.diverged)))
                .detail(format!(
                    "x₀ = {}: {}; median iterations {}",
                    fmt_num(cfg.x0_near),
                    smooth("sgd", cfg.x0_near),
                    fmt_num(median_hits(sel("sgd", cfg.x0_near).map(|m| m.trace.hit)))
                )),
        );
        let bo: Vec<&MainRun> = r.main.iter().filter(|m| m.method != "sgd" && m.method != "clip").collect();
        out.claim(C4_BOREP.share(bo.iter().map(|m| (label(m), m.trace.hit.is_some() && !m.trace.diverged))).detail(
            format!(
                "median iterations {} (clipped SGD: {}); method {}",
                fmt_num(median_hits(bo.iter().map(|m| m.trace.hit))),
                fmt_num(median_hits(sel("clip", cfg.x0_far).map(|m| m.trace.hit))),
                bo.first().map(|m| m.method.as_str()).unwrap_or("none")
            ),
        ));
        // C5: per σ, the baseline's best grid step by median iterations.
        let mut worst = f64::NEG_INFINITY;
        let mut det = vec![];
        for &sigma in &cfg.sigmas {
            let b = median_hits(bo.iter().filter(|m| m.sigma == sigma).map(|m| m.trace.hit));
            let (best_eta, best) = cfg
                .tuned_etas
                .iter()
                .map(|&e| (e, median_hits(r.tuned.iter().filter(|g| g.sigma == sigma && g.eta == e).map(|g| g.hit))))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((f64::NAN, f64::NAN));
            let ratio = b / best;
            worst = worst.max(if ratio.is_nan() { f64::INFINITY } else { ratio });
            det.push(format!(
                "σ={}: BO-REP {} / baseline {} at η={}",
                fmt_num(sigma),
                fmt_num(b),
                fmt_num(best),
                fmt_num(best_eta)
            ));
        }
        out.claim(C5_TUNED.measured(worst).detail(det.join("; ")));
        // C6: deterministic BO-REP runs.
        out.claim(
            C6_TRACK.max_of(track.iter().filter(|t| t.sigma == 0.0).map(|t| (format!("draw {}", t.draw), t.ratio))),
        );
        // C7.
        let ok: Vec<&ScalingRow> = scal.iter().filter(|s| s.median_iters.is_finite()).collect();
        let x: Vec<f64> = ok.iter().map(|s| 1.0 / s.eps).collect();
        let y: Vec<f64> = ok.iter().map(|s| s.median_iters).collect();
        out.claim(if x.len() >= 2 {
            C7_SCALING.loglog_slope(&x, &y)
        } else {
            C7_SCALING.measured(f64::NAN).detail("fewer than two ε reached")
        });

        for f in figures::all(cfg, r, &starts) {
            out.figure(f);
        }
        out.note(format!(
            "Toy: x ∈ R^{}, y ∈ R^{}, B ∈ R^{}×{}, µ = {}, κ = {}; A, B with N(0, 1/dy) entries, c ~ N(0, I), one \
             draw per seed. Oracles add N(0, σ²) per coordinate to ∇_y g, ∇_y f, ∇²_yy g·z and ∇_x f. BO-REP: β = {}, \
             step length η = {}, refinement {} lower steps, lower updates every I = {} with N = {} steps of η_y = {}, \
             z-SGD with ν = {}. The baseline uses the same y/z machinery with x ← x − ηĥ; clipped SGD uses γ = {}. \
             Divergence: Φ non-finite or > 10 Φ(x₀). ε = {}, budget {} iterations.",
            cfg.dx,
            cfg.dy,
            cfg.m,
            cfg.dy,
            fmt_num(cfg.mu),
            fmt_num(cfg.kappa),
            fmt_num(cfg.beta),
            fmt_num(cfg.eta),
            cfg.refine,
            cfg.interval,
            cfg.lower_steps,
            fmt_num(cfg.eta_y),
            fmt_num(cfg.nu),
            fmt_num(cfg.clip),
            fmt_num(cfg.eps),
            cfg.iters
        ));
        Ok(out)
    }
}

/// The main runs of one method from one start.
pub fn select<'a>(r: &'a Results, method: &'a str, x0: f64) -> impl Iterator<Item = &'a MainRun> + 'a {
    r.main.iter().filter(move |m| m.method == method && m.x0 == x0)
}

/// Median of hitting times, a miss counting as +∞ (NaN when there are none).
pub fn median_hits(hits: impl Iterator<Item = Option<usize>>) -> f64 {
    let v: Vec<f64> = hits.map(|h| h.map(|h| h as f64).unwrap_or(f64::INFINITY)).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.clone();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 { s[n / 2] } else { 0.5 * (s[n / 2 - 1] + s[n / 2]) }
}

fn start_rows(cfg: &Config, r: &Results) -> Vec<StartRow> {
    let mut rows = vec![];
    for &sigma in &cfg.sigmas {
        for &x0 in &cfg.x0_sweep {
            for method in ["borep", "sgd"] {
                let runs: Vec<&GridRun> =
                    r.starts.iter().filter(|g| g.sigma == sigma && g.x0 == x0 && g.method == method).collect();
                if runs.is_empty() {
                    continue;
                }
                let n = runs.len() as f64;
                rows.push(StartRow {
                    method: method.into(),
                    sigma,
                    x0,
                    eta_kappa_cosh: cfg.eta * cfg.kappa * x0.cosh(),
                    diverged: runs.iter().filter(|g| g.diverged).count() as f64 / n,
                    reached: runs.iter().filter(|g| g.hit.is_some() && !g.diverged).count() as f64 / n,
                    median_iters: median_hits(runs.iter().map(|g| g.hit)),
                });
            }
        }
    }
    rows
}

/// One row of `start_sweep`.
#[derive(Clone, Debug, Serialize)]
pub struct StartRow {
    /// Method.
    pub method: String,
    /// Noise.
    pub sigma: f64,
    /// Start (every coordinate).
    pub x0: f64,
    /// η·κ·cosh(x₀): the cosh part of η·‖∇²Φ(x₀)‖.
    pub eta_kappa_cosh: f64,
    /// Share of runs that diverged.
    pub diverged: f64,
    /// Share of runs that reached ε.
    pub reached: f64,
    /// Median iterations to ε (∞: most missed).
    pub median_iters: f64,
}

fn scaling_rows(cfg: &Config, r: &Results) -> Vec<ScalingRow> {
    cfg.scaling_eps
        .iter()
        .map(|&eps| {
            let runs: Vec<&GridRun> = r.scaling.iter().filter(|g| g.eps == eps).collect();
            ScalingRow {
                eps,
                eta: cfg.c_eta * eps * eps,
                one_minus_beta: cfg.c_beta * eps * eps,
                median_iters: median_hits(runs.iter().map(|g| g.hit)),
                reached: runs.iter().filter(|g| g.hit.is_some()).count(),
                runs: runs.len(),
            }
        })
        .collect()
}

/// One row of `toy_runs`.
#[derive(Clone, Debug, Serialize)]
pub struct ToyRow {
    /// Method ("borep", "sgd", "clip", "sgd-grid").
    pub method: String,
    /// Start.
    pub x0: f64,
    /// Noise.
    pub sigma: f64,
    /// Problem draw.
    pub draw: usize,
    /// Step.
    pub eta: f64,
    /// η·‖∇²Φ(x₀)‖ (main runs).
    pub eta_smooth: f64,
    /// Iterations to ε (NaN: not reached).
    pub iters_to_eps: f64,
    /// Diverged.
    pub diverged: bool,
}

/// One row of `tracking`.
#[derive(Clone, Debug, Serialize)]
pub struct TrackRow {
    /// Noise.
    pub sigma: f64,
    /// Draw.
    pub draw: usize,
    /// max_t ‖y_t − y*(x_t)‖.
    pub track_max: f64,
    /// The analytic drift bound.
    pub drift_bound: f64,
    /// Their ratio.
    pub ratio: f64,
}

/// One row of `eps_scaling`.
#[derive(Clone, Debug, Serialize)]
pub struct ScalingRow {
    /// Target ε.
    pub eps: f64,
    /// η = c ε².
    pub eta: f64,
    /// 1 − β = c' ε².
    pub one_minus_beta: f64,
    /// Median iterations (∞ if most missed).
    pub median_iters: f64,
    /// Runs that reached ε.
    pub reached: usize,
    /// Runs.
    pub runs: usize,
}

#[cfg(test)]
mod tests;

#[cfg(test)]
common::seed_checks!(crate::BilevelUnboundedSmoothBorep);
