//! `cargo xtask sync-conformance`: refreshes the vendored suites in
//! `conformance/` from the shared copy (`../shared/conformance`).
//!
//! The suite folders (`torch/`, `onnx/`) and `FORMAT.md` are mirrored: new
//! and changed files are copied, files no longer in the source are removed.
//! Everything else in the destination (our own `README.md`) is left alone.

use std::fmt;
use std::path::{Path, PathBuf};

/// What is mirrored from the source folder.
pub const MIRRORED: &[&str] = &["torch", "onnx", "FORMAT.md"];

/// Errors of a sync.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The source lacks one of the [`MIRRORED`] entries.
    #[error("{path}: missing from the source (expected {MIRRORED:?} there)")]
    MissingSource {
        /// The missing path.
        path: PathBuf,
    },
    /// A file or folder could not be read, written or removed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What a sync changed, as paths relative to the destination.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncReport {
    /// Files that did not exist before.
    pub added: Vec<PathBuf>,
    /// Files whose bytes changed.
    pub changed: Vec<PathBuf>,
    /// Files removed because the source no longer has them.
    pub removed: Vec<PathBuf>,
    /// Number of files already identical.
    pub unchanged: usize,
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (tag, list) in [
            ("added", &self.added),
            ("changed", &self.changed),
            ("removed", &self.removed),
        ] {
            for p in list {
                writeln!(f, "{tag:8} {}", p.display())?;
            }
        }
        write!(
            f,
            "{} added, {} changed, {} removed, {} unchanged",
            self.added.len(),
            self.changed.len(),
            self.removed.len(),
            self.unchanged
        )
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SyncError + '_ {
    move |source| SyncError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Relative paths of every file under `root/rel` (or `rel` itself when it
/// is a file), sorted.
fn files(root: &Path, rel: &Path) -> Result<Vec<PathBuf>, SyncError> {
    let full = root.join(rel);
    if full.is_file() {
        return Ok(vec![rel.to_path_buf()]);
    }
    if !full.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&full).map_err(io(&full))? {
        let entry = entry.map_err(io(&full))?;
        out.extend(files(root, &rel.join(entry.file_name()))?);
    }
    out.sort();
    Ok(out)
}

/// Mirrors the [`MIRRORED`] entries of `from` into `to`, creating folders as
/// needed, and reports what changed. With `dry_run`, only reports.
///
/// # Errors
/// [`SyncError::MissingSource`] when `from` lacks an entry,
/// [`SyncError::Io`] for read, write or remove failures.
pub fn sync(from: &Path, to: &Path, dry_run: bool) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    for entry in MIRRORED {
        let rel = Path::new(entry);
        if !from.join(rel).exists() {
            return Err(SyncError::MissingSource {
                path: from.join(rel),
            });
        }
        let src = files(from, rel)?;
        for file in &src {
            let (s, d) = (from.join(file), to.join(file));
            let bytes = std::fs::read(&s).map_err(io(&s))?;
            let existing = if d.is_file() {
                Some(std::fs::read(&d).map_err(io(&d))?)
            } else {
                None
            };
            match existing {
                Some(old) if old == bytes => {
                    report.unchanged += 1;
                    continue;
                }
                Some(_) => report.changed.push(file.clone()),
                None => report.added.push(file.clone()),
            }
            if !dry_run {
                if let Some(parent) = d.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::write(&d, &bytes).map_err(io(&d))?;
            }
        }
        for file in files(to, rel)? {
            if !src.contains(&file) {
                let d = to.join(&file);
                if !dry_run {
                    std::fs::remove_file(&d).map_err(io(&d))?;
                }
                report.removed.push(file);
            }
        }
    }
    Ok(report)
}
