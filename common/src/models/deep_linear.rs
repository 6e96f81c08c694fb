//! Deep linear network `f(x) = W_L ... W_1 x` with the MSE loss `0.5 * mean_i ||f_i - y_i||^2`.
//!
//! `dims = [d_0, d_1, ..., d_L]`; `W_l` is `d_l x d_{l-1}`. The parameter layout is that of an
//! [`Mlp`] with the same sizes, linear activation and no biases: `W_1` row-major, then `W_2`, ...
//! All passes delegate to that `Mlp`, so the HVP is the same exact R-operator.
use super::{Activation, Loss, Mlp, Model, Targets};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A deep linear network with layer sizes `dims` (see the module doc for the parameter layout).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeepLinear {
    /// Layer sizes `[d_0, d_1, ..., d_L]`, input first.
    pub dims: Vec<usize>,
}

impl DeepLinear {
    /// A network with layer sizes `dims` (at least an input and an output size).
    pub fn new(dims: &[usize]) -> Self {
        assert!(dims.len() >= 2, "DeepLinear needs at least an input and an output size");
        DeepLinear { dims: dims.to_vec() }
    }
    /// The equivalent [`Mlp`] (linear activation, no bias, MSE).
    pub fn mlp(&self) -> Mlp {
        Mlp::new(&self.dims, Activation::Linear, false, Loss::Mse)
    }
    /// Number of factors `L`.
    pub fn depth(&self) -> usize {
        self.dims.len() - 1
    }
    /// View of factor `W_{l+1}` (`l = 0..L-1`, shape `d_{l+1} x d_l`).
    pub fn factor<'a>(&self, w: ArrayView1<'a, f64>, l: usize) -> ArrayView2<'a, f64> {
        self.mlp().layer(w, l).0
    }
    /// Mutable view of factor `W_{l+1}`.
    pub fn factor_mut<'a>(&self, w: ndarray::ArrayViewMut1<'a, f64>, l: usize) -> ArrayViewMut2<'a, f64> {
        self.mlp().layer_mut(w, l).0
    }
    /// The end-to-end matrix `W_L ... W_1` (`d_L x d_0`).
    pub fn product(&self, w: ArrayView1<f64>) -> Array2<f64> {
        let w = w.as_standard_layout();
        let mut p = self.factor(w.view(), 0).to_owned();
        for l in 1..self.depth() {
            p = self.factor(w.view(), l).dot(&p);
        }
        p
    }
    /// Parameters with every entry i.i.d. `N(0, std^2)` (small `std` = the small-initialisation
    /// regime of the deep-linear-dynamics literature).
    pub fn init(&self, rng: &mut impl Rng, std: f64) -> Array1<f64> {
        crate::rng::gaussian_vec(rng, self.num_params(), std)
    }
}

impl Model for DeepLinear {
    fn num_params(&self) -> usize {
        self.dims.windows(2).map(|d| d[0] * d[1]).sum()
    }
    fn num_outputs(&self) -> usize {
        *self.dims.last().expect("dims")
    }
    fn loss_fn(&self) -> Loss {
        Loss::Mse
    }
    fn forward(&self, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
        self.mlp().forward(w, x)
    }
    fn loss_grad(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> (f64, Array1<f64>) {
        self.mlp().loss_grad(w, x, y)
    }
    fn hvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, v: ArrayView1<f64>) -> Array1<f64> {
        self.mlp().hvp(w, x, y, v)
    }
    fn gnvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, v: ArrayView1<f64>) -> Array1<f64> {
        self.mlp().gnvp(w, x, y, v)
    }
    fn per_sample_grads(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> Array2<f64> {
        self.mlp().per_sample_grads(w, x, y)
    }
    fn jvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, v: ArrayView1<f64>) -> Array2<f64> {
        self.mlp().jvp(w, x, v)
    }
    fn vjp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, u: ArrayView2<f64>) -> Array1<f64> {
        self.mlp().vjp(w, x, u)
    }
}
