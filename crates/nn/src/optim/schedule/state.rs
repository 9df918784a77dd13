//! The state dict of a schedule, and its layout as metadata strings.

use std::collections::{BTreeMap, HashMap};

use crate::{NnError, Result};

/// A schedule's state (`scheduler.state_dict()`): its kind, its numbers by
/// name (`last_epoch`, `base_lrs.0`, `best`, ...) and, for
/// [`super::SequentialLR`], the states of the schedules it chains.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SchedulerState {
    /// PyTorch's class name (`"StepLR"`).
    pub kind: String,
    /// The numbers by name.
    pub values: BTreeMap<String, f64>,
    /// The chained schedules' states.
    pub children: Vec<SchedulerState>,
}

fn bad(reason: String) -> NnError {
    NnError::StateMismatch {
        module: "SchedulerState",
        reason,
    }
}

impl SchedulerState {
    /// A state of kind `kind` with `values`.
    pub fn new(kind: &str, values: impl IntoIterator<Item = (String, f64)>) -> Self {
        Self {
            kind: kind.to_string(),
            values: values.into_iter().collect(),
            children: Vec::new(),
        }
    }

    /// The number stored under `key`.
    ///
    /// # Errors
    /// [`NnError::StateMismatch`] when it is missing.
    pub fn get(&self, key: &str) -> Result<f64> {
        self.values
            .get(key)
            .copied()
            .ok_or_else(|| bad(format!("a `{}` state lacks `{key}`", self.kind)))
    }

    /// Checks that this is the state of a `kind` schedule.
    ///
    /// # Errors
    /// [`NnError::StateMismatch`] otherwise.
    pub fn expect_kind(&self, kind: &'static str) -> Result<()> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(NnError::StateMismatch {
                module: kind,
                reason: format!("the state dict is of a `{}` schedule", self.kind),
            })
        }
    }

    /// The metadata strings of this state, every key under `prefix`:
    /// `{prefix}kind`, `{prefix}{name}` per number (written so that it
    /// parses back exactly), `{prefix}children` (the count) and
    /// `{prefix}children.{i}.` for each chained state.
    pub fn to_metadata(&self, prefix: &str) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert(format!("{prefix}kind"), self.kind.clone());
        for (k, v) in &self.values {
            m.insert(format!("{prefix}{k}"), v.to_string());
        }
        m.insert(format!("{prefix}children"), self.children.len().to_string());
        for (i, c) in self.children.iter().enumerate() {
            m.extend(c.to_metadata(&format!("{prefix}children.{i}.")));
        }
        m
    }

    /// The inverse of [`SchedulerState::to_metadata`].
    ///
    /// # Errors
    /// [`NnError::StateMismatch`] for a missing kind or a malformed number.
    pub fn from_metadata(prefix: &str, meta: &HashMap<String, String>) -> Result<Self> {
        let kind = meta
            .get(&format!("{prefix}kind"))
            .ok_or_else(|| bad(format!("no `{prefix}kind` in the metadata")))?
            .clone();
        let n: usize = meta
            .get(&format!("{prefix}children"))
            .map_or(Ok(0), |v| v.parse())
            .map_err(|_| bad(format!("`{prefix}children` is not a count")))?;
        let mut values = BTreeMap::new();
        for (key, v) in meta {
            let Some(name) = key.strip_prefix(prefix) else {
                continue;
            };
            if name == "kind" || name == "children" || name.starts_with("children.") {
                continue;
            }
            let x: f64 = v
                .parse()
                .map_err(|_| bad(format!("metadata `{key}` = {v:?} is not a number")))?;
            values.insert(name.to_string(), x);
        }
        let children = (0..n.min(meta.len()))
            .map(|i| Self::from_metadata(&format!("{prefix}children.{i}."), meta))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            kind,
            values,
            children,
        })
    }
}

impl SchedulerState {
    /// Stores `v` as `{name}.0`, `{name}.1`, ...
    pub(crate) fn put_list(&mut self, name: &str, v: &[f64]) {
        for (i, x) in v.iter().enumerate() {
            self.values.insert(format!("{name}.{i}"), *x);
        }
    }

    /// Reads `{name}.0`, `{name}.1`, ... up to the first missing index, and
    /// checks that there are `len` of them.
    pub(crate) fn list(&self, name: &str, len: usize) -> Result<Vec<f64>> {
        let v: Vec<f64> = (0..)
            .map_while(|i| self.values.get(&format!("{name}.{i}")).copied())
            .collect();
        if v.len() == len {
            Ok(v)
        } else {
            Err(bad(format!(
                "the `{}` state has {} values of `{name}`, the schedule {len} parameter groups",
                self.kind,
                v.len()
            )))
        }
    }
}
