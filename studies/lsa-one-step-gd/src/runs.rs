//! One training run per grid cell: a one-layer LSA trained through its sufficient statistics and
//! evaluated on held-out prompts against GD, preconditioned GD and ridge ([`run_cell`]), or an LSA
//! trained directly on fresh prompts ([`run_direct`]). The cell structs serialize exactly as they
//! always have: their JSON seeds the runs.
use crate::moments::{OneLayer, Stats};
use crate::task::{Kind, Task};
use crate::train::{self, Direct};
use crate::{Config, eval, theory};
use anyhow::Result;
use common::Seed;
use serde::{Deserialize, Serialize};

/// One one-layer training run (grid `one-layer`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub kind: Kind,
    pub d: usize,
    pub n: usize,
    pub sigma: f64,
    pub rep: usize,
    /// Training prompts.
    pub prompts: usize,
}

/// The held-out predictors of a one-layer run, in the order of its `risks`.
pub fn predictor_names(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Iso => &["lsa", "gd_opt", "gd_1", "gd_half", "ridge"],
        Kind::Aniso => &["lsa", "pgd_opt", "gd_opt", "ridge"],
        Kind::Relu => &["lsa", "gd_opt", "gd_linear_eta"],
    }
}

/// `x · I` (row-major `d × d`).
pub fn identity_times(d: usize, x: f64) -> Vec<f64> {
    (0..d * d).map(|i| if i % (d + 1) == 0 { x } else { 0.0 }).collect()
}

impl Cell {
    pub fn task(&self, cfg: &Config) -> Task {
        Task {
            kind: self.kind,
            d: self.d,
            n: self.n,
            sigma: self.sigma,
            eigs: if self.kind == Kind::Aniso { cfg.aniso_eigs.clone() } else { vec![] },
            width: cfg.relu_width,
        }
    }
    /// The theory's step size (η* or γ*).
    pub fn step(&self) -> f64 {
        match self.kind {
            Kind::Iso | Kind::Aniso => theory::eta_star(self.n, self.d, self.sigma),
            Kind::Relu => theory::gamma_star_relu(self.n, self.d, self.sigma),
        }
    }
    /// The theory's optimal `Γ`.
    pub fn gamma_star(&self, cfg: &Config) -> Vec<f64> {
        match self.kind {
            Kind::Aniso => theory::preconditioner(&cfg.aniso_eigs, self.n, self.sigma),
            _ => identity_times(self.d, self.step()),
        }
    }
    /// The theory's optimal risk.
    pub fn risk_star(&self) -> f64 {
        match self.kind {
            Kind::Iso | Kind::Aniso => theory::risk_opt(self.n, self.d, self.sigma),
            Kind::Relu => theory::risk_relu_gd(self.step(), self.n, self.d, self.sigma),
        }
    }
}

/// The main cells of `kind`, one per repetition.
pub fn main_cells(cfg: &Config, kind: Kind) -> Vec<Cell> {
    (0..cfg.seeds)
        .map(|rep| Cell { kind, d: cfg.d, n: cfg.n, sigma: cfg.sigma, rep, prompts: cfg.train_prompts })
        .collect()
}

/// The sweep's cells in (d, σ, n) order.
pub fn sweep_cells(cfg: &Config) -> Vec<Cell> {
    let s = &cfg.sweep;
    let mut out = vec![];
    for &d in &s.d {
        for &sigma in &s.sigma {
            for &n in &s.n {
                out.push(Cell { kind: Kind::Iso, d, n, sigma, rep: 0, prompts: s.train_prompts });
            }
        }
    }
    out
}

/// What a one-layer run gives (the grid's cached cell result).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CellOut {
    /// Learned `Γ`, row-major `d × d`.
    pub gamma: Vec<f64>,
    pub non_gd: f64,
    pub fit: train::Fit,
    /// Held-out risks of the predictors of [`predictor_names`], on the same prompts.
    pub risks: Vec<f64>,
}

pub fn run_cell(cfg: &Config, cell: &Cell, seed: Seed) -> Result<CellOut> {
    let task = cell.task(cfg);
    let (d, n) = (cell.d, cell.n);
    let layer = OneLayer::new(d);
    let stats = Stats::collect(&task, &layer, cell.prompts, seed.child("train"));
    let fit = train::fit_one_layer(&stats, &layer, &cfg.adam, seed);
    let q = layer.coeffs(&fit.theta);
    let gamma = layer.gamma(&fit.theta);
    let non_gd = layer.non_gd(&fit.theta);
    let step = cell.step();
    let gamma_star = cell.gamma_star(cfg);
    let prec: Vec<f64> = if cell.kind == Kind::Aniso { cfg.aniso_eigs.clone() } else { vec![1.0; d] };
    let eta_lin = theory::eta_star(n, d, cell.sigma);
    let k = predictor_names(cell.kind).len();
    let risks = eval::held_out(&task, cfg.eval_prompts, seed.child("eval"), k, |p, out, scratch| {
        scratch.resize(q.len() + d, 0.0);
        let (phi, h) = scratch.split_at_mut(q.len());
        layer.features(p, n, phi);
        out[0] = phi.iter().zip(&q).map(|(a, b)| a * b).sum();
        // h = (1/n) Σ y_i x_i once per prompt; every GD predictor is η·x_qᵀh.
        p.h_into(d, n, h);
        match cell.kind {
            Kind::Iso => {
                out[1] = eval::gd_h(p, d, h, step);
                out[2] = eval::gd_h(p, d, h, 1.0);
                out[3] = eval::gd_h(p, d, h, step / 2.0);
                out[4] = eval::ridge(p, d, n, cell.sigma, &prec);
            }
            Kind::Aniso => {
                out[1] = eval::precond_gd_h(p, d, h, &gamma_star);
                out[2] = eval::gd_h(p, d, h, step);
                out[3] = eval::ridge(p, d, n, cell.sigma, &prec);
            }
            Kind::Relu => {
                out[1] = eval::gd_h(p, d, h, step);
                out[2] = eval::gd_h(p, d, h, eta_lin);
            }
        }
    });
    Ok(CellOut { gamma, non_gd, fit, risks })
}

/// One directly trained LSA (grid `direct`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectCell {
    pub layers: usize,
    pub d: usize,
    pub n: usize,
    pub sigma: f64,
}

/// What a direct run gives (the grid's cached cell result).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DirectOut {
    pub fit: train::Fit,
    /// Held-out risks of the trained LSA, one GD step with η*, and ridge (Bayes).
    pub risks: Vec<f64>,
    /// `Γ` for one layer (empty otherwise).
    pub gamma: Vec<f64>,
}

pub fn run_direct(cfg: &Config, cell: &DirectCell, seed: Seed) -> Result<DirectOut> {
    let task = Task { kind: Kind::Iso, d: cell.d, n: cell.n, sigma: cell.sigma, eigs: vec![], width: 0 };
    let model = Direct::new(cell.d, cell.n, cell.layers);
    let fit = train::fit_direct(&task, &model, cfg.direct.batch, &cfg.direct.adam, seed);
    let (d, n) = (cell.d, cell.n);
    let eta = theory::eta_star(n, d, cell.sigma);
    let ones = vec![1.0; d];
    let risks = eval::held_out(&task, cfg.direct.eval_prompts, seed.child("eval"), 3, |p, out, _| {
        out[0] = model.predict(&fit.theta, p);
        out[1] = eval::gd(p, d, n, eta);
        out[2] = eval::ridge(p, d, n, cell.sigma, &ones);
    });
    let gamma = if cell.layers == 1 { OneLayer::new(d).gamma(&fit.theta) } else { vec![] };
    Ok(DirectOut { fit, risks, gamma })
}

/// Peak memory of the largest live arrays (and a rough time on 2 cores) of a run of `cfg`.
pub fn estimate(cfg: &Config) -> common::Estimate {
    // Features p = (d+1)(d+2)/2 · d (as `OneLayer::num_features`), in f64 for hostile sizes.
    let p = |d: usize| (d as f64 + 1.0) * (d as f64 + 2.0) / 2.0 * d as f64;
    let dims = || std::iter::once(cfg.d).chain(cfg.sweep.d.iter().copied());
    let (n, m) = (cfg.n.max(cfg.sweep.n[cfg.sweep.n.len() - 1]) as f64, cfg.relu_width as f64);
    // One-layer cell: A (faer and ndarray copies, p² each), two groups of chunks of features in
    // flight (rows × p each, rows = clamp(2^22/p, 64, 4096)), a prompt and a ReLU teacher per
    // evaluation thread.
    let pmax = dims().map(p).fold(0.0, f64::max);
    let dmax = dims().max().unwrap_or(1) as f64;
    let chunk = (4_194_304.0f64 / pmax).clamp(64.0, 4096.0) * pmax;
    let threads = std::thread::available_parallelism().map_or(2.0, |t| t.get() as f64);
    let prompt = (n + 1.0) * (dmax + 1.0) + m * (dmax + 1.0);
    let in_flight = 2.0 * crate::moments::chunks_in_flight() as f64;
    let one_layer = 2.0 * pmax * pmax + in_flight * chunk + threads * (prompt + pmax);
    // Direct cell: a minibatch part of 64 packed prompts per thread, the model's activations.
    let nd = cfg.direct.n[cfg.direct.n.len() - 1] as f64;
    let direct = threads * 64.0 * 4.0 * (nd + 1.0) * (cfg.d as f64 + 1.0);
    let cells = (3 * cfg.seeds + cfg.sweep.d.len() * cfg.sweep.n.len() * cfg.sweep.sigma.len()) as f64;
    let jobs = threads.min(cells);
    // Results: Γ, a loss curve and risks per run.
    let kept = cells * (dmax * dmax + 300.0) + (cfg.direct.layers.len() * cfg.direct.n.len()) as f64 * dmax * dmax;
    // Time (calibrated on the quick profile, ~30 s of CPU): normals at ~1.3e8/s, the rank-p update
    // and Adam's O(p²) steps at ~1e10 flop/s, scalar loops at ~1e9/s.
    let prompt_cost = |d: f64, n: f64, relu: bool| {
        let normals = (n + 1.0) * (d + 1.0) + d + if relu { m * (d + 1.0) } else { 0.0 };
        normals / 1.3e8 + (n * d * d + if relu { (n + 1.0) * m * d } else { 0.0 }) / 1e9
    };
    let mut secs = 0.0;
    let (d0, n0) = (cfg.d as f64, cfg.n as f64);
    for relu in [false, false, true] {
        let per = prompt_cost(d0, n0, relu) + p(cfg.d) * p(cfg.d) / 1e10;
        secs +=
            cfg.seeds as f64 * (cfg.train_prompts as f64 * per + cfg.eval_prompts as f64 * prompt_cost(d0, n0, relu));
        secs += cfg.seeds as f64 * cfg.adam.steps as f64 * 3.0 * p(cfg.d) * p(cfg.d) / 1e10;
    }
    for &d in &cfg.sweep.d {
        for &nn in &cfg.sweep.n {
            let (df, nf) = (d as f64, nn as f64);
            let per = prompt_cost(df, nf, false) + p(d) * p(d) / 1e10;
            let cost = cfg.sweep.train_prompts as f64 * per
                + cfg.eval_prompts as f64 * prompt_cost(df, nf, false)
                + cfg.adam.steps as f64 * 3.0 * p(d) * p(d) / 1e10;
            secs += cost * cfg.sweep.sigma.len() as f64;
        }
    }
    for &l in &cfg.direct.layers {
        for &nn in &cfg.direct.n {
            let nf = nn as f64;
            let model = 4.0 * l as f64 * nf * (d0 + 1.0) * (d0 + 1.0) / 1e9;
            secs += cfg.direct.adam.steps as f64 * cfg.direct.batch as f64 * (prompt_cost(d0, nf, false) + model);
            secs += cfg.direct.eval_prompts as f64 * (prompt_cost(d0, nf, false) + model);
        }
    }
    common::Estimate::f64s(jobs * one_layer.max(direct) + kept).seconds(secs / 2.0)
}
