//! Study `diffgrad`: Dubey, Chakraborty, Roy, Mukherjee, Singh & Chaudhuri, "diffGrad: An
//! Optimization Method for Convolutional Neural Networks", IEEE TNNLS 31(11) 2020, arXiv
//! 1909.11015; official code shivram1987/diffGrad.
//!
//! diffGrad is Adam with the first moment scaled per coordinate by the friction coefficient
//! ξ_t = sigmoid(|g_{t−1} − g_t|) ∈ [½, 1). The official `diffGrad.py`, which the repository
//! says was "used in paper", stores the previous gradient by reference, so ξ_t = ½ for t ≥ 2:
//! those runs are Adam at half the step.
//!
//! 1. **E1** (`synthetic`): the notebook's three 1-D functions F1–F3 with its exact solvers and
//!    settings (300 iterates, lr 0.1, β = (0.95, 0.999), eps 1e-8, x₀ = −1), plus an lr sweep
//!    for Adam, diffGrad and diffGrad-buggy. Claims G1/G2 (the paper's: diffGrad reaches the
//!    global basin where Adam stops in a local one), G3 (the honest control: Adam at lr 0.05 does
//!    too), F3 and the sweep reported.
//! 2. **E2** (`digits`): an MLP 64→64→10 on the shipped digits; Adam, diffGrad, diffGrad-buggy,
//!    Adam(lr/2), AMSGrad, SGDM over an lr grid and paired repetitions. G4 (the bug equivalence
//!    from a recorded training state), G5 (diffGrad within ±1.5 points of Adam, each at its best
//!    lr); "diffGrad outperforms" and the buggy/Adam(lr/2) curve gap reported.
//! 3. **Report**: tables `synthetic`, `digits`, `digits_summary`; figures (`figures`).

use anyhow::Result;
use common::report::fmt_num;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Study, Sweep, Swept, Table};
use serde::{Deserialize, Serialize};

pub mod digits;
pub mod figures;
pub mod synthetic;

#[cfg(test)]
mod tests;

pub use digits::{BugCheck, Opt};
pub use synthetic::{Func, Solver};

/// The study (registered in `repro/src/registry.rs`).
pub struct Diffgrad;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// E1: length of the iterate array (`nb_iters`; `iters − 1` updates).
    pub iters: usize,
    /// E1: starting point x₀.
    pub x0: f64,
    /// E1: the notebook's learning rate (claims G1, G2).
    pub lr: f64,
    /// E1: the control learning rate for Adam (claim G3).
    pub control_lr: f64,
    /// E1: the lr sweep (must hold `lr` and `control_lr`).
    pub lr_sweep: Vec<f64>,
    /// E1: β₁ (the notebook's 0.95).
    pub e1_b1: f64,
    /// E1: β₂.
    pub e1_b2: f64,
    /// Both: eps.
    pub eps: f64,
    /// E2: hidden width of the MLP 64→h→10.
    pub hidden: usize,
    /// E2: epochs.
    pub epochs: usize,
    /// E2: mini-batch size.
    pub batch: usize,
    /// E2: learning-rate grid (Adam-family rates; SGDM runs at `sgdm_lr_scale` × these).
    pub lrs: Vec<f64>,
    /// E2: SGDM's rate multiplier (its useful rates are ~30× Adam's).
    pub sgdm_lr_scale: f64,
    /// E2: paired repetitions (initial weights and batch order).
    pub reps: usize,
    /// E2: share of the 1797 images held out for the test.
    pub test_frac: f64,
    /// E2: β₁.
    pub b1: f64,
    /// E2: β₂.
    pub b2: f64,
    /// E2: the optimizers (must hold adam, diffgrad, diffgrad_buggy and adam_half).
    pub optimizers: Vec<Opt>,
    /// G4: Adam steps before the state is recorded (≥ 1, so the compared step is t ≥ 2).
    pub bug_steps: usize,
    /// G4: the buggy step's learning rate.
    pub bug_lr: f64,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            iters: 300,
            x0: -1.0,
            lr: 0.1,
            control_lr: 0.05,
            lr_sweep: vec![0.02, 0.05, 0.1, 0.2],
            e1_b1: 0.95,
            e1_b2: 0.999,
            eps: 1e-8,
            hidden: 64,
            epochs: 20,
            batch: 32,
            lrs: vec![3e-4, 1e-3, 3e-3, 1e-2],
            sgdm_lr_scale: 30.0,
            reps: 5,
            test_frac: 0.2,
            b1: 0.9,
            b2: 0.999,
            optimizers: vec![Opt::Adam, Opt::Diffgrad, Opt::DiffgradBuggy, Opt::AdamHalf, Opt::Amsgrad, Opt::Sgdm],
            bug_steps: 50,
            bug_lr: 1e-3,
        }
    }
    fn full() -> Self {
        Config { epochs: 100, lrs: vec![1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], reps: 10, ..Config::quick() }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let has = |v: &[f64], x: f64| v.iter().any(|&s| (s - x).abs() <= 1e-12 * x.abs());
        let mut c = Checks::new();
        c.size("iters", self.iters, 2, 1_000_000)
            .real("x0", self.x0, -10.0, 10.0)
            .real("lr", self.lr, 1e-6, 10.0)
            .real("control_lr", self.control_lr, 1e-6, 10.0)
            .list("lr_sweep", &self.lr_sweep, 32)
            .reals("lr_sweep", &self.lr_sweep, 1e-6, 10.0)
            .increasing("lr_sweep", &self.lr_sweep)
            .real("e1_b1", self.e1_b1, 0.0, 0.9999)
            .real("e1_b2", self.e1_b2, 0.0, 0.99999)
            .real("eps", self.eps, 0.0, 1.0)
            .size("hidden", self.hidden, 1, 4096)
            .size("epochs", self.epochs, 1, 10_000)
            .size("batch", self.batch, 1, 1437)
            .list("lrs", &self.lrs, 32)
            .reals("lrs", &self.lrs, 1e-7, 1.0)
            .increasing("lrs", &self.lrs)
            .real("sgdm_lr_scale", self.sgdm_lr_scale, 1e-3, 1e4)
            .size("reps", self.reps, 1, 1000)
            .real("test_frac", self.test_frac, 0.05, 0.5)
            .real("b1", self.b1, 0.0, 0.9999)
            .real("b2", self.b2, 0.0, 0.99999)
            .list("optimizers", &self.optimizers, 6)
            .size("bug_steps", self.bug_steps, 1, 100_000)
            .real("bug_lr", self.bug_lr, 1e-7, 1.0)
            .rule(has(&self.lr_sweep, self.lr), "`lr_sweep` must hold `lr` (claims G1, G2)")
            .rule(has(&self.lr_sweep, self.control_lr), "`lr_sweep` must hold `control_lr` (claim G3)")
            .rule(
                [Opt::Adam, Opt::Diffgrad, Opt::DiffgradBuggy, Opt::AdamHalf]
                    .iter()
                    .all(|o| self.optimizers.contains(o)),
                "`optimizers` must hold adam, diffgrad, diffgrad_buggy and adam_half (claims G5, G5o, G4e)",
            )
            .rule(
                (1..self.optimizers.len()).all(|i| !self.optimizers[..i].contains(&self.optimizers[i])),
                "`optimizers` must not repeat an optimizer",
            );
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        // E2: per step 6·p·batch flops; one full training-set loss per epoch (2·p·1437).
        let p = (64 * self.hidden + self.hidden + 10 * self.hidden + 10) as f64;
        let steps = (self.epochs * (1437 / self.batch).max(1)) as f64;
        let runs = (self.optimizers.len() * self.lrs.len() * self.reps) as f64;
        let flops = runs * (steps * 6.0 * p * self.batch as f64 + self.epochs as f64 * 2.0 * p * 1437.0);
        let f64s = 1797.0 * 64.0 * 3.0 + 16.0 * (p * 6.0 + 1437.0 * self.hidden as f64 * 2.0);
        Estimate::f64s(f64s + (self.lr_sweep.len() * 9 * self.iters) as f64).seconds(flops / 1e9)
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const G1A: ClaimSpec = ClaimSpec::new(
    "G1a",
    "F1 (notebook cell 4, lr 0.1, 300 iterates from x₀ = −1): Adam stops in the local minimum at 0.2 (final x).",
    "Dubey et al. (2020), Sec. IV (synthetic functions); diffGrad_analytical.ipynb",
    Expect::within(0.2, 0.01),
)
.wrong(
    "an Adam with ξ folded in, or with eps outside the square root at a different β, lands in the global basin \
     (x ≈ −0.3, 0.5 away); a first-order β mix-up (β₁ = 0.9) moves it off the notebook's trajectory",
);

const G1B: ClaimSpec = ClaimSpec::new(
    "G1b",
    "F1: diffGrad (the fixed code, ξ from a copied previous gradient) reaches the global minimum at −0.3 (final x).",
    "Dubey et al. (2020), Sec. IV; diffGrad_analytical.ipynb",
    Expect::within(-0.3, 0.01),
)
.wrong(
    "the friction coefficient dropped (ξ ≡ 1: an Adam with eps outside the root) stops at the local minimum 0.2, \
     0.5 away (planted in a test); a sign error inside the sigmoid (1 − ξ ≤ ½) would still escape, since any \
     shorter step does (G3)",
);

const G2A: ClaimSpec = ClaimSpec::new(
    "G2a",
    "F2 (cell 5): Adam at lr 0.1 stops in the local minimum at 0 (final |x|).",
    "Dubey et al. (2020), Sec. IV; diffGrad_analytical.ipynb",
    Expect::at_most(0.01),
)
.wrong("a gradient of F2 with sin and cos swapped, or the kink's slope +40, sends Adam elsewhere (|x| > 0.5)");

const G2B: ClaimSpec = ClaimSpec::new(
    "G2b",
    "F2: diffGrad at lr 0.1 ends in the global basin, oscillating left of the ridge near the kink at −0.9 (final x \
     in [−0.9, −0.75]).",
    "Dubey et al. (2020), Sec. IV; diffGrad_analytical.ipynb",
    Expect::between(-0.9, -0.75),
)
.wrong("the friction coefficient dropped (ξ ≡ 1, diffGrad reduced to Adam at lr 0.1) stops at the local minimum 0");

const G3A: ClaimSpec = ClaimSpec::new(
    "G3a",
    "Honest control, F1: Adam with the smaller step lr 0.05 (no friction coefficient) also reaches the global \
     minimum (final x): the 1-D advantage is a step-size effect (ξ ∈ [½, 1) shortens the step).",
    "this study (control); spec G3",
    Expect::within(-0.3, 0.01),
)
.wrong("if diffGrad's escape were due to its gradient-difference information, Adam at a mere smaller step would stay at 0.2");

const G3B: ClaimSpec = ClaimSpec::new(
    "G3b",
    "Honest control, F2: Adam at lr 0.05 also ends in the global basin (final x ≤ −0.75).",
    "this study (control); spec G3",
    Expect::at_most(-0.75),
)
.wrong("a step-size-independent advantage of diffGrad would leave Adam at lr 0.05 at the local minimum 0");

const F3: ClaimSpec = ClaimSpec::new(
    "F3",
    "F3 (cell 6): diffGrad at lr 0.1 ends in the global basin |x| ≤ 0.4 (final x; Adam's and the lr sweep in the \
     detail).",
    "Dubey et al. (2020), Sec. IV; diffGrad_analytical.ipynb",
    Expect::within(0.0, 0.4),
)
.not_gated(
    "on F3 Adam reaches the global basin too at lr 0.1 (the paper's contrast does not show) and diffGrad at lr 0.02 \
     stops at the local minimum −0.5: reported with the sweep, not a claim this study can gate",
);

const SWEEP: ClaimSpec = ClaimSpec::new(
    "Sweep",
    "Over F1–F3 and the lr sweep, the share of (function, lr) cells where diffGrad ends in the global basin minus \
     the share for Adam.",
    "this study (lr sweep of E1)",
    Expect::at_least(0.0),
)
.not_gated("a summary of the sweep: which lrs escape is not monotone in lr for either method (see the table)");

const G4: ClaimSpec = ClaimSpec::new(
    "G4",
    "Bug equivalence of the official diffGrad.py: from a recorded MLP training state (Adam's moments at t ≥ 2), one \
     step of diffGrad-buggy equals one Adam step at lr/2 (largest coordinate gap / largest update).",
    "diffGrad.py (shivram1987/diffGrad): `state['previous_grad'] = grad` aliases `p.grad`",
    Expect::at_most(1e-15),
)
.wrong(
    "a buggy transform that copies the previous gradient (the fixed code) differs by max(ξ − ½) relative to the \
     largest update (measured alongside); one that forgets the halving (Adam at lr, planted in a test) differs by 1; \
     both far above 1e-15",
);

const G4E: ClaimSpec = ClaimSpec::new(
    "G4e",
    "E2: training-loss curves of diffGrad-buggy and Adam(lr/2) (same init and batches) differ only through the first \
     step (ξ₁ = sigmoid(|g₁|)): median over cells of the largest per-epoch gap in training loss.",
    "spec G4 (report only)",
    Expect::at_most(0.05),
)
.not_gated("the first step differs and training may amplify it; reported, as the spec asks");

const G5: ClaimSpec = ClaimSpec::new(
    "G5",
    "E2 (digits MLP): diffGrad (fixed) is within ±1.5 percentage points of Adam in test accuracy, each at its best lr \
     (difference of the means over repetitions).",
    "Dubey et al. (2020), Sec. V (CIFAR ResNets; here a digits MLP)",
    Expect::within(0.0, 1.5),
)
.wrong(
    "an SGD-scale step (Adam without the 1/√v̂ preconditioner) or a diffGrad with ξ ∈ (0, ½] that halves and \
     then quarters the step trains to several points lower at this epoch budget",
);

const G5O: ClaimSpec = ClaimSpec::new(
    "G5o",
    "E2: \"diffGrad outperforms Adam\": test-accuracy difference diffGrad − Adam in points, each at its best lr.",
    "Dubey et al. (2020), abstract and Sec. V",
    Expect::at_least(0.0),
)
.not_gated("the paper's CIFAR claim; at digits-MLP scale the difference is within seed noise, reported as measured");

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[G1A, G1B, G2A, G2B, G3A, G3B, F3, SWEEP, G4, G4E, G5, G5O];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// E1: every (function, solver, lr) run; trajectories kept at `lr` and `control_lr`.
    pub synthetic: Vec<synthetic::Run>,
    /// E2: one run per (optimizer, lr, repetition).
    pub digits: Swept<digits::Run>,
    /// G4 from a recorded state.
    pub bug: BugCheck,
}

impl Config {
    fn settings(&self) -> synthetic::Settings {
        synthetic::Settings { iters: self.iters, b1: self.e1_b1, b2: self.e1_b2, eps: self.eps, x0: self.x0 }
    }
}

/// E1: every (function, solver, lr) of the sweep.
pub fn measure_synthetic(cfg: &Config) -> Vec<synthetic::Run> {
    let s = cfg.settings();
    let mut out = vec![];
    for f in synthetic::FUNCS {
        for solver in synthetic::SOLVERS {
            for &lr in &cfg.lr_sweep {
                let keep = lr == cfg.lr || lr == cfg.control_lr;
                out.push(synthetic::run(f, solver, lr, &s, keep));
            }
        }
    }
    out
}

impl Study for Diffgrad {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "diffgrad"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "diffGrad: An Optimization Method for Convolutional Neural Networks",
            authors: "Shiv Ram Dubey, Soumendu Chakraborty, Swalpa Kumar Roy, Snehasis Mukherjee, Satish Kumar Singh, \
                      Bidyut Baran Chaudhuri",
            arxiv: "1909.11015",
            official_code: Some("https://github.com/shivram1987/diffGrad"),
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let synthetic = measure_synthetic(cfg);
        let data = digits::split(cfg.test_frac, ctx.seed.child("split"))?;
        let root = ctx.seed.child("digits");
        let sweep = Sweep::new("digits").axis("opt", &cfg.optimizers).axis("lr", &cfg.lrs).reps(cfg.reps);
        let digits =
            ctx.sweep(&sweep, |c, _| Ok(digits::run(cfg, &data, c.get::<Opt>("opt"), c.f64("lr"), c.rep(), root)))?;
        let buggy = common::optim::diffgrad_buggy(cfg.bug_lr, cfg.b1, cfg.b2, cfg.eps);
        let bug = digits::bug_check(cfg, &data, &buggy, cfg.bug_lr, ctx.seed.child("bug"));
        Ok(Results { synthetic, digits, bug })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let find = |f: Func, s: Solver, lr: f64| {
            r.synthetic.iter().find(|x| x.func == f && x.solver == s && x.lr == lr).expect("E1 run in the sweep")
        };

        // Tables.
        let rows: Vec<SynRow> = r
            .synthetic
            .iter()
            .map(|x| SynRow {
                function: x.func.name().into(),
                optimizer: x.solver.name().into(),
                lr: x.lr,
                final_x: x.final_x,
                f_final: x.func.value(x.final_x),
                basin: if x.func.in_global_basin(x.final_x) { "global" } else { "local" }.into(),
                last10_sd: x.last10_sd,
            })
            .collect();
        out.table(Table::from_rows(
            "synthetic",
            "E1: final x after the notebook's 300 iterates (299 updates) from x₀ = −1, f(final x), the basin and the \
             spread of the last 10 iterates",
            &rows,
        ));
        let drows: Vec<DigitRow> = r
            .digits
            .iter()
            .map(|(c, run)| {
                let opt: Opt = c.get("opt");
                DigitRow {
                    optimizer: opt.name().into(),
                    lr: c.f64("lr"),
                    lr_used: opt.lr_used(c.f64("lr"), cfg),
                    seed: c.rep(),
                    test_acc: run.test_acc,
                    final_loss: run.final_loss,
                    diverged: run.diverged,
                }
            })
            .collect();
        out.table(Table::from_rows(
            "digits",
            "E2: test accuracy and final training loss per optimizer, grid lr (lr_used: the rate run), repetition",
            &drows,
        ));
        let summary = summarize(cfg, r);
        out.table(Table::from_rows(
            "digits_summary",
            "E2: test accuracy over repetitions per optimizer and lr (mean, sd, min, max)",
            &summary,
        ));

        // G1–G3.
        let g = |f, s, lr| find(f, s, lr).final_x;
        let xa1 = g(Func::F1, Solver::Adam, cfg.lr);
        let xd1 = g(Func::F1, Solver::Diffgrad, cfg.lr);
        let xa2 = g(Func::F2, Solver::Adam, cfg.lr);
        let xd2 = g(Func::F2, Solver::Diffgrad, cfg.lr);
        let xb = |f| g(f, Solver::DiffgradBuggy, cfg.lr);
        out.claim(G1A.measured(xa1).detail(format!(
            "Adam final x {}; f = {}",
            fmt_num(xa1),
            fmt_num(Func::F1.value(xa1))
        )));
        out.claim(G1B.measured(xd1).detail(format!(
            "diffGrad final x {} (diffGrad-buggy {})",
            fmt_num(xd1),
            fmt_num(xb(Func::F1))
        )));
        out.claim(G2A.measured(xa2.abs()).detail(format!("Adam final x {}", fmt_num(xa2))));
        out.claim(G2B.measured(xd2).detail(format!(
            "diffGrad final x {} (last-10 sd {}); ridge of the global basin at {}; diffGrad-buggy {}",
            fmt_num(xd2),
            fmt_num(find(Func::F2, Solver::Diffgrad, cfg.lr).last10_sd),
            fmt_num(synthetic::f2_ridge()),
            fmt_num(xb(Func::F2))
        )));
        let xc1 = g(Func::F1, Solver::Adam, cfg.control_lr);
        let xc2 = g(Func::F2, Solver::Adam, cfg.control_lr);
        out.claim(G3A.measured(xc1).detail(format!(
            "Adam at lr {} on F1: final x {}",
            fmt_num(cfg.control_lr),
            fmt_num(xc1)
        )));
        out.claim(G3B.measured(xc2).detail(format!(
            "Adam at lr {} on F2: final x {}",
            fmt_num(cfg.control_lr),
            fmt_num(xc2)
        )));
        let f3 = |s, lr| g(Func::F3, s, lr);
        out.claim(F3.measured(f3(Solver::Diffgrad, cfg.lr)).detail(format!(
            "final x on F3 by lr ({}): Adam {}; diffGrad {}; diffGrad-buggy {}",
            cfg.lr_sweep.iter().map(|l| fmt_num(*l)).collect::<Vec<_>>().join(", "),
            cfg.lr_sweep.iter().map(|&l| fmt_num(f3(Solver::Adam, l))).collect::<Vec<_>>().join(", "),
            cfg.lr_sweep.iter().map(|&l| fmt_num(f3(Solver::Diffgrad, l))).collect::<Vec<_>>().join(", "),
            cfg.lr_sweep.iter().map(|&l| fmt_num(f3(Solver::DiffgradBuggy, l))).collect::<Vec<_>>().join(", "),
        )));
        let share = |s: Solver| {
            let v: Vec<&synthetic::Run> = r.synthetic.iter().filter(|x| x.solver == s).collect();
            v.iter().filter(|x| x.func.in_global_basin(x.final_x)).count() as f64 / v.len().max(1) as f64
        };
        let (sa, sd, sb) = (share(Solver::Adam), share(Solver::Diffgrad), share(Solver::DiffgradBuggy));
        out.claim(SWEEP.measured(sd - sa).detail(format!(
            "share of (function, lr) cells in the global basin: Adam {}, diffGrad {}, diffGrad-buggy {}",
            fmt_num(sa),
            fmt_num(sd),
            fmt_num(sb)
        )));

        // G4.
        let b = &r.bug;
        out.claim(G4.measured(b.max_rel_gap).detail(format!(
            "state recorded after {} Adam steps (compared step t = {}), lr {}: buggy vs Adam(lr/2) {}; buggy vs the \
             fixed diffGrad from the same state {}; largest |update| {}; the fixed diffGrad's ξ there: mean {}, max {}",
            b.step,
            b.step + 1,
            fmt_num(b.lr),
            fmt_num(b.max_rel_gap),
            fmt_num(b.gap_to_fixed),
            fmt_num(b.max_update),
            fmt_num(b.xi_mean),
            fmt_num(b.xi_max)
        )));
        let mut gaps: Vec<(String, f64)> = vec![];
        for (c, run) in r.digits.filter(|c| c.is("opt", Opt::DiffgradBuggy)) {
            let half = r.digits.one(&[
                ("opt", serde_json::json!(Opt::AdamHalf)),
                ("lr", serde_json::json!(c.f64("lr"))),
                ("rep", c.rep().into()),
            ]);
            if let Some(h) = half {
                let gap = run.loss_curve.iter().zip(&h.loss_curve).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                gaps.push((format!("lr {} rep {}", fmt_num(c.f64("lr")), c.rep()), gap));
            }
        }
        let gv: Vec<f64> = gaps.iter().map(|x| x.1).collect();
        out.claim(G4E.measured(common::stats::median(&gv)).detail(format!(
            "largest per-epoch |Δ training loss| per cell: {}",
            gaps.iter().map(|(l, v)| format!("{l}: {}", fmt_num(*v))).collect::<Vec<_>>().join(", ")
        )));

        // G5.
        let best = |o: Opt| {
            summary
                .iter()
                .filter(|s| s.optimizer == o.name())
                .max_by(|a, b| a.mean_acc.total_cmp(&b.mean_acc))
                .cloned()
                .expect("optimizer in the sweep")
        };
        let (ba, bd) = (best(Opt::Adam), best(Opt::Diffgrad));
        let diff = 100.0 * (bd.mean_acc - ba.mean_acc);
        let others: Vec<String> = cfg
            .optimizers
            .iter()
            .map(|&o| {
                let s = best(o);
                format!("{} {} % (lr {})", o.name(), fmt_num(100.0 * s.mean_acc), fmt_num(s.lr_used))
            })
            .collect();
        let d = format!(
            "best mean test accuracy over {} repetitions: Adam {} % (lr {}, sd {}), diffGrad {} % (lr {}, sd {}); all \
             optimizers at their best lr: {}",
            cfg.reps,
            fmt_num(100.0 * ba.mean_acc),
            fmt_num(ba.lr),
            fmt_num(100.0 * ba.sd_acc),
            fmt_num(100.0 * bd.mean_acc),
            fmt_num(bd.lr),
            fmt_num(100.0 * bd.sd_acc),
            others.join(", ")
        );
        out.claim(G5.measured(diff).detail(d.clone()));
        out.claim(G5O.measured(diff).detail(d));

        for f in figures::all(cfg, r, &summary) {
            out.figure(f);
        }
        out.note(format!(
            "E1 (the notebook, ported operation for operation): {} iterates from x₀ = {}, β = ({}, {}), eps {}, lr {} \
             (claims) and the sweep {:?}; the notebook's Adam has eps inside the square root, its diffGrad outside. \
             diffGrad-buggy is the notebook's diffGrad with ξ = ½ after step 1 (the alias of diffGrad.py). E2: ReLU MLP \
             64→{}→10, softmax cross-entropy, He init, the shipped digits (pixels / 16) split {}/{} by a seeded \
             permutation, batch {}, {} epochs, lrs {:?} (SGDM at {}×), β = ({}, {}), {} paired repetitions (the same \
             init and batch order for every optimizer and lr). G4: Adam's state after {} steps at lr {}/2.",
            cfg.iters,
            fmt_num(cfg.x0),
            fmt_num(cfg.e1_b1),
            fmt_num(cfg.e1_b2),
            fmt_num(cfg.eps),
            fmt_num(cfg.lr),
            cfg.lr_sweep,
            cfg.hidden,
            fmt_num(100.0 * (1.0 - cfg.test_frac)),
            fmt_num(100.0 * cfg.test_frac),
            cfg.batch,
            cfg.epochs,
            cfg.lrs,
            fmt_num(cfg.sgdm_lr_scale),
            fmt_num(cfg.b1),
            fmt_num(cfg.b2),
            cfg.reps,
            cfg.bug_steps,
            fmt_num(cfg.bug_lr)
        ));
        Ok(out)
    }
}

/// One row of the synthetic table.
#[derive(Clone, Debug, Serialize)]
pub struct SynRow {
    /// F1, F2, F3.
    pub function: String,
    /// adam, diffgrad, diffgrad_buggy.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// x[299].
    pub final_x: f64,
    /// f(final x).
    pub f_final: f64,
    /// global or local.
    pub basin: String,
    /// Standard deviation of the last 10 iterates.
    pub last10_sd: f64,
}

/// One row of the digits table.
#[derive(Clone, Debug, Serialize)]
pub struct DigitRow {
    /// Optimizer.
    pub optimizer: String,
    /// Grid lr.
    pub lr: f64,
    /// The rate the optimizer ran at.
    pub lr_used: f64,
    /// Repetition.
    pub seed: usize,
    /// Test accuracy.
    pub test_acc: f64,
    /// Final training loss.
    pub final_loss: f64,
    /// Diverged.
    pub diverged: bool,
}

/// One row of the digits summary.
#[derive(Clone, Debug, Serialize)]
pub struct SummaryRow {
    /// Optimizer.
    pub optimizer: String,
    /// Grid lr.
    pub lr: f64,
    /// The rate run.
    pub lr_used: f64,
    /// Mean test accuracy.
    pub mean_acc: f64,
    /// Its standard deviation over repetitions.
    pub sd_acc: f64,
    /// Minimum over repetitions.
    pub min_acc: f64,
    /// Maximum over repetitions.
    pub max_acc: f64,
}

/// Mean, sd, min, max of the test accuracy per (optimizer, lr), in config order.
pub fn summarize(cfg: &Config, r: &Results) -> Vec<SummaryRow> {
    let mut out = vec![];
    for &o in &cfg.optimizers {
        for &lr in &cfg.lrs {
            let v: Vec<f64> =
                r.digits.filter(|c| c.is("opt", o) && c.f64("lr") == lr).map(|(_, run)| run.test_acc).collect();
            if v.is_empty() {
                continue;
            }
            let (m, sd) = common::stats::mean_sd(&v);
            out.push(SummaryRow {
                optimizer: o.name().into(),
                lr,
                lr_used: o.lr_used(lr, cfg),
                mean_acc: m,
                sd_acc: sd,
                min_acc: common::stats::min(&v),
                max_acc: common::stats::max(&v),
            });
        }
    }
    out
}

common::seed_checks!(crate::Diffgrad);
