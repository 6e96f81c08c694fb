//! The statistics of the claims, computed from `Results` (pure).
use crate::sso::LossKind;
use crate::{Config, Results, StochCell};
use serde::Serialize;

/// One row of the amortization table (T3).
#[derive(Clone, Debug, Serialize)]
pub struct T3Row {
    /// Problem.
    pub problem: String,
    /// Inner steps.
    pub m: usize,
    /// First outer step whose loss is at most GD's after T steps (`None`: never within T).
    pub steps: Option<usize>,
    /// `steps / T` (+∞ when never).
    pub ratio: f64,
}

/// One row of the rate table (T4).
#[derive(Clone, Debug, Serialize)]
pub struct T4Row {
    /// Problem.
    pub problem: String,
    /// Inner steps.
    pub m: usize,
    /// max_T T·min_{t<T}‖∇ℓ_t‖² / ((2λ/η)(ℓ_0 − ℓ_T)).
    pub ratio: f64,
    /// The spec's statistic: max/min over T ∈ [20, T_max] of T·min_{t<T}‖∇ℓ_t‖².
    pub spread: f64,
}

/// One (loss, batch, seed) comparison of T5.
#[derive(Clone, Debug, Serialize)]
pub struct T5Row {
    /// Loss.
    pub loss: LossKind,
    /// Batch.
    pub batch: usize,
    /// Seed.
    pub rep: usize,
    /// SSO's best log10 η (by the seed mean of the final loss).
    pub sso_log10_rate: f64,
    /// SGD's best log10 learning rate.
    pub sgd_log10_rate: f64,
    /// SSO's final training loss at that η.
    pub sso: f64,
    /// SGD's final training loss at that rate.
    pub sgd: f64,
}

/// All claim statistics.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// (problem, max_t |ℓ_MM(t) − ℓ_GD(t)|) at m = 1.
    pub t2: Vec<(String, f64)>,
    /// T3 rows.
    pub t3: Vec<T3Row>,
    /// T4 rows.
    pub t4: Vec<T4Row>,
    /// T5 rows.
    pub t5: Vec<T5Row>,
    /// The best log10 rate per (loss, batch, method), by the seed mean of the final loss.
    pub best: Vec<(LossKind, usize, String, f64)>,
}

/// First index with `loss[t] <= target`.
pub fn first_reaching(loss: &[f64], target: f64) -> Option<usize> {
    loss.iter().position(|&l| l <= target)
}

/// `max_T T·min_{t<T} g_t / ((2λ/η)(ℓ_0 − ℓ_T))` over T = 1..len−1, and the spec's spread.
pub fn rate_stats(loss: &[f64], grad2: &[f64], lambda: f64, eta: f64, t_min_spread: usize) -> (f64, f64) {
    let mut run_min = f64::INFINITY;
    let mut worst: f64 = 0.0;
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for t in 1..loss.len() {
        run_min = run_min.min(grad2[t - 1]);
        let lhs = t as f64 * run_min;
        let rhs = 2.0 * lambda / eta * (loss[0] - loss[t]);
        worst = worst.max(if rhs > 0.0 {
            lhs / rhs
        } else if lhs > 0.0 {
            f64::INFINITY
        } else {
            0.0
        });
        if t >= t_min_spread {
            lo = lo.min(lhs);
            hi = hi.max(lhs);
        }
    }
    (worst, if lo > 0.0 { hi / lo } else { f64::INFINITY })
}

fn final_loss(c: &StochCell) -> f64 {
    *c.losses.last().unwrap_or(&f64::INFINITY)
}

/// The statistics of every claim.
pub fn summarize(cfg: &Config, r: &Results) -> Summary {
    let mut s = Summary::default();
    for f in &r.full_batch {
        if let Some((_, m1)) = f.mm.iter().find(|(m, _)| *m == 1) {
            let d = m1.loss.iter().zip(&f.gd.loss).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            let d = if m1.loss.len() == f.gd.loss.len() { d } else { f64::INFINITY };
            s.t2.push((f.problem.clone(), d));
        }
        let t_max = f.gd.loss.len() - 1;
        let target = f.gd.loss[t_max];
        for (m, tr) in &f.mm {
            let steps = first_reaching(&tr.loss, target);
            let ratio = steps.map_or(f64::INFINITY, |t| t as f64 / t_max as f64);
            s.t3.push(T3Row { problem: f.problem.clone(), m: *m, steps, ratio });
            let (ratio, spread) = rate_stats(&tr.loss, &tr.grad2, f.lambda, f.eta, 20.min(t_max));
            s.t4.push(T4Row { problem: f.problem.clone(), m: *m, ratio, spread });
        }
    }
    let m_cmp = format!("sso-m{}", cfg.t3_m);
    for loss in [LossKind::Bce, LossKind::Mse] {
        for &batch in &cfg.batches {
            let cells: Vec<&StochCell> = r.stochastic.iter().filter(|c| c.loss == loss && c.batch == batch).collect();
            let mut methods: Vec<String> = cells.iter().map(|c| c.method.clone()).collect();
            methods.dedup();
            methods.sort();
            methods.dedup();
            for method in methods {
                let mut best = (f64::NAN, f64::INFINITY);
                for &rate in &cfg.log10_rates {
                    let v: Vec<f64> = cells
                        .iter()
                        .filter(|c| c.method == method && c.log10_rate == rate)
                        .map(|c| final_loss(c))
                        .collect();
                    if v.is_empty() {
                        continue;
                    }
                    let mean = v.iter().sum::<f64>() / v.len() as f64;
                    if mean < best.1 || best.0.is_nan() && mean.is_finite() {
                        best = (rate, mean);
                    }
                }
                s.best.push((loss, batch, method, best.0));
            }
            let best_of = |m: &str| s.best.iter().find(|b| b.0 == loss && b.1 == batch && b.2 == m).map(|b| b.3);
            let (Some(rs), Some(rg)) = (best_of(&m_cmp), best_of("sgd")) else { continue };
            for rep in 0..cfg.reps {
                let at = |m: &str, rate: f64| {
                    cells
                        .iter()
                        .find(|c| c.method == m && c.log10_rate == rate && c.rep == rep)
                        .map_or(f64::INFINITY, |c| final_loss(c))
                };
                s.t5.push(T5Row {
                    loss,
                    batch,
                    rep,
                    sso_log10_rate: rs,
                    sgd_log10_rate: rg,
                    sso: at(&m_cmp, rs),
                    sgd: at("sgd", rg),
                });
            }
        }
    }
    s
}
