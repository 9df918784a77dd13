//! Unfolding (`im2col`) and its adjoint (`col2im`) on a tile of output
//! positions: the gather that turns a convolution into a matrix product,
//! and the scatter-add of the input gradient.
//!
//! For the channels of one sample and group, row `ci * taps + t` of the
//! unfolded matrix holds tap `t` of channel `ci` at every output position;
//! a tile is the columns of the positions `start..start + len` (positions
//! in row-major order over the output's spatial axes). Each tile row is cut
//! into runs along the last output axis, so the inner loop is a copy of
//! contiguous input (stride 1) or a strided gather, with zeros only where
//! a tap falls into the padding.

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

/// The runs of positions `start..start + len`, in order.
pub(crate) fn runs(g: &Geom3, start: usize, len: usize) -> Vec<Run> {
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
            col: l - start,
        });
        l += run;
    }
    out
}

/// Where tap `k` of output index `o` reads on one axis, or `None` in the
/// padding: `o * stride + k * dilation - pad` inside `0..size`.
#[inline]
fn source(
    o: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
    size: usize,
) -> Option<usize> {
    (o * stride + k * dilation)
        .checked_sub(pad)
        .filter(|&i| i < size)
}

/// For each tap `kx` of the last axis, the output indices `x` whose tap
/// reads inside the input: `first..last`.
fn inside_ranges(g: &Geom3) -> Vec<(usize, usize)> {
    let (s, d, p, w) = (g.stride[2], g.dilation[2], g.pad[2], g.input[2]);
    (0..g.kernel[2])
        .map(|kx| {
            let off = kx * d;
            // x * s + off >= p  <=>  x >= ceil((p - off) / s)
            let first = p.saturating_sub(off).div_ceil(s);
            // x * s + off - p < w  <=>  x < ceil((w + p - off) / s)
            let last = (w + p).saturating_sub(off).div_ceil(s);
            (first, last.max(first))
        })
        .collect()
}

/// `first..last` intersected with the run `x0..x0 + len`, relative to `x0`.
#[inline]
fn clip((first, last): (usize, usize), x0: usize, len: usize) -> (usize, usize) {
    let lo = first.clamp(x0, x0 + len) - x0;
    let hi = last.clamp(x0, x0 + len) - x0;
    (lo, hi)
}

/// Writes the unfolded tile of `channels` input planes `x` (each
/// `plane` elements) for the positions of `runs` into `out`, row-major
/// `(channels * taps) x width`: every element of `out` is written.
pub(crate) fn im2col_tile<F: Float>(
    x: &[F],
    channels: usize,
    g: &Geom3,
    runs: &[Run],
    width: usize,
    out: &mut [MaybeUninit<F>],
) {
    let [id, ih, iw] = g.input;
    let [kd, kh, _] = g.kernel;
    let plane = id * ih * iw;
    let (sw, dw, pw) = (g.stride[2], g.dilation[2], g.pad[2]);
    let ranges = inside_ranges(g);
    let zero = MaybeUninit::new(F::zero());
    let mut row = 0;
    for ci in 0..channels {
        let xc = &x[ci * plane..][..plane];
        for kz in 0..kd {
            for ky in 0..kh {
                for (kx, &range) in ranges.iter().enumerate() {
                    let dst = &mut out[row * width..][..width];
                    row += 1;
                    for r in runs {
                        let seg = &mut dst[r.col..][..r.len];
                        let src = source(r.z, kz, g.stride[0], g.dilation[0], g.pad[0], id)
                            .zip(source(r.y, ky, g.stride[1], g.dilation[1], g.pad[1], ih));
                        let Some((iz, iy)) = src else {
                            seg.fill(zero);
                            continue;
                        };
                        let line = &xc[(iz * ih + iy) * iw..][..iw];
                        let (lo, hi) = clip(range, r.x0, r.len);
                        seg[..lo].fill(zero);
                        seg[hi.max(lo)..].fill(zero);
                        if lo < hi {
                            // First input column read: (x0 + lo) * sw + kx * dw - pw.
                            let first = (r.x0 + lo) * sw + kx * dw - pw;
                            if sw == 1 {
                                for (v, &s) in seg[lo..hi].iter_mut().zip(&line[first..]) {
                                    v.write(s);
                                }
                            } else {
                                for (j, v) in seg[lo..hi].iter_mut().enumerate() {
                                    v.write(line[first + j * sw]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col_tile`]: adds each element of the tile `cols`
/// (`(channels * taps) x width`) onto the input element it was read from in
/// the planes `dx`; elements read from the padding are dropped.
pub(crate) fn col2im_tile<F: Float>(
    cols: &[F],
    channels: usize,
    g: &Geom3,
    runs: &[Run],
    width: usize,
    dx: &mut [F],
) {
    let [id, ih, iw] = g.input;
    let [kd, kh, _] = g.kernel;
    let plane = id * ih * iw;
    let (sw, dw, pw) = (g.stride[2], g.dilation[2], g.pad[2]);
    let ranges = inside_ranges(g);
    let mut row = 0;
    for ci in 0..channels {
        let dxc = &mut dx[ci * plane..][..plane];
        for kz in 0..kd {
            for ky in 0..kh {
                for (kx, &range) in ranges.iter().enumerate() {
                    let src = &cols[row * width..][..width];
                    row += 1;
                    for r in runs {
                        let at = source(r.z, kz, g.stride[0], g.dilation[0], g.pad[0], id)
                            .zip(source(r.y, ky, g.stride[1], g.dilation[1], g.pad[1], ih));
                        let Some((iz, iy)) = at else {
                            continue;
                        };
                        let line = &mut dxc[(iz * ih + iy) * iw..][..iw];
                        let (lo, hi) = clip(range, r.x0, r.len);
                        if lo < hi {
                            let first = (r.x0 + lo) * sw + kx * dw - pw;
                            let seg = &src[r.col + lo..r.col + hi];
                            if sw == 1 {
                                for (d, &v) in line[first..first + seg.len()].iter_mut().zip(seg) {
                                    *d += v;
                                }
                            } else {
                                for (j, &v) in seg.iter().enumerate() {
                                    line[first + j * sw] += v;
                                }
                            }
                        }
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

    /// `im2col_tile` into a fresh vector.
    fn unfold(
        x: &[f64],
        channels: usize,
        g: &Geom3,
        start: usize,
        width: usize,
        taps: usize,
    ) -> Vec<f64> {
        let n = channels * taps * width;
        let mut out = Vec::with_capacity(n);
        im2col_tile(
            x,
            channels,
            g,
            &runs(g, start, width),
            width,
            &mut out.spare_capacity_mut()[..n],
        );
        // SAFETY: im2col_tile writes every element of its output.
        unsafe { out.set_len(n) };
        out
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

    #[test]
    fn tiles_match_the_definition_for_strides_dilations_and_padding() {
        let cases = [
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
        ];
        for (input, kernel, p) in cases {
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
        // <im2col(x), c> == <x, col2im(c)>
        let p = ConvParams {
            stride: vec![2, 1],
            padding: vec![[1, 1], [0, 2]],
            dilation: vec![1, 2],
            groups: 1,
        };
        let cg = geom(&[6, 7], &[3, 2], &p);
        let g = cg.as_3d();
        let (plane, taps, l) = (cg.plane(), cg.taps(), cg.positions());
        let x: Vec<f64> = (0..2 * plane)
            .map(|i| ((i * 7919) % 13) as f64 - 6.0)
            .collect();
        let c: Vec<f64> = (0..2 * taps * l)
            .map(|i| ((i * 104_729) % 17) as f64 - 8.0)
            .collect();
        let r = runs(&g, 0, l);
        let ix = unfold(&x, 2, &g, 0, l, taps);
        let mut cx = vec![0.0; 2 * plane];
        col2im_tile(&c, 2, &g, &r, l, &mut cx);
        let lhs: f64 = ix.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&cx).map(|(a, b)| a * b).sum();
        assert_eq!(lhs, rhs);
        assert!(lhs != 0.0);
    }
}
