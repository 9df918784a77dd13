//! Fractional max pooling on [`Var`] (`F.fractional_max_pool2d/3d`):
//! validate the parameters and samples, run the kernel of
//! [`crate::kernels::fractional`], record the op. The output is the input
//! gathered at the indices ([`IndexGather`]), so the backward adds each
//! output gradient at its index, recorded through [`autograd::LinearBackward`].

use std::sync::Arc;

use autograd::{LinearBackward, Var};
use core_tensor::{Float, Par, Tensor};

use crate::error::Result;
use crate::geometry::{FractionalGeometry, UnpoolGeometry};
use crate::kernels::fractional;
use crate::max_unpool::{IndexGather, UnpoolState};
use crate::params::FractionalMaxPoolParams;

/// Fractional max pooling with PyTorch's `i64` indices
/// (`F.fractional_max_pool2d/3d(x, kernel_size, output_size, output_ratio,
/// return_indices=True, _random_samples=samples)`). `samples` has shape
/// `(N, C, D)` (`(1, C, D)` for an unbatched input) with values in
/// `[0, 1)`; PyTorch draws them with `torch.rand` when they are not given,
/// which `nn::FractionalMaxPool2d` does from its own generator.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// use ops_pool::{fractional_max_pool_with_indices, FractionalMaxPoolParams};
///
/// // One 1×5×5 plane, 2×2 windows, 3×3 outputs; samples 0 put the
/// // windows at 0, 1 and 3 on both axes (α = 1.5).
/// let x = Var::leaf(Tensor::from_vec(&[1, 1, 5, 5], (0..25).map(f64::from).collect())?);
/// let u = Tensor::zeros(&[1, 1, 2]);
/// let p = FractionalMaxPoolParams::with_output_size(&[2, 2], &[3, 3]);
/// let (y, idx) = fractional_max_pool_with_indices(&x, &p, &u)?;
/// assert_eq!(idx.as_slice(), &[6, 7, 9, 11, 12, 14, 21, 22, 24]);
/// assert_eq!(y.value().as_slice(), &[6., 7., 9., 11., 12., 14., 21., 22., 24.]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`FractionalGeometry::new`] and [`FractionalGeometry::check_samples`].
pub fn fractional_max_pool_with_indices<F: Float>(
    x: &Var<F>,
    p: &FractionalMaxPoolParams,
    samples: &Tensor<F>,
) -> Result<(Var<F>, Tensor<i64>)> {
    let g = FractionalGeometry::new(&x.shape(), p)?;
    g.check_samples(samples)?;
    let xv = x.value();
    let (y, idx) = fractional::forward(xv.as_slice(), samples, &g, Par::Rayon);
    let out_shape = g.output_shape();
    let idx = Tensor::from_vec(&out_shape, idx)?;
    let y = Tensor::from_vec(&out_shape, y)?;
    let map = IndexGather(UnpoolState {
        idx: idx.clone(),
        geom: UnpoolGeometry::from_shapes(
            g.lead.clone(),
            g.output[3 - g.dims..].to_vec(),
            g.input[3 - g.dims..].to_vec(),
        ),
    });
    let y = Var::from_op(y, vec![x.clone()], LinearBackward::new(g.op, Arc::new(map)));
    Ok((y, idx))
}

/// Fractional max pooling (see [`fractional_max_pool_with_indices`]).
///
/// # Errors
/// As [`fractional_max_pool_with_indices`].
pub fn fractional_max_pool<F: Float>(
    x: &Var<F>,
    p: &FractionalMaxPoolParams,
    samples: &Tensor<F>,
) -> Result<Var<F>> {
    Ok(fractional_max_pool_with_indices(x, p, samples)?.0)
}
