//! Power iteration and power iteration with deflation.
use ndarray::{Array1, ArrayView1};
use rand::Rng;

use super::LinOp;
use crate::rng::gaussian_vec;

/// Power iteration from a Gaussian start: the eigenvalue of largest magnitude (with its sign, as
/// the Rayleigh quotient `v^T A v`) and its unit eigenvector `v`. Stops after `iters` applications
/// or when successive Rayleigh quotients differ by at most `tol * |lambda|`.
/// The returned pair is consistent: `lambda = v^T A v` for the returned `v`.
pub fn power_iteration<O: LinOp + ?Sized>(op: &O, iters: usize, tol: f64, rng: &mut impl Rng) -> (f64, Array1<f64>) {
    let n = op.dim();
    let mut v = gaussian_vec(rng, n, 1.0);
    let nv = v.dot(&v).sqrt();
    v /= nv;
    let (lam, v, _) = power_iteration_from(op, v, iters, tol);
    (lam, v)
}

/// Power iteration from the unit vector `v` (a warm start, e.g. the previous eigenvector of a
/// slowly changing operator): `(lambda, v, products)`, with the stopping rule and the consistency
/// of [`power_iteration`] and at least one product.
pub fn power_iteration_from<O: LinOp + ?Sized>(
    op: &O,
    mut v: Array1<f64>,
    iters: usize,
    tol: f64,
) -> (f64, Array1<f64>, usize) {
    let mut lam = f64::NAN;
    let mut k = 0;
    for _ in 0..iters.max(1) {
        let w = op.apply(v.view());
        k += 1;
        let l = v.dot(&w);
        let wn = w.dot(&w).sqrt();
        let done = (l - lam).abs() <= tol * l.abs();
        lam = l;
        if done || wn == 0.0 || !wn.is_finite() {
            break;
        }
        v = w / wn;
    }
    (lam, v, k)
}

/// `P A P` with `P = I - U U^T` projecting out the (orthonormal) columns found so far.
struct Deflated<'a, O: ?Sized> {
    op: &'a O,
    found: &'a [Array1<f64>],
}

impl<O: LinOp + ?Sized> Deflated<'_, O> {
    fn project(&self, v: &mut Array1<f64>) {
        for u in self.found {
            let c = u.dot(&*v);
            v.scaled_add(-c, u);
        }
    }
}

impl<O: LinOp + ?Sized> LinOp for Deflated<'_, O> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        let mut x = v.to_owned();
        self.project(&mut x);
        let mut y = self.op.apply(x.view());
        self.project(&mut y);
        y
    }
}

/// The top `k` eigenpairs by power iteration with deflation (each next one on `P A P`, `P`
/// projecting out the eigenvectors found so far). Power iteration converges to the largest
/// *magnitude* eigenvalue of the deflated operator, so for an indefinite operator the order is
/// by magnitude; use [`super::top_eigs`] (Lanczos) for the largest algebraic ones.
pub fn top_eigs_power<O: LinOp + ?Sized>(
    op: &O,
    k: usize,
    iters: usize,
    tol: f64,
    rng: &mut impl Rng,
) -> (Vec<f64>, Vec<Array1<f64>>) {
    let mut vals = Vec::with_capacity(k);
    let mut vecs: Vec<Array1<f64>> = Vec::with_capacity(k);
    for _ in 0..k.min(op.dim()) {
        let d = Deflated { op, found: &vecs };
        let (l, mut v) = power_iteration(&d, iters, tol, rng);
        d.project(&mut v);
        let nv = v.dot(&v).sqrt();
        if nv > 0.0 {
            v /= nv;
        }
        vals.push(l);
        vecs.push(v);
    }
    (vals, vecs)
}
