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
use crate::task::Task;
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

/// The OBS check at the first pruning step (claim F4), for the weight at one quantile of the
/// score order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ObsCheck {
    /// Quantile of the weight in the score order (0 = the first to be pruned).
    pub quantile: f64,
    /// `w_q^2 / (2 [F^{-1}]_qq)`.
    pub predicted: f64,
    /// `0.5 dw^T F dw` for its OBS update `dw = -w_q F^{-1} e_q / [F^{-1}]_qq` (F applied
    /// matrix-free from the gradients; equals `predicted` exactly in exact arithmetic).
    pub fisher_quadratic: f64,
    /// `L(w + dw) - L(w)` on the training set (the true loss, not its quadratic model).
    pub loss_increase: f64,
    /// `|w_q + dw_q| / |w_q|` (the update must remove the weight exactly).
    pub residual_weight: f64,
}

/// Score quantiles at which the OBS check is made.
pub const OBS_QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];

/// Per-sample gradients of `m` training samples (a seeded subset), restricted to `cols`.
/// On the GPU under `--device cuda`; a GPU failure mid-run aborts the study with the reason.
fn fisher_grads(task: &Task, w: &Array1<f64>, cols: &[usize], m: usize, device: Device, seed: Seed) -> Array2<f64> {
    let (split, n) = (&task.split, task.n_train());
    let perm = common::rng::permutation(&mut seed.rng(), n);
    let idx = &perm[..m.min(n)];
    let xs = split.x_train.select(Axis(0), idx);
    let ys = split.y_train.select(idx);
    let g = mlp_per_sample_grads(device, &task.model, xs.view(), &ys, w.view())
        .unwrap_or_else(|e| panic!("per-sample gradients failed: {e:#}"));
    g.select(Axis(1), cols)
}

/// Fisher damping from the gradients: `damp_rel * mean_j (1/m) sum_i g_ij^2`.
pub fn relative_damp(g: &Array2<f64>, damp_rel: f64) -> f64 {
    damp_rel * g.iter().map(|v| v * v).sum::<f64>() / g.len() as f64
}

/// One M-FAC OBS step on the active weights `act` (indices into `w`): drop `k` of them.
/// Returns the dropped positions (into `act`) and, if asked, the OBS checks.
fn obs_step(
    task: &Task,
    w: &mut Array1<f64>,
    act: &[usize],
    k: usize,
    s: &PruneSettings,
    seed: Seed,
    check: bool,
) -> (Vec<usize>, Vec<ObsCheck>) {
    let g = fisher_grads(task, w, act, s.m, s.device, seed);
    let damp = relative_damp(&g, s.damp_rel);
    let hinv = BlockStatic::new(g.view(), damp, s.blocksize, DEFAULT_PAGE);
    let diag = hinv.diag();
    let wa = Array1::from_iter(act.iter().map(|&i| w[i]));
    let score: Vec<f64> = wa.iter().zip(&diag).map(|(wi, di)| wi * wi / (2.0 * di)).collect();
    let mut order: Vec<usize> = (0..act.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
    let drop = order[..k.min(act.len())].to_vec();

    let mut obs = vec![];
    if check {
        let p = task.train_problem();
        let l0 = p.loss(w.view());
        for qt in OBS_QUANTILES {
            let q = order[((qt * act.len() as f64) as usize).min(act.len() - 1)];
            let mut e = Array1::zeros(act.len());
            e[q] = -wa[q] / diag[q];
            let dw = hinv.mul(e.view());
            // F dw = damp dw + G^T (G dw) / m, applied matrix-free
            let gdw = g.dot(&dw);
            let fdw = &dw * damp + &(g.t().dot(&gdw) / g.nrows() as f64);
            let mut w1 = w.clone();
            for (j, &i) in act.iter().enumerate() {
                w1[i] += dw[j];
            }
            obs.push(ObsCheck {
                quantile: qt,
                predicted: score[q],
                fisher_quadratic: 0.5 * dw.dot(&fdw),
                loss_increase: p.loss(w1.view()) - l0,
                residual_weight: if wa[q] == 0.0 { 0.0 } else { (wa[q] + dw[q]).abs() / wa[q].abs() },
            });
        }
    }

    let mut delta = Array1::zeros(act.len());
    for &j in &drop {
        delta[j] = -wa[j] / diag[j];
    }
    let upd = hinv.mul(delta.view());
    for (j, &i) in act.iter().enumerate() {
        w[i] += upd[j];
    }
    for &j in &drop {
        w[act[j]] = 0.0;
    }
    (drop, obs)
}

/// One point of a pruning path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrunePoint {
    pub sparsity: f64,
    pub test_acc: f64,
    pub train_loss: f64,
}

/// Prune the weights `widx` of the trained `w` to each sparsity of `levels` (increasing) with
/// `method`; returns the path and, for [`Method::Mfac`], the OBS checks of its first step.
pub fn prune_path(
    task: &Task,
    w_dense: &Array1<f64>,
    widx: &[usize],
    levels: &[f64],
    method: Method,
    s: &PruneSettings,
    seed: Seed,
) -> (Vec<PrunePoint>, Vec<ObsCheck>) {
    let nw = widx.len();
    let count = |lvl: f64| ((lvl * nw as f64).round() as usize).min(nw);
    let eval = |w: &Array1<f64>, lvl: f64| PrunePoint {
        sparsity: lvl,
        test_acc: task.test_problem().accuracy(w.view()),
        train_loss: task.train_problem().loss(w.view()),
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
                out.push(eval(&w, lvl));
            }
        }
        Method::Mfac => {
            let mut w = w_dense.clone();
            let mut act: Vec<usize> = widx.to_vec();
            for (step, &lvl) in levels.iter().enumerate() {
                let k = count(lvl).saturating_sub(nw - act.len());
                let (drop, chk) = obs_step(task, &mut w, &act, k, s, seed.child_idx("fisher", step as u64), step == 0);
                if step == 0 {
                    first_check = chk;
                }
                let dropped: std::collections::HashSet<usize> = drop.into_iter().collect();
                act = act.iter().enumerate().filter(|(j, _)| !dropped.contains(j)).map(|(_, &i)| i).collect();
                out.push(eval(&w, lvl));
            }
        }
        Method::MfacOneStep => {
            for &lvl in levels {
                let mut w = w_dense.clone();
                obs_step(task, &mut w, widx, count(lvl), s, seed.child_idx("fisher", 0), false);
                out.push(eval(&w, lvl));
            }
        }
    }
    (out, first_check)
}
