//! One training run of the grokking MLP (full batch, AdamW, optionally ⊥Grad) in a chosen float
//! format, and the margin bisection of claim Q1.
use common::Seed;
use common::data::synthetic::{ModOp, modular_arithmetic};
use common::models::precision::{self, Head, PairMlp, Real};
use common::optim::{Optimizer, Transform, adamw, orthogonal_to_weights, stateful};
use ndarray::{Array1, ArrayView1};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// How the gradient is orthogonalized before AdamW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ortho {
    /// Plain gradient (the baseline).
    None,
    /// ⊥Grad per parameter tensor (the official `orthograd.py`).
    PerTensor,
    /// Planted bug: ⊥Grad of the flattened global gradient.
    Global,
}

/// Hyper-parameters of one run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Modulus p.
    pub p: usize,
    /// Training fraction of the p² pairs.
    pub train_frac: f64,
    /// Hidden width.
    pub hidden: usize,
    /// Full-batch epochs.
    pub epochs: usize,
    /// AdamW (lr, β1, β2, eps, weight decay).
    pub lr: f64,
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// eps.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Loss head.
    pub head: Head,
    /// Gradient orthogonalization.
    pub ortho: Ortho,
    /// Epochs at which test accuracy is measured (sorted, within 1..=epochs).
    pub checkpoints: Vec<usize>,
}

/// The state of a run after one of its checkpoint epochs (the pass *at* that epoch, before its
/// update).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Point {
    /// Epoch (1-based: the number of updates taken after this pass).
    pub epoch: usize,
    /// Training loss.
    pub train_loss: f64,
    /// Training accuracy.
    pub train_acc: f64,
    /// Test accuracy.
    pub test_acc: f64,
    /// cos(−∇L, θ) of the raw gradient (all tensors flattened).
    pub cos_neg_grad: f64,
    /// Fraction of per-sample training losses exactly 0.
    pub zero_terms: f64,
    /// Fraction of training samples in softmax collapse.
    pub softmax_collapse: f64,
    /// ‖θ‖.
    pub param_norm: f64,
}

/// One run's record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// The checkpoints.
    pub points: Vec<Point>,
    /// Max over epochs and tensors of |cos(u_t, θ_t)| for the transformed gradient u (0 for the
    /// baseline, which does not transform).
    pub ortho_max_cos: f64,
    /// Max over epochs of |‖u‖/‖g‖ − 1| (all tensors).
    pub ortho_max_norm_err: f64,
    /// Max over every epoch of the training set's softmax-collapse fraction.
    pub max_softmax_collapse: f64,
    /// First epoch whose softmax-collapse fraction is at least 1/2 (0: never).
    pub sc_onset: usize,
}

fn dot(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.dot(&b)
}

/// Train one run in format `F`; randomness from `seed` ("data" split, "init" weights).
pub fn run<F: Real + ndarray::LinalgScalar>(s: &RunSpec, seed: Seed) -> Record {
    let data = modular_arithmetic(&mut seed.child("data").rng(), s.p, ModOp::Add, s.train_frac);
    let split = |v: &[(usize, usize, usize)]| -> (Vec<(usize, usize)>, Vec<usize>) {
        (v.iter().map(|&(a, b, _)| (a, b)).collect(), v.iter().map(|&(_, _, c)| c).collect())
    };
    let ((xtr, ytr), (xte, yte)) = (split(&data.train), split(&data.test));
    let m = PairMlp { p: s.p, hidden: s.hidden, classes: s.p };
    let ranges = m.tensor_ranges();
    // PyTorch's nn.Linear default: U(−1/√fan_in, 1/√fan_in).
    let mut rng = seed.child("init").rng();
    let fan_in = [2 * s.p, s.hidden, s.hidden];
    let mut w: Vec<F> = Vec::with_capacity(m.num_params());
    for (r, &fi) in ranges.iter().zip(&fan_in) {
        let b = 1.0 / (fi as f64).sqrt();
        w.extend((0..r.len()).map(|_| F::from_f64(b * (2.0 * rng.random::<f64>() - 1.0))));
    }
    let mut opt = stateful(adamw(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay));
    let per = orthogonal_to_weights(ranges.clone());
    let global = orthogonal_to_weights(std::iter::once(0..m.num_params()).collect());
    let (mut points, mut max_cos, mut max_norm) = (Vec::new(), 0.0f64, 0.0f64);
    let (mut max_sc, mut sc_onset) = (0.0f64, 0usize);
    for epoch in 1..=s.epochs {
        let (g, st) = m.loss_grad(&w, &xtr, &ytr, s.head);
        max_sc = max_sc.max(st.softmax_collapse);
        if sc_onset == 0 && st.softmax_collapse >= 0.5 {
            sc_onset = epoch;
        }
        let theta = Array1::from_iter(w.iter().map(|v| v.to_f64()));
        let g = Array1::from_iter(g.iter().map(|v| v.to_f64()));
        let u = match s.ortho {
            Ortho::None => g.clone(),
            Ortho::PerTensor => per.update(g.view(), &mut (), theta.view(), epoch - 1),
            Ortho::Global => global.update(g.view(), &mut (), theta.view(), epoch - 1),
        };
        if s.ortho != Ortho::None {
            for r in &ranges {
                let (ut, tt) = (u.slice(ndarray::s![r.clone()]), theta.slice(ndarray::s![r.clone()]));
                let den = (dot(ut, ut) * dot(tt, tt)).sqrt();
                if den > 0.0 {
                    max_cos = max_cos.max((dot(ut, tt) / den).abs());
                }
            }
            let gn = dot(g.view(), g.view()).sqrt();
            if gn > 0.0 {
                max_norm = max_norm.max((dot(u.view(), u.view()).sqrt() / gn - 1.0).abs());
            }
        }
        if s.checkpoints.binary_search(&epoch).is_ok() {
            let (gn, tn) = (dot(g.view(), g.view()).sqrt(), dot(theta.view(), theta.view()).sqrt());
            points.push(Point {
                epoch,
                train_loss: st.loss,
                train_acc: st.accuracy,
                test_acc: m.accuracy(&w, &xte, &yte),
                cos_neg_grad: if gn > 0.0 { -dot(g.view(), theta.view()) / (gn * tn) } else { 0.0 },
                zero_terms: st.zero_terms,
                softmax_collapse: st.softmax_collapse,
                param_norm: tn,
            });
        }
        let step = opt.update(u.view(), theta.view());
        for (wi, (t, d)) in w.iter_mut().zip(theta.iter().zip(step.iter())) {
            *wi = F::from_f64(t + d);
        }
    }
    Record { points, ortho_max_cos: max_cos, ortho_max_norm_err: max_norm, max_softmax_collapse: max_sc, sc_onset }
}

/// The smallest margin (bisection over f64 margins, 200 halvings of [0, 200]) at which the
/// softmax CE in `F` is exactly 0 when the correct logit is 0 and `c − 1` competitors are at `−m`.
/// `from_max` plants the wrong order (the max's 1 first, each competitor absorbed alone).
pub fn zero_loss_margin<F: Real>(c: usize, from_max: bool) -> f64 {
    if !from_max {
        return precision::zero_loss_margin::<F>(c, 0);
    }
    precision::first_zero_margin(|m| {
        let e = F::from_f64(-m).exp();
        let mut s = F::one();
        for _ in 1..c {
            s = s + e;
        }
        s.ln().to_f64() == 0.0
    })
}
