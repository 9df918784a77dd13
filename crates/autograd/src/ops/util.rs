//! Small helpers shared by the basic ops.

use core_tensor::{Float, Tensor};
use ndarray::{ArrayD, Axis, IxDyn};

use crate::{AutogradError, Result};

/// Maps a possibly negative axis (`-1` = last) into `0..ndim`.
pub(crate) fn normalize_axis(op: &'static str, axis: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n {
        return Err(AutogradError::AxisOutOfRange { op, axis, ndim });
    }
    Ok(a as usize)
}

/// Normalizes a list of axes, rejecting duplicates; sorted ascending.
pub(crate) fn normalize_axes(op: &'static str, axes: &[isize], ndim: usize) -> Result<Vec<usize>> {
    let mut out = axes
        .iter()
        .map(|&a| normalize_axis(op, a, ndim))
        .collect::<Result<Vec<_>>>()?;
    out.sort_unstable();
    let before = out.len();
    out.dedup();
    if out.len() != before {
        return Err(AutogradError::InvalidArgument {
            op,
            param: "axes",
            reason: format!("axis listed twice in {axes:?}"),
        });
    }
    Ok(out)
}

/// Sums `t` down to `shape`, where `t`'s shape is `shape` broadcast to
/// something larger (the reverse of broadcasting).
pub(crate) fn sum_to_shape<F: Float>(t: &Tensor<F>, shape: &[usize]) -> Tensor<F> {
    if t.shape() == shape {
        return t.clone();
    }
    let mut a: ArrayD<F> = t.view().to_owned();
    let extra = a.ndim() - shape.len();
    for _ in 0..extra {
        a = a.sum_axis(Axis(0));
    }
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && a.shape()[i] != 1 {
            a = a.sum_axis(Axis(i)).insert_axis(Axis(i));
        }
    }
    debug_assert_eq!(a.shape(), shape);
    Tensor::from_array(
        a.into_shape_with_order(IxDyn(shape))
            .expect("same element count"),
    )
}

/// Elements per task of the elementwise maps below: a chunk is read and
/// written while it is in L1/L2.
const ELEMENTWISE_CHUNK: usize = 1 << 14;

/// `f` applied to every element of `x`, into a buffer from the cache,
/// chunk by chunk in parallel for large inputs (elementwise, so the result
/// does not depend on the split).
pub(crate) fn map_elements<F: Float>(x: &[F], f: impl Fn(F) -> F + Sync + Send) -> Vec<F> {
    let par = core_tensor::Par::Rayon.for_work(x.len());
    let (out, _) =
        core_tensor::chunks::build_chunks(par, x.len(), ELEMENTWISE_CHUNK, |t, chunk| {
            let src = &x[t * ELEMENTWISE_CHUNK..][..chunk.len()];
            for (o, &v) in chunk.iter_mut().zip(src) {
                o.write(f(v));
            }
            (chunk.len(), ())
        });
    out
}

/// `f(a[i], b[i])` for two slices of one length, as [`map_elements`].
pub(crate) fn zip_elements<F: Float>(
    a: &[F],
    b: &[F],
    f: impl Fn(F, F) -> F + Sync + Send,
) -> Vec<F> {
    debug_assert_eq!(a.len(), b.len());
    let par = core_tensor::Par::Rayon.for_work(a.len());
    let (out, _) =
        core_tensor::chunks::build_chunks(par, a.len(), ELEMENTWISE_CHUNK, |t, chunk| {
            let (sa, sb) = (
                &a[t * ELEMENTWISE_CHUNK..][..chunk.len()],
                &b[t * ELEMENTWISE_CHUNK..][..chunk.len()],
            );
            for ((o, &x), &y) in chunk.iter_mut().zip(sa).zip(sb) {
                o.write(f(x, y));
            }
            (chunk.len(), ())
        });
    out
}
