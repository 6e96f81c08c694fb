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
use crate::kernels::{add_ops, gemv, gemv_t, gram, lu_nopivot_inplace};
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
        let grads = grads.as_standard_layout().into_owned();
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
            coef: Array2::eye(m) * lambd,
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
        let mut lu = &self.dots * self.lambd;
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
        // tmp[i, k] = -D[k, i] / denom[k];  B[i, :i] = tmp[i, :i] B[:i, :i]
        add_ops((self.last.max(1)..m).map(|i| (i * (i + 1) / 2) as u64).sum());
        for i in self.last.max(1)..m {
            let mut row = vec![0.0; i];
            for k in 0..i {
                let t = -self.gihig[[k, i]] / self.denom[k];
                if t != 0.0 {
                    // B[k, j] = 0 for j > k
                    for (j, r) in row.iter_mut().enumerate().take(k + 1) {
                        *r += t * self.coef[[k, j]];
                    }
                }
            }
            for (j, r) in row.into_iter().enumerate() {
                self.coef[[i, j]] = r;
            }
        }
    }

    /// `F^{-1} x` given `dots = G x` (the repo's `mul(x, dots)`).
    fn mul_with_dots(&self, x: ArrayView1<f64>, dots: Array1<f64>) -> Array1<f64> {
        let m = self.m;
        // giHix[i] = v_i^T x by forward substitution with D.
        let mut gihix = dots * self.lambd;
        add_ops((m * (m - 1) / 2 + m * m) as u64 + self.d as u64);
        for i in 1..m {
            let a = gihix[i - 1] / self.denom[i - 1];
            for j in i..m {
                gihix[j] -= self.gihig[[i - 1, j]] * a;
            }
        }
        let c = &gihix / &self.denom;
        // (c B): coefficients of the g_j
        let cb = c.dot(&self.coef);
        let mut out = gemv_t(self.grads.view(), cb.view());
        out.zip_mut_with(&x, |o, &xi| *o = self.lambd * xi - *o);
        out
    }

    /// The inverse-Hessian-vector product `F^{-1} x` in O(dm + m^2).
    pub fn mul(&self, x: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(x.len(), self.d, "IHVP: vector of length {} for d = {}", x.len(), self.d);
        let dots = gemv(self.grads.view(), x);
        self.mul_with_dots(x, dots)
    }

    fn set_grad(&mut self, g: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(g.len(), self.d, "gradient of length {} for d = {}", g.len(), self.d);
        let j = self.last;
        add_ops(self.d as u64);
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

    /// The d-vectors `v_i = B G` row by row (for tests: equals the static algorithm's `Hg`).
    pub fn v_rows(&self) -> Array2<f64> {
        self.coef.dot(&self.grads)
    }
}
