//! Arbitrary (also invalid) parameters and shapes: every call returns `Ok`
//! or a typed `PoolError`, never a panic.

use autograd::Var;
use core_tensor::Tensor;
use ops_pool::*;
use proptest::prelude::*;

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1),
        Just(2),
        Just(3),
        Just(7),
        Just(usize::MAX),
        Just(usize::MAX / 2)
    ]
}

fn list() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(size(), 0..5)
}

fn pads() -> impl Strategy<Value = Padding> {
    prop_oneof![
        proptest::collection::vec((size(), size()).prop_map(|(a, b)| [a, b]), 0..5)
            .prop_map(Padding::Explicit),
        Just(Padding::SameUpper),
        Just(Padding::SameLower),
        Just(Padding::Valid),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_parameters_never_panic(
        shape in proptest::collection::vec(0usize..5, 0..7),
        kernel in list(), stride in proptest::option::of(list()), dilation in list(), padding in pads(),
        ceil in any::<bool>(), cip in any::<bool>(), div in proptest::option::of(any::<i64>()),
        norm in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(0.0), Just(2.0)],
        out in proptest::collection::vec(proptest::option::of(size()), 0..5),
        unpool_out in proptest::option::of(list()),
        idx_fill in prop_oneof![Just(0i64), Just(-1), Just(3), Just(i64::MAX)],
        ratio in proptest::collection::vec(prop_oneof![Just(0.5), Just(0.0), Just(1.0), Just(f64::NAN), Just(0.99)], 0..4),
        sample_shape in proptest::collection::vec(0usize..4, 0..4),
        sample in prop_oneof![Just(0.0), Just(0.999), Just(1.0), Just(-0.5), Just(f64::NAN)],
    ) {
        let n: usize = shape.iter().product();
        let x = Var::leaf(Tensor::from_vec(&shape, (0..n).map(|v| v as f64).collect()).unwrap());
        let check = |r: Result<Var<f64>, PoolError>| {
            if let Ok(y) = r {
                // A successful call gives a usable output and gradient.
                y.sum_all().backward().unwrap();
            }
        };
        let mp = MaxPoolParams { kernel_size: kernel.clone(), stride: stride.clone(), padding: padding.clone(), dilation: dilation.clone(), ceil_mode: ceil };
        check(max_pool(&x, &mp));
        let _ = max_pool_with_indices(&x, &mp);
        let ap = AvgPoolParams { kernel_size: kernel.clone(), stride: stride.clone(), padding: padding.clone(), ceil_mode: ceil, count_include_pad: cip, divisor_override: div };
        check(avg_pool(&x, &ap));
        let lp = LpPoolParams { norm_type: norm, kernel_size: kernel.clone(), stride: stride.clone(), padding: padding.clone(), ceil_mode: ceil };
        check(lp_pool(&x, &lp));
        check(adaptive_avg_pool(&x, &out));
        check(adaptive_max_pool(&x, &out));
        check(global_avg_pool(&x, kernel.len()));
        check(global_max_pool(&x, kernel.len()));
        let pairs = match &padding { Padding::Explicit(p) => p.clone(), _ => vec![] };
        let up = MaxUnpoolParams { kernel_size: kernel.clone(), stride: stride.clone(), padding: pairs, output_size: unpool_out };
        let idx = Tensor::from_vec(&shape, vec![idx_fill; n]).unwrap();
        check(max_unpool(&x, &idx, &up));
        let wrong = Tensor::from_vec(&[n], vec![0i64; n]).unwrap();
        let _ = max_unpool(&x, &wrong, &up);
        let ns: usize = sample_shape.iter().product();
        let samples = Tensor::from_vec(&sample_shape, vec![sample; ns]).unwrap();
        let out_sizes: Vec<usize> = out.iter().map(|o| o.unwrap_or(1)).collect();
        check(fractional_max_pool(&x, &FractionalMaxPoolParams::with_output_size(&kernel, &out_sizes), &samples));
        check(fractional_max_pool(&x, &FractionalMaxPoolParams::with_output_ratio(&kernel, &ratio), &samples));
    }
}
