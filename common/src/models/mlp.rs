//! Fully connected network `f(x) = W_{L-1} σ(... σ(W_0 x + b_0) ...) + b_{L-1}` (no activation on
//! the output layer), with exact Hessian-vector products by Pearlmutter's R-operator.
//!
//! **Parameter layout.** One flat vector; for each layer `l = 0..L-1` in order: the weight `W_l`
//! (`sizes[l+1] x sizes[l]`, row-major, so row `j` holds the incoming weights of unit `j`), then
//! the bias `b_l` (`sizes[l+1]`) when `bias` is set. [`Mlp::layer`] gives named views.
//!
//! **Batched passes.** Samples are rows: `Z_{l+1} = A_l W_l^T + 1 b_l^T`, `A_{l+1} = σ(Z_{l+1})`.
//! Every pass is a handful of GEMMs (faer's, through [`crate::linalg::dense::gemm`], written
//! straight into the per-layer buffers or the output gradient) plus fused elementwise loops
//! (parallel for large arrays). Large batches are split into row chunks evaluated in parallel with
//! sequential kernels and combined in a fixed order (`Mlp::chunked`: faster on few cores, and the
//! numbers do not depend on the thread count). The HVP is forward-over-reverse: one forward
//! pass, the R-forward pass (`R Z_{l+1} = R A_l W_l^T + A_l V_l^T + v_b`), the backward pass and
//! the R-backward pass
//! (`R gW_l = R G_{l+1}^T A_l + G_{l+1}^T R A_l`,
//! `R G_l = (R G_{l+1} W_l + G_{l+1} V_l) ⊙ σ'(Z_l) + (G_{l+1} W_l) ⊙ σ''(Z_l) ⊙ R Z_l`),
//! about 2.5x the GEMM work of a gradient for a deep net (it skips the gradient's own `gW` products).
use super::{Loss, Model, Targets};
use ndarray::parallel::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, Zip, s};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Hidden-layer nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Activation {
    /// `max(0, z)`; `σ'(0) = 0`, `σ'' = 0` (the Hessian is exact away from the kinks).
    Relu,
    /// `tanh(z)` (computed by [`fast_tanh`]).
    Tanh,
    /// The tanh approximation `0.5 z (1 + tanh(sqrt(2/π) (z + 0.044715 z^3)))` (JAX's default
    /// `approximate=True`), smooth, with exact first and second derivatives below.
    Gelu,
    /// Identity (a deep linear network).
    Linear,
}

const GELU_C: f64 = 0.797_884_560_802_865_4; // sqrt(2/pi)
const GELU_K: f64 = 0.044_715;

/// `tanh(x)` to within 2 ulp (max relative error 4e-16 against the system libm), about 3x faster
/// than `f64::tanh` (glibc's is slow, and the activations are the elementwise hot spot of a tanh
/// network): Cephes' rational minimax form `x + x^3 P(x^2)/Q(x^2)` for `|x| <= 0.625`, otherwise
/// `1 - 2 / (exp(2|x|) + 1)` with the sign of `x`.
#[inline]
pub fn fast_tanh(x: f64) -> f64 {
    let a = x.abs();
    if a > 0.625 {
        if a > 22.0 {
            return 1.0f64.copysign(x);
        }
        let e = (2.0 * a).exp();
        (1.0 - 2.0 / (e + 1.0)).copysign(x)
    } else {
        let z = x * x;
        let p = (-9.643_991_794_250_523e-1 * z - 9.928_772_310_019_185e1) * z - 1.614_687_684_417_084_5e3;
        let q = ((z + 1.128_116_784_916_329_3e2) * z + 2.235_488_390_601_004_5e3) * z + 4.844_063_053_251_255e3;
        x + x * z * p / q
    }
}

impl Activation {
    /// `σ(z)`.
    #[inline]
    pub fn apply(self, z: f64) -> f64 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Tanh => fast_tanh(z),
            Activation::Gelu => 0.5 * z * (1.0 + fast_tanh(GELU_C * (z + GELU_K * z * z * z))),
            Activation::Linear => z,
        }
    }
    /// `σ'(z)` given `z` and `a = σ(z)`.
    #[inline]
    pub fn d1(self, z: f64, a: f64) -> f64 {
        match self {
            Activation::Relu => f64::from(u8::from(z > 0.0)),
            Activation::Tanh => 1.0 - a * a,
            Activation::Gelu => {
                let t = fast_tanh(GELU_C * (z + GELU_K * z * z * z));
                let du = GELU_C * (1.0 + 3.0 * GELU_K * z * z);
                0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du
            }
            Activation::Linear => 1.0,
        }
    }
    /// `(σ'(z), σ''(z))` given `z` and `a = σ(z)`.
    #[inline]
    pub fn d12(self, z: f64, a: f64) -> (f64, f64) {
        match self {
            Activation::Relu => (f64::from(u8::from(z > 0.0)), 0.0),
            Activation::Tanh => {
                let d = 1.0 - a * a;
                (d, -2.0 * a * d)
            }
            Activation::Gelu => {
                let t = fast_tanh(GELU_C * (z + GELU_K * z * z * z));
                let sech2 = 1.0 - t * t;
                let du = GELU_C * (1.0 + 3.0 * GELU_K * z * z);
                let ddu = 6.0 * GELU_C * GELU_K * z;
                let d1 = 0.5 * (1.0 + t) + 0.5 * z * sech2 * du;
                let d2 = sech2 * du + 0.5 * z * sech2 * (ddu - 2.0 * t * du * du);
                (d1, d2)
            }
            Activation::Linear => (1.0, 0.0),
        }
    }
    /// Whether `σ''` vanishes identically (away from kinks).
    fn piecewise_linear(self) -> bool {
        matches!(self, Activation::Relu | Activation::Linear)
    }
    /// Whether [`Activation::d1`] and [`Activation::d12`] give the same values with `a` passed
    /// for `z` (ReLU: `a > 0` iff `z > 0`; tanh reads only `a`), so that a hidden layer's
    /// pre-activation need not be kept once `σ` is applied.
    fn derivs_from_output(self) -> bool {
        matches!(self, Activation::Relu | Activation::Tanh)
    }
}

/// Fully connected network; see the module docs for the parameter layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    /// Layer widths `[d_in, h_1, ..., d_out]` (at least two entries).
    pub sizes: Vec<usize>,
    /// The hidden-layer activation (the output layer has none).
    pub act: Activation,
    /// Whether every layer has a bias.
    pub bias: bool,
    /// The per-sample loss on the outputs.
    pub loss: Loss,
}

/// Arrays with at least this many elements get parallel elementwise loops.
const PAR_MIN: usize = 1 << 15;

macro_rules! zip_for_each {
    ($zip:expr, $len:expr, $f:expr) => {
        if $len >= PAR_MIN && !is_sequential() { $zip.par_for_each($f) } else { $zip.for_each($f) }
    };
}

use crate::linalg::dense::{gemm, gemm_new, is_sequential, sequential};

/// Elements of the widest layer's activations that one row chunk should hold (about 512 KiB in
/// f64, so a chunk's per-layer arrays stay in a core's L2 between the GEMM that writes them and the
/// elementwise pass that reads them; see [`Mlp::chunked`]).
const CHUNK_ELEMS: usize = 1 << 16;

/// `f` elementwise over a zip into a new array (parallel for large arrays; no zero-fill).
macro_rules! zip_map {
    ($zip:expr, $len:expr, $f:expr) => {
        if $len >= PAR_MIN && !is_sequential() { $zip.par_map_collect($f) } else { $zip.map_collect($f) }
    };
}

/// Activations stored by the forward pass: `z[l]` is the pre-activation of layer `l`'s output
/// (`z[L-1]` = the network output), `a[l] = σ(z[l])` for hidden layers (empty for `Linear`).
/// A hidden `z[l]` that no later pass reads is not kept (a 0 x 0 array; see [`Tape::pre`]): `σ` is
/// applied in place, which halves the forward pass's memory and the traffic of every
/// elementwise pass after it.
struct Tape {
    z: Vec<Array2<f64>>,
    a: Vec<Array2<f64>>,
}

impl Tape {
    /// What to pass as `z` to [`Activation::d1`] / [`Activation::d12`] for hidden layer `l`:
    /// `z[l]`, or `a[l]` where `z[l]` was not kept ([`Activation::derivs_from_output`]).
    fn pre(&self, l: usize) -> ArrayView2<'_, f64> {
        if self.z[l].is_empty() { self.a[l].view() } else { self.z[l].view() }
    }
}

/// Stand-in for an array that is not kept (no allocation).
fn not_kept() -> Array2<f64> {
    Array2::zeros((0, 0))
}

impl Mlp {
    /// A network with layer widths `sizes` (at least two, all positive).
    pub fn new(sizes: &[usize], act: Activation, bias: bool, loss: Loss) -> Self {
        assert!(sizes.len() >= 2, "Mlp needs at least an input and an output size");
        assert!(sizes.iter().all(|&s| s > 0), "Mlp sizes must be positive: {sizes:?}");
        Mlp { sizes: sizes.to_vec(), act, bias, loss }
    }

    /// Number of affine layers `L`.
    pub fn num_layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Offset of layer `l`'s weight in the flat vector, and the number of its parameters.
    pub fn layer_offset(&self, l: usize) -> (usize, usize) {
        let per = |k: usize| self.sizes[k + 1] * self.sizes[k] + if self.bias { self.sizes[k + 1] } else { 0 };
        ((0..l).map(per).sum(), per(l))
    }

    /// The flat parameter range of every tensor in layout order: layer 0's weight, its bias (when
    /// `bias` is set), layer 1's weight, ... (what per-tensor transforms such as
    /// ⊥Grad, `optim::orthogonal_to_weights`, act on).
    pub fn tensor_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        for l in 0..self.sizes.len() - 1 {
            let (off, len) = self.layer_offset(l);
            let nw = self.sizes[l] * self.sizes[l + 1];
            out.push(off..off + nw);
            if self.bias {
                out.push(off + nw..off + len);
            }
        }
        out
    }

    /// Views of layer `l`: weight (`out x in`) and bias. `w` must be contiguous.
    pub fn layer<'a>(&self, w: ArrayView1<'a, f64>, l: usize) -> (ArrayView2<'a, f64>, Option<ArrayView1<'a, f64>>) {
        let (off, len) = self.layer_offset(l);
        let (din, dout) = (self.sizes[l], self.sizes[l + 1]);
        let seg = w.slice_move(s![off..off + len]);
        let (wm, b) = seg.split_at(Axis(0), din * dout);
        let wm = wm.into_shape_with_order((dout, din)).expect("parameter vector must be contiguous");
        (wm, self.bias.then_some(b))
    }

    /// Mutable views of layer `l`: weight (`out x in`) and bias. `w` must be contiguous.
    pub fn layer_mut<'a>(
        &self,
        w: ArrayViewMut1<'a, f64>,
        l: usize,
    ) -> (ArrayViewMut2<'a, f64>, Option<ArrayViewMut1<'a, f64>>) {
        let (off, len) = self.layer_offset(l);
        let (din, dout) = (self.sizes[l], self.sizes[l + 1]);
        let seg = w.slice_move(s![off..off + len]);
        let (wm, b) = seg.split_at(Axis(0), din * dout);
        let wm = wm.into_shape_with_order((dout, din)).expect("parameter vector must be contiguous");
        (wm, self.bias.then_some(b))
    }

    /// Random initial parameters: weights i.i.d. `N(0, c / fan_in)` with `c = 2` (He) for ReLU
    /// and GELU, `c = 1` (LeCun) for tanh and linear; biases zero.
    pub fn init(&self, rng: &mut impl Rng) -> Array1<f64> {
        let c = match self.act {
            Activation::Relu | Activation::Gelu => 2.0,
            Activation::Tanh | Activation::Linear => 1.0,
        };
        let mut w = Array1::zeros(self.num_params());
        for l in 0..self.num_layers() {
            let std = (c / self.sizes[l] as f64).sqrt();
            let (mut wm, _) = self.layer_mut(w.view_mut(), l);
            wm.iter_mut().for_each(|v| {
                let z: f64 = StandardNormal.sample(rng);
                *v = std * z;
            });
        }
        w
    }

    fn check_x(&self, x: &ArrayView2<f64>) {
        assert_eq!(x.ncols(), self.sizes[0], "Mlp: input has {} features, expected {}", x.ncols(), self.sizes[0]);
    }

    /// Input to layer `l` (`x` for `l = 0`).
    fn input<'t>(&self, tape: &'t Tape, x: ArrayView2<'t, f64>, l: usize) -> ArrayView2<'t, f64> {
        if l == 0 {
            x
        } else if self.act == Activation::Linear {
            tape.z[l - 1].view()
        } else {
            tape.a[l - 1].view()
        }
    }

    /// `z += 1 b^T` and, for a hidden layer, `σ(z)` in the same pass (the bias is added after
    /// the GEMM, so that the GEMM's output need not be pre-filled). Returns what the tape keeps,
    /// `(z, σ(z))`: where the derivatives read only `σ(z)` ([`Activation::derivs_from_output`]),
    /// `σ` is applied in place and `z` is not kept.
    fn bias_act(
        &self,
        mut z: Array2<f64>,
        b: Option<ArrayView1<f64>>,
        hidden: bool,
    ) -> (Array2<f64>, Option<Array2<f64>>) {
        let act = self.act;
        let len = z.len();
        if !hidden || act == Activation::Linear {
            if let Some(b) = b {
                z += &b;
            }
            return (z, None);
        }
        if act.derivs_from_output() {
            match b {
                Some(b) => zip_for_each!(Zip::from(&mut z).and_broadcast(&b), len, |z: &mut f64, &b: &f64| {
                    *z = act.apply(*z + b)
                }),
                None => zip_for_each!(Zip::from(&mut z), len, |z: &mut f64| *z = act.apply(*z)),
            }
            return (not_kept(), Some(z));
        }
        let a = match b {
            Some(b) => zip_map!(Zip::from(&mut z).and_broadcast(&b), len, |z: &mut f64, &b: &f64| {
                *z += b;
                act.apply(*z)
            }),
            None => zip_map!(Zip::from(&z), len, |&z| act.apply(z)),
        };
        (z, Some(a))
    }

    fn forward_tape(&self, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Tape {
        self.check_x(&x);
        assert_eq!(w.len(), self.num_params(), "Mlp: parameter vector has the wrong length");
        let big_l = self.num_layers();
        let mut tape = Tape { z: Vec::with_capacity(big_l), a: Vec::with_capacity(big_l) };
        for l in 0..big_l {
            let (wm, b) = self.layer(w, l);
            let z = gemm_new(&self.input(&tape, x, l), &wm.t());
            let (z, a) = self.bias_act(z, b, l + 1 < big_l);
            tape.a.extend(a);
            tape.z.push(z);
        }
        tape
    }

    /// Backward pass from `g_out = dL/dF` (`n x out`): writes the parameter gradient into `grad`
    /// and, if `keep`, returns the output gradients `G_{l+1}` of every layer (index `l`).
    fn backward(
        &self,
        w: ArrayView1<f64>,
        x: ArrayView2<f64>,
        tape: &Tape,
        g_out: Array2<f64>,
        mut grad: Option<ArrayViewMut1<f64>>,
        keep: bool,
    ) -> Vec<Array2<f64>> {
        let big_l = self.num_layers();
        let mut kept = Vec::new();
        let mut g = g_out;
        for l in (0..big_l).rev() {
            let (wm, _) = self.layer(w, l);
            if let Some(grad) = grad.as_mut() {
                let (mut gw, gb) = self.layer_mut(grad.view_mut(), l);
                gemm(&g.t(), &self.input(tape, x, l), 0.0, &mut gw);
                if let Some(mut gb) = gb {
                    gb.assign(&g.sum_axis(Axis(0)));
                }
            }
            let next = if l > 0 {
                let mut da = gemm_new(&g.view(), &wm);
                if self.act != Activation::Linear {
                    let act = self.act;
                    let (z, a) = (tape.pre(l - 1), &tape.a[l - 1]);
                    zip_for_each!(Zip::from(&mut da).and(z).and(a), a.len(), |d, &z, &a| *d *= act.d1(z, a));
                }
                Some(da)
            } else {
                None
            };
            if keep {
                kept.push(g);
            }
            match next {
                Some(da) => g = da,
                None => break,
            }
        }
        kept.reverse();
        kept
    }

    /// R-forward pass: `R Z_l` for every layer and `R σ(Z_l)` for hidden layers (empty for
    /// `Linear`, where it equals `R Z_l`), given the tape and direction `v`.
    fn r_forward(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, tape: &Tape, v: ArrayView1<f64>) -> Tape {
        assert_eq!(v.len(), self.num_params(), "Mlp: direction has the wrong length");
        let big_l = self.num_layers();
        let mut rt = Tape { z: Vec::with_capacity(big_l), a: Vec::with_capacity(big_l) };
        let act = self.act;
        for l in 0..big_l {
            let (wm, _) = self.layer(w, l);
            let (vm, vb) = self.layer(v, l);
            let mut r = gemm_new(&self.input(tape, x, l), &vm.t());
            if l > 0 {
                gemm(&self.input(&rt, x, l), &wm.t(), 1.0, &mut r.view_mut());
            }
            if l + 1 < big_l && act != Activation::Linear {
                // R σ(z) = (R z) σ'(z), with the bias direction added in the same pass. Only the
                // R-backward's σ'' term reads R z: where σ'' = 0 (ReLU) it is formed in place.
                let (z, a) = (tape.pre(l), &tape.a[l]);
                let len = a.len();
                if act.piecewise_linear() {
                    match vb {
                        Some(vb) => zip_for_each!(
                            Zip::from(&mut r).and_broadcast(&vb).and(z).and(a),
                            len,
                            |r: &mut f64, &vb: &f64, &z: &f64, &a: &f64| *r = (*r + vb) * act.d1(z, a)
                        ),
                        None => zip_for_each!(Zip::from(&mut r).and(z).and(a), len, |r, &z, &a| *r *= act.d1(z, a)),
                    }
                    rt.a.push(r);
                    rt.z.push(not_kept());
                    continue;
                }
                let ra = match vb {
                    Some(vb) => zip_map!(
                        Zip::from(&mut r).and_broadcast(&vb).and(z).and(a),
                        len,
                        |r: &mut f64, &vb: &f64, &z: &f64, &a: &f64| {
                            *r += vb;
                            *r * act.d1(z, a)
                        }
                    ),
                    None => zip_map!(Zip::from(&r).and(z).and(a), len, |&r, &z, &a| r * act.d1(z, a)),
                };
                rt.a.push(ra);
            } else if let Some(vb) = vb {
                r += &vb;
            }
            rt.z.push(r);
        }
        rt
    }

    /// R-backward pass. With `exact`, the Hessian-vector product of the loss whose output gradient
    /// is `g_out` and whose output R-gradient is `rg_out`; without, the Gauss-Newton part only
    /// (`g_out` unused: plain backprop of `rg_out`).
    #[allow(clippy::too_many_arguments)]
    fn r_backward(
        &self,
        w: ArrayView1<f64>,
        v: ArrayView1<f64>,
        x: ArrayView2<f64>,
        tape: &Tape,
        rt: &Tape,
        g_out: Option<Array2<f64>>,
        rg_out: Array2<f64>,
    ) -> Array1<f64> {
        let big_l = self.num_layers();
        let mut out = Array1::zeros(self.num_params());
        let mut g = g_out;
        let mut rg = rg_out;
        let act = self.act;
        for l in (0..big_l).rev() {
            let (wm, _) = self.layer(w, l);
            let (vm, _) = self.layer(v, l);
            {
                let (mut rgw, rgb) = self.layer_mut(out.view_mut(), l);
                gemm(&rg.t(), &self.input(tape, x, l), 0.0, &mut rgw);
                if l > 0
                    && let Some(g) = &g
                {
                    gemm(&g.t(), &self.input(rt, x, l), 1.0, &mut rgw);
                }
                if let Some(mut rgb) = rgb {
                    rgb.assign(&rg.sum_axis(Axis(0)));
                }
            }
            if l == 0 {
                break;
            }
            let mut rda = gemm_new(&rg.view(), &wm);
            let mut da = None;
            if let Some(gc) = g.take() {
                gemm(&gc.view(), &vm, 1.0, &mut rda.view_mut());
                // `G_{l-1}` (the gradient's own backward step) feeds layer `l-1`'s `G^T R A` term
                // (none at the input layer) and its `σ''` term (none for piecewise-linear
                // activations): for ReLU, layer 1 skips this GEMM.
                if l > 1 || !act.piecewise_linear() {
                    da = Some(gemm_new(&gc.view(), &wm));
                }
            }
            if act != Activation::Linear {
                let z = tape.pre(l - 1);
                let a = &tape.a[l - 1];
                match da.as_mut() {
                    Some(da) if !act.piecewise_linear() => {
                        let rzl = &rt.z[l - 1];
                        zip_for_each!(
                            Zip::from(&mut rda).and(da).and(z).and(a).and(rzl),
                            z.len(),
                            |r, d, &z, &a, &rzv| {
                                let (d1, d2) = act.d12(z, a);
                                *r = *r * d1 + *d * d2 * rzv;
                                *d *= d1;
                            }
                        );
                    }
                    Some(da) => {
                        zip_for_each!(Zip::from(&mut rda).and(da).and(z).and(a), z.len(), |r, d, &z, &a| {
                            let d1 = act.d1(z, a);
                            *r *= d1;
                            *d *= d1;
                        });
                    }
                    None => {
                        zip_for_each!(Zip::from(&mut rda).and(z).and(a), z.len(), |r, &z, &a| *r *= act.d1(z, a));
                    }
                }
            }
            g = da;
            rg = rda;
        }
        out
    }

    /// Post-activations `σ(Z_l)` of every hidden layer (`n x h_l`), then the outputs
    /// (`n x d_out`): the network's features, e.g. for kernel or rank studies.
    pub fn activations(&self, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Vec<Array2<f64>> {
        let w = w.as_standard_layout();
        let tape = self.forward_tape(w.view(), x);
        let big_l = self.num_layers();
        if self.act == Activation::Linear {
            return tape.z;
        }
        let mut out = tape.a;
        out.push(tape.z.into_iter().nth(big_l - 1).expect("at least one layer"));
        out
    }

    /// The forward and R-forward passes shared by `hvp` and `grad_hvp`: the tapes, the mean loss,
    /// and the output gradient and output Hessian-vector product, both divided by the batch size.
    fn r_pass(
        &self,
        w: ArrayView1<f64>,
        x: ArrayView2<f64>,
        y: &Targets,
        v: ArrayView1<f64>,
    ) -> (Tape, Tape, f64, Array2<f64>, Array2<f64>) {
        let n = x.nrows() as f64;
        let last = self.num_layers() - 1;
        let tape = self.forward_tape(w, x);
        let (l, mut g) = self.loss.value_grad(tape.z[last].view(), y);
        g /= n;
        let rt = self.r_forward(w, x, &tape, v);
        let mut rg = self.loss.hess_vec(tape.z[last].view(), y, rt.z[last].view());
        rg /= n;
        (tape, rt, l, g, rg)
    }

    /// Data-parallel evaluation of a batch-mean quantity: the rows are cut into a power-of-two
    /// number of chunks, each chunk runs with sequential kernels on one rayon worker, and the chunk
    /// means are combined in order, weighted by chunk size. The chunk count depends only on `n` and
    /// the widths, never on the thread count, so neither do the numbers: chunks of at most
    /// [`CHUNK_ELEMS`] / (widest layer) rows (clamped to 128..=1024), at most 16 chunks. On 2 cores
    /// this beats parallelizing each GEMM (no barrier per product, no idle thread in the
    /// elementwise passes), and L2-sized chunks beat larger ones: digits HVP (n = 1797, width 256)
    /// 35 ms unchunked, 31 ms in 4 chunks of 450 rows, 29 ms in 8 chunks of 225 (ReLU 25 ms).
    /// `None` when one chunk would do or this thread is already sequential.
    fn chunked<R: Send>(
        &self,
        x: ArrayView2<f64>,
        y: &Targets,
        f: impl Fn(ArrayView2<f64>, &Targets) -> R + Sync,
    ) -> Option<Vec<(f64, R)>> {
        let n = x.nrows();
        let widest = self.sizes.iter().copied().max().unwrap_or(1);
        let rows = (CHUNK_ELEMS / widest).clamp(128, 1024);
        let chunks = n.div_ceil(rows).next_power_of_two().min(16);
        if chunks < 2 || is_sequential() {
            return None;
        }
        let size = n.div_ceil(chunks);
        let parts: Vec<(f64, R)> = (0..chunks)
            .into_par_iter()
            .map(|i| {
                let r = i * size..((i + 1) * size).min(n);
                let weight = r.len() as f64 / n as f64;
                let yc = y.slice(r.clone());
                (weight, sequential(|| f(x.slice(s![r, ..]), &yc)))
            })
            .collect();
        Some(parts)
    }

    /// Loss gradient and exact HVP together (one forward pass shared; the gradient costs one
    /// extra GEMM per layer on top of the HVP).
    pub fn grad_hvp(
        &self,
        w: ArrayView1<f64>,
        x: ArrayView2<f64>,
        y: &Targets,
        v: ArrayView1<f64>,
    ) -> (f64, Array1<f64>, Array1<f64>) {
        let w = w.as_standard_layout();
        let v = v.as_standard_layout();
        let one = |x: ArrayView2<f64>, y: &Targets| {
            let (tape, rt, l, g, rg) = self.r_pass(w.view(), x, y, v.view());
            let mut grad = Array1::zeros(self.num_params());
            self.backward(w.view(), x, &tape, g.clone(), Some(grad.view_mut()), false);
            let hv = self.r_backward(w.view(), v.view(), x, &tape, &rt, Some(g), rg);
            (l, grad, hv)
        };
        match self.chunked(x, y, one) {
            None => one(x, y),
            Some(parts) => {
                let p = self.num_params();
                parts.into_iter().fold(
                    (0.0, Array1::zeros(p), Array1::zeros(p)),
                    |(l, mut g, mut h), (c, (lc, gc, hc))| {
                        g.scaled_add(c, &gc);
                        h.scaled_add(c, &hc);
                        (l + c * lc, g, h)
                    },
                )
            }
        }
    }

    /// Weighted sum of the chunks' vectors, in chunk order.
    fn combine(&self, parts: Vec<(f64, Array1<f64>)>) -> Array1<f64> {
        parts.into_iter().fold(Array1::zeros(self.num_params()), |mut acc, (c, v)| {
            acc.scaled_add(c, &v);
            acc
        })
    }

    fn loss_grad_rows(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> (f64, Array1<f64>) {
        let tape = self.forward_tape(w, x);
        let (l, mut g) = self.loss.value_grad(tape.z[self.num_layers() - 1].view(), y);
        g /= x.nrows() as f64;
        let mut grad = Array1::zeros(self.num_params());
        self.backward(w, x, &tape, g, Some(grad.view_mut()), false);
        (l, grad)
    }

    fn r_product_rows(
        &self,
        w: ArrayView1<f64>,
        x: ArrayView2<f64>,
        y: &Targets,
        v: ArrayView1<f64>,
        exact: bool,
    ) -> Array1<f64> {
        let (tape, rt, _, g, rg) = self.r_pass(w, x, y, v);
        self.r_backward(w, v, x, &tape, &rt, exact.then_some(g), rg)
    }

    /// HVP (`exact`) or Gauss-Newton product, split over row chunks when the batch is large.
    fn r_product(
        &self,
        w: ArrayView1<f64>,
        x: ArrayView2<f64>,
        y: &Targets,
        v: ArrayView1<f64>,
        exact: bool,
    ) -> Array1<f64> {
        let w = w.as_standard_layout();
        let v = v.as_standard_layout();
        let one = |x: ArrayView2<f64>, y: &Targets| self.r_product_rows(w.view(), x, y, v.view(), exact);
        match self.chunked(x, y, one) {
            None => one(x, y),
            Some(parts) => self.combine(parts),
        }
    }
}

impl Model for Mlp {
    fn num_params(&self) -> usize {
        (0..self.num_layers()).map(|l| self.layer_offset(l).1).sum()
    }
    fn num_outputs(&self) -> usize {
        *self.sizes.last().expect("sizes")
    }
    fn loss_fn(&self) -> Loss {
        self.loss
    }
    fn forward(&self, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
        let w = w.as_standard_layout();
        let mut tape = self.forward_tape(w.view(), x);
        tape.z.pop().expect("at least one layer")
    }
    fn loss_grad(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> (f64, Array1<f64>) {
        let w = w.as_standard_layout();
        let one = |x: ArrayView2<f64>, y: &Targets| self.loss_grad_rows(w.view(), x, y);
        match self.chunked(x, y, one) {
            None => one(x, y),
            Some(parts) => {
                let l = parts.iter().map(|(c, (l, _))| c * l).sum();
                (l, self.combine(parts.into_iter().map(|(c, (_, g))| (c, g)).collect()))
            }
        }
    }
    fn hvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, v: ArrayView1<f64>) -> Array1<f64> {
        self.r_product(w, x, y, v, true)
    }
    fn gnvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, v: ArrayView1<f64>) -> Array1<f64> {
        self.r_product(w, x, y, v, false)
    }
    fn per_sample_grads(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> Array2<f64> {
        let w = w.as_standard_layout();
        let tape = self.forward_tape(w.view(), x);
        let (_, g) = self.loss.value_grad(tape.z[self.num_layers() - 1].view(), y);
        let gs = self.backward(w.view(), x, &tape, g, None, true);
        let inputs: Vec<ArrayView2<f64>> = (0..self.num_layers()).map(|l| self.input(&tape, x, l)).collect();
        let mut out = Array2::zeros((x.nrows(), self.num_params()));
        out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(i, mut row)| {
            for l in 0..self.num_layers() {
                let (mut gw, gb) = self.layer_mut(row.view_mut(), l);
                let gi = gs[l].row(i);
                let ai = inputs[l].row(i);
                Zip::from(gw.rows_mut()).and(&gi).for_each(|mut r, &gv| {
                    Zip::from(&mut r).and(&ai).for_each(|o, &a| *o = gv * a);
                });
                if let Some(mut gb) = gb {
                    gb.assign(&gi);
                }
            }
        });
        out
    }
    fn jvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, v: ArrayView1<f64>) -> Array2<f64> {
        let w = w.as_standard_layout();
        let v = v.as_standard_layout();
        let tape = self.forward_tape(w.view(), x);
        let mut rt = self.r_forward(w.view(), x, &tape, v.view());
        rt.z.pop().expect("at least one layer")
    }
    fn vjp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, u: ArrayView2<f64>) -> Array1<f64> {
        let w = w.as_standard_layout();
        assert_eq!(u.dim(), (x.nrows(), self.num_outputs()), "vjp: cotangent shape");
        let tape = self.forward_tape(w.view(), x);
        let mut grad = Array1::zeros(self.num_params());
        self.backward(w.view(), x, &tape, u.to_owned(), Some(grad.view_mut()), false);
        grad
    }
}
