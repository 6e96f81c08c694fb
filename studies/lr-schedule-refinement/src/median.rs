//! A running median filter with SciPy's `reflect` boundary (`d c b a | a b c d | d c b a`: the edge
//! sample is repeated), as in the repo's recipe `median_filter(G, size = 2⌊σn/2⌋ + 1)`.
//! Self-contained so it can move to `common` later.

/// The odd window 2⌊σn/2⌋ + 1 of the repo's recipe (1: no filtering).
pub fn recipe_width(sigma: f64, n: usize) -> usize {
    2 * ((sigma * n as f64 / 2.0).floor().max(0.0) as usize) + 1
}

/// Index of position `i` (may be outside 0..n) under half-sample symmetric reflection.
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let mut j = i.rem_euclid(period);
    if j >= n {
        j = period - 1 - j;
    }
    j as usize
}

/// Median of every window of odd `width` centred on each sample, reflect-padded. O(n·w).
pub fn median_filter(x: &[f64], width: usize) -> Vec<f64> {
    assert!(width % 2 == 1, "the window must be odd");
    let n = x.len();
    if n == 0 || width == 1 {
        return x.to_vec();
    }
    let h = (width / 2) as isize;
    let mut buf = vec![0.0; width];
    (0..n)
        .map(|i| {
            for (k, b) in buf.iter_mut().enumerate() {
                *b = x[reflect(i as isize - h + k as isize, n)];
            }
            let mid = width / 2;
            *buf.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1
        })
        .collect()
}
