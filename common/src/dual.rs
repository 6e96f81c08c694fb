//! Forward-mode numbers: dual and hyper-dual scalars for exact first and second derivatives of
//! small functions (no truncation error, unlike finite differences).
//!
//! - [`Dual`]: `a + b ε` with `ε² = 0`; `f(x + ε v)` carries the directional derivative `∇f·v`.
//!   A gradient takes `n` passes ([`gradient`]), a Jacobian `n` passes ([`jacobian`]).
//! - [`HyperDual`]: `f + a ε₁ + b ε₂ + c ε₁ε₂` with `ε₁² = ε₂² = 0` (Fike & Alonso 2011); seeding
//!   `ε₁` along `e_i` and `ε₂` along `e_j` gives `∂²f/∂x_i∂x_j` exactly in the `ε₁ε₂` part. A full
//!   Hessian takes `n(n+1)/2` passes ([`hessian`]).
//! - [`Scalar`]: the arithmetic and elementary functions shared by `f64`, [`Dual`] and
//!   [`HyperDual`], so one objective is written once (`fn f<S: Scalar>(x: &[S]) -> S`) and
//!   evaluated in all three (`f::<f64>`, `f::<Dual>`, `f::<HyperDual>`).
//!
//! Functions outside their domain (`ln` of a non-positive number, `sqrt` at 0 for the derivative
//! parts) give the IEEE values (NaN or infinities), as `f64` does; `abs` uses the derivative
//! `sign(x)` (0 at 0).
use ndarray::{Array1, Array2};
use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The arithmetic and elementary functions of a forward-mode scalar (and of `f64`).
///
/// Mixed operations with `f64` on the right (`x * 2.0`, `x - 1.0`) are part of the trait; with a
/// constant on the left write `S::cst(2.0) * x`.
pub trait Scalar:
    Copy
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// A constant (all derivative parts zero).
    fn cst(v: f64) -> Self;
    /// The value part.
    fn value(&self) -> f64;
    /// Integer power.
    fn powi(self, n: i32) -> Self;
    /// Real power `x^p` (for `x > 0`, or integer-valued `p`).
    fn powf(self, p: f64) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Exponential.
    fn exp(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Absolute value (derivative `sign(x)`, 0 at 0).
    fn abs(self) -> Self;
    /// The sum of a slice (0 for an empty one).
    fn sum(xs: &[Self]) -> Self {
        xs.iter().fold(Self::cst(0.0), |a, &b| a + b)
    }
}

impl Scalar for f64 {
    fn cst(v: f64) -> Self {
        v
    }
    fn value(&self) -> f64 {
        *self
    }
    fn powi(self, n: i32) -> Self {
        f64::powi(self, n)
    }
    fn powf(self, p: f64) -> Self {
        f64::powf(self, p)
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn sin(self) -> Self {
        f64::sin(self)
    }
    fn cos(self) -> Self {
        f64::cos(self)
    }
    fn abs(self) -> Self {
        f64::abs(self)
    }
}

/// `sign(x)` with 0 at 0 (the derivative `abs` uses).
fn sign0(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The value, first and second derivatives of `x^p` at `x` (integer-valued `p` at any `x`).
fn pow_parts(x: f64, p: f64) -> (f64, f64, f64) {
    let is_int = p.fract() == 0.0 && p.abs() < 1e9;
    let pw = |e: f64| if is_int { x.powi(e as i32) } else { x.powf(e) };
    let d1 = if p == 0.0 { 0.0 } else { p * pw(p - 1.0) };
    let d2 = if p == 0.0 || p == 1.0 { 0.0 } else { p * (p - 1.0) * pw(p - 2.0) };
    (pw(p), d1, d2)
}

/// A dual number `v + d ε` (`ε² = 0`): a value and one directional derivative.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Dual {
    /// The value.
    pub v: f64,
    /// The derivative (tangent) part.
    pub d: f64,
}

impl Dual {
    /// `v + d ε`.
    pub const fn new(v: f64, d: f64) -> Self {
        Dual { v, d }
    }
    /// A variable: `v + 1 ε`.
    pub const fn var(v: f64) -> Self {
        Dual { v, d: 1.0 }
    }
    /// `g(self)` from `g(v)` and `g'(v)`.
    fn chain(self, g0: f64, g1: f64) -> Self {
        Dual { v: g0, d: g1 * self.d }
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual::new(self.v + o.v, self.d + o.d)
    }
}
impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual::new(self.v - o.v, self.d - o.d)
    }
}
impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual::new(self.v * o.v, self.d * o.v + self.v * o.d)
    }
}
impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        let q = self.v / o.v;
        Dual::new(q, (self.d - q * o.d) / o.v)
    }
}
impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        Dual::new(-self.v, -self.d)
    }
}
impl Add<f64> for Dual {
    type Output = Dual;
    fn add(self, o: f64) -> Dual {
        Dual::new(self.v + o, self.d)
    }
}
impl Sub<f64> for Dual {
    type Output = Dual;
    fn sub(self, o: f64) -> Dual {
        Dual::new(self.v - o, self.d)
    }
}
impl Mul<f64> for Dual {
    type Output = Dual;
    fn mul(self, o: f64) -> Dual {
        Dual::new(self.v * o, self.d * o)
    }
}
impl Div<f64> for Dual {
    type Output = Dual;
    fn div(self, o: f64) -> Dual {
        Dual::new(self.v / o, self.d / o)
    }
}

impl Scalar for Dual {
    fn cst(v: f64) -> Self {
        Dual::new(v, 0.0)
    }
    fn value(&self) -> f64 {
        self.v
    }
    fn powi(self, n: i32) -> Self {
        let (g0, g1, _) = pow_parts(self.v, n as f64);
        self.chain(g0, g1)
    }
    fn powf(self, p: f64) -> Self {
        let (g0, g1, _) = pow_parts(self.v, p);
        self.chain(g0, g1)
    }
    fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s)
    }
    fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    fn sin(self) -> Self {
        self.chain(self.v.sin(), self.v.cos())
    }
    fn cos(self) -> Self {
        self.chain(self.v.cos(), -self.v.sin())
    }
    fn abs(self) -> Self {
        self.chain(self.v.abs(), sign0(self.v))
    }
}

/// A hyper-dual number `f + a ε₁ + b ε₂ + c ε₁ε₂` (`ε₁² = ε₂² = 0`, `ε₁ε₂ ≠ 0`).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct HyperDual {
    /// The value.
    pub f: f64,
    /// The `ε₁` part (derivative along the first seed).
    pub e1: f64,
    /// The `ε₂` part (derivative along the second seed).
    pub e2: f64,
    /// The `ε₁ε₂` part (the mixed second derivative along both seeds).
    pub e12: f64,
}

impl HyperDual {
    /// `f + e1 ε₁ + e2 ε₂ + e12 ε₁ε₂`.
    pub const fn new(f: f64, e1: f64, e2: f64, e12: f64) -> Self {
        HyperDual { f, e1, e2, e12 }
    }
    /// `g(self)` from `g(f)`, `g'(f)` and `g''(f)`.
    fn chain(self, g0: f64, g1: f64, g2: f64) -> Self {
        HyperDual { f: g0, e1: g1 * self.e1, e2: g1 * self.e2, e12: g1 * self.e12 + g2 * self.e1 * self.e2 }
    }
    /// `1/self`.
    fn recip(self) -> Self {
        let r = 1.0 / self.f;
        self.chain(r, -r * r, 2.0 * r * r * r)
    }
}

impl Add for HyperDual {
    type Output = HyperDual;
    fn add(self, o: HyperDual) -> HyperDual {
        HyperDual::new(self.f + o.f, self.e1 + o.e1, self.e2 + o.e2, self.e12 + o.e12)
    }
}
impl Sub for HyperDual {
    type Output = HyperDual;
    fn sub(self, o: HyperDual) -> HyperDual {
        HyperDual::new(self.f - o.f, self.e1 - o.e1, self.e2 - o.e2, self.e12 - o.e12)
    }
}
impl Mul for HyperDual {
    type Output = HyperDual;
    fn mul(self, o: HyperDual) -> HyperDual {
        HyperDual::new(
            self.f * o.f,
            self.e1 * o.f + self.f * o.e1,
            self.e2 * o.f + self.f * o.e2,
            self.e12 * o.f + self.e1 * o.e2 + self.e2 * o.e1 + self.f * o.e12,
        )
    }
}
impl Div for HyperDual {
    type Output = HyperDual;
    #[allow(clippy::suspicious_arithmetic_impl)]
    fn div(self, o: HyperDual) -> HyperDual {
        self * o.recip()
    }
}
impl Neg for HyperDual {
    type Output = HyperDual;
    fn neg(self) -> HyperDual {
        HyperDual::new(-self.f, -self.e1, -self.e2, -self.e12)
    }
}
impl Add<f64> for HyperDual {
    type Output = HyperDual;
    fn add(self, o: f64) -> HyperDual {
        HyperDual { f: self.f + o, ..self }
    }
}
impl Sub<f64> for HyperDual {
    type Output = HyperDual;
    fn sub(self, o: f64) -> HyperDual {
        HyperDual { f: self.f - o, ..self }
    }
}
impl Mul<f64> for HyperDual {
    type Output = HyperDual;
    fn mul(self, o: f64) -> HyperDual {
        HyperDual::new(self.f * o, self.e1 * o, self.e2 * o, self.e12 * o)
    }
}
impl Div<f64> for HyperDual {
    type Output = HyperDual;
    fn div(self, o: f64) -> HyperDual {
        HyperDual::new(self.f / o, self.e1 / o, self.e2 / o, self.e12 / o)
    }
}

impl Scalar for HyperDual {
    fn cst(v: f64) -> Self {
        HyperDual::new(v, 0.0, 0.0, 0.0)
    }
    fn value(&self) -> f64 {
        self.f
    }
    fn powi(self, n: i32) -> Self {
        let (g0, g1, g2) = pow_parts(self.f, n as f64);
        self.chain(g0, g1, g2)
    }
    fn powf(self, p: f64) -> Self {
        let (g0, g1, g2) = pow_parts(self.f, p);
        self.chain(g0, g1, g2)
    }
    fn sqrt(self) -> Self {
        let s = self.f.sqrt();
        self.chain(s, 0.5 / s, -0.25 / (s * self.f))
    }
    fn ln(self) -> Self {
        let r = 1.0 / self.f;
        self.chain(self.f.ln(), r, -r * r)
    }
    fn exp(self) -> Self {
        let e = self.f.exp();
        self.chain(e, e, e)
    }
    fn sin(self) -> Self {
        let (s, c) = self.f.sin_cos();
        self.chain(s, c, -s)
    }
    fn cos(self) -> Self {
        let (s, c) = self.f.sin_cos();
        self.chain(c, -s, -c)
    }
    fn abs(self) -> Self {
        self.chain(self.f.abs(), sign0(self.f), 0.0)
    }
}

/// The value and gradient of a scalar function, by `n` dual passes (one per coordinate).
pub fn gradient(f: impl Fn(&[Dual]) -> Dual, x: &[f64]) -> (f64, Array1<f64>) {
    let n = x.len();
    let mut xs: Vec<Dual> = x.iter().map(|&v| Dual::cst(v)).collect();
    let mut g = Array1::zeros(n);
    let mut val = if n == 0 { f(&xs).v } else { f64::NAN };
    for i in 0..n {
        xs[i].d = 1.0;
        let y = f(&xs);
        xs[i].d = 0.0;
        val = y.v;
        g[i] = y.d;
    }
    (val, g)
}

/// The directional derivative `∇f(x)·v` in one dual pass (with the value).
pub fn directional(f: impl Fn(&[Dual]) -> Dual, x: &[f64], v: &[f64]) -> (f64, f64) {
    assert_eq!(x.len(), v.len(), "directional: x and v lengths differ");
    let xs: Vec<Dual> = x.iter().zip(v).map(|(&a, &b)| Dual::new(a, b)).collect();
    let y = f(&xs);
    (y.v, y.d)
}

/// The value, gradient and exact Hessian of a scalar function, by `n(n+1)/2` hyper-dual passes
/// (`ε₁ = e_i`, `ε₂ = e_j`, `j ≥ i`); the Hessian is symmetric by construction.
pub fn hessian(f: impl Fn(&[HyperDual]) -> HyperDual, x: &[f64]) -> (f64, Array1<f64>, Array2<f64>) {
    let n = x.len();
    let mut xs: Vec<HyperDual> = x.iter().map(|&v| HyperDual::cst(v)).collect();
    let mut g = Array1::zeros(n);
    let mut h = Array2::zeros((n, n));
    let mut val = if n == 0 { f(&xs).f } else { f64::NAN };
    for i in 0..n {
        for j in i..n {
            xs[i].e1 = 1.0;
            xs[j].e2 = 1.0;
            let y = f(&xs);
            xs[i].e1 = 0.0;
            xs[j].e2 = 0.0;
            val = y.f;
            if j == i {
                g[i] = y.e1;
            }
            h[[i, j]] = y.e12;
            h[[j, i]] = y.e12;
        }
    }
    (val, g, h)
}

/// The value and Jacobian (`m × n`, row `k` the gradient of output `k`) of a vector function,
/// by `n` dual passes.
pub fn jacobian(f: impl Fn(&[Dual]) -> Vec<Dual>, x: &[f64]) -> (Array1<f64>, Array2<f64>) {
    let n = x.len();
    let mut xs: Vec<Dual> = x.iter().map(|&v| Dual::cst(v)).collect();
    let y0 = f(&xs);
    let m = y0.len();
    let val = Array1::from_iter(y0.iter().map(|y| y.v));
    let mut jac = Array2::zeros((m, n));
    for i in 0..n {
        xs[i].d = 1.0;
        let y = f(&xs);
        xs[i].d = 0.0;
        assert_eq!(y.len(), m, "jacobian: the output length changed between passes");
        for (k, yk) in y.iter().enumerate() {
            jac[[k, i]] = yk.d;
        }
    }
    (val, jac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rosenbrock<S: Scalar>(x: &[S]) -> S {
        (S::cst(1.0) - x[0]).powi(2) + (x[1] - x[0].powi(2)).powi(2) * 100.0
    }

    /// A function in both number types, with its first and second derivative at the test point.
    type Case = (fn(Dual) -> Dual, fn(HyperDual) -> HyperDual, f64, f64);

    #[test]
    fn derivatives_of_elementary_functions_match_closed_forms() {
        let x = 0.7;
        let cases: Vec<Case> = vec![
            (|t| t.sin(), |t| t.sin(), x.cos(), -x.sin()),
            (|t| t.cos(), |t| t.cos(), -x.sin(), -x.cos()),
            (|t| t.exp(), |t| t.exp(), x.exp(), x.exp()),
            (|t| t.ln(), |t| t.ln(), 1.0 / x, -1.0 / (x * x)),
            (|t| t.sqrt(), |t| t.sqrt(), 0.5 / x.sqrt(), -0.25 * x.powf(-1.5)),
            (|t| t.powi(3), |t| t.powi(3), 3.0 * x * x, 6.0 * x),
            (|t| t.powf(2.5), |t| t.powf(2.5), 2.5 * x.powf(1.5), 3.75 * x.powf(0.5)),
            (|t| t.abs(), |t| t.abs(), 1.0, 0.0),
            (|t| Dual::cst(1.0) / t, |t| HyperDual::cst(1.0) / t, -1.0 / (x * x), 2.0 / (x * x * x)),
        ];
        for (k, (fd, fh, d1, d2)) in cases.into_iter().enumerate() {
            let y = fd(Dual::var(x));
            assert!((y.d - d1).abs() < 1e-14 * (1.0 + d1.abs()), "case {k}: {} vs {d1}", y.d);
            let z = fh(HyperDual::new(x, 1.0, 1.0, 0.0));
            assert!((z.e1 - d1).abs() < 1e-14 * (1.0 + d1.abs()), "case {k}");
            assert!((z.e12 - d2).abs() < 1e-13 * (1.0 + d2.abs()), "case {k}: {} vs {d2}", z.e12);
            assert_eq!(z.f, y.v);
        }
        // powi at a negative base and at zero (integer powers are defined everywhere).
        let y = HyperDual::new(-2.0, 1.0, 1.0, 0.0).powi(4);
        assert_eq!((y.f, y.e1, y.e12), (16.0, -32.0, 48.0));
        let y = HyperDual::new(0.0, 1.0, 1.0, 0.0).powi(2);
        assert_eq!((y.f, y.e1, y.e12), (0.0, 0.0, 2.0));
        assert_eq!(Dual::var(-3.0).abs().d, -1.0);
    }

    #[test]
    fn hessian_of_a_quadratic_is_its_matrix() {
        let a = [[4.0, 1.0, -2.0], [1.0, 3.0, 0.5], [-2.0, 0.5, 5.0]];
        let bvec = [1.0, -1.0, 2.0];
        let q = |x: &[HyperDual]| {
            let mut s = HyperDual::cst(0.0);
            for i in 0..3 {
                for j in 0..3 {
                    s = s + x[i] * x[j] * (0.5 * a[i][j]);
                }
                s = s + x[i] * bvec[i];
            }
            s
        };
        let x = [0.3, -1.2, 2.0];
        let (_, g, h) = hessian(q, &x);
        for i in 0..3 {
            let gi: f64 = (0..3).map(|j| a[i][j] * x[j]).sum::<f64>() + bvec[i];
            assert!((g[i] - gi).abs() < 1e-13);
            for j in 0..3 {
                assert!((h[[i, j]] - a[i][j]).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn rosenbrock_gradient_and_hessian_match_closed_forms() {
        let x = [-1.2, 1.0];
        let (f, g) = gradient(rosenbrock::<Dual>, &x);
        let (f2, g2, h) = hessian(rosenbrock::<HyperDual>, &x);
        let (a, b) = (x[0], x[1]);
        assert!((f - rosenbrock::<f64>(&x)).abs() < 1e-14 && (f2 - f).abs() < 1e-14);
        let ge = [-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)];
        let he = [[2.0 - 400.0 * (b - 3.0 * a * a), -400.0 * a], [-400.0 * a, 200.0]];
        for i in 0..2 {
            assert!((g[i] - ge[i]).abs() < 1e-12 && (g2[i] - ge[i]).abs() < 1e-12);
            for j in 0..2 {
                assert!((h[[i, j]] - he[i][j]).abs() < 1e-10, "{i}{j}: {} vs {}", h[[i, j]], he[i][j]);
            }
        }
        let (_, dd) = directional(rosenbrock::<Dual>, &x, &[0.5, -2.0]);
        assert!((dd - (0.5 * ge[0] - 2.0 * ge[1])).abs() < 1e-12);
    }

    #[test]
    fn jacobian_of_a_map_matches_closed_form() {
        let fmap = |x: &[Dual]| vec![x[0] * x[1].sin(), (x[0] + x[1] * 2.0).exp(), x[1].powi(3) / x[0]];
        let x = [1.3, 0.4];
        let (v, j) = jacobian(fmap, &x);
        let (a, b) = (x[0], x[1]);
        let e = (a + 2.0 * b).exp();
        let je = [[b.sin(), a * b.cos()], [e, 2.0 * e], [-b.powi(3) / (a * a), 3.0 * b * b / a]];
        assert!((v[1] - e).abs() < 1e-14);
        for k in 0..3 {
            for i in 0..2 {
                assert!((j[[k, i]] - je[k][i]).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn complex_step_agrees_with_dual_on_a_composite() {
        use num_complex::Complex64;
        let h = 1e-30;
        let x = 0.9_f64;
        let z = Complex64::new(x, h);
        let fc = (z.sin() * z.exp()).ln() + z.sqrt() * z * z;
        let fd = {
            let t = Dual::var(x);
            (t.sin() * t.exp()).ln() + t.sqrt() * t.powi(2)
        };
        assert!((fc.im / h - fd.d).abs() < 1e-13 * fd.d.abs().max(1.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Product, quotient and chain rules (dual and hyper-dual) vs central finite differences.
        #[test]
        fn product_and_chain_rules_match_finite_differences(x in -2.0f64..2.0, a in 0.2f64..3.0, b in -1.5f64..1.5) {
            fn g<S: Scalar>(t: S, a: f64, b: f64) -> S {
                (t * a).sin() * (t * t + 1.0).ln() / ((t * b).cos() + 2.0) + (t * b).exp().sqrt() * t.powi(3)
            }
            let h = 1e-5;
            let fd1 = (g(x + h, a, b) - g(x - h, a, b)) / (2.0 * h);
            let fd2 = (g(x + h, a, b) - 2.0 * g(x, a, b) + g(x - h, a, b)) / (h * h);
            let d = g(Dual::var(x), a, b);
            let hd = g(HyperDual::new(x, 1.0, 1.0, 0.0), a, b);
            prop_assert!((d.v - g(x, a, b)).abs() < 1e-12);
            prop_assert!((d.d - fd1).abs() < 1e-6 * (1.0 + fd1.abs()), "{} vs {}", d.d, fd1);
            prop_assert!((hd.e1 - d.d).abs() < 1e-12 * (1.0 + d.d.abs()));
            prop_assert!((hd.e12 - fd2).abs() < 1e-3 * (1.0 + fd2.abs()), "{} vs {}", hd.e12, fd2);
        }

        /// Mixed second partials of a two-variable function vs finite differences of the gradient.
        #[test]
        fn mixed_partials_match_finite_differences(x0 in -1.5f64..1.5, x1 in -1.5f64..1.5) {
            fn f<S: Scalar>(x: &[S]) -> S {
                x[0].sin() * x[1].exp() + (x[0] * x[1]).cos() * x[1].powi(2) + (x[0] * x[0] + 1.0).sqrt()
            }
            let (_, _, hh) = hessian(f::<HyperDual>, &[x0, x1]);
            let h = 1e-6;
            let (_, gp) = gradient(f::<Dual>, &[x0, x1 + h]);
            let (_, gm) = gradient(f::<Dual>, &[x0, x1 - h]);
            let fd01 = (gp[0] - gm[0]) / (2.0 * h);
            prop_assert!((hh[[0, 1]] - fd01).abs() < 1e-6 * (1.0 + fd01.abs()));
            prop_assert_eq!(hh[[0, 1]], hh[[1, 0]]);
        }
    }
}
