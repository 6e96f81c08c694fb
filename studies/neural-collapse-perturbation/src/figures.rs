//! The figures: NC̃1 along the flows (log y, seeds as bands), the NC̃1-ratio heat map over (β, λ_W),
//! and the perturbation error against ε (log-log) with the slope-2 reference.
use crate::{Config, Results};
use common::report::fmt_num;
use common::{Figure, Series};

/// Every figure of the report, in order.
pub fn all(cfg: &Config, r: &Results) -> Vec<Figure> {
    vec![flows(cfg, r), heatmap(cfg, r), perturbation(cfg, r)]
}

fn band(runs: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let len = runs.iter().map(Vec::len).min().unwrap_or(0);
    let col = |i: usize| runs.iter().map(|r| r[i]).collect::<Vec<f64>>();
    let med = (0..len).map(|i| common::stats::quantile(&col(i), 0.5)).collect();
    let lo = (0..len).map(|i| col(i).into_iter().fold(f64::INFINITY, f64::min)).collect();
    let hi = (0..len).map(|i| col(i).into_iter().fold(f64::NEG_INFINITY, f64::max)).collect();
    (med, lo, hi)
}

/// NC̃1(H_t)/NC̃1(H0) along the central-path flow (β = 0) and the flows with the β term, at the
/// middle λ_W; median over seeds with the min–max band.
fn flows(cfg: &Config, r: &Results) -> Figure {
    let mut ws = cfg.lambda_ws.clone();
    ws.sort_by(f64::total_cmp);
    let w = ws[ws.len() / 2];
    let cells: Vec<&crate::FlowCell> = r.flows.iter().filter(|(c, _)| c.f64("lambda_w") == w).map(|(_, f)| f).collect();
    let mut fig = Figure::xy(
        "nc1_flow",
        &format!("NC̃1 along the flows (λ_W = {}, λ_H = {})", fmt_num(w), fmt_num(cfg.lambda_h)),
        "flow time t",
        "NC̃1(H_t) / NC̃1(H0)",
    )
    .log_y()
    .log_x();
    let mut add = |label: String, pts: Vec<&Vec<crate::model::FlowPoint>>| {
        let t: Vec<f64> = pts[0].iter().skip(1).map(|p| p.t).collect();
        let runs: Vec<Vec<f64>> =
            pts.iter().map(|v| v.iter().skip(1).map(|p| p.nc.tilde / v[0].nc.tilde).collect()).collect();
        let (m, lo, hi) = band(&runs);
        fig = std::mem::replace(&mut fig, Figure::xy("", "", "", ""))
            .series(Series::line(&label, t, m).with_band(lo, hi));
    };
    add("central path (Eq. 4)".into(), cells.iter().map(|f| &f.central.points).collect());
    for (i, b) in cells[0].per_beta.iter().enumerate() {
        add(format!("β = {}", fmt_num(b.beta)), cells.iter().map(|f| &f.per_beta[i].flow.points).collect());
    }
    fig.wide()
}

/// The NC1 reduction `log₁₀(1 − median NC̃1(H_{1/β})/NC̃1(H0))` over seeds (a log scale: the ratios
/// lie between 0.85 and 0.997): rows β (ascending, top to bottom), columns λ_W.
fn heatmap(cfg: &Config, r: &Results) -> Figure {
    let rows = crate::experiment::grid_rows(cfg, &r.flows);
    let mut bs = cfg.betas.clone();
    bs.sort_by(f64::total_cmp);
    let mut ws = cfg.lambda_ws.clone();
    ws.sort_by(f64::total_cmp);
    let values: Vec<Vec<f64>> = bs
        .iter()
        .map(|&b| {
            ws.iter()
                .map(|&w| {
                    rows.iter()
                        .find(|x| x.beta == b && x.lambda_w == w)
                        .map_or(f64::NAN, |x| (1.0 - x.ratio_tilde_median).log10())
                })
                .collect()
        })
        .collect();
    let list = |v: &[f64]| v.iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join(", ");
    let mut fig = Figure::heatmap("nc1_ratio_heatmap", "NC1 reduction by the minimiser of Eq. 2", values)
        .z_label("log₁₀(1 − NC̃1(H_{1/β})/NC̃1(H0)), median over seeds");
    fig.x_label = format!("λ_W (columns: {})", list(&ws));
    fig.y_label = format!("β (rows: {})", list(&bs));
    fig
}

/// ‖H̃* − (H* + F εE)‖/‖H*‖ against ε per (λ_H, λ_W), median over draws with the min–max band,
/// and an ε² reference through the first median point.
fn perturbation(cfg: &Config, r: &Results) -> Figure {
    let mut fig = Figure::xy(
        "perturbation_error",
        &format!("First-order prediction error near collapse (β = {})", fmt_num(cfg.nc_beta)),
        "perturbation size ε",
        "‖H̃* − (H* + F εE)‖ / ‖H*‖",
    )
    .log_x()
    .log_y();
    let mut first: Option<(f64, f64)> = None;
    let mut xs: Vec<f64> = vec![];
    for &lh in &cfg.nc_lambda_hs {
        for &lw in &cfg.nc_lambda_ws {
            let cells: Vec<&crate::NearCell> =
                r.near.iter().filter(|(_, n)| n.lambda_h == lh && n.lambda_w == lw).map(|(_, n)| n).collect();
            if cells.is_empty() {
                continue;
            }
            let runs: Vec<Vec<f64>> = cells.iter().map(|n| n.error.clone()).collect();
            let (m, lo, hi) = band(&runs);
            first.get_or_insert((cells[0].eps[0], m[0]));
            xs.clone_from(&cells[0].eps);
            let label = format!("λ_H = {}, λ_W = {}", fmt_num(lh), fmt_num(lw));
            fig = fig.series(Series::line_markers(&label, cells[0].eps.clone(), m).with_band(lo, hi));
        }
    }
    if let Some((e0, y0)) = first {
        let ys = xs.iter().map(|e| y0 * (e / e0).powi(2)).collect();
        fig = fig.series(Series::reference("slope 2 (∝ ε²)", xs, ys));
    }
    fig
}
