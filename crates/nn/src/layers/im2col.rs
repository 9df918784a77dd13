//! `im2col` / `col2im`: the window unfolding that turns a convolution into
//! one matrix product per group, as a pair of differentiable ops (each is
//! the other's adjoint, so every order of derivative is available).

use std::sync::Arc;

use autograd::{AutogradError, Backward, BackwardCtx, Var};
use core_tensor::window::{WindowAxis, pad_constant, window_view};
use core_tensor::{Float, Par, Tensor};
use ndarray::{ArrayViewD, ArrayViewMutD, Axis, Dimension, Ix2, Ix4, Ix6, IxDyn};

use crate::Result;

/// Input, output, kernel, stride, padding and dilation on three axes.
type Geom3d = [[usize; 3]; 6];

/// The geometry of one convolution call, with `d` spatial axes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Number of groups (`c % groups == 0`).
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
    /// Builds the geometry of an `(n, c, *input)` tensor and computes the
    /// output size with PyTorch's convolution formula
    /// `floor((L + 2p - d(k-1) - 1) / s) + 1`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        op: &'static str,
        n: usize,
        c: usize,
        groups: usize,
        input: &[usize],
        kernel: &[usize],
        stride: &[usize],
        padding: &[[usize; 2]],
        dilation: &[usize],
    ) -> Result<Self> {
        let output = input
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                WindowAxis {
                    kernel: kernel[i],
                    stride: stride[i],
                    dilation: dilation[i],
                    pad_before: padding[i][0],
                    pad_after: padding[i][1],
                }
                .output_len(op, i, len, false)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Self {
            n,
            c,
            groups,
            input: input.to_vec(),
            output,
            kernel: kernel.to_vec(),
            stride: stride.to_vec(),
            padding: padding.to_vec(),
            dilation: dilation.to_vec(),
        })
    }

    fn d(&self) -> usize {
        self.input.len()
    }

    /// Channels per group.
    pub(crate) fn cg(&self) -> usize {
        self.c / self.groups
    }

    /// Taps per kernel.
    pub(crate) fn taps(&self) -> usize {
        self.kernel.iter().product()
    }

    /// Output positions per sample.
    pub(crate) fn positions(&self) -> usize {
        self.output.iter().product()
    }

    /// Rows of one group's column matrix: `cg * taps`.
    pub(crate) fn rows(&self) -> usize {
        self.cg() * self.taps()
    }

    /// The shape of the column tensor, `(n, groups, cg * taps, positions)`.
    pub(crate) fn cols_shape(&self) -> [usize; 4] {
        [self.n, self.groups, self.rows(), self.positions()]
    }

    /// The shape of the input, `(n, c, *input)`.
    pub(crate) fn input_shape(&self) -> Vec<usize> {
        let mut s = vec![self.n, self.c];
        s.extend_from_slice(&self.input);
        s
    }

    /// The geometry padded to three spatial axes with unit leading axes
    /// (of the padding, the zeros before the input: those after it only
    /// bound the output size, already worked out).
    fn as_3d(&self) -> Geom3d {
        let lift = |v: &[usize], fill: usize| {
            let mut a = [fill; 3];
            a[3 - v.len()..].copy_from_slice(v);
            a
        };
        let before: Vec<usize> = self.padding.iter().map(|p| p[0]).collect();
        [
            lift(&self.input, 1),
            lift(&self.output, 1),
            lift(&self.kernel, 1),
            lift(&self.stride, 1),
            lift(&before, 0),
            lift(&self.dilation, 1),
        ]
    }
}

/// Unfolds `x` `(n, c, *input)` into `(n, groups, cg * taps, positions)`:
/// row `ci * taps + t` of group `g` of sample `b` holds tap `t` of channel
/// `g * cg + ci` at every output position. Built on the zero-copy
/// [`window_view`] of the zero-padded input; parallel over `(n, c)` planes.
pub(crate) fn im2col_kernel<F: Float>(
    x: &Tensor<F>,
    geom: &ConvGeom,
    par: Par,
) -> Result<Tensor<F>> {
    let d = geom.d();
    let padded = pad_constant(x.view(), &geom.padding, F::zero())?;
    // (n, c, *output, *kernel)
    let windows = window_view(padded.view(), &geom.kernel, &geom.stride, &geom.dilation)?;
    let per_plane = geom.taps() * geom.positions();
    let mut out = vec![F::zero(); geom.n * geom.c * per_plane];
    if out.is_empty() {
        return Ok(Tensor::from_vec(&geom.cols_shape(), out)?);
    }
    // Per (n, c): (*output, *kernel) -> (*kernel, *output).
    let mut perm: Vec<usize> = (d..2 * d).collect();
    perm.extend(0..d);
    let mut dst_shape: Vec<usize> = geom.kernel.clone();
    dst_shape.extend_from_slice(&geom.output);
    par.for_work(out.len())
        .for_each_chunk_mut(&mut out, per_plane, |nc, chunk| {
            let src = windows
                .index_axis(Axis(0), nc / geom.c)
                .index_axis_move(Axis(0), nc % geom.c)
                .permuted_axes(IxDyn(&perm));
            let dst = ArrayViewMutD::from_shape(IxDyn(&dst_shape), chunk)
                .expect("chunk holds taps * positions elements");
            // Fixed-rank views copy faster than dynamic-rank ones.
            match d {
                1 => assign_fixed::<F, Ix2>(dst, src),
                2 => assign_fixed::<F, Ix4>(dst, src),
                3 => assign_fixed::<F, Ix6>(dst, src),
                _ => {
                    let mut dst = dst;
                    dst.assign(&src);
                }
            }
        });
    Ok(Tensor::from_vec(&geom.cols_shape(), out)?)
}

/// `dst.assign(&src)` after converting both views to the fixed rank `D`.
fn assign_fixed<F: Float, D: Dimension>(dst: ArrayViewMutD<'_, F>, src: ArrayViewD<'_, F>) {
    let mut dst = dst
        .into_dimensionality::<D>()
        .expect("the rank is 2·d for d spatial axes");
    let src = src
        .into_dimensionality::<D>()
        .expect("the rank is 2·d for d spatial axes");
    dst.assign(&src);
}

/// The adjoint of [`im2col_kernel`]: scatters-adds a column tensor back
/// onto an `(n, c, *input)` tensor (overlapping windows accumulate,
/// padding taps are dropped). Parallel over `(n, c)` planes.
pub(crate) fn col2im_kernel<F: Float>(cols: &Tensor<F>, geom: &ConvGeom, par: Par) -> Tensor<F> {
    let [
        [id, ih, iw],
        [od, oh, ow],
        [kd, kh, kw],
        [sd, sh, sw],
        [pd, ph, pw],
        [dd, dh, dw],
    ] = geom.as_3d();
    let plane = id * ih * iw;
    let taps = geom.taps();
    let positions = geom.positions();
    let n = geom.n;
    let src = cols.as_slice();
    let mut out = vec![F::zero(); n * geom.c * plane];
    if plane == 0 || out.is_empty() {
        return Tensor::from_vec(&geom.input_shape(), out).expect("shape matches");
    }
    // Input coordinate of output index `o` and tap `k` on one axis, if it
    // falls inside the (unpadded) input.
    let coord = |o: usize, k: usize, s: usize, dil: usize, p: usize, len: usize| -> Option<usize> {
        (o * s + k * dil).checked_sub(p).filter(|&i| i < len)
    };
    par.for_work(out.len() * taps)
        .for_each_chunk_mut(&mut out, plane, |nc, dst| {
            let (b, c) = (nc / geom.c, nc % geom.c);
            for a in 0..kd {
                for bb in 0..kh {
                    for e in 0..kw {
                        let t = (a * kh + bb) * kw + e;
                        let row = ((b * geom.c + c) * taps + t) * positions;
                        for z in 0..od {
                            let Some(iz) = coord(z, a, sd, dd, pd, id) else {
                                continue;
                            };
                            for y in 0..oh {
                                let Some(iy) = coord(y, bb, sh, dh, ph, ih) else {
                                    continue;
                                };
                                let src_row = &src[row + (z * oh + y) * ow..][..ow];
                                let dst_row = &mut dst[(iz * ih + iy) * iw..][..iw];
                                for (x, &v) in src_row.iter().enumerate() {
                                    if let Some(ix) = coord(x, e, sw, dw, pw, iw) {
                                        dst_row[ix] += v;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        });
    Tensor::from_vec(&geom.input_shape(), out).expect("shape matches")
}

struct Im2ColBackward {
    geom: Arc<ConvGeom>,
}

impl<F: Float> Backward<F> for Im2ColBackward {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(col2im(ctx.grad_output, &self.geom))])
    }
}

struct Col2ImBackward {
    geom: Arc<ConvGeom>,
}

impl<F: Float> Backward<F> for Col2ImBackward {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let g = im2col(ctx.grad_output, &self.geom).map_err(|e| AutogradError::op("col2im", e))?;
        Ok(vec![Some(g)])
    }
}

/// Differentiable [`im2col_kernel`].
pub(crate) fn im2col<F: Float>(x: &Var<F>, geom: &Arc<ConvGeom>) -> Result<Var<F>> {
    let cols = im2col_kernel(&x.value(), geom, Par::Rayon)?;
    Ok(Var::from_op(
        cols,
        vec![x.clone()],
        Im2ColBackward {
            geom: Arc::clone(geom),
        },
    ))
}

/// Differentiable [`col2im_kernel`].
pub(crate) fn col2im<F: Float>(cols: &Var<F>, geom: &Arc<ConvGeom>) -> Var<F> {
    let x = col2im_kernel(&cols.value(), geom, Par::Rayon);
    Var::from_op(
        x,
        vec![cols.clone()],
        Col2ImBackward {
            geom: Arc::clone(geom),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Rng;

    fn geom2d() -> ConvGeom {
        ConvGeom::new(
            "t",
            2,
            4,
            2,
            &[5, 6],
            &[3, 2],
            &[2, 1],
            &[[1, 1], [0, 0]],
            &[1, 2],
        )
        .unwrap()
    }

    #[test]
    fn im2col_picks_the_right_taps() {
        // 1 sample, 1 channel, 3x3 input, 2x2 kernel, stride 1, no padding.
        let x = Tensor::from_vec(&[1, 1, 3, 3], (0..9).map(f64::from).collect()).unwrap();
        let g = ConvGeom::new(
            "t",
            1,
            1,
            1,
            &[3, 3],
            &[2, 2],
            &[1, 1],
            &[[0, 0], [0, 0]],
            &[1, 1],
        )
        .unwrap();
        let cols = im2col_kernel(&x, &g, Par::Seq).unwrap();
        assert_eq!(cols.shape(), &[1, 1, 4, 4]);
        // Row t = tap (a, b); columns = output positions (0,0),(0,1),(1,0),(1,1).
        assert_eq!(
            cols.as_slice(),
            &[
                0., 1., 3., 4., 1., 2., 4., 5., 3., 4., 6., 7., 4., 5., 7., 8.
            ]
        );
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> == <x, col2im(c)> for random x, c.
        let g = geom2d();
        let mut rng = Rng::new(3);
        let xs = g.input_shape();
        let x = Tensor::<f64>::from_f64s(&xs, &rng.uniform_vec(xs.iter().product(), -1.0, 1.0))
            .unwrap();
        let cs = g.cols_shape();
        let c = Tensor::<f64>::from_f64s(&cs, &rng.uniform_vec(cs.iter().product(), -1.0, 1.0))
            .unwrap();
        let ic = im2col_kernel(&x, &g, Par::Seq).unwrap();
        let ci = col2im_kernel(&c, &g, Par::Rayon);
        let lhs: f64 = ic
            .as_slice()
            .iter()
            .zip(c.as_slice())
            .map(|(a, b)| a * b)
            .sum();
        let rhs: f64 = x
            .as_slice()
            .iter()
            .zip(ci.as_slice())
            .map(|(a, b)| a * b)
            .sum();
        assert!((lhs - rhs).abs() < 1e-12, "{lhs} vs {rhs}");
        let seq = col2im_kernel(&c, &g, Par::Seq);
        assert_eq!(seq.as_slice(), ci.as_slice());
    }
}
