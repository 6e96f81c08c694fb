//! Training on digits as `batch_train_step` of `models/dyn.py` does it, batched:
//! free phase of T1 iterations from u = 0; then either
//! - hEP with the exact derivative (`--N 0`: forward-mode through T2 nudged iterations from the
//!   free state, i.e. v ← W D v + e for T2 steps, neuronal error δ = D v), or
//! - BP (`--algo bp`: backpropagation through T2 iterations from the free state, the truncated
//!   Neumann series λ ← D Wᵀ λ + D e),
//!
//! the weight update (∂Φ/∂w)ᵀ δ plus the read-out's own gradient, plus coef · ∇ L_homeo with 5
//! Gaussian probes per sample, applied with Adam.
use crate::homeo;
use crate::net::{Net, Sample, dsigma, ep_bp_cosine, sigma};
use common::Seed;
use common::optim::{Optimizer, adamw, stateful};
use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use serde::{Deserialize, Serialize};

/// Train / test split of digits (pixels scaled to [0, 1]).
pub struct Split {
    /// Training inputs.
    pub x_train: Array2<f64>,
    /// Training labels.
    pub y_train: Vec<usize>,
    /// Test inputs.
    pub x_test: Array2<f64>,
    /// Test labels.
    pub y_test: Vec<usize>,
}

/// Load digits and split it at random (`n_train` for training, the rest for testing).
pub fn digits(n_train: usize, seed: Seed) -> anyhow::Result<Split> {
    let ds = common::data::load_shipped(common::data::Shipped::Digits)?;
    let perm = common::rng::permutation(&mut seed.rng(), ds.n());
    let labels = ds.classes();
    let x = ds.x.mapv(|v| v / 16.0);
    let pick = |idx: &[usize]| -> (Array2<f64>, Vec<usize>) {
        (x.select(Axis(0), idx), idx.iter().map(|&i| labels[i]).collect())
    };
    let (x_train, y_train) = pick(&perm[..n_train]);
    let (x_test, y_test) = pick(&perm[n_train..]);
    Ok(Split { x_train, y_train, x_test, y_test })
}

/// How to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algo {
    /// hEP with the exact derivative (N = 0).
    Ep,
    /// Backpropagation through the T2 iterations.
    Bp,
}

/// Training settings.
#[derive(Clone, Debug)]
pub struct TrainCfg {
    /// The gradient.
    pub algo: Algo,
    /// Free iterations.
    pub t1: usize,
    /// Iterations of the derivative (EP) or of the backward pass (BP).
    pub t2: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Epochs.
    pub epochs: usize,
    /// Homeostasis coefficient.
    pub coef: f64,
    /// Gaussian probes per sample for L_homeo.
    pub probes: usize,
    /// Test samples for the EP-BP cosine.
    pub cos_samples: usize,
    /// Step of the relaxation x ← x + dt·(F(x) − x) (1 = the repo's discrete map; all three
    /// iterations share it, and their limits do not depend on it).
    pub dt: f64,
}

/// The state of a run after an epoch (epoch 0 = at initialisation).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Epoch {
    /// Epoch.
    pub epoch: usize,
    /// Test accuracy.
    pub acc: f64,
    /// ‖W − Wᵀ‖ / ‖W + Wᵀ‖.
    pub asym: f64,
    /// The repo's angle between feedback and forward kernels (degrees).
    pub angle: f64,
    /// Mean over test samples of cos(EP weight update, BP gradient).
    pub cos: f64,
    /// Exact L_homeo = ½‖J − Jᵀ‖²/n.
    pub homeo: f64,
    /// Largest free-phase residual ‖Wσ(u) + c − u‖ over test samples.
    pub residual: f64,
}

/// Free phase for a batch: `t1` steps u ← (1 − dt) u + dt (W σ(u) + c) from u = 0 (rows are
/// samples; dt = 1 is the repo's map).
pub fn free_phase(net: &Net, w: &Array2<f64>, x: ArrayView2<f64>, t1: usize, dt: f64) -> Array2<f64> {
    let c = net.drive(x);
    let wt = w.t();
    let mut u = Array2::zeros(c.raw_dim());
    for _ in 0..t1 {
        u = &u * (1.0 - dt) + (u.mapv(sigma::<f64>).dot(&wt) + &c) * dt;
    }
    u
}

fn softmax_rows(z: &Array2<f64>) -> Array2<f64> {
    let mut p = z.clone();
    for mut row in p.rows_mut() {
        let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let t = row.sum();
        row /= t;
    }
    p
}

/// One minibatch gradient (mean over the batch) and the mean cross-entropy.
pub fn batch_grad(net: &Net, w: &Array2<f64>, x: ArrayView2<f64>, labels: &[usize], tc: &TrainCfg) -> (Net, f64) {
    let sz = net.sizes();
    let (h1, h2, k) = (sz.h1, sz.h2, sz.k);
    let b = x.nrows();
    let u = free_phase(net, w, x, tc.t1, tc.dt);
    let r = u.mapv(sigma::<f64>);
    let dm = u.mapv(dsigma::<f64>);
    let r3 = r.slice(s![.., h1 + h2..]);
    let p = softmax_rows(&(r3.dot(&net.w_ro.t()) + &net.b_ro));
    let mut py = p.clone();
    let mut loss = 0.0;
    for (i, &l) in labels.iter().enumerate() {
        py[[i, l]] -= 1.0;
        loss -= p[[i, l]].max(1e-300).ln();
    }
    let mut e = Array2::zeros(u.raw_dim());
    e.slice_mut(s![.., h1 + h2..]).assign(&py.dot(&net.w_ro));
    let delta = match tc.algo {
        Algo::Ep => {
            let mut v = Array2::zeros(u.raw_dim());
            for _ in 0..tc.t2 {
                v = &v * (1.0 - tc.dt) + ((&v * &dm).dot(&w.t()) + &e) * tc.dt;
            }
            v * &dm
        }
        Algo::Bp => {
            let de = &e * &dm;
            let mut l = Array2::zeros(u.raw_dim());
            for _ in 0..tc.t2 {
                l = &l * (1.0 - tc.dt) + (l.dot(w) * &dm + &de) * tc.dt;
            }
            l
        }
    };
    let bf = b as f64;
    let (d1, d2, d3) = (delta.slice(s![.., 0..h1]), delta.slice(s![.., h1..h1 + h2]), delta.slice(s![.., h1 + h2..]));
    let (r1, r2) = (r.slice(s![.., 0..h1]), r.slice(s![.., h1..h1 + h2]));
    let mut g = net.zeros_like();
    g.w_in = d1.t().dot(&x) / bf;
    g.b1 = d1.sum_axis(Axis(0)) / bf;
    g.w12 = d2.t().dot(&r1) / bf;
    g.b2 = d2.sum_axis(Axis(0)) / bf;
    g.w21 = d1.t().dot(&r2) / bf;
    g.w23 = d3.t().dot(&r2) / bf;
    g.b3 = d3.sum_axis(Axis(0)) / bf;
    g.w32 = d2.t().dot(&r3) / bf;
    g.w_ro = py.t().dot(&r3) / bf;
    g.b_ro = py.sum_axis(Axis(0)) / bf;
    debug_assert_eq!(k, py.ncols());
    (g, loss / bf)
}

/// Test accuracy, mean EP-BP cosine on the first `cos_samples` test samples, and the largest
/// free-phase residual.
pub fn evaluate(net: &Net, data: &Split, tc: &TrainCfg, epoch: usize) -> Epoch {
    let w = net.dense_w();
    let u = free_phase(net, &w, data.x_test.view(), tc.t1, tc.dt);
    let sz = net.sizes();
    let r3 = u.slice(s![.., sz.h1 + sz.h2..]).mapv(sigma::<f64>);
    let logits = r3.dot(&net.w_ro.t()) + &net.b_ro;
    let correct = logits
        .rows()
        .into_iter()
        .zip(&data.y_test)
        .filter(|(row, l)| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i) == Some(**l))
        .count();
    let c = net.drive(data.x_test.view());
    let res = (u.mapv(sigma::<f64>).dot(&w.t()) + &c - &u)
        .rows()
        .into_iter()
        .map(|row| row.dot(&row).sqrt())
        .fold(0.0, f64::max);
    let m = tc.cos_samples.min(data.y_test.len());
    let coss: Vec<f64> = (0..m)
        .filter_map(|i| {
            let x = data.x_test.row(i);
            let smp = Sample::new(net, &w, x, data.y_test[i]);
            let ui: Vec<f64> = u.row(i).to_vec();
            ep_bp_cosine(net, x, &smp, &ui, false)
        })
        .collect();
    Epoch {
        epoch,
        acc: correct as f64 / data.y_test.len() as f64,
        asym: homeo::asymmetry(net),
        angle: net.angle_deg(),
        cos: common::stats::mean(&coss),
        homeo: homeo::exact(net),
        residual: res,
    }
}

/// Train `net` and return the evaluation at initialisation and after every epoch.
pub fn train(mut net: Net, data: &Split, tc: &TrainCfg, seed: Seed) -> Vec<Epoch> {
    let mut opt = stateful(adamw(tc.lr, 0.9, 0.999, 1e-8, 0.0));
    let mut params = net.to_flat();
    let mut log = vec![evaluate(&net, data, tc, 0)];
    let n = data.y_train.len();
    let nstate = net.sizes().n();
    for ep in 1..=tc.epochs {
        let perm = common::rng::permutation(&mut seed.child_idx("epoch", ep as u64).rng(), n);
        for (bi, chunk) in perm.chunks(tc.batch).enumerate() {
            let x = data.x_train.select(Axis(0), chunk);
            let labels: Vec<usize> = chunk.iter().map(|&i| data.y_train[i]).collect();
            let w = net.dense_w();
            let (g, _) = batch_grad(&net, &w, x.view(), &labels, tc);
            let mut gflat = g.to_flat();
            if tc.coef > 0.0 {
                let eps = homeo::probes(
                    nstate,
                    tc.probes * chunk.len(),
                    seed.child_idx("probes", ep as u64).child_idx("batch", bi as u64),
                );
                gflat = gflat + homeo::estimate_grad(&net, &eps).to_flat() * tc.coef;
            }
            if gflat.iter().any(|v| !v.is_finite()) {
                break;
            }
            opt.step(&mut params, gflat.view());
            net.set_flat(params.view());
        }
        log.push(evaluate(&net, data, tc, ep));
    }
    log
}

/// Mean over rows helper for tests.
pub fn row_mean(a: &Array2<f64>) -> Array1<f64> {
    a.mean_axis(Axis(0)).unwrap()
}
