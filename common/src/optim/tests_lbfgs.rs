//! The line searches and L-BFGS against closed forms: Rosenbrock's minimum, quadratics' exact
//! minimizers (and termination in n steps with exact line searches), the Wolfe conditions on the
//! returned steps, and the KKT point of a box-constrained quadratic found by enumeration.
use ndarray::{Array1, Array2, ArrayView1, array};
use proptest::prelude::*;

use super::*;
use crate::rng::{Seed, gaussian_mat, gaussian_vec};

/// Rosenbrock `(1 - x)² + 100 (y - x²)²`, minimum 0 at (1, 1).
struct Rosenbrock;

impl Objective for Rosenbrock {
    fn value_grad(&mut self, p: ArrayView1<f64>) -> (f64, Array1<f64>) {
        let (x, y) = (p[0], p[1]);
        let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
        (f, array![-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)])
    }
}

/// `½ xᵀ q x - bᵀ x`, minimizer `q⁻¹ b`.
struct Quadratic {
    q: Array2<f64>,
    b: Array1<f64>,
}

impl Objective for Quadratic {
    fn value_grad(&mut self, x: ArrayView1<f64>) -> (f64, Array1<f64>) {
        let qx = self.q.dot(&x);
        (0.5 * x.dot(&qx) - self.b.dot(&x), qx - &self.b)
    }
}

/// A random SPD quadratic with eigenvalues in [1, 1 + n].
fn quadratic(seed: u64, n: usize) -> Quadratic {
    let g = gaussian_mat(&mut Seed(seed).rng(), n, n, 1.0);
    let q = g.t().dot(&g) / n as f64 + Array2::<f64>::eye(n);
    Quadratic { q, b: gaussian_vec(&mut Seed(seed + 1).rng(), n, 3.0) }
}

/// The exact minimizing step of a quadratic, `α = -gᵀd / dᵀqd`.
struct ExactQuadratic(Array2<f64>);

impl LineSearch for ExactQuadratic {
    fn search<O: Objective>(
        &self,
        obj: &mut O,
        x: ArrayView1<f64>,
        _f0: f64,
        g0: ArrayView1<f64>,
        d: ArrayView1<f64>,
        _alpha0: f64,
    ) -> Result<LineStep, LineSearchError> {
        let alpha = -g0.dot(&d) / d.dot(&self.0.dot(&d));
        let x = &x + &(alpha * &d);
        let (f, grad) = obj.value_grad(x.view());
        Ok(LineStep { alpha, x, f, grad })
    }
}

#[test]
fn lbfgs_solves_rosenbrock() {
    let x0 = array![-1.2, 1.0];
    let lbfgs = Lbfgs { gtol: 1e-10, ..Lbfgs::default() };
    let mut obj = Counting::new(Rosenbrock);
    let r = lbfgs.minimize(&mut obj, x0.view());
    assert_eq!(r.stop, Stop::Converged);
    assert!((r.x[0] - 1.0).abs() < 1e-8 && (r.x[1] - 1.0).abs() < 1e-8, "{:?} after {} iters", r.x, r.iters);
    assert!(r.iters <= 60, "{} iterations", r.iters);
    // The result's counts are every evaluation, as an outer wrapper sees them.
    assert_eq!((r.values, r.grads), (obj.values, obj.grads));
    assert!(r.grads > r.iters && r.grads <= 3 * r.iters, "{} gradients for {} iterations", r.grads, r.iters);
    // With Armijo backtracking (curvature pairs with sᵀy <= 0 are skipped) it gets there too.
    let armijo = Lbfgs { gtol: 1e-10, max_iter: 500, m: 10, line_search: Armijo::default() };
    let r = armijo.minimize(Rosenbrock, x0.view());
    assert_eq!(r.stop, Stop::Converged);
    assert!((r.x[0] - 1.0).abs() < 1e-8 && (r.x[1] - 1.0).abs() < 1e-8, "{:?}", r.x);
    // A closure works as an objective.
    let r = Lbfgs::default().minimize(FnObjective(|x: ArrayView1<f64>| (x.dot(&x), 2.0 * &x)), x0.view());
    assert!(r.stop == Stop::Converged && r.x.iter().all(|v| v.abs() < 1e-8));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// With exact line searches and `m >= n`, L-BFGS on a quadratic is conjugate gradients: the
    /// minimizer `q⁻¹ b` in at most `n` steps (up to rounding). With the strong-Wolfe search it
    /// converges to it too, in a few more.
    #[test]
    fn lbfgs_on_quadratics(n in 1usize..12, seed in 0u64..1000) {
        let mut obj = quadratic(seed, n);
        let want = crate::linalg::dense::solve_spd(obj.q.view(), obj.b.view()).unwrap();
        let x0 = Array1::zeros(n);
        let exact = Lbfgs { m: n, gtol: 1e-9, max_iter: n + 2, line_search: ExactQuadratic(obj.q.clone()) };
        let r = exact.minimize(&mut obj, x0.view());
        prop_assert_eq!(&r.stop, &Stop::Converged);
        prop_assert!(r.iters <= n, "{} iterations for n = {}", r.iters, n);
        prop_assert!((&r.x - &want).iter().all(|e| e.abs() < 1e-8));
        let r = Lbfgs { gtol: 1e-10, ..Lbfgs::default() }.minimize(&mut obj, x0.view());
        prop_assert_eq!(&r.stop, &Stop::Converged);
        prop_assert!(r.iters <= 10 * n + 10, "{} iterations for n = {}", r.iters, n);
        prop_assert!((&r.x - &want).iter().all(|e| e.abs() < 1e-9));
    }

    /// Every step the strong-Wolfe search returns satisfies both conditions, along directions
    /// that are descent ones but far from the Newton step (random scalings of -g plus noise),
    /// from random points of Rosenbrock's valley and with initial steps from 1e-3 to 1e3. The
    /// returned point, value and gradient are those at `x + α d`. Armijo's steps have
    /// sufficient decrease.
    #[test]
    fn line_search_conditions_hold(
        x in -2.0f64..2.0, y in -1.0f64..3.0, noise in 0.0f64..0.9, scale in -3.0f64..3.0,
        a0 in -3.0f64..3.0, seed in 0u64..1000,
    ) {
        let x0 = array![x, y];
        let (f0, g0) = Rosenbrock.value_grad(x0.view());
        prop_assume!(g0.dot(&g0) > 1e-12);
        let z = gaussian_vec(&mut Seed(seed).rng(), 2, 1.0);
        let perp = &z - &(z.dot(&g0) / g0.dot(&g0) * &g0);
        let pn = perp.dot(&perp).sqrt().max(1e-300);
        let gn = g0.dot(&g0).sqrt();
        let d = 10f64.powf(scale) * (-&g0 / gn + noise * &perp / pn);
        let slope = g0.dot(&d);
        let sw = StrongWolfe::default();
        let step = sw.search(&mut Rosenbrock, x0.view(), f0, g0.view(), d.view(), 10f64.powf(a0)).unwrap();
        prop_assert!(step.alpha > 0.0);
        let dphi = step.grad.dot(&d);
        // Sufficient decrease, or where f's change is at its rounding level, its slope form.
        let approx = step.f <= f0 + 1e-10 * f0.abs() && dphi <= (2.0 * sw.c1 - 1.0) * slope;
        prop_assert!(step.f <= f0 + sw.c1 * step.alpha * slope || approx);
        prop_assert!(dphi.abs() <= sw.c2 * slope.abs());
        let (f, g) = Rosenbrock.value_grad(step.x.view());
        prop_assert!((&step.x - &(&x0 + &(step.alpha * &d))).iter().all(|e| e.abs() < 1e-12 * (1.0 + step.alpha)));
        prop_assert!(f == step.f && g == step.grad);
        let ar = Armijo::default();
        let step = ar.search(&mut Rosenbrock, x0.view(), f0, g0.view(), d.view(), 10f64.powf(a0)).unwrap();
        let approx = step.f <= f0 + 1e-10 * f0.abs() && step.grad.dot(&d) <= (2.0 * ar.c1 - 1.0) * slope;
        prop_assert!(step.f <= f0 + ar.c1 * step.alpha * slope || approx);
    }
}

#[test]
fn line_search_errors() {
    let x0 = array![-1.2, 1.0];
    let (f0, g0) = Rosenbrock.value_grad(x0.view());
    for d in [g0.clone(), Array1::zeros(2)] {
        let err = StrongWolfe::default().search(&mut Rosenbrock, x0.view(), f0, g0.view(), d.view(), 1.0);
        assert!(matches!(err, Err(LineSearchError::NotDescent { .. })), "{err:?}");
        assert!(Armijo::default().search(&mut Rosenbrock, x0.view(), f0, g0.view(), d.view(), 1.0).is_err());
    }
    // An unbounded-below function along d: the bracketing phase runs out of evaluations.
    let mut linear = FnObjective(|x: ArrayView1<f64>| (-x[0], array![-1.0]));
    let sw = StrongWolfe { max_evals: 10, ..StrongWolfe::default() };
    let err = sw.search(&mut linear, array![0.0].view(), 0.0, array![-1.0].view(), array![1.0].view(), 1.0);
    assert_eq!(err.unwrap_err(), LineSearchError::Failed { evals: 10, alpha: 512.0 });
    // A NaN beyond x = 1 is "too far": both searches back off to a finite point.
    let mut cliff = FnObjective(|x: ArrayView1<f64>| {
        if x[0] > 1.0 { (f64::NAN, array![f64::NAN]) } else { ((x[0] - 2.0).powi(2), array![2.0 * (x[0] - 2.0)]) }
    });
    let (f0, g0) = cliff.value_grad(array![0.0].view());
    for step in [
        StrongWolfe::default().search(&mut cliff, array![0.0].view(), f0, g0.view(), array![1.0].view(), 8.0),
        Armijo::default().search(&mut cliff, array![0.0].view(), f0, g0.view(), array![1.0].view(), 8.0),
    ] {
        let step = step.unwrap();
        assert!(step.f.is_finite() && step.x[0] <= 1.0 && step.f < f0, "{step:?}");
    }
}

/// The minimizer of `½ xᵀqx - bᵀx` over a box, by enumerating which coordinates sit at their
/// lower bound, at their upper bound or strictly inside, and keeping the assignment whose
/// reduced solution is feasible and satisfies the KKT signs (unique for a strictly convex q).
fn box_qp_by_enumeration(q: &Array2<f64>, b: &Array1<f64>, lo: &Array1<f64>, hi: &Array1<f64>) -> Array1<f64> {
    let n = b.len();
    for code in 0..3usize.pow(n as u32) {
        let state: Vec<usize> = (0..n).map(|i| code / 3usize.pow(i as u32) % 3).collect();
        let mut x = Array1::zeros(n);
        for i in 0..n {
            x[i] = match state[i] {
                0 => lo[i],
                1 => hi[i],
                _ => 0.0,
            };
        }
        let free: Vec<usize> = (0..n).filter(|&i| state[i] == 2).collect();
        if !free.is_empty() {
            let qff = Array2::from_shape_fn((free.len(), free.len()), |(a, c)| q[[free[a], free[c]]]);
            let rhs = Array1::from_shape_fn(free.len(), |a| {
                let i = free[a];
                b[i] - (0..n).filter(|j| state[*j] != 2).map(|j| q[[i, j]] * x[j]).sum::<f64>()
            });
            let xf = crate::linalg::dense::solve_spd(qff.view(), rhs.view()).unwrap();
            for (a, &i) in free.iter().enumerate() {
                x[i] = xf[a];
            }
        }
        let g = q.dot(&x) - b;
        let ok = (0..n).all(|i| match state[i] {
            0 => g[i] >= -1e-12,
            1 => g[i] <= 1e-12,
            _ => x[i] > lo[i] && x[i] < hi[i],
        });
        if ok {
            return x;
        }
    }
    panic!("no KKT point found")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A quadratic whose unconstrained minimizer lies outside the box `[-1, 1]^n` (one side
    /// unbounded for coordinate 0): the projected L-BFGS lands on the KKT point found by
    /// enumeration, with a zero projected gradient and the right signs at the active bounds.
    #[test]
    fn projected_lbfgs_finds_the_box_kkt_point(n in 1usize..6, seed in 0u64..1000) {
        let mut obj = quadratic(seed, n);
        obj.b *= 3.0;
        let mut lo = Array1::from_elem(n, -1.0);
        lo[0] = f64::NEG_INFINITY;
        let hi = Array1::from_elem(n, 1.0);
        let free_min = crate::linalg::dense::solve_spd(obj.q.view(), obj.b.view()).unwrap();
        prop_assume!(free_min.iter().zip(&lo).zip(&hi).any(|((x, l), h)| x < l || x > h));
        let want = box_qp_by_enumeration(&obj.q, &obj.b, &lo, &hi);
        let solver = ProjectedLbfgs { gtol: 1e-10, ..ProjectedLbfgs::new(lo.clone(), hi.clone()) };
        let x0 = gaussian_vec(&mut Seed(seed + 2).rng(), n, 2.0);
        let r = solver.minimize(&mut obj, x0.view());
        prop_assert_eq!(&r.stop, &Stop::Converged);
        prop_assert!(r.iters <= 200, "{} iterations", r.iters);
        prop_assert!((&r.x - &want).iter().all(|e| e.abs() < 1e-8), "{} vs {}", r.x, want);
        prop_assert!(r.x.iter().zip(&lo).zip(&hi).all(|((x, l), h)| l <= x && x <= h));
        for i in 0..n {
            if r.x[i] == hi[i] { prop_assert!(r.grad[i] <= 1e-10); }
            else if r.x[i] == lo[i] { prop_assert!(r.grad[i] >= -1e-10); }
            else { prop_assert!(r.grad[i].abs() <= 1e-10); }
        }
    }
}

#[test]
fn projected_lbfgs_closed_forms() {
    // Separable: the minimizer is the clipped unconstrained one, reached exactly at the bounds.
    let mut obj = Quadratic { q: Array2::from_diag(&array![1.0, 2.0, 4.0]), b: array![5.0, -8.0, 2.0] };
    let solver = ProjectedLbfgs::new(array![-1.0, -1.0, -1.0], array![1.0, 1.0, 1.0]);
    let r = solver.minimize(&mut obj, array![0.0, 0.0, 0.0].view());
    assert_eq!(r.stop, Stop::Converged);
    assert_eq!((r.x[0], r.x[1]), (1.0, -1.0));
    assert!((r.x[2] - 0.5).abs() < 1e-9);
    // Unbounded box: the same answer as plain L-BFGS (Rosenbrock's minimum).
    let inf = f64::INFINITY;
    let free = ProjectedLbfgs { gtol: 1e-10, ..ProjectedLbfgs::new(array![-inf, -inf], array![inf, inf]) };
    let r = free.minimize(Rosenbrock, array![-1.2, 1.0].view());
    assert!(r.stop == Stop::Converged && (r.x[0] - 1.0).abs() < 1e-8 && (r.x[1] - 1.0).abs() < 1e-8, "{r:?}");
    // Rosenbrock on x <= 0.5: the constrained minimum is at x = 0.5, y = 0.25.
    let boxed = ProjectedLbfgs { gtol: 1e-10, ..ProjectedLbfgs::new(array![-inf, -inf], array![0.5, inf]) };
    let r = boxed.minimize(Rosenbrock, array![-1.2, 1.0].view());
    assert_eq!(r.stop, Stop::Converged);
    assert!(r.x[0] == 0.5 && (r.x[1] - 0.25).abs() < 1e-9, "{:?}", r.x);
}
