//! Experiment 1 (paper, Sec. 2): a three-layer linear net from small, decoupled, balanced initial
//! conditions. GD is simulated on the full matrices; the mode strengths uᵅ = uᵅᵀ W³² W²¹ vᵅ are
//! compared with the closed form on the fly (no trajectory is stored beyond the figure's samples).
use crate::{C1_CLOSED_FORM, C1_FIRST_ORDER, C1_HALF_TIME, C1_ONE_OVER_S, net, theory};
use common::report::{fmt_list, fmt_num, json_f64};
use common::rng::Seed;
use common::stats;
use common::{Ctx, Figure, Outcome, Series, Table};
use serde::{Deserialize, Serialize};

/// Experiment 1: three-layer net, decoupled small init.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreeLayerCfg {
    /// Width of input, hidden and output layers.
    pub width: usize,
    /// Nonzero singular values of Σ³¹ (the rest of the `width` modes are 0).
    pub s: Vec<f64>,
    /// Initial strength of every mode (balanced: both layers carry √u0).
    pub u0: f64,
    /// Learning rate η (τ = 1/η; time t = steps · η).
    pub lr: f64,
    pub steps: usize,
    /// Keep every k-th step for the figure.
    pub plot_every: usize,
    /// Indices of the modes drawn in the figure.
    pub plot_modes: Vec<usize>,
}

/// The levels (fractions of s) whose first crossing times are recorded.
pub const LEVELS: [f64; 3] = [0.1, 0.5, 0.9];

/// One mode of one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mode {
    /// Singular value of the target (0 for the modes beyond `s`).
    pub s: f64,
    /// max over steps of |u - u_th| / s (s > 0) or |u - u_th| (s = 0).
    #[serde(with = "json_f64")]
    pub max_dev: f64,
    /// First crossing (fractional GD step) of each of [`LEVELS`]·s; +inf when not reached. Empty
    /// for the s = 0 modes.
    #[serde(with = "json_f64::vec")]
    pub crossings: Vec<f64>,
}

/// One GD run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub lr: f64,
    pub steps: usize,
    /// Every mode, the nonzero ones first.
    pub modes: Vec<Mode>,
    /// max over steps of the off-diagonal of Uᵀ W V (exact decoupling keeps it at round-off).
    #[serde(with = "json_f64")]
    pub max_offdiag: f64,
    /// Steps of the figure's samples (empty when no mode is plotted).
    pub sample_steps: Vec<usize>,
    /// u of each plotted mode at `sample_steps`.
    #[serde(with = "json_f64::vec2")]
    pub samples: Vec<Vec<f64>>,
}

/// Experiment 1's numbers: the run at η and the same run at η/2 (twice the steps).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub run: Run,
    pub half: Run,
}

/// Max that propagates NaN (a diverged run must not read as a small deviation).
fn worst(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// GD on the three-layer net from the decoupled balanced init; the closed form and the level
/// crossings are evaluated at every step; the modes `plot` are sampled every `plot_every` steps.
pub fn simulate(cfg: &ThreeLayerCfg, seed: Seed, lr: f64, steps: usize, plot: &[usize]) -> Run {
    let n = cfg.width;
    let k_nz = cfg.s.len();
    let mut s = cfg.s.clone();
    s.resize(n, 0.0);
    let (target, u, v) = net::random_target(&mut seed.child("target").rng(), &s, n);
    let a = vec![cfg.u0.sqrt(); n];
    let mut chain = net::aligned_chain(&mut seed.child("hidden").rng(), &u, &v, &a, 2);
    let mut max_dev = vec![0.0; n];
    let mut crossings = vec![[f64::INFINITY; 3]; k_nz];
    let mut run =
        Run { lr, steps, modes: vec![], max_offdiag: 0.0, sample_steps: vec![], samples: vec![vec![]; plot.len()] };
    let mut prev = vec![0.0; n];
    let mut work = net::Work::new(&chain);
    for k in 0..=steps {
        chain.forward(&target, &mut work);
        let (diag, off) = net::mode_strengths(work.product(), &u, &v);
        run.max_offdiag = worst(run.max_offdiag, off);
        let t = k as f64 * lr;
        for (m, &um) in diag.iter().enumerate() {
            let th = theory::u_three_layer(t, s[m], cfg.u0, 1.0);
            let e = if s[m] > 0.0 { (um - th).abs() / s[m] } else { (um - th).abs() };
            max_dev[m] = worst(max_dev[m], e);
            if m < k_nz {
                for (j, lv) in LEVELS.iter().enumerate() {
                    let level = lv * s[m];
                    if crossings[m][j] == f64::INFINITY && um >= level {
                        crossings[m][j] =
                            if k == 0 { 0.0 } else { (k - 1) as f64 + (level - prev[m]) / (um - prev[m]) };
                    }
                }
            }
        }
        if !plot.is_empty() && (k % cfg.plot_every == 0 || k == steps) {
            run.sample_steps.push(k);
            for (row, &m) in run.samples.iter_mut().zip(plot) {
                row.push(diag[m]);
            }
        }
        prev = diag;
        if k < steps {
            chain.backward_update(lr, &mut work);
        }
    }
    run.modes = (0..n)
        .map(|m| Mode { s: s[m], max_dev: max_dev[m], crossings: crossings.get(m).map_or(vec![], |c| c.to_vec()) })
        .collect();
    run
}

/// Both runs (η and η/2), in parallel.
pub fn measure(cfg: &ThreeLayerCfg, ctx: &Ctx) -> Results {
    let seed = ctx.seed.child("three_layer");
    let (run, half) = rayon::join(
        || simulate(cfg, seed, cfg.lr, cfg.steps, &cfg.plot_modes),
        || simulate(cfg, seed, cfg.lr / 2.0, 2 * cfg.steps, &[]),
    );
    Results { run, half }
}

/// max over the nonzero modes of max_t |u - u_th|/s.
pub fn max_rel_dev(run: &Run) -> f64 {
    stats::max(&run.modes.iter().filter(|m| m.s > 0.0).map(|m| m.max_dev).collect::<Vec<_>>())
}

/// Per nonzero mode: simulated and closed-form learning times, in units of τ.
#[derive(Clone, Debug, Serialize)]
pub struct ModeRow {
    pub s: f64,
    pub t_half_gd: f64,
    pub t_half_theory: f64,
    pub t_10_90_gd: f64,
    pub t_10_90_theory: f64,
    pub max_dev_over_s: f64,
}

/// The learning-time rows of a run. A level not reached within the run is censored at its end
/// (a lower bound).
pub fn mode_rows(cfg: &ThreeLayerCfg, run: &Run) -> Vec<ModeRow> {
    let at = |m: &Mode, j: usize| {
        let x = m.crossings[j];
        (if x == f64::INFINITY { run.steps as f64 } else { x }) * run.lr
    };
    run.modes
        .iter()
        .filter(|m| !m.crossings.is_empty())
        .map(|m| ModeRow {
            s: m.s,
            t_half_gd: at(m, 1),
            t_half_theory: theory::t_half_three_layer(m.s, cfg.u0, 1.0),
            t_10_90_gd: at(m, 2) - at(m, 0),
            t_10_90_theory: theory::t_transition_three_layer(0.1, 0.9, m.s, 1.0),
            max_dev_over_s: m.max_dev,
        })
        .collect()
}

/// Claims C1-*, the mode-strength and learning-time figures, the per-mode table.
pub fn report(cfg: &ThreeLayerCfg, r: &Results, out: &mut Outcome) {
    let (run, half) = (&r.run, &r.half);
    let rows = mode_rows(cfg, run);
    let zero: Vec<f64> = run.modes.iter().filter(|m| m.s == 0.0).map(|m| m.max_dev).collect();
    let (err, err_half) = (max_rel_dev(run), max_rel_dev(half));
    out.claim(C1_CLOSED_FORM.max_of(rows.iter().map(|r| (format!("s={}", fmt_num(r.s)), r.max_dev_over_s))).detail(
        format!(
            "{} nonzero modes (s = {}), u0 = {}, η = {}, {} steps; {}off-diagonal of Uᵀ W V stays <= {} (exact \
             decoupling)",
            rows.len(),
            fmt_list(&cfg.s),
            fmt_num(cfg.u0),
            fmt_num(cfg.lr),
            cfg.steps,
            if zero.is_empty() {
                String::new()
            } else {
                format!("the {} zero-s modes follow u0/(1+2u0 t) to {}; ", zero.len(), fmt_num(stats::max(&zero)))
            },
            fmt_num(run.max_offdiag)
        ),
    ));
    out.claim(C1_FIRST_ORDER.ratio(&format!("max dev/s at η = {}", fmt_num(cfg.lr)), err, "at η/2", err_half));
    let norm_half: Vec<f64> = rows.iter().map(|r| r.t_half_gd * r.s / (r.s / cfg.u0 - 1.0).ln()).collect();
    out.claim(
        C1_HALF_TIME
            .max_of(rows.iter().zip(&norm_half).map(|(r, x)| (format!("s={}", fmt_num(r.s)), (x / 0.5 - 1.0).abs())))
            .detail(format!("t_half·s/ln(s/u0-1) per mode: {}", fmt_list(&norm_half))),
    );
    let col = |f: fn(&ModeRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let (ss, t_half, t_tr) = (col(|r| r.s), col(|r| r.t_half_gd), col(|r| r.t_10_90_gd));
    out.claim(C1_ONE_OVER_S.loglog_slope(&ss, &t_tr).detail(format!(
        "theory ln(81)/(2s) has slope exactly -1; t_half = (τ/2s) ln(s/u0 - 1) carries a log factor: fitted slope {} \
         (closed form {})",
        fmt_num(stats::loglog_slope(&ss, &t_half)),
        fmt_num(stats::loglog_slope(&ss, &col(|r| r.t_half_theory)))
    )));

    // u/s vs t: simulation markers, closed-form lines.
    let mut fig = Figure::xy(
        "mode_strengths",
        "Three-layer net: mode strength u/s vs time",
        "t = steps · η (units of τ)",
        "u / s",
    );
    let t_end = cfg.steps as f64 * cfg.lr;
    let tt: Vec<f64> = (0..=400).map(|i| t_end * i as f64 / 400.0).collect();
    // GD as markers, each mode's theory dashed in the same colour.
    for (i, (&m, u)) in cfg.plot_modes.iter().zip(&run.samples).enumerate() {
        let s = cfg.s[m];
        fig = fig.series(
            Series::markers(
                &format!("GD, s = {}", fmt_num(s)),
                run.sample_steps.iter().map(|&k| k as f64 * cfg.lr).collect(),
                u.iter().map(|x| x / s).collect(),
            )
            .color(i),
        );
        fig = fig.series(
            Series::dashed(
                &format!("theory, s = {}", fmt_num(s)),
                tt.clone(),
                tt.iter().map(|&t| theory::u_three_layer(t, s, cfg.u0, 1.0) / s).collect(),
            )
            .color(i),
        );
    }
    out.figure(fig);

    let (s_first, s_last) = (ss[0], ss[ss.len() - 1]);
    let sgrid: Vec<f64> = (0..=50).map(|i| s_last * (s_first / s_last).powf(i as f64 / 50.0)).collect();
    out.figure(
        Figure::xy(
            "learning_time_vs_s",
            "Three-layer net: learning time vs singular value s",
            "singular value s",
            "time (units of τ)",
        )
        .log_x()
        .log_y()
        .series(Series::markers("GD: t(10% → 90%)", ss.clone(), t_tr))
        .series(Series::line(
            "theory ln(81)/(2s)",
            sgrid.clone(),
            sgrid.iter().map(|&s| theory::t_transition_three_layer(0.1, 0.9, s, 1.0)).collect(),
        ))
        .series(Series::markers("GD: t_half", ss, t_half))
        .series(Series::line(
            "theory ln(s/u0 - 1)/(2s)",
            sgrid.clone(),
            sgrid.iter().map(|&s| theory::t_half_three_layer(s, cfg.u0, 1.0)).collect(),
        )),
    );
    out.table(Table::from_rows(
        "three_layer_modes",
        "Three-layer net: per nonzero mode, simulated vs closed-form learning times (units of τ) and the largest \
         deviation of u(t) from the closed form.",
        &rows,
    ));
}
