//! Non-symmetric linear systems: the [`LinMap`] operator, restarted GMRES, BiCGSTAB, CG on the
//! normal equations, and a dense LU with the transposed solve.

use ndarray::{Array1, Array2, ArrayView1};

use super::{SolveError, finite, norm};
use crate::linalg::{DenseError, LinOp, Lu};

/// A square linear operator on R^dim, not necessarily symmetric, known only through `v -> A v`
/// (no `Sync` bound, unlike [`LinOp`]: the solvers here run on one thread).
/// (Named `matvec` so that a type may be both a [`LinOp`] and a `LinMap` without ambiguity.)
pub trait LinMap {
    /// The dimension `dim` of the space the operator acts on.
    fn dim(&self) -> usize;
    /// `A v` for a vector `v` of length `dim`.
    fn matvec(&self, v: ArrayView1<f64>) -> Array1<f64>;
}

/// A dense square matrix (any, not only symmetric) as an operator.
impl LinMap for Array2<f64> {
    fn dim(&self) -> usize {
        assert_eq!(self.nrows(), self.ncols(), "LinMap needs a square matrix");
        self.nrows()
    }
    fn matvec(&self, v: ArrayView1<f64>) -> Array1<f64> {
        self.dot(&v)
    }
}

impl<M: LinMap + ?Sized> LinMap for &M {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn matvec(&self, v: ArrayView1<f64>) -> Array1<f64> {
        (**self).matvec(v)
    }
}

/// An operator given by a closure: `FnMap::new(n, |v| ...)`.
pub struct FnMap<F> {
    /// The dimension.
    pub n: usize,
    /// The action `v -> A v`.
    pub f: F,
}

impl<F: Fn(ArrayView1<f64>) -> Array1<f64>> FnMap<F> {
    /// The operator on R^n whose action is `f`.
    pub fn new(n: usize, f: F) -> Self {
        FnMap { n, f }
    }
}

impl<F: Fn(ArrayView1<f64>) -> Array1<f64>> LinMap for FnMap<F> {
    fn dim(&self) -> usize {
        self.n
    }
    fn matvec(&self, v: ArrayView1<f64>) -> Array1<f64> {
        (self.f)(v)
    }
}

/// A symmetric [`LinOp`] seen as a [`LinMap`].
pub struct Sym<O>(pub O);

impl<O: LinOp> LinMap for Sym<O> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn matvec(&self, v: ArrayView1<f64>) -> Array1<f64> {
        self.0.apply(v)
    }
}

/// A square sparse matrix (any, not only symmetric) as an operator for GMRES and BiCGSTAB.
impl LinMap for crate::linalg::CsrMatrix {
    fn dim(&self) -> usize {
        assert_eq!(self.nrows(), self.ncols(), "LinMap needs a square matrix");
        self.nrows()
    }
    fn matvec(&self, v: ArrayView1<f64>) -> Array1<f64> {
        crate::linalg::CsrMatrix::matvec(self, v)
    }
}

/// Stopping rule of the Krylov methods: `‖b − A x‖ ≤ tol ‖b‖` within `max_iter` operator
/// applications; GMRES restarts every `restart` steps.
#[derive(Clone, Copy, Debug)]
pub struct KrylovOpts {
    /// Relative residual tolerance.
    pub tol: f64,
    /// Cap on operator applications.
    pub max_iter: usize,
    /// GMRES restart length (ignored by the other methods).
    pub restart: usize,
}

impl Default for KrylovOpts {
    fn default() -> Self {
        KrylovOpts { tol: 1e-10, max_iter: 1000, restart: 30 }
    }
}

/// A converged Krylov solve.
#[derive(Clone, Debug)]
pub struct KrylovSolution {
    /// The solution.
    pub x: Array1<f64>,
    /// Operator applications taken.
    pub iters: usize,
    /// The true relative residual `‖b − A x‖ / ‖b‖` at the end.
    pub residual: f64,
}

fn check_rhs<M: LinMap + ?Sized>(op: &M, b: &ArrayView1<f64>, x0: Option<ArrayView1<f64>>, method: &str) -> usize {
    let n = op.dim();
    assert_eq!(b.len(), n, "{method}: right-hand side has length {} but the operator has dim {n}", b.len());
    if let Some(x0) = x0 {
        assert_eq!(x0.len(), n, "{method}: initial guess has length {} but the operator has dim {n}", x0.len());
    }
    n
}

fn residual<M: LinMap + ?Sized>(op: &M, b: &ArrayView1<f64>, x: &Array1<f64>) -> Array1<f64> {
    b - &op.matvec(x.view())
}

/// Restarted GMRES(m) (Saad & Schultz 1986) for `A x = b` from `x0` (zero if `None`): modified
/// Gram–Schmidt with one re-orthogonalization pass, Givens rotations, restart every
/// `opts.restart` steps. Errors with [`SolveError::NotConverged`] at the cap, with
/// [`SolveError::Breakdown`] on a singular least-squares system, [`SolveError::NonFinite`] on NaN.
pub fn gmres<M: LinMap + ?Sized>(
    op: &M,
    b: ArrayView1<f64>,
    x0: Option<ArrayView1<f64>>,
    opts: KrylovOpts,
) -> Result<KrylovSolution, SolveError> {
    const METHOD: &str = "gmres";
    let n = check_rhs(op, &b, x0, METHOD);
    let m = opts.restart.clamp(1, n.max(1));
    let bn = b.dot(&b).sqrt();
    let mut x = x0.map_or_else(|| Array1::zeros(n), |v| v.to_owned());
    if bn == 0.0 {
        return Ok(KrylovSolution { x: Array1::zeros(n), iters: 0, residual: 0.0 });
    }
    if !bn.is_finite() {
        return Err(SolveError::NonFinite { method: METHOD, iter: 0 });
    }
    let mut iters = 0;
    loop {
        let r = residual(op, &b, &x);
        let beta = norm(&r);
        if !beta.is_finite() {
            return Err(SolveError::NonFinite { method: METHOD, iter: iters });
        }
        if beta <= opts.tol * bn {
            return Ok(KrylovSolution { x, iters, residual: beta / bn });
        }
        if iters >= opts.max_iter {
            return Err(SolveError::NotConverged { method: METHOD, iters, residual: beta / bn, tol: opts.tol });
        }
        let mut v: Vec<Array1<f64>> = vec![&r / beta];
        let mut h = Array2::<f64>::zeros((m + 1, m));
        let (mut cs, mut sn) = (vec![0.0; m], vec![0.0; m]);
        let mut g = vec![0.0; m + 1];
        g[0] = beta;
        let mut k = 0;
        for j in 0..m {
            let mut w = op.matvec(v[j].view());
            iters += 1;
            for _pass in 0..2 {
                for (i, vi) in v.iter().enumerate() {
                    let c = w.dot(vi);
                    h[[i, j]] += c;
                    w.scaled_add(-c, vi);
                }
            }
            let hn = norm(&w);
            if !hn.is_finite() {
                return Err(SolveError::NonFinite { method: METHOD, iter: iters });
            }
            h[[j + 1, j]] = hn;
            for i in 0..j {
                let t = cs[i] * h[[i, j]] + sn[i] * h[[i + 1, j]];
                h[[i + 1, j]] = -sn[i] * h[[i, j]] + cs[i] * h[[i + 1, j]];
                h[[i, j]] = t;
            }
            let rho = h[[j, j]].hypot(h[[j + 1, j]]);
            if rho == 0.0 {
                return Err(SolveError::Breakdown {
                    method: METHOD,
                    iter: iters,
                    what: "zero column in the Hessenberg matrix",
                });
            }
            cs[j] = h[[j, j]] / rho;
            sn[j] = h[[j + 1, j]] / rho;
            h[[j, j]] = rho;
            h[[j + 1, j]] = 0.0;
            g[j + 1] = -sn[j] * g[j];
            g[j] *= cs[j];
            k = j + 1;
            let happy = hn <= 1e-14 * beta;
            if g[j + 1].abs() <= opts.tol * bn || iters >= opts.max_iter || happy {
                break;
            }
            v.push(w / hn);
        }
        // Back substitution for the k x k upper triangular system.
        let mut y = vec![0.0; k];
        for i in (0..k).rev() {
            let s: f64 = (i + 1..k).map(|l| h[[i, l]] * y[l]).sum();
            y[i] = (g[i] - s) / h[[i, i]];
        }
        for (yi, vi) in y.iter().zip(&v) {
            x.scaled_add(*yi, vi);
        }
        if !finite(&x) {
            return Err(SolveError::NonFinite { method: METHOD, iter: iters });
        }
    }
}

/// BiCGSTAB (van der Vorst 1992) for `A x = b` from `x0` (zero if `None`); `iters` counts
/// operator applications (two per step). Errors on the cap, on a breakdown (`ρ = 0`, `r̂ᵀv = 0`
/// or `ω = 0`) and on NaN.
pub fn bicgstab<M: LinMap + ?Sized>(
    op: &M,
    b: ArrayView1<f64>,
    x0: Option<ArrayView1<f64>>,
    opts: KrylovOpts,
) -> Result<KrylovSolution, SolveError> {
    const METHOD: &str = "bicgstab";
    let n = check_rhs(op, &b, x0, METHOD);
    let bn = b.dot(&b).sqrt();
    let mut x = x0.map_or_else(|| Array1::zeros(n), |v| v.to_owned());
    if bn == 0.0 {
        return Ok(KrylovSolution { x: Array1::zeros(n), iters: 0, residual: 0.0 });
    }
    if !bn.is_finite() {
        return Err(SolveError::NonFinite { method: METHOD, iter: 0 });
    }
    let mut r = residual(op, &b, &x);
    let rhat = r.clone();
    let (mut rho, mut alpha, mut omega) = (1.0, 1.0, 1.0);
    let mut v = Array1::<f64>::zeros(n);
    let mut p = Array1::<f64>::zeros(n);
    let mut iters = 0;
    loop {
        let rn = norm(&r);
        if !rn.is_finite() {
            return Err(SolveError::NonFinite { method: METHOD, iter: iters });
        }
        if rn <= opts.tol * bn {
            // Confirm with the true residual (the recurrence can drift).
            let tr = norm(&residual(op, &b, &x)) / bn;
            if tr <= opts.tol * 10.0 || iters >= opts.max_iter {
                return if tr <= opts.tol * 10.0 {
                    Ok(KrylovSolution { x, iters, residual: tr })
                } else {
                    Err(SolveError::NotConverged { method: METHOD, iters, residual: tr, tol: opts.tol })
                };
            }
            r = residual(op, &b, &x);
        }
        if iters + 2 > opts.max_iter {
            return Err(SolveError::NotConverged { method: METHOD, iters, residual: rn / bn, tol: opts.tol });
        }
        let rho_new = rhat.dot(&r);
        if rho_new == 0.0 || omega == 0.0 {
            return Err(SolveError::Breakdown { method: METHOD, iter: iters, what: "rho or omega vanished" });
        }
        let beta = (rho_new / rho) * (alpha / omega);
        rho = rho_new;
        p = &r + &((&p - &(&v * omega)) * beta);
        v = op.matvec(p.view());
        iters += 1;
        let rv = rhat.dot(&v);
        if rv == 0.0 || !rv.is_finite() {
            return Err(SolveError::Breakdown { method: METHOD, iter: iters, what: "r̂ᵀv vanished" });
        }
        alpha = rho / rv;
        let s = &r - &(&v * alpha);
        if norm(&s) <= opts.tol * bn {
            x.scaled_add(alpha, &p);
            r = s;
            continue;
        }
        let t = op.matvec(s.view());
        iters += 1;
        let tt = t.dot(&t);
        if tt == 0.0 {
            return Err(SolveError::Breakdown { method: METHOD, iter: iters, what: "Aŝ vanished" });
        }
        omega = t.dot(&s) / tt;
        x.scaled_add(alpha, &p);
        x.scaled_add(omega, &s);
        r = &s - &(&t * omega);
    }
}

/// CG on the normal equations `AᵀA x = Aᵀ b` (jaxopt's default `solve_normal_cg`), with `A` and
/// `Aᵀ` given as two operators. Converges for any non-singular `A` at the rate of `κ(A)²`. The
/// tolerance is on the normal-equation residual `‖Aᵀ(b − A x)‖ / ‖Aᵀ b‖`; a point that meets it but
/// leaves a true relative residual `‖b − A x‖ / ‖b‖` above `√tol` (the least-squares solution of a
/// singular, inconsistent system) is refused with [`SolveError::NotConverged`].
pub fn normal_cg<M: LinMap + ?Sized, T: LinMap + ?Sized>(
    a: &M,
    at: &T,
    b: ArrayView1<f64>,
    x0: Option<ArrayView1<f64>>,
    opts: KrylovOpts,
) -> Result<KrylovSolution, SolveError> {
    const METHOD: &str = "normal_cg";
    let n = check_rhs(a, &b, x0, METHOD);
    assert_eq!(at.dim(), n, "normal_cg: A and Aᵀ differ in dimension");
    let atb = at.matvec(b);
    let bn = norm(&atb);
    let b_norm = b.dot(&b).sqrt();
    let mut x = x0.map_or_else(|| Array1::zeros(n), |v| v.to_owned());
    if b_norm == 0.0 {
        return Ok(KrylovSolution { x: Array1::zeros(n), iters: 0, residual: 0.0 });
    }
    if bn == 0.0 {
        return Err(SolveError::Breakdown {
            method: METHOD,
            iter: 0,
            what: "Aᵀb vanished (b is orthogonal to the range of A)",
        });
    }
    if !bn.is_finite() {
        return Err(SolveError::NonFinite { method: METHOD, iter: 0 });
    }
    let normal = |v: &Array1<f64>| at.matvec(a.matvec(v.view()).view());
    let mut r = &atb - &normal(&x);
    let mut p = r.clone();
    let mut rr = r.dot(&r);
    let mut iters = 0;
    loop {
        let res = rr.sqrt() / bn;
        if !res.is_finite() {
            return Err(SolveError::NonFinite { method: METHOD, iter: iters });
        }
        if res <= opts.tol {
            // A least-squares solution of an inconsistent (singular) system is not a solution.
            let true_res = norm(&residual(a, &b, &x)) / b_norm;
            if true_res > opts.tol.sqrt() {
                return Err(SolveError::NotConverged {
                    method: METHOD,
                    iters,
                    residual: true_res,
                    tol: opts.tol.sqrt(),
                });
            }
            return Ok(KrylovSolution { x, iters, residual: res });
        }
        if iters >= opts.max_iter {
            return Err(SolveError::NotConverged { method: METHOD, iters, residual: res, tol: opts.tol });
        }
        let q = normal(&p);
        iters += 1;
        let pq = p.dot(&q);
        if pq <= 0.0 || !pq.is_finite() {
            return Err(SolveError::Breakdown {
                method: METHOD,
                iter: iters,
                what: "pᵀAᵀAp is not positive (A singular)",
            });
        }
        let alpha = rr / pq;
        x.scaled_add(alpha, &p);
        r.scaled_add(-alpha, &q);
        let rr_new = r.dot(&r);
        p = &r + &(p * (rr_new / rr));
        rr = rr_new;
    }
}

/// A dense LU factorization `p a = l u` (common's [`Lu`]) with both solves, `a x = b` and
/// `aᵀ x = b` (the transposed solve implicit differentiation's VJP needs).
#[derive(Clone, Debug)]
pub struct DenseLu {
    lu: Lu,
    l: Array2<f64>,
    u: Array2<f64>,
}

impl DenseLu {
    /// Factor `a`; errors with [`DenseError::Singular`] when `a` is singular to working precision.
    pub fn new(a: ndarray::ArrayView2<f64>) -> Result<Self, DenseError> {
        let lu = Lu::new(a)?;
        let (l, u) = (lu.l(), lu.u());
        Ok(DenseLu { lu, l, u })
    }

    /// Size of the factored matrix.
    pub fn dim(&self) -> usize {
        self.lu.dim()
    }

    /// `a⁻¹ b`.
    pub fn solve(&self, b: ArrayView1<f64>) -> Array1<f64> {
        self.lu.solve(b)
    }

    /// `a⁻¹ B` for a matrix of right-hand sides.
    pub fn solve_mat(&self, b: ndarray::ArrayView2<f64>) -> Array2<f64> {
        self.lu.solve_mat(b)
    }

    /// `a⁻ᵀ b`: from `aᵀ = uᵀ lᵀ p`, solve `uᵀ y = b` (forward), `lᵀ z = y` (backward, unit
    /// diagonal), then `x[perm[i]] = z[i]`.
    pub fn solve_t(&self, b: ArrayView1<f64>) -> Array1<f64> {
        let n = self.dim();
        assert_eq!(b.len(), n, "lu solve_t: right-hand side has the wrong length");
        let mut y = b.to_owned();
        for i in 0..n {
            let s: f64 = (0..i).map(|k| self.u[[k, i]] * y[k]).sum();
            y[i] = (y[i] - s) / self.u[[i, i]];
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| self.l[[k, i]] * y[k]).sum();
            y[i] -= s;
        }
        let mut x = Array1::zeros(n);
        for (i, &pi) in self.lu.perm().iter().enumerate() {
            x[pi] = y[i];
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat};
    use proptest::prelude::*;

    /// `I + s G / √n` with Gaussian `G`: non-symmetric, well conditioned for small `s`.
    fn nonsym(n: usize, s: f64, seed: u64) -> Array2<f64> {
        let mut a = gaussian_mat(&mut Seed(seed).rng(), n, n, s / (n as f64).sqrt());
        a.diag_mut().iter_mut().for_each(|d| *d += 1.0);
        a
    }

    fn rhs(n: usize) -> Array1<f64> {
        Array1::from_shape_fn(n, |i| ((i as f64) * 0.7).sin() + 0.3)
    }

    fn rel(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
        norm(&(a - b)) / norm(b)
    }

    #[test]
    fn gmres_and_bicgstab_match_the_dense_solve() {
        let n = 60;
        let a = nonsym(n, 0.5, 1);
        let b = rhs(n);
        let exact = crate::linalg::solve(a.view(), b.view()).unwrap();
        let opts = KrylovOpts { tol: 1e-12, max_iter: 2000, restart: 10 };
        let g = gmres(&a, b.view(), None, opts).unwrap();
        assert!(rel(&g.x, &exact) < 1e-10, "gmres {}", rel(&g.x, &exact));
        assert!(g.residual <= 1e-12);
        let full = gmres(&a, b.view(), None, KrylovOpts { restart: n, ..opts }).unwrap();
        assert!(full.iters <= n, "full GMRES needs at most n steps");
        let s = bicgstab(&a, b.view(), None, opts).unwrap();
        assert!(rel(&s.x, &exact) < 1e-9, "bicgstab {}", rel(&s.x, &exact));
        let at = a.t().to_owned();
        let c = normal_cg(&a, &at, b.view(), None, KrylovOpts { tol: 1e-13, ..opts }).unwrap();
        assert!(rel(&c.x, &exact) < 1e-9, "normal cg {}", rel(&c.x, &exact));
        // A warm start at the solution converges at once.
        let w = gmres(&a, b.view(), Some(exact.view()), opts).unwrap();
        assert_eq!(w.iters, 0);
    }

    #[test]
    fn krylov_methods_fail_with_typed_errors() {
        let n = 40;
        let a = nonsym(n, 0.9, 2);
        let b = rhs(n);
        let tight = KrylovOpts { tol: 1e-14, max_iter: 3, restart: 2 };
        assert!(matches!(gmres(&a, b.view(), None, tight), Err(SolveError::NotConverged { .. })));
        assert!(matches!(bicgstab(&a, b.view(), None, tight), Err(SolveError::NotConverged { .. })));
        let at = a.t().to_owned();
        assert!(matches!(normal_cg(&a, &at, b.view(), None, tight), Err(SolveError::NotConverged { .. })));
        // The zero operator: breakdown, not a panic or a NaN.
        let z = Array2::<f64>::zeros((n, n));
        let opts = KrylovOpts::default();
        assert!(gmres(&z, b.view(), None, opts).is_err());
        assert!(bicgstab(&z, b.view(), None, opts).is_err());
        assert!(normal_cg(&z, &z, b.view(), None, opts).is_err());
        // A NaN right-hand side.
        let mut bn = b.clone();
        bn[3] = f64::NAN;
        assert!(matches!(gmres(&a, bn.view(), None, opts), Err(SolveError::NonFinite { .. })));
        assert!(bicgstab(&a, bn.view(), None, opts).is_err());
    }

    #[test]
    fn sym_and_fnmap_wrap_operators() {
        let n = 8;
        let s = Array2::from_shape_fn((n, n), |(i, j)| if i == j { 3.0 } else { 0.1 });
        let b = rhs(n);
        let x = gmres(&Sym(&s), b.view(), None, KrylovOpts::default()).unwrap().x;
        assert!(rel(&s.dot(&x), &b) < 1e-9);
        let f = FnMap::new(n, |v: ArrayView1<f64>| v.mapv(|x| 2.0 * x));
        let y = bicgstab(&f, b.view(), None, KrylovOpts::default()).unwrap().x;
        assert!(rel(&(y * 2.0), &b) < 1e-12);
    }

    proptest! {
        /// `DenseLu::solve_t` inverts `aᵀ`, for random non-symmetric matrices (pivoting exercised).
        #[test]
        fn lu_transposed_solve(n in 1usize..12, seed in 0u64..1000) {
            let mut a = nonsym(n, 3.0, seed);
            a[[0, 0]] = 1e-3; // forces a row exchange at the first pivot
            let lu = DenseLu::new(a.view()).unwrap();
            let b = rhs(n);
            let x = lu.solve_t(b.view());
            prop_assert!(rel(&a.t().dot(&x), &b) < 1e-9);
            let y = lu.solve(b.view());
            prop_assert!(rel(&a.dot(&y), &b) < 1e-9);
        }
    }

    #[test]
    fn dense_lu_refuses_a_singular_matrix() {
        let a = Array2::from_shape_vec((2, 2), vec![1.0, 2.0, 2.0, 4.0]).unwrap();
        assert!(DenseLu::new(a.view()).is_err());
    }
}
