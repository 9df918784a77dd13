//! [`DistributedDataParallel`]: data-parallel training of any [`Module`]
//! (PyTorch's `torch.nn.parallel.DistributedDataParallel`).

use std::sync::Arc;

use autograd::{AutogradError, HookHandle, Var};
use nn::{LoadReport, Module, NnError, StateDict, StateTensor};

use crate::communicator::{CommFloat, Communicator, CommunicatorExt};
use crate::ddp_bucket::{DEFAULT_BUCKET_CAP_BYTES, assign_buckets};
use crate::ddp_reducer::Reducer;
use crate::error::{DistError, Result};

/// Options of [`DistributedDataParallel`] (PyTorch's keyword arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DdpOptions {
    /// Bucket capacity in bytes (`bucket_cap_mb * 2^20`; default 25 MiB).
    pub bucket_cap_bytes: usize,
    /// Whether every training-mode forward first copies rank 0's buffers
    /// (running statistics) to every rank (`broadcast_buffers`, default
    /// `true`).
    pub broadcast_buffers: bool,
}

impl Default for DdpOptions {
    fn default() -> Self {
        Self {
            bucket_cap_bytes: DEFAULT_BUCKET_CAP_BYTES,
            broadcast_buffers: true,
        }
    }
}

/// Wraps a [`Module`] for data-parallel training on the ranks of a
/// [`Communicator`]: each rank runs the module on its shard of the batch,
/// and after backward every parameter's `.grad` holds the average over the
/// ranks of their gradients — for a loss that is a mean over each rank's
/// equal shard, exactly the gradient of the whole batch on one process.
///
/// As in PyTorch:
/// - construction copies rank 0's parameters and buffers to every rank
///   (and checks first that every rank holds the same names and shapes);
/// - the gradients are grouped in buckets of at most
///   [`DdpOptions::bucket_cap_bytes`] (25 MiB), in reverse registration
///   order; a post-accumulate gradient hook on every parameter
///   ([`Var::register_post_accumulate_grad_hook`]) marks its gradient ready,
///   and a bucket is all-reduced as soon as it is complete, during the
///   backward pass, while the earlier layers' gradients are still being
///   computed. Buckets go out in order on every rank. The collective runs
///   in the backward thread (the [`Communicator`] has no non-blocking
///   calls), so it interleaves with the backward computation rather than
///   running beside it;
/// - [`no_sync`](Self::no_sync) skips the reduction, so gradients
///   accumulate locally, and the next synchronized backward reduces the
///   accumulated sum;
/// - in training mode, each forward first broadcasts rank 0's buffers;
/// - the state dict and the parameter names are the wrapped module's,
///   without PyTorch's `module.` prefix (the wrapper forwards
///   [`Module::own_parameters`], [`Module::children`] and friends).
///
/// A parameter that gets no gradient in a pass (unused in the forward)
/// leaves its bucket incomplete: call [`finish_gradient_sync`]
/// (Self::finish_gradient_sync) after backward (or use
/// [`backward`](Self::backward), which does), where PyTorch needs
/// `find_unused_parameters=True`; the missing gradients count as zeros.
/// A forward while a reduction is unfinished is an error.
///
/// ```
/// use std::sync::Arc;
/// use autograd::Var;
/// use core_tensor::{Rng, Tensor};
/// use distributed::{Communicator, DistributedDataParallel, ThreadWorld};
/// use nn::{Linear, Module};
///
/// let grads = ThreadWorld::run(2, |comm| {
///     let comm: Arc<dyn Communicator> = Arc::new(comm);
///     let rank = comm.rank();
///     // Different initializations: rank 0's wins at construction.
///     let lin = Linear::<f64>::new(2, 1, false, &mut Rng::new(rank as u64))?;
///     let mut ddp = DistributedDataParallel::new(lin, comm)?;
///     // Rank r sees the input [r + 1, 0]; loss = output.
///     let x = Var::constant(Tensor::from_vec(&[1, 2], vec![rank as f64 + 1.0, 0.0])?);
///     let y = ddp.forward(&x)?.sum_all();
///     ddp.backward(&y)?;
///     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
///         ddp.parameters()[0].grad().unwrap().to_vec(),
///     )
/// })?;
/// for g in grads {
///     assert_eq!(g.unwrap(), vec![1.5, 0.0]);  // mean of 1 and 2
/// }
/// # Ok::<(), distributed::DistError>(())
/// ```
pub struct DistributedDataParallel<F: CommFloat, M: Module<F>> {
    module: M,
    comm: Arc<dyn Communicator>,
    reducer: Arc<Reducer<F>>,
    hooks: Vec<HookHandle>,
    options: DdpOptions,
}

impl<F: CommFloat, M: Module<F>> DistributedDataParallel<F, M> {
    /// Wraps `module` with the default [`DdpOptions`]. Every rank must call
    /// this (it is collective).
    ///
    /// # Errors
    /// As [`with_options`](Self::with_options).
    pub fn new(module: M, comm: Arc<dyn Communicator>) -> Result<Self> {
        Self::with_options(module, comm, DdpOptions::default())
    }

    /// Wraps `module`: checks that every rank's module has the same state
    /// names and shapes, copies rank 0's parameters and buffers to every
    /// rank, assigns the parameters that require grad to buckets and
    /// registers their gradient hooks. Collective.
    ///
    /// # Errors
    /// [`DistError::InvalidArgument`] for a zero bucket capacity or modules
    /// that differ between ranks (on every rank), and the communicator's
    /// errors.
    pub fn with_options(
        module: M,
        comm: Arc<dyn Communicator>,
        options: DdpOptions,
    ) -> Result<Self> {
        if options.bucket_cap_bytes == 0 {
            return Err(DistError::InvalidArgument {
                op: "DistributedDataParallel",
                param: "bucket_cap_bytes",
                reason: "must be at least 1 byte".into(),
            });
        }
        let mut module = module;
        broadcast_state(comm.as_ref(), &mut module, StatePart::All)?;

        let (names, params): (Vec<String>, Vec<Var<F>>) = module
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| p.requires_grad())
            .unzip();
        let numels: Vec<usize> = params.iter().map(Var::len).collect();
        let buckets = assign_buckets(&numels, size_of::<F>(), options.bucket_cap_bytes);
        let reducer = Arc::new(Reducer::new(
            Arc::clone(&comm),
            params.clone(),
            names,
            buckets,
        ));
        let mut hooks = Vec::with_capacity(params.len());
        for (i, p) in params.iter().enumerate() {
            let r = Arc::clone(&reducer);
            let handle = p.register_post_accumulate_grad_hook(move |_| {
                r.mark_ready(i)
                    .map_err(|e| AutogradError::op("DistributedDataParallel", e))
            });
            match handle {
                Ok(h) => hooks.push(h),
                Err(e) => {
                    hooks.into_iter().for_each(HookHandle::remove);
                    return Err(e.into());
                }
            }
        }
        Ok(Self {
            module,
            comm,
            reducer,
            hooks,
            options,
        })
    }

    /// The wrapped module (`ddp.module`).
    pub fn module(&self) -> &M {
        &self.module
    }

    /// The wrapped module, mutably (for evaluation on one rank without
    /// collectives, for example).
    pub fn module_mut(&mut self) -> &mut M {
        &mut self.module
    }

    /// The communicator.
    pub fn comm(&self) -> &Arc<dyn Communicator> {
        &self.comm
    }

    /// The options in force.
    pub fn options(&self) -> DdpOptions {
        self.options
    }

    /// The parameter names of each bucket, in the order the buckets are
    /// reduced (the first holds the last-registered parameters).
    pub fn bucket_names(&self) -> Vec<Vec<String>> {
        let names = self.reducer.names();
        self.reducer
            .buckets()
            .iter()
            .map(|b| b.params.iter().map(|&p| names[p].clone()).collect())
            .collect()
    }

    /// The number of bucket all-reduces made since construction.
    pub fn reductions(&self) -> u64 {
        self.reducer.reductions()
    }

    /// Runs `f` with gradient reduction off (PyTorch's `with
    /// ddp.no_sync():`): backward passes inside only accumulate into the
    /// local `.grad`; the first synchronized backward after it averages the
    /// accumulated gradients over the ranks.
    pub fn no_sync<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let previous = self.reducer.set_sync(false);
        let out = f(self);
        self.reducer.set_sync(previous);
        out
    }

    /// `loss.backward()` followed by [`finish_gradient_sync`]
    /// (Self::finish_gradient_sync). Collective (outside
    /// [`no_sync`](Self::no_sync)).
    ///
    /// # Errors
    /// The backward pass's errors; a communicator error raised in a
    /// gradient hook comes back as that [`DistError`].
    pub fn backward(&self, loss: &Var<F>) -> Result<()> {
        loss.backward().map_err(unwrap_dist_error)?;
        self.finish_gradient_sync()
    }

    /// Reduces the buckets the backward pass left incomplete because some
    /// parameters got no gradient (their gradients count as zeros). Does
    /// nothing when every bucket was reduced during backward, or inside
    /// [`no_sync`](Self::no_sync). Collective when it reduces: every rank
    /// must call it after the same backward passes.
    ///
    /// # Errors
    /// The communicator's errors.
    pub fn finish_gradient_sync(&self) -> Result<()> {
        self.reducer.finish()
    }

    /// Copies rank 0's parameters and buffers to every rank (what the
    /// constructor does). Collective.
    ///
    /// # Errors
    /// [`DistError::InvalidArgument`] when the ranks' modules differ; the
    /// communicator's errors.
    pub fn broadcast_state(&mut self) -> Result<()> {
        broadcast_state(self.comm.as_ref(), &mut self.module, StatePart::All)
    }

    fn before_forward(&mut self) -> Result<()> {
        if let Some(missing) = self.reducer.unfinished() {
            return Err(DistError::InvalidArgument {
                op: "DistributedDataParallel",
                param: "forward",
                reason: format!(
                    "the previous iteration's gradient reduction did not finish: no gradient reached {} \
                     parameter(s) ({}); call finish_gradient_sync() (or DistributedDataParallel::backward) \
                     after backward",
                    missing.len(),
                    missing.join(", ")
                ),
            });
        }
        if self.options.broadcast_buffers && self.module.is_training() {
            broadcast_state(self.comm.as_ref(), &mut self.module, StatePart::Buffers)?;
        }
        Ok(())
    }
}

impl<F: CommFloat, M: Module<F>> Drop for DistributedDataParallel<F, M> {
    /// Unregisters the gradient hooks: the module's parameters no longer
    /// trigger reductions.
    fn drop(&mut self) {
        std::mem::take(&mut self.hooks)
            .into_iter()
            .for_each(HookHandle::remove);
    }
}

impl<F: CommFloat, M: Module<F>> std::fmt::Debug for DistributedDataParallel<F, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedDataParallel")
            .field("module", &self.module.type_name())
            .field("rank", &self.comm.rank())
            .field("size", &self.comm.size())
            .field("buckets", &self.reducer.buckets().len())
            .field("options", &self.options)
            .finish()
    }
}

/// The wrapper is a module whose parameters, buffers, children and state
/// dict are the wrapped module's, under the same names.
impl<F: CommFloat, M: Module<F>> Module<F> for DistributedDataParallel<F, M> {
    fn type_name(&self) -> &'static str {
        self.module.type_name()
    }

    /// Checks that the previous reduction finished, broadcasts rank 0's
    /// buffers in training mode (unless disabled), then runs the module.
    /// Collective in training mode with `broadcast_buffers`.
    fn forward(&mut self, x: &Var<F>) -> nn::Result<Var<F>> {
        self.before_forward()
            .map_err(|e| NnError::from(AutogradError::op("DistributedDataParallel", e)))?;
        self.module.forward(x)
    }

    fn is_training(&self) -> bool {
        self.module.is_training()
    }

    fn set_training_flag(&mut self, training: bool) {
        self.module.set_training_flag(training);
    }

    fn set_training(&mut self, training: bool) {
        self.module.set_training(training);
    }

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        self.module.own_parameters()
    }

    fn own_buffers(&self) -> Vec<(&'static str, StateTensor<F>)> {
        self.module.own_buffers()
    }

    fn set_own_buffer(&mut self, name: &str, value: StateTensor<F>) -> nn::Result<()> {
        self.module.set_own_buffer(name, value)
    }

    fn children(&self) -> Vec<(String, &dyn Module<F>)> {
        self.module.children()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<F>)> {
        self.module.children_mut()
    }

    fn load_state_dict(&mut self, state: &StateDict<F>, strict: bool) -> nn::Result<LoadReport> {
        self.module.load_state_dict(state, strict)
    }
}

/// A module's error, kept as the source of an autograd-level error (the
/// crate's error has no variant of its own for `nn`).
fn nn_error(e: NnError) -> DistError {
    DistError::Autograd(AutogradError::op("DistributedDataParallel", e))
}

/// Turns an error that a gradient hook raised back into the [`DistError`]
/// it wraps.
fn unwrap_dist_error(e: AutogradError) -> DistError {
    match e {
        AutogradError::Op { op, source } => match source.downcast::<DistError>() {
            Ok(d) => *d,
            Err(source) => DistError::Autograd(AutogradError::Op { op, source }),
        },
        other => DistError::Autograd(other),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StatePart {
    All,
    Buffers,
}

/// Copies rank 0's state (parameters and buffers, or buffers only) to every
/// rank in one broadcast. The ranks first all-gather a short description of their state (the
/// number of tensors, of elements, and a hash of names and shapes) so that
/// different modules give an error on every rank rather than a hang.
fn broadcast_state<F: CommFloat, M: Module<F> + ?Sized>(
    comm: &dyn Communicator,
    module: &mut M,
    part: StatePart,
) -> Result<()> {
    let entries: Vec<(String, StateTensor<F>)> = match part {
        StatePart::All => module
            .state_dict()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        StatePart::Buffers => module.named_buffers(),
    };
    if comm.size() == 1 {
        return Ok(());
    }
    let total: usize = entries
        .iter()
        .map(|(_, t)| t.shape().iter().product::<usize>())
        .sum();
    let mine = [
        entries.len() as f64,
        total as f64,
        layout_hash(&entries) as f64,
    ];
    let all = comm.all_gather(&mine)?;
    if let Some((r, theirs)) = all
        .chunks(3)
        .enumerate()
        .find(|(_, d)| d != &mine.as_slice())
    {
        return Err(DistError::InvalidArgument {
            op: "DistributedDataParallel",
            param: "module",
            reason: format!(
                "rank {r} holds {} tensors of {} elements in total, rank {} holds {} of {} (or the names \
                 and shapes differ); every rank must wrap the same architecture",
                theirs[0],
                theirs[1],
                comm.rank(),
                mine[0],
                mine[1]
            ),
        });
    }
    // One broadcast of everything, widened to f64 (exact for f32, f64 and
    // integers below 2^53).
    let mut flat: Vec<f64> = Vec::with_capacity(total);
    for (_, t) in &entries {
        match t {
            StateTensor::Float(t) => flat.extend(t.as_slice().iter().map(|v| v.widen())),
            StateTensor::Int(t) => flat.extend(t.as_slice().iter().map(|&n| n as f64)),
        }
    }
    comm.broadcast(&mut flat, 0)?;
    let mut out = StateDict::new();
    let mut at = 0;
    for (name, t) in entries {
        let shape = t.shape().to_vec();
        let n: usize = shape.iter().product();
        let part = &flat[at..at + n];
        at += n;
        let value = match t {
            StateTensor::Float(_) => StateTensor::Float(core_tensor::Tensor::from_vec(
                &shape,
                part.iter().map(|&v| F::cast(v)).collect(),
            )?),
            StateTensor::Int(_) => StateTensor::Int(core_tensor::Tensor::from_vec(
                &shape,
                part.iter().map(|&v| v as i64).collect(),
            )?),
        };
        out.insert(name, value);
    }
    module
        .load_state_dict(&out, part == StatePart::All)
        .map_err(nn_error)?;
    Ok(())
}

/// A 50-bit FNV-1a hash of the names and shapes (exact in an `f64`).
fn layout_hash<F>(entries: &[(String, StateTensor<F>)]) -> u64
where
    F: CommFloat,
{
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (name, t) in entries {
        eat(name.as_bytes());
        for &d in t.shape() {
            eat(&(d as u64).to_le_bytes());
        }
        eat(&[matches!(t, StateTensor::Int(_)) as u8]);
    }
    h & ((1 << 50) - 1)
}
