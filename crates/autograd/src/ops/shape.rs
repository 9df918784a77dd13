//! Shape operations: reshape, permute, transpose, broadcast, narrow,
//! concat, pad.

use core_tensor::{Float, Tensor, shape::checked_numel, window::pad_constant};
use ndarray::{ArrayD, Axis, IxDyn, Slice};

use super::util::normalize_axis;
use crate::{AutogradError, Backward, BackwardCtx, Result, Var};

struct ReshapeBackward;
impl<F: Float> Backward<F> for ReshapeBackward {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        Ok(vec![Some(ctx.grad_output.reshape(&ctx.inputs[0].shape())?)])
    }
}

struct PermuteBackward {
    inverse: Vec<usize>,
}
impl<F: Float> Backward<F> for PermuteBackward {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        Ok(vec![Some(ctx.grad_output.permute(&self.inverse)?)])
    }
}

struct BroadcastBackward;
impl<F: Float> Backward<F> for BroadcastBackward {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        Ok(vec![Some(ctx.grad_output.sum_to(&ctx.inputs[0].shape())?)])
    }
}

struct NarrowBackward {
    axis: usize,
    start: usize,
}
impl<F: Float> Backward<F> for NarrowBackward {
    fn name(&self) -> &'static str {
        "narrow"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let full = ctx.inputs[0].shape()[self.axis];
        let len = ctx.grad_output.shape()[self.axis];
        let mut pads = vec![[0usize; 2]; ctx.inputs[0].ndim()];
        pads[self.axis] = [self.start, full - self.start - len];
        Ok(vec![Some(ctx.grad_output.pad(&pads, 0.0)?)])
    }
}

struct PadBackward {
    pads: Vec<[usize; 2]>,
}
impl<F: Float> Backward<F> for PadBackward {
    fn name(&self) -> &'static str {
        "pad"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let shape = ctx.inputs[0].shape();
        let lead = shape.len() - self.pads.len();
        let mut g = ctx.grad_output.clone();
        for (i, p) in self.pads.iter().enumerate() {
            if p[0] != 0 || p[1] != 0 {
                g = g.narrow((lead + i) as isize, p[0], shape[lead + i])?;
            }
        }
        Ok(vec![Some(g)])
    }
}

struct ConcatBackward {
    axis: usize,
    offsets: Vec<usize>,
}
impl<F: Float> Backward<F> for ConcatBackward {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        ctx.inputs
            .iter()
            .zip(&self.offsets)
            .zip(ctx.needs_grad)
            .map(|((input, &off), &need)| {
                if need {
                    let len = input.shape()[self.axis];
                    ctx.grad_output
                        .narrow(self.axis as isize, off, len)
                        .map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect()
    }
}

impl<F: Float> Var<F> {
    /// The same elements under a new shape (row-major order), like
    /// `x.reshape(shape)`. Zero-copy.
    ///
    /// # Errors
    /// When the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<F>> {
        let v = self.value().reshape(shape)?;
        Ok(Var::from_op(v, vec![self.clone()], ReshapeBackward))
    }

    /// Keeps the leading `start_axis` axes and merges the rest into one,
    /// like `torch.flatten(x, start_dim)`.
    ///
    /// # Errors
    /// [`AutogradError::AxisOutOfRange`] when `start_axis > ndim`.
    pub fn flatten_from(&self, start_axis: usize) -> Result<Var<F>> {
        let shape = self.shape();
        if start_axis > shape.len() {
            return Err(AutogradError::AxisOutOfRange {
                op: "flatten",
                axis: start_axis as isize,
                ndim: shape.len(),
            });
        }
        let mut new: Vec<usize> = shape[..start_axis].to_vec();
        new.push(shape[start_axis..].iter().product());
        self.reshape(&new)
    }

    /// Inserts a size-1 axis at `axis` (`0..=ndim`), like `x.unsqueeze(axis)`.
    ///
    /// # Errors
    /// [`AutogradError::AxisOutOfRange`].
    pub fn unsqueeze(&self, axis: usize) -> Result<Var<F>> {
        let mut shape = self.shape();
        if axis > shape.len() {
            return Err(AutogradError::AxisOutOfRange {
                op: "unsqueeze",
                axis: axis as isize,
                ndim: shape.len(),
            });
        }
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// Reorders the axes: output axis `i` is input axis `axes[i]`, like
    /// `x.permute(axes)`.
    ///
    /// # Errors
    /// [`AutogradError::InvalidArgument`] when `axes` is not a permutation
    /// of `0..ndim`.
    pub fn permute(&self, axes: &[usize]) -> Result<Var<F>> {
        let x = self.value();
        let n = x.ndim();
        let mut seen = vec![false; n];
        if axes.len() != n
            || axes
                .iter()
                .any(|&a| a >= n || std::mem::replace(&mut seen[a], true))
        {
            return Err(AutogradError::InvalidArgument {
                op: "permute",
                param: "axes",
                reason: format!("{axes:?} is not a permutation of 0..{n}"),
            });
        }
        let mut inverse = vec![0; n];
        for (i, &a) in axes.iter().enumerate() {
            inverse[a] = i;
        }
        let v = Tensor::from_view(x.view().permuted_axes(IxDyn(axes)));
        Ok(Var::from_op(
            v,
            vec![self.clone()],
            PermuteBackward { inverse },
        ))
    }

    /// Swaps two axes (negative counts from the end), like `x.transpose(a, b)`.
    ///
    /// # Errors
    /// [`AutogradError::AxisOutOfRange`].
    pub fn transpose(&self, a: isize, b: isize) -> Result<Var<F>> {
        let n = self.ndim();
        let a = normalize_axis("transpose", a, n)?;
        let b = normalize_axis("transpose", b, n)?;
        let mut axes: Vec<usize> = (0..n).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }

    /// Broadcasts to `shape` (NumPy rules), like `x.expand(shape)`; the
    /// result is materialized.
    ///
    /// # Errors
    /// [`AutogradError::ShapeMismatch`] when the shape does not broadcast.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var<F>> {
        let x = self.value();
        if x.shape() == shape {
            return Ok(self.clone());
        }
        checked_numel("broadcast_to", shape)?;
        let view = x.view();
        let b = view
            .broadcast(IxDyn(shape))
            .ok_or_else(|| AutogradError::ShapeMismatch {
                op: "broadcast_to",
                lhs: x.shape().to_vec(),
                rhs: shape.to_vec(),
                reason: "each axis must match or be 1 (aligned on the right)",
            })?;
        let v = Tensor::from_view(b);
        Ok(Var::from_op(v, vec![self.clone()], BroadcastBackward))
    }

    /// `len` elements of `axis` from `start`, like `x.narrow(axis, start, len)`.
    ///
    /// # Errors
    /// [`AutogradError::AxisOutOfRange`], or [`AutogradError::InvalidArgument`]
    /// when `start + len` exceeds the axis.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Var<F>> {
        let x = self.value();
        let ax = normalize_axis("narrow", axis, x.ndim())?;
        let size = x.shape()[ax];
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(AutogradError::InvalidArgument {
                op: "narrow",
                param: "start/len",
                reason: format!("start {start} + length {len} exceeds axis {ax} of size {size}"),
            });
        }
        let view = x.view();
        let s = view.slice_axis(
            Axis(ax),
            Slice::from(start as isize..(start + len) as isize),
        );
        Ok(Var::from_op(
            Tensor::from_view(s),
            vec![self.clone()],
            NarrowBackward { axis: ax, start },
        ))
    }

    /// Pads the trailing `pads.len()` axes with `value`:
    /// `pads[i] = [before, after]` for trailing axis `i`.
    ///
    /// # Errors
    /// When `pads` has more entries than the rank, or sizes overflow.
    pub fn pad(&self, pads: &[[usize; 2]], value: f64) -> Result<Var<F>> {
        let x = self.value();
        let out = pad_constant(x.view(), pads, F::cast(value))?;
        Ok(Var::from_op(
            Tensor::from_array(out),
            vec![self.clone()],
            PadBackward {
                pads: pads.to_vec(),
            },
        ))
    }

    /// Joins values along `axis`; all other axes must agree (`torch.cat`).
    ///
    /// # Errors
    /// [`AutogradError::InvalidArgument`] for an empty list,
    /// [`AutogradError::ShapeMismatch`] when the other axes differ.
    pub fn concat(vars: &[Var<F>], axis: isize) -> Result<Var<F>> {
        let first = vars.first().ok_or(AutogradError::InvalidArgument {
            op: "concat",
            param: "vars",
            reason: "at least one value is required".into(),
        })?;
        let shape0 = first.shape();
        let ax = normalize_axis("concat", axis, shape0.len())?;
        let values: Vec<Tensor<F>> = vars.iter().map(Var::value).collect();
        let mut offsets = Vec::with_capacity(vars.len());
        let mut off = 0usize;
        for v in &values {
            let s = v.shape();
            let same = s.len() == shape0.len()
                && s.iter()
                    .zip(&shape0)
                    .enumerate()
                    .all(|(i, (a, b))| i == ax || a == b);
            if !same {
                return Err(AutogradError::ShapeMismatch {
                    op: "concat",
                    lhs: shape0.clone(),
                    rhs: s.to_vec(),
                    reason: "all axes but the concatenation axis must agree",
                });
            }
            offsets.push(off);
            off += s[ax];
        }
        let views: Vec<_> = values.iter().map(Tensor::view).collect();
        let out: ArrayD<F> =
            ndarray::concatenate(Axis(ax), &views).map_err(|_| AutogradError::InvalidArgument {
                op: "concat",
                param: "vars",
                reason: "ndarray refused the concatenation".into(),
            })?;
        Ok(Var::from_op(
            Tensor::from_array(out),
            vars.to_vec(),
            ConcatBackward { axis: ax, offsets },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::testing::assert_close;

    fn leaf(shape: &[usize], n: usize) -> Var<f64> {
        Var::leaf(Tensor::from_vec(shape, (0..n).map(|v| v as f64).collect()).unwrap())
    }

    #[test]
    fn permute_and_transpose() {
        let x = leaf(&[2, 3], 6);
        let t = x.transpose(0, 1).unwrap();
        assert_eq!(t.shape(), vec![3, 2]);
        assert_close(t.value().as_slice(), &[0., 3., 1., 4., 2., 5.], 1e-15, 0.0);
        assert!(x.permute(&[0, 0]).is_err());
        let w = Var::constant(Tensor::from_vec(&[3, 2], vec![1., 2., 3., 4., 5., 6.]).unwrap());
        t.mul(&w).unwrap().sum_all().backward().unwrap();
        assert_close(
            x.grad().unwrap().as_slice(),
            &[1., 3., 5., 2., 4., 6.],
            1e-15,
            0.0,
        );
    }

    #[test]
    fn narrow_pad_concat_round_trip() {
        let x = leaf(&[2, 4], 8);
        let n = x.narrow(1, 1, 2).unwrap();
        assert_close(n.value().as_slice(), &[1., 2., 5., 6.], 1e-15, 0.0);
        assert!(x.narrow(1, 3, 2).is_err());
        let p = n.pad(&[[1, 1]], -1.0).unwrap();
        assert_close(
            p.value().as_slice(),
            &[-1., 1., 2., -1., -1., 5., 6., -1.],
            1e-15,
            0.0,
        );
        let c = Var::concat(&[x.clone(), p.clone()], 0).unwrap();
        assert_eq!(c.shape(), vec![4, 4]);
        c.sum_all().backward().unwrap();
        // x gets 1 directly plus 1 through narrow/pad on the kept columns.
        assert_close(
            x.grad().unwrap().as_slice(),
            &[1., 2., 2., 1., 1., 2., 2., 1.],
            1e-15,
            0.0,
        );
        assert!(Var::concat(&[x.clone(), leaf(&[2, 3], 6)], 0).is_err());
    }

    #[test]
    fn broadcast_to_and_back() {
        let x = leaf(&[3, 1], 3);
        let b = x.broadcast_to(&[2, 3, 4]).unwrap();
        assert_eq!(b.shape(), vec![2, 3, 4]);
        b.sum_all().backward().unwrap();
        assert_close(x.grad().unwrap().as_slice(), &[8., 8., 8.], 1e-15, 0.0);
        assert!(x.broadcast_to(&[2, 2]).is_err());
    }

    #[test]
    fn reshape_flatten_unsqueeze() {
        let x = leaf(&[2, 3, 4], 24);
        assert_eq!(x.flatten_from(1).unwrap().shape(), vec![2, 12]);
        assert_eq!(x.unsqueeze(3).unwrap().shape(), vec![2, 3, 4, 1]);
        assert!(x.reshape(&[5, 5]).is_err());
        assert!(x.unsqueeze(4).is_err());
    }
}
