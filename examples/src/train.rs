//! The demo network and its training loop.

use autograd::{Var, no_grad};
use core_tensor::{Float, Rng};
use nn::prelude::*;
use nn::{BatchNorm2d, MaxPool2d};

use crate::ExampleError;
use crate::data::Dataset;

/// The architecture, as PyTorch would print each layer (stored in the
/// saved model's metadata).
pub fn architecture(height: usize, width: usize, classes: usize) -> Vec<String> {
    let flat = 32 * (height / 4) * (width / 4);
    vec![
        "Conv2d(1, 16, 3, padding=1)".into(),
        "BatchNorm2d(16)".into(),
        "ReLU()".into(),
        "MaxPool2d(2)".into(),
        "Conv2d(16, 32, 3, padding=1)".into(),
        "BatchNorm2d(32)".into(),
        "ReLU()".into(),
        "MaxPool2d(2)".into(),
        "Flatten()".into(),
        format!("Linear({flat}, {classes})"),
    ]
}

/// Conv-BatchNorm-ReLU-MaxPool twice, then Linear (see [`architecture`]),
/// for `height x width` single-channel images (both at least 4), with
/// PyTorch's default initialization drawn from `rng`.
///
/// # Errors
/// [`ExampleError::Data`] for images smaller than 4x4.
pub fn digits_cnn<F: Float>(
    height: usize,
    width: usize,
    classes: usize,
    rng: &mut Rng,
) -> Result<Sequential<F>, ExampleError> {
    if height < 4 || width < 4 {
        return Err(ExampleError::Data(format!(
            "the CNN needs images of at least 4x4, got {height}x{width}"
        )));
    }
    let pad1 = ConvOptions::default().padding(1);
    Ok(Sequential::new()
        .push(Conv2d::with_options(1, 16, [3, 3], pad1, rng)?)
        .push(BatchNorm2d::new(16)?)
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Conv2d::with_options(16, 32, [3, 3], pad1, rng)?)
        .push(BatchNorm2d::new(32)?)
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Flatten::new())
        .push(Linear::new(
            32 * (height / 4) * (width / 4),
            classes,
            true,
            rng,
        )?))
}

/// Loss and accuracy of one training epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// Mean training loss over the epoch's samples.
    pub loss: f64,
    /// Fraction of training samples classified correctly (while training).
    pub accuracy: f64,
}

/// Index of the largest score in each row of `(B, C)` scores.
pub fn argmax_rows<F: Float>(scores: &[F], classes: usize) -> Vec<usize> {
    scores
        .chunks(classes)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, F::neg_infinity()), |(bi, bv), (i, &v)| {
                    if v > bv { (i, v) } else { (bi, bv) }
                })
                .0
        })
        .collect()
}

/// One epoch of minibatch training in training mode: shuffles with `rng`,
/// then for each batch `zero_grad`, cross-entropy, backward, `step`;
/// `on_batch` is called after every batch (for a progress bar).
///
/// # Errors
/// [`ExampleError::Data`] for a zero batch size, and the model's errors.
pub fn train_epoch<F: Float>(
    model: &mut dyn Module<F>,
    opt: &mut dyn Optimizer<F>,
    data: &Dataset,
    batch_size: usize,
    rng: &mut Rng,
    mut on_batch: impl FnMut(),
) -> Result<EpochStats, ExampleError> {
    if batch_size == 0 {
        return Err(ExampleError::Data("batch size must be at least 1".into()));
    }
    model.train();
    let mut order: Vec<usize> = (0..data.len()).collect();
    rng.shuffle(&mut order);
    let (mut loss_sum, mut correct) = (0.0, 0usize);
    for idx in order.chunks(batch_size) {
        // A batch of one sample has no batch statistics: skip it (PyTorch
        // raises; `drop_last` in a DataLoader avoids it).
        if idx.len() < 2 {
            continue;
        }
        let (x, y) = data.batch::<F>(idx)?;
        opt.zero_grad();
        let scores = model.forward(&Var::constant(x))?;
        let loss = cross_entropy(&scores, &y, Reduction::Mean, 0.0)?;
        loss.backward()?;
        opt.step()?;
        loss_sum += loss.value().as_slice()[0].widen() * idx.len() as f64;
        let pred = argmax_rows(scores.value().as_slice(), data.classes);
        correct += pred.iter().zip(&y).filter(|(p, t)| p == t).count();
        on_batch();
    }
    let n = data.len().max(1) as f64;
    Ok(EpochStats {
        loss: loss_sum / n,
        accuracy: correct as f64 / n,
    })
}

/// Classification accuracy of `model` in evaluation mode, without
/// recording a graph; the previous training flag is restored.
///
/// # Errors
/// The model's errors.
pub fn evaluate<F: Float>(
    model: &mut dyn Module<F>,
    data: &Dataset,
    batch_size: usize,
) -> Result<f64, ExampleError> {
    let was_training = model.is_training();
    model.eval();
    let _guard = no_grad();
    let mut correct = 0usize;
    let all: Vec<usize> = (0..data.len()).collect();
    for idx in all.chunks(batch_size.max(1)) {
        let (x, y) = data.batch::<F>(idx)?;
        let scores = model.forward(&Var::constant(x))?;
        let pred = argmax_rows(scores.value().as_slice(), data.classes);
        correct += pred.iter().zip(&y).filter(|(p, t)| p == t).count();
    }
    model.set_training(was_training);
    Ok(correct as f64 / data.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::load_digits;

    #[test]
    fn a_few_steps_on_digits_reduce_the_loss() {
        let d = load_digits(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz")).unwrap();
        let small = d.subset(&(0..128).collect::<Vec<_>>());
        let mut rng = Rng::new(4);
        let mut model = digits_cnn::<f32>(8, 8, 10, &mut rng).unwrap();
        let mut opt = Adam::new(model.parameters(), AdamOptions::adam(1e-2)).unwrap();
        let first = train_epoch(&mut model, &mut opt, &small, 32, &mut rng, || {}).unwrap();
        let mut last = first;
        for _ in 0..4 {
            last = train_epoch(&mut model, &mut opt, &small, 32, &mut rng, || {}).unwrap();
        }
        assert!(last.loss < 0.5 * first.loss, "{first:?} -> {last:?}");
        let acc = evaluate(&mut model, &small, 64).unwrap();
        assert!(acc > 0.8, "accuracy {acc}");
        assert!(model.is_training());
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(
            argmax_rows(&[1.0f32, 3.0, 3.0, 0.0, -1.0, -2.0], 3),
            vec![1, 0]
        );
    }
}
