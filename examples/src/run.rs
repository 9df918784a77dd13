//! The whole training run shared by the demo binaries: build the CNN,
//! train with Adam and a cosine schedule (a progress bar per epoch, loss and
//! accuracy printed after each), then save the model and the plot.

use std::collections::HashMap;
use std::path::PathBuf;

use core_tensor::Rng;
use indicatif::{ProgressBar, ProgressStyle};
use nn::prelude::*;
use nn::save_safetensors;

use crate::ExampleError;
use crate::args::TrainArgs;
use crate::data::Dataset;
use crate::plot::plot_history;
use crate::train::{architecture, digits_cnn, evaluate, train_epoch};

/// What differs between the demos.
#[derive(Clone, Debug)]
pub struct RunSpec<'a> {
    /// File stem of the outputs: `<stem>_cnn.safetensors`, `<stem>_training.png`.
    pub stem: &'a str,
    /// Title of the plot.
    pub title: &'a str,
    /// Batch size of the evaluation passes.
    pub eval_batch: usize,
}

/// Where a run wrote its outputs, and its final test accuracy in percent.
#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    /// The saved state dict.
    pub model_path: PathBuf,
    /// The PNG plot of loss and test accuracy per epoch.
    pub plot_path: PathBuf,
    /// Test accuracy after the last epoch, in percent.
    pub test_accuracy: f64,
}

/// Trains the demo CNN on `train` for `args.epochs` epochs, evaluating on
/// `test` after each, then writes the model (with its architecture and test
/// accuracy as metadata) and the plot into `args.out`, printing the paths.
///
/// With `args.resume`, model, optimizer, schedule and `rng` (the data
/// order) come from that checkpoint and training continues after its
/// epoch; with `args.stop_after`, training stops after that epoch; with
/// `args.save_checkpoint`, a [`Checkpoint`] of the state after the last
/// epoch run is written there. A run interrupted that way and resumed gives
/// the same parameters, bit for bit, as an uninterrupted one.
///
/// # Errors
/// Model, data, I/O and plotting errors as [`ExampleError`].
pub fn train_and_save(
    train: &Dataset,
    test: &Dataset,
    args: &TrainArgs,
    rng: &mut Rng,
    spec: &RunSpec<'_>,
) -> Result<RunReport, ExampleError> {
    let mut model = digits_cnn::<f32>(train.height, train.width, train.classes, rng)?;
    let mut opt = Adam::new(model.parameters(), AdamOptions::adam(args.lr))?;
    let mut schedule = CosineAnnealingLR::new(&opt, args.epochs, 0.0)?;
    let mut first_epoch = 1;
    if let Some(path) = &args.resume {
        let ckpt = Checkpoint::<f32>::load(path)?;
        let restored = ckpt.restore(&mut model, &mut opt, Some(&mut schedule))?;
        *rng = restored.ok_or_else(|| {
            ExampleError::Data(format!(
                "{}: the checkpoint has no random generator state",
                path.display()
            ))
        })?;
        first_epoch = ckpt.epoch + 1;
        println!("resumed from {} after epoch {}", path.display(), ckpt.epoch);
    }
    let last_epoch = args.stop_after.unwrap_or(args.epochs);
    let style = ProgressStyle::with_template(
        "epoch {prefix:>3} [{bar:30}] {pos}/{len} batches {elapsed} eta {eta}",
    )
    .map_err(|e| ExampleError::Plot(e.to_string()))?
    .progress_chars("=> ");
    let (mut losses, mut accs) = (Vec::new(), Vec::new());
    for epoch in first_epoch..=last_epoch {
        let bar = ProgressBar::new(train.len().div_ceil(args.batch_size.max(1)) as u64)
            .with_style(style.clone())
            .with_prefix(epoch.to_string());
        let stats = train_epoch(&mut model, &mut opt, train, args.batch_size, rng, || {
            bar.inc(1)
        })?;
        bar.finish_and_clear();
        let acc = evaluate(&mut model, test, spec.eval_batch)?;
        println!(
            "epoch {epoch:>3}: loss {:.4}  train acc {:5.2}%  test acc {:5.2}%  lr {:.5}",
            stats.loss,
            100.0 * stats.accuracy,
            100.0 * acc,
            opt.lr()
        );
        schedule.step(&mut opt)?;
        losses.push(stats.loss);
        accs.push(100.0 * acc);
    }
    if let Some(path) = &args.save_checkpoint {
        let done = last_epoch.max(first_epoch - 1);
        Checkpoint::capture(&model, &opt, Some(&schedule), done, Some(rng)).save(path)?;
        println!("checkpoint after epoch {done} saved to {}", path.display());
    }
    let test_accuracy = accs.last().copied().unwrap_or(0.0);
    println!(
        "test accuracy: {test_accuracy:.2}% ({} test images)",
        test.len()
    );

    std::fs::create_dir_all(&args.out).map_err(|source| ExampleError::Io {
        path: args.out.clone(),
        source,
    })?;
    let model_path = args.out.join(format!("{}_cnn.safetensors", spec.stem));
    let arch = architecture(train.height, train.width, train.classes);
    let meta = HashMap::from([
        ("architecture".to_string(), format!("{arch:?}")),
        ("test_accuracy".to_string(), format!("{test_accuracy:.2}")),
    ]);
    save_safetensors(&model.state_dict(), &model_path, Some(meta))?;
    let plot_path = args.out.join(format!("{}_training.png", spec.stem));
    plot_history(&plot_path, &losses, &accs, spec.title)?;
    println!("model saved to {}", model_path.display());
    println!("plot saved to {}", plot_path.display());
    Ok(RunReport {
        model_path,
        plot_path,
        test_accuracy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes told apart by which half of an 8x8 image is bright.
    fn halves(n: usize, rng: &mut Rng) -> Dataset {
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        for i in 0..n {
            let label = i % 2;
            for r in 0..8 {
                for _ in 0..8 {
                    let bright = (r < 4) == (label == 0);
                    images.push(if bright { 12.0 } else { 1.0 } + rng.uniform() as f32);
                }
            }
            labels.push(label);
        }
        Dataset::new(images, labels, 8, 8, 2).expect("consistent sizes")
    }

    #[test]
    fn a_run_learns_and_writes_its_outputs() {
        let mut rng = Rng::new(5);
        let (train, test) = (halves(64, &mut rng), halves(32, &mut rng));
        let out = std::env::temp_dir().join(format!("handgrad-run-{}", std::process::id()));
        let args = TrainArgs {
            epochs: 3,
            batch_size: 16,
            lr: 5e-3,
            seed: 0,
            out: out.clone(),
            data: None,
            save_checkpoint: None,
            resume: None,
            stop_after: None,
        };
        let spec = RunSpec {
            stem: "halves",
            title: "halves",
            eval_batch: 32,
        };
        let report = train_and_save(&train, &test, &args, &mut rng, &spec).unwrap();
        assert!(
            report.test_accuracy >= 90.0,
            "accuracy {}",
            report.test_accuracy
        );
        assert_eq!(report.model_path, out.join("halves_cnn.safetensors"));
        let saved = nn::load_safetensors::<f32>(&report.model_path).unwrap();
        assert!(!saved.is_empty(), "the state dict has entries");
        let png = std::fs::read(&report.plot_path).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        std::fs::remove_dir_all(out).unwrap();
    }
}
