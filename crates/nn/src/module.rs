//! The `Module` trait: forward pass, training flag, parameters and buffers
//! with PyTorch's dotted names, and state dicts.

use autograd::Var;
use core_tensor::Float;

use crate::state_dict::{LoadReport, StateDict, StateTensor, load_into};
use crate::{NnError, Result};

/// A layer or a container of layers, like `torch.nn.Module`.
///
/// A module owns its parameters (leaf [`Var`]s, updated in place by the
/// optimizers through [`Var::set_value`]) and its buffers (plain state such
/// as `running_mean`, updated by [`Module::forward`] in training mode, which
/// is why `forward` takes `&mut self`). Containers expose their children
/// through [`Module::children`] / [`Module::children_mut`]; every recursive
/// method (`train`, `eval`, `named_parameters`, `named_buffers`,
/// `state_dict`, `load_state_dict`, `zero_grad`) is provided on top of
/// those, and names are PyTorch's: `<child>.<name>`, e.g. `0.weight` or
/// `features.1.running_mean`.
///
/// ```
/// use autograd::Var;
/// use core_tensor::{Rng, Tensor};
/// use nn::{Linear, Module, ReLU, Sequential};
///
/// let mut rng = Rng::new(0);
/// let mut net = Sequential::<f64>::new()
///     .push(Linear::new(3, 4, true, &mut rng)?)
///     .push(ReLU::new())
///     .push(Linear::new(4, 2, true, &mut rng)?);
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// net.eval();
/// assert!(!net.is_training());
/// let y = net.forward(&Var::constant(Tensor::zeros(&[5, 3])))?;
/// assert_eq!(y.shape(), vec![5, 2]);
/// # Ok::<(), nn::NnError>(())
/// ```
pub trait Module<F: Float>: Send {
    /// The layer's type name, as PyTorch prints it (`"Conv2d"`).
    fn type_name(&self) -> &'static str;

    /// Applies the module to `x`. In training mode this may update buffers
    /// (batch-norm running statistics) and draw random numbers (dropout).
    ///
    /// # Errors
    /// [`NnError::BadInput`] for an input of the wrong rank or size, and
    /// the errors of the ops used.
    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>>;

    /// Whether this module is in training mode (`module.training`).
    fn is_training(&self) -> bool;

    /// Sets this module's own training flag, not its children's
    /// (use [`Module::train`] / [`Module::eval`] for the recursive switch).
    fn set_training_flag(&mut self, training: bool);

    /// The parameters registered directly on this module, in registration
    /// order, with their local names (`weight`, `bias`).
    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        Vec::new()
    }

    /// The buffers registered directly on this module, with their local
    /// names (`running_mean`, `running_var`, `num_batches_tracked`).
    fn own_buffers(&self) -> Vec<(&'static str, StateTensor<F>)> {
        Vec::new()
    }

    /// Replaces one of this module's own buffers (used by
    /// [`Module::load_state_dict`], which has already checked the shape).
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when `name` is not a buffer of this module
    /// or `value` has the wrong kind (float/integer) or shape.
    fn set_own_buffer(&mut self, name: &str, value: StateTensor<F>) -> Result<()> {
        let _ = value;
        Err(NnError::config(
            self.type_name(),
            "buffer",
            format!("`{name}` is not a buffer of this module"),
        ))
    }

    /// The direct children with their names (`"0"`, `"features"`).
    fn children(&self) -> Vec<(String, &dyn Module<F>)> {
        Vec::new()
    }

    /// The direct children, mutably.
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<F>)> {
        Vec::new()
    }

    /// Sets the training flag of this module and all its descendants
    /// (`module.train(mode)`).
    fn set_training(&mut self, training: bool) {
        self.set_training_flag(training);
        for (_, child) in self.children_mut() {
            child.set_training(training);
        }
    }

    /// Training mode, recursively (`module.train()`).
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Evaluation mode, recursively (`module.eval()`).
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// Every parameter of this module and its descendants with its dotted
    /// name, in PyTorch's order (own parameters first, then each child's).
    fn named_parameters(&self) -> Vec<(String, Var<F>)> {
        let mut out: Vec<(String, Var<F>)> = self
            .own_parameters()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        for (prefix, child) in self.children() {
            for (n, v) in child.named_parameters() {
                out.push((format!("{prefix}.{n}"), v));
            }
        }
        out
    }

    /// The parameters without names (what an optimizer takes).
    fn parameters(&self) -> Vec<Var<F>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// Every buffer of this module and its descendants with its dotted name.
    fn named_buffers(&self) -> Vec<(String, StateTensor<F>)> {
        let mut out: Vec<(String, StateTensor<F>)> = self
            .own_buffers()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        for (prefix, child) in self.children() {
            for (n, v) in child.named_buffers() {
                out.push((format!("{prefix}.{n}"), v));
            }
        }
        out
    }

    /// Freezes (`false`) or unfreezes (`true`) every parameter of this
    /// module and its descendants (`module.requires_grad_(on)`).
    ///
    /// A frozen parameter gets no gradient, the optimizers skip it, and a
    /// backward pass runs no op whose inputs lead only to frozen parameters.
    ///
    /// ```
    /// use autograd::Var;
    /// use core_tensor::{Rng, Tensor};
    /// use nn::{Linear, Module, Sequential};
    /// let mut rng = Rng::new(0);
    /// let mut net = Sequential::<f64>::new()
    ///     .push(Linear::new(3, 4, true, &mut rng)?)
    ///     .push(Linear::new(4, 2, true, &mut rng)?);
    /// net.children_mut()[0].1.requires_grad_(false)?;      // freeze layer 0
    /// net.forward(&Var::constant(Tensor::ones(&[5, 3])))?.sum_all().backward()?;
    /// let with_grad: Vec<String> = net.named_parameters().into_iter()
    ///     .filter(|(_, p)| p.grad().is_some()).map(|(n, _)| n).collect();
    /// assert_eq!(with_grad, ["1.weight", "1.bias"]);
    /// # Ok::<(), nn::NnError>(())
    /// ```
    ///
    /// # Errors
    /// [`NnError::Autograd`] if a parameter is not a leaf.
    fn requires_grad_(&self, on: bool) -> Result<()> {
        for p in self.parameters() {
            p.requires_grad_(on)?;
        }
        Ok(())
    }

    /// Clears the gradient of every parameter (`optimizer.zero_grad()` with
    /// `set_to_none=True`).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Parameters and buffers by dotted name, in PyTorch's order: per
    /// module, its own parameters, then its own buffers, then its children.
    fn state_dict(&self) -> StateDict<F> {
        let mut sd = StateDict::new();
        collect_state(self, "", &mut sd);
        sd
    }

    /// Copies the tensors of `state` into this module's parameters (in
    /// place, keeping their identity) and buffers.
    ///
    /// The check happens before anything is copied, so a failed load leaves
    /// the module untouched (PyTorch copies the matching keys before it
    /// raises). With `strict`, missing and unexpected keys are errors;
    /// without, they are returned in the [`LoadReport`]. A tensor whose
    /// shape differs from the module's is an error in both modes, as in
    /// PyTorch. Float tensors are rounded into `F`; `num_batches_tracked`
    /// may be stored as an integer or a float.
    ///
    /// # Errors
    /// [`NnError::StateDictMismatch`] listing every missing, unexpected and
    /// mis-shaped key.
    fn load_state_dict(&mut self, state: &StateDict<F>, strict: bool) -> Result<LoadReport> {
        load_into(self, state, strict)
    }
}

fn collect_state<F: Float, M: Module<F> + ?Sized>(m: &M, prefix: &str, sd: &mut StateDict<F>) {
    for (n, v) in m.own_parameters() {
        sd.insert(format!("{prefix}{n}"), StateTensor::Float(v.value()));
    }
    for (n, v) in m.own_buffers() {
        sd.insert(format!("{prefix}{n}"), v);
    }
    for (name, child) in m.children() {
        collect_state(child, &format!("{prefix}{name}."), sd);
    }
}
