//! The homeostatic objective (`homeo_loss` of `models/dyn.py`): with J the Jacobian of the vector
//! field F(r) = W r + c − r in activity coordinates (J = W − I for this architecture; its
//! antisymmetric part is that of the equilibrium Jacobian W − D⁻¹),
//!   L_homeo = E_ε[‖Jε‖² − εᵀJ²ε] / n = ½‖J − Jᵀ‖²_F / n,   ε ~ N(0, I),
//! estimated with a few Gaussian probes per sample (the repo: 5 per sample), divided by the number
//! of state variables n.
use crate::net::{Net, Sizes};
use common::Seed;
use ndarray::{Array2, s};

/// J = W − I.
pub fn jacobian(net: &Net) -> Array2<f64> {
    let w = net.dense_w();
    let n = w.nrows();
    w - Array2::<f64>::eye(n)
}

/// The exact value ½‖J − Jᵀ‖²_F / n.
pub fn exact(net: &Net) -> f64 {
    let j = jacobian(net);
    let a = &j - &j.t();
    0.5 * a.mapv(|v| v * v).sum() / j.nrows() as f64
}

/// Gaussian probes, one per column (n × p).
pub fn probes(n: usize, p: usize, seed: Seed) -> Array2<f64> {
    common::rng::gaussian_mat(&mut seed.rng(), n, p, 1.0)
}

/// The Monte-Carlo estimate (1/p) Σ_ε (‖Jε‖² − εᵀJ²ε) / n for probes `eps` (n × p).
pub fn estimate(net: &Net, eps: &Array2<f64>) -> f64 {
    let j = jacobian(net);
    let je = j.dot(eps);
    let jje = j.dot(&je);
    let n = j.nrows() as f64;
    let p = eps.ncols() as f64;
    ((&je * &je).sum() - (eps * &jje).sum()) / (n * p)
}

/// The gradient of [`estimate`] with respect to the parameters (only the four recurrent kernels
/// enter J): ∇_J = (2 (Jε)εᵀ − ε(Jε)ᵀ − (Jᵀε)εᵀ) / (n p), read on the kernels' blocks.
pub fn estimate_grad(net: &Net, eps: &Array2<f64>) -> Net {
    let j = jacobian(net);
    let n = j.nrows() as f64;
    let p = eps.ncols() as f64;
    let je = j.dot(eps);
    let jte = j.t().dot(eps);
    let gj = (je.dot(&eps.t()) * 2.0 - eps.dot(&je.t()) - jte.dot(&eps.t())) / (n * p);
    let Sizes { h1, h2, .. } = net.sizes();
    let mut g = net.zeros_like();
    g.w12 = gj.slice(s![h1..h1 + h2, 0..h1]).to_owned();
    g.w21 = gj.slice(s![0..h1, h1..h1 + h2]).to_owned();
    g.w23 = gj.slice(s![h1 + h2.., h1..h1 + h2]).to_owned();
    g.w32 = gj.slice(s![h1..h1 + h2, h1 + h2..]).to_owned();
    g
}

/// Normalised asymmetry ‖J − Jᵀ‖_F / ‖J + Jᵀ‖_F of the recurrent coupling W (the functional part
/// of J; the identity of J = W − I would only inflate the denominator).
pub fn asymmetry(net: &Net) -> f64 {
    let w = net.dense_w();
    let a = (&w - &w.t()).mapv(|v| v * v).sum().sqrt();
    let b = (&w + &w.t()).mapv(|v| v * v).sum().sqrt();
    a / b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Sizes;

    fn net(alpha: f64) -> Net {
        Net::init(Sizes { d: 8, h1: 12, h2: 10, k: 4 }, alpha, Seed(3))
    }

    /// E[‖Jε‖² − εᵀJ²ε] = tr(JᵀJ) − tr(J²) = ½‖J − Jᵀ‖²_F: the identity, on the matrices.
    #[test]
    fn the_expectation_is_half_the_squared_antisymmetric_norm() {
        let m = net(60.0);
        let j = jacobian(&m);
        let tr = (&j * &j).sum() - j.dot(&j).diag().sum();
        assert!((tr / j.nrows() as f64 - exact(&m)).abs() < 1e-12);
        assert!(exact(&net(0.0)) < 1e-28, "symmetric weights have no asymmetry");
        assert!(asymmetry(&net(0.0)) < 1e-15);
    }

    /// The gradient of the estimator matches central finite differences on every kernel.
    #[test]
    fn estimator_gradient_matches_finite_differences() {
        let m = net(70.0);
        let eps = probes(m.sizes().n(), 7, Seed(5));
        let g = estimate_grad(&m, &eps).to_flat();
        let p0 = m.to_flat();
        let mut worst: f64 = 0.0;
        for idx in (0..p0.len()).step_by(7) {
            let h = 1e-5;
            let mut a = m.clone();
            let mut pa = p0.clone();
            pa[idx] += h;
            a.set_flat(pa.view());
            let mut b = m.clone();
            let mut pb = p0.clone();
            pb[idx] -= h;
            b.set_flat(pb.view());
            let fd = (estimate(&a, &eps) - estimate(&b, &eps)) / (2.0 * h);
            worst = worst.max((fd - g[idx]).abs());
        }
        assert!(worst < 1e-7, "worst gradient error {worst}");
    }
}
