//! The paper's analytic results, computed without any network simulation: closed forms,
//! quadratures and the special functions they need. Everything here is tested on known values.
//!
//! Conventions: a network with `D` weight matrices (the paper's `N_l = D + 1` layers), whitened
//! inputs (Σ¹¹ = I), a target input-output correlation Σ³¹ with singular value `s` for the mode
//! considered, and mode strength `u` (the end-to-end map projected on that mode's singular
//! vectors). Gradient descent with learning rate η is the Euler discretisation of
//! τ du/dt = D u^{2-2/D} (s - u) with τ = 1/η and t counted in steps; `D = 2` is the paper's
//! three-layer case τ du/dt = 2u(s - u).

/// Three-layer mode strength (paper, Sec. 2): u(t) = s e^{2st/τ} / (e^{2st/τ} - 1 + s/u0).
/// For s = 0 it is the limit u0 / (1 + 2 u0 t/τ).
pub fn u_three_layer(t: f64, s: f64, u0: f64, tau: f64) -> f64 {
    if s == 0.0 {
        return u0 / (1.0 + 2.0 * u0 * t / tau);
    }
    // Written with e^{-2st/τ} so that large t does not overflow.
    let e = (-2.0 * s * t / tau).exp();
    s / (1.0 - e + e * s / u0)
}

/// Three-layer time to go from u0 to uf (paper, Sec. 2): t = τ/(2s) ln[uf (s - u0) / (u0 (s - uf))].
pub fn t_three_layer(u0: f64, uf: f64, s: f64, tau: f64) -> f64 {
    tau / (2.0 * s) * (uf * (s - u0) / (u0 * (s - uf))).ln()
}

/// Time to reach half strength, t_half = τ/(2s) ln(s/u0 - 1).
pub fn t_half_three_layer(s: f64, u0: f64, tau: f64) -> f64 {
    t_three_layer(u0, s / 2.0, s, tau)
}

/// Time of the transition from a fraction `lo` to a fraction `hi` of s, τ/(2s) ln[hi(1-lo)/(lo(1-hi))]:
/// independent of u0 and exactly proportional to 1/s.
pub fn t_transition_three_layer(lo: f64, hi: f64, s: f64, tau: f64) -> f64 {
    tau / (2.0 * s) * (hi * (1.0 - lo) / (lo * (1.0 - hi))).ln()
}

/// The logistic function σ(z) = 1 / (1 + e^{-z}).
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// 16-point Gauss–Legendre nodes and weights on [-1, 1].
const GL16: [(f64, f64); 8] = [
    (0.095_012_509_837_637_44, 0.189_450_610_455_068_5),
    (0.281_603_550_779_258_9, 0.182_603_415_044_923_6),
    (0.458_016_777_657_227_4, 0.169_156_519_395_002_5),
    (0.617_876_244_402_643_7, 0.149_595_988_816_576_7),
    (0.755_404_408_355_003, 0.124_628_971_255_533_9),
    (0.865_631_202_387_831_7, 0.095_158_511_682_492_78),
    (0.944_575_023_073_232_6, 0.062_253_523_938_647_89),
    (0.989_400_934_991_649_9, 0.027_152_459_411_754_09),
];

/// Composite 16-point Gauss–Legendre quadrature of `f` over [a, b] with `panels` panels.
pub fn gauss_legendre(f: impl Fn(f64) -> f64, a: f64, b: f64, panels: usize) -> f64 {
    let h = (b - a) / panels as f64;
    let mut sum = 0.0;
    for p in 0..panels {
        let mid = a + (p as f64 + 0.5) * h;
        for &(x, w) in &GL16 {
            sum += w * (f(mid - 0.5 * h * x) + f(mid + 0.5 * h * x));
        }
    }
    sum * 0.5 * h
}

/// Deep-network learning time by quadrature (paper, Sec. 3): the time for a mode to go from u0
/// to u under τ du/dt = D u^{2-2/D} (s - u), i.e. t = (τ/D) ∫_{u0}^{u} du' / (u'^{2-2/D} (s - u')).
/// Requires 0 < u0 <= u < s. With u = s σ(z) the integrand becomes σ(z)^{2/D - 1} / s^{2-2/D}, smooth
/// and bounded on [logit(u0/s), logit(u/s)], so a composite Gauss–Legendre rule is accurate to
/// near machine precision.
pub fn t_deep(u0: f64, u: f64, s: f64, depth: usize, tau: f64) -> f64 {
    assert!(depth >= 1 && 0.0 < u0 && u0 <= u && u < s, "t_deep needs 0 < u0 <= u < s (u0={u0}, u={u}, s={s})");
    t_deep_logit(logit(u0 / s), logit(u / s), s, depth, tau)
}

/// [`t_deep`] between logit(u0/s) = z0 and logit(u/s) = z1 (no rounding of u to s for large z).
fn t_deep_logit(z0: f64, z1: f64, s: f64, depth: usize, tau: f64) -> f64 {
    let d = depth as f64;
    let p = 2.0 - 2.0 / d;
    let q = 2.0 / d - 1.0;
    let panels = ((z1 - z0).abs().ceil() as usize).clamp(1, 4000);
    let integral = gauss_legendre(|z| sigmoid(z).powf(q), z0, z1, panels);
    tau / (d * s.powf(p)) * integral
}

/// Inverse of [`t_deep`] in u: the mode strength at time t (Newton in the logit variable,
/// safeguarded by bisection).
pub fn u_deep(t: f64, u0: f64, s: f64, depth: usize, tau: f64) -> f64 {
    if t <= 0.0 {
        return u0;
    }
    let d = depth as f64;
    let p = 2.0 - 2.0 / d;
    let q = 2.0 / d - 1.0;
    let z0 = logit(u0 / s);
    // dt/dz = τ σ(z)^q / (D s^p) >= τ min(σ^q) / (D s^p): bracket the root.
    let rate = tau / (d * s.powf(p));
    let (mut lo, mut hi) = (z0, z0 + 1.0);
    while t_deep_logit(z0, hi, s, depth, tau) < t {
        lo = hi;
        hi = z0 + 2.0 * (hi - z0);
        if hi - z0 > 800.0 {
            return s;
        }
    }
    let mut z = 0.5 * (lo + hi);
    for _ in 0..200 {
        let f = t_deep_logit(z0, z, s, depth, tau) - t;
        if f > 0.0 {
            hi = z;
        } else {
            lo = z;
        }
        let step = f / (rate * sigmoid(z).powf(q));
        if step.abs() < 1e-13 * (1.0 + z.abs()) {
            z -= step;
            break;
        }
        let zn = z - step;
        z = if zn > lo && zn < hi { zn } else { 0.5 * (lo + hi) };
        if hi - lo < 1e-14 * (1.0 + z.abs()) {
            break;
        }
    }
    s * sigmoid(z)
}

/// Continuous-time prediction of the number of GD steps until the loss ½ Σ_α (s_α - u_α)² falls
/// to `rel_tol` times its initial value, for decoupled modes starting at `u0[α]` with learning
/// rate η (τ = 1/η, so the result is t/τ · τ = steps). Bisection on t over the quadrature solution;
/// +inf when the loss does not reach the tolerance within 1e12 steps.
pub fn steps_to_tol_ode(s: &[f64], u0: &[f64], depth: usize, lr: f64, rel_tol: f64) -> f64 {
    let tau = 1.0 / lr;
    let loss = |t: f64| -> f64 { s.iter().zip(u0).map(|(&s, &u0)| (s - u_deep(t, u0, s, depth, tau)).powi(2)).sum() };
    let l0: f64 = s.iter().zip(u0).map(|(s, u)| (s - u).powi(2)).sum();
    let target = rel_tol * l0;
    let (mut lo, mut hi) = (0.0, 1.0);
    while loss(hi) > target {
        lo = hi;
        hi *= 2.0;
        if hi >= 1e12 {
            return f64::INFINITY;
        }
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if loss(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-9 * hi {
            break;
        }
    }
    hi
}

/// The D → ∞ limit of the steps from u0 to u with the depth-scaled learning rate
/// η = c / (D s_max^{2-2/D}) (paper, Sec. 3: learning time stays finite): du/dk → c (u/s_max)² (s - u),
/// whose time is elementary: k = (s_max²/c) [1/(s u0) - 1/(s u) + ln(u (s - u0) / (u0 (s - u))) / s²].
pub fn steps_infinite_depth(u0: f64, u: f64, s: f64, s_max: f64, c: f64) -> f64 {
    s_max * s_max / c * (1.0 / (s * u0) - 1.0 / (s * u) + (u * (s - u0) / (u0 * (s - u))).ln() / (s * s))
}

/// Steps until the loss ½ Σ_α (s_α - u_α)² of the D → ∞ limit from u0 = 1 (every mode, the
/// depth-scaled rate c) falls to `rel_tol` times its initial value: each mode's strength at step k
/// inverts [`steps_infinite_depth`] by bisection on u in (1, s), the step count is bisected on k.
/// Needs every s > 1; +inf when the tolerance is below what the bisection on u resolves.
pub fn steps_to_tol_infinite_depth(s: &[f64], s_max: f64, c: f64, rel_tol: f64) -> f64 {
    let l0: f64 = s.iter().map(|x| (x - 1.0).powi(2)).sum();
    let loss = |k: f64| -> f64 {
        s.iter()
            .map(|&si| {
                let (mut lo, mut hi) = (1.0, si);
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if steps_infinite_depth(1.0, mid, si, s_max, c) < k {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                (si - 0.5 * (lo + hi)).powi(2)
            })
            .sum()
    };
    let (mut lo, mut hi) = (0.0, 1.0);
    while loss(hi) > rel_tol * l0 {
        lo = hi;
        hi *= 2.0;
        if hi >= 1e15 {
            return f64::INFINITY;
        }
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if loss(mid) > rel_tol * l0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The exact discrete GD map of one decoupled, balanced mode of a depth-D chain: every layer's
/// mode amplitude a obeys a <- a + η a^{D-1} (s - a^D), and the mode strength is u = a^D.
pub fn scalar_gd_step(a: f64, s: f64, depth: usize, lr: f64) -> f64 {
    let d = depth as i32;
    a + lr * a.powi(d - 1) * (s - a.powi(d))
}

/// Number of steps of the scalar GD maps (one per mode, amplitudes `a0`) until
/// ½ Σ (s - a^D)² <= rel_tol · its initial value; `None` if `cap` steps do not suffice.
pub fn scalar_gd_steps_to_tol(s: &[f64], a0: &[f64], depth: usize, lr: f64, rel_tol: f64, cap: usize) -> Option<usize> {
    let d = depth as i32;
    let mut a = a0.to_vec();
    let loss = |a: &[f64]| -> f64 { s.iter().zip(a).map(|(&s, &a)| (s - a.powi(d)).powi(2)).sum() };
    let l0 = loss(&a);
    for k in 0..=cap {
        if loss(&a) <= rel_tol * l0 {
            return Some(k);
        }
        for (ai, &si) in a.iter_mut().zip(s) {
            *ai = scalar_gd_step(*ai, si, depth, lr);
        }
    }
    None
}

/// The digamma function ψ(x) for x > 0: recurrence up to x >= 10, then the asymptotic series
/// through the x^{-14} term (truncation error < 1e-16).
pub fn digamma(mut x: f64) -> f64 {
    assert!(x > 0.0, "digamma needs x > 0");
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    // ln x - 1/(2x) - Σ B_{2k} / (2k x^{2k})
    let series = f
        * (1.0 / 12.0
            - f * (1.0 / 120.0
                - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f * (1.0 / 132.0 - f * (691.0 / 32760.0 - f / 12.0))))));
    acc + x.ln() - 0.5 / x - series
}

/// Lyapunov exponents of products of N x N Gaussian matrices with entries N(0, 1/N), in the order
/// of the QR iteration: λ_i = ½ [ln(2/N) + ψ((N - i + 1)/2)], i = 1..N. Each equals E ln|R_ii| of one
/// layer's QR factor exactly (R_ii ~ χ_{N-i+1}/√N), hence E of the accumulated QR log-diagonal
/// after D layers is D λ_i for every D.
pub fn gaussian_lyapunov(n: usize) -> Vec<f64> {
    let nf = n as f64;
    (1..=n).map(|i| 0.5 * ((2.0 / nf).ln() + digamma((nf - i as f64 + 1.0) / 2.0))).collect()
}

/// The trigamma function ψ'(x) for x > 0: recurrence up to x >= 10, then the asymptotic series
/// 1/x + 1/(2x²) + Σ B_{2k}/x^{2k+1} through the x^{-13} term (truncation error < 1e-16).
pub fn trigamma(mut x: f64) -> f64 {
    assert!(x > 0.0, "trigamma needs x > 0");
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    let series = f
        * (1.0 / 6.0 - f * (1.0 / 30.0 - f * (1.0 / 42.0 - f * (1.0 / 30.0 - f * (5.0 / 66.0 - f * 691.0 / 2730.0)))));
    acc + 1.0 / x + 0.5 * f + series / x
}

/// Variance of one layer's ln|R_ii| for N x N Gaussian factors (any entry variance):
/// ln|R_ii| = ½ ln(σ² χ²_{N-i+1}), so Var = ψ'((N - i + 1)/2) / 4, i = 1..N (the spread of the
/// accumulated sum after D layers is D times this: the layers are independent).
pub fn gaussian_lyapunov_var(n: usize) -> Vec<f64> {
    let nf = n as f64;
    (1..=n).map(|i| 0.25 * trigamma((nf - i as f64 + 1.0) / 2.0)).collect()
}

/// Predicted growth of ln cond(W_D ⋯ W_1) per layer for N x N Gaussian factors:
/// λ_1 - λ_N = [ψ(N/2) - ψ(1/2)] / 2 (≈ 1.99 for N = 16).
pub fn gaussian_lncond_slope(n: usize) -> f64 {
    0.5 * (digamma(n as f64 / 2.0) - digamma(0.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn three_layer_closed_form_known_values() {
        let (s, u0, tau) = (3.0, 1e-3, 1.0);
        assert!(close(u_three_layer(0.0, s, u0, tau), u0, 1e-15));
        assert!(close(u_three_layer(1e4, s, u0, tau), s, 1e-15));
        // Half strength exactly at t_half = ln(s/u0 - 1) / (2s).
        let th = t_half_three_layer(s, u0, tau);
        assert!(close(th, (2999.0f64).ln() / 6.0, 1e-15));
        assert!(close(u_three_layer(th, s, u0, tau), s / 2.0, 1e-12));
        // A hand-evaluated point: s=2, u0=0.5, t=0.25: u = 2e / (e - 1 + 4).
        let e = 1f64.exp();
        assert!(close(u_three_layer(0.25, 2.0, 0.5, 1.0), 2.0 * e / (e + 3.0), 1e-14));
        // t_three_layer inverts u_three_layer.
        for &t in &[0.1, 0.7, 1.3, 2.9] {
            let u = u_three_layer(t, s, u0, tau);
            assert!(close(t_three_layer(u0, u, s, tau), t, 1e-9), "t={t}");
        }
        // It solves τ du/dt = 2u(s - u) (central difference).
        for &t in &[0.5, 1.4, 2.0] {
            let h = 1e-5;
            let du = (u_three_layer(t + h, s, u0, tau) - u_three_layer(t - h, s, u0, tau)) / (2.0 * h);
            let u = u_three_layer(t, s, u0, tau);
            assert!(close(tau * du, 2.0 * u * (s - u), 1e-6), "t={t}");
        }
        // τ scales time.
        assert!(close(u_three_layer(2.0, s, u0, 4.0), u_three_layer(0.5, s, u0, 1.0), 1e-14));
        // s -> 0 limit.
        assert!(close(u_three_layer(3.0, 1e-9, 0.01, 1.0), u_three_layer(3.0, 0.0, 0.01, 1.0), 1e-6));
        assert!(close(u_three_layer(3.0, 0.0, 0.01, 1.0), 0.01 / 1.06, 1e-15));
        // 10% -> 90% transition: ln(81) / (2s), independent of u0.
        assert!(close(t_transition_three_layer(0.1, 0.9, 2.0, 1.0), 81f64.ln() / 4.0, 1e-15));
        let a = t_three_layer(1e-3, 0.2, 2.0, 1.0);
        let b = t_three_layer(1e-3, 1.8, 2.0, 1.0);
        assert!(close(b - a, t_transition_three_layer(0.1, 0.9, 2.0, 1.0), 1e-12));
    }

    #[test]
    fn quadrature_matches_closed_forms() {
        // D = 1: τ du/dt = s - u, t = τ ln((s - u0)/(s - u)).
        assert!(close(t_deep(0.5, 2.5, 3.0, 1, 1.0), (2.5f64 / 0.5).ln(), 1e-12));
        // D = 2: the three-layer formula.
        for &(u0, u, s) in &[(1e-3, 1.5, 3.0), (0.2, 0.9, 1.0), (1e-6, 4.999, 5.0)] {
            assert!(close(t_deep(u0, u, s, 2, 2.0), t_three_layer(u0, u, s, 2.0), 1e-12), "{u0} {u} {s}");
        }
        // General D against a brute-force midpoint rule in u.
        let (u0, u, s, d) = (0.3, 2.0, 2.5, 7usize);
        let p = 2.0 - 2.0 / d as f64;
        let n = 2_000_000;
        let h = (u - u0) / n as f64;
        let brute: f64 =
            (0..n).map(|i| u0 + (i as f64 + 0.5) * h).map(|x| h / (x.powf(p) * (s - x))).sum::<f64>() / d as f64;
        assert!(close(t_deep(u0, u, s, d, 1.0), brute, 1e-8));
        // u_deep inverts t_deep.
        for &t in &[0.01, 0.1, 0.3, 0.6] {
            let uu = u_deep(t, 0.2, 2.0, 5, 1.0);
            assert!(uu < 2.0 && close(t_deep(0.2, uu, 2.0, 5, 1.0), t, 1e-10), "t={t}: u={uu}");
        }
        assert!(close(u_deep(1.0, 1e-3, 3.0, 2, 1.0), u_three_layer(1.0, 3.0, 1e-3, 1.0), 1e-10));
    }

    #[test]
    fn infinite_depth_limit() {
        // With η = c/(D s_max^{2-2/D}), steps = t/η; as D grows they converge to the closed form.
        let (u0, u, s, smax, c) = (1.0f64, 2.9f64, 3.0f64, 3.0f64, 0.5f64);
        let steps = |d: usize| {
            let lr = c / (d as f64 * smax.powf(2.0 - 2.0 / d as f64));
            t_deep(u0, u, s, d, 1.0 / lr)
        };
        let lim = steps_infinite_depth(u0, u, s, smax, c);
        let (a, b) = (steps(1000), steps(100_000));
        assert!((a - lim).abs() / lim < 5e-3 && (b - lim).abs() / lim < 5e-5, "{a} {b} {lim}");
        // Hand value: s = s_max = 2, u0 = 1, u = 1.5, c = 1: 4 [1/2 - 1/3 + ln 3 / 4].
        assert!(close(steps_infinite_depth(1.0, 1.5, 2.0, 2.0, 1.0), 4.0 * (0.5 - 1.0 / 3.0 + 3f64.ln() / 4.0), 1e-14));
    }

    #[test]
    fn ode_steps_and_scalar_map() {
        // Single mode, D = 2: steps to a relative loss tol follow from the closed form.
        let (s, u0, lr, tol) = (2.0f64, 0.01f64, 1e-3f64, 1e-4f64);
        let uf = s - (tol * (s - u0) * (s - u0)).sqrt();
        let k = steps_to_tol_ode(&[s], &[u0], 2, lr, tol);
        assert!(close(k, t_three_layer(u0, uf, s, 1.0 / lr), 1e-7));
        // The scalar map at small lr approaches the ODE steps (first-order error).
        let a0 = u0.sqrt();
        let kd = scalar_gd_steps_to_tol(&[s], &[a0], 2, lr, tol, 1_000_000).unwrap() as f64;
        assert!((kd - k).abs() / k < 0.01, "{kd} vs {k}");
        // D = 1 map: a <- a + η (s - a), contraction 1 - η: (1-η)^k <= sqrt(tol).
        let k1 = scalar_gd_steps_to_tol(&[3.0], &[1.0], 1, 0.5, 1e-6, 100).unwrap();
        assert_eq!(k1, 10); // 0.5^10 < 1e-3 <= 0.5^9
        assert_eq!(scalar_gd_steps_to_tol(&[3.0], &[1.0], 1, 0.5, 1e-6, 5), None);
    }

    #[test]
    fn digamma_known_values() {
        assert!(close(digamma(1.0), -EULER_GAMMA, 1e-14));
        assert!(close(digamma(0.5), -EULER_GAMMA - 2.0 * 2f64.ln(), 1e-14));
        // ψ(8) = H_7 - γ; ψ(n + 1/2) = ψ(1/2) + Σ_{k=1}^{n} 2/(2k-1).
        let h7: f64 = (1..=7).map(|k| 1.0 / k as f64).sum();
        assert!(close(digamma(8.0), h7 - EULER_GAMMA, 1e-14));
        let odd: f64 = (1..=5).map(|k| 2.0 / (2 * k - 1) as f64).sum();
        assert!(close(digamma(5.5), digamma(0.5) + odd, 1e-14));
        assert!(close(digamma(100.0), 4.600_161_852_738_087, 1e-14));
        // Recurrence ψ(x+1) = ψ(x) + 1/x at non-special points.
        for &x in &[0.1, 0.73, 2.2, 9.9] {
            assert!(close(digamma(x + 1.0), digamma(x) + 1.0 / x, 1e-13));
        }
        // The spec's number: for N = 16, [ψ(8) - ψ(1/2)]/2 = (H_7 + 2 ln 2)/2 ≈ 1.99.
        assert!(close(gaussian_lncond_slope(16), 0.5 * (h7 + 2.0 * 2f64.ln()), 1e-14));
        assert!((gaussian_lncond_slope(16) - 1.99).abs() < 0.005);
        let l = gaussian_lyapunov(16);
        assert!(close(l[0] - l[15], gaussian_lncond_slope(16), 1e-14));
        assert!(l.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn trigamma_known_values() {
        let pi2 = std::f64::consts::PI.powi(2);
        assert!(close(trigamma(1.0), pi2 / 6.0, 1e-14));
        assert!(close(trigamma(0.5), pi2 / 2.0, 1e-14));
        // ψ'(n) = π²/6 - Σ_{k<n} 1/k²; ψ'(n + 1/2) = π²/2 - 4 Σ_{k=1}^{n} 1/(2k-1)².
        let s7: f64 = (1..=7).map(|k| 1.0 / (k * k) as f64).sum();
        assert!(close(trigamma(8.0), pi2 / 6.0 - s7, 1e-14));
        let odd: f64 = (1..=5).map(|k| 4.0 / ((2 * k - 1) * (2 * k - 1)) as f64).sum();
        assert!(close(trigamma(5.5), pi2 / 2.0 - odd, 1e-13));
        for &x in &[0.1, 0.73, 2.2, 9.9, 37.0] {
            assert!(close(trigamma(x + 1.0), trigamma(x) - 1.0 / (x * x), 1e-13));
            // ψ' is the derivative of ψ (central differences).
            let h = 1e-5 * x;
            assert!(close(trigamma(x), (digamma(x + h) - digamma(x - h)) / (2.0 * h), 1e-8));
        }
        // Var ln χ²_k = ψ'(k/2): against a Monte Carlo estimate of ln χ²_3 (a sum of 3 squared normals).
        let mut rng = common::rng::Seed(3).rng();
        let xs: Vec<f64> = (0..200_000)
            .map(|_| common::rng::gaussian_vec(&mut rng, 3, 1.0).iter().map(|z| z * z).sum::<f64>().ln())
            .collect();
        let (m, sd) = common::stats::mean_sd(&xs);
        assert!((sd * sd - trigamma(1.5)).abs() < 0.02, "{} vs {}", sd * sd, trigamma(1.5));
        assert!((m - (digamma(1.5) + 2f64.ln())).abs() < 0.01);
        let v = gaussian_lyapunov_var(16);
        assert!(close(v[15], pi2 / 8.0, 1e-14) && v.windows(2).all(|w| w[0] < w[1]));
    }

    proptest::proptest! {
        /// The learning-time formula inverts the trajectory, and the quadrature agrees with the
        /// closed form at D = 2, for arbitrary strengths, initial values and times.
        #[test]
        fn closed_form_and_quadrature_agree(s in 0.1f64..10.0, frac in 1e-5f64..0.5, x in 0.05f64..0.95) {
            let u0 = frac * s;
            let uf = u0 + x * (s - u0);
            let t = t_three_layer(u0, uf, s, 1.0);
            proptest::prop_assert!(close(u_three_layer(t, s, u0, 1.0), uf, 1e-10));
            proptest::prop_assert!(close(t_deep(u0, uf, s, 2, 1.0), t, 1e-10));
            proptest::prop_assert!(close(u_deep(t, u0, s, 2, 1.0), uf, 1e-9));
        }
    }

    #[test]
    fn quadrature_rule_and_guards() {
        assert!(close(gauss_legendre(|x| x.powi(31), 0.0, 1.0, 1), 1.0 / 32.0, 1e-14));
        // A tolerance the ODE cannot reach in 1e12 steps (u0 = 1e-300 at depth 8) is +inf, not a panic.
        assert_eq!(steps_to_tol_ode(&[2.0], &[1e-300], 8, 1e-3, 1e-6), f64::INFINITY);
        // The D → ∞ step count to a loss tolerance: one mode reaching s(1 - 1e-3) from 1 takes the
        // closed-form count exactly.
        let (s, tol) = (3.0f64, 1e-6f64);
        let uf = s - (tol * (s - 1.0f64).powi(2)).sqrt();
        let k = steps_to_tol_infinite_depth(&[s], s, 0.5, tol);
        assert!(close(k, steps_infinite_depth(1.0, uf, s, s, 0.5), 1e-9), "{k}");
    }
}
