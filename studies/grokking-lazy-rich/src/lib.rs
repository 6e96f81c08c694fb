//! Study `grokking-lazy-rich`: Kumar, Bordelon, Gershman & Pehlevan, "Grokking as the transition
//! from lazy to rich training dynamics" (ICLR 2024, arXiv:2310.06110), the polynomial-regression
//! experiment of the authors' notebook (Fig. 1).
//!
//! 1. **Model.** f(x) = α·mean_i φ(w_i·x), φ(z) = z + εz²/2, W ∈ ℝ^{N×D} with N(0,1) entries, readouts
//!    fixed; data X = randn(D,P)/√D, teacher β ~ N(0, I_D), target y = (β·x)²/2; the centred loss
//!    mean((f − f0 − y)²), full-batch GD with η = N/α².
//! 2. **Exact reduction.** f depends on W only through m = mean w_i and M = (1/N)Σ w_i w_iᵀ, and GD
//!    closes on (m, M) (see [`dynamics`]); the population test loss is a closed form in (m, M). The
//!    quick profile integrates the reduced dynamics (D = 50, P = 275) for α ∈ {0.5, 1, 2} and
//!    ε ∈ {0.02, 0.2}, checks it against the full network (N = 200, 500 epochs) and the closed form
//!    against a Monte-Carlo test loss.
//! 3. **Grokking.** The train loss falls first while the test loss rises (the kernel fit of the lazy
//!    regime); the test loss falls only once M aligns with ββᵀ (feature learning). The delay ratio
//!    R = t_test/t_train (epochs to reach 20 % of the initial loss) grows with the laziness α.
//! 4. **NTK alignment.** The centred kernel alignment of the test NTK with yyᵀ, from (m, M) in closed
//!    form, rises when the test loss drops.

pub mod dynamics;
#[cfg(test)]
mod tests;

use anyhow::Result;
use common::report::fmt_num;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Figure, Outcome, Paper, Profiles, Series, Study, Table};
use dynamics::{Bugs, Plan, Problem};
use serde::{Deserialize, Serialize};

/// The study (registered in `repro/src/registry.rs`).
pub struct GrokkingLazyRich;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Input dimension D.
    pub d: usize,
    /// Training points P.
    pub p: usize,
    /// Hidden width N of the full-network run (the reduced dynamics do not depend on N).
    pub n: usize,
    /// Epochs of the full-network vs reduced comparison (claim Q1).
    pub equiv_epochs: usize,
    /// Output scales α (laziness); must hold 0.5, 1 and 2 (claim Q4).
    pub alphas: Vec<f64>,
    /// Quadratic coefficients ε; the first is the reference (0.02 in the paper), run at every α.
    pub epsilons: Vec<f64>,
    /// The α values at which the other ε are run (claim Q5).
    pub alt_eps_alphas: Vec<f64>,
    /// Maximum epochs of a reduced run.
    pub max_epochs: usize,
    /// The threshold: t_train and t_test are the first epochs at which the loss is ≤ frac × initial.
    pub frac: f64,
    /// Stop a run once both thresholds are reached (and every Monte-Carlo checkpoint passed).
    pub stop_early: bool,
    /// Recorded points per curve (log-spaced epochs).
    pub record_points: usize,
    /// Monte-Carlo test points.
    pub n_mc: usize,
    /// Epochs of the Monte-Carlo checkpoints (claim Q2).
    pub mc_epochs: Vec<usize>,
    /// Test points of the NTK alignment (the first of the Monte-Carlo points).
    pub n_ntk: usize,
    /// NTK alignment at every `ntk_every`-th recorded epoch.
    pub ntk_every: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            d: 50,
            p: 275,
            n: 200,
            equiv_epochs: 500,
            alphas: vec![0.5, 1.0, 2.0],
            epsilons: vec![0.02, 0.2],
            alt_eps_alphas: vec![0.5],
            max_epochs: 60_000,
            frac: 0.2,
            stop_early: true,
            record_points: 120,
            n_mc: 20_000,
            mc_epochs: vec![10, 300, 1000, 2000, 4000],
            n_ntk: 200,
            ntk_every: 3,
        }
    }
    fn full() -> Self {
        Config {
            d: 100,
            p: 550,
            n: 500,
            equiv_epochs: 500,
            alphas: vec![0.25, 0.5, 1.0, 2.0],
            epsilons: vec![0.02, 0.05, 0.2],
            alt_eps_alphas: vec![0.25, 0.5, 1.0, 2.0],
            max_epochs: 100_000,
            frac: 0.2,
            stop_early: false,
            record_points: 300,
            n_mc: 20_000,
            mc_epochs: vec![10, 500, 9426, 30_000, 55_410],
            n_ntk: 1000,
            ntk_every: 1,
        }
    }
}

fn has(v: &[f64], x: f64) -> bool {
    v.iter().any(|&a| (a - x).abs() < 1e-12)
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.size("d", self.d, 2, 400)
            .size("p", self.p, 2, 20_000)
            .size("n", self.n, 1, 20_000)
            .size("equiv_epochs", self.equiv_epochs, 1, 100_000)
            .list("alphas", &self.alphas, 16)
            .reals("alphas", &self.alphas, 0.01, 100.0)
            .list("epsilons", &self.epsilons, 8)
            .reals("epsilons", &self.epsilons, 1e-4, 1.0)
            .list("alt_eps_alphas", &self.alt_eps_alphas, 16)
            .rule(
                !self.alt_eps_alphas.is_empty() && self.alt_eps_alphas.iter().all(|&a| has(&self.alphas, a)),
                "`alt_eps_alphas` must be a nonempty subset of `alphas` (claim Q5)",
            )
            .size("max_epochs", self.max_epochs, 10, 10_000_000)
            .real("frac", self.frac, 0.01, 0.99)
            .size("record_points", self.record_points, 10, 10_000)
            .size("n_mc", self.n_mc, 10, 1_000_000)
            .list("mc_epochs", &self.mc_epochs, 32)
            .sizes("mc_epochs", &self.mc_epochs, 0, self.max_epochs)
            .increasing("mc_epochs", &self.mc_epochs)
            .size("n_ntk", self.n_ntk, 2, 4000)
            .size("ntk_every", self.ntk_every, 1, 10_000)
            .rule(self.n_ntk <= self.n_mc, "`n_ntk` must be at most `n_mc` (the NTK points are Monte-Carlo points)")
            .rule(
                has(&self.alphas, 0.5) && has(&self.alphas, 1.0) && has(&self.alphas, 2.0),
                "`alphas` must hold 0.5, 1 and 2 (claim Q4)",
            )
            .rule(self.epsilons.len() >= 2, "`epsilons` must hold at least two values (claim Q5)")
            .rule(!self.mc_epochs.is_empty(), "`mc_epochs` must hold at least one epoch (claim Q2)");
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        let (d, p, n) = (self.d as f64, self.p as f64, self.n as f64);
        let cells = (self.alphas.len() + self.alt_eps_alphas.len() * (self.epsilons.len() - 1)) as f64;
        let mem = (d * (p + self.n_mc as f64) + n * (d + 2.0 * p) + 3.0 * (self.n_ntk as f64).powi(2))
            + cells * (8.0 * d * d + 4.0 * self.record_points as f64);
        let per_epoch = 3.0 * d * d * p + 2.0 * d * d * d;
        Estimate::f64s(mem).seconds(
            cells * self.max_epochs as f64 * per_epoch * 2e-10 + self.equiv_epochs as f64 * 4.0 * n * d * p * 2e-10,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const Q1: ClaimSpec = ClaimSpec::new(
    "Q1",
    "GD of the full network (N = 200) and the reduced (m, M) dynamics give the same train loss: max relative \
     difference over the comparison epochs (α = 1, reference ε).",
    "spec C1 (derived); notebook: 'reduced dynamics reproduces the full-network losses'",
    Expect::at_most(1e-8),
)
.wrong(
    "dropping the ε·h term of φ′ in the full network's backward pass, or using η = N instead of N/α², makes the \
     two disagree by > 1e-4 within 500 epochs; a dynamics missing the ggᵀ/α² term of the M update is off at 1e-6",
);

const Q2: ClaimSpec = ClaimSpec::new(
    "Q2",
    "The closed-form population test loss ‖v‖²/D + (TrQ)²/D² + 2Tr(Q²)/D² equals the Monte-Carlo test loss on \
     20 000 points: max |closed − MC|/SE over the checkpoints of every run.",
    "spec C1 (derived); paper Fig. 1 (test loss)",
    Expect::at_most(4.0),
)
.wrong(
    "Tr(Q²)/D² without the factor 2 (the Gaussian fourth moment) is off by > 10 SE at the first checkpoint; \
     training on an uncentred loss (f − y instead of f − f0 − y) leaves the closed form, which assumes the centred \
     one, by 22 SE (seed 0: the ε = 0.2 run at epoch 4000)",
);

const Q3: ClaimSpec = ClaimSpec::new(
    "Q3",
    "Lazy phase: the test loss first rises above its initial value while the train loss falls. Min over α \
     (reference ε) of max_t L_test / L_test(0), counted as 0 for a run whose train loss at the peak is not below \
     its initial value.",
    "paper Fig. 1, Sec. 3; notebook: test 0.833 → 1.033 while train 0.747 → 0.559",
    Expect::at_least(1.05),
)
.wrong("a model trained from the start in the rich regime (no kernel phase) shows no test-loss bump (ratio ≈ 1)");

const Q4: ClaimSpec = ClaimSpec::new(
    "Q4",
    "Grokking: the test loss reaches 20 % of its initial value much later than the train loss: R(α = 1) = \
     t_test/t_train at the reference ε.",
    "paper Fig. 1 and Sec. 3 (delay set by α); spec calibration R ≈ 3.3 at D = 50",
    Expect::at_least(1.4),
)
.wrong(
    "φ′ without the ε term learns no features: the test loss never reaches 20 % (R reported as 0); a model \
     without a lazy phase has train and test fall together (R ≈ 1)",
);

const Q4B: ClaimSpec = ClaimSpec::new(
    "Q4b",
    "The delay grows with laziness: min(R(1)/R(0.5), R(2)/R(1)) at the reference ε.",
    "paper Sec. 3 and Fig. 1 (larger α, longer plateau)",
    Expect::at_least(1.02),
)
.wrong(
    "a delay set by the data alone (no lazy phase) would leave R flat in α (ratio ≈ 1); note that η = N instead of \
     N/α² only rescales time and leaves R unchanged (Q4c catches it)",
);

const Q4C: ClaimSpec = ClaimSpec::new(
    "Q4c",
    "The time to generalize scales with laziness: min(t_test(1)/t_test(0.5), t_test(2)/t_test(1)) at the reference \
     ε (≈ 2: t_test ∝ α with η = N/α²).",
    "paper Sec. 3 (the plateau length is set by α)",
    Expect::at_least(1.7),
)
.wrong(
    "η = N instead of N/α² (the step not scaled with the laziness) rescales time by α²: larger α then \
     generalizes sooner (ratio ≈ 0.5); no α dependence would give 1",
);

const Q5: ClaimSpec = ClaimSpec::new(
    "Q5",
    "Better initial NTK–target alignment (larger ε) shortens the delay: max over α of R(largest ε)/R(reference ε).",
    "paper Sec. 4 (alignment of the initial kernel controls grokking)",
    Expect::at_most(1.0),
)
.wrong("if ε did not matter the ratio would be ≈ 1 at every α")
.not_gated(
    "false at every calibration seed (1.51–2.05 over 20 seeds): larger ε speeds both losses up in epochs but the \
     train loss more, so R grows; kept with its numbers",
);

const Q6: ClaimSpec = ClaimSpec::new(
    "Q6",
    "The NTK aligns with the target when the test loss drops: CKA(Θ_test, yyᵀ) at the end minus at the start \
     (α = 1, reference ε).",
    "paper Fig. 1 (NTK alignment on the twin axis)",
    Expect::at_least(0.05),
)
.not_gated(
    "reported with its curve: at ε = 0.02 the CKA moves by only 0.002–0.008 (20 seeds), too little to gate a \
     statement about it",
);

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[Q1, Q2, Q3, Q4, Q4B, Q4C, Q5, Q6];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// One reduced run (one α, one ε).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// Output scale α.
    pub alpha: f64,
    /// Quadratic coefficient ε.
    pub eps: f64,
    /// Epochs run (the run stops early once both thresholds are reached).
    pub epochs_run: usize,
    /// First epoch with train loss ≤ frac × initial.
    pub t_train: Option<usize>,
    /// First epoch with (closed-form) test loss ≤ frac × initial.
    pub t_test: Option<usize>,
    /// max_t L_test.
    pub peak_test: f64,
    /// Its epoch.
    pub peak_epoch: usize,
    /// The train loss at that epoch.
    pub train_at_peak: f64,
    /// Recorded epochs.
    pub epochs: Vec<usize>,
    /// Train loss at them.
    #[serde(with = "common::report::json_f64::vec")]
    pub train: Vec<f64>,
    /// Closed-form test loss at them.
    #[serde(with = "common::report::json_f64::vec")]
    pub test: Vec<f64>,
    /// Monte-Carlo checkpoints: (epoch, closed form, Monte Carlo, SE).
    pub mc: Vec<(usize, f64, f64, f64)>,
    /// NTK alignment: (epoch, CKA with yyᵀ).
    pub ntk: Vec<(usize, f64)>,
}

impl Run {
    /// R = t_test / t_train (None if either was not reached).
    pub fn ratio(&self) -> Option<f64> {
        Some(self.t_test? as f64 / self.t_train? as f64)
    }
}

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Train loss of the full network over the comparison epochs (α = 1, reference ε).
    pub full_train: Vec<f64>,
    /// Train loss of the reduced dynamics over the same epochs.
    pub reduced_train: Vec<f64>,
    /// One run per (α, ε): every α at the reference ε, then `alt_eps_alphas` at each other ε.
    pub runs: Vec<Run>,
}

/// One cell of the sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Cell {
    alpha: f64,
    eps: f64,
}

/// The whole measurement, with optional planted bugs (tests).
pub fn measure_with(cfg: &Config, ctx: &Ctx, bugs: Bugs) -> Result<Results> {
    let pb = Problem::draw(ctx.seed.child("problem"), cfg.d, cfg.p, cfg.n, cfg.n_mc, cfg.n_ntk);
    let eps0 = cfg.epsilons[0];
    let full_train = dynamics::full_network_train(&pb, 1.0, eps0, cfg.equiv_epochs, bugs);
    let equiv = Plan {
        epochs: cfg.equiv_epochs,
        frac: cfg.frac,
        stop: false,
        record: &(0..=cfg.equiv_epochs).collect::<Vec<_>>(),
        mc: &[],
        ntk_every: 0,
    };
    let reduced_train =
        dynamics::reduced_run(&pb, 1.0, eps0, &equiv, Bugs { no_eps_in_phi_prime: false, ..bugs }).train;
    let record = dynamics::record_epochs(cfg.max_epochs, cfg.record_points);
    let mut cells: Vec<Cell> = cfg.alphas.iter().map(|&alpha| Cell { alpha, eps: eps0 }).collect();
    for &eps in &cfg.epsilons[1..] {
        cells.extend(cfg.alt_eps_alphas.iter().map(|&alpha| Cell { alpha, eps }));
    }
    let runs = ctx.grid("reduced", &cells, |c, _seed| {
        let plan = Plan {
            epochs: cfg.max_epochs,
            frac: cfg.frac,
            stop: cfg.stop_early,
            record: &record,
            mc: &cfg.mc_epochs,
            ntk_every: cfg.ntk_every,
        };
        let t = dynamics::reduced_run(&pb, c.alpha, c.eps, &plan, bugs);
        Ok(Run {
            alpha: c.alpha,
            eps: c.eps,
            epochs_run: t.epochs_run,
            t_train: t.t_train,
            t_test: t.t_test,
            peak_test: t.peak.0,
            peak_epoch: t.peak.1,
            train_at_peak: t.peak.2,
            epochs: t.epochs,
            train: t.train,
            test: t.test,
            mc: t.mc,
            ntk: t.ntk,
        })
    })?;
    Ok(Results { full_train, reduced_train, runs })
}

impl Study for GrokkingLazyRich {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "grokking-lazy-rich"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Grokking as the transition from lazy to rich training dynamics",
            authors: "Tanishq Kumar, Blake Bordelon, Samuel J. Gershman, Cengiz Pehlevan",
            arxiv: "2310.06110",
            official_code: None,
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        measure_with(cfg, ctx, Bugs::default())
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let eps0 = cfg.epsilons[0];
        let eps_hi = cfg.epsilons.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let find = |a: f64, e: f64| r.runs.iter().find(|x| (x.alpha - a).abs() < 1e-12 && (x.eps - e).abs() < 1e-12);
        let ratio_of = |a: f64, e: f64| find(a, e).and_then(Run::ratio).unwrap_or(0.0);

        // Table: α × ε → t_train, t_test, R, peak ratio.
        let rows: Vec<Row> = r
            .runs
            .iter()
            .map(|x| Row {
                alpha: x.alpha,
                eps: x.eps,
                t_train: x.t_train.map(|t| t as f64).unwrap_or(f64::NAN),
                t_test: x.t_test.map(|t| t as f64).unwrap_or(f64::NAN),
                ratio: x.ratio().unwrap_or(f64::NAN),
                test0: x.test[0],
                peak_ratio: x.peak_test / x.test[0],
                peak_epoch: x.peak_epoch,
                train_at_peak_ratio: x.train_at_peak / x.train[0],
                epochs_run: x.epochs_run,
            })
            .collect();
        out.table(Table::from_rows(
            "times",
            "Epochs to 20 % of the initial loss, delay ratio R and test-loss peak",
            &rows,
        ));

        // Q1.
        let rel = r
            .full_train
            .iter()
            .zip(&r.reduced_train)
            .map(
                |(a, b)| {
                    if a.is_finite() && b.is_finite() { (a - b).abs() / b.abs().max(1e-300) } else { f64::INFINITY }
                },
            )
            .fold(0.0, f64::max);
        out.claim(Q1.measured(rel).detail(format!(
            "{} epochs, N = {}; train loss {} → {} (full) and {} (reduced)",
            r.full_train.len() - 1,
            cfg.n,
            fmt_num(r.full_train[0]),
            fmt_num(*r.full_train.last().expect("epochs")),
            fmt_num(*r.reduced_train.last().expect("epochs"))
        )));

        // Q2.
        let mut mc_rows = vec![];
        for x in &r.runs {
            for &(t, closed, mc, se) in &x.mc {
                mc_rows.push(McRow { alpha: x.alpha, eps: x.eps, epoch: t, closed, mc, se, z: (closed - mc) / se });
            }
        }
        out.table(Table::from_rows("monte_carlo", "Closed-form vs Monte-Carlo test loss at the checkpoints", &mc_rows));
        out.claim(Q2.max_of(mc_rows.iter().map(|m| (format!("α={} ε={} t={}", m.alpha, m.eps, m.epoch), m.z.abs()))));

        // Q3.
        let ref_runs: Vec<&Run> = cfg.alphas.iter().filter_map(|&a| find(a, eps0)).collect();
        out.claim(Q3.min_of(ref_runs.iter().map(|x| {
            let ok = x.train_at_peak < x.train[0];
            (
                format!("α={} (peak at t={}, train {}×)", x.alpha, x.peak_epoch, fmt_num(x.train_at_peak / x.train[0])),
                if ok { x.peak_test / x.test[0] } else { 0.0 },
            )
        })));

        // Q4, Q4b.
        let (r05, r1, r2) = (ratio_of(0.5, eps0), ratio_of(1.0, eps0), ratio_of(2.0, eps0));
        let times = |a: f64| {
            find(a, eps0)
                .map(|x| {
                    format!(
                        "{}/{}",
                        x.t_train.map_or("—".into(), |t| t.to_string()),
                        x.t_test.map_or("—".into(), |t| t.to_string())
                    )
                })
                .unwrap_or_default()
        };
        out.claim(Q4.measured(r1).detail(format!(
            "t_train/t_test = {} at α = 1; R(0.5) = {}, R(2) = {}",
            times(1.0),
            fmt_num(r05),
            fmt_num(r2)
        )));
        let mono = if r05 > 0.0 && r1 > 0.0 && r2 > 0.0 { (r1 / r05).min(r2 / r1) } else { 0.0 };
        out.claim(Q4B.measured(mono).detail(format!(
            "R(0.5) = {} ({}), R(1) = {} ({}), R(2) = {} ({})",
            fmt_num(r05),
            times(0.5),
            fmt_num(r1),
            times(1.0),
            fmt_num(r2),
            times(2.0)
        )));

        let tt = |a: f64| find(a, eps0).and_then(|x| x.t_test).map_or(0.0, |t| t as f64);
        let (t05, t1, t2) = (tt(0.5), tt(1.0), tt(2.0));
        let scale = if t05 > 0.0 && t1 > 0.0 && t2 > 0.0 { (t1 / t05).min(t2 / t1) } else { 0.0 };
        out.claim(Q4C.measured(scale).detail(format!("t_test = {t05} (α = 0.5), {t1} (α = 1), {t2} (α = 2)")));

        // Q5.
        out.claim(Q5.max_of(cfg.alt_eps_alphas.iter().map(|&a| {
            let (lo, hi) = (ratio_of(a, eps0), ratio_of(a, eps_hi));
            (
                format!("α={a}: R = {} at ε={eps_hi}, {} at ε={eps0}", fmt_num(hi), fmt_num(lo)),
                if lo > 0.0 && hi > 0.0 { hi / lo } else { f64::INFINITY },
            )
        })));

        // Q6.
        let q6 = find(1.0, eps0).filter(|x| x.ntk.len() >= 2);
        match q6 {
            Some(x) => {
                let (a, b) = (x.ntk[0].1, x.ntk.last().expect("2 points").1);
                out.claim(Q6.measured(b - a).detail(format!(
                    "CKA {} at t = 0 → {} at t = {}; t_test = {}",
                    fmt_num(a),
                    fmt_num(b),
                    x.ntk.last().expect("2 points").0,
                    x.t_test.map_or("—".into(), |t| t.to_string())
                )));
            }
            None => {
                out.claim(Q6.measured(f64::NAN).detail("no NTK alignment recorded"));
            }
        }

        // Figures.
        let mut fig = Figure::xy(
            "losses",
            &format!("Train (dashed) and test (solid) loss, ε = {eps0} (Fig. 1 analogue)"),
            "epoch",
            "loss",
        )
        .log_x()
        .log_y()
        .wide();
        for (k, x) in ref_runs.iter().enumerate() {
            let keep: Vec<usize> = (0..x.epochs.len()).filter(|&i| x.epochs[i] >= 1).collect();
            let ep: Vec<f64> = keep.iter().map(|&i| x.epochs[i] as f64).collect();
            fig = fig
                .series(
                    Series::line(
                        &format!("test, α = {}", x.alpha),
                        ep.clone(),
                        keep.iter().map(|&i| x.test[i]).collect(),
                    )
                    .color(k),
                )
                .series(
                    Series::dashed(&format!("train, α = {}", x.alpha), ep, keep.iter().map(|&i| x.train[i]).collect())
                        .color(k),
                );
        }
        out.figure(fig);

        let mut fig = Figure::xy("ratio", "Delay ratio R = t_test/t_train vs laziness α", "α", "R").log_x();
        for (k, &e) in cfg.epsilons.iter().enumerate() {
            let pts: Vec<(f64, f64)> = cfg.alphas.iter().map(|&a| (a, ratio_of(a, e))).filter(|p| p.1 > 0.0).collect();
            fig = fig.series(
                Series::line_markers(
                    &format!("ε = {e}"),
                    pts.iter().map(|p| p.0).collect(),
                    pts.iter().map(|p| p.1).collect(),
                )
                .color(k),
            );
        }
        out.figure(fig);

        let mut fig =
            Figure::xy("ntk_alignment", &format!("NTK alignment CKA(Θ_test, yyᵀ), ε = {eps0}"), "epoch", "CKA").log_x();
        for (k, x) in ref_runs.iter().enumerate() {
            let pts: Vec<&(usize, f64)> = x.ntk.iter().filter(|p| p.0 >= 1).collect();
            fig = fig.series(
                Series::line(
                    &format!("α = {}", x.alpha),
                    pts.iter().map(|p| p.0 as f64).collect(),
                    pts.iter().map(|p| p.1).collect(),
                )
                .color(k),
            );
        }
        out.figure(fig);

        out.note(format!(
            "Setup: D = {}, P = {}, y = (β·x)²/2, f(x) = α·mean_i φ(w_i·x), φ(z) = z + εz²/2, centred loss, GD with \
             η = N/α². The runs integrate the exact reduced (m, M) dynamics (N drops out) for α ∈ {:?}, ε ∈ {:?}, \
             at most {} epochs{}; the test loss is the closed-form population loss; the full network (N = {}) is run \
             for {} epochs for Q1. Monte Carlo: {} test points; NTK alignment on the first {} of them.",
            cfg.d,
            cfg.p,
            cfg.alphas,
            cfg.epsilons,
            cfg.max_epochs,
            if cfg.stop_early { ", each stopped once both losses reached 20 % of their initial values" } else { "" },
            cfg.n,
            cfg.equiv_epochs,
            cfg.n_mc,
            cfg.n_ntk
        ));
        Ok(out)
    }
}

/// One row of the times table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// α.
    pub alpha: f64,
    /// ε.
    pub eps: f64,
    /// Epochs to 20 % of the initial train loss.
    pub t_train: f64,
    /// Epochs to 20 % of the initial test loss.
    pub t_test: f64,
    /// R = t_test/t_train.
    pub ratio: f64,
    /// L_test(0).
    pub test0: f64,
    /// max L_test / L_test(0).
    pub peak_ratio: f64,
    /// Epoch of the peak.
    pub peak_epoch: usize,
    /// Train loss at the peak / initial.
    pub train_at_peak_ratio: f64,
    /// Epochs run.
    pub epochs_run: usize,
}

/// One Monte-Carlo checkpoint.
#[derive(Clone, Debug, Serialize)]
pub struct McRow {
    /// α.
    pub alpha: f64,
    /// ε.
    pub eps: f64,
    /// Epoch.
    pub epoch: usize,
    /// Closed-form test loss.
    pub closed: f64,
    /// Monte-Carlo test loss.
    pub mc: f64,
    /// Its standard error.
    pub se: f64,
    /// (closed − MC)/SE.
    pub z: f64,
}
