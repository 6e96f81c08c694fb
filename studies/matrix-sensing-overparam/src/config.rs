//! The experiments' knobs (one struct per experiment of [`Config`]) and the config contract:
//! every key's range, the cross-key rules, and the memory and time a configuration needs.
use crate::Config;
use crate::runs::{self, Cell, Role};
use common::report::fmt_num;
use common::{BadInput, Checks, Estimate, Validate};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymConfig {
    /// Over-parameterised widths k > r of X (n × k).
    pub ks: Vec<usize>,
    /// Initialisation scales α (X0 entries i.i.d. N(0, α²)).
    pub alphas: Vec<f64>,
    /// Iterations of the k > r runs.
    pub steps: u64,
    /// Iterations allowed to the k = r runs.
    pub exact_steps: u64,
    /// The log-log slope is fitted on [slope_from·T, T].
    pub slope_from: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactConfig {
    /// Widths k > r for the population (A = I) runs.
    pub ks: Vec<usize>,
    pub alpha: f64,
    pub steps: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsymConfig {
    /// Width k > r of F, G (n × k).
    pub k: usize,
    /// Initialisation scales whose rates enter the exponent fit (F0 ~ N(0, α²), G0 ~ N(0, α²/9)).
    pub alphas: Vec<f64>,
    /// Further scales shown in the figures and table only (the rate saturates at large α).
    pub extra_alphas: Vec<f64>,
    /// Step budget of each run.
    pub max_steps: u64,
    /// The linear rate is fitted where the error lies in [window_lo, window_hi].
    pub window_lo: f64,
    pub window_hi: f64,
    /// Scales of the exact-parameterisation (k = r) asymmetric runs.
    pub exact_alphas: Vec<f64>,
    pub exact_steps: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceConfig {
    pub k: usize,
    pub alpha: f64,
    /// Iterations of the balanced run (its slope is fitted on [sym.slope_from·T, T]).
    pub steps: u64,
    /// Step budget of the imbalanced run (it stops at `floor`; a seed whose imbalance is small on
    /// the redundant directions converges linearly but slowly, so the budget covers that tail).
    pub imbalanced_steps: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneStepConfig {
    /// Scales for the modified runs (k = asym.k).
    pub alphas: Vec<f64>,
    /// The modification is applied at the first iteration with error below this.
    pub trigger: f64,
    pub max_steps: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// Standard deviation of the measurement noise (0 switches the experiment off).
    pub std: f64,
    pub alpha: f64,
    pub steps: u64,
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let (n, r) = (self.n, self.r());
        let steps = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let lmax = self.spectrum.iter().copied().fold(0.0, f64::max);
        let mut c = Checks::new();
        // Upper bounds >= 10x the full profile; the memory estimate bounds n and m together.
        c.size("n", n, 2, 2000)
            .reals("spectrum", &self.spectrum, 1e-6, 100.0)
            .rule(r < n, format!("`spectrum` has {r} entries: accepted a rank r = 1..=n-1 = {}", n.saturating_sub(1)))
            .size("m", self.m, 1, 1_000_000)
            .real("eta", self.eta, 1e-6, 1.0)
            .rule(
                self.eta * lmax <= 0.5,
                format!(
                    "`eta` · max(spectrum) = {}: accepted at most 0.5 (a larger step oscillates or diverges near M*)",
                    fmt_num(self.eta * lmax)
                ),
            )
            .size("reps", self.reps, 1, 1000)
            .real("floor", self.floor, 0.0, 1.0);
        let over = |c: &mut Checks, key: &str, ks: &[usize]| {
            c.sizes(key, ks, r + 1, n.max(r + 1));
        };
        over(&mut c, "sym.ks", &self.sym.ks);
        c.reals("sym.alphas", &self.sym.alphas, 1e-6, 1.0)
            .size("sym.steps", steps(self.sym.steps), 1, 10_000_000)
            .size("sym.exact_steps", steps(self.sym.exact_steps), 1, 10_000_000)
            .real("sym.slope_from", self.sym.slope_from, 0.0, 0.99);
        over(&mut c, "fact.ks", &self.fact.ks);
        c.real("fact.alpha", self.fact.alpha, 1e-6, 1.0).size("fact.steps", steps(self.fact.steps), 1, 10_000_000);
        let a = &self.asym;
        over(&mut c, "asym.k", &[a.k]);
        c.reals("asym.alphas", &a.alphas, 1e-6, 1.0)
            .increasing("asym.alphas", &a.alphas)
            .rule(a.alphas.len() >= 2, "`asym.alphas` needs at least two scales to fit an exponent (claim C2)")
            .rule(
                a.extra_alphas.len() <= 1000
                    && a.extra_alphas.iter().all(|x| x.is_finite() && (1e-6..=1.0).contains(x)),
                "`asym.extra_alphas`: accepted a list (possibly empty) of finite numbers in [1e-6, 1]",
            )
            .size("asym.max_steps", steps(a.max_steps), 1, 10_000_000)
            .real("asym.window_lo", a.window_lo, 1e-300, 1.0)
            .real("asym.window_hi", a.window_hi, 1e-300, 1.0)
            .rule(a.window_lo < a.window_hi, "`asym.window_lo` must be below `asym.window_hi`")
            .reals("asym.exact_alphas", &a.exact_alphas, 1e-6, 1.0)
            .size("asym.exact_steps", steps(a.exact_steps), 1, 10_000_000);
        over(&mut c, "balance.k", &[self.balance.k]);
        c.real("balance.alpha", self.balance.alpha, 1e-6, 1.0)
            .size("balance.steps", steps(self.balance.steps), 1, 10_000_000)
            .size("balance.imbalanced_steps", steps(self.balance.imbalanced_steps), 1, 10_000_000)
            .reals("onestep.alphas", &self.onestep.alphas, 1e-6, 1.0)
            .positive("onestep.trigger", self.onestep.trigger, 1.0)
            .size("onestep.max_steps", steps(self.onestep.max_steps), 1, 10_000_000)
            .real("noise.std", self.noise.std, 0.0, 10.0)
            .real("noise.alpha", self.noise.alpha, 1e-6, 1.0)
            .size("noise.steps", steps(self.noise.steps), 1, 10_000_000);
        c.finish()
    }

    /// Memory: every replicate keeps its operators (symmetric and general, and their noisy copies):
    /// the Gram matrix AᵀA (n⁴) when n² <= 2m, else the rows of A (m·n²); building one also holds
    /// the Gaussian draw and the symmetrised copy (2·m·n²) and the Gram product. Time: every run
    /// to its step budget at one operator product per step (n⁴ or 2·m·n² multiply-adds, plus the
    /// n²·k of the factors), at about 1e10 per second on 2 cores.
    fn estimate(&self) -> Estimate {
        let (n, m) = (self.n as f64, self.m as f64);
        let nn = n * n;
        let op = if nn <= 2.0 * m { nn * nn } else { m * nn };
        let ops = if self.noise.std > 0.0 { 4.0 } else { 2.0 };
        let bytes = 8.0 * (self.reps as f64 * ops * (op + 2.0 * nn) + 2.0 * m * nn + nn * nn);
        let cost = |c: &Cell| {
            let per_step = if matches!(c.role, Role::Fact | Role::AsymPop) { 0.0 } else { op } + 4.0 * nn * c.k as f64;
            c.steps as f64 * per_step
        };
        let flops: f64 = runs::cells(self).iter().map(cost).sum();
        Estimate::bytes(bytes).seconds(flops / 1e10)
    }
}
