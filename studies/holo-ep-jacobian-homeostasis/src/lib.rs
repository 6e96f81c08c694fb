//! Study `holo-ep-jacobian-homeostasis`: Laborieux & Zenke, "Improving equilibrium propagation
//! without weight symmetry through Jacobian homeostasis" (ICLR 2024, arXiv 2309.02214), on the
//! repo's discrete recurrent MLP (`mlp_discrete_vf`, σ(z) = 1/(1 + e^{−4z+2})) shrunk to digits 8×8.
//!
//! 1. **E1, finite nudge (Sec. 3).** A fixed random network at α = 0° (symmetric feedback) and
//!    α = 90° (independent). For a few test inputs: the free fixed point (plain iterations, then
//!    Newton), the exact dr*/dβ|₀ by one linear solve, and the N-phase estimates at |β| on a log
//!    grid, N = 1 (one-sided) … 4 (Cauchy); error slopes in |β| must be N. A second sweep holds
//!    |β| fixed and raises N: the Cauchy integral, not an infinitesimal nudge, is what is exact.
//! 2. **E2, asymmetry (Fig. 3).** For α = 0 … 90°: the cosine between EP's weight update (exact
//!    derivative, activity coordinates) and BP's gradient at the network's fixed points, averaged
//!    over test inputs; optionally accuracy after training with each (hEP with N = 0 and BP).
//! 3. **E3, homeostasis (Fig. 4a–d).** α = 90°, hEP with the exact derivative, Adam, with and
//!    without the homeostatic penalty ½‖J − Jᵀ‖²/n (5 Gaussian probes per sample); BP as the
//!    reference. Asymmetry, EP-BP cosine and accuracy along training.
//! 4. **Estimator check.** The Monte-Carlo L_homeo at many probes against ½‖J − Jᵀ‖²_F / n.
//!
//! Read top to bottom: config, claims, measure, report; machinery in `field` (real/complex scalars
//! and LU), `net` (the network and its fixed points), `holo` (the Cauchy estimates), `homeo` (the
//! homeostatic loss), `train` (batched training), `figures`.

pub mod field;
mod figures;
pub mod holo;
pub mod homeo;
pub mod net;
#[cfg(test)]
mod tests;
pub mod train;

use anyhow::Result;
use common::report::fmt_num;
use common::study::{Checks, Estimate, Validate};
use common::{BadInput, ClaimSpec, Ctx, Expect, Outcome, Paper, Profiles, Seed, Study, Table};
use holo::Bug;
use net::{Net, Sample, Sizes, ep_bp_cosine, responses};
use serde::{Deserialize, Serialize};
use train::{Algo, Epoch, TrainCfg};

/// The study (registered in `repro/src/registry.rs`).
pub struct HoloEpJacobianHomeostasis;

// ---------------------------------------------------------------------------------------------
// 1. Config

/// Every knob of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Units of the first hidden layer.
    pub h1: usize,
    /// Units of the second hidden layer.
    pub h2: usize,
    /// Digits used for training (the rest of the 1797 for testing).
    pub n_train: usize,
    /// Plain iterations before the Newton polish (E1, E2).
    pub t_free: usize,
    /// Newton tolerance on ‖G(u)‖ (E1, E2).
    pub newton_tol: f64,
    /// Random networks in E1 (each on one test input).
    pub nudge_samples: usize,
    /// Phases N of the nudge-slope sweep (N = 1 one-sided).
    pub phases: Vec<usize>,
    /// Smallest and largest |β| and the number of |β| (log grid).
    pub beta_min: f64,
    /// Largest |β|.
    pub beta_max: f64,
    /// Number of |β| on the grid.
    pub betas: usize,
    /// |β| of the sweep over N.
    pub sweep_beta: f64,
    /// Largest N of the sweep over N (2..=N).
    pub sweep_n_max: usize,
    /// Angles α (degrees) of E2.
    pub angles: Vec<f64>,
    /// Random networks per angle in E2.
    pub angle_nets: usize,
    /// Test inputs per network for the EP-BP cosine in E2.
    pub cos_samples: usize,
    /// Epochs of training at each angle for the accuracy-vs-angle panel (0: no training).
    pub angle_epochs: usize,
    /// Free iterations in training (the repo's T1).
    pub t1: usize,
    /// Derivative / backward iterations in training (the repo's T2).
    pub t2: usize,
    /// Relaxation step of the training dynamics (1 = the repo's discrete map u ← Wσ(u) + c).
    pub dt: f64,
    /// Minibatch size.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Epochs of E3.
    pub epochs: usize,
    /// Homeostasis coefficient of E3.
    pub coef: f64,
    /// Gaussian probes per sample for L_homeo in training.
    pub probes: usize,
    /// Training seeds of E3.
    pub seeds: usize,
    /// Test inputs for the EP-BP cosine along training.
    pub track_samples: usize,
    /// Probes of the estimator check.
    pub check_probes: usize,
}

impl Profiles for Config {
    fn quick() -> Self {
        Config {
            h1: 32,
            h2: 32,
            n_train: 1000,
            t_free: 100,
            newton_tol: 1e-13,
            nudge_samples: 3,
            phases: vec![1, 2, 3, 4],
            beta_min: 0.01,
            beta_max: 0.2,
            betas: 8,
            sweep_beta: 0.1,
            sweep_n_max: 12,
            angles: vec![0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0],
            angle_nets: 3,
            cos_samples: 40,
            angle_epochs: 0,
            t1: 50,
            t2: 25,
            dt: 0.5,
            batch: 50,
            lr: 2e-3,
            epochs: 12,
            coef: 1.0,
            probes: 5,
            seeds: 1,
            track_samples: 40,
            check_probes: 10_000,
        }
    }
    fn full() -> Self {
        Config {
            h1: 128,
            h2: 128,
            nudge_samples: 10,
            t_free: 200,
            betas: 12,
            sweep_n_max: 16,
            angle_epochs: 30,
            t1: 150,
            epochs: 50,
            seeds: 5,
            track_samples: 100,
            ..Config::quick()
        }
    }
}

impl Config {
    fn sizes(&self) -> Sizes {
        Sizes { d: 64, h1: self.h1, h2: self.h2, k: 10 }
    }
    fn beta_grid(&self) -> Vec<f64> {
        common::stats::logspace(self.beta_min, self.beta_max, self.betas)
    }
    fn train_cfg(&self, algo: Algo, coef: f64, epochs: usize) -> TrainCfg {
        TrainCfg {
            algo,
            t1: self.t1,
            t2: self.t2,
            batch: self.batch,
            lr: self.lr,
            epochs,
            coef,
            probes: self.probes,
            cos_samples: self.track_samples,
            dt: self.dt,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), BadInput> {
        let mut c = Checks::new();
        c.size("h1", self.h1, 2, 512)
            .size("h2", self.h2, 2, 512)
            .size("n_train", self.n_train, 100, 1697)
            .size("t_free", self.t_free, 0, 5000)
            .real("newton_tol", self.newton_tol, 1e-15, 1e-6)
            .size("nudge_samples", self.nudge_samples, 1, 100)
            .sizes("phases", &self.phases, 1, 16)
            .increasing("phases", &self.phases)
            .real("beta_min", self.beta_min, 1e-4, 1.0)
            .real("beta_max", self.beta_max, 1e-4, 1.0)
            .size("betas", self.betas, 3, 50)
            .real("sweep_beta", self.sweep_beta, 1e-3, 1.0)
            .size("sweep_n_max", self.sweep_n_max, 2, 32)
            .reals("angles", &self.angles, 0.0, 90.0)
            .increasing("angles", &self.angles)
            .size("angle_nets", self.angle_nets, 1, 50)
            .size("cos_samples", self.cos_samples, 1, 697)
            .size("angle_epochs", self.angle_epochs, 0, 200)
            .size("t1", self.t1, 1, 2000)
            .size("t2", self.t2, 1, 2000)
            .real("dt", self.dt, 0.05, 1.0)
            .size("batch", self.batch, 1, 1000)
            .real("lr", self.lr, 1e-6, 0.1)
            .size("epochs", self.epochs, 1, 500)
            .real("coef", self.coef, 0.0, 1000.0)
            .size("probes", self.probes, 1, 100)
            .size("seeds", self.seeds, 1, 50)
            .size("track_samples", self.track_samples, 1, 697)
            .size("check_probes", self.check_probes, 100, 1_000_000)
            .rule(self.beta_min < self.beta_max, "`beta_min` must be below `beta_max`")
            .rule(self.angles.len() >= 3, "`angles` needs at least 3 angles (claim H3 ranks them)")
            .rule(self.angles.first() == Some(&0.0), "`angles` must start at 0 (claim H2 is the symmetric case)")
            .rule(self.angles.last() == Some(&90.0), "`angles` must end at 90 (claim H4)")
            .rule(self.angles.contains(&45.0), "`angles` must hold 45 (claim H3b)")
            .rule(self.phases.len() >= 2 || self.phases == [1], "`phases` lists the N to fit");
        c.finish()
    }
    fn estimate(&self) -> Estimate {
        let n = (self.h1 + self.h2 + 10) as f64;
        let params = 64.0 * self.h1 as f64 + 2.0 * (self.h1 * self.h2) as f64 + 20.0 * self.h2 as f64 + 130.0;
        // Per worker: a few n × n (complex) matrices, the test-set states, the probes.
        let per = 8.0 * n * n
            + 2000.0 * n
            + 4.0 * params
            + n * (self.probes * self.batch) as f64 * 2.0
            + n * self.check_probes.min(10_000) as f64 * 3.0;
        let newton = n.powi(3) * 8.0 * 1e-9 / 2.0; // one complex LU
        let e1 = (self.phases.iter().sum::<usize>() * self.betas + (2..=self.sweep_n_max).sum::<usize>()) as f64
            * 2.0
            * self.nudge_samples as f64
            * (newton * 6.0 + self.t_free as f64 * n * n * 8e-9);
        let step = |t: usize| (t + self.t2) as f64 * 2.0 * n * n * 1e-9 * 1.5;
        let epoch = self.n_train as f64 * step(self.t1) + 697.0 * self.t1 as f64 * 2.0 * n * n * 1e-9;
        let train = (3 * self.seeds * self.epochs + 2 * self.angles.len() * self.angle_epochs) as f64 * epoch;
        Estimate::f64s(2.0 * per).seconds((e1 + train) / 2.0)
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Claims

const H1: ClaimSpec = ClaimSpec::new(
    "H1",
    "The N-phase estimate of dr*/dβ|₀ (N = 1 one-sided, N ≥ 2 the Cauchy rule (1/N) Σ r(β_k)/β_k) has error \
     O(|β|^N): the fitted log-log slope of error vs |β| is N, at α = 0° and at α = 90° (per random network, points \
     with error > 1e-12; largest |median slope − N| over N and α, the median over networks).",
    "Sec. 3, Eq. (7)-(8); Table 1",
    Expect::at_most(0.25),
)
.wrong(
    "N = 1 without subtracting r(0) gives slope −1; a 'Cauchy' rule with real phases (r(|β|)/|β|) slope −1; \
     the symmetric ±β difference used for N = 3, 4 slope 2; each is ≥ 0.75 from N",
);

const H1B: ClaimSpec = ClaimSpec::new(
    "H1b",
    "At a fixed finite nudge the Cauchy estimate converges to the exact derivative as N grows, symmetric or not: \
     relative error at the largest N of the sweep at the sweep's |β| (median over networks, max over α = 0°, 90°).",
    "Sec. 3 (the finite nudge is not a problem)",
    Expect::at_most(1e-4),
)
.wrong(
    "a derivative that needed an infinitesimal nudge stays at its bias at |β| = 0.1 (one-sided ≈ 3e-2, ±β ≈ 1e-3, \
     see the table n_sweep); a wrong phase or a missing 1/β_k weight does not converge at all",
);

const H2: ClaimSpec = ClaimSpec::new(
    "H2",
    "With symmetric weights (α = 0°) EP's weight update with the exact derivative equals BP's gradient: min over \
     test inputs of cos(EP, BP).",
    "Sec. 4, Eq. (10)-(11)",
    Expect::at_least(1.0 - 1e-8),
)
.wrong(
    "taking the derivative in membrane coordinates (du*/dβ instead of dr*/dβ = D du*/dβ) leaves the cosine \
     clearly below 1 at α = 0 (≈ 0.9, see the planted-bug test)",
);

const H3: ClaimSpec = ClaimSpec::new(
    "H3",
    "EP's alignment with BP falls as the feedback weights rotate away from symmetry: Spearman correlation of the \
     mean cos(EP, BP) with α over the angle sweep.",
    "Sec. 4, Fig. 3",
    Expect::at_most(-0.9),
)
.not_gated(
    "the cosine plateaus between 60° and 90° and the plateau's order changes with the random networks: the \
     correlation was above −0.9 at 4 of 30 calibration seeds (min −0.68); the drop over 0–45° (H3b) is gated instead",
);

const H3B: ClaimSpec = ClaimSpec::new(
    "H3b",
    "EP's alignment with BP falls as the feedback weights rotate away from symmetry: mean cos(EP, BP) at α = 0° \
     minus at α = 45°.",
    "Sec. 4, Fig. 3",
    Expect::at_least(0.2),
)
.wrong("an EP update computed with Jᵀ (BP's own error vector), or dynamics that ignore the feedback, stay at cos = 1: drop 0");

const H4: ClaimSpec = ClaimSpec::new(
    "H4",
    "At α = 90° (independent feedback) the mean cos(EP, BP) is far from 1.",
    "Sec. 4, Fig. 3",
    Expect::at_most(0.7),
)
.wrong("a cosine that ignored the feedback (symmetric dynamics) would be 1 at every α");

const H5: ClaimSpec = ClaimSpec::new(
    "H5",
    "The Monte-Carlo homeostatic loss E_ε[‖Jε‖² − εᵀJ²ε]/n with many Gaussian probes matches ½‖J − Jᵀ‖²_F/n: \
     relative error at α = 90° and 45° (max).",
    "Sec. 5, Eq. (13); repo `homeo_loss`",
    Expect::at_most(0.02),
)
.wrong(
    "dropping the −εᵀJ²ε term gives ‖J‖²_F/n, several times larger; dropping the /n normalisation or the ½ is off \
     by a factor n or 2",
);

const H6: ClaimSpec = ClaimSpec::new(
    "H6",
    "The homeostatic penalty makes the network functionally symmetric: relative reduction of the normalised \
     asymmetry ‖W − Wᵀ‖_F/‖W + Wᵀ‖_F at the end of training, with vs without homeostasis (worst seed).",
    "Sec. 5, Fig. 4b",
    Expect::at_least(0.5),
)
.wrong("a penalty with a flipped sign, or applied to the forward weights only through the data term, leaves the asymmetry at or above that without it (reduction ≤ 0)");

const H7: ClaimSpec = ClaimSpec::new(
    "H7",
    "With homeostasis EP's error vectors realign with BP's: mean cos(EP, BP) at the end of training with minus \
     without homeostasis (worst seed).",
    "Sec. 5, Fig. 4c",
    Expect::at_least(0.1),
)
.wrong("a penalty that does not reach the Jacobian (e.g. on the read-out) changes the cosine by ≈ 0");

const H8: ClaimSpec = ClaimSpec::new(
    "H8",
    "Homeostasis restores the accuracy of hEP at α = 90°: final test accuracy with minus without homeostasis \
     (percentage points, mean over seeds; the two arms share the initialisation and the minibatch order).",
    "Sec. 5, Fig. 4d; Table 2",
    Expect::at_least(2.0),
)
.wrong(
    "a penalty that does not reach the Jacobian leaves the paired runs identical (gap exactly 0); calibration: \
     +9.0 to +42 pp over 30 seeds (median +27.5)",
);

/// The claims, in the order `report` returns them.
pub const CLAIMS: &[ClaimSpec] = &[H1, H1B, H2, H3, H3B, H4, H5, H6, H7, H8];

// ---------------------------------------------------------------------------------------------
// 3. Measure

/// E1: one estimate's relative error for one test input.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NudgeRow {
    /// α (degrees).
    pub alpha: f64,
    /// Case: the index of the random network.
    pub sample: usize,
    /// The test input used with it.
    pub input: usize,
    /// Phases N.
    pub n_phases: usize,
    /// |β|.
    pub beta: f64,
    /// ‖est − exact‖ / ‖exact‖.
    pub err: f64,
    /// Largest residual of the nudged fixed points.
    pub residual: f64,
}

/// E2: one angle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AngleRow {
    /// α (degrees) of `rotate`.
    pub alpha: f64,
    /// The repo's measured angle (degrees).
    pub angle: f64,
    /// Mean of cos(EP, BP) over test inputs.
    pub cos_mean: f64,
    /// Min over test inputs.
    pub cos_min: f64,
    /// Max over test inputs.
    pub cos_max: f64,
    /// Test inputs skipped because their free fixed point did not converge.
    pub skipped: usize,
    /// Test accuracy after training with hEP (N = 0) at this angle (NaN: not trained).
    #[serde(with = "common::report::json_f64")]
    pub acc_ep: f64,
    /// Test accuracy after training with BP.
    #[serde(with = "common::report::json_f64")]
    pub acc_bp: f64,
}

/// E3: one training run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// "ep", "ep_homeo" or "bp".
    pub arm: String,
    /// Seed index.
    pub rep: usize,
    /// Evaluation at initialisation and after each epoch.
    pub log: Vec<Epoch>,
}

/// The estimator check at one α.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct McRow {
    /// α (degrees).
    pub alpha: f64,
    /// Probes.
    pub probes: usize,
    /// Monte-Carlo estimate.
    pub estimate: f64,
    /// ½‖J − Jᵀ‖²/n.
    pub exact: f64,
}

/// Everything `measure` computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// E1 slopes sweep.
    pub nudge: Vec<NudgeRow>,
    /// E1 sweep over N at fixed |β|.
    pub n_sweep: Vec<NudgeRow>,
    /// E2.
    pub angles: Vec<AngleRow>,
    /// E3.
    pub runs: Vec<Run>,
    /// Estimator check.
    pub mc: Vec<McRow>,
}

/// E1 for one network and one test input; `bug` plants an estimator bug (tests).
pub fn nudge_cell(
    cfg: &Config,
    net: &Net,
    x: ndarray::ArrayView1<f64>,
    label: usize,
    bug: Bug,
) -> Result<(Vec<NudgeRow>, Vec<NudgeRow>)> {
    let w = net.dense_w();
    let s = Sample::new(net, &w, x, label);
    let n = s.c.len();
    let (u0, res0) = s.fixed_point(&vec![0.0; n], 0.0, cfg.t_free, cfg.newton_tol);
    anyhow::ensure!(res0 <= 1e-10, "free fixed point did not converge (residual {res0:e})");
    let exact = responses(&s, &u0).ok_or_else(|| anyhow::anyhow!("singular Jacobian at the free fixed point"))?.ep;
    let row = |n_phases: usize, beta: f64| {
        let (est, residual) = holo::estimate(&s, &u0, n_phases, beta, 0, cfg.newton_tol, bug);
        NudgeRow {
            alpha: net.angle_deg(),
            sample: 0,
            input: 0,
            n_phases,
            beta,
            err: holo::rel_err(&est, &exact),
            residual,
        }
    };
    let mut slopes = vec![];
    for &np in &cfg.phases {
        for &b in &cfg.beta_grid() {
            slopes.push(row(np, b));
        }
    }
    let sweep = (1..=cfg.sweep_n_max).map(|np| row(np, cfg.sweep_beta)).collect();
    Ok((slopes, sweep))
}

/// E2 for one network: the EP-BP cosines over test inputs at the polished fixed points (inputs
/// whose free fixed point does not converge to 1e-10 are skipped: `None`).
pub fn angle_cosines(cfg: &Config, net: &Net, data: &train::Split, membrane: bool) -> Vec<Option<f64>> {
    let w = net.dense_w();
    let m = cfg.cos_samples.min(data.y_test.len());
    (0..m)
        .map(|i| {
            let x = data.x_test.row(i);
            let s = Sample::new(net, &w, x, data.y_test[i]);
            let (u, res) = s.fixed_point(&vec![0.0; s.c.len()], 0.0, cfg.t_free, cfg.newton_tol);
            if res > 1e-10 {
                return None;
            }
            ep_bp_cosine(net, x, &s, &u, membrane)
        })
        .collect()
}

impl Study for HoloEpJacobianHomeostasis {
    type Config = Config;
    type Results = Results;
    const CLAIMS: &'static [ClaimSpec] = CLAIMS;

    fn slug(&self) -> &'static str {
        "holo-ep-jacobian-homeostasis"
    }
    fn paper(&self) -> Paper {
        Paper {
            title: "Improving equilibrium propagation without weight symmetry through Jacobian homeostasis",
            authors: "Axel Laborieux, Friedemann Zenke",
            arxiv: "2309.02214",
            official_code: Some("https://github.com/Laborieux-Axel/generalized-holo-ep"),
        }
    }
    fn measure(&self, cfg: &Config, ctx: &Ctx) -> Result<Results> {
        let data = train::digits(cfg.n_train, ctx.seed.child("data"))?;
        let sz = cfg.sizes();

        // E1: one base network, rotated to α = 0° and 90°.
        let e1_seed = ctx.seed.child("e1");
        // `nudge_samples` random networks per α (the same base weights rotated to 0° and 90°),
        // each on its first test input whose free fixed point polishes.
        let e1 = ctx.grid("nudge", &[0.0, 90.0], |&alpha, _| {
            let (mut a, mut b) = (vec![], vec![]);
            for case in 0..cfg.nudge_samples {
                let net = Net::init(sz, alpha, e1_seed.child_idx("net", case as u64));
                let found = (0..data.y_test.len().min(20)).find_map(|input| {
                    nudge_cell(cfg, &net, data.x_test.row(input), data.y_test[input], Bug::None)
                        .ok()
                        .map(|rows| (input, rows))
                });
                let Some((input, (mut x, mut y))) = found else {
                    anyhow::bail!("E1: no test input of network {case} had a polished fixed point");
                };
                for r in x.iter_mut().chain(y.iter_mut()) {
                    r.alpha = alpha;
                    r.sample = case;
                    r.input = input;
                }
                a.extend(x);
                b.extend(y);
            }
            Ok((a, b))
        })?;
        let (nudge, n_sweep): (Vec<_>, Vec<_>) = e1.into_iter().unzip();
        let (nudge, n_sweep) = (nudge.concat(), n_sweep.concat());

        // E2: the angle sweep at initialisation (and, in the full profile, after training).
        let e2_seed = ctx.seed.child("e2");
        let cos = ctx.grid("angle", &cfg.angles, |&alpha, _| {
            Ok((0..cfg.angle_nets)
                .flat_map(|j| {
                    angle_cosines(cfg, &Net::init(sz, alpha, e2_seed.child_idx("net", j as u64)), &data, false)
                })
                .collect::<Vec<Option<f64>>>())
        })?;
        let train_cells: Vec<(f64, Algo)> = if cfg.angle_epochs == 0 {
            vec![]
        } else {
            cfg.angles.iter().flat_map(|&a| [(a, Algo::Ep), (a, Algo::Bp)]).collect()
        };
        let accs = ctx.grid("angle_train", &train_cells, |&(alpha, algo), _| {
            let tc = cfg.train_cfg(algo, 0.0, cfg.angle_epochs);
            let s = e2_seed.child_idx("net", 0);
            let log = train::train(Net::init(sz, alpha, s), &data, &tc, s.child("batches"));
            Ok(log.last().map_or(f64::NAN, |e| e.acc))
        })?;
        let acc_of = |alpha: f64, algo: Algo| {
            train_cells
                .iter()
                .zip(&accs)
                .find(|((a, g), _)| *a == alpha && *g == algo)
                .map_or(f64::NAN, |(_, &acc)| acc)
        };
        let angles = cfg
            .angles
            .iter()
            .zip(&cos)
            .map(|(&alpha, all)| {
                let c: Vec<f64> = all.iter().flatten().copied().collect();
                AngleRow {
                    alpha,
                    angle: Net::init(sz, alpha, e2_seed.child_idx("net", 0)).angle_deg(),
                    cos_mean: common::stats::mean(&c),
                    cos_min: c.iter().copied().fold(f64::INFINITY, f64::min),
                    cos_max: c.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    skipped: all.len() - c.len(),
                    acc_ep: acc_of(alpha, Algo::Ep),
                    acc_bp: acc_of(alpha, Algo::Bp),
                }
            })
            .collect();

        // E3: α = 90°, hEP with / without homeostasis, BP reference; paired inits per seed.
        let arms = [("ep", Algo::Ep, 0.0), ("ep_homeo", Algo::Ep, cfg.coef), ("bp", Algo::Bp, 0.0)];
        let run_cells: Vec<(usize, usize)> =
            (0..cfg.seeds).flat_map(|rep| (0..arms.len()).map(move |a| (rep, a))).collect();
        let e3_seed = ctx.seed.child("e3");
        let runs = ctx.grid("homeostasis", &run_cells, |&(rep, a), _| {
            let (arm, algo, coef) = arms[a];
            let s = e3_seed.child_idx("rep", rep as u64);
            let log =
                train::train(Net::init(sz, 90.0, s), &data, &cfg.train_cfg(algo, coef, cfg.epochs), s.child("batches"));
            Ok(Run { arm: arm.to_string(), rep, log })
        })?;

        // The estimator check.
        let mc = [90.0, 45.0]
            .iter()
            .map(|&alpha| {
                let net = Net::init(sz, alpha, ctx.seed.child("mc"));
                let eps = homeo::probes(sz.n(), cfg.check_probes, ctx.seed.child("mc").child("probes"));
                McRow {
                    alpha,
                    probes: cfg.check_probes,
                    estimate: homeo::estimate(&net, &eps),
                    exact: homeo::exact(&net),
                }
            })
            .collect();
        Ok(Results { nudge, n_sweep, angles, runs, mc })
    }

    // -----------------------------------------------------------------------------------------
    // 4. Report

    fn report(&self, cfg: &Config, r: &Results) -> Result<Outcome> {
        let mut out = Outcome::default();
        let s = summarize(r);

        // H1: slopes (median over inputs of the per-input fit; NaN propagates).
        let dev = s
            .slopes
            .iter()
            .map(|f| (f.median_slope - f.n_phases as f64).abs())
            .fold(0.0, |a: f64, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) });
        out.claim(H1.measured(dev).detail(format!(
            "median per-input slopes (slope of the mean error in brackets): {}",
            s.slopes
                .iter()
                .map(|f| format!("N={} α={}°: {} ({})", f.n_phases, f.alpha, fmt_num(f.median_slope), fmt_num(f.slope)))
                .collect::<Vec<_>>()
                .join("; ")
        )));
        // H1b: convergence in N at fixed |β|.
        let nmax = cfg.sweep_n_max;
        let h1b = [0.0, 90.0]
            .iter()
            .map(|&alpha| {
                let v: Vec<f64> =
                    r.n_sweep.iter().filter(|p| p.alpha == alpha && p.n_phases == nmax).map(|p| p.err).collect();
                if v.is_empty() { f64::NEG_INFINITY } else { common::stats::median(&v) }
            })
            .fold(f64::NEG_INFINITY, f64::max);
        let first = |alpha: f64, np: usize| {
            s.sweep.iter().find(|p| p.alpha == alpha && p.n_phases == np).map_or(f64::NAN, |p| p.err)
        };
        out.claim(H1B.measured(h1b).detail(format!(
            "|β| = {}: error at N = 1, 2, {nmax}: α=0°: {}, {}, {}; α=90°: {}, {}, {}",
            fmt_num(cfg.sweep_beta),
            fmt_num(first(0.0, 1)),
            fmt_num(first(0.0, 2)),
            fmt_num(first(0.0, nmax)),
            fmt_num(first(90.0, 1)),
            fmt_num(first(90.0, 2)),
            fmt_num(first(90.0, nmax)),
        )));
        // H2-H4: the angle sweep.
        let a0 = &r.angles[0];
        let skipped: usize = r.angles.iter().map(|a| a.skipped).sum();
        out.claim(H2.measured(a0.cos_min).detail(format!(
            "α = 0°: mean {}, min {} over {} networks × {} inputs ({} input(s) skipped over the sweep: no polished fixed point)",
            fmt_num(a0.cos_mean),
            fmt_num(a0.cos_min),
            cfg.angle_nets,
            cfg.cos_samples,
            skipped
        )));
        let alphas: Vec<f64> = r.angles.iter().map(|a| a.alpha).collect();
        let cm: Vec<f64> = r.angles.iter().map(|a| a.cos_mean).collect();
        out.claim(H3.measured(common::stats::spearman(&alphas, &cm)).detail(format!(
            "mean cos by α: {}",
            r.angles.iter().map(|a| format!("{}°: {}", a.alpha, fmt_num(a.cos_mean))).collect::<Vec<_>>().join(", ")
        )));
        let c45 = r.angles.iter().find(|a| a.alpha == 45.0).map_or(f64::NAN, |a| a.cos_mean);
        out.claim(H3B.measured(a0.cos_mean - c45).detail(format!(
            "mean cos at 0°: {}, at 45°: {}",
            fmt_num(a0.cos_mean),
            fmt_num(c45)
        )));
        let last = r.angles.last().expect("angles");
        out.claim(H4.measured(last.cos_mean).detail(format!(
            "α = {}° (measured angle {}°): mean {}, range [{}, {}]",
            last.alpha,
            fmt_num(last.angle),
            fmt_num(last.cos_mean),
            fmt_num(last.cos_min),
            fmt_num(last.cos_max)
        )));
        // H5.
        out.claim(H5.max_of(
            r.mc.iter().map(|m| (format!("α={}° ({} probes)", m.alpha, m.probes), (m.estimate / m.exact - 1.0).abs())),
        ));
        // H6-H8: paired arms per seed at the last epoch.
        let pairs = s.pairs();
        out.claim(
            H6.min_of(pairs.iter().map(|p| (format!("seed {}", p.rep), 1.0 - p.homeo.asym / p.plain.asym))).detail(
                format!(
                    "final asymmetry without / with: {}",
                    pairs
                        .iter()
                        .map(|p| format!("{} / {}", fmt_num(p.plain.asym), fmt_num(p.homeo.asym)))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
        );
        out.claim(H7.min_of(pairs.iter().map(|p| (format!("seed {}", p.rep), p.homeo.cos - p.plain.cos))).detail(
            format!(
                "final mean cos without / with: {}",
                pairs
                    .iter()
                    .map(|p| format!("{} / {}", fmt_num(p.plain.cos), fmt_num(p.homeo.cos)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ));
        let gaps: Vec<f64> = pairs.iter().map(|p| 100.0 * (p.homeo.acc - p.plain.acc)).collect();
        out.claim(H8.measured(common::stats::mean(&gaps)).detail(format!(
            "per seed (pp): {}; accuracies without / with / BP: {}",
            gaps.iter().map(|g| fmt_num(*g)).collect::<Vec<_>>().join(", "),
            pairs
                .iter()
                .map(|p| format!("{} / {} / {}", fmt_num(p.plain.acc), fmt_num(p.homeo.acc), fmt_num(p.bp.acc)))
                .collect::<Vec<_>>()
                .join("; ")
        )));

        // Tables.
        out.table(Table::from_rows(
            "nudge_bias",
            "E1: relative error of the N-phase estimate of dr*/dβ per test input",
            &r.nudge,
        ));
        out.table(Table::from_rows("nudge_slopes", "E1: fitted log-log slopes of the mean error vs |β|", &s.slopes));
        out.table(Table::from_rows("n_sweep", "E1: relative error vs N at fixed |β|", &r.n_sweep));
        out.table(Table::from_rows("angle_sweep", "E2: cos(EP, BP) (and accuracies when trained) vs α", &r.angles));
        let rows: Vec<HomeoRow> = r
            .runs
            .iter()
            .flat_map(|run| {
                run.log.iter().map(move |e| HomeoRow {
                    arm: run.arm.clone(),
                    rep: run.rep,
                    epoch: e.epoch,
                    acc: e.acc,
                    asym: e.asym,
                    angle: e.angle,
                    cos: e.cos,
                    homeo: e.homeo,
                    residual: e.residual,
                })
            })
            .collect();
        out.table(Table::from_rows("homeostasis", "E3: α = 90°, along training, per arm and seed", &rows));
        out.table(Table::from_rows("homeo_estimator", "Monte-Carlo L_homeo vs ½‖J − Jᵀ‖²/n", &r.mc));

        figures::all(cfg, r, &s, &mut out);
        out.note(format!(
            "Network 64-{}-{}-10 with the repo's σ(z) = 1/(1 + e^(−4z+2)), feedback layers l2→l1 and out→l2 without bias, \
             softmax read-out; digits 8×8 scaled to [0, 1], {} for training and {} for testing. E1: {} random networks (one test input each), |β| in \
             [{}, {}] ({} values), fixed points by {} iterations then Newton to ‖G‖ ≤ {}; complex nudges in Complex<f64>. \
             E2: {} networks × {} test inputs per angle at initialisation. E3: Adam lr {}, batch {}, T1 = {}, T2 = {}, {} epochs, \
             homeostasis coefficient {} with {} probes per sample, {} seed(s).",
            cfg.h1,
            cfg.h2,
            cfg.n_train,
            1797 - cfg.n_train,
            cfg.nudge_samples,
            fmt_num(cfg.beta_min),
            fmt_num(cfg.beta_max),
            cfg.betas,
            cfg.t_free,
            fmt_num(cfg.newton_tol),
            cfg.angle_nets,
            cfg.cos_samples,
            fmt_num(cfg.lr),
            cfg.batch,
            cfg.t1,
            cfg.t2,
            cfg.epochs,
            fmt_num(cfg.coef),
            cfg.probes,
            cfg.seeds
        ));
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Summaries shared by the claims and the figures

/// One fitted slope.
#[derive(Clone, Debug, Serialize)]
pub struct SlopeFit {
    /// α (degrees).
    pub alpha: f64,
    /// N.
    pub n_phases: usize,
    /// Fitted exponent of the mean error in |β|.
    pub slope: f64,
    /// Median over test inputs of the per-input fitted exponent.
    pub median_slope: f64,
    /// Points in the fit (error > 1e-12).
    pub points: usize,
}

/// Mean error over test inputs at one (α, N, |β|).
#[derive(Clone, Debug)]
pub struct MeanErr {
    /// α.
    pub alpha: f64,
    /// N.
    pub n_phases: usize,
    /// |β|.
    pub beta: f64,
    /// Mean relative error.
    pub err: f64,
}

/// One row of the homeostasis table.
#[derive(Clone, Debug, Serialize)]
struct HomeoRow {
    arm: String,
    rep: usize,
    epoch: usize,
    acc: f64,
    asym: f64,
    angle: f64,
    cos: f64,
    homeo: f64,
    residual: f64,
}

/// The last epoch of the three arms of one seed.
pub struct Pair<'a> {
    /// Seed index.
    pub rep: usize,
    /// hEP without homeostasis.
    pub plain: &'a Epoch,
    /// hEP with homeostasis.
    pub homeo: &'a Epoch,
    /// BP.
    pub bp: &'a Epoch,
}

/// Averages and fits of the results.
pub struct Summary<'a> {
    /// Mean errors of the slope sweep.
    pub means: Vec<MeanErr>,
    /// Fitted slopes.
    pub slopes: Vec<SlopeFit>,
    /// Mean errors of the N sweep.
    pub sweep: Vec<MeanErr>,
    /// The runs.
    pub runs: &'a [Run],
}

impl<'a> Summary<'a> {
    /// The final epochs, paired by seed.
    pub fn pairs(&self) -> Vec<Pair<'a>> {
        let last =
            |arm: &str, rep: usize| self.runs.iter().find(|r| r.arm == arm && r.rep == rep).and_then(|r| r.log.last());
        let mut reps: Vec<usize> = self.runs.iter().map(|r| r.rep).collect();
        reps.sort();
        reps.dedup();
        reps.into_iter()
            .filter_map(|rep| {
                Some(Pair { rep, plain: last("ep", rep)?, homeo: last("ep_homeo", rep)?, bp: last("bp", rep)? })
            })
            .collect()
    }
}

fn mean_errs(rows: &[NudgeRow]) -> Vec<MeanErr> {
    let mut keys: Vec<(f64, usize, f64)> = vec![];
    for r in rows {
        if !keys.contains(&(r.alpha, r.n_phases, r.beta)) {
            keys.push((r.alpha, r.n_phases, r.beta));
        }
    }
    keys.into_iter()
        .map(|(alpha, n_phases, beta)| {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r.alpha == alpha && r.n_phases == n_phases && r.beta == beta)
                .map(|r| r.err)
                .collect();
            MeanErr { alpha, n_phases, beta, err: common::stats::mean(&v) }
        })
        .collect()
}

/// Mean errors, slopes and pairs.
pub fn summarize(r: &Results) -> Summary<'_> {
    let means = mean_errs(&r.nudge);
    let mut slopes = vec![];
    let mut keys: Vec<(f64, usize)> = means.iter().map(|m| (m.alpha, m.n_phases)).collect();
    keys.dedup();
    for (alpha, n_phases) in keys {
        let pts: Vec<&MeanErr> =
            means.iter().filter(|m| m.alpha == alpha && m.n_phases == n_phases && m.err > 1e-12).collect();
        let x: Vec<f64> = pts.iter().map(|m| m.beta).collect();
        let y: Vec<f64> = pts.iter().map(|m| m.err).collect();
        let slope = if x.len() >= 2 { common::stats::loglog_fit(&x, &y).slope } else { f64::NAN };
        let mut samples: Vec<usize> = r.nudge.iter().map(|q| q.sample).collect();
        samples.sort();
        samples.dedup();
        let per: Vec<f64> = samples
            .iter()
            .filter_map(|&smp| {
                let pts: Vec<&NudgeRow> = r
                    .nudge
                    .iter()
                    .filter(|q| q.alpha == alpha && q.n_phases == n_phases && q.sample == smp && q.err > 1e-12)
                    .collect();
                if pts.len() < 2 {
                    return None;
                }
                let x: Vec<f64> = pts.iter().map(|q| q.beta).collect();
                let y: Vec<f64> = pts.iter().map(|q| q.err).collect();
                Some(common::stats::loglog_fit(&x, &y).slope)
            })
            .collect();
        let median_slope = if per.is_empty() { f64::NAN } else { common::stats::median(&per) };
        slopes.push(SlopeFit { alpha, n_phases, slope, median_slope, points: x.len() });
    }
    Summary { means, slopes, sweep: mean_errs(&r.n_sweep), runs: &r.runs }
}

/// Seed of the base network of E1 (tests).
pub fn e1_seed(root: u64) -> Seed {
    Seed(root).child("e1")
}

common::seed_checks!(crate::HoloEpJacobianHomeostasis);
