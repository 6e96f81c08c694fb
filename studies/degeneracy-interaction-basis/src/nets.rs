//! The constructed networks: a ReLU MLP with biases on Gaussian inputs, with one planted
//! degeneracy per case, and the trained teacher-student variant.
//!
//! Every hidden unit's bias is set from the data it sees: `b_j = −` (a point between two
//! consecutive order statistics of `w_j·a` at a quantile drawn from `[fire_lo, fire_hi]`), so each
//! unit fires on a fraction `1 − q_j` of the points, no unit is dead or always on by accident, and
//! no pre-activation sits on a kink. The first input coordinate is pushed away from 0
//! (`|x₀| ≥ gap`), so that units whose weights are `e₀` plus a small jitter all fire exactly on
//! `{x₀ > 0}` (the synchronised pair).
use common::Seed;
use common::models::{Activation, Loss, Mlp, Model};
use common::rng::gaussian_mat;
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The planted degeneracy of a constructed network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Case {
    /// Nothing planted: only the per-unit rescalings of ReLU.
    Baseline,
    /// `input_deps` exact affine dependencies among the inputs (mechanism 1 at layer 0).
    InputDeps,
    /// One never-firing unit in each of the first two hidden layers (mechanisms 1 and 2).
    Dead,
    /// Unit 1 of hidden layer 1 is 3 × unit 0 (incoming weights and bias): a linear dependence
    /// among the layer's activations (mechanism 1).
    Proportional,
    /// Units 0 and 1 of hidden layer 1 have non-parallel weights and the same firing set
    /// (mechanism 3, synchronised ReLUs).
    SyncPair,
    /// The synchronised pair, and unit 0 of hidden layer 2 made to fire only where the pair is
    /// silent: its two weights from the pair become free as well (the spec's open question).
    SyncSilenced,
}

impl Case {
    /// Every constructed case, in report order.
    pub const ALL: [Case; 6] =
        [Case::Baseline, Case::InputDeps, Case::Dead, Case::Proportional, Case::SyncPair, Case::SyncSilenced];
    /// Short name for tables and legends.
    pub fn name(self) -> &'static str {
        match self {
            Case::Baseline => "baseline",
            Case::InputDeps => "input dependencies",
            Case::Dead => "dead neurons",
            Case::Proportional => "proportional neurons",
            Case::SyncPair => "synchronised ReLUs",
            Case::SyncSilenced => "synchronised, next unit silenced",
        }
    }
}

/// A network, its parameters and its data.
#[derive(Clone, Debug)]
pub struct Net {
    /// The architecture.
    pub mlp: Mlp,
    /// The parameters.
    pub w: Array1<f64>,
    /// The inputs (`n x d`).
    pub x: Array2<f64>,
}

/// What the constructions need from the configuration.
#[derive(Clone, Debug)]
pub struct Build {
    /// Layer widths.
    pub sizes: Vec<usize>,
    /// Points.
    pub n: usize,
    /// Margin of the first input coordinate away from 0.
    pub gap: f64,
    /// Range of the bias quantiles.
    pub fire: (f64, f64),
    /// Number of affine input dependencies (case `InputDeps`).
    pub input_deps: usize,
    /// Jitter of the synchronised pair's weights around `e₀`.
    pub sync_jitter: f64,
}

/// Gaussian inputs with `|x₀| ≥ gap`; for `deps > 0` the last `deps` coordinates are affine
/// combinations (with a constant) of the others.
pub fn inputs(b: &Build, deps: usize, seed: Seed) -> Array2<f64> {
    let d = b.sizes[0];
    let mut x = gaussian_mat(&mut seed.child("x").rng(), b.n, d, 1.0);
    x.column_mut(0).mapv_inplace(|v| v.signum() * (b.gap + v.abs()));
    if deps > 0 {
        let free = d - deps;
        let mut rng = seed.child("deps").rng();
        let coef = gaussian_mat(&mut rng, deps, free + 1, 1.0);
        for k in 0..deps {
            let mut col = Array1::from_elem(b.n, coef[[k, free]]);
            for m in 0..free {
                col.scaled_add(coef[[k, m]], &x.column(m));
            }
            x.column_mut(free + k).assign(&col);
        }
    }
    x
}

/// Sets hidden layer `l`'s biases so that unit `j` fires on a fraction `1 − q_j` of the points,
/// `q_j` uniform in `fire`, with every pre-activation at least half an order-statistic gap from 0.
pub fn set_biases(mlp: &Mlp, w: &mut Array1<f64>, x: &Array2<f64>, l: usize, fire: (f64, f64), seed: Seed) {
    let a = layer_input(mlp, w, x, l);
    let mut rng = seed.child_idx("bias", l as u64).rng();
    let (wm, _) = mlp.layer(w.view(), l);
    let z = a.dot(&wm.t());
    let n = x.nrows();
    let b: Vec<f64> = (0..mlp.sizes[l + 1])
        .map(|j| {
            let mut s: Vec<f64> = z.column(j).to_vec();
            s.sort_by(f64::total_cmp);
            let q: f64 = rng.random_range(fire.0..fire.1);
            let k = ((q * n as f64) as usize).clamp(0, n - 2);
            -0.5 * (s[k] + s[k + 1])
        })
        .collect();
    let (_, bias) = mlp.layer_mut(w.view_mut(), l);
    bias.expect("biases").assign(&Array1::from(b));
}

/// The input of layer `l` (`x` for `l = 0`, else the post-activations of hidden layer `l`).
pub fn layer_input(mlp: &Mlp, w: &Array1<f64>, x: &Array2<f64>, l: usize) -> Array2<f64> {
    if l == 0 { x.clone() } else { mlp.activations(w.view(), x.view()).swap_remove(l - 1) }
}

/// A random ReLU network on `x` with data-set biases in every hidden layer.
pub fn random_net(sizes: &[usize], x: Array2<f64>, fire: (f64, f64), seed: Seed) -> Net {
    let mlp = Mlp::new(sizes, Activation::Relu, true, Loss::Mse);
    let mut w = mlp.init(&mut seed.child("init").rng());
    for l in 0..mlp.num_layers() - 1 {
        set_biases(&mlp, &mut w, &x, l, fire, seed);
    }
    let last = mlp.num_layers() - 1;
    let out_b = gaussian_mat(&mut seed.child("out_bias").rng(), 1, sizes[last + 1], 0.1);
    let (_, b) = mlp.layer_mut(w.view_mut(), last);
    b.expect("biases").assign(&out_b.row(0));
    Net { mlp, w, x }
}

/// The network of one constructed case, redrawn (up to 50 times, from derived seeds) until it
/// is [`generic`]: nothing but the planted mechanism and the rescalings is degenerate by accident.
pub fn build(case: Case, b: &Build, seed: Seed) -> Net {
    if case == Case::SyncSilenced {
        let mut net = build(Case::SyncPair, b, seed);
        silence_after_pair(&mut net);
        for attempt in 1..50 {
            if generic(&net, case) {
                break;
            }
            net = build(Case::SyncPair, b, seed.child_idx("attempt", attempt));
            silence_after_pair(&mut net);
        }
        return net;
    }
    let mut net = build_once(case, b, seed);
    for attempt in 1..50 {
        if generic(&net, case) {
            break;
        }
        net = build_once(case, b, seed.child_idx("attempt", attempt));
    }
    net
}

/// No accidental degeneracy from firing sets: every hidden unit fires on some but not all points
/// (except the planted dead units, unit 0 of each hidden layer in case `Dead`), and no unit of a
/// later hidden layer is silent wherever a live unit of the layer before fires (that would free
/// the weight between them: a firing-set-restricted activation dependence, mechanism 3), except
/// the planted one of case `SyncSilenced` (unit 0 of layer 2 and the pair).
pub fn generic(net: &Net, case: Case) -> bool {
    let planted_dead = case == Case::Dead;
    let silenced = case == Case::SyncSilenced;
    let mlp = &net.mlp;
    let n = net.x.nrows();
    let fires: Vec<Vec<Vec<bool>>> = (0..mlp.num_layers() - 1)
        .map(|l| {
            let z = pre_activations(mlp, &net.w, &net.x, l);
            (0..mlp.sizes[l + 1]).map(|j| (0..n).map(|i| z[[i, j]] > 0.0).collect()).collect()
        })
        .collect();
    let dead_ok = |j: usize| planted_dead && j == 0;
    for layer in &fires {
        for (j, f) in layer.iter().enumerate() {
            let k = f.iter().filter(|&&v| v).count();
            if !dead_ok(j) && (k == 0 || k == n) {
                return false;
            }
        }
    }
    for l in 1..fires.len() {
        for (m, fm) in fires[l].iter().enumerate() {
            if dead_ok(m) {
                continue;
            }
            for (j, fj) in fires[l - 1].iter().enumerate() {
                let planted = silenced && l == 1 && m == 0 && j < 2;
                if !dead_ok(j) && !planted && !fm.iter().zip(fj).any(|(&a, &b)| a && b) {
                    return false;
                }
            }
        }
    }
    true
}

fn build_once(case: Case, b: &Build, seed: Seed) -> Net {
    let deps = if case == Case::InputDeps { b.input_deps } else { 0 };
    let x = inputs(b, deps, seed);
    let mut net = random_net(&b.sizes, x, b.fire, seed.child(case.name()));
    let (mlp, x) = (net.mlp.clone(), net.x.clone());
    let refit_from = |net: &mut Net, l0: usize| {
        for l in l0..mlp.num_layers() - 1 {
            set_biases(&mlp, &mut net.w, &x, l, b.fire, seed.child("refit"));
        }
    };
    match case {
        Case::Baseline | Case::InputDeps | Case::SyncSilenced => {}
        Case::Dead => {
            // Unit 0 of hidden layer 1 and unit 0 of hidden layer 2 never fire (layer 2's other
            // biases refitted after unit 0 of layer 1 goes silent).
            for l in [0, 1] {
                if l == 1 {
                    refit_from(&mut net, 1);
                }
                let z = pre_activations(&mlp, &net.w, &x, l);
                let top = z.column(0).fold(f64::NEG_INFINITY, |m, &v| m.max(v));
                let (_, bias) = mlp.layer_mut(net.w.view_mut(), l);
                let mut bias = bias.expect("biases");
                bias[0] -= top + 1.0;
            }
        }
        Case::Proportional => {
            let (mut wm, bias) = mlp.layer_mut(net.w.view_mut(), 0);
            let r0 = wm.row(0).to_owned();
            wm.row_mut(1).assign(&(&r0 * 3.0));
            let mut bias = bias.expect("biases");
            bias[1] = 3.0 * bias[0];
            refit_from(&mut net, 1);
        }
        Case::SyncPair => {
            let d = mlp.sizes[0];
            let mut rng = seed.child("sync").rng();
            for j in [0, 1] {
                // e₀ plus a jitter small enough that the unit fires exactly on {x₀ > 0}.
                for _ in 0..1000 {
                    let jit = gaussian_mat(&mut rng, 1, d + 1, b.sync_jitter);
                    let row = Array1::from_shape_fn(d, |m| {
                        f64::from(u8::from(m == 0)) + if m > 0 { jit[[0, m]] } else { 0.0 }
                    });
                    let z = x.dot(&row) + jit[[0, d]];
                    let same = z.iter().zip(x.column(0)).all(|(&z, &x0)| (z > 0.0) == (x0 > 0.0) && z.abs() > 1e-3);
                    if same {
                        let (mut wm, bias) = mlp.layer_mut(net.w.view_mut(), 0);
                        wm.row_mut(j).assign(&row);
                        bias.expect("biases")[j] = jit[[0, d]];
                        break;
                    }
                }
            }
            refit_from(&mut net, 1);
        }
    }
    net
}

/// Pre-activations of layer `l` (`n x sizes[l+1]`).
pub fn pre_activations(mlp: &Mlp, w: &Array1<f64>, x: &Array2<f64>, l: usize) -> Array2<f64> {
    let a = layer_input(mlp, w, x, l);
    let (wm, bias) = mlp.layer(w.view(), l);
    let mut z = a.dot(&wm.t());
    if let Some(bias) = bias {
        z += &bias;
    }
    z
}

/// The trained variant: a ReLU student fitted with Adam (full batch) to a random tanh teacher's
/// outputs on Gaussian inputs. Returns the student, its parameters, the inputs and the final
/// training loss.
pub fn trained(sizes: &[usize], n: usize, teacher_width: usize, steps: usize, lr: f64, seed: Seed) -> (Net, f64) {
    let d = sizes[0];
    let out = *sizes.last().expect("sizes");
    let x = gaussian_mat(&mut seed.child("x").rng(), n, d, 1.0);
    let teacher = Mlp::new(&[d, teacher_width, out], Activation::Tanh, true, Loss::Mse);
    let tw = teacher.init(&mut seed.child("teacher").rng());
    let y = teacher.forward(tw.view(), x.view());
    let targets = common::models::Targets::Regression(y);
    let net = random_net(sizes, x, (0.3, 0.7), seed.child("student"));
    let mlp = net.mlp.clone();
    let mut w = net.w.clone();
    let (mut m, mut v) = (Array1::<f64>::zeros(w.len()), Array1::<f64>::zeros(w.len()));
    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    let mut loss = f64::NAN;
    for t in 1..=steps {
        let (l, g) = mlp.loss_grad(w.view(), net.x.view(), &targets);
        loss = l;
        m = &m * b1 + &(&g * (1.0 - b1));
        v = &v * b2 + &(g.mapv(|e| e * e) * (1.0 - b2));
        let step = lr * (1.0 - b2.powi(t as i32)).sqrt() / (1.0 - b1.powi(t as i32));
        ndarray::Zip::from(&mut w).and(&m).and(&v).for_each(|w, &m, &v| *w -= step * m / (v.sqrt() + eps));
    }
    let _ = Axis(0);
    (Net { mlp, w, x: net.x }, loss)
}

/// Unit 0 of hidden layer 2 fires on about half of the points where the synchronised pair
/// (units 0 and 1 of hidden layer 1) is silent, and nowhere else: its bias is set from those
/// points and its weights from the pair are made negative enough to silence it where the pair fires.
pub fn silence_after_pair(net: &mut Net) {
    let mlp = net.mlp.clone();
    let a = layer_input(&mlp, &net.w, &net.x, 1);
    let (wm, _) = mlp.layer(net.w.view(), 1);
    let mut rest = a.dot(&wm.row(0));
    rest -= &(&a.column(0) * wm[[0, 0]] + &a.column(1) * wm[[0, 1]]);
    let on: Vec<bool> = (0..a.nrows()).map(|i| a[[i, 0]] > 0.0).collect();
    let mut off: Vec<f64> = rest.iter().zip(&on).filter(|(_, o)| !**o).map(|(r, _)| *r).collect();
    off.sort_by(f64::total_cmp);
    let k = off.len() / 2;
    let b = -0.5 * (off[k.saturating_sub(1)] + off[k]);
    let need =
        (0..a.nrows()).filter(|&i| on[i]).map(|i| (rest[i] + b) / (a[[i, 0]] + a[[i, 1]])).fold(0.0f64, f64::max);
    let c = 1.5 * need + 0.1;
    let (mut wm, bias) = mlp.layer_mut(net.w.view_mut(), 1);
    wm[[0, 0]] = -c;
    wm[[0, 1]] = -c;
    bias.expect("biases")[0] = b;
}
