//! Deterministic smooth minimization, part 1: the [`Objective`] trait (value and gradient), an
//! evaluation-counting wrapper ([`Counting`], in the spirit of argmin's problem wrapper), and two
//! line searches: [`Armijo`] backtracking and [`StrongWolfe`] (Nocedal & Wright, *Numerical
//! Optimization*, 2nd ed., Algorithms 3.5 and 3.6, with safeguarded cubic interpolation).
use ndarray::{Array1, ArrayView1, Zip};

/// A smooth objective: value and gradient at a point.
///
/// Closures go through [`FnObjective`]; `&mut O` is an objective when `O` is, so a caller can keep
/// ownership (and, with [`Counting`], read the counts afterwards).
pub trait Objective {
    /// `f(x)` and `∇f(x)`.
    fn value_grad(&mut self, x: ArrayView1<f64>) -> (f64, Array1<f64>);
    /// `f(x)` alone; defaults to [`Objective::value_grad`] (override when cheaper).
    fn value(&mut self, x: ArrayView1<f64>) -> f64 {
        self.value_grad(x).0
    }
}

impl<O: Objective + ?Sized> Objective for &mut O {
    fn value_grad(&mut self, x: ArrayView1<f64>) -> (f64, Array1<f64>) {
        (**self).value_grad(x)
    }
    fn value(&mut self, x: ArrayView1<f64>) -> f64 {
        (**self).value(x)
    }
}

/// A closure `x -> (f(x), ∇f(x))` as an [`Objective`].
#[derive(Clone, Copy, Debug)]
pub struct FnObjective<F>(pub F);

impl<F: FnMut(ArrayView1<f64>) -> (f64, Array1<f64>)> Objective for FnObjective<F> {
    fn value_grad(&mut self, x: ArrayView1<f64>) -> (f64, Array1<f64>) {
        (self.0)(x)
    }
}

/// An [`Objective`] that counts its evaluations: every `value_grad` call is one gradient (and
/// one value), every `value` call one value. The minimizers wrap their objective in one and
/// report the counts; they do not touch the process-wide [`crate::counters`] (a model's
/// `Problem` counts its own gradients there).
#[derive(Clone, Debug)]
pub struct Counting<O> {
    /// The wrapped objective.
    pub inner: O,
    /// Values computed (including those that came with a gradient).
    pub values: usize,
    /// Gradients computed.
    pub grads: usize,
}

impl<O> Counting<O> {
    /// `inner` with zero counts.
    pub fn new(inner: O) -> Self {
        Counting { inner, values: 0, grads: 0 }
    }
}

impl<O: Objective> Objective for Counting<O> {
    fn value_grad(&mut self, x: ArrayView1<f64>) -> (f64, Array1<f64>) {
        self.values += 1;
        self.grads += 1;
        self.inner.value_grad(x)
    }
    fn value(&mut self, x: ArrayView1<f64>) -> f64 {
        self.values += 1;
        self.inner.value(x)
    }
}

/// The point a line search accepted along `x + α d`.
#[derive(Clone, Debug)]
pub struct LineStep {
    /// The step length `α`.
    pub alpha: f64,
    /// `x + α d`.
    pub x: Array1<f64>,
    /// `f(x + α d)`.
    pub f: f64,
    /// `∇f(x + α d)`.
    pub grad: Array1<f64>,
}

/// Why a line search returned no step.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LineSearchError {
    /// The direction does not descend: `∇f(x)ᵀ d >= 0` (or is not finite).
    #[error("line search: not a descent direction (slope gᵀd = {slope:e})")]
    NotDescent {
        /// `∇f(x)ᵀ d`.
        slope: f64,
    },
    /// No acceptable step within the evaluation budget (or the bracket shrank to rounding).
    #[error("line search: no acceptable step after {evals} evaluations (last step {alpha:e})")]
    Failed {
        /// Evaluations spent.
        evals: usize,
        /// The last step tried.
        alpha: f64,
    },
}

/// A line search along a descent direction.
pub trait LineSearch {
    /// Search along `d` from `x`, where `f(x) = f0` and `∇f(x) = g0`, trying `alpha0` first.
    fn search<O: Objective>(
        &self,
        obj: &mut O,
        x: ArrayView1<f64>,
        f0: f64,
        g0: ArrayView1<f64>,
        d: ArrayView1<f64>,
        alpha0: f64,
    ) -> Result<LineStep, LineSearchError>;
}

/// `x + α d`.
pub(crate) fn axpy(x: ArrayView1<f64>, alpha: f64, d: ArrayView1<f64>) -> Array1<f64> {
    Zip::from(x).and(d).map_collect(|&xi, &di| xi + alpha * di)
}

/// Relative rounding allowance on `f` below which [`sufficient_decrease`] falls back on slopes.
pub const F_ROUNDING: f64 = 1e-10;

/// Sufficient decrease over a step `s` from `f0` to `f`, given the slopes `lin = ∇f(x)ᵀs < 0`
/// at the start and `end = ∇f(x + s)ᵀs` at the end: Armijo's `f <= f0 + c1 lin`, or, when
/// the change of `f` is lost in its rounding (`f <= f0 + F_ROUNDING |f0|`), the same condition
/// on the quadratic model through both slopes, `end <= (2 c1 - 1) lin` (the approximate Wolfe
/// condition of Hager & Zhang 2005). Near a minimum where `f` is large, the decrease a step
/// buys (`~ ‖g‖² / λ`) falls below `ε |f|` long before the gradient is small; the slopes still
/// resolve it.
pub fn sufficient_decrease(c1: f64, f0: f64, lin: f64, f: f64, end: f64) -> bool {
    f <= f0 + c1 * lin || (f <= f0 + F_ROUNDING * f0.abs() && end <= (2.0 * c1 - 1.0) * lin)
}

/// `∇f(x)ᵀ d`, checked to be a finite negative number.
fn descent_slope(g0: ArrayView1<f64>, d: ArrayView1<f64>) -> Result<f64, LineSearchError> {
    assert_eq!(g0.len(), d.len(), "line search: gradient and direction differ in length");
    let slope = g0.dot(&d);
    if slope < 0.0 && slope.is_finite() { Ok(slope) } else { Err(LineSearchError::NotDescent { slope }) }
}

/// Armijo backtracking: the first `α = alpha0 shrink^j` with sufficient decrease
/// `f(x + α d) <= f0 + c1 α ∇f(x)ᵀ d` (up to the rounding of `f`, see
/// [`sufficient_decrease`]; a non-finite value counts as too far).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Armijo {
    /// Sufficient-decrease constant, in (0, 1).
    pub c1: f64,
    /// Backtracking factor, in (0, 1).
    pub shrink: f64,
    /// Most evaluations before giving up.
    pub max_evals: usize,
}

impl Default for Armijo {
    /// `c1 = 1e-4`, `shrink = 0.5`, 60 evaluations.
    fn default() -> Self {
        Armijo { c1: 1e-4, shrink: 0.5, max_evals: 60 }
    }
}

impl LineSearch for Armijo {
    fn search<O: Objective>(
        &self,
        obj: &mut O,
        x: ArrayView1<f64>,
        f0: f64,
        g0: ArrayView1<f64>,
        d: ArrayView1<f64>,
        alpha0: f64,
    ) -> Result<LineStep, LineSearchError> {
        let slope = descent_slope(g0, d)?;
        let mut alpha = alpha0;
        for _ in 0..self.max_evals {
            let xa = axpy(x, alpha, d);
            let (f, grad) = obj.value_grad(xa.view());
            if sufficient_decrease(self.c1, f0, alpha * slope, f, alpha * grad.dot(&d)) {
                return Ok(LineStep { alpha, x: xa, f, grad });
            }
            alpha *= self.shrink;
        }
        Err(LineSearchError::Failed { evals: self.max_evals, alpha })
    }
}

/// A strong-Wolfe line search: a step with sufficient decrease
/// `f(x + α d) <= f0 + c1 α g0ᵀd` (up to the rounding of `f`, see [`sufficient_decrease`]) and
/// small slope `|∇f(x + α d)ᵀ d| <= c2 |g0ᵀd|`
/// (Nocedal & Wright Algorithm 3.5: expand by doubling until the interval brackets such a step,
/// then Algorithm 3.6, zoom, with safeguarded cubic interpolation). The steps it returns keep
/// `sᵀy > 0`, which quasi-Newton updates need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrongWolfe {
    /// Sufficient-decrease constant, `0 < c1 < c2`.
    pub c1: f64,
    /// Curvature constant, `c1 < c2 < 1` (0.9 for quasi-Newton, 0.1 for nonlinear CG).
    pub c2: f64,
    /// Largest step tried.
    pub alpha_max: f64,
    /// Most evaluations before giving up.
    pub max_evals: usize,
}

impl Default for StrongWolfe {
    /// `c1 = 1e-4`, `c2 = 0.9`, `alpha_max = 1e10`, 50 evaluations.
    fn default() -> Self {
        StrongWolfe { c1: 1e-4, c2: 0.9, alpha_max: 1e10, max_evals: 50 }
    }
}

/// One evaluated point of the 1-D function `φ(α) = f(x + α d)`.
#[derive(Clone, Debug)]
struct Probe {
    alpha: f64,
    phi: f64,
    dphi: f64,
    x: Array1<f64>,
    grad: Array1<f64>,
}

impl Probe {
    fn step(self) -> LineStep {
        LineStep { alpha: self.alpha, x: self.x, f: self.phi, grad: self.grad }
    }
}

/// Minimizer of the cubic through `(a, fa, da)` and `(b, fb, db)` (Nocedal & Wright eq. 3.59),
/// kept at least 10% of the interval away from its ends; bisection when the cubic has no
/// minimizer there.
fn cubic_step(a: f64, fa: f64, da: f64, b: f64, fb: f64, db: f64) -> f64 {
    let (lo, hi) = (a.min(b), a.max(b));
    let margin = 0.1 * (hi - lo);
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let disc = d1 * d1 - da * db;
    let t = if disc >= 0.0 {
        let d2 = (b - a).signum() * disc.sqrt();
        b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2)
    } else {
        f64::NAN
    };
    if t.is_finite() && t >= lo + margin && t <= hi - margin { t } else { 0.5 * (a + b) }
}

impl StrongWolfe {
    fn probe<O: Objective>(obj: &mut O, x: ArrayView1<f64>, d: ArrayView1<f64>, alpha: f64) -> Probe {
        let xa = axpy(x, alpha, d);
        let (phi, grad) = obj.value_grad(xa.view());
        Probe { alpha, phi, dphi: grad.dot(&d), x: xa, grad }
    }
}

impl LineSearch for StrongWolfe {
    fn search<O: Objective>(
        &self,
        obj: &mut O,
        x: ArrayView1<f64>,
        f0: f64,
        g0: ArrayView1<f64>,
        d: ArrayView1<f64>,
        alpha0: f64,
    ) -> Result<LineStep, LineSearchError> {
        let slope = descent_slope(g0, d)?;
        let armijo = |p: &Probe| sufficient_decrease(self.c1, f0, p.alpha * slope, p.phi, p.alpha * p.dphi);
        let curvature = |p: &Probe| p.dphi.abs() <= -self.c2 * slope;
        // Whether `p` is no lower than `lo`: by value, or where the difference is within f's
        // rounding, by the quadratic model through both slopes.
        let not_lower = |p: &Probe, lo: &Probe| {
            if (p.phi - lo.phi).abs() > F_ROUNDING * f0.abs() {
                p.phi.is_nan() || p.phi >= lo.phi
            } else {
                (p.alpha - lo.alpha) * (p.dphi + lo.dphi) >= 0.0
            }
        };
        // lo: the best point with sufficient decrease so far (φ(0) to start); hi: the other end.
        let mut lo = Probe { alpha: 0.0, phi: f0, dphi: slope, x: x.to_owned(), grad: g0.to_owned() };
        let mut alpha = alpha0.min(self.alpha_max);
        let mut evals = 0;
        // Bracketing phase (Algorithm 3.5).
        let mut hi = loop {
            if evals == self.max_evals {
                return Err(LineSearchError::Failed { evals, alpha: lo.alpha });
            }
            let p = Self::probe(obj, x, d, alpha);
            evals += 1;
            if !armijo(&p) || (evals > 1 && not_lower(&p, &lo)) {
                break p;
            }
            if curvature(&p) {
                return Ok(p.step());
            }
            if p.dphi >= 0.0 {
                break std::mem::replace(&mut lo, p);
            }
            if alpha >= self.alpha_max {
                return Err(LineSearchError::Failed { evals, alpha });
            }
            lo = p;
            alpha = (2.0 * alpha).min(self.alpha_max);
        };
        // Zoom (Algorithm 3.6): lo satisfies sufficient decrease and has the lowest value seen;
        // the minimizer sought lies between lo and hi.
        while evals < self.max_evals {
            // A non-finite end (an overflowing trial) has no usable cubic: bisect.
            let t = if hi.phi.is_finite() && hi.dphi.is_finite() {
                cubic_step(lo.alpha, lo.phi, lo.dphi, hi.alpha, hi.phi, hi.dphi)
            } else {
                0.5 * (lo.alpha + hi.alpha)
            };
            if (t - lo.alpha).abs() <= f64::EPSILON * lo.alpha.abs().max(1.0) {
                break;
            }
            let p = Self::probe(obj, x, d, t);
            evals += 1;
            if !armijo(&p) || not_lower(&p, &lo) {
                hi = p;
            } else {
                if curvature(&p) {
                    return Ok(p.step());
                }
                if p.dphi * (hi.alpha - lo.alpha) >= 0.0 {
                    hi = std::mem::replace(&mut lo, p);
                } else {
                    lo = p;
                }
            }
        }
        Err(LineSearchError::Failed { evals, alpha: lo.alpha })
    }
}
