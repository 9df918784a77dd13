//! Batch normalization with statistics over every rank
//! (`torch.nn.SyncBatchNorm`'s function), as an autograd op.

use std::sync::Arc;

use autograd::{AutogradError, Backward, BackwardCtx, Tensor, Var};
use core_tensor::Par;
use ops_norm::kernels::Moments;
use ops_norm::kernels::channel::{
    ChannelLayout, batch_norm_input_grad_with_sums, channel_forward, channel_grad_sums,
    channel_moments,
};
use ops_norm::{BatchNormConfig, NormError, RunningStats};

use crate::communicator::{CommFloat, Communicator, CommunicatorExt};
use crate::error::{DistError, Result};

const OP: &str = "sync_batch_norm";

/// Batch normalization of an `N, C, *` input whose batch is split over the
/// ranks of `comm`: the statistics are those of the whole batch, so every
/// rank's output (and input gradient) is the slice of what
/// [`ops_norm::batch_norm`] would give on the concatenated batch.
/// PyTorch: the function behind `torch.nn.SyncBatchNorm` in training.
///
/// In training (`config.training`) with more than one rank:
///
/// 1. each rank takes per-channel moments (count `N·S`, mean, `M2`) of its
///    shard, and the ranks all-gather them (`1 + 2C` values in `f64`);
/// 2. the global statistics are the moments merged in rank order, weighted
///    by count (ranks may hold different batch sizes, even empty ones);
/// 3. `y = (x − mean) / sqrt(var + eps) · weight + bias` with the global
///    mean and biased variance;
/// 4. `running` is updated with the global mean and the global *unbiased*
///    variance, as [`ops_norm::batch_norm`] does;
/// 5. backward: the per-channel sums `Σ dy` and `Σ dy·(x − mean)` are
///    all-reduced (`2C` values) and the fused batch-norm backward uses them
///    with the global count, so the input gradient equals the one of a
///    single process holding the whole batch. The weight and bias
///    gradients stay local (each rank's contribution); a data-parallel
///    wrapper sums or averages them.
///
/// Otherwise (eval, or a world of one rank) it is exactly
/// [`ops_norm::batch_norm`] on the local input.
///
/// Before the statistics, the ranks exchange whether their arguments are
/// valid and their channel counts, so a bad argument or a channel count
/// that differs on one rank gives an error on every rank instead of a hang.
/// Second derivatives across ranks are not supported (a backward pass with
/// `create_graph` fails); PyTorch's SyncBatchNorm has none either.
///
/// # Errors
/// On the rank where it happens: the argument errors of
/// [`ops_norm::batch_norm`] ([`DistError::Norm`]). On the other ranks:
/// [`DistError::PeerRejected`]. On every rank: [`DistError::ChannelMismatch`]
/// when the channel counts differ, [`DistError::Norm`] with
/// [`NormError::TooFewValues`] when the whole batch has a single value per
/// channel, and the communicator's errors.
///
/// ```
/// use std::sync::Arc;
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use distributed::{sync_batch_norm, Communicator, DistError, ThreadWorld};
/// use ops_norm::BatchNormConfig;
///
/// // The batch [1, 3, 5, 7] of one channel, split over two ranks.
/// let out = ThreadWorld::run(2, |comm| {
///     let comm: Arc<dyn Communicator> = Arc::new(comm);
///     let shard = if comm.rank() == 0 { vec![1.0, 3.0] } else { vec![5.0, 7.0] };
///     let x = Var::leaf(Tensor::from_vec(&[2, 1], shard)?);
///     let y = sync_batch_norm(&x, None, None, None, &BatchNormConfig::train(), &comm)?;
///     Ok::<_, DistError>(y.value().as_slice().to_vec())
/// })?;
/// // Global mean 4, biased variance 5.
/// let z = |v: f64| (v - 4.0) / (5.0f64 + 1e-5).sqrt();
/// let (r0, r1) = (out[0].as_ref().unwrap(), out[1].as_ref().unwrap());
/// assert!((r0[0] - z(1.0)).abs() < 1e-12 && (r1[1] - z(7.0)).abs() < 1e-12);
/// # Ok::<(), DistError>(())
/// ```
pub fn sync_batch_norm<F: CommFloat>(
    x: &Var<F>,
    weight: Option<&Var<F>>,
    bias: Option<&Var<F>>,
    running: Option<&mut RunningStats<F>>,
    config: &BatchNormConfig,
    comm: &Arc<dyn Communicator>,
) -> Result<Var<F>> {
    if !config.training || comm.size() == 1 {
        return Ok(ops_norm::batch_norm(x, weight, bias, running, config)?);
    }
    let shape = x.shape();
    let local = check_local(x, weight, bias, running.as_deref(), config);
    let channels = local.as_ref().map_or(0, |l| l.c);
    agree(comm.as_ref(), local.is_ok(), channels, &shape)?;
    let layout = local?;
    let c = layout.c;

    // Local moments, gathered as [count, mean_0.., m2_0..] per rank.
    let xv = x.value();
    let moments = channel_moments(xv.as_slice(), layout, Par::Rayon)?;
    let mut send = Vec::with_capacity(1 + 2 * c);
    send.push(layout.per_channel() as f64);
    send.extend(moments.iter().map(|m| m.mean));
    send.extend(moments.iter().map(|m| m.m2));
    let gathered = comm.all_gather(&send)?;
    let global: Vec<Moments> = (0..c)
        .map(|ch| {
            gathered
                .chunks_exact(1 + 2 * c)
                .fold(Moments::EMPTY, |acc, block| {
                    acc.merge(Moments {
                        count: block[0] as usize,
                        mean: block[1 + ch],
                        m2: block[1 + c + ch],
                    })
                })
        })
        .collect();
    let count: usize = gathered
        .chunks_exact(1 + 2 * c)
        .map(|b| b[0] as usize)
        .sum();
    if count == 1 {
        return Err(NormError::TooFewValues {
            op: OP,
            unit: "channel",
            shape,
        }
        .into());
    }
    if let Some(r) = running {
        r.count_batch(OP)?;
        let factor = config
            .momentum
            .unwrap_or(1.0 / r.num_batches_tracked as f64);
        if count > 0 {
            let means: Vec<f64> = global.iter().map(|m| m.mean).collect();
            let vars: Vec<f64> = global.iter().map(Moments::var_unbiased).collect();
            r.blend(factor, &means, &vars)?;
        }
    }
    let mean: Vec<f64> = global.iter().map(|m| m.mean).collect();
    let invstd: Vec<f64> = global
        .iter()
        .map(|m| 1.0 / (m.var_biased() + config.eps).sqrt())
        .collect();
    let wv = weight.map(Var::value);
    let bv = bias.map(Var::value);
    let y = channel_forward(
        xv.as_slice(),
        layout,
        &mean,
        &invstd,
        wv.as_ref().map(Tensor::as_slice),
        bv.as_ref().map(Tensor::as_slice),
        Par::Rayon,
    )?;
    let y = Tensor::from_vec(&shape, y)?;
    let mut inputs = vec![x.clone()];
    inputs.extend(weight.cloned());
    inputs.extend(bias.cloned());
    let backward = SyncBatchNormBackward {
        comm: Arc::clone(comm),
        x: xv,
        weight: wv,
        has_bias: bias.is_some(),
        layout,
        mean,
        invstd,
        count,
    };
    Ok(Var::from_op(y, inputs, backward))
}

/// The checks of [`ops_norm::batch_norm`] in training, on this rank's
/// arguments alone.
fn check_local<F: CommFloat>(
    x: &Var<F>,
    weight: Option<&Var<F>>,
    bias: Option<&Var<F>>,
    running: Option<&RunningStats<F>>,
    config: &BatchNormConfig,
) -> Result<ChannelLayout> {
    let shape = x.shape();
    let layout = ChannelLayout::of_shape(OP, &shape)?;
    let c = layout.c;
    let param = |what: &'static str, got: Vec<usize>| NormError::ParamShape {
        op: OP,
        what,
        expected: vec![c],
        got,
        input: shape.clone(),
    };
    for (what, p) in [("weight", weight), ("bias", bias)] {
        if let Some(p) = p
            && p.shape() != [c]
        {
            return Err(param(what, p.shape()).into());
        }
    }
    if let Some(r) = running {
        for (what, t) in [("running_mean", &r.mean), ("running_var", &r.var)] {
            if t.shape() != [c] {
                return Err(param(what, t.shape().to_vec()).into());
            }
        }
    }
    if let Some(m) = config.momentum
        && m.is_nan()
    {
        return Err(NormError::InvalidMomentum {
            op: OP,
            momentum: m,
        }
        .into());
    }
    if config.eps.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(NormError::InvalidEps {
            op: OP,
            eps: config.eps,
            allowed: "positive when batch statistics are used (training)",
        }
        .into());
    }
    Ok(layout)
}

/// Tells the other ranks of a synchronized batch norm that this rank
/// rejected its call (a check done before [`sync_batch_norm`], e.g. by the
/// module), so that they fail with [`DistError::PeerRejected`] instead of
/// waiting. Returns the communicator's error if the exchange itself fails.
pub(crate) fn reject_call(comm: &dyn Communicator, shape: &[usize]) -> Result<()> {
    agree(comm, false, 0, shape)
}

/// Exchanges `[valid, channels]` with every rank; fails on every rank when
/// some rank's arguments are invalid or the channel counts differ.
fn agree(comm: &dyn Communicator, valid: bool, channels: usize, shape: &[usize]) -> Result<()> {
    let header = [if valid { 1.0 } else { 0.0 }, channels as f64];
    let all = comm.all_gather(&header)?;
    if !valid {
        // This rank's own error is reported by the caller.
        return Ok(());
    }
    let blocks: Vec<&[f64]> = all.chunks_exact(2).collect();
    if let Some(rank) = blocks.iter().position(|b| b[0] != 1.0) {
        return Err(DistError::PeerRejected { op: OP, rank });
    }
    if let Some(other_rank) = blocks.iter().position(|b| b[1] != channels as f64) {
        return Err(DistError::ChannelMismatch {
            op: OP,
            rank: comm.rank(),
            shape: shape.to_vec(),
            channels,
            other_rank,
            other_channels: blocks[other_rank][1] as usize,
        });
    }
    Ok(())
}

/// Saved state of a synchronized batch-norm call.
struct SyncBatchNormBackward<F: CommFloat> {
    comm: Arc<dyn Communicator>,
    x: Tensor<F>,
    weight: Option<Tensor<F>>,
    has_bias: bool,
    layout: ChannelLayout,
    mean: Vec<f64>,
    invstd: Vec<f64>,
    /// Values per channel over every rank.
    count: usize,
}

impl<F: CommFloat> SyncBatchNormBackward<F> {
    fn fail(e: impl Into<DistError>) -> AutogradError {
        AutogradError::op(OP, e.into())
    }
}

impl<F: CommFloat> Backward<F> for SyncBatchNormBackward<F> {
    fn name(&self) -> &'static str {
        OP
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if ctx.create_graph {
            return Err(Self::fail(DistError::InvalidArgument {
                op: OP,
                param: "create_graph",
                reason: "second derivatives through a batch norm synchronized over several \
                         ranks are not supported"
                    .to_string(),
            }));
        }
        let g = ctx.grad_output.value();
        let c = self.layout.c;
        let local = channel_grad_sums(
            self.x.as_slice(),
            g.as_slice(),
            self.layout,
            &self.mean,
            Par::Rayon,
        )
        .map_err(Self::fail)?;
        let mut out: Vec<Option<Var<F>>> = Vec::with_capacity(ctx.needs_grad.len());
        if ctx.needs_grad[0] {
            let mut flat: Vec<f64> = local.iter().flat_map(|&(a, b)| [a, b]).collect();
            self.comm.all_reduce_sum(&mut flat).map_err(Self::fail)?;
            let sums: Vec<(f64, f64)> = flat.chunks_exact(2).map(|p| (p[0], p[1])).collect();
            let dx = batch_norm_input_grad_with_sums(
                self.x.as_slice(),
                g.as_slice(),
                self.layout,
                &self.mean,
                &self.invstd,
                self.weight.as_ref().map(Tensor::as_slice),
                &sums,
                self.count,
                Par::Rayon,
            )
            .map_err(Self::fail)?;
            out.push(Some(Var::constant(Tensor::from_vec(self.x.shape(), dx)?)));
        } else {
            out.push(None);
        }
        let mut slot = 1;
        if self.weight.is_some() {
            let dw = ctx.needs_grad[slot].then(|| {
                let v = local
                    .iter()
                    .zip(&self.invstd)
                    .map(|(&(_, b), &is)| F::cast(b * is))
                    .collect();
                Tensor::from_vec(&[c], v)
            });
            out.push(dw.transpose()?.map(Var::constant));
            slot += 1;
        }
        if self.has_bias {
            let db = ctx.needs_grad[slot]
                .then(|| Tensor::from_vec(&[c], local.iter().map(|&(a, _)| F::cast(a)).collect()));
            out.push(db.transpose()?.map(Var::constant));
        }
        Ok(out)
    }
}
