//! A fully-connected network in NTK parametrisation (Jacot et al. 2018, Sec. 2):
//!
//! ```text
//! α⁰ = x,   α̃^{k+1} = W_k α^k / √n_k + β b_k,   α^{k+1} = σ(α̃^{k+1}),   f = α̃^L
//! ```
//!
//! with every W_k, b_k entry i.i.d. N(0, 1). Its forward pass, per-point backward pass (the
//! derivatives g_k = ∂f/∂α̃^k), the NTK from per-layer Gram products, the materialised Jacobian
//! (to check the former), and full-batch gradient descent on the mean squared error.
//!
//! Kept local to the study: the NTK parametrisation (1/√n_k inside the forward pass, unit-variance
//! parameters) is what makes the kernel converge, and it differs from the standard one of the
//! shared MLP.
use crate::kernel::Activation;
use common::Seed;
use common::rng::{gaussian_mat, gaussian_vec};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, Axis, s};

#[derive(Clone, Debug)]
pub struct Net {
    pub act: Activation,
    pub beta: f64,
    /// Layer sizes n_0 (input), n_1 … n_{L-1} (hidden), n_L = 1 (output).
    pub dims: Vec<usize>,
    /// W_k: n_{k+1} × n_k, k = 0 … L-1.
    pub w: Vec<Array2<f64>>,
    /// b_k: n_{k+1}.
    pub b: Vec<Array1<f64>>,
}

/// Activations of one forward pass over a batch (rows are points).
#[derive(Clone, Debug)]
pub struct Pass {
    /// α⁰ = x, α¹ … α^{L-1}: the inputs of the L linear layers (P × n_k).
    pub a: Vec<Array2<f64>>,
    /// α̃¹ … α̃^{L}: the pre-activations (P × n_{k+1}); the last is the output (P × 1).
    pub z: Vec<Array2<f64>>,
}

impl Pass {
    /// The network function on the batch.
    pub fn output(&self) -> Array1<f64> {
        self.z.last().expect("at least one layer").column(0).to_owned()
    }
}

impl Net {
    /// `depth` weight layers, input dimension `n0`, hidden width `width`, scalar output. Layer k's
    /// parameters come from their own seed (`seed.child_idx("layer", k)`).
    pub fn init(n0: usize, width: usize, depth: usize, act: Activation, beta: f64, seed: Seed) -> Net {
        assert!(depth >= 1);
        let mut dims = vec![n0];
        dims.extend(std::iter::repeat_n(width, depth - 1));
        dims.push(1);
        let mut w = Vec::with_capacity(depth);
        let mut b = Vec::with_capacity(depth);
        for k in 0..depth {
            let mut rng = seed.child_idx("layer", k as u64).rng();
            w.push(gaussian_mat(&mut rng, dims[k + 1], dims[k], 1.0));
            b.push(gaussian_vec(&mut rng, dims[k + 1], 1.0));
        }
        Net { act, beta, dims, w, b }
    }

    pub fn depth(&self) -> usize {
        self.w.len()
    }

    pub fn n_params(&self) -> usize {
        self.w.iter().map(|w| w.len()).sum::<usize>() + self.b.iter().map(|b| b.len()).sum::<usize>()
    }

    /// Forward pass over the rows of `x` (P × n0).
    pub fn forward(&self, x: &Array2<f64>) -> Pass {
        let depth = self.depth();
        let mut a = vec![x.to_owned()];
        let mut z = Vec::with_capacity(depth);
        for k in 0..depth {
            let scale = 1.0 / (self.dims[k] as f64).sqrt();
            let mut zk = a[k].dot(&self.w[k].t());
            let bias = &self.b[k] * self.beta;
            for mut row in zk.rows_mut() {
                row.zip_mut_with(&bias, |v, &bb| *v = *v * scale + bb);
            }
            if k + 1 < depth {
                a.push(zk.mapv(|v| self.act.f(v)));
            }
            z.push(zk);
        }
        Pass { a, z }
    }

    /// Per-point derivatives of the output: g_k = ∂f/∂α̃^k for k = 1 … L (P × n_k), one backward
    /// pass for all points at once (g_L = 1).
    pub fn backward(&self, pass: &Pass) -> Vec<Array2<f64>> {
        let depth = self.depth();
        let p = pass.a[0].nrows();
        let mut g = vec![Array2::<f64>::ones((p, 1))];
        for k in (1..depth).rev() {
            // g_k = σ'(α̃^k) ⊙ (g_{k+1} W_k) / √n_k
            let scale = 1.0 / (self.dims[k] as f64).sqrt();
            let mut gk = g.last().unwrap().dot(&self.w[k]);
            gk.zip_mut_with(&pass.z[k - 1], |v, &zz| *v *= scale * self.act.df(zz));
            g.push(gk);
        }
        g.reverse();
        g
    }

    /// The empirical NTK from per-layer Gram products (no Jacobian materialised):
    /// Θ(x,x') = Σ_k (g_{k+1}(x)·g_{k+1}(x')) (α^k(x)·α^k(x')/n_k + β²).
    /// Returns (f(x), Θ) on the rows of `x`.
    pub fn ntk(&self, x: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
        let pass = self.forward(x);
        let g = self.backward(&pass);
        (pass.output(), self.ntk_from(&pass, &g, Param::Ntk))
    }

    /// The NTK on a batch from its forward pass and per-point derivatives. With
    /// [`Param::Standard`] the same network is read in the standard parametrisation
    /// (W̄_k = W_k/√n_k, b̄_k = β b_k as the trained parameters), whose kernel is
    /// Σ_k (g·g')(α·α' + 1): it grows linearly with the width instead of converging.
    pub fn ntk_from(&self, pass: &Pass, g: &[Array2<f64>], param: Param) -> Array2<f64> {
        let p = pass.a[0].nrows();
        let b2 = self.beta * self.beta;
        let mut theta = Array2::<f64>::zeros((p, p));
        for ((gk, ak), &nk) in g.iter().zip(&pass.a).zip(&self.dims) {
            let gg = gk.dot(&gk.t());
            let aa = ak.dot(&ak.t());
            let nk = nk as f64;
            ndarray::Zip::from(&mut theta).and(&gg).and(&aa).for_each(|t, &x, &y| {
                *t += match param {
                    Param::Ntk => x * (y / nk + b2),
                    Param::Standard => x * (y + 1.0),
                }
            });
        }
        theta
    }

    /// The Jacobian ∂f(x_i)/∂θ_p materialised (P × n_params; parameters in the order
    /// W_0, b_0, W_1, b_1, … with W row-major). For checks on small networks.
    pub fn jacobian(&self, x: &Array2<f64>) -> Array2<f64> {
        let pass = self.forward(x);
        let g = self.backward(&pass);
        let p = x.nrows();
        let mut jac = Array2::<f64>::zeros((p, self.n_params()));
        for i in 0..p {
            let mut off = 0;
            for (k, (gk, ak)) in g.iter().zip(&pass.a).enumerate() {
                let (rows, cols) = self.w[k].dim();
                let scale = 1.0 / (self.dims[k] as f64).sqrt();
                for r in 0..rows {
                    let gr = gk[[i, r]];
                    for c in 0..cols {
                        jac[[i, off + r * cols + c]] = gr * ak[[i, c]] * scale;
                    }
                }
                off += rows * cols;
                for r in 0..rows {
                    jac[[i, off + r]] = self.beta * gk[[i, r]];
                }
                off += rows;
            }
        }
        jac
    }

    /// Apply a flat parameter displacement (same order as [`Net::jacobian`]).
    pub fn perturbed(&self, delta: &Array1<f64>) -> Net {
        let mut out = self.clone();
        let mut off = 0;
        for k in 0..self.depth() {
            let n = out.w[k].len();
            let (rows, cols) = out.w[k].dim();
            out.w[k] += &delta.slice(s![off..off + n]).into_shape_with_order((rows, cols)).expect("contiguous");
            off += n;
            let m = out.b[k].len();
            out.b[k] += &delta.slice(s![off..off + m]);
            off += m;
        }
        out
    }

    /// One step of full-batch gradient descent on C = (1/2P) Σ_i (f(x_i) - y_i)², given the
    /// batch's forward pass and per-point derivatives: θ ← θ - (lr/P) Σ_i r_i ∂f(x_i)/∂θ with
    /// r = f - y. The weight update is one fused GEMM per layer (W += α Gᵀ diag(r) A).
    pub fn gd_step(&mut self, pass: &Pass, g: &[Array2<f64>], resid: &Array1<f64>, lr: f64) {
        let p = resid.len() as f64;
        let r = resid.view().insert_axis(Axis(1));
        for (k, (gk, ak)) in g.iter().zip(&pass.a).enumerate() {
            let gr = gk * &r; // P × n_{k+1}, row i scaled by r_i
            let alpha = -lr / (p * (self.dims[k] as f64).sqrt());
            general_mat_mul(alpha, &gr.t(), ak, 1.0, &mut self.w[k]);
            let db = gr.sum_axis(Axis(0));
            self.b[k].scaled_add(-lr * self.beta / p, &db);
        }
    }
}

/// Which parametrisation the NTK is read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// Jacot et al.'s: the kernel converges as the width grows.
    Ntk,
    /// The usual one (a negative control): the same function, a kernel that grows with the width.
    Standard,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::circle;
    use common::rng::gaussian_mat;

    fn small(act: Activation, width: usize) -> (Net, Array2<f64>) {
        let net = Net::init(3, width, 4, act, 0.1, Seed(5));
        let x = gaussian_mat(&mut Seed(6).rng(), 7, 3, 1.0);
        (net, x)
    }

    #[test]
    fn structured_ntk_equals_jacobian_contraction() {
        for act in [Activation::Relu, Activation::Tanh, Activation::Square] {
            let (net, x) = small(act, 24);
            let (_, theta) = net.ntk(&x);
            let j = net.jacobian(&x);
            let jjt = j.dot(&j.t());
            let scale = jjt.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = (&theta - &jjt).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(err <= 1e-12 * scale, "{act:?}: {err} vs scale {scale}");
        }
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        // Central differences along a random direction: (f(θ+εv) - f(θ-εv))/2ε = J v + O(ε²).
        // tanh keeps the network smooth so the O(ε²) error is clean.
        let (net, x) = small(Activation::Tanh, 16);
        let j = net.jacobian(&x);
        let v = common::rng::gaussian_vec(&mut Seed(9).rng(), net.n_params(), 1.0);
        let eps = 1e-5;
        let fp = net.perturbed(&(&v * eps)).forward(&x).output();
        let fm = net.perturbed(&(&v * -eps)).forward(&x).output();
        let fd = (&fp - &fm) / (2.0 * eps);
        let jv = j.dot(&v);
        for (a, b) in fd.iter().zip(&jv) {
            assert!((a - b).abs() < 1e-7 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn gd_step_is_the_gradient_of_the_mse() {
        // One GD step equals θ - lr ∇C with ∇C = Jᵀ r / P from the materialised Jacobian.
        let (net, x) = small(Activation::Relu, 12);
        let y = Array1::from_shape_fn(x.nrows(), |i| (i as f64 * 0.7).sin());
        let pass = net.forward(&x);
        let g = net.backward(&pass);
        let r = &pass.output() - &y;
        let mut stepped = net.clone();
        stepped.gd_step(&pass, &g, &r, 0.3);
        let grad = net.jacobian(&x).t().dot(&r) / x.nrows() as f64;
        let want = net.perturbed(&(&grad * -0.3));
        for k in 0..net.depth() {
            assert!((&stepped.w[k] - &want.w[k]).iter().all(|d| d.abs() < 1e-13));
            assert!((&stepped.b[k] - &want.b[k]).iter().all(|d| d.abs() < 1e-13));
        }
    }

    #[test]
    fn standard_parametrisation_scales_with_width() {
        // Same function, kernel roughly proportional to the width (the hidden layers dominate).
        let x = circle(&[0.0, 1.0, 2.0]);
        let ratio = |width: usize| {
            let net = Net::init(2, width, 3, Activation::Relu, 0.1, Seed(3));
            let pass = net.forward(&x);
            let g = net.backward(&pass);
            let std = net.ntk_from(&pass, &g, Param::Standard);
            let ntk = net.ntk_from(&pass, &g, Param::Ntk);
            std[[0, 0]] / ntk[[0, 0]]
        };
        let (r1, r2) = (ratio(64), ratio(512));
        assert!(r2 / r1 > 4.0, "{r1} {r2}");
    }

    #[test]
    fn init_is_deterministic_per_seed() {
        let a = Net::init(2, 8, 3, Activation::Relu, 0.1, Seed(1));
        let b = Net::init(2, 8, 3, Activation::Relu, 0.1, Seed(1));
        let c = Net::init(2, 8, 3, Activation::Relu, 0.1, Seed(2));
        assert_eq!(a.w[1], b.w[1]);
        assert_ne!(a.w[1], c.w[1]);
        assert_eq!(a.dims, vec![2, 8, 8, 1]);
    }
}
