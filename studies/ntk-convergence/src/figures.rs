//! The report's figures, from `Results` only.
use crate::tables::{Init, Training};
use crate::{Config, Results, TrainRun};
use common::{Figure, Series};

/// Min and max over the runs of each width (a band).
fn range(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// C1: deviation of the kernel at init from Θ_∞ over widths, with the n^(-1/2) reference.
pub fn kernel_error(init: &Init) -> Figure {
    let (widths, fro_v, row_v, fro_m, row_m) = (&init.widths, &init.fro, &init.row, &init.fro_mean, &init.row_mean);
    let (x0, x1) = (widths[0], widths[widths.len() - 1]);
    let anchor = fro_m[0] * x0.sqrt();
    let bands = |v: &[Vec<f64>]| -> (Vec<f64>, Vec<f64>) { v.iter().map(|x| range(x)).unzip() };
    let (flo, fhi) = bands(fro_v);
    let (rlo, rhi) = bands(row_v);
    Figure::xy(
        "kernel_error_vs_width",
        "Empirical NTK at init vs the limit Θ_∞ (band: min-max over seeds)",
        "width n",
        "relative deviation from Θ_∞",
    )
    .log_x()
    .log_y()
    .series(Series::line_markers("‖Θ - Θ_∞‖_F / ‖Θ_∞‖_F", widths.to_vec(), fro_m.to_vec()).with_band(flo, fhi))
    .series(Series::line_markers("row Θ(x0, ·)", widths.to_vec(), row_m.to_vec()).with_band(rlo, rhi))
    .series(Series::dashed("∝ n^(-1/2)", vec![x0, x1], vec![anchor / x0.sqrt(), anchor / x1.sqrt()]))
}

/// Fig. 1 analogue: Θ(x0, x(γ)) at t = 0 and t = T for the smallest and largest training widths.
pub fn ntk_circle(cfg: &Config, r: &Results) -> Figure {
    let t_max = cfg.steps;
    let n = r.gammas.len();
    let mut fig = Figure::xy(
        "ntk_circle",
        &format!("Θ(x0, x(γ)) at init (solid, band: seeds) and after {t_max} steps (dashed)"),
        "γ",
        "Θ(x0, x(γ))",
    )
    .series(Series::line("Θ_∞ (closed form)", r.gammas.clone(), r.theta_inf_x0.clone()));
    for w in [cfg.train_widths[0], cfg.train_widths[cfg.train_widths.len() - 1]] {
        let runs: Vec<&TrainRun> = r.train.iter().filter(|x| x.width == w).collect();
        let avg = |row: fn(&TrainRun) -> &Vec<f64>| -> Vec<f64> {
            (0..n).map(|j| runs.iter().map(|x| row(x)[j]).sum::<f64>() / runs.len() as f64).collect()
        };
        let (lo, hi): (Vec<f64>, Vec<f64>) =
            (0..n).map(|j| range(&runs.iter().map(|x| x.row0[j]).collect::<Vec<_>>())).unzip();
        fig = fig
            .series(Series::line(&format!("n = {w}, t = 0"), r.gammas.clone(), avg(|x| &x.row0)).with_band(lo, hi))
            .series(Series::dashed(&format!("n = {w}, t = {t_max}"), r.gammas.clone(), avg(|x| &x.row_t)));
    }
    fig
}

/// C2, C4: NTK drift and linearisation errors over widths, with n^(-1/2) and n^(-1) references.
pub fn drift_vs_width(cfg: &Config, tr: &Training) -> Figure {
    let (widths, dc_m, ee_m, ei_m) = (&tr.widths, &tr.drift_circle, &tr.err_theta0, &tr.err_theta_inf);
    let t_max = cfg.steps;
    let (w0, w1) = (widths[0], widths[widths.len() - 1]);
    let a_half = dc_m[0] * w0.sqrt();
    let a_one = dc_m[0] * w0;
    Figure::xy("ntk_drift_vs_width", "Change during training vs width", "width n", "relative change")
        .log_x()
        .log_y()
        .series(Series::line_markers(
            &format!("NTK drift ‖Θ_{t_max} - Θ_0‖_F/‖Θ_0‖_F (circle)"),
            widths.to_vec(),
            dc_m.to_vec(),
        ))
        .series(Series::line_markers("max_t ‖f_t - f_lin,t‖/‖f_0 - f*‖ (Θ_0)", widths.to_vec(), ee_m.to_vec()))
        .series(Series::line_markers("max_t ‖f_t - f_lin,t‖/‖f_0 - f*‖ (Θ_∞)", widths.to_vec(), ei_m.to_vec()))
        .series(Series::dashed("∝ n^(-1/2)", vec![w0, w1], vec![a_half / w0.sqrt(), a_half / w1.sqrt()]))
        .series(Series::dashed("∝ n^(-1)", vec![w0, w1], vec![a_one / w0, a_one / w1]))
}

/// Outputs vs time at the largest width (first seed): network vs the closed-form linear ODE.
pub fn outputs_vs_time(cfg: &Config, r: &Results) -> Figure {
    let w1 = cfg.train_widths[cfg.train_widths.len() - 1];
    let ts: Vec<f64> = r.shown_steps.iter().map(|&t| t as f64).collect();
    let mut fig = Figure::xy(
        "outputs_vs_time",
        &format!("Training outputs, width {w1}: network vs f* + (I - ηΘ_∞/P)^t (f_0 - f*)"),
        "GD step t",
        "f_t(x_i)",
    );
    for (i, o) in r.outputs.iter().enumerate() {
        fig = fig
            .series(Series::line(&format!("x_{i} network"), ts.clone(), o.network.clone()))
            .series(Series::dashed(&format!("x_{i} theory"), ts.clone(), o.theory.clone()));
    }
    fig
}

/// The residual along the top eigenvectors of Θ_0 vs t, network and theory (1 - ηλ_k/P)^t.
pub fn residual_modes(cfg: &Config, r: &Results) -> Figure {
    let w1 = cfg.train_widths[cfg.train_widths.len() - 1];
    let seeds = cfg.train_seeds[cfg.train_seeds.len() - 1];
    let ts: Vec<f64> = r.shown_steps.iter().map(|&t| t as f64).collect();
    let mut fig = Figure::xy(
        "residual_modes",
        &format!("Residual along the eigenvectors of Θ_0, width {w1}, {seeds} seeds"),
        "GD step t",
        "|v_kᵀ(f_t - f*)| / |v_kᵀ(f_0 - f*)|",
    )
    .log_y();
    for (i, m) in r.modes.iter().filter(|m| !m.measured.is_empty()).enumerate() {
        // Theory drawn down to 1e-4 only: below, the network's residual sits at the level set by
        // the kernel's drift and the log axis would be all theory.
        let shown = m.theory.iter().take_while(|v| **v >= 1e-4).count();
        fig = fig
            .series(
                Series::line(&format!("mode {} (λ ≈ {:.3})", m.rank, m.lambda_mean), ts.clone(), m.measured.clone())
                    .color(i),
            )
            // Each mode's theory in its mode's colour.
            .series(
                Series::dashed(
                    if i == 0 { "theory (1 − ηλ_k/P)^t, dashed in each mode's colour" } else { "" },
                    ts[..shown].to_vec(),
                    m.theory[..shown].to_vec(),
                )
                .color(i),
            );
    }
    fig
}
