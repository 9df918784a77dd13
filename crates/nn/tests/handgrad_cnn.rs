//! The reverse of the `torch_cnn` fixture (`tests/data/handgrad_cnn`, see
//! `run_in_pytorch.py` there): a model saved by handgrad loads into
//! PyTorch with `strict=True`, and the outputs PyTorch computed from it
//! equal handgrad's own (1e-12 in f64). The committed model file is
//! checked to be byte for byte what handgrad writes today; set
//! `HANDGRAD_REGEN_FIXTURES=1` to rewrite it (then rerun the script).

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use autograd::Var;
use common::{assert_close, assert_running_stats, examples_cnn};
use core_tensor::{Rng, Tensor};
use nn::prelude::*;
use nn::{StateTensor, load_safetensors, safetensors_metadata, to_safetensors_bytes};

fn data(name: &str) -> PathBuf {
    common::fixture("handgrad_cnn", name)
}

/// The examples' CNN for 8x8 images of one channel and 10 classes, in f64.
fn build(rng: &mut Rng) -> Sequential<f64> {
    examples_cnn(1, 128, rng)
}

/// The saved model: default initialization from seed 2024, batch-norm
/// weights, biases and running statistics drawn from the same generator
/// (so that they are not the trivial ones), 3 batches tracked.
fn saved_model() -> Sequential<f64> {
    let mut rng = Rng::new(2024);
    let mut net = build(&mut rng);
    for index in [1, 5] {
        let bn = net.get_mut(index).unwrap();
        let c = if index == 1 { 16 } else { 32 };
        let mut draw = |lo, hi| {
            StateTensor::Float(Tensor::from_vec(&[c], rng.uniform_vec(c, lo, hi)).unwrap())
        };
        let (mean, var) = (draw(-0.5, 0.5), draw(0.5, 1.5));
        bn.set_own_buffer("running_mean", mean).unwrap();
        bn.set_own_buffer("running_var", var).unwrap();
        bn.set_own_buffer("num_batches_tracked", StateTensor::Int(Tensor::scalar(3)))
            .unwrap();
        for (_, p) in bn.own_parameters() {
            p.set_value(Tensor::from_vec(&[c], rng.uniform_vec(c, 0.5, 1.5)).unwrap())
                .unwrap();
        }
    }
    net
}

fn metadata() -> HashMap<String, String> {
    HashMap::from([(
        "architecture".to_string(),
        "examples' CNN: Conv2d(1,16,3,p=1) BatchNorm2d ReLU MaxPool2d(2) Conv2d(16,32,3,p=1) \
         BatchNorm2d ReLU MaxPool2d(2) Flatten Linear(128,10)"
            .to_string(),
    )])
}

#[test]
fn handgrad_writes_the_committed_bytes() {
    let bytes = to_safetensors_bytes(&saved_model().state_dict(), Some(metadata())).unwrap();
    if std::env::var_os("HANDGRAD_REGEN_FIXTURES").is_some() {
        std::fs::write(data("model.safetensors"), &bytes).unwrap();
    }
    let committed = std::fs::read(data("model.safetensors")).unwrap();
    assert!(
        bytes == committed,
        "handgrad now writes other bytes than the fixture"
    );
    assert_eq!(safetensors_metadata(&committed).unwrap(), Some(metadata()));
}

#[test]
fn pytorch_outputs_of_the_saved_model_match_handgrads() {
    let io = load_safetensors::<f64>(data("io.safetensors")).unwrap();
    let t = |k: &str| {
        io.get_float(k)
            .unwrap_or_else(|| panic!("io has {k}"))
            .clone()
    };
    let mut net = build(&mut Rng::new(0));
    let state = load_safetensors::<f64>(data("model.safetensors")).unwrap();
    net.load_state_dict(&state, true).unwrap();
    assert_eq!(net.state_dict(), saved_model().state_dict());

    let x = Var::constant(t("x"));
    net.eval();
    let y_eval = net.forward(&x).unwrap().value();
    assert_close("y_eval", &y_eval, &t("y_eval"), 1e-12);
    // The outputs are not degenerate.
    assert!(y_eval.as_slice().iter().any(|v| v.abs() > 0.1));

    net.train();
    let y_train = net.forward(&x).unwrap().value();
    assert_close("y_train", &y_train, &t("y_train"), 1e-12);
    // One batch counted on top of the saved model's 3.
    let counters = assert_running_stats(&net.state_dict(), &io, &["1", "5"], 1e-12);
    assert_eq!(counters, [4, 4]);
}
