//! Helpers shared by the integration tests that build the examples' CNN
//! and compare it with PyTorch's fixtures (`torch_cnn`, `handgrad_cnn`,
//! `determinism`). Each test file includes this module and uses a part of
//! it, so items unused by one file are allowed.
#![allow(dead_code)]

use std::path::PathBuf;

use core_tensor::{Float, Rng, Tensor};
use nn::prelude::*;
use nn::{BatchNorm2d, MaxPool2d, StateDict, StateTensor};

/// `name` in the fixture folder `tests/data/{fixture}`.
pub(crate) fn fixture(fixture: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(fixture)
        .join(name)
}

/// The examples' CNN (`examples::train::digits_cnn`): Conv2d(`channels`,
/// 16, 3, p=1), BatchNorm2d, ReLU, MaxPool2d(2), Conv2d(16, 32, 3, p=1),
/// BatchNorm2d, ReLU, MaxPool2d(2), Flatten, Linear(`flat`, 10).
pub(crate) fn examples_cnn<F: Float>(channels: usize, flat: usize, rng: &mut Rng) -> Sequential<F> {
    let pad1 = ConvOptions::default().padding(1);
    Sequential::new()
        .push(Conv2d::with_options(channels, 16, [3, 3], pad1, rng).unwrap())
        .push(BatchNorm2d::new(16).unwrap())
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Conv2d::with_options(16, 32, [3, 3], pad1, rng).unwrap())
        .push(BatchNorm2d::new(32).unwrap())
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Flatten::new())
        .push(Linear::new(flat, 10, true, rng).unwrap())
}

/// Asserts that `got` has `want`'s shape and differs from it by at most
/// `tol` in every element (a NaN fails), naming the worst element.
pub(crate) fn assert_close(what: &str, got: &Tensor<f64>, want: &Tensor<f64>, tol: f64) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let (mut worst, mut at) = (0.0f64, 0);
    for (i, (a, b)) in got.as_slice().iter().zip(want.as_slice()).enumerate() {
        let d = (a - b).abs();
        if d > worst || d.is_nan() {
            worst = d;
            at = i;
        }
    }
    eprintln!("{what}: worst |diff| {worst:e}");
    assert!(
        worst <= tol,
        "{what}: worst |diff| {worst:e} at {at} ({} vs {})",
        got.as_slice()[at],
        want.as_slice()[at]
    );
}

/// Asserts that the running statistics of the batch-norm layers `layers`
/// in `after` equal PyTorch's `after_train.*` entries of `io` (means and
/// variances to `tol`, counters exactly), and returns the counters.
pub(crate) fn assert_running_stats(
    after: &StateDict<f64>,
    io: &StateDict<f64>,
    layers: &[&str],
    tol: f64,
) -> Vec<i64> {
    let mut counters = Vec::new();
    for layer in layers {
        for buf in ["running_mean", "running_var"] {
            let key = format!("{layer}.{buf}");
            let want = io
                .get_float(&format!("after_train.{key}"))
                .unwrap_or_else(|| panic!("io has after_train.{key}"));
            assert_close(&key, after.get_float(&key).unwrap(), want, tol);
        }
        let key = format!("{layer}.num_batches_tracked");
        let want = io
            .get(&format!("after_train.{key}"))
            .and_then(StateTensor::as_int)
            .unwrap_or_else(|| panic!("io has after_train.{key}"));
        assert_eq!(
            after.get(&key).and_then(StateTensor::as_int),
            Some(want),
            "{key}"
        );
        counters.push(want.as_slice()[0]);
    }
    counters
}
