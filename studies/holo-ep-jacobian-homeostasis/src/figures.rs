//! The figures: error vs |β| per N (slopes in the legend), error vs N at fixed |β|, cos(EP, BP) and
//! accuracy vs angle (Fig. 3), asymmetry / cosine / accuracy along training (Fig. 4a–d).
use crate::{Config, Results, Summary};
use common::report::fmt_num;
use common::{Figure, Outcome, Series};

pub(crate) fn all(cfg: &Config, r: &Results, s: &Summary, out: &mut Outcome) {
    // Error vs |β|.
    let mut fig =
        Figure::xy("nudge_error", "hEP estimate of dr*/dβ: relative error vs nudge size", "|β|", "relative error")
            .log_x()
            .log_y();
    for (ai, &alpha) in [0.0, 90.0].iter().enumerate() {
        for (slot, &np) in cfg.phases.iter().enumerate() {
            let pts: Vec<_> = s.means.iter().filter(|m| m.alpha == alpha && m.n_phases == np && m.err > 0.0).collect();
            let slope = s.slopes.iter().find(|f| f.alpha == alpha && f.n_phases == np).map_or(f64::NAN, |f| f.slope);
            let label = format!("N={np}, α={alpha}° (slope {})", fmt_num(slope));
            let (x, y) = (pts.iter().map(|m| m.beta).collect(), pts.iter().map(|m| m.err).collect());
            let series = if ai == 0 { Series::line_markers(&label, x, y) } else { Series::dashed(&label, x, y) };
            fig = fig.series(series.color(slot));
        }
    }
    out.figure(fig.wide());

    // Error vs N at fixed |β|.
    let mut fig = Figure::xy(
        "cauchy_vs_n",
        &format!("Cauchy estimate at fixed |β| = {}: relative error vs N", fmt_num(cfg.sweep_beta)),
        "phases N",
        "relative error",
    )
    .log_y();
    for (slot, &alpha) in [0.0, 90.0].iter().enumerate() {
        let pts: Vec<_> = s.sweep.iter().filter(|m| m.alpha == alpha && m.err > 0.0).collect();
        fig = fig.series(
            Series::line_markers(
                &format!("α = {alpha}°"),
                pts.iter().map(|m| m.n_phases as f64).collect(),
                pts.iter().map(|m| m.err).collect(),
            )
            .color(slot),
        );
    }
    out.figure(fig);

    // Fig. 3: cosine (and accuracy) vs angle.
    let x: Vec<f64> = r.angles.iter().map(|a| a.alpha).collect();
    let fig = Figure::xy(
        "angle_cosine",
        "Alignment of EP with BP vs weight asymmetry (Fig. 3)",
        "rotation angle α (°)",
        "cos(EP, BP)",
    )
    .series(
        Series::line_markers(
            "mean over test inputs (band: min–max)",
            x.clone(),
            r.angles.iter().map(|a| a.cos_mean).collect(),
        )
        .with_band(r.angles.iter().map(|a| a.cos_min).collect(), r.angles.iter().map(|a| a.cos_max).collect()),
    );
    out.figure(fig);
    if r.angles.iter().any(|a| a.acc_ep.is_finite()) {
        let fig = Figure::xy(
            "angle_accuracy",
            "Test accuracy after training vs weight asymmetry (Fig. 3)",
            "rotation angle α (°)",
            "test accuracy",
        )
        .series(
            Series::line_markers("hEP (exact derivative)", x.clone(), r.angles.iter().map(|a| a.acc_ep).collect())
                .color(0),
        )
        .series(Series::line_markers("BP", x, r.angles.iter().map(|a| a.acc_bp).collect()).color(1));
        out.figure(fig);
    }

    // Fig. 4a–d: along training, seeds as bands.
    let arms = [("ep", "hEP, no homeostasis"), ("ep_homeo", "hEP + homeostasis"), ("bp", "BP")];
    type Get = fn(&crate::Epoch) -> f64;
    let panels: [(&str, &str, &str, Get); 3] = [
        ("homeo_asymmetry", "Normalised asymmetry ‖W − Wᵀ‖/‖W + Wᵀ‖ along training (Fig. 4b)", "asymmetry", |e| e.asym),
        ("homeo_cosine", "cos(EP, BP) along training (Fig. 4c)", "cos(EP, BP)", |e| e.cos),
        ("homeo_accuracy", "Test accuracy along training (Fig. 4d)", "test accuracy", |e| e.acc),
    ];
    for (name, title, ylab, get) in panels {
        let mut fig = Figure::xy(name, title, "epoch", ylab);
        for (slot, (arm, label)) in arms.iter().enumerate() {
            let runs: Vec<_> = r.runs.iter().filter(|run| run.arm == *arm).collect();
            let Some(first) = runs.first() else { continue };
            let epochs: Vec<f64> = first.log.iter().map(|e| e.epoch as f64).collect();
            let at = |i: usize| -> Vec<f64> { runs.iter().filter_map(|run| run.log.get(i).map(get)).collect() };
            let mean: Vec<f64> = (0..epochs.len()).map(|i| common::stats::mean(&at(i))).collect();
            let mut series = Series::line_markers(label, epochs.clone(), mean);
            if runs.len() > 1 {
                let lo = (0..epochs.len()).map(|i| at(i).into_iter().fold(f64::INFINITY, f64::min)).collect();
                let hi = (0..epochs.len()).map(|i| at(i).into_iter().fold(f64::NEG_INFINITY, f64::max)).collect();
                series = series.with_band(lo, hi);
            }
            fig = fig.series(series.color(slot));
        }
        out.figure(fig);
    }
}
