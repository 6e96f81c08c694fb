//! Study `deep-linear-dynamics`: Saxe, McClelland & Ganguli, "Exact solutions to the nonlinear
//! dynamics of learning in deep linear neural networks" (arXiv:1312.6120, ICLR 2014).
//!
//! Four experiments, each a section of the paper:
//! 1. **Three-layer mode dynamics** (Sec. 2). A 16→16→16 linear net on whitened inputs, target
//!    Σ³¹ = U S Vᵀ, small decoupled balanced initial conditions. The simulated mode strengths
//!    uᵅ(t) = uᵅᵀ W³² W²¹ vᵅ are compared with the closed form u(t) = s e^{2st/τ}/(e^{2st/τ} - 1 + s/u0),
//!    and the learning times with t = τ/(2s) ln[u_f(s-u0)/(u0(s-u_f))] ∝ 1/s.
//! 2. **Depth with the depth-scaled learning rate** (Sec. 3). Square chains of D weight matrices,
//!    η = c/(D s_max^{2-2/D}): aligned "pretrained-like" init u0 = 1 (learning time saturates in D),
//!    aligned small init u0 = 0.8^D (grows with D), scaled Gaussian init (grows fast). Theory:
//!    τ du/dt = D u^{2-2/D}(s-u) by quadrature, its exact discrete map, and the D → ∞ closed form.
//! 3. **Random orthogonal vs scaled Gaussian init** (Sec. 4). Random orthogonal layers in a net
//!    whose hidden layers are wider than its output (as in the paper's MNIST nets): depth-independent
//!    learning time; scaled Gaussian: grows with depth.
//! 4. **Dynamical isometry** (Sec. 4-5). Products of orthogonal matrices keep every singular value
//!    at 1; Gaussian products spread them at the Lyapunov rate [ψ(N/2) - ψ(1/2)]/2 per layer.
pub mod net;
pub mod theory;

use anyhow::{Result, ensure};
use common::report::fmt_num;
use common::rng::Seed;
use common::{Claim, Ctx, Figure, Outcome, Paper, Profiles, Series, Study, Table};
use ndarray::Array2;
use net::{Chain, Stop};
use serde::{Deserialize, Serialize};

/// The study value registered with the CLI.
pub struct DeepLinearDynamics;

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

/// Experiment 2: square chains, depth sweep, per initialisation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepthCfg {
    pub width: usize,
    /// Target singular values linspace(s_max, s_min, width).
    pub s_max: f64,
    pub s_min: f64,
    /// c in η = c / (D s_max^{2-2/D}).
    pub lr_scale: f64,
    /// Stop when the loss is <= rel_tol · initial loss.
    pub rel_tol: f64,
    pub aligned_depths: Vec<usize>,
    /// Per-layer amplitude of the small aligned init (u0 = a0^D).
    pub small_a0: f64,
    pub small_depths: Vec<usize>,
    pub aligned_cap: usize,
    pub gauss_depths: Vec<usize>,
    pub gauss_seeds: u64,
    pub gauss_cap: usize,
    /// Unaligned random orthogonal init of the square net (reported, not gated).
    pub unaligned_depths: Vec<usize>,
    pub unaligned_seeds: u64,
    pub unaligned_cap: usize,
}

/// Experiment 3: random orthogonal vs scaled Gaussian in a net with wide hidden layers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrthCfg {
    /// "synthetic" (Σ³¹ = U diag(linspace(s_max, s_min)) Vᵀ) or "digits" (PCA-whitened 8x8 digits,
    /// centred one-hot targets, rescaled so the top singular value is s_max).
    pub data: String,
    /// Input and output dimensions (synthetic data; digits fixes them).
    pub n_in: usize,
    pub n_out: usize,
    /// Hidden width.
    pub width: usize,
    pub s_max: f64,
    pub s_min: f64,
    pub lr_scale: f64,
    pub rel_tol: f64,
    /// Depths for the random orthogonal init.
    pub orth_depths: Vec<usize>,
    /// Depths for the scaled Gaussian init (kept shallower: its cost grows with its step count).
    pub gauss_depths: Vec<usize>,
    /// The reference depth of both ratios (a depth in both lists).
    pub ref_depth: usize,
    pub seeds: u64,
    pub cap: usize,
}

/// Experiment 4: singular values of products of random matrices.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsometryCfg {
    pub width: usize,
    pub depths: Vec<usize>,
    pub seeds: u64,
    /// Depths whose per-index Lyapunov sums are drawn.
    pub spectrum_depths: Vec<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub three_layer: ThreeLayerCfg,
    pub depth: DepthCfg,
    pub orth: OrthCfg,
    pub isometry: IsometryCfg,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            three_layer: ThreeLayerCfg {
                width: 16,
                s: vec![5.0, 4.0, 3.0, 2.0, 1.0, 0.75, 0.5, 0.35],
                u0: 1e-3,
                lr: 1e-3,
                steps: 20_000,
                plot_every: 250,
                plot_modes: vec![0, 3, 4, 7],
            },
            depth: DepthCfg {
                width: 16,
                s_max: 3.0,
                s_min: 1.5,
                lr_scale: 0.5,
                rel_tol: 1e-6,
                aligned_depths: vec![1, 2, 4, 8, 16, 32, 64, 128],
                small_a0: 0.8,
                small_depths: vec![1, 2, 4, 8, 16],
                aligned_cap: 20_000,
                gauss_depths: vec![1, 2, 4, 8],
                gauss_seeds: 5,
                gauss_cap: 50_000,
                unaligned_depths: vec![1, 2, 4, 8, 16],
                unaligned_seeds: 3,
                unaligned_cap: 5_000,
            },
            orth: OrthCfg {
                data: "synthetic".into(),
                n_in: 16,
                n_out: 8,
                width: 64,
                s_max: 3.0,
                s_min: 1.5,
                lr_scale: 0.5,
                rel_tol: 1e-6,
                orth_depths: vec![1, 2, 4, 8, 16, 32, 64, 128],
                gauss_depths: vec![1, 2, 4, 8, 16, 32],
                ref_depth: 8,
                seeds: 5,
                cap: 5_000,
            },
            isometry: IsometryCfg {
                width: 16,
                depths: vec![1, 2, 4, 8, 16, 32],
                seeds: 20,
                spectrum_depths: vec![4, 32],
            },
        }
    }

    /// Closer to the paper: wider nets, deeper chains, more seeds, real data (8x8 digits, the
    /// shipped stand-in for the paper's MNIST) for the orthogonal-vs-Gaussian comparison.
    fn full() -> Self {
        Config {
            three_layer: ThreeLayerCfg {
                width: 64,
                s: vec![5.0, 4.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.75, 0.5, 0.35, 0.25],
                u0: 1e-4,
                lr: 2.5e-4,
                steps: 120_000,
                plot_every: 1_000,
                plot_modes: vec![0, 4, 6, 10],
            },
            depth: DepthCfg {
                width: 16,
                s_max: 3.0,
                s_min: 1.5,
                lr_scale: 0.5,
                rel_tol: 1e-6,
                aligned_depths: vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
                small_a0: 0.8,
                small_depths: vec![1, 2, 4, 8, 12, 16, 20, 24],
                aligned_cap: 200_000,
                gauss_depths: vec![1, 2, 3, 4, 5, 6, 8],
                gauss_seeds: 20,
                gauss_cap: 200_000,
                unaligned_depths: vec![1, 2, 4, 8, 16, 32, 64],
                unaligned_seeds: 10,
                unaligned_cap: 50_000,
            },
            orth: OrthCfg {
                data: "digits".into(),
                n_in: 64,
                n_out: 10,
                width: 256,
                s_max: 3.0,
                s_min: 1.5,
                lr_scale: 0.5,
                rel_tol: 1e-6,
                orth_depths: vec![1, 2, 4, 8, 16, 32, 64, 128],
                gauss_depths: vec![1, 2, 4, 8, 16, 32, 64],
                ref_depth: 8,
                seeds: 5,
                cap: 20_000,
            },
            isometry: IsometryCfg {
                width: 100,
                depths: vec![1, 2, 4, 8, 16, 32, 64, 128],
                seeds: 50,
                spectrum_depths: vec![8, 128],
            },
        }
    }
}

impl Study for DeepLinearDynamics {
    type Config = Config;

    fn slug(&self) -> &'static str {
        "deep-linear-dynamics"
    }

    fn paper(&self) -> Paper {
        Paper {
            title: "Exact solutions to the nonlinear dynamics of learning in deep linear neural networks",
            authors: "Andrew M. Saxe, James L. McClelland, Surya Ganguli",
            arxiv: "1312.6120",
            official_code: None,
        }
    }

    fn validate(&self, cfg: &Config) -> Result<()> {
        validate(cfg)
    }

    fn run(&self, cfg: &Config, ctx: &Ctx) -> Result<Outcome> {
        validate(cfg)?;
        let mut out = Outcome::default();
        three_layer(&cfg.three_layer, ctx, &mut out)?;
        depth_sweep(&cfg.depth, ctx, &mut out)?;
        orth_vs_gauss(&cfg.orth, ctx, &mut out)?;
        isometry(&cfg.isometry, ctx, &mut out)?;
        out.note(
            "Setup. Full-batch gradient descent on ½‖Σ³¹ - W_D⋯W_1‖²_F, which is the squared error of any \
             data set with whitened inputs (Σ¹¹ = I) and input-output correlation Σ³¹ (paper, Sec. 1). \
             Gradients are back-propagated through the whole chain of matrices; the per-mode reduction is \
             used only on the theory side. Time is t = steps · η (τ = 1/η). Theory curves are closed forms \
             or Gauss-Legendre quadratures in `src/theory.rs`, computed without the simulation.",
        );
        Ok(out)
    }
}

fn validate(cfg: &Config) -> Result<()> {
    let t = &cfg.three_layer;
    ensure!(t.s.len() <= t.width && !t.s.is_empty(), "three_layer.s needs 1..=width values");
    ensure!(t.s.iter().all(|&s| s > t.u0), "three_layer.s must exceed u0");
    ensure!(t.u0 > 0.0 && t.lr > 0.0 && t.plot_every > 0, "three_layer: u0, lr, plot_every must be positive");
    ensure!(t.plot_modes.iter().all(|&m| m < t.s.len()), "three_layer.plot_modes index a nonzero mode");
    let d = &cfg.depth;
    ensure!(d.width >= 2 && d.s_max > d.s_min && d.s_min > 1.0, "depth: width >= 2 and s_max > s_min > 1 (u0 = 1 < s)");
    ensure!(d.small_a0 > 0.0 && d.small_a0 < 1.0, "depth.small_a0 in (0, 1)");
    for v in [&d.aligned_depths, &d.small_depths, &d.gauss_depths, &d.unaligned_depths] {
        ensure!(!v.is_empty() && v.iter().all(|&x| x >= 1), "depth lists need depths >= 1");
    }
    let o = &cfg.orth;
    ensure!(o.data == "synthetic" || o.data == "digits", "orth.data is `synthetic` or `digits`, got `{}`", o.data);
    ensure!(o.n_out <= o.n_in && o.n_out <= o.width, "orth: n_out <= n_in and n_out <= width");
    ensure!(
        o.orth_depths.contains(&o.ref_depth) && o.gauss_depths.contains(&o.ref_depth),
        "orth.ref_depth must be in orth.orth_depths and orth.gauss_depths"
    );
    ensure!(
        o.seeds >= 1 && o.orth_depths.iter().chain(&o.gauss_depths).all(|&d| d >= 1),
        "orth: seeds >= 1, depths >= 1"
    );
    ensure!(cfg.isometry.depths.len() >= 2 && cfg.isometry.seeds >= 2, "isometry: >= 2 depths and seeds");
    Ok(())
}

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![a];
    }
    (0..n).map(|i| a + (b - a) * i as f64 / (n - 1) as f64).collect()
}

/// Max that propagates NaN (a diverged run must not read as a small deviation).
fn worst(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// A measured value for an upper bound, a range or a tolerance, as a finite number: NaN or ±inf (a
/// diverged run) become f64::MAX, which fails such a bound and survives the JSON round trip of
/// `claims.json` (JSON has no NaN or inf).
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { f64::MAX }
}

/// A measured value for a lower bound: NaN becomes -f64::MAX (fails), ±inf the signed f64::MAX.
fn finite_lb(x: f64) -> f64 {
    if x.is_nan() { -f64::MAX } else { x.clamp(-f64::MAX, f64::MAX) }
}

// ---------------------------------------------------------------------------------------------
// Experiment 1: three-layer mode dynamics.

struct ThreeLayerRun {
    /// u[α] every `plot_every` steps (step index, strengths).
    samples: Vec<(usize, Vec<f64>)>,
    /// Per mode: max over steps of |u - u_th| / s (s > 0) or |u - u_th| (s = 0).
    max_dev: Vec<f64>,
    /// Per nonzero mode: first crossing (fractional step) of 10%, 50% and 90% of s.
    crossings: Vec<[Option<f64>; 3]>,
    max_offdiag: f64,
}

const LEVELS: [f64; 3] = [0.1, 0.5, 0.9];

/// GD on the three-layer net from the decoupled balanced init; the closed form and the level
/// crossings are evaluated on the fly (no stored trajectory beyond the figure's samples).
fn run_three_layer(cfg: &ThreeLayerCfg, seed: Seed, lr: f64, steps: usize) -> ThreeLayerRun {
    let n = cfg.width;
    let mut s = cfg.s.clone();
    s.resize(n, 0.0);
    let (target, u, v) = net::random_target(&mut seed.child("target").rng(), &s, n);
    let a = vec![cfg.u0.sqrt(); n];
    let mut chain = net::aligned_chain(&mut seed.child("hidden").rng(), &u, &v, &a, 2);
    let mut run = ThreeLayerRun {
        samples: vec![],
        max_dev: vec![0.0; n],
        crossings: vec![[None; 3]; cfg.s.len()],
        max_offdiag: 0.0,
    };
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
            run.max_dev[m] = worst(run.max_dev[m], e);
            if m < cfg.s.len() {
                for (j, lv) in LEVELS.iter().enumerate() {
                    let level = lv * s[m];
                    if run.crossings[m][j].is_none() && um >= level {
                        let x = if k == 0 { 0.0 } else { (k - 1) as f64 + (level - prev[m]) / (um - prev[m]) };
                        run.crossings[m][j] = Some(x);
                    }
                }
            }
        }
        if k % cfg.plot_every == 0 || k == steps {
            run.samples.push((k, diag.clone()));
        }
        prev = diag;
        if k < steps {
            chain.backward_update(lr, &mut work);
        }
    }
    run
}

/// (max over nonzero modes of max_t |u - u_th|/s, max over zero modes of |u - u_th|).
fn three_layer_error(cfg: &ThreeLayerCfg, run: &ThreeLayerRun) -> (f64, f64) {
    let k = cfg.s.len();
    let rel = run.max_dev[..k].iter().fold(0.0f64, |m, &x| worst(m, x));
    let zero = run.max_dev[k..].iter().fold(0.0f64, |m, &x| worst(m, x));
    (rel, zero)
}

fn three_layer(cfg: &ThreeLayerCfg, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let seed = ctx.seed.child("three_layer");
    let (run, run_half) = rayon::join(
        || run_three_layer(cfg, seed, cfg.lr, cfg.steps),
        || run_three_layer(cfg, seed, cfg.lr / 2.0, 2 * cfg.steps),
    );
    let (err, err_zero) = three_layer_error(cfg, &run);
    let (err_half, _) = three_layer_error(cfg, &run_half);
    let per_mode = run.max_dev.clone();
    let ratio = err / err_half;

    // Learning times per nonzero mode, in units of τ.
    let k = cfg.s.len();
    let (mut t_half, mut t_half_th, mut t_tr, mut t_tr_th, mut norm_half) = (vec![], vec![], vec![], vec![], vec![]);
    for a in 0..k {
        let s = cfg.s[a];
        // A level not reached within the run is censored at the end of the run (a lower bound).
        let at = |j: usize| run.crossings[a][j].unwrap_or(cfg.steps as f64) * cfg.lr;
        let (t10, th, t90) = (at(0), at(1), at(2));
        t_half.push(th);
        t_half_th.push(theory::t_half_three_layer(s, cfg.u0, 1.0));
        t_tr.push(t90 - t10);
        t_tr_th.push(theory::t_transition_three_layer(0.1, 0.9, s, 1.0));
        norm_half.push(th * s / (s / cfg.u0 - 1.0).ln());
    }
    let norm_dev = norm_half.iter().fold(0.0f64, |m, &x| worst(m, (x / 0.5 - 1.0).abs()));
    let ls: Vec<f64> = cfg.s.iter().map(|s| s.ln()).collect();
    let (slope, _) = theory::ols(&ls, &t_tr.iter().map(|t| t.ln()).collect::<Vec<_>>());
    let (slope_half, _) = theory::ols(&ls, &t_half.iter().map(|t| t.ln()).collect::<Vec<_>>());
    let (slope_half_th, _) = theory::ols(&ls, &t_half_th.iter().map(|t| t.ln()).collect::<Vec<_>>());

    out.claim(
        Claim::new(
            "C1-closed-form",
            "Three-layer net, whitened inputs, small decoupled init: every mode strength follows u(t) = s e^{2st/τ}/(e^{2st/τ} - 1 + s/u0) (max_t |u - u_th|/s)",
            "three-layer exact solution u_f(t): sigmoidal mode trajectories, simulation vs theory figure",
        )
        .measured(finite(err))
        .detail(format!(
            "per mode (s: max dev/s): {}; zero-s modes follow u0/(1+2u0 t) to {}; off-diagonal of Uᵀ W V stays <= {} (exact decoupling). A wrong gradient (one layer frozen, missing transpose, wrong factor) moves this to O(1).",
            cfg.s.iter().zip(&per_mode).map(|(s, e)| format!("{}: {}", fmt_num(*s), fmt_num(*e))).collect::<Vec<_>>().join(", "),
            fmt_num(err_zero),
            fmt_num(run.max_offdiag)
        ))
        .drift(0.2)
        .at_most(0.02),
    );
    out.claim(
        Claim::new(
            "C1-first-order",
            "The remaining deviation is the O(η) Euler discretisation of τ du/dt = 2u(s - u): halving η halves it (ratio of max deviations)",
            "three-layer GD equations τ dW/dt in the continuous-time limit (τ = 1/η)",
        )
        .measured(finite(ratio))
        .detail(format!("max dev/s: {} at η = {}, {} at η/2", fmt_num(err), fmt_num(cfg.lr), fmt_num(err_half)))
        .drift(0.05)
        .between(1.6, 2.4),
    );
    out.claim(
        Claim::new(
            "C1-half-time",
            "Time to half strength t_half = (τ/2s) ln(s/u0 - 1): t_half · s / ln(s/u0 - 1) = τ/2 for every mode (max relative deviation from τ/2)",
            "three-layer learning time t = (τ/2s) ln[u_f(s - u0)/(u0(s - u_f))]",
        )
        .measured(finite(norm_dev))
        .detail(format!(
            "t_half·s/ln(s/u0-1) per mode: {}",
            norm_half.iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join(", ")
        ))
        .drift(0.5)
        .at_most(0.02),
    );
    out.claim(
        Claim::new(
            "C1-one-over-s",
            "Mode learning time scales as 1/s: fitted slope of log t(10%→90% of s) against log s",
            "three-layer learning time O(τ/s): stronger modes are learned first",
        )
        .measured(finite(slope))
        .detail(format!(
            "theory ln(81)/(2s) has slope exactly -1; t_half = (τ/2s) ln(s/u0 - 1) carries a log factor: fitted slope {} (closed form {})",
            fmt_num(slope_half),
            fmt_num(slope_half_th)
        ))
        .drift(0.02)
        .between(-1.05, -0.95),
    );

    // Figure: u/s vs t, simulation markers, closed-form lines.
    let mut fig = Figure::xy(
        "mode_strengths",
        "Three-layer net: mode strength u/s vs time",
        "t = steps · η (units of τ)",
        "u / s",
    );
    let t_end = cfg.steps as f64 * cfg.lr;
    let tt: Vec<f64> = (0..=400).map(|i| t_end * i as f64 / 400.0).collect();
    for &m in &cfg.plot_modes {
        let s = cfg.s[m];
        fig = fig.series(Series::markers(
            &format!("GD, s = {}", fmt_num(s)),
            run.samples.iter().map(|(k, _)| *k as f64 * cfg.lr).collect(),
            run.samples.iter().map(|(_, u)| u[m] / s).collect(),
        ));
        fig = fig.series(Series::line(
            &format!("theory, s = {}", fmt_num(s)),
            tt.clone(),
            tt.iter().map(|&t| theory::u_three_layer(t, s, cfg.u0, 1.0) / s).collect(),
        ));
    }
    out.figure(fig);

    let ss = cfg.s.clone();
    let sgrid: Vec<f64> =
        (0..=50).map(|i| ss[ss.len() - 1] * (ss[0] / ss[ss.len() - 1]).powf(i as f64 / 50.0)).collect();
    out.figure(
        Figure::xy(
            "learning_time_vs_s",
            "Three-layer net: learning time vs singular value s",
            "singular value s",
            "time (units of τ)",
        )
        .log_x()
        .log_y()
        .series(Series::markers("GD: t(10% → 90%)", ss.clone(), t_tr.clone()))
        .series(Series::line(
            "theory ln(81)/(2s)",
            sgrid.clone(),
            sgrid.iter().map(|&s| theory::t_transition_three_layer(0.1, 0.9, s, 1.0)).collect(),
        ))
        .series(Series::markers("GD: t_half", ss.clone(), t_half.clone()))
        .series(Series::line(
            "theory ln(s/u0 - 1)/(2s)",
            sgrid.clone(),
            sgrid.iter().map(|&s| theory::t_half_three_layer(s, cfg.u0, 1.0)).collect(),
        )),
    );
    out.table(
        Table::new(
            "three_layer_modes",
            "Three-layer net: per nonzero mode, simulated vs closed-form learning times (units of τ) and the largest deviation of u(t) from the closed form.",
        )
        .f64("s", ss)
        .f64("t_half_gd", t_half)
        .f64("t_half_theory", t_half_th)
        .f64("t_10_90_gd", t_tr)
        .f64("t_10_90_theory", t_tr_th)
        .f64("max_dev_over_s", per_mode[..k].to_vec()),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Experiment 2: square chains, depth sweep.

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SqCell {
    init: String,
    depth: usize,
    rep: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SqResult {
    steps: Option<usize>,
    status: String,
    /// Aligned inits: max over steps and modes of |u_sim - u_scalar-map| and of the off-diagonal.
    map_dev: Option<f64>,
    offdiag: Option<f64>,
}

fn depth_lr(c: f64, depth: usize, s_max: f64) -> f64 {
    c / (depth as f64 * s_max.powf(2.0 - 2.0 / depth as f64))
}

fn sq_cell(cfg: &DepthCfg, root: Seed, cell: &SqCell, seed: Seed) -> SqResult {
    let n = cfg.width;
    let s = linspace(cfg.s_max, cfg.s_min, n);
    let (target, u, v) = net::random_target(&mut root.child_idx("target", cell.rep).rng(), &s, n);
    let lr = depth_lr(cfg.lr_scale, cell.depth, cfg.s_max);
    let d = cell.depth;
    let mut rng = seed.rng();
    let (mut chain, a0, cap) = match cell.init.as_str() {
        "aligned_u0_1" => (net::aligned_chain(&mut rng, &u, &v, &vec![1.0; n], d), Some(1.0), cfg.aligned_cap),
        "aligned_small" => {
            (net::aligned_chain(&mut rng, &u, &v, &vec![cfg.small_a0; n], d), Some(cfg.small_a0), cfg.aligned_cap)
        }
        "gaussian" => (net::gaussian_chain(&mut rng, &vec![n; d + 1]), None, cfg.gauss_cap),
        "orthogonal_unaligned" => (net::orthogonal_chain(&mut rng, &vec![n; d + 1]), None, cfg.unaligned_cap),
        other => unreachable!("unknown init {other}"),
    };
    let mut amp = vec![a0.unwrap_or(0.0); n];
    let (mut map_dev, mut off) = (0.0f64, 0.0f64);
    let stop = chain.train_to_tol(&target, lr, cfg.rel_tol, cap, |k, c: &Chain| {
        if a0.is_some() {
            if k > 0 {
                for (x, &si) in amp.iter_mut().zip(&s) {
                    *x = theory::scalar_gd_step(*x, si, d, lr);
                }
            }
            let (diag, o) = net::mode_strengths(&c.product(), &u, &v);
            for (x, a) in diag.iter().zip(&amp) {
                map_dev = worst(map_dev, (x - a.powi(d as i32)).abs());
            }
            off = worst(off, o);
        }
    });
    SqResult {
        steps: match stop {
            Stop::Converged(k) => Some(k),
            _ => None,
        },
        status: stop.label().into(),
        map_dev: a0.map(|_| map_dev),
        offdiag: a0.map(|_| off),
    }
}

fn steps_or_cap(r: &SqResult, cap: usize) -> f64 {
    r.steps.map_or(cap as f64, |k| k as f64)
}

fn depth_sweep(cfg: &DepthCfg, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let mut cells = vec![];
    for &d in &cfg.aligned_depths {
        cells.push(SqCell { init: "aligned_u0_1".into(), depth: d, rep: 0 });
    }
    for &d in &cfg.small_depths {
        cells.push(SqCell { init: "aligned_small".into(), depth: d, rep: 0 });
    }
    for &d in &cfg.gauss_depths {
        for rep in 0..cfg.gauss_seeds {
            cells.push(SqCell { init: "gaussian".into(), depth: d, rep });
        }
    }
    for &d in &cfg.unaligned_depths {
        for rep in 0..cfg.unaligned_seeds {
            cells.push(SqCell { init: "orthogonal_unaligned".into(), depth: d, rep });
        }
    }
    let root = ctx.seed.child("square");
    // Longest cells first so the parallel pool stays busy.
    let cost = |c: &SqCell| -> usize {
        c.depth
            * match c.init.as_str() {
                "gaussian" => cfg.gauss_cap,
                "orthogonal_unaligned" => cfg.unaligned_cap,
                _ => 100,
            }
    };
    cells.sort_by_key(|c| std::cmp::Reverse(cost(c)));
    let res = ctx.grid("square_depth", &cells, |c, seed| Ok(sq_cell(cfg, root, c, seed)))?;
    let get = |init: &str, d: usize| -> Vec<&SqResult> {
        cells.iter().zip(&res).filter(|(c, _)| c.init == init && c.depth == d).map(|(_, r)| r).collect()
    };
    let one = |init: &str, d: usize| -> &SqResult { get(init, d)[0] };

    // Theory for the aligned inits: ODE by quadrature, the exact scalar map, and D → ∞.
    let n = cfg.width;
    let s = linspace(cfg.s_max, cfg.s_min, n);
    let theory_for = |a0: f64, depths: &[usize]| -> Vec<(f64, f64)> {
        use rayon::prelude::*;
        depths
            .par_iter()
            .map(|&d| {
                let lr = depth_lr(cfg.lr_scale, d, cfg.s_max);
                let u0 = vec![a0.powi(d as i32); n];
                let ode = theory::steps_to_tol_ode(&s, &u0, d, lr, cfg.rel_tol);
                let map = theory::scalar_gd_steps_to_tol(&s, &vec![a0; n], d, lr, cfg.rel_tol, cfg.aligned_cap)
                    .map_or(f64::INFINITY, |k| k as f64);
                (ode, map)
            })
            .collect()
    };
    let th_u1 = theory_for(1.0, &cfg.aligned_depths);
    let th_small = theory_for(cfg.small_a0, &cfg.small_depths);
    // D → ∞ with u0 = 1: the loss criterion on the limiting per-mode closed form (bisection on k).
    let k_inf = {
        let l0: f64 = s.iter().map(|x| (x - 1.0).powi(2)).sum();
        let loss = |k: f64| -> f64 {
            s.iter()
                .map(|&si| {
                    // invert k(u) for this mode by bisection on u in (1, s)
                    let (mut lo, mut hi) = (1.0, si);
                    for _ in 0..200 {
                        let mid = 0.5 * (lo + hi);
                        if theory::steps_infinite_depth(1.0, mid, si, cfg.s_max, cfg.lr_scale) < k {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                    }
                    (si - 0.5 * (lo + hi)).powi(2)
                })
                .sum()
        };
        let (mut lo, mut hi) = (0.0, 1.0);
        while loss(hi) > cfg.rel_tol * l0 {
            lo = hi;
            hi *= 2.0;
        }
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if loss(mid) > cfg.rel_tol * l0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    };

    // Claims.
    let map_dev = cells
        .iter()
        .zip(&res)
        .filter(|(c, _)| c.init.starts_with("aligned"))
        .map(|(_, r)| worst(r.map_dev.unwrap_or(f64::NAN), r.offdiag.unwrap_or(f64::NAN)))
        .fold(0.0f64, worst);
    out.claim(
        Claim::new(
            "C2-exact-decoupling",
            "Deep chains from decoupled balanced init: each mode follows the scalar dynamics a ← a + η a^{D-1}(s - a^D) exactly (max deviation of the simulated mode strengths and off-diagonal couplings, all depths and steps)",
            "deeper multilayer dynamics: τ du/dt = (N_l - 1) u^{2-2/(N_l-1)} (s - u) for decoupled initial conditions",
        )
        .measured(finite(map_dev))
        .detail("A gradient with the wrong layer order or a missing transpose couples the modes and breaks this at O(1).")
        .drift(1e3)
        .at_most(1e-10),
    );
    let dmax = *cfg.aligned_depths.iter().max().unwrap_or(&1);
    let dq = cfg.aligned_depths.iter().copied().filter(|&d| d * 4 <= dmax).max().unwrap_or(dmax);
    let r_u1 = steps_or_cap(one("aligned_u0_1", dmax), cfg.aligned_cap)
        / steps_or_cap(one("aligned_u0_1", dq), cfg.aligned_cap);
    out.claim(
        Claim::new(
            "C2-depth-independent",
            &format!(
                "With the depth-scaled learning rate η ∝ 1/D and u0 = 1 (pretrained-like aligned init), learning time converges to a finite limit as depth grows: steps(D={dmax}) / steps(D={dq})"
            ),
            "deeper multilayer dynamics: learning time stays finite as N_l → ∞ (learning rate ∝ 1/N_l; pretraining-like initial conditions)",
        )
        .measured(finite(r_u1))
        .detail(format!(
            "steps by depth: {}; continuous-time theory (quadrature) {}; D → ∞ closed form {}. A learning rate not scaled as 1/D diverges or slows with depth.",
            cfg.aligned_depths
                .iter()
                .map(|&d| format!("{d}: {}", one("aligned_u0_1", d).steps.map_or("cap".into(), |k| k.to_string())))
                .collect::<Vec<_>>()
                .join(", "),
            cfg.aligned_depths.iter().zip(&th_u1).map(|(d, t)| format!("{d}: {}", fmt_num(t.0.round()))).collect::<Vec<_>>().join(", "),
            fmt_num(k_inf.round())
        ))
        .drift(0.1)
        .at_most(1.1),
    );
    let smax_d = *cfg.small_depths.iter().max().unwrap_or(&1);
    let sh = cfg.small_depths.iter().copied().filter(|&d| d * 2 <= smax_d).max().unwrap_or(smax_d);
    let r_small = steps_or_cap(one("aligned_small", smax_d), cfg.aligned_cap)
        / steps_or_cap(one("aligned_small", sh), cfg.aligned_cap);
    out.claim(
        Claim::new(
            "C2-small-init-slows",
            &format!(
                "From small initial strength u0 = a0^D (a0 = {}), learning time grows with depth: steps(D={smax_d}) / steps(D={sh})",
                fmt_num(cfg.small_a0)
            ),
            "deeper multilayer dynamics: from small initial conditions (u0 = a0^{N_l-1}) learning time grows with depth",
        )
        .measured(finite_lb(r_small))
        .detail(format!(
            "steps by depth: {}",
            cfg.small_depths
                .iter()
                .map(|&d| format!("{d}: {}", one("aligned_small", d).steps.map_or("cap".into(), |k| k.to_string())))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .drift(0.1)
        .at_least(3.0),
    );
    // Gaussian: median over seeds of steps(4)/steps(2) (cap counted as cap: a lower bound).
    let gd: Vec<usize> = cfg.gauss_depths.clone();
    let g_med = |d: usize| -> f64 {
        theory::median(&get("gaussian", d).iter().map(|r| steps_or_cap(r, cfg.gauss_cap)).collect::<Vec<_>>())
    };
    let (ga, gb) = (if gd.contains(&2) { 2 } else { gd[0] }, if gd.contains(&4) { 4 } else { *gd.last().unwrap() });
    let g_ratio = g_med(gb) / g_med(ga);
    out.claim(
        Claim::new(
            "C3-gaussian-slows",
            &format!(
                "Scaled random Gaussian init (entries N(0, 1/N)) slows down with depth: median over seeds of steps(D={gb}) / steps(D={ga}), same η ∝ 1/D"
            ),
            "initialisations: scaled random Gaussian init does not give depth-independent learning",
        )
        .measured(finite_lb(g_ratio))
        .detail(format!(
            "threshold 5: the spec's per-run '> 10' fails for some seeds of a correct run (NumPy seed 2: 465/57 = 8.2), the median of 5 seeds ranged 11-32 over root seeds 0-6, and a depth-independent init gives about 1.5 (aligned u0 = 1: 29/20). Steps per depth (per seed; cap = {} counted as cap): {}",
            cfg.gauss_cap,
            gd.iter()
                .map(|&d| format!(
                    "D={d}: [{}]",
                    get("gaussian", d).iter().map(|r| r.steps.map_or(format!(">{}", cfg.gauss_cap), |k| k.to_string())).collect::<Vec<_>>().join(", ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ))
        .drift(0.5)
        .at_least(5.0),
    );
    // Unaligned random orthogonal in the square net: reported only.
    let ud = cfg.unaligned_depths.clone();
    let u_meds: Vec<f64> = ud
        .iter()
        .map(|&d| {
            theory::median(
                &get("orthogonal_unaligned", d).iter().map(|r| steps_or_cap(r, cfg.unaligned_cap)).collect::<Vec<_>>(),
            )
        })
        .collect();
    let u_last = *u_meds.last().unwrap();
    let u_first = u_meds[0];
    out.claim(
        Claim::new(
            "C3-square-unaligned",
            "Square net (all widths equal to input and output), unaligned random orthogonal init: median steps at the largest depth over median steps at D = 1",
            "random orthogonal initialisation (the paper's MNIST nets are not square)",
        )
        .measured(finite(u_last / u_first))
        .detail(format!(
            "steps per depth (per seed): {}",
            ud.iter()
                .map(|&d| format!(
                    "D={d}: [{}]",
                    get("orthogonal_unaligned", d)
                        .iter()
                        .map(|r| r.steps.map_or(format!(">{}", cfg.unaligned_cap), |k| k.to_string()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ))
        .drift(1.0)
        .at_most(1.5)
        .not_gated(
            "erratic by construction: in a square linear net W_D⋯W_1 stays square, and modes whose initial projection uᵅᵀ W vᵅ is negative (or det W and det Σ³¹ of opposite sign) must cross the u = 0 saddle, which takes a seed-dependent, often very long time (spec calibration: D=4: 62 202, D=16: > 200 000, D=64: 355). The gated test of this claim is C3-orthogonal-depth-independent, in a net with hidden layers wider than the output, as in the paper's experiments",
        ),
    );
    out.claim(
        Claim::new(
            "C2-ode-vs-gd",
            &format!("Continuous-time theory (quadrature of τ du/dt = D u^{{2-2/D}}(s - u)) over simulated steps, u0 = 1, D = {dmax}"),
            "deeper multilayer dynamics: learning-time integral",
        )
        .measured(finite(th_u1.last().unwrap().0 / steps_or_cap(one("aligned_u0_1", dmax), cfg.aligned_cap)))
        .detail(format!(
            "the exact discrete map gives {} steps (equal to the simulation); with c = η D s_max^{{2-2/D}} = {} the Euler steps are not small: near convergence a mode's error shrinks by 1 - c per step instead of e^{{-c}}, so in that final phase the ODE needs ln(1/(1-c))/c = {} times as many steps",
            fmt_num(th_u1.last().unwrap().1),
            fmt_num(cfg.lr_scale),
            fmt_num((1.0 / (1.0 - cfg.lr_scale)).ln() / cfg.lr_scale)
        ))
        .drift(1.0)
        .between(0.8, 1.6)
        .not_gated("a discretisation comparison, not a claim of the paper: the paper's claim (finite limit) is C2-depth-independent"),
    );

    // Figure and table.
    let xs = |v: &[usize]| v.iter().map(|&d| (d as f64).log2()).collect::<Vec<_>>();
    let mut fig = Figure::xy(
        "learning_time_vs_depth",
        &format!("Square chains (width {n}), η ∝ 1/D: steps to loss ≤ {:e}·L0", cfg.rel_tol),
        "log2 D (D = number of weight matrices)",
        "GD steps",
    )
    .log_y();
    fig = fig.series(Series::markers(
        "GD, aligned u0 = 1",
        xs(&cfg.aligned_depths),
        cfg.aligned_depths.iter().map(|&d| steps_or_cap(one("aligned_u0_1", d), cfg.aligned_cap)).collect(),
    ));
    fig = fig.series(Series::line(
        "theory (exact scalar map), u0 = 1",
        xs(&cfg.aligned_depths),
        th_u1.iter().map(|t| t.1).collect(),
    ));
    fig = fig.series(Series::dashed(
        "theory (ODE quadrature), u0 = 1",
        xs(&cfg.aligned_depths),
        th_u1.iter().map(|t| t.0).collect(),
    ));
    fig = fig.series(Series::markers(
        &format!("GD, aligned u0 = {}^D", fmt_num(cfg.small_a0)),
        xs(&cfg.small_depths),
        cfg.small_depths.iter().map(|&d| steps_or_cap(one("aligned_small", d), cfg.aligned_cap)).collect(),
    ));
    fig = fig.series(Series::line(
        &format!("theory (exact scalar map), u0 = {}^D", fmt_num(cfg.small_a0)),
        xs(&cfg.small_depths),
        th_small.iter().map(|t| t.1).collect(),
    ));
    fig = fig.series(Series::markers(
        "GD, scaled Gaussian (median; cap shown at cap)",
        xs(&gd),
        gd.iter().map(|&d| g_med(d)).collect(),
    ));
    fig = fig.series(Series::markers("GD, unaligned orthogonal (median)", xs(&ud), u_meds.clone()));
    fig = fig.series(Series::hline("theory D → ∞ (closed form), u0 = 1", k_inf, 0.0, (dmax as f64).log2()));
    out.figure(fig);

    let mut t_init = vec![];
    let mut t_d = vec![];
    let mut t_rep = vec![];
    let mut t_steps = vec![];
    let mut t_status = vec![];
    let mut t_map = vec![];
    let mut t_ode = vec![];
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by_key(|&i| (cells[i].init.clone(), cells[i].depth, cells[i].rep));
    for i in order {
        let (c, r) = (&cells[i], &res[i]);
        t_init.push(c.init.clone());
        t_d.push(c.depth);
        t_rep.push(c.rep as usize);
        t_steps.push(r.steps.map_or(-1, |k| k as i64));
        t_status.push(r.status.clone());
        let (map, ode) = match c.init.as_str() {
            "aligned_u0_1" => {
                let j = cfg.aligned_depths.iter().position(|&d| d == c.depth).unwrap();
                (th_u1[j].1, th_u1[j].0)
            }
            "aligned_small" => {
                let j = cfg.small_depths.iter().position(|&d| d == c.depth).unwrap();
                (th_small[j].1, th_small[j].0)
            }
            _ => (f64::NAN, f64::NAN),
        };
        t_map.push(map);
        t_ode.push(ode);
    }
    out.table(
        Table::new(
            "square_depth",
            "Square chains (width 16): GD steps to loss ≤ rel_tol·L0 per init, depth and seed (-1: not reached: capped or diverged), with the exact scalar-map and ODE-quadrature predictions for the aligned inits.",
        )
        .str("init", t_init)
        .usize("depth", t_d)
        .usize("seed", t_rep)
        .i64("steps", t_steps)
        .str("status", t_status)
        .f64("theory_scalar_map", t_map)
        .f64("theory_ode", t_ode),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Experiment 3: random orthogonal vs scaled Gaussian with wide hidden layers.

#[derive(Clone, Debug, Serialize, Deserialize)]
struct RectCell {
    init: String,
    depth: usize,
    rep: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct RectResult {
    steps: Option<usize>,
    status: String,
}

/// Σ³¹ of PCA-whitened 8x8 digits against centred one-hot labels (9 x k after dropping the null
/// output direction), rescaled to top singular value `s_max`; the whitened inputs keep the
/// components with variance > 1e-9 of the largest.
pub fn digits_target(s_max: f64) -> Result<Array2<f64>> {
    let d = common::data::load_shipped(common::data::Shipped::Digits)?;
    let (p, f) = d.x.dim();
    let mean = d.x.mean_axis(ndarray::Axis(0)).expect("rows");
    let xc = &d.x - &mean;
    let cov = xc.t().dot(&xc) / p as f64;
    let (vals, vecs) = common::linalg::eigh(&cov);
    let top = vals[f - 1];
    let keep: Vec<usize> = (0..f).filter(|&i| vals[i] > 1e-9 * top).collect();
    // Whitened inputs z = Λ^{-1/2} Eᵀ (x - mean), one row per kept component (largest first).
    let mut white = Array2::zeros((keep.len(), f));
    for (r, &i) in keep.iter().rev().enumerate() {
        let sc = 1.0 / vals[i].sqrt();
        for j in 0..f {
            white[[r, j]] = vecs[[j, i]] * sc;
        }
    }
    let z = xc.dot(&white.t()); // p x k
    let classes = d.classes();
    let nc = d.num_classes();
    let mut y = Array2::zeros((p, nc));
    for (i, &c) in classes.iter().enumerate() {
        y[[i, c]] = 1.0;
    }
    let ym = y.mean_axis(ndarray::Axis(0)).expect("rows");
    let yc = &y - &ym;
    let sigma31 = yc.t().dot(&z) / p as f64; // nc x k
    // Centred one-hot labels span nc - 1 dimensions: express the outputs in an orthonormal basis of
    // Σ³¹'s column space (eigenvectors of Σ³¹Σ³¹ᵀ), so that no target mode has s = 0.
    let (ev, evec) = common::linalg::eigh(&sigma31.dot(&sigma31.t()));
    let cols: Vec<usize> = (0..nc).rev().filter(|&i| ev[i] > 1e-12 * ev[nc - 1]).collect();
    let mut basis = Array2::zeros((cols.len(), nc));
    for (r, &i) in cols.iter().enumerate() {
        basis.row_mut(r).assign(&evec.column(i));
    }
    let reduced = basis.dot(&sigma31);
    let top_s = common::linalg::singular_values(&reduced)[0];
    Ok(reduced * (s_max / top_s))
}

fn orth_vs_gauss(cfg: &OrthCfg, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let root = ctx.seed.child("rect");
    let digits = if cfg.data == "digits" { Some(digits_target(cfg.s_max)?) } else { None };
    let (n_in, n_out) = digits.as_ref().map_or((cfg.n_in, cfg.n_out), |t| (t.ncols(), t.nrows()));
    let target_for = |rep: u64| -> Array2<f64> {
        match &digits {
            Some(t) => t.clone(),
            None => {
                let s = linspace(cfg.s_max, cfg.s_min, n_out);
                net::random_target(&mut root.child_idx("target", rep).rng(), &s, n_in).0
            }
        }
    };
    let s_top = common::linalg::singular_values(&target_for(0))[0];
    let mut cells = vec![];
    for (init, depths) in [("orthogonal", &cfg.orth_depths), ("gaussian", &cfg.gauss_depths)] {
        for &d in depths {
            for rep in 0..cfg.seeds {
                cells.push(RectCell { init: init.into(), depth: d, rep });
            }
        }
    }
    cells.sort_by_key(|c| std::cmp::Reverse(c.depth * if c.init == "gaussian" { 10 } else { 1 }));
    let res = ctx.grid("rect_depth", &cells, |c, seed| {
        let target = target_for(c.rep);
        let dims = net::layer_dims(n_in, cfg.width, n_out, c.depth);
        let mut rng = seed.rng();
        let mut chain = if c.init == "orthogonal" {
            net::orthogonal_chain(&mut rng, &dims)
        } else {
            net::gaussian_chain(&mut rng, &dims)
        };
        let lr = depth_lr(cfg.lr_scale, c.depth, s_top);
        let stop = chain.train_to_tol(&target, lr, cfg.rel_tol, cfg.cap, |_, _| {});
        Ok(RectResult {
            steps: if let Stop::Converged(k) = stop { Some(k) } else { None },
            status: stop.label().into(),
        })
    })?;
    let steps = |init: &str, d: usize| -> Vec<f64> {
        cells
            .iter()
            .zip(&res)
            .filter(|(c, _)| c.init == init && c.depth == d)
            .map(|(_, r)| r.steps.map_or(cfg.cap as f64, |k| k as f64))
            .collect()
    };
    let med = |init: &str, d: usize| theory::median(&steps(init, d));
    let depths_of = |init: &str| if init == "orthogonal" { &cfg.orth_depths } else { &cfg.gauss_depths };
    let dref = cfg.ref_depth;
    let fmt_steps = |init: &str| {
        depths_of(init)
            .iter()
            .map(|&d| format!("D={d}: [{}]", steps(init, d).iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let setting = format!(
        "{} data, widths {n_in} → {} (D-1 hidden layers) → {n_out}, η = {}/(D s_max^{{2-2/D}}), loss ≤ {:e}·L0, {} seeds, cap {}",
        cfg.data,
        cfg.width,
        fmt_num(cfg.lr_scale),
        cfg.rel_tol,
        cfg.seeds,
        cfg.cap
    );
    let dmax = *cfg.orth_depths.iter().max().unwrap();
    let r_o = med("orthogonal", dmax) / med("orthogonal", dref);
    out.claim(
        Claim::new(
            "C3-orthogonal-depth-independent",
            &format!(
                "Random orthogonal init gives depth-independent learning time (like pretraining): median steps(D={dmax}) / median steps(D={dref}), hidden layers wider than the output"
            ),
            "random orthogonal initial conditions: depth-independent learning times, like pretraining (MNIST experiment)",
        )
        .measured(finite(r_o))
        .detail(format!("{setting}. Steps per seed: {}", fmt_steps("orthogonal")))
        .drift(0.15)
        .at_most(1.5),
    );
    let gmax = *cfg.gauss_depths.iter().max().unwrap();
    let r_g = med("gaussian", gmax) / med("gaussian", dref);
    out.claim(
        Claim::new(
            "C3-gaussian-depth-dependent",
            &format!(
                "Scaled Gaussian init (N(0, 1/fan_in)) in the same nets slows down with depth: median steps(D={gmax}) / median steps(D={dref})"
            ),
            "scaled random Gaussian initialisations: learning slows with depth (MNIST experiment)",
        )
        .measured(finite_lb(r_g))
        .detail(format!(
            "Steps per seed (cap counted as cap): {}. At D={gmax}, Gaussian/orthogonal median steps = {}.",
            fmt_steps("gaussian"),
            fmt_num(med("gaussian", gmax) / med("orthogonal", gmax))
        ))
        .drift(0.5)
        .at_least(3.0),
    );
    let xs = |init: &str| -> Vec<f64> { depths_of(init).iter().map(|&d| (d as f64).log2()).collect() };
    let meds = |init: &str| -> Vec<f64> { depths_of(init).iter().map(|&d| med(init, d)).collect() };
    let band = |init: &str| -> (Vec<f64>, Vec<f64>) {
        depths_of(init)
            .iter()
            .map(|&d| {
                let v = steps(init, d);
                (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(0.0, f64::max))
            })
            .unzip()
    };
    let (olo, ohi) = band("orthogonal");
    let (glo, ghi) = band("gaussian");
    out.figure(
        Figure::xy(
            "learning_time_vs_depth_init",
            &format!("Random orthogonal vs scaled Gaussian init (hidden width {})", cfg.width),
            "log2 D (D = number of weight matrices)",
            &format!("GD steps to loss ≤ {:e}·L0", cfg.rel_tol),
        )
        .log_y()
        .series(
            Series::markers("GD, random orthogonal (median; band: min-max)", xs("orthogonal"), meds("orthogonal"))
                .with_band(olo, ohi),
        )
        .series(
            Series::markers("GD, scaled Gaussian (median; band: min-max)", xs("gaussian"), meds("gaussian"))
                .with_band(glo, ghi),
        ),
    );
    let (mut ti, mut td, mut tr, mut ts, mut tst) = (vec![], vec![], vec![], vec![], vec![]);
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by_key(|&i| (cells[i].init.clone(), cells[i].depth, cells[i].rep));
    for i in order {
        ti.push(cells[i].init.clone());
        td.push(cells[i].depth);
        tr.push(cells[i].rep as usize);
        ts.push(res[i].steps.map_or(-1, |k| k as i64));
        tst.push(res[i].status.clone());
    }
    out.table(
        Table::new(
            "orthogonal_vs_gaussian",
            &format!("{setting}: GD steps per init, depth and seed (-1: capped or diverged)."),
        )
        .str("init", ti)
        .usize("depth", td)
        .usize("seed", tr)
        .i64("steps", ts)
        .str("status", tst),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Experiment 4: dynamical isometry.

#[derive(Clone, Debug, Serialize, Deserialize)]
struct IsoCell {
    depth: usize,
    rep: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct IsoResult {
    /// Accumulated QR log-diagonal of the Gaussian product (index order).
    gauss_logdiag: Vec<f64>,
    /// ln cond of the raw Gaussian product by SVD (only for short products, else None).
    gauss_lncond_svd: Option<f64>,
    /// max |σ - 1| of the orthogonal product.
    orth_defect: f64,
}

fn isometry(cfg: &IsometryCfg, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let n = cfg.width;
    let mut cells = vec![];
    for &d in &cfg.depths {
        for rep in 0..cfg.seeds {
            cells.push(IsoCell { depth: d, rep });
        }
    }
    let res = ctx.grid("isometry", &cells, |c, seed| {
        let g = net::gaussian_chain(&mut seed.child("gauss").rng(), &vec![n; c.depth + 1]);
        let o = net::orthogonal_chain(&mut seed.child("orth").rng(), &vec![n; c.depth + 1]);
        let svd = (c.depth <= 8).then(|| {
            let sv = common::linalg::singular_values(&g.product());
            (sv[0] / sv[n - 1]).ln()
        });
        Ok(IsoResult {
            gauss_logdiag: net::qr_log_diag(&g.ws),
            gauss_lncond_svd: svd,
            orth_defect: net::max_isometry_defect(&o.product()),
        })
    })?;
    let lncond = |r: &IsoResult| {
        let mx = r.gauss_logdiag.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mn = r.gauss_logdiag.iter().copied().fold(f64::INFINITY, f64::min);
        mx - mn
    };
    let by_depth = |d: usize| -> Vec<&IsoResult> {
        cells.iter().zip(&res).filter(|(c, _)| c.depth == d).map(|(_, r)| r).collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let xs: Vec<f64> = cfg.depths.iter().map(|&d| d as f64).collect();
    let mean_lc: Vec<f64> =
        cfg.depths.iter().map(|&d| mean(&by_depth(d).iter().map(|r| lncond(r)).collect::<Vec<_>>())).collect();
    let lo_lc: Vec<f64> =
        cfg.depths.iter().map(|&d| by_depth(d).iter().map(|r| lncond(r)).fold(f64::INFINITY, f64::min)).collect();
    let hi_lc: Vec<f64> =
        cfg.depths.iter().map(|&d| by_depth(d).iter().map(|r| lncond(r)).fold(0.0, f64::max)).collect();
    let svd_lc: Vec<f64> = cfg
        .depths
        .iter()
        .map(|&d| {
            let v: Vec<f64> = by_depth(d).iter().filter_map(|r| r.gauss_lncond_svd).collect();
            if v.is_empty() { f64::NAN } else { mean(&v) }
        })
        .collect();
    let (slope, icpt) = theory::ols(&xs, &mean_lc);
    let pred = theory::gaussian_lncond_slope(n);
    let defect = res.iter().map(|r| r.orth_defect).fold(0.0f64, worst);
    out.claim(
        Claim::new(
            "C4-orthogonal-isometry",
            "Products of random orthogonal matrices are exact isometries at every depth: max |σ_i - 1| over all singular values, depths and seeds",
            "dynamical isometry: products of orthogonal matrices keep every singular value at 1",
        )
        .measured(finite(defect))
        .detail(format!("N = {n}, depths {:?}, {} seeds; singular values by faer SVD.", cfg.depths, cfg.seeds))
        .drift(1e3)
        .at_most(1e-10),
    );
    out.claim(
        Claim::new(
            "C4-gaussian-spread",
            &format!(
                "Products of scaled Gaussian matrices spread their singular values exponentially with depth: fitted slope of mean ln cond(W_D⋯W_1) vs D, prediction [ψ(N/2) - ψ(1/2)]/2 = {} for N = {n}",
                fmt_num(pred)
            ),
            "dynamical isometry: products of scaled Gaussian matrices spread their singular values (Lyapunov spectrum of random products)",
        )
        .measured(finite(slope))
        .detail(format!(
            "mean ln cond by depth (QR accumulation): {}; intercept {}; SVD of the raw product for D ≤ 8 (same growth, O(1) offset at short depth): {}",
            cfg.depths.iter().zip(&mean_lc).map(|(d, x)| format!("{d}: {}", fmt_num(*x))).collect::<Vec<_>>().join(", "),
            fmt_num(icpt),
            cfg.depths.iter().zip(&svd_lc).filter(|(_, x)| x.is_finite()).map(|(d, x)| format!("{d}: {}", fmt_num(*x))).collect::<Vec<_>>().join(", ")
        ))
        .drift(0.1)
        .within(pred, 0.25),
    );
    let dmax = *cfg.depths.iter().max().unwrap() as f64;
    out.figure(
        Figure::xy("lncond_vs_depth", &format!("ln cond of random matrix products (N = {n})"), "depth D", "ln cond")
            .series(
                Series::markers(
                    &format!("Gaussian N(0,1/N) products (mean of {}; band: min-max)", cfg.seeds),
                    xs.clone(),
                    mean_lc.clone(),
                )
                .with_band(lo_lc, hi_lc),
            )
            .series(Series::line(
                &format!("theory (Lyapunov) {}·D", fmt_num(pred)),
                vec![0.0, dmax],
                vec![0.0, pred * dmax],
            ))
            .series(Series::markers("orthogonal products", xs.clone(), vec![0.0; xs.len()])),
    );
    let lyap = theory::gaussian_lyapunov(n);
    let idx: Vec<f64> = (1..=n).map(|i| i as f64).collect();
    let mut fig = Figure::xy(
        "lyapunov_spectrum",
        "Gaussian products: accumulated ln|R_ii| vs Lyapunov theory",
        "index i",
        "Σ_l ln|R_ii|",
    );
    let mut tab = Table::new("lyapunov_spectrum", "Mean accumulated QR log-diagonal of Gaussian products vs the Lyapunov prediction D·λ_i, λ_i = ½[ln(2/N) + ψ((N-i+1)/2)].")
        .usize("i", (1..=n).collect());
    for &d in cfg.spectrum_depths.iter().filter(|d| cfg.depths.contains(d)) {
        let rs = by_depth(d);
        let m: Vec<f64> = (0..n).map(|i| mean(&rs.iter().map(|r| r.gauss_logdiag[i]).collect::<Vec<_>>())).collect();
        let th: Vec<f64> = lyap.iter().map(|l| l * d as f64).collect();
        fig = fig.series(Series::markers(&format!("sampled products (mean), D = {d}"), idx.clone(), m.clone()));
        fig = fig.series(Series::line(&format!("theory D·λ_i (digamma), D = {d}"), idx.clone(), th.clone()));
        tab = tab.f64(&format!("sim_D{d}"), m).f64(&format!("theory_D{d}"), th);
    }
    out.figure(fig);
    out.table(tab);
    out.table(
        Table::new("isometry", "ln cond of the end-to-end map by depth: Gaussian (QR accumulation, mean/min/max over seeds; SVD of the raw product where short), orthogonal (max |σ-1|).")
            .usize("depth", cfg.depths.clone())
            .f64("gauss_lncond_mean", mean_lc)
            .f64("gauss_lncond_svd_mean", svd_lc)
            .f64("theory", xs.iter().map(|d| pred * d).collect())
            .f64(
                "orth_max_defect",
                cfg.depths.iter().map(|&d| by_depth(d).iter().map(|r| r.orth_defect).fold(0.0, f64::max)).collect(),
            ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::Profile;

    #[test]
    fn configs_roundtrip_and_validate() {
        for p in [Profile::Quick, Profile::Full] {
            let c = DeepLinearDynamics.config(p);
            validate(&c).unwrap();
            let j = serde_json::to_value(&c).unwrap();
            let back: Config = serde_json::from_value(j).unwrap();
            assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&c).unwrap());
        }
        let mut c = Config::quick();
        c.orth.data = "mnist".into();
        assert!(validate(&c).is_err());
    }

    #[test]
    fn helpers_and_three_layer_bookkeeping() {
        assert_eq!(linspace(3.0, 1.5, 4), vec![3.0, 2.5, 2.0, 1.5]);
        assert!(worst(1.0, f64::NAN).is_nan() && worst(1.0, 2.0) == 2.0);
        assert_eq!(finite(f64::INFINITY), f64::MAX);
        assert_eq!(finite(f64::NAN), f64::MAX);
        assert_eq!(finite_lb(f64::NAN), -f64::MAX);
        assert_eq!(finite_lb(f64::INFINITY), f64::MAX);
        // A short three-layer run: crossings interpolate inside the step where u passes the level,
        // and the deviation from the closed form is small.
        let mut c = Config::quick().three_layer;
        c.steps = 3000;
        c.lr = 2e-3;
        let run = run_three_layer(&c, Seed(1), c.lr, c.steps);
        let th = theory::t_half_three_layer(c.s[0], c.u0, 1.0) / c.lr;
        let x = run.crossings[0][1].unwrap();
        assert!((x - th).abs() / th < 0.01, "{x} vs {th}");
        assert!(three_layer_error(&c, &run).0 < 0.02 && run.max_offdiag < 1e-12);
        assert_eq!(run.samples.first().unwrap().0, 0);
        assert_eq!(run.samples.last().unwrap().0, c.steps);
    }

    #[test]
    fn digits_target_is_whitened_correlation() {
        let t = digits_target(3.0).unwrap();
        // Centred one-hot targets have rank 9: the null output direction is dropped.
        assert_eq!(t.nrows(), 9);
        assert!(t.ncols() > 50 && t.ncols() <= 64);
        let sv = common::linalg::singular_values(&t);
        assert!((sv[0] - 3.0).abs() < 1e-12);
        assert!(sv[8] > 1e-3 * sv[0]);
    }
}
