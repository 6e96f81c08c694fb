//! The few dense kernels M-FAC needs, on row-major `m x d` gradient matrices: `G x` (m dot
//! products of length d), `G^T c` (a weighted sum of rows), and LU without pivoting of a small
//! `m x m` matrix. The two O(dm) products are split over rows / column chunks with rayon; every
//! output element is summed in a fixed order, so results do not depend on the thread count.
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use std::cell::Cell;

thread_local! {
    static OPS: Cell<u64> = const { Cell::new(0) };
}

/// Count `n` multiply-adds on the calling thread. Every arithmetic loop of the M-FAC algorithms
/// (these kernels, the small m x m recursions, the GEMMs of the static setup) reports its size
/// here before it runs, whatever threads then execute it; [`ops`] reads the running total. The
/// scaling claims fit the growth of this count, which no other process on the machine can disturb.
pub fn add_ops(n: u64) {
    OPS.with(|c| c.set(c.get() + n));
}

/// Multiply-adds counted so far on this thread.
pub fn ops() -> u64 {
    OPS.with(|c| c.get())
}

/// Multiply-adds counted while `f` runs on this thread, and its result.
pub fn count_ops<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = ops();
    let r = f();
    (ops() - before, r)
}

/// Below this many multiply-adds a product runs on the calling thread (rayon overhead dominates).
const PAR_MIN_WORK: usize = 1 << 16;
/// Columns per task of `G^T c`: long enough to stream, short enough to stay in L1/L2.
const COL_CHUNK: usize = 4096;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four independent accumulators: vectorizes and keeps a fixed summation order.
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

fn row_slice<'a>(g: &'a ArrayView2<'a, f64>, i: usize) -> &'a [f64] {
    g.row(i).to_slice().expect("rows of a standard-layout matrix are contiguous")
}

/// `G x` for a row-major `m x d` matrix `G`.
pub fn gemv(g: ArrayView2<f64>, x: ArrayView1<f64>) -> Array1<f64> {
    assert_eq!(g.ncols(), x.len(), "gemv: shape mismatch");
    assert!(g.is_standard_layout(), "gemv: G must be row-major");
    let xs = x.as_slice().map(std::borrow::Cow::Borrowed).unwrap_or_else(|| x.to_vec().into());
    let m = g.nrows();
    add_ops((m * g.ncols()) as u64);
    if m * g.ncols() < PAR_MIN_WORK {
        return Array1::from_shape_fn(m, |i| dot(row_slice(&g, i), &xs));
    }
    let out: Vec<f64> = (0..m).into_par_iter().map(|i| dot(row_slice(&g, i), &xs)).collect();
    Array1::from(out)
}

/// `G^T c` for a row-major `m x d` matrix `G` (a weighted sum of its rows), streaming `G` once.
pub fn gemv_t(g: ArrayView2<f64>, c: ArrayView1<f64>) -> Array1<f64> {
    assert_eq!(g.nrows(), c.len(), "gemv_t: shape mismatch");
    assert!(g.is_standard_layout(), "gemv_t: G must be row-major");
    let (m, d) = g.dim();
    add_ops((m * d) as u64);
    let mut out = vec![0.0f64; d];
    let body = |(k, chunk): (usize, &mut [f64])| {
        let lo = k * COL_CHUNK;
        for i in 0..m {
            let ci = c[i];
            if ci == 0.0 {
                continue;
            }
            let row = &row_slice(&g, i)[lo..lo + chunk.len()];
            for (o, r) in chunk.iter_mut().zip(row) {
                *o += ci * r;
            }
        }
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
    add_ops((g.nrows() * g.nrows() * g.ncols()) as u64);
    g.dot(&g.t())
}

/// In-place LU factorization without pivoting (Doolittle), packed as in `torch.lu(pivot=False)`:
/// the strict lower triangle holds L (unit diagonal implied) and the upper triangle holds U.
/// Fine for the symmetric positive-definite matrices M-FAC factors; panics on a zero pivot.
pub fn lu_nopivot_inplace(a: &mut Array2<f64>) {
    let n = a.nrows();
    assert_eq!(n, a.ncols(), "LU of a non-square matrix");
    add_ops((0..n).map(|k| ((n - k - 1) * (n - k)) as u64).sum());
    for k in 0..n {
        let piv = a[[k, k]];
        assert!(piv != 0.0 && piv.is_finite(), "LU without pivoting met pivot {piv} at {k}");
        let (top, mut rest) = a.view_mut().split_at(Axis(0), k + 1);
        let urow = top.row(k);
        for mut row in rest.outer_iter_mut() {
            let l = row[k] / piv;
            row[k] = l;
            if l != 0.0 {
                for j in k + 1..n {
                    row[j] -= l * urow[j];
                }
            }
        }
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
}
