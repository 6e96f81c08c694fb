//! Wall-clock scaling of the M-FAC operations (claim 2) and of the dense alternative.
//!
//! Noise control on a shared machine: every size of a sweep is built first, then the repeats run
//! round-robin over the sizes (a slow drift of the machine's load hits all sizes alike); each
//! measurement averages enough back-to-back calls to last 5 ms; each operation is summarised by
//! its minimum, its median and the per-round slope ([`round_median_slope`]), the statistic the
//! gated time claims use (in 290 sets of rounds under a load average of 8-16 its IHVP slopes
//! stayed within 0.12-0.2 of 1, the minimum-based slope moved up to 0.5). Beside each time, the
//! multiplications the kernels executed in one call (see [`crate::kernels`]), which no other
//! process can disturb.
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
    #[serde(with = "common::report::json_f64")]
    pub min: f64,
    #[serde(with = "common::report::json_f64")]
    pub median: f64,
    /// Every measurement, in repeat order (repeat r of every size ran in the same round).
    #[serde(with = "common::report::json_f64::vec")]
    pub samples: Vec<f64>,
}

impl Stat {
    pub fn of(samples: Vec<f64>) -> Stat {
        Stat { min: common::stats::min(&samples), median: median(&samples), samples }
    }
    /// A single measurement.
    pub fn once(t: f64) -> Stat {
        Stat::of(vec![t])
    }
}

/// Shortest timed stretch of one measurement (seconds).
const MIN_MEASUREMENT: f64 = 0.005;

/// Seconds and multiplications (see [`crate::kernels::count_ops`]) of one call.
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
    #[serde(with = "common::report::json_f64")]
    pub static_setup: f64,
    /// Multiplications of one call of each operation (deterministic).
    pub ops: OpCounts,
}

/// Multiplications the kernels executed in one call of each operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpCounts {
    pub ihvp: u64,
    pub update: u64,
    pub static_ihvp: u64,
    pub static_setup: u64,
}

/// Time the dynamic IHVP and update and the static IHVP (and setup) at every `(m, d)`, on `pool`.
/// The random data are drawn on every thread (untimed, and the same on any number of threads).
pub fn time_sweep(
    sizes: &[(usize, usize)],
    reps: usize,
    damp: f64,
    seed: Seed,
    pool: &rayon::ThreadPool,
) -> Vec<TimingRow> {
    let mut cases = build_cases(sizes, damp, seed, pool);
    pool.install(|| measure_cases(sizes, &mut cases, reps))
}

/// Build every size of a sweep (untimed, except the static setup's one measurement).
pub(crate) fn build_cases(sizes: &[(usize, usize)], damp: f64, seed: Seed, pool: &rayon::ThreadPool) -> Vec<Case> {
    sizes
        .iter()
        .map(|&(m, d)| {
            let s = seed.child_idx("m", m as u64).child_idx("d", d as u64);
            let grads = random_rows(s.child("grads"), m, d);
            let xg = random_rows(s.child("vectors"), 2, d);
            let (setup, (setup_ops, st)) = pool.install(|| {
                let t = Instant::now();
                let st = count_ops(|| StaticInv::new(grads.view(), damp, DEFAULT_PAGE));
                (t.elapsed().as_secs_f64(), st)
            });
            let dy = DynamicInv::new(grads, damp);
            Case { dy, st, x: xg.row(0).to_owned(), g: xg.row(1).to_owned(), setup, setup_ops }
        })
        .collect()
}

/// A built size of a sweep.
pub(crate) struct Case {
    dy: DynamicInv,
    st: StaticInv,
    x: Array1<f64>,
    g: Array1<f64>,
    setup: f64,
    setup_ops: u64,
}

/// The interleaved rounds of measurements over the built sizes.
pub(crate) fn measure_cases(sizes: &[(usize, usize)], cases: &mut [Case], reps: usize) -> Vec<TimingRow> {
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

/// The dense alternative at one d.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DenseRow {
    pub d: usize,
    /// Form F, factor it, solve one system.
    pub time: Stat,
}

/// Time the dense alternative at each d: form `F = damp I + G^T G / m` (O(d^2 m)), factor it
/// (Cholesky, O(d^3)) and solve one system.
pub fn time_dense(ds: &[usize], m: usize, reps: usize, damp: f64, seed: Seed) -> Vec<DenseRow> {
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
    ds.iter().zip(t).map(|(&d, v)| DenseRow { d, time: Stat::of(v) }).collect()
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

/// Everything the scaling experiment (M3) measures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scaling {
    /// Over d at m = `timing_m`.
    pub d_sweep: Vec<TimingRow>,
    /// Over m at d = `timing_d`.
    pub m_sweep: Vec<TimingRow>,
    /// The dense alternative over `dense_ds`.
    pub dense: Vec<DenseRow>,
}

/// Run the d sweep, the m sweep and the dense alternative on a pool of `cfg.timing_threads`.
pub fn run(cfg: &crate::Config, seed: Seed) -> anyhow::Result<Scaling> {
    let builder = rayon::ThreadPoolBuilder::new().num_threads(cfg.timing_threads);
    #[cfg(test)]
    let builder = {
        let p = crate::kernels::plant::get();
        builder.start_handler(move |_| crate::kernels::plant::set(p))
    };
    let pool = builder.build()?;
    let ds: Vec<(usize, usize)> = cfg.timing_ds.iter().map(|&d| (cfg.timing_m, d)).collect();
    let ms: Vec<(usize, usize)> = cfg.timing_ms.iter().map(|&m| (m, cfg.timing_d)).collect();
    let d_sweep = time_sweep(&ds, cfg.timing_reps, cfg.timing_damp, seed.child("d"), &pool);
    let m_sweep = time_sweep(&ms, cfg.timing_reps, cfg.timing_damp, seed.child("m"), &pool);
    let dense =
        pool.install(|| time_dense(&cfg.dense_ds, cfg.dense_m, cfg.dense_reps, cfg.timing_damp, seed.child("dense")));
    Ok(Scaling { d_sweep, m_sweep, dense })
}

/// Log-log fits over the rows of one sweep against `x` (their d or their m).
pub struct SweepFit<'a> {
    pub x: Vec<f64>,
    pub rows: Vec<&'a TimingRow>,
}

impl<'a> SweepFit<'a> {
    /// The rows of the d sweep with d >= `min_d` (out of cache), against d.
    pub fn over_d(rows: &'a [TimingRow], min_d: usize) -> Self {
        let rows: Vec<&TimingRow> = rows.iter().filter(|r| r.d >= min_d).collect();
        SweepFit { x: rows.iter().map(|r| r.d as f64).collect(), rows }
    }
    /// Every row of the m sweep, against m.
    pub fn over_m(rows: &'a [TimingRow]) -> Self {
        SweepFit { x: rows.iter().map(|r| r.m as f64).collect(), rows: rows.iter().collect() }
    }
    /// The multiplication counts of one operation.
    pub fn ops(&self, f: fn(&OpCounts) -> u64) -> Vec<f64> {
        self.rows.iter().map(|r| f(&r.ops) as f64).collect()
    }
    /// Slope of the (deterministic) count: a plain log-log fit.
    pub fn ops_slope(&self, f: fn(&OpCounts) -> u64) -> f64 {
        loglog_slope(&self.x, &self.ops(f))
    }
    /// The robust time slope ([`round_median_slope`]).
    pub fn time_slope(&self, f: fn(&TimingRow) -> &Stat) -> f64 {
        round_median_slope(&self.x, &self.rows.iter().map(|r| f(r)).collect::<Vec<_>>())
    }
    /// Slopes of the minima and of the medians.
    pub fn min_median_slopes(&self, f: fn(&TimingRow) -> &Stat) -> (f64, f64) {
        let mins: Vec<f64> = self.rows.iter().map(|r| f(r).min).collect();
        let meds: Vec<f64> = self.rows.iter().map(|r| f(r).median).collect();
        (loglog_slope(&self.x, &mins), loglog_slope(&self.x, &meds))
    }
    /// Slope of the static setup time (one measurement per size).
    pub fn setup_slope(&self) -> f64 {
        loglog_slope(&self.x, &self.rows.iter().map(|r| r.static_setup).collect::<Vec<_>>())
    }
}

/// One row of the `timing` table.
#[derive(Clone, Debug, Serialize)]
pub struct TimingTableRow {
    pub sweep: &'static str,
    pub d: usize,
    pub m: usize,
    pub op: &'static str,
    pub t_min: f64,
    pub t_median: f64,
    /// NaN: not counted (faer's dense code).
    #[serde(with = "common::report::json_f64")]
    pub mul_adds: f64,
}

/// The `timing` table: every operation of both sweeps, then the dense alternative.
pub fn table_rows(s: &Scaling, dense_m: usize) -> Vec<TimingTableRow> {
    let mut out = vec![];
    for (sweep, rows) in [("d", &s.d_sweep), ("m", &s.m_sweep)] {
        for r in rows.iter() {
            let setup = Stat::once(r.static_setup);
            for (op, st, n) in [
                ("ihvp_dynamic", &r.ihvp, r.ops.ihvp),
                ("update_dynamic", &r.update, r.ops.update),
                ("ihvp_static", &r.static_ihvp, r.ops.static_ihvp),
                ("setup_static", &setup, r.ops.static_setup),
            ] {
                out.push(TimingTableRow {
                    sweep,
                    d: r.d,
                    m: r.m,
                    op,
                    t_min: st.min,
                    t_median: st.median,
                    mul_adds: n as f64,
                });
            }
        }
    }
    for r in &s.dense {
        out.push(TimingTableRow {
            sweep: "dense",
            d: r.d,
            m: dense_m,
            op: "dense_cholesky_solve",
            t_min: r.time.min,
            t_median: r.time.median,
            mul_adds: f64::NAN,
        });
    }
    out
}
