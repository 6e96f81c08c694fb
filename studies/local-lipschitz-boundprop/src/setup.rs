//! The paper's tiny setting (repository `shizhouxing/Local-Lipschitz-Constants`): lipMIP's random
//! K-cluster data (`random_dataset.py`), the `simple_mlp_*` models (`models/simple.py`) trained with
//! Adam and cross-entropy (`train_model.py`), and the `simpleData` centre `0.5·1`.
use crate::Config;
use common::Seed;
use common::models::{Activation, Loss, Mlp, Model, Targets, accuracy};
use common::optim::OptimizerConfig;
use common::train::{Sampling, TrainConfig, train};
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A data split.
pub struct Split {
    /// Inputs, one per row.
    pub x: Array2<f64>,
    /// Class labels.
    pub y: Vec<usize>,
}

/// lipMIP's random K-cluster set: `points` uniform points of `[0, 1]^dim`; `leaders` of them drawn
/// without replacement get uniform random labels; every point takes the label of its nearest leader
/// (Euclidean); a random 70/30 train/test split.
pub fn random_k(cfg: &Config, seed: Seed) -> (Split, Split) {
    let mut rng = seed.rng();
    let (n, d) = (cfg.points, cfg.dim);
    let x = Array2::from_shape_fn((n, d), |_| rng.random::<f64>());
    let perm = common::rng::permutation(&mut rng, n);
    let leaders = &perm[..cfg.leaders];
    let leader_label: Vec<usize> = leaders.iter().map(|_| rng.random_range(0..cfg.classes)).collect();
    let y: Vec<usize> = (0..n)
        .map(|i| {
            let dist = |&l: &usize| (&x.row(i) - &x.row(l)).mapv(|v| v * v).sum();
            let best = (0..leaders.len()).fold(0, |b, j| if dist(&leaders[j]) < dist(&leaders[b]) { j } else { b });
            leader_label[best]
        })
        .collect();
    let order = common::rng::permutation(&mut rng, n);
    let n_train = (7 * n) / 10;
    let take = |idx: &[usize]| Split { x: x.select(Axis(0), idx), y: idx.iter().map(|&i| y[i]).collect() };
    (take(&order[..n_train]), take(&order[n_train..]))
}

/// A trained model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trained {
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Flat parameters (common's `Mlp` layout).
    pub w: Vec<f64>,
    /// Training accuracy at the end.
    pub train_acc: f64,
    /// Test accuracy at the end.
    pub test_acc: f64,
}

/// The MLP `dim → hidden… → classes` with ReLU and biases.
pub fn mlp(cfg: &Config, hidden: &[usize]) -> Mlp {
    let mut sizes = vec![cfg.dim];
    sizes.extend_from_slice(hidden);
    sizes.push(cfg.classes);
    Mlp::new(&sizes, Activation::Relu, true, Loss::SoftmaxCe)
}

/// He-initialized weights with PyTorch's default bias range `U(−1/√fan_in, 1/√fan_in)`, then Adam
/// (lr `cfg.lr`) on softmax cross-entropy for `cfg.epochs` epochs of shuffled mini-batches.
pub fn train_model(cfg: &Config, hidden: &[usize], data: &(Split, Split), seed: Seed) -> Trained {
    let net = mlp(cfg, hidden);
    let mut rng = seed.child("init").rng();
    let mut w = net.init(&mut rng);
    for l in 0..net.num_layers() {
        let bound = 1.0 / (net.sizes[l] as f64).sqrt();
        let (_, b) = net.layer_mut(w.view_mut(), l);
        b.expect("bias").iter_mut().for_each(|v| *v = bound * (2.0 * rng.random::<f64>() - 1.0));
    }
    let (tr, te) = data;
    let ytr = Targets::Classes(tr.y.clone());
    let steps = cfg.epochs * (tr.x.nrows() / cfg.batch).max(1);
    let tc = TrainConfig::new(steps, cfg.batch, Sampling::EpochShuffle, 0);
    let mut opt = OptimizerConfig::adam(cfg.lr).build();
    let grad = |w: ndarray::ArrayView1<f64>, idx: &[usize]| {
        let xb = tr.x.select(Axis(0), idx);
        net.loss_grad(w, xb.view(), &ytr.select(idx))
    };
    train(&mut w, tr.x.nrows(), &tc, grad, opt.as_mut(), |_, _| vec![], &mut seed.child("batches").rng());
    let acc = |s: &Split| accuracy(net.forward(w.view(), s.x.view()).view(), &Targets::Classes(s.y.clone()));
    Trained { hidden: hidden.to_vec(), w: w.to_vec(), train_acc: acc(tr), test_acc: acc(te) }
}

/// The centres of the local regions: `simpleData`'s constant input `0.5·1`, then the first
/// `cfg.test_points` test points.
pub fn centres(cfg: &Config, test: &Split) -> Vec<Array1<f64>> {
    let mut out = vec![Array1::from_elem(cfg.dim, 0.5)];
    out.extend((0..cfg.test_points).map(|i| test.x.row(i).to_owned()));
    out
}

/// The model's name in the repository's terms.
pub fn model_name(hidden: &[usize]) -> String {
    let mut s = String::from("mlp");
    for h in hidden {
        s.push_str(&format!("-{h}"));
    }
    s
}
