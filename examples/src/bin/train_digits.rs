//! Trains a small CNN (Conv-BatchNorm-ReLU-MaxPool twice, then Linear) on
//! the bundled UCI handwritten digits, then saves the model as
//! `.safetensors` and a plot of the training curve as PNG.
//!
//! `cargo run --release -p examples --bin train_digits -- --help`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use core_tensor::Rng;
use examples::ExampleError;
use examples::args::TrainArgs;
use examples::data::load_digits;
use examples::run::{RunSpec, train_and_save};

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
    --save-checkpoint PATH  write model, optimizer, schedule, epoch and data order there
    --resume PATH     continue from such a checkpoint
    --stop-after N    stop after epoch N (the schedule still spans --epochs)
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
        save_checkpoint: None,
        resume: None,
        stop_after: None,
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
    let spec = RunSpec {
        stem: "digits",
        title: "handgrad CNN on UCI digits",
        eval_batch: 256,
    };
    train_and_save(&train, &test, &a, &mut rng, &spec)?;
    println!("total time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> ExitCode {
    examples::args::main(HELP, defaults(), run)
}
