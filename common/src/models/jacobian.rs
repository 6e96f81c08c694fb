//! Jacobians of an MLP's outputs with respect to its **parameters**, per sample and per output:
//! the stacked Jacobian `J` (`n·out x p`, row `i·out + k` = `∇_θ f_k(x_i)`) whose null space is
//! the set of parameter directions that leave the network's outputs on the batch unchanged to
//! first order (the degenerate directions of the behavioural loss), and the per-layer pieces it
//! is built from: the layer inputs `a_l` and the output sensitivities `∂f/∂z_l` of every sample.
//!
//! Conventions as in [`crate::models::input`]: one sample per row, `σ'(0) = 0` at a ReLU kink;
//! the columns follow [`Mlp`]'s flat layout (per layer: `W_l` row-major, then `b_l`).
use super::{Activation, Mlp, Model};
use ndarray::{Array2, Array3, ArrayView1, ArrayView2, Axis};

/// The forward and backward quantities of one batch.
#[derive(Clone, Debug)]
pub struct Backprop {
    /// Layer inputs: `inputs[0] = x` (`n x d`), `inputs[l] = σ(z_l)` for `l = 1..L-1`.
    pub inputs: Vec<Array2<f64>>,
    /// Pre-activations `z_l` of layer `l = 0..L-1` (`n x sizes[l+1]`); the last is the output.
    pub pre: Vec<Array2<f64>>,
    /// Output sensitivities `sens[l][i, k, j] = ∂f_k(x_i)/∂z_l[j]` (`n x out x sizes[l+1]`).
    pub sens: Vec<Array3<f64>>,
}

/// One forward pass and one backward pass per output.
pub fn backprop(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Backprop {
    assert_eq!(x.ncols(), mlp.sizes[0], "jacobian: x has {} features, expected {}", x.ncols(), mlp.sizes[0]);
    assert_eq!(w.len(), mlp.num_params(), "jacobian: parameter vector has the wrong length");
    let w = w.as_standard_layout();
    let big_l = mlp.num_layers();
    let n = x.nrows();
    let out = *mlp.sizes.last().expect("sizes");
    let mut inputs = vec![x.to_owned()];
    let mut pre = Vec::with_capacity(big_l);
    for l in 0..big_l {
        let (wm, b) = mlp.layer(w.view(), l);
        let mut z = inputs[l].dot(&wm.t());
        if let Some(b) = b {
            z += &b;
        }
        if l + 1 < big_l {
            inputs.push(z.mapv(|v| mlp.act.apply(v)));
        }
        pre.push(z);
    }
    let mut sens: Vec<Array3<f64>> = (0..big_l).map(|l| Array3::zeros((n, out, mlp.sizes[l + 1]))).collect();
    for k in 0..out {
        // g = ∂f_k/∂z_l for every sample, from the output layer down.
        let mut g = Array2::from_shape_fn((n, out), |(_, j)| f64::from(u8::from(j == k)));
        for l in (0..big_l).rev() {
            sens[l].index_axis_mut(Axis(1), k).assign(&g);
            if l == 0 {
                break;
            }
            let (wm, _) = mlp.layer(w.view(), l);
            g = g.dot(&wm);
            if mlp.act != Activation::Linear {
                let act = mlp.act;
                ndarray::Zip::from(&mut g).and(&pre[l - 1]).for_each(|g, &z| *g *= act.d1(z, act.apply(z)));
            }
        }
    }
    Backprop { inputs, pre, sens }
}

/// The empirical neural tangent kernel `Θ = J Jᵀ` (`n·out x n·out`, entry `(i·out + k, j·out + l)`
/// = `⟨∇_θ f_k(x_i), ∇_θ f_l(x_j)⟩`) from [`param_jacobian`], through the workspace GEMM.
pub fn ntk(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
    let j = param_jacobian(mlp, w, x);
    crate::linalg::dense::gemm_new(&j.view(), &j.t())
}

/// The stacked parameter Jacobian (`n·out x p`): row `i·out + k` is `∇_θ f_k(x_i)`.
pub fn param_jacobian(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
    let bp = backprop(mlp, w, x);
    let n = x.nrows();
    let out = *mlp.sizes.last().expect("sizes");
    let mut jac = Array2::zeros((n * out, mlp.num_params()));
    for l in 0..mlp.num_layers() {
        let (off, _) = mlp.layer_offset(l);
        let (din, dout) = (mlp.sizes[l], mlp.sizes[l + 1]);
        for i in 0..n {
            let a = bp.inputs[l].row(i);
            for k in 0..out {
                let mut row = jac.row_mut(i * out + k);
                for j in 0..dout {
                    let s = bp.sens[l][[i, k, j]];
                    if s == 0.0 {
                        continue;
                    }
                    for m in 0..din {
                        row[off + j * din + m] = s * a[m];
                    }
                    if mlp.bias {
                        row[off + dout * din + j] = s;
                    }
                }
            }
        }
    }
    jac
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Loss;
    use crate::rng::Seed;
    use ndarray::Array1;
    use rand_distr::{Distribution, StandardNormal};

    fn gaussian(seed: u64, r: usize, c: usize) -> Array2<f64> {
        let mut rng = Seed(seed).rng();
        Array2::from_shape_fn((r, c), |_| StandardNormal.sample(&mut rng))
    }

    #[test]
    fn ntk_is_the_gram_of_the_jacobian_and_linearizes_the_function() {
        // Θ(x_i, x_j) = ⟨∇f(x_i), ∇f(x_j)⟩: a small step δ = −η Jᵀ r moves the outputs by −η Θ r
        // to first order (the NTK's defining identity), and Θ is PSD with trace ‖J‖_F².
        let mlp = Mlp::new(&[3, 6, 2], Activation::Tanh, true, Loss::Mse);
        let w = mlp.init(&mut Seed(3).rng());
        let x = gaussian(4, 5, 3);
        let k = ntk(&mlp, w.view(), x.view());
        let jac = param_jacobian(&mlp, w.view(), x.view());
        assert_eq!(k.dim(), (10, 10));
        assert!((k.diag().sum() - jac.iter().map(|v| v * v).sum::<f64>()).abs() < 1e-10 * k.diag().sum());
        let r = Array1::from_iter((0..10).map(|i| (i as f64 * 0.7).sin()));
        let eta = 1e-6;
        let step = jac.t().dot(&r) * (-eta);
        let moved = mlp.forward((&w + &step).view(), x.view()) - mlp.forward(w.view(), x.view());
        let predicted = k.dot(&r) * (-eta);
        for i in 0..5 {
            for o in 0..2 {
                let (a, b) = (moved[[i, o]], predicted[i * 2 + o]);
                assert!((a - b).abs() < 1e-4 * b.abs().max(1e-6), "{i} {o}: {a} vs {b}");
            }
        }
        let ev = crate::linalg::eigvalsh(&k);
        assert!(ev.iter().all(|&v| v > -1e-10 * k.diag().sum()));
        // The kernel is aligned with itself and (nearly) with a rescaled copy, not with noise.
        assert!((crate::stats::cka(k.view(), (&k * 3.0).view()) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn param_jacobian_matches_central_differences() {
        for (act, bias) in [(Activation::Tanh, true), (Activation::Relu, true), (Activation::Gelu, false)] {
            let mlp = Mlp::new(&[3, 5, 4, 2], act, bias, Loss::Mse);
            let w = mlp.init(&mut Seed(1).rng()) + 0.1;
            let x = gaussian(2, 7, 3);
            let jac = param_jacobian(&mlp, w.view(), x.view());
            assert_eq!(jac.dim(), (14, mlp.num_params()));
            let h = 1e-6;
            for p in 0..mlp.num_params() {
                let (mut wp, mut wm) = (w.clone(), w.clone());
                wp[p] += h;
                wm[p] -= h;
                let fd = (mlp.forward(wp.view(), x.view()) - mlp.forward(wm.view(), x.view())) / (2.0 * h);
                for i in 0..7 {
                    for k in 0..2 {
                        let e = (jac[[i * 2 + k, p]] - fd[[i, k]]).abs();
                        assert!(e < 1e-6 * (1.0 + fd[[i, k]].abs()), "{act:?} p {p} i {i} k {k}: {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn param_jacobian_times_v_is_the_jvp() {
        let mlp = Mlp::new(&[4, 6, 3], Activation::Relu, true, Loss::Mse);
        let w = mlp.init(&mut Seed(3).rng());
        let x = gaussian(4, 9, 4);
        let v: Array1<f64> = gaussian(5, 1, mlp.num_params()).row(0).to_owned();
        let jv = param_jacobian(&mlp, w.view(), x.view()).dot(&v);
        let want = mlp.jvp(w.view(), x.view(), v.view());
        for i in 0..9 {
            for k in 0..3 {
                assert!((jv[i * 3 + k] - want[[i, k]]).abs() < 1e-12 * (1.0 + want[[i, k]].abs()));
            }
        }
        let bp = backprop(&mlp, w.view(), x.view());
        let f = mlp.forward(w.view(), x.view());
        assert!((&bp.pre[1] - &f).iter().all(|e| e.abs() < 1e-12));
    }
}
