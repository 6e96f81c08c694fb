//! Gradient-boosted neural networks (GBNN), as `gbnn/GBNN.py` of GAA-UAM/GBNN computes them:
//! each step fits a `J`-unit logistic network to the pseudo-residuals on a subsample, scales it by
//! a Newton step `ρ` (times `η`), and the `T` partial models assemble into one `T·J`-unit network.
use crate::net::{Head, Net, Shape, fit_lbfgs};
use common::Seed;
use common::models::loss::{logsumexp, sigmoid, softmax, softplus};
use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate, s};

/// The learning task, which fixes the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Squared loss; targets `n x 1`.
    Regression,
    /// Log-exponential loss `log(1 + e^{−2yF})`, labels `y = ±1` (`n x 1`); `p = σ(2F)`.
    Binary,
    /// Softmax cross-entropy; one-hot targets `n x K`.
    Multiclass,
}

impl Task {
    /// The output multiplier of the assembled network: 2 for binary (its logit is `2F`), else 1.
    pub fn multiplier(self) -> f64 {
        if self == Task::Binary { 2.0 } else { 1.0 }
    }
    /// The initial model `F0` (one value per output).
    pub fn init(self, y: ArrayView2<f64>) -> Array1<f64> {
        match self {
            Task::Regression => y.mean_axis(Axis(0)).expect("rows"),
            Task::Binary => {
                let m = y.mean().expect("rows").clamp(-1.0 + 1e-12, 1.0 - 1e-12);
                Array1::from_elem(1, 0.5 * ((1.0 + m) / (1.0 - m)).ln())
            }
            Task::Multiclass => Array1::zeros(y.ncols()),
        }
    }
    /// Mean training loss of raw outputs `f`.
    pub fn loss(self, y: ArrayView2<f64>, f: ArrayView2<f64>) -> f64 {
        let n = y.nrows() as f64;
        match self {
            Task::Regression => (&y - &f).mapv(|v| v * v).sum() / n,
            Task::Binary => y.iter().zip(f.iter()).map(|(&y, &f)| softplus(-2.0 * y * f)).sum::<f64>() / n,
            Task::Multiclass => {
                y.outer_iter().zip(f.outer_iter()).map(|(yr, fr)| logsumexp(fr) * yr.sum() - yr.dot(&fr)).sum::<f64>()
                    / n
            }
        }
    }
    /// Pseudo-residuals: `y − F`; `2y / (1 + e^{2yF})`; `Y − softmax(F)`.
    pub fn residuals(self, y: ArrayView2<f64>, f: ArrayView2<f64>) -> Array2<f64> {
        match self {
            Task::Regression => &y - &f,
            Task::Binary => ndarray::Zip::from(&y).and(&f).map_collect(|&y, &f| 2.0 * y * sigmoid(-2.0 * y * f)),
            Task::Multiclass => {
                let mut r = y.to_owned();
                for (mut rr, fr) in r.outer_iter_mut().zip(f.outer_iter()) {
                    rr -= &softmax(fr);
                }
                r
            }
        }
    }
    /// The Newton step of the loss along the new model's predictions `h` (before `η`).
    /// For squared loss the repo takes `ρ = 1`; with `line_search` it takes the exact minimiser
    /// `Σ r h / Σ h²` of the training loss along `h` (the Newton step of the squared loss).
    pub fn newton_step(self, y: ArrayView2<f64>, r: ArrayView2<f64>, h: ArrayView2<f64>, line_search: bool) -> f64 {
        match self {
            Task::Regression if !line_search => 1.0,
            Task::Regression => {
                r.iter().zip(h.iter()).map(|(r, h)| r * h).sum::<f64>() / h.iter().map(|h| h * h).sum::<f64>()
            }
            Task::Binary => {
                let num: f64 = r.iter().zip(h.iter()).map(|(r, h)| r * h).sum();
                let den: f64 = r.iter().zip(h.iter()).zip(y.iter()).map(|((r, h), y)| r * h * h * (2.0 * y - r)).sum();
                num / den
            }
            Task::Multiclass => {
                // p = Y − r; ρ = −Σ h (y − p) / Σ h² p (p − 1).
                let mut num = 0.0;
                let mut den = 0.0;
                for ((&y, &r), &h) in y.iter().zip(r.iter()).zip(h.iter()) {
                    let p = y - r;
                    num += h * (y - p);
                    den += h * h * p * (p - 1.0);
                }
                -num / den
            }
        }
    }
}

/// Boosting settings.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Boosting steps `T`.
    pub steps: usize,
    /// Hidden units per step `J`.
    pub units: usize,
    /// Shrinkage `η`.
    pub eta: f64,
    /// Fraction of the training set each step is fitted on (without replacement).
    pub subsample: f64,
    /// L-BFGS iterations per step.
    pub iters: usize,
    /// `|ρ|` is clipped to this (a non-finite `ρ` becomes 0).
    pub rho_max: f64,
    /// L2 penalty of each step's regressor (scikit-learn's `alpha`).
    pub alpha: f64,
    /// Squared loss: exact line search `ρ = Σ r h / Σ h²` instead of the repo's `ρ = 1`.
    pub line_search: bool,
}

/// A fitted GBNN: the initial model and the `(network, ρ)` of every step.
#[derive(Clone, Debug)]
pub struct Boosted {
    /// The task.
    pub task: Task,
    /// The initial model `F0`.
    pub init: Array1<f64>,
    /// Every step's network and its step `ρ` (η included, clipped).
    pub steps: Vec<(Net, f64)>,
    /// Mean training loss before step 1 and after every step.
    pub train_loss: Vec<f64>,
    /// Steps whose `ρ` was clipped (or non-finite).
    pub clipped: usize,
}

/// Boost `s.steps` networks on `(x, y)`.
pub fn fit(task: Task, x: ArrayView2<f64>, y: ArrayView2<f64>, s: &Settings, seed: Seed) -> Boosted {
    let (n, d, k) = (x.nrows(), x.ncols(), y.ncols());
    let shape = Shape { d, h: s.units, k };
    let init = task.init(y);
    let mut f = Array2::from_shape_fn((n, k), |(_, j)| init[j]);
    let mut train_loss = vec![task.loss(y, f.view())];
    let mut steps = Vec::with_capacity(s.steps);
    let mut clipped = 0;
    let m = ((s.subsample * n as f64).floor() as usize).clamp(1, n);
    for t in 0..s.steps {
        let seed_t = seed.child_idx("step", t as u64);
        let r = task.residuals(y, f.view());
        let mut idx = common::rng::permutation(&mut seed_t.child("subsample").rng(), n);
        idx.truncate(m);
        idx.sort_unstable();
        let xs = x.select(Axis(0), &idx);
        let rs = r.select(Axis(0), &idx);
        let w0 = shape.init(&mut seed_t.child("init").rng());
        let w = fit_lbfgs(shape, Head::Squared, s.alpha, xs.view(), rs.view(), w0, s.iters);
        let net = shape.unpack(w.view());
        let h = net.forward(x);
        let raw = s.eta * task.newton_step(y, r.view(), h.view(), s.line_search);
        let rho = if raw.is_finite() { raw.clamp(-s.rho_max, s.rho_max) } else { 0.0 };
        if rho != raw {
            clipped += 1;
        }
        f.scaled_add(rho, &h);
        train_loss.push(task.loss(y, f.view()));
        steps.push((net, rho));
    }
    Boosted { task, init, steps, train_loss, clipped }
}

impl Boosted {
    /// Staged raw prediction `F0 + Σ_{t < steps} ρ_t h_t(x)` (the first `steps` partial models).
    pub fn predict_staged(&self, x: ArrayView2<f64>, steps: usize) -> Array2<f64> {
        let mut f = Array2::from_shape_fn((x.nrows(), self.init.len()), |(_, j)| self.init[j]);
        for (net, rho) in self.steps.iter().take(steps) {
            f.scaled_add(*rho, &net.forward(x));
        }
        f
    }
    /// Raw prediction of all partial models.
    pub fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.predict_staged(x, self.steps.len())
    }
    /// The single network (`to_NN`): stacked hidden layers, output weights `m ρ_t W2_t`, output
    /// bias `m (F0 + Σ ρ_t b2_t)`; its outputs are `m F` (`m` = 2 for binary, so that `σ` of the
    /// output is the probability).
    pub fn assemble(&self) -> Net {
        self.assemble_with(self.task.multiplier(), true)
    }
    /// [`Boosted::assemble`] with the multiplier and the use of `ρ` exposed (for planted bugs).
    pub fn assemble_with(&self, m: f64, with_rho: bool) -> Net {
        let nets: Vec<&Net> = self.steps.iter().map(|(n, _)| n).collect();
        let w1 = concatenate(Axis(0), &nets.iter().map(|n| n.w1.view()).collect::<Vec<_>>()).expect("w1");
        let b1 = concatenate(Axis(0), &nets.iter().map(|n| n.b1.view()).collect::<Vec<_>>()).expect("b1");
        let k = self.init.len();
        let j = nets.first().map_or(0, |n| n.b1.len());
        let mut w2 = Array2::zeros((k, j * nets.len()));
        let mut b2 = &self.init * m;
        for (t, (net, rho)) in self.steps.iter().enumerate() {
            let c = if with_rho { *rho } else { 1.0 } * m;
            w2.slice_mut(s![.., t * j..(t + 1) * j]).assign(&(&net.w2 * c));
            b2.scaled_add(c, &net.b2);
        }
        Net { w1, b1, w2, b2 }
    }
}

/// Largest disagreement between the boosted model and its assembled network on `x`: raw outputs
/// (`m F` against the network's outputs) and, for classification, probabilities.
pub fn identity_error(b: &Boosted, net: &Net, x: ArrayView2<f64>) -> f64 {
    let m = b.task.multiplier();
    let fb = b.predict(x) * m;
    let fn_ = net.forward(x);
    let raw = (&fb - &fn_).iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let prob = match b.task {
        Task::Regression => 0.0,
        Task::Binary => fb.iter().zip(fn_.iter()).fold(0.0f64, |a, (p, q)| a.max((sigmoid(*p) - sigmoid(*q)).abs())),
        Task::Multiclass => fb
            .outer_iter()
            .zip(fn_.outer_iter())
            .map(|(p, q)| (softmax(p) - softmax(q)).iter().fold(0.0f64, |a, v| a.max(v.abs())))
            .fold(0.0, f64::max),
    };
    raw.max(prob)
}
