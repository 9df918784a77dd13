//! Sliding-window geometry: output sizes (PyTorch's rules, checked
//! arithmetic) and the zero-copy strided view of every window
//! (`split_by_strides`).

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, ShapeBuilder, Slice};

use crate::TensorError;

/// The window on one spatial axis: kernel size, stride, dilation and
/// `[before, after]` padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WindowAxis {
    /// Number of taps of the window (`kernel_size`).
    pub kernel: usize,
    /// Step between window starts.
    pub stride: usize,
    /// Step between taps inside one window.
    pub dilation: usize,
    /// Implicit padding before the first element.
    pub pad_before: usize,
    /// Implicit padding after the last element.
    pub pad_after: usize,
}

impl WindowAxis {
    /// A window with stride equal to the kernel, no dilation, no padding.
    pub fn new(kernel: usize) -> Self {
        Self {
            kernel,
            stride: kernel,
            dilation: 1,
            pad_before: 0,
            pad_after: 0,
        }
    }

    /// `dilation * (kernel - 1) + 1`, the span of one window, or `None` on
    /// overflow or a zero kernel.
    pub fn effective_kernel(&self) -> Option<usize> {
        self.dilation
            .checked_mul(self.kernel.checked_sub(1)?)?
            .checked_add(1)
    }

    /// Checks that kernel, stride and dilation are at least 1.
    ///
    /// # Errors
    /// [`TensorError::InvalidWindowParam`] naming `op`, the parameter and `axis`.
    pub fn validate(&self, op: &'static str, axis: usize) -> Result<(), TensorError> {
        for (param, value) in [
            ("kernel_size", self.kernel),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ] {
            if value == 0 {
                return Err(TensorError::InvalidWindowParam {
                    op,
                    param,
                    axis,
                    value,
                    allowed: "it must be at least 1".into(),
                });
            }
        }
        if self.effective_kernel().is_none() {
            return Err(TensorError::InvalidWindowParam {
                op,
                param: "kernel_size",
                axis,
                value: self.kernel,
                allowed: "dilation * (kernel_size - 1) + 1 must fit in usize".into(),
            });
        }
        Ok(())
    }

    /// The number of windows on an axis of length `input`, following
    /// PyTorch's `pooling_output_shape_pad_lr`:
    ///
    /// `out = floor((L + before + after - dilation*(k-1) - 1 + (ceil ? stride-1 : 0)) / stride) + 1`,
    /// then with `ceil_mode`, a last window that would start at or after
    /// `L + before` (inside the right padding) is dropped.
    ///
    /// # Errors
    /// [`TensorError::InvalidWindowParam`] for a zero kernel, stride or
    /// dilation; [`TensorError::EmptyOutput`] when no window fits.
    pub fn output_len(
        &self,
        op: &'static str,
        axis: usize,
        input: usize,
        ceil_mode: bool,
    ) -> Result<usize, TensorError> {
        self.validate(op, axis)?;
        let eff = self.effective_kernel().expect("validated above") as i128;
        let stride = self.stride as i128;
        let padded = input as i128 + self.pad_before as i128 + self.pad_after as i128;
        let mut num = padded - eff;
        if ceil_mode {
            num += stride - 1;
        }
        let mut out = num.div_euclid(stride) + 1;
        if ceil_mode && out >= 1 && (out - 1) * stride >= input as i128 + self.pad_before as i128 {
            out -= 1;
        }
        if out < 1 {
            return Err(TensorError::EmptyOutput {
                op,
                axis,
                input,
                pad_before: self.pad_before,
                pad_after: self.pad_after,
                effective_kernel: eff as usize,
                output: out,
            });
        }
        usize::try_from(out).map_err(|_| TensorError::SizeOverflow {
            op,
            shape: vec![input],
        })
    }

    /// Where window `o` starts, in input coordinates (negative inside the
    /// left padding): `o * stride - pad_before`.
    #[inline]
    pub fn window_start(&self, o: usize) -> isize {
        (o * self.stride) as isize - self.pad_before as isize
    }
}

/// Output spatial shape for windows on each axis of `spatial`.
///
/// # Errors
/// [`TensorError::ParamLength`] when `axes` and `spatial` differ in length,
/// otherwise as [`WindowAxis::output_len`].
pub fn output_shape(
    op: &'static str,
    spatial: &[usize],
    axes: &[WindowAxis],
    ceil_mode: bool,
) -> Result<Vec<usize>, TensorError> {
    if axes.len() != spatial.len() {
        return Err(TensorError::ParamLength {
            op,
            param: "window",
            expected: spatial.len(),
            got: axes.len(),
        });
    }
    spatial
        .iter()
        .zip(axes)
        .enumerate()
        .map(|(i, (&len, ax))| ax.output_len(op, i, len, ceil_mode))
        .collect()
}

/// A zero-copy view of every window of `x` over its trailing spatial axes
/// (the tutorial's `split_by_strides`).
///
/// `x` has shape `[lead..., s_0, ..., s_{d-1}]` with `d = kernel.len()`.
/// The result has shape `[lead..., o_0, ..., o_{d-1}, k_0, ..., k_{d-1}]`,
/// where element `[.., o.., j..]` is `x[.., o_i*stride_i + j_i*dilation_i ..]`.
/// Windows that overlap share memory, which is why the view is read-only.
/// Padding is not part of the view: pad first with [`pad_constant`].
///
/// ```
/// use core_tensor::window::window_view;
/// use ndarray::ArrayD;
/// let x = ArrayD::from_shape_vec(vec![1, 5], (0..5).map(f64::from).collect()).unwrap();
/// let w = window_view(x.view(), &[3], &[2], &[1]).unwrap();
/// assert_eq!(w.shape(), &[1, 2, 3]);
/// assert_eq!(w[[0, 1, 2]], 4.0);
/// ```
///
/// # Errors
/// [`TensorError::ParamLength`] for lists of the wrong length,
/// [`TensorError::WrongRank`] if `x` has fewer axes than the window,
/// and the errors of [`WindowAxis::output_len`] (no padding, floor mode).
pub fn window_view<'a, T>(
    x: ArrayViewD<'a, T>,
    kernel: &[usize],
    stride: &[usize],
    dilation: &[usize],
) -> Result<ArrayViewD<'a, T>, TensorError> {
    const OP: &str = "window_view";
    let d = kernel.len();
    for (param, got) in [("stride", stride.len()), ("dilation", dilation.len())] {
        if got != d {
            return Err(TensorError::ParamLength {
                op: OP,
                param,
                expected: d,
                got,
            });
        }
    }
    if x.ndim() < d {
        return Err(TensorError::WrongRank {
            op: OP,
            expected: format!("at least rank {d}"),
            got: x.ndim(),
            shape: x.shape().to_vec(),
        });
    }
    let lead = x.ndim() - d;
    let mut shape: Vec<usize> = x.shape()[..lead].to_vec();
    let mut strides: Vec<isize> = x.strides()[..lead].to_vec();
    let mut tap_strides = Vec::with_capacity(d);
    // The largest index the view reaches on each input axis.
    let mut max_index: Vec<usize> = x.shape()[..lead]
        .iter()
        .map(|&n| n.saturating_sub(1))
        .collect();
    for i in 0..d {
        let ax = WindowAxis {
            kernel: kernel[i],
            stride: stride[i],
            dilation: dilation[i],
            pad_before: 0,
            pad_after: 0,
        };
        let out = ax.output_len(OP, i, x.shape()[lead + i], false)?;
        let s = x.strides()[lead + i];
        shape.push(out);
        strides.push(s * stride[i] as isize);
        tap_strides.push(s * dilation[i] as isize);
        max_index.push((out - 1) * stride[i] + (kernel[i] - 1) * dilation[i]);
    }
    shape.extend_from_slice(kernel);
    strides.extend(tap_strides);
    if x.is_empty() {
        // Nothing to view; an empty lead axis gives an empty window view.
        let empty: &'a [T] = &[];
        return Ok(ArrayViewD::from_shape(IxDyn(&vec![0; shape.len()]), empty)
            .expect("an all-zero shape fits an empty slice"));
    }
    // Every index of the view maps to an element of `x`: on each spatial
    // axis the largest offset is (out-1)*stride + (k-1)*dilation <= len-1,
    // which `output_len` guarantees, and the lead axes are unchanged.
    //
    // ndarray builds views from raw parts only with non-negative strides.
    // An input axis with a negative stride (a reversed view) is handled by
    // starting from its lowest-address element, using the absolute strides,
    // and reversing the affected view axes afterwards, which restores the
    // logical order.
    let mut offset = 0isize;
    let mut flipped = Vec::new();
    for (i, (&s, &top)) in x.strides().iter().zip(&max_index).enumerate() {
        if s < 0 {
            offset += s * top as isize;
            flipped.push(i);
            if i >= lead {
                flipped.push(i + d);
            }
        }
    }
    let ustrides: Vec<usize> = strides.iter().map(|&s| s.unsigned_abs()).collect();
    // SAFETY: `offset` moves to the element of `x` at index `max_index` on
    // every negatively strided axis (0 on the others), an element of `x`,
    // so the pointer stays inside its allocation. From there, the absolute
    // strides address, for each view index, the element of `x` whose
    // logical index is `max_index - (o*stride + j*dilation)` on those axes,
    // which lies in `0..=max_index`; all other axes are unchanged. The view
    // is immutable, so overlapping windows are sound.
    let mut view = unsafe {
        let ptr = x.as_ptr().offset(offset);
        ArrayViewD::from_shape_ptr(IxDyn(&shape).strides(IxDyn(&ustrides)), ptr)
    };
    for a in flipped {
        view.invert_axis(Axis(a));
    }
    Ok(view)
}

/// Copies `x` into a larger array padded on its trailing axes with `value`.
/// `pads[i] = [before, after]` for trailing axis `i`.
///
/// # Errors
/// [`TensorError::WrongRank`] if `x` has fewer axes than `pads`,
/// [`TensorError::SizeOverflow`] if a padded size overflows.
pub fn pad_constant<T: Clone>(
    x: ArrayViewD<'_, T>,
    pads: &[[usize; 2]],
    value: T,
) -> Result<ArrayD<T>, TensorError> {
    const OP: &str = "pad_constant";
    if x.ndim() < pads.len() {
        return Err(TensorError::WrongRank {
            op: OP,
            expected: format!("at least rank {}", pads.len()),
            got: x.ndim(),
            shape: x.shape().to_vec(),
        });
    }
    let lead = x.ndim() - pads.len();
    let mut shape = x.shape().to_vec();
    for (i, p) in pads.iter().enumerate() {
        shape[lead + i] = shape[lead + i]
            .checked_add(p[0])
            .and_then(|v| v.checked_add(p[1]))
            .ok_or_else(|| TensorError::SizeOverflow {
                op: OP,
                shape: x.shape().to_vec(),
            })?;
    }
    crate::shape::checked_numel(OP, &shape)?;
    let mut out = ArrayD::from_elem(IxDyn(&shape), value);
    let mut inner = out.view_mut();
    for (i, p) in pads.iter().enumerate() {
        let len = x.shape()[lead + i];
        inner.slice_axis_inplace(
            Axis(lead + i),
            Slice::from(p[0] as isize..(p[0] + len) as isize),
        );
    }
    inner.assign(&x);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ax(kernel: usize, stride: usize, dilation: usize, pb: usize, pa: usize) -> WindowAxis {
        WindowAxis {
            kernel,
            stride,
            dilation,
            pad_before: pb,
            pad_after: pa,
        }
    }

    #[test]
    fn floor_and_ceil_sizes_match_pytorch() {
        // torch: F.max_pool1d(torch.zeros(1,1,5), 2, 2).shape[-1] == 2; ceil -> 3
        assert_eq!(ax(2, 2, 1, 0, 0).output_len("t", 0, 5, false).unwrap(), 2);
        assert_eq!(ax(2, 2, 1, 0, 0).output_len("t", 0, 5, true).unwrap(), 3);
        // issue #45357: k=1, s=2, ceil on 6x7 gives 3x4
        assert_eq!(ax(1, 2, 1, 0, 0).output_len("t", 0, 6, true).unwrap(), 3);
        assert_eq!(ax(1, 2, 1, 0, 0).output_len("t", 0, 7, true).unwrap(), 4);
        // ceil mode lets a kernel larger than the input fit: MaxPool2d(6, ceil_mode=True) on 5x5 -> 1x1
        assert_eq!(ax(6, 6, 1, 0, 0).output_len("t", 0, 5, true).unwrap(), 1);
        assert!(ax(6, 6, 1, 0, 0).output_len("t", 0, 5, false).is_err());
    }

    #[test]
    fn ceil_window_starting_in_right_padding_is_dropped() {
        // L=5, k=2, s=2, pad 1: (5+2-2+1)/2+1 = 4 windows, the last would
        // start at 3*2 = 6 >= L + before = 6, so 3 remain.
        assert_eq!(ax(2, 2, 1, 1, 1).output_len("t", 0, 5, true).unwrap(), 3);
        // Without the drop rule it would be 4; floor mode gives 3 as well.
        assert_eq!(ax(2, 2, 1, 1, 1).output_len("t", 0, 5, false).unwrap(), 3);
    }

    #[test]
    fn zero_parameters_are_typed_errors() {
        let e = ax(0, 1, 1, 0, 0)
            .output_len("pool", 1, 5, false)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "pool: kernel_size on spatial axis 1 is 0, but it must be at least 1"
        );
        assert!(ax(2, 0, 1, 0, 0).output_len("t", 0, 5, false).is_err());
        assert!(ax(2, 1, 0, 0, 0).output_len("t", 0, 5, false).is_err());
        assert!(
            ax(usize::MAX, 1, 2, 0, 0)
                .output_len("t", 0, 5, false)
                .is_err()
        );
    }

    #[test]
    fn window_view_addresses_dilated_taps() {
        let x = ArrayD::from_shape_vec(vec![2, 4, 5], (0..40).map(|v| v as f64).collect()).unwrap();
        let w = window_view(x.view(), &[2, 2], &[2, 1], &[1, 3]).unwrap();
        assert_eq!(w.shape(), &[2, 2, 2, 2, 2]);
        // batch 1, out (1, 1), tap (1, 1): x[1, 1*2+1, 1+3] = 20 + 3*5 + 4
        assert_eq!(w[[1, 1, 1, 1, 1]], 39.0);
        assert_eq!(w[[0, 0, 0, 0, 1]], 3.0);
    }

    #[test]
    fn window_view_of_a_reversed_view() {
        // Reversed views have negative strides; ndarray cannot build a view
        // from raw parts with those, so window_view re-bases them.
        let x = ArrayD::from_shape_vec(vec![2, 5], (0..10).map(|v| v as f64).collect()).unwrap();
        let mut r = x.view();
        r.invert_axis(Axis(1));
        r.invert_axis(Axis(0));
        // r = [[9, 8, 7, 6, 5], [4, 3, 2, 1, 0]]
        let w = window_view(r, &[2], &[2], &[2]).unwrap();
        assert_eq!(w.shape(), &[2, 2, 2]);
        assert_eq!(
            w.iter().copied().collect::<Vec<_>>(),
            vec![9., 7., 7., 5., 4., 2., 2., 0.]
        );
    }

    #[test]
    fn pad_constant_places_input_inside() {
        let x = ArrayD::from_shape_vec(vec![1, 2], vec![1.0, 2.0]).unwrap();
        let p = pad_constant(x.view(), &[[1, 2]], f64::NEG_INFINITY).unwrap();
        assert_eq!(p.shape(), &[1, 5]);
        assert_eq!(p.as_slice().unwrap()[1..3], [1.0, 2.0]);
        assert_eq!(p[[0, 4]], f64::NEG_INFINITY);
    }

    proptest! {
        /// The closed formula agrees with enumerating window starts.
        #[test]
        fn output_len_matches_enumeration(
            len in 1usize..12, k in 1usize..6, s in 1usize..5, d in 1usize..3,
            pb in 0usize..4, pa in 0usize..4, ceil in any::<bool>()
        ) {
            let a = ax(k, s, d, pb, pa);
            let eff = d * (k - 1) + 1;
            // Padding below the effective kernel on each side, the regime in
            // which only the extra ceil-mode window can start in padding.
            prop_assume!(pb < eff && pa < eff);
            let padded = len + pb + pa;
            // Window starts o*s; floor mode needs the whole window inside the
            // padded input, ceil mode allows an overhang of up to s-1 but the
            // window must start inside the input or the left padding.
            let want = (0..64usize)
                .map(|o| o * s)
                .take_while(|&st| if ceil { st + eff < padded + s && st < len + pb } else { st + eff <= padded })
                .count();
            match a.output_len("t", 0, len, ceil) {
                Ok(out) => prop_assert_eq!(out, want),
                Err(_) => prop_assert_eq!(want, 0),
            }
        }
    }
}
