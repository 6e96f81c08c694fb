//! The built-in operations of the tape: elementwise arithmetic with broadcasting, elementwise maps,
//! reductions, matrix products, shape changes, log-det, gather/scatter by row, losses.
use super::{Tape, Var, VjpCtx};
use crate::linalg::DenseError;
use crate::linalg::dense::{cholesky, gemm_new};
use ndarray::{ArrayD, ArrayView2, ArrayViewD, Axis, Ix2, IxDyn, Slice, Zip};

/// An elementwise map with its derivative (each applied with [`Tape::map`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    /// `max(0, x)`; derivative 0 at 0.
    Relu,
    /// `x` for `x > 0`, `α (eˣ − 1)` otherwise (derivative `α eˣ` there).
    Elu(f64),
    /// `tanh x`; derivative `1 − y²`.
    Tanh,
    /// `1 / (1 + e⁻ˣ)` (evaluated without overflow); derivative `y (1 − y)`.
    Sigmoid,
    /// `eˣ`.
    Exp,
    /// `ln x`.
    Log,
    /// `x²`.
    Square,
    /// `√x`; derivative `1 / (2 y)`.
    Sqrt,
    /// `ln(1 + eˣ) = max(x, 0) + ln(1 + e^{−|x|})`; derivative the sigmoid.
    Softplus,
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Unary {
    /// The value at `x`.
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Unary::Relu => x.max(0.0),
            Unary::Elu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a * x.exp_m1()
                }
            }
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => sigmoid(x),
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Square => x * x,
            Unary::Sqrt => x.sqrt(),
            Unary::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        }
    }
    /// The derivative at `x`, given `y` = the value there.
    #[inline]
    pub fn deriv(self, x: f64, y: f64) -> f64 {
        match self {
            Unary::Relu => f64::from(u8::from(x > 0.0)),
            Unary::Elu(a) => {
                if x > 0.0 {
                    1.0
                } else {
                    y + a
                }
            }
            Unary::Tanh => 1.0 - y * y,
            Unary::Sigmoid => y * (1.0 - y),
            Unary::Exp => y,
            Unary::Log => 1.0 / x,
            Unary::Square => 2.0 * x,
            Unary::Sqrt => 0.5 / y,
            Unary::Softplus => sigmoid(x),
        }
    }
}

/// NumPy's broadcast shape of two shapes (panics when they do not broadcast).
fn broadcast_shape(a: &[usize], b: &[usize], op: &str) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
            let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
            match (da, db) {
                _ if da == db => da,
                (1, _) => db,
                (_, 1) => da,
                _ => panic!("{op}: shapes {a:?} and {b:?} do not broadcast"),
            }
        })
        .collect()
}

/// The sum of `a` over `axis` (removed), adding the slices in increasing index order.
pub(crate) fn sum_axis_ordered(a: &ArrayViewD<f64>, axis: usize) -> ArrayD<f64> {
    let n = a.shape()[axis];
    if n == 0 {
        let mut shape = a.shape().to_vec();
        shape.remove(axis);
        return ArrayD::zeros(IxDyn(&shape));
    }
    let mut acc = a.index_axis(Axis(axis), 0).to_owned();
    for k in 1..n {
        acc += &a.index_axis(Axis(axis), k);
    }
    acc
}

/// Sum a broadcast cotangent `g` back to `shape` (the VJP of broadcasting `shape` to `g`'s
/// shape): over the missing leading axes, then over the axes where `shape` has length 1, each in
/// increasing index order.
pub fn sum_to_shape(g: ArrayD<f64>, shape: &[usize]) -> ArrayD<f64> {
    if g.shape() == shape {
        return g;
    }
    let mut g = g;
    while g.ndim() > shape.len() {
        g = sum_axis_ordered(&g.view(), 0);
    }
    for (ax, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape()[ax] != 1 {
            g = sum_axis_ordered(&g.view(), ax).insert_axis(Axis(ax));
        }
    }
    assert_eq!(g.shape(), shape, "sum_to_shape: cannot reduce to {shape:?}");
    g
}

fn as2<'v>(a: &'v ArrayD<f64>, op: &str) -> ArrayView2<'v, f64> {
    a.view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| panic!("{op}: expected a matrix, got shape {:?}", a.shape()))
}

/// The sum of every element, left to right in logical row-major order.
fn sum_all(a: &ArrayD<f64>) -> f64 {
    a.iter().fold(0.0, |s, &x| s + x)
}

#[derive(Clone, Copy)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
}

impl<'a> Tape<'a> {
    fn binary(&self, a: Var, b: Var, kind: Bin) -> Var {
        let value = {
            let (x, y) = (self.value(a), self.value(b));
            let name = match kind {
                Bin::Add => "add",
                Bin::Sub => "sub",
                Bin::Mul => "mul",
                Bin::Div => "div",
            };
            let shape = broadcast_shape(x.shape(), y.shape(), name);
            let (xb, yb) =
                (x.broadcast(IxDyn(&shape)).expect("broadcast"), y.broadcast(IxDyn(&shape)).expect("broadcast"));
            let z = Zip::from(&xb).and(&yb);
            match kind {
                Bin::Add => z.map_collect(|&p, &q| p + q),
                Bin::Sub => z.map_collect(|&p, &q| p - q),
                Bin::Mul => z.map_collect(|&p, &q| p * q),
                Bin::Div => z.map_collect(|&p, &q| p / q),
            }
        };
        self.op(&[a, b], value, move |c: &VjpCtx| {
            let (x, y, g) = (c.inputs[0], c.inputs[1], c.grad);
            let shape = g.shape();
            let ga = c.needs[0].then(|| {
                let full = match kind {
                    Bin::Add | Bin::Sub => g.clone(),
                    Bin::Mul => Zip::from(g).and(&y.broadcast(shape).expect("broadcast")).map_collect(|&g, &q| g * q),
                    Bin::Div => Zip::from(g).and(&y.broadcast(shape).expect("broadcast")).map_collect(|&g, &q| g / q),
                };
                sum_to_shape(full, x.shape())
            });
            let gb = c.needs[1].then(|| {
                let full = match kind {
                    Bin::Add => g.clone(),
                    Bin::Sub => g.mapv(|v| -v),
                    Bin::Mul => Zip::from(g).and(&x.broadcast(shape).expect("broadcast")).map_collect(|&g, &p| g * p),
                    Bin::Div => Zip::from(g)
                        .and(&x.broadcast(shape).expect("broadcast"))
                        .and(&y.broadcast(shape).expect("broadcast"))
                        .map_collect(|&g, &p, &q| -g * p / (q * q)),
                };
                sum_to_shape(full, y.shape())
            });
            vec![ga, gb]
        })
    }

    /// `a + b` (broadcasting).
    pub fn add(&self, a: Var, b: Var) -> Var {
        self.binary(a, b, Bin::Add)
    }
    /// `a − b` (broadcasting).
    pub fn sub(&self, a: Var, b: Var) -> Var {
        self.binary(a, b, Bin::Sub)
    }
    /// `a ⊙ b` (broadcasting).
    pub fn mul(&self, a: Var, b: Var) -> Var {
        self.binary(a, b, Bin::Mul)
    }
    /// `a ⊘ b` (broadcasting).
    pub fn div(&self, a: Var, b: Var) -> Var {
        self.binary(a, b, Bin::Div)
    }

    /// `c a` for a fixed number `c`.
    pub fn scale(&self, a: Var, c: f64) -> Var {
        let value = self.value(a).mapv(|v| c * v);
        self.op(&[a], value, move |ctx: &VjpCtx| vec![Some(ctx.grad.mapv(|g| c * g))])
    }

    /// `−a`.
    pub fn neg(&self, a: Var) -> Var {
        self.scale(a, -1.0)
    }

    /// `a + c` for a fixed number `c`.
    pub fn add_scalar(&self, a: Var, c: f64) -> Var {
        let value = self.value(a).mapv(|v| v + c);
        self.op(&[a], value, |ctx: &VjpCtx| vec![Some(ctx.grad.clone())])
    }

    /// The elementwise map `f(a)` (see [`Unary`]).
    pub fn map(&self, a: Var, f: Unary) -> Var {
        let value = self.value(a).mapv(|v| f.apply(v));
        self.op(&[a], value, move |c: &VjpCtx| {
            vec![Some(Zip::from(c.grad).and(c.inputs[0]).and(c.output).map_collect(|&g, &x, &y| g * f.deriv(x, y)))]
        })
    }
    /// `max(0, a)`.
    pub fn relu(&self, a: Var) -> Var {
        self.map(a, Unary::Relu)
    }
    /// ELU with parameter `alpha`.
    pub fn elu(&self, a: Var, alpha: f64) -> Var {
        self.map(a, Unary::Elu(alpha))
    }
    /// `tanh a`.
    pub fn tanh(&self, a: Var) -> Var {
        self.map(a, Unary::Tanh)
    }
    /// The logistic sigmoid.
    pub fn sigmoid(&self, a: Var) -> Var {
        self.map(a, Unary::Sigmoid)
    }
    /// `exp a`.
    pub fn exp(&self, a: Var) -> Var {
        self.map(a, Unary::Exp)
    }
    /// `ln a`.
    pub fn log(&self, a: Var) -> Var {
        self.map(a, Unary::Log)
    }
    /// `a²`.
    pub fn square(&self, a: Var) -> Var {
        self.map(a, Unary::Square)
    }
    /// `√a`.
    pub fn sqrt(&self, a: Var) -> Var {
        self.map(a, Unary::Sqrt)
    }
    /// `ln(1 + eᵃ)`.
    pub fn softplus(&self, a: Var) -> Var {
        self.map(a, Unary::Softplus)
    }

    /// The matrix product `a b` (`m x k` times `k x n`, through `linalg::dense::gemm_new`); VJP
    /// `ḡ bᵀ` and `aᵀ ḡ`.
    pub fn matmul(&self, a: Var, b: Var) -> Var {
        let value = {
            let (x, y) = (self.value(a), self.value(b));
            let (x2, y2) = (as2(&x, "matmul"), as2(&y, "matmul"));
            assert_eq!(x2.ncols(), y2.nrows(), "matmul: shapes {:?} and {:?}", x.shape(), y.shape());
            gemm_new(&x2, &y2).into_dyn()
        };
        self.op(&[a, b], value, |c: &VjpCtx| {
            let (x, y, g) = (as2(c.inputs[0], "matmul"), as2(c.inputs[1], "matmul"), as2(c.grad, "matmul"));
            vec![
                c.needs[0].then(|| gemm_new(&g, &y.t()).into_dyn()),
                c.needs[1].then(|| gemm_new(&x.t(), &g).into_dyn()),
            ]
        })
    }

    /// The axes of `a` permuted: axis `i` of the result is axis `axes[i]` of `a`.
    pub fn permute(&self, a: Var, axes: &[usize]) -> Var {
        let value = self.value(a).view().permuted_axes(IxDyn(axes)).as_standard_layout().into_owned();
        let mut inv = vec![0; axes.len()];
        for (i, &ax) in axes.iter().enumerate() {
            inv[ax] = i;
        }
        self.op(&[a], value, move |c: &VjpCtx| {
            vec![Some(c.grad.view().permuted_axes(IxDyn(&inv)).as_standard_layout().into_owned())]
        })
    }

    /// The transpose of a matrix (all axes reversed for other ranks).
    pub fn transpose(&self, a: Var) -> Var {
        let n = self.value(a).ndim();
        let axes: Vec<usize> = (0..n).rev().collect();
        self.permute(a, &axes)
    }

    /// The same elements (row-major order) in a new shape.
    pub fn reshape(&self, a: Var, shape: &[usize]) -> Var {
        let value = {
            let x = self.value(a);
            assert_eq!(x.len(), shape.iter().product::<usize>(), "reshape: {:?} to {shape:?}", x.shape());
            x.as_standard_layout().into_owned().into_shape_with_order(IxDyn(shape)).expect("standard layout")
        };
        self.op(&[a], value, |c: &VjpCtx| {
            let shape = c.inputs[0].shape();
            vec![Some(
                c.grad.as_standard_layout().into_owned().into_shape_with_order(IxDyn(shape)).expect("standard layout"),
            )]
        })
    }

    /// The elements `range` along `axis`.
    pub fn slice_axis(&self, a: Var, axis: usize, range: std::ops::Range<usize>) -> Var {
        let value = {
            let x = self.value(a);
            assert!(range.end <= x.shape()[axis], "slice_axis: {range:?} of axis {axis} of {:?}", x.shape());
            x.slice_axis(Axis(axis), Slice::from(range.clone())).to_owned()
        };
        self.op(&[a], value, move |c: &VjpCtx| {
            let mut g = ArrayD::zeros(c.inputs[0].raw_dim());
            g.slice_axis_mut(Axis(axis), Slice::from(range.clone())).assign(c.grad);
            vec![Some(g)]
        })
    }

    /// The arrays joined along `axis` (all other axes equal).
    pub fn concat(&self, parts: &[Var], axis: usize) -> Var {
        let (value, lens) = {
            let vals: Vec<_> = parts.iter().map(|&p| self.value(p)).collect();
            let views: Vec<_> = vals.iter().map(|v| v.view()).collect();
            let lens: Vec<usize> = views.iter().map(|v| v.shape()[axis]).collect();
            (ndarray::concatenate(Axis(axis), &views).expect("concat: shapes differ off the axis"), lens)
        };
        self.op(parts, value, move |c: &VjpCtx| {
            let mut start = 0;
            lens.iter()
                .zip(c.needs)
                .map(|(&n, &need)| {
                    let s = start;
                    start += n;
                    need.then(|| c.grad.slice_axis(Axis(axis), Slice::from(s..s + n)).to_owned())
                })
                .collect()
        })
    }

    /// The sum of all elements (a 0-dimensional node).
    pub fn sum(&self, a: Var) -> Var {
        let value = ndarray::arr0(sum_all(&self.value(a))).into_dyn();
        self.op(&[a], value, |c: &VjpCtx| {
            let g = *c.grad.iter().next().expect("scalar");
            vec![Some(ArrayD::from_elem(c.inputs[0].raw_dim(), g))]
        })
    }

    /// The mean of all elements.
    pub fn mean(&self, a: Var) -> Var {
        let n = self.value(a).len();
        let s = self.sum(a);
        self.scale(s, 1.0 / n as f64)
    }

    /// The sum along `axis` (kept with length 1 when `keep`, removed otherwise).
    pub fn sum_axis(&self, a: Var, axis: usize, keep: bool) -> Var {
        let value = {
            let s = sum_axis_ordered(&self.value(a).view(), axis);
            if keep { s.insert_axis(Axis(axis)) } else { s }
        };
        self.op(&[a], value, move |c: &VjpCtx| {
            let x = c.inputs[0];
            let g = if keep { c.grad.view() } else { c.grad.view().insert_axis(Axis(axis)) };
            vec![Some(g.broadcast(x.raw_dim()).expect("broadcast").to_owned())]
        })
    }

    /// The mean along `axis` (kept with length 1 when `keep`).
    pub fn mean_axis(&self, a: Var, axis: usize, keep: bool) -> Var {
        let n = self.value(a).shape()[axis];
        let s = self.sum_axis(a, axis, keep);
        self.scale(s, 1.0 / n as f64)
    }

    /// `ln Σ_k exp a_k` along `axis` (kept with length 1 when `keep`), shifted by the maximum so
    /// large entries do not overflow; VJP `ḡ ⊙ softmax(a)` along the axis.
    pub fn logsumexp(&self, a: Var, axis: usize, keep: bool) -> Var {
        let value = {
            let x = self.value(a);
            let m = x.fold_axis(Axis(axis), f64::NEG_INFINITY, |&m, &v| m.max(v));
            let mb = m.view().insert_axis(Axis(axis));
            let e =
                Zip::from(&*x).and(&mb.broadcast(x.raw_dim()).expect("broadcast")).map_collect(|&v, &m| (v - m).exp());
            let s = sum_axis_ordered(&e.view(), axis);
            let l = Zip::from(&m).and(&s).map_collect(|&m, &s| if m.is_finite() { m + s.ln() } else { m });
            if keep { l.insert_axis(Axis(axis)) } else { l }
        };
        self.op(&[a], value, move |c: &VjpCtx| {
            let x = c.inputs[0];
            let (l, g) = if keep {
                (c.output.view(), c.grad.view())
            } else {
                (c.output.view().insert_axis(Axis(axis)), c.grad.view().insert_axis(Axis(axis)))
            };
            let (l, g) = (l.broadcast(x.raw_dim()).expect("broadcast"), g.broadcast(x.raw_dim()).expect("broadcast"));
            vec![Some(Zip::from(x).and(&l).and(&g).map_collect(|&v, &l, &g| g * (v - l).exp()))]
        })
    }

    /// `ln det S` of the symmetric part `S = (A + Aᵀ)/2` of a positive-definite matrix, by
    /// Cholesky (`2 Σ ln l_ii`); VJP `ḡ S⁻¹` (Jacobi's formula `d ln det S = tr(S⁻¹ dS)`, Petersen &
    /// Pedersen, The Matrix Cookbook, eq. 57; `S⁻¹` is symmetric, so exact for any perturbation of `A`).
    /// Errors when `S` is not positive definite.
    pub fn logdet_spd(&self, a: Var) -> Result<Var, DenseError> {
        let (value, inv) = {
            let x = self.value(a);
            let x2 = as2(&x, "logdet_spd");
            let s = (&x2 + &x2.t()) * 0.5;
            let ch = cholesky(s.view())?;
            let inv = ch.inverse();
            let inv = (&inv + &inv.t()) * 0.5;
            (ndarray::arr0(ch.logdet()).into_dyn(), inv.into_dyn())
        };
        Ok(self.op(&[a], value, move |c: &VjpCtx| {
            let g = *c.grad.iter().next().expect("scalar");
            vec![Some(inv.mapv(|v| g * v))]
        }))
    }

    /// Rows `idx[k]` of `a` along axis 0 (repeats allowed): the messages of edges from their
    /// source nodes. VJP: the scatter-add of the cotangent rows, in `k` order.
    pub fn gather_rows(&self, a: Var, idx: &[usize]) -> Var {
        let value = {
            let x = self.value(a);
            let n = x.shape()[0];
            assert!(idx.iter().all(|&i| i < n), "gather_rows: an index is out of 0..{n}");
            x.select(Axis(0), idx)
        };
        let idx = idx.to_vec();
        self.op(&[a], value, move |c: &VjpCtx| vec![Some(scatter_rows(&c.grad.view(), &idx, c.inputs[0].shape()[0]))])
    }

    /// The `n`-row array whose row `i` is the sum of the rows `k` of `a` with `idx[k] = i` (added in
    /// increasing `k`): the aggregation of edge messages at their target nodes. VJP: the gather.
    pub fn scatter_add_rows(&self, a: Var, idx: &[usize], n: usize) -> Var {
        let value = {
            let x = self.value(a);
            assert_eq!(x.shape()[0], idx.len(), "scatter_add_rows: {} rows, {} indices", x.shape()[0], idx.len());
            assert!(idx.iter().all(|&i| i < n), "scatter_add_rows: an index is out of 0..{n}");
            scatter_rows(&x.view(), idx, n)
        };
        let idx = idx.to_vec();
        self.op(&[a], value, move |c: &VjpCtx| vec![Some(c.grad.select(Axis(0), &idx))])
    }

    /// Mean squared error `Σ (p − t)² / N` over all `N` elements (`t` usually a constant; shapes
    /// equal).
    pub fn mse(&self, pred: Var, target: Var) -> Var {
        let value = {
            let (p, t) = (self.value(pred), self.value(target));
            assert_eq!(p.shape(), t.shape(), "mse: prediction and target shapes differ");
            let s = Zip::from(&*p).and(&*t).fold(0.0, |s, &p, &t| s + (p - t) * (p - t));
            ndarray::arr0(s / p.len() as f64).into_dyn()
        };
        self.op(&[pred, target], value, |c: &VjpCtx| {
            let g = *c.grad.iter().next().expect("scalar");
            let k = 2.0 * g / c.inputs[0].len() as f64;
            let d = Zip::from(c.inputs[0]).and(c.inputs[1]).map_collect(|&p, &t| k * (p - t));
            vec![c.needs[0].then(|| d.clone()), c.needs[1].then(|| d.mapv(|v| -v))]
        })
    }

    /// Softmax cross-entropy of the rows of `logits` (`n x k`) against class labels, averaged
    /// over the rows: `(1/n) Σ_i (lse(f_i) − f_{i, y_i})`; VJP `(softmax(f_i) − e_{y_i}) ḡ / n`.
    pub fn softmax_cross_entropy(&self, logits: Var, labels: &[usize]) -> Var {
        let (value, probs) = {
            let f = self.value(logits);
            let f2 = as2(&f, "softmax_cross_entropy");
            let (n, k) = f2.dim();
            assert_eq!(labels.len(), n, "softmax_cross_entropy: {} labels for {n} rows", labels.len());
            assert!(labels.iter().all(|&y| y < k), "softmax_cross_entropy: a label is out of 0..{k}");
            let mut p = f2.to_owned();
            let mut total = 0.0;
            for ((mut row, &y), fi) in p.rows_mut().into_iter().zip(labels).zip(f2.rows()) {
                let m = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
                row.mapv_inplace(|v| (v - m).exp());
                let s = row.iter().fold(0.0, |s, &v| s + v);
                total += m + s.ln() - fi[y];
                row.mapv_inplace(|v| v / s);
            }
            (ndarray::arr0(total / n as f64).into_dyn(), p)
        };
        let labels = labels.to_vec();
        self.op(&[logits], value, move |c: &VjpCtx| {
            let g = *c.grad.iter().next().expect("scalar");
            let k = g / labels.len() as f64;
            let mut d = probs.clone();
            for (mut row, &y) in d.rows_mut().into_iter().zip(&labels) {
                row[y] -= 1.0;
                row.mapv_inplace(|v| k * v);
            }
            vec![Some(d.into_dyn())]
        })
    }
}

/// Scatter-add of rows along axis 0 into `n` rows, in increasing source-row order.
fn scatter_rows(x: &ArrayViewD<f64>, idx: &[usize], n: usize) -> ArrayD<f64> {
    let mut shape = x.shape().to_vec();
    shape[0] = n;
    let mut out = ArrayD::zeros(IxDyn(&shape));
    for (k, &i) in idx.iter().enumerate() {
        let mut row = out.index_axis_mut(Axis(0), i);
        row += &x.index_axis(Axis(0), k);
    }
    out
}
