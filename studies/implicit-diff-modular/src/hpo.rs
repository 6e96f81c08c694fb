//! E4: hyper-parameter optimisation of ridge and lasso on the diabetes data (jaxopt's
//! `ridge_reg_implicit_diff.py` and `lasso_implicit_diff.py`): the validation MSE as a function of
//! `θ = log λ`, its gradient by implicit differentiation (ridge: the stationarity map; lasso: the
//! proximal-gradient fixed point with soft thresholding), Adam on θ, and a grid search for
//! comparison. Also the ridge and lasso legs of the modularity check (E2).

use common::Seed;
use common::prox::{soft_threshold, soft_threshold_jvp};
use common::solve::{FixedPoint, FnRoot, LinearSolve, RootMap, SolveError, root_jacobian, root_vjp};
use ndarray::{Array1, Array2, ArrayView1, Axis, array};
use serde::{Deserialize, Serialize};

/// A train/validation split, standardised with the training statistics (y centred and scaled).
pub struct Split {
    /// Training features.
    pub x: Array2<f64>,
    /// Training targets.
    pub y: Array1<f64>,
    /// Validation features.
    pub xv: Array2<f64>,
    /// Validation targets.
    pub yv: Array1<f64>,
    /// `XᵀX/n`.
    pub g: Array2<f64>,
    /// `Xᵀy/n`.
    pub b: Array1<f64>,
}

/// A seeded random split with `val_frac` of the rows held out.
pub fn split(x: &Array2<f64>, y: &[f64], seed: Seed, val_frac: f64) -> Split {
    let n = x.nrows();
    let perm = common::rng::permutation(&mut seed.rng(), n);
    let nv = ((n as f64 * val_frac).round() as usize).clamp(1, n - 2);
    let (va, tr) = perm.split_at(nv);
    let xt = x.select(Axis(0), tr);
    let m = xt.mean_axis(Axis(0)).expect("rows");
    let sd = xt.std_axis(Axis(0), 0.0).mapv(|v| if v > 0.0 { v } else { 1.0 });
    let yt: Vec<f64> = tr.iter().map(|&i| y[i]).collect();
    let (ym, ys) = common::stats::mean_sd(&yt);
    let ys = if ys > 0.0 { ys } else { 1.0 };
    let std_x = |rows: &[usize]| (x.select(Axis(0), rows) - &m) / &sd;
    let std_y = |rows: &[usize]| Array1::from_iter(rows.iter().map(|&i| (y[i] - ym) / ys));
    let (xs, ysd) = (std_x(tr), std_y(tr));
    let nt = xs.nrows() as f64;
    let g = xs.t().dot(&xs) / nt;
    let b = xs.t().dot(&ysd) / nt;
    Split { x: xs, y: ysd, xv: std_x(va), yv: std_y(va), g, b }
}

impl Split {
    /// Validation MSE and its gradient in w.
    pub fn val(&self, w: &Array1<f64>) -> (f64, Array1<f64>) {
        let r = self.xv.dot(w) - &self.yv;
        let m = r.len() as f64;
        (r.dot(&r) / m, self.xv.t().dot(&r) * (2.0 / m))
    }
    fn d(&self) -> usize {
        self.g.nrows()
    }
}

/// Ridge or lasso.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Model {
    /// `½ mean((Xw − y)²) + λ/2 ‖w‖²`.
    Ridge,
    /// `½ mean((Xw − y)²) + λ ‖w‖₁`.
    Lasso,
}

impl Model {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Model::Ridge => "ridge",
            Model::Lasso => "lasso",
        }
    }
}

/// The ridge stationarity map `F(w, λ) = Gw − b + λw`.
pub fn ridge_map(s: &Split) -> FnRoot<'_> {
    FnRoot {
        n: s.d(),
        p: 1,
        value: Box::new(move |w, t| s.g.dot(&w) - &s.b + &(&w * t[0])),
        jvp_x: Box::new(move |_, t, v| s.g.dot(&v) + &(&v * t[0])),
        vjp_x: Box::new(move |_, t, u| s.g.dot(&u) + &(&u * t[0])),
        jvp_theta: Box::new(|w, _, v| &w * v[0]),
        vjp_theta: Box::new(|w, _, u| array![w.dot(&u)]),
    }
}

/// The ridge gradient-descent fixed point `T(w, λ) = w − η(Gw − b + λw)`.
pub fn ridge_gd_map(s: &Split, eta: f64) -> FnRoot<'_> {
    FnRoot {
        n: s.d(),
        p: 1,
        value: Box::new(move |w, t| &w - &((s.g.dot(&w) - &s.b + &(&w * t[0])) * eta)),
        jvp_x: Box::new(move |_, t, v| &v - &((s.g.dot(&v) + &(&v * t[0])) * eta)),
        vjp_x: Box::new(move |_, t, u| &u - &((s.g.dot(&u) + &(&u * t[0])) * eta)),
        jvp_theta: Box::new(move |w, _, v| &w * (-eta * v[0])),
        vjp_theta: Box::new(move |w, _, u| array![-eta * w.dot(&u)]),
    }
}

/// The lasso proximal-gradient fixed point `T(w, λ) = ST(w − η(Gw − b), ηλ)`.
pub fn lasso_pg_map(s: &Split, eta: f64) -> FnRoot<'_> {
    let z = move |w: ArrayView1<f64>| &w - &((s.g.dot(&w) - &s.b) * eta);
    FnRoot {
        n: s.d(),
        p: 1,
        value: Box::new(move |w, t| {
            let mut v = z(w).to_vec();
            soft_threshold(&mut v, eta * t[0]);
            Array1::from(v)
        }),
        jvp_x: Box::new(move |w, t, v| {
            let mut u = (&v - &(s.g.dot(&v) * eta)).to_vec();
            soft_threshold_jvp(z(w).as_slice().expect("contiguous"), eta * t[0], &mut u);
            Array1::from(u)
        }),
        vjp_x: Box::new(move |w, t, u| {
            let mut a = u.to_vec();
            soft_threshold_jvp(z(w).as_slice().expect("contiguous"), eta * t[0], &mut a);
            let a = Array1::from(a);
            &a - &(s.g.dot(&a) * eta)
        }),
        jvp_theta: Box::new(move |w, t, v| {
            let zz = z(w);
            zz.mapv(|zi| if zi.abs() > eta * t[0] { -eta * zi.signum() * v[0] } else { 0.0 })
        }),
        vjp_theta: Box::new(move |w, t, u| {
            let zz = z(w);
            array![
                zz.iter()
                    .zip(u.iter())
                    .map(|(zi, ui)| if zi.abs() > eta * t[0] { -eta * zi.signum() * ui } else { 0.0 })
                    .sum::<f64>()
            ]
        }),
    }
}

/// `1/L` for the data term (`L = λ_max(G)`).
pub fn step(s: &Split) -> f64 {
    1.0 / common::linalg::eigvalsh(&s.g)[s.d() - 1]
}

/// The ridge solution `(G + λI)⁻¹ b`.
pub fn ridge_solution(s: &Split, lam: f64) -> Array1<f64> {
    let a = &s.g + &(Array2::<f64>::eye(s.d()) * lam);
    common::linalg::solve_spd(a.view(), s.b.view()).expect("SPD for λ > 0")
}

/// The lasso solution to machine precision: FISTA, then the support polish
/// `w_S = G_SS⁻¹(b_S − λ sign(w_S))`, accepted when the signs hold and `|∇_j| ≤ λ` off S.
pub fn lasso_solution(s: &Split, lam: f64) -> Result<Array1<f64>, SolveError> {
    let d = s.d();
    let eta = step(s);
    let (mut w, mut v, mut tk) = (Array1::<f64>::zeros(d), Array1::<f64>::zeros(d), 1.0f64);
    for round in 0..20 {
        for _ in 0..500 {
            let mut z = (&v - &((s.g.dot(&v) - &s.b) * eta)).to_vec();
            soft_threshold(&mut z, eta * lam);
            let wn = Array1::from(z);
            let tn = (1.0 + (1.0 + 4.0 * tk * tk).sqrt()) / 2.0;
            v = &wn + &((&wn - &w) * ((tk - 1.0) / tn));
            w = wn;
            tk = tn;
        }
        let sup: Vec<usize> = (0..d).filter(|&j| w[j] != 0.0).collect();
        let mut cand = Array1::zeros(d);
        if !sup.is_empty() {
            let gs = s.g.select(Axis(0), &sup).select(Axis(1), &sup);
            let rhs = Array1::from_iter(sup.iter().map(|&j| s.b[j] - lam * w[j].signum()));
            let ws = common::linalg::solve(gs.view(), rhs.view())?;
            for (p, &j) in sup.iter().enumerate() {
                cand[j] = ws[p];
            }
        }
        let grad = s.g.dot(&cand) - &s.b;
        let signs_ok = sup.iter().all(|&j| cand[j] * w[j] > 0.0);
        let off_ok = (0..d).filter(|j| !sup.contains(j)).all(|j| grad[j].abs() <= lam * (1.0 + 1e-12));
        if signs_ok && off_ok {
            return Ok(cand);
        }
        let _ = round;
    }
    Err(SolveError::NotConverged { method: "lasso polish", iters: 20, residual: f64::NAN, tol: 0.0 })
}

/// The solution of `model` at λ.
pub fn solution(s: &Split, model: Model, lam: f64) -> Result<Array1<f64>, SolveError> {
    match model {
        Model::Ridge => Ok(ridge_solution(s, lam)),
        Model::Lasso => lasso_solution(s, lam),
    }
}

/// Validation loss and `d loss / d log λ` by implicit differentiation (ridge: stationarity map,
/// dense solve; lasso: the PG fixed point, dense solve).
pub fn hypergrad(s: &Split, model: Model, lam: f64) -> Result<(f64, f64), SolveError> {
    let w = solution(s, model, lam)?;
    let (loss, gw) = s.val(&w);
    let th = array![lam];
    let v = match model {
        Model::Ridge => root_vjp(&ridge_map(s), w.view(), th.view(), gw.view(), LinearSolve::Dense)?,
        Model::Lasso => {
            let map = lasso_pg_map(s, step(s));
            root_vjp(&FixedPoint(&map), w.view(), th.view(), gw.view(), LinearSolve::Dense)?
        }
    };
    Ok((loss, lam * v[0]))
}

/// Central difference of the validation loss in log λ (step 1e-4; for the lasso quartered until
/// the support is the same on both sides).
pub fn fd_hypergrad(s: &Split, model: Model, lam: f64) -> Result<f64, SolveError> {
    let sup = |w: &Array1<f64>| w.iter().map(|v| *v != 0.0).collect::<Vec<_>>();
    let s0 = sup(&solution(s, model, lam)?);
    let mut h = 1e-4f64;
    for _ in 0..6 {
        let (wp, wm) = (solution(s, model, lam * h.exp())?, solution(s, model, lam * (-h).exp())?);
        if sup(&wp) == s0 && sup(&wm) == s0 {
            return Ok((s.val(&wp).0 - s.val(&wm).0) / (2.0 * h));
        }
        h *= 0.25;
    }
    Err(SolveError::Breakdown { method: "lasso fd", iter: 6, what: "the support changes within every step tried" })
}

/// One HPO run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HpoRun {
    /// Ridge or lasso.
    pub model: Model,
    /// log λ along Adam's steps (start included).
    pub log_lambda: Vec<f64>,
    /// Validation MSE along the steps.
    pub val_loss: Vec<f64>,
    /// Error of the implicit hyper-gradient against the finite difference at the start and at the
    /// end, relative to max(|FD|, 1e-3 · validation loss).
    pub grad_rel_err: Vec<f64>,
    /// The grid search: log λ values and validation losses.
    pub grid_log_lambda: Vec<f64>,
    /// Validation loss on the grid.
    pub grid_loss: Vec<f64>,
}

impl HpoRun {
    /// Final validation loss minus the grid's minimum, relative to that minimum.
    pub fn excess(&self) -> f64 {
        let best = self.grid_loss.iter().copied().fold(f64::INFINITY, f64::min);
        (self.val_loss.last().copied().unwrap_or(f64::NAN) - best) / best
    }
}

/// Adam on θ = log λ from `theta0` (`steps`, learning rate `lr`, θ clipped to the grid's range),
/// then a grid of `grid` points over `[lo, hi]` in log λ.
#[allow(clippy::too_many_arguments)]
pub fn run(
    s: &Split,
    model: Model,
    theta0: f64,
    steps: usize,
    lr: f64,
    lo: f64,
    hi: f64,
    grid: usize,
) -> Result<HpoRun, SolveError> {
    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    let (mut m, mut v) = (0.0, 0.0);
    let mut theta = theta0;
    let (mut log_lambda, mut val_loss) = (vec![], vec![]);
    // Relative to |FD|, floored at 1e-3 of the loss: at the optimum the gradient vanishes and the
    // finite difference's own error (≈ 1e-9 of the loss) would dominate a plain relative error.
    let rel = |a: f64, b: f64, loss: f64| (a - b).abs() / b.abs().max(1e-3 * loss);
    let mut grad_rel_err = vec![];
    for t in 0..=steps {
        let (loss, g) = hypergrad(s, model, theta.exp())?;
        log_lambda.push(theta);
        val_loss.push(loss);
        if t == 0 || t == steps {
            grad_rel_err.push(rel(g, fd_hypergrad(s, model, theta.exp())?, loss));
        }
        if t == steps {
            break;
        }
        m = b1 * m + (1.0 - b1) * g;
        v = b2 * v + (1.0 - b2) * g * g;
        let (mh, vh) = (m / (1.0 - b1.powi(t as i32 + 1)), v / (1.0 - b2.powi(t as i32 + 1)));
        theta = (theta - lr * mh / (vh.sqrt() + eps)).clamp(lo, hi);
    }
    let grid_log_lambda = common::stats::linspace(lo, hi, grid);
    let grid_loss = grid_log_lambda
        .iter()
        .map(|&t| solution(s, model, t.exp()).map(|w| s.val(&w).0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HpoRun { model, log_lambda, val_loss, grad_rel_err, grid_log_lambda, grid_loss })
}

/// Modularity legs for ridge and lasso at λ: `(name, max relative difference from the reference
/// closed form)` for each map.
pub fn modular(s: &Split, lam: f64) -> Result<Vec<(String, f64)>, SolveError> {
    let th = array![lam];
    let rel = |a: &Array2<f64>, b: &Array1<f64>| {
        let d = &a.column(0) - b;
        d.dot(&d).sqrt() / b.dot(b).sqrt()
    };
    let mut out = vec![];
    // Ridge: the closed form −(G + λI)⁻¹ w*.
    let w = ridge_solution(s, lam);
    let a = &s.g + &(Array2::<f64>::eye(s.d()) * lam);
    let closed = -common::linalg::solve_spd(a.view(), w.view()).expect("SPD");
    let j1 = root_jacobian(&ridge_map(s), w.view(), th.view(), LinearSolve::Dense)?;
    let eta = 1.0 / (1.0 / step(s) + lam);
    let j2 = root_jacobian(&FixedPoint(ridge_gd_map(s, eta)), w.view(), th.view(), LinearSolve::Dense)?;
    out.push(("ridge: stationarity vs closed form".to_string(), rel(&j1, &closed)));
    out.push(("ridge: GD fixed point vs closed form".to_string(), rel(&j2, &closed)));
    // Lasso: the support formula ∂w_S/∂λ = −G_SS⁻¹ sign(w_S), 0 off S.
    let w = lasso_solution(s, lam)?;
    let sup: Vec<usize> = (0..s.d()).filter(|&j| w[j] != 0.0).collect();
    let mut closed = Array1::zeros(s.d());
    if !sup.is_empty() {
        let gs = s.g.select(Axis(0), &sup).select(Axis(1), &sup);
        let sg = Array1::from_iter(sup.iter().map(|&j| w[j].signum()));
        let js = -common::linalg::solve(gs.view(), sg.view())?;
        for (p, &j) in sup.iter().enumerate() {
            closed[j] = js[p];
        }
    }
    let map = lasso_pg_map(s, step(s));
    let j3 = root_jacobian(&FixedPoint(&map), w.view(), th.view(), LinearSolve::Dense)?;
    out.push(("lasso: PG fixed point vs support stationarity".to_string(), rel(&j3, &closed)));
    // The residuals vanish at the solutions (sanity).
    debug_assert!(map.value(w.view(), th.view()).iter().zip(w.iter()).all(|(a, b)| (a - b).abs() < 1e-10));
    Ok(out)
}
