//! The study's figures: x_t against the iteration on F1–F3 (the notebook's plots), each function
//! with the final points marked, and E2's test accuracy against the lr per optimizer (seed bands).

use common::report::fmt_num;
use common::{Figure, Series};

use crate::synthetic::{self, Func, Solver};
use crate::{Config, Opt, Results, SummaryRow};

fn label(s: Solver, lr: f64) -> String {
    let name = match s {
        Solver::Adam => "Adam",
        Solver::Diffgrad => "diffGrad",
        Solver::DiffgradBuggy => "diffGrad-buggy",
    };
    format!("{name}, lr {}", fmt_num(lr))
}

fn opt_label(o: Opt) -> &'static str {
    match o {
        Opt::Adam => "Adam",
        Opt::Diffgrad => "diffGrad (fixed)",
        Opt::DiffgradBuggy => "diffGrad-buggy",
        Opt::AdamHalf => "Adam at lr/2",
        Opt::Amsgrad => "AMSGrad",
        Opt::Sgdm => "SGDM 0.9 (lr × scale)",
    }
}

/// Every figure, in report order.
pub fn all(cfg: &Config, r: &Results, summary: &[SummaryRow]) -> Vec<Figure> {
    let mut figs = vec![];
    // The runs drawn: the notebook's two at lr, the buggy one at lr, Adam at the control lr.
    let drawn = [
        (Solver::Adam, cfg.lr, 0),
        (Solver::Diffgrad, cfg.lr, 1),
        (Solver::DiffgradBuggy, cfg.lr, 2),
        (Solver::Adam, cfg.control_lr, 3),
    ];
    for f in synthetic::FUNCS {
        let mut fig = Figure::xy(
            &format!("trajectory_{}", f.name().to_lowercase()),
            &format!("{}: x_t against the iteration (the notebook's plot)", f.name()),
            "iteration",
            "x_t",
        );
        for &(s, lr, slot) in &drawn {
            if let Some(run) = r.synthetic.iter().find(|x| x.func == f && x.solver == s && x.lr == lr) {
                let t: Vec<f64> = (1..=run.xs.len()).map(|i| i as f64).collect();
                fig = fig.series(Series::line(&label(s, lr), t, run.xs.clone()).color(slot));
            }
        }
        fig = fig.series(Series::hline(
            &format!("global minimum x = {}", fmt_num(f.global_min())),
            f.global_min(),
            1.0,
            cfg.iters as f64,
        ));
        figs.push(fig);
    }
    for f in synthetic::FUNCS {
        let (lo, hi) = match f {
            Func::F1 => (-1.0, 0.8),
            Func::F2 => (-1.1, 0.8),
            Func::F3 => (-1.0, 1.0),
        };
        let xs = common::stats::linspace(lo, hi, 801);
        let ys: Vec<f64> = xs.iter().map(|&x| f.value(x)).collect();
        let mut fig = Figure::xy(
            &format!("function_{}", f.name().to_lowercase()),
            &format!(
                "{} with the final points at lr {} and Adam at lr {}",
                f.name(),
                fmt_num(cfg.lr),
                fmt_num(cfg.control_lr)
            ),
            "x",
            &format!("{}(x)", f.name()),
        );
        fig = fig.series(Series::reference(&format!("{}(x)", f.name()), xs, ys));
        for &(s, lr, slot) in &drawn {
            if let Some(run) = r.synthetic.iter().find(|x| x.func == f && x.solver == s && x.lr == lr) {
                let x = run.final_x;
                fig = fig
                    .series(Series::markers(&format!("{} final", label(s, lr)), vec![x], vec![f.value(x)]).color(slot));
            }
        }
        figs.push(fig);
    }
    let mut acc = Figure::xy(
        "digits_accuracy",
        "E2: test accuracy against the lr run (mean; band: min–max over repetitions); diffGrad covers diffGrad-buggy",
        "learning rate run",
        "test accuracy (%)",
    )
    .log_x()
    .wide();
    for (slot, &o) in cfg.optimizers.iter().enumerate() {
        let rows: Vec<&SummaryRow> = summary.iter().filter(|s| s.optimizer == o.name()).collect();
        if rows.is_empty() {
            continue;
        }
        let x: Vec<f64> = rows.iter().map(|s| s.lr_used).collect();
        let y: Vec<f64> = rows.iter().map(|s| 100.0 * s.mean_acc).collect();
        let lo: Vec<f64> = rows.iter().map(|s| 100.0 * s.min_acc).collect();
        let hi: Vec<f64> = rows.iter().map(|s| 100.0 * s.max_acc).collect();
        acc = acc.series(Series::line_markers(opt_label(o), x, y).with_band(lo, hi).color(slot));
    }
    figs.push(acc);

    // Training-loss curves of diffGrad-buggy (lines) and Adam(lr/2) (markers, same colour), rep 0.
    let mut lc = Figure::xy(
        "buggy_vs_half_adam",
        "E2: training loss, diffGrad-buggy (lines) and Adam at lr/2 (markers), repetition 0",
        "epoch",
        "training loss",
    )
    .log_y();
    for (slot, &lr) in cfg.lrs.iter().enumerate() {
        let curve = |o: Opt| {
            r.digits
                .filter(|c| c.is("opt", o) && c.f64("lr") == lr && c.rep() == 0)
                .map(|x| x.1.loss_curve.clone())
                .next()
        };
        if let (Some(b), Some(h)) = (curve(Opt::DiffgradBuggy), curve(Opt::AdamHalf)) {
            let e = |n: usize| (0..n).map(|i| i as f64).collect::<Vec<f64>>();
            lc = lc.series(Series::line(&format!("diffGrad-buggy, lr {}", fmt_num(lr)), e(b.len()), b).color(slot));
            lc = lc.series(Series::markers(&format!("Adam at lr {}", fmt_num(lr / 2.0)), e(h.len()), h).color(slot));
        }
    }
    figs.push(lc);
    figs
}
