//! Resolved window geometry shared by the kernels: the input is seen as
//! `planes × D × H × W` (1-d and 2-d pooling get leading axes of size 1),
//! and every spatial axis gets a table of window starts and of the taps
//! that fall inside the input.

mod fractional;
mod unpool;

pub use fractional::FractionalGeometry;
pub use unpool::UnpoolGeometry;

use core_tensor::window::WindowAxis;

use crate::error::{PoolError, Result};
use crate::params::{broadcast, effective_kernel, positive};

/// The windows along one spatial axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AxisPlan {
    /// Input length.
    pub(crate) len: usize,
    /// Number of windows.
    pub(crate) out: usize,
    /// Input coordinate of tap 0 of window `o` (negative inside the left padding).
    pub(crate) start: Vec<isize>,
    /// First tap of window `o` inside the input.
    pub(crate) lo: Vec<usize>,
    /// One past the last tap of window `o` inside the input.
    pub(crate) hi: Vec<usize>,
    /// Window positions inside `[-before, L + after)` (the `count_include_pad` divisor factor).
    pub(crate) padded_count: Vec<usize>,
    /// Step between taps.
    pub(crate) dil: usize,
    /// Taps per window (the kernel; for adaptive windows the longest window).
    pub(crate) ext: usize,
    /// Step between window starts, when uniform (not for adaptive windows).
    pub(crate) stride: Option<usize>,
    /// Windows `full.0 .. full.1` have every tap inside the input.
    pub(crate) full: (usize, usize),
}

impl AxisPlan {
    /// A trivial axis of length 1 (used to lift 1-d and 2-d pooling to 3-d).
    fn unit() -> Self {
        Self {
            len: 1,
            out: 1,
            start: vec![0],
            lo: vec![0],
            hi: vec![1],
            padded_count: vec![1],
            dil: 1,
            ext: 1,
            stride: Some(1),
            full: (0, 1),
        }
    }

    /// An axis of `out` windows over `len` elements with its per-window
    /// tables allocated (empty, for the caller to fill) and `full` unset.
    fn empty(
        op: &'static str,
        axis: usize,
        len: usize,
        out: usize,
        dil: usize,
        ext: usize,
        stride: Option<usize>,
    ) -> Result<Self> {
        Ok(Self {
            len,
            out,
            start: table(op, axis, out)?,
            lo: table(op, axis, out)?,
            hi: table(op, axis, out)?,
            padded_count: table(op, axis, out)?,
            dil,
            ext,
            stride,
            full: (0, 0),
        })
    }

    fn finish_full(&mut self) {
        let ok: Vec<bool> = (0..self.out)
            .map(|o| self.lo[o] == 0 && self.hi[o] == self.ext)
            .collect();
        let a = ok.iter().position(|&b| b).unwrap_or(self.out);
        let b = a + ok[a..].iter().take_while(|&&b| b).count();
        self.full = (a, b);
    }

    /// Input position of tap `t` of window `o` (only meaningful for taps in `lo..hi`).
    #[inline]
    pub(crate) fn pos(&self, o: usize, t: usize) -> usize {
        (self.start[o] + (t * self.dil) as isize) as usize
    }
}

/// The resolved geometry of one pooling call: shape of the input and
/// output, and the window tables. Built by the functional API (or by
/// [`MaxPoolParams::geometry`](crate::MaxPoolParams::geometry), [`Geometry::adaptive_for`]) and passed to the kernels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub(crate) op: &'static str,
    pub(crate) dims: usize,
    pub(crate) lead: Vec<usize>,
    pub(crate) planes: usize,
    pub(crate) axes: [AxisPlan; 3],
}

/// Splits `shape` into the leading `(N, C)` or `(C,)` axes and `dims`
/// spatial axes, checking the rank and that only `N` may be empty.
pub(crate) fn split_input(
    op: &'static str,
    shape: &[usize],
    dims: usize,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(1..=3).contains(&dims) {
        return Err(PoolError::SpatialDims {
            op,
            param: "kernel_size",
            got: dims,
        });
    }
    if shape.len() != dims + 1 && shape.len() != dims + 2 {
        return Err(PoolError::WrongRank {
            op,
            unbatched: dims + 1,
            batched: dims + 2,
            shape: shape.to_vec(),
        });
    }
    let lead_len = shape.len() - dims;
    let (lead, spatial) = shape.split_at(lead_len);
    if lead[lead_len - 1] == 0 || spatial.contains(&0) {
        return Err(PoolError::EmptyInput {
            op,
            shape: shape.to_vec(),
        });
    }
    Ok((lead.to_vec(), spatial.to_vec()))
}

/// An empty table with room for `n` entries, or an error if that cannot be allocated.
fn table<T>(op: &'static str, axis: usize, n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| PoolError::InvalidParam {
            op,
            param: "output size",
            axis,
            value: n.to_string(),
            allowed: "the window tables of this many outputs cannot be allocated".into(),
        })?;
    Ok(v)
}

/// Checks that a tensor of `shape` can exist: its element count and its
/// size in bytes (as `f64`) fit in `isize`.
pub(crate) fn check_alloc(op: &'static str, shape: &[usize]) -> Result<()> {
    let n = core_tensor::shape::checked_numel(op, shape).map_err(|e| PoolError::window(op, e))?;
    if n.checked_mul(8).is_none_or(|b| b > isize::MAX as usize) {
        return Err(PoolError::window(
            op,
            core_tensor::TensorError::SizeOverflow {
                op,
                shape: shape.to_vec(),
            },
        ));
    }
    Ok(())
}

/// Window parameters already broadcast to one entry per axis.
#[derive(Clone, Debug)]
pub(crate) struct WindowSpec {
    pub(crate) kernel: Vec<usize>,
    pub(crate) stride: Vec<usize>,
    pub(crate) dilation: Vec<usize>,
    pub(crate) padding: Vec<[usize; 2]>,
    pub(crate) ceil_mode: bool,
}

impl WindowSpec {
    /// Broadcasts and resolves user lists for an input of spatial size `spatial`.
    pub(crate) fn resolve(
        op: &'static str,
        spatial: &[usize],
        kernel: &[usize],
        stride: Option<&[usize]>,
        dilation: &[usize],
        padding: &crate::params::Padding,
        ceil_mode: bool,
    ) -> Result<Self> {
        let d = spatial.len();
        let kernel = broadcast(op, "kernel_size", kernel, d)?;
        let stride = match stride {
            Some(s) if !s.is_empty() => broadcast(op, "stride", s, d)?,
            _ => kernel.clone(),
        };
        let dilation = if dilation.is_empty() {
            vec![1; d]
        } else {
            broadcast(op, "dilation", dilation, d)?
        };
        for i in 0..d {
            effective_kernel(op, i, kernel[i], dilation[i])?;
            positive(op, "stride", i, stride[i])?;
        }
        let padding = padding.resolve(op, spatial, &kernel, &stride, &dilation)?;
        Ok(Self {
            kernel,
            stride,
            dilation,
            padding,
            ceil_mode,
        })
    }
}

impl Geometry {
    /// Geometry of sliding-window pooling over the trailing `kernel.len()`
    /// axes of `shape`.
    ///
    /// With `require_tap`, every window must hold at least one input
    /// element (max pooling; with dilation a window can lie in padding).
    pub(crate) fn pool(
        op: &'static str,
        shape: &[usize],
        spec: &WindowSpec,
        require_tap: bool,
    ) -> Result<Self> {
        let dims = spec.kernel.len();
        let (lead, spatial) = split_input(op, shape, dims)?;
        // Output sizes first, so that nothing is allocated for an output that cannot exist.
        let mut out_shape = lead.clone();
        for (i, &len) in spatial.iter().enumerate() {
            let [pb, pa] = spec.padding[i];
            let wa = WindowAxis {
                kernel: spec.kernel[i],
                stride: spec.stride[i],
                dilation: spec.dilation[i],
                pad_before: pb,
                pad_after: pa,
            };
            out_shape.push(
                wa.output_len(op, i, len, spec.ceil_mode)
                    .map_err(|e| PoolError::window(op, e))?,
            );
        }
        check_alloc(op, &out_shape)?;
        let mut axes = [AxisPlan::unit(), AxisPlan::unit(), AxisPlan::unit()];
        for i in 0..dims {
            let k = spec.kernel[i];
            let eff = effective_kernel(op, i, k, spec.dilation[i])?;
            let [pb, pa] = spec.padding[i];
            if pb >= eff || pa >= eff {
                return Err(PoolError::PaddingTooLarge {
                    op,
                    axis: i,
                    pad_before: pb,
                    pad_after: pa,
                    effective_kernel: eff,
                    max: eff - 1,
                });
            }
            let wa = WindowAxis {
                kernel: k,
                stride: spec.stride[i],
                dilation: spec.dilation[i],
                pad_before: pb,
                pad_after: pa,
            };
            let len = spatial[i];
            let out = wa
                .output_len(op, i, len, spec.ceil_mode)
                .map_err(|e| PoolError::window(op, e))?;
            // Every window start and end is within (-eff, len + pa + stride), so isize arithmetic
            // cannot overflow once the output length fits.
            let lim = (len as u128) + (pa as u128) + (spec.stride[i] as u128) + (eff as u128);
            if lim > isize::MAX as u128 / 2 {
                return Err(PoolError::InvalidParam {
                    op,
                    param: "kernel_size",
                    axis: i,
                    value: k.to_string(),
                    allowed: "the window arithmetic must fit in isize".into(),
                });
            }
            let (s, dl) = (spec.stride[i] as isize, spec.dilation[i] as isize);
            let mut plan =
                AxisPlan::empty(op, i, len, out, spec.dilation[i], k, Some(spec.stride[i]))?;
            for o in 0..out {
                let st = o as isize * s - pb as isize;
                // first tap with st + t*dl >= 0, last with st + t*dl <= len-1
                let lo = if st >= 0 { 0 } else { ((-st) + dl - 1) / dl } as usize;
                let hi_raw = if st > len as isize - 1 {
                    0
                } else {
                    ((len as isize - 1 - st) / dl + 1) as usize
                };
                let hi = hi_raw.min(k);
                if require_tap && lo >= hi {
                    return Err(PoolError::EmptyWindow {
                        op,
                        axis: i,
                        window: o,
                        input: len,
                    });
                }
                let end = (st + eff as isize).min(len as isize + pa as isize);
                plan.start.push(st);
                plan.lo.push(lo.min(hi));
                plan.hi.push(hi);
                plan.padded_count.push((end - st).max(0) as usize);
            }
            plan.finish_full();
            axes[3 - dims + i] = plan;
        }
        Self::finish(op, dims, lead, axes)
    }

    /// Geometry of adaptive pooling to `output` (a `None` keeps that axis):
    /// window `o` of an axis of length `L` with `O` outputs covers
    /// `[floor(o·L/O), ceil((o+1)·L/O))`.
    pub(crate) fn adaptive(
        op: &'static str,
        shape: &[usize],
        output: &[Option<usize>],
    ) -> Result<Self> {
        let dims = output.len();
        if !(1..=3).contains(&dims) {
            return Err(PoolError::SpatialDims {
                op,
                param: "output_size",
                got: dims,
            });
        }
        let (lead, spatial) = split_input(op, shape, dims)?;
        let mut out_shape = lead.clone();
        out_shape.extend(spatial.iter().zip(output).map(|(&l, o)| o.unwrap_or(l)));
        check_alloc(op, &out_shape)?;
        let mut axes = [AxisPlan::unit(), AxisPlan::unit(), AxisPlan::unit()];
        for i in 0..dims {
            let len = spatial[i];
            let out = output[i].unwrap_or(len);
            if out == 0 {
                return Err(PoolError::InvalidParam {
                    op,
                    param: "output_size",
                    axis: i,
                    value: "0".into(),
                    allowed: "it must be at least 1 (or None to keep the input size)".into(),
                });
            }
            let (l, n) = (len as u128, out as u128);
            let mut plan = AxisPlan::empty(op, i, len, out, 1, 0, None)?;
            for o in 0..n {
                let a = (o * l / n) as usize;
                let b = ((o + 1) * l).div_ceil(n) as usize;
                plan.start.push(a as isize);
                plan.lo.push(0);
                plan.hi.push(b - a);
                plan.padded_count.push(b - a);
                plan.ext = plan.ext.max(b - a);
            }
            plan.finish_full();
            axes[3 - dims + i] = plan;
        }
        Self::finish(op, dims, lead, axes)
    }

    fn finish(
        op: &'static str,
        dims: usize,
        lead: Vec<usize>,
        axes: [AxisPlan; 3],
    ) -> Result<Self> {
        let g = Self {
            op,
            dims,
            planes: lead.iter().product(),
            lead,
            axes,
        };
        // Sizes must fit: the input was allocated, the output must be allocatable too.
        let vol = g
            .axes
            .iter()
            .try_fold(1u128, |acc, a| acc.checked_mul(a.ext as u128))
            .unwrap_or(u128::MAX);
        if vol > u32::MAX as u128 {
            return Err(PoolError::WindowTooLarge {
                op,
                volume: vol,
                max: u32::MAX as u64,
            });
        }
        Ok(g)
    }

    /// The op name this geometry was built for.
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// Number of spatial axes (1, 2 or 3).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Number of `(N, C)` planes.
    pub fn planes(&self) -> usize {
        self.planes
    }

    /// Elements of one input plane.
    pub fn plane_in(&self) -> usize {
        self.axes.iter().map(|a| a.len).product()
    }

    /// Elements of one output plane.
    pub fn plane_out(&self) -> usize {
        self.axes.iter().map(|a| a.out).product()
    }

    /// Taps of one window (the product of the kernel sizes; for adaptive
    /// pooling the longest window on each axis).
    pub fn window_volume(&self) -> usize {
        self.axes.iter().map(|a| a.ext).product()
    }

    /// The full input shape.
    pub fn input_shape(&self) -> Vec<usize> {
        let mut s = self.lead.clone();
        s.extend(self.axes[3 - self.dims..].iter().map(|a| a.len));
        s
    }

    /// The full output shape.
    pub fn output_shape(&self) -> Vec<usize> {
        let mut s = self.lead.clone();
        s.extend(self.axes[3 - self.dims..].iter().map(|a| a.out));
        s
    }

    /// Whether the windows are 2-d 2×2 with stride 2 and tile the plane
    /// (no padding, no partial window): the most common pooling of CNNs,
    /// with fast paths in both the max and the average kernels.
    pub(crate) fn tiles_2x2(&self) -> bool {
        let [ad, ah, aw] = &self.axes;
        let tiled =
            |a: &AxisPlan| a.ext == 2 && a.stride == Some(2) && a.dil == 1 && a.full == (0, a.out);
        ad.ext == 1 && ad.out == 1 && tiled(ah) && tiled(aw)
    }

    /// Input spatial sizes as `[D, H, W]` (1 for missing axes).
    pub(crate) fn in3(&self) -> [usize; 3] {
        [self.axes[0].len, self.axes[1].len, self.axes[2].len]
    }
}

/// The spatial sizes of an input of shape `shape` pooled over `dims` axes.
pub(crate) fn spatial_of(op: &'static str, shape: &[usize], dims: usize) -> Result<Vec<usize>> {
    Ok(split_input(op, shape, dims)?.1)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MaxPoolParams;

    #[test]
    fn tables_of_a_padded_dilated_axis() {
        // L=5, k=2, d=2, s=2, pad [1, 1]: starts -1, 1, 3; taps at start + {0, 2}
        let g = MaxPoolParams::new(&[2])
            .dilation(&[2])
            .padding(&[1])
            .geometry(&[1, 5])
            .unwrap();
        let a = &g.axes[2];
        assert_eq!((a.out, a.start.clone()), (3, vec![-1, 1, 3]));
        assert_eq!((a.lo.clone(), a.hi.clone()), (vec![1, 0, 0], vec![2, 2, 1]));
        assert_eq!(a.full, (1, 2));
        assert_eq!(g.output_shape(), vec![1, 3]);
    }

    #[test]
    fn adaptive_windows() {
        let g = Geometry::adaptive("t", &[1, 5], &[Some(3)]).unwrap();
        let a = &g.axes[2];
        // [0,2), [1,4), [3,5)
        assert_eq!(
            (a.start.clone(), a.hi.clone(), a.ext),
            (vec![0, 1, 3], vec![2, 3, 2], 3)
        );
    }

    #[test]
    fn rank_and_empty_axes_are_errors() {
        let p = MaxPoolParams::new(&[2, 2]);
        assert!(matches!(
            p.geometry(&[4, 4]),
            Err(PoolError::WrongRank {
                unbatched: 3,
                batched: 4,
                ..
            })
        ));
        assert!(matches!(
            p.geometry(&[1, 0, 4, 4]),
            Err(PoolError::EmptyInput { .. })
        ));
        assert_eq!(
            p.geometry(&[0, 1, 4, 4]).unwrap().output_shape(),
            vec![0, 1, 2, 2]
        );
    }
}
