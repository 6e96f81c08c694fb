//! Linear assignment and permutation alignment of hidden units.
//!
//! - [`linear_sum_assignment`]: the Hungarian algorithm in its shortest-augmenting-path form with
//!   row/column potentials (Kuhn–Munkres as refined by Jonker & Volgenant / Edmonds–Karp), O(n²m)
//!   for an `n x m` cost with `n <= m` (the transpose otherwise). It returns, for the smaller side,
//!   a distinct partner per row (or column) minimising (or maximising) the total cost. Non-finite
//!   costs are refused ([`AssignError`]); ties are broken deterministically (lowest index first).
//! - [`weight_matching`]: Ainsworth, Hayase & Srinivasa (2023, "Git Re-Basin", Alg. 1) weight
//!   matching for a fully connected network given as per-layer `(W_l, b_l)` (`W_l` is
//!   `out x in`): permutations `P_l` of the hidden units of network B maximising
//!   `Σ_l ⟨W_l^A, P_l W_l^B P_{l-1}^T⟩ + ⟨b_l^A, P_l b_l^B⟩` by coordinate ascent, one layer at a
//!   time, each step an exact linear assignment. [`permute_layers`] applies the permutations; an
//!   elementwise activation makes the permuted network compute the same function.
//!
//! (This layer sits below `models`: the `Mlp` wrapper is `models::path::align_mlp`.)

use ndarray::{Array1, Array2, ArrayView2};

/// Why an assignment could not be computed.
#[derive(Clone, Debug, PartialEq)]
pub enum AssignError {
    /// A cost entry is NaN or infinite (row, column).
    NonFinite(usize, usize),
}

impl std::fmt::Display for AssignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssignError::NonFinite(i, j) => write!(f, "assignment: cost[{i}, {j}] is not finite"),
        }
    }
}

impl std::error::Error for AssignError {}

/// An optimal assignment.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// `row_to_col[i]`: the column matched to row `i` (`None` for the unmatched rows of a tall
    /// cost, `n > m`).
    pub row_to_col: Vec<Option<usize>>,
    /// The total cost of the matched cells.
    pub total: f64,
}

impl Assignment {
    /// The permutation of a square problem (`row_to_col` unwrapped).
    pub fn permutation(&self) -> Vec<usize> {
        self.row_to_col.iter().map(|c| c.expect("square assignment matches every row")).collect()
    }
}

/// Assignment of the rows of `cost` (`n x m`) to distinct columns minimising (or, with `maximize`,
/// maximising) the total cost. With `n <= m` every row gets a column; with `n > m` every column
/// gets a row. Empty costs give an empty assignment with total 0.
pub fn linear_sum_assignment(cost: ArrayView2<f64>, maximize: bool) -> Result<Assignment, AssignError> {
    let (n, m) = cost.dim();
    if let Some(((i, j), _)) = cost.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(AssignError::NonFinite(i, j));
    }
    let sign = if maximize { -1.0 } else { 1.0 };
    let mut row_to_col = vec![None; n];
    if n == 0 || m == 0 {
        return Ok(Assignment { row_to_col, total: 0.0 });
    }
    if n <= m {
        let a = cost.mapv(|v| sign * v);
        for (i, j) in hungarian(a.view()).into_iter().enumerate() {
            row_to_col[i] = Some(j);
        }
    } else {
        let a = cost.t().mapv(|v| sign * v);
        for (j, i) in hungarian(a.view()).into_iter().enumerate() {
            row_to_col[i] = Some(j);
        }
    }
    let total = row_to_col.iter().enumerate().filter_map(|(i, c)| c.map(|j| cost[[i, j]])).sum();
    Ok(Assignment { row_to_col, total })
}

/// Minimum-cost assignment of every row of `a` (`n x m`, `n <= m`, finite) to a distinct column:
/// shortest augmenting paths with potentials (`u` rows, `v` columns), one row added per phase.
fn hungarian(a: ArrayView2<f64>) -> Vec<usize> {
    let (n, m) = a.dim();
    debug_assert!(n <= m);
    // 1-based with a virtual column 0, as in the classical formulation.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut p = vec![0usize; m + 1]; // p[j]: the row matched to column j (0 = none)
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0usize;
            for j in 1..=m {
                if !used[j] {
                    let cur = a[[i0 - 1, j - 1]] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![0usize; n];
    for j in 1..=m {
        if p[j] != 0 {
            out[p[j] - 1] = j - 1;
        }
    }
    out
}

/// One layer of a fully connected network: weight `out x in` and optional bias.
pub type Layer = (Array2<f64>, Option<Array1<f64>>);

/// Permutations of the hidden units of network `b` that best match network `a` (weight matching;
/// see the module docs). `a` and `b` are the layers of two networks of the same shape; returns one
/// permutation per hidden layer (`perms[l]` for the output of layer `l`, `l < L-1`), with
/// `perms[l][i]` the unit of `b` that moves to position `i`. Coordinate ascent over the layers in a
/// fixed order, repeated until a sweep changes nothing or `max_sweeps` is reached.
pub fn weight_matching(a: &[Layer], b: &[Layer], max_sweeps: usize) -> Vec<Vec<usize>> {
    assert_eq!(a.len(), b.len(), "weight_matching: networks of different depth");
    for (la, lb) in a.iter().zip(b) {
        assert_eq!(la.0.dim(), lb.0.dim(), "weight_matching: layer shapes differ");
    }
    let big_l = a.len();
    let mut perms: Vec<Vec<usize>> = (0..big_l.saturating_sub(1)).map(|l| (0..a[l].0.nrows()).collect()).collect();
    for _ in 0..max_sweeps.max(1) {
        let mut changed = false;
        for l in 0..perms.len() {
            let h = a[l].0.nrows();
            // B's layer l with its input side already permuted by P_{l-1}.
            let wb_in = match l {
                0 => b[l].0.clone(),
                _ => permute_cols(&b[l].0, &perms[l - 1]),
            };
            let mut s = a[l].0.dot(&wb_in.t()); // s[i, j] = <W_A[i,:], W_B'[j,:]>
            if let (Some(ba), Some(bb)) = (&a[l].1, &b[l].1) {
                for i in 0..h {
                    for j in 0..h {
                        s[[i, j]] += ba[i] * bb[j];
                    }
                }
            }
            // The next layer's incoming weights of unit i (A) and j (B, output side permuted).
            let wb_next = match perms.get(l + 1) {
                Some(pn) => permute_rows(&b[l + 1].0, pn),
                None => b[l + 1].0.clone(),
            };
            s += &a[l + 1].0.t().dot(&wb_next);
            let perm = linear_sum_assignment(s.view(), true).expect("finite weights").permutation();
            if perm != perms[l] {
                let old: f64 = (0..h).map(|i| s[[i, perms[l][i]]]).sum();
                let new: f64 = (0..h).map(|i| s[[i, perm[i]]]).sum();
                if new > old + 1e-12 * old.abs().max(1.0) {
                    perms[l] = perm;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    perms
}

fn permute_rows(w: &Array2<f64>, perm: &[usize]) -> Array2<f64> {
    Array2::from_shape_fn(w.dim(), |(i, j)| w[[perm[i], j]])
}

fn permute_cols(w: &Array2<f64>, perm: &[usize]) -> Array2<f64> {
    Array2::from_shape_fn(w.dim(), |(i, j)| w[[i, perm[j]]])
}

/// The layers of `b` with hidden units permuted: `W_l' = P_l W_l P_{l-1}^T`, `b_l' = P_l b_l`
/// (`perms` as returned by [`weight_matching`]; input and output units stay in place).
pub fn permute_layers(b: &[Layer], perms: &[Vec<usize>]) -> Vec<Layer> {
    assert_eq!(perms.len() + 1, b.len(), "permute_layers: one permutation per hidden layer");
    b.iter()
        .enumerate()
        .map(|(l, (w, bias))| {
            let mut w = w.clone();
            if let Some(p) = perms.get(l) {
                w = permute_rows(&w, p);
            }
            if l > 0 {
                w = permute_cols(&w, &perms[l - 1]);
            }
            let bias = bias.as_ref().map(|bv| match perms.get(l) {
                Some(p) => Array1::from_shape_fn(bv.len(), |i| bv[p[i]]),
                None => bv.clone(),
            });
            (w, bias)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, gaussian_mat, gaussian_vec, permutation};
    use proptest::prelude::*;

    /// All permutations of 0..n (Heap's algorithm).
    fn all_perms(n: usize) -> Vec<Vec<usize>> {
        fn rec(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            if k <= 1 {
                out.push(a.clone());
                return;
            }
            rec(k - 1, a, out);
            for i in 0..k - 1 {
                if k.is_multiple_of(2) {
                    a.swap(i, k - 1)
                } else {
                    a.swap(0, k - 1)
                }
                rec(k - 1, a, out);
            }
        }
        let mut out = vec![];
        rec(n, &mut (0..n).collect(), &mut out);
        out
    }

    /// Brute force over injections of the rows of an `n x m` cost (`n <= m`).
    fn brute(cost: &Array2<f64>, maximize: bool) -> f64 {
        let (n, m) = cost.dim();
        let mut best = if maximize { f64::NEG_INFINITY } else { f64::INFINITY };
        for p in all_perms(m) {
            let t: f64 = (0..n).map(|i| cost[[i, p[i]]]).sum();
            best = if maximize { best.max(t) } else { best.min(t) };
        }
        best
    }

    fn check_valid(a: &Assignment, n: usize, m: usize) {
        let used: Vec<usize> = a.row_to_col.iter().flatten().copied().collect();
        assert_eq!(used.len(), n.min(m));
        let mut u = used.clone();
        u.sort();
        u.dedup();
        assert_eq!(u.len(), used.len(), "columns used twice: {used:?}");
        assert!(used.iter().all(|&j| j < m));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn matches_brute_force(seed in 0u64..100_000, n in 1usize..8, extra in 0usize..2, maximize: bool,
                               integer: bool) {
            let m = (n + extra).min(7);
            let mut rng = Seed(seed).rng();
            let mut c = gaussian_mat(&mut rng, n, m, 1.0);
            if integer {
                c.mapv_inplace(|v| (3.0 * v).round()); // many ties
            }
            let a = linear_sum_assignment(c.view(), maximize).unwrap();
            check_valid(&a, n, m);
            let b = brute(&c, maximize);
            prop_assert!((a.total - b).abs() < 1e-9, "hungarian {} vs brute {}", a.total, b);
            // Tall: the transpose gives the same optimum.
            let at = linear_sum_assignment(c.t(), maximize).unwrap();
            check_valid(&at, m, n);
            prop_assert!((at.total - b).abs() < 1e-9);
        }
    }

    #[test]
    fn identity_and_permuted_matrices() {
        let n = 30;
        let eye = Array2::from_shape_fn((n, n), |(i, j)| f64::from(u8::from(i == j)));
        let a = linear_sum_assignment(eye.view(), true).unwrap();
        assert_eq!(a.permutation(), (0..n).collect::<Vec<_>>());
        assert_eq!(a.total, n as f64);
        // A permutation matrix: maximising recovers it; minimising avoids it entirely.
        let p = permutation(&mut Seed(3).rng(), n);
        let pm = Array2::from_shape_fn((n, n), |(i, j)| f64::from(u8::from(p[i] == j)));
        assert_eq!(linear_sum_assignment(pm.view(), true).unwrap().permutation(), p);
        assert_eq!(linear_sum_assignment(pm.view(), false).unwrap().total, 0.0);
        // A Gram matrix of permuted vectors against the originals.
        let x = gaussian_mat(&mut Seed(4).rng(), n, 8, 1.0);
        let xp = Array2::from_shape_fn((n, 8), |(i, j)| x[[p[i], j]]);
        let d2 = Array2::from_shape_fn((n, n), |(i, j)| (0..8).map(|k| (xp[[i, k]] - x[[j, k]]).powi(2)).sum::<f64>());
        assert_eq!(linear_sum_assignment(d2.view(), false).unwrap().permutation(), p);
    }

    #[test]
    fn degenerate_costs() {
        // Empty, constant (all ties), one row, one column, huge spread.
        let e = Array2::<f64>::zeros((0, 5));
        assert_eq!(linear_sum_assignment(e.view(), false).unwrap().total, 0.0);
        let c = Array2::from_elem((6, 6), 2.5);
        let a = linear_sum_assignment(c.view(), false).unwrap();
        check_valid(&a, 6, 6);
        assert_eq!(a.total, 15.0);
        let row = Array2::from_shape_vec((1, 4), vec![3.0, -1.0, 2.0, -1.0]).unwrap();
        assert_eq!(linear_sum_assignment(row.view(), false).unwrap().row_to_col, vec![Some(1)]);
        let col = row.t().to_owned();
        let a = linear_sum_assignment(col.view(), true).unwrap();
        assert_eq!(a.row_to_col, vec![Some(0), None, None, None]);
        let big = Array2::from_shape_vec((2, 2), vec![-1e150, 0.0, 1.0, -1e150]).unwrap();
        assert_eq!(linear_sum_assignment(big.view(), false).unwrap().permutation(), vec![0, 1]);
        let mut bad = Array2::zeros((3, 3));
        bad[[1, 2]] = f64::NAN;
        assert_eq!(linear_sum_assignment(bad.view(), false), Err(AssignError::NonFinite(1, 2)));
        bad[[1, 2]] = f64::INFINITY;
        assert!(linear_sum_assignment(bad.view(), true).is_err());
    }

    fn tanh_net(layers: &[Layer], x: &Array2<f64>) -> Array2<f64> {
        let mut a = x.clone();
        for (l, (w, b)) in layers.iter().enumerate() {
            let mut z = a.dot(&w.t());
            if let Some(b) = b {
                z += b;
            }
            a = if l + 1 < layers.len() { z.mapv(f64::tanh) } else { z };
        }
        a
    }

    fn random_net(seed: u64, sizes: &[usize]) -> Vec<Layer> {
        let mut rng = Seed(seed).rng();
        (0..sizes.len() - 1)
            .map(|l| {
                let w = gaussian_mat(&mut rng, sizes[l + 1], sizes[l], 1.0 / (sizes[l] as f64).sqrt());
                (w, Some(gaussian_vec(&mut rng, sizes[l + 1], 0.1)))
            })
            .collect()
    }

    #[test]
    fn weight_matching_recovers_a_planted_permutation_and_keeps_the_function() {
        let sizes = [5, 9, 7, 3];
        let a = random_net(1, &sizes);
        // B = A with its hidden units shuffled (plus a little noise): matching undoes the shuffle.
        let mut rng = Seed(2).rng();
        let shuffles: Vec<Vec<usize>> = vec![permutation(&mut rng, 9), permutation(&mut rng, 7)];
        let mut b = permute_layers(&a, &shuffles);
        for (w, _) in b.iter_mut() {
            *w += &gaussian_mat(&mut rng, w.nrows(), w.ncols(), 1e-3);
        }
        let x = gaussian_mat(&mut Seed(5).rng(), 20, 5, 1.0);
        let perms = weight_matching(&a, &b, 20);
        let aligned = permute_layers(&b, &perms);
        // The same function as b (to round-off) ...
        let fb = tanh_net(&b, &x);
        let fal = tanh_net(&aligned, &x);
        assert!((&fb - &fal).iter().all(|d| d.abs() < 1e-12));
        // ... and close to a, parameter by parameter (only the noise remains).
        for ((wa, _), (wal, _)) in a.iter().zip(&aligned) {
            assert!((wa - wal).iter().all(|d| d.abs() < 1e-2));
        }
    }

    #[test]
    fn weight_matching_never_decreases_the_inner_product() {
        let sizes = [4, 12, 12, 2];
        let a = random_net(10, &sizes);
        let b = random_net(11, &sizes);
        let inner = |u: &[Layer], v: &[Layer]| -> f64 {
            u.iter()
                .zip(v)
                .map(|((wa, ba), (wb, bb))| {
                    (wa * wb).sum() + ba.as_ref().zip(bb.as_ref()).map_or(0.0, |(x, y)| x.dot(y))
                })
                .sum()
        };
        let perms = weight_matching(&a, &b, 50);
        let al = permute_layers(&b, &perms);
        assert!(inner(&a, &al) >= inner(&a, &b) - 1e-12);
        let x = gaussian_mat(&mut Seed(12).rng(), 10, 4, 1.0);
        assert!((tanh_net(&b, &x) - tanh_net(&al, &x)).iter().all(|d| d.abs() < 1e-12));
    }
}
