//! The linear geometry of Sec. 4: centroids, the nearest-centroid (NC) classifier, deviation
//! angles, minimal L2 perturbations (distances to a hyperplane), boundary tilting and the
//! adversarial strength.
//!
//! For a hyperplane B = {x : w·x + b = 0} separating the centroids c₊ and c₋, the distances of the
//! centroids to B add up to |w·(c₊ − c₋)|/‖w‖ = cos θ ‖c₊ − c₋‖, θ = ∠(w, c₊ − c₋). For the NC
//! boundary they add up to ‖c₊ − c₋‖. So the strength
//! S(C) = (d(c₊, B_NC) + d(c₋, B_NC)) / (d(c₊, B_C) + d(c₋, B_C)) = 1/cos θ,
//! whatever the offset b (as long as B separates the centroids).

/// Dot product.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Euclidean norm.
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `a` scaled to unit length.
pub fn unit(a: &[f64]) -> Vec<f64> {
    let n = norm(a);
    a.iter().map(|v| v / n).collect()
}

/// The angle between two vectors, in degrees, in [0, 180]. Computed as atan2(‖a∧b‖, a·b) through
/// the rejection of b from a, accurate for tiny angles (acos of a rounded cosine is not).
pub fn angle_deg(a: &[f64], b: &[f64]) -> f64 {
    let (ua, ub) = (unit(a), unit(b));
    let c = dot(&ua, &ub);
    let rej: Vec<f64> = ub.iter().zip(&ua).map(|(y, x)| y - c * x).collect();
    norm(&rej).atan2(c).to_degrees()
}

/// Mean of the rows with label `label`.
pub fn centroid(x: &[Vec<f64>], y: &[f64], label: f64) -> Vec<f64> {
    let d = x.first().map_or(0, Vec::len);
    let mut c = vec![0.0; d];
    let mut n = 0.0;
    for (r, _) in x.iter().zip(y).filter(|(_, l)| **l == label) {
        for (ci, ri) in c.iter_mut().zip(r) {
            *ci += ri;
        }
        n += 1.0;
    }
    c.iter().map(|v| v / n).collect()
}

/// A linear classifier sign(w·x + b).
#[derive(Clone, Debug)]
pub struct Linear {
    /// Normal vector.
    pub w: Vec<f64>,
    /// Offset.
    pub b: f64,
}

impl Linear {
    /// The score w·x + b.
    pub fn score(&self, x: &[f64]) -> f64 {
        dot(&self.w, x) + self.b
    }
    /// The minimal L2 perturbation that reaches the boundary: |w·x + b|/‖w‖.
    pub fn distance(&self, x: &[f64]) -> f64 {
        self.score(x).abs() / norm(&self.w)
    }
    /// Share of rows classified as their label (a score of exactly 0 counts as wrong).
    pub fn accuracy(&self, x: &[Vec<f64>], y: &[f64]) -> f64 {
        let ok = x.iter().zip(y).filter(|(r, l)| self.score(r) * **l > 0.0).count();
        ok as f64 / y.len() as f64
    }
    /// The hyperplane with the same normal through the point `m`.
    pub fn through(w: Vec<f64>, m: &[f64]) -> Linear {
        let b = -dot(&w, m);
        Linear { w, b }
    }
}

/// The nearest-centroid classifier: unit normal along c₊ − c₋, through the midpoint.
pub fn nearest_centroid(cp: &[f64], cm: &[f64]) -> Linear {
    let diff: Vec<f64> = cp.iter().zip(cm).map(|(a, b)| a - b).collect();
    let mid: Vec<f64> = cp.iter().zip(cm).map(|(a, b)| 0.5 * (a + b)).collect();
    Linear::through(unit(&diff), &mid)
}

/// The tilted classifier of Sec. 4: normal cos θ·û + sin θ·e (e a unit axis), renormalised,
/// through the centroid midpoint `m`.
pub fn tilted(u: &[f64], axis: usize, theta_deg: f64, m: &[f64]) -> Linear {
    let (s, c) = theta_deg.to_radians().sin_cos();
    let mut w: Vec<f64> = u.iter().map(|v| c * v).collect();
    w[axis] += s;
    Linear::through(unit(&w), m)
}

/// Strength from the centroid distances (see the module doc): equals 1/cos θ for any classifier
/// whose boundary separates the centroids.
pub fn centroid_strength(c: &Linear, nc: &Linear, cp: &[f64], cm: &[f64]) -> f64 {
    (nc.distance(cp) + nc.distance(cm)) / (c.distance(cp) + c.distance(cm))
}

/// Per-point distances of `x` to the boundary of `c`.
pub fn distances(c: &Linear, x: &[Vec<f64>]) -> Vec<f64> {
    x.iter().map(|r| c.distance(r)).collect()
}

/// Within-class variance of the training data along the unit vector `u`: mean over samples of
/// (u·(x − c_y))².
pub fn within_variance(u: &[f64], x: &[Vec<f64>], y: &[f64], cp: &[f64], cm: &[f64]) -> f64 {
    let (op, om) = (dot(u, cp), dot(u, cm));
    let s: f64 = x.iter().zip(y).map(|(r, l)| (dot(u, r) - if *l > 0.0 { op } else { om }).powi(2)).sum();
    s / y.len() as f64
}
