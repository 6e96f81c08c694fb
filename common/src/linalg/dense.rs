//! Dense factorizations through faer (not hand-written), on ndarray inputs.
use faer::{Mat, Side};
use ndarray::{Array1, Array2, ArrayView2};

/// ndarray -> faer (copy).
pub fn to_faer(a: ArrayView2<f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

/// faer -> ndarray (copy).
pub fn from_faer(m: faer::MatRef<f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// Thin QR: `a = q r` with `q` (m x k) orthonormal columns and `r` (k x n) upper triangular,
/// k = min(m, n).
pub fn qr(a: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let f = to_faer(a.view());
    let d = f.qr();
    (from_faer(d.compute_thin_Q().as_ref()), from_faer(d.thin_R()))
}

/// Symmetric eigen-decomposition: eigenvalues ascending and eigenvectors as columns.
/// Only the lower triangle of `a` is read.
pub fn eigh(a: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let f = to_faer(a.view());
    let e = f.self_adjoint_eigen(Side::Lower).expect("symmetric eigen-decomposition converged");
    let s = e.S();
    let vals = Array1::from_shape_fn(a.nrows(), |i| s[i]);
    (vals, from_faer(e.U()))
}

/// Eigenvalues (ascending) of a symmetric matrix.
pub fn eigvalsh(a: &Array2<f64>) -> Array1<f64> {
    let f = to_faer(a.view());
    Array1::from(f.self_adjoint_eigenvalues(Side::Lower).expect("symmetric eigenvalues converged"))
}

/// Singular values, descending.
pub fn singular_values(a: &Array2<f64>) -> Array1<f64> {
    let f = to_faer(a.view());
    Array1::from(f.singular_values().expect("svd converged"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat};

    #[test]
    fn qr_reconstructs() {
        let a = gaussian_mat(&mut Seed(5).rng(), 9, 6, 1.0);
        let (q, r) = qr(&a);
        assert_eq!(q.dim(), (9, 6));
        assert!((&q.dot(&r) - &a).iter().all(|x| x.abs() < 1e-12));
        for i in 0..6 {
            for j in 0..i {
                assert_eq!(r[[i, j]], 0.0);
            }
        }
    }

    #[test]
    fn eigh_diagonalizes() {
        let g = gaussian_mat(&mut Seed(6).rng(), 8, 8, 1.0);
        let a = &g + &g.t();
        let (w, v) = eigh(&a);
        let recon = v.dot(&Array2::from_diag(&w)).dot(&v.t());
        assert!((&recon - &a).iter().all(|x| x.abs() < 1e-10));
        assert!(w.windows(2).into_iter().all(|p| p[0] <= p[1]));
        let w2 = eigvalsh(&a);
        assert!((&w - &w2).iter().all(|x| x.abs() < 1e-10));
        // trace identity
        assert!((w.sum() - a.diag().sum()).abs() < 1e-10);
        let s = singular_values(&a);
        let mut abs: Vec<f64> = w.iter().map(|x| x.abs()).collect();
        abs.sort_by(|x, y| y.partial_cmp(x).unwrap());
        assert!(s.iter().zip(&abs).all(|(x, y)| (x - y).abs() < 1e-10));
    }
}
