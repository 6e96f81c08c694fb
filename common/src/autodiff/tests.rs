//! Every operation's gradient against central finite differences (`check_grad`), the implicit
//! fixed-point node against finite differences of the converged solution and against the
//! gradient through the unrolled iteration, determinism, and the speed of a convolution.
use super::*;
use crate::rng::{Seed, gaussian_mat};
use ndarray::{Array1, Array2, Array4, ArrayD, IxDyn};
use proptest::prelude::*;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

fn randn(rng: &mut impl Rng, shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || StandardNormal.sample(rng))
}

/// Checks the tape's gradient of `build` (reduced to a scalar by `Σ out ⊙ R` with a random `R`
/// when the output is not one already, so the whole Jacobian is exercised) with respect to every
/// input against central differences with step `h`, coordinate by coordinate (at most `max_coords`
/// random ones per input). Asserts `|ad − fd| ≤ tol · max(1, |fd|)`.
fn check_grad_with<'a>(
    inputs: &[&ArrayD<f64>],
    seed: u64,
    h: f64,
    tol: f64,
    max_coords: usize,
    build: impl Fn(&Tape<'a>, &[Var]) -> Var,
) {
    let inputs: Vec<ArrayD<f64>> = inputs.iter().map(|&a| a.clone()).collect();
    let mut rng = Seed(seed).child("check_grad").rng();
    let probe = {
        let t = Tape::new();
        let vs: Vec<Var> = inputs.iter().map(|a| t.param(a.clone())).collect();
        let out = build(&t, &vs);
        t.shape(out)
    };
    let r = (probe.iter().product::<usize>() != 1).then(|| randn(&mut rng, &probe));
    let loss = |vals: &[ArrayD<f64>]| -> (f64, Option<Vec<ArrayD<f64>>>) {
        let t = Tape::new();
        let vs: Vec<Var> = vals.iter().map(|a| t.param(a.clone())).collect();
        let out = build(&t, &vs);
        let l = match &r {
            Some(r) => {
                let rv = t.constant(r.clone());
                t.sum(t.mul(out, rv))
            }
            None => out,
        };
        (t.item(l), Some(t.grad(l, &vs).expect("backward")))
    };
    let (_, ad) = loss(&inputs);
    let ad = ad.unwrap();
    for (k, a) in inputs.iter().enumerate() {
        assert_eq!(ad[k].shape(), a.shape());
        let n = a.len();
        let coords: Vec<usize> =
            if n <= max_coords { (0..n).collect() } else { (0..max_coords).map(|_| rng.random_range(0..n)).collect() };
        for i in coords {
            let mut vals = inputs.to_vec();
            let at = |vals: &mut Vec<ArrayD<f64>>, d: f64| {
                let x = vals[k].as_slice_mut().expect("standard layout");
                x[i] = a.as_slice().unwrap()[i] + d;
            };
            at(&mut vals, h);
            let fp = loss(&vals).0;
            at(&mut vals, -h);
            let fm = loss(&vals).0;
            let fd = (fp - fm) / (2.0 * h);
            let g = ad[k].as_slice().unwrap()[i];
            assert!(
                (g - fd).abs() <= tol * fd.abs().max(1.0),
                "input {k} coordinate {i}: tape {g:e}, finite difference {fd:e}"
            );
        }
    }
}

fn check_grad<'a>(inputs: &[&ArrayD<f64>], seed: u64, build: impl Fn(&Tape<'a>, &[Var]) -> Var) {
    check_grad_with(inputs, seed, 1e-6, 1e-6, 60, build)
}

fn rnd(seed: u64, shape: &[usize]) -> ArrayD<f64> {
    randn(&mut Seed(seed).child("input").rng(), shape)
}

// ---------- elementwise, broadcasting ----------

#[test]
fn binary_ops_with_broadcasting() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[3, 4], &[3, 4]),
        (&[3, 4], &[1, 4]),
        (&[3, 4], &[4]),
        (&[3, 4], &[3, 1]),
        (&[3, 4], &[]),
        (&[1, 4], &[3, 1]),
        (&[2, 3, 4], &[3, 1]),
    ];
    for (s, (sa, sb)) in cases.iter().enumerate() {
        let a = rnd(10 + s as u64, sa);
        let b = rnd(20 + s as u64, sb).mapv(|v| v.abs() + 0.5); // away from 0 for div
        check_grad(&[&a, &b], 1, |t, v| t.add(v[0], v[1]));
        check_grad(&[&a, &b], 2, |t, v| t.sub(v[0], v[1]));
        check_grad(&[&a, &b], 3, |t, v| t.mul(v[0], v[1]));
        check_grad(&[&a, &b], 4, |t, v| t.div(v[0], v[1]));
        check_grad(&[&b, &a], 5, |t, v| t.div(v[1], v[0]));
    }
}

#[test]
fn broadcast_values_match_ndarray() {
    let t = Tape::new();
    let a = t.constant(rnd(1, &[3, 4]));
    let row = t.constant(rnd(2, &[4]));
    let col = t.constant(rnd(3, &[3, 1]));
    let s = t.add(t.mul(a, row), col);
    let (av, rv, cv) = (t.value(a).clone(), t.value(row).clone(), t.value(col).clone());
    let want = &(&av * &rv) + &cv;
    assert_eq!(*t.value(s), want);
}

#[test]
fn scale_neg_add_scalar() {
    let a = rnd(4, &[2, 5]);
    check_grad(&[&a], 1, |t, v| t.scale(v[0], -2.5));
    check_grad(&[&a], 2, |t, v| t.neg(v[0]));
    check_grad(&[&a], 3, |t, v| t.add_scalar(v[0], 0.7));
}

#[test]
fn unary_maps() {
    let a = rnd(5, &[4, 6]);
    let pos = a.mapv(|v| v.abs() + 0.3);
    for f in [
        Unary::Relu,
        Unary::Elu(1.0),
        Unary::Elu(0.5),
        Unary::Tanh,
        Unary::Sigmoid,
        Unary::Exp,
        Unary::Square,
        Unary::Softplus,
    ] {
        check_grad(&[&a], 7, |t, v| t.map(v[0], f));
    }
    for f in [Unary::Log, Unary::Sqrt] {
        check_grad(&[&pos], 8, |t, v| t.map(v[0], f));
    }
}

#[test]
fn unary_values_at_extremes() {
    let t = Tape::new();
    let x = t.constant(ndarray::arr1(&[-800.0, 800.0, 0.0]));
    let sg = t.value(t.sigmoid(x)).clone();
    let sp = t.value(t.softplus(x)).clone();
    assert_eq!(sg.as_slice().unwrap(), &[0.0, 1.0, 0.5]);
    assert_eq!(sp.as_slice().unwrap(), &[0.0, 800.0, 2f64.ln()]);
}

// ---------- reductions, products, shapes ----------

#[test]
fn reductions() {
    let a = rnd(6, &[3, 4, 2]);
    check_grad(&[&a], 1, |t, v| t.sum(v[0]));
    check_grad(&[&a], 2, |t, v| t.mean(v[0]));
    for ax in 0..3 {
        for keep in [false, true] {
            check_grad(&[&a], 3, |t, v| t.sum_axis(v[0], ax, keep));
            check_grad(&[&a], 4, |t, v| t.mean_axis(v[0], ax, keep));
            check_grad(&[&a], 5, |t, v| t.logsumexp(v[0], ax, keep));
        }
    }
}

#[test]
fn logsumexp_is_stable_and_exact() {
    let t = Tape::new();
    let x = t.constant(ndarray::arr2(&[[1e4, 1e4], [-1e4, 0.0]]));
    let l = t.value(t.logsumexp(x, 1, false)).clone();
    assert!((l[[0]] - (1e4 + 2f64.ln())).abs() < 1e-9);
    assert!((l[[1]] - 0.0).abs() < 1e-12);
}

#[test]
fn matmul_transpose_permute_reshape() {
    let a = rnd(7, &[3, 5]);
    let b = rnd(8, &[5, 4]);
    check_grad(&[&a, &b], 1, |t, v| t.matmul(v[0], v[1]));
    check_grad(&[&a], 2, |t, v| t.transpose(v[0]));
    check_grad(&[&a, &b], 3, |t, v| t.matmul(t.transpose(v[1]), t.transpose(v[0])));
    let c = rnd(9, &[2, 3, 4]);
    check_grad(&[&c], 4, |t, v| t.permute(v[0], &[2, 0, 1]));
    check_grad(&[&c], 5, |t, v| t.reshape(v[0], &[6, 4]));
    // matmul's value is the plain product
    let t = Tape::new();
    let (x, y) = (t.constant(a.clone()), t.constant(b.clone()));
    let want = a.into_dimensionality::<ndarray::Ix2>().unwrap().dot(&b.into_dimensionality::<ndarray::Ix2>().unwrap());
    let got = t.value(t.matmul(x, y)).clone().into_dimensionality::<ndarray::Ix2>().unwrap();
    assert!((&got - &want).iter().all(|d| d.abs() < 1e-12));
}

#[test]
fn slice_and_concat() {
    let a = rnd(10, &[4, 5]);
    let b = rnd(11, &[4, 2]);
    check_grad(&[&a], 1, |t, v| t.slice_axis(v[0], 1, 1..4));
    check_grad(&[&a], 2, |t, v| t.slice_axis(v[0], 0, 2..4));
    check_grad(&[&a, &b], 3, |t, v| t.concat(&[v[0], v[1], v[0]], 1));
    let t = Tape::new();
    let (x, y) = (t.constant(a), t.constant(b));
    let c = t.concat(&[x, y], 1);
    assert_eq!(t.shape(c), vec![4, 7]);
    assert_eq!(*t.value(t.slice_axis(c, 1, 5..7)), *t.value(y));
}

#[test]
fn logdet_spd() {
    // A = X Xᵀ + I (SPD) built on the tape; the gradient flows through the log-det into X.
    let x = rnd(12, &[4, 6]);
    check_grad(&[&x], 1, |t, v| {
        let a = t.add(t.matmul(v[0], t.transpose(v[0])), t.constant(Array2::<f64>::eye(4)));
        t.logdet_spd(a).unwrap()
    });
    // the coding-rate term log det(I + c Zᵀ Z)
    check_grad(&[&x], 2, |t, v| {
        let ztz = t.matmul(t.transpose(v[0]), v[0]);
        let a = t.add(t.constant(Array2::<f64>::eye(6)), t.scale(ztz, 0.3));
        t.logdet_spd(a).unwrap()
    });
    // a non-symmetric input: the value is that of the symmetric part, the gradient is S⁻¹
    let s = rnd(13, &[4, 4]);
    let a = {
        let s2 = s.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
        (s2.dot(&s2.t()) + Array2::<f64>::eye(4) + 0.3 * gaussian_mat(&mut Seed(3).rng(), 4, 4, 1.0)).into_dyn()
    };
    check_grad(&[&a], 3, |t, v| t.logdet_spd(v[0]).unwrap());
    // not positive definite: a typed error
    let t = Tape::new();
    let m = t.param(-Array2::<f64>::eye(3));
    assert!(matches!(t.logdet_spd(m), Err(DenseError::NotPositiveDefinite { .. })));
}

#[test]
fn gather_and_scatter_rows() {
    let x = rnd(14, &[5, 3]);
    let src = [0usize, 2, 2, 4, 1, 0, 3];
    let dst = [1usize, 0, 3, 3, 4, 2, 2];
    check_grad(&[&x], 1, |t, v| t.gather_rows(v[0], &src));
    let m = rnd(15, &[7, 3]);
    check_grad(&[&m], 2, |t, v| t.scatter_add_rows(v[0], &dst, 6));
    // one message-passing step: h' = tanh(scatter(gather(h) W))
    let w = rnd(16, &[3, 3]);
    check_grad(&[&x, &w], 3, |t, v| {
        let msg = t.matmul(t.gather_rows(v[0], &src), v[1]);
        t.tanh(t.scatter_add_rows(msg, &dst, 5))
    });
    // values: scatter of gather is A h with A the edge-count matrix
    let t = Tape::new();
    let h = t.constant(x.clone());
    let agg = t.value(t.scatter_add_rows(t.gather_rows(h, &src), &dst, 5)).clone();
    let mut a = Array2::<f64>::zeros((5, 5));
    for (&s, &d) in src.iter().zip(&dst) {
        a[[d, s]] += 1.0;
    }
    let want = a.dot(&x.into_dimensionality::<ndarray::Ix2>().unwrap());
    assert!((agg.into_dimensionality::<ndarray::Ix2>().unwrap() - want).iter().all(|d| d.abs() < 1e-12));
}

#[test]
fn losses() {
    let p = rnd(17, &[5, 3]);
    let y = rnd(18, &[5, 3]);
    check_grad(&[&p, &y], 1, |t, v| t.mse(v[0], v[1]));
    let labels = [0usize, 2, 1, 1, 0];
    check_grad(&[&p], 2, |t, v| t.softmax_cross_entropy(v[0], &labels));
    // CE value against the composed logsumexp
    let t = Tape::new();
    let f = t.constant(p.clone());
    let ce = t.item(t.softmax_cross_entropy(f, &labels));
    let lse = t.value(t.logsumexp(f, 1, false)).clone();
    let want = (0..5).map(|i| lse[[i]] - p[[i, labels[i]]]).sum::<f64>() / 5.0;
    assert!((ce - want).abs() < 1e-13);
    // huge logits stay finite
    let t = Tape::new();
    let f = t.param(ndarray::arr2(&[[1e4, -1e4, 0.0]]));
    let ce = t.softmax_cross_entropy(f, &[1]);
    assert_eq!(t.item(ce), 2e4);
    let g = t.grad(ce, &[f]).unwrap();
    assert_eq!(g[0].as_slice().unwrap(), &[1.0, -1.0, 0.0]);
}

// ---------- images ----------

#[test]
fn conv2d_gradients() {
    let x = rnd(19, &[2, 3, 6, 5]);
    let w = rnd(20, &[4, 3, 3, 3]);
    let b = rnd(21, &[4]);
    check_grad(&[&x, &w, &b], 1, |t, v| t.conv2d(v[0], v[1], Some(v[2]), Conv2d::same(3)));
    check_grad(&[&x, &w], 2, |t, v| t.conv2d(v[0], v[1], None, Conv2d { stride: 2, pad: 1 }));
    check_grad(&[&x, &w], 3, |t, v| t.conv2d(v[0], v[1], None, Conv2d::valid(1)));
    let w5 = rnd(22, &[2, 3, 5, 1]);
    check_grad(&[&x, &w5], 4, |t, v| t.conv2d(v[0], v[1], None, Conv2d { stride: 1, pad: 2 }));
}

#[test]
fn conv2d_matches_direct_loops() {
    let x = rnd(23, &[2, 2, 5, 6]).into_dimensionality::<ndarray::Ix4>().unwrap();
    let w = rnd(24, &[3, 2, 3, 3]).into_dimensionality::<ndarray::Ix4>().unwrap();
    let b = rnd(25, &[3]);
    for cfg in [Conv2d::same(3), Conv2d { stride: 2, pad: 1 }, Conv2d::valid(2)] {
        let t = Tape::new();
        let (xv, wv, bv) = (t.constant(x.clone()), t.constant(w.clone()), t.constant(b.clone()));
        let y = t.value(t.conv2d(xv, wv, Some(bv), cfg)).clone().into_dimensionality::<ndarray::Ix4>().unwrap();
        let (ho, wo) = (y.shape()[2], y.shape()[3]);
        assert_eq!(ho, (5 + 2 * cfg.pad - 3) / cfg.stride + 1);
        let want = Array4::from_shape_fn((2, 3, ho, wo), |(n, o, i, j)| {
            let mut s = b[[o]];
            for c in 0..2 {
                for p in 0..3 {
                    for q in 0..3 {
                        let (yy, xx) = (
                            (cfg.stride * i + p) as isize - cfg.pad as isize,
                            (cfg.stride * j + q) as isize - cfg.pad as isize,
                        );
                        if (0..5).contains(&yy) && (0..6).contains(&xx) {
                            s += w[[o, c, p, q]] * x[[n, c, yy as usize, xx as usize]];
                        }
                    }
                }
            }
            s
        });
        assert!((&y - &want).iter().all(|d| d.abs() < 1e-12), "{cfg:?}");
    }
}

#[test]
fn pooling_and_upsampling() {
    let x = rnd(26, &[2, 2, 4, 6]);
    check_grad(&[&x], 1, |t, v| t.avg_pool2d(v[0], 2));
    check_grad(&[&x], 2, |t, v| t.max_pool2d(v[0], 2));
    check_grad(&[&x], 3, |t, v| t.upsample_nearest(v[0], 2));
    check_grad(&[&x], 4, |t, v| t.upsample_bilinear(v[0], 2));
    check_grad(&[&x], 5, |t, v| t.upsample_bilinear(v[0], 3));
    // values: pooling a nearest upsampling gives back the image; bilinear keeps constants and
    // interpolates a linear ramp exactly away from the clamped border
    let t = Tape::new();
    let xv = t.constant(x.clone());
    assert_eq!(*t.value(t.avg_pool2d(t.upsample_nearest(xv, 2), 2)), x);
    assert_eq!(*t.value(t.max_pool2d(t.upsample_nearest(xv, 2), 2)), x);
    let ramp = Array4::from_shape_fn((1, 1, 1, 4), |(_, _, _, j)| j as f64);
    let up = t.value(t.upsample_bilinear(t.constant(ramp), 2)).clone();
    assert_eq!(up.shape(), &[1, 1, 2, 8]);
    let row = [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0];
    assert_eq!(up.as_slice().unwrap(), &[row, row].concat()[..]);
}

#[test]
fn small_cnn_end_to_end() {
    // conv → ELU → avg-pool → conv → ReLU → bilinear up → conv (linear) → MSE: every input at once
    let x = rnd(27, &[1, 2, 8, 8]);
    let w1 = rnd(28, &[4, 2, 3, 3]).mapv(|v| 0.4 * v);
    let w2 = rnd(29, &[4, 4, 3, 3]).mapv(|v| 0.3 * v);
    let w3 = rnd(30, &[1, 4, 3, 3]).mapv(|v| 0.3 * v);
    let y = rnd(31, &[1, 1, 8, 8]);
    check_grad(&[&x, &w1, &w2, &w3], 1, |t, v| {
        let h = t.elu(t.conv2d(v[0], v[1], None, Conv2d::same(3)), 1.0);
        let h = t.relu(t.conv2d(t.avg_pool2d(h, 2), v[2], None, Conv2d::same(3)));
        let out = t.conv2d(t.upsample_bilinear(h, 2), v[3], None, Conv2d::same(3));
        t.mse(out, t.constant(y.clone()))
    });
}

#[test]
fn conv_64x64_16_channels_is_fast() {
    let t0 = std::time::Instant::now();
    let t = Tape::new();
    let x = t.constant(rnd(32, &[1, 16, 64, 64]));
    let w = t.param(rnd(33, &[16, 16, 3, 3]));
    let b = t.param(rnd(34, &[16]));
    let y = t.conv2d(x, w, Some(b), Conv2d::same(3));
    let l = t.sum(t.square(y));
    let g = t.grad(l, &[w, b]).unwrap();
    let el = t0.elapsed();
    assert!(g[0].iter().all(|v| v.is_finite()));
    // milliseconds on one core (about 38 M multiply-adds forward and backward); the bound only
    // catches a pathological slowdown on a loaded machine
    assert!(el.as_secs_f64() < 2.0, "64x64x16 conv forward+backward took {el:?}");
}

// ---------- custom VJPs, the implicit fixed point ----------

#[test]
fn custom_node_and_errors() {
    // a custom cube node with a hand-written VJP, checked like any op
    let x = rnd(35, &[3, 2]);
    check_grad(&[&x], 1, |t, v| {
        let val = t.value(v[0]).mapv(|a| a * a * a);
        t.custom(&[v[0]], val, |c: &VjpCtx| {
            Ok(vec![Some(ndarray::Zip::from(c.grad).and(c.inputs[0]).map_collect(|&g, &a| 3.0 * a * a * g))])
        })
    });
    // a failing VJP surfaces as a typed error from backward
    let t = Tape::new();
    let p = t.param(x);
    let val = t.value(p).clone();
    let c = t.custom(&[p], val, |_: &VjpCtx| Err(AdError::Custom("no adjoint".into())));
    let l = t.sum(c);
    assert_eq!(t.backward(l).unwrap_err(), AdError::Custom("no adjoint".into()));
}

/// A least-squares layer as a caller would write it with [`Tape::custom`]: `x = (AᵀA + λI)⁻¹ Aᵀ b`
/// with the implicit VJP `u = (AᵀA + λI)⁻¹ ḡ`, `ḡ_b = A u`, `ḡ_A = r uᵀ − A u xᵀ` (`r = b − A x`).
fn ridge<'a>(t: &Tape<'a>, a: Var, b: Var, lam: f64) -> Var {
    let (av, bv) = (t.value(a).clone().into_dimensionality::<ndarray::Ix2>().unwrap(), t.value(b).clone());
    let m = av.t().dot(&av) + lam * Array2::<f64>::eye(av.ncols());
    let ch = crate::linalg::cholesky(m.view()).unwrap();
    let bm = bv.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
    let x = ch.solve_mat(av.t().dot(&bm).view());
    t.custom(&[a, b], x, move |c: &VjpCtx| {
        let a = c.inputs[0].view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let b = c.inputs[1].view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let x = c.output.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let g = c.grad.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let u = ch.solve_mat(g);
        let au = a.dot(&u);
        let r = &b - &a.dot(&x);
        let ga = r.dot(&u.t()) - au.dot(&x.t());
        Ok(vec![Some(ga.into_dyn()), Some(au.into_dyn())])
    })
}

#[test]
fn custom_least_squares_node() {
    let a = rnd(36, &[7, 3]);
    let b = rnd(37, &[7, 2]);
    check_grad(&[&a, &b], 1, |t, v| ridge(t, v[0], v[1], 0.1));
    // composed with other ops: the residual norm of the fit
    check_grad(&[&a, &b], 2, |t, v| {
        let x = ridge(t, v[0], v[1], 0.1);
        t.sum(t.square(t.sub(t.matmul(v[0], x), v[1])))
    });
}

/// The graph-network layer `z = tanh(γ A z + X W)` (A row-normalized, so `γ < 1` contracts).
fn graph_layer(n: usize, seed: u64) -> (Array2<f64>, ArrayD<f64>, ArrayD<f64>, ArrayD<f64>) {
    let mut rng = Seed(seed).rng();
    let mut a = Array2::<f64>::from_shape_fn((n, n), |_| if rng.random::<f64>() < 0.4 { 1.0 } else { 0.0 });
    for mut row in a.rows_mut() {
        let s = row.sum().max(1.0_f64);
        row /= s;
    }
    (a, rnd(seed + 1, &[n, 3]), rnd(seed + 2, &[3, 2]), rnd(seed + 3, &[n, 2]))
}

fn layer_f(a: &Array2<f64>, gamma: f64) -> impl Fn(&Tape<'_>, Var, &[Var]) -> Var + '_ {
    move |t: &Tape<'_>, z: Var, th: &[Var]| {
        let az = t.matmul(t.constant(a.clone()), z);
        t.tanh(t.add(t.scale(az, gamma), t.matmul(th[0], th[1])))
    }
}

#[test]
fn fixed_point_gradient_matches_finite_differences_and_unrolling() {
    let n = 6;
    let (a, x, w, c) = graph_layer(n, 40);
    let opts = FixedPointNode::default();
    let loss_of = |t: &Tape<'_>, z: Var| t.sum(t.mul(z, t.constant(c.clone())));
    // implicit gradient vs central differences of the converged solution (x and W both parameters)
    check_grad_with(&[&x, &w], 1, 1e-6, 1e-6, 60, |t, v| {
        let z = fixed_point(t, ArrayD::zeros(IxDyn(&[n, 2])), v, layer_f(&a, 0.8), opts).unwrap();
        loss_of(t, z)
    });
    // implicit gradient vs backprop through 200 unrolled iterations (contraction 0.8: 0.8^200 ≈ 4e-20)
    let t = Tape::new();
    let (xv, wv) = (t.param(x.clone()), t.param(w.clone()));
    let z = fixed_point(&t, ArrayD::zeros(IxDyn(&[n, 2])), &[xv, wv], layer_f(&a, 0.8), opts).unwrap();
    let gi = t.grad(loss_of(&t, z), &[xv, wv]).unwrap();
    let u = Tape::new();
    let (xu, wu) = (u.param(x), u.param(w));
    let f = layer_f(&a, 0.8);
    let mut zu = u.constant(ArrayD::zeros(IxDyn(&[n, 2])));
    for _ in 0..200 {
        zu = f(&u, zu, &[xu, wu]);
    }
    let zdiff = (&*t.value(z) - &*u.value(zu)).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
    assert!(zdiff < 1e-12, "fixed point differs from the unrolled iterate by {zdiff:e}");
    let gu = u.grad(loss_of(&u, zu), &[xu, wu]).unwrap();
    for (gi, gu) in gi.iter().zip(&gu) {
        let d = (gi - gu).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
        assert!(d < 1e-9, "implicit vs unrolled gradient differ by {d:e}");
    }
}

#[test]
fn fixed_point_errors_are_typed() {
    let (a, x, w, _) = graph_layer(5, 50);
    let t = Tape::new();
    let (xv, wv) = (t.param(x), t.param(w));
    // an expanding map (z ↦ 3 A z + b with A row-stochastic: eigenvalue 3) diverges
    let opts = FixedPointNode {
        forward: crate::solve::FixedPointOpts { max_iter: 200, ..Default::default() },
        ..Default::default()
    };
    let r = fixed_point(
        &t,
        ArrayD::zeros(IxDyn(&[5, 2])),
        &[xv, wv],
        |t: &Tape<'_>, z: Var, th: &[Var]| {
            t.add(t.scale(t.matmul(t.constant(a.clone()), z), 3.0), t.matmul(th[0], th[1]))
        },
        opts,
    );
    assert!(matches!(r, Err(AdError::Solve(_))), "{r:?}");
}

// ---------- determinism, pruning ----------

#[test]
fn gradients_are_bitwise_reproducible_and_pruned() {
    let run = || {
        let t = Tape::new();
        let x = t.constant(rnd(60, &[4, 3]));
        let w = t.param(rnd(61, &[3, 3]));
        let h = t.tanh(t.matmul(x, w));
        let h2 = t.add(h, t.matmul(h, w)); // w used twice: accumulation order matters
        let l = t.mean(t.square(h2));
        assert!(!t.requires_grad(x) && t.requires_grad(l));
        let g = t.backward(l).unwrap();
        assert!(g.get(x).is_none(), "constants get no gradient");
        g.get(w).unwrap().clone()
    };
    let a = run();
    let b = run();
    assert!(a.iter().zip(b.iter()).all(|(p, q)| p.to_bits() == q.to_bits()));
}

#[test]
fn vjp_with_a_seed_and_sum_to_shape() {
    let t = Tape::new();
    let a = rnd(62, &[3, 2]);
    let x = t.param(a.clone());
    let y = t.scale(x, 2.0);
    let seed = rnd(63, &[3, 2]);
    let g = t.backward_with(y, seed.clone()).unwrap();
    assert_eq!(*g.get(x).unwrap(), seed.mapv(|v| 2.0 * v));
    let s = sum_to_shape(ArrayD::ones(IxDyn(&[2, 3, 4])), &[3, 1]);
    assert_eq!(s, ArrayD::from_elem(IxDyn(&[3, 1]), 8.0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random shapes and broadcast patterns: the gradient of `Σ R ⊙ tanh(a ⊙ b + a)` matches.
    #[test]
    fn broadcast_chain_gradient(m in 1usize..5, n in 1usize..5, pat in 0usize..4, seed in 0u64..1000) {
        let sa = [m, n];
        let sb: Vec<usize> = match pat { 0 => vec![m, n], 1 => vec![1, n], 2 => vec![m, 1], _ => vec![] };
        let a = rnd(seed, &sa);
        let b = rnd(seed + 7, &sb);
        check_grad(&[&a, &b], seed, |t, v| t.tanh(t.add(t.mul(v[0], v[1]), v[0])));
    }

    /// Random matrices: the gradient of `logsumexp(A B, axis)` matches.
    #[test]
    fn matmul_logsumexp_gradient(m in 1usize..5, k in 1usize..5, n in 1usize..5, ax in 0usize..2, seed in 0u64..1000) {
        let a = rnd(seed, &[m, k]);
        let b = rnd(seed + 3, &[k, n]);
        check_grad(&[&a, &b], seed, |t, v| t.logsumexp(t.matmul(v[0], v[1]), ax, true));
    }
}

#[test]
fn array1_inputs_work() {
    let t = Tape::new();
    let v = t.param(Array1::from(vec![1.0, 2.0]));
    let l = t.sum(t.square(v));
    let g = t.grad(l, &[v]).unwrap();
    assert_eq!(g[0].as_slice().unwrap(), &[2.0, 4.0]);
}
