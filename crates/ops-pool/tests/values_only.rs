//! The values-only max pooling forward (`max::forward_values`, the
//! inference path) against the argmax kernel (`max::forward`): equal bit
//! for bit (NaN payloads included) over random shapes and parameters,
//! `Par::Seq` against `Par::Rayon`, and the functional `max_pool` under
//! `no_grad` / without `requires_grad` against the recording path.

use std::sync::Arc;

use autograd::{Var, no_grad};
use core_tensor::{Par, Rng, Tensor};
use ops_pool::kernels::*;
use ops_pool::*;
use proptest::prelude::*;

/// Inputs with many ties (small integers, `-0.0` and `0.0`), and, when
/// `specials`, NaNs with distinct payloads and infinities.
fn input(seed: u64, n: usize, specials: bool) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| match rng.below(if specials { 24 } else { 1000 }) {
            0 if specials => f64::from_bits(0x7ff8_0000_0000_0000 | rng.below(1 << 20) as u64),
            1 if specials => f64::NEG_INFINITY,
            2 if specials => f64::INFINITY,
            3 => -0.0,
            _ => rng.below(7) as f64 - 3.0,
        })
        .collect()
}

/// Ties without zeros or NaN (planes the order-free 2-d path takes).
fn nonzero_ties(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.below(6) as f64 - 2.5).collect()
}

fn bits64(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn bits32(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Per-axis (kernel, stride, dilation, pad_before, pad_after, len).
type Axis = (usize, usize, usize, usize, usize, usize);

fn axes() -> impl Strategy<Value = Vec<Axis>> {
    proptest::collection::vec(
        (
            1usize..=4,
            1usize..=4,
            1usize..=2,
            0usize..4,
            0usize..4,
            prop_oneof![4 => 1usize..10, 1 => 10usize..300],
        ),
        3,
    )
}

/// Valid max pooling parameters for `ax[..dims]` (padding reduced below
/// the effective kernel), and the spatial shape.
fn params(ax: &[Axis], dims: usize, ceil: bool) -> (MaxPoolParams, Vec<usize>) {
    let (mut k, mut s, mut d, mut pad, mut sp) = (vec![], vec![], vec![], vec![], vec![]);
    for (i, &(kk, ss, dd, pb, pa, len)) in ax[..dims].iter().enumerate() {
        // Long rows only on the last axis, to bound the test size.
        let len = if i + 1 < dims { len.min(9) } else { len };
        let eff = dd * (kk - 1) + 1;
        k.push(kk);
        s.push(ss);
        d.push(dd);
        pad.push([pb % eff, pa % eff]);
        sp.push(len);
    }
    let p = MaxPoolParams::new(&k)
        .stride(&s)
        .dilation(&d)
        .padding_mode(Padding::Explicit(pad))
        .ceil_mode(ceil);
    (p, sp)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn values_only_equals_argmax_kernel_bitwise(
        dims in 1usize..=3, planes in 1usize..4, ax in axes(), ceil in any::<bool>(),
        mode in 0u8..4, seed in any::<u64>()
    ) {
        let (p, sp) = params(&ax, dims, ceil);
        let mut shape = vec![planes];
        shape.extend(&sp);
        let n: usize = shape.iter().product();
        // Geometry errors (empty outputs, windows entirely in padding) are
        // the argmax path's business; only valid calls are compared.
        if let Ok(g) = p.geometry(&shape) {
            let g = Arc::new(g);
            let x = match mode {
                0 => input(seed, n, false),
                1 => input(seed, n, true),
                // A ReLU's output: ties and zeros, all of them `0.0`.
                2 => input(seed, n, false).into_iter().map(|v| v.max(0.0) + 0.0).collect(),
                _ => nonzero_ties(seed, n),
            };
            let (want, _) = max::forward(&x, &g, Par::Seq);
            let y = max::forward_values(&x, &g, Par::Seq);
            prop_assert_eq!(bits64(&y), bits64(&want));
            prop_assert_eq!(bits64(&max::forward_values(&x, &g, Par::Rayon)), bits64(&want));
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let (want_f, _) = max::forward(&xf, &g, Par::Seq);
            prop_assert_eq!(bits32(&max::forward_values(&xf, &g, Par::Seq)), bits32(&want_f));
        }
    }

    /// Long 1-d rows with kernel 3 and stride 2 (the vectorized row
    /// kernel), with ties, signed zeros, and NaN or infinities in some rows.
    #[test]
    fn long_rows_of_kernel_3_stride_2_equal_the_argmax_kernel_bitwise(
        len in 256usize..700, planes in 1usize..4, pad in 0usize..2,
        ceil in any::<bool>(), specials in any::<bool>(), seed in any::<u64>()
    ) {
        let shape = [planes, len];
        let g = Arc::new(
            MaxPoolParams::new(&[3]).stride(&[2]).padding(&[pad]).ceil_mode(ceil)
                .geometry(&shape).unwrap(),
        );
        let x = input(seed, planes * len, specials);
        let (want, _) = max::forward(&x, &g, Par::Seq);
        prop_assert_eq!(bits64(&max::forward_values(&x, &g, Par::Seq)), bits64(&want));
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let (want_f, _) = max::forward(&xf, &g, Par::Seq);
        prop_assert_eq!(bits32(&max::forward_values(&xf, &g, Par::Seq)), bits32(&want_f));
    }

    #[test]
    fn adaptive_values_only_equals_argmax_kernel_bitwise(
        dims in 1usize..=3, planes in 1usize..4,
        lens in proptest::collection::vec((1usize..9, 1usize..11), 3), seed in any::<u64>()
    ) {
        let sp: Vec<usize> = lens[..dims].iter().map(|l| l.0).collect();
        let mut shape = vec![planes];
        shape.extend(&sp);
        let req: Vec<Option<usize>> = lens[..dims].iter().map(|l| Some(l.1)).collect();
        let g = Arc::new(Geometry::adaptive_for("adaptive", &shape, &req).unwrap());
        let x = input(seed, shape.iter().product(), true);
        let (want, _) = max::forward(&x, &g, Par::Seq);
        prop_assert_eq!(bits64(&max::forward_values(&x, &g, Par::Seq)), bits64(&want));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Large enough for rayon to split the planes (several planes per
    /// task, several tasks, long rows for the k=3 s=2 row kernel).
    #[test]
    fn seq_and_rayon_are_bitwise_equal(
        k in 1usize..=3, s in 1usize..=2, pad in 0usize..2, ceil in any::<bool>(),
        one_d in any::<bool>(), seed in any::<u64>()
    ) {
        let shape: Vec<usize> = if one_d { vec![3, 40, 601] } else { vec![2, 8, 67, 71] };
        let n: usize = shape.iter().product();
        let mut x = Rng::new(seed).uniform_vec(n, -1.0, 1.0);
        x[n / 3] = f64::NAN;
        let pad = pad.min(k - 1);
        let dims = shape.len() - 1;
        let mp = MaxPoolParams::new(&vec![k; dims]).stride(&[s]).padding(&[pad]).ceil_mode(ceil);
        let g = mp.geometry(&shape).unwrap();
        let y = max::forward_values(&x, &g, Par::Seq);
        prop_assert_eq!(bits64(&y), bits64(&max::forward_values(&x, &g, Par::Rayon)));
        prop_assert_eq!(bits64(&y), bits64(&max::forward(&x, &Arc::new(g), Par::Rayon).0));
    }
}

#[test]
fn max_pool_without_recording_returns_the_recorded_values() {
    let shape = [2, 3, 17, 260];
    let n: usize = shape.iter().product();
    let mut x = input(7, n, true);
    x[5] = f64::NAN;
    let t = Tensor::from_vec(&shape, x).unwrap();
    for p in [
        MaxPoolParams::new(&[2, 2]),
        MaxPoolParams::new(&[3, 3]).stride(&[2]).padding(&[1]),
        MaxPoolParams::new(&[3, 2])
            .stride(&[1, 3])
            .dilation(&[2, 1])
            .ceil_mode(true),
    ] {
        let leaf = Var::leaf(t.clone());
        let (recorded, _) = max_pool_with_indices(&leaf, &p).unwrap();
        assert!(recorded.requires_grad());
        let want = bits64(recorded.value().as_slice());
        let recorded_plain = max_pool(&leaf, &p).unwrap();
        assert!(recorded_plain.requires_grad());
        assert_eq!(bits64(recorded_plain.value().as_slice()), want);
        {
            let _guard = no_grad();
            let y = max_pool(&leaf, &p).unwrap();
            assert!(!y.requires_grad());
            assert_eq!(y.shape(), recorded.shape());
            assert_eq!(bits64(y.value().as_slice()), want);
        }
        let y = max_pool(&Var::constant(t.clone()), &p).unwrap();
        assert!(!y.requires_grad());
        assert_eq!(bits64(y.value().as_slice()), want);
    }
    // Adaptive max pooling takes the same path.
    let leaf = Var::leaf(t.clone());
    let want = adaptive_max_pool(&leaf, &[Some(5), Some(7)]).unwrap();
    let _guard = no_grad();
    let y = adaptive_max_pool(&leaf, &[Some(5), Some(7)]).unwrap();
    assert!(!y.requires_grad());
    assert_eq!(
        bits64(y.value().as_slice()),
        bits64(want.value().as_slice())
    );
}

#[test]
fn max_pool_under_no_grad_keeps_nan_and_padding_semantics() {
    // 1-d, k=3 s=2 p=1: windows {pad,0,1}, {1,2,3}, {3,4,5}, {5,6,pad}.
    let x = Var::leaf(
        Tensor::from_vec(&[1, 1, 7], vec![-5.0, -6.0, 1.0, f64::NAN, 2.0, 3.0, -1.0]).unwrap(),
    );
    let _guard = no_grad();
    let y = max_pool(&x, &MaxPoolParams::new(&[3]).stride(&[2]).padding(&[1])).unwrap();
    let v = y.value().to_vec();
    assert_eq!(v[0], -5.0);
    assert!(v[1].is_nan() && v[2].is_nan());
    assert_eq!(v[3], 3.0);
}
