//! Seed aggregation and scores: the per-α summary of the simulated cells next to the MP theory on
//! the same checkpoints (computed in `measure`), and the statistics the claims read (in `report`).
use crate::Config;
use crate::sim::CellResult;
use crate::theory::{self, MpQuad};
use common::F64;
use common::report::json_f64;
use common::stats::mean_se;
use serde::{Deserialize, Serialize};

/// A seed mean and its standard error.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Stat {
    #[serde(with = "json_f64")]
    pub mean: f64,
    #[serde(with = "json_f64")]
    pub se: f64,
}

impl From<(f64, f64)> for Stat {
    fn from((mean, se): (f64, f64)) -> Self {
        Stat { mean, se }
    }
}

/// Seed-aggregated curves of one (α, σ₀) at the checkpoints, with the MP theory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Curves {
    #[serde(with = "json_f64::vec")]
    pub test: Vec<f64>,
    #[serde(with = "json_f64::vec")]
    pub test_se: Vec<f64>,
    #[serde(with = "json_f64::vec")]
    pub train: Vec<f64>,
    #[serde(with = "json_f64::vec")]
    pub train_se: Vec<f64>,
    /// Seed mean of the expectation given each data set's eigenvalues.
    #[serde(with = "json_f64::vec")]
    pub expected: Vec<f64>,
    /// Variance of the seed mean of E_g given every data set's eigenvalues (exact: Σ_d Var_d / S²).
    #[serde(with = "json_f64::vec")]
    pub expected_var: Vec<f64>,
    #[serde(with = "json_f64::vec")]
    pub mp_test: Vec<f64>,
    #[serde(with = "json_f64::vec")]
    pub mp_train: Vec<f64>,
}

/// Everything measured at one α.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlphaSummary {
    pub alpha: f64,
    /// Examples P = round(αN).
    pub p: usize,
    /// Step η = lr_scale/λ₊(α).
    pub eta: f64,
    /// Per σ₀.
    pub curves: Vec<Curves>,
    /// Per σ₀: the k → ∞ test error.
    pub test_inf: Vec<Stat>,
    /// Per σ₀: seed mean (± SE over data sets) of the expectation of the k → ∞ test error given
    /// each data set's eigenvalues.
    pub inf_expected: Vec<Stat>,
    /// Per σ₀: variance of the seed mean of the k → ∞ test error given the eigenvalues.
    #[serde(with = "json_f64::vec")]
    pub inf_cond_var: Vec<f64>,
    /// Per σ₀: dE_g(∞)/dσ₀² from antithetic pairs (0 ± 0 at σ₀ = 0).
    pub slope: Vec<Stat>,
    /// Per σ₀: seed mean of the k → ∞ training error.
    #[serde(with = "json_f64::vec")]
    pub train_inf: Vec<f64>,
    /// Bayes ridge, simulated and MP.
    pub ridge: Stat,
    #[serde(with = "json_f64")]
    pub mp_ridge: f64,
    /// SE over seeds of E_g(∞) − E_g(t*) (paired: the teacher's norm cancels), σ₀ = 0.
    #[serde(with = "json_f64")]
    pub overtraining_se: f64,
    /// Over the coordinate runs (None: none ran).
    pub gd_vs_modes: Option<F64>,
    /// Over the coordinate runs with P < N (None: P ≥ N).
    pub frozen_motion: Option<F64>,
    /// Pooled eigenvalue counts per histogram bin.
    #[serde(with = "json_f64::vec")]
    pub hist: Vec<f64>,
    /// Seed means of the extreme nonzero eigenvalues.
    #[serde(with = "json_f64")]
    pub lambda_min: f64,
    #[serde(with = "json_f64")]
    pub lambda_max: f64,
}

impl AlphaSummary {
    /// (index of the best checkpoint, its mean test error) for run `r`.
    pub fn best(&self, r: usize) -> (usize, f64) {
        argmin(&self.curves[r].test)
    }
    /// E_g(∞) − min_t E_g(t), seed means, run `r`.
    pub fn overtraining(&self, r: usize) -> f64 {
        self.test_inf[r].mean - self.best(r).1
    }
}

/// (index, value) of the smallest entry (the first on ties; NaN never wins).
pub fn argmin(v: &[f64]) -> (usize, f64) {
    v.iter().enumerate().fold((0, f64::INFINITY), |b, (i, &x)| if x < b.1 { (i, x) } else { b })
}

/// Aggregate the cells of one α over seeds, and put the MP theory on the same checkpoints.
pub fn summarise(cfg: &Config, alpha: f64, cells: &[&CellResult], ks: &[u64]) -> AlphaSummary {
    let eta = cfg.eta(alpha);
    let q = MpQuad::new(alpha, cfg.quad_nodes);
    let nk = ks.len();
    let column = |f: &dyn Fn(&CellResult) -> f64| -> Vec<f64> { cells.iter().map(|c| f(c)).collect() };
    let mut curves = vec![];
    let mut test_inf = vec![];
    let mut slope = vec![];
    let mut train_inf = vec![];
    let (mut inf_expected, mut inf_cond_var) = (vec![], vec![]);
    for (r, &s0) in cfg.init_stds.iter().enumerate() {
        let stat = |get: &dyn Fn(&CellResult, usize) -> f64| -> (Vec<f64>, Vec<f64>) {
            (0..nk).map(|i| mean_se(&column(&|c| get(c, i)))).unzip()
        };
        let (test, test_se) = stat(&|c, i| c.runs[r].test[i]);
        let (train, train_se) = stat(&|c, i| c.runs[r].train[i]);
        let (expected, _) = stat(&|c, i| c.runs[r].expected_test[i]);
        let s2 = (cells.len() as f64).powi(2);
        let expected_var =
            (0..nk).map(|i| column(&|c| c.runs[r].expected_test_var[i]).iter().sum::<f64>() / s2).collect();
        let p = cfg.noise(s0);
        let mp_test = ks.iter().map(|&k| theory::test_error(&q, eta, k, p)).collect();
        let mp_train = ks.iter().map(|&k| theory::train_error(&q, eta, k, p)).collect();
        curves.push(Curves { test, test_se, train, train_se, expected, expected_var, mp_test, mp_train });
        test_inf.push(mean_se(&column(&|c| c.runs[r].test_inf)).into());
        inf_expected.push(mean_se(&column(&|c| c.runs[r].expected_inf)).into());
        inf_cond_var.push(column(&|c| c.runs[r].expected_inf_var).iter().sum::<f64>() / s2);
        // dE_g(∞)/dσ₀², antithetic: the mean of ±w0 cancels the w̄·w0 cross term exactly.
        slope.push(
            if s0 > 0.0 {
                mean_se(&column(&|c| {
                    (0.5 * (c.runs[r].test_inf + c.runs[r].test_inf_antithetic) - c.runs[0].test_inf) / (s0 * s0)
                }))
            } else {
                (0.0, 0.0)
            }
            .into(),
        );
        train_inf.push(mean_se(&column(&|c| c.runs[r].train_inf)).0);
    }
    let k_best = argmin(&curves[0].test).0;
    let overtraining_se = mean_se(&column(&|c| c.runs[0].test_inf - c.runs[0].test[k_best])).1;
    let mut hist = vec![0.0; cfg.hist_bins];
    for c in cells {
        for (h, &n) in hist.iter_mut().zip(&c.hist) {
            *h += n as f64;
        }
    }
    AlphaSummary {
        alpha,
        p: cfg.examples(alpha),
        eta,
        curves,
        test_inf,
        inf_expected,
        inf_cond_var,
        slope,
        train_inf,
        ridge: mean_se(&column(&|c| c.ridge_test)).into(),
        mp_ridge: theory::ridge_error(&q, cfg.teacher_var, cfg.noise_var),
        overtraining_se,
        gd_vs_modes: cells.iter().filter_map(|c| c.gd_vs_modes).reduce(f64::max).map(F64),
        frozen_motion: cells.iter().filter_map(|c| c.frozen_motion).reduce(f64::max).map(F64),
        hist,
        lambda_min: mean_se(&column(&|c| c.lambda_min)).0,
        lambda_max: mean_se(&column(&|c| c.lambda_max)).0,
    }
}

/// One point of the theory's overtraining curve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TheoryPoint {
    pub alpha: f64,
    /// E_g(∞) (MP limit).
    #[serde(with = "json_f64")]
    pub inf: f64,
    /// min over the checkpoints of the MP test error.
    #[serde(with = "json_f64")]
    pub best: f64,
    /// inf − best.
    #[serde(with = "json_f64")]
    pub overtraining: f64,
}

/// The theory's overtraining E_g(∞) − min_k E_g(k) on a log grid of α in [0.2, 5] (α = 1
/// itself is left out: the asymptote is infinite there).
pub fn theory_overtraining(cfg: &Config, ks: &[u64]) -> Vec<TheoryPoint> {
    let p = cfg.noise(0.0);
    let m = cfg.theory_alphas.max(3);
    (0..m)
        .map(|i| 0.2f64 * 25f64.powf(i as f64 / (m - 1) as f64))
        .filter(|a| (a - 1.0).abs() > 1e-3)
        .map(|a| {
            let q = MpQuad::new(a, cfg.quad_nodes);
            let eta = cfg.eta(a);
            let best = ks.iter().map(|&k| theory::test_error(&q, eta, k, p)).fold(f64::INFINITY, f64::min);
            let inf = theory::test_error_inf(a, p);
            TheoryPoint { alpha: a, inf, best, overtraining: inf - best }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Scores (report side)

/// α counts as "near 1" when |ln α| is below this (0.8 ≤ α ≤ 1.25 on the quick grid). There the
/// late-time test error at finite N is dominated by the few smallest eigenvalues (heavy-tailed
/// 1/λ_min across data sets; the finite-N mean differs from the MP limit by ≈ 10% at N = 200), so
/// 50-seed means and their standard errors are not reliable enough to gate on.
pub const NEAR_ONE_LOG_ALPHA: f64 = 0.4;

/// Whether `alpha` is near 1 (see [`NEAR_ONE_LOG_ALPHA`]).
pub fn near_one(alpha: f64) -> bool {
    alpha.ln().abs() < NEAR_ONE_LOG_ALPHA
}

/// What the C1 scores measure.
pub const SCORE: &str = "score = max over checkpoints of |sim − MP| / (3·SE + 0.02·|MP| + 0.002·E(0))";

/// Largest deviation between simulated means and the MP curve, in units of the tolerance
/// 3·SE + 2%·|MP| + 0.2%·E(0) (see the README for the reasons of each term); and the largest
/// relative deviation where |MP| > 1% of E(0).
pub fn mp_score(sim: &[f64], se: &[f64], mp: &[f64], e0: f64) -> (f64, f64) {
    let mut score = 0.0f64;
    let mut rel = 0.0f64;
    for ((&s, &e), &t) in sim.iter().zip(se).zip(mp) {
        score = score.max((s - t).abs() / (3.0 * e + 0.02 * t.abs() + 0.002 * e0));
        if t.abs() > 0.01 * e0 {
            rel = rel.max((s - t).abs() / t.abs());
        }
    }
    (score, rel)
}

/// Worst `mp_score` over the runs of one α, restricted to checkpoints `keep(run, index)`.
pub fn alpha_score(cfg: &Config, s: &AlphaSummary, train: bool, keep: &dyn Fn(usize, usize) -> bool) -> (f64, f64) {
    let mut score = 0.0f64;
    let mut rel = 0.0f64;
    for (r, (c, &s0)) in s.curves.iter().zip(&cfg.init_stds).enumerate() {
        let e0 = cfg.teacher_var + s0 * s0 + cfg.noise_var;
        let idx: Vec<usize> = (0..c.test.len()).filter(|&i| keep(r, i)).collect();
        let pick = |v: &[f64]| -> Vec<f64> { idx.iter().map(|&i| v[i]).collect() };
        let (sc, re) = if train {
            mp_score(&pick(&c.train), &pick(&c.train_se), &pick(&c.mp_train), e0)
        } else {
            mp_score(&pick(&c.test), &pick(&c.test_se), &pick(&c.mp_test), e0)
        };
        score = score.max(sc);
        rel = rel.max(re);
    }
    (score, rel)
}

/// Worst score over a list of α (MP theory vs simulation, test or training error, checkpoints
/// `keep(summary, run, index)`), with one line per α for the detail.
pub fn per_alpha(
    cfg: &Config,
    list: &[&AlphaSummary],
    train: bool,
    keep: &dyn Fn(&AlphaSummary, usize, usize) -> bool,
) -> (f64, String) {
    let mut worst = 0.0f64;
    let mut detail = vec![];
    for s in list {
        let (sc, rel) = alpha_score(cfg, s, train, &|r, i| keep(s, r, i));
        worst = worst.max(sc);
        detail.push(format!(
            "α={}: score {}, max rel. dev. {:.1}%",
            common::report::fmt_num(s.alpha),
            common::report::fmt_num(sc),
            100.0 * rel
        ));
    }
    (worst, detail.join("; "))
}

/// Where a seed mean `mean` of E_g lies in its exact distribution given the eigenvalues, as a
/// normal deviate. Given the eigenvalues, Q = N(E_g − σ²) summed over data sets is Σ_j v_j χ²_j, a
/// weighted sum of independent χ²₁ with mean `expected` − σ² and variance `var` (per seed mean);
/// it is matched to c·χ²_ν (Satterthwaite: ν = 2(expected − σ²)²/var) and χ²_ν to a normal by the
/// Wilson-Hilferty cube root. Far from α = 1 ν is in the thousands and this is (mean − expected)/√var;
/// near α = 1 a few smallest eigenvalues carry most of the variance (ν down to ≈ 20), where the
/// plain z would read a skewed sum as if it were symmetric. NaN when undefined.
pub fn conditional_z(mean: f64, expected: f64, var: f64, noise: f64) -> f64 {
    let m = expected - noise;
    if !(m > 0.0 && var > 0.0) {
        return f64::NAN;
    }
    let q = ((mean - noise) / m).max(0.0);
    let h = var / (9.0 * m * m); // 2/(9ν)
    (q.cbrt() - (1.0 - h)) / h.sqrt()
}

/// Largest |z| of the seed-mean test error in its distribution given the eigenvalues
/// ([`conditional_z`]) over the curves and checkpoints of `list`, with where it is: (|z|, α, σ₀
/// index, checkpoint index, ν); NaN if any z is undefined.
pub fn zmax_conditional(list: &[&AlphaSummary], noise: f64) -> (f64, f64, usize, usize, f64) {
    let mut worst = (0.0f64, f64::NAN, 0, 0, f64::NAN);
    for s in list {
        for (r, c) in s.curves.iter().enumerate() {
            for (i, ((&m, &e), &v)) in c.test.iter().zip(&c.expected).zip(&c.expected_var).enumerate() {
                let z = conditional_z(m, e, v, noise).abs();
                if z.is_nan() {
                    return (f64::NAN, s.alpha, r, i, f64::NAN);
                }
                if z > worst.0 {
                    worst = (z, s.alpha, r, i, 2.0 * (e - noise).powi(2) / v);
                }
            }
        }
    }
    worst
}

/// Kolmogorov distance between the pooled eigenvalue histogram of one α and the MP CDF, at the
/// bin edges.
pub fn spectrum_distance(cfg: &Config, s: &AlphaSummary) -> f64 {
    let q = MpQuad::new(s.alpha, 100);
    let total: f64 = s.hist.iter().sum();
    let width = cfg.hist_max(s.alpha) / cfg.hist_bins as f64;
    let (mut cum, mut dist) = (0.0, 0.0f64);
    for (i, h) in s.hist.iter().enumerate() {
        cum += h / total;
        let f = (q.cdf((i + 1) as f64 * width) - theory::mp_zero_mass(s.alpha)) / s.alpha.min(1.0);
        dist = dist.max((cum - f).abs());
    }
    dist
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_z_is_a_normal_deviate() {
        // Many equal weights: the plain z.
        let z = conditional_z(1.0 + 0.2 + 3.0 * 0.01, 1.2, 1e-4, 0.2);
        assert!((z - 3.0).abs() < 0.05, "{z}");
        // One χ²_ν (weights 1, mean ν, variance 2ν): its 0.1% and 99.9% quantiles read ≈ ∓3.09.
        for (nu, lo, hi) in [(10.0, 1.479, 29.588), (40.0, 17.916, 73.402)] {
            let (zl, zh) = (conditional_z(lo, nu, 2.0 * nu, 0.0), conditional_z(hi, nu, 2.0 * nu, 0.0));
            assert!((zl + 3.09).abs() < 0.1 && (zh - 3.09).abs() < 0.05, "ν {nu}: {zl} {zh}");
        }
        assert!(conditional_z(1.0, 0.2, 1e-4, 0.2).is_nan() && conditional_z(1.0, 1.2, 0.0, 0.2).is_nan());
    }

    #[test]
    fn mp_score_units() {
        // a deviation of exactly 3 SE with zero MP value and zero floor scores 1
        let (s, _) = mp_score(&[3.0], &[1.0], &[0.0], 0.0);
        assert!((s - 1.0).abs() < 1e-12);
    }
}
