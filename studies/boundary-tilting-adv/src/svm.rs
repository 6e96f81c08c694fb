//! The L2-regularised hinge-loss SVM, min_w̃ λ/2‖w̃‖² + (1/n) Σ max(0, 1 − y_i w̃·x̃_i) with
//! x̃ = (x, 1) (the bias is the weight of a constant feature and is regularised, as in LIBLINEAR
//! and scikit-learn's `LinearSVC(loss="hinge")` with `intercept_scaling = 1`). Equivalently
//! ½‖w̃‖² + C Σ hinge with C = 1/(λn).
//!
//! Solved exactly by dual coordinate descent (Hsieh, Chang, Lin, Keerthi & Sundararajan, ICML
//! 2008): the dual min_α ½ αᵀQα − Σα, 0 ≤ α_i ≤ C, Q_ij = y_i y_j x̃_i·x̃_j, one coordinate at a time
//! in a seeded random order, with w̃ = Σ α_i y_i x̃_i kept up to date. It stops when the relative
//! duality gap (P(w̃) − D(α))/P(w̃) reaches the tolerance, a certificate of optimality: the
//! primal value is within that factor of the optimum.

use crate::geometry::dot;
use common::Seed;
use common::rng::permutation;

/// A solved SVM.
#[derive(Clone, Debug)]
pub struct SvmFit {
    /// Weights on the D input coordinates.
    pub w: Vec<f64>,
    /// Bias (weight of the constant feature).
    pub b: f64,
    /// Dual variables (kept for warm starts).
    pub alpha: Vec<f64>,
    /// Relative duality gap at the end.
    pub gap: f64,
    /// Epochs (passes over the data) used.
    pub epochs: usize,
}

/// Primal value ½‖w̃‖² + C Σ hinge and dual value Σα − ½‖w̃‖², with w̃ rebuilt from α.
pub fn primal_dual(x: &[Vec<f64>], y: &[f64], alpha: &[f64], c: f64) -> (f64, f64, Vec<f64>) {
    let wt = weights(x, y, alpha);
    let half = 0.5 * dot(&wt, &wt);
    let hinge: f64 = x.iter().zip(y).map(|(r, l)| (1.0 - l * score(&wt, r)).max(0.0)).sum();
    (half + c * hinge, alpha.iter().sum::<f64>() - half, wt)
}

/// w̃ = Σ α_i y_i x̃_i (length D + 1, the bias last).
pub fn weights(x: &[Vec<f64>], y: &[f64], alpha: &[f64]) -> Vec<f64> {
    let d = x.first().map_or(0, Vec::len);
    let mut wt = vec![0.0; d + 1];
    for ((r, l), a) in x.iter().zip(y).zip(alpha) {
        if *a != 0.0 {
            axpy(&mut wt, a * l, r);
        }
    }
    wt
}

fn score(wt: &[f64], r: &[f64]) -> f64 {
    let d = r.len();
    dot(&wt[..d], r) + wt[d]
}

fn axpy(wt: &mut [f64], s: f64, r: &[f64]) {
    let d = r.len();
    for (wi, ri) in wt[..d].iter_mut().zip(r) {
        *wi += s * ri;
    }
    wt[d] += s;
}

/// Solve at regularisation `lambda` by dual coordinate descent from `alpha0` (clipped into
/// [0, C]; pass zeros for a cold start), to relative duality gap `tol` or `max_epochs` passes.
/// The gap is checked every `check_every` epochs on a w̃ rebuilt from α (no drift).
pub fn solve(
    x: &[Vec<f64>],
    y: &[f64],
    lambda: f64,
    alpha0: &[f64],
    tol: f64,
    max_epochs: usize,
    seed: Seed,
) -> SvmFit {
    let n = y.len();
    let c = 1.0 / (lambda * n as f64);
    let check_every = 5;
    let mut alpha: Vec<f64> = alpha0.iter().map(|a| a.clamp(0.0, c)).collect();
    let qii: Vec<f64> = x.iter().map(|r| dot(r, r) + 1.0).collect();
    let mut wt = weights(x, y, &alpha);
    let mut rng = seed.rng();
    let mut epochs = 0;
    let mut gap;
    loop {
        if epochs % check_every == 0 || epochs >= max_epochs {
            let (p, dual, w_fresh) = primal_dual(x, y, &alpha, c);
            wt = w_fresh;
            gap = (p - dual) / p.abs().max(f64::MIN_POSITIVE);
            if gap <= tol || epochs >= max_epochs {
                break;
            }
        }
        for i in permutation(&mut rng, n) {
            let g = y[i] * score(&wt, &x[i]) - 1.0;
            let pg = if alpha[i] <= 0.0 {
                g.min(0.0)
            } else if alpha[i] >= c {
                g.max(0.0)
            } else {
                g
            };
            if pg != 0.0 {
                let new = (alpha[i] - g / qii[i]).clamp(0.0, c);
                let step = new - alpha[i];
                if step != 0.0 {
                    axpy(&mut wt, step * y[i], &x[i]);
                    alpha[i] = new;
                }
            }
        }
        epochs += 1;
    }
    let d = wt.len() - 1;
    SvmFit { w: wt[..d].to_vec(), b: wt[d], alpha, gap, epochs }
}
