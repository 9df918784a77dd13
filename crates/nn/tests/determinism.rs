//! One training step of a CNN (convolution, batch norm, ReLU, max pooling,
//! linear, cross-entropy) gives bitwise the same loss, parameter gradients
//! and updated parameters in rayon pools of 1, 2, 3 and 4 threads: every
//! kernel splits its work by the problem's size, never by the thread count.

mod common;

use autograd::Var;
use core_tensor::{Float, Rng, Tensor};
use nn::prelude::*;

/// The examples' CNN on 3x32x32 images.
fn cnn<F: Float>(rng: &mut Rng) -> Sequential<F> {
    common::examples_cnn(3, 32 * 8 * 8, rng)
}

/// The bits of the loss, of every gradient and of every parameter after
/// one SGD step with momentum, in a pool of `threads` threads.
fn step_bits<F: Float>(threads: usize) -> Vec<Vec<u64>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut rng = Rng::new(11);
        let mut model = cnn::<F>(&mut rng);
        let n = 48 * 3 * 32 * 32;
        let x = Tensor::from_f64s(&[48, 3, 32, 32], &rng.uniform_vec(n, -2.0, 2.0)).unwrap();
        let targets: Vec<usize> = (0..48).map(|i| (i * 7 + 3) % 10).collect();
        let mut opt = Sgd::new(model.parameters(), SgdOptions::new(0.1).momentum(0.9)).unwrap();
        let scores = model.forward(&Var::constant(x)).unwrap();
        let loss = cross_entropy(&scores, &targets, Reduction::Mean, 0.0).unwrap();
        loss.backward().unwrap();
        let bits = |t: &Tensor<F>| {
            t.as_slice()
                .iter()
                .map(|v| v.widen().to_bits())
                .collect::<Vec<u64>>()
        };
        let mut out = vec![bits(&loss.value())];
        out.extend(model.parameters().iter().map(|p| bits(&p.grad().unwrap())));
        opt.step().unwrap();
        out.extend(model.parameters().iter().map(|p| bits(&p.value())));
        out
    })
}

#[test]
fn a_cnn_step_is_bitwise_equal_on_1_to_4_threads_in_f32() {
    let one = step_bits::<f32>(1);
    // Not a constant: the gradients are real numbers that differ.
    assert!(
        one[1]
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 100
    );
    for threads in [2, 3, 4] {
        let other = step_bits::<f32>(threads);
        for (k, (a, b)) in one.iter().zip(&other).enumerate() {
            let differ = a.iter().zip(b).filter(|(x, y)| x != y).count();
            assert_eq!(
                differ, 0,
                "tensor {k}: {differ} elements differ on {threads} threads"
            );
        }
    }
}

#[test]
fn a_cnn_step_is_bitwise_equal_on_1_and_3_threads_in_f64() {
    assert_eq!(step_bits::<f64>(1), step_bits::<f64>(3));
}
