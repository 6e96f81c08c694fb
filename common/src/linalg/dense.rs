//! Dense factorizations through faer (not hand-written), on ndarray inputs.
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};

/// Borrow an ndarray view as a faer view (no copy; any strides, including transposed views).
pub fn faer_ref<'a>(a: &ArrayView2<'a, f64>) -> MatRef<'a, f64> {
    let s = a.strides();
    // SAFETY: the pointer, shape and element strides describe exactly the memory `a` borrows for
    // `'a`; faer reads it through the same strides.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), a.nrows(), a.ncols(), s[0], s[1]) }
}

/// Borrow a mutable ndarray view as a faer view (no copy).
pub fn faer_mut<'a>(a: &'a mut ArrayViewMut2<'_, f64>) -> MatMut<'a, f64> {
    let (m, n) = a.dim();
    let s = a.strides();
    let (rs, cs) = (s[0], s[1]);
    // SAFETY: as in `faer_ref`, and the `&mut` borrow makes the view unique for `'a`.
    unsafe { MatMut::from_raw_parts_mut(a.as_mut_ptr(), m, n, rs, cs) }
}

thread_local! {
    static SEQUENTIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` with this thread's dense kernels sequential (GEMMs at `Par::Seq`, elementwise loops
/// serial): for callers that already split the work across the rayon pool themselves.
pub fn sequential<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SEQUENTIAL.set(self.0);
        }
    }
    let _restore = Restore(SEQUENTIAL.replace(true));
    f()
}

/// Whether this thread is inside [`sequential`].
pub fn is_sequential() -> bool {
    SEQUENTIAL.get()
}

/// The parallelism of an `m x k x n` product on this thread: the current rayon pool from 2^18
/// multiply-adds on, except for matrix-vector shapes, so that the numbers never depend on the
/// thread count. faer's parallel GEMM only splits the output into tiles (every entry's sum over
/// `k` runs in the same order whatever the thread count; `linalg::tests` checks it bitwise), but
/// its matrix-vector kernel for a column-major matrix (`1 x k x n`, or `m x k x 1` with a
/// column-major `a`) cuts `k` into one slice per thread and adds the partial sums, so one output
/// row or column runs sequentially (memory-bound anyway).
fn par_for(m: usize, k: usize, n: usize) -> Par {
    if m > 1 && n > 1 && m * k * n >= 1 << 18 && !is_sequential() { Par::rayon(0) } else { Par::Seq }
}

/// Clear the upper halves of the AVX registers after a faer kernel: legacy-SSE code that runs
/// next on the same thread (glibc's `exp`, behind `f64::exp`) is otherwise many times slower
/// (measured: `exp` went from 1% to 13% of a sequential tanh-MLP HVP).
#[inline]
fn zero_upper() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn zu() {
            std::arch::x86_64::_mm256_zeroupper();
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked above).
            unsafe { zu() }
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Largest scratch buffer (in f64) that a thread keeps between calls (8 MiB): a larger copy is
/// allocated for its call and freed after it, so a one-off huge product (say `X^T X` over a full
/// data set) does not pin its operand's size on every thread for the life of the process.
const SCRATCH_KEEP: usize = 1 << 20;

/// Block edge of [`matmul`]'s transpose copy (16 x 16 f64 = 2 KiB per block; measured best of
/// 4, 8, 16, 32 on 225 x 256).
const TRANSPOSE_BLOCK: usize = 16;

/// `dst (=|+=) a b` through faer. Into a row-major `dst` (every output here), faer runs a
/// column-major `a` (unit stride down its columns, as the transpose of a row-major batch matrix
/// in a weight gradient `G^T A`) far slower than a row-major one once the product is wide.
/// Measured in GFLOP/s, column-major `a` vs the same product after copying `a` row-major:
///
/// | m x k x n | column-major `a` | copied row-major |
/// |---|---|---|
/// | 256 x 225 x 256, one core | 33 | 45 |
/// | 2048 x 1000 x 2048, one core | 19 | 42 |
/// | 1024 x 1024 x 1024, 2 threads (`benches/gemm.rs`) | 54-57 | 67-79 |
/// | 256 x 225 x 10, one core | 35 | 21 |
///
/// So for `m, n >= 128` and a row-major `dst` such an `a` is first copied row-major, by a
/// blocked transpose, into this thread's scratch buffer, which is reused across calls (no
/// allocation in steady state; buffers up to [`SCRATCH_KEEP`] are kept). The buffer is taken
/// out of its slot while in use, so a re-entrant call (rayon work-stealing inside a parallel
/// faer kernel) finds an empty one and allocates its own. In the MLP passes this is worth 1-2% of a digits HVP (the products are
/// small) and 8-10% of a gradient or HVP of a 784-2048-2048-10 MLP.
fn matmul(dst: MatMut<'_, f64>, accum: Accum, a: &ArrayView2<f64>, b: &ArrayView2<f64>, par: Par) {
    let (m, k) = a.dim();
    let n = b.ncols();
    if a.strides()[0] == 1 && k > 1 && m >= 128 && n >= 128 && dst.col_stride() == 1 {
        let mut buf = SCRATCH.take();
        if buf.len() < m * k {
            buf.resize(m * k, 0.0);
        }
        let rows = &mut buf[..m * k];
        let (src, cs) = (a.as_ptr(), a.strides()[1]);
        for jb in (0..k).step_by(TRANSPOSE_BLOCK) {
            let je = (jb + TRANSPOSE_BLOCK).min(k);
            for ib in (0..m).step_by(TRANSPOSE_BLOCK) {
                for i in ib..(ib + TRANSPOSE_BLOCK).min(m) {
                    let row = &mut rows[i * k + jb..i * k + je];
                    for (j, r) in (jb..je).zip(row) {
                        // SAFETY: i < m and j < k, and `a[[i, j]]` lives at offset
                        // `i * 1 + j * cs` from `a.as_ptr()` (row stride 1, checked above).
                        *r = unsafe { *src.offset(i as isize + j as isize * cs) };
                    }
                }
            }
        }
        let a_rows = ArrayView2::from_shape((m, k), &*rows).expect("scratch holds m x k");
        faer::linalg::matmul::matmul(dst, accum, faer_ref(&a_rows), faer_ref(b), 1.0, par);
        if buf.capacity() <= SCRATCH_KEEP {
            SCRATCH.set(buf);
        }
    } else {
        faer::linalg::matmul::matmul(dst, accum, faer_ref(a), faer_ref(b), 1.0, par);
    }
    zero_upper();
}

/// `a b` into a new array, without zero-filling it first (faer overwrites every entry).
pub fn gemm_new(a: &ArrayView2<f64>, b: &ArrayView2<f64>) -> Array2<f64> {
    assert_eq!(a.ncols(), b.nrows(), "gemm_new: shape mismatch");
    let (m, n) = (a.nrows(), b.ncols());
    let mut c = Array2::<f64>::uninit((m, n));
    let par = par_for(m, a.ncols(), n);
    // SAFETY: `c` is a fresh standard-layout m x n allocation; faer writes all of it with
    // `Accum::Replace` and never reads it, so every element is initialized afterwards.
    unsafe {
        let dst = MatMut::from_raw_parts_mut(c.as_mut_ptr() as *mut f64, m, n, n as isize, 1);
        if a.ncols() == 0 {
            std::ptr::write_bytes(c.as_mut_ptr(), 0, m * n);
        } else {
            matmul(dst, Accum::Replace, a, b, par);
        }
        c.assume_init()
    }
}

/// `c = a b + beta c` with `beta` 0 or 1: faer's GEMM on the current rayon pool for large
/// products (faster than matrixmultiply on the MLP's shapes, see `benches/gemm.rs`), sequential
/// below 2^18 multiply-adds and for one output row or column (see [`par_for`]).
pub fn gemm(a: &ArrayView2<f64>, b: &ArrayView2<f64>, beta: f64, c: &mut ArrayViewMut2<f64>) {
    assert!(beta == 0.0 || beta == 1.0, "gemm: beta must be 0 or 1");
    assert!(a.ncols() == b.nrows() && c.dim() == (a.nrows(), b.ncols()), "gemm: shape mismatch");
    let accum = if beta == 0.0 { Accum::Replace } else { Accum::Add };
    let par = par_for(a.nrows(), a.ncols(), b.ncols());
    matmul(faer_mut(c), accum, a, b, par);
}

/// ndarray -> faer (copy).
pub fn to_faer(a: ArrayView2<f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

/// faer -> ndarray (copy).
pub fn from_faer(m: faer::MatRef<f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// The parallelism of the factorizations below: sequential, never the pool size. faer's
/// factorizations (and its default, `get_global_parallelism()` = `Par::rayon(0)`) split their
/// work by the thread count in ways that change the rounding (the QR of a 100 x 100 matrix, the
/// eigenvectors of a 100 x 100 one and the singular values of a 300 x 300 one came out different
/// in the last bits on 1 and 3 threads), and on 2 cores the parallel versions are no faster
/// (measured at n = 100..2000: parallel QR 3x slower than sequential at n = 100-300, eigh and
/// SVD equal within noise). Sequential gives the numbers the old default gave on one thread.
const FACTOR_PAR: Par = Par::Seq;

/// Thin QR: `a = q r` with `q` (m x k) orthonormal columns and `r` (k x n) upper triangular,
/// k = min(m, n).
pub fn qr(a: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    use faer::linalg::{householder, qr::no_pivoting::factor};
    let (m, n) = a.dim();
    let k = m.min(n);
    let mut f = to_faer(a.view());
    let block = factor::recommended_block_size::<f64>(m, n);
    let mut coeff = Mat::<f64>::zeros(block, k);
    let scratch = factor::qr_in_place_scratch::<f64>(m, n, block, FACTOR_PAR, Default::default());
    factor::qr_in_place(
        f.as_mut(),
        coeff.as_mut(),
        FACTOR_PAR,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    );
    // The Householder vectors: unit lower trapezoidal (m x k) below R.
    let basis = Mat::<f64>::from_fn(m, k, |i, j| match i.cmp(&j) {
        std::cmp::Ordering::Greater => f[(i, j)],
        std::cmp::Ordering::Equal => 1.0,
        std::cmp::Ordering::Less => 0.0,
    });
    let mut q = Mat::<f64>::identity(m, k);
    let scratch = householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(m, block, k);
    householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
        basis.as_ref(),
        coeff.as_ref(),
        Conj::No,
        q.as_mut(),
        FACTOR_PAR,
        MemStack::new(&mut MemBuffer::new(scratch)),
    );
    let r = Array2::from_shape_fn((k, n), |(i, j)| if j >= i { f[(i, j)] } else { 0.0 });
    (from_faer(q.as_ref()), r)
}

/// Eigenvalues (ascending) and, if asked, eigenvectors (columns) of a symmetric matrix, reading
/// its lower triangle.
fn self_adjoint_evd(a: &Array2<f64>, vectors: bool) -> (Array1<f64>, Option<Array2<f64>>) {
    use faer::linalg::evd::{self, ComputeEigenvectors};
    let n = a.nrows();
    assert_eq!(n, a.ncols(), "eigh: the matrix must be square");
    if !a.iter().all(|x| x.is_finite()) {
        // A diverged run is a result, not a crash: NaN in, NaN out (faer is not asked).
        return (Array1::from_elem(n, f64::NAN), vectors.then(|| Array2::from_elem((n, n), f64::NAN)));
    }
    let mut s = Diag::<f64>::zeros(n);
    let mut u = vectors.then(|| Mat::<f64>::zeros(n, n));
    let which = if vectors { ComputeEigenvectors::Yes } else { ComputeEigenvectors::No };
    let scratch = evd::self_adjoint_evd_scratch::<f64>(n, which, FACTOR_PAR, Default::default());
    evd::self_adjoint_evd(
        to_faer(a.view()).as_ref(),
        s.as_mut(),
        u.as_mut().map(|u| u.as_mut()),
        FACTOR_PAR,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .expect("symmetric eigen-decomposition converged");
    (Array1::from_shape_fn(n, |i| s[i]), u.map(|u| from_faer(u.as_ref())))
}

/// Symmetric eigen-decomposition: eigenvalues ascending and eigenvectors as columns.
/// Only the lower triangle of `a` is read. A matrix with a non-finite entry gives NaN
/// eigenvalues and eigenvectors (as do [`eigvalsh`], [`singular_values`] and [`pinv`]).
pub fn eigh(a: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let (vals, vecs) = self_adjoint_evd(a, true);
    (vals, vecs.expect("eigenvectors were asked for"))
}

/// Eigenvalues (ascending) of a symmetric matrix.
pub fn eigvalsh(a: &Array2<f64>) -> Array1<f64> {
    self_adjoint_evd(a, false).0
}

/// Singular values, descending.
pub fn singular_values(a: &Array2<f64>) -> Array1<f64> {
    use faer::linalg::svd::{self, ComputeSvdVectors};
    let (m, n) = a.dim();
    if !a.iter().all(|x| x.is_finite()) {
        return Array1::from_elem(m.min(n), f64::NAN);
    }
    let mut s = Diag::<f64>::zeros(m.min(n));
    let no = ComputeSvdVectors::No;
    let scratch = svd::svd_scratch::<f64>(m, n, no, no, FACTOR_PAR, Default::default());
    svd::svd(
        to_faer(a.view()).as_ref(),
        s.as_mut(),
        None,
        None,
        FACTOR_PAR,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .expect("svd converged");
    Array1::from_shape_fn(m.min(n), |i| s[i])
}

/// Haar-distributed orthogonal matrix (n x n): QR of a Gaussian matrix with the signs of R's
/// diagonal folded into Q (Mezzadri 2007), so the distribution is exactly Haar.
pub fn haar_orthogonal(rng: &mut impl rand::Rng, n: usize) -> Array2<f64> {
    let g = crate::rng::gaussian_mat(rng, n, n, 1.0);
    let (q, r) = qr(&g);
    let mut q = q;
    for j in 0..n {
        if r[[j, j]] < 0.0 {
            q.column_mut(j).mapv_inplace(|x| -x);
        }
    }
    q
}

/// A numerical failure of a dense factorization, solve or low-rank update. Shape mismatches are
/// programming errors and panic, as everywhere in this module.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DenseError {
    /// Cholesky met a pivot that is not positive (or not finite): the matrix is not symmetric
    /// positive definite (or holds a NaN).
    #[error("cholesky: the {n} x {n} matrix is not positive definite (pivot {pivot} of 0..{n} is not positive)")]
    NotPositiveDefinite {
        /// Size of the matrix.
        n: usize,
        /// 0-based index of the first pivot that failed.
        pivot: usize,
    },
    /// A pivot at or below the singularity tolerance: an LU pivot, a triangular matrix's
    /// diagonal entry, or the capacitance pivot of a Sherman-Morrison / Woodbury update.
    #[error("{op}: the {n} x {n} matrix is singular to working precision (pivot {pivot}: |{value:e}| <= {tol:e})")]
    Singular {
        /// The operation that failed (`"lu"`, `"solve_triangular"`, `"woodbury"`, ...).
        op: &'static str,
        /// Size of the matrix that was factored.
        n: usize,
        /// 0-based index of the first pivot at or below the tolerance.
        pivot: usize,
        /// That pivot.
        value: f64,
        /// The tolerance it was compared with.
        tol: f64,
    },
}

fn square(a: &ArrayView2<f64>, op: &str) -> usize {
    assert_eq!(a.nrows(), a.ncols(), "{op}: the matrix must be square, got {:?}", a.dim());
    a.nrows()
}

fn stack(req: faer::dyn_stack::StackReq) -> MemBuffer {
    MemBuffer::new(req)
}

/// A column as an `n x 1` matrix, and back.
fn col(b: ArrayView1<f64>) -> ArrayView2<f64> {
    b.insert_axis(Axis(1))
}

fn uncol(x: Array2<f64>) -> Array1<f64> {
    x.index_axis_move(Axis(1), 0)
}

/// Cholesky factorization `a = l lᵀ` of a symmetric positive-definite matrix (faer, sequential).
#[derive(Clone, Debug)]
pub struct Cholesky {
    /// Lower triangular factor, zero above the diagonal.
    l: Mat<f64>,
}

impl Cholesky {
    /// Factor `a`, reading only its lower triangle. Errors with
    /// [`DenseError::NotPositiveDefinite`] (naming the first failing pivot) when `a` is not
    /// positive definite or holds a NaN.
    pub fn new(a: ArrayView2<f64>) -> Result<Self, DenseError> {
        use faer::linalg::cholesky::llt::factor::{self, LltError};
        let n = square(&a, "cholesky");
        let mut l = to_faer(a);
        let req = factor::cholesky_in_place_scratch::<f64>(n, FACTOR_PAR, Default::default());
        let res = factor::cholesky_in_place(
            l.as_mut(),
            Default::default(),
            FACTOR_PAR,
            MemStack::new(&mut stack(req)),
            Default::default(),
        );
        zero_upper();
        if let Err(LltError::NonPositivePivot { index }) = res {
            return Err(DenseError::NotPositiveDefinite { n, pivot: index });
        }
        if let Some(pivot) = (0..n).find(|&i| !(l[(i, i)] > 0.0 && l[(i, i)].is_finite())) {
            return Err(DenseError::NotPositiveDefinite { n, pivot });
        }
        for j in 1..n {
            for i in 0..j {
                l[(i, j)] = 0.0;
            }
        }
        Ok(Cholesky { l })
    }

    /// Size of the factored matrix.
    pub fn dim(&self) -> usize {
        self.l.nrows()
    }

    /// The lower triangular factor `l` (zero above the diagonal).
    pub fn l(&self) -> Array2<f64> {
        from_faer(self.l.as_ref())
    }

    /// `a⁻¹ b` for a matrix of right-hand sides (`n x k`).
    pub fn solve_mat(&self, b: ArrayView2<f64>) -> Array2<f64> {
        assert_eq!(b.nrows(), self.dim(), "cholesky solve: right-hand side has the wrong number of rows");
        let mut x = to_faer(b);
        faer::linalg::cholesky::llt::solve::solve_in_place(
            self.l.as_ref(),
            x.as_mut(),
            FACTOR_PAR,
            MemStack::new(&mut stack(faer::dyn_stack::StackReq::EMPTY)),
        );
        zero_upper();
        from_faer(x.as_ref())
    }

    /// `a⁻¹ b`.
    pub fn solve(&self, b: ArrayView1<f64>) -> Array1<f64> {
        uncol(self.solve_mat(col(b)))
    }

    /// `a⁻¹`.
    pub fn inverse(&self) -> Array2<f64> {
        self.solve_mat(Array2::eye(self.dim()).view())
    }

    /// `ln det a = 2 Σ ln l_ii`.
    pub fn logdet(&self) -> f64 {
        2.0 * (0..self.dim()).map(|i| self.l[(i, i)].ln()).sum::<f64>()
    }
}

/// [`Cholesky::new`].
pub fn cholesky(a: ArrayView2<f64>) -> Result<Cholesky, DenseError> {
    Cholesky::new(a)
}

/// Solves `a x = r` in place for a small symmetric positive-definite `d × d` matrix stored
/// row-major in `a` (its lower triangle is read and overwritten by the Cholesky factor; `r`
/// becomes `x`). Allocation-free and sequential, for hot loops over many tiny systems (a ridge
/// solve per prompt); for anything larger use [`Cholesky`]. A pivot that rounding drives to zero
/// or below is clamped to 1e-150 (the square root of 1e-300) instead of failing: the callers' matrices
/// are damped, and the result is then huge or NaN rather than an error.
pub fn cholesky_solve_in_place(a: &mut [f64], r: &mut [f64], d: usize) {
    assert!(a.len() >= d * d && r.len() >= d, "cholesky_solve_in_place: a is d x d, r has d entries");
    for j in 0..d {
        for k in 0..j {
            let s: f64 = (0..k).map(|m| a[j * d + m] * a[k * d + m]).sum();
            a[j * d + k] = (a[j * d + k] - s) / a[k * d + k];
        }
        let s: f64 = (0..j).map(|m| a[j * d + m] * a[j * d + m]).sum();
        a[j * d + j] = (a[j * d + j] - s).max(1e-300).sqrt();
    }
    for j in 0..d {
        let s: f64 = (0..j).map(|m| a[j * d + m] * r[m]).sum();
        r[j] = (r[j] - s) / a[j * d + j];
    }
    for j in (0..d).rev() {
        let s: f64 = (j + 1..d).map(|m| a[m * d + j] * r[m]).sum();
        r[j] = (r[j] - s) / a[j * d + j];
    }
}

/// `a⁻¹ b` for a symmetric positive-definite `a` (lower triangle read), through Cholesky.
pub fn solve_spd(a: ArrayView2<f64>, b: ArrayView1<f64>) -> Result<Array1<f64>, DenseError> {
    Ok(Cholesky::new(a)?.solve(b))
}

/// `ln det a` of a symmetric positive-definite `a` (lower triangle read), through Cholesky.
pub fn logdet_spd(a: ArrayView2<f64>) -> Result<f64, DenseError> {
    Ok(Cholesky::new(a)?.logdet())
}

/// LU factorization with partial (row) pivoting, `p a = l u` (faer, sequential): `l` unit lower
/// triangular, `u` upper triangular, `p` the row permutation with `(p a)[i, :] = a[perm[i], :]`.
#[derive(Clone, Debug)]
pub struct Lu {
    /// `l` below the diagonal (unit diagonal implied) and `u` on and above it.
    lu: Mat<f64>,
    /// Row `i` of `p a` is row `perm[i]` of `a`.
    perm: Vec<usize>,
}

impl Lu {
    /// Factor `a` without a singularity check (for [`slogdet`]).
    fn factor(a: ArrayView2<f64>) -> Lu {
        use faer::linalg::lu::partial_pivoting::factor;
        let n = square(&a, "lu");
        let mut lu = to_faer(a);
        let (mut perm, mut perm_inv) = (vec![0usize; n], vec![0usize; n]);
        let req = factor::lu_in_place_scratch::<usize, f64>(n, n, FACTOR_PAR, Default::default());
        factor::lu_in_place(
            lu.as_mut(),
            &mut perm,
            &mut perm_inv,
            FACTOR_PAR,
            MemStack::new(&mut stack(req)),
            Default::default(),
        );
        zero_upper();
        Lu { lu, perm }
    }

    /// The first pivot with `|u_ii| <= tol` (or not finite), as an error.
    fn check(self, op: &'static str, tol: f64) -> Result<Lu, DenseError> {
        let n = self.dim();
        match (0..n).find(|&i| !(self.lu[(i, i)].abs() > tol && self.lu[(i, i)].is_finite())) {
            Some(pivot) => Err(DenseError::Singular { op, n, pivot, value: self.lu[(pivot, pivot)], tol }),
            None => Ok(self),
        }
    }

    /// Factor `a`. Errors with [`DenseError::Singular`] when a pivot `|u_ii|` is at most
    /// `n ε max_ij |a_ij|` (the rounding level of the elimination): `a` is singular to working
    /// precision.
    pub fn new(a: ArrayView2<f64>) -> Result<Self, DenseError> {
        let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        Self::factor(a).check("lu", a.nrows() as f64 * f64::EPSILON * scale)
    }

    /// Size of the factored matrix.
    pub fn dim(&self) -> usize {
        self.lu.nrows()
    }

    /// The unit lower triangular factor `l`.
    pub fn l(&self) -> Array2<f64> {
        let n = self.dim();
        Array2::from_shape_fn((n, n), |(i, j)| match i.cmp(&j) {
            std::cmp::Ordering::Greater => self.lu[(i, j)],
            std::cmp::Ordering::Equal => 1.0,
            std::cmp::Ordering::Less => 0.0,
        })
    }

    /// The upper triangular factor `u`.
    pub fn u(&self) -> Array2<f64> {
        let n = self.dim();
        Array2::from_shape_fn((n, n), |(i, j)| if j >= i { self.lu[(i, j)] } else { 0.0 })
    }

    /// The row permutation: row `i` of `p a` is row `perm()[i]` of `a`.
    pub fn perm(&self) -> &[usize] {
        &self.perm
    }

    /// `a⁻¹ b` for a matrix of right-hand sides (`n x k`).
    pub fn solve_mat(&self, b: ArrayView2<f64>) -> Array2<f64> {
        use faer::linalg::triangular_solve as ts;
        assert_eq!(b.nrows(), self.dim(), "lu solve: right-hand side has the wrong number of rows");
        let mut x = Mat::from_fn(b.nrows(), b.ncols(), |i, j| b[[self.perm[i], j]]);
        ts::solve_unit_lower_triangular_in_place(self.lu.as_ref(), x.as_mut(), FACTOR_PAR);
        ts::solve_upper_triangular_in_place(self.lu.as_ref(), x.as_mut(), FACTOR_PAR);
        zero_upper();
        from_faer(x.as_ref())
    }

    /// `a⁻¹ b`.
    pub fn solve(&self, b: ArrayView1<f64>) -> Array1<f64> {
        uncol(self.solve_mat(col(b)))
    }

    /// `a⁻¹`.
    pub fn inverse(&self) -> Array2<f64> {
        self.solve_mat(Array2::eye(self.dim()).view())
    }

    /// `(sign, ln |det a|)`: the sign of the permutation times those of the pivots, and
    /// `Σ ln |u_ii|`; `(0, -inf)` when a pivot is exactly zero.
    pub fn slogdet(&self) -> (f64, f64) {
        let n = self.dim();
        // Parity of the permutation from its cycles: a k-cycle is k - 1 transpositions.
        let mut seen = vec![false; n];
        let mut sign = 1.0;
        for s in 0..n {
            let mut len = 0;
            let mut i = s;
            while !seen[i] {
                seen[i] = true;
                i = self.perm[i];
                len += 1;
            }
            if len > 0 && len % 2 == 0 {
                sign = -sign;
            }
        }
        let mut logabs = 0.0;
        for i in 0..n {
            let u = self.lu[(i, i)];
            if u == 0.0 {
                return (0.0, f64::NEG_INFINITY);
            }
            sign *= u.signum();
            logabs += u.abs().ln();
        }
        (sign, logabs)
    }
}

/// [`Lu::new`].
pub fn lu(a: ArrayView2<f64>) -> Result<Lu, DenseError> {
    Lu::new(a)
}

/// `a⁻¹ b` for a square `a`, through LU with partial pivoting (errors when `a` is singular to
/// working precision, see [`Lu::new`]).
pub fn solve(a: ArrayView2<f64>, b: ArrayView1<f64>) -> Result<Array1<f64>, DenseError> {
    Ok(Lu::new(a)?.solve(b))
}

/// `a⁻¹` through LU with partial pivoting (errors as [`Lu::new`]).
pub fn inv(a: ArrayView2<f64>) -> Result<Array2<f64>, DenseError> {
    Ok(Lu::new(a)?.inverse())
}

/// `(sign, ln |det a|)` of a square matrix through LU with partial pivoting (numpy's `slogdet`):
/// `(0, -inf)` when a pivot is exactly zero, never an error.
pub fn slogdet(a: ArrayView2<f64>) -> (f64, f64) {
    Lu::factor(a).slogdet()
}

/// Which triangle of a matrix a triangular solve reads (the other one is ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Triangle {
    /// On and below the diagonal.
    Lower,
    /// On and above the diagonal.
    Upper,
}

/// `t⁻¹ b` for a triangular `t` (`n x n`, only the `which` triangle read; with `unit_diagonal`
/// the diagonal is taken as ones and not read) and right-hand sides `b` (`n x k`; a vector is
/// `b.insert_axis(Axis(1))`). Errors with [`DenseError::Singular`] on an exactly zero or
/// non-finite diagonal entry (not checked with `unit_diagonal`).
pub fn solve_triangular(
    t: ArrayView2<f64>,
    b: ArrayView2<f64>,
    which: Triangle,
    unit_diagonal: bool,
) -> Result<Array2<f64>, DenseError> {
    use faer::linalg::triangular_solve as ts;
    let n = square(&t, "solve_triangular");
    assert_eq!(b.nrows(), n, "solve_triangular: right-hand side has the wrong number of rows");
    if !unit_diagonal && let Some(pivot) = (0..n).find(|&i| !(t[[i, i]] != 0.0 && t[[i, i]].is_finite())) {
        return Err(DenseError::Singular { op: "solve_triangular", n, pivot, value: t[[pivot, pivot]], tol: 0.0 });
    }
    let (tf, mut x) = (faer_ref(&t), to_faer(b));
    match (which, unit_diagonal) {
        (Triangle::Lower, false) => ts::solve_lower_triangular_in_place(tf, x.as_mut(), FACTOR_PAR),
        (Triangle::Lower, true) => ts::solve_unit_lower_triangular_in_place(tf, x.as_mut(), FACTOR_PAR),
        (Triangle::Upper, false) => ts::solve_upper_triangular_in_place(tf, x.as_mut(), FACTOR_PAR),
        (Triangle::Upper, true) => ts::solve_unit_upper_triangular_in_place(tf, x.as_mut(), FACTOR_PAR),
    }
    zero_upper();
    Ok(from_faer(x.as_ref()))
}

/// Moore-Penrose pseudo-inverse (`n x m` for an `m x n` `a`) through the thin SVD
/// `a = u s vᵀ`: `v s⁺ uᵀ`, inverting the singular values above `rcond * s_max` and zeroing the
/// others. `rcond = None` takes `max(m, n) ε` (numpy's and MATLAB's default).
pub fn pinv(a: ArrayView2<f64>, rcond: Option<f64>) -> Array2<f64> {
    use faer::linalg::svd::{self, ComputeSvdVectors};
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Array2::zeros((n, m));
    }
    if !a.iter().all(|x| x.is_finite()) {
        return Array2::from_elem((n, m), f64::NAN);
    }
    let (mut s, mut u, mut v) = (Diag::<f64>::zeros(k), Mat::<f64>::zeros(m, k), Mat::<f64>::zeros(n, k));
    let thin = ComputeSvdVectors::Thin;
    let req = svd::svd_scratch::<f64>(m, n, thin, thin, FACTOR_PAR, Default::default());
    svd::svd(
        to_faer(a).as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        Some(v.as_mut()),
        FACTOR_PAR,
        MemStack::new(&mut stack(req)),
        Default::default(),
    )
    .expect("svd converged");
    zero_upper();
    let smax = (0..k).fold(0.0f64, |x, i| x.max(s[i]));
    let cut = rcond.unwrap_or(m.max(n) as f64 * f64::EPSILON) * smax;
    // v s⁺: scale the kept columns of v, zero the others.
    let vs = Array2::from_shape_fn((n, k), |(i, j)| if s[j] > cut { v[(i, j)] / s[j] } else { 0.0 });
    let ut = Array2::from_shape_fn((k, m), |(i, j)| u[(j, i)]);
    gemm_new(&vs.view(), &ut.view())
}

/// The core of [`woodbury`] and [`woodbury_solve`]: given `y = a⁻¹ u` (`n x k`) and `z = a⁻¹ b`,
/// `(a + u c vᵀ)⁻¹ b = z - y c K⁻¹ vᵀ z` with the capacitance `K = I + vᵀ y c` (`k x k`; no
/// inverse of `c` needed, so `c` may be singular). Singular when a pivot of `K`'s LU is at most
/// `8 k ε (1 + max |vᵀ y c|)` (the rounding level of forming `K`).
fn woodbury_core(
    op: &'static str,
    y: ArrayView2<f64>,
    z: ArrayView2<f64>,
    c: ArrayView2<f64>,
    v: ArrayView2<f64>,
) -> Result<Array2<f64>, DenseError> {
    let k = y.ncols();
    assert!(c.dim() == (k, k) && v.ncols() == k && v.nrows() == y.nrows(), "{op}: u, c, v shapes do not match");
    let vyc = gemm_new(&gemm_new(&v.t(), &y).view(), &c);
    let scale = vyc.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let cap = vyc + Array2::<f64>::eye(k);
    let cap = Lu::factor(cap.view()).check(op, 8.0 * k as f64 * f64::EPSILON * (1.0 + scale))?;
    let w = cap.solve_mat(gemm_new(&v.t(), &z).view()); // K⁻¹ vᵀ z
    let yc = gemm_new(&y, &c);
    Ok(&z - &gemm_new(&yc.view(), &w.view()))
}

/// Woodbury identity: `(a + u c vᵀ)⁻¹` from `a⁻¹` (`n x n`), `u`, `v` (`n x k`) and `c`
/// (`k x k`), in `O(n² k)`. Errors with [`DenseError::Singular`] (op `"woodbury"`) when the
/// updated matrix is singular to working precision (see `woodbury_core` in the source).
pub fn woodbury(
    a_inv: ArrayView2<f64>,
    u: ArrayView2<f64>,
    c: ArrayView2<f64>,
    v: ArrayView2<f64>,
) -> Result<Array2<f64>, DenseError> {
    square(&a_inv, "woodbury");
    let y = gemm_new(&a_inv, &u);
    woodbury_core("woodbury", y.view(), a_inv, c, v)
}

/// Woodbury identity as a solve: `(a + u c vᵀ)⁻¹ b` (`b` is `n x m`) given only a solver
/// `solve_a(x) = a⁻¹ x` for `a` (say [`Cholesky::solve_mat`] or a diagonal), called twice.
/// Errors as [`woodbury`].
pub fn woodbury_solve(
    solve_a: impl Fn(ArrayView2<f64>) -> Array2<f64>,
    u: ArrayView2<f64>,
    c: ArrayView2<f64>,
    v: ArrayView2<f64>,
    b: ArrayView2<f64>,
) -> Result<Array2<f64>, DenseError> {
    let (y, z) = (solve_a(u), solve_a(b));
    woodbury_core("woodbury", y.view(), z.view(), c, v)
}

/// Sherman-Morrison: `(a + u vᵀ)⁻¹ = a⁻¹ - a⁻¹ u vᵀ a⁻¹ / (1 + vᵀ a⁻¹ u)` from `a⁻¹`, in
/// `O(n²)`. Errors with [`DenseError::Singular`] (op `"sherman_morrison"`) when the denominator
/// is at the rounding level of `1 + |vᵀ a⁻¹ u|` (the updated matrix is singular).
pub fn sherman_morrison(
    a_inv: ArrayView2<f64>,
    u: ArrayView1<f64>,
    v: ArrayView1<f64>,
) -> Result<Array2<f64>, DenseError> {
    square(&a_inv, "sherman_morrison");
    let y = a_inv.dot(&u).insert_axis(Axis(1));
    woodbury_core("sherman_morrison", y.view(), a_inv, Array2::eye(1).view(), col(v))
}

/// Sherman-Morrison as a solve: `(a + u vᵀ)⁻¹ b` given a solver `solve_a(x) = a⁻¹ x` for `a`,
/// called twice. Errors as [`sherman_morrison`].
pub fn sherman_morrison_solve(
    solve_a: impl Fn(ArrayView1<f64>) -> Array1<f64>,
    u: ArrayView1<f64>,
    v: ArrayView1<f64>,
    b: ArrayView1<f64>,
) -> Result<Array1<f64>, DenseError> {
    let (y, z) = (solve_a(u), solve_a(b));
    let x = woodbury_core("sherman_morrison", col(y.view()), col(z.view()), Array2::eye(1).view(), col(v))?;
    Ok(uncol(x))
}

#[cfg(test)]
mod tests {

    #[test]
    fn cholesky_solve_in_place_equals_the_faer_cholesky() {
        use rand::Rng;
        let mut rng = crate::Seed(5).rng();
        for d in [1usize, 2, 3, 7, 16] {
            let g = Array2::from_shape_fn((d + 3, d), |_| rng.random::<f64>() - 0.5);
            let mut a = g.t().dot(&g);
            for i in 0..d {
                a[[i, i]] += 0.1;
            }
            let b = Array1::from_shape_fn(d, |_| rng.random::<f64>() - 0.5);
            let want = solve_spd(a.view(), b.view()).unwrap();
            let (mut packed, mut r) = (a.iter().copied().collect::<Vec<f64>>(), b.to_vec());
            cholesky_solve_in_place(&mut packed, &mut r, d);
            let err = r.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
            assert!(err <= 1e-10 * want.iter().map(|v| v.abs()).fold(1.0, f64::max), "d = {d}: {err}");
        }
    }
    use super::*;
    use crate::rng::{Seed, gaussian_mat};

    #[test]
    fn qr_reconstructs() {
        for (m, n) in [(9, 6), (6, 9), (1, 1), (200, 150)] {
            let a = gaussian_mat(&mut Seed(5).rng(), m, n, 1.0);
            let (q, r) = qr(&a);
            let k = m.min(n);
            assert_eq!((q.dim(), r.dim()), ((m, k), (k, n)));
            assert!((&q.dot(&r) - &a).iter().all(|x| x.abs() < 1e-12));
            assert!((&q.t().dot(&q) - &Array2::<f64>::eye(k)).iter().all(|x| x.abs() < 1e-12));
            for i in 0..k {
                for j in 0..i.min(n) {
                    assert_eq!(r[[i, j]], 0.0);
                }
            }
        }
    }

    /// The copy-row-major path of `matmul` (column-major `a`, `m, n >= 128`): the same products
    /// as ndarray for transposed, strided and negative-stride views, with `beta` 0 and 1, in
    /// parallel and sequential mode, after a copy too large to keep and with the scratch buffer
    /// reused across shrinking shapes.
    #[test]
    fn column_major_lhs_is_copied_and_matches() {
        use ndarray::s;
        let mut rng = Seed(8).rng();
        let big = gaussian_mat(&mut rng, 70, 300, 1.0);
        let huge = gaussian_mat(&mut rng, 1000, 1100, 1.0); // copy above SCRATCH_KEEP: not kept
        let cases: Vec<(ArrayView2<f64>, usize)> = vec![
            (huge.t(), 128),
            (big.t(), 140),                                    // 300 x 70 column-major, n = 140
            (big.slice(s![..33, ..200]).reversed_axes(), 128), // strided rows, n at the threshold
            (big.slice(s![..2, ..129]).reversed_axes(), 131),  // k = 2
            (big.slice(s![..;-1, ..]).reversed_axes(), 150),   // reversed: negative column stride
            (big.slice(s![..20, ..127]).reversed_axes(), 200), // m = 127: below the threshold
        ];
        for (a, n) in cases {
            let (m, k) = a.dim();
            let b = gaussian_mat(&mut rng, k, n, 1.0);
            let c0 = gaussian_mat(&mut rng, m, n, 1.0);
            let want = a.dot(&b);
            for seq in [false, true] {
                let run = || {
                    let mut c = c0.clone();
                    gemm(&a, &b.view(), 1.0, &mut c.view_mut());
                    (c, gemm_new(&a, &b.view()))
                };
                let (added, fresh) = if seq { sequential(run) } else { run() };
                let err = |x: &Array2<f64>, y: &Array2<f64>| (x - y).iter().fold(0.0f64, |e, v| e.max(v.abs()));
                assert!(err(&fresh, &want) < 1e-12 * k as f64, "{m}x{k}x{n}");
                assert!(err(&added, &(&want + &c0)) < 1e-12 * k as f64, "{m}x{k}x{n}");
            }
        }
    }

    #[test]
    fn eigh_diagonalizes() {
        let g = gaussian_mat(&mut Seed(6).rng(), 8, 8, 1.0);
        let a = &g + &g.t();
        let (w, v) = eigh(&a);
        let recon = v.dot(&Array2::from_diag(&w)).dot(&v.t());
        assert!((&recon - &a).iter().all(|x| x.abs() < 1e-10));
        assert!(w.windows(2).into_iter().all(|p| p[0] <= p[1]));
        let w2 = eigvalsh(&a);
        assert!((&w - &w2).iter().all(|x| x.abs() < 1e-10));
        // trace identity
        assert!((w.sum() - a.diag().sum()).abs() < 1e-10);
        let s = singular_values(&a);
        let mut abs: Vec<f64> = w.iter().map(|x| x.abs()).collect();
        abs.sort_by(|x, y| y.partial_cmp(x).unwrap());
        assert!(s.iter().zip(&abs).all(|(x, y)| (x - y).abs() < 1e-10));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// `gemm` / `gemm_new` on any shapes, transposed (strided) operands, beta 0 or 1, with
        /// parallel or sequential kernels, equal ndarray's product; the AVX state is cleared.
        #[test]
        fn gemm_matches_ndarray(
            m in 0usize..40, k in 0usize..40, n in 0usize..40,
            ta: bool, tb: bool, add: bool, seq: bool, seed in 0u64..1000,
        ) {
            let mut rng = crate::rng::Seed(seed).rng();
            let a = crate::rng::gaussian_mat(&mut rng, if ta { k } else { m }, if ta { m } else { k }, 1.0);
            let b = crate::rng::gaussian_mat(&mut rng, if tb { n } else { k }, if tb { k } else { n }, 1.0);
            let c0 = crate::rng::gaussian_mat(&mut rng, m, n, 1.0);
            let (av, bv) = (if ta { a.t() } else { a.view() }, if tb { b.t() } else { b.view() });
            let want = av.dot(&bv) + if add { c0.clone() } else { Array2::zeros((m, n)) };
            let run = || {
                let mut c = c0.clone();
                gemm(&av, &bv, if add { 1.0 } else { 0.0 }, &mut c.view_mut());
                (c, gemm_new(&av, &bv))
            };
            let (c, fresh) = if seq { sequential(run) } else { run() };
            let err = |x: &Array2<f64>, y: &Array2<f64>| (x - y).iter().fold(0.0f64, |e, v| e.max(v.abs()));
            proptest::prop_assert!(err(&c, &want) < 1e-12 * (k as f64 + 1.0));
            proptest::prop_assert!(err(&fresh, &av.dot(&bv)) < 1e-12 * (k as f64 + 1.0));
            proptest::prop_assert!(!is_sequential());
        }
    }
}

#[cfg(test)]
mod factor_tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat, gaussian_vec};
    use proptest::prelude::*;

    fn max_abs(a: &Array2<f64>) -> f64 {
        a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
    }

    /// A random symmetric positive-definite `n x n` matrix `g gᵀ + 0.1 I`.
    fn spd(seed: u64, n: usize) -> Array2<f64> {
        let g = gaussian_mat(&mut Seed(seed).rng(), n, n, 1.0);
        g.dot(&g.t()) + 0.1 * Array2::<f64>::eye(n)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]

        /// `l lᵀ = a` with `l` lower triangular, `a a⁻¹ = I`, solves and `ln det` against the
        /// sum of the log-eigenvalues; the upper triangle of the input is never read.
        #[test]
        fn cholesky_identities(n in 1usize..30, seed in 0u64..1000) {
            let a = spd(seed, n);
            let ch = cholesky(a.view()).unwrap();
            let l = ch.l();
            prop_assert!(max_abs(&(l.dot(&l.t()) - &a)) < 1e-12 * max_abs(&a));
            prop_assert!((0..n).all(|i| (i + 1..n).all(|j| l[[i, j]] == 0.0) && l[[i, i]] > 0.0));
            prop_assert!(max_abs(&(a.dot(&ch.inverse()) - Array2::<f64>::eye(n))) < 1e-8);
            let b = gaussian_vec(&mut Seed(seed + 1).rng(), n, 1.0);
            let x = solve_spd(a.view(), b.view()).unwrap();
            prop_assert!((a.dot(&x) - &b).iter().all(|r| r.abs() < 1e-8));
            let eig_logdet: f64 = eigvalsh(&a).iter().map(|w| w.ln()).sum();
            prop_assert!((ch.logdet() - eig_logdet).abs() < 1e-9 * (1.0 + eig_logdet.abs()));
            prop_assert!((logdet_spd(a.view()).unwrap() - ch.logdet()).abs() < 1e-12 * (1.0 + eig_logdet.abs()));
            let mut garbage = a.clone();
            for i in 0..n { for j in i + 1..n { garbage[[i, j]] = f64::NAN; } }
            prop_assert_eq!(cholesky(garbage.view()).unwrap().l(), l);
        }

        /// `p a = l u`, `a a⁻¹ = a⁻¹ a = I`, solves, and `slogdet` against the closed form of a
        /// row-permuted triangular matrix and against `ln det(aᵀ a) = 2 ln |det a|`.
        #[test]
        fn lu_identities(n in 1usize..30, seed in 0u64..1000) {
            let mut rng = Seed(seed).rng();
            let a = gaussian_mat(&mut rng, n, n, 1.0);
            let f = lu(a.view()).unwrap();
            let (l, u, p) = (f.l(), f.u(), f.perm().to_vec());
            let pa = Array2::from_shape_fn((n, n), |(i, j)| a[[p[i], j]]);
            prop_assert!(max_abs(&(l.dot(&u) - &pa)) < 1e-12 * n as f64 * max_abs(&a));
            prop_assert!(l.iter().all(|v| v.abs() <= 1.0)); // partial pivoting bounds the multipliers
            let ai = inv(a.view()).unwrap();
            prop_assert!(max_abs(&(a.dot(&ai) - Array2::<f64>::eye(n))) < 1e-8);
            prop_assert!(max_abs(&(ai.dot(&a) - Array2::<f64>::eye(n))) < 1e-8);
            let b = gaussian_vec(&mut rng, n, 1.0);
            let x = solve(a.view(), b.view()).unwrap();
            prop_assert!((a.dot(&x) - &b).iter().all(|r| r.abs() < 1e-8));
            let (sign, logabs) = slogdet(a.view());
            prop_assert!(sign.abs() == 1.0);
            let ata = a.t().dot(&a);
            prop_assert!((2.0 * logabs - logdet_spd(ata.view()).unwrap()).abs() < 1e-6 * (1.0 + logabs.abs()));
            // det(rows of t permuted by σ) = sgn(σ) Π t_ii.
            let t = Array2::from_shape_fn((n, n), |(i, j)| if j >= i { a[[i, j]] } else { 0.0 });
            let sigma = crate::rng::permutation(&mut rng, n);
            let pt = Array2::from_shape_fn((n, n), |(i, j)| t[[sigma[i], j]]);
            let mut inversions = 0;
            for i in 0..n { for j in i + 1..n { inversions += usize::from(sigma[i] > sigma[j]); } }
            let want_sign = if inversions % 2 == 0 { 1.0 } else { -1.0 } * (0..n).map(|i| t[[i, i]].signum()).product::<f64>();
            let want_log: f64 = (0..n).map(|i| t[[i, i]].abs().ln()).sum();
            let (s, la) = slogdet(pt.view());
            prop_assert_eq!(s, want_sign);
            prop_assert!((la - want_log).abs() < 1e-12 * (1.0 + want_log.abs()));
        }

        /// Lower/upper, with and without unit diagonal: `t x = b` with the other triangle (and,
        /// for a unit diagonal, the diagonal) filled with NaN, which must not be read.
        #[test]
        fn triangular_solves(n in 1usize..25, k in 1usize..4, seed in 0u64..1000) {
            let mut rng = Seed(seed).rng();
            let g = gaussian_mat(&mut rng, n, n, 1.0);
            let b = gaussian_mat(&mut rng, n, k, 1.0);
            for which in [Triangle::Lower, Triangle::Upper] {
                for unit in [false, true] {
                    let keep = |i: usize, j: usize| match which { Triangle::Lower => i >= j, Triangle::Upper => i <= j };
                    // Diagonally dominant, so the solve is well conditioned.
                    let t = Array2::from_shape_fn((n, n), |(i, j)| {
                        if i == j { if unit { 1.0 } else { n as f64 + g[[i, j]] } } else if keep(i, j) { g[[i, j]] } else { 0.0 }
                    });
                    let mut dirty = t.clone();
                    for ((i, j), v) in dirty.indexed_iter_mut() {
                        if !keep(i, j) || (unit && i == j) { *v = f64::NAN; }
                    }
                    let x = solve_triangular(dirty.view(), b.view(), which, unit).unwrap();
                    prop_assert!(max_abs(&(t.dot(&x) - &b)) < 1e-10 * n as f64);
                }
            }
        }

        /// The four Penrose conditions for random `m x n` matrices of rank `r`, and `pinv = inv`
        /// for an invertible one.
        #[test]
        fn pinv_penrose(m in 1usize..12, n in 1usize..12, r in 0usize..12, seed in 0u64..1000) {
            let r = r.min(m).min(n);
            let mut rng = Seed(seed).rng();
            let a = gaussian_mat(&mut rng, m, r, 1.0).dot(&gaussian_mat(&mut rng, r, n, 1.0));
            let p = pinv(a.view(), None);
            prop_assert_eq!(p.dim(), (n, m));
            let tol = 1e-9 * (1.0 + max_abs(&a)) * (1.0 + max_abs(&p));
            prop_assert!(max_abs(&(a.dot(&p).dot(&a) - &a)) < tol);
            prop_assert!(max_abs(&(p.dot(&a).dot(&p) - &p)) < tol * (1.0 + max_abs(&p)));
            let (ap, pa) = (a.dot(&p), p.dot(&a));
            prop_assert!(max_abs(&(&ap - &ap.t())) < tol && max_abs(&(&pa - &pa.t())) < tol);
            if m == n && r == n {
                let ai = inv(a.view()).unwrap();
                prop_assert!(max_abs(&(&p - &ai)) < 1e-6 * (1.0 + max_abs(&ai)));
            }
        }

        /// Woodbury (rank k) and Sherman-Morrison (rank one), as inverses and as solves through a
        /// Cholesky of `a`, against the dense inverse of the updated matrix.
        #[test]
        fn woodbury_matches_dense_inverse(n in 1usize..20, k in 1usize..5, seed in 0u64..1000) {
            let a = spd(seed, n);
            let mut rng = Seed(seed + 7).rng();
            let (u, v) = (gaussian_mat(&mut rng, n, k, 0.5), gaussian_mat(&mut rng, n, k, 0.5));
            let c = gaussian_mat(&mut rng, k, k, 1.0) + 3.0 * Array2::<f64>::eye(k);
            let b = gaussian_mat(&mut rng, n, 2, 1.0);
            let ch = cholesky(a.view()).unwrap();
            let a_inv = ch.inverse();
            let upd = &a + &u.dot(&c).dot(&v.t());
            let want = inv(upd.view()).unwrap();
            let rel = |x: &Array2<f64>, y: &Array2<f64>| max_abs(&(x - y)) / (1.0 + max_abs(y));
            prop_assert!(rel(&woodbury(a_inv.view(), u.view(), c.view(), v.view()).unwrap(), &want) < 1e-7);
            let x = woodbury_solve(|r| ch.solve_mat(r), u.view(), c.view(), v.view(), b.view()).unwrap();
            prop_assert!(rel(&x, &want.dot(&b)) < 1e-7);
            let (u1, v1) = (u.column(0), v.column(0));
            let upd1 = &a + &u1.insert_axis(Axis(1)).dot(&v1.insert_axis(Axis(0)));
            let want1 = inv(upd1.view()).unwrap();
            prop_assert!(rel(&sherman_morrison(a_inv.view(), u1, v1).unwrap(), &want1) < 1e-7);
            let x1 = sherman_morrison_solve(|r| ch.solve(r), u1, v1, b.column(0)).unwrap();
            prop_assert!((&x1 - &want1.dot(&b.column(0))).iter().all(|e| e.abs() < 1e-7 * (1.0 + max_abs(&want1))));
        }
    }

    #[test]
    fn cholesky_names_the_failing_pivot() {
        let a = Array2::from_diag(&ndarray::array![1.0, 2.0, -1.0, 3.0]);
        let err = cholesky(a.view()).unwrap_err();
        assert_eq!(err, DenseError::NotPositiveDefinite { n: 4, pivot: 2 });
        let msg = err.to_string();
        assert!(msg.contains("4 x 4") && msg.contains("pivot 2") && msg.contains("not positive definite"), "{msg}");
        // Indefinite with a positive diagonal, positive semi-definite, zero, NaN.
        let cases = [
            (ndarray::array![[1.0, 2.0], [2.0, 1.0]], 1),
            (ndarray::array![[1.0, 1.0], [1.0, 1.0]], 1),
            (Array2::zeros((3, 3)), 0),
            (ndarray::array![[1.0, 0.0], [0.0, f64::NAN]], 1),
        ];
        for (a, pivot) in cases {
            assert_eq!(cholesky(a.view()).unwrap_err(), DenseError::NotPositiveDefinite { n: a.nrows(), pivot }, "{a}");
        }
        assert!(logdet_spd(ndarray::array![[-1.0]].view()).is_err());
        assert_eq!(cholesky(Array2::zeros((0, 0)).view()).unwrap().logdet(), 0.0);
    }

    #[test]
    fn singular_matrices_are_errors() {
        let a = ndarray::array![[1.0, 2.0], [2.0, 4.0]];
        let err = lu(a.view()).unwrap_err();
        assert!(matches!(err, DenseError::Singular { op: "lu", n: 2, pivot: 1, .. }), "{err:?}");
        assert!(err.to_string().contains("singular"), "{err}");
        assert_eq!(slogdet(a.view()), (0.0, f64::NEG_INFINITY));
        assert!(solve(a.view(), ndarray::array![1.0, 1.0].view()).is_err());
        // Rank n - 1 with rounding in the elimination: caught by the tolerance.
        let mut rng = Seed(3).rng();
        let x = gaussian_mat(&mut rng, 8, 7, 1.0).dot(&gaussian_mat(&mut rng, 7, 8, 1.0));
        assert!(matches!(inv(x.view()), Err(DenseError::Singular { op: "lu", n: 8, .. })));
        assert!(lu(Array2::zeros((3, 3)).view()).is_err());
        assert!(matches!(
            solve_triangular(
                ndarray::array![[1.0, 0.0], [1.0, 0.0]].view(),
                Array2::ones((2, 1)).view(),
                Triangle::Lower,
                false
            ),
            Err(DenseError::Singular { op: "solve_triangular", pivot: 1, .. })
        ));
        // A unit diagonal is not read, so a zero there is fine.
        let x = solve_triangular(
            ndarray::array![[0.0, 0.0], [1.0, 0.0]].view(),
            Array2::ones((2, 1)).view(),
            Triangle::Lower,
            true,
        );
        assert_eq!(x.unwrap(), ndarray::array![[1.0], [0.0]]);
        // I + u vᵀ with vᵀ u = -1 is singular: the updates say so.
        let (u, v) = (ndarray::array![1.0, 0.0, 0.0], ndarray::array![-1.0, 0.0, 0.0]);
        let eye = Array2::<f64>::eye(3);
        assert!(matches!(
            sherman_morrison(eye.view(), u.view(), v.view()),
            Err(DenseError::Singular { op: "sherman_morrison", .. })
        ));
        let uu = u.view().insert_axis(Axis(1));
        let vv = v.view().insert_axis(Axis(1));
        assert!(matches!(
            woodbury(eye.view(), uu, Array2::eye(1).view(), vv),
            Err(DenseError::Singular { op: "woodbury", .. })
        ));
        // A singular c is fine (no inverse of c is formed): c = 0 leaves a⁻¹ unchanged.
        let w = woodbury(eye.view(), uu, Array2::zeros((1, 1)).view(), vv).unwrap();
        assert_eq!(w, eye);
    }

    #[test]
    fn pinv_closed_forms() {
        // Rank one: pinv(x yᵀ) = y xᵀ / (|x|² |y|²).
        let (x, y) = (ndarray::array![1.0, 2.0, 2.0], ndarray::array![3.0, 4.0]);
        let a = x.view().insert_axis(Axis(1)).dot(&y.view().insert_axis(Axis(0)));
        let want = y.view().insert_axis(Axis(1)).dot(&x.view().insert_axis(Axis(0))) / (9.0 * 25.0);
        assert!(max_abs(&(pinv(a.view(), None) - &want)) < 1e-15);
        // The cut-off: diag(1, 1e-12) with rcond 1e-10 drops the second value.
        let d = Array2::from_diag(&ndarray::array![1.0, 1e-12]);
        assert_eq!(pinv(d.view(), Some(1e-10)), Array2::from_diag(&ndarray::array![1.0, 0.0]));
        assert!((pinv(d.view(), None)[[1, 1]] - 1e12).abs() < 1e-3);
        assert_eq!(pinv(Array2::zeros((2, 3)).view(), None), Array2::<f64>::zeros((3, 2)));
        assert_eq!(pinv(Array2::zeros((0, 3)).view(), None).dim(), (3, 0));
    }
}
