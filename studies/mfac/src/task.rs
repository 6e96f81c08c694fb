//! The small real task of the pruning and optimizer experiments: an MLP on the shipped sklearn
//! digits (1797 8x8 images, 10 classes), standardized pixels, a seeded train/test split.
use anyhow::Result;
use common::Seed;
use common::data::{Shipped, load_shipped};
use common::models::{Activation, Loss, Mlp, Problem, Targets};
use common::optim::{Optimizer, adam, stateful};
use common::train::{Sampling, TrainConfig, train};
use ndarray::{Array1, Array2, ArrayView1, Axis};

/// A train/test split of the digits.
pub struct Split {
    pub x_train: Array2<f64>,
    pub y_train: Targets,
    pub x_test: Array2<f64>,
    pub y_test: Targets,
}

impl Split {
    /// Standardized digits, `test_frac` of them held out (a seeded permutation).
    pub fn digits(seed: Seed, test_frac: f64) -> Result<Split> {
        let ds = load_shipped(Shipped::Digits)?.standardize();
        let n = ds.n();
        let perm = common::rng::permutation(&mut seed.rng(), n);
        let n_test = ((n as f64) * test_frac).round() as usize;
        let (test, tr) = perm.split_at(n_test);
        let cls = ds.classes();
        let pick = |idx: &[usize]| (ds.x.select(Axis(0), idx), Targets::Classes(idx.iter().map(|&i| cls[i]).collect()));
        let (x_train, y_train) = pick(tr);
        let (x_test, y_test) = pick(test);
        Ok(Split { x_train, y_train, x_test, y_test })
    }
}

/// A model and its data.
pub struct Task {
    pub split: Split,
    pub model: Mlp,
}

impl Task {
    /// The digits split of `seed` and the MLP `64 -> hidden -> 10`.
    pub fn digits(seed: Seed, test_frac: f64, hidden: usize) -> Result<Task> {
        Ok(Task { split: Split::digits(seed, test_frac)?, model: mlp(hidden) })
    }
    pub fn n_train(&self) -> usize {
        self.split.x_train.nrows()
    }
    pub fn train_problem(&self) -> Problem<'_, Mlp> {
        Problem::new(&self.model, self.split.x_train.view(), &self.split.y_train)
    }
    pub fn test_problem(&self) -> Problem<'_, Mlp> {
        Problem::new(&self.model, self.split.x_test.view(), &self.split.y_test)
    }
}

/// The MLP `64 -> hidden -> 10` (ReLU, biases, softmax cross-entropy).
pub fn mlp(hidden: usize) -> Mlp {
    Mlp::new(&[64, hidden, 10], Activation::Relu, true, Loss::SoftmaxCe)
}

/// Indices of the weight matrices in the flat parameter vector (biases excluded, as the repo's
/// pruner excludes them).
pub fn weight_indices(model: &Mlp) -> Vec<usize> {
    (0..model.num_layers())
        .flat_map(|l| {
            let (off, _) = model.layer_offset(l);
            off..off + model.sizes[l] * model.sizes[l + 1]
        })
        .collect()
}

/// Mini-batch loop on the training set: `optimizer` for `epochs` epochs of `batch`-sized batches
/// (reshuffled every epoch), evaluating the full training loss every `eval_every` steps.
/// Returns the final parameters and `(step, train loss)` rows (a diverged run stops early).
pub fn fit(
    task: &Task,
    w0: ArrayView1<f64>,
    optimizer: &mut dyn Optimizer,
    epochs: usize,
    batch: usize,
    eval_every: usize,
    seed: Seed,
) -> (Array1<f64>, Vec<(usize, f64)>) {
    let (split, model) = (&task.split, &task.model);
    let n = task.n_train();
    let steps = epochs * (n / batch);
    let cfg = TrainConfig::new(steps, batch, Sampling::EpochShuffle, eval_every);
    let mut w = w0.to_owned();
    let full = task.train_problem();
    let log = train(
        &mut w,
        n,
        &cfg,
        |p, idx| {
            let xb = split.x_train.select(Axis(0), idx);
            let yb = split.y_train.select(idx);
            Problem::new(model, xb.view(), &yb).loss_grad(p)
        },
        optimizer,
        |_, p| vec![("train_loss".to_string(), full.loss(p))],
        &mut seed.rng(),
    );
    (w, log.metric("train_loss"))
}

/// A trained dense model (the starting point of pruning): Adam, `epochs` epochs.
pub fn train_dense(task: &Task, epochs: usize, batch: usize, lr: f64, seed: Seed) -> Array1<f64> {
    let w0 = task.model.init(&mut seed.child("init").rng());
    let mut opt = stateful(adam(lr, 0.9, 0.999, 1e-8));
    fit(task, w0.view(), &mut opt, epochs, batch, 0, seed.child("batches")).0
}
