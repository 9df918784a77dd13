//! Named tests for every PyTorch semantic the pooling ops pin. Expected
//! values come from the PyTorch snippets quoted above each test (checked
//! against `shared/reference/pytorch-semantics.md`) or are worked by hand.

mod common;

use autograd::{AutogradError, Var};
use core_tensor::Tensor;
use ops_pool::kernels::*;
use ops_pool::*;

fn var(shape: &[usize], v: &[f64]) -> Var<f64> {
    Var::leaf(Tensor::from_vec(shape, v.to_vec()).unwrap())
}

fn vals(v: &Var<f64>) -> Vec<f64> {
    v.value().to_vec()
}

#[test]
fn ties_go_to_the_first_maximum_and_get_the_whole_gradient() {
    // F.max_pool2d(torch.ones(1,1,2,2), 2, return_indices=True)[1] -> [[[[0]]]]
    let x = var(&[1, 1, 2, 2], &[1.0; 4]);
    let (y, idx) = max_pool_with_indices(&x, &MaxPoolParams::new(&[2, 2])).unwrap();
    assert_eq!(idx.as_slice(), &[0]);
    y.sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[1.0, 0.0, 0.0, 0.0]);
    // [[1,2],[2,1]] -> index 1 (the first 2)
    let x = var(&[1, 1, 2, 2], &[1.0, 2.0, 2.0, 1.0]);
    let (_, idx) = max_pool_with_indices(&x, &MaxPoolParams::new(&[2, 2])).unwrap();
    assert_eq!(idx.as_slice(), &[1]);
}

#[test]
fn nan_wins_and_the_last_nan_is_reported() {
    // F.max_pool1d(torch.tensor([[[1, nan, 2, nan, 0.]]]), 5, return_indices=True) -> nan, index 3
    let x = var(&[1, 1, 5], &[1.0, f64::NAN, 2.0, f64::NAN, 0.0]);
    let (y, idx) = max_pool_with_indices(&x, &MaxPoolParams::new(&[5])).unwrap();
    assert!(y.value().as_slice()[0].is_nan());
    assert_eq!(idx.as_slice(), &[3]);
    // A NaN in the first tap stays.
    let x = var(&[1, 1, 3], &[f64::NAN, 5.0, 1.0]);
    let (y, idx) = max_pool_with_indices(&x, &MaxPoolParams::new(&[3])).unwrap();
    assert!(y.value().as_slice()[0].is_nan());
    assert_eq!(idx.as_slice(), &[0]);
    // Adaptive max pooling follows the same rule.
    let x = var(&[1, 4], &[1.0, f64::NAN, 7.0, 2.0]);
    let (y, idx) = adaptive_max_pool_with_indices(&x, &[Some(1)]).unwrap();
    assert!(vals(&y)[0].is_nan());
    assert_eq!(idx.as_slice(), &[1]);
}

#[test]
fn all_minus_infinity_window_reports_its_first_element() {
    let x = var(&[1, 3], &[f64::NEG_INFINITY; 3]);
    let (y, idx) =
        max_pool_with_indices(&x, &MaxPoolParams::new(&[3]).padding(&[1]).stride(&[1])).unwrap();
    assert_eq!(vals(&y), vec![f64::NEG_INFINITY; 3]);
    assert_eq!(idx.as_slice(), &[0, 0, 1]);
}

#[test]
fn ceil_mode_keeps_a_partial_last_window_and_drops_one_starting_in_padding() {
    // F.max_pool1d(torch.arange(1., 6).view(1,1,5), 2, 2, ceil_mode=True) -> [2, 4, 5]
    let x = var(&[1, 1, 5], &[1.0, 2.0, 3.0, 4.0, 5.0]);
    let y = max_pool(&x, &MaxPoolParams::new(&[2]).ceil_mode(true)).unwrap();
    assert_eq!(vals(&y), vec![2.0, 4.0, 5.0]);
    // k=2, s=2, pad 1, ceil: the formula gives 4 windows, the 4th would start in the right padding.
    let y = max_pool(&x, &MaxPoolParams::new(&[2]).padding(&[1]).ceil_mode(true)).unwrap();
    assert_eq!(vals(&y), vec![1.0, 3.0, 5.0]);
    // MaxPool2d(6, ceil_mode=True) on 5x5 -> 1x1; without ceil mode an error.
    let x = var(&[1, 5, 5], &(0..25).map(f64::from).collect::<Vec<_>>());
    assert_eq!(
        max_pool(&x, &MaxPoolParams::new(&[6, 6]).ceil_mode(true))
            .unwrap()
            .shape(),
        vec![1, 1, 1]
    );
    assert!(max_pool(&x, &MaxPoolParams::new(&[6, 6])).is_err());
}

#[test]
fn count_include_pad_ignores_the_ceil_overhang() {
    // F.avg_pool1d(torch.arange(1., 6).view(1,1,5), 2, 2, ceil_mode=True) -> [1.5, 3.5, 5.0]
    let x = var(&[1, 1, 5], &[1.0, 2.0, 3.0, 4.0, 5.0]);
    let y = avg_pool(&x, &AvgPoolParams::new(&[2]).ceil_mode(true)).unwrap();
    assert_eq!(vals(&y), vec![1.5, 3.5, 5.0]);
    // k=3, s=2, p=1: with padding counted [1, 3, 3]; without [1.5, 3, 4.5]
    let p = AvgPoolParams::new(&[3]).stride(&[2]).padding(&[1]);
    assert_eq!(vals(&avg_pool(&x, &p).unwrap()), vec![1.0, 3.0, 3.0]);
    assert_eq!(
        vals(&avg_pool(&x, &p.clone().count_include_pad(false)).unwrap()),
        vec![1.5, 3.0, 4.5]
    );
    // ceil with padding: k=2, s=2, p=1 on 6 elements -> windows [-1,1),[1,3),[3,5),[5,7): last counts
    // the padded position 6 but nothing beyond.
    let x6 = var(&[1, 6], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let y = avg_pool(&x6, &AvgPoolParams::new(&[2]).padding(&[1]).ceil_mode(true)).unwrap();
    assert_eq!(vals(&y), vec![0.5, 2.5, 4.5, 3.0]);
}

#[test]
fn divisor_override_replaces_every_divisor() {
    // F.avg_pool2d(x, 2, divisor_override=5) on arange(1,6) as 1-d-like rows
    let x = var(&[1, 1, 1, 5], &[1.0, 2.0, 3.0, 4.0, 5.0]);
    let p = AvgPoolParams::new(&[1, 2]).divisor_override(Some(5));
    assert_eq!(vals(&avg_pool(&x, &p).unwrap()), vec![0.6, 1.4]);
    let p = AvgPoolParams::new(&[1, 2])
        .divisor_override(Some(-1))
        .count_include_pad(false);
    assert_eq!(vals(&avg_pool(&x, &p).unwrap()), vec![-3.0, -7.0]);
    let err = avg_pool(&x, &AvgPoolParams::new(&[1, 2]).divisor_override(Some(0))).unwrap_err();
    assert!(
        matches!(
            err,
            PoolError::InvalidScalar {
                param: "divisor_override",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn asymmetric_padding() {
    let x = var(&[1, 4], &[1.0, 2.0, 3.0, 4.0]);
    // windows [-1, 0] and [1, 2]
    let mp = MaxPoolParams::new(&[2]).padding_mode(Padding::Explicit(vec![[1, 0]]));
    let (y, idx) = max_pool_with_indices(&x, &mp).unwrap();
    assert_eq!((vals(&y), idx.to_vec()), (vec![1.0, 3.0], vec![0, 2]));
    let ap = AvgPoolParams::new(&[2]).padding_mode(Padding::Explicit(vec![[1, 0]]));
    assert_eq!(vals(&avg_pool(&x, &ap).unwrap()), vec![0.5, 2.5]);
    let ap = AvgPoolParams::new(&[2])
        .stride(&[1])
        .padding_mode(Padding::Explicit(vec![[0, 1]]));
    assert_eq!(vals(&avg_pool(&x, &ap).unwrap()), vec![1.5, 2.5, 3.5, 2.0]);
}

#[test]
fn same_and_valid_padding() {
    let x = var(&[1, 4], &[1.0, 2.0, 3.0, 4.0]);
    // SAME_UPPER, k=2 s=1: pad [0, 1] -> output length ceil(4/1) = 4
    let up = MaxPoolParams::new(&[2])
        .stride(&[1])
        .padding_mode(Padding::SameUpper);
    assert_eq!(vals(&max_pool(&x, &up).unwrap()), vec![2.0, 3.0, 4.0, 4.0]);
    let low = MaxPoolParams::new(&[2])
        .stride(&[1])
        .padding_mode(Padding::SameLower);
    assert_eq!(vals(&max_pool(&x, &low).unwrap()), vec![1.0, 2.0, 3.0, 4.0]);
    let valid = MaxPoolParams::new(&[2])
        .stride(&[1])
        .padding_mode(Padding::Valid);
    assert_eq!(vals(&max_pool(&x, &valid).unwrap()), vec![2.0, 3.0, 4.0]);
    // ONNX test_maxpool_2d_same_upper: 5x5, k=3, s=2 -> pad [1,1], output 3x3
    assert_eq!(
        params::same_padding("t", &[5, 5], &[3], &[2], &[1], true).unwrap(),
        vec![[1, 1], [1, 1]]
    );
    // ONNX test_averagepool_2d_same_lower: 32x32 k=2 s=1 -> pad [1, 0]
    assert_eq!(
        params::same_padding("t", &[32], &[2], &[1], &[1], false).unwrap(),
        vec![[1, 0]]
    );
}

#[test]
fn dilation_spreads_the_taps() {
    // F.max_pool1d(torch.tensor([[[1,5,2,4,3.]]]), 2, 1, dilation=2, return_indices=True) -> [2,5,3], [2,1,4]
    let x = var(&[1, 1, 5], &[1.0, 5.0, 2.0, 4.0, 3.0]);
    let (y, idx) =
        max_pool_with_indices(&x, &MaxPoolParams::new(&[2]).stride(&[1]).dilation(&[2])).unwrap();
    assert_eq!(
        (vals(&y), idx.to_vec()),
        (vec![2.0, 5.0, 3.0], vec![2, 1, 4])
    );
    // A dilated window lying entirely in padding is rejected (PyTorch returns -inf and a bad index).
    let one = var(&[1, 1, 1], &[1.0]);
    let err = max_pool(&one, &MaxPoolParams::new(&[2]).padding(&[1]).dilation(&[2])).unwrap_err();
    assert!(matches!(err, PoolError::EmptyWindow { .. }), "{err}");
}

#[test]
fn unbatched_input_matches_batch_of_one() {
    let data: Vec<f64> = (0..2 * 5 * 6).map(|v| ((v * 37) % 23) as f64).collect();
    let xu = var(&[2, 5, 6], &data);
    let xb = var(&[1, 2, 5, 6], &data);
    let p = MaxPoolParams::new(&[3, 2]).stride(&[2, 1]).padding(&[1, 0]);
    let (yu, iu) = max_pool_with_indices(&xu, &p).unwrap();
    let (yb, ib) = max_pool_with_indices(&xb, &p).unwrap();
    assert_eq!(yu.shape(), vec![2, 3, 5]);
    assert_eq!((vals(&yu), iu.to_vec()), (vals(&yb), ib.to_vec()));
    let a = AvgPoolParams::new(&[2, 2]).ceil_mode(true);
    assert_eq!(
        vals(&avg_pool(&xu, &a).unwrap()),
        vals(&avg_pool(&xb, &a).unwrap())
    );
    assert_eq!(
        vals(&adaptive_avg_pool(&xu, &[Some(2), None]).unwrap()),
        vals(&adaptive_avg_pool(&xb, &[Some(2), None]).unwrap())
    );
}

#[test]
fn indices_round_trip_through_max_unpool() {
    let data: Vec<f64> = (0..2 * 3 * 4 * 4)
        .map(|v| ((v * 7919) % 97) as f64)
        .collect();
    let x = var(&[2, 3, 4, 4], &data);
    let p = MaxPoolParams::new(&[2, 2]);
    let (y, idx) = max_pool_with_indices(&x, &p).unwrap();
    let up = max_unpool(&y, &idx, &MaxUnpoolParams::new(&[2, 2])).unwrap();
    assert_eq!(up.shape(), vec![2, 3, 4, 4]);
    // Each maximum sits where it came from; everything else is zero.
    let (u, xs) = (vals(&up), x.value().to_vec());
    let mut kept = 0;
    for (i, (&a, &b)) in u.iter().zip(&xs).enumerate() {
        assert!(a == 0.0 || a == b, "element {i}");
        kept += usize::from(a != 0.0);
    }
    assert!(kept > 0);
    let (y2, idx2) = max_pool_with_indices(&up, &p).unwrap();
    assert_eq!((vals(&y2), idx2.to_vec()), (vals(&y), idx.to_vec()));
    // A larger output size within (default - stride, default + stride).
    let big = max_unpool(
        &y,
        &idx,
        &MaxUnpoolParams::new(&[2, 2]).output_size(&[5, 5]),
    )
    .unwrap();
    assert_eq!(big.shape(), vec![2, 3, 5, 5]);
    // Out of range sizes and indices are errors.
    assert!(
        max_unpool(
            &y,
            &idx,
            &MaxUnpoolParams::new(&[2, 2]).output_size(&[6, 4])
        )
        .is_err()
    );
    let bad = Tensor::from_vec(
        idx.shape(),
        idx.as_slice().iter().map(|&i| i + 100).collect(),
    )
    .unwrap();
    assert!(matches!(
        max_unpool(&y, &bad, &MaxUnpoolParams::new(&[2, 2])),
        Err(PoolError::IndexOutOfRange { .. })
    ));
}

#[test]
fn adaptive_windows_overlap_and_upsample() {
    // F.adaptive_avg_pool1d(torch.tensor([[[1,2,3.]]]), 5) -> [1, 1.5, 2, 2.5, 3]; max indices [0,1,1,2,2]
    let x = var(&[1, 1, 3], &[1.0, 2.0, 3.0]);
    assert_eq!(
        vals(&adaptive_avg_pool(&x, &[Some(5)]).unwrap()),
        vec![1.0, 1.5, 2.0, 2.5, 3.0]
    );
    let (_, idx) = adaptive_max_pool_with_indices(&x, &[Some(5)]).unwrap();
    assert_eq!(idx.as_slice(), &[0, 1, 1, 2, 2]);
    // AdaptiveAvgPool2d((None, 2)) on (1,3,5,7) -> (1,3,5,2)
    let x = var(&[1, 3, 5, 7], &vec![1.0; 105]);
    assert_eq!(
        adaptive_avg_pool(&x, &[None, Some(2)]).unwrap().shape(),
        vec![1, 3, 5, 2]
    );
    assert_eq!(global_max_pool(&x, 2).unwrap().shape(), vec![1, 3, 1, 1]);
    assert!(adaptive_avg_pool(&x, &[Some(0), Some(2)]).is_err());
}

#[test]
fn lp_pool_is_the_p_norm_of_each_window() {
    let x = var(&[1, 4], &[3.0, -4.0, 1.0, 0.0]);
    assert_eq!(
        vals(&lp_pool(&x, &LpPoolParams::new(2.0, &[2])).unwrap()),
        vec![5.0, 1.0]
    );
    assert_eq!(
        vals(&lp_pool(&x, &LpPoolParams::new(1.0, &[2])).unwrap()),
        vec![7.0, 1.0]
    );
    assert_eq!(
        vals(&lp_pool(&x, &LpPoolParams::new(f64::INFINITY, &[2])).unwrap()),
        vec![4.0, 1.0]
    );
    for p in [0.0, -1.0, f64::NAN, f64::NEG_INFINITY] {
        assert!(
            matches!(
                lp_pool(&x, &LpPoolParams::new(p, &[2])),
                Err(PoolError::InvalidScalar { .. })
            ),
            "{p}"
        );
    }
    // The gradient of an all-zero window is zero, as in PyTorch.
    let z = var(&[1, 2], &[0.0, 0.0]);
    lp_pool(&z, &LpPoolParams::new(2.0, &[2]))
        .unwrap()
        .sum_all()
        .backward()
        .unwrap();
    assert_eq!(z.grad().unwrap().as_slice(), &[0.0, 0.0]);
}

#[test]
fn argmax_is_saved_in_the_smallest_type() {
    let x = Tensor::from_vec(&[1, 17, 17], (0..289).map(f64::from).collect()).unwrap();
    let small = MaxPoolParams::new(&[16, 16]).geometry(x.shape()).unwrap();
    let (_, am) = max::forward(
        x.as_slice(),
        &std::sync::Arc::new(small),
        core_tensor::Par::Seq,
    );
    assert_eq!(am.bytes_per_element(), 1);
    let big = MaxPoolParams::new(&[17, 17]).geometry(x.shape()).unwrap();
    let (y, am) = max::forward(
        x.as_slice(),
        &std::sync::Arc::new(big),
        core_tensor::Par::Seq,
    );
    assert_eq!(
        (am.bytes_per_element(), y, am.to_indices()),
        (2, vec![288.0], vec![288])
    );
}

#[test]
fn padding_up_to_effective_kernel_minus_one_is_accepted() {
    // ONNX test_maxpool_2d_pads: 5x5, k=3, pad 2 (PyTorch rejects pad > k/2).
    let x = var(&[1, 1, 5, 5], &(0..25).map(f64::from).collect::<Vec<_>>());
    let y = max_pool(&x, &MaxPoolParams::new(&[3, 3]).stride(&[1]).padding(&[2])).unwrap();
    assert_eq!(y.shape(), vec![1, 1, 7, 7]);
    let err = max_pool(&x, &MaxPoolParams::new(&[3, 3]).padding(&[3])).unwrap_err();
    assert!(
        matches!(
            err,
            PoolError::PaddingTooLarge {
                axis: 0,
                max: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("max_pool2d"), "{err}");
}

#[test]
fn pool_errors_convert_into_autograd_errors() {
    fn user_code(x: &Var<f64>) -> autograd::Result<Var<f64>> {
        let y = max_pool(x, &MaxPoolParams::new(&[2]))?;
        Ok(y.sum_all())
    }
    let err = user_code(&var(&[1, 1, 1], &[1.0])).unwrap_err();
    assert!(
        matches!(
            err,
            AutogradError::Op {
                op: "max_pool1d",
                ..
            }
        ),
        "{err}"
    );
    assert!(user_code(&var(&[1, 1, 4], &[1.0, 2.0, 3.0, 4.0])).is_ok());
}

#[test]
fn max_pool_double_backward_is_a_gather_at_the_argmax() {
    // torch: ggo == ggi.flatten(-2).gather(-1, idx.flatten(-2))
    let x = var(&[1, 1, 2, 4], &[1.0, 8.0, 3.0, 2.0, 5.0, 4.0, 7.0, 6.0]);
    let (y, idx) = max_pool_with_indices(&x, &MaxPoolParams::new(&[2, 2])).unwrap();
    let g = Var::leaf(Tensor::from_vec(&[1, 1, 1, 2], vec![1.0, 1.0]).unwrap());
    let gx = autograd::grad(
        &[y],
        std::slice::from_ref(&x),
        std::slice::from_ref(&g),
        true,
    )
    .unwrap()[0]
        .clone()
        .unwrap();
    let ggi = Tensor::from_vec(&[1, 1, 2, 4], (1..=8).map(f64::from).collect()).unwrap();
    let ggo = autograd::grad(&[gx], &[g], &[Var::constant(ggi.clone())], false).unwrap()[0]
        .clone()
        .unwrap();
    let want: Vec<f64> = idx
        .as_slice()
        .iter()
        .map(|&i| ggi.as_slice()[i as usize])
        .collect();
    assert_eq!(ggo.value().to_vec(), want);
}

#[test]
fn f32_and_f64_agree() {
    let data: Vec<f64> = (0..3 * 9 * 9)
        .map(|v| ((v * 31) % 50) as f64 / 7.0)
        .collect();
    let x64 = Var::constant(Tensor::from_vec(&[3, 9, 9], data.clone()).unwrap());
    let x32 = Var::constant(
        Tensor::from_vec(&[3, 9, 9], data.iter().map(|&v| v as f32).collect()).unwrap(),
    );
    let p = AvgPoolParams::new(&[3, 3])
        .stride(&[2])
        .padding(&[1])
        .ceil_mode(true);
    let a: Vec<f64> = avg_pool(&x32, &p)
        .unwrap()
        .value()
        .as_slice()
        .iter()
        .map(|&v| v as f64)
        .collect();
    common::assert_close(&a, &vals(&avg_pool(&x64, &p).unwrap()), 1e-6, 1e-6);
}

#[test]
fn an_empty_batch_gives_an_empty_output_and_gradient() {
    // torch: F.max_pool2d(torch.zeros(0, 2, 4, 4), 2).shape == (0, 2, 2, 2)
    let x = Var::leaf(Tensor::<f64>::zeros(&[0, 2, 4, 4]));
    let outs = [
        max_pool(&x, &MaxPoolParams::new(&[2, 2])).unwrap(),
        avg_pool(&x, &AvgPoolParams::new(&[2, 2])).unwrap(),
        lp_pool(&x, &LpPoolParams::new(2.0, &[2, 2])).unwrap(),
        adaptive_avg_pool(&x, &[Some(1), Some(3)]).unwrap(),
        adaptive_max_pool(&x, &[Some(1), Some(3)]).unwrap(),
    ];
    for y in &outs {
        assert_eq!(y.shape()[..2], [0, 2]);
        y.backward_with(&Tensor::zeros(&y.shape()), Default::default())
            .unwrap();
    }
    assert_eq!(x.grad().unwrap().shape(), &[0, 2, 4, 4]);
    let idx = Tensor::<i64>::from_vec(&[0, 2, 2, 2], vec![]).unwrap();
    let up = max_unpool(
        &Var::leaf(Tensor::<f64>::zeros(&[0, 2, 2, 2])),
        &idx,
        &MaxUnpoolParams::new(&[2, 2]),
    )
    .unwrap();
    assert_eq!(up.shape(), vec![0, 2, 4, 4]);
}
