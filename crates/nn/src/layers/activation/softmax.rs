//! `Softmax` and `LogSoftmax` along a dimension.

use autograd::Var;
use core_tensor::Float;

use crate::layers::module_parts::training_flag;
use crate::module::Module;
use crate::{NnError, Result};

/// Checks `dim` against the input's rank as PyTorch does ("Dimension out
/// of range (expected to be in range of [-r, r-1], but got d)").
fn check_dim(module: &'static str, dim: isize, shape: &[usize]) -> Result<()> {
    let r = shape.len().max(1) as isize;
    if dim < -r || dim >= r {
        return Err(NnError::input(
            module,
            format!(
                "a tensor with dimension {dim} (dim must be in range of [{}, {}])",
                -r,
                r - 1
            ),
            shape,
        ));
    }
    Ok(())
}

/// `torch.nn.Softmax(dim)`: `exp(x_i) / Σ_j exp(x_j)` along `dim`
/// (negative counts from the end), computed stably.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use nn::{Module, Softmax};
/// let x = Var::constant(Tensor::from_vec(&[2, 2], vec![0.0f64, 0.0, 1.0, 1.0])?);
/// let y = Softmax::new(-1).forward(&x)?;
/// for v in y.value().as_slice() {
///     assert!((v - 0.5).abs() <= 1e-16);
/// }
/// assert!(Softmax::new(2).forward(&x).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Softmax {
    dim: isize,
    training: bool,
}

impl Softmax {
    /// The layer normalizing along `dim`. PyTorch's deprecated implicit
    /// `dim=None` has no equivalent: the dimension is always given.
    pub fn new(dim: isize) -> Self {
        Self {
            dim,
            training: true,
        }
    }

    /// The dimension normalized over.
    pub fn dim(&self) -> isize {
        self.dim
    }
}

impl<F: Float> Module<F> for Softmax {
    fn type_name(&self) -> &'static str {
        "Softmax"
    }

    /// # Errors
    /// [`NnError::BadInput`] when `dim` is outside `[-r, r-1]` for an input
    /// of rank `r` (`r = 1` for a 0-dimensional input, as in PyTorch).
    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        along_dim("Softmax", self.dim, x, Var::softmax)
    }

    training_flag!();
}

/// `torch.nn.LogSoftmax(dim)`: `x_i − log Σ_j exp(x_j)` along `dim`,
/// computed stably.
#[derive(Clone, Debug)]
pub struct LogSoftmax {
    dim: isize,
    training: bool,
}

impl LogSoftmax {
    /// The layer normalizing along `dim`.
    pub fn new(dim: isize) -> Self {
        Self {
            dim,
            training: true,
        }
    }

    /// The dimension normalized over.
    pub fn dim(&self) -> isize {
        self.dim
    }
}

impl<F: Float> Module<F> for LogSoftmax {
    fn type_name(&self) -> &'static str {
        "LogSoftmax"
    }

    /// # Errors
    /// As [`Softmax`]'s forward.
    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        along_dim("LogSoftmax", self.dim, x, Var::log_softmax)
    }

    training_flag!();
}

/// Applies the row-wise `op` along `dim` after checking `dim` for `layer`;
/// a 0-d input is one lane of one element, as in PyTorch.
fn along_dim<F: Float>(
    layer: &'static str,
    dim: isize,
    x: &Var<F>,
    op: fn(&Var<F>, isize) -> autograd::Result<Var<F>>,
) -> Result<Var<F>> {
    let shape = x.shape();
    check_dim(layer, dim, &shape)?;
    if shape.is_empty() {
        return Ok(op(&x.reshape(&[1])?, 0)?.reshape(&[])?);
    }
    Ok(op(x, dim)?)
}
