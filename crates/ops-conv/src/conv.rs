//! `conv`: the convolution op on `Var`s (`F.conv1d/2d/3d`).
//!
//! Forward and first-order backward run the kernels of [`crate::kernels`];
//! nothing but the geometry is saved (the backward reads the input and the
//! weight from the graph). When the backward pass is recorded
//! (`create_graph`), the same gradients are built from differentiable ops
//! (`im2col` / `col2im`, batched `matmul`, `sum`), so second and higher
//! derivatives follow.

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Par, Tensor};

use crate::kernels::{conv_backward_bias, conv_backward_input, conv_backward_weight, conv_forward};
use crate::unfold::{col2im, im2col};
use crate::{ConvError, ConvGeom, ConvParams};

/// Cross-correlation of `x` `(N, C, *spatial)` with `weight`
/// `(C_out, C / groups, *kernel)` plus an optional `bias` `(C_out)`, on the
/// `d = params.stride.len()` trailing axes: PyTorch's
/// `F.conv{d}d(x, weight, bias, stride, padding, dilation, groups)` with
/// padding given as zeros before and after each axis.
///
/// `y[n, o, p] = b[o] + Σ_{ci, t} w[o, ci, t] · x[n, g·cg + ci, p·stride + t·dilation − before]`
/// for `o` in group `g` (zero outside the input).
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use ops_conv::{ConvParams, conv};
///
/// // A 3x3 averaging kernel over a 1x1x4x4 ramp, padding 1.
/// let x = Var::leaf(Tensor::from_vec(&[1, 1, 4, 4], (0..16).map(f64::from).collect())?);
/// let w = Var::leaf(Tensor::full(&[1, 1, 3, 3], 1.0 / 9.0));
/// let y = conv(&x, &w, None, &ConvParams::new(2).padding(1))?;
/// assert_eq!(y.shape(), vec![1, 1, 4, 4]);
/// assert!((y.value().as_slice()[5] - 5.0).abs() < 1e-12); // an inner window's mean
/// y.sum_all().backward()?;
/// // Each weight tap sums the input it meets: the centre tap meets all of it.
/// assert!((w.grad().unwrap().as_slice()[4] - 120.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`ConvError`] for mismatched ranks, channels, groups or bias, and for
/// windows that do not fit (see [`ConvGeom::new`]).
pub fn conv<F: Float>(
    x: &Var<F>,
    weight: &Var<F>,
    bias: Option<&Var<F>>,
    params: &ConvParams,
) -> Result<Var<F>, ConvError> {
    let geom = ConvGeom::new(&x.shape(), &weight.shape(), params)?;
    if let Some(b) = bias {
        let got = b.shape();
        if got != [geom.cout] {
            return Err(ConvError::Bias {
                op: geom.op(),
                out_channels: geom.cout,
                got,
            });
        }
    }
    let (xv, wv) = (x.value(), weight.value());
    let bv = bias.map(Var::value);
    let y = conv_forward(
        xv.as_slice(),
        wv.as_slice(),
        bv.as_ref().map(Tensor::as_slice),
        &geom,
        Par::Rayon,
    );
    let y = Tensor::from_vec(&geom.output_shape(), y)?;
    let mut inputs = vec![x.clone(), weight.clone()];
    inputs.extend(bias.cloned());
    Ok(Var::from_op(
        y,
        inputs,
        ConvBackward {
            geom: Arc::new(geom),
        },
    ))
}

struct ConvBackward {
    geom: Arc<ConvGeom>,
}

impl ConvBackward {
    /// First-order gradients from the kernels.
    fn fused<F: Float>(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        let geom = &*self.geom;
        let g = ctx.grad_output.value();
        let gs = g.as_slice();
        let wrap = |shape: Vec<usize>, v: Vec<F>| -> autograd::Result<Option<Var<F>>> {
            Ok(Some(Var::constant(Tensor::from_vec(&shape, v)?)))
        };
        let mut out = Vec::with_capacity(ctx.inputs.len());
        out.push(if ctx.needs_grad[0] {
            let w = ctx.inputs[1].value();
            wrap(
                geom.input_shape(),
                conv_backward_input(gs, w.as_slice(), geom, Par::Rayon),
            )?
        } else {
            None
        });
        out.push(if ctx.needs_grad[1] {
            let x = ctx.inputs[0].value();
            wrap(
                geom.weight_shape(),
                conv_backward_weight(gs, x.as_slice(), geom, Par::Rayon),
            )?
        } else {
            None
        });
        if ctx.inputs.len() > 2 {
            out.push(if ctx.needs_grad[2] {
                wrap(vec![geom.cout], conv_backward_bias(gs, geom, Par::Rayon))?
            } else {
                None
            });
        }
        Ok(out)
    }

    /// The same gradients from differentiable ops (for `create_graph`).
    fn composed<F: Float>(
        &self,
        ctx: &BackwardCtx<'_, F>,
    ) -> autograd::Result<Vec<Option<Var<F>>>> {
        let geom = &self.geom;
        let (groups, r, l, n) = (geom.groups, geom.rows(), geom.positions(), geom.n);
        let cog = geom.cog();
        let (x, w) = (&ctx.inputs[0], &ctx.inputs[1]);
        let g4 = ctx.grad_output.reshape(&[n, groups, cog, l])?;
        let wg = w.reshape(&[groups, cog, r])?;
        let mut out = Vec::with_capacity(ctx.inputs.len());
        out.push(if ctx.needs_grad[0] {
            let dcols = wg.transpose(-1, -2)?.matmul(&g4)?;
            Some(col2im(&dcols, geom))
        } else {
            None
        });
        out.push(if ctx.needs_grad[1] {
            let cols = im2col(x, geom);
            let dw = g4.matmul(&cols.transpose(-1, -2)?)?.sum(&[0], false)?;
            Some(dw.reshape(&geom.weight_shape())?)
        } else {
            None
        });
        if ctx.inputs.len() > 2 {
            out.push(if ctx.needs_grad[2] {
                let axes: Vec<isize> = std::iter::once(0)
                    .chain(2..ctx.grad_output.ndim() as isize)
                    .collect();
                Some(ctx.grad_output.sum(&axes, false)?)
            } else {
                None
            });
        }
        Ok(out)
    }
}

impl<F: Float> Backward<F> for ConvBackward {
    fn name(&self) -> &'static str {
        "conv"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if ctx.create_graph {
            self.composed(ctx)
        } else {
            self.fused(ctx)
        }
    }
}
