//! Diagonal linear network `f(x) = ⟨u ⊙ u − v ⊙ v, x⟩` (the paper's Sec. 5 model), as a
//! [`common::models::Model`] with the squared loss `0.5 · mean_i (f_i − y_i)²`.
//!
//! **Parameters.** One flat vector `w = [u; v]` of length `2d`; the effective linear predictor is
//! `β = u ⊙ u − v ⊙ v`.
//!
//! **Derivatives.** `∇_w f(x) = [2u ⊙ x; −2v ⊙ x]`, `∇²_w f(x) = diag(2x, −2x)`, so the exact
//! Hessian of the loss is `(1/n) Σ_i ∇f_i ∇f_iᵀ + (1/n) Σ_i r_i diag(2x_i, −2x_i)`
//! (`r_i = f_i − y_i`); at an interpolating point only the first (Gauss-Newton) term remains and
//! `Tr H = (4/n) Σ_i Σ_j (u_j² + v_j²) x_ij²` (see [`trace_identity`]).
use common::models::{Loss, Model, Targets};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};

/// `f(x) = ⟨u ⊙ u − v ⊙ v, x⟩` on `d` features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiagNet {
    pub d: usize,
}

impl DiagNet {
    pub fn new(d: usize) -> Self {
        assert!(d > 0, "DiagNet needs at least one feature");
        DiagNet { d }
    }

    fn split<'a>(&self, w: ArrayView1<'a, f64>) -> (ArrayView1<'a, f64>, ArrayView1<'a, f64>) {
        assert_eq!(w.len(), 2 * self.d, "DiagNet: parameter vector has the wrong length");
        w.split_at(Axis(0), self.d)
    }

    /// The effective predictor `β = u ⊙ u − v ⊙ v`.
    pub fn beta(&self, w: ArrayView1<f64>) -> Array1<f64> {
        let (u, v) = self.split(w);
        Array1::from_shape_fn(self.d, |j| u[j] * u[j] - v[j] * v[j])
    }

    /// The paper's initialization `u = v = α·1` (so `β = 0`).
    pub fn init(&self, alpha: f64) -> Array1<f64> {
        Array1::from_elem(2 * self.d, alpha)
    }

    /// An interpolating point for the predictor `β` with slack `γ ≥ 0`:
    /// `u = √(β⁺ + γ)`, `v = √(β⁻ + γ)`, so that `u² − v² = β` exactly for any `γ`. Larger `γ`
    /// gives a sharper minimum with the same predictor.
    pub fn point(&self, beta: ArrayView1<f64>, gamma: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(beta.len(), self.d);
        assert_eq!(gamma.len(), self.d);
        assert!(gamma.iter().all(|&g| g >= 0.0), "DiagNet::point: slack must be non-negative");
        let mut w = Array1::zeros(2 * self.d);
        for j in 0..self.d {
            w[j] = (beta[j].max(0.0) + gamma[j]).sqrt();
            w[self.d + j] = ((-beta[j]).max(0.0) + gamma[j]).sqrt();
        }
        w
    }

    fn check(&self, x: &ArrayView2<f64>) {
        assert_eq!(x.ncols(), self.d, "DiagNet: input has {} features, expected {}", x.ncols(), self.d);
    }
}

impl Model for DiagNet {
    fn num_params(&self) -> usize {
        2 * self.d
    }
    fn num_outputs(&self) -> usize {
        1
    }
    fn loss_fn(&self) -> Loss {
        Loss::Mse
    }
    fn forward(&self, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
        self.check(&x);
        x.dot(&self.beta(w)).insert_axis(Axis(1))
    }
    fn jvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, dv: ArrayView1<f64>) -> Array2<f64> {
        self.check(&x);
        let (u, v) = self.split(w);
        let (du, dvv) = self.split(dv);
        let dbeta = Array1::from_shape_fn(self.d, |j| 2.0 * (u[j] * du[j] - v[j] * dvv[j]));
        x.dot(&dbeta).insert_axis(Axis(1))
    }
    fn vjp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, cot: ArrayView2<f64>) -> Array1<f64> {
        self.check(&x);
        assert_eq!(cot.dim(), (x.nrows(), 1), "DiagNet::vjp: cotangent shape");
        let (u, v) = self.split(w);
        let xc = x.t().dot(&cot.column(0));
        let mut g = Array1::zeros(2 * self.d);
        for j in 0..self.d {
            g[j] = 2.0 * u[j] * xc[j];
            g[self.d + j] = -2.0 * v[j] * xc[j];
        }
        g
    }
    fn hvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, dv: ArrayView1<f64>) -> Array1<f64> {
        let n = x.nrows() as f64;
        // Gauss-Newton part (1/n) Jᵀ J v (the MSE loss has unit curvature in the output).
        let mut out = self.vjp(w, x, self.jvp(w, x, dv).view()) / n;
        // Residual part (1/n) Σ_i r_i diag(2x_i, −2x_i) v.
        let r = &self.forward(w, x) - &regression_targets(y);
        let xr = x.t().dot(&r.column(0)) / n;
        let (du, dvv) = self.split(dv);
        for j in 0..self.d {
            out[j] += 2.0 * xr[j] * du[j];
            out[self.d + j] -= 2.0 * xr[j] * dvv[j];
        }
        out
    }
}

fn regression_targets(y: &Targets) -> Array2<f64> {
    match y {
        Targets::Regression(t) => t.clone(),
        Targets::Classes(_) => panic!("DiagNet regresses on real targets"),
    }
}

/// `Tr H` at an interpolating point in closed form: `(4/n) Σ_i Σ_j (u_j² + v_j²) x_ij²`.
pub fn trace_identity(net: &DiagNet, w: ArrayView1<f64>, x: ArrayView2<f64>) -> f64 {
    let (u, v) = (w.slice(s![..net.d]), w.slice(s![net.d..]));
    let s = x.mapv(|a| a * a).mean_axis(Axis(0)).expect("non-empty batch");
    4.0 * (0..net.d).map(|j| (u[j] * u[j] + v[j] * v[j]) * s[j]).sum::<f64>()
}

/// The paper's sharpness-norm bound for the diagonal net (Sec. 5): since `u² + v² ≥ |u² − v²|`,
/// `Tr H ≥ 4 ‖β‖₁ · min_j mean_i x_ij²` at any interpolating point. Returns `4 min_j mean_i x_ij²`.
pub fn norm_constant(x: ArrayView2<f64>) -> f64 {
    let s = x.mapv(|a| a * a).mean_axis(Axis(0)).expect("non-empty batch");
    4.0 * s.iter().fold(f64::INFINITY, |m, &v| m.min(v))
}

/// `λ_max(H)` and `Tr H` at an interpolating point in closed form, without the model's
/// derivatives: the nonzero spectrum of `H = JᵀJ/n` is that of the `n × n` Gram matrix
/// `JJᵀ/n = (4/n) X diag(u² + v²) Xᵀ` (rows of `J`: `[2u ⊙ x_i; −2v ⊙ x_i]`).
pub fn closed_form_spectrum(net: &DiagNet, w: ArrayView1<f64>, x: ArrayView2<f64>) -> (f64, f64) {
    let (u, v) = (w.slice(s![..net.d]), w.slice(s![net.d..]));
    let n = x.nrows() as f64;
    let s2 = Array1::from_shape_fn(net.d, |j| u[j] * u[j] + v[j] * v[j]);
    let xs = x.to_owned() * &s2;
    let gram = xs.dot(&x.t()) * (4.0 / n);
    let ev = common::linalg::eigvalsh(&gram);
    (ev[ev.len() - 1], gram.diag().sum())
}
