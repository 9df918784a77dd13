//! Per-channel kernels of an `N, C, S` buffer (`S` = product of the spatial
//! axes): batch norm forward and backward in training (batch statistics)
//! and in eval (running statistics).
//!
//! Large planes (`S ≥ 16`) are processed plane by plane, a plane's
//! coefficients being scalars and its loop contiguous; small planes (batch
//! norm 1-d, `S = 1`) sample by sample over a row of `C·S` values with the
//! per-channel coefficients expanded along the row, so the inner loops stay
//! contiguous and vectorize in both cases. Work is split over planes (hence
//! over channels and batch chunks alike) or over batch chunks.

use core_tensor::chunks::build_chunks;
use core_tensor::{Float, Par, TensorError};

use super::{BLOCK, CHANNEL_PAR_MIN, Moments, channel_par, lane_g_gdev, units_per_task, wide};
use crate::NormError;

/// Planes at least this long are processed one at a time.
const PLANE_MIN: usize = 16;

/// The `N, C, S` view of an input of shape `N, C, *spatial`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelLayout {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Product of the spatial axes (1 for an `N, C` input).
    pub s: usize,
}

impl ChannelLayout {
    /// The layout of a shape of rank at least 2.
    ///
    /// # Errors
    /// [`NormError::WrongRank`] for rank < 2, [`NormError::Tensor`] when the
    /// element count overflows.
    pub fn of_shape(op: &'static str, shape: &[usize]) -> Result<Self, NormError> {
        if shape.len() < 2 {
            return Err(NormError::WrongRank {
                op,
                min: 2,
                layout: "N, C, *",
                shape: shape.to_vec(),
            });
        }
        let overflow = || {
            NormError::Tensor(TensorError::SizeOverflow {
                op,
                shape: shape.to_vec(),
            })
        };
        let s = shape[2..]
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(overflow)?;
        let layout = ChannelLayout {
            n: shape[0],
            c: shape[1],
            s,
        };
        layout.checked_numel().ok_or_else(overflow)?;
        Ok(layout)
    }

    /// `N·C·S`, or `None` on overflow.
    pub fn checked_numel(&self) -> Option<usize> {
        self.n.checked_mul(self.c)?.checked_mul(self.s)
    }

    /// `N·C·S` (a layout built by [`ChannelLayout::of_shape`] cannot overflow).
    pub fn numel(&self) -> usize {
        self.n * self.c * self.s
    }

    /// The number of values each channel's statistics are taken over, `N·S`.
    pub fn per_channel(&self) -> usize {
        self.n * self.s
    }

    fn check(
        &self,
        op: &'static str,
        name: &'static str,
        got: usize,
        per_channel: bool,
    ) -> Result<(), NormError> {
        let (expected, shape) = if per_channel {
            (self.c, vec![self.c])
        } else {
            (self.numel(), vec![self.n, self.c, self.s])
        };
        if got != expected {
            let _ = name;
            return Err(NormError::Tensor(TensorError::LengthMismatch {
                op,
                shape,
                expected,
                got,
            }));
        }
        Ok(())
    }
}

/// Per-channel moments (count `N·S`, mean, `M2`) of `x`: two-pass within
/// each plane, planes merged with Chan's formula; for small planes a global
/// two-pass over whole samples.
///
/// # Errors
/// [`NormError::Tensor`] when `x.len()` is not `N·C·S`.
pub fn channel_moments<F: Float>(
    x: &[F],
    layout: ChannelLayout,
    par: Par,
) -> Result<Vec<Moments>, NormError> {
    layout.check("batch_norm", "x", x.len(), false)?;
    let ChannelLayout { n, c, s } = layout;
    if x.is_empty() {
        return Ok(vec![Moments::EMPTY; c]);
    }
    let par = channel_par(par, x.len());
    if s >= PLANE_MIN {
        let planes = par.map_range(n * c, |p| wide(|| Moments::of(&x[p * s..(p + 1) * s])));
        return Ok((0..c)
            .map(|ch| (0..n).fold(Moments::EMPTY, |acc, i| acc.merge(planes[i * c + ch])))
            .collect());
    }
    // Small planes: tasks of whole samples (rows of `C·S` values). Each task
    // takes two-pass moments of every row position over its own rows, summed
    // in the element type (at most `SMALL_MAX_ROWS` rows, shifted by the
    // task's first row: contiguous, vectorizable loops over a cache-resident
    // block), finished in `f64`; the tasks are then combined per channel.
    let row = c * s;
    let rows_per_task = small_rows_per_task(n, row);
    let parts = par.map_range(n.div_ceil(rows_per_task), |t| {
        wide(
            #[inline(always)]
            || {
                let rows = t * rows_per_task..((t + 1) * rows_per_task).min(n);
                let cnt = rows.len();
                let block = &x[rows.start * row..rows.end * row];
                let first = &block[..row];
                let mut acc = vec![F::zero(); row];
                // Rows in order for every position (four per pass over
                // `acc`, which is then loaded and stored once for four).
                let quads = block[row..].chunks_exact(QUAD * row);
                let rest = quads.remainder();
                // (Indexing slices all cut to `row` lets the compiler drop
                // the bounds checks and vectorize.)
                let acc_q = &mut acc[..row];
                for q in quads {
                    let r: [&[F]; QUAD] = std::array::from_fn(|k| &q[k * row..][..row]);
                    for e in 0..row {
                        let f = first[e];
                        let mut a = acc_q[e];
                        a += r[0][e] - f;
                        a += r[1][e] - f;
                        a += r[2][e] - f;
                        a += r[3][e] - f;
                        acc_q[e] = a;
                    }
                }
                for xr in rest.chunks_exact(row) {
                    for ((a, &v), &f) in acc.iter_mut().zip(xr).zip(first) {
                        *a += v - f;
                    }
                }
                let inv = 1.0 / cnt as f64;
                let mean: Vec<f64> = acc
                    .iter()
                    .zip(first)
                    .map(|(&a, &f)| f.widen() + a.widen() * inv)
                    .collect();
                let mean_f: Vec<F> = mean.iter().map(|&m| F::cast(m)).collect();
                acc.fill(F::zero());
                let quads = block.chunks_exact(QUAD * row);
                let rest = quads.remainder();
                let (acc_q, mq) = (&mut acc[..row], &mean_f[..row]);
                for q in quads {
                    let r: [&[F]; QUAD] = std::array::from_fn(|k| &q[k * row..][..row]);
                    for e in 0..row {
                        let (m, mut a) = (mq[e], acc_q[e]);
                        for rk in r {
                            let d = rk[e] - m;
                            a += d * d;
                        }
                        acc_q[e] = a;
                    }
                }
                for xr in rest.chunks_exact(row) {
                    for ((a, &v), &m) in acc.iter_mut().zip(xr).zip(&mean_f) {
                        let d = v - m;
                        *a += d * d;
                    }
                }
                // Σ(x − m)² = Σ(x − m_F)² − n·(m − m_F)², m_F being m rounded to F.
                let m2: Vec<f64> = acc
                    .iter()
                    .zip(&mean)
                    .zip(&mean_f)
                    .map(|((&a, &m), &mf)| {
                        let sh = m - mf.widen();
                        (a.widen() - cnt as f64 * sh * sh).max(0.0)
                    })
                    .collect();
                (cnt as f64, mean, m2)
            },
        )
    });
    // Combine the (task, position) moments of each channel: the overall mean,
    // then `M2 = Σ m2ᵢ + nᵢ·(meanᵢ − mean)²` (exact, no cancellation).
    let count = n * s;
    let mut means = vec![0.0f64; c];
    for (cnt, mean, _) in &parts {
        for (acc, ms) in means.iter_mut().zip(mean.chunks_exact(s)) {
            *acc += cnt * ms.iter().sum::<f64>();
        }
    }
    for m in &mut means {
        *m /= count as f64;
    }
    let mut m2s = vec![0.0f64; c];
    for (cnt, mean, m2) in &parts {
        for ((acc, &mc), (ms, qs)) in m2s
            .iter_mut()
            .zip(&means)
            .zip(mean.chunks_exact(s).zip(m2.chunks_exact(s)))
        {
            for (&m, &q) in ms.iter().zip(qs) {
                let d = m - mc;
                *acc += q + cnt * d * d;
            }
        }
    }
    Ok(means
        .iter()
        .zip(&m2s)
        .map(|(&mean, &m2)| Moments { count, mean, m2 })
        .collect())
}

/// Most samples a small-plane task sums over in the element type.
const SMALL_MAX_ROWS: usize = 256;

/// Samples per task for small planes: below [`CHANNEL_PAR_MIN`] elements
/// (run sequentially) blocks of up to `SMALL_MAX_ROWS` samples, since every
/// block costs `f64` vectors and a merge per row position; above it enough
/// work per task, at most eight tasks when that keeps blocks short. The
/// split depends only on the layout, never on the number of threads, so
/// results do not depend on `Par`.
fn small_rows_per_task(n: usize, row: usize) -> usize {
    if n.saturating_mul(row) < CHANNEL_PAR_MIN {
        // Sequential anyway: the fewest blocks (each costs `f64` vectors and
        // a merge per row position).
        return n.clamp(1, SMALL_MAX_ROWS);
    }
    units_per_task(row)
        .max(n.div_ceil(8))
        .clamp(1, SMALL_MAX_ROWS)
}

/// Samples handled together by the small-plane loops: per-position
/// coefficients and accumulators are loaded once for four samples.
const QUAD: usize = 4;

/// The four `row`-long rows of `block` (which holds exactly four).
fn split_rows<T>(block: &mut [T], row: usize) -> [&mut [T]; QUAD] {
    let (r0, rest) = block.split_at_mut(row);
    let (r1, rest) = rest.split_at_mut(row);
    let (r2, r3) = rest.split_at_mut(row);
    [r0, r1, r2, r3]
}

/// Per-channel values repeated `s` times each: their values along a
/// sample's row of `C·S` positions (without a division per position).
fn along_row<T: Copy>(per_channel: impl ExactSizeIterator<Item = T>, s: usize) -> Vec<T> {
    if s == 1 {
        return per_channel.collect();
    }
    let mut row = Vec::with_capacity(per_channel.len() * s);
    for v in per_channel {
        row.extend(std::iter::repeat_n(v, s));
    }
    row
}

/// Applies per-channel coefficients `k[c]` elementwise: `out[i] =
/// body(k[c(i)], inputs[..][i])`.
fn channel_zip<F: Float, const K: usize, const M: usize>(
    par: Par,
    layout: ChannelLayout,
    coeffs: &[[F; K]],
    inputs: [&[F]; M],
    body: impl Fn(&[F; K], [F; M]) -> F + Sync + Send,
) -> Vec<F> {
    let ChannelLayout { c, s, .. } = layout;
    let len = layout.numel();
    if len == 0 {
        return Vec::new();
    }
    let par = channel_par(par, len);
    if s >= PLANE_MIN {
        let planes_per_task = units_per_task(s);
        build_chunks(par, len, planes_per_task * s, |t, chunk| {
            wide(
                #[inline(always)]
                || {
                    let mut written = 0;
                    for (p, o) in chunk.chunks_mut(s).enumerate() {
                        let plane = t * planes_per_task + p;
                        let k = &coeffs[plane % c];
                        let off = plane * s;
                        let ins: [&[F]; M] = inputs.map(|v| &v[off..off + s]);
                        for (e, oe) in o.iter_mut().enumerate() {
                            oe.write(body(k, ins.map(|v| v[e])));
                        }
                        written += o.len();
                    }
                    (written, ())
                },
            )
        })
        .0
    } else {
        // Per-channel coefficients expanded along a sample, one array per
        // coefficient, so the loop over a sample reads `K + M` contiguous
        // slices of the same length and vectorizes.
        let row = c * s;
        let expanded: [Vec<F>; K] =
            std::array::from_fn(|k| along_row(coeffs.iter().map(|ck| ck[k]), s));
        let rows_per_task = units_per_task(row);
        build_chunks(par, len, rows_per_task * row, |t, chunk| {
            wide(
                #[inline(always)]
                || {
                    let mut written = 0;
                    let ks: [&[F]; K] = expanded.each_ref().map(|v| &v[..row]);
                    // Four samples per pass over the coefficients, which
                    // are then loaded once for four outputs.
                    for (q, o4) in chunk.chunks_mut(QUAD * row).enumerate() {
                        let off = (t * rows_per_task + q * QUAD) * row;
                        if o4.len() == QUAD * row {
                            let os = split_rows(o4, row);
                            let ins: [[&[F]; M]; QUAD] =
                                std::array::from_fn(|r| inputs.map(|v| &v[off + r * row..][..row]));
                            let [o0, o1, o2, o3] = os;
                            let (o0, o1, o2, o3) = (
                                &mut o0[..row],
                                &mut o1[..row],
                                &mut o2[..row],
                                &mut o3[..row],
                            );
                            for e in 0..row {
                                let k = ks.map(|v| v[e]);
                                o0[e].write(body(&k, ins[0].map(|v| v[e])));
                                o1[e].write(body(&k, ins[1].map(|v| v[e])));
                                o2[e].write(body(&k, ins[2].map(|v| v[e])));
                                o3[e].write(body(&k, ins[3].map(|v| v[e])));
                            }
                            written += o4.len();
                            continue;
                        }
                        for (r, o) in o4.chunks_mut(row).enumerate() {
                            let off = off + r * row;
                            let ins: [&[F]; M] = inputs.map(|v| &v[off..off + row]);
                            let o = &mut o[..row];
                            for (e, oe) in o.iter_mut().enumerate() {
                                oe.write(body(&ks.map(|v| v[e]), ins.map(|v| v[e])));
                            }
                            written += o.len();
                        }
                    }
                    (written, ())
                },
            )
        })
        .0
    }
}

/// Batch-norm forward with given statistics:
/// `y = (x − mean[c]) · invstd[c] · weight[c] + bias[c]`
/// (weight 1 and bias 0 when absent). In training `mean`/`invstd` are the
/// batch mean and `1/sqrt(var_biased + eps)`; in eval they come from the
/// running statistics.
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
pub fn channel_forward<F: Float>(
    x: &[F],
    layout: ChannelLayout,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[F]>,
    bias: Option<&[F]>,
    par: Par,
) -> Result<Vec<F>, NormError> {
    let op = "batch_norm";
    layout.check(op, "x", x.len(), false)?;
    layout.check(op, "mean", mean.len(), true)?;
    layout.check(op, "invstd", invstd.len(), true)?;
    for w in [weight, bias].into_iter().flatten() {
        layout.check(op, "weight", w.len(), true)?;
    }
    let coeffs: Vec<[F; 3]> = (0..layout.c)
        .map(|ch| {
            let w = weight.map_or(1.0, |w| w[ch].widen());
            let b = bias.map_or(0.0, |b| b[ch].widen());
            [F::cast(mean[ch]), F::cast(invstd[ch] * w), F::cast(b)]
        })
        .collect();
    Ok(channel_zip(par, layout, &coeffs, [x], |k, [x]| {
        (x - k[0]) * k[1] + k[2]
    }))
}

/// Per-channel `(Σ dy, Σ dy·(x − mean))` in `f64`, one pass over both.
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
pub fn channel_grad_sums<F: Float>(
    x: &[F],
    dy: &[F],
    layout: ChannelLayout,
    mean: &[f64],
    par: Par,
) -> Result<Vec<(f64, f64)>, NormError> {
    let op = "batch_norm_backward";
    layout.check(op, "x", x.len(), false)?;
    layout.check(op, "grad_output", dy.len(), false)?;
    layout.check(op, "mean", mean.len(), true)?;
    let ChannelLayout { n, c, s } = layout;
    if x.is_empty() {
        return Ok(vec![(0.0, 0.0); c]);
    }
    let par = channel_par(par, x.len());
    if s >= PLANE_MIN {
        let planes = par.map_range(n * c, |p| {
            wide(
                #[inline(always)]
                || {
                    let r = p * s..(p + 1) * s;
                    let m = F::cast(mean[p % c]);
                    let shift = m.widen() - mean[p % c];
                    let (mut sa, mut sb) = (0.0f64, 0.0f64);
                    for (xb, gb) in x[r.clone()].chunks(BLOCK).zip(dy[r].chunks(BLOCK)) {
                        let (a, b) = lane_g_gdev(xb, gb, m);
                        // Σ g·(x − m) = Σ g·(x − m_F) + (m_F − m)·Σ g.
                        sa += a.widen();
                        sb += b.widen() + shift * a.widen();
                    }
                    (sa, sb)
                },
            )
        });
        return Ok((0..c)
            .map(|ch| {
                (0..n).fold((0.0, 0.0), |(a, b), i| {
                    (a + planes[i * c + ch].0, b + planes[i * c + ch].1)
                })
            })
            .collect());
    }
    // Small planes: per-task sums over whole samples in the element type
    // (short blocks of at most `SMALL_MAX_ROWS` samples), about the mean
    // rounded to F and corrected in `f64`, then summed per channel.
    let row = c * s;
    let rows_per_task = small_rows_per_task(n, row);
    let mean_f: Vec<F> = along_row(mean.iter().map(|&m| F::cast(m)), s);
    let shift: Vec<f64> = along_row(mean.iter().map(|&m| F::cast(m).widen() - m), s);
    let parts = par.map_range(n.div_ceil(rows_per_task), |t| {
        let rows = t * rows_per_task..((t + 1) * rows_per_task).min(n);
        let (mut a, mut b) = (vec![F::zero(); row], vec![F::zero(); row]);
        wide(
            #[inline(always)]
            || position_grad_sums(x, dy, row, rows, &mean_f, &mut a, &mut b),
        );
        (a, b)
    });
    let mut out = vec![(0.0f64, 0.0f64); c];
    for (a, b) in &parts {
        for (ch, o) in out.iter_mut().enumerate() {
            let p = ch * s..(ch + 1) * s;
            add_channel_sums(o, &a[p.clone()], &b[p.clone()], &shift[p]);
        }
    }
    Ok(out)
}

/// Adds, for every position of the rows `rows` of `x` and `dy` (rows of
/// `row` values), `Σ dy` to `a` and `Σ dy·(x − mean_f)` to `b`, in the
/// element type, over the rows in order: four per pass over the
/// accumulators, which stay in registers for the four rather than being
/// updated in memory once per row (figures: the crate's `PERF.md`). `mean_f` holds the
/// positions' means rounded to `F`.
#[inline(always)]
fn position_grad_sums<'a, F: Float>(
    x: &'a [F],
    dy: &'a [F],
    row: usize,
    rows: std::ops::Range<usize>,
    mean_f: &[F],
    a: &mut [F],
    b: &mut [F],
) {
    let (m, a, b) = (&mean_f[..row], &mut a[..row], &mut b[..row]);
    let at = |v: &'a [F], r: usize| -> &'a [F] { &v[r * row..][..row] };
    let quads = rows.start + rows.len() / QUAD * QUAD;
    for r0 in (rows.start..quads).step_by(QUAD) {
        let xr: [&[F]; QUAD] = std::array::from_fn(|k| at(x, r0 + k));
        let gr: [&[F]; QUAD] = std::array::from_fn(|k| at(dy, r0 + k));
        for e in 0..row {
            let mv = m[e];
            let (mut av, mut bv) = (a[e], b[e]);
            for k in 0..QUAD {
                let gv = gr[k][e];
                av += gv;
                bv += gv * (xr[k][e] - mv);
            }
            (a[e], b[e]) = (av, bv);
        }
    }
    for r in quads..rows.end {
        let (xr, gr) = (at(x, r), at(dy, r));
        for e in 0..row {
            let gv = gr[e];
            a[e] += gv;
            b[e] += gv * (xr[e] - m[e]);
        }
    }
}

/// Adds one channel's position sums `a` (`Σ dy`) and `b`
/// (`Σ dy·(x − m_F)`, about the mean rounded to `F`) to its `f64` sums,
/// position by position, with the correction `shift = m_F − m`:
/// `Σ dy·(x − m) = Σ dy·(x − m_F) + (m_F − m)·Σ dy`.
#[inline(always)]
fn add_channel_sums<F: Float>(o: &mut (f64, f64), a: &[F], b: &[F], shift: &[f64]) {
    for ((&av, &bv), &sh) in a.iter().zip(b).zip(shift) {
        o.0 += av.widen();
        o.1 += bv.widen() + sh * av.widen();
    }
}

/// Gradients of a batch-norm call.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelGrads<F> {
    /// Gradient of the input, shaped like it.
    pub dx: Vec<F>,
    /// Gradient of `weight`: `Σ dy · x̂` per channel.
    pub dweight: Vec<F>,
    /// Gradient of `bias`: `Σ dy` per channel.
    pub dbias: Vec<F>,
}

/// Batch-norm backward in training (batch statistics), the fused formula
///
/// `dx = (n·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)) / (n·sqrt(var + eps))`, `dx̂ = γ·dy`,
/// `dγ = Σ x̂·dy`, `dβ = Σ dy` (sums per channel over `N·S` values):
/// one pass for the two sums, a second for `dx`.
///
/// `mean` and `invstd` are the values of the forward pass.
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
pub fn batch_norm_backward_train<F: Float>(
    x: &[F],
    dy: &[F],
    layout: ChannelLayout,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[F]>,
    par: Par,
) -> Result<ChannelGrads<F>, NormError> {
    layout.check("batch_norm_backward", "invstd", invstd.len(), true)?;
    if let Some(w) = weight {
        layout.check("batch_norm_backward", "weight", w.len(), true)?;
    }
    let sums = channel_grad_sums(x, dy, layout, mean, par)?;
    let coeffs: Vec<[F; 4]> = (0..layout.c)
        .map(|ch| backward_coeffs(ch, sums[ch], layout, mean, invstd, weight))
        .collect();
    let dx = channel_zip(par, layout, &coeffs, [x, dy], |k, [x, g]| dx_of(k, x, g));
    Ok(ChannelGrads {
        dx,
        dweight: sums
            .iter()
            .zip(invstd)
            .map(|(&(_, b), &is)| F::cast(b * is))
            .collect(),
        dbias: sums.iter().map(|&(a, _)| F::cast(a)).collect(),
    })
}

/// The per-channel coefficients `[mean, k_dy, k_x, k_0]` of the training
/// backward, so that `dx = k_dy·dy − k_x·(x − mean) − k_0` ([`dx_of`]),
/// from the channel's sums `(Σ dy, Σ dy·(x − mean))`.
fn backward_coeffs<F: Float>(
    ch: usize,
    (sdy, sdyx): (f64, f64),
    layout: ChannelLayout,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[F]>,
) -> [F; 4] {
    let count = layout.per_channel() as f64;
    let w = weight.map_or(1.0, |w| w[ch].widen());
    let k_dy = w * invstd[ch];
    let mean_dy_xhat = sdyx * invstd[ch] / count;
    [
        F::cast(mean[ch]),
        F::cast(k_dy),
        F::cast(k_dy * invstd[ch] * mean_dy_xhat),
        F::cast(k_dy * sdy / count),
    ]
}

/// One input gradient of the training backward from its channel's
/// [`backward_coeffs`].
#[inline(always)]
fn dx_of<F: Float>(k: &[F; 4], x: F, g: F) -> F {
    k[1] * g - k[2] * (x - k[0]) - k[3]
}

/// Batch-norm backward in eval (fixed running statistics): the affine map
/// `dx = dy · γ · invstd`, `dγ = Σ dy·(x − mean)·invstd`, `dβ = Σ dy`.
/// The per-channel sums are only computed when `param_grads` is true
/// (otherwise `dweight`/`dbias` are empty).
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_eval<F: Float>(
    x: &[F],
    dy: &[F],
    layout: ChannelLayout,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[F]>,
    param_grads: bool,
    par: Par,
) -> Result<ChannelGrads<F>, NormError> {
    let op = "batch_norm_backward";
    layout.check(op, "grad_output", dy.len(), false)?;
    layout.check(op, "invstd", invstd.len(), true)?;
    if let Some(w) = weight {
        layout.check(op, "weight", w.len(), true)?;
    }
    let coeffs: Vec<[F; 1]> = (0..layout.c)
        .map(|ch| [F::cast(weight.map_or(1.0, |w| w[ch].widen()) * invstd[ch])])
        .collect();
    let dx = channel_zip(par, layout, &coeffs, [dy], |k, [g]| k[0] * g);
    let (dweight, dbias) = if param_grads {
        let sums = channel_grad_sums(x, dy, layout, mean, par)?;
        (
            sums.iter()
                .zip(invstd)
                .map(|(&(_, b), &is)| F::cast(b * is))
                .collect(),
            sums.iter().map(|&(a, _)| F::cast(a)).collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(ChannelGrads { dx, dweight, dbias })
}
