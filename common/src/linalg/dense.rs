//! Dense factorizations through faer (not hand-written), on ndarray inputs.
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};

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
/// Only the lower triangle of `a` is read.
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

#[cfg(test)]
mod tests {
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
