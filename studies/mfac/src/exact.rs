//! Exactness of both M-FAC algorithms against references outside them (claim 1): the dense
//! damped empirical Fisher factored by Cholesky (faer), and the repo's `HInvSlow`.
use crate::dynamic::DynamicInv;
use crate::reference::{DenseFisher, hinv_slow, max_rel_err, rel_err};
use crate::static_inv::{DEFAULT_PAGE, StaticInv};
use common::Seed;
use common::rng::{gaussian_mat, gaussian_vec};
use ndarray::{Array1, Array2, ArrayView2, s};
use serde::{Deserialize, Serialize};

/// One comparison with the dense reference.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExactRow {
    pub damp: f64,
    /// `random` (generic x), `span` (x in the span of the gradients: the cancellation-heavy case),
    /// `gradient` (one of the stored gradients, as in the optimizer), `diag` (diag of F^{-1}).
    pub vector: String,
    /// `dynamic`, `static` or `hinv_slow`.
    pub algorithm: String,
    /// Relative error against the dense Cholesky reference (`||a - b|| / ||b||`; for `diag`, the
    /// largest elementwise relative error; NaN when the reference could not factor F).
    #[serde(with = "common::report::json_f64")]
    pub rel_err: f64,
    /// `kappa(F) * eps`: the accuracy any backward-stable solver can promise.
    #[serde(with = "common::report::json_f64")]
    pub kappa_eps: f64,
}

/// `kappa(F) * eps` for `F = damp I + G^T G / m`, from the largest eigenvalue of `G G^T / m`.
fn kappa_eps(g: ArrayView2<f64>, damp: f64) -> f64 {
    let gg = g.dot(&g.t()) / g.nrows() as f64;
    let top = common::linalg::eigvalsh(&gg).iter().copied().fold(0.0, f64::max);
    (damp + top) / damp * f64::EPSILON
}

/// Random `m x d` gradients and the three test vectors.
fn problem(seed: Seed, m: usize, d: usize) -> (Array2<f64>, Vec<(&'static str, Array1<f64>)>) {
    let mut rng = seed.rng();
    let g = gaussian_mat(&mut rng, m, d, 1.0);
    let x = gaussian_vec(&mut rng, d, 1.0);
    let c = gaussian_vec(&mut rng, m, 1.0);
    let span = g.t().dot(&c);
    let grad = g.row(m / 2).to_owned();
    (g, vec![("random", x), ("span", span), ("gradient", grad)])
}

/// M1 + M4: both algorithms and `HInvSlow` against the dense reference at each damping.
pub fn exactness(m: usize, d: usize, damps: &[f64], slow: bool, seed: Seed) -> Vec<ExactRow> {
    let (g, vecs) = problem(seed, m, d);
    let mut rows = vec![];
    for &damp in damps {
        let ke = kappa_eps(g.view(), damp);
        let dense = DenseFisher::new(g.view(), damp);
        let dy = DynamicInv::new(g.clone(), damp);
        let st = StaticInv::new(g.view(), damp, DEFAULT_PAGE);
        let hs = slow.then(|| hinv_slow(g.view(), damp));
        let mut push = |vector: &str, algorithm: &str, rel_err: f64| {
            rows.push(ExactRow { damp, vector: vector.into(), algorithm: algorithm.into(), rel_err, kappa_eps: ke })
        };
        for (name, v) in &vecs {
            let r = dense.solve(v.view());
            push(name, "dynamic", rel_err(dy.mul(v.view()).view(), r.view()));
            push(name, "static", rel_err(st.mul(v.view()).view(), r.view()));
            if let Some(h) = &hs {
                push(name, "hinv_slow", rel_err(h.dot(v).view(), r.view()));
            }
        }
        let inv = dense.inverse();
        push("diag", "static", max_rel_err(st.diag().view(), inv.diag()));
        if let Some(h) = &hs {
            push("diag", "hinv_slow", max_rel_err(h.diag(), inv.diag()));
        }
    }
    rows
}

/// M2: the ring buffer. Start from m random gradients, insert `inserts` more one at a time
/// (alternating `update` and `update_mul`, which the optimizer uses), and after every insert
/// compare the IHVP with a dense solve on the current window. Returns the error after each insert.
pub fn ring_buffer(m: usize, d: usize, inserts: usize, damp: f64, seed: Seed) -> Vec<f64> {
    let (g0, _) = problem(seed.child("init"), m, d);
    let (fresh, _) = problem(seed.child("new"), inserts, d);
    let mut window = g0.clone();
    let mut dy = DynamicInv::new(g0, damp);
    let mut rng = seed.child("x").rng();
    (0..inserts)
        .map(|k| {
            let g = fresh.row(k);
            window.slice_mut(s![k % m, ..]).assign(&g);
            let dense = DenseFisher::new(window.view(), damp);
            if k % 2 == 0 {
                dy.update(g);
                let x = gaussian_vec(&mut rng, d, 1.0) + window.t().dot(&gaussian_vec(&mut rng, m, 1.0));
                rel_err(dy.mul(x.view()).view(), dense.solve(x.view()).view())
            } else {
                let got = dy.update_mul(g);
                rel_err(got.view(), dense.solve(g).view())
            }
        })
        .collect()
}
