//! Optimizers as small composable gradient transformations with explicit state (init/update),
//! the optax way; schedules; an object-safe stateful [`Optimizer`] and a serde
//! [`OptimizerConfig`] that builds one.

pub mod optimizer;
pub mod schedule;
pub mod transform;

pub use optimizer::{Optimizer, OptimizerConfig, Stateful, stateful};
pub use schedule::Schedule;
pub use transform::*;

#[cfg(test)]
mod tests;
