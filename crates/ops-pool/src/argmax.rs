//! Compact argmax storage: for each output of max pooling, the position of
//! the maximum *inside its window*, in the smallest unsigned type that
//! holds the window volume (`u8` up to 256 taps, then `u16`, then `u32`).
//! PyTorch keeps an `i64` per output; this is 1/8 of that for the usual
//! kernels. The `i64` indices of PyTorch's convention are derived on demand
//! ([`ArgMax::to_indices`]).

use std::sync::Arc;

use crate::geometry::Geometry;

/// An unsigned in-window offset type, or [`NoOffset`]: the max kernels are
/// generic over it, so the values-only forward is the argmax forward with
/// its offset output switched off at compile time.
pub(crate) trait Offset: Copy + Send + Sync + Default + 'static {
    /// Whether offsets are kept (`false` for [`NoOffset`]).
    const KEPT: bool = true;
    /// The running code of the kernels' row passes: `u32`, or [`NoOffset`].
    type Code: Code;
    fn from_usize(v: usize) -> Self;
    fn get(self) -> usize;
}

/// The running in-window code of a max kernel's row pass: a tap index
/// (`u32`) or nothing ([`NoOffset`], where every operation vanishes).
pub(crate) trait Code: Copy + Send + Sync + Default + 'static {
    /// Whether codes are kept (`false` for [`NoOffset`]).
    const KEPT: bool;
    fn at(v: u32) -> Self;
    fn get(self) -> u32;
    /// `new` where `take`, else `old`, without a branch.
    fn pick(take: bool, new: u32, old: Self) -> Self;
    /// `n` codes of scratch space taken from `buf` (none for [`NoOffset`]).
    fn scratch(buf: &mut Vec<u32>, n: usize) -> &mut [Self];
}

impl Code for u32 {
    const KEPT: bool = true;
    #[inline(always)]
    fn at(v: u32) -> Self {
        v
    }
    #[inline(always)]
    fn get(self) -> u32 {
        self
    }
    #[inline(always)]
    fn pick(take: bool, new: u32, old: Self) -> Self {
        std::hint::select_unpredictable(take, new, old)
    }
    fn scratch(buf: &mut Vec<u32>, n: usize) -> &mut [Self] {
        buf.resize(n, 0);
        buf
    }
}

/// No offset: the values-only forward of max pooling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct NoOffset;

impl Offset for NoOffset {
    const KEPT: bool = false;
    type Code = NoOffset;
    #[inline(always)]
    fn from_usize(_: usize) -> Self {
        NoOffset
    }
    #[inline(always)]
    fn get(self) -> usize {
        0
    }
}

impl Code for NoOffset {
    const KEPT: bool = false;
    #[inline(always)]
    fn at(_: u32) -> Self {
        NoOffset
    }
    #[inline(always)]
    fn get(self) -> u32 {
        0
    }
    #[inline(always)]
    fn pick(_: bool, _: u32, _: Self) -> Self {
        NoOffset
    }
    fn scratch(_: &mut Vec<u32>, n: usize) -> &mut [Self] {
        // A vector of a zero-sized type allocates nothing, so leaking it
        // leaks nothing.
        vec![NoOffset; n].leak()
    }
}

macro_rules! offset {
    ($t:ty) => {
        impl Offset for $t {
            type Code = u32;
            #[inline(always)]
            fn from_usize(v: usize) -> Self {
                v as $t
            }
            #[inline(always)]
            fn get(self) -> usize {
                self as usize
            }
        }
    };
}
offset!(u8);
offset!(u16);
offset!(u32);

/// In-window offsets, one per output element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Offsets {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

/// The argmax of a max pooling (or adaptive max pooling) call: the
/// geometry and, per output element, the row-major offset of the chosen
/// tap inside its window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgMax {
    pub(crate) geom: Arc<Geometry>,
    pub(crate) offsets: Offsets,
    /// `rel[c]`: plane offset of tap `c` relative to tap 0 of its window
    /// (empty for huge windows, which decode by division instead).
    pub(crate) rel: Vec<isize>,
}

/// Largest window volume for which the tap offset table is built.
const REL_TABLE_MAX: usize = 1 << 16;

impl ArgMax {
    pub(crate) fn new(geom: Arc<Geometry>, offsets: Offsets) -> Self {
        let rel = rel_table(&geom);
        Self { geom, offsets, rel }
    }

    /// The geometry of the pooling call.
    pub fn geometry(&self) -> &Geometry {
        &self.geom
    }

    /// Number of output elements.
    pub fn len(&self) -> usize {
        match &self.offsets {
            Offsets::U8(v) => v.len(),
            Offsets::U16(v) => v.len(),
            Offsets::U32(v) => v.len(),
        }
    }

    /// Whether there are no output elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes per stored offset (1, 2 or 4).
    pub fn bytes_per_element(&self) -> usize {
        match &self.offsets {
            Offsets::U8(_) => 1,
            Offsets::U16(_) => 2,
            Offsets::U32(_) => 4,
        }
    }

    /// The in-window offset of output element `i` (row-major over the
    /// window's taps).
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn offset(&self, i: usize) -> usize {
        match &self.offsets {
            Offsets::U8(v) => v[i] as usize,
            Offsets::U16(v) => v[i] as usize,
            Offsets::U32(v) => v[i] as usize,
        }
    }

    /// PyTorch's indices: for every output element, the flat index of the
    /// chosen element inside its unpadded `(N, C)` input plane
    /// (`(d * H + h) * W + w`).
    pub fn to_indices(&self) -> Vec<i64> {
        let g = &*self.geom;
        let pout = g.plane_out();
        let mut out = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            out.push(self.plane_pos(i % pout, self.offset(i)) as i64);
        }
        out
    }

    /// Plane position of tap `c` of the window of output `o` (flat in the plane).
    #[inline]
    pub(crate) fn plane_pos(&self, o: usize, c: usize) -> usize {
        let g = &*self.geom;
        let [ad, ah, aw] = &g.axes;
        let [_, hh, ww] = g.in3();
        let ow = o % aw.out;
        let oh = (o / aw.out) % ah.out;
        let od = o / (aw.out * ah.out);
        let tw = c % aw.ext;
        let th = (c / aw.ext) % ah.ext;
        let td = c / (aw.ext * ah.ext);
        (ad.pos(od, td) * hh + ah.pos(oh, th)) * ww + aw.pos(ow, tw)
    }
}

fn rel_table(g: &Geometry) -> Vec<isize> {
    let vol = g.window_volume();
    if vol > REL_TABLE_MAX {
        return Vec::new();
    }
    let [ad, ah, aw] = &g.axes;
    let [_, hh, ww] = g.in3();
    let mut rel = Vec::with_capacity(vol);
    for td in 0..ad.ext {
        for th in 0..ah.ext {
            for tw in 0..aw.ext {
                rel.push((((td * ad.dil) * hh + th * ah.dil) * ww + tw * aw.dil) as isize);
            }
        }
    }
    rel
}

/// Per-output-row base offsets: for output row `(od, oh)`, the plane
/// offset of tap 0 of the window of `ow = 0` minus `start_w[0]`, so the
/// position of tap `c` of output `ow` is `base + start_w[ow] + rel[c]`.
#[inline]
pub(crate) fn row_base(g: &Geometry, od: usize, oh: usize) -> isize {
    let [ad, ah, _] = &g.axes;
    let [_, hh, ww] = g.in3();
    (ad.start[od] * hh as isize + ah.start[oh]) * ww as isize
}
