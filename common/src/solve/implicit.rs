//! Implicit differentiation of a solution map, in the style of jaxopt's `custom_root` /
//! `custom_fixed_point` (Blondel et al., "Efficient and Modular Implicit Differentiation", 2022).
//!
//! If `x*(θ)` solves `F(x, θ) = 0` and `A = ∂₁F(x*, θ)` is invertible, the implicit function
//! theorem gives `∂x*(θ) = −A⁻¹ B` with `B = ∂₂F(x*, θ)`. So
//! - the JVP along `v` is the solution `u` of `A u = −B v` ([`root_jvp`]);
//! - the VJP of a cotangent `g` is `−Bᵀ w` with `Aᵀ w = g` ([`root_vjp`]);
//!
//! each one linear solve, with `A` known only through its JVP (and `Aᵀ` through the VJP). A
//! fixed point `x = T(x, θ)` is the root of `F = T − id` ([`FixedPoint`]). Evaluated at an
//! approximate solution `x̂`, the same formulas give the estimate `J(x̂, θ)` whose error is
//! `O(‖x̂ − x*‖)` (the paper's Thm 1).

use ndarray::{Array1, Array2, ArrayView1, Axis};

use super::SolveError;
use super::linear::{DenseLu, FnMap, KrylovOpts, LinMap, bicgstab, gmres, normal_cg};

/// An optimality map `F(x, θ)` (`x ∈ Rⁿ`, `θ ∈ Rᵖ`, `F ∈ Rⁿ`) known through its value and its
/// four Jacobian products at a point.
pub trait RootMap {
    /// `n`, the dimension of `x` (and of `F`).
    fn dim_x(&self) -> usize;
    /// `p`, the dimension of `θ`.
    fn dim_theta(&self) -> usize;
    /// `F(x, θ)`.
    fn value(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>) -> Array1<f64>;
    /// `∂₁F(x, θ) v` for `v ∈ Rⁿ`.
    fn jvp_x(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64>;
    /// `∂₁F(x, θ)ᵀ u` for `u ∈ Rⁿ`.
    fn vjp_x(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64>;
    /// `∂₂F(x, θ) v` for `v ∈ Rᵖ` (a vector of `Rⁿ`).
    fn jvp_theta(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64>;
    /// `∂₂F(x, θ)ᵀ u` for `u ∈ Rⁿ` (a vector of `Rᵖ`).
    fn vjp_theta(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64>;
}

impl<R: RootMap + ?Sized> RootMap for &R {
    fn dim_x(&self) -> usize {
        (**self).dim_x()
    }
    fn dim_theta(&self) -> usize {
        (**self).dim_theta()
    }
    fn value(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>) -> Array1<f64> {
        (**self).value(x, theta)
    }
    fn jvp_x(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        (**self).jvp_x(x, theta, v)
    }
    fn vjp_x(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        (**self).vjp_x(x, theta, u)
    }
    fn jvp_theta(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        (**self).jvp_theta(x, theta, v)
    }
    fn vjp_theta(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        (**self).vjp_theta(x, theta, u)
    }
}

type Val<'a> = Box<dyn Fn(ArrayView1<f64>, ArrayView1<f64>) -> Array1<f64> + 'a>;
type Prod<'a> = Box<dyn Fn(ArrayView1<f64>, ArrayView1<f64>, ArrayView1<f64>) -> Array1<f64> + 'a>;

/// A [`RootMap`] from closures (`value(x, θ)`, then the four products `(x, θ, v)`).
pub struct FnRoot<'a> {
    /// `n`.
    pub n: usize,
    /// `p`.
    pub p: usize,
    /// `F(x, θ)`.
    pub value: Val<'a>,
    /// `∂₁F v`.
    pub jvp_x: Prod<'a>,
    /// `∂₁Fᵀ u`.
    pub vjp_x: Prod<'a>,
    /// `∂₂F v`.
    pub jvp_theta: Prod<'a>,
    /// `∂₂Fᵀ u`.
    pub vjp_theta: Prod<'a>,
}

impl RootMap for FnRoot<'_> {
    fn dim_x(&self) -> usize {
        self.n
    }
    fn dim_theta(&self) -> usize {
        self.p
    }
    fn value(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>) -> Array1<f64> {
        (self.value)(x, theta)
    }
    fn jvp_x(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        (self.jvp_x)(x, theta, v)
    }
    fn vjp_x(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        (self.vjp_x)(x, theta, u)
    }
    fn jvp_theta(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        (self.jvp_theta)(x, theta, v)
    }
    fn vjp_theta(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        (self.vjp_theta)(x, theta, u)
    }
}

/// The root map `F(x, θ) = T(x, θ) − x` of a fixed-point map `T` (itself given as a [`RootMap`]
/// whose `value` is `T`): jaxopt's `custom_fixed_point`.
pub struct FixedPoint<T>(pub T);

impl<T: RootMap> RootMap for FixedPoint<T> {
    fn dim_x(&self) -> usize {
        self.0.dim_x()
    }
    fn dim_theta(&self) -> usize {
        self.0.dim_theta()
    }
    fn value(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>) -> Array1<f64> {
        self.0.value(x, theta) - x
    }
    fn jvp_x(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        self.0.jvp_x(x, theta, v) - v
    }
    fn vjp_x(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        self.0.vjp_x(x, theta, u) - u
    }
    fn jvp_theta(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        self.0.jvp_theta(x, theta, v)
    }
    fn vjp_theta(&self, x: ArrayView1<f64>, theta: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        self.0.vjp_theta(x, theta, u)
    }
}

/// How the linear system with `A = ∂₁F` (or `Aᵀ`) is solved.
#[derive(Clone, Copy, Debug)]
pub enum LinearSolve {
    /// Materialize `A` by `n` JVPs and factor it (LU with partial pivoting).
    Dense,
    /// Restarted GMRES on `A` (or `Aᵀ`).
    Gmres(KrylovOpts),
    /// BiCGSTAB on `A` (or `Aᵀ`).
    Bicgstab(KrylovOpts),
    /// CG on the normal equations (jaxopt's default `solve_normal_cg`): needs both products.
    NormalCg(KrylovOpts),
}

/// `∂₁F(x, θ)` as a dense `n × n` matrix, column by column from JVPs.
pub fn dense_jacobian_x<R: RootMap + ?Sized>(map: &R, x: ArrayView1<f64>, theta: ArrayView1<f64>) -> Array2<f64> {
    let n = map.dim_x();
    let mut a = Array2::zeros((n, n));
    let mut e = Array1::zeros(n);
    for j in 0..n {
        e[j] = 1.0;
        a.column_mut(j).assign(&map.jvp_x(x, theta, e.view()));
        e[j] = 0.0;
    }
    a
}

fn solve_with<R: RootMap + ?Sized>(
    map: &R,
    x: ArrayView1<f64>,
    theta: ArrayView1<f64>,
    rhs: ArrayView1<f64>,
    transpose: bool,
    how: LinearSolve,
) -> Result<Array1<f64>, SolveError> {
    let n = map.dim_x();
    let fwd = FnMap::new(n, |v: ArrayView1<f64>| map.jvp_x(x, theta, v));
    let bwd = FnMap::new(n, |v: ArrayView1<f64>| map.vjp_x(x, theta, v));
    let (op, op_t): (&dyn LinMap, &dyn LinMap) = if transpose { (&bwd, &fwd) } else { (&fwd, &bwd) };
    Ok(match how {
        LinearSolve::Dense => {
            let lu = DenseLu::new(dense_jacobian_x(map, x, theta).view())?;
            if transpose { lu.solve_t(rhs) } else { lu.solve(rhs) }
        }
        LinearSolve::Gmres(o) => gmres(op, rhs, None, o)?.x,
        LinearSolve::Bicgstab(o) => bicgstab(op, rhs, None, o)?.x,
        LinearSolve::NormalCg(o) => normal_cg(op, op_t, rhs, None, o)?.x,
    })
}

/// JVP of the solution map: `∂x*(θ) v = u` with `∂₁F u = −∂₂F v`, evaluated at `x` (the
/// solution, or an approximation of it).
pub fn root_jvp<R: RootMap + ?Sized>(
    map: &R,
    x: ArrayView1<f64>,
    theta: ArrayView1<f64>,
    v: ArrayView1<f64>,
    how: LinearSolve,
) -> Result<Array1<f64>, SolveError> {
    assert_eq!(x.len(), map.dim_x(), "root_jvp: x has the wrong length");
    assert_eq!(v.len(), map.dim_theta(), "root_jvp: the tangent has the wrong length");
    let rhs = -map.jvp_theta(x, theta, v);
    solve_with(map, x, theta, rhs.view(), false, how)
}

/// VJP of the solution map: `∂x*(θ)ᵀ g = −∂₂Fᵀ w` with `∂₁Fᵀ w = g`.
pub fn root_vjp<R: RootMap + ?Sized>(
    map: &R,
    x: ArrayView1<f64>,
    theta: ArrayView1<f64>,
    g: ArrayView1<f64>,
    how: LinearSolve,
) -> Result<Array1<f64>, SolveError> {
    assert_eq!(x.len(), map.dim_x(), "root_vjp: x has the wrong length");
    assert_eq!(g.len(), map.dim_x(), "root_vjp: the cotangent has the wrong length");
    let w = solve_with(map, x, theta, g, true, how)?;
    Ok(-map.vjp_theta(x, theta, w.view()))
}

/// The full Jacobian `∂x*(θ)` (`n × p`): with [`LinearSolve::Dense`] one factorization and `p`
/// solves; otherwise `p` JVPs.
pub fn root_jacobian<R: RootMap + ?Sized>(
    map: &R,
    x: ArrayView1<f64>,
    theta: ArrayView1<f64>,
    how: LinearSolve,
) -> Result<Array2<f64>, SolveError> {
    let (n, p) = (map.dim_x(), map.dim_theta());
    let mut e = Array1::zeros(p);
    let mut b = Array2::zeros((n, p));
    for j in 0..p {
        e[j] = 1.0;
        b.column_mut(j).assign(&map.jvp_theta(x, theta, e.view()));
        e[j] = 0.0;
    }
    match how {
        LinearSolve::Dense => {
            let lu = DenseLu::new(dense_jacobian_x(map, x, theta).view())?;
            Ok(-lu.solve_mat(b.view()))
        }
        _ => {
            let mut out = Array2::zeros((n, p));
            for (j, col) in b.axis_iter(Axis(1)).enumerate() {
                let rhs = -&col;
                out.column_mut(j).assign(&solve_with(map, x, theta, rhs.view(), false, how)?);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat, gaussian_vec};
    use crate::solve::nonlinear::{NewtonOpts, newton};

    /// A small regression problem: X (n × d), targets y.
    fn data(n: usize, d: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
        let mut rng = Seed(seed).rng();
        let x = gaussian_mat(&mut rng, n, d, 1.0);
        let y = gaussian_vec(&mut rng, n, 1.0);
        (x, y)
    }

    /// Ridge with one penalty per coordinate: `F(w, θ) = XᵀX w / n + θ ⊙ w − Xᵀy / n`.
    fn ridge<'a>(x: &'a Array2<f64>, y: &'a Array1<f64>) -> FnRoot<'a> {
        let n = x.nrows() as f64;
        FnRoot {
            n: x.ncols(),
            p: x.ncols(),
            value: Box::new(move |w, t| x.t().dot(&(x.dot(&w) - y)) / n + &(&t * &w)),
            jvp_x: Box::new(move |_, t, v| x.t().dot(&x.dot(&v)) / n + &(&t * &v)),
            vjp_x: Box::new(move |_, t, u| x.t().dot(&x.dot(&u)) / n + &(&t * &u)),
            jvp_theta: Box::new(|w, _, v| &w * &v),
            vjp_theta: Box::new(|w, _, u| &w * &u),
        }
    }

    fn solvers() -> Vec<LinearSolve> {
        let o = KrylovOpts { tol: 1e-13, max_iter: 500, restart: 8 };
        vec![LinearSolve::Dense, LinearSolve::Gmres(o), LinearSolve::Bicgstab(o), LinearSolve::NormalCg(o)]
    }

    fn max_abs(a: &Array2<f64>) -> f64 {
        a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
    }

    #[test]
    fn ridge_jacobian_matches_the_closed_form_with_every_solver() {
        let (x, y) = data(40, 6, 1);
        let map = ridge(&x, &y);
        let theta = Array1::from_iter((0..6).map(|i| 0.1 + 0.2 * i as f64));
        let a = x.t().dot(&x) / 40.0 + Array2::from_diag(&theta);
        let w = crate::linalg::solve(a.view(), (x.t().dot(&y) / 40.0).view()).unwrap();
        // ∂w*/∂θ = −A⁻¹ diag(w*).
        let truth = -crate::linalg::inv(a.view()).unwrap().dot(&Array2::from_diag(&w));
        for how in solvers() {
            let j = root_jacobian(&map, w.view(), theta.view(), how).unwrap();
            assert!(max_abs(&(&j - &truth)) < 1e-10, "{how:?}: {}", max_abs(&(&j - &truth)));
            // The VJP's rows agree with the JVP's columns.
            for i in 0..6 {
                let mut g = Array1::zeros(6);
                g[i] = 1.0;
                let row = root_vjp(&map, w.view(), theta.view(), g.view(), how).unwrap();
                let diff = (&row - &truth.row(i)).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(diff < 1e-10, "{how:?} vjp row {i}: {diff}");
            }
        }
        // A scalar λ (all penalties equal): ∂w*/∂λ = −A⁻¹ w*, through one JVP along 1.
        let ones = Array1::ones(6);
        let jv = root_jvp(&map, w.view(), theta.view(), ones.view(), LinearSolve::Dense).unwrap();
        let closed = -crate::linalg::solve(a.view(), w.view()).unwrap();
        assert!((&jv - &closed).iter().all(|d| d.abs() < 1e-12));
    }

    /// L2-logistic regression's gradient map `F(w, θ) = Xᵀ(σ(Xw) − y)/n + θ ⊙ w` (labels 0/1).
    fn logistic<'a>(x: &'a Array2<f64>, y: &'a Array1<f64>) -> FnRoot<'a> {
        let n = x.nrows() as f64;
        let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
        let hv = move |w: ArrayView1<f64>, v: ArrayView1<f64>| {
            let s = x.dot(&w).mapv(|z| sig(z) * (1.0 - sig(z)));
            x.t().dot(&(&s * &x.dot(&v))) / n
        };
        FnRoot {
            n: x.ncols(),
            p: x.ncols(),
            value: Box::new(move |w, t| x.t().dot(&(x.dot(&w).mapv(sig) - y)) / n + &(&t * &w)),
            jvp_x: Box::new(move |w, t, v| hv(w, v) + &(&t * &v)),
            vjp_x: Box::new(move |w, t, u| hv(w, u) + &(&t * &u)),
            jvp_theta: Box::new(|w, _, v| &w * &v),
            vjp_theta: Box::new(|w, _, u| &w * &u),
        }
    }

    fn solve_logistic(map: &FnRoot, theta: &Array1<f64>) -> Array1<f64> {
        let n = map.dim_x();
        let f = |w: ArrayView1<f64>| map.value(w, theta.view());
        let j = |w: ArrayView1<f64>| dense_jacobian_x(map, w, theta.view());
        newton(f, j, Array1::zeros(n).view(), NewtonOpts { tol: 1e-14, ..Default::default() }).unwrap().x
    }

    #[test]
    fn logistic_jacobian_matches_central_finite_differences() {
        let (x, z) = data(60, 4, 2);
        let y = z.mapv(|v| f64::from(u8::from(v > 0.0)));
        let map = logistic(&x, &y);
        let theta = Array1::from(vec![0.05, 0.1, 0.2, 0.4]);
        let w = solve_logistic(&map, &theta);
        let h = 1e-5;
        for how in solvers() {
            let j = root_jacobian(&map, w.view(), theta.view(), how).unwrap();
            for k in 0..4 {
                let (mut tp, mut tm) = (theta.clone(), theta.clone());
                tp[k] += h;
                tm[k] -= h;
                let fd = (solve_logistic(&map, &tp) - solve_logistic(&map, &tm)) / (2.0 * h);
                let err = (&fd - &j.column(k)).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(err < 1e-7, "{how:?} column {k}: {err}");
            }
        }
    }

    #[test]
    fn the_gradient_step_fixed_point_gives_the_same_jacobian() {
        // T(w, θ) = w − η F(w, θ): custom_fixed_point on T equals custom_root on F.
        let (x, y) = data(30, 5, 3);
        let root = ridge(&x, &y);
        let eta = 0.3;
        let r = &root;
        let t = FnRoot {
            n: 5,
            p: 5,
            value: Box::new(move |w, th| &w - &(r.value(w, th) * eta)),
            jvp_x: Box::new(move |w, th, v| &v - &(r.jvp_x(w, th, v) * eta)),
            vjp_x: Box::new(move |w, th, u| &u - &(r.vjp_x(w, th, u) * eta)),
            jvp_theta: Box::new(move |w, th, v| r.jvp_theta(w, th, v) * -eta),
            vjp_theta: Box::new(move |w, th, u| r.vjp_theta(w, th, u) * -eta),
        };
        let fp = FixedPoint(t);
        let theta = Array1::from_elem(5, 0.5);
        let w = Array1::from_iter((0..5).map(|i| i as f64 * 0.1 - 0.2)); // any point: the identity is pointwise
        for how in solvers() {
            let a = root_jacobian(&root, w.view(), theta.view(), how).unwrap();
            let b = root_jacobian(&fp, w.view(), theta.view(), how).unwrap();
            assert!(max_abs(&(&a - &b)) < 1e-10, "{how:?}");
        }
        // The fixed-point residual vanishes where the root residual does.
        let v = fp.value(w.view(), theta.view());
        let u = root.value(w.view(), theta.view()) * -eta;
        assert!((&v - &u).iter().all(|d| d.abs() < 1e-14));
    }

    #[test]
    fn a_singular_optimality_map_is_a_typed_error() {
        // θ = 0 and a rank-deficient X (d > n): ∂₁F is singular.
        let (x, y) = data(3, 6, 4);
        let map = ridge(&x, &y);
        let theta = Array1::zeros(6);
        let w = Array1::zeros(6);
        assert!(root_jacobian(&map, w.view(), theta.view(), LinearSolve::Dense).is_err());
        let o = KrylovOpts { tol: 1e-12, max_iter: 50, restart: 6 };
        let g = Array1::from_elem(6, 1.0);
        assert!(root_vjp(&map, w.view(), theta.view(), g.view(), LinearSolve::Gmres(o)).is_err());
        assert!(root_vjp(&map, w.view(), theta.view(), g.view(), LinearSolve::NormalCg(o)).is_err());
    }
}
