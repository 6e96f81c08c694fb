//! Reverse-mode automatic differentiation over `f64` arrays: a small tape (Wengert list) for the
//! studies whose models are not a flat MLP (CNNs on grids, graph nets with implicit layers,
//! coding-rate objectives, least-squares layers).
//!
//! **Values.** Every node holds an [`ArrayD<f64>`] (any rank; matrices are rank 2, images NCHW
//! rank 4). Inputs go in with [`Tape::param`] (a leaf that gets a gradient) or [`Tape::constant`]
//! (a leaf that does not: data, targets); every operation is a method of [`Tape`] that takes
//! [`Var`] handles (`Copy` indices into the tape) and returns a new one. [`Tape::value`] reads a
//! node's value. The tape uses interior mutability, so expressions nest:
//! `tape.add(tape.matmul(x, w), b)`.
//!
//! **Node kinds.** A node is a leaf (no parents), a built-in operation (a closure that maps the
//! output cotangent to the parents' cotangents, capturing only indices and shapes; the parents'
//! values are read from the tape during the backward pass), or a custom node
//! ([`Tape::custom`]: a caller's value and a [`Vjp`] implementation, which may fail with a
//! typed [`AdError`], e.g. an adjoint linear solve that does not converge). Operations whose
//! parents need no gradient record no backward closure at all.
//!
//! **Custom VJPs.** A [`Vjp`] receives a [`VjpCtx`]: the parents' values, the node's own value,
//! the cotangent `ḡ` of the output and which parents need a gradient; it returns one cotangent per
//! parent (`None` for a parent it skips), each of that parent's shape. Any closure
//! `Fn(&VjpCtx) -> Result<Vec<Option<ArrayD<f64>>>, AdError>` is a [`Vjp`]. A VJP must not record on
//! the tape it belongs to (the backward pass holds it borrowed); it may build and differentiate
//! its own sub-tapes. [`fixed_point`]
//! (module `implicit`) is the worked example: `z* = f(z*, θ)` with `f` written on a sub-tape, the
//! forward pass iterates to convergence, the VJP solves `(I − ∂f/∂zᵀ) u = ḡ` by GMRES (each
//! product one backward pass of the sub-tape at `z*`) and returns `∂f/∂θᵀ u` (the implicit
//! function theorem; Blondel et al., "Efficient and Modular Implicit Differentiation", 2022).
//! A least-squares layer is the other pattern: the tests' `ridge` node returns
//! `x = (AᵀA + λI)⁻¹ Aᵀ b` with the VJP `u = (AᵀA + λI)⁻¹ ḡ`, `ḡ_b = A u`, `ḡ_A = r uᵀ − A u xᵀ`
//! (`r = b − A x`), reusing the forward pass's Cholesky factor captured in the closure (the same
//! formula holds at a Levenberg–Marquardt solution of a nonlinear least-squares problem with `A`
//! its Jacobian there, to first order).
//!
//! **Backward pass.** [`Tape::backward`] seeds the scalar loss with 1 ([`Tape::backward_with`]:
//! any cotangent) and visits the nodes in reverse creation order (a reverse topological order,
//! since a node's parents are older). Each visited node's cotangent is passed to its VJP and the
//! results are added into the parents' cotangents: the first contribution is moved in, later ones
//! are added elementwise, in the order the consumers are visited (latest consumer first) and, for
//! one consumer, in its parent order. So the gradient's bits depend only on the program, not on
//! threads. Cotangents of interior nodes are dropped once they have been propagated; [`Grads`]
//! keeps the leaves'.
//!
//! **Summation order.** Full reductions ([`Tape::sum`], [`Tape::mean`], the losses) add in the
//! logical row-major order, left to right; reductions along an axis ([`Tape::sum_axis`], the
//! broadcasting VJPs, [`Tape::logsumexp`]) add the slices along the axis in increasing index
//! order; [`Tape::scatter_add_rows`] adds the rows in index order; matrix products and
//! convolutions (im2col) go through `linalg::dense::gemm` (faer, whose parallel split does not
//! depend on the thread count).
//!
//! **Broadcasting.** The binary elementwise operations follow NumPy's rule (align trailing axes;
//! an axis of length 1 or a missing leading axis is repeated): a row `1 x n` or a vector `n`
//! against `m x n`, a column `m x 1`, a scalar `()` or `1 x 1`. The VJP sums the cotangent over
//! the repeated axes.
//!
//! **Memory.** The tape holds every node's value until it is dropped (a forward pass of the model
//! plus the data); the backward pass holds the cotangents of the nodes between the loss and the
//! leaves that are still to be visited. Convolutions recompute their im2col matrices in the
//! backward pass instead of storing them. Build one tape per loss evaluation.
//!
//! Shapes that do not fit an operation are programming errors and panic with the shapes named;
//! numerical failures at run time ([`Tape::logdet_spd`] of a matrix that is not positive
//! definite, a fixed point that does not converge) are typed errors.

mod conv;
mod implicit;
mod ops;
#[cfg(test)]
mod tests;

pub use conv::Conv2d;
pub use implicit::{FixedPointNode, fixed_point};
pub use ops::{Unary, sum_to_shape};

use crate::linalg::DenseError;
use crate::solve::SolveError;
use ndarray::{Array, ArrayD, Dimension, IxDyn};
use std::cell::{Ref, RefCell};

/// A handle to a node of a [`Tape`] (its index). Only meaningful on the tape that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub usize);

/// A failure of the backward pass or of a custom node's forward computation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AdError {
    /// A dense factorization failed (e.g. the log-det of a matrix that is not positive definite).
    #[error(transparent)]
    Dense(#[from] DenseError),
    /// An iterative solve failed (a fixed point or an adjoint linear system).
    #[error(transparent)]
    Solve(#[from] SolveError),
    /// A custom node's own failure.
    #[error("{0}")]
    Custom(String),
}

/// What a VJP sees at a node during the backward pass.
pub struct VjpCtx<'c> {
    /// The parents' values, in the order the node was given them.
    pub inputs: &'c [&'c ArrayD<f64>],
    /// The node's own value.
    pub output: &'c ArrayD<f64>,
    /// The cotangent of the node's value (same shape).
    pub grad: &'c ArrayD<f64>,
    /// Whether each parent needs a cotangent (a parent that does not may be given `None`).
    pub needs: &'c [bool],
}

/// The vector-Jacobian product of a node: cotangent of the output → cotangents of the parents.
pub trait Vjp {
    /// One entry per parent: its cotangent (its shape), or `None` (treated as zero; allowed for
    /// any parent, required for none).
    fn vjp(&self, ctx: &VjpCtx) -> Result<Vec<Option<ArrayD<f64>>>, AdError>;
}

impl<F> Vjp for F
where
    F: Fn(&VjpCtx) -> Result<Vec<Option<ArrayD<f64>>>, AdError>,
{
    fn vjp(&self, ctx: &VjpCtx) -> Result<Vec<Option<ArrayD<f64>>>, AdError> {
        self(ctx)
    }
}

/// A built-in operation's backward: infallible.
type Builtin<'a> = Box<dyn Fn(&VjpCtx) -> Vec<Option<ArrayD<f64>>> + 'a>;

enum Backward<'a> {
    Builtin(Builtin<'a>),
    Custom(Box<dyn Vjp + 'a>),
}

struct Node<'a> {
    value: ArrayD<f64>,
    parents: Vec<usize>,
    requires_grad: bool,
    backward: Option<Backward<'a>>,
}

/// The recording of one computation (see the module doc). `'a` bounds what custom VJPs borrow.
#[derive(Default)]
pub struct Tape<'a> {
    nodes: RefCell<Vec<Node<'a>>>,
}

/// The cotangents of the leaves after a backward pass (interior nodes' are dropped).
#[derive(Debug, Clone)]
pub struct Grads {
    g: Vec<Option<ArrayD<f64>>>,
}

impl Grads {
    /// The gradient of leaf `v`, or `None` when the output does not depend on it.
    pub fn get(&self, v: Var) -> Option<&ArrayD<f64>> {
        self.g.get(v.0).and_then(|g| g.as_ref())
    }
    /// Move the gradient of leaf `v` out (`None` as in [`Grads::get`]).
    pub fn take(&mut self, v: Var) -> Option<ArrayD<f64>> {
        self.g.get_mut(v.0).and_then(|g| g.take())
    }
}

impl<'a> Tape<'a> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape { nodes: RefCell::new(Vec::new()) }
    }

    /// Number of nodes recorded.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether no node has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&self, node: Node<'a>) -> Var {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(node);
        Var(nodes.len() - 1)
    }

    /// A leaf that gets a gradient (a parameter).
    pub fn param<D: Dimension>(&self, value: Array<f64, D>) -> Var {
        self.push(Node { value: value.into_dyn(), parents: vec![], requires_grad: true, backward: None })
    }

    /// A leaf without a gradient (data, targets, fixed coefficients).
    pub fn constant<D: Dimension>(&self, value: Array<f64, D>) -> Var {
        self.push(Node { value: value.into_dyn(), parents: vec![], requires_grad: false, backward: None })
    }

    /// A 0-dimensional constant.
    pub fn scalar(&self, x: f64) -> Var {
        self.constant(ndarray::arr0(x))
    }

    /// Whether the node depends on a parameter (and so takes part in the backward pass).
    pub fn requires_grad(&self, v: Var) -> bool {
        self.nodes.borrow()[v.0].requires_grad
    }

    /// The node's value, borrowed from the tape: drop the borrow before recording another node
    /// on this tape (recording while it is held panics; `tape.value(v).clone()` copies it out).
    pub fn value(&self, v: Var) -> Ref<'_, ArrayD<f64>> {
        Ref::map(self.nodes.borrow(), |n| &n[v.0].value)
    }

    /// The value of a node with one element.
    pub fn item(&self, v: Var) -> f64 {
        let val = self.value(v);
        assert_eq!(val.len(), 1, "item: the node has shape {:?}", val.shape());
        *val.iter().next().expect("one element")
    }

    /// The node's shape.
    pub fn shape(&self, v: Var) -> Vec<usize> {
        self.value(v).shape().to_vec()
    }

    /// Record an operation with the given parents and value; `backward` is kept only when a parent
    /// needs a gradient.
    pub(crate) fn op(
        &self,
        parents: &[Var],
        value: ArrayD<f64>,
        backward: impl Fn(&VjpCtx) -> Vec<Option<ArrayD<f64>>> + 'a,
    ) -> Var {
        let requires_grad = {
            let nodes = self.nodes.borrow();
            parents.iter().any(|p| nodes[p.0].requires_grad)
        };
        let backward = requires_grad.then(|| Backward::Builtin(Box::new(backward) as Builtin<'a>));
        self.push(Node { value, parents: parents.iter().map(|p| p.0).collect(), requires_grad, backward })
    }

    /// A custom node: the caller computed `value` from the parents `inputs`, and `vjp` maps the
    /// cotangent of `value` to theirs (see [`Vjp`] and the module doc).
    pub fn custom<D: Dimension>(&self, inputs: &[Var], value: Array<f64, D>, vjp: impl Vjp + 'a) -> Var {
        let requires_grad = {
            let nodes = self.nodes.borrow();
            inputs.iter().any(|p| nodes[p.0].requires_grad)
        };
        let backward = requires_grad.then(|| Backward::Custom(Box::new(vjp) as Box<dyn Vjp + 'a>));
        self.push(Node {
            value: value.into_dyn(),
            parents: inputs.iter().map(|p| p.0).collect(),
            requires_grad,
            backward,
        })
    }

    /// Gradients of a scalar (one-element) node with respect to every leaf it depends on.
    pub fn backward(&self, loss: Var) -> Result<Grads, AdError> {
        let shape = self.shape(loss);
        assert_eq!(shape.iter().product::<usize>(), 1, "backward: the loss must have one element, got shape {shape:?}");
        self.backward_with(loss, ArrayD::ones(IxDyn(&shape)))
    }

    /// The gradients of `loss` with respect to `wrt`, in that order (zeros where it does not
    /// depend on one).
    pub fn grad(&self, loss: Var, wrt: &[Var]) -> Result<Vec<ArrayD<f64>>, AdError> {
        let mut g = self.backward(loss)?;
        Ok(wrt.iter().map(|&v| g.take(v).unwrap_or_else(|| ArrayD::zeros(IxDyn(&self.shape(v))))).collect())
    }

    /// The vector-Jacobian product: the cotangents of the leaves given the cotangent `seed` of
    /// `out` (same shape as its value).
    pub fn backward_with(&self, out: Var, seed: ArrayD<f64>) -> Result<Grads, AdError> {
        let nodes = self.nodes.borrow();
        assert_eq!(seed.shape(), nodes[out.0].value.shape(), "backward_with: seed shape differs from the output's");
        let mut g: Vec<Option<ArrayD<f64>>> = (0..nodes.len()).map(|_| None).collect();
        if nodes[out.0].requires_grad {
            g[out.0] = Some(seed);
        }
        for i in (0..=out.0).rev() {
            let node = &nodes[i];
            let Some(bw) = &node.backward else { continue };
            let Some(gi) = g[i].take() else { continue };
            let inputs: Vec<&ArrayD<f64>> = node.parents.iter().map(|&p| &nodes[p].value).collect();
            let needs: Vec<bool> = node.parents.iter().map(|&p| nodes[p].requires_grad).collect();
            let ctx = VjpCtx { inputs: &inputs, output: &node.value, grad: &gi, needs: &needs };
            let contrib = match bw {
                Backward::Builtin(f) => f(&ctx),
                Backward::Custom(f) => f.vjp(&ctx)?,
            };
            assert_eq!(
                contrib.len(),
                node.parents.len(),
                "vjp of node {i}: {} cotangents for {} parents",
                contrib.len(),
                node.parents.len()
            );
            for (k, c) in contrib.into_iter().enumerate() {
                let p = node.parents[k];
                let Some(c) = c else { continue };
                if !nodes[p].requires_grad {
                    continue;
                }
                assert_eq!(c.shape(), nodes[p].value.shape(), "vjp of node {i}: cotangent {k} has the wrong shape");
                match &mut g[p] {
                    Some(acc) => *acc += &c,
                    slot @ None => *slot = Some(c),
                }
            }
        }
        Ok(Grads { g })
    }
}
