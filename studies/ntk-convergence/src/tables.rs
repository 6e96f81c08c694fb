//! The report's aggregates (per width, per eigenmode) and its tables, from `Results` only.
use crate::kernel::Activation;
use crate::{Config, InitRun, McCheck, Results, Spectrum, TOP_MODES, TrainRun, sim::PD_TOL};
use common::Table;
use common::stats::{mean, mean_sd};
use serde::Serialize;

/// Values of `f` per width (in the config's width order) over the runs of that width.
fn per_width<R>(widths: &[usize], runs: &[R], width: impl Fn(&R) -> usize, f: impl Fn(&R) -> f64) -> Vec<Vec<f64>> {
    widths.iter().map(|&w| runs.iter().filter(|r| width(r) == w).map(&f).collect()).collect()
}

fn means(v: &[Vec<f64>]) -> Vec<f64> {
    v.iter().map(|x| mean(x)).collect()
}

fn sds(v: &[Vec<f64>]) -> Vec<f64> {
    v.iter().map(|x| mean_sd(x).1).collect()
}

/// The closed-form checks with their z-scores (closed form - MC) / MC standard error.
pub fn recursion(r: &Results) -> (Table, Vec<f64>) {
    #[derive(Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        check: &'a McCheck,
        z: f64,
    }
    let rows: Vec<Row> =
        r.mc.iter().map(|c| Row { check: c, z: (c.closed_form - c.monte_carlo) / c.mc_std_err }).collect();
    let table = Table::from_rows(
        "closed_form_vs_mc",
        "Closed-form ReLU dual activations (arc-cosine kernels) of each layer of the recursion vs a Monte-Carlo \
         Gaussian expectation on the same 2×2 covariance Σ^(l-1)(x0, x(γ)).",
        &rows,
    );
    (table, rows.iter().map(|row| row.z).collect())
}

/// The rank bound of a polynomial σ of degree d: Θ_∞ is a polynomial of degree ≤ d^(L-1) in
/// (x, x'), and on the circle such functions span at most 2·d^(L-1) + 1 Fourier modes.
pub fn poly_bound(cfg: &Config, act: Activation) -> Option<usize> {
    match act {
        Activation::Identity => Some(3),
        Activation::Square => Some(2 * 2usize.pow(cfg.depth as u32 - 1) + 1),
        _ => None,
    }
}

pub fn spectra(cfg: &Config, r: &Results) -> Table {
    #[derive(Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        s: &'a Spectrum,
        polynomial_rank_bound: String,
    }
    let rows: Vec<Row> = r
        .spectra
        .iter()
        .map(|s| Row { s, polynomial_rank_bound: poly_bound(cfg, s.activation).map_or("-".into(), |b| b.to_string()) })
        .collect();
    Table::from_rows(
        "positive_definiteness",
        &format!(
            "Spectrum of the limiting NTK Gram matrix on distinct, equally spaced circle points. Numerical rank: \
             eigenvalues above {PD_TOL:e}·λ_max (round-off is ~1e-16·λ_max)."
        ),
        &rows,
    )
}

/// The kernel at initialisation per width: every seed's deviation and the mean, sd.
pub struct Init {
    pub widths: Vec<f64>,
    pub fro: Vec<Vec<f64>>,
    pub row: Vec<Vec<f64>>,
    pub fro_mean: Vec<f64>,
    pub row_mean: Vec<f64>,
    pub standard_mean: Vec<f64>,
    pub table: Table,
}

impl Init {
    pub fn of(cfg: &Config, r: &Results) -> Init {
        let group = |f: fn(&InitRun) -> f64| per_width(&cfg.init_widths, &r.init, |x| x.width, f);
        let (fro, row) = (group(|x| x.dev_fro), group(|x| x.dev_row));
        let (fro_mean, standard_mean, row_mean) = (means(&fro), means(&group(|x| x.dev_fro_standard)), means(&row));
        let (fro_sd, row_sd) = (sds(&fro), sds(&row));
        #[derive(Serialize)]
        struct Row {
            width: usize,
            seeds: usize,
            dev_fro_mean: f64,
            dev_fro_sd: f64,
            dev_row_x0_mean: f64,
            dev_row_x0_sd: f64,
            dev_fro_standard_param: f64,
        }
        let rows: Vec<Row> = (0..cfg.init_widths.len())
            .map(|i| Row {
                width: cfg.init_widths[i],
                seeds: cfg.init_seeds[i],
                dev_fro_mean: fro_mean[i],
                dev_fro_sd: fro_sd[i],
                dev_row_x0_mean: row_mean[i],
                dev_row_x0_sd: row_sd[i],
                dev_fro_standard_param: standard_mean[i],
            })
            .collect();
        let table = Table::from_rows(
            "init_kernel_error",
            "Relative deviation of the empirical NTK at initialisation from the closed-form limit Θ_∞ (mean and sd \
             over seeds). The standard-parametrisation column reads the same networks' kernel in the standard \
             parametrisation: a wrong implementation, whose kernel grows with the width.",
            &rows,
        );
        let widths = cfg.init_widths.iter().map(|&w| w as f64).collect();
        Init { widths, fro, row, fro_mean, row_mean, standard_mean, table }
    }
}

/// Training per width: means over seeds of the NTK drift and of the linearisation errors.
pub struct Training {
    pub widths: Vec<f64>,
    pub drift_circle: Vec<f64>,
    pub drift_train: Vec<f64>,
    pub err_theta0: Vec<f64>,
    pub err_theta_inf: Vec<f64>,
    pub table: Table,
}

impl Training {
    pub fn of(cfg: &Config, r: &Results) -> Training {
        let group = |f: fn(&TrainRun) -> f64| per_width(&cfg.train_widths, &r.train, |x| x.width, f);
        let (dc, ee) = (group(|x| x.drift_circle), group(|x| x.lin_err_theta0));
        let (drift_circle, err_theta0) = (means(&dc), means(&ee));
        let (drift_train, err_theta_inf) = (means(&group(|x| x.drift_train)), means(&group(|x| x.lin_err_theta_inf)));
        let (dc_sd, ee_sd, final_ratio) = (sds(&dc), sds(&ee), means(&group(|x| x.residual_ratio)));
        #[derive(Serialize)]
        struct Row {
            width: usize,
            seeds: usize,
            ntk_drift_circle_mean: f64,
            ntk_drift_circle_sd: f64,
            ntk_drift_train_mean: f64,
            lin_err_theta0_mean: f64,
            lin_err_theta0_sd: f64,
            lin_err_theta_inf_mean: f64,
            residual_ratio_final: f64,
        }
        let rows: Vec<Row> = (0..cfg.train_widths.len())
            .map(|i| Row {
                width: cfg.train_widths[i],
                seeds: cfg.train_seeds[i],
                ntk_drift_circle_mean: drift_circle[i],
                ntk_drift_circle_sd: dc_sd[i],
                ntk_drift_train_mean: drift_train[i],
                lin_err_theta0_mean: err_theta0[i],
                lin_err_theta0_sd: ee_sd[i],
                lin_err_theta_inf_mean: err_theta_inf[i],
                residual_ratio_final: final_ratio[i],
            })
            .collect();
        let table = Table::from_rows(
            "training",
            &format!(
                "After {} GD steps (η = {}, {} circle inputs, f* = x1·x2): relative NTK change on the circle points \
                 and on the training points, and the largest deviation over t of f_t from the linear kernel \
                 dynamics, relative to ‖f_0 - f*‖, with the network's own Θ_0 or with Θ_∞ (mean, sd over seeds).",
                cfg.steps, cfg.lr, cfg.train_points
            ),
            &rows,
        );
        let widths = cfg.train_widths.iter().map(|&w| w as f64).collect();
        Training { widths, drift_circle, drift_train, err_theta0, err_theta_inf, table }
    }
}

/// The e-folding steps of the eigenmodes, network against theory.
pub struct Modes {
    /// Gated modes: the `TOP_MODES` largest whose theory e-folds within half the run.
    pub n_gated: usize,
    /// The largest relative error over the gated modes (1 when none is gated: no vacuous pass).
    pub worst: f64,
    /// Whether the network's e-folding steps are ordered like the eigenvalues (gated modes).
    pub ordered: bool,
    pub table: Table,
}

impl Modes {
    pub fn of(cfg: &Config, r: &Results) -> Modes {
        let (modes, t_max) = (&r.modes, cfg.steps as f64);
        // A mode that never reached e^-1 has τ > T: its error is at least T/τ_theory - 1.
        let rel_err: Vec<f64> = modes
            .iter()
            .map(|m| match (m.tau_theory.is_nan(), m.tau_network.is_nan()) {
                (true, _) => f64::NAN, // the theory itself does not e-fold within the run
                (false, true) => (t_max / m.tau_theory - 1.0).max(0.0),
                (false, false) => (m.tau_network / m.tau_theory - 1.0).abs(),
            })
            .collect();
        let gated: Vec<bool> = modes.iter().map(|m| m.rank <= TOP_MODES && m.tau_theory <= t_max / 2.0).collect();
        let n_gated = gated.iter().filter(|g| **g).count();
        let worst = if n_gated == 0 {
            1.0
        } else {
            rel_err.iter().zip(&gated).filter(|(_, g)| **g).map(|(e, _)| *e).fold(0.0f64, f64::max)
        };
        let ordered = (1..modes.len()).filter(|&k| gated[k]).all(|k| modes[k].tau_network >= modes[k - 1].tau_network);
        #[derive(Serialize)]
        struct Row {
            mode: usize,
            lambda_mean: f64,
            tau_theory: f64,
            tau_network: f64,
            rel_error: f64,
            gated: String,
        }
        let rows: Vec<Row> = modes
            .iter()
            .zip(&rel_err)
            .zip(&gated)
            .map(|((m, &rel_error), g)| Row {
                mode: m.rank,
                lambda_mean: m.lambda_mean,
                tau_theory: m.tau_theory,
                tau_network: m.tau_network,
                rel_error,
                gated: g.to_string(),
            })
            .collect();
        let table = Table::from_rows(
            "eigenmodes",
            &format!(
                "Eigenmodes of each network's Θ_0 on the training inputs (rank 1 = largest λ; λ averaged over \
                 seeds): e-folding step of the residual's projection, theory (1 - ηλ/P)^t vs the network, width {}, \
                 {} seeds pooled. NaN: not reached within {} steps. Gated: the top {TOP_MODES} modes with \
                 τ_theory ≤ T/2.",
                cfg.train_widths[cfg.train_widths.len() - 1],
                cfg.train_seeds[cfg.train_seeds.len() - 1],
                cfg.steps
            ),
            &rows,
        );
        Modes { n_gated, worst, ordered, table }
    }
}

/// The report's setup notes.
pub fn notes(cfg: &Config) -> [String; 2] {
    [
        format!(
            "Network: L = {} weight layers, ReLU, NTK parametrisation (α̃^(k+1) = W_k α^k/√n_k + β b_k, all \
             parameters N(0,1)), β = {}, input dimension 2. Kernels on {} distinct points of the unit circle \
             x(γ) = (cos γ, sin γ) (γ = ±π would duplicate a point), x0 = (1, 0). The empirical NTK is the \
             per-layer Gram product Σ_k (g_(k+1)·g'_(k+1))(α^k·α'^k/n_k + β²) from one batched forward and \
             backward pass; the limit Θ_∞ is the closed-form arc-cosine recursion (no simulation).",
            cfg.depth, cfg.beta, cfg.circle_points
        ),
        format!(
            "Training: {} points x(γ) on the unit circle with γ drawn uniformly (one draw per root seed), target \
             f*(x) = x1·x2, {} full-batch GD steps with η = {} on (1/2P)Σ(f - f*)² (the target, step count and \
             learning rate of the paper's Fig. 1; its input distribution is not verified here: a third-party \
             reproduction reads it as Gaussian, which puts some points near the origin, where many ReLUs sit at \
             their kink and the seed-to-seed spread grows). Linear theory: f_t = f* + (I - ηΘ/P)^t (f_0 - f*) (exactly the \
             linearised GD; e^(-ηΘt/P) is its continuous-time limit, Sec. 5), with Θ either the network's \
             own kernel at t = 0 or the closed-form Θ_∞.",
            cfg.train_points, cfg.steps, cfg.lr
        ),
    ]
}
