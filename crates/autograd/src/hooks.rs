//! Gradient hooks on a [`Var`]: functions the engine calls when the value's
//! gradient is complete during a backward pass (PyTorch's
//! `Tensor.register_hook` and `Tensor.register_post_accumulate_grad_hook`).

use std::fmt;
use std::sync::{Arc, Mutex, Weak};

use core_tensor::Float;

use crate::var::VarInner;
use crate::{AutogradError, Result, Var};

/// A gradient hook: called with the complete gradient of its `Var`; returns
/// `Some(replacement)` to change the gradient that flows on, `None` to keep it.
pub(crate) type GradHookFn<F> = dyn Fn(&Var<F>) -> Result<Option<Var<F>>> + Send + Sync;

/// A post-accumulate hook: called with the leaf itself once its `.grad`
/// holds the accumulated gradient.
pub(crate) type PostAccumulateHookFn<F> = dyn Fn(&Var<F>) -> Result<()> + Send + Sync;

/// The hooks registered on one `Var`, in registration order.
pub(crate) struct Hooks<F: Float> {
    next_id: u64,
    grad: Vec<(u64, Arc<GradHookFn<F>>)>,
    post_accumulate: Vec<(u64, Arc<PostAccumulateHookFn<F>>)>,
}

impl<F: Float> Default for Hooks<F> {
    fn default() -> Self {
        Self {
            next_id: 0,
            grad: Vec::new(),
            post_accumulate: Vec::new(),
        }
    }
}

impl<F: Float> Hooks<F> {
    pub(crate) fn is_empty(&self) -> bool {
        self.grad.is_empty() && self.post_accumulate.is_empty()
    }

    fn remove(&mut self, id: u64) {
        self.grad.retain(|(k, _)| *k != id);
        self.post_accumulate.retain(|(k, _)| *k != id);
    }
}

/// Removes the hook it was returned for (PyTorch's `RemovableHandle`).
///
/// Dropping the handle keeps the hook registered, as in PyTorch; call
/// [`HookHandle::remove`] to unregister it. Removing after the `Var` is
/// gone, or twice through clones of the `Var`, is harmless.
pub struct HookHandle {
    remover: Box<dyn Fn() + Send + Sync>,
}

impl HookHandle {
    /// Unregisters the hook: later backward passes no longer call it.
    pub fn remove(self) {
        (self.remover)();
    }
}

impl fmt::Debug for HookHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookHandle").finish_non_exhaustive()
    }
}

fn handle_for<F: Float>(inner: &Arc<VarInner<F>>, id: u64) -> HookHandle {
    let weak: Weak<VarInner<F>> = Arc::downgrade(inner);
    HookHandle {
        remover: Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                lock(&inner.hooks).remove(id);
            }
        }),
    }
}

fn lock<F: Float>(hooks: &Mutex<Hooks<F>>) -> std::sync::MutexGuard<'_, Hooks<F>> {
    hooks.lock().unwrap_or_else(|e| e.into_inner())
}

impl<F: Float> Var<F> {
    /// Registers `hook` to be called with this value's gradient when a
    /// backward pass has finished computing it (PyTorch's
    /// `Tensor.register_hook`).
    ///
    /// - "Finished" means every contribution has been summed: the hook runs
    ///   once per pass, just before the gradient flows on to the op that
    ///   produced this value (for a leaf: before it is added to `.grad`, and
    ///   before [`grad`](crate::grad) returns it for this value).
    /// - The hook returns `Ok(None)` to keep the gradient or
    ///   `Ok(Some(g))` to replace it; the replacement must have the same
    ///   shape and is what later hooks, the producing op, `.grad` and
    ///   [`grad`](crate::grad) see. Several hooks run in registration order,
    ///   each seeing the previous one's result.
    /// - An error returned by the hook aborts the backward pass with it.
    /// - With `create_graph`, the gradient handed over carries its graph;
    ///   replacements built from differentiable ops keep higher orders
    ///   correct.
    ///
    /// ```
    /// use autograd::Var;
    /// use core_tensor::Tensor;
    /// let x = Var::leaf(Tensor::from_vec(&[2], vec![1.0f64, 2.0])?);
    /// let h = x.register_hook(|g| Ok(Some(g.mul_scalar(10.0))))?;
    /// x.mul(&x)?.sum_all().backward()?;                 // d/dx = 2x, then x10
    /// assert_eq!(x.grad().unwrap().as_slice(), &[20.0, 40.0]);
    /// h.remove();
    /// x.zero_grad();
    /// x.mul(&x)?.sum_all().backward()?;
    /// assert_eq!(x.grad().unwrap().as_slice(), &[2.0, 4.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`AutogradError::DoesNotRequireGrad`] for a value that does not
    /// require grad (no gradient would ever reach it).
    pub fn register_hook(
        &self,
        hook: impl Fn(&Var<F>) -> Result<Option<Var<F>>> + Send + Sync + 'static,
    ) -> Result<HookHandle> {
        if !self.requires_grad() {
            return Err(AutogradError::DoesNotRequireGrad {
                op: "register_hook",
            });
        }
        let mut hooks = lock(&self.inner.hooks);
        let id = hooks.next_id;
        hooks.next_id += 1;
        hooks.grad.push((id, Arc::new(hook)));
        Ok(handle_for(&self.inner, id))
    }

    /// Registers `hook` to be called with this leaf after a backward pass
    /// has added its gradient to `.grad` (PyTorch 2.x's
    /// `Tensor.register_post_accumulate_grad_hook`).
    ///
    /// The hook receives the leaf itself; [`Var::grad`] then holds the sum
    /// over every pass since the last [`Var::zero_grad`]. It runs once per
    /// [`Var::backward`] (or [`Var::backward_with`]) pass that reaches the
    /// leaf, after the [`Var::register_hook`] hooks, and not at all in
    /// [`grad`](crate::grad), which leaves `.grad` alone. This is the
    /// "gradient ready" signal a data-parallel wrapper uses to start
    /// reducing a parameter's gradient while the rest of the backward pass
    /// is still running. An error returned by the hook aborts the pass.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use autograd::Var;
    /// use core_tensor::Tensor;
    /// let w = Var::leaf(Tensor::from_vec(&[1], vec![3.0f64])?);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// w.register_post_accumulate_grad_hook(move |leaf| {
    ///     log.lock().unwrap().push(leaf.grad().unwrap().as_slice()[0]);
    ///     Ok(())
    /// })?;
    /// w.mul_scalar(2.0).sum_all().backward()?;
    /// w.mul_scalar(2.0).sum_all().backward()?;          // accumulates
    /// assert_eq!(*seen.lock().unwrap(), vec![2.0, 4.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`AutogradError::DoesNotRequireGrad`] for a value that does not
    /// require grad, [`AutogradError::InvalidArgument`] for a non-leaf
    /// (only leaves accumulate into `.grad`).
    pub fn register_post_accumulate_grad_hook(
        &self,
        hook: impl Fn(&Var<F>) -> Result<()> + Send + Sync + 'static,
    ) -> Result<HookHandle> {
        if !self.requires_grad() {
            return Err(AutogradError::DoesNotRequireGrad {
                op: "register_post_accumulate_grad_hook",
            });
        }
        if !self.is_leaf() {
            return Err(AutogradError::InvalidArgument {
                op: "register_post_accumulate_grad_hook",
                param: "tensor",
                reason: format!(
                    "post-accumulate grad hooks can only be registered on leaves, \
                     this value comes from `{}`; use register_hook",
                    self.op_name()
                ),
            });
        }
        let mut hooks = lock(&self.inner.hooks);
        let id = hooks.next_id;
        hooks.next_id += 1;
        hooks.post_accumulate.push((id, Arc::new(hook)));
        Ok(handle_for(&self.inner, id))
    }

    /// Runs the gradient hooks on `g` in order; returns the final gradient.
    pub(crate) fn run_grad_hooks(&self, mut g: Var<F>) -> Result<Var<F>> {
        // The list is copied out so a hook may register or remove hooks.
        let hooks: Vec<Arc<GradHookFn<F>>> = {
            let guard = lock(&self.inner.hooks);
            if guard.is_empty() {
                return Ok(g);
            }
            guard.grad.iter().map(|(_, h)| Arc::clone(h)).collect()
        };
        for hook in hooks {
            if let Some(replacement) = hook(&g)? {
                if replacement.shape() != g.shape() {
                    return Err(AutogradError::ShapeMismatch {
                        op: "register_hook",
                        lhs: g.shape(),
                        rhs: replacement.shape(),
                        reason: "a hook's replacement gradient must have the gradient's shape",
                    });
                }
                g = replacement;
            }
        }
        Ok(g)
    }

    /// Runs the post-accumulate hooks of a leaf.
    pub(crate) fn run_post_accumulate_hooks(&self) -> Result<()> {
        let hooks: Vec<Arc<PostAccumulateHookFn<F>>> = {
            let guard = lock(&self.inner.hooks);
            if guard.is_empty() {
                return Ok(());
            }
            guard
                .post_accumulate
                .iter()
                .map(|(_, h)| Arc::clone(h))
                .collect()
        };
        for hook in hooks {
            hook(self)?;
        }
        Ok(())
    }
}
