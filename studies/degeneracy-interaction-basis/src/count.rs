//! The dimension of the degenerate directions: predicted from the network's structure by the
//! paper's three mechanisms, and observed as the numerical null space of the stacked Jacobian.
//!
//! Write `ã_l = [a_l; 1]` for the input of layer `l` with the bias folded in, `F_m` for the set of
//! points on which unit `m` fires (every point for an output unit) and `S_l(x) = ∂f/∂z_l`. A
//! change `δ` of the incoming row of unit `m` moves the outputs at `x_i` by `S_l(x_i)[:, m]·(δ·ã_i)`,
//! which vanishes off `F_m`. The prediction counts:
//!
//! 1. **Activation dependence, restricted to firing sets** (mechanisms 1 and 3): for every unit
//!    `m` of every layer, the nullity of `Ã_{l}[F_m, :]` (the layer's inputs on the points where
//!    `m` fires). Exact dependencies among a layer's activations (input dependencies,
//!    proportional units) give `d_{l+1}` directions each (one per unit `m` of the next layer); a
//!    dead unit gives its whole incoming row (`F_m = ∅`) and one entry per unit of the next layer
//!    (its outgoing column, a zero column of `Ã`). A unit of the next layer that fires only where
//!    a group of units is silent frees its weights from that group.
//! 2. **Jacobian dependence** (mechanism 2): the stacked sensitivities of a layer that has no
//!    effect on the outputs (a dead unit: its column of `S_l` vanishes) free the unit's incoming
//!    row, already counted in 1 for a dead unit; other null vectors of the stacked `S_l` add
//!    `d_{l}+1` directions each (`extra_jacobian`).
//! 3. **Rescaling and synchronised ReLUs**: each live hidden unit has its ReLU rescaling (1); a
//!    group of `k` live units of one layer with the same firing set `F` and pre-activations of
//!    rank `r` on `F` admits `GL(k)`-type mixings compensated in the next layer: `k(r − 1)` beyond
//!    the rescalings (`k² − k` for `r = k`, none for proportional units, whose mixing is already
//!    the activation dependence of 1); a group that fires on every point can also shift by a
//!    constant (`k·r`).
use common::linalg::eigh;
use common::linalg::rank::{NumericalRank, numerical_rank, psd_rank};
use common::models::jacobian::{Backprop, backprop, param_jacobian};
use common::models::{Mlp, Model};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The predicted null dimension, by mechanism.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Mechanism 1 (with 3's firing-set restriction): Σ over units of the nullity of the layer's
    /// inputs on the unit's firing set.
    pub activation: usize,
    /// Mechanism 2 beyond dead units: (d_{l}+1) per null vector of the stacked sensitivities that
    /// is not a dead unit.
    pub jacobian: usize,
    /// ReLU rescalings: one per live hidden unit.
    pub rescaling: usize,
    /// Synchronised ReLUs: k(r − 1) per group of k live units with the same firing set (k·r if
    /// the group fires everywhere).
    pub synchronised: usize,
    /// Hidden units that never fire.
    pub dead: usize,
    /// Groups of ≥ 2 live units with identical firing sets, and always-on units.
    pub groups: usize,
}

impl Prediction {
    /// The predicted dimension of the null space.
    pub fn total(&self) -> usize {
        self.activation + self.jacobian + self.rescaling + self.synchronised
    }
}

/// Switches for the planted-bug tests (all `false` in the study).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bugs {
    /// Count activation dependence without the constant input (biases forgotten).
    pub no_bias_column: bool,
    /// Count without the firing-set restriction (global activations only).
    pub unrestricted: bool,
}

/// Nullity of a (small) matrix from the eigenvalues of its Gram matrix (largest-gap cut above
/// `ε λ_max`); an empty matrix has full nullity.
fn nullity(a: ArrayView2<f64>) -> usize {
    let c = a.ncols();
    if a.nrows() == 0 {
        return c;
    }
    let g = a.t().dot(&a);
    let (vals, _) = eigh(&g);
    if vals.iter().all(|&v| v == 0.0) {
        return c;
    }
    c - psd_rank(vals.as_slice().expect("contiguous"), None).expect("finite Gram matrix").rank
}

/// The layer inputs with the constant column folded in (or not, under the bug).
fn folded(a: &Array2<f64>, bias: bool) -> Array2<f64> {
    if !bias {
        return a.clone();
    }
    let mut out = Array2::ones((a.nrows(), a.ncols() + 1));
    out.slice_mut(ndarray::s![.., ..a.ncols()]).assign(a);
    out
}

fn rows(a: &Array2<f64>, idx: &[usize]) -> Array2<f64> {
    a.select(Axis(0), idx)
}

/// The prediction for a ReLU network with biases on the batch `x`.
pub fn predict(mlp: &Mlp, w: &Array1<f64>, x: &Array2<f64>, bugs: Bugs) -> Prediction {
    let bp: Backprop = backprop(mlp, w.view(), x.view());
    let big_l = mlp.num_layers();
    let n = x.nrows();
    let mut p = Prediction::default();
    let firing = |l: usize, m: usize| -> Vec<usize> {
        if l + 1 == big_l || bugs.unrestricted {
            (0..n).collect()
        } else {
            (0..n).filter(|&i| bp.pre[l][[i, m]] > 0.0).collect()
        }
    };
    for l in 0..big_l {
        let a = folded(&bp.inputs[l], mlp.bias && !bugs.no_bias_column);
        for m in 0..mlp.sizes[l + 1] {
            p.activation += nullity(rows(&a, &firing(l, m)).view());
        }
    }
    for l in 0..big_l - 1 {
        let h = mlp.sizes[l + 1];
        let s =
            bp.sens[l].view().into_shape_with_order((n * mlp.sizes.last().unwrap(), h)).expect("contiguous").to_owned();
        let fires: Vec<bool> = (0..h).map(|j| (0..n).any(|i| bp.pre[l][[i, j]] > 0.0)).collect();
        let silent: Vec<bool> = (0..h).map(|j| s.column(j).iter().all(|&v| v == 0.0)).collect();
        // Mechanism 2 beyond units whose sensitivity column vanishes.
        let live_cols: Vec<usize> = (0..h).filter(|&j| !silent[j]).collect();
        let extra = nullity(s.select(Axis(1), &live_cols).view());
        p.jacobian += extra * (mlp.sizes[l] + usize::from(mlp.bias));
        let mut groups: BTreeMap<Vec<bool>, Vec<usize>> = BTreeMap::new();
        for j in 0..h {
            if !fires[j] {
                p.dead += 1;
            }
            if fires[j] && !silent[j] {
                p.rescaling += 1;
                let key: Vec<bool> = (0..n).map(|i| bp.pre[l][[i, j]] > 0.0).collect();
                groups.entry(key).or_default().push(j);
            }
        }
        for (key, g) in groups {
            let everywhere = key.iter().all(|&f| f);
            if g.len() < 2 && !everywhere {
                continue;
            }
            let f: Vec<usize> = (0..n).filter(|&i| key[i]).collect();
            let z = rows(&bp.pre[l], &f).select(Axis(1), &g);
            let k = g.len();
            let r = k - nullity(z.view());
            p.groups += 1;
            p.synchronised += if everywhere { k * r } else { k * (r.max(1) - 1) };
        }
    }
    p
}

/// The textbook count of a constructed case from the paper's formulas alone (no inspection of
/// the network): every hidden unit's rescaling, plus the planted mechanism's count.
pub fn textbook(case: crate::nets::Case, sizes: &[usize], input_deps: usize) -> usize {
    use crate::nets::Case;
    let hidden: usize = sizes[1..sizes.len() - 1].iter().sum();
    match case {
        Case::Baseline => hidden,
        // Each input dependency frees d1 directions in W1 (one per layer-1 unit).
        Case::InputDeps => hidden + input_deps * sizes[1],
        // A dead unit in layer l: its incoming row (d_{l-1}+1) and outgoing column (d_{l+1}) are
        // free, its rescaling is among them (−1); the two dead units share one weight (−1).
        Case::Dead => hidden + (sizes[0] + 1 + sizes[2] - 1) + (sizes[1] + 1 + sizes[3] - 1) - 1,
        // One exact dependence among layer-1 activations frees d2 directions.
        Case::Proportional => hidden + sizes[2],
        // GL(2) beyond the two rescalings.
        Case::SyncPair => hidden + 2,
        // ... and the silenced unit's two weights from the pair.
        Case::SyncSilenced => hidden + 2 + 2,
    }
}

/// The observed null space of the stacked Jacobian and of the behavioural-loss Hessian.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Observed {
    /// Parameters p.
    pub params: usize,
    /// Rows of the stacked Jacobian (n·outputs).
    pub rows: usize,
    /// p − rank(J) with the cut at the largest gap.
    pub null_j: usize,
    /// The cut on J's singular values.
    pub cut_j: NumericalRank,
    /// p − rank(H), H the Hessian of the behavioural loss ½·mean‖f(θ') − f(θ)‖² at θ (exact HVPs).
    pub null_h: usize,
    /// The cut on H's eigenvalues.
    pub cut_h: NumericalRank,
    /// Singular values of J, descending, divided by the largest.
    pub sv: Vec<f64>,
    /// Null dimension with the tolerance-free rule (singular values exactly 0), for contrast.
    pub null_exact_zero: usize,
}

/// Observes the null spaces at `w` (the behavioural loss's minimum).
pub fn observe(mlp: &Mlp, w: &Array1<f64>, x: &Array2<f64>) -> Observed {
    let jac = param_jacobian(mlp, w.view(), x.view());
    let p = mlp.num_params();
    let cut_j = numerical_rank(jac.view()).expect("finite Jacobian");
    let mut sv = common::linalg::dense::singular_values(&jac).to_vec();
    sv.sort_by(|a, b| b.total_cmp(a));
    let top = sv[0];
    let null_exact_zero = p - sv.iter().filter(|&&s| s > 0.0).count();
    let sv: Vec<f64> = sv.iter().map(|s| s / top).collect();
    let y = common::models::Targets::Regression(mlp.forward(w.view(), x.view()));
    let prob = common::models::Problem::new(mlp, x.view(), &y);
    let h = prob.hessian(w.view());
    let hs = (&h + &h.t()) * 0.5;
    let (vals, _) = eigh(&hs);
    let cut_h = psd_rank(vals.as_slice().expect("contiguous"), None).expect("finite Hessian");
    Observed {
        params: p,
        rows: jac.nrows(),
        null_j: p - cut_j.rank,
        cut_j,
        null_h: p - cut_h.rank,
        cut_h,
        sv,
        null_exact_zero,
    }
}
