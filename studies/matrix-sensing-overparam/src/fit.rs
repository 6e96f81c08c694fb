//! Rate and slope estimates from an error curve: least-squares slopes in (ln t, ln e) and (t, ln e).

/// Least-squares slope of `y` on `x` (`common::stats::ols`); `None` with fewer than two points or
/// when the x values do not vary (the slope is then not finite).
pub fn ls_slope(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let s = common::stats::ols(x, y).0;
    s.is_finite().then_some(s)
}

/// Slope of ln e against ln t over `t ∈ [t_lo, t_hi]`, from points picked on a geometric grid of
/// 60 targets (so late times, which are recorded more densely, do not dominate the fit).
pub fn loglog_slope(t: &[u64], e: &[f64], t_lo: f64, t_hi: f64) -> Option<f64> {
    let t_lo = t_lo.max(1.0);
    if t_hi <= t_lo {
        return None;
    }
    let mut idx: Vec<usize> = (0..60)
        .map(|j| t_lo * (t_hi / t_lo).powf(j as f64 / 59.0))
        .filter_map(|target| {
            let i = t.partition_point(|&s| (s as f64) < target);
            let cands = [i.checked_sub(1), (i < t.len()).then_some(i)];
            cands
                .into_iter()
                .flatten()
                .filter(|&j| t[j] as f64 >= t_lo - 0.5 && t[j] as f64 <= t_hi + 0.5)
                .min_by(|&a, &b| (t[a] as f64 - target).abs().total_cmp(&(t[b] as f64 - target).abs()))
        })
        .collect();
    idx.dedup();
    let (x, y): (Vec<f64>, Vec<f64>) =
        idx.iter().filter(|&&i| e[i] > 0.0).map(|&i| ((t[i] as f64).ln(), e[i].ln())).unzip();
    ls_slope(&x, &y)
}

/// A linear-rate fit on the error window `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowFit {
    /// −d ln e / dt (per iteration).
    pub rate: f64,
    /// First recorded iteration with e <= hi.
    pub t_enter: u64,
    /// First recorded iteration with e < lo (None: the run ended inside the window).
    pub t_exit: Option<u64>,
    pub points: usize,
}

/// Fits ln e against t from the first time the error is `<= hi` until the first time it is
/// `< lo` (the window of the late linear phase); `None` with fewer than 5 points inside.
pub fn window_rate(t: &[u64], e: &[f64], lo: f64, hi: f64) -> Option<WindowFit> {
    let start = e.iter().position(|&x| x <= hi)?;
    let end = e[start..].iter().position(|&x| x < lo).map(|j| start + j);
    let stop = end.unwrap_or(e.len());
    let (x, y): (Vec<f64>, Vec<f64>) = (start..stop).filter(|&i| e[i] > 0.0).map(|i| (t[i] as f64, e[i].ln())).unzip();
    if x.len() < 5 {
        return None;
    }
    let slope = ls_slope(&x, &y)?;
    Some(WindowFit { rate: -slope, t_enter: t[start], t_exit: end.map(|i| t[i]), points: x.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_recovered() {
        let x: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| 3.0 * v - 2.0).collect();
        let s = ls_slope(&x, &y).unwrap();
        assert!((s - 3.0).abs() < 1e-12);
        assert!(ls_slope(&[1.0], &[2.0]).is_none());
        assert!(ls_slope(&[1.0, 1.0], &[2.0, 3.0]).is_none());
    }

    #[test]
    fn power_law_slope() {
        let t: Vec<u64> = (0..=20_000).step_by(7).collect();
        let e: Vec<f64> = t.iter().map(|&s| 40.0 / ((s as f64) + 1e-300).powi(2)).collect();
        let s = loglog_slope(&t, &e, 5000.0, 20_000.0).unwrap();
        assert!((s + 2.0).abs() < 1e-10, "{s}");
        // a shifted power law c/(t + t0)² has a shallower local slope −2t/(t + t0)
        let e2: Vec<f64> = t.iter().map(|&s| 1.0 / (s as f64 + 2000.0).powi(2)).collect();
        let s2 = loglog_slope(&t, &e2, 5000.0, 20_000.0).unwrap();
        assert!(s2 > -2.0 && s2 < -1.6, "{s2}");
    }

    #[test]
    fn exponential_rate_in_window() {
        let t: Vec<u64> = (0..5000).collect();
        let e: Vec<f64> = t.iter().map(|&s| if s < 100 { 1.0 } else { (-0.01 * (s - 100) as f64).exp() }).collect();
        let w = window_rate(&t, &e, 1e-14, 1e-8).unwrap();
        assert!((w.rate - 0.01).abs() < 1e-12);
        assert_eq!(w.t_enter, 100 + 1843); // first step with e <= 1e-8: ceil(ln(1e8)/0.01)
        assert_eq!(w.t_exit, Some(100 + 3224));
        // a curve that never reaches the window
        assert!(window_rate(&t, &vec![1.0; 5000], 1e-14, 1e-8).is_none());
    }
}
