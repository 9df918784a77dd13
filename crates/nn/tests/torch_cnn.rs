//! The PyTorch fixture (`tests/data/torch_cnn`, see its README): a small
//! CNN saved by `safetensors.torch.save_file(model.state_dict())` in f64 is
//! loaded into the equivalent handgrad `Sequential`, and the eval output,
//! the training-mode output, the input and parameter gradients and the
//! running statistics after one training step match PyTorch's to 1e-10.

mod common;

use std::path::PathBuf;

use autograd::{BackwardOptions, Var};
use common::{assert_close, assert_running_stats};
use core_tensor::Rng;
use nn::prelude::*;
use nn::{
    AdaptiveMaxPool2d, AvgPool2d, BatchNorm2d, MaxPool2d, NormOptions, StateTensor,
    load_safetensors,
};

fn data(name: &str) -> PathBuf {
    common::fixture("torch_cnn", name)
}

/// The handgrad twin of the fixture's `nn.Sequential` (random init; the
/// state dict overwrites it).
fn build() -> Sequential<f64> {
    let mut rng = Rng::new(0);
    let pad1 = ConvOptions::default().padding(1);
    Sequential::new()
        .push(Conv2d::with_options(1, 8, [3, 3], pad1, &mut rng).unwrap())
        .push(BatchNorm2d::new(8).unwrap())
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Conv2d::with_options(8, 16, [3, 3], pad1, &mut rng).unwrap())
        .push(BatchNorm2d::with_options(16, NormOptions::batch_norm().momentum(None)).unwrap())
        .push(ReLU::new())
        .push(AvgPool2d::new(2).ceil_mode(true).count_include_pad(false))
        .push(AdaptiveMaxPool2d::new(1))
        .push(Flatten::new())
        .push(Dropout::new(0.5, 7).unwrap())
        .push(Linear::new(16, 10, true, &mut rng).unwrap())
}

#[test]
fn torch_cnn_matches_pytorch() {
    let state = load_safetensors::<f64>(data("model.safetensors")).unwrap();
    let io = load_safetensors::<f64>(data("io.safetensors")).unwrap();
    let t = |k: &str| {
        io.get_float(k)
            .unwrap_or_else(|| panic!("io has {k}"))
            .clone()
    };

    let mut net = build();
    // Names and order equal PyTorch's state dict keys.
    let ours: Vec<String> = net.state_dict().keys().map(str::to_string).collect();
    let mut theirs: Vec<String> = state.keys().map(str::to_string).collect();
    let mut sorted = ours.clone();
    sorted.sort();
    theirs.sort();
    assert_eq!(sorted, theirs);
    assert_eq!(
        ours[..7],
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked"
        ]
    );
    let report = net.load_state_dict(&state, true).unwrap();
    assert!(report.missing.is_empty() && report.unexpected.is_empty());

    // Eval mode.
    net.eval();
    let x = t("x");
    let y_eval = net.forward(&Var::constant(x.clone())).unwrap();
    assert_close("y_eval", &y_eval.value(), &t("y_eval"), 1e-10);
    // Eval does not touch the buffers.
    let now = net.state_dict();
    for (k, v) in state.iter() {
        assert_eq!(now.get(k), Some(v), "{k} unchanged by eval");
    }

    // Training mode with Dropout (layer 10) switched off, as in the fixture.
    net.train();
    net.get_mut(10).unwrap().eval();
    let xv = Var::leaf(x);
    let y = net.forward(&xv).unwrap();
    assert_close("y_train", &y.value(), &t("y_train"), 1e-10);
    y.backward_with(&t("grad_y"), BackwardOptions::default())
        .unwrap();
    assert_close("grad_x", &xv.grad().unwrap(), &t("grad_x"), 1e-10);
    let params = net.named_parameters();
    assert_eq!(params.len(), 10);
    for (name, p) in &params {
        assert_close(
            &format!("grad.{name}"),
            &p.grad().unwrap(),
            &t(&format!("grad.{name}")),
            1e-10,
        );
    }
    let counters = assert_running_stats(&net.state_dict(), &io, &["1", "5"], 1e-10);
    for (layer, counter) in ["1", "5"].iter().zip(counters) {
        let key = format!("{layer}.num_batches_tracked");
        let before = state.get(&key).unwrap().to_int().as_slice()[0];
        assert_eq!(counter, before + 1, "{key} counts the batch");
    }
}

#[test]
fn state_dict_round_trips_through_safetensors() {
    let state = load_safetensors::<f64>(data("model.safetensors")).unwrap();
    let dir = std::env::temp_dir().join(format!("nn-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    nn::save_safetensors(&state, &path, None).unwrap();
    let back = load_safetensors::<f64>(&path).unwrap();
    for (k, v) in state.iter() {
        assert_eq!(back.get(k), Some(v), "{k}");
    }
    // f32 copies keep I64 counters and round floats.
    let as32 = load_safetensors::<f32>(&path).unwrap();
    assert!(matches!(
        as32.get("1.num_batches_tracked"),
        Some(StateTensor::Int(_))
    ));
    let w64 = state.get_float("0.weight").unwrap().as_slice()[0];
    assert_eq!(
        as32.get_float("0.weight").unwrap().as_slice()[0],
        w64 as f32
    );
    std::fs::remove_dir_all(&dir).ok();
}
