//! The figures, mirroring the paper's: strength against deviation angle with the 1/cos θ curve;
//! θ and accuracy against λ; the SVM normal as an 8×8 image at both ends of the λ path.

use crate::{Config, RegSummary, Results, TiltSummary};
use common::{Figure, Series};

/// Every figure of the report, in order.
pub fn all(cfg: &Config, r: &Results, tilt: &[TiltSummary], reg: &[RegSummary]) -> Vec<Figure> {
    let mut v = vec![strength_vs_angle(r, tilt), angle_vs_lambda(reg), distance_vs_lambda(reg)];
    v.push(accuracy_vs_lambda(r, reg));
    v.push(tilt_accuracy(tilt));
    if let Some(s) = r.splits.first() {
        let lo = cfg.lambdas.first().copied().unwrap_or(f64::NAN);
        let hi = cfg.lambdas.last().copied().unwrap_or(f64::NAN);
        v.push(
            Figure::heatmap(
                "w_lambda_min",
                &format!("SVM normal ŵ (pixels) at λ = {} (split 0)", common::report::fmt_num(lo)),
                image(&s.w_pix_min),
            )
            .z_label("ŵ weight of the pixel"),
        );
        v.push(
            Figure::heatmap(
                "w_lambda_max",
                &format!("SVM normal ŵ (pixels) at λ = {} (split 0)", common::report::fmt_num(hi)),
                image(&s.w_pix_max),
            )
            .z_label("ŵ weight of the pixel"),
        );
    }
    v
}

fn image(w: &[f64]) -> Vec<Vec<f64>> {
    w.chunks(8).map(<[f64]>::to_vec).collect()
}

/// The strength against θ, drawn as its inverse (the relative adversarial distance
/// mean d / mean d_NC = 1/S) on linear axes: the tilted classifiers, every SVM fit, and cos θ.
fn strength_vs_angle(r: &Results, tilt: &[TiltSummary]) -> Figure {
    let th = common::stats::linspace(0.0, 90.0, 181);
    let cos: Vec<f64> = th.iter().map(|t| t.to_radians().cos()).collect();
    let exact: Vec<&TiltSummary> = tilt.iter().filter(|t| t.variant == "exact").collect();
    let (sx, sy): (Vec<f64>, Vec<f64>) =
        r.splits.iter().flat_map(|s| s.svm.iter().map(|x| (x.theta_deg, 1.0 / x.s_mean))).unzip();
    Figure::xy(
        "strength_vs_angle",
        "Adversarial distance (1/strength) against deviation angle",
        "deviation angle θ from ŵ_NC (degrees)",
        "1/S = mean d / mean d_NC (test points)",
    )
    .series(Series::dashed("theory cos θ (S = 1/cos θ)", th, cos))
    .series(Series::markers(
        "tilted NC (exact variant)",
        exact.iter().map(|t| t.theta_deg).collect(),
        exact.iter().map(|t| 1.0 / t.s_mean).collect(),
    ))
    .series(Series::markers("SVM, every λ and split", sx, sy))
}

/// θ(λ): mean over splits with the min-max band.
fn angle_vs_lambda(reg: &[RegSummary]) -> Figure {
    let x: Vec<f64> = reg.iter().map(|g| g.lambda).collect();
    Figure::xy("angle_vs_lambda", "Deviation angle of the SVM against regularisation", "λ", "θ (degrees)")
        .log_x()
        .series(
            Series::line_markers("mean over splits (band: min-max)", x, reg.iter().map(|g| g.theta_deg).collect())
                .with_band(reg.iter().map(|g| g.theta_min).collect(), reg.iter().map(|g| g.theta_max).collect()),
        )
}

/// Strength against λ, next to 1/cos θ(λ).
fn distance_vs_lambda(reg: &[RegSummary]) -> Figure {
    let x: Vec<f64> = reg.iter().map(|g| g.lambda).collect();
    Figure::xy("strength_vs_lambda", "Adversarial strength of the SVM against regularisation", "λ", "strength")
        .log_x()
        .series(Series::line_markers("S = mean d_NC / mean d_λ", x.clone(), reg.iter().map(|g| g.s_mean).collect()))
        .series(Series::dashed("1/cos θ(λ)", x.clone(), reg.iter().map(|g| g.inv_cos).collect()))
        .series(Series::line_markers("median of d_NC(x)/d_λ(x)", x, reg.iter().map(|g| g.s_emp).collect()))
}

/// Train and test accuracy against λ, with the NC classifier's test accuracy.
fn accuracy_vs_lambda(r: &Results, reg: &[RegSummary]) -> Figure {
    let x: Vec<f64> = reg.iter().map(|g| g.lambda).collect();
    let nc = common::stats::mean(&r.splits.iter().map(|s| s.nc_test_acc).collect::<Vec<_>>());
    let (x0, x1) = (x.first().copied().unwrap_or(1.0), x.last().copied().unwrap_or(1.0));
    Figure::xy("accuracy_vs_lambda", "Accuracy of the SVM against regularisation", "λ", "accuracy (mean over splits)")
        .log_x()
        .series(Series::line_markers("train", x.clone(), reg.iter().map(|g| g.train_acc).collect()))
        .series(Series::line_markers("test", x, reg.iter().map(|g| g.test_acc).collect()))
        .series(Series::hline("NC classifier, test", nc, x0, x1))
}

/// Test accuracy of the tilted classifier against θ, both variants.
fn tilt_accuracy(tilt: &[TiltSummary]) -> Figure {
    let mut f = Figure::xy(
        "tilt_accuracy",
        "Test accuracy of the tilted NC classifier",
        "tilt angle θ (degrees)",
        "test accuracy (mean over splits)",
    );
    for (v, label) in [("exact", "flat axis with zero variance"), ("noisy", "flat axis with variance σ_flat²")] {
        let rows: Vec<&TiltSummary> = tilt.iter().filter(|t| t.variant == v).collect();
        f = f.series(Series::line_markers(
            label,
            rows.iter().map(|t| t.theta_deg).collect(),
            rows.iter().map(|t| t.acc).collect(),
        ));
    }
    f
}
