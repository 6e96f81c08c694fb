//! E1 / E1b: the precision of the Jacobian estimate along gradient descent (the paper's Thm 1).
//!
//! At the iterate `w_t` of gradient descent on an L2-regularised loss, the implicit estimate is
//! `J(w_t, λ) = −∇²f(w_t)⁻¹ w_t` (the IFT formula of the stationarity map `F(w, λ) = ∇f(w) = ∇ℓ(w) +
//! λw`, evaluated at the approximate solution; one [`root_jvp`] through common's `solve`). The
//! unrolled (forward-mode) estimate follows the iterates: `J_{t+1} = J_t − η(∇²f(w_t) J_t + w_t)`.
//! The truth is `−∇²f(w*)⁻¹ w*`.
//!
//! For ridge, `∇²f = A` is constant, so `err_impl(t) = ‖A⁻¹(w_t − w*)‖ ≤ ‖A⁻¹‖₂ ‖w_t − w*‖` exactly,
//! and in the slowest eigendirection (eigenvalue µ) the unrolled error is
//! `(1 + ηµt/(1 − ηµ))` times the implicit one (derivation in the README).

use common::solve::{FnRoot, LinearSolve, NewtonOpts, RootMap, newton, root_jvp};
use ndarray::{Array1, Array2, ArrayView1, array};
use serde::{Deserialize, Serialize};

/// A bug to plant in the computation (tests only; `None` in every run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Plant {
    /// The correct computation.
    #[default]
    None,
    /// The implicit Jacobian with the wrong sign: `+A⁻¹w_t`.
    ImplicitSign,
    /// The implicit formula with the curvature frozen at the start `w_0` (logistic only).
    FrozenHessian,
    /// The unrolled recursion without its forcing term `+ w_t` (J_t stays 0).
    UnrollNoForcing,
}

/// The error curves along one gradient-descent run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Curve {
    /// Problem name (`ridge-diabetes`, `logistic-breast-cancer`).
    pub problem: String,
    /// λ.
    pub lambda: f64,
    /// Step size η = 1/L.
    pub eta: f64,
    /// µ = λ_min of the Hessian at the solution.
    pub mu: f64,
    /// L = the smoothness constant used for the step.
    pub l: f64,
    /// ‖∇²f(w*)⁻¹‖₂ = 1/µ (the constant of the ridge bound).
    pub inv_norm: f64,
    /// ‖w*‖.
    pub sol_norm: f64,
    /// ‖w_t − w*‖, t = 0..=T.
    #[serde(with = "common::report::json_f64::vec")]
    pub iter_err: Vec<f64>,
    /// ‖J_impl(w_t) − ∂w*‖.
    #[serde(with = "common::report::json_f64::vec")]
    pub err_impl: Vec<f64>,
    /// ‖J_unroll(t) − ∂w*‖.
    #[serde(with = "common::report::json_f64::vec")]
    pub err_unroll: Vec<f64>,
}

impl Curve {
    /// κ = L/µ.
    pub fn kappa(&self) -> f64 {
        self.l / self.mu
    }
    /// The steps whose iterate error is above the rounding floor (`≥ 1e-10 ‖w*‖`), from `t_min`.
    pub fn resolved(&self, t_min: usize) -> Vec<usize> {
        (t_min..self.iter_err.len()).filter(|&t| self.iter_err[t] >= 1e-10 * self.sol_norm).collect()
    }
    /// The closed-form ratio err_unroll/err_impl of the slowest direction: `1 + ηµt/(1 − ηµ)`.
    pub fn predicted_ratio(&self, t: usize) -> f64 {
        let a = self.eta * self.mu;
        1.0 + a * t as f64 / (1.0 - a)
    }
}

/// A Hessian-vector product `(w, v) ↦ ∇²loss(w) v`.
type Hvp<'a> = &'a dyn Fn(ArrayView1<f64>, ArrayView1<f64>) -> Array1<f64>;

/// The stationarity map of `f(w) = loss(w) + λ/2 ‖w‖²` with θ = (λ), given the loss's gradient and
/// Hessian-vector product.
fn stationarity<'a>(grad: &'a dyn Fn(ArrayView1<f64>) -> Array1<f64>, hvp: Hvp<'a>, d: usize) -> FnRoot<'a> {
    FnRoot {
        n: d,
        p: 1,
        value: Box::new(move |w, t| grad(w) + &(&w * t[0])),
        jvp_x: Box::new(move |w, t, v| hvp(w, v) + &(&v * t[0])),
        vjp_x: Box::new(move |w, t, u| hvp(w, u) + &(&u * t[0])),
        jvp_theta: Box::new(|w, _, v| &w * v[0]),
        vjp_theta: Box::new(|w, _, u| array![w.dot(&u)]),
    }
}

fn dist(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    let d = a - b;
    d.dot(&d).sqrt()
}

/// Gradient descent with step 1/L from 0 on `loss + λ/2‖w‖²`, tracking the implicit and unrolled
/// Jacobian errors against the truth at `w_star`.
#[allow(clippy::too_many_arguments)]
fn track(
    problem: &str,
    map: &FnRoot,
    hvp: Hvp<'_>,
    lambda: f64,
    l: f64,
    mu: f64,
    w_star: &Array1<f64>,
    steps: usize,
    plant: Plant,
) -> Curve {
    let d = w_star.len();
    let theta = array![lambda];
    let one = array![1.0];
    let truth = root_jvp(map, w_star.view(), theta.view(), one.view(), LinearSolve::Dense).expect("A is SPD");
    let eta = 1.0 / l;
    let w0 = Array1::<f64>::zeros(d);
    let (mut w, mut j) = (w0.clone(), Array1::<f64>::zeros(d));
    let (mut iter_err, mut err_impl, mut err_unroll) = (vec![], vec![], vec![]);
    for _ in 0..=steps {
        let at = if plant == Plant::FrozenHessian { &w0 } else { &w };
        // The IFT formula −∇²f(at)⁻¹ w_t: θ-derivative of F is w_t, the curvature is taken at `at`.
        let a = common::solve::implicit::dense_jacobian_x(map, at.view(), theta.view());
        let mut ji = -common::linalg::solve(a.view(), w.view()).expect("SPD");
        if plant == Plant::None {
            ji = root_jvp(map, w.view(), theta.view(), one.view(), LinearSolve::Dense).expect("SPD");
        }
        if plant == Plant::ImplicitSign {
            ji = -ji;
        }
        iter_err.push(dist(&w, w_star));
        err_impl.push(dist(&ji, &truth));
        err_unroll.push(dist(&j, &truth));
        let g = map.value(w.view(), theta.view());
        let forcing = if plant == Plant::UnrollNoForcing { 0.0 } else { 1.0 };
        j = &j - &((hvp(w.view(), j.view()) + &(&j * lambda) + &(&w * forcing)) * eta);
        w = &w - &(g * eta);
    }
    Curve {
        problem: problem.into(),
        lambda,
        eta,
        mu,
        l,
        inv_norm: 1.0 / mu,
        sol_norm: w_star.dot(w_star).sqrt(),
        iter_err,
        err_impl,
        err_unroll,
    }
}

/// E1: ridge, `f(w) = ½ mean((Xw − y)²) + λ/2 ‖w‖²` on standardised data; truth in closed form.
pub fn ridge(x: &Array2<f64>, y: &Array1<f64>, lambda: f64, steps: usize, plant: Plant) -> Curve {
    let (n, d) = (x.nrows() as f64, x.ncols());
    let g = x.t().dot(x) / n;
    let b = x.t().dot(y) / n;
    let grad = |w: ArrayView1<f64>| g.dot(&w) - &b;
    let hvp = |_: ArrayView1<f64>, v: ArrayView1<f64>| g.dot(&v);
    let map = stationarity(&grad, &hvp, d);
    let a = &g + &(Array2::<f64>::eye(d) * lambda);
    let ev = common::linalg::eigvalsh(&a);
    let (mu, l) = (ev[0], ev[d - 1]);
    let w_star = common::linalg::solve_spd(a.view(), b.view()).expect("SPD");
    track("ridge-diabetes", &map, &hvp, lambda, l, mu, &w_star, steps, plant)
}

fn sigmoid(z: f64) -> f64 {
    common::models::loss::sigmoid(z)
}

/// E1b: L2-logistic regression, `f(w) = mean BCE(Xw, y) + λ/2 ‖w‖²` (labels 0/1); the truth from
/// Newton's method to ‖∇f‖ ≤ 1e-14; step 1/L with `L = λ_max(XᵀX/n)/4 + λ`.
pub fn logistic(
    x: &Array2<f64>,
    y: &Array1<f64>,
    lambda: f64,
    steps: usize,
    plant: Plant,
) -> Result<Curve, common::solve::SolveError> {
    let (n, d) = (x.nrows() as f64, x.ncols());
    let grad = |w: ArrayView1<f64>| x.t().dot(&(x.dot(&w).mapv(sigmoid) - y)) / n;
    let hvp = |w: ArrayView1<f64>, v: ArrayView1<f64>| {
        let s = x.dot(&w).mapv(|z| sigmoid(z) * (1.0 - sigmoid(z)));
        x.t().dot(&(&s * &x.dot(&v))) / n
    };
    let map = stationarity(&grad, &hvp, d);
    let theta = array![lambda];
    let f = |w: ArrayView1<f64>| map.value(w, theta.view());
    let jac = |w: ArrayView1<f64>| common::solve::implicit::dense_jacobian_x(&map, w, theta.view());
    // ‖∇f‖ ≤ 1e-14 (relative to the gradient at 0 when that is larger than 1).
    let tol = 1e-14 * norm(&f(Array1::zeros(d).view())).max(1.0);
    let w_star = newton(f, jac, Array1::zeros(d).view(), NewtonOpts { tol, ..Default::default() })?.x;
    let h = jac(w_star.view());
    let mu = common::linalg::eigvalsh(&h)[0];
    let l = common::linalg::eigvalsh(&(x.t().dot(x) / n))[d - 1] / 4.0 + lambda;
    Ok(track("logistic-breast-cancer", &map, &hvp, lambda, l, mu, &w_star, steps, plant))
}

fn norm(v: &Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}

/// Standardise the columns of `x` (mean 0, sd 1; constant columns left at 0).
pub fn standardize(x: &Array2<f64>) -> Array2<f64> {
    let m = x.mean_axis(ndarray::Axis(0)).expect("rows");
    let sd = x.std_axis(ndarray::Axis(0), 0.0).mapv(|v| if v > 0.0 { v } else { 1.0 });
    (x - &m) / &sd
}
