//! Small statistics shared by the studies' claims: least-squares fits, log-log slopes (the
//! exponent of a power law), means with standard errors, medians.

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
