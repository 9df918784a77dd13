//! Trains the same small CNN as `train_digits` on MNIST-format IDX files
//! that the user already has on disk (nothing is downloaded).
//!
//! `cargo run --release -p examples --bin train_mnist -- --data DIR`

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use core_tensor::Rng;
use examples::ExampleError;
use examples::args::{Command, TrainArgs, parse};
use examples::idx::load_mnist;
use examples::plot::plot_history;
use examples::train::{architecture, digits_cnn, evaluate, train_epoch};
use indicatif::{ProgressBar, ProgressStyle};
use nn::prelude::*;
use nn::save_safetensors;

const HELP: &str = "\
train_mnist: train a small CNN on MNIST-format IDX files you already have.

USAGE:
    cargo run --release -p examples --bin train_mnist -- --data DIR [FLAGS]

DIR must hold train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz).

FLAGS:
    --data DIR        directory of the four IDX files        [required]
    --epochs N        training epochs                        [default: 2]
    --batch-size N    minibatch size                         [default: 64]
    --lr X            Adam learning rate (cosine-annealed)   [default: 0.002]
    --seed N          seed of init and shuffling             [default: 0]
    --out DIR         where the model and plot are written   [default: out]
    -h, --help        print this help
";

fn defaults() -> TrainArgs {
    TrainArgs {
        epochs: 2,
        batch_size: 64,
        lr: 2e-3,
        seed: 0,
        out: PathBuf::from("out"),
        data: None,
    }
}

/// `dir/name` or `dir/name.gz`, whichever exists (the plain name when neither).
fn find(dir: &Path, name: &str) -> PathBuf {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if !plain.exists() && gz.exists() {
        gz
    } else {
        plain
    }
}

fn run(a: TrainArgs) -> Result<(), ExampleError> {
    let start = Instant::now();
    let dir = a
        .data
        .clone()
        .ok_or_else(|| ExampleError::Args("--data DIR is required".into()))?;
    let train = load_mnist(
        find(&dir, "train-images-idx3-ubyte"),
        find(&dir, "train-labels-idx1-ubyte"),
    )?;
    let test = load_mnist(
        find(&dir, "t10k-images-idx3-ubyte"),
        find(&dir, "t10k-labels-idx1-ubyte"),
    )?;
    println!(
        "mnist: {} train / {} test images of {}x{}",
        train.len(),
        test.len(),
        train.height,
        train.width
    );
    let mut rng = Rng::new(a.seed);
    let mut model = digits_cnn::<f32>(train.height, train.width, train.classes, &mut rng)?;
    let mut opt = Adam::new(model.parameters(), AdamOptions::adam(a.lr))?;
    let mut schedule = CosineAnnealingLR::new(&opt, a.epochs, 0.0)?;
    let style = ProgressStyle::with_template(
        "epoch {prefix:>3} [{bar:30}] {pos}/{len} batches {elapsed} eta {eta}",
    )
    .map_err(|e| ExampleError::Plot(e.to_string()))?
    .progress_chars("=> ");
    let (mut losses, mut accs) = (Vec::new(), Vec::new());
    for epoch in 1..=a.epochs {
        let bar = ProgressBar::new(train.len().div_ceil(a.batch_size) as u64)
            .with_style(style.clone())
            .with_prefix(epoch.to_string());
        let stats = train_epoch(&mut model, &mut opt, &train, a.batch_size, &mut rng, || {
            bar.inc(1)
        })?;
        bar.finish_and_clear();
        let acc = evaluate(&mut model, &test, 512)?;
        println!(
            "epoch {epoch:>3}: loss {:.4}  train acc {:5.2}%  test acc {:5.2}%",
            stats.loss,
            100.0 * stats.accuracy,
            100.0 * acc
        );
        schedule.step(&mut opt);
        losses.push(stats.loss);
        accs.push(100.0 * acc);
    }
    std::fs::create_dir_all(&a.out).map_err(|source| ExampleError::Io {
        path: a.out.clone(),
        source,
    })?;
    let model_path = a.out.join("mnist_cnn.safetensors");
    let arch = architecture(train.height, train.width, train.classes);
    let meta = HashMap::from([("architecture".to_string(), format!("{arch:?}"))]);
    save_safetensors(&model.state_dict(), &model_path, Some(meta))?;
    let plot_path = a.out.join("mnist_training.png");
    plot_history(&plot_path, &losses, &accs, "handgrad CNN on MNIST")?;
    println!("test accuracy: {:.2}%", accs.last().copied().unwrap_or(0.0));
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
