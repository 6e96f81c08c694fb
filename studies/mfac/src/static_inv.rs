//! The static M-FAC algorithm: a port of `HInvFastSwap` (full, with paging) and `HInvFastBlock`
//! (block-diagonal) in the official `prun.py` (IST-DASLab/M-FAC).
//!
//! For a fixed set of m gradients it precomputes the Sherman-Morrison vectors
//! `v_i = H_{i-1} g_i = lambda^{-1} g_i - sum_{k<i} (v_k^T g_i / denom_k) v_k`,
//! `denom_i = m + g_i^T v_i`, where `H_i` is the inverse of `lambda I + (1/m) sum_{j<=i} g_j g_j^T`
//! (O(dm^2) once). Then
//! * `F^{-1} x = lambda^{-1} x - sum_i (v_i^T x / denom_i) v_i` in O(dm);
//! * `[F^{-1}]_jj = lambda^{-1} - sum_i v_ij^2 / denom_i`: O(m) per element, O(dm) for all.
//!
//! As in the repo's paged version, the rows are processed in pages: the contribution of all
//! earlier pages to a page is two GEMMs, the recursion inside a page is sequential.
use crate::kernels::{gemv, gemv_t};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rayon::prelude::*;

/// Rows per page of the precomputation (the repo's `m // npages`); any value gives the same
/// result up to rounding.
pub const DEFAULT_PAGE: usize = 32;

#[derive(Clone, Debug)]
pub struct StaticInv {
    m: usize,
    d: usize,
    lambd: f64,
    /// `v_i` as rows (the repo's `Hg`), m x d.
    hg: Array2<f64>,
    denom: Array1<f64>,
}

impl StaticInv {
    /// Precompute from `m x d` gradients (rows) with damping `damp`, `page` rows at a time.
    pub fn new(grads: ArrayView2<f64>, damp: f64, page: usize) -> Self {
        assert!(damp > 0.0, "damping must be positive");
        let (m, d) = grads.dim();
        assert!(m >= 1, "need at least one gradient");
        let page = page.max(1);
        let lambd = 1.0 / damp;
        let mf = m as f64;
        let mut hg = Array2::<f64>::zeros((m, d));
        let mut denom = Array1::<f64>::zeros(m);
        for lo in (0..m).step_by(page) {
            let hi = (lo + page).min(m);
            let gblk = grads.slice(s![lo..hi, ..]).as_standard_layout().into_owned();
            let mut vblk = &gblk * lambd;
            if lo > 0 {
                let prev = hg.slice(s![..lo, ..]);
                // c[i, k] = g_i^T v_k / denom_k for the earlier pages
                let mut c = gblk.dot(&prev.t());
                c /= &denom.slice(s![..lo]);
                ndarray::linalg::general_mat_mul(-1.0, &c, &prev, 1.0, &mut vblk);
            }
            for i in 0..hi - lo {
                let (done, mut rest) = vblk.view_mut().split_at(Axis(0), i);
                let gi = gblk.row(i);
                if i > 0 {
                    let mut c = gemv(done.view(), gi);
                    c /= &denom.slice(s![lo..lo + i]);
                    let corr = gemv_t(done.view(), c.view());
                    rest.row_mut(0).zip_mut_with(&corr, |v, &k| *v -= k);
                }
                denom[lo + i] = mf + gi.dot(&rest.row(0));
            }
            hg.slice_mut(s![lo..hi, ..]).assign(&vblk);
        }
        StaticInv { m, d, lambd, hg, denom }
    }

    pub fn m(&self) -> usize {
        self.m
    }
    pub fn d(&self) -> usize {
        self.d
    }
    /// The Sherman-Morrison vectors `v_i` (rows).
    pub fn hg(&self) -> &Array2<f64> {
        &self.hg
    }
    pub fn denom(&self) -> &Array1<f64> {
        &self.denom
    }

    /// `F^{-1} x` in O(dm).
    pub fn mul(&self, x: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(x.len(), self.d, "IHVP: vector of length {} for d = {}", x.len(), self.d);
        let c = gemv(self.hg.view(), x) / &self.denom;
        let mut out = gemv_t(self.hg.view(), c.view());
        out.zip_mut_with(&x, |o, &xi| *o = self.lambd * xi - *o);
        out
    }

    /// `diag(F^{-1})` in O(dm).
    pub fn diag(&self) -> Array1<f64> {
        let mut out = vec![self.lambd; self.d];
        let w: Vec<f64> = self.denom.iter().map(|x| 1.0 / x).collect();
        out.par_chunks_mut(4096).enumerate().for_each(|(k, chunk)| {
            let lo = k * 4096;
            for (i, wi) in w.iter().enumerate() {
                let row = self.hg.slice(s![i, lo..lo + chunk.len()]);
                for (o, v) in chunk.iter_mut().zip(row) {
                    *o -= v * v * wi;
                }
            }
        });
        Array1::from(out)
    }
}

/// The blocked static algorithm (`HInvFastBlock`): the Fisher restricted to contiguous blocks of
/// `blocksize` coordinates (block-diagonal approximation), each block a [`StaticInv`]. A
/// `blocksize` of 0 or >= d is the full (unblocked) algorithm.
#[derive(Clone, Debug)]
pub struct BlockStatic {
    blocks: Vec<(usize, StaticInv)>,
    d: usize,
}

impl BlockStatic {
    pub fn new(grads: ArrayView2<f64>, damp: f64, blocksize: usize, page: usize) -> Self {
        let d = grads.ncols();
        let bs = if blocksize == 0 || blocksize >= d { d.max(1) } else { blocksize };
        let starts: Vec<usize> = (0..d).step_by(bs).collect();
        let blocks = starts
            .into_par_iter()
            .map(|lo| {
                let hi = (lo + bs).min(d);
                (lo, StaticInv::new(grads.slice(s![.., lo..hi]), damp, page))
            })
            .collect();
        BlockStatic { blocks, d }
    }

    pub fn mul(&self, x: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(x.len(), self.d);
        let mut out = Array1::zeros(self.d);
        for (lo, b) in &self.blocks {
            let r = b.mul(x.slice(s![*lo..*lo + b.d()]));
            out.slice_mut(s![*lo..*lo + b.d()]).assign(&r);
        }
        out
    }

    pub fn diag(&self) -> Array1<f64> {
        let mut out = Array1::zeros(self.d);
        for (lo, b) in &self.blocks {
            out.slice_mut(s![*lo..*lo + b.d()]).assign(&b.diag());
        }
        out
    }
}
