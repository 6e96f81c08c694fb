//! The one-layer LSA's training loss through its sufficient statistics.
//!
//! The one-layer prediction `ŷ = uᵀ S B x_q = Σ_{a,b,c} u_a B_{bc} S_{ab} x_{q,c}` is linear in the
//! coefficient tensor `P_{abc} = u_a B_{bc}` (only its part symmetric in `a, b` matters, `S` being
//! symmetric): `ŷ = ⟨q(u, B), φ⟩` with the features `φ = vech(S) ⊗ x_q` of size
//! `p = (d+1)(d+2)/2 · d`. The mean squared error over a training set of prompts is therefore the
//! quartic polynomial `c₀ − 2 bᵀq + qᵀA q` in `(u, B)`, with `A = mean φφᵀ`, `b = mean y_q φ`,
//! `c₀ = mean y_q²`. Collecting `(A, b, c₀)` once (one GEMM pass over the prompts) makes each
//! full-batch gradient step cost `O(p²)` instead of a pass over the prompts, exactly: the test below
//! checks the loss and gradient against the direct forward/backward of `common::models::Lsa`.
use crate::task::{Prompt, Task};
use common::Seed;
use ndarray::{Array1, Array2};

/// The feature map and the `(u, B) → q` map of the one-layer LSA on `d`-dimensional covariates.
/// Parameters are the flat vector `θ = [u (d+1), B ((d+1)×d row-major)]`.
#[derive(Clone, Debug)]
pub struct OneLayer {
    pub d: usize,
    /// `pair[a·(d+1) + b]`: the index of the unordered pair `{a, b}` in `vech`.
    pair: Vec<usize>,
    npairs: usize,
}

impl OneLayer {
    pub fn new(d: usize) -> Self {
        let big_d = d + 1;
        let mut pair = vec![0; big_d * big_d];
        let mut k = 0;
        for a in 0..big_d {
            for b in a..big_d {
                pair[a * big_d + b] = k;
                pair[b * big_d + a] = k;
                k += 1;
            }
        }
        OneLayer { d, pair, npairs: k }
    }
    fn big_d(&self) -> usize {
        self.d + 1
    }
    /// Number of features `p`.
    pub fn num_features(&self) -> usize {
        self.npairs * self.d
    }
    pub fn num_params(&self) -> usize {
        self.big_d() * (1 + self.d)
    }
    fn idx(&self, a: usize, b: usize, c: usize) -> usize {
        self.pair[a * self.big_d() + b] * self.d + c
    }

    /// `φ = vech(S) ⊗ x_q` of a prompt with `n` context points, written into `out`.
    pub fn features(&self, p: &Prompt, n: usize, out: &mut [f64]) {
        let d = self.d;
        // vech(S) accumulated straight into the first `npairs` slots of `out` (pairs in the
        // order a ≤ b, row by row, as `pair` numbers them), then expanded in place from the back.
        let s = &mut out[..self.npairs];
        s.fill(0.0);
        for i in 0..n {
            let x = &p.x[i * d..(i + 1) * d];
            let y = p.y[i];
            let mut k = 0;
            for a in 0..d {
                let xa = x[a];
                for &xb in &x[a..] {
                    s[k] += xa * xb;
                    k += 1;
                }
                s[k] += xa * y;
                k += 1;
            }
            s[k] += y * y;
        }
        let xq = p.xq(d);
        let inv = 1.0 / n as f64;
        for k in (0..self.npairs).rev() {
            let sk = out[k] * inv;
            for (o, x) in out[k * d..(k + 1) * d].iter_mut().zip(xq) {
                *o = sk * x;
            }
        }
    }

    /// The coefficients `q(θ)` of the features.
    pub fn coeffs(&self, theta: &[f64]) -> Vec<f64> {
        let (d, big_d) = (self.d, self.big_d());
        let (u, b) = theta.split_at(big_d);
        let mut q = vec![0.0; self.num_features()];
        for (a, &ua) in u.iter().enumerate() {
            for (bb, brow) in b.chunks(d).enumerate() {
                let base = self.idx(a, bb, 0);
                for (qc, bc) in q[base..base + d].iter_mut().zip(brow) {
                    *qc += ua * bc;
                }
            }
        }
        q
    }

    /// Chain rule from `∂L/∂q` to `∂L/∂θ`.
    pub fn pull_back(&self, theta: &[f64], gq: &[f64]) -> Vec<f64> {
        let (d, big_d) = (self.d, self.big_d());
        let (u, b) = theta.split_at(big_d);
        let mut g = vec![0.0; self.num_params()];
        let (gu, gb) = g.split_at_mut(big_d);
        for a in 0..big_d {
            for bb in 0..big_d {
                let base = self.idx(a, bb, 0);
                for c in 0..d {
                    gu[a] += gq[base + c] * b[bb * d + c];
                    gb[bb * d + c] += u[a] * gq[base + c];
                }
            }
        }
        g
    }

    /// The effective preconditioner `Γ` (row-major `d × d`) of `ŷ = x_qᵀ Γ h + (other terms)`:
    /// `Γ = u_y B_xᵀ + b_y u_xᵀ`, read off the coefficients of the features `h_j x_{q,c}`.
    pub fn gamma(&self, theta: &[f64]) -> Vec<f64> {
        let q = self.coeffs(theta);
        let d = self.d;
        let mut g = vec![0.0; d * d];
        for c in 0..d {
            for j in 0..d {
                g[c * d + j] = q[self.idx(j, d, c)];
            }
        }
        g
    }

    /// The largest coefficient of the terms that are not of the form `x_qᵀ Γ h`: those on
    /// `(XᵀX/n)_{ab} x_{q,c}` and `(yᵀy/n) x_{q,c}` (zero at the paper's global minimum).
    pub fn non_gd(&self, theta: &[f64]) -> f64 {
        let q = self.coeffs(theta);
        let d = self.d;
        let mut m: f64 = 0.0;
        for a in 0..=d {
            for b in a..=d {
                if (a < d) != (b < d) {
                    continue; // the h_j = S_{j,y} block is Γ
                }
                for c in 0..d {
                    m = m.max(q[self.idx(a, b, c)].abs());
                }
            }
        }
        m
    }
}

/// Sufficient statistics of the squared loss over a training set of prompts.
#[derive(Clone, Debug)]
pub struct Stats {
    pub a: Array2<f64>,
    pub b: Array1<f64>,
    pub c0: f64,
    pub count: usize,
}

/// Chunks drawn in parallel by [`Stats::collect`] (the results do not depend on it): one per
/// thread, at most 8.
pub fn chunks_in_flight() -> usize {
    rayon::current_num_threads().clamp(1, 8)
}

/// Rows per GEMM chunk: about 4 M feature entries (32 MB), at most 4096 rows.
pub fn chunk_rows(p: usize) -> usize {
    ((1usize << 22) / p).clamp(64, 4096)
}

impl Stats {
    /// Draw `prompts` prompts of `task` (chunk `k` from `seed.child_idx("chunk", k)`, so the set
    /// does not depend on threads) and accumulate `(A, b, c₀)`.
    ///
    /// Chunks are drawn [`chunks_in_flight`] at a time in parallel, while the previous ones are
    /// accumulated on one thread in chunk order: the same sums, in the same order, as a sequential
    /// loop, whatever the thread count.
    pub fn collect(task: &Task, layer: &OneLayer, prompts: usize, seed: Seed) -> Stats {
        use faer::linalg::matmul::triangular::{BlockStructure, matmul};
        use rayon::prelude::*;
        let p = layer.num_features();
        let rows = chunk_rows(p);
        let nchunks = prompts.div_ceil(rows);
        let group = chunks_in_flight();
        /// One chunk's features (row-major `m × p`) and query responses.
        struct Chunk {
            phi: Vec<f64>,
            y: Array1<f64>,
            m: usize,
        }
        let fill = |k: usize, c: &mut Chunk| {
            c.m = rows.min(prompts - k * rows);
            let mut rng = seed.child_idx("chunk", k as u64).rng();
            let mut prompt = Prompt::default();
            for r in 0..c.m {
                task.sample_into(&mut rng, &mut prompt);
                layer.features(&prompt, task.n, &mut c.phi[r * p..(r + 1) * p]);
                c.y[r] = prompt.yq();
            }
        };
        let fill_group = |k0: usize, k1: usize, buf: &mut [Chunk]| {
            buf[..k1 - k0].par_iter_mut().enumerate().for_each(|(i, c)| fill(k0 + i, c));
        };
        // Only the lower triangle of A is accumulated (a symmetric rank-k update), then mirrored.
        let mut a = faer::Mat::<f64>::zeros(p, p);
        let mut b = Array1::<f64>::zeros(p);
        let mut c0 = 0.0;
        let mut accumulate = |c: &Chunk| {
            let m = c.m;
            let ph = faer::MatRef::from_row_major_slice(&c.phi[..m * p], m, p);
            matmul(
                a.as_mut(),
                BlockStructure::TriangularLower,
                faer::Accum::Add,
                ph.transpose(),
                BlockStructure::Rectangular,
                ph,
                BlockStructure::Rectangular,
                1.0,
                faer::Par::Seq,
            );
            let phn = ndarray::ArrayView2::from_shape((m, p), &c.phi[..m * p]).expect("chunk shape");
            let yy = c.y.slice(ndarray::s![..m]);
            b += &phn.t().dot(&yy);
            c0 += yy.dot(&yy);
        };
        let new_buf = || -> Vec<Chunk> {
            (0..group.min(nchunks)).map(|_| Chunk { phi: vec![0.0; rows * p], y: Array1::zeros(rows), m: 0 }).collect()
        };
        let (mut ready, mut spare) = (new_buf(), new_buf());
        let (mut k0, mut k1) = (0, group.min(nchunks));
        fill_group(k0, k1, &mut ready);
        while k0 < nchunks {
            let k2 = (k1 + group).min(nchunks);
            let cur = &ready[..k1 - k0];
            rayon::join(|| cur.iter().for_each(&mut accumulate), || fill_group(k1, k2, &mut spare));
            std::mem::swap(&mut ready, &mut spare);
            (k0, k1) = (k1, k2);
        }
        let inv = 1.0 / prompts as f64;
        let a = Array2::from_shape_fn((p, p), |(i, j)| inv * if i >= j { a[(i, j)] } else { a[(j, i)] });
        Stats { a, b: b * inv, c0: c0 * inv, count: prompts }
    }

    /// Mean squared error of `θ` on the training set, and its gradient.
    pub fn loss_grad(&self, layer: &OneLayer, theta: &[f64]) -> (f64, Vec<f64>) {
        let q = Array1::from(layer.coeffs(theta));
        let aq = self.a.dot(&q);
        let loss = self.c0 - 2.0 * self.b.dot(&q) + q.dot(&aq);
        let gq = (&aq - &self.b) * 2.0;
        (loss, layer.pull_back(theta, gq.as_slice().expect("contiguous")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Kind;
    use crate::train::Direct;
    use common::rng::gaussian_vec;

    #[test]
    fn loss_and_gradient_equal_the_direct_lsa() {
        for kind in [Kind::Iso, Kind::Relu] {
            let (d, n) = (3, 5);
            let task = Task { kind, d, n, sigma: 0.3, eigs: vec![], width: 4 };
            let layer = OneLayer::new(d);
            let seed = Seed(70);
            let m = 300; // spans several chunks only for big p; one chunk here
            let stats = Stats::collect(&task, &layer, m, seed);
            let theta = gaussian_vec(&mut Seed(71).rng(), layer.num_params(), 0.5).to_vec();
            let (loss, grad) = stats.loss_grad(&layer, &theta);
            // The same prompts, through the workspace's one-layer LSA (same `[u, B]` layout).
            let mut rng = seed.child_idx("chunk", 0).rng();
            let prompts: Vec<Prompt> = (0..m).map(|_| task.sample(&mut rng)).collect();
            let (direct, gd) = Direct::new(d, n, 1).sq_err_grad(&theta, &prompts);
            let direct = direct / m as f64;
            assert!((loss - direct).abs() < 1e-10 * direct, "{loss} vs {direct}");
            for (x, y) in grad.iter().zip(&gd) {
                let y = y / m as f64;
                assert!((x - y).abs() < 1e-9 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
    }

    #[test]
    fn gamma_and_non_gd_read_the_right_terms() {
        let d = 3;
        let layer = OneLayer::new(d);
        // u = e_y, B = [G; 0]  =>  ŷ = h_xᵀ G x_q = x_qᵀ Gᵀ h, so Γ = Gᵀ and nothing else.
        let g: Vec<f64> = (0..9).map(|i| i as f64 + 1.0).collect();
        let mut theta = vec![0.0; layer.num_params()];
        theta[d] = 1.0;
        theta[d + 1..d + 1 + 9].copy_from_slice(&g);
        let gamma = layer.gamma(&theta);
        for c in 0..d {
            for j in 0..d {
                assert_eq!(gamma[c * d + j], g[j * d + c]);
            }
        }
        assert_eq!(layer.non_gd(&theta), 0.0);
        // A u_x component adds the XᵀX/n x_q term.
        theta[0] = 0.5;
        assert!(layer.non_gd(&theta) > 0.0);
    }

    /// The sequential loop `collect` replaced: one chunk after the other on one thread.
    fn collect_sequential(task: &Task, layer: &OneLayer, prompts: usize, seed: Seed) -> Stats {
        use faer::linalg::matmul::triangular::{BlockStructure, matmul};
        let (p, rows) = (layer.num_features(), chunk_rows(layer.num_features()));
        let (mut a, mut b, mut c0) = (faer::Mat::<f64>::zeros(p, p), Array1::<f64>::zeros(p), 0.0);
        let (mut phi, mut y, mut prompt) = (vec![0.0; rows * p], Array1::<f64>::zeros(rows), Prompt::default());
        let (mut done, mut k) = (0, 0);
        while done < prompts {
            let m = rows.min(prompts - done);
            let mut rng = seed.child_idx("chunk", k).rng();
            for r in 0..m {
                task.sample_into(&mut rng, &mut prompt);
                layer.features(&prompt, task.n, &mut phi[r * p..(r + 1) * p]);
                y[r] = prompt.yq();
            }
            let ph = faer::MatRef::from_row_major_slice(&phi[..m * p], m, p);
            let (lower, rect) = (BlockStructure::TriangularLower, BlockStructure::Rectangular);
            matmul(a.as_mut(), lower, faer::Accum::Add, ph.transpose(), rect, ph, rect, 1.0, faer::Par::Seq);
            let phn = ndarray::ArrayView2::from_shape((m, p), &phi[..m * p]).unwrap();
            let yy = y.slice(ndarray::s![..m]);
            b += &phn.t().dot(&yy);
            c0 += yy.dot(&yy);
            done += m;
            k += 1;
        }
        let inv = 1.0 / prompts as f64;
        let a = Array2::from_shape_fn((p, p), |(i, j)| inv * if i >= j { a[(i, j)] } else { a[(j, i)] });
        Stats { a, b: b * inv, c0: c0 * inv, count: prompts }
    }

    #[test]
    fn parallel_chunks_give_the_sequential_sums_bit_for_bit() {
        // d = 3 (p = 30): chunks of 4096 prompts; 5 full chunks and a partial one, at 1, 2, 3 and 7
        // threads (groups of 1, 2, 3, 7 chunks in flight), ReLU targets (the vectorised teacher).
        let task = Task { kind: Kind::Relu, d: 3, n: 4, sigma: 0.3, eigs: vec![], width: 5 };
        let layer = OneLayer::new(3);
        let prompts = 5 * chunk_rows(layer.num_features()) + 17;
        let want = collect_sequential(&task, &layer, prompts, Seed(9));
        for threads in [1, 2, 3, 7] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| Stats::collect(&task, &layer, prompts, Seed(9)));
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(got.a.as_slice().unwrap()), bits(want.a.as_slice().unwrap()), "{threads} threads");
            assert_eq!(bits(got.b.as_slice().unwrap()), bits(want.b.as_slice().unwrap()));
            assert_eq!(got.c0.to_bits(), want.c0.to_bits());
        }
    }

    #[test]
    fn chunks_are_independent_of_the_chunk_loop() {
        // Two collections of the same seed agree bit for bit.
        let task = Task { kind: Kind::Iso, d: 2, n: 3, sigma: 0.1, eigs: vec![], width: 0 };
        let layer = OneLayer::new(2);
        let a = Stats::collect(&task, &layer, 5000, Seed(3));
        let b = Stats::collect(&task, &layer, 5000, Seed(3));
        assert_eq!(a.a, b.a);
        assert_eq!(a.c0, b.c0);
    }
}
