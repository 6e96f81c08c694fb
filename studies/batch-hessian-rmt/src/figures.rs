//! Tables and figures of the report (pure functions of the results).
use crate::kernels::{Curve, curve};
use crate::{Config, Results};
use common::linalg::slq_density;
use common::report::fmt_num;
use common::stats::{loglog_slope, mean_se};
use common::{Figure, Outcome, Series, Table};
use serde::Serialize;

/// One row of `lambda_vs_B`.
#[derive(Serialize)]
struct LambdaRow {
    model: &'static str,
    matrix: &'static str,
    #[serde(rename = "B")]
    b: usize,
    mean: f64,
    se: f64,
    lambda_full: f64,
    #[serde(rename = "fit_c_over_B")]
    fit_c_over_b: f64,
}

/// One row of `fits`.
#[derive(Serialize)]
struct FitRow {
    model: &'static str,
    matrix: &'static str,
    lambda_full: f64,
    slope: f64,
    c: f64,
    min_z: f64,
}

/// One row of `lrmax_vs_B`.
#[derive(Serialize)]
struct LrRow {
    optimizer: String,
    #[serde(rename = "B")]
    b: usize,
    eta_max: f64,
    censored: bool,
}

/// E1: `λ₁` vs B (tables `lambda_vs_B`, `fits`, one figure per curve) and the SLQ densities.
pub fn spectra(out: &mut Outcome, cfg: &Config, r: &Results, curves: &[Curve]) {
    let rows: Vec<LambdaRow> = curves
        .iter()
        .flat_map(|c| {
            (0..c.bs.len()).map(move |i| LambdaRow {
                model: c.model,
                matrix: c.matrix,
                b: c.bs[i],
                mean: c.mean[i],
                se: c.se[i],
                lambda_full: c.full,
                fit_c_over_b: c.full + c.c / c.bs[i] as f64,
            })
        })
        .collect();
    out.table(Table::from_rows(
        "lambda_vs_B",
        "Mean and standard error of λ₁ of the batch matrix over the batches, the full-data λ₁, and the fit λ₁ + c/B.",
        &rows,
    ));
    let fits: Vec<FitRow> = curves
        .iter()
        .map(|c| FitRow {
            model: c.model,
            matrix: c.matrix,
            lambda_full: c.full,
            slope: c.slope,
            c: c.c,
            min_z: c.min_z,
        })
        .collect();
    out.table(Table::from_rows(
        "fits",
        "Fits over the fit range of B: slope of log(E λ₁(H_B) − λ₁(H)) vs log B (RMT: −1) and c of λ₁ + c/B.",
        &fits,
    ));
    for c in curves {
        let x: Vec<f64> = c.bs.iter().map(|&b| b as f64).collect();
        let x0 = x[0];
        let x1 = *x.last().unwrap_or(&x0);
        let lo: Vec<f64> = (0..x.len()).map(|i| c.mean[i] - 2.0 * c.se[i]).collect();
        let hi: Vec<f64> = (0..x.len()).map(|i| c.mean[i] + 2.0 * c.se[i]).collect();
        let fitted: Vec<f64> = x.iter().map(|b| c.full + c.c / b).collect();
        out.figure(
            Figure::xy(
                &format!("lambda_vs_B_{}_{}", c.model, c.matrix.to_lowercase()),
                &format!("λ₁ of the batch {} vs B ({})", c.matrix, c.model),
                "batch size B",
                "λ₁",
            )
            .log_x()
            .log_y()
            .series(Series::markers("E λ₁(batch) ± 2 s.e.", x.clone(), c.mean.clone()).with_band(lo, hi))
            .series(Series::line(&format!("fit λ₁(full) + c/B, c = {}", fmt_num(c.c)), x.clone(), fitted))
            .series(Series::hline("λ₁(full data)", c.full, x0, x1)),
        );
    }

    // SLQ densities, Gaussian-smoothed on a common grid.
    let quad: Vec<Vec<(Vec<f64>, Vec<f64>)>> =
        r.slq.iter().map(|s| s.probes.iter().map(|q| (q.nodes.clone(), q.weights.clone())).collect()).collect();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (nodes, _) in quad.iter().flatten() {
        for &t in nodes {
            lo = lo.min(t);
            hi = hi.max(t);
        }
    }
    let span = (hi - lo).max(1e-12);
    let sigma = span / 100.0;
    let grid: Vec<f64> = (0..=300).map(|i| lo - 0.05 * span + 1.1 * span * i as f64 / 300.0).collect();
    let mut fig = Figure::xy(
        "slq_densities",
        "SLQ spectral density of the MLP Hessian, batch vs full",
        "eigenvalue",
        "density (log)",
    )
    .log_y();
    let mut dens = Table::new("slq_densities", "Gaussian-smoothed SLQ densities of the MLP Hessian (σ = span/100).")
        .f64("lambda", grid.clone());
    for (s, q) in r.slq.iter().zip(&quad) {
        let phi: Vec<f64> = slq_density(q, &grid, sigma).into_iter().map(|v| v.max(1e-8)).collect();
        let full = s.b >= cfg.mlp.n;
        let label = if full { format!("full (n = {})", s.b) } else { format!("B = {}", s.b) };
        fig = fig.series(Series::line(&label, grid.clone(), phi.clone()));
        dens = dens.f64(&if full { "full".to_string() } else { format!("B{}", s.b) }, phi);
    }
    out.figure(fig);
    out.table(dens);
}

/// E2 in the numbers the claims and the figure use.
pub struct LrSummary {
    pub sgd_b: Vec<f64>,
    pub sgd_eta: Vec<f64>,
    pub adam_b: Vec<f64>,
    pub adam_eta: Vec<f64>,
    /// SGD `η_max` at B = 1 (NaN if not run).
    pub eta_1: f64,
    /// The largest SGD batch size, and its `η_max`.
    pub b_big: f64,
    pub eta_big: f64,
    /// Adam's log-log slope over B ≤ 64 (NaN with fewer than two points).
    pub adam_slope: f64,
}

impl LrSummary {
    pub fn of(r: &Results) -> LrSummary {
        let series_of = |opt: &str| -> (Vec<f64>, Vec<f64>) {
            r.lr.at("opt", opt).map(|(c, res)| (c.usize("b") as f64, res.eta_max)).unzip()
        };
        let (sgd_b, sgd_eta) = series_of("sgd");
        let (adam_b, adam_eta) = series_of("adam");
        let eta_at = |b: f64| sgd_b.iter().zip(&sgd_eta).find(|(x, _)| **x == b).map_or(f64::NAN, |(_, e)| *e);
        let (a64x, a64y): (Vec<f64>, Vec<f64>) = adam_b.iter().zip(&adam_eta).filter(|(b, _)| **b <= 64.0).unzip();
        let adam_slope = if a64x.len() >= 2 { loglog_slope(&a64x, &a64y) } else { f64::NAN };
        let b_big = sgd_b.iter().cloned().fold(1.0, f64::max);
        LrSummary { eta_1: eta_at(1.0), eta_big: eta_at(b_big), b_big, adam_slope, sgd_b, sgd_eta, adam_b, adam_eta }
    }
}

/// E2: table `lrmax_vs_B` and its figure.
pub fn learning_rates(out: &mut Outcome, r: &Results, s: &LrSummary, laws: &[LawRow]) {
    let rows: Vec<LrRow> =
        r.lr.iter()
            .map(|(c, res)| LrRow {
                optimizer: c.str("opt").to_string(),
                b: c.usize("b"),
                eta_max: res.eta_max,
                censored: res.censored,
            })
            .collect();
    out.table(Table::from_rows(
        "lrmax_vs_B",
        "Largest stable learning rate (full loss after the run below the initial one, every seed).",
        &rows,
    ));
    let upto = |bs: &[f64], b: f64| -> Vec<f64> { bs.iter().copied().filter(|x| *x <= b).collect() };
    let s64x = upto(&s.sgd_b, 64.0);
    let gd = 2.0 / r.ls_lambda_max;
    // A run whose η_max sits at the top of the search range is a lower bound, not a measurement:
    // drawn with its own marker and named so.
    let split = |opt: &str, censored: bool| -> (Vec<f64>, Vec<f64>) {
        rows.iter().filter(|w| w.optimizer == opt && w.censored == censored).map(|w| (w.b as f64, w.eta_max)).unzip()
    };
    let (sgd_b, sgd_eta) = split("sgd", false);
    let (sgd_cb, sgd_ceta) = split("sgd", true);
    let mut fig = Figure::xy("lrmax_vs_B", "Largest stable learning rate vs batch size", "batch size B", "η_max")
        .log_x()
        .log_y()
        .series(Series::markers("SGD", sgd_b, sgd_eta).color(0))
        .series(
            Series::dashed("slope 1 (linear scaling)", s64x.clone(), s64x.iter().map(|b| s.eta_1 * b).collect())
                .color(0),
        )
        .series(Series::hline("GD limit 2/λ_max(H)", gd, 1.0, s.b_big));
    if !laws.is_empty() {
        let lb: Vec<f64> = laws.iter().map(|l| l.b as f64).collect();
        fig = fig
            .series(Series::line("mean-square threshold η_ms", lb.clone(), laws.iter().map(|l| l.eta_ms).collect()))
            .series(Series::dashed("paper: 2/E λ₁(H_B)", lb, laws.iter().map(|l| l.eta_paper).collect()));
    }
    if !s.adam_b.is_empty() {
        let a1 = s.adam_eta[0];
        let a64x = upto(&s.adam_b, 64.0);
        let (adam_b, adam_eta) = split("adam", false);
        let (adam_cb, adam_ceta) = split("adam", true);
        fig = fig.series(Series::markers("Adam", adam_b, adam_eta).color(4)).series(
            Series::dashed(
                "slope 1/2 (square-root scaling)",
                a64x.clone(),
                a64x.iter().map(|b| a1 * b.sqrt()).collect(),
            )
            .color(4),
        );
        if !adam_cb.is_empty() {
            fig = fig.series(Series::markers("Adam at the search cap (η_max ≥ value)", adam_cb, adam_ceta).color(5));
        }
    }
    if !sgd_cb.is_empty() {
        fig = fig.series(Series::markers("SGD at the search cap (η_max ≥ value)", sgd_cb, sgd_ceta).color(6));
    }
    out.figure(fig);
}

/// The three `λ₁` curves: logistic H, MLP H, MLP GGN.
pub fn curves(cfg: &Config, r: &Results) -> [Curve; 3] {
    let fit = (cfg.fit_b_min, cfg.fit_b_max);
    let of = |model: &'static str| r.spectrum.iter().filter(move |s| s.model == model);
    let lg_b: Vec<usize> = of("logistic").map(|s| s.b).collect();
    let mlp_b: Vec<usize> = of("mlp").map(|s| s.b).collect();
    let lg: Vec<Vec<f64>> = of("logistic").map(|s| s.hess.clone()).collect();
    let mh: Vec<Vec<f64>> = of("mlp").map(|s| s.hess.clone()).collect();
    let mg: Vec<Vec<f64>> = of("mlp").map(|s| s.ggn.clone()).collect();
    [
        curve("logistic", "H", r.logistic_h_full, &lg_b, &lg, fit),
        curve("mlp", "H", r.mlp_h_full, &mlp_b, &mh, fit),
        curve("mlp", "GGN", r.mlp_ggn_full, &mlp_b, &mg, fit),
    ]
}

pub fn notes(out: &mut Outcome, cfg: &Config, r: &Results) {
    out.note(format!(
        "E1: logistic regression n = {}, d = {} (feature 0 × {}), random w ~ N(0, I/d); Hessian = GGN = (1/B) Σ p(1−p) x xᵀ. \
         MLP {}→{}→{} (tanh, softmax CE) on a {}-class Gaussian mixture (separation {}), n = {}, after {} Adam steps: train loss {}. \
         λ₁ by {}/{} Lanczos steps (full re-orthogonalization) on exact Hessian/GGN products; batches with replacement, {}/{} per B.",
        cfg.logistic.n, cfg.logistic.d, cfg.logistic.spike, cfg.mlp.d, cfg.mlp.hidden, cfg.mlp.classes, cfg.mlp.classes,
        cfg.mlp.separation, cfg.mlp.n, cfg.mlp.train_steps, fmt_num(r.mlp_train_loss), cfg.logistic.lanczos_steps,
        cfg.mlp.lanczos_steps, cfg.logistic.batches, cfg.mlp.batches
    ));
    out.note(format!(
        "E2: noiseless least squares n = {}, d = {}, feature variances geometric 1 → {}: λ_max(H) = {}, Tr H = {}. \
         η_max = largest η (geometric bisection, {} steps on [{}, {}]) with full loss after {} steps below the initial loss for all {} runs.",
        cfg.lr.n, cfg.lr.d, cfg.lr.var_min, fmt_num(r.ls_lambda_max), fmt_num(r.ls_trace), cfg.lr.bisect_steps, cfg.lr.lr_lo,
        cfg.lr.lr_hi, cfg.lr.steps, cfg.lr.seeds
    ));
}

/// The ratio farthest from 1 (in log), NaN (or a non-positive ratio) counting as the farthest.
pub fn worst_ratio(ratios: &[f64]) -> f64 {
    let key = |r: f64| if r.is_finite() && r > 0.0 { r.ln().abs() } else { f64::INFINITY };
    ratios.iter().copied().max_by(|a, b| key(*a).total_cmp(&key(*b))).unwrap_or(f64::NAN)
}

/// One row of `excess_vs_pt`: the measured batch excess against perturbation theory at one B.
#[derive(Serialize)]
pub struct PtRow {
    pub model: &'static str,
    pub matrix: &'static str,
    #[serde(rename = "B")]
    pub b: usize,
    /// Mean over the batches of `λ₁(M_B) − v₁ᵀ M_B v₁` and its standard error.
    pub excess: f64,
    pub se: f64,
    /// `c_pt / B`.
    pub predicted: f64,
    pub ratio: f64,
}

fn pt_rows(model: &'static str, matrix: &'static str, bs: &[usize], excess: &[Vec<f64>], c_pt: f64) -> Vec<PtRow> {
    bs.iter()
        .zip(excess)
        .map(|(&b, e)| {
            let (m, se) = mean_se(e);
            let predicted = c_pt / b as f64;
            PtRow { model, matrix, b, excess: m, se, predicted, ratio: m / predicted }
        })
        .collect()
}

/// The three perturbation-theory comparisons: logistic (the main model, per B), and the small MLP's
/// Hessian and GGN.
pub fn pt_checks(cfg: &Config, r: &Results) -> [Vec<PtRow>; 3] {
    let lg: Vec<&crate::SpecRun> = r.spectrum.iter().filter(|s| s.model == "logistic").collect();
    let bs: Vec<usize> = lg.iter().map(|s| s.b).collect();
    let ex: Vec<Vec<f64>> = lg.iter().map(|s| s.hess.iter().zip(&s.rayleigh).map(|(l, q)| l - q).collect()).collect();
    let k = &r.check;
    [
        pt_rows("logistic", "H", &bs, &ex, r.logistic_pt.c_pt),
        pt_rows("small mlp", "H", &cfg.check.batch_sizes, &k.hess.excess, k.hess.c_pt),
        pt_rows("small mlp", "GGN", &cfg.check.batch_sizes, &k.ggn.excess, k.ggn.c_pt),
    ]
}

/// Pooled ratio of a perturbation-theory comparison: `mean_B(B · excess_B) / c_pt`.
pub fn pooled_ratio(rows: &[PtRow]) -> f64 {
    let v: Vec<f64> = rows.iter().map(|r| r.ratio).collect();
    if v.is_empty() { f64::NAN } else { common::stats::mean(&v) }
}

/// One row of `lr_laws`: the measured SGD `η_max` against the paper's predictor and the
/// mean-square threshold.
#[derive(Serialize)]
pub struct LawRow {
    #[serde(rename = "B")]
    pub b: usize,
    pub eta_max: f64,
    /// `E λ₁(H_B)` of the least-squares batches and its standard error.
    pub mean_lambda1: f64,
    pub se_lambda1: f64,
    /// The paper's `2/E λ₁(H_B)`, the mean-square threshold, and `η_max` over each.
    pub eta_paper: f64,
    pub eta_ms: f64,
    pub ratio_paper: f64,
    pub ratio_ms: f64,
}

pub fn lr_laws(r: &Results) -> Vec<LawRow> {
    r.ls_spectra
        .iter()
        .map(|s| {
            let eta_max =
                r.lr.iter()
                    .find(|(c, _)| c.str("opt") == "sgd" && c.usize("b") == s.b)
                    .map_or(f64::NAN, |(_, x)| x.eta_max);
            let (mean_lambda1, se_lambda1) = mean_se(&s.lambda1);
            let eta_paper = 2.0 / mean_lambda1;
            LawRow {
                b: s.b,
                eta_max,
                mean_lambda1,
                se_lambda1,
                eta_paper,
                eta_ms: s.eta_ms,
                ratio_paper: eta_max / eta_paper,
                ratio_ms: eta_max / s.eta_ms,
            }
        })
        .collect()
}

/// One row of `dense_checks`.
#[derive(Serialize)]
struct DenseRow {
    matrix: &'static str,
    dense_max: f64,
    lanczos_max_profile: f64,
    lanczos_max: f64,
    dense_min: f64,
    lanczos_min: f64,
    dense_trace: f64,
    lanczos_trace: f64,
    max_error: f64,
}

/// Tables `excess_vs_pt`, `lr_laws`, `dense_checks`.
pub fn checks(out: &mut Outcome, pts: &[Vec<PtRow>; 3], laws: &[LawRow], r: &Results) {
    let all: Vec<&PtRow> = pts.iter().flatten().collect();
    out.table(Table::from_rows(
        "excess_vs_pt",
        "Batch excess λ₁(M_B) − v₁ᵀM_Bv₁ (mean ± s.e. over the batches; E = E λ₁(M_B) − λ₁(M)) against second-order \
         perturbation theory c/B. Logistic: E1's model; small mlp: the dense-check MLP.",
        &all,
    ));
    out.table(Table::from_rows(
        "lr_laws",
        "SGD η_max against the paper's 2/E λ₁(H_B) and the mean-square stability threshold η_ms (least squares).",
        laws,
    ));
    let k = &r.check;
    let rows: Vec<DenseRow> = [("H", &k.hess), ("GGN", &k.ggn)]
        .into_iter()
        .map(|(matrix, m)| DenseRow {
            matrix,
            dense_max: m.dense_max,
            lanczos_max_profile: m.lanczos_max_profile,
            lanczos_max: m.lanczos_max,
            dense_min: m.dense_min,
            lanczos_min: m.lanczos_min,
            dense_trace: m.dense_trace,
            lanczos_trace: m.lanczos_trace,
            max_error: m.max_error(),
        })
        .collect();
    out.table(Table::from_rows(
        "dense_checks",
        "Small MLP: the study's Lanczos spectrum on its curvature products against the dense matrix from finite \
         differences (no HVP).",
        &rows,
    ));
}

/// Claim detail: the excess against `c_pt/B` at every B.
pub fn pt_detail(rows: &[PtRow], c_pt: f64) -> String {
    let per: Vec<String> = rows
        .iter()
        .map(|x| {
            format!(
                "B={}: {}±{} vs {} ({})",
                x.b,
                fmt_num(x.excess),
                fmt_num(x.se),
                fmt_num(x.predicted),
                fmt_num(x.ratio)
            )
        })
        .collect();
    format!("c_pt = {}; excess vs c_pt/B (ratio): {}", fmt_num(c_pt), per.join(", "))
}

/// Claim detail: `η_max` against the paper's `2/E λ₁(H_B)` (`paper`) or `η_ms` at every B.
pub fn law_detail(laws: &[LawRow], paper: bool) -> String {
    laws.iter()
        .map(|l| {
            let (pred, ratio) = if paper { (l.eta_paper, l.ratio_paper) } else { (l.eta_ms, l.ratio_ms) };
            format!("B={}: {} vs {} ({})", l.b, fmt_num(l.eta_max), fmt_num(pred), fmt_num(ratio))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
