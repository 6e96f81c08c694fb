//! References outside the M-FAC algorithms, for the exactness checks: the dense damped empirical
//! Fisher factored by faer's Cholesky (O(d^2 m + d^3)), and the repo's `HInvSlow` (dense
//! recursive Sherman-Morrison, O(m d^2)).
use common::linalg::dense::{from_faer, to_faer};
use faer::Side;
use faer::linalg::solvers::{DenseSolveCore, Solve};
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
    llt: Option<faer::linalg::solvers::Llt<f64>>,
}

impl DenseFisher {
    pub fn new(grads: ArrayView2<f64>, damp: f64) -> Self {
        let f = to_faer(dense_fisher(grads, damp).view());
        DenseFisher { d: grads.ncols(), llt: f.llt(Side::Lower).ok() }
    }
    /// Whether the Cholesky factorization succeeded.
    pub fn factored(&self) -> bool {
        self.llt.is_some()
    }
    /// `F^{-1} x` by two triangular solves (NaN without a factor).
    pub fn solve(&self, x: ArrayView1<f64>) -> Array1<f64> {
        let Some(llt) = &self.llt else { return Array1::from_elem(x.len(), f64::NAN) };
        let rhs = faer::Mat::from_fn(x.len(), 1, |i, _| x[i]);
        let sol = llt.solve(&rhs);
        Array1::from_shape_fn(x.len(), |i| sol[(i, 0)])
    }
    /// The explicit inverse `F^{-1}` (NaN without a factor).
    pub fn inverse(&self) -> Array2<f64> {
        match &self.llt {
            Some(llt) => from_faer(llt.inverse().as_ref()),
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
