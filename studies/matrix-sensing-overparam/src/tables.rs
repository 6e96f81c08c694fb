//! The report's tables (one row struct each) and its setup note.
use crate::runs::{Cell, Role, Run};
use crate::{AsymConfig, Config, theory};
use common::Table;
use common::report::{fmt_list, fmt_num};
use serde::Serialize;

/// T²·error at the end of a run.
pub fn t2(run: &Run) -> f64 {
    let tf = run.steps as f64;
    tf * tf * run.final_error
}

/// The setting, in one paragraph.
pub fn setup_note(cfg: &Config) -> String {
    format!(
        "Setting: n = {}, r = {} (M* = U diag({}) Uᵀ), m = {}, η = {}; {} replicate(s) (operator, target, \
         initialisations). Error = ‖XXᵀ − M*‖²_F or ‖FGᵀ − M*‖²_F. Symmetric runs: loss ¼‖A(XXᵀ) − y‖² with \
         A_i = (Z_i + Z_iᵀ)/(2√m); asymmetric runs: loss ½‖A(FGᵀ) − y‖² with A_i = Z_i/√m (a general operator also \
         sees the antisymmetric part of FGᵀ); population runs: A = I. Initialisation: X0, F0 with N(0, α²) \
         entries, G0 with N(0, α²/9) entries (the paper's α and α/3). Runs stop at error {} (the α sweep at {}).",
        cfg.n,
        cfg.r(),
        fmt_list(&cfg.spectrum),
        cfg.m,
        cfg.eta,
        cfg.reps,
        fmt_num(cfg.floor),
        fmt_num(cfg.floor.max(cfg.asym.window_lo * 1e-2)),
    )
}

#[derive(Serialize)]
struct SymRow {
    rep: usize,
    k: usize,
    alpha: f64,
    steps: u64,
    final_error: f64,
    loglog_slope: f64,
    #[serde(rename = "T2_error")]
    t2_error: f64,
    #[serde(rename = "T2_error_over_population")]
    t2_over_population: f64,
}

/// Symmetric runs: final error, late slope, T²·error and its ratio to (k − r)/(4η²) (k > r only).
pub fn symmetric(r: usize, eta: f64, sym: &[(Cell, &Run)]) -> Table {
    let rows: Vec<SymRow> = sym
        .iter()
        .map(|(c, run)| {
            let over = c.k > r;
            let nan_unless = |x: f64| if over { x } else { f64::NAN };
            SymRow {
                rep: c.rep,
                k: c.k,
                alpha: c.alpha,
                steps: run.steps,
                final_error: run.final_error,
                loglog_slope: nan_unless(run.slope),
                t2_error: nan_unless(t2(run)),
                t2_over_population: nan_unless(t2(run) / theory::factorisation_constant(c.k, r, eta)),
            }
        })
        .collect();
    Table::from_rows(
        "symmetric",
        "Symmetric XXᵀ, symmetric Gaussian operator: final error, log-log slope on [slope_from·T, T], T²·error \
         and its ratio to the population constant (k − r)/(4η²).",
        &rows,
    )
}

#[derive(Serialize)]
struct FactRow {
    rep: usize,
    k: usize,
    #[serde(rename = "T2_error_per_redundant_dim")]
    t2_per_dim: f64,
    #[serde(rename = "max_rel_dev_T_half_to_T")]
    max_rel_dev: f64,
}

/// Population runs: T²·error/(k − r) and the largest deviation from 1/(4η²) on [T/2, T].
pub fn factorisation(r: usize, fact: &[(Cell, &Run)]) -> Table {
    let rows: Vec<FactRow> = fact
        .iter()
        .map(|(c, run)| FactRow {
            rep: c.rep,
            k: c.k,
            t2_per_dim: (run.steps as f64).powi(2) * run.final_error / (c.k - r) as f64,
            max_rel_dev: run.fact_dev,
        })
        .collect();
    Table::from_rows(
        "factorisation",
        "Population loss (A = I): T²·error/(k − r) at T, and the largest relative deviation from 1/(4η²) on [T/2, T].",
        &rows,
    )
}

/// A row of table `asymmetric` (also the points of figure `rate_vs_alpha`).
#[derive(Clone, Debug, Serialize)]
pub struct AsymRow {
    pub rep: usize,
    pub k: usize,
    pub alpha: f64,
    pub role: String,
    pub rate_sensing: f64,
    pub rate_population: f64,
    pub theory_lo: f64,
    pub theory_hi: f64,
    pub t_exit: i64,
    pub final_error: f64,
}

/// The α sweep (k > r; `fit` or `shown`) and the k = r runs.
pub fn asymmetric_rows(
    a: &AsymConfig,
    sweep: &[(Cell, &Run)],
    exact: &[(Cell, &Run)],
    rate_pop: &dyn Fn(&Cell) -> f64,
) -> Vec<AsymRow> {
    let row = |c: &Cell, run: &Run, role: &str, rate_population: f64| AsymRow {
        rep: c.rep,
        k: c.k,
        alpha: c.alpha,
        role: role.into(),
        rate_sensing: run.rate,
        rate_population,
        theory_lo: run.band_lo,
        theory_hi: run.band_hi,
        t_exit: run.t_exit.map_or(-1, |t| t as i64),
        final_error: run.final_error,
    };
    let fitted = |c: &Cell| if a.alphas.contains(&c.alpha) { "fit" } else { "shown" };
    sweep
        .iter()
        .map(|(c, run)| row(c, run, fitted(c), rate_pop(c)))
        .chain(exact.iter().map(|(c, run)| row(c, run, "k = r", f64::NAN)))
        .collect()
}

/// Table `asymmetric`.
pub fn asymmetric(rows: &[AsymRow]) -> Table {
    Table::from_rows(
        "asymmetric",
        "Asymmetric FGᵀ: linear rate −d ln(error)/dt fitted where the error crosses the window, with Gaussian \
         sensing and with A = I from the same initialisation, the theory band 2η·[λ_1, λ_{r+1}](F0ᵀF0 − G0ᵀG0), \
         and the iteration at which the sensing run left the window (−1: never).",
        rows,
    )
}

#[derive(Serialize)]
struct OneStepRow {
    rep: usize,
    alpha: f64,
    modified_at: i64,
    rate: f64,
    final_error: f64,
}

/// The one-step runs: when the modification applied, the rate after it.
pub fn one_step(mods: &[(Cell, &Run)]) -> Table {
    let rows: Vec<OneStepRow> = mods
        .iter()
        .map(|(c, run)| OneStepRow {
            rep: c.rep,
            alpha: c.alpha,
            modified_at: run.modified_at.map_or(-1, |t| t as i64),
            rate: run.rate,
            final_error: run.final_error,
        })
        .collect();
    Table::from_rows(
        "one_step",
        "One-step rebalancing (F, G) → (F P, G P⁻ᵀ) at the first error below the trigger (FGᵀ unchanged): rate on the \
         same window.",
        &rows,
    )
}

#[derive(Serialize)]
struct NoisyRow {
    parameterisation: &'static str,
    k: usize,
    rep: usize,
    final_error: f64,
    min_error: f64,
}

/// Noisy measurements: final and smallest error.
pub fn noisy(noisy: &[(Cell, &Run)]) -> Table {
    let rows: Vec<NoisyRow> = noisy
        .iter()
        .map(|(c, run)| NoisyRow {
            parameterisation: if c.role == Role::NoisySym { "XXᵀ" } else { "FGᵀ" },
            k: c.k,
            rep: c.rep,
            final_error: run.final_error,
            min_error: run.min_error,
        })
        .collect();
    Table::from_rows(
        "noisy",
        "Noisy measurements: final and smallest error to M* (a statistical floor replaces exact recovery).",
        &rows,
    )
}
