//! Parameter structs of the pooling ops, with PyTorch's defaults and
//! builder-style setters, and the `SAME` / `VALID` padding helpers.
//!
//! Per-axis lists hold one entry per spatial axis, or a single entry that
//! applies to every axis (PyTorch's plain `int` form). The number of
//! spatial axes is the length of `kernel_size` (or of `output_size` for
//! adaptive pooling).

use crate::error::{PoolError, Result};

/// Padding of the spatial axes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Padding {
    /// Explicit `[before, after]` pairs, one per spatial axis or one for all
    /// axes. An empty list means no padding (PyTorch's `padding=0`).
    Explicit(Vec<[usize; 2]>),
    /// TensorFlow / ONNX `SAME_UPPER`: the output has `ceil(L / stride)`
    /// positions and an odd total padding puts the extra element after.
    SameUpper,
    /// ONNX `SAME_LOWER`: like [`Padding::SameUpper`], the extra element goes before.
    SameLower,
    /// No padding (`VALID`).
    #[default]
    Valid,
}

impl Padding {
    /// Symmetric padding: `pad[i]` on both sides of axis `i` (PyTorch's
    /// `padding=` argument).
    pub fn symmetric(pad: &[usize]) -> Self {
        Padding::Explicit(pad.iter().map(|&p| [p, p]).collect())
    }

    /// Resolves to explicit `[before, after]` pairs for an input of spatial
    /// size `input`.
    ///
    /// # Errors
    /// [`PoolError::ParamLength`] for an explicit list of the wrong length,
    /// [`PoolError::Tensor`] on arithmetic overflow.
    pub fn resolve(
        &self,
        op: &'static str,
        input: &[usize],
        kernel: &[usize],
        stride: &[usize],
        dilation: &[usize],
    ) -> Result<Vec<[usize; 2]>> {
        let d = input.len();
        match self {
            Padding::Explicit(p) if p.is_empty() => Ok(vec![[0, 0]; d]),
            Padding::Explicit(p) => broadcast(op, "padding", p, d),
            Padding::Valid => Ok(vec![[0, 0]; d]),
            Padding::SameUpper => same_padding(op, input, kernel, stride, dilation, true),
            Padding::SameLower => same_padding(op, input, kernel, stride, dilation, false),
        }
    }
}

/// `SAME` padding for each axis: the output has `ceil(L / stride)`
/// positions and the total padding is `max(0, (out - 1) * stride + eff - L)`
/// with `eff = dilation * (kernel - 1) + 1`; `upper` puts an odd extra
/// element after (`SAME_UPPER`), otherwise before (`SAME_LOWER`).
///
/// ```
/// // ONNX test_maxpool_2d_same_upper: 5x5 input, kernel 3, stride 2 -> pad [1, 1]
/// let p = ops_pool::params::same_padding("demo", &[5], &[3], &[2], &[1], true)?;
/// assert_eq!(p, vec![[1, 1]]);
/// // kernel 2, stride 1 on 4: total 1, upper puts it after
/// assert_eq!(ops_pool::params::same_padding("demo", &[4], &[2], &[1], &[1], true)?, vec![[0, 1]]);
/// assert_eq!(ops_pool::params::same_padding("demo", &[4], &[2], &[1], &[1], false)?, vec![[1, 0]]);
/// # Ok::<(), ops_pool::PoolError>(())
/// ```
///
/// # Errors
/// [`PoolError::ParamLength`] for lists of the wrong length,
/// [`PoolError::InvalidParam`] for zero kernel, stride or dilation or overflow.
pub fn same_padding(
    op: &'static str,
    input: &[usize],
    kernel: &[usize],
    stride: &[usize],
    dilation: &[usize],
    upper: bool,
) -> Result<Vec<[usize; 2]>> {
    let d = input.len();
    let kernel = broadcast(op, "kernel_size", kernel, d)?;
    let stride = broadcast(op, "stride", stride, d)?;
    let dilation = broadcast(op, "dilation", dilation, d)?;
    (0..d)
        .map(|i| {
            let eff = effective_kernel(op, i, kernel[i], dilation[i])?;
            let s = positive(op, "stride", i, stride[i])?;
            let out = input[i].div_ceil(s);
            let need = out
                .saturating_sub(1)
                .checked_mul(s)
                .and_then(|v| v.checked_add(eff))
                .ok_or_else(|| overflow(op, "stride", i, s))?;
            let total = need.saturating_sub(input[i]);
            let small = total / 2;
            Ok(if upper {
                [small, total - small]
            } else {
                [total - small, small]
            })
        })
        .collect()
}

/// Broadcasts a per-axis list to `d` entries (a single entry applies to all axes).
pub(crate) fn broadcast<T: Clone>(
    op: &'static str,
    param: &'static str,
    v: &[T],
    d: usize,
) -> Result<Vec<T>> {
    match v.len() {
        n if n == d => Ok(v.to_vec()),
        1 => Ok(vec![v[0].clone(); d]),
        got => Err(PoolError::ParamLength {
            op,
            param,
            expected: d,
            got,
        }),
    }
}

/// Checks that a per-axis value is at least 1.
pub(crate) fn positive(
    op: &'static str,
    param: &'static str,
    axis: usize,
    v: usize,
) -> Result<usize> {
    if v == 0 {
        Err(PoolError::InvalidParam {
            op,
            param,
            axis,
            value: "0".into(),
            allowed: "it must be at least 1".into(),
        })
    } else {
        Ok(v)
    }
}

fn overflow(op: &'static str, param: &'static str, axis: usize, v: usize) -> PoolError {
    PoolError::InvalidParam {
        op,
        param,
        axis,
        value: v.to_string(),
        allowed: "the window arithmetic overflows usize".into(),
    }
}

/// `dilation * (kernel - 1) + 1`, checked.
pub(crate) fn effective_kernel(
    op: &'static str,
    axis: usize,
    kernel: usize,
    dilation: usize,
) -> Result<usize> {
    positive(op, "kernel_size", axis, kernel)?;
    positive(op, "dilation", axis, dilation)?;
    dilation
        .checked_mul(kernel - 1)
        .and_then(|v| v.checked_add(1))
        .ok_or_else(|| overflow(op, "kernel_size", axis, kernel))
}

/// Parameters of max pooling (`torch.nn.functional.max_pool{1,2,3}d`).
///
/// Defaults: `stride = kernel_size`, no padding, `dilation = 1`,
/// `ceil_mode = false`.
///
/// ```
/// use ops_pool::{MaxPoolParams, Padding};
/// let p = MaxPoolParams::new(&[3, 3]).stride(&[2]).padding(&[1]).ceil_mode(true);
/// assert_eq!(p.padding, Padding::Explicit(vec![[1, 1]]));
/// assert_eq!(p.stride, Some(vec![2]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxPoolParams {
    /// Window size per spatial axis; its length sets the number of spatial axes (1, 2 or 3).
    pub kernel_size: Vec<usize>,
    /// Step between windows; `None` means `kernel_size` (PyTorch's `stride=None`).
    pub stride: Option<Vec<usize>>,
    /// Implicit padding, which acts as minus infinity.
    pub padding: Padding,
    /// Step between taps inside a window.
    pub dilation: Vec<usize>,
    /// Use `ceil` instead of `floor` for the output size.
    pub ceil_mode: bool,
}

impl MaxPoolParams {
    /// Max pooling with window `kernel_size` and PyTorch's defaults otherwise.
    pub fn new(kernel_size: &[usize]) -> Self {
        Self {
            kernel_size: kernel_size.to_vec(),
            stride: None,
            padding: Padding::Valid,
            dilation: vec![1],
            ceil_mode: false,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: &[usize]) -> Self {
        self.stride = Some(stride.to_vec());
        self
    }
    /// Sets symmetric padding (PyTorch's `padding`).
    pub fn padding(mut self, pad: &[usize]) -> Self {
        self.padding = Padding::symmetric(pad);
        self
    }
    /// Sets `[before, after]` padding per axis, or a `SAME` / `VALID` mode.
    pub fn padding_mode(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, dilation: &[usize]) -> Self {
        self.dilation = dilation.to_vec();
        self
    }
    /// Sets `ceil_mode`.
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }
}

/// Parameters of average pooling (`torch.nn.functional.avg_pool{1,2,3}d`).
///
/// Defaults: `stride = kernel_size`, no padding, `ceil_mode = false`,
/// `count_include_pad = true`, no `divisor_override`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvgPoolParams {
    /// Window size per spatial axis; its length sets the number of spatial axes.
    pub kernel_size: Vec<usize>,
    /// Step between windows; `None` means `kernel_size`.
    pub stride: Option<Vec<usize>>,
    /// Implicit zero padding.
    pub padding: Padding,
    /// Use `ceil` instead of `floor` for the output size.
    pub ceil_mode: bool,
    /// Count padded positions (inside `[-before, L + after)`) in the divisor.
    pub count_include_pad: bool,
    /// When set, divide every window sum by this value (non-zero; may be negative, as in PyTorch).
    pub divisor_override: Option<i64>,
}

impl AvgPoolParams {
    /// Average pooling with window `kernel_size` and PyTorch's defaults otherwise.
    pub fn new(kernel_size: &[usize]) -> Self {
        Self {
            kernel_size: kernel_size.to_vec(),
            stride: None,
            padding: Padding::Valid,
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: &[usize]) -> Self {
        self.stride = Some(stride.to_vec());
        self
    }
    /// Sets symmetric padding.
    pub fn padding(mut self, pad: &[usize]) -> Self {
        self.padding = Padding::symmetric(pad);
        self
    }
    /// Sets `[before, after]` padding per axis, or a `SAME` / `VALID` mode.
    pub fn padding_mode(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }
    /// Sets `ceil_mode`.
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }
    /// Sets `count_include_pad`.
    pub fn count_include_pad(mut self, yes: bool) -> Self {
        self.count_include_pad = yes;
        self
    }
    /// Sets `divisor_override`.
    pub fn divisor_override(mut self, divisor: Option<i64>) -> Self {
        self.divisor_override = divisor;
        self
    }
}

/// Parameters of power-average pooling (`torch.nn.functional.lp_pool{1,2}d`):
/// `y = (Σ_window |x|^p)^(1/p)`, padding adding nothing.
///
/// Defaults: `stride = kernel_size`, no padding, `ceil_mode = false`.
#[derive(Clone, Debug, PartialEq)]
pub struct LpPoolParams {
    /// `p`: any positive number, or `f64::INFINITY` for max pooling of `|x|`.
    pub norm_type: f64,
    /// Window size per spatial axis; its length sets the number of spatial axes.
    pub kernel_size: Vec<usize>,
    /// Step between windows; `None` means `kernel_size`.
    pub stride: Option<Vec<usize>>,
    /// Implicit zero padding (PyTorch's `lp_pool` has none; ONNX `LpPool` does).
    pub padding: Padding,
    /// Use `ceil` instead of `floor` for the output size.
    pub ceil_mode: bool,
}

impl LpPoolParams {
    /// Lp pooling of norm `norm_type` with window `kernel_size`.
    pub fn new(norm_type: f64, kernel_size: &[usize]) -> Self {
        Self {
            norm_type,
            kernel_size: kernel_size.to_vec(),
            stride: None,
            padding: Padding::Valid,
            ceil_mode: false,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: &[usize]) -> Self {
        self.stride = Some(stride.to_vec());
        self
    }
    /// Sets symmetric padding.
    pub fn padding(mut self, pad: &[usize]) -> Self {
        self.padding = Padding::symmetric(pad);
        self
    }
    /// Sets `[before, after]` padding per axis, or a `SAME` / `VALID` mode.
    pub fn padding_mode(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }
    /// Sets `ceil_mode`.
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }
}

/// Parameters of max unpooling (`torch.nn.functional.max_unpool{1,2,3}d`).
///
/// The default output size per axis is `(L_in - 1) * stride - before - after + kernel`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxUnpoolParams {
    /// Window size of the max pooling being inverted; its length sets the number of spatial axes.
    pub kernel_size: Vec<usize>,
    /// Its stride; `None` means `kernel_size`.
    pub stride: Option<Vec<usize>>,
    /// Its `[before, after]` padding (empty: none).
    pub padding: Vec<[usize; 2]>,
    /// Spatial size of the result; each entry must lie strictly between
    /// `default - stride` and `default + stride`. `None`: the default.
    pub output_size: Option<Vec<usize>>,
}

impl MaxUnpoolParams {
    /// Unpooling for a max pooling with window `kernel_size`.
    pub fn new(kernel_size: &[usize]) -> Self {
        Self {
            kernel_size: kernel_size.to_vec(),
            stride: None,
            padding: Vec::new(),
            output_size: None,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: &[usize]) -> Self {
        self.stride = Some(stride.to_vec());
        self
    }
    /// Sets symmetric padding.
    pub fn padding(mut self, pad: &[usize]) -> Self {
        self.padding = pad.iter().map(|&p| [p, p]).collect();
        self
    }
    /// Sets `[before, after]` padding per axis.
    pub fn padding_pairs(mut self, pads: &[[usize; 2]]) -> Self {
        self.padding = pads.to_vec();
        self
    }
    /// Sets the spatial output size (PyTorch also accepts the full shape;
    /// pass only the trailing spatial sizes here).
    pub fn output_size(mut self, size: &[usize]) -> Self {
        self.output_size = Some(size.to_vec());
        self
    }
}

/// The output size of fractional max pooling.
#[derive(Clone, Debug, PartialEq)]
pub enum FractionalOutput {
    /// `output_size`: one size per spatial axis (or one for all); 0 gives an
    /// empty output, as in PyTorch.
    Size(Vec<usize>),
    /// `output_ratio`: `O = ⌊L · ratio⌋` per axis (or one ratio for all),
    /// each ratio strictly between 0 and 1.
    Ratio(Vec<f64>),
}

/// Parameters of `F.fractional_max_pool2d/3d`. The number of spatial axes
/// (2 or 3) is the longer of `kernel_size` and the output list; a list of
/// one entry applies to every axis.
#[derive(Clone, Debug, PartialEq)]
pub struct FractionalMaxPoolParams {
    /// Window size per spatial axis.
    pub kernel_size: Vec<usize>,
    /// Output size or ratio.
    pub output: FractionalOutput,
}

impl FractionalMaxPoolParams {
    /// `kernel_size` with an explicit `output_size` (one entry per axis, or
    /// one for all).
    pub fn with_output_size(kernel_size: &[usize], output_size: &[usize]) -> Self {
        Self {
            kernel_size: kernel_size.to_vec(),
            output: FractionalOutput::Size(output_size.to_vec()),
        }
    }

    /// `kernel_size` with an `output_ratio` (one entry per axis, or one for
    /// all).
    pub fn with_output_ratio(kernel_size: &[usize], output_ratio: &[f64]) -> Self {
        Self {
            kernel_size: kernel_size.to_vec(),
            output: FractionalOutput::Ratio(output_ratio.to_vec()),
        }
    }
}
