//! The command line: parsing, and the built binary's exit codes.

use std::path::PathBuf;
use std::process::Command as Process;

use xtask::cli::{BenchSuite, Command, USAGE, UsageError, parse};

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn parses_every_command_with_defaults_and_options() {
    assert_eq!(parse(args(&["help"])), Ok(Command::Help));
    assert_eq!(parse(args(&["--help"])), Ok(Command::Help));
    assert_eq!(parse(args(&["gradcheck", "-h"])), Ok(Command::Help));
    assert_eq!(
        parse(args(&["conformance", "a", "b/c", "--op", "max_pool2d"])),
        Ok(Command::Conformance {
            folders: vec![PathBuf::from("a"), PathBuf::from("b/c")],
            op: Some("max_pool2d".into())
        })
    );
    assert_eq!(
        parse(args(&["conformance"])),
        Ok(Command::Conformance {
            folders: vec![],
            op: None
        })
    );
    assert_eq!(
        parse(args(&["gradcheck"])),
        Ok(Command::Gradcheck {
            op: None,
            seed: 0,
            cases: 3,
            second_order: true
        })
    );
    assert_eq!(
        parse(args(&[
            "gradcheck",
            "--op=layer_norm",
            "--seed",
            "42",
            "--cases=5",
            "--no-second-order"
        ])),
        Ok(Command::Gradcheck {
            op: Some("layer_norm".into()),
            seed: 42,
            cases: 5,
            second_order: false
        })
    );
    assert_eq!(
        parse(args(&["bench"])),
        Ok(Command::Bench {
            suite: BenchSuite::All,
            iters: 10,
            warmup: 2,
            system_malloc: false,
            back_to_back: false,
            caller_in_pool: false,
            steps: 100,
            only: vec![]
        })
    );
    assert_eq!(
        parse(args(&[
            "bench",
            "norm",
            "--iters",
            "3",
            "--warmup",
            "0",
            "--system-malloc",
            "--back-to-back",
            "--caller-in-pool"
        ])),
        Ok(Command::Bench {
            suite: BenchSuite::Norm,
            iters: 3,
            warmup: 0,
            system_malloc: true,
            back_to_back: true,
            caller_in_pool: true,
            steps: 100,
            only: vec![]
        })
    );
    assert_eq!(
        parse(args(&[
            "bench", "train", "--steps", "30", "--iters", "4", "--only", "t1, C3"
        ])),
        Ok(Command::Bench {
            suite: BenchSuite::Train,
            iters: 4,
            warmup: 2,
            system_malloc: false,
            back_to_back: false,
            caller_in_pool: false,
            steps: 30,
            only: vec!["T1".into(), "C3".into()]
        })
    );
    assert!(parse(args(&["bench", "train", "--steps", "0"])).is_err());
    assert_eq!(
        parse(args(&["sync-conformance", "--from", "/x", "--dry-run"])),
        Ok(Command::SyncConformance {
            from: Some(PathBuf::from("/x")),
            dry_run: true
        })
    );
}

#[test]
fn bad_command_lines_are_typed_errors() {
    assert_eq!(parse(args(&[])), Err(UsageError::NoCommand));
    assert_eq!(
        parse(args(&["frobnicate"])),
        Err(UsageError::UnknownCommand("frobnicate".into()))
    );
    assert_eq!(
        parse(args(&["gradcheck", "--verbose"])),
        Err(UsageError::UnknownOption {
            command: "gradcheck",
            option: "--verbose".into()
        })
    );
    assert_eq!(
        parse(args(&["gradcheck", "--seed"])),
        Err(UsageError::MissingValue("--seed".into()))
    );
    assert_eq!(
        parse(args(&["conformance", "--op", "--seed"])),
        Err(UsageError::MissingValue("--op".into()))
    );
    let e = parse(args(&["gradcheck", "--cases", "0"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`--cases` expects a positive integer, got `0`"
    );
    let e = parse(args(&["gradcheck", "--seed", "-3"])).unwrap_err();
    assert!(matches!(e, UsageError::BadValue { .. }), "{e}");
    assert_eq!(
        parse(args(&["bench", "pool", "norm"])),
        Err(UsageError::UnexpectedArgument {
            command: "bench",
            arg: "norm".into()
        })
    );
    assert!(matches!(
        parse(args(&["bench", "--iters", "many"])),
        Err(UsageError::BadValue { .. })
    ));
    assert!(matches!(
        parse(args(&["gradcheck", "extra"])),
        Err(UsageError::UnexpectedArgument { .. })
    ));
    assert!(matches!(
        parse(args(&["sync-conformance", "--dry-run=yes"])),
        Err(UsageError::UnknownOption { .. })
    ));
}

fn xtask(a: &[&str]) -> (i32, String, String) {
    let out = Process::new(env!("CARGO_BIN_EXE_xtask"))
        .args(a)
        .output()
        .expect("run xtask");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_binary_exits_2_on_bad_usage_and_prints_help() {
    let (code, out, _) = xtask(&["help"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim_end(), USAGE);
    for cmd in ["conformance", "gradcheck", "bench", "sync-conformance"] {
        assert!(USAGE.contains(&format!("\n  {cmd} ")), "help lists {cmd}");
    }
    let (code, _, err) = xtask(&["gradcheck", "--frobnicate"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`gradcheck` does not take `--frobnicate`")
            && err.contains("cargo xtask help"),
        "{err}"
    );
    let (code, _, err) = xtask(&[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_binary_reports_conformance_results_and_exit_codes() {
    let (code, _, err) = xtask(&["conformance", "/definitely/not/here"]);
    assert_eq!(code, 1);
    assert!(err.contains("/definitely/not/here: not a folder"), "{err}");

    let suite = xtask::conformance_dir().join("onnx");
    let (code, out, _) = xtask(&["conformance", suite.to_str().unwrap(), "--op", "lp_pool2d"]);
    let last = out.lines().last().unwrap();
    let (passed, failed) = last
        .split_once(" passed, ")
        .and_then(|(p, f)| {
            Some((
                p.parse::<usize>().ok()?,
                f.strip_suffix(" failed")?.parse::<usize>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("last line `{last}`"));
    assert_eq!(passed + failed, 4, "{out}");
    assert_eq!(code, if failed == 0 { 0 } else { 1 }, "{out}");

    let (code, _, err) = xtask(&["conformance", suite.to_str().unwrap(), "--op", "no_such_op"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no case files found for op `no_such_op`"),
        "{err}"
    );
}
