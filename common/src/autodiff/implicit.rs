//! An implicit fixed-point layer as a custom node: `z* = f(z*, θ)`, differentiated through one
//! linear solve instead of through the iterations.
//!
//! If `z* = f(z*, θ)` and `I − ∂f/∂z` is invertible at `z*`, the implicit function theorem gives
//! `∂z*/∂θ = (I − ∂f/∂z)⁻¹ ∂f/∂θ`, so the VJP of a cotangent `ḡ` is `∂f/∂θᵀ u` with
//! `(I − ∂f/∂z)ᵀ u = ḡ` (Bai, Kolter & Koltun, "Deep Equilibrium Models", 2019; Blondel et al.
//! 2022). `f` is written once as a function that records on a tape; the forward pass iterates it
//! on throw-away sub-tapes (`solve::fixed_point`, with its contraction monitor and typed errors),
//! the backward pass records it once at `(z*, θ)` and uses that sub-tape's backward pass for the
//! products `∂f/∂zᵀ u` (GMRES on `u ↦ u − ∂f/∂zᵀ u`, started at `ḡ`) and, once, `∂f/∂θᵀ u`.
use super::{AdError, Tape, Var, VjpCtx};
use crate::solve::{FixedPointOpts, FnMap, KrylovOpts, gmres};
use ndarray::{Array1, ArrayD, ArrayView1, IxDyn};
use std::cell::RefCell;

/// Options of [`fixed_point`]: the forward iteration's and the adjoint solve's.
#[derive(Clone, Copy, Debug, Default)]
pub struct FixedPointNode {
    /// Stopping rule of the forward iteration `z ← f(z, θ)`.
    pub forward: FixedPointOpts,
    /// Stopping rule of the adjoint GMRES solve.
    pub adjoint: KrylovOpts,
}

fn flat(a: &ArrayD<f64>) -> Array1<f64> {
    a.iter().copied().collect()
}

fn shaped(v: ArrayView1<f64>, shape: &[usize]) -> ArrayD<f64> {
    v.to_owned().into_shape_with_order(IxDyn(shape)).expect("length matches the shape")
}

/// Records the fixed point `z* = f(z*, θ)` on `tape`, iterating from `z0`, as one node whose
/// parents are `theta` (see the module doc of `implicit`). `f(t, z, θ)` records `f` on the tape
/// `t` from the leaves `z` and `θ` and returns a node of `z`'s shape; it must not read anything
/// else that changes. Errors when the forward iteration does not converge; the backward pass
/// errors when the adjoint solve does not.
pub fn fixed_point<'a, F>(
    tape: &Tape<'a>,
    z0: ArrayD<f64>,
    theta: &[Var],
    f: F,
    opts: FixedPointNode,
) -> Result<Var, AdError>
where
    F: Fn(&Tape<'_>, Var, &[Var]) -> Var + 'a,
{
    let shape = z0.shape().to_vec();
    let theta_vals: Vec<ArrayD<f64>> = theta.iter().map(|&t| tape.value(t).clone()).collect();
    let step = |z: ArrayView1<f64>| -> Array1<f64> {
        let sub = Tape::new();
        let zv = sub.constant(shaped(z, &shape));
        let th: Vec<Var> = theta_vals.iter().map(|t| sub.constant(t.clone())).collect();
        let out = f(&sub, zv, &th);
        let val = sub.value(out);
        assert_eq!(val.shape(), &shape[..], "fixed_point: f changes the shape of z");
        flat(&val)
    };
    let res = crate::solve::fixed_point(step, flat(&z0).view(), opts.forward)?;
    let value = shaped(res.x.view(), &shape);
    let vjp = move |c: &VjpCtx| -> Result<Vec<Option<ArrayD<f64>>>, AdError> {
        let zstar = c.output;
        // ∂f/∂zᵀ products on a sub-tape where θ is constant.
        let sub = Tape::new();
        let z = sub.param(zstar.clone());
        let th: Vec<Var> = c.inputs.iter().map(|&t| sub.constant(t.clone())).collect();
        let out = f(&sub, z, &th);
        let err: RefCell<Option<AdError>> = RefCell::new(None);
        let op = FnMap::new(zstar.len(), |u: ArrayView1<f64>| {
            let ju = match sub.backward_with(out, shaped(u, zstar.shape())) {
                Ok(mut g) => g.take(z).map(|a| flat(&a)).unwrap_or_else(|| Array1::zeros(u.len())),
                Err(e) => {
                    err.borrow_mut().get_or_insert(e);
                    Array1::zeros(u.len())
                }
            };
            &u - &ju
        });
        let gbar = flat(c.grad);
        let sol = gmres(&op, gbar.view(), Some(gbar.view()), opts.adjoint);
        if let Some(e) = err.into_inner() {
            return Err(e);
        }
        let u = sol?.x;
        // ∂f/∂θᵀ u on a sub-tape where θ are the parameters.
        let sub = Tape::new();
        let z = sub.constant(zstar.clone());
        let th: Vec<Var> = c
            .inputs
            .iter()
            .zip(c.needs)
            .map(|(&t, &need)| if need { sub.param(t.clone()) } else { sub.constant(t.clone()) })
            .collect();
        let out = f(&sub, z, &th);
        let mut g = sub.backward_with(out, shaped(u.view(), zstar.shape()))?;
        Ok(th.iter().zip(c.needs).map(|(&t, &need)| if need { g.take(t) } else { None }).collect())
    };
    Ok(tape.custom(theta, value, vjp))
}
