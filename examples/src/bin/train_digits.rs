//! Trains a small CNN (Conv-BatchNorm-ReLU-MaxPool twice, then Linear) on
//! the bundled UCI handwritten digits, then saves the model as
//! `.safetensors` and a plot of the training curve as PNG.
//!
//! `cargo run --release -p examples --bin train_digits -- --help`

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use core_tensor::Rng;
use examples::ExampleError;
use examples::args::{Command, TrainArgs, parse};
use examples::data::load_digits;
use examples::plot::plot_history;
use examples::train::{architecture, digits_cnn, evaluate, train_epoch};
use indicatif::{ProgressBar, ProgressStyle};
use nn::prelude::*;
use nn::save_safetensors;

const HELP: &str = "\
train_digits: train a small CNN on the UCI handwritten digits (1797 8x8 images,
CC BY 4.0, bundled in examples/data) with a seeded 80/20 split.

USAGE:
    cargo run --release -p examples --bin train_digits -- [FLAGS]

FLAGS:
    --epochs N        training epochs                        [default: 15]
    --batch-size N    minibatch size                         [default: 32]
    --lr X            Adam learning rate (cosine-annealed)   [default: 0.005]
    --seed N          seed of split, init and shuffling      [default: 0]
    --out DIR         where the model and plot are written   [default: out]
    --data PATH       digits CSV (gzip or plain)             [default: the bundled file]
    -h, --help        print this help
";

fn defaults() -> TrainArgs {
    TrainArgs {
        epochs: 15,
        batch_size: 32,
        lr: 5e-3,
        seed: 0,
        out: PathBuf::from("out"),
        data: None,
    }
}

fn run(a: TrainArgs) -> Result<(), ExampleError> {
    let start = Instant::now();
    let path = a.data.clone().unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz"))
    });
    let data = load_digits(&path)?;
    let (train, test) = data.split(a.seed, 0.2);
    println!(
        "digits: {} images from {} -> {} train / {} test (seed {})",
        data.len(),
        path.display(),
        train.len(),
        test.len(),
        a.seed
    );

    let mut rng = Rng::new(a.seed.wrapping_add(1));
    let mut model = digits_cnn::<f32>(train.height, train.width, train.classes, &mut rng)?;
    let mut opt = Adam::new(model.parameters(), AdamOptions::adam(a.lr))?;
    let mut schedule = CosineAnnealingLR::new(&opt, a.epochs, 0.0)?;
    let batches = train.len().div_ceil(a.batch_size) as u64;
    let style =
        ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} batches {elapsed}")
            .map_err(|e| ExampleError::Plot(e.to_string()))?
            .progress_chars("=> ");
    let (mut losses, mut accs) = (Vec::new(), Vec::new());
    for epoch in 1..=a.epochs {
        let bar = ProgressBar::new(batches)
            .with_style(style.clone())
            .with_prefix(epoch.to_string());
        let stats = train_epoch(&mut model, &mut opt, &train, a.batch_size, &mut rng, || {
            bar.inc(1)
        })?;
        bar.finish_and_clear();
        let acc = evaluate(&mut model, &test, 256)?;
        println!(
            "epoch {epoch:>3}: loss {:.4}  train acc {:5.2}%  test acc {:5.2}%  lr {:.5}",
            stats.loss,
            100.0 * stats.accuracy,
            100.0 * acc,
            opt.lr()
        );
        schedule.step(&mut opt);
        losses.push(stats.loss);
        accs.push(100.0 * acc);
    }
    let final_acc = accs.last().copied().unwrap_or(0.0);
    println!(
        "test accuracy: {final_acc:.2}% ({} test images)",
        test.len()
    );

    std::fs::create_dir_all(&a.out).map_err(|source| ExampleError::Io {
        path: a.out.clone(),
        source,
    })?;
    let model_path = a.out.join("digits_cnn.safetensors");
    let mut meta = HashMap::new();
    let arch = architecture(train.height, train.width, train.classes);
    meta.insert("architecture".to_string(), format!("{arch:?}"));
    meta.insert("test_accuracy".to_string(), format!("{final_acc:.2}"));
    save_safetensors(&model.state_dict(), &model_path, Some(meta))?;
    let plot_path = a.out.join("digits_training.png");
    plot_history(&plot_path, &losses, &accs, "handgrad CNN on UCI digits")?;
    println!("model saved to {}", model_path.display());
    println!("plot saved to {}", plot_path.display());
    println!("total time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1), defaults()) {
        Ok(Command::Help) => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Ok(Command::Train(a)) => match run(a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e}\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}
