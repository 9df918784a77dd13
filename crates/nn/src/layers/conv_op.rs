//! The fused convolution op: `im2col` then one matrix product per sample
//! and group written straight into the `(N, C_out, *out)` layout, with a
//! backward made of matrix products and `col2im`.
//!
//! First-order backward runs the fused kernels on slices. When the
//! backward pass is recorded (`create_graph`), the same gradients are
//! built from differentiable ops (`im2col` / `col2im` ops, batched
//! `matmul`, `sum`), so second and higher derivatives follow.

use std::sync::Arc;

use autograd::{AutogradError, Backward, BackwardCtx, Var};
use core_tensor::{Float, Par, Tensor};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::im2col::{ConvGeom, col2im, col2im_kernel, im2col, im2col_kernel};
use crate::Result;

/// `(rows, cols)` view of a row-major slice.
fn mat<F>(s: &[F], rows: usize, cols: usize) -> ArrayView2<'_, F> {
    ArrayView2::from_shape((rows, cols), s).expect("slice holds rows * cols elements")
}

fn mat_mut<F>(s: &mut [F], rows: usize, cols: usize) -> ArrayViewMut2<'_, F> {
    ArrayViewMut2::from_shape((rows, cols), s).expect("slice holds rows * cols elements")
}

/// `y[n, g] = W[g] · cols[n, g]` (+ bias), `y` `(N, C_out, L)`.
fn forward_kernel<F: Float>(
    cols: &[F],
    w: &[F],
    b: Option<&[F]>,
    geom: &ConvGeom,
    cout: usize,
) -> Vec<F> {
    let (g, r, l) = (geom.groups, geom.rows(), geom.positions());
    let cog = cout / g;
    let mut y = vec![F::zero(); geom.n * cout * l];
    if y.is_empty() {
        return y;
    }
    let work = geom.n * cout * l * r.max(1);
    Par::Rayon
        .for_work(work)
        .for_each_chunk_mut(&mut y, cout * l, |n, yn| {
            for gi in 0..g {
                let a = mat(&w[gi * cog * r..(gi + 1) * cog * r], cog, r);
                let bm = mat(&cols[(n * g + gi) * r * l..(n * g + gi + 1) * r * l], r, l);
                let mut c = mat_mut(&mut yn[gi * cog * l..(gi + 1) * cog * l], cog, l);
                general_mat_mul(F::one(), &a, &bm, F::zero(), &mut c);
            }
            if let Some(b) = b {
                for (o, row) in yn.chunks_mut(l).enumerate() {
                    row.iter_mut().for_each(|v| *v += b[o]);
                }
            }
        });
    y
}

struct ConvBackward<F: Float> {
    geom: Arc<ConvGeom>,
    /// The unfolded input, `(N, G, R, L)`.
    cols: Tensor<F>,
    cout: usize,
    weight_shape: Vec<usize>,
}

impl<F: Float> ConvBackward<F> {
    /// Fused first-order gradients on slices.
    fn fused(
        &self,
        g: &Tensor<F>,
        w: &Tensor<F>,
        needs: &[bool],
    ) -> autograd::Result<Vec<Option<Var<F>>>> {
        let geom = &*self.geom;
        let (groups, r, l, n) = (geom.groups, geom.rows(), geom.positions(), geom.n);
        let cog = self.cout / groups;
        let (gs, ws, cs) = (g.as_slice(), w.as_slice(), self.cols.as_slice());
        let mut out = Vec::with_capacity(needs.len());
        // dX = col2im(W[g]ᵀ · dY[n, g])
        out.push(if needs[0] {
            let mut dcols = vec![F::zero(); n * groups * r * l];
            if !dcols.is_empty() {
                Par::Rayon.for_work(dcols.len() * cog).for_each_chunk_mut(
                    &mut dcols,
                    r * l,
                    |ng, chunk| {
                        let gi = ng % groups;
                        let wt = mat(&ws[gi * cog * r..(gi + 1) * cog * r], cog, r);
                        let gy = mat(&gs[(ng * cog) * l..(ng * cog + cog) * l], cog, l);
                        general_mat_mul(
                            F::one(),
                            &wt.t(),
                            &gy,
                            F::zero(),
                            &mut mat_mut(chunk, r, l),
                        );
                    },
                );
            }
            let dcols = Tensor::from_vec(&geom.cols_shape(), dcols)?;
            Some(Var::constant(col2im_kernel(&dcols, geom, Par::Rayon)))
        } else {
            None
        });
        // dW[g] = Σ_n dY[n, g] · cols[n, g]ᵀ, partial sums per rayon task.
        out.push(if needs[1] {
            let size = self.cout * r;
            let dw = (0..n)
                .into_par_iter()
                .fold(
                    || vec![F::zero(); size],
                    |mut acc, s| {
                        for gi in 0..groups {
                            let gy = mat(
                                &gs[((s * groups + gi) * cog) * l
                                    ..((s * groups + gi) * cog + cog) * l],
                                cog,
                                l,
                            );
                            let cm = mat(
                                &cs[(s * groups + gi) * r * l..(s * groups + gi + 1) * r * l],
                                r,
                                l,
                            );
                            let mut dst =
                                mat_mut(&mut acc[gi * cog * r..(gi + 1) * cog * r], cog, r);
                            general_mat_mul(F::one(), &gy, &cm.t(), F::one(), &mut dst);
                        }
                        acc
                    },
                )
                .reduce(
                    || vec![F::zero(); size],
                    |mut a, b| {
                        a.iter_mut().zip(&b).for_each(|(x, y)| *x += *y);
                        a
                    },
                );
            Some(Var::constant(Tensor::from_vec(&self.weight_shape, dw)?))
        } else {
            None
        });
        // db[o] = Σ_{n, p} dY[n, o, p]
        if needs.len() > 2 {
            out.push(if needs[2] {
                let mut db = vec![F::zero(); self.cout];
                for (i, row) in gs.chunks(l.max(1)).enumerate() {
                    db[i % self.cout] += row.iter().copied().sum::<F>();
                }
                Some(Var::constant(Tensor::from_vec(&[self.cout], db)?))
            } else {
                None
            });
        }
        Ok(out)
    }

    /// The same gradients from differentiable ops (for `create_graph`).
    fn composed(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        let geom = &self.geom;
        let (groups, r, l, n) = (geom.groups, geom.rows(), geom.positions(), geom.n);
        let cog = self.cout / groups;
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
            let cols = im2col(x, geom).map_err(|e| AutogradError::op("conv", e))?;
            let dw = g4.matmul(&cols.transpose(-1, -2)?)?.sum(&[0], false)?;
            Some(dw.reshape(&self.weight_shape)?)
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

impl<F: Float> Backward<F> for ConvBackward<F> {
    fn name(&self) -> &'static str {
        "conv"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if ctx.create_graph {
            self.composed(ctx)
        } else {
            self.fused(
                &ctx.grad_output.value(),
                &ctx.inputs[1].value(),
                ctx.needs_grad,
            )
        }
    }
}

/// The convolution op on a checked geometry: `x` `(N, C, *in)`, `weight`
/// `(C_out, C / groups, *kernel)`, optional `bias` `(C_out)`.
pub(crate) fn conv_op<F: Float>(
    x: &Var<F>,
    weight: &Var<F>,
    bias: Option<&Var<F>>,
    geom: Arc<ConvGeom>,
) -> Result<Var<F>> {
    let weight_shape = weight.shape();
    let cout = weight_shape[0];
    let cols = im2col_kernel(&x.value(), &geom, Par::Rayon)?;
    let wv = weight.value();
    let bv = bias.map(Var::value);
    let y = forward_kernel(
        cols.as_slice(),
        wv.as_slice(),
        bv.as_ref().map(Tensor::as_slice),
        &geom,
        cout,
    );
    let mut out_shape = vec![geom.n, cout];
    out_shape.extend_from_slice(&geom.output);
    let y = Tensor::from_vec(&out_shape, y)?;
    let mut inputs = vec![x.clone(), weight.clone()];
    inputs.extend(bias.cloned());
    Ok(Var::from_op(
        y,
        inputs,
        ConvBackward {
            geom,
            cols,
            cout,
            weight_shape,
        },
    ))
}
