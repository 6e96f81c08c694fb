//! Matrix-free symmetric linear operators: the interface every Krylov method here works on.
//! A Hessian, a Gauss-Newton matrix or a dense matrix are all `LinOp`s.
use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{Array1, Array2, ArrayView1};

/// A symmetric linear operator on R^dim, known only through its action `v -> A v`.
pub trait LinOp: Sync {
    /// The dimension `dim` of the space the operator acts on.
    fn dim(&self) -> usize;
    /// `A v` for a vector `v` of length `dim`.
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64>;
}

/// A dense (symmetric) matrix as an operator.
impl LinOp for Array2<f64> {
    fn dim(&self) -> usize {
        debug_assert_eq!(self.nrows(), self.ncols(), "LinOp needs a square matrix");
        self.nrows()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        self.dot(&v)
    }
}

impl<O: LinOp + ?Sized> LinOp for &O {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        (**self).apply(v)
    }
}

impl<O: LinOp + ?Sized> LinOp for Box<O> {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        (**self).apply(v)
    }
}

/// An operator given by a closure: `FnOp::new(n, |v| ...)`.
pub struct FnOp<F> {
    /// The dimension.
    pub n: usize,
    /// The action `v -> A v`.
    pub f: F,
}

impl<F: Fn(ArrayView1<f64>) -> Array1<f64> + Sync> FnOp<F> {
    /// The operator on R^n whose action is `f`.
    pub fn new(n: usize, f: F) -> Self {
        FnOp { n, f }
    }
}

impl<F: Fn(ArrayView1<f64>) -> Array1<f64> + Sync> LinOp for FnOp<F> {
    fn dim(&self) -> usize {
        self.n
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        (self.f)(v)
    }
}

/// `A + shift * I`.
pub struct Shifted<O> {
    /// The operator `A`.
    pub op: O,
    /// The shift added to the diagonal.
    pub shift: f64,
}

impl<O: LinOp> LinOp for Shifted<O> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        let mut y = self.op.apply(v);
        y.scaled_add(self.shift, &v);
        y
    }
}

/// Counts applications of the wrapped operator. Built with [`Counted::hvp`], each application
/// also counts as one Hessian-vector product in [`crate::counters`].
pub struct Counted<O> {
    /// The wrapped operator.
    pub op: O,
    count: AtomicU64,
    is_hvp: bool,
}

impl<O> Counted<O> {
    /// Count applies locally only.
    pub fn new(op: O) -> Self {
        Counted { op, count: AtomicU64::new(0), is_hvp: false }
    }
    /// Count applies locally and as HVPs in the process-wide counters.
    pub fn hvp(op: O) -> Self {
        Counted { op, count: AtomicU64::new(0), is_hvp: true }
    }
    /// Number of applies so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
    /// Set the local count back to 0 (the process-wide HVP counter is not touched).
    pub fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
    }
    /// The wrapped operator.
    pub fn into_inner(self) -> O {
        self.op
    }
}

impl<O: LinOp> LinOp for Counted<O> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&self, v: ArrayView1<f64>) -> Array1<f64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        if self.is_hvp {
            crate::counters::add_hvps(1);
        }
        self.op.apply(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn dense_and_counted() {
        let a = array![[2.0, 1.0], [1.0, 3.0]];
        let c = Counted::new(&a);
        assert_eq!(c.dim(), 2);
        let y = c.apply(array![1.0, -1.0].view());
        assert_eq!(y, array![1.0, -2.0]);
        c.apply(y.view());
        assert_eq!(c.count(), 2);
        let (_, h0) = crate::counters::snapshot();
        let h = Counted::hvp(FnOp::new(2, |v: ArrayView1<f64>| v.to_owned()));
        h.apply(array![1.0, 2.0].view());
        assert_eq!(h.count(), 1);
        assert!(crate::counters::snapshot().1 > h0);
        let s = Shifted { op: &a, shift: 1.0 };
        assert_eq!(s.apply(array![1.0, 0.0].view()), array![3.0, 1.0]);
    }
}
