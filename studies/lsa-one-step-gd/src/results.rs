//! The parts of `Results`: one-layer runs and direct runs as the report reads them. Every `f64`
//! that a diverged run can make non-finite goes through `json_f64`.
use crate::runs::{Cell, DirectCell};
use crate::train;
use serde::{Deserialize, Serialize};

/// A training-loss curve: `(step, loss)` about 100 times over the run, and at the end.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Curve {
    pub step: Vec<usize>,
    #[serde(with = "common::report::json_f64::vec")]
    pub loss: Vec<f64>,
    #[serde(with = "common::report::json_f64")]
    pub final_loss: f64,
}

impl Curve {
    pub fn of(fit: &train::Fit) -> Curve {
        let (step, loss) = fit.curve.iter().copied().unzip();
        Curve { step, loss, final_loss: fit.final_loss }
    }
}

/// One one-layer run: its cell, the learned `Γ` and the held-out risks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OneLayerRun {
    pub cell: Cell,
    /// Learned `Γ`, row-major `d × d`.
    #[serde(with = "common::report::json_f64::vec")]
    pub gamma: Vec<f64>,
    /// The largest coefficient of the terms outside `x_qᵀΓh`.
    #[serde(with = "common::report::json_f64")]
    pub non_gd: f64,
    pub curve: Curve,
    /// Held-out risks of the predictors of `runs::predictor_names(kind)` (Monte Carlo, same prompts).
    #[serde(with = "common::report::json_f64::vec")]
    pub risks: Vec<f64>,
}

/// One directly trained LSA.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DirectRun {
    pub cell: DirectCell,
    #[serde(with = "common::report::json_f64")]
    pub final_loss: f64,
    /// Held-out risks of the LSA, one GD step with η*, and ridge.
    #[serde(with = "common::report::json_f64::vec")]
    pub risks: Vec<f64>,
    /// `Γ` for one layer (empty otherwise).
    #[serde(with = "common::report::json_f64::vec")]
    pub gamma: Vec<f64>,
}
