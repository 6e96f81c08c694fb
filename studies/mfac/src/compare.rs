//! The optimizer comparison (M6): SGD with momentum, Adam and the M-FAC optimizer on the digits
//! MLP, each on its grid of learning rates and seeds, from the same initialisation per seed. The
//! tuned learning rate of an optimizer is the one with the fewest median steps to the target
//! training loss (ties, e.g. never reached: the lowest median final loss).
use crate::{Config, optimizer, task};
use anyhow::Result;
use common::Seed;
use common::optim::{Optimizer, adam, momentum, stateful};
use common::report::fmt_num;
use serde::{Deserialize, Serialize};

/// The optimizers compared.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptKind {
    SgdMomentum { beta: f64 },
    Adam,
    Mfac { m: usize, damp: f64 },
}

impl OptKind {
    /// Legend and table label.
    pub fn label(&self) -> String {
        match *self {
            OptKind::SgdMomentum { beta } => format!("SGD (momentum {beta})"),
            OptKind::Adam => "Adam".into(),
            OptKind::Mfac { m, damp } => format!("M-FAC (m={m}, λ={})", fmt_num(damp)),
        }
    }
    fn build(&self, lr: f64) -> Box<dyn Optimizer> {
        match *self {
            OptKind::SgdMomentum { beta } => Box::new(stateful(momentum(lr, beta))),
            OptKind::Adam => Box::new(stateful(adam(lr, 0.9, 0.999, 1e-8))),
            OptKind::Mfac { m, damp } => Box::new(stateful(optimizer::mfac(lr, m, damp, 0.0))),
        }
    }
}

/// One cell of the `optim` grid (its JSON is part of the cell's cache key).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptCell {
    pub opt: OptKind,
    pub lr: f64,
    pub seed: usize,
}

/// One training run: the full training loss every `opt_eval_every` steps (a diverged run stops
/// early; its last loss may be non-finite).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptRun {
    pub steps: Vec<usize>,
    #[serde(with = "common::report::json_f64::vec")]
    pub loss: Vec<f64>,
}

/// A cell and its run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptResult {
    pub cell: OptCell,
    pub run: OptRun,
}

/// The four optimizers in report order (SGD, Adam, M-FAC, M-FAC at the small damping), each with
/// its learning-rate grid.
pub fn kinds(cfg: &Config) -> Vec<(OptKind, &[f64])> {
    vec![
        (OptKind::SgdMomentum { beta: cfg.opt_momentum }, &cfg.opt_lrs_sgd),
        (OptKind::Adam, &cfg.opt_lrs_adam),
        (OptKind::Mfac { m: cfg.opt_m, damp: cfg.opt_mfac_damp }, &cfg.opt_lrs_mfac),
        (OptKind::Mfac { m: cfg.opt_m, damp: cfg.opt_small_damp }, &cfg.opt_lrs_mfac_small_damp),
    ]
}

/// Every (optimizer, learning rate, seed).
pub fn cells(cfg: &Config) -> Vec<OptCell> {
    kinds(cfg)
        .into_iter()
        .flat_map(|(k, lrs)| {
            lrs.iter().flat_map(move |&lr| (0..cfg.seeds).map(move |seed| OptCell { opt: k, lr, seed }))
        })
        .collect()
}

/// Train from the seed's initialisation with the cell's optimizer. `root` is the run's root seed
/// (the task and the initialisation depend on the task seed only, not on the optimizer).
pub fn run_cell(cfg: &Config, c: &OptCell, root: Seed) -> Result<OptRun> {
    let s = root.child("task").child_idx("seed", c.seed as u64);
    let t = task::Task::digits(s.child("split"), cfg.test_frac, cfg.hidden)?;
    let w0 = t.model.init(&mut s.child("init").rng());
    let mut opt = c.opt.build(c.lr);
    let (_, curve) =
        task::fit(&t, w0.view(), opt.as_mut(), cfg.opt_epochs, cfg.batch, cfg.opt_eval_every, s.child("batches"));
    Ok(OptRun { steps: curve.iter().map(|p| p.0).collect(), loss: curve.iter().map(|p| p.1).collect() })
}

/// An optimizer at its tuned learning rate.
#[derive(Clone, Debug)]
pub struct Tuned {
    pub kind: OptKind,
    pub lr: f64,
    /// Median steps to the target over seeds (`never` when not reached).
    pub steps: f64,
    /// Median final loss (infinity for a diverged run).
    pub final_loss: f64,
}

/// One row of the `optim` table.
#[derive(Clone, Debug, Serialize)]
pub struct OptRow {
    pub optimizer: String,
    pub lr: f64,
    pub seed: usize,
    /// NaN: not reached.
    pub steps_to_target: f64,
    pub final_train_loss: f64,
}

/// The outcome of the comparison: the tuned rate of each optimizer (in [`kinds`] order), the
/// table rows, the longest run and the "never reached" value of the steps.
pub struct Comparison {
    pub tuned: Vec<Tuned>,
    pub rows: Vec<OptRow>,
    pub horizon: usize,
    pub never: f64,
}

/// Tune each optimizer's learning rate from the runs.
pub fn compare(cfg: &Config, runs: &[OptResult]) -> Comparison {
    let horizon = runs.iter().map(|r| r.run.steps.last().copied().unwrap_or(0)).max().unwrap_or(0);
    // steps to the target: the first evaluation at or below it; never reached = beyond the horizon
    let reach = |r: &OptRun| r.steps.iter().zip(&r.loss).find(|p| *p.1 <= cfg.opt_target_loss).map(|p| *p.0 as f64);
    let never = 2.0 * horizon.max(1) as f64;
    let med = common::stats::median;
    let (mut tuned, mut rows) = (vec![], vec![]);
    for (k, lrs) in kinds(cfg) {
        let mut b: Option<Tuned> = None;
        for &lr in lrs {
            let (mut steps, mut finals) = (vec![], vec![]);
            for r in runs.iter().filter(|r| r.cell.opt == k && r.cell.lr == lr) {
                let fin = r.run.loss.last().copied().unwrap_or(f64::NAN);
                rows.push(OptRow {
                    optimizer: k.label(),
                    lr,
                    seed: r.cell.seed,
                    steps_to_target: reach(&r.run).unwrap_or(f64::NAN),
                    final_train_loss: fin,
                });
                steps.push(reach(&r.run).unwrap_or(never));
                // a diverged run (stopped early, or non-finite) ranks last on the tie-break
                let complete = r.run.steps.last() == Some(&horizon) && fin.is_finite();
                finals.push(if complete { fin } else { f64::INFINITY });
            }
            let cand = Tuned { kind: k, lr, steps: med(&steps), final_loss: med(&finals) };
            if b.as_ref().is_none_or(|b| (cand.steps, cand.final_loss) < (b.steps, b.final_loss)) {
                b = Some(cand);
            }
        }
        tuned.extend(b);
    }
    Comparison { tuned, rows, horizon, never }
}

impl Comparison {
    /// `M-FAC (m=32, λ=0.1) at lr 0.1: 190 steps`.
    pub fn describe(&self, t: &Tuned) -> String {
        let s = if t.steps >= self.never {
            format!("not reached (final loss {})", fmt_num(t.final_loss))
        } else {
            format!("{} steps", fmt_num(t.steps))
        };
        format!("{} at lr {}: {s}", t.kind.label(), fmt_num(t.lr))
    }
}
