//! Convolution as matrix products over the unfolded input, one tile of
//! output positions at a time.
//!
//! For sample `n` and group `g`, with `W_g` the group's weight as a
//! `cog x R` matrix (`R = cg · taps`) and `U` the group's unfolded input
//! (`R x L`, see [`super::im2col`]):
//!
//! - forward: `Y[n, g] = W_g · U + b`;
//! - input gradient: `dX[n, g] = col2im(W_gᵀ · dY[n, g])`;
//! - weight gradient: `dW_g = Σ_n dY[n, g] · Uᵀ`.
//!
//! `U` is never built whole: the positions are cut into tiles of at most
//! [`TILE_ELEMS`] unfolded elements, unfolded into a scratch buffer that
//! stays in the core's cache, and multiplied at once. A padded input is
//! first copied with its zeros into scratch planes, once per `(n, g)`
//! block, so the unfolding itself never checks bounds. A pointwise
//! convolution (kernel 1, stride 1, no padding) needs no unfolding: `U` is
//! the input itself. Transposed operands are strided views, never copies.
//!
//! Parallel work is split by the problem's size only: over `(n, g)` blocks
//! of the output (or of the input gradient), each one task; when there are
//! fewer than [`MIN_BLOCKS`] of them, the matrix products themselves split
//! (by [`core_tensor::gemm::gemm`]'s size-only rule). The weight gradient's
//! sum over samples is cut into at most [`MAX_PARTIALS`] runs of
//! consecutive `(n, tile)` items whose partial sums are added in order.
//! Results are therefore bitwise equal on any number of threads.

use std::mem::MaybeUninit;

use core_tensor::alloc::{CachedVec, vec_filled};
use core_tensor::chunks::init_chunks;
use core_tensor::gemm::{MatMut, MatRef, gemm};
use core_tensor::{Float, Par};

use super::im2col::{Run, col2im_tile, im2col_tile, pad_planes, runs, unpad_planes};
use crate::ConvGeom;
use crate::geometry::Geom3;

/// Unfolded elements per tile (rows x positions).
pub(crate) const TILE_ELEMS: usize = 1 << 17;

/// Fewest `(n, g)` blocks for which blocks run in parallel; below, the
/// matrix products split instead.
pub(crate) const MIN_BLOCKS: usize = 4;

/// Most partial sums of the weight gradient.
pub(crate) const MAX_PARTIALS: usize = 8;

/// Fewest unfolded elements per partial sum of the weight gradient.
const PARTIAL_MIN_ELEMS: usize = 1 << 16;

/// The tiles of the positions: `(start, width)` pairs covering `0..L`.
fn tiles(geom: &ConvGeom) -> Vec<(usize, usize)> {
    let l = geom.positions();
    let width = if geom.is_pointwise() {
        l
    } else {
        (TILE_ELEMS / geom.rows().max(1)).clamp(16, l.max(16))
    };
    (0..l.div_ceil(width))
        .map(|i| (i * width, width.min(l - i * width)))
        .collect()
}

/// `v` resized to `len` elements written by `fill`, which must write them
/// all; no element is set twice.
fn fill_with<F: Float>(v: &mut CachedVec<F>, len: usize, fill: impl FnOnce(&mut [MaybeUninit<F>])) {
    v.clear();
    v.reserve(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: `fill` writes every one of the first `len` slots (its contract,
    // kept by pad_planes and im2col_tile).
    unsafe { v.set_len(len) };
}

/// Scratch of one task: the padded input planes of the block last padded,
/// and the unfolded tile.
struct Scratch<F> {
    padded: CachedVec<F>,
    padded_block: Option<usize>,
    tile: CachedVec<F>,
}

impl<F> Scratch<F> {
    fn new() -> Self {
        Self {
            padded: CachedVec::with_capacity(0),
            padded_block: None,
            tile: CachedVec::with_capacity(0),
        }
    }
}

/// The tiles of one geometry's unfolded input.
struct Unfolder<'g> {
    geom: &'g ConvGeom,
    g3: Geom3,
    pointwise: bool,
}

impl<'g> Unfolder<'g> {
    fn new(geom: &'g ConvGeom) -> Self {
        Self {
            geom,
            g3: geom.as_3d(),
            pointwise: geom.is_pointwise(),
        }
    }

    /// Elements of the planes the taps read, per channel.
    fn source_plane(&self) -> usize {
        self.g3.source_dims().iter().product()
    }

    /// The `R x width` tile of block `block` (sample and group) whose input
    /// planes are `xg`.
    fn tile<'a, F: Float>(
        &self,
        xg: &'a [F],
        block: usize,
        start: usize,
        width: usize,
        s: &'a mut Scratch<F>,
    ) -> MatRef<'a, F> {
        let (r, l, cg) = (self.geom.rows(), self.geom.positions(), self.geom.cg());
        if self.pointwise {
            return MatRef::new(&xg[start..], r, width, l, 1);
        }
        let src: &[F] = if self.g3.is_padded() {
            if s.padded_block != Some(block) {
                fill_with(&mut s.padded, cg * self.source_plane(), |out| {
                    pad_planes(xg, cg, &self.g3, out);
                });
                s.padded_block = Some(block);
            }
            &s.padded
        } else {
            xg
        };
        let runs = self.runs(start, width);
        fill_with(&mut s.tile, r * width, |out| {
            im2col_tile(src, cg, &self.g3, &runs, width, out);
        });
        MatRef::row_major(&s.tile, r, width)
    }

    fn runs(&self, start: usize, width: usize) -> Vec<Run> {
        runs(&self.g3, start, width)
    }
}

/// How the `(n, g)` blocks and the products inside them share the threads.
fn block_par(geom: &ConvGeom, par: Par) -> (Par, Par) {
    if par == Par::Seq {
        (Par::Seq, Par::Seq)
    } else if geom.n * geom.groups >= MIN_BLOCKS {
        (Par::Rayon, Par::Seq)
    } else {
        (Par::Seq, Par::Rayon)
    }
}

/// The forward convolution: `y` `(n, cout, *output)` from `x` `(n, c,
/// *input)`, `w` `(cout, cg, *kernel)` and an optional bias `(cout)`.
pub(crate) fn forward<F: Float>(
    x: &[F],
    w: &[F],
    b: Option<&[F]>,
    geom: &ConvGeom,
    par: Par,
) -> Vec<F> {
    let (cg, cog, r, l) = (geom.cg(), geom.cog(), geom.rows(), geom.positions());
    let plane = geom.plane();
    let len = geom.n * geom.cout * l;
    if len == 0 {
        return Vec::new();
    }
    let unfold = Unfolder::new(geom);
    let tiles = tiles(geom);
    let (outer, inner) = block_par(geom, par);
    // Each block is zeroed by its task right before its products fill it.
    init_chunks(outer, len, cog * l, F::zero(), |ng, yb| {
        let g = ng % geom.groups;
        let xg = &x[ng * cg * plane..][..cg * plane];
        let wg = MatRef::row_major(&w[g * cog * r..], cog, r);
        let mut scratch = Scratch::new();
        for &(start, width) in &tiles {
            let u = unfold.tile(xg, ng, start, width, &mut scratch);
            gemm(
                F::one(),
                wg,
                u,
                F::zero(),
                MatMut::new(&mut yb[start..], cog, width, l),
                inner,
            );
            if let Some(b) = b {
                for (o, row) in yb.chunks_mut(l).enumerate() {
                    let bias = b[g * cog + o];
                    row[start..start + width]
                        .iter_mut()
                        .for_each(|v| *v += bias);
                }
            }
        }
    })
}

/// The input gradient: `dx` `(n, c, *input)` from `dy` `(n, cout,
/// *output)` and `w`.
pub(crate) fn backward_input<F: Float>(dy: &[F], w: &[F], geom: &ConvGeom, par: Par) -> Vec<F> {
    let (cg, cog, r, l) = (geom.cg(), geom.cog(), geom.rows(), geom.positions());
    let plane = geom.plane();
    let len = geom.n * geom.c * plane;
    if len == 0 {
        return Vec::new();
    }
    let unfold = Unfolder::new(geom);
    let tiles = tiles(geom);
    let (outer, inner) = block_par(geom, par);
    init_chunks(outer, len, cg * plane, F::zero(), |ng, dxb| {
        let g = ng % geom.groups;
        let dyg = &dy[(ng * cog) * l..][..cog * l];
        // W_gᵀ: R x cog, the weight block read with swapped strides.
        let wt = MatRef::row_major(&w[g * cog * r..], cog, r).t();
        if unfold.pointwise {
            gemm(
                F::one(),
                wt,
                MatRef::row_major(dyg, cog, l),
                F::zero(),
                MatMut::row_major(dxb, r, l),
                inner,
            );
            return;
        }
        // The tile products overwrite their scratch (beta = 0); a padded
        // input's gradient gathers in padded planes first.
        let widest = tiles.iter().map(|t| t.1).max().unwrap_or(0);
        let mut cols = CachedVec::filled(r * widest, F::zero());
        let mut padded = unfold
            .g3
            .is_padded()
            .then(|| CachedVec::filled(cg * unfold.source_plane(), F::zero()));
        for &(start, width) in &tiles {
            let gy = MatRef::new(&dyg[start..], cog, width, l, 1);
            gemm(
                F::one(),
                wt,
                gy,
                F::zero(),
                MatMut::row_major(&mut cols, r, width),
                inner,
            );
            let target: &mut [F] = match padded.as_mut() {
                Some(p) => p,
                None => dxb,
            };
            col2im_tile(
                &cols,
                cg,
                &unfold.g3,
                &unfold.runs(start, width),
                width,
                target,
            );
        }
        if let Some(p) = padded {
            unpad_planes(&p, cg, &unfold.g3, dxb);
        }
    })
}

/// The weight gradient `(cout, cg, *kernel)` from `dy` and `x`.
pub(crate) fn backward_weight<F: Float>(dy: &[F], x: &[F], geom: &ConvGeom, par: Par) -> Vec<F> {
    let (cg, cog, r, l) = (geom.cg(), geom.cog(), geom.rows(), geom.positions());
    let plane = geom.plane();
    let size = geom.cout * r;
    let tiles = tiles(geom);
    // Items (n, tile), in order; cut into runs of consecutive items.
    let items = geom.n * tiles.len();
    if size == 0 || items == 0 || l == 0 {
        return vec_filled(size, F::zero());
    }
    let elems = geom
        .n
        .saturating_mul(geom.c)
        .saturating_mul(geom.taps())
        .saturating_mul(l);
    let partials = (elems / PARTIAL_MIN_ELEMS).clamp(1, MAX_PARTIALS.min(items));
    let per = items.div_ceil(partials);
    let partials = items.div_ceil(per);
    let unfold = Unfolder::new(geom);
    let inner = if partials == 1 && par != Par::Seq {
        Par::Rayon
    } else {
        Par::Seq
    };
    let outer = if partials > 1 { par } else { Par::Seq };
    let sums = init_chunks(outer, partials * size, size, F::zero(), |p, dw| {
        // One scratch per group, so each keeps its padded block across tiles.
        let mut scratch: Vec<Scratch<F>> = (0..geom.groups).map(|_| Scratch::new()).collect();
        for item in p * per..((p + 1) * per).min(items) {
            let (n, (start, width)) = (item / tiles.len(), tiles[item % tiles.len()]);
            for (g, s) in scratch.iter_mut().enumerate() {
                let ng = n * geom.groups + g;
                let xg = &x[ng * cg * plane..][..cg * plane];
                let dyg = &dy[ng * cog * l..][..cog * l];
                let u = unfold.tile(xg, ng, start, width, s);
                let gy = MatRef::new(&dyg[start..], cog, width, l, 1);
                // dW_g (cog x R) += dY tile (cog x width) · Uᵀ (width x R).
                gemm(
                    F::one(),
                    gy,
                    u.t(),
                    F::one(),
                    MatMut::row_major(&mut dw[g * cog * r..], cog, r),
                    inner,
                );
            }
        }
    });
    if partials == 1 {
        return sums;
    }
    // Add the partial sums in order: 0 + 1 + 2 + ... per element.
    let mut dw = vec_filled(size, F::zero());
    dw.copy_from_slice(&sums[..size]);
    for part in sums[size..].chunks(size) {
        dw.iter_mut().zip(part).for_each(|(a, &b)| *a += b);
    }
    dw
}
