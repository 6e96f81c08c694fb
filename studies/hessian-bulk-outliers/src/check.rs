//! The independent check of sign and size: on a small trained net, the study's path (the
//! curvature operators and Lanczos that every spectrum cell uses) against the dense Hessian and
//! Gauss-Newton matrix built here from closed forms, with no library derivative code: the logits,
//! the softmax probabilities and the per-sample Jacobians `J_i` of a one-hidden-layer ReLU MLP by
//! hand, the softmax curvature `diag p − ppᵀ`, `GGN = (1/N) Σ_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i`, and
//! `H = GGN + R` with the residual `R` from its closed form ([`relu_residual`]).
use crate::Config;
use crate::sim::{Path, make_data, mlp, train_sgd};
use crate::spectrum::relu_residual;
use anyhow::Result;
use common::device::Device;
use common::gpu::Curvature;
use common::linalg::{LinOp, eigvalsh};
use common::models::{Mlp, Model, Problem, Targets};
use common::rng::Seed;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The check net: `D → H → K` on `K · PER_CLASS` samples of the study's mixture (P = 804
/// parameters, N = 80 samples: the dense eigendecomposition takes ~0.1 s).
pub const D: usize = 20;
pub const H: usize = 32;
pub const K: usize = 4;
pub const PER_CLASS: usize = 20;

/// The check cell's numbers: the study's path and the closed-form dense matrices side by side.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckResult {
    pub d: usize,
    pub h: usize,
    pub k: usize,
    pub n: usize,
    pub params: usize,
    #[serde(with = "common::report::json_f64")]
    pub train_loss: f64,
    /// Study path: top `2k + 2` eigenvalues of the Hessian and of the GGN by Lanczos (as in every
    /// spectrum cell), and their traces from `P` curvature products on the unit vectors.
    #[serde(with = "common::report::json_f64::vec")]
    pub top: Vec<f64>,
    #[serde(with = "common::report::json_f64::vec")]
    pub ggn_top: Vec<f64>,
    #[serde(with = "common::report::json_f64")]
    pub trace: f64,
    #[serde(with = "common::report::json_f64")]
    pub ggn_trace: f64,
    /// Closed form: the top `2k + 2` eigenvalues of the dense Hessian and GGN, their traces, and the
    /// Hessian's smallest eigenvalue.
    #[serde(with = "common::report::json_f64::vec")]
    pub dense_top: Vec<f64>,
    #[serde(with = "common::report::json_f64::vec")]
    pub dense_ggn_top: Vec<f64>,
    #[serde(with = "common::report::json_f64")]
    pub dense_trace: f64,
    #[serde(with = "common::report::json_f64")]
    pub dense_ggn_trace: f64,
    #[serde(with = "common::report::json_f64")]
    pub dense_min: f64,
    /// Shares of the dense Hessian's eigenvalues with |λ| <= 1e-6 λ_max (the exact null space) and
    /// |λ| <= bulk_tol λ_max, and the share forced to zero by rank, 1 − (N(k − 1) + 2kh)/P.
    #[serde(with = "common::report::json_f64")]
    pub zero_share: f64,
    #[serde(with = "common::report::json_f64")]
    pub bulk_share: f64,
    pub rank_forced: f64,
}

impl CheckResult {
    /// Largest relative error of the path against the closed form over the k − 1 outliers of the
    /// Hessian and of the GGN and the two traces (NaN if any is NaN).
    pub fn rel_err(&self) -> f64 {
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
        let m = self.k - 1;
        let errs: Vec<f64> = (0..m)
            .map(|i| rel(self.top[i], self.dense_top[i]))
            .chain((0..m).map(|i| rel(self.ggn_top[i], self.dense_ggn_top[i])))
            .chain([rel(self.trace, self.dense_trace), rel(self.ggn_trace, self.dense_ggn_trace)])
            .collect();
        if errs.iter().any(|e| e.is_nan()) { f64::NAN } else { errs.iter().cloned().fold(0.0, f64::max) }
    }

    /// Both sides, for the claim's detail.
    pub fn describe(&self) -> String {
        let top = |v: &[f64]| v.iter().take(self.k - 1).map(|x| format!("{x:.6}")).collect::<Vec<_>>().join(" ");
        format!(
            "{} → {} → {}, N = {}, P = {}, train loss {:.4}. Hessian: top {} by Lanczos [{}] vs dense [{}], trace \
             {:.6} vs {:.6}, dense λ_min {:.3e}; GGN: top [{}] vs [{}], trace {:.6} vs {:.6}",
            self.d,
            self.h,
            self.k,
            self.n,
            self.params,
            self.train_loss,
            self.k - 1,
            top(&self.top),
            top(&self.dense_top),
            self.trace,
            self.dense_trace,
            self.dense_min,
            top(&self.ggn_top),
            top(&self.dense_ggn_top),
            self.ggn_trace,
            self.dense_ggn_trace
        )
    }
}

/// Share of the eigenvalues forced to zero by rank, `1 − (N(k − 1) + 2(k − 1)h)/P`: the GGN has
/// rank <= N(k − 1) (each `diag p_i − p_i p_iᵀ` has rank k − 1), and the ReLU residual couples only
/// `W2[:, j]` with `(W1[j, :], b1[j])` through the k × (d + 1) block `(1/N) Σ_i g_i (x_i, 1)ᵀ 1[z_ij > 0]`,
/// whose rows sum to zero (`Σ_c g_ic = 0`), so it has rank <= 2(k − 1)h.
pub fn rank_forced_zeros(n: usize, k: usize, h: usize, params: usize) -> f64 {
    1.0 - ((n * (k - 1) + 2 * (k - 1) * h) as f64 / params as f64).min(1.0)
}

/// The exact GGN and Hessian of the mean softmax cross-entropy of a one-hidden-layer ReLU MLP
/// with biases, from closed forms (see the module doc).
pub fn closed_form(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>, labels: &[usize]) -> (Array2<f64>, Array2<f64>) {
    assert!(mlp.sizes.len() == 3 && mlp.bias, "one hidden layer with biases");
    let (d, h, k) = (mlp.sizes[0], mlp.sizes[1], mlp.sizes[2]);
    let (n, p) = (x.nrows(), mlp.num_params());
    let (w1, b1) = mlp.layer(w, 0);
    let (w2, b2) = mlp.layer(w, 1);
    let (b1, b2) = (b1.expect("bias"), b2.expect("bias"));
    let off2 = mlp.layer_offset(1).0;
    // Rows i·k + c: the Jacobian J_i of logit c, and (M_i J_i) with M_i = diag p_i − p_i p_iᵀ.
    let mut jac = Array2::<f64>::zeros((n * k, p));
    let mut mjac = Array2::<f64>::zeros((n * k, p));
    for i in 0..n {
        let z: Vec<f64> = (0..h).map(|j| w1.row(j).dot(&x.row(i)) + b1[j]).collect();
        let a: Vec<f64> = z.iter().map(|v| v.max(0.0)).collect();
        let f: Vec<f64> = (0..k).map(|c| (0..h).map(|j| w2[[c, j]] * a[j]).sum::<f64>() + b2[c]).collect();
        let fmax = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = f.iter().map(|v| (v - fmax).exp()).collect();
        let s: f64 = e.iter().sum();
        let prob: Vec<f64> = e.iter().map(|v| v / s).collect();
        for c in 0..k {
            let mut row = jac.row_mut(i * k + c);
            for j in 0..h {
                row[off2 + c * h + j] = a[j];
                if z[j] > 0.0 {
                    for q in 0..d {
                        row[j * d + q] = w2[[c, j]] * x[[i, q]];
                    }
                    row[h * d + j] = w2[[c, j]];
                }
            }
            row[off2 + k * h + c] = 1.0;
        }
        for c in 0..k {
            let mut acc = Array1::<f64>::zeros(p);
            for c2 in 0..k {
                let m = f64::from(u8::from(c == c2)) * prob[c] - prob[c] * prob[c2];
                acc.scaled_add(m, &jac.row(i * k + c2));
            }
            mjac.row_mut(i * k + c).assign(&acc);
        }
    }
    let g = jac.t().dot(&mjac) / n as f64;
    let ggn = (&g + &g.t()) * 0.5;
    let hess = &ggn + &relu_residual(mlp, w, x, labels);
    (hess, ggn)
}

/// Trace of an operator from its products with the `dim` unit vectors.
fn op_trace(op: &dyn LinOp) -> f64 {
    let p = op.dim();
    (0..p)
        .into_par_iter()
        .map(|j| {
            let mut e = Array1::zeros(p);
            e[j] = 1.0;
            op.apply(e.view())[j]
        })
        .sum()
}

/// The check cell: train the small net like a spectrum cell (full-batch GD, `steps`, `lr`), then
/// the study's path and the closed form on it.
pub fn check_cell(cfg: &Config, seed: Seed, device: Device, path: &dyn Path) -> Result<CheckResult> {
    let small = Config { d: D, n_per_class: PER_CLASS, n_test_per_class: 1, ..cfg.clone() };
    let (data, _) = make_data(&small, K, seed.child("data"));
    let net = mlp(D, H, K);
    let mut w = net.init(&mut seed.child("init").rng());
    let ok = train_sgd(&net, &data, &mut w, cfg.lr, usize::MAX, cfg.steps, seed.child("train")).is_some();
    let (n, p, m) = (data.n(), net.num_params(), 2 * K + 2);
    let nan = || vec![f64::NAN; m];
    let mut r = CheckResult {
        d: D,
        h: H,
        k: K,
        n,
        params: p,
        train_loss: f64::NAN,
        top: nan(),
        ggn_top: nan(),
        trace: f64::NAN,
        ggn_trace: f64::NAN,
        dense_top: nan(),
        dense_ggn_top: nan(),
        dense_trace: f64::NAN,
        dense_ggn_trace: f64::NAN,
        dense_min: f64::NAN,
        zero_share: f64::NAN,
        bulk_share: f64::NAN,
        rank_forced: rank_forced_zeros(n, K, H, p),
    };
    if !ok {
        return Ok(r);
    }
    let y = Targets::Classes(data.labels.clone());
    r.train_loss = Problem::new(&net, data.x.view(), &y).loss(w.view());
    let hess = path.curvature(device, &net, data.x.view(), &y, w.view(), Curvature::Hessian)?;
    let ggn = path.curvature(device, &net, data.x.view(), &y, w.view(), Curvature::GaussNewton)?;
    r.top = path.top_eigs(&*hess, m, cfg.lanczos_steps, seed.child("lanczos"));
    r.ggn_top = path.top_eigs(&*ggn, m, cfg.lanczos_steps, seed.child("ggn"));
    r.trace = op_trace(&*hess);
    r.ggn_trace = op_trace(&*ggn);

    let (dh, dg) = closed_form(&net, w.view(), data.x.view(), &data.labels);
    let (eh, eg) = (eigvalsh(&dh), eigvalsh(&dg));
    let top = |e: &Array1<f64>| e.iter().rev().take(m).cloned().collect::<Vec<_>>();
    (r.dense_top, r.dense_ggn_top) = (top(&eh), top(&eg));
    (r.dense_trace, r.dense_ggn_trace) = (dh.diag().sum(), dg.diag().sum());
    r.dense_min = eh[0];
    let lmax = eh[eh.len() - 1];
    let share = |tol: f64| eh.iter().filter(|l| l.abs() <= tol * lmax).count() as f64 / p as f64;
    (r.zero_share, r.bulk_share) = (share(1e-6), share(cfg.bulk_tol));
    Ok(r)
}
