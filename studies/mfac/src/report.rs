//! The report's sections, in the claims' order: the scaling (C2a-C2h), the exactness (C1a-C1d),
//! the pruning (C3, C3b) and the optimizers (C4), each with its tables and figures.
use crate::prune::{self, Method, PruneSeed};
use crate::timing::{self, Scaling, SweepFit};
use crate::{C1A, C1B, C1C, C1D, C2A, C2B, C2C, C2D, C2E, C2F, C2G, C2H, C3, C3C, C3D, C4};
use crate::{Config, Results, compare, figures};
use common::report::{fmt_list, fmt_num};
use common::{Expect, Outcome, Table};
use serde::Serialize;

/// C2a-C2h: count slopes (gated) and time slopes (reported); the timing table and figures.
pub fn report_scaling(cfg: &Config, s: &Scaling, out: &mut Outcome) {
    let (fd, fm) = (SweepFit::over_d(&s.d_sweep, cfg.timing_fit_min_d), SweepFit::over_m(&s.m_sweep));
    let d_sizes: Vec<usize> = fd.rows.iter().map(|r| r.d).collect();
    let ms = &cfg.timing_ms;
    let how = format!(
        "per-round log-log fit over the {} interleaved rounds, median over rounds; {} thread(s)",
        cfg.timing_reps, cfg.timing_threads
    );
    let simple =
        |(min, med): (f64, f64)| format!("slope of the minima {}, of the medians {}", fmt_num(min), fmt_num(med));
    let tm = cfg.timing_m;
    out.claim(C2A.loglog_slope(&fd.x, &fd.ops(|o| o.ihvp)).detail(format!(
        "multiplications counted where the kernels execute them, m = {tm}, d ∈ {d_sizes:?}; measured time: see C2d"
    )));
    out.claim(
        C2B.loglog_slope(&fm.x, &fm.ops(|o| o.ihvp))
            .detail(format!("same count, d = {}, m ∈ {ms:?}; measured time: see C2e", cfg.timing_d)),
    );
    let (sd, sm) = (fd.ops_slope(|o| o.static_ihvp), fm.ops_slope(|o| o.static_ihvp));
    out.claim(C2C.measured(sd.max(sm)).detail(format!(
        "larger of the count slopes in d ({}) and in m ({}); measured time: slope in d {}, in m {} (robust, ungated)",
        fmt_num(sd),
        fmt_num(sm),
        fmt_num(fd.time_slope(|r| &r.static_ihvp)),
        fmt_num(fm.time_slope(|r| &r.static_ihvp))
    )));
    // nanoseconds per counted multiplication of the IHVP (median time / count), at every size of a fit
    let per_op = |f: &SweepFit| {
        let v: Vec<f64> = f.rows.iter().map(|r| 1e9 * r.ihvp.median / r.ops.ihvp as f64).collect();
        format!("ns per counted multiplication {}", fmt_list(&v))
    };
    let ihvp_d = simple(fd.min_median_slopes(|r| &r.ihvp));
    out.claim(
        C2D.measured(fd.time_slope(|r| &r.ihvp))
            .detail(format!("m = {tm}, d ∈ {d_sizes:?}; {how}; {ihvp_d}; {}", per_op(&fd))),
    );
    let ihvp_m = simple(fm.min_median_slopes(|r| &r.ihvp));
    let td = cfg.timing_d;
    out.claim(
        C2E.measured(fm.time_slope(|r| &r.ihvp))
            .detail(format!("d = {td}, m ∈ {ms:?}; {how}; {ihvp_m}; {}", per_op(&fm))),
    );
    out.claim(C2F.measured(fd.ops_slope(|o| o.update)).detail(format!(
        "count slope in d {}; in m at d = {td}: count {} (the m^3 term of the LU and the coefficient recursion), time \
         {}; time slope in d {} ({})",
        fmt_num(fd.ops_slope(|o| o.update)),
        fmt_num(fm.ops_slope(|o| o.update)),
        fmt_num(fm.time_slope(|r| &r.update)),
        fmt_num(fd.time_slope(|r| &r.update)),
        simple(fd.min_median_slopes(|r| &r.update))
    )));
    out.claim(C2G.measured(fm.ops_slope(|o| o.static_setup)).detail(format!(
        "count slope in m {} (page-sized terms linear in m lower it below 2 at small m) and in d {}; time (one \
         measurement per size): slope in m {}, in d {}",
        fmt_num(fm.ops_slope(|o| o.static_setup)),
        fmt_num(fd.ops_slope(|o| o.static_setup)),
        fmt_num(fm.setup_slope()),
        fmt_num(fd.setup_slope())
    )));
    let dense = &s.dense[1..];
    let xdd: Vec<f64> = dense.iter().map(|p| p.d as f64).collect();
    let stats: Vec<&timing::Stat> = dense.iter().map(|p| &p.time).collect();
    let mins: Vec<f64> = stats.iter().map(|s| s.min).collect();
    let meds: Vec<f64> = stats.iter().map(|s| s.median).collect();
    let slopes = (timing::loglog_slope(&xdd, &mins), timing::loglog_slope(&xdd, &meds));
    out.claim(C2H.measured(timing::round_median_slope(&xdd, &stats)).detail(format!(
        "measured time, d ∈ {:?} (the smallest size excluded from the fit), m = {}; {}",
        dense.iter().map(|p| p.d).collect::<Vec<_>>(),
        cfg.dense_m,
        simple(slopes)
    )));
    out.table(Table::from_rows(
        "timing",
        "Seconds per operation (minimum and median over interleaved repeats; setup: one measurement) and \
         multiplications executed by the kernels (NaN: not counted, faer's dense code)",
        &timing::table_rows(s, cfg.dense_m),
    ));
    out.figure(figures::time_vs_d(cfg, s)).figure(figures::time_vs_m(cfg, s));
}

/// C1a-C1d: the worst error of each algorithm over damps and vectors; tables and figure.
pub fn report_exactness(cfg: &Config, r: &Results, out: &mut Outcome) {
    let sel = |alg: &'static str, diag: bool| {
        r.exact.iter().filter(move |x| x.algorithm == alg && (x.vector == "diag") == diag)
    };
    let items = |alg, diag| sel(alg, diag).map(|x| (format!("λ={} {}", fmt_num(x.damp), x.vector), x.rel_err));
    let per_damp = |alg, diag| {
        let each = cfg.exact_damps.iter().map(|&l| {
            let (e, ke) =
                sel(alg, diag).filter(|x| x.damp == l).fold((0.0f64, 0.0f64), |a, x| (a.0.max(x.rel_err), x.kappa_eps));
            format!("λ={}: {} (κ·ε = {})", fmt_num(l), fmt_num(e), fmt_num(ke))
        });
        each.collect::<Vec<_>>().join("; ")
    };
    let (m, d) = (cfg.exact_m, cfg.exact_d);
    out.claim(C1A.max_of(items("dynamic", false)).detail(format!(
        "max rel. error vs dense Cholesky over x ∈ {{random, in span(G), a stored gradient}}, random G ({m} x {d}, \
         N(0,1)), f64: {}",
        per_damp("dynamic", false)
    )));
    out.claim(C1B.max_of(items("static", false)).detail(format!("same vectors and G: {}", per_damp("static", false))));
    out.claim(C1C.max_of(items("static", true)).detail(format!(
        "max elementwise rel. error of diag(F^{{-1}}) vs the dense inverse: {}",
        per_damp("static", true)
    )));
    if cfg.exact_hinv_slow {
        out.note(format!(
            "The repo's own reference `HInvSlow` (dense recursive Sherman-Morrison) agrees with the dense Cholesky solve \
             to {} at worst (IHVPs) — the same level as M-FAC: the residual errors are the dense reference's own \
             rounding, of order κ(F)·ε.",
            fmt_num(sel("hinv_slow", false).map(|x| x.rel_err).fold(0.0, f64::max))
        ));
    }
    out.claim(C1D.max_of(r.ring.iter().enumerate().map(|(k, e)| (format!("insert {}", k + 1), *e))).detail(format!(
        "max rel. error vs a dense solve on the current window after each of {} inserts (m = {}, d = {}, λ = {}), \
         alternating update+mul and update_mul",
        cfg.ring_inserts,
        cfg.ring_m,
        cfg.ring_d,
        fmt_num(cfg.ring_damp)
    )));
    out.table(Table::from_rows("exactness", "IHVP and diag(F^-1) against the dense Cholesky reference", &r.exact));
    #[derive(Serialize)]
    struct RingRow {
        insert: usize,
        rel_err: f64,
    }
    let ring: Vec<RingRow> =
        r.ring.iter().enumerate().map(|(k, &rel_err)| RingRow { insert: k + 1, rel_err }).collect();
    let caption = "Dynamic algorithm after each insert into the ring buffer: rel. error vs a dense solve";
    out.table(Table::from_rows("ring_buffer", caption, &ring));
    out.figure(figures::exactness(cfg, &r.exact));
}

/// C3: seeds on which M-FAC OBS beats magnitude, worst gate sparsity; C3c: how well the saliency
/// predicts the loss.
pub fn report_pruning(cfg: &Config, res: &[PruneSeed], out: &mut Outcome) {
    let (mut wins, mut margins) = (vec![], vec![]);
    for &lvl in &cfg.gate_sparsities {
        let gain = |r: &PruneSeed| r.acc(Method::Mfac, lvl) - r.acc(Method::Magnitude, lvl);
        let w = res.iter().filter(|r| r.acc(Method::Mfac, lvl) > r.acc(Method::Magnitude, lvl)).count();
        let mean_margin = res.iter().map(gain).sum::<f64>() / res.len() as f64;
        wins.push(w);
        let (pct, n) = (lvl * 100.0, res.len());
        margins.push(format!("{pct}%: {w}/{n} seeds, mean margin {:+.1} points", 100.0 * mean_margin));
    }
    let need = (2 * cfg.seeds).div_ceil(3);
    let dense_accs: Vec<String> = res.iter().map(|r| format!("{:.3}", r.dense_acc)).collect();
    out.claim(
        C3.measured(wins.iter().copied().min().unwrap_or(0) as f64)
            .expect_instead(Expect::at_least(need as f64))
            .detail(format!(
                "seeds (of {}) where M-FAC OBS test accuracy > magnitude's, worst over sparsities {:?}; {}. MLP \
                 64-{}-10 on digits, dense test accuracy {}; m = {} per-sample gradients, λ = {}·mean diag, F \
                 re-estimated at each step of the sparsity path, no fine-tuning",
                cfg.seeds,
                cfg.gate_sparsities,
                margins.join("; "),
                cfg.hidden,
                dense_accs.join(", "),
                cfg.prune_m,
                fmt_num(cfg.prune_damp_rel)
            )),
    );
    let (c3c, c3d) = saliency_claims(res);
    out.claim(c3c).claim(c3d);
    let (paths, checks) = prune::table_rows(res);
    let caption = "One-shot pruning of the MLP weights (no fine-tuning): test accuracy and training loss";
    out.table(Table::from_rows("pruning", caption, &paths));
    let caption = "Saliency check at the first pruning step: per candidate weight, the OBS saliency, the realised \
                   training-loss increase of its OBS update, the Taylor model of that increase with the true Hessian, \
                   and the increase of zeroing the weight alone";
    out.table(Table::from_rows("obs_check", caption, &checks));
    out.figure(figures::accuracy_vs_sparsity(cfg, res));
}

/// C4: steps to the target, tuned M-FAC against the better of tuned SGD and Adam.
pub fn report_optimizers(cfg: &Config, r: &Results, out: &mut Outcome) {
    let cmp = compare::compare(cfg, &r.optim);
    let (mfac, baseline) = (cmp.tuned[2].steps, cmp.tuned[0].steps.min(cmp.tuned[1].steps));
    out.claim(C4.ratio("M-FAC", mfac, "best of SGD and Adam", baseline).detail(format!(
        "steps to training loss <= {} (median over {} seeds; learning rates tuned per optimizer on the listed grid): {}",
        fmt_num(cfg.opt_target_loss),
        cfg.seeds,
        cmp.tuned.iter().map(|t| cmp.describe(t)).collect::<Vec<_>>().join("; ")
    )));
    let caption = "Optimizer comparison: steps to the target training loss (NaN: not reached) and final loss";
    out.table(Table::from_rows("optim", caption, &cmp.rows));
    out.figure(figures::loss_vs_steps(cfg, r, &cmp));
}

/// Per-seed numbers of the saliency check (C3c).
pub struct SaliencyFit {
    /// Spearman(saliency, realised increase of the OBS update).
    pub rho: f64,
    /// Spearman(w^2, realised increase of the OBS update): magnitude's ranking of the same steps.
    pub rho_magnitude: f64,
    /// Spearman(w^2, increase of zeroing the weight): magnitude's ranking of its own steps.
    pub rho_magnitude_own: f64,
    /// Spearman(saliency, w^2): how far the saliency's order is from magnitude's.
    pub rho_saliency_magnitude: f64,
    /// Median of realised increase / saliency.
    pub ratio: f64,
    /// Median of realised increase / Taylor model with the true Hessian.
    pub ratio_taylor: f64,
    /// The first block of the path: realised loss increase / summed saliency.
    pub ratio_block: f64,
}

impl SaliencyFit {
    pub fn of(r: &PruneSeed) -> SaliencyFit {
        let col = |f: fn(&prune::ObsCandidate) -> f64| r.obs.iter().map(f).collect::<Vec<f64>>();
        let (sal, inc, w2) = (col(|c| c.saliency), col(|c| c.loss_increase), col(|c| c.weight * c.weight));
        let ratios = |den: &[f64]| common::stats::median(&inc.iter().zip(den).map(|(a, b)| a / b).collect::<Vec<_>>());
        let block = r.paths.iter().find(|p| p.0 == Method::Mfac).and_then(|p| p.1.first());
        SaliencyFit {
            rho: common::stats::spearman(&sal, &inc),
            rho_magnitude: common::stats::spearman(&w2, &inc),
            rho_magnitude_own: common::stats::spearman(&w2, &col(|c| c.zero_increase)),
            rho_saliency_magnitude: common::stats::spearman(&sal, &w2),
            ratio: ratios(&sal),
            ratio_taylor: ratios(&col(|c| c.taylor_hessian)),
            ratio_block: block.map_or(f64::NAN, |b| (b.train_loss - r.dense_loss) / b.predicted_increase),
        }
    }
}

/// C3c: the rank correlation of saliency and realised loss increase; C3d: their ratio. Medians
/// over seeds.
fn saliency_claims(res: &[PruneSeed]) -> (common::Claim, common::Claim) {
    let fits: Vec<SaliencyFit> = res.iter().map(SaliencyFit::of).collect();
    let list = |f: fn(&SaliencyFit) -> f64| fmt_list(&fits.iter().map(f).collect::<Vec<_>>());
    let median = |f: fn(&SaliencyFit) -> f64| common::stats::median(&fits.iter().map(f).collect::<Vec<_>>());
    let c3c = C3C.measured(median(|f| f.rho)).detail(format!(
        "median over seeds of the Spearman correlation, over {} weights at evenly spaced quantiles of the first step's \
         score order, between the OBS saliency and the realised training-loss increase of removing the weight with \
         its OBS update; per seed: {}. Magnitude's w_q^2 ranks the same increases with {} (its order and the \
         saliency's: Spearman {}), and the increases of zeroing the weight alone with {}",
        prune::OBS_CANDIDATES,
        list(|f| f.rho),
        list(|f| f.rho_magnitude),
        list(|f| f.rho_saliency_magnitude),
        list(|f| f.rho_magnitude_own),
    ));
    let c3d = C3D.measured(median(|f| f.ratio)).detail(format!(
        "median over seeds of the median over the same weights of realised increase / saliency; per seed: {}. The \
         second-order Taylor model with the true Hessian (grad·δw + δwᵀHδw/2) gives realised / model {}; the first \
         block of the path (every weight the first step drops, together): realised / summed saliencies {}",
        list(|f| f.ratio),
        list(|f| f.ratio_taylor),
        list(|f| f.ratio_block),
    ));
    (c3c, c3d)
}
