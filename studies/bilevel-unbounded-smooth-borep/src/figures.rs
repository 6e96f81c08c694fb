//! The figures: ‖∇Φ‖ and Φ against the iteration per method (draws as bands), iterations to ε
//! against 1/ε.

use crate::{Config, MainRun, Results, StartRow};
use common::report::Style;
use common::report::fmt_num;
use common::{Figure, Series};

/// Median and min–max band over runs at every recorded iteration where at least one run has a
/// finite value below `cap` (a diverged run drops out after its last finite value).
fn band(runs: &[&MainRun], value: impl Fn(&MainRun, usize) -> f64, cap: f64) -> Series {
    let longest = runs.iter().max_by_key(|m| m.trace.ts.len()).map(|m| m.trace.ts.clone()).unwrap_or_default();
    let (mut xs, mut med, mut lo, mut hi) = (vec![], vec![], vec![], vec![]);
    for (i, &t) in longest.iter().enumerate() {
        let mut v: Vec<f64> = runs
            .iter()
            .filter(|m| i < m.trace.ts.len())
            .map(|m| value(m, i))
            .filter(|v| v.is_finite() && *v > 0.0 && *v < cap)
            .collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(f64::total_cmp);
        xs.push(t as f64);
        med.push(v[v.len() / 2]);
        lo.push(v[0]);
        hi.push(v[v.len() - 1]);
    }
    Series::line("", xs, med).with_band(lo, hi)
}

fn arms(cfg: &Config) -> Vec<(&'static str, f64, String)> {
    vec![
        ("borep", cfg.x0_far, format!("BO-REP, x₀ = {}", fmt_num(cfg.x0_far))),
        ("sgd", cfg.x0_far, format!("un-normalized, x₀ = {}", fmt_num(cfg.x0_far))),
        ("sgd", cfg.x0_near, format!("un-normalized, x₀ = {} (control)", fmt_num(cfg.x0_near))),
        ("clip", cfg.x0_far, format!("clipped SGD, x₀ = {}", fmt_num(cfg.x0_far))),
    ]
}

fn with_label(s: Series, label: &str, style: Style) -> Series {
    Series { label: label.into(), style, ..s }
}

fn style_of(meth: &str, x0: f64, cfg: &Config) -> Style {
    match meth {
        "clip" => Style::Dashed,
        "sgd" if x0 == cfg.x0_far => Style::LineMarkers,
        _ => Style::Line,
    }
}

/// All figures.
pub fn all(cfg: &Config, r: &Results, starts: &[StartRow]) -> Vec<Figure> {
    let mut figs = vec![];
    for &sigma in &cfg.sigmas {
        let tag = fmt_num(sigma).replace('.', "p");
        let mut g = Figure::xy(
            &format!("grad_norm_sigma{tag}"),
            &format!("‖∇Φ(x_t)‖ per method, σ = {} (median, band: min–max over draws)", fmt_num(sigma)),
            "iteration t",
            "‖∇Φ(x_t)‖",
        )
        .log_y();
        let mut p = Figure::xy(
            &format!("phi_sigma{tag}"),
            &format!("Φ(x_t), first 100 iterations, σ = {} (the baseline blows up)", fmt_num(sigma)),
            "iteration t",
            "Φ(x_t)",
        )
        .log_y();
        for (meth, x0, label) in arms(cfg) {
            let runs: Vec<&MainRun> =
                r.main.iter().filter(|m| m.method == meth && m.x0 == x0 && m.sigma == sigma).collect();
            if runs.is_empty() {
                continue;
            }
            let st = style_of(meth, x0, cfg);
            g = g.series(with_label(band(&runs, |m, i| m.trace.grad[i], 1e30), &label, st));
            let early: Vec<&MainRun> = runs.to_vec();
            let s = band(&early, |m, i| if m.trace.ts[i] <= 100 { m.trace.phi[i] } else { f64::NAN }, 1e30);
            p = p.series(with_label(s, &label, st));
        }
        g = g.series(Series::hline(&format!("ε = {}", fmt_num(cfg.eps)), cfg.eps, 0.0, cfg.curve_iters as f64));
        figs.push(g);
        figs.push(p);
    }
    for &sigma in &cfg.sigmas {
        let tag = fmt_num(sigma).replace('.', "p");
        let mut f = Figure::xy(
            &format!("start_sweep_sigma{tag}"),
            &format!(
                "Share of runs reaching ‖∇Φ‖ ≤ ε at η = {} against the start x₀, σ = {}",
                fmt_num(cfg.eta),
                fmt_num(sigma)
            ),
            "start x₀ (every coordinate)",
            "share of runs reaching ε",
        );
        for (meth, label) in [("borep", "BO-REP"), ("sgd", "un-normalized step")] {
            let rows: Vec<&StartRow> = starts.iter().filter(|s| s.method == meth && s.sigma == sigma).collect();
            f = f.series(Series::line_markers(
                label,
                rows.iter().map(|s| s.x0).collect(),
                rows.iter().map(|s| s.reached).collect(),
            ));
        }
        // The 1-D overshoot threshold: the first step from x₀ lands beyond −x₀ when ηκ sinh(x₀) > 2x₀.
        let thr = overshoot_threshold(cfg.eta * cfg.kappa);
        f = f.series(Series::dashed("1-D overshoot: ηκ sinh(x₀) = 2x₀", vec![thr, thr], vec![0.0, 1.3]));
        figs.push(f);
    }
    let mut s =
        Figure::xy("eps_scaling", "BO-REP, η = c ε², 1 − β = c' ε²: iterations to ‖∇Φ‖ ≤ ε", "1/ε", "iterations to ε")
            .log_x()
            .log_y();
    let pts: Vec<(f64, f64)> =
        r.scaling.iter().filter_map(|g| g.hit.filter(|&h| h > 0).map(|h| (1.0 / g.eps, h as f64))).collect();
    s = s.series(Series::markers("draws", pts.iter().map(|p| p.0).collect(), pts.iter().map(|p| p.1).collect()));
    let med: Vec<(f64, f64)> = cfg
        .scaling_eps
        .iter()
        .map(|&e| (1.0 / e, crate::median_hits(r.scaling.iter().filter(|g| g.eps == e).map(|g| g.hit))))
        .filter(|p| p.1.is_finite() && p.1 > 0.0)
        .collect();
    s = s.series(Series::line_markers("median", med.iter().map(|p| p.0).collect(), med.iter().map(|p| p.1).collect()));
    if let (Some(first), Some(last)) = (med.first(), med.last()) {
        for (k, label) in [(2.0, "slope 2 (travel time ∝ 1/η)"), (4.0, "slope 4 (Thm 1: ε⁻⁴)")] {
            let y1 = first.1 * (last.0 / first.0).powf(k);
            s = s.series(Series::dashed(label, vec![first.0, last.0], vec![first.1, y1]));
        }
    }
    figs.push(s);
    figs
}

/// The root s > 0 of a·sinh(s) = 2s (a < 2), by bisection: from x₀ = s·1 the first un-normalized
/// step of the cosh part lands at −x₀ (beyond it, the iterate is thrown to ever larger |x|).
pub fn overshoot_threshold(a: f64) -> f64 {
    if a >= 2.0 {
        return 0.0;
    }
    let (mut lo, mut hi) = (1e-9f64, 1.0f64);
    while a * hi.sinh() < 2.0 * hi {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if a * mid.sinh() < 2.0 * mid { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}
