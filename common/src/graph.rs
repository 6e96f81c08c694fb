//! Graphs as edge lists, their generators, and the gather/scatter primitives of message passing.
//!
//! A [`Graph`] on nodes `0..n` is a list of directed edges `e = (src_e, dst_e)`; messages flow
//! from `src` to `dst`. An undirected graph stores both directions of each edge
//! ([`Graph::from_undirected`]; the generators return such graphs, edges sorted by
//! `(src, dst)`). Node features are matrices with one row per node (`n x f`), edge features one
//! row per edge (`E x f`).
//!
//! - Message passing: [`gather_rows`] (`out[e] = x[idx[e]]`) and [`scatter_add_rows`]
//!   (`out[idx[e]] += y[e]`, summed in edge order, so the bits do not depend on threads) are
//!   adjoint: `⟨gather(x), y⟩ = ⟨x, scatter(y)⟩`. [`Graph::aggregation`] is the matrix of
//!   "sum over in-edges", `P[dst_e, src_e] = w_e`, so `P X = scatter_add(w ⊙ gather(X, src), dst)`;
//!   [`Graph::normalized_adjacency`] is `D_in⁻¹ P` (mean over in-neighbours: rows sum to 1, rows
//!   of nodes without in-edges are 0), the row-stochastic operator of fixed-point GNNs (Park et
//!   al. 2022, "Convergent Graph Solvers": `‖γ A‖_∞ ≤ γ`). [`Graph::laplacian`] is the weighted
//!   graph Laplacian `D − W` (SPD on the complement of the constants for a connected graph).
//! - Generators (seeded by the caller's RNG, `Seed(s).rng()`): [`grid_2d`] (4-neighbour lattice),
//!   [`random_geometric`] (uniform points in the unit square, edges within a radius; Penrose
//!   2003), [`erdos_renyi`] (each pair independently with probability `p`, pairs drawn in
//!   lexicographic order), [`random_in_edges`] (every node receives `k` in-edges from distinct
//!   random other nodes, the graphs of the CGS value-iteration task).

use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand::seq::index::sample;

use crate::linalg::CsrMatrix;

/// A bad edge list.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// An edge names a node outside `0..n`.
    #[error("graph: edge {edge} = ({src}, {dst}) names a node outside 0..{n}")]
    NodeOutOfRange {
        /// The edge's position in the list.
        edge: usize,
        /// Its source.
        src: usize,
        /// Its destination.
        dst: usize,
        /// The number of nodes.
        n: usize,
    },
    /// The edge weights do not match the edges, or one is not finite.
    #[error("graph: {0}")]
    BadWeights(String),
}

/// A directed graph on nodes `0..n` as an edge list (see the module docs for the conventions).
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    n: usize,
    src: Vec<usize>,
    dst: Vec<usize>,
}

impl Graph {
    /// The directed graph with the edges `(src, dst)` in the given order (repeats and self-loops
    /// are kept). Errors on a node outside `0..n`.
    pub fn from_edges(n: usize, edges: &[(usize, usize)]) -> Result<Self, GraphError> {
        if let Some((edge, &(src, dst))) = edges.iter().enumerate().find(|(_, (s, d))| *s >= n || *d >= n) {
            return Err(GraphError::NodeOutOfRange { edge, src, dst, n });
        }
        Ok(Graph { n, src: edges.iter().map(|e| e.0).collect(), dst: edges.iter().map(|e| e.1).collect() })
    }

    /// The undirected graph with the given pairs: both directions of each, sorted by
    /// `(src, dst)`, repeats removed.
    pub fn from_undirected(n: usize, pairs: &[(usize, usize)]) -> Result<Self, GraphError> {
        let mut e: Vec<(usize, usize)> = pairs.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).collect();
        e.sort_unstable();
        e.dedup();
        Graph::from_edges(n, &e)
    }

    /// Nodes.
    pub fn n_nodes(&self) -> usize {
        self.n
    }
    /// Directed edges (twice the number of undirected ones).
    pub fn n_edges(&self) -> usize {
        self.src.len()
    }
    /// Sources of the edges.
    pub fn src(&self) -> &[usize] {
        &self.src
    }
    /// Destinations of the edges.
    pub fn dst(&self) -> &[usize] {
        &self.dst
    }
    /// The edges `(src, dst)` in order.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.src.iter().copied().zip(self.dst.iter().copied())
    }
    /// In-degree of every node (edges ending there).
    pub fn in_degree(&self) -> Vec<usize> {
        count(self.n, &self.dst)
    }
    /// Out-degree of every node (edges starting there); equal to the in-degree for an undirected
    /// graph.
    pub fn out_degree(&self) -> Vec<usize> {
        count(self.n, &self.src)
    }

    fn check_weights(&self, w: Option<&[f64]>) -> Result<(), GraphError> {
        if let Some(w) = w {
            if w.len() != self.n_edges() {
                return Err(GraphError::BadWeights(format!("{} weights for {} edges", w.len(), self.n_edges())));
            }
            if let Some(e) = w.iter().position(|x| !x.is_finite()) {
                return Err(GraphError::BadWeights(format!("weight of edge {e} is not finite")));
            }
        }
        Ok(())
    }

    /// The aggregation matrix `P` (`n x n`) with `P[dst_e, src_e] = w_e` (1 without weights;
    /// repeated edges summed): `(P x)_i = Σ_{e: dst_e = i} w_e x_{src_e}`.
    pub fn aggregation(&self, weights: Option<&[f64]>) -> Result<CsrMatrix, GraphError> {
        self.check_weights(weights)?;
        let t: Vec<(usize, usize, f64)> =
            self.edges().enumerate().map(|(e, (s, d))| (d, s, weights.map_or(1.0, |w| w[e]))).collect();
        Ok(CsrMatrix::from_triplets(self.n, self.n, &t).expect("edges are in range and weights finite"))
    }

    /// The row-normalized adjacency `D_in⁻¹ P` (the mean over in-neighbours): every row of a
    /// node with in-edges sums to 1, the rows of the others are 0.
    pub fn normalized_adjacency(&self) -> CsrMatrix {
        self.aggregation(None).expect("unweighted").row_normalized()
    }

    /// The weighted graph Laplacian `L = D − P` with `P` = [`Graph::aggregation`] and
    /// `D = diag(row sums of P)`: `(L x)_i = Σ_{e: dst_e = i} w_e (x_i − x_{src_e})`. Symmetric
    /// for an undirected graph with equal weights on both directions of each edge.
    pub fn laplacian(&self, weights: Option<&[f64]>) -> Result<CsrMatrix, GraphError> {
        let p = self.aggregation(weights)?;
        let deg = p.row_sums();
        let mut t: Vec<(usize, usize, f64)> = Vec::with_capacity(p.nnz() + self.n);
        for i in 0..self.n {
            let (c, v) = p.row(i);
            t.extend(c.iter().zip(v).map(|(&j, &x)| (i, j, -x)));
            t.push((i, i, deg[i]));
        }
        Ok(CsrMatrix::from_triplets(self.n, self.n, &t).expect("in range"))
    }

    /// Source features of every edge: `out[e] = x[src_e]` (`E x f`).
    pub fn gather_src(&self, x: ArrayView2<f64>) -> Array2<f64> {
        gather_rows(x, &self.src)
    }
    /// Destination features of every edge: `out[e] = x[dst_e]` (`E x f`).
    pub fn gather_dst(&self, x: ArrayView2<f64>) -> Array2<f64> {
        gather_rows(x, &self.dst)
    }
    /// Sum of edge messages into their destinations: `out[i] = Σ_{e: dst_e = i} y[e]` (`n x f`).
    pub fn scatter_add_dst(&self, y: ArrayView2<f64>) -> Array2<f64> {
        scatter_add_rows(y, &self.dst, self.n)
    }
    /// Sum of edge messages into their sources: `out[i] = Σ_{e: src_e = i} y[e]` (`n x f`).
    pub fn scatter_add_src(&self, y: ArrayView2<f64>) -> Array2<f64> {
        scatter_add_rows(y, &self.src, self.n)
    }
}

fn count(n: usize, idx: &[usize]) -> Vec<usize> {
    let mut d = vec![0; n];
    idx.iter().for_each(|&i| d[i] += 1);
    d
}

/// `out[e] = x[idx[e]]`: the rows of `x` picked by `idx` (`idx.len() x f`).
pub fn gather_rows(x: ArrayView2<f64>, idx: &[usize]) -> Array2<f64> {
    let mut out = Array2::zeros((idx.len(), x.ncols()));
    for (mut o, &i) in out.outer_iter_mut().zip(idx) {
        o.assign(&x.row(i));
    }
    out
}

/// `out[idx[e]] += y[e]` into `n` zero rows, in the order of `e` (the adjoint of
/// [`gather_rows`]). Panics on an index `>= n`.
pub fn scatter_add_rows(y: ArrayView2<f64>, idx: &[usize], n: usize) -> Array2<f64> {
    assert_eq!(y.nrows(), idx.len(), "scatter_add_rows: {} rows for {} indices", y.nrows(), idx.len());
    let mut out = Array2::zeros((n, y.ncols()));
    for (r, &i) in y.outer_iter().zip(idx) {
        let mut o = out.row_mut(i);
        o += &r;
    }
    out
}

/// The 4-neighbour lattice on `nx x ny` nodes, node `i + nx j` at position `(i, j)`.
pub fn grid_2d(nx: usize, ny: usize) -> Graph {
    let mut pairs = vec![];
    for j in 0..ny {
        for i in 0..nx {
            let p = i + nx * j;
            if i + 1 < nx {
                pairs.push((p, p + 1));
            }
            if j + 1 < ny {
                pairs.push((p, p + nx));
            }
        }
    }
    Graph::from_undirected(nx * ny, &pairs).expect("in range")
}

/// A random geometric graph: `n` points uniform in `[0, 1]²` (drawn `x` then `y`, point by
/// point), an undirected edge between every pair at distance `<= radius`. Returns the graph and
/// the positions (`n x 2`).
pub fn random_geometric(n: usize, radius: f64, rng: &mut impl Rng) -> (Graph, Array2<f64>) {
    let mut pos = Array2::zeros((n, 2));
    for mut p in pos.outer_iter_mut() {
        p[0] = rng.random::<f64>();
        p[1] = rng.random::<f64>();
    }
    let mut pairs = vec![];
    for a in 0..n {
        for b in a + 1..n {
            let (dx, dy) = (pos[[a, 0]] - pos[[b, 0]], pos[[a, 1]] - pos[[b, 1]]);
            if dx * dx + dy * dy <= radius * radius {
                pairs.push((a, b));
            }
        }
    }
    (Graph::from_undirected(n, &pairs).expect("in range"), pos)
}

/// The Erdős–Rényi graph `G(n, p)`: each unordered pair `{a < b}` is an undirected edge with
/// probability `p`, one uniform draw per pair in lexicographic order.
pub fn erdos_renyi(n: usize, p: f64, rng: &mut impl Rng) -> Graph {
    let mut pairs = vec![];
    for a in 0..n {
        for b in a + 1..n {
            if rng.random::<f64>() < p {
                pairs.push((a, b));
            }
        }
    }
    Graph::from_undirected(n, &pairs).expect("in range")
}

/// A directed graph in which every node `i` (in order) receives `k` in-edges from `k` distinct
/// other nodes drawn uniformly (edges sorted by destination, then in draw order). Panics unless
/// `k < n`.
pub fn random_in_edges(n: usize, k: usize, rng: &mut impl Rng) -> Graph {
    assert!(k < n.max(1), "random_in_edges: {k} in-edges need more than {n} nodes");
    let mut edges = Vec::with_capacity(n * k);
    for i in 0..n {
        // Sample from the n - 1 others: index j >= i stands for j + 1.
        for j in sample(rng, n - 1, k).into_iter() {
            edges.push((if j >= i { j + 1 } else { j }, i));
        }
    }
    Graph::from_edges(n, &edges).expect("in range")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat};
    use ndarray::Array1;
    use proptest::prelude::*;
    use rand::Rng;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// ⟨gather(x), y⟩ = ⟨x, scatter(y)⟩ for any index list (repeats included).
        #[test]
        fn scatter_add_is_the_adjoint_of_gather(seed in 0u64..10_000, n in 1usize..15, e in 0usize..40, f in 1usize..4) {
            let mut rng = Seed(seed).rng();
            let idx: Vec<usize> = (0..e).map(|_| rng.random_range(0..n)).collect();
            let x = gaussian_mat(&mut rng, n, f, 1.0);
            let y = gaussian_mat(&mut rng, e, f, 1.0);
            let lhs = (&gather_rows(x.view(), &idx) * &y).sum();
            let rhs = (&x * &scatter_add_rows(y.view(), &idx, n)).sum();
            prop_assert!((lhs - rhs).abs() <= 1e-12 * (1.0 + lhs.abs()));
        }

        /// Rows of the normalized adjacency sum to 1 (0 for nodes without in-edges), and it
        /// equals mean aggregation through gather/scatter.
        #[test]
        fn normalized_adjacency_is_row_stochastic(seed in 0u64..10_000, n in 1usize..30, p in 0.0f64..0.5) {
            let g = erdos_renyi(n, p, &mut Seed(seed).rng());
            let a = g.normalized_adjacency();
            let deg = g.in_degree();
            for (i, s) in a.row_sums().iter().enumerate() {
                let want = if deg[i] > 0 { 1.0 } else { 0.0 };
                prop_assert!((s - want).abs() < 1e-14);
            }
            let x = gaussian_mat(&mut Seed(seed).child("x").rng(), n, 2, 1.0);
            let mut mean = g.scatter_add_dst(g.gather_src(x.view()).view());
            for (mut r, &d) in mean.outer_iter_mut().zip(&deg) {
                if d > 0 {
                    r /= d as f64;
                }
            }
            prop_assert!((&a.matmat(x.view()) - &mean).iter().all(|v| v.abs() < 1e-12));
            prop_assert_eq!(g.in_degree(), g.out_degree());
        }
    }

    #[test]
    fn grid_degrees_and_laplacian() {
        let g = grid_2d(4, 3);
        assert_eq!(g.n_nodes(), 12);
        assert_eq!(g.n_edges(), 2 * (3 * 3 + 4 * 2));
        let d = g.in_degree();
        assert_eq!((d[0], d[1], d[5]), (2, 3, 4));
        let l = g.laplacian(None).unwrap();
        assert!(l.is_symmetric(0.0));
        assert!(l.row_sums().iter().all(|s| s.abs() < 1e-15));
        let w: Vec<f64> = g.edges().map(|(s, t)| 1.0 + (s + t) as f64).collect();
        let lw = g.laplacian(Some(&w)).unwrap();
        assert!(lw.is_symmetric(1e-15));
        // x^T L x = Σ_{undirected edges} w (x_a − x_b)².
        let x: Array1<f64> = (0..12).map(|i| (i as f64).sin()).collect();
        let q = x.dot(&lw.matvec(x.view()));
        let direct: f64 =
            g.edges().zip(&w).filter(|((s, t), _)| s < t).map(|((s, t), w)| w * (x[s] - x[t]).powi(2)).sum();
        assert!((q - direct).abs() < 1e-12 * direct);
        assert!(g.aggregation(Some(&[1.0])).is_err());
        assert!(Graph::from_edges(2, &[(0, 2)]).is_err());
    }

    #[test]
    fn generators_are_seeded_and_well_formed() {
        let (g, pos) = random_geometric(40, 0.3, &mut Seed(1).rng());
        let (g2, pos2) = random_geometric(40, 0.3, &mut Seed(1).rng());
        assert_eq!((&g, &pos), (&g2, &pos2));
        for (s, t) in g.edges() {
            assert_ne!(s, t);
            let d = (&pos.row(s) - &pos.row(t)).mapv(|v| v * v).sum().sqrt();
            assert!(d <= 0.3);
        }
        // Every close pair is an edge (both directions).
        let close = (0..40)
            .flat_map(|a| (0..40).map(move |b| (a, b)))
            .filter(|&(a, b)| a != b && (&pos.row(a) - &pos.row(b)).mapv(|v| v * v).sum() <= 0.09)
            .count();
        assert_eq!(close, g.n_edges());
        // G(n, p): the edge count is near its mean p n (n − 1) (directed).
        let er = erdos_renyi(200, 0.1, &mut Seed(2).rng());
        let m = er.n_edges() as f64;
        let mean = 0.1 * 200.0 * 199.0;
        assert!((m - mean).abs() < 4.0 * (2.0 * mean * 0.9).sqrt(), "{m} vs {mean}");
        let r = random_in_edges(20, 5, &mut Seed(3).rng());
        assert!(r.in_degree().iter().all(|&d| d == 5));
        assert!(r.edges().all(|(s, t)| s != t));
        for i in 0..20 {
            let mut srcs: Vec<usize> = r.edges().filter(|e| e.1 == i).map(|e| e.0).collect();
            srcs.sort_unstable();
            srcs.dedup();
            assert_eq!(srcs.len(), 5);
        }
    }
}
