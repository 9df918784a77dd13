//! Max pooling kernels (forward, backward = scatter-add to the argmax,
//! double backward = gather from the argmax) and their autograd ops.
//!
//! The forward pass sweeps, for every output row, the valid input rows of
//! its windows in row-major tap order, so ties keep the first maximum
//! (strict `>`), and a NaN always wins (`v > m || v.is_nan()`), the last
//! NaN of a window being reported, as in PyTorch. Padding is never read,
//! which makes it act as minus infinity.

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Var};
use core_tensor::{Float, Par, Tensor};

use crate::argmax::{ArgMax, Offset, Offsets, row_base};
use crate::geometry::{AxisPlan, Geometry};

/// Max pooling forward over `x` (contiguous `planes × plane_in`): the
/// maxima and their compact argmax.
///
/// Also used for adaptive max pooling (the geometry decides the windows).
pub fn forward<F: Float>(x: &[F], geom: &Arc<Geometry>, par: Par) -> (Vec<F>, ArgMax) {
    let vol = geom.window_volume();
    let (y, offsets) = if vol <= 1 << 8 {
        let (y, t) = forward_typed::<F, u8>(x, geom, par);
        (y, Offsets::U8(t))
    } else if vol <= 1 << 16 {
        let (y, t) = forward_typed::<F, u16>(x, geom, par);
        (y, Offsets::U16(t))
    } else {
        let (y, t) = forward_typed::<F, u32>(x, geom, par);
        (y, Offsets::U32(t))
    };
    (y, ArgMax::new(Arc::clone(geom), offsets))
}

fn forward_typed<F: Float, O: Offset>(x: &[F], g: &Geometry, par: Par) -> (Vec<F>, Vec<O>) {
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        x.len(),
        g.planes * pin,
        "max_pool forward: input length does not match the geometry"
    );
    let mut y = vec![F::neg_infinity(); g.planes * pout];
    let mut t = vec![O::default(); g.planes * pout];
    par.for_work(x.len())
        .for_each_chunk_pair_mut(&mut y, pout, &mut t, pout, |p, yp, tp| {
            max_plane(&x[p * pin..(p + 1) * pin], g, yp, tp);
        });
    (y, t)
}

fn max_plane<F: Float, O: Offset>(x: &[F], g: &Geometry, y: &mut [F], t: &mut [O]) {
    let [ad, ah, aw] = &g.axes;
    let [_, hh, ww] = g.in3();
    let own = aw.out;
    for od in 0..ad.out {
        for oh in 0..ah.out {
            let row = (od * ah.out + oh) * own;
            let yr = &mut y[row..row + own];
            let tr = &mut t[row..row + own];
            let mut first = true;
            for td in ad.lo[od]..ad.hi[od] {
                for th in ah.lo[oh]..ah.hi[oh] {
                    let r = (ad.pos(od, td) * hh + ah.pos(oh, th)) * ww;
                    let xr = &x[r..r + ww];
                    let code = (td * ah.ext + th) * aw.ext;
                    if first {
                        for ((yv, tv), o) in yr.iter_mut().zip(tr.iter_mut()).zip(0..) {
                            *yv = F::neg_infinity();
                            *tv = O::from_usize(code + aw.lo[o]);
                        }
                        first = false;
                    }
                    sweep_max(xr, yr, tr, aw, code);
                }
            }
        }
    }
}

/// Updates the running maxima of one output row with one input row.
#[inline]
fn sweep_max<F: Float, O: Offset>(
    xr: &[F],
    yr: &mut [F],
    tr: &mut [O],
    aw: &AxisPlan,
    code: usize,
) {
    let (a, b) = aw.full;
    for ow in (0..a).chain(b..aw.out) {
        let (mut m, mut c) = (yr[ow], tr[ow]);
        for tw in aw.lo[ow]..aw.hi[ow] {
            let v = xr[aw.pos(ow, tw)];
            if v > m || v.is_nan() {
                m = v;
                c = O::from_usize(code + tw);
            }
        }
        yr[ow] = m;
        tr[ow] = c;
    }
    if a >= b {
        return;
    }
    let base = aw.start[a] as usize;
    match (aw.stride, aw.ext) {
        (Some(s), 2) => {
            sweep_fixed::<F, O, 2>(xr, &mut yr[a..b], &mut tr[a..b], base, s, aw.dil, code)
        }
        (Some(s), 3) => {
            sweep_fixed::<F, O, 3>(xr, &mut yr[a..b], &mut tr[a..b], base, s, aw.dil, code)
        }
        (Some(s), 4) => {
            sweep_fixed::<F, O, 4>(xr, &mut yr[a..b], &mut tr[a..b], base, s, aw.dil, code)
        }
        _ => {
            for ow in a..b {
                let (mut m, mut c) = (yr[ow], tr[ow]);
                for tw in 0..aw.ext {
                    let v = xr[aw.pos(ow, tw)];
                    if v > m || v.is_nan() {
                        m = v;
                        c = O::from_usize(code + tw);
                    }
                }
                yr[ow] = m;
                tr[ow] = c;
            }
        }
    }
}

#[inline(always)]
fn sweep_fixed<F: Float, O: Offset, const K: usize>(
    xr: &[F],
    yr: &mut [F],
    tr: &mut [O],
    base: usize,
    s: usize,
    dil: usize,
    code: usize,
) {
    if s == K && dil == 1 {
        // Non-overlapping windows: chunks of K consecutive elements.
        let xs = &xr[base..base + K * yr.len()];
        for ((w, yv), tv) in xs.chunks_exact(K).zip(yr.iter_mut()).zip(tr.iter_mut()) {
            let (mut m, mut c) = (*yv, *tv);
            for (k, &v) in w.iter().enumerate() {
                if v > m || v.is_nan() {
                    m = v;
                    c = O::from_usize(code + k);
                }
            }
            *yv = m;
            *tv = c;
        }
        return;
    }
    for (i, (yv, tv)) in yr.iter_mut().zip(tr.iter_mut()).enumerate() {
        let b = base + i * s;
        let (mut m, mut c) = (*yv, *tv);
        for k in 0..K {
            let v = xr[b + k * dil];
            if v > m || v.is_nan() {
                m = v;
                c = O::from_usize(code + k);
            }
        }
        *yv = m;
        *tv = c;
    }
}

/// Max pooling backward: `dx[argmax(o)] += dy[o]` (contributions of
/// overlapping windows accumulate).
pub fn backward<F: Float>(dy: &[F], argmax: &ArgMax, par: Par) -> Vec<F> {
    let g = &*argmax.geom;
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        dy.len(),
        g.planes * pout,
        "max_pool backward: gradient length does not match the geometry"
    );
    let mut dx = vec![F::zero(); g.planes * pin];
    if g.planes == 0 {
        return dx;
    }
    par.for_work(dx.len() + dy.len())
        .for_each_chunk_mut(&mut dx, pin, |p, dxp| {
            let dyp = &dy[p * pout..(p + 1) * pout];
            for_each_pos(argmax, p, |o, pos| dxp[pos] += dyp[o]);
        });
    dx
}

/// The double backward of max pooling: `out[o] = v[argmax(o)]`, a gather of
/// an input-shaped tensor at the argmax (the adjoint of [`backward`]).
pub fn gather<F: Float>(v: &[F], argmax: &ArgMax, par: Par) -> Vec<F> {
    let g = &*argmax.geom;
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        v.len(),
        g.planes * pin,
        "max_pool gather: input length does not match the geometry"
    );
    let mut out = vec![F::zero(); g.planes * pout];
    if g.planes == 0 {
        return out;
    }
    par.for_work(out.len())
        .for_each_chunk_mut(&mut out, pout, |p, op| {
            let vp = &v[p * pin..(p + 1) * pin];
            for_each_pos(argmax, p, |o, pos| op[o] = vp[pos]);
        });
    out
}

/// Calls `f(o, pos)` for every output `o` of plane `p` with the plane
/// position of its argmax, in output order.
#[inline]
fn for_each_pos(argmax: &ArgMax, p: usize, mut f: impl FnMut(usize, usize)) {
    match &argmax.offsets {
        Offsets::U8(t) => walk(argmax, &t[plane_range(argmax, p)], &mut f),
        Offsets::U16(t) => walk(argmax, &t[plane_range(argmax, p)], &mut f),
        Offsets::U32(t) => walk(argmax, &t[plane_range(argmax, p)], &mut f),
    }
}

fn plane_range(argmax: &ArgMax, p: usize) -> std::ops::Range<usize> {
    let pout = argmax.geom.plane_out();
    p * pout..(p + 1) * pout
}

#[inline(always)]
fn walk<O: Offset>(argmax: &ArgMax, t: &[O], f: &mut impl FnMut(usize, usize)) {
    let g = &*argmax.geom;
    let [ad, ah, aw] = &g.axes;
    let own = aw.out;
    if argmax.rel.is_empty() {
        for (o, c) in t.iter().enumerate() {
            f(o, argmax.plane_pos(o, c.get()));
        }
        return;
    }
    let rel = &argmax.rel[..];
    for od in 0..ad.out {
        for oh in 0..ah.out {
            let row = (od * ah.out + oh) * own;
            let base = row_base(g, od, oh);
            for (ow, c) in t[row..row + own].iter().enumerate() {
                let pos = base + aw.start[ow] + rel[c.get()];
                f(row + ow, pos as usize);
            }
        }
    }
}

/// Autograd op of max pooling: saves only the compact argmax.
pub(crate) struct MaxPoolFn {
    pub(crate) argmax: Arc<ArgMax>,
    pub(crate) name: &'static str,
}

/// `dx = scatter(dy)`, recorded so it can be differentiated again.
pub(crate) fn scatter_op<F: Float>(
    dy: &Var<F>,
    argmax: &Arc<ArgMax>,
    name: &'static str,
) -> autograd::Result<Var<F>> {
    let value = backward(dy.value().as_slice(), argmax, Par::Rayon);
    let t = Tensor::from_vec(&argmax.geom.input_shape(), value)?;
    Ok(Var::from_op(
        t,
        vec![dy.clone()],
        MaxScatterFn {
            argmax: Arc::clone(argmax),
            name,
        },
    ))
}

/// `out = gather(v)`, recorded so it can be differentiated again.
pub(crate) fn gather_op<F: Float>(
    v: &Var<F>,
    argmax: &Arc<ArgMax>,
    name: &'static str,
) -> autograd::Result<Var<F>> {
    let value = gather(v.value().as_slice(), argmax, Par::Rayon);
    let t = Tensor::from_vec(&argmax.geom.output_shape(), value)?;
    Ok(Var::from_op(
        t,
        vec![v.clone()],
        MaxGatherFn {
            argmax: Arc::clone(argmax),
            name,
        },
    ))
}

impl<F: Float> Backward<F> for MaxPoolFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(scatter_op(
            ctx.grad_output,
            &self.argmax,
            "max_pool_backward",
        )?)])
    }
}

/// The backward of max pooling as an op (linear in `dy`): its own backward is a gather.
pub(crate) struct MaxScatterFn {
    argmax: Arc<ArgMax>,
    name: &'static str,
}

impl<F: Float> Backward<F> for MaxScatterFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(gather_op(
            ctx.grad_output,
            &self.argmax,
            "max_pool_double_backward",
        )?)])
    }
}

/// Gather at the argmax as an op: its backward is the scatter again.
pub(crate) struct MaxGatherFn {
    argmax: Arc<ArgMax>,
    name: &'static str,
}

impl<F: Float> Backward<F> for MaxGatherFn {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> autograd::Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(scatter_op(
            ctx.grad_output,
            &self.argmax,
            "max_pool_backward",
        )?)])
    }
}
