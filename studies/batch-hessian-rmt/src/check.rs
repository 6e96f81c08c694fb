//! Independent references for the study's curvature code: dense matrices of a small MLP built from
//! central differences of the gradient and of the outputs (no Hessian-vector product is involved),
//! and the second-order perturbation-theory size of the batch excess `E λ₁(H_B) − λ₁(H)`.
use crate::sim::{Plant, lambda_max_planted, lanczos_spectrum, mlp_setup};
use crate::{CheckCfg, MlpCfg};
use common::Seed;
use common::device::Device;
use common::gpu::Curvature;
use common::linalg::eigh;
use common::models::{Mlp, Model, Targets};
use common::report::{fmt_num, json_f64};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// Central-difference step for the dense references (relative error ~1e-9 on the quick sub-problem).
pub const FD_EPS: f64 = 1e-5;

/// The Hessian of the mean loss, column `j` = `(g(w + ε e_j) − g(w − ε e_j)) / 2ε`, symmetrized.
pub fn fd_hessian(model: &Mlp, x: ArrayView2<f64>, y: &Targets, w: ArrayView1<f64>) -> Array2<f64> {
    let p = w.len();
    let mut h = Array2::zeros((p, p));
    let mut wp = w.to_owned();
    for j in 0..p {
        wp[j] = w[j] + FD_EPS;
        let gp = model.loss_grad(wp.view(), x, y).1;
        wp[j] = w[j] - FD_EPS;
        let gm = model.loss_grad(wp.view(), x, y).1;
        wp[j] = w[j];
        h.column_mut(j).assign(&((gp - gm) / (2.0 * FD_EPS)));
    }
    (&h + &h.t()) / 2.0
}

/// The output Jacobian, `(n·k) x P` (row `i·k + c` is `∂f_c(x_i)/∂w`), by central differences of `forward`.
pub fn fd_jacobian(model: &Mlp, x: ArrayView2<f64>, w: ArrayView1<f64>) -> Array2<f64> {
    let (p, n, k) = (w.len(), x.nrows(), model.num_outputs());
    let mut jac = Array2::zeros((n * k, p));
    let mut wp = w.to_owned();
    for j in 0..p {
        wp[j] = w[j] + FD_EPS;
        let fp = model.forward(wp.view(), x);
        wp[j] = w[j] - FD_EPS;
        let fm = model.forward(wp.view(), x);
        wp[j] = w[j];
        let d = (fp - fm) / (2.0 * FD_EPS);
        jac.column_mut(j).assign(&d.into_shape_with_order(n * k).expect("contiguous"));
    }
    jac
}

/// Softmax probabilities of the rows of `f`.
fn softmax(f: ArrayView2<f64>) -> Array2<f64> {
    let mut p = f.to_owned();
    for mut row in p.axis_iter_mut(Axis(0)) {
        let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let z = row.sum();
        row /= z;
    }
    p
}

/// Per-sample Gauss-Newton factors of softmax cross-entropy: `J_i` (`k x P`) and
/// `Λ_i = diag(p_i) − p_i p_iᵀ`, from which `G = (1/n) Σ J_iᵀ Λ_i J_i`.
pub struct GgnParts {
    pub jac: Array2<f64>,
    pub lam: Vec<Array2<f64>>,
    pub k: usize,
}

impl GgnParts {
    pub fn new(model: &Mlp, x: ArrayView2<f64>, w: ArrayView1<f64>) -> Self {
        let k = model.num_outputs();
        let jac = fd_jacobian(model, x, w);
        let p = softmax(model.forward(w, x).view());
        let lam = p
            .axis_iter(Axis(0))
            .map(|pi| {
                let mut l = -&pi.view().insert_axis(Axis(1)).dot(&pi.view().insert_axis(Axis(0)));
                for c in 0..k {
                    l[[c, c]] += pi[c];
                }
                l
            })
            .collect();
        GgnParts { jac, lam, k }
    }
    fn ji(&self, i: usize) -> ArrayView2<'_, f64> {
        self.jac.slice(ndarray::s![i * self.k..(i + 1) * self.k, ..])
    }
    /// `G = (1/n) Σ J_iᵀ Λ_i J_i`.
    pub fn dense(&self) -> Array2<f64> {
        let n = self.lam.len();
        let p = self.jac.ncols();
        let mut g = Array2::zeros((p, p));
        for i in 0..n {
            let ji = self.ji(i);
            g += &ji.t().dot(&self.lam[i].dot(&ji));
        }
        g / n as f64
    }
    /// Per-sample products `J_iᵀ Λ_i J_i v`, `n x P`.
    pub fn per_sample_products(&self, v: ArrayView1<f64>) -> Array2<f64> {
        let n = self.lam.len();
        let mut out = Array2::zeros((n, self.jac.ncols()));
        for i in 0..n {
            let ji = self.ji(i);
            out.row_mut(i).assign(&ji.t().dot(&self.lam[i].dot(&ji.dot(&v))));
        }
        out
    }
}

/// Per-sample Hessian products `∇²ℓ_i v` (`n x P`) by central differences of the per-sample gradients.
pub fn fd_per_sample_hvp(
    model: &Mlp,
    x: ArrayView2<f64>,
    y: &Targets,
    w: ArrayView1<f64>,
    v: ArrayView1<f64>,
) -> Array2<f64> {
    let wp = &w + &(&v * FD_EPS);
    let wm = &w - &(&v * FD_EPS);
    (model.per_sample_grads(wp.view(), x, y) - model.per_sample_grads(wm.view(), x, y)) / (2.0 * FD_EPS)
}

/// Second-order perturbation theory of sampling: for batches of `B` samples drawn with replacement,
/// `E λ₁(H_B) − λ₁(H) ≈ c/B` with `c = Σ_{j≠1} Var_i(v_jᵀ h_i v₁) / (λ₁ − λ_j)`, where `h_i` is the
/// per-sample matrix, `(λ_j, v_j)` the eigenpairs of `H = mean_i h_i` and `per[i] = h_i v₁`.
/// `vals` ascending, `vecs` the eigenvectors as columns.
pub fn pt_constant(vals: ArrayView1<f64>, vecs: ArrayView2<f64>, per: ArrayView2<f64>) -> f64 {
    let p = vals.len();
    let top = p - 1;
    let a = per.dot(&vecs);
    let n = a.nrows() as f64;
    (0..top)
        .map(|j| {
            let col = a.column(j);
            let m = col.sum() / n;
            let var = col.iter().map(|v| v * v).sum::<f64>() / n - m * m;
            var / (vals[top] - vals[j])
        })
        .sum()
}

/// One matrix (Hessian or GGN) of the small MLP: the study's spectrum against the dense reference,
/// and the batch excess against perturbation theory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MatrixCheck {
    /// Dense reference (finite differences): `λ₁`, `λ_min`, `Tr`, `Σ|λ|`.
    pub dense_max: f64,
    pub dense_min: f64,
    pub dense_trace: f64,
    pub dense_abs_sum: f64,
    /// The study's `λ₁` with the profile's `mlp.lanczos_steps` (the main path's solver).
    #[serde(with = "json_f64")]
    pub lanczos_max_profile: f64,
    /// `dim` Lanczos steps on the study's operator: top and bottom Ritz values and `Tr T`.
    #[serde(with = "json_f64")]
    pub lanczos_max: f64,
    #[serde(with = "json_f64")]
    pub lanczos_min: f64,
    #[serde(with = "json_f64")]
    pub lanczos_trace: f64,
    /// Perturbation-theory constant `c` of `E λ₁(M_B) − λ₁(M) ≈ c/B` (dense reference).
    pub c_pt: f64,
    /// Per batch size (`check.batch_sizes`): `λ₁(M_B) − v₁ᵀ M_B v₁` of every batch (`v₁` the
    /// reference's top eigenvector), an unbiased estimate of the excess `E λ₁(M_B) − λ₁(M)`.
    #[serde(with = "json_f64::vec2")]
    pub excess: Vec<Vec<f64>>,
}

impl MatrixCheck {
    /// The largest error of the study's spectrum: `λ₁` (profile steps and `dim` steps) and `λ_min`
    /// relative to the spectral norm, `Tr` relative to `Σ|λ|`.
    pub fn max_error(&self) -> f64 {
        let norm = self.dense_max.abs().max(self.dense_min.abs()).max(f64::MIN_POSITIVE);
        let errs = [
            (self.lanczos_max_profile - self.dense_max).abs() / norm,
            (self.lanczos_max - self.dense_max).abs() / norm,
            (self.lanczos_min - self.dense_min).abs() / norm,
            (self.lanczos_trace - self.dense_trace).abs() / self.dense_abs_sum.max(f64::MIN_POSITIVE),
        ];
        errs.iter().fold(0.0f64, |a, &e| if e.is_nan() { f64::NAN } else { a.max(e) })
    }

    /// Claim detail: the dense values against the study's (`p` parameters, `steps` profile steps).
    pub fn describe(&self, p: usize, steps: usize) -> String {
        format!(
            "P = {p}: λ₁ {} (Lanczos {steps} steps {}, {p} steps {}), λ_min {} (Lanczos {}), Tr {} (Lanczos {})",
            fmt_num(self.dense_max),
            fmt_num(self.lanczos_max_profile),
            fmt_num(self.lanczos_max),
            fmt_num(self.dense_min),
            fmt_num(self.lanczos_min),
            fmt_num(self.dense_trace),
            fmt_num(self.lanczos_trace)
        )
    }
}

/// The small MLP's checks (see [`sub_check`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubCheck {
    /// Number of parameters.
    pub p: usize,
    /// Full-data loss at the trained point.
    pub train_loss: f64,
    pub hess: MatrixCheck,
    pub ggn: MatrixCheck,
}

/// A small MLP of the same family as E1's (tanh, softmax cross-entropy on a Gaussian mixture,
/// trained with Adam as in `mlp`), small enough for dense matrices: its Hessian and GGN by finite
/// differences (no HVP), the study's Lanczos on the study's operators (on the run's device), and the
/// batch excess at `check.batch_sizes` through the study's batch code against perturbation theory.
pub fn sub_check(cfg: &CheckCfg, mlp: &MlpCfg, device: Device, seed: Seed, plant: Plant) -> anyhow::Result<SubCheck> {
    let sc = MlpCfg {
        n: cfg.n,
        d: cfg.d,
        hidden: cfg.hidden,
        classes: cfg.classes,
        train_steps: cfg.train_steps,
        batch_sizes: vec![],
        slq_batch_sizes: vec![],
        ..mlp.clone()
    };
    let s = mlp_setup(&sc, seed.child("setup"));
    let (x, y, w) = (s.x.view(), &s.y, s.w.view());
    let h = fd_hessian(&s.model, x, y, w);
    let parts = GgnParts::new(&s.model, x, w);
    let g = parts.dense();
    let p = h.nrows();
    let mut rng = seed.child("lanczos").rng();
    let mut one = |kind: Curvature, dense: &Array2<f64>| -> anyhow::Result<(MatrixCheck, Array1<f64>)> {
        let (vals, vecs) = eigh(dense);
        let v1 = vecs.column(p - 1).to_owned();
        let per = match kind {
            Curvature::Hessian => fd_per_sample_hvp(&s.model, x, y, w, v1.view()),
            Curvature::GaussNewton => parts.per_sample_products(v1.view()),
        };
        let op = s.curvature(device, x, y, kind, plant)?;
        let lanczos_max_profile = lambda_max_planted(&op, mlp.lanczos_steps, &mut rng, plant);
        let (ritz, lanczos_trace) = lanczos_spectrum(&op, p, &mut rng, plant);
        let c = MatrixCheck {
            dense_max: vals[p - 1],
            dense_min: vals[0],
            dense_trace: vals.sum(),
            dense_abs_sum: vals.iter().map(|v| v.abs()).sum(),
            lanczos_max_profile,
            lanczos_max: ritz.last().copied().unwrap_or(f64::NAN),
            lanczos_min: ritz.first().copied().unwrap_or(f64::NAN),
            lanczos_trace,
            c_pt: pt_constant(vals.view(), vecs.view(), per.view()),
            excess: vec![],
        };
        Ok((c, v1))
    };
    let (mut hess, vh) = one(Curvature::Hessian, &h)?;
    let (mut ggn, vg) = one(Curvature::GaussNewton, &g)?;
    for (i, &b) in cfg.batch_sizes.iter().enumerate() {
        let mut r = seed.child_idx("batches", i as u64).rng();
        let bl =
            s.batch_lambdas(cfg.batches, mlp.lanczos_steps, device, b, Some((vh.view(), vg.view())), &mut r, plant)?;
        hess.excess.push(bl.hess.iter().zip(&bl.rq_hess).map(|(l, q)| l - q).collect());
        ggn.excess.push(bl.ggn.iter().zip(&bl.rq_ggn).map(|(l, q)| l - q).collect());
    }
    Ok(SubCheck { p, train_loss: s.train_loss, hess, ggn })
}
