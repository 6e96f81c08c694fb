//! The matrix-sensing problem: a PSD rank-r target `M* = U diag(spectrum) Uᵀ`, a dense Gaussian
//! measurement operator `A: R^{n×n} -> R^m` and the map every gradient needs,
//! `X ↦ A*(A(X) − y)`, applied as one dense product.
//!
//! Operators (all near-isotropic: `E A*A(X) = X` on the matrices they measure):
//! * `Identity`: `A*A = I`, the population / matrix-factorisation case.
//! * `Symmetric`: `A_i = (Z_i + Z_iᵀ) / (2 √m)`, `Z_i` i.i.d. N(0,1) entries: the paper's symmetric
//!   setting (PSD target, `XXᵀ` parameterisation).
//! * `General`: `A_i = Z_i / √m`: the paper's asymmetric setting (`FGᵀ` parameterisation). It sees
//!   every entry, so `FGᵀ → M*` is identifiable (a symmetric operator cannot see the
//!   antisymmetric part of `FGᵀ`).
use common::rng::{Seed, gaussian_mat};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Identity,
    Symmetric,
    General,
}

/// How `A*A` is stored: the Gram matrix `K = AᵀA` (n² × n², one product per step) when that is
/// cheaper than two products with `A` (m × n²).
enum Repr {
    Identity,
    Gram(Array2<f64>),
    Rows(Array2<f64>),
}

/// `X ↦ A*(A(X)) − b` for one operator and one set of measurements (`b = A*(y)`).
pub struct Sensing {
    pub kind: OpKind,
    pub n: usize,
    repr: Repr,
    /// `A*(y)` as an n×n matrix, y = A(M*) + noise.
    b: Array2<f64>,
    /// The number of measurements (0 for the identity).
    pub m: usize,
}

/// Row-major vectorisation view of a standard-layout square matrix.
fn vec_of(x: &Array2<f64>) -> Array1<f64> {
    Array1::from_iter(x.iter().copied())
}

fn mat_of(v: Array1<f64>, n: usize) -> Array2<f64> {
    v.into_shape_with_order((n, n)).expect("n*n entries")
}

impl Sensing {
    /// The population (factorisation) case: `A*A(X) − b = X − M*`.
    pub fn identity(target: &Array2<f64>) -> Sensing {
        Sensing { kind: OpKind::Identity, n: target.nrows(), repr: Repr::Identity, b: target.clone(), m: 0 }
    }

    /// A Gaussian operator of the given kind with `m` measurements of `target`, plus i.i.d.
    /// N(0, noise_std²) noise on every measurement. The operator matrix is drawn from
    /// `seed.child("operator")`, the noise from `seed.child("noise")`.
    pub fn gaussian(kind: OpKind, target: &Array2<f64>, m: usize, noise_std: f64, seed: Seed) -> Sensing {
        let nn = target.nrows() * target.nrows();
        Self::gaussian_repr(kind, target, m, noise_std, seed, nn <= 2 * m)
    }

    /// As [`Sensing::gaussian`], choosing the storage: the Gram matrix or the operator's rows.
    pub fn gaussian_repr(
        kind: OpKind,
        target: &Array2<f64>,
        m: usize,
        noise_std: f64,
        seed: Seed,
        gram: bool,
    ) -> Sensing {
        assert!(kind != OpKind::Identity, "use Sensing::identity");
        let n = target.nrows();
        let nn = n * n;
        let mut rng = seed.child("operator").rng();
        let z = gaussian_mat(&mut rng, m, nn, 1.0 / (m as f64).sqrt());
        let a = match kind {
            OpKind::General => z,
            OpKind::Symmetric => {
                let mut a = Array2::<f64>::zeros((m, nn));
                for i in 0..m {
                    for p in 0..n {
                        for q in 0..n {
                            a[[i, p * n + q]] = 0.5 * (z[[i, p * n + q]] + z[[i, q * n + p]]);
                        }
                    }
                }
                a
            }
            OpKind::Identity => unreachable!(),
        };
        let mut y = a.dot(&vec_of(target));
        if noise_std > 0.0 {
            let mut nrng = seed.child("noise").rng();
            y += &common::rng::gaussian_vec(&mut nrng, m, noise_std);
        }
        let b = mat_of(a.t().dot(&y), n);
        let repr = if gram { Repr::Gram(a.t().dot(&a)) } else { Repr::Rows(a) };
        Sensing { kind, n, repr, b, m }
    }

    /// `A*(A(X)) − A*(y)`: the residual map of the loss ½‖A(X) − y‖², as an n×n matrix.
    pub fn residual(&self, x: &Array2<f64>) -> Array2<f64> {
        match &self.repr {
            Repr::Identity => x - &self.b,
            Repr::Gram(k) => {
                let v = k.dot(&vec_of(x));
                mat_of(v, self.n) - &self.b
            }
            Repr::Rows(a) => {
                let ax = a.dot(&vec_of(x));
                mat_of(a.t().dot(&ax), self.n) - &self.b
            }
        }
    }

    /// `A*(A(X))` (the residual without the data term); used by the tests.
    pub fn gram_apply(&self, x: &Array2<f64>) -> Array2<f64> {
        self.residual(x) + &self.b
    }

    /// The training loss ½‖A(X) − y‖² up to the constant ½‖y‖²: ½⟨A*A(X), X⟩ − ⟨b, X⟩.
    /// (Only differences of it are meaningful; used to check gradients.)
    pub fn loss_shifted(&self, x: &Array2<f64>) -> f64 {
        let ax = self.gram_apply(x);
        0.5 * (&ax * x).sum() - (&self.b * x).sum()
    }
}

/// A random PSD target of rank r = spectrum.len(): `U diag(spectrum) Uᵀ`, U with orthonormal
/// columns (QR of a Gaussian matrix, through faer).
pub fn psd_target(n: usize, spectrum: &[f64], seed: Seed) -> Array2<f64> {
    let r = spectrum.len();
    let g = gaussian_mat(&mut seed.rng(), n, r, 1.0);
    let (q, _) = common::linalg::qr(&g);
    let d = Array2::from_diag(&Array1::from(spectrum.to_vec()));
    q.dot(&d).dot(&q.t())
}

/// Squared Frobenius distance ‖X − M*‖²_F (the error the paper plots).
pub fn sq_err(x: &Array2<f64>, target: &Array2<f64>) -> f64 {
    x.iter().zip(target.iter()).map(|(a, b)| (a - b) * (a - b)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::rng::gaussian_mat;

    fn rel(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        sq_err(a, b).sqrt() / b.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    #[test]
    fn target_is_psd_with_the_given_spectrum() {
        let m = psd_target(7, &[1.0, 0.5], Seed(4));
        let w = common::linalg::eigvalsh(&m);
        let expect = [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0];
        assert!(w.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-12), "{w}");
        assert!(rel(&m.t().to_owned(), &m) < 1e-15);
    }

    #[test]
    fn gram_and_rows_agree_and_the_data_term_is_consistent() {
        let target = psd_target(5, &[1.0], Seed(1));
        for kind in [OpKind::Symmetric, OpKind::General] {
            let a = Sensing::gaussian_repr(kind, &target, 30, 0.0, Seed(2), true);
            let b = Sensing::gaussian_repr(kind, &target, 30, 0.0, Seed(2), false);
            let x = gaussian_mat(&mut Seed(3).rng(), 5, 5, 1.0);
            assert!(rel(&a.residual(&x), &b.residual(&x)) < 1e-12);
            // noiseless: the residual vanishes at the target
            assert!(a.residual(&target).iter().all(|v| v.abs() < 1e-12));
        }
    }

    #[test]
    fn operators_are_near_isotropic() {
        // E A*A(X) = X (general) and = X on symmetric X (symmetric); the deviation is ~ n/sqrt(m).
        let n = 5;
        let target = psd_target(n, &[1.0], Seed(1));
        let g = gaussian_mat(&mut Seed(9).rng(), n, n, 1.0);
        let sym = (&g + &g.t()) * 0.5;
        let gen_op = Sensing::gaussian(OpKind::General, &target, 20_000, 0.0, Seed(5));
        let sym_op = Sensing::gaussian(OpKind::Symmetric, &target, 20_000, 0.0, Seed(6));
        assert!(rel(&gen_op.gram_apply(&g), &g) < 0.1);
        assert!(rel(&sym_op.gram_apply(&sym), &sym) < 0.1);
        // the symmetric operator cannot see an antisymmetric matrix
        let anti = (&g - &g.t()) * 0.5;
        assert!(sym_op.gram_apply(&anti).iter().all(|v| v.abs() < 1e-12));
        let id = Sensing::identity(&target);
        assert!(rel(&id.gram_apply(&g), &g) < 1e-15);
        assert_eq!(id.m, 0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // symmetric: ∇ ¼‖A(XXᵀ) − y‖² = ½(S + Sᵀ)X; asymmetric: ∇_F ½‖A(FGᵀ) − y‖² = S G.
        let n = 4;
        let target = psd_target(n, &[1.0, 0.3], Seed(1));
        let mut rng = Seed(2).rng();
        let x = gaussian_mat(&mut rng, n, 3, 0.5);
        let f = gaussian_mat(&mut rng, n, 3, 0.5);
        let gm = gaussian_mat(&mut rng, n, 3, 0.5);
        for kind in [OpKind::Symmetric, OpKind::General] {
            let s = Sensing::gaussian(kind, &target, 60, 0.01, Seed(3));
            let fsym = |x: &Array2<f64>| 0.5 * s.loss_shifted(&x.dot(&x.t()));
            let r = s.residual(&x.dot(&x.t()));
            let grad = ((&r + &r.t()) * 0.5).dot(&x);
            let fasym = |f: &Array2<f64>| s.loss_shifted(&f.dot(&gm.t()));
            let grad_f = s.residual(&f.dot(&gm.t())).dot(&gm);
            let h = 1e-6;
            for i in 0..n {
                for j in 0..3 {
                    let mut xp = x.clone();
                    xp[[i, j]] += h;
                    let mut xm = x.clone();
                    xm[[i, j]] -= h;
                    let fd = (fsym(&xp) - fsym(&xm)) / (2.0 * h);
                    assert!((fd - grad[[i, j]]).abs() < 1e-6 * (1.0 + fd.abs()), "{kind:?} sym {fd} {}", grad[[i, j]]);
                    let mut fp = f.clone();
                    fp[[i, j]] += h;
                    let mut fm = f.clone();
                    fm[[i, j]] -= h;
                    let fd = (fasym(&fp) - fasym(&fm)) / (2.0 * h);
                    assert!(
                        (fd - grad_f[[i, j]]).abs() < 1e-6 * (1.0 + fd.abs()),
                        "{kind:?} asym {fd} {}",
                        grad_f[[i, j]]
                    );
                }
            }
        }
    }
}
