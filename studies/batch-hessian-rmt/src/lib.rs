//! Study `batch-hessian-rmt`: Granziol, Zohren & Roberts, "Learning Rates as a Function of Batch
//! Size: A Random Matrix Theory Approach to Neural Network Training" (JMLR 2022, arXiv:2006.09092;
//! no official code).
//!
//! The paper models the mini-batch Hessian as the full-data Hessian plus a random-matrix
//! fluctuation whose scale falls as `1/B`: `H_B = H + ε(B)`. A spiked-matrix (BBP) argument then
//! says the extremal eigenvalue of `H_B` sits above the full-data one by an amount that decays
//! like `1/B` (`λ₁(H_B) ≈ λ₁(H) + c/B`), for the Hessian and for the generalised Gauss-Newton
//! alike; since the largest stable step is about `2/λ₁(H_B)`, the maximal learning rate grows
//! linearly in `B` for SGD (and, by the paper's argument on the preconditioned curvature, as
//! `√B` for Adam) until the `c/B` term stops dominating.
//!
//! The experiment, top to bottom:
//! 1. **Spectrum vs batch size (E1).** Two models at a fixed point:
//!    a logistic regression (`n` Gaussian samples in `d` dimensions, one feature scaled up, random
//!    weights; its Hessian is its GGN), and a tanh MLP `d → h → k` with softmax cross-entropy on a
//!    `k`-class Gaussian mixture, briefly trained with Adam. For every batch size `B` we draw
//!    `batches` batches (uniform, with replacement, so `E H_B = H`), compute `λ₁(H_B)` (and
//!    `λ₁(G_B)` for the MLP) by Lanczos on exact Hessian / Gauss-Newton products, and compare
//!    with `λ₁(H)` on the whole data set. Fit `λ₁(H_B) − λ₁(H) = c·B^s` (slope `s`) and
//!    `λ₁(H) + c/B`; SLQ spectral densities of a few batch Hessians next to the full one.
//! 2. **Largest stable learning rate (E2).** Noiseless least squares with geometric feature
//!    variances; for each `B`, a geometric bisection for the largest `η` at which the full loss
//!    after `steps` steps of SGD (or Adam) is below the initial loss for every seed.
//! 3. **Claims** (see `README.md` for the mapping to the paper).

pub mod kernels;

#[cfg(test)]
mod tests;

use anyhow::{Result, ensure};
use common::data::synthetic::gaussian_mixture;
use common::gpu::{Curvature, mlp_curvature};
use common::linalg::{LinOp, slq, slq_density, top_eigs};
use common::models::{Activation, Loss, Mlp, Model, Problem, Targets};
use common::optim::OptimizerConfig;
use common::report::fmt_num;
use common::rng::{Seed, gaussian_mat, gaussian_vec};
use common::train::{Sampling, TrainConfig, train};
use common::{Claim, Ctx, Figure, Outcome, Paper, Profiles, Series, Study, Table};
use kernels::{LogisticHessian, fit_inverse_b, geometric_bisect, loglog_slope, mean_se};
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The study value registered with the CLI.
pub struct BatchHessianRmt;

/// E1, logistic regression: `x ~ N(0, I_d)` with feature 0 scaled by `spike`, `w ~ N(0, I/d)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticCfg {
    pub n: usize,
    pub d: usize,
    /// Scale of the first feature (a well-separated top eigenvalue of `H`).
    pub spike: f64,
    /// Batch sizes `B` (with replacement).
    pub batch_sizes: Vec<usize>,
    /// Batches per `B`.
    pub batches: usize,
    /// Lanczos steps per batch Hessian (full re-orthogonalization); the full Hessian gets twice as many.
    pub lanczos_steps: usize,
}

/// E1, MLP: `d → hidden → classes`, tanh, softmax cross-entropy, on a Gaussian mixture.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpCfg {
    pub n: usize,
    pub d: usize,
    pub hidden: usize,
    pub classes: usize,
    /// Pairwise distance of the class means (noise is `N(0, I)`): overlapping classes keep the
    /// loss, and the Hessian, away from zero.
    pub separation: f64,
    /// Adam steps (batch `train_batch`, rate `train_lr`) to reach the "trained point".
    pub train_steps: usize,
    pub train_batch: usize,
    pub train_lr: f64,
    pub batch_sizes: Vec<usize>,
    pub batches: usize,
    pub lanczos_steps: usize,
    /// Batch sizes whose Hessian density is estimated by SLQ (the full data set is always added).
    pub slq_batch_sizes: Vec<usize>,
    pub slq_probes: usize,
    pub slq_steps: usize,
}

/// E2: noiseless least squares `y = x·w*`, `x ~ N(0, diag(σ²))`, `σ²` geometric from 1 to `var_min`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrCfg {
    pub n: usize,
    pub d: usize,
    pub var_min: f64,
    /// Batch sizes for SGD and Adam.
    pub batch_sizes: Vec<usize>,
    /// Steps per run; a rate is stable when the final full loss is below the initial one.
    pub steps: usize,
    /// Runs (batch sequences) per rate; stable means stable on all of them.
    pub seeds: usize,
    /// Geometric bisection steps on `[lr_lo, lr_hi]`.
    pub bisect_steps: usize,
    pub lr_lo: f64,
    pub lr_hi: f64,
    /// Run Adam (β = (0.9, 0.999)) as well (exploratory).
    pub adam: bool,
}

/// Every knob of a run; `quick()` is CI's profile, `full()` the closest feasible to the paper.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub logistic: LogisticCfg,
    pub mlp: MlpCfg,
    pub lr: LrCfg,
    /// Range of `B` (inclusive) over which the excess slope is fitted.
    pub fit_b_min: usize,
    pub fit_b_max: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            logistic: LogisticCfg {
                n: 20_000,
                d: 200,
                spike: 3.0,
                batch_sizes: vec![16, 32, 64, 128, 256, 512, 1024],
                batches: 50,
                lanczos_steps: 30,
            },
            mlp: MlpCfg {
                n: 4000,
                d: 20,
                hidden: 32,
                classes: 10,
                separation: 3.0,
                train_steps: 300,
                train_batch: 128,
                train_lr: 0.01,
                batch_sizes: vec![16, 32, 64, 128, 256, 512],
                batches: 30,
                lanczos_steps: 20,
                slq_batch_sizes: vec![16, 128],
                slq_probes: 3,
                slq_steps: 40,
            },
            lr: LrCfg {
                n: 4096,
                d: 64,
                var_min: 0.01,
                batch_sizes: vec![1, 2, 4, 8, 16, 32, 64, 256, 1024],
                steps: 500,
                seeds: 3,
                bisect_steps: 12,
                lr_lo: 1e-3,
                lr_hi: 10.0,
                adam: true,
            },
            fit_b_min: 16,
            fit_b_max: 512,
        }
    }

    /// The spec's setting on CPU (the paper's VGG/WRN on CIFAR-100 need a GPU and the data).
    fn full() -> Self {
        let mut c = Config::quick();
        c.logistic.batch_sizes = vec![16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
        c.logistic.batches = 100;
        c.logistic.lanczos_steps = 40;
        c.mlp.n = 10_000;
        c.mlp.hidden = 64;
        c.mlp.train_steps = 2000;
        c.mlp.batch_sizes = vec![16, 32, 64, 128, 256, 512, 1024];
        c.mlp.batches = 50;
        c.mlp.lanczos_steps = 30;
        c.mlp.slq_batch_sizes = vec![16, 64, 256, 1024];
        c.mlp.slq_probes = 10;
        c.mlp.slq_steps = 80;
        c.lr.steps = 1500;
        c.lr.seeds = 4;
        c.lr.bisect_steps = 18;
        c
    }
}

// ---------------------------------------------------------------------------------------------
// E1: batch spectra

/// A batch of `b` indices drawn uniformly with replacement.
fn draw_batch(rng: &mut impl Rng, n: usize, b: usize) -> Vec<usize> {
    (0..b).map(|_| rng.random_range(0..n)).collect()
}

/// `λ₁` of an operator by `m` Lanczos steps from a Gaussian start.
fn lambda_max<O: LinOp>(op: &O, m: usize, rng: &mut impl Rng) -> f64 {
    top_eigs(op, 1, m, rng).0[0]
}

/// One E1 cell: a model and a batch size.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SpecCell {
    model: String,
    b: usize,
}

/// `λ₁` per batch of the Hessian and (MLP only) the GGN.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SpecResult {
    hess: Vec<f64>,
    ggn: Vec<f64>,
}

/// Logistic-regression data and weights.
struct LogisticSetup {
    x: Array2<f64>,
    w: Array1<f64>,
}

fn logistic_setup(cfg: &LogisticCfg, seed: Seed) -> LogisticSetup {
    let mut rng = seed.child("data").rng();
    let mut x = gaussian_mat(&mut rng, cfg.n, cfg.d, 1.0);
    x.column_mut(0).mapv_inplace(|v| v * cfg.spike);
    let w = gaussian_vec(&mut seed.child("weights").rng(), cfg.d, 1.0 / (cfg.d as f64).sqrt());
    LogisticSetup { x, w }
}

/// The MLP, its data and the trained point.
struct MlpSetup {
    model: Mlp,
    x: Array2<f64>,
    y: Targets,
    w: Array1<f64>,
    train_loss: f64,
}

fn mlp_setup(cfg: &MlpCfg, seed: Seed) -> MlpSetup {
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

/// Per-B summary of one matrix of one model.
#[derive(Clone, Debug)]
struct Curve {
    model: &'static str,
    matrix: &'static str,
    full: f64,
    bs: Vec<usize>,
    mean: Vec<f64>,
    se: Vec<f64>,
    /// Fitted slope of log(mean − full) vs log B over the fit range.
    slope: f64,
    /// Least-squares `c` of `mean − full = c / B` over the fit range.
    c: f64,
    /// min over B of (mean − full)/se (R1's statistic).
    min_z: f64,
}

fn curve(
    model: &'static str,
    matrix: &'static str,
    full: f64,
    bs: &[usize],
    per_b: &[Vec<f64>],
    fit: (usize, usize),
) -> Curve {
    let (mean, se): (Vec<f64>, Vec<f64>) = per_b.iter().map(|v| mean_se(v)).unzip();
    let in_fit: Vec<usize> = (0..bs.len()).filter(|&i| bs[i] >= fit.0 && bs[i] <= fit.1).collect();
    let fx: Vec<f64> = in_fit.iter().map(|&i| bs[i] as f64).collect();
    let fy: Vec<f64> = in_fit.iter().map(|&i| mean[i] - full).collect();
    let slope = loglog_slope(&fx, &fy);
    let c = fit_inverse_b(&fx, &fy);
    let min_z = (0..bs.len()).map(|i| (mean[i] - full) / se[i].max(1e-300)).fold(f64::INFINITY, f64::min);
    Curve { model, matrix, full, bs: bs.to_vec(), mean, se, slope, c, min_z }
}

// ---------------------------------------------------------------------------------------------
// E2: largest stable learning rate

/// Least-squares data for E2.
struct LsSetup {
    model: Mlp,
    x: Array2<f64>,
    y: Targets,
    lambda_max: f64,
    trace: f64,
}

fn ls_setup(cfg: &LrCfg, seed: Seed) -> LsSetup {
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
    LsSetup { model, x, y, lambda_max, trace }
}

/// Whether `opt` at rate `lr` with batch `b` ends below the initial full loss on every seed.
fn stable(ls: &LsSetup, cfg: &LrCfg, opt: &str, b: usize, lr: f64, seed: Seed) -> bool {
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

#[derive(Clone, Debug, Serialize, Deserialize)]
struct LrCell {
    opt: String,
    b: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct LrResult {
    eta_max: f64,
    /// The bracket's upper end was stable (eta_max is a lower bound).
    censored: bool,
}

// ---------------------------------------------------------------------------------------------
// The study

impl Study for BatchHessianRmt {
    type Config = Config;
    fn slug(&self) -> &'static str {
        "batch-hessian-rmt"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Learning Rates as a Function of Batch Size: A Random Matrix Theory Approach to Neural Network Training",
            authors: "Diego Granziol, Stefan Zohren, Stephen Roberts",
            arxiv: "2006.09092",
            official_code: None,
        }
    }
    /// The MLP curvature products (Lanczos, SLQ) run on the GPU under `--device cuda`.
    fn gpu_path(&self) -> bool {
        true
    }
    fn run(&self, cfg: &Config, ctx: &Ctx) -> Result<Outcome> {
        ensure!(cfg.logistic.batches >= 2 && cfg.mlp.batches >= 2, "need at least two batches per B");
        ensure!(cfg.lr.batch_sizes.contains(&1), "E2 needs B = 1 (claim R4b)");
        let mut out = Outcome::default();
        let fit = (cfg.fit_b_min, cfg.fit_b_max);

        // ---- E1: data, models, full-data curvature
        let lg = logistic_setup(&cfg.logistic, ctx.seed.child("logistic"));
        let mlp = mlp_setup(&cfg.mlp, ctx.seed.child("mlp"));
        let all_lg: Vec<usize> = (0..cfg.logistic.n).collect();
        let lg_full_op = LogisticHessian::new(lg.x.view(), &all_lg, lg.w.view());
        let lg_full = lambda_max(&lg_full_op, 2 * cfg.logistic.lanczos_steps, &mut ctx.seed.child("lg-full").rng());
        // MLP curvature products run on the run's device (the GPU HVP under `--device cuda`).
        let m_full = 2 * cfg.mlp.lanczos_steps;
        let mlp_h_full = lambda_max(
            &mlp_curvature(ctx.device, &mlp.model, mlp.x.view(), &mlp.y, mlp.w.view(), Curvature::Hessian)?,
            m_full,
            &mut ctx.seed.child("mlp-h-full").rng(),
        );
        let mlp_g_full = lambda_max(
            &mlp_curvature(ctx.device, &mlp.model, mlp.x.view(), &mlp.y, mlp.w.view(), Curvature::GaussNewton)?,
            m_full,
            &mut ctx.seed.child("mlp-g-full").rng(),
        );

        // ---- E1: batch spectra, one grid cell per (model, B)
        let mut cells: Vec<SpecCell> =
            cfg.logistic.batch_sizes.iter().map(|&b| SpecCell { model: "logistic".into(), b }).collect();
        cells.extend(cfg.mlp.batch_sizes.iter().map(|&b| SpecCell { model: "mlp".into(), b }));
        let spec = ctx.grid("spectrum", &cells, |cell, seed| {
            let mut rng = seed.rng();
            let mut hess = vec![];
            let mut ggn = vec![];
            if cell.model == "logistic" {
                for _ in 0..cfg.logistic.batches {
                    let idx = draw_batch(&mut rng, cfg.logistic.n, cell.b);
                    let op = LogisticHessian::new(lg.x.view(), &idx, lg.w.view());
                    hess.push(lambda_max(&op, cfg.logistic.lanczos_steps, &mut rng));
                }
            } else {
                for _ in 0..cfg.mlp.batches {
                    let idx = draw_batch(&mut rng, cfg.mlp.n, cell.b);
                    let xb = mlp.x.select(Axis(0), &idx);
                    let yb = mlp.y.select(&idx);
                    hess.push(lambda_max(
                        &mlp_curvature(ctx.device, &mlp.model, xb.view(), &yb, mlp.w.view(), Curvature::Hessian)?,
                        cfg.mlp.lanczos_steps,
                        &mut rng,
                    ));
                    ggn.push(lambda_max(
                        &mlp_curvature(ctx.device, &mlp.model, xb.view(), &yb, mlp.w.view(), Curvature::GaussNewton)?,
                        cfg.mlp.lanczos_steps,
                        &mut rng,
                    ));
                }
            }
            Ok(SpecResult { hess, ggn })
        })?;
        let nl = cfg.logistic.batch_sizes.len();
        let lg_per_b: Vec<Vec<f64>> = spec[..nl].iter().map(|r| r.hess.clone()).collect();
        let mh_per_b: Vec<Vec<f64>> = spec[nl..].iter().map(|r| r.hess.clone()).collect();
        let mg_per_b: Vec<Vec<f64>> = spec[nl..].iter().map(|r| r.ggn.clone()).collect();
        let curves = [
            curve("logistic", "H", lg_full, &cfg.logistic.batch_sizes, &lg_per_b, fit),
            curve("mlp", "H", mlp_h_full, &cfg.mlp.batch_sizes, &mh_per_b, fit),
            curve("mlp", "GGN", mlp_g_full, &cfg.mlp.batch_sizes, &mg_per_b, fit),
        ];

        // ---- E1: SLQ densities of batch Hessians (MLP) and of the full one
        let slq_sizes: Vec<usize> = cfg.mlp.slq_batch_sizes.iter().cloned().chain(std::iter::once(cfg.mlp.n)).collect();
        let densities = ctx.grid("slq", &slq_sizes, |&b, seed| {
            let mut rng = seed.rng();
            let (xb, yb) = if b >= cfg.mlp.n {
                (mlp.x.clone(), mlp.y.clone())
            } else {
                let idx = draw_batch(&mut rng, cfg.mlp.n, b);
                (mlp.x.select(Axis(0), &idx), mlp.y.select(&idx))
            };
            Ok(slq(
                &mlp_curvature(ctx.device, &mlp.model, xb.view(), &yb, mlp.w.view(), Curvature::Hessian)?,
                cfg.mlp.slq_probes,
                cfg.mlp.slq_steps,
                &mut rng,
            ))
        })?;

        // ---- E2: largest stable learning rate vs B
        let ls = ls_setup(&cfg.lr, ctx.seed.child("lstsq"));
        let mut lr_cells: Vec<LrCell> = cfg.lr.batch_sizes.iter().map(|&b| LrCell { opt: "sgd".into(), b }).collect();
        if cfg.lr.adam {
            lr_cells.extend(cfg.lr.batch_sizes.iter().map(|&b| LrCell { opt: "adam".into(), b }));
        }
        let lr_res = ctx.grid("lr-max", &lr_cells, |cell, seed| {
            let is_stable = |lr: f64| stable(&ls, &cfg.lr, &cell.opt, cell.b, lr, seed);
            let (eta_max, censored) = geometric_bisect(is_stable, cfg.lr.lr_lo, cfg.lr.lr_hi, cfg.lr.bisect_steps);
            Ok(LrResult { eta_max, censored })
        })?;

        report(cfg, &mut out, &curves, &mlp, &slq_sizes, &densities, &ls, &lr_cells, &lr_res);
        Ok(out)
    }
}

/// Tables, figures and claims.
#[allow(clippy::too_many_arguments)]
fn report(
    cfg: &Config,
    out: &mut Outcome,
    curves: &[Curve],
    mlp: &MlpSetup,
    slq_sizes: &[usize],
    densities: &[Vec<(Vec<f64>, Vec<f64>)>],
    ls: &LsSetup,
    lr_cells: &[LrCell],
    lr_res: &[LrResult],
) {
    // ---- table + figure: λ₁ vs B
    let mut t_model = vec![];
    let mut t_mat = vec![];
    let mut t_b = vec![];
    let mut t_mean = vec![];
    let mut t_se = vec![];
    let mut t_full = vec![];
    let mut t_fit = vec![];
    for c in curves {
        for i in 0..c.bs.len() {
            t_model.push(c.model.to_string());
            t_mat.push(c.matrix.to_string());
            t_b.push(c.bs[i]);
            t_mean.push(c.mean[i]);
            t_se.push(c.se[i]);
            t_full.push(c.full);
            t_fit.push(c.full + c.c / c.bs[i] as f64);
        }
    }
    out.table(
        Table::new("lambda_vs_B", "Mean and standard error of λ₁ of the batch matrix over the batches, the full-data λ₁, and the fit λ₁ + c/B.")
            .str("model", t_model)
            .str("matrix", t_mat)
            .usize("B", t_b)
            .f64("mean", t_mean)
            .f64("se", t_se)
            .f64("lambda_full", t_full)
            .f64("fit_c_over_B", t_fit),
    );
    out.table(
        Table::new(
            "fits",
            "Fits over the fit range of B: slope of log(E λ₁(H_B) − λ₁(H)) vs log B (RMT: −1) and c of λ₁ + c/B.",
        )
        .str("model", curves.iter().map(|c| c.model.to_string()).collect())
        .str("matrix", curves.iter().map(|c| c.matrix.to_string()).collect())
        .f64("lambda_full", curves.iter().map(|c| c.full).collect())
        .f64("slope", curves.iter().map(|c| c.slope).collect())
        .f64("c", curves.iter().map(|c| c.c).collect())
        .f64("min_z", curves.iter().map(|c| c.min_z).collect()),
    );
    for c in curves {
        let x: Vec<f64> = c.bs.iter().map(|&b| b as f64).collect();
        let x0 = x[0];
        let x1 = *x.last().unwrap_or(&x0);
        let lo: Vec<f64> = (0..x.len()).map(|i| c.mean[i] - 2.0 * c.se[i]).collect();
        let hi: Vec<f64> = (0..x.len()).map(|i| c.mean[i] + 2.0 * c.se[i]).collect();
        let fitted: Vec<f64> = x.iter().map(|b| c.full + c.c / b).collect();
        out.figure(
            Figure::xy(
                &format!("lambda_vs_B_{}_{}", c.model, c.matrix.to_lowercase()),
                &format!("λ₁ of the batch {} vs B ({})", c.matrix, c.model),
                "batch size B",
                "λ₁",
            )
            .log_x()
            .log_y()
            .series(Series::markers("E λ₁(batch) ± 2 s.e.", x.clone(), c.mean.clone()).with_band(lo, hi))
            .series(Series::line(&format!("fit λ₁(full) + c/B, c = {}", fmt_num(c.c)), x.clone(), fitted))
            .series(Series::hline("λ₁(full data)", c.full, x0, x1)),
        );
    }

    // ---- SLQ densities
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for d in densities {
        for (nodes, _) in d {
            for &t in nodes {
                lo = lo.min(t);
                hi = hi.max(t);
            }
        }
    }
    let span = (hi - lo).max(1e-12);
    let sigma = span / 100.0;
    let grid: Vec<f64> = (0..=300).map(|i| lo - 0.05 * span + 1.1 * span * i as f64 / 300.0).collect();
    let mut fig = Figure::xy(
        "slq_densities",
        "SLQ spectral density of the MLP Hessian, batch vs full",
        "eigenvalue",
        "density (log)",
    )
    .log_y();
    let mut dens_cols =
        Table::new("slq_densities", "Gaussian-smoothed SLQ densities of the MLP Hessian (σ = span/100).")
            .f64("lambda", grid.clone());
    for (b, d) in slq_sizes.iter().zip(densities) {
        let phi: Vec<f64> = slq_density(d, &grid, sigma).into_iter().map(|v| v.max(1e-8)).collect();
        let label = if *b >= cfg.mlp.n { format!("full (n = {b})") } else { format!("B = {b}") };
        fig = fig.series(Series::line(&label, grid.clone(), phi.clone()));
        dens_cols = dens_cols.f64(&if *b >= cfg.mlp.n { "full".to_string() } else { format!("B{b}") }, phi);
    }
    out.figure(fig);
    out.table(dens_cols);

    // ---- E2 table + figure
    out.table(
        Table::new(
            "lrmax_vs_B",
            "Largest stable learning rate (full loss after the run below the initial one, every seed).",
        )
        .str("optimizer", lr_cells.iter().map(|c| c.opt.clone()).collect())
        .usize("B", lr_cells.iter().map(|c| c.b).collect())
        .f64("eta_max", lr_res.iter().map(|r| r.eta_max).collect())
        .str("censored", lr_res.iter().map(|r| r.censored.to_string()).collect()),
    );
    let series_of = |opt: &str| -> (Vec<f64>, Vec<f64>) {
        lr_cells.iter().zip(lr_res).filter(|(c, _)| c.opt == opt).map(|(c, r)| (c.b as f64, r.eta_max)).unzip()
    };
    let (sb, se) = series_of("sgd");
    let (ab, ae) = series_of("adam");
    let eta_at = |bs: &[f64], es: &[f64], b: f64| bs.iter().zip(es).find(|(x, _)| **x == b).map(|(_, e)| *e);
    let small = |bs: &[f64], es: &[f64], bmax: f64| -> (Vec<f64>, Vec<f64>) {
        bs.iter().zip(es).filter(|(b, _)| **b <= bmax).map(|(b, e)| (*b, *e)).unzip()
    };
    let (s3x, s3y) = small(&sb, &se, 4.0);
    let sgd_slope_124 = loglog_slope(&s3x, &s3y);
    let (s8x, s8y) = small(&sb, &se, 8.0);
    let sgd_slope_8 = loglog_slope(&s8x, &s8y);
    let (a64x, a64y) = small(&ab, &ae, 64.0);
    let (s64x, _) = small(&sb, &se, 64.0);
    let adam_slope = if a64x.len() >= 2 { loglog_slope(&a64x, &a64y) } else { f64::NAN };
    let e1 = eta_at(&sb, &se, 1.0).unwrap_or(f64::NAN);
    let bmax = sb.iter().cloned().fold(1.0, f64::max);
    let e_big = eta_at(&sb, &se, bmax).unwrap_or(f64::NAN);
    let gd = 2.0 / ls.lambda_max;
    let mut fig = Figure::xy("lrmax_vs_B", "Largest stable learning rate vs batch size", "batch size B", "η_max")
        .log_x()
        .log_y()
        .series(Series::markers("SGD", sb.clone(), se.clone()))
        .series(Series::dashed("slope 1 (linear scaling)", s64x.clone(), s64x.iter().map(|b| e1 * b).collect()))
        .series(Series::hline("GD limit 2/λ_max(H)", gd, 1.0, bmax));
    if !ab.is_empty() {
        let a1 = ae[0];
        fig = fig.series(Series::markers("Adam", ab.clone(), ae.clone())).series(Series::dashed(
            "slope 1/2 (square-root scaling)",
            a64x.clone(),
            a64x.iter().map(|b| a1 * b.sqrt()).collect(),
        ));
    }
    out.figure(fig);

    // ---- notes
    out.note(format!(
        "E1: logistic regression n = {}, d = {} (feature 0 × {}), random w ~ N(0, I/d); Hessian = GGN = (1/B) Σ p(1−p) x xᵀ. \
         MLP {}→{}→{} (tanh, softmax CE) on a {}-class Gaussian mixture (separation {}), n = {}, after {} Adam steps: train loss {}. \
         λ₁ by {}/{} Lanczos steps (full re-orthogonalization) on exact Hessian/GGN products; batches with replacement, {}/{} per B.",
        cfg.logistic.n, cfg.logistic.d, cfg.logistic.spike, cfg.mlp.d, cfg.mlp.hidden, cfg.mlp.classes, cfg.mlp.classes,
        cfg.mlp.separation, cfg.mlp.n, cfg.mlp.train_steps, fmt_num(mlp.train_loss), cfg.logistic.lanczos_steps,
        cfg.mlp.lanczos_steps, cfg.logistic.batches, cfg.mlp.batches
    ));
    out.note(format!(
        "E2: noiseless least squares n = {}, d = {}, feature variances geometric 1 → {}: λ_max(H) = {}, Tr H = {}. \
         η_max = largest η (geometric bisection, {} steps on [{}, {}]) with full loss after {} steps below the initial loss for all {} runs.",
        cfg.lr.n, cfg.lr.d, cfg.lr.var_min, fmt_num(ls.lambda_max), fmt_num(ls.trace), cfg.lr.bisect_steps, cfg.lr.lr_lo,
        cfg.lr.lr_hi, cfg.lr.steps, cfg.lr.seeds
    ));

    // ---- claims
    let [lgc, mh, mg] = [&curves[0], &curves[1], &curves[2]];
    let detail_curve = |c: &Curve| {
        let rows: Vec<String> =
            (0..c.bs.len()).map(|i| format!("B={}: {}±{}", c.bs[i], fmt_num(c.mean[i]), fmt_num(c.se[i]))).collect();
        format!(
            "λ₁(full) = {}; {}; slope {} ; c = {}",
            fmt_num(c.full),
            rows.join(", "),
            fmt_num(c.slope),
            fmt_num(c.c)
        )
    };
    // R1: E λ₁(H_B) ≥ λ₁(H) holds exactly for batches drawn with replacement (E H_B = H and λ₁ is
    // convex), so the only slack is sampling noise: z = (mean − full)/s.e. ≥ −2 at every B.
    for c in [lgc, mh, mg] {
        out.claim(
            Claim::new(
                &format!("R1-{}-{}", c.model, c.matrix.to_lowercase()),
                &format!(
                    "The extremal eigenvalue of the batch {} exceeds that of the full-data {} ({}).",
                    c.matrix, c.matrix, c.model
                ),
                "Abstract; Sec. 3 (Thm 1, batch Hessian extremal eigenvalues); Figs. 1-2",
            )
            .measured(c.min_z)
            .detail(format!("min over B of (E λ₁(batch) − λ₁(full))/s.e.; {}", detail_curve(c)))
            .at_least(-2.0),
        );
    }
    // R2: the excess decays as 1/B (spiked RMT). Band [−1.25, −0.75] from the spec (calibration
    // slope −0.95 on the logistic problem); the constant c is reported, not gated (see README).
    out.claim(
        Claim::new(
            "R2-logistic-h",
            "λ₁(H_B) − λ₁(H) decays as 1/B (fitted log-log slope near −1), logistic regression.",
            "Sec. 3, Thm 1 / Eq. (spiked model λ₁(H_B) ≈ λ₁ + (P/B)σ²/λ₁); Fig. 2",
        )
        .measured(lgc.slope)
        .detail(detail_curve(lgc))
        .between(-1.25, -0.75),
    );
    for c in [mh, mg] {
        let claim = Claim::new(
            &format!("R2-mlp-{}", c.matrix.to_lowercase()),
            &format!("λ₁({}_B) − λ₁({}) decays as 1/B for the MLP (the GGN follows the same law).", c.matrix, c.matrix),
            "Sec. 3-4; Figs. 2-3",
        )
        .measured(c.slope)
        .detail(detail_curve(c))
        .between(-1.25, -0.75);
        out.claim(claim);
    }
    let eta_list: Vec<String> = sb.iter().zip(&se).map(|(b, e)| format!("B={b}: {}", fmt_num(*e))).collect();
    out.claim(
        Claim::new(
            "R3-sgd-linear",
            "The largest stable SGD learning rate grows linearly in B for small B (log-log slope ≈ 1).",
            "Abstract; Sec. 5 (learning-rate scaling), Fig. 5",
        )
        .measured(sgd_slope_124)
        .detail(format!(
            "slope over B ∈ {{1,2,4}}; over B ≤ 8: {}; η_max: {}",
            fmt_num(sgd_slope_8),
            eta_list.join(", ")
        ))
        .between(0.8, 1.1),
    );
    // R4a: at B ≫ 1 the batch curvature → H, so η_max → the GD limit 2/λ_max(H).
    out.claim(
        Claim::new(
            "R4a-gd-limit",
            "At large B the stable rate saturates at the full-batch limit 2/λ_max(H) (η_max·λ_max/2 ≈ 1).",
            "Sec. 5 (LR stops growing once the noise term no longer dominates)",
        )
        .measured(e_big * ls.lambda_max / 2.0)
        .detail(format!("B = {bmax}: η_max = {}, 2/λ_max = {}", fmt_num(e_big), fmt_num(gd)))
        .between(0.95, 1.05),
    );
    // R4b: at B = 1 the batch curvature is x xᵀ with E‖x‖² = Tr H, so η_max ≈ 2/Tr H. The mean-square
    // threshold for Gaussian features is 2/(Tr H + 2λ) (0.88 here); a finite run is a little
    // more lenient (spec calibration 0.93): band [0.8, 1.05] from the spec.
    out.claim(
        Claim::new(
            "R4b-b1-trace",
            "At B = 1 the stable rate is set by the single-sample curvature, η_max ≈ 2/Tr(H).",
            "Sec. 5 (small-B regime: the noise term dominates the extremal eigenvalue)",
        )
        .measured(e1 * ls.trace / 2.0)
        .detail(format!("η_max(1) = {}, 2/Tr H = {}", fmt_num(e1), fmt_num(2.0 / ls.trace)))
        .between(0.8, 1.05),
    );
    if cfg.lr.adam {
        let al: Vec<String> = ab.iter().zip(&ae).map(|(b, e)| format!("B={b}: {}", fmt_num(*e))).collect();
        out.claim(
            Claim::new(
                "R5-adam-sqrt",
                "The largest stable Adam learning rate grows as √B for small B (log-log slope ≈ 0.5).",
                "Abstract; Sec. 5 (adaptive methods), Fig. 6",
            )
            .measured(adam_slope)
            .detail(format!("slope over B ≤ 64; η_max: {}", al.join(", ")))
            .between(0.35, 0.65)
            .not_gated(
                "exploratory: the paper's √B law rests on its assumptions about Adam's preconditioner on deep nets; on a \
                 noiseless quadratic Adam's normalized step does not explode, and 'loss decreased' depends on the step \
                 amplitude, not on the batch curvature",
            ),
        );
    }
}
