//! Typed errors. `BadInput` is the user's mistake (exit code 2); everything else is a failure of
//! the run (exit code 1 after the report of what did finish), carried as `anyhow::Error`.
use thiserror::Error;

/// A problem with what the user asked for: unknown study, bad `--set`, missing data file,
/// `--device cuda` without a GPU. The CLI prints the message on one line and exits with 2.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct BadInput(pub String);

impl BadInput {
    /// A one-line message that says what is accepted.
    pub fn new(msg: impl Into<String>) -> Self {
        BadInput(msg.into())
    }
}

/// True when an `anyhow::Error` chain carries a [`BadInput`] (the CLI maps it to exit code 2).
pub fn is_bad_input(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<BadInput>().is_some())
}
