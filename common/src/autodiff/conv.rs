//! Operations on NCHW image batches (`batch x channels x height x width`): 2-D convolution by
//! im2col and GEMM, average and max pooling, nearest and bilinear upsampling.
//!
//! **Convolution** (cross-correlation, as in every deep-learning library):
//! `y[n, o, i, j] = b[o] + Σ_{c, p, q} w[o, c, p, q] x[n, c, s i + p − pad, s j + q − pad]`
//! (zero outside the image), output size `(H + 2 pad − kh)/s + 1`. Per sample the patches form
//! the im2col matrix `X_n` (`C kh kw x Ho Wo`) and `Y_n = W X_n` (`W` as `O x C kh kw`); the VJP
//! is `ḡW = Σ_n Ḡ_n X_nᵀ` (samples in order), `X̄_n = Wᵀ Ḡ_n` folded back onto the image (col2im,
//! patches in row-major order), `ḡb[o] = Σ_{n, i, j} Ḡ[n, o, i, j]`. The im2col matrix is
//! recomputed in the backward pass (one sample's at a time).
//!
//! **Bilinear upsampling** by an integer factor `s` uses half-pixel centres (PyTorch's
//! `align_corners=False`): output index `i` samples the input at `(i + 0.5)/s − 0.5`, clamped
//! to `[0, H − 1]`, interpolating its two neighbours; the VJP is the transpose, accumulated over
//! the output pixels in row-major order.
use super::{Tape, Var, VjpCtx};
use crate::linalg::dense::gemm;
use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewMut2, Ix4, IxDyn};

/// Stride and zero padding of [`Tape::conv2d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Step between output pixels (in input pixels).
    pub stride: usize,
    /// Zero rows/columns added on each side.
    pub pad: usize,
}

impl Conv2d {
    /// Stride 1 and padding `k / 2`: the output has the input's size for an odd kernel size `k`.
    pub fn same(k: usize) -> Self {
        assert!(k % 2 == 1, "Conv2d::same: the kernel size must be odd, got {k}");
        Conv2d { stride: 1, pad: k / 2 }
    }
    /// Stride `stride`, no padding.
    pub fn valid(stride: usize) -> Self {
        Conv2d { stride, pad: 0 }
    }
}

fn dims4(a: &ArrayD<f64>, op: &str) -> [usize; 4] {
    let s = a.shape();
    assert_eq!(s.len(), 4, "{op}: expected an NCHW array, got shape {s:?}");
    [s[0], s[1], s[2], s[3]]
}

/// Geometry of one convolution.
#[derive(Clone, Copy)]
struct Geo {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    ho: usize,
    wo: usize,
    s: usize,
    pad: usize,
}

impl Geo {
    /// The im2col matrix of one sample `x` (`C x H x W`, row-major) into `cols`
    /// (`C kh kw x Ho Wo`, row-major).
    fn im2col(&self, x: &[f64], cols: &mut [f64]) {
        let Geo { c, h, w, kh, kw, ho, wo, s, pad } = *self;
        let npix = ho * wo;
        for ci in 0..c {
            for p in 0..kh {
                for q in 0..kw {
                    let r = (ci * kh + p) * kw + q;
                    let row = &mut cols[r * npix..(r + 1) * npix];
                    for i in 0..ho {
                        let y = (s * i + p) as isize - pad as isize;
                        let out = &mut row[i * wo..(i + 1) * wo];
                        if y < 0 || y >= h as isize {
                            out.fill(0.0);
                            continue;
                        }
                        let src = &x[(ci * h + y as usize) * w..(ci * h + y as usize + 1) * w];
                        for (j, o) in out.iter_mut().enumerate() {
                            let xx = (s * j + q) as isize - pad as isize;
                            *o = if xx >= 0 && xx < w as isize { src[xx as usize] } else { 0.0 };
                        }
                    }
                }
            }
        }
    }

    /// Adds the columns `cols` back onto the image `gx` (the transpose of [`Geo::im2col`]).
    fn col2im(&self, cols: &[f64], gx: &mut [f64]) {
        let Geo { c, h, w, kh, kw, ho, wo, s, pad } = *self;
        let npix = ho * wo;
        for ci in 0..c {
            for p in 0..kh {
                for q in 0..kw {
                    let r = (ci * kh + p) * kw + q;
                    let row = &cols[r * npix..(r + 1) * npix];
                    for i in 0..ho {
                        let y = (s * i + p) as isize - pad as isize;
                        if y < 0 || y >= h as isize {
                            continue;
                        }
                        let dst = &mut gx[(ci * h + y as usize) * w..(ci * h + y as usize + 1) * w];
                        for (j, &v) in row[i * wo..(i + 1) * wo].iter().enumerate() {
                            let xx = (s * j + q) as isize - pad as isize;
                            if xx >= 0 && xx < w as isize {
                                dst[xx as usize] += v;
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<'a> Tape<'a> {
    /// 2-D convolution of `x` (`N x C x H x W`) with `w` (`O x C x kh x kw`) plus an optional bias
    /// `b` (`O`): see the module doc of `conv` for the formula, the im2col/GEMM evaluation and the
    /// summation order. Output `N x O x Ho x Wo`, `Ho = (H + 2 pad − kh)/stride + 1`.
    pub fn conv2d(&self, x: Var, w: Var, b: Option<Var>, cfg: Conv2d) -> Var {
        assert!(cfg.stride >= 1, "conv2d: stride must be at least 1");
        let (value, geo) = {
            let (xv, wv) = (self.value(x), self.value(w));
            let [n, c, h, ww] = dims4(&xv, "conv2d");
            let [o, c2, kh, kw] = dims4(&wv, "conv2d");
            assert_eq!(c, c2, "conv2d: the input has {c} channels, the kernel {c2}");
            assert!(h + 2 * cfg.pad >= kh && ww + 2 * cfg.pad >= kw, "conv2d: kernel larger than the padded image");
            let (ho, wo) = ((h + 2 * cfg.pad - kh) / cfg.stride + 1, (ww + 2 * cfg.pad - kw) / cfg.stride + 1);
            let geo = Geo { c, h, w: ww, kh, kw, ho, wo, s: cfg.stride, pad: cfg.pad };
            let xs = xv.as_standard_layout();
            let xs = xs.as_slice().expect("standard layout");
            let wm =
                wv.as_standard_layout().into_owned().into_shape_with_order((o, c * kh * kw)).expect("standard layout");
            let (ck, npix) = (c * kh * kw, ho * wo);
            let mut cols = vec![0.0; ck * npix];
            let mut out = vec![0.0; n * o * npix];
            for ni in 0..n {
                geo.im2col(&xs[ni * c * h * ww..(ni + 1) * c * h * ww], &mut cols);
                let cv = ArrayView2::from_shape((ck, npix), &cols).expect("cols");
                let mut dst =
                    ArrayViewMut2::from_shape((o, npix), &mut out[ni * o * npix..(ni + 1) * o * npix]).expect("out");
                gemm(&wm.view(), &cv, 0.0, &mut dst);
            }
            let mut out = ArrayD::from_shape_vec(IxDyn(&[n, o, ho, wo]), out).expect("shape");
            if let Some(b) = b {
                let bv = self.value(b);
                assert_eq!(bv.shape(), [o], "conv2d: the bias must have shape [{o}]");
                for mut sample in out.outer_iter_mut() {
                    for (mut plane, &bo) in sample.outer_iter_mut().zip(bv.iter()) {
                        plane += bo;
                    }
                }
            }
            (out, geo)
        };
        let parents: Vec<Var> = std::iter::once(x).chain(std::iter::once(w)).chain(b).collect();
        self.op(&parents, value, move |ctx: &VjpCtx| {
            let (xv, wv, g) = (ctx.inputs[0], ctx.inputs[1], ctx.grad);
            let n = xv.shape()[0];
            let o = wv.shape()[0];
            let Geo { c, h, w: ww, kh, kw, ho, wo, .. } = geo;
            let (ck, npix) = (c * kh * kw, ho * wo);
            let xs = xv.as_standard_layout();
            let xs = xs.as_slice().expect("standard layout");
            let gs = g.as_standard_layout();
            let gs = gs.as_slice().expect("standard layout");
            let wm = wv.as_standard_layout().into_owned().into_shape_with_order((o, ck)).expect("standard layout");
            let mut cols = vec![0.0; ck * npix];
            let mut gw = Array2::<f64>::zeros((o, ck));
            let mut gx = ctx.needs[0].then(|| vec![0.0; n * c * h * ww]);
            for ni in 0..n {
                let gn = ArrayView2::from_shape((o, npix), &gs[ni * o * npix..(ni + 1) * o * npix]).expect("g");
                if ctx.needs[1] {
                    geo.im2col(&xs[ni * c * h * ww..(ni + 1) * c * h * ww], &mut cols);
                    let cv = ArrayView2::from_shape((ck, npix), &cols).expect("cols");
                    gemm(&gn, &cv.t(), 1.0, &mut gw.view_mut());
                }
                if let Some(gx) = gx.as_mut() {
                    let mut gc = ArrayViewMut2::from_shape((ck, npix), &mut cols).expect("cols");
                    gemm(&wm.t(), &gn, 0.0, &mut gc);
                    geo.col2im(&cols, &mut gx[ni * c * h * ww..(ni + 1) * c * h * ww]);
                }
            }
            let mut res = vec![
                gx.map(|v| ArrayD::from_shape_vec(IxDyn(&[n, c, h, ww]), v).expect("shape")),
                ctx.needs[1].then(|| gw.into_shape_with_order(IxDyn(&[o, c, kh, kw])).expect("shape")),
            ];
            if ctx.inputs.len() == 3 {
                res.push(ctx.needs[2].then(|| {
                    let mut gb = ndarray::Array1::<f64>::zeros(o);
                    for ni in 0..n {
                        for (oi, gbo) in gb.iter_mut().enumerate() {
                            let base = (ni * o + oi) * npix;
                            *gbo += gs[base..base + npix].iter().fold(0.0, |s, &v| s + v);
                        }
                    }
                    gb.into_dyn()
                }));
            }
            res
        })
    }

    /// Average pooling over non-overlapping `k x k` blocks (`H`, `W` multiples of `k`).
    pub fn avg_pool2d(&self, x: Var, k: usize) -> Var {
        let value = {
            let xv = self.value(x);
            let [n, c, h, w] = dims4(&xv, "avg_pool2d");
            assert!(k >= 1 && h % k == 0 && w % k == 0, "avg_pool2d: {h} x {w} is not a multiple of {k}");
            let x4 = xv.view().into_dimensionality::<Ix4>().expect("4-d");
            let inv = 1.0 / (k * k) as f64;
            ndarray::Array4::from_shape_fn((n, c, h / k, w / k), |(a, b, i, j)| {
                let mut s = 0.0;
                for p in 0..k {
                    for q in 0..k {
                        s += x4[[a, b, k * i + p, k * j + q]];
                    }
                }
                s * inv
            })
            .into_dyn()
        };
        self.op(&[x], value, move |ctx: &VjpCtx| {
            let g4 = ctx.grad.view().into_dimensionality::<Ix4>().expect("4-d");
            let inv = 1.0 / (k * k) as f64;
            let s = ctx.inputs[0].raw_dim();
            let gx =
                ndarray::Array4::from_shape_fn((s[0], s[1], s[2], s[3]), |(a, b, i, j)| g4[[a, b, i / k, j / k]] * inv);
            vec![Some(gx.into_dyn())]
        })
    }

    /// Max pooling over non-overlapping `k x k` blocks (`H`, `W` multiples of `k`); the VJP goes to
    /// the first maximal entry of each block (row-major).
    pub fn max_pool2d(&self, x: Var, k: usize) -> Var {
        let (value, arg) = {
            let xv = self.value(x);
            let [n, c, h, w] = dims4(&xv, "max_pool2d");
            assert!(k >= 1 && h % k == 0 && w % k == 0, "max_pool2d: {h} x {w} is not a multiple of {k}");
            let x4 = xv.view().into_dimensionality::<Ix4>().expect("4-d");
            let mut arg = Vec::with_capacity(n * c * (h / k) * (w / k));
            let out = ndarray::Array4::from_shape_fn((n, c, h / k, w / k), |(a, b, i, j)| {
                let (mut best, mut at) = (f64::NEG_INFINITY, (k * i, k * j));
                for p in 0..k {
                    for q in 0..k {
                        let v = x4[[a, b, k * i + p, k * j + q]];
                        if v > best {
                            (best, at) = (v, (k * i + p, k * j + q));
                        }
                    }
                }
                arg.push(at);
                best
            });
            (out.into_dyn(), arg)
        };
        self.op(&[x], value, move |ctx: &VjpCtx| {
            let s = ctx.inputs[0].raw_dim();
            let mut gx = ndarray::Array4::<f64>::zeros((s[0], s[1], s[2], s[3]));
            for (((a, b, _, _), &g), &(p, q)) in
                ctx.grad.view().into_dimensionality::<Ix4>().expect("4-d").indexed_iter().zip(&arg)
            {
                gx[[a, b, p, q]] += g;
            }
            vec![Some(gx.into_dyn())]
        })
    }

    /// Nearest-neighbour upsampling by an integer factor `s`: each pixel becomes an `s x s` block.
    pub fn upsample_nearest(&self, x: Var, s: usize) -> Var {
        let value = {
            let xv = self.value(x);
            let [n, c, h, w] = dims4(&xv, "upsample_nearest");
            let x4 = xv.view().into_dimensionality::<Ix4>().expect("4-d");
            ndarray::Array4::from_shape_fn((n, c, h * s, w * s), |(a, b, i, j)| x4[[a, b, i / s, j / s]]).into_dyn()
        };
        self.op(&[x], value, move |ctx: &VjpCtx| {
            let d = ctx.inputs[0].raw_dim();
            let g4 = ctx.grad.view().into_dimensionality::<Ix4>().expect("4-d");
            let gx = ndarray::Array4::from_shape_fn((d[0], d[1], d[2], d[3]), |(a, b, i, j)| {
                let mut t = 0.0;
                for p in 0..s {
                    for q in 0..s {
                        t += g4[[a, b, s * i + p, s * j + q]];
                    }
                }
                t
            });
            vec![Some(gx.into_dyn())]
        })
    }

    /// Bilinear upsampling by an integer factor `s` with half-pixel centres (see the module doc).
    pub fn upsample_bilinear(&self, x: Var, s: usize) -> Var {
        let value = {
            let xv = self.value(x);
            let [n, c, h, w] = dims4(&xv, "upsample_bilinear");
            let (ty, tx) = (taps(h, s), taps(w, s));
            let x4 = xv.view().into_dimensionality::<Ix4>().expect("4-d");
            ndarray::Array4::from_shape_fn((n, c, h * s, w * s), |(a, b, i, j)| {
                let ((y0, y1, ly), (x0, x1, lx)) = (ty[i], tx[j]);
                (1.0 - ly) * ((1.0 - lx) * x4[[a, b, y0, x0]] + lx * x4[[a, b, y0, x1]])
                    + ly * ((1.0 - lx) * x4[[a, b, y1, x0]] + lx * x4[[a, b, y1, x1]])
            })
            .into_dyn()
        };
        self.op(&[x], value, move |ctx: &VjpCtx| {
            let d = ctx.inputs[0].raw_dim();
            let (ty, tx) = (taps(d[2], s), taps(d[3], s));
            let mut gx = ndarray::Array4::<f64>::zeros((d[0], d[1], d[2], d[3]));
            for ((a, b, i, j), &g) in ctx.grad.view().into_dimensionality::<Ix4>().expect("4-d").indexed_iter() {
                let ((y0, y1, ly), (x0, x1, lx)) = (ty[i], tx[j]);
                gx[[a, b, y0, x0]] += g * (1.0 - ly) * (1.0 - lx);
                gx[[a, b, y0, x1]] += g * (1.0 - ly) * lx;
                gx[[a, b, y1, x0]] += g * ly * (1.0 - lx);
                gx[[a, b, y1, x1]] += g * ly * lx;
            }
            vec![Some(gx.into_dyn())]
        })
    }
}

/// For each of the `n s` output positions: the two input neighbours and the weight of the second.
fn taps(n: usize, s: usize) -> Vec<(usize, usize, f64)> {
    (0..n * s)
        .map(|i| {
            let src = ((i as f64 + 0.5) / s as f64 - 0.5).clamp(0.0, (n - 1) as f64);
            let i0 = src.floor() as usize;
            let i1 = (i0 + 1).min(n - 1);
            (i0, i1, src - i0 as f64)
        })
        .collect()
}
