//! The theory side, computed from closed forms only (never from simulated data).
//!
//! Setting (Advani & Saxe, linear student-teacher): inputs x ~ N(0, I/N) in R^N, P examples,
//! alpha = P/N, teacher w̄ ~ N(0, s_w I), labels y = w̄·x + eps with eps ~ N(0, s2), student
//! initialised at w0 ~ N(0, s0 I) and trained by full-batch gradient descent with step `eta` on
//! ½‖Xw − y‖². In the eigenbasis of XᵀX every mode evolves on its own, so the test error
//! E_g = s2 + ‖w − w̄‖²/N and the training error E_t = ‖Xw − y‖²/P are integrals over the
//! spectrum of XᵀX, which for N, P → ∞ is the Marchenko-Pastur law with ratio alpha plus a point
//! mass (1 − alpha)₊ at zero (the frozen subspace).

/// Edges (λ₋, λ₊) = ((1 − √α)², (1 + √α)²) of the Marchenko-Pastur support of XᵀX.
pub fn mp_edges(alpha: f64) -> (f64, f64) {
    let r = alpha.sqrt();
    ((1.0 - r).powi(2), (1.0 + r).powi(2))
}

/// Mass of the point at λ = 0: the fraction (1 − α)₊ of directions that no example spans.
pub fn mp_zero_mass(alpha: f64) -> f64 {
    (1.0 - alpha).max(0.0)
}

/// Continuous part of the Marchenko-Pastur density of XᵀX (x ~ N(0, I/N), α = P/N):
/// ρ(λ) = √((λ₊ − λ)(λ − λ₋)) / (2πλ) on [λ₋, λ₊]; it integrates to min(1, α).
pub fn mp_density(alpha: f64, lambda: f64) -> f64 {
    let (lo, hi) = mp_edges(alpha);
    if lambda <= lo || lambda >= hi || lambda <= 0.0 {
        return 0.0;
    }
    ((hi - lambda) * (lambda - lo)).sqrt() / (2.0 * std::f64::consts::PI * lambda)
}

/// Quadrature for integrals ∫ ρ(λ) f(λ) dλ over the continuous part of the Marchenko-Pastur law.
///
/// Substituting λ = c + r cos θ (c, r the centre and half-width of the support) turns the square
/// root of the density into r sin θ, so the integral is ∫₀^π h(θ) dθ with
/// h(θ) = r² sin²θ f(λ(θ)) / (2π λ(θ)). h is a smooth function of cos θ, i.e. an even periodic
/// function of θ, so the midpoint rule in θ converges geometrically for smooth f, including at
/// α = 1 where λ₋ = 0 (sin²θ/λ = (1 − cos θ)/2 stays smooth); it never evaluates f at the edges.
/// For f(λ) = λ·(polynomial of degree < 2n − 2) it is exact (Gauss-Chebyshev of the second kind
/// on a shifted grid).
#[derive(Clone, Debug)]
pub struct MpQuad {
    pub alpha: f64,
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

impl MpQuad {
    pub fn new(alpha: f64, n: usize) -> Self {
        assert!(alpha > 0.0 && n > 0, "MpQuad needs alpha > 0 and at least one node");
        let (lo, hi) = mp_edges(alpha);
        let (c, r) = ((hi + lo) / 2.0, (hi - lo) / 2.0);
        let mut nodes = Vec::with_capacity(n);
        let mut weights = Vec::with_capacity(n);
        for j in 0..n {
            let th = (j as f64 + 0.5) * std::f64::consts::PI / n as f64;
            let lam = c + r * th.cos();
            nodes.push(lam);
            weights.push(r * r * th.sin().powi(2) / (2.0 * n as f64 * lam));
        }
        MpQuad { alpha, nodes, weights }
    }

    /// ∫ ρ_cont(λ) f(λ) dλ.
    pub fn integrate(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.nodes.iter().zip(&self.weights).map(|(&l, &w)| w * f(l)).sum()
    }

    /// Marchenko-Pastur cumulative distribution (point mass included) at `x`.
    pub fn cdf(&self, x: f64) -> f64 {
        // The quadrature nodes are not fine enough for a step function; integrate the density
        // directly with the same substitution on the part of the support below x.
        let (lo, hi) = mp_edges(self.alpha);
        let zero = if x >= 0.0 { mp_zero_mass(self.alpha) } else { 0.0 };
        if x <= lo {
            return zero;
        }
        if x >= hi {
            return zero + self.alpha.min(1.0);
        }
        let (c, r) = ((hi + lo) / 2.0, (hi - lo) / 2.0);
        // θ runs from π (λ = λ₋) down to θx (λ = x); midpoint rule on [θx, π].
        let thx = ((x - c) / r).clamp(-1.0, 1.0).acos();
        let m = 4000;
        let h = (std::f64::consts::PI - thx) / m as f64;
        let mut s = 0.0;
        for i in 0..m {
            let th = thx + (i as f64 + 0.5) * h;
            let lam = c + r * th.cos();
            s += r * r * th.sin().powi(2) / (2.0 * std::f64::consts::PI * lam);
        }
        zero + s * h
    }
}

/// Parameters of the teacher, the noise and the initialisation (variances).
#[derive(Clone, Copy, Debug)]
pub struct Noise {
    /// σ_w̄²: variance of the teacher's weights.
    pub teacher: f64,
    /// σ²: variance of the label noise.
    pub noise: f64,
    /// σ₀²: variance of the student's initial weights.
    pub init: f64,
}

impl Noise {
    /// σ_w̄² + σ₀²: the initial squared error per weight.
    pub fn start(&self) -> f64 {
        self.teacher + self.init
    }
}

/// Expected squared error of one eigenmode with eigenvalue `lam` > 0 after `k` steps of gradient
/// descent with step `eta`: (σ_w̄² + σ₀²)(1 − ηλ)^{2k} + (σ²/λ)(1 − (1 − ηλ)^k)².
pub fn mode_error(lam: f64, eta: f64, k: u64, p: Noise) -> f64 {
    let a = pow(1.0 - eta * lam, k);
    p.start() * a * a + p.noise / lam * (1.0 - a) * (1.0 - a)
}

/// x^k for a step count (exact repeated squaring for any k; `powi` takes an i32).
pub fn pow(x: f64, k: u64) -> f64 {
    if k <= i32::MAX as u64 { x.powi(k as i32) } else { x.powf(k as f64) }
}

/// Marchenko-Pastur test error E_g(k) = σ² + (1 − α)₊(σ_w̄² + σ₀²) + ∫ρ(λ) mode_error(λ, k) dλ.
pub fn test_error(q: &MpQuad, eta: f64, k: u64, p: Noise) -> f64 {
    p.noise + mp_zero_mass(q.alpha) * p.start() + q.integrate(|l| mode_error(l, eta, k, p))
}

/// Marchenko-Pastur training error
/// E_t(k) = (1/α)∫ρ(λ)(1 − ηλ)^{2k}(λ(σ_w̄² + σ₀²) + σ²)dλ + σ²(1 − 1/α)₊:
/// the residual of each spanned direction decays with its mode, the label noise outside the column
/// space of X (when P > N) is never fitted, and the frozen directions do not enter the training
/// error at all.
pub fn train_error(q: &MpQuad, eta: f64, k: u64, p: Noise) -> f64 {
    let alpha = q.alpha;
    q.integrate(|l| {
        let a = pow(1.0 - eta * l, k);
        a * a * (l * p.start() + p.noise)
    }) / alpha
        + p.noise * (1.0 - 1.0 / alpha).max(0.0)
}

/// ∫ρ_cont(λ)/λ dλ in closed form: α/(1 − α) for α < 1, 1/(α − 1) for α > 1 (infinite at 1).
pub fn mp_inverse_moment(alpha: f64) -> f64 {
    if alpha < 1.0 {
        alpha / (1.0 - alpha)
    } else if alpha > 1.0 {
        1.0 / (alpha - 1.0)
    } else {
        f64::INFINITY
    }
}

/// Asymptotic (k → ∞, minimum-norm from w0) test error in the N → ∞ limit:
/// σ² + (1 − α)₊(σ_w̄² + σ₀²) + σ² ∫ρ/λ. Diverges at α = 1.
pub fn test_error_inf(alpha: f64, p: Noise) -> f64 {
    p.noise + mp_zero_mass(alpha) * p.start() + p.noise * mp_inverse_moment(alpha)
}

/// Asymptotic test error at finite N, P (expectation over X, w̄, ε) from the inverse moments of a
/// Wishart matrix: E tr (XXᵀ)⁻¹ = NP/(N − P − 1) for P < N − 1 and E tr (XᵀX)⁻¹ = N²/(P − N − 1)
/// for P > N + 1. `None` where the moment is infinite (|P − N| ≤ 1).
pub fn test_error_inf_finite(n: usize, p_examples: usize, p: Noise) -> Option<f64> {
    let (n_f, p_f) = (n as f64, p_examples as f64);
    if p_examples + 1 < n {
        Some(p.noise + (1.0 - p_f / n_f) * p.start() + p.noise * p_f / (n_f - p_f - 1.0))
    } else if p_examples > n + 1 {
        Some(p.noise * (1.0 + n_f / (p_f - n_f - 1.0)))
    } else {
        None
    }
}

/// Test error of Bayes-optimal ridge regression, ŵ = (XᵀX + γI)⁻¹Xᵀy with γ = σ²/σ_w̄²:
/// σ² + (1 − α)₊σ_w̄² + ∫ρ σ²/(λ + γ) dλ. Each mode's error σ²/(λ + γ) is the minimum over
/// stopping times of that mode's gradient-descent error, so no early stopping time can beat it.
pub fn ridge_error(q: &MpQuad, teacher: f64, noise: f64) -> f64 {
    let g = noise / teacher;
    noise + mp_zero_mass(q.alpha) * teacher + q.integrate(|l| noise / (l + g))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALPHAS: [f64; 9] = [0.1, 0.25, 0.5, 0.8, 0.95, 1.0, 1.05, 2.0, 4.0];

    /// Midpoint rule on the density itself, in λ: an integration independent of `MpQuad`.
    fn midpoint(alpha: f64, f: impl Fn(f64) -> f64, m: usize) -> f64 {
        let (lo, hi) = mp_edges(alpha);
        let h = (hi - lo) / m as f64;
        (0..m).map(|i| lo + (i as f64 + 0.5) * h).map(|l| mp_density(alpha, l) * f(l) * h).sum()
    }

    #[test]
    fn density_integrates_to_one_with_the_point_mass() {
        for a in ALPHAS {
            let m = if a == 1.0 { 2_000_000 } else { 200_000 };
            let total = midpoint(a, |_| 1.0, m) + mp_zero_mass(a);
            assert!((total - 1.0).abs() < 2e-3, "alpha {a}: total mass {total}");
            let q = MpQuad::new(a, 2000);
            let mass = q.integrate(|_| 1.0);
            assert!((mass - a.min(1.0)).abs() < 1e-10, "alpha {a}: quadrature mass {mass}");
        }
    }

    #[test]
    fn moments_match_wishart() {
        // E[λ] = tr(XᵀX)/N = α and E[λ²] = α + α² (point mass included, it adds nothing).
        for a in ALPHAS {
            let mean_mid = midpoint(a, |l| l, 200_000);
            assert!((mean_mid - a).abs() < 1e-4 * a.max(1.0), "alpha {a}: midpoint mean {mean_mid}");
            let q = MpQuad::new(a, 500);
            assert!((q.integrate(|l| l) - a).abs() < 1e-12, "alpha {a}");
            assert!((q.integrate(|l| l * l) - (a + a * a)).abs() < 1e-11, "alpha {a}");
            // third moment of Marchenko-Pastur: α³ + 3α² + α
            assert!((q.integrate(|l| l.powi(3)) - (a.powi(3) + 3.0 * a * a + a)).abs() < 1e-10, "alpha {a}");
        }
    }

    #[test]
    fn inverse_moment_closed_form() {
        for a in [0.1, 0.25, 0.5, 0.8, 0.95, 1.05, 1.25, 2.0, 4.0] {
            let q = MpQuad::new(a, 20_000);
            let num = q.integrate(|l| 1.0 / l);
            let exact = mp_inverse_moment(a);
            assert!((num / exact - 1.0).abs() < 1e-8, "alpha {a}: {num} vs {exact}");
        }
        assert_eq!(mp_inverse_moment(1.0), f64::INFINITY);
        // the asymptote at known values: α = 0.5, σ_w̄² = 1, σ² = 0.2, σ₀ = 0 gives 0.2 + 0.5 + 0.2
        let p = Noise { teacher: 1.0, noise: 0.2, init: 0.0 };
        assert!((test_error_inf(0.5, p) - 0.9).abs() < 1e-12);
        assert!((test_error_inf(2.0, p) - 0.4).abs() < 1e-12);
        // finite N: N = 200, P = 100: 0.2 + 0.5 + 0.2·100/99; P = 400: 0.2(1 + 200/199)
        assert!((test_error_inf_finite(200, 100, p).unwrap() - (0.7 + 20.0 / 99.0)).abs() < 1e-12);
        assert!((test_error_inf_finite(200, 400, p).unwrap() - 0.2 * (1.0 + 200.0 / 199.0)).abs() < 1e-12);
        assert!(test_error_inf_finite(200, 200, p).is_none() && test_error_inf_finite(200, 201, p).is_none());
        // finite-N → continuum as N grows at fixed α
        let big = test_error_inf_finite(1_000_000, 500_000, p).unwrap();
        assert!((big - 0.9).abs() < 1e-5);
    }

    #[test]
    fn quadrature_converges_near_alpha_one() {
        let p = Noise { teacher: 1.0, noise: 0.2, init: 0.25 };
        for a in [0.95, 1.0, 1.05] {
            let eta = 1.0 / mp_edges(a).1;
            for k in [1u64, 10, 100, 1000, 4000, 20_000] {
                let coarse = test_error(&MpQuad::new(a, 4000), eta, k, p);
                let fine = test_error(&MpQuad::new(a, 40_000), eta, k, p);
                assert!((coarse / fine - 1.0).abs() < 1e-6, "alpha {a}, k {k}: {coarse} vs {fine}");
            }
        }
    }

    #[test]
    fn curves_start_and_end_where_they_must() {
        let p = Noise { teacher: 1.0, noise: 0.2, init: 0.25 };
        for a in [0.25, 0.5, 0.8, 1.25, 2.0, 4.0] {
            let q = MpQuad::new(a, 20_000);
            let eta = 1.0 / mp_edges(a).1;
            // at k = 0 nothing has been learnt: E_g = E_t = σ² + σ_w̄² + σ₀²
            assert!((test_error(&q, eta, 0, p) - 1.45).abs() < 1e-10, "alpha {a}");
            assert!((train_error(&q, eta, 0, p) - 1.45).abs() < 1e-10, "alpha {a}");
            // late times: the closed-form asymptote, and the training error σ²(1 − 1/α)₊
            let k = 50_000_000;
            assert!((test_error(&q, eta, k, p) / test_error_inf(a, p) - 1.0).abs() < 1e-6, "alpha {a}");
            let t_inf = p.noise * (1.0 - 1.0 / a).max(0.0);
            assert!((train_error(&q, eta, k, p) - t_inf).abs() < 1e-6, "alpha {a}");
        }
    }

    #[test]
    fn early_stopping_never_beats_bayes_ridge() {
        // Per mode, min_u [s u² + (σ²/λ)(1 − u)²] = σ²/(λ + σ²/s) with s = σ_w̄²: ridge is the
        // mode-wise optimum, so min_k E_g(k) ≥ E_ridge, with near-equality (Sec. on early stopping).
        let p = Noise { teacher: 1.0, noise: 0.2, init: 0.0 };
        for a in [0.25, 0.5, 1.0, 2.0, 4.0] {
            let q = MpQuad::new(a, 4000);
            let eta = 1.0 / mp_edges(a).1;
            let best = (0..4000u64).map(|k| test_error(&q, eta, k, p)).fold(f64::INFINITY, f64::min);
            let ridge = ridge_error(&q, p.teacher, p.noise);
            let ratio = best / ridge;
            assert!((1.0..1.03).contains(&ratio), "alpha {a}: ratio {ratio}");
        }
        // a mode on its own: the minimum over k of mode_error approaches σ²/(λ + γ) from above
        let (lam, eta) = (0.3, 0.01);
        let best = (0..100_000u64).map(|k| mode_error(lam, eta, k, p)).fold(f64::INFINITY, f64::min);
        let opt = p.noise / (lam + p.noise / p.teacher);
        assert!(best >= opt - 1e-15 && best < opt * (1.0 + 1e-6), "{best} vs {opt}");
    }

    #[test]
    fn cdf_is_a_distribution() {
        for a in [0.5, 1.0, 2.0] {
            let q = MpQuad::new(a, 100);
            let (lo, hi) = mp_edges(a);
            assert!((q.cdf(-1.0)).abs() < 1e-15);
            assert!((q.cdf(hi + 1.0) - 1.0).abs() < 1e-12);
            assert!((q.cdf(lo) - mp_zero_mass(a)).abs() < 1e-12);
            let mid = 0.5 * (lo + hi);
            if a == 1.0 {
                continue; // the λ-midpoint reference is inaccurate on the 1/√λ edge of α = 1
            }
            let direct = mp_zero_mass(a)
                + (0..200_000)
                    .map(|i| lo + (i as f64 + 0.5) * (mid - lo) / 200_000.0)
                    .map(|l| mp_density(a, l) * (mid - lo) / 200_000.0)
                    .sum::<f64>();
            assert!((q.cdf(mid) - direct).abs() < 1e-4, "alpha {a}: {} vs {direct}", q.cdf(mid));
            let xs: Vec<f64> = (0..50).map(|i| lo + (hi - lo) * i as f64 / 49.0).collect();
            assert!(xs.windows(2).all(|w| q.cdf(w[0]) <= q.cdf(w[1]) + 1e-15));
        }
    }
}
