//! Convolution as matrix products over the unfolded input, one tile of
//! output positions at a time.
//!
//! For group `g`, with `W_g` the group's weight as a `cog x R` matrix
//! (`R = cg · taps`) and `U` the group's unfolded input (`R` rows, one
//! column per output position of every sample, see [`super::im2col`]):
//!
//! - forward: `Y_g = W_g · U + b`;
//! - input gradient: `dX_g = col2im(W_gᵀ · dY_g)`;
//! - weight gradient: `dW_g = dY_g · Uᵀ`, computed as its transpose `U · dY_gᵀ`.
//!
//! `U` is never built whole. The samples are taken in blocks: one sample
//! whose positions are cut into tiles of at most [`TILE_ELEMS`] unfolded
//! elements, or, when a sample's positions are fewer than a tile holds,
//! up to [`MAX_BLOCK_SAMPLES`] samples side by side in one tile, so the
//! products stay large for small images. A tile is unfolded into scratch
//! that stays in the core's cache and multiplied at once. A padded input is
//! first copied with its zeros into scratch planes, once per block and
//! group, so the unfolding never checks bounds. A pointwise convolution
//! (kernel 1, stride 1, no padding) needs no unfolding: `U` is the input
//! itself. Transposed operands are strided views, never copies.
//!
//! Parallel work is split by the problem's size only: blocks of samples
//! are independent tasks; when there are fewer than [`MIN_BLOCKS`] of
//! them, the matrix products themselves split (by
//! [`core_tensor::gemm::gemm`]'s size-only rule). The weight gradient's sum
//! is cut into at most [`MAX_PARTIALS`] runs of consecutive `(block, tile)`
//! items whose partial sums are added in order. Results are therefore
//! bitwise equal on any number of threads.

use std::mem::MaybeUninit;

use core_tensor::alloc::{CachedVec, vec_filled};
use core_tensor::chunks::init_chunks;
use core_tensor::gemm::{MatMut, MatRef, gemm};
use core_tensor::{Float, Par};

use super::im2col::{col2im_tile, im2col_tile, pad_planes, runs_at, unpad_planes};
use crate::ConvGeom;
use crate::geometry::Geom3;

/// Unfolded elements per tile (rows x positions).
pub(crate) const TILE_ELEMS: usize = 1 << 17;

/// Positions per tile are a multiple of this when a sample's positions are
/// cut into several tiles: the row count of the `gemm` crate's widest f32
/// micro-kernel (4 AVX-512 vectors), as the product sees positions.
const TILE_ALIGN: usize = 64;

/// Most samples side by side in one tile.
pub(crate) const MAX_BLOCK_SAMPLES: usize = 8;

/// Fewest blocks for which blocks run in parallel; below, the matrix
/// products split instead.
pub(crate) const MIN_BLOCKS: usize = 4;

/// Most partial sums of the weight gradient.
pub(crate) const MAX_PARTIALS: usize = 8;

/// Fewest unfolded elements per partial sum of the weight gradient.
const PARTIAL_MIN_ELEMS: usize = 1 << 16;

/// `v` resized to `len` elements written by `fill`, which must write them
/// all.
fn fill_with<F: Float>(v: &mut CachedVec<F>, len: usize, fill: impl FnOnce(&mut [MaybeUninit<F>])) {
    v.clear();
    v.reserve(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: `fill` writes every one of the first `len` slots (its contract,
    // kept by the callers: pad_planes, im2col_tile over all samples).
    unsafe { v.set_len(len) };
}

/// `v` as `len` zeros.
fn zeroed<F: Float>(v: &mut CachedVec<F>, len: usize) {
    v.clear();
    v.resize(len, F::zero());
}

/// The first `len` elements of `v`, grown with zeros if it is shorter: for
/// outputs of products that overwrite them (beta = 0), so the zeros are
/// written once per task rather than per tile.
fn at_least<F: Float>(v: &mut CachedVec<F>, len: usize) -> &mut [F] {
    if v.len() < len {
        v.resize(len, F::zero());
    }
    &mut v[..len]
}

/// `dY` of group `g` for the tile `(start, width)` of each sample, the
/// samples side by side: a strided view for one sample, a gathered copy in
/// `side` for several.
#[allow(clippy::too_many_arguments)]
fn gathered_dy<'a, F: Float>(
    dy: &'a [F],
    geom: &ConvGeom,
    g: usize,
    samples: std::ops::Range<usize>,
    start: usize,
    width: usize,
    side: &'a mut CachedVec<F>,
) -> MatRef<'a, F> {
    let (cog, l) = (geom.cog(), geom.positions());
    if samples.len() == 1 {
        let at = (samples.start * geom.groups + g) * cog * l + start;
        return MatRef::new(&dy[at..], cog, width, l, 1);
    }
    let cols = samples.len() * width;
    fill_with(side, cog * cols, |out| {
        for (o, row) in out.chunks_exact_mut(cols).enumerate() {
            for (i, n) in samples.clone().enumerate() {
                let at = ((n * geom.groups + g) * cog + o) * l + start;
                for (d, &v) in row[i * width..][..width]
                    .iter_mut()
                    .zip(&dy[at..at + width])
                {
                    d.write(v);
                }
            }
        }
    });
    MatRef::row_major(side, cog, cols)
}

/// How the samples are taken: blocks of `per_block` samples (the last may
/// hold fewer), and the tiles of one sample's positions.
struct Plan<'g> {
    geom: &'g ConvGeom,
    g3: Geom3,
    pointwise: bool,
    per_block: usize,
    /// Tiles `(start, width)` of one sample's positions; with several
    /// samples per block, one tile of all of them.
    tiles: Vec<(usize, usize)>,
}

impl<'g> Plan<'g> {
    fn new(geom: &'g ConvGeom) -> Self {
        let (l, r) = (geom.positions(), geom.rows().max(1));
        let pointwise = geom.is_pointwise();
        let width = if pointwise {
            l.max(1)
        } else {
            (TILE_ELEMS / r).max(16)
        };
        let per_block = if pointwise || l >= width || l == 0 {
            1
        } else {
            (width / l).clamp(1, MAX_BLOCK_SAMPLES).min(geom.n.max(1))
        };
        let tiles = if per_block > 1 || l == 0 {
            vec![(0, l)]
        } else {
            // Whole blocks of the products' micro-kernels where a sample
            // is cut into several tiles.
            let width = if width < l && width >= 2 * TILE_ALIGN {
                width / TILE_ALIGN * TILE_ALIGN
            } else {
                width.min(l)
            };
            (0..l.div_ceil(width))
                .map(|i| (i * width, width.min(l - i * width)))
                .collect()
        };
        Self {
            geom,
            g3: geom.as_3d(),
            pointwise,
            per_block,
            tiles,
        }
    }

    fn blocks(&self) -> usize {
        self.geom.n.div_ceil(self.per_block)
    }

    /// The samples of block `b`.
    fn samples(&self, b: usize) -> std::ops::Range<usize> {
        b * self.per_block..((b + 1) * self.per_block).min(self.geom.n)
    }

    /// Elements of the planes the taps read, per channel.
    fn source_plane(&self) -> usize {
        self.g3.source_dims().iter().product()
    }

    /// How the blocks and the products inside them share the threads.
    fn par(&self, par: Par) -> (Par, Par) {
        if par == Par::Seq {
            (Par::Seq, Par::Seq)
        } else if self.blocks() >= MIN_BLOCKS {
            (Par::Rayon, Par::Seq)
        } else {
            (Par::Seq, Par::Rayon)
        }
    }

    /// The `R x (count · width)` tile of group `g` for the samples
    /// `samples` (input `x`), positions `start..start + width` of each.
    fn tile<'a, F: Float>(
        &self,
        x: &'a [F],
        g: usize,
        samples: std::ops::Range<usize>,
        start: usize,
        width: usize,
        s: &'a mut Scratch<F>,
    ) -> MatRef<'a, F> {
        let geom = self.geom;
        let (r, l, cg, plane) = (geom.rows(), geom.positions(), geom.cg(), geom.plane());
        let count = samples.len();
        let block_of = |n: usize| &x[(n * geom.groups + g) * cg * plane..][..cg * plane];
        if self.pointwise {
            return MatRef::new(&block_of(samples.start)[start..], r, width, l, 1);
        }
        let src_plane = cg * self.source_plane();
        if self.g3.is_padded() && s.padded_for != Some((samples.start, g)) {
            fill_with(&mut s.padded, count * src_plane, |out| {
                for (i, n) in samples.clone().enumerate() {
                    pad_planes(
                        block_of(n),
                        cg,
                        &self.g3,
                        &mut out[i * src_plane..][..src_plane],
                    );
                }
            });
            s.padded_for = Some((samples.start, g));
        }
        let (g3, padded) = (&self.g3, &s.padded);
        let cols = count * width;
        fill_with(&mut s.tile, r * cols, |out| {
            for (i, n) in samples.clone().enumerate() {
                let src: &[F] = if g3.is_padded() {
                    &padded[i * src_plane..][..src_plane]
                } else {
                    block_of(n)
                };
                im2col_tile(
                    src,
                    cg,
                    g3,
                    &runs_at(g3, start, width, i * width),
                    cols,
                    out,
                );
            }
        });
        MatRef::row_major(&s.tile, r, cols)
    }
}

/// Scratch of one task: padded input planes (of the block and group last
/// padded) and the unfolded tile.
struct Scratch<F> {
    padded: CachedVec<F>,
    padded_for: Option<(usize, usize)>,
    tile: CachedVec<F>,
}

impl<F> Scratch<F> {
    fn new() -> Self {
        Self {
            padded: CachedVec::with_capacity(0),
            padded_for: None,
            tile: CachedVec::with_capacity(0),
        }
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
    let (cog, r, l) = (geom.cog(), geom.rows(), geom.positions());
    let len = geom.n * geom.cout * l;
    if len == 0 {
        return Vec::new();
    }
    let plan = Plan::new(geom);
    let (outer, inner) = plan.par(par);
    // Each block is zeroed by its task right before its products fill it.
    init_chunks(
        outer,
        len,
        plan.per_block * geom.cout * l,
        F::zero(),
        |blk, yb| {
            let samples = plan.samples(blk);
            let count = samples.len();
            let mut s = Scratch::new();
            let mut side = CachedVec::with_capacity(0);
            for g in 0..geom.groups {
                let wg = MatRef::row_major(&w[g * cog * r..], cog, r);
                for &(start, width) in &plan.tiles {
                    let u = plan.tile(x, g, samples.clone(), start, width, &mut s);
                    if count == 1 {
                        let out = MatMut::new(&mut yb[g * cog * l + start..], cog, width, l);
                        gemm(F::one(), wg, u, F::zero(), out, inner);
                    } else {
                        // Several samples side by side: the product goes to
                        // scratch, then row by row to each sample's rows.
                        let prod = at_least(&mut side, cog * count * width);
                        gemm(
                            F::one(),
                            wg,
                            u,
                            F::zero(),
                            MatMut::row_major(prod, cog, count * width),
                            inner,
                        );
                        for (o, row) in prod.chunks_exact(count * width).enumerate() {
                            for i in 0..count {
                                let at = (i * geom.cout + g * cog + o) * l + start;
                                yb[at..at + width].copy_from_slice(&row[i * width..][..width]);
                            }
                        }
                    }
                }
            }
            if let Some(b) = b {
                for (row, v) in yb.chunks_exact_mut(l).enumerate() {
                    let bias = b[row % geom.cout];
                    v.iter_mut().for_each(|y| *y += bias);
                }
            }
        },
    )
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
    let plan = Plan::new(geom);
    let (outer, inner) = plan.par(par);
    let src_plane = cg * plan.source_plane();
    init_chunks(
        outer,
        len,
        plan.per_block * geom.c * plane,
        F::zero(),
        |blk, dxb| {
            let samples = plan.samples(blk);
            let count = samples.len();
            let mut s = Scratch::new();
            let mut side = CachedVec::with_capacity(0);
            for g in 0..geom.groups {
                // W_gᵀ: R x cog, the weight block read with swapped strides.
                let wt = MatRef::row_major(&w[g * cog * r..], cog, r).t();
                let dx_of = |i: usize| (i * geom.groups + g) * cg * plane;
                if plan.pointwise {
                    let n = samples.start;
                    let dyg = &dy[(n * geom.groups + g) * cog * l..][..cog * l];
                    let out = MatMut::row_major(&mut dxb[dx_of(0)..][..cg * plane], r, l);
                    gemm(
                        F::one(),
                        wt,
                        MatRef::row_major(dyg, cog, l),
                        F::zero(),
                        out,
                        inner,
                    );
                    continue;
                }
                if plan.g3.is_padded() {
                    zeroed(&mut s.padded, count * src_plane);
                }
                for &(start, width) in &plan.tiles {
                    let cols = count * width;
                    let gy = gathered_dy(dy, geom, g, samples.clone(), start, width, &mut side);
                    let prod = at_least(&mut s.tile, r * cols);
                    gemm(
                        F::one(),
                        wt,
                        gy,
                        F::zero(),
                        MatMut::row_major(prod, r, cols),
                        inner,
                    );
                    for i in 0..count {
                        let runs = runs_at(&plan.g3, start, width, i * width);
                        let target: &mut [F] = if plan.g3.is_padded() {
                            &mut s.padded[i * src_plane..][..src_plane]
                        } else {
                            &mut dxb[dx_of(i)..][..cg * plane]
                        };
                        col2im_tile(&s.tile[..r * cols], cg, &plan.g3, &runs, cols, target);
                    }
                }
                if plan.g3.is_padded() {
                    for i in 0..count {
                        unpad_planes(
                            &s.padded[i * src_plane..][..src_plane],
                            cg,
                            &plan.g3,
                            &mut dxb[dx_of(i)..][..cg * plane],
                        );
                    }
                }
            }
        },
    )
}

/// The weight gradient `(cout, cg, *kernel)` from `dy` and `x`.
pub(crate) fn backward_weight<F: Float>(dy: &[F], x: &[F], geom: &ConvGeom, par: Par) -> Vec<F> {
    let (cog, r, l) = (geom.cog(), geom.rows(), geom.positions());
    let size = geom.cout * r;
    let plan = Plan::new(geom);
    // Items (block, tile), in order; cut into runs of consecutive items.
    let tiles = plan.tiles.len();
    let items = plan.blocks() * tiles;
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
    let inner = if partials == 1 && par != Par::Seq {
        Par::Rayon
    } else {
        Par::Seq
    };
    let outer = if partials > 1 { par } else { Par::Seq };
    // Partial sums of dW_gᵀ, one R x cog block per group: with the
    // position axis of U contiguous, the product packs its operands fastest
    // this way round (see PERF.md).
    let sums = init_chunks(outer, partials * size, size, F::zero(), |p, dwt| {
        let mut s = Scratch::new();
        let mut side = CachedVec::with_capacity(0);
        for item in p * per..((p + 1) * per).min(items) {
            let samples = plan.samples(item / tiles);
            let (start, width) = plan.tiles[item % tiles];
            for g in 0..geom.groups {
                let gy = gathered_dy(dy, geom, g, samples.clone(), start, width, &mut side);
                let u = plan.tile(x, g, samples.clone(), start, width, &mut s);
                // dW_gᵀ (R x cog) += U (R x cols) · dY tileᵀ (cols x cog).
                gemm(
                    F::one(),
                    u,
                    gy.t(),
                    F::one(),
                    MatMut::row_major(&mut dwt[g * cog * r..], r, cog),
                    inner,
                );
            }
        }
    });
    // Add the partial sums in order (0 + 1 + 2 + ... per element), each
    // group's block turned from R x cog to cog x R on the way.
    let (first, rest) = sums.split_at(size);
    let mut dw = vec_filled(size, F::zero());
    for (g, (dwg, firstg)) in dw
        .chunks_exact_mut(cog * r)
        .zip(first.chunks_exact(cog * r))
        .enumerate()
    {
        for (i, row) in firstg.chunks_exact(cog).enumerate() {
            for (o, &v) in row.iter().enumerate() {
                let mut acc = v;
                for part in rest.chunks_exact(size) {
                    acc += part[g * cog * r + i * cog + o];
                }
                dwg[o * r + i] = acc;
            }
        }
    }
    dw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConvParams;

    #[test]
    fn tiles_cut_positions_in_whole_micro_kernel_blocks() {
        // 144 unfolded rows: at most 910 positions a tile, 896 aligned.
        let geom = ConvGeom::new(
            &[3, 16, 47, 45],
            &[4, 16, 3, 3],
            &ConvParams::new(2).padding(1),
        )
        .unwrap();
        let plan = Plan::new(&geom);
        assert_eq!(plan.per_block, 1);
        assert_eq!(plan.tiles, [(0, 896), (896, 896), (1792, 323)]);
        // Small images: several samples side by side in one tile.
        let geom = ConvGeom::new(
            &[64, 16, 14, 14],
            &[32, 16, 3, 3],
            &ConvParams::new(2).padding(1),
        )
        .unwrap();
        let plan = Plan::new(&geom);
        assert_eq!(
            (plan.per_block, plan.tiles.as_slice()),
            (4, &[(0, 196)][..])
        );
        // Rows so many that the tile is narrower than two blocks: not aligned.
        let geom = ConvGeom::new(&[1, 1024, 100], &[1, 1024, 3], &ConvParams::new(1)).unwrap();
        let plan = Plan::new(&geom);
        assert_eq!(plan.tiles, [(0, 42), (42, 42), (84, 14)]);
    }
}
