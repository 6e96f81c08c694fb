//! The report's figures: scree plots and SLQ densities per k and per width, the outlier count
//! against k, bulk edge and outliers against the parameter count, the LB → SB segment.
use crate::sim::{LbsbResult, SpecResult};
use crate::{Config, find};
use common::linalg::slq_density;
use common::{Figure, Series};

/// Top 2k+2 Hessian eigenvalues of every k at rep 0.
pub fn scree(cfg: &Config, ksweep: &[&SpecResult]) -> Figure {
    let mut f = Figure::xy(
        "scree_k",
        &format!("Top 2k+2 Hessian eigenvalues (h = {}, rep 0)", cfg.h_main),
        "index",
        "eigenvalue",
    )
    .log_y();
    for r in ksweep.iter().filter(|r| r.rep == 0) {
        let x = (1..=r.top.len()).map(|i| i as f64).collect();
        f = f.series(Series::line_markers(&format!("k = {}", r.k), x, r.top.iter().map(|v| v.max(1e-8)).collect()));
    }
    f
}

/// Gaussian-smoothed SLQ densities of the given cells on one grid.
fn density(name: &str, title: &str, rs: Vec<(&SpecResult, String)>) -> Figure {
    let lmax = rs.iter().map(|(r, _)| r.top[0]).fold(0.0, f64::max);
    let lmin = rs.iter().flat_map(|(r, _)| r.slq.iter().flat_map(|(n, _)| n.iter().cloned())).fold(0.0, f64::min);
    let grid: Vec<f64> = (0..400).map(|i| lmin - 0.02 * lmax + (lmax * 1.04 - lmin) * i as f64 / 399.0).collect();
    let sigma = 0.005 * lmax;
    let mut f = Figure::xy(name, title, "eigenvalue", "density (log)").log_y();
    if !(sigma > 0.0 && sigma.is_finite()) {
        return f; // no positive eigenvalue: nothing to smooth on
    }
    for (r, label) in rs {
        let dens = slq_density(&r.slq, &grid, sigma);
        f = f.series(Series::line(&label, grid.clone(), dens.iter().map(|v| v.max(1e-6)).collect()));
    }
    f
}

/// Densities of the k sweep (rep 0).
pub fn density_k(cfg: &Config, ksweep: &[&SpecResult]) -> Figure {
    let rs = ksweep.iter().filter(|r| r.rep == 0 && !r.slq.is_empty()).map(|r| (*r, format!("k = {}", r.k))).collect();
    density("density_k", &format!("Hessian spectral density (SLQ), h = {}", cfg.h_main), rs)
}

/// Densities of the width sweep (rep 0).
pub fn density_h(cfg: &Config, res: &[SpecResult]) -> Figure {
    let k = cfg.width_k;
    let rs = cfg.widths.iter().map(|&h| (find(res, k, h, 0), format!("h = {h}"))).collect();
    density("density_h", &format!("Hessian spectral density (SLQ), k = {k}"), rs)
}

/// Measured outlier count against k, with the lines k − 1 and k.
pub fn outliers_vs_k(cfg: &Config, ksweep: &[&SpecResult]) -> Figure {
    let ks = || cfg.ks.iter().map(|&k| k as f64);
    Figure::xy("outliers_vs_k", &format!("Outlier count vs classes (h = {})", cfg.h_main), "k", "outliers")
        .series(Series::markers(
            "measured (largest gap)",
            ksweep.iter().map(|r| r.k as f64).collect(),
            ksweep.iter().map(|r| r.gap().0 as f64).collect(),
        ))
        .series(Series::line("k − 1", ks().collect(), ks().map(|k| k - 1.0).collect()))
        .series(Series::dashed("k", ks().collect(), ks().collect()))
}

/// λ_1, λ_(k-1) and λ_k of the width sweep against the parameter count.
pub fn bulk_vs_params(cfg: &Config, wsweep: &[&SpecResult]) -> Figure {
    let k = cfg.width_k;
    let px: Vec<f64> = wsweep.iter().map(|r| r.params as f64).collect();
    Figure::xy(
        "bulk_vs_params",
        &format!("Bulk edge and outliers vs parameter count (k = {k})"),
        "parameters",
        "eigenvalue",
    )
    .log_x()
    .log_y()
    .series(Series::markers("λ_1 (top outlier)", px.clone(), wsweep.iter().map(|r| r.top[0]).collect()))
    .series(Series::markers("λ_(k-1) (last outlier)", px.clone(), wsweep.iter().map(|r| r.top[k - 2]).collect()))
    .series(Series::markers("λ_k (bulk edge)", px, wsweep.iter().map(|r| r.bulk_edge()).collect()))
}

/// Train (solid) and test (dashed) loss along the segment θ_LB → θ_SB.
pub fn interpolation(lbsb: &[LbsbResult]) -> Figure {
    let mut f = Figure::xy("interpolation", "Training loss on the segment θ_LB → θ_SB", "t", "loss").log_y();
    for r in lbsb {
        f = f
            .series(Series::line(&format!("train, rep {}", r.rep), r.t.clone(), r.train_loss.clone()))
            .series(Series::dashed(&format!("test, rep {}", r.rep), r.t.clone(), r.test_loss.clone()));
    }
    f
}
