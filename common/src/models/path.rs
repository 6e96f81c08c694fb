//! Paths between parameter vectors: per-layer parameter views of an [`Mlp`], the
//! interpolation-path evaluator (loss and accuracy along `θ_A + s(θ_B − θ_A)`, whole network or
//! with the difference restricted to one layer), the barrier and midpoint excess of a path, the
//! curvature `ΔᵀH(θ)Δ` along a direction (exact HVP, or central second differences as a check),
//! the second-order predictions of the midpoint excess, and weight matching of an [`Mlp`]'s hidden
//! units ([`align_mlp`], through [`crate::linalg::assign`]).
//!
//! **Midpoint expansion.** With `f(s) = L(θ_A + sΔ)` and `m = θ_A + Δ/2`, Taylor expansion of
//! `f(0)` and `f(1)` about `s = ½` gives (odd orders cancel in the average)
//! `L(m) − ½(L_A + L_B) = −⅛ ΔᵀH(m)Δ − f⁗(½)/384 + O(‖Δ‖⁶)`,
//! so the error of the midpoint-Hessian prediction is `O(‖Δ‖⁴)` and exactly zero for a quadratic.
//! The endpoint-Hessian version `−⅛ · ½(ΔᵀH(θ_A)Δ + ΔᵀH(θ_B)Δ)` has error `+5 f⁗(½)/384`: the same
//! order, five times larger and of the opposite sign ([`midpoint_predictions`]).

use std::ops::Range;

use ndarray::{Array1, ArrayView1};

use super::{Mlp, Model, Problem};
use crate::linalg::assign::{Layer, permute_layers, weight_matching};

/// The flat-parameter ranges of an [`Mlp`]'s layers (weight and bias of layer `l` together).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerMasks {
    /// `ranges[l]`: the indices of layer `l`'s parameters.
    pub ranges: Vec<Range<usize>>,
}

impl LayerMasks {
    /// The layers of `mlp` (from [`Mlp::layer_offset`]).
    pub fn of(mlp: &Mlp) -> Self {
        LayerMasks {
            ranges: (0..mlp.num_layers())
                .map(|l| {
                    let (off, len) = mlp.layer_offset(l);
                    off..off + len
                })
                .collect(),
        }
    }
    /// Number of layers.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }
    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    /// `v` with every entry outside layer `l` set to zero.
    pub fn restrict(&self, v: ArrayView1<f64>, l: usize) -> Array1<f64> {
        let mut out = Array1::zeros(v.len());
        let r = self.ranges[l].clone();
        out.slice_mut(ndarray::s![r.clone()]).assign(&v.slice(ndarray::s![r]));
        out
    }
    /// `‖v restricted to layer l‖` for every layer.
    pub fn norms(&self, v: ArrayView1<f64>) -> Vec<f64> {
        self.ranges
            .iter()
            .map(|r| v.slice(ndarray::s![r.clone()]).dot(&v.slice(ndarray::s![r.clone()])).sqrt())
            .collect()
    }
}

/// Loss and accuracy at the points `a + s·d` of a grid of `s`.
#[derive(Clone, Debug, PartialEq)]
pub struct PathEval {
    /// The interpolation coefficients.
    pub s: Vec<f64>,
    /// Mean loss at each point.
    pub loss: Vec<f64>,
    /// Accuracy at each point (NaN where no accuracy was asked for).
    pub acc: Vec<f64>,
}

/// Evaluate the mean loss (and the arg-max accuracy, with `with_acc`) of `problem` at `a + s·d`
/// for every `s` in `grid`. For the segment from `θ_A` to `θ_B`, pass `d = θ_B − θ_A`; for the
/// segment in one layer only, `d` restricted to that layer ([`LayerMasks::restrict`]).
pub fn interpolate<M: Model + ?Sized>(
    problem: &Problem<M>,
    a: ArrayView1<f64>,
    d: ArrayView1<f64>,
    grid: &[f64],
    with_acc: bool,
) -> PathEval {
    let mut loss = Vec::with_capacity(grid.len());
    let mut acc = Vec::with_capacity(grid.len());
    for &s in grid {
        let w = &a + &(&d * s);
        let f = problem.forward(w.view());
        loss.push(problem.model.loss_fn().value(f.view(), problem.y));
        acc.push(if with_acc { super::accuracy(f.view(), problem.y) } else { f64::NAN });
    }
    PathEval { s: grid.to_vec(), loss, acc }
}

/// The barrier of a path and where it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Barrier {
    /// `max_s L(s) − ((1−s)L(0) + sL(1))` over the grid (≥ 0 when the grid holds 0 and 1).
    pub height: f64,
    /// The `s` where the maximum is reached (the first one on ties).
    pub at: f64,
}

/// The barrier of a path evaluated on a grid whose first point is `s = 0` and last `s = 1`.
pub fn barrier(path: &PathEval) -> Barrier {
    let n = path.s.len();
    assert!(n >= 2 && path.s[0] == 0.0 && path.s[n - 1] == 1.0, "barrier: the grid must run from 0 to 1");
    let (l0, l1) = (path.loss[0], path.loss[n - 1]);
    let mut best = Barrier { height: f64::NEG_INFINITY, at: 0.0 };
    for (&s, &l) in path.s.iter().zip(&path.loss) {
        let h = l - ((1.0 - s) * l0 + s * l1);
        if h > best.height {
            best = Barrier { height: h, at: s };
        }
    }
    best
}

/// `L(a + d/2) − ½(L(a) + L(a + d))`: the excess of the midpoint over the chord.
pub fn midpoint_excess(loss: impl Fn(ArrayView1<f64>) -> f64, a: ArrayView1<f64>, d: ArrayView1<f64>) -> f64 {
    let b = &a + &d;
    let m = &a + &(&d * 0.5);
    loss(m.view()) - 0.5 * (loss(a) + loss(b.view()))
}

/// `dᵀH(w)d` from a Hessian-vector product.
pub fn curvature(
    hvp: impl Fn(ArrayView1<f64>, ArrayView1<f64>) -> Array1<f64>,
    w: ArrayView1<f64>,
    d: ArrayView1<f64>,
) -> f64 {
    hvp(w, d).dot(&d)
}

/// `dᵀH(w)d` of a bound model through its exact HVP (counts one HVP).
pub fn curvature_hvp<M: Model + ?Sized>(problem: &Problem<M>, w: ArrayView1<f64>, d: ArrayView1<f64>) -> f64 {
    curvature(|w, v| problem.hvp(w, v), w, d)
}

/// The central second difference `(L(w + h d) − 2L(w) + L(w − h d)) / h²` (error `O(h²)`).
pub fn curvature_fd(loss: impl Fn(ArrayView1<f64>) -> f64, w: ArrayView1<f64>, d: ArrayView1<f64>, h: f64) -> f64 {
    let wp = &w + &(&d * h);
    let wm = &w - &(&d * h);
    (loss(wp.view()) - 2.0 * loss(w) + loss(wm.view())) / (h * h)
}

/// The measured midpoint excess of a segment and its two second-order predictions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MidpointPrediction {
    /// `L(m) − ½(L_A + L_B)`.
    pub measured: f64,
    /// `−⅛ ΔᵀH(m)Δ` (Hessian at the midpoint).
    pub midpoint: f64,
    /// `−⅛ · ½(ΔᵀH(θ_A)Δ + ΔᵀH(θ_B)Δ)` (mean of the endpoint Hessians).
    pub endpoints: f64,
}

/// Midpoint excess of the segment `a → a + d` and its predictions from the curvature along `d` at
/// the midpoint and at the endpoints (three exact HVPs).
pub fn midpoint_predictions<M: Model + ?Sized>(
    problem: &Problem<M>,
    a: ArrayView1<f64>,
    d: ArrayView1<f64>,
) -> MidpointPrediction {
    let b = &a + &d;
    let m = &a + &(&d * 0.5);
    let measured = midpoint_excess(|w| problem.loss(w), a, d);
    let c_m = curvature_hvp(problem, m.view(), d);
    let c_a = curvature_hvp(problem, a, d);
    let c_b = curvature_hvp(problem, b.view(), d);
    MidpointPrediction { measured, midpoint: -c_m / 8.0, endpoints: -(c_a + c_b) / 16.0 }
}

/// The layers of a flat parameter vector, as [`crate::linalg::assign`] takes them.
pub fn mlp_layers(mlp: &Mlp, w: ArrayView1<f64>) -> Vec<Layer> {
    let w = w.as_standard_layout();
    (0..mlp.num_layers())
        .map(|l| {
            let (wm, b) = mlp.layer(w.view(), l);
            (wm.to_owned(), b.map(|b| b.to_owned()))
        })
        .collect()
}

/// The flat parameter vector of per-layer weights and biases (inverse of [`mlp_layers`]).
pub fn mlp_flatten(mlp: &Mlp, layers: &[Layer]) -> Array1<f64> {
    let mut w = Array1::zeros(mlp.num_params());
    for (l, (wm, b)) in layers.iter().enumerate() {
        let (mut dst, db) = mlp.layer_mut(w.view_mut(), l);
        dst.assign(wm);
        if let (Some(mut db), Some(b)) = (db, b) {
            db.assign(b);
        }
    }
    w
}

/// `w_b` with its hidden units permuted to best match `w_a` (weight matching, Ainsworth et al.
/// 2023; see [`crate::linalg::assign::weight_matching`]): the same function as `w_b`.
pub fn align_mlp(mlp: &Mlp, w_a: ArrayView1<f64>, w_b: ArrayView1<f64>, max_sweeps: usize) -> Array1<f64> {
    let la = mlp_layers(mlp, w_a);
    let lb = mlp_layers(mlp, w_b);
    let perms = weight_matching(&la, &lb, max_sweeps);
    mlp_flatten(mlp, &permute_layers(&lb, &perms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Activation, Loss, Targets};
    use crate::rng::{Seed, gaussian_mat, gaussian_vec};
    use ndarray::{Array2, array};
    use proptest::prelude::*;

    fn tanh_problem(seed: u64) -> (Mlp, Array2<f64>, Targets) {
        let mlp = Mlp::new(&[4, 7, 6, 3], Activation::Tanh, true, Loss::SoftmaxCe);
        let mut rng = Seed(seed).rng();
        let x = gaussian_mat(&mut rng, 40, 4, 1.0);
        let y = Targets::Classes((0..40).map(|i| (i * 7 + seed as usize) % 3).collect());
        (mlp, x, y)
    }

    #[test]
    fn quadratic_path_is_a_parabola() {
        // A linear model with MSE: the loss is exactly quadratic in w, so the path is a parabola,
        // its midpoint excess is −⅛ΔᵀHΔ exactly (at any point: H is constant), the barrier over a
        // grid holding ½ is max(0, −⅛ΔᵀHΔ) = 0, and L(s) − chord = −½ s(1−s) ΔᵀHΔ at every s.
        let mlp = Mlp::new(&[5, 2], Activation::Linear, true, Loss::Mse);
        let mut rng = Seed(1).rng();
        let x = gaussian_mat(&mut rng, 30, 5, 1.0);
        let y = Targets::Regression(gaussian_mat(&mut rng, 30, 2, 1.0));
        let p = Problem::new(&mlp, x.view(), &y);
        let a = gaussian_vec(&mut rng, mlp.num_params(), 1.0);
        let d = gaussian_vec(&mut rng, mlp.num_params(), 0.7);
        let grid = crate::stats::linspace(0.0, 1.0, 11);
        let path = interpolate(&p, a.view(), d.view(), &grid, true);
        let c = curvature_hvp(&p, a.view(), d.view());
        assert!(c > 0.0);
        for (&s, &l) in path.s.iter().zip(&path.loss) {
            let chord = (1.0 - s) * path.loss[0] + s * path.loss[10];
            assert!((l - chord + 0.5 * s * (1.0 - s) * c).abs() < 1e-12 * (1.0 + l.abs()), "s = {s}");
        }
        let pred = midpoint_predictions(&p, a.view(), d.view());
        assert!((pred.measured - pred.midpoint).abs() < 1e-12);
        assert!((pred.measured - pred.endpoints).abs() < 1e-12);
        assert!((pred.measured + c / 8.0).abs() < 1e-12);
        let b = barrier(&path);
        assert_eq!(b.height, 0.0);
        assert!(path.acc.iter().all(|a| (0.0..=1.0).contains(a)));
    }

    #[test]
    fn indefinite_quadratic_barrier_is_minus_one_eighth_curvature() {
        // f(w) = ½ wᵀAw with A indefinite and Δ along a negative direction: a ridge, whose
        // barrier (at s = ½) is exactly −⅛ΔᵀAΔ > 0.
        let a_mat = array![[1.0, 0.3, 0.0], [0.3, -2.0, 0.1], [0.0, 0.1, 0.5]];
        let loss = |w: ArrayView1<f64>| 0.5 * w.dot(&a_mat.dot(&w));
        let hvp = |_: ArrayView1<f64>, v: ArrayView1<f64>| a_mat.dot(&v);
        let a = array![0.2, -0.5, 0.1];
        let d = array![0.1, 1.0, -0.2];
        let grid = crate::stats::linspace(0.0, 1.0, 21);
        let losses: Vec<f64> = grid.iter().map(|&s| loss((&a + &(&d * s)).view())).collect();
        let path = PathEval { s: grid.clone(), acc: vec![f64::NAN; grid.len()], loss: losses };
        let c = curvature(hvp, a.view(), d.view());
        assert!(c < 0.0);
        let b = barrier(&path);
        assert!((b.height + c / 8.0).abs() < 1e-14, "{} vs {}", b.height, -c / 8.0);
        assert_eq!(b.at, 0.5);
        assert!((midpoint_excess(loss, a.view(), d.view()) + c / 8.0).abs() < 1e-14);
    }

    #[test]
    fn layer_masks_partition_the_parameters() {
        let (mlp, _, _) = tanh_problem(1);
        let masks = LayerMasks::of(&mlp);
        assert_eq!(masks.len(), 3);
        assert_eq!(masks.ranges[0].start, 0);
        assert_eq!(masks.ranges[2].end, mlp.num_params());
        for l in 1..3 {
            assert_eq!(masks.ranges[l - 1].end, masks.ranges[l].start);
        }
        let d = gaussian_vec(&mut Seed(2).rng(), mlp.num_params(), 1.0);
        let sum = (0..3).fold(Array1::<f64>::zeros(d.len()), |acc, l| acc + masks.restrict(d.view(), l));
        assert_eq!(sum, d);
        let n2: f64 = masks.norms(d.view()).iter().map(|v| v * v).sum();
        assert!((n2 - d.dot(&d)).abs() < 1e-10);
        // The layer mask selects exactly Mlp::layer's weights and bias.
        let w1 = masks.restrict(d.view(), 1);
        let (wm, b) = mlp.layer(w1.view(), 1);
        let (dm, db) = mlp.layer(d.view(), 1);
        assert_eq!(wm, dm);
        assert_eq!(b, db);
        assert!(mlp.layer(w1.view(), 0).0.iter().all(|&v| v == 0.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn hvp_curvature_matches_second_differences(seed in 0u64..10_000, layer in 0usize..4) {
            let (mlp, x, y) = tanh_problem(seed);
            let p = Problem::new(&mlp, x.view(), &y);
            let mut rng = Seed(seed).child("w").rng();
            let w = mlp.init(&mut rng) + gaussian_vec(&mut rng, mlp.num_params(), 0.1);
            let mut d = gaussian_vec(&mut rng, mlp.num_params(), 1.0);
            if layer < 3 {
                d = LayerMasks::of(&mlp).restrict(d.view(), layer);
            }
            d /= d.dot(&d).sqrt();
            let exact = curvature_hvp(&p, w.view(), d.view());
            let fd = curvature_fd(|v| p.loss(v), w.view(), d.view(), 1e-3);
            prop_assert!((exact - fd).abs() < 1e-6 * (1.0 + exact.abs()), "hvp {exact} vs fd {fd}");
        }

        #[test]
        fn midpoint_error_is_quartic_and_five_times_smaller_than_endpoints(seed in 0u64..10_000) {
            // Segments t·Δ centred on a fixed point: measured − (−⅛ΔᵀH(m)Δ) ≈ −t⁴ f⁗/384 and
            // measured − endpoints ≈ +5 t⁴ f⁗/384, so halving t divides the errors by 16.
            let (mlp, x, y) = tanh_problem(seed);
            let p = Problem::new(&mlp, x.view(), &y);
            let mut rng = Seed(seed).child("w").rng();
            let c = mlp.init(&mut rng);
            let d = gaussian_vec(&mut rng, mlp.num_params(), 0.3);
            let err = |t: f64| {
                let a = &c - &(&d * (0.5 * t));
                let pr = midpoint_predictions(&p, a.view(), (&d * t).view());
                (pr.measured - pr.midpoint, pr.measured - pr.endpoints)
            };
            let (m1, e1) = err(0.04);
            let (m2, e2) = err(0.02);
            prop_assume!(m2.abs() > 1e-11 && m1.abs() > 1e-10);
            let slope = (m1 / m2).abs().log2();
            prop_assert!((slope - 4.0).abs() < 0.25, "midpoint error slope {slope}");
            let ratio = e2 / m2;
            prop_assert!((ratio + 5.0).abs() < 0.5, "endpoint/midpoint error ratio {ratio}");
            let _ = e1;
        }
    }

    #[test]
    fn aligned_mlp_computes_the_same_function() {
        let (mlp, x, y) = tanh_problem(3);
        let mut rng = Seed(4).rng();
        let wa = mlp.init(&mut rng) + gaussian_vec(&mut rng, mlp.num_params(), 0.05);
        let wb = mlp.init(&mut rng) + gaussian_vec(&mut rng, mlp.num_params(), 0.05);
        let layers = mlp_layers(&mlp, wb.view());
        assert_eq!(mlp_flatten(&mlp, &layers), wb);
        let al = align_mlp(&mlp, wa.view(), wb.view(), 20);
        let (fb, fal) = (mlp.forward(wb.view(), x.view()), mlp.forward(al.view(), x.view()));
        assert!((&fb - &fal).iter().all(|v| v.abs() < 1e-12));
        let p = Problem::new(&mlp, x.view(), &y);
        assert!((p.loss(wb.view()) - p.loss(al.view())).abs() < 1e-12);
        // Closer to w_a than before (weight matching maximises the inner product with w_a).
        assert!(wa.dot(&al) >= wa.dot(&wb) - 1e-12);
        // Aligning a network with itself is the identity.
        assert_eq!(align_mlp(&mlp, wa.view(), wa.view(), 5), wa);
    }
}
