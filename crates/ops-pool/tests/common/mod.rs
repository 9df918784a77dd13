//! Naive reference kernels (plain loops over every output and every tap,
//! straight from FORMAT.md's rules) and small helpers shared by the tests.
#![allow(dead_code)]

use core_tensor::Float;

/// Window parameters on every axis (already one entry per axis).
#[derive(Clone, Debug)]
pub(crate) struct Win {
    pub(crate) k: Vec<usize>,
    pub(crate) s: Vec<usize>,
    pub(crate) d: Vec<usize>,
    pub(crate) pad: Vec<[usize; 2]>,
    pub(crate) ceil: bool,
}

/// Output length by enumerating window starts (`None` if no window fits).
pub(crate) fn out_len(
    len: usize,
    k: usize,
    s: usize,
    d: usize,
    pad: [usize; 2],
    ceil: bool,
) -> Option<usize> {
    let eff = d * (k - 1) + 1;
    let padded = len + pad[0] + pad[1];
    let n = (0..10_000usize)
        .map(|o| o * s)
        .take_while(|&st| {
            if ceil {
                st + eff < padded + s && st < len + pad[0]
            } else {
                st + eff <= padded
            }
        })
        .count();
    (n > 0).then_some(n)
}

fn lift(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

/// Plain-loop max pooling: values and PyTorch indices, planes × spatial.
pub(crate) fn naive_max<F: Float>(
    x: &[F],
    planes: usize,
    sp: &[usize],
    w: &Win,
) -> Option<(Vec<F>, Vec<i64>, Vec<usize>)> {
    let dims = sp.len();
    let outs: Vec<usize> = (0..dims)
        .map(|i| out_len(sp[i], w.k[i], w.s[i], w.d[i], w.pad[i], w.ceil))
        .collect::<Option<_>>()?;
    let (l, o) = (lift(sp, 1), lift(&outs, 1));
    let (k, s, d) = (lift(&w.k, 1), lift(&w.s, 1), lift(&w.d, 1));
    let mut pb = [0usize; 3];
    for i in 0..dims {
        pb[3 - dims + i] = w.pad[i][0];
    }
    let pin = l[0] * l[1] * l[2];
    let (mut y, mut idx) = (Vec::new(), Vec::new());
    for p in 0..planes {
        for o0 in 0..o[0] {
            for o1 in 0..o[1] {
                for o2 in 0..o[2] {
                    let mut best: Option<(F, usize)> = None;
                    for k0 in 0..k[0] {
                        for k1 in 0..k[1] {
                            for k2 in 0..k[2] {
                                let q = [
                                    (o0 * s[0] + k0 * d[0]) as isize - pb[0] as isize,
                                    (o1 * s[1] + k1 * d[1]) as isize - pb[1] as isize,
                                    (o2 * s[2] + k2 * d[2]) as isize - pb[2] as isize,
                                ];
                                if (0..3).any(|a| q[a] < 0 || q[a] >= l[a] as isize) {
                                    continue;
                                }
                                let flat =
                                    (q[0] as usize * l[1] + q[1] as usize) * l[2] + q[2] as usize;
                                let v = x[p * pin + flat];
                                best = match best {
                                    None => Some((v, flat)),
                                    Some((m, _)) if v > m || v.is_nan() => Some((v, flat)),
                                    b => b,
                                };
                            }
                        }
                    }
                    let (v, f) = best?;
                    y.push(v);
                    idx.push(f as i64);
                }
            }
        }
    }
    Some((y, idx, outs))
}

/// Plain-loop average (or, with `lp = Some(p)`, Lp) pooling.
pub(crate) fn naive_avg<F: Float>(
    x: &[F],
    planes: usize,
    sp: &[usize],
    w: &Win,
    count_include_pad: bool,
    divisor_override: Option<i64>,
    lp: Option<f64>,
) -> Option<(Vec<F>, Vec<usize>)> {
    let dims = sp.len();
    let outs: Vec<usize> = (0..dims)
        .map(|i| out_len(sp[i], w.k[i], w.s[i], 1, w.pad[i], w.ceil))
        .collect::<Option<_>>()?;
    let (l, o) = (lift(sp, 1), lift(&outs, 1));
    let (k, s) = (lift(&w.k, 1), lift(&w.s, 1));
    let (mut pb, mut pa) = ([0usize; 3], [0usize; 3]);
    for i in 0..dims {
        pb[3 - dims + i] = w.pad[i][0];
        pa[3 - dims + i] = w.pad[i][1];
    }
    let pin = l[0] * l[1] * l[2];
    let mut y = Vec::new();
    for p in 0..planes {
        for o0 in 0..o[0] {
            for o1 in 0..o[1] {
                for o2 in 0..o[2] {
                    let oo = [o0, o1, o2];
                    let (mut sum, mut inside, mut padded) = (0.0f64, 0usize, 1usize);
                    for a in 0..3 {
                        let st = (oo[a] * s[a]) as isize - pb[a] as isize;
                        let end = (st + k[a] as isize).min((l[a] + pa[a]) as isize);
                        padded *= (end - st) as usize;
                    }
                    for k0 in 0..k[0] {
                        for k1 in 0..k[1] {
                            for k2 in 0..k[2] {
                                let q = [
                                    (o0 * s[0] + k0) as isize - pb[0] as isize,
                                    (o1 * s[1] + k1) as isize - pb[1] as isize,
                                    (o2 * s[2] + k2) as isize - pb[2] as isize,
                                ];
                                if (0..3).any(|a| q[a] < 0 || q[a] >= l[a] as isize) {
                                    continue;
                                }
                                let v = x[p * pin
                                    + (q[0] as usize * l[1] + q[1] as usize) * l[2]
                                    + q[2] as usize]
                                    .widen();
                                sum += match lp {
                                    Some(pw) => v.abs().powf(pw),
                                    None => v,
                                };
                                inside += 1;
                            }
                        }
                    }
                    let v = match (lp, divisor_override) {
                        (Some(pw), _) => sum.powf(1.0 / pw),
                        (None, Some(dv)) => sum / dv as f64,
                        (None, None) if count_include_pad => sum / padded as f64,
                        (None, None) => sum / inside as f64,
                    };
                    y.push(F::cast(v));
                }
            }
        }
    }
    Some((y, outs))
}

/// Plain-loop adaptive pooling (`max = true`: values and indices).
pub(crate) fn naive_adaptive<F: Float>(
    x: &[F],
    planes: usize,
    sp: &[usize],
    out: &[usize],
    max: bool,
) -> (Vec<F>, Vec<i64>) {
    let (l, o) = (lift(sp, 1), lift(out, 1));
    let pin = l[0] * l[1] * l[2];
    let range = |a: usize, i: usize| (i * l[a] / o[a], ((i + 1) * l[a]).div_ceil(o[a]));
    let (mut y, mut idx) = (Vec::new(), Vec::new());
    for p in 0..planes {
        for o0 in 0..o[0] {
            for o1 in 0..o[1] {
                for o2 in 0..o[2] {
                    let (r0, r1, r2) = (range(0, o0), range(1, o1), range(2, o2));
                    let mut best: Option<(F, usize)> = None;
                    let (mut sum, mut n) = (0.0f64, 0usize);
                    for q0 in r0.0..r0.1 {
                        for q1 in r1.0..r1.1 {
                            for q2 in r2.0..r2.1 {
                                let flat = (q0 * l[1] + q1) * l[2] + q2;
                                let v = x[p * pin + flat];
                                sum += v.widen();
                                n += 1;
                                best = match best {
                                    None => Some((v, flat)),
                                    Some((m, _)) if v > m || v.is_nan() => Some((v, flat)),
                                    b => b,
                                };
                            }
                        }
                    }
                    if max {
                        let (v, f) = best.expect("adaptive windows are never empty");
                        y.push(v);
                        idx.push(f as i64);
                    } else {
                        y.push(F::cast(sum / n as f64));
                    }
                }
            }
        }
    }
    (y, idx)
}

/// Asserts `|got - want| <= atol + rtol * |want|` elementwise (NaN matching NaN),
/// reporting the worst element.
pub(crate) fn assert_close(got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() && g.is_nan() || g == w {
            continue;
        }
        let excess = (g - w).abs() - (atol + rtol * w.abs());
        if excess > 0.0 || excess.is_nan() {
            let e = if excess.is_nan() {
                f64::INFINITY
            } else {
                excess
            };
            if worst.is_none_or(|(_, we)| e > we) {
                worst = Some((i, e));
            }
        }
    }
    if let Some((i, _)) = worst {
        panic!(
            "element {i}: got {}, want {} (rtol {rtol}, atol {atol})",
            got[i], want[i]
        );
    }
}
