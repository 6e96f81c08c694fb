//! The parts of the configuration ([`crate::Config`] holds one of each), their range checks and
//! what each kind of sweep cell holds in memory (for [`crate::Config`]'s estimate).
use common::Checks;
use serde::{Deserialize, Serialize};

/// Diagonal-net regression data: `x ~ N(0, I_d)`, `y = ⟨β*, x⟩` with `β* = 1` on the first
/// `k_star` coordinates and 0 elsewhere (noiseless, `n < d`: many interpolating predictors).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagData {
    pub n: usize,
    pub d: usize,
    pub k_star: usize,
}

/// Experiment 1: thresholds at interpolating minima built in closed form.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdCfg {
    pub diag: DiagData,
    /// One diagonal-net instance per entry `s`: slack `γ_j = s·Exp(1)` (`u² − v² = β*` exactly).
    pub diag_slack: Vec<f64>,
    /// Two-layer ReLU instances: input dimension, hidden width (`width + 1 ≥ n`), samples and
    /// teacher width.
    pub relu_d: usize,
    pub relu_width: usize,
    pub relu_n: usize,
    pub relu_teacher_width: usize,
    /// One ReLU instance per entry: the hidden layer's scale (He init times this).
    pub relu_scales: Vec<f64>,
    /// Batch sizes (with replacement); `B = 1` and `B = n` are always included.
    pub batches: Vec<usize>,
    /// Bisection steps of the cross-check on `ρ(T_η)` (B = 1 and GD).
    pub bisect_steps: usize,
}

/// Experiment 2: linearized SGD around the experiment-1 minima.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicsCfg {
    /// η as multiples of η_ms(B).
    pub factors: Vec<f64>,
    pub batch: usize,
    pub seeds: usize,
    pub steps: usize,
    /// Record ‖δ_t‖² every this many steps.
    pub every: usize,
    /// The second moment measured against the map's prediction at the smallest factor: this many
    /// runs of `moment_steps` steps each.
    pub moment_runs: usize,
    pub moment_steps: usize,
}

/// The optimizer sweep shared by both training experiments.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepCfg {
    pub etas: Vec<f64>,
    /// Also run full-batch GD.
    pub gd: bool,
    /// SGD batch sizes (indices drawn with replacement).
    pub sgd_batches: Vec<usize>,
    pub seeds: usize,
    pub max_steps: usize,
    /// Converged: full training loss `0.5·mean (f − y)²` below this.
    pub tol: f64,
    pub check_every: usize,
    pub diverge_above: f64,
}

/// Experiment 3a: the diagonal linear net from `u = v = α·1`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagTrainCfg {
    pub data: DiagData,
    pub alphas: Vec<f64>,
    pub sweep: SweepCfg,
}

/// Experiment 3b: the two-layer ReLU net from He initialization.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReluTrainCfg {
    /// `teacher` (two-layer ReLU teacher, `d` inputs) or `digits` (the shipped 8x8 digits, ±1
    /// for 0-4 / 5-9; `d` is then 64).
    pub data: String,
    pub d: usize,
    pub width: usize,
    pub n: usize,
    pub teacher_width: usize,
    pub n_test: usize,
    pub sweep: SweepCfg,
}

/// Samples available in the shipped digits.
pub fn digits_available() -> usize {
    common::data::files::Shipped::Digits.shape().0
}

/// Most training runs a configuration may ask for (the full profile has 950).
pub const MAX_TRAIN_RUNS: usize = 20_000;
/// Most recorded checkpoints of one linearized-SGD run (`steps / every`; the full profile has 100).
pub const MAX_CHECKPOINTS: usize = 100_000;

/// A list of 1..=`max_len` finite numbers in `[lo, hi]` (one message when the length is wrong).
fn reals(c: &mut Checks, key: &str, v: &[f64], lo: f64, hi: f64, max_len: usize) {
    if v.is_empty() || v.len() > max_len {
        c.list(key, v, max_len);
    } else {
        c.reals(key, v, lo, hi);
    }
}

/// A list of 1..=`max_len` integers in `lo..=hi`.
fn sizes(c: &mut Checks, key: &str, v: &[usize], lo: usize, hi: usize, max_len: usize) {
    if v.is_empty() || v.len() > max_len {
        c.list(key, v, max_len);
    } else {
        c.sizes(key, v, lo, hi);
    }
}

impl DiagData {
    /// Ranges of `<key>.n`, `.d`, `.k_star`: `n` up to `max_n` (10x the full profile).
    pub fn check(&self, key: &str, max_n: usize, c: &mut Checks) {
        c.size(&format!("{key}.n"), self.n, 2, max_n).size(&format!("{key}.d"), self.d, 1, 20_000).size(
            &format!("{key}.k_star"),
            self.k_star,
            1,
            self.d.max(1),
        );
    }
}

impl ThresholdCfg {
    pub fn check(&self, c: &mut Checks) {
        self.diag.check("thresholds.diag", 400, c);
        reals(c, "thresholds.diag_slack", &self.diag_slack, 1e-4, 1e3, 100);
        reals(c, "thresholds.relu_scales", &self.relu_scales, 1e-2, 100.0, 100);
        let max_b = self.diag.n.min(self.relu_n).saturating_sub(1).max(1);
        sizes(c, "thresholds.batches", &self.batches, 1, max_b, 100);
        c.size("thresholds.relu_d", self.relu_d, 1, 1000)
            .size("thresholds.relu_width", self.relu_width, 1, 4000)
            .size("thresholds.relu_n", self.relu_n, 2, 400)
            .size("thresholds.relu_teacher_width", self.relu_teacher_width, 1, 1000)
            .rule(
                self.relu_width.saturating_add(1) >= self.relu_n,
                "`thresholds.relu_width` + 1 must be at least `thresholds.relu_n` (interpolation by construction)",
            )
            .size("thresholds.bisect_steps", self.bisect_steps, 1, 500);
    }
}

impl DynamicsCfg {
    pub fn check(&self, batches: &[usize], c: &mut Checks) {
        reals(c, "dynamics.factors", &self.factors, 1e-3, 20.0, 100);
        c.rule(
            self.factors.iter().any(|&f| f < 1.0) && self.factors.iter().any(|&f| f > 1.0),
            "`dynamics.factors` must hold a factor below 1 and one above 1 (claims C1-dynamics-*)",
        )
        .size("dynamics.batch", self.batch, 1, 1000)
        .rule(
            self.batch == 1 || batches.contains(&self.batch),
            "`dynamics.batch` must be 1 or one of `thresholds.batches`",
        )
        .size("dynamics.seeds", self.seeds, 1, 1000)
        .size("dynamics.steps", self.steps, 1, 1_000_000)
        .size("dynamics.every", self.every, 1, self.steps.max(1))
        .rule(
            self.steps / self.every.max(1) <= MAX_CHECKPOINTS,
            format!("`dynamics.steps` / `dynamics.every` must be at most {MAX_CHECKPOINTS} checkpoints"),
        )
        .size("dynamics.moment_runs", self.moment_runs, 2, 1_000_000)
        .size("dynamics.moment_steps", self.moment_steps, 1, 10_000);
    }
}

impl SweepCfg {
    /// `n`: the training set's size (SGD batches are at most that).
    pub fn check(&self, key: &str, n: usize, c: &mut Checks) {
        reals(c, &format!("{key}.etas"), &self.etas, 1e-6, 10.0, 100);
        sizes(c, &format!("{key}.sgd_batches"), &self.sgd_batches, 1, n.max(1), 20);
        c.size(&format!("{key}.seeds"), self.seeds, 1, 100)
            .size(&format!("{key}.max_steps"), self.max_steps, 1, 20_000_000)
            .positive(&format!("{key}.tol"), self.tol, 1e6)
            .size(&format!("{key}.check_every"), self.check_every, 1, 100_000)
            .positive(&format!("{key}.diverge_above"), self.diverge_above, 1e300);
    }

    /// Runs per model variant (per α for the diagonal net), in f64 (no overflow).
    pub fn runs(&self) -> f64 {
        (f64::from(u8::from(self.gd)) + self.sgd_batches.len() as f64) * self.etas.len() as f64 * self.seeds as f64
    }
}

impl DiagTrainCfg {
    pub fn check(&self, c: &mut Checks) {
        self.data.check("diag_train.data", 800, c);
        reals(c, "diag_train.alphas", &self.alphas, 1e-3, 100.0, 20);
        self.sweep.check("diag_train.sweep", self.data.n, c);
    }
}

impl ReluTrainCfg {
    pub fn check(&self, c: &mut Checks) {
        c.one_of("relu_train.data", &self.data, &["teacher", "digits"])
            .size("relu_train.d", self.d, 1, 1000)
            .size("relu_train.width", self.width, 1, 10_000)
            .size("relu_train.n", self.n, 2, 2000)
            .size("relu_train.teacher_width", self.teacher_width, 1, 1000)
            .size("relu_train.n_test", self.n_test, 1, 100_000)
            .rule(
                self.data != "digits" || self.n.saturating_add(self.n_test) <= digits_available(),
                format!(
                    "`relu_train.n` + `relu_train.n_test` must be at most {} with the digits data",
                    digits_available()
                ),
            );
        self.sweep.check("relu_train.sweep", self.n, c);
    }

    /// Input dimension of the net (64 for the digits).
    pub fn input_dim(&self) -> usize {
        if self.data == "digits" { common::data::files::Shipped::Digits.shape().1 } else { self.d }
    }
}

/// Memory (in f64 values) of the largest arrays of one sweep cell. `n` samples, `p` parameters,
/// `r = min(n, p)` the largest rank of `H`, `m` Lanczos steps.
pub mod memory {
    /// The curvature at a minimum: the Jacobian (`n × p`, twice while it is assembled), the
    /// `n × n` Gram matrix and its eigenvectors, the coordinates `c` (`n × r`).
    pub fn curvature(n: f64, p: f64) -> f64 {
        2.0 * n * p + 5.0 * n * n + n * n.min(p)
    }
    /// Lanczos on symmetric `r × r` matrices (the basis of `min(m, r²)` vectors of `r²`).
    pub fn lanczos(n: f64, p: f64, m: f64) -> f64 {
        let r2 = n.min(p).powi(2);
        (m.min(r2) + 6.0) * r2
    }
    /// `T_η` as diagonal plus rank n (`V`, `n × r²`, and its scaled copy) and the `n × n` Schur
    /// complement.
    pub fn split(n: f64, p: f64) -> f64 {
        (2.0 * n + 2.0) * n.min(p).powi(2) + 4.0 * n * n
    }

    /// The dense Hessian of the spectrum check (built, symmetrized, decomposed), when it runs.
    pub fn dense(p: f64) -> f64 {
        if p <= crate::minima::DENSE_MAX_P as f64 { 4.0 * p * p } else { 0.0 }
    }

    /// Peak memory in f64 values: the largest cell of the three grids (a minimum's curvature,
    /// Lanczos basis and `T_η` split, plus the linearized runs' checkpoints; a training run's data,
    /// its activations on the training and test sets, the curvature of the reached minimum and a
    /// chunk's batch losses) times the cells running at once (one per thread), plus the results.
    pub fn peak_f64s(c: &crate::Config) -> f64 {
        let f = |x: usize| x as f64;
        let m = f(c.lanczos_steps);
        let p_relu = |d: usize, width: usize| (f(d) + 2.0) * f(width) + 1.0;
        let (t, dy, dt, rt) = (&c.thresholds, &c.dynamics, &c.diag_train, &c.relu_train);
        let minimum = |n: f64, p: f64, data: f64| data + curvature(n, p) + lanczos(n, p, m) + split(n, p) + dense(p);
        let (dn, rn) = (f(t.diag.n), f(t.relu_n));
        let thr = minimum(dn, 2.0 * f(t.diag.d), dn * f(t.diag.d)).max(minimum(
            rn,
            p_relu(t.relu_d, t.relu_width),
            rn * (f(t.relu_d) + f(t.relu_width) + 2.0),
        ));
        let dyn_cell = thr + f(dy.seeds) * (f(dy.steps) / f(dy.every) + 1.0) + f(dy.moment_runs);
        let (n, p) = (f(dt.data.n), 2.0 * f(dt.data.d));
        let train_diag = n * p + curvature(n, p) + lanczos(n, p, m) + f(dt.sweep.check_every);
        let (n, nt, p) = (f(rt.n), f(rt.n_test), p_relu(rt.input_dim(), rt.width));
        let digits = if rt.data == "digits" { 3.0 * 1797.0 * 64.0 } else { 0.0 };
        let train_relu = digits
            + (n + nt) * (f(rt.input_dim()) + 4.0 * f(rt.width))
            + curvature(n, p)
            + lanczos(n, p, m)
            + f(rt.sweep.check_every);
        let jobs = rayon::current_num_threads() as f64;
        let cells = f(t.diag_slack.len() + t.relu_scales.len()) * f(dy.factors.len());
        let results = 40.0 * c.train_runs() + cells * (f(dy.seeds) + 2.0 * crate::minima::CURVE_POINTS as f64);
        jobs * thr.max(dyn_cell).max(train_diag).max(train_relu) + results
    }
}
