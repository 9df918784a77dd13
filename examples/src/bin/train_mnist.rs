//! Trains the same small CNN as `train_digits` on MNIST-format IDX files
//! that the user already has on disk (nothing is downloaded).
//!
//! `cargo run --release -p examples --bin train_mnist -- --data DIR`

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use core_tensor::Rng;
use examples::ExampleError;
use examples::args::TrainArgs;
use examples::idx::load_mnist;
use examples::run::{RunSpec, train_and_save};

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
    let spec = RunSpec {
        stem: "mnist",
        title: "handgrad CNN on MNIST",
        eval_batch: 512,
    };
    train_and_save(&train, &test, &a, &mut rng, &spec)?;
    println!("total time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> ExitCode {
    examples::args::main(HELP, defaults(), run)
}
