//! Runs conformance cases through an adapter and judges the results.
//!
//! Every `*.safetensors` file under the given folders (recursively, sorted by
//! path) is one case. A case passes when the adapter supports its op, runs
//! without error, and produces every `out.<name>` within `rtol`/`atol` and
//! every `grad_in.<arg>` within `grad_rtol`/`grad_atol` (indices exactly),
//! with matching shapes and dtypes. Outputs the adapter produced that the
//! case does not hold are ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::case::{Case, CaseError, CaseTensor, Produced};
use super::compare::{Comparison, Tolerance, compare_tensors};

/// Runs one case: `None` when the op is not the adapter's (unsupported).
pub type Adapter = dyn Fn(&Case) -> Option<Result<Produced, CaseError>>;

/// The workspace's adapters: ops-pool first, then ops-norm.
pub fn workspace_adapter(case: &Case) -> Option<Result<Produced, CaseError>> {
    super::pool::run(case).or_else(|| super::norm::run(case))
}

/// Errors that stop a run before any case is judged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// A folder given on the command line does not exist or is not a folder.
    #[error("{path}: not a folder (give folders holding *.safetensors case files)")]
    NotAFolder {
        /// The path given.
        path: PathBuf,
    },
    /// A folder could not be listed.
    #[error("{path}: cannot list: {source}")]
    List {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Every `*.safetensors` file under `folders`, recursively, sorted by path
/// (each folder's files sorted, folders in the order given, duplicates kept
/// once).
///
/// # Errors
/// [`RunnerError::NotAFolder`] for a path that is not a folder,
/// [`RunnerError::List`] for a folder that cannot be read.
pub fn find_case_files(folders: &[PathBuf]) -> Result<Vec<PathBuf>, RunnerError> {
    let mut all = Vec::new();
    for folder in folders {
        if !folder.is_dir() {
            return Err(RunnerError::NotAFolder {
                path: folder.clone(),
            });
        }
        let mut found = Vec::new();
        walk(folder, &mut found)?;
        found.sort();
        for f in found {
            if !all.contains(&f) {
                all.push(f);
            }
        }
    }
    Ok(all)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), RunnerError> {
    let list = |source| RunnerError::List {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(list)? {
        let path = entry.map_err(list)?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "safetensors") {
            found.push(path);
        }
    }
    Ok(())
}

/// One tensor of a case that did not match.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorFailure {
    /// The expected tensor's full name (`out.y`, `grad_in.x`, ...).
    pub tensor: String,
    /// What went wrong.
    pub kind: TensorFailureKind,
}

/// How a tensor failed.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorFailureKind {
    /// The adapter did not produce it.
    Missing,
    /// Shapes or dtypes differ.
    Incomparable(String),
    /// Values outside the tolerance.
    Values {
        /// The comparison (its `worst` is the element to report).
        comparison: Comparison,
        /// The tolerance used (exact for indices).
        tolerance: Tolerance,
    },
}

impl fmt::Display for TensorFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TensorFailureKind::Missing => write!(f, "{} expected but not produced", self.tensor),
            TensorFailureKind::Incomparable(why) => write!(f, "{}: {why}", self.tensor),
            TensorFailureKind::Values {
                comparison,
                tolerance,
            } => {
                write!(f, "{} ", self.tensor)?;
                if let Some(w) = &comparison.worst {
                    write!(f, "{w} ")?;
                }
                write!(
                    f,
                    "({} of {} outside {tolerance})",
                    comparison.mismatches, comparison.compared
                )
            }
        }
    }
}

/// The verdict on one case.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Every expected tensor matched.
    Passed,
    /// No adapter handles the op.
    UnsupportedOp,
    /// The adapter declined this parameter combination.
    Unsupported(String),
    /// The file could not be loaded.
    LoadFailed(String),
    /// The adapter returned an error, or the case is malformed.
    Error(String),
    /// Some expected tensors did not match (in case order: outputs, then gradients).
    Mismatch(Vec<TensorFailure>),
}

/// One case's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseResult {
    /// The case file.
    pub path: PathBuf,
    /// The case name (file stem).
    pub name: String,
    /// The op, when the file could be loaded.
    pub op: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }
}

impl fmt::Display for CaseResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.op.as_deref().unwrap_or("?");
        match &self.verdict {
            Verdict::Passed => write!(f, "ok {} ({op})", self.name),
            Verdict::UnsupportedOp => write!(f, "FAIL {} ({op}): unsupported op", self.name),
            Verdict::Unsupported(why) => write!(f, "FAIL {} ({op}): unsupported: {why}", self.name),
            Verdict::LoadFailed(why) => {
                write!(f, "FAIL {}: cannot load: {why}", self.path.display())
            }
            Verdict::Error(why) => write!(f, "FAIL {} ({op}): error: {why}", self.name),
            Verdict::Mismatch(fails) => {
                write!(f, "FAIL {} ({op}): ", self.name)?;
                for (i, t) in fails.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{t}")?;
                }
                Ok(())
            }
        }
    }
}

/// Judges what an adapter produced for `case` against the case's expected
/// tensors.
pub fn judge(case: &Case, produced: &Produced) -> Verdict {
    let grad_tol = match (case.grad_rtol, case.grad_atol) {
        (Some(r), Some(a)) => Some(Tolerance::new(r, a)),
        _ => None,
    };
    let mut failures = Vec::new();
    for (full, want) in &case.tensors {
        let (got, tol) = if let Some(name) = full.strip_prefix("out.") {
            (
                produced.outputs.get(name),
                Tolerance::new(case.rtol, case.atol),
            )
        } else if let Some(arg) = full.strip_prefix("grad_in.") {
            let Some(tol) = grad_tol else {
                return Verdict::Error(format!(
                    "case holds `{full}` but no grad_rtol/grad_atol metadata"
                ));
            };
            (produced.grads.get(arg), tol)
        } else {
            continue;
        };
        if let Some(kind) = judge_tensor(got, want, tol) {
            failures.push(TensorFailure {
                tensor: full.clone(),
                kind,
            });
        }
    }
    if failures.is_empty() {
        Verdict::Passed
    } else {
        Verdict::Mismatch(failures)
    }
}

fn judge_tensor(
    got: Option<&CaseTensor>,
    want: &CaseTensor,
    tol: Tolerance,
) -> Option<TensorFailureKind> {
    let Some(got) = got else {
        return Some(TensorFailureKind::Missing);
    };
    let tolerance = if matches!(want, CaseTensor::I64(_)) {
        Tolerance::EXACT
    } else {
        tol
    };
    match compare_tensors(got, want, tolerance) {
        Err(e) => Some(TensorFailureKind::Incomparable(e.to_string())),
        Ok(c) if c.passed() => None,
        Ok(comparison) => Some(TensorFailureKind::Values {
            comparison,
            tolerance,
        }),
    }
}

/// Runs a loaded case through `adapter` and judges it.
pub fn run_case(case: &Case, adapter: &Adapter) -> Verdict {
    match adapter(case) {
        None => Verdict::UnsupportedOp,
        Some(Err(CaseError::Unsupported(why))) => Verdict::Unsupported(why),
        Some(Err(CaseError::Failed(why))) => Verdict::Error(why),
        Some(Err(e)) => Verdict::Error(e.to_string()),
        Some(Ok(produced)) => judge(case, &produced),
    }
}

/// Loads and runs one case file. A file that cannot be loaded gives
/// [`Verdict::LoadFailed`]; `op_filter` skips (returns `None` for) cases of
/// other ops.
pub fn run_file(path: &Path, op_filter: Option<&str>, adapter: &Adapter) -> Option<CaseResult> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let case = match Case::load(path) {
        Ok(c) => c,
        Err(e) => {
            let why = match e {
                CaseError::Load { reason, .. } => reason,
                other => other.to_string(),
            };
            return Some(CaseResult {
                path: path.to_path_buf(),
                name: stem,
                op: None,
                verdict: Verdict::LoadFailed(why),
            });
        }
    };
    if op_filter.is_some_and(|op| op != case.op) {
        return None;
    }
    // An adapter that panics is a bug, but one case must not hide the rest.
    let verdict =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(&case, adapter)))
            .unwrap_or_else(|p| {
                Verdict::Error(format!("adapter panicked: {}", panic_message(&*p)))
            });
    Some(CaseResult {
        path: path.to_path_buf(),
        name: case.name.clone(),
        op: Some(case.op.clone()),
        verdict,
    })
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string payload".into())
}

/// The results of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// One result per case run, in path order.
    pub results: Vec<CaseResult>,
}

impl Summary {
    /// Number of passed cases.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    /// Number of failed cases (unsupported ones included).
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// Ops with at least one case the adapter did not recognise, with their
    /// case counts.
    pub fn unsupported_ops(&self) -> BTreeMap<String, usize> {
        let mut ops = BTreeMap::new();
        for r in &self.results {
            if r.verdict == Verdict::UnsupportedOp {
                *ops.entry(r.op.clone().unwrap_or_default()).or_insert(0) += 1;
            }
        }
        ops
    }

    /// The report: one line per failed case, one per unsupported op (with
    /// its case count), then `N passed, N failed` alone on the last line.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            if !r.passed() && r.verdict != Verdict::UnsupportedOp {
                out.push_str(&format!("{r}\n"));
            }
        }
        for (op, n) in self.unsupported_ops() {
            let s = if n == 1 { "" } else { "s" };
            out.push_str(&format!("FAIL {op}: unsupported op ({n} case{s})\n"));
        }
        out.push_str(&format!(
            "{} passed, {} failed\n",
            self.passed(),
            self.failed()
        ));
        out
    }
}

/// Runs every case under `folders` (see [`find_case_files`]), restricted to
/// `op_filter` when given.
///
/// # Errors
/// Only the folder errors of [`find_case_files`]; unreadable or malformed
/// case files are failed cases in the summary.
pub fn run_folders(
    folders: &[PathBuf],
    op_filter: Option<&str>,
    adapter: &Adapter,
) -> Result<Summary, RunnerError> {
    let files = find_case_files(folders)?;
    Ok(Summary {
        results: files
            .iter()
            .filter_map(|p| run_file(p, op_filter, adapter))
            .collect(),
    })
}
