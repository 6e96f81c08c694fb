//! Tables and figures of the report (pure functions of `Results`).
use crate::summary::Summary;
use crate::{Config, Results};
use common::report::fmt_num;
use common::{Figure, Outcome, Series, Table};

fn table_of(name: &str, caption: &str, rows: &[impl Serialize]) -> Table {
    Table::from_rows(name, caption, rows)
}
use serde::Serialize;

#[derive(Serialize)]
struct MajRow<'a> {
    problem: &'a str,
    eta_lz: f64,
    m: usize,
    inner: &'static str,
    outer_step: usize,
    inner_step: usize,
    loss: f64,
    surrogate: f64,
    gap: f64,
}

#[derive(Serialize)]
struct MajSummaryRow<'a> {
    problem: &'a str,
    eta_lz: f64,
    m: usize,
    inner: &'static str,
    checked: usize,
    violations: usize,
    min_gap: f64,
    first_violation: i64,
    loss_increases: usize,
}

#[derive(Serialize)]
struct ProgressRow<'a> {
    problem: &'a str,
    method: String,
    m: usize,
    outer_step: usize,
    loss: f64,
    grad_norm2: f64,
    target_gradient_calls: usize,
    work_data_passes: f64,
}

#[derive(Serialize)]
struct StochRow<'a> {
    loss: &'static str,
    batch: usize,
    method: &'a str,
    log10_rate: f64,
    rep: usize,
    final_loss: f64,
    target_gradient_calls: usize,
}

fn inner_name(i: crate::sso::Inner) -> &'static str {
    match i {
        crate::sso::Inner::Fixed => "fixed",
        crate::sso::Inner::Armijo => "armijo",
        crate::sso::Inner::ArmijoClosed => "armijo-closed",
    }
}

/// The tables: majorization (traces and per-cell summary), progress, amortization, rates, Q2.
pub fn tables(out: &mut Outcome, cfg: &Config, r: &Results, s: &Summary) {
    let mut rows = Vec::new();
    let mut summ = Vec::new();
    for c in &r.majorization {
        for t in &c.record.trace {
            rows.push(MajRow {
                problem: &c.problem,
                eta_lz: c.eta_lz,
                m: c.m,
                inner: inner_name(c.inner),
                outer_step: t.outer,
                inner_step: t.inner,
                loss: t.loss,
                surrogate: t.surrogate,
                gap: t.surrogate - t.loss,
            });
        }
        summ.push(MajSummaryRow {
            problem: &c.problem,
            eta_lz: c.eta_lz,
            m: c.m,
            inner: inner_name(c.inner),
            checked: c.record.checked,
            violations: c.record.violations,
            min_gap: c.record.min_gap,
            first_violation: c.record.first_violation.map_or(-1, |t| t as i64),
            loss_increases: c.record.increases,
        });
    }
    out.table(table_of(
        "majorization",
        &format!("ℓ and the surrogate g_t at every inner iterate of the first {} outer steps", cfg.trace_outer),
        &rows,
    ));
    out.table(table_of(
        "majorization_summary",
        &format!("Majorization checks over the first {} outer steps (violation: ℓ > g_t + 1e-12)", cfg.check_outer),
        &summ,
    ));

    let mut prog = Vec::new();
    for f in &r.full_batch {
        let runs = std::iter::once(("gd".to_string(), 1usize, &f.gd))
            .chain(f.mm.iter().map(|(m, tr)| (format!("mm-m{m}"), *m, tr)));
        for (method, m, tr) in runs {
            for t in 0..tr.loss.len() {
                prog.push(ProgressRow {
                    problem: &f.problem,
                    method: method.clone(),
                    m,
                    outer_step: t,
                    loss: tr.loss[t],
                    grad_norm2: tr.grad2[t],
                    target_gradient_calls: t,
                    work_data_passes: tr.work[t],
                });
            }
        }
    }
    out.table(table_of("progress", "Full-batch progress: loss and ‖∇ℓ‖² per outer step (GD and MM at every m)", &prog));
    out.table(table_of("amortization", "Outer steps of MM to reach GD's loss after T steps (T3)", &s.t3));
    out.table(table_of(
        "rates",
        "T·min_t‖∇ℓ_t‖² against the MM bound (2λ/η)(ℓ_0 − ℓ_T) (ratio), and its spread over T ≥ 20 (T4)",
        &s.t4,
    ));
    let st: Vec<StochRow> = r
        .stochastic
        .iter()
        .map(|c| StochRow {
            loss: c.loss.name(),
            batch: c.batch,
            method: &c.method,
            log10_rate: c.log10_rate,
            rep: c.rep,
            final_loss: *c.losses.last().unwrap_or(&f64::NAN),
            target_gradient_calls: (crate::BREAST_N / c.batch) * (c.losses.len() - 1),
        })
        .collect();
    out.table(table_of("stochastic", "Q2: final training loss of every run", &st));
    out.table(table_of("stochastic_best", "Q2: SSO (m = t3_m) vs SGD at the best rate of each, per seed (T5)", &s.t5));
}

/// Thin a curve to at most `k` points (first and last kept), finite values only.
fn thin(x: &[f64], y: &[f64], k: usize) -> (Vec<f64>, Vec<f64>) {
    let idx = common::stats::thin_indices(x.len(), k, false);
    let keep: Vec<usize> = idx.into_iter().filter(|&i| y[i].is_finite() && y[i].abs() < 1e12).collect();
    (keep.iter().map(|&i| x[i]).collect(), keep.iter().map(|&i| y[i]).collect())
}

/// The figures: loss vs target-gradient calls and vs work (per problem), ℓ vs g_t along inner
/// iterations, Q2 loss vs epochs at the best rates.
pub fn figures(out: &mut Outcome, cfg: &Config, r: &Results, s: &Summary) {
    for f in r.full_batch.iter().filter(|f| f.problem != "breast-mse") {
        let mut calls = Figure::xy(
            &format!("loss_vs_calls_{}", f.problem),
            &format!("{}: training loss vs target-gradient calls (η = {}/L_z)", f.problem, fmt_num(cfg.eta_lz)),
            "target-gradient calls (outer steps)",
            "training loss",
        );
        let mut work = Figure::xy(
            &format!("loss_vs_work_{}", f.problem),
            &format!("{}: training loss vs work", f.problem),
            "work (data passes)",
            "training loss",
        );
        for (m, tr) in &f.mm {
            let t: Vec<f64> = (0..tr.loss.len()).map(|i| i as f64).collect();
            let (x, y) = thin(&t, &tr.loss, 300);
            calls = calls.series(Series::line(&format!("MM, m = {m}"), x, y));
            let (x, y) = thin(&tr.work, &tr.loss, 300);
            work = work.series(Series::line(&format!("MM, m = {m}"), x, y));
        }
        let t: Vec<f64> = (0..f.gd.loss.len()).map(|i| i as f64).collect();
        let (x, y) = thin(&t, &f.gd.loss, 300);
        calls = calls.series(Series::dashed("GD (step η/λ_max)", x, y));
        let (x, y) = thin(&f.gd.work, &f.gd.loss, 300);
        work = work.series(Series::dashed("GD (step η/λ_max)", x, y));
        out.figure(calls);
        out.figure(work);
    }

    // ℓ vs g_t along the inner iterations (mixture, m = t3_m, fixed inner steps).
    for (tag, pick, problem) in [("ok", true, "mixture"), ("negative", false, "breast-bce")] {
        let cell = r.majorization.iter().find(|c| {
            c.problem == problem && c.m == cfg.t3_m && c.inner == crate::sso::Inner::Fixed && (c.eta_lz <= 1.0) == pick
        });
        let Some(c) = cell else { continue };
        let x: Vec<f64> = (0..c.record.trace.len()).map(|i| (i + 1) as f64).collect();
        let fig = Figure::xy(
            &format!("majorization_{tag}"),
            &format!(
                "{}, m = {}, η = {}/L_z: ℓ and g_t, outer steps 0–{}",
                c.problem,
                c.m,
                fmt_num(c.eta_lz),
                cfg.trace_outer - 1
            ),
            "inner iterate (all outer steps in order)",
            "value",
        )
        .series(Series::line_markers("surrogate g_t", x.clone(), c.record.trace.iter().map(|t| t.surrogate).collect()))
        .series(Series::line_markers("loss ℓ", x, c.record.trace.iter().map(|t| t.loss).collect()));
        out.figure(fig);
    }

    // Q2: training loss vs epochs at each method's best rate; seeds as a min–max band.
    for (loss, batch, _, _) in s.best.iter().filter(|b| b.2 == "sgd") {
        let mut fig = Figure::xy(
            &format!("stochastic_{}_b{batch}", loss.name()),
            &format!("breast cancer, {}, batch {batch}: training loss at each method's best rate", loss.name()),
            "epoch (from 1)",
            "training loss",
        );
        for (_, _, method, rate) in s.best.iter().filter(|b| b.0 == *loss && b.1 == *batch) {
            let runs: Vec<&Vec<f64>> = r
                .stochastic
                .iter()
                .filter(|c| c.loss == *loss && c.batch == *batch && &c.method == method && c.log10_rate == *rate)
                .map(|c| &c.losses)
                .collect();
            if runs.is_empty() || rate.is_nan() {
                continue;
            }
            let len = runs.iter().map(|v| v.len()).min().unwrap_or(0);
            // From epoch 1: the drop from the start would flatten the comparison on a linear axis.
            let ep: Vec<f64> = (1..len).map(|i| i as f64).collect();
            let mean: Vec<f64> = (1..len).map(|i| runs.iter().map(|v| v[i]).sum::<f64>() / runs.len() as f64).collect();
            let lo: Vec<f64> = (1..len).map(|i| runs.iter().map(|v| v[i]).fold(f64::INFINITY, f64::min)).collect();
            let hi: Vec<f64> = (1..len).map(|i| runs.iter().map(|v| v[i]).fold(0.0, f64::max)).collect();
            if mean.iter().any(|v| !v.is_finite() || *v <= 0.0) {
                continue;
            }
            let label = if method == "sgd" {
                format!("SGD, lr = 1e{}", fmt_num(*rate))
            } else {
                format!("SSO, m = {}, η = 1e{}", method.trim_start_matches("sso-m"), fmt_num(*rate))
            };
            fig = fig.series(Series::line(&label, ep, mean).with_band(lo, hi));
        }
        out.figure(fig);
    }
}
