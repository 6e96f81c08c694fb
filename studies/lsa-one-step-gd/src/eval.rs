//! Held-out ICL risk: the mean squared error of several predictors on the same fresh prompts
//! (common random numbers, so that their differences are measured precisely).
use crate::task::{Prompt, Task};
use common::Seed;
use rayon::prelude::*;

const CHUNK: usize = 4096;

/// Mean squared error on `prompts` fresh prompts of each of the `k` predictions that `predict`
/// writes for a prompt (its third argument is a scratch buffer, reused across prompts). Chunk `c` of prompts comes from `seed.child_idx("chunk", c)`; chunks run in
/// parallel and are summed in order, so the result does not depend on the thread count.
pub fn held_out<F>(task: &Task, prompts: usize, seed: Seed, k: usize, predict: F) -> Vec<f64>
where
    F: Fn(&Prompt, &mut [f64], &mut Vec<f64>) + Sync,
{
    let chunks = prompts.div_ceil(CHUNK);
    let sums: Vec<Vec<f64>> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let mut rng = seed.child_idx("chunk", c as u64).rng();
            let mut p = Prompt::default();
            let mut out = vec![0.0; k];
            let mut s = vec![0.0; k];
            let mut scratch = vec![];
            for _ in 0..CHUNK.min(prompts - c * CHUNK) {
                task.sample_into(&mut rng, &mut p);
                predict(&p, &mut out, &mut scratch);
                let yq = p.yq();
                for (si, o) in s.iter_mut().zip(&out) {
                    *si += (o - yq) * (o - yq);
                }
            }
            s
        })
        .collect();
    let mut tot = vec![0.0; k];
    for s in &sums {
        tot.iter_mut().zip(s).for_each(|(t, v)| *t += v);
    }
    tot.iter().map(|t| t / prompts as f64).collect()
}

/// `x_qᵀ Γ h` for a row-major `d × d` matrix `Γ`.
pub fn precond_gd(p: &Prompt, d: usize, n: usize, gamma: &[f64]) -> f64 {
    let h = p.h(d, n);
    let xq = p.xq(d);
    (0..d).map(|c| xq[c] * (0..d).map(|j| gamma[c * d + j] * h[j]).sum::<f64>()).sum()
}

/// [`precond_gd`] with `h` already computed ([`Prompt::h_into`]): the same number.
pub fn precond_gd_h(p: &Prompt, d: usize, h: &[f64], gamma: &[f64]) -> f64 {
    let xq = p.xq(d);
    (0..d).map(|c| xq[c] * (0..d).map(|j| gamma[c * d + j] * h[j]).sum::<f64>()).sum()
}

/// [`gd`] with `h` already computed ([`Prompt::h_into`]): the same number.
pub fn gd_h(p: &Prompt, d: usize, h: &[f64], eta: f64) -> f64 {
    eta * h.iter().zip(p.xq(d)).map(|(a, b)| a * b).sum::<f64>()
}

/// `η x_qᵀ h`: one GD step of size `η` from `w = 0` on `(1/2n) Σ (wᵀx_i − y_i)²`.
pub fn gd(p: &Prompt, d: usize, n: usize, eta: f64) -> f64 {
    eta * p.h(d, n).iter().zip(p.xq(d)).map(|(a, b)| a * b).sum::<f64>()
}

/// The posterior mean of a linear model with prior `w ~ N(0, diag(prior_prec)⁻¹)` and noise `σ²`:
/// `x_qᵀ (XᵀX + σ² diag(prior_prec))⁻¹ Xᵀy` (the Bayes-optimal prediction; ridge regression).
pub fn ridge(p: &Prompt, d: usize, n: usize, sigma: f64, prior_prec: &[f64]) -> f64 {
    let lam = (sigma * sigma).max(1e-10);
    let mut a = vec![0.0; d * d];
    let mut r = vec![0.0; d];
    for i in 0..n {
        let x = &p.x[i * d..(i + 1) * d];
        for j in 0..d {
            r[j] += x[j] * p.y[i];
            for k in 0..=j {
                a[j * d + k] += x[j] * x[k];
            }
        }
    }
    for j in 0..d {
        a[j * d + j] += lam * prior_prec[j];
    }
    common::linalg::dense::cholesky_solve_in_place(&mut a, &mut r, d);
    r.iter().zip(p.xq(d)).map(|(w, x)| w * x).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Kind;
    use crate::theory;

    #[test]
    fn ridge_solves_the_normal_equations() {
        let t = Task { kind: Kind::Iso, d: 3, n: 6, sigma: 0.5, eigs: vec![], width: 0 };
        let p = t.sample(&mut Seed(2).rng());
        let prec = [1.0, 2.0, 0.5];
        let got = ridge(&p, 3, 6, 0.5, &prec);
        // Dense check through faer.
        let x = ndarray::Array2::from_shape_vec((6, 3), p.x[..18].to_vec()).unwrap();
        let y = ndarray::Array1::from(p.y[..6].to_vec());
        let mut a = x.t().dot(&x);
        for j in 0..3 {
            a[[j, j]] += 0.25 * prec[j];
        }
        let (w, v) = common::linalg::eigh(&a);
        let xty = x.t().dot(&y);
        let sol = v.dot(&(v.t().dot(&xty) / &w));
        let want: f64 = sol.iter().zip(p.xq(3)).map(|(a, b)| a * b).sum();
        assert!((got - want).abs() < 1e-10, "{got} vs {want}");
    }

    #[test]
    fn held_out_gd_risk_matches_the_closed_form() {
        let t = Task { kind: Kind::Iso, d: 5, n: 20, sigma: 0.5, eigs: vec![], width: 0 };
        let e = theory::eta_star(20, 5, 0.5);
        let r = held_out(&t, 100_000, Seed(8), 2, |p, out, _| {
            out[0] = gd(p, 5, 20, e);
            out[1] = gd(p, 5, 20, 1.0);
        });
        assert!((r[0] / theory::risk_opt(20, 5, 0.5) - 1.0).abs() < 0.015, "{r:?}");
        assert!((r[1] / theory::risk_gd(1.0, 20, 5, 0.5) - 1.0).abs() < 0.015, "{r:?}");
        let gamma: Vec<f64> = (0..25).map(|i| if i % 6 == 0 { e } else { 0.0 }).collect();
        let r2 = held_out(&t, 100_000, Seed(8), 1, |p, out, _| out[0] = precond_gd(p, 5, 20, &gamma));
        assert!((r2[0] - r[0]).abs() < 1e-9);
    }
}
