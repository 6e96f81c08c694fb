//! One-hidden-layer network with logistic units, the only shape GBNN needs: `common::models::Mlp`
//! offers ReLU/tanh/GELU/linear units but no logistic one, so this small local piece computes the
//! forward pass and the exact gradient of its two heads (squared error for the per-step regressors
//! and the regression MLP; softmax cross-entropy for the classification MLP).
//!
//! Parameters, flat: `W1` (h x d, row-major), `b1` (h), `W2` (k x h, row-major), `b2` (k).
use common::models::loss::{logsumexp, sigmoid, softmax};
use common::optim::{FnObjective, Lbfgs, Optimizer, OptimizerConfig, StrongWolfe};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rand::Rng;

/// Shape of a network: inputs `d`, hidden logistic units `h`, outputs `k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Inputs.
    pub d: usize,
    /// Hidden units.
    pub h: usize,
    /// Outputs.
    pub k: usize,
}

/// The head: what the outputs are scored against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// `½ mean_i ‖f_i − y_i‖²` (targets `n x k`).
    Squared,
    /// Softmax cross-entropy on one-hot targets `n x k`.
    Softmax,
}

/// A network's weights, unpacked.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    /// Hidden weights, `h x d`.
    pub w1: Array2<f64>,
    /// Hidden biases, `h`.
    pub b1: Array1<f64>,
    /// Output weights, `k x h`.
    pub w2: Array2<f64>,
    /// Output biases, `k`.
    pub b2: Array1<f64>,
}

impl Shape {
    /// Length of the flat parameter vector.
    pub fn num_params(&self) -> usize {
        self.h * self.d + self.h + self.k * self.h + self.k
    }
    /// Glorot-uniform initialisation as scikit-learn draws it for logistic units:
    /// `U(−b, b)` with `b = sqrt(2 / (fan_in + fan_out))`, biases included.
    pub fn init(&self, rng: &mut impl Rng) -> Array1<f64> {
        let b1 = (2.0 / (self.d + self.h) as f64).sqrt();
        let b2 = (2.0 / (self.h + self.k) as f64).sqrt();
        let n1 = self.h * self.d + self.h;
        Array1::from_shape_fn(self.num_params(), |i| {
            let b = if i < n1 { b1 } else { b2 };
            rng.random_range(-b..b)
        })
    }
    /// Unpack a flat vector.
    pub fn unpack(&self, w: ArrayView1<f64>) -> Net {
        let (d, h, k) = (self.d, self.h, self.k);
        let mut o = 0;
        let mut take = |len: usize| {
            let v = w.slice(s![o..o + len]).to_owned();
            o += len;
            v
        };
        let w1 = take(h * d).into_shape_with_order((h, d)).expect("w1");
        let b1 = take(h);
        let w2 = take(k * h).into_shape_with_order((k, h)).expect("w2");
        let b2 = take(k);
        Net { w1, b1, w2, b2 }
    }
}

impl Net {
    /// Hidden activations `σ(X W1ᵀ + b1)`, `n x h`.
    pub fn hidden(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut a = x.dot(&self.w1.t()) + &self.b1;
        a.mapv_inplace(sigmoid);
        a
    }
    /// Outputs `σ(X W1ᵀ + b1) W2ᵀ + b2`, `n x k`.
    pub fn forward(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.hidden(x).dot(&self.w2.t()) + &self.b2
    }
    /// Outputs with only the first `keep` hidden units active (the others' output weights zeroed).
    pub fn forward_first(&self, x: ArrayView2<f64>, keep: usize) -> Array2<f64> {
        let keep = keep.min(self.b1.len());
        let a = (x.dot(&self.w1.slice(s![..keep, ..]).t()) + self.b1.slice(s![..keep])).mapv(sigmoid);
        a.dot(&self.w2.slice(s![.., ..keep]).t()) + &self.b2
    }
}

/// Mean loss of outputs `f` against targets `y` (both `n x k`) and its gradient in `f`.
pub fn head_loss_grad(head: Head, f: ArrayView2<f64>, y: ArrayView2<f64>) -> (f64, Array2<f64>) {
    let n = f.nrows().max(1) as f64;
    match head {
        Head::Squared => {
            let r = &f - &y;
            (0.5 * r.mapv(|v| v * v).sum() / n, r / n)
        }
        Head::Softmax => {
            let mut g = Array2::zeros(f.raw_dim());
            let mut l = 0.0;
            for ((fr, yr), mut gr) in f.outer_iter().zip(y.outer_iter()).zip(g.outer_iter_mut()) {
                l += logsumexp(fr) * yr.sum() - fr.dot(&yr);
                gr.assign(&((softmax(fr) * yr.sum() - yr) / n));
            }
            (l / n, g)
        }
    }
}

/// Mean loss plus `(alpha / 2n) (‖W1‖² + ‖W2‖²)` (scikit-learn's L2 term) and its exact gradient.
pub fn loss_grad(
    shape: Shape,
    head: Head,
    alpha: f64,
    w: ArrayView1<f64>,
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
) -> (f64, Array1<f64>) {
    let net = shape.unpack(w);
    let n = x.nrows().max(1) as f64;
    let a = net.hidden(x);
    let f = a.dot(&net.w2.t()) + &net.b2;
    let (mut l, df) = head_loss_grad(head, f.view(), y);
    let gw2 = df.t().dot(&a) + &net.w2 * (alpha / n);
    let gb2 = df.sum_axis(Axis(0));
    let dz = df.dot(&net.w2) * &a.mapv(|v| v * (1.0 - v));
    let gw1 = dz.t().dot(&x) + &net.w1 * (alpha / n);
    let gb1 = dz.sum_axis(Axis(0));
    l += 0.5 * alpha / n * (net.w1.mapv(|v| v * v).sum() + net.w2.mapv(|v| v * v).sum());
    let mut g = Vec::with_capacity(shape.num_params());
    g.extend(gw1.iter());
    g.extend(gb1.iter());
    g.extend(gw2.iter());
    g.extend(gb2.iter());
    (l, Array1::from(g))
}

/// Fit by L-BFGS (history 10, strong Wolfe) from `w0`, at most `iters` steps.
pub fn fit_lbfgs(
    shape: Shape,
    head: Head,
    alpha: f64,
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    w0: Array1<f64>,
    iters: usize,
) -> Array1<f64> {
    let opt = Lbfgs { m: 10, gtol: 1e-10, max_iter: iters, line_search: StrongWolfe::default() };
    let obj = FnObjective(|w: ArrayView1<f64>| loss_grad(shape, head, alpha, w, x, y));
    opt.minimize(obj, w0.view()).x
}

/// Fit by full-batch Adam (β = 0.9, 0.999, ε = 1e-8) for `epochs` steps at rate `lr`.
#[allow(clippy::too_many_arguments)]
pub fn fit_adam(
    shape: Shape,
    head: Head,
    alpha: f64,
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    mut w: Array1<f64>,
    epochs: usize,
    lr: f64,
) -> Array1<f64> {
    let mut opt = OptimizerConfig::adam(lr).build();
    for _ in 0..epochs {
        let (_, g) = loss_grad(shape, head, alpha, w.view(), x, y);
        opt.step(&mut w, g.view());
    }
    w
}
