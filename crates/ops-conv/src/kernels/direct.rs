//! Direct convolution for stride 1 and few unfolded rows (`cg · taps`, 9
//! for a 3×3 kernel over one input channel): each output channel is a sum
//! of shifted copies of the (padded) input planes, with no unfolding and
//! no matrix product.
//!
//! With the planes of `dims = (D, H, W)` that the taps read from, output
//! position `(z, y, x)` and tap `(kz, ky, kx)` read element
//! `q + off(tap)` of a plane, where `q = (z·H + y)·W + x` and
//! `off = (kz·dz·H + ky·dy)·W + kx·dx`. So, over the flat index `q`, every
//! tap is one contiguous run of the plane: output channel `o` of group `g`
//! is, for every `q` up to the last output position,
//!
//! `wide[q] = b[o] + Σ_{ci, tap} w[o, ci, tap] · plane_ci[q + off(tap)]`
//!
//! (`b[o]` first, then the rows in order, each product rounded before its
//! add), computed in vectors along `q`; the positions of `wide` past the
//! end of an output row (`x ≥ ow`) are computed and dropped when the rows
//! are copied out. Written once over [`Lane`], run on AVX2 or portable
//! lanes with the same bits.
//!
//! Samples are independent tasks, so results do not depend on the number
//! of threads.

use std::mem::MaybeUninit;

use core_tensor::alloc::CachedVec;
use core_tensor::chunks::build_chunks;
use core_tensor::simd::{Kernel, Lane, dispatch};
use core_tensor::{Float, Par};

use super::im2col::pad_planes;
use crate::ConvGeom;
use crate::geometry::Geom3;

/// Most unfolded rows (`cg · taps`) for which [`applies`] takes the direct
/// path: beyond, the matrix product over the unfolded input reuses each
/// loaded input value across more output channels than these loops do.
pub(crate) const MAX_ROWS: usize = 16;

/// Whether the direct kernel computes this forward: every stride 1 and at
/// most [`MAX_ROWS`] unfolded rows.
pub(crate) fn applies(geom: &ConvGeom) -> bool {
    geom.stride.iter().all(|&s| s == 1) && geom.rows() <= MAX_ROWS
}

/// `y = conv(x, w) + b` (see the module docs); the geometry must satisfy
/// [`applies`].
pub(crate) fn forward<F: Float>(
    x: &[F],
    w: &[F],
    b: Option<&[F]>,
    geom: &ConvGeom,
    par: Par,
) -> Vec<F> {
    let g3 = geom.as_3d();
    let dims = g3.source_dims();
    let plane = dims.iter().product::<usize>();
    let offs = tap_offsets(&g3, dims);
    let [od, oh, ow] = g3.output;
    // One past the flat index of the last output position.
    let span = ((od - 1) * dims[1] + (oh - 1)) * dims[2] + ow;
    let (cg, cog, taps, l) = (geom.cg(), geom.cog(), geom.taps(), geom.positions());
    let per_sample = geom.cout * l;
    let work = geom.n * per_sample * geom.rows();
    let in_sample = geom.c * geom.input.iter().product::<usize>();
    let in_plane = geom.input.iter().product::<usize>();
    build_chunks(
        par.for_work(work),
        geom.n * per_sample,
        per_sample,
        |s, ys| {
            let xs = &x[s * in_sample..(s + 1) * in_sample];
            let mut padded = CachedVec::with_capacity(0);
            let mut wide = CachedVec::with_capacity(span);
            wide.resize(span, F::zero());
            for g in 0..geom.groups {
                let xg = &xs[g * cg * in_plane..(g + 1) * cg * in_plane];
                let planes: &[F] = if g3.is_padded() {
                    padded.clear();
                    padded.reserve(cg * plane);
                    pad_planes(xg, cg, &g3, &mut padded.spare_capacity_mut()[..cg * plane]);
                    // SAFETY: `pad_planes` writes every element of the
                    // `cg` planes it is given.
                    unsafe { padded.set_len(cg * plane) };
                    &padded
                } else {
                    xg
                };
                for o in g * cog..(g + 1) * cog {
                    dispatch(Shifted {
                        planes,
                        plane,
                        w: &w[o * cg * taps..(o + 1) * cg * taps],
                        offs: &offs,
                        bias: b.map_or(F::zero(), |b| b[o]),
                        out: &mut wide,
                    });
                    copy_rows(&wide, dims, g3.output, &mut ys[o * l..(o + 1) * l]);
                }
            }
            (ys.len(), ())
        },
    )
    .0
}

/// How far each tap `(kz, ky, kx)`, in row-major order, reads from tap 0
/// in planes of `dims`.
fn tap_offsets(g: &Geom3, dims: [usize; 3]) -> Vec<usize> {
    let [kd, kh, kw] = g.kernel;
    let [dz, dy, dx] = g.dilation;
    let mut offs = Vec::with_capacity(kd * kh * kw);
    for kz in 0..kd {
        for ky in 0..kh {
            for kx in 0..kw {
                offs.push((kz * dz * dims[1] + ky * dy) * dims[2] + kx * dx);
            }
        }
    }
    offs
}

/// The output rows of one channel out of `wide` (row `(z, y)` starts at
/// `(z·H + y)·W` there, at `(z·oh + y)·ow` in `out`).
fn copy_rows<F: Float>(
    wide: &[F],
    dims: [usize; 3],
    output: [usize; 3],
    out: &mut [MaybeUninit<F>],
) {
    let [od, oh, ow] = output;
    for z in 0..od {
        for y in 0..oh {
            let from = &wide[(z * dims[1] + y) * dims[2]..][..ow];
            let to = &mut out[(z * oh + y) * ow..][..ow];
            for (t, &v) in to.iter_mut().zip(from) {
                t.write(v);
            }
        }
    }
}

/// One output channel over the flat index: `out[q] = bias + Σ_{ci, t}
/// w[ci·taps + t] · planes[ci·plane + q + offs[t]]`.
struct Shifted<'a, F> {
    planes: &'a [F],
    plane: usize,
    w: &'a [F],
    offs: &'a [usize],
    bias: F,
    out: &'a mut [F],
}

/// Vectors of `q` summed at once in the main loop: independent chains of
/// adds enough to keep both vector adders busy.
const BLOCK: usize = 8;

impl<F: Float> Kernel<F> for Shifted<'_, F> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lane<Elem = F>>(mut self) {
        let span = self.out.len();
        let wide = span - span % (BLOCK * V::N);
        for q0 in (0..wide).step_by(BLOCK * V::N) {
            self.vectors::<V, BLOCK>(q0);
        }
        let narrow = span - span % V::N;
        for q0 in (wide..narrow).step_by(V::N) {
            self.vectors::<V, 1>(q0);
        }
        for q in narrow..span {
            let mut acc = self.bias;
            for (ci, wc) in self.w.chunks_exact(self.offs.len()).enumerate() {
                for (&wt, &off) in wc.iter().zip(self.offs) {
                    acc += wt * self.planes[ci * self.plane + q + off];
                }
            }
            self.out[q] = acc;
        }
    }
}

impl<F: Float> Shifted<'_, F> {
    /// `out[q0..q0 + B·N]` in `B` vectors of `N` lanes.
    #[inline(always)]
    fn vectors<V: Lane<Elem = F>, const B: usize>(&mut self, q0: usize) {
        let len = B * V::N;
        let mut acc = [V::splat(self.bias); B];
        for (ci, wc) in self.w.chunks_exact(self.offs.len()).enumerate() {
            let base = &self.planes[ci * self.plane + q0..];
            for (&wt, &off) in wc.iter().zip(self.offs) {
                let wv = V::splat(wt);
                let src = &base[off..off + len];
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = a.add(wv.mul(V::load(&src[j * V::N..])));
                }
            }
        }
        for (j, a) in acc.iter().enumerate() {
            a.store(&mut self.out[q0 + j * V::N..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConvParams;
    use core_tensor::Rng;
    use core_tensor::simd::run_portable;

    /// The direct forward against the unfolded one, and its AVX2 lanes
    /// against the portable ones bitwise, over strides-1 geometries with
    /// padding, dilation, groups and 1-d to 3-d.
    #[test]
    fn matches_the_unfolded_forward_and_the_portable_lanes() {
        let mut rng = Rng::new(7);
        let cases: [(&[usize], &[usize], ConvParams); 5] = [
            (
                &[3, 1, 28, 28],
                &[16, 1, 3, 3],
                ConvParams::new(2).padding(1),
            ),
            (
                &[2, 2, 9, 11],
                &[4, 1, 3, 2],
                ConvParams::new(2).groups(2).dilation(2),
            ),
            (&[2, 1, 37], &[5, 1, 7], ConvParams::new(1).padding(3)),
            (
                &[1, 2, 4, 5, 6],
                &[3, 2, 2, 2, 2],
                ConvParams::new(3).padding(1),
            ),
            (&[2, 3, 6, 7], &[2, 3, 2, 2], ConvParams::new(2)),
        ];
        for (xs, ws, p) in cases {
            let geom = ConvGeom::new(xs, ws, &p).unwrap();
            assert!(applies(&geom));
            let x: Vec<f64> = (0..xs.iter().product()).map(|_| rng.normal()).collect();
            let w: Vec<f64> = (0..ws.iter().product()).map(|_| rng.normal()).collect();
            let b: Vec<f64> = (0..ws[0]).map(|_| rng.normal()).collect();
            let direct = forward(&x, &w, Some(&b), &geom, Par::Rayon);
            let unfolded = super::super::unfolded::forward(&x, &w, Some(&b), &geom, Par::Seq);
            assert_eq!(direct.len(), unfolded.len());
            for (d, u) in direct.iter().zip(&unfolded) {
                assert!((d - u).abs() <= 1e-12 * (1.0 + u.abs()), "{d} vs {u}");
            }
            assert_eq!(direct, forward(&x, &w, Some(&b), &geom, Par::Seq));
        }
        // One channel's loops on the portable lanes give the dispatched bits.
        let planes: Vec<f32> = (0..200).map(|_| rng.normal() as f32).collect();
        let w: Vec<f32> = (0..6).map(|_| rng.normal() as f32).collect();
        let offs = [0, 1, 12];
        let run = |portable: bool| {
            let mut out = vec![0.0f32; 77];
            let k = Shifted {
                planes: &planes,
                plane: 100,
                w: &w,
                offs: &offs,
                bias: 0.5,
                out: &mut out,
            };
            if portable {
                run_portable(k)
            } else {
                dispatch(k)
            }
            out
        };
        let (a, p) = (run(false), run(true));
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            p.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let q = 76;
        let want = (0..2).fold(0.5f32, |acc, ci| {
            (0..3).fold(acc, |acc, t| {
                acc + w[ci * 3 + t] * planes[ci * 100 + q + offs[t]]
            })
        });
        assert_eq!(a[q].to_bits(), want.to_bits());
    }
}
