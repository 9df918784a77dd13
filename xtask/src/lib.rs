//! # xtask
//!
//! handgrad's project automation, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml` for `run --release --package xtask --`):
//!
//! - `conformance`: the conformance runner ([`conformance`]), which runs the
//!   vendored PyTorch and ONNX suites through the op crates' adapters;
//! - `gradcheck`: the finite-difference audit of every registered op
//!   ([`gradcheck_audit`]);
//! - `bench`: kernels timed against a copy of the same bytes ([`mod@bench`]);
//! - `sync-conformance`: refreshes the vendored suites
//!   ([`conformance::sync`]).
//!
//! The logic lives in this library so that the integration tests in
//! `xtask/tests` run the suites and the audit under `cargo test`.
//! `cargo xtask help` lists the commands and options ([`cli::USAGE`]).
#![doc(test(attr(deny(warnings))))]

pub mod bench;
pub mod cli;
pub mod conformance;
pub mod gradcheck_audit;

use std::path::{Path, PathBuf};

/// The repository root (the parent of the xtask crate).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The vendored conformance suites: `<repo>/conformance`.
pub fn conformance_dir() -> PathBuf {
    repo_root().join("conformance")
}

/// The code blocks of the repository's `README.md`, compiled and run as
/// doctests so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
