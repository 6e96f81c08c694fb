//! The toy bilevel problem with a closed-form hyper-gradient, and the three upper-level methods.
//!
//! Lower level `g(x, y) = ½‖y − Ax‖² + (µ/2)‖y‖²` (strongly convex in y, `∇²_yy g = (1 + µ)I`,
//! `∇²_xy g = −Aᵀ`), upper level `f(x, y) = ½‖By − c‖² + κ Σ_j cosh(x_j)`. Then
//! `y*(x) = Ax/(1 + µ)`, `Φ(x) = ½‖BAx/(1 + µ) − c‖² + κ Σ cosh(x_j)` and
//! `∇Φ(x) = κ sinh(x) + AᵀBᵀ(BAx/(1 + µ) − c)/(1 + µ)`. The Hessian of Φ is
//! `κ diag(cosh x) + (BA)ᵀBA/(1 + µ)²`: its norm grows with ‖∇Φ‖ (cosh ≤ 1 + |sinh|), the
//! (L0, L1)-smoothness the paper assumes, with no global bound.

use common::linalg::dense::{eigvalsh, singular_values, solve_spd};
use common::rng::{Seed, StudyRng, gaussian_mat, gaussian_vec};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// One draw of the toy problem.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Lower-level target map, dy × dx, entries N(0, 1/dy).
    pub a: Array2<f64>,
    /// Upper-level read-out, m × dy, entries N(0, 1/dy).
    pub b: Array2<f64>,
    /// Upper-level target, N(0, 1) entries.
    pub c: Array1<f64>,
    /// Lower-level ridge µ.
    pub mu: f64,
    /// Weight κ of the cosh term.
    pub kappa: f64,
}

impl Problem {
    /// Draw A, B, c.
    pub fn draw(dx: usize, dy: usize, m: usize, mu: f64, kappa: f64, seed: Seed) -> Problem {
        let mut rng = seed.rng();
        let s = 1.0 / (dy as f64).sqrt();
        let a = gaussian_mat(&mut rng, dy, dx, s);
        let b = gaussian_mat(&mut rng, m, dy, s);
        let c = gaussian_vec(&mut rng, m, 1.0);
        Problem { a, b, c, mu, kappa }
    }
    /// Upper dimension.
    pub fn dx(&self) -> usize {
        self.a.ncols()
    }
    /// Lower dimension.
    pub fn dy(&self) -> usize {
        self.a.nrows()
    }
    /// y*(x) = Ax/(1 + µ).
    pub fn y_star(&self, x: &Array1<f64>) -> Array1<f64> {
        self.a.dot(x) / (1.0 + self.mu)
    }
    /// Φ(x) = f(x, y*(x)).
    pub fn phi(&self, x: &Array1<f64>) -> f64 {
        let r = self.b.dot(&self.y_star(x)) - &self.c;
        0.5 * r.dot(&r) + self.kappa * x.iter().map(|v| v.cosh()).sum::<f64>()
    }
    /// The closed form ∇Φ(x) = κ sinh(x) + AᵀBᵀ(BAx/(1 + µ) − c)/(1 + µ).
    pub fn grad_phi(&self, x: &Array1<f64>) -> Array1<f64> {
        let r = self.b.dot(&self.y_star(x)) - &self.c;
        x.mapv(|v| self.kappa * v.sinh()) + self.a.t().dot(&self.b.t().dot(&r)) / (1.0 + self.mu)
    }
    /// ‖∇²Φ(x)‖ (exact: the top eigenvalue of κ diag(cosh x) + (BA)ᵀBA/(1 + µ)²).
    pub fn smoothness_at(&self, x: &Array1<f64>) -> f64 {
        let ba = self.b.dot(&self.a);
        let mut h = ba.t().dot(&ba) / (1.0 + self.mu).powi(2);
        for (j, v) in x.iter().enumerate() {
            h[[j, j]] += self.kappa * v.cosh();
        }
        eigvalsh(&h).iter().cloned().fold(f64::NEG_INFINITY, f64::max)
    }
    /// Lipschitz constant of y*: ‖A‖/(1 + µ).
    pub fn y_star_lipschitz(&self) -> f64 {
        singular_values(&self.a)[0] / (1.0 + self.mu)
    }
    /// The bilevel hyper-gradient estimator ∇_x f − ∇²_xy g · z = κ sinh(x) + Aᵀz.
    pub fn estimator(&self, x: &Array1<f64>, z: &Array1<f64>) -> Array1<f64> {
        x.mapv(|v| self.kappa * v.sinh()) + self.a.t().dot(z)
    }
    /// ∇_y g(x, y) = (1 + µ)y − Ax.
    pub fn grad_y_g(&self, x: &Array1<f64>, y: &Array1<f64>) -> Array1<f64> {
        y * (1.0 + self.mu) - self.a.dot(x)
    }
    /// ∇_y f(x, y) = Bᵀ(By − c).
    pub fn grad_y_f(&self, y: &Array1<f64>) -> Array1<f64> {
        self.b.t().dot(&(self.b.dot(y) - &self.c))
    }
}

/// The estimator assembled from the oracles at the exact (y*, z*): y* and z* by Cholesky solves
/// of the explicit Hessian ∇²_yy g, the cross term from the explicit matrix ∇²_xy g = −Aᵀ.
/// Returns max over the points of ‖ĥ − closed(x)‖ / max(1, ‖closed(x)‖).
pub fn exactness_error(p: &Problem, xs: &[Array1<f64>], closed: impl Fn(&Problem, &Array1<f64>) -> Array1<f64>) -> f64 {
    let hyy: Array2<f64> = Array2::eye(p.dy()) * (1.0 + p.mu);
    let hxy: Array2<f64> = -p.a.t().to_owned();
    let mut worst = 0.0f64;
    for x in xs {
        // ∇_y g(x, y) = hyy·y − Ax = 0.
        let y = solve_spd(hyy.view(), p.a.dot(x).view()).expect("spd");
        // ∇²_yy g · z = ∇_y f(x, y*).
        let z = solve_spd(hyy.view(), p.grad_y_f(&y).view()).expect("spd");
        let h = x.mapv(|v| p.kappa * v.sinh()) - hxy.dot(&z);
        let g = closed(p, x);
        let e = (&h - &g).mapv(|v| v * v).sum().sqrt() / g.dot(&g).sqrt().max(1.0);
        worst = worst.max(if e.is_nan() { f64::INFINITY } else { e });
    }
    worst
}

/// Which upper-level step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// BO-REP: momentum m ← βm + (1 − β)ĥ, step x ← x − η m/‖m‖.
    Borep,
    /// StocBiO-like: the same estimator, the un-normalized step x ← x − ηĥ.
    Sgd,
    /// Clipped SGD: x ← x − η min(1, γ/‖ĥ‖) ĥ.
    Clip,
    /// Test hook (the planted bug): BO-REP with the normalization removed, x ← x − η m.
    MomentumUnnormalized,
}

/// Everything one run needs besides the problem.
#[derive(Clone, Debug)]
pub struct Hyper {
    /// Upper step η.
    pub eta: f64,
    /// Momentum β.
    pub beta: f64,
    /// Lower-level SGD step η_y.
    pub eta_y: f64,
    /// z-SGD step ν.
    pub nu: f64,
    /// Lower updates every `interval` upper steps.
    pub interval: usize,
    /// Lower SGD steps per update N.
    pub lower_steps: usize,
    /// Initialization refinement: lower SGD steps at x₀.
    pub refine: usize,
    /// Clip threshold γ.
    pub clip: f64,
    /// Oracle noise σ (per coordinate, every oracle).
    pub sigma: f64,
    /// Target ‖∇Φ‖ ≤ ε.
    pub eps: f64,
    /// Iteration budget.
    pub iters: usize,
    /// Keep running after the hit until this many iterations (for the curves).
    pub curve_iters: usize,
    /// Record every this many iterations (and every iteration of the first 100).
    pub record_every: usize,
    /// Test hook: false freezes y after the refinement (no periodic lower updates).
    pub periodic: bool,
}

/// What one run returns.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trace {
    /// First t with ‖∇Φ(x_t)‖ ≤ ε (None: not within the budget).
    pub hit: Option<usize>,
    /// Φ became non-finite or exceeded 10 Φ(x₀).
    pub diverged: bool,
    /// Iterations run.
    pub ran: usize,
    /// max_t ‖y_t − y*(x_t)‖ over every iteration (before that iteration's lower update).
    pub track_max: f64,
    /// Recorded iterations.
    pub ts: Vec<usize>,
    /// ‖∇Φ(x_t)‖ at `ts`.
    #[serde(with = "common::report::json_f64::vec")]
    pub grad: Vec<f64>,
    /// Φ(x_t) at `ts`.
    #[serde(with = "common::report::json_f64::vec")]
    pub phi: Vec<f64>,
}

fn noise(rng: &mut StudyRng, n: usize, sigma: f64) -> Option<Array1<f64>> {
    (sigma > 0.0).then(|| gaussian_vec(rng, n, sigma))
}

fn lower_sgd(p: &Problem, x: &Array1<f64>, y: &mut Array1<f64>, h: &Hyper, steps: usize, rng: &mut StudyRng) {
    for _ in 0..steps {
        let mut g = p.grad_y_g(x, y);
        if let Some(e) = noise(rng, p.dy(), h.sigma) {
            g += &e;
        }
        y.scaled_add(-h.eta_y, &g);
    }
}

/// Run one method from x₀ = x0·1 (y₀ = z₀ = 0).
pub fn run(p: &Problem, method: Method, h: &Hyper, x0: f64, seed: Seed) -> Trace {
    let mut rng = seed.rng();
    let (dx, dy) = (p.dx(), p.dy());
    let mut x = Array1::from_elem(dx, x0);
    let mut y = Array1::zeros(dy);
    let mut z: Array1<f64> = Array1::zeros(dy);
    let mut m: Array1<f64> = Array1::zeros(dx);
    let phi0 = p.phi(&x);
    lower_sgd(p, &x, &mut y, h, h.refine, &mut rng);
    let mut tr = Trace { hit: None, diverged: false, ran: 0, track_max: 0.0, ts: vec![], grad: vec![], phi: vec![] };
    let mut t = 0usize;
    loop {
        let phi = p.phi(&x);
        let gn = p.grad_phi(&x).mapv(|v| v * v).sum().sqrt();
        if t < h.curve_iters && (t < 100 || t.is_multiple_of(h.record_every)) {
            tr.ts.push(t);
            tr.grad.push(gn);
            tr.phi.push(phi);
        }
        if !phi.is_finite() || !gn.is_finite() || phi > 10.0 * phi0 {
            tr.diverged = true;
            break;
        }
        if tr.hit.is_none() && gn <= h.eps {
            tr.hit = Some(t);
        }
        if t >= h.iters || (tr.hit.is_some() && t >= h.curve_iters) {
            break;
        }
        // Periodic lower updates (the refinement covers t = 0).
        let e = (&y - &p.y_star(&x)).mapv(|v| v * v).sum().sqrt();
        tr.track_max = tr.track_max.max(e);
        if t > 0 && h.periodic && t.is_multiple_of(h.interval) {
            lower_sgd(p, &x, &mut y, h, h.lower_steps, &mut rng);
        }
        // z-SGD on ½zᵀ∇²_yy g z − zᵀ∇_y f.
        let mut fy = p.grad_y_f(&y);
        if let Some(e) = noise(&mut rng, dy, h.sigma) {
            fy += &e;
        }
        let mut hz = &z * (1.0 + p.mu);
        if let Some(e) = noise(&mut rng, dy, h.sigma) {
            hz += &e;
        }
        z.scaled_add(-h.nu, &(hz - fy));
        let mut est = p.estimator(&x, &z);
        if let Some(e) = noise(&mut rng, dx, h.sigma) {
            est += &e;
        }
        match method {
            Method::Borep | Method::MomentumUnnormalized => {
                m = &m * h.beta + &est * (1.0 - h.beta);
                let n = m.dot(&m).sqrt();
                let scale = if method == Method::Borep { if n > 0.0 { h.eta / n } else { 0.0 } } else { h.eta };
                x.scaled_add(-scale, &m);
            }
            Method::Sgd => x.scaled_add(-h.eta, &est),
            Method::Clip => {
                let n = est.dot(&est).sqrt();
                let s = if n > h.clip { h.clip / n } else { 1.0 };
                x.scaled_add(-h.eta * s, &est);
            }
        }
        t += 1;
    }
    tr.ran = t;
    tr
}

/// The analytic drift bound of the periodic lower updates (deterministic, BO-REP's step length η):
/// y* moves at most η·I·‖A‖/(1 + µ) between updates, N lower steps contract by
/// q = |1 − η_y(1 + µ)|^N, so the error before an update stays below D/(1 − q).
pub fn drift_bound(p: &Problem, h: &Hyper) -> f64 {
    let d = h.eta * h.interval as f64 * p.y_star_lipschitz();
    let q = (1.0 - h.eta_y * (1.0 + p.mu)).abs().powi(h.lower_steps as i32);
    d / (1.0 - q)
}
