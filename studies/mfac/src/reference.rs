//! References outside the M-FAC algorithms, for the exactness checks: the dense damped empirical
//! Fisher factored by `common`'s Cholesky (faer, sequential; O(d^2 m + d^3)), and the repo's `HInvSlow` (dense
//! recursive Sherman-Morrison, O(m d^2)).
use common::linalg::dense::Cholesky;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// `F = damp I + (1/m) G^T G` (d x d).
pub fn dense_fisher(grads: ArrayView2<f64>, damp: f64) -> Array2<f64> {
    let m = grads.nrows() as f64;
    let mut f = grads.t().dot(&grads) / m;
    for i in 0..f.nrows() {
        f[[i, i]] += damp;
    }
    f
}

/// Cholesky factor of the dense damped Fisher. When F is not positive definite in floating point
/// (a damping far below the rounding of `G^T G`), the factor is missing and every answer is NaN,
/// so the comparison that uses it fails visibly instead of aborting the run.
pub struct DenseFisher {
    d: usize,
    chol: Option<Cholesky>,
}

impl DenseFisher {
    pub fn new(grads: ArrayView2<f64>, damp: f64) -> Self {
        DenseFisher { d: grads.ncols(), chol: Cholesky::new(dense_fisher(grads, damp).view()).ok() }
    }
    /// Whether the Cholesky factorization succeeded.
    pub fn factored(&self) -> bool {
        self.chol.is_some()
    }
    /// `F^{-1} x` by two triangular solves (NaN without a factor).
    pub fn solve(&self, x: ArrayView1<f64>) -> Array1<f64> {
        match &self.chol {
            Some(c) => c.solve(x),
            None => Array1::from_elem(x.len(), f64::NAN),
        }
    }
    /// The explicit inverse `F^{-1}` (NaN without a factor).
    pub fn inverse(&self) -> Array2<f64> {
        match &self.chol {
            Some(c) => c.inverse(),
            None => Array2::from_elem((self.d, self.d), f64::NAN),
        }
    }
}

/// The repo's `HInvSlow`: `H <- H - (H g)(H g)^T / (m + g^T H g)` from `H = I / damp`.
pub fn hinv_slow(grads: ArrayView2<f64>, damp: f64) -> Array2<f64> {
    let (m, d) = grads.dim();
    let mut h = Array2::<f64>::eye(d) / damp;
    for g in grads.outer_iter() {
        let hg = h.dot(&g);
        let den = m as f64 + g.dot(&hg);
        for i in 0..d {
            let a = hg[i] / den;
            if a != 0.0 {
                let mut row = h.row_mut(i);
                row.scaled_add(-a, &hg);
            }
        }
    }
    h
}

/// `||a - b|| / ||b||` (Euclidean).
pub fn rel_err(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    let den: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    num / den
}

/// `max_i |a_i - b_i| / |b_i|` (elementwise; for diagonals, which are positive).
pub fn max_rel_err(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs()).fold(0.0, f64::max)
}
