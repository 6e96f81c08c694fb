//! Mean-square linear stability of SGD at an interpolating minimum (squared loss).
//!
//! At a global minimum θ* of `L = (1/2n) Σ_i (f(x_i; θ) − y_i)²` the Hessian is `H = AᵀA/n`
//! with rows `a_i = ∇_θ f(x_i; θ*)` (the exact Jacobian, [`jacobian`]), and the per-batch
//! Hessian is `H_B = (1/B) Σ_{i∈batch} a_i a_iᵀ`. Linearized SGD is `δ ← (I − η H_B) δ`, whose
//! second moment `M = E[δδᵀ]` evolves by the positive, self-adjoint map
//!
//! `T(M) = E[(I − ηH_B) M (I − ηH_B)] = M − η(HM + MH) + η² Q(M)`,
//! `Q(M) = E[H_B M H_B] = w_S · S(M) + w_H · HMH`, `S(M) = (1/n) Σ_i a_i a_iᵀ (a_iᵀ M a_i)`,
//!
//! with `(w_S, w_H) = (1/B, 1 − 1/B)` for batches drawn with replacement and
//! `((n−B)/(B(n−1)), n(B−1)/(B(n−1)))` without replacement (full-batch GD: `B = n`, `w_S = 0`,
//! `T(M) = (I−ηH)M(I−ηH)`). θ* is mean-square stable iff `ρ(T) ≤ 1`.
//!
//! **Reduction.** Only the range of `H` moves (the null space is neutral, eigenvalue 1), so all
//! computations use the `r = rank H` coordinates `c_i = Λ^{1/2} U_i √n` from the eigen-decomposition
//! `AAᵀ/n = UΛUᵀ` of the `n × n` Gram matrix: there `H = Λ` is diagonal and `‖c_i‖ = ‖a_i‖`.
//!
//! **Threshold in closed form.** With `L(M) = ΛM + MΛ` (positive definite on the range),
//! `T − I = η L^{1/2} (η K − I) L^{1/2}` with `K = L^{-1/2} Q L^{-1/2}`, and `ρ(T) = λ_max(T)` for a
//! positive self-adjoint map, so the mean-square threshold is `η_ms = 1 / λ_max(K)` — one Lanczos
//! run ([`Curvature::eta_ms`]). [`Curvature::eta_ms_bisect`] finds the same number the long way
//! (the spec's route: bisection on `ρ(T_η) ≤ 1`), deciding each `η` exactly through the
//! diagonal-plus-low-rank structure of `T_η` ([`Curvature::stability_margin`]): an independent
//! check. (Lanczos on `T_η` itself is not precise enough there: when `λ_min(H) ≪ λ_max(H)` its
//! top eigenvalue sits in a cluster of eigenvalues `≈ 1 − 2ηλ_min`.)
//!
//! **Trace bound.** `ρ(T) ≥ ⟨I, T(I)⟩ / r` (Rayleigh quotient) gives
//! `η w_S E‖a‖⁴ ≤ 2 Tr H` at a stable minimum, and with `(E‖a‖²)² ≤ E‖a‖⁴`:
//! `Tr H ≤ 2 / (η w_S)`, i.e. the paper's `Tr H ≤ 2/η` at `B = 1` and `2B/η` for batches of `B`
//! drawn with replacement ([`Curvature::trace_bound_ratio`]).
use common::linalg::{FnOp, eigh, eigvalsh, top_eigs};
use common::models::Model;
use common::train::{BatchSampler, Sampling};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The exact Jacobian of a scalar-output model: row `i` is `∇_θ f(x_i; θ)` (one VJP per sample).
pub fn jacobian<M: Model>(model: &M, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
    assert_eq!(model.num_outputs(), 1, "jacobian: scalar-output models only");
    let one = Array2::from_elem((1, 1), 1.0);
    let rows: Vec<Array1<f64>> =
        (0..x.nrows()).into_par_iter().map(|i| model.vjp(w, x.slice(s![i..i + 1, ..]), one.view())).collect();
    let mut a = Array2::zeros((x.nrows(), model.num_params()));
    for (i, r) in rows.iter().enumerate() {
        a.row_mut(i).assign(r);
    }
    a
}

/// `Tr(JᵀJ)/n = (1/n) Σ_i ‖∇_θ f(x_i; θ)‖²`: the trace of the Gauss-Newton matrix at any point,
/// and the trace of the exact Hessian of the squared loss for both nets of the study (their
/// `∇²_θ f` has a zero diagonal: `diag(2x, −2x)` in `(u, v)` for the diagonal net, only the
/// output–hidden cross terms for a two-layer ReLU net), one VJP per sample, no `n × p` storage.
pub fn gn_trace<M: Model>(model: &M, w: ArrayView1<f64>, x: ArrayView2<f64>) -> f64 {
    let one = Array2::from_elem((1, 1), 1.0);
    let n = x.nrows().max(1) as f64;
    (0..x.nrows())
        .into_par_iter()
        .map(|i| {
            let g = model.vjp(w, x.slice(s![i..i + 1, ..]), one.view());
            g.dot(&g)
        })
        .sum::<f64>()
        / n
}

/// How the indices of a mini-batch are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Draw {
    /// `B` i.i.d. uniform indices (what the training loop uses for SGD).
    WithReplacement,
    /// `B` distinct indices, uniformly; `B = n` is full-batch gradient descent.
    WithoutReplacement,
}

/// A batch size and how the batch is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchRule {
    pub size: usize,
    pub draw: Draw,
}

impl BatchRule {
    pub fn with_replacement(size: usize) -> Self {
        assert!(size >= 1, "batch size must be >= 1");
        BatchRule { size, draw: Draw::WithReplacement }
    }
    pub fn without_replacement(size: usize) -> Self {
        assert!(size >= 1, "batch size must be >= 1");
        BatchRule { size, draw: Draw::WithoutReplacement }
    }
    /// Full-batch gradient descent on `n` samples.
    pub fn full(n: usize) -> Self {
        Self::without_replacement(n)
    }
    /// `(w_S, w_H)` with `E[H_B M H_B] = w_S S(M) + w_H H M H` for `n` samples.
    pub fn weights(&self, n: usize) -> (f64, f64) {
        let b = self.size as f64;
        match self.draw {
            Draw::WithReplacement => (1.0 / b, 1.0 - 1.0 / b),
            Draw::WithoutReplacement => {
                assert!(self.size <= n, "a batch without replacement has at most n = {n} samples");
                if n == 1 {
                    return (1.0, 0.0);
                }
                let nf = n as f64;
                ((nf - b) / (b * (nf - 1.0)), nf * (b - 1.0) / (b * (nf - 1.0)))
            }
        }
    }
    pub fn label(&self, n: usize) -> String {
        match self.draw {
            Draw::WithReplacement => format!("SGD B={}", self.size),
            Draw::WithoutReplacement if self.size == n => "GD".into(),
            Draw::WithoutReplacement => format!("SGD B={} (w/o repl.)", self.size),
        }
    }
}

/// The curvature of an interpolating minimum in the coordinates that matter (see the module docs).
#[derive(Clone, Debug)]
pub struct Curvature {
    /// Number of samples.
    pub n: usize,
    /// Number of parameters.
    pub p: usize,
    /// Non-zero eigenvalues of `H`, descending (`r` of them).
    pub lam: Array1<f64>,
    /// `n × r`: row `i` holds `a_i` in the eigenbasis of `H` (restricted to its range).
    pub c: Array2<f64>,
}

/// Eigenvalues below this fraction of the largest count as zero (rank of `H`).
const RANK_TOL: f64 = 1e-10;

impl Curvature {
    /// From the Jacobian `A` (`n × p`, rows `a_i`), through the `n × n` Gram matrix `AAᵀ/n`.
    pub fn from_jacobian(a: ArrayView2<f64>) -> Self {
        let (n, p) = a.dim();
        assert!(n >= 1, "Curvature: no samples");
        let gram = a.dot(&a.t()) / n as f64;
        let (vals, vecs) = eigh(&gram);
        let top = vals.iter().fold(0.0f64, |m, &v| m.max(v));
        let keep: Vec<usize> = (0..n).rev().filter(|&k| vals[k] > RANK_TOL * top && top > 0.0).collect();
        let r = keep.len();
        let lam = Array1::from_shape_fn(r, |j| vals[keep[j]]);
        let sn = (n as f64).sqrt();
        let c = Array2::from_shape_fn((n, r), |(i, j)| sn * vecs[[i, keep[j]]] * lam[j].sqrt());
        Curvature { n, p, lam, c }
    }

    /// From a model at an interpolating point (the exact `JᵀJ/n`, the Hessian there).
    pub fn at<M: Model>(model: &M, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Self {
        Self::from_jacobian(jacobian(model, w, x).view())
    }

    /// `rank H`.
    pub fn rank(&self) -> usize {
        self.lam.len()
    }
    /// `Tr H = E‖a‖²`.
    pub fn trace(&self) -> f64 {
        self.lam.sum()
    }
    /// `λ_max(H)`.
    pub fn lambda_max(&self) -> f64 {
        self.lam.first().copied().unwrap_or(0.0)
    }
    /// `Tr H² = ‖H‖_F²`.
    pub fn trace_sq(&self) -> f64 {
        self.lam.iter().map(|l| l * l).sum()
    }
    /// `E‖a‖⁴ = (1/n) Σ_i ‖a_i‖⁴`.
    pub fn mean_norm4(&self) -> f64 {
        self.c.rows().into_iter().map(|r| r.dot(&r).powi(2)).sum::<f64>() / self.n as f64
    }

    /// `S(M) = (1/n) Σ_i c_i c_iᵀ (c_iᵀ M c_i)`.
    pub fn s_apply(&self, m: ArrayView2<f64>) -> Array2<f64> {
        let cm = self.c.dot(&m);
        let q = (&cm * &self.c).sum_axis(Axis(1));
        let scaled = &self.c * &q.insert_axis(Axis(1));
        scaled.t().dot(&self.c) / self.n as f64
    }

    /// `Q(M) = E[H_B M H_B]` for the batch rule.
    pub fn q_apply(&self, rule: BatchRule, m: ArrayView2<f64>) -> Array2<f64> {
        let (ws, wh) = rule.weights(self.n);
        let lam = &self.lam;
        let mut out = Array2::from_shape_fn(m.dim(), |(j, k)| wh * lam[j] * m[[j, k]] * lam[k]);
        if ws != 0.0 {
            out.scaled_add(ws, &self.s_apply(m));
        }
        out
    }

    /// `T_η(M) = M − η(HM + MH) + η² Q(M)`.
    pub fn t_apply(&self, eta: f64, rule: BatchRule, m: ArrayView2<f64>) -> Array2<f64> {
        let lam = &self.lam;
        let q = self.q_apply(rule, m);
        Array2::from_shape_fn(m.dim(), |(j, k)| m[[j, k]] * (1.0 - eta * (lam[j] + lam[k])) + eta * eta * q[[j, k]])
    }

    /// The largest eigenvalue of a map on symmetric `r × r` matrices, by Lanczos on `P f P`
    /// (`P` the projection onto symmetric matrices; antisymmetric ones are not second moments).
    fn top_sym(&self, f: impl Fn(ArrayView2<f64>) -> Array2<f64> + Sync, steps: usize, rng: &mut impl Rng) -> f64 {
        let r = self.rank();
        if r == 0 {
            return 0.0;
        }
        let op = FnOp::new(r * r, |v: ArrayView1<f64>| {
            let m = v.to_shape((r, r)).expect("r x r");
            let sym = (&m + &m.t()) * 0.5;
            let y = f(sym.view());
            let ys = (&y + &y.t()) * 0.5;
            ys.into_shape_with_order(r * r).expect("contiguous")
        });
        let (vals, _) = top_eigs(&op, 1, steps.max(2), rng);
        vals[0]
    }

    /// `λ_max(K)`, `K = L^{-1/2} Q L^{-1/2}` (the inverse of the mean-square threshold).
    pub fn k_top(&self, rule: BatchRule, steps: usize, rng: &mut impl Rng) -> f64 {
        let lam = &self.lam;
        let r = self.rank();
        let dinv = Array2::from_shape_fn((r, r), |(j, k)| 1.0 / (lam[j] + lam[k]).sqrt());
        self.top_sym(|m| &dinv * &self.q_apply(rule, (&dinv * &m).view()), steps, rng)
    }

    /// The mean-square stability threshold `η_ms = 1/λ_max(K)`: stable iff `η ≤ η_ms`.
    pub fn eta_ms(&self, rule: BatchRule, steps: usize, rng: &mut impl Rng) -> f64 {
        1.0 / self.k_top(rule, steps, rng)
    }

    /// `T_η` split as diagonal plus low rank, `T_η = D + (η² w_S / n) V Vᵀ`, in the eigenbasis of
    /// `H`: `D_jk = 1 − η(λ_j + λ_k) + η² w_H λ_j λ_k` and `V = [vec(c_i c_iᵀ)]` (rank ≤ n).
    fn split(&self, eta: f64, rule: BatchRule) -> Split {
        let (ws, wh) = rule.weights(self.n);
        let lam = &self.lam;
        let r = self.rank();
        let d = Array1::from_shape_fn(r * r, |jk| {
            let (j, k) = (jk / r, jk % r);
            1.0 - eta * (lam[j] + lam[k]) + eta * eta * wh * lam[j] * lam[k]
        });
        let dmax = d.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
        let v = Array2::from_shape_fn((self.n, r * r), |(i, jk)| self.c[[i, jk / r]] * self.c[[i, jk % r]]);
        Split { d, dmax, v, scale: eta * eta * ws / self.n as f64 }
    }

    /// An exact stability test at `η` that does not go through `K`: with `T_η = D + s V Vᵀ`
    /// ([`Self::split`]), if `max D ≥ 1` then `T_η` has a Rayleigh quotient ≥ 1 on a basis matrix and
    /// the margin is `max D`; otherwise (Schur complement) `T_η ⪯ I ⟺ λ_max(s Vᵀ (I − D)⁻¹ V) ≤ 1`,
    /// an `n × n` eigenvalue problem. Returns the number whose crossing of 1 is the threshold
    /// (`> 1`: unstable).
    pub fn stability_margin(&self, eta: f64, rule: BatchRule) -> f64 {
        let sp = self.split(eta, rule);
        // GD (w_S = 0): T_η = D is diagonal, and ρ = max D for this positive map.
        if sp.dmax >= 1.0 || sp.scale == 0.0 { sp.dmax } else { sp.schur(1.0) }
    }

    /// `ρ(T_η) = λ_max(T_η)`, exactly: bisection on `μ > max D`, where `μ > λ_max(T_η)` iff
    /// `λ_max(s Vᵀ (μI − D)⁻¹ V) < 1` (the same Schur complement as [`Self::stability_margin`]).
    pub fn spectral_radius(&self, eta: f64, rule: BatchRule) -> f64 {
        let sp = self.split(eta, rule);
        if sp.scale == 0.0 {
            return sp.dmax;
        }
        // λ_max(T) ≤ max D + s λ_max(VᵀV) ≤ max D + s Σ_i ‖c_i‖⁴.
        let (mut lo, mut hi) = (sp.dmax, sp.dmax + sp.scale * sp.v.iter().map(|x| x * x).sum::<f64>() + 1e-300);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if sp.schur(mid) < 1.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    /// The threshold the spec's way, with [`Self::stability_margin`] as the exact test: bisection
    /// on "`ρ(T_η) ≤ 1`" from a bracket around `guess` (widened until stable at its lower and
    /// unstable at its upper end).
    pub fn eta_ms_bisect(&self, rule: BatchRule, guess: f64, bisect: usize) -> f64 {
        let unstable = |eta: f64| self.stability_margin(eta, rule) > 1.0;
        let (mut lo, mut hi) = (0.5 * guess, 2.0 * guess);
        for _ in 0..60 {
            if !unstable(lo) {
                break;
            }
            lo /= 2.0;
        }
        for _ in 0..60 {
            if unstable(hi) {
                break;
            }
            hi *= 2.0;
        }
        for _ in 0..bisect {
            let mid = 0.5 * (lo + hi);
            if unstable(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        0.5 * (lo + hi)
    }

    /// `⟨I, T_η(I)⟩ / r`, a lower bound on `ρ(T_η)` in closed form:
    /// `1 − 2η Tr H / r + η² (w_S E‖a‖⁴ + w_H Tr H²) / r`.
    pub fn rayleigh_lower(&self, eta: f64, rule: BatchRule) -> f64 {
        let (ws, wh) = rule.weights(self.n);
        let r = self.rank() as f64;
        1.0 - 2.0 * eta * self.trace() / r + eta * eta * (ws * self.mean_norm4() + wh * self.trace_sq()) / r
    }

    /// `η · w_S · Tr H / 2`: at most 1 at a mean-square stable point (`η ≤ η_ms`) by the trace
    /// bound. At `B = 1` with replacement this is the paper's `η Tr H / 2 ≤ 1`.
    pub fn trace_bound_ratio(&self, eta: f64, rule: BatchRule) -> f64 {
        eta * rule.weights(self.n).0 * self.trace() / 2.0
    }

    /// Linearized SGD `δ ← δ − (η/B) Σ_{i∈batch} c_i (c_iᵀ δ)` (batches with replacement, drawn
    /// by the training loop's sampler) from `δ_0 ~ N(0, I_r)`: `ln(‖δ_t‖² / ‖δ_0‖²)` at every
    /// `every`-th step (renormalized on the way, so that growth by e^1000 stays finite).
    pub fn linearized_sgd(&self, eta: f64, batch: usize, steps: usize, every: usize, rng: &mut impl Rng) -> Vec<f64> {
        let mut batches = sampler(self.n, batch);
        let r = self.rank();
        let mut d = common::rng::gaussian_vec(rng, r, 1.0);
        let mut log_norm = 0.0f64;
        let n0 = d.dot(&d);
        d /= n0.sqrt();
        let mut out = Vec::with_capacity(steps / every.max(1) + 1);
        let mut g = Array1::<f64>::zeros(r);
        for t in 1..=steps {
            self.sgd_step(eta, &mut d, &mut g, batches.draw(rng));
            if t % 16 == 0 || t % every == 0 {
                let nn = d.dot(&d);
                log_norm += nn.ln();
                d /= nn.sqrt();
            }
            if t % every == 0 {
                out.push(log_norm);
            }
        }
        out
    }

    /// One step of linearized SGD on the batch `idx`: `δ ← δ − (η/B) Σ_{i∈idx} c_i (c_iᵀ δ)`
    /// (`g` is scratch).
    fn sgd_step(&self, eta: f64, d: &mut Array1<f64>, g: &mut Array1<f64>, idx: &[usize]) {
        g.fill(0.0);
        for &i in idx {
            let ci = self.c.row(i);
            g.scaled_add(ci.dot(d), &ci);
        }
        d.scaled_add(-eta / idx.len() as f64, g);
    }

    /// The second moment of linearized SGD measured: `runs` runs of `steps` steps from `δ_0`
    /// uniform on the unit sphere of range(H) (so `E δ_0δ_0ᵀ = I/r`), batches from `batches`;
    /// returns the mean of `‖δ_t‖²` and its standard error. The second-moment map predicts
    /// [`Self::moment_predicted`].
    pub fn moment_measured(
        &self,
        eta: f64,
        steps: usize,
        runs: usize,
        batches: &mut impl Batches,
        rng: &mut impl Rng,
    ) -> (f64, f64) {
        let r = self.rank();
        let mut g = Array1::<f64>::zeros(r);
        let vals: Vec<f64> = (0..runs)
            .map(|_| {
                let mut d = common::rng::gaussian_vec(rng, r, 1.0);
                let n0 = d.dot(&d);
                d /= n0.sqrt();
                for _ in 0..steps {
                    self.sgd_step(eta, &mut d, &mut g, batches.draw(rng));
                }
                d.dot(&d)
            })
            .collect();
        let (m, sd) = common::stats::mean_sd(&vals);
        (m, sd / (runs as f64).sqrt())
    }

    /// `E‖δ_t‖² = ⟨I, T_η^t(I/r)⟩`, the second-moment map's prediction for
    /// [`Self::moment_measured`].
    pub fn moment_predicted(&self, eta: f64, rule: BatchRule, steps: usize) -> f64 {
        let r = self.rank();
        let mut m = Array2::<f64>::eye(r) / r.max(1) as f64;
        for _ in 0..steps {
            m = self.t_apply(eta, rule, m.view());
        }
        m.diag().sum()
    }
}

/// Where linearized SGD's mini-batch indices come from.
pub trait Batches {
    /// The next batch (indices into the samples).
    fn draw<R: Rng>(&mut self, rng: &mut R) -> &[usize];
}

impl Batches for BatchSampler {
    fn draw<R: Rng>(&mut self, rng: &mut R) -> &[usize] {
        self.next(rng)
    }
}

/// The sampler of the training loop (`common::train::train` builds the same one for SGD):
/// `batch` i.i.d. uniform indices from `0..n`.
pub fn sampler(n: usize, batch: usize) -> BatchSampler {
    BatchSampler::new(n, batch, Sampling::WithReplacement)
}

/// `T_η = diag(d) + scale · vᵀ v` on vectorized `r × r` matrices (rows of `v`: `vec(c_i c_iᵀ)`).
struct Split {
    d: Array1<f64>,
    dmax: f64,
    v: Array2<f64>,
    scale: f64,
}

impl Split {
    /// `λ_max(scale · V (μI − D)⁻¹ Vᵀ)` for `μ > max D`.
    fn schur(&self, mu: f64) -> f64 {
        let w = self.d.mapv(|x| 1.0 / (mu - x));
        let vw = &self.v * &w;
        let g = vw.dot(&self.v.t()) * self.scale;
        let ev = eigvalsh(&g);
        ev[ev.len() - 1]
    }
}
