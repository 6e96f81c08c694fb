//! Randomized sketched linear solvers for `A x = b`: randomized Kaczmarz (Strohmer & Vershynin
//! 2009) and the Gaussian-sketch iteration (Gower & Richtárik 2015, the "GV" solver of
//! AdaSketch-Newton, Hong et al. 2023), with a caller-supplied stopping tolerance on `‖A x − b‖`.
//!
//! One step of either method projects the iterate onto the solution set of one sketched equation
//! `sᵀA x = sᵀb`:
//! - **Kaczmarz**: `s = e_i`, `x ← x − (a_iᵀx − b_i)/‖a_i‖² · a_i`, with row `i` drawn uniformly
//!   (as the AdaSketch-Newton code does) or with probability `‖a_i‖²/‖A‖_F²` (Strohmer–Vershynin,
//!   for which `E‖x_k − x*‖² ≤ (1 − σ_min(A)²/‖A‖_F²)^k ‖x_0 − x*‖²` on a consistent system);
//! - **Gaussian**: `s ~ N(0, I_m)`, `x ← x − sᵀr/‖Aᵀs‖² · Aᵀs` with `r = A x − b`.
//!
//! The stopping test `‖A x − b‖ ≤ tol` is checked every `check_every` steps (1 checks after
//! every step, as the paper's code does; a residual costs `2mn` flops, so the count is kept
//! apart). The iteration cap ends the run with `converged: false` and the counts, never a hang; a
//! zero row or a non-finite iterate is a typed [`SolveError`].
use super::SolveError;
use ndarray::{Array1, Array2, ArrayView1};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// How Kaczmarz picks its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Sampling {
    /// Uniform over the rows (the AdaSketch-Newton code).
    Uniform,
    /// Proportional to `‖a_i‖²` (Strohmer–Vershynin).
    RowNorm,
}

/// Options of a sketched solve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SketchOpts {
    /// Stop when `‖A x − b‖ ≤ tol` (absolute; a caller's rule such as the paper's
    /// `‖A‖·ψ·‖r‖ ≤ θ·δ·‖b‖` becomes `tol = θδ‖b‖/(‖A‖ψ)`).
    pub tol: f64,
    /// The most sketch steps.
    pub max_iters: usize,
    /// Check the residual every this many steps (≥ 1).
    pub check_every: usize,
}

impl Default for SketchOpts {
    fn default() -> Self {
        SketchOpts { tol: 1e-10, max_iters: 100_000, check_every: 1 }
    }
}

/// The outcome of a sketched solve (also when the cap is reached: `converged == false`).
#[derive(Clone, Debug, PartialEq)]
pub struct SketchResult {
    /// The last iterate.
    pub x: Array1<f64>,
    /// Sketch steps taken.
    pub iters: usize,
    /// Whether `‖A x − b‖ ≤ tol` at the end.
    pub converged: bool,
    /// The final residual `‖A x − b‖`.
    pub residual: f64,
    /// Row operations of the sketch steps: one per Kaczmarz step (a length-`n` dot product and
    /// axpy), `m` per Gaussian step (it forms `Aᵀs`).
    pub row_ops: u64,
    /// Flops of the sketch steps (`4n` per Kaczmarz step; `2mn + 6n + 2m` per Gaussian step).
    pub sketch_flops: u64,
    /// Flops of the residual checks (`2mn` each).
    pub check_flops: u64,
}

fn residual(a: &Array2<f64>, x: &Array1<f64>, b: ArrayView1<f64>) -> Array1<f64> {
    a.dot(x) - b
}

fn norm(v: &Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}

/// Which step a sketched solve takes.
enum Method {
    Kaczmarz(Sampling),
    Gaussian,
}

fn sketch_solve(
    method: Method,
    a: &Array2<f64>,
    b: &Array1<f64>,
    x0: Option<&Array1<f64>>,
    opts: &SketchOpts,
    rng: &mut impl Rng,
) -> Result<SketchResult, SolveError> {
    let (m, n) = a.dim();
    assert_eq!(b.len(), m, "sketch: b has {} entries for {m} rows", b.len());
    let name = match method {
        Method::Kaczmarz(_) => "kaczmarz",
        Method::Gaussian => "gaussian-sketch",
    };
    let mut x = match x0 {
        Some(x0) => {
            assert_eq!(x0.len(), n, "sketch: x0 has {} entries for {n} columns", x0.len());
            x0.clone()
        }
        None => Array1::zeros(n),
    };
    let every = opts.check_every.max(1);
    let row_sq: Vec<f64> = a.rows().into_iter().map(|r| r.dot(&r)).collect();
    let total: f64 = row_sq.iter().sum();
    if let Method::Kaczmarz(_) = method
        && row_sq.contains(&0.0)
    {
        return Err(SolveError::Breakdown { method: name, iter: 0, what: "a zero row" });
    }
    if !total.is_finite() || !b.iter().all(|v| v.is_finite()) || !x.iter().all(|v| v.is_finite()) {
        return Err(SolveError::NonFinite { method: name, iter: 0 });
    }
    // Cumulative row weights for row-norm sampling.
    let cum: Vec<f64> = row_sq
        .iter()
        .scan(0.0, |s, &w| {
            *s += w;
            Some(*s)
        })
        .collect();
    let (mn, nn, mm) = (m as u64 * n as u64, n as u64, m as u64);
    let mut res = SketchResult {
        x: Array1::zeros(0),
        iters: 0,
        converged: false,
        residual: f64::NAN,
        row_ops: 0,
        sketch_flops: 0,
        check_flops: 2 * mn,
    };
    let mut rn = norm(&residual(a, &x, b.view()));
    let mut fresh = true;
    while rn > opts.tol && res.iters < opts.max_iters {
        match method {
            Method::Kaczmarz(s) => {
                let i = match s {
                    Sampling::Uniform => rng.random_range(0..m),
                    Sampling::RowNorm => {
                        let u: f64 = rng.random::<f64>() * total;
                        cum.partition_point(|&c| c <= u).min(m - 1)
                    }
                };
                let row = a.row(i);
                let ri = row.dot(&x) - b[i];
                x.scaled_add(-ri / row_sq[i], &row);
                res.row_ops += 1;
                res.sketch_flops += 4 * nn;
            }
            Method::Gaussian => {
                let s: Array1<f64> = Array1::from_shape_fn(m, |_| StandardNormal.sample(rng));
                let ats = a.t().dot(&s);
                let den = ats.dot(&ats);
                if den == 0.0 || !den.is_finite() {
                    return Err(SolveError::Breakdown { method: name, iter: res.iters, what: "‖Aᵀs‖ = 0" });
                }
                // sᵀ(Ax − b) = (Aᵀs)ᵀx − sᵀb: no residual needed.
                let str = ats.dot(&x) - s.dot(b);
                x.scaled_add(-str / den, &ats);
                res.row_ops += mm;
                res.sketch_flops += 2 * mn + 6 * nn + 2 * mm;
            }
        }
        res.iters += 1;
        fresh = false;
        if res.iters.is_multiple_of(every) || res.iters == opts.max_iters {
            rn = norm(&residual(a, &x, b.view()));
            res.check_flops += 2 * mn;
            fresh = true;
            if !rn.is_finite() {
                return Err(SolveError::NonFinite { method: name, iter: res.iters });
            }
        }
    }
    if !fresh {
        rn = norm(&residual(a, &x, b.view()));
        res.check_flops += 2 * mn;
    }
    res.converged = rn <= opts.tol;
    res.residual = rn;
    res.x = x;
    Ok(res)
}

/// Randomized Kaczmarz for `A x = b` from `x0` (zeros if `None`). Returns the iterate and the
/// counts; on the cap `converged == false`. Errors: a zero row (`Breakdown`), a non-finite input
/// or iterate (`NonFinite`).
pub fn kaczmarz(
    a: &Array2<f64>,
    b: &Array1<f64>,
    x0: Option<&Array1<f64>>,
    sampling: Sampling,
    opts: &SketchOpts,
    rng: &mut impl Rng,
) -> Result<SketchResult, SolveError> {
    sketch_solve(Method::Kaczmarz(sampling), a, b, x0, opts, rng)
}

/// The Gaussian-sketch iteration for `A x = b` (`s ~ N(0, I_m)` each step). Same contract as
/// [`kaczmarz`]; a vanishing `Aᵀs` is a `Breakdown`.
pub fn gaussian_sketch(
    a: &Array2<f64>,
    b: &Array1<f64>,
    x0: Option<&Array1<f64>>,
    opts: &SketchOpts,
    rng: &mut impl Rng,
) -> Result<SketchResult, SolveError> {
    sketch_solve(Method::Gaussian, a, b, x0, opts, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat, gaussian_vec};

    fn system(seed: u64, m: usize, n: usize) -> (Array2<f64>, Array1<f64>, Array1<f64>) {
        let mut rng = Seed(seed).rng();
        let a = gaussian_mat(&mut rng, m, n, 1.0);
        let xs = gaussian_vec(&mut rng, n, 1.0);
        let b = a.dot(&xs);
        (a, b, xs)
    }

    fn err(x: &Array1<f64>, y: &Array1<f64>) -> f64 {
        norm(&(x - y))
    }

    #[test]
    fn both_solvers_converge_on_a_consistent_system() {
        let (a, b, xs) = system(1, 30, 8);
        let opts = SketchOpts { tol: 1e-10, max_iters: 200_000, check_every: 1 };
        for s in [Sampling::Uniform, Sampling::RowNorm] {
            let r = kaczmarz(&a, &b, None, s, &opts, &mut Seed(2).rng()).unwrap();
            assert!(r.converged && r.residual <= 1e-10, "{s:?}: {r:?}");
            assert!(err(&r.x, &xs) < 1e-9);
            assert_eq!(r.row_ops, r.iters as u64);
            assert_eq!(r.sketch_flops, 4 * 8 * r.iters as u64);
        }
        let g = gaussian_sketch(&a, &b, None, &opts, &mut Seed(3).rng()).unwrap();
        assert!(g.converged && err(&g.x, &xs) < 1e-9, "{g:?}");
        assert_eq!(g.row_ops, 30 * g.iters as u64);
        // A square symmetric indefinite (KKT-shaped) system also converges.
        let kkt = ndarray::array![[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.0]];
        let xk = ndarray::array![1.0, -2.0, 0.5];
        let bk = kkt.dot(&xk);
        let r = kaczmarz(&kkt, &bk, None, Sampling::Uniform, &opts, &mut Seed(4).rng()).unwrap();
        assert!(r.converged && err(&r.x, &xk) < 1e-9);
    }

    /// Strohmer–Vershynin: E‖x_k − x*‖² ≤ (1 − σ_min²/‖A‖_F²)^k ‖x_0 − x*‖² with row-norm sampling.
    /// The mean over 300 seeds must lie below the bound and within a factor of the bound (the
    /// method is not much faster than its bound on a well-conditioned Gaussian matrix).
    #[test]
    fn kaczmarz_expected_rate_respects_strohmer_vershynin() {
        let (a, b, xs) = system(5, 40, 6);
        let sv = crate::linalg::singular_values(&a);
        let smin2 = sv[sv.len() - 1].powi(2);
        let fro2: f64 = a.iter().map(|v| v * v).sum();
        let rho = 1.0 - smin2 / fro2;
        let k = 60;
        let opts = SketchOpts { tol: 0.0, max_iters: k, check_every: k };
        let e0 = xs.dot(&xs);
        let reps = 300;
        let mut mean = 0.0;
        for s in 0..reps {
            let r = kaczmarz(&a, &b, None, Sampling::RowNorm, &opts, &mut Seed(100 + s).rng()).unwrap();
            assert_eq!(r.iters, k);
            mean += err(&r.x, &xs).powi(2) / e0 / reps as f64;
        }
        let bound = rho.powi(k as i32);
        assert!(mean <= bound, "mean {mean} above the bound {bound}");
        assert!(mean >= bound * 1e-3, "mean {mean} implausibly far below the bound {bound}");
    }

    #[test]
    fn the_cap_on_an_inconsistent_system_returns_not_converged_with_counts() {
        let (a, mut b, _) = system(7, 20, 4);
        b[3] += 1.0; // no longer in the range of A
        let opts = SketchOpts { tol: 1e-8, max_iters: 500, check_every: 10 };
        let r = kaczmarz(&a, &b, None, Sampling::Uniform, &opts, &mut Seed(1).rng()).unwrap();
        assert!(!r.converged && r.iters == 500 && r.residual > 1e-3, "{r:?}");
        assert_eq!(r.row_ops, 500);
        assert_eq!(r.check_flops, 2 * 20 * 4 * 51);
        let g = gaussian_sketch(&a, &b, None, &opts, &mut Seed(1).rng()).unwrap();
        assert!(!g.converged && g.iters == 500);
        // A badly conditioned consistent system (Hilbert, κ ≈ 1.5e7) also stops at the cap.
        let hil = Array2::from_shape_fn((6, 6), |(i, j)| 1.0 / (i + j + 1) as f64);
        let bh = hil.dot(&Array1::ones(6));
        let opts = SketchOpts { tol: 1e-12, max_iters: 1000, check_every: 1 };
        let r = kaczmarz(&hil, &bh, None, Sampling::Uniform, &opts, &mut Seed(2).rng()).unwrap();
        assert!(!r.converged && r.iters == 1000 && r.residual > 1e-12, "{r:?}");
        assert_eq!(r.check_flops, 2 * 36 * 1001);
    }

    #[test]
    fn typed_errors_instead_of_panics() {
        let a = ndarray::array![[1.0, 0.0], [0.0, 0.0]];
        let b = ndarray::array![1.0, 0.0];
        let e = kaczmarz(&a, &b, None, Sampling::Uniform, &SketchOpts::default(), &mut Seed(1).rng());
        assert!(matches!(e, Err(SolveError::Breakdown { .. })));
        let a = ndarray::array![[1.0, f64::NAN], [0.0, 1.0]];
        let e = kaczmarz(&a, &b, None, Sampling::Uniform, &SketchOpts::default(), &mut Seed(1).rng());
        assert!(matches!(e, Err(SolveError::NonFinite { .. })));
        let z = Array2::zeros((2, 2));
        let e = gaussian_sketch(&z, &ndarray::array![1.0, 1.0], None, &SketchOpts::default(), &mut Seed(1).rng());
        assert!(matches!(e, Err(SolveError::Breakdown { .. })));
        // Already solved: zero steps.
        let r = kaczmarz(
            &ndarray::array![[2.0]],
            &ndarray::array![0.0],
            None,
            Sampling::Uniform,
            &SketchOpts::default(),
            &mut Seed(1).rng(),
        )
        .unwrap();
        assert!(r.converged && r.iters == 0);
    }

    #[test]
    fn same_seed_same_result() {
        let (a, b, _) = system(9, 15, 5);
        let opts = SketchOpts { tol: 1e-6, max_iters: 10_000, check_every: 1 };
        let r1 = kaczmarz(&a, &b, None, Sampling::Uniform, &opts, &mut Seed(42).rng()).unwrap();
        let r2 = kaczmarz(&a, &b, None, Sampling::Uniform, &opts, &mut Seed(42).rng()).unwrap();
        assert_eq!(r1, r2);
        let r3 = kaczmarz(&a, &b, None, Sampling::Uniform, &opts, &mut Seed(43).rng()).unwrap();
        assert_ne!(r1.x, r3.x);
        let g1 = gaussian_sketch(&a, &b, None, &opts, &mut Seed(42).rng()).unwrap();
        let g2 = gaussian_sketch(&a, &b, None, &opts, &mut Seed(42).rng()).unwrap();
        assert_eq!(g1, g2);
    }
}
