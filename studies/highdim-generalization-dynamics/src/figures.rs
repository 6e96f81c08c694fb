//! Tables, figures and notes of the report (pure functions of the results).
use crate::summary::{AlphaSummary, argmin};
use crate::theory::{self, mp_density, mp_edges, mp_zero_mass};
use crate::{Config, Results};
use common::report::fmt_num as fmt;
use common::{Figure, Outcome, Series, Table};
use serde::Serialize;

/// One row of `summary`: one (α, σ₀).
#[derive(Serialize)]
struct SummaryRow {
    alpha: f64,
    #[serde(rename = "P")]
    p: usize,
    sigma0: f64,
    eta: f64,
    t_star: u64,
    #[serde(rename = "Eg_tstar")]
    eg_tstar: f64,
    #[serde(rename = "Eg_tstar_mp")]
    eg_tstar_mp: f64,
    #[serde(rename = "Eg_inf")]
    eg_inf: f64,
    #[serde(rename = "Eg_inf_se")]
    eg_inf_se: f64,
    #[serde(rename = "Eg_inf_finiteN")]
    eg_inf_finite_n: f64,
    #[serde(rename = "Eg_inf_mp")]
    eg_inf_mp: f64,
    overtraining: f64,
    overtraining_mp: f64,
    #[serde(rename = "Eg_ridge")]
    eg_ridge: f64,
    #[serde(rename = "Eg_ridge_mp")]
    eg_ridge_mp: f64,
    early_stop_over_ridge: f64,
    #[serde(rename = "dEg_inf_dsigma0sq")]
    d_eg_inf_dsigma0sq: f64,
    #[serde(rename = "Et_inf")]
    et_inf: f64,
    lambda_min: f64,
    lambda_max: f64,
}

/// One row of `curves`: one (α, σ₀, checkpoint).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct CurveRow {
    alpha: f64,
    sigma0: f64,
    step: u64,
    Eg: f64,
    Eg_se: f64,
    Eg_expected_given_eigs: f64,
    Eg_mp: f64,
    Et: f64,
    Et_se: f64,
    Et_mp: f64,
}

/// Tables `summary` (per α and σ₀) and `curves` (every checkpoint, long format).
pub fn tables(cfg: &Config, sums: &[AlphaSummary], ks: &[u64], out: &mut Outcome) {
    let mut rows = vec![];
    for s in sums {
        for (r, &s0) in cfg.init_stds.iter().enumerate() {
            let (bi, best) = s.best(r);
            let c = &s.curves[r];
            let p = cfg.noise(s0);
            let best_mp = argmin(&c.mp_test).1;
            let inf_mp = theory::test_error_inf(s.alpha, p);
            rows.push(SummaryRow {
                alpha: s.alpha,
                p: s.p,
                sigma0: s0,
                eta: s.eta,
                t_star: ks[bi],
                eg_tstar: best,
                eg_tstar_mp: best_mp,
                eg_inf: s.test_inf[r].mean,
                eg_inf_se: s.test_inf[r].se,
                eg_inf_finite_n: theory::test_error_inf_finite(cfg.n, s.p, p).unwrap_or(f64::NAN),
                eg_inf_mp: inf_mp,
                overtraining: s.overtraining(r),
                overtraining_mp: inf_mp - best_mp,
                eg_ridge: s.ridge.mean,
                eg_ridge_mp: s.mp_ridge,
                early_stop_over_ridge: best / s.ridge.mean,
                d_eg_inf_dsigma0sq: if s0 > 0.0 { s.slope[r].mean } else { f64::NAN },
                et_inf: s.train_inf[r],
                lambda_min: s.lambda_min,
                lambda_max: s.lambda_max,
            });
        }
    }
    out.table(Table::from_rows(
        "summary",
        "Per α and σ₀ (seed means): best stopping step t*, E_g(t*) sim vs MP, E_g(∞) sim (± SE) vs the finite-N closed form vs the MP limit, overtraining E_g(∞) − min E_g sim vs MP, Bayes ridge, early-stop/ridge ratio, dE_g(∞)/dσ₀², final training error, mean extreme nonzero eigenvalues.",
        &rows,
    ));
    let mut rows = vec![];
    for s in sums {
        for (r, &s0) in cfg.init_stds.iter().enumerate() {
            let c = &s.curves[r];
            for (i, &k) in ks.iter().enumerate() {
                rows.push(CurveRow {
                    alpha: s.alpha,
                    sigma0: s0,
                    step: k,
                    Eg: c.test[i],
                    Eg_se: c.test_se[i],
                    Eg_expected_given_eigs: c.expected[i],
                    Eg_mp: c.mp_test[i],
                    Et: c.train[i],
                    Et_se: c.train_se[i],
                    Et_mp: c.mp_train[i],
                });
            }
        }
    }
    out.table(Table::from_rows(
        "curves",
        "Error curves at every checkpoint: seed-mean test and training error (± SE), the expectation given the realised eigenvalues, and the MP theory.",
        &rows,
    ));
}

/// Error vs time per α, overtraining and test error vs α, the spectrum, the effect of σ₀².
pub fn figures(cfg: &Config, r: &Results, out: &mut Outcome) {
    let (sums, ks) = (&r.alphas, &r.steps);
    // Error vs time per α (log x: steps ≥ 1).
    let pos: Vec<usize> = (0..ks.len()).filter(|&i| ks[i] >= 1).collect();
    let kx: Vec<f64> = pos.iter().map(|&i| ks[i] as f64).collect();
    let pick = |v: &[f64]| -> Vec<f64> { pos.iter().map(|&i| v[i]).collect() };
    // the training error of α < 1 decays to rounding level: show it down to 1e-4 of the start
    let floor = |x: Vec<f64>, y: Vec<f64>, min: f64| -> (Vec<f64>, Vec<f64>) {
        x.into_iter().zip(y).filter(|p| p.1 >= min).unzip()
    };
    for s in sums {
        let mut f = Figure::xy(
            &format!("errors_alpha_{}", fmt(s.alpha).replace('.', "p")),
            &format!("α = {} (N = {}, P = {}): error vs step, simulation vs MP theory", fmt(s.alpha), cfg.n, s.p),
            "gradient-descent step k",
            "error",
        )
        .log_x()
        .log_y();
        for (r, &s0) in cfg.init_stds.iter().enumerate() {
            let c = &s.curves[r];
            let min = 1e-4 * (cfg.teacher_var + s0 * s0 + cfg.noise_var);
            let (tx, ty) = floor(kx.clone(), pick(&c.train), min);
            let (mx, my) = floor(kx.clone(), pick(&c.mp_train), min);
            let test = pick(&c.test);
            let se = pick(&c.test_se);
            let lo: Vec<f64> = test.iter().zip(&se).map(|(m, e)| m - 2.0 * e).collect();
            let hi: Vec<f64> = test.iter().zip(&se).map(|(m, e)| m + 2.0 * e).collect();
            f = f
                .series(Series::markers(&format!("test, sim (σ₀={})", fmt(s0)), kx.clone(), test).with_band(lo, hi))
                .series(Series::line(&format!("test, MP (σ₀={})", fmt(s0)), kx.clone(), pick(&c.mp_test)))
                .series(Series::markers(&format!("train, sim (σ₀={})", fmt(s0)), tx, ty))
                .series(Series::dashed(&format!("train, MP (σ₀={})", fmt(s0)), mx, my));
        }
        out.figure(f);
    }
    // Overtraining vs α.
    let th = &r.theory_overtraining;
    let xs: Vec<f64> = sums.iter().map(|s| s.alpha).collect();
    let ot: Vec<f64> = sums.iter().map(|s| s.overtraining(0)).collect();
    let (lo, hi): (Vec<f64>, Vec<f64>) = sums
        .iter()
        .map(|s| {
            let e = 2.0 * s.overtraining_se;
            ((s.overtraining(0) - e).max(0.5 * s.overtraining(0)), s.overtraining(0) + e)
        })
        .unzip();
    let split = |below: bool| -> (Vec<f64>, Vec<f64>) {
        th.iter().filter(|t| (t.alpha < 1.0) == below).map(|t| (t.alpha, t.overtraining)).unzip()
    };
    let (xl, yl) = split(true);
    let (xr, yr) = split(false);
    out.figure(
        Figure::xy(
            "overtraining_vs_alpha",
            "Peak overtraining E_g(∞) − min_t E_g(t) vs α = P/N (σ₀ = 0)",
            "α = P/N",
            "overtraining",
        )
        .log_x()
        .log_y()
        .series(Series::line("MP theory (α < 1)", xl, yl))
        .series(Series::line("MP theory (α > 1)", xr, yr))
        .series(Series::markers(&format!("simulation, N = {}", cfg.n), xs.clone(), ot).with_band(lo, hi)),
    );
    // Test error vs α: asymptote, early-stopped, ridge.
    let side = |below: bool| -> (Vec<f64>, Vec<f64>) {
        th.iter().filter(|t| (t.alpha < 1.0) == below).map(|t| (t.alpha, t.inf)).unzip()
    };
    let (ax, ay) = side(true);
    let (bx, by) = side(false);
    let (tx, tbest): (Vec<f64>, Vec<f64>) = th.iter().map(|t| (t.alpha, t.best)).unzip();
    let get = |f: &dyn Fn(&AlphaSummary) -> f64| -> Vec<f64> { sums.iter().map(f).collect() };
    out.figure(
        Figure::xy(
            "test_error_vs_alpha",
            "Test error vs α: k → ∞, early-stopped, Bayes ridge (σ₀ = 0)",
            "α = P/N",
            "test error",
        )
        .log_x()
        .log_y()
        .series(Series::line("E_g(∞), MP (α < 1)", ax, ay))
        .series(Series::line("E_g(∞), MP (α > 1)", bx, by))
        .series(Series::markers("E_g(∞), sim", xs.clone(), get(&|s| s.test_inf[0].mean)))
        .series(Series::markers(
            "E_g(∞), finite-N closed form",
            xs.clone(),
            get(&|s| theory::test_error_inf_finite(cfg.n, s.p, cfg.noise(0.0)).unwrap_or(f64::NAN)),
        ))
        .series(Series::dashed("min_t E_g, MP", tx, tbest))
        .series(Series::markers("min_t E_g, sim", xs.clone(), get(&|s| s.best(0).1)))
        .series(Series::line_markers("Bayes ridge, MP", xs.clone(), get(&|s| s.mp_ridge)))
        .series(Series::markers("Bayes ridge, sim", xs.clone(), get(&|s| s.ridge.mean))),
    );
    // Spectrum: histogram density vs MP density, a few α.
    let mut f =
        Figure::xy("mp_spectrum", "Eigenvalues of XᵀX: pooled histogram vs Marchenko-Pastur density", "λ", "density");
    for s in sums.iter().filter(|s| [0.25, 0.5, 2.0, 4.0].contains(&s.alpha)) {
        let width = cfg.hist_max(s.alpha) / cfg.hist_bins as f64;
        let total = cfg.seeds as f64 * cfg.n as f64;
        let centres: Vec<f64> = (0..cfg.hist_bins).map(|i| (i as f64 + 0.5) * width).collect();
        let dens: Vec<f64> = s.hist.iter().map(|h| h / total / width).collect();
        let (lo, hi) = mp_edges(s.alpha);
        let lx: Vec<f64> = (1..400).map(|i| lo + (hi - lo) * i as f64 / 400.0).collect();
        let ly: Vec<f64> = lx.iter().map(|&l| mp_density(s.alpha, l)).collect();
        f = f.series(Series::markers(&format!("histogram, α={}", fmt(s.alpha)), centres, dens)).series(Series::line(
            &format!("MP, α={}", fmt(s.alpha)),
            lx,
            ly,
        ));
    }
    out.figure(f);
    // Increase of E_g(∞) with σ₀² (antithetic estimate) vs the frozen-subspace prediction (1 − α)₊σ₀².
    let s0sq: Vec<f64> = cfg.init_stds.iter().map(|s| s * s).collect();
    let mut f = Figure::xy(
        "init_scale",
        "Increase of E_g(∞) with σ₀²: simulation vs (1 − α)₊σ₀²",
        "σ₀²",
        "E_g(∞; σ₀) − E_g(∞; 0)",
    );
    for s in sums.iter().filter(|s| s.alpha < 1.0 || s.alpha == 2.0) {
        let sim: Vec<f64> = s.slope.iter().zip(&s0sq).map(|(sl, v)| sl.mean * v).collect();
        let th: Vec<f64> = s0sq.iter().map(|v| mp_zero_mass(s.alpha) * v).collect();
        f = f.series(Series::markers(&format!("sim, α={}", fmt(s.alpha)), s0sq.clone(), sim)).series(Series::line(
            &format!("(1−α)₊σ₀², α={}", fmt(s.alpha)),
            s0sq.clone(),
            th,
        ));
    }
    out.figure(f);
}

/// Setup, theory, what is not reproduced.
pub fn notes(cfg: &Config, out: &mut Outcome) {
    out.note(format!(
        "Setup: N = {}, P = round(αN), x ~ N(0, I/N), teacher w̄ ~ N(0, {}·I), label noise σ² = {}, student w0 = σ₀·g with one \
         direction g ~ N(0, I) per data set shared by all σ₀ ∈ {:?}. Full-batch gradient descent on ½‖Xw − y‖² with step \
         η = {}/λ₊(α), λ₊ = (1+√α)² (the same η in simulation and theory; η = 1/λ_max(XᵀX) of each data set would make \
         the theory depend on the sample), {} steps, {} seeds per α, errors at {} log-spaced checkpoints. Test error \
         E_g = σ² + ‖w − w̄‖²/N is exact over test inputs; E_g(∞) is the minimum-norm change from w0 (pinv), computed in \
         the eigenbasis.",
        cfg.n,
        fmt(cfg.teacher_var),
        fmt(cfg.noise_var),
        cfg.init_stds,
        fmt(cfg.lr_scale),
        cfg.steps,
        cfg.seeds,
        cfg.checkpoints
    ));
    out.note(
        "Theory: every MP curve is a Gauss-Chebyshev quadrature over the Marchenko-Pastur density (plus the point mass \
         (1−α)₊ at λ = 0) of the discrete-time per-mode error, from closed forms only; no simulated number enters it. \
         The finite-N asymptote uses the inverse moments of a Wishart matrix. Overtraining is measured on the same \
         checkpoint grid for simulation and theory.",
    );
    out.note(
        "Not reproduced: the paper's nonlinear two-layer ReLU student-teacher experiments (overtraining vs network size \
         N_h·N_in/P) and the deep linear network analysis; this study covers the linear student-teacher model.",
    );
}
