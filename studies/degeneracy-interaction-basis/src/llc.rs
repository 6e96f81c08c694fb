//! The local learning coefficient by SGLD (Lau et al. 2023), on the behavioural loss
//! `L_n(θ) = ½·mean‖f(x; θ) − f(x; θ*)‖²` around `θ*`:
//! `λ̂ = nβ (E_θ[L_n(θ)] − L_n(θ*))`, `β = 1/ln n`, with the chain
//! `θ ← θ − (ε/2)(nβ ∇L_n(θ) + γ(θ − θ*)) + N(0, ε)` (full batch) after a burn-in.
use common::Seed;
use common::models::{Model, Targets};
use common::rng::gaussian_vec;
use ndarray::Array1;

/// SGLD settings.
#[derive(Clone, Copy, Debug)]
pub struct Sgld {
    /// Step ε.
    pub eps: f64,
    /// Localisation γ.
    pub gamma: f64,
    /// Steps per chain (after burn-in).
    pub steps: usize,
    /// Burn-in steps.
    pub burn: usize,
    /// Chains.
    pub chains: usize,
}

/// λ̂ per chain.
pub fn estimate(net: &crate::nets::Net, s: Sgld, seed: Seed) -> Vec<f64> {
    let (mlp, x, w0) = (&net.mlp, &net.x, &net.w);
    let n = x.nrows() as f64;
    let beta = 1.0 / n.ln();
    let y = Targets::Regression(mlp.forward(w0.view(), x.view()));
    (0..s.chains)
        .map(|c| {
            let mut rng = seed.child_idx("chain", c as u64).rng();
            let mut w = w0.clone();
            let mut sum = 0.0;
            for t in 0..s.burn + s.steps {
                let (l, g) = mlp.loss_grad(w.view(), x.view(), &y);
                if t >= s.burn {
                    sum += l;
                }
                let drift: Array1<f64> = &g * (n * beta) + &((&w - w0) * s.gamma);
                let noise = gaussian_vec(&mut rng, w.len(), s.eps.sqrt());
                w = &w - &(drift * (0.5 * s.eps)) + &noise;
            }
            n * beta * (sum / s.steps as f64)
        })
        .collect()
}
