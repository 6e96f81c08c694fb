//! Per-iteration wall time of ADMM against the problem size dP (claim C6): the paper's algorithm
//! (dense `FᵀF + ρ(I + GᵀG)` factored once, one `O((dP)²)` solve per iteration), the structured
//! solve ([`crate::problem::WoodburyKkt`], `O(ndP)`), and the cost of one factorization (what an
//! implementation that re-factors every iteration adds to each, `O((dP)³)`).
//!
//! Noise control on a shared machine: the repeats run round-robin over the sizes, every single
//! iteration is timed (between successive calls of the ADMM observer), and each size keeps the
//! minimum over all iterations of all repeats (the least disturbed one: under a load average of 8
//! on 2 cores, means over 20 iterations gave slopes up to 2.9, single-iteration minima do not).
use crate::problem::{ConvexRelu, WoodburyKkt, gaussian_data, random_patterns};
use common::Seed;
use common::admm::{Control, DenseKkt, KktSolve, Settings, Start, solve_with};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One size of the sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SizeTime {
    /// d·P.
    pub dp: usize,
    /// Seconds per ADMM iteration with the cached dense Cholesky (min over repeats).
    #[serde(with = "common::report::json_f64")]
    pub dense_iter: f64,
    /// Seconds per ADMM iteration with the structured (Woodbury) solve (min over repeats).
    #[serde(with = "common::report::json_f64")]
    pub structured_iter: f64,
    /// Seconds of one dense Cholesky of the 2dP × 2dP system (min over repeats).
    #[serde(with = "common::report::json_f64")]
    pub factor: f64,
}

/// Time the sizes `dps` (each a multiple of `d`) on Gaussian data `n × d`.
pub fn sweep(
    n: usize,
    d: usize,
    dps: &[usize],
    iters: usize,
    reps: usize,
    seed: Seed,
) -> anyhow::Result<Vec<SizeTime>> {
    let (x, y) = gaussian_data(n, d, seed.child("data"));
    let problems: Vec<ConvexRelu> = dps
        .iter()
        .map(|&dp| {
            ConvexRelu::new(
                x.clone(),
                y.clone(),
                random_patterns(n, dp / d, seed.child_idx("patterns", dp as u64)),
                1e-3,
            )
        })
        .collect();
    let settings = Settings { rho: 1.0, eps_abs: 0.0, eps_rel: 0.0, max_iter: iters, ..Settings::default() };
    let mut out: Vec<SizeTime> = dps
        .iter()
        .map(|&dp| SizeTime { dp, dense_iter: f64::INFINITY, structured_iter: f64::INFINITY, factor: f64::INFINITY })
        .collect();
    for _ in 0..reps {
        for (pb, row) in problems.iter().zip(out.iter_mut()) {
            let m = pb.dense_system(settings.rho);
            let t = Instant::now();
            let kkt = DenseKkt::factor(m.view())?;
            row.factor = row.factor.min(t.elapsed().as_secs_f64());
            row.dense_iter = row.dense_iter.min(fastest_iteration(pb, &kkt, &settings)?);
            let wk = WoodburyKkt::new(pb, settings.rho)?;
            row.structured_iter = row.structured_iter.min(fastest_iteration(pb, &wk, &settings)?);
        }
    }
    Ok(out)
}

/// The shortest single ADMM iteration of a run (seconds), timed between observer calls.
fn fastest_iteration(pb: &ConvexRelu, kkt: &impl KktSolve, settings: &Settings) -> anyhow::Result<f64> {
    let mut stamps = vec![Instant::now()];
    std::hint::black_box(solve_with(pb, kkt, settings, Start::default(), |_, _, _| {
        stamps.push(Instant::now());
        Control::Continue
    })?);
    Ok(stamps.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).fold(f64::INFINITY, f64::min))
}
