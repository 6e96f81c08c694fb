//! Derivatives of an MLP with respect to its input: ∇ₓf, ∇ₓℓ and the stacked per-output Jacobian,
//! and a projected-gradient ℓ∞ attack (PGD) built on them.
//!
//! Conventions: `x` holds one sample per row (`n x d`), as everywhere in [`crate::models`]. For a
//! ReLU network the derivative at a kink is taken as `σ'(0) = 0` (what [`Activation::d1`] gives),
//! one element of the Clarke Jacobian there. The passes are plain matrix products through
//! [`Mlp::layer`]'s views (no tape sharing with the parameter passes, which stay private to `mlp`).
use super::{Activation, Mlp, Targets};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};
use rand::Rng;

/// Forward pass keeping every pre-activation `z_l` (`n x sizes[l+1]`); the last is the output.
fn forward_pre(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Vec<Array2<f64>> {
    assert_eq!(x.ncols(), mlp.sizes[0], "input: x has {} features, expected {}", x.ncols(), mlp.sizes[0]);
    assert_eq!(w.len(), super::Model::num_params(mlp), "input: parameter vector has the wrong length");
    let w = w.as_standard_layout();
    let big_l = mlp.num_layers();
    let mut zs: Vec<Array2<f64>> = Vec::with_capacity(big_l);
    for l in 0..big_l {
        let (wm, b) = mlp.layer(w.view(), l);
        let mut z = if l == 0 { x.dot(&wm.t()) } else { zs[l - 1].mapv(|v| mlp.act.apply(v)).dot(&wm.t()) };
        if let Some(b) = b {
            z += &b;
        }
        zs.push(z);
    }
    zs
}

/// Backward pass of the cotangents `u` (`n x out`, row `i` = `dL/df(x_i)`) to the inputs (`n x d`).
fn backward_input(mlp: &Mlp, w: ArrayView1<f64>, zs: &[Array2<f64>], u: Array2<f64>) -> Array2<f64> {
    let w = w.as_standard_layout();
    let mut g = u;
    for l in (0..mlp.num_layers()).rev() {
        let (wm, _) = mlp.layer(w.view(), l);
        g = g.dot(&wm);
        if l > 0 && mlp.act != Activation::Linear {
            let act = mlp.act;
            Zip::from(&mut g).and(&zs[l - 1]).for_each(|g, &z| *g *= act.d1(z, act.apply(z)));
        }
    }
    g
}

/// Outputs `f(x_i)` (`n x out`), the same numbers as [`super::Model::forward`] up to rounding.
pub fn outputs(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
    forward_pre(mlp, w, x).pop().expect("at least one layer")
}

/// Row `i` = `∇ₓ (cᵀ f(x_i))`, the input gradient of the output combination `c` (`n x d`).
pub fn output_grad(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>, c: ArrayView1<f64>) -> Array2<f64> {
    let out = *mlp.sizes.last().expect("sizes");
    assert_eq!(c.len(), out, "output_grad: c has {} entries for {out} outputs", c.len());
    let zs = forward_pre(mlp, w, x);
    let u = Array2::from_shape_fn((x.nrows(), out), |(_, k)| c[k]);
    backward_input(mlp, w, &zs, u)
}

/// The Jacobian `∂f/∂x` at one input (`out x d`): row `k` is `∇ₓ f_k(x)`.
pub fn jacobian(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView1<f64>) -> Array2<f64> {
    stacked_jacobian(mlp, w, x.insert_axis(Axis(0))).index_axis_move(Axis(0), 0)
}

/// The per-output Jacobians of every sample, stacked: `[n, out, d]` with `[i, k, :] = ∇ₓ f_k(x_i)`
/// (one forward pass; one backward pass per output).
pub fn stacked_jacobian(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>) -> ndarray::Array3<f64> {
    let (n, d) = x.dim();
    let out = *mlp.sizes.last().expect("sizes");
    let zs = forward_pre(mlp, w, x);
    let mut jac = ndarray::Array3::zeros((n, out, d));
    for k in 0..out {
        let u = Array2::from_shape_fn((n, out), |(_, j)| f64::from(u8::from(j == k)));
        let g = backward_input(mlp, w, &zs, u);
        jac.index_axis_mut(Axis(1), k).assign(&g);
    }
    jac
}

/// Per-sample losses `ℓ(f(x_i), y_i)` and their input gradients `∇ₓℓ_i` (`n x d`, row `i` not
/// divided by `n`: the gradient of the sample's own loss).
pub fn loss_input_grad(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> (Array1<f64>, Array2<f64>) {
    let zs = forward_pre(mlp, w, x);
    let f = zs.last().expect("at least one layer");
    let losses = mlp.loss.per_sample(f.view(), y);
    let (_, u) = mlp.loss.value_grad(f.view(), y);
    (losses, backward_input(mlp, w, &zs, u))
}

/// Settings of a projected-gradient ℓ∞ attack (Madry et al. 2018): `steps` signed-gradient ascent
/// steps of size `step` on the per-sample loss, each projected back onto the ball `‖x − x₀‖∞ ≤ eps`
/// intersected with the data range `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pgd {
    /// Radius of the ℓ∞ ball.
    pub eps: f64,
    /// Step size of each signed-gradient step.
    pub step: f64,
    /// Number of steps.
    pub steps: usize,
    /// Start from a uniform point of the ball (otherwise from `x₀`).
    pub random_start: bool,
    /// Lower end of the data range.
    pub lo: f64,
    /// Upper end of the data range.
    pub hi: f64,
}

impl Pgd {
    /// `steps` steps of size `2.5 eps / steps` (Madry et al.'s rule), random start, unbounded range.
    pub fn new(eps: f64, steps: usize) -> Self {
        Pgd {
            eps,
            step: 2.5 * eps / steps.max(1) as f64,
            steps,
            random_start: true,
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
        }
    }
}

/// Clamp every entry of `x` into `[x₀ − eps, x₀ + eps] ∩ [lo, hi]`.
fn project(x: &mut Array2<f64>, x0: ArrayView2<f64>, a: &Pgd) {
    Zip::from(x).and(x0).for_each(|x, &c| *x = x.clamp(c - a.eps, c + a.eps).clamp(a.lo, a.hi));
}

/// PGD-ℓ∞ on the model's own loss: returns the perturbed inputs (`n x d`) that reached the highest
/// per-sample loss over the run (the start counts), each within the ball and the data range.
pub fn pgd_linf(
    mlp: &Mlp,
    w: ArrayView1<f64>,
    x0: ArrayView2<f64>,
    y: &Targets,
    attack: &Pgd,
    rng: &mut impl Rng,
) -> Array2<f64> {
    assert!(attack.eps >= 0.0 && attack.lo <= attack.hi, "pgd_linf: bad ball or range");
    let mut x = x0.to_owned();
    if attack.random_start && attack.eps > 0.0 {
        x.mapv_inplace(|v| v + attack.eps * (2.0 * rng.random::<f64>() - 1.0));
    }
    project(&mut x, x0, attack);
    let (mut best_loss, mut g) = loss_input_grad(mlp, w, x.view(), y);
    let mut best = x.clone();
    for _ in 0..attack.steps {
        Zip::from(&mut x).and(&g).for_each(|x, &g| *x += attack.step * g.signum() * f64::from(u8::from(g != 0.0)));
        project(&mut x, x0, attack);
        let (l, gn) = loss_input_grad(mlp, w, x.view(), y);
        for i in 0..x.nrows() {
            if l[i] > best_loss[i] {
                best_loss[i] = l[i];
                best.row_mut(i).assign(&x.row(i));
            }
        }
        g = gn;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Loss, Model};
    use crate::rng::{Seed, gaussian_mat};
    use proptest::prelude::*;

    fn net(sizes: &[usize], act: Activation, loss: Loss, seed: u64) -> (Mlp, Array1<f64>) {
        let mlp = Mlp::new(sizes, act, true, loss);
        let mut rng = Seed(seed).rng();
        let mut w = mlp.init(&mut rng);
        // Non-zero biases so that the bias path is exercised.
        w.mapv_inplace(|v| if v == 0.0 { 0.3 * (rand::Rng::random::<f64>(&mut rng) - 0.5) } else { v });
        (mlp, w)
    }

    /// Central differences of `x -> cᵀ f(x)` for every row and coordinate (`n x d`).
    fn fd_grad(mlp: &Mlp, w: ArrayView1<f64>, x: &Array2<f64>, c: ArrayView1<f64>, h: f64) -> Array2<f64> {
        let mut g = Array2::zeros(x.raw_dim());
        for i in 0..x.nrows() {
            for k in 0..x.ncols() {
                let mut xp = x.row(i).to_owned().insert_axis(Axis(0));
                let mut xm = xp.clone();
                xp[[0, k]] += h;
                xm[[0, k]] -= h;
                let fp = mlp.forward(w, xp.view()).row(0).dot(&c);
                let fm = mlp.forward(w, xm.view()).row(0).dot(&c);
                g[[i, k]] = (fp - fm) / (2.0 * h);
            }
        }
        g
    }

    fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn outputs_match_the_model_forward() {
        let (mlp, w) = net(&[5, 7, 6, 3], Activation::Relu, Loss::SoftmaxCe, 1);
        let x = gaussian_mat(&mut Seed(2).rng(), 9, 5, 1.0);
        assert!(max_abs_diff(&outputs(&mlp, w.view(), x.view()), &mlp.forward(w.view(), x.view())) < 1e-12);
    }

    #[test]
    fn tanh_output_gradient_matches_finite_differences() {
        let (mlp, w) = net(&[4, 8, 5, 3], Activation::Tanh, Loss::SoftmaxCe, 3);
        let x = gaussian_mat(&mut Seed(4).rng(), 6, 4, 1.0);
        let c = Array1::from(vec![0.7, -1.2, 0.4]);
        let g = output_grad(&mlp, w.view(), x.view(), c.view());
        let fd = fd_grad(&mlp, w.view(), &x, c.view(), 1e-5);
        assert!(max_abs_diff(&g, &fd) < 1e-8, "{}", max_abs_diff(&g, &fd));
    }

    #[test]
    fn stacked_jacobian_rows_are_the_output_gradients() {
        let (mlp, w) = net(&[3, 6, 4], Activation::Gelu, Loss::Mse, 5);
        let x = gaussian_mat(&mut Seed(6).rng(), 4, 3, 1.0);
        let jac = stacked_jacobian(&mlp, w.view(), x.view());
        for k in 0..4 {
            let mut c = Array1::zeros(4);
            c[k] = 1.0;
            let g = output_grad(&mlp, w.view(), x.view(), c.view());
            let fd = fd_grad(&mlp, w.view(), &x, c.view(), 1e-5);
            assert!(max_abs_diff(&jac.index_axis(Axis(1), k).to_owned(), &g) < 1e-14);
            assert!(max_abs_diff(&g, &fd) < 1e-7);
        }
        let j0 = jacobian(&mlp, w.view(), x.row(2));
        assert!(max_abs_diff(&j0, &jac.index_axis(Axis(0), 2).to_owned()) < 1e-15);
    }

    /// Closed form: a linear network's Jacobian is the product of its weight matrices.
    #[test]
    fn linear_network_jacobian_is_the_weight_product() {
        let (mlp, w) = net(&[3, 5, 2], Activation::Linear, Loss::Mse, 7);
        let (w0, _) = mlp.layer(w.view(), 0);
        let (w1, _) = mlp.layer(w.view(), 1);
        let j = jacobian(&mlp, w.view(), Array1::from(vec![0.3, -2.0, 1.0]).view());
        assert!(max_abs_diff(&j, &w1.dot(&w0)) < 1e-14);
    }

    #[test]
    fn loss_input_gradient_matches_finite_differences() {
        let (mlp, w) = net(&[4, 6, 3], Activation::Tanh, Loss::SoftmaxCe, 8);
        let x = gaussian_mat(&mut Seed(9).rng(), 5, 4, 1.0);
        let y = Targets::Classes(vec![0, 2, 1, 1, 0]);
        let (l, g) = loss_input_grad(&mlp, w.view(), x.view(), &y);
        let f = mlp.forward(w.view(), x.view());
        let per = mlp.loss.per_sample(f.view(), &y);
        assert!((&l - &per).iter().all(|d| d.abs() < 1e-14));
        let h = 1e-5;
        for i in 0..5 {
            for k in 0..4 {
                let mut xp = x.row(i).to_owned().insert_axis(Axis(0));
                let mut xm = xp.clone();
                xp[[0, k]] += h;
                xm[[0, k]] -= h;
                let yi = y.select(&[i]);
                let d = (mlp.loss(w.view(), xp.view(), &yi) - mlp.loss(w.view(), xm.view(), &yi)) / (2.0 * h);
                assert!((d - g[[i, k]]).abs() < 1e-8, "{d} vs {}", g[[i, k]]);
            }
        }
    }

    #[test]
    fn pgd_stays_in_the_ball_and_raises_the_loss() {
        let (mlp, w) = net(&[6, 16, 3], Activation::Relu, Loss::SoftmaxCe, 10);
        let x0 = gaussian_mat(&mut Seed(11).rng(), 20, 6, 1.0).mapv(|v| v.clamp(-1.0, 1.0));
        let y = Targets::Classes((0..20).map(|i| i % 3).collect());
        let mut attack = Pgd::new(0.3, 20);
        attack.lo = -1.5;
        attack.hi = 1.5;
        let xa = pgd_linf(&mlp, w.view(), x0.view(), &y, &attack, &mut Seed(12).rng());
        for (a, c) in xa.iter().zip(&x0) {
            assert!((a - c).abs() <= 0.3 + 1e-15 && (-1.5..=1.5).contains(a));
        }
        let before = mlp.loss.per_sample(mlp.forward(w.view(), x0.view()).view(), &y);
        let after = mlp.loss.per_sample(mlp.forward(w.view(), xa.view()).view(), &y);
        assert!(after.sum() > before.sum() + 1.0, "{} -> {}", before.sum(), after.sum());
        // Against a linear model PGD without random start reaches the closed-form worst case:
        // the loss gradient's sign is constant, so x₀ + eps·sign(∇) after enough steps.
        let (lin, wl) = net(&[3, 2], Activation::Linear, Loss::SoftmaxCe, 13);
        let xl = Array2::from_shape_vec((1, 3), vec![0.1, 0.2, -0.3]).unwrap();
        let yl = Targets::Classes(vec![0]);
        let a = Pgd { random_start: false, ..Pgd::new(0.1, 10) };
        let xa = pgd_linf(&lin, wl.view(), xl.view(), &yl, &a, &mut Seed(0).rng());
        let (_, g) = loss_input_grad(&lin, wl.view(), xl.view(), &yl);
        for k in 0..3 {
            assert!((xa[[0, k]] - (xl[[0, k]] + 0.1 * g[[0, k]].signum())).abs() < 1e-12);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// ReLU input gradients match central differences wherever no unit sits within `h` of its
        /// kink (there the network is affine in the difference stencil).
        #[test]
        fn relu_output_gradient_matches_finite_differences(
            seed in 0u64..1000, d in 1usize..5, h1 in 1usize..7, h2 in 1usize..7, out in 1usize..4,
        ) {
            let (mlp, w) = net(&[d, h1, h2, out], Activation::Relu, Loss::Mse, seed);
            let x = gaussian_mat(&mut Seed(seed + 1).rng(), 3, d, 1.0);
            let c = crate::rng::gaussian_vec(&mut Seed(seed + 2).rng(), out, 1.0);
            let zs = forward_pre(&mlp, w.view(), x.view());
            let h = 1e-6;
            let margin = zs[..zs.len() - 1].iter().flat_map(|z| z.iter().map(|v| v.abs())).fold(f64::INFINITY, f64::min);
            prop_assume!(margin > 1e-3);
            let g = output_grad(&mlp, w.view(), x.view(), c.view());
            let fd = fd_grad(&mlp, w.view(), &x, c.view(), h);
            let scale = g.iter().map(|v| v.abs()).fold(1.0, f64::max);
            prop_assert!(max_abs_diff(&g, &fd) < 1e-7 * scale);
        }
    }
}
