//! Optimizers as small composable gradient transformations with explicit state (init/update),
//! the optax way; schedules; an object-safe stateful [`Optimizer`] and a serde
//! [`OptimizerConfig`] that builds one. For deterministic smooth problems: an [`Objective`]
//! trait, [`Armijo`] and [`StrongWolfe`] line searches, [`Lbfgs`] and the box-bounded
//! [`ProjectedLbfgs`].

pub mod lbfgs;
pub mod line_search;
pub mod optimizer;
pub mod schedule;
pub mod transform;

pub use lbfgs::{Lbfgs, Minimum, ProjectedLbfgs, Stop};
pub use line_search::{Armijo, Counting, FnObjective, LineSearch, LineSearchError, LineStep, Objective, StrongWolfe};
pub use optimizer::{Optimizer, OptimizerConfig, Stateful, stateful};
pub use schedule::Schedule;
pub use transform::*;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lbfgs;
