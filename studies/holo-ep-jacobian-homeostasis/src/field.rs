//! Real and complex scalars behind one small trait, and a dense LU with partial pivoting over it
//! (the complex solves of the Newton polish; `common::linalg::dense` is real only).
#![allow(clippy::needless_range_loop)] // index loops read like the LU and the Jacobian formulas
use num_complex::Complex64;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

/// The scalar field of the dynamics: `f64` for the free phase and the exact derivatives,
/// `Complex64` for the nudged phases at complex β.
pub trait Scalar:
    Copy
    + Send
    + Sync
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
{
    /// The real number `x` in this field.
    fn re_of(x: f64) -> Self;
    /// The real part.
    fn re(self) -> f64;
    /// The modulus.
    fn modulus(self) -> f64;
    /// The (complex) exponential.
    fn exp(self) -> Self;
    /// Zero.
    fn zero() -> Self {
        Self::re_of(0.0)
    }
}

impl Scalar for f64 {
    fn re_of(x: f64) -> Self {
        x
    }
    fn re(self) -> f64 {
        self
    }
    fn modulus(self) -> f64 {
        self.abs()
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
}

impl Scalar for Complex64 {
    fn re_of(x: f64) -> Self {
        Complex64::new(x, 0.0)
    }
    fn re(self) -> f64 {
        self.re
    }
    fn modulus(self) -> f64 {
        self.norm()
    }
    fn exp(self) -> Self {
        Complex64::exp(self)
    }
}

/// Row-major LU factors of a square matrix with the row permutation (`P A = L U`, unit `L`).
#[derive(Clone, Debug)]
pub struct Lu<T: Scalar> {
    n: usize,
    lu: Vec<T>,
    perm: Vec<usize>,
}

/// Factor the row-major `n × n` matrix `a`; `None` when a pivot is exactly zero or not finite.
pub fn lu<T: Scalar>(n: usize, a: &[T]) -> Option<Lu<T>> {
    assert_eq!(a.len(), n * n, "lu: matrix is not n × n");
    let mut m = a.to_vec();
    let mut perm: Vec<usize> = (0..n).collect();
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| m[i * n + k].modulus().total_cmp(&m[j * n + k].modulus()))?;
        let piv = m[p * n + k].modulus();
        if !(piv.is_finite() && piv > 0.0) {
            return None;
        }
        if p != k {
            for j in 0..n {
                m.swap(k * n + j, p * n + j);
            }
            perm.swap(k, p);
        }
        let d = m[k * n + k];
        for i in k + 1..n {
            let f = m[i * n + k] / d;
            m[i * n + k] = f;
            for j in k + 1..n {
                let v = m[k * n + j];
                m[i * n + j] -= f * v;
            }
        }
    }
    Some(Lu { n, lu: m, perm })
}

impl<T: Scalar> Lu<T> {
    /// Solve `A x = b`.
    pub fn solve(&self, b: &[T]) -> Vec<T> {
        let n = self.n;
        let mut x: Vec<T> = self.perm.iter().map(|&p| b[p]).collect();
        for i in 0..n {
            let mut s = x[i];
            for j in 0..i {
                s -= self.lu[i * n + j] * x[j];
            }
            x[i] = s;
        }
        for i in (0..n).rev() {
            let mut s = x[i];
            for j in i + 1..n {
                s -= self.lu[i * n + j] * x[j];
            }
            x[i] = s / self.lu[i * n + i];
        }
        x
    }

    /// Solve `Aᵀ x = b` (plain transpose, no conjugation).
    pub fn solve_t(&self, b: &[T]) -> Vec<T> {
        let n = self.n;
        // Aᵀ = Uᵀ Lᵀ P: solve Uᵀ z = b, then Lᵀ w = z, then x = Pᵀ w.
        let mut z = b.to_vec();
        for i in 0..n {
            let mut s = z[i];
            for j in 0..i {
                s -= self.lu[j * n + i] * z[j];
            }
            z[i] = s / self.lu[i * n + i];
        }
        for i in (0..n).rev() {
            let mut s = z[i];
            for j in i + 1..n {
                s -= self.lu[j * n + i] * z[j];
            }
            z[i] = s;
        }
        let mut x = vec![T::zero(); n];
        for (k, &p) in self.perm.iter().enumerate() {
            x[p] = z[k];
        }
        x
    }
}

/// `y = A x` for a row-major `n × n` matrix.
pub fn matvec<T: Scalar>(n: usize, a: &[T], x: &[T]) -> Vec<T> {
    (0..n)
        .map(|i| {
            let mut s = T::zero();
            for j in 0..n {
                s += a[i * n + j] * x[j];
            }
            s
        })
        .collect()
}

/// Euclidean norm.
pub fn norm<T: Scalar>(v: &[T]) -> f64 {
    v.iter().map(|x| x.modulus().powi(2)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn complex_mat(n: usize, vals: &[f64]) -> Vec<Complex64> {
        (0..n * n)
            .map(|k| Complex64::new(vals[2 * k], vals[2 * k + 1]) + if k % (n + 1) == 0 { 0.5 } else { 0.0 })
            .collect()
    }

    proptest! {
        /// `A x = b` and `Aᵀ y = b` hold to rounding for random complex matrices.
        #[test]
        fn complex_lu_solves_and_transposed_solves(n in 1usize..9, seed in proptest::collection::vec(-1.0f64..1.0, 2 * 81 + 18)) {
            let a = complex_mat(n, &seed);
            let b: Vec<Complex64> = (0..n).map(|i| Complex64::new(seed[2 * 81 + i], seed[2 * 81 + 9 + i])).collect();
            let f = lu(n, &a).unwrap();
            let x = f.solve(&b);
            let r: Vec<Complex64> = matvec(n, &a, &x).iter().zip(&b).map(|(p, q)| p - q).collect();
            let at: Vec<Complex64> = (0..n * n).map(|k| a[(k % n) * n + k / n]).collect();
            let y = f.solve_t(&b);
            let rt: Vec<Complex64> = matvec(n, &at, &y).iter().zip(&b).map(|(p, q)| p - q).collect();
            let scale = norm(&b) * (1.0 + norm(&x) + norm(&y));
            prop_assert!(norm(&r) <= 1e-9 * scale, "residual {}", norm(&r));
            prop_assert!(norm(&rt) <= 1e-9 * scale, "transposed residual {}", norm(&rt));
        }
    }

    /// The real LU agrees with `common::linalg::dense::solve`, and the complex one with the real
    /// 2n × 2n embedding [[Re, −Im], [Im, Re]].
    #[test]
    fn lu_matches_common_and_the_real_embedding() {
        let n = 6;
        let vals: Vec<f64> = (0..2 * n * n).map(|k| ((k * 37 % 17) as f64 - 8.0) / 9.0).collect();
        let a = complex_mat(n, &vals);
        let b: Vec<Complex64> = (0..n).map(|i| Complex64::new(i as f64 - 2.0, 1.0 / (i as f64 + 1.0))).collect();
        let x = lu(n, &a).unwrap().solve(&b);
        let big = ndarray::Array2::from_shape_fn((2 * n, 2 * n), |(i, j)| {
            let (ii, jj) = (i % n, j % n);
            let z = a[ii * n + jj];
            match (i < n, j < n) {
                (true, true) | (false, false) => z.re,
                (true, false) => -z.im,
                (false, true) => z.im,
            }
        });
        let rhs = ndarray::Array1::from_shape_fn(2 * n, |i| if i < n { b[i].re } else { b[i - n].im });
        let sol = common::linalg::dense::solve(big.view(), rhs.view()).unwrap();
        for i in 0..n {
            assert!((sol[i] - x[i].re).abs() < 1e-10 && (sol[i + n] - x[i].im).abs() < 1e-10);
        }
        let ar: Vec<f64> = a.iter().map(|z| z.re).collect();
        let br: Vec<f64> = b.iter().map(|z| z.re).collect();
        let xr = lu(n, &ar).unwrap().solve(&br);
        let m = ndarray::Array2::from_shape_vec((n, n), ar.clone()).unwrap();
        let want = common::linalg::dense::solve(m.view(), ndarray::Array1::from(br).view()).unwrap();
        for i in 0..n {
            assert!((xr[i] - want[i]).abs() < 1e-10);
        }
        assert!(lu(2, &[1.0, 2.0, 2.0, 4.0]).is_none(), "a singular matrix has no LU");
    }
}
