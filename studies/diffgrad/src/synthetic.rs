//! E1: the three synthetic 1-D non-convex functions of the official `diffGrad_analytical.ipynb`
//! (shivram1987/diffGrad), with the notebook's two solvers ported operation for operation
//! (same evaluation order, `powf` for `np.power`), so that the final iterates equal the
//! notebook's (and `reference/notebook.py`'s) to 1e-12.
//!
//! Notebook details that matter for exact agreement:
//! - its `Adam` puts `eps` **inside** the square root, `x - lr m_adj / sqrt(v_adj + eps)`, while
//!   its `diffGrad` puts it outside, `x - lr m_adj dfc / (sqrt(v_adj) + eps)`;
//! - `solve` fills `x[0..300]` with `x[0] = x0`: 299 updates, the final value is `x[299]`;
//! - the gradients are the coded ones (F2 is `-40` for `x <= -0.9`).
//!
//! diffGrad-buggy is the notebook's diffGrad with the alias of the official `diffGrad.py`:
//! `xi_1 = sigmoid(|g_1 - 0|)`, then `xi = sigmoid(0) = 1/2`.

use serde::{Deserialize, Serialize};

/// One of the notebook's three functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Func {
    /// Cell 4: two parabolas, global minimum −0.3, local minimum 0.2.
    F1,
    /// Cell 5: x³ + x sin 8x / 8 − 7 cos 8x / 64 right of −0.9, slope −40 left of it.
    F2,
    /// Cell 6: x² outside ±0.5, a V with a notch inside.
    F3,
}

/// The three functions, in notebook order.
pub const FUNCS: [Func; 3] = [Func::F1, Func::F2, Func::F3];

impl Func {
    /// Name for tables and legends.
    pub fn name(self) -> &'static str {
        match self {
            Func::F1 => "F1",
            Func::F2 => "F2",
            Func::F3 => "F3",
        }
    }

    /// The gradient exactly as coded in the notebook.
    pub fn grad(self, x: f64) -> f64 {
        match self {
            Func::F1 => {
                if x <= 0.0 {
                    2.0 * x + 0.6
                } else {
                    2.0 * x - 0.4
                }
            }
            Func::F2 => {
                if x <= -0.9 {
                    -40.0
                } else {
                    x * (8.0 * x).cos() + (8.0 * x).sin() + 3.0 * x * x
                }
            }
            Func::F3 => {
                if x <= -0.5 {
                    2.0 * x
                } else if x <= -0.4 {
                    1.0
                } else if x <= 0.0 {
                    -7.0 / 8.0
                } else if x <= 0.4 {
                    7.0 / 8.0
                } else if x <= 0.5 {
                    -1.0
                } else {
                    2.0 * x
                }
            }
        }
    }

    /// The function whose derivative [`Func::grad`] is (derived by integration; the notebook
    /// gives only gradients). F1: (x+0.3)² | (x−0.2)² + 0.05; F2: x³ + x sin 8x/8 − 7 cos 8x/64
    /// right of −0.9, continued linearly with slope −40; F3: x² for |x| ≥ 0.5, 0.25 + ... inside.
    pub fn value(self, x: f64) -> f64 {
        match self {
            Func::F1 => {
                if x <= 0.0 {
                    (x + 0.3).powi(2)
                } else {
                    (x - 0.2).powi(2) + 0.05
                }
            }
            Func::F2 => {
                let smooth = |x: f64| x.powi(3) + x * (8.0 * x).sin() / 8.0 - 7.0 * (8.0 * x).cos() / 64.0;
                if x <= -0.9 { smooth(-0.9) - 40.0 * (x + 0.9) } else { smooth(x) }
            }
            Func::F3 => {
                let a = x.abs();
                if a >= 0.5 {
                    x * x
                } else if a > 0.4 {
                    0.35 - (a - 0.4)
                } else {
                    0.875 * a
                }
            }
        }
    }

    /// Whether `x` lies in the basin of attraction of the global minimum (of gradient flow):
    /// F1 x ≤ 0; F2 left of the local maximum between −0.9 and 0 ([`f2_ridge`]); F3 |x| ≤ 0.4.
    pub fn in_global_basin(self, x: f64) -> bool {
        match self {
            Func::F1 => x <= 0.0,
            Func::F2 => x < f2_ridge(),
            Func::F3 => x.abs() <= 0.4,
        }
    }

    /// The global minimizer.
    pub fn global_min(self) -> f64 {
        match self {
            Func::F1 => -0.3,
            Func::F2 => -0.9,
            Func::F3 => 0.0,
        }
    }

    /// The local minimizers (the traps).
    pub fn local_mins(self) -> Vec<f64> {
        match self {
            Func::F1 => vec![0.2],
            Func::F2 => vec![0.0, f2_local_right()],
            Func::F3 => vec![-0.5, 0.5],
        }
    }
}

fn bisect(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let flo = f(lo);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if (f(mid) > 0.0) == (flo > 0.0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The local maximum of F2 between the kink at −0.9 and the local minimum at 0 (F2′ changes
/// sign from + to − in [−0.6, −0.2]): the edge of the global basin.
pub fn f2_ridge() -> f64 {
    bisect(|x| Func::F2.grad(x), -0.6, -0.2)
}

/// F2's second local minimum, right of 0 (F2′ changes sign from − to + in [0.4, 0.8]).
pub fn f2_local_right() -> f64 {
    bisect(|x| Func::F2.grad(x), 0.4, 0.8)
}

/// The solvers of E1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// The notebook's `Adam` (cell 2; eps inside the square root).
    Adam,
    /// The notebook's `diffGrad` (cell 3; the fixed code: the previous gradient is a copy).
    Diffgrad,
    /// The notebook's `diffGrad` with `diffGrad.py`'s alias: ξ = 1/2 after step 1.
    DiffgradBuggy,
}

/// The solvers, in report order.
pub const SOLVERS: [Solver; 3] = [Solver::Adam, Solver::Diffgrad, Solver::DiffgradBuggy];

impl Solver {
    /// Name for tables and legends.
    pub fn name(self) -> &'static str {
        match self {
            Solver::Adam => "adam",
            Solver::Diffgrad => "diffgrad",
            Solver::DiffgradBuggy => "diffgrad_buggy",
        }
    }
}

/// The notebook's settings (cell 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `nb_iters`: length of the iterate array (`nb_iters − 1` updates).
    pub iters: usize,
    /// `beta1`.
    pub b1: f64,
    /// `beta2`.
    pub b2: f64,
    /// `eps`.
    pub eps: f64,
    /// `x0`.
    pub x0: f64,
}

/// The notebook's `solve`: `x[0] = x0`, `x[i] = update(x[i−1], grad(x[i−1]))`, `i < iters`.
pub fn solve(f: Func, solver: Solver, lr: f64, s: &Settings) -> Vec<f64> {
    let (b1, b2, eps) = (s.b1, s.b2, s.eps);
    let (mut m, mut v, mut g_prev) = (0.0f64, 0.0f64, 0.0f64);
    let mut x = vec![0.0; s.iters];
    x[0] = s.x0;
    for i in 1..s.iters {
        let idx = i as f64; // self.idx after the increment
        let g = f.grad(x[i - 1]);
        m = b1 * m + (1.0 - b1) * g;
        v = b2 * v + (1.0 - b2) * g.powf(2.0); // Python's g ** 2 is C pow(g, 2.0)
        let m_adj = m / (1.0 - b1.powf(idx));
        let v_adj = v / (1.0 - b2.powf(idx));
        let xp = x[i - 1];
        x[i] = match solver {
            Solver::Adam => xp - lr * m_adj / (v_adj + eps).sqrt(),
            Solver::Diffgrad | Solver::DiffgradBuggy => {
                let prev = if solver == Solver::DiffgradBuggy && i > 1 { g } else { g_prev };
                let dfc = 1.0 / (1.0 + (-(prev - g).abs()).exp());
                xp - lr * m_adj * dfc / (v_adj.sqrt() + eps)
            }
        };
        g_prev = g;
    }
    x
}

/// One E1 run: the final iterate and, where kept, the whole trajectory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// Function.
    pub func: Func,
    /// Solver.
    pub solver: Solver,
    /// Learning rate.
    pub lr: f64,
    /// `x[iters − 1]`.
    #[serde(with = "common::report::json_f64")]
    pub final_x: f64,
    /// Standard deviation of the last 10 iterates (the oscillation at a kink).
    #[serde(with = "common::report::json_f64")]
    pub last10_sd: f64,
    /// The iterates `x[0..iters]` (kept for the notebook's lr and the control lr only).
    #[serde(with = "common::report::json_f64::vec")]
    pub xs: Vec<f64>,
}

/// Run one (function, solver, lr); keep the trajectory when `keep`.
pub fn run(f: Func, solver: Solver, lr: f64, s: &Settings, keep: bool) -> Run {
    let xs = solve(f, solver, lr, s);
    let final_x = *xs.last().expect("iters >= 2");
    let tail = &xs[xs.len().saturating_sub(10)..];
    let mean = tail.iter().sum::<f64>() / tail.len() as f64;
    let last10_sd = (tail.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
    Run { func: f, solver, lr, final_x, last10_sd, xs: if keep { xs } else { vec![] } }
}
