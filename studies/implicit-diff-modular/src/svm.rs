//! E2 / E3: the multiclass linear SVM (Crammer–Singer) dual on row simplices, its three optimality
//! maps (projected-gradient fixed point, KL mirror-descent fixed point, KKT conditions), the
//! Jacobian `∂β*/∂λ` from each, and hyper-gradients of a validation loss by implicit
//! differentiation and by reverse-mode unrolling of projected gradient.
//!
//! Dual (jaxopt's `multiclass_linear_svm_dual`, plus a smoothing term `ε/2 ‖β‖²` that makes the
//! solution unique when n > d): `min_{β_i ∈ Δ_k} f(β; λ) = 1/(2λ) ‖Xᵀ(Y − β)‖²_F − ⟨β, 1 − Y⟩ +
//! ε/2 ‖β‖²_F`, primal weights `W = Xᵀ(Y − β)/λ`. With `K = XXᵀ`:
//! `∇f = −K(Y − β)/λ − (1 − Y) + εβ`, `∇²f v = Kv/λ + εv`, `∂_λ∇f = K(Y − β)/λ²`.

use common::Seed;
use common::prox::{kl_mirror_step, project_simplex, project_simplex_jvp};
use common::solve::{DenseLu, KrylovOpts, LinearSolve, RootMap, SolveError, root_jvp, root_vjp};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, array};
use serde::{Deserialize, Serialize};

/// Training and validation data of one draw.
pub struct Data {
    /// Training features, n × d (rows of norm ≈ 1).
    pub x: Array2<f64>,
    /// One-hot training labels, n × k.
    pub y: Array2<f64>,
    /// Validation features.
    pub xv: Array2<f64>,
    /// One-hot validation labels.
    pub yv: Array2<f64>,
}

/// A Gaussian mixture: class means `sep · N(0, I_d)`, points `(µ_y + N(0, I_d))/√d`.
pub fn make_data(seed: Seed, n: usize, d: usize, k: usize, nval: usize, sep: f64) -> Data {
    use rand::Rng;
    let mu = common::rng::gaussian_mat(&mut seed.child("means").rng(), k, d, sep);
    let draw = |s: Seed, m: usize| {
        let mut rng = s.rng();
        let labels: Vec<usize> = (0..m).map(|_| rng.random_range(0..k)).collect();
        let noise = common::rng::gaussian_mat(&mut rng, m, d, 1.0);
        let x = Array2::from_shape_fn((m, d), |(i, j)| (mu[[labels[i], j]] + noise[[i, j]]) / (d as f64).sqrt());
        let y = Array2::from_shape_fn((m, k), |(i, j)| f64::from(u8::from(labels[i] == j)));
        (x, y)
    };
    let (x, y) = draw(seed.child("train"), n);
    let (xv, yv) = draw(seed.child("val"), nval);
    Data { x, y, xv, yv }
}

/// The smoothed dual. With `kernel` the products go through `K = XXᵀ` (O(n²k)); without, through
/// `X(Xᵀ·)` (O(ndk), the feature-dimension cost the runtime sweep measures).
pub struct Dual<'a> {
    /// Features.
    pub x: &'a Array2<f64>,
    /// One-hot labels.
    pub y: &'a Array2<f64>,
    /// Smoothing ε.
    pub eps: f64,
    /// `K = XXᵀ`, if precomputed.
    pub kernel: Option<Array2<f64>>,
}

impl<'a> Dual<'a> {
    /// The dual of `(x, y)`, with the kernel precomputed or not.
    pub fn new(x: &'a Array2<f64>, y: &'a Array2<f64>, eps: f64, kernel: bool) -> Self {
        let kernel = kernel.then(|| x.dot(&x.t()));
        Dual { x, y, eps, kernel }
    }
    /// n, k.
    pub fn shape(&self) -> (usize, usize) {
        self.y.dim()
    }
    /// `K v` (n × k).
    pub fn kmul(&self, v: ArrayView2<f64>) -> Array2<f64> {
        match &self.kernel {
            Some(k) => k.dot(&v),
            None => self.x.dot(&self.x.t().dot(&v)),
        }
    }
    /// `∇f(β)`.
    pub fn grad(&self, b: ArrayView2<f64>, lam: f64) -> Array2<f64> {
        let r = self.y - &b;
        let mut g = self.kmul(r.view()) / -lam;
        g.zip_mut_with(self.y, |gi, yi| *gi -= 1.0 - yi);
        g.scaled_add(self.eps, &b);
        g
    }
    /// `∇²f v`.
    pub fn hvp(&self, v: ArrayView2<f64>, lam: f64) -> Array2<f64> {
        let mut h = self.kmul(v) / lam;
        h.scaled_add(self.eps, &v);
        h
    }
    /// `∂_λ ∇f(β)`.
    pub fn dgrad_dlam(&self, b: ArrayView2<f64>, lam: f64) -> Array2<f64> {
        self.kmul((self.y - &b).view()) / (lam * lam)
    }
    /// The smoothness constant `λ_max(K)/λ + ε` (power iteration on K, 200 steps from 1).
    pub fn lipschitz(&self, lam: f64) -> f64 {
        let n = self.x.nrows();
        let mut v = Array2::<f64>::ones((n, 1)) / (n as f64).sqrt();
        let mut ev = 0.0;
        for _ in 0..200 {
            let w = self.kmul(v.view());
            let nw = w.iter().map(|a| a * a).sum::<f64>().sqrt();
            if nw == 0.0 {
                break;
            }
            ev = nw;
            v = w / nw;
        }
        // Power iteration underestimates from below: pad by 1% so 1/L stays a safe step.
        1.01 * ev / lam + self.eps
    }
    /// One projected-gradient step `Π(β − η∇f)`, returning the new point.
    pub fn pg_step(&self, b: ArrayView2<f64>, lam: f64, eta: f64) -> Array2<f64> {
        let mut z = &b - &(self.grad(b, lam) * eta);
        z.axis_iter_mut(Axis(0)).for_each(|mut row| project_simplex(row.as_slice_mut().expect("row-major")));
        z
    }
}

/// The uniform start `β_i = 1/k`.
pub fn uniform(n: usize, k: usize) -> Array2<f64> {
    Array2::from_elem((n, k), 1.0 / k as f64)
}

fn to2(v: ArrayView1<f64>, n: usize, k: usize) -> Array2<f64> {
    v.to_owned().into_shape_with_order((n, k)).expect("length n·k")
}

fn to1(a: Array2<f64>) -> Array1<f64> {
    let n = a.len();
    a.as_standard_layout().into_owned().into_shape_with_order(n).expect("contiguous")
}

/// The solution to machine precision: `pg_iters` projected-gradient steps from the uniform start,
/// then an active-set polish (solve the equality-constrained QP on the current support by dense
/// LU; accept it when β ≥ 0 on the support and the multipliers off it are ≥ 0, else 200 more PG
/// steps), at most `rounds` times.
pub fn solve(dual: &Dual, lam: f64, pg_iters: usize, rounds: usize) -> Result<Array2<f64>, SolveError> {
    let (n, k) = dual.shape();
    let eta = 1.0 / dual.lipschitz(lam);
    let mut b = uniform(n, k);
    for _ in 0..pg_iters {
        b = dual.pg_step(b.view(), lam, eta);
    }
    for _ in 0..rounds {
        if let Some(p) = polish(dual, lam, &b)? {
            return Ok(p);
        }
        for _ in 0..200 {
            b = dual.pg_step(b.view(), lam, eta);
        }
    }
    Err(SolveError::NotConverged { method: "svm active-set polish", iters: rounds, residual: f64::NAN, tol: 0.0 })
}

/// The KKT multipliers at a point of the simplices: `ν_i = −mean_{j∈S_i} g_ij`, `µ = g + ν` (0 on
/// the support S).
pub fn multipliers(g: &Array2<f64>, b: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let (n, k) = b.dim();
    let mut nu = Array1::zeros(n);
    let mut mu = Array2::zeros((n, k));
    for i in 0..n {
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for j in 0..k {
            if b[[i, j]] > 0.0 {
                s += g[[i, j]];
                c += 1.0;
            }
        }
        nu[i] = -s / c.max(1.0);
        for j in 0..k {
            mu[[i, j]] = if b[[i, j]] > 0.0 { 0.0 } else { g[[i, j]] + nu[i] };
        }
    }
    (nu, mu)
}

fn polish(dual: &Dual, lam: f64, b: &Array2<f64>) -> Result<Option<Array2<f64>>, SolveError> {
    let (n, k) = dual.shape();
    let support: Vec<usize> = (0..n * k).filter(|&q| b[[q / k, q % k]] > 0.0).collect();
    let m = support.len();
    let kk = match &dual.kernel {
        Some(kk) => kk.clone(),
        None => dual.x.dot(&dual.x.t()),
    };
    // ∇f = Hβ + c with (Hβ)_ij = (Kβ)_ij/λ + εβ_ij, c = −KY/λ − (1 − Y).
    let c = dual.grad(Array2::<f64>::zeros((n, k)).view(), lam);
    let mut a = Array2::<f64>::zeros((m + n, m + n));
    let mut rhs = Array1::<f64>::zeros(m + n);
    for (p, &q) in support.iter().enumerate() {
        let (i, j) = (q / k, q % k);
        for (r, &s) in support.iter().enumerate() {
            let (l, jj) = (s / k, s % k);
            if jj == j {
                a[[p, r]] = kk[[i, l]] / lam;
            }
        }
        a[[p, p]] += dual.eps;
        a[[p, m + i]] = 1.0;
        a[[m + i, p]] = 1.0;
        rhs[p] = -c[[i, j]];
    }
    for i in 0..n {
        rhs[m + i] = 1.0;
    }
    let sol = DenseLu::new(a.view())?.solve(rhs.view());
    let mut cand = Array2::<f64>::zeros((n, k));
    for (p, &q) in support.iter().enumerate() {
        cand[[q / k, q % k]] = sol[p];
    }
    if cand.iter().any(|v| *v < -1e-14) {
        return Ok(None);
    }
    cand.mapv_inplace(|v| v.max(0.0));
    let g = dual.grad(cand.view(), lam);
    let (_, mu) = multipliers(&g, &cand);
    let scale = g.iter().fold(1.0f64, |s, v| s.max(v.abs()));
    if mu.iter().any(|v| *v < -1e-12 * scale) {
        return Ok(None);
    }
    Ok(Some(cand))
}

/// The support pattern (for checking that finite differences stay on one piece).
pub fn support(b: &Array2<f64>) -> Vec<bool> {
    b.iter().map(|v| *v > 0.0).collect()
}

/// Which optimality map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mapping {
    /// `T(β) = Π_Δ(β − η∇f)`, F = T − β.
    ProjectedGradient,
    /// `T(β) = softmax(log β − η∇f)` per row, F = T − β.
    MirrorDescent,
    /// `(∇f + Eν − µ, Eᵀβ − 1, µ ⊙ β) = 0` in `(β, ν, µ)`.
    Kkt,
}

impl Mapping {
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Mapping::ProjectedGradient => "PG fixed point",
            Mapping::MirrorDescent => "MD fixed point",
            Mapping::Kkt => "KKT",
        }
    }
}

/// A bug to plant in an optimality map (tests only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MapPlant {
    /// Correct.
    #[default]
    None,
    /// The MD map's θ-derivative with the wrong sign (`+η ∂_λ∇f`). (The sign of η in the
    /// β-derivative cannot be planted: at the fixed point the MD Jacobian does not depend on η.)
    MdThetaSign,
}

/// One of the three maps as a [`RootMap`] in `x = vec(β)` (or `(vec β, ν, vec µ)` for KKT),
/// `θ = (λ)`. The fixed-point maps return `T` (wrap them in `FixedPoint`).
pub struct Map<'a> {
    /// The dual.
    pub dual: &'a Dual<'a>,
    /// Which map.
    pub mapping: Mapping,
    /// The step η of the PG / MD maps.
    pub eta: f64,
    /// A planted bug (tests).
    pub plant: MapPlant,
}

impl Map<'_> {
    /// η in the θ-derivative of the MD step (−η under the planted sign bug).
    fn signed_eta(&self) -> f64 {
        if self.plant == MapPlant::MdThetaSign { -self.eta } else { self.eta }
    }
    fn nk(&self) -> (usize, usize) {
        self.dual.shape()
    }
    fn split(&self, z: ArrayView1<f64>) -> (Array2<f64>, Array1<f64>, Array2<f64>) {
        let (n, k) = self.nk();
        let b = to2(z.slice(ndarray::s![..n * k]), n, k);
        if self.mapping != Mapping::Kkt {
            return (b, Array1::zeros(0), Array2::zeros((0, 0)));
        }
        let nu = z.slice(ndarray::s![n * k..n * k + n]).to_owned();
        let mu = to2(z.slice(ndarray::s![n * k + n..]), n, k);
        (b, nu, mu)
    }
    /// The PG map's projection output `p = Π(β − η∇f)`.
    fn pg_out(&self, b: &Array2<f64>, lam: f64) -> Array2<f64> {
        self.dual.pg_step(b.view(), lam, self.eta)
    }
    /// Per row: `T = softmax(log β − η g)` and `s_j = e^{−η g_j}/Σ_i β_i e^{−η g_i}` (so that
    /// `∂T_j/∂β_l = s_j δ_jl − T_j s_l` holds also where β_j = 0).
    fn md_parts(&self, b: &Array2<f64>, lam: f64) -> (Array2<f64>, Array2<f64>) {
        let g = self.dual.grad(b.view(), lam);
        let (n, k) = b.dim();
        let mut t = b.clone();
        let mut s = Array2::zeros((n, k));
        for i in 0..n {
            kl_mirror_step(
                t.row_mut(i).as_slice_mut().expect("row-major"),
                g.row(i).as_slice().expect("row"),
                self.eta,
            );
            let a: Vec<f64> = (0..k).map(|j| -self.eta * g[[i, j]]).collect();
            let m =
                (0..k).filter(|&j| b[[i, j]] > 0.0).map(|j| b[[i, j]].ln() + a[j]).fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = (0..k).filter(|&j| b[[i, j]] > 0.0).map(|j| (b[[i, j]].ln() + a[j] - m).exp()).sum();
            for j in 0..k {
                s[[i, j]] = (a[j] - m).exp() / z;
            }
        }
        (t, s)
    }
    /// Per row `(diag T − TTᵀ) u`.
    fn softmax_jac(t: &Array2<f64>, u: &Array2<f64>) -> Array2<f64> {
        let mut out = t * u;
        for (mut row, trow) in out.axis_iter_mut(Axis(0)).zip(t.axis_iter(Axis(0))) {
            let tot: f64 = row.sum();
            row.zip_mut_with(&trow, |o, ti| *o -= ti * tot);
        }
        out
    }
    fn proj_jvp(p: &Array2<f64>, u: &Array2<f64>) -> Array2<f64> {
        let mut out = u.clone();
        for (mut row, prow) in out.axis_iter_mut(Axis(0)).zip(p.axis_iter(Axis(0))) {
            project_simplex_jvp(prow.as_slice().expect("row"), row.as_slice_mut().expect("row"));
        }
        out
    }
}

impl RootMap for Map<'_> {
    fn dim_x(&self) -> usize {
        let (n, k) = self.nk();
        if self.mapping == Mapping::Kkt { 2 * n * k + n } else { n * k }
    }
    fn dim_theta(&self) -> usize {
        1
    }
    fn value(&self, z: ArrayView1<f64>, th: ArrayView1<f64>) -> Array1<f64> {
        let lam = th[0];
        let (b, nu, mu) = self.split(z);
        match self.mapping {
            Mapping::ProjectedGradient => to1(self.pg_out(&b, lam)),
            Mapping::MirrorDescent => to1(self.md_parts(&b, lam).0),
            Mapping::Kkt => {
                let g = self.dual.grad(b.view(), lam);
                let f1 = &g + &nu.clone().insert_axis(Axis(1)) - &mu;
                let f2 = b.sum_axis(Axis(1)) - 1.0;
                let f3 = &mu * &b;
                ndarray::concatenate![Axis(0), to1(f1), f2, to1(f3)]
            }
        }
    }
    fn jvp_x(&self, z: ArrayView1<f64>, th: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        let lam = th[0];
        let (n, k) = self.nk();
        let (b, _, mu) = self.split(z);
        match self.mapping {
            Mapping::ProjectedGradient => {
                let dv = to2(v, n, k);
                let u = &dv - &(self.dual.hvp(dv.view(), lam) * self.eta);
                to1(Self::proj_jvp(&self.pg_out(&b, lam), &u))
            }
            Mapping::MirrorDescent => {
                let dv = to2(v, n, k);
                let (t, s) = self.md_parts(&b, lam);
                let sd = (&s * &dv).sum_axis(Axis(1)).insert_axis(Axis(1));
                let out = &s * &dv - &t * &sd;
                let hv = self.dual.hvp(dv.view(), lam);
                to1(out - Self::softmax_jac(&t, &hv) * self.eta)
            }
            Mapping::Kkt => {
                let (db, dnu, dmu) = self.split(v);
                let f1 = self.dual.hvp(db.view(), lam) + &dnu.insert_axis(Axis(1)) - &dmu;
                let f2 = db.sum_axis(Axis(1));
                let f3 = &mu * &db + &b * &dmu;
                ndarray::concatenate![Axis(0), to1(f1), f2, to1(f3)]
            }
        }
    }
    fn vjp_x(&self, z: ArrayView1<f64>, th: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        let lam = th[0];
        let (n, k) = self.nk();
        let (b, _, mu) = self.split(z);
        match self.mapping {
            Mapping::ProjectedGradient => {
                let w = Self::proj_jvp(&self.pg_out(&b, lam), &to2(u, n, k));
                to1(&w - &(self.dual.hvp(w.view(), lam) * self.eta))
            }
            Mapping::MirrorDescent => {
                let du = to2(u, n, k);
                let (t, s) = self.md_parts(&b, lam);
                let td = (&t * &du).sum_axis(Axis(1)).insert_axis(Axis(1));
                let out = &s * &du - &s * &td;
                let w = Self::softmax_jac(&t, &du);
                to1(out - self.dual.hvp(w.view(), lam) * self.eta)
            }
            Mapping::Kkt => {
                let (u1, u2, u3) = self.split(u);
                let g1 = self.dual.hvp(u1.view(), lam) + &u2.insert_axis(Axis(1)) + &mu * &u3;
                let g2 = u1.sum_axis(Axis(1));
                let g3 = &b * &u3 - &u1;
                ndarray::concatenate![Axis(0), to1(g1), g2, to1(g3)]
            }
        }
    }
    fn jvp_theta(&self, z: ArrayView1<f64>, th: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        let lam = th[0];
        let (b, _, _) = self.split(z);
        let dg = self.dual.dgrad_dlam(b.view(), lam) * v[0];
        match self.mapping {
            Mapping::ProjectedGradient => to1(Self::proj_jvp(&self.pg_out(&b, lam), &(dg * -self.eta))),
            Mapping::MirrorDescent => {
                let (t, _) = self.md_parts(&b, lam);
                to1(Self::softmax_jac(&t, &dg) * -self.signed_eta())
            }
            Mapping::Kkt => {
                let (n, k) = self.nk();
                ndarray::concatenate![Axis(0), to1(dg), Array1::zeros(n + n * k)]
            }
        }
    }
    fn vjp_theta(&self, z: ArrayView1<f64>, th: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        let lam = th[0];
        let (n, k) = self.nk();
        let (b, _, _) = self.split(z);
        let dg = self.dual.dgrad_dlam(b.view(), lam);
        let w = match self.mapping {
            Mapping::ProjectedGradient => Self::proj_jvp(&self.pg_out(&b, lam), &to2(u, n, k)) * -self.eta,
            Mapping::MirrorDescent => Self::softmax_jac(&self.md_parts(&b, lam).0, &to2(u, n, k)) * -self.signed_eta(),
            Mapping::Kkt => to2(u.slice(ndarray::s![..n * k]), n, k),
        };
        array![(&dg * &w).sum()]
    }
}

/// The point at which a map is evaluated: `vec β`, or `(vec β, ν, vec µ)` for KKT.
pub fn point(dual: &Dual, mapping: Mapping, b: &Array2<f64>, lam: f64) -> Array1<f64> {
    if mapping != Mapping::Kkt {
        return to1(b.clone());
    }
    let g = dual.grad(b.view(), lam);
    let (nu, mu) = multipliers(&g, b);
    ndarray::concatenate![Axis(0), to1(b.clone()), nu, to1(mu)]
}

/// `∂β*/∂λ` (vec, length n·k) through one dense solve of the given map at `b`.
pub fn jacobian(
    dual: &Dual,
    mapping: Mapping,
    b: &Array2<f64>,
    lam: f64,
    plant: MapPlant,
) -> Result<Array1<f64>, SolveError> {
    let (n, k) = dual.shape();
    let eta = 1.0 / dual.lipschitz(lam);
    let map = Map { dual, mapping, eta, plant };
    let z = point(dual, mapping, b, lam);
    let th = array![lam];
    let one = array![1.0];
    let j = match mapping {
        Mapping::Kkt => root_jvp(&map, z.view(), th.view(), one.view(), LinearSolve::Dense)?,
        _ => root_jvp(&common::solve::FixedPoint(&map), z.view(), th.view(), one.view(), LinearSolve::Dense)?,
    };
    Ok(j.slice(ndarray::s![..n * k]).to_owned())
}

/// Central finite difference of the polished solution in λ (step halved, up to 6 times, until
/// both sides keep the support of β*(λ)).
pub fn fd_jacobian(dual: &Dual, b: &Array2<f64>, lam: f64, pg_iters: usize) -> Result<Array1<f64>, SolveError> {
    let s0 = support(b);
    let mut h = 1e-5 * lam;
    for _ in 0..6 {
        let bp = solve(dual, lam + h, pg_iters, 20)?;
        let bm = solve(dual, lam - h, pg_iters, 20)?;
        if support(&bp) == s0 && support(&bm) == s0 {
            return Ok(to1((bp - bm) / (2.0 * h)));
        }
        h *= 0.25;
    }
    Err(SolveError::Breakdown { method: "fd_jacobian", iter: 6, what: "the support changes within every step tried" })
}

/// Norm of a vector.
pub fn norm(v: &Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}

// ---------------------------------------------------------------------------------------------
// E3: hyper-gradients.

/// The validation loss: mean softmax cross-entropy of `X_v W`, `W = Xᵀ(Y − β)/λ`.
pub struct Outer<'a> {
    /// Validation features.
    pub xv: &'a Array2<f64>,
    /// One-hot validation labels.
    pub yv: &'a Array2<f64>,
}

impl Outer<'_> {
    /// `(ℓ, ∂ℓ/∂β, ∂ℓ/∂λ at fixed β)`.
    pub fn eval(&self, dual: &Dual, b: &Array2<f64>, lam: f64) -> (f64, Array2<f64>, f64) {
        let w = dual.x.t().dot(&(dual.y - b)) / lam;
        let logits = self.xv.dot(&w);
        let m = self.xv.nrows() as f64;
        let mut loss = 0.0;
        let mut p = Array2::zeros(logits.dim());
        for (i, row) in logits.axis_iter(Axis(0)).enumerate() {
            let lse = common::models::loss::logsumexp(row);
            loss += lse - (&row * &self.yv.row(i)).sum();
            p.row_mut(i).assign(&row.mapv(|z| (z - lse).exp()));
        }
        let gw = self.xv.t().dot(&(p - self.yv)) / m;
        let gb = dual.x.dot(&gw) / -lam;
        let gl = -(&gw * &w).sum() / lam;
        (loss / m, gb, gl)
    }
}

/// How the hyper-gradient is computed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum HyperMethod {
    /// Implicit differentiation of the PG fixed point at the T-th iterate (VJP by GMRES).
    Implicit,
    /// Reverse-mode through T projected-gradient steps.
    Unrolled,
}

/// A hyper-gradient `dℓ/d log λ` and its cost.
#[derive(Clone, Debug)]
pub struct HyperGrad {
    /// The value.
    pub value: f64,
    /// Products with `K` (or `X(Xᵀ·)`) it took.
    pub products: usize,
}

/// `dℓ/d log λ` from `T` PG steps from the uniform start (step `eta`), by `method`.
pub fn hypergrad(
    dual: &Dual,
    outer: &Outer,
    lam: f64,
    eta: f64,
    t: usize,
    method: HyperMethod,
) -> Result<HyperGrad, SolveError> {
    let (n, k) = dual.shape();
    let mut b = uniform(n, k);
    match method {
        HyperMethod::Implicit => {
            for _ in 0..t {
                b = dual.pg_step(b.view(), lam, eta);
            }
            implicit_at(dual, outer, &b, lam, eta).map(|(v, p)| HyperGrad { value: v, products: t + p })
        }
        HyperMethod::Unrolled => {
            let mut tape = Vec::with_capacity(t + 1);
            tape.push(b.clone());
            for _ in 0..t {
                b = dual.pg_step(b.view(), lam, eta);
                tape.push(b.clone());
            }
            let (_, mut gb, mut gl) = outer.eval(dual, &b, lam);
            for s in (0..t).rev() {
                let u = Map::proj_jvp(&tape[s + 1], &gb);
                gl -= eta * (&dual.dgrad_dlam(tape[s].view(), lam) * &u).sum();
                gb = &u - &(dual.hvp(u.view(), lam) * eta);
            }
            // Forward t, backward 2t (the λ-term and the HVP).
            Ok(HyperGrad { value: lam * gl, products: 3 * t })
        }
    }
}

/// The implicit `dℓ/d log λ` at `b`: `∂_λℓ + VJP(∂_βℓ)` of the PG fixed point, GMRES(30) to 1e-10;
/// returns the value and the products used.
pub fn implicit_at(
    dual: &Dual,
    outer: &Outer,
    b: &Array2<f64>,
    lam: f64,
    eta: f64,
) -> Result<(f64, usize), SolveError> {
    let map = Map { dual, mapping: Mapping::ProjectedGradient, eta, plant: MapPlant::None };
    let fp = common::solve::FixedPoint(&map);
    let (_, gb, gl) = outer.eval(dual, b, lam);
    let counter = std::cell::Cell::new(0usize);
    let counted = Counted { inner: &fp, count: &counter };
    let opts = KrylovOpts { tol: 1e-10, max_iter: 2000, restart: 30 };
    let v = root_vjp(&counted, to1(b.clone()).view(), array![lam].view(), to1(gb).view(), LinearSolve::Gmres(opts))?;
    Ok((lam * (gl + v[0]), counter.get()))
}

/// Counts VJPs in x (each one product with K).
struct Counted<'a, R> {
    inner: &'a R,
    count: &'a std::cell::Cell<usize>,
}

impl<R: RootMap> RootMap for Counted<'_, R> {
    fn dim_x(&self) -> usize {
        self.inner.dim_x()
    }
    fn dim_theta(&self) -> usize {
        1
    }
    fn value(&self, x: ArrayView1<f64>, t: ArrayView1<f64>) -> Array1<f64> {
        self.inner.value(x, t)
    }
    fn jvp_x(&self, x: ArrayView1<f64>, t: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        self.count.set(self.count.get() + 2);
        self.inner.jvp_x(x, t, v)
    }
    fn vjp_x(&self, x: ArrayView1<f64>, t: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        self.count.set(self.count.get() + 2);
        self.inner.vjp_x(x, t, u)
    }
    fn jvp_theta(&self, x: ArrayView1<f64>, t: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        self.inner.jvp_theta(x, t, v)
    }
    fn vjp_theta(&self, x: ArrayView1<f64>, t: ArrayView1<f64>, u: ArrayView1<f64>) -> Array1<f64> {
        self.count.set(self.count.get() + 2);
        self.inner.vjp_theta(x, t, u)
    }
}

/// The reference `dℓ/d log λ`: central difference in log λ of `ℓ(β*(λ), λ)` with polished solves
/// (step 1e-4, quartered up to 6 times until the support is stable).
pub fn fd_hypergrad(dual: &Dual, outer: &Outer, lam: f64, pg_iters: usize) -> Result<f64, SolveError> {
    let s0 = support(&solve(dual, lam, pg_iters, 20)?);
    let mut h = 1e-4;
    for _ in 0..6 {
        let (lp, lm) = (lam * f64::exp(h), lam * f64::exp(-h));
        let (bp, bm) = (solve(dual, lp, pg_iters, 20)?, solve(dual, lm, pg_iters, 20)?);
        if support(&bp) == s0 && support(&bm) == s0 {
            return Ok((outer.eval(dual, &bp, lp).0 - outer.eval(dual, &bm, lm).0) / (2.0 * h));
        }
        h *= 0.25;
    }
    Err(SolveError::Breakdown { method: "fd_hypergrad", iter: 6, what: "the support changes within every step tried" })
}
