//! One-shot pruning (no fine-tuning) of a trained MLP: global magnitude pruning against the
//! Optimal Brain Surgeon with the static M-FAC inverse Fisher (the repo's `MFACPruner`).
//!
//! OBS with M-FAC, one step (repo `main_prun.py`, `MFACPruner.prune`): from m gradients of the
//! still-active weights, `diag = diag(F^{-1})`; score `w_i^2 / (2 diag_i)`; drop the `k` lowest;
//! update `w += F^{-1} delta` with `delta_i = -w_i / diag_i` on the dropped weights (the sum of
//! their single-weight OBS updates, as the repo does), then set the dropped weights to exactly 0.
//! With recomputation the target sparsity is reached in steps, re-estimating F at the updated
//! weights each time.
use crate::static_inv::{BlockStatic, DEFAULT_PAGE};
use crate::task::{self, Task};
use anyhow::{Context, Result};
use common::Seed;
use common::device::Device;
use common::gpu::mlp_per_sample_grads;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Zero the smallest |w| (global over the weight matrices).
    Magnitude,
    /// M-FAC OBS, F recomputed at every sparsity step of the path.
    Mfac,
    /// M-FAC OBS, one F at the dense weights, pruned to each level in a single step.
    MfacOneStep,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Magnitude => "magnitude",
            Method::Mfac => "mfac_obs",
            Method::MfacOneStep => "mfac_obs_one_step",
        }
    }
}

/// Pruner settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PruneSettings {
    /// Gradients per Fisher estimate (per-sample gradients of a random subset of the training set).
    pub m: usize,
    /// Damping relative to the mean of the Fisher diagonal, `lambda = damp_rel * mean(diag)`.
    pub damp_rel: f64,
    /// Block size of the static algorithm (0: one block, all weights).
    pub blocksize: usize,
    /// Where the per-sample gradients are computed (the run's device; not part of the config).
    #[serde(skip, default = "cpu")]
    pub device: Device,
}

fn cpu() -> Device {
    Device::Cpu
}

/// One candidate weight of the saliency check at the first pruning step (claim C3c): what the
/// OBS saliency predicts for removing it alone, and what removing it does to the training loss.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ObsCandidate {
    /// Quantile of the weight in the score order (0 = the first to be pruned).
    pub quantile: f64,
    /// `w_q`.
    pub weight: f64,
    /// The OBS saliency `w_q^2 / (2 [F^{-1}]_qq)`: the increase of the Fisher's quadratic model
    /// `0.5 dw^T F dw` under the OBS update `dw = -w_q F^{-1} e_q / [F^{-1}]_qq` (an identity, in
    /// the unit tests).
    #[serde(with = "common::report::json_f64")]
    pub saliency: f64,
    /// `L(w + dw) - L(w)` on the training set, `dw` the OBS update.
    #[serde(with = "common::report::json_f64")]
    pub loss_increase: f64,
    /// The second-order Taylor model of the same change with the true Hessian H of the training
    /// loss: `grad^T dw + 0.5 dw^T H dw`.
    #[serde(with = "common::report::json_f64")]
    pub taylor_hessian: f64,
    /// `L(w - w_q e_q) - L(w)`: removing the weight without the OBS update (magnitude's step).
    #[serde(with = "common::report::json_f64")]
    pub zero_increase: f64,
}

/// Candidate weights of the saliency check: this many, at evenly spaced quantiles of the score
/// order of the first pruning step.
pub const OBS_CANDIDATES: usize = 32;

/// The OBS update of removing active weight `q` alone: `dw = -w_q F^{-1} e_q / [F^{-1}]_qq`.
pub fn obs_update(hinv: &BlockStatic, diag: &Array1<f64>, wa: &Array1<f64>, q: usize) -> Array1<f64> {
    let mut e = Array1::zeros(wa.len());
    e[q] = -wa[q] / diag[q];
    hinv.mul(e.view())
}

/// The saliency check on the weights at [`OBS_CANDIDATES`] evenly spaced quantiles of `order`.
fn candidates(
    task: &Task,
    w: &Array1<f64>,
    act: &[usize],
    (hinv, diag, score, order): (&BlockStatic, &Array1<f64>, &[f64], &[usize]),
) -> Vec<ObsCandidate> {
    let p = task.train_problem();
    let (l0, grad) = p.loss_grad(w.view());
    let wa = Array1::from_iter(act.iter().map(|&i| w[i]));
    let full = |dwa: &Array1<f64>| {
        let mut dw = Array1::zeros(w.len());
        for (j, &i) in act.iter().enumerate() {
            dw[i] = dwa[j];
        }
        dw
    };
    (0..OBS_CANDIDATES)
        .map(|k| {
            let quantile = (k as f64 + 0.5) / OBS_CANDIDATES as f64;
            let q = order[((quantile * act.len() as f64) as usize).min(act.len() - 1)];
            let dw = full(&obs_update(hinv, diag, &wa, q));
            let hdw = p.hvp(w.view(), dw.view());
            let mut zero = w.clone();
            zero[act[q]] = 0.0;
            ObsCandidate {
                quantile,
                weight: wa[q],
                saliency: score[q],
                loss_increase: p.loss((w + &dw).view()) - l0,
                taylor_hessian: grad.dot(&dw) + 0.5 * dw.dot(&hdw),
                zero_increase: p.loss(zero.view()) - l0,
            }
        })
        .collect()
}

/// Per-sample gradients of `m` training samples (a seeded subset), restricted to `cols`.
/// On the GPU under `--device cuda`; a GPU failure mid-run ends the study with the reason.
fn fisher_grads(
    task: &Task,
    w: &Array1<f64>,
    cols: &[usize],
    m: usize,
    device: Device,
    seed: Seed,
) -> Result<Array2<f64>> {
    let (split, n) = (&task.split, task.n_train());
    let perm = common::rng::permutation(&mut seed.rng(), n);
    let idx = &perm[..m.min(n)];
    let xs = split.x_train.select(Axis(0), idx);
    let ys = split.y_train.select(idx);
    let g = mlp_per_sample_grads(device, &task.model, xs.view(), &ys, w.view())
        .with_context(|| format!("per-sample gradients on {device:?}"))?;
    Ok(g.select(Axis(1), cols))
}

/// Fisher damping from the gradients: `damp_rel * mean_j (1/m) sum_i g_ij^2`. When that is not a
/// positive number (every gradient exactly zero, e.g. all ReLUs dead), `damp_rel` itself serves
/// as an absolute damping, as in the repo.
pub fn relative_damp(g: &Array2<f64>, damp_rel: f64) -> f64 {
    let d = damp_rel * g.iter().map(|v| v * v).sum::<f64>() / g.len() as f64;
    if d.is_finite() && d > 0.0 { d } else { damp_rel }
}

/// What one OBS step did.
struct Step {
    /// The dropped positions (into the active weights).
    drop: Vec<usize>,
    /// The saliency check, if asked.
    obs: Vec<ObsCandidate>,
    /// The sum of the dropped weights' saliencies.
    predicted: f64,
}

/// One M-FAC OBS step on the active weights `act` (indices into `w`): drop `k` of them.
fn obs_step(
    task: &Task,
    w: &mut Array1<f64>,
    act: &[usize],
    k: usize,
    s: &PruneSettings,
    seed: Seed,
    check: bool,
) -> Result<Step> {
    let g = fisher_grads(task, w, act, s.m, s.device, seed)?;
    let damp = relative_damp(&g, s.damp_rel);
    #[cfg(test)]
    let g = if plant::get() == plant::Plant::FisherWithoutOneOverM { g * (s.m as f64).sqrt() } else { g };
    let hinv = BlockStatic::new(g.view(), damp, s.blocksize, DEFAULT_PAGE);
    let diag = hinv.diag();
    #[cfg(test)]
    let diag =
        if plant::get() == plant::Plant::DiagOfIdentity { Array1::from_elem(diag.len(), 1.0 / damp) } else { diag };
    let wa = Array1::from_iter(act.iter().map(|&i| w[i]));
    let score: Vec<f64> = wa.iter().zip(&diag).map(|(wi, di)| wi * wi / (2.0 * di)).collect();
    let mut order: Vec<usize> = (0..act.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
    let drop = order[..k.min(act.len())].to_vec();

    let obs = if check { candidates(task, w, act, (&hinv, &diag, &score, &order)) } else { vec![] };
    let predicted: f64 = drop.iter().map(|&j| score[j]).sum();

    let mut delta = Array1::zeros(act.len());
    for &j in &drop {
        delta[j] = -wa[j] / diag[j];
    }
    let upd = hinv.mul(delta.view());
    #[cfg(test)]
    let upd = if plant::get() == plant::Plant::NoUpdate { upd * 0.0 } else { upd };
    for (j, &i) in act.iter().enumerate() {
        w[i] += upd[j];
    }
    for &j in &drop {
        w[act[j]] = 0.0;
    }
    Ok(Step { drop, obs, predicted })
}

/// Test-only hooks that plant a wrong OBS step (thread-local; read on the thread that prunes).
#[cfg(test)]
pub mod plant {
    use std::cell::Cell;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Plant {
        None,
        /// Drop the weights in the saliency order, without the OBS update of the others.
        NoUpdate,
        /// The Fisher without its 1/m: `lambda I + sum g g^T`.
        FisherWithoutOneOverM,
        /// `diag(F^{-1})` replaced by that of `lambda I` (scores and updates use `lambda^{-1}`).
        DiagOfIdentity,
    }

    thread_local! {
        static PLANT: Cell<Plant> = const { Cell::new(Plant::None) };
    }

    pub fn get() -> Plant {
        PLANT.with(|p| p.get())
    }
    pub fn set(p: Plant) {
        PLANT.with(|c| c.set(p));
    }
}

/// One point of a pruning path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrunePoint {
    pub sparsity: f64,
    #[serde(with = "common::report::json_f64")]
    pub test_acc: f64,
    #[serde(with = "common::report::json_f64")]
    pub train_loss: f64,
    /// The sum of the OBS saliencies of the weights this step dropped (M-FAC; NaN for magnitude):
    /// the Fisher's prediction of the step's loss increase.
    #[serde(with = "common::report::json_f64")]
    pub predicted_increase: f64,
}

/// Prune the weights `widx` of the trained `w` to each sparsity of `levels` (increasing) with
/// `method`; returns the path and, for [`Method::Mfac`], the saliency check of its first step.
pub fn prune_path(
    task: &Task,
    w_dense: &Array1<f64>,
    widx: &[usize],
    levels: &[f64],
    method: Method,
    s: &PruneSettings,
    seed: Seed,
) -> Result<(Vec<PrunePoint>, Vec<ObsCandidate>)> {
    let nw = widx.len();
    let count = |lvl: f64| ((lvl * nw as f64).round() as usize).min(nw);
    let eval = |w: &Array1<f64>, lvl: f64, predicted_increase: f64| PrunePoint {
        sparsity: lvl,
        test_acc: task.test_problem().accuracy(w.view()),
        train_loss: task.train_problem().loss(w.view()),
        predicted_increase,
    };
    let mut out = vec![];
    let mut first_check = vec![];
    match method {
        Method::Magnitude => {
            let mut order: Vec<usize> = widx.to_vec();
            order.sort_by(|&a, &b| w_dense[a].abs().total_cmp(&w_dense[b].abs()).then(a.cmp(&b)));
            for &lvl in levels {
                let mut w = w_dense.clone();
                for &i in &order[..count(lvl)] {
                    w[i] = 0.0;
                }
                out.push(eval(&w, lvl, f64::NAN));
            }
        }
        Method::Mfac => {
            let mut w = w_dense.clone();
            let mut act: Vec<usize> = widx.to_vec();
            for (step, &lvl) in levels.iter().enumerate() {
                if act.is_empty() {
                    // every weight is already pruned: nothing to estimate
                    out.push(eval(&w, lvl, 0.0));
                    continue;
                }
                let k = count(lvl).saturating_sub(nw - act.len());
                let st = obs_step(task, &mut w, &act, k, s, seed.child_idx("fisher", step as u64), step == 0)?;
                if step == 0 {
                    first_check = st.obs;
                }
                let dropped: std::collections::HashSet<usize> = st.drop.into_iter().collect();
                act = act.iter().enumerate().filter(|(j, _)| !dropped.contains(j)).map(|(_, &i)| i).collect();
                out.push(eval(&w, lvl, st.predicted));
            }
        }
        Method::MfacOneStep => {
            for &lvl in levels {
                let mut w = w_dense.clone();
                let st = obs_step(task, &mut w, widx, count(lvl), s, seed.child_idx("fisher", 0), false)?;
                out.push(eval(&w, lvl, st.predicted));
            }
        }
    }
    Ok((out, first_check))
}

/// Everything the pruning experiment measures for one task seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PruneSeed {
    /// Test accuracy of the trained dense model.
    pub dense_acc: f64,
    /// Training loss of the trained dense model.
    pub dense_loss: f64,
    /// The pruning path of each method.
    pub paths: Vec<(Method, Vec<PrunePoint>)>,
    /// The saliency check at M-FAC's first step.
    pub obs: Vec<ObsCandidate>,
}

impl PruneSeed {
    /// Test accuracy of `method` at sparsity `lvl` (NaN when not on the path).
    pub fn acc(&self, method: Method, lvl: f64) -> f64 {
        self.paths
            .iter()
            .find(|p| p.0 == method)
            .and_then(|p| p.1.iter().find(|q| (q.sparsity - lvl).abs() < 1e-9))
            .map_or(f64::NAN, |q| q.test_acc)
    }
}

/// The three methods, in report order.
pub const METHODS: [Method; 3] = [Method::Magnitude, Method::Mfac, Method::MfacOneStep];

/// Train the dense MLP of task seed `k` and prune it with every method. `root` is the run's root
/// seed.
pub fn run_seed(cfg: &crate::Config, k: usize, device: Device, root: Seed) -> Result<PruneSeed> {
    let settings =
        PruneSettings { m: cfg.prune_m, damp_rel: cfg.prune_damp_rel, blocksize: cfg.prune_blocksize, device };
    let s = root.child("task").child_idx("seed", k as u64);
    let t = Task::digits(s.child("split"), cfg.test_frac, cfg.hidden)?;
    let w = task::train_dense(&t, cfg.dense_epochs, cfg.batch, cfg.dense_lr, s.child("dense"));
    let dense_acc = t.test_problem().accuracy(w.view());
    let dense_loss = t.train_problem().loss(w.view());
    let widx = task::weight_indices(&t.model);
    let (mut paths, mut obs) = (vec![], vec![]);
    for meth in METHODS {
        let (p, chk) = prune_path(&t, &w, &widx, &cfg.sparsities, meth, &settings, s.child("prune"))?;
        paths.push((meth, p));
        obs.extend(chk);
    }
    Ok(PruneSeed { dense_acc, dense_loss, paths, obs })
}

/// One row of the `pruning` table.
#[derive(Clone, Debug, Serialize)]
pub struct PruneRow {
    pub seed: usize,
    pub method: &'static str,
    pub sparsity: f64,
    pub test_acc: f64,
    pub train_loss: f64,
    /// NaN: magnitude pruning predicts nothing.
    #[serde(with = "common::report::json_f64")]
    pub predicted_increase: f64,
}

/// One row of the `obs_check` table.
#[derive(Clone, Debug, Serialize)]
pub struct ObsRow {
    pub seed: usize,
    #[serde(flatten)]
    pub candidate: ObsCandidate,
}

/// The rows of the `pruning` and `obs_check` tables.
pub fn table_rows(res: &[PruneSeed]) -> (Vec<PruneRow>, Vec<ObsRow>) {
    let (mut paths, mut obs) = (vec![], vec![]);
    for (seed, r) in res.iter().enumerate() {
        for (m, path) in &r.paths {
            for p in path {
                let (sparsity, test_acc, train_loss, predicted_increase) =
                    (p.sparsity, p.test_acc, p.train_loss, p.predicted_increase);
                paths.push(PruneRow { seed, method: m.name(), sparsity, test_acc, train_loss, predicted_increase });
            }
        }
        obs.extend(r.obs.iter().map(|c| ObsRow { seed, candidate: c.clone() }));
    }
    (paths, obs)
}
