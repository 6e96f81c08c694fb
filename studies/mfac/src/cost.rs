//! What a configuration costs: the peak memory of its largest live arrays and a rough wall time
//! on 2 cores. The phases run one after another, so the peak is the largest phase; the `prune`
//! and `optim` grids run `jobs` cells at once.
use crate::{Config, DIGITS_N};

/// Peak memory in f64s.
pub fn peak_f64s(cfg: &Config, jobs: f64) -> f64 {
    let f = |x: usize| x as f64;
    let sum = |v: &[usize]| v.iter().map(|&x| x as f64).sum::<f64>();
    // M3: every size of a sweep is built before it is timed: G and the static vectors (m x d
    // each) and five m x m matrices per size. The dense alternative: F, its copy, its factor.
    let (tm, td) = (f(cfg.timing_m), f(cfg.timing_d));
    let sweep_d = 2.0 * tm * sum(&cfg.timing_ds) + 5.0 * tm * tm * f(cfg.timing_ds.len());
    let sweep_m = 2.0 * td * sum(&cfg.timing_ms) + 5.0 * cfg.timing_ms.iter().map(|&m| f(m) * f(m)).sum::<f64>();
    let dmax = f(cfg.dense_ds.iter().copied().max().unwrap_or(0));
    let dense = 3.0 * dmax * dmax + f(cfg.dense_m) * sum(&cfg.dense_ds);
    // M1/M2: F, its copy, factor and inverse (and HInvSlow) are d x d; the gradients m x d.
    let ed = f(cfg.exact_d);
    let exact = 6.0 * ed * ed + 4.0 * f(cfg.exact_m) * ed;
    let rd = f(cfg.ring_d);
    let ring = 3.0 * rd * rd + 3.0 * f(cfg.ring_m) * rd + f(cfg.ring_inserts) * rd;
    // M5 per seed: the per-sample gradients, their selection and the static vectors (m x p);
    // M6 per cell: the window (m x p) and its m x m matrices. Plus the data and activations.
    let (p, n) = (f(cfg.n_params()), f(DIGITS_N));
    let data = n * (64.0 + 4.0 * f(cfg.hidden));
    let prune = jobs.min(f(cfg.seeds)) * (3.0 * f(cfg.prune_m.min(cfg.n_train())) * p + data);
    let om = f(cfg.opt_m);
    let optim = jobs * (om * p + 5.0 * om * om + 8.0 * p + data);
    [sweep_d, sweep_m, dense, exact, ring, prune, optim].into_iter().fold(0.0, f64::max)
}

/// Rough wall time on 2 cores, from multiply-add counts: ~2e9/s in the memory-bound kernels
/// and small products, ~1e10/s in GEMMs and dense factorizations.
pub fn seconds(cfg: &Config, jobs: f64) -> f64 {
    let f = |x: usize| x as f64;
    let (mem, gemm) = (2e9, 1e10);
    let reps = f(cfg.timing_reps);
    let size = |m: f64, d: f64| {
        3.0 * m * m * d / gemm + reps * ((5.0 * m * d / mem).max(0.015) + m.powi(3) / mem) + m * d * 1e-9
    };
    let dense = |d: f64, m: f64| (d * d * m + d.powi(3) / 3.0) / gemm;
    let timing = cfg.timing_ds.iter().map(|&d| size(f(cfg.timing_m), f(d))).sum::<f64>()
        + cfg.timing_ms.iter().map(|&m| size(f(m), f(cfg.timing_d))).sum::<f64>()
        + f(cfg.dense_reps) * cfg.dense_ds.iter().map(|&d| dense(f(d), f(cfg.dense_m))).sum::<f64>();
    let (em, ed, rd) = (f(cfg.exact_m), f(cfg.exact_d), f(cfg.ring_d));
    let slow = if cfg.exact_hinv_slow { em * ed * ed / mem } else { 0.0 };
    let exact = f(cfg.exact_damps.len()) * (dense(ed, em) + ed.powi(3) / gemm + slow)
        + f(cfg.ring_inserts) * dense(rd, f(cfg.ring_m));
    let (p, n) = (f(cfg.n_params()), f(cfg.n_train()));
    let (pm, levels) = (f(cfg.prune_m.min(cfg.n_train())), f(cfg.sparsities.len()));
    let prune = (f(cfg.seeds) / jobs).ceil()
        * (6.0 * f(cfg.dense_epochs) * n * p / gemm
            + 2.0 * levels * ((2.0 * pm * pm * p + 4.0 * n * p) / gemm + 6.0 * pm * p / mem));
    let steps = f(cfg.opt_epochs) * (n / f(cfg.batch)).floor();
    let om = f(cfg.opt_m);
    let lrs = |v: &[f64]| f(v.len()) * f(cfg.seeds);
    let (plain, mfac) =
        (lrs(&cfg.opt_lrs_sgd) + lrs(&cfg.opt_lrs_adam), lrs(&cfg.opt_lrs_mfac) + lrs(&cfg.opt_lrs_mfac_small_damp));
    let step = 6.0 * f(cfg.batch) * p / (2.0 * mem);
    let evals = (steps / f(cfg.opt_eval_every)).ceil() + 1.0;
    let optim = (plain + mfac) * (steps * step + evals * 2.0 * n * p / gemm)
        + mfac * steps * (om.powi(3) / 3.0 + 4.0 * om * p) / (2.0 * mem);
    timing + exact + prune + optim / jobs
}
