//! The report's figures, from `Results` (and the closed forms of `theory`).
use crate::tables::{DirectRow, SweepRow, setting};
use crate::{Config, OneLayerRun, theory};
use common::report::Style;
use common::{Figure, Outcome, Series};

fn rows(g: &[f64], d: usize) -> Vec<Vec<f64>> {
    g.chunks(d).map(<[f64]>::to_vec).collect()
}

/// Every figure: the learned matrices, the sweep against n, training losses, risk against depth.
pub fn all(cfg: &Config, first: [&OneLayerRun; 3], sweep: &[SweepRow], direct: &[DirectRow], o: &mut Outcome) {
    let d = cfg.d;
    let eta = theory::eta_star(cfg.n, d, cfg.sigma);
    let gamma_relu = theory::gamma_star_relu(cfg.n, d, cfg.sigma);
    let [iso, aniso, relu] = first;
    let aniso_gs: Vec<f64> = aniso.gamma.iter().enumerate().map(|(i, v)| v * cfg.aniso_eigs[i % d]).collect();
    o.figure(
        Figure::heatmap("gamma_isotropic", &format!("Learned Γ, isotropic (η* = {eta:.3})"), rows(&iso.gamma, d))
            .z_label("Γ_ij"),
    );
    o.figure(
        Figure::heatmap("gamma_anisotropic", "Learned Γ, anisotropic (theory η*Σ⁻¹)", rows(&aniso.gamma, d))
            .z_label("Γ_ij"),
    );
    o.figure(
        Figure::heatmap(
            "gamma_sigma_anisotropic",
            &format!("Learned ΓΣ, anisotropic (theory η*I, η* = {eta:.3})"),
            rows(&aniso_gs, d),
        )
        .z_label("(ΓΣ)_ij"),
    );
    o.figure(
        Figure::heatmap(
            "gamma_relu",
            &format!("Learned Γ, ReLU-network targets (γ* = {gamma_relu:.3})"),
            rows(&relu.gamma, d),
        )
        .z_label("Γ_ij"),
    );
    let (fe, fr) = versus_n(cfg, sweep);
    o.figure(fe);
    o.figure(fr);
    let mut fl =
        Figure::xy("training_loss", "Training loss (full batch, first repetition)", "Adam step", "mean squared error")
            .log_y();
    for (i, x) in first.iter().enumerate() {
        let name = setting(x.cell.kind);
        let steps = x.curve.step.iter().map(|&s| s as f64).collect();
        // Each setting's theoretical optimum dashed in the setting's colour.
        let opt = x.cell.risk_star();
        fl = fl.series(Series::line(name, steps, x.curve.loss.clone()).color(i)).series(
            Series::dashed(&format!("{name} optimum (theory)"), vec![0.0, cfg.adam.steps as f64], vec![opt, opt])
                .color(i),
        );
    }
    o.figure(fl);
    if cfg.direct.layers.len() > 1 {
        let mut f = Figure::xy(
            "risk_vs_layers",
            "Directly trained LSA: ICL risk vs depth",
            "context points n",
            "held-out risk",
        )
        .log_y();
        for &l in &cfg.direct.layers {
            let runs: Vec<&DirectRow> = direct.iter().filter(|x| x.layers == l).collect();
            f = f.series(Series::line_markers(
                &format!("{l}-layer LSA"),
                runs.iter().map(|x| x.n as f64).collect(),
                runs.iter().map(|x| x.risk_lsa).collect(),
            ));
        }
        let ns: Vec<f64> = cfg.direct.n.iter().map(|&v| v as f64).collect();
        let opt = cfg.direct.n.iter().map(|&v| theory::risk_opt(v, d, cfg.sigma)).collect();
        o.figure(f.series(Series::dashed("one GD step, η* (theory)", ns, opt)));
    }
}

/// The sweep: learned step and ICL risk against n, with the closed forms on every integer n.
fn versus_n(cfg: &Config, sweep: &[SweepRow]) -> (Figure, Figure) {
    let mut fe =
        Figure::xy("eta_vs_n", "Learned step size vs context length", "context points n", "mean diagonal of Γ");
    let mut fr = Figure::xy("risk_vs_n", "ICL risk vs context length", "context points n", "held-out risk").log_y();
    let (nmin, nmax) = (cfg.sweep.n[0], cfg.sweep.n[cfg.sweep.n.len() - 1]);
    let grid: Vec<usize> = (nmin..=nmax).collect();
    let gx: Vec<f64> = grid.iter().map(|&v| v as f64).collect();
    for &sd in &cfg.sweep.d {
        for &ss in &cfg.sweep.sigma {
            let lab = if cfg.sweep.d.len() * cfg.sweep.sigma.len() > 1 {
                format!(" (d={sd}, σ={ss})")
            } else {
                String::new()
            };
            let pts: Vec<&SweepRow> = sweep.iter().filter(|s| s.d == sd && s.sigma == ss).collect();
            let xs: Vec<f64> = pts.iter().map(|s| s.n as f64).collect();
            let curve = |f: &dyn Fn(usize) -> f64| grid.iter().map(|&v| f(v)).collect::<Vec<f64>>();
            fe = fe
                .series(Series::dashed(
                    &format!("η* = n/(n+d+1+σ²){lab}"),
                    gx.clone(),
                    curve(&|v| theory::eta_star(v, sd, ss)),
                ))
                .series(Series::markers(
                    &format!("trained LSA{lab}"),
                    xs.clone(),
                    pts.iter().map(|s| s.eta_learned).collect(),
                ));
            fr = fr
                .series(Series::line(
                    &format!("one GD step, η* (theory){lab}"),
                    gx.clone(),
                    curve(&|v| theory::risk_opt(v, sd, ss)),
                ))
                .series(Series::dashed(
                    &format!("one GD step, η = 1 (theory){lab}"),
                    gx.clone(),
                    curve(&|v| theory::risk_gd(1.0, v, sd, ss)),
                ))
                .series(Series::markers(
                    &format!("trained LSA{lab}"),
                    xs.clone(),
                    pts.iter().map(|s| s.risk_lsa).collect(),
                ))
                .series(Series {
                    style: Style::LineMarkers,
                    ..Series::line(
                        &format!("ridge / Bayes (MC){lab}"),
                        xs,
                        pts.iter().map(|s| s.risk_ridge_mc).collect(),
                    )
                });
        }
    }
    (fe, fr)
}
