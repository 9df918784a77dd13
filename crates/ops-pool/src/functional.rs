//! The user-facing functional API on [`Var`], mirroring
//! `torch.nn.functional`. Each function validates its parameters (typed
//! [`PoolError`], never a panic), runs the forward kernel and records an op
//! whose backward calls the backward kernel.

use std::sync::Arc;

use autograd::Var;
use core_tensor::{Float, Par, Tensor};

use crate::avg::{self, Divisor};
use crate::error::{PoolError, Result};
use crate::geometry::{Geometry, WindowSpec};
use crate::lp::{self, LpPoolFn};
use crate::max::{self, MaxPoolFn};
use crate::max_values;
use crate::params::{AvgPoolParams, LpPoolParams, MaxPoolParams, MaxUnpoolParams};
use crate::unpool::{self, UnpoolFn, UnpoolGeometry, UnpoolState};

fn name(base: &str, dims: usize) -> &'static str {
    match (base, dims) {
        ("max", 1) => "max_pool1d",
        ("max", 2) => "max_pool2d",
        ("max", 3) => "max_pool3d",
        ("avg", 1) => "avg_pool1d",
        ("avg", 2) => "avg_pool2d",
        ("avg", 3) => "avg_pool3d",
        ("lp", 1) => "lp_pool1d",
        ("lp", 2) => "lp_pool2d",
        ("lp", 3) => "lp_pool3d",
        ("amax", 1) => "adaptive_max_pool1d",
        ("amax", 2) => "adaptive_max_pool2d",
        ("amax", 3) => "adaptive_max_pool3d",
        ("aavg", 1) => "adaptive_avg_pool1d",
        ("aavg", 2) => "adaptive_avg_pool2d",
        ("aavg", 3) => "adaptive_avg_pool3d",
        ("unpool", 1) => "max_unpool1d",
        ("unpool", 2) => "max_unpool2d",
        ("unpool", 3) => "max_unpool3d",
        ("max", _) => "max_pool",
        ("avg", _) => "avg_pool",
        ("lp", _) => "lp_pool",
        ("amax", _) => "adaptive_max_pool",
        ("aavg", _) => "adaptive_avg_pool",
        _ => "max_unpool",
    }
}

fn spatial_of(op: &'static str, shape: &[usize], dims: usize) -> Result<Vec<usize>> {
    Ok(crate::geometry::split_input(op, shape, dims)?.1)
}

impl MaxPoolParams {
    /// Resolves these parameters for an input of shape `input_shape`
    /// (`(N, C, *spatial)` or `(C, *spatial)`), for direct kernel use.
    ///
    /// # Errors
    /// Every invalid parameter, as a [`PoolError`].
    pub fn geometry(&self, input_shape: &[usize]) -> Result<Geometry> {
        let op = name("max", self.kernel_size.len());
        let spatial = spatial_of(op, input_shape, self.kernel_size.len())?;
        let spec = WindowSpec::resolve(
            op,
            &spatial,
            &self.kernel_size,
            self.stride.as_deref(),
            &self.dilation,
            &self.padding,
            self.ceil_mode,
        )?;
        Geometry::pool(op, input_shape, &spec, true)
    }
}

impl AvgPoolParams {
    /// Resolves these parameters for an input of shape `input_shape`.
    ///
    /// # Errors
    /// Every invalid parameter, as a [`PoolError`].
    pub fn geometry(&self, input_shape: &[usize]) -> Result<Geometry> {
        let op = name("avg", self.kernel_size.len());
        let spatial = spatial_of(op, input_shape, self.kernel_size.len())?;
        let spec = WindowSpec::resolve(
            op,
            &spatial,
            &self.kernel_size,
            self.stride.as_deref(),
            &[],
            &self.padding,
            self.ceil_mode,
        )?;
        Geometry::pool(op, input_shape, &spec, false)
    }

    /// The divisor rule these parameters select.
    ///
    /// # Errors
    /// [`PoolError::InvalidScalar`] for `divisor_override = Some(0)`.
    pub fn divisor(&self) -> Result<Divisor> {
        match self.divisor_override {
            Some(0) => Err(PoolError::InvalidScalar {
                op: name("avg", self.kernel_size.len()),
                param: "divisor_override",
                value: "0".into(),
                allowed: "it must be non-zero".into(),
            }),
            Some(d) => Ok(Divisor::Override(d)),
            None if self.count_include_pad => Ok(Divisor::IncludePad),
            None => Ok(Divisor::InBounds),
        }
    }
}

impl LpPoolParams {
    /// Resolves these parameters for an input of shape `input_shape`.
    ///
    /// # Errors
    /// Every invalid parameter, as a [`PoolError`].
    pub fn geometry(&self, input_shape: &[usize]) -> Result<Geometry> {
        let op = name("lp", self.kernel_size.len());
        self.check_norm(op)?;
        let spatial = spatial_of(op, input_shape, self.kernel_size.len())?;
        let spec = WindowSpec::resolve(
            op,
            &spatial,
            &self.kernel_size,
            self.stride.as_deref(),
            &[],
            &self.padding,
            self.ceil_mode,
        )?;
        Geometry::pool(op, input_shape, &spec, false)
    }

    fn check_norm(&self, op: &'static str) -> Result<()> {
        let p = self.norm_type;
        if p.is_nan() || p <= 0.0 {
            return Err(PoolError::InvalidScalar {
                op,
                param: "norm_type",
                value: p.to_string(),
                allowed: "it must be positive (or +infinity for max pooling of |x|)".into(),
            });
        }
        Ok(())
    }
}

impl Geometry {
    /// Geometry of adaptive pooling of an input of shape `input_shape` to
    /// `output_size` (`None` keeps an axis), for direct kernel use.
    ///
    /// # Errors
    /// Rank errors and zero output sizes, as [`PoolError`].
    pub fn adaptive_for(
        op: &'static str,
        input_shape: &[usize],
        output_size: &[Option<usize>],
    ) -> Result<Geometry> {
        Geometry::adaptive(op, input_shape, output_size)
    }
}

fn to_var<F: Clone>(shape: &[usize], data: Vec<F>) -> Result<Tensor<F>> {
    Ok(Tensor::from_vec(shape, data)?)
}

fn max_with_geom<F: Float>(x: &Var<F>, geom: Geometry) -> Result<(Var<F>, Arc<crate::ArgMax>)> {
    let geom = Arc::new(geom);
    let (y, argmax) = max::forward(x.value().as_slice(), &geom, Par::Rayon);
    let argmax = Arc::new(argmax);
    let y = to_var(&geom.output_shape(), y)?;
    let op = geom.op;
    Ok((
        Var::from_op(
            y,
            vec![x.clone()],
            MaxPoolFn {
                argmax: Arc::clone(&argmax),
                name: op,
            },
        ),
        argmax,
    ))
}

/// Max pooling over the trailing `kernel_size.len()` axes of `x`
/// (`F.max_pool{1,2,3}d`): `y[o] = max over the window of o`, padding acting
/// as minus infinity, first maximum winning ties, NaN propagating.
///
/// `x` is `(N, C, *spatial)` or `(C, *spatial)`. Backward routes each
/// output gradient to its argmax (kept as a 1-byte in-window offset for
/// windows of up to 256 taps).
///
/// # Errors
/// [`PoolError`] for a wrong rank, empty axes, zero kernel/stride/dilation,
/// padding of at least the effective kernel, an empty output or a window
/// lying entirely in padding.
///
/// When no gradient will be recorded (`x` does not require grad, or grad
/// mode is off), the values-only kernel [`max_values::forward`] runs and no
/// argmax is kept, as PyTorch's forward under `torch.no_grad()`; the values
/// are bit for bit those of the recording path.
pub fn max_pool<F: Float>(x: &Var<F>, p: &MaxPoolParams) -> Result<Var<F>> {
    let geom = p.geometry(&x.shape())?;
    max_values_or_op(x, geom)
}

/// The max pooling output without indices: values only when no gradient
/// is recorded, otherwise the argmax kernel and its op.
fn max_values_or_op<F: Float>(x: &Var<F>, geom: Geometry) -> Result<Var<F>> {
    if x.requires_grad() && autograd::is_grad_enabled() {
        return Ok(max_with_geom(x, geom)?.0);
    }
    let y = max_values::forward(x.value().as_slice(), &geom, Par::Rayon);
    Ok(Var::constant(to_var(&geom.output_shape(), y)?))
}

/// [`max_pool`] that also returns PyTorch's indices (`return_indices=True`):
/// for each output, the flat index of the chosen element in its unpadded
/// `(N, C)` input plane, as `i64`.
///
/// # Errors
/// As [`max_pool`].
pub fn max_pool_with_indices<F: Float>(
    x: &Var<F>,
    p: &MaxPoolParams,
) -> Result<(Var<F>, Tensor<i64>)> {
    let geom = p.geometry(&x.shape())?;
    let (y, argmax) = max_with_geom(x, geom)?;
    let idx = to_var(&y.shape(), argmax.to_indices())?;
    Ok((y, idx))
}

/// Average pooling (`F.avg_pool{1,2,3}d`): window sum divided by the
/// window positions inside `[-before, L + after)` (`count_include_pad`),
/// by the positions inside the input (otherwise), or by `divisor_override`.
///
/// # Errors
/// [`PoolError`] for invalid shapes or parameters, `divisor_override = 0`.
pub fn avg_pool<F: Float>(x: &Var<F>, p: &AvgPoolParams) -> Result<Var<F>> {
    let div = p.divisor()?;
    let geom = Arc::new(p.geometry(&x.shape())?);
    Ok(avg::forward_op(x, &geom, div)?)
}

/// Lp pooling (`F.lp_pool{1,2}d`, also 3-d): `y = (Σ_window |x|^p)^(1/p)`;
/// `norm_type = +inf` is max pooling of `|x|`.
///
/// Note: PyTorch pools `x^p` without the absolute value (NaN for odd `p` on
/// negative sums) and rescales ceil-mode windows that run past the end;
/// this follows FORMAT.md (and ONNX), equal to PyTorch for `x >= 0` and
/// full windows.
///
/// # Errors
/// [`PoolError`] for invalid shapes or parameters, `norm_type` NaN or not positive.
pub fn lp_pool<F: Float>(x: &Var<F>, p: &LpPoolParams) -> Result<Var<F>> {
    let op = name("lp", p.kernel_size.len());
    p.check_norm(op)?;
    if p.norm_type.is_infinite() {
        let mp = MaxPoolParams {
            kernel_size: p.kernel_size.clone(),
            stride: p.stride.clone(),
            padding: p.padding.clone(),
            dilation: vec![1],
            ceil_mode: p.ceil_mode,
        };
        return max_pool(&x.abs(), &mp);
    }
    let geom = Arc::new(p.geometry(&x.shape())?);
    let y = lp::forward(x.value().as_slice(), &geom, p.norm_type, Par::Rayon);
    let y = to_var(&geom.output_shape(), y)?;
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        LpPoolFn {
            geom,
            p: p.norm_type,
        },
    ))
}

/// Adaptive average pooling (`F.adaptive_avg_pool{1,2,3}d`): output
/// position `o` of an axis of length `L` averages `[floor(o·L/O), ceil((o+1)·L/O))`.
/// `output_size` has one entry per spatial axis; `None` keeps that axis.
///
/// # Errors
/// [`PoolError`] for a wrong rank, empty axes or a zero output size.
pub fn adaptive_avg_pool<F: Float>(x: &Var<F>, output_size: &[Option<usize>]) -> Result<Var<F>> {
    let geom = Arc::new(Geometry::adaptive(
        name("aavg", output_size.len()),
        &x.shape(),
        output_size,
    )?);
    Ok(avg::forward_op(x, &geom, Divisor::InBounds)?)
}

/// Adaptive max pooling (`F.adaptive_max_pool{1,2,3}d`), windows as in
/// [`adaptive_avg_pool`], ties and NaN as in [`max_pool`].
///
/// # Errors
/// As [`adaptive_avg_pool`].
///
/// Without recorded gradient it runs the values-only kernel, as [`max_pool`].
pub fn adaptive_max_pool<F: Float>(x: &Var<F>, output_size: &[Option<usize>]) -> Result<Var<F>> {
    let geom = Geometry::adaptive(name("amax", output_size.len()), &x.shape(), output_size)?;
    max_values_or_op(x, geom)
}

/// [`adaptive_max_pool`] with PyTorch's `i64` indices (`return_indices=True`).
///
/// # Errors
/// As [`adaptive_avg_pool`].
pub fn adaptive_max_pool_with_indices<F: Float>(
    x: &Var<F>,
    output_size: &[Option<usize>],
) -> Result<(Var<F>, Tensor<i64>)> {
    let geom = Geometry::adaptive(name("amax", output_size.len()), &x.shape(), output_size)?;
    let (y, argmax) = max_with_geom(x, geom)?;
    let idx = to_var(&y.shape(), argmax.to_indices())?;
    Ok((y, idx))
}

/// Global average pooling over the trailing `dims` axes (adaptive average
/// pooling to size 1, PyTorch's `AdaptiveAvgPool2d(1)` for `dims = 2`).
///
/// # Errors
/// As [`adaptive_avg_pool`].
pub fn global_avg_pool<F: Float>(x: &Var<F>, dims: usize) -> Result<Var<F>> {
    adaptive_avg_pool(x, &vec![Some(1); dims])
}

/// Global max pooling over the trailing `dims` axes (adaptive max pooling to size 1).
///
/// # Errors
/// As [`adaptive_avg_pool`].
pub fn global_max_pool<F: Float>(x: &Var<F>, dims: usize) -> Result<Var<F>> {
    adaptive_max_pool(x, &vec![Some(1); dims])
}

/// Max unpooling (`F.max_unpool{1,2,3}d`): a zero tensor of the output
/// size with `x[i]` written at `indices[i]` inside its `(N, C)` plane.
///
/// # Errors
/// [`PoolError`] for invalid shapes or parameters, an `output_size` outside
/// `(default - stride, default + stride)`, indices of another shape than `x`
/// or outside the output plane.
pub fn max_unpool<F: Float>(
    x: &Var<F>,
    indices: &Tensor<i64>,
    p: &MaxUnpoolParams,
) -> Result<Var<F>> {
    let op = name("unpool", p.kernel_size.len());
    if !(1..=3).contains(&p.kernel_size.len()) {
        return Err(PoolError::SpatialDims {
            op,
            param: "kernel_size",
            got: p.kernel_size.len(),
        });
    }
    let geom = UnpoolGeometry::new(op, &x.shape(), p)?;
    geom.validate(op, indices)?;
    let y = unpool::forward(x.value().as_slice(), indices.as_slice(), &geom, Par::Rayon);
    let y = to_var(&geom.output_shape(), y)?;
    let state = Arc::new(UnpoolState {
        idx: indices.clone(),
        geom,
    });
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        UnpoolFn { state, name: op },
    ))
}
