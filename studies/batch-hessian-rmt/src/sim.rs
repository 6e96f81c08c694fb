//! The models, data and measurements of the two experiments: the logistic regression and the
//! trained MLP at which batch spectra are taken (E1), and the least-squares problem whose largest
//! stable learning rate is bisected (E2).
use crate::kernels::{LogisticHessian, plain_lanczos, tridiagonal_eigs};
use crate::{LogisticCfg, LrCfg, MlpCfg};
use common::data::synthetic::gaussian_mixture;
use common::device::Device;
use common::gpu::{Curvature, CurvatureOp, mlp_curvature};
use common::linalg::{LinOp, eigvalsh, lanczos_restarted, slq, top_eigs};
use common::models::{Activation, Loss, Mlp, Model, Problem, Targets};
use common::optim::OptimizerConfig;
use common::rng::{Seed, gaussian_mat, gaussian_vec};
use common::train::{Sampling, TrainConfig, train};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::Rng;

/// Switches that plant a named bug in the measurement, for the planted-bug tests only: every run
/// uses `Plant::default()` (all off); a test turns one on and checks that a gated claim fails.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plant {
    /// Negate the MLP Hessian-vector product (the GGN product is left alone).
    pub negate_mlp_hvp: bool,
    /// Lanczos without re-orthogonalization ([`plain_lanczos`]) wherever the study computes a spectrum.
    pub plain_lanczos: bool,
    /// Every "batch" is the whole data set (no batch sampling): `H_B = H` for every `B`.
    pub full_data_batches: bool,
    /// The SGD sampler of E2 always returns the first `B` samples.
    pub first_b_sampler: bool,
}

/// A batch of `b` indices drawn uniformly with replacement (all of `0..n` under
/// [`Plant::full_data_batches`], after drawing the same numbers).
pub fn draw_batch_planted(rng: &mut impl Rng, n: usize, b: usize, plant: Plant) -> Vec<usize> {
    let idx = draw_batch(rng, n, b);
    if plant.full_data_batches { (0..n).collect() } else { idx }
}

/// A batch of `b` indices drawn uniformly with replacement.
pub fn draw_batch(rng: &mut impl Rng, n: usize, b: usize) -> Vec<usize> {
    (0..b).map(|_| rng.random_range(0..n)).collect()
}

/// `λ₁` of an operator by `m` Lanczos steps (full re-orthogonalization) from a Gaussian start.
pub fn lambda_max<O: LinOp>(op: &O, m: usize, rng: &mut impl Rng) -> f64 {
    lambda_max_planted(op, m, rng, Plant::default())
}

/// [`lambda_max`], or under [`Plant::plain_lanczos`] the top Ritz value of the plain recurrence.
pub fn lambda_max_planted<O: LinOp>(op: &O, m: usize, rng: &mut impl Rng, plant: Plant) -> f64 {
    if plant.plain_lanczos {
        let v0 = common::rng::gaussian_vec(rng, op.dim(), 1.0);
        let (a, b) = plain_lanczos(op, m.max(1), v0.view());
        return tridiagonal_eigs(&a, &b).last().copied().unwrap_or(f64::NAN);
    }
    top_eigs(op, 1, m, rng).0[0]
}

/// `m` Lanczos steps from a Gaussian start: the Ritz values (ascending) and `Tr T = Σ α_j`, which
/// equals `Tr A` when `m = dim` and the basis is orthonormal (full re-orthogonalization; the plain
/// recurrence under [`Plant::plain_lanczos`]).
pub fn lanczos_spectrum<O: LinOp>(op: &O, m: usize, rng: &mut impl Rng, plant: Plant) -> (Vec<f64>, f64) {
    let v0 = common::rng::gaussian_vec(rng, op.dim(), 1.0);
    let (a, b) = if plant.plain_lanczos {
        plain_lanczos(op, m, v0.view())
    } else {
        let lz = lanczos_restarted(op, m, v0.view(), rng);
        (lz.alpha, lz.beta)
    };
    let tr = a.iter().sum();
    (tridiagonal_eigs(&a, &b), tr)
}

/// The MLP curvature operator of the study: [`mlp_curvature`] (CPU or GPU), negated under
/// [`Plant::negate_mlp_hvp`] for the Hessian.
pub struct MlpOp<'a> {
    op: CurvatureOp<'a>,
    negate: bool,
}

impl LinOp for MlpOp<'_> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        let y = self.op.apply(v);
        if self.negate { -y } else { y }
    }
}

/// Logistic-regression data and weights.
pub struct LogisticSetup {
    pub x: Array2<f64>,
    pub w: Array1<f64>,
}

/// `x ~ N(0, I_d)` with feature 0 scaled by `spike`, `w ~ N(0, I/d)`.
pub fn logistic_setup(cfg: &LogisticCfg, seed: Seed) -> LogisticSetup {
    let mut rng = seed.child("data").rng();
    let mut x = gaussian_mat(&mut rng, cfg.n, cfg.d, 1.0);
    x.column_mut(0).mapv_inplace(|v| v * cfg.spike);
    let w = gaussian_vec(&mut seed.child("weights").rng(), cfg.d, 1.0 / (cfg.d as f64).sqrt());
    LogisticSetup { x, w }
}

impl LogisticSetup {
    /// `λ₁(H_B)` of `cfg.batches` batches of size `b` (`cfg.lanczos_steps` Lanczos steps each), and
    /// the Rayleigh quotient `v₁ᵀ H_B v₁` of each batch at the full-data top eigenvector `v1`
    /// (`E v₁ᵀ H_B v₁ = λ₁(H)` exactly, so `λ₁(H_B) − v₁ᵀ H_B v₁` estimates the excess with less noise).
    pub fn batch_lambdas(
        &self,
        cfg: &LogisticCfg,
        b: usize,
        v1: ArrayView1<f64>,
        rng: &mut impl Rng,
        plant: Plant,
    ) -> (Vec<f64>, Vec<f64>) {
        (0..cfg.batches)
            .map(|_| {
                let idx = draw_batch_planted(rng, cfg.n, b, plant);
                let op = LogisticHessian::new(self.x.view(), &idx, self.w.view());
                let rq = v1.dot(&op.apply(v1));
                (lambda_max_planted(&op, cfg.lanczos_steps, rng, plant), rq)
            })
            .unzip()
    }
}

/// The MLP, its data and the trained point.
pub struct MlpSetup {
    pub model: Mlp,
    pub x: Array2<f64>,
    pub y: Targets,
    pub w: Array1<f64>,
    pub train_loss: f64,
}

impl MlpSetup {
    /// The Hessian or GGN of the loss on `(x, y)` at the trained point, as an operator on `device`
    /// (the GPU HVP under `--device cuda`).
    pub fn curvature<'a>(
        &'a self,
        device: Device,
        x: ArrayView2<'a, f64>,
        y: &'a Targets,
        kind: Curvature,
        plant: Plant,
    ) -> anyhow::Result<MlpOp<'a>> {
        let op = mlp_curvature(device, &self.model, x, y, self.w.view(), kind)?;
        Ok(MlpOp { op, negate: plant.negate_mlp_hvp && kind == Curvature::Hessian })
    }

    /// `λ₁(H_B)` and `λ₁(G_B)` of `batches` batches of size `b` (the same batch for both, `steps`
    /// Lanczos steps each); with `probes = Some((v_h, v_g))` also the Rayleigh quotients
    /// `v_hᵀ H_B v_h` and `v_gᵀ G_B v_g` of every batch (else empty).
    #[allow(clippy::too_many_arguments)]
    pub fn batch_lambdas(
        &self,
        batches: usize,
        steps: usize,
        device: Device,
        b: usize,
        probes: Option<(ArrayView1<f64>, ArrayView1<f64>)>,
        rng: &mut impl Rng,
        plant: Plant,
    ) -> anyhow::Result<BatchLambdas> {
        let mut out = BatchLambdas::default();
        for _ in 0..batches {
            let idx = draw_batch_planted(rng, self.x.nrows(), b, plant);
            let (xb, yb) = (self.x.select(Axis(0), &idx), self.y.select(&idx));
            let h = self.curvature(device, xb.view(), &yb, Curvature::Hessian, plant)?;
            out.hess.push(lambda_max_planted(&h, steps, rng, plant));
            let g = self.curvature(device, xb.view(), &yb, Curvature::GaussNewton, plant)?;
            out.ggn.push(lambda_max_planted(&g, steps, rng, plant));
            if let Some((vh, vg)) = probes {
                out.rq_hess.push(vh.dot(&h.apply(vh)));
                out.rq_ggn.push(vg.dot(&g.apply(vg)));
            }
        }
        Ok(out)
    }

    /// SLQ quadratures of the Hessian of one batch of size `b` (`b >= n`: the full data set).
    pub fn slq(
        &self,
        cfg: &MlpCfg,
        device: Device,
        b: usize,
        rng: &mut impl Rng,
    ) -> anyhow::Result<Vec<(Vec<f64>, Vec<f64>)>> {
        let (xb, yb) = if b >= cfg.n {
            (self.x.clone(), self.y.clone())
        } else {
            let idx = draw_batch(rng, cfg.n, b);
            (self.x.select(Axis(0), &idx), self.y.select(&idx))
        };
        let op = self.curvature(device, xb.view(), &yb, Curvature::Hessian, Plant::default())?;
        Ok(slq(&op, cfg.slq_probes, cfg.slq_steps, rng))
    }
}

/// Per-batch `λ₁` of the Hessian and the GGN, and their Rayleigh quotients at fixed probes.
#[derive(Clone, Debug, Default)]
pub struct BatchLambdas {
    pub hess: Vec<f64>,
    pub ggn: Vec<f64>,
    pub rq_hess: Vec<f64>,
    pub rq_ggn: Vec<f64>,
}

/// A tanh MLP `d → hidden → classes` on a Gaussian mixture, after `train_steps` Adam steps.
pub fn mlp_setup(cfg: &MlpCfg, seed: Seed) -> MlpSetup {
    let (data, _) = gaussian_mixture(&mut seed.child("data").rng(), cfg.n, cfg.d, cfg.classes, cfg.separation, 1.0);
    let model = Mlp::new(&[cfg.d, cfg.hidden, cfg.classes], Activation::Tanh, true, Loss::SoftmaxCe);
    let mut w = model.init(&mut seed.child("init").rng());
    let y = Targets::Classes(data.labels.clone());
    let x = data.x;
    let tc = TrainConfig::new(cfg.train_steps, cfg.train_batch, Sampling::EpochShuffle, 0);
    let mut opt = OptimizerConfig::adam(cfg.train_lr).build();
    let grad = |w: ndarray::ArrayView1<f64>, idx: &[usize]| {
        let xb = x.select(Axis(0), idx);
        let yb = y.select(idx);
        Problem::new(&model, xb.view(), &yb).loss_grad(w)
    };
    train(&mut w, cfg.n, &tc, grad, opt.as_mut(), |_, _| vec![], &mut seed.child("batches").rng());
    let train_loss = model.loss(w.view(), x.view(), &y);
    MlpSetup { model, x, y, w, train_loss }
}

/// Least-squares data for E2.
pub struct LsSetup {
    pub model: Mlp,
    pub x: Array2<f64>,
    pub y: Targets,
    pub lambda_max: f64,
    pub trace: f64,
    /// Eigenvalues of `H = XᵀX/n`, ascending.
    pub eigs: Vec<f64>,
}

/// Noiseless `y = x·w*`, `x ~ N(0, diag(σ²))` with `σ²` geometric from 1 to `var_min`; the
/// Hessian's `λ_max` and trace.
pub fn ls_setup(cfg: &LrCfg, seed: Seed) -> LsSetup {
    let mut rng = seed.child("data").rng();
    let mut x = gaussian_mat(&mut rng, cfg.n, cfg.d, 1.0);
    for j in 0..cfg.d {
        let var = cfg.var_min.powf(j as f64 / (cfg.d - 1).max(1) as f64);
        x.column_mut(j).mapv_inplace(|v| v * var.sqrt());
    }
    let w_star = gaussian_vec(&mut seed.child("teacher").rng(), cfg.d, 1.0);
    let y = Targets::scalar(x.dot(&w_star).as_slice().expect("contiguous"));
    let h = x.t().dot(&x) / cfg.n as f64;
    let ev = common::linalg::eigvalsh(&h);
    let lambda_max = ev.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let trace = h.diag().sum();
    let model = Mlp::new(&[cfg.d, 1], Activation::Linear, false, Loss::Mse);
    LsSetup { model, x, y, lambda_max, trace, eigs: ev.to_vec() }
}

impl LsSetup {
    /// `λ₁(H_B)` of `k` batches of `b` samples (with replacement) of the least-squares Hessian
    /// `H_B = X_Bᵀ X_B / B`, dense (`eigvalsh` of the smaller Gram matrix).
    pub fn batch_lambdas(&self, b: usize, k: usize, rng: &mut impl Rng, plant: Plant) -> Vec<f64> {
        let n = self.x.nrows();
        (0..k)
            .map(|_| {
                let idx = draw_batch_planted(rng, n, b, plant);
                let xb = self.x.select(Axis(0), &idx);
                let m = idx.len() as f64;
                let gram = if xb.nrows() < xb.ncols() { xb.dot(&xb.t()) } else { xb.t().dot(&xb) } / m;
                eigvalsh(&gram).iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            })
            .collect()
    }
}

/// Whether `opt` at rate `lr` with batch `b` ends below the initial full loss on every seed.
/// Under [`Plant::first_b_sampler`] every batch is the first `b` samples.
pub fn stable(ls: &LsSetup, cfg: &LrCfg, opt: &str, b: usize, lr: f64, seed: Seed, plant: Plant) -> bool {
    let first: Vec<usize> = if plant.first_b_sampler { (0..b.min(cfg.n)).collect() } else { vec![] };
    let full = Problem::new(&ls.model, ls.x.view(), &ls.y);
    let w0 = Array1::<f64>::zeros(cfg.d);
    let l0 = full.loss(w0.view());
    (0..cfg.seeds).all(|k| {
        let oc = if opt == "adam" { OptimizerConfig::adam(lr) } else { OptimizerConfig::sgd(lr) };
        let mut o = oc.build();
        let mut w = w0.clone();
        let mut tc = TrainConfig::new(cfg.steps, b, Sampling::WithReplacement, 0);
        // A run whose batch loss passes 1e6 x the initial loss has left any basin: stop it early.
        tc.diverge_above = Some(1e6 * l0);
        let grad = |w: ndarray::ArrayView1<f64>, idx: &[usize]| {
            let idx = if plant.first_b_sampler { &first[..] } else { idx };
            let xb = ls.x.select(Axis(0), idx);
            let yb = ls.y.select(idx);
            Problem::new(&ls.model, xb.view(), &yb).loss_grad(w)
        };
        // Same batch sequences for every rate (common random numbers keep the bisection monotone).
        let log =
            train(&mut w, cfg.n, &tc, grad, o.as_mut(), |_, _| vec![], &mut seed.child_idx("run", k as u64).rng());
        !log.diverged() && full.loss(w.view()) < l0
    })
}
