//! Clustering and its scores: k-means (Lloyd's iterations from k-means++ seeds), spectral
//! clustering, clustering accuracy under the best matching of labels, and normalized mutual
//! information.
//!
//! - [`kmeans`]: k-means++ seeding (Arthur & Vassilvitskii 2007: the first center uniform, each
//!   next one drawn with probability `∝ D(x)²`, the squared distance to the nearest chosen
//!   center), then Lloyd's iterations: assign every point to its nearest center (ties to the
//!   lowest index), move each center to its points' mean, until no label changes or
//!   `max_iter`. A center left without points moves to the point farthest from its own center
//!   (lowest index on ties). The best of `n_init` seedings by inertia `Σ_i ‖x_i − c_{l_i}‖²`
//!   (drawn one after another from the caller's RNG, points and centers visited in index order):
//!   the same RNG state gives the same bits.
//! - [`spectral_clustering`] (Ng, Jordan & Weiss 2001): from a symmetric non-negative affinity
//!   `W`, the normalized affinity `D^{-1/2} W D^{-1/2}` (`D = diag(W 1)`), its eigenvectors of the
//!   `k` largest eigenvalues (dense [`crate::linalg::eigh`]) as the rows of an `n x k` embedding,
//!   each row scaled to unit norm, then [`kmeans`] on the rows. [`gaussian_affinity`] builds
//!   `W_ij = exp(−‖x_i − x_j‖² / (2σ²))`, `W_ii = 0`.
//! - [`clustering_accuracy`]: `max_π (1/n) Σ_i [truth_i = π(pred_i)]` over one-to-one maps of the
//!   predicted clusters to the true classes (the contingency table's maximum-weight assignment,
//!   [`crate::linalg::assign::linear_sum_assignment`]; with more clusters than classes the extra
//!   clusters count as wrong). Invariant to renaming either labelling.
//! - [`nmi`]: `I(U; V) / ((H(U) + H(V)) / 2)`, the *arithmetic-mean* normalization, which is
//!   scikit-learn's default (`normalized_mutual_info_score(average_method="arithmetic")`; Vinh,
//!   Epps & Bailey 2010 list the variants). Natural logarithms (the ratio does not depend on the
//!   base). As in scikit-learn, two labellings with one cluster each score 1, and `I = 0` scores
//!   0. Labels are arbitrary `usize` values (not necessarily `0..k`).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng;

use crate::linalg::{assign::linear_sum_assignment, eigh};

/// Options of [`kmeans`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KmeansOpts {
    /// Cap on Lloyd iterations per seeding.
    pub max_iter: usize,
    /// Seedings tried; the one of least inertia is kept.
    pub n_init: usize,
}

impl Default for KmeansOpts {
    fn default() -> Self {
        KmeansOpts { max_iter: 300, n_init: 10 }
    }
}

/// The result of [`kmeans`].
#[derive(Clone, Debug, PartialEq)]
pub struct Kmeans {
    /// Cluster of every point, in `0..k`.
    pub labels: Vec<usize>,
    /// The centers (`k x d`).
    pub centers: Array2<f64>,
    /// `Σ_i ‖x_i − c_{l_i}‖²`.
    pub inertia: f64,
    /// Lloyd iterations of the kept seeding.
    pub iters: usize,
    /// Whether the kept seeding stopped because no label changed (not at `max_iter`).
    pub converged: bool,
}

fn sqdist(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// k-means++ seeding: `k` rows of `x` (`n x d`) as initial centers (see the module docs).
pub fn kmeans_plus_plus(x: ArrayView2<f64>, k: usize, rng: &mut impl Rng) -> Array2<f64> {
    let n = x.nrows();
    assert!(k >= 1 && k <= n, "kmeans++: k = {k} must be in 1..={n}");
    let mut centers = Array2::zeros((k, x.ncols()));
    let first = rng.random_range(0..n);
    centers.row_mut(0).assign(&x.row(first));
    let mut d2: Vec<f64> = (0..n).map(|i| sqdist(x.row(i), x.row(first))).collect();
    for c in 1..k {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let u = rng.random::<f64>() * total;
            let mut acc = 0.0;
            let mut pick = n - 1;
            for (i, d) in d2.iter().enumerate() {
                acc += d;
                if acc > u {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            // Every point coincides with a chosen center: any point will do.
            rng.random_range(0..n)
        };
        centers.row_mut(c).assign(&x.row(pick));
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(sqdist(x.row(i), x.row(pick)));
        }
    }
    centers
}

/// Lloyd's iterations from given centers.
fn lloyd(x: ArrayView2<f64>, mut centers: Array2<f64>, max_iter: usize) -> Kmeans {
    let (n, k) = (x.nrows(), centers.nrows());
    let mut labels = vec![usize::MAX; n];
    let mut iters = 0;
    let mut converged = false;
    let mut dist = vec![0.0; n];
    loop {
        let mut changed = false;
        for i in 0..n {
            let (mut best, mut bd) = (0, f64::INFINITY);
            for c in 0..k {
                let d = sqdist(x.row(i), centers.row(c));
                if d < bd {
                    (best, bd) = (c, d);
                }
            }
            dist[i] = bd;
            if labels[i] != best {
                labels[i] = best;
                changed = true;
            }
        }
        if !changed {
            converged = true;
            break;
        }
        if iters == max_iter {
            break;
        }
        iters += 1;
        let mut sums = Array2::<f64>::zeros(centers.dim());
        let mut counts = vec![0usize; k];
        for i in 0..n {
            let mut r = sums.row_mut(labels[i]);
            r += &x.row(i);
            counts[labels[i]] += 1;
        }
        for (c, &count) in counts.iter().enumerate() {
            if count > 0 {
                let mean = &sums.row(c) / count as f64;
                centers.row_mut(c).assign(&mean);
            } else {
                // Empty cluster: the point farthest from its center (lowest index on ties).
                let far = (0..n).fold(0, |b, i| if dist[i] > dist[b] { i } else { b });
                centers.row_mut(c).assign(&x.row(far));
                dist[far] = 0.0;
            }
        }
    }
    let inertia = (0..n).map(|i| sqdist(x.row(i), centers.row(labels[i]))).sum();
    Kmeans { labels, centers, inertia, iters, converged }
}

/// k-means of the rows of `x` (`n x d`) into `k` clusters (see the module docs). Panics unless
/// `1 <= k <= n` and `n_init >= 1`.
pub fn kmeans(x: ArrayView2<f64>, k: usize, opts: KmeansOpts, rng: &mut impl Rng) -> Kmeans {
    assert!(opts.n_init >= 1, "kmeans: n_init must be at least 1");
    let mut best: Option<Kmeans> = None;
    for _ in 0..opts.n_init {
        let c = kmeans_plus_plus(x, k, rng);
        let r = lloyd(x, c, opts.max_iter);
        if best.as_ref().is_none_or(|b| r.inertia < b.inertia) {
            best = Some(r);
        }
    }
    best.expect("n_init >= 1")
}

/// `W_ij = exp(−‖x_i − x_j‖² / (2σ²))` for `i ≠ j`, `W_ii = 0`, for the rows of `x`.
pub fn gaussian_affinity(x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
    assert!(sigma > 0.0, "gaussian_affinity: sigma = {sigma} must be positive");
    let n = x.nrows();
    Array2::from_shape_fn((n, n), |(i, j)| {
        if i == j { 0.0 } else { (-sqdist(x.row(i), x.row(j)) / (2.0 * sigma * sigma)).exp() }
    })
}

/// The spectral embedding of Ng, Jordan & Weiss: the eigenvectors of the `k` largest
/// eigenvalues of `D^{-1/2} W D^{-1/2}` as columns (`n x k`, largest first), rows scaled to unit
/// norm. Nodes of zero degree keep a zero row. Panics unless `W` is square and `1 <= k <= n`.
pub fn spectral_embedding(affinity: ArrayView2<f64>, k: usize) -> Array2<f64> {
    let n = affinity.nrows();
    assert_eq!(n, affinity.ncols(), "spectral_embedding: the affinity must be square");
    assert!(k >= 1 && k <= n, "spectral_embedding: k = {k} must be in 1..={n}");
    let dinv: Array1<f64> = affinity.sum_axis(Axis(1)).mapv(|d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 });
    let m = Array2::from_shape_fn((n, n), |(i, j)| dinv[i] * affinity[[i, j]] * dinv[j]);
    let m = (&m + &m.t()) * 0.5;
    let (_, vecs) = eigh(&m);
    let mut emb = Array2::zeros((n, k));
    for c in 0..k {
        emb.column_mut(c).assign(&vecs.column(n - 1 - c));
    }
    for mut r in emb.outer_iter_mut() {
        let norm = r.dot(&r).sqrt();
        if norm > 0.0 {
            r /= norm;
        }
    }
    emb
}

/// Spectral clustering of a symmetric non-negative affinity into `k` clusters:
/// [`kmeans`] on the rows of [`spectral_embedding`].
pub fn spectral_clustering(affinity: ArrayView2<f64>, k: usize, opts: KmeansOpts, rng: &mut impl Rng) -> Kmeans {
    kmeans(spectral_embedding(affinity, k).view(), k, opts, rng)
}

/// Labels renamed to `0..k` in increasing order of their values, and `k`.
fn dense_labels(l: &[usize]) -> (Vec<usize>, usize) {
    let mut u = l.to_vec();
    u.sort_unstable();
    u.dedup();
    (l.iter().map(|x| u.binary_search(x).expect("present")).collect(), u.len())
}

/// The contingency table `N[a, b] = #{i : u_i = a, v_i = b}` of two labellings (labels renamed
/// to `0..k` in increasing order).
pub fn contingency(u: &[usize], v: &[usize]) -> Array2<f64> {
    assert_eq!(u.len(), v.len(), "contingency: labellings of lengths {} and {}", u.len(), v.len());
    let ((du, ku), (dv, kv)) = (dense_labels(u), dense_labels(v));
    let mut c = Array2::zeros((ku, kv));
    for (a, b) in du.into_iter().zip(dv) {
        c[[a, b]] += 1.0;
    }
    c
}

/// Clustering accuracy: the share of points whose predicted cluster maps to their true class
/// under the best one-to-one map (Hungarian matching on the contingency table). 1 for empty
/// input.
pub fn clustering_accuracy(truth: &[usize], pred: &[usize]) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    let c = contingency(truth, pred);
    let a = linear_sum_assignment(c.view(), true).expect("counts are finite");
    a.total / truth.len() as f64
}

fn entropy_of_counts(c: impl Iterator<Item = f64>, n: f64) -> f64 {
    c.filter(|&x| x > 0.0).map(|x| -(x / n) * (x / n).ln()).sum()
}

/// Mutual information `I(U; V) = Σ_ab p_ab ln(p_ab / (p_a p_b))` of two labellings (nats).
pub fn mutual_info(u: &[usize], v: &[usize]) -> f64 {
    let c = contingency(u, v);
    let n = u.len() as f64;
    let (pu, pv) = (c.sum_axis(Axis(1)), c.sum_axis(Axis(0)));
    let mut mi = 0.0;
    for ((a, b), &x) in c.indexed_iter() {
        if x > 0.0 {
            mi += x / n * (x * n / (pu[a] * pv[b])).ln();
        }
    }
    mi.max(0.0)
}

/// Normalized mutual information with the arithmetic-mean normalization (see the module docs).
pub fn nmi(u: &[usize], v: &[usize]) -> f64 {
    let c = contingency(u, v);
    if (c.nrows() <= 1 && c.ncols() <= 1) || u.is_empty() {
        return 1.0;
    }
    let mi = mutual_info(u, v);
    if mi == 0.0 {
        return 0.0;
    }
    let n = u.len() as f64;
    let hu = entropy_of_counts(c.sum_axis(Axis(1)).into_iter(), n);
    let hv = entropy_of_counts(c.sum_axis(Axis(0)).into_iter(), n);
    (mi / (0.5 * (hu + hv))).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat, permutation};
    use proptest::prelude::*;
    use rand::Rng;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Renaming the predicted clusters (or the classes) changes neither score.
        #[test]
        fn scores_are_invariant_to_label_permutation(seed in 0u64..10_000, n in 1usize..60, k in 1usize..6) {
            let mut rng = Seed(seed).rng();
            let truth: Vec<usize> = (0..n).map(|_| rng.random_range(0..k)).collect();
            let pred: Vec<usize> = (0..n).map(|_| rng.random_range(0..k + 1)).collect();
            let perm = permutation(&mut rng, k + 1);
            let renamed: Vec<usize> = pred.iter().map(|&p| 10 * perm[p] + 3).collect();
            let acc = clustering_accuracy(&truth, &pred);
            prop_assert!((acc - clustering_accuracy(&truth, &renamed)).abs() < 1e-15);
            prop_assert!((nmi(&truth, &pred) - nmi(&truth, &renamed)).abs() < 1e-12);
            prop_assert!((nmi(&truth, &pred) - nmi(&pred, &truth)).abs() < 1e-12);
            // Accuracy is at least the share of the largest class mapped from one cluster and at most 1.
            prop_assert!(acc <= 1.0 && acc >= 1.0 / n as f64);
            prop_assert!((clustering_accuracy(&truth, &truth.iter().map(|t| perm[t % (k + 1)] + 7).collect::<Vec<_>>()) - 1.0).abs() < 1e-15);
        }
    }

    /// By hand: truth {0,0,0,1,1,1}, prediction {0,0,1,1,2,2}. Best map 0→0, 2→1 gets 4 of 6.
    /// I = 2·(1/3) ln((1/3)/((1/2)(1/3))) = (2/3) ln 2; H(U) = ln 2, H(V) = ln 3;
    /// NMI = (2/3) ln 2 / ((ln 2 + ln 3)/2) = (4/3) ln 2 / ln 6 = 0.515803742979...
    /// (scikit-learn: 0.5158037429793889).
    #[test]
    fn worked_example() {
        let (u, v) = ([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]);
        assert!((clustering_accuracy(&u, &v) - 4.0 / 6.0).abs() < 1e-15);
        assert!((mutual_info(&u, &v) - 2.0 / 3.0 * 2f64.ln()).abs() < 1e-15);
        let want = 4.0 / 3.0 * 2f64.ln() / 6f64.ln();
        assert!((nmi(&u, &v) - want).abs() < 1e-15);
        assert!((want - 0.5158037429793889).abs() < 1e-15);
        assert_eq!(nmi(&[1, 1, 1], &[4, 4, 4]), 1.0);
        assert_eq!(nmi(&[1, 1, 2], &[4, 4, 4]), 0.0);
        assert_eq!(nmi(&[0, 1, 2, 3], &[9, 8, 7, 6]), 1.0);
    }

    #[test]
    fn nmi_of_independent_labellings_is_near_zero() {
        let mut rng = Seed(4).rng();
        let u: Vec<usize> = (0..20_000).map(|_| rng.random_range(0..4)).collect();
        let v: Vec<usize> = (0..20_000).map(|_| rng.random_range(0..5)).collect();
        // E[I] ≈ (k_u − 1)(k_v − 1) / (2n) = 3e-4 nats; NMI ≈ that / ((ln 4 + ln 5)/2).
        assert!(nmi(&u, &v) < 2e-3, "{}", nmi(&u, &v));
    }

    fn blobs(seed: u64, centers: &[[f64; 2]], per: usize, sd: f64) -> (Array2<f64>, Vec<usize>) {
        let z = gaussian_mat(&mut Seed(seed).rng(), centers.len() * per, 2, sd);
        let mut x = z;
        let mut labels = vec![];
        for (c, m) in centers.iter().enumerate() {
            for i in 0..per {
                x[[c * per + i, 0]] += m[0];
                x[[c * per + i, 1]] += m[1];
                labels.push(c);
            }
        }
        (x, labels)
    }

    #[test]
    fn kmeans_finds_separated_blobs_deterministically() {
        let (x, truth) = blobs(1, &[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], 50, 1.0);
        let r = kmeans(x.view(), 3, KmeansOpts::default(), &mut Seed(2).rng());
        assert!(r.converged);
        assert_eq!(clustering_accuracy(&truth, &r.labels), 1.0);
        assert_eq!(r, kmeans(x.view(), 3, KmeansOpts::default(), &mut Seed(2).rng()));
        // Inertia is the sum of squared distances to the assigned centers, each center the mean.
        for c in 0..3 {
            let pts: Vec<usize> = (0..150).filter(|&i| r.labels[i] == c).collect();
            let mean = x.select(Axis(0), &pts).mean_axis(Axis(0)).unwrap();
            assert!((&mean - &r.centers.row(c)).iter().all(|v| v.abs() < 1e-12));
        }
        // One cluster: the center is the mean.
        let one = kmeans(x.view(), 1, KmeansOpts { max_iter: 10, n_init: 1 }, &mut Seed(0).rng());
        assert!((&one.centers.row(0) - &x.mean_axis(Axis(0)).unwrap()).iter().all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn spectral_clustering_separates_two_rings() {
        let mut rng = Seed(8).rng();
        let n = 200;
        let mut x = Array2::zeros((n, 2));
        let mut truth = vec![];
        for i in 0..n {
            let ring = i % 2;
            let r = if ring == 0 { 1.0 } else { 4.0 };
            let t = rng.random_range(0.0..std::f64::consts::TAU);
            x[[i, 0]] = r * t.cos() + 0.1 * rng.random_range(-1.0..1.0);
            x[[i, 1]] = r * t.sin() + 0.1 * rng.random_range(-1.0..1.0);
            truth.push(ring);
        }
        let w = gaussian_affinity(x.view(), 0.5);
        let sc = spectral_clustering(w.view(), 2, KmeansOpts::default(), &mut Seed(1).rng());
        assert_eq!(clustering_accuracy(&truth, &sc.labels), 1.0);
        assert!((nmi(&truth, &sc.labels) - 1.0).abs() < 1e-12);
        // k-means on the raw coordinates cannot: the rings share a center.
        let km = kmeans(x.view(), 2, KmeansOpts::default(), &mut Seed(1).rng());
        assert!(clustering_accuracy(&truth, &km.labels) < 0.8);
    }
}
