//! Command-line parsing for `cargo xtask` (hand-written; no argument crate).

use std::path::PathBuf;

/// The usage text printed by `cargo xtask help`.
pub const USAGE: &str = "\
cargo xtask <command> [options]

Commands:
  conformance [FOLDER...] [--op NAME]
      Run the conformance cases (*.safetensors, recursively) under each FOLDER
      (default: the repository's conformance/ folder) through the ops-pool and
      ops-norm adapters. Prints one line per failed case and per unsupported
      op, then `N passed, N failed`; exits 1 on any failure.
      --op NAME            only cases of this op (e.g. max_pool2d)

  gradcheck [--op NAME] [--seed N] [--cases N] [--no-second-order]
      Finite-difference audit of every registered differentiable op (autograd,
      ops-pool, ops-norm, nn): first order, and second order where the op
      supports it. Prints a table per op, then `N passed, N failed`; exits 1
      on any failure.
      --op NAME            only cases of this op
      --seed N             seed of the random samples (default 0)
      --cases N            samples per op (default 3)
      --no-second-order    skip the second-order (gradgradcheck) checks

  bench [pool|norm|all] [--iters N] [--warmup N] [--system-malloc] [--back-to-back]
        [--caller-in-pool]
      Time the benchmark cases of ops-pool / ops-norm (default all) against a
      parallel copy of the same input bytes in the same process (rayon's
      default pool of 2 threads).
      By default the allocator keeps freed large blocks for reuse
      (core_tensor::alloc::retain_freed_memory), as a training loop should.
      The table marks each case pass/FAIL against its kernel/copy target; the
      exit code is 0 either way (timings on a shared machine are noisy).
      --iters N            timed iterations per case (default 10)
      --warmup N           untimed iterations first (default 2)
      --system-malloc      keep the C allocator's defaults (large blocks are
                           unmapped when freed and faulted in again)
      --back-to-back       time each kernel's iterations in a row, then the
                           copy's (default: alternately, so that no kernel
                           finds its input left in the cache by its previous
                           call; xtask/pytorch_bench.py has the same switch)
      --caller-in-pool     build the pool with the calling thread as one of
                           its 2 threads (core_tensor::threads::init_global_pool,
                           as the examples do) instead of 2 workers of its own

  bench train [--iters N] [--warmup N] [--steps N] [--only IDS]
      The network-level cases, with the allocator settings a user gets by
      default and the calling thread one of the pool's 2 threads, as the
      examples run: T1, one training step of the examples' CNN (batch 64,
      f32, cross-entropy, SGD with momentum): medians of forward, backward,
      optimizer step and total after 20 warm-up steps, minor page faults per
      step and peak RSS; C1-C4 (convolutions) and L1 (Linear(1024,1024)):
      forward and forward + backward. xtask/pytorch_train_bench.py times
      PyTorch on the same cases; run the two one after the other.
      --steps N            timed steps of T1 (default 100)
      --only IDS           only these cases, comma-separated (e.g. T1,C3)
      --iters N            timed iterations of C1-C4 and L1 (default 10)

  sync-conformance [--from DIR] [--dry-run]
      Mirror torch/, onnx/ and FORMAT.md from DIR (default ../shared/conformance
      next to the repository) into conformance/ and list what changed.
      --dry-run            only list what would change

  help                     this text

Exit codes: 0 success, 1 failures found, 2 bad command line.";

/// A parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `help`, `--help`, `-h`.
    Help,
    /// `conformance`.
    Conformance {
        /// Folders to run (empty: the default folder).
        folders: Vec<PathBuf>,
        /// `--op`.
        op: Option<String>,
    },
    /// `gradcheck`.
    Gradcheck {
        /// `--op`.
        op: Option<String>,
        /// `--seed`.
        seed: u64,
        /// `--cases` (samples per op).
        cases: usize,
        /// Not `--no-second-order`.
        second_order: bool,
    },
    /// `bench`.
    Bench {
        /// Which suite.
        suite: BenchSuite,
        /// `--iters`.
        iters: usize,
        /// `--warmup`.
        warmup: usize,
        /// `--system-malloc`: leave the C allocator's defaults alone.
        system_malloc: bool,
        /// `--back-to-back`: time kernel and copy each in a row.
        back_to_back: bool,
        /// `--caller-in-pool`: the calling thread is one of the pool's
        /// threads (`core_tensor::threads::init_global_pool`).
        caller_in_pool: bool,
        /// `--steps`: timed training steps of `bench train`'s T1.
        steps: usize,
        /// `--only`: the ids of the `bench train` cases to run (all when
        /// empty).
        only: Vec<String>,
    },
    /// `sync-conformance`.
    SyncConformance {
        /// `--from` (None: the default).
        from: Option<PathBuf>,
        /// `--dry-run`.
        dry_run: bool,
    },
}

/// Which benchmark cases to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchSuite {
    /// ops-pool's cases.
    Pool,
    /// ops-norm's cases.
    Norm,
    /// Both.
    All,
    /// The network-level cases (`bench train`): T1, C1-C4, L1.
    Train,
}

/// A bad command line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// No command given.
    #[error("no command given")]
    NoCommand,
    /// The command is not known.
    #[error(
        "unknown command `{0}` (commands: conformance, gradcheck, bench, sync-conformance, help)"
    )]
    UnknownCommand(String),
    /// An option the command does not take.
    #[error("`{command}` does not take `{option}`")]
    UnknownOption {
        /// The command.
        command: &'static str,
        /// The option given.
        option: String,
    },
    /// An option needs a value and none followed.
    #[error("`{0}` needs a value")]
    MissingValue(String),
    /// An option value could not be parsed.
    #[error("`{option}` expects {expected}, got `{value}`")]
    BadValue {
        /// The option.
        option: String,
        /// What is allowed.
        expected: &'static str,
        /// What was given.
        value: String,
    },
    /// A positional argument the command does not take.
    #[error("`{command}` does not take the argument `{arg}`")]
    UnexpectedArgument {
        /// The command.
        command: &'static str,
        /// The argument.
        arg: String,
    },
}

/// Splits `--name=value` into its parts.
fn split_eq(arg: &str) -> (&str, Option<&str>) {
    match arg.split_once('=') {
        Some((k, v)) if k.starts_with("--") => (k, Some(v)),
        _ => (arg, None),
    }
}

struct Args<I: Iterator<Item = String>> {
    it: std::iter::Peekable<I>,
}

impl<I: Iterator<Item = String>> Args<I> {
    fn value(&mut self, option: &str, inline: Option<&str>) -> Result<String, UsageError> {
        if let Some(v) = inline {
            return Ok(v.to_string());
        }
        match self.it.next() {
            Some(v) if !v.starts_with("--") => Ok(v),
            _ => Err(UsageError::MissingValue(option.to_string())),
        }
    }

    fn number<T: std::str::FromStr>(
        &mut self,
        option: &str,
        inline: Option<&str>,
        expected: &'static str,
        ok: impl Fn(&T) -> bool,
    ) -> Result<T, UsageError> {
        let v = self.value(option, inline)?;
        v.parse::<T>()
            .ok()
            .filter(|n| ok(n))
            .ok_or(UsageError::BadValue {
                option: option.to_string(),
                expected,
                value: v,
            })
    }
}

/// Parses the arguments after `cargo xtask`.
///
/// ```
/// use xtask::cli::{parse, Command};
/// let cmd = parse(["gradcheck", "--seed", "7", "--no-second-order"].map(String::from))?;
/// assert_eq!(cmd, Command::Gradcheck { op: None, seed: 7, cases: 3, second_order: false });
/// # Ok::<(), xtask::cli::UsageError>(())
/// ```
///
/// # Errors
/// A [`UsageError`] saying what was wrong.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut a = Args {
        it: args.into_iter().peekable(),
    };
    let command = a.it.next().ok_or(UsageError::NoCommand)?;
    let unknown = |command: &'static str, option: &str| UsageError::UnknownOption {
        command,
        option: option.into(),
    };
    match command.as_str() {
        "help" | "--help" | "-h" => Ok(Command::Help),
        "conformance" => {
            let (mut folders, mut op) = (Vec::new(), None);
            while let Some(arg) = a.it.next() {
                let (k, inline) = split_eq(&arg);
                match k {
                    "--help" | "-h" => return Ok(Command::Help),
                    "--op" => op = Some(a.value(k, inline)?),
                    _ if k.starts_with('-') => return Err(unknown("conformance", &arg)),
                    _ => folders.push(PathBuf::from(arg)),
                }
            }
            Ok(Command::Conformance { folders, op })
        }
        "gradcheck" => {
            let (mut op, mut seed, mut cases, mut second_order) = (None, 0, 3, true);
            while let Some(arg) = a.it.next() {
                let (k, inline) = split_eq(&arg);
                match k {
                    "--help" | "-h" => return Ok(Command::Help),
                    "--op" => op = Some(a.value(k, inline)?),
                    "--seed" => {
                        seed = a.number(k, inline, "a non-negative integer", |_: &u64| true)?
                    }
                    "--cases" => {
                        cases = a.number(k, inline, "a positive integer", |n: &usize| *n > 0)?
                    }
                    "--no-second-order" if inline.is_none() => second_order = false,
                    _ if k.starts_with('-') => return Err(unknown("gradcheck", &arg)),
                    _ => {
                        return Err(UsageError::UnexpectedArgument {
                            command: "gradcheck",
                            arg,
                        });
                    }
                }
            }
            Ok(Command::Gradcheck {
                op,
                seed,
                cases,
                second_order,
            })
        }
        "bench" => {
            let (mut suite, mut iters, mut warmup) = (None, 10, 2);
            let (mut system_malloc, mut back_to_back, mut caller_in_pool) = (false, false, false);
            let mut steps = 100;
            let mut only = Vec::new();
            while let Some(arg) = a.it.next() {
                let (k, inline) = split_eq(&arg);
                match k {
                    "--help" | "-h" => return Ok(Command::Help),
                    "--iters" => {
                        iters = a.number(k, inline, "a positive integer", |n: &usize| *n > 0)?
                    }
                    "--warmup" => {
                        warmup = a.number(k, inline, "a non-negative integer", |_: &usize| true)?
                    }
                    "--steps" => {
                        steps = a.number(k, inline, "a positive integer", |n: &usize| *n > 0)?
                    }
                    "--only" => {
                        only = a
                            .value(k, inline)?
                            .split(',')
                            .map(|s| s.trim().to_ascii_uppercase())
                            .filter(|s| !s.is_empty())
                            .collect()
                    }
                    "--system-malloc" if inline.is_none() => system_malloc = true,
                    "--back-to-back" if inline.is_none() => back_to_back = true,
                    "--caller-in-pool" if inline.is_none() => caller_in_pool = true,
                    _ if k.starts_with('-') => return Err(unknown("bench", &arg)),
                    "pool" | "norm" | "all" | "train" if suite.is_none() => {
                        suite = Some(match k {
                            "pool" => BenchSuite::Pool,
                            "norm" => BenchSuite::Norm,
                            "train" => BenchSuite::Train,
                            _ => BenchSuite::All,
                        })
                    }
                    _ => {
                        return Err(UsageError::UnexpectedArgument {
                            command: "bench",
                            arg,
                        });
                    }
                }
            }
            Ok(Command::Bench {
                suite: suite.unwrap_or(BenchSuite::All),
                iters,
                warmup,
                system_malloc,
                back_to_back,
                caller_in_pool,
                steps,
                only,
            })
        }
        "sync-conformance" => {
            let (mut from, mut dry_run) = (None, false);
            while let Some(arg) = a.it.next() {
                let (k, inline) = split_eq(&arg);
                match k {
                    "--help" | "-h" => return Ok(Command::Help),
                    "--from" => from = Some(PathBuf::from(a.value(k, inline)?)),
                    "--dry-run" if inline.is_none() => dry_run = true,
                    _ if k.starts_with('-') => return Err(unknown("sync-conformance", &arg)),
                    _ => {
                        return Err(UsageError::UnexpectedArgument {
                            command: "sync-conformance",
                            arg,
                        });
                    }
                }
            }
            Ok(Command::SyncConformance { from, dry_run })
        }
        _ => Err(UsageError::UnknownCommand(command)),
    }
}
