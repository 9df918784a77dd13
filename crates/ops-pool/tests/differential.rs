//! Differential tests: the fast kernels against the naive loops of
//! `common`, and `Par::Seq` against `Par::Rayon` (bitwise), over random
//! shapes and parameters within the validity rules.

mod common;

use std::sync::Arc;

use common::{Win, assert_close, naive_adaptive, naive_avg, naive_max};
use core_tensor::{Par, Rng};
use ops_pool::kernels::*;
use ops_pool::*;
use proptest::prelude::*;

/// Per-axis (kernel, stride, dilation, pad_before, pad_after, len).
fn axes() -> impl Strategy<Value = Vec<(usize, usize, usize, usize, usize, usize)>> {
    proptest::collection::vec(
        (
            1usize..=3,
            1usize..=3,
            1usize..=2,
            0usize..5,
            0usize..5,
            1usize..8,
        ),
        3,
    )
}

fn win(
    ax: &[(usize, usize, usize, usize, usize, usize)],
    dims: usize,
    ceil: bool,
    dilate: bool,
) -> (Win, Vec<usize>) {
    let mut w = Win {
        k: vec![],
        s: vec![],
        d: vec![],
        pad: vec![],
        ceil,
    };
    let mut sp = vec![];
    for &(k, s, d, pb, pa, len) in &ax[..dims] {
        let d = if dilate { d } else { 1 };
        let eff = d * (k - 1) + 1;
        w.k.push(k);
        w.s.push(s);
        w.d.push(d);
        w.pad.push([pb % eff, pa % eff]);
        sp.push(len);
    }
    (w, sp)
}

/// Inputs with ties (small integers), and a few NaN and -inf when `specials`.
fn input(seed: u64, n: usize, specials: bool) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| match rng.below(if specials { 20 } else { 1000 }) {
            0 if specials => f64::NAN,
            1 if specials => f64::NEG_INFINITY,
            _ => rng.below(7) as f64 - 3.0,
        })
        .collect()
}

/// Inputs made of ties: a few small values, `0.0` and `-0.0` among them.
fn tied_input(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let values = [-1.0, -0.0, 0.0, 1.0, 2.0];
    (0..n).map(|_| values[rng.below(5)]).collect()
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || x.is_nan() && y.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn max_pool_matches_naive(dims in 1usize..=3, planes in 1usize..4, ax in axes(), ceil in any::<bool>(), seed in any::<u64>()) {
        let (w, sp) = win(&ax, dims, ceil, true);
        let mut shape = vec![planes];
        shape.extend(&sp);
        let x = input(seed, shape.iter().product(), true);
        let p = MaxPoolParams::new(&w.k).stride(&w.s).dilation(&w.d).padding_mode(Padding::Explicit(w.pad.clone())).ceil_mode(ceil);
        let naive = naive_max(&x, planes, &sp, &w);
        let geom = p.geometry(&shape);
        prop_assert_eq!(geom.is_ok(), naive.is_some(), "{:?}", geom);
        if let (Ok(g), Some((want, want_idx, outs))) = (geom, naive) {
            let g = Arc::new(g);
            let mut out_shape = vec![planes];
            out_shape.extend(&outs);
            prop_assert_eq!(g.output_shape(), out_shape);
            let (y, am) = max::forward(&x, &g, Par::Seq);
            prop_assert!(same_bits(&y, &want), "{:?} vs {:?}", y, want);
            prop_assert_eq!(am.to_indices(), want_idx);
            let (yr, amr) = max::forward(&x, &g, Par::Rayon);
            prop_assert!(same_bits(&y, &yr));
            prop_assert_eq!(am, amr);
        }
    }

    /// The stride-2 kernel (2 or 3 taps along the last axis, planes without
    /// NaN, which combines columns before rows) against the row-major naive
    /// scan, on inputs full of ties and signed zeros: values bitwise, indices
    /// exactly.
    #[test]
    fn stride_two_windows_match_naive_on_ties_and_signed_zeros(
        dims in 2usize..=3,
        planes in 1usize..4,
        ax in axes(),
        k in 2usize..=3,
        pad in (0usize..3, 0usize..3),
        len in 2usize..14,
        ceil in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut ax = ax;
        let last = dims - 1;
        ax[last] = (k, 2, 1, pad.0, pad.1, len.max(k));
        let (w, sp) = win(&ax, dims, ceil, false);
        let mut shape = vec![planes];
        shape.extend(&sp);
        let x = tied_input(seed, shape.iter().product());
        let p = MaxPoolParams::new(&w.k).stride(&w.s).padding_mode(Padding::Explicit(w.pad.clone())).ceil_mode(ceil);
        if let (Ok(g), Some((want, want_idx, _))) = (p.geometry(&shape), naive_max(&x, planes, &sp, &w)) {
            let (y, am) = max::forward(&x, &Arc::new(g), Par::Seq);
            prop_assert!(same_bits(&y, &want), "{:?} vs {:?}", y, want);
            prop_assert_eq!(am.to_indices(), want_idx);
        }
    }

    /// The 2×2 stride-2 tiling kernel (planes without NaN, argmax and
    /// values-only forward) against the naive scan, on ties and signed zeros.
    #[test]
    fn tiling_2x2_windows_match_naive_on_ties_and_signed_zeros(
        planes in 1usize..4,
        h in 2usize..13,
        w in 2usize..13,
        seed in any::<u64>(),
    ) {
        let w2 = Win { k: vec![2, 2], s: vec![2, 2], d: vec![1, 1], pad: vec![[0, 0], [0, 0]], ceil: false };
        let shape = [planes, h, w];
        let x = tied_input(seed, shape.iter().product());
        let g = Arc::new(MaxPoolParams::new(&[2, 2]).geometry(&shape).unwrap());
        let (want, want_idx, _) = naive_max(&x, planes, &[h, w], &w2).unwrap();
        let (y, am) = max::forward(&x, &g, Par::Seq);
        prop_assert!(same_bits(&y, &want), "{:?} vs {:?}", y, want);
        prop_assert_eq!(am.to_indices(), want_idx);
        prop_assert!(same_bits(&max::forward_values(&x, &g, Par::Seq), &want));
    }

    #[test]
    fn avg_and_lp_pool_match_naive(
        dims in 1usize..=3, planes in 1usize..4, ax in axes(), ceil in any::<bool>(), cip in any::<bool>(),
        div in prop_oneof![Just(None), (-3i64..5).prop_filter("non-zero", |d| *d != 0).prop_map(Some)],
        norm in prop_oneof![Just(1.0), Just(2.0), Just(3.0), Just(1.5)], seed in any::<u64>()
    ) {
        let (w, sp) = win(&ax, dims, ceil, false);
        let mut shape = vec![planes];
        shape.extend(&sp);
        let x = input(seed, shape.iter().product(), false);
        let p = AvgPoolParams::new(&w.k).stride(&w.s).padding_mode(Padding::Explicit(w.pad.clone()))
            .ceil_mode(ceil).count_include_pad(cip).divisor_override(div);
        let naive = naive_avg(&x, planes, &sp, &w, cip, div, None);
        let geom = p.geometry(&shape);
        prop_assert_eq!(geom.is_ok(), naive.is_some());
        if let (Ok(g), Some((want, _))) = (geom, naive) {
            let d = p.divisor().unwrap();
            let y = avg::forward(&x, &g, d, Par::Seq);
            assert_close(&y, &want, 1e-13, 1e-13);
            prop_assert!(same_bits(&y, &avg::forward(&x, &g, d, Par::Rayon)));
            let lp = LpPoolParams::new(norm, &w.k).stride(&w.s).padding_mode(Padding::Explicit(w.pad.clone())).ceil_mode(ceil);
            let gl = lp.geometry(&shape).unwrap();
            let (want_lp, _) = naive_avg(&x, planes, &sp, &w, cip, None, Some(norm)).unwrap();
            assert_close(&lp::forward(&x, &gl, norm, Par::Seq), &want_lp, 1e-12, 1e-12);
        }
    }

    #[test]
    fn adaptive_pools_match_naive(dims in 1usize..=3, planes in 1usize..4, lens in proptest::collection::vec((1usize..9, 1usize..11), 3), seed in any::<u64>()) {
        let sp: Vec<usize> = lens[..dims].iter().map(|l| l.0).collect();
        let out: Vec<usize> = lens[..dims].iter().map(|l| l.1).collect();
        let mut shape = vec![planes];
        shape.extend(&sp);
        let x = input(seed, shape.iter().product(), true);
        let req: Vec<Option<usize>> = out.iter().map(|&o| Some(o)).collect();
        let g = Arc::new(Geometry::adaptive_for("adaptive", &shape, &req).unwrap());
        let (want, want_idx) = naive_adaptive(&x, planes, &sp, &out, true);
        let (y, am) = max::forward(&x, &g, Par::Seq);
        prop_assert!(same_bits(&y, &want));
        prop_assert_eq!(am.to_indices(), want_idx);
        let xf = input(seed, shape.iter().product(), false);
        let (want_avg, _) = naive_adaptive(&xf, planes, &sp, &out, false);
        assert_close(&avg::forward(&xf, &g, Divisor::InBounds, Par::Seq), &want_avg, 1e-13, 1e-13);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Large enough for rayon to split the planes: sequential and parallel
    /// runs of every kernel, forward and backward, are bitwise equal.
    #[test]
    fn seq_and_rayon_are_bitwise_equal(k in 1usize..=3, s in 1usize..=2, pad in 0usize..2, ceil in any::<bool>(), seed in any::<u64>()) {
        let shape = [2usize, 8, 67, 71]; // several planes per rayon task, several tasks
        let n: usize = shape.iter().product();
        let mut rng = Rng::new(seed);
        let x = rng.uniform_vec(n, -1.0, 1.0);
        let pad = pad.min(k - 1);
        let mp = MaxPoolParams::new(&[k, k]).stride(&[s]).padding(&[pad]).ceil_mode(ceil);
        let g = Arc::new(mp.geometry(&shape).unwrap());
        let (y, am) = max::forward(&x, &g, Par::Seq);
        let (yr, amr) = max::forward(&x, &g, Par::Rayon);
        prop_assert!(same_bits(&y, &yr) && am == amr);
        let dy = rng.uniform_vec(y.len(), -1.0, 1.0);
        prop_assert!(same_bits(&max::backward(&dy, &am, Par::Seq), &max::backward(&dy, &am, Par::Rayon)));
        prop_assert!(same_bits(&max::gather(&x, &am, Par::Seq), &max::gather(&x, &am, Par::Rayon)));
        let ap = AvgPoolParams::new(&[k, k]).stride(&[s]).padding(&[pad]).ceil_mode(ceil);
        let ga = ap.geometry(&shape).unwrap();
        let d = ap.divisor().unwrap();
        prop_assert!(same_bits(&avg::forward(&x, &ga, d, Par::Seq), &avg::forward(&x, &ga, d, Par::Rayon)));
        prop_assert!(same_bits(&avg::backward(&dy, &ga, d, Par::Seq), &avg::backward(&dy, &ga, d, Par::Rayon)));
        let yl = lp::forward(&x, &ga, 2.5, Par::Seq);
        prop_assert!(same_bits(&yl, &lp::forward(&x, &ga, 2.5, Par::Rayon)));
        prop_assert!(same_bits(&lp::backward(&x, &yl, &dy, &ga, 2.5, Par::Seq), &lp::backward(&x, &yl, &dy, &ga, 2.5, Par::Rayon)));
    }
}

/// Values with ties, both zeros and sums that round (the order shows).
fn rounding_input(seed: u64, n: usize) -> Vec<f64> {
    core_tensor::testing::rounding_values(&mut Rng::new(seed), n)
}

/// Max pooling of `x` (shape `planes, *spatial`) with `p` against the naive
/// scan with the same windows `w`, in f64 and in f32: values and indices,
/// and the values-only forward, bit for bit.
fn assert_max_matches_naive(
    x: &[f64],
    shape: &[usize],
    w: &Win,
    p: &MaxPoolParams,
) -> Result<(), TestCaseError> {
    let (planes, sp) = (shape[0], &shape[1..]);
    let (Ok(g), Some((want, want_idx, _))) = (p.geometry(shape), naive_max(x, planes, sp, w))
    else {
        return Ok(());
    };
    let g = Arc::new(g);
    let (y, am) = max::forward(x, &g, Par::Seq);
    prop_assert!(same_bits(&y, &want), "{:?} vs {:?}", y, want);
    prop_assert_eq!(am.to_indices(), want_idx);
    prop_assert!(same_bits(&max::forward_values(x, &g, Par::Seq), &want));
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let (want32, want_idx32, _) = naive_max(&x32, planes, sp, w).expect("same windows");
    let widen = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
    let (y32, am32) = max::forward(&x32, &g, Par::Seq);
    prop_assert!(
        same_bits(&widen(&y32), &widen(&want32)),
        "{:?} vs {:?}",
        y32,
        want32
    );
    prop_assert_eq!(am32.to_indices(), want_idx32);
    prop_assert!(same_bits(
        &widen(&max::forward_values(&x32, &g, Par::Seq)),
        &widen(&want32)
    ));
    Ok(())
}

/// Max pooling of the same `x` under `fast` (a geometry with a kernel of
/// its own) and `general` (the same windows as a geometry the general
/// kernels take): same values, and the backward of the same `dy` gives the
/// same bits, in f64 and in f32.
fn assert_same_max_backward(
    fast: &Arc<Geometry>,
    general: &Arc<Geometry>,
    seed: u64,
) -> Result<(), TestCaseError> {
    let n_in = fast.planes() * fast.plane_in();
    let x = rounding_input(seed, n_in);
    let (y1, a1) = max::forward(&x, fast, Par::Seq);
    let (y2, a2) = max::forward(&x, general, Par::Seq);
    prop_assert!(same_bits(&y1, &y2));
    let dy = rounding_input(seed ^ 5, y1.len());
    prop_assert!(same_bits(
        &max::backward(&dy, &a1, Par::Seq),
        &max::backward(&dy, &a2, Par::Seq)
    ));
    let (xf, dyf): (Vec<f32>, Vec<f32>) = (
        x.iter().map(|&v| v as f32).collect(),
        dy.iter().map(|&v| v as f32).collect(),
    );
    let (_, a1f) = max::forward(&xf, fast, Par::Seq);
    let (_, a2f) = max::forward(&xf, general, Par::Seq);
    let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    prop_assert_eq!(
        bits(max::backward(&dyf, &a1f, Par::Seq)),
        bits(max::backward(&dyf, &a2f, Par::Seq))
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// 2×2 windows with stride 2 that tile a plane take a kernel of their
    /// own; the same planes as depth slices of a 3-d pooling with kernel
    /// (1, 2, 2) take the general one. Both give the same bits, forward and
    /// backward, in f64 and f32, for every divisor rule. (A 2×2 plane is
    /// one global window, which global pooling sums in its own lane order:
    /// it starts at 3 columns.)
    #[test]
    fn tiled_2x2_average_pooling_equals_the_general_kernel_bitwise(
        planes in 1usize..4, h in 2usize..13, w in 3usize..40,
        div in 0u8..4, seed in any::<u64>()
    ) {
        let d = match div {
            0 => Divisor::IncludePad,
            1 => Divisor::InBounds,
            2 => Divisor::Override(3),
            _ => Divisor::Override(4),
        };
        let g2 = AvgPoolParams::new(&[2, 2]).stride(&[2]).geometry(&[2 * planes, h, w]).unwrap();
        let g3 = AvgPoolParams::new(&[1, 2, 2]).stride(&[1, 2, 2])
            .geometry(&[planes, 2, h, w]).unwrap();
        let x = rounding_input(seed, 2 * planes * h * w);
        let y2 = avg::forward(&x, &g2, d, Par::Seq);
        prop_assert!(same_bits(&y2, &avg::forward(&x, &g3, d, Par::Seq)));
        let dy = rounding_input(seed ^ 1, y2.len());
        prop_assert!(same_bits(&avg::backward(&dy, &g2, d, Par::Seq), &avg::backward(&dy, &g3, d, Par::Seq)));
        let (xf, dyf): (Vec<f32>, Vec<f32>) =
            (x.iter().map(|&v| v as f32).collect(), dy.iter().map(|&v| v as f32).collect());
        let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(avg::forward(&xf, &g2, d, Par::Seq)), bits(avg::forward(&xf, &g3, d, Par::Seq)));
        prop_assert_eq!(bits(avg::backward(&dyf, &g2, d, Par::Seq)), bits(avg::backward(&dyf, &g3, d, Par::Seq)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The backward of 2×2 max pooling with stride 2 that tiles a plane
    /// writes each input once; the same planes as depth slices of a 3-d
    /// pooling with kernel (1, 2, 2) take the general zero fill and
    /// scatter. Same bits (ties and signed zeros in both `x` and `dy`).
    #[test]
    fn tiled_2x2_max_pooling_backward_equals_the_general_scatter_bitwise(
        planes in 1usize..4, h in 2usize..13, w in 2usize..40, seed in any::<u64>()
    ) {
        let g2 = Arc::new(MaxPoolParams::new(&[2, 2]).stride(&[2]).geometry(&[2 * planes, h, w]).unwrap());
        let g3 = Arc::new(MaxPoolParams::new(&[1, 2, 2]).stride(&[1, 2, 2])
            .geometry(&[planes, 2, h, w]).unwrap());
        assert_same_max_backward(&g2, &g3, seed)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The backward of 1-d max pooling with 3 taps and stride 2 writes each
    /// input once; the same rows pooled 2-d with kernel (1, 3) take the
    /// general zero fill and scatter. Same bits, with padding and ceil mode.
    #[test]
    fn rows_of_3_taps_stride_2_backward_equals_the_general_scatter_bitwise(
        planes in 1usize..4, len in 3usize..60, pad in 0usize..3, ceil in any::<bool>(),
        seed in any::<u64>()
    ) {
        let g1 = MaxPoolParams::new(&[3]).stride(&[2]).padding(&[pad]).ceil_mode(ceil)
            .geometry(&[2 * planes, len]);
        let g2 = MaxPoolParams::new(&[1, 3]).stride(&[1, 2]).padding(&[0, pad]).ceil_mode(ceil)
            .geometry(&[planes, 2, len]);
        if let (Ok(g1), Ok(g2)) = (g1, g2) {
            assert_same_max_backward(&Arc::new(g1), &Arc::new(g2), seed)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The backward of 2-d max pooling with 3×3 windows and stride 2
    /// writes each input once (AVX2 steps inside the rows, position by
    /// position at their ends); the same planes as depth slices of a 3-d
    /// pooling with kernel (1, 3, 3) take the general zero fill and
    /// scatter. Same bits, with asymmetric padding and ceil mode, rounding
    /// sums where an input is in two or four windows.
    #[test]
    fn square_3x3_stride_2_backward_equals_the_general_scatter_bitwise(
        planes in 1usize..4, h in 3usize..14, w in 3usize..48,
        pads in (0usize..3, 0usize..3, 0usize..3, 0usize..3), ceil in any::<bool>(),
        seed in any::<u64>()
    ) {
        let pad = |d: usize| vec![[0, 0]; d].into_iter()
            .chain([[pads.0, pads.1], [pads.2, pads.3]]).collect::<Vec<_>>();
        let g2 = MaxPoolParams::new(&[3, 3]).stride(&[2]).padding_mode(Padding::Explicit(pad(0)))
            .ceil_mode(ceil).geometry(&[2 * planes, h, w]);
        let g3 = MaxPoolParams::new(&[1, 3, 3]).stride(&[1, 2, 2]).padding_mode(Padding::Explicit(pad(1)))
            .ceil_mode(ceil).geometry(&[planes, 2, h, w]);
        if let (Ok(g2), Ok(g3)) = (g2, g3) {
            assert_same_max_backward(&Arc::new(g2), &Arc::new(g3), seed)?;
        }
    }
}

proptest! {
    // Cheap cases (small planes), many of them: the specials must land in
    // the few positions that only the edge windows read.
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The 3×3 stride-2 kernel (padding rows read as minus infinity,
    /// argmax and values-only forward, AVX2 steps of 8 `f32` or 4 `f64`
    /// windows and the scalar loops) against the naive scan, in f64 and
    /// f32, on ties and signed zeros, with padding and ceil mode. Up to two
    /// NaN or infinities land at random positions: a plane holding one
    /// where a window reads it must be recomputed by the exact kernels
    /// (the kernel notices while it computes, after writing some outputs).
    #[test]
    fn square_3x3_stride_two_matches_naive_on_ties_signed_zeros_and_specials(
        planes in 1usize..3,
        h in 3usize..14,
        w in 3usize..40,
        pads in (0usize..3, 0usize..3, 0usize..3, 0usize..3),
        ceil in any::<bool>(),
        specials in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..3), 0..3),
        seed in any::<u64>(),
    ) {
        let pad = vec![[pads.0, pads.1], [pads.2, pads.3]];
        let w3 = Win { k: vec![3, 3], s: vec![2, 2], d: vec![1, 1], pad: pad.clone(), ceil };
        let shape = [planes, h, w];
        let mut x = tied_input(seed, shape.iter().product());
        for (at, kind) in &specials {
            let i = at.index(x.len());
            x[i] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][*kind];
        }
        let p = MaxPoolParams::new(&[3, 3]).stride(&[2, 2]).padding_mode(Padding::Explicit(pad)).ceil_mode(ceil);
        assert_max_matches_naive(&x, &shape, &w3, &p)?;
    }

    /// 1-d max pooling with 3 taps and stride 2 on long rows (AVX2 steps
    /// with codes for the interior windows) against the naive scan, in f64
    /// and f32, on ties and signed zeros, with padding and ceil mode, and
    /// up to two NaN or infinities at random positions (the steps notice
    /// them and the exact kernel recomputes the row).
    #[test]
    fn rows_of_3_taps_stride_two_match_naive_on_ties_and_specials(
        planes in 1usize..3,
        len in 3usize..80,
        pads in (0usize..3, 0usize..3),
        ceil in any::<bool>(),
        specials in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..3, 0u8..3), 0..3),
        seed in any::<u64>(),
    ) {
        let pad = vec![[pads.0, pads.1]];
        let w1 = Win { k: vec![3], s: vec![2], d: vec![1], pad: pad.clone(), ceil };
        let shape = [planes, len];
        let mut x = tied_input(seed, planes * len);
        // Anywhere, or among the first or last three values of a row (the
        // windows reaching into the padding).
        for (at, kind, place) in &specials {
            let i = at.index(x.len());
            let (row, k) = (i / len * len, i % 3);
            let i = [i, row + k.min(len - 1), row + len - 1 - k.min(len - 1)][*place as usize];
            x[i] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][*kind];
        }
        let p = MaxPoolParams::new(&[3]).stride(&[2]).padding_mode(Padding::Explicit(pad)).ceil_mode(ceil);
        assert_max_matches_naive(&x, &shape, &w1, &p)?;
    }
}
