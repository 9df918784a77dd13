//! `cargo xtask <command>`: see `cargo xtask help`.

use std::process::ExitCode;

use xtask::bench::{self, harness};
use xtask::cli::{self, BenchSuite, Command};
use xtask::conformance::{runner, sync};
use xtask::gradcheck_audit::{self, AuditOptions};

fn main() -> ExitCode {
    let command = match cli::parse(
        std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned()),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}\nRun `cargo xtask help` for the commands and options.");
            return ExitCode::from(2);
        }
    };
    let ok = match command {
        Command::Help => {
            println!("{}", cli::USAGE);
            true
        }
        Command::Conformance { folders, op } => conformance(folders, op.as_deref()),
        Command::Gradcheck {
            op,
            seed,
            cases,
            second_order,
        } => gradcheck(op, seed, cases, second_order),
        Command::Bench {
            suite: BenchSuite::Train,
            iters,
            warmup,
            steps,
            only,
            ..
        } => run_train_bench(
            harness::BenchOptions {
                warmup,
                iters,
                back_to_back: true,
            },
            steps,
            &only,
        ),
        Command::Bench {
            suite: BenchSuite::Dist,
            iters,
            warmup,
            ..
        } => match bench::dist::run(harness::BenchOptions {
            warmup,
            iters,
            back_to_back: false,
        }) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("error: {e}");
                false
            }
        },
        Command::Bench {
            suite,
            iters,
            warmup,
            system_malloc,
            back_to_back,
            caller_in_pool,
            ..
        } => run_bench(
            suite,
            harness::BenchOptions {
                warmup,
                iters,
                back_to_back,
            },
            system_malloc,
            if caller_in_pool {
                harness::PoolSetup::CallerInPool
            } else {
                harness::PoolSetup::Workers
            },
        ),
        Command::SyncConformance { from, dry_run } => sync_conformance(from, dry_run),
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn conformance(folders: Vec<std::path::PathBuf>, op: Option<&str>) -> bool {
    let folders = if folders.is_empty() {
        vec![xtask::conformance_dir()]
    } else {
        folders
    };
    match runner::run_folders(&folders, op, &runner::workspace_adapter) {
        Ok(summary) => {
            if summary.results.is_empty() {
                eprintln!(
                    "error: no case files found{}",
                    op.map(|o| format!(" for op `{o}`")).unwrap_or_default()
                );
                return false;
            }
            print!("{}", summary.report());
            summary.failed() == 0
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

fn gradcheck(op: Option<String>, seed: u64, per_op: usize, second_order: bool) -> bool {
    let cases = gradcheck_audit::registered_cases(seed, per_op);
    let summary = gradcheck_audit::run(
        cases,
        &AuditOptions {
            op: op.clone(),
            second_order,
        },
    );
    if summary.records.is_empty() {
        eprintln!(
            "error: no gradcheck cases registered{}",
            op.map(|o| format!(" for op `{o}`")).unwrap_or_default()
        );
        return false;
    }
    print!("{}", summary.report());
    summary.failed() == 0
}

fn run_train_bench(opts: harness::BenchOptions, steps: usize, only: &[String]) -> bool {
    let wanted = |id: &str| only.is_empty() || only.iter().any(|o| o == id);
    use bench::train;
    harness::init_thread_pool(harness::PoolSetup::CallerInPool);
    println!(
        "handgrad, {} threads ({}), allocator defaults",
        harness::THREADS,
        harness::PoolSetup::CallerInPool.describe()
    );
    let opt =
        |v: Option<f64>, unit: &str| v.map_or("n/a".to_string(), |v| format!("{v:.1} {unit}"));
    if wanted("T1") {
        let t = train::train_step(train::StepOptions { warmup: 20, steps });
        println!(
            "T1   fwd {:.3} ms  bwd {:.3} ms  step {:.3} ms  total {:.3} ms  faults/step {}  peak RSS {}",
            t.forward_ms,
            t.backward_ms,
            t.step_ms,
            t.total_ms,
            t.minor_faults.map_or("n/a".to_string(), |f| f.to_string()),
            opt(t.peak_rss_mib, "MiB"),
        );
    }
    for case in train::layer_cases().into_iter().filter(|c| wanted(c.id)) {
        let (f, fb) = train::time_layer(&case, opts);
        println!(
            "{}   fwd {:.3} ms  fwd+bwd {:.3} ms   {} on {:?}",
            case.id, f.median_ms, fb.median_ms, case.description, case.input
        );
    }
    true
}

fn run_bench(
    suite: BenchSuite,
    opts: harness::BenchOptions,
    system_malloc: bool,
    pool: harness::PoolSetup,
) -> bool {
    let retained = !system_malloc && core_tensor::alloc::retain_freed_memory();
    println!(
        "allocator: {}",
        if retained {
            "freed large blocks kept for reuse (core_tensor::alloc::retain_freed_memory)"
        } else {
            "C allocator defaults"
        }
    );
    harness::init_thread_pool(pool);
    let mut cases = Vec::new();
    if matches!(suite, BenchSuite::Pool | BenchSuite::All) {
        cases.extend(bench::pool::cases());
    }
    if matches!(suite, BenchSuite::Norm | BenchSuite::All) {
        cases.extend(bench::norm::cases());
    }
    if cases.is_empty() {
        eprintln!("error: no benchmark cases registered for this suite");
        return false;
    }
    println!("{}", harness::header());
    let rows = harness::run_cases(cases, opts, |row| println!("{}", harness::format_row(row)));
    print!("{}", harness::footer(&rows, opts, pool));
    true
}

fn sync_conformance(from: Option<std::path::PathBuf>, dry_run: bool) -> bool {
    let hint = if from.is_none() {
        " (the default source is ../shared/conformance next to the repository; give another with --from DIR)"
    } else {
        ""
    };
    let from = from.unwrap_or_else(|| xtask::repo_root().join("../shared/conformance"));
    let to = xtask::conformance_dir();
    match sync::sync(&from, &to, dry_run) {
        Ok(report) => {
            println!(
                "{} -> {}{}",
                from.display(),
                to.display(),
                if dry_run { " (dry run)" } else { "" }
            );
            println!("{report}");
            true
        }
        Err(e) => {
            eprintln!("error: {e}{hint}");
            false
        }
    }
}
