//! What a configuration accepts and needs: the checks of [`Validate::validate`](common::Validate)
//! and the memory and time estimate of [`Validate::estimate`](common::Validate).
use crate::{B_MAX, Config};
use common::study::Checks;
use common::{BadInput, Estimate};

/// Every key's range (generous upper bounds: >= 10x the full profile) and the cross-key rules.
pub fn validate(cfg: &Config) -> Result<(), BadInput> {
    let (l, m, r) = (&cfg.logistic, &cfg.mlp, &cfg.lr);
    let mut c = Checks::new();
    c.size("logistic.n", l.n, 1, 10_000_000)
        .size("logistic.d", l.d, 1, 5000)
        .positive("logistic.spike", l.spike, 1e3)
        .sizes("logistic.batch_sizes", &l.batch_sizes, 1, B_MAX)
        .increasing("logistic.batch_sizes", &l.batch_sizes)
        .size("logistic.batches", l.batches, 2, 100_000)
        .size("logistic.lanczos_steps", l.lanczos_steps, 1, 10_000);
    c.size("mlp.n", m.n, 2, 10_000_000)
        .size("mlp.d", m.d, 1, 2000)
        .size("mlp.hidden", m.hidden, 1, 10_000)
        .size("mlp.classes", m.classes, 2, 1000)
        .real("mlp.separation", m.separation, 0.0, 1e3)
        .size("mlp.train_steps", m.train_steps, 0, 1_000_000)
        .size("mlp.train_batch", m.train_batch, 1, B_MAX)
        .positive("mlp.train_lr", m.train_lr, 10.0)
        .sizes("mlp.batch_sizes", &m.batch_sizes, 1, B_MAX)
        .increasing("mlp.batch_sizes", &m.batch_sizes)
        .size("mlp.batches", m.batches, 2, 100_000)
        .size("mlp.lanczos_steps", m.lanczos_steps, 1, 10_000)
        .sizes("mlp.slq_batch_sizes", &m.slq_batch_sizes, 1, B_MAX)
        .increasing("mlp.slq_batch_sizes", &m.slq_batch_sizes)
        .rule(
            m.slq_batch_sizes.iter().all(|&b| b < m.n),
            format!("`mlp.slq_batch_sizes` must be below `mlp.n` = {} (the full data set is always added)", m.n),
        )
        .size("mlp.slq_probes", m.slq_probes, 1, 10_000)
        .size("mlp.slq_steps", m.slq_steps, 1, 10_000);
    c.size("lr.n", r.n, 1, 10_000_000)
        .size("lr.d", r.d, 1, 4096)
        .positive("lr.var_min", r.var_min, 1.0)
        .sizes("lr.batch_sizes", &r.batch_sizes, 1, B_MAX)
        .increasing("lr.batch_sizes", &r.batch_sizes)
        .rule(r.batch_sizes.contains(&1), "`lr.batch_sizes` must hold B = 1 (claim R4b)")
        .size("lr.steps", r.steps, 1, 1_000_000)
        .size("lr.seeds", r.seeds, 1, 1000)
        .size("lr.bisect_steps", r.bisect_steps, 0, 100)
        .positive("lr.lr_lo", r.lr_lo, 1e6)
        .positive("lr.lr_hi", r.lr_hi, 1e6)
        .rule(r.lr_lo < r.lr_hi, "`lr.lr_lo` must be below `lr.lr_hi`")
        .size("lr.batches", r.batches, 1, 100_000);
    let k = &cfg.check;
    c.size("check.n", k.n, 2, 100_000)
        .size("check.d", k.d, 1, 50)
        .size("check.hidden", k.hidden, 1, 50)
        .size("check.classes", k.classes, 2, 10)
        .size("check.train_steps", k.train_steps, 0, 1_000_000)
        .sizes("check.batch_sizes", &k.batch_sizes, 1, B_MAX)
        .increasing("check.batch_sizes", &k.batch_sizes)
        .size("check.batches", k.batches, 2, 100_000);
    let in_fit = |bs: &[usize]| bs.iter().filter(|&&b| b >= cfg.fit_b_min && b <= cfg.fit_b_max).count();
    c.size("fit_b_min", cfg.fit_b_min, 1, B_MAX).size("fit_b_max", cfg.fit_b_max, 1, B_MAX).rule(
        in_fit(&l.batch_sizes) >= 2 && in_fit(&m.batch_sizes) >= 2,
        "[`fit_b_min`, `fit_b_max`] must hold at least two of `logistic.batch_sizes` and two of \
             `mlp.batch_sizes` (claims R2)",
    );
    c.finish()
}

/// Peak memory: every array of the three setups (data, the full-data operator's copy and
/// activations, Lanczos bases), plus per grid cell in flight (one per thread) its batch, its
/// activations and its Lanczos basis. Time: the flop count of every product at ~10 GFLOP/s (calibrated on the quick profile: ≈ 5 s).
pub fn estimate(cfg: &Config) -> Estimate {
    let (l, m, r) = (&cfg.logistic, &cfg.mlp, &cfg.lr);
    let f = |x: usize| x as f64;
    let bmax = |v: &[usize]| v.iter().copied().max().unwrap_or(0) as f64;
    let par = f(rayon::current_num_threads().max(1));
    // Logistic regression: x, the full operator's copy of it, Lanczos on d.
    let (ln, ld) = (f(l.n), f(l.d));
    let (ml, ml_full) = (f(l.lanczos_steps).min(ld), f(2 * l.lanczos_steps).min(ld));
    let lg = 2.0 * ln * ld + ln + 2.0 * ml_full * ld + par * (bmax(&l.batch_sizes) * (ld + 1.0) + 2.0 * ml * ld);
    // MLP: P parameters; an exact HVP keeps a few activations per sample and layer.
    let p = f(m.d * m.hidden + m.hidden + m.hidden * m.classes + m.classes);
    let act = 8.0 * f(m.hidden + m.classes);
    let (mm, mm_full, ms) = (f(m.lanczos_steps).min(p), f(2 * m.lanczos_steps).min(p), f(m.slq_steps).min(p));
    let mb = bmax(&m.batch_sizes).max(bmax(&m.slq_batch_sizes));
    let mlp = 2.0 * f(m.n) * f(m.d)
        + f(m.n) * act
        + 2.0 * mm_full * p
        + par * (mb * (f(m.d) + act) + 2.0 * mm.max(ms) * p)
        + f(m.train_batch).min(f(m.n)) * (f(m.d) + act)
        + 4.0 * p;
    // Least squares: x, xᵀx and its eigen-decomposition, batches (and their Gram matrices), the
    // mean-square threshold's d x d matrix.
    let (rn, rd) = (f(r.n), f(r.d));
    let ls = rn * rd + 2.0 * rn + 5.0 * rd * rd + par * 2.0 * bmax(&r.batch_sizes) * (rd + 1.0);
    // The logistic model's dense check: a scaled copy of x and x·V, the d x d matrix and its eigenvectors.
    let lg_pt = 2.0 * ln * ld + 3.0 * ld * ld;
    // The small MLP of the checks: output Jacobian (n·k x P), Λ_i, per-sample gradients (three n x P),
    // dense H, G and their eigenvectors, a P-step Lanczos basis.
    let k = &cfg.check;
    let (kn, kk) = (f(k.n), f(k.classes));
    let kp = f(k.d * k.hidden + k.hidden + k.hidden * k.classes + k.classes);
    let sub = kn * kk * kp + kn * kk * kk + 3.0 * kn * kp + 7.0 * kp * kp + kn * f(k.d + k.hidden + k.classes);

    // Flops.
    let lg_t: f64 = l.batch_sizes.iter().map(|&b| f(l.batches) * ml * (4.0 * f(b) * ld + 4.0 * ml * ld)).sum::<f64>()
        + ml_full * (4.0 * ln * ld + 4.0 * ml_full * ld);
    let hvp = 13.0 * f(m.d * m.hidden + m.hidden * m.classes);
    let mlp_t: f64 = m.batch_sizes.iter().map(|&b| f(m.batches) * 2.0 * mm * (hvp * f(b) + 4.0 * mm * p)).sum::<f64>()
        + 2.0 * mm_full * (hvp * f(m.n) + 4.0 * mm_full * p)
        + f(m.train_steps) * 6.0 * hvp / 13.0 * f(m.train_batch).min(f(m.n))
        + m.slq_batch_sizes
            .iter()
            .chain(std::iter::once(&m.n))
            .map(|&b| f(m.slq_probes) * ms * (hvp * f(b) + 4.0 * ms * p))
            .sum::<f64>();
    let arms = if r.adam { 2.0 } else { 1.0 };
    let ls_t: f64 = r
        .batch_sizes
        .iter()
        .map(|&b| arms * f(r.bisect_steps + 2) * f(r.seeds) * f(r.steps) * 6.0 * f(b) * rd)
        .sum::<f64>()
        + 2.0 * rn * rd * rd;
    // New checks: two n x d x d GEMMs and a d x d eigen-decomposition; the small MLP's 2P gradients and
    // forwards, its dense GGN, P-step Lanczos and the batches; the least-squares batch spectra and
    // the threshold's eigen-decompositions.
    let khvp = 13.0 * f(k.d * k.hidden + k.hidden * k.classes);
    let kmin = |b: usize| f(b).min(rd);
    let check_t = 4.0 * ln * ld * ld
        + 10.0 * ld * ld * ld
        + 2.0 * kp * kn * 8.0 * kp
        + 2.0 * kn * kk * kp * kp
        + 2.0 * kp * (khvp * kn + 4.0 * kp * kp)
        + k.batch_sizes.iter().map(|&b| f(k.batches) * 2.0 * f(m.lanczos_steps).min(kp) * khvp * f(b)).sum::<f64>()
        + r.batch_sizes
            .iter()
            .map(|&b| f(r.batches) * (2.0 * f(b) * rd * kmin(b) + 10.0 * kmin(b).powi(3)))
            .sum::<f64>()
        + f(r.batch_sizes.len()) * 10.0 * rd * rd * rd;
    Estimate::f64s(lg + mlp + ls + lg_pt + sub).seconds((lg_t + mlp_t + ls_t + check_t) / 1e10)
}
