//! Unfolding (`im2col`) and its adjoint (`col2im`) on a tile of output
//! positions: the gather that turns a convolution into a matrix product,
//! and the scatter-add of the input gradient.
//!
//! For the channels of one sample and group, row `ci * taps + t` of the
//! unfolded matrix holds tap `t` of channel `ci` at every output position;
//! a tile is the columns of the positions `start..start + len` (positions
//! in row-major order over the output's spatial axes). Each tile row is cut
//! into runs along the last output axis.
//!
//! Taps read from planes that hold every position a tap can reach: the
//! input itself when there is no padding, otherwise a copy of the input
//! with its zeros around it ([`pad_planes`]). Every read is then inside the
//! planes, and a run is a plain copy (stride 1) or a strided gather, with
//! no bounds to check; the scatter-add works the same way on padded planes
//! whose interior goes back to the input gradient ([`unpad_planes`]).

use std::mem::MaybeUninit;

use core_tensor::Float;

use crate::geometry::Geom3;

/// A run of tile columns inside one row of output positions: output
/// coordinates `(z, y, x0..x0 + len)` at tile column `col`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    z: usize,
    y: usize,
    x0: usize,
    len: usize,
    col: usize,
}

/// The runs of positions `start..start + len`, in order, at tile columns
/// `0..len`.
pub(crate) fn runs(g: &Geom3, start: usize, len: usize) -> Vec<Run> {
    runs_at(g, start, len, 0)
}

/// The runs of positions `start..start + len` at tile columns
/// `col0..col0 + len` (a tile that holds several samples side by side).
pub(crate) fn runs_at(g: &Geom3, start: usize, len: usize, col0: usize) -> Vec<Run> {
    let [_, oh, ow] = g.output;
    let mut out = Vec::with_capacity(len / ow.max(1) + 2);
    let (mut l, end) = (start, start + len);
    while l < end {
        let (row, x0) = (l / ow, l % ow);
        let run = (ow - x0).min(end - l);
        out.push(Run {
            z: row / oh,
            y: row % oh,
            x0,
            len: run,
            col: col0 + l - start,
        });
        l += run;
    }
    out
}

impl Geom3 {
    /// How far the taps reach on each axis in padded coordinates:
    /// `(output - 1) * stride + (kernel - 1) * dilation + 1`.
    fn reach(&self) -> [usize; 3] {
        std::array::from_fn(|a| {
            (self.output[a] - 1) * self.stride[a] + (self.kernel[a] - 1) * self.dilation[a] + 1
        })
    }

    /// Whether some tap reads a zero of the padding (before the input, or
    /// after it).
    pub(crate) fn is_padded(&self) -> bool {
        let reach = self.reach();
        (0..3).any(|a| self.pad[a] > 0 || reach[a] > self.input[a])
    }

    /// The size of the planes the taps read from: the input's when no tap
    /// reads padding, otherwise the taps' reach.
    pub(crate) fn source_dims(&self) -> [usize; 3] {
        if self.is_padded() {
            self.reach()
        } else {
            self.input
        }
    }
}

/// Element offsets in planes of `dims` (padded coordinates): where each
/// run's first position reads with tap 0, and how far each tap `(kz, ky,
/// kx)`, in row-major order, reads from tap 0.
fn offsets(g: &Geom3, dims: [usize; 3], runs: &[Run]) -> (Vec<usize>, Vec<usize>) {
    let at = |z: usize, y: usize, x: usize| (z * dims[1] + y) * dims[2] + x;
    let starts = runs
        .iter()
        .map(|r| at(r.z * g.stride[0], r.y * g.stride[1], r.x0 * g.stride[2]))
        .collect();
    let [kd, kh, kw] = g.kernel;
    let mut taps = Vec::with_capacity(kd * kh * kw);
    for kz in 0..kd {
        for ky in 0..kh {
            for kx in 0..kw {
                taps.push(at(
                    kz * g.dilation[0],
                    ky * g.dilation[1],
                    kx * g.dilation[2],
                ));
            }
        }
    }
    (starts, taps)
}

/// Copies `channels` input planes `x` into planes of `g.source_dims()`
/// with the input at the padding offset and zeros around it (input beyond
/// the taps' reach is left out). Writes every element of `out`.
pub(crate) fn pad_planes<F: Float>(
    x: &[F],
    channels: usize,
    g: &Geom3,
    out: &mut [MaybeUninit<F>],
) {
    let dims = g.source_dims();
    let [id, ih, iw] = g.input;
    let [pz, py, px] = g.pad;
    let zero = MaybeUninit::new(F::zero());
    // The input columns that land inside the planes, and where.
    let cols = iw.min(dims[2].saturating_sub(px));
    for (ci, plane) in out
        .chunks_exact_mut(dims.iter().product())
        .take(channels)
        .enumerate()
    {
        for (r, row) in plane.chunks_exact_mut(dims[2]).enumerate() {
            let (z, y) = (r / dims[1], r % dims[1]);
            let src = z
                .checked_sub(pz)
                .filter(|&iz| iz < id)
                .zip(y.checked_sub(py).filter(|&iy| iy < ih));
            match src {
                Some((iz, iy)) if cols > 0 => {
                    let line = &x[((ci * id + iz) * ih + iy) * iw..][..cols];
                    row[..px].fill(zero);
                    for (d, &v) in row[px..px + cols].iter_mut().zip(line) {
                        d.write(v);
                    }
                    row[px + cols..].fill(zero);
                }
                _ => row.fill(zero),
            }
        }
    }
}

/// Adds the input's part of padded planes (of `g.source_dims()`) onto the
/// `channels` input planes `dx`: the adjoint of [`pad_planes`].
pub(crate) fn unpad_planes<F: Float>(padded: &[F], channels: usize, g: &Geom3, dx: &mut [F]) {
    let dims = g.source_dims();
    let [id, ih, iw] = g.input;
    let [pz, py, px] = g.pad;
    let cols = iw.min(dims[2].saturating_sub(px));
    if cols == 0 {
        return;
    }
    for ci in 0..channels {
        for iz in 0..id.min(dims[0].saturating_sub(pz)) {
            for iy in 0..ih.min(dims[1].saturating_sub(py)) {
                let from = &padded[((ci * dims[0] + iz + pz) * dims[1] + iy + py) * dims[2] + px..]
                    [..cols];
                let to = &mut dx[((ci * id + iz) * ih + iy) * iw..][..cols];
                to.iter_mut().zip(from).for_each(|(d, &v)| *d += v);
            }
        }
    }
}

/// Writes the unfolded tile of `channels` planes `src` (each of
/// `g.source_dims()`: the input, or [`pad_planes`]' copy) for the positions
/// of `runs` into `out`, row-major `(channels * taps) x width`. Writes every
/// element of `out`.
pub(crate) fn im2col_tile<F: Float>(
    src: &[F],
    channels: usize,
    g: &Geom3,
    runs: &[Run],
    width: usize,
    out: &mut [MaybeUninit<F>],
) {
    let dims = g.source_dims();
    let plane: usize = dims.iter().product();
    let (starts, taps) = offsets(g, dims, runs);
    let sw = g.stride[2];
    let mut rows = out.chunks_exact_mut(width);
    for ci in 0..channels {
        let sc = &src[ci * plane..][..plane];
        for &tap in &taps {
            let dst = rows.next().expect("the tile holds channels * taps rows");
            for (r, &start) in runs.iter().zip(&starts) {
                let seg = &mut dst[r.col..][..r.len];
                let at = start + tap;
                if sw == 1 {
                    write_copy(seg, &sc[at..at + r.len]);
                } else {
                    for (j, d) in seg.iter_mut().enumerate() {
                        d.write(sc[at + j * sw]);
                    }
                }
            }
        }
    }
}

/// Copies `src` into the slots `dst` (one length).
#[inline]
fn write_copy<F: Copy>(dst: &mut [MaybeUninit<F>], src: &[F]) {
    assert_eq!(dst.len(), src.len());
    let n = src.len();
    if (SHORT_RUN..LONG_RUN).contains(&n) {
        // A row of a small image: fixed-size blocks the compiler keeps
        // inline, the last one overlapping the one before, instead of a
        // call to `memcpy` per row.
        let mut at = 0;
        while at + SHORT_RUN < n {
            write_block(&mut dst[at..], &src[at..]);
            at += SHORT_RUN;
        }
        write_block(&mut dst[n - SHORT_RUN..], &src[n - SHORT_RUN..]);
        return;
    }
    // SAFETY: both slices hold `n` elements and cannot overlap (one is
    // borrowed mutably); `MaybeUninit<F>` has the layout of `F`.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<F>(), n) };
}

/// Runs at least this long (and shorter than [`LONG_RUN`]) are copied in
/// inline blocks of this many elements.
const SHORT_RUN: usize = 8;

/// Runs from this length on go to `memcpy`, whose call then costs little
/// beside the copy.
const LONG_RUN: usize = 64;

/// Copies the first [`SHORT_RUN`] elements of `src` into `dst`.
#[inline(always)]
fn write_block<F: Copy>(dst: &mut [MaybeUninit<F>], src: &[F]) {
    let block: [F; SHORT_RUN] = src[..SHORT_RUN].try_into().expect("a full block");
    for (d, v) in dst[..SHORT_RUN].iter_mut().zip(block) {
        d.write(v);
    }
}

/// The adjoint of [`im2col_tile`]: adds each element of the tile `cols`
/// (`(channels * taps) x width`) onto the element of the planes `dst` (each
/// of `g.source_dims()`) it was read from.
pub(crate) fn col2im_tile<F: Float>(
    cols: &[F],
    channels: usize,
    g: &Geom3,
    runs: &[Run],
    width: usize,
    dst: &mut [F],
) {
    let dims = g.source_dims();
    let plane: usize = dims.iter().product();
    let (starts, taps) = offsets(g, dims, runs);
    let sw = g.stride[2];
    let mut rows = cols.chunks_exact(width);
    for ci in 0..channels {
        let dc = &mut dst[ci * plane..][..plane];
        for &tap in &taps {
            let src = rows.next().expect("the tile holds channels * taps rows");
            for (r, &start) in runs.iter().zip(&starts) {
                let seg = &src[r.col..][..r.len];
                let at = start + tap;
                if sw == 1 {
                    for (d, &v) in dc[at..at + r.len].iter_mut().zip(seg) {
                        *d += v;
                    }
                } else {
                    for (j, &v) in seg.iter().enumerate() {
                        dc[at + j * sw] += v;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConvGeom, ConvParams};

    fn geom(input: &[usize], kernel: &[usize], p: &ConvParams) -> ConvGeom {
        let x: Vec<usize> = [1, 1].iter().chain(input).copied().collect();
        let w: Vec<usize> = [1, 1].iter().chain(kernel).copied().collect();
        ConvGeom::new(&x, &w, p).unwrap()
    }

    /// `v` written in full by `fill`.
    fn written(n: usize, fill: impl FnOnce(&mut [MaybeUninit<f64>])) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        fill(&mut out.spare_capacity_mut()[..n]);
        // SAFETY: the callers' functions write every element.
        unsafe { out.set_len(n) };
        out
    }

    /// The input planes as the taps read them: padded when needed.
    fn source(x: &[f64], channels: usize, g: &Geom3) -> Vec<f64> {
        if !g.is_padded() {
            return x.to_vec();
        }
        let n = channels * g.source_dims().iter().product::<usize>();
        written(n, |out| pad_planes(x, channels, g, out))
    }

    /// `im2col_tile` into a fresh vector.
    fn unfold(
        x: &[f64],
        channels: usize,
        g: &Geom3,
        start: usize,
        width: usize,
        taps: usize,
    ) -> Vec<f64> {
        let src = source(x, channels, g);
        written(channels * taps * width, |out| {
            im2col_tile(&src, channels, g, &runs(g, start, width), width, out)
        })
    }

    /// im2col by the definition, element by element.
    fn naive(x: &[f64], g: &Geom3, start: usize, width: usize) -> Vec<f64> {
        let [id, ih, iw] = g.input;
        let [_, oh, ow] = g.output;
        let [kd, kh, kw] = g.kernel;
        let mut out = Vec::new();
        for kz in 0..kd {
            for ky in 0..kh {
                for kx in 0..kw {
                    for l in start..start + width {
                        let (z, y, xx) = (l / (oh * ow), (l / ow) % oh, l % ow);
                        let at = |o: usize, k: usize, a: usize, size: usize| {
                            let i =
                                (o * g.stride[a] + k * g.dilation[a]) as isize - g.pad[a] as isize;
                            (0..size as isize).contains(&i).then_some(i as usize)
                        };
                        out.push(
                            match (at(z, kz, 0, id), at(y, ky, 1, ih), at(xx, kx, 2, iw)) {
                                (Some(a), Some(b), Some(c)) => x[(a * ih + b) * iw + c],
                                _ => 0.0,
                            },
                        );
                    }
                }
            }
        }
        out
    }

    fn cases() -> Vec<(Vec<usize>, Vec<usize>, ConvParams)> {
        vec![
            (vec![3, 3], vec![2, 2], ConvParams::new(2)),
            (
                vec![7, 9],
                vec![3, 2],
                ConvParams {
                    stride: vec![2, 3],
                    padding: vec![[1, 2], [2, 0]],
                    dilation: vec![1, 2],
                    groups: 1,
                },
            ),
            (
                vec![11],
                vec![4],
                ConvParams {
                    stride: vec![3],
                    padding: vec![[5, 1]],
                    dilation: vec![2],
                    groups: 1,
                },
            ),
            // Padding larger than the input, and input beyond the taps' reach.
            (
                vec![2, 9],
                vec![1, 2],
                ConvParams {
                    stride: vec![1, 4],
                    padding: vec![[3, 3], [0, 0]],
                    dilation: vec![1, 1],
                    groups: 1,
                },
            ),
            (
                vec![4, 5, 6],
                vec![2, 3, 2],
                ConvParams {
                    stride: vec![1, 2, 1],
                    padding: vec![[1, 0], [1, 1], [0, 3]],
                    dilation: vec![2, 1, 3],
                    groups: 1,
                },
            ),
        ]
    }

    #[test]
    fn tiles_match_the_definition_for_strides_dilations_and_padding() {
        for (input, kernel, p) in cases() {
            let cg = geom(&input, &kernel, &p);
            let g = cg.as_3d();
            let n: usize = input.iter().product();
            let x: Vec<f64> = (0..n).map(|i| i as f64 + 1.0).collect();
            let l = cg.positions();
            for (start, width) in [(0, l), (1, l - 1), (l / 3, l / 2 + 1)] {
                let out = unfold(&x, 1, &g, start, width, cg.taps());
                assert_eq!(
                    out,
                    naive(&x, &g, start, width),
                    "{input:?} {kernel:?} {start} {width}"
                );
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> == <x, col2im(c)>, through the padded planes.
        for (input, kernel, p) in cases() {
            let cg = geom(&input, &kernel, &p);
            let g = cg.as_3d();
            let (plane, taps, l) = (cg.plane(), cg.taps(), cg.positions());
            let x: Vec<f64> = (0..2 * plane)
                .map(|i| ((i * 7919) % 13) as f64 - 6.0)
                .collect();
            let c: Vec<f64> = (0..2 * taps * l)
                .map(|i| ((i * 104_729) % 17) as f64 - 8.0)
                .collect();
            let ix = unfold(&x, 2, &g, 0, l, taps);
            let mut cx = vec![0.0; 2 * plane];
            if g.is_padded() {
                let mut padded = vec![0.0; 2 * g.source_dims().iter().product::<usize>()];
                col2im_tile(&c, 2, &g, &runs(&g, 0, l), l, &mut padded);
                unpad_planes(&padded, 2, &g, &mut cx);
            } else {
                col2im_tile(&c, 2, &g, &runs(&g, 0, l), l, &mut cx);
            }
            let lhs: f64 = ix.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&cx).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs, "{input:?} {kernel:?}");
            assert!(lhs != 0.0);
        }
    }
}
