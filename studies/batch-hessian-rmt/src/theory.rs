//! The predictions the measurements are held against: the second-order perturbation-theory size of
//! the logistic batch excess (from the dense full-data Hessian), and the mean-square stability
//! threshold of SGD on the least-squares problem of E2.
use crate::check::pt_constant;
use common::linalg::dense::gemm_new;
use common::linalg::eigh;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// The logistic model's full-data Hessian computed densely (a GEMM of the data, not the study's
/// operator), its top eigenpair, and the perturbation-theory constant of the batch excess.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogisticPt {
    /// `λ₁(H)` and `Tr H` of the dense matrix.
    pub lambda1_dense: f64,
    pub trace_dense: f64,
    /// `c` of `E λ₁(H_B) − λ₁(H) ≈ c/B` (see [`pt_constant`]).
    pub c_pt: f64,
    /// The top eigenvector `v₁` (not serialized: `measure` uses it for the batches' Rayleigh quotients).
    #[serde(skip)]
    pub v1: Array1<f64>,
}

/// `H = (1/n) Σ s_i x_i x_iᵀ` with `s_i = p_i(1 − p_i)`; per-sample matrices `h_i = s_i x_i x_iᵀ`, so
/// `v_jᵀ h_i v₁ = s_i (x_i·v_j)(x_i·v₁)`.
pub fn logistic_pt(x: ArrayView2<f64>, w: ArrayView1<f64>) -> LogisticPt {
    let n = x.nrows() as f64;
    let s = x.dot(&w).mapv(|z| {
        let p = 1.0 / (1.0 + (-z).exp());
        p * (1.0 - p)
    });
    let mut xs = x.to_owned();
    for (mut row, si) in xs.axis_iter_mut(Axis(0)).zip(&s) {
        row *= *si;
    }
    let h = gemm_new(&x.t(), &xs.view()) / n;
    let (vals, vecs) = eigh(&h);
    let d = vals.len();
    let v1 = vecs.column(d - 1).to_owned();
    // Per-sample products h_i v₁ = s_i (x_i·v₁) x_i, in the eigenbasis: rows of (X V) scaled.
    let a = gemm_new(&x, &vecs.view());
    let mut per = a;
    for (mut row, si) in per.axis_iter_mut(Axis(0)).zip(&s) {
        let f = si * row[d - 1];
        row *= f;
    }
    let eye = Array2::<f64>::eye(d);
    let c_pt = pt_constant(vals.view(), eye.view(), per.view());
    LogisticPt { lambda1_dense: vals[d - 1], trace_dense: vals.sum(), c_pt, v1 }
}

/// The mean-square stability threshold of SGD with batches of `b` samples drawn with replacement on
/// the noiseless quadratic `½ (w − w*)ᵀ H (w − w*)` with Gaussian features, from the eigenvalues `h`
/// of `H`. The error covariance `Σ` evolves by `T(Σ) = Σ − η(HΣ + ΣH) + η² E[H_B Σ H_B]` with
/// `E[H_B Σ H_B] = (1 + 1/B) HΣH + (1/B) Tr(HΣ) H` (Gaussian fourth moments); `T` maps PSD matrices
/// to PSD matrices, so its spectral radius is its top eigenvalue, below 1 iff
/// `η < 1/μ` with `μ` the top eigenvalue of `Q` relative to `L` (`L(Σ) = HΣ + ΣH`, `Q` the `η²` term).
/// In `H`'s eigenbasis the off-diagonal entries decouple (`μ_jk = (1 + 1/B) h_j h_k / (h_j + h_k)`)
/// and the diagonal gives `(1 + 1/B)/2 diag(h) + (1/2B) √h √hᵀ`. At `B = 1` this is close to
/// `2/(Tr H + 2λ_max)`; as `B → ∞` it tends to `2/λ_max`.
pub fn ms_threshold(h: &[f64], b: usize) -> f64 {
    let bf = b as f64;
    let mut h: Vec<f64> = h.iter().map(|v| v.max(0.0)).collect();
    h.sort_by(|x, y| y.total_cmp(x));
    let Some(&h1) = h.first() else { return f64::INFINITY };
    // Off-diagonal entries: h_j h_k/(h_j + h_k) grows in both, so the two largest give the maximum.
    let off = match h.get(1) {
        Some(&h2) if h1 + h2 > 0.0 => (1.0 + 1.0 / bf) * h1 * h2 / (h1 + h2),
        _ => 0.0,
    };
    // Diagonal block a_j δ_jk + ρ s_j s_k (a_j = (1 + 1/B) h_j / 2, s = √h, ρ = 1/2B): its top
    // eigenvalue is the root above max a_j of the secular equation 1 = ρ Σ s_j² / (μ − a_j).
    let rho = 1.0 / (2.0 * bf);
    let a: Vec<f64> = h.iter().map(|v| (1.0 + 1.0 / bf) * v / 2.0).collect();
    let (mut lo, mut hi) = (a[0], a[0] + rho * h.iter().sum::<f64>());
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let g: f64 = h.iter().zip(&a).map(|(s2, aj)| s2 / (mid - aj)).sum::<f64>() * rho;
        if mid <= lo || mid >= hi {
            break;
        }
        if g > 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    1.0 / hi.max(off)
}
