//! Hutchinson's stochastic trace estimator.
use ndarray::Array1;
use rand::Rng;
use rayon::prelude::*;

use super::LinOp;
use crate::rng::rademacher_vec;

/// Hutchinson's estimator with Rademacher probes: `(mean, sample variance)` of `z^T A z` over
/// `probes` probes (the variance with denominator `probes - 1`; NaN for one probe). For Rademacher
/// probes the variance of one sample is `2 (|A|_F^2 - sum_i A_ii^2)`; the standard error of the
/// mean is `sqrt(variance / probes)`.
pub fn hutchinson_trace<O: LinOp + ?Sized>(op: &O, probes: usize, rng: &mut impl Rng) -> (f64, f64) {
    let samples = hutchinson_samples(op, probes, rng);
    mean_var(&samples)
}

/// The individual samples `z_i^T A z_i` of Hutchinson's estimator, in probe order.
pub fn hutchinson_samples<O: LinOp + ?Sized>(op: &O, probes: usize, rng: &mut impl Rng) -> Vec<f64> {
    let n = op.dim();
    let chunk = 4 * rayon::current_num_threads().max(1);
    let mut out = Vec::with_capacity(probes);
    let mut left = probes;
    while left > 0 {
        let c = left.min(chunk);
        let zs: Vec<Array1<f64>> = (0..c).map(|_| rademacher_vec(rng, n)).collect();
        let vals: Vec<f64> = zs.par_iter().map(|z| z.dot(&op.apply(z.view()))).collect();
        out.extend(vals);
        left -= c;
    }
    out
}

/// Mean and sample variance (denominator `len - 1`; NaN if fewer than two values).
pub fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = x.iter().sum::<f64>() / n;
    let var = if x.len() < 2 { f64::NAN } else { x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0) };
    (mean, var)
}
