//! The study's figures: loss along the interpolation, predicted vs measured midpoint excess, barrier
//! vs spawn epoch, and the Taylor error against the segment scale.

use common::report::fmt_num;
use common::{Figure, Series};

use crate::{Config, Pair, Results};

fn pairs_of(r: &Results) -> Vec<(usize, &Pair)> {
    r.reps.iter().flat_map(|(c, ps)| ps.iter().map(move |p| (c.rep(), p))).collect()
}

fn label(p: &Pair) -> String {
    match p.kind.as_str() {
        "spawn" => format!("spawned at k = {}", p.k),
        "independent" => "independent inits".into(),
        _ => "independent, weight-matched".into(),
    }
}

/// Every figure, in report order.
pub fn all(cfg: &Config, r: &Results) -> Vec<Figure> {
    let pairs = pairs_of(r);
    let grid = cfg.grid();

    // Loss along the path (rep 0).
    let mut path = Figure::xy("path", "Training loss along θ_A + s(θ_B − θ_A) (rep 0)", "s", "training loss").wide();
    for (i, (_, p)) in pairs.iter().filter(|(rep, _)| *rep == 0).enumerate() {
        path = path.series(Series::line_markers(&label(p), grid.clone(), p.whole.path.clone()).color(i));
    }

    // Predicted vs measured midpoint excess.
    let mut sc = Figure::xy(
        "taylor_scatter",
        "Midpoint excess: −⅛ΔᵀH(m)Δ vs measured (whole network and per layer)",
        "predicted −⅛ΔᵀH(m)Δ",
        "measured L(m) − ½(L_A + L_B)",
    );
    let spawned: Vec<&Pair> = pairs.iter().filter(|(_, p)| p.kind == "spawn").map(|(_, p)| *p).collect();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut push = |fig: Figure, name: &str, pts: Vec<(f64, f64)>, slot: usize| -> Figure {
        for &(x, y) in &pts {
            lo = lo.min(x).min(y);
            hi = hi.max(x).max(y);
        }
        fig.series(
            Series::markers(name, pts.iter().map(|p| p.0).collect(), pts.iter().map(|p| p.1).collect()).color(slot),
        )
    };
    sc = push(sc, "spawned, whole network", spawned.iter().map(|p| (p.whole.pred_mid, p.whole.measured)).collect(), 0);
    let nl = spawned.first().map_or(0, |p| p.layers.len());
    for l in 0..nl {
        let pts = spawned.iter().map(|p| (p.layers[l].pred_mid, p.layers[l].measured)).collect();
        sc = push(sc, &format!("spawned, layer {}", l + 1), pts, l + 1);
    }
    sc = push(
        sc,
        "spawned, whole, endpoint Hessians",
        spawned.iter().map(|p| (p.whole.pred_end, p.whole.measured)).collect(),
        nl + 1,
    );
    if lo.is_finite() {
        sc = sc.series(Series::reference("y = x", vec![lo, hi], vec![lo, hi]));
    }

    // Barrier vs spawn epoch.
    let mut bk =
        Figure::xy("barrier_vs_k", "Barrier of the whole-network path vs spawn epoch k", "spawn epoch k", "barrier");
    let pts: Vec<(f64, f64)> = spawned.iter().map(|p| (p.k as f64, p.whole.barrier)).collect();
    bk = bk.series(Series::markers(
        "spawned pairs (each repetition)",
        pts.iter().map(|p| p.0).collect(),
        pts.iter().map(|p| p.1).collect(),
    ));
    let kmax = *cfg.spawn.last().expect("spawn") as f64;
    let ind: Vec<f64> = pairs.iter().filter(|(_, p)| p.kind == "independent").map(|(_, p)| p.whole.barrier).collect();
    let mat: Vec<f64> = pairs.iter().filter(|(_, p)| p.kind == "matched").map(|(_, p)| p.whole.barrier).collect();
    if !ind.is_empty() {
        bk = bk.series(Series::hline(
            &format!("independent inits (mean {})", fmt_num(common::stats::mean(&ind))),
            common::stats::mean(&ind),
            0.0,
            kmax.max(1.0),
        ));
        bk = bk.series(
            Series::dashed(
                &format!("after weight matching (mean {})", fmt_num(common::stats::mean(&mat))),
                vec![0.0, kmax.max(1.0)],
                vec![common::stats::mean(&mat); 2],
            )
            .color(2),
        );
    }

    // Taylor error vs scale (rep 0, spawned pairs): midpoint Hessian (quartic) and end Hessian (cubic).
    let mut te = Figure::xy(
        "taylor_error",
        "Error of the second-order midpoint estimate on segments m ± tΔ/2 (rep 0)",
        "segment scale t",
        "|measured − predicted|",
    )
    .log_x()
    .log_y();
    let rep0: Vec<&Pair> = pairs.iter().filter(|(rep, p)| *rep == 0 && p.kind == "spawn").map(|(_, p)| *p).collect();
    let mut slot = 0;
    let mut anchor = None;
    for p in &rep0 {
        let t: Vec<f64> = p.scaling.iter().map(|s| s.t).collect();
        let em: Vec<f64> = p.scaling.iter().map(|s| s.err_mid.abs().max(1e-300)).collect();
        anchor = anchor.or(em.last().copied());
        te = te.series(Series::line_markers(&format!("H(m), k = {}", p.k), t, em).color(slot));
        slot += 1;
    }
    if let Some(p) = rep0.last() {
        let t: Vec<f64> = p.scaling.iter().map(|s| s.t).collect();
        let ea: Vec<f64> = p.scaling.iter().map(|s| s.err_end_a.abs().max(1e-300)).collect();
        te = te.series(Series::line_markers(&format!("H at segment end, k = {}", p.k), t, ea).color(slot));
    }
    if let (Some(a), Some(p)) = (anchor, rep0.first()) {
        let t: Vec<f64> = p.scaling.iter().map(|s| s.t).collect();
        let last = *t.last().expect("scales");
        te = te.series(Series::reference("∝ t⁴", t.clone(), t.iter().map(|x| a * (x / last).powi(4)).collect()));
    }
    vec![path, sc, bk, te]
}
