//! The report's tables (one row struct each) and its notes (setup, structural zeros, diverged
//! cells).
use crate::check::rank_forced_zeros;
use crate::sim::{LbsbResult, SpecResult, num_params};
use crate::spectrum::slq_mass_within;
use crate::{Config, Results};
use common::Table;
use common::report::fmt_num;
use serde::Serialize;

/// A row of table `outliers`.
#[derive(Serialize)]
struct OutlierRow {
    k: usize,
    h: usize,
    rep: usize,
    params: usize,
    train_loss: f64,
    train_acc: f64,
    n_out: usize,
    gap_ratio: f64,
    ratio_at_k_minus_1: f64,
    bulk_edge_lambda_k: f64,
    lambda_max: f64,
    top_eigs: String,
    ggn_top_eigs: String,
}

/// Every spectrum cell: outlier count, top eigenvalues, bulk edge.
pub fn outliers(res: &[SpecResult]) -> Table {
    let top_str = |v: &[f64]| v.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(" ");
    let rows: Vec<OutlierRow> = res
        .iter()
        .map(|r| OutlierRow {
            k: r.k,
            h: r.h,
            rep: r.rep,
            params: r.params,
            train_loss: r.train_loss,
            train_acc: r.train_acc,
            n_out: r.gap().0,
            gap_ratio: r.gap().1,
            ratio_at_k_minus_1: r.ratio_km1(),
            bulk_edge_lambda_k: r.bulk_edge(),
            lambda_max: r.top[0],
            top_eigs: top_str(&r.top),
            ggn_top_eigs: top_str(&r.ggn_top),
        })
        .collect();
    Table::from_rows(
        "outliers",
        "Every spectrum cell: outlier count (largest gap among the top 2k+2), top eigenvalues, bulk edge",
        &rows,
    )
}

/// A row of table `bulk`.
#[derive(Serialize)]
struct BulkRow {
    h: usize,
    rep: usize,
    params: usize,
    bulk_mass: f64,
    rank_forced_zeros: f64,
    beyond_rank: f64,
    #[serde(rename = "mass_abs_below_1e-3_lmax")]
    mass_1e3: f64,
    min_node: f64,
}

/// The width sweep's SLQ mass near zero: in the `bulk_tol` window, the share forced to zero by
/// rank, the share of the other eigenvalues in the window (H3c), and a narrower window.
pub fn bulk(cfg: &Config, wsweep: &[&SpecResult]) -> Table {
    let rows: Vec<BulkRow> = wsweep
        .iter()
        .map(|r| {
            let bulk_mass = slq_mass_within(&r.slq, cfg.bulk_tol * r.top[0]);
            let z = rank_forced_zeros(cfg.n_per_class * r.k, r.k, r.h, r.params);
            BulkRow {
                h: r.h,
                rep: r.rep,
                params: r.params,
                bulk_mass,
                rank_forced_zeros: z,
                beyond_rank: (bulk_mass - z) / (1.0 - z),
                mass_1e3: slq_mass_within(&r.slq, 1e-3 * r.top[0]),
                min_node: r.slq.iter().flat_map(|(n, _)| n.iter().cloned()).fold(0.0, f64::min),
            }
        })
        .collect();
    Table::from_rows(
        "bulk",
        &format!(
            "Width sweep at k = {}: SLQ mass with |λ| <= {} λ_max, the share forced to zero by rank, and the share of \
             the other eigenvalues in that window",
            cfg.width_k,
            fmt_num(cfg.bulk_tol)
        ),
        &rows,
    )
}

/// A row of table `interp`.
#[derive(Serialize)]
struct InterpRow {
    rep: usize,
    t: f64,
    train_loss: f64,
    test_loss: f64,
}

/// Train and test loss along the segment θ_LB → θ_SB.
pub fn interp(lbsb: &[LbsbResult]) -> Table {
    let rows: Vec<InterpRow> = lbsb
        .iter()
        .flat_map(|r| {
            (0..r.t.len()).map(|i| InterpRow {
                rep: r.rep,
                t: r.t[i],
                train_loss: r.train_loss[i],
                test_loss: r.test_loss[i],
            })
        })
        .collect();
    Table::from_rows("interp", "Loss along the straight segment θ_LB (t = 0) → θ_SB (t = 1)", &rows)
}

/// The report's notes: diverged cells (if any), the setup, the structural count of exact zeros.
pub fn notes(cfg: &Config, r: &Results) -> Vec<String> {
    let mut notes = vec![];
    let diverged: Vec<String> = (r.spectra.iter().filter(|c| c.diverged))
        .map(|c| format!("spectrum k={} h={} rep {}", c.k, c.h, c.rep))
        .chain(r.lbsb.iter().filter(|c| c.diverged).map(|c| format!("LB/SB rep {}", c.rep)))
        .collect();
    if !diverged.is_empty() {
        notes.push(format!(
            "Training diverged (lr {} too large for this data) in: {}. Their eigenvalues and losses are NaN, which \
             fails the claims they feed.",
            fmt_num(cfg.lr),
            diverged.join(", ")
        ));
    }
    notes.push(format!(
        "Setup: k-class Gaussian mixtures in d = {} (orthonormal means of norm {}, unit noise), {} training \
         samples per class; MLP d → h → k (ReLU, He init, biases), softmax cross-entropy, {} full-batch GD steps \
         at lr {}. Top 2k + 2 eigenvalues by {} Lanczos steps (full re-orthogonalization) on exact HVPs, of the \
         Hessian and of its Gauss-Newton part; density by SLQ ({} probes × {} steps). {} repetitions per cell.",
        cfg.d,
        fmt_num(cfg.mean_norm),
        cfg.n_per_class,
        cfg.steps,
        fmt_num(cfg.lr),
        cfg.lanczos_steps,
        cfg.slq_probes,
        cfg.slq_steps,
        cfg.reps
    ));
    let k = cfg.width_k;
    let n = cfg.n_per_class * k;
    let zeros = cfg
        .widths
        .iter()
        .map(|&h| {
            let p = num_params(cfg.d, h, k);
            format!("h = {h}: P = {p}, >= {:.1} %", 100.0 * rank_forced_zeros(n, k, h, p))
        })
        .collect::<Vec<_>>()
        .join("; ");
    notes.push(format!(
        "Exact zeros (structure, not measured): the GGN has rank <= N(k − 1) and the residual (ReLU: only the \
         W2 × (W1, b1) blocks, whose rows sum to zero) rank <= 2(k − 1)h, so at k = {k} the Hessian has at least this \
         share of exact zero eigenvalues: {zeros}. SLQ cannot tell them from the bulk accumulating at zero (its Ritz \
         value nearest 0 is ~1e-4 λ_max), so H3 and H3c use a window of {} λ_max, and H3c counts only the mass \
         beyond this share.",
        fmt_num(cfg.bulk_tol)
    ));
    let c = &r.check;
    notes.push(format!(
        "Dense spectrum of the check net ({} → {} → {}, N = {}, P = {}): {:.1} % of its eigenvalues have |λ| <= 1e-6 \
         λ_max (rank forces >= {:.1} %), {:.1} % have |λ| <= {} λ_max; λ_min = {:.2e}, λ_max = {:.4}.",
        c.d,
        c.h,
        c.k,
        c.n,
        c.params,
        100.0 * c.zero_share,
        100.0 * c.rank_forced,
        100.0 * c.bulk_share,
        fmt_num(cfg.bulk_tol),
        c.dense_min,
        c.dense_top[0]
    ));
    notes
}
