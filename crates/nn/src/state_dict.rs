//! State dicts: named parameter and buffer tensors, and how they are
//! loaded into a module.

use std::collections::HashSet;

use core_tensor::{Float, Tensor};

use crate::error::ShapeConflict;
use crate::module::Module;
use crate::{NnError, Result};

/// One entry of a state dict: a float tensor (parameters, running
/// statistics) or an integer one (`num_batches_tracked`, stored as I64 like
/// PyTorch's `torch.long`).
#[derive(Clone, Debug, PartialEq)]
pub enum StateTensor<F> {
    /// A float tensor in the module's precision.
    Float(Tensor<F>),
    /// A 64-bit integer tensor.
    Int(Tensor<i64>),
}

impl<F: Float> StateTensor<F> {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            StateTensor::Float(t) => t.shape(),
            StateTensor::Int(t) => t.shape(),
        }
    }

    /// The float tensor, if this is one.
    pub fn as_float(&self) -> Option<&Tensor<F>> {
        match self {
            StateTensor::Float(t) => Some(t),
            StateTensor::Int(_) => None,
        }
    }

    /// The integer tensor, if this is one.
    pub fn as_int(&self) -> Option<&Tensor<i64>> {
        match self {
            StateTensor::Int(t) => Some(t),
            StateTensor::Float(_) => None,
        }
    }

    /// The values as an integer tensor: integers as they are, floats
    /// rounded to the nearest integer (PyTorch's `copy_` into a long
    /// buffer truncates; stored counters are whole numbers either way).
    pub fn to_int(&self) -> Tensor<i64> {
        match self {
            StateTensor::Int(t) => t.clone(),
            StateTensor::Float(t) => t.map(|v| v.widen().round() as i64),
        }
    }
}

/// An ordered map from dotted names to tensors (`model.state_dict()`).
///
/// Insertion order is kept, and it is PyTorch's order when the dict comes
/// from [`Module::state_dict`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StateDict<F> {
    entries: Vec<(String, StateTensor<F>)>,
}

impl<F: Float> StateDict<F> {
    /// An empty state dict.
    pub fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Inserts or replaces `key`.
    pub fn insert(&mut self, key: impl Into<String>, value: StateTensor<F>) {
        let key = key.into();
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.entries.push((key, value));
        }
    }

    /// The tensor stored under `key`.
    pub fn get(&self, key: &str) -> Option<&StateTensor<F>> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The float tensor stored under `key`, if it is one.
    pub fn get_float(&self, key: &str) -> Option<&Tensor<F>> {
        self.get(key).and_then(StateTensor::as_float)
    }

    /// Removes and returns `key`.
    pub fn remove(&mut self, key: &str) -> Option<StateTensor<F>> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StateTensor<F>)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a non-strict [`Module::load_state_dict`] skipped (PyTorch's
/// `_IncompatibleKeys`). Both lists are empty after a strict load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Keys of the module that the state dict did not provide.
    pub missing: Vec<String>,
    /// Keys of the state dict that the module does not have.
    pub unexpected: Vec<String>,
}

pub(crate) fn load_into<F: Float, M: Module<F> + ?Sized>(
    m: &mut M,
    state: &StateDict<F>,
    strict: bool,
) -> Result<LoadReport> {
    let params = m.named_parameters();
    let buffers = m.named_buffers();
    let mut known = HashSet::new();
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    for (name, var) in &params {
        known.insert(name.clone());
        match state.get(name) {
            None => missing.push(name.clone()),
            Some(StateTensor::Float(t)) if t.shape() == var.shape().as_slice() => {}
            Some(other) => mismatched.push(ShapeConflict {
                key: name.clone(),
                expected: var.shape(),
                got: other.shape().to_vec(),
            }),
        }
    }
    for (name, buf) in &buffers {
        known.insert(name.clone());
        match state.get(name) {
            None => missing.push(name.clone()),
            Some(t) => {
                let kind_ok = matches!(
                    (buf, t),
                    (StateTensor::Float(_), StateTensor::Float(_)) | (StateTensor::Int(_), _)
                );
                if !kind_ok || t.shape() != buf.shape() {
                    mismatched.push(ShapeConflict {
                        key: name.clone(),
                        expected: buf.shape().to_vec(),
                        got: t.shape().to_vec(),
                    });
                }
            }
        }
    }
    let unexpected: Vec<String> = state
        .keys()
        .filter(|k| !known.contains(*k))
        .map(str::to_string)
        .collect();
    if !mismatched.is_empty() || (strict && (!missing.is_empty() || !unexpected.is_empty())) {
        return Err(NnError::StateDictMismatch {
            missing,
            unexpected,
            mismatched,
        });
    }
    for (name, var) in &params {
        if let Some(StateTensor::Float(t)) = state.get(name) {
            var.set_value(t.clone())?;
        }
    }
    set_buffers(m, "", state)?;
    Ok(LoadReport {
        missing,
        unexpected,
    })
}

fn set_buffers<F: Float, M: Module<F> + ?Sized>(
    m: &mut M,
    prefix: &str,
    state: &StateDict<F>,
) -> Result<()> {
    let own: Vec<(&'static str, StateTensor<F>)> = m.own_buffers();
    for (name, current) in own {
        if let Some(t) = state.get(&format!("{prefix}{name}")) {
            let value = match current {
                StateTensor::Int(_) => StateTensor::Int(t.to_int()),
                StateTensor::Float(_) => t.clone(),
            };
            m.set_own_buffer(name, value)?;
        }
    }
    for (child_name, child) in m.children_mut() {
        set_buffers(child, &format!("{prefix}{child_name}."), state)?;
    }
    Ok(())
}
