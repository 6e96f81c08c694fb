//! One instance: a trained model, a centre and a radius. Every bound of the local Lipschitz
//! constant `L = max_c max_{x ∈ B∞(x₀, ε) ∩ [−1, 2]^d} ‖∂f_c(x)‖₁` (ℓ∞ input norm, dual ℓ1 on the
//! gradient, worst class, as the repository's `main.py` does per class and then maximizes), and a
//! sampled lower bound on it.
use crate::Config;
use crate::setup::{Trained, mlp};
use common::Seed;
use common::boundprop::{
    BabOptions, BabStep, Interval, Pattern, ReluNet, Split, crown, lipschitz_bab, lipschitz_enumerate,
    lipschitz_interval, lipschitz_linear, lipschitz_naive,
};
use common::models::Targets;
use common::models::input::{Pgd, pgd_linf, stacked_jacobian};
use ndarray::{Array1, Array2, Axis, Zip};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The data range of the repository (`--input-clipping` off).
pub const RANGE: (f64, f64) = (-1.0, 2.0);

/// Everything measured on one instance (`NaN` where not computed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Instance {
    /// Model index in `cfg.models`.
    pub model: usize,
    /// Centre index (0: `0.5·1`).
    pub point: usize,
    /// Radius ε.
    pub eps: f64,
    /// Unstable hidden units (CROWN pre-activation bounds).
    pub unstable: usize,
    /// Hidden units in all.
    pub hidden_units: usize,
    /// The product of layer norms.
    pub naive: f64,
    /// Interval arithmetic through the backward graph.
    pub interval: f64,
    /// Linear bound propagation through the backward graph ("ours").
    pub ours: f64,
    /// Ours + branch-and-bound over unstable units (node cap `bab_nodes`).
    pub bab_neuron: f64,
    /// Nodes it used.
    pub bab_neuron_nodes: usize,
    /// Ours + branch-and-bound over input sub-boxes (node cap `bab_nodes`).
    pub bab_input: f64,
    /// Nodes it used.
    pub bab_input_nodes: usize,
    /// Exact maximum over the pattern box by enumeration (NaN: too many unstable units).
    #[serde(with = "common::report::json_f64")]
    pub enum_upper: f64,
    /// Unit-splitting BaB run to completion (NaN unless the model has one hidden layer and the
    /// enumeration ran).
    #[serde(with = "common::report::json_f64")]
    pub bab_complete: f64,
    /// `max_c ‖∇f_c(x₀)‖₁`.
    pub at_centre: f64,
    /// The largest gradient norm over the sampled points and PGD points.
    pub sampled: f64,
    /// The lower bound on L: the largest gradient norm found (samples, PGD, input-BaB box centres).
    pub lower: f64,
    /// The input-BaB bracket by nodes (thinned).
    pub trace_input: Vec<BabStep>,
    /// The unit-BaB bracket by nodes (thinned).
    pub trace_neuron: Vec<BabStep>,
}

/// Keep at most `k` steps of a trace (first and last kept).
fn thin(t: Vec<BabStep>, k: usize) -> Vec<BabStep> {
    let idx = common::stats::thin_indices(t.len(), k, false);
    idx.into_iter().map(|i| t[i]).collect()
}

/// `max_i max_c ‖∇f_c(x_i)‖₁` over the rows of `x`.
pub fn max_grad_norm(cfg: &Config, tr: &Trained, x: &Array2<f64>) -> f64 {
    let net = mlp(cfg, &tr.hidden);
    let w = Array1::from(tr.w.clone());
    let jac = stacked_jacobian(&net, w.view(), x.view());
    jac.outer_iter()
        .flat_map(|j| j.outer_iter().map(|r| r.mapv(f64::abs).sum()).collect::<Vec<_>>())
        .fold(0.0, f64::max)
}

/// The sampled lower bound: `samples / 2` uniform points of the box, `samples / 2` random vertices,
/// and one PGD-ℓ∞ point per class (the cross-entropy towards that class, random start).
pub fn sampled_lower(cfg: &Config, tr: &Trained, b: &Interval, seed: Seed) -> f64 {
    let d = b.lo.len();
    let mut rng = seed.child("samples").rng();
    let half = cfg.samples / 2;
    let mut x = Array2::zeros((2 * half, d));
    for (i, mut row) in x.axis_iter_mut(Axis(0)).enumerate() {
        Zip::from(&mut row).and(&b.lo).and(&b.hi).for_each(|v, &l, &h| {
            let u: f64 = rng.random();
            *v = if i < half {
                l + (h - l) * u
            } else if u < 0.5 {
                l
            } else {
                h
            };
        });
    }
    let mut best = max_grad_norm(cfg, tr, &x);
    if cfg.pgd_steps > 0 {
        let net = mlp(cfg, &tr.hidden);
        let w = Array1::from(tr.w.clone());
        let centre = b.center();
        let x0 = Array2::from_shape_fn((cfg.classes, d), |(_, k)| centre[k]);
        let y = Targets::Classes((0..cfg.classes).collect());
        let eps = 0.5 * (&b.hi - &b.lo).fold(0.0, |m: f64, v| m.max(*v));
        let attack = Pgd { lo: RANGE.0, hi: RANGE.1, ..Pgd::new(eps, cfg.pgd_steps) };
        let xa = pgd_linf(&net, w.view(), x0.view(), &y, &attack, &mut seed.child("pgd").rng());
        let xa = Zip::from(&xa).and_broadcast(&b.lo).and_broadcast(&b.hi).map_collect(|v, l, h| v.clamp(*l, *h));
        best = best.max(max_grad_norm(cfg, tr, &xa));
    }
    best
}

/// Measure one instance.
pub fn measure(
    cfg: &Config,
    tr: &Trained,
    model: usize,
    point: usize,
    x0: &Array1<f64>,
    eps: f64,
    seed: Seed,
) -> Instance {
    let net = ReluNet::from_mlp(&mlp(cfg, &tr.hidden), Array1::from(tr.w.clone()).view());
    let b = Interval::ball(x0.view(), eps, RANGE);
    let pat = Pattern::from_bounds(&crown(&net, &b));
    let specs: Vec<Array1<f64>> =
        (0..cfg.classes).map(|k| Array1::from_shape_fn(cfg.classes, |j| f64::from(u8::from(j == k)))).collect();
    let max_over = |f: &dyn Fn(&Array1<f64>) -> f64| specs.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
    let naive = max_over(&|c| lipschitz_naive(&net, c.view()));
    let interval = max_over(&|c| lipschitz_interval(&net, &pat, c.view()));
    let ours = max_over(&|c| lipschitz_linear(&net, &pat, c.view()).upper);
    let at_centre = max_over(&|c| net.grad(x0.view(), c.view()).mapv(f64::abs).sum());
    let unstable = pat.unstable().len();
    let enum_upper = if unstable <= cfg.enum_max_unstable {
        max_over(&|c| lipschitz_enumerate(&net, &pat, c.view(), cfg.enum_max_unstable).expect("within the cap"))
    } else {
        f64::NAN
    };
    let opts = |split| BabOptions { max_nodes: cfg.bab_nodes, split, rel_tol: 1e-9 };
    let bn = lipschitz_bab(&net, &b, &specs, &opts(Split::Neuron));
    let bi = lipschitz_bab(&net, &b, &specs, &opts(Split::Input));
    let bab_complete = if tr.hidden.len() == 1 && enum_upper.is_finite() {
        let r = lipschitz_bab(
            &net,
            &b,
            &specs,
            &BabOptions { max_nodes: cfg.complete_nodes, split: Split::Neuron, rel_tol: 1e-13 },
        );
        if r.complete { r.upper } else { f64::NAN }
    } else {
        f64::NAN
    };
    let sampled = sampled_lower(cfg, tr, &b, seed);
    Instance {
        model,
        point,
        eps,
        unstable,
        hidden_units: net.num_hidden_units(),
        naive,
        interval,
        ours,
        bab_neuron: bn.upper,
        bab_neuron_nodes: bn.nodes,
        bab_input: bi.upper,
        bab_input_nodes: bi.nodes,
        enum_upper,
        bab_complete,
        at_centre,
        sampled,
        lower: sampled.max(bi.lower).max(at_centre),
        trace_input: thin(bi.trace, 60),
        trace_neuron: thin(bn.trace, 60),
    }
}
