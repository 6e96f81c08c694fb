//! Bound propagation through a ReLU MLP over an input box: interval (IBP) and linear-relaxation
//! (CROWN-style) bounds on every pre-activation, and bounds on the local Lipschitz constant of the
//! network over the box in the style of Shi et al. (NeurIPS 2022, "Efficiently Computing Local
//! Lipschitz Constants of Neural Networks via Bound Propagation"), with a branch-and-bound capped by
//! a node count (not wall-clock, so runs are deterministic).
//!
//! **Network.** [`ReluNet`]: `z_l = W_l a_{l−1} + b_l` for `l = 0..L−1`, `a_{−1} = x`,
//! `a_l = relu(z_l)` on the hidden layers, output `f = z_{L−1}`; [`ReluNet::from_mlp`] reads
//! [`crate::models::Mlp`]'s flat parameters.
//!
//! **The quantity.** For an output combination `c` (a class: `c = e_k`) and the ℓ∞ input norm, the
//! local Lipschitz constant of `cᵀf` over the box `B` is
//! `max_{x∈B} max_{g ∈ ∂cᵀf(x)} ‖g‖₁` (the dual norm over the Clarke generalized gradient).
//! Every generalized gradient is `g(δ) = W_0ᵀ D_0 W_1ᵀ D_1 ⋯ D_{L−2} W_{L−1}ᵀ c` with
//! `D_l = diag(δ_l)`, where `δ_l,j` is 1 on active units, 0 on inactive ones and anything in `[0, 1]`
//! on a unit whose pre-activation interval over `B` holds 0 (unstable): the [`Pattern`]. The
//! backward graph is `v_{L−1} = W_{L−1}ᵀ c`, `y_l = δ_l ⊙ v_{l+1}`, `v_l = W_lᵀ y_l`, `g = v_0`.
//! Since `g(δ)` is affine in each layer's `δ_l` with the others fixed and `‖·‖₁` is convex, the
//! maximum over the pattern box is at a vertex: [`lipschitz_enumerate`] is exact for it.
//!
//! **Bounds**, each an upper bound of that maximum (and so of the local Lipschitz constant):
//! - [`lipschitz_naive`]: `‖cᵀW_{L−1}‖₁ ∏ ‖W_l‖_∞`, the product of layer norms (global);
//! - [`lipschitz_interval`]: interval arithmetic through the backward graph (RecurJac-lite);
//! - [`lipschitz_linear`]: linear bound propagation through the backward graph: the bilinear
//!   `δ_j v_j` relaxed by McCormick planes (a convex combination `θ` of the two; the bound is the
//!   least over `θ ∈ {0, ½, 1}`), `|g_k|` by its chord over `g_k`'s interval, and linear bounds
//!   back-substituted from `g` to the constant `v_{L−1}`, maximizing each `δ` term over its
//!   interval; intermediate `v_l` intervals by the same propagation, intersected with the interval
//!   ones. (The paper also relaxes `δ(z)` linearly in `z` and back-substitutes to `x`; here `δ` is
//!   free in its interval, so the bound is one of the Clarke pattern box.)
//! - [`lipschitz_bab`]: branch-and-bound over input sub-boxes ([`Split::Input`], converging to the
//!   true constant) or over unstable units fixed to 0 / 1 ([`Split::Neuron`], converging to the
//!   pattern-box maximum of [`lipschitz_enumerate`]).
use crate::models::{Activation, Mlp};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};

/// A ReLU MLP as explicit layers (`weights[l]`: `out x in`).
#[derive(Clone, Debug, PartialEq)]
pub struct ReluNet {
    /// `W_l`, `sizes[l+1] x sizes[l]`.
    pub weights: Vec<Array2<f64>>,
    /// `b_l`, `sizes[l+1]`.
    pub biases: Vec<Array1<f64>>,
}

/// A box `[lo, hi]` (elementwise).
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// Lower ends.
    pub lo: Array1<f64>,
    /// Upper ends.
    pub hi: Array1<f64>,
}

impl Interval {
    /// `[lo, hi]`; panics unless the lengths agree and `lo <= hi` everywhere.
    pub fn new(lo: Array1<f64>, hi: Array1<f64>) -> Self {
        assert_eq!(lo.len(), hi.len(), "Interval: lengths differ");
        assert!(lo.iter().zip(&hi).all(|(l, h)| l <= h), "Interval: lo > hi");
        Interval { lo, hi }
    }
    /// The ℓ∞ ball of radius `eps` around `x`, intersected with `[range.0, range.1]` (both ends
    /// clamped into the range, so a centre outside it gives a face of the range).
    pub fn ball(x: ArrayView1<f64>, eps: f64, range: (f64, f64)) -> Self {
        assert!(eps >= 0.0 && range.0 <= range.1, "Interval::ball: bad radius or range");
        let lo = x.mapv(|v| (v - eps).clamp(range.0, range.1));
        let hi = x.mapv(|v| (v + eps).clamp(range.0, range.1));
        Interval::new(lo, hi)
    }
    /// A single point.
    pub fn point(x: ArrayView1<f64>) -> Self {
        Interval { lo: x.to_owned(), hi: x.to_owned() }
    }
    /// Midpoint.
    pub fn center(&self) -> Array1<f64> {
        (&self.lo + &self.hi) * 0.5
    }
    /// Half-widths.
    pub fn radius(&self) -> Array1<f64> {
        (&self.hi - &self.lo) * 0.5
    }
    /// Sum of the widths.
    pub fn total_width(&self) -> f64 {
        (&self.hi - &self.lo).sum()
    }
    /// Whether `x` lies in the box, with slack `tol`.
    pub fn contains(&self, x: ArrayView1<f64>, tol: f64) -> bool {
        x.iter().zip(&self.lo).zip(&self.hi).all(|((v, l), h)| *v >= l - tol && *v <= h + tol)
    }
    /// Elementwise intersection with `other` (a tighter end wins).
    pub fn intersect(&self, other: &Interval) -> Interval {
        let lo = Zip::from(&self.lo).and(&other.lo).map_collect(|a, b| a.max(*b));
        let hi = Zip::from(&self.hi).and(&other.hi).map_collect(|a, b| a.min(*b));
        // Rounding can cross the ends of two sound bounds of the same quantity by an ulp.
        let hi = Zip::from(&hi).and(&lo).map_collect(|h, l| h.max(*l));
        Interval { lo, hi }
    }
    /// `Σ max(|lo|, |hi|)`: the largest ℓ1 norm of a vector in the box.
    pub fn max_l1(&self) -> f64 {
        self.lo.iter().zip(&self.hi).map(|(l, h)| l.abs().max(h.abs())).sum()
    }
}

impl ReluNet {
    /// A network from its layers; panics unless the shapes chain.
    pub fn new(weights: Vec<Array2<f64>>, biases: Vec<Array1<f64>>) -> Self {
        assert!(!weights.is_empty() && weights.len() == biases.len(), "ReluNet: one bias per layer");
        for l in 0..weights.len() {
            assert_eq!(weights[l].nrows(), biases[l].len(), "ReluNet: bias {l} length");
            if l > 0 {
                assert_eq!(weights[l].ncols(), weights[l - 1].nrows(), "ReluNet: layer {l} input width");
            }
        }
        ReluNet { weights, biases }
    }

    /// The layers of a ReLU [`Mlp`] with flat parameters `w` (zero biases if it has none).
    pub fn from_mlp(mlp: &Mlp, w: ArrayView1<f64>) -> Self {
        assert_eq!(mlp.act, Activation::Relu, "ReluNet::from_mlp: the MLP must use ReLU");
        let w = w.as_standard_layout();
        let (mut ws, mut bs) = (vec![], vec![]);
        for l in 0..mlp.num_layers() {
            let (wm, b) = mlp.layer(w.view(), l);
            ws.push(wm.to_owned());
            bs.push(b.map_or_else(|| Array1::zeros(wm.nrows()), |b| b.to_owned()));
        }
        ReluNet::new(ws, bs)
    }

    /// Number of affine layers `L`.
    pub fn num_layers(&self) -> usize {
        self.weights.len()
    }
    /// Input dimension.
    pub fn input_dim(&self) -> usize {
        self.weights[0].ncols()
    }
    /// Number of outputs.
    pub fn output_dim(&self) -> usize {
        self.weights.last().expect("layers").nrows()
    }
    /// Number of hidden units.
    pub fn num_hidden_units(&self) -> usize {
        self.weights[..self.num_layers() - 1].iter().map(|w| w.nrows()).sum()
    }

    /// Pre-activations `z_0, ..., z_{L−1}` at `x` (the last is the output).
    pub fn pre_activations(&self, x: ArrayView1<f64>) -> Vec<Array1<f64>> {
        let mut zs: Vec<Array1<f64>> = Vec::with_capacity(self.num_layers());
        for l in 0..self.num_layers() {
            let z = if l == 0 {
                self.weights[0].dot(&x) + &self.biases[0]
            } else {
                self.weights[l].dot(&zs[l - 1].mapv(|v| v.max(0.0))) + &self.biases[l]
            };
            zs.push(z);
        }
        zs
    }

    /// Output `f(x)`.
    pub fn forward(&self, x: ArrayView1<f64>) -> Array1<f64> {
        self.pre_activations(x).pop().expect("layers")
    }

    /// The activation pattern at `x` (`σ'(z) ∈ {0, 1}` per hidden layer, `σ'(0) = 0`).
    pub fn pattern_at(&self, x: ArrayView1<f64>) -> Vec<Array1<f64>> {
        let zs = self.pre_activations(x);
        zs[..zs.len() - 1].iter().map(|z| z.mapv(|v| f64::from(u8::from(v > 0.0)))).collect()
    }

    /// `g(δ) = W_0ᵀ D_0 ⋯ D_{L−2} W_{L−1}ᵀ c`: the generalized gradient of `cᵀf` for the pattern `δ`.
    pub fn grad_with_pattern(&self, delta: &[Array1<f64>], c: ArrayView1<f64>) -> Array1<f64> {
        assert_eq!(delta.len() + 1, self.num_layers(), "grad_with_pattern: one pattern per hidden layer");
        let big_l = self.num_layers();
        let mut v = self.weights[big_l - 1].t().dot(&c);
        for l in (0..big_l - 1).rev() {
            v = self.weights[l].t().dot(&(&v * &delta[l]));
        }
        v
    }

    /// `∇ₓ cᵀf(x)` (with `σ'(0) = 0`).
    pub fn grad(&self, x: ArrayView1<f64>, c: ArrayView1<f64>) -> Array1<f64> {
        self.grad_with_pattern(&self.pattern_at(x), c)
    }
}

/// Pre-activation bounds `[z_l]` of every layer over a box (the last is the output's).
pub type LayerBounds = Vec<Interval>;

/// Interval image of `W [lo, hi] + b` (center-radius form: exact for one affine map).
fn affine_interval(w: &Array2<f64>, b: &Array1<f64>, x: &Interval) -> Interval {
    let c = w.dot(&x.center()) + b;
    let r = w.mapv(f64::abs).dot(&x.radius());
    Interval { lo: &c - &r, hi: &c + &r }
}

/// Interval bound propagation (IBP) of the box through the network.
pub fn ibp(net: &ReluNet, x: &Interval) -> LayerBounds {
    let mut out: LayerBounds = Vec::with_capacity(net.num_layers());
    for l in 0..net.num_layers() {
        let input = if l == 0 {
            x.clone()
        } else {
            let p = &out[l - 1];
            Interval { lo: p.lo.mapv(|v| v.max(0.0)), hi: p.hi.mapv(|v| v.max(0.0)) }
        };
        out.push(affine_interval(&net.weights[l], &net.biases[l], &input));
    }
    out
}

/// The ReLU relaxation of one unit with pre-activation in `[l, u]`: `(lower slope, upper slope,
/// upper intercept)` with `s_L z <= relu(z) <= s_U z + t_U` (CROWN's adaptive lower slope).
fn relu_relaxation(l: f64, u: f64) -> (f64, f64, f64) {
    if l >= 0.0 {
        (1.0, 1.0, 0.0)
    } else if u <= 0.0 {
        (0.0, 0.0, 0.0)
    } else {
        let su = u / (u - l);
        (if u >= -l { 1.0 } else { 0.0 }, su, -su * l)
    }
}

/// Linear bounds of `Λ z_m + c` over the box by back-substitution through layers `m−1, ..., 0`
/// with the relaxations given by `bounds[0..m]`: returns `(lower, upper)` of each row.
fn back_substitute(
    net: &ReluNet,
    x: &Interval,
    bounds: &[Interval],
    lam: ArrayView2<f64>,
    c: ArrayView1<f64>,
    m: usize,
) -> (Array1<f64>, Array1<f64>) {
    // Coefficients on a_{m−1} (or x when m = 0), for the upper and the lower bound.
    let mut lu = lam.dot(&net.weights[m]);
    let mut ll = lu.clone();
    let mut cu = lam.dot(&net.biases[m]) + c;
    let mut cl = cu.clone();
    for k in (0..m).rev() {
        let b = &bounds[k];
        for j in 0..b.lo.len() {
            let (sl, su, tu) = relu_relaxation(b.lo[j], b.hi[j]);
            for r in 0..lu.nrows() {
                let a = lu[[r, j]];
                if a >= 0.0 {
                    lu[[r, j]] = a * su;
                    cu[r] += a * tu;
                } else {
                    lu[[r, j]] = a * sl;
                }
                let a = ll[[r, j]];
                if a >= 0.0 {
                    ll[[r, j]] = a * sl;
                } else {
                    ll[[r, j]] = a * su;
                    cl[r] += a * tu;
                }
            }
        }
        cu += &lu.dot(&net.biases[k]);
        cl += &ll.dot(&net.biases[k]);
        lu = lu.dot(&net.weights[k]);
        ll = ll.dot(&net.weights[k]);
    }
    let (xc, xr) = (x.center(), x.radius());
    let upper = cu + lu.dot(&xc) + lu.mapv(f64::abs).dot(&xr);
    let lower = cl + ll.dot(&xc) - ll.mapv(f64::abs).dot(&xr);
    (lower, upper)
}

/// CROWN: linear-relaxation bounds on every pre-activation (each layer by back-substitution to
/// the input with the bounds of the layers below), intersected with IBP's.
pub fn crown(net: &ReluNet, x: &Interval) -> LayerBounds {
    let ib = ibp(net, x);
    let mut out: LayerBounds = Vec::with_capacity(net.num_layers());
    for (m, ibm) in ib.iter().enumerate() {
        let n = net.weights[m].nrows();
        let (lo, hi) = back_substitute(net, x, &out, Array2::eye(n).view(), Array1::zeros(n).view(), m);
        out.push(Interval { lo, hi }.intersect(ibm));
    }
    out
}

/// CROWN bounds `(lower, upper)` of the output combination `cᵀf` over the box, given the
/// pre-activation bounds of the hidden layers (e.g. from [`crown`]).
pub fn crown_spec(net: &ReluNet, x: &Interval, bounds: &LayerBounds, c: ArrayView1<f64>) -> (f64, f64) {
    let m = net.num_layers() - 1;
    let lam = c.insert_axis(Axis(0));
    let (lo, hi) = back_substitute(net, x, &bounds[..m], lam, Array1::zeros(1).view(), m);
    (lo[0], hi[0])
}

/// The interval of each unit's ReLU derivative (Clarke) over a box, per hidden layer: `[1, 1]`
/// where the pre-activation is positive throughout, `[0, 0]` where negative, `[0, 1]` otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    /// Lower ends of `δ_l` per hidden layer.
    pub lo: Vec<Array1<f64>>,
    /// Upper ends of `δ_l` per hidden layer.
    pub hi: Vec<Array1<f64>>,
}

impl Pattern {
    /// The pattern box of pre-activation bounds (their last entry, the output, is unused).
    pub fn from_bounds(bounds: &LayerBounds) -> Self {
        let hidden = &bounds[..bounds.len() - 1];
        Pattern {
            lo: hidden.iter().map(|b| b.lo.mapv(|v| f64::from(u8::from(v > 0.0)))).collect(),
            hi: hidden.iter().map(|b| b.hi.mapv(|v| f64::from(u8::from(v >= 0.0)))).collect(),
        }
    }
    /// A single pattern.
    pub fn point(delta: &[Array1<f64>]) -> Self {
        Pattern { lo: delta.to_vec(), hi: delta.to_vec() }
    }
    /// The unstable units `(layer, unit)`, in order.
    pub fn unstable(&self) -> Vec<(usize, usize)> {
        let mut out = vec![];
        for (l, (lo, hi)) in self.lo.iter().zip(&self.hi).enumerate() {
            out.extend((0..lo.len()).filter(|&j| lo[j] < hi[j]).map(|j| (l, j)));
        }
        out
    }
    /// The same box with unit `(l, j)` fixed to `value`.
    pub fn fixed(&self, l: usize, j: usize, value: f64) -> Pattern {
        let mut p = self.clone();
        p.lo[l][j] = value;
        p.hi[l][j] = value;
        p
    }
}

/// Intervals of the backward-graph values `v_0, ..., v_{L−1}` over the pattern box by interval
/// arithmetic (`v_{L−1} = W_{L−1}ᵀ c` is a point).
pub fn backward_intervals(net: &ReluNet, pat: &Pattern, c: ArrayView1<f64>) -> Vec<Interval> {
    let big_l = net.num_layers();
    let top = net.weights[big_l - 1].t().dot(&c);
    let mut v = vec![Interval::point(top.view()); big_l];
    for l in (0..big_l - 1).rev() {
        let (dl, du, vn) = (&pat.lo[l], &pat.hi[l], &v[l + 1]);
        let n = dl.len();
        let (mut ylo, mut yhi) = (Array1::zeros(n), Array1::zeros(n));
        for j in 0..n {
            let p = [dl[j] * vn.lo[j], dl[j] * vn.hi[j], du[j] * vn.lo[j], du[j] * vn.hi[j]];
            ylo[j] = p.iter().copied().fold(f64::INFINITY, f64::min);
            yhi[j] = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        }
        let wt = net.weights[l].t().to_owned();
        v[l] = affine_interval(&wt, &Array1::zeros(wt.nrows()), &Interval { lo: ylo, hi: yhi });
    }
    v
}

/// The product of layer norms: `‖cᵀW_{L−1}‖₁ ∏_{l<L−1} ‖W_l‖_∞` (max absolute row sum), a global
/// bound on `‖∇ cᵀf‖₁`.
pub fn lipschitz_naive(net: &ReluNet, c: ArrayView1<f64>) -> f64 {
    let big_l = net.num_layers();
    let inf_norm =
        |w: &Array2<f64>| w.rows().into_iter().map(|r| r.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max);
    let top = net.weights[big_l - 1].t().dot(&c).mapv(f64::abs).sum();
    net.weights[..big_l - 1].iter().map(inf_norm).product::<f64>() * top
}

/// Interval arithmetic through the backward graph: `Σ_k max(|lo_k|, |hi_k|)` of `g`'s interval.
pub fn lipschitz_interval(net: &ReluNet, pat: &Pattern, c: ArrayView1<f64>) -> f64 {
    backward_intervals(net, pat, c)[0].max_l1()
}

/// The McCormick mixing weights tried by [`lipschitz_linear`] (each sound; the least bound wins).
const THETAS: [f64; 3] = [0.0, 0.5, 1.0];

/// Upper bounds of the rows of `Λ v_h` over the pattern box, by back-substitution from level `h`
/// to the constant `v_{L−1}`, with McCormick planes mixed by `theta` on every unstable product and
/// the intervals `v` of the backward values.
fn propagate_up(net: &ReluNet, pat: &Pattern, v: &[Interval], lam: Array2<f64>, h: usize, theta: f64) -> Array1<f64> {
    let big_l = net.num_layers();
    let mut lam = lam;
    let mut cst = Array1::zeros(lam.nrows());
    for k in h..big_l - 1 {
        // Λ v_k = Λ W_kᵀ y_k = M y_k with y_k = δ_k ⊙ v_{k+1}.
        let mut m = lam.dot(&net.weights[k].t());
        let (dl, du, vl, vu) = (&pat.lo[k], &pat.hi[k], &v[k + 1].lo, &v[k + 1].hi);
        for j in 0..m.ncols() {
            let (dl, du, vl, vu) = (dl[j], du[j], vl[j], vu[j]);
            for r in 0..m.nrows() {
                let mu = m[[r, j]];
                if dl == du {
                    m[[r, j]] = mu * dl;
                    continue;
                }
                let (nu, kappa, c0) = if mu >= 0.0 {
                    (
                        mu * (theta * du + (1.0 - theta) * dl),
                        mu * (theta * vl + (1.0 - theta) * vu),
                        -mu * (theta * du * vl + (1.0 - theta) * dl * vu),
                    )
                } else {
                    (
                        mu * (theta * dl + (1.0 - theta) * du),
                        mu * (theta * vl + (1.0 - theta) * vu),
                        -mu * (theta * dl * vl + (1.0 - theta) * du * vu),
                    )
                };
                m[[r, j]] = nu;
                cst[r] += c0 + (kappa * dl).max(kappa * du);
            }
        }
        lam = m;
    }
    cst + lam.dot(&v[big_l - 1].lo)
}

/// Least over [`THETAS`] of [`propagate_up`].
fn propagate_best(net: &ReluNet, pat: &Pattern, v: &[Interval], lam: &Array2<f64>, h: usize) -> Array1<f64> {
    let mut best = propagate_up(net, pat, v, lam.clone(), h, THETAS[0]);
    for &t in &THETAS[1..] {
        let b = propagate_up(net, pat, v, lam.clone(), h, t);
        Zip::from(&mut best).and(&b).for_each(|a, &b| *a = a.min(b));
    }
    best
}

/// A bound of [`lipschitz_linear`] with the intervals of the backward values it used.
#[derive(Clone, Debug)]
pub struct JacobianBound {
    /// The upper bound on `max ‖g‖₁` over the pattern box.
    pub upper: f64,
    /// Intervals of `v_0 (= g), ..., v_{L−1}` (interval arithmetic intersected with linear bounds).
    pub v: Vec<Interval>,
}

/// Linear bound propagation through the backward graph (module doc): an upper bound on
/// `max_{δ ∈ pat} ‖g(δ)‖₁`, never above [`lipschitz_interval`]'s.
pub fn lipschitz_linear(net: &ReluNet, pat: &Pattern, c: ArrayView1<f64>) -> JacobianBound {
    let big_l = net.num_layers();
    let mut v = backward_intervals(net, pat, c);
    for h in (0..big_l - 1).rev() {
        let n = v[h].lo.len();
        let mut lam = Array2::zeros((2 * n, n));
        for i in 0..n {
            lam[[i, i]] = 1.0;
            lam[[n + i, i]] = -1.0;
        }
        let ub = propagate_best(net, pat, &v, &lam, h);
        let lin = Interval { lo: Array1::from_shape_fn(n, |i| -ub[n + i]), hi: Array1::from_shape_fn(n, |i| ub[i]) };
        v[h] = v[h].intersect(&lin);
    }
    let g = &v[0];
    let n = g.lo.len();
    let (mut alpha, mut beta) = (Array1::zeros(n), 0.0);
    for k in 0..n {
        let (l, u) = (g.lo[k], g.hi[k]);
        if l >= 0.0 {
            alpha[k] = 1.0;
        } else if u <= 0.0 {
            alpha[k] = -1.0;
        } else {
            alpha[k] = (u + l) / (u - l);
            beta += -2.0 * u * l / (u - l);
        }
    }
    let lin = if big_l == 1 {
        alpha.dot(&g.lo) + beta
    } else {
        beta + propagate_best(net, pat, &v, &alpha.insert_axis(Axis(0)), 0)[0]
    };
    JacobianBound { upper: lin.min(g.max_l1()), v }
}

/// The exact maximum of `‖g(δ)‖₁` over the pattern box, by enumerating the `2^m` vertices of its
/// `m` unstable units; `None` when `m > max_unstable`.
pub fn lipschitz_enumerate(net: &ReluNet, pat: &Pattern, c: ArrayView1<f64>, max_unstable: usize) -> Option<f64> {
    let unstable = pat.unstable();
    if unstable.len() > max_unstable || unstable.len() >= 63 {
        return None;
    }
    let mut delta = pat.lo.clone();
    let mut best = f64::NEG_INFINITY;
    for mask in 0u64..(1u64 << unstable.len()) {
        for (i, &(l, j)) in unstable.iter().enumerate() {
            delta[l][j] = if mask >> i & 1 == 1 { pat.hi[l][j] } else { pat.lo[l][j] };
        }
        best = best.max(net.grad_with_pattern(&delta, c).mapv(f64::abs).sum());
    }
    Some(best)
}

/// What [`lipschitz_bab`] splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Halve the input box along its most influential side; converges to the true local constant.
    Input,
    /// Fix an unstable unit's derivative to 0 or 1; converges to the pattern-box maximum.
    Neuron,
}

/// Settings of [`lipschitz_bab`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BabOptions {
    /// Stop before the node count (root included) would exceed this.
    pub max_nodes: usize,
    /// What to split.
    pub split: Split,
    /// Stop when upper − lower <= `rel_tol` · max(lower, 1e-12).
    pub rel_tol: f64,
}

/// The bracket after some nodes of [`lipschitz_bab`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BabStep {
    /// Nodes evaluated so far (root included).
    pub nodes: usize,
    /// The upper bound then.
    pub upper: f64,
    /// The lower bound then.
    pub lower: f64,
}

/// The outcome of [`lipschitz_bab`].
#[derive(Clone, Debug, PartialEq)]
pub struct BabResult {
    /// A sound upper bound on the maximum over the specs of the local constant.
    pub upper: f64,
    /// [`Split::Input`]: the largest generalized-gradient norm found (a lower bound on the true
    /// constant). [`Split::Neuron`]: the largest vertex value found (a lower bound on the
    /// pattern-box maximum, not necessarily on the true constant).
    pub lower: f64,
    /// Nodes evaluated.
    pub nodes: usize,
    /// Whether every node was resolved (no open node left).
    pub complete: bool,
    /// The bracket after the root and after every split.
    pub trace: Vec<BabStep>,
}

struct Node {
    x: Interval,
    pat: Pattern,
    /// The bound of each spec on this node.
    ub: Vec<f64>,
}

impl Node {
    fn upper(&self) -> f64 {
        self.ub.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Bound every spec on a node (specs whose inherited bound is already at or below `lower` keep it)
/// and return the node's lower value.
fn evaluate(net: &ReluNet, specs: &[Array1<f64>], node: &mut Node, lower: f64, split: Split) -> f64 {
    if split == Split::Input {
        node.pat = Pattern::from_bounds(&crown(net, &node.x));
    }
    for (s, c) in specs.iter().enumerate() {
        if node.ub[s] > lower {
            node.ub[s] = node.ub[s].min(lipschitz_linear(net, &node.pat, c.view()).upper);
        }
    }
    let x0 = node.x.center();
    let delta: Vec<Array1<f64>> = match split {
        Split::Input => net.pattern_at(x0.view()),
        Split::Neuron => {
            let at = net.pattern_at(x0.view());
            at.iter()
                .zip(node.pat.lo.iter().zip(&node.pat.hi))
                .map(|(a, (lo, hi))| Zip::from(a).and(lo).and(hi).map_collect(|a, l, h| a.clamp(*l, *h)))
                .collect()
        }
    };
    specs.iter().map(|c| net.grad_with_pattern(&delta, c.view()).mapv(f64::abs).sum()).fold(f64::NEG_INFINITY, f64::max)
}

/// Branch-and-bound on `max_c max_{x ∈ x} ‖∂ cᵀf(x)‖₁` over the specs `c` (rows of the output
/// combinations, e.g. every class): repeatedly split the open node with the largest bound, bound
/// the children with [`lipschitz_linear`] (a child keeps its parent's bound where that is lower),
/// drop nodes that cannot beat the best lower value, and stop at `max_nodes` nodes or when the
/// bracket closes. Deterministic: no clock, ties broken by creation order.
pub fn lipschitz_bab(net: &ReluNet, x: &Interval, specs: &[Array1<f64>], opts: &BabOptions) -> BabResult {
    assert!(!specs.is_empty(), "lipschitz_bab: no specs");
    let root_pat = Pattern::from_bounds(&crown(net, x));
    let mut root = Node { x: x.clone(), pat: root_pat, ub: vec![f64::INFINITY; specs.len()] };
    let mut lower = evaluate(net, specs, &mut root, f64::NEG_INFINITY, opts.split);
    let mut nodes = 1;
    let mut open = vec![root];
    let mut closed_upper = f64::NEG_INFINITY;
    let mut trace = vec![];
    let gap_closed = |u: f64, l: f64| u - l <= opts.rel_tol * l.max(1e-12);
    loop {
        // Resolved nodes: nothing in them can beat the best lower value by more than the tolerance.
        let (keep, done): (Vec<Node>, Vec<Node>) = open.into_iter().partition(|n| !gap_closed(n.upper(), lower));
        closed_upper = done.iter().map(Node::upper).fold(closed_upper, f64::max);
        open = keep;
        let open_upper = open.iter().map(Node::upper).fold(f64::NEG_INFINITY, f64::max);
        let upper = open_upper.max(closed_upper).max(lower);
        trace.push(BabStep { nodes, upper, lower });
        if open.is_empty() || nodes + 2 > opts.max_nodes || gap_closed(upper, lower) {
            return BabResult { upper, lower, nodes, complete: open.is_empty(), trace };
        }
        let i = (0..open.len()).fold(0, |b, i| if open[i].upper() > open[b].upper() { i } else { b });
        let node = open.remove(i);
        let children = match opts.split {
            Split::Input => split_input(net, &node),
            Split::Neuron => split_neuron(net, specs, &node),
        };
        let Some(children) = children else {
            // Nothing left to split: the node's bound is exact (all units stable).
            closed_upper = closed_upper.max(node.upper());
            continue;
        };
        for mut child in children {
            let l = evaluate(net, specs, &mut child, lower, opts.split);
            lower = lower.max(l);
            nodes += 1;
            open.push(child);
        }
    }
}

/// Halve the side `k` maximizing width × (ℓ1 weight into the first layer's unstable units; all
/// units if none is unstable there); `None` if the box is a point.
fn split_input(net: &ReluNet, node: &Node) -> Option<[Node; 2]> {
    let w0 = &net.weights[0];
    let unstable0: Vec<usize> = (0..w0.nrows()).filter(|&j| node.pat.lo[0][j] < node.pat.hi[0][j]).collect();
    let rows: Vec<usize> = if unstable0.is_empty() { (0..w0.nrows()).collect() } else { unstable0 };
    let d = node.x.lo.len();
    let score =
        |k: usize| (node.x.hi[k] - node.x.lo[k]) * (rows.iter().map(|&j| w0[[j, k]].abs()).sum::<f64>() + 1e-12);
    let k = (0..d).fold(0, |b, k| if score(k) > score(b) { k } else { b });
    if node.x.hi[k] <= node.x.lo[k] || node.pat.unstable().is_empty() {
        return None;
    }
    let mid = 0.5 * (node.x.lo[k] + node.x.hi[k]);
    let (mut left, mut right) = (node.x.clone(), node.x.clone());
    left.hi[k] = mid;
    right.lo[k] = mid;
    let child = |x: Interval| Node { x, pat: node.pat.clone(), ub: node.ub.clone() };
    Some([child(left), child(right)])
}

/// Fix the unstable unit `(l, j)` maximizing `max |v_{l+1,j}| · ‖W_l[j, :]‖₁` (the backward
/// intervals of the spec with the largest bound on the node, recomputed here rather than stored
/// per node) to 0 and to 1; `None` if no unit is unstable.
fn split_neuron(net: &ReluNet, specs: &[Array1<f64>], node: &Node) -> Option<[Node; 2]> {
    let unstable = node.pat.unstable();
    if unstable.is_empty() {
        return None;
    }
    let s = (0..node.ub.len()).fold(0, |b, s| if node.ub[s] > node.ub[b] { s } else { b });
    let v = lipschitz_linear(net, &node.pat, specs[s].view()).v;
    let score = |&(l, j): &(usize, usize)| {
        let mag = v[l + 1].lo[j].abs().max(v[l + 1].hi[j].abs());
        mag * net.weights[l].row(j).iter().map(|w| w.abs()).sum::<f64>()
    };
    let &(l, j) = unstable.iter().fold(&unstable[0], |b, u| if score(u) > score(b) { u } else { b });
    let child = |value: f64| Node { x: node.x.clone(), pat: node.pat.fixed(l, j, value), ub: node.ub.clone() };
    Some([child(0.0), child(1.0)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat, gaussian_vec};
    use proptest::prelude::*;
    use rand::Rng;

    /// A random net with weights `N(0, 2/fan_in)` and biases `N(0, 0.1²)`.
    fn random_net(sizes: &[usize], seed: u64) -> ReluNet {
        let mut rng = Seed(seed).rng();
        let ws = (0..sizes.len() - 1)
            .map(|l| gaussian_mat(&mut rng, sizes[l + 1], sizes[l], (2.0 / sizes[l] as f64).sqrt()))
            .collect();
        let bs = (0..sizes.len() - 1).map(|l| gaussian_vec(&mut rng, sizes[l + 1], 0.1)).collect();
        ReluNet::new(ws, bs)
    }

    fn uniform_in(b: &Interval, rng: &mut impl Rng) -> Array1<f64> {
        Zip::from(&b.lo).and(&b.hi).map_collect(|l, h| l + (h - l) * rng.random::<f64>())
    }

    fn unit(n: usize, k: usize) -> Array1<f64> {
        let mut c = Array1::zeros(n);
        c[k] = 1.0;
        c
    }

    /// Largest `‖∇ cᵀf‖₁` over random points and random box vertices.
    fn sampled_max(net: &ReluNet, b: &Interval, c: ArrayView1<f64>, n: usize, seed: u64) -> f64 {
        let mut rng = Seed(seed).rng();
        let mut best: f64 = 0.0;
        for i in 0..n {
            let x = if i % 2 == 0 {
                uniform_in(b, &mut rng)
            } else {
                Zip::from(&b.lo).and(&b.hi).map_collect(|l, h| if rng.random::<bool>() { *l } else { *h })
            };
            best = best.max(net.grad(x.view(), c).mapv(f64::abs).sum());
        }
        best
    }

    #[test]
    fn from_mlp_reads_the_flat_layout() {
        use crate::models::{Loss, Model};
        let mlp = Mlp::new(&[3, 5, 4, 2], Activation::Relu, true, Loss::SoftmaxCe);
        let mut rng = Seed(1).rng();
        let w = mlp.init(&mut rng).mapv(|v| v + 0.05);
        let net = ReluNet::from_mlp(&mlp, w.view());
        let x = gaussian_mat(&mut rng, 4, 3, 1.0);
        let f = mlp.forward(w.view(), x.view());
        for i in 0..4 {
            let d = &net.forward(x.row(i)) - &f.row(i);
            assert!(d.iter().all(|v| v.abs() < 1e-13));
            let j = crate::models::input::jacobian(&mlp, w.view(), x.row(i));
            for k in 0..2 {
                let g = net.grad(x.row(i), unit(2, k).view());
                assert!((&g - &j.row(k)).iter().all(|v| v.abs() < 1e-13));
            }
        }
    }

    /// Closed form: on a box where every unit is stable the network is affine, and every bound is
    /// the gradient's ℓ1 norm there; CROWN's output bounds are exact.
    #[test]
    fn bounds_are_exact_on_a_linear_region() {
        let net = random_net(&[4, 8, 6, 3], 2);
        let x0 = Array1::from(vec![0.3, -0.2, 0.5, 0.1]);
        let b = Interval::ball(x0.view(), 1e-7, (-10.0, 10.0));
        let bounds = crown(&net, &b);
        let pat = Pattern::from_bounds(&bounds);
        assert!(pat.unstable().is_empty());
        for k in 0..3 {
            let c = unit(3, k);
            let exact = net.grad(x0.view(), c.view()).mapv(f64::abs).sum();
            for v in [
                lipschitz_interval(&net, &pat, c.view()),
                lipschitz_linear(&net, &pat, c.view()).upper,
                lipschitz_enumerate(&net, &pat, c.view(), 0).unwrap(),
            ] {
                assert!((v - exact).abs() <= 1e-12 * exact, "{v} vs {exact}");
            }
            let (lo, hi) = crown_spec(&net, &b, &bounds, c.view());
            let f = net.forward(x0.view())[k];
            assert!(lo <= f && f <= hi && hi - lo <= 2.0 * 1e-7 * exact * 1.000001 + 1e-12);
        }
    }

    /// One hidden layer, two units, one input, by hand: `z = (x, 0.5 − 2x)`, `g = 2δ₀ + 6δ₁`;
    /// on x < 0 the pattern is (0, 1) (g = 6), on 0 < x < 0.25 it is (1, 1) (g = 8), beyond (1, 0).
    #[test]
    fn tiny_net_bounds_by_hand() {
        let net = ReluNet::new(
            vec![
                Array2::from_shape_vec((2, 1), vec![1.0, -2.0]).unwrap(),
                Array2::from_shape_vec((1, 2), vec![2.0, -3.0]).unwrap(),
            ],
            vec![Array1::from(vec![0.0, 0.5]), Array1::from(vec![0.0])],
        );
        let b = Interval::new(Array1::from(vec![-1.0]), Array1::from(vec![1.0]));
        let pat = Pattern::from_bounds(&crown(&net, &b));
        let c = unit(1, 0);
        assert_eq!(pat.unstable().len(), 2);
        assert_eq!(lipschitz_enumerate(&net, &pat, c.view(), 10), Some(8.0));
        assert_eq!(lipschitz_interval(&net, &pat, c.view()), 8.0);
        assert!((lipschitz_linear(&net, &pat, c.view()).upper - 8.0).abs() < 1e-15);
        assert_eq!(net.grad(Array1::from(vec![0.1]).view(), c.view())[0], 8.0);
        // The product of layer norms: ‖W_1ᵀc‖₁ · ‖W_0‖_∞ = 5 · 2.
        assert_eq!(lipschitz_naive(&net, c.view()), 10.0);
        for split in [Split::Input, Split::Neuron] {
            let r =
                lipschitz_bab(&net, &b, std::slice::from_ref(&c), &BabOptions { max_nodes: 60, split, rel_tol: 1e-12 });
            assert!((r.upper - 8.0).abs() < 1e-12 && r.lower == 8.0, "{split:?}: {r:?}");
        }
        // At x = 0.1 the box of radius 0.05 is one linear region: everything is 8.
        let small = Interval::ball(Array1::from(vec![0.1]).view(), 0.05, (-1.0, 1.0));
        let pat = Pattern::from_bounds(&crown(&net, &small));
        assert!(pat.unstable().is_empty());
        assert_eq!(lipschitz_linear(&net, &pat, c.view()).upper, 8.0);
    }

    #[test]
    fn crown_is_at_least_as_tight_as_ibp_and_tighter_somewhere() {
        let net = random_net(&[6, 20, 20, 20, 4], 3);
        let x0 = Array1::from_elem(6, 0.5);
        let b = Interval::ball(x0.view(), 0.3, (-1.0, 2.0));
        let (ib, cr) = (ibp(&net, &b), crown(&net, &b));
        let mut strictly = 0;
        for (i, c) in ib.iter().zip(&cr) {
            for j in 0..i.lo.len() {
                assert!(c.lo[j] >= i.lo[j] && c.hi[j] <= i.hi[j]);
                strictly += usize::from(c.hi[j] - c.lo[j] < 0.9 * (i.hi[j] - i.lo[j]));
            }
        }
        assert!(strictly > 10, "{strictly}");
    }

    #[test]
    fn one_hidden_layer_bab_to_completion_equals_enumeration() {
        for seed in 0..6 {
            let net = random_net(&[5, 12, 3], 10 + seed);
            let b = Interval::ball(Array1::from_elem(5, 0.5).view(), 0.4, (-1.0, 2.0));
            let pat = Pattern::from_bounds(&crown(&net, &b));
            let specs: Vec<Array1<f64>> = (0..3).map(|k| unit(3, k)).collect();
            let exact =
                specs.iter().map(|c| lipschitz_enumerate(&net, &pat, c.view(), 20).unwrap()).fold(0.0, f64::max);
            let r = lipschitz_bab(
                &net,
                &b,
                &specs,
                &BabOptions { max_nodes: 1 << 16, split: Split::Neuron, rel_tol: 1e-13 },
            );
            assert!(r.complete, "{seed}");
            assert!(
                (r.upper - exact).abs() <= 1e-12 * exact && (r.lower - exact).abs() <= 1e-12 * exact,
                "{r:?} vs {exact}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// IBP and CROWN bounds contain every sampled pre-activation and output; CROWN's are inside IBP's.
        #[test]
        fn bounds_contain_sampled_values(seed in 0u64..10_000, eps in 0.01f64..1.0, depth in 1usize..4) {
            let mut sizes = vec![4];
            sizes.extend(std::iter::repeat_n(7, depth));
            sizes.push(3);
            let net = random_net(&sizes, seed);
            let x0 = gaussian_vec(&mut Seed(seed + 1).rng(), 4, 1.0);
            let b = Interval::ball(x0.view(), eps, (-1.0, 2.0));
            let (ib, cr) = (ibp(&net, &b), crown(&net, &b));
            let mut rng = Seed(seed + 2).rng();
            for _ in 0..50 {
                let x = uniform_in(&b, &mut rng);
                for (z, (i, c)) in net.pre_activations(x.view()).iter().zip(ib.iter().zip(&cr)) {
                    prop_assert!(i.contains(z.view(), 1e-9) && c.contains(z.view(), 1e-9));
                }
            }
            for (i, c) in ib.iter().zip(&cr) {
                prop_assert!(c.lo.iter().zip(&i.lo).all(|(a, b)| *a >= *b) && c.hi.iter().zip(&i.hi).all(|(a, b)| *a <= *b));
            }
        }

        /// Every Lipschitz bound is at least the largest sampled gradient norm; enumeration is at most
        /// the linear bound, which is at most the interval bound, which is at most the naive product.
        #[test]
        fn lipschitz_bounds_are_ordered_and_sound(seed in 0u64..10_000, eps in 0.01f64..0.5, depth in 1usize..4) {
            let mut sizes = vec![4];
            sizes.extend(std::iter::repeat_n(6, depth));
            sizes.push(2);
            let net = random_net(&sizes, seed);
            let x0 = gaussian_vec(&mut Seed(seed + 1).rng(), 4, 0.5);
            let b = Interval::ball(x0.view(), eps, (-1.0, 2.0));
            let pat = Pattern::from_bounds(&crown(&net, &b));
            for k in 0..2 {
                let c = unit(2, k);
                let low = sampled_max(&net, &b, c.view(), 200, seed + 3);
                let en = lipschitz_enumerate(&net, &pat, c.view(), 18).unwrap();
                let lin = lipschitz_linear(&net, &pat, c.view()).upper;
                let int = lipschitz_interval(&net, &pat, c.view());
                let naive = lipschitz_naive(&net, c.view());
                let t = 1e-12 * naive.max(1.0);
                prop_assert!(low <= en + t && en <= lin + t && lin <= int + t && int <= naive + t,
                    "low {low} enum {en} lin {lin} int {int} naive {naive}");
                let r = lipschitz_bab(&net, &b, std::slice::from_ref(&c), &BabOptions { max_nodes: 41, split: Split::Input, rel_tol: 1e-12 });
                prop_assert!(r.lower <= low.max(r.lower) && low <= r.upper + t && r.upper <= lin + t && r.nodes <= 41);
                prop_assert!(r.trace.windows(2).all(|w| w[1].upper <= w[0].upper + t && w[1].lower >= w[0].lower));
                let r = lipschitz_bab(&net, &b, std::slice::from_ref(&c), &BabOptions { max_nodes: 41, split: Split::Neuron, rel_tol: 1e-12 });
                prop_assert!(r.lower <= en + t && en <= r.upper + t && r.upper <= lin + t);
            }
        }
    }
}
