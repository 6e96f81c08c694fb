//! Synthetic generators (teacher-student regression and classification, Gaussian mixtures, matrix
//! sensing, modular arithmetic). Everything is drawn from the caller's RNG, so a seed-tree node
//! (`seed.child("data").rng()`) fixes the data set.
use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::linalg::haar_orthogonal;
use crate::rng::{gaussian_mat, gaussian_vec, permutation};

/// Inputs and real targets.
#[derive(Clone, Debug)]
pub struct Regression {
    /// n x d inputs.
    pub x: Array2<f64>,
    /// n targets.
    pub y: Array1<f64>,
}

/// Inputs and class labels in `0..n_classes`.
#[derive(Clone, Debug)]
pub struct Classification {
    /// n x d inputs.
    pub x: Array2<f64>,
    /// n class labels, each in `0..n_classes`.
    pub labels: Vec<usize>,
    /// Number of classes.
    pub n_classes: usize,
}

impl Classification {
    /// Number of samples.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }
    /// n x n_classes one-hot targets.
    pub fn one_hot(&self) -> Array2<f64> {
        one_hot(&self.labels, self.n_classes)
    }
    /// Counts per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.n_classes];
        for &l in &self.labels {
            c[l] += 1;
        }
        c
    }
}

/// n x k one-hot encoding of labels in `0..k`.
pub fn one_hot(labels: &[usize], k: usize) -> Array2<f64> {
    let mut y = Array2::zeros((labels.len(), k));
    for (i, &l) in labels.iter().enumerate() {
        assert!(l < k, "one_hot: label {l} >= {k}");
        y[[i, l]] = 1.0;
    }
    y
}

// ---------------------------------------------------------------------------------------------
// Teacher-student

/// Activation of a two-layer teacher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeacherAct {
    /// Identity.
    Linear,
    /// `max(z, 0)`.
    Relu,
    /// `tanh(z)`.
    Tanh,
}

impl TeacherAct {
    /// The activation at a scalar pre-activation `z`.
    pub fn apply(self, z: f64) -> f64 {
        match self {
            TeacherAct::Linear => z,
            TeacherAct::Relu => z.max(0.0),
            TeacherAct::Tanh => z.tanh(),
        }
    }
}

/// Linear teacher `y = x . w`.
#[derive(Clone, Debug)]
pub struct LinearTeacher {
    /// The d teacher weights `w*`.
    pub w: Array1<f64>,
}

impl LinearTeacher {
    /// Noiseless targets `x w*` for n x d inputs `x`.
    pub fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        x.dot(&self.w)
    }
}

/// Two-layer teacher `f(x) = a . act(W x) / sqrt(width)`, `W` width x d.
#[derive(Clone, Debug)]
pub struct TwoLayerTeacher {
    /// width x d first-layer weights `W`.
    pub w: Array2<f64>,
    /// The width second-layer weights `a`.
    pub a: Array1<f64>,
    /// The hidden activation.
    pub act: TeacherAct,
}

impl TwoLayerTeacher {
    /// Noiseless targets `a . act(W x) / sqrt(width)` for n x d inputs `x` (one per row).
    pub fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        let h = x.dot(&self.w.t()).mapv(|z| self.act.apply(z));
        h.dot(&self.a) / (self.a.len() as f64).sqrt()
    }
}

/// Linear teacher-student regression: `x ~ N(0, I_d)`, `w* ~ N(0, I_d / d)` (so the signal
/// `x . w*` has variance ~1), `y = x . w* + noise_std * N(0, 1)`.
pub fn teacher_student_linear(rng: &mut impl Rng, n: usize, d: usize, noise_std: f64) -> (Regression, LinearTeacher) {
    let teacher = LinearTeacher { w: gaussian_vec(rng, d, 1.0 / (d as f64).sqrt()) };
    let x = gaussian_mat(rng, n, d, 1.0);
    let y = teacher.predict(x.view()) + gaussian_vec(rng, n, noise_std);
    (Regression { x, y }, teacher)
}

/// Two-layer teacher-student regression: `x ~ N(0, I_d)`, teacher rows `w_j ~ N(0, I_d / d)`
/// (pre-activations ~N(0, 1)), `a_j ~ N(0, 1)`, `y = a . act(W x) / sqrt(width) + noise`.
pub fn teacher_student_two_layer(
    rng: &mut impl Rng,
    n: usize,
    d: usize,
    width: usize,
    act: TeacherAct,
    noise_std: f64,
) -> (Regression, TwoLayerTeacher) {
    let teacher = TwoLayerTeacher {
        w: gaussian_mat(rng, width, d, 1.0 / (d as f64).sqrt()),
        a: gaussian_vec(rng, width, 1.0),
        act,
    };
    let x = gaussian_mat(rng, n, d, 1.0);
    let y = teacher.predict(x.view()) + gaussian_vec(rng, n, noise_std);
    (Regression { x, y }, teacher)
}

/// Teacher-student classification: `x ~ N(0, I_d)`, label `argmax_c (W* x)_c` for a Gaussian
/// teacher `W*` (k x d); with probability `label_noise` a label is replaced by a uniformly random
/// class. Returns the data and `W*`.
pub fn teacher_student_classification(
    rng: &mut impl Rng,
    n: usize,
    d: usize,
    k: usize,
    label_noise: f64,
) -> (Classification, Array2<f64>) {
    assert!(k >= 2, "classification needs at least two classes");
    let teacher = gaussian_mat(rng, k, d, 1.0 / (d as f64).sqrt());
    let x = gaussian_mat(rng, n, d, 1.0);
    let scores = x.dot(&teacher.t());
    let labels = scores
        .axis_iter(Axis(0))
        .map(|s| {
            let clean = argmax(s);
            if label_noise > 0.0 && rng.random_bool(label_noise.min(1.0)) { rng.random_range(0..k) } else { clean }
        })
        .collect();
    (Classification { x, labels, n_classes: k }, teacher)
}

fn argmax(v: ArrayView1<f64>) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

// ---------------------------------------------------------------------------------------------
// Gaussian mixtures

/// A mixture of `k` isotropic Gaussians `N(mu_c, std^2 I_d)` with `|mu_c - mu_c'| = separation`
/// for every pair when `k <= d` (orthonormal directions scaled by `separation / sqrt 2`;
/// for `k > d`, random unit directions scaled the same way, so pairwise distances are only
/// about `separation`). Classes are balanced (`n / k` each, the first `n mod k` classes one
/// more) and the samples are in random order. Returns the data and the k x d means.
pub fn gaussian_mixture(
    rng: &mut impl Rng,
    n: usize,
    d: usize,
    k: usize,
    separation: f64,
    std: f64,
) -> (Classification, Array2<f64>) {
    assert!(k >= 1 && d >= 1);
    let r = separation / 2f64.sqrt();
    let means = if k <= d {
        let q = haar_orthogonal(rng, d);
        q.slice(ndarray::s![..k, ..]).to_owned() * r
    } else {
        let mut m = gaussian_mat(rng, k, d, 1.0);
        for mut row in m.axis_iter_mut(Axis(0)) {
            let nr = row.dot(&row).sqrt();
            row *= r / nr;
        }
        m
    };
    let perm = permutation(rng, n);
    let labels: Vec<usize> = perm.iter().map(|&i| i % k).collect();
    let mut x = gaussian_mat(rng, n, d, std);
    for (i, &l) in labels.iter().enumerate() {
        let mut row = x.row_mut(i);
        row += &means.row(l);
    }
    (Classification { x, labels, n_classes: k }, means)
}

// ---------------------------------------------------------------------------------------------
// Matrix sensing

/// Low-rank matrix sensing: `y_i = <A_i, M*> + noise` with i.i.d. N(0, 1) measurement matrices
/// (only the symmetric part of `A_i` matters when `M*` is symmetric).
#[derive(Clone, Debug)]
pub struct MatrixSensing {
    /// m x d1 x d2 measurement matrices.
    pub a: Array3<f64>,
    /// m measurements.
    pub y: Array1<f64>,
    /// The d1 x d2 ground truth.
    pub m_star: Array2<f64>,
}

impl MatrixSensing {
    /// Number of measurements m.
    pub fn n_meas(&self) -> usize {
        self.a.len_of(Axis(0))
    }
    /// The i-th measurement matrix.
    pub fn a_i(&self, i: usize) -> ArrayView2<'_, f64> {
        self.a.index_axis(Axis(0), i)
    }
    /// Measurements flattened row-major: m x (d1 d2), so `A(M) = flat . vec(M)`.
    pub fn flat(&self) -> ArrayView2<'_, f64> {
        let (m, d1, d2) = self.a.dim();
        self.a.view().into_shape_with_order((m, d1 * d2)).expect("standard layout")
    }
    /// The measurement operator `A(M)_i = <A_i, M>`.
    pub fn measure(&self, m: ArrayView2<f64>) -> Array1<f64> {
        let v = m.as_standard_layout();
        let flat_m = v.view().into_shape_with_order(m.len()).expect("standard layout");
        self.flat().dot(&flat_m)
    }
    /// The adjoint `A*(r) = sum_i r_i A_i` (d1 x d2).
    pub fn adjoint(&self, r: ArrayView1<f64>) -> Array2<f64> {
        let (_, d1, d2) = self.a.dim();
        self.flat().t().dot(&r).into_shape_with_order((d1, d2)).expect("standard layout")
    }
}

/// Rank-`rank` ground truth `M* = U V^T` (d1 x d2; `U`, `V` with Haar orthonormal columns, so
/// every non-zero singular value is 1) and `n_meas` Gaussian measurements.
pub fn matrix_sensing(
    rng: &mut impl Rng,
    n_meas: usize,
    d1: usize,
    d2: usize,
    rank: usize,
    noise_std: f64,
) -> MatrixSensing {
    assert!(rank <= d1.min(d2));
    let u = haar_orthogonal(rng, d1).slice(ndarray::s![.., ..rank]).to_owned();
    let v = haar_orthogonal(rng, d2).slice(ndarray::s![.., ..rank]).to_owned();
    sensing_with_truth(rng, n_meas, u.dot(&v.t()), noise_std)
}

/// Symmetric PSD ground truth `M* = U U^T` (d x d, `U` with Haar orthonormal columns) and
/// `n_meas` Gaussian measurements: the setting of over-parameterized matrix sensing
/// (Li, Ma & Zhang 2018).
pub fn matrix_sensing_psd(rng: &mut impl Rng, n_meas: usize, d: usize, rank: usize, noise_std: f64) -> MatrixSensing {
    assert!(rank <= d);
    let u = haar_orthogonal(rng, d).slice(ndarray::s![.., ..rank]).to_owned();
    sensing_with_truth(rng, n_meas, u.dot(&u.t()), noise_std)
}

/// Gaussian measurements of a given ground truth.
pub fn sensing_with_truth(rng: &mut impl Rng, n_meas: usize, m_star: Array2<f64>, noise_std: f64) -> MatrixSensing {
    let (d1, d2) = m_star.dim();
    let a = gaussian_mat(rng, n_meas, d1 * d2, 1.0).into_shape_with_order((n_meas, d1, d2)).expect("standard layout");
    let mut s = MatrixSensing { a, y: Array1::zeros(n_meas), m_star };
    s.y = s.measure(s.m_star.view()) + gaussian_vec(rng, n_meas, noise_std);
    s
}

// ---------------------------------------------------------------------------------------------
// Modular arithmetic (Power et al. 2022, "Grokking")

/// A binary operation modulo p.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModOp {
    /// a + b
    Add,
    /// a - b
    Sub,
    /// a * b
    Mul,
    /// a * b^{-1} (pairs with b not invertible mod p are left out)
    Div,
    /// a^2 + b^2
    SquareSum,
    /// a^2 + a b + b^2
    Quad,
    /// a^3 + a b
    Cubic,
}

impl ModOp {
    /// `a op b mod p`, or None where undefined (division by a non-invertible b).
    pub fn apply(self, a: usize, b: usize, p: usize) -> Option<usize> {
        let (a, b, p) = (a as u128 % p as u128, b as u128 % p as u128, p as u128);
        let r = match self {
            ModOp::Add => (a + b) % p,
            ModOp::Sub => (a + p - b) % p,
            ModOp::Mul => a * b % p,
            ModOp::Div => a * mod_inverse(b, p)? % p,
            ModOp::SquareSum => (a * a + b * b) % p,
            ModOp::Quad => (a * a + a * b + b * b) % p,
            ModOp::Cubic => (a * a % p * a + a * b) % p,
        };
        Some(r as usize)
    }
}

/// The inverse of `b` mod `p`, if `gcd(b, p) = 1`.
fn mod_inverse(b: u128, p: u128) -> Option<u128> {
    // extended Euclid on (b, p) with signed coefficients
    let (mut r0, mut r1) = (p as i128, b as i128);
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    if r0 != 1 {
        return None;
    }
    Some(t0.rem_euclid(p as i128) as u128)
}

/// The full table of `c = a op b mod p`, split at random into train and test.
#[derive(Clone, Debug)]
pub struct ModularData {
    /// The modulus p (also the number of classes).
    pub p: usize,
    /// The operation.
    pub op: ModOp,
    /// `(a, b, c)` triples.
    pub train: Vec<(usize, usize, usize)>,
    /// Held-out `(a, b, c)` triples.
    pub test: Vec<(usize, usize, usize)>,
}

impl ModularData {
    /// Inputs as concatenated one-hot vectors of a and b (n x 2p) and labels c.
    pub fn encode(&self, examples: &[(usize, usize, usize)]) -> (Array2<f64>, Vec<usize>) {
        let p = self.p;
        let mut x = Array2::zeros((examples.len(), 2 * p));
        let mut y = Vec::with_capacity(examples.len());
        for (i, &(a, b, c)) in examples.iter().enumerate() {
            x[[i, a]] = 1.0;
            x[[i, p + b]] = 1.0;
            y.push(c);
        }
        (x, y)
    }
    /// The training triples encoded (see [`encode`](Self::encode)), `p` classes.
    pub fn train_set(&self) -> Classification {
        let (x, labels) = self.encode(&self.train);
        Classification { x, labels, n_classes: self.p }
    }
    /// The test triples encoded (see [`encode`](Self::encode)), `p` classes.
    pub fn test_set(&self) -> Classification {
        let (x, labels) = self.encode(&self.test);
        Classification { x, labels, n_classes: self.p }
    }
}

/// All pairs `(a, b)` in `0..p` where `a op b` is defined, shuffled; the first
/// `round(train_frac * N)` are the training set and the rest the test set.
pub fn modular_arithmetic(rng: &mut impl Rng, p: usize, op: ModOp, train_frac: f64) -> ModularData {
    assert!(p >= 2, "modulus must be at least 2");
    assert!((0.0..=1.0).contains(&train_frac), "train_frac must be in [0, 1]");
    let all: Vec<(usize, usize, usize)> = (0..p)
        .flat_map(|a| (0..p).map(move |b| (a, b)))
        .filter_map(|(a, b)| op.apply(a, b, p).map(|c| (a, b, c)))
        .collect();
    let perm = permutation(rng, all.len());
    let n_train = (train_frac * all.len() as f64).round() as usize;
    let train = perm[..n_train].iter().map(|&i| all[i]).collect();
    let test = perm[n_train..].iter().map(|&i| all[i]).collect();
    ModularData { p, op, train, test }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    #[test]
    fn linear_teacher_shapes_and_variance() {
        let mut rng = Seed(1).rng();
        let (data, t) = teacher_student_linear(&mut rng, 20_000, 50, 0.5);
        assert_eq!(data.x.dim(), (20_000, 50));
        assert_eq!(data.y.len(), 20_000);
        let signal = t.w.dot(&t.w); // Var(x . w*) = |w*|^2 ~ 1
        assert!((signal - 1.0).abs() < 0.5);
        let var_y = data.y.var(0.0);
        assert!((var_y - (signal + 0.25)).abs() < 0.05 * (signal + 0.25), "{var_y}");
        let resid = &data.y - &t.predict(data.x.view());
        assert!((resid.var(0.0) - 0.25).abs() < 0.02);
        assert!(data.x.mean().unwrap().abs() < 0.01);
    }

    #[test]
    fn two_layer_teacher() {
        let mut rng = Seed(2).rng();
        let (data, t) = teacher_student_two_layer(&mut rng, 5000, 20, 64, TeacherAct::Relu, 0.0);
        assert_eq!(data.x.dim(), (5000, 20));
        assert_eq!(t.w.dim(), (64, 20));
        let pred = t.predict(data.x.view());
        assert!((&pred - &data.y).iter().all(|e| e.abs() < 1e-12));
        // a . relu(z) / sqrt(k) with z ~ N(0,1): variance ~ |a|^2/k * E relu^2 = ~0.5
        assert!(data.y.var(0.0) > 0.1 && data.y.var(0.0) < 3.0);
        let (lin, tl) = teacher_student_two_layer(&mut rng, 10, 5, 3, TeacherAct::Linear, 0.0);
        let w_eff = tl.w.t().dot(&tl.a) / 3f64.sqrt();
        assert!((&lin.x.dot(&w_eff) - &lin.y).iter().all(|e| e.abs() < 1e-12));
    }

    #[test]
    fn classification_teacher_and_noise() {
        let mut rng = Seed(3).rng();
        let (clean, w) = teacher_student_classification(&mut rng, 3000, 10, 3, 0.0);
        assert_eq!(clean.labels.len(), 3000);
        assert!(clean.labels.iter().all(|&l| l < 3));
        let scores = clean.x.dot(&w.t());
        for (i, &l) in clean.labels.iter().enumerate() {
            assert_eq!(l, argmax(scores.row(i)));
        }
        assert!(clean.class_counts().iter().all(|&c| c > 300));
        let (noisy, w2) = teacher_student_classification(&mut Seed(3).rng(), 3000, 10, 3, 0.3);
        assert_eq!(w, w2);
        let flipped = noisy.labels.iter().zip(&clean.labels).filter(|(a, b)| a != b).count() as f64 / 3000.0;
        // P(changed) = 0.3 * 2/3 = 0.2
        assert!((flipped - 0.2).abs() < 0.03, "{flipped}");
        assert_eq!(noisy.one_hot().sum(), 3000.0);
    }

    #[test]
    fn gaussian_mixture_statistics() {
        let mut rng = Seed(4).rng();
        let (data, means) = gaussian_mixture(&mut rng, 6001, 8, 3, 4.0, 0.5);
        assert_eq!(data.x.dim(), (6001, 8));
        assert_eq!(data.class_counts(), vec![2001, 2000, 2000]);
        for i in 0..3 {
            for j in 0..i {
                let d = &means.row(i) - &means.row(j);
                assert!((d.dot(&d).sqrt() - 4.0).abs() < 1e-10);
            }
        }
        for c in 0..3 {
            let idx: Vec<usize> = (0..data.n()).filter(|&i| data.labels[i] == c).collect();
            let xc = data.x.select(Axis(0), &idx);
            let mu = xc.mean_axis(Axis(0)).unwrap();
            assert!((&mu - &means.row(c)).iter().all(|e| e.abs() < 0.05));
            let var = xc.var_axis(Axis(0), 1.0);
            assert!(var.iter().all(|v| (v - 0.25).abs() < 0.03));
        }
        // more classes than dimensions
        let (d2, m2) = gaussian_mixture(&mut rng, 50, 2, 5, 1.0, 1.0);
        assert_eq!((d2.n_classes, m2.dim()), (5, (5, 2)));
    }

    #[test]
    fn matrix_sensing_is_consistent() {
        let mut rng = Seed(5).rng();
        let s = matrix_sensing(&mut rng, 300, 6, 5, 2, 0.0);
        assert_eq!(s.a.dim(), (300, 6, 5));
        assert_eq!(s.flat().dim(), (300, 30));
        for i in [0, 17, 299] {
            let ip = (&s.a_i(i) * &s.m_star).sum();
            assert!((ip - s.y[i]).abs() < 1e-12);
        }
        let sv = crate::linalg::singular_values(&s.m_star);
        assert!((sv[0] - 1.0).abs() < 1e-10 && (sv[1] - 1.0).abs() < 1e-10 && sv[2] < 1e-10);
        // adjoint: <A(M), r> = <M, A*(r)>
        let m = gaussian_mat(&mut rng, 6, 5, 1.0);
        let r = gaussian_vec(&mut rng, 300, 1.0);
        let lhs = s.measure(m.view()).dot(&r);
        let rhs = (&m * &s.adjoint(r.view())).sum();
        assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0));
        // E (1/m) A*A(M) = M: entries of A have unit variance
        assert!((s.a.var(0.0) - 1.0).abs() < 0.05);
        let p = matrix_sensing_psd(&mut rng, 100, 7, 3, 0.1);
        let w = crate::linalg::eigvalsh(&p.m_star);
        assert!(w.iter().filter(|x| (*x - 1.0).abs() < 1e-10).count() == 3);
        assert!((&p.m_star - &p.m_star.t()).iter().all(|e| e.abs() < 1e-14));
        let noise = &p.y - &p.measure(p.m_star.view());
        assert!(noise.std(0.0) > 0.05 && noise.std(0.0) < 0.15);
    }

    #[test]
    fn modular_tables() {
        let mut rng = Seed(6).rng();
        let p = 97;
        let d = modular_arithmetic(&mut rng, p, ModOp::Add, 0.3);
        assert_eq!(d.train.len() + d.test.len(), p * p);
        assert_eq!(d.train.len(), (0.3 * (p * p) as f64).round() as usize);
        assert!(d.train.iter().chain(&d.test).all(|&(a, b, c)| (a + b) % p == c));
        let mut all: Vec<(usize, usize)> = d.train.iter().chain(&d.test).map(|&(a, b, _)| (a, b)).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), p * p); // a partition of the table
        let div = modular_arithmetic(&mut rng, p, ModOp::Div, 0.5);
        assert_eq!(div.train.len() + div.test.len(), p * (p - 1));
        assert!(div.train.iter().all(|&(a, b, c)| c * b % p == a));
        assert_eq!(ModOp::Sub.apply(3, 5, 7), Some(5));
        assert_eq!(ModOp::Quad.apply(2, 3, 7), Some((4 + 6 + 9) % 7));
        assert_eq!(ModOp::Cubic.apply(2, 3, 7), Some((8 + 6) % 7));
        assert_eq!(ModOp::Div.apply(1, 2, 8), None);
        let tr = d.train_set();
        assert_eq!(tr.x.dim(), (d.train.len(), 2 * p));
        assert!(tr.x.sum_axis(Axis(1)).iter().all(|&s| s == 2.0));
        assert_eq!(tr.n_classes, p);
    }
}
