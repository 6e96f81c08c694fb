//! Sharpness tracking during training: an observer for [`super::train`]'s evaluation hook that,
//! every `every` steps, estimates the top eigenvalue `λ_max` of the training-loss Hessian (the
//! "sharpness" of the edge-of-stability literature) from exact Hessian-vector products, warm-started
//! from the previous top eigenvector (between two nearby iterates the top eigenvector moves little,
//! so a warm start needs a few products where a cold one needs tens).
//!
//! The observer never builds the operator itself: the caller passes a closure `w -> LinOp` that
//! gives the curvature at the current parameters, so the products run wherever that operator runs
//! (the CPU's `Problem::hessian_op`, or the device operator `gpu::mlp_curvature`, which is a
//! [`LinOp`] too). For gradient descent with step `η` the reference is the stability threshold
//! `2/η` ([`edge_of_stability`]); the observer reports `λ_max` and, when given `η`, `λ_max η / 2`.
use ndarray::{Array1, ArrayView1};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::linalg::{LinOp, lanczos, power_iteration_from};
use crate::rng::gaussian_vec;

/// The gradient-descent stability threshold `2/η`: the sharpness at which a quadratic's top
/// direction stops contracting under steps of size `η`.
pub fn edge_of_stability(eta: f64) -> f64 {
    2.0 / eta
}

/// How the top eigenvalue is found.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Power iteration: converges to the eigenvalue of largest magnitude (near the edge of
    /// stability that is the top positive one; the negative end of a Hessian is much smaller).
    Power,
    /// One run of `iters` Lanczos steps from the warm start; the largest Ritz value (the largest
    /// algebraic eigenvalue, robust to a large negative one).
    Lanczos,
}

/// Settings of the observer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sharpness {
    /// Measure at steps that are multiples of this (at least 1).
    pub every: usize,
    /// The most Hessian-vector products per measurement.
    pub iters: usize,
    /// Power iteration stops once successive Rayleigh quotients differ by at most `tol |λ|`.
    pub tol: f64,
    /// Power iteration or Lanczos.
    pub method: Method,
}

impl Default for Sharpness {
    fn default() -> Self {
        Sharpness { every: 20, iters: 20, tol: 1e-4, method: Method::Power }
    }
}

/// One measurement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharpnessPoint {
    /// The training step (updates applied before it).
    pub step: usize,
    /// The top eigenvalue estimate.
    pub lambda: f64,
    /// Hessian-vector products it took.
    pub products: usize,
}

/// The observer's state: its settings, the warm-start vector and every measurement so far.
#[derive(Clone, Debug)]
pub struct SharpnessTracker {
    /// Its settings.
    pub cfg: Sharpness,
    /// The step size, for the `λ η / 2` row (None: not reported).
    pub eta: Option<f64>,
    /// The last top eigenvector (unit norm); None before the first measurement.
    pub v: Option<Array1<f64>>,
    /// Every measurement, in step order.
    pub history: Vec<SharpnessPoint>,
}

impl SharpnessTracker {
    /// An observer with no measurement yet.
    pub fn new(cfg: Sharpness) -> Self {
        assert!(cfg.every >= 1 && cfg.iters >= 1, "Sharpness: every and iters must be at least 1");
        SharpnessTracker { cfg, eta: None, v: None, history: vec![] }
    }

    /// Also report `λ η / 2` (1 at the edge of stability of gradient descent with step `eta`).
    pub fn with_eta(mut self, eta: f64) -> Self {
        self.eta = Some(eta);
        self
    }

    /// Whether a measurement is due at `step`.
    pub fn due(&self, step: usize) -> bool {
        step.is_multiple_of(self.cfg.every)
    }

    /// The top eigenvalue of `op`, from the previous eigenvector (a Gaussian start, drawn from
    /// `rng`, the first time or when the dimension changed), and the number of products taken.
    /// Keeps the new eigenvector for the next call.
    pub fn top<O: LinOp + ?Sized>(&mut self, op: &O, rng: &mut impl Rng) -> (f64, usize) {
        let n = op.dim();
        let mut v = match self.v.take() {
            Some(v) if v.len() == n && v.iter().all(|x| x.is_finite()) => v,
            _ => gaussian_vec(rng, n, 1.0),
        };
        let nv = v.dot(&v).sqrt();
        v /= nv;
        let (lam, v, k) = match self.cfg.method {
            Method::Power => power_iteration_from(op, v, self.cfg.iters, self.cfg.tol),
            Method::Lanczos => {
                let lz = lanczos(op, self.cfg.iters, v.view());
                let k = lz.steps();
                let (theta, vecs) = lz.ritz_vectors();
                let last = theta.len() - 1;
                let mut u = vecs.column(last).to_owned();
                let nu = u.dot(&u).sqrt();
                u /= nu;
                (theta[last], u, k)
            }
        };
        self.v = Some(v);
        (lam, k)
    }

    /// The evaluation-hook adapter: at a due step, the top eigenvalue of `make_op(w)` recorded in
    /// [`SharpnessTracker::history`] and returned as the rows `("sharpness", λ)` and, with an
    /// `η`, `("sharpness_over_eos", λ η / 2)`; no rows at other steps.
    pub fn observe<O: LinOp, F: FnOnce(ArrayView1<f64>) -> O>(
        &mut self,
        step: usize,
        w: ArrayView1<f64>,
        make_op: F,
        rng: &mut impl Rng,
    ) -> Vec<(String, f64)> {
        if !self.due(step) {
            return vec![];
        }
        let op = make_op(w);
        let (lambda, products) = self.top(&op, rng);
        self.history.push(SharpnessPoint { step, lambda, products });
        let mut rows = vec![("sharpness".to_string(), lambda)];
        if let Some(eta) = self.eta {
            rows.push(("sharpness_over_eos".to_string(), lambda / edge_of_stability(eta)));
        }
        rows
    }

    /// Measured `(step, λ)` pairs.
    pub fn series(&self) -> Vec<(usize, f64)> {
        self.history.iter().map(|p| (p.step, p.lambda)).collect()
    }

    /// Total Hessian-vector products taken.
    pub fn products(&self) -> usize {
        self.history.iter().map(|p| p.products).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{eigh, haar_orthogonal};
    use crate::models::{Activation, Loss, Mlp, Model, Problem, Targets};
    use crate::rng::{Seed, gaussian_mat};
    use crate::train::{TrainConfig, train};
    use ndarray::Array2;

    /// `Q diag(λ) Qᵀ` with a Haar-random basis.
    fn quadratic(lams: &[f64], seed: u64) -> Array2<f64> {
        let q = haar_orthogonal(&mut Seed(seed).rng(), lams.len());
        q.dot(&Array2::from_diag(&Array1::from(lams.to_vec()))).dot(&q.t())
    }

    #[test]
    fn power_and_lanczos_find_a_quadratics_top_eigenvalue() {
        let lams: Vec<f64> = (0..30).map(|i| if i == 0 { 10.0 } else { 7.0 * i as f64 / 30.0 - 2.0 }).collect();
        let a = quadratic(&lams, 3);
        for method in [Method::Power, Method::Lanczos] {
            let mut t = SharpnessTracker::new(Sharpness { every: 1, iters: 200, tol: 1e-12, method });
            let (lam, _) = t.top(&a, &mut Seed(1).rng());
            assert!((lam - 10.0).abs() < 1e-8, "{method:?}: {lam}");
            let v = t.v.clone().unwrap();
            let r = a.dot(&v) - &v * 10.0;
            assert!(r.dot(&r).sqrt() < 1e-4, "{method:?}: eigenvector residual");
        }
    }

    #[test]
    fn warm_start_needs_fewer_products_after_a_small_perturbation() {
        let lams: Vec<f64> = (0..40).map(|i| 5.0 * 0.9f64.powi(i)).collect();
        let a = quadratic(&lams, 4);
        let mut t = SharpnessTracker::new(Sharpness { every: 1, iters: 500, tol: 1e-10, method: Method::Power });
        let mut rng = Seed(2).rng();
        let (_, cold) = t.top(&a, &mut rng);
        let b =
            &a + &(gaussian_mat(&mut Seed(5).rng(), 40, 40, 1e-4) + gaussian_mat(&mut Seed(5).rng(), 40, 40, 1e-4).t());
        let (lam, warm) = t.top(&b, &mut rng);
        let want = *eigh(&b).0.iter().last().unwrap();
        assert!((lam - want).abs() < 1e-7 * want, "{lam} vs {want}");
        assert!(warm * 3 < cold, "warm {warm} vs cold {cold}");
    }

    #[test]
    fn observer_matches_the_dense_hessian_of_a_small_mlp_along_training() {
        let mlp = Mlp::new(&[3, 5, 1], Activation::Tanh, true, Loss::Mse);
        let mut rng = Seed(7).rng();
        let x = gaussian_mat(&mut rng, 40, 3, 1.0);
        let y = Targets::Regression(gaussian_mat(&mut rng, 40, 1, 1.0));
        let w = mlp.init(&mut rng);
        let p = mlp.num_params();
        let prob = Problem::new(&mlp, x.view(), &y);
        let dense_top = |w: ArrayView1<f64>| {
            let mut h = Array2::zeros((p, p));
            for j in 0..p {
                let mut e = Array1::zeros(p);
                e[j] = 1.0;
                h.column_mut(j).assign(&mlp.hvp(w, x.view(), &y, e.view()));
            }
            let hs = (&h + &h.t()) * 0.5;
            *eigh(&hs).0.iter().last().unwrap()
        };
        for method in [Method::Power, Method::Lanczos] {
            let eta = 0.5;
            let mut tr = SharpnessTracker::new(Sharpness { every: 5, iters: 300, tol: 1e-13, method }).with_eta(eta);
            let mut opt = crate::optim::OptimizerConfig::sgd(eta).build();
            let mut seen = vec![];
            let mut orng = Seed(9).rng();
            let mut w0 = w.clone();
            let log = train(
                &mut w0,
                40,
                &TrainConfig::full_batch(20, 5),
                |w, _| mlp.loss_grad(w, x.view(), &y),
                &mut opt,
                |s, w| {
                    let rows = tr.observe(s, w, |w| prob.hessian_op(w), &mut orng);
                    if !rows.is_empty() {
                        seen.push((rows[0].1, dense_top(w), rows[1].1));
                    }
                    rows
                },
                &mut Seed(0).rng(),
            );
            assert_eq!(seen.len(), 5);
            assert_eq!(log.metric("sharpness").len(), 5);
            for (got, want, ratio) in seen {
                assert!((got - want).abs() < 1e-6 * want.abs().max(1.0), "{method:?}: {got} vs dense {want}");
                assert!((ratio - got * eta / 2.0).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn an_hvp_scaled_by_two_doubles_the_sharpness() {
        let a = quadratic(&[4.0, 1.0, 0.5, 0.1], 8);
        let twice = crate::linalg::FnOp::new(4, |v: ArrayView1<f64>| a.dot(&v) * 2.0);
        let mut t = SharpnessTracker::new(Sharpness { every: 1, iters: 300, tol: 1e-12, method: Method::Power });
        let (l, _) = t.top(&twice, &mut Seed(0).rng());
        assert!((l - 8.0).abs() < 1e-8);
        assert_eq!(edge_of_stability(0.2), 10.0);
    }
}
