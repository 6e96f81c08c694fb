//! Study `local-lipschitz-boundprop`: Shi, Wang, Zhang, Kolter, Hsieh, "Efficiently Computing Local
//! Lipschitz Constants of Neural Networks via Bound Propagation" (NeurIPS 2022, arXiv 2210.07394),
//! on the tiny models and data of its repository.
//!
//! 1. **Setting** ([`setup`]): lipMIP's random K-cluster data in `[0, 1]^16` (10 classes), the
//!    `simple_mlp_*` ReLU models trained with Adam on cross-entropy; local regions are ℓ∞ balls of
//!    radius ε around `simpleData`'s constant input `0.5·1` and around test points, clipped to
//!    `[−1, 2]^16`.
//! 2. **Quantity**: `L = max_c max_{x∈B} ‖∂f_c(x)‖₁`, the ℓ∞ local Lipschitz constant of the worst
//!    class over the Clarke generalized gradient.
//! 3. **Bounds** ([`instance`], built on `common::boundprop`): the product of layer norms; interval
//!    arithmetic through the backward (gradient) graph; linear bound propagation through it
//!    ("ours"); ours with branch-and-bound on unstable units and on input sub-boxes (node-capped);
//!    the exact maximum over the activation-pattern box by enumeration; and a lower bound from
//!    sampled points, random vertices, PGD points and the input-BaB box centres.
//! 4. **Claims**: soundness on every instance, exactness as ε → 0, tightness against the layer-norm
//!    product and interval arithmetic, tightening by branch-and-bound, and BaB run to completion
//!    equal to enumeration on one-hidden-layer nets.

pub mod figures;
pub mod instance;
pub mod setup;
#[cfg(test)]
mod tests;

use anyhow::Result;
use common::report::fmt_num;
use common::stats::median;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Study, Table};
use instance::Instance;
use serde::{Deserialize, Serialize};
use setup::{Trained, model_name};

/// The study (registered in `repro/src/registry.rs`).
pub struct LocalLipschitzBoundprop;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Input dimension (the repository: 16).
    pub dim: usize,
    /// Classes (10).
    pub classes: usize,
    /// K-cluster points, split 70/30 (the repository: 10000).
    pub points: usize,
    /// K-cluster leaders (the repository: 5·dim = 80).
    pub leaders: usize,
    /// Hidden widths of each model: `[16, 16]` is `simple_mlp_3layer`, `[32; depth − 1]` is
    /// `simple_mlp_width32(depth)`.
    pub models: Vec<Vec<usize>>,
    /// Training epochs (the repository's default: 10).
    pub epochs: usize,
    /// Mini-batch size (256).
    pub batch: usize,
    /// Adam learning rate (1e-3).
    pub lr: f64,
    /// Radii ε of the local regions.
    pub eps: Vec<f64>,
    /// The radius of the ε → 0 check (every unit stable).
    pub eps_tiny: f64,
    /// Test points used as centres besides `0.5·1`.
    pub test_points: usize,
    /// Sampled points per instance for the lower bound (half uniform, half box vertices).
    pub samples: usize,
    /// PGD steps per class for the lower bound (0: none).
    pub pgd_steps: usize,
    /// Node cap of each branch-and-bound.
    pub bab_nodes: usize,
    /// Enumerate the pattern box only up to this many unstable units.
    pub enum_max_unstable: usize,
    /// Node cap of the run-to-completion unit BaB on one-hidden-layer models.
    pub complete_nodes: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            dim: 16,
            classes: 10,
            points: 2000,
            leaders: 80,
            models: vec![vec![16, 16], vec![32], vec![32, 32]],
            epochs: 20,
            batch: 64,
            lr: 1e-3,
            eps: vec![0.01, 0.05, 0.1, 0.2],
            eps_tiny: 1e-9,
            test_points: 2,
            samples: 1000,
            pgd_steps: 10,
            bab_nodes: 200,
            enum_max_unstable: 14,
            complete_nodes: 1 << 15,
        }
    }
    fn full() -> Self {
        Config {
            dim: 16,
            classes: 10,
            points: 10_000,
            leaders: 80,
            models: vec![vec![16, 16], vec![32], vec![32, 32], vec![32, 32, 32], vec![32, 32, 32, 32], vec![64, 64]],
            epochs: 10,
            batch: 256,
            lr: 1e-3,
            eps: vec![0.01, 0.02, 0.05, 0.1, 0.2, 0.3],
            eps_tiny: 1e-9,
            test_points: 10,
            samples: 20_000,
            pgd_steps: 50,
            bab_nodes: 20_000,
            enum_max_unstable: 20,
            complete_nodes: 1 << 18,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.size("dim", self.dim, 1, 256)
            .size("classes", self.classes, 2, 100)
            .size("points", self.points, 20, 200_000)
            .size("leaders", self.leaders, 1, self.points.max(1))
            .list("models", &self.models, 8)
            .size("epochs", self.epochs, 1, 1000)
            .size("batch", self.batch, 1, (7 * self.points / 10).max(1))
            .real("lr", self.lr, 1e-6, 1.0)
            .list("eps", &self.eps, 16)
            .reals("eps", &self.eps, 1e-4, 1.5)
            .real("eps_tiny", self.eps_tiny, 1e-12, 1e-5)
            .size("test_points", self.test_points, 0, (3 * self.points / 10).min(100))
            .size("samples", self.samples, 2, 1_000_000)
            .size("pgd_steps", self.pgd_steps, 0, 1000)
            .size("bab_nodes", self.bab_nodes, 3, 1_000_000)
            .size("enum_max_unstable", self.enum_max_unstable, 0, 24)
            .size("complete_nodes", self.complete_nodes, 3, 1 << 24);
        for (i, m) in self.models.iter().enumerate() {
            c.list(&format!("models[{i}]"), m, 6).sizes(&format!("models[{i}]"), m, 1, 256);
        }
        c.rule(
            !self.models.is_empty() && self.models.iter().all(|m| !m.is_empty()),
            "`models`: each model needs 1..=6 hidden layers",
        )
        .rule(self.models.iter().any(|m| m.len() == 1), "`models` must hold a one-hidden-layer model (claim L6)")
        .rule(self.models.iter().any(|m| m.len() >= 2), "`models` must hold a model with two or more hidden layers")
        .rule(!self.eps.is_empty(), "`eps` needs at least one radius");
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        let params: f64 = self.models.iter().map(|m| self.params(m) as f64).sum();
        let width = self.models.iter().flatten().copied().max().unwrap_or(1) as f64;
        let instances = (self.models.len() * (self.eps.len() + 1) * (1 + self.test_points)) as f64;
        // Per instance: the sampled Jacobians (samples × classes × dim) and the open BaB nodes (each a
        // box, a pattern box and one bound per class).
        let units = self.models.iter().map(|m| m.iter().sum::<usize>()).max().unwrap_or(1) as f64;
        let per_node = 2.0 * self.dim as f64 + 2.0 * units + self.classes as f64 + 16.0;
        let per_instance = self.samples as f64 * self.classes as f64 * self.dim as f64
            + self.bab_nodes.max(self.complete_nodes) as f64 * per_node;
        // Time: the samples' Jacobians, two node-capped BaBs, and (rarely at the cap: most instances
        // have few or too many unstable units) the enumeration and the completed BaB of the
        // one-hidden-layer models; calibrated on the quick profile (≈ 3 s measured).
        let one_hidden = self.models.iter().filter(|m| m.len() == 1).count() as f64 / self.models.len().max(1) as f64;
        let flops = instances
            * (self.samples as f64 * params * self.classes as f64
                + 2.0 * self.bab_nodes as f64 * self.classes as f64 * 20.0 * width * width
                + 0.05 * 2f64.powi(self.enum_max_unstable as i32) * self.classes as f64 * params
                + 0.01 * one_hidden * self.complete_nodes as f64 * self.classes as f64 * 20.0 * width * width)
            + (self.epochs * self.points) as f64 * params * 6.0;
        Estimate::f64s(self.points as f64 * (self.dim + 2) as f64 * 2.0 + params * 4.0 + 2.0 * per_instance)
            .seconds(flops * 1e-9)
    }
}

impl Config {
    /// Parameters of a model with these hidden widths.
    pub fn params(&self, hidden: &[usize]) -> usize {
        let mut sizes = vec![self.dim];
        sizes.extend_from_slice(hidden);
        sizes.push(self.classes);
        sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

/// The soundness slack allowed for rounding (relative).
pub const SOUND_TOL: f64 = 1e-9;

const L1: ClaimSpec = ClaimSpec::new(
    "L1",
    "Soundness on every instance: the largest gradient norm found ≤ ours + BaB (input) ≤ ours ≤ interval ≤ naive, \
     ≤ the exact pattern-box maximum ≤ ours + BaB (units) ≤ ours (worst relative violation, max over instances).",
    "Sec. 3 (Thm. 3.1), Sec. 4; repo main.py",
    Expect::at_most(SOUND_TOL),
)
.wrong(
    "an unsound relaxation: the gradient at x₀ taken for the whole box (unstable units frozen at x₀'s state) falls \
     below the sampled norms by 10-40 % at ε ≥ 0.05; McCormick planes on the wrong side for negative coefficients \
     (or |g| bounded by its value at the interval's centre) falls below the exact enumeration",
);

const L2: ClaimSpec = ClaimSpec::new(
    "L2",
    "ε → 0: at ε = eps_tiny the interval, linear, BaB and enumeration bounds all equal max_c ‖∇f_c(x₀)‖₁ (max \
     relative deviation over the models and centres where every unit is stable, which must be ≥ 90 % of them; \
     otherwise measured as ∞).",
    "Sec. 3 (the bound is exact on a linear region)",
    Expect::at_most(1e-9),
)
.wrong(
    "a relaxation that keeps slack for stable units (e.g. every δ in [0, 1]) or a global bound (the layer-norm \
     product) stays a factor ≥ 2 above ‖∇f(x₀)‖₁ at ε → 0",
);

const L3: ClaimSpec = ClaimSpec::new(
    "L3",
    "Ours is much tighter than the product of layer norms: median over instances of naive / ours.",
    "Sec. 5, Table 1 (vs the 'Naive' global bound)",
    Expect::at_least(4.0),
)
.wrong("ours no better than the product of layer norms (ratio 1); or a bound scaled by the width (ratio < 1)");

const L4: ClaimSpec = ClaimSpec::new(
    "L4",
    "Linear bound propagation through the backward graph is tighter than interval arithmetic through it: \
     median over instances with unstable units of ours / interval.",
    "Sec. 5, Table 1 (vs the interval/RecurJac-style bound)",
    Expect::at_most(0.85),
)
.wrong("interval arithmetic relabelled as the linear bound (ratio 1), e.g. the chord of |g| dropped");

const L5: ClaimSpec = ClaimSpec::new(
    "L5",
    "Branch-and-bound on the unstable units tightens ours: median over instances with a gap of the share of the \
     gap ours − lower closed by the BaB (node-capped, `bab_nodes`).",
    "Sec. 3.3 / 5 (BaB)",
    Expect::at_least(0.5),
)
.wrong("a BaB that only re-bounds the root (share 0), or one whose children lose their parents' bound");

const L6: ClaimSpec = ClaimSpec::new(
    "L6",
    "On one-hidden-layer nets, ours + BaB over the unstable units run to completion equals the exact maximum over \
     the activation-pattern box by enumeration (max relative difference).",
    "Sec. 3.3 (BaB is complete on the relaxed pattern box)",
    Expect::at_most(1e-9),
)
.wrong(
    "a McCormick relaxation that is not exact once δ is fixed, or a BaB that prunes a node it has not bounded, \
     leaves a gap > 1e-9 (or an unsound negative one)",
);

const L7: ClaimSpec = ClaimSpec::new(
    "L7",
    "On the tiny model (16-16-16-10) ours + BaB is close to the true constant: median over instances of \
     min(ours + BaB input, ours + BaB units) / lower.",
    "Sec. 5 (comparable to the exact LipMIP values on tiny models)",
    Expect::at_most(1.4),
)
.wrong("the layer-norm product or the plain interval bound are ≥ 2× the lower bound at ε ≥ 0.1");

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[L1, L2, L3, L4, L5, L6, L7];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// The trained models (weights included, so the instances can be re-bounded).
    pub models: Vec<Trained>,
    /// One per (model, centre, ε), ε = eps_tiny included.
    pub instances: Vec<Instance>,
}

/// One instance cell.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Cell {
    model: usize,
    point: usize,
    eps: f64,
}

impl Study for LocalLipschitzBoundprop {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "local-lipschitz-boundprop"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Efficiently Computing Local Lipschitz Constants of Neural Networks via Bound Propagation",
            authors: "Zhouxing Shi, Yihan Wang, Huan Zhang, J. Zico Kolter, Cho-Jui Hsieh",
            arxiv: "2210.07394",
            official_code: Some("https://github.com/shizhouxing/Local-Lipschitz-Constants"),
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let data = setup::random_k(cfg, ctx.seed.child("data"));
        let idx: Vec<usize> = (0..cfg.models.len()).collect();
        let models = ctx.grid("train", &idx, |&m, seed| Ok(setup::train_model(cfg, &cfg.models[m], &data, seed)))?;
        let centres = setup::centres(cfg, &data.1);
        let mut eps = cfg.eps.clone();
        eps.push(cfg.eps_tiny);
        let mut cells = vec![];
        for model in 0..models.len() {
            for point in 0..centres.len() {
                cells.extend(eps.iter().map(|&eps| Cell { model, point, eps }));
            }
        }
        let instances = ctx.grid("instance", &cells, |c, seed| {
            Ok(instance::measure(cfg, &models[c.model], c.model, c.point, &centres[c.point], c.eps, seed))
        })?;
        Ok(Results { models, instances })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let rows: Vec<Row> = r.instances.iter().map(|i| Row::of(cfg, i)).collect();
        out.table(Table::from_rows(
            "lipschitz_bounds",
            "Bounds on the ℓ∞ local Lipschitz constant (worst class) per model, centre and ε",
            &rows,
        ));
        let mrows: Vec<ModelRow> = r
            .models
            .iter()
            .map(|m| ModelRow {
                model: model_name(&m.hidden),
                params: cfg.params(&m.hidden),
                train_acc: m.train_acc,
                test_acc: m.test_acc,
            })
            .collect();
        out.table(Table::from_rows("models", "The trained models", &mrows));
        claims(cfg, r, &mut out);
        for f in figures::all(cfg, r) {
            out.figure(f);
        }
        out.note(format!(
            "Setup: lipMIP random K-cluster data ({} points in [0, 1]^{}, {} leaders, {} classes, 70/30 split); models \
             {} trained {} epochs with Adam (lr {}, batch {}); centres 0.5·1 and {} test points; ε ∈ {{{}}} and {} \
             (the ε → 0 check); boxes clipped to [−1, 2]. BaB node cap {}; enumeration up to {} unstable units; lower \
             bound from {} samples, PGD ({} steps per class) and the input-BaB box centres.",
            cfg.points,
            cfg.dim,
            cfg.leaders,
            cfg.classes,
            cfg.models.iter().map(|m| model_name(m)).collect::<Vec<_>>().join(", "),
            cfg.epochs,
            fmt_num(cfg.lr),
            cfg.batch,
            cfg.test_points,
            cfg.eps.iter().map(|e| fmt_num(*e)).collect::<Vec<_>>().join(", "),
            fmt_num(cfg.eps_tiny),
            cfg.bab_nodes,
            cfg.enum_max_unstable,
            cfg.samples,
            cfg.pgd_steps
        ));
        Ok(out)
    }
}

/// One row of the bounds table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Model name.
    pub model: String,
    /// Radius.
    pub eps: f64,
    /// Centre (0: 0.5·1).
    pub point: usize,
    /// Unstable units.
    pub unstable: usize,
    /// Product of layer norms.
    pub naive: f64,
    /// Interval arithmetic.
    pub interval: f64,
    /// Linear bound propagation.
    pub ours: f64,
    /// Ours + BaB on units.
    pub ours_bab_units: f64,
    /// Ours + BaB on input boxes.
    pub ours_bab_input: f64,
    /// Exact pattern-box maximum (NaN: not enumerated).
    pub enum_upper: f64,
    /// Lower bound.
    pub lower: f64,
    /// ‖∇f(x₀)‖₁ (worst class).
    pub at_centre: f64,
}

impl Row {
    fn of(cfg: &Config, i: &Instance) -> Row {
        Row {
            model: model_name(&cfg.models[i.model]),
            eps: i.eps,
            point: i.point,
            unstable: i.unstable,
            naive: i.naive,
            interval: i.interval,
            ours: i.ours,
            ours_bab_units: i.bab_neuron,
            ours_bab_input: i.bab_input,
            enum_upper: i.enum_upper,
            lower: i.lower,
            at_centre: i.at_centre,
        }
    }
}

/// One row of the models table.
#[derive(Clone, Debug, Serialize)]
pub struct ModelRow {
    /// Name.
    pub model: String,
    /// Parameters.
    pub params: usize,
    /// Training accuracy.
    pub train_acc: f64,
    /// Test accuracy.
    pub test_acc: f64,
}

/// The label of an instance in claim details.
pub fn label(cfg: &Config, i: &Instance) -> String {
    format!("{} x{} ε={}", model_name(&cfg.models[i.model]), i.point, fmt_num(i.eps))
}

/// The worst relative violation of the soundness chain on one instance (≤ 0 when sound).
pub fn violation(i: &Instance) -> f64 {
    let scale = i.naive.abs().max(1e-12);
    let mut pairs = vec![
        (i.lower, i.bab_input),
        (i.bab_input, i.ours),
        (i.lower, i.bab_neuron),
        (i.bab_neuron, i.ours),
        (i.ours, i.interval),
        (i.interval, i.naive),
        (i.at_centre, i.lower),
    ];
    if i.enum_upper.is_finite() {
        pairs.extend([(i.lower, i.enum_upper), (i.enum_upper, i.bab_neuron)]);
    }
    pairs.iter().map(|(lo, hi)| (lo - hi) / scale).fold(f64::NEG_INFINITY, f64::max)
}

fn claims(cfg: &Config, r: &Results, out: &mut Outcome) {
    let tiny = |i: &&Instance| i.eps == cfg.eps_tiny;
    let main: Vec<&Instance> = r.instances.iter().filter(|i| !tiny(i)).collect();

    out.claim(L1.max_of(r.instances.iter().map(|i| (label(cfg, i), violation(i)))));

    let tiny_all: Vec<&Instance> = r.instances.iter().filter(tiny).collect();
    let stable: Vec<&Instance> = tiny_all.iter().copied().filter(|i| i.unstable == 0).collect();
    let l2 = L2.max_of(stable.iter().map(|i| {
        let dev = [i.interval, i.ours, i.bab_neuron, i.bab_input, i.enum_upper]
            .iter()
            .map(|b| (b - i.at_centre).abs() / i.at_centre)
            .fold(0.0, |m: f64, d| if d.is_nan() { f64::NAN } else { m.max(d) });
        (label(cfg, i), dev)
    }));
    let note = format!("all units stable on {}/{} centres", stable.len(), tiny_all.len());
    out.claim(if 10 * stable.len() >= 9 * tiny_all.len() && !stable.is_empty() {
        l2.detail(note)
    } else {
        L2.measured(f64::INFINITY).detail(note)
    });

    let ratio = |v: Vec<f64>| if v.is_empty() { f64::NAN } else { median(&v) };
    let naive_over: Vec<f64> = main.iter().map(|i| i.naive / i.ours).collect();
    out.claim(L3.measured(ratio(naive_over.clone())).detail(format!(
        "over {} instances; min {}, max {}",
        naive_over.len(),
        fmt_num(naive_over.iter().copied().fold(f64::INFINITY, f64::min)),
        fmt_num(naive_over.iter().copied().fold(0.0, f64::max))
    )));

    let unstable: Vec<&&Instance> = main.iter().filter(|i| i.unstable > 0).collect();
    let lin_int: Vec<f64> = unstable.iter().map(|i| i.ours / i.interval).collect();
    let below = lin_int.iter().filter(|&&x| x <= 1.0 + SOUND_TOL).count();
    out.claim(L4.measured(ratio(lin_int.clone())).detail(format!(
        "over {} instances with unstable units; ours ≤ interval on {}/{}; min ratio {}",
        lin_int.len(),
        below,
        lin_int.len(),
        fmt_num(lin_int.iter().copied().fold(f64::INFINITY, f64::min))
    )));

    let gapped: Vec<&&Instance> = main.iter().filter(|i| i.ours - i.lower > 1e-6 * i.lower).collect();
    let closed: Vec<f64> = gapped.iter().map(|i| (i.ours - i.bab_neuron) / (i.ours - i.lower)).collect();
    out.claim(L5.measured(ratio(closed.clone())).detail(format!(
        "over {} instances with a gap; median BaB/ours {}; min share {}; BaB on input boxes: median share {}",
        closed.len(),
        fmt_num(ratio(gapped.iter().map(|i| i.bab_neuron / i.ours).collect())),
        fmt_num(closed.iter().copied().fold(f64::INFINITY, f64::min)),
        fmt_num(ratio(gapped.iter().map(|i| (i.ours - i.bab_input) / (i.ours - i.lower)).collect()))
    )));

    let complete: Vec<&Instance> = r.instances.iter().filter(|i| i.bab_complete.is_finite()).collect();
    let one_hidden = r.instances.iter().filter(|i| cfg.models[i.model].len() == 1 && i.enum_upper.is_finite()).count();
    out.claim(if complete.is_empty() {
        L6.measured(f64::NAN).detail("no one-hidden-layer instance was enumerated and completed")
    } else {
        L6.max_of(complete.iter().map(|i| (label(cfg, i), (i.bab_complete - i.enum_upper).abs() / i.enum_upper)))
            .detail(format!(
                "{} of {} enumerated one-hidden-layer instances completed within {} nodes",
                complete.len(),
                one_hidden,
                cfg.complete_nodes
            ))
    });

    let tiny_model: Vec<&&Instance> = main.iter().filter(|i| cfg.models[i.model] == [16, 16]).collect();
    let brackets: Vec<f64> = tiny_model.iter().map(|i| i.bab_input.min(i.bab_neuron) / i.lower).collect();
    out.claim(if brackets.is_empty() {
        L7.measured(f64::NAN).detail("the model 16-16-16-10 is not in `models`")
    } else {
        L7.measured(median(&brackets)).detail(format!(
            "over {} instances; max {}; median ours / lower {}; median interval / lower {}",
            brackets.len(),
            fmt_num(brackets.iter().copied().fold(0.0, f64::max)),
            fmt_num(ratio(tiny_model.iter().map(|i| i.ours / i.lower).collect())),
            fmt_num(ratio(tiny_model.iter().map(|i| i.interval / i.lower).collect()))
        ))
    });
}

#[cfg(test)]
common::seed_checks!(crate::LocalLipschitzBoundprop);
