//! Process-wide counts of the currency of curvature studies: gradient and Hessian-vector
//! product evaluations. Models increment them; the runner snapshots them around a study run and
//! writes the difference into `manifest.json`.
use std::sync::atomic::{AtomicU64, Ordering};

static GRADS: AtomicU64 = AtomicU64::new(0);
static HVPS: AtomicU64 = AtomicU64::new(0);

/// Count `n` gradient evaluations (one full-batch gradient = 1, whatever the batch size).
pub fn add_grads(n: u64) {
    GRADS.fetch_add(n, Ordering::Relaxed);
}
/// Count `n` Hessian-vector (or Gauss-Newton-vector) products.
pub fn add_hvps(n: u64) {
    HVPS.fetch_add(n, Ordering::Relaxed);
}
/// (gradients, HVPs) counted so far in this process.
pub fn snapshot() -> (u64, u64) {
    (GRADS.load(Ordering::Relaxed), HVPS.load(Ordering::Relaxed))
}
