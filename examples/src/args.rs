//! Hand-written command-line parsing shared by the example binaries.

use std::path::PathBuf;

use crate::ExampleError;

/// The training flags.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainArgs {
    /// Number of epochs (`--epochs`).
    pub epochs: usize,
    /// Minibatch size (`--batch-size`).
    pub batch_size: usize,
    /// Adam learning rate (`--lr`).
    pub lr: f64,
    /// Seed of the split, initialization and shuffling (`--seed`).
    pub seed: u64,
    /// Output directory for the model and the plot (`--out`).
    pub out: PathBuf,
    /// Data file or directory (`--data`), if given.
    pub data: Option<PathBuf>,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Print the help text.
    Help,
    /// Train with these settings.
    Train(TrainArgs),
}

fn value<T: std::str::FromStr>(
    flag: &str,
    v: Option<String>,
    what: &str,
) -> Result<T, ExampleError> {
    let v = v.ok_or_else(|| ExampleError::Args(format!("{flag} needs a value ({what})")))?;
    v.parse()
        .map_err(|_| ExampleError::Args(format!("{flag} {v:?}: expected {what}")))
}

/// Parses `args` (without the program name) over `defaults`: `--epochs N`,
/// `--batch-size N`, `--lr X`, `--seed N`, `--out DIR`, `--data PATH`,
/// `--help` / `-h`; `--flag=value` works too.
///
/// # Errors
/// [`ExampleError::Args`] for an unknown flag, a missing or malformed
/// value, or a zero epoch count or batch size, or a learning rate that is
/// not a positive number.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    defaults: TrainArgs,
) -> Result<Command, ExampleError> {
    let mut a = defaults;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut next = || inline.clone().or_else(|| it.next());
        match flag.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--epochs" => a.epochs = value(&flag, next(), "a positive integer")?,
            "--batch-size" => a.batch_size = value(&flag, next(), "a positive integer")?,
            "--lr" => a.lr = value(&flag, next(), "a positive number")?,
            "--seed" => a.seed = value(&flag, next(), "a non-negative integer")?,
            "--out" => a.out = value::<PathBuf>(&flag, next(), "a directory")?,
            "--data" => a.data = Some(value::<PathBuf>(&flag, next(), "a path")?),
            other => return Err(ExampleError::Args(format!("unknown argument {other:?}"))),
        }
    }
    if a.epochs == 0 || a.batch_size == 0 {
        return Err(ExampleError::Args(
            "--epochs and --batch-size must be at least 1".into(),
        ));
    }
    if !(a.lr > 0.0 && a.lr.is_finite()) {
        return Err(ExampleError::Args(format!(
            "--lr must be a positive number, got {}",
            a.lr
        )));
    }
    Ok(Command::Train(a))
}

/// The `main` of a training binary: parses the process arguments over
/// `defaults`, prints `help` for `--help`, runs `train` otherwise. Exit
/// code 0 on success, 1 when training fails, 2 for a bad command line.
pub fn main(
    help: &str,
    defaults: TrainArgs,
    train: impl FnOnce(TrainArgs) -> Result<(), ExampleError>,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    match parse(std::env::args().skip(1), defaults) {
        Ok(Command::Help) => {
            print!("{help}");
            ExitCode::SUCCESS
        }
        Ok(Command::Train(a)) => {
            // The main thread works in rayon's pool too (see
            // `core_tensor::threads`), one thread per CPU.
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            core_tensor::threads::init_global_pool(threads);
            match train(a) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{help}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> TrainArgs {
        TrainArgs {
            epochs: 3,
            batch_size: 8,
            lr: 0.1,
            seed: 0,
            out: "out".into(),
            data: None,
        }
    }

    fn run(v: &[&str]) -> Result<Command, ExampleError> {
        parse(v.iter().map(|s| s.to_string()), defaults())
    }

    #[test]
    fn flags_override_defaults() {
        let Command::Train(a) = run(&[
            "--epochs",
            "5",
            "--lr=0.01",
            "--seed",
            "9",
            "--out",
            "/tmp/x",
            "--batch-size",
            "4",
        ])
        .unwrap() else {
            panic!("expected train");
        };
        assert_eq!((a.epochs, a.batch_size, a.lr, a.seed), (5, 4, 0.01, 9));
        assert_eq!(a.out, PathBuf::from("/tmp/x"));
        assert_eq!(run(&[]).unwrap(), Command::Train(defaults()));
        assert_eq!(run(&["--epochs", "2", "-h"]).unwrap(), Command::Help);
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        for (v, want) in [
            (vec!["--epochs"], "--epochs needs a value"),
            (
                vec!["--epochs", "x"],
                "--epochs \"x\": expected a positive integer",
            ),
            (vec!["--frobnicate"], "unknown argument \"--frobnicate\""),
            (vec!["--batch-size", "0"], "must be at least 1"),
            (vec!["--lr", "-1"], "--lr must be a positive number"),
        ] {
            let e = run(&v).unwrap_err();
            assert!(e.to_string().contains(want), "{e} should contain {want}");
        }
    }
}
