//! The data, the hyperplane-arrangement patterns and the convex program of Pilanci & Ergen (2020)
//! as an ADMM problem for [`common::admm`]: `x = (v_1..v_P, w_1..w_P)`, `z = (copy of x,
//! (2D_i − I) X v_i, (2D_i − I) X w_i)`, `g = β Σ‖·‖₂ on the copy + the indicator of z ≥ 0 on the
//! cone part`, `f(x) = ½‖F x − y‖²`. The cached system `FᵀF + ρ(I + GᵀG)` is solved either densely
//! (the paper's algorithm: one Cholesky, `O((dP)²)` per solve) or through its structure
//! (`GᵀG = I_{2P} ⊗ XᵀX` because `(2D_i − I)² = I`, and `FᵀF` has rank ≤ n: Woodbury with an
//! `n × n` capacitance matrix, `O(ndP)` per solve).
use common::Seed;
use common::admm::{AdmmError, KktSolve, Problem};
use common::linalg::Cholesky;
use common::prox::{project_nonneg, prox_group_l2_blocks};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rand::Rng;
use std::collections::BTreeSet;

/// Two interleaved spirals, `n` points (`n/2` per arm, `n` even), labels ±1, a bias column
/// (d = 3), each point moved by `jitter` × N(0, I) (jitter 0: the deterministic set of the NumPy
/// reference).
pub fn spirals(n: usize, jitter: f64, seed: Seed) -> (Array2<f64>, Array1<f64>) {
    let k = n / 2;
    let mut rng = seed.rng();
    let mut x = Array2::zeros((2 * k, 3));
    let mut y = Array1::zeros(2 * k);
    for i in 0..k {
        let t = if k > 1 { 0.25 + 0.75 * i as f64 / (k - 1) as f64 } else { 0.25 } * 3.0 * std::f64::consts::PI;
        let r = t / (3.0 * std::f64::consts::PI);
        let (a, b) = (r * t.cos(), r * t.sin());
        x[[i, 0]] = a;
        x[[i, 1]] = b;
        x[[k + i, 0]] = -a;
        x[[k + i, 1]] = -b;
        y[i] = 1.0;
        y[k + i] = -1.0;
    }
    if jitter > 0.0 {
        let noise = common::rng::gaussian_mat(&mut rng, 2 * k, 2, jitter);
        x.slice_mut(s![.., 0..2]).zip_mut_with(&noise, |a, b| *a += b);
    }
    x.column_mut(2).fill(1.0);
    (x, y)
}

/// Gaussian features with a bias column (the timing problems): `n × d`, last column 1, labels ±1
/// from a random halfspace.
pub fn gaussian_data(n: usize, d: usize, seed: Seed) -> (Array2<f64>, Array1<f64>) {
    let mut rng = seed.rng();
    let mut x = common::rng::gaussian_mat(&mut rng, n, d, 1.0);
    x.column_mut(d - 1).fill(1.0);
    let w = common::rng::gaussian_vec(&mut rng, d, 1.0);
    let y = x.dot(&w).mapv(|v| if v >= 0.0 { 1.0 } else { -1.0 });
    (x, y)
}

/// Number of regions of a central arrangement of `n` hyperplanes in general position in `R^d`:
/// `2 Σ_{k<d} C(n − 1, k)` (Cover 1965), the count of distinct patterns `1[Xh ≥ 0]`.
pub fn pattern_count_formula(n: usize, d: usize) -> u64 {
    let binom = |n: u64, k: u64| (0..k).fold(1u64, |acc, i| acc * (n - i) / (i + 1));
    2 * (0..d as u64).map(|k| if k < n as u64 { binom(n as u64 - 1, k) } else { 0 }).sum::<u64>()
}

/// A set of patterns: row i is `1[X h_i ≥ 0]` as 0/1 (P × n).
pub type Patterns = Array2<f64>;

fn to_rows(set: BTreeSet<Vec<u8>>, n: usize) -> Patterns {
    let mut d = Array2::zeros((set.len(), n));
    for (i, p) in set.iter().enumerate() {
        d.row_mut(i).iter_mut().zip(p).for_each(|(a, b)| *a = *b as f64);
    }
    d
}

/// Every pattern of the central arrangement `{h : x_iᵀh = 0}` in R³, exactly: each region is a
/// pointed cone (X has rank 3) whose extreme rays are `±(x_i × x_j)`; around such a ray the signs
/// of `i` and `j` are free and every other sign is that of the ray. Sorted, deduplicated.
pub fn enumerate_patterns(x: &Array2<f64>) -> Patterns {
    assert_eq!(x.ncols(), 3, "exact enumeration is written for d = 3");
    let n = x.nrows();
    let mut set = BTreeSet::new();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (x.row(i), x.row(j));
            let h = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
            for sgn in [1.0, -1.0] {
                let base: Vec<u8> = (0..n)
                    .map(|k| (sgn * (x[[k, 0]] * h[0] + x[[k, 1]] * h[1] + x[[k, 2]] * h[2]) >= 0.0) as u8)
                    .collect();
                for (bi, bj) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let mut p = base.clone();
                    p[i] = bi;
                    p[j] = bj;
                    set.insert(p);
                }
            }
        }
    }
    to_rows(set, n)
}

/// The distinct patterns of `draws` Gaussian directions h (the paper's sampled formulation),
/// sorted; the all-zero pattern (which carries no neuron) is dropped.
pub fn sample_patterns(x: &Array2<f64>, draws: usize, seed: Seed) -> Patterns {
    let mut rng = seed.rng();
    let (n, d) = x.dim();
    let mut set = BTreeSet::new();
    for _ in 0..draws {
        let h: Vec<f64> = (0..d).map(|_| common::rng::gaussian_vec(&mut rng, 1, 1.0)[0]).collect();
        let p: Vec<u8> =
            (0..n).map(|k| (x.row(k).iter().zip(&h).map(|(a, b)| a * b).sum::<f64>() >= 0.0) as u8).collect();
        if p.contains(&1) {
            set.insert(p);
        }
    }
    to_rows(set, n)
}

/// `draws` patterns with repetition allowed (timing problems of an exact size).
pub fn random_patterns(n: usize, draws: usize, seed: Seed) -> Patterns {
    let mut rng = seed.rng();
    Array2::from_shape_fn((draws, n), |_| if rng.random::<bool>() { 1.0 } else { 0.0 })
}

/// The convex program on given data and patterns.
pub struct ConvexRelu {
    /// Data (n × d).
    pub x: Array2<f64>,
    /// Labels (n).
    pub y: Array1<f64>,
    /// Patterns D_i as 0/1 rows (P × n).
    pub d: Patterns,
    /// Regularization β.
    pub beta: f64,
    /// Keep the cone constraints (false: the planted "relaxed" program without them).
    pub cones: bool,
    q: Vec<f64>,
}

impl ConvexRelu {
    /// The program `min ½‖Σ D_i X (v_i − w_i) − y‖² + β Σ(‖v_i‖ + ‖w_i‖)` s.t. the cones.
    pub fn new(x: Array2<f64>, y: Array1<f64>, d: Patterns, beta: f64) -> Self {
        let mut pb = ConvexRelu { x, y, d, beta, cones: true, q: vec![] };
        pb.q = pb.ft(pb.y.view()).iter().map(|v| -v).collect();
        pb
    }
    /// Number of patterns P.
    pub fn p(&self) -> usize {
        self.d.nrows()
    }
    /// Size of x: 2dP.
    pub fn dim(&self) -> usize {
        2 * self.p() * self.x.ncols()
    }
    fn blocks<'a>(&self, x: &'a [f64]) -> ArrayView2<'a, f64> {
        ArrayView2::from_shape((2 * self.p(), self.x.ncols()), x).expect("x layout")
    }
    /// `X x_b` for every block b (2P × n).
    fn xx(&self, x: &[f64]) -> Array2<f64> {
        self.blocks(x).dot(&self.x.t())
    }
    /// The prediction `F x = Σ_i D_i X (v_i − w_i)`.
    pub fn predict(&self, x: &[f64]) -> Array1<f64> {
        let xx = self.xx(x);
        let p = self.p();
        let diff = &xx.slice(s![..p, ..]) - &xx.slice(s![p.., ..]);
        (&diff * &self.d).sum_axis(Axis(0))
    }
    /// `Fᵀ r` (length 2dP).
    pub fn ft(&self, r: ArrayView1<f64>) -> Vec<f64> {
        let dr = &self.d * &r.insert_axis(Axis(0)); // P × n
        let g = dr.dot(&self.x); // P × d
        let mut out = Vec::with_capacity(self.dim());
        out.extend(g.iter().copied());
        out.extend(g.iter().map(|v| -v));
        out
    }
    /// The convex objective at `x` (no constraint check).
    pub fn objective(&self, x: &[f64]) -> f64 {
        let r = self.predict(x) - &self.y;
        let reg: f64 = self.blocks(x).rows().into_iter().map(|b| b.dot(&b).sqrt()).sum();
        0.5 * r.dot(&r) + self.beta * reg
    }
    /// Training accuracy of `sign(F x)`.
    pub fn accuracy(&self, x: &[f64]) -> f64 {
        accuracy(&self.predict(x), &self.y)
    }
    /// Largest violation of the cone constraints `(2D_i − I) X x_b ≥ 0`.
    pub fn cone_violation(&self, x: &[f64]) -> f64 {
        let xx = self.xx(x);
        let p = self.p();
        let mut worst: f64 = 0.0;
        for (b, row) in xx.rows().into_iter().enumerate() {
            for (v, di) in row.iter().zip(self.d.row(b % p)) {
                worst = worst.max(-(2.0 * di - 1.0) * v);
            }
        }
        worst
    }
    /// The network rebuilt from a convex solution: `u = x_b/√‖x_b‖`, `α = ±√‖x_b‖` for every
    /// non-zero block (m × d first-layer weights, m second-layer weights).
    pub fn rebuild(&self, x: &[f64]) -> (Array2<f64>, Array1<f64>) {
        let (p, d) = (self.p(), self.x.ncols());
        let mut us = vec![];
        let mut al = vec![];
        for (b, blk) in self.blocks(x).rows().into_iter().enumerate() {
            let nb = blk.dot(&blk).sqrt();
            if nb > 0.0 {
                us.extend(blk.iter().map(|v| v / nb.sqrt()));
                al.push(if b < p { nb.sqrt() } else { -nb.sqrt() });
            }
        }
        (Array2::from_shape_vec((al.len(), d), us).expect("shape"), Array1::from(al))
    }
    /// Number of non-zero blocks.
    pub fn nonzero_blocks(&self, x: &[f64]) -> usize {
        self.blocks(x).rows().into_iter().filter(|b| b.iter().any(|v| *v != 0.0)).count()
    }
    /// The dense system `FᵀF + ρ(I + GᵀG)` (2dP × 2dP): the paper's cached matrix.
    pub fn dense_system(&self, rho: f64) -> Array2<f64> {
        let (p, d) = (self.p(), self.x.ncols());
        let n = self.x.nrows();
        let mut f = Array2::zeros((n, self.dim()));
        for b in 0..2 * p {
            let sgn = if b < p { 1.0 } else { -1.0 };
            for k in 0..n {
                let dk = self.d[[b % p, k]] * sgn;
                for j in 0..d {
                    f[[k, b * d + j]] = dk * self.x[[k, j]];
                }
            }
        }
        let mut m = f.t().dot(&f);
        let c = self.block_c(rho);
        for b in 0..2 * p {
            m.slice_mut(s![b * d..(b + 1) * d, b * d..(b + 1) * d]).zip_mut_with(&c, |a, v| *a += v);
        }
        m
    }
    /// `ρ(I + γ XᵀX)` with γ = 1 with the cones, 0 without.
    fn block_c(&self, rho: f64) -> Array2<f64> {
        let d = self.x.ncols();
        let g = if self.cones { 1.0 } else { 0.0 };
        (Array2::eye(d) + self.x.t().dot(&self.x) * g) * rho
    }
}

/// Fraction of `sign(pred) == y` (a zero prediction counts as wrong).
pub fn accuracy(pred: &Array1<f64>, y: &Array1<f64>) -> f64 {
    pred.iter().zip(y).filter(|(p, t)| p.signum() == **t && **p != 0.0).count() as f64 / y.len() as f64
}

impl Problem for ConvexRelu {
    fn n(&self) -> usize {
        self.dim()
    }
    fn m(&self) -> usize {
        self.dim() + if self.cones { 2 * self.p() * self.x.nrows() } else { 0 }
    }
    fn apply_a(&self, x: &[f64], out: &mut [f64]) {
        let nx = self.dim();
        out[..nx].copy_from_slice(x);
        if self.cones {
            let xx = self.xx(x);
            let p = self.p();
            for (b, (row, o)) in xx.rows().into_iter().zip(out[nx..].chunks_mut(self.x.nrows())).enumerate() {
                for ((v, di), oo) in row.iter().zip(self.d.row(b % p)).zip(o.iter_mut()) {
                    *oo = (2.0 * di - 1.0) * v;
                }
            }
        }
    }
    fn apply_at(&self, z: &[f64], out: &mut [f64]) {
        let nx = self.dim();
        out.copy_from_slice(&z[..nx]);
        if self.cones {
            let (p, n) = (self.p(), self.x.nrows());
            let mut sz = Array2::from_shape_vec((2 * p, n), z[nx..].to_vec()).expect("z layout");
            for (b, mut row) in sz.rows_mut().into_iter().enumerate() {
                row.zip_mut_with(&self.d.row(b % p), |v, di| *v *= 2.0 * di - 1.0);
            }
            let g = sz.dot(&self.x); // 2P × d
            out.iter_mut().zip(g.iter()).for_each(|(o, v)| *o += v);
        }
    }
    fn q(&self) -> &[f64] {
        &self.q
    }
    fn prox_g(&self, v: &mut [f64], rho: f64) {
        let nx = self.dim();
        prox_group_l2_blocks(&mut v[..nx], self.x.ncols(), self.beta / rho);
        project_nonneg(&mut v[nx..]);
    }
}

/// The structured solve of `FᵀF + I_{2P} ⊗ C` (`C = ρ(I + XᵀX)`) by Woodbury: `B = I ⊗ C`,
/// capacitance `S = I_n + F B⁻¹ Fᵀ = I_n + 2 (X C⁻¹ Xᵀ) ∘ (Σ_i d_i d_iᵀ)`; both factored once.
pub struct WoodburyKkt<'a> {
    pb: &'a ConvexRelu,
    c: Cholesky,
    s: Cholesky,
}

impl<'a> WoodburyKkt<'a> {
    /// Factor `C` (d × d) and `S` (n × n).
    pub fn new(pb: &'a ConvexRelu, rho: f64) -> Result<Self, AdmmError> {
        let c = Cholesky::new(pb.block_c(rho).view())?;
        let ci_xt = c.solve_mat(pb.x.t()); // d × n
        let k = pb.x.dot(&ci_xt);
        let cnt = pb.d.t().dot(&pb.d);
        let mut s = k * cnt * 2.0;
        s.diag_mut().iter_mut().for_each(|v| *v += 1.0);
        Ok(WoodburyKkt { pb, c, s: Cholesky::new(s.view())? })
    }
}

impl KktSolve for WoodburyKkt<'_> {
    fn dim(&self) -> usize {
        self.pb.dim()
    }
    fn solve_in_place(&self, rhs: &mut [f64]) {
        let (p, d) = (self.pb.p(), self.pb.x.ncols());
        let r = ArrayView2::from_shape((2 * p, d), &*rhs).expect("layout");
        let b = self.c.solve_mat(r.t()).t().as_standard_layout().into_owned(); // B⁻¹ r, 2P × d
        let t = self.s.solve(self.pb.predict(b.as_slice().expect("contiguous")).view());
        let ft = Array2::from_shape_vec((2 * p, d), self.pb.ft(t.view())).expect("layout");
        let corr = self.c.solve_mat(ft.t()).t().as_standard_layout().into_owned();
        rhs.iter_mut().zip(b.iter().zip(corr.iter())).for_each(|(o, (a, c))| *o = a - c);
    }
}

/// The objective of the non-convex network `Σ_j (X u_j)_+ α_j` with weight decay (β/2)(‖u‖² + α²).
pub fn network_objective(x: &Array2<f64>, y: &Array1<f64>, u: &Array2<f64>, alpha: &Array1<f64>, beta: f64) -> f64 {
    let pred = network_predict(x, u, alpha);
    let r = pred - y;
    0.5 * r.dot(&r) + 0.5 * beta * (u.iter().map(|v| v * v).sum::<f64>() + alpha.dot(alpha))
}

/// `Σ_j (X u_j)_+ α_j`.
pub fn network_predict(x: &Array2<f64>, u: &Array2<f64>, alpha: &Array1<f64>) -> Array1<f64> {
    x.dot(&u.t()).mapv(|v| v.max(0.0)).dot(alpha)
}
