//! The last-iterate bound of the Meta repo's `find_schedule.py` (spec, "Method"), its gradient and
//! the optimal scaling of a schedule, all O(T) through suffix sums.
//!
//! For step sizes λ_t > 0, squared gradient norms g_t = G_t² and distance D:
//!
//! bound(λ) = D²/(2S_0) + Σ_t g_t λ_t²/(2S_0) + ½ Σ_{t<T−1} λ_t Q_t/(S_t S_{t+1}),
//! S_t = Σ_{p≥t} λ_p, Q_t = Σ_{p≥t} g_p λ_p².
//!
//! The first term is the only one of degree −1 in λ, the others are of degree +1, so
//! bound(cλ) = A/c + Bc and the best multiple of a shape λ gives 2√(AB) at c = √(A/B).

/// The two homogeneous parts of the bound: `a` = D²/(2S_0) (degree −1), `b` = the rest (degree +1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parts {
    /// D²/(2S_0).
    pub a: f64,
    /// Σ g λ²/(2S_0) + ½ Σ_{t<T−1} λ_t Q_t/(S_t S_{t+1}).
    pub b: f64,
}

impl Parts {
    /// bound(λ) itself.
    pub fn value(&self) -> f64 {
        self.a + self.b
    }
    /// min_c bound(cλ) = 2√(ab).
    pub fn scaled(&self) -> f64 {
        2.0 * (self.a * self.b).sqrt()
    }
    /// The minimizing multiple c = √(a/b).
    pub fn best_scale(&self) -> f64 {
        (self.a / self.b).sqrt()
    }
}

/// Suffix sums S_t and Q_t (length T + 1, S_T = Q_T = 0).
fn suffix(lam: &[f64], g2: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = lam.len();
    let (mut s, mut q) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    for t in (0..n).rev() {
        s[t] = s[t + 1] + lam[t];
        q[t] = q[t + 1] + g2[t] * lam[t] * lam[t];
    }
    (s, q)
}

/// The bound's two parts in O(T). A step λ_t ≤ 0 (or S_{T−1} = 0) makes the bound infinite.
pub fn parts(lam: &[f64], g2: &[f64], d: f64) -> Parts {
    assert_eq!(lam.len(), g2.len(), "one gradient norm per step");
    let n = lam.len();
    if n == 0 || lam.iter().any(|&l| l.is_nan() || l <= 0.0) {
        return Parts { a: f64::INFINITY, b: f64::INFINITY };
    }
    let (s, q) = suffix(lam, g2);
    let mut third = 0.0;
    for t in 0..n - 1 {
        third += lam[t] * q[t] / (s[t] * s[t + 1]);
    }
    Parts { a: d * d / (2.0 * s[0]), b: q[0] / (2.0 * s[0]) + 0.5 * third }
}

/// bound(λ).
pub fn bound(lam: &[f64], g2: &[f64], d: f64) -> f64 {
    parts(lam, g2, d).value()
}

/// min_c bound(cλ): the bound of the best multiple of the shape λ.
pub fn scaled_bound(lam: &[f64], g2: &[f64], d: f64) -> f64 {
    parts(lam, g2, d).scaled()
}

/// ∂bound/∂λ_k for every k, in O(T) (prefix sums over t ≤ k of the terms that contain λ_k through
/// S_t, S_{t+1} or Q_t). Requires every λ_t > 0.
pub fn gradient(lam: &[f64], g2: &[f64], d: f64) -> Vec<f64> {
    let n = lam.len();
    let (s, q) = suffix(lam, g2);
    let s0 = s[0];
    // First two terms: −(D² + Q_0)/(2S_0²) + g_k λ_k/S_0.
    let common = -(d * d + q[0]) / (2.0 * s0 * s0);
    let mut grad: Vec<f64> = (0..n).map(|k| common + g2[k] * lam[k] / s0).collect();
    // Third term, h_t = λ_t Q_t/(S_t S_{t+1}) for t < T − 1:
    // ∂h_t/∂λ_k = [k = t] Q_t/(S_t S_{t+1}) + [k ≥ t] 2g_kλ_k λ_t/(S_t S_{t+1})
    //             − [k ≥ t] h_t/S_t − [k ≥ t + 1] h_t/S_{t+1}.
    let (mut pa, mut pb, mut pc_prev) = (0.0, 0.0, 0.0);
    for k in 0..n {
        let mut own = 0.0;
        let mut pc_k = pc_prev;
        if k + 1 < n {
            let den = s[k] * s[k + 1];
            let h = lam[k] * q[k] / den;
            pa += lam[k] / den;
            pb += h / s[k];
            pc_k += h / s[k + 1];
            own = q[k] / den;
        }
        grad[k] += 0.5 * (own + 2.0 * g2[k] * lam[k] * pa - pb - pc_prev);
        pc_prev = pc_k;
    }
    grad
}

/// The bound evaluated term by term from its definition, O(T²): the test oracle for [`bound`].
pub fn bound_direct(lam: &[f64], g2: &[f64], d: f64) -> f64 {
    let n = lam.len();
    let s = |t: usize| (t..n).map(|p| lam[p]).sum::<f64>();
    let q = |t: usize| (t..n).map(|p| g2[p] * lam[p] * lam[p]).sum::<f64>();
    let sum: f64 = lam.iter().sum();
    let mut third = 0.0;
    for (t, l) in lam.iter().enumerate().take(n.saturating_sub(1)) {
        third += l * q(t) / (s(t) * s(t + 1));
    }
    d * d / (2.0 * sum) + (0..n).map(|t| g2[t] * lam[t] * lam[t]).sum::<f64>() / (2.0 * sum) + 0.5 * third
}
