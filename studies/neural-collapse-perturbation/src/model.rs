//! The model of Tirer, Huang & Niles-Weed (2023), Eq. 2, and its central path:
//!
//! `f(W, H; H0) = 1/(2Kn) ‖WH − Y‖² + λ_W/(2K) ‖W‖² + λ_H/(2Kn) ‖H‖² + β/(2Kn) ‖H − H0‖²`,
//!
//! `H` is `d × Kn` (class `k` in columns `kn .. (k+1)n`), `Y = I_K ⊗ 1_nᵀ`. The minimiser in `W` is
//! `W*(H) = Y Hᵀ (H Hᵀ + n λ_W I)⁻¹`; on the central path `(W*(H), H)` the scaled gradient of the
//! reduced loss `L(H)` (Eq. 2 without the β term) is, by the envelope theorem,
//! `G(H) = Kn ∇L(H) = W*ᵀ (W* H − Y) + λ_H H`. The gradient flow of Eq. 4 is `dH/dt = −G(H)`;
//! with the β term, `dH/dt = −G(H) − β (H − H0)`, whose rest point is the minimiser `H_{1/β}`.
use common::linalg::rank::{NumericalRank, RankError, pinv_psd};
use common::linalg::{Cholesky, cg, cholesky};
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// The problem's sizes and regularisation.
#[derive(Clone, Copy, Debug)]
pub struct Ufm {
    /// Classes.
    pub k: usize,
    /// Samples per class.
    pub n: usize,
    /// Feature dimension.
    pub d: usize,
    /// Last-layer regularisation λ_W.
    pub lw: f64,
    /// Feature regularisation λ_H.
    pub lh: f64,
}

impl Ufm {
    /// `Y = I_K ⊗ 1_nᵀ` (K × Kn).
    pub fn labels(&self) -> Array2<f64> {
        Array2::from_shape_fn((self.k, self.k * self.n), |(r, c)| if c / self.n == r { 1.0 } else { 0.0 })
    }

    /// `A = H Hᵀ + n λ_W I`, factored.
    fn gram(&self, h: &Array2<f64>) -> Cholesky {
        let mut a = h.dot(&h.t());
        a.diag_mut().mapv_inplace(|x| x + self.n as f64 * self.lw);
        cholesky(a.view()).expect("H Hᵀ + n λ_W I is positive definite for λ_W > 0")
    }

    /// `Y Hᵀ` as `H Yᵀ` (d × K): the per-class sums of the columns.
    fn class_sums(&self, h: &Array2<f64>) -> Array2<f64> {
        let mut s = Array2::zeros((self.d, self.k));
        for (c, col) in h.axis_iter(Axis(1)).enumerate() {
            let mut t = s.column_mut(c / self.n);
            t += &col;
        }
        s
    }

    /// The central-path weights `W*(H) = Y Hᵀ (H Hᵀ + n λ_W I)⁻¹` (K × d).
    pub fn w_star(&self, h: &Array2<f64>) -> Array2<f64> {
        self.gram(h).solve_mat(self.class_sums(h).view()).t().to_owned()
    }

    /// `G(H) = Kn ∇L(H) = W*ᵀ(W* H − Y) + λ_H H`, given `W = W*(H)` (or any `W`: the planted
    /// lagged-W flow passes its own).
    pub fn field_with(&self, h: &Array2<f64>, w: &Array2<f64>, y: &Array2<f64>) -> Array2<f64> {
        let r = w.dot(h) - y;
        w.t().dot(&r) + h * self.lh
    }

    /// `G(H)` on the central path.
    pub fn field(&self, h: &Array2<f64>, y: &Array2<f64>) -> Array2<f64> {
        self.field_with(h, &self.w_star(h), y)
    }

    /// The directional derivative `DG(H)[V]` (the Hessian of `Kn L` applied to `V`):
    /// `dWᵀ R + Wᵀ(dW H + W V) + λ_H V` with `R = W H − Y` and
    /// `dWᵀ = A⁻¹ (V Yᵀ − (V Hᵀ + H Vᵀ) Wᵀ)`.
    pub fn field_jvp(
        &self,
        h: &Array2<f64>,
        w: &Array2<f64>,
        a: &Cholesky,
        y: &Array2<f64>,
        v: &Array2<f64>,
    ) -> Array2<f64> {
        let da = v.dot(&h.t()) + h.dot(&v.t());
        let rhs = self.class_sums(v) - da.dot(&w.t());
        let dwt = a.solve_mat(rhs.view()); // d × K
        let r = w.dot(h) - y;
        let inner = dwt.t().dot(h) + w.dot(v);
        dwt.dot(&r) + w.t().dot(&inner) + v * self.lh
    }

    /// The dense `DG(H)` in the column-stacked `vec(H)` basis (`dKn × dKn`).
    pub fn field_jacobian(&self, h: &Array2<f64>, y: &Array2<f64>) -> Array2<f64> {
        let (w, a) = (self.w_star(h), self.gram(h));
        let m = self.d * self.k * self.n;
        let mut jac = Array2::zeros((m, m));
        for j in 0..m {
            let mut v = Array2::zeros(h.dim());
            v[[j % self.d, j / self.d]] = 1.0;
            let col = vec_of(&self.field_jvp(h, &w, &a, y, &v));
            jac.column_mut(j).assign(&col);
        }
        // Symmetric in exact arithmetic (a Hessian): symmetrise the rounding.
        (&jac + &jac.t()) * 0.5
    }

    /// The collapsed minimiser of Eq. 1 (Theorem 2.1): `H* = √ρ R ⊗ 1_nᵀ`, `ρ = (1 − c)√(λ_W/λ_H)`,
    /// `c = √(λ_H λ_W) < 1`, for `R` with orthonormal columns (d × K).
    pub fn collapsed(&self, r: &Array2<f64>) -> Array2<f64> {
        let c = (self.lh * self.lw).sqrt();
        let rho = (1.0 - c) * (self.lw / self.lh).sqrt();
        Array2::from_shape_fn((self.d, self.k * self.n), |(i, col)| rho.sqrt() * r[[i, col / self.n]])
    }
}

/// `vec(H)`: the columns stacked.
pub fn vec_of(h: &Array2<f64>) -> Array1<f64> {
    h.t().iter().copied().collect()
}

/// The inverse of [`vec_of`] for a `d × m` matrix.
pub fn unvec(v: &Array1<f64>, d: usize) -> Array2<f64> {
    let m = v.len() / d;
    Array2::from_shape_fn((d, m), |(i, j)| v[j * d + i])
}

/// Within- and between-class covariances `Σ_W`, `Σ_B` (d × d) of `H` (Section 3).
pub fn covariances(h: ArrayView2<f64>, k: usize, n: usize) -> (Array2<f64>, Array2<f64>) {
    let d = h.nrows();
    let mut means = Array2::<f64>::zeros((d, k));
    for (c, col) in h.axis_iter(Axis(1)).enumerate() {
        let mut t = means.column_mut(c / n);
        t.scaled_add(1.0 / n as f64, &col);
    }
    let g = means.mean_axis(Axis(1)).expect("k ≥ 1");
    let centred_w = Array2::from_shape_fn(h.dim(), |(i, c)| h[[i, c]] - means[[i, c / n]]);
    let centred_b = Array2::from_shape_fn((d, k), |(i, c)| means[[i, c]] - g[i]);
    let sw = centred_w.dot(&centred_w.t()) / (k * n) as f64;
    let sb = centred_b.dot(&centred_b.t()) / k as f64;
    (sw, sb)
}

/// The NC1 numbers of one `H`.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Nc1 {
    /// `Tr Σ_W`.
    pub tr_w: f64,
    /// `Tr Σ_B`.
    pub tr_b: f64,
    /// The paper's theory metric `NC̃1 = Tr Σ_W / Tr Σ_B` (Eq. 3).
    pub tilde: f64,
}

/// `Tr Σ_W`, `Tr Σ_B` and their ratio.
pub fn nc1_tilde(h: ArrayView2<f64>, k: usize, n: usize) -> Nc1 {
    let (sw, sb) = covariances(h, k, n);
    let (tr_w, tr_b) = (sw.diag().sum(), sb.diag().sum());
    Nc1 { tr_w, tr_b, tilde: tr_w / tr_b }
}

/// The experiments' metric `NC1 = (1/K) Tr(Σ_W Σ_B⁺)` with the rank-aware pseudo-inverse of `Σ_B`
/// (rank K − 1 at most: the cut at its largest eigenvalue gap), and that cut.
pub fn nc1_pinv(h: ArrayView2<f64>, k: usize, n: usize) -> Result<(f64, NumericalRank), RankError> {
    let (sw, sb) = covariances(h, k, n);
    let (p, nr) = pinv_psd(sb.view(), None)?;
    Ok(((&sw * &p).sum() / k as f64, nr))
}

/// How the flow gets its `W`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WMode {
    /// `W*(H_t)` at every step: the central path.
    Optimal,
    /// Planted bug: one gradient step on `W` per step of `H` (from `W = 0`), rate `lr`.
    Lagged(f64),
}

/// One recorded point of a flow.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FlowPoint {
    /// Flow time.
    pub t: f64,
    /// NC1 numbers.
    pub nc: Nc1,
}

/// A flow's record and its monotonicity statistics (over every step, not only recorded ones).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Flow {
    /// Recorded points (thinned).
    pub points: Vec<FlowPoint>,
    /// Largest relative one-step increase of `NC̃1` (negative: strictly decreasing).
    pub max_rise_tilde: f64,
    /// Largest relative one-step increase of `e^{2λ_H t} Tr Σ_W`.
    pub max_rise_trw: f64,
    /// Largest relative one-step decrease of `e^{2λ_H t} Tr Σ_B`.
    pub max_drop_trb: f64,
    /// Largest relative one-step decrease of `Tr Σ_B` without the `e^{2λ_H t}` factor.
    pub max_drop_trb_plain: f64,
    /// The final iterate.
    #[serde(skip)]
    pub h_end: Option<Array2<f64>>,
}

/// Explicit Euler on `dH/dt = −G(H) − β(H − H0)` for `steps` steps of `dt`, recording about
/// `record` points (every step enters the monotonicity statistics).
pub fn flow(p: &Ufm, h0: &Array2<f64>, beta: f64, dt: f64, steps: usize, record: usize, mode: WMode) -> Flow {
    let y = p.labels();
    let mut h = h0.clone();
    let mut w = Array2::<f64>::zeros((p.k, p.d));
    let every = (steps / record.max(1)).max(1);
    let mut prev = nc1_tilde(h.view(), p.k, p.n);
    let mut points = vec![FlowPoint { t: 0.0, nc: prev }];
    let (mut rise, mut rise_w, mut drop_b, mut drop_b_plain) =
        (f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    let growth = (2.0 * p.lh * dt).exp();
    for s in 1..=steps {
        let g = match mode {
            WMode::Optimal => p.field(&h, &y),
            WMode::Lagged(lr) => {
                let r = w.dot(&h) - &y;
                let gw = r.dot(&h.t()) + &w * (p.n as f64 * p.lw);
                w.scaled_add(-lr, &gw);
                p.field_with(&h, &w, &y)
            }
        };
        h.scaled_add(-dt, &g);
        if beta > 0.0 {
            h.zip_mut_with(h0, |x, &x0| *x -= dt * beta * (*x - x0));
        }
        let cur = nc1_tilde(h.view(), p.k, p.n);
        rise = rise.max((cur.tilde - prev.tilde) / prev.tilde);
        rise_w = rise_w.max((growth * cur.tr_w - prev.tr_w) / prev.tr_w);
        drop_b = drop_b.max((prev.tr_b - growth * cur.tr_b) / prev.tr_b);
        drop_b_plain = drop_b_plain.max((prev.tr_b - cur.tr_b) / prev.tr_b);
        prev = cur;
        if s % every == 0 || s == steps {
            points.push(FlowPoint { t: s as f64 * dt, nc: cur });
        }
    }
    Flow {
        points,
        max_rise_tilde: rise,
        max_rise_trw: rise_w,
        max_drop_trb: drop_b,
        max_drop_trb_plain: drop_b_plain,
        h_end: Some(h),
    }
}

/// The residual of the first-order condition of Eq. 2 (times Kn): `G(H) + β(H − H0)`.
pub fn stationarity(p: &Ufm, h: &Array2<f64>, h0: &Array2<f64>, beta: f64, y: &Array2<f64>) -> Array2<f64> {
    p.field(h, y) + (h - h0) * beta
}

/// Eq. 2 on the central path, times Kn: `½‖W*H − Y‖² + (nλ_W/2)‖W*‖² + (λ_H/2)‖H‖² + (β/2)‖H − H0‖²`.
pub fn objective(p: &Ufm, h: &Array2<f64>, h0: &Array2<f64>, beta: f64, y: &Array2<f64>) -> f64 {
    let w = p.w_star(h);
    let sq = |a: &Array2<f64>| a.iter().map(|x| x * x).sum::<f64>();
    0.5 * sq(&(w.dot(h) - y)) + 0.5 * p.n as f64 * p.lw * sq(&w) + 0.5 * p.lh * sq(h) + 0.5 * beta * sq(&(h - h0))
}

/// Damped Newton with CG on `DG(H) + βI` (matrix-free) from `start` until the stationarity
/// residual is below `tol` (Frobenius): the minimiser `H_{1/β}` of Eq. 2 near `start`. A Newton
/// step is taken when CG converges (positive curvature) and it reduces the residual; otherwise an
/// Armijo step on the objective along the Newton direction (if a descent direction) or the
/// negative gradient. Returns the point and the final residual.
pub fn minimise(p: &Ufm, h0: &Array2<f64>, beta: f64, start: &Array2<f64>, tol: f64) -> (Array2<f64>, f64) {
    let y = p.labels();
    let fro = |a: &Array2<f64>| a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut h = start.clone();
    let mut res = stationarity(p, &h, h0, beta, &y);
    let mut norm = fro(&res);
    for _ in 0..300 {
        if norm <= tol {
            break;
        }
        let (w, a) = (p.w_star(&h), p.gram(&h));
        let d = p.d;
        let op = common::linalg::FnOp::new(h.len(), |v: ndarray::ArrayView1<f64>| {
            let vm = unvec(&v.to_owned(), d);
            vec_of(&p.field_jvp(&h, &w, &a, &y, &vm)) + &v * beta
        });
        let b = vec_of(&res).mapv(|x| -x);
        let sol = cg(&op, b.view(), 1e-13, 4 * h.len());
        let newton = unvec(&sol.x, d);
        if sol.converged {
            let cand = &h + &newton;
            let r = stationarity(p, &cand, h0, beta, &y);
            let nn = fro(&r);
            if nn < 0.5 * norm {
                (h, res, norm) = (cand, r, nn);
                continue;
            }
        }
        let slope_n = (&newton * &res).sum();
        let dir = if sol.converged && slope_n < 0.0 { newton } else { res.mapv(|x| -x) };
        let slope = (&dir * &res).sum();
        let f0 = objective(p, &h, h0, beta, &y);
        let mut t = 1.0;
        while t > 1e-12 {
            let cand = &h + &(&dir * t);
            if objective(p, &cand, h0, beta, &y) <= f0 + 1e-4 * t * slope {
                h = cand;
                break;
            }
            t *= 0.5;
        }
        if t <= 1e-12 {
            break;
        }
        res = stationarity(p, &h, h0, beta, &y);
        norm = fro(&res);
    }
    (h, norm)
}

/// Plain Euler steps of the flow with the β term from `start` (no statistics): moves a Newton
/// iterate that stalled in a non-convex region back towards the minimiser.
pub fn relax(p: &Ufm, h0: &Array2<f64>, beta: f64, start: &Array2<f64>, dt: f64, steps: usize) -> Array2<f64> {
    let y = p.labels();
    let mut h = start.clone();
    for _ in 0..steps {
        let g = stationarity(p, &h, h0, beta, &y);
        h.scaled_add(-dt, &g);
    }
    h
}

/// Dense Newton for the near-collapse problems (small `dKn`): the minimiser of Eq. 2 from `start`.
pub fn minimise_dense(p: &Ufm, h0: &Array2<f64>, beta: f64, start: &Array2<f64>, tol: f64) -> (Array2<f64>, f64) {
    let y = p.labels();
    let mut h = start.clone();
    let mut norm = f64::INFINITY;
    for _ in 0..30 {
        let res = stationarity(p, &h, h0, beta, &y);
        norm = res.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm <= tol {
            break;
        }
        let mut m = p.field_jacobian(&h, &y);
        m.diag_mut().mapv_inplace(|x| x + beta);
        let step = cholesky(m.view())
            .expect("DG + βI is positive definite near the collapsed point")
            .solve(vec_of(&res).view());
        h = &h - &unvec(&step, p.d);
    }
    (h, norm)
}

/// The first-order map of Theorem 4.1 at a stationary point `h_hat` of Eq. 2:
/// `vec(δH) = F vec(δH0)` with `F = β (DG(Ĥ) + βI)⁻¹`.
pub fn first_order_map(p: &Ufm, h_hat: &Array2<f64>, beta: f64) -> Array2<f64> {
    let y = p.labels();
    let mut m = p.field_jacobian(h_hat, &y);
    m.diag_mut().mapv_inplace(|x| x + beta);
    cholesky(m.view()).expect("DG + βI is positive definite").inverse() * beta
}
