//! Tables, figures and claims from the results (pure).
use crate::{CLAIMS, Config, Results, Row, Run, closed_form_margins};
use anyhow::Result;
use common::report::fmt_num;
use common::{Figure, Outcome, Series, Table};

fn at(run: &Run, epoch: usize) -> &crate::Point {
    run.record.points.iter().find(|p| p.epoch == epoch).unwrap_or_else(|| run.record.points.last().expect("points"))
}

fn arm(og: bool) -> &'static str {
    if og { "⊥Grad" } else { "baseline" }
}

/// Mean, min and max over seeds of `f` at every checkpoint of the arm.
fn band(runs: &[&Run], f: impl Fn(&crate::Point) -> f64) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = runs[0].record.points.iter().map(|p| p.epoch as f64).collect();
    let (mut m, mut lo, mut hi) = (vec![], vec![], vec![]);
    for i in 0..x.len() {
        let v: Vec<f64> = runs.iter().map(|r| f(&r.record.points[i])).collect();
        m.push(v.iter().sum::<f64>() / v.len() as f64);
        lo.push(v.iter().copied().fold(f64::INFINITY, f64::min));
        hi.push(v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    }
    (x, m, lo, hi)
}

pub(crate) fn report(cfg: &Config, r: &Results, out: &mut Outcome) -> Result<()> {
    let [q1, q2a, q2b, q3a, q3b, q3c, q4, q5] = [0, 1, 2, 3, 4, 5, 6, 7].map(|i| &CLAIMS[i]);
    let last = cfg.epochs;
    let base: Vec<&Run> = r.runs.iter().filter(|x| !x.orthograd).collect();
    let og: Vec<&Run> = r.runs.iter().filter(|x| x.orthograd).collect();

    let rows: Vec<Row> = r
        .runs
        .iter()
        .map(|run| {
            let (p100, pl) = (at(run, 100), at(run, last));
            Row {
                arm: arm(run.orthograd).into(),
                rep: run.rep,
                epoch_train_acc_1: run.record.points.iter().find(|p| p.train_acc == 1.0).map_or(0, |p| p.epoch),
                test_acc_100: p100.test_acc,
                test_acc_last: pl.test_acc,
                train_loss_last: pl.train_loss,
                cos_100: p100.cos_neg_grad,
                cos_last: pl.cos_neg_grad,
                sc_last: pl.softmax_collapse,
                norm_last: pl.param_norm,
            }
        })
        .collect();
    out.table(Table::from_rows("runs", "Every ±⊥Grad run at epoch 100 and at the last epoch", &rows));

    // Q1
    let names = ["f16", "f32", "f64"];
    let cf = closed_form_margins(cfg.margin_classes);
    let err = (r.margins[1] - cf[1]).abs().max((r.margins[2] - cf[2]).abs());
    let per: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "{}: {} (closed form {}, from the max {})",
                names[i],
                fmt_num(r.margins[i]),
                fmt_num(cf[i]),
                fmt_num(r.margins_from_max[i])
            )
        })
        .collect();
    out.claim(q1.measured(err).detail(format!("zero-loss margins at C = {}: {}", cfg.margin_classes, per.join("; "))));

    // Q2
    let lbl = |run: &&Run| format!("seed {}", run.rep);
    out.claim(q2a.min_of(og.iter().map(|x| (lbl(x), at(x, last).test_acc))));
    let c = q2b.max_of(base.iter().map(|x| (lbl(x), at(x, last).test_acc)));
    let tr: Vec<String> = base.iter().map(|x| fmt_num(at(x, last).train_acc)).collect();
    out.claim(c.detail(format!("baseline training accuracy at epoch {last}: {}", tr.join(", "))));

    // Q3
    out.claim(q3a.min_of(base.iter().map(|x| (lbl(x), at(x, last).cos_neg_grad))));
    out.claim(q3b.min_of(base.iter().map(|x| (lbl(x), at(x, last).cos_neg_grad - at(x, 100).cos_neg_grad))));
    out.claim(q3c.max_of(og.iter().map(|x| (lbl(x), x.record.ortho_max_cos + x.record.ortho_max_norm_err))));

    // Q4
    out.claim(
        q4.measured(r.stablemax_fd_err.max(r.stablemax_jump))
            .detail(format!("{} random logit vectors; jump of s, s' at 0: {:.1e}", cfg.fd_vectors, r.stablemax_jump)),
    );

    // Q5
    if r.sc_runs.is_empty() {
        out.claim(q5.measured(0.0).detail("not run (sc_epochs = 0)"));
    } else {
        let sc = |rep: usize, dt: &str| {
            r.sc_runs.iter().find(|s| s.rep == rep && s.dtype == dt).map_or(0.0, |s| s.record.max_softmax_collapse)
        };
        let onset = |dt: &str| -> Vec<String> {
            r.sc_runs.iter().filter(|s| s.dtype == dt).map(|s| s.record.sc_onset.to_string()).collect()
        };
        let reps: Vec<usize> = r.sc_runs.iter().filter(|s| s.dtype == "f32").map(|s| s.rep).collect();
        let c = q5.min_of(reps.iter().map(|&k| (format!("seed {k}"), sc(k, "f32") - sc(k, "f64"))));
        out.claim(c.detail(format!(
            "{} epochs, p = {}, h = {}; max SC fraction f32: {}, f64: {}; first epoch with SC ≥ 1/2 (0: never) \
             f32: {}, f64: {}",
            cfg.sc_epochs,
            cfg.sc_p,
            cfg.sc_hidden,
            reps.iter().map(|&k| fmt_num(sc(k, "f32"))).collect::<Vec<_>>().join(", "),
            reps.iter().map(|&k| fmt_num(sc(k, "f64"))).collect::<Vec<_>>().join(", "),
            onset("f32").join(", "),
            onset("f64").join(", ")
        )));
    }

    // Figures: Fig. 1 analogue (accuracy vs epoch), cos(−∇L, θ), SC per dtype.
    let mut fig = Figure::xy(
        "accuracy",
        "Train/test accuracy, baseline vs ⊥Grad (mean, band: min–max over seeds)",
        "epoch",
        "accuracy",
    )
    .log_x();
    for (slot, (runs, name)) in [(&base, "baseline"), (&og, "⊥Grad")].into_iter().enumerate() {
        if runs.is_empty() {
            continue;
        }
        let (x, m, lo, hi) = band(runs, |p| p.train_acc);
        fig = fig.series(Series::dashed(&format!("{name} train"), x, m).with_band(lo, hi).color(slot));
        let (x, m, lo, hi) = band(runs, |p| p.test_acc);
        fig = fig.series(Series::line(&format!("{name} test"), x, m).with_band(lo, hi).color(slot + 2));
    }
    out.figure(fig);

    let mut fig = Figure::xy("cos_nlm", "Alignment of −∇L with θ (NLM direction)", "epoch", "cos(−∇L, θ)").log_x();
    for (runs, name) in [(&base, "baseline"), (&og, "⊥Grad (before projection)")] {
        if !runs.is_empty() {
            let (x, m, lo, hi) = band(runs, |p| p.cos_neg_grad);
            fig = fig.series(Series::line(name, x, m).with_band(lo, hi));
        }
    }
    out.figure(fig);

    if !r.sc_runs.is_empty() {
        let mut fig = Figure::xy(
            "sc_fraction",
            "Softmax collapse per format (baseline, no ⊥Grad)",
            "epoch",
            "fraction of training samples in SC",
        );
        for dt in ["f32", "f64"] {
            let v: Vec<Run> = r
                .sc_runs
                .iter()
                .filter(|s| s.dtype == dt)
                .map(|s| Run { rep: s.rep, orthograd: false, record: s.record.clone() })
                .collect();
            let refs: Vec<&Run> = v.iter().collect();
            if !refs.is_empty() {
                let (x, m, lo, hi) = band(&refs, |p| p.softmax_collapse);
                fig = fig.series(Series::line(dt, x, m).with_band(lo, hi));
            }
        }
        out.figure(fig);
    }

    out.note(format!(
        "Setup: (a + b) mod {p}, {f}% of the pairs for training; bias-free ReLU MLP [2·{p}, {h}, {h}, {p}] \
         (PyTorch-default uniform init), full batch, AdamW lr {lr}, β (0.9, {b2}), eps {eps:e}, no weight decay, \
         model and softmax CE in {dt} (`common::models::precision::PairMlp`); {reps} seeds, {e} epochs. ⊥Grad: \
         per tensor, g⊥ = g − (θ·g)/(θ·θ + 1e-30) θ rescaled to ‖g‖. cos(−∇L, θ) is of the raw gradient over all \
         tensors.",
        p = cfg.p,
        f = fmt_num(100.0 * cfg.train_frac),
        h = cfg.hidden,
        lr = fmt_num(cfg.lr),
        b2 = fmt_num(cfg.beta2),
        eps = cfg.eps,
        dt = cfg.dtype,
        reps = cfg.reps,
        e = cfg.epochs
    ));
    Ok(())
}
