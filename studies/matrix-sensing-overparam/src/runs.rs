//! The grid of GD runs: what each run is for ([`Role`]), its cell, the per-replicate problem
//! instances it shares, the run itself, and its summary ([`Run`]: the numbers the claims need and
//! the curve thinned for the figures).
use crate::gd::{self, Stop, Trace};
use crate::problem::{OpKind, Sensing, psd_target};
use crate::{Config, fit, theory};
use anyhow::Result;
use common::rng::{Seed, gaussian_mat};
use common::stats;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// What a run is for; everything else about it (operator, parameterisation, initialisation,
/// modification, stopping floor) follows from its role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// XXᵀ, symmetric operator (k = r and k > r).
    Sym,
    /// XXᵀ, A = I (population factorisation).
    Fact,
    /// FGᵀ, general operator, F0 ~ α, G0 ~ α/3: the α sweep (k > r) and the k = r runs.
    Asym,
    /// FGᵀ, A = I, same initialisations as `Asym`: the population rate against the theory band.
    AsymPop,
    /// FGᵀ, general operator, G0 = F0.
    Balanced,
    /// The same with F0 ≠ G0 (as `Asym`, run down to the precision floor).
    Imbalanced,
    /// FGᵀ with the one-step modification.
    OneStep,
    /// XXᵀ and FGᵀ on noisy measurements.
    NoisySym,
    NoisyAsym,
}

/// One GD run: a cell of the sweep grid (its JSON is the cache key: keep the fields and order).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Cell {
    pub role: Role,
    pub rep: usize,
    pub k: usize,
    pub alpha: f64,
    pub steps: u64,
}

/// Every run of a configuration, longest first (so that the parallel grid ends together).
pub fn cells(cfg: &Config) -> Vec<Cell> {
    let r = cfg.r();
    let mut cells = vec![];
    let (a, b, o) = (&cfg.asym, &cfg.balance, &cfg.onestep);
    for rep in 0..cfg.reps {
        let mut add = |role, k, alpha, steps| cells.push(Cell { role, rep, k, alpha, steps });
        for &alpha in &cfg.sym.alphas {
            add(Role::Sym, r, alpha, cfg.sym.exact_steps);
            for &k in &cfg.sym.ks {
                add(Role::Sym, k, alpha, cfg.sym.steps);
            }
        }
        for &k in &cfg.fact.ks {
            add(Role::Fact, k, cfg.fact.alpha, cfg.fact.steps);
        }
        for &alpha in a.alphas.iter().chain(&a.extra_alphas) {
            add(Role::Asym, a.k, alpha, a.max_steps);
            add(Role::AsymPop, a.k, alpha, a.max_steps);
        }
        for &alpha in &a.exact_alphas {
            add(Role::Asym, r, alpha, a.exact_steps);
        }
        add(Role::Balanced, b.k, b.alpha, b.steps);
        add(Role::Imbalanced, b.k, b.alpha, b.imbalanced_steps);
        for &alpha in &o.alphas {
            add(Role::OneStep, a.k, alpha, o.max_steps);
        }
        if cfg.noise.std > 0.0 {
            for k in [r, a.k] {
                add(Role::NoisySym, k, cfg.noise.alpha, cfg.noise.steps);
                add(Role::NoisyAsym, k, cfg.noise.alpha, cfg.noise.steps);
            }
        }
    }
    // a rough cost per cell, longest first
    let cost = |c: &Cell| match c.role {
        Role::Fact | Role::AsymPop => 0.0,
        Role::Asym if c.k > r => c.steps as f64 * (a.alphas[0] / c.alpha).min(1.0),
        // it stops at the floor, typically well within the balanced run's T
        Role::Imbalanced => b.steps as f64,
        _ => c.steps as f64,
    };
    cells.sort_by(|x, y| cost(y).total_cmp(&cost(x)));
    cells
}

/// Per-replicate problem instances (built once, shared by the cells).
pub struct Instance {
    pub target: Array2<f64>,
    pub identity: Sensing,
    pub sym: Sensing,
    pub general: Sensing,
    pub sym_noisy: Option<Sensing>,
    pub general_noisy: Option<Sensing>,
}

fn rep_seed(seed: Seed, what: &str, rep: usize) -> Seed {
    seed.child(what).child_idx("rep", rep as u64)
}

/// The unit-scale initial draw shared by every α of a (replicate, family, k): the α sweep changes
/// the scale only. F and G come from different children of the seed tree (one shared stream
/// would make F0 ∝ G0).
fn unit_init(seed: Seed, rep: usize, family: &str, k: usize, n: usize, part: &str) -> Array2<f64> {
    let s = rep_seed(seed, "init", rep).child(family).child_idx("k", k as u64).child(part);
    gaussian_mat(&mut s.rng(), n, k, 1.0)
}

/// F0 = α·Z_F, G0 = (α/3)·Z_G (the paper's scales), or G0 = F0 when `balanced`.
pub fn asym_init(seed: Seed, rep: usize, n: usize, k: usize, alpha: f64, balanced: bool) -> (Array2<f64>, Array2<f64>) {
    let f = unit_init(seed, rep, "asym", k, n, "F") * alpha;
    let g = if balanced { f.clone() } else { unit_init(seed, rep, "asym", k, n, "G") * (alpha / 3.0) };
    (f, g)
}

/// The target and the operators of replicate `rep`.
pub fn build_instance(cfg: &Config, seed: Seed, rep: usize) -> Instance {
    let target = psd_target(cfg.n, &cfg.spectrum, rep_seed(seed, "target", rep));
    // the noisy instances reuse the operator draw (same seed) and add noise to the measurements
    let noisy = |kind: OpKind, what: &str| {
        (cfg.noise.std > 0.0).then(|| Sensing::gaussian(kind, &target, cfg.m, cfg.noise.std, rep_seed(seed, what, rep)))
    };
    Instance {
        identity: Sensing::identity(&target),
        sym: Sensing::gaussian(OpKind::Symmetric, &target, cfg.m, 0.0, rep_seed(seed, "sensing-sym", rep)),
        general: Sensing::gaussian(OpKind::General, &target, cfg.m, 0.0, rep_seed(seed, "sensing-general", rep)),
        sym_noisy: noisy(OpKind::Symmetric, "sensing-sym"),
        general_noisy: noisy(OpKind::General, "sensing-general"),
        target,
    }
}

/// The stopping floor of a run: the α sweep only needs the error down to below its window.
pub fn floor(cfg: &Config, c: &Cell) -> f64 {
    match c.role {
        Role::Asym | Role::AsymPop if c.k > cfg.r() => cfg.floor.max(cfg.asym.window_lo * 1e-2),
        _ => cfg.floor,
    }
}

/// One GD run of cell `c`.
pub fn run_cell(cfg: &Config, seed: Seed, inst: &[Instance], c: &Cell) -> Result<Trace> {
    let i = &inst[c.rep];
    let sensing: &Sensing = match c.role {
        Role::Sym => &i.sym,
        Role::Fact | Role::AsymPop => &i.identity,
        Role::Asym | Role::Balanced | Role::Imbalanced | Role::OneStep => &i.general,
        Role::NoisySym => i.sym_noisy.as_ref().ok_or_else(|| anyhow::anyhow!("noise.std is 0"))?,
        Role::NoisyAsym => i.general_noisy.as_ref().ok_or_else(|| anyhow::anyhow!("noise.std is 0"))?,
    };
    let sched = gd::Schedule { eta: cfg.eta, max_steps: c.steps, floor: floor(cfg, c) };
    Ok(match c.role {
        Role::Sym | Role::Fact | Role::NoisySym => {
            let family = if c.role == Role::Fact { "sym-identity" } else { "sym-symmetric" };
            let x0 = unit_init(seed, c.rep, family, c.k, cfg.n, "X") * c.alpha;
            gd::run_symmetric(sensing, &i.target, x0, sched)
        }
        Role::Asym | Role::AsymPop | Role::Balanced | Role::Imbalanced | Role::OneStep | Role::NoisyAsym => {
            let (f0, g0) = asym_init(seed, c.rep, cfg.n, c.k, c.alpha, c.role == Role::Balanced);
            let modify = (c.role == Role::OneStep).then_some(cfg.onestep.trigger);
            gd::run_asymmetric(sensing, &i.target, f0, g0, sched, modify)
        }
    })
}

/// A run, summarised: every number the claims and tables read, and the thinned curve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// Iterations run, and why the run ended.
    pub steps: u64,
    pub stop: Stop,
    /// The last recorded error (the error at T), and the smallest one.
    #[serde(with = "common::report::json_f64")]
    pub final_error: f64,
    #[serde(with = "common::report::json_f64")]
    pub min_error: f64,
    /// Iteration of the one-step modification, if applied.
    pub modified_at: Option<u64>,
    /// Log-log slope of the error on [slope_from·T, T]; NaN unless the run used its whole budget.
    #[serde(with = "common::report::json_f64")]
    pub slope: f64,
    /// Linear rate −d ln(error)/dt on the asymmetric window; NaN unless the run crossed all of it.
    #[serde(with = "common::report::json_f64")]
    pub rate: f64,
    /// First recorded iteration below the window, when the run got there.
    pub t_exit: Option<u64>,
    /// Population runs (A = I): the largest |t²·error/(k − r)·4η² − 1| over t ∈ [T/2, T] (NaN
    /// when the run stopped early, or for other roles).
    #[serde(with = "common::report::json_f64")]
    pub fact_dev: f64,
    /// The α sweep (k > r): the theory band 2η·[λ_1, λ_{r+1}](F0ᵀF0 − G0ᵀG0) (NaN otherwise).
    #[serde(with = "common::report::json_f64")]
    pub band_lo: f64,
    #[serde(with = "common::report::json_f64")]
    pub band_hi: f64,
    /// The curve for the figures: at most ~300 points geometric in t (slow runs, log-log plots) or
    /// ~400 uniform in t (linear runs).
    pub curve_t: Vec<f64>,
    #[serde(with = "common::report::json_f64::vec")]
    pub curve_err: Vec<f64>,
}

/// The points of a trace kept for a figure: at most ~`max`, geometric in the index (log x) or
/// uniform, without non-positive errors (log y).
fn thin(tr: &Trace, max: usize, log_x: bool) -> (Vec<f64>, Vec<f64>) {
    stats::thin_indices(tr.t.len(), max, log_x)
        .into_iter()
        .filter(|&i| tr.err[i] > 0.0 && !(log_x && tr.t[i] == 0))
        .map(|i| (tr.t[i] as f64, tr.err[i]))
        .unzip()
}

/// The summary of cell `c`'s trace (the initialisation seed only feeds the theory band).
pub fn summarise(cfg: &Config, seed: Seed, c: &Cell, tr: &Trace) -> Run {
    let r = cfg.r();
    let tf = tr.steps as f64;
    let slope = if tr.stop == Stop::MaxSteps {
        fit::loglog_slope(&tr.t, &tr.err, cfg.sym.slope_from * tf, tf).unwrap_or(f64::NAN)
    } else {
        f64::NAN
    };
    let w = fit::window_rate(&tr.t, &tr.err, cfg.asym.window_lo, cfg.asym.window_hi);
    let rate = w.filter(|w| w.t_exit.is_some()).map_or(f64::NAN, |w| w.rate);
    let fact_dev = if c.role != Role::Fact || c.k <= r {
        f64::NAN
    } else {
        let (kr, c_pop) = ((c.k - r) as f64, 1.0 / (4.0 * cfg.eta * cfg.eta));
        let mut dev = if tr.stop == Stop::MaxSteps { 0.0f64 } else { f64::NAN };
        for (&t, &e) in tr.t.iter().zip(&tr.err) {
            if 2 * t >= c.steps {
                dev = dev.max((t as f64 * t as f64 * e / kr / c_pop - 1.0).abs());
            }
        }
        dev
    };
    let (band_lo, band_hi) = if c.role == Role::Asym && c.k > r {
        let (f0, g0) = asym_init(seed, c.rep, cfg.n, c.k, c.alpha, false);
        theory::imbalance_rate_band(&f0, &g0, r, cfg.eta)
    } else {
        (f64::NAN, f64::NAN)
    };
    let linear = matches!(c.role, Role::Asym | Role::AsymPop | Role::OneStep);
    let (curve_t, curve_err) = if linear { thin(tr, 400, false) } else { thin(tr, 300, true) };
    Run {
        steps: tr.steps,
        stop: tr.stop,
        final_error: tr.last(),
        min_error: stats::min(&tr.err),
        modified_at: tr.modified_at,
        slope,
        rate,
        t_exit: w.and_then(|w| w.t_exit),
        fact_dev,
        band_lo,
        band_hi,
        curve_t,
        curve_err,
    }
}
