//! The geometry of one convolution call, checked once and shared by the
//! kernels and the backward pass.

use core_tensor::shape::checked_numel;
use core_tensor::window::WindowAxis;

use crate::ConvError;

/// Stride, zero padding, dilation and groups of a convolution: the
/// arguments of `F.conv1d/2d/3d` besides the tensors (with padding given as
/// zeros before and after each spatial axis).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvParams {
    /// Step between windows, per spatial axis.
    pub stride: Vec<usize>,
    /// Zeros `[before, after]` the input, per spatial axis.
    pub padding: Vec<[usize; 2]>,
    /// Spacing between kernel taps, per spatial axis.
    pub dilation: Vec<usize>,
    /// Channel groups: input and output channels are split into `groups`
    /// blocks and block `g` of the output sees only block `g` of the input.
    pub groups: usize,
}

impl ConvParams {
    /// PyTorch's defaults for `d` spatial axes: stride 1, no padding,
    /// dilation 1, one group.
    ///
    /// ```
    /// let p = ops_conv::ConvParams::new(2).stride(2).padding(1);
    /// assert_eq!(p.stride, vec![2, 2]);
    /// assert_eq!(p.padding, vec![[1, 1], [1, 1]]);
    /// ```
    pub fn new(d: usize) -> Self {
        Self {
            stride: vec![1; d],
            padding: vec![[0, 0]; d],
            dilation: vec![1; d],
            groups: 1,
        }
    }

    /// The same stride on every axis.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride.fill(s);
        self
    }

    /// `p` zeros on both sides of every axis.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding.fill([p, p]);
        self
    }

    /// The same dilation on every axis.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation.fill(d);
        self
    }

    /// The number of groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
}

/// The op name PyTorch's functional convolution has for `d` spatial axes.
pub fn op_name(d: usize) -> &'static str {
    match d {
        1 => "conv1d",
        2 => "conv2d",
        3 => "conv3d",
        _ => "conv",
    }
}

/// Sizes of one convolution call: input `(n, c, *input)`, weight
/// `(cout, c / groups, *kernel)`, output `(n, cout, *output)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Output channels.
    pub cout: usize,
    /// Channel groups (dividing `c` and `cout`).
    pub groups: usize,
    /// Input spatial sizes.
    pub input: Vec<usize>,
    /// Output spatial sizes.
    pub output: Vec<usize>,
    /// Kernel sizes.
    pub kernel: Vec<usize>,
    /// Strides.
    pub stride: Vec<usize>,
    /// Zeros before and after the input, per axis.
    pub padding: Vec<[usize; 2]>,
    /// Dilations.
    pub dilation: Vec<usize>,
}

impl ConvGeom {
    /// Checks a call as PyTorch does and works out the output size
    /// `floor((L + before + after - dilation·(kernel-1) - 1) / stride) + 1`
    /// per axis; the number of spatial axes is `params.stride.len()`.
    ///
    /// # Errors
    /// [`ConvError::ParamLength`], [`ConvError::Groups`],
    /// [`ConvError::InputRank`], [`ConvError::Channels`] and
    /// [`ConvError::Tensor`] for a zero kernel, stride or dilation, an input
    /// smaller than the dilated kernel, or sizes that overflow.
    pub fn new(
        x_shape: &[usize],
        w_shape: &[usize],
        params: &ConvParams,
    ) -> Result<Self, ConvError> {
        let d = params.stride.len();
        let op = op_name(d);
        if params.padding.len() != d || params.dilation.len() != d || w_shape.len() != d + 2 {
            return Err(ConvError::ParamLength {
                op,
                axes: d,
                lengths: [params.padding.len(), params.dilation.len()],
                weight: w_shape.to_vec(),
            });
        }
        let groups = params.groups;
        if groups == 0 || !w_shape[0].is_multiple_of(groups) {
            return Err(ConvError::Groups {
                op,
                groups,
                out_channels: w_shape[0],
            });
        }
        if x_shape.len() != d + 2 {
            return Err(ConvError::InputRank {
                op,
                expected: d + 2,
                got: x_shape.to_vec(),
            });
        }
        let expected = w_shape[1].checked_mul(groups).ok_or_else(|| {
            core_tensor::TensorError::SizeOverflow {
                op,
                shape: w_shape.to_vec(),
            }
        })?;
        if x_shape[1] != expected {
            return Err(ConvError::Channels {
                op,
                expected,
                weight: w_shape.to_vec(),
                groups,
                got: x_shape.to_vec(),
            });
        }
        checked_numel(op, x_shape)?;
        checked_numel(op, w_shape)?;
        let output = (0..d)
            .map(|i| {
                WindowAxis {
                    kernel: w_shape[2 + i],
                    stride: params.stride[i],
                    dilation: params.dilation[i],
                    pad_before: params.padding[i][0],
                    pad_after: params.padding[i][1],
                }
                .output_len(op, i, x_shape[2 + i], false)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let geom = Self {
            n: x_shape[0],
            c: x_shape[1],
            cout: w_shape[0],
            groups,
            input: x_shape[2..].to_vec(),
            output,
            kernel: w_shape[2..].to_vec(),
            stride: params.stride.clone(),
            padding: params.padding.clone(),
            dilation: params.dilation.clone(),
        };
        checked_numel(op, &geom.output_shape())?;
        // The unfolded rows of one group must be addressable too.
        geom.rows().checked_mul(geom.positions()).ok_or_else(|| {
            core_tensor::TensorError::SizeOverflow {
                op,
                shape: geom.output_shape(),
            }
        })?;
        Ok(geom)
    }

    /// The number of spatial axes.
    pub fn d(&self) -> usize {
        self.input.len()
    }

    /// The op name (`conv1d`, `conv2d`, `conv3d`).
    pub fn op(&self) -> &'static str {
        op_name(self.d())
    }

    /// Input channels per group.
    pub fn cg(&self) -> usize {
        self.c / self.groups
    }

    /// Output channels per group.
    pub fn cog(&self) -> usize {
        self.cout / self.groups
    }

    /// Taps per kernel (the product of the kernel sizes).
    pub fn taps(&self) -> usize {
        self.kernel.iter().product()
    }

    /// Output positions per sample.
    pub fn positions(&self) -> usize {
        self.output.iter().product()
    }

    /// Input elements per channel plane.
    pub fn plane(&self) -> usize {
        self.input.iter().product()
    }

    /// Rows of one group's unfolded input (its inner product length):
    /// `cg * taps`.
    pub fn rows(&self) -> usize {
        self.cg() * self.taps()
    }

    /// `(n, c, *input)`.
    pub fn input_shape(&self) -> Vec<usize> {
        [self.n, self.c]
            .into_iter()
            .chain(self.input.iter().copied())
            .collect()
    }

    /// `(n, cout, *output)`.
    pub fn output_shape(&self) -> Vec<usize> {
        [self.n, self.cout]
            .into_iter()
            .chain(self.output.iter().copied())
            .collect()
    }

    /// `(cout, cg, *kernel)`.
    pub fn weight_shape(&self) -> Vec<usize> {
        [self.cout, self.cg()]
            .into_iter()
            .chain(self.kernel.iter().copied())
            .collect()
    }

    /// `(n, groups, cg * taps, positions)`: the unfolded input of
    /// [`crate::im2col`].
    pub fn cols_shape(&self) -> Vec<usize> {
        vec![self.n, self.groups, self.rows(), self.positions()]
    }

    /// Whether every window is a single input element at its own position
    /// (kernel 1, stride 1, no padding): the unfolded input is the input.
    pub fn is_pointwise(&self) -> bool {
        self.kernel.iter().all(|&k| k == 1)
            && self.stride.iter().all(|&s| s == 1)
            && self.padding.iter().all(|&p| p == [0, 0])
    }

    /// The geometry on three spatial axes, with unit leading axes.
    pub(crate) fn as_3d(&self) -> Geom3 {
        let lift = |v: &[usize], fill: usize| {
            let mut a = [fill; 3];
            a[3 - v.len()..].copy_from_slice(v);
            a
        };
        let before: Vec<usize> = self.padding.iter().map(|p| p[0]).collect();
        Geom3 {
            input: lift(&self.input, 1),
            output: lift(&self.output, 1),
            kernel: lift(&self.kernel, 1),
            stride: lift(&self.stride, 1),
            pad: lift(&before, 0),
            dilation: lift(&self.dilation, 1),
        }
    }
}

/// A geometry on exactly three spatial axes (depth, height, width); the
/// padding is the zeros before the input (those after only bound the
/// output size, already worked out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geom3 {
    pub(crate) input: [usize; 3],
    pub(crate) output: [usize; 3],
    pub(crate) kernel: [usize; 3],
    pub(crate) stride: [usize; 3],
    pub(crate) pad: [usize; 3],
    pub(crate) dilation: [usize; 3],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_pytorch() {
        // torch: F.conv2d(torch.zeros(2, 4, 7, 9), torch.zeros(6, 2, 3, 2),
        //   stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2).shape
        //   == (2, 6, 4, 7)
        let p = ConvParams {
            stride: vec![2, 1],
            padding: vec![[1, 1], [0, 0]],
            dilation: vec![1, 2],
            groups: 2,
        };
        let g = ConvGeom::new(&[2, 4, 7, 9], &[6, 2, 3, 2], &p).unwrap();
        assert_eq!(g.output_shape(), vec![2, 6, 4, 7]);
        assert_eq!(
            (g.cg(), g.cog(), g.taps(), g.rows(), g.positions()),
            (2, 3, 6, 12, 28)
        );
        assert!(!g.is_pointwise());
        let one = ConvGeom::new(&[1, 3, 5], &[2, 3, 1], &ConvParams::new(1)).unwrap();
        assert!(one.is_pointwise());
    }

    #[test]
    fn bad_calls_are_typed_errors() {
        let p2 = ConvParams::new(2);
        assert!(matches!(
            ConvGeom::new(&[1, 3, 5, 5], &[4, 3, 3], &p2),
            Err(ConvError::ParamLength { .. })
        ));
        let e = ConvGeom::new(&[1, 3, 5, 5], &[4, 3, 3, 3], &p2.clone().groups(3)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "conv2d: groups (3) must be positive and divide the 4 output channels"
        );
        assert!(matches!(
            ConvGeom::new(&[1, 3, 5, 5], &[4, 3, 3, 3], &p2.clone().groups(0)),
            Err(ConvError::Groups { .. })
        ));
        assert!(matches!(
            ConvGeom::new(&[3, 5, 5], &[4, 3, 3, 3], &p2),
            Err(ConvError::InputRank { expected: 4, .. })
        ));
        let e = ConvGeom::new(&[1, 2, 5, 5], &[4, 3, 3, 3], &p2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "conv2d: expected input with 3 channels (weight [4, 3, 3, 3] with groups 1), got shape [1, 2, 5, 5]"
        );
        assert!(matches!(
            ConvGeom::new(&[1, 3, 2, 2], &[4, 3, 3, 3], &p2),
            Err(ConvError::Tensor(
                core_tensor::TensorError::EmptyOutput { .. }
            ))
        ));
        assert!(matches!(
            ConvGeom::new(&[1, 3, 5, 5], &[4, 3, 3, 3], &p2.clone().stride(0)),
            Err(ConvError::Tensor(_))
        ));
        assert!(ConvGeom::new(&[usize::MAX, 3, 5, 5], &[4, 3, 3, 3], &p2).is_err());
        assert!(
            ConvGeom::new(
                &[1, usize::MAX, 5, 5],
                &[4, usize::MAX / 2, 3, 3],
                &p2.clone().groups(2)
            )
            .is_err()
        );
    }
}
