//! Deep linear networks y = W_D ⋯ W_1 x trained by full-batch gradient descent on whitened inputs.
//!
//! With Σ¹¹ = E[x xᵀ] = I and Σ³¹ = E[y xᵀ], the mean squared error ½E‖y - W_D⋯W_1 x‖² equals
//! ½‖Σ³¹ - W_D⋯W_1‖²_F plus a constant, so full-batch GD on any whitened data set with correlation
//! Σ³¹ is GD on this matrix loss (the paper's Eqs. for τ dW/dt, Sec. 1-3). Gradients are formed by
//! back-propagation through the chain (prefix products forward, error backward), never by the
//! per-mode reduction, so the decoupling the paper derives is something the simulation must show.
use common::linalg::haar_orthogonal;
use common::rng::{StudyRng, gaussian_mat};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, s};

#[cfg(test)]
thread_local! {
    /// Test-only planted bug: `Some((l, f))` multiplies the learning rate of layer `l` (0 = W_1) by
    /// `f` in every GD step taken on this thread (run the cells inline: `Ctx { jobs: 1, .. }`).
    pub static LAYER_LR_BUG: std::cell::Cell<Option<(usize, f64)>> = const { std::cell::Cell::new(None) };
}

/// The learning rate of layer `l`: `lr` (a test may plant a wrong one through [`LAYER_LR_BUG`]).
#[inline]
fn layer_lr(lr: f64, l: usize) -> f64 {
    #[cfg(test)]
    if let Some((bad, f)) = LAYER_LR_BUG.with(|b| b.get())
        && bad == l
    {
        return lr * f;
    }
    let _ = l;
    lr
}

/// A chain of weight matrices, `ws[0]` = W_1 (applied first) ... `ws[D-1]` = W_D.
#[derive(Clone, Debug)]
pub struct Chain {
    pub ws: Vec<Array2<f64>>,
}

/// How a training run ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// Loss reached `rel_tol · L0` after this many GD steps.
    Converged(usize),
    /// The step cap was hit first.
    Capped,
    /// The loss became non-finite or exceeded 1e12 · L0.
    Diverged(usize),
}

impl Stop {
    /// Steps as a number: the count when converged, +inf otherwise.
    pub fn steps(self) -> f64 {
        match self {
            Stop::Converged(k) => k as f64,
            _ => f64::INFINITY,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Stop::Converged(_) => "converged",
            Stop::Capped => "capped",
            Stop::Diverged(_) => "diverged",
        }
    }
}

impl Chain {
    pub fn depth(&self) -> usize {
        self.ws.len()
    }
    pub fn n_in(&self) -> usize {
        self.ws[0].ncols()
    }

    /// The end-to-end map W_D ⋯ W_1.
    pub fn product(&self) -> Array2<f64> {
        let mut p = self.ws[0].clone();
        for w in &self.ws[1..] {
            p = w.dot(&p);
        }
        p
    }

    /// Loss ½‖T - W_D⋯W_1‖²_F and its gradient with respect to every W_l, by back-propagation:
    /// with P_l = W_l⋯W_1 and F_l = (W_D⋯W_{l+1})ᵀ E (E = T - P_D), dL/dW_l = -F_l P_{l-1}ᵀ.
    pub fn loss_and_grads(&self, target: &Array2<f64>) -> (f64, Vec<Array2<f64>>) {
        let d = self.depth();
        let mut pre: Vec<Array2<f64>> = Vec::with_capacity(d);
        pre.push(Array2::eye(self.n_in()));
        for l in 0..d {
            let next = self.ws[l].dot(&pre[l]);
            pre.push(next);
        }
        let e = target - &pre[d];
        let loss = 0.5 * e.iter().map(|x| x * x).sum::<f64>();
        let mut grads = vec![Array2::zeros((0, 0)); d];
        let mut f = e;
        for l in (0..d).rev() {
            grads[l] = -f.dot(&pre[l].t());
            if l > 0 {
                f = self.ws[l].t().dot(&f);
            }
        }
        common::counters::add_grads(1);
        (loss, grads)
    }

    /// One GD step with learning rate `lr` (all layers updated from the same point); returns the
    /// loss before the step.
    pub fn gd_step(&mut self, target: &Array2<f64>, lr: f64) -> f64 {
        let (loss, grads) = self.loss_and_grads(target);
        for (l, (w, g)) in self.ws.iter_mut().zip(&grads).enumerate() {
            w.scaled_add(-layer_lr(lr, l), g);
        }
        loss
    }

    /// Forward pass into `work` (prefix products and the error E = T - W_D⋯W_1); returns the loss.
    pub fn forward(&self, target: &Array2<f64>, work: &mut Work) -> f64 {
        let d = self.depth();
        work.pre[0].assign(&self.ws[0]);
        for l in 1..d {
            let (done, rest) = work.pre.split_at_mut(l);
            general_mat_mul(1.0, &self.ws[l], &done[l - 1], 0.0, &mut rest[0]);
        }
        let e = &mut work.err[d - 1];
        e.assign(target);
        e.scaled_add(-1.0, &work.pre[d - 1]);
        0.5 * e.iter().map(|x| x * x).sum::<f64>()
    }

    /// After [`Chain::forward`]: back-propagate the error and take one GD step in place. Each W_l is
    /// updated only after the error has been propagated through its old value, so this is exactly
    /// the simultaneous update W_l <- W_l - η dL/dW_l of [`Chain::gd_step`], without allocations.
    pub fn backward_update(&mut self, lr: f64, work: &mut Work) {
        let d = self.depth();
        for l in (0..d).rev() {
            if l > 0 {
                // F_{l-1} = W_lᵀ F_l, then W_l += η F_l P_{l-1}ᵀ.
                let (lower, upper) = work.err.split_at_mut(l);
                general_mat_mul(1.0, &self.ws[l].t(), &upper[0], 0.0, &mut lower[l - 1]);
                general_mat_mul(layer_lr(lr, l), &upper[0], &work.pre[l - 1].t(), 1.0, &mut self.ws[l]);
            } else {
                self.ws[0].scaled_add(layer_lr(lr, 0), &work.err[0]);
            }
        }
        common::counters::add_grads(1);
    }

    /// GD until ½‖T - W‖² <= rel_tol · L0, at most `cap` steps. `observe(k, chain)` sees the chain
    /// before step k (k = 0 is the initialisation).
    pub fn train_to_tol(
        &mut self,
        target: &Array2<f64>,
        lr: f64,
        rel_tol: f64,
        cap: usize,
        mut observe: impl FnMut(usize, &Chain),
    ) -> Stop {
        let mut work = Work::new(self);
        let mut l0 = f64::NAN;
        for k in 0..=cap {
            observe(k, self);
            let loss = self.forward(target, &mut work);
            if k == 0 {
                l0 = loss;
            }
            if !loss.is_finite() || loss > 1e12 * l0 {
                return Stop::Diverged(k);
            }
            if loss <= rel_tol * l0 {
                return Stop::Converged(k);
            }
            if k == cap {
                break;
            }
            self.backward_update(lr, &mut work);
        }
        Stop::Capped
    }
}

/// Buffers of one GD step: prefix products P_l = W_l⋯W_1 and back-propagated errors
/// F_l = (W_D⋯W_{l+1})ᵀ E, both d_l x n_in.
pub struct Work {
    pre: Vec<Array2<f64>>,
    err: Vec<Array2<f64>>,
}

impl Work {
    pub fn new(chain: &Chain) -> Work {
        let n_in = chain.n_in();
        let bufs = || chain.ws.iter().map(|w| Array2::zeros((w.nrows(), n_in))).collect::<Vec<_>>();
        Work { pre: bufs(), err: bufs() }
    }
    /// The end-to-end map W_D⋯W_1 of the last [`Chain::forward`].
    pub fn product(&self) -> &Array2<f64> {
        self.pre.last().expect("depth >= 1")
    }
}

/// Target Σ³¹ = U diag(s) Vᵀ with Haar-random U (n_out x n_out) and V (n_in x n_out, the first
/// n_out columns of a Haar matrix; n_out <= n_in). Returns (Σ³¹, U, V).
pub fn random_target(rng: &mut StudyRng, s: &[f64], n_in: usize) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
    let n_out = s.len();
    assert!(n_out <= n_in);
    let u = haar_orthogonal(rng, n_out);
    let v = haar_orthogonal(rng, n_in).slice(s![.., ..n_out]).to_owned();
    let mut us = u.clone();
    for (j, &sj) in s.iter().enumerate() {
        us.column_mut(j).mapv_inplace(|x| x * sj);
    }
    (us.dot(&v.t()), u, v)
}

/// Decoupled, balanced initialisation aligned with the target's singular vectors (square case,
/// all widths N = U's size): W_1 = R_1 diag(a) Vᵀ, W_l = R_l diag(a) R_{l-1}ᵀ, W_D = U diag(a) R_{D-1}ᵀ
/// with Haar-random hidden rotations R_l, so W_D⋯W_1 = U diag(a^D) Vᵀ (paper, Sec. 2-3: the
/// special class of initial conditions for which the dynamics decouple exactly). `a[α]` is the
/// per-layer amplitude of mode α (u0 = a^D).
pub fn aligned_chain(rng: &mut StudyRng, u: &Array2<f64>, v: &Array2<f64>, a: &[f64], depth: usize) -> Chain {
    let n = u.nrows();
    assert!(u.ncols() == n && v.nrows() == n && v.ncols() == n && a.len() == n, "aligned_chain is square");
    let mut frames = vec![v.clone()];
    for _ in 1..depth {
        frames.push(haar_orthogonal(rng, n));
    }
    frames.push(u.clone());
    let ws = (0..depth)
        .map(|l| {
            let mut left = frames[l + 1].clone();
            for (j, &aj) in a.iter().enumerate() {
                left.column_mut(j).mapv_inplace(|x| x * aj);
            }
            left.dot(&frames[l].t())
        })
        .collect();
    Chain { ws }
}

/// Layer sizes [n_in, width, ..., width, n_out] of a depth-D chain (D = 1: [n_in, n_out]).
pub fn layer_dims(n_in: usize, width: usize, n_out: usize, depth: usize) -> Vec<usize> {
    let mut dims = vec![n_in];
    dims.extend(std::iter::repeat_n(width, depth - 1));
    dims.push(n_out);
    dims
}

/// Scaled Gaussian initialisation: W_l ~ N(0, 1/fan_in) entrywise (the paper's "scaled random
/// Gaussian", variance 1/N, which preserves the norm of a random vector on average).
pub fn gaussian_chain(rng: &mut StudyRng, dims: &[usize]) -> Chain {
    Chain { ws: dims.windows(2).map(|w| gaussian_mat(rng, w[1], w[0], 1.0 / (w[0] as f64).sqrt())).collect() }
}

/// Random orthogonal initialisation (paper, Sec. 4): every W_l is (the top-left block of) an
/// independent Haar orthogonal matrix, so square layers are exactly orthogonal and rectangular ones
/// have orthonormal rows or columns (W_1: an isometric embedding, W_D: a co-isometry).
pub fn orthogonal_chain(rng: &mut StudyRng, dims: &[usize]) -> Chain {
    Chain {
        ws: dims
            .windows(2)
            .map(|w| {
                let n = w[0].max(w[1]);
                haar_orthogonal(rng, n).slice(s![..w[1], ..w[0]]).to_owned()
            })
            .collect(),
    }
}

/// Mode strengths diag(Uᵀ W V) and the largest off-diagonal magnitude of Uᵀ W V.
pub fn mode_strengths(w: &Array2<f64>, u: &Array2<f64>, v: &Array2<f64>) -> (Vec<f64>, f64) {
    let m = u.t().dot(w).dot(v);
    let diag: Vec<f64> = m.diag().to_vec();
    let mut off = 0.0f64;
    for ((i, j), x) in m.indexed_iter() {
        if i != j {
            off = off.max(x.abs());
        }
    }
    (diag, off)
}

/// Logs of the singular values of W_D ⋯ W_1 by QR re-orthogonalised accumulation (the
/// Benettin/Lyapunov method): Q_0 = I, W_l Q_{l-1} = Q_l R_l, returns Σ_l ln|diag R_l| in index
/// order. The spread max - min estimates ln cond without forming the (ill-conditioned) product.
pub fn qr_log_diag(ws: &[Array2<f64>]) -> Vec<f64> {
    let n = ws[0].ncols();
    let mut q = Array2::eye(n);
    let mut acc = vec![0.0; n];
    for w in ws {
        let (qn, r) = common::linalg::qr(&w.dot(&q));
        for (i, a) in acc.iter_mut().enumerate() {
            *a += r[[i, i]].abs().ln();
        }
        q = qn;
    }
    acc
}

/// Largest |σ_i - 1| over the singular values of a matrix.
pub fn max_isometry_defect(m: &Array2<f64>) -> f64 {
    common::linalg::singular_values(m).iter().fold(0.0f64, |a, s| a.max((s - 1.0).abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::rng::Seed;

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Seed(11).rng();
        let chain = gaussian_chain(&mut rng, &[3, 5, 4, 2]);
        let target = gaussian_mat(&mut rng, 2, 3, 1.0);
        let (_, grads) = chain.loss_and_grads(&target);
        let h = 1e-6;
        for (l, gl) in grads.iter().enumerate() {
            for ((i, j), g) in gl.indexed_iter() {
                let mut p = chain.clone();
                p.ws[l][[i, j]] += h;
                let mut m = chain.clone();
                m.ws[l][[i, j]] -= h;
                let fd = (p.loss_and_grads(&target).0 - m.loss_and_grads(&target).0) / (2.0 * h);
                assert!((fd - g).abs() < 1e-7 * (1.0 + g.abs()), "layer {l} ({i},{j}): fd {fd} vs {g}");
            }
        }
        // Shapes follow the layers.
        for (w, g) in chain.ws.iter().zip(&grads) {
            assert_eq!(w.dim(), g.dim());
        }
        // The in-place forward/backward step equals the simultaneous update with these gradients.
        let mut a = chain.clone();
        let mut work = Work::new(&a);
        let loss = a.forward(&target, &mut work);
        a.backward_update(0.01, &mut work);
        let mut b = chain.clone();
        let loss_b = b.gd_step(&target, 0.01);
        assert!((loss - loss_b).abs() < 1e-13);
        for (x, y) in a.ws.iter().zip(&b.ws) {
            assert!((x - y).iter().all(|v| v.abs() < 1e-14));
        }
    }

    #[test]
    fn aligned_init_composes_and_decouples() {
        let mut rng = Seed(12).rng();
        let s = [3.0, 2.0, 1.5, 1.0];
        let (t, u, v) = random_target(&mut rng, &s, 4);
        let a = [0.9, 1.0, 1.1, 0.7];
        for depth in [1, 2, 5] {
            let chain = aligned_chain(&mut rng, &u, &v, &a, depth);
            let (diag, off) = mode_strengths(&chain.product(), &u, &v);
            for (x, ai) in diag.iter().zip(&a) {
                assert!((x - ai.powi(depth as i32)).abs() < 1e-12);
            }
            assert!(off < 1e-12);
            // A few GD steps follow the scalar map exactly (the paper's decoupling).
            let lr = 0.05;
            let mut c = chain.clone();
            let mut amp = a.to_vec();
            for _ in 0..30 {
                c.gd_step(&t, lr);
                for (x, &si) in amp.iter_mut().zip(&s) {
                    *x = crate::theory::scalar_gd_step(*x, si, depth, lr);
                }
            }
            let (diag, off) = mode_strengths(&c.product(), &u, &v);
            for (x, ai) in diag.iter().zip(&amp) {
                assert!((x - ai.powi(depth as i32)).abs() < 1e-12, "depth {depth}");
            }
            assert!(off < 1e-12);
        }
        // Target reconstruction.
        let (diag, off) = mode_strengths(&t, &u, &v);
        assert!(diag.iter().zip(&s).all(|(x, y)| (x - y).abs() < 1e-12) && off < 1e-12);
    }

    #[test]
    fn orthogonal_products_are_isometries_and_gaussian_ones_are_not() {
        let mut rng = Seed(13).rng();
        let dims = vec![8; 7];
        let o = orthogonal_chain(&mut rng, &dims);
        assert!(max_isometry_defect(&o.product()) < 1e-12);
        assert!(qr_log_diag(&o.ws).iter().all(|x| x.abs() < 1e-12));
        let g = gaussian_chain(&mut rng, &dims);
        assert!(max_isometry_defect(&g.product()) > 0.1);
        // QR accumulation gives the exact log |det| and, for a short product, ln cond close to SVD's.
        let acc = qr_log_diag(&g.ws);
        let sv = common::linalg::singular_values(&g.product());
        let logdet_svd: f64 = sv.iter().map(|x| x.ln()).sum();
        assert!((acc.iter().sum::<f64>() - logdet_svd).abs() < 1e-9);
        // Rectangular orthogonal layers: W_1 has orthonormal columns, W_D orthonormal rows.
        let r = orthogonal_chain(&mut rng, &layer_dims(4, 9, 3, 3));
        let c = r.ws[0].t().dot(&r.ws[0]);
        assert!((&c - &Array2::<f64>::eye(4)).iter().all(|x| x.abs() < 1e-12));
        let c = r.ws[2].dot(&r.ws[2].t());
        assert!((&c - &Array2::<f64>::eye(3)).iter().all(|x| x.abs() < 1e-12));
        assert_eq!(layer_dims(4, 9, 3, 1), vec![4, 3]);
    }

    #[test]
    fn training_stops_as_documented() {
        let mut rng = Seed(14).rng();
        let s = [2.0, 1.0];
        let (t, u, v) = random_target(&mut rng, &s, 2);
        let mut c = aligned_chain(&mut rng, &u, &v, &[1.0, 1.0], 1);
        // D = 1, lr = 0.5: error halves each step, loss quarters: 1e-6 needs 10 steps.
        assert_eq!(c.train_to_tol(&t, 0.5, 1e-6, 100, |_, _| {}), Stop::Converged(10));
        let mut c = aligned_chain(&mut rng, &u, &v, &[1.0, 1.0], 1);
        assert_eq!(c.train_to_tol(&t, 0.5, 1e-6, 3, |_, _| {}), Stop::Capped);
        let mut c = aligned_chain(&mut rng, &u, &v, &[1.0, 1.0], 1);
        assert!(matches!(c.train_to_tol(&t, 5.0, 1e-6, 100, |_, _| {}), Stop::Diverged(_)));
        assert!(Stop::Capped.steps().is_infinite());
    }
}
