//! Folding an eval-mode batch norm into the convolution or linear layer
//! before it (`torch.nn.utils.fusion.fuse_conv_bn_eval` /
//! `fuse_linear_bn_eval`), for faster inference.
//!
//! In eval mode a batch norm is the per-channel affine map
//! `y = (x − μ) · s + β` with `s = γ / sqrt(σ² + eps)` (running mean `μ`,
//! running variance `σ²`, weight `γ`, bias `β`; `γ = 1, β = 0` without
//! `affine`). Applied to `x = W * u + b` it gives the layer with weight
//! `W'[o] = W[o] · s[o]` and bias `b'[o] = (b[o] − μ[o]) · s[o] + β[o]`
//! (`b = 0` for a layer without bias), for any `groups`, stride, padding
//! or dilation, since each output channel `o` only scales.

use core_tensor::{Float, Rng, Tensor};

use crate::layers::{BatchNorm, ConvNd, ConvOptions, Identity, Linear};
use crate::module::Module;
use crate::sequential::Sequential;
use crate::{NnError, Result};

/// The per-channel scale `s` and shift `t` of an eval-mode batch norm,
/// `bn(x) = x · s + t`, in `f64`.
fn bn_scale_shift<F: Float, const D: usize>(
    op: &'static str,
    bn: &BatchNorm<F, D>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    if bn.is_training() {
        return Err(NnError::config(
            op,
            "bn",
            format!(
                "fusion is only for eval: the {} is in training mode (call eval() first)",
                bn.type_name()
            ),
        ));
    }
    let Some(stats) = bn.running_stats() else {
        return Err(NnError::config(
            op,
            "bn",
            format!(
                "the {} has no running statistics (track_running_stats=False), so its eval \
                 output depends on the batch and cannot be folded",
                bn.type_name()
            ),
        ));
    };
    let eps = bn.options().eps;
    let c = stats.mean.len();
    let params = bn.own_parameters();
    let param = |name: &str, default: f64| -> Vec<f64> {
        params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.value().as_slice().iter().map(|x| x.widen()).collect())
            .unwrap_or_else(|| vec![default; c])
    };
    let (gamma, beta) = (param("weight", 1.0), param("bias", 0.0));
    let mean = stats.mean.as_slice();
    let var = stats.var.as_slice();
    let scale: Vec<f64> = (0..c)
        .map(|i| gamma[i] / (var[i].widen() + eps).sqrt())
        .collect();
    let shift: Vec<f64> = (0..c)
        .map(|i| beta[i] - mean[i].widen() * scale[i])
        .collect();
    Ok((scale, shift))
}

/// `W'[o] = W[o] · s[o]` and `b'[o] = b[o] · s[o] + t[o]` over a weight
/// whose axis 0 is the output channel, with `s`, `t` of length `out` or 1.
fn fold<F: Float>(
    weight: &Tensor<F>,
    bias: Option<Tensor<F>>,
    scale: &[f64],
    shift: &[f64],
) -> Result<(Tensor<F>, Tensor<F>)> {
    let out = weight.shape()[0];
    let per = weight.len() / out.max(1);
    let at = |v: &[f64], o: usize| if v.len() == 1 { v[0] } else { v[o] };
    let w: Vec<F> = weight
        .as_slice()
        .iter()
        .enumerate()
        .map(|(i, x)| F::cast(x.widen() * at(scale, i / per)))
        .collect();
    let b: Vec<F> = (0..out)
        .map(|o| {
            let b0 = bias.as_ref().map_or(0.0, |b| b.as_slice()[o].widen());
            F::cast(b0 * at(scale, o) + at(shift, o))
        })
        .collect();
    Ok((
        Tensor::from_vec(weight.shape(), w)?,
        Tensor::from_vec(&[out], b)?,
    ))
}

/// Folds an eval-mode `BatchNorm{D}d` into the `Conv{D}d` before it
/// (`torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)`): the returned
/// convolution, in eval mode and always with a bias, computes
/// `bn(conv(x))` (see the [module docs](self) for the formula). The inputs
/// are not modified.
///
/// ```
/// use autograd::Var;
/// use core_tensor::{Rng, Tensor};
/// use nn::{BatchNorm2d, Conv2d, ConvOptions, Module, fuse_conv_bn_eval};
///
/// let mut rng = Rng::new(0);
/// let mut conv = Conv2d::<f64>::with_options(3, 4, [3, 3], ConvOptions::default().padding(1), &mut rng)?;
/// let mut bn = BatchNorm2d::new(4)?;
/// let x = Var::constant(Tensor::from_vec(&[2, 3, 5, 5], rng.uniform_vec(150, -1.0, 1.0))?);
/// bn.forward(&conv.forward(&x)?)?; // training: running statistics move
/// conv.eval();
/// bn.eval();
/// let mut fused = fuse_conv_bn_eval(&conv, &bn)?;
/// let want = bn.forward(&conv.forward(&x)?)?.value();
/// let got = fused.forward(&x)?.value();
/// for (a, b) in got.as_slice().iter().zip(want.as_slice()) {
///     assert!((a - b).abs() < 1e-12);
/// }
/// # Ok::<(), nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::InvalidConfig`] when either layer is in training mode, the
/// batch norm has no running statistics, or its channel count differs
/// from the convolution's output channels.
pub fn fuse_conv_bn_eval<F: Float, const D: usize>(
    conv: &ConvNd<F, D>,
    bn: &BatchNorm<F, D>,
) -> Result<ConvNd<F, D>> {
    const OP: &str = "fuse_conv_bn_eval";
    if conv.is_training() {
        return Err(NnError::config(
            OP,
            "conv",
            format!(
                "fusion is only for eval: the {} is in training mode (call eval() first)",
                conv.type_name()
            ),
        ));
    }
    let (in_channels, out_channels, kernel) = conv.dims();
    let (scale, shift) = bn_scale_shift(OP, bn)?;
    if scale.len() != out_channels {
        return Err(NnError::config(
            OP,
            "bn",
            format!(
                "the {} has {} channels but the {} has {out_channels} output channels",
                bn.type_name(),
                scale.len(),
                conv.type_name()
            ),
        ));
    }
    let (w, b) = fold(
        &conv.weight().value(),
        conv.bias().map(|b| b.value()),
        &scale,
        &shift,
    )?;
    let options: ConvOptions<D> = conv.options().bias(true);
    // The initial draw is overwritten right away.
    let mut fused =
        ConvNd::with_options(in_channels, out_channels, kernel, options, &mut Rng::new(0))?;
    fused.weight().set_value(w)?;
    if let Some(bias) = fused.bias() {
        bias.set_value(b)?;
    }
    fused.eval();
    Ok(fused)
}

/// Folds an eval-mode `BatchNorm1d` into the `Linear` before it
/// (`torch.nn.utils.fusion.fuse_linear_bn_eval(linear, bn)`): the returned
/// layer, in eval mode and with a bias, computes `bn(linear(x))` for inputs
/// `(N, in_features)`, where the batch norm's channels are the linear
/// layer's outputs. As in PyTorch, `bn` has `out_features` channels or
/// one channel (its statistics then apply to every output).
///
/// # Errors
/// [`NnError::InvalidConfig`] when either layer is in training mode, the
/// batch norm has no running statistics, or its channel count is neither
/// `out_features` nor 1.
pub fn fuse_linear_bn_eval<F: Float>(
    linear: &Linear<F>,
    bn: &BatchNorm<F, 1>,
) -> Result<Linear<F>> {
    const OP: &str = "fuse_linear_bn_eval";
    if linear.is_training() {
        return Err(NnError::config(
            OP,
            "linear",
            "fusion is only for eval: the Linear is in training mode (call eval() first)",
        ));
    }
    let (scale, shift) = bn_scale_shift(OP, bn)?;
    let out = linear.out_features();
    if scale.len() != out && scale.len() != 1 {
        return Err(NnError::config(
            OP,
            "bn",
            format!(
                "the BatchNorm1d has {} channels; it needs out_features ({out}) or 1",
                scale.len()
            ),
        ));
    }
    let (w, b) = fold(
        &linear.weight().value(),
        linear.bias().map(|b| b.value()),
        &scale,
        &shift,
    )?;
    let mut fused = Linear::new(linear.in_features(), out, true, &mut Rng::new(0))?;
    fused.weight().set_value(w)?;
    if let Some(bias) = fused.bias() {
        bias.set_value(b)?;
    }
    fused.eval();
    Ok(fused)
}

/// The fused layer for a (layer, batch norm) pair of children, `None`
/// when the pair is not a convolution or linear layer followed by a batch
/// norm of the same dimension with running statistics.
fn fuse_pair<F: Float>(
    first: &(dyn Module<F> + 'static),
    second: &(dyn Module<F> + 'static),
) -> Result<Option<Box<dyn Module<F>>>> {
    fn conv_bn<F: Float, const D: usize>(
        first: &(dyn Module<F> + 'static),
        second: &(dyn Module<F> + 'static),
    ) -> Option<Result<Box<dyn Module<F>>>> {
        let conv = first.downcast_ref::<ConvNd<F, D>>()?;
        let bn = second.downcast_ref::<BatchNorm<F, D>>()?;
        bn.running_stats()?;
        Some(fuse_conv_bn_eval(conv, bn).map(|c| Box::new(c) as Box<dyn Module<F>>))
    }
    let found = conv_bn::<F, 1>(first, second)
        .or_else(|| conv_bn::<F, 2>(first, second))
        .or_else(|| conv_bn::<F, 3>(first, second))
        .or_else(|| {
            let linear = first.downcast_ref::<Linear<F>>()?;
            let bn = second.downcast_ref::<BatchNorm<F, 1>>()?;
            bn.running_stats()?;
            Some(fuse_linear_bn_eval(linear, bn).map(|l| Box::new(l) as Box<dyn Module<F>>))
        });
    found.transpose()
}

/// Checks every pair (recursively) and, with `apply`, replaces them.
fn walk<F: Float>(seq: &mut Sequential<F>, apply: bool) -> Result<usize> {
    let mut fused = 0;
    let mut i = 0;
    while i < seq.len() {
        if let Some(inner) = seq.layers_mut()[i].1.downcast_mut::<Sequential<F>>() {
            fused += walk(inner, apply)?;
            i += 1;
            continue;
        }
        let pair = match seq.layers().get(i + 1) {
            Some((_, second)) => fuse_pair(seq.layers()[i].1.as_ref(), second.as_ref())?,
            None => None,
        };
        match pair {
            Some(layer) => {
                if apply {
                    let layers = seq.layers_mut();
                    layers[i].1 = layer;
                    layers[i + 1].1 = Box::new(Identity::new());
                }
                fused += 1;
                i += 2;
            }
            None => i += 1,
        }
    }
    Ok(fused)
}

/// Fuses, in place, every `Conv{1,2,3}d` or `Linear` child of `seq` that
/// is directly followed by a `BatchNorm` of the same dimension with running
/// statistics (nested `Sequential`s included): the layer becomes the fused
/// one of [`fuse_conv_bn_eval`] / [`fuse_linear_bn_eval`] and the batch
/// norm an [`Identity`], so the other children keep their indices and
/// state-dict names, as with `torch.ao.quantization.fuse_modules`. Returns
/// the number of pairs fused. Everything is checked before anything is
/// replaced, so on an error `seq` is unchanged.
///
/// ```
/// use core_tensor::Rng;
/// use nn::{BatchNorm2d, Conv2d, Flatten, Module, ReLU, Sequential, fuse_conv_bn_sequential};
///
/// let mut rng = Rng::new(0);
/// let mut net = Sequential::<f32>::new()
///     .push(Conv2d::new(1, 4, [3, 3], &mut rng)?)
///     .push(BatchNorm2d::new(4)?)
///     .push(ReLU::new())
///     .push(Flatten::new());
/// assert!(fuse_conv_bn_sequential(&mut net).is_err(), "still in training mode");
/// net.eval();
/// assert_eq!(fuse_conv_bn_sequential(&mut net)?, 1);
/// assert_eq!(net.get(1).unwrap().type_name(), "Identity");
/// # Ok::<(), nn::NnError>(())
/// ```
///
/// # Errors
/// As [`fuse_conv_bn_eval`] for a pair in training mode or with
/// mismatched channels.
pub fn fuse_conv_bn_sequential<F: Float>(seq: &mut Sequential<F>) -> Result<usize> {
    walk(seq, false)?;
    walk(seq, true)
}
