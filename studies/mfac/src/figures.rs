//! The report's figures: cost against d and m (with slope guides through a middle point), the
//! exactness against the damping, accuracy against sparsity, and the training curves at the tuned
//! learning rates.
use crate::compare::Comparison;
use crate::exact::ExactRow;
use crate::prune::{METHODS, Method, PruneSeed};
use crate::timing::{Scaling, Stat, TimingRow};
use crate::{Config, Results};
use common::report::fmt_num;
use common::{Figure, Series};

/// `y0 (x / x0)^p` at every x: a slope guide.
fn guide(x: &[f64], x0: f64, y0: f64, p: f64) -> Vec<f64> {
    x.iter().map(|&v| y0 * (v / x0).powf(p)).collect()
}

fn medians(rows: &[TimingRow], f: fn(&TimingRow) -> &Stat) -> Vec<f64> {
    rows.iter().map(|r| f(r).median).collect()
}

/// The band of an operation: minimum and maximum over the repeats.
fn band(rows: &[TimingRow], f: fn(&TimingRow) -> &Stat) -> (Vec<f64>, Vec<f64>) {
    (
        rows.iter().map(|r| f(r).min).collect(),
        rows.iter().map(|r| f(r).samples.iter().copied().fold(0.0, f64::max)).collect(),
    )
}

/// The four M-FAC operations of a sweep against `x`.
fn operations(mut fig: Figure, rows: &[TimingRow], x: &[f64]) -> Figure {
    let (lo, hi) = band(rows, |r| &r.ihvp);
    fig = fig
        .series(
            Series::line_markers("dynamic IHVP (median, band min-max)", x.to_vec(), medians(rows, |r| &r.ihvp))
                .with_band(lo, hi),
        )
        .series(Series::line_markers("dynamic update", x.to_vec(), medians(rows, |r| &r.update)))
        .series(Series::line_markers("static IHVP", x.to_vec(), medians(rows, |r| &r.static_ihvp)))
        .series(Series::line_markers("static setup", x.to_vec(), rows.iter().map(|r| r.static_setup).collect()));
    fig
}

/// Cost against d, with the dense alternative.
pub fn time_vs_d(cfg: &Config, s: &Scaling) -> Figure {
    let rows = &s.d_sweep;
    let xs: Vec<f64> = rows.iter().map(|r| r.d as f64).collect();
    let ihvp = medians(rows, |r| &r.ihvp);
    let k = rows.len() / 2;
    let xdn: Vec<f64> = s.dense.iter().map(|p| p.d as f64).collect();
    let ydn: Vec<f64> = s.dense.iter().map(|p| p.time.median).collect();
    let kd = s.dense.len() / 2;
    let fig = Figure::xy("time_vs_d", &format!("Cost vs d (m = {})", cfg.timing_m), "d", "seconds").log_x().log_y();
    operations(fig, rows, &xs)
        .series(Series::line_markers(&format!("dense Cholesky solve (m = {})", cfg.dense_m), xdn.clone(), ydn.clone()))
        .series(Series::dashed("slope 1", xs.clone(), guide(&xs, xs[k], ihvp[k], 1.0)))
        .series(Series::dashed("slope 3", xdn.clone(), guide(&xdn, xdn[kd], ydn[kd], 3.0)))
}

/// Cost against m.
pub fn time_vs_m(cfg: &Config, s: &Scaling) -> Figure {
    let rows = &s.m_sweep;
    let xm: Vec<f64> = rows.iter().map(|r| r.m as f64).collect();
    let ihvp = medians(rows, |r| &r.ihvp);
    let km = rows.len() / 2;
    let fig = Figure::xy("time_vs_m", &format!("Cost vs m (d = {})", cfg.timing_d), "m", "seconds").log_x().log_y();
    operations(fig, rows, &xm)
        .series(Series::dashed("slope 1", xm.clone(), guide(&xm, xm[km], ihvp[km], 1.0)))
        .series(Series::dashed("slope 2", xm.clone(), guide(&xm, xm[km], rows[km].static_setup, 2.0)))
}

/// IHVP error against the damping, per algorithm, with κ(F)·ε.
pub fn exactness(cfg: &Config, rows: &[ExactRow]) -> Figure {
    let mut fig =
        Figure::xy("exactness", "IHVP error vs the dense Cholesky solve", "damping λ", "rel. error").log_x().log_y();
    for alg in ["dynamic", "static", "hinv_slow"] {
        let pts: Vec<(f64, f64)> = cfg
            .exact_damps
            .iter()
            .map(|&l| {
                let sel = rows.iter().filter(|r| r.algorithm == alg && r.vector != "diag" && r.damp == l);
                (l, sel.map(|r| r.rel_err).fold(0.0, f64::max))
            })
            .filter(|p| p.1 > 0.0)
            .collect();
        if !pts.is_empty() {
            fig = fig.series(Series::line_markers(
                alg,
                pts.iter().map(|p| p.0).collect(),
                pts.iter().map(|p| p.1).collect(),
            ));
        }
    }
    let ke: Vec<f64> =
        cfg.exact_damps.iter().map(|&l| rows.iter().find(|r| r.damp == l).map_or(f64::NAN, |r| r.kappa_eps)).collect();
    fig.series(Series::dashed("κ(F)·ε", cfg.exact_damps.clone(), ke))
}

/// Test accuracy against sparsity per method: mean over seeds, band min-max.
pub fn accuracy_vs_sparsity(cfg: &Config, res: &[PruneSeed]) -> Figure {
    let mut fig = Figure::xy("accuracy_vs_sparsity", "One-shot pruning, MLP on digits", "sparsity", "test accuracy");
    for m in METHODS {
        let per: Vec<Vec<f64>> = cfg.sparsities.iter().map(|&l| res.iter().map(|r| r.acc(m, l)).collect()).collect();
        let mean: Vec<f64> = per.iter().map(|v| v.iter().sum::<f64>() / v.len() as f64).collect();
        let lo: Vec<f64> = per.iter().map(|v| v.iter().copied().fold(f64::INFINITY, f64::min)).collect();
        let hi: Vec<f64> = per.iter().map(|v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
        let label = match m {
            Method::Magnitude => "magnitude",
            Method::Mfac => "M-FAC OBS (F re-estimated at each step)",
            Method::MfacOneStep => "M-FAC OBS (one F, one step per level)",
        };
        fig = fig.series(Series::line_markers(label, cfg.sparsities.clone(), mean).with_band(lo, hi));
    }
    fig
}

/// Training loss at each optimizer's tuned learning rate (median over seeds), and the target.
pub fn loss_vs_steps(cfg: &Config, r: &Results, cmp: &Comparison) -> Figure {
    let mut fig = Figure::xy(
        "loss_vs_steps",
        "Training loss at the tuned step size (median over seeds)",
        "step",
        "training loss",
    )
    .log_y();
    for b in &cmp.tuned {
        let rs: Vec<_> = r.optim.iter().filter(|o| o.cell.opt == b.kind && o.cell.lr == b.lr).map(|o| &o.run).collect();
        let n = rs.iter().map(|r| r.steps.len()).min().unwrap_or(0);
        let x: Vec<f64> = (0..n).map(|i| rs[0].steps[i] as f64).collect();
        let y: Vec<f64> =
            (0..n).map(|i| common::stats::median(&rs.iter().map(|r| r.loss[i]).collect::<Vec<_>>())).collect();
        fig = fig.series(Series::line(&format!("{} lr {}", b.kind.label(), fmt_num(b.lr)), x, y));
    }
    fig.series(Series::hline("target", cfg.opt_target_loss, 0.0, cmp.horizon as f64))
}
