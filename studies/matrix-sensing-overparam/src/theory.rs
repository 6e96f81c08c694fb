//! Closed forms the simulations are held against. None of them reads a simulated trajectory.
//!
//! **Symmetric, population loss ¼‖XXᵀ − M*‖² [derived].** In a redundant direction (orthogonal
//! to the column space of M*) an eigenvalue μ of XXᵀ obeys `μ ← μ(1 − ημ)²`. With u = 1/μ,
//! `u ← u + 2η + O(η²μ)`, so μ_t ≈ 1/(2ηt) and each redundant direction contributes μ_t² ≈
//! 1/(4η²t²) to ‖XXᵀ − M*‖²_F: `t²·‖X_tX_tᵀ − M*‖² → (k − r)/(4η²)`, a Θ(1/T²) error
//! (the paper's Ω(1/T²) lower bound, attained).
//!
//! **Asymmetric, imbalance-driven rate [derived].** Gradient flow conserves the imbalance
//! `D = FᵀF − GᵀG` (GD up to O(η²) per step). At the limit the k − r redundant columns of G (in
//! the basis where Gᵀ's null space is split off) decay as `G_e ← G_e(I − η F_eᵀF_e)` with
//! `F_eᵀF_e ≈ D` restricted to those k − r directions, so the error ‖F_eG_eᵀ‖² decays at
//! `2η·λ` per step with λ the smallest eigenvalue of D on that (k − r)-dimensional subspace. By
//! Cauchy interlacing λ ∈ [λ_1(D), λ_{r+1}(D)] (eigenvalues ascending). With `F0 = α Z_F` and
//! `G0 = (α/3) Z_G` the band is α²·[λ_1, λ_{r+1}](Z_FᵀZ_F − Z_GᵀZ_G/9): the exp(−Ω(α²T)) rate,
//! computed from the initialisation alone.
use ndarray::Array2;

/// One GD step of a redundant eigenvalue in the population factorisation: μ(1 − ημ)².
pub fn redundant_step(mu: f64, eta: f64) -> f64 {
    mu * (1.0 - eta * mu).powi(2)
}

/// The asymptotic constant of the Θ(1/T²) error: `(k − r) / (4η²)`.
pub fn factorisation_constant(k: usize, r: usize, eta: f64) -> f64 {
    k.saturating_sub(r) as f64 / (4.0 * eta * eta)
}

/// The predicted band `[2η λ_1(D), 2η λ_{r+1}(D)]` of the linear rate (per iteration, of
/// ln‖FGᵀ − M*‖²) for the imbalance `D = F0ᵀF0 − G0ᵀG0` of an initialisation with k columns.
pub fn imbalance_rate_band(f0: &Array2<f64>, g0: &Array2<f64>, r: usize, eta: f64) -> (f64, f64) {
    let d = f0.t().dot(f0) - g0.t().dot(g0);
    let w = common::linalg::eigvalsh(&d);
    let k = w.len();
    assert!(r < k, "the band needs k > r");
    (2.0 * eta * w[0], 2.0 * eta * w[r])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_on_known_values() {
        assert!((factorisation_constant(4, 2, 0.05) - 200.0).abs() < 1e-10);
        assert!((factorisation_constant(3, 2, 0.05) - 100.0).abs() < 1e-10);
        assert_eq!(factorisation_constant(2, 2, 0.05), 0.0);
        assert_eq!(factorisation_constant(3, 1, 0.5), 2.0);
        assert_eq!(redundant_step(0.5, 0.1), 0.5 * 0.95 * 0.95);
    }

    #[test]
    fn recursion_approaches_the_constant() {
        // t²μ_t² -> 1/(4η²) with a relative correction O(ln t / t).
        let (eta, mut mu) = (0.05, 0.2);
        let mut worst: f64 = 0.0;
        for t in 1..=100_000u64 {
            mu = redundant_step(mu, eta);
            if t >= 50_000 {
                let ratio = (t as f64 * mu).powi(2) * 4.0 * eta * eta;
                worst = worst.max((ratio - 1.0).abs());
            }
        }
        assert!(worst < 5e-3, "{worst}");
    }

    #[test]
    fn band_on_a_known_imbalance() {
        // F0ᵀF0 = diag(4, 9, 16), G0ᵀG0 = diag(1, 1, 1): D = diag(3, 8, 15).
        let mut f = Array2::<f64>::zeros((5, 3));
        let mut g = Array2::<f64>::zeros((5, 3));
        for (i, s) in [2.0, 3.0, 4.0].iter().enumerate() {
            f[[i, i]] = *s;
            g[[i + 1, i]] = 1.0;
        }
        let (lo, hi) = imbalance_rate_band(&f, &g, 1, 0.05);
        assert!((lo - 0.3).abs() < 1e-12 && (hi - 0.8).abs() < 1e-12, "{lo} {hi}");
        let (lo, hi) = imbalance_rate_band(&f, &g, 2, 0.05);
        assert!((lo - 0.3).abs() < 1e-12 && (hi - 1.5).abs() < 1e-12);
    }
}
