//! Named tests of instance, layer, group and RMS norm semantics.

mod common;

use autograd::{BackwardOptions, Tensor, Var};
use common::*;
use core_tensor::Rng;
use ops_norm::{
    InstanceNormConfig, NormError, RunningStats, group_norm, instance_norm, layer_norm, rms_norm,
};

#[test]
fn instance_norm_updates_running_stats_with_averaged_unbiased_variances_and_no_counter() {
    // Two samples, one channel, 3 spatial values each:
    // sample 0: 1, 2, 3 (mean 2, unbiased var 1); sample 1: 0, 4, 8 (mean 4, unbiased var 16).
    let x =
        Var::constant(Tensor::from_vec(&[2, 1, 3], vec![1.0, 2.0, 3.0, 0.0, 4.0, 8.0]).unwrap());
    let mut st = RunningStats::<f64>::from_parts(Tensor::zeros(&[1]), Tensor::ones(&[1]), 0);
    let cfg = InstanceNormConfig {
        momentum: 0.5,
        ..Default::default()
    };
    let y = instance_norm(&x, None, None, Some(&mut st), &cfg).unwrap();
    assert_close(&vals(&st.mean), &[0.5 * 3.0], 0.0, 1e-15, "running_mean");
    assert_close(
        &vals(&st.var),
        &[0.5 + 0.5 * 8.5],
        0.0,
        1e-14,
        "running_var",
    );
    assert_eq!(
        st.num_batches_tracked, 0,
        "instance norm never counts batches"
    );
    let s0 = (2.0f64 / 3.0 + 1e-5).sqrt();
    assert_close(
        &vals(&y.value())[..3],
        &[-1.0 / s0, 0.0, 1.0 / s0],
        1e-14,
        1e-14,
        "y",
    );
}

#[test]
fn instance_norm_with_running_stats_and_without_input_stats_normalizes_with_them() {
    let x = Var::constant(Tensor::from_vec(&[1, 2, 2], vec![1.0, 3.0, 10.0, 14.0]).unwrap());
    let mut st = RunningStats::from_parts(
        Tensor::from_vec(&[2], vec![1.0, 10.0]).unwrap(),
        Tensor::from_vec(&[2], vec![4.0, 16.0]).unwrap(),
        0,
    );
    let cfg = InstanceNormConfig {
        use_input_stats: false,
        eps: 0.0,
        ..Default::default()
    };
    let y = instance_norm(&x, None, None, Some(&mut st), &cfg).unwrap();
    assert_eq!(y.value().as_slice(), &[0.0, 1.0, 0.0, 1.0]);
    let e = instance_norm(&x, None, None, None, &cfg).unwrap_err();
    assert!(matches!(e, NormError::MissingRunningStats { .. }), "{e}");
}

#[test]
fn instance_norm_needs_more_than_one_spatial_element() {
    let x = Var::constant(Tensor::<f64>::ones(&[3, 2, 1]));
    let e = instance_norm(&x, None, None, None, &InstanceNormConfig::default()).unwrap_err();
    assert!(
        matches!(
            e,
            NormError::TooFewValues {
                unit: "spatial element",
                ..
            }
        ),
        "{e}"
    );
    let x = Var::constant(Tensor::<f64>::ones(&[3, 2]));
    assert!(instance_norm(&x, None, None, None, &InstanceNormConfig::default()).is_err());
}

#[test]
fn instance_norm_matches_the_reference_with_and_without_affine() {
    let mut rng = Rng::new(4);
    for shape in [vec![2, 3, 4], vec![2, 2, 3, 2], vec![1, 2, 2, 2, 2]] {
        let c = shape[1];
        let x = Var::constant(uniform::<f64>(&mut rng, &shape, -2.0, 2.0));
        let w = Var::constant(uniform::<f64>(&mut rng, &[c], 0.5, 2.0));
        let b = Var::constant(uniform::<f64>(&mut rng, &[c], -1.0, 1.0));
        for (wo, bo) in [(None, None), (Some(&w), Some(&b)), (Some(&w), None)] {
            let y = instance_norm(&x, wo, bo, None, &InstanceNormConfig::default()).unwrap();
            let r = ref_instance(&x, wo, bo, 1e-5).unwrap();
            assert_close(&vals(&y.value()), &vals(&r.value()), 1e-12, 1e-12, "y");
        }
    }
}

#[test]
fn layer_norm_checks_normalized_shape_and_parameters() {
    let x = Var::constant(Tensor::<f64>::ones(&[2, 3, 4]));
    for ns in [vec![], vec![3], vec![2, 3, 4, 1], vec![5, 3, 4]] {
        let e = layer_norm(&x, &ns, None, None, 1e-5).unwrap_err();
        assert!(
            matches!(e, NormError::NormalizedShape { .. }),
            "{ns:?}: {e}"
        );
    }
    let w = Var::constant(Tensor::<f64>::ones(&[4]));
    let e = layer_norm(&x, &[3, 4], Some(&w), None, 1e-5).unwrap_err();
    assert!(
        matches!(e, NormError::ParamShape { what: "weight", .. }),
        "{e}"
    );
    assert!(layer_norm(&x, &[2, 3, 4], None, None, 1e-5).is_ok());
    // A constant row with eps = 0 gives NaN (PyTorch does not validate eps).
    let y = layer_norm(&x, &[4], None, None, 0.0).unwrap();
    assert!(y.value().as_slice().iter().all(|v| v.is_nan()));
}

#[test]
fn layer_norm_matches_the_reference() {
    let mut rng = Rng::new(9);
    for (shape, k) in [
        (vec![3, 5], 1),
        (vec![2, 3, 4], 2),
        (vec![2, 2, 3, 2], 3),
        (vec![4], 1),
    ] {
        let ns = shape[shape.len() - k..].to_vec();
        let x = Var::constant(uniform::<f64>(&mut rng, &shape, -2.0, 2.0));
        let w = Var::constant(uniform::<f64>(&mut rng, &ns, 0.5, 2.0));
        let b = Var::constant(uniform::<f64>(&mut rng, &ns, -1.0, 1.0));
        let y = layer_norm(&x, &ns, Some(&w), Some(&b), 1e-5).unwrap();
        let r = ref_layer(&x, k, Some(&w), Some(&b), 1e-5).unwrap();
        assert_close(&vals(&y.value()), &vals(&r.value()), 1e-12, 1e-12, "y");
    }
}

#[test]
fn layer_norm_large_offset_f32_matches_f64() {
    let mut rng = Rng::new(77);
    let shape = [8, 256];
    let data: Vec<f32> = (0..8 * 256).map(|_| (1e4 + rng.normal()) as f32).collect();
    let y32 = layer_norm(
        &Var::constant(Tensor::from_vec(&shape, data.clone()).unwrap()),
        &[256],
        None,
        None,
        1e-5,
    )
    .unwrap();
    let x64 = Tensor::from_vec(&shape, data.iter().map(|&v| v as f64).collect()).unwrap();
    let y64 = layer_norm(&Var::constant(x64), &[256], None, None, 1e-5).unwrap();
    assert_close(&vals(&y32.value()), &vals(&y64.value()), 0.0, 1e-2, "y");
}

#[test]
fn group_norm_checks_groups_and_matches_the_reference() {
    let x = Var::constant(Tensor::<f64>::ones(&[2, 6, 3]));
    for g in [0, 4, 7] {
        let e = group_norm(&x, g, None, None, 1e-5).unwrap_err();
        assert!(matches!(e, NormError::InvalidGroups { .. }), "{g}: {e}");
    }
    let w = Var::constant(Tensor::<f64>::ones(&[3]));
    assert!(matches!(
        group_norm(&x, 3, Some(&w), None, 1e-5),
        Err(NormError::ParamShape { .. })
    ));
    // PyTorch's _verify_batch_size: N · C/G · spatial == 1 is rejected.
    let one = Var::constant(Tensor::<f64>::ones(&[1, 2, 1]));
    assert!(matches!(
        group_norm(&one, 2, None, None, 1e-5),
        Err(NormError::TooFewValues { .. })
    ));
    let mut rng = Rng::new(12);
    for (shape, g) in [
        (vec![2, 6], 3),
        (vec![2, 6, 3], 2),
        (vec![3, 4, 2, 2], 4),
        (vec![2, 4, 2, 1, 2], 1),
    ] {
        let c = shape[1];
        let x = Var::constant(uniform::<f64>(&mut rng, &shape, -2.0, 2.0));
        let w = Var::constant(uniform::<f64>(&mut rng, &[c], 0.5, 2.0));
        let b = Var::constant(uniform::<f64>(&mut rng, &[c], -1.0, 1.0));
        let y = group_norm(&x, g, Some(&w), Some(&b), 1e-5).unwrap();
        let r = ref_group(&x, g, Some(&w), Some(&b), 1e-5).unwrap();
        assert_close(&vals(&y.value()), &vals(&r.value()), 1e-12, 1e-12, "y");
    }
}

#[test]
fn rms_norm_default_eps_is_the_dtype_machine_epsilon() {
    // A zero row: y = 0 / sqrt(eps) = 0, gradient 1/sqrt(eps) per element.
    let x = Var::leaf(Tensor::<f32>::zeros(&[1, 2]));
    let y = rms_norm(&x, &[2], None, None).unwrap();
    y.backward_with(&Tensor::ones(&[1, 2]), BackwardOptions::default())
        .unwrap();
    let g = x.grad().unwrap().as_slice()[0];
    assert!((g - 1.0 / f32::EPSILON.sqrt()).abs() < 1.0, "{g}");
    let x = Var::leaf(Tensor::<f64>::zeros(&[1, 2]));
    let y = rms_norm(&x, &[2], None, None).unwrap();
    y.backward_with(&Tensor::ones(&[1, 2]), BackwardOptions::default())
        .unwrap();
    let g = x.grad().unwrap().as_slice()[0];
    assert!((g / (1.0 / f64::EPSILON.sqrt()) - 1.0).abs() < 1e-12, "{g}");
}

#[test]
fn rms_norm_matches_the_reference() {
    let mut rng = Rng::new(13);
    for (shape, k) in [(vec![3, 5], 1), (vec![2, 3, 4], 2)] {
        let ns = shape[shape.len() - k..].to_vec();
        let x = Var::constant(uniform::<f64>(&mut rng, &shape, -2.0, 2.0));
        let w = Var::constant(uniform::<f64>(&mut rng, &ns, 0.5, 2.0));
        let y = rms_norm(&x, &ns, Some(&w), Some(1e-6)).unwrap();
        let r = ref_rms(&x, k, Some(&w), 1e-6).unwrap();
        assert_close(&vals(&y.value()), &vals(&r.value()), 1e-12, 1e-12, "y");
    }
    let x = Var::constant(Tensor::<f64>::ones(&[2, 3]));
    assert!(matches!(
        rms_norm(&x, &[2], None, None),
        Err(NormError::NormalizedShape { .. })
    ));
}
