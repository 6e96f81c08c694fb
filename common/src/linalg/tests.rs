//! Tests of the Krylov methods against dense references and their defining identities.
use ndarray::{Array1, Array2};
use proptest::prelude::*;

use super::*;
use crate::linalg::haar_orthogonal;
use crate::rng::{Seed, gaussian_mat, gaussian_vec};

/// `Q diag(w) Q^T` with Haar `Q`.
fn with_spectrum(seed: u64, w: &[f64]) -> Array2<f64> {
    let q = haar_orthogonal(&mut Seed(seed).rng(), w.len());
    let a = q.dot(&Array2::from_diag(&Array1::from(w.to_vec()))).dot(&q.t());
    (&a + &a.t()) * 0.5
}

fn random_sym(seed: u64, n: usize) -> Array2<f64> {
    let g = gaussian_mat(&mut Seed(seed).rng(), n, n, 1.0);
    (&g + &g.t()) / (2.0 * (n as f64).sqrt())
}

/// Top spectrum `top` (descending, well separated) above a bulk in [-1, 1].
fn gapped(seed: u64, n: usize, top: &[f64]) -> Array2<f64> {
    let mut rng = Seed(seed ^ 0xABCD).rng();
    let mut w: Vec<f64> = (0..n - top.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
    w.extend_from_slice(top);
    with_spectrum(seed, &w)
}

use rand::Rng;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn lanczos_top_eigs_match_eigvalsh(seed in 0u64..10_000, n in 12usize..80, k in 1usize..4) {
        let a = gapped(seed, n, &[9.0, 6.0, 4.0]);
        let exact = eigvalsh(&a);
        let (vals, vecs) = top_eigs(&a, k, 40, &mut Seed(seed).child("lz").rng());
        prop_assert_eq!(vals.len(), k);
        for i in 0..k {
            let e = exact[n - 1 - i];
            prop_assert!((vals[i] - e).abs() < 1e-8 * e.abs(), "{} vs {}", vals[i], e);
            // eigenvector residual
            let r = a.dot(&vecs[i]) - &vecs[i] * vals[i];
            prop_assert!(r.dot(&r).sqrt() < 1e-6);
            prop_assert!((vecs[i].dot(&vecs[i]) - 1.0).abs() < 1e-10);
        }
    }

    #[test]
    fn full_lanczos_is_exact(seed in 0u64..10_000, n in 2usize..30) {
        let a = random_sym(seed, n);
        let exact = eigvalsh(&a);
        let (top, _) = top_eigs(&a, n, n, &mut Seed(seed).rng());
        let (bot, _) = bottom_eigs(&a, n, n, &mut Seed(seed).rng());
        for i in 0..n {
            prop_assert!((top[i] - exact[n - 1 - i]).abs() < 1e-9);
            prop_assert!((bot[i] - exact[i]).abs() < 1e-9);
        }
    }

    /// m-step Lanczos quadrature integrates x^j exactly for j <= 2m - 1: sum_k w_k theta_k^j =
    /// v^T A^j v for a unit start vector v.
    #[test]
    fn lanczos_quadrature_is_exact_for_low_degree(seed in 0u64..10_000, n in 8usize..40, m in 1usize..7) {
        let a = random_sym(seed, n);
        let mut v = gaussian_vec(&mut Seed(seed).child("v").rng(), n, 1.0);
        v /= v.dot(&v).sqrt();
        let lz = lanczos(&a, m, v.view());
        prop_assert_eq!(lz.steps(), m);
        let (nodes, w) = lz.quadrature();
        prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut ajv = v.clone(); // A^j v
        for j in 0..2 * m {
            let exact = v.dot(&ajv);
            let quad: f64 = nodes.iter().zip(&w).map(|(t, w)| w * t.powi(j as i32)).sum();
            prop_assert!((quad - exact).abs() < 1e-9, "j={} quad={} exact={}", j, quad, exact);
            ajv = a.dot(&ajv);
        }
        // and degree 2m is (generically) not exact
        let exact = v.dot(&ajv);
        let quad: f64 = nodes.iter().zip(&w).map(|(t, w)| w * t.powi(2 * m as i32)).sum();
        prop_assert!(m >= n || (quad - exact).abs() > 1e-14);
    }

    #[test]
    fn cg_solves_spd_in_at_most_n_steps(seed in 0u64..10_000, n in 2usize..40, cond in 1.0f64..100.0) {
        let mut rng = Seed(seed).rng();
        let w: Vec<f64> = (0..n).map(|i| 1.0 + (cond - 1.0) * i as f64 / (n - 1).max(1) as f64).collect();
        let a = with_spectrum(seed, &w);
        let b = gaussian_vec(&mut rng, n, 1.0);
        let tol = 1e-10;
        let r = cg(&a, b.view(), tol, 10 * n);
        prop_assert!(r.converged);
        prop_assert!(r.iters <= n, "iters {} > n {}", r.iters, n);
        let true_res = (&b - &a.dot(&r.x)).mapv(|x| x * x).sum().sqrt() / b.dot(&b).sqrt();
        prop_assert!(true_res <= 10.0 * tol, "true residual {}", true_res);
        prop_assert!(r.residual <= tol);
    }
}

#[test]
fn pcg_with_exact_inverse_converges_in_one_step() {
    let n = 25;
    let w: Vec<f64> = (0..n).map(|i| 1.0 + 1e3 * i as f64 / n as f64).collect();
    let a = with_spectrum(3, &w);
    let inv = {
        let winv: Vec<f64> = w.iter().map(|x| 1.0 / x).collect();
        let (_, q) = eigh(&a);
        let (vals, _) = eigh(&a);
        let _ = winv;
        let d = Array2::from_diag(&vals.mapv(|x| 1.0 / x));
        q.dot(&d).dot(&q.t())
    };
    let b = gaussian_vec(&mut Seed(4).rng(), n, 1.0);
    let pre = |r: ndarray::ArrayView1<f64>| inv.dot(&r);
    let r = pcg(&a, &pre, b.view(), 1e-10, 100);
    assert!(r.converged);
    assert_eq!(r.iters, 1);
    // without the preconditioner it takes many more
    let r0 = cg(&a, b.view(), 1e-10, 100);
    assert!(r0.iters > 10);
    // and a Jacobi preconditioner works too
    let d = a.diag().to_owned();
    let jac = |r: ndarray::ArrayView1<f64>| &r / &d;
    let rj = pcg(&a, &jac, b.view(), 1e-10, 100);
    assert!(rj.converged);
    assert!((&rj.x - &r.x).iter().all(|x| x.abs() < 1e-6));
}

#[test]
fn cg_zero_rhs_and_indefinite() {
    let a = Array2::from_diag(&Array1::from(vec![1.0, -1.0]));
    let z = cg(&a, Array1::zeros(2).view(), 1e-8, 10);
    assert!(z.converged && z.iters == 0);
    let r = cg(&a, ndarray::array![1.0, 1.0].view(), 1e-8, 10);
    assert!(!r.converged); // p^T A p = 0 on the first step
}

#[test]
fn power_iteration_finds_top_eigenvalue() {
    let a = gapped(7, 50, &[5.0, 2.0]);
    let (l, v) = power_iteration(&a, 1000, 1e-12, &mut Seed(1).rng());
    assert!((l - 5.0).abs() < 1e-8, "{l}");
    let r = a.dot(&v) - &v * l;
    assert!(r.dot(&r).sqrt() < 1e-4);
    // negative dominant eigenvalue keeps its sign
    let b = with_spectrum(8, &[-3.0, 1.0, 0.5, 0.2]);
    let (l, _) = power_iteration(&b, 2000, 1e-14, &mut Seed(2).rng());
    assert!((l + 3.0).abs() < 1e-8);
}

#[test]
fn deflated_power_iteration_finds_top_k() {
    let a = gapped(9, 40, &[8.0, 4.0, 2.5]);
    let (vals, vecs) = top_eigs_power(&a, 3, 5000, 1e-13, &mut Seed(3).rng());
    for (v, e) in vals.iter().zip([8.0, 4.0, 2.5]) {
        assert!((v - e).abs() < 1e-6, "{v} vs {e}");
    }
    assert!(vecs[0].dot(&vecs[1]).abs() < 1e-8);
    assert!(vecs[1].dot(&vecs[2]).abs() < 1e-8);
}

#[test]
fn top_eigs_with_repeated_eigenvalues() {
    // identity: the Krylov space of any start vector is one-dimensional; restarts recover k
    let a = Array2::<f64>::eye(10);
    let (vals, vecs) = top_eigs(&a, 3, 10, &mut Seed(1).rng());
    assert_eq!(vals.len(), 3);
    assert!(vals.iter().all(|v| (v - 1.0).abs() < 1e-12));
    assert!(vecs[0].dot(&vecs[1]).abs() < 1e-10);
    // plain Lanczos stops at the invariant subspace
    let lz = lanczos(&a, 5, Array1::ones(10).view());
    assert_eq!(lz.steps(), 1);
}

#[test]
fn lanczos_basis_is_orthonormal_and_tridiagonalizes() {
    let a = random_sym(11, 60);
    let lz = lanczos(&a, 30, gaussian_vec(&mut Seed(2).rng(), 60, 1.0).view());
    let v = &lz.basis;
    let vtv = v.t().dot(v);
    let vtav = v.t().dot(&a.dot(v));
    let t = lz.tridiagonal();
    for i in 0..30 {
        for j in 0..30 {
            let e = if i == j { 1.0 } else { 0.0 };
            assert!((vtv[[i, j]] - e).abs() < 1e-12);
            assert!((vtav[[i, j]] - t[[i, j]]).abs() < 1e-10);
        }
    }
}

/// The sample variance of Hutchinson's estimator over many probes matches its defining identity
/// 2 (|A|_F^2 - sum A_ii^2) for Rademacher probes.
#[test]
fn hutchinson_variance_identity() {
    let a = random_sym(21, 12) + Array2::from_diag(&Array1::linspace(0.0, 2.0, 12));
    let exact_var = 2.0 * (a.mapv(|x| x * x).sum() - a.diag().mapv(|x| x * x).sum());
    let probes = 40_000;
    let (mean, var) = hutchinson_trace(&a, probes, &mut Seed(5).rng());
    let tr = a.diag().sum();
    assert!((mean - tr).abs() < 4.0 * (exact_var / probes as f64).sqrt(), "{mean} vs {tr}");
    assert!((var / exact_var - 1.0).abs() < 0.05, "{var} vs {exact_var}");
    // a diagonal matrix has zero variance
    let d = Array2::from_diag(&Array1::linspace(1.0, 3.0, 7));
    let (m, v) = hutchinson_trace(&d, 10, &mut Seed(6).rng());
    assert!((m - 14.0).abs() < 1e-12 && v.abs() < 1e-20);
}

#[test]
fn slq_density_and_trace() {
    let n = 200;
    let w: Vec<f64> = (0..n).map(|i| if i < 150 { 0.0 } else { 1.0 + (i - 150) as f64 * 0.1 }).collect();
    let a = with_spectrum(31, &w);
    let op = Counted::new(&a);
    let nw = slq(&op, 8, 30, &mut Seed(1).rng());
    assert_eq!(nw.len(), 8);
    assert!(op.count() <= 8 * 30);
    for (nodes, ws) in &nw {
        assert!((ws.iter().sum::<f64>() - 1.0).abs() < 1e-10);
        assert!(nodes.iter().all(|x| *x > -1e-6 && *x < 6.0 + 1e-6));
    }
    // density integrates to ~1 on a grid covering the spectrum
    let grid: Vec<f64> = (0..2001).map(|i| -2.0 + 10.0 * i as f64 / 2000.0).collect();
    let dens = slq_density(&nw, &grid, 0.05);
    let dx = grid[1] - grid[0];
    let integral: f64 = dens.iter().sum::<f64>() * dx;
    assert!((integral - 1.0).abs() < 1e-6, "{integral}");
    // mass near zero ~ 150/200
    let near0: f64 = grid.iter().zip(&dens).filter(|(x, _)| x.abs() < 0.3).map(|(_, d)| d * dx).sum();
    assert!((near0 - 0.75).abs() < 0.1, "{near0}");
    // trace of A and A^2 through the quadrature (exact per probe for degree <= 2m-1; Monte Carlo
    // over probes)
    let tr = slq_trace(&nw, n, |x| x);
    assert!((tr / a.diag().sum() - 1.0).abs() < 0.1, "{tr}");
}

/// Every `f64` of `xs`, as bits (so `-0.0 != 0.0` and NaN == NaN, unlike `==`).
pub(crate) fn bits<'a>(xs: impl IntoIterator<Item = &'a f64>) -> Vec<u64> {
    xs.into_iter().map(|x| x.to_bits()).collect()
}

/// Runs `f` in rayon pools of 1, 2 and 3 threads and asserts that every named output is bitwise
/// the same in all three.
pub(crate) fn assert_same_bits_in_pools(f: impl Fn() -> Vec<(String, Vec<u64>)> + Sync) {
    let in_pool = |t: usize| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap().install(&f);
    let one = in_pool(1);
    for t in [2, 3] {
        let other = in_pool(t);
        assert_eq!(one.len(), other.len());
        for ((name, a), (_, b)) in one.iter().zip(&other) {
            assert!(a == b, "{name}: 1 and {t} threads differ");
        }
    }
}

/// The numbers of every public entry point here that runs on rayon or faer are bitwise the same
/// whatever the thread count: the factorizations at sizes where faer would go parallel, GEMMs
/// above the parallel threshold (matrix-vector shapes, whose parallel faer kernel splits `k` by
/// the thread count, and general ones with `k` beyond faer's depth block of 512), and the Krylov
/// methods (probes drawn in order, each run on one thread).
#[test]
fn linalg_is_bitwise_identical_at_any_thread_count() {
    use super::dense::{gemm, gemm_new};
    let a = random_sym(3, 50);
    let spd = with_spectrum(4, &(1..=120).map(|i| i as f64).collect::<Vec<_>>());
    let run = || {
        let mut out: Vec<(String, Vec<u64>)> = vec![];
        let mut put = |name: String, v: Vec<u64>| out.push((name, v));
        for n in [100, 300] {
            let g = gaussian_mat(&mut Seed(n as u64).rng(), n, n, 1.0);
            let s = &g + &g.t();
            let (q, r) = qr(&g);
            put(format!("qr q {n}"), bits(&q));
            put(format!("qr r {n}"), bits(&r));
            let (w, v) = eigh(&s);
            put(format!("eigh values {n}"), bits(&w));
            put(format!("eigh vectors {n}"), bits(&v));
            put(format!("eigvalsh {n}"), bits(&eigvalsh(&s)));
            put(format!("singular_values {n}"), bits(&singular_values(&g)));
            put(format!("haar_orthogonal {n}"), bits(&haar_orthogonal(&mut Seed(1).rng(), n)));
        }
        for (m, k, n) in
            [(1, 2000, 300), (300, 2000, 1), (1000, 300, 1), (400, 100, 64), (130, 1100, 70), (2000, 200, 3)]
        {
            let x = gaussian_mat(&mut Seed(7).rng(), m, k, 1.0);
            let y = gaussian_mat(&mut Seed(8).rng(), k, n, 1.0);
            let (xt, yt) = (x.t().to_owned(), y.t().to_owned());
            for (lay, xv, yv) in [("rr", x.view(), y.view()), ("cr", xt.t(), y.view()), ("rc", x.view(), yt.t())] {
                put(format!("gemm_new {m}x{k}x{n} {lay}"), bits(&gemm_new(&xv, &yv)));
                let mut c = Array2::ones((m, n));
                gemm(&xv, &yv, 1.0, &mut c.view_mut());
                put(format!("gemm {m}x{k}x{n} {lay}"), bits(&c));
            }
        }
        let l = lanczos(&a, 30, gaussian_vec(&mut Seed(2).rng(), 50, 1.0).view());
        put("lanczos".into(), bits(l.alpha.iter().chain(&l.beta).chain(&l.basis)));
        for (name, (vals, vecs)) in [
            ("top_eigs", top_eigs(&a, 4, 20, &mut Seed(5).rng())),
            ("bottom_eigs", bottom_eigs(&a, 4, 20, &mut Seed(5).rng())),
            ("top_eigs_power", top_eigs_power(&a, 2, 50, 0.0, &mut Seed(5).rng())),
        ] {
            put(name.into(), bits(vals.iter().chain(vecs.iter().flatten())));
        }
        let (lam, v) = power_iteration(&a, 50, 0.0, &mut Seed(6).rng());
        put("power_iteration".into(), bits(std::iter::once(&lam).chain(&v)));
        for (i, (nodes, weights)) in slq(&a, 5, 10, &mut Seed(9).rng()).iter().enumerate() {
            put(format!("slq probe {i}"), bits(nodes.iter().chain(weights)));
        }
        put("hutchinson_samples".into(), bits(&hutchinson_samples(&a, 33, &mut Seed(9).rng())));
        let b = gaussian_vec(&mut Seed(10).rng(), 120, 1.0);
        put("cg".into(), bits(&cg(&spd, b.view(), 1e-12, 200).x));
        out
    };
    assert_same_bits_in_pools(run);
}

#[test]
fn haar_is_orthogonal() {
    let mut rng = Seed(1).rng();
    let q = haar_orthogonal(&mut rng, 12);
    let qtq = q.t().dot(&q);
    for i in 0..12 {
        for j in 0..12 {
            let e = if i == j { 1.0 } else { 0.0 };
            assert!((qtq[[i, j]] - e).abs() < 1e-12);
        }
    }
}

#[test]
fn non_finite_input_gives_nan_not_a_panic() {
    for bad in [f64::NAN, f64::INFINITY] {
        let mut a = Array2::<f64>::eye(4);
        a[[2, 1]] = bad;
        let (vals, vecs) = eigh(&a);
        assert!(vals.iter().chain(vecs.iter()).all(|x| x.is_nan()));
        assert!(eigvalsh(&a).iter().all(|x| x.is_nan()));
        assert!(singular_values(&a).iter().all(|x| x.is_nan()));
        let p = pinv(a.view(), None);
        assert_eq!(p.dim(), (4, 4));
        assert!(p.iter().all(|x| x.is_nan()));
    }
    // Finite input is untouched by the guard.
    let (vals, _) = eigh(&Array2::<f64>::eye(3));
    assert_eq!(vals.to_vec(), vec![1.0; 3]);
}
