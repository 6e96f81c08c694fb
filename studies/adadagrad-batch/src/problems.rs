//! The problems: binary logistic regression on a synthetic set and on breast cancer, a tanh MLP
//! on digits (the non-convex smooth problem), and (full profile) multinomial logistic regression
//! on MNIST as in the official `expt.sh`. Logistic regression is a one-layer [`Mlp`] with a
//! softmax cross-entropy (two classes for the binary sets), so every problem shares one
//! per-sample statistics path ([`common::gpu::mlp_grad_stats`]: the CPU's streaming
//! [`common::models::per_sample::mlp_grad_stats`], or the device pass under `--device cuda`).
use anyhow::Result;
use common::data::{Shipped, load_mnist_idx, load_shipped};
use common::models::{Activation, Loss, Mlp, Targets};
use common::{BadInput, Seed};
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::Config;

/// Which problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Binary logistic regression, Gaussian features, labels drawn from a logistic teacher.
    Synthetic,
    /// Binary logistic regression on the shipped breast-cancer set (standardized).
    BreastCancer,
    /// MLP 64 → hidden → 10 (tanh) on the shipped digits (standardized), cross-entropy.
    DigitsMlp,
    /// Multinomial logistic regression on MNIST (user files in `mnist_dir`).
    MnistLogistic,
}

impl ProblemKind {
    /// The snake_case name (the sweep's axis value).
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::Synthetic => "synthetic",
            ProblemKind::BreastCancer => "breast_cancer",
            ProblemKind::DigitsMlp => "digits_mlp",
            ProblemKind::MnistLogistic => "mnist_logistic",
        }
    }
    /// From the name.
    pub fn from_name(s: &str) -> Option<ProblemKind> {
        [ProblemKind::Synthetic, ProblemKind::BreastCancer, ProblemKind::DigitsMlp, ProblemKind::MnistLogistic]
            .into_iter()
            .find(|p| p.name() == s)
    }
}

/// The four MNIST IDX files in `cfg.mnist_dir` (plain or `.gz`), or a one-line [`BadInput`].
pub fn mnist_files(cfg: &Config) -> Result<[std::path::PathBuf; 4]> {
    let dir = std::path::Path::new(&cfg.mnist_dir);
    let find =
        |stem: &str| [stem.to_string(), format!("{stem}.gz")].into_iter().map(|f| dir.join(f)).find(|p| p.exists());
    let stems =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    let found: Vec<std::path::PathBuf> = stems.iter().filter_map(|s| find(s)).collect();
    match <[std::path::PathBuf; 4]>::try_from(found) {
        Ok(f) => Ok(f),
        Err(_) => Err(BadInput::new(format!(
            "problem mnist_logistic needs the MNIST IDX files ({}, optionally .gz) in mnist_dir = {:?}",
            stems.join(", "),
            cfg.mnist_dir
        ))
        .into()),
    }
}

/// A training problem: the model, the training set, an optional held-out set, the start point.
pub struct Problem {
    /// The model (its loss is the per-sample loss).
    pub mlp: Mlp,
    /// Training inputs.
    pub x: Array2<f64>,
    /// Training targets.
    pub y: Targets,
    /// Held-out inputs and labels (digits, MNIST), for test accuracy.
    pub test: Option<(Array2<f64>, Vec<usize>)>,
    /// Initial parameters.
    pub w0: Array1<f64>,
}

impl Problem {
    /// Training samples.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }
}

fn logistic(d: usize, k: usize) -> Mlp {
    Mlp::new(&[d, k], Activation::Linear, true, Loss::SoftmaxCe)
}

/// Build a problem. The data depend on the seed only for the synthetic set and the digits split;
/// the start point is zero for logistic regression and a seeded default init for the MLP.
pub fn build(cfg: &Config, kind: ProblemKind, seed: Seed) -> Result<Problem> {
    match kind {
        ProblemKind::Synthetic => {
            let mut rng = seed.child("synthetic").rng();
            let (n, d) = (cfg.synth_n, cfg.synth_d);
            let x = common::rng::gaussian_mat(&mut rng, n, d, 1.0);
            let teacher = common::rng::gaussian_vec(&mut rng, d, 2.0 / (d as f64).sqrt());
            let y: Vec<usize> = x
                .rows()
                .into_iter()
                .map(|r| {
                    let p = common::models::sigmoid(r.dot(&teacher));
                    usize::from(rng.random::<f64>() < p)
                })
                .collect();
            let mlp = logistic(d, 2);
            let w0 = Array1::zeros(common::models::Model::num_params(&mlp));
            Ok(Problem { mlp, x, y: Targets::Classes(y), test: None, w0 })
        }
        ProblemKind::BreastCancer => {
            let ds = load_shipped(Shipped::BreastCancer)?.standardize();
            let y = ds.classes();
            let mlp = logistic(ds.x.ncols(), 2);
            let w0 = Array1::zeros(common::models::Model::num_params(&mlp));
            Ok(Problem { mlp, x: ds.x, y: Targets::Classes(y), test: None, w0 })
        }
        ProblemKind::DigitsMlp => {
            let ds = load_shipped(Shipped::Digits)?.standardize();
            let perm = common::rng::permutation(&mut seed.child("split").rng(), ds.n());
            let ntr = cfg.digits_train.min(ds.n() - 1);
            let (tr, te) = perm.split_at(ntr);
            let cls = ds.classes();
            let x = ds.x.select(Axis(0), tr);
            let y: Vec<usize> = tr.iter().map(|&i| cls[i]).collect();
            let xt = ds.x.select(Axis(0), te);
            let yt: Vec<usize> = te.iter().map(|&i| cls[i]).collect();
            let mlp = Mlp::new(&[64, cfg.hidden, 10], Activation::Tanh, true, Loss::SoftmaxCe);
            let w0 = mlp.init(&mut seed.child("init").rng());
            Ok(Problem { mlp, x, y: Targets::Classes(y), test: Some((xt, yt)), w0 })
        }
        ProblemKind::MnistLogistic => {
            let [im, lb, tim, tlb] = mnist_files(cfg)?;
            let tr = load_mnist_idx(&im, &lb)?;
            let te = load_mnist_idx(&tim, &tlb)?;
            let mlp = logistic(tr.x.ncols(), 10);
            let w0 = Array1::zeros(common::models::Model::num_params(&mlp));
            let y = tr.classes();
            let yt = te.classes();
            Ok(Problem { mlp, x: tr.x, y: Targets::Classes(y), test: Some((te.x, yt)), w0 })
        }
    }
}
