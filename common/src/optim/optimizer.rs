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
    /// The transform.
    pub transform: T,
    /// Its state; `None` until the first update.
    pub state: Option<T::State>,
    /// Updates taken so far (the 0-based step of the next one).
    pub step: usize,
}

impl<T: Transform> Stateful<T> {
    /// `transform` with no state yet, at step 0.
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
    /// Gradient descent ([`t::sgd`]).
    Sgd {
        /// Learning rate.
        lr: Schedule,
    },
    /// Heavy-ball momentum ([`t::momentum`]).
    Momentum {
        /// Learning rate.
        lr: Schedule,
        /// Momentum decay (default 0.9).
        #[serde(default = "beta_default")]
        beta: f64,
    },
    /// Nesterov momentum ([`t::nesterov`]).
    Nesterov {
        /// Learning rate.
        lr: Schedule,
        /// Momentum decay (default 0.9).
        #[serde(default = "beta_default")]
        beta: f64,
    },
    /// Adam ([`t::adam`]).
    Adam {
        /// Learning rate.
        lr: Schedule,
        /// First-moment decay (default 0.9).
        #[serde(default = "b1_default")]
        b1: f64,
        /// Second-moment decay (default 0.999).
        #[serde(default = "b2_default")]
        b2: f64,
        /// Denominator offset (default 1e-8).
        #[serde(default = "eps_default")]
        eps: f64,
    },
    /// AdamW ([`t::adamw`]); serde tag `"adamw"`.
    #[serde(rename = "adamw")]
    AdamW {
        /// Learning rate.
        lr: Schedule,
        /// First-moment decay (default 0.9).
        #[serde(default = "b1_default")]
        b1: f64,
        /// Second-moment decay (default 0.999).
        #[serde(default = "b2_default")]
        b2: f64,
        /// Denominator offset (default 1e-8).
        #[serde(default = "eps_default")]
        eps: f64,
        /// Decoupled weight decay (required), also scaled by the learning rate.
        wd: f64,
    },
    /// Diagonal AdaGrad ([`t::adagrad`]).
    Adagrad {
        /// Learning rate.
        lr: Schedule,
        /// Denominator offset (default 1e-10).
        #[serde(default = "adagrad_eps_default")]
        eps: f64,
    },
    /// AdaGrad-Norm ([`t::adagrad_norm`]).
    AdagradNorm {
        /// Learning rate.
        lr: Schedule,
        /// The initial accumulator `b` (required).
        b0: f64,
    },
    /// diffGrad ([`t::diffgrad`]); serde tag `"diffgrad"`.
    #[serde(rename = "diffgrad")]
    DiffGrad {
        /// Learning rate.
        lr: Schedule,
        /// First-moment decay (default 0.9).
        #[serde(default = "b1_default")]
        b1: f64,
        /// Second-moment decay (default 0.999).
        #[serde(default = "b2_default")]
        b2: f64,
        /// Denominator offset (default 1e-8).
        #[serde(default = "eps_default")]
        eps: f64,
    },
    /// The official code's diffGrad, aliased buffers and all ([`t::diffgrad_buggy`]); serde tag
    /// `"diffgrad_buggy"`.
    #[serde(rename = "diffgrad_buggy")]
    DiffGradBuggy {
        /// Learning rate.
        lr: Schedule,
        /// First-moment decay (default 0.9).
        #[serde(default = "b1_default")]
        b1: f64,
        /// Second-moment decay (default 0.999).
        #[serde(default = "b2_default")]
        b2: f64,
        /// Denominator offset (default 1e-8).
        #[serde(default = "eps_default")]
        eps: f64,
    },
    /// AMSGrad ([`t::amsgrad`]); serde tag `"amsgrad"`.
    #[serde(rename = "amsgrad")]
    AmsGrad {
        /// Learning rate.
        lr: Schedule,
        /// First-moment decay (default 0.9).
        #[serde(default = "b1_default")]
        b1: f64,
        /// Second-moment decay (default 0.999).
        #[serde(default = "b2_default")]
        b2: f64,
        /// Denominator offset (default 1e-8).
        #[serde(default = "eps_default")]
        eps: f64,
    },
    /// Normalized gradient descent ([`t::normalized_gd`]).
    NormalizedGd {
        /// Learning rate.
        lr: Schedule,
    },
}

impl OptimizerConfig {
    /// Adam with the paper's defaults (b1 = 0.9, b2 = 0.999, eps = 1e-8).
    pub fn adam(lr: impl Into<Schedule>) -> Self {
        OptimizerConfig::Adam { lr: lr.into(), b1: 0.9, b2: 0.999, eps: 1e-8 }
    }
    /// Plain gradient descent.
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
            C::DiffGradBuggy { lr, b1, b2, eps } => Box::new(stateful(t::diffgrad_buggy(lr, b1, b2, eps))),
            C::AmsGrad { lr, b1, b2, eps } => Box::new(stateful(t::amsgrad(lr, b1, b2, eps))),
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
            C::DiffGradBuggy { .. } => "diffgrad_buggy",
            C::AmsGrad { .. } => "amsgrad",
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
            | C::DiffGradBuggy { lr, .. }
            | C::AmsGrad { lr, .. }
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
            | C::DiffGradBuggy { lr, .. }
            | C::AmsGrad { lr, .. }
            | C::NormalizedGd { lr } => *lr = new.into(),
        }
        c
    }
}
