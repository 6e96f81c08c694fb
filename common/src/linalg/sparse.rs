//! Sparse matrices in compressed sparse row (CSR) form, the Dirichlet Laplacians of 1-, 2- and
//! 3-D grids, and the zero-fill incomplete Cholesky factorization IC(0) as a preconditioner.
//!
//! - [`CsrMatrix`]: built from `(row, col, value)` triplets (duplicates summed in input order,
//!   columns sorted within each row), SpMV ([`CsrMatrix::matvec`]; each `y_i` is summed by one
//!   thread in column order, so the result does not depend on the thread count), transpose,
//!   products with a dense matrix (rows = nodes for message passing), row normalization, and
//!   [`LinOp`] so that [`crate::linalg::cg`], [`crate::linalg::pcg`] and Lanczos run on it (the
//!   matrix must then be symmetric; [`CsrMatrix::is_symmetric`] checks).
//! - [`laplacian_1d`], [`laplacian_2d`], [`laplacian_3d`]: the negative Dirichlet Laplacian
//!   `−Δ_h` on the interior points of a grid of `n` (resp. `n × n`, `n × n × n`) points with
//!   spacing `h` (the unit interval/square/cube has `h = 1/(n+1)`): the 3-, 5- and 7-point
//!   stencils `(2d u_i − Σ_neighbours u_j) / h²` with the boundary values zero. Pass `h = 1` for
//!   the integer stencil (diagonal `2d`, off-diagonal `−1`) that Poisson-solver papers usually
//!   print; scaling by `1/h²` changes no CG iterate's relative residual. Unknowns are ordered
//!   lexicographically with `x` fastest: `(i, j, k) ↦ i + n j + n² k`. The matrices are SPD with
//!   the closed-form spectrum ([`laplacian_eigenvalues`])
//!   `λ_{j₁…j_d} = (4/h²) Σ_a sin²(j_a π / (2(n+1)))`, `j_a = 1..n`, and eigenvectors the products
//!   of `sin(j_a π i_a / (n+1))` ([`laplacian_2d_mode`]) (LeVeque 2007, *Finite Difference
//!   Methods*, §3.4).
//! - [`Ic0`]: incomplete Cholesky with the sparsity of the lower triangle of `A`
//!   (`L_ij = (A_ij − Σ_{k<j} L_ik L_jk) / L_jj` for `(i, j)` in the pattern, `L_ii =
//!   sqrt(A_ii − Σ_{k<i} L_ik²)`; Saad 2003, *Iterative Methods for Sparse Linear Systems*,
//!   §10.3), and [`Ic0::solve`], `(L Lᵀ)⁻¹ r` by forward and back substitution. Where `A` has no
//!   fill-in (a tridiagonal matrix) IC(0) is the exact Cholesky factor.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1};
use rayon::prelude::*;

use super::LinOp;

/// Bad input to a sparse constructor or factorization.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SparseError {
    /// A triplet's index lies outside the shape.
    #[error("sparse: entry ({row}, {col}) is outside the {nrows} x {ncols} matrix")]
    OutOfRange {
        /// The row index.
        row: usize,
        /// The column index.
        col: usize,
        /// Rows of the matrix.
        nrows: usize,
        /// Columns of the matrix.
        ncols: usize,
    },
    /// A value is NaN or infinite.
    #[error("sparse: entry ({row}, {col}) is not finite")]
    NonFinite {
        /// The row index.
        row: usize,
        /// The column index.
        col: usize,
    },
    /// IC(0) met a diagonal that is missing or not positive (`A` is not SPD, or IC(0) breaks
    /// down on it, which can happen for SPD matrices that are not M-matrices).
    #[error("ic0: pivot {row} is {value:e} (not positive, or missing from the pattern)")]
    NotPositive {
        /// The row of the failing pivot.
        row: usize,
        /// The value under the square root (0 where the diagonal is missing).
        value: f64,
    },
}

/// A sparse matrix in compressed sparse row form: row `i` holds the columns
/// `indices[indptr[i]..indptr[i+1]]` (strictly increasing) and their values `data[..]`.
/// Explicit zeros are kept (they are part of the pattern, which IC(0) uses).
#[derive(Clone, Debug, PartialEq)]
pub struct CsrMatrix {
    nrows: usize,
    ncols: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<f64>,
}

/// Rows of at least this many non-zeros in total are multiplied in parallel (one thread per row,
/// so the bits do not change).
const PAR_NNZ: usize = 1 << 16;

impl CsrMatrix {
    /// The `nrows x ncols` matrix with the given `(row, col, value)` entries; repeated positions
    /// are summed (in input order), columns sorted within each row. Errors on an index out of
    /// range or a non-finite value.
    pub fn from_triplets(nrows: usize, ncols: usize, triplets: &[(usize, usize, f64)]) -> Result<Self, SparseError> {
        for &(row, col, v) in triplets {
            if row >= nrows || col >= ncols {
                return Err(SparseError::OutOfRange { row, col, nrows, ncols });
            }
            if !v.is_finite() {
                return Err(SparseError::NonFinite { row, col });
            }
        }
        // Counting sort by row, then a stable sort by column within each row: equal positions
        // stay in input order, so duplicates are summed in input order.
        let mut count = vec![0usize; nrows + 1];
        for &(r, _, _) in triplets {
            count[r + 1] += 1;
        }
        for i in 0..nrows {
            count[i + 1] += count[i];
        }
        let mut next = count.clone();
        let mut order = vec![0usize; triplets.len()];
        for (t, &(r, _, _)) in triplets.iter().enumerate() {
            order[next[r]] = t;
            next[r] += 1;
        }
        let mut indptr = Vec::with_capacity(nrows + 1);
        let mut indices = Vec::with_capacity(triplets.len());
        let mut data = Vec::with_capacity(triplets.len());
        indptr.push(0);
        for i in 0..nrows {
            let row = &mut order[count[i]..count[i + 1]];
            row.sort_by_key(|&t| triplets[t].1);
            for &t in row.iter() {
                let (_, c, v) = triplets[t];
                if indices.len() > indptr[i] && indices.last() == Some(&c) {
                    *data.last_mut().unwrap() += v;
                } else {
                    indices.push(c);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Ok(CsrMatrix { nrows, ncols, indptr, indices, data })
    }

    /// The non-zero entries of a dense matrix (exact zeros dropped). Panics on a non-finite entry.
    pub fn from_dense(a: ArrayView2<f64>) -> Self {
        let t: Vec<(usize, usize, f64)> =
            a.indexed_iter().filter(|(_, v)| **v != 0.0).map(|((i, j), v)| (i, j, *v)).collect();
        CsrMatrix::from_triplets(a.nrows(), a.ncols(), &t).expect("from_dense: finite entries")
    }

    /// The `n x n` identity.
    pub fn identity(n: usize) -> Self {
        CsrMatrix { nrows: n, ncols: n, indptr: (0..=n).collect(), indices: (0..n).collect(), data: vec![1.0; n] }
    }

    /// Rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }
    /// Columns.
    pub fn ncols(&self) -> usize {
        self.ncols
    }
    /// Stored entries (explicit zeros included).
    pub fn nnz(&self) -> usize {
        self.data.len()
    }
    /// Row pointers (`nrows + 1` of them).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }
    /// Column indices of the stored entries, row by row.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
    /// Values of the stored entries, row by row.
    pub fn data(&self) -> &[f64] {
        &self.data
    }
    /// Row `i`: its column indices and values.
    pub fn row(&self, i: usize) -> (&[usize], &[f64]) {
        let r = self.indptr[i]..self.indptr[i + 1];
        (&self.indices[r.clone()], &self.data[r])
    }
    /// The entry `(i, j)` (0 where not stored).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (c, v) = self.row(i);
        c.binary_search(&j).map_or(0.0, |k| v[k])
    }
    /// The main diagonal (0 where not stored).
    pub fn diagonal(&self) -> Array1<f64> {
        Array1::from_shape_fn(self.nrows.min(self.ncols), |i| self.get(i, i))
    }

    /// `y = A x` into a caller's buffer (no allocation).
    pub fn matvec_into(&self, x: ArrayView1<f64>, mut y: ArrayViewMut1<f64>) {
        assert_eq!(x.len(), self.ncols, "matvec: x has length {} but the matrix has {} columns", x.len(), self.ncols);
        assert_eq!(y.len(), self.nrows, "matvec: y has length {} but the matrix has {} rows", y.len(), self.nrows);
        let row = |i: usize| -> f64 {
            let mut s = 0.0;
            for k in self.indptr[i]..self.indptr[i + 1] {
                s += self.data[k] * x[self.indices[k]];
            }
            s
        };
        if self.nnz() >= PAR_NNZ
            && let Some(ys) = y.as_slice_mut()
        {
            ys.par_iter_mut().enumerate().for_each(|(i, yi)| *yi = row(i));
        } else {
            y.iter_mut().enumerate().for_each(|(i, yi)| *yi = row(i));
        }
    }

    /// `A x`.
    pub fn matvec(&self, x: ArrayView1<f64>) -> Array1<f64> {
        let mut y = Array1::zeros(self.nrows);
        self.matvec_into(x, y.view_mut());
        y
    }

    /// `A X` for a dense `X` (`ncols x f`): each output row is a weighted sum of rows of `X`
    /// (message passing with rows = nodes), in column order.
    pub fn matmat(&self, x: ArrayView2<f64>) -> Array2<f64> {
        assert_eq!(x.nrows(), self.ncols, "matmat: X has {} rows but the matrix has {} columns", x.nrows(), self.ncols);
        let mut y = Array2::zeros((self.nrows, x.ncols()));
        for (i, mut yi) in y.outer_iter_mut().enumerate() {
            for k in self.indptr[i]..self.indptr[i + 1] {
                yi.scaled_add(self.data[k], &x.row(self.indices[k]));
            }
        }
        y
    }

    /// The transpose (columns sorted within each row).
    pub fn transpose(&self) -> CsrMatrix {
        let mut count = vec![0usize; self.ncols + 1];
        for &c in &self.indices {
            count[c + 1] += 1;
        }
        for j in 0..self.ncols {
            count[j + 1] += count[j];
        }
        let indptr = count.clone();
        let mut next = count;
        let mut indices = vec![0usize; self.nnz()];
        let mut data = vec![0.0; self.nnz()];
        // Rows in increasing order: each transposed row receives its columns sorted.
        for i in 0..self.nrows {
            for k in self.indptr[i]..self.indptr[i + 1] {
                let c = self.indices[k];
                indices[next[c]] = i;
                data[next[c]] = self.data[k];
                next[c] += 1;
            }
        }
        CsrMatrix { nrows: self.ncols, ncols: self.nrows, indptr, indices, data }
    }

    /// The dense matrix (for tests and small problems).
    pub fn to_dense(&self) -> Array2<f64> {
        let mut a = Array2::zeros((self.nrows, self.ncols));
        for i in 0..self.nrows {
            let (c, v) = self.row(i);
            for (&j, &x) in c.iter().zip(v) {
                a[[i, j]] += x;
            }
        }
        a
    }

    /// The same pattern with every value multiplied by `c`.
    pub fn scaled(&self, c: f64) -> CsrMatrix {
        CsrMatrix { data: self.data.iter().map(|v| c * v).collect(), ..self.clone() }
    }

    /// Row sums.
    pub fn row_sums(&self) -> Array1<f64> {
        Array1::from_shape_fn(self.nrows, |i| self.row(i).1.iter().sum())
    }

    /// `D⁻¹ A` with `D = diag(row sums)`: every row with a non-zero sum then sums to 1; rows that
    /// sum to 0 (no entries) stay 0.
    pub fn row_normalized(&self) -> CsrMatrix {
        let mut out = self.clone();
        for i in 0..self.nrows {
            let r = self.indptr[i]..self.indptr[i + 1];
            let s: f64 = self.data[r.clone()].iter().sum();
            if s != 0.0 {
                out.data[r].iter_mut().for_each(|v| *v /= s);
            }
        }
        out
    }

    /// Whether the matrix is square and `|A_ij − A_ji| <= tol` for every stored entry.
    pub fn is_symmetric(&self, tol: f64) -> bool {
        self.nrows == self.ncols
            && (0..self.nrows).all(|i| {
                let (c, v) = self.row(i);
                c.iter().zip(v).all(|(&j, &x)| (x - self.get(j, i)).abs() <= tol)
            })
    }

    /// The lower triangle (diagonal included) as its own matrix.
    pub fn lower(&self) -> CsrMatrix {
        let mut t = vec![];
        for i in 0..self.nrows {
            let (c, v) = self.row(i);
            t.extend(c.iter().zip(v).filter(|(j, _)| **j <= i).map(|(&j, &x)| (i, j, x)));
        }
        CsrMatrix::from_triplets(self.nrows, self.ncols, &t).expect("entries of a valid matrix")
    }
}

/// A square CSR matrix as a (symmetric) operator for CG and Lanczos: the caller vouches for the
/// symmetry, as for a dense `Array2`.
impl LinOp for CsrMatrix {
    fn dim(&self) -> usize {
        debug_assert_eq!(self.nrows, self.ncols, "LinOp needs a square matrix");
        self.nrows
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        self.matvec(v)
    }
}

/// The Dirichlet Laplacian stencil on a `d`-dimensional grid of `n^d` interior points.
fn laplacian_nd(n: usize, d: u32, h: f64) -> CsrMatrix {
    assert!(h > 0.0 && h.is_finite(), "laplacian: spacing h = {h} must be positive");
    let dim = n.pow(d);
    let (diag, off) = (2.0 * d as f64 / (h * h), -1.0 / (h * h));
    let mut t = Vec::with_capacity(dim * (2 * d as usize + 1));
    for p in 0..dim {
        let mut stride = 1;
        // Neighbours in increasing index order: −z, −y, −x, self, +x, +y, +z.
        let mut below = vec![];
        let mut above = vec![];
        for _ in 0..d {
            let coord = (p / stride) % n;
            if coord > 0 {
                below.push(p - stride);
            }
            if coord + 1 < n {
                above.push(p + stride);
            }
            stride *= n;
        }
        below.reverse();
        t.extend(below.into_iter().map(|q| (p, q, off)));
        t.push((p, p, diag));
        t.extend(above.into_iter().map(|q| (p, q, off)));
    }
    CsrMatrix::from_triplets(dim, dim, &t).expect("stencil entries are in range and finite")
}

/// `−Δ_h` on `n` interior points of a line with spacing `h`: tridiagonal `(2, −1) / h²`.
pub fn laplacian_1d(n: usize, h: f64) -> CsrMatrix {
    laplacian_nd(n, 1, h)
}

/// `−Δ_h` on the `n × n` interior points of a square grid with spacing `h` (5-point stencil
/// `(4 u_p − Σ_4 neighbours) / h²`, Dirichlet zero outside), unknown `i + n j`.
pub fn laplacian_2d(n: usize, h: f64) -> CsrMatrix {
    laplacian_nd(n, 2, h)
}

/// `−Δ_h` on the `n × n × n` interior points of a cubic grid with spacing `h` (7-point stencil
/// `(6 u_p − Σ_6 neighbours) / h²`, Dirichlet zero outside), unknown `i + n j + n² k`.
pub fn laplacian_3d(n: usize, h: f64) -> CsrMatrix {
    laplacian_nd(n, 3, h)
}

/// The eigenvalues of [`laplacian_1d`]/[`laplacian_2d`]/[`laplacian_3d`] (`d` = 1, 2, 3) in
/// closed form, ascending: `(4/h²) Σ_a sin²(j_a π / (2(n+1)))` over `j ∈ {1..n}^d`.
pub fn laplacian_eigenvalues(n: usize, d: u32, h: f64) -> Vec<f64> {
    let s: Vec<f64> = (1..=n)
        .map(|j| 4.0 / (h * h) * (j as f64 * std::f64::consts::PI / (2.0 * (n + 1) as f64)).sin().powi(2))
        .collect();
    let mut out = vec![0.0];
    for _ in 0..d {
        out = out.iter().flat_map(|a| s.iter().map(move |b| a + b)).collect();
    }
    out.sort_by(f64::total_cmp);
    out
}

/// The `(j, k)` eigenpair (`1 <= j, k <= n`) of [`laplacian_2d`]: the eigenvalue
/// `(4/h²)(sin²(jπ/(2(n+1))) + sin²(kπ/(2(n+1))))` and the unit eigenvector
/// `v[a + n b] ∝ sin(jπ(a+1)/(n+1)) sin(kπ(b+1)/(n+1))`.
pub fn laplacian_2d_mode(n: usize, j: usize, k: usize, h: f64) -> (f64, Array1<f64>) {
    assert!((1..=n).contains(&j) && (1..=n).contains(&k), "laplacian_2d_mode: (j, k) = ({j}, {k}) outside 1..={n}");
    let w = std::f64::consts::PI / (n + 1) as f64;
    let lam = 4.0 / (h * h) * ((j as f64 * w / 2.0).sin().powi(2) + (k as f64 * w / 2.0).sin().powi(2));
    // Each sine vector has squared norm (n+1)/2.
    let c = 2.0 / (n + 1) as f64;
    let v = Array1::from_shape_fn(n * n, |p| {
        let (a, b) = (p % n, p / n);
        c * (j as f64 * w * (a + 1) as f64).sin() * (k as f64 * w * (b + 1) as f64).sin()
    });
    (lam, v)
}

/// The IC(0) factor `L` (lower triangular, the pattern of `A`'s lower triangle) of a symmetric
/// matrix, with `A ≈ L Lᵀ`; [`Ic0::solve`] applies `(L Lᵀ)⁻¹`.
#[derive(Clone, Debug)]
pub struct Ic0 {
    l: CsrMatrix,
}

impl Ic0 {
    /// Factor `a` (square; only its lower triangle is read). Errors with
    /// [`SparseError::NotPositive`] at the first pivot that is missing or not positive.
    pub fn new(a: &CsrMatrix) -> Result<Self, SparseError> {
        assert_eq!(a.nrows, a.ncols, "ic0: the matrix must be square, got {} x {}", a.nrows, a.ncols);
        let mut l = a.lower();
        let n = l.nrows;
        for i in 0..n {
            let (start, end) = (l.indptr[i], l.indptr[i + 1]);
            if end == start || l.indices[end - 1] != i {
                return Err(SparseError::NotPositive { row: i, value: 0.0 });
            }
            for p in start..end - 1 {
                let j = l.indices[p];
                // Σ_{k<j} L_ik L_jk over the two sorted patterns.
                let (mut a_, mut b_) = (start, l.indptr[j]);
                let b_end = l.indptr[j + 1] - 1; // row j's diagonal is last
                let mut s = 0.0;
                while a_ < p && b_ < b_end {
                    let (ca, cb) = (l.indices[a_], l.indices[b_]);
                    if ca == cb {
                        s += l.data[a_] * l.data[b_];
                        a_ += 1;
                        b_ += 1;
                    } else if ca < cb {
                        a_ += 1;
                    } else {
                        b_ += 1;
                    }
                }
                l.data[p] = (l.data[p] - s) / l.data[b_end];
            }
            let s: f64 = l.data[start..end - 1].iter().map(|x| x * x).sum();
            let piv = l.data[end - 1] - s;
            if piv.is_nan() || piv <= 0.0 {
                return Err(SparseError::NotPositive { row: i, value: piv });
            }
            l.data[end - 1] = piv.sqrt();
        }
        Ok(Ic0 { l })
    }

    /// The factor `L`.
    pub fn l(&self) -> &CsrMatrix {
        &self.l
    }

    /// `r ← (L Lᵀ)⁻¹ r` in place: `L y = r` forward, then `Lᵀ x = y` backward (by columns of
    /// `Lᵀ`, i.e. the rows of `L`).
    pub fn solve_in_place(&self, mut r: ArrayViewMut1<f64>) {
        let l = &self.l;
        assert_eq!(r.len(), l.nrows, "ic0: vector of length {} for a {} x {} factor", r.len(), l.nrows, l.nrows);
        for i in 0..l.nrows {
            let (start, end) = (l.indptr[i], l.indptr[i + 1]);
            let mut s = r[i];
            for k in start..end - 1 {
                s -= l.data[k] * r[l.indices[k]];
            }
            r[i] = s / l.data[end - 1];
        }
        for i in (0..l.nrows).rev() {
            let (start, end) = (l.indptr[i], l.indptr[i + 1]);
            let xi = r[i] / l.data[end - 1];
            r[i] = xi;
            for k in start..end - 1 {
                r[l.indices[k]] -= l.data[k] * xi;
            }
        }
    }

    /// `(L Lᵀ)⁻¹ r`: the preconditioner for [`crate::linalg::pcg`]
    /// (`pcg(&a, &|r| ic.solve(r), b, tol, max_iter)`).
    pub fn solve(&self, r: ArrayView1<f64>) -> Array1<f64> {
        let mut x = r.to_owned();
        self.solve_in_place(x.view_mut());
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{cg, cholesky, eigvalsh, pcg};
    use crate::rng::{Seed, gaussian_vec};
    use proptest::prelude::*;
    use rand::Rng;

    fn random_triplets(seed: u64, n: usize, m: usize, k: usize) -> Vec<(usize, usize, f64)> {
        let mut rng = Seed(seed).rng();
        (0..k).map(|_| (rng.random_range(0..n), rng.random_range(0..m), rng.random_range(-1.0..1.0))).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn triplets_spmv_transpose_match_dense(seed in 0u64..10_000, n in 1usize..12, m in 1usize..12, k in 0usize..60) {
            let t = random_triplets(seed, n, m, k);
            let a = CsrMatrix::from_triplets(n, m, &t).unwrap();
            let mut d = Array2::zeros((n, m));
            for &(i, j, v) in &t {
                d[[i, j]] += v;
            }
            prop_assert!((&a.to_dense() - &d).iter().all(|x| x.abs() < 1e-14));
            for i in 0..n {
                prop_assert!(a.row(i).0.windows(2).all(|w| w[0] < w[1]));
            }
            let x = gaussian_vec(&mut Seed(seed).child("x").rng(), m, 1.0);
            let y = a.matvec(x.view());
            prop_assert!((&y - &d.dot(&x)).iter().all(|v| v.abs() < 1e-12));
            let at = a.transpose();
            prop_assert_eq!(at.to_dense(), d.t().to_owned());
            prop_assert_eq!(at.transpose(), a.clone());
            let xm = crate::rng::gaussian_mat(&mut Seed(seed).child("X").rng(), m, 3, 1.0);
            prop_assert!((&a.matmat(xm.view()) - &d.dot(&xm)).iter().all(|v| v.abs() < 1e-12));
        }
    }

    #[test]
    fn duplicates_are_summed_and_out_of_range_refused() {
        let a = CsrMatrix::from_triplets(2, 3, &[(1, 2, 1.0), (0, 1, 2.0), (1, 2, 0.5), (1, 0, -1.0)]).unwrap();
        assert_eq!(a.nnz(), 3);
        assert_eq!(a.indptr(), &[0, 1, 3]);
        assert_eq!(a.indices(), &[1, 0, 2]);
        assert_eq!(a.data(), &[2.0, -1.0, 1.5]);
        assert_eq!(a.get(1, 1), 0.0);
        assert!(matches!(CsrMatrix::from_triplets(2, 2, &[(2, 0, 1.0)]), Err(SparseError::OutOfRange { .. })));
        assert!(matches!(CsrMatrix::from_triplets(2, 2, &[(0, 0, f64::NAN)]), Err(SparseError::NonFinite { .. })));
    }

    #[test]
    fn spmv_is_the_same_in_parallel() {
        // Large enough for the parallel path; compare with the single-thread bits.
        let a = laplacian_3d(30, 0.1);
        assert!(a.nnz() >= PAR_NNZ);
        let x = gaussian_vec(&mut Seed(3).rng(), a.ncols(), 1.0);
        let par = a.matvec(x.view());
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let seq = pool.install(|| a.matvec(x.view()));
        assert_eq!(par, seq);
    }

    #[test]
    fn laplacian_spectra_match_the_closed_form() {
        for (d, n) in [(1u32, 9usize), (2, 7), (3, 4)] {
            let h = 1.0 / (n + 1) as f64;
            let a = match d {
                1 => laplacian_1d(n, h),
                2 => laplacian_2d(n, h),
                _ => laplacian_3d(n, h),
            };
            assert!(a.is_symmetric(0.0));
            assert_eq!(a.nnz(), n.pow(d) * (2 * d as usize + 1) - 2 * d as usize * n.pow(d - 1));
            let ev = eigvalsh(&a.to_dense());
            let cf = laplacian_eigenvalues(n, d, h);
            for (x, y) in ev.iter().zip(&cf) {
                assert!((x - y).abs() < 1e-10 * y, "d = {d}: {x} vs {y}");
            }
            // Smallest eigenvalue → d π² as h → 0 (the continuous Dirichlet Laplacian), from
            // below with relative error under (πh/2)²/3 (sin² x / x² > 1 − x²/3).
            let pi2 = std::f64::consts::PI.powi(2);
            let rel = 1.0 - cf[0] / (d as f64 * pi2);
            assert!(rel > 0.0 && rel < pi2 * h * h / 12.0, "d = {d}: {rel}");
        }
        let a = laplacian_2d(6, 0.5);
        let (lam, v) = laplacian_2d_mode(6, 2, 5, 0.5);
        assert!((v.dot(&v) - 1.0).abs() < 1e-12);
        assert!((&a.matvec(v.view()) - &(&v * lam)).iter().all(|x| x.abs() < 1e-12));
    }

    #[test]
    fn cg_and_ic0_pcg_solve_the_poisson_system() {
        let n = 32;
        let a = laplacian_2d(n, 1.0);
        let b = gaussian_vec(&mut Seed(7).rng(), n * n, 1.0);
        let r = cg(&a, b.view(), 1e-10, 1000);
        assert!(r.converged);
        let res = &b - &a.matvec(r.x.view());
        assert!(res.dot(&res).sqrt() < 1e-9 * b.dot(&b).sqrt());
        assert_eq!(r.history.len(), r.iters + 1);
        assert_eq!(r.history[0], 1.0);
        let ic = Ic0::new(&a).unwrap();
        let p = pcg(&a, &|v| ic.solve(v), b.view(), 1e-10, 1000);
        assert!(p.converged);
        assert!((&p.x - &r.x).iter().all(|v| v.abs() < 1e-7));
        // IC(0) on the 5-point Laplacian roughly halves..thirds CG's iterations.
        assert!((p.iters as f64) < 0.6 * r.iters as f64, "pcg {} vs cg {}", p.iters, r.iters);
        // At tol 1e-4 on a white-noise RHS, CG takes the spec's 66–68 iterations at N = 32.
        let iters: Vec<usize> =
            (0..3).map(|s| cg(&a, gaussian_vec(&mut Seed(s).rng(), n * n, 1.0).view(), 1e-4, 1000).iters).collect();
        assert!(iters.iter().all(|&k| (60..=72).contains(&k)), "{iters:?}");
    }

    #[test]
    fn ic0_of_a_tridiagonal_is_the_exact_cholesky() {
        let mut rng = Seed(11).rng();
        let n = 12;
        let mut t = vec![];
        for i in 0..n {
            t.push((i, i, 3.0 + rng.random_range(0.0..1.0)));
            if i + 1 < n {
                let o = rng.random_range(-1.0..1.0);
                t.push((i, i + 1, o));
                t.push((i + 1, i, o));
            }
        }
        let a = CsrMatrix::from_triplets(n, n, &t).unwrap();
        let ic = Ic0::new(&a).unwrap();
        let l = cholesky(a.to_dense().view()).unwrap().l();
        assert!((&ic.l().to_dense() - &l).iter().all(|v| v.abs() < 1e-13));
        let b = gaussian_vec(&mut rng, n, 1.0);
        let x = ic.solve(b.view());
        assert!((&a.matvec(x.view()) - &b).iter().all(|v| v.abs() < 1e-12));
        // A missing or non-positive pivot is a typed error.
        let bad = CsrMatrix::from_triplets(2, 2, &[(0, 0, 1.0), (1, 0, 2.0), (1, 1, 1.0)]).unwrap();
        assert!(matches!(Ic0::new(&bad), Err(SparseError::NotPositive { row: 1, .. })));
        let missing = CsrMatrix::from_triplets(2, 2, &[(0, 0, 1.0)]).unwrap();
        assert!(matches!(Ic0::new(&missing), Err(SparseError::NotPositive { row: 1, .. })));
    }

    #[test]
    fn ic0_matches_a_on_its_pattern() {
        // The defining property: (L Lᵀ)_ij = A_ij on the pattern of A (2-D Laplacian has fill
        // outside it, so L Lᵀ ≠ A there).
        let a = laplacian_2d(5, 1.0);
        let ic = Ic0::new(&a).unwrap();
        let l = ic.l().to_dense();
        let llt = l.dot(&l.t());
        let ad = a.to_dense();
        for i in 0..a.nrows() {
            for &j in a.row(i).0 {
                assert!((llt[[i, j]] - ad[[i, j]]).abs() < 1e-12);
            }
        }
        assert!((&llt - &ad).iter().any(|v| v.abs() > 1e-3));
    }

    #[test]
    fn row_normalized_rows_sum_to_one() {
        let a = CsrMatrix::from_triplets(3, 3, &[(0, 1, 2.0), (0, 2, 6.0), (2, 0, 0.5)]).unwrap();
        let s = a.row_normalized().row_sums();
        assert_eq!(s.to_vec(), vec![1.0, 0.0, 1.0]);
        assert_eq!(a.row_normalized().get(0, 2), 0.75);
    }
}
