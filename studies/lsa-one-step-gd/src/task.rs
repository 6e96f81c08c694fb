//! Random in-context regression prompts: `n` context points `(x_i, y_i)` and a query `(x_q, y_q)`,
//! with a fresh task (weight vector or ReLU teacher) per prompt.
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The three data distributions of the paper's theorems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Thm 1: `x ~ N(0, I)`, `w ~ N(0, I)`, `y = wᵀx + ε`.
    Iso,
    /// Thm 2: `x ~ N(0, Σ)`, `w ~ N(0, Σ⁻¹)`, `y = wᵀx + ε`, `Σ = diag(eigs)`.
    Aniso,
    /// Thm 3: `x ~ N(0, I)`, `y = aᵀReLU(Vx)/√m + ε` with `V`, `a` standard Gaussian per prompt.
    Relu,
}

/// A prompt distribution.
#[derive(Clone, Debug)]
pub struct Task {
    pub kind: Kind,
    pub d: usize,
    pub n: usize,
    pub sigma: f64,
    /// Covariance eigenvalues (only for `Aniso`; length `d`).
    pub eigs: Vec<f64>,
    /// Hidden width `m` of the ReLU teacher (only for `Relu`).
    pub width: usize,
}

/// One prompt: rows `0..n` of `x` are the context, row `n` the query; same for `y`.
#[derive(Clone, Debug, Default)]
pub struct Prompt {
    /// `(n+1) × d`, row-major.
    pub x: Vec<f64>,
    /// `n + 1` responses (the last is the query's target `y_q`).
    pub y: Vec<f64>,
}

impl Prompt {
    pub fn xq(&self, d: usize) -> &[f64] {
        &self.x[self.x.len() - d..]
    }
    pub fn yq(&self) -> f64 {
        *self.y.last().expect("a prompt has a query")
    }
    /// The prompt as one input row of `common::models::Lsa`:
    /// `[x_1, y_1, …, x_n, y_n, x_q]` (`n (d+1) + d` numbers).
    pub fn packed(&self, d: usize, n: usize) -> Vec<f64> {
        let mut row = Vec::with_capacity(n * (d + 1) + d);
        for i in 0..n {
            row.extend_from_slice(&self.x[i * d..(i + 1) * d]);
            row.push(self.y[i]);
        }
        row.extend_from_slice(self.xq(d));
        row
    }
    /// `h = (1/n) Σ_{i<n} y_i x_i` (the negative gradient of the least-squares loss at `w = 0`).
    pub fn h(&self, d: usize, n: usize) -> Vec<f64> {
        let mut h = vec![0.0; d];
        self.h_into(d, n, &mut h);
        h
    }
    /// [`Prompt::h`] into `h` (length `d`).
    pub fn h_into(&self, d: usize, n: usize, h: &mut [f64]) {
        h.fill(0.0);
        for i in 0..n {
            let yi = self.y[i] / n as f64;
            for (hk, xk) in h.iter_mut().zip(&self.x[i * d..(i + 1) * d]) {
                *hk += yi * xk;
            }
        }
    }
}

fn normal(rng: &mut impl Rng) -> f64 {
    StandardNormal.sample(rng)
}

impl Task {
    /// Draw one prompt into `p` (buffers are reused).
    pub fn sample_into(&self, rng: &mut impl Rng, p: &mut Prompt) {
        let (d, n) = (self.d, self.n);
        p.x.resize((n + 1) * d, 0.0);
        p.y.resize(n + 1, 0.0);
        match self.kind {
            Kind::Iso | Kind::Aniso => {
                let aniso = self.kind == Kind::Aniso;
                // w ~ N(0, Σ⁻¹), x ~ N(0, Σ).
                let w: Vec<f64> = (0..d)
                    .map(|k| {
                        let z = normal(rng);
                        if aniso { z / self.eigs[k].sqrt() } else { z }
                    })
                    .collect();
                for i in 0..=n {
                    let row = &mut p.x[i * d..(i + 1) * d];
                    let mut yi = 0.0;
                    for k in 0..d {
                        let z = normal(rng);
                        row[k] = if aniso { z * self.eigs[k].sqrt() } else { z };
                        yi += w[k] * row[k];
                    }
                    p.y[i] = yi + self.sigma * normal(rng);
                }
            }
            Kind::Relu => {
                let m = self.width;
                // V (m × d, drawn row by row) is kept transposed, so that the m pre-activations
                // v_jᵀx accumulate side by side (vectorised over j), each in the order k = 0..d of
                // a plain dot product starting from -0.0 (as `Iterator::sum`): the same numbers.
                let mut vt = vec![0.0; m * d];
                for j in 0..m {
                    for k in 0..d {
                        vt[k * m + j] = normal(rng);
                    }
                }
                let a: Vec<f64> = (0..m).map(|_| normal(rng) / (m as f64).sqrt()).collect();
                let mut pre = vec![0.0; m];
                for i in 0..=n {
                    let row = &mut p.x[i * d..(i + 1) * d];
                    for r in row.iter_mut() {
                        *r = normal(rng);
                    }
                    pre.fill(-0.0);
                    for (k, &xk) in row.iter().enumerate() {
                        for (pj, vj) in pre.iter_mut().zip(&vt[k * m..(k + 1) * m]) {
                            *pj += vj * xk;
                        }
                    }
                    let mut yi = 0.0;
                    for (aj, pj) in a.iter().zip(&pre) {
                        yi += aj * pj.max(0.0);
                    }
                    p.y[i] = yi + self.sigma * normal(rng);
                }
            }
        }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> Prompt {
        let mut p = Prompt::default();
        self.sample_into(rng, &mut p);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory;
    use common::Seed;

    fn task(kind: Kind, d: usize, n: usize, sigma: f64) -> Task {
        Task { kind, d, n, sigma, eigs: (0..d).map(|k| 0.5 + k as f64).collect(), width: 16 }
    }

    #[test]
    fn relu_teacher_gives_the_numbers_of_a_plain_dot_product() {
        // The ReLU branch as first written: V row by row, each v_jᵀx an iterator sum.
        let t = task(Kind::Relu, 5, 20, 0.5);
        let (d, n, m) = (t.d, t.n, t.width);
        let (mut rng_a, mut rng_b) = (Seed(4).rng(), Seed(4).rng());
        let mut p = Prompt::default();
        for _ in 0..2000 {
            t.sample_into(&mut rng_a, &mut p);
            let v: Vec<f64> = (0..m * d).map(|_| normal(&mut rng_b)).collect();
            let a: Vec<f64> = (0..m).map(|_| normal(&mut rng_b) / (m as f64).sqrt()).collect();
            for i in 0..=n {
                let row: Vec<f64> = (0..d).map(|_| normal(&mut rng_b)).collect();
                let mut yi = 0.0;
                for j in 0..m {
                    let pre: f64 = v[j * d..(j + 1) * d].iter().zip(&row).map(|(a, b)| a * b).sum();
                    yi += a[j] * pre.max(0.0);
                }
                assert_eq!(row, p.x[i * d..(i + 1) * d]);
                assert_eq!((yi + t.sigma * normal(&mut rng_b)).to_bits(), p.y[i].to_bits());
            }
        }
    }

    /// Monte-Carlo estimate of (E[y_q x_qᵀh], E[(x_qᵀh)²]) with a standard error of the ratio.
    fn ratio_mc(t: &Task, samples: usize, seed: u64) -> (f64, f64) {
        let mut rng = Seed(seed).rng();
        let (mut sc, mut sh) = (0.0, 0.0);
        let mut rs = Vec::with_capacity(samples);
        let mut p = Prompt::default();
        for _ in 0..samples {
            t.sample_into(&mut rng, &mut p);
            let h = p.h(t.d, t.n);
            let f: f64 = p.xq(t.d).iter().zip(&h).map(|(a, b)| a * b).sum();
            sc += p.yq() * f;
            sh += f * f;
            rs.push((p.yq() * f, f * f));
        }
        let (mc, mh) = (sc / samples as f64, sh / samples as f64);
        let g = mc / mh;
        // Delta-method standard error of the ratio of means.
        let var: f64 = rs.iter().map(|(c, h)| (c - g * h).powi(2)).sum::<f64>() / samples as f64;
        (g, (var / samples as f64).sqrt() / mh)
    }

    #[test]
    fn isotropic_step_size_matches_the_wishart_closed_form() {
        // The ratio E[y_q x_qᵀh]/E[(x_qᵀh)²] is the best scalar step; theory says n/(n+d+1+σ²).
        let t = task(Kind::Iso, 5, 20, 0.5);
        let (g, se) = ratio_mc(&t, 200_000, 11);
        let e = theory::eta_star(20, 5, 0.5);
        assert!((g - e).abs() < 5.0 * se, "MC {g} ± {se} vs closed form {e}");
        assert!(se < 0.01);
    }

    #[test]
    fn relu_step_size_matches_the_stein_closed_form() {
        let t = task(Kind::Relu, 5, 20, 0.5);
        let (g, se) = ratio_mc(&t, 200_000, 12);
        let e = theory::gamma_star_relu(20, 5, 0.5);
        assert!((g - e).abs() < 5.0 * se, "MC {g} ± {se} vs closed form {e}");
        assert!(se < 0.01);
    }

    #[test]
    fn relu_target_moments() {
        // E[y²] = d/2 + σ² for the ReLU teacher.
        let t = task(Kind::Relu, 4, 3, 0.5);
        let mut rng = Seed(13).rng();
        let k = 100_000;
        let mean_y2 = (0..k).map(|_| t.sample(&mut rng).yq().powi(2)).sum::<f64>() / k as f64;
        assert!((mean_y2 - 2.25).abs() < 0.05, "{mean_y2}");
    }

    #[test]
    fn anisotropic_prompts_have_the_right_covariance_and_signal() {
        let t = task(Kind::Aniso, 3, 1, 0.0);
        let mut rng = Seed(14).rng();
        let k = 100_000;
        let (mut cov, mut y2) = ([0.0; 3], 0.0);
        for _ in 0..k {
            let p = t.sample(&mut rng);
            for (c, x) in cov.iter_mut().zip(p.xq(3)) {
                *c += x * x / k as f64;
            }
            y2 += p.yq().powi(2) / k as f64;
        }
        for (c, l) in cov.iter().zip(&t.eigs) {
            assert!((c / l - 1.0).abs() < 0.03, "{cov:?}");
        }
        // wᵀx with w ~ N(0, Σ⁻¹), x ~ N(0, Σ) has variance d.
        assert!((y2 / 3.0 - 1.0).abs() < 0.03, "{y2}");
    }
}
