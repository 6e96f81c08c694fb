//! Linear self-attention with full weight matrices, any number of layers, written out as in the
//! paper (Sec. 3): tokens `z_i = (x_i, y_i)` are the
//! columns of `Z ∈ R^{(d+1)×(n+1)}`, the last column is the query `(x_q, 0)`, and a layer maps
//!
//! `Z ← Z + W^{PV} Z M Zᵀ W^{KQ} Z / n = Z + W^{PV} S W^{KQ} Z`,  `S = (1/n) Σ_{i<n} z_i z_iᵀ`,
//!
//! where the mask `M = diag(1,…,1,0)` keeps the query out of the keys and values. The prediction is
//! the bottom-right entry of the last layer's output. With one layer this is `uᵀ S B x_q` with
//! `u` the last row of `W^{PV}` and `B` the first `d` columns of `W^{KQ}`; the other entries of the
//! weights do not reach the prediction (their gradient is exactly zero). That one-layer case is
//! `common::models::Lsa`; this module adds depth (for the comparison with 2-3 layers) and the
//! token embedding itself (so that a test can show what leaking `y_q` into the query would do).
//!
//! Parameters are one flat vector: per layer `W^{PV}` then `W^{KQ}`, each `(d+1)×(d+1)` row-major.
use crate::task::Prompt;
use ndarray::{Array2, ArrayView2, s};

/// A stack of `layers` LSA layers on `d`-dimensional covariates.
#[derive(Clone, Debug)]
pub struct DeepLsa {
    pub d: usize,
    pub layers: usize,
}

impl DeepLsa {
    pub fn new(d: usize, layers: usize) -> Self {
        DeepLsa { d, layers }
    }
    fn dim(&self) -> usize {
        self.d + 1
    }
    pub fn num_params(&self) -> usize {
        2 * self.layers * self.dim() * self.dim()
    }
    fn weights<'a>(&self, theta: &'a [f64], l: usize) -> (ArrayView2<'a, f64>, ArrayView2<'a, f64>) {
        let dd = self.dim() * self.dim();
        let pv = ArrayView2::from_shape((self.dim(), self.dim()), &theta[2 * l * dd..(2 * l + 1) * dd]).expect("shape");
        let kq = ArrayView2::from_shape((self.dim(), self.dim()), &theta[(2 * l + 1) * dd..(2 * l + 2) * dd])
            .expect("shape");
        (pv, kq)
    }

    /// The token matrix of a prompt. `leak_query` puts `y_q` into the query token instead of 0: a
    /// deliberately wrong embedding, used by the tests to show what a leak would measure.
    pub fn tokens(&self, p: &Prompt, leak_query: bool) -> Array2<f64> {
        let (d, cols) = (self.d, p.y.len());
        let mut z = Array2::zeros((d + 1, cols));
        for i in 0..cols {
            for k in 0..d {
                z[[k, i]] = p.x[i * d + k];
            }
            z[[d, i]] = p.y[i];
        }
        if !leak_query {
            z[[d, cols - 1]] = 0.0;
        }
        z
    }

    fn context_cov(z: &Array2<f64>) -> Array2<f64> {
        let n = z.ncols() - 1;
        let zc = z.slice(s![.., ..n]);
        zc.dot(&zc.t()) / n as f64
    }

    /// Forward pass: the prediction for the query.
    pub fn predict(&self, theta: &[f64], z0: &Array2<f64>) -> f64 {
        let mut z = z0.clone();
        for l in 0..self.layers {
            let (pv, kq) = self.weights(theta, l);
            let u = pv.dot(&Self::context_cov(&z)).dot(&kq);
            z = &z + &u.dot(&z);
        }
        z[[self.d, z.ncols() - 1]]
    }

    /// Squared error `(ŷ − y_q)²` of one prompt; its gradient is added into `grad`.
    pub fn sq_err_grad(&self, theta: &[f64], z0: &Array2<f64>, yq: f64, grad: &mut [f64]) -> f64 {
        let dd = self.dim() * self.dim();
        let (big_d, cols) = (self.dim(), z0.ncols());
        let n = cols - 1;
        let mut zs = Vec::with_capacity(self.layers + 1);
        let mut ss = Vec::with_capacity(self.layers);
        zs.push(z0.clone());
        for l in 0..self.layers {
            let (pv, kq) = self.weights(theta, l);
            let z = &zs[l];
            let s = Self::context_cov(z);
            let u = pv.dot(&s).dot(&kq);
            let next = z + &u.dot(z);
            ss.push(s);
            zs.push(next);
        }
        let r = zs[self.layers][[self.d, cols - 1]] - yq;
        let mut g = Array2::zeros((big_d, cols));
        g[[self.d, cols - 1]] = 2.0 * r;
        for l in (0..self.layers).rev() {
            let (pv, kq) = self.weights(theta, l);
            let (z, s) = (&zs[l], &ss[l]);
            let t = pv.dot(s);
            let u = t.dot(&kq);
            let du = g.dot(&z.t());
            let dpv = du.dot(&kq.t()).dot(s);
            let dkq = t.t().dot(&du);
            let ds = pv.t().dot(&du).dot(&kq.t());
            let mut gz = &g + &u.t().dot(&g);
            let dsym = (&ds + &ds.t()) / n as f64;
            let zc = z.slice(s![.., ..n]);
            let add = dsym.dot(&zc);
            gz.slice_mut(s![.., ..n]).zip_mut_with(&add, |a, b| *a += b);
            for (gi, v) in grad[2 * l * dd..(2 * l + 1) * dd].iter_mut().zip(dpv.iter()) {
                *gi += v;
            }
            for (gi, v) in grad[(2 * l + 1) * dd..(2 * l + 2) * dd].iter_mut().zip(dkq.iter()) {
                *gi += v;
            }
            g = gz;
        }
        r * r
    }

    /// One-layer weights that realise `ŷ = uᵀ S B x_q` (`u`: `d+1`, `b`: `(d+1) × d` row-major),
    /// all other entries zero.
    pub fn one_layer_from(&self, u: &[f64], b: &[f64]) -> Vec<f64> {
        assert_eq!(self.layers, 1);
        let big_d = self.dim();
        let mut theta = vec![0.0; self.num_params()];
        theta[self.d * big_d..big_d * big_d].copy_from_slice(u);
        let kq = &mut theta[big_d * big_d..];
        for r in 0..big_d {
            kq[r * big_d..r * big_d + self.d].copy_from_slice(&b[r * self.d..(r + 1) * self.d]);
        }
        theta
    }

    /// The `(u, B)` of a one-layer model (the inverse of [`DeepLsa::one_layer_from`]).
    pub fn one_layer_parts(&self, theta: &[f64]) -> (Vec<f64>, Vec<f64>) {
        assert_eq!(self.layers, 1);
        let big_d = self.dim();
        let u = theta[self.d * big_d..big_d * big_d].to_vec();
        let kq = &theta[big_d * big_d..];
        let b = (0..big_d).flat_map(|r| kq[r * big_d..r * big_d + self.d].iter().copied()).collect();
        (u, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Kind, Task};
    use common::Seed;
    use common::models::Model;
    use common::rng::gaussian_vec;

    fn setup(layers: usize, seed: u64) -> (DeepLsa, Vec<f64>, Prompt) {
        let t = Task { kind: Kind::Iso, d: 3, n: 4, sigma: 0.5, eigs: vec![], width: 0 };
        let mut rng = Seed(seed).rng();
        let model = DeepLsa::new(3, layers);
        let theta = gaussian_vec(&mut rng, model.num_params(), 0.4).to_vec();
        (model, theta, t.sample(&mut rng))
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for layers in 1..=3 {
            let (m, theta, p) = setup(layers, 40 + layers as u64);
            let z = m.tokens(&p, false);
            let mut g = vec![0.0; theta.len()];
            m.sq_err_grad(&theta, &z, p.yq(), &mut g);
            let f = |th: &[f64]| (m.predict(th, &z) - p.yq()).powi(2);
            for i in 0..theta.len() {
                let eps = 1e-6;
                let (mut a, mut b) = (theta.clone(), theta.clone());
                a[i] += eps;
                b[i] -= eps;
                let fd = (f(&a) - f(&b)) / (2.0 * eps);
                assert!((fd - g[i]).abs() < 1e-6 * (1.0 + fd.abs()), "layers {layers}, param {i}: {fd} vs {}", g[i]);
            }
        }
    }

    #[test]
    fn one_layer_is_u_s_b_xq() {
        let (m, theta, p) = setup(1, 50);
        let (u, b) = m.one_layer_parts(&theta);
        let z = m.tokens(&p, false);
        // S over the context only.
        let (d, n) = (3, 4);
        let mut s = [[0.0; 4]; 4];
        for i in 0..n {
            let zi: Vec<f64> = p.x[i * d..(i + 1) * d].iter().copied().chain([p.y[i]]).collect();
            for a in 0..4 {
                for c in 0..4 {
                    s[a][c] += zi[a] * zi[c] / n as f64;
                }
            }
        }
        let xq = p.xq(d);
        let mut want = 0.0;
        for a in 0..4 {
            for c in 0..4 {
                for k in 0..d {
                    want += u[a] * s[a][c] * b[c * d + k] * xq[k];
                }
            }
        }
        assert!((m.predict(&theta, &z) - want).abs() < 1e-12);
        // The same as the workspace's one-layer LSA (`common::models::Lsa`, same (u, B) layout).
        let common_lsa = common::models::Lsa::new(d, n);
        let w: Vec<f64> = u.iter().chain(&b).copied().collect();
        let row = ndarray::Array2::from_shape_vec((1, common_lsa.input_width()), p.packed(d, n)).unwrap();
        let f = common_lsa.forward(ndarray::ArrayView1::from(&w), row.view());
        assert!((f[[0, 0]] - want).abs() < 1e-12);
        // Round trip, and the unused entries do not change the prediction.
        let back = m.one_layer_from(&u, &b);
        assert!((m.predict(&back, &z) - want).abs() < 1e-12);
        assert_eq!(m.one_layer_parts(&back), (u, b));
        // The query's own y never enters (the mask), unless the embedding leaks it.
        let mut p2 = p.clone();
        *p2.y.last_mut().unwrap() += 10.0;
        assert_eq!(m.predict(&theta, &m.tokens(&p2, false)), m.predict(&theta, &z));
        assert_ne!(m.predict(&theta, &m.tokens(&p2, true)), m.predict(&theta, &m.tokens(&p, true)));
    }
}
