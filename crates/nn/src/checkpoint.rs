//! `Checkpoint`: model, optimizer and schedule state, epoch and random
//! generator state in one `.safetensors` file, to resume a training run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use core_tensor::{Float, Rng};

use crate::module::Module;
use crate::optim::{LrScheduler, Optimizer, OptimizerState, SchedulerState};
use crate::serialize::{from_safetensors_bytes, safetensors_metadata, to_safetensors_bytes};
use crate::state_dict::StateDict;
use crate::{NnError, Result};

const FORMAT: &str = "handgrad.checkpoint.v1";

/// Everything a training run needs to resume where it stopped, like the
/// dict PyTorch users pass to `torch.save({"model": model.state_dict(),
/// "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
/// "epoch": epoch, "rng": ...}, path)`, stored as one `.safetensors` file.
///
/// Layout of the file: the model's tensors under `model.`, the optimizer's
/// buffers under `optimizer.state.{i}.`, and as string metadata `format`,
/// `epoch`, `rng` (four hexadecimal words), the optimizer's scalars
/// (`optimizer.type`, `optimizer.param_groups.{g}.lr`, ...), the schedule's
/// (`scheduler.kind`, `scheduler.last_epoch`, ...) and `extra.{key}`.
/// Numbers are written so that they read back bit for bit, so a resumed
/// run continues exactly as the uninterrupted one.
///
/// ```
/// use core_tensor::Rng;
/// use nn::prelude::*;
/// let mut rng = Rng::new(0);
/// let net = Linear::<f32>::new(3, 2, true, &mut rng)?;
/// let opt = Adam::new(net.parameters(), AdamOptions::adam(1e-3))?;
/// let ckpt = Checkpoint::capture(&net, &opt, None, 4, Some(&rng));
/// let bytes = ckpt.to_bytes()?;
///
/// let mut fresh = Linear::<f32>::new(3, 2, true, &mut Rng::new(1))?;
/// let mut opt2 = Adam::new(fresh.parameters(), AdamOptions::adam(1e-3))?;
/// let back = Checkpoint::<f32>::from_bytes(&bytes)?;
/// let resumed_rng = back.restore(&mut fresh, &mut opt2, None)?;
/// assert_eq!(back.epoch, 4);
/// assert_eq!(fresh.state_dict(), net.state_dict());
/// assert_eq!(resumed_rng.unwrap().state(), rng.state());
/// # Ok::<(), nn::NnError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<F> {
    /// The model's state dict.
    pub model: StateDict<F>,
    /// The optimizer's state, if saved.
    pub optimizer: Option<OptimizerState<F>>,
    /// The schedule's state, if saved.
    pub scheduler: Option<SchedulerState>,
    /// Epochs completed.
    pub epoch: usize,
    /// The state of the random generator (data order, augmentation).
    pub rng: Option<[u64; 4]>,
    /// Free-form strings (architecture, metrics).
    pub extra: BTreeMap<String, String>,
}

fn bad(reason: String) -> NnError {
    NnError::StateMismatch {
        module: "Checkpoint",
        reason,
    }
}

impl<F: Float> Checkpoint<F> {
    /// Captures the state of a run after `epoch` epochs.
    pub fn capture(
        model: &dyn Module<F>,
        optimizer: &dyn Optimizer<F>,
        scheduler: Option<&dyn LrScheduler<F>>,
        epoch: usize,
        rng: Option<&Rng>,
    ) -> Self {
        Self {
            model: model.state_dict(),
            optimizer: Some(optimizer.state_dict()),
            scheduler: scheduler.map(|s| s.state_dict()),
            epoch,
            rng: rng.map(Rng::state),
            extra: BTreeMap::new(),
        }
    }

    /// Loads the saved states into `model` (strictly: every key must match),
    /// `optimizer` and `scheduler`, and returns the saved random generator.
    ///
    /// Each part checks its whole state before changing anything, in the
    /// order model, optimizer, schedule, so a failure in a later part leaves
    /// the earlier ones restored.
    ///
    /// # Errors
    /// [`NnError::StateDictMismatch`] for a model that does not fit,
    /// [`NnError::StateMismatch`] for an optimizer or schedule state that
    /// does not fit, or one that was asked for but not saved;
    /// [`NnError::InvalidConfig`] for invalid saved hyper-parameters.
    pub fn restore(
        &self,
        model: &mut dyn Module<F>,
        optimizer: &mut dyn Optimizer<F>,
        scheduler: Option<&mut dyn LrScheduler<F>>,
    ) -> Result<Option<Rng>> {
        let opt_state = self
            .optimizer
            .as_ref()
            .ok_or_else(|| bad("the checkpoint holds no optimizer state".into()))?;
        if scheduler.is_some() && self.scheduler.is_none() {
            return Err(bad("the checkpoint holds no schedule state".into()));
        }
        model.load_state_dict(&self.model, true)?;
        optimizer.load_state_dict(opt_state)?;
        if let (Some(s), Some(state)) = (scheduler, &self.scheduler) {
            s.load_state_dict(state)?;
        }
        Ok(self.rng.and_then(Rng::from_state))
    }

    /// The `.safetensors` bytes of the checkpoint.
    ///
    /// # Errors
    /// [`NnError::Safetensors`] from serialization.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut tensors = StateDict::new();
        for (k, v) in self.model.iter() {
            tensors.insert(format!("model.{k}"), v.clone());
        }
        let mut meta: HashMap<String, String> = HashMap::new();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("epoch".into(), self.epoch.to_string());
        if let Some(r) = self.rng {
            let words: Vec<String> = r.iter().map(|w| format!("{w:016x}")).collect();
            meta.insert("rng".into(), words.join(","));
        }
        if let Some(o) = &self.optimizer {
            let (t, m) = o.to_parts("optimizer.");
            for (k, v) in t.iter() {
                tensors.insert(k, v.clone());
            }
            meta.extend(m);
        }
        if let Some(s) = &self.scheduler {
            meta.extend(s.to_metadata("scheduler."));
        }
        for (k, v) in &self.extra {
            meta.insert(format!("extra.{k}"), v.clone());
        }
        to_safetensors_bytes(&tensors, Some(meta))
    }

    /// Parses bytes written by [`Checkpoint::to_bytes`].
    ///
    /// # Errors
    /// [`NnError::Safetensors`] for a malformed file, and
    /// [`NnError::StateMismatch`] for a file that is not a checkpoint or
    /// has malformed entries.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let meta = safetensors_metadata(bytes)?.unwrap_or_default();
        match meta.get("format") {
            Some(f) if f == FORMAT => {}
            Some(f) => {
                return Err(bad(format!(
                    "unknown checkpoint format {f:?}, expected {FORMAT}"
                )));
            }
            None => {
                return Err(bad(
                    "the file has no `format` metadata: it is not a handgrad checkpoint (a plain \
                     state dict loads with load_safetensors)"
                        .into(),
                ));
            }
        }
        let all: StateDict<F> = from_safetensors_bytes(bytes)?;
        let mut model = StateDict::new();
        for (k, v) in all.iter() {
            if let Some(name) = k.strip_prefix("model.") {
                model.insert(name, v.clone());
            } else if !k.starts_with("optimizer.") {
                return Err(bad(format!("unexpected tensor `{k}`")));
            }
        }
        let epoch = meta
            .get("epoch")
            .ok_or_else(|| bad("no `epoch` in the metadata".into()))?
            .parse()
            .map_err(|_| bad("`epoch` is not a count".into()))?;
        let rng = meta
            .get("rng")
            .map(|s| {
                let words: Vec<u64> = s
                    .split(',')
                    .map(|w| u64::from_str_radix(w, 16))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| bad(format!("`rng` = {s:?} is not four hexadecimal words")))?;
                <[u64; 4]>::try_from(words)
                    .map_err(|_| bad(format!("`rng` = {s:?} is not four hexadecimal words")))
            })
            .transpose()?;
        let optimizer = if meta.contains_key("optimizer.type") {
            Some(OptimizerState::from_parts("optimizer.", &all, &meta)?)
        } else {
            None
        };
        let scheduler = if meta.contains_key("scheduler.kind") {
            Some(SchedulerState::from_metadata("scheduler.", &meta)?)
        } else {
            None
        };
        let extra = meta
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("extra.").map(|k| (k.to_string(), v.clone())))
            .collect();
        Ok(Self {
            model,
            optimizer,
            scheduler,
            epoch,
            rng,
            extra,
        })
    }

    /// Writes the checkpoint to `path`.
    ///
    /// # Errors
    /// [`NnError::Io`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = self.to_bytes()?;
        std::fs::write(path.as_ref(), bytes).map_err(|source| NnError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        })
    }

    /// Reads a checkpoint from `path`.
    ///
    /// # Errors
    /// [`NnError::Io`] when the file cannot be read, and as
    /// [`Checkpoint::from_bytes`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let bytes = std::fs::read(path.as_ref()).map_err(|source| NnError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }
}
