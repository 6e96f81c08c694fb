//! The test problems of the paper's repository (`epfml/grad-norm-smooth`), each with its value,
//! gradient, exact Hessian and the Hessian approximations the paper pairs with it.
//!
//! - [`LogSumExp`]: f(x) = μ·lse((Mx − b)/μ), rows shifted so that x* = 0 exactly
//!   (`create_log_sum_exp_zero_oracle`); the weighted Gauss–Newton approximation
//!   H = Mᵀ Diag(π) M / μ drops the −Mᵀππᵀ M/μ term of the exact Hessian.
//! - [`Logistic`]: ℓ2-regularized logistic regression; the fixed quadratic bound XᵀX/(4n) + λI and
//!   the diagonal of the exact Hessian.
//! - [`PowerEquations`]: f(x) = (1/p)‖u(x)‖^p for a vector map u (Rosenbrock, Chebyshev, linear);
//!   the "theory" approximation ‖u‖^{p−2}JᵀJ + (p−2)‖u‖^{p−4}(Jᵀu)(Jᵀu)ᵀ (no second derivatives of
//!   u) and the rank-one Fisher term alone.

use common::linalg::dense::gemm_new;
use common::models::loss::{bce_with_logits, bce_with_logits_grad, logsumexp, sigmoid, softmax};
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Which curvature matrix a second-order method uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hess {
    /// The exact Hessian.
    Exact,
    /// LogSumExp: Mᵀ Diag(softmax) M / μ (the −ππᵀ term dropped).
    WeightedGn,
    /// Logistic: the fixed quadratic upper bound XᵀX/(4n) + λI.
    Bound,
    /// Logistic: the diagonal of the exact Hessian.
    Diagonal,
    /// (1/p)‖u‖^p: ‖u‖^{p−2}JᵀJ + (p−2)‖u‖^{p−4}(Jᵀu)(Jᵀu)ᵀ (second derivatives of u dropped).
    GaussNewton,
    /// (1/p)‖u‖^p: the rank-one Fisher term (p−2)‖u‖^{p−4}(Jᵀu)(Jᵀu)ᵀ alone.
    Fisher,
}

/// A curvature model: dense, or rank one c·v vᵀ (solved by Sherman–Morrison).
#[derive(Clone, Debug)]
pub enum Model {
    /// A dense symmetric matrix.
    Dense(Array2<f64>),
    /// c·v vᵀ with c ≥ 0.
    RankOne {
        /// Scale.
        c: f64,
        /// Direction.
        v: Array1<f64>,
    },
}

impl Model {
    /// The model as a dense matrix (tests and small problems).
    pub fn to_dense(&self) -> Array2<f64> {
        match self {
            Model::Dense(h) => h.clone(),
            Model::RankOne { c, v } => {
                let n = v.len();
                Array2::from_shape_fn((n, n), |(i, j)| c * v[i] * v[j])
            }
        }
    }
}

/// A smooth objective with the oracles the methods need, and a flop model of each oracle (the
/// deterministic stand-in for wall time).
pub trait Problem: Sync {
    /// Dimension of x.
    fn dim(&self) -> usize;
    /// f(x).
    fn value(&self, x: &Array1<f64>) -> f64;
    /// ∇f(x).
    fn grad(&self, x: &Array1<f64>) -> Array1<f64>;
    /// The curvature model of kind `h` at x (panics on a kind the problem does not define; the
    /// config only pairs defined ones).
    fn model(&self, x: &Array1<f64>, h: Hess) -> Model;
    /// Flops of one value (or gradient) evaluation.
    fn oracle_flops(&self) -> f64;
    /// Flops of forming the model of kind `h`.
    fn model_flops(&self, h: Hess) -> f64;
}

// ---------------------------------------------------------------------------------------------
// LogSumExp

/// f(x) = μ·lse((Mx − b)/μ) with M (m × n) shifted so that ∇f(0) = 0.
#[derive(Clone, Debug)]
pub struct LogSumExp {
    /// Rows aᵢ (m × n), shifted.
    pub a: Array2<f64>,
    /// Offsets b (m).
    pub b: Array1<f64>,
    /// Smoothing μ.
    pub mu: f64,
    /// The metric B = MᵀM of the unshifted rows (as the repo's notebook: `B = A.dot(A.T)`).
    pub metric: Array2<f64>,
}

impl LogSumExp {
    /// The repo's random instance: M, b with entries U(−1, 1), rows shifted by ∇f(0) so x* = 0.
    pub fn random(n: usize, m: usize, mu: f64, seed: common::Seed) -> Self {
        let mut rng = seed.child("A").rng();
        let a0 = Array2::from_shape_fn((m, n), |_| rng.random_range(-1.0..1.0));
        let mut rng = seed.child("b").rng();
        let b = Array1::from_shape_fn(m, |_| rng.random_range(-1.0..1.0));
        Self::zero_shifted(a0, b, mu)
    }

    /// Shift the rows aᵢ ← aᵢ − Mᵀπ(0) (π(0) = softmax(−b/μ)): then ∇f(0) = Mᵀπ(0) − (Σπ)Mᵀπ(0) = 0.
    pub fn zero_shifted(a0: Array2<f64>, b: Array1<f64>, mu: f64) -> Self {
        let metric = gemm_new(&a0.t(), &a0.view());
        let pi0 = softmax((&b * (-1.0 / mu)).view());
        let g0 = a0.t().dot(&pi0);
        let a = &a0 - &g0.insert_axis(Axis(0));
        LogSumExp { a, b, mu, metric }
    }

    /// The logits z = (Mx − b)/μ.
    pub fn logits(&self, x: &Array1<f64>) -> Array1<f64> {
        (self.a.dot(x) - &self.b) / self.mu
    }

    /// f* = f(0) = μ·lse(−b/μ).
    pub fn f_star(&self) -> f64 {
        self.mu * logsumexp((&self.b * (-1.0 / self.mu)).view())
    }

    /// Mᵀ Diag(w) M.
    fn weighted_gram(&self, w: &Array1<f64>) -> Array2<f64> {
        let aw = &self.a * &w.view().insert_axis(Axis(1));
        gemm_new(&self.a.t(), &aw.view())
    }
}

impl Problem for LogSumExp {
    fn dim(&self) -> usize {
        self.a.ncols()
    }
    fn value(&self, x: &Array1<f64>) -> f64 {
        // max-shifted in f64 (common::models::loss::logsumexp): f − f* down to 1e-12 stays exact.
        self.mu * logsumexp(self.logits(x).view())
    }
    fn grad(&self, x: &Array1<f64>) -> Array1<f64> {
        self.a.t().dot(&softmax(self.logits(x).view()))
    }
    fn model(&self, x: &Array1<f64>, h: Hess) -> Model {
        let pi = softmax(self.logits(x).view());
        let mut wgn = self.weighted_gram(&pi) / self.mu;
        match h {
            Hess::WeightedGn => Model::Dense(wgn),
            Hess::Exact => {
                // ∇²f = Mᵀ(Diag π − ππᵀ)M/μ = WGN − g gᵀ/μ with g = Mᵀπ.
                let g = self.a.t().dot(&pi);
                let n = g.len();
                for i in 0..n {
                    for j in 0..n {
                        wgn[(i, j)] -= g[i] * g[j] / self.mu;
                    }
                }
                Model::Dense(wgn)
            }
            other => panic!("LogSumExp has no {other:?} model"),
        }
    }
    fn oracle_flops(&self) -> f64 {
        let (m, n) = self.a.dim();
        2.0 * (m * n) as f64 + 20.0 * m as f64
    }
    fn model_flops(&self, _h: Hess) -> f64 {
        let (m, n) = self.a.dim();
        2.0 * (m * n * n) as f64
    }
}

// ---------------------------------------------------------------------------------------------
// Logistic regression

/// f(w) = (1/n) Σ ℓ(xᵢᵀw, yᵢ) + (λ/2)‖w‖², ℓ the logistic loss, y ∈ {0, 1}.
#[derive(Clone, Debug)]
pub struct Logistic {
    /// Features with an intercept column (n × d).
    pub x: Array2<f64>,
    /// Labels in {0, 1}.
    pub y: Array1<f64>,
    /// ℓ2 strength λ.
    pub l2: f64,
    /// XᵀX/(4n) + λI, fixed.
    bound: Array2<f64>,
}

impl Logistic {
    /// A problem from features (without intercept) and 0/1 labels.
    pub fn new(features: &Array2<f64>, y: Array1<f64>, l2: f64) -> Self {
        let (n, d) = features.dim();
        let mut x = Array2::ones((n, d + 1));
        x.slice_mut(ndarray::s![.., 1..]).assign(features);
        let mut bound = gemm_new(&x.t(), &x.view()) / (4.0 * n as f64);
        for i in 0..=d {
            bound[(i, i)] += l2;
        }
        Logistic { x, y, l2, bound }
    }

    fn n(&self) -> f64 {
        self.x.nrows() as f64
    }

    /// The exact Hessian XᵀDiag(σ(1 − σ))X/n + λI.
    pub fn hessian(&self, w: &Array1<f64>) -> Array2<f64> {
        let s = self.x.dot(w).mapv(|z| sigmoid(z) * (1.0 - sigmoid(z)));
        let xs = &self.x * &s.view().insert_axis(Axis(1));
        let mut h = gemm_new(&self.x.t(), &xs.view()) / self.n();
        for i in 0..h.nrows() {
            h[(i, i)] += self.l2;
        }
        h
    }

    /// f* and w* from `steps` undamped Newton steps from 0 (the problem is strongly convex).
    pub fn newton_optimum(&self, steps: usize) -> (f64, Array1<f64>) {
        let mut w = Array1::zeros(self.dim());
        for _ in 0..steps {
            let g = self.grad(&w);
            let Ok(c) = common::linalg::dense::Cholesky::new(self.hessian(&w).view()) else { break };
            w = &w - &c.solve(g.view());
        }
        (self.value(&w), w)
    }
}

impl Problem for Logistic {
    fn dim(&self) -> usize {
        self.x.ncols()
    }
    fn value(&self, w: &Array1<f64>) -> f64 {
        let z = self.x.dot(w);
        z.iter().zip(&self.y).map(|(&z, &y)| bce_with_logits(z, y)).sum::<f64>() / self.n() + 0.5 * self.l2 * w.dot(w)
    }
    fn grad(&self, w: &Array1<f64>) -> Array1<f64> {
        let z = self.x.dot(w);
        let r = Array1::from_iter(z.iter().zip(&self.y).map(|(&z, &y)| bce_with_logits_grad(z, y)));
        self.x.t().dot(&r) / self.n() + w * self.l2
    }
    fn model(&self, w: &Array1<f64>, h: Hess) -> Model {
        match h {
            Hess::Exact => Model::Dense(self.hessian(w)),
            Hess::Bound => Model::Dense(self.bound.clone()),
            Hess::Diagonal => {
                let full = self.hessian(w);
                Model::Dense(Array2::from_diag(&full.diag()))
            }
            other => panic!("Logistic has no {other:?} model"),
        }
    }
    fn oracle_flops(&self) -> f64 {
        let (n, d) = self.x.dim();
        2.0 * (n * d) as f64 + 30.0 * n as f64
    }
    fn model_flops(&self, h: Hess) -> f64 {
        let (n, d) = self.x.dim();
        match h {
            Hess::Bound => (d * d) as f64,
            _ => 2.0 * (n * d * d) as f64,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (1/p)‖u(x)‖^p

/// The vector maps u of the non-convex examples.
#[derive(Clone, Debug)]
pub enum Equations {
    /// u = (1 − x₁, 10(x₂ − x₁²)).
    Rosenbrock,
    /// u₁ = ½(1 − x₁), uᵢ = xᵢ − (2x²ᵢ₋₁ − 1), i = 2..d.
    Chebyshev(usize),
    /// u = Ax − b.
    Linear {
        /// A (m × n).
        a: Array2<f64>,
        /// b (m).
        b: Array1<f64>,
    },
}

impl Equations {
    /// Dimension of x.
    pub fn dim(&self) -> usize {
        match self {
            Equations::Rosenbrock => 2,
            Equations::Chebyshev(d) => *d,
            Equations::Linear { a, .. } => a.ncols(),
        }
    }

    /// u(x).
    pub fn u(&self, x: &Array1<f64>) -> Array1<f64> {
        match self {
            Equations::Rosenbrock => Array1::from(vec![1.0 - x[0], 10.0 * (x[1] - x[0] * x[0])]),
            Equations::Chebyshev(d) => Array1::from_shape_fn(*d, |i| {
                if i == 0 { 0.5 * (1.0 - x[0]) } else { x[i] - (2.0 * x[i - 1] * x[i - 1] - 1.0) }
            }),
            Equations::Linear { a, b } => a.dot(x) - b,
        }
    }

    /// The Jacobian J(x) (rows ∇uᵢᵀ).
    pub fn jac(&self, x: &Array1<f64>) -> Array2<f64> {
        match self {
            Equations::Rosenbrock => Array2::from_shape_vec((2, 2), vec![-1.0, 0.0, -20.0 * x[0], 10.0]).expect("2x2"),
            Equations::Chebyshev(d) => {
                let mut j = Array2::zeros((*d, *d));
                j[(0, 0)] = -0.5;
                for i in 1..*d {
                    j[(i, i)] = 1.0;
                    j[(i, i - 1)] = -4.0 * x[i - 1];
                }
                j
            }
            Equations::Linear { a, .. } => a.clone(),
        }
    }

    /// Σᵢ wᵢ ∇²uᵢ(x) (the second-order term the approximations drop).
    pub fn weighted_second(&self, w: &Array1<f64>) -> Array2<f64> {
        let n = self.dim();
        let mut s = Array2::zeros((n, n));
        match self {
            Equations::Rosenbrock => s[(0, 0)] = -20.0 * w[1],
            Equations::Chebyshev(d) => {
                for i in 1..*d {
                    s[(i - 1, i - 1)] -= 4.0 * w[i];
                }
            }
            Equations::Linear { .. } => {}
        }
        s
    }
}

/// f(x) = (1/p)‖u(x)‖^p.
#[derive(Clone, Debug)]
pub struct PowerEquations {
    /// The map u.
    pub eq: Equations,
    /// The power p ≥ 2.
    pub p: f64,
}

impl PowerEquations {
    /// ‖u‖, Jᵀu, J.
    fn parts(&self, x: &Array1<f64>) -> (f64, Array1<f64>, Array2<f64>, Array1<f64>) {
        let u = self.eq.u(x);
        let j = self.eq.jac(x);
        let jtu = j.t().dot(&u);
        (u.dot(&u).sqrt(), jtu, j, u)
    }

    /// The Fisher term's scale (p − 2)‖u‖^{p−4} (0 at u = 0).
    fn fisher_scale(&self, norm: f64) -> f64 {
        if norm > 0.0 { (self.p - 2.0) * norm.powf(self.p - 4.0) } else { 0.0 }
    }
}

impl Problem for PowerEquations {
    fn dim(&self) -> usize {
        self.eq.dim()
    }
    fn value(&self, x: &Array1<f64>) -> f64 {
        let u = self.eq.u(x);
        u.dot(&u).sqrt().powf(self.p) / self.p
    }
    fn grad(&self, x: &Array1<f64>) -> Array1<f64> {
        let (norm, jtu, _, _) = self.parts(x);
        jtu * norm.powf(self.p - 2.0)
    }
    fn model(&self, x: &Array1<f64>, h: Hess) -> Model {
        let (norm, jtu, j, u) = self.parts(x);
        let c = self.fisher_scale(norm);
        if h == Hess::Fisher {
            return Model::RankOne { c, v: jtu };
        }
        let scale = norm.powf(self.p - 2.0);
        let mut m = gemm_new(&j.t(), &j.view()) * scale;
        if h == Hess::Exact {
            m = m + self.eq.weighted_second(&u) * scale;
        } else if h != Hess::GaussNewton {
            panic!("PowerEquations has no {h:?} model");
        }
        let n = jtu.len();
        for a in 0..n {
            for b in 0..n {
                m[(a, b)] += c * jtu[a] * jtu[b];
            }
        }
        Model::Dense(m)
    }
    fn oracle_flops(&self) -> f64 {
        match &self.eq {
            Equations::Linear { a, .. } => 4.0 * (a.nrows() * a.ncols()) as f64,
            e => 10.0 * e.dim() as f64,
        }
    }
    fn model_flops(&self, h: Hess) -> f64 {
        let n = self.dim() as f64;
        let m = match &self.eq {
            Equations::Linear { a, .. } => a.nrows() as f64,
            _ => n,
        };
        if h == Hess::Fisher { 2.0 * m * n } else { 2.0 * m * n * n }
    }
}
