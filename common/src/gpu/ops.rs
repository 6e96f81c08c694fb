//! The MLP's passes and the Krylov loops, written once against [`Backend`]. The passes are those
//! of [`crate::models::Mlp`] (same parameter layout, same formulas; see its module docs), with
//! every matrix row-major on the device and every product a backend GEMM.
use super::{Backend, GemmArgs, GpuError, GpuResult, Real};
use crate::linalg::krylov::Lanczos;
use crate::models::{Activation, Mlp, Targets};
use ndarray::{Array2, ArrayView1, ArrayView2};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A row-major `rows x cols` matrix at an element offset of a device buffer.
struct Rm<'a, B: Backend, T: Real> {
    buf: &'a B::Buf<T>,
    off: usize,
    rows: usize,
    cols: usize,
}

fn rm<B: Backend, T: Real>(buf: &B::Buf<T>, off: usize, rows: usize, cols: usize) -> Rm<'_, B, T> {
    Rm { buf, off, rows, cols }
}

/// Row-major `C (m x n, at coff) = op(A) op(B) + beta C` through the backend's column-major GEMM:
/// a row-major matrix is its transpose column-major, so `C^T = op(B)^T op(A)^T` with the operands
/// swapped and each leading dimension the stored matrix's column count.
#[allow(clippy::too_many_arguments)]
fn mm<B: Backend, T: Real>(
    be: &B,
    c: &mut B::Buf<T>,
    coff: usize,
    (m, n): (usize, usize),
    a: Rm<'_, B, T>,
    ta: bool,
    b: Rm<'_, B, T>,
    tb: bool,
    beta: f64,
) -> GpuResult<()> {
    let (am, k) = if ta { (a.cols, a.rows) } else { (a.rows, a.cols) };
    let (bk, bn) = if tb { (b.cols, b.rows) } else { (b.rows, b.cols) };
    assert!(am == m && bn == n && bk == k, "mm: shapes ({am}x{k}) ({bk}x{bn}) -> ({m}x{n})");
    let g = GemmArgs {
        ta: tb,
        tb: ta,
        m: n,
        n: m,
        k,
        alpha: T::from_f64(1.0),
        aoff: b.off,
        lda: b.cols.max(1),
        boff: a.off,
        ldb: a.cols.max(1),
        beta: T::from_f64(beta),
        coff,
        ldc: n.max(1),
    };
    be.gemm(&g, b.buf, a.buf, c)
}

/// Forward tape: `z[l]` pre-activations (`z[L-1]` = outputs), `a[l] = σ(z[l])` for hidden layers
/// (empty for `Linear`).
pub struct Tape<B: Backend, T: Real> {
    z: Vec<B::Buf<T>>,
    a: Vec<B::Buf<T>>,
}

/// An [`Mlp`] with its data resident on a backend: inputs `n x d` and dense per-row target
/// weights `n x k` (class labels become one-hot rows, as the CPU losses read them).
pub struct DevMlp<'b, B: Backend, T: Real> {
    /// The backend holding the data.
    pub be: &'b B,
    /// The network (sizes, activation, bias, loss); its parameter layout is the device layout.
    pub spec: Mlp,
    x: B::Buf<T>,
    y: B::Buf<T>,
    n: usize,
    /// Gradient / HVP / GNVP evaluations, like [`crate::models::Problem`]'s counters.
    pub grads: AtomicUsize,
    /// HVP and GNVP evaluations (one per [`DevMlp::hvp`] or [`DevMlp::gnvp`]).
    pub hvps: AtomicUsize,
}

impl<'b, B: Backend, T: Real> DevMlp<'b, B, T> {
    /// Upload `x` (converted to `T`) and the targets.
    pub fn new(be: &'b B, spec: &Mlp, x: ArrayView2<f64>, y: &Targets) -> GpuResult<Self> {
        let (n, d) = x.dim();
        let k = *spec.sizes.last().expect("sizes");
        if d != spec.sizes[0] {
            return Err(GpuError::Unsupported(format!("input has {d} features, the model expects {}", spec.sizes[0])));
        }
        let dense: Array2<f64> = match y {
            Targets::Classes(c) => {
                let mut m = Array2::zeros((c.len(), k));
                for (i, &ci) in c.iter().enumerate() {
                    if ci >= k {
                        return Err(GpuError::Unsupported(format!("class {ci} >= {k} outputs")));
                    }
                    m[[i, ci]] = 1.0;
                }
                m
            }
            Targets::Regression(m) => m.clone(),
        };
        if dense.dim() != (n, k) {
            return Err(GpuError::Unsupported(format!("targets are {:?}, expected ({n}, {k})", dense.dim())));
        }
        let conv = |a: &Array2<f64>| a.iter().map(|&v| T::from_f64(v)).collect::<Vec<T>>();
        let xs = x.as_standard_layout().to_owned();
        Ok(DevMlp {
            be,
            spec: spec.clone(),
            x: be.upload(&conv(&xs))?,
            y: be.upload(&conv(&dense))?,
            n,
            grads: AtomicUsize::new(0),
            hvps: AtomicUsize::new(0),
        })
    }

    /// Length `p` of the flat parameter vector.
    pub fn num_params(&self) -> usize {
        crate::models::Model::num_params(&self.spec)
    }
    /// Number of samples `n` in the resident batch.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Upload a host parameter (or direction) vector.
    pub fn upload_params(&self, w: ArrayView1<f64>) -> GpuResult<B::Buf<T>> {
        assert_eq!(w.len(), self.num_params(), "DevMlp: parameter vector has the wrong length");
        self.be.upload(&w.iter().map(|&v| T::from_f64(v)).collect::<Vec<T>>())
    }

    /// Download a device vector as f64.
    pub fn download(&self, b: &B::Buf<T>) -> GpuResult<Vec<f64>> {
        Ok(self.be.download(b)?.into_iter().map(T::to_f64).collect())
    }

    fn dims(&self, l: usize) -> (usize, usize, usize, Option<usize>) {
        let (off, _) = self.spec.layer_offset(l);
        let (inn, out) = (self.spec.sizes[l], self.spec.sizes[l + 1]);
        (off, inn, out, self.spec.bias.then_some(off + out * inn))
    }

    fn hidden_act(&self) -> bool {
        self.spec.act != Activation::Linear
    }

    /// Input of layer `l` on a tape (the data for `l = 0`).
    fn input<'t>(&'t self, tape: &'t Tape<B, T>, l: usize) -> Rm<'t, B, T> {
        let inn = self.spec.sizes[l];
        if l == 0 {
            rm::<B, T>(&self.x, 0, self.n, inn)
        } else if self.hidden_act() {
            rm::<B, T>(&tape.a[l - 1], 0, self.n, inn)
        } else {
            rm::<B, T>(&tape.z[l - 1], 0, self.n, inn)
        }
    }

    /// Like [`Self::input`] for the R-tape, whose layer-0 input is zero (the data is constant).
    fn r_input<'t>(&'t self, rt: &'t Tape<B, T>, l: usize) -> Rm<'t, B, T> {
        debug_assert!(l > 0);
        let inn = self.spec.sizes[l];
        if self.hidden_act() {
            rm::<B, T>(&rt.a[l - 1], 0, self.n, inn)
        } else {
            rm::<B, T>(&rt.z[l - 1], 0, self.n, inn)
        }
    }

    fn forward_tape(&self, w: &B::Buf<T>) -> GpuResult<Tape<B, T>> {
        let be = self.be;
        let big_l = self.spec.num_layers();
        let mut tape = Tape { z: Vec::with_capacity(big_l), a: Vec::with_capacity(big_l) };
        for l in 0..big_l {
            let (off, inn, out, boff) = self.dims(l);
            let mut z = be.zeros::<T>(self.n * out)?;
            if let Some(o) = boff {
                be.fill_bias(&mut z, w, o, self.n, out)?;
            }
            mm(be, &mut z, 0, (self.n, out), self.input(&tape, l), false, rm::<B, T>(w, off, out, inn), true, 1.0)?;
            if l + 1 < big_l && self.hidden_act() {
                let mut a = be.zeros::<T>(self.n * out)?;
                be.act_fwd(self.spec.act, &z, &mut a)?;
                tape.a.push(a);
            }
            tape.z.push(z);
        }
        Ok(tape)
    }

    /// Network outputs `n x k`, row-major.
    pub fn forward(&self, w: &B::Buf<T>) -> GpuResult<B::Buf<T>> {
        let mut tape = self.forward_tape(w)?;
        Ok(tape.z.pop().expect("at least one layer"))
    }

    /// Mean loss and output gradient divided by `n`.
    fn loss_and_output_grad(&self, f: &B::Buf<T>, scale: bool) -> GpuResult<(f64, B::Buf<T>)> {
        let k = crate::models::Model::num_outputs(&self.spec);
        let mut g = self.be.zeros::<T>(self.n * k)?;
        let mut rows = self.be.zeros::<T>(self.n)?;
        self.be.loss_grad(self.spec.loss, f, &self.y, self.n, k, &mut g, &mut rows)?;
        let total = self.be.dot(&rows, 0, None, self.n)?.to_f64();
        if scale {
            self.be.scale(&mut g, 0, T::from_f64(1.0 / self.n as f64), self.n * k)?;
        }
        Ok((total / self.n.max(1) as f64, g))
    }

    /// Backward pass from the output gradient `g`: writes the parameter gradient into `grad` (if
    /// given) and, with `keep`, returns every layer's output gradient (index `l`).
    fn backward(
        &self,
        w: &B::Buf<T>,
        tape: &Tape<B, T>,
        g_out: B::Buf<T>,
        mut grad: Option<&mut B::Buf<T>>,
        keep: bool,
    ) -> GpuResult<Vec<B::Buf<T>>> {
        let be = self.be;
        let mut kept = Vec::new();
        let mut g = g_out;
        for l in (0..self.spec.num_layers()).rev() {
            let (off, inn, out, boff) = self.dims(l);
            if let Some(grad) = grad.as_deref_mut() {
                mm(be, grad, off, (out, inn), rm::<B, T>(&g, 0, self.n, out), true, self.input(tape, l), false, 0.0)?;
                if let Some(bo) = boff {
                    be.col_sum(grad, bo, &g, self.n, out)?;
                }
            }
            let next = if l > 0 {
                let mut da = be.zeros::<T>(self.n * inn)?;
                mm(
                    be,
                    &mut da,
                    0,
                    (self.n, inn),
                    rm::<B, T>(&g, 0, self.n, out),
                    false,
                    rm::<B, T>(w, off, out, inn),
                    false,
                    0.0,
                )?;
                if self.hidden_act() {
                    be.mul_d1(self.spec.act, &mut da, &tape.z[l - 1], &tape.a[l - 1])?;
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
        Ok(kept)
    }

    fn r_forward(&self, w: &B::Buf<T>, v: &B::Buf<T>, tape: &Tape<B, T>) -> GpuResult<Tape<B, T>> {
        let be = self.be;
        let big_l = self.spec.num_layers();
        let mut rt = Tape { z: Vec::with_capacity(big_l), a: Vec::with_capacity(big_l) };
        for l in 0..big_l {
            let (off, inn, out, boff) = self.dims(l);
            let mut rz = be.zeros::<T>(self.n * out)?;
            if let Some(o) = boff {
                be.fill_bias(&mut rz, v, o, self.n, out)?;
            }
            mm(be, &mut rz, 0, (self.n, out), self.input(tape, l), false, rm::<B, T>(v, off, out, inn), true, 1.0)?;
            if l > 0 {
                mm(
                    be,
                    &mut rz,
                    0,
                    (self.n, out),
                    self.r_input(&rt, l),
                    false,
                    rm::<B, T>(w, off, out, inn),
                    true,
                    1.0,
                )?;
            }
            if l + 1 < big_l && self.hidden_act() {
                let mut ra = be.zeros::<T>(self.n * out)?;
                be.r_act(self.spec.act, &mut ra, &rz, &tape.z[l], &tape.a[l])?;
                rt.a.push(ra);
            }
            rt.z.push(rz);
        }
        Ok(rt)
    }

    /// R-backward: the exact HVP with `g = Some(output gradient)`, the Gauss-Newton product with
    /// `None`; written into `out`.
    #[allow(clippy::too_many_arguments)]
    fn r_backward(
        &self,
        w: &B::Buf<T>,
        v: &B::Buf<T>,
        tape: &Tape<B, T>,
        rt: &Tape<B, T>,
        g_out: Option<B::Buf<T>>,
        rg_out: B::Buf<T>,
        out: &mut B::Buf<T>,
    ) -> GpuResult<()> {
        let be = self.be;
        let act = self.spec.act;
        let n = self.n;
        let mut g = g_out;
        let mut rg = rg_out;
        for l in (0..self.spec.num_layers()).rev() {
            let (off, inn, od, boff) = self.dims(l);
            mm(be, out, off, (od, inn), rm::<B, T>(&rg, 0, n, od), true, self.input(tape, l), false, 0.0)?;
            if l > 0
                && let Some(g) = &g
            {
                mm(be, out, off, (od, inn), rm::<B, T>(g, 0, n, od), true, self.r_input(rt, l), false, 1.0)?;
            }
            if let Some(bo) = boff {
                be.col_sum(out, bo, &rg, n, od)?;
            }
            if l == 0 {
                break;
            }
            let mut rda = be.zeros::<T>(n * inn)?;
            mm(be, &mut rda, 0, (n, inn), rm::<B, T>(&rg, 0, n, od), false, rm::<B, T>(w, off, od, inn), false, 0.0)?;
            match g.take() {
                Some(gc) => {
                    mm(
                        be,
                        &mut rda,
                        0,
                        (n, inn),
                        rm::<B, T>(&gc, 0, n, od),
                        false,
                        rm::<B, T>(v, off, od, inn),
                        false,
                        1.0,
                    )?;
                    let mut da = be.zeros::<T>(n * inn)?;
                    mm(
                        be,
                        &mut da,
                        0,
                        (n, inn),
                        rm::<B, T>(&gc, 0, n, od),
                        false,
                        rm::<B, T>(w, off, od, inn),
                        false,
                        0.0,
                    )?;
                    if self.hidden_act() {
                        be.r_bwd(act, &mut rda, &mut da, &tape.z[l - 1], &tape.a[l - 1], &rt.z[l - 1])?;
                    }
                    g = Some(da);
                }
                None => {
                    if self.hidden_act() {
                        be.mul_d1(act, &mut rda, &tape.z[l - 1], &tape.a[l - 1])?;
                    }
                }
            }
            rg = rda;
        }
        Ok(())
    }

    /// Mean loss and its gradient (into a new device vector).
    pub fn loss_grad(&self, w: &B::Buf<T>) -> GpuResult<(f64, B::Buf<T>)> {
        self.grads.fetch_add(1, Ordering::Relaxed);
        let tape = self.forward_tape(w)?;
        let (l, g) = self.loss_and_output_grad(tape.z.last().expect("layers"), true)?;
        let mut grad = self.be.zeros::<T>(self.num_params())?;
        self.backward(w, &tape, g, Some(&mut grad), false)?;
        Ok((l, grad))
    }

    /// Mean loss alone.
    pub fn loss(&self, w: &B::Buf<T>) -> GpuResult<f64> {
        let tape = self.forward_tape(w)?;
        Ok(self.loss_and_output_grad(tape.z.last().expect("layers"), false)?.0)
    }

    fn r_pass(&self, w: &B::Buf<T>, v: &B::Buf<T>, out: &mut B::Buf<T>, exact: bool) -> GpuResult<()> {
        self.hvps.fetch_add(1, Ordering::Relaxed);
        let k = crate::models::Model::num_outputs(&self.spec);
        let tape = self.forward_tape(w)?;
        let f = tape.z.last().expect("layers");
        let (_, g) = self.loss_and_output_grad(f, true)?;
        let rt = self.r_forward(w, v, &tape)?;
        let mut rg = self.be.zeros::<T>(self.n * k)?;
        self.be.loss_hvp(self.spec.loss, f, &self.y, rt.z.last().expect("layers"), self.n, k, &mut rg)?;
        self.be.scale(&mut rg, 0, T::from_f64(1.0 / self.n as f64), self.n * k)?;
        self.r_backward(w, v, &tape, &rt, exact.then_some(g), rg, out)
    }

    /// Exact Hessian-vector product of the mean loss, `out = H(w) v` (forward-over-reverse).
    pub fn hvp(&self, w: &B::Buf<T>, v: &B::Buf<T>, out: &mut B::Buf<T>) -> GpuResult<()> {
        self.r_pass(w, v, out, true)
    }

    /// Gauss-Newton-vector product `out = J^T H_loss J v / n`.
    pub fn gnvp(&self, w: &B::Buf<T>, v: &B::Buf<T>, out: &mut B::Buf<T>) -> GpuResult<()> {
        self.r_pass(w, v, out, false)
    }

    /// Per-sample gradients, `n x p` row-major (row `i` = gradient of sample `i`'s loss).
    pub fn per_sample_grads(&self, w: &B::Buf<T>) -> GpuResult<B::Buf<T>> {
        let be = self.be;
        let p = self.num_params();
        let tape = self.forward_tape(w)?;
        let (_, g) = self.loss_and_output_grad(tape.z.last().expect("layers"), false)?;
        let gs = self.backward(w, &tape, g, None, true)?;
        let mut out = be.zeros::<T>(self.n * p)?;
        for (l, gl) in gs.iter().enumerate() {
            let (off, inn, od, boff) = self.dims(l);
            let input = self.input(&tape, l);
            be.outer_rows(&mut out, off, p, gl, input.buf, self.n, od, inn)?;
            if let Some(bo) = boff {
                be.copy_rows(&mut out, bo, p, gl, self.n, od)?;
            }
        }
        Ok(out)
    }
}

impl<'b, B: Backend, T: Real> DevMlp<'b, B, T> {
    /// `out[i] = Σ_j x[i, j] y[i, j]` for row-major `n x h` matrices: one elementwise product and
    /// one GEMM against a ones vector (at least `h` long), on the device; the `n` values come back.
    fn row_dots(&self, x: &B::Buf<T>, y: &B::Buf<T>, h: usize, ones: &B::Buf<T>) -> GpuResult<Vec<f64>> {
        let (be, n) = (self.be, self.n);
        let mut prod = be.zeros::<T>(n * h)?;
        be.mul(&mut prod, x, y, n * h)?;
        let mut out = be.zeros::<T>(n)?;
        mm(be, &mut out, 0, (n, 1), rm::<B, T>(&prod, 0, n, h), false, rm::<B, T>(ones, 0, h, 1), false, 0.0)?;
        let mut v = self.download(&out)?;
        v.truncate(n);
        Ok(v)
    }

    /// The per-sample gradient statistics of the resident batch at `w`
    /// ([`crate::models::per_sample::GradStats`]), computed like the CPU's
    /// [`crate::models::per_sample::mlp_grad_stats`] from the layers' output gradients `Δ_l` and
    /// inputs `A_l`, never the `n x p` matrix: `ḡ_l = Δ_lᵀA_l/n` (GEMM), `‖δ_i‖²` and `‖a_i‖²`
    /// (row dots), `⟨g_i, ḡ⟩ = Σ_l δ_iᵀ(Ḡ_l a_i + b̄_l)` (one GEMM and a row dot per layer) and,
    /// with `coords`, `Σ_i g_ij² = (Δ_l∘Δ_l)ᵀ(A_l∘A_l)` (one GEMM). Device memory is
    /// `O(n · Σ_l h_l + p)`; what comes back is `ḡ` (`p`), the `n`-vectors of each layer's row dots
    /// (combined on the host in f64, in layer order) and the coordinate sums. Counts one gradient.
    pub fn grad_stats(&self, w: &B::Buf<T>, coords: bool) -> GpuResult<crate::models::per_sample::GradStats> {
        self.grads.fetch_add(1, Ordering::Relaxed);
        let (be, n, p) = (self.be, self.n, self.num_params());
        let tape = self.forward_tape(w)?;
        let (loss, g) = self.loss_and_output_grad(tape.z.last().expect("layers"), false)?;
        let deltas = self.backward(w, &tape, g, None, true)?;
        let inv_n = T::from_f64(if n > 0 { 1.0 / n as f64 } else { 0.0 });
        let widest = self.spec.sizes.iter().copied().max().unwrap_or(1);
        let ones = be.upload(&vec![T::from_f64(1.0); widest])?;
        let mut mean = be.zeros::<T>(p)?;
        let mut sumsq = if coords { Some(be.zeros::<T>(p)?) } else { None };
        let (mut sq_norms, mut inner) = (vec![0.0f64; n], vec![0.0f64; n]);
        let bias_one = if self.spec.bias { 1.0 } else { 0.0 };
        for (l, d) in deltas.iter().enumerate() {
            let (off, inn, out, boff) = self.dims(l);
            let a = self.input(&tape, l);
            let a_buf = a.buf;
            // ḡ_l = Δ_lᵀ A_l / n and b̄_l = Σ_i δ_i / n.
            mm(be, &mut mean, off, (out, inn), rm::<B, T>(d, 0, n, out), true, a, false, 0.0)?;
            be.scale(&mut mean, off, inv_n, out * inn)?;
            if let Some(bo) = boff {
                be.col_sum(&mut mean, bo, d, n, out)?;
                be.scale(&mut mean, bo, inv_n, out)?;
            }
            // ‖g_i‖² += ‖δ_i‖² (‖a_i‖² + 1 with a bias).
            let dd = self.row_dots(d, d, out, &ones)?;
            let aa = self.row_dots(a_buf, a_buf, inn, &ones)?;
            for i in 0..n {
                sq_norms[i] += dd[i] * (aa[i] + bias_one);
            }
            // ⟨g_i, ḡ⟩ += δ_iᵀ(Ḡ_l a_i + b̄_l).
            let mut ga = be.zeros::<T>(n * out)?;
            if let Some(bo) = boff {
                be.fill_bias(&mut ga, &mean, bo, n, out)?;
            }
            mm(
                be,
                &mut ga,
                0,
                (n, out),
                rm::<B, T>(a_buf, 0, n, inn),
                false,
                rm::<B, T>(&mean, off, out, inn),
                true,
                1.0,
            )?;
            for (acc, v) in inner.iter_mut().zip(self.row_dots(d, &ga, out, &ones)?) {
                *acc += v;
            }
            // Σ_i g_ij² per coordinate.
            if let Some(cs) = sumsq.as_mut() {
                let mut d2 = be.zeros::<T>(n * out)?;
                be.mul(&mut d2, d, d, n * out)?;
                let mut a2 = be.zeros::<T>(n * inn)?;
                be.mul(&mut a2, a_buf, a_buf, n * inn)?;
                mm(be, cs, off, (out, inn), rm::<B, T>(&d2, 0, n, out), true, rm::<B, T>(&a2, 0, n, inn), false, 0.0)?;
                if let Some(bo) = boff {
                    be.col_sum(cs, bo, &d2, n, out)?;
                }
            }
        }
        let take = |b: &B::Buf<T>| -> GpuResult<ndarray::Array1<f64>> {
            let mut v = self.download(b)?;
            v.truncate(p);
            Ok(ndarray::Array1::from(v))
        };
        Ok(crate::models::per_sample::GradStats {
            n,
            loss,
            mean: take(&mean)?,
            sq_norms: ndarray::Array1::from(sq_norms),
            inner: ndarray::Array1::from(inner),
            coord_sumsq: sumsq.as_ref().map(take).transpose()?,
        })
    }
}

/// A symmetric operator on device vectors (`out = A v`).
pub trait DevLinOp<B: Backend, T: Real> {
    /// The dimension of the space the operator acts on.
    fn dim(&self) -> usize;
    /// `out = A v`, both device vectors of length `dim`.
    fn apply(&self, v: &B::Buf<T>, out: &mut B::Buf<T>) -> GpuResult<()>;
}

/// The loss Hessian (or its Gauss-Newton part) of a [`DevMlp`] at fixed device parameters.
pub struct DevHessian<'m, 'b, B: Backend, T: Real> {
    /// The network and its resident batch.
    pub mlp: &'m DevMlp<'b, B, T>,
    /// The parameters the curvature is taken at (on the device).
    pub w: B::Buf<T>,
    /// Apply the Gauss-Newton matrix instead of the exact Hessian.
    pub gauss_newton: bool,
}

impl<'m, 'b, B: Backend, T: Real> DevHessian<'m, 'b, B, T> {
    /// The curvature of `mlp` at the host parameters `w` (uploaded once).
    pub fn new(mlp: &'m DevMlp<'b, B, T>, w: ArrayView1<f64>, gauss_newton: bool) -> GpuResult<Self> {
        Ok(DevHessian { mlp, w: mlp.upload_params(w)?, gauss_newton })
    }
}

impl<B: Backend, T: Real> DevLinOp<B, T> for DevHessian<'_, '_, B, T> {
    fn dim(&self) -> usize {
        self.mlp.num_params()
    }
    fn apply(&self, v: &B::Buf<T>, out: &mut B::Buf<T>) -> GpuResult<()> {
        if self.gauss_newton { self.mlp.gnvp(&self.w, v, out) } else { self.mlp.hvp(&self.w, v, out) }
    }
}

/// `m` Lanczos steps from `v0` with full re-orthogonalization (classical Gram-Schmidt, twice, as
/// two GEMVs against the basis), all vectors on the device: only `alpha_j`, `beta_j` come back.
/// The same recurrence as [`crate::linalg::lanczos`] (stops early on an invariant subspace), so
/// the two agree step for step from the same start vector. With `keep_basis` the basis is
/// downloaded into the result (`p x k`); otherwise `basis` is empty (`p x 0`).
pub fn lanczos<B: Backend, T: Real, O: DevLinOp<B, T>>(
    be: &B,
    op: &O,
    m: usize,
    v0: ArrayView1<f64>,
    keep_basis: bool,
) -> GpuResult<Lanczos> {
    let p = op.dim();
    assert_eq!(v0.len(), p, "lanczos: start vector length");
    let m = m.min(p);
    let nrm = v0.dot(&v0).sqrt();
    assert!(nrm > 0.0, "lanczos: zero start vector");
    let mut basis = be.zeros::<T>(m * p)?;
    let mut q = be.upload(&v0.iter().map(|&x| T::from_f64(x / nrm)).collect::<Vec<T>>())?;
    be.copy(&mut basis, 0, &q, 0, p)?;
    let mut w = be.zeros::<T>(p)?;
    let mut h = be.zeros::<T>(m + 1)?;
    let (mut alpha, mut beta): (Vec<f64>, Vec<f64>) = (Vec::with_capacity(m), Vec::with_capacity(m));
    let one = T::from_f64(1.0);
    let mut scale = 0.0f64; // running estimate of |A|, for the breakdown test
    for j in 0..m {
        op.apply(&q, &mut w)?;
        let a = be.dot(&w, 0, Some((&q, 0)), p)?.to_f64();
        be.axpby(&mut w, 0, T::from_f64(-a), &q, 0, one, p)?;
        if j > 0 {
            be.axpby(&mut w, 0, T::from_f64(-beta[j - 1]), &basis, (j - 1) * p, one, p)?;
        }
        for _ in 0..2 {
            // h = V_{:, 0..=j}^T w ; w -= V_{:, 0..=j} h
            let k = j + 1;
            let g1 = GemmArgs {
                ta: true,
                tb: false,
                m: k,
                n: 1,
                k: p,
                alpha: one,
                aoff: 0,
                lda: p,
                boff: 0,
                ldb: p,
                beta: T::default(),
                coff: 0,
                ldc: k,
            };
            be.gemm(&g1, &basis, &w, &mut h)?;
            let g2 = GemmArgs {
                ta: false,
                tb: false,
                m: p,
                n: 1,
                k,
                alpha: -one,
                aoff: 0,
                lda: p,
                boff: 0,
                ldb: k,
                beta: one,
                coff: 0,
                ldc: p,
            };
            be.gemm(&g2, &basis, &h, &mut w)?;
        }
        alpha.push(a);
        let b = be.dot(&w, 0, Some((&w, 0)), p)?.to_f64().sqrt();
        scale = scale.max(a.abs()).max(b);
        // Stop at the last step, on an invariant subspace, or on a non-finite norm.
        if j + 1 == m || b.is_nan() || b <= 1e-10 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        beta.push(b);
        be.scale(&mut w, 0, T::from_f64(1.0 / b), p)?;
        be.copy(&mut basis, (j + 1) * p, &w, 0, p)?;
        be.copy(&mut q, 0, &w, 0, p)?;
    }
    let k = alpha.len();
    let basis = if keep_basis {
        let host = be.download(&basis)?;
        Array2::from_shape_fn((p, k), |(i, j)| host[j * p + i].to_f64())
    } else {
        Array2::zeros((p, 0))
    };
    Ok(Lanczos { alpha, beta, basis })
}

/// Hutchinson's estimator with device Rademacher probes (probe `i` from seed `seed + i`, the same
/// signs on every backend): the samples `z_i^T A z_i`; only these scalars come back.
pub fn hutchinson<B: Backend, T: Real, O: DevLinOp<B, T>>(
    be: &B,
    op: &O,
    probes: usize,
    seed: u64,
) -> GpuResult<Vec<f64>> {
    let p = op.dim();
    let mut z = be.zeros::<T>(p)?;
    let mut az = be.zeros::<T>(p)?;
    (0..probes)
        .map(|i| {
            be.rademacher(&mut z, 0, seed.wrapping_add(i as u64), p)?;
            op.apply(&z, &mut az)?;
            Ok(be.dot(&z, 0, Some((&az, 0)), p)?.to_f64())
        })
        .collect()
}
