//! Maurey's empirical method (Barron 1993, Lemma 1): a function with Fourier ℓ1 norm `B0` is the
//! mean of `g = B0 cos(k·x + φ_k)` with `k` drawn with probability `a_k / B0`, so the average of
//! `m` independent draws (an m-neuron cosine network with output weights `B0/m`) has
//! `E‖u − f_m‖² = (E‖g‖² − ‖u‖²)/m = (B0 Σ_k a_k s_k − ‖u‖²)/m ≤ B0²/m`, with `s_k` the mean square
//! of `cos(k·x + φ_k)` on the grid (1/2, or 1 for the mean and Nyquist modes).
//!
//! A network's error follows exactly from how often each mode was drawn (`n_k` of `m`):
//! `‖u − f_m‖² = Σ_k s_k (a_k − B0 n_k/m)²` (the cosines are orthogonal on the grid), computed in
//! O(m log m) from the draws; [`network_values`] evaluates the same network on the grid for the
//! test that the two agree.

use common::spectral::{C64, Grid};
use serde::{Deserialize, Serialize};

/// The target's cosine expansion, ready to sample.
#[derive(Clone, Debug)]
pub struct Target {
    /// Amplitudes `a_k > 0`.
    pub amp: Vec<f64>,
    /// Grid mean squares `s_k` of the modes.
    pub ms: Vec<f64>,
    /// Integer wavenumbers and phases (for evaluating networks).
    pub modes: Vec<(Vec<i64>, f64)>,
    /// Cumulative amplitudes (for inverse-CDF sampling).
    cum: Vec<f64>,
    /// `B0 = Σ a_k`.
    pub b0: f64,
    /// `‖u‖² = Σ s_k a_k²`.
    pub u2: f64,
    /// `m E‖u − f_m‖² = B0 Σ a_k s_k − ‖u‖²`.
    pub v: f64,
}

/// The target of the coefficients `c` of a real function on `grid`.
pub fn target(grid: &Grid, c: &[C64]) -> Target {
    let modes: Vec<_> = grid.cosine_modes(c).into_iter().filter(|m| m.amp > 0.0).collect();
    let amp: Vec<f64> = modes.iter().map(|m| m.amp).collect();
    let ms: Vec<f64> = modes.iter().map(|m| m.grid_mean_square).collect();
    let mut cum = Vec::with_capacity(amp.len());
    let mut s = 0.0;
    for a in &amp {
        s += a;
        cum.push(s);
    }
    let b0 = s;
    let u2: f64 = amp.iter().zip(&ms).map(|(a, s)| s * a * a).sum();
    let v = b0 * amp.iter().zip(&ms).map(|(a, s)| a * s).sum::<f64>() - u2;
    Target { amp, ms, modes: modes.iter().map(|m| (m.n.clone(), m.phase)).collect(), cum, b0, u2, v }
}

/// How the neurons are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sampler {
    /// Maurey: `k` with probability `a_k / B0`, output weight `B0/m` (unbiased).
    Maurey,
    /// A planted bug for the tests: `k` uniform over the modes with the importance weight
    /// `K a_k / m` (unbiased, but its variance `K Σ s_k a_k² − ‖u‖²` can exceed `B0²`).
    Uniform,
    /// A planted bug for the tests: `k` with probability `∝ a_k²`, output weight `B0/m` (biased).
    Squared,
}

/// `m` neuron indices drawn by `sampler` (none when the target has no mode).
pub fn draw(t: &Target, m: usize, sampler: Sampler, rng: &mut common::rng::StudyRng) -> Vec<usize> {
    use rand::Rng;
    let k = t.amp.len();
    if k == 0 {
        return vec![];
    }
    match sampler {
        Sampler::Maurey => (0..m)
            .map(|_| {
                let x = rng.random::<f64>() * t.b0;
                t.cum.partition_point(|&c| c <= x).min(k - 1)
            })
            .collect(),
        Sampler::Uniform => (0..m).map(|_| rng.random_range(0..k)).collect(),
        Sampler::Squared => {
            let mut cum2 = Vec::with_capacity(k);
            let mut s = 0.0;
            for a in &t.amp {
                s += a * a;
                cum2.push(s);
            }
            (0..m)
                .map(|_| {
                    let x = rng.random::<f64>() * s;
                    cum2.partition_point(|&c| c <= x).min(k - 1)
                })
                .collect()
        }
    }
}

/// The output weight of neuron `j` (mode `idx`) in a network of width `m`.
pub fn weight(t: &Target, idx: usize, m: usize, sampler: Sampler) -> f64 {
    match sampler {
        Sampler::Maurey | Sampler::Squared => t.b0 / m as f64,
        Sampler::Uniform => t.amp.len() as f64 * t.amp[idx] / m as f64,
    }
}

/// `‖u − f_m‖²` of the network with neurons `draws` (normalized measure, exact on the grid):
/// `‖u‖² − 2 Σ_k s_k a_k w_k + Σ_k s_k w_k²` with `w_k` the summed weight of mode `k`.
pub fn error2(t: &Target, draws: &[usize], sampler: Sampler) -> f64 {
    let mut idx = draws.to_vec();
    idx.sort_unstable();
    let m = draws.len();
    let (mut cross, mut sq) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let k = idx[i];
        let mut j = i;
        while j < idx.len() && idx[j] == k {
            j += 1;
        }
        let w = (j - i) as f64 * weight(t, k, m, sampler);
        cross += t.ms[k] * t.amp[k] * w;
        sq += t.ms[k] * w * w;
        i = j;
    }
    (t.u2 - 2.0 * cross + sq).max(0.0)
}

/// The network's values on the grid: `Σ_j w_j cos(k_j·x + φ_j)`.
pub fn network_values(grid: &Grid, t: &Target, draws: &[usize], sampler: Sampler) -> Vec<f64> {
    let mut out = vec![0.0; grid.len()];
    for &k in draws {
        let (n, phase) = &t.modes[k];
        let kk: Vec<f64> = n.iter().map(|&v| v as f64 * grid.domain().k_unit()).collect();
        let w = weight(t, k, draws.len(), sampler);
        for (o, v) in out.iter_mut().zip(grid.cosine_values(&kk, *phase)) {
            *o += w * v;
        }
    }
    out
}

/// Errors of `reps` independent networks per width.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WidthRow {
    /// Width m.
    pub m: usize,
    /// Mean over repetitions of `‖u − f_m‖²`.
    pub mean_err2: f64,
    /// Standard error of that mean.
    pub se_err2: f64,
    /// RMS error `sqrt(mean_err2)`.
    pub rms: f64,
    /// 10 % and 90 % quantiles of `‖u − f_m‖` over repetitions.
    pub q10: f64,
    /// See `q10`.
    pub q90: f64,
    /// The exact expectation `V/m`.
    pub expected_err2: f64,
    /// Maurey's bound `B0²/m`.
    pub bound_err2: f64,
}

/// The sweep over widths: `reps` networks each, seeded per (width, repetition).
pub fn sweep(t: &Target, widths: &[usize], reps: usize, sampler: Sampler, seed: common::Seed) -> Vec<WidthRow> {
    widths
        .iter()
        .map(|&m| {
            let e: Vec<f64> = (0..reps)
                .map(|r| {
                    let mut rng = seed.child_idx("width", m as u64).child_idx("rep", r as u64).rng();
                    error2(t, &draw(t, m, sampler, &mut rng), sampler)
                })
                .collect();
            let (mean, se) = common::stats::mean_se(&e);
            let norms: Vec<f64> = e.iter().map(|v| v.sqrt()).collect();
            WidthRow {
                m,
                mean_err2: mean,
                se_err2: se,
                rms: mean.sqrt(),
                q10: common::stats::quantile(&norms, 0.1),
                q90: common::stats::quantile(&norms, 0.9),
                expected_err2: t.v / m as f64,
                bound_err2: t.b0 * t.b0 / m as f64,
            }
        })
        .collect()
}
