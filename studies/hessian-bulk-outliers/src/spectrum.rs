//! Spectrum summaries used by the study: the outlier count from the largest gap between
//! consecutive top eigenvalues, spectral mass near zero from SLQ quadrature, and the explicit
//! residual term of the Hessian of a one-hidden-layer ReLU network (the cross-check of
//! `Hessian = GGN + residual`).
use common::models::{Mlp, Model, Targets};
use ndarray::{Array2, ArrayView1, ArrayView2};

/// Number of outliers: for eigenvalues sorted in decreasing order, the index `i` (1-based count
/// of eigenvalues above the gap) that maximizes `λ_i / λ_{i+1}` over consecutive pairs with
/// `λ_{i+1} > 0`. Returns `(count, ratio)`; `(0, 1)` when no pair qualifies.
pub fn largest_gap(top: &[f64]) -> (usize, f64) {
    let mut best = (0, 1.0);
    for i in 0..top.len().saturating_sub(1) {
        if top[i + 1] > 0.0 {
            let r = top[i] / top[i + 1];
            if r > best.1 {
                best = (i + 1, r);
            }
        }
    }
    best
}

/// `λ_i / λ_{i+1}` for the 1-based count `i` (the ratio across the gap after `i` eigenvalues);
/// NaN when out of range or `λ_{i+1} <= 0`.
pub fn ratio_after(top: &[f64], i: usize) -> f64 {
    if i == 0 || i >= top.len() || top[i] <= 0.0 { f64::NAN } else { top[i - 1] / top[i] }
}

/// Fraction of SLQ spectral mass (mean over probes of the quadrature weights) on nodes with
/// `|λ| <= tol`.
pub fn slq_mass_within(nodes_weights: &[(Vec<f64>, Vec<f64>)], tol: f64) -> f64 {
    let np = nodes_weights.len().max(1) as f64;
    nodes_weights
        .iter()
        .map(|(nodes, w)| nodes.iter().zip(w).filter(|(t, _)| t.abs() <= tol).map(|(_, w)| w).sum::<f64>())
        .sum::<f64>()
        / np
}

/// The residual term `(1/N) Σ_i Σ_c (∂ℓ_i/∂f_ic) ∇²_w f_ic` of the softmax-CE Hessian of a
/// one-hidden-layer ReLU MLP with biases (`sizes = [d, h, k]`), built from its closed form: `f` is
/// bilinear in (W2, hidden pre-activations), so the only nonzero blocks couple `W2[c, j]` with
/// `(W1[j, :], b1[j])`, with value `(1/N) Σ_i g_ic 1[z_ij > 0] (x_i, 1)` where `g = p - onehot`.
/// Independent of the library's R-operator (used only in tests, on small nets).
pub fn relu_residual(mlp: &Mlp, w: ArrayView1<f64>, x: ArrayView2<f64>, labels: &[usize]) -> Array2<f64> {
    assert_eq!(mlp.sizes.len(), 3, "one hidden layer");
    assert!(mlp.bias, "with biases");
    let (d, h, k) = (mlp.sizes[0], mlp.sizes[1], mlp.sizes[2]);
    let n = x.nrows();
    let p = mlp.num_params();
    let (w1, b1) = mlp.layer(w, 0);
    let (w2, b2) = mlp.layer(w, 1);
    let (b1, b2) = (b1.expect("bias"), b2.expect("bias"));
    let (off2, _) = mlp.layer_offset(1);
    let mut r = Array2::<f64>::zeros((p, p));
    for i in 0..n {
        let z: Vec<f64> = (0..h).map(|j| w1.row(j).dot(&x.row(i)) + b1[j]).collect();
        let a: Vec<f64> = z.iter().map(|v| v.max(0.0)).collect();
        let f: Vec<f64> = (0..k).map(|c| (0..h).map(|j| w2[[c, j]] * a[j]).sum::<f64>() + b2[c]).collect();
        let m = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = f.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        for (c, ec) in e.iter().enumerate() {
            let g = ec / s - f64::from(u8::from(labels[i] == c));
            for (j, zj) in z.iter().enumerate() {
                if *zj <= 0.0 {
                    continue;
                }
                let pw2 = off2 + c * h + j;
                for q in 0..=d {
                    let pw1 = if q < d { j * d + q } else { h * d + j };
                    let xq = if q < d { x[[i, q]] } else { 1.0 };
                    let v = g * xq / n as f64;
                    r[[pw2, pw1]] += v;
                    r[[pw1, pw2]] += v;
                }
            }
        }
    }
    r
}

/// Class labels of a `Targets::Classes`.
pub fn class_labels(y: &Targets) -> &[usize] {
    match y {
        Targets::Classes(c) => c,
        Targets::Regression(_) => panic!("class labels expected"),
    }
}
