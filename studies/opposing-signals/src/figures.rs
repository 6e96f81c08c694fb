//! The study's figures: sharpness against the step with the 2/η line; the group losses L_A, L_B,
//! L_rest zoomed on the oscillation; the histogram of |Δℓ_i| with the groups coloured.
use common::report::fmt_num;
use common::{Figure, Outcome, Series};

use crate::toy::{GROUP_A, GROUP_B, REST};
use crate::{Config, Results};

/// Adds every figure to `out`, in report order.
pub fn all(out: &mut Outcome, cfg: &Config, r: &Results) {
    let eos = 2.0 / cfg.eta;

    // Sharpness vs step, one curve per (amplitude, seed), with the 2/η line.
    let mut sh = Figure::xy("sharpness", "Sharpness λ_max of the training loss under GD", "step", "λ_max").wide();
    let amps = &cfg.amplitudes;
    for (c, run) in r.runs.iter() {
        let slot = amps.iter().position(|&a| a == run.amplitude).unwrap_or(0);
        let label = match c.rep() {
            0 => format!("A = {} (seed 0)", fmt_num(run.amplitude)),
            1 => format!("A = {} (other seeds)", fmt_num(run.amplitude)),
            _ => String::new(),
        };
        let (x, y) = (run.sharpness.iter().map(|p| p.0 as f64).collect(), run.sharpness.iter().map(|p| p.1).collect());
        sh =
            sh.series(if c.rep() == 0 { Series::line(&label, x, y) } else { Series::dashed(&label, x, y) }.color(slot));
    }
    sh = sh.series(Series::hline("2/η", eos, 0.0, cfg.steps as f64));
    out.figure(sh);

    // Group losses zoomed on the last `zoom` steps, seed 0, each amplitude.
    for (_, run) in r.runs.filter(|c| c.rep() == 0) {
        let from = cfg.steps.saturating_sub(cfg.zoom);
        let idx: Vec<usize> = (0..run.trace_steps.len()).filter(|&i| run.trace_steps[i] >= from).collect();
        let xs: Vec<f64> = idx.iter().map(|&i| run.trace_steps[i] as f64).collect();
        let pick = |v: &[f64]| idx.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let name = format!("group_losses_a{}", fmt_num(run.amplitude).replace('.', "p"));
        let fig = Figure::xy(
            &name,
            &format!("Group losses over the last {} steps, A = {} (seed 0)", cfg.zoom, fmt_num(run.amplitude)),
            "step",
            "mean loss ½(f − y)²",
        )
        .log_y()
        .series(Series::line_markers("L_A (group A, y = +1)", xs.clone(), pick(&run.loss_a)).color(0))
        .series(Series::line_markers("L_B (group B, y = −1)", xs.clone(), pick(&run.loss_b)).color(1))
        .series(Series::line("L_rest", xs, pick(&run.loss_rest)).color(2));
        out.figure(fig);
    }

    // Histogram of |Δℓ_i| at the last step, A > 0, seed 0: each group's share per log-spaced bin.
    if let Some((_, run)) = r.runs.filter(|c| c.rep() == 0).filter(|(_, run)| run.amplitude > 0.0).last()
        && !run.last_dl.is_empty()
    {
        let pos: Vec<f64> = run.last_dl.iter().copied().filter(|v| *v > 0.0 && v.is_finite()).collect();
        if !pos.is_empty() {
            let (lo, hi) = (common::stats::min(&pos).log10().floor(), common::stats::max(&pos).log10().ceil());
            let bins = (((hi - lo) * 4.0) as usize).max(1);
            let width = (hi - lo) / bins as f64;
            let centers: Vec<f64> = (0..bins).map(|b| 10f64.powf(lo + (b as f64 + 0.5) * width)).collect();
            let count = |g: u8| -> Vec<f64> {
                let mut c = vec![0.0; bins];
                let size = run.group.iter().filter(|&&x| x == g).count().max(1) as f64;
                for (v, gi) in run.last_dl.iter().zip(&run.group) {
                    if *gi == g && *v > 0.0 && v.is_finite() {
                        let b = (((v.log10() - lo) / width) as usize).min(bins - 1);
                        c[b] += 1.0 / size;
                    }
                }
                c
            };
            let fig = Figure::xy(
                "dl_histogram",
                &format!("|ℓ_i(t) − ℓ_i(t − 1)| at the last step, A = {} (seed 0)", fmt_num(run.amplitude)),
                "|Δℓ_i| (bin centre)",
                "share of the group's points",
            )
            .log_x()
            .series(Series::line_markers("rest", centers.clone(), count(REST)).color(2))
            .series(Series::line_markers("group A", centers.clone(), count(GROUP_A)).color(0))
            .series(Series::line_markers("group B", centers, count(GROUP_B)).color(1));
            out.figure(fig);
        }
    }
}
