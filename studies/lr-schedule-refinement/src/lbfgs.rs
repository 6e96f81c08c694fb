//! A small L-BFGS minimizer with a backtracking (Armijo) line search, used on log step sizes
//! (λ = e^x keeps every step positive, as the repo's L-BFGS-B bound λ ≥ 1e-8 does).
//! Self-contained so it can move to `common` later.

/// How a minimization ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// Iterations taken.
    pub iters: usize,
    /// Function evaluations.
    pub evals: usize,
    /// The final value.
    pub f: f64,
    /// ‖∇f‖_∞ at the end.
    pub grad_inf: f64,
    /// True when the gradient or the relative decrease met the tolerance.
    pub converged: bool,
}

/// Settings.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// History length.
    pub memory: usize,
    /// Iteration cap.
    pub max_iters: usize,
    /// Stop when ‖∇f‖_∞ ≤ this.
    pub grad_tol: f64,
    /// Stop when the relative decrease over 10 iterations is below this.
    pub rel_tol: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { memory: 20, max_iters: 20_000, grad_tol: 1e-12, rel_tol: 1e-14 }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimize `f` (returning value and gradient) from `x`, in place.
pub fn minimize(x: &mut [f64], opts: Options, mut f: impl FnMut(&[f64]) -> (f64, Vec<f64>)) -> Report {
    let n = x.len();
    let (mut fx, mut g) = f(x);
    let mut evals = 1;
    let mut hist_s: Vec<Vec<f64>> = vec![];
    let mut hist_y: Vec<Vec<f64>> = vec![];
    let mut recent = vec![fx];
    let mut iters = 0;
    let mut converged = false;
    while iters < opts.max_iters {
        let ginf = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if ginf <= opts.grad_tol {
            converged = true;
            break;
        }
        // Two-loop recursion: d = −H g.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let m = hist_s.len();
        let mut alpha = vec![0.0; m];
        for i in (0..m).rev() {
            let rho = 1.0 / dot(&hist_y[i], &hist_s[i]);
            alpha[i] = rho * dot(&hist_s[i], &d);
            for (dj, yj) in d.iter_mut().zip(&hist_y[i]) {
                *dj -= alpha[i] * yj;
            }
        }
        let gamma = if m > 0 {
            dot(&hist_s[m - 1], &hist_y[m - 1]) / dot(&hist_y[m - 1], &hist_y[m - 1])
        } else {
            1.0 / ginf.max(1e-300)
        };
        d.iter_mut().for_each(|v| *v *= gamma);
        for i in 0..m {
            let rho = 1.0 / dot(&hist_y[i], &hist_s[i]);
            let beta = rho * dot(&hist_y[i], &d);
            for (dj, sj) in d.iter_mut().zip(&hist_s[i]) {
                *dj += (alpha[i] - beta) * sj;
            }
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            hist_s.clear();
            hist_y.clear();
            d = g.iter().map(|v| -v / ginf.max(1e-300)).collect();
            slope = dot(&g, &d);
        }
        // Backtracking Armijo line search.
        let mut step = 1.0;
        let mut xn = vec![0.0; n];
        let mut accepted = None;
        for _ in 0..60 {
            for j in 0..n {
                xn[j] = x[j] + step * d[j];
            }
            let (fn_, gn) = f(&xn);
            evals += 1;
            if fn_.is_finite() && fn_ <= fx + 1e-4 * step * slope {
                accepted = Some((fn_, gn));
                break;
            }
            step *= 0.5;
        }
        let Some((fn_, gn)) = accepted else { break };
        let s: Vec<f64> = (0..n).map(|j| xn[j] - x[j]).collect();
        let y: Vec<f64> = (0..n).map(|j| gn[j] - g[j]).collect();
        if dot(&s, &y) > 1e-300 {
            if hist_s.len() == opts.memory {
                hist_s.remove(0);
                hist_y.remove(0);
            }
            hist_s.push(s);
            hist_y.push(y);
        }
        x.copy_from_slice(&xn);
        fx = fn_;
        g = gn;
        iters += 1;
        recent.push(fx);
        if recent.len() > 10 {
            let old = recent.remove(0);
            if (old - fx).abs() <= opts.rel_tol * fx.abs().max(1e-300) {
                converged = true;
                break;
            }
        }
    }
    let grad_inf = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    Report { iters, evals, f: fx, grad_inf, converged }
}
