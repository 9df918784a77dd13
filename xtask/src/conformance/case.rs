//! One conformance case: a `.safetensors` file read into typed tensors and
//! parsed metadata (see `conformance/FORMAT.md`).

use std::collections::BTreeMap;
use std::path::Path;

use core_tensor::Tensor;
use safetensors::{Dtype, SafeTensors};

/// A tensor of a case, in its stored dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum CaseTensor {
    /// `F32` data.
    F32(Tensor<f32>),
    /// `F64` data.
    F64(Tensor<f64>),
    /// `I64` data (indices).
    I64(Tensor<i64>),
}

impl CaseTensor {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            CaseTensor::F32(t) => t.shape(),
            CaseTensor::F64(t) => t.shape(),
            CaseTensor::I64(t) => t.shape(),
        }
    }

    /// The dtype name as in the file (`F32`, `F64`, `I64`).
    pub fn dtype_name(&self) -> &'static str {
        match self {
            CaseTensor::F32(_) => "F32",
            CaseTensor::F64(_) => "F64",
            CaseTensor::I64(_) => "I64",
        }
    }
}

/// Why a case could not be produced or compared.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The file could not be read or parsed.
    #[error("{path}: {reason}")]
    Load {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The op (or a parameter combination) is not implemented.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The implementation returned an error or the case is malformed.
    #[error("error: {0}")]
    Failed(String),
}

/// A parsed case.
#[derive(Clone, Debug)]
pub struct Case {
    /// File stem, e.g. `max_pool2d_basic_f64_00`.
    pub name: String,
    /// `op` metadata, e.g. `max_pool2d`.
    pub op: String,
    /// `params` metadata, parsed JSON (an object).
    pub params: serde_json::Value,
    /// `source` metadata.
    pub source: String,
    /// Output tolerances.
    pub rtol: f64,
    /// Output tolerances.
    pub atol: f64,
    /// Gradient tolerances (present when the case has `grad_out.*`).
    pub grad_rtol: Option<f64>,
    /// Gradient tolerances.
    pub grad_atol: Option<f64>,
    /// Every tensor by its full name (`in.x`, `out.y`, `grad_out.y`, `grad_in.x`, ...).
    pub tensors: BTreeMap<String, CaseTensor>,
}

/// What an implementation produced for a case: outputs by name (`y`,
/// `indices`, `running_mean`, `running_var`) and input gradients by
/// argument name (`x`, `weight`, `bias`). Only names the case expects are
/// compared.
#[derive(Clone, Debug, Default)]
pub struct Produced {
    /// `out.<name>` counterparts.
    pub outputs: BTreeMap<String, CaseTensor>,
    /// `grad_in.<arg>` counterparts.
    pub grads: BTreeMap<String, CaseTensor>,
}

impl Case {
    /// Reads and parses one case file.
    ///
    /// # Errors
    /// [`CaseError::Load`] for unreadable files, bad headers, unsupported
    /// dtypes or missing metadata.
    pub fn load(path: &Path) -> Result<Case, CaseError> {
        let p = path.display().to_string();
        let err = |reason: String| CaseError::Load {
            path: p.clone(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| err(e.to_string()))?;
        let md = meta.metadata().clone().unwrap_or_default();
        let get = |k: &str| {
            md.get(k)
                .cloned()
                .ok_or_else(|| err(format!("metadata key `{k}` is missing")))
        };
        let num = |k: &str| -> Result<Option<f64>, CaseError> {
            md.get(k)
                .map(|v| {
                    v.parse::<f64>()
                        .map_err(|e| err(format!("metadata `{k}` = {v:?}: {e}")))
                })
                .transpose()
        };
        let st = SafeTensors::deserialize(&bytes).map_err(|e| err(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let data = view.data();
            let t = match view.dtype() {
                Dtype::F32 => decode(&shape, data, f32::from_le_bytes).map(CaseTensor::F32),
                Dtype::F64 => decode(&shape, data, f64::from_le_bytes).map(CaseTensor::F64),
                Dtype::I64 => decode(&shape, data, i64::from_le_bytes).map(CaseTensor::I64),
                other => {
                    return Err(err(format!(
                        "tensor `{name}` has dtype {other:?}; cases use F32, F64 or I64"
                    )));
                }
            }
            .map_err(|e| err(format!("tensor `{name}`: {e}")))?;
            tensors.insert(name, t);
        }
        let params: serde_json::Value = serde_json::from_str(&get("params")?)
            .map_err(|e| err(format!("params is not JSON: {e}")))?;
        Ok(Case {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            op: get("op")?,
            params,
            source: md.get("source").cloned().unwrap_or_default(),
            rtol: num("rtol")?.unwrap_or(0.0),
            atol: num("atol")?.unwrap_or(0.0),
            grad_rtol: num("grad_rtol")?,
            grad_atol: num("grad_atol")?,
            tensors,
        })
    }

    /// A tensor by full name, or [`CaseError::Failed`].
    ///
    /// # Errors
    /// When the case lacks the tensor.
    pub fn tensor(&self, name: &str) -> Result<&CaseTensor, CaseError> {
        self.tensors
            .get(name)
            .ok_or_else(|| CaseError::Failed(format!("case has no tensor `{name}`")))
    }

    /// Whether the case checks backward (holds `grad_out.y`).
    pub fn has_backward(&self) -> bool {
        self.tensors.contains_key("grad_out.y")
    }

    /// The dtype of `in.x`: `"F32"` or `"F64"`.
    ///
    /// # Errors
    /// When `in.x` is missing.
    pub fn dtype(&self) -> Result<&'static str, CaseError> {
        Ok(self.tensor("in.x")?.dtype_name())
    }

    /// A parameter, or [`CaseError::Failed`] if absent.
    ///
    /// # Errors
    /// When the parameter is missing.
    pub fn param(&self, key: &str) -> Result<&serde_json::Value, CaseError> {
        self.params
            .get(key)
            .ok_or_else(|| CaseError::Failed(format!("params has no `{key}`")))
    }

    /// A parameter that may be absent or `null`.
    pub fn param_opt(&self, key: &str) -> Option<&serde_json::Value> {
        self.params.get(key).filter(|v| !v.is_null())
    }

    /// A list of non-negative integers parameter (e.g. `kernel_size`).
    ///
    /// # Errors
    /// When missing or not a list of non-negative integers.
    pub fn usize_list(&self, key: &str) -> Result<Vec<usize>, CaseError> {
        let v = self.param(key)?;
        v.as_array()
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_u64().map(|n| n as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                CaseError::Failed(format!(
                    "params `{key}` = {v} is not a list of non-negative integers"
                ))
            })
    }

    /// A `padding` parameter: a list of `[before, after]` pairs.
    ///
    /// # Errors
    /// When missing or malformed.
    pub fn pad_pairs(&self, key: &str) -> Result<Vec<[usize; 2]>, CaseError> {
        let v = self.param(key)?;
        v.as_array()
            .and_then(|a| {
                a.iter()
                    .map(|p| {
                        let p = p.as_array()?;
                        (p.len() == 2).then_some(())?;
                        Some([p[0].as_u64()? as usize, p[1].as_u64()? as usize])
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                CaseError::Failed(format!(
                    "params `{key}` = {v} is not a list of [before, after] pairs"
                ))
            })
    }

    /// A boolean parameter.
    ///
    /// # Errors
    /// When missing or not a boolean.
    pub fn bool_param(&self, key: &str) -> Result<bool, CaseError> {
        let v = self.param(key)?;
        v.as_bool()
            .ok_or_else(|| CaseError::Failed(format!("params `{key}` = {v} is not a boolean")))
    }

    /// A float parameter.
    ///
    /// # Errors
    /// When missing or not a number.
    pub fn f64_param(&self, key: &str) -> Result<f64, CaseError> {
        let v = self.param(key)?;
        v.as_f64()
            .ok_or_else(|| CaseError::Failed(format!("params `{key}` = {v} is not a number")))
    }
}

/// Little-endian elements of `N` bytes each, as a tensor of `shape`.
fn decode<T: Clone, const N: usize>(
    shape: &[usize],
    data: &[u8],
    from_le_bytes: fn([u8; N]) -> T,
) -> Result<Tensor<T>, core_tensor::TensorError> {
    let values = data
        .chunks_exact(N)
        .map(|c| from_le_bytes(c.try_into().expect("chunks_exact yields N bytes")))
        .collect();
    Tensor::from_vec(shape, values)
}
