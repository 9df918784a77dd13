//! The thread-local switch that decides whether ops record the graph.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread currently record the graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Restores the previous grad mode when dropped.
#[must_use = "grad mode is restored when the guard is dropped"]
#[derive(Debug)]
pub struct GradModeGuard {
    previous: bool,
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

fn set_grad_enabled(enabled: bool) -> GradModeGuard {
    let previous = GRAD_ENABLED.with(|g| g.replace(enabled));
    GradModeGuard { previous }
}

/// Disables graph recording on this thread until the guard is dropped,
/// like `with torch.no_grad():`.
///
/// ```
/// use autograd::{no_grad, Var};
/// use core_tensor::Tensor;
/// let x = Var::leaf(Tensor::from_vec(&[2], vec![1.0f64, 2.0])?);
/// let y = {
///     let _guard = no_grad();
///     x.mul_scalar(3.0)
/// };
/// assert!(!y.requires_grad());
/// # Ok::<(), core_tensor::TensorError>(())
/// ```
pub fn no_grad() -> GradModeGuard {
    set_grad_enabled(false)
}

/// Enables graph recording until the guard is dropped, like
/// `torch.enable_grad()`.
pub fn enable_grad() -> GradModeGuard {
    set_grad_enabled(true)
}
