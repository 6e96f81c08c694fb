//! Gradient transformations with explicit state, composable the optax way: an optimizer is a
//! `chain` of small transforms ending in a learning-rate scaling, and its update is *added* to
//! the parameters.
use ndarray::{Array1, ArrayView1, Zip};

use super::Schedule;

/// A gradient transformation with explicit state.
///
/// `step` is the 0-based index of the current update; call `update` with consecutive steps
/// `0, 1, 2, ...` (bias corrections and schedules read it). The returned vector is the update to
/// ADD to the parameters (for the transforms that end in [`scale_by_lr`], `-lr * direction`).
pub trait Transform {
    /// The transform's state (moments, traces, ...; `()` when stateless).
    type State;
    /// The initial state for the (flat) parameter vector `params`.
    fn init(&self, params: ArrayView1<f64>) -> Self::State;
    /// Transform `grad` at update `step` (0-based), advancing `state`; `params` are the current
    /// parameters (read by weight decay).
    fn update(
        &self,
        grad: ArrayView1<f64>,
        state: &mut Self::State,
        params: ArrayView1<f64>,
        step: usize,
    ) -> Array1<f64>;
}

// ---------------------------------------------------------------------------------------------
// Combinator

/// `b` after `a`: `b.update(a.update(g))`, with state `(a's, b's)`.
#[derive(Clone, Debug)]
pub struct Chain<A, B>(pub A, pub B);

impl<A: Transform, B: Transform> Transform for Chain<A, B> {
    type State = (A::State, B::State);
    fn init(&self, params: ArrayView1<f64>) -> Self::State {
        (self.0.init(params), self.1.init(params))
    }
    fn update(
        &self,
        grad: ArrayView1<f64>,
        state: &mut Self::State,
        params: ArrayView1<f64>,
        step: usize,
    ) -> Array1<f64> {
        let u = self.0.update(grad, &mut state.0, params, step);
        self.1.update(u.view(), &mut state.1, params, step)
    }
}

/// Compose two transforms: `a` first, then `b`. Nest for more, or use [`chain!`](crate::chain).
pub fn chain<A: Transform, B: Transform>(a: A, b: B) -> Chain<A, B> {
    Chain(a, b)
}

/// `chain!(a, b, c)` = `chain(chain(a, b), c)`.
#[macro_export]
macro_rules! chain {
    ($a:expr $(,)?) => { $a };
    ($a:expr, $b:expr $(, $rest:expr)* $(,)?) => {
        $crate::chain!($crate::optim::chain($a, $b) $(, $rest)*)
    };
}

// ---------------------------------------------------------------------------------------------
// Stateless scalings

/// `-lr(step) * g`: the last link of every optimizer here.
#[derive(Clone, Debug)]
pub struct ScaleByLr(pub Schedule);

/// [`ScaleByLr`]: `-lr(step) * g`.
pub fn scale_by_lr(lr: impl Into<Schedule>) -> ScaleByLr {
    ScaleByLr(lr.into())
}

impl Transform for ScaleByLr {
    type State = ();
    fn init(&self, _: ArrayView1<f64>) {}
    fn update(&self, g: ArrayView1<f64>, _: &mut (), _: ArrayView1<f64>, step: usize) -> Array1<f64> {
        let lr = self.0.value(step);
        g.mapv(|x| -lr * x)
    }
}

/// `s(step) * g` (no sign flip): optax's `scale_by_schedule`.
#[derive(Clone, Debug)]
pub struct ScaleBySchedule(pub Schedule);

/// [`ScaleBySchedule`]: `s(step) * g`.
pub fn scale_by_schedule(s: impl Into<Schedule>) -> ScaleBySchedule {
    ScaleBySchedule(s.into())
}

impl Transform for ScaleBySchedule {
    type State = ();
    fn init(&self, _: ArrayView1<f64>) {}
    fn update(&self, g: ArrayView1<f64>, _: &mut (), _: ArrayView1<f64>, step: usize) -> Array1<f64> {
        let c = self.0.value(step);
        g.mapv(|x| c * x)
    }
}

/// `c * g`.
#[derive(Clone, Debug)]
pub struct Scale(pub f64);

/// [`Scale`]: `c * g`.
pub fn scale(c: f64) -> Scale {
    Scale(c)
}

impl Transform for Scale {
    type State = ();
    fn init(&self, _: ArrayView1<f64>) {}
    fn update(&self, g: ArrayView1<f64>, _: &mut (), _: ArrayView1<f64>, _: usize) -> Array1<f64> {
        g.mapv(|x| self.0 * x)
    }
}

/// `g + wd * params` (decoupled weight decay when placed after a preconditioner, as in AdamW).
#[derive(Clone, Debug)]
pub struct AddDecayedWeights(pub f64);

/// [`AddDecayedWeights`]: `g + wd * params`.
pub fn add_decayed_weights(wd: f64) -> AddDecayedWeights {
    AddDecayedWeights(wd)
}

impl Transform for AddDecayedWeights {
    type State = ();
    fn init(&self, _: ArrayView1<f64>) {}
    fn update(&self, g: ArrayView1<f64>, _: &mut (), p: ArrayView1<f64>, _: usize) -> Array1<f64> {
        let mut u = g.to_owned();
        u.scaled_add(self.0, &p);
        u
    }
}

/// `g / |g|` (zero stays zero).
#[derive(Clone, Debug)]
pub struct Normalize;

/// [`Normalize`]: `g / |g|` (Euclidean norm).
pub fn normalize() -> Normalize {
    Normalize
}

impl Transform for Normalize {
    type State = ();
    fn init(&self, _: ArrayView1<f64>) {}
    fn update(&self, g: ArrayView1<f64>, _: &mut (), _: ArrayView1<f64>, _: usize) -> Array1<f64> {
        let n = g.dot(&g).sqrt();
        if n > 0.0 { g.mapv(|x| x / n) } else { g.to_owned() }
    }
}

/// ⊥Grad (Prieto et al. 2025): per parameter tensor `θ_t` (a range of the flat vector), the
/// gradient's component along the weights is removed, `g_t ← g_t − (θ_t·g_t)/(θ_t·θ_t + ε) θ_t`, and
/// (with `renormalize`, the official `orthograd.py`) the projected `g_t` is rescaled to the norm
/// the tensor's gradient had. Coordinates outside every range pass through unchanged. With
/// `ε = 1e-30` (the official value) a zero tensor leaves its gradient as it is.
#[derive(Clone, Debug)]
pub struct OrthogonalToWeights {
    /// The tensors' ranges in the flat parameter vector (disjoint); one range over everything is
    /// the global projection (not the paper's form).
    pub tensors: Vec<std::ops::Range<usize>>,
    /// Rescale each projected tensor gradient to its original norm.
    pub renormalize: bool,
    /// Denominator offset.
    pub eps: f64,
}

/// [`OrthogonalToWeights`] with the official defaults (renormalized, `ε = 1e-30`).
pub fn orthogonal_to_weights(tensors: Vec<std::ops::Range<usize>>) -> OrthogonalToWeights {
    OrthogonalToWeights { tensors, renormalize: true, eps: 1e-30 }
}

impl Transform for OrthogonalToWeights {
    type State = ();
    fn init(&self, _: ArrayView1<f64>) {}
    fn update(&self, g: ArrayView1<f64>, _: &mut (), p: ArrayView1<f64>, _: usize) -> Array1<f64> {
        let mut u = g.to_owned();
        for r in &self.tensors {
            let (gt, pt) = (g.slice(ndarray::s![r.clone()]), p.slice(ndarray::s![r.clone()]));
            let coef = pt.dot(&gt) / (pt.dot(&pt) + self.eps);
            let mut ut = u.slice_mut(ndarray::s![r.clone()]);
            ut.scaled_add(-coef, &pt);
            if self.renormalize {
                let (before, after) = (gt.dot(&gt).sqrt(), ut.dot(&ut).sqrt());
                if after > 0.0 {
                    ut *= before / after;
                }
            }
        }
        u
    }
}

/// `g * min(1, max_norm / |g|)`.
#[derive(Clone, Debug)]
pub struct ClipByGlobalNorm(pub f64);

/// [`ClipByGlobalNorm`]: rescale `g` to Euclidean norm at most `max_norm`.
pub fn clip_by_global_norm(max_norm: f64) -> ClipByGlobalNorm {
    ClipByGlobalNorm(max_norm)
}

impl Transform for ClipByGlobalNorm {
    type State = ();
    fn init(&self, _: ArrayView1<f64>) {}
    fn update(&self, g: ArrayView1<f64>, _: &mut (), _: ArrayView1<f64>, _: usize) -> Array1<f64> {
        let n = g.dot(&g).sqrt();
        if n > self.0 { g.mapv(|x| x * self.0 / n) } else { g.to_owned() }
    }
}

// ---------------------------------------------------------------------------------------------
// Stateful transforms

/// Momentum trace: `t <- beta t + g`; output `t` (heavy ball) or `g + beta t` (Nesterov), as in
/// optax's `trace` and PyTorch's SGD.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The decay of the trace.
    pub beta: f64,
    /// Output `g + beta t` (Nesterov) instead of `t` (heavy ball).
    pub nesterov: bool,
}

/// [`Trace`] with decay `beta`, Nesterov-style output when `nesterov`.
pub fn trace(beta: f64, nesterov: bool) -> Trace {
    Trace { beta, nesterov }
}

impl Transform for Trace {
    type State = Array1<f64>;
    fn init(&self, p: ArrayView1<f64>) -> Array1<f64> {
        Array1::zeros(p.len())
    }
    fn update(&self, g: ArrayView1<f64>, t: &mut Array1<f64>, _: ArrayView1<f64>, _: usize) -> Array1<f64> {
        let b = self.beta;
        Zip::from(&mut *t).and(&g).for_each(|t, &g| *t = b * *t + g);
        if self.nesterov {
            let mut u = g.to_owned();
            u.scaled_add(b, t);
            u
        } else {
            t.clone()
        }
    }
}

/// First and second moment estimates.
#[derive(Clone, Debug)]
pub struct Moments {
    /// First-moment (mean) estimate of the gradient, not bias-corrected.
    pub m: Array1<f64>,
    /// Second-moment (uncentred) estimate of the gradient, not bias-corrected.
    pub v: Array1<f64>,
}

/// Adam's direction (Kingma & Ba 2015, Algorithm 1): `m <- b1 m + (1-b1) g`,
/// `v <- b2 v + (1-b2) g^2`, `m_hat = m / (1 - b1^t)`, `v_hat = v / (1 - b2^t)` with `t = step+1`,
/// output `m_hat / (sqrt(v_hat) + eps)`.
#[derive(Clone, Debug)]
pub struct ScaleByAdam {
    /// Decay of the first moment.
    pub b1: f64,
    /// Decay of the second moment.
    pub b2: f64,
    /// Added to `sqrt(v_hat)` in the denominator.
    pub eps: f64,
}

/// [`ScaleByAdam`] with decays `b1`, `b2` and denominator offset `eps`.
pub fn scale_by_adam(b1: f64, b2: f64, eps: f64) -> ScaleByAdam {
    ScaleByAdam { b1, b2, eps }
}

fn update_moments(s: &mut Moments, g: ArrayView1<f64>, b1: f64, b2: f64) {
    Zip::from(&mut s.m).and(&mut s.v).and(&g).for_each(|m, v, &g| {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
    });
}

impl Transform for ScaleByAdam {
    type State = Moments;
    fn init(&self, p: ArrayView1<f64>) -> Moments {
        Moments { m: Array1::zeros(p.len()), v: Array1::zeros(p.len()) }
    }
    fn update(&self, g: ArrayView1<f64>, s: &mut Moments, _: ArrayView1<f64>, step: usize) -> Array1<f64> {
        update_moments(s, g, self.b1, self.b2);
        let t = (step + 1) as i32;
        let c1 = 1.0 - self.b1.powi(t);
        let c2 = 1.0 - self.b2.powi(t);
        let eps = self.eps;
        Zip::from(&s.m).and(&s.v).map_collect(|&m, &v| (m / c1) / ((v / c2).sqrt() + eps))
    }
}

/// diffGrad's direction (Dubey et al. 2019, IEEE TNNLS, Eq. 4-6): Adam's moments with the
/// friction coefficient `xi = sigmoid(|g_{t-1} - g_t|)` per coordinate, output
/// `xi * m_hat / (sqrt(v_hat) + eps)`; `g_0 = 0` before the first step (as in the authors' code:
/// `state['previous_grad'] = torch.zeros_like(p.data)`, so `xi_1 = sigmoid(|g_1|)`).
///
/// This is the fixed code, `diffGrad_v2.py` (the previous gradient is a copy,
/// `grad.clone()`), and exactly the form of the authors' `diffGrad_analytical.ipynb`
/// (`x - lr * m_adj * dfc / (sqrt(v_adj) + eps)`). `diffGrad_v2.py` itself writes the step the
/// old PyTorch-Adam way, `lr * sqrt(1 - b2^t) / (1 - b1^t) * xi * m / (sqrt(v) + eps)`, which is
/// this update with `eps` replaced by `eps / sqrt(1 - b2^t)`: identical at `eps = 0` (tested),
/// and different only where `sqrt(v_hat)` is within a few `eps` of zero. For the aliased
/// `diffGrad.py` of the paper's CNN runs see [`ScaleByDiffGradBuggy`].
#[derive(Clone, Debug)]
pub struct ScaleByDiffGrad {
    /// Decay of the first moment.
    pub b1: f64,
    /// Decay of the second moment.
    pub b2: f64,
    /// Added to `sqrt(v_hat)` in the denominator.
    pub eps: f64,
}

/// [`ScaleByDiffGrad`] with decays `b1`, `b2` and denominator offset `eps`.
pub fn scale_by_diffgrad(b1: f64, b2: f64, eps: f64) -> ScaleByDiffGrad {
    ScaleByDiffGrad { b1, b2, eps }
}

/// diffGrad's state: Adam's moments and the previous gradient.
#[derive(Clone, Debug)]
pub struct DiffGradState {
    /// Adam's moment estimates.
    pub moments: Moments,
    /// The previous step's gradient (zero before the first step).
    pub prev: Array1<f64>,
}

impl Transform for ScaleByDiffGrad {
    type State = DiffGradState;
    fn init(&self, p: ArrayView1<f64>) -> DiffGradState {
        let n = p.len();
        DiffGradState { moments: Moments { m: Array1::zeros(n), v: Array1::zeros(n) }, prev: Array1::zeros(n) }
    }
    fn update(&self, g: ArrayView1<f64>, s: &mut DiffGradState, _: ArrayView1<f64>, step: usize) -> Array1<f64> {
        update_moments(&mut s.moments, g, self.b1, self.b2);
        let t = (step + 1) as i32;
        let c1 = 1.0 - self.b1.powi(t);
        let c2 = 1.0 - self.b2.powi(t);
        let eps = self.eps;
        let u = Zip::from(&s.moments.m).and(&s.moments.v).and(&s.prev).and(&g).map_collect(|&m, &v, &gp, &g| {
            let xi = 1.0 / (1.0 + (-(gp - g).abs()).exp());
            xi * (m / c1) / ((v / c2).sqrt() + eps)
        });
        s.prev.assign(&g);
        u
    }
}

/// The official `diffGrad.py` (the code of the paper's CIFAR runs), bug included: it stores
/// `state['previous_grad'] = grad`, an alias of `p.grad.data`, not a copy. With gradients zeroed
/// and accumulated in place (PyTorch < 2.0, `zero_grad(set_to_none=False)`), the stored tensor
/// *is* the next gradient when the next step reads it, so `|previous_grad - grad| = 0`:
///
/// - step 1: `previous_grad` is the fresh `zeros_like` of the state init, `xi_1 = sigmoid(|g_1|)`
///   (as in the fixed code);
/// - steps t >= 2: `xi_t = sigmoid(0) = 1/2` exactly, so the update is Adam's at `lr / 2`
///   (`m` and `v` do not depend on `xi`; halving is exact in floating point).
///
/// Output `xi_t * m_hat / (sqrt(v_hat) + eps)` with the same eps placement as
/// [`ScaleByDiffGrad`], so the two differ only by the alias. The state is Adam's moments: the
/// previous gradient is never read after step 1 (it is the current one).
#[derive(Clone, Debug)]
pub struct ScaleByDiffGradBuggy {
    /// Decay of the first moment.
    pub b1: f64,
    /// Decay of the second moment.
    pub b2: f64,
    /// Added to `sqrt(v_hat)` in the denominator.
    pub eps: f64,
}

/// [`ScaleByDiffGradBuggy`] with decays `b1`, `b2` and denominator offset `eps`.
pub fn scale_by_diffgrad_buggy(b1: f64, b2: f64, eps: f64) -> ScaleByDiffGradBuggy {
    ScaleByDiffGradBuggy { b1, b2, eps }
}

impl Transform for ScaleByDiffGradBuggy {
    type State = Moments;
    fn init(&self, p: ArrayView1<f64>) -> Moments {
        Moments { m: Array1::zeros(p.len()), v: Array1::zeros(p.len()) }
    }
    fn update(&self, g: ArrayView1<f64>, s: &mut Moments, _: ArrayView1<f64>, step: usize) -> Array1<f64> {
        update_moments(s, g, self.b1, self.b2);
        let t = (step + 1) as i32;
        let c1 = 1.0 - self.b1.powi(t);
        let c2 = 1.0 - self.b2.powi(t);
        let eps = self.eps;
        Zip::from(&s.m).and(&s.v).and(&g).map_collect(|&m, &v, &g| {
            // previous_grad: zeros at step 1, the aliased current gradient afterwards
            let gp = if step == 0 { 0.0 } else { g };
            let xi = 1.0 / (1.0 + (-(gp - g).abs()).exp());
            xi * (m / c1) / ((v / c2).sqrt() + eps)
        })
    }
}

/// AMSGrad's direction (Reddi, Kale & Kumar 2018, Algorithm 2) in the form of PyTorch's
/// `Adam(amsgrad=True)`: Adam's moments, the running maximum of the **raw** second moment
/// `v_max <- max(v_max, v)`, output `m_hat / (sqrt(v_max / (1 - b2^t)) + eps)`.
///
/// Which maximum: the paper's Algorithm 2 has no bias correction and keeps `max(v_hat_{t-1}, v_t)`
/// of the raw `v`; PyTorch keeps the max of the raw `v` and divides it by the current correction
/// `1 - b2^t`; optax's `scale_by_amsgrad` keeps the max of the bias-corrected `v / (1 - b2^t)`.
/// This is PyTorch's, because the diffGrad paper's AMSGrad baseline is PyTorch's (its CIFAR runs
/// use kuangliu/pytorch-cifar) and because it keeps the paper's quantity (the max of the raw
/// `v`). The two maxima can differ only while the bias correction `1 - b2^t` is far from 1 (the
/// first `~1/(1 - b2)` steps); both give Adam's first step `-lr sign(g)` (up to eps).
#[derive(Clone, Debug)]
pub struct ScaleByAmsGrad {
    /// Decay of the first moment.
    pub b1: f64,
    /// Decay of the second moment.
    pub b2: f64,
    /// Added to `sqrt(v_max / (1 - b2^t))` in the denominator.
    pub eps: f64,
}

/// [`ScaleByAmsGrad`] with decays `b1`, `b2` and denominator offset `eps`.
pub fn scale_by_amsgrad(b1: f64, b2: f64, eps: f64) -> ScaleByAmsGrad {
    ScaleByAmsGrad { b1, b2, eps }
}

/// AMSGrad's state: Adam's moments and the running maximum of the raw second moment.
#[derive(Clone, Debug)]
pub struct AmsGradState {
    /// Adam's moment estimates.
    pub moments: Moments,
    /// `max` over steps so far of the raw (not bias-corrected) second moment `v`.
    pub v_max: Array1<f64>,
}

impl Transform for ScaleByAmsGrad {
    type State = AmsGradState;
    fn init(&self, p: ArrayView1<f64>) -> AmsGradState {
        let n = p.len();
        AmsGradState { moments: Moments { m: Array1::zeros(n), v: Array1::zeros(n) }, v_max: Array1::zeros(n) }
    }
    fn update(&self, g: ArrayView1<f64>, s: &mut AmsGradState, _: ArrayView1<f64>, step: usize) -> Array1<f64> {
        update_moments(&mut s.moments, g, self.b1, self.b2);
        let t = (step + 1) as i32;
        let c1 = 1.0 - self.b1.powi(t);
        let c2 = 1.0 - self.b2.powi(t);
        let eps = self.eps;
        Zip::from(&mut s.v_max).and(&s.moments.v).for_each(|vm, &v| *vm = vm.max(v));
        Zip::from(&s.moments.m).and(&s.v_max).map_collect(|&m, &vm| (m / c1) / ((vm / c2).sqrt() + eps))
    }
}

/// AdaGrad's direction (Duchi, Hazan & Singer 2011): `G <- G + g^2`, output `g / (sqrt(G) + eps)`.
#[derive(Clone, Debug)]
pub struct ScaleByRss {
    /// Added to `sqrt(G)` in the denominator.
    pub eps: f64,
}

/// [`ScaleByRss`] with denominator offset `eps`.
pub fn scale_by_rss(eps: f64) -> ScaleByRss {
    ScaleByRss { eps }
}

impl Transform for ScaleByRss {
    type State = Array1<f64>;
    fn init(&self, p: ArrayView1<f64>) -> Array1<f64> {
        Array1::zeros(p.len())
    }
    fn update(&self, g: ArrayView1<f64>, s: &mut Array1<f64>, _: ArrayView1<f64>, _: usize) -> Array1<f64> {
        let eps = self.eps;
        Zip::from(&mut *s).and(&g).map_collect(|s, &g| {
            *s += g * g;
            g / (s.sqrt() + eps)
        })
    }
}

/// AdaGrad-Norm's direction (Ward, Wu & Bottou 2019): one scalar step size,
/// `b^2 <- b^2 + |g|^2`, output `g / b`, from `b = b0`.
#[derive(Clone, Debug)]
pub struct ScaleByRssNorm {
    /// The initial `b`.
    pub b0: f64,
}

/// [`ScaleByRssNorm`] starting from `b = b0`.
pub fn scale_by_rss_norm(b0: f64) -> ScaleByRssNorm {
    ScaleByRssNorm { b0 }
}

impl Transform for ScaleByRssNorm {
    /// `b^2`.
    type State = f64;
    fn init(&self, _: ArrayView1<f64>) -> f64 {
        self.b0 * self.b0
    }
    fn update(&self, g: ArrayView1<f64>, b2: &mut f64, _: ArrayView1<f64>, _: usize) -> Array1<f64> {
        *b2 += g.dot(&g);
        let b = b2.sqrt();
        if b > 0.0 { g.mapv(|x| x / b) } else { g.to_owned() }
    }
}

// ---------------------------------------------------------------------------------------------
// Optimizers: a few lines each

/// The transform of [`sgd`].
pub type Sgd = ScaleByLr;
/// The transform of [`momentum`] and [`nesterov`].
pub type Momentum = Chain<Trace, ScaleByLr>;
/// The transform of [`adam`].
pub type Adam = Chain<ScaleByAdam, ScaleByLr>;
/// The transform of [`adamw`].
pub type AdamW = Chain<Chain<ScaleByAdam, AddDecayedWeights>, ScaleByLr>;
/// The transform of [`adagrad`].
pub type Adagrad = Chain<ScaleByRss, ScaleByLr>;
/// The transform of [`adagrad_norm`].
pub type AdagradNorm = Chain<ScaleByRssNorm, ScaleByLr>;
/// The transform of [`diffgrad`].
pub type DiffGrad = Chain<ScaleByDiffGrad, ScaleByLr>;
/// The transform of [`diffgrad_buggy`].
pub type DiffGradBuggy = Chain<ScaleByDiffGradBuggy, ScaleByLr>;
/// The transform of [`amsgrad`].
pub type AmsGrad = Chain<ScaleByAmsGrad, ScaleByLr>;
/// The transform of [`normalized_gd`].
pub type NormalizedGd = Chain<Normalize, ScaleByLr>;

/// Gradient descent: `x <- x - lr g`.
pub fn sgd(lr: impl Into<Schedule>) -> Sgd {
    scale_by_lr(lr)
}

/// Heavy-ball momentum: `m <- beta m + g`, `x <- x - lr m`.
pub fn momentum(lr: impl Into<Schedule>, beta: f64) -> Momentum {
    chain(trace(beta, false), scale_by_lr(lr))
}

/// Nesterov momentum (PyTorch/optax form): `m <- beta m + g`, `x <- x - lr (g + beta m)`.
pub fn nesterov(lr: impl Into<Schedule>, beta: f64) -> Momentum {
    chain(trace(beta, true), scale_by_lr(lr))
}

/// Adam with bias correction (Kingma & Ba 2015, Algorithm 1).
pub fn adam(lr: impl Into<Schedule>, b1: f64, b2: f64, eps: f64) -> Adam {
    chain(scale_by_adam(b1, b2, eps), scale_by_lr(lr))
}

/// AdamW (Loshchilov & Hutter 2019), optax/PyTorch form: `x <- x - lr (adam_dir + wd x)`.
///
/// The paper's Algorithm 2 writes `x <- x - eta_t (alpha adam_dir + lambda x)`: the decay is
/// scaled by the schedule multiplier `eta_t` but **not** by the base rate `alpha`. Here (as in
/// PyTorch's `AdamW`, `p.mul_(1 - lr * wd)`, and optax's `adamw`) the decay is multiplied by the
/// whole `lr(step) = alpha eta_t`, so `wd` here is the paper's `lambda / alpha`: the same
/// update for `lambda = alpha * wd` (tested), at any schedule. The decay reads the parameters
/// before the step (`x_{t-1}`), as in the paper, and is never fed into the moments (decoupled).
pub fn adamw(lr: impl Into<Schedule>, b1: f64, b2: f64, eps: f64, wd: f64) -> AdamW {
    chain(chain(scale_by_adam(b1, b2, eps), add_decayed_weights(wd)), scale_by_lr(lr))
}

/// AdaGrad (diagonal): `x <- x - lr g / (sqrt(sum g^2) + eps)`.
pub fn adagrad(lr: impl Into<Schedule>, eps: f64) -> Adagrad {
    chain(scale_by_rss(eps), scale_by_lr(lr))
}

/// AdaGrad-Norm: `b^2 <- b^2 + |g|^2`, `x <- x - lr g / b`, from `b = b0`.
pub fn adagrad_norm(lr: impl Into<Schedule>, b0: f64) -> AdagradNorm {
    chain(scale_by_rss_norm(b0), scale_by_lr(lr))
}

/// diffGrad (Dubey et al. 2019).
pub fn diffgrad(lr: impl Into<Schedule>, b1: f64, b2: f64, eps: f64) -> DiffGrad {
    chain(scale_by_diffgrad(b1, b2, eps), scale_by_lr(lr))
}

/// The official `diffGrad.py` with its aliasing bug ([`ScaleByDiffGradBuggy`]): diffGrad at
/// step 1, Adam at `lr / 2` afterwards.
pub fn diffgrad_buggy(lr: impl Into<Schedule>, b1: f64, b2: f64, eps: f64) -> DiffGradBuggy {
    chain(scale_by_diffgrad_buggy(b1, b2, eps), scale_by_lr(lr))
}

/// AMSGrad (Reddi et al. 2018), PyTorch's `Adam(amsgrad=True)` form ([`ScaleByAmsGrad`]).
pub fn amsgrad(lr: impl Into<Schedule>, b1: f64, b2: f64, eps: f64) -> AmsGrad {
    chain(scale_by_amsgrad(b1, b2, eps), scale_by_lr(lr))
}

/// Normalized gradient descent: `x <- x - lr g / |g|`.
pub fn normalized_gd(lr: impl Into<Schedule>) -> NormalizedGd {
    chain(normalize(), scale_by_lr(lr))
}
