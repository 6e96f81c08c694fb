//! Statistics shared by the studies' claims: means with standard deviations and errors, medians and
//! quantiles, Spearman's rank correlation, R², least-squares, log-log and linear-rate fits with
//! confidence intervals, a median filter (shrinking or SciPy-reflected edges), a seeded k-fold splitter, grids and thinning for
//! figures. Every function here is tested against a closed form.
//!
//! [`cluster`]: k-means (k-means++ seeds), spectral clustering, clustering accuracy (Hungarian
//! matching) and normalized mutual information.

pub mod cluster;

/// Centered kernel alignment of two `n x n` kernel (Gram) matrices (Kornblith et al. 2019, as used
/// between the NTKs at two times): `⟨HK₁H, HK₂H⟩_F / (‖HK₁H‖_F ‖HK₂H‖_F)` with the centering
/// `H = I − 11ᵀ/n`. In [−1, 1] (in [0, 1] for PSD kernels), 1 for kernels equal up to a positive
/// scale, invariant to adding a constant to every entry; NaN where a centered kernel is 0.
pub fn cka(k1: ndarray::ArrayView2<f64>, k2: ndarray::ArrayView2<f64>) -> f64 {
    let n = k1.nrows();
    assert!(k1.dim() == (n, n) && k2.dim() == (n, n), "cka: two n x n kernels, got {:?} and {:?}", k1.dim(), k2.dim());
    let center = |k: ndarray::ArrayView2<f64>| {
        let rows = k.mean_axis(ndarray::Axis(1)).unwrap_or_default();
        let cols = k.mean_axis(ndarray::Axis(0)).unwrap_or_default();
        let all = k.mean().unwrap_or(0.0);
        ndarray::Array2::from_shape_fn((n, n), |(i, j)| k[[i, j]] - rows[i] - cols[j] + all)
    };
    let (c1, c2) = (center(k1), center(k2));
    let dot = |a: &ndarray::Array2<f64>, b: &ndarray::Array2<f64>| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let den = (dot(&c1, &c1) * dot(&c2, &c2)).sqrt();
    if den > 0.0 { dot(&c1, &c2) / den } else { f64::NAN }
}

/// Ordinary least squares of `y` on `x`: `(slope, intercept)`.
pub fn ols(x: &[f64], y: &[f64]) -> (f64, f64) {
    assert_eq!(x.len(), y.len(), "ols: x and y differ in length");
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

/// Least-squares slope of `ln y` against `ln x`: the exponent of `y ~ c x^slope`. NaN when fewer
/// than two points, or when any value is not positive (a power law has no such points).
pub fn loglog_slope(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "loglog_slope: x and y differ in length");
    if x.len() < 2 || x.iter().chain(y).any(|v| v.is_nan() || *v <= 0.0 || v.is_infinite()) {
        return f64::NAN;
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    ols(&lx, &ly).0
}

/// Mean and standard error of the mean (sample standard deviation with n - 1; NaN error for
/// fewer than two values).
pub fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (m, f64::NAN);
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// Median (mean of the middle two for an even length; infinities allowed, e.g. runs that hit a
/// step cap; NaNs sort last, by `f64::total_cmp`).
pub fn median(v: &[f64]) -> f64 {
    let mut w = v.to_vec();
    w.sort_by(f64::total_cmp);
    let n = w.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        w[n / 2]
    } else {
        0.5 * (w[n / 2 - 1] + w[n / 2])
    }
}

/// Arithmetic mean (NaN for an empty slice).
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Mean and sample standard deviation (n − 1; 0 for one value, NaN for none).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = mean(v);
    let sd = match v.len() {
        0 => f64::NAN,
        1 => 0.0,
        n => (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt(),
    };
    (m, sd)
}

/// The largest value, NaN if any value is NaN (a missing measurement fails what it feeds).
pub fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, |m, x| if x.is_nan() || m.is_nan() { f64::NAN } else { m.max(x) })
}

/// The smallest value, NaN if any value is NaN.
pub fn min(v: &[f64]) -> f64 {
    -max(&v.iter().map(|x| -x).collect::<Vec<_>>())
}

/// The `q`-quantile (0 <= q <= 1) with linear interpolation between order statistics (numpy's
/// default); NaN for an empty slice.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let mut w = v.to_vec();
    w.sort_by(f64::total_cmp);
    if w.is_empty() || !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    let h = q * (w.len() - 1) as f64;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    w[lo] + (h - lo as f64) * (w[hi] - w[lo])
}

/// `log10(mean_k exp(l_k))` for natural logs `l_k`, without overflow.
pub fn log10_mean_exp(l: &[f64]) -> f64 {
    let m = max(l);
    (m + (l.iter().map(|x| (x - m).exp()).sum::<f64>() / l.len() as f64).ln()) / std::f64::consts::LN_10
}

/// Ranks (0-based, ties get the mean of their positions).
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0; v.len()];
    let mut k = 0;
    while k < idx.len() {
        let mut e = k;
        while e + 1 < idx.len() && v[idx[e + 1]] == v[idx[k]] {
            e += 1;
        }
        for &i in &idx[k..=e] {
            r[i] = (k + e) as f64 / 2.0;
        }
        k = e + 1;
    }
    r
}

/// Pearson correlation (NaN when either side is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "pearson: lengths differ");
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Spearman rank correlation (Pearson on the tie-averaged ranks).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// Coefficient of determination of predictions `pred` for `y`: `1 − SS_res / SS_tot`.
pub fn r2(y: &[f64], pred: &[f64]) -> f64 {
    assert_eq!(y.len(), pred.len(), "r2: lengths differ");
    let m = mean(y);
    let ss_res: f64 = y.iter().zip(pred).map(|(a, b)| (a - b).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - m).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

/// A least-squares line with its uncertainty.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Standard error of the slope (NaN with fewer than three points).
    pub se_slope: f64,
    /// 95 % confidence interval of the slope (Student t with n − 2 degrees of freedom).
    pub ci95: (f64, f64),
    /// R² of the fit.
    pub r2: f64,
}

/// Two-sided 97.5 % quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        // Cornish-Fisher expansion around the normal quantile: < 1e-3 off beyond 30.
        _ => {
            let (z, d) = (1.959_964f64, df as f64);
            z + (z.powi(3) + z) / (4.0 * d) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

/// Least squares of `y` on `x` with the slope's standard error and 95 % interval.
pub fn linfit(x: &[f64], y: &[f64]) -> Fit {
    let (slope, intercept) = ols(x, y);
    let n = x.len();
    let pred: Vec<f64> = x.iter().map(|v| intercept + slope * v).collect();
    let (se, ci) = if n > 2 {
        let mx = mean(x);
        let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
        let ss: f64 = y.iter().zip(&pred).map(|(a, b)| (a - b).powi(2)).sum();
        let se = (ss / (n - 2) as f64 / sxx).sqrt();
        let h = t975(n - 2) * se;
        (se, (slope - h, slope + h))
    } else {
        (f64::NAN, (f64::NAN, f64::NAN))
    };
    Fit { slope, intercept, se_slope: se, ci95: ci, r2: r2(y, &pred) }
}

/// [`linfit`] of `ln y` on `ln x` (the exponent of a power law); all-NaN when a value is not
/// positive and finite or there are fewer than two points.
pub fn loglog_fit(x: &[f64], y: &[f64]) -> Fit {
    assert_eq!(x.len(), y.len(), "loglog_fit: x and y differ in length");
    if x.len() < 2 || x.iter().chain(y).any(|v| !(v.is_finite() && *v > 0.0)) {
        let n = f64::NAN;
        return Fit { slope: n, intercept: n, se_slope: n, ci95: (n, n), r2: n };
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    linfit(&lx, &ly)
}

/// `n` evenly spaced points from `a` to `b` inclusive (`[a]` for n = 1).
pub fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![a];
    }
    (0..n).map(|i| a + (b - a) * i as f64 / (n - 1) as f64).collect()
}

/// `n` points from `a` to `b` (both > 0) evenly spaced in log.
pub fn logspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    linspace(a.ln(), b.ln(), n).into_iter().map(f64::exp).collect()
}

/// Indices of at most about `max` points of a curve of `len` points for a figure, evenly spaced in
/// the index (or geometrically, for a log x axis), always keeping the first and the last.
pub fn thin_indices(len: usize, max: usize, log_x: bool) -> Vec<usize> {
    if len <= max.max(2) {
        return (0..len).collect();
    }
    let mut out: Vec<usize> = if log_x {
        logspace(1.0, len as f64, max).into_iter().map(|v| (v.round() as usize).clamp(1, len) - 1).collect()
    } else {
        linspace(0.0, (len - 1) as f64, max).into_iter().map(|v| v.round() as usize).collect()
    };
    out.dedup();
    out
}

/// A linear (geometric) convergence rate: `err_k ≈ C ρ^k`, fitted by [`linfit`] of `ln err_k` on
/// `k`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateFit {
    /// The contraction factor per unit of `k`, `ρ = exp(slope)` (< 1 for convergence).
    pub rate: f64,
    /// 95 % confidence interval of `ρ` (the slope's interval, exponentiated).
    pub ci95: (f64, f64),
    /// The fit of `ln err` on `k` (slope `ln ρ`, intercept `ln C`).
    pub fit: Fit,
}

/// Fit `err_k ≈ C ρ^k` through the points `(k, err_k)` (`k` need not be consecutive or
/// integer): least squares of `ln err` on `k`. All-NaN when an error is not positive and finite
/// or there are fewer than two points; the interval is NaN with fewer than three.
pub fn linear_rate(k: &[f64], err: &[f64]) -> RateFit {
    assert_eq!(k.len(), err.len(), "linear_rate: k and err differ in length");
    if k.len() < 2 || err.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        let n = f64::NAN;
        let fit = Fit { slope: n, intercept: n, se_slope: n, ci95: (n, n), r2: n };
        return RateFit { rate: n, ci95: (n, n), fit };
    }
    let le: Vec<f64> = err.iter().map(|v| v.ln()).collect();
    let fit = linfit(k, &le);
    RateFit { rate: fit.slope.exp(), ci95: (fit.ci95.0.exp(), fit.ci95.1.exp()), fit }
}

/// How [`median_filter_with`] fills a window that runs past either end of the signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// The window shrinks symmetrically (never padded): the first and last values are kept, a
    /// monotone sequence comes back unchanged. [`median_filter`].
    Shrink,
    /// The signal is extended by half-sample symmetric reflection, `d c b a | a b c d | d c b a`
    /// (the edge sample repeated), periodically (period `2n`) for windows wider than the signal:
    /// SciPy's `scipy.ndimage.median_filter(x, size = k, mode = 'reflect')`, its default (checked
    /// against SciPy 1.17 for half-widths below `2n`; for wider windows SciPy reads past its own
    /// padding and returns other values).
    Reflect,
}

/// Running median with an odd window `k`: `out[i]` is the [`median`] of `v[i - r ..= i + r]`
/// with `r = min((k - 1) / 2, i, n - 1 - i)`. At the edges the window shrinks symmetrically
/// (never padded), so the first and last values are kept as they are and the window stays
/// centred: a monotone sequence comes back unchanged, and `k = 1` is the identity. NaNs sort
/// last, as in [`median`]. Panics on an even `k`. [`median_filter_with`] with [`Edge::Shrink`].
pub fn median_filter(v: &[f64], k: usize) -> Vec<f64> {
    median_filter_with(v, k, Edge::Shrink)
}

/// Running median with an odd window `k` centred on each sample, the edges handled as `edge`
/// says ([`Edge::Shrink`]: [`median_filter`]; [`Edge::Reflect`]: every window has `k` samples,
/// read from the reflected signal, as SciPy's `reflect` mode). `k = 1` is the identity under
/// either. NaNs sort last, as in [`median`]. Panics on an even `k`.
pub fn median_filter_with(v: &[f64], k: usize, edge: Edge) -> Vec<f64> {
    assert!(k % 2 == 1, "median_filter: the window must be odd, got {k}");
    let (n, h) = (v.len(), k / 2);
    match edge {
        Edge::Shrink => (0..n)
            .map(|i| {
                let r = h.min(i).min(n - 1 - i);
                median(&v[i - r..=i + r])
            })
            .collect(),
        Edge::Reflect => {
            let mut w = vec![0.0; k];
            (0..n)
                .map(|i| {
                    for (j, x) in w.iter_mut().enumerate() {
                        *x = v[reflect_index(i as isize + j as isize - h as isize, n)];
                    }
                    median(&w)
                })
                .collect()
        }
    }
}

/// The sample that position `i` (possibly outside `0..n`, `n > 0`) reads under half-sample
/// symmetric reflection: `-1 -> 0`, `n -> n - 1`, period `2n`.
fn reflect_index(i: isize, n: usize) -> usize {
    let n = n as isize;
    let j = i.rem_euclid(2 * n);
    (if j < n { j } else { 2 * n - 1 - j }) as usize
}

/// One split of a k-fold cross-validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fold {
    /// Held-out indices, ascending.
    pub test: Vec<usize>,
    /// The other indices, ascending.
    pub train: Vec<usize>,
}

/// Split `0..n` into `k` folds at random, deterministically given `seed`: a seeded permutation
/// cut into `k` consecutive blocks, the first `n mod k` of size `⌈n/k⌉` and the others `⌊n/k⌋`.
/// The test sets partition `0..n`; each fold trains on the rest. Panics unless `1 <= k <= n`.
pub fn kfold(n: usize, k: usize, seed: crate::rng::Seed) -> Vec<Fold> {
    assert!(k >= 1 && k <= n, "kfold: need 1 <= k <= n, got k = {k}, n = {n}");
    let perm = crate::rng::permutation(&mut seed.rng(), n);
    let (base, extra) = (n / k, n % k);
    let mut start = 0;
    (0..k)
        .map(|f| {
            let len = base + usize::from(f < extra);
            let mut test = perm[start..start + len].to_vec();
            test.sort_unstable();
            let mut train: Vec<usize> = perm[..start].iter().chain(&perm[start + len..]).copied().collect();
            train.sort_unstable();
            start += len;
            Fold { test, train }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ols_recovers_a_line(a in -5.0f64..5.0, b in -5.0f64..5.0, n in 2usize..30) {
            let x: Vec<f64> = (0..n).map(|i| i as f64 * 0.7 - 3.0).collect();
            let y: Vec<f64> = x.iter().map(|v| a * v + b).collect();
            let (s, c) = ols(&x, &y);
            prop_assert!((s - a).abs() < 1e-9 && (c - b).abs() < 1e-9);
        }

        #[test]
        fn loglog_slope_recovers_a_power_law(c in 0.1f64..10.0, p in -3.0f64..3.0) {
            let x = [1.0f64, 2.0, 5.0, 10.0, 100.0];
            let y: Vec<f64> = x.iter().map(|v| c * v.powf(p)).collect();
            prop_assert!((loglog_slope(&x, &y) - p).abs() < 1e-9);
        }
    }

    #[test]
    fn cka_closed_forms() {
        use ndarray::{Array2, array};
        // Linear kernels XXᵀ: equal up to scale → 1; a constant added to every entry → unchanged.
        let x = array![[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-1.0, 3.0]];
        let k = x.dot(&x.t());
        assert!((cka(k.view(), k.view()) - 1.0).abs() < 1e-14);
        assert!((cka(k.view(), (&k * 5.0 + 7.0).view()) - 1.0).abs() < 1e-14);
        // Two centered indicator kernels of orthogonal splits: 0 (a hand-computed case).
        // u = (1, 1, −1, −1), v = (1, −1, 1, −1): centered already, ⟨uuᵀ, vvᵀ⟩ = (u·v)² = 0.
        let u = array![1.0, 1.0, -1.0, -1.0];
        let v = array![1.0, -1.0, 1.0, -1.0];
        let outer = |a: &ndarray::Array1<f64>| Array2::from_shape_fn((4, 4), |(i, j)| a[i] * a[j]);
        assert!(cka(outer(&u).view(), outer(&v).view()).abs() < 1e-15);
        // w = u + v/2: CKA(uuᵀ, wwᵀ) = (u·w)²/(|u|²|w|²) = 16/(4·5) = 0.8.
        let w = &u + &(&v * 0.5);
        assert!((cka(outer(&u).view(), outer(&w).view()) - 0.8).abs() < 1e-14);
        // The nearest wrong form, uncentered alignment, moves when a constant is added to a kernel.
        let raw = |a: &Array2<f64>, b: &Array2<f64>| {
            let d = |p: &Array2<f64>, q: &Array2<f64>| p.iter().zip(q).map(|(s, t)| s * t).sum::<f64>();
            d(a, b) / (d(a, a) * d(b, b)).sqrt()
        };
        // uuᵀ + 11ᵀ against wwᵀ: centered 0.8 still, uncentered 16/(√32·5) = 0.566.
        assert!((cka((outer(&u) + 1.0).view(), outer(&w).view()) - 0.8).abs() < 1e-14);
        assert!((raw(&(outer(&u) + 1.0), &outer(&w)) - 16.0 / (32f64.sqrt() * 5.0)).abs() < 1e-14);
        assert!(cka(Array2::zeros((3, 3)).view(), k.slice(ndarray::s![..3, ..3])).is_nan());
    }

    #[test]
    fn closed_forms() {
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let (m, sd) = mean_sd(&v);
        assert_eq!(m, 5.0);
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-15);
        assert_eq!(quantile(&v, 0.5), median(&v));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
        assert_eq!((max(&v), min(&v)), (9.0, 2.0));
        assert!(max(&[1.0, f64::NAN]).is_nan() && min(&[f64::NAN, 1.0]).is_nan());
        assert_eq!(ranks(&[10.0, 30.0, 20.0, 20.0]), vec![0.0, 3.0, 1.5, 1.5]);
        assert!((spearman(&[1.0, 2.0, 3.0], &[1.0, 8.0, 27.0]) - 1.0).abs() < 1e-15);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-15);
        assert!((log10_mean_exp(&[1000.0f64.ln(), 3000.0f64.ln()]) - 2000.0f64.log10()).abs() < 1e-12);
        assert!((log10_mean_exp(&[1e4, 1e4]) - 1e4 / std::f64::consts::LN_10).abs() < 1e-9);
        assert_eq!(r2(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
        assert_eq!(r2(&[1.0, 2.0, 3.0], &[2.0, 2.0, 2.0]), 0.0);
        assert_eq!(linspace(0.0, 1.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert!((logspace(1.0, 100.0, 3)[1] - 10.0).abs() < 1e-12);
        let t = thin_indices(1000, 10, false);
        assert_eq!((t[0], *t.last().unwrap(), t.len()), (0, 999, 10));
        let t = thin_indices(1000, 10, true);
        assert_eq!((t[0], *t.last().unwrap()), (0, 999));
        assert_eq!(thin_indices(3, 10, true), vec![0, 1, 2]);
        // t quantiles: table and the expansion meet smoothly.
        assert_eq!(t975(1), 12.706);
        assert!((t975(31) - 2.0395).abs() < 2e-3 && (t975(1000) - 1.9623).abs() < 1e-3);
    }

    #[test]
    fn fit_interval_covers_the_truth_at_the_nominal_rate() {
        // y = 2x + 1 + noise: the 95 % interval of the slope covers 2 in about 95 % of draws.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let x: Vec<f64> = (0..8).map(|i| i as f64).collect();
        let mut hits = 0;
        for _ in 0..2000 {
            let y: Vec<f64> =
                x.iter().map(|v| 2.0 * v + 1.0 + rng.sample::<f64, _>(rand_distr::StandardNormal)).collect();
            let f = linfit(&x, &y);
            hits += (f.ci95.0 <= 2.0 && 2.0 <= f.ci95.1) as usize;
        }
        assert!((1850..=1950).contains(&hits), "coverage {hits}/2000");
        let f = loglog_fit(&[1.0, 2.0, 4.0], &[1.0, 0.5, 0.25]);
        assert!((f.slope + 1.0).abs() < 1e-12 && (f.r2 - 1.0).abs() < 1e-12);
        assert!(loglog_fit(&[1.0, 2.0], &[1.0, -1.0]).slope.is_nan());
    }

    proptest! {
        /// `ρ` and `C` of an exact geometric sequence, at any spacing of `k`.
        #[test]
        fn linear_rate_recovers_a_geometric_sequence(rho in 0.01f64..0.999, c in 1e-3f64..1e3, n in 3usize..40, step in 1usize..5) {
            let k: Vec<f64> = (0..n).map(|i| (i * step) as f64).collect();
            let err: Vec<f64> = k.iter().map(|&k| c * rho.powf(k)).collect();
            let r = linear_rate(&k, &err);
            prop_assert!((r.rate - rho).abs() < 1e-9 * rho);
            prop_assert!((r.fit.intercept.exp() - c).abs() < 1e-8 * c);
            prop_assert!(r.ci95.0 <= r.rate * (1.0 + 1e-9) && r.rate <= r.ci95.1 * (1.0 + 1e-9));
        }

        /// Monotone sequences pass unchanged; the output is sorted window by window like a
        /// brute-force median; `k = 1` is the identity.
        #[test]
        fn median_filter_properties(v in proptest::collection::vec(-10.0f64..10.0, 0..40), h in 0usize..5) {
            let k = 2 * h + 1;
            prop_assert_eq!(median_filter(&v, 1), v.clone());
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            prop_assert_eq!(median_filter(&sorted, k), sorted.clone());
            let out = median_filter(&v, k);
            prop_assert_eq!(out.len(), v.len());
            for (i, o) in out.iter().enumerate() {
                let r = h.min(i).min(v.len() - 1 - i);
                let mut w = v[i - r..=i + r].to_vec();
                w.sort_by(f64::total_cmp);
                prop_assert_eq!(*o, w[r]);
            }
        }

        /// Reflect mode equals the median of each window of a signal padded by tiling `v` and
        /// its reverse (`.. v rev(v) [v] rev(v) v ..`, SciPy's `reflect` for any width); away
        /// from the edges it agrees with shrink mode; `k = 1` is the identity.
        #[test]
        fn median_filter_reflect_properties(v in proptest::collection::vec(-10.0f64..10.0, 1..30), h in 0usize..40) {
            let (n, k) = (v.len(), 2 * h + 1);
            prop_assert_eq!(median_filter_with(&v, 1, Edge::Reflect), v.clone());
            let reps = h / n + 1;
            let rev: Vec<f64> = v.iter().rev().copied().collect();
            let padded: Vec<f64> =
                (0..2 * reps + 1).flat_map(|t| if (t + reps) % 2 == 0 { v.clone() } else { rev.clone() }).collect();
            let out = median_filter_with(&v, k, Edge::Reflect);
            let shrink = median_filter(&v, k);
            prop_assert_eq!(out.len(), n);
            for (i, o) in out.iter().enumerate() {
                let c = reps * n + i;
                let mut w = padded[c - h..=c + h].to_vec();
                w.sort_by(f64::total_cmp);
                prop_assert_eq!(*o, w[h]);
                if i >= h && i + h < n {
                    prop_assert_eq!(*o, shrink[i]);
                }
            }
        }

        /// The folds partition `0..n`, sizes differ by at most one, train = the complement, and
        /// the split is a function of the seed.
        #[test]
        fn kfold_partitions(n in 1usize..60, k in 1usize..12, seed in 0u64..1000) {
            let k = k.min(n);
            let folds = kfold(n, k, crate::rng::Seed(seed));
            prop_assert_eq!(folds.len(), k);
            let mut all: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
            let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
            prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            for f in &folds {
                let want: Vec<usize> = (0..n).filter(|i| !f.test.contains(i)).collect();
                prop_assert_eq!(&f.train, &want);
                prop_assert!(f.test.windows(2).all(|w| w[0] < w[1]));
            }
            prop_assert_eq!(&folds, &kfold(n, k, crate::rng::Seed(seed)));
        }
    }

    #[test]
    fn rate_filter_and_folds_closed_forms() {
        // err = 2^-k: rate 1/2 exactly; noisy errors: the interval covers the truth.
        let k: Vec<f64> = (0..10).map(f64::from).collect();
        let r = linear_rate(&k, &k.iter().map(|k| 0.5f64.powf(*k)).collect::<Vec<_>>());
        assert!((r.rate - 0.5).abs() < 1e-14 && (r.fit.r2 - 1.0).abs() < 1e-12);
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let mut hits = 0;
        for _ in 0..1000 {
            let err: Vec<f64> = k
                .iter()
                .map(|k| 0.9f64.powf(*k) * (0.1 * rng.sample::<f64, _>(rand_distr::StandardNormal)).exp())
                .collect();
            let r = linear_rate(&k, &err);
            hits += usize::from(r.ci95.0 <= 0.9 && 0.9 <= r.ci95.1);
        }
        assert!((925..=975).contains(&hits), "coverage {hits}/1000");
        assert!(linear_rate(&[0.0, 1.0], &[1.0, 0.0]).rate.is_nan());
        assert!(linear_rate(&[0.0], &[1.0]).rate.is_nan());
        assert!(linear_rate(&[0.0, 1.0], &[1.0, 0.5]).ci95.0.is_nan());
        // A one-sample spike is removed by a window of 3; the edges keep their values.
        assert_eq!(median_filter(&[1.0, 1.0, 9.0, 1.0, 1.0], 3), vec![1.0; 5]);
        assert_eq!(median_filter(&[5.0, 1.0, 2.0, 3.0, 0.0], 3), vec![5.0, 2.0, 2.0, 2.0, 0.0]);
        assert_eq!(median_filter(&[5.0, 1.0, 2.0, 3.0, 0.0], 5), vec![5.0, 2.0, 2.0, 2.0, 0.0]);
        assert!(median_filter(&[], 3).is_empty());
        let folds = kfold(10, 3, crate::Seed(1));
        assert_eq!(folds.iter().map(|f| f.test.len()).collect::<Vec<_>>(), vec![4, 3, 3]);
        assert_ne!(folds, kfold(10, 3, crate::Seed(2)));
        assert_eq!(kfold(3, 1, crate::Seed(0))[0], Fold { test: vec![0, 1, 2], train: vec![] });
    }

    #[test]
    #[should_panic(expected = "odd")]
    fn median_filter_rejects_an_even_window() {
        median_filter(&[1.0, 2.0], 2);
    }

    /// `scipy.ndimage.median_filter(x, size, mode='reflect')` on small inputs (windows wider
    /// than the signal included).
    #[test]
    fn median_filter_reflect_matches_scipy() {
        let f = |v: &[f64], k| median_filter_with(v, k, Edge::Reflect);
        assert_eq!(f(&[1.0, 5.0, 2.0, 8.0, 3.0], 3), vec![1.0, 2.0, 5.0, 3.0, 3.0]);
        assert_eq!(f(&[4.0, 1.0, 9.0, 2.0, 7.0, 3.0, 8.0], 5), vec![4.0, 4.0, 4.0, 3.0, 7.0, 7.0, 7.0]);
        assert_eq!(f(&[2.0, 1.0], 1), vec![2.0, 1.0]);
        assert_eq!(f(&[3.0, 1.0], 5), vec![1.0, 3.0]);
        assert_eq!(f(&[5.0, 1.0, 4.0, 2.0, 8.0, 7.0, 3.0, 6.0], 7), vec![4.0, 4.0, 5.0, 4.0, 4.0, 6.0, 6.0, 6.0]);
        // The same input under shrink mode keeps its ends.
        assert_eq!(median_filter(&[1.0, 5.0, 2.0, 8.0, 3.0], 3), vec![1.0, 2.0, 5.0, 3.0, 3.0]);
        assert_eq!(median_filter_with(&[5.0, 1.0, 2.0, 3.0, 0.0], 5, Edge::Shrink), vec![5.0, 2.0, 2.0, 2.0, 0.0]);
        assert_eq!(f(&[5.0, 1.0, 2.0, 3.0, 0.0], 5), vec![2.0, 3.0, 2.0, 1.0, 2.0]);
        assert_eq!(f(&[3.0, 1.0, 2.0], 11), vec![2.0; 3]);
        // A lone outlier disappears; a constant stays; nothing in, nothing out.
        let mut x = vec![1.0; 50];
        x[20] = 100.0;
        assert_eq!(f(&x, 5), vec![1.0; 50]);
        assert!(f(&[], 3).is_empty());
    }

    #[test]
    #[should_panic(expected = "odd")]
    fn median_filter_reflect_rejects_an_even_window() {
        median_filter_with(&[1.0, 2.0], 4, Edge::Reflect);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(loglog_slope(&[1.0], &[1.0]).is_nan());
        assert!(loglog_slope(&[1.0, 2.0], &[1.0, 0.0]).is_nan());
        assert!(mean_se(&[3.0]).1.is_nan());
        let (m, se) = mean_se(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((se - (5.0f64 / 3.0 / 4.0).sqrt()).abs() < 1e-15);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, f64::INFINITY]), 3.0);
    }
}
