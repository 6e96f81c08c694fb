//! The figures, mirroring the paper's comparisons: every bound against the true constant's lower
//! end, the bound/lower ratio against ε per method, the BaB bracket against the node count, and the
//! gain over the product of layer norms per model.
use crate::instance::Instance;
use crate::setup::model_name;
use crate::{Config, Results};
use common::report::fmt_num;
use common::stats::median;
use common::{Figure, Series};

/// Reads one bound from an instance.
type Getter = fn(&Instance) -> f64;

/// The methods drawn (the layer-norm product has its own figure), with how to read each.
fn methods() -> Vec<(&'static str, Getter)> {
    vec![
        ("interval (backward graph)", |i| i.interval),
        ("ours (linear bounds)", |i| i.ours),
        ("ours + BaB (units)", |i| i.bab_neuron),
        ("ours + BaB (input boxes)", |i| i.bab_input),
        ("pattern-box maximum (enumeration)", |i| i.enum_upper),
    ]
}

/// Every figure.
pub fn all(cfg: &Config, r: &Results) -> Vec<Figure> {
    let main: Vec<&Instance> = r.instances.iter().filter(|i| i.eps != cfg.eps_tiny).collect();
    vec![ratio_vs_eps(cfg, &main), bound_vs_true(&main), bab_trace(cfg, &main), vs_layer_norm(cfg, &main)]
}

/// Median over models and centres of bound / lower against ε (band: min–max).
fn ratio_vs_eps(cfg: &Config, main: &[&Instance]) -> Figure {
    let mut f = Figure::xy(
        "ratio_vs_eps",
        "Bound / lower bound against ε (median; band: min–max)",
        "ε (ℓ∞ radius)",
        "bound / lower bound on L",
    );
    let mut top: f64 = 1.0;
    let mut eps = cfg.eps.clone();
    eps.sort_by(f64::total_cmp);
    for (name, get) in methods() {
        let (mut x, mut med, mut lo, mut hi) = (vec![], vec![], vec![], vec![]);
        for &e in &eps {
            let v: Vec<f64> =
                main.iter().filter(|i| i.eps == e).map(|i| get(i) / i.lower).filter(|v| v.is_finite()).collect();
            if v.is_empty() {
                continue;
            }
            x.push(e);
            med.push(median(&v));
            lo.push(v.iter().copied().fold(f64::INFINITY, f64::min));
            hi.push(v.iter().copied().fold(0.0, f64::max));
        }
        if !x.is_empty() {
            top = hi.iter().copied().fold(top, f64::max);
            f = f.series(Series::line_markers(name, x, med).with_band(lo, hi));
        }
    }
    f
}

/// Each bound against the lower bound of the true constant, one point per instance.
fn bound_vs_true(main: &[&Instance]) -> Figure {
    let mut f = Figure::xy(
        "bound_vs_true",
        "Upper bounds against the true constant's lower end",
        "lower bound on L (largest gradient norm found)",
        "upper bound on L (one point per model, centre, ε)",
    );
    let lows: Vec<f64> = main.iter().map(|i| i.lower).collect();
    let (a, b) = (lows.iter().copied().fold(f64::INFINITY, f64::min), lows.iter().copied().fold(0.0, f64::max));
    if a.is_finite() && b > 0.0 {
        f = f.series(Series::dashed("bound = lower (exact)", vec![a, b], vec![a, b]));
    }
    let mut top: f64 = b;
    for (name, get) in methods() {
        let pts: Vec<(f64, f64)> = main.iter().map(|i| (i.lower, get(i))).filter(|p| p.1.is_finite()).collect();
        top = pts.iter().map(|p| p.1).fold(top, f64::max);
        f = f.series(Series::markers(name, pts.iter().map(|p| p.0).collect(), pts.iter().map(|p| p.1).collect()));
    }
    f
}

/// The BaB bracket against nodes on the tiny model at 0.5·1 for the two largest ε.
fn bab_trace(cfg: &Config, main: &[&Instance]) -> Figure {
    let mut f = Figure::xy(
        "bab_vs_nodes",
        "Branch-and-bound against the node count (centre 0.5·1)",
        "nodes evaluated",
        "bound on L",
    );
    let tiny = cfg.models.iter().position(|m| m == &[16, 16]).unwrap_or(0);
    let mut eps = cfg.eps.clone();
    eps.sort_by(f64::total_cmp);
    // Per ε: the two branch-and-bound traces in two colours, the lower bound dashed in the first.
    for (j, &e) in eps.iter().rev().take(2).enumerate() {
        if let Some(i) = main.iter().find(|i| i.model == tiny && i.point == 0 && i.eps == e) {
            let name = model_name(&cfg.models[tiny]);
            for (k, (kind, t)) in [("input boxes", &i.trace_input), ("units", &i.trace_neuron)].into_iter().enumerate()
            {
                let x: Vec<f64> = t.iter().map(|s| s.nodes as f64).collect();
                f = f.series(
                    Series::line_markers(
                        &format!("{name}, ε = {}: upper, BaB on {kind}", fmt_num(e)),
                        x.clone(),
                        t.iter().map(|s| s.upper).collect(),
                    )
                    .color(2 * j + k),
                );
            }
            let last = i.trace_input.iter().chain(&i.trace_neuron).map(|s| s.nodes).max().unwrap_or(1) as f64;
            f = f.series(
                Series::dashed(&format!("{name}, ε = {}: lower bound", fmt_num(e)), vec![1.0, last], vec![i.lower; 2])
                    .color(2 * j),
            );
        }
    }
    f
}

/// naive / ours against ε per model (median over centres).
fn vs_layer_norm(cfg: &Config, main: &[&Instance]) -> Figure {
    let mut f = Figure::xy(
        "vs_layer_norm",
        "Layer-norm product / bound against ε (median over centres)",
        "ε (ℓ∞ radius)",
        "layer-norm product / bound",
    );
    let mut top: f64 = 1.0;
    let mut eps = cfg.eps.clone();
    eps.sort_by(f64::total_cmp);
    for (m, hidden) in cfg.models.iter().enumerate() {
        for (what, get) in [("ours", (|i: &Instance| i.ours) as Getter), ("ours + BaB (units)", |i| i.bab_neuron)] {
            let (mut x, mut y) = (vec![], vec![]);
            for &e in &eps {
                let v: Vec<f64> =
                    main.iter().filter(|i| i.model == m && i.eps == e).map(|i| i.naive / get(i)).collect();
                if !v.is_empty() {
                    x.push(e);
                    y.push(median(&v));
                }
            }
            top = y.iter().copied().fold(top, f64::max);
            f = f.series(Series::line_markers(&format!("{}: {what}", model_name(hidden)), x, y));
        }
    }
    f
}
