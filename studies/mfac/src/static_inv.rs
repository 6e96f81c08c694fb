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
//! As in the repo's paged version (`HInvFastSwap`), the rows are processed in pages and the
//! contribution of all earlier pages to a page is two GEMMs. Inside a page the repo runs the
//! recursion vector by vector (memory-bound GEMVs); here it runs on the page's small Gram matrix
//! and the page's vectors follow from one more GEMM (the same coefficients the dynamic algorithm
//! keeps): the same `v_i` and `denom_i` up to rounding, at GEMM speed.
use crate::kernels::{div_cols, gemm, gemv, gemv_t, matmul, page_recursion, sub_weighted_squares, zip_map};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rayon::prelude::*;

/// Rows per page of the precomputation (the repo's `m // npages`); any value gives the same
/// result up to rounding.
pub const DEFAULT_PAGE: usize = 32;

/// Columns per chunk of the in-place product `v = C u` of a page.
const COL_CHUNK: usize = 2048;

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
        // scratch for the in-place product `v = C u`, one column chunk at a time
        let mut tmp = Array2::<f64>::zeros((page.min(m), COL_CHUNK.min(d.max(1))));
        for lo in (0..m).step_by(page) {
            let hi = (lo + page).min(m);
            let p = hi - lo;
            let gblk = grads.slice(s![lo..hi, ..]);
            let (prev, mut rest) = hg.view_mut().split_at(Axis(0), lo);
            let mut vblk = rest.slice_mut(s![..p, ..]);
            zip_map(&mut vblk, &gblk, |_, g| lambd * g);
            if lo > 0 {
                // c[i, k] = g_i^T v_k / denom_k for the earlier pages
                let mut c = matmul(gblk, prev.t());
                div_cols(&mut c, denom.slice(s![..lo]));
                gemm(-1.0, &c.view(), &prev.view(), 1.0, &mut vblk);
            }
            // Inside the page, v_i = u_i - sum_{lo<=k<i} (v_k^T g_i / denom_k) v_k, where u_i (in
            // `vblk`) already holds lambda^{-1} g_i minus the earlier pages. Write v = C u with C
            // unit lower triangular (page x page); with P[j, i] = u_j^T g_i, v_k^T g_i = (C P)[k, i],
            // so the recursion runs on page x page matrices and v = C u is one GEMM.
            let pm = matmul(vblk.view(), gblk.t());
            let cm = page_recursion(&pm, &mut denom.as_slice_mut().expect("contiguous")[lo..hi], mf);
            for c0 in (0..d).step_by(COL_CHUNK) {
                let c1 = (c0 + COL_CHUNK).min(d);
                let mut t = tmp.slice_mut(s![..p, ..c1 - c0]);
                gemm(1.0, &cm.view(), &vblk.slice(s![.., c0..c1]), 0.0, &mut t);
                vblk.slice_mut(s![.., c0..c1]).assign(&t);
            }
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
        #[cfg(test)]
        if crate::kernels::plant::get() == crate::kernels::plant::Plant::StaticGram {
            std::hint::black_box(crate::kernels::gram(self.hg.view()));
        }
        let mut c = gemv(self.hg.view(), x);
        zip_map(&mut c.view_mut(), &self.denom.view(), |a, b| a / b);
        let mut out = gemv_t(self.hg.view(), c.view());
        zip_map(&mut out.view_mut(), &x, |o, xi| self.lambd * xi - o);
        out
    }

    /// `diag(F^{-1})` in O(dm).
    pub fn diag(&self) -> Array1<f64> {
        let mut out = vec![self.lambd; self.d];
        sub_weighted_squares(&mut out, self.hg.view(), self.denom.view());
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
