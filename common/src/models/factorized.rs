//! Factorized matrix models for matrix sensing and matrix completion:
//! `W = U V^T` (`U`: `m x k`, `V`: `n x k`) or, with `symmetric`, `W = X X^T` (`X`: `m x k`,
//! requires `n = m`). One scalar output per measurement, trained with the MSE loss
//! `0.5 * mean_i (f_i - y_i)^2`.
//!
//! **Parameter layout.** `U` row-major then `V` row-major (`(m + n) k` numbers); symmetric: `X`
//! row-major (`m k` numbers).
//!
//! **Input layout** (one measurement per row of `x`), chosen by the number of columns:
//! - `m * n` columns: a sensing matrix `A_i` flattened row-major; `f_i = <A_i, W> = tr(A_i^T W)`.
//!   [`Factorized::sensing_input`] packs a list of matrices.
//! - 2 columns (and `m * n != 2`): an observed entry `(row, col)` stored as two `f64` indices;
//!   `f_i = W[row, col]`. [`Factorized::entries_input`] packs a list of entries.
//!
//! With the measurement operator `A(W)_i = <A_i, W>` and its adjoint `A*(r) = sum_i r_i A_i`, the
//! gradient is `(M V, M^T U)` with `M = A*(r) / N`, `r = f - y` (symmetric: `(M + M^T) X`), and the
//! exact HVP in direction `(dU, dV)` is the Gauss-Newton part `J^T A(dU V^T + U dV^T) / N` plus the
//! residual part `(M dV, M^T dU)` (symmetric: `(M + M^T) dX`).
use super::{Loss, Model, Targets};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A factorized `m x n` matrix of inner dimension `k` (see the module doc for the layouts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Factorized {
    /// Rows of `W`.
    pub m: usize,
    /// Columns of `W`.
    pub n: usize,
    /// Inner dimension (the rank bound) of the factors.
    pub k: usize,
    /// `W = X X^T` (one factor, `m == n`) instead of `U V^T`.
    pub symmetric: bool,
}

/// The measurement operator of a batch.
enum Meas<'a> {
    Sensing(ArrayView2<'a, f64>),
    Entries(Vec<(usize, usize)>),
}

impl Factorized {
    /// An `m x n` model `U V^T` with inner dimension `k`, or `X X^T` when `symmetric` (needs `m == n`).
    pub fn new(m: usize, n: usize, k: usize, symmetric: bool) -> Self {
        assert!(!symmetric || m == n, "a symmetric factorization X X^T needs m == n");
        Factorized { m, n, k, symmetric }
    }

    /// Pack sensing matrices (each `m x n`) as input rows.
    pub fn sensing_input(&self, mats: &[Array2<f64>]) -> Array2<f64> {
        let mut x = Array2::zeros((mats.len(), self.m * self.n));
        for (mut row, a) in x.axis_iter_mut(Axis(0)).zip(mats) {
            assert_eq!(a.dim(), (self.m, self.n), "sensing matrix shape");
            row.assign(&a.iter().copied().collect::<Array1<f64>>());
        }
        x
    }

    /// Pack observed entries `(row, col)` as input rows.
    pub fn entries_input(&self, entries: &[(usize, usize)]) -> Array2<f64> {
        let mut x = Array2::zeros((entries.len(), 2));
        for (i, &(r, c)) in entries.iter().enumerate() {
            assert!(r < self.m && c < self.n, "entry ({r}, {c}) outside {} x {}", self.m, self.n);
            x[[i, 0]] = r as f64;
            x[[i, 1]] = c as f64;
        }
        x
    }

    /// The factors `(U, V)` (for a symmetric model both are `X`).
    pub fn factors<'a>(&self, w: ArrayView1<'a, f64>) -> (ArrayView2<'a, f64>, ArrayView2<'a, f64>) {
        assert_eq!(w.len(), self.num_params(), "Factorized: parameter vector has the wrong length");
        let mk = self.m * self.k;
        let u = w.slice_move(ndarray::s![..mk]).into_shape_with_order((self.m, self.k)).expect("contiguous parameters");
        if self.symmetric {
            (u, u)
        } else {
            let v =
                w.slice_move(ndarray::s![mk..]).into_shape_with_order((self.n, self.k)).expect("contiguous parameters");
            (u, v)
        }
    }

    /// The matrix `W = U V^T` (or `X X^T`).
    pub fn product(&self, w: ArrayView1<f64>) -> Array2<f64> {
        let w = w.as_standard_layout();
        let (u, v) = self.factors(w.view());
        u.dot(&v.t())
    }

    /// Parameters with every entry i.i.d. `N(0, std^2)`.
    pub fn init(&self, rng: &mut impl Rng, std: f64) -> Array1<f64> {
        crate::rng::gaussian_vec(rng, self.num_params(), std)
    }

    fn meas<'a>(&self, x: ArrayView2<'a, f64>) -> Meas<'a> {
        if x.ncols() == self.m * self.n {
            Meas::Sensing(x)
        } else if x.ncols() == 2 {
            let e = x
                .rows()
                .into_iter()
                .map(|r| {
                    let (i, j) = (r[0] as usize, r[1] as usize);
                    assert!(i < self.m && j < self.n, "entry ({i}, {j}) outside {} x {}", self.m, self.n);
                    (i, j)
                })
                .collect();
            Meas::Entries(e)
        } else {
            panic!(
                "Factorized: input rows must have m*n = {} (sensing) or 2 (entries) columns, got {}",
                self.m * self.n,
                x.ncols()
            )
        }
    }

    /// `A(W)`.
    fn apply(&self, a: &Meas, wm: &Array2<f64>) -> Array1<f64> {
        match a {
            Meas::Sensing(x) => {
                let flat = wm.as_standard_layout();
                x.dot(&flat.view().into_shape_with_order(self.m * self.n).expect("contiguous"))
            }
            Meas::Entries(e) => e.iter().map(|&(i, j)| wm[[i, j]]).collect(),
        }
    }

    /// `A*(r) = sum_i r_i A_i`.
    fn adjoint(&self, a: &Meas, r: ArrayView1<f64>) -> Array2<f64> {
        match a {
            Meas::Sensing(x) => x.t().dot(&r).into_shape_with_order((self.m, self.n)).expect("m x n"),
            Meas::Entries(e) => {
                let mut m = Array2::zeros((self.m, self.n));
                for (&(i, j), &ri) in e.iter().zip(r) {
                    m[[i, j]] += ri;
                }
                m
            }
        }
    }

    /// Differential of `W` in direction `v`: `dU V^T + U dV^T` (or `dX X^T + X dX^T`).
    fn d_product(&self, w: ArrayView1<f64>, v: ArrayView1<f64>) -> Array2<f64> {
        let (u, vv) = self.factors(w);
        let (du, dv) = self.factors(v);
        du.dot(&vv.t()) + u.dot(&dv.t())
    }

    /// Gradient of `<M, W(w)>` with respect to `w`: `(M V, M^T U)` or `(M + M^T) X`.
    fn pull(&self, w: ArrayView1<f64>, mm: &Array2<f64>) -> Array1<f64> {
        let (u, v) = self.factors(w);
        if self.symmetric {
            let s = mm + &mm.t();
            s.dot(&u).into_iter().collect()
        } else {
            mm.dot(&v).into_iter().chain(mm.t().dot(&u)).collect()
        }
    }
}

impl Model for Factorized {
    fn num_params(&self) -> usize {
        if self.symmetric { self.m * self.k } else { (self.m + self.n) * self.k }
    }
    fn num_outputs(&self) -> usize {
        1
    }
    fn loss_fn(&self) -> Loss {
        Loss::Mse
    }
    fn forward(&self, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
        let a = self.meas(x);
        let f = self.apply(&a, &self.product(w));
        f.insert_axis(Axis(1))
    }
    fn jvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, v: ArrayView1<f64>) -> Array2<f64> {
        let (w, v) = (w.as_standard_layout(), v.as_standard_layout());
        let a = self.meas(x);
        self.apply(&a, &self.d_product(w.view(), v.view())).insert_axis(Axis(1))
    }
    fn vjp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, u: ArrayView2<f64>) -> Array1<f64> {
        let w = w.as_standard_layout();
        assert_eq!(u.dim(), (x.nrows(), 1), "vjp: cotangent shape");
        let a = self.meas(x);
        self.pull(w.view(), &self.adjoint(&a, u.column(0)))
    }
    fn loss_grad(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> (f64, Array1<f64>) {
        let w = w.as_standard_layout();
        let a = self.meas(x);
        let f = self.apply(&a, &self.product(w.view())).insert_axis(Axis(1));
        let (l, mut g) = Loss::Mse.value_grad(f.view(), y);
        g /= x.nrows() as f64;
        (l, self.pull(w.view(), &self.adjoint(&a, g.column(0))))
    }
    fn hvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, v: ArrayView1<f64>) -> Array1<f64> {
        let (w, v) = (w.as_standard_layout(), v.as_standard_layout());
        let nn = x.nrows() as f64;
        let a = self.meas(x);
        let f = self.apply(&a, &self.product(w.view())).insert_axis(Axis(1));
        let (_, mut r) = Loss::Mse.value_grad(f.view(), y);
        r /= nn;
        // Gauss-Newton part.
        let jv = self.apply(&a, &self.d_product(w.view(), v.view())) / nn;
        let mut out = self.pull(w.view(), &self.adjoint(&a, jv.view()));
        // Residual part: the second derivative of <M, W(w)> in direction v.
        let mm = self.adjoint(&a, r.column(0));
        out += &self.pull(v.view(), &mm);
        out
    }
}
