//! Shared machinery for the study crates: seeds, data, devices, numerics, the report pipeline and
//! the `Study` contract. Lower layers never import higher ones:
//! `rng` < `data` < `device` < `linalg` < `models` < `optim` < `train` < `report` < `study`.

pub mod counters;
pub mod data;
pub mod device;
pub mod error;
pub mod gpu;
pub mod linalg;
pub mod models;
pub mod optim;
pub mod progress;
pub mod report;
pub mod rng;
pub mod stats;
pub mod study;
pub mod train;

pub use error::{BadInput, ReproError};
pub use report::{Claim, Expect, Figure, Outcome, Series, Table};
pub use rng::Seed;
pub use study::{Ctx, DynStudy, Paper, Profile, Profiles, Study};
