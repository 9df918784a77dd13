//! Optimizer state dicts (`optimizer.state_dict()`), and their layout in a
//! `.safetensors` file: buffers as tensors, scalars as metadata strings.

use std::collections::{BTreeMap, HashMap};

use core_tensor::{Float, Tensor};

use crate::state_dict::{StateDict, StateTensor};
use crate::{NnError, Result};

/// One entry of `state_dict()["param_groups"]`: the indices of the group's
/// parameters and its hyper-parameters by PyTorch's names (`lr`,
/// `initial_lr`, `momentum`, `weight_decay`, `beta1` and `beta2` for
/// `betas`, booleans such as `nesterov` or `amsgrad` as 0 / 1).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupState {
    /// Parameter indices, counted across the groups in order.
    pub params: Vec<usize>,
    /// Hyper-parameters by name.
    pub hyper: BTreeMap<String, f64>,
}

/// One entry of `state_dict()["state"]`: a parameter's step count (Adam)
/// and buffers (`momentum_buffer`; `exp_avg`, `exp_avg_sq`,
/// `max_exp_avg_sq`), each with the parameter's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamState<F> {
    /// Steps taken with this parameter (`state["step"]`), if counted.
    pub step: Option<u64>,
    /// Buffers by name.
    pub buffers: BTreeMap<String, Tensor<F>>,
}

/// The state of an optimizer, as `optimizer.state_dict()`: which optimizer,
/// its groups, and the state of every parameter that has taken a step.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<F> {
    /// `"SGD"`, `"Adam"` or `"AdamW"`.
    pub optimizer: String,
    /// The parameter groups.
    pub param_groups: Vec<GroupState>,
    /// Per-parameter state by parameter index (parameters that never took
    /// a step have none, as in PyTorch).
    pub state: BTreeMap<usize, ParamState<F>>,
}

/// A group read so far: its parameter list (once seen) and its numbers.
type PartialGroup = (Option<Vec<usize>>, BTreeMap<String, f64>);

fn bad(reason: String) -> NnError {
    NnError::StateMismatch {
        module: "OptimizerState",
        reason,
    }
}

fn parse<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| bad(format!("metadata `{key}` = {v:?} is not a number")))
}

impl<F: Float> OptimizerState<F> {
    /// Splits the state into tensors and metadata strings, every key under
    /// `prefix`: the tensors `{prefix}state.{i}.{buffer}`, and the metadata
    /// `{prefix}type`, `{prefix}param_groups.{g}.params` (`"0,1,2"`),
    /// `{prefix}param_groups.{g}.{hyper}` and `{prefix}state.{i}.step`.
    /// Numbers are written so that they parse back exactly.
    pub fn to_parts(&self, prefix: &str) -> (StateDict<F>, HashMap<String, String>) {
        let mut tensors = StateDict::new();
        let mut meta = HashMap::new();
        meta.insert(format!("{prefix}type"), self.optimizer.clone());
        for (g, group) in self.param_groups.iter().enumerate() {
            let ids: Vec<String> = group.params.iter().map(usize::to_string).collect();
            meta.insert(format!("{prefix}param_groups.{g}.params"), ids.join(","));
            for (k, v) in &group.hyper {
                meta.insert(format!("{prefix}param_groups.{g}.{k}"), v.to_string());
            }
        }
        for (i, ps) in &self.state {
            if let Some(step) = ps.step {
                meta.insert(format!("{prefix}state.{i}.step"), step.to_string());
            }
            for (name, t) in &ps.buffers {
                tensors.insert(
                    format!("{prefix}state.{i}.{name}"),
                    StateTensor::Float(t.clone()),
                );
            }
        }
        (tensors, meta)
    }

    /// The inverse of [`OptimizerState::to_parts`].
    ///
    /// # Errors
    /// [`NnError::StateMismatch`] when the type or a group's parameter list
    /// is missing, a number does not parse, or a key has an unknown form.
    pub fn from_parts(
        prefix: &str,
        tensors: &StateDict<F>,
        meta: &HashMap<String, String>,
    ) -> Result<Self> {
        let optimizer = meta
            .get(&format!("{prefix}type"))
            .ok_or_else(|| bad(format!("no `{prefix}type` in the metadata")))?
            .clone();
        let mut groups: BTreeMap<usize, PartialGroup> = BTreeMap::new();
        let mut state: BTreeMap<usize, ParamState<F>> = BTreeMap::new();
        let blank = || ParamState {
            step: None,
            buffers: BTreeMap::new(),
        };
        for (key, v) in meta {
            let Some(rest) = key.strip_prefix(prefix) else {
                continue;
            };
            if let Some(rest) = rest.strip_prefix("param_groups.") {
                let (g, name) = rest
                    .split_once('.')
                    .ok_or_else(|| bad(format!("malformed key `{key}`")))?;
                let entry = groups.entry(parse(key, g)?).or_default();
                if name == "params" {
                    let ids = if v.is_empty() {
                        Vec::new()
                    } else {
                        v.split(',')
                            .map(|s| parse(key, s))
                            .collect::<Result<Vec<usize>>>()?
                    };
                    entry.0 = Some(ids);
                } else {
                    entry.1.insert(name.to_string(), parse(key, v)?);
                }
            } else if let Some(rest) = rest.strip_prefix("state.") {
                let i = rest
                    .strip_suffix(".step")
                    .ok_or_else(|| bad(format!("malformed key `{key}`")))?;
                state.entry(parse(key, i)?).or_insert_with(blank).step = Some(parse(key, v)?);
            }
        }
        for (key, t) in tensors.iter() {
            let Some(rest) = key.strip_prefix(&format!("{prefix}state.")) else {
                continue;
            };
            let (i, name) = rest
                .split_once('.')
                .ok_or_else(|| bad(format!("malformed key `{key}`")))?;
            let t = t
                .as_float()
                .ok_or_else(|| bad(format!("`{key}` is an integer tensor")))?;
            state
                .entry(parse(key, i)?)
                .or_insert_with(blank)
                .buffers
                .insert(name.to_string(), t.clone());
        }
        let mut param_groups = Vec::new();
        for (k, (g, (params, hyper))) in groups.into_iter().enumerate() {
            if g != k {
                return Err(bad(format!("parameter group {k} is missing")));
            }
            let params =
                params.ok_or_else(|| bad(format!("parameter group {k} has no `params`")))?;
            param_groups.push(GroupState { params, hyper });
        }
        Ok(Self {
            optimizer,
            param_groups,
            state,
        })
    }
}
