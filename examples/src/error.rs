//! The error type of the examples.

use std::path::PathBuf;

/// What can go wrong in the examples: unreadable or malformed data files,
/// bad command-line flags, model and plotting errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExampleError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of a CSV data file is malformed.
    #[error("{path}, line {line}: {reason}")]
    Csv {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// An IDX file is malformed or of an unsupported kind.
    #[error("{path}: not a valid IDX file: {reason}")]
    Idx {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A data set is unusable (empty, mismatched image and label counts).
    #[error("data set: {0}")]
    Data(String),
    /// The MNIST-format files are not where they were looked for.
    #[error(
        "{reason}; Debian's `dataset-fashion-mnist` package provides them in {default} \
         (install it with `apt-get install dataset-fashion-mnist`), or pass --data DIR"
    )]
    MissingDataset {
        /// Which folder or files are missing.
        reason: String,
        /// Where the package puts the files.
        default: PathBuf,
    },
    /// A command-line flag is unknown, missing its value or malformed.
    #[error("{0} (try --help)")]
    Args(String),
    /// An error of the network, loss, optimizer or state-dict code.
    #[error(transparent)]
    Nn(#[from] nn::NnError),
    /// The plot could not be drawn or written.
    #[error("plot: {0}")]
    Plot(String),
}

impl From<autograd::AutogradError> for ExampleError {
    fn from(e: autograd::AutogradError) -> Self {
        ExampleError::Nn(nn::NnError::Autograd(e))
    }
}

impl From<core_tensor::TensorError> for ExampleError {
    fn from(e: core_tensor::TensorError) -> Self {
        ExampleError::Nn(nn::NnError::Tensor(e))
    }
}
