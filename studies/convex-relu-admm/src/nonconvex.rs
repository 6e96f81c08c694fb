//! The non-convex baseline: full-batch Adam on `½‖Σ_j (X u_j)_+ α_j − y‖² + (β/2)(‖U‖² + ‖α‖²)`
//! from random initializations (exact gradients; the ReLU's derivative at 0 taken as 0).
use common::Seed;
use common::optim::OptimizerConfig;
use ndarray::{Array1, Array2, s};

/// Loss and gradient at flat parameters `θ = (U row-major (m × d), α (m))`.
pub fn loss_grad(x: &Array2<f64>, y: &Array1<f64>, theta: &Array1<f64>, m: usize, beta: f64) -> (f64, Array1<f64>) {
    let d = x.ncols();
    let u = theta.slice(s![..m * d]).into_shape_with_order((m, d)).expect("layout");
    let alpha = theta.slice(s![m * d..]);
    let pre = x.dot(&u.t()); // n × m
    let act = pre.mapv(|v| v.max(0.0));
    let r = act.dot(&alpha) - y;
    let loss = 0.5 * r.dot(&r) + 0.5 * beta * theta.dot(theta);
    let g_alpha = act.t().dot(&r) + &alpha * beta;
    // dU_j = α_j Xᵀ (1[X u_j > 0] ∘ r)
    let mask = pre.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 }) * r.view().insert_axis(ndarray::Axis(1));
    let g_u = (mask.t().dot(x) * alpha.view().insert_axis(ndarray::Axis(1))) + &u * beta;
    let mut g = Array1::zeros(theta.len());
    g.slice_mut(s![..m * d]).assign(&Array1::from_iter(g_u.iter().copied()));
    g.slice_mut(s![m * d..]).assign(&g_alpha);
    (loss, g)
}

/// One training run: He-style init (`u ~ N(0, 2/d)`, `α ~ N(0, 1/m)`), `steps` Adam steps at
/// learning rate `lr`; returns the final objective.
pub fn train(x: &Array2<f64>, y: &Array1<f64>, m: usize, beta: f64, steps: usize, lr: f64, seed: Seed) -> f64 {
    let d = x.ncols();
    let mut rng = seed.rng();
    let mut theta = Array1::zeros(m * d + m);
    let u0 = common::rng::gaussian_vec(&mut rng, m * d, (2.0 / d as f64).sqrt());
    let a0 = common::rng::gaussian_vec(&mut rng, m, (1.0 / m as f64).sqrt());
    theta.slice_mut(s![..m * d]).assign(&u0);
    theta.slice_mut(s![m * d..]).assign(&a0);
    let mut opt = OptimizerConfig::adam(lr).build();
    for _ in 0..steps {
        let (_, g) = loss_grad(x, y, &theta, m, beta);
        opt.step(&mut theta, g.view());
    }
    loss_grad(x, y, &theta, m, beta).0
}
