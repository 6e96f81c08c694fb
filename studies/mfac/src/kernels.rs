//! Every loop of arithmetic the M-FAC algorithms run, on row-major `m x d` gradient matrices:
//! `G x` (m dot products of length d), `G^T c` (a weighted sum of rows), GEMMs, LU without
//! pivoting of a small `m x m` matrix, the forward substitution, row updates and elementwise maps.
//! The two O(dm) products are split over rows / column chunks with rayon; every output element is
//! summed in a fixed order, so results do not depend on the thread count.
//!
//! **The operation counter.** Each kernel counts the multiplications (a fused multiply-add once,
//! a division once; plain additions and copies not) where they are executed: per row of a dot
//! product, per column chunk and row of `G^T c`, per row update of the LU and of the recursions,
//! inside the parallel tasks that run them; a GEMM counts `rows x inner x cols` of the operands it
//! is handed (its inner loops are `matrixmultiply`'s). The counter is the one [`count_ops`]
//! installs on the calling thread, captured by each kernel when called, so the parallel parts
//! count too. The algorithms ([`crate::dynamic`], [`crate::static_inv`]) do no arithmetic outside
//! these kernels (a unit test reads their source for it), so the count is of the work that ran,
//! whatever the algorithm does: an IHVP that rebuilt its vectors on every call counts `d m^2`.
use ndarray::linalg::general_mat_mul;
use ndarray::{Array, Array1, Array2, ArrayView, ArrayView1, ArrayView2, ArrayViewMut, ArrayViewMut2, Axis};
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    static ACTIVE: RefCell<Option<Arc<AtomicU64>>> = const { RefCell::new(None) };
}

/// The counter a kernel reports to: the one active on the thread that called it (none: the work
/// is not counted).
#[derive(Clone)]
struct Tally(Option<Arc<AtomicU64>>);

impl Tally {
    fn here() -> Tally {
        Tally(ACTIVE.with(|a| a.borrow().clone()))
    }
    fn add(&self, n: usize) {
        if let Some(c) = &self.0 {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// Restores the previous counter of the thread (also on a panic) and adds the inner count to it.
struct Scope {
    prev: Option<Arc<AtomicU64>>,
    mine: Arc<AtomicU64>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let prev = self.prev.take();
        if let Some(p) = &prev {
            p.fetch_add(self.mine.load(Ordering::SeqCst), Ordering::Relaxed);
        }
        ACTIVE.with(|a| *a.borrow_mut() = prev);
    }
}

/// Multiplications executed by the kernels while `f` runs (kernels called from this thread,
/// including their parallel parts), and its result. Nested counts add to the enclosing one.
pub fn count_ops<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let mine = Arc::new(AtomicU64::new(0));
    let scope = Scope { prev: ACTIVE.with(|a| a.replace(Some(mine.clone()))), mine: mine.clone() };
    let r = f();
    drop(scope);
    (mine.load(Ordering::SeqCst), r)
}

/// Below this many multiply-adds a product runs on the calling thread (rayon overhead dominates).
const PAR_MIN_WORK: usize = 1 << 16;
/// Columns per task of `G^T c`: long enough to stream, short enough to stay in L1/L2.
const COL_CHUNK: usize = 4096;

/// `(a . b, multiplications executed)`.
fn dot(a: &[f64], b: &[f64]) -> (f64, usize) {
    // Four independent accumulators: vectorizes and keeps a fixed summation order.
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    let mut n = 0;
    for (x, y) in (&mut ca).zip(&mut cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
        n += 4;
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
        n += 1;
    }
    (s, n)
}

fn row_slice<'a>(g: &'a ArrayView2<'a, f64>, i: usize) -> &'a [f64] {
    g.row(i).to_slice().expect("rows of a standard-layout matrix are contiguous")
}

/// `G x` for a row-major `m x d` matrix `G`.
pub fn gemv(g: ArrayView2<f64>, x: ArrayView1<f64>) -> Array1<f64> {
    assert_eq!(g.ncols(), x.len(), "gemv: shape mismatch");
    assert!(g.is_standard_layout(), "gemv: G must be row-major");
    let tally = Tally::here();
    let xs = x.as_slice().map(std::borrow::Cow::Borrowed).unwrap_or_else(|| x.to_vec().into());
    let m = g.nrows();
    let row = |i: usize| {
        let (v, n) = dot(row_slice(&g, i), &xs);
        tally.add(n);
        v
    };
    if m * g.ncols() < PAR_MIN_WORK {
        return Array1::from_shape_fn(m, row);
    }
    let out: Vec<f64> = (0..m).into_par_iter().map(row).collect();
    Array1::from(out)
}

/// `G^T c` for a row-major `m x d` matrix `G` (a weighted sum of its rows), streaming `G` once.
pub fn gemv_t(g: ArrayView2<f64>, c: ArrayView1<f64>) -> Array1<f64> {
    assert_eq!(g.nrows(), c.len(), "gemv_t: shape mismatch");
    assert!(g.is_standard_layout(), "gemv_t: G must be row-major");
    let tally = Tally::here();
    let (m, d) = g.dim();
    let mut out = vec![0.0f64; d];
    let body = |(k, chunk): (usize, &mut [f64])| {
        let lo = k * COL_CHUNK;
        let mut n = 0;
        for i in 0..m {
            let ci = c[i];
            if ci == 0.0 {
                continue;
            }
            let row = &row_slice(&g, i)[lo..lo + chunk.len()];
            for (o, r) in chunk.iter_mut().zip(row) {
                *o += ci * r;
                n += 1;
            }
        }
        tally.add(n);
    };
    if m * d < PAR_MIN_WORK {
        out.chunks_mut(COL_CHUNK).enumerate().for_each(body);
    } else {
        out.par_chunks_mut(COL_CHUNK).enumerate().for_each(body);
    }
    Array1::from(out)
}

/// `G G^T` (m x m, symmetric) through the blocked GEMM of `ndarray`/`matrixmultiply`.
pub fn gram(g: ArrayView2<f64>) -> Array2<f64> {
    Tally::here().add(g.nrows() * g.nrows() * g.ncols());
    g.dot(&g.t())
}

/// `A B` through the blocked GEMM of `ndarray`/`matrixmultiply`.
pub fn matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    Tally::here().add(a.nrows() * a.ncols() * b.ncols());
    a.dot(&b)
}

/// `C <- alpha A B + beta C` (GEMM).
pub fn gemm(alpha: f64, a: &ArrayView2<f64>, b: &ArrayView2<f64>, beta: f64, c: &mut ArrayViewMut2<f64>) {
    Tally::here().add(a.nrows() * a.ncols() * b.ncols());
    general_mat_mul(alpha, a, b, beta, c);
}

/// `c^T B` for a vector `c` and a matrix `B` (ndarray's product).
pub fn vecmat(c: ArrayView1<f64>, b: ArrayView2<f64>) -> Array1<f64> {
    Tally::here().add(b.nrows() * b.ncols());
    c.dot(&b)
}

/// `a X` for a vector or matrix `X`.
pub fn scale<D: ndarray::Dimension>(x: ArrayView<f64, D>, a: f64) -> Array<f64, D> {
    let mut n = 0;
    let out = x.mapv(|v| {
        n += 1;
        v * a
    });
    Tally::here().add(n);
    out
}

/// `X <- f(X, Y)` elementwise (same shapes), one multiplication or division each.
pub fn zip_map<D: ndarray::Dimension>(
    x: &mut ArrayViewMut<f64, D>,
    y: &ArrayView<f64, D>,
    f: impl Fn(f64, f64) -> f64,
) {
    assert_eq!(x.shape(), y.shape(), "zip_map: shape mismatch");
    let mut n = 0;
    x.zip_mut_with(y, |a, &b| {
        *a = f(*a, b);
        n += 1;
    });
    Tally::here().add(n);
}

/// `C[i, k] <- C[i, k] / den[k]` (the columns of `C` by `den`).
pub fn div_cols(c: &mut Array2<f64>, den: ArrayView1<f64>) {
    assert_eq!(c.ncols(), den.len(), "div_cols: shape mismatch");
    Tally::here().add(c.len());
    *c /= &den;
}

/// Forward substitution of the dynamic algorithm's IHVP: for `i = 1..m`,
/// `y[j] -= D[i-1, j] * y[i-1] / denom[i-1]` for `j >= i` (gives `y_i = v_i^T x` from `lambda^{-1} G x`).
pub fn forward_subst(y: &mut Array1<f64>, dmat: &Array2<f64>, denom: &Array1<f64>) {
    let m = y.len();
    let mut n = 0;
    for i in 1..m {
        let a = y[i - 1] / denom[i - 1];
        n += 1;
        for j in i..m {
            y[j] -= dmat[[i - 1, j]] * a;
            n += 1;
        }
    }
    Tally::here().add(n);
}

/// Rows `from..m` of the dynamic algorithm's coefficients B (lower triangular, `v_i = sum_j
/// B[i,j] g_j`): `B[i, :i] = sum_{k<i} t_k B[k, :k+1]` with `t_k = -D[k,i] / denom[k]`.
pub fn coef_rows(coef: &mut Array2<f64>, dmat: &Array2<f64>, denom: &Array1<f64>, from: usize) {
    let m = coef.nrows();
    let mut n = 0;
    for i in from..m {
        let mut row = vec![0.0; i];
        for k in 0..i {
            let t = -dmat[[k, i]] / denom[k];
            n += 1;
            if t != 0.0 {
                // B[k, j] = 0 for j > k
                for (j, r) in row.iter_mut().enumerate().take(k + 1) {
                    *r += t * coef[[k, j]];
                    n += 1;
                }
            }
        }
        for (j, r) in row.into_iter().enumerate() {
            coef[[i, j]] = r;
        }
    }
    Tally::here().add(n);
}

/// The static algorithm's recursion inside one page of `p` rows, on the page's p x p matrix
/// `pm[j, i] = u_j^T g_i`: returns the unit lower-triangular C with `v = C u` and sets
/// `denom[i] = m + v_i^T g_i` (`denom` holds the page's p entries).
pub fn page_recursion(pm: &Array2<f64>, denom: &mut [f64], mf: f64) -> Array2<f64> {
    let p = pm.nrows();
    let mut n = 0;
    let mut cm = Array2::<f64>::eye(p);
    let mut cp = Array2::<f64>::zeros((p, p)); // rows k < i: (C P)[k, :]
    for i in 0..p {
        for k in 0..i {
            let a = cp[[k, i]] / denom[k];
            n += 1;
            if a != 0.0 {
                for j in 0..=k {
                    cm[[i, j]] -= a * cm[[k, j]];
                    n += 1;
                }
            }
        }
        for t in 0..p {
            let mut s = 0.0;
            for j in 0..=i {
                s += cm[[i, j]] * pm[[j, t]];
                n += 1;
            }
            cp[[i, t]] = s;
        }
        denom[i] = mf + cp[[i, i]];
    }
    Tally::here().add(n);
    cm
}

/// `out_j <- out_j - sum_i V_ij^2 / den_i` for the columns of `V` (m x d) (the static diagonal),
/// split over column chunks.
pub fn sub_weighted_squares(out: &mut [f64], v: ArrayView2<f64>, den: ArrayView1<f64>) {
    assert_eq!(out.len(), v.ncols(), "sub_weighted_squares: shape mismatch");
    let tally = Tally::here();
    let w: Vec<f64> = den.iter().map(|x| 1.0 / x).collect();
    tally.add(w.len());
    out.par_chunks_mut(COL_CHUNK).enumerate().for_each(|(k, chunk)| {
        let lo = k * COL_CHUNK;
        let mut n = 0;
        for (i, wi) in w.iter().enumerate() {
            let row = v.slice(ndarray::s![i, lo..lo + chunk.len()]);
            for (o, x) in chunk.iter_mut().zip(row) {
                *o -= x * x * wi;
                n += 2;
            }
        }
        tally.add(n);
    });
}

/// In-place LU factorization without pivoting (Doolittle), packed as in `torch.lu(pivot=False)`:
/// the strict lower triangle holds L (unit diagonal implied) and the upper triangle holds U.
/// Fine for the symmetric positive-definite matrices M-FAC factors (`lambda^{-1} G G^T + m I`: every
/// pivot is at least m). A non-finite input (an overflowing gradient of a diverging run) or a zero
/// pivot propagates as infinities and NaNs, which the caller's divergence check sees; it does not
/// panic.
pub fn lu_nopivot_inplace(a: &mut Array2<f64>) {
    let n = a.nrows();
    assert_eq!(n, a.ncols(), "LU of a non-square matrix");
    let mut ops = 0;
    for k in 0..n {
        let piv = a[[k, k]];
        let (top, mut rest) = a.view_mut().split_at(Axis(0), k + 1);
        let urow = top.row(k);
        for mut row in rest.outer_iter_mut() {
            let l = row[k] / piv;
            row[k] = l;
            ops += 1;
            if l != 0.0 {
                for j in k + 1..n {
                    row[j] -= l * urow[j];
                    ops += 1;
                }
            }
        }
    }
    Tally::here().add(ops);
}

/// Test-only hooks that plant a slower IHVP in the algorithms (same result, more work), to see
/// the scaling claims fail on a real measurement. Thread-local; [`crate::timing::run`] hands the
/// caller's hook to its pool's threads.
#[cfg(test)]
pub mod plant {
    use std::cell::Cell;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Plant {
        None,
        /// The dynamic IHVP forms the d x d matrix `G^T G` on every call (O(d^2 m)).
        DenseFisher,
        /// The dynamic IHVP rebuilds the vectors `v_i = B G` on every call (O(d m^2)).
        RebuildVectors,
        /// The static IHVP forms the m x m Gram matrix of its vectors on every call (O(d m^2)).
        StaticGram,
    }

    thread_local! {
        static PLANT: Cell<Plant> = const { Cell::new(Plant::None) };
    }

    pub fn get() -> Plant {
        PLANT.with(|p| p.get())
    }
    pub fn set(p: Plant) {
        PLANT.with(|c| c.set(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::rng::{Seed, gaussian_mat, gaussian_vec};

    #[test]
    fn products_match_ndarray() {
        let mut rng = Seed(1).rng();
        for &(m, d) in &[(3, 7), (17, 5000), (40, 9001)] {
            let g = gaussian_mat(&mut rng, m, d, 1.0);
            let x = gaussian_vec(&mut rng, d, 1.0);
            let c = gaussian_vec(&mut rng, m, 1.0);
            let y = gemv(g.view(), x.view());
            let y0 = g.dot(&x);
            assert!((&y - &y0).iter().all(|e| e.abs() < 1e-10 * (1.0 + y0.iter().map(|v| v.abs()).sum::<f64>())));
            let z = gemv_t(g.view(), c.view());
            let z0 = g.t().dot(&c);
            assert!((&z - &z0).iter().all(|e| e.abs() < 1e-10));
            let gg = gram(g.view());
            assert!((&gg - &g.dot(&g.t())).iter().all(|e| e.abs() < 1e-9));
        }
    }

    #[test]
    fn lu_reconstructs() {
        let mut rng = Seed(2).rng();
        let n = 9;
        let b = gaussian_mat(&mut rng, n, n, 1.0);
        let a = b.dot(&b.t()) + Array2::<f64>::eye(n) * n as f64;
        let mut lu = a.clone();
        lu_nopivot_inplace(&mut lu);
        let l = Array2::from_shape_fn((n, n), |(i, j)| match i.cmp(&j) {
            std::cmp::Ordering::Greater => lu[[i, j]],
            std::cmp::Ordering::Equal => 1.0,
            std::cmp::Ordering::Less => 0.0,
        });
        let u = Array2::from_shape_fn((n, n), |(i, j)| if i <= j { lu[[i, j]] } else { 0.0 });
        assert!((&l.dot(&u) - &a).iter().all(|e| e.abs() < 1e-10));
    }

    /// The counter sees the work of the parallel tasks, nests, and counts only on its thread.
    #[test]
    fn the_counter_counts_executed_work_in_parallel_tasks() {
        let mut rng = Seed(3).rng();
        let (m, d) = (8, 40_000); // above PAR_MIN_WORK: rows and chunks run as rayon tasks
        let g = gaussian_mat(&mut rng, m, d, 1.0);
        let x = gaussian_vec(&mut rng, d, 1.0);
        let mut c = gaussian_vec(&mut rng, m, 1.0);
        c[3] = 0.0; // a skipped row is not executed, so not counted
        let (n, _) = count_ops(|| gemv(g.view(), x.view()));
        assert_eq!(n, (m * d) as u64);
        let (n, _) = count_ops(|| gemv_t(g.view(), c.view()));
        assert_eq!(n, ((m - 1) * d) as u64);
        let (outer, inner) = count_ops(|| {
            let (inner, _) = count_ops(|| gemv(g.view(), x.view()));
            gemv(g.view(), x.view());
            inner
        });
        assert_eq!((outer, inner), (2 * (m * d) as u64, (m * d) as u64));
        // nothing is counted outside count_ops, and a count on another thread does not leak here
        let (n, _) = count_ops(|| std::thread::scope(|s| s.spawn(|| gemv(g.view(), x.view())).join().unwrap()));
        assert_eq!(n, 0);
        let mut w = vec![0.0; d];
        let (n, _) = count_ops(|| sub_weighted_squares(&mut w, g.view(), Array1::ones(m).view()));
        assert_eq!(n, (2 * m * d + m) as u64);
    }
}
