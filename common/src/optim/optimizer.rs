//! A transform with its state and step counter behind one object-safe trait, and a serde config
//! that builds one (for study `Config`s).
use ndarray::{Array1, ArrayView1};
use serde::{Deserialize, Serialize};

use super::{Schedule, Transform, transform as t};

/// A stateful optimizer (object-safe; `Box<dyn Optimizer>`).
pub trait Optimizer: Send {
    /// The update to ADD to `params` for gradient `grad`; advances the step counter.
    fn update(&mut self, grad: ArrayView1<f64>, params: ArrayView1<f64>) -> Array1<f64>;
    /// `params += update(grad, params)`.
    fn step(&mut self, params: &mut Array1<f64>, grad: ArrayView1<f64>) {
        let u = self.update(grad, params.view());
        *params += &u;
    }
    /// Updates taken so far (the 0-based index of the next one).
    fn steps_taken(&self) -> usize;
    /// Forget the state (re-initialized from the parameters on the next update) and the step.
    fn reset(&mut self);
}

/// A [`Transform`] with its state (initialized lazily from the first parameters) and step.
#[derive(Clone, Debug)]
pub struct Stateful<T: Transform> {
    pub transform: T,
    pub state: Option<T::State>,
    pub step: usize,
}

impl<T: Transform> Stateful<T> {
    pub fn new(transform: T) -> Self {
        Stateful { transform, state: None, step: 0 }
    }
}

/// Wrap a transform as an [`Optimizer`].
pub fn stateful<T: Transform>(transform: T) -> Stateful<T> {
    Stateful::new(transform)
}

impl<T> Optimizer for Stateful<T>
where
    T: Transform + Send,
    T::State: Send,
{
    fn update(&mut self, grad: ArrayView1<f64>, params: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(grad.len(), params.len(), "optimizer: gradient and parameters differ in length");
        let state = self.state.get_or_insert_with(|| self.transform.init(params));
        let u = self.transform.update(grad, state, params, self.step);
        self.step += 1;
        u
    }
    fn steps_taken(&self) -> usize {
        self.step
    }
    fn reset(&mut self) {
        self.state = None;
        self.step = 0;
    }
}

impl<O: Optimizer + ?Sized> Optimizer for Box<O> {
    fn update(&mut self, grad: ArrayView1<f64>, params: ArrayView1<f64>) -> Array1<f64> {
        (**self).update(grad, params)
    }
    fn steps_taken(&self) -> usize {
        (**self).steps_taken()
    }
    fn reset(&mut self) {
        (**self).reset()
    }
}

fn b1_default() -> f64 {
    0.9
}
fn b2_default() -> f64 {
    0.999
}
fn eps_default() -> f64 {
    1e-8
}
fn adagrad_eps_default() -> f64 {
    1e-10
}
fn beta_default() -> f64 {
    0.9
}

/// An optimizer as data (serde, internally tagged by `kind`), e.g.
/// `{"kind": "adam", "lr": {"constant": 0.001}}` (b1, b2, eps default to 0.9, 0.999, 1e-8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    Sgd {
        lr: Schedule,
    },
    Momentum {
        lr: Schedule,
        #[serde(default = "beta_default")]
        beta: f64,
    },
    Nesterov {
        lr: Schedule,
        #[serde(default = "beta_default")]
        beta: f64,
    },
    Adam {
        lr: Schedule,
        #[serde(default = "b1_default")]
        b1: f64,
        #[serde(default = "b2_default")]
        b2: f64,
        #[serde(default = "eps_default")]
        eps: f64,
    },
    #[serde(rename = "adamw")]
    AdamW {
        lr: Schedule,
        #[serde(default = "b1_default")]
        b1: f64,
        #[serde(default = "b2_default")]
        b2: f64,
        #[serde(default = "eps_default")]
        eps: f64,
        wd: f64,
    },
    Adagrad {
        lr: Schedule,
        #[serde(default = "adagrad_eps_default")]
        eps: f64,
    },
    AdagradNorm {
        lr: Schedule,
        b0: f64,
    },
    #[serde(rename = "diffgrad")]
    DiffGrad {
        lr: Schedule,
        #[serde(default = "b1_default")]
        b1: f64,
        #[serde(default = "b2_default")]
        b2: f64,
        #[serde(default = "eps_default")]
        eps: f64,
    },
    NormalizedGd {
        lr: Schedule,
    },
}

impl OptimizerConfig {
    /// Adam with the paper's defaults (b1 = 0.9, b2 = 0.999, eps = 1e-8).
    pub fn adam(lr: impl Into<Schedule>) -> Self {
        OptimizerConfig::Adam { lr: lr.into(), b1: 0.9, b2: 0.999, eps: 1e-8 }
    }
    pub fn sgd(lr: impl Into<Schedule>) -> Self {
        OptimizerConfig::Sgd { lr: lr.into() }
    }

    /// Build the optimizer.
    pub fn build(&self) -> Box<dyn Optimizer> {
        use OptimizerConfig as C;
        match self.clone() {
            C::Sgd { lr } => Box::new(stateful(t::sgd(lr))),
            C::Momentum { lr, beta } => Box::new(stateful(t::momentum(lr, beta))),
            C::Nesterov { lr, beta } => Box::new(stateful(t::nesterov(lr, beta))),
            C::Adam { lr, b1, b2, eps } => Box::new(stateful(t::adam(lr, b1, b2, eps))),
            C::AdamW { lr, b1, b2, eps, wd } => Box::new(stateful(t::adamw(lr, b1, b2, eps, wd))),
            C::Adagrad { lr, eps } => Box::new(stateful(t::adagrad(lr, eps))),
            C::AdagradNorm { lr, b0 } => Box::new(stateful(t::adagrad_norm(lr, b0))),
            C::DiffGrad { lr, b1, b2, eps } => Box::new(stateful(t::diffgrad(lr, b1, b2, eps))),
            C::NormalizedGd { lr } => Box::new(stateful(t::normalized_gd(lr))),
        }
    }

    /// Short name for tables and legends (`"sgd"`, `"adam"`, ...).
    pub fn name(&self) -> &'static str {
        use OptimizerConfig as C;
        match self {
            C::Sgd { .. } => "sgd",
            C::Momentum { .. } => "momentum",
            C::Nesterov { .. } => "nesterov",
            C::Adam { .. } => "adam",
            C::AdamW { .. } => "adamw",
            C::Adagrad { .. } => "adagrad",
            C::AdagradNorm { .. } => "adagrad_norm",
            C::DiffGrad { .. } => "diffgrad",
            C::NormalizedGd { .. } => "normalized_gd",
        }
    }

    /// The learning-rate schedule.
    pub fn lr(&self) -> &Schedule {
        use OptimizerConfig as C;
        match self {
            C::Sgd { lr }
            | C::Momentum { lr, .. }
            | C::Nesterov { lr, .. }
            | C::Adam { lr, .. }
            | C::AdamW { lr, .. }
            | C::Adagrad { lr, .. }
            | C::AdagradNorm { lr, .. }
            | C::DiffGrad { lr, .. }
            | C::NormalizedGd { lr } => lr,
        }
    }

    /// The same optimizer with another learning-rate schedule (for sweeps).
    pub fn with_lr(&self, new: impl Into<Schedule>) -> Self {
        let mut c = self.clone();
        use OptimizerConfig as C;
        match &mut c {
            C::Sgd { lr }
            | C::Momentum { lr, .. }
            | C::Nesterov { lr, .. }
            | C::Adam { lr, .. }
            | C::AdamW { lr, .. }
            | C::Adagrad { lr, .. }
            | C::AdagradNorm { lr, .. }
            | C::DiffGrad { lr, .. }
            | C::NormalizedGd { lr } => *lr = new.into(),
        }
        c
    }
}
