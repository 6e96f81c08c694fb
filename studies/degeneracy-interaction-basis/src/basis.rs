//! The interaction basis (paper Sec. 6), ported from `rib.interaction_algos.calculate_interaction_rotations`
//! with `n_intervals = 0` (gradients at α = 1) and biases folded in.
//!
//! Node layer `l` is the layer input with the constant appended, `ã_l = [a_l; 1]` (`ã_0 = [x; 1]`);
//! the last node layer is the output `f`. From the output backwards:
//! * the output layer is rotated by the eigenvectors `U` of `G = E[f fᵀ]` (`C = U`, `C⁺ = Uᵀ`);
//! * for `l < L`: `G = E[ã ãᵀ] = U′D′U′ᵀ`, eigenvalues below `threshold` dropped (`U`, `D`);
//!   `g(x) = ∇_ã ‖C_{l+1}ᵀ ã_{l+1}(ã)‖²`, `M′ = E[g gᵀ]`, `Λ′ = E[g ãᵀ]`;
//!   `M = (UD^{1/2})ᵀ M′ (UD^{1/2}) = V·diag·Vᵀ`;
//!   `Λ = |diag((UD^{1/2}V)ᵀ Λ′ (UD^{−1/2}V))|`, sorted descending, values below `threshold`
//!   dropped; `C = U D^{−1/2} V Λ^{1/2}`, `C⁺ = Λ^{−1/2} Vᵀ D^{1/2} Uᵀ`.
//!
//! Edges (rib's "squared" attribution at α = 1): between node layers `l` and `l+1`,
//! `E[j, i] = mean_x (Ĵ_{ji}(x) f̂_i(x))²` with `f̂ = Cᵀ ã` and `Ĵ = C_{l+1}ᵀ (∂ã_{l+1}/∂ã_l) C_l⁺ᵀ`;
//! with `C = C⁺ = I` the same formula gives the neuron-basis edges.
use common::linalg::eigh;
use common::models::Mlp;
use common::models::jacobian::backprop;
use ndarray::{Array1, Array2, Axis, s};

/// The rotations of every node layer.
#[derive(Clone, Debug)]
pub struct Basis {
    /// `C_l` (`dim_l x kept_l`), node layers 0..=L.
    pub c: Vec<Array2<f64>>,
    /// `C_l⁺` (`kept_l x dim_l`).
    pub c_pinv: Vec<Array2<f64>>,
}

/// Per-sample node activations and module Jacobians.
pub struct Nodes {
    /// `ã_l` for l = 0..L-1 and `f` for l = L, each `n x dim_l`.
    pub acts: Vec<Array2<f64>>,
    /// `∂ã_{l+1}/∂ã_l` per sample: `jac[l][i]` is `dim_{l+1} x dim_l`.
    pub jac: Vec<Vec<Array2<f64>>>,
}

/// The node layers of an MLP with biases folded in.
pub fn nodes(mlp: &Mlp, w: &Array1<f64>, x: &Array2<f64>) -> Nodes {
    let bp = backprop(mlp, w.view(), x.view());
    let big_l = mlp.num_layers();
    let n = x.nrows();
    let fold = |a: &Array2<f64>| {
        let mut o = Array2::ones((n, a.ncols() + 1));
        o.slice_mut(s![.., ..a.ncols()]).assign(a);
        o
    };
    let mut acts: Vec<Array2<f64>> = bp.inputs.iter().map(fold).collect();
    acts.push(bp.pre[big_l - 1].clone());
    let mut jac = Vec::with_capacity(big_l);
    for l in 0..big_l {
        let (wm, b) = mlp.layer(w.view(), l);
        let (din, dout) = (mlp.sizes[l], mlp.sizes[l + 1]);
        let mut wt = Array2::zeros((dout, din + 1));
        wt.slice_mut(s![.., ..din]).assign(&wm);
        if let Some(b) = b {
            wt.column_mut(din).assign(&b);
        }
        let hidden = l + 1 < big_l;
        let per: Vec<Array2<f64>> = (0..n)
            .map(|i| {
                let rows = if hidden { dout + 1 } else { dout };
                let mut j = Array2::zeros((rows, din + 1));
                for r in 0..dout {
                    let on = !hidden || bp.pre[l][[i, r]] > 0.0;
                    if on {
                        j.row_mut(r).assign(&wt.row(r));
                    }
                }
                j
            })
            .collect();
        jac.push(per);
    }
    Nodes { acts, jac }
}

/// The node layers without the constant (biases not folded: the planted bug of rib's
/// `has_folded_bias` assertion): the constant column of every hidden node layer and the matching
/// rows and columns of the module Jacobians dropped.
pub fn unfold(nd: &Nodes) -> Nodes {
    let big_l = nd.jac.len();
    let acts: Vec<Array2<f64>> = nd
        .acts
        .iter()
        .enumerate()
        .map(|(l, a)| if l < big_l { a.slice(s![.., ..a.ncols() - 1]).to_owned() } else { a.clone() })
        .collect();
    let jac = nd
        .jac
        .iter()
        .enumerate()
        .map(|(l, per)| {
            per.iter()
                .map(|j| {
                    let rows = if l + 1 < big_l { j.nrows() - 1 } else { j.nrows() };
                    j.slice(s![..rows, ..j.ncols() - 1]).to_owned()
                })
                .collect()
        })
        .collect();
    Nodes { acts, jac }
}

/// Descending eigen-decomposition of a symmetric matrix.
fn eig_desc(a: &Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let sym = (a + &a.t()) * 0.5;
    let (vals, vecs) = eigh(&sym);
    let mut idx: Vec<usize> = (0..vals.len()).collect();
    idx.sort_by(|&i, &j| vals[j].total_cmp(&vals[i]));
    (idx.iter().map(|&i| vals[i]).collect(), vecs.select(Axis(1), &idx))
}

fn gram(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    a.t().dot(b) / a.nrows() as f64
}

/// The interaction basis of every node layer (`threshold`: rib's `truncation_threshold`).
pub fn interaction_basis(nd: &Nodes, threshold: f64) -> Basis {
    let big_l = nd.jac.len();
    let n = nd.acts[0].nrows();
    let (_, u_out) = eig_desc(&gram(&nd.acts[big_l], &nd.acts[big_l]));
    let mut c: Vec<Array2<f64>> = vec![u_out.clone()];
    let mut c_pinv: Vec<Array2<f64>> = vec![u_out.t().to_owned()];
    for l in (0..big_l).rev() {
        let a = &nd.acts[l];
        let (d_all, u_all) = eig_desc(&gram(a, a));
        // threshold ≤ 0 (planted bug, refused by the config): no truncation, |eigenvalues| used.
        let keep = if threshold > 0.0 { d_all.iter().filter(|&&v| v >= threshold).count() } else { d_all.len() };
        let u = u_all.slice(s![.., ..keep]).to_owned();
        let d: Vec<f64> = d_all[..keep].iter().map(|v| v.abs()).collect();
        let c_next = c.last().expect("next layer").clone();
        let cct = c_next.dot(&c_next.t());
        let dim = a.ncols();
        let mut g = Array2::zeros((n, dim));
        for i in 0..n {
            let j = &nd.jac[l][i];
            let next = nd.acts[l + 1].row(i);
            let gi = j.t().dot(&cct.dot(&next)) * 2.0;
            g.row_mut(i).assign(&gi);
        }
        let m_dash = gram(&g, &g);
        let lam_dash = gram(&g, a);
        let sq: Array1<f64> = d.iter().map(|v| v.sqrt()).collect();
        let u_dsqrt = &u * &sq;
        let m = u_dsqrt.t().dot(&m_dash).dot(&u_dsqrt);
        let (_, v) = eig_desc(&m);
        let u_dsqrt_v = u_dsqrt.dot(&v);
        let u_dinv_v = (&u / &sq).dot(&v);
        let lam_full = u_dsqrt_v.t().dot(&lam_dash).dot(&u_dinv_v);
        let lam: Vec<f64> = (0..keep).map(|k| lam_full[[k, k]].abs()).collect();
        let mut order: Vec<usize> = (0..keep).collect();
        order.sort_by(|&i, &j| lam[j].total_cmp(&lam[i]));
        let kept: Vec<usize> = order.into_iter().filter(|&k| lam[k] >= threshold || lam[k].is_nan()).collect();
        let ls: Array1<f64> = kept.iter().map(|&k| lam[k].sqrt()).collect();
        let cl = &u_dinv_v.select(Axis(1), &kept) * &ls;
        let cl_pinv = (&u_dsqrt_v.select(Axis(1), &kept) / &ls).t().to_owned();
        c.push(cl);
        c_pinv.push(cl_pinv);
    }
    c.reverse();
    c_pinv.reverse();
    Basis { c, c_pinv }
}

/// The identity "basis" (neuron basis with the constant as one more node).
pub fn neuron_basis(nd: &Nodes) -> Basis {
    let eye = |k: usize| Array2::eye(k);
    Basis {
        c: nd.acts.iter().map(|a| eye(a.ncols())).collect(),
        c_pinv: nd.acts.iter().map(|a| eye(a.ncols())).collect(),
    }
}

/// Edge matrices `E_l` (`kept_{l+1} x kept_l`) between consecutive node layers.
pub fn edges(nd: &Nodes, b: &Basis) -> Vec<Array2<f64>> {
    let big_l = nd.jac.len();
    let n = nd.acts[0].nrows();
    (0..big_l)
        .map(|l| {
            let fhat = nd.acts[l].dot(&b.c[l]);
            let mut e = Array2::zeros((b.c[l + 1].ncols(), b.c[l].ncols()));
            for i in 0..n {
                let jhat = b.c[l + 1].t().dot(&nd.jac[l][i]).dot(&b.c_pinv[l].t());
                let contrib = &jhat * &fhat.row(i);
                e += &contrib.mapv(|v| v * v);
            }
            e / n as f64
        })
        .collect()
}

/// Largest entry-wise change between two lists of edge matrices, relative to the largest edge
/// (∞ when the shapes differ, NaN propagates).
pub fn relative_change(a: &[Array2<f64>], b: &[Array2<f64>]) -> f64 {
    let top = a.iter().flat_map(|m| m.iter()).fold(0.0f64, |m, &v| m.max(v.abs()));
    let mut worst = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        if x.dim() != y.dim() {
            return f64::INFINITY;
        }
        for (p, q) in x.iter().zip(y) {
            let d = (p - q).abs();
            if d.is_nan() {
                return f64::NAN;
            }
            worst = worst.max(d);
        }
    }
    worst / top
}

/// The smallest number of edges that carry `frac` of the total edge weight, as a fraction of all
/// edges (lower = sparser), over every layer pooled.
pub fn mass_fraction(es: &[Array2<f64>], frac: f64) -> f64 {
    let mut v: Vec<f64> = es.iter().flat_map(|m| m.iter().copied()).collect();
    v.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = v.iter().sum();
    let mut acc = 0.0;
    for (k, x) in v.iter().enumerate() {
        acc += x;
        if acc >= frac * total {
            return (k + 1) as f64 / v.len() as f64;
        }
    }
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C⁺C = I on the kept directions, and f̂ = Cᵀã reconstructs ã on the data (CᵀG-range).
    #[test]
    fn rotations_are_pseudo_inverse_pairs() {
        let b = crate::nets::Build {
            sizes: vec![4, 6, 5, 2],
            n: 200,
            gap: 0.5,
            fire: (0.3, 0.7),
            input_deps: 1,
            sync_jitter: 0.05,
        };
        let net = crate::nets::build(crate::nets::Case::InputDeps, &b, common::Seed(5));
        let nd = nodes(&net.mlp, &net.w, &net.x);
        let basis = interaction_basis(&nd, 1e-5);
        for l in 0..basis.c.len() {
            let prod = basis.c_pinv[l].dot(&basis.c[l]);
            let k = prod.nrows();
            let err = (&prod - &Array2::<f64>::eye(k)).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(err < 1e-9, "layer {l}: {err}");
        }
        // One input dependency: layer 0 keeps at most d0 + 1 − 1 directions.
        assert!(basis.c[0].ncols() <= 4);
    }
}
