//! The `Module` trait: forward pass, training flag, parameters and buffers
//! with PyTorch's dotted names, and state dicts.

use std::any::Any;

use autograd::Var;
use core_tensor::Float;

use crate::layers::BatchNormParts;
use crate::state_dict::{LoadReport, StateDict, StateTensor, load_into};
use crate::{NnError, Result};

/// What [`Module::replace_children`] passes each child through: its name
/// and the child in, the module to keep in its place out.
pub type ReplaceChild<'a, F> =
    dyn FnMut(&str, Box<dyn Module<F>>) -> Result<Box<dyn Module<F>>> + 'a;

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
///
/// Every module is [`Any`], so a `&dyn Module<F>` can be turned back into
/// its concrete type with [`downcast_ref`](trait.Module.html#method.downcast_ref)
/// (PyTorch's `isinstance(m, nn.Conv2d)`).
pub trait Module<F: Float>: Send + Any {
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

    /// The direct children with their names (`module.named_children()`),
    /// the same list as [`Module::children`].
    fn named_children(&self) -> Vec<(String, &dyn Module<F>)> {
        self.children()
    }

    /// This module (named `""`) and all its descendants with dotted names,
    /// depth first in registration order (`module.named_modules()`). For a
    /// `&dyn Module<F>`, call the function [`named_modules`](crate::named_modules).
    ///
    /// ```
    /// use core_tensor::Rng;
    /// use nn::{Linear, Module, ReLU, Sequential};
    ///
    /// let mut rng = Rng::new(0);
    /// let inner = Sequential::<f64>::new().push(Linear::new(2, 2, true, &mut rng)?).push(ReLU::new());
    /// let net = Sequential::new().add("body", inner)?.add("head", Linear::new(2, 1, true, &mut rng)?)?;
    /// let names: Vec<(String, &str)> =
    ///     net.named_modules().into_iter().map(|(n, m)| (n, m.type_name())).collect();
    /// assert_eq!(names, [
    ///     ("".to_string(), "Sequential"),
    ///     ("body".to_string(), "Sequential"),
    ///     ("body.0".to_string(), "Linear"),
    ///     ("body.1".to_string(), "ReLU"),
    ///     ("head".to_string(), "Linear"),
    /// ]);
    /// # Ok::<(), nn::NnError>(())
    /// ```
    fn named_modules(&self) -> Vec<(String, &dyn Module<F>)>
    where
        Self: Sized,
    {
        named_modules(self)
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

    /// The state of this module if it is a `BatchNorm1d/2d/3d`, for model
    /// conversions such as `convert_sync_batchnorm` (crate `distributed`);
    /// `None` for every other module.
    fn batch_norm_parts(&self) -> Option<BatchNormParts<F>> {
        None
    }

    /// Passes each direct child, with its name, through `f` and keeps what
    /// `f` returns in its place (same name, same position): how model
    /// conversions swap layers inside containers. Modules without children
    /// have nothing to do; containers override it.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when this module has children but cannot
    /// replace them (the default for containers that do not override it),
    /// and the errors of `f`.
    fn replace_children(&mut self, f: &mut ReplaceChild<'_, F>) -> Result<()> {
        let _ = f;
        if self.children().is_empty() {
            Ok(())
        } else {
            Err(NnError::config(
                self.type_name(),
                "children",
                "this container does not support replacing its children \
                 (implement Module::replace_children)",
            ))
        }
    }
}

impl<F: Float> dyn Module<F> {
    /// The module as its concrete type `T`, if it is one
    /// (`isinstance(m, T)`), e.g. on a child from [`crate::Sequential::get`]
    /// or [`crate::ModuleList::get`].
    pub fn downcast_ref<T: Module<F>>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }

    /// The module as its concrete type `T`, mutably, if it is one.
    pub fn downcast_mut<T: Module<F>>(&mut self) -> Option<&mut T> {
        (self as &mut dyn Any).downcast_mut::<T>()
    }
}

/// `m` (named `""`) and all its descendants with dotted names, depth first
/// in registration order: [`Module::named_modules`] for a `&dyn Module<F>`.
pub fn named_modules<F: Float>(m: &dyn Module<F>) -> Vec<(String, &dyn Module<F>)> {
    let mut out = vec![(String::new(), m)];
    for (name, child) in m.children() {
        for (sub, module) in named_modules(child) {
            let full = if sub.is_empty() {
                name.clone()
            } else {
                format!("{name}.{sub}")
            };
            out.push((full, module));
        }
    }
    out
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
