//! Experiment 3: the diagonal net and the two-layer ReLU net trained to interpolation by GD and
//! SGD over a sweep of η and B (one grid cell per run), the curvature and norms of the reached
//! minimum, and the per-(group, η) means the claims compare.
use crate::Config;
use crate::config::{ReluTrainCfg, SweepCfg};
use crate::diag::{self, DiagNet};
use crate::fit::{self, FitCfg, FitResult};
use crate::minima::diag_data;
use crate::relu;
use crate::stability::{BatchRule, Curvature, gn_trace};
use anyhow::Result;
use common::models::{Model, Targets};
use common::report::fmt_num;
use common::rng::Seed;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One training run of the sweep (the cell of the `training` grid; its JSON seeds the cell).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainCell {
    /// `diag` or `relu`.
    pub model: String,
    /// Diagonal net init scale (0 for ReLU).
    pub alpha: f64,
    /// `None`: GD.
    pub batch: Option<usize>,
    pub eta: f64,
    pub seed: usize,
}

impl TrainCell {
    /// `GD` or `SGD B=4`.
    pub fn algo(&self) -> String {
        match self.batch {
            None => "GD".into(),
            Some(b) => format!("SGD B={b}"),
        }
    }
    /// `diag α=0.5 SGD B=1`, `relu GD`.
    pub fn group(&self) -> String {
        if self.model == "diag" {
            format!("diag α={} {}", fmt_num(self.alpha), self.algo())
        } else {
            format!("relu {}", self.algo())
        }
    }
    /// `diag α=0.5 SGD B=1 η=0.01 s2`.
    pub fn label(&self) -> String {
        format!("{} η={} s{}", self.group(), fmt_num(self.eta), self.seed)
    }
}

/// What a run reached (curvature, norms and test error at converged runs only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainRun {
    pub cell: TrainCell,
    pub fit: FitResult,
    /// `Tr H` at the start `θ_0` (every run): `η·Tr H(θ_0)/(2B) > 1` means the start is already
    /// sharper than the trace bound allows, so a converged SGD run must have moved to flatter ground.
    pub trace_init: Option<f64>,
    pub trace: Option<f64>,
    pub lambda_max: Option<f64>,
    /// `η_ms` of the reached minimum for the run's own batch rule (GD: the full-batch threshold).
    pub eta_ms: Option<f64>,
    /// Diagonal net: ‖β‖₁; ReLU: path norm.
    pub norm: Option<f64>,
    /// Diagonal net: `4 min_j mean_i x_ij²` (the norm bound's constant).
    pub norm_const: Option<f64>,
    /// Diagonal net: ‖β − β*‖² (population MSE for x ~ N(0, I)); ReLU: test MSE.
    pub test_mse: Option<f64>,
}

/// `v` or NaN.
pub fn opt(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

impl TrainRun {
    fn new(cell: &TrainCell, fit: FitResult, trace_init: f64) -> Self {
        TrainRun {
            cell: cell.clone(),
            fit,
            trace_init: Some(trace_init),
            trace: None,
            lambda_max: None,
            eta_ms: None,
            norm: None,
            norm_const: None,
            test_mse: None,
        }
    }

    /// `Tr H`, `λ_max` and `η_ms` (for the run's own batch rule) at the reached minimum.
    fn measure_curvature(&mut self, cv: &Curvature, lanczos: usize, rng: &mut impl Rng) {
        let rule = match self.cell.batch {
            None => BatchRule::full(cv.n),
            Some(b) => BatchRule::with_replacement(b),
        };
        self.trace = Some(cv.trace());
        self.lambda_max = Some(cv.lambda_max());
        self.eta_ms = Some(cv.eta_ms(rule, lanczos, rng));
    }

    /// `η·Tr H/2` (the paper's B = 1 form).
    pub fn trace_ratio(&self) -> f64 {
        opt(self.trace) * self.cell.eta / 2.0
    }
    /// `η·Tr H(θ_0)/(2B)` at the start (B = 1 for GD).
    pub fn init_ratio_b(&self) -> f64 {
        opt(self.trace_init) * self.cell.eta / (2.0 * self.cell.batch.unwrap_or(1) as f64)
    }
    /// `η·Tr H/(2B)` (the batch form; B = 1 for GD).
    pub fn trace_ratio_b(&self) -> f64 {
        opt(self.trace) * self.cell.eta / (2.0 * self.cell.batch.unwrap_or(1) as f64)
    }
    /// `η·λ_max/2`.
    pub fn lmax_ratio(&self) -> f64 {
        opt(self.lambda_max) * self.cell.eta / 2.0
    }
    /// `η/η_ms`.
    pub fn stability(&self) -> f64 {
        self.cell.eta / opt(self.eta_ms)
    }
    /// `Tr H / (4‖β‖₁ min_j mean_i x_ij²)` (≥ 1 at interpolation, diagonal net).
    pub fn norm_bound(&self) -> f64 {
        opt(self.trace) / (opt(self.norm) * opt(self.norm_const))
    }
}

/// Every run of the sweep: the diagonal net per α, then the ReLU net; per algorithm (GD first),
/// η and seed.
pub fn sweep_cells(cfg: &Config) -> Vec<TrainCell> {
    let mut cells = cells_of("diag", &cfg.diag_train.alphas, &cfg.diag_train.sweep);
    cells.extend(cells_of("relu", &[0.0], &cfg.relu_train.sweep));
    cells
}

fn cells_of(model: &str, alphas: &[f64], s: &SweepCfg) -> Vec<TrainCell> {
    let mut algos: Vec<Option<usize>> = if s.gd { vec![None] } else { vec![] };
    algos.extend(s.sgd_batches.iter().map(|&b| Some(b)));
    let mut v = vec![];
    for &alpha in alphas {
        for &batch in &algos {
            for &eta in &s.etas {
                for seed in 0..s.seeds {
                    v.push(TrainCell { model: model.into(), alpha, batch, eta, seed });
                }
            }
        }
    }
    v
}

fn fit_cfg(s: &SweepCfg, c: &TrainCell) -> FitCfg {
    FitCfg {
        eta: c.eta,
        batch: c.batch,
        max_steps: s.max_steps,
        tol: s.tol,
        check_every: s.check_every,
        diverge_above: s.diverge_above,
    }
}

/// One run of either model.
pub fn train(cfg: &Config, c: &TrainCell, root: Seed, seed: Seed) -> Result<TrainRun> {
    if c.model == "diag" { train_diag(cfg, c, root, seed) } else { train_relu(cfg, c, root, seed) }
}

fn train_diag(cfg: &Config, c: &TrainCell, root: Seed, seed: Seed) -> Result<TrainRun> {
    let tc = &cfg.diag_train;
    let (x, y, beta_star) = diag_data(&mut root.child("diag_train").child_idx("data", c.seed as u64).rng(), &tc.data);
    let net = DiagNet::new(tc.data.d);
    let yt = Targets::scalar(y.as_slice().expect("contiguous"));
    let mut w = net.init(c.alpha);
    let trace_init = gn_trace(&net, w.view(), x.view());
    let res = fit::fit(&net, x.view(), &yt, &mut w, &fit_cfg(&tc.sweep, c), &mut seed.child("sgd").rng());
    let mut run = TrainRun::new(c, res, trace_init);
    if res.converged {
        let cv = Curvature::at(&net, w.view(), x.view());
        run.measure_curvature(&cv, cfg.lanczos_steps, &mut seed.child("lanczos").rng());
        let beta = net.beta(w.view());
        run.norm = Some(beta.iter().map(|b| b.abs()).sum());
        run.norm_const = Some(diag::norm_constant(x.view()));
        run.test_mse = Some((&beta - &beta_star).mapv(|e| e * e).sum());
    }
    Ok(run)
}

fn relu_split(cfg: &ReluTrainCfg, root: Seed, k: usize) -> Result<relu::Split> {
    let mut rng = root.child("relu_train").child_idx("data", k as u64).rng();
    match cfg.data.as_str() {
        "digits" => relu::digits_data(&mut rng, cfg.n, cfg.n_test),
        _ => Ok(relu::teacher_data(&mut rng, cfg.n, cfg.n_test, cfg.d, cfg.teacher_width)),
    }
}

fn train_relu(cfg: &Config, c: &TrainCell, root: Seed, seed: Seed) -> Result<TrainRun> {
    let rc = &cfg.relu_train;
    let data = relu_split(rc, root, c.seed)?;
    let mlp = relu::net(data.x.ncols(), rc.width);
    let yt = Targets::scalar(data.y.as_slice().expect("contiguous"));
    let mut w = mlp.init(&mut root.child("relu_train").child_idx("init", c.seed as u64).rng());
    let trace_init = gn_trace(&mlp, w.view(), data.x.view());
    let res = fit::fit(&mlp, data.x.view(), &yt, &mut w, &fit_cfg(&rc.sweep, c), &mut seed.child("sgd").rng());
    let mut run = TrainRun::new(c, res, trace_init);
    if res.converged {
        let cv = Curvature::at(&mlp, w.view(), data.x.view());
        run.measure_curvature(&cv, cfg.lanczos_steps, &mut seed.child("lanczos").rng());
        run.norm = Some(relu::path_norm(&mlp, w.view()));
        let yt_test = Targets::scalar(data.y_test.as_slice().expect("contiguous"));
        // The loss is 0.5·mean (f − y)²; report the plain mean squared error.
        run.test_mse = Some(2.0 * mlp.loss(w.view(), data.x_test.view(), &yt_test));
    }
    Ok(run)
}

/// One point of a sweep group: the mean of a field over the converged seeds at one η.
#[derive(Clone, Copy, Debug)]
pub struct EtaMean {
    pub eta: f64,
    pub mean: f64,
    pub converged: usize,
    pub runs: usize,
}

impl EtaMean {
    /// Every seed converged (and there was one).
    pub fn all_converged(&self) -> bool {
        self.converged == self.runs && self.converged > 0
    }
}

/// Mean over seeds of a field, per (group, η), for converged runs only; groups in order of first
/// appearance, η ascending.
pub fn group_means(runs: &[TrainRun], f: impl Fn(&TrainRun) -> Option<f64>) -> Vec<(String, Vec<EtaMean>)> {
    let mut groups: Vec<String> = vec![];
    for r in runs {
        let g = r.cell.group();
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let mut etas: Vec<f64> = runs.iter().filter(|r| r.cell.group() == g).map(|r| r.cell.eta).collect();
            etas.sort_by(|a, b| a.total_cmp(b));
            etas.dedup();
            let pts = etas
                .into_iter()
                .map(|eta| {
                    let at: Vec<&TrainRun> = runs.iter().filter(|r| r.cell.group() == g && r.cell.eta == eta).collect();
                    let vals: Vec<f64> = at.iter().filter(|r| r.fit.converged).filter_map(|r| f(r)).collect();
                    EtaMean { eta, mean: common::stats::mean(&vals), converged: vals.len(), runs: at.len() }
                })
                .collect();
            (g, pts)
        })
        .collect()
}

/// The points of one group (empty when the group did not run).
pub fn group<'a>(gm: &'a [(String, Vec<EtaMean>)], name: &str) -> &'a [EtaMean] {
    gm.iter().find(|(g, _)| g == name).map_or(&[], |(_, v)| v.as_slice())
}

/// SGD (B = 1) vs GD of the same model variant (`prefix`: `diag α=0.5 ` or `relu `): the mean of
/// a field at the largest η where SGD converged on every seed and GD converged too, as
/// `(η, SGD, GD)`.
pub fn sgd_vs_gd_at_largest_eta(gm: &[(String, Vec<EtaMean>)], prefix: &str) -> Option<(f64, f64, f64)> {
    let (s, g) = (group(gm, &format!("{prefix}SGD B=1")), group(gm, &format!("{prefix}GD")));
    s.iter()
        .filter(|p| p.all_converged())
        .filter_map(|p| g.iter().find(|q| q.eta == p.eta && q.converged > 0).map(|q| (p.eta, p.mean, q.mean)))
        .next_back()
}

/// The effect of η in every SGD group that converged on every seed at two η or more: the mean of
/// a field at the largest over the smallest such η, as `(group, η_lo, η_hi, lo, hi)`.
pub fn lr_effect(gm: &[(String, Vec<EtaMean>)]) -> Vec<(String, f64, f64, f64, f64)> {
    let mut out = vec![];
    for (g, pts) in gm.iter().filter(|(g, _)| g.contains("SGD")) {
        let ok: Vec<&EtaMean> = pts.iter().filter(|p| p.all_converged()).collect();
        if let [lo, .., hi] = ok.as_slice() {
            out.push((g.clone(), lo.eta, hi.eta, lo.mean, hi.mean));
        }
    }
    out
}

/// The smallest group mean over η where at least one seed converged (NaN when none).
pub fn best_mean(pts: &[EtaMean]) -> f64 {
    let v: Vec<f64> = pts.iter().filter(|p| p.converged > 0).map(|p| p.mean).collect();
    if v.is_empty() { f64::NAN } else { common::stats::min(&v) }
}

/// Claim items (a label and a value each) and the detail that supports them.
pub type Items = (Vec<(String, f64)>, String);

/// The model variants SGD and GD are compared on: the diagonal net at its smallest α, the ReLU net
/// (group-name prefixes).
pub fn variants(alphas: &[f64]) -> [String; 2] {
    [format!("diag α={} ", fmt_num(common::stats::min(alphas))), "relu ".to_string()]
}

/// SGD (B = 1) / GD mean Tr H of one variant (`diag α=0.5 ` or `relu `), at the largest η where
/// SGD converged on every seed and GD converged too (no item when there is no such η), with the
/// per-seed traces in the detail.
pub fn flatter_than_gd(runs: &[TrainRun], variant: &str) -> Items {
    let tr = group_means(runs, |r| r.trace);
    let Some((eta, s, g)) = sgd_vs_gd_at_largest_eta(&tr, variant) else {
        return (vec![], format!("{variant}: no η where SGD converged on every seed and GD converged"));
    };
    let per_seed = |algo: &str| {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| r.cell.group() == format!("{variant}{algo}") && r.cell.eta == eta && r.fit.converged)
            .map(|r| opt(r.trace))
            .collect();
        common::report::fmt_list(&v)
    };
    let detail = format!(
        "{variant}at η = {}: Tr {} (seeds {}) vs GD {} (seeds {})",
        fmt_num(eta),
        fmt_num(s),
        per_seed("SGD B=1"),
        fmt_num(g),
        per_seed("GD")
    );
    (vec![(format!("{variant}SGD B=1"), s / g)], detail)
}

/// Per SGD group: the mean of `f` at the largest / smallest η where every seed converged.
pub fn lr_effect_items(runs: &[TrainRun], f: impl Fn(&TrainRun) -> Option<f64>) -> Items {
    let eff = lr_effect(&group_means(runs, f));
    let items = eff.iter().map(|(g, _, _, m0, m1)| (g.clone(), m1 / m0)).collect();
    let parts: Vec<String> = eff
        .iter()
        .map(|(g, e0, e1, m0, m1)| {
            format!("{g}: η {} → {}: {} → {}", fmt_num(*e0), fmt_num(*e1), fmt_num(*m0), fmt_num(*m1))
        })
        .collect();
    (items, if parts.is_empty() { "no SGD group converged at two η".into() } else { parts.join("; ") })
}

/// Best mean test MSE of SGD (B = 1) / GD per variant (a variant where either never converged
/// gives no item).
pub fn generalization_vs_gd(runs: &[TrainRun], variants: &[String]) -> Items {
    let te = group_means(runs, |r| r.test_mse);
    let (mut items, mut detail) = (vec![], vec![]);
    for v in variants {
        let (s, g) = (best_mean(group(&te, &format!("{v}SGD B=1"))), best_mean(group(&te, &format!("{v}GD"))));
        if !(s / g).is_nan() {
            items.push((format!("{v}SGD B=1"), s / g));
        }
        detail.push(format!("{v}SGD B=1: {} vs GD {}", fmt_num(s), fmt_num(g)));
    }
    (items, detail.join("; "))
}

/// `"k of m runs converged"` among the runs `keep` selects.
pub fn converged_count(runs: &[TrainRun], keep: impl Fn(&TrainRun) -> bool) -> String {
    let sel: Vec<&TrainRun> = runs.iter().filter(|r| keep(r)).collect();
    format!("{} of {} runs converged", sel.iter().filter(|r| r.fit.converged).count(), sel.len())
}

/// The largest value of `f` over the converged runs `keep` selects (NaN when none).
pub fn max_over(runs: &[TrainRun], keep: impl Fn(&TrainRun) -> bool, f: impl Fn(&TrainRun) -> f64) -> f64 {
    let v: Vec<f64> = runs.iter().filter(|r| r.fit.converged && keep(r)).map(f).collect();
    if v.is_empty() { f64::NAN } else { common::stats::max(&v) }
}
