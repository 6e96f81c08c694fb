//! The experiment's machinery: the teacher-labelled data, SGD with a seeded batch order, spawning
//! and independent pairs, and the analysis of one pair (paths, barriers, the Taylor predictions of
//! the midpoint excess, whole network and per layer, and the error of the prediction on scaled
//! segments).

use common::Seed;
use common::models::path::{LayerMasks, barrier, curvature_hvp, interpolate, midpoint_excess, midpoint_predictions};
use common::models::{Activation, Loss, Mlp, Model, Problem, Targets};
use common::rng::{gaussian_mat, permutation};
use ndarray::{Array1, Array2, ArrayView1, Axis};
use serde::{Deserialize, Serialize};

use crate::Config;

/// Training data: `x ~ N(0, I_d)`, label `argmax(teacher(x) + noise·N(0, I))` for a random tanh
/// teacher `d → teacher_width → classes`.
pub fn data(cfg: &Config, seed: Seed) -> (Array2<f64>, Targets) {
    let teacher = Mlp::new(&[cfg.d_in, cfg.teacher_width, cfg.classes], Activation::Tanh, true, Loss::SoftmaxCe);
    let wt = teacher.init(&mut seed.child("teacher").rng());
    let x = gaussian_mat(&mut seed.child("x").rng(), cfg.n, cfg.d_in, 1.0);
    let f = teacher.forward(wt.view(), x.view()) * cfg.teacher_scale
        + gaussian_mat(&mut seed.child("noise").rng(), cfg.n, cfg.classes, cfg.label_noise);
    let labels =
        f.axis_iter(Axis(0)).map(|r| r.iter().enumerate().fold(0, |b, (k, &v)| if v > r[b] { k } else { b })).collect();
    (x, Targets::Classes(labels))
}

/// The student network of the config.
pub fn student(cfg: &Config) -> Mlp {
    let mut sizes = vec![cfg.d_in];
    sizes.extend(&cfg.hidden);
    sizes.push(cfg.classes);
    Mlp::new(&sizes, Activation::Tanh, true, Loss::SoftmaxCe)
}

/// `epochs` epochs of plain SGD (step `lr`, batches of `batch` in a fresh random order each epoch,
/// the order drawn from `seed`).
pub fn sgd(
    cfg: &Config,
    mlp: &Mlp,
    x: &Array2<f64>,
    y: &Targets,
    w0: &Array1<f64>,
    epochs: usize,
    seed: Seed,
) -> Array1<f64> {
    let mut w = w0.clone();
    let n = x.nrows();
    for e in 0..epochs {
        let order = permutation(&mut seed.child_idx("epoch", e as u64).rng(), n);
        for idx in order.chunks(cfg.batch) {
            let xb = x.select(Axis(0), idx);
            let yb = y.select(idx);
            let (_, g) = mlp.loss_grad(w.view(), xb.view(), &yb);
            w.scaled_add(-cfg.lr, &g);
        }
    }
    w
}

/// The midpoint excess of one segment and its predictions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Segment {
    /// `max_s L(s) − chord(s)` over the grid.
    pub barrier: f64,
    /// Where the barrier is.
    pub barrier_at: f64,
    /// `L(m) − ½(L_A + L_B)`.
    pub measured: f64,
    /// `−⅛ ΔᵀH(m)Δ`.
    pub pred_mid: f64,
    /// `−⅛ · ½(ΔᵀH(θ_A)Δ + ΔᵀH(θ_B)Δ)`.
    pub pred_end: f64,
    /// `‖Δ‖` (of the restricted difference for a layer).
    pub delta_norm: f64,
    /// Loss along the path on the config's grid.
    pub path: Vec<f64>,
}

/// The error of the midpoint prediction on the segment `m ± tΔ/2`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScalePoint {
    /// The scale `t`.
    pub t: f64,
    /// Measured midpoint excess of the scaled segment.
    pub measured: f64,
    /// Measured minus `−⅛ t²ΔᵀH(m)Δ` (midpoint Hessian): `O(t⁴)`.
    pub err_mid: f64,
    /// Measured minus `−⅛ t²ΔᵀH(m − tΔ/2)Δ` (Hessian at one end of the segment): `O(t³)`.
    pub err_end_a: f64,
}

/// Everything measured on one pair of networks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pair {
    /// `spawn`, `independent` or `matched` (the independent pair after weight matching).
    pub kind: String,
    /// Spawn epoch (the independent pairs: the children's epochs are all they had; reported as 0).
    pub k: usize,
    /// Training loss and accuracy of the endpoints.
    pub loss_a: f64,
    /// Loss of B.
    pub loss_b: f64,
    /// Accuracy of A.
    pub acc_a: f64,
    /// Accuracy of B.
    pub acc_b: f64,
    /// The whole-network segment.
    pub whole: Segment,
    /// The segment with Δ restricted to each layer.
    pub layers: Vec<Segment>,
    /// The Taylor error on scaled segments centred at the midpoint.
    pub scaling: Vec<ScalePoint>,
}

fn segment<M: Model + ?Sized>(cfg: &Config, p: &Problem<M>, a: ArrayView1<f64>, d: ArrayView1<f64>) -> Segment {
    let path = interpolate(p, a, d, &cfg.grid(), false);
    let b = barrier(&path);
    let pr = midpoint_predictions(p, a, d);
    Segment {
        barrier: b.height,
        barrier_at: b.at,
        measured: pr.measured,
        pred_mid: pr.midpoint,
        pred_end: pr.endpoints,
        delta_norm: d.dot(&d).sqrt(),
        path: path.loss,
    }
}

/// Analyse the pair `(a, b)`: whole network, every layer, and the scaled segments.
#[allow(clippy::too_many_arguments)]
pub fn analyse(
    cfg: &Config,
    mlp: &Mlp,
    x: &Array2<f64>,
    y: &Targets,
    a: &Array1<f64>,
    b: &Array1<f64>,
    kind: &str,
    k: usize,
) -> Pair {
    let p = Problem::new(mlp, x.view(), y);
    let d = b - a;
    let masks = LayerMasks::of(mlp);
    let whole = segment(cfg, &p, a.view(), d.view());
    let layers = (0..masks.len()).map(|l| segment(cfg, &p, a.view(), masks.restrict(d.view(), l).view())).collect();
    let m = a + &(&d * 0.5);
    let c_m = curvature_hvp(&p, m.view(), d.view());
    // The scaled segments only for spawned pairs (Q2); far from the expansion's regime they say nothing.
    let scales: &[f64] = if kind == "spawn" { &cfg.scales } else { &[] };
    let scaling = scales
        .iter()
        .map(|&t| {
            let dt = &d * t;
            let at = &m - &(&dt * 0.5);
            let measured = midpoint_excess(|w| p.loss(w), at.view(), dt.view());
            let c_a = curvature_hvp(&p, at.view(), dt.view());
            ScalePoint { t, measured, err_mid: measured + t * t * c_m / 8.0, err_end_a: measured + c_a / 8.0 }
        })
        .collect();
    Pair {
        kind: kind.to_string(),
        k,
        loss_a: p.loss(a.view()),
        loss_b: p.loss(b.view()),
        acc_a: p.accuracy(a.view()),
        acc_b: p.accuracy(b.view()),
        whole,
        layers,
        scaling,
    }
}

/// One repetition: a parent trained from θ₀ with children spawned at every `k` of the config
/// (two children per spawn, `epochs` epochs each with independent batch orders), and a pair
/// trained from two independent inits (also after weight matching).
pub fn repetition(cfg: &Config, x: &Array2<f64>, y: &Targets, seed: Seed) -> Vec<Pair> {
    let mlp = student(cfg);
    let w0 = mlp.init(&mut seed.child("init").rng());
    let mut out = vec![];
    let mut parent = w0.clone();
    let mut at = 0;
    for &k in &cfg.spawn {
        parent = sgd(cfg, &mlp, x, y, &parent, k - at, seed.child_idx("parent", k as u64));
        at = k;
        let s = seed.child_idx("spawn", k as u64);
        let a = sgd(cfg, &mlp, x, y, &parent, cfg.epochs, s.child("a"));
        let b = sgd(cfg, &mlp, x, y, &parent, cfg.epochs, s.child("b"));
        out.push(analyse(cfg, &mlp, x, y, &a, &b, "spawn", k));
    }
    let a = sgd(cfg, &mlp, x, y, &w0, cfg.epochs, seed.child("indep_a"));
    let w1 = mlp.init(&mut seed.child("init_b").rng());
    let b = sgd(cfg, &mlp, x, y, &w1, cfg.epochs, seed.child("indep_b"));
    out.push(analyse(cfg, &mlp, x, y, &a, &b, "independent", 0));
    let b_aligned = common::models::path::align_mlp(&mlp, a.view(), b.view(), cfg.match_sweeps);
    out.push(analyse(cfg, &mlp, x, y, &a, &b_aligned, "matched", 0));
    out
}
