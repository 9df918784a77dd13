//! `im2col` and `col2im` as differentiable ops, each the other's adjoint
//! (one [`LinearMap`]): the convolution's backward pass is built from them
//! when it is itself recorded, so derivatives of every order follow.

use std::sync::Arc;

use autograd::{LinearMap, Var, apply_linear, apply_linear_adjoint};
use core_tensor::alloc::{CachedVec, vec_filled};
use core_tensor::chunks::build_chunks;
use core_tensor::{Float, Par, Tensor};

use crate::ConvGeom;
use crate::kernels::{col2im_tile, im2col_tile, pad_planes, runs, unpad_planes};

/// Unfolds `x` `(n, c, *input)` into `(n, groups, cg * taps, positions)`:
/// row `ci * taps + t` of group `g` of sample `n` holds tap `t` of channel
/// `g * cg + ci` at every output position (zeros in the padding).
pub fn im2col_kernel<F: Float>(x: &[F], geom: &ConvGeom, par: Par) -> Vec<F> {
    let (r, l, plane, cg) = (geom.rows(), geom.positions(), geom.plane(), geom.cg());
    let g3 = geom.as_3d();
    let n = geom.n * geom.groups * r * l;
    if n == 0 {
        return Vec::new();
    }
    let all = runs(&g3, 0, l);
    let source_plane: usize = g3.source_dims().iter().product();
    let (out, _) = build_chunks(par.for_work(n), n, r * l, |ng, block| {
        let xg = &x[ng * cg * plane..][..cg * plane];
        if g3.is_padded() {
            let mut padded: CachedVec<F> = CachedVec::with_capacity(cg * source_plane);
            pad_planes(
                xg,
                cg,
                &g3,
                &mut padded.spare_capacity_mut()[..cg * source_plane],
            );
            // SAFETY: pad_planes writes every element of its output.
            unsafe { padded.set_len(cg * source_plane) };
            im2col_tile(&padded, cg, &g3, &all, l, block);
        } else {
            im2col_tile(xg, cg, &g3, &all, l, block);
        }
        (block.len(), ())
    });
    out
}

/// The adjoint of [`im2col_kernel`]: adds every column element back onto
/// the input element it was read from, giving `(n, c, *input)`.
pub fn col2im_kernel<F: Float>(cols: &[F], geom: &ConvGeom, par: Par) -> Vec<F> {
    let (r, l, plane, cg) = (geom.rows(), geom.positions(), geom.plane(), geom.cg());
    let g3 = geom.as_3d();
    let mut out = vec_filled(geom.n * geom.c * plane, F::zero());
    if out.is_empty() || l == 0 {
        return out;
    }
    let all = runs(&g3, 0, l);
    let source_plane: usize = g3.source_dims().iter().product();
    par.for_work(cols.len())
        .for_each_chunk_mut(&mut out, cg * plane, |ng, block| {
            let c = &cols[ng * r * l..][..r * l];
            if g3.is_padded() {
                let mut padded = CachedVec::filled(cg * source_plane, F::zero());
                col2im_tile(c, cg, &g3, &all, l, &mut padded);
                unpad_planes(&padded, cg, &g3, block);
            } else {
                col2im_tile(c, cg, &g3, &all, l, block);
            }
        });
    out
}

/// Unfolding by a geometry as a linear map: `A` is [`im2col_kernel`], its
/// adjoint [`col2im_kernel`].
struct Unfold(Arc<ConvGeom>);

impl<F: Float> LinearMap<F> for Unfold {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn adjoint_name(&self) -> &'static str {
        "col2im"
    }

    fn apply(&self, x: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        let cols = im2col_kernel(x.as_slice(), &self.0, Par::Rayon);
        Ok(Tensor::from_vec(&self.0.cols_shape(), cols)?)
    }

    fn apply_adjoint(&self, cols: &Tensor<F>) -> autograd::Result<Tensor<F>> {
        let x = col2im_kernel(cols.as_slice(), &self.0, Par::Rayon);
        Ok(Tensor::from_vec(&self.0.input_shape(), x)?)
    }
}

/// Differentiable [`im2col_kernel`] of `x` `(n, c, *input)`.
pub(crate) fn im2col<F: Float>(x: &Var<F>, geom: &Arc<ConvGeom>) -> Var<F> {
    apply_linear(x, &Arc::new(Unfold(Arc::clone(geom)))).expect("the geometry sizes the columns")
}

/// Differentiable [`col2im_kernel`] of `cols` `(n, groups, cg * taps, positions)`.
pub(crate) fn col2im<F: Float>(cols: &Var<F>, geom: &Arc<ConvGeom>) -> Var<F> {
    apply_linear_adjoint(cols, &Arc::new(Unfold(Arc::clone(geom))))
        .expect("the geometry sizes the input")
}
