//! Krylov methods on matrix-free symmetric operators: Lanczos with full re-orthogonalization,
//! top eigenpairs, stochastic Lanczos quadrature (spectral densities) and (preconditioned)
//! conjugate gradients.
//!
//! Determinism: random start vectors and probes are drawn sequentially from the caller's RNG, in
//! probe order; independent probes may run on several threads, but every number is computed by
//! one thread in a fixed order, so results do not depend on the thread count.
use ndarray::{Array1, Array2, ArrayView1, s};
use rand::Rng;
use rayon::prelude::*;

use super::LinOp;
use crate::rng::{gaussian_vec, rademacher_vec};

/// The result of `k` Lanczos steps: `A V = V T + beta_k v_{k+1} e_k^T` with `T` tridiagonal
/// (diagonal `alpha`, off-diagonal `beta`) and `V = basis` (n x k, orthonormal columns).
#[derive(Clone, Debug)]
pub struct Lanczos {
    /// Diagonal of T (length k).
    pub alpha: Vec<f64>,
    /// Off-diagonal of T (length k - 1). A zero marks a restart after an invariant subspace.
    pub beta: Vec<f64>,
    /// The Lanczos vectors as columns, n x k.
    pub basis: Array2<f64>,
}

impl Lanczos {
    /// Number of steps actually taken (k <= m; fewer when the Krylov space became invariant).
    pub fn steps(&self) -> usize {
        self.alpha.len()
    }

    /// The k x k tridiagonal matrix T.
    pub fn tridiagonal(&self) -> Array2<f64> {
        let k = self.alpha.len();
        let mut t = Array2::zeros((k, k));
        for i in 0..k {
            t[[i, i]] = self.alpha[i];
            if i + 1 < k {
                t[[i, i + 1]] = self.beta[i];
                t[[i + 1, i]] = self.beta[i];
            }
        }
        t
    }

    /// Ritz values (ascending) and the eigenvectors of T as columns (k x k), through faer.
    pub fn ritz(&self) -> (Array1<f64>, Array2<f64>) {
        if self.alpha.is_empty() {
            return (Array1::zeros(0), Array2::zeros((0, 0)));
        }
        super::eigh(&self.tridiagonal())
    }

    /// Ritz values (ascending) and Ritz vectors `V s_i` as columns (n x k).
    pub fn ritz_vectors(&self) -> (Array1<f64>, Array2<f64>) {
        let (theta, s) = self.ritz();
        (theta, self.basis.dot(&s))
    }

    /// Gauss quadrature of the spectral measure of the start vector: nodes = Ritz values
    /// (ascending), weights = squared first components of T's eigenvectors (they sum to 1).
    /// `sum_k w_k f(theta_k) ~ v^T f(A) v / |v|^2`, exact for polynomials of degree <= 2k - 1.
    pub fn quadrature(&self) -> (Vec<f64>, Vec<f64>) {
        let (theta, s) = self.ritz();
        let w = (0..theta.len()).map(|i| s[[0, i]] * s[[0, i]]).collect();
        (theta.to_vec(), w)
    }
}

/// `m` steps of Lanczos from `v0` (normalized internally), with full re-orthogonalization
/// (classical Gram-Schmidt, twice). Stops early if the Krylov space becomes invariant.
/// `m` is capped at `op.dim()`.
pub fn lanczos<O: LinOp + ?Sized>(op: &O, m: usize, v0: ArrayView1<f64>) -> Lanczos {
    lanczos_impl::<O, rand_chacha::ChaCha8Rng>(op, m, v0, None)
}

/// Like [`lanczos`], but on an invariant subspace it restarts with a random vector orthogonal to
/// the basis so far (`beta = 0` there), so that all `min(m, n)` steps are taken. This is what
/// eigenvalue computations want (an operator with repeated eigenvalues); quadrature does not.
pub fn lanczos_restarted<O: LinOp + ?Sized>(op: &O, m: usize, v0: ArrayView1<f64>, rng: &mut impl Rng) -> Lanczos {
    lanczos_impl(op, m, v0, Some(rng))
}

/// Orthogonalize `w` against the first `j` rows of `q`, twice ("twice is enough").
fn reorthogonalize(q: &Array2<f64>, j: usize, w: &mut Array1<f64>) {
    if j == 0 {
        return;
    }
    let qj = q.slice(s![..j, ..]);
    for _ in 0..2 {
        let c = qj.dot(&*w);
        *w -= &qj.t().dot(&c);
    }
}

fn lanczos_impl<O: LinOp + ?Sized, R: Rng>(op: &O, m: usize, v0: ArrayView1<f64>, mut rng: Option<&mut R>) -> Lanczos {
    let n = op.dim();
    assert_eq!(v0.len(), n, "lanczos: start vector has length {} but the operator has dim {n}", v0.len());
    let m = m.min(n);
    let nrm = v0.dot(&v0).sqrt();
    assert!(nrm > 0.0 && nrm.is_finite(), "lanczos: start vector must be non-zero and finite");
    // Rows of q are the Lanczos vectors (contiguous, for fast re-orthogonalization).
    let mut q = Array2::<f64>::zeros((m, n));
    let mut alpha = Vec::with_capacity(m);
    let mut beta: Vec<f64> = Vec::with_capacity(m);
    q.row_mut(0).assign(&(&v0 / nrm));
    let mut scale = 0.0f64; // running estimate of |A|, for the breakdown test
    for j in 0..m {
        let mut w = op.apply(q.row(j));
        let a = q.row(j).dot(&w);
        w.scaled_add(-a, &q.row(j));
        if j > 0 {
            w.scaled_add(-beta[j - 1], &q.row(j - 1));
        }
        reorthogonalize(&q, j + 1, &mut w);
        alpha.push(a);
        let b = w.dot(&w).sqrt();
        scale = scale.max(a.abs()).max(b);
        if j + 1 == m {
            break;
        }
        if b > 1e-10 * scale.max(f64::MIN_POSITIVE) {
            beta.push(b);
            q.row_mut(j + 1).assign(&(w / b));
        } else if let Some(r) = rng.as_deref_mut() {
            // Invariant subspace: restart with a fresh direction orthogonal to the basis.
            let mut z = gaussian_vec(r, n, 1.0);
            reorthogonalize(&q, j + 1, &mut z);
            let zn = z.dot(&z).sqrt();
            if zn <= 1e-10 {
                break;
            }
            beta.push(0.0);
            q.row_mut(j + 1).assign(&(z / zn));
        } else {
            break;
        }
    }
    let k = alpha.len();
    beta.truncate(k.saturating_sub(1));
    let basis = q.slice(s![..k, ..]).t().to_owned();
    Lanczos { alpha, beta, basis }
}

/// The `k` largest (algebraic) eigenvalues, descending, and their eigenvectors, by `m` steps of
/// Lanczos with full re-orthogonalization from a Gaussian start (`m` is raised to at least `k`
/// and capped at the dimension). Accuracy grows quickly with `m` for well-separated
/// eigenvalues; `m = dim` is exact up to rounding.
pub fn top_eigs<O: LinOp + ?Sized>(op: &O, k: usize, m: usize, rng: &mut impl Rng) -> (Vec<f64>, Vec<Array1<f64>>) {
    extreme_eigs(op, k, m, rng, true)
}

/// The `k` smallest (algebraic) eigenvalues, ascending, and their eigenvectors (see [`top_eigs`]).
pub fn bottom_eigs<O: LinOp + ?Sized>(op: &O, k: usize, m: usize, rng: &mut impl Rng) -> (Vec<f64>, Vec<Array1<f64>>) {
    extreme_eigs(op, k, m, rng, false)
}

fn extreme_eigs<O: LinOp + ?Sized>(
    op: &O,
    k: usize,
    m: usize,
    rng: &mut impl Rng,
    top: bool,
) -> (Vec<f64>, Vec<Array1<f64>>) {
    let n = op.dim();
    let k = k.min(n);
    if k == 0 {
        return (vec![], vec![]);
    }
    let v0 = gaussian_vec(rng, n, 1.0);
    let lz = lanczos_restarted(op, m.max(k).min(n), v0.view(), rng);
    let (theta, y) = lz.ritz_vectors();
    let idx: Vec<usize> =
        if top { (0..theta.len()).rev().take(k).collect() } else { (0..theta.len()).take(k).collect() };
    let vals = idx.iter().map(|&i| theta[i]).collect();
    let vecs = idx.iter().map(|&i| y.column(i).to_owned()).collect();
    (vals, vecs)
}

/// Stochastic Lanczos quadrature (Lin, Saad & Yang 2016; Ghorbani, Krishnan & Xiao 2019):
/// `probes` Rademacher start vectors, `m` Lanczos steps each; per probe, the Gauss quadrature
/// nodes (Ritz values) and weights (squared first components of T's eigenvectors, sum 1).
/// The spectral density estimate is the average over probes of `sum_k w_k delta(x - node_k)`, and
/// `tr f(A) ~ dim * mean_probes sum_k w_k f(node_k)`.
pub fn slq<O: LinOp + ?Sized>(op: &O, probes: usize, m: usize, rng: &mut impl Rng) -> Vec<(Vec<f64>, Vec<f64>)> {
    let n = op.dim();
    let chunk = rayon::current_num_threads().max(1);
    let mut out = Vec::with_capacity(probes);
    let mut left = probes;
    while left > 0 {
        let c = left.min(chunk);
        let starts: Vec<Array1<f64>> = (0..c).map(|_| rademacher_vec(rng, n)).collect();
        let res: Vec<(Vec<f64>, Vec<f64>)> = starts.par_iter().map(|v| lanczos(op, m, v.view()).quadrature()).collect();
        out.extend(res);
        left -= c;
    }
    out
}

/// Gaussian-smoothed spectral density from SLQ output on `grid`:
/// `phi(x) = mean_probes sum_k w_k N(x; node_k, sigma^2)`. Integrates to ~1 when the grid covers
/// the spectrum with margin of a few `sigma`.
pub fn slq_density(nodes_weights: &[(Vec<f64>, Vec<f64>)], grid: &[f64], sigma: f64) -> Vec<f64> {
    assert!(sigma > 0.0, "slq_density: sigma must be positive");
    let np = nodes_weights.len().max(1) as f64;
    let c = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt());
    grid.iter()
        .map(|&x| {
            let mut acc = 0.0;
            for (nodes, weights) in nodes_weights {
                for (t, w) in nodes.iter().zip(weights) {
                    let z = (x - t) / sigma;
                    acc += w * c * (-0.5 * z * z).exp();
                }
            }
            acc / np
        })
        .collect()
}

/// `tr f(A)` from SLQ output: `dim * mean_probes sum_k w_k f(node_k)`.
pub fn slq_trace(nodes_weights: &[(Vec<f64>, Vec<f64>)], dim: usize, f: impl Fn(f64) -> f64) -> f64 {
    let np = nodes_weights.len().max(1) as f64;
    let s: f64 = nodes_weights.iter().map(|(nodes, w)| nodes.iter().zip(w).map(|(t, w)| w * f(*t)).sum::<f64>()).sum();
    dim as f64 * s / np
}

/// The result of a (preconditioned) conjugate-gradient solve.
#[derive(Clone, Debug)]
pub struct CgResult {
    /// The approximate solution.
    pub x: Array1<f64>,
    /// Iterations (operator applications) taken.
    pub iters: usize,
    /// Final relative residual `|b - A x| / |b|` (from the recurrence).
    pub residual: f64,
    /// Whether `residual <= tol` was reached (false on `max_iter` or non-positive curvature).
    pub converged: bool,
    /// The relative residual `|r_k| / |b|` (from the recurrence) after each iteration `k`,
    /// starting with `history[0] = 1` at `x0 = 0`: `iters + 1` values (`[0.0]` alone at `b = 0`;
    /// one fewer when non-positive curvature stopped the last iteration).
    pub history: Vec<f64>,
}

/// Conjugate gradients for SPD `A x = b` from `x0 = 0`, until `|r| <= tol |b|` or `max_iter`.
pub fn cg<O: LinOp + ?Sized>(op: &O, b: ArrayView1<f64>, tol: f64, max_iter: usize) -> CgResult {
    pcg(op, &|v: ArrayView1<f64>| v.to_owned(), b, tol, max_iter)
}

/// Preconditioned conjugate gradients; `precond(r)` applies `M^{-1} r` for an SPD `M ~ A`.
/// Stops (not converged) if a direction of non-positive curvature appears.
pub fn pcg<O: LinOp + ?Sized>(
    op: &O,
    precond: &dyn Fn(ArrayView1<f64>) -> Array1<f64>,
    b: ArrayView1<f64>,
    tol: f64,
    max_iter: usize,
) -> CgResult {
    let n = op.dim();
    assert_eq!(b.len(), n, "cg: right-hand side has length {} but the operator has dim {n}", b.len());
    let bn = b.dot(&b).sqrt();
    let mut x = Array1::zeros(n);
    if bn == 0.0 {
        return CgResult { x, iters: 0, residual: 0.0, converged: true, history: vec![0.0] };
    }
    let mut r = b.to_owned();
    let mut z = precond(r.view());
    let mut p = z.clone();
    let mut rz = r.dot(&z);
    let mut res = 1.0;
    let mut iters = 0;
    let mut history = vec![1.0];
    while res > tol && iters < max_iter {
        let ap = op.apply(p.view());
        let pap = p.dot(&ap);
        iters += 1;
        if pap.is_nan() || pap <= 0.0 {
            return CgResult { x, iters, residual: res, converged: false, history };
        }
        let a = rz / pap;
        x.scaled_add(a, &p);
        r.scaled_add(-a, &ap);
        res = r.dot(&r).sqrt() / bn;
        history.push(res);
        if res <= tol {
            break;
        }
        z = precond(r.view());
        let rz_new = r.dot(&z);
        let beta = rz_new / rz;
        rz = rz_new;
        p *= beta;
        p += &z;
    }
    CgResult { x, iters, residual: res, converged: res <= tol, history }
}
