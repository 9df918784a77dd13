//! Trains the small CNN of `train_digits` on Fashion-MNIST from Debian's
//! `dataset-fashion-mnist` package (or any MNIST-format IDX files already
//! on disk; nothing is downloaded).
//!
//! `apt-get install dataset-fashion-mnist`, then
//! `cargo run --release -p examples --bin train_mnist -- --epochs 5`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use core_tensor::Rng;
use examples::ExampleError;
use examples::args::TrainArgs;
use examples::idx::{FASHION_MNIST_DIR, load_mnist, locate_mnist};
use examples::run::{RunSpec, train_and_save};

const HELP: &str = "\
train_mnist: train a small CNN on Fashion-MNIST (Debian's dataset-fashion-mnist
package: apt-get install dataset-fashion-mnist) or other MNIST-format files.

USAGE:
    cargo run --release -p examples --bin train_mnist -- [FLAGS]

The data folder must hold train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz).

FLAGS:
    --data DIR              folder of the four IDX files [default: /usr/share/datasets/fashion-mnist]
    --epochs N              training epochs                        [default: 2]
    --batch-size N          minibatch size                         [default: 64]
    --lr X                  Adam learning rate (cosine-annealed)   [default: 0.005]
    --seed N                seed of init and shuffling             [default: 0]
    --out DIR               where the model and plot are written   [default: out]
    --save-checkpoint PATH  write model, optimizer, schedule, epoch and data order there
    --resume PATH           continue from such a checkpoint
    --stop-after N          stop after epoch N (the schedule still spans --epochs)
    -h, --help              print this help
";

fn defaults() -> TrainArgs {
    TrainArgs {
        epochs: 2,
        batch_size: 64,
        lr: 5e-3,
        seed: 0,
        out: PathBuf::from("out"),
        data: None,
        save_checkpoint: None,
        resume: None,
        stop_after: None,
    }
}

fn run(a: TrainArgs) -> Result<(), ExampleError> {
    let start = Instant::now();
    let [train_images, train_labels, test_images, test_labels] = locate_mnist(a.data.as_deref())?;
    let train = load_mnist(&train_images, &train_labels)?;
    let test = load_mnist(&test_images, &test_labels)?;
    println!(
        "data from {}",
        a.data
            .clone()
            .unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DIR))
            .display()
    );
    println!(
        "{} train / {} test images of {}x{}",
        train.len(),
        test.len(),
        train.height,
        train.width
    );
    let mut rng = Rng::new(a.seed);
    let spec = RunSpec {
        stem: "mnist",
        title: "handgrad CNN on Fashion-MNIST",
        eval_batch: 512,
    };
    train_and_save(&train, &test, &a, &mut rng, &spec)?;
    println!("total time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> ExitCode {
    examples::args::main(HELP, defaults(), run)
}
