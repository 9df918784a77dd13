//! Trains a small CNN (Conv-BatchNorm-ReLU-MaxPool twice, then Linear) on
//! the bundled UCI handwritten digits, then saves the model as
//! `.safetensors` and a plot of the training curve as PNG.
//!
//! `cargo run --release -p examples --bin train_digits -- --help`

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use core_tensor::Rng;
use examples::ExampleError;
use examples::args::TrainArgs;
use examples::data::{Dataset, load_digits};
use examples::run::{RunSpec, train_and_save};
use examples::train::{digits_cnn, evaluate};
use nn::{Module, fuse_conv_bn_sequential, load_safetensors};

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
    let report = train_and_save(&train, &test, &a, &mut rng, &spec)?;
    compare_fused(&report.model_path, &test, spec.eval_batch)?;
    println!("total time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Test accuracy and inference time of `model` on `test`; the time is the
/// fastest of 5 passes over the test set.
fn timed_accuracy(
    model: &mut dyn Module<f32>,
    test: &Dataset,
    batch: usize,
) -> Result<(f64, f64), ExampleError> {
    let mut best = f64::INFINITY;
    let mut acc = 0.0;
    for _ in 0..5 {
        let t = Instant::now();
        acc = evaluate(model, test, batch)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok((acc, best))
}

/// Loads the saved model twice, folds the batch norms of one copy into
/// its convolutions (`fuse_conv_bn_sequential`) and prints the test
/// accuracy and inference speed of both.
fn compare_fused(path: &Path, test: &Dataset, batch: usize) -> Result<(), ExampleError> {
    let state = load_safetensors::<f32>(path)?;
    let load = || -> Result<_, ExampleError> {
        let mut m = digits_cnn::<f32>(test.height, test.width, test.classes, &mut Rng::new(0))?;
        m.load_state_dict(&state, true)?;
        m.eval();
        Ok(m)
    };
    let (mut plain, mut fused) = (load()?, load()?);
    let pairs = fuse_conv_bn_sequential(&mut fused)?;
    let (acc, secs) = timed_accuracy(&mut plain, test, batch)?;
    let (acc_fused, secs_fused) = timed_accuracy(&mut fused, test, batch)?;
    let n = test.len() as f64;
    println!(
        "inference, {} test images: unfused {:5.2}% in {:.1} ms ({:.0} images/s); \
         {pairs} Conv-BatchNorm pairs fused {:5.2}% in {:.1} ms ({:.0} images/s)",
        test.len(),
        100.0 * acc,
        1e3 * secs,
        n / secs,
        100.0 * acc_fused,
        1e3 * secs_fused,
        n / secs_fused
    );
    Ok(())
}

fn main() -> ExitCode {
    examples::args::main(HELP, defaults(), run)
}
