//! Cross-checks outside the study's main path: finite differences and explicit Hessians for the
//! models, and the second-moment map built densely on small cases by enumerating every batch
//! (with and without replacement), whose spectral radius is bisected directly.
use crate::diag::{self, DiagNet};
use crate::fit::{FitCfg, fit};
use crate::relu;
use crate::stability::{BatchRule, Curvature, Draw, jacobian};
use common::linalg::eigvalsh;
use common::models::{Model, Problem, Targets};
use common::rng::{Seed, gaussian_mat, gaussian_vec};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use proptest::prelude::*;

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// A small diagonal-net interpolating point: `n` samples, `d` features.
fn diag_point(seed: u64, n: usize, d: usize, slack: f64) -> (DiagNet, Array1<f64>, Array2<f64>, Targets) {
    let mut rng = Seed(seed).rng();
    let x = gaussian_mat(&mut rng, n, d, 1.0);
    let beta = gaussian_vec(&mut rng, d, 1.0);
    let y = x.dot(&beta);
    let gamma = gaussian_vec(&mut rng, d, 1.0).mapv(|g| slack * g.abs());
    let net = DiagNet::new(d);
    let w = net.point(beta.view(), gamma.view());
    (net, w, x, Targets::scalar(y.as_slice().unwrap()))
}

#[test]
fn diag_net_derivatives_match_finite_differences() {
    let mut rng = Seed(1).rng();
    let (n, d) = (7, 5);
    let net = DiagNet::new(d);
    let x = gaussian_mat(&mut rng, n, d, 1.0);
    let y = Targets::scalar(gaussian_vec(&mut rng, n, 1.0).as_slice().unwrap());
    let w = gaussian_vec(&mut rng, 2 * d, 1.0);
    let v = gaussian_vec(&mut rng, 2 * d, 1.0);
    let u = gaussian_mat(&mut rng, n, 1, 1.0);
    // Adjoint identity <Jv, u> = <v, J^T u>.
    let jv = net.jvp(w.view(), x.view(), v.view());
    let jtu = net.vjp(w.view(), x.view(), u.view());
    assert!(((&jv * &u).sum() - v.dot(&jtu)).abs() < 1e-12);
    // Gradient and HVP by central differences.
    let h = 1e-5;
    let (_, g) = net.loss_grad(w.view(), x.view(), &y);
    let lp = net.loss((&w + &(&v * h)).view(), x.view(), &y);
    let lm = net.loss((&w - &(&v * h)).view(), x.view(), &y);
    assert!(((lp - lm) / (2.0 * h) - g.dot(&v)).abs() < 1e-7);
    let gp = net.loss_grad((&w + &(&v * h)).view(), x.view(), &y).1;
    let gm = net.loss_grad((&w - &(&v * h)).view(), x.view(), &y).1;
    let fd = (&gp - &gm) / (2.0 * h);
    let hv = net.hvp(w.view(), x.view(), &y, v.view());
    assert!((&fd - &hv).iter().all(|e| e.abs() < 1e-6), "HVP vs finite differences");
}

#[test]
fn trace_identity_and_curvature_match_the_explicit_hessian() {
    let (net, w, x, y) = diag_point(2, 6, 9, 0.3);
    let p = Problem::new(&net, x.view(), &y);
    assert!(p.loss(w.view()) < 1e-28, "closed-form point interpolates");
    let h = p.hessian(w.view());
    let cv = Curvature::at(&net, w.view(), x.view());
    let tr_h = h.diag().sum();
    assert!((cv.trace() - tr_h).abs() < 1e-10 * tr_h);
    assert!((diag::trace_identity(&net, w.view(), x.view()) - tr_h).abs() < 1e-10 * tr_h);
    // Non-zero spectrum of H = that of the n x n Gram matrix.
    let ev = eigvalsh(&h);
    let top: Vec<f64> = ev.iter().rev().take(cv.rank()).copied().collect();
    for (a, b) in top.iter().zip(cv.lam.iter()) {
        assert!((a - b).abs() < 1e-9 * cv.lambda_max(), "{a} vs {b}");
    }
    assert!(ev.iter().rev().skip(cv.rank()).all(|&e| e.abs() < 1e-9 * cv.lambda_max()));
    // Norm bound of Sec. 5.
    let l1: f64 = net.beta(w.view()).iter().map(|b| b.abs()).sum();
    assert!(tr_h >= l1 * diag::norm_constant(x.view()));
}

#[test]
fn relu_point_interpolates_and_its_hessian_is_the_gauss_newton_matrix() {
    let mut rng = Seed(3).rng();
    let data = relu::teacher_data(&mut rng, 8, 1, 3, 2);
    let mlp = relu::net(3, 10);
    let w = relu::interpolating_point(&mlp, data.x.view(), data.y.view(), 1.5, &mut rng).unwrap();
    let y = Targets::scalar(data.y.as_slice().unwrap());
    let p = Problem::new(&mlp, data.x.view(), &y);
    assert!(p.loss(w.view()) < 1e-24);
    let h = p.hessian(w.view());
    let a = jacobian(&mlp, w.view(), data.x.view());
    let ggn = a.t().dot(&a) / 8.0;
    assert!(max_abs_diff(&h, &ggn) < 1e-9 * ggn.iter().fold(0.0f64, |m, x| m.max(x.abs())));
    // Path norm is invariant under the ReLU rescaling (hidden unit x s, output / s).
    let mut w2 = w.clone();
    {
        let (mut w0, b0) = mlp.layer_mut(w2.view_mut(), 0);
        w0.row_mut(0).mapv_inplace(|v| v * 3.0);
        b0.unwrap()[0] *= 3.0;
    }
    {
        let (mut w1, _) = mlp.layer_mut(w2.view_mut(), 1);
        w1[[0, 0]] /= 3.0;
    }
    assert!((relu::path_norm(&mlp, w.view()) - relu::path_norm(&mlp, w2.view())).abs() < 1e-12);
    assert!(p.loss(w2.view()) < 1e-24);
}

/// All batches of size `b` from `0..n` with their probabilities: ordered tuples with replacement,
/// subsets without.
fn batches(n: usize, b: usize, draw: Draw) -> Vec<(Vec<usize>, f64)> {
    let mut out = vec![];
    match draw {
        Draw::WithReplacement => {
            let total = n.pow(b as u32);
            for code in 0..total {
                let mut c = code;
                let idx: Vec<usize> = (0..b)
                    .map(|_| {
                        let i = c % n;
                        c /= n;
                        i
                    })
                    .collect();
                out.push((idx, 1.0 / total as f64));
            }
        }
        Draw::WithoutReplacement => {
            fn rec(start: usize, n: usize, left: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
                if left == 0 {
                    out.push(cur.clone());
                    return;
                }
                for i in start..n {
                    cur.push(i);
                    rec(i + 1, n, left - 1, cur, out);
                    cur.pop();
                }
            }
            let mut sets = vec![];
            rec(0, n, b, &mut vec![], &mut sets);
            let pr = 1.0 / sets.len() as f64;
            out = sets.into_iter().map(|s| (s, pr)).collect();
        }
    }
    out
}

/// The second-moment map in the full parameter space, straight from its definition:
/// `T = E[(I − ηH_B) ⊗ (I − ηH_B)]` over every batch (a `p² × p²` symmetric matrix).
fn dense_t(a: ArrayView2<f64>, eta: f64, b: usize, draw: Draw) -> Array2<f64> {
    let (_, p) = a.dim();
    let mut t = Array2::zeros((p * p, p * p));
    for (idx, pr) in batches(a.nrows(), b, draw) {
        let rows = a.select(Axis(0), &idx);
        let hb = rows.t().dot(&rows) / b as f64;
        let m = Array2::<f64>::eye(p) - hb * eta;
        for i in 0..p {
            for j in 0..p {
                for k in 0..p {
                    for l in 0..p {
                        t[[i * p + j, k * p + l]] += pr * m[[i, k]] * m[[j, l]];
                    }
                }
            }
        }
    }
    t
}

fn dense_rho(a: ArrayView2<f64>, eta: f64, b: usize, draw: Draw) -> f64 {
    eigvalsh(&dense_t(a, eta, b, draw)).iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// Bisection on `ρ(T_η) ≤ 1` with the dense map (the null space of H gives eigenvalue 1 exactly,
/// hence the tolerance).
fn dense_threshold(a: ArrayView2<f64>, b: usize, draw: Draw) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    while dense_rho(a, hi, b, draw) <= 1.0 + 1e-10 {
        hi *= 2.0;
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if dense_rho(a, mid, b, draw) > 1.0 + 1e-10 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

#[test]
fn closed_form_threshold_equals_dense_bisection_for_every_batch_rule() {
    // p = 6 parameters, n = 4 samples: H has a null space, as in the study's nets.
    let (net, w, x, _) = diag_point(4, 4, 3, 0.5);
    let a = jacobian(&net, w.view(), x.view());
    let cv = Curvature::from_jacobian(a.view());
    // a_i = [diag(2u); diag(−2v)] x_i with x_i in R³: rank 3 of p = 6.
    assert_eq!((cv.n, cv.p, cv.rank()), (4, 6, 3));
    let mut rng = Seed(5).rng();
    for (b, draw) in [
        (1, Draw::WithReplacement),
        (2, Draw::WithReplacement),
        (3, Draw::WithReplacement),
        (2, Draw::WithoutReplacement),
        (3, Draw::WithoutReplacement),
        (4, Draw::WithoutReplacement),
    ] {
        let rule = BatchRule { size: b, draw };
        let dense = dense_threshold(a.view(), b, draw);
        let closed = cv.eta_ms(rule, 200, &mut rng);
        let bis = cv.eta_ms_bisect(rule, closed, 50);
        assert!((closed / dense - 1.0).abs() < 1e-8, "{rule:?}: closed form {closed} vs dense {dense}");
        assert!((bis / dense - 1.0).abs() < 1e-8, "{rule:?}: bisection {bis} vs dense {dense}");
        // Trace bound Tr H <= 2 / (η w_S), where w_S > 0.
        if rule.weights(cv.n).0 > 0.0 {
            assert!(cv.trace_bound_ratio(closed, rule) <= 1.0 + 1e-9);
        }
    }
    // Full batch: exactly 2/λ_max.
    let gd = cv.eta_ms(BatchRule::full(4), 200, &mut rng);
    assert!((gd * cv.lambda_max() / 2.0 - 1.0).abs() < 1e-10);
}

#[test]
fn wrong_batch_terms_move_the_threshold() {
    // The failure modes the spec names: a 1/B² batch term, or treating with-replacement batches
    // as without replacement. Both give a different (dense) threshold at B = 2.
    let (net, w, x, _) = diag_point(6, 4, 3, 0.5);
    let a = jacobian(&net, w.view(), x.view());
    let with = dense_threshold(a.view(), 2, Draw::WithReplacement);
    let without = dense_threshold(a.view(), 2, Draw::WithoutReplacement);
    assert!((with / without - 1.0).abs() > 1e-2, "with {with} vs without {without}");
    let cv = Curvature::from_jacobian(a.view());
    let mut rng = Seed(7).rng();
    // 1/B² instead of 1/B is the (w_S, w_H) of B = 4 with replacement; not the B = 2 threshold.
    let b4 = cv.eta_ms(BatchRule::with_replacement(4), 200, &mut rng);
    assert!((b4 / with - 1.0).abs() > 1e-2);
}

#[test]
fn rayleigh_quotient_bound_and_positivity() {
    let (net, w, x, _) = diag_point(8, 4, 3, 0.2);
    let a = jacobian(&net, w.view(), x.view());
    let cv = Curvature::from_jacobian(a.view());
    let p = a.ncols() as f64;
    for eta in [0.01, 0.05, 0.1, 0.3] {
        for b in [1usize, 2] {
            let rule = BatchRule::with_replacement(b);
            let rho = dense_rho(a.view(), eta, b, Draw::WithReplacement);
            // Full space: p − 2ηTr H + η²(E|a|⁴/B + (1 − 1/B) Tr H²) ≤ p ρ(T).
            let (ws, wh) = rule.weights(cv.n);
            let full = p - 2.0 * eta * cv.trace() + eta * eta * (ws * cv.mean_norm4() + wh * cv.trace_sq());
            assert!(full <= p * rho + 1e-9, "eta {eta}: {full} > {}", p * rho);
            assert!(cv.rayleigh_lower(eta, rule) <= cv.spectral_radius(eta, rule) + 1e-12);
            // ρ(T) of the full map = max(1, ρ of the reduced map): the null space of H is neutral.
            let reduced = cv.spectral_radius(eta, rule);
            assert!((reduced.max(1.0) - rho.max(1.0)).abs() < 1e-9, "{reduced} vs {rho}");
            // The spectral radius is the largest eigenvalue (positive map).
            let ev = eigvalsh(&dense_t(a.view(), eta, b, Draw::WithReplacement));
            assert!(ev[ev.len() - 1] >= -ev[0] - 1e-12);
        }
    }
}

#[test]
fn thresholds_agree_at_study_size() {
    // Minima like the study's: a 40-sample, 200-parameter diagonal net and an ill-conditioned
    // ReLU minimum (hidden layer ×2). The bisection on ρ(T) ≤ 1 and the closed form agree, and
    // the full-batch threshold is 2/λ_max.
    let (net, w, x, _) = diag_point(10, 40, 100, 0.2);
    let diag_cv = Curvature::at(&net, w.view(), x.view());
    let mut rng = Seed(11).rng();
    let data = relu::teacher_data(&mut rng, 30, 1, 5, 3);
    let mlp = relu::net(5, 40);
    let wr = relu::interpolating_point(&mlp, data.x.view(), data.y.view(), 2.0, &mut rng).unwrap();
    let relu_cv = Curvature::at(&mlp, wr.view(), data.x.view());
    assert!(relu_cv.lam[relu_cv.rank() - 1] < 1e-3 * relu_cv.lambda_max(), "the ReLU minimum is ill-conditioned");
    for cv in [diag_cv, relu_cv] {
        for b in [1usize, 4] {
            let rule = BatchRule::with_replacement(b);
            let e = cv.eta_ms(rule, 100, &mut rng);
            let bis = cv.eta_ms_bisect(rule, e, 40);
            assert!((bis / e - 1.0).abs() < 1e-8, "B={b}: bisection {bis} vs closed form {e}");
            assert!(cv.trace_bound_ratio(e, rule) <= 1.0);
        }
        let gd = cv.eta_ms_bisect(BatchRule::full(cv.n), 2.0 / cv.lambda_max(), 40);
        assert!((gd * cv.lambda_max() / 2.0 - 1.0).abs() < 1e-9, "GD {gd} vs {}", 2.0 / cv.lambda_max());
    }
}

#[test]
fn linearized_sgd_second_moment_follows_t() {
    // E‖δ_t‖² from many runs vs ⟨I, T^t(E δ_0 δ_0ᵀ)⟩ = ⟨I, T^t(I)⟩ in the reduced space.
    let (net, w, x, _) = diag_point(12, 5, 4, 0.3);
    let cv = Curvature::at(&net, w.view(), x.view());
    let mut rng = Seed(13).rng();
    let rule = BatchRule::with_replacement(1);
    let eta = 1.2 * cv.eta_ms(rule, 100, &mut rng);
    let steps = 10;
    let r = cv.rank();
    let mut m = Array2::<f64>::eye(r);
    for _ in 0..steps {
        m = cv.t_apply(eta, rule, m.view());
    }
    let predicted = m.diag().sum() / r as f64;
    let runs = 40_000;
    let mc: f64 = (0..runs)
        .map(|k| {
            let l = cv.linearized_sgd(eta, 1, steps, steps, &mut Seed(100 + k).rng());
            l[0].exp()
        })
        .sum::<f64>()
        / runs as f64;
    // δ_0 = g/|g| with g ~ N(0, I_r), so E[δ_0 δ_0ᵀ] = I/r exactly; 5% Monte-Carlo margin.
    assert!((mc / predicted - 1.0).abs() < 0.05, "MC {mc} vs T^t {predicted}");
}

#[test]
fn fit_converges_with_gd_and_records_divergence() {
    let mut rng = Seed(14).rng();
    let (n, d) = (10, 20);
    let x = gaussian_mat(&mut rng, n, d, 1.0);
    let beta = Array1::from_shape_fn(d, |j| if j < 2 { 1.0 } else { 0.0 });
    let y = Targets::scalar(x.dot(&beta).as_slice().unwrap());
    let net = DiagNet::new(d);
    let cfg = FitCfg { eta: 0.01, batch: None, max_steps: 100_000, tol: 1e-12, check_every: 200, diverge_above: 1e6 };
    let mut w = net.init(0.5);
    let r = fit(&net, x.view(), &y, &mut w, &cfg, &mut rng);
    assert!(r.converged && !r.diverged && r.final_loss < 1e-12 && r.steps < 100_000);
    let mut w = net.init(0.5);
    let r = fit(&net, x.view(), &y, &mut w, &FitCfg { eta: 5.0, batch: Some(1), ..cfg }, &mut rng);
    assert!(r.diverged && !r.converged);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
    /// The trace bound Tr H ≤ 2B/η_ms holds for any Jacobian (heavy-tailed rows included).
    #[test]
    fn trace_bound_holds_for_random_jacobians(seed in 0u64..10_000, n in 2usize..12, p in 2usize..16, tail in 0.0f64..2.0) {
        let mut rng = Seed(seed).rng();
        let mut a = gaussian_mat(&mut rng, n, p, 1.0);
        for (i, mut row) in a.axis_iter_mut(Axis(0)).enumerate() {
            row *= (tail * i as f64 / n as f64).exp();
        }
        let cv = Curvature::from_jacobian(a.view());
        for b in [1usize, 2, 4] {
            let rule = BatchRule::with_replacement(b);
            let e = cv.eta_ms(rule, 300, &mut rng);
            prop_assert!(cv.trace_bound_ratio(e, rule) <= 1.0 + 1e-9);
            // And e is the threshold: ρ(T) ≤ 1 just below, > 1 just above.
            prop_assert!(cv.spectral_radius(e * (1.0 - 1e-6), rule) <= 1.0 + 1e-12);
            prop_assert!(cv.spectral_radius(e * (1.0 + 1e-4), rule) > 1.0);
        }
    }
}
