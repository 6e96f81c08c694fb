//! The host twin of the CUDA backend: every [`Backend`] operation in plain Rust on `Vec<T>`, with
//! exactly the semantics of the kernels in `common/kernels/mlp.cu` and of cuBLAS' GEMM. It is
//! not a fast path (the CPU path is [`crate::models::Mlp`]); it makes the device orchestration
//! testable on machines without a GPU and is the reference the CUDA parity tests share.
use super::{Backend, GemmArgs, GpuResult, Real, rademacher_sign};
use crate::models::{Activation, Loss};

/// The host twin (stateless).
#[derive(Clone, Copy, Debug, Default)]
pub struct Host;

fn r<T: Real>(x: f64) -> T {
    T::from_f64(x)
}

const GELU_C: f64 = 0.797_884_560_802_865_4;
const GELU_K: f64 = 0.044_715;

fn act_apply<T: Real>(act: Activation, z: T) -> T {
    match act {
        Activation::Relu => {
            if z > T::default() {
                z
            } else {
                T::default()
            }
        }
        Activation::Tanh => z.tanh(),
        Activation::Gelu => {
            r::<T>(0.5) * z * (r::<T>(1.0) + (r::<T>(GELU_C) * (z + r::<T>(GELU_K) * z * z * z)).tanh())
        }
        Activation::Linear => z,
    }
}

fn act_d12<T: Real>(act: Activation, z: T, a: T) -> (T, T) {
    let (one, zero) = (r::<T>(1.0), T::default());
    match act {
        Activation::Relu => (if z > zero { one } else { zero }, zero),
        Activation::Tanh => {
            let d = one - a * a;
            (d, r::<T>(-2.0) * a * d)
        }
        Activation::Gelu => {
            let (c, k) = (r::<T>(GELU_C), r::<T>(GELU_K));
            let t = (c * (z + k * z * z * z)).tanh();
            let sech2 = one - t * t;
            let du = c * (one + r::<T>(3.0) * k * z * z);
            let ddu = r::<T>(6.0) * c * k * z;
            let d1 = r::<T>(0.5) * (one + t) + r::<T>(0.5) * z * sech2 * du;
            let d2 = sech2 * du + r::<T>(0.5) * z * sech2 * (ddu - r::<T>(2.0) * t * du * du);
            (d1, d2)
        }
        Activation::Linear => (one, zero),
    }
}

/// `(s, s'/s, s''/s, log s)` of StableMax's `s(x)`, as in the kernel.
fn stablemax_parts<T: Real>(x: T) -> (T, T, T, T) {
    let one = r::<T>(1.0);
    if x >= T::default() {
        (x + one, one / (x + one), T::default(), x.ln_1p())
    } else {
        let q = one / (one - x);
        (q, q, r::<T>(2.0) * q * q, -(-x).ln_1p())
    }
}

impl Backend for Host {
    type Buf<T: Real> = Vec<T>;

    fn label(&self) -> String {
        "host twin (CPU)".into()
    }
    fn upload<T: Real>(&self, host: &[T]) -> GpuResult<Vec<T>> {
        Ok(host.to_vec())
    }
    fn download<T: Real>(&self, buf: &Vec<T>) -> GpuResult<Vec<T>> {
        Ok(buf.clone())
    }
    fn zeros<T: Real>(&self, len: usize) -> GpuResult<Vec<T>> {
        Ok(vec![T::default(); len])
    }
    fn len<T: Real>(&self, buf: &Vec<T>) -> usize {
        buf.len()
    }
    fn synchronize(&self) -> GpuResult<()> {
        Ok(())
    }

    fn gemm<T: Real>(&self, g: &GemmArgs<T>, a: &Vec<T>, b: &Vec<T>, c: &mut Vec<T>) -> GpuResult<()> {
        g.check(a.len(), b.len(), c.len());
        // Column-major: X(i, j) = x[off + i + j ld]; op(A)(i, p) = A(i, p) or A(p, i).
        let av = |i: usize, p: usize| if g.ta { a[g.aoff + p + i * g.lda] } else { a[g.aoff + i + p * g.lda] };
        let bv = |p: usize, j: usize| if g.tb { b[g.boff + j + p * g.ldb] } else { b[g.boff + p + j * g.ldb] };
        for j in 0..g.n {
            for i in 0..g.m {
                let mut s = T::default();
                for p in 0..g.k {
                    s += av(i, p) * bv(p, j);
                }
                let ci = &mut c[g.coff + i + j * g.ldc];
                // cuBLAS: beta = 0 ignores C (even NaN in it).
                *ci = if g.beta == T::default() { g.alpha * s } else { g.alpha * s + g.beta * *ci };
            }
        }
        Ok(())
    }

    fn fill_bias<T: Real>(&self, z: &mut Vec<T>, b: &Vec<T>, boff: usize, n: usize, h: usize) -> GpuResult<()> {
        assert_eq!(z.len(), n * h, "fill_bias: shape");
        for (i, zi) in z.iter_mut().enumerate() {
            *zi = b[boff + i % h];
        }
        Ok(())
    }
    fn act_fwd<T: Real>(&self, act: Activation, z: &Vec<T>, a: &mut Vec<T>) -> GpuResult<()> {
        for (ai, &zi) in a.iter_mut().zip(z) {
            *ai = act_apply(act, zi);
        }
        Ok(())
    }
    fn mul_d1<T: Real>(&self, act: Activation, d: &mut Vec<T>, z: &Vec<T>, a: &Vec<T>) -> GpuResult<()> {
        for i in 0..d.len() {
            d[i] *= act_d12(act, z[i], a[i]).0;
        }
        Ok(())
    }
    fn r_act<T: Real>(&self, act: Activation, ra: &mut Vec<T>, rv: &Vec<T>, z: &Vec<T>, a: &Vec<T>) -> GpuResult<()> {
        for i in 0..ra.len() {
            ra[i] = rv[i] * act_d12(act, z[i], a[i]).0;
        }
        Ok(())
    }
    fn r_bwd<T: Real>(
        &self,
        act: Activation,
        rda: &mut Vec<T>,
        da: &mut Vec<T>,
        z: &Vec<T>,
        a: &Vec<T>,
        rz: &Vec<T>,
    ) -> GpuResult<()> {
        for i in 0..rda.len() {
            let (d1, d2) = act_d12(act, z[i], a[i]);
            rda[i] = rda[i] * d1 + da[i] * d2 * rz[i];
            da[i] *= d1;
        }
        Ok(())
    }
    fn col_sum<T: Real>(&self, out: &mut Vec<T>, off: usize, g: &Vec<T>, n: usize, h: usize) -> GpuResult<()> {
        for j in 0..h {
            let mut s = T::default();
            for i in 0..n {
                s += g[i * h + j];
            }
            out[off + j] = s;
        }
        Ok(())
    }
    fn loss_grad<T: Real>(
        &self,
        loss: Loss,
        f: &Vec<T>,
        y: &Vec<T>,
        n: usize,
        k: usize,
        g: &mut Vec<T>,
        rows: &mut Vec<T>,
    ) -> GpuResult<()> {
        for i in 0..n {
            let (fi, yi) = (&f[i * k..(i + 1) * k], &y[i * k..(i + 1) * k]);
            let gi = &mut g[i * k..(i + 1) * k];
            let q = yi.iter().fold(T::default(), |s, &v| s + v);
            rows[i] = match loss {
                Loss::Mse => {
                    let mut l = T::default();
                    for j in 0..k {
                        let d = fi[j] - yi[j];
                        gi[j] = d;
                        l += d * d;
                    }
                    r::<T>(0.5) * l
                }
                Loss::SoftmaxCe => {
                    let m = fi[1..].iter().fold(fi[0], |m, &v| if v > m { v } else { m });
                    let z = fi.iter().fold(T::default(), |s, &v| s + (v - m).exp());
                    let lse = m + z.ln();
                    let mut yf = T::default();
                    for j in 0..k {
                        yf += yi[j] * fi[j];
                        gi[j] = q * (fi[j] - m).exp() / z - yi[j];
                    }
                    q * lse - yf
                }
                Loss::StableMaxCe => {
                    let ssum = fi.iter().fold(T::default(), |s, &v| s + stablemax_parts(v).0);
                    let mut yl = T::default();
                    for j in 0..k {
                        let (s, d1, _, ls) = stablemax_parts(fi[j]);
                        yl += yi[j] * ls;
                        gi[j] = q * s * d1 / ssum - yi[j] * d1;
                    }
                    q * ssum.ln() - yl
                }
            };
        }
        Ok(())
    }
    fn loss_hvp<T: Real>(
        &self,
        loss: Loss,
        f: &Vec<T>,
        y: &Vec<T>,
        rv: &Vec<T>,
        n: usize,
        k: usize,
        out: &mut Vec<T>,
    ) -> GpuResult<()> {
        for i in 0..n {
            let (fi, yi, ri) = (&f[i * k..(i + 1) * k], &y[i * k..(i + 1) * k], &rv[i * k..(i + 1) * k]);
            let oi = &mut out[i * k..(i + 1) * k];
            let q = yi.iter().fold(T::default(), |s, &v| s + v);
            match loss {
                Loss::Mse => oi.copy_from_slice(ri),
                Loss::SoftmaxCe => {
                    let m = fi[1..].iter().fold(fi[0], |m, &v| if v > m { v } else { m });
                    let z = fi.iter().fold(T::default(), |s, &v| s + (v - m).exp());
                    let mut pr = T::default();
                    for j in 0..k {
                        pr += (fi[j] - m).exp() / z * ri[j];
                    }
                    for j in 0..k {
                        oi[j] = q * ((fi[j] - m).exp() / z) * (ri[j] - pr);
                    }
                }
                Loss::StableMaxCe => {
                    let (mut ssum, mut sr) = (T::default(), T::default());
                    for j in 0..k {
                        let (s, d1, _, _) = stablemax_parts(fi[j]);
                        ssum += s;
                        sr += s * d1 * ri[j];
                    }
                    sr = sr / ssum;
                    for j in 0..k {
                        let (s, d1, d2, _) = stablemax_parts(fi[j]);
                        oi[j] = q * (s * d2 * ri[j] - s * d1 * sr) / ssum - yi[j] * (d2 - d1 * d1) * ri[j];
                    }
                }
            }
        }
        Ok(())
    }
    fn outer_rows<T: Real>(
        &self,
        out: &mut Vec<T>,
        off: usize,
        ld: usize,
        g: &Vec<T>,
        a: &Vec<T>,
        n: usize,
        ho: usize,
        hi: usize,
    ) -> GpuResult<()> {
        for i in 0..n {
            for j in 0..ho {
                for c in 0..hi {
                    out[off + i * ld + j * hi + c] = g[i * ho + j] * a[i * hi + c];
                }
            }
        }
        Ok(())
    }
    fn copy_rows<T: Real>(
        &self,
        out: &mut Vec<T>,
        off: usize,
        ld: usize,
        g: &Vec<T>,
        n: usize,
        h: usize,
    ) -> GpuResult<()> {
        for t in 0..n * h {
            out[off + (t / h) * ld + t % h] = g[t];
        }
        Ok(())
    }
    fn axpby<T: Real>(
        &self,
        y: &mut Vec<T>,
        yoff: usize,
        a: T,
        x: &Vec<T>,
        xoff: usize,
        b: T,
        len: usize,
    ) -> GpuResult<()> {
        for i in 0..len {
            y[yoff + i] = a * x[xoff + i] + b * y[yoff + i];
        }
        Ok(())
    }
    fn mul<T: Real>(&self, out: &mut Vec<T>, x: &Vec<T>, y: &Vec<T>, len: usize) -> GpuResult<()> {
        for ((o, &a), &b) in out[..len].iter_mut().zip(&x[..len]).zip(&y[..len]) {
            *o = a * b;
        }
        Ok(())
    }
    fn scale<T: Real>(&self, x: &mut Vec<T>, off: usize, a: T, len: usize) -> GpuResult<()> {
        for v in &mut x[off..off + len] {
            *v *= a;
        }
        Ok(())
    }
    fn dot<T: Real>(&self, x: &Vec<T>, xoff: usize, y: Option<(&Vec<T>, usize)>, len: usize) -> GpuResult<T> {
        let mut s = T::default();
        for i in 0..len {
            s += match y {
                Some((y, yoff)) => x[xoff + i] * y[yoff + i],
                None => x[xoff + i],
            };
        }
        Ok(s)
    }
    fn rademacher<T: Real>(&self, x: &mut Vec<T>, off: usize, seed: u64, len: usize) -> GpuResult<()> {
        for i in 0..len {
            x[off + i] = T::from_f64(rademacher_sign(seed, i as u64));
        }
        Ok(())
    }
    fn copy<T: Real>(&self, dst: &mut Vec<T>, doff: usize, src: &Vec<T>, soff: usize, len: usize) -> GpuResult<()> {
        dst[doff..doff + len].copy_from_slice(&src[soff..soff + len]);
        Ok(())
    }
}
