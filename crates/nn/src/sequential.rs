//! `Sequential`: children applied one after the other.

use autograd::Var;
use core_tensor::Float;

use crate::module::{Module, ReplaceChild};
use crate::{NnError, Result};

/// A chain of modules applied in order (`torch.nn.Sequential`).
///
/// Children added with [`Sequential::push`] are named by their position
/// (`"0"`, `"1"`, ...), as in PyTorch; [`Sequential::add`] gives a child an
/// explicit name (PyTorch's `OrderedDict` form), which becomes the prefix
/// of its parameters (`features.weight`).
pub struct Sequential<F: Float> {
    layers: Vec<(String, Box<dyn Module<F>>)>,
    training: bool,
}

impl<F: Float> Default for Sequential<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Float> Sequential<F> {
    /// An empty chain, in training mode.
    pub fn new() -> Self {
        Self {
            layers: Vec::new(),
            training: true,
        }
    }

    /// Appends `module` under the name of its position.
    pub fn push(mut self, module: impl Module<F> + 'static) -> Self {
        let name = self.layers.len().to_string();
        self.layers.push((name, Box::new(module)));
        self
    }

    /// Appends a boxed module under the name of its position.
    pub fn push_boxed(&mut self, module: Box<dyn Module<F>>) {
        let name = self.layers.len().to_string();
        self.layers.push((name, module));
    }

    /// Appends `module` under an explicit name.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when the name is empty, contains a `.`,
    /// or is already taken.
    pub fn add(mut self, name: &str, module: impl Module<F> + 'static) -> Result<Self> {
        if name.is_empty() || name.contains('.') {
            return Err(NnError::config(
                "Sequential",
                "name",
                format!("child name {name:?} must be non-empty and must not contain '.'"),
            ));
        }
        if self.layers.iter().any(|(n, _)| n == name) {
            return Err(NnError::config(
                "Sequential",
                "name",
                format!("a child named {name:?} already exists"),
            ));
        }
        self.layers.push((name.to_string(), Box::new(module)));
        Ok(self)
    }

    /// The number of children.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no children.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The child at `index`.
    pub fn get(&self, index: usize) -> Option<&(dyn Module<F> + 'static)> {
        self.layers.get(index).map(|(_, m)| m.as_ref())
    }

    /// The children with their names, mutably (for in-place rewrites such
    /// as [`crate::fuse_conv_bn_sequential`]).
    pub(crate) fn layers_mut(&mut self) -> &mut [(String, Box<dyn Module<F>>)] {
        &mut self.layers
    }

    /// The children with their names.
    pub(crate) fn layers(&self) -> &[(String, Box<dyn Module<F>>)] {
        &self.layers
    }

    /// The child at `index`, mutably.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut (dyn Module<F> + 'static)> {
        self.layers.get_mut(index).map(|(_, m)| m.as_mut())
    }
}

impl<F: Float> Module<F> for Sequential<F> {
    fn type_name(&self) -> &'static str {
        "Sequential"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let mut h = x.clone();
        for (_, layer) in &mut self.layers {
            h = layer.forward(&h)?;
        }
        Ok(h)
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn set_training_flag(&mut self, training: bool) {
        self.training = training;
    }

    fn children(&self) -> Vec<(String, &dyn Module<F>)> {
        self.layers
            .iter()
            .map(|(n, m)| (n.clone(), m.as_ref() as &dyn Module<F>))
            .collect()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<F>)> {
        self.layers
            .iter_mut()
            .map(|(n, m)| (n.clone(), m.as_mut() as &mut dyn Module<F>))
            .collect()
    }

    fn replace_children(&mut self, f: &mut ReplaceChild<'_, F>) -> Result<()> {
        let layers = std::mem::take(&mut self.layers);
        let mut kept = Vec::with_capacity(layers.len());
        let mut failure = None;
        for (name, module) in layers {
            if failure.is_some() {
                kept.push((name, module));
                continue;
            }
            // `f` consumes the child; on an error the child is lost, so the
            // container keeps the children before it and after it.
            match f(&name, module) {
                Ok(m) => kept.push((name, m)),
                Err(e) => failure = Some(e),
            }
        }
        self.layers = kept;
        failure.map_or(Ok(()), Err)
    }
}
