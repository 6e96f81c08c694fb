//! Proximal operators, projections and the KL mirror-descent step, with the Jacobians that implicit
//! differentiation needs.
//!
//! Conventions: `prox_{t g}(v) = argmin_x g(x) + ‖x − v‖² / (2t)`. Every map works in place on a
//! slice (no allocation) unless it has to sort; every Jacobian is given as a JVP `u ↦ J u` at the
//! point the map was evaluated (the maps here are piecewise linear, so `J` is symmetric and the
//! JVP is also the VJP). At the kinks the Jacobian of the piece on the inactive side is used
//! (`|v_i| = t` counts as thresholded to zero), as jaxopt does.
//!
//! [`sinkhorn`]: the log-domain Sinkhorn projection onto matrices with given marginals (doubly
//! stochastic ones in particular), the KL projection onto the transport polytope.

pub mod sinkhorn;

pub use sinkhorn::{Sinkhorn, SinkhornError, SinkhornOpts, doubly_stochastic, sinkhorn_log};

/// ℓ1 prox (soft thresholding) in place: `v_i ← sign(v_i) max(|v_i| − t, 0)`.
pub fn soft_threshold(v: &mut [f64], t: f64) {
    debug_assert!(t >= 0.0);
    for x in v.iter_mut() {
        *x = x.signum() * (x.abs() - t).max(0.0);
    }
}

/// JVP of [`soft_threshold`] at input `v` (before thresholding): `u_i` where `|v_i| > t`, else 0.
pub fn soft_threshold_jvp(v: &[f64], t: f64, u: &mut [f64]) {
    assert_eq!(v.len(), u.len(), "soft_threshold_jvp: lengths differ");
    for (ui, vi) in u.iter_mut().zip(v) {
        if vi.abs() <= t {
            *ui = 0.0;
        }
    }
}

/// Group-ℓ2 prox of one group in place (block soft thresholding):
/// `v ← max(0, 1 − t/‖v‖) v`, the prox of `t‖·‖₂`.
pub fn prox_group_l2(v: &mut [f64], t: f64) {
    debug_assert!(t >= 0.0);
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let scale = if norm > t { 1.0 - t / norm } else { 0.0 };
    v.iter_mut().for_each(|x| *x *= scale);
}

/// Group-ℓ2 prox applied to consecutive groups of `group` entries (`v.len()` a multiple of it).
pub fn prox_group_l2_blocks(v: &mut [f64], group: usize, t: f64) {
    assert!(
        group > 0 && v.len().is_multiple_of(group),
        "prox_group_l2_blocks: length {} not a multiple of {group}",
        v.len()
    );
    v.chunks_mut(group).for_each(|g| prox_group_l2(g, t));
}

/// JVP of [`prox_group_l2`] at input `v` (before the prox): with `n = ‖v‖ > t`,
/// `J = (1 − t/n) I + (t/n³) v vᵀ`; zero when `n ≤ t`.
pub fn prox_group_l2_jvp(v: &[f64], t: f64, u: &mut [f64]) {
    assert_eq!(v.len(), u.len(), "prox_group_l2_jvp: lengths differ");
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n <= t {
        u.iter_mut().for_each(|x| *x = 0.0);
        return;
    }
    let vu: f64 = v.iter().zip(u.iter()).map(|(a, b)| a * b).sum();
    let (a, b) = (1.0 - t / n, t / (n * n * n) * vu);
    u.iter_mut().zip(v).for_each(|(ui, vi)| *ui = a * *ui + b * vi);
}

/// Projection onto the non-negative orthant in place.
pub fn project_nonneg(v: &mut [f64]) {
    v.iter_mut().for_each(|x| *x = x.max(0.0));
}

/// Projection onto the box `[lo, hi]` (per coordinate) in place.
pub fn project_box(v: &mut [f64], lo: &[f64], hi: &[f64]) {
    assert!(v.len() == lo.len() && v.len() == hi.len(), "project_box: lengths differ");
    for ((x, l), h) in v.iter_mut().zip(lo).zip(hi) {
        debug_assert!(l <= h);
        *x = x.clamp(*l, *h);
    }
}

/// Projection onto the ℓ∞ ball of radius `eps` around `center` in place (the PGD attack's step).
pub fn project_linf_ball(v: &mut [f64], center: &[f64], eps: f64) {
    assert_eq!(v.len(), center.len(), "project_linf_ball: lengths differ");
    debug_assert!(eps >= 0.0);
    for (x, c) in v.iter_mut().zip(center) {
        *x = x.clamp(c - eps, c + eps);
    }
}

/// Projection onto the ℓ2 ball of radius `r` around the origin in place.
pub fn project_l2_ball(v: &mut [f64], r: f64) {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > r {
        v.iter_mut().for_each(|x| *x *= r / n);
    }
}

/// Euclidean projection onto the probability simplex `{x ≥ 0, Σx = 1}`, in place.
///
/// The sort-based algorithm (Held et al. 1974; Duchi et al. 2008): the result is
/// `max(v_i − τ, 0)` with the threshold `τ` chosen so the entries sum to one. `O(n log n)`; one
/// scratch copy of `v` for the sort. Panics on an empty slice or a NaN entry.
pub fn project_simplex(v: &mut [f64]) {
    assert!(!v.is_empty(), "project_simplex: empty vector");
    assert!(v.iter().all(|x| !x.is_nan()), "project_simplex: NaN entry");
    let mut sorted = v.to_vec();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    // The largest entry is always in the support (s₀ − (s₀ − 1) = 1 > 0); deciding that in floating
    // point would fail for |s₀| ≫ 1, so the loop starts at the second entry.
    let (mut cum, mut tau, mut support) = (sorted[0], sorted[0] - 1.0, 1usize);
    for (k, &s) in sorted.iter().enumerate().skip(1) {
        cum += s;
        let t = (cum - 1.0) / (k + 1) as f64;
        if s - t > 0.0 {
            tau = t;
            support = k + 1;
        } else {
            break;
        }
    }
    if support == 1 {
        // A vertex: exact, where x − τ would cancel for huge entries.
        let top = v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0))).map_or(0, |(i, _)| i);
        v.iter_mut().enumerate().for_each(|(i, x)| *x = if i == top { 1.0 } else { 0.0 });
        return;
    }
    v.iter_mut().for_each(|x| *x = (*x - tau).max(0.0));
}

/// JVP of [`project_simplex`] at its output `p`: with `S = {i : p_i > 0}`,
/// `J u = u_S − (Σ_{i∈S} u_i / |S|) 1_S` (and 0 off `S`).
pub fn project_simplex_jvp(p: &[f64], u: &mut [f64]) {
    assert_eq!(p.len(), u.len(), "project_simplex_jvp: lengths differ");
    let (mut sum, mut count) = (0.0, 0usize);
    for (ui, pi) in u.iter().zip(p) {
        if *pi > 0.0 {
            sum += ui;
            count += 1;
        }
    }
    let mean = if count > 0 { sum / count as f64 } else { 0.0 };
    for (ui, pi) in u.iter_mut().zip(p) {
        *ui = if *pi > 0.0 { *ui - mean } else { 0.0 };
    }
}

/// One KL mirror-descent (exponentiated-gradient) step on the simplex in place:
/// `x_i ← x_i exp(−η g_i) / Σ_j x_j exp(−η g_j)`, computed in the log domain (the largest exponent
/// is subtracted first), so large `η g` neither overflows nor underflows to an all-zero vector.
/// `x` must be a positive point of the simplex.
pub fn kl_mirror_step(x: &mut [f64], g: &[f64], eta: f64) {
    assert_eq!(x.len(), g.len(), "kl_mirror_step: lengths differ");
    let mut max = f64::NEG_INFINITY;
    for (xi, gi) in x.iter_mut().zip(g) {
        *xi = xi.ln() - eta * gi;
        max = max.max(*xi);
    }
    let mut z = 0.0;
    for xi in x.iter_mut() {
        *xi = (*xi - max).exp();
        z += *xi;
    }
    x.iter_mut().for_each(|xi| *xi /= z);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vecs(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<f64>> {
        proptest::collection::vec(-3.0..3.0f64, n)
    }

    /// A finite-difference JVP of `f` at `v` along `u` (the maps are piecewise linear, so a small
    /// step away from the kinks is exact up to rounding).
    fn fd_jvp(f: impl Fn(&mut [f64]), v: &[f64], u: &[f64]) -> Vec<f64> {
        let h = 1e-7;
        let (mut a, mut b) = (v.to_vec(), v.to_vec());
        a.iter_mut().zip(u).for_each(|(x, d)| *x += h * d);
        b.iter_mut().zip(u).for_each(|(x, d)| *x -= h * d);
        f(&mut a);
        f(&mut b);
        a.iter().zip(&b).map(|(p, m)| (p - m) / (2.0 * h)).collect()
    }

    proptest! {
        /// Optimality of the ℓ1 prox: `v − x ∈ t ∂‖x‖₁`.
        #[test]
        fn soft_threshold_is_the_l1_prox(v in vecs(1..20), t in 0.0..2.0f64) {
            let mut x = v.clone();
            soft_threshold(&mut x, t);
            for (xi, vi) in x.iter().zip(&v) {
                let r = vi - xi;
                if *xi != 0.0 {
                    prop_assert!((r - t * xi.signum()).abs() < 1e-12);
                } else {
                    prop_assert!(r.abs() <= t + 1e-12);
                }
            }
        }

        /// The projection onto the simplex is feasible and satisfies the variational inequality
        /// `⟨v − p, y − p⟩ ≤ 0` for every point `y` of the simplex (checked at the vertices, which
        /// suffices by linearity).
        #[test]
        fn simplex_projection_characterization(v in vecs(1..30)) {
            let mut p = v.clone();
            project_simplex(&mut p);
            prop_assert!(p.iter().all(|x| *x >= 0.0));
            prop_assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let vp: f64 = v.iter().zip(&p).map(|(a, b)| (a - b) * b).sum();
            for (j, vj) in v.iter().enumerate() {
                // ⟨v − p, e_j − p⟩ = (v_j − p_j) − ⟨v − p, p⟩
                prop_assert!((vj - p[j]) - vp <= 1e-12);
            }
        }

        /// Group-ℓ2 prox: the closed form's optimality `v − x = t x/‖x‖` (or `‖v‖ ≤ t` at x = 0).
        #[test]
        fn group_l2_prox_optimality(v in vecs(1..10), t in 0.0..3.0f64) {
            let mut x = v.clone();
            prox_group_l2(&mut x, t);
            let nx = x.iter().map(|a| a * a).sum::<f64>().sqrt();
            if nx > 0.0 {
                for (xi, vi) in x.iter().zip(&v) {
                    prop_assert!((vi - xi - t * xi / nx).abs() < 1e-10);
                }
            } else {
                prop_assert!(v.iter().map(|a| a * a).sum::<f64>().sqrt() <= t + 1e-12);
            }
        }

        /// The JVPs agree with finite differences (away from the kinks).
        #[test]
        fn jvps_match_finite_differences(v in vecs(2..12), u in vecs(12..13), t in 0.1..1.0f64) {
            let u = &u[..v.len()];
            if v.iter().all(|x| (x.abs() - t).abs() > 1e-4) {
                let mut j = u.to_vec();
                soft_threshold_jvp(&v, t, &mut j);
                let fd = fd_jvp(|x| soft_threshold(x, t), &v, u);
                prop_assert!(j.iter().zip(&fd).all(|(a, b)| (a - b).abs() < 1e-6));
            }
            let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            if (n - t).abs() > 1e-4 {
                let mut j = u.to_vec();
                prox_group_l2_jvp(&v, t, &mut j);
                let fd = fd_jvp(|x| prox_group_l2(x, t), &v, u);
                prop_assert!(j.iter().zip(&fd).all(|(a, b)| (a - b).abs() < 1e-6));
            }
            let mut p = v.clone();
            project_simplex(&mut p);
            // away from the support's boundary: every entry clearly in or clearly out
            let mut tau_gap = f64::INFINITY;
            let tau = v.iter().zip(&p).find(|(_, pi)| **pi > 0.0).map(|(vi, pi)| vi - pi).unwrap();
            for vi in &v { tau_gap = tau_gap.min((vi - tau).abs()); }
            if tau_gap > 1e-4 {
                let mut j = u.to_vec();
                project_simplex_jvp(&p, &mut j);
                let fd = fd_jvp(project_simplex, &v, u);
                prop_assert!(j.iter().zip(&fd).all(|(a, b)| (a - b).abs() < 1e-6), "{j:?} vs {fd:?}");
            }
        }

        /// The mirror step equals the exponentiated-gradient closed form and stays on the simplex.
        #[test]
        fn kl_mirror_step_closed_form(g in vecs(1..15), eta in 0.0..2.0f64) {
            let n = g.len();
            let mut x: Vec<f64> = (0..n).map(|i| (i + 1) as f64).collect();
            let s: f64 = x.iter().sum();
            x.iter_mut().for_each(|a| *a /= s);
            let w: Vec<f64> = x.iter().zip(&g).map(|(a, b)| a * (-eta * b).exp()).collect();
            let z: f64 = w.iter().sum();
            kl_mirror_step(&mut x, &g, eta);
            prop_assert!((x.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            prop_assert!(x.iter().zip(&w).all(|(a, b)| (a - b / z).abs() < 1e-12));
        }
    }

    #[test]
    fn simplex_projection_known_values_and_extremes() {
        let mut v = vec![0.5, 0.5, 0.5];
        project_simplex(&mut v);
        assert!(v.iter().all(|x| (x - 1.0 / 3.0).abs() < 1e-15));
        let mut v = vec![10.0, 0.0, -1.0];
        project_simplex(&mut v);
        assert_eq!(v, vec![1.0, 0.0, 0.0]);
        let mut v = vec![1e300, -1e300];
        project_simplex(&mut v);
        assert_eq!(v, vec![1.0, 0.0]);
        // the mirror step survives exponents far beyond f64's range
        let mut x = vec![0.5, 0.5];
        kl_mirror_step(&mut x, &[-1e4, 0.0], 1.0);
        assert_eq!(x, vec![1.0, 0.0]);
    }

    #[test]
    fn balls_and_boxes() {
        let mut v = vec![3.0, 4.0];
        project_l2_ball(&mut v, 1.0);
        assert!((v[0] - 0.6).abs() < 1e-15 && (v[1] - 0.8).abs() < 1e-15);
        let mut v = vec![3.0, -4.0, 0.05];
        project_linf_ball(&mut v, &[0.0, 0.0, 0.0], 0.1);
        assert_eq!(v, vec![0.1, -0.1, 0.05]);
        let mut v = vec![-1.0, 2.0];
        project_box(&mut v, &[0.0, 0.0], &[1.0, 1.0]);
        assert_eq!(v, vec![0.0, 1.0]);
        let mut v = vec![-1.0, 2.0];
        project_nonneg(&mut v);
        assert_eq!(v, vec![0.0, 2.0]);
        let mut v = vec![3.0, 4.0, 0.0, 0.1];
        prox_group_l2_blocks(&mut v, 2, 1.0);
        assert!((v[0] - 2.4).abs() < 1e-15 && (v[1] - 3.2).abs() < 1e-15 && v[2] == 0.0 && v[3] == 0.0);
    }
}
