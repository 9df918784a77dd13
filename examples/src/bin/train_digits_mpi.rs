//! Trains the examples' CNN on the bundled UCI digits on N MPI processes:
//! the two `BatchNorm2d` become `SyncBatchNorm`, the model is wrapped in
//! `DistributedDataParallel`, and each process reads its shard of every
//! epoch through a `DistributedSampler`. Rank 0 prints the progress and
//! saves the model.
//!
//! ```text
//! cargo build --release -p examples --features mpi --bin train_digits_mpi
//! mpirun --allow-run-as-root --oversubscribe -np 2 target/release/train_digits_mpi
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use autograd::Var;
use core_tensor::Rng;
use distributed::{
    Communicator, CommunicatorExt, DistributedDataParallel, DistributedSampler, MpiComm,
    convert_sync_batchnorm_in_place,
};
use examples::ExampleError;
use examples::args::{Command, TrainArgs, parse};
use examples::data::load_digits;
use examples::train::{architecture, argmax_rows, digits_cnn, evaluate};
use nn::prelude::*;
use nn::save_safetensors;

const HELP: &str = "\
train_digits_mpi: train the digits CNN (SyncBatchNorm, DistributedDataParallel) on
the UCI handwritten digits with one MPI process per rank; same flags and split as
train_digits. The global batch is split evenly between the processes.

USAGE:
    mpirun --allow-run-as-root --oversubscribe -np 2 target/release/train_digits_mpi [FLAGS]

FLAGS:
    --epochs N        training epochs                        [default: 15]
    --batch-size N    global minibatch size (all ranks)      [default: 32]
    --lr X            Adam learning rate (cosine-annealed)   [default: 0.005]
    --seed N          seed of split, init and shuffling      [default: 0]
    --out DIR         where rank 0 writes the model          [default: out]
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

fn dist(e: distributed::DistError) -> ExampleError {
    ExampleError::Data(format!("distributed: {e}"))
}

fn run(a: TrainArgs, comm: Arc<dyn Communicator>) -> Result<(), ExampleError> {
    let start = Instant::now();
    let (rank, size) = (comm.rank(), comm.size());
    if !a.batch_size.is_multiple_of(size) {
        return Err(ExampleError::Args(format!(
            "--batch-size {} must be a multiple of the number of processes ({size})",
            a.batch_size
        )));
    }
    let local_batch = a.batch_size / size;
    let path = a.data.clone().unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz"))
    });
    let data = load_digits(&path)?;
    let (train, test) = data.split(a.seed, 0.2);
    if rank == 0 {
        println!(
            "digits: {} train / {} test images, {size} processes x batch {local_batch} (global {})",
            train.len(),
            test.len(),
            a.batch_size
        );
    }

    // Every rank builds the same model from the same seed; DDP copies rank
    // 0's anyway.
    let mut rng = Rng::new(a.seed.wrapping_add(1));
    let mut model = digits_cnn::<f32>(train.height, train.width, train.classes, &mut rng)?;
    convert_sync_batchnorm_in_place(&mut model, &comm)?;
    let mut ddp = DistributedDataParallel::new(model, Arc::clone(&comm)).map_err(dist)?;
    let mut opt = Adam::new(ddp.parameters(), AdamOptions::adam(a.lr))?;
    let mut schedule = CosineAnnealingLR::new(&opt, a.epochs, 0.0)?;
    let mut sampler = DistributedSampler::new(train.len(), size, rank)
        .map_err(dist)?
        .seed(a.seed)
        .drop_last(true);

    let mut test_accuracy = 0.0;
    for epoch in 1..=a.epochs {
        sampler.set_epoch(epoch as u64);
        ddp.train();
        // [loss * samples, correct, samples] of this rank.
        let mut totals = [0.0f64; 3];
        for idx in sampler.indices().chunks(local_batch) {
            // Every rank has a chunk of the same length; a global batch of
            // one sample has no batch statistics.
            if idx.len() * size < 2 {
                continue;
            }
            let (x, y) = train.batch::<f32>(idx)?;
            opt.zero_grad();
            let scores = ddp.forward(&Var::constant(x))?;
            let loss = cross_entropy(&scores, &y, Reduction::Mean, 0.0)?;
            ddp.backward(&loss).map_err(dist)?;
            opt.step()?;
            totals[0] += f64::from(loss.value().as_slice()[0]) * idx.len() as f64;
            let pred = argmax_rows(scores.value().as_slice(), train.classes);
            totals[1] += pred.iter().zip(&y).filter(|(p, t)| p == t).count() as f64;
            totals[2] += idx.len() as f64;
        }
        comm.all_reduce_sum(&mut totals).map_err(dist)?;
        // Evaluation runs the synchronized model in eval mode (running
        // statistics, no collectives) on every rank; rank 0 reports it.
        test_accuracy = 100.0 * evaluate(ddp.module_mut(), &test, 256)?;
        if rank == 0 {
            println!(
                "epoch {epoch:>3}: loss {:.4}  train acc {:5.2}%  test acc {test_accuracy:5.2}%  lr {:.5}  ({:.1} s)",
                totals[0] / totals[2].max(1.0),
                100.0 * totals[1] / totals[2].max(1.0),
                opt.lr(),
                start.elapsed().as_secs_f64()
            );
        }
        schedule.step(&mut opt);
    }

    if rank == 0 {
        println!(
            "test accuracy: {test_accuracy:.2}% ({} test images)",
            test.len()
        );
        std::fs::create_dir_all(&a.out).map_err(|source| ExampleError::Io {
            path: a.out.clone(),
            source,
        })?;
        let model_path = a.out.join("digits_mpi_cnn.safetensors");
        let arch = architecture(train.height, train.width, train.classes);
        let meta = HashMap::from([
            ("architecture".to_string(), format!("{arch:?}")),
            ("test_accuracy".to_string(), format!("{test_accuracy:.2}")),
            ("processes".to_string(), size.to_string()),
        ]);
        save_safetensors(&ddp.state_dict(), &model_path, Some(meta))?;
        println!("model saved to {}", model_path.display());
        println!("total time {:.1} s", start.elapsed().as_secs_f64());
    }
    Ok(())
}

fn main() -> ExitCode {
    let command = match parse(std::env::args().skip(1), defaults()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let a = match command {
        Command::Help => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Command::Train(a) => a,
    };
    // MPI first, on the main thread; then the processes share the cores.
    let comm: Arc<dyn Communicator> = match MpiComm::init() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("error: cannot start MPI: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    core_tensor::threads::init_global_pool((cores / comm.size()).max(1));
    let rank = comm.rank();
    match run(a, comm) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error (rank {rank}): {e}");
            ExitCode::FAILURE
        }
    }
}
