//! The M-FAC optimizer (repo `optim.py`, class `MFAC`) as a gradient transform for
//! `common::optim`: each step inserts the gradient into the sliding window (replacing the oldest)
//! and returns `F^{-1} g` from the dynamic algorithm; the learning rate is the usual last link.
//! Momentum, when set, is the repo's `v <- mu v + (1 - mu) F^{-1} g`.
use crate::dynamic::DynamicInv;
use common::optim::{Chain, ScaleByLr, Schedule, Transform, chain, scale_by_lr};
use ndarray::{Array1, ArrayView1};

#[derive(Clone, Debug)]
pub struct ScaleByMfac {
    /// Window size (the repo's `ngrads`).
    pub m: usize,
    /// Damping lambda (the repo's `damp`).
    pub damp: f64,
    pub momentum: f64,
}

pub struct MfacState {
    hinv: DynamicInv,
    v: Option<Array1<f64>>,
}

impl Transform for ScaleByMfac {
    type State = MfacState;
    fn init(&self, p: ArrayView1<f64>) -> MfacState {
        MfacState {
            hinv: DynamicInv::zeros(self.m, p.len(), self.damp),
            v: (self.momentum > 0.0).then(|| Array1::zeros(p.len())),
        }
    }
    fn update(&self, g: ArrayView1<f64>, st: &mut MfacState, _: ArrayView1<f64>, _: usize) -> Array1<f64> {
        let u = st.hinv.update_mul(g);
        match &mut st.v {
            Some(v) => {
                v.zip_mut_with(&u, |a, &b| *a = self.momentum * *a + (1.0 - self.momentum) * b);
                v.clone()
            }
            None => u,
        }
    }
}

/// `w <- w - lr F^{-1} g` with the sliding-window empirical Fisher of the last `m` gradients.
pub fn mfac(lr: impl Into<Schedule>, m: usize, damp: f64, momentum: f64) -> Chain<ScaleByMfac, ScaleByLr> {
    chain(ScaleByMfac { m, damp, momentum }, scale_by_lr(lr))
}
