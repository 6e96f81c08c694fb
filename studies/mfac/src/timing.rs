//! Wall-clock scaling of the M-FAC operations (claim 2) and of the dense alternative.
//!
//! Noise control on a shared machine: every size of a sweep is built first, then the repeats run
//! round-robin over the sizes (a slow drift of the machine's load hits all sizes alike); each
//! measurement averages enough back-to-back calls to last 5 ms; each
//! operation is summarised by its minimum, its median and the per-round slope
//! ([`round_median_slope`]). Even so, other processes' memory traffic moves a fitted slope by
//! about ±0.15 on a shared 2-core machine, so every operation's multiply-add count (see
//! [`crate::kernels::add_ops`]) is recorded beside its time: that count is what the gated scaling
//! claims fit.
use crate::dynamic::DynamicInv;
use crate::kernels::count_ops;
use crate::reference::DenseFisher;
use crate::static_inv::{DEFAULT_PAGE, StaticInv};
use common::Seed;
use ndarray::{Array1, Array2};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::time::Instant;

pub use common::stats::{loglog_slope, median};

/// Uniform(-sqrt 3, sqrt 3) entries (unit variance), one child seed per row, rows in parallel:
/// fast to generate at d = 10^6 and independent of the thread count.
pub fn random_rows(seed: Seed, m: usize, d: usize) -> Array2<f64> {
    let mut a = Array2::<f64>::zeros((m, d));
    let r3 = 3f64.sqrt();
    a.axis_iter_mut(ndarray::Axis(0)).into_par_iter().enumerate().for_each(|(i, mut row)| {
        let mut rng = seed.child_idx("row", i as u64).rng();
        row.iter_mut().for_each(|v| *v = r3 * (2.0 * rng.random::<f64>() - 1.0));
    });
    a
}

/// Summary of repeated measurements of one operation (seconds).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stat {
    pub min: f64,
    pub median: f64,
    /// Every measurement, in repeat order (repeat r of every size ran in the same round).
    pub samples: Vec<f64>,
}

impl Stat {
    pub fn of(samples: Vec<f64>) -> Stat {
        Stat { min: samples.iter().copied().fold(f64::INFINITY, f64::min), median: median(&samples), samples }
    }
}

/// Shortest timed stretch of one measurement (seconds).
const MIN_MEASUREMENT: f64 = 0.005;

/// Seconds and multiply-adds (see [`crate::kernels::add_ops`]) of one call.
fn time_once<R>(f: impl FnOnce() -> R) -> (f64, u64) {
    let t = Instant::now();
    let (ops, r) = count_ops(f);
    let secs = t.elapsed().as_secs_f64();
    black_box(r);
    (secs, ops)
}

/// Seconds per call: the mean of `k` back-to-back calls.
fn measure<R>(k: usize, mut f: impl FnMut() -> R) -> f64 {
    let t = Instant::now();
    for _ in 0..k {
        black_box(f());
    }
    t.elapsed().as_secs_f64() / k as f64
}

/// One size of a sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimingRow {
    pub m: usize,
    pub d: usize,
    /// Dynamic algorithm: IHVP `F^{-1} x`.
    pub ihvp: Stat,
    /// Dynamic algorithm: replace the oldest gradient.
    pub update: Stat,
    /// Static algorithm: IHVP.
    pub static_ihvp: Stat,
    /// Static algorithm: the O(dm^2) precomputation (measured once).
    pub static_setup: f64,
    /// Multiply-adds of one call of each operation (deterministic).
    pub ops: OpCounts,
}

/// Multiply-adds counted by the kernels for one call of each operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpCounts {
    pub ihvp: u64,
    pub update: u64,
    pub static_ihvp: u64,
    pub static_setup: u64,
}

/// Time the dynamic IHVP and update and the static IHVP (and setup) at every `(m, d)`.
pub fn time_sweep(sizes: &[(usize, usize)], reps: usize, damp: f64, seed: Seed) -> Vec<TimingRow> {
    struct Case {
        dy: DynamicInv,
        st: StaticInv,
        x: Array1<f64>,
        g: Array1<f64>,
        setup: f64,
        setup_ops: u64,
    }
    let mut cases: Vec<Case> = sizes
        .iter()
        .map(|&(m, d)| {
            let s = seed.child_idx("m", m as u64).child_idx("d", d as u64);
            let grads = random_rows(s.child("grads"), m, d);
            let xg = random_rows(s.child("vectors"), 2, d);
            let t = Instant::now();
            let (setup_ops, st) = count_ops(|| StaticInv::new(grads.view(), damp, DEFAULT_PAGE));
            let setup = t.elapsed().as_secs_f64();
            let dy = DynamicInv::new(grads, damp);
            Case { dy, st, x: xg.row(0).to_owned(), g: xg.row(1).to_owned(), setup, setup_ops }
        })
        .collect();
    let n = cases.len();
    let (mut ti, mut tu, mut ts) = (vec![vec![]; n], vec![vec![]; n], vec![vec![]; n]);
    // Each measurement averages `k` back-to-back calls, with `k` set so that it lasts at least
    // MIN_MEASUREMENT (small sizes would otherwise be dominated by timer and call overhead). A
    // first call of each operation, outside the statistics, gives `k` and the operation counts.
    let reps_for = |t: f64| ((MIN_MEASUREMENT / t.max(1e-9)).ceil() as usize).clamp(1, 1000);
    let calib: Vec<([usize; 3], OpCounts)> = cases
        .iter_mut()
        .map(|c| {
            let (t_mul, o_mul) = time_once(|| c.dy.mul(c.x.view()));
            let (t_st, o_st) = time_once(|| c.st.mul(c.x.view()));
            let (t_up, o_up) = time_once(|| c.dy.update(c.g.view()));
            let ops = OpCounts { ihvp: o_mul, update: o_up, static_ihvp: o_st, static_setup: c.setup_ops };
            ([reps_for(t_mul), reps_for(t_st), reps_for(t_up)], ops)
        })
        .collect();
    for _ in 0..reps {
        for (k, c) in cases.iter_mut().enumerate() {
            let ks = calib[k].0;
            ti[k].push(measure(ks[0], || c.dy.mul(c.x.view())));
            ts[k].push(measure(ks[1], || c.st.mul(c.x.view())));
            tu[k].push(measure(ks[2], || c.dy.update(c.g.view())));
        }
    }
    sizes
        .iter()
        .enumerate()
        .map(|(k, &(m, d))| TimingRow {
            m,
            d,
            ihvp: Stat::of(std::mem::take(&mut ti[k])),
            update: Stat::of(std::mem::take(&mut tu[k])),
            static_ihvp: Stat::of(std::mem::take(&mut ts[k])),
            static_setup: cases[k].setup,
            ops: calib[k].1.clone(),
        })
        .collect()
}

/// Time the dense alternative at each d: form `F = damp I + G^T G / m` (O(d^2 m)), factor it
/// (Cholesky, O(d^3)) and solve one system.
pub fn time_dense(ds: &[usize], m: usize, reps: usize, damp: f64, seed: Seed) -> Vec<(usize, Stat)> {
    let cases: Vec<(Array2<f64>, Array1<f64>)> = ds
        .iter()
        .map(|&d| {
            let s = seed.child_idx("dense", d as u64);
            (random_rows(s.child("grads"), m, d), random_rows(s.child("x"), 1, d).row(0).to_owned())
        })
        .collect();
    let mut t = vec![vec![]; ds.len()];
    for _ in 0..reps {
        for (k, (g, x)) in cases.iter().enumerate() {
            let t0 = Instant::now();
            let f = DenseFisher::new(g.view(), damp);
            black_box(f.solve(x.view()));
            t[k].push(t0.elapsed().as_secs_f64());
        }
    }
    ds.iter().zip(t).map(|(&d, v)| (d, Stat::of(v))).collect()
}

/// The robust slope: fit `log t` against `log x` separately in every round of the interleaved
/// repeats (the sizes of one round ran within moments of each other, so a slow drift of the
/// machine's load cancels), then take the median over rounds (an outlier round cannot move it).
pub fn round_median_slope(x: &[f64], stats: &[&Stat]) -> f64 {
    let reps = stats.iter().map(|s| s.samples.len()).min().unwrap_or(0);
    let per_round: Vec<f64> =
        (0..reps).map(|r| loglog_slope(x, &stats.iter().map(|s| s.samples[r]).collect::<Vec<_>>())).collect();
    median(&per_round)
}
