//! The recurrent network of the repo's `mlp_discrete_vf` (arch `mlp_2-256`, here with small hidden
//! layers): input → l1 ⇄ l2 ⇄ out, forward layers with bias, feedback layers without, and a softmax
//! read-out `Dense(out → classes)` whose cross-entropy gradient nudges the output units.
//!
//! Discrete dynamics in membrane potentials u, activities r = σ(u):
//!   u ← W σ(u) + c(x) + β e(σ(u)),   e(r) = ∂L/∂r_out = W_roᵀ (softmax(W_ro r_out + b_ro) − y),
//! with W the n × n block matrix of the recurrent layers and c(x) = (W_in x + b1, b2, b3).
#![allow(clippy::needless_range_loop)] // index loops read like the LU and the Jacobian formulas
use crate::field::{Lu, Scalar, lu, matvec, norm};
use common::Seed;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};

/// The repo's activation σ(z) = 1/(1 + exp(−4z + 2)) (holomorphic away from Im z = ±π/4 + …).
pub fn sigma<T: Scalar>(z: T) -> T {
    T::re_of(1.0) / (T::re_of(1.0) + (T::re_of(-4.0) * z + T::re_of(2.0)).exp())
}

/// σ′(z) = 4 σ(z) (1 − σ(z)).
pub fn dsigma<T: Scalar>(z: T) -> T {
    let s = sigma(z);
    T::re_of(4.0) * s * (T::re_of(1.0) - s)
}

/// The parameters (row-major `post × pre` kernels, as `y = W x + b`).
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    /// in → l1 (h1 × d).
    pub w_in: Array2<f64>,
    /// Bias of l1.
    pub b1: Array1<f64>,
    /// l1 → l2 (h2 × h1), forward.
    pub w12: Array2<f64>,
    /// Bias of l2.
    pub b2: Array1<f64>,
    /// l2 → l1 (h1 × h2), feedback.
    pub w21: Array2<f64>,
    /// l2 → out (k × h2), forward.
    pub w23: Array2<f64>,
    /// Bias of out.
    pub b3: Array1<f64>,
    /// out → l2 (h2 × k), feedback.
    pub w32: Array2<f64>,
    /// Read-out kernel (k × k).
    pub w_ro: Array2<f64>,
    /// Read-out bias.
    pub b_ro: Array1<f64>,
}

/// Layer sizes.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Inputs.
    pub d: usize,
    /// First hidden layer.
    pub h1: usize,
    /// Second hidden layer.
    pub h2: usize,
    /// Classes (= output units).
    pub k: usize,
}

impl Sizes {
    /// State dimension n = h1 + h2 + k.
    pub fn n(&self) -> usize {
        self.h1 + self.h2 + self.k
    }
}

impl Net {
    /// Flax's default Dense init (LeCun normal: std 1/√fan_in; here untruncated), zero biases,
    /// then the repo's `rotate(α)`: W_b ← sin α·W_b + cos α·W_fᵀ for both feedback layers.
    pub fn init(sz: Sizes, alpha_deg: f64, seed: Seed) -> Net {
        let g = |name: &str, rows: usize, cols: usize| {
            common::rng::gaussian_mat(&mut seed.child(name).rng(), rows, cols, 1.0 / (cols as f64).sqrt())
        };
        let mut net = Net {
            w_in: g("in-l1", sz.h1, sz.d),
            b1: Array1::zeros(sz.h1),
            w12: g("l1-l2", sz.h2, sz.h1),
            b2: Array1::zeros(sz.h2),
            w21: g("l2-l1", sz.h1, sz.h2),
            w23: g("l2-out", sz.k, sz.h2),
            b3: Array1::zeros(sz.k),
            w32: g("out-l2", sz.h2, sz.k),
            w_ro: g("readout", sz.k, sz.k),
            b_ro: Array1::zeros(sz.k),
        };
        net.rotate(alpha_deg);
        net
    }

    /// `rotate(α)` of `utils/funcs.py`: α = 0 symmetric feedback, α = 90° untouched (independent).
    pub fn rotate(&mut self, alpha_deg: f64) {
        let a = alpha_deg.to_radians();
        self.w21 = (&self.w21 * a.sin() + &self.w12.t() * a.cos()).as_standard_layout().to_owned();
        self.w32 = (&self.w32 * a.sin() + &self.w23.t() * a.cos()).as_standard_layout().to_owned();
    }

    /// Layer sizes.
    pub fn sizes(&self) -> Sizes {
        Sizes { d: self.w_in.ncols(), h1: self.w_in.nrows(), h2: self.w12.nrows(), k: self.w23.nrows() }
    }

    /// The repo's `angle`: arccos of the cosine between the feedback kernels and the transposed
    /// forward kernels (pooled over both pairs), in degrees.
    pub fn angle_deg(&self) -> f64 {
        let inner = (&self.w21 * &self.w12.t()).sum() + (&self.w32 * &self.w23.t()).sum();
        let f = self.w12.mapv(|v| v * v).sum() + self.w23.mapv(|v| v * v).sum();
        let b = self.w21.mapv(|v| v * v).sum() + self.w32.mapv(|v| v * v).sum();
        (inner / (f * b).sqrt()).clamp(-1.0, 1.0).acos().to_degrees()
    }

    /// The recurrent block matrix W (n × n, rows post, columns pre).
    pub fn dense_w(&self) -> Array2<f64> {
        let Sizes { h1, h2, k, .. } = self.sizes();
        let n = h1 + h2 + k;
        let mut w = Array2::zeros((n, n));
        w.slice_mut(s![h1..h1 + h2, 0..h1]).assign(&self.w12);
        w.slice_mut(s![0..h1, h1..h1 + h2]).assign(&self.w21);
        w.slice_mut(s![h1 + h2.., h1..h1 + h2]).assign(&self.w23);
        w.slice_mut(s![h1..h1 + h2, h1 + h2..]).assign(&self.w32);
        w
    }

    /// The constant drive c(x) = (W_in x + b1, b2, b3) for a batch (rows are samples).
    pub fn drive(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let Sizes { h1, h2, k, .. } = self.sizes();
        let mut c = Array2::zeros((x.nrows(), h1 + h2 + k));
        c.slice_mut(s![.., 0..h1]).assign(&(x.dot(&self.w_in.t()) + &self.b1));
        c.slice_mut(s![.., h1..h1 + h2]).assign(&self.b2.broadcast((x.nrows(), h2)).unwrap());
        c.slice_mut(s![.., h1 + h2..]).assign(&self.b3.broadcast((x.nrows(), k)).unwrap());
        c
    }

    /// Flat parameter vector (field order of the struct, row-major within each array).
    pub fn to_flat(&self) -> Array1<f64> {
        let mut v = Vec::with_capacity(self.len());
        v.extend(self.w_in.iter());
        v.extend(self.b1.iter());
        v.extend(self.w12.iter());
        v.extend(self.b2.iter());
        v.extend(self.w21.iter());
        v.extend(self.w23.iter());
        v.extend(self.b3.iter());
        v.extend(self.w32.iter());
        v.extend(self.w_ro.iter());
        v.extend(self.b_ro.iter());
        Array1::from(v)
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.w_in.len()
            + self.b1.len()
            + self.w12.len()
            + self.b2.len()
            + self.w21.len()
            + self.w23.len()
            + self.b3.len()
            + self.w32.len()
            + self.w_ro.len()
            + self.b_ro.len()
    }

    /// Never empty (clippy's companion of `len`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Overwrite the parameters from a flat vector (same order as [`Net::to_flat`]).
    pub fn set_flat(&mut self, v: ArrayView1<f64>) {
        let mut it = v.iter();
        let mut fill = |dst: ndarray::ArrayViewMut<f64, ndarray::IxDyn>| {
            for d in dst {
                *d = *it.next().expect("set_flat: vector too short");
            }
        };
        fill(self.w_in.view_mut().into_dyn());
        fill(self.b1.view_mut().into_dyn());
        fill(self.w12.view_mut().into_dyn());
        fill(self.b2.view_mut().into_dyn());
        fill(self.w21.view_mut().into_dyn());
        fill(self.w23.view_mut().into_dyn());
        fill(self.b3.view_mut().into_dyn());
        fill(self.w32.view_mut().into_dyn());
        fill(self.w_ro.view_mut().into_dyn());
        fill(self.b_ro.view_mut().into_dyn());
    }

    /// A zero-valued net of the same shape (gradient accumulator).
    pub fn zeros_like(&self) -> Net {
        let mut z = self.clone();
        z.set_flat(Array1::zeros(self.len()).view());
        z
    }
}

// ---------------------------------------------------------------------------------------------
// One sample, any field (real or complex β)

/// One input with its dense recurrent matrix, drive and one-hot label, ready for the dynamics.
pub struct Sample<'a> {
    /// The network.
    pub net: &'a Net,
    /// Its recurrent block matrix.
    pub w: &'a Array2<f64>,
    /// Drive c(x).
    pub c: Array1<f64>,
    /// One-hot label.
    pub y: Array1<f64>,
}

impl<'a> Sample<'a> {
    /// The sample `x` with label `label`.
    pub fn new(net: &'a Net, w: &'a Array2<f64>, x: ArrayView1<f64>, label: usize) -> Self {
        let c = net.drive(x.insert_axis(Axis(0))).row(0).to_owned();
        let mut y = Array1::zeros(net.sizes().k);
        y[label] = 1.0;
        Sample { net, w, c, y }
    }

    fn n(&self) -> usize {
        self.c.len()
    }

    /// Softmax probabilities of the read-out at output activities `r_out`.
    pub fn probs<T: Scalar>(&self, r_out: &[T]) -> Vec<T> {
        let k = r_out.len();
        let z: Vec<T> = (0..k)
            .map(|i| {
                let mut s = T::re_of(self.net.b_ro[i]);
                for (j, &r) in r_out.iter().enumerate() {
                    s += T::re_of(self.net.w_ro[[i, j]]) * r;
                }
                s
            })
            .collect();
        let m = z.iter().map(|v| v.re()).fold(f64::NEG_INFINITY, f64::max);
        let ez: Vec<T> = z.iter().map(|&v| (v - T::re_of(m)).exp()).collect();
        let mut tot = T::zero();
        for &v in &ez {
            tot += v;
        }
        ez.into_iter().map(|v| v / tot).collect()
    }

    /// e(r) = ∂L/∂r_out = W_roᵀ (p − y) on the output units (zeros elsewhere), length n.
    pub fn nudge<T: Scalar>(&self, r: &[T]) -> Vec<T> {
        let n = self.n();
        let k = self.y.len();
        let p = self.probs(&r[n - k..]);
        let mut e = vec![T::zero(); n];
        for j in 0..k {
            let mut s = T::zero();
            for i in 0..k {
                s += T::re_of(self.net.w_ro[[i, j]]) * (p[i] - T::re_of(self.y[i]));
            }
            e[n - k + j] = s;
        }
        e
    }

    /// The residual G(u) = W σ(u) + c + β e(σ(u)) − u.
    pub fn residual<T: Scalar>(&self, u: &[T], beta: T) -> Vec<T> {
        let r: Vec<T> = u.iter().map(|&v| sigma(v)).collect();
        let wr = self.apply_w(&r);
        let e = self.nudge(&r);
        (0..self.n()).map(|i| wr[i] + T::re_of(self.c[i]) + beta * e[i] - u[i]).collect()
    }

    fn apply_w<T: Scalar>(&self, r: &[T]) -> Vec<T> {
        let n = self.n();
        (0..n)
            .map(|i| {
                let mut s = T::zero();
                for (j, &rj) in r.iter().enumerate() {
                    let w = self.w[[i, j]];
                    if w != 0.0 {
                        s += T::re_of(w) * rj;
                    }
                }
                s
            })
            .collect()
    }

    /// ∂G/∂u = (W + β ∂e/∂r) D − I, row-major.
    pub fn jacobian<T: Scalar>(&self, u: &[T], beta: T) -> Vec<T> {
        let n = self.n();
        let k = self.y.len();
        let r: Vec<T> = u.iter().map(|&v| sigma(v)).collect();
        let d: Vec<T> = u.iter().map(|&v| dsigma(v)).collect();
        let p = self.probs(&r[n - k..]);
        let mut j = vec![T::zero(); n * n];
        for a in 0..n {
            for b in 0..n {
                j[a * n + b] = T::re_of(self.w[[a, b]]);
            }
        }
        // ∂e/∂r_out = W_roᵀ (diag p − p pᵀ) W_ro.
        for a in 0..k {
            for b in 0..k {
                let mut s = T::zero();
                for i in 0..k {
                    for l in 0..k {
                        let h = if i == l { p[i] - p[i] * p[l] } else { -(p[i] * p[l]) };
                        s += T::re_of(self.net.w_ro[[i, a]] * self.net.w_ro[[l, b]]) * h;
                    }
                }
                j[(n - k + a) * n + n - k + b] += beta * s;
            }
        }
        for a in 0..n {
            for b in 0..n {
                j[a * n + b] = j[a * n + b] * d[b];
            }
            j[a * n + a] -= T::re_of(1.0);
        }
        j
    }

    /// The fixed point u*(β): `iters` damped iterations u ← u + ½ G(u) from `u0` (same fixed
    /// points; the undamped discrete map can settle on a 2-cycle at symmetric weights), then
    /// Newton with backtracking until ‖G‖ ≤ tol; if Newton stalls, more damped iterations and
    /// Newton again (at most 6 rounds). Returns the state and the final residual norm.
    pub fn fixed_point<T: Scalar>(&self, u0: &[T], beta: T, iters: usize, tol: f64) -> (Vec<T>, f64) {
        let mut u = u0.to_vec();
        let mut res = f64::INFINITY;
        for round in 0..6 {
            let damped = if round == 0 { iters } else { 200 * round };
            for _ in 0..damped {
                let g = self.residual(&u, beta);
                for (ui, gi) in u.iter_mut().zip(&g) {
                    *ui += T::re_of(0.5) * *gi;
                }
            }
            res = norm(&self.residual(&u, beta));
            for _ in 0..30 {
                if res <= tol {
                    return (u, res);
                }
                let Some(f) = lu(self.n(), &self.jacobian(&u, beta)) else { break };
                let step = f.solve(&self.residual(&u, beta));
                let mut t = 1.0;
                let mut moved = false;
                while t >= 1e-3 {
                    let trial: Vec<T> = u.iter().zip(&step).map(|(&a, &b)| a - T::re_of(t) * b).collect();
                    let r2 = norm(&self.residual(&trial, beta));
                    if r2 < res {
                        u = trial;
                        res = r2;
                        moved = true;
                        break;
                    }
                    t *= 0.5;
                }
                if !moved {
                    break;
                }
            }
            if res <= tol {
                break;
            }
        }
        (u, res)
    }
}

/// The exact responses at a free fixed point u* (β = 0), real:
/// `ep` = dr*/dβ = D (I − W D)⁻¹ e (activity coordinates: what EP measures),
/// `bp` = (I − D Wᵀ)⁻¹ D e (the cotangent backpropagation feeds to ∂Φ/∂w),
/// `du` = du*/dβ = (I − W D)⁻¹ e (membrane coordinates).
pub struct Responses {
    /// dr*/dβ.
    pub ep: Vec<f64>,
    /// BP's cotangent.
    pub bp: Vec<f64>,
    /// du*/dβ.
    pub du: Vec<f64>,
}

/// [`Responses`] at state `u` (D and e read there). `None` if I − WD is singular.
pub fn responses(s: &Sample, u: &[f64]) -> Option<Responses> {
    let n = u.len();
    let j = s.jacobian(u, 0.0);
    // j = W D − I; I − W D = −j.
    let neg: Vec<f64> = j.iter().map(|v| -v).collect();
    let f: Lu<f64> = lu(n, &neg)?;
    let r: Vec<f64> = u.iter().map(|&v| sigma(v)).collect();
    let d: Vec<f64> = u.iter().map(|&v| dsigma(v)).collect();
    let e = s.nudge(&r);
    let du = f.solve(&e);
    let ep: Vec<f64> = du.iter().zip(&d).map(|(a, b)| a * b).collect();
    let de: Vec<f64> = e.iter().zip(&d).map(|(a, b)| a * b).collect();
    let bp = f.solve_t(&de);
    Some(Responses { ep, bp, du })
}

/// (∂Φ/∂w)ᵀ δ for one sample, as a net (read-out zero): the weight update a neuronal error
/// vector δ (u-space cotangent) produces.
pub fn weight_grad(net: &Net, x: ArrayView1<f64>, u: &[f64], delta: &[f64]) -> Net {
    let Sizes { h1, h2, .. } = net.sizes();
    let r: Array1<f64> = u.iter().map(|&v| sigma(v)).collect();
    let dl = Array1::from(delta.to_vec());
    let (d1, d2, d3) = (dl.slice(s![0..h1]), dl.slice(s![h1..h1 + h2]), dl.slice(s![h1 + h2..]));
    let (r1, r2, r3) = (r.slice(s![0..h1]), r.slice(s![h1..h1 + h2]), r.slice(s![h1 + h2..]));
    let outer = |a: ArrayView1<f64>, b: ArrayView1<f64>| a.insert_axis(Axis(1)).dot(&b.insert_axis(Axis(0)));
    let mut g = net.zeros_like();
    g.w_in = outer(d1, x);
    g.b1 = d1.to_owned();
    g.w12 = outer(d2, r1);
    g.b2 = d2.to_owned();
    g.w21 = outer(d1, r2);
    g.w23 = outer(d3, r2);
    g.b3 = d3.to_owned();
    g.w32 = outer(d2, r3);
    g
}

/// Cosine of two vectors.
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let ab: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    ab / (norm(a) * norm(b))
}

/// Cosine between the EP weight update (exact derivative) and the BP gradient for one sample at
/// its free state `u`; `membrane` plants the coordinate bug (du/dβ instead of dr/dβ).
pub fn ep_bp_cosine(net: &Net, x: ArrayView1<f64>, s: &Sample, u: &[f64], membrane: bool) -> Option<f64> {
    let rsp = responses(s, u)?;
    let ep = if membrane { &rsp.du } else { &rsp.ep };
    let g_ep = weight_grad(net, x, u, ep).to_flat();
    let g_bp = weight_grad(net, x, u, &rsp.bp).to_flat();
    Some(cosine(g_ep.as_slice().unwrap(), g_bp.as_slice().unwrap()))
}

/// Matrix-vector helper re-exported for tests.
pub fn apply<T: Scalar>(n: usize, a: &[T], x: &[T]) -> Vec<T> {
    matvec(n, a, x)
}
