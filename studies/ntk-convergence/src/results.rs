//! The parts of `Results`: what each measurement of `sim` hands to the report. Every `f64` that
//! a hostile configuration can make non-finite goes through `json_f64`.
use crate::kernel::Activation;
use serde::{Deserialize, Serialize};

/// C0: the structured NTK against J Jᵀ on a small network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Structured {
    /// ‖Θ_structured - JJᵀ‖_F/‖JJᵀ‖_F.
    #[serde(with = "common::report::json_f64")]
    pub rel_err: f64,
    pub n_params: usize,
}

/// Which dual activation a Monte-Carlo check compares.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Quantity {
    #[serde(rename = "E[σσ]")]
    SigmaSigma,
    #[serde(rename = "E[σ'σ']")]
    DsigmaDsigma,
}

impl Quantity {
    /// The expectation, as in the paper.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::SigmaSigma => "E[σσ]",
            Quantity::DsigmaDsigma => "E[σ'σ']",
        }
    }
}

/// C1 (recursion): one closed-form expectation of layer l against Monte Carlo on Σ^(l-1)(x0, x(γ)).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct McCheck {
    pub layer_l: usize,
    pub gamma: f64,
    pub quantity: Quantity,
    #[serde(with = "common::report::json_f64")]
    pub closed_form: f64,
    #[serde(with = "common::report::json_f64")]
    pub monte_carlo: f64,
    #[serde(with = "common::report::json_f64")]
    pub mc_std_err: f64,
}

/// C3: the spectrum of one limiting kernel's Gram matrix on equally spaced circle points.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spectrum {
    pub activation: Activation,
    pub points: usize,
    #[serde(with = "common::report::json_f64")]
    pub lambda_min_over_max: f64,
    #[serde(with = "common::report::json_f64")]
    pub lambda_max: f64,
    /// Eigenvalues above `PD_TOL`·λ_max.
    pub numerical_rank: usize,
}

/// C1: one random network at initialisation, compared with Θ_∞ on the circle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InitRun {
    pub width: usize,
    pub rep: usize,
    /// ‖Θ - Θ_∞‖_F / ‖Θ_∞‖_F over all circle points.
    #[serde(with = "common::report::json_f64")]
    pub dev_fro: f64,
    /// ‖Θ(x0,·) - Θ_∞(x0,·)‖ / ‖Θ_∞(x0,·)‖ (the paper's Fig. 1 row).
    #[serde(with = "common::report::json_f64")]
    pub dev_row: f64,
    /// The same as `dev_fro` for the kernel read in standard parametrisation (negative control).
    #[serde(with = "common::report::json_f64")]
    pub dev_fro_standard: f64,
}

/// C2, C4: one network trained by full-batch GD.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainRun {
    pub width: usize,
    pub rep: usize,
    /// ‖Θ_T - Θ_0‖_F/‖Θ_0‖_F on the circle points.
    #[serde(with = "common::report::json_f64")]
    pub drift_circle: f64,
    /// The same on the training points.
    #[serde(with = "common::report::json_f64")]
    pub drift_train: f64,
    /// max_t ‖f_t - f_lin,t‖/‖f_0 - f*‖ with the network's own Θ_0 in the linear dynamics.
    #[serde(with = "common::report::json_f64")]
    pub lin_err_theta0: f64,
    /// The same with the closed-form Θ_∞.
    #[serde(with = "common::report::json_f64")]
    pub lin_err_theta_inf: f64,
    /// ‖f_T - f*‖/‖f_0 - f*‖.
    #[serde(with = "common::report::json_f64")]
    pub residual_ratio: f64,
    /// Θ_0(x0, x(γ)) and Θ_T(x0, x(γ)) on the circle.
    #[serde(with = "common::report::json_f64::vec")]
    pub row0: Vec<f64>,
    #[serde(with = "common::report::json_f64::vec")]
    pub row_t: Vec<f64>,
}

/// One training output over the shown steps: the network and f* + (I - ηΘ_∞/P)^t (f_0 - f*).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutputCurve {
    #[serde(with = "common::report::json_f64::vec")]
    pub network: Vec<f64>,
    #[serde(with = "common::report::json_f64::vec")]
    pub theory: Vec<f64>,
}

/// One eigenmode of Θ_0 at the largest training width, seeds pooled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mode {
    /// 1 = the largest eigenvalue.
    pub rank: usize,
    #[serde(with = "common::report::json_f64")]
    pub lambda_mean: f64,
    /// e-folding step of (1 - ηλ/P)^t and of the network's residual (NaN: not within the run).
    #[serde(with = "common::report::json_f64")]
    pub tau_theory: f64,
    #[serde(with = "common::report::json_f64")]
    pub tau_network: f64,
    /// |v_kᵀ(f_t - f*)| / |v_kᵀ(f_0 - f*)| at the shown steps, network and theory (the top modes only).
    #[serde(with = "common::report::json_f64::vec")]
    pub measured: Vec<f64>,
    #[serde(with = "common::report::json_f64::vec")]
    pub theory: Vec<f64>,
}
