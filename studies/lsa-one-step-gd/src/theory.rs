//! Closed forms of the paper's theory, computed independently of the simulation.
//!
//! Setting (Mahankali, Hashimoto & Ma, Sec. 3): a prompt holds `n` context points `(x_i, y_i)` and a
//! query `x_q`; `h = (1/n) Σ_i y_i x_i`. One step of preconditioned GD from `w = 0` on the
//! least-squares loss `(1/2n) Σ (wᵀx_i − y_i)²` with preconditioner `Γ` predicts `x_qᵀ Γ h`; plain GD
//! with step size `η` is `Γ = η I`.
//!
//! * Linear targets, `x ~ N(0, I_d)`, `w ~ N(0, I_d)`, `y = wᵀx + ε`, `ε ~ N(0, σ²)`: the ICL risk of
//!   `Γ = η I` is `σ² + d − 2ηd + η² d (n+d+1+σ²)/n` (from `E[(XᵀX/n)²] = (n+d+1)/n · I`, the second
//!   Wishart moment), minimised at `η* = n/(n+d+1+σ²)` with risk `σ² + d(d+1+σ²)/(n+d+1+σ²)`.
//! * `x ~ N(0, Σ)`, `w ~ N(0, Σ⁻¹)`: the change of variables `x → Σ^{-1/2} x`, `w → Σ^{1/2} w` maps
//!   the problem onto the isotropic one, so `Γ* = η* Σ⁻¹` with the same risk.
//! * Random ReLU teacher `y = aᵀ ReLU(V x)/√m + ε` (`V`, `a` standard Gaussian, fresh per prompt,
//!   isotropic `x`): the distribution is rotation invariant, so `Γ* = γ* I` with
//!   `γ* = E[y_q x_qᵀ h] / E[(x_qᵀ h)²]`. Stein's lemma gives `E_x[ReLU(vᵀx) x] = v/2`, hence
//!   `E[y_q x_qᵀh] = E‖Vᵀa‖²/(4m) = d/4` and `E‖h‖² = (σ²d + d(d+2)/2)/n + (n−1)d/(4n)`, so
//!   `γ* = n/(n + 2d + 3 + 4σ²)`.

/// Optimal one-step GD step size for isotropic linear regression: `n/(n+d+1+σ²)`.
pub fn eta_star(n: usize, d: usize, sigma: f64) -> f64 {
    let n = n as f64;
    n / (n + d as f64 + 1.0 + sigma * sigma)
}

/// ICL risk `E[(y_q − η x_qᵀh)²]` of one GD step with step size `eta` (isotropic linear model).
pub fn risk_gd(eta: f64, n: usize, d: usize, sigma: f64) -> f64 {
    let (nf, df, s2) = (n as f64, d as f64, sigma * sigma);
    s2 + df - 2.0 * eta * df + eta * eta * df * (nf + df + 1.0 + s2) / nf
}

/// The optimal one-layer-LSA ICL risk (Thm 1): `σ² + d(d+1+σ²)/(n+d+1+σ²)`.
pub fn risk_opt(n: usize, d: usize, sigma: f64) -> f64 {
    let (nf, df, s2) = (n as f64, d as f64, sigma * sigma);
    s2 + df * (df + 1.0 + s2) / (nf + df + 1.0 + s2)
}

/// The optimal preconditioner for `x ~ N(0, Σ)`, `w ~ N(0, Σ⁻¹)`, `Σ = diag(eigs)`: `η* Σ⁻¹`
/// (row-major `d × d`).
pub fn preconditioner(eigs: &[f64], n: usize, sigma: f64) -> Vec<f64> {
    let d = eigs.len();
    let eta = eta_star(n, d, sigma);
    let mut g = vec![0.0; d * d];
    for (i, l) in eigs.iter().enumerate() {
        g[i * d + i] = eta / l;
    }
    g
}

/// Optimal step size for the random ReLU teacher: `n/(n+2d+3+4σ²)`.
pub fn gamma_star_relu(n: usize, d: usize, sigma: f64) -> f64 {
    let n = n as f64;
    n / (n + 2.0 * d as f64 + 3.0 + 4.0 * sigma * sigma)
}

/// `E[y_q x_qᵀh]` and `E[(x_qᵀh)²]` for the random ReLU teacher (see the module docs).
pub fn relu_moments(n: usize, d: usize, sigma: f64) -> (f64, f64) {
    let (nf, df, s2) = (n as f64, d as f64, sigma * sigma);
    let cross = df / 4.0;
    let hh = (s2 * df + df * (df + 2.0) / 2.0) / nf + (nf - 1.0) * df / (4.0 * nf);
    (cross, hh)
}

/// ICL risk of `γ x_qᵀh` under the random ReLU teacher: `E[y²] − 2γ E[y_q x_qᵀh] + γ² E[(x_qᵀh)²]`
/// with `E[y²] = d/2 + σ²`.
pub fn risk_relu_gd(gamma: f64, n: usize, d: usize, sigma: f64) -> f64 {
    let (cross, hh) = relu_moments(n, d, sigma);
    d as f64 / 2.0 + sigma * sigma - 2.0 * gamma * cross + gamma * gamma * hh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // The spec's calibration setting: d = 5, n = 20, σ = 0.5.
        assert!((eta_star(20, 5, 0.5) - 20.0 / 26.25).abs() < 1e-15);
        assert!((eta_star(20, 5, 0.5) - 0.761_904_761_904_761_9).abs() < 1e-15);
        assert!((risk_opt(20, 5, 0.5) - (0.25 + 5.0 * 6.25 / 26.25)).abs() < 1e-14);
        // Noiseless, n = d + 1: η* = 1/2.
        assert_eq!(eta_star(6, 5, 0.0), 0.5);
        // GD with η = 1: σ² + d(d+1+σ²)/n.
        assert!((risk_gd(1.0, 20, 5, 0.5) - (0.25 + 5.0 * 6.25 / 20.0)).abs() < 1e-14);
        // ReLU teacher: 20/(20 + 10 + 3 + 1) = 10/17.
        assert!((gamma_star_relu(20, 5, 0.5) - 10.0 / 17.0).abs() < 1e-15);
    }

    #[test]
    fn eta_star_minimises_the_gd_risk_and_gives_the_optimal_risk() {
        for &(n, d, s) in &[(20, 5, 0.5), (5, 5, 0.0), (100, 20, 1.0), (3, 10, 2.0)] {
            let e = eta_star(n, d, s);
            assert!((risk_gd(e, n, d, s) - risk_opt(n, d, s)).abs() < 1e-12);
            for de in [-1e-3, 1e-3] {
                assert!(risk_gd(e + de, n, d, s) > risk_gd(e, n, d, s));
            }
            // As n → ∞ the step tends to 1 and the risk to the noise floor.
            assert!(eta_star(1_000_000, d, s) > 0.9999);
        }
    }

    #[test]
    fn gamma_star_minimises_the_relu_risk() {
        for &(n, d, s) in &[(20, 5, 0.5), (40, 10, 0.0), (7, 3, 1.0)] {
            let g = gamma_star_relu(n, d, s);
            let (c, hh) = relu_moments(n, d, s);
            assert!((g - c / hh).abs() < 1e-14);
            for dg in [-1e-3, 1e-3] {
                assert!(risk_relu_gd(g + dg, n, d, s) > risk_relu_gd(g, n, d, s));
            }
        }
    }

    #[test]
    fn preconditioner_is_eta_over_eigs() {
        let g = preconditioner(&[0.25, 4.0], 20, 0.5);
        let e = eta_star(20, 2, 0.5);
        assert_eq!(g, vec![4.0 * e, 0.0, 0.0, e / 4.0]);
    }
}
