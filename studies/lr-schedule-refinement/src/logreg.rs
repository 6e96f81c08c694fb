//! ℓ2-regularised logistic regression problems, their optimum (Newton's method) and minibatch SGD
//! with a learning-rate schedule, returning the last iterate's full training loss.

use anyhow::Result;
use common::Seed;
use common::data::{Shipped, load_shipped};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A binary problem: rows of `x` (with a trailing bias feature 1), labels ±1.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Name used in tables.
    pub name: String,
    /// Row-major n × d features (the last column is 1).
    pub x: Vec<f64>,
    /// Labels ±1.
    pub y: Vec<f64>,
    /// Samples.
    pub n: usize,
    /// Features, bias included.
    pub d: usize,
}

/// What a problem is made from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Source {
    /// The shipped breast-cancer set (569 × 30), standardized.
    BreastCancer,
    /// The shipped digits (1797 × 64), standardized; label: this digit against the rest.
    Digit {
        /// The positive class.
        digit: u8,
    },
    /// Gaussian inputs with covariance eigenvalues log-spaced in [1/κ, 1], labels sign(xᵀw*)
    /// flipped with probability `flip`.
    Synthetic {
        /// Samples.
        n: usize,
        /// Features (bias excluded).
        d: usize,
        /// Condition number of the input covariance.
        kappa: f64,
        /// Label-flip probability.
        flip: f64,
    },
}

impl Source {
    /// Short name.
    pub fn name(&self) -> String {
        match self {
            Source::BreastCancer => "breast-cancer".into(),
            Source::Digit { digit } => format!("digits-{digit}-vs-rest"),
            Source::Synthetic { kappa, flip, .. } => format!("synthetic-k{kappa}-flip{flip}"),
        }
    }

    /// Build the problem (synthetic ones from `seed`: the same data for every schedule and LR).
    pub fn build(&self, seed: Seed) -> Result<Problem> {
        let (rows, y): (Vec<Vec<f64>>, Vec<f64>) = match *self {
            Source::BreastCancer => {
                let ds = load_shipped(Shipped::BreastCancer)?.standardize();
                let y = ds.y.iter().map(|&v| if v > 0.5 { 1.0 } else { -1.0 }).collect();
                (ds.x.rows().into_iter().map(|r| r.to_vec()).collect(), y)
            }
            Source::Digit { digit } => {
                let ds = load_shipped(Shipped::Digits)?.standardize();
                let y = ds.y.iter().map(|&v| if (v - digit as f64).abs() < 0.5 { 1.0 } else { -1.0 }).collect();
                (ds.x.rows().into_iter().map(|r| r.to_vec()).collect(), y)
            }
            Source::Synthetic { n, d, kappa, flip } => {
                let mut rng = seed.child("synthetic").rng();
                let scales: Vec<f64> = common::stats::logspace(1.0, 1.0 / kappa, d).iter().map(|v| v.sqrt()).collect();
                let w = common::rng::gaussian_vec(&mut rng, d, 1.0);
                let mut rows = Vec::with_capacity(n);
                let mut y = Vec::with_capacity(n);
                for _ in 0..n {
                    let z = common::rng::gaussian_vec(&mut rng, d, 1.0);
                    let r: Vec<f64> = z.iter().zip(&scales).map(|(a, s)| a * s).collect();
                    let m: f64 = r.iter().zip(w.iter()).map(|(a, b)| a * b).sum();
                    let mut lab = if m >= 0.0 { 1.0 } else { -1.0 };
                    if rng.random::<f64>() < flip {
                        lab = -lab;
                    }
                    rows.push(r);
                    y.push(lab);
                }
                (rows, y)
            }
        };
        let n = rows.len();
        let d = rows.first().map_or(0, |r| r.len()) + 1;
        let mut x = Vec::with_capacity(n * d);
        for r in rows {
            x.extend_from_slice(&r);
            x.push(1.0);
        }
        Ok(Problem { name: self.name(), x, y, n, d })
    }
}

/// log(1 + e^{−m}), stable.
fn softplus_neg(m: f64) -> f64 {
    if m > 0.0 { (-m).exp().ln_1p() } else { -m + m.exp().ln_1p() }
}

/// σ(−m) = 1/(1 + e^{m}), stable.
fn sigmoid_neg(m: f64) -> f64 {
    if m > 0.0 {
        let e = (-m).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + m.exp())
    }
}

impl Problem {
    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    fn margin(&self, i: usize, w: &[f64]) -> f64 {
        self.y[i] * self.row(i).iter().zip(w).map(|(a, b)| a * b).sum::<f64>()
    }

    /// Full training loss: mean log(1 + e^{−y xᵀw}) + (l2/2)‖w‖².
    pub fn loss(&self, w: &[f64], l2: f64) -> f64 {
        let data: f64 = (0..self.n).map(|i| softplus_neg(self.margin(i, w))).sum::<f64>() / self.n as f64;
        data + 0.5 * l2 * w.iter().map(|v| v * v).sum::<f64>()
    }

    /// The minimum of the training loss, by damped Newton's method (Cholesky solves) to a
    /// gradient norm of 1e-10, 200 iterations or a step the line search cannot shorten into a decrease.
    pub fn optimum(&self, l2: f64) -> f64 {
        let (n, d) = (self.n, self.d);
        let mut w = vec![0.0; d];
        let mut f = self.loss(&w, l2);
        for _ in 0..200 {
            let mut g: Vec<f64> = w.iter().map(|v| l2 * v).collect();
            let mut h = vec![0.0; d * d];
            for i in 0..n {
                let m = self.margin(i, &w);
                let p = sigmoid_neg(m);
                let r = self.row(i);
                let c = -self.y[i] * p / n as f64;
                let s = p * (1.0 - p) / n as f64;
                for a in 0..d {
                    g[a] += c * r[a];
                    let sa = s * r[a];
                    for b in 0..=a {
                        h[a * d + b] += sa * r[b];
                    }
                }
            }
            for a in 0..d {
                h[a * d + a] += l2;
                for b in 0..a {
                    h[b * d + a] = h[a * d + b];
                }
            }
            let gn = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            if gn < 1e-10 {
                break;
            }
            let step = cholesky_solve(&h, &g, d);
            let dec: f64 = g.iter().zip(&step).map(|(a, b)| a * b).sum();
            let mut t = 1.0;
            let mut moved = false;
            while t >= 1e-12 {
                let wn: Vec<f64> = w.iter().zip(&step).map(|(a, b)| a - t * b).collect();
                let fn_ = self.loss(&wn, l2);
                if fn_.is_finite() && fn_ <= f - 0.25 * t * dec {
                    w = wn;
                    f = fn_;
                    moved = true;
                    break;
                }
                t *= 0.5;
            }
            if !moved {
                break;
            }
        }
        f
    }
}

/// Solve H x = b for symmetric positive definite H (row-major d × d).
fn cholesky_solve(h: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = h[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            l[i * d + j] = if i == j { s.max(1e-300).sqrt() } else { s / l[j * d + j] };
        }
    }
    let mut z = vec![0.0; d];
    for i in 0..d {
        let s: f64 = (0..i).map(|k| l[i * d + k] * z[k]).sum();
        z[i] = (b[i] - s) / l[i * d + i];
    }
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        let s: f64 = (i + 1..d).map(|k| l[k * d + i] * x[k]).sum();
        x[i] = (z[i] - s) / l[i * d + i];
    }
    x
}

/// The minibatch indices of a run: `steps` batches of `batch` samples drawn with replacement.
/// One stream per (problem, repetition), shared by every schedule and learning rate.
pub fn batches(n: usize, steps: usize, batch: usize, seed: Seed) -> Vec<u32> {
    let mut rng = seed.child("batches").rng();
    (0..steps * batch).map(|_| rng.random_range(0..n as u32)).collect()
}

/// One SGD run from w = 0 with step lr·sched_t; returns the last iterate's training loss and,
/// when asked, the norm of every minibatch gradient (ℓ2 term included).
pub fn sgd(p: &Problem, sched: &[f64], lr: f64, l2: f64, batch: usize, idx: &[u32], norms: bool) -> (f64, Vec<f64>) {
    let d = p.d;
    let mut w = vec![0.0; d];
    let mut g = vec![0.0; d];
    let mut out = if norms { Vec::with_capacity(sched.len()) } else { vec![] };
    let inv_b = 1.0 / batch as f64;
    for (t, &s) in sched.iter().enumerate() {
        for (gj, wj) in g.iter_mut().zip(&w) {
            *gj = l2 * wj;
        }
        for &i in &idx[t * batch..(t + 1) * batch] {
            let i = i as usize;
            let m = p.margin(i, &w);
            let c = -p.y[i] * sigmoid_neg(m) * inv_b;
            for (gj, xj) in g.iter_mut().zip(p.row(i)) {
                *gj += c * xj;
            }
        }
        if norms {
            out.push(g.iter().map(|v| v * v).sum::<f64>().sqrt());
        }
        let eta = lr * s;
        for (wj, gj) in w.iter_mut().zip(&g) {
            *wj -= eta * gj;
        }
    }
    let loss = p.loss(&w, l2);
    (if loss.is_finite() { loss } else { f64::INFINITY }, out)
}
