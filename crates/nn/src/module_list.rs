//! `ModuleList`: an indexed list of modules, for models that are not a
//! plain chain.

use std::ops::{Index, IndexMut};

use autograd::Var;
use core_tensor::Float;

use crate::module::Module;
use crate::{NnError, Result};

/// A list of modules registered as children (`torch.nn.ModuleList`): their
/// parameters and buffers appear in the owner's state dict as
/// `<list>.<index>.<name>` (`layers.0.weight`), and `train` / `eval`
/// reach them, but the list has no `forward` of its own; the model that
/// holds it decides how its entries are called.
///
/// ```
/// use autograd::Var;
/// use core_tensor::{Float, Rng, Tensor};
/// use nn::{Linear, Module, ModuleList, Result};
///
/// /// A residual MLP: x + layer(x) for each layer.
/// struct Residual<F: Float> {
///     layers: ModuleList<F>,
///     training: bool,
/// }
///
/// impl<F: Float> Module<F> for Residual<F> {
///     fn type_name(&self) -> &'static str { "Residual" }
///     fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
///         let mut h = x.clone();
///         for layer in self.layers.iter_mut() {
///             h = h.add(&layer.forward(&h)?.tanh())?;
///         }
///         Ok(h)
///     }
///     fn is_training(&self) -> bool { self.training }
///     fn set_training_flag(&mut self, t: bool) { self.training = t; }
///     fn children(&self) -> Vec<(String, &dyn Module<F>)> {
///         vec![("layers".into(), &self.layers as &dyn Module<F>)]
///     }
///     fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<F>)> {
///         vec![("layers".into(), &mut self.layers as &mut dyn Module<F>)]
///     }
/// }
///
/// let mut rng = Rng::new(0);
/// let mut layers = ModuleList::new();
/// for _ in 0..3 {
///     layers.push(Linear::<f64>::new(4, 4, true, &mut rng)?);
/// }
/// let mut net = Residual { layers, training: true };
/// let keys: Vec<String> = net.state_dict().keys().map(String::from).collect();
/// assert_eq!(keys[..3], ["layers.0.weight", "layers.0.bias", "layers.1.weight"]);
/// assert_eq!(net.layers[2].type_name(), "Linear");
/// let y = net.forward(&Var::constant(Tensor::ones(&[2, 4])))?;
/// assert_eq!(y.shape(), [2, 4]);
/// # Ok::<(), nn::NnError>(())
/// ```
pub struct ModuleList<F: Float> {
    modules: Vec<Box<dyn Module<F>>>,
    training: bool,
}

impl<F: Float> Default for ModuleList<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Float> ModuleList<F> {
    /// An empty list, in training mode.
    pub fn new() -> Self {
        Self {
            modules: Vec::new(),
            training: true,
        }
    }

    /// A list of the given boxed modules (`nn.ModuleList([...])`).
    pub fn from_modules(modules: impl IntoIterator<Item = Box<dyn Module<F>>>) -> Self {
        let mut list = Self::new();
        list.extend(modules);
        list
    }

    /// Appends `module` (`append`); it is named by its index.
    pub fn push(&mut self, module: impl Module<F> + 'static) {
        self.modules.push(Box::new(module));
    }

    /// Appends a boxed module.
    pub fn push_boxed(&mut self, module: Box<dyn Module<F>>) {
        self.modules.push(module);
    }

    /// Inserts `module` before `index` (`insert`); later modules move one
    /// index up, and so do their state-dict names.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when `index > len`.
    pub fn insert(&mut self, index: usize, module: impl Module<F> + 'static) -> Result<()> {
        if index > self.modules.len() {
            return Err(NnError::config(
                "ModuleList",
                "index",
                format!(
                    "insert index {index} is past the end of a list of {} modules",
                    self.modules.len()
                ),
            ));
        }
        self.modules.insert(index, Box::new(module));
        Ok(())
    }

    /// The number of modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The module at `index`, `None` past the end.
    pub fn get(&self, index: usize) -> Option<&(dyn Module<F> + 'static)> {
        self.modules.get(index).map(|m| m.as_ref())
    }

    /// The module at `index`, mutably.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut (dyn Module<F> + 'static)> {
        self.modules.get_mut(index).map(|m| m.as_mut())
    }

    /// The modules in order.
    pub fn iter(&self) -> impl Iterator<Item = &(dyn Module<F> + 'static)> {
        self.modules.iter().map(|m| m.as_ref())
    }

    /// The modules in order, mutably (to call their `forward`).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut (dyn Module<F> + 'static)> {
        self.modules.iter_mut().map(|m| m.as_mut())
    }
}

impl<F: Float> Extend<Box<dyn Module<F>>> for ModuleList<F> {
    /// Appends every module (`extend`).
    fn extend<I: IntoIterator<Item = Box<dyn Module<F>>>>(&mut self, iter: I) {
        self.modules.extend(iter);
    }
}

impl<F: Float> Index<usize> for ModuleList<F> {
    type Output = dyn Module<F>;

    /// `list[index]`; panics past the end like a slice ([`ModuleList::get`]
    /// is the checked form).
    fn index(&self, index: usize) -> &Self::Output {
        self.modules[index].as_ref()
    }
}

impl<F: Float> IndexMut<usize> for ModuleList<F> {
    fn index_mut(&mut self, index: usize) -> &mut Self::Output {
        self.modules[index].as_mut()
    }
}

impl<F: Float> Module<F> for ModuleList<F> {
    fn type_name(&self) -> &'static str {
        "ModuleList"
    }

    /// A `ModuleList` has no forward (PyTorch raises
    /// `NotImplementedError`): always [`NnError::InvalidConfig`].
    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let _ = x;
        Err(NnError::config(
            "ModuleList",
            "forward",
            "a ModuleList has no forward; call its modules from the forward of the model that holds it",
        ))
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn set_training_flag(&mut self, training: bool) {
        self.training = training;
    }

    fn children(&self) -> Vec<(String, &dyn Module<F>)> {
        self.modules
            .iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m.as_ref() as &dyn Module<F>))
            .collect()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<F>)> {
        self.modules
            .iter_mut()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m.as_mut() as &mut dyn Module<F>))
            .collect()
    }
}
