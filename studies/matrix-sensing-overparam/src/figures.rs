//! The report's figures, from the runs' thinned curves and summaries.
use crate::runs::{Cell, Role, Run};
use crate::tables::AsymRow;
use crate::{Config, Results, theory};
use common::{Figure, Series};

fn curve(run: &Run) -> (Vec<f64>, Vec<f64>) {
    (run.curve_t.clone(), run.curve_err.clone())
}

fn rep0<'a>(runs: &'a [(Cell, &'a Run)]) -> impl Iterator<Item = &'a (Cell, &'a Run)> {
    runs.iter().filter(|(c, _)| c.rep == 0)
}

/// Symmetric runs on log-log axes, with the population Θ(1/T²) line of every k > r.
pub fn symmetric(cfg: &Config, sym: &[(Cell, &Run)]) -> Figure {
    let (r, eta) = (cfg.r(), cfg.eta);
    let mut f =
        Figure::xy("symmetric_loglog", "Symmetric XXᵀ: k = r linear, k > r Θ(1/T²)", "iteration t", "‖XXᵀ − M*‖²_F")
            .log_x()
            .log_y();
    for (c, run) in rep0(sym) {
        let (x, y) = curve(run);
        f = f.series(Series::line(&format!("k = {}, α = {}", c.k, c.alpha), x, y));
    }
    for &k in &cfg.sym.ks {
        let c0 = theory::factorisation_constant(k, r, eta);
        let ts: Vec<f64> = (0..=40).map(|j| 100.0 * (cfg.sym.steps as f64 / 100.0).powf(j as f64 / 40.0)).collect();
        let ys = ts.iter().map(|t| c0 / (t * t)).collect();
        f = f.series(Series::dashed(&format!("theory (k − r)/(4η²t²), k = {k}"), ts, ys));
    }
    f
}

/// Population runs: t²·error/(k − r) against the constant 1/(4η²).
pub fn factorisation(cfg: &Config, fact: &[(Cell, &Run)]) -> Figure {
    let r = cfg.r();
    let c_pop = 1.0 / (4.0 * cfg.eta * cfg.eta);
    let mut f = Figure::xy(
        "factorisation_T2_error",
        "Population factorisation (A = I): t²·error/(k − r) → 1/(4η²)",
        "iteration t",
        "t² · ‖XXᵀ − M*‖² / (k − r)",
    )
    .log_x();
    for (c, run) in rep0(fact) {
        let kr = (c.k - r) as f64;
        let (x, e) = curve(run);
        let y = x.iter().zip(&e).map(|(t, e)| t * t * e / kr).collect();
        f = f.series(Series::line(&format!("k − r = {}", c.k - r), x, y));
    }
    f.series(Series::hline("theory 1/(4η²)", c_pop, 1.0, cfg.fact.steps as f64))
}

/// T²·error at T against the number of redundant directions, sensing and population.
pub fn t2_vs_redundancy(cfg: &Config, sym: &[(Cell, &Run)], fact: &[(Cell, &Run)]) -> Figure {
    let r = cfg.r();
    let c_pop = 1.0 / (4.0 * cfg.eta * cfg.eta);
    let points = |v: &[(Cell, &Run)]| -> (Vec<f64>, Vec<f64>) {
        v.iter()
            .filter(|(c, _)| c.k > r)
            .map(|(c, run)| ((c.k - r) as f64, (run.steps as f64).powi(2) * run.final_error))
            .unzip()
    };
    let kmax = cfg.sym.ks.iter().chain(&cfg.fact.ks).max().map_or(1, |k| k - r) as f64;
    let (sx, sy) = points(sym);
    let (fx, fy) = points(fact);
    Figure::xy("t2_error_vs_redundancy", "T²·error at T vs k − r", "k − r", "T² · error at T")
        .series(Series::line("theory (k − r)/(4η²)", vec![0.0, kmax], vec![0.0, kmax * c_pop]))
        .series(Series::markers("Gaussian sensing", sx, sy))
        .series(Series::markers("population (A = I)", fx, fy))
}

/// Linear rate against α (replicate 0): the theory band as lines, the runs as markers.
pub fn rate_vs_alpha(cfg: &Config, res: &Results, rows: &[AsymRow], exact_rates: &[(f64, f64)]) -> Figure {
    let (r, k) = (cfg.r(), cfg.asym.k);
    let mut rows0: Vec<&AsymRow> = rows.iter().filter(|w| w.rep == 0 && w.k == k).collect();
    rows0.sort_by(|x, y| x.alpha.total_cmp(&y.alpha));
    let col = |f: fn(&AsymRow) -> f64| rows0.iter().map(|w| f(w)).collect::<Vec<f64>>();
    let (mx, my): (Vec<f64>, Vec<f64>) =
        res.of(|c| c.role == Role::OneStep && c.rep == 0).iter().map(|(c, run)| (c.alpha, run.rate)).unzip();
    let (ex, ey): (Vec<f64>, Vec<f64>) = exact_rates.iter().filter(|p| p.1.is_finite()).copied().unzip();
    let alpha = col(|w| w.alpha);
    // The theory band only over the α the claim checks it on (small α); beyond, it does not hold.
    let held: Vec<&&AsymRow> = rows0.iter().filter(|w| cfg.asym.alphas.contains(&w.alpha)).collect();
    let (ta, tlo, thi): (Vec<f64>, Vec<f64>, Vec<f64>) = (
        held.iter().map(|w| w.alpha).collect(),
        held.iter().map(|w| w.theory_lo).collect(),
        held.iter().map(|w| w.theory_hi).collect(),
    );
    Figure::xy(
        "rate_vs_alpha",
        "Linear rate vs initialisation scale α (band: theory from F0, G0, where it applies; markers: GD)",
        "α",
        "rate  −d ln(error)/dt",
    )
    .log_x()
    .log_y()
    .series(
        Series::reference(&format!("theory 2η·[λ_1, λ_{}](F0ᵀF0 − G0ᵀG0)", r + 1), ta, tlo.clone()).with_band(tlo, thi),
    )
    .series(Series::markers(&format!("GD, Gaussian sensing, k = {k}"), alpha.clone(), col(|w| w.rate_sensing)))
    .series(Series::markers(&format!("GD, population (A = I), k = {k}"), alpha, col(|w| w.rate_population)))
    .series(Series::markers("GD + one-step rebalancing (sensing)", mx, my))
    .series(Series::markers(&format!("GD, k = r = {r} (sensing)"), ex, ey))
}

/// The asymmetric error curves (replicate 0), k > r over α and k = r.
pub fn asymmetric(cfg: &Config, sweep: &[(Cell, &Run)], exact: &[(Cell, &Run)]) -> Figure {
    let (r, k) = (cfg.r(), cfg.asym.k);
    let mut f = Figure::xy(
        "asymmetric_loss",
        &format!("Asymmetric FGᵀ (Gaussian sensing): k = {k} linear with an α-dependent rate; k = r"),
        "iteration t",
        "‖FGᵀ − M*‖²_F",
    )
    .log_y();
    for (c, run) in rep0(sweep) {
        let (x, y) = curve(run);
        f = f.series(Series::line(&format!("k = {k}, α = {}", c.alpha), x, y));
    }
    for (c, run) in rep0(exact) {
        let (x, y) = curve(run);
        f = f.series(Series::dashed(&format!("k = r = {r}, α = {}", c.alpha), x, y));
    }
    f
}

/// Balanced and imbalanced FGᵀ, with XXᵀ at the same k and α.
pub fn balance(cfg: &Config, bal: &[(Cell, &Run)], imb: &[(Cell, &Run)], sym: &[(Cell, &Run)]) -> Figure {
    let b = &cfg.balance;
    let mut f = Figure::xy(
        "balance",
        &format!("Curse of symmetry: k = {}, α = {}", b.k, b.alpha),
        "iteration t",
        "error to M*",
    )
    .log_x()
    .log_y();
    for (label, v) in [("FGᵀ, F0 = G0 (balanced)", bal), ("FGᵀ, F0 ≠ G0 (imbalanced)", imb)] {
        if let Some((_, run)) = rep0(v).next() {
            let (x, y) = curve(run);
            f = f.series(Series::line(label, x, y));
        }
    }
    if let Some((_, run)) = rep0(sym).find(|(c, _)| c.k == b.k && c.alpha == b.alpha) {
        let (x, y) = curve(run);
        f = f.series(Series::dashed("XXᵀ (symmetric operator)", x, y));
    }
    f
}

/// The modified runs against plain GD from the same initialisation (replicate 0).
pub fn one_step(mods: &[(Cell, &Run)], sweep: &[(Cell, &Run)]) -> Figure {
    let mut f = Figure::xy(
        "one_step_modification",
        "One-step rebalancing (derived analogue of Sec. 5) vs plain GD, Gaussian sensing",
        "iteration t",
        "‖FGᵀ − M*‖²_F",
    )
    .log_y();
    for (c, run) in rep0(mods) {
        let (x, y) = curve(run);
        f = f.series(Series::line(&format!("modified, α = {}", c.alpha), x, y));
        if let Some((_, plain)) = rep0(sweep).find(|(p, _)| p.alpha == c.alpha) {
            let (x, y): (Vec<f64>, Vec<f64>) =
                plain.curve_t.iter().zip(&plain.curve_err).filter(|(t, _)| **t <= run.steps as f64).unzip();
            f = f.series(Series::dashed(&format!("plain GD, α = {}", c.alpha), x, y));
        }
    }
    f
}

/// Noisy measurements (replicate 0).
pub fn noisy(cfg: &Config, res: &Results) -> Figure {
    let mut f = Figure::xy(
        "noisy",
        &format!("Noisy measurements (σ = {}): error to M*", cfg.noise.std),
        "iteration t",
        "error to M*",
    )
    .log_x()
    .log_y();
    for (c, run) in res.of(|c| c.rep == 0 && matches!(c.role, Role::NoisySym | Role::NoisyAsym)) {
        let kind = if c.role == Role::NoisySym { "XXᵀ" } else { "FGᵀ" };
        let (x, y) = curve(run);
        f = f.series(Series::line(&format!("{kind}, k = {}", c.k), x, y));
    }
    f
}
