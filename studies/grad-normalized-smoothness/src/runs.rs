//! One cell of each experiment: build the problem, run every method on it, keep the traces.

use crate::Config;
use crate::methods::{GdTrace, GnsOptions, GnsTrace, Metric, Stop, Variant, gns, gradient_method};
use crate::problems::{Equations, Hess, LogSumExp, Logistic, PowerEquations, Problem};
use anyhow::Result;
use common::data::{Shipped, load_shipped};
use ndarray::Array1;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One method on one problem instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// Method label.
    pub method: String,
    /// f* of the instance.
    pub f_star: f64,
    /// The GNS trace (Algorithm 1), if the method is GNS.
    pub gns: Option<GnsTrace>,
    /// The gradient-method trace, if the method is the gradient method.
    pub gd: Option<GdTrace>,
}

impl Run {
    /// Iterations until the stopping rule held (None: not within the cap).
    pub fn reached(&self) -> Option<usize> {
        self.gns.as_ref().map_or_else(|| self.gd.as_ref().and_then(|t| t.reached), |t| t.reached)
    }
    /// Iterations run.
    pub fn iters_run(&self) -> usize {
        match (&self.gns, &self.gd) {
            (Some(t), _) => t.f.len() - 1,
            (_, Some(t)) => t.iters,
            _ => 0,
        }
    }
    /// Factorizations (0 for the gradient method).
    pub fn factorizations(&self) -> u64 {
        self.gns.as_ref().and_then(|t| t.factorizations.last().copied()).unwrap_or(0)
    }
    /// Modelled flops of the whole run.
    pub fn flops(&self) -> f64 {
        match (&self.gns, &self.gd) {
            (Some(t), _) => t.flops.last().copied().unwrap_or(0.0),
            (_, Some(t)) => t.flops.last().copied().unwrap_or(0.0),
            _ => 0.0,
        }
    }
    /// f − f* at the last iterate.
    pub fn final_gap(&self) -> f64 {
        match (&self.gns, &self.gd) {
            (Some(t), _) => t.f.last().copied().unwrap_or(f64::NAN) - self.f_star,
            (_, Some(t)) => t.f_last - self.f_star,
            _ => f64::NAN,
        }
    }
    /// (k, f_k − f*, flops_k) along the (possibly thinned) trace.
    pub fn curve(&self) -> Vec<(f64, f64, f64)> {
        match (&self.gns, &self.gd) {
            (Some(t), _) => {
                t.f.iter().zip(&t.flops).enumerate().map(|(k, (f, w))| (k as f64, f - self.f_star, *w)).collect()
            }
            (_, Some(t)) => {
                t.k.iter().zip(t.f.iter().zip(&t.flops)).map(|(&k, (f, w))| (k as f64, f - self.f_star, *w)).collect()
            }
            _ => vec![],
        }
    }
}

/// Method labels.
pub const GNS_EXACT: &str = "GNS exact";
/// Weighted Gauss–Newton.
pub const GNS_WGN: &str = "GNS weighted GN";
/// B-metric gradient method ("Gauss–Newton" in the repo's notebook legend).
pub const GM_B: &str = "GM B-metric";
/// Euclidean gradient method.
pub const GM_EUCLID: &str = "GM Euclidean";
/// Logistic: fixed quadratic bound.
pub const GNS_BOUND: &str = "GNS bound XᵀX/4n+λI";
/// Logistic: diagonal.
pub const GNS_DIAG: &str = "GNS diagonal";
/// (1/p)‖u‖^p: the theory approximation.
pub const GNS_GN: &str = "GNS Gauss-Newton+Fisher";
/// (1/p)‖u‖^p: Fisher rank-one term.
pub const GNS_FISHER: &str = "GNS Fisher rank-one";

fn opts(cfg: &Config, hess: Hess, max_iters: usize, stop: Stop, variant: Variant) -> GnsOptions {
    GnsOptions { hess, gamma0: cfg.gamma0, gamma_min: cfg.gamma_min, eps: 1e-8, max_iters, stop, variant }
}

fn gns_run(p: &dyn Problem, metric: &Metric, x0: &Array1<f64>, o: &GnsOptions, f_star: f64, label: &str) -> Run {
    Run { method: label.into(), f_star, gns: Some(gns(p, metric, x0, o)), gd: None }
}

fn gd_run(
    p: &dyn Problem,
    metric: &Metric,
    x0: &Array1<f64>,
    iters: usize,
    stop: Stop,
    f_star: f64,
    label: &str,
) -> Run {
    Run { method: label.into(), f_star, gns: None, gd: Some(gradient_method(p, metric, x0, iters, stop)) }
}

/// P1: LogSumExp at smoothing μ: GNS exact, GNS weighted GN, the gradient method in the B-metric
/// and in the Euclidean metric, from x0 = 1 with B = MᵀM.
pub fn logsumexp_cell(cfg: &Config, mu: f64, seed: common::Seed, variant: Variant) -> Result<Vec<Run>> {
    let p = LogSumExp::random(cfg.n, cfg.m, mu, seed);
    let f_star = p.f_star();
    let metric = Metric::dense(p.metric.clone())?;
    let x0 = Array1::ones(cfg.n);
    let stop = Stop::Gap { f_star, tol: cfg.tol };
    let mut runs = vec![];
    for (h, label) in [(Hess::Exact, GNS_EXACT), (Hess::WeightedGn, GNS_WGN)] {
        runs.push(gns_run(&p, &metric, &x0, &opts(cfg, h, cfg.gns_max_iters, stop, variant), f_star, label));
    }
    runs.push(gd_run(&p, &metric, &x0, cfg.gd_max_iters, stop, f_star, GM_B));
    runs.push(gd_run(&p, &Metric::Identity, &x0, cfg.gd_max_iters, stop, f_star, GM_EUCLID));
    Ok(runs)
}

/// P2: logistic regression on the shipped breast-cancer set (standardized, with intercept), B = I,
/// stopping at ‖∇f‖ < tol; f* from Newton's method.
pub fn logistic_runs(cfg: &Config) -> Result<Vec<Run>> {
    let data = load_shipped(Shipped::BreastCancer)?.standardize();
    let y = Array1::from(data.y.clone());
    let p = Logistic::new(&data.x, y, cfg.logistic_l2);
    let (f_star, _) = p.newton_optimum(cfg.newton_steps);
    let x0 = Array1::zeros(p.dim());
    let stop = Stop::Grad { tol: cfg.tol };
    let mut runs = vec![];
    for (h, label) in [(Hess::Exact, GNS_EXACT), (Hess::Bound, GNS_BOUND), (Hess::Diagonal, GNS_DIAG)] {
        runs.push(gns_run(
            &p,
            &Metric::Identity,
            &x0,
            &opts(cfg, h, cfg.nonconvex_max_iters, stop, Variant::Paper),
            f_star,
            label,
        ));
    }
    runs.push(gd_run(&p, &Metric::Identity, &x0, cfg.gd_max_iters, stop, f_star, GM_EUCLID));
    Ok(runs)
}

/// The three (1/p)‖u‖^p problems.
pub const POWER_PROBLEMS: [&str; 3] = ["rosenbrock", "chebyshev", "equations"];

/// P3: (1/p)‖u(x)‖^p (f* = 0), B = I: GNS with the exact Hessian, the Gauss–Newton + Fisher
/// approximation and the Fisher rank-one term alone (Sherman–Morrison), and the Euclidean gradient
/// method. Rosenbrock: p = `rosen_p`, x0 = (−2, 2). Chebyshev: d = `cheb_d`, p = 4, x0 ~ U(0, 1)^d.
/// Linear equations: A (eq_m × eq_n) and b with N(0, 1) entries, p = 4, x0 = 0.
pub fn power_cell(cfg: &Config, which: &str, seed: common::Seed) -> Result<Vec<Run>> {
    let (p, x0) = match which {
        "rosenbrock" => (PowerEquations { eq: Equations::Rosenbrock, p: cfg.rosen_p }, Array1::from(vec![-2.0, 2.0])),
        "chebyshev" => {
            let mut rng = seed.child("x0").rng();
            let x0 = Array1::from_shape_fn(cfg.cheb_d, |_| rng.random_range(0.0..1.0));
            (PowerEquations { eq: Equations::Chebyshev(cfg.cheb_d), p: 4.0 }, x0)
        }
        "equations" => {
            let mut rng = seed.child("A").rng();
            let a = common::rng::gaussian_mat(&mut rng, cfg.eq_m, cfg.eq_n, 1.0);
            let b: Array1<f64> = common::rng::gaussian_mat(&mut rng, cfg.eq_m, 1, 1.0).column(0).to_owned();
            (PowerEquations { eq: Equations::Linear { a, b }, p: 4.0 }, Array1::zeros(cfg.eq_n))
        }
        other => anyhow::bail!("unknown problem {other}"),
    };
    let stop = Stop::Gap { f_star: 0.0, tol: cfg.tol };
    let mut runs = vec![];
    for (h, label) in [(Hess::Exact, GNS_EXACT), (Hess::GaussNewton, GNS_GN), (Hess::Fisher, GNS_FISHER)] {
        runs.push(gns_run(
            &p,
            &Metric::Identity,
            &x0,
            &opts(cfg, h, cfg.nonconvex_max_iters, stop, Variant::Paper),
            0.0,
            label,
        ));
    }
    runs.push(gd_run(&p, &Metric::Identity, &x0, cfg.gd_max_iters, stop, 0.0, GM_EUCLID));
    Ok(runs)
}
