//! The infinite-width kernels of Jacot et al. (2018), Thm 1, computed in closed form.
//!
//! For inputs `x, x'` of dimension `n0` and an `L`-layer network in NTK parametrisation:
//!
//! ```text
//! Σ¹(x,x')   = xᵀx'/n0 + β²
//! Σ^{l+1}    = E_{f~N(0,Σ^l)}[σ(f(x)) σ(f(x'))] + β²
//! Σ̇^{l+1}    = E_{f~N(0,Σ^l)}[σ'(f(x)) σ'(f(x'))]
//! Θ¹ = Σ¹,   Θ^{l+1} = Θ^l Σ̇^{l+1} + Σ^{l+1}
//! ```
//!
//! The Gaussian expectations ("dual activations") are closed forms for ReLU (the arc-cosine kernels
//! of degree 1 and 0, Cho & Saul 2009), the identity and the square; for tanh they are a tensor
//! Gauss-Hermite rule. Nothing here touches a simulated network.
use common::linalg::eigh;
use ndarray::{Array1, Array2};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// The non-linearity σ of the hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    Tanh,
    /// σ(z) = z: polynomial, so Prop. 2 does not apply (the limiting kernel is singular).
    Identity,
    /// σ(z) = z²: polynomial (not Lipschitz either), kernel of finite rank on the sphere.
    Square,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Identity => "identity",
            Activation::Square => "square",
        }
    }

    pub fn f(self, z: f64) -> f64 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Tanh => z.tanh(),
            Activation::Identity => z,
            Activation::Square => z * z,
        }
    }

    /// σ'(z); for ReLU the step function with σ'(0) = 0.
    pub fn df(self, z: f64) -> f64 {
        match self {
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => {
                let t = z.tanh();
                1.0 - t * t
            }
            Activation::Identity => 1.0,
            Activation::Square => 2.0 * z,
        }
    }
}

/// Probabilists' Gauss-Hermite rule: `Σ w_i g(z_i) ≈ E[g(Z)]`, Z ~ N(0,1), exact for polynomials of
/// degree ≤ 2m-1. Nodes and weights by Golub-Welsch (eigen-decomposition of the Jacobi matrix of
/// the Hermite polynomials He_k, whose recurrence is He_{k+1} = z He_k - k He_{k-1}).
#[derive(Clone, Debug)]
pub struct GaussHermite {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

impl GaussHermite {
    pub fn new(m: usize) -> Self {
        let mut j = Array2::<f64>::zeros((m, m));
        for k in 1..m {
            let off = (k as f64).sqrt();
            j[[k, k - 1]] = off;
            j[[k - 1, k]] = off;
        }
        let (vals, vecs) = eigh(&j);
        let nodes = vals.to_vec();
        let weights = (0..m).map(|i| vecs[[0, i]] * vecs[[0, i]]).collect();
        GaussHermite { nodes, weights }
    }

    /// `(E[tanh(u)tanh(v)], E[tanh'(u)tanh'(v)])` in one sweep of the tensor rule (tanh evaluated
    /// once per node pair; tanh' = 1 - tanh²).
    pub fn expect2_tanh(&self, q1: f64, q2: f64, c: f64) -> (f64, f64) {
        let (s1, s2) = (q1.sqrt(), q2.sqrt());
        let rho = (c / (s1 * s2)).clamp(-1.0, 1.0);
        let perp = (1.0 - rho * rho).max(0.0).sqrt();
        let (mut e0, mut e1) = (0.0, 0.0);
        for (&z1, &w1) in self.nodes.iter().zip(&self.weights) {
            let tu = (s1 * z1).tanh();
            let (mut i0, mut i1) = (0.0, 0.0);
            for (&z2, &w2) in self.nodes.iter().zip(&self.weights) {
                let tv = (s2 * (rho * z1 + perp * z2)).tanh();
                i0 += w2 * tv;
                i1 += w2 * (1.0 - tv * tv);
            }
            e0 += w1 * tu * i0;
            e1 += w1 * (1.0 - tu * tu) * i1;
        }
        (e0, e1)
    }
}

/// The dual activations at one pair: `(E[σ(u)σ(v)], E[σ'(u)σ'(v)])` for
/// (u, v) ~ N(0, [[q1, c], [c, q2]]). `quad` is used only for activations without a closed form.
pub fn dual(act: Activation, q1: f64, q2: f64, c: f64, quad: &GaussHermite) -> (f64, f64) {
    match act {
        Activation::Relu => {
            // Arc-cosine kernels (Cho & Saul 2009): with cos θ = c/√(q1 q2),
            // E[relu(u)relu(v)] = √(q1q2)(sin θ + (π-θ) cos θ)/(2π), E[1{u>0}1{v>0}] = (π-θ)/(2π).
            let s = (q1 * q2).sqrt();
            let theta = (c / s).clamp(-1.0, 1.0).acos();
            (s * (theta.sin() + (PI - theta) * theta.cos()) / (2.0 * PI), (PI - theta) / (2.0 * PI))
        }
        Activation::Identity => (c, 1.0),
        // Isserlis: E[u²v²] = q1 q2 + 2c², E[(2u)(2v)] = 4c.
        Activation::Square => (q1 * q2 + 2.0 * c * c, 4.0 * c),
        Activation::Tanh => quad.expect2_tanh(q1, q2, c),
    }
}

/// Monte-Carlo estimate of the dual activations with standard errors:
/// `((mean σσ, se), (mean σ'σ', se))` from `samples` Gaussian pairs.
pub fn dual_mc(
    act: Activation,
    q1: f64,
    q2: f64,
    c: f64,
    samples: usize,
    rng: &mut impl Rng,
) -> ((f64, f64), (f64, f64)) {
    let (s1, s2) = (q1.sqrt(), q2.sqrt());
    let rho = (c / (s1 * s2)).clamp(-1.0, 1.0);
    let perp = (1.0 - rho * rho).max(0.0).sqrt();
    let (mut m0, mut v0, mut m1, mut v1) = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..samples {
        let z1: f64 = StandardNormal.sample(rng);
        let z2: f64 = StandardNormal.sample(rng);
        let (u, v) = (s1 * z1, s2 * (rho * z1 + perp * z2));
        let a = act.f(u) * act.f(v);
        let b = act.df(u) * act.df(v);
        m0 += a;
        v0 += a * a;
        m1 += b;
        v1 += b * b;
    }
    let n = samples as f64;
    let se = |m: f64, v: f64| ((v / n - (m / n).powi(2)).max(0.0) / n).sqrt();
    ((m0 / n, se(m0, v0)), (m1 / n, se(m1, v1)))
}

/// The limiting kernels layer by layer on a set of inputs (rows of `x`).
#[derive(Clone, Debug)]
pub struct LimitKernels {
    /// Σ¹ … Σ^L (P × P): Σ^L is the covariance of the output Gaussian process at initialisation.
    pub sigma: Vec<Array2<f64>>,
    /// Θ¹ … Θ^L (P × P): Θ^L is the limiting NTK Θ_∞.
    pub theta: Vec<Array2<f64>>,
}

impl LimitKernels {
    /// The limiting NTK Θ_∞ = Θ^L.
    pub fn ntk(&self) -> &Array2<f64> {
        self.theta.last().expect("depth >= 1")
    }
    /// The output covariance Σ^L of the network function at initialisation.
    pub fn nngp(&self) -> &Array2<f64> {
        self.sigma.last().expect("depth >= 1")
    }
}

/// Gauss-Hermite nodes for the tanh kernel: converged to round-off for the variances of
/// unit-circle inputs (see the `tanh_quadrature_converged` test).
pub const TANH_NODES: usize = 64;

/// Jacot et al.'s recursion for an `depth`-layer network (`depth` weight matrices), inputs as rows
/// of `x` (P × n0).
pub fn limit_kernels(act: Activation, depth: usize, beta: f64, x: &Array2<f64>) -> LimitKernels {
    assert!(depth >= 1, "a network has at least one layer");
    let (p, n0) = x.dim();
    let quad = GaussHermite::new(if act == Activation::Tanh { TANH_NODES } else { 1 });
    let b2 = beta * beta;
    let s1 = x.dot(&x.t()).mapv(|v| v / n0 as f64 + b2);
    let mut sigma = vec![s1.clone()];
    let mut theta = vec![s1];
    for _ in 1..depth {
        let s = sigma.last().unwrap();
        let diag: Array1<f64> = s.diag().to_owned();
        let mut next = Array2::zeros((p, p));
        let mut dot = Array2::zeros((p, p));
        for i in 0..p {
            for j in 0..=i {
                let (e, ed) = dual(act, diag[i], diag[j], s[[i, j]], &quad);
                next[[i, j]] = e + b2;
                next[[j, i]] = e + b2;
                dot[[i, j]] = ed;
                dot[[j, i]] = ed;
            }
        }
        let t = theta.last().unwrap() * &dot + &next;
        sigma.push(next);
        theta.push(t);
    }
    LimitKernels { sigma, theta }
}

/// Points on the unit circle x(γ) = (cos γ, sin γ) for the given angles (P × 2).
pub fn circle(gammas: &[f64]) -> Array2<f64> {
    Array2::from_shape_fn((gammas.len(), 2), |(i, j)| if j == 0 { gammas[i].cos() } else { gammas[i].sin() })
}

/// `m` distinct, equally spaced angles in (-π, π], starting just above -π (γ = ±π would duplicate
/// a point and make the Gram matrix singular) and containing γ = 0 when `m` is even.
pub fn circle_angles(m: usize) -> Vec<f64> {
    // γ_k = π (2(k+1) - m)/m: exactly 0 at k + 1 = m/2 and exactly π at the end.
    (0..m).map(|k| PI * (2.0 * (k as f64 + 1.0) - m as f64) / m as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::Seed;

    #[test]
    fn gauss_hermite_moments() {
        let q = GaussHermite::new(20);
        let s: f64 = q.weights.iter().sum();
        assert!((s - 1.0).abs() < 1e-12);
        // E[Z^2] = 1, E[Z^4] = 3, E[Z^6] = 15, odd moments vanish.
        for (k, want) in [(2, 1.0), (4, 3.0), (6, 15.0), (3, 0.0)] {
            let m: f64 = q.nodes.iter().zip(&q.weights).map(|(z, w)| w * z.powi(k)).sum();
            assert!((m - want).abs() < 1e-10, "moment {k}: {m}");
        }
    }

    #[test]
    fn arccos_known_values() {
        let q = GaussHermite::new(1);
        // Identical unit-variance inputs: E[relu(u)^2] = 1/2, E[step^2] = 1/2.
        let (k1, k0) = dual(Activation::Relu, 1.0, 1.0, 1.0, &q);
        assert!((k1 - 0.5).abs() < 1e-15 && (k0 - 0.5).abs() < 1e-15);
        // Orthogonal inputs: E[relu(u)relu(v)] = 1/(2π), E[step step] = 1/4.
        let (k1, k0) = dual(Activation::Relu, 1.0, 1.0, 0.0, &q);
        assert!((k1 - 1.0 / (2.0 * PI)).abs() < 1e-15 && (k0 - 0.25).abs() < 1e-15);
        // Opposite inputs: relu(u)relu(-u) = 0 and the steps never fire together.
        let (k1, k0) = dual(Activation::Relu, 1.0, 1.0, -1.0, &q);
        assert!(k1.abs() < 1e-15 && k0.abs() < 1e-15);
        // Homogeneity: degree 1 in (q1 q2)^{1/2}, degree 0 for the step.
        let (a1, a0) = dual(Activation::Relu, 4.0, 9.0, 3.0, &q);
        let (b1, b0) = dual(Activation::Relu, 1.0, 1.0, 0.5, &q);
        assert!((a1 - 6.0 * b1).abs() < 1e-14 && (a0 - b0).abs() < 1e-15);
        // θ = π/3 (ρ = 1/2): (sin θ + (π-θ)cos θ)/(2π) = (√3/2 + π/3)/(2π).
        assert!((b1 - (3f64.sqrt() / 2.0 + PI / 3.0) / (2.0 * PI)).abs() < 1e-15);
        assert!((b0 - 1.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn ntk_diagonal_closed_form() {
        // On the diagonal θ = 0: Σ^{l+1} = Σ^l/2 + β², Σ̇ = 1/2. For x = (1, 0), n0 = 2, β = 0.1, L = 4:
        // Σ = 0.51, 0.265, 0.1425, 0.08125; Θ = 0.51, 0.52, 0.4025, 0.2825.
        let k = limit_kernels(Activation::Relu, 4, 0.1, &circle(&[0.0]));
        let th: Vec<f64> = k.theta.iter().map(|t| t[[0, 0]]).collect();
        let sg: Vec<f64> = k.sigma.iter().map(|s| s[[0, 0]]).collect();
        for (a, b) in th.iter().zip([0.51, 0.52, 0.4025, 0.2825]) {
            assert!((a - b).abs() < 1e-14, "{th:?}");
        }
        for (a, b) in sg.iter().zip([0.51, 0.265, 0.1425, 0.08125]) {
            assert!((a - b).abs() < 1e-14, "{sg:?}");
        }
    }

    #[test]
    fn matches_the_numpy_reference() {
        // reference/ntk_reference.py (an independent NumPy implementation) prints these.
        let k = limit_kernels(Activation::Relu, 4, 0.1, &circle(&[0.0, PI / 3.0, 2.0 * PI / 3.0, PI - PI / 30.0]));
        for (j, want) in [0.2825000000, 0.1377230653, 0.0707605737, 0.0642791052].iter().enumerate() {
            assert!((k.ntk()[[0, j]] - want).abs() < 1e-10, "{j}: {}", k.ntk()[[0, j]]);
        }
    }

    #[test]
    fn two_layer_relu_ntk_without_bias() {
        // L = 2, β = 0, unit inputs in 2-D at angle φ: Σ¹ = cos φ / 2 and
        // Θ = Σ¹ (π-φ)/(2π) + (1/2)(sin φ + (π-φ) cos φ)/(2π).
        let phi: f64 = 1.1;
        let k = limit_kernels(Activation::Relu, 2, 0.0, &circle(&[0.0, phi]));
        let want = 0.5 * phi.cos() * (PI - phi) / (2.0 * PI) + 0.5 * (phi.sin() + (PI - phi) * phi.cos()) / (2.0 * PI);
        assert!((k.ntk()[[0, 1]] - want).abs() < 1e-15);
    }

    #[test]
    fn closed_forms_match_monte_carlo() {
        let mut rng = Seed(11).rng();
        let q = GaussHermite::new(96);
        for act in [Activation::Relu, Activation::Tanh, Activation::Square, Activation::Identity] {
            for &(q1, q2, c) in &[(0.51, 0.51, 0.3), (0.8, 0.3, -0.2), (1.0, 2.0, 1.2)] {
                let (e, ed) = dual(act, q1, q2, c, &q);
                let ((m, se), (md, sed)) = dual_mc(act, q1, q2, c, 200_000, &mut rng);
                assert!((e - m).abs() < 5.0 * se + 1e-12, "{act:?} σσ: {e} vs {m} ± {se}");
                assert!((ed - md).abs() < 5.0 * sed + 1e-12, "{act:?} σ'σ': {ed} vs {md} ± {sed}");
            }
        }
    }

    #[test]
    fn tanh_quadrature_converged() {
        // The rule used agrees with a 200-node rule to 1e-10 for the variances the study meets
        // (unit-circle inputs: Σ¹ = 0.51, smaller after): eigenvalues of a 24-point Gram move by
        // < 24·1e-10, far below the λ_min ≈ 1e-7·λ_max the positive-definiteness claim sees.
        // Large variances with |ρ| near 1 converge slowly.
        let (a, b) = (GaussHermite::new(TANH_NODES), GaussHermite::new(200));
        for &(q1, q2, c, tol) in
            &[(0.51, 0.51, 0.5, 1e-10), (0.3, 0.5, 0.1, 1e-10), (0.51, 0.51, -0.45, 1e-10), (2.0, 2.0, -1.9, 1e-5)]
        {
            let (x, y) = (dual(Activation::Tanh, q1, q2, c, &a), dual(Activation::Tanh, q1, q2, c, &b));
            assert!((x.0 - y.0).abs() < tol && (x.1 - y.1).abs() < tol, "{x:?} {y:?}");
        }
    }

    #[test]
    fn angles_are_distinct_and_contain_zero() {
        let g = circle_angles(60);
        assert_eq!(g.len(), 60);
        assert!(g.contains(&0.0));
        assert!(g.windows(2).all(|w| w[1] > w[0]));
        assert!(g[0] > -PI && (g[59] - PI).abs() < 1e-12);
    }
}
