//! The report: runs table, batch trace, claims, figures. Pure: no randomness.
use anyhow::Result;
use common::report::fmt_num;
use common::{Cell, Figure, Outcome, Series, Table};

use crate::runs::{Run, bound_ratio, keps_slope};
use crate::{B1, B1F, B2, B2A, B2C, B3, B3C, B4, B5, Config, Results, RunRow};

fn is_norm(c: &Cell) -> bool {
    c.str("schedule").starts_with("norm ")
}
fn is_const16(c: &Cell) -> bool {
    c.str("schedule") == "const 16"
}
fn is_adaptive(c: &Cell) -> bool {
    !c.str("schedule").starts_with("const ")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { 0.5 * (v[m - 1] + v[m]) }
}

/// The wall time to ε: the run's wall time scaled by the share of samples used by then (the
/// per-step cost is proportional to the batch).
fn wall_to(run: &Run, eps: f64) -> f64 {
    match run.k_eps(eps) {
        Some((_, s)) => {
            let total: u64 = run.batches().iter().map(|&b| b as u64).sum();
            run.wall_s * s as f64 / total.max(1) as f64
        }
        None => f64::NAN,
    }
}

/// A row of `runs.csv`.
pub fn row(cfg: &Config, c: &Cell, run: &Run) -> RunRow {
    let ke: Vec<Option<(usize, u64)>> = cfg.eps.iter().map(|&e| run.k_eps(e)).collect();
    RunRow {
        problem: c.str("problem").into(),
        optimizer: c.str("optimizer").into(),
        schedule: c.str("schedule").into(),
        rep: c.rep(),
        k_eps: ke.iter().map(|k| k.map_or(f64::NAN, |k| k.0 as f64)).collect(),
        samples_eps: ke.iter().map(|k| k.map_or(f64::NAN, |k| k.1 as f64)).collect(),
        slope: keps_slope(run, &cfg.eps),
        bound_ratio: bound_ratio(run, cfg.bound_k_min, cfg.floor),
        min_grad_sq: run.running_min().last().copied().unwrap_or(f64::NAN),
        final_batch: run.final_batch(),
        steps: run.steps_done,
        samples: run.batches().iter().map(|&b| b as f64).sum(),
        wall_s: run.wall_s,
    }
}

/// Build the outcome.
pub fn report(cfg: &Config, r: &Results) -> Result<Outcome> {
    let mut out = Outcome::default();
    let rows: Vec<(Cell, RunRow)> = r.runs.iter().map(|(c, run)| (c.clone(), row(cfg, c, run))).collect();

    // Tables.
    let mut t = Table::new("runs", "Every run: K(ε) and samples to ε (NaN: not reached), slope, B3 ratio, final batch")
        .str("problem", rows.iter().map(|x| x.1.problem.clone()).collect())
        .str("optimizer", rows.iter().map(|x| x.1.optimizer.clone()).collect())
        .str("schedule", rows.iter().map(|x| x.1.schedule.clone()).collect())
        .usize("rep", rows.iter().map(|x| x.1.rep).collect());
    for (j, e) in cfg.eps.iter().enumerate() {
        t = t.f64(&format!("K_eps_{}", fmt_num(*e)), rows.iter().map(|x| x.1.k_eps[j]).collect());
    }
    for (j, e) in cfg.eps.iter().enumerate() {
        t = t.f64(&format!("samples_eps_{}", fmt_num(*e)), rows.iter().map(|x| x.1.samples_eps[j]).collect());
    }
    t = t
        .f64("slope", rows.iter().map(|x| x.1.slope).collect())
        .f64("bound_ratio", rows.iter().map(|x| x.1.bound_ratio).collect())
        .f64("min_grad_sq", rows.iter().map(|x| x.1.min_grad_sq).collect())
        .usize("final_batch", rows.iter().map(|x| x.1.final_batch).collect())
        .usize("steps", rows.iter().map(|x| x.1.steps).collect())
        .f64("samples", rows.iter().map(|x| x.1.samples).collect())
        .f64("wall_s", rows.iter().map(|x| x.1.wall_s).collect());
    out.table(t);
    let mut tr = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (c, run) in r.runs.iter() {
        for &(s, b) in &run.batch_changes {
            tr.0.push(c.str("problem").to_string());
            tr.1.push(c.str("optimizer").to_string());
            tr.2.push(c.str("schedule").to_string());
            tr.3.push(c.rep());
            tr.4.push(s);
            tr.5.push(b);
        }
    }
    out.table(
        Table::new("batch_trace", "Batch-size changes: from `step` on, the batch is `batch`")
            .str("problem", tr.0)
            .str("optimizer", tr.1)
            .str("schedule", tr.2)
            .usize("rep", tr.3)
            .usize("step", tr.4)
            .usize("batch", tr.5),
    );

    // B1: monotone and capped.
    out.claim(B1.share(r.runs.filter(is_adaptive).map(|(c, run)| {
        let b = run.batches();
        let cap = if cfg.max_batch == 0 { usize::MAX } else { cfg.max_batch };
        (
            c.to_string(),
            b.windows(2).all(|w| w[0] <= w[1]) && b.iter().all(|&x| x <= cap) && b.first() == Some(&cfg.start_batch),
        )
    })));
    // B1f: the formula against the direct evaluation.
    out.claim(B1F.max_of(r.runs.filter(is_adaptive).filter_map(|(c, run)| {
        run.check.as_ref().map(|k| {
            let e = (k.streaming - k.direct).abs() / k.direct.abs().max(1e-300);
            (format!("{c} (step {}, b = {})", k.step, k.batch), if k.streaming == k.direct { 0.0 } else { e })
        })
    })));
    // B2: slope for AdaGrad-Norm + norm test.
    let slope_of = |c: &Cell, run: &Run| (c.to_string(), keps_slope(run, &cfg.eps));
    out.claim(B2.max_of(
        r.runs.filter(|c| is_norm(c) && c.str("optimizer") == "adagrad_norm").map(|(c, run)| slope_of(c, run)),
    ));
    // B2c: constant 16 does not reach 1e-4.
    out.claim(
        B2C.min_of(
            r.runs
                .filter(|c| is_const16(c) && c.str("problem") == "synthetic")
                .map(|(c, run)| (c.to_string(), run.running_min().last().copied().unwrap_or(f64::NAN))),
        ),
    );
    // B2a: AdaGrad + coordinate test.
    let coord: Vec<(String, f64)> = r
        .runs
        .filter(|c| c.str("schedule").starts_with("coord ") && c.str("optimizer") == "adagrad")
        .map(|(c, run)| slope_of(c, run))
        .collect();
    if coord.is_empty() {
        out.claim(B2A.measured(f64::NAN).detail("no adagrad + coordinate-test runs in this configuration"));
    } else {
        out.claim(B2A.max_of(coord));
    }
    // B3: bound form.
    out.claim(
        B3.max_of(r.runs.filter(is_norm).map(|(c, run)| (c.to_string(), bound_ratio(run, cfg.bound_k_min, cfg.floor)))),
    );
    out.claim(
        B3C.min_of(
            r.runs
                .filter(|c| is_const16(c) && c.str("problem") == "synthetic")
                .map(|(c, run)| (c.to_string(), bound_ratio(run, cfg.bound_k_min, cfg.floor))),
        ),
    );
    // B4 / B5: samples and wall time to 1e-3, norm 0.5 vs const 16 (AdaGrad-Norm), per (problem, rep).
    let e0 = cfg.eps[0];
    let pair_ratio = |f: &dyn Fn(&Run) -> f64| {
        let mut v = vec![];
        for (c, run) in r.runs.filter(|c| c.str("schedule") == "norm 0.5" && c.str("optimizer") == "adagrad_norm") {
            let ctl = r.runs.filter(|d| {
                is_const16(d)
                    && d.str("optimizer") == "adagrad_norm"
                    && d.str("problem") == c.str("problem")
                    && d.rep() == c.rep()
            });
            for (_, cr) in ctl {
                v.push(f(run) / f(cr));
            }
        }
        v
    };
    let samples_to = |run: &Run| run.k_eps(e0).map_or(f64::INFINITY, |k| k.1 as f64);
    let sr = pair_ratio(&samples_to);
    let wr = pair_ratio(&|run: &Run| {
        let w = wall_to(run, e0);
        if w.is_nan() { f64::INFINITY } else { w }
    });
    out.claim(B4.measured(median(sr.clone())).detail(format!(
        "ratios per (problem, seed), ∞ where the constant batch never reaches ε = {}: {}",
        fmt_num(e0),
        sr.iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join(", ")
    )));
    out.claim(
        B5.measured(median(wr.clone()))
            .detail(format!("ratios: {}", wr.iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join(", "))),
    );

    figures(cfg, r, &mut out);
    out.note(format!(
        "Setup: problems {}; optimizers {}; AdaGrad-Norm lr {} with b0 = {}, AdaGrad lr {} (eps 1e-10); schedules {}; \
         adaptive ones start at b = {} and are capped at {}; K = {} iterations (a run stops once ‖∇F‖² < {}); {} seeds. \
         ‖∇F‖² is the full training gradient on {} evaluation steps per run.",
        cfg.problems.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
        cfg.optimizers.iter().map(|o| o.name()).collect::<Vec<_>>().join(", "),
        fmt_num(cfg.lr_norm),
        fmt_num(cfg.b0_norm),
        fmt_num(cfg.lr_diag),
        cfg.variants().iter().map(|v| v.label.clone()).collect::<Vec<_>>().join(", "),
        cfg.start_batch,
        if cfg.max_batch == 0 { "n".to_string() } else { cfg.max_batch.to_string() },
        cfg.iters,
        fmt_num(cfg.floor),
        cfg.reps,
        cfg.eval_points
    ));
    Ok(out)
}

/// Mean over reps of min‖∇F‖² on the union grid (runs that stopped at the floor hold their last
/// value), with the min-max band.
fn band(runs: &[&Run]) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut steps: Vec<usize> = runs.iter().flat_map(|r| r.steps.iter().copied()).filter(|&s| s > 0).collect();
    steps.sort_unstable();
    steps.dedup();
    let (mut x, mut m, mut lo, mut hi) = (vec![], vec![], vec![], vec![]);
    for &s in &steps {
        let vals: Vec<f64> = runs
            .iter()
            .map(|r| {
                let rm = r.running_min();
                let i = r.steps.iter().rposition(|&k| k <= s).unwrap_or(0);
                rm[i]
            })
            .collect();
        if vals.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            continue;
        }
        x.push(s as f64);
        m.push(vals.iter().map(|v| v.ln()).sum::<f64>().exp().powf(1.0 / vals.len() as f64));
        lo.push(vals.iter().copied().fold(f64::INFINITY, f64::min));
        hi.push(vals.iter().copied().fold(0.0, f64::max));
    }
    (x, m, lo, hi)
}

fn figures(cfg: &Config, r: &Results, out: &mut Outcome) {
    // One palette slot per schedule, the same in every figure.
    let labels: Vec<String> = cfg.variants().into_iter().map(|v| v.label).collect();
    let slot = |l: &str| labels.iter().position(|x| x == l).unwrap_or(0);
    let problems: Vec<String> = cfg.problems.iter().map(|p| p.name().to_string()).collect();
    let shown: Vec<String> = {
        let mut v: Vec<String> = cfg.variants().iter().map(|v| v.label.clone()).collect();
        v.retain(|l| l != "const 256" || cfg.constant_batches.contains(&256));
        v
    };
    // 1. Batch size vs step per test (first problem, AdaGrad-Norm, rep 0).
    let p0 = &problems[0];
    let mut fig = Figure::xy(
        "batch_trace",
        &format!("Batch size per step ({p0}, AdaGrad-Norm, seed 0)"),
        "iteration k",
        "batch size b_k",
    )
    .log_x()
    .log_y();
    for (c, run) in r.runs.filter(|c| c.str("problem") == p0 && c.str("optimizer") == "adagrad_norm" && c.rep() == 0) {
        if !is_adaptive(c) {
            continue;
        }
        let b = run.batches();
        let idx = common::stats::thin_indices(b.len(), 200, true);
        fig = fig.series(
            Series::line(
                c.str("schedule"),
                idx.iter().map(|&i| (i + 1) as f64).collect(),
                idx.iter().map(|&i| b[i] as f64).collect(),
            )
            .color(slot(c.str("schedule"))),
        );
    }
    out.figure(fig);

    // 2. min‖∇F‖² vs iterations, per problem (AdaGrad-Norm), seed bands.
    for p in &problems {
        let mut fig = Figure::xy(
            &format!("grad_vs_iter_{p}"),
            &format!("min_k ‖∇F(x_k)‖² vs iterations ({p}, AdaGrad-Norm; geometric mean, min–max over seeds)"),
            "iteration K",
            "min_{k≤K} ‖∇F(x_k)‖²",
        )
        .log_x()
        .log_y();
        let mut top = 0.0f64;
        for label in &shown {
            if label.starts_with("ip") {
                continue;
            }
            let rs: Vec<&Run> = r
                .runs
                .filter(|c| c.str("problem") == p && c.str("optimizer") == "adagrad_norm" && c.str("schedule") == label)
                .map(|x| x.1)
                .collect();
            if rs.is_empty() {
                continue;
            }
            let (x, m, lo, hi) = band(&rs);
            top = top.max(hi.first().copied().unwrap_or(0.0));
            fig = fig.series(Series::line(label, x, m).with_band(lo, hi).color(slot(label)));
        }
        if top > 0.0 {
            let k1 = 1.0;
            let k2 = cfg.iters as f64;
            fig = fig.series(Series::reference("slope −1 (O(1/K))", vec![k1, k2], vec![top, top / k2]));
        }
        out.figure(fig);
    }

    // 3. min‖∇F‖² vs samples (first problem), one line per seed for the schedules that matter.
    let mut fig = Figure::xy(
        "grad_vs_samples",
        &format!(
            "min ‖∇F‖² vs samples processed ({p0}, AdaGrad-Norm; lines: seed 0; points: samples to each ε, every seed)"
        ),
        "samples processed",
        "min_{k≤K} ‖∇F(x_k)‖²",
    )
    .log_x()
    .log_y();
    for label in shown.iter().filter(|l| !l.starts_with("ip")) {
        let runs: Vec<(&Cell, &Run)> = r
            .runs
            .filter(|c| c.str("problem") == p0 && c.str("optimizer") == "adagrad_norm" && c.str("schedule") == label)
            .collect();
        if let Some((_, run)) = runs.iter().find(|(c, _)| c.rep() == 0) {
            let m = run.running_min();
            let keep: Vec<usize> =
                (0..m.len()).filter(|&i| run.samples[i] > 0 && m[i] > 0.0 && m[i].is_finite()).collect();
            fig = fig.series(
                Series::line(
                    label,
                    keep.iter().map(|&i| run.samples[i] as f64).collect(),
                    keep.iter().map(|&i| m[i]).collect(),
                )
                .color(slot(label)),
            );
        }
    }
    let (mut px, mut py) = (vec![], vec![]);
    for (_, run) in r.runs.filter(|c| c.str("problem") == p0 && c.str("optimizer") == "adagrad_norm") {
        for &e in &cfg.eps {
            if let Some((_, smp)) = run.k_eps(e) {
                px.push(smp.max(1) as f64);
                py.push(e);
            }
        }
    }
    if !px.is_empty() {
        fig = fig.series(Series::markers("samples to ε (every schedule and seed)", px, py).color(labels.len().min(6)));
    }
    out.figure(fig);

    // 4. log K(ε) vs log 1/ε for the norm-test and coordinate-test runs.
    let mut fig = Figure::xy(
        "keps_fit",
        "Iterations to ε-stationarity K(ε) vs 1/ε (adaptive runs, every problem and seed)",
        "1/ε",
        "K(ε)",
    )
    .log_x()
    .log_y();
    for (opt, prefix, name) in [
        ("adagrad_norm", "norm ", "AdaGrad-Norm + norm test"),
        ("adagrad", "coord ", "AdaGrad + coordinate test"),
        ("adagrad_norm", "const 256", "AdaGrad-Norm, constant 256"),
    ] {
        let (mut x, mut y) = (vec![], vec![]);
        for (_, run) in r.runs.filter(|c| c.str("optimizer") == opt && c.str("schedule").starts_with(prefix)) {
            for &e in &cfg.eps {
                if let Some((k, _)) = run.k_eps(e) {
                    x.push(1.0 / e);
                    y.push(k as f64);
                }
            }
        }
        if !x.is_empty() {
            fig = fig.series(Series::markers(name, x, y));
        }
    }
    let e_lo = 1.0 / cfg.eps[0];
    let e_hi = 1.0 / cfg.eps[cfg.eps.len() - 1];
    fig = fig.series(Series::reference(
        "slope 1 (K = O(1/ε)) through 10 at 1/ε = 10³",
        vec![e_lo, e_hi],
        vec![10.0, 10.0 * e_hi / e_lo],
    ));
    out.figure(fig);

    // 5. Test accuracy vs samples (digits).
    if problems.iter().any(|p| p == "digits_mlp") {
        let mut fig = Figure::xy(
            "digits_test_acc",
            "Held-out accuracy vs samples (digits MLP, AdaGrad-Norm, seed 0)",
            "samples processed",
            "test accuracy",
        )
        .log_x();
        for label in shown.iter().filter(|l| !l.starts_with("ip")) {
            if let Some((_, run)) = r
                .runs
                .filter(|c| {
                    c.str("problem") == "digits_mlp"
                        && c.str("optimizer") == "adagrad_norm"
                        && c.str("schedule") == label
                        && c.rep() == 0
                })
                .next()
            {
                let keep: Vec<usize> = (0..run.test_acc.len()).filter(|&i| run.samples[i] > 0).collect();
                fig = fig.series(
                    Series::line(
                        label,
                        keep.iter().map(|&i| run.samples[i] as f64).collect(),
                        keep.iter().map(|&i| run.test_acc[i]).collect(),
                    )
                    .color(slot(label)),
                );
            }
        }
        out.figure(fig);
    }
}
