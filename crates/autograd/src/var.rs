//! `Var<F>`: a tensor value and, when it requires grad, its place in the graph.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use core_tensor::{Float, Tensor};

use crate::backward::Backward;
use crate::engine::{BackwardOptions, run_backward};
use crate::grad_mode::is_grad_enabled;
use crate::hooks::Hooks;
use crate::{AutogradError, Result};

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

pub(crate) struct Node<F: Float> {
    pub(crate) backward: Box<dyn Backward<F>>,
    pub(crate) inputs: Vec<Var<F>>,
    /// The inputs' value versions when the op was recorded: a backward pass
    /// refuses to run the op if `set_value` changed an input since, because
    /// the backward would read the new value (PyTorch's version counter).
    pub(crate) versions: Vec<usize>,
}

/// Dropping the output of a long chain of ops would otherwise recurse once
/// per op (each node owns its inputs, which own their nodes, ...) and
/// overflow the stack for graphs of some ten thousand ops. The inputs are
/// instead unrolled onto a heap stack: every handle we hold the last
/// reference to is taken apart here, its node's inputs (and a gradient
/// graph kept in `.grad`) pushed for later.
impl<F: Float> Drop for Node<F> {
    fn drop(&mut self) {
        let mut stack: Vec<Var<F>> = std::mem::take(&mut self.inputs);
        while let Some(var) = stack.pop() {
            let Ok(inner) = Arc::try_unwrap(var.inner) else {
                continue; // someone else still holds it: just a count decrement
            };
            if let Some(cell) = inner.node {
                let node = cell.into_inner().unwrap_or_else(|e| e.into_inner());
                if let Some(mut node) = node {
                    stack.append(&mut node.inputs);
                }
            }
            if let Some(g) = inner.grad.into_inner().unwrap_or_else(|e| e.into_inner()) {
                stack.push(g);
            }
        }
    }
}

pub(crate) struct VarInner<F: Float> {
    pub(crate) id: usize,
    value: RwLock<Tensor<F>>,
    /// Fixed for op results; switchable on leaves by [`Var::requires_grad_`].
    requires_grad: AtomicBool,
    pub(crate) grad: Mutex<Option<Var<F>>>,
    /// `Some` for the result of a recorded op; the inner option becomes
    /// `None` when a backward pass frees the saved state.
    pub(crate) node: Option<Mutex<Option<Node<F>>>>,
    pub(crate) op_name: &'static str,
    /// Bumped by every `set_value`.
    pub(crate) version: AtomicUsize,
    /// Gradient hooks ([`Var::register_hook`] and friends).
    pub(crate) hooks: Mutex<Hooks<F>>,
}

/// A differentiable value: a [`Tensor`] plus, when it requires grad, the
/// op that produced it and that op's inputs.
///
/// Cloning a `Var` is cheap and yields a handle to the same node (like
/// copying a `torch.Tensor` reference). Leaves are made with [`Var::leaf`]
/// (requires grad) or [`Var::constant`] (does not); every op on `Var`s
/// records a node when grad mode is on and some input requires grad.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// let x = Var::leaf(Tensor::from_vec(&[3], vec![1.0f64, 2.0, 3.0])?);
/// let y = x.mul(&x)?.sum_all();        // sum x^2
/// y.backward()?;
/// assert_eq!(x.grad().unwrap().as_slice(), &[2.0, 4.0, 6.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Var<F: Float> {
    pub(crate) inner: Arc<VarInner<F>>,
}

impl<F: Float> Clone for Var<F> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<F: Float> Var<F> {
    fn make(
        value: Tensor<F>,
        requires_grad: bool,
        node: Option<Node<F>>,
        op_name: &'static str,
    ) -> Self {
        Self {
            inner: Arc::new(VarInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                value: RwLock::new(value),
                requires_grad: AtomicBool::new(requires_grad),
                grad: Mutex::new(None),
                node: node.map(|n| Mutex::new(Some(n))),
                op_name,
                version: AtomicUsize::new(0),
                hooks: Mutex::new(Hooks::default()),
            }),
        }
    }

    /// A leaf that requires grad: a parameter or an input to differentiate
    /// with respect to.
    pub fn leaf(value: Tensor<F>) -> Self {
        Self::make(value, true, None, "leaf")
    }

    /// A leaf that does not require grad.
    pub fn constant(value: Tensor<F>) -> Self {
        Self::make(value, false, None, "constant")
    }

    /// The result of an op: records a node with `backward` and `inputs` when
    /// grad mode is on and at least one input requires grad; otherwise a
    /// constant. `backward` is dropped unused in the second case.
    pub fn from_op(value: Tensor<F>, inputs: Vec<Var<F>>, backward: impl Backward<F>) -> Self {
        if is_grad_enabled() && inputs.iter().any(Var::requires_grad) {
            let name = backward.name();
            Self::make(
                value,
                true,
                Some(Node {
                    backward: Box::new(backward),
                    versions: inputs.iter().map(Var::version).collect(),
                    inputs,
                }),
                name,
            )
        } else {
            Self::constant(value)
        }
    }

    /// How many times [`Var::set_value`] has replaced this value (PyTorch's
    /// `tensor._version`).
    pub fn version(&self) -> usize {
        self.inner.version.load(Ordering::Acquire)
    }

    /// A stable identifier of this node (unique in the process).
    pub fn id(&self) -> usize {
        self.inner.id
    }

    /// The value (an `O(1)` clone of shared storage).
    pub fn value(&self) -> Tensor<F> {
        self.inner
            .value
            .read()
            .expect("value lock poisoned")
            .clone()
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.inner
            .value
            .read()
            .expect("value lock poisoned")
            .shape()
            .to_vec()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.inner.value.read().expect("value lock poisoned").ndim()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.inner.value.read().expect("value lock poisoned").len()
    }

    /// Whether the value has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether gradients flow to or through this value.
    pub fn requires_grad(&self) -> bool {
        self.inner.requires_grad.load(Ordering::Acquire)
    }

    /// Switches whether this leaf requires grad (`tensor.requires_grad_(on)`),
    /// e.g. to freeze a parameter.
    ///
    /// A frozen leaf gets no `.grad` from later backward passes, ops whose
    /// inputs are all frozen or constant record no node, and a backward pass
    /// skips every op whose inputs lead only to frozen leaves (also in a
    /// graph recorded before the switch). Switching does not clear a
    /// gradient already accumulated.
    ///
    /// ```
    /// use autograd::Var;
    /// use core_tensor::Tensor;
    /// let w = Var::leaf(Tensor::from_vec(&[2], vec![1.0f64, 2.0])?);
    /// let b = Var::leaf(Tensor::from_vec(&[2], vec![0.5f64, 0.5])?);
    /// w.requires_grad_(false)?;
    /// w.mul(&b)?.sum_all().backward()?;
    /// assert!(w.grad().is_none());
    /// assert_eq!(b.grad().unwrap().as_slice(), &[1.0, 2.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`AutogradError::InvalidUpdate`] for a value produced by an op: as in
    /// PyTorch, only leaves can change the flag (use [`Var::detach`] to cut
    /// a computed value off the graph).
    pub fn requires_grad_(&self, on: bool) -> Result<()> {
        if !self.is_leaf() {
            return Err(AutogradError::InvalidUpdate {
                op: "requires_grad_",
                reason: format!(
                    "only leaves can change requires_grad, this value comes from `{}`; \
                     use detach() for a computed value",
                    self.op_name()
                ),
            });
        }
        self.inner.requires_grad.store(on, Ordering::Release);
        Ok(())
    }

    /// Whether this is a leaf (not produced by a recorded op).
    pub fn is_leaf(&self) -> bool {
        self.inner.node.is_none()
    }

    /// The name of the op that produced this value (`"leaf"` or
    /// `"constant"` for leaves).
    pub fn op_name(&self) -> &'static str {
        self.inner.op_name
    }

    /// The accumulated gradient of a leaf after [`Var::backward`], if any.
    pub fn grad(&self) -> Option<Tensor<F>> {
        self.grad_var().map(|g| g.value())
    }

    /// The accumulated gradient as a `Var` (it carries a graph when the
    /// backward pass used `create_graph`).
    pub fn grad_var(&self) -> Option<Var<F>> {
        self.inner.grad.lock().expect("grad lock poisoned").clone()
    }

    /// Clears the accumulated gradient (`param.grad = None`).
    pub fn zero_grad(&self) {
        *self.inner.grad.lock().expect("grad lock poisoned") = None;
    }

    /// Replaces the accumulated gradient (`param.grad = g`), as gradient
    /// clipping does; `None` clears it.
    ///
    /// # Errors
    /// [`AutogradError::ShapeMismatch`] when `grad` has another shape than
    /// the value.
    pub fn set_grad(&self, grad: Option<Tensor<F>>) -> Result<()> {
        if let Some(g) = &grad
            && g.shape() != self.shape().as_slice()
        {
            return Err(AutogradError::ShapeMismatch {
                op: "set_grad",
                lhs: self.shape(),
                rhs: g.shape().to_vec(),
                reason: "a gradient must have its value's shape",
            });
        }
        *self.inner.grad.lock().expect("grad lock poisoned") = grad.map(Var::constant);
        Ok(())
    }

    /// A constant sharing this value, cut off from the graph.
    pub fn detach(&self) -> Var<F> {
        Var::constant(self.value())
    }

    /// Replaces the value of a leaf in place, keeping its identity (what an
    /// optimizer step does to `param.data`).
    ///
    /// # Errors
    /// [`AutogradError::InvalidUpdate`] for a non-leaf or a different shape.
    pub fn set_value(&self, value: Tensor<F>) -> Result<()> {
        if !self.is_leaf() {
            return Err(AutogradError::InvalidUpdate {
                op: "set_value",
                reason: format!(
                    "only leaves can be updated in place, this value comes from `{}`",
                    self.op_name()
                ),
            });
        }
        let mut guard = self.inner.value.write().expect("value lock poisoned");
        if guard.shape() != value.shape() {
            return Err(AutogradError::InvalidUpdate {
                op: "set_value",
                reason: format!(
                    "new shape {:?} differs from the leaf's shape {:?}",
                    value.shape(),
                    guard.shape()
                ),
            });
        }
        *guard = value;
        self.inner.version.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Backpropagates from a one-element output, seeding its gradient with 1,
    /// and accumulates gradients into every leaf that requires grad. Frees
    /// the graph's saved state, like `loss.backward()`.
    ///
    /// # Errors
    /// [`AutogradError::NonScalarOutput`] for outputs with more than one
    /// element, [`AutogradError::DoesNotRequireGrad`], [`AutogradError::GraphFreed`]
    /// on a second pass through a freed graph, and any op's backward error.
    pub fn backward(&self) -> Result<()> {
        if self.len() != 1 {
            return Err(AutogradError::NonScalarOutput {
                shape: self.shape(),
            });
        }
        let seed = Tensor::ones(&self.shape());
        self.backward_with(&seed, BackwardOptions::default())
    }

    /// Backpropagates `grad_output` (the gradient of some scalar with
    /// respect to this value) and accumulates into the leaves.
    ///
    /// With `create_graph`, a leaf's `.grad` holds a graph that usually
    /// refers back to the leaf itself (the gradient of `x²` is `2x`), a
    /// reference cycle that keeps both alive until [`Var::zero_grad`], as in
    /// PyTorch; prefer [`grad`](crate::grad) for higher-order derivatives.
    ///
    /// # Errors
    /// As [`Var::backward`], plus [`AutogradError::ShapeMismatch`] when
    /// `grad_output` has another shape.
    pub fn backward_with(&self, grad_output: &Tensor<F>, options: BackwardOptions) -> Result<()> {
        if !self.requires_grad() {
            return Err(AutogradError::DoesNotRequireGrad { op: "backward" });
        }
        if grad_output.shape() != self.shape().as_slice() {
            return Err(AutogradError::ShapeMismatch {
                op: "backward",
                lhs: self.shape(),
                rhs: grad_output.shape().to_vec(),
                reason: "the output gradient must have the output's shape",
            });
        }
        run_backward(
            std::slice::from_ref(self),
            &[Var::constant(grad_output.clone())],
            None,
            options,
        )?;
        Ok(())
    }
}

impl<F: Float> fmt::Debug for Var<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("id", &self.inner.id)
            .field("op", &self.inner.op_name)
            .field("requires_grad", &self.requires_grad())
            .field("value", &self.value())
            .finish()
    }
}
