//! Study `degeneracy-interaction-basis`: Bushnaq, Mendel, Heimersheim, Braun, Goldowsky-Dill,
//! Hänni, Wu & Hobbhahn, "Using Degeneracy in the Loss Landscape for Mechanistic
//! Interpretability" (arXiv:2405.10927, Apollo Research; code `ApolloResearch/rib`).
//!
//! The paper names three internal sources of parameter degeneracy (free directions of the
//! behavioural loss): (1) linear dependence among a layer's activations, (2) linear dependence
//! among the gradients passed back into a layer, (3) ReLUs that fire on the same subset of the
//! data; free directions lower the effective parameter count (λ ≤ (d − #free)/2), and the
//! Interaction Basis is a representation invariant to the reparameterisations of (1) and (2).
//!
//! 1. **Config**: the constructed ReLU MLPs (one planted degeneracy per case), the trained
//!    teacher-student MLP, the reparameterisation step, SGLD, the digits MLP (full profile).
//! 2. **Claims**: Q1 the null dimension of the stacked Jacobian equals the count predicted from
//!    the network's structure by the three mechanisms (exact integers; Q1m the same on the
//!    trained MLP, reported); Q1t the paper's textbook
//!    count of each constructed case; Q2 the behavioural-loss Hessian has the same null dimension;
//!    Q3 the interaction-basis edges are invariant under an O(1) move along a free direction
//!    (outputs unchanged, neuron-basis edges change); reported only: sparsity of the interaction
//!    basis (C3), SGLD estimate of the LLC (Q4).
//! 3. **Measure**: per case, the network (`nets`), the prediction and the observed null spaces
//!    (`count`), the interaction basis before and after the move (`basis`), SGLD (`llc`).
//! 4. **Report**: tables, spectra and edge histograms, claims.

use anyhow::Result;
use common::report::fmt_num;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Figure, Outcome, Paper, Profiles, Series, Study, Table};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

pub mod basis;
pub mod count;
pub mod llc;
pub mod nets;

#[cfg(test)]
mod tests;

pub use count::{Observed, Prediction};
pub use nets::Case;

/// The study (registered in `repro/src/registry.rs`).
pub struct DegeneracyInteractionBasis;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Widths of the constructed ReLU MLPs `[d0, h1, h2, out]` (two hidden layers).
    pub sizes: Vec<usize>,
    /// Points of the constructed cases (Gaussian inputs).
    pub n: usize,
    /// Margin of the first input coordinate away from 0 (|x₀| ≥ gap).
    pub gap: f64,
    /// Lowest quantile of a hidden unit's bias (it fires on at most 1 − fire_lo of the points).
    pub fire_lo: f64,
    /// Highest quantile of a hidden unit's bias.
    pub fire_hi: f64,
    /// Exact affine dependencies among the inputs (case "input dependencies").
    pub input_deps: usize,
    /// Jitter of the synchronised pair's weights around e₀.
    pub sync_jitter: f64,
    /// Widths of the trained student (ReLU).
    pub trained_sizes: Vec<usize>,
    /// Training points of the student.
    pub trained_n: usize,
    /// Hidden width of the tanh teacher.
    pub teacher_width: usize,
    /// Full-batch Adam steps.
    pub train_steps: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Size of the move along a free direction, relative to the moved layer's weight norm (Q3).
    pub shift: f64,
    /// rib's truncation threshold of the Gram and Λ eigenvalues.
    pub threshold: f64,
    /// Widths of the SGLD network (≤ 100 parameters).
    pub llc_sizes: Vec<usize>,
    /// SGLD step ε.
    pub sgld_eps: f64,
    /// SGLD localisation γ.
    pub sgld_gamma: f64,
    /// SGLD steps per chain after burn-in.
    pub sgld_steps: usize,
    /// SGLD burn-in.
    pub sgld_burn: usize,
    /// SGLD chains.
    pub sgld_chains: usize,
    /// Hidden widths of the digits MLP (empty: skip the digits part).
    pub digits_hidden: Vec<usize>,
    /// Adam steps of the digits MLP.
    pub digits_steps: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            sizes: vec![6, 10, 10, 3],
            n: 400,
            gap: 0.5,
            fire_lo: 0.3,
            fire_hi: 0.7,
            input_deps: 2,
            sync_jitter: 0.05,
            trained_sizes: vec![8, 16, 16, 2],
            trained_n: 400,
            teacher_width: 8,
            train_steps: 1500,
            lr: 0.01,
            shift: 1.0,
            threshold: 1e-5,
            llc_sizes: vec![3, 6, 6, 1],
            sgld_eps: 1e-3,
            sgld_gamma: 1.0,
            sgld_steps: 1000,
            sgld_burn: 300,
            sgld_chains: 4,
            digits_hidden: vec![],
            digits_steps: 0,
        }
    }
    fn full() -> Self {
        Config {
            sizes: vec![8, 16, 16, 2],
            n: 1000,
            trained_n: 1000,
            train_steps: 5000,
            sgld_steps: 5000,
            sgld_burn: 1000,
            sgld_chains: 8,
            digits_hidden: vec![32, 32],
            digits_steps: 3000,
            ..Config::quick()
        }
    }
}

impl Config {
    fn build(&self) -> nets::Build {
        nets::Build {
            sizes: self.sizes.clone(),
            n: self.n,
            gap: self.gap,
            fire: (self.fire_lo, self.fire_hi),
            input_deps: self.input_deps,
            sync_jitter: self.sync_jitter,
        }
    }
}

fn params(sizes: &[usize]) -> usize {
    sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.list("sizes", &self.sizes, 4)
            .sizes("sizes", &self.sizes, 1, 64)
            .size("n", self.n, 20, 5000)
            .real("gap", self.gap, 0.0, 5.0)
            .real("fire_lo", self.fire_lo, 0.05, 0.95)
            .real("fire_hi", self.fire_hi, 0.05, 0.95)
            .size("input_deps", self.input_deps, 1, 16)
            .real("sync_jitter", self.sync_jitter, 0.0, 0.2)
            .list("trained_sizes", &self.trained_sizes, 6)
            .sizes("trained_sizes", &self.trained_sizes, 1, 64)
            .size("trained_n", self.trained_n, 20, 5000)
            .size("teacher_width", self.teacher_width, 1, 256)
            .size("train_steps", self.train_steps, 0, 100_000)
            .real("lr", self.lr, 1e-6, 1.0)
            .real("shift", self.shift, 0.1, 100.0)
            .real("threshold", self.threshold, 1e-12, 1e-2)
            .list("llc_sizes", &self.llc_sizes, 5)
            .sizes("llc_sizes", &self.llc_sizes, 1, 16)
            .real("sgld_eps", self.sgld_eps, 1e-8, 1e-1)
            .real("sgld_gamma", self.sgld_gamma, 0.0, 1e6)
            .size("sgld_steps", self.sgld_steps, 10, 1_000_000)
            .size("sgld_burn", self.sgld_burn, 0, 1_000_000)
            .size("sgld_chains", self.sgld_chains, 1, 64)
            .size("digits_steps", self.digits_steps, 0, 100_000)
            .rule(
                self.sizes.len() == 4,
                "`sizes` must be [d0, h1, h2, out] (two hidden layers: the dead and synchronised cases use both)",
            )
            .rule(
                self.sizes.len() != 4 || self.sizes[0] > self.input_deps + 1,
                "`input_deps` must leave at least two free input coordinates",
            )
            .rule(
                self.sizes.len() != 4 || self.sizes[1] >= 2,
                "`sizes[1]` must be at least 2 (the proportional and synchronised pairs)",
            )
            .rule(self.fire_lo < self.fire_hi, "`fire_lo` must be below `fire_hi`")
            .rule(self.trained_sizes.len() >= 3, "`trained_sizes` needs at least one hidden layer")
            .rule(self.llc_sizes.len() >= 3, "`llc_sizes` needs at least one hidden layer")
            .rule(params(&self.llc_sizes) <= 100, "`llc_sizes` must give at most 100 parameters (SGLD network)")
            .rule(
                self.n * self.sizes.last().copied().unwrap_or(1) <= 40_000,
                "`n · sizes[3]` (rows of the stacked Jacobian) must be at most 40000",
            )
            .rule(
                self.digits_hidden.is_empty() == (self.digits_steps == 0),
                "`digits_hidden` and `digits_steps` go together (both empty/0 to skip digits)",
            );
        if !self.digits_hidden.is_empty() {
            c.list("digits_hidden", &self.digits_hidden, 4).sizes("digits_hidden", &self.digits_hidden, 1, 256);
        }
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        let p = params(&self.sizes) as f64;
        let pt = params(&self.trained_sizes) as f64;
        let rows = (self.n * self.sizes.last().copied().unwrap_or(1)) as f64;
        let rows_t = (self.trained_n * self.trained_sizes.last().copied().unwrap_or(1)) as f64;
        let f64s = 3.0 * (rows * p + rows_t * pt) + 4.0 * (p * p + pt * pt);
        let flops = 6.0 * (rows * p * p + rows_t * pt * pt)
            + 6.0 * (p + pt) * (self.n + self.trained_n) as f64 * (p + pt)
            + 6.0 * pt * self.trained_n as f64 * self.train_steps as f64
            + 6.0
                * params(&self.llc_sizes) as f64
                * self.n as f64
                * ((self.sgld_steps + self.sgld_burn) * self.sgld_chains) as f64;
        Estimate::f64s(f64s).seconds(flops / 1e9)
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const Q1: ClaimSpec = ClaimSpec::new(
    "Q1",
    "The null space of the stacked output Jacobian (n·out × p, rank cut at the largest spectral gap) has exactly the \
     dimension predicted from the network's structure by the paper's three mechanisms (activation dependence restricted \
     to firing sets, Jacobian dependence, ReLU rescalings and synchronised-ReLU mixings), for every constructed case: \
     max |observed − predicted|.",
    "Bushnaq et al. (2024), Sec. 3.1–3.3",
    Expect::at_most(0.0),
)
.wrong(
    "forgetting the biases (no constant column in the activations) misses the affine input dependencies: off by \
     d1 = 10 per dependency; a rank without tolerance (exact zeros only) observes null dimension 0 in every case; \
     counting activation dependence on all points instead of each unit's firing set misses dead units' weights \
     (off by 20 or more)",
);

const Q1M: ClaimSpec = ClaimSpec::new(
    "Q1m",
    "The same structural prediction on the trained MLP (teacher data, Adam to a low loss): |observed − predicted|.",
    "Bushnaq et al. (2024), Sec. 3.1–3.3",
    Expect::at_most(0.0),
)
.not_gated(
    "a trained network can carry degeneracies the structural count does not model: 0 at the default seed and at 24 \
     calibration seeds, but the independent seed check found 35 observed against 33 predicted at root seed 101; \
     reported until the count models them",
);

const Q1T: ClaimSpec = ClaimSpec::new(
    "Q1t",
    "The paper's textbook counts of the constructed cases (Σ hidden rescalings; + d1 per input dependency; + d_in + d_out \
     − 1 per dead unit, −1 for the shared weight; + d2 for proportional units; + k² − k = 2 for a synchronised pair, \
     + k = 2 more when a next-layer unit fires only where the pair is silent) equal the observed null dimension: \
     max |observed − textbook| over the six constructed cases.",
    "Bushnaq et al. (2024), Sec. 3; spec counts [derived]",
    Expect::at_most(0.0),
)
.wrong(
    "the spec's open question: a synchronised pair counted +3 (one extra) or +4 (k² instead of k² − k) is off by 1–2; \
     the dead-unit overlap forgotten is off by 1",
);

const Q2: ClaimSpec = ClaimSpec::new(
    "Q2",
    "The Hessian of the behavioural loss ½·mean‖f(θ′) − f(θ)‖² at θ (exact HVPs, PSD rank at the largest gap) has the \
     same null dimension as the stacked Jacobian, for every case: max |null(H) − null(J)|.",
    "Bushnaq et al. (2024), Sec. 2 (behavioural loss)",
    Expect::at_most(0.0),
)
.wrong(
    "a fixed relative tolerance of 1e-8 on the Hessian eigenvalues (the square of J's singular values) cuts inside the \
     kept spectrum; an HVP with a missing factor or a non-zero residual (loss to the teacher instead of the own outputs) \
     changes the rank",
);

const Q3: ClaimSpec = ClaimSpec::new(
    "Q3",
    "Moving a layer's weights by an O(1) step along a free direction of mechanism 1 (input dependencies: W1; \
     proportional units: W2) leaves the interaction-basis edge matrices unchanged: max relative change of any edge.",
    "Bushnaq et al. (2024), Sec. 6 (the Interaction Basis is invariant to reparameterisations of mechanisms 1 and 2)",
    Expect::at_most(1e-8),
)
.wrong(
    "with the biases not folded into the node layers (rib asserts they are) the affine free direction is not in \
     G's null space and the edges change at O(1) (planted in a unit test); in the neuron basis the same move changes \
     the edges by O(1) (claim Q3n); without truncating G before D^(−1/2) a negative rounding eigenvalue gives NaN",
);

const Q3O: ClaimSpec = ClaimSpec::new(
    "Q3o",
    "The move along the free direction leaves the network's outputs unchanged: max |Δf| / max |f|.",
    "Bushnaq et al. (2024), Sec. 3.1",
    Expect::at_most(1e-10),
)
.wrong("a direction not orthogonal to the data (a random direction of the same size) changes the outputs at O(1)");

const Q3N: ClaimSpec = ClaimSpec::new(
    "Q3n",
    "The same move changes the neuron-basis weights and edges at O(1): min over moves of the relative change of the \
     neuron-basis edges.",
    "Bushnaq et al. (2024), Sec. 4 (neuron-basis weights are not invariant)",
    Expect::at_least(0.05),
)
.wrong("a step that is numerically zero (a free direction scaled by the null eigenvalue) would show ~0 here and make Q3 vacuous");

const C3: ClaimSpec = ClaimSpec::new(
    "C3",
    "The interaction basis gives sparser interactions than the neuron basis on the trained MLP: fraction of edges \
     carrying 90 % of the total edge weight, interaction basis / neuron basis (< 1 is sparser).",
    "Bushnaq et al. (2024), Sec. 4 (heuristic)",
    Expect::at_most(1.0),
)
.not_gated("the paper argues sparsity heuristically; on a 16-16 student the ratio is a single noisy number");

const Q4: ClaimSpec = ClaimSpec::new(
    "Q4",
    "The SGLD estimate of the local learning coefficient of the behavioural loss on a ≤ 100-parameter ReLU MLP, \
     relative to the bound (p − #free)/2 from the observed null dimension (≤ 1 expected).",
    "Bushnaq et al. (2024), Sec. 2 (λ ≤ (d − #free)/2)",
    Expect::at_most(1.0),
)
.not_gated("SGLD estimates depend on ε, γ and chain length and are noisy at this size (spec: report only)");

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[Q1, Q1M, Q1T, Q2, Q3, Q3O, Q3N, C3, Q4];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// One case: its counts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseRow {
    /// The case's name.
    pub case: String,
    /// The textbook count (constructed cases only).
    pub textbook: Option<usize>,
    /// The structural prediction.
    pub pred: Prediction,
    /// The observed null spaces.
    pub obs: Observed,
}

/// One move along a free direction (Q3).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Move {
    /// The case whose planted dependence is used.
    pub case: String,
    /// The moved layer (0-based weight matrix).
    pub layer: usize,
    /// ‖ΔW̃‖ / ‖W̃‖ of the moved layer.
    pub weight_change: f64,
    /// max |Δf| / max |f|.
    pub output_change: f64,
    /// Relative change of the interaction-basis edges.
    #[serde(with = "common::report::json_f64")]
    pub edge_change_ib: f64,
    /// Relative change of the neuron-basis edges.
    pub edge_change_neuron: f64,
    /// Kept interaction-basis dimensions per node layer.
    pub kept: Vec<usize>,
}

/// Edge statistics of a trained network in both bases.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EdgeStats {
    /// Which network.
    pub net: String,
    /// Every neuron-basis edge divided by the largest.
    pub neuron: Vec<f64>,
    /// Every interaction-basis edge divided by the largest.
    pub interaction: Vec<f64>,
    /// Fraction of edges carrying 90 % of the weight, neuron basis.
    pub mass90_neuron: f64,
    /// The same, interaction basis.
    pub mass90_ib: f64,
}

/// The SGLD estimate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Llc {
    /// Parameters.
    pub params: usize,
    /// Observed null dimension of J.
    pub null_dim: usize,
    /// Predicted null dimension.
    pub predicted: usize,
    /// λ̂ per chain.
    pub chains: Vec<f64>,
}

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// The constructed cases, then the trained MLP.
    pub cases: Vec<CaseRow>,
    /// Final training loss of the student.
    pub trained_loss: f64,
    /// The moves of Q3.
    pub moves: Vec<Move>,
    /// Edge statistics: the trained student (and digits in the full profile).
    pub edges: Vec<EdgeStats>,
    /// The SGLD estimate.
    pub llc: Llc,
}

/// Counts of one network.
pub fn analyse(name: &str, textbook: Option<usize>, net: &nets::Net) -> CaseRow {
    let pred = count::predict(&net.mlp, &net.w, &net.x, count::Bugs::default());
    let obs = count::observe(&net.mlp, &net.w, &net.x);
    CaseRow { case: name.into(), textbook, pred, obs }
}

/// Moves layer `layer` by `shift·‖W̃‖` along `u vᵀ`, `v` the null eigenvector of the layer's
/// input Gram matrix (bias folded), `u` random; compares both bases before and after.
pub fn move_along_free_direction(
    case: Case,
    net: &nets::Net,
    layer: usize,
    shift: f64,
    threshold: f64,
    seed: common::Seed,
    fold: bool,
) -> Move {
    let folded0 = basis::nodes(&net.mlp, &net.w, &net.x);
    let a = &folded0.acts[layer];
    let g = a.t().dot(a) / a.nrows() as f64;
    let (vals, vecs) = common::linalg::eigh(&g);
    let k = (0..vals.len()).min_by(|&i, &j| vals[i].total_cmp(&vals[j])).expect("non-empty");
    let v = vecs.column(k).to_owned();
    let (wm, b) = net.mlp.layer(net.w.view(), layer);
    let (dout, din) = wm.dim();
    let mut wt = Array2::zeros((dout, din + 1));
    wt.slice_mut(ndarray::s![.., ..din]).assign(&wm);
    wt.column_mut(din).assign(&b.expect("biases"));
    let u = common::rng::gaussian_vec(&mut seed.child("u").rng(), dout, 1.0);
    let t = shift * frob(&wt) / (u.dot(&u).sqrt() * v.dot(&v).sqrt());
    let mut w2 = net.w.clone();
    {
        let (mut wm2, b2) = net.mlp.layer_mut(w2.view_mut(), layer);
        let mut b2 = b2.expect("biases");
        for r in 0..dout {
            for c in 0..din {
                wm2[[r, c]] += t * u[r] * v[c];
            }
            b2[r] += t * u[r] * v[din];
        }
    }
    let moved = nets::Net { mlp: net.mlp.clone(), w: w2, x: net.x.clone() };
    // fold = false: the planted bug of rib's assertion, biases not folded into the node layers.
    let nd0 = if fold { folded0 } else { basis::unfold(&folded0) };
    let nd1 = basis::nodes(&moved.mlp, &moved.w, &moved.x);
    let nd1 = if fold { nd1 } else { basis::unfold(&nd1) };
    let f0 = &nd0.acts[nd0.acts.len() - 1];
    let f1 = &nd1.acts[nd1.acts.len() - 1];
    let top = f0.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let output_change = (f1 - f0).iter().fold(0.0f64, |m, v| m.max(v.abs())) / top;
    let b0 = basis::interaction_basis(&nd0, threshold);
    let b1 = basis::interaction_basis(&nd1, threshold);
    let e_ib = basis::relative_change(&basis::edges(&nd0, &b0), &basis::edges(&nd1, &b1));
    let e_n = basis::relative_change(
        &basis::edges(&nd0, &basis::neuron_basis(&nd0)),
        &basis::edges(&nd1, &basis::neuron_basis(&nd1)),
    );
    Move {
        case: case.name().into(),
        layer,
        weight_change: shift,
        output_change,
        edge_change_ib: e_ib,
        edge_change_neuron: e_n,
        kept: b0.c.iter().map(|c| c.ncols()).collect(),
    }
}

fn frob(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Edge statistics of a network in both bases.
pub fn edge_stats(name: &str, net: &nets::Net, threshold: f64) -> EdgeStats {
    let nd = basis::nodes(&net.mlp, &net.w, &net.x);
    let norm = |es: Vec<Array2<f64>>| {
        let v: Vec<f64> = es.iter().flat_map(|m| m.iter().copied()).collect();
        let top = v.iter().fold(0.0f64, |m, &x| m.max(x));
        v.iter().map(|x| x / top).collect::<Vec<f64>>()
    };
    let en = basis::edges(&nd, &basis::neuron_basis(&nd));
    let ei = basis::edges(&nd, &basis::interaction_basis(&nd, threshold));
    EdgeStats {
        net: name.into(),
        mass90_neuron: basis::mass_fraction(&en, 0.9),
        mass90_ib: basis::mass_fraction(&ei, 0.9),
        neuron: norm(en),
        interaction: norm(ei),
    }
}

/// The digits MLP (full profile): ReLU, trained with Adam on MSE to one-hot labels.
fn digits_net(cfg: &Config, seed: common::Seed) -> Result<nets::Net> {
    use common::data::files::{Shipped, load_shipped};
    let ds = load_shipped(Shipped::Digits)?.standardize();
    let x = ds.x.clone();
    let classes = ds.num_classes();
    let labels = ds.classes();
    let y = Array2::from_shape_fn((x.nrows(), classes), |(i, k)| f64::from(u8::from(labels[i] == k)));
    let mut sizes = vec![x.ncols()];
    sizes.extend(&cfg.digits_hidden);
    sizes.push(classes);
    let net = nets::random_net(&sizes, x, (0.3, 0.7), seed);
    let t = common::models::Targets::Regression(y);
    let mut w = net.w.clone();
    let (mut m, mut v) = (Array1::<f64>::zeros(w.len()), Array1::<f64>::zeros(w.len()));
    for s in 1..=cfg.digits_steps {
        let (_, g) = common::models::Model::loss_grad(&net.mlp, w.view(), net.x.view(), &t);
        m = &m * 0.9 + &(&g * 0.1);
        v = &v * 0.999 + &(g.mapv(|e| e * e) * 0.001);
        let step = cfg.lr * (1.0 - 0.999f64.powi(s as i32)).sqrt() / (1.0 - 0.9f64.powi(s as i32));
        ndarray::Zip::from(&mut w).and(&m).and(&v).for_each(|w, &m, &v| *w -= step * m / (v.sqrt() + 1e-8));
    }
    Ok(nets::Net { w, ..net })
}

impl Study for DegeneracyInteractionBasis {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "degeneracy-interaction-basis"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Using Degeneracy in the Loss Landscape for Mechanistic Interpretability",
            authors: "Lucius Bushnaq, Jake Mendel, Stefan Heimersheim, Dan Braun, Nicholas Goldowsky-Dill, Kaarel Hänni, Cindy Wu, Marius Hobbhahn",
            arxiv: "2405.10927",
            official_code: Some("https://github.com/ApolloResearch/rib"),
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let b = cfg.build();
        let names: Vec<String> = Case::ALL.iter().map(|c| c.name().to_string()).collect();
        let cases: Vec<(CaseRow, Option<Move>)> = ctx.grid("cases", &names, |name, seed| {
            let case = *Case::ALL.iter().find(|c| c.name() == name).expect("known case");
            let net = nets::build(case, &b, seed);
            let row = analyse(name, Some(count::textbook(case, &cfg.sizes, cfg.input_deps)), &net);
            let mv = match case {
                Case::InputDeps => Some(move_along_free_direction(case, &net, 0, cfg.shift, cfg.threshold, seed, true)),
                Case::Proportional => {
                    Some(move_along_free_direction(case, &net, 1, cfg.shift, cfg.threshold, seed, true))
                }
                _ => None,
            };
            Ok((row, mv))
        })?;
        let (mut rows, moves): (Vec<CaseRow>, Vec<Option<Move>>) = cases.into_iter().unzip();
        let moves: Vec<Move> = moves.into_iter().flatten().collect();

        let (tnet, trained_loss) = nets::trained(
            &cfg.trained_sizes,
            cfg.trained_n,
            cfg.teacher_width,
            cfg.train_steps,
            cfg.lr,
            ctx.seed.child("trained"),
        );
        rows.push(analyse("trained MLP", None, &tnet));
        let mut edges = vec![edge_stats("trained MLP", &tnet, cfg.threshold)];
        if !cfg.digits_hidden.is_empty() {
            let dnet = digits_net(cfg, ctx.seed.child("digits"))?;
            edges.push(edge_stats("digits MLP", &dnet, cfg.threshold));
        }

        let lb = nets::Build { sizes: cfg.llc_sizes.clone(), input_deps: 0, ..b };
        let lx = nets::inputs(&lb, 0, ctx.seed.child("llc"));
        let lnet = nets::random_net(&cfg.llc_sizes, lx, (cfg.fire_lo, cfg.fire_hi), ctx.seed.child("llc"));
        let lrow = analyse("llc", None, &lnet);
        let sgld = llc::Sgld {
            eps: cfg.sgld_eps,
            gamma: cfg.sgld_gamma,
            steps: cfg.sgld_steps,
            burn: cfg.sgld_burn,
            chains: cfg.sgld_chains,
        };
        let chains = llc::estimate(&lnet, sgld, ctx.seed.child("sgld"));
        let llc = Llc { params: lrow.obs.params, null_dim: lrow.obs.null_j, predicted: lrow.pred.total(), chains };
        Ok(Results { cases: rows, trained_loss, moves, edges, llc })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let mut t =
            Table::new("cases", "Case → predicted / observed null dimension of the stacked Jacobian and the Hessian");
        let col = |f: &dyn Fn(&CaseRow) -> usize| r.cases.iter().map(f).collect::<Vec<usize>>();
        t = t
            .str("case", r.cases.iter().map(|c| c.case.clone()).collect())
            .usize("params", col(&|c| c.obs.params))
            .usize("rows", col(&|c| c.obs.rows))
            .i64("textbook", r.cases.iter().map(|c| c.textbook.map_or(-1, |v| v as i64)).collect())
            .usize("predicted", col(&|c| c.pred.total()))
            .usize("pred_activation", col(&|c| c.pred.activation))
            .usize("pred_jacobian", col(&|c| c.pred.jacobian))
            .usize("pred_rescaling", col(&|c| c.pred.rescaling))
            .usize("pred_synchronised", col(&|c| c.pred.synchronised))
            .usize("dead_units", col(&|c| c.pred.dead))
            .usize("observed_j", col(&|c| c.obs.null_j))
            .f64("gap_j", r.cases.iter().map(|c| c.obs.cut_j.gap).collect())
            .f64(
                "tol_j_rel",
                r.cases
                    .iter()
                    .map(|c| c.obs.cut_j.tol / c.obs.cut_j.floor * common::linalg::rank::DEFAULT_FLOOR_REL)
                    .collect(),
            )
            .usize("observed_h", col(&|c| c.obs.null_h))
            .f64("gap_h", r.cases.iter().map(|c| c.obs.cut_h.gap).collect())
            .usize("null_exact_zeros", col(&|c| c.obs.null_exact_zero));
        out.table(t);

        // The constructed cases carry a textbook count; the trained MLP does not.
        let (built, trained): (Vec<&CaseRow>, Vec<&CaseRow>) = r.cases.iter().partition(|c| c.textbook.is_some());
        let off = |c: &CaseRow| (c.obs.null_j as f64 - c.pred.total() as f64).abs();
        let listed = |cs: &[&CaseRow]| {
            format!(
                "observed/predicted: {}; smallest gap at the cut {}",
                cs.iter()
                    .map(|c| format!("{} {}/{}", c.case, c.obs.null_j, c.pred.total()))
                    .collect::<Vec<_>>()
                    .join(", "),
                fmt_num(cs.iter().map(|c| c.obs.cut_j.gap).fold(f64::INFINITY, f64::min))
            )
        };
        out.claim(Q1.max_of(built.iter().map(|c| (&c.case, off(c)))).detail(listed(&built)));
        out.claim(Q1M.max_of(trained.iter().map(|c| (&c.case, off(c)))).detail(listed(&trained)));
        let tb = &built;
        out.claim(
            Q1T.max_of(tb.iter().map(|c| (&c.case, (c.obs.null_j as f64 - c.textbook.unwrap_or(0) as f64).abs())))
                .detail(format!(
                    "observed/textbook: {}",
                    tb.iter()
                        .map(|c| format!("{} {}/{}", c.case, c.obs.null_j, c.textbook.unwrap_or(0)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
        );
        out.claim(
            Q2.max_of(r.cases.iter().map(|c| (&c.case, (c.obs.null_h as f64 - c.obs.null_j as f64).abs()))).detail(
                format!(
                    "null(H): {}; smallest eigenvalue gap {}",
                    r.cases.iter().map(|c| format!("{} {}", c.case, c.obs.null_h)).collect::<Vec<_>>().join(", "),
                    fmt_num(r.cases.iter().map(|c| c.obs.cut_h.gap).fold(f64::INFINITY, f64::min))
                ),
            ),
        );
        let mv = |m: &Move| format!("{} (W{})", m.case, m.layer + 1);
        out.claim(Q3.max_of(r.moves.iter().map(|m| (mv(m), m.edge_change_ib))));
        out.claim(Q3O.max_of(r.moves.iter().map(|m| (mv(m), m.output_change))));
        out.claim(Q3N.min_of(r.moves.iter().map(|m| (mv(m), m.edge_change_neuron))));
        let e = &r.edges[0];
        out.claim(C3.measured(e.mass90_ib / e.mass90_neuron).detail(format!(
            "edges carrying 90 % of the weight: interaction basis {} of {}, neuron basis {} of {}{}",
            fmt_num(e.mass90_ib),
            e.interaction.len(),
            fmt_num(e.mass90_neuron),
            e.neuron.len(),
            r.edges
                .iter()
                .skip(1)
                .map(|d| format!("; {}: {} vs {}", d.net, fmt_num(d.mass90_ib), fmt_num(d.mass90_neuron)))
                .collect::<String>()
        )));
        let bound = (r.llc.params - r.llc.null_dim) as f64 / 2.0;
        let mean = common::stats::mean(&r.llc.chains);
        out.claim(Q4.measured(mean / bound).detail(format!(
            "λ̂ = {} (chains {}), p = {}, observed null dim {} (predicted {}), bound (p − #free)/2 = {}",
            fmt_num(mean),
            common::report::fmt_list(&r.llc.chains),
            r.llc.params,
            r.llc.null_dim,
            r.llc.predicted,
            fmt_num(bound)
        )));

        out.table(Table::from_rows("moves", "Moves along a free direction (Q3)", &r.moves));

        // Spectra, with the cut marked.
        let mut fig =
            Figure::xy("spectra", "Singular values of the stacked Jacobian (cut marked)", "index i", "σ_i / σ_1")
                .log_y()
                .wide();
        for (k, c) in r.cases.iter().enumerate() {
            let sv: Vec<f64> = c.obs.sv.iter().map(|&s| s.max(1e-18)).collect();
            let xs: Vec<f64> = (1..=sv.len()).map(|i| i as f64).collect();
            fig = fig.series(Series::line(&c.case, xs, sv.clone()).color(k));
            let rank = c.obs.params - c.obs.null_j;
            if rank > 0 && rank < sv.len() {
                fig = fig.series(
                    Series::markers(
                        &format!("cut: {} (null {})", c.case, c.obs.null_j),
                        vec![rank as f64, rank as f64 + 1.0],
                        vec![sv[rank - 1], sv[rank]],
                    )
                    .color(k),
                );
            }
        }
        out.figure(fig);

        // Edge-weight histograms.
        let bins: Vec<f64> = (0..=24).map(|k| -12.0 + 0.5 * k as f64).collect();
        let hist = |v: &[f64]| {
            let mut h = vec![0.0; bins.len() - 1];
            for &x in v {
                let lx = x.max(1e-12).log10();
                let k = (((lx + 12.0) / 0.5) as usize).min(h.len() - 1);
                h[k] += 1.0 / v.len() as f64;
            }
            h
        };
        let centers: Vec<f64> = bins.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
        for (k, es) in r.edges.iter().enumerate() {
            let name = if k == 0 { "edges".to_string() } else { format!("edges_{}", k) };
            let fig = Figure::xy(
                &name,
                &format!("Edge weights, {} (≤ 1e-12 in the first bin)", es.net),
                "log10(edge / largest edge)",
                "fraction of edges",
            )
            .series(Series::line_markers("neuron basis", centers.clone(), hist(&es.neuron)).color(0))
            .series(Series::line_markers("interaction basis", centers.clone(), hist(&es.interaction)).color(1));
            out.figure(fig);
        }
        out.note(format!(
            "Setup: ReLU MLP {:?} with biases on {} Gaussian inputs (|x₀| ≥ {}), hidden biases set at data quantiles in [{}, {}]; \
             the trained student {:?} reached loss {} after {} Adam steps on a tanh teacher. The prediction counts the paper's \
             three mechanisms from the network (firing sets, ranks of small activation and sensitivity matrices); the \
             observation cuts the singular values of the stacked Jacobian at the largest gap above √ε·σ₁ (floor) and the \
             Hessian's eigenvalues at the largest gap above ε·λ₁. The spec's open question (a synchronised pair observed at \
             +3): the GL(2) count k² − k = 2 is right; extra directions appear when the pair's construction leaves a \
             next-layer unit firing only where the pair is silent (its weights from the pair become free, a \
             firing-set-restricted activation dependence), which the structural count includes.",
            cfg.sizes,
            cfg.n,
            fmt_num(cfg.gap),
            fmt_num(cfg.fire_lo),
            fmt_num(cfg.fire_hi),
            cfg.trained_sizes,
            fmt_num(r.trained_loss),
            cfg.train_steps
        ));
        Ok(out)
    }
}
