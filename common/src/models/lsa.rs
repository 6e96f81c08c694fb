//! One-layer linear self-attention for in-context linear regression, in the parametrisation of
//! Mahankali, Hashimoto & Ma (2023), "One Step of Gradient Descent is Provably the Optimal
//! In-Context Learner with One Layer of Linear Self-Attention":
//!
//! `ŷ = u^T S B x_q`, `S = (1/n) sum_{i=1..n} z_i z_i^T`, `z_i = (x_i, y_i) ∈ R^{d+1}`,
//!
//! with `u ∈ R^{d+1}` (the value read-out of the label coordinate) and `B ∈ R^{(d+1) x d}` (the
//! merged key-query matrix acting on the query). One step of gradient descent from zero with step
//! `η` on the in-context least-squares loss is `u = e_{d+1}`, `B = [η I_d; 0]`
//! ([`Lsa::gd_params`]), giving `ŷ = (η/n) sum_i y_i x_i^T x_q`. Trained with the MSE loss
//! `0.5 * mean_prompts (ŷ - y_q)^2`.
//!
//! **Parameter layout.** `u` (`d + 1`), then `B` row-major (`(d + 1) x d`): `(d + 1)^2` numbers.
//!
//! **Input layout.** One prompt per row of `x`, `n (d + 1) + d` numbers:
//! `[x_1 (d), y_1, x_2 (d), y_2, ..., x_n (d), y_n, x_q (d)]`, i.e. the context matrix
//! `Z` (`n x (d+1)`, rows `z_i`) row-major followed by the query. [`Lsa::pack_prompt`] builds
//! one row. Targets: `Targets::Regression` `N x 1` holding `y_q`.
//!
//! `S` is never formed: `S a = Z^T (Z a) / n`, so every pass is `O(n d)` per prompt.
use super::{Loss, Model, Targets};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One-layer linear self-attention (see the module doc for the parameter and input layouts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lsa {
    /// Feature dimension `d`.
    pub d: usize,
    /// Context length `n` (examples per prompt).
    pub n_ctx: usize,
}

impl Lsa {
    /// A model for prompts of `n_ctx` examples with `d` features (both positive).
    pub fn new(d: usize, n_ctx: usize) -> Self {
        assert!(d > 0 && n_ctx > 0, "Lsa needs d > 0 and n_ctx > 0");
        Lsa { d, n_ctx }
    }

    /// Width of one input row, `n (d + 1) + d`.
    pub fn input_width(&self) -> usize {
        self.n_ctx * (self.d + 1) + self.d
    }

    /// One input row from context features (`n x d`), context labels (`n`) and a query (`d`).
    pub fn pack_prompt(&self, ctx_x: ArrayView2<f64>, ctx_y: ArrayView1<f64>, query: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(ctx_x.dim(), (self.n_ctx, self.d), "context features shape");
        assert_eq!(ctx_y.len(), self.n_ctx, "context labels length");
        assert_eq!(query.len(), self.d, "query length");
        let mut row = Array1::zeros(self.input_width());
        for i in 0..self.n_ctx {
            let o = i * (self.d + 1);
            row.slice_mut(s![o..o + self.d]).assign(&ctx_x.row(i));
            row[o + self.d] = ctx_y[i];
        }
        row.slice_mut(s![self.n_ctx * (self.d + 1)..]).assign(&query);
        row
    }

    /// The context matrix `Z` (`n x (d+1)`) and query `x_q` of one input row.
    pub fn prompt<'a>(&self, row: ArrayView1<'a, f64>) -> (ArrayView2<'a, f64>, ArrayView1<'a, f64>) {
        assert_eq!(row.len(), self.input_width(), "Lsa: input row has the wrong width");
        let m = self.n_ctx * (self.d + 1);
        let (z, q) = row.split_at(Axis(0), m);
        let z = z.into_shape_with_order((self.n_ctx, self.d + 1)).unwrap_or_else(|_| {
            panic!("Lsa: input rows must be contiguous");
        });
        (z, q)
    }

    /// The views `(u, B)` of a parameter vector.
    pub fn params<'a>(&self, w: ArrayView1<'a, f64>) -> (ArrayView1<'a, f64>, ArrayView2<'a, f64>) {
        assert_eq!(w.len(), self.num_params(), "Lsa: parameter vector has the wrong length");
        let (u, b) = w.split_at(Axis(0), self.d + 1);
        (u, b.into_shape_with_order((self.d + 1, self.d)).expect("contiguous parameters"))
    }

    /// The parameters of one gradient-descent step with step size `eta`: `u = e_{d+1}`,
    /// `B = [eta I; 0]`.
    pub fn gd_params(&self, eta: f64) -> Array1<f64> {
        let mut w = Array1::zeros(self.num_params());
        w[self.d] = 1.0;
        for j in 0..self.d {
            w[self.d + 1 + j * self.d + j] = eta;
        }
        w
    }

    /// Parameters with every entry i.i.d. `N(0, std^2)`.
    pub fn init(&self, rng: &mut impl Rng, std: f64) -> Array1<f64> {
        crate::rng::gaussian_vec(rng, self.num_params(), std)
    }

    /// `S a = Z^T (Z a) / n`.
    fn s_times(&self, z: &ArrayView2<f64>, a: &Array1<f64>) -> Array1<f64> {
        z.t().dot(&z.dot(a)) / self.n_ctx as f64
    }

    /// Per-prompt quantities `(S B x_q, S u)`.
    fn parts(&self, u: &ArrayView1<f64>, b: &ArrayView2<f64>, row: ArrayView1<f64>) -> (Array1<f64>, Array1<f64>) {
        let (z, xq) = self.prompt(row);
        (self.s_times(&z, &b.dot(&xq)), self.s_times(&z, &u.to_owned()))
    }

    /// Add `c * d f/d w` of one prompt to `out`, where `shb = S B x_q`, `su = S u`.
    fn add_grad(&self, out: &mut Array1<f64>, c: f64, shb: &Array1<f64>, su: &Array1<f64>, xq: ArrayView1<f64>) {
        let d1 = self.d + 1;
        out.slice_mut(s![..d1]).scaled_add(c, shb);
        let mut gb = out.slice_mut(s![d1..]).into_shape_with_order((d1, self.d)).expect("contiguous");
        for a in 0..d1 {
            gb.row_mut(a).scaled_add(c * su[a], &xq);
        }
    }

    fn check_x(&self, x: &ArrayView2<f64>) {
        assert_eq!(x.ncols(), self.input_width(), "Lsa: input rows need n(d+1)+d = {} columns", self.input_width());
    }
}

impl Model for Lsa {
    fn num_params(&self) -> usize {
        (self.d + 1) * (self.d + 1)
    }
    fn num_outputs(&self) -> usize {
        1
    }
    fn loss_fn(&self) -> Loss {
        Loss::Mse
    }
    fn forward(&self, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
        self.check_x(&x);
        let x = x.as_standard_layout();
        let w = w.as_standard_layout();
        let (u, b) = self.params(w.view());
        let f: Array1<f64> = x.rows().into_iter().map(|row| u.dot(&self.parts(&u, &b, row).0)).collect();
        f.insert_axis(Axis(1))
    }
    fn jvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, v: ArrayView1<f64>) -> Array2<f64> {
        self.check_x(&x);
        let x = x.as_standard_layout();
        let (w, v) = (w.as_standard_layout(), v.as_standard_layout());
        let (u, b) = self.params(w.view());
        let (du, db) = self.params(v.view());
        let f: Array1<f64> = x
            .rows()
            .into_iter()
            .map(|row| {
                let (shb, su) = self.parts(&u, &b, row);
                let xq = self.prompt(row).1;
                du.dot(&shb) + su.dot(&db.dot(&xq))
            })
            .collect();
        f.insert_axis(Axis(1))
    }
    fn vjp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, c: ArrayView2<f64>) -> Array1<f64> {
        self.check_x(&x);
        assert_eq!(c.dim(), (x.nrows(), 1), "vjp: cotangent shape");
        let x = x.as_standard_layout();
        let w = w.as_standard_layout();
        let (u, b) = self.params(w.view());
        let mut out = Array1::zeros(self.num_params());
        for (p, row) in x.rows().into_iter().enumerate() {
            let (shb, su) = self.parts(&u, &b, row);
            self.add_grad(&mut out, c[[p, 0]], &shb, &su, self.prompt(row).1);
        }
        out
    }
    fn loss_grad(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets) -> (f64, Array1<f64>) {
        self.check_x(&x);
        y.check(x.nrows(), 1);
        let x = x.as_standard_layout();
        let w = w.as_standard_layout();
        let (u, b) = self.params(w.view());
        let nn = x.nrows() as f64;
        let mut out = Array1::zeros(self.num_params());
        let mut loss = 0.0;
        for (p, row) in x.rows().into_iter().enumerate() {
            let (shb, su) = self.parts(&u, &b, row);
            let r = u.dot(&shb) - y.row(p).weight(0);
            loss += 0.5 * r * r;
            self.add_grad(&mut out, r / nn, &shb, &su, self.prompt(row).1);
        }
        (loss / nn, out)
    }
    fn hvp(&self, w: ArrayView1<f64>, x: ArrayView2<f64>, y: &Targets, v: ArrayView1<f64>) -> Array1<f64> {
        self.check_x(&x);
        y.check(x.nrows(), 1);
        let x = x.as_standard_layout();
        let (w, v) = (w.as_standard_layout(), v.as_standard_layout());
        let (u, b) = self.params(w.view());
        let (du, db) = self.params(v.view());
        let nn = x.nrows() as f64;
        let d1 = self.d + 1;
        let mut out = Array1::zeros(self.num_params());
        for (p, row) in x.rows().into_iter().enumerate() {
            let (z, xq) = self.prompt(row);
            let (shb, su) = self.parts(&u, &b, row);
            let r = (u.dot(&shb) - y.row(p).weight(0)) / nn;
            let s_dbx = self.s_times(&z, &db.dot(&xq));
            let jv = du.dot(&shb) + u.dot(&s_dbx);
            // Gauss-Newton part: J^T (J v) / N.
            self.add_grad(&mut out, jv / nn, &shb, &su, xq);
            // Residual part: r * (S dB x_q, (S du) x_q^T).
            out.slice_mut(s![..d1]).scaled_add(r, &s_dbx);
            let s_du = self.s_times(&z, &du.to_owned());
            let mut gb = out.slice_mut(s![d1..]).into_shape_with_order((d1, self.d)).expect("contiguous");
            for a in 0..d1 {
                gb.row_mut(a).scaled_add(r * s_du[a], &xq);
            }
        }
        out
    }
}
