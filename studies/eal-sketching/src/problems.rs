//! The test problems: twelve equality-constrained Hock–Schittkowski problems (written once, generic
//! over [`Scalar`], differentiated exactly with dual and hyper-dual numbers), and the repo's
//! constrained logistic regression (analytic derivatives) on the shipped breast-cancer set.
use common::dual::{Dual, HyperDual, Scalar, hessian, jacobian};
use ndarray::{Array1, Array2};

/// The Hock–Schittkowski problems of the study, with their standard starting points.
pub const HS_NAMES: &[&str] =
    &["HS6", "HS7", "HS28", "HS40", "HS42", "HS48", "HS50", "HS51", "HS52", "HS77", "HS78", "HS79"];

/// The logistic-regression problem's name.
pub const LOGREG: &str = "LOGREG";

/// The reference optimum f* of a problem (the HS collection's values, each confirmed to ≤ 1.2e-9
/// by `reference/hs_reference.py`, SciPy SLSQP and trust-constr); `None` for the logistic problem,
/// whose f* is not gated (its constraints are drawn from the seed).
pub fn f_star(name: &str) -> Option<f64> {
    let s2 = std::f64::consts::SQRT_2;
    Some(match name {
        "HS6" | "HS28" | "HS48" | "HS50" | "HS51" => 0.0,
        "HS7" => -3f64.sqrt(),
        "HS40" => -0.25,
        "HS42" => 28.0 - 10.0 * s2,
        "HS52" => 1859.0 / 349.0,
        "HS77" => 0.24150513,
        "HS78" => -2.91970041,
        "HS79" => 0.0787768209,
        _ => return None,
    })
}

/// The standard x₀ (`None` for an unknown name).
pub fn hs_x0(name: &str) -> Option<Vec<f64>> {
    Some(match name {
        "HS6" => vec![-1.2, 1.0],
        "HS7" => vec![2.0, 2.0],
        "HS28" => vec![-4.0, 1.0, 1.0],
        "HS40" => vec![0.8; 4],
        "HS42" => vec![1.0; 4],
        "HS48" => vec![3.0, 5.0, -3.0, 2.0, -2.0],
        "HS50" => vec![35.0, -31.0, 11.0, 5.0, -5.0],
        "HS51" => vec![2.5, 0.5, 2.0, -1.0, 0.5],
        "HS52" | "HS77" | "HS79" => vec![2.0; 5],
        "HS78" => vec![-2.0, 1.5, 2.0, -1.0, -1.0],
        _ => return None,
    })
}

/// The objective of an HS problem, in any scalar type.
pub fn hs_f<S: Scalar>(name: &str, x: &[S]) -> S {
    let one = S::cst(1.0);
    match name {
        "HS6" => (one - x[0]).powi(2),
        "HS7" => (x[0].powi(2) + 1.0).ln() - x[1],
        "HS28" => (x[0] + x[1]).powi(2) + (x[1] + x[2]).powi(2),
        "HS40" => -(x[0] * x[1] * x[2] * x[3]),
        "HS42" => (x[0] - 1.0).powi(2) + (x[1] - 2.0).powi(2) + (x[2] - 3.0).powi(2) + (x[3] - 4.0).powi(2),
        "HS48" => (x[0] - 1.0).powi(2) + (x[1] - x[2]).powi(2) + (x[3] - x[4]).powi(2),
        "HS50" => (x[0] - x[1]).powi(2) + (x[1] - x[2]).powi(2) + (x[2] - x[3]).powi(4) + (x[3] - x[4]).powi(2),
        "HS51" => (x[0] - x[1]).powi(2) + (x[1] + x[2] - 2.0).powi(2) + (x[3] - 1.0).powi(2) + (x[4] - 1.0).powi(2),
        "HS52" => {
            (x[0] * 4.0 - x[1]).powi(2) + (x[1] + x[2] - 2.0).powi(2) + (x[3] - 1.0).powi(2) + (x[4] - 1.0).powi(2)
        }
        "HS77" => {
            (x[0] - 1.0).powi(2)
                + (x[0] - x[1]).powi(2)
                + (x[2] - 1.0).powi(2)
                + (x[3] - 1.0).powi(4)
                + (x[4] - 1.0).powi(6)
        }
        "HS78" => x[0] * x[1] * x[2] * x[3] * x[4],
        "HS79" => {
            (x[0] - 1.0).powi(2)
                + (x[0] - x[1]).powi(2)
                + (x[1] - x[2]).powi(2)
                + (x[2] - x[3]).powi(4)
                + (x[3] - x[4]).powi(4)
        }
        _ => panic!("unknown HS problem {name}"),
    }
}

/// The equality constraints `c(x) = 0` of an HS problem, in any scalar type.
pub fn hs_c<S: Scalar>(name: &str, x: &[S]) -> Vec<S> {
    let s2 = std::f64::consts::SQRT_2;
    match name {
        "HS6" => vec![(x[1] - x[0].powi(2)) * 10.0],
        "HS7" => vec![(x[0].powi(2) + 1.0).powi(2) + x[1].powi(2) - 4.0],
        "HS28" => vec![x[0] + x[1] * 2.0 + x[2] * 3.0 - 1.0],
        "HS40" => vec![x[0].powi(3) + x[1].powi(2) - 1.0, x[0].powi(2) * x[3] - x[2], x[3].powi(2) - x[1]],
        "HS42" => vec![x[0] - 2.0, x[2].powi(2) + x[3].powi(2) - 2.0],
        "HS48" => vec![S::sum(x) - 5.0, x[2] - (x[3] + x[4]) * 2.0 + 3.0],
        "HS50" => vec![
            x[0] + x[1] * 2.0 + x[2] * 3.0 - 6.0,
            x[1] + x[2] * 2.0 + x[3] * 3.0 - 6.0,
            x[2] + x[3] * 2.0 + x[4] * 3.0 - 6.0,
        ],
        "HS51" => vec![x[0] + x[1] * 3.0 - 4.0, x[2] + x[3] - x[4] * 2.0, x[1] - x[4]],
        "HS52" => vec![x[0] + x[1] * 3.0, x[2] + x[3] - x[4] * 2.0, x[1] - x[4]],
        "HS77" => {
            vec![x[0].powi(2) * x[3] + (x[3] - x[4]).sin() - 2.0 * s2, x[1] + x[2].powi(4) * x[3].powi(2) - 8.0 - s2]
        }
        "HS78" => vec![
            x.iter().fold(S::cst(0.0), |a, &v| a + v * v) - 10.0,
            x[1] * x[2] - x[3] * x[4] * 5.0,
            x[0].powi(3) + x[1].powi(3) + 1.0,
        ],
        "HS79" => vec![
            x[0] + x[1].powi(2) + x[2].powi(3) - 2.0 - 3.0 * s2,
            x[1] - x[2].powi(2) + x[3] + 2.0 - 2.0 * s2,
            x[0] * x[4] - 2.0,
        ],
        _ => panic!("unknown HS problem {name}"),
    }
}

/// Everything the method needs at one point `(x, λ)`.
#[derive(Clone, Debug)]
pub struct Eval {
    /// f(x).
    pub f: f64,
    /// ∇f(x).
    pub g: Array1<f64>,
    /// c(x).
    pub c: Array1<f64>,
    /// The constraint Jacobian G (m × n).
    pub jac: Array2<f64>,
    /// ∇²ₓL(x, λ) = ∇²f + Σ λ_i ∇²c_i.
    pub hl: Array2<f64>,
    /// ∇²f(x) (the repo's merit gradient uses it in place of ∇²ₓL).
    pub hf: Array2<f64>,
}

/// Constrained logistic regression (the repo's `ConstrainedLogisticRegression`): the mean
/// logistic loss of a linear classifier subject to `A x = b` (Gaussian A, b) and `‖x‖² = 1`.
#[derive(Clone, Debug)]
pub struct Logistic {
    /// Features (standardized), one row per sample.
    pub feats: Array2<f64>,
    /// Labels ±1.
    pub labels: Array1<f64>,
    /// The linear constraint matrix.
    pub con_a: Array2<f64>,
    /// The linear constraint right-hand side.
    pub con_b: Array1<f64>,
}

impl Logistic {
    fn margins(&self, x: &Array1<f64>) -> Array1<f64> {
        self.feats.dot(x) * &self.labels
    }
    fn f(&self, x: &Array1<f64>) -> f64 {
        let z = self.margins(x);
        z.iter().map(|&t| softplus(-t)).sum::<f64>() / z.len() as f64
    }
    fn grad_hess(&self, x: &Array1<f64>) -> (Array1<f64>, Array2<f64>) {
        let z = self.margins(x);
        let nrm = z.len() as f64;
        // d/dx softplus(−y aᵀx) = −y σ(−y aᵀx) a; Hessian σ(t)σ(−t) a aᵀ.
        let s: Array1<f64> = z.mapv(|t| sigmoid(-t));
        let g = self.feats.t().dot(&(-(&s * &self.labels))) / nrm;
        let w: Array1<f64> = z.mapv(|t| sigmoid(t) * sigmoid(-t) / nrm);
        let aw = &self.feats * &w.view().insert_axis(ndarray::Axis(1));
        (g, self.feats.t().dot(&aw))
    }
    fn cons(&self, x: &Array1<f64>) -> Array1<f64> {
        let mut c = self.con_a.dot(x) - &self.con_b;
        let mut out = c.to_vec();
        out.push(x.dot(x) - 1.0);
        c = Array1::from(out);
        c
    }
    fn jac(&self, x: &Array1<f64>) -> Array2<f64> {
        let (m, n) = self.con_a.dim();
        let mut j = Array2::zeros((m + 1, n));
        j.slice_mut(ndarray::s![..m, ..]).assign(&self.con_a);
        j.row_mut(m).assign(&(x * 2.0));
        j
    }
}

fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// One test problem.
#[derive(Clone, Debug)]
pub enum Problem {
    /// A Hock–Schittkowski problem, by name.
    Hs(&'static str),
    /// The constrained logistic regression.
    Logistic(Box<Logistic>),
}

impl Problem {
    /// The problem named `name` (`seed` draws the logistic constraints).
    pub fn new(name: &str, seed: common::Seed) -> anyhow::Result<Problem> {
        if name == LOGREG {
            let d = common::data::load_shipped(common::data::Shipped::BreastCancer)?.standardize();
            let labels = Array1::from_iter(d.y.iter().map(|&v| if v > 0.5 { 1.0 } else { -1.0 }));
            let n = d.x.ncols();
            let mut rng = seed.child("logistic-constraints").rng();
            let con_a = common::rng::gaussian_mat(&mut rng, 10, n, 1.0);
            let con_b = common::rng::gaussian_vec(&mut rng, 10, 1.0);
            return Ok(Problem::Logistic(Box::new(Logistic { feats: d.x, labels, con_a, con_b })));
        }
        let n = HS_NAMES.iter().find(|&&p| p == name).ok_or_else(|| anyhow::anyhow!("unknown problem {name}"))?;
        Ok(Problem::Hs(n))
    }
    /// The name.
    pub fn name(&self) -> &'static str {
        match self {
            Problem::Hs(n) => n,
            Problem::Logistic(_) => LOGREG,
        }
    }
    /// Variables and constraints.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            Problem::Hs(n) => (hs_x0(n).expect("known").len(), hs_c::<f64>(n, &hs_x0(n).expect("known")).len()),
            Problem::Logistic(l) => (l.con_a.ncols(), l.con_a.nrows() + 1),
        }
    }
    /// The starting point (x₀, λ₀): the HS x₀ with λ₀ = 0 (NLPModels' y0); for the logistic
    /// problem x₀ = 1, λ₀ = 1 (the repo's choice).
    pub fn start(&self) -> (Array1<f64>, Array1<f64>) {
        let (n, m) = self.dims();
        match self {
            Problem::Hs(name) => (Array1::from(hs_x0(name).expect("known")), Array1::zeros(m)),
            Problem::Logistic(_) => (Array1::ones(n), Array1::ones(m)),
        }
    }
    /// f, c and their first derivatives (what the merit function needs).
    pub fn first_order(&self, x: &Array1<f64>) -> (f64, Array1<f64>, Array1<f64>, Array2<f64>) {
        match self {
            Problem::Hs(name) => {
                let xs = x.as_slice().expect("contiguous");
                let (f, g) = common::dual::gradient(|t: &[Dual]| hs_f(name, t), xs);
                let (c, j) = jacobian(|t: &[Dual]| hs_c(name, t), xs);
                (f, g, c, j)
            }
            Problem::Logistic(l) => {
                let (g, _) = l.grad_hess(x);
                (l.f(x), g, l.cons(x), l.jac(x))
            }
        }
    }
    /// Everything at `(x, λ)`, second derivatives included.
    pub fn eval(&self, x: &Array1<f64>, lam: &Array1<f64>) -> Eval {
        let (f, g, c, jac) = self.first_order(x);
        let (hl, hf) = match self {
            Problem::Hs(name) => {
                let xs = x.as_slice().expect("contiguous");
                let lag = |t: &[HyperDual]| {
                    hs_c(name, t).into_iter().zip(lam.iter()).fold(hs_f(name, t), |a, (ci, &li)| a + ci * li)
                };
                let (_, _, hl) = hessian(lag, xs);
                let (_, _, hf) = hessian(|t: &[HyperDual]| hs_f(name, t), xs);
                (hl, hf)
            }
            Problem::Logistic(l) => {
                let (_, hf) = l.grad_hess(x);
                let m = l.con_a.nrows();
                let mut hl = hf.clone();
                hl.diag_mut().mapv_inplace(|v| v + 2.0 * lam[m]);
                (hl, hf)
            }
        };
        Eval { f, g, c, jac, hl, hf }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The HS problems' gradients and Jacobians against central differences, and f* at the
    /// SciPy reference optima (`reference/hs_reference.out`) within its printed precision.
    #[test]
    #[allow(clippy::approx_constant)] // the SciPy x* as printed (HS40's x₂* = 1/√2)
    fn hs_problems_are_consistent_with_the_reference() {
        let xstar: &[(&str, &[f64])] = &[
            ("HS40", &[0.793700527, 0.70710678, 0.529731548, 0.840896415]),
            ("HS42", &[2.0, 2.0, 0.848528139, 1.131370849]),
            ("HS52", &[-0.094555879, 0.031518626, 0.515759316, -0.452722064, 0.031518626]),
            ("HS77", &[1.166172186, 1.182111378, 1.380257044, 1.506036274, 0.610920177]),
            ("HS78", &[-1.717143574, 1.595709695, 1.827245746, -0.763643083, -0.763643073]),
            ("HS79", &[1.191127449, 1.362603161, 1.472817934, 1.635016631, 1.679081447]),
        ];
        for (name, x) in xstar {
            let f = hs_f::<f64>(name, x);
            assert!((f - f_star(name).unwrap()).abs() < 1e-7 * (1.0 + f.abs()), "{name}: {f}");
            assert!(hs_c::<f64>(name, x).iter().all(|c| c.abs() < 1e-7), "{name}");
        }
        for name in HS_NAMES {
            let p = Problem::new(name, common::Seed(0)).unwrap();
            let (x0, _) = p.start();
            let (_, g, _, j) = p.first_order(&x0);
            let h = 1e-6;
            for i in 0..x0.len() {
                let mut xp = x0.to_vec();
                let mut xm = x0.to_vec();
                xp[i] += h;
                xm[i] -= h;
                let fd = (hs_f::<f64>(name, &xp) - hs_f::<f64>(name, &xm)) / (2.0 * h);
                assert!((g[i] - fd).abs() < 1e-5 * (1.0 + fd.abs()), "{name} ∂f/∂x{i}: {} vs {fd}", g[i]);
                let (cp, cm) = (hs_c::<f64>(name, &xp), hs_c::<f64>(name, &xm));
                for k in 0..cp.len() {
                    let fd = (cp[k] - cm[k]) / (2.0 * h);
                    assert!((j[[k, i]] - fd).abs() < 1e-5 * (1.0 + fd.abs()), "{name} ∂c{k}/∂x{i}");
                }
            }
        }
    }

    #[test]
    fn logistic_derivatives_match_finite_differences() {
        let p = Problem::new(LOGREG, common::Seed(3)).unwrap();
        let Problem::Logistic(l) = &p else { unreachable!() };
        let x = Array1::from_shape_fn(30, |i| 0.1 * (i as f64).sin());
        let lam = Array1::from_shape_fn(11, |i| 0.3 - 0.05 * i as f64);
        let e = p.eval(&x, &lam);
        let h = 1e-6;
        for i in [0, 7, 29] {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp[i] += h;
            xm[i] -= h;
            let fd = (l.f(&xp) - l.f(&xm)) / (2.0 * h);
            assert!((e.g[i] - fd).abs() < 1e-7, "∂f/∂x{i}");
            let (gp, _) = l.grad_hess(&xp);
            let (gm, _) = l.grad_hess(&xm);
            for k in 0..30 {
                let fd = (gp[k] - gm[k]) / (2.0 * h);
                assert!((e.hf[[k, i]] - fd).abs() < 1e-6);
            }
            let fdc = (l.cons(&xp) - l.cons(&xm)) / (2.0 * h);
            for k in 0..11 {
                assert!((e.jac[[k, i]] - fdc[k]).abs() < 1e-6);
            }
        }
        assert!((e.hl[[3, 3]] - e.hf[[3, 3]] - 2.0 * lam[10]).abs() < 1e-12);
    }
}
