//! The dynamic (sliding-window) M-FAC algorithm: a port of `HInvFastUpMulti` in the official
//! `optim.py` (IST-DASLab/M-FAC), CPU path (the code the CUDA kernels `hinv_setup`/`hinv_mul`
//! replace).
//!
//! Target: `F = lambda I + (1/m) sum_i g_i g_i^T` over a ring buffer of the last m gradients.
//! With `v_i = H_{i-1} g_i` (the Sherman-Morrison vectors of the recursion that builds `F^{-1}`),
//! the algorithm never forms a d-vector `v_i`: it keeps `v_i = sum_j B[i,j] g_j` through the
//! m x m coefficient matrix B (`coef`), and the scalars `D[k,i] = v_k^T g_i` (`giHig`), which are
//! the U factor of the LU decomposition (without pivoting) of `lambda^{-1} G G^T + m I`, minus mI.
//!
//! * IHVP `F^{-1} x`: `G x` (O(dm)), a forward substitution with D (O(m^2)), then `G^T c`
//!   (O(dm)): **O(dm + m^2)**.
//! * Replacing the oldest gradient: one row of `G`, one row/column of `G G^T` (O(dm)), then the
//!   LU and the rows of B from the replaced index on (O(m^3)): **O(dm + m^3)**.
use crate::kernels::{
    coef_rows, forward_subst, gemv, gemv_t, gram, lu_nopivot_inplace, matmul, scale, vecmat, zip_map,
};
use ndarray::{Array1, Array2, ArrayView1};

#[derive(Clone, Debug)]
pub struct DynamicInv {
    m: usize,
    d: usize,
    /// `1 / damp` (the repo's `lambd`).
    lambd: f64,
    /// The ring buffer `G` (m x d, row-major).
    grads: Array2<f64>,
    /// `G G^T` (m x m).
    dots: Array2<f64>,
    /// `D` (`giHig`): strictly the upper triangle (with diagonal) of `LU(lambd G G^T + m I) - m I`.
    gihig: Array2<f64>,
    /// `m + D_ii`.
    denom: Array1<f64>,
    /// `B` (`coef`): lower triangular, diagonal `lambd`.
    coef: Array2<f64>,
    /// Ring-buffer index of the oldest gradient (the next to be replaced).
    last: usize,
}

impl DynamicInv {
    /// Build from an initial `m x d` gradient matrix (rows are gradients) and damping `damp`.
    pub fn new(grads: Array2<f64>, damp: f64) -> Self {
        assert!(damp > 0.0, "damping must be positive");
        // rows must be contiguous; an owned row-major matrix is kept as is (no copy of m x d)
        let grads = if grads.is_standard_layout() { grads } else { grads.as_standard_layout().into_owned() };
        let (m, d) = grads.dim();
        assert!(m >= 1, "need at least one gradient");
        let lambd = 1.0 / damp;
        let dots = gram(grads.view());
        let mut s = DynamicInv {
            m,
            d,
            lambd,
            grads,
            dots,
            gihig: Array2::zeros((m, m)),
            denom: Array1::zeros(m),
            coef: scale(Array2::<f64>::eye(m).view(), lambd),
            last: 0,
        };
        s.setup();
        s
    }

    /// An empty window (all-zero gradients), as the M-FAC optimizer starts: `F^{-1} = I / damp`.
    pub fn zeros(m: usize, d: usize, damp: f64) -> Self {
        Self::new(Array2::zeros((m, d)), damp)
    }

    pub fn m(&self) -> usize {
        self.m
    }
    pub fn d(&self) -> usize {
        self.d
    }
    pub fn damp(&self) -> f64 {
        1.0 / self.lambd
    }
    /// The current window (row `k` is the gradient in ring slot `k`).
    pub fn grads(&self) -> &Array2<f64> {
        &self.grads
    }

    /// Recompute D, the denominators and B (from row `max(last, 1)` on, as the repo's CPU path:
    /// rows of B before the replaced slot depend only on earlier gradients and stay valid).
    fn setup(&mut self) {
        let m = self.m;
        let mf = m as f64;
        let mut lu = scale(self.dots.view(), self.lambd);
        for i in 0..m {
            lu[[i, i]] += mf;
        }
        lu_nopivot_inplace(&mut lu);
        for i in 0..m {
            for j in 0..m {
                self.gihig[[i, j]] = if j < i {
                    0.0
                } else if j == i {
                    lu[[i, j]] - mf
                } else {
                    lu[[i, j]]
                };
            }
            self.denom[i] = mf + self.gihig[[i, i]];
        }
        // B[i, :i] = tmp[i, :i] B[:i, :i] with tmp[i, k] = -D[k, i] / denom[k]
        coef_rows(&mut self.coef, &self.gihig, &self.denom, self.last.max(1));
    }

    /// `F^{-1} x` given `dots = G x` (the repo's `mul(x, dots)`).
    fn mul_with_dots(&self, x: ArrayView1<f64>, dots: Array1<f64>) -> Array1<f64> {
        // giHix[i] = v_i^T x by forward substitution with D.
        let mut gihix = scale(dots.view(), self.lambd);
        forward_subst(&mut gihix, &self.gihig, &self.denom);
        zip_map(&mut gihix.view_mut(), &self.denom.view(), |a, b| a / b);
        // (c B): coefficients of the g_j
        let cb = vecmat(gihix.view(), self.coef.view());
        let mut out = gemv_t(self.grads.view(), cb.view());
        zip_map(&mut out.view_mut(), &x, |o, xi| self.lambd * xi - o);
        out
    }

    /// The inverse-Hessian-vector product `F^{-1} x` in O(dm + m^2).
    pub fn mul(&self, x: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(x.len(), self.d, "IHVP: vector of length {} for d = {}", x.len(), self.d);
        #[cfg(test)]
        if let Some(y) = self.planted_mul(x) {
            return y;
        }
        let dots = gemv(self.grads.view(), x);
        self.mul_with_dots(x, dots)
    }

    fn set_grad(&mut self, g: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(g.len(), self.d, "gradient of length {} for d = {}", g.len(), self.d);
        let j = self.last;
        self.grads.row_mut(j).assign(&g);
        let tmp = gemv(self.grads.view(), g);
        self.dots.row_mut(j).assign(&tmp);
        self.dots.column_mut(j).assign(&tmp);
        tmp
    }

    /// Replace the oldest gradient with `g`, in O(dm + m^3).
    pub fn update(&mut self, g: ArrayView1<f64>) {
        self.set_grad(g);
        self.setup();
        self.last = (self.last + 1) % self.m;
    }

    /// Replace the oldest gradient with `g`, then return `F^{-1} g` (reusing `G g`): one step of
    /// the M-FAC optimizer.
    pub fn update_mul(&mut self, g: ArrayView1<f64>) -> Array1<f64> {
        let tmp = self.set_grad(g);
        self.setup();
        let res = self.mul_with_dots(g, tmp);
        self.last = (self.last + 1) % self.m;
        res
    }

    /// A planted slower IHVP ([`crate::kernels::plant`]): the same `F^{-1} x`, with more work.
    #[cfg(test)]
    fn planted_mul(&self, x: ArrayView1<f64>) -> Option<Array1<f64>> {
        use crate::kernels::plant::{self, Plant};
        match plant::get() {
            Plant::DenseFisher => {
                std::hint::black_box(matmul(self.grads.t(), self.grads.view()));
                None
            }
            Plant::RebuildVectors => {
                // F^{-1} x = lambda^{-1} x - sum_i (v_i^T x / denom_i) v_i with every v_i = sum_j B[i,j] g_j
                // rebuilt here, one weighted sum of the gradients each
                let mut v = Array2::zeros((self.m, self.d));
                for (i, mut row) in v.outer_iter_mut().enumerate() {
                    row.assign(&gemv_t(self.grads.view(), self.coef.row(i)));
                }
                let mut c = gemv(v.view(), x);
                zip_map(&mut c.view_mut(), &self.denom.view(), |a, b| a / b);
                let mut out = gemv_t(v.view(), c.view());
                zip_map(&mut out.view_mut(), &x, |o, xi| self.lambd * xi - o);
                Some(out)
            }
            _ => None,
        }
    }

    /// The d-vectors `v_i = B G` row by row (for tests: equals the static algorithm's `Hg`).
    pub fn v_rows(&self) -> Array2<f64> {
        matmul(self.coef.view(), self.grads.view())
    }
}
