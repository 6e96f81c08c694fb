//! Two-layer ReLU networks `f(x) = Σ_k a_k relu(w_kᵀx + b_k) + c` (a [`common::models::Mlp`]
//! with sizes `[d, width, 1]`, biases, squared loss): data, interpolating points by construction,
//! and the path norm the paper relates to `Tr H` (Sec. 4).
use anyhow::{Result, ensure};
use common::data::files::{Shipped, load_shipped};
use common::data::synthetic::{TeacherAct, teacher_student_two_layer};
use common::linalg::eigh;
use common::models::{Activation, Loss, Mlp};
use common::rng::gaussian_mat;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, concatenate, s};
use rand::Rng;

/// A regression training set and a held-out test set.
#[derive(Clone, Debug)]
pub struct Split {
    pub x: Array2<f64>,
    pub y: Array1<f64>,
    pub x_test: Array2<f64>,
    pub y_test: Array1<f64>,
}

/// The two-layer ReLU net on `d` inputs.
pub fn net(d: usize, width: usize) -> Mlp {
    Mlp::new(&[d, width, 1], Activation::Relu, true, Loss::Mse)
}

/// Teacher-student data: `x ~ N(0, I_d)`, `y = teacher(x)` with a two-layer ReLU teacher of
/// `teacher_width` units (no label noise).
pub fn teacher_data(rng: &mut impl Rng, n: usize, n_test: usize, d: usize, teacher_width: usize) -> Split {
    let (train, teacher) = teacher_student_two_layer(rng, n, d, teacher_width, TeacherAct::Relu, 0.0);
    let x_test = gaussian_mat(rng, n_test, d, 1.0);
    let y_test = teacher.predict(x_test.view());
    Split { x: train.x, y: train.y, x_test, y_test }
}

/// The shipped 8x8 digits as a regression task: standardized pixels scaled by `1/√64` (so
/// `‖x‖ ≈ 1`), target `+1` for digits 0-4 and `−1` for 5-9; a random `n` for training and
/// `n_test` of the rest for testing.
pub fn digits_data(rng: &mut impl Rng, n: usize, n_test: usize) -> Result<Split> {
    let ds = load_shipped(Shipped::Digits)?.standardize();
    ensure!(n + n_test <= ds.n(), "digits has {} samples, asked for {n} + {n_test}", ds.n());
    let perm = common::rng::permutation(rng, ds.n());
    let scale = 1.0 / (ds.x.ncols() as f64).sqrt();
    let pick = |idx: &[usize]| -> (Array2<f64>, Array1<f64>) {
        let x = ds.x.select(Axis(0), idx) * scale;
        let y = idx.iter().map(|&i| if ds.y[i] < 4.5 { 1.0 } else { -1.0 }).collect();
        (x, y)
    };
    let (x, y) = pick(&perm[..n]);
    let (x_test, y_test) = pick(&perm[n..n + n_test]);
    Ok(Split { x, y, x_test, y_test })
}

/// An exactly interpolating point: He-initialized hidden layer multiplied by `scale`, output
/// layer (weights and bias) the minimum-norm solution of `[relu(XWᵀ + b), 1] a = y`. Needs
/// `width + 1 ≥ n`; the residual is at rounding level. `scale` moves along the ReLU rescaling
/// symmetry (hidden ×s, output ×1/s leaves f unchanged but not the Hessian).
pub fn interpolating_point(
    mlp: &Mlp,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    scale: f64,
    rng: &mut impl Rng,
) -> Result<Array1<f64>> {
    let (n, width) = (x.nrows(), mlp.sizes[1]);
    ensure!(width + 1 >= n, "interpolation by construction needs width + 1 >= n ({} < {n})", width + 1);
    let mut w = mlp.init(rng);
    {
        let (mut w0, _) = mlp.layer_mut(w.view_mut(), 0);
        w0 *= scale;
    }
    let (w0, b0) = mlp.layer(w.view(), 0);
    let mut z = x.dot(&w0.t());
    if let Some(b) = b0 {
        z += &b;
    }
    let phi = concatenate(Axis(1), &[z.mapv(|v| v.max(0.0)).view(), Array2::ones((n, 1)).view()])?;
    let gram = phi.dot(&phi.t());
    let (vals, vecs) = eigh(&gram);
    let top = vals[n - 1];
    ensure!(vals[0] > 1e-10 * top, "feature Gram matrix is singular (λ_min/λ_max = {:e})", vals[0] / top);
    // a = Φᵀ G⁻¹ y with G = ΦΦᵀ = V diag(vals) Vᵀ.
    let coef = vecs.t().dot(&y) / &vals;
    let a = phi.t().dot(&vecs.dot(&coef));
    let (mut w1, b1) = mlp.layer_mut(w.view_mut(), 1);
    w1.row_mut(0).assign(&a.slice(s![..width]));
    if let Some(mut b1) = b1 {
        b1[0] = a[width];
    }
    Ok(w)
}

/// The path norm `Σ_k |a_k| ‖(w_k, b_k)‖₂` of a two-layer net.
pub fn path_norm(mlp: &Mlp, w: ArrayView1<f64>) -> f64 {
    let (w0, b0) = mlp.layer(w, 0);
    let (w1, _) = mlp.layer(w, 1);
    (0..mlp.sizes[1])
        .map(|k| {
            let row = w0.row(k);
            let b = b0.map_or(0.0, |b| b[k]);
            w1[[0, k]].abs() * (row.dot(&row) + b * b).sqrt()
        })
        .sum()
}
