//! Study `mfac`: M-FAC, Efficient Matrix-Free Approximations of Second-Order Information
//! (Frantar, Kurtic, Alistarh, NeurIPS 2021, arXiv:2107.03356; code IST-DASLab/M-FAC).
//!
//! Both algorithms for `F = lambda I + (1/m) sum_i g_i g_i^T`: the static one ([`static_inv`],
//! O(dm^2) setup, O(dm) IHVP, O(m) per element of `F^{-1}`) and the sliding-window one
//! ([`dynamic`], O(dm + m^2) IHVP, O(dm + m^3) per replaced gradient). The study checks them
//! against a dense Cholesky inverse, measures their cost against d and m, prunes an MLP with the
//! OBS saliency they give, and trains it with the M-FAC optimizer. See `README.md`.

pub mod dynamic;
pub mod exact;
pub mod kernels;
pub mod optimizer;
pub mod prune;
pub mod reference;
pub mod static_inv;
pub mod task;
pub mod timing;

use anyhow::Result;
use common::optim::{Optimizer, adam, momentum, stateful};
use common::report::fmt_num;
use common::{Claim, Ctx, Figure, Outcome, Paper, Profiles, Series, Study, Table};
use serde::{Deserialize, Serialize};

use exact::ExactRow;
use prune::{Method, ObsCheck, PrunePoint, PruneSettings};
use timing::{OpCounts, Stat, TimingRow, loglog_slope, round_median_slope};

/// Regression tolerance of the rounding-error claims: their size is κ(F)·ε times a factor that
/// changes with the SIMD width and summation order of the machine's BLAS-like kernels, so only an
/// order-of-magnitude move is a regression.
const ROUNDING_DRIFT: f64 = 10.0;

/// The study (registered in `repro`).
pub struct Mfac;

/// Every knob of a run; `quick()` is CI's profile, `full()` the closest feasible to the paper.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    // --- M1/M4 exactness against the dense inverse
    pub exact_m: usize,
    pub exact_d: usize,
    pub exact_damps: Vec<f64>,
    /// Also run the repo's dense `HInvSlow` (O(m d^2)).
    pub exact_hinv_slow: bool,
    // --- M2 ring buffer
    pub ring_m: usize,
    pub ring_d: usize,
    pub ring_inserts: usize,
    pub ring_damp: f64,
    // --- M3 scaling
    pub timing_damp: f64,
    /// Threads of the timed kernels (1: per-core cost, least sensitive to other processes).
    pub timing_threads: usize,
    pub timing_reps: usize,
    /// The d sweep at m = `timing_m`; slopes are fitted on d >= `timing_fit_min_d` (out of cache).
    pub timing_m: usize,
    pub timing_ds: Vec<usize>,
    pub timing_fit_min_d: usize,
    /// The m sweep at d = `timing_d`.
    pub timing_d: usize,
    pub timing_ms: Vec<usize>,
    /// The dense alternative (form F, Cholesky, solve) at these d, with `dense_m` gradients.
    pub dense_ds: Vec<usize>,
    pub dense_m: usize,
    pub dense_reps: usize,
    // --- the MLP task (digits)
    pub seeds: usize,
    pub hidden: usize,
    pub test_frac: f64,
    pub batch: usize,
    /// Adam epochs of the dense model that is pruned.
    pub dense_epochs: usize,
    pub dense_lr: f64,
    // --- M5 pruning
    pub prune_m: usize,
    pub prune_damp_rel: f64,
    pub prune_blocksize: usize,
    /// Sparsity path (increasing); M-FAC re-estimates F at each step of it.
    pub sparsities: Vec<f64>,
    /// The sparsities at which M-FAC must beat magnitude pruning (claim C3); on the path.
    pub gate_sparsities: Vec<f64>,
    // --- M6 optimizer comparison
    pub opt_epochs: usize,
    pub opt_eval_every: usize,
    pub opt_target_loss: f64,
    pub opt_m: usize,
    pub opt_mfac_damp: f64,
    pub opt_lrs_mfac: Vec<f64>,
    /// M-FAC also at a small damping like the repo's default (1e-5), to show what it does here.
    pub opt_small_damp: f64,
    pub opt_lrs_mfac_small_damp: Vec<f64>,
    pub opt_momentum: f64,
    pub opt_lrs_sgd: Vec<f64>,
    pub opt_lrs_adam: Vec<f64>,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            exact_m: 64,
            exact_d: 2000,
            exact_damps: vec![1e-5, 1e-3, 1e-1],
            exact_hinv_slow: true,
            ring_m: 32,
            ring_d: 400,
            ring_inserts: 96,
            ring_damp: 1e-3,
            timing_damp: 1e-5,
            timing_threads: 1,
            timing_reps: 7,
            timing_m: 64,
            timing_ds: vec![10_000, 30_000, 100_000, 300_000, 1_000_000],
            timing_fit_min_d: 100_000,
            timing_d: 100_000,
            timing_ms: vec![32, 64, 128, 256],
            dense_ds: vec![250, 500, 1000, 2000],
            dense_m: 64,
            dense_reps: 3,
            seeds: 3,
            hidden: 32,
            test_frac: 0.2,
            batch: 32,
            dense_epochs: 40,
            dense_lr: 1e-3,
            prune_m: 256,
            prune_damp_rel: 1e-4,
            prune_blocksize: 0,
            sparsities: (1..=9).map(|k| k as f64 / 10.0).collect(),
            gate_sparsities: vec![0.8, 0.9],
            opt_epochs: 15,
            opt_eval_every: 10,
            opt_target_loss: 0.01,
            opt_m: 32,
            opt_mfac_damp: 0.1,
            opt_lrs_mfac: vec![0.05, 0.1, 0.2, 0.4],
            opt_small_damp: 1e-4,
            opt_lrs_mfac_small_damp: vec![1e-3, 3e-3, 1e-2],
            opt_momentum: 0.9,
            opt_lrs_sgd: vec![0.025, 0.05, 0.1, 0.2],
            opt_lrs_adam: vec![5e-3, 1e-2, 2e-2, 4e-2],
        }
    }

    /// Bigger everything: d up to 3e6 and m up to 512 for the scaling, the repo's pruning window
    /// (m = 1024 gradients), five seeds, longer training.
    fn full() -> Self {
        Config {
            exact_m: 128,
            exact_d: 4000,
            exact_damps: vec![1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
            ring_m: 64,
            ring_d: 1000,
            ring_inserts: 192,
            timing_reps: 21,
            timing_ds: vec![10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000],
            timing_ms: vec![32, 64, 128, 256, 512],
            dense_ds: vec![250, 500, 1000, 2000, 4000],
            dense_reps: 5,
            seeds: 5,
            dense_epochs: 60,
            prune_m: 1024,
            opt_epochs: 30,
            ..Config::quick()
        }
    }
}

/// The optimizers compared in M6.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptKind {
    SgdMomentum { beta: f64 },
    Adam,
    Mfac { m: usize, damp: f64 },
}

impl OptKind {
    fn label(&self) -> String {
        match *self {
            OptKind::SgdMomentum { beta } => format!("SGD (momentum {beta})"),
            OptKind::Adam => "Adam".into(),
            OptKind::Mfac { m, damp } => format!("M-FAC (m={m}, λ={})", fmt_num(damp)),
        }
    }
    fn build(&self, lr: f64) -> Box<dyn Optimizer> {
        match *self {
            OptKind::SgdMomentum { beta } => Box::new(stateful(momentum(lr, beta))),
            OptKind::Adam => Box::new(stateful(adam(lr, 0.9, 0.999, 1e-8))),
            OptKind::Mfac { m, damp } => Box::new(stateful(optimizer::mfac(lr, m, damp, 0.0))),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct OptCell {
    opt: OptKind,
    lr: f64,
    seed: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct OptRun {
    /// `(step, full training loss)`.
    curve: Vec<(usize, f64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PruneSeed {
    dense_acc: f64,
    paths: Vec<(Method, Vec<PrunePoint>)>,
    obs: Vec<ObsCheck>,
}

impl Study for Mfac {
    type Config = Config;
    fn slug(&self) -> &'static str {
        "mfac"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "M-FAC: Efficient Matrix-Free Approximations of Second-Order Information",
            authors: "Elias Frantar, Eldar Kurtic, Dan Alistarh",
            arxiv: "2107.03356",
            official_code: Some("https://github.com/IST-DASLab/M-FAC"),
        }
    }
    /// The pruning experiment's per-sample gradients (the empirical Fisher) run on the GPU under
    /// `--device cuda`.
    fn gpu_path(&self) -> bool {
        true
    }
    fn run(&self, cfg: &Config, ctx: &Ctx) -> Result<Outcome> {
        anyhow::ensure!(cfg.seeds >= 1, "seeds must be >= 1");
        anyhow::ensure!(cfg.sparsities.windows(2).all(|w| w[0] < w[1]), "sparsities must increase");
        anyhow::ensure!(
            cfg.gate_sparsities.iter().all(|g| cfg.sparsities.iter().any(|s| (s - g).abs() < 1e-9)),
            "every gate sparsity must be on the sparsity path"
        );
        let mut out = Outcome::default();
        let mut parts = vec![];
        let mut clock = std::time::Instant::now();
        let mut lap = |name: &str| {
            parts.push(format!("{name} {:.1} s", clock.elapsed().as_secs_f64()));
            clock = std::time::Instant::now();
        };
        // Timing first, alone: nothing else runs while it measures.
        run_timing(cfg, ctx, &mut out)?;
        lap("scaling (M3)");
        run_exactness(cfg, ctx, &mut out);
        lap("exactness (M1, M2, M4)");
        run_pruning(cfg, ctx, &mut out)?;
        lap("pruning (M5)");
        run_optimizers(cfg, ctx, &mut out)?;
        lap("optimizers (M6)");
        out.note(format!("Wall time by part: {}.", parts.join(", ")));
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// M1, M2, M4

fn run_exactness(cfg: &Config, ctx: &Ctx, out: &mut Outcome) {
    let rows =
        exact::exactness(cfg.exact_m, cfg.exact_d, &cfg.exact_damps, cfg.exact_hinv_slow, ctx.seed.child("exact"));
    let worst = |alg: &str, diag: bool| {
        rows.iter()
            .filter(|r| r.algorithm == alg && (r.vector == "diag") == diag)
            .map(|r| r.rel_err)
            .fold(0.0, f64::max)
    };
    let per_damp = |alg: &str, diag: bool| {
        cfg.exact_damps
            .iter()
            .map(|&l| {
                let sel = rows.iter().filter(|r| r.algorithm == alg && (r.vector == "diag") == diag && r.damp == l);
                let (e, ke) = sel.fold((0.0f64, 0.0f64), |a, r| (a.0.max(r.rel_err), r.kappa_eps));
                format!("λ={}: {} (κ·ε = {})", fmt_num(l), fmt_num(e), fmt_num(ke))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let setup = format!("random G ({} x {}, N(0,1)), f64", cfg.exact_m, cfg.exact_d);
    out.claim(
        Claim::new(
            "C1a",
            "The dynamic (sliding-window) algorithm's IHVP equals F^{-1}x for the damped empirical Fisher F = λI + (1/m)ΣggT (an exact identity, not an approximation).",
            "paper, dynamic algorithm; repo optim.py HInvFastUpMulti",
        )
        .measured(worst("dynamic", false))
        .detail(format!("max rel. error vs dense Cholesky over x ∈ {{random, in span(G), a stored gradient}}, {setup}: {}", per_damp("dynamic", false)))
        .drift(ROUNDING_DRIFT)
        .at_most(1e-8),
    );
    out.claim(
        Claim::new(
            "C1b",
            "The static algorithm's IHVP equals F^{-1}x.",
            "paper, static algorithm; repo prun.py HInvFastSwap",
        )
        .measured(worst("static", false))
        .detail(format!("same vectors and G: {}", per_damp("static", false)))
        .drift(ROUNDING_DRIFT)
        .at_most(1e-8),
    );
    out.claim(
        Claim::new(
            "C1c",
            "The static algorithm gives any element of diag(F^{-1}) in O(m), exactly.",
            "abstract; repo prun.py diag()",
        )
        .measured(worst("static", true))
        .detail(format!(
            "max elementwise rel. error of diag(F^{{-1}}) vs the dense inverse: {}",
            per_damp("static", true)
        ))
        .drift(ROUNDING_DRIFT)
        .at_most(1e-9),
    );
    if cfg.exact_hinv_slow {
        out.note(format!(
            "The repo's own reference `HInvSlow` (dense recursive Sherman-Morrison) agrees with the dense Cholesky solve \
             to {} at worst (IHVPs) — the same level as M-FAC: the residual errors are the dense reference's own \
             rounding, of order κ(F)·ε.",
            fmt_num(worst("hinv_slow", false))
        ));
    }
    let errs = exact::ring_buffer(cfg.ring_m, cfg.ring_d, cfg.ring_inserts, cfg.ring_damp, ctx.seed.child("ring"));
    out.claim(
        Claim::new(
            "C1d",
            "Replacing the oldest gradient of the window (O(dm + m^3)) keeps the IHVP exact for the new window.",
            "paper, dynamic algorithm (window updates); repo optim.py update/update_mul",
        )
        .measured(errs.iter().copied().fold(0.0, f64::max))
        .detail(format!(
            "max rel. error vs a dense solve on the current window after each of {} inserts (m = {}, d = {}, λ = {}), alternating update+mul and update_mul",
            cfg.ring_inserts, cfg.ring_m, cfg.ring_d, fmt_num(cfg.ring_damp)
        ))
        .drift(ROUNDING_DRIFT)
        .at_most(1e-9),
    );
    out.table(exact_table(&rows));
    out.table(
        Table::new(
            "ring_buffer",
            "Dynamic algorithm after each insert into the ring buffer: rel. error vs a dense solve",
        )
        .usize("insert", (1..=errs.len()).collect())
        .f64("rel_err", errs.clone()),
    );
    let mut fig =
        Figure::xy("exactness", "IHVP error vs the dense Cholesky solve", "damping λ", "rel. error").log_x().log_y();
    for alg in ["dynamic", "static", "hinv_slow"] {
        let pts: Vec<(f64, f64)> = cfg
            .exact_damps
            .iter()
            .map(|&l| {
                (
                    l,
                    rows.iter()
                        .filter(|r| r.algorithm == alg && r.vector != "diag" && r.damp == l)
                        .map(|r| r.rel_err)
                        .fold(0.0, f64::max),
                )
            })
            .filter(|p| p.1 > 0.0)
            .collect();
        if !pts.is_empty() {
            fig = fig.series(Series::line_markers(
                alg,
                pts.iter().map(|p| p.0).collect(),
                pts.iter().map(|p| p.1).collect(),
            ));
        }
    }
    let ke: Vec<f64> =
        cfg.exact_damps.iter().map(|&l| rows.iter().find(|r| r.damp == l).map_or(f64::NAN, |r| r.kappa_eps)).collect();
    fig = fig.series(Series::dashed("κ(F)·ε", cfg.exact_damps.clone(), ke));
    out.figure(fig);
}

fn exact_table(rows: &[ExactRow]) -> Table {
    Table::new("exactness", "IHVP and diag(F^-1) against the dense Cholesky reference")
        .f64("damp", rows.iter().map(|r| r.damp).collect())
        .str("vector", rows.iter().map(|r| r.vector.clone()).collect())
        .str("algorithm", rows.iter().map(|r| r.algorithm.clone()).collect())
        .f64("rel_err", rows.iter().map(|r| r.rel_err).collect())
        .f64("kappa_eps", rows.iter().map(|r| r.kappa_eps).collect())
}

// ---------------------------------------------------------------------------------------------
// M3

fn run_timing(cfg: &Config, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(cfg.timing_threads.max(1)).build()?;
    let seed = ctx.seed.child("timing");
    let (dsweep, msweep, dense) = pool.install(|| {
        let ds: Vec<(usize, usize)> = cfg.timing_ds.iter().map(|&d| (cfg.timing_m, d)).collect();
        let ms: Vec<(usize, usize)> = cfg.timing_ms.iter().map(|&m| (m, cfg.timing_d)).collect();
        let a = timing::time_sweep(&ds, cfg.timing_reps, cfg.timing_damp, seed.child("d"));
        let b = timing::time_sweep(&ms, cfg.timing_reps, cfg.timing_damp, seed.child("m"));
        let c = timing::time_dense(&cfg.dense_ds, cfg.dense_m, cfg.dense_reps, cfg.timing_damp, seed.child("dense"));
        (a, b, c)
    });

    let fit_d: Vec<&TimingRow> = dsweep.iter().filter(|r| r.d >= cfg.timing_fit_min_d).collect();
    let xd: Vec<f64> = fit_d.iter().map(|r| r.d as f64).collect();
    let xm: Vec<f64> = msweep.iter().map(|r| r.m as f64).collect();
    let slope_d = |f: fn(&TimingRow) -> &Stat| round_median_slope(&xd, &fit_d.iter().map(|r| f(r)).collect::<Vec<_>>());
    let slope_m = |f: fn(&TimingRow) -> &Stat| round_median_slope(&xm, &msweep.iter().map(f).collect::<Vec<_>>());
    let simple = |x: &[f64], rows: &[&TimingRow], f: fn(&TimingRow) -> &Stat| {
        let mins: Vec<f64> = rows.iter().map(|r| f(r).min).collect();
        let meds: Vec<f64> = rows.iter().map(|r| f(r).median).collect();
        format!(
            "slope of the minima {}, of the medians {}",
            fmt_num(loglog_slope(x, &mins)),
            fmt_num(loglog_slope(x, &meds))
        )
    };
    let mrows: Vec<&TimingRow> = msweep.iter().collect();
    let how = format!(
        "per-round log-log fit over the {} interleaved rounds, median over rounds; {} thread(s)",
        cfg.timing_reps, cfg.timing_threads
    );
    // multiply-add counts are deterministic: a plain log-log fit
    let ops_d =
        |f: fn(&OpCounts) -> u64| loglog_slope(&xd, &fit_d.iter().map(|r| f(&r.ops) as f64).collect::<Vec<_>>());
    let ops_m =
        |f: fn(&OpCounts) -> u64| loglog_slope(&xm, &msweep.iter().map(|r| f(&r.ops) as f64).collect::<Vec<_>>());
    let band = (0.8, 1.2);
    let wrong = "an IHVP that rebuilt the vectors v_i = B G on every call (O(dm^2)) or used a d x d matrix (O(d^2)) \
                 would give about 2";
    let noisy = |range: &str| {
        format!(
            "reported: wall-clock slopes on a shared 2-core machine move with other processes' memory traffic; in about \
             15 runs of this sweep under a load average of 4-7 {range}, too close to the band for a CI gate, so the \
             multiply-add count carries the gated claim"
        )
    };
    let d_sizes = fit_d.iter().map(|r| r.d).collect::<Vec<_>>();
    out.claim(
        Claim::new("C2a", "The dynamic algorithm's IHVP costs O(dm + m^2): linear in d.", "abstract; paper, dynamic algorithm")
            .measured(ops_d(|o| o.ihvp))
            .detail(format!(
                "log-log slope of the multiply-adds counted in the kernels, m = {}, d ∈ {d_sizes:?}; measured time: see C2d; {wrong}",
                cfg.timing_m
            ))
            .drift(0.05)
            .between(band.0, band.1),
    );
    out.claim(
        Claim::new(
            "C2b",
            "The dynamic algorithm's IHVP costs O(dm + m^2): linear in m while dm dominates.",
            "abstract; paper, dynamic algorithm",
        )
        .measured(ops_m(|o| o.ihvp))
        .detail(format!("same count, d = {}, m ∈ {:?}; measured time: see C2e; {wrong}", cfg.timing_d, cfg.timing_ms))
        .drift(0.05)
        .between(band.0, band.1),
    );
    out.claim(
        Claim::new("C2c", "The static algorithm's IHVP costs O(dm): linear in d and in m.", "abstract; paper, static algorithm")
            .measured(ops_d(|o| o.static_ihvp).max(ops_m(|o| o.static_ihvp)))
            .detail(format!(
                "larger of the count slopes in d ({}) and in m ({}); measured time: slope in d {}, in m {} (robust, ungated)",
                fmt_num(ops_d(|o| o.static_ihvp)),
                fmt_num(ops_m(|o| o.static_ihvp)),
                fmt_num(slope_d(|r| &r.static_ihvp)),
                fmt_num(slope_m(|r| &r.static_ihvp))
            ))
            .drift(0.05)
            .between(band.0, band.1),
    );
    out.claim(
        Claim::new("C2d", "Measured: the dynamic IHVP's time is linear in d.", "abstract; paper, dynamic algorithm")
            .measured(slope_d(|r| &r.ihvp))
            .detail(format!("m = {}, d ∈ {d_sizes:?}; {how}; {}", cfg.timing_m, simple(&xd, &fit_d, |r| &r.ihvp)))
            .drift(0.2)
            .between(band.0, band.1)
            .not_gated(&noisy("this slope ranged 0.80-1.08")),
    );
    out.claim(
        Claim::new("C2e", "Measured: the dynamic IHVP's time is linear in m.", "abstract; paper, dynamic algorithm")
            .measured(slope_m(|r| &r.ihvp))
            .detail(format!(
                "d = {}, m ∈ {:?}; {how}; {}",
                cfg.timing_d,
                cfg.timing_ms,
                simple(&xm, &mrows, |r| &r.ihvp)
            ))
            .drift(0.2)
            .between(band.0, band.1)
            .not_gated(&noisy("this slope ranged 0.98-1.09 and its minimum-based variant reached 1.25")),
    );
    out.claim(
        Claim::new(
            "C2f",
            "Replacing a gradient costs O(dm + m^3): linear in d at fixed m, with an m^3 term.",
            "abstract; paper, dynamic algorithm",
        )
        .measured(ops_d(|o| o.update))
        .detail(format!(
            "count slope in d {}; in m at d = {}: count {} (the m^3 term of the LU and the coefficient recursion), time {}; \
             time slope in d {} ({})",
            fmt_num(ops_d(|o| o.update)),
            cfg.timing_d,
            fmt_num(ops_m(|o| o.update)),
            fmt_num(slope_m(|r| &r.update)),
            fmt_num(slope_d(|r| &r.update)),
            simple(&xd, &fit_d, |r| &r.update)
        ))
        .drift(0.05)
        .between(band.0, band.1)
        .not_gated("reported: the gated IHVP claims carry the complexity; the update's m^3 share depends on m"),
    );
    let setup_time_d = loglog_slope(&xd, &fit_d.iter().map(|r| r.static_setup).collect::<Vec<_>>());
    let setup_time_m = loglog_slope(&xm, &msweep.iter().map(|r| r.static_setup).collect::<Vec<_>>());
    out.claim(
        Claim::new(
            "C2g",
            "The static precomputation costs O(dm^2): quadratic in m.",
            "abstract; paper, static algorithm",
        )
        .measured(ops_m(|o| o.static_setup))
        .detail(format!(
            "count slope in m {} (page-sized terms linear in m lower it below 2 at small m) and in d {}; \
                 time (one measurement per size): slope in m {}, in d {}",
            fmt_num(ops_m(|o| o.static_setup)),
            fmt_num(ops_d(|o| o.static_setup)),
            fmt_num(setup_time_m),
            fmt_num(setup_time_d)
        ))
        .drift(0.05)
        .between(1.5, 2.2)
        .not_gated("reported: the precomputation is not an IHVP claim of the paper's headline; one timing per size"),
    );
    let xdd: Vec<f64> = dense.iter().skip(1).map(|p| p.0 as f64).collect();
    let dense_stats: Vec<&Stat> = dense.iter().skip(1).map(|p| &p.1).collect();
    let dense_mins: Vec<f64> = dense_stats.iter().map(|s| s.min).collect();
    let dense_meds: Vec<f64> = dense_stats.iter().map(|s| s.median).collect();
    out.claim(
        Claim::new(
            "C2h",
            "The dense alternative (form F, Cholesky, solve) is cubic in d.",
            "paper, introduction (explicit inverse: O(d^3))",
        )
        .measured(round_median_slope(&xdd, &dense_stats))
        .detail(format!(
            "measured time, d ∈ {:?} (the smallest size excluded from the fit), m = {}; slope of the minima {}, of the medians {}",
            dense.iter().skip(1).map(|p| p.0).collect::<Vec<_>>(),
            cfg.dense_m,
            fmt_num(loglog_slope(&xdd, &dense_mins)),
            fmt_num(loglog_slope(&xdd, &dense_meds))
        ))
        .drift(0.15)
        .at_least(2.4)
        .not_gated(
            "reported: a property of the baseline, not of M-FAC, and a wall-clock slope (faer's Cholesky runs closer to \
             peak speed as d grows; 2.7-3.1 in repeated runs)",
        ),
    );

    let (mut c_sweep, mut c_d, mut c_m, mut c_op, mut c_min, mut c_med, mut c_ops) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (sweep, rows) in [("d", &dsweep), ("m", &msweep)] {
        for r in rows.iter() {
            let setup = Stat { min: r.static_setup, median: r.static_setup, samples: vec![r.static_setup] };
            for (op, st, n) in [
                ("ihvp_dynamic", &r.ihvp, r.ops.ihvp),
                ("update_dynamic", &r.update, r.ops.update),
                ("ihvp_static", &r.static_ihvp, r.ops.static_ihvp),
                ("setup_static", &setup, r.ops.static_setup),
            ] {
                c_sweep.push(sweep.to_string());
                c_d.push(r.d);
                c_m.push(r.m);
                c_op.push(op.to_string());
                c_min.push(st.min);
                c_med.push(st.median);
                c_ops.push(n as f64);
            }
        }
    }
    for (d, st) in &dense {
        c_sweep.push("dense".into());
        c_d.push(*d);
        c_m.push(cfg.dense_m);
        c_op.push("dense_cholesky_solve".into());
        c_min.push(st.min);
        c_med.push(st.median);
        c_ops.push(f64::NAN);
    }
    out.table(
        Table::new(
            "timing",
            "Seconds per operation (minimum and median over interleaved repeats; setup: one measurement) and \
             multiply-adds counted by the kernels (NaN: not counted, faer's dense code)",
        )
        .str("sweep", c_sweep)
        .usize("d", c_d)
        .usize("m", c_m)
        .str("op", c_op)
        .f64("t_min", c_min)
        .f64("t_median", c_med)
        .f64("mul_adds", c_ops),
    );

    // figures: time vs d (with the dense alternative) and vs m, slope guides through a middle point
    let guide = |x: &[f64], x0: f64, y0: f64, p: f64| x.iter().map(|&v| y0 * (v / x0).powf(p)).collect::<Vec<f64>>();
    let xs: Vec<f64> = dsweep.iter().map(|r| r.d as f64).collect();
    let med = |rows: &[TimingRow], f: fn(&TimingRow) -> &Stat| rows.iter().map(|r| f(r).median).collect::<Vec<f64>>();
    let band_of = |rows: &[TimingRow], f: fn(&TimingRow) -> &Stat| {
        (
            rows.iter().map(|r| f(r).min).collect::<Vec<f64>>(),
            rows.iter().map(|r| f(r).samples.iter().copied().fold(0.0, f64::max)).collect::<Vec<f64>>(),
        )
    };
    let ihvp_d = med(&dsweep, |r| &r.ihvp);
    let (lo, hi) = band_of(&dsweep, |r| &r.ihvp);
    let k = dsweep.len() / 2;
    let xdn: Vec<f64> = dense.iter().map(|p| p.0 as f64).collect();
    let ydn: Vec<f64> = dense.iter().map(|p| p.1.median).collect();
    let kd = dense.len() / 2;
    let mut all_x = xdn.clone();
    all_x.extend(&xs);
    out.figure(
        Figure::xy("time_vs_d", &format!("Cost vs d (m = {})", cfg.timing_m), "d", "seconds")
            .log_x()
            .log_y()
            .series(
                Series::line_markers("dynamic IHVP (median, band min-max)", xs.clone(), ihvp_d.clone())
                    .with_band(lo, hi),
            )
            .series(Series::line_markers("dynamic update", xs.clone(), med(&dsweep, |r| &r.update)))
            .series(Series::line_markers("static IHVP", xs.clone(), med(&dsweep, |r| &r.static_ihvp)))
            .series(Series::line_markers("static setup", xs.clone(), dsweep.iter().map(|r| r.static_setup).collect()))
            .series(Series::line_markers(
                &format!("dense Cholesky solve (m = {})", cfg.dense_m),
                xdn.clone(),
                ydn.clone(),
            ))
            .series(Series::dashed("slope 1", xs.clone(), guide(&xs, xs[k], ihvp_d[k], 1.0)))
            .series(Series::dashed("slope 3", xdn.clone(), guide(&xdn, xdn[kd], ydn[kd], 3.0))),
    );
    let ihvp_m = med(&msweep, |r| &r.ihvp);
    let (lo, hi) = band_of(&msweep, |r| &r.ihvp);
    let km = msweep.len() / 2;
    out.figure(
        Figure::xy("time_vs_m", &format!("Cost vs m (d = {})", cfg.timing_d), "m", "seconds")
            .log_x()
            .log_y()
            .series(
                Series::line_markers("dynamic IHVP (median, band min-max)", xm.clone(), ihvp_m.clone())
                    .with_band(lo, hi),
            )
            .series(Series::line_markers("dynamic update", xm.clone(), med(&msweep, |r| &r.update)))
            .series(Series::line_markers("static IHVP", xm.clone(), med(&msweep, |r| &r.static_ihvp)))
            .series(Series::line_markers("static setup", xm.clone(), msweep.iter().map(|r| r.static_setup).collect()))
            .series(Series::dashed("slope 1", xm.clone(), guide(&xm, xm[km], ihvp_m[km], 1.0)))
            .series(Series::dashed("slope 2", xm.clone(), guide(&xm, xm[km], msweep[km].static_setup, 2.0))),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// M5

fn run_pruning(cfg: &Config, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let settings = PruneSettings {
        m: cfg.prune_m,
        damp_rel: cfg.prune_damp_rel,
        blocksize: cfg.prune_blocksize,
        device: ctx.device,
    };
    let seeds: Vec<usize> = (0..cfg.seeds).collect();
    let res: Vec<PruneSeed> = ctx.grid("prune", &seeds, |&k, _| {
        let s = ctx.seed.child("task").child_idx("seed", k as u64);
        let t = task::Task::digits(s.child("split"), cfg.test_frac, cfg.hidden)?;
        let w = task::train_dense(&t, cfg.dense_epochs, cfg.batch, cfg.dense_lr, s.child("dense"));
        let dense_acc = t.test_problem().accuracy(w.view());
        let widx = task::weight_indices(&t.model);
        let mut paths = vec![];
        let mut obs = vec![];
        for meth in [Method::Magnitude, Method::Mfac, Method::MfacOneStep] {
            let (p, chk) = prune::prune_path(&t, &w, &widx, &cfg.sparsities, meth, &settings, s.child("prune"));
            paths.push((meth, p));
            obs.extend(chk);
        }
        Ok(PruneSeed { dense_acc, paths, obs })
    })?;

    let acc = |r: &PruneSeed, m: Method, lvl: f64| {
        r.paths
            .iter()
            .find(|p| p.0 == m)
            .and_then(|p| p.1.iter().find(|q| (q.sparsity - lvl).abs() < 1e-9))
            .map_or(f64::NAN, |q| q.test_acc)
    };
    // C3: at each gate sparsity, the number of seeds where M-FAC >= magnitude; the claim takes the
    // worst gate sparsity
    let mut wins = vec![];
    let mut margins = vec![];
    for &lvl in &cfg.gate_sparsities {
        let w = res.iter().filter(|r| acc(r, Method::Mfac, lvl) >= acc(r, Method::Magnitude, lvl)).count();
        let mean_margin = res.iter().map(|r| acc(r, Method::Mfac, lvl) - acc(r, Method::Magnitude, lvl)).sum::<f64>()
            / res.len() as f64;
        wins.push(w);
        margins.push(format!(
            "{}%: {w}/{} seeds, mean margin {:+.1} points",
            lvl * 100.0,
            res.len(),
            100.0 * mean_margin
        ));
    }
    let need = (2 * cfg.seeds).div_ceil(3);
    let min_wins = wins.iter().copied().min().unwrap_or(0);
    let dense_accs: Vec<String> = res.iter().map(|r| format!("{:.3}", r.dense_acc)).collect();
    out.claim(
        Claim::new(
            "C3",
            "One-shot OBS pruning with the static M-FAC inverse Fisher keeps more accuracy than magnitude pruning at equal sparsity.",
            "paper, pruning experiments (ResNet/MobileNet on ImageNet there); repo main_prun.py MFACPruner",
        )
        .measured(min_wins as f64)
        .detail(format!(
            "seeds (of {}) where M-FAC OBS test accuracy >= magnitude's, worst over sparsities {:?}; {}. MLP 64-{}-10 on digits, \
             dense test accuracy {}; m = {} per-sample gradients, λ = {}·mean diag, F re-estimated at each step of the sparsity path, no fine-tuning. \
             A wrong diag(F^-1) or OBS update would prune no better than magnitude (or worse).",
            cfg.seeds,
            cfg.gate_sparsities,
            margins.join("; "),
            cfg.hidden,
            dense_accs.join(", "),
            cfg.prune_m,
            fmt_num(cfg.prune_damp_rel)
        ))
        .drift(0.34)
        .at_least(need as f64),
    );
    // C3b: OBS bookkeeping (diag and update agree)
    let dev = res
        .iter()
        .flat_map(|r| r.obs.iter())
        .map(|c| (c.fisher_quadratic / c.predicted - 1.0).abs().max(c.residual_weight))
        .fold(0.0, f64::max);
    let ratios: Vec<String> = res
        .iter()
        .flat_map(|r| r.obs.iter())
        .filter(|c| c.quantile == 0.5)
        .map(|c| fmt_num(c.loss_increase / c.predicted))
        .collect();
    out.claim(
        Claim::new(
            "C3b",
            "The OBS saliency w_q^2/(2[F^-1]_qq) is the increase of the quadratic model 0.5·δwᵀFδw under the OBS update δw = -w_q F^-1 e_q/[F^-1]_qq, which removes w_q exactly.",
            "paper, OBS pruning background; repo main_prun.py MFACPruner",
        )
        .measured(dev)
        .detail(format!(
            "max over seeds and weights at score quantiles {:?} of the first pruning step of max(|quadratic/saliency - 1|, |w_q + δw_q|/|w_q|), \
             with F applied matrix-free from the gradients. Realised training-loss increase / saliency for the median weight, per seed: {} \
             (the empirical Fisher is a model of the loss, not the loss).",
            prune::OBS_QUANTILES,
            ratios.join(", ")
        ))
        // rounding-level (~1e-15): only the bound is meaningful, not its drift
        .drift(1e6)
        .at_most(1e-6),
    );
    let mut t = (vec![], vec![], vec![], vec![], vec![]);
    for (k, r) in res.iter().enumerate() {
        for (m, path) in &r.paths {
            for p in path {
                t.0.push(k);
                t.1.push(m.name().to_string());
                t.2.push(p.sparsity);
                t.3.push(p.test_acc);
                t.4.push(p.train_loss);
            }
        }
    }
    out.table(
        Table::new("pruning", "One-shot pruning of the MLP weights (no fine-tuning): test accuracy and training loss")
            .usize("seed", t.0)
            .str("method", t.1)
            .f64("sparsity", t.2)
            .f64("test_acc", t.3)
            .f64("train_loss", t.4),
    );
    let obs: Vec<(usize, &ObsCheck)> =
        res.iter().enumerate().flat_map(|(k, r)| r.obs.iter().map(move |c| (k, c))).collect();
    out.table(
        Table::new(
            "obs_check",
            "OBS check at the first pruning step: saliency vs quadratic model vs realised loss increase",
        )
        .usize("seed", obs.iter().map(|o| o.0).collect())
        .f64("quantile", obs.iter().map(|o| o.1.quantile).collect())
        .f64("saliency", obs.iter().map(|o| o.1.predicted).collect())
        .f64("fisher_quadratic", obs.iter().map(|o| o.1.fisher_quadratic).collect())
        .f64("loss_increase", obs.iter().map(|o| o.1.loss_increase).collect())
        .f64("residual_weight", obs.iter().map(|o| o.1.residual_weight).collect()),
    );
    let mut fig = Figure::xy("accuracy_vs_sparsity", "One-shot pruning, MLP on digits", "sparsity", "test accuracy");
    for m in [Method::Magnitude, Method::Mfac, Method::MfacOneStep] {
        let per: Vec<Vec<f64>> = cfg.sparsities.iter().map(|&l| res.iter().map(|r| acc(r, m, l)).collect()).collect();
        let mean: Vec<f64> = per.iter().map(|v| v.iter().sum::<f64>() / v.len() as f64).collect();
        let lo: Vec<f64> = per.iter().map(|v| v.iter().copied().fold(f64::INFINITY, f64::min)).collect();
        let hi: Vec<f64> = per.iter().map(|v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
        let label = match m {
            Method::Magnitude => "magnitude",
            Method::Mfac => "M-FAC OBS (F re-estimated at each step)",
            Method::MfacOneStep => "M-FAC OBS (one F, one step per level)",
        };
        fig = fig.series(Series::line_markers(label, cfg.sparsities.clone(), mean).with_band(lo, hi));
    }
    out.figure(fig);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// M6

fn run_optimizers(cfg: &Config, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let kinds: Vec<(OptKind, &Vec<f64>)> = vec![
        (OptKind::SgdMomentum { beta: cfg.opt_momentum }, &cfg.opt_lrs_sgd),
        (OptKind::Adam, &cfg.opt_lrs_adam),
        (OptKind::Mfac { m: cfg.opt_m, damp: cfg.opt_mfac_damp }, &cfg.opt_lrs_mfac),
        (OptKind::Mfac { m: cfg.opt_m, damp: cfg.opt_small_damp }, &cfg.opt_lrs_mfac_small_damp),
    ];
    let cells: Vec<OptCell> = kinds
        .iter()
        .flat_map(|(k, lrs)| {
            lrs.iter().flat_map(move |&lr| (0..cfg.seeds).map(move |seed| OptCell { opt: *k, lr, seed }))
        })
        .collect();
    let runs: Vec<OptRun> = ctx.grid("optim", &cells, |c, _| {
        let s = ctx.seed.child("task").child_idx("seed", c.seed as u64);
        let t = task::Task::digits(s.child("split"), cfg.test_frac, cfg.hidden)?;
        let w0 = t.model.init(&mut s.child("init").rng());
        let mut opt = c.opt.build(c.lr);
        let (_, curve) =
            task::fit(&t, w0.view(), opt.as_mut(), cfg.opt_epochs, cfg.batch, cfg.opt_eval_every, s.child("batches"));
        Ok(OptRun { curve })
    })?;
    let horizon = runs.iter().map(|r| r.curve.last().map_or(0, |p| p.0)).max().unwrap_or(0);
    // steps to the target: the first evaluation at or below it; never reached = beyond the horizon
    let reach = |r: &OptRun| r.curve.iter().find(|p| p.1 <= cfg.opt_target_loss).map(|p| p.0 as f64);
    let never = 2.0 * horizon.max(1) as f64;
    let med = |v: &[f64]| timing::median(v);
    struct Best {
        kind: OptKind,
        lr: f64,
        steps: f64,
        final_loss: f64,
    }
    let mut best: Vec<Best> = vec![];
    let (mut tk, mut tl, mut ts, mut tseed, mut tfinal) = (vec![], vec![], vec![], vec![], vec![]);
    for (k, lrs) in &kinds {
        let mut b: Option<Best> = None;
        for &lr in lrs.iter() {
            let (mut steps, mut finals) = (vec![], vec![]);
            for (c, r) in cells.iter().zip(&runs).filter(|(c, _)| c.opt == *k && c.lr == lr) {
                let fin = r.curve.last().map_or(f64::NAN, |p| p.1);
                tk.push(k.label());
                tl.push(lr);
                tseed.push(c.seed);
                ts.push(reach(r).unwrap_or(f64::NAN));
                tfinal.push(fin);
                steps.push(reach(r).unwrap_or(never));
                // a diverged run (stopped early, or non-finite) ranks last on the tie-break
                finals.push(if r.curve.last().is_some_and(|p| p.0 == horizon) && fin.is_finite() {
                    fin
                } else {
                    f64::INFINITY
                });
            }
            // tuned = fewest median steps to the target; ties (e.g. never reached) by median final loss
            let cand = Best { kind: *k, lr, steps: med(&steps), final_loss: med(&finals) };
            if b.as_ref().is_none_or(|b| (cand.steps, cand.final_loss) < (b.steps, b.final_loss)) {
                b = Some(cand);
            }
        }
        best.extend(b);
    }
    let fmt_best = |b: &Best| {
        let s = if b.steps >= never {
            format!("not reached (final loss {})", fmt_num(b.final_loss))
        } else {
            format!("{} steps", fmt_num(b.steps))
        };
        format!("{} at lr {}: {s}", b.kind.label(), fmt_num(b.lr))
    };
    let mfac_best = &best[2];
    let baseline = best[0].steps.min(best[1].steps);
    out.claim(
        Claim::new(
            "C4",
            "M-FAC-preconditioned SGD reaches a target loss in fewer steps than SGD and Adam, each at its tuned step size.",
            "paper, optimization experiments (ResNets on CIFAR there); repo main_optim.py",
        )
        .measured(mfac_best.steps / baseline)
        .detail(format!(
            "steps to training loss <= {} (median over {} seeds; learning rates tuned per optimizer on the listed grid): {}. \
             measured = M-FAC / best of SGD and Adam",
            fmt_num(cfg.opt_target_loss),
            cfg.seeds,
            best.iter().map(fmt_best).collect::<Vec<_>>().join("; ")
        ))
        .drift(0.3)
        .at_most(1.0)
        .not_gated(
            "reported: on this 2.4k-parameter MLP the tuned M-FAC run is level with tuned Adam (within about ±15% of its \
             steps across seeds in exploratory runs) and ahead of SGD with momentum, so the sign of the comparison is not \
             stable; the paper's setting (ResNets on CIFAR-10, m = 512-1024) is out of reach of the quick profile",
        ),
    );
    out.table(
        Table::new(
            "optim",
            "Optimizer comparison: steps to the target training loss (NaN: not reached) and final loss",
        )
        .str("optimizer", tk)
        .f64("lr", tl)
        .usize("seed", tseed)
        .f64("steps_to_target", ts)
        .f64("final_train_loss", tfinal),
    );
    let mut fig = Figure::xy(
        "loss_vs_steps",
        "Training loss at the tuned step size (median over seeds)",
        "step",
        "training loss",
    )
    .log_y();
    for b in &best {
        let rs: Vec<&OptRun> =
            cells.iter().zip(&runs).filter(|(c, _)| c.opt == b.kind && c.lr == b.lr).map(|p| p.1).collect();
        let n = rs.iter().map(|r| r.curve.len()).min().unwrap_or(0);
        let x: Vec<f64> = (0..n).map(|i| rs[0].curve[i].0 as f64).collect();
        let y: Vec<f64> = (0..n).map(|i| med(&rs.iter().map(|r| r.curve[i].1).collect::<Vec<_>>())).collect();
        fig = fig.series(Series::line(&format!("{} lr {}", b.kind.label(), fmt_num(b.lr)), x, y));
    }
    fig = fig.series(Series::hline("target", cfg.opt_target_loss, 0.0, horizon as f64));
    out.figure(fig);
    Ok(())
}

#[cfg(test)]
mod tests;
