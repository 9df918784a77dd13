//! The conformance runner: cases in the format of `conformance/FORMAT.md`,
//! run through the op crates' adapters ([`pool`], [`norm`]) and compared
//! with the case tolerances.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use xtask::conformance::runner::{run_folders, workspace_adapter};
//! let summary = run_folders(&[PathBuf::from("conformance/torch")], None, &workspace_adapter)?;
//! print!("{}", summary.report());
//! # Ok::<(), xtask::conformance::runner::RunnerError>(())
//! ```

pub mod case;
pub mod compare;
pub mod norm;
pub mod pool;
pub mod runner;
pub mod sync;

pub use case::{Case, CaseError, CaseTensor, Produced};
pub use compare::{Comparison, Tolerance, compare_floats, compare_tensors};
pub use runner::{Summary, Verdict, run_folders, workspace_adapter};
