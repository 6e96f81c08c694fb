//! The registry of studies and the pieces of the CLI that tests reuse.

pub mod registry;
pub mod scaffold;
