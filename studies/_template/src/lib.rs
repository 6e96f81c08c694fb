//! Study `_template`: the shape every study copies (`cargo repro new <slug>` starts from it). It
//! is a real, tiny experiment: gradient descent on a strongly convex quadratic converges linearly
//! at the rate `max_i |1 − η λ_i|` (Nesterov, *Introductory Lectures on Convex Optimization*,
//! 2004, Thm 2.1.15), fastest at `η = 2/(μ + L)`, and diverges beyond `η = 2/L`.
//!
//! Read it top to bottom, like a paper's experiment section:
//! 1. **Config**: every knob, its two profiles, its checks and its memory estimate.
//! 2. **Claims**: declared once, with the wrong answer each bound excludes.
//! 3. **Measure**: the sweep; every number, nothing formatted (`Results`).
//! 4. **Report**: tables, figures and claims from the results; pure, no randomness.

use anyhow::Result;
use common::linalg::haar_orthogonal;
use common::report::{fmt_num, spec::list_some};
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Figure, Outcome, Paper, Profiles, Series, Study, Sweep, Swept, Table};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// The study (registered in `repro/src/registry.rs`).
pub struct StudyTemplate;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Dimension of the quadratic.
    pub d: usize,
    /// Condition number L/μ (μ = 1); eigenvalues log-spaced in [1, κ].
    pub kappa: f64,
    /// Step sizes, in units of 1/L.
    pub steps_over_l: Vec<f64>,
    /// Gradient steps per run.
    pub iters: usize,
    /// Repetitions (random eigenbasis and signs).
    pub reps: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config { d: 20, kappa: 10.0, steps_over_l: vec![0.25, 0.5, 1.0, 2.0 / 1.1, 2.2], iters: 400, reps: 3 }
    }
    fn full() -> Self {
        Config { d: 500, kappa: 100.0, steps_over_l: vec![0.25, 0.5, 1.0, 2.0 / 1.01, 2.2], iters: 4000, reps: 20 }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.size("d", self.d, 2, 4096)
            .real("kappa", self.kappa, 1.5, 1e6)
            .reals("steps_over_l", &self.steps_over_l, 1e-6, 10.0)
            .size("iters", self.iters, 10, 10_000_000)
            .size("reps", self.reps, 1, 10_000)
            .rule(
                self.steps_over_l.iter().any(|&s| (s - 2.0 / (1.0 + 1.0 / self.kappa)).abs() < 1e-9),
                "`steps_over_l` must hold the optimal step 2/(1 + 1/kappa) (claim R2)",
            )
            .rule(self.steps_over_l.iter().any(|&s| s > 2.0), "`steps_over_l` must hold a step beyond 2 (claim R3)");
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        // Per running cell: the d×d matrix and its eigenbasis; the iterate history of ‖x_t‖.
        let per_cell = 3.0 * (self.d as f64).powi(2) + self.iters as f64;
        let cells = (self.steps_over_l.len() * self.reps) as f64;
        Estimate::f64s(2.0 * per_cell + cells * self.iters as f64)
            .seconds(cells * self.iters as f64 * (self.d as f64).powi(2) * 2e-9)
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const R1: ClaimSpec = ClaimSpec::new(
    "R1",
    "Gradient descent on a strongly convex quadratic contracts ‖x_t‖ at the rate max_i |1 − ηλ_i| at every \
     step size below 2/L (max absolute error of the measured rate over steps and repetitions).",
    "Nesterov (2004), Thm 2.1.15",
    Expect::at_most(1e-3),
)
.wrong(
    "the loss's rate ρ² instead of the iterate's ρ (a factor 2 in the exponent) is 0.09 off at η = 1/(2L) and \
     0.19 off at η = 1/L; the rate 1 − ηλ_max (the wrong end of the spectrum) is 0.72 off at η = 1/(2L)",
);

const R2: ClaimSpec = ClaimSpec::new(
    "R2",
    "The fastest step is η = 2/(μ + L), with rate (κ − 1)/(κ + 1) (measured minus theory at that step).",
    "Nesterov (2004), Thm 2.1.15",
    Expect::within(0.0, 1e-3),
)
.wrong("the step 1/L, often quoted as optimal, has rate 1 − 1/κ: 0.082 above (κ − 1)/(κ + 1) at κ = 10");

const R3: ClaimSpec = ClaimSpec::new(
    "R3",
    "Beyond η = 2/L gradient descent diverges: the measured per-step growth of ‖x_t‖ (min over repetitions).",
    "Nesterov (2004), Sec. 1.2.3",
    Expect::at_least(1.0),
)
.wrong("a run that clipped or normalized its steps would contract (growth < 1) at η = 2.2/L");

const R4: ClaimSpec = ClaimSpec::new(
    "R4",
    "Linear convergence shows as a straight line of log ‖x_t‖: R² of the log-linear fit over the second half of \
     the run, minimum over contracting cells.",
    "Nesterov (2004), Thm 2.1.15",
    Expect::at_least(0.999),
)
.not_gated("illustrates the template's not-gated shape: R² is not a claim of the theorem, only of its reading");

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[R1, R2, R3, R4];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// One run: the norm of the iterate at every step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// Step size η.
    pub eta: f64,
    /// The theoretical rate max_i |1 − ηλ_i|.
    pub theory: f64,
    /// ‖x_t‖ for t = 0..=iters (may reach infinity for divergent steps).
    #[serde(with = "common::report::json_f64::vec")]
    pub norms: Vec<f64>,
}

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// One run per (step, rep).
    pub runs: Swept<Run>,
}

/// Eigenvalues log-spaced in [1, κ].
pub fn spectrum(cfg: &Config) -> Vec<f64> {
    common::stats::logspace(1.0, cfg.kappa, cfg.d)
}

/// Gradient descent from x0 = Q s (unit weight on every eigendirection, random signs), so the
/// slowest direction is always excited and the rate is seed-independent in exact arithmetic.
pub fn run(cfg: &Config, eta: f64, seed: common::Seed) -> Run {
    let lam = spectrum(cfg);
    let q = haar_orthogonal(&mut seed.child("basis").rng(), cfg.d);
    let a: Array2<f64> = q.dot(&Array2::from_diag(&Array1::from(lam.clone()))).dot(&q.t());
    let mut rng = seed.child("signs").rng();
    let s = Array1::from_shape_fn(cfg.d, |_| if rand_sign(&mut rng) { 1.0 } else { -1.0 });
    let mut x = q.dot(&s);
    let mut norms = Vec::with_capacity(cfg.iters + 1);
    norms.push(x.dot(&x).sqrt());
    for _ in 0..cfg.iters {
        x = &x - &(a.dot(&x) * eta);
        norms.push(x.dot(&x).sqrt());
    }
    let theory = lam.iter().map(|l| (1.0 - eta * l).abs()).fold(0.0, f64::max);
    Run { eta, theory, norms }
}

fn rand_sign(rng: &mut common::rng::StudyRng) -> bool {
    use rand::Rng;
    rng.random::<bool>()
}

impl Study for StudyTemplate {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "_template"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Introductory Lectures on Convex Optimization (Thm 2.1.15: gradient descent on quadratics)",
            authors: "Yurii Nesterov",
            arxiv: "n/a (book, 2004)",
            official_code: None,
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let lmax = cfg.kappa;
        let sweep = Sweep::new("gd").axis("step_over_l", &cfg.steps_over_l).reps(cfg.reps);
        let runs = ctx.sweep(&sweep, |c, seed| Ok(run(cfg, c.f64("step_over_l") / lmax, seed)))?;
        Ok(Results { runs })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let fits: Vec<Fit> = r.runs.iter().map(|(c, run)| fit(c, run)).collect();
        out.table(Table::from_rows("rates", "Measured and theoretical rate of every run", &fits));

        let contracting = || fits.iter().filter(|f| f.theory < 1.0);
        out.claim(R1.max_of(contracting().map(|f| (&f.cell, (f.rate - f.theory).abs()))));
        let opt = 2.0 / (1.0 + 1.0 / cfg.kappa);
        let at_opt: Vec<&Fit> = fits.iter().filter(|f| (f.step_over_l - opt).abs() < 1e-9).collect();
        let fastest = fits.iter().min_by(|a, b| a.rate.total_cmp(&b.rate)).expect("runs");
        let target = (cfg.kappa - 1.0) / (cfg.kappa + 1.0);
        let worst = at_opt.iter().map(|f| f.rate - target).fold(0.0, |m: f64, e| if e.abs() > m.abs() { e } else { m });
        out.claim(R2.measured(worst).detail(format!(
            "theory (κ − 1)/(κ + 1) = {}; the fastest run is {} (step {} /L); measured at the optimal step: {}",
            fmt_num(target),
            fastest.cell,
            fmt_num(fastest.step_over_l),
            list_some(&at_opt.iter().map(|f| fmt_num(f.rate)).collect::<Vec<_>>(), 5)
        )));
        out.claim(R3.min_of(fits.iter().filter(|f| f.step_over_l > 2.0).map(|f| (&f.cell, f.rate))));
        out.claim(R4.min_of(contracting().map(|f| (&f.cell, f.r2))));

        let mut fig = Figure::xy("norms", "‖x_t‖ under gradient descent (rep 0)", "step t", "‖x_t‖").log_y();
        for (c, run) in r.runs.filter(|c| c.rep() == 0) {
            let idx = common::stats::thin_indices(run.norms.len(), 200, false);
            let keep: Vec<usize> =
                idx.into_iter().filter(|&i| run.norms[i].is_finite() && run.norms[i] < 1e30).collect();
            let label = format!("η = {} /L", fmt_num(c.f64("step_over_l")));
            fig = fig.series(Series::line(
                &label,
                keep.iter().map(|&i| i as f64).collect(),
                keep.iter().map(|&i| run.norms[i]).collect(),
            ));
        }
        out.figure(fig);
        out.note(format!(
            "Setup: f(x) = ½ xᵀAx in d = {} with eigenvalues log-spaced in [1, {}], a Haar-random eigenbasis, x0 with \
             unit weight and a random sign on every eigendirection; {} gradient steps; {} repetitions. The rate is \
             the geometric mean contraction of ‖x_t‖ over the second half of the run.",
            cfg.d,
            fmt_num(cfg.kappa),
            cfg.iters,
            cfg.reps
        ));
        Ok(out)
    }
}

/// One row of the rates table.
#[derive(Clone, Debug, Serialize)]
pub struct Fit {
    /// The cell, as text.
    pub cell: String,
    /// η·L.
    pub step_over_l: f64,
    /// Measured rate: (‖x_T‖/‖x_{T/2}‖)^(2/T).
    pub rate: f64,
    /// max_i |1 − ηλ_i|.
    pub theory: f64,
    /// R² of the log-linear fit over the second half.
    pub r2: f64,
}

/// The rate of a run over its second half.
pub fn fit(cell: &common::Cell, run: &Run) -> Fit {
    let n = run.norms.len() - 1;
    let h = n / 2;
    let rate = (run.norms[n] / run.norms[h]).powf(1.0 / (n - h) as f64);
    let t: Vec<f64> = (h..=n).map(|i| i as f64).collect();
    let ly: Vec<f64> = run.norms[h..].iter().map(|v| v.ln()).collect();
    let r2 = if ly.iter().all(|v| v.is_finite()) { common::stats::linfit(&t, &ly).r2 } else { f64::NAN };
    Fit { cell: cell.to_string(), step_over_l: cell.f64("step_over_l"), rate, theory: run.theory, r2 }
}

// template-self-test:begin (removed by `cargo repro new`: registered studies get the generated suite)
#[cfg(test)]
mod tests {
    use super::*;
    use common::study::conformance;

    #[test]
    fn the_template_passes_the_generic_suite() {
        conformance::config_contract(&StudyTemplate);
        let dir = tempfile::tempdir().unwrap();
        conformance::quick_contract(&StudyTemplate, dir.path(), 1, None);
    }

    /// A planted bug (the loss's rate ρ² reported as the iterate's) fails R1.
    #[test]
    fn a_planted_factor_two_fails_r1() {
        let cfg = Config::quick();
        let ctx = Ctx::for_test(3, common::Profile::Quick);
        let mut r = StudyTemplate.measure(&cfg, &ctx).unwrap();
        for run in &mut r.runs.results {
            run.norms.iter_mut().for_each(|v| *v = *v * *v);
        }
        let out = StudyTemplate.report(&cfg, &r).unwrap();
        assert!(!out.claims[0].passed, "{:?}", out.claims[0]);
    }
}
// template-self-test:end
